//! Client selection (SPEC §2), `GET /authorize` and the code flow.

use super::*;

// ---- client selection (SPEC §2) ----

#[tokio::test]
async fn a_request_without_client_type_and_without_default_client_is_401() {
    let app = TestApp::spawn().await;
    let message = assert_error(app.authorize(None, &[]).await, 401).await;
    assert!(message.contains("client-type"), "{message}");
}

#[tokio::test]
async fn an_unknown_client_type_is_401() {
    let app = TestApp::spawn().await;
    assert_error(app.authorize(Some("nope"), &[]).await, 401).await;
    let response = app.token("nope", &[("grant_type", "password")]).await;
    assert_error(response, 401).await;
}

#[tokio::test]
async fn the_default_client_is_used_without_client_type() {
    let app = TestApp::spawn_with(Options {
        edit: Box::new(|file| file.default_client = Some(TOKEN.to_owned())),
        ..Options::default()
    })
    .await;
    let query = query_of(&location(&app.authorize(None, &[]).await));
    assert_eq!(query["client_id"], "dev-token-client");
}

#[tokio::test]
async fn an_unknown_route_answers_the_json_error_body() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .get(app.url("/no/such/route"))
        .send()
        .await
        .unwrap();
    assert_error(response, 404).await;
}

// ---- GET /authorize ----

#[tokio::test]
async fn authorize_redirects_to_the_tenant_with_pkce_nonce_state_and_the_scope_without_website() {
    let app = TestApp::spawn().await;
    let to = location(&app.authorize(Some(WEBSITE), &[("state", "ignored")]).await);
    assert!(
        to.starts_with(&format!("{}/authorize?", app.tenant.url())),
        "{to}"
    );
    let query = query_of(&to);
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], "dev-website-client");
    assert_eq!(query["redirect_uri"], "http://127.0.0.1:3000/callback");
    assert_eq!(query["scope"], "openid profile email");
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["code_challenge"].len(), 43);
    assert_eq!(query["connection"], "Username-Password-Authentication");
    assert!(query["nonce"].len() >= 32);
    assert_ne!(
        query["state"], "ignored",
        "the caller's state is ignored unless required"
    );
    assert!(!query.contains_key("audience"));
}

#[tokio::test]
async fn authorize_asks_for_the_configured_audience() {
    let app = TestApp::spawn_with(Options {
        edit: Box::new(|file| {
            if let Some(token) = file.clients.get_mut(TOKEN) {
                token.audience = Some("https://api.example/".to_owned());
            }
        }),
        ..Options::default()
    })
    .await;
    let query = query_of(&location(&app.authorize(Some(TOKEN), &[]).await));
    assert_eq!(query["audience"], "https://api.example/");
    assert_eq!(query["scope"], "openid profile email offline_access");
    assert!(!query.contains_key("connection"));
}

#[tokio::test]
async fn authorize_requires_the_callers_state_when_the_client_says_so() {
    let app = TestApp::spawn().await;
    let message = assert_error(app.authorize(Some(STRICT), &[]).await, 400).await;
    assert!(message.contains("state"), "{message}");
    let query = query_of(&location(
        &app.authorize(Some(STRICT), &[("state", "caller-state-1")])
            .await,
    ));
    assert_eq!(query["state"], "caller-state-1");
}

#[tokio::test]
async fn authorize_with_an_unsupported_connection_is_400() {
    let app = TestApp::spawn().await;
    let response = app
        .authorize(
            Some(STRICT),
            &[("state", "s"), ("connection", "Other-Database")],
        )
        .await;
    assert_error(response, 400).await;
    let to = location(
        &app.authorize(Some(WEBSITE), &[("connection", "Other-Database")])
            .await,
    );
    assert_eq!(query_of(&to)["connection"], "Other-Database");
}

#[tokio::test]
async fn authorize_refuses_a_redirect_to_another_host() {
    let app = TestApp::spawn().await;
    let response = app
        .authorize(Some(WEBSITE), &[("redirect", "https://evil.example/")])
        .await;
    assert_error(response, 400).await;
    let response = app.authorize(Some(WEBSITE), &[("redirect", "/home")]).await;
    assert_eq!(response.status(), StatusCode::FOUND);
}

// ---- code flow ----

#[tokio::test]
async fn the_code_flow_gives_a_website_client_the_sid_cookie_with_exact_attributes() {
    let app = TestApp::spawn().await;
    let (code, state) = app.browser_login(WEBSITE).await;

    let response = app
        .token(WEBSITE, &[("code", &code), ("state", &state)])
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let cookies = set_cookies(response.headers());
    let handle = sid(response.headers());
    let max_age = app.config.settings.session_duration.as_secs();
    assert_eq!(
        cookies,
        vec![format!(
            "sid={handle}; Path=/; HttpOnly; Secure; Max-Age={max_age}; SameSite=Lax"
        )]
    );
    assert!(
        response.bytes().await.unwrap().is_empty(),
        "a website login answers an empty body"
    );
    let user: Value = app
        .http
        .get(app.url("/userinfo"))
        .header("cookie", format!("sid={handle}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(user["userId"], DEV_USER_ID);
    assert_eq!(user["sub"], DEV_USER_ID);
    assert_eq!(user["email"], DEV_EMAIL);
    assert_eq!(user["groups"], json!(["admin", "dev"]));
    assert_eq!(user["app_metadata"]["groups"], json!(["admin", "dev"]));
    assert_eq!(user["user_metadata"], json!({"theme": "dark"}));
    assert!(
        user.get("nonce").is_none() && user.get("iss").is_none(),
        "{user}"
    );
}

on_both_stores!(the_code_flow_gives_a_token_client_its_tokens_in_the_body);
async fn the_code_flow_gives_a_token_client_its_tokens_in_the_body(store: Store) {
    let app = TestApp::spawn_on(store).await;
    let (code, state) = app.browser_login(TOKEN).await;

    let response = app
        .http
        .post(app.url("/oauth/token"))
        .header("client-type", TOKEN)
        .json(&json!({"code": code, "state": state}))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert!(set_cookies(response.headers()).is_empty());
    let tokens: Tokens = response.json().await.unwrap();
    assert!(
        tokens.refresh_token.is_some(),
        "offline_access gives a refresh token"
    );
    let user: Value = app
        .get_bearer("/userinfo", &tokens.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(user["userId"], DEV_USER_ID);
    assert_eq!(grants(&app, "authorization_code"), 1);
}

on_both_stores!(a_state_is_single_use);
async fn a_state_is_single_use(store: Store) {
    let app = TestApp::spawn_on(store).await;
    let (code, state) = app.browser_login(TOKEN).await;
    assert_eq!(
        app.token(TOKEN, &[("code", &code), ("state", &state)])
            .await
            .status(),
        StatusCode::OK
    );

    let replay = app
        .token(TOKEN, &[("code", &code), ("state", &state)])
        .await;

    assert_error(replay, 401).await;
    assert_eq!(
        grants(&app, "authorization_code"),
        1,
        "a replayed state never reaches Auth0"
    );
}

#[tokio::test]
async fn a_state_belongs_to_the_client_that_started_the_flow() {
    let app = TestApp::spawn().await;
    let (code, state) = app.browser_login(WEBSITE).await;

    let response = app
        .token(TOKEN, &[("code", &code), ("state", &state)])
        .await;

    assert_error(response, 401).await;
    let again = app
        .token(WEBSITE, &[("code", &code), ("state", &state)])
        .await;
    assert_error(again, 401).await;
}

#[tokio::test]
async fn an_unknown_state_is_401_and_a_missing_code_is_400() {
    let app = TestApp::spawn().await;
    assert_error(
        app.token(TOKEN, &[("code", "c"), ("state", "never-issued")])
            .await,
        401,
    )
    .await;
    assert_error(app.token(TOKEN, &[("state", "s")]).await, 400).await;
}

#[tokio::test]
async fn a_bad_code_is_401_with_auth0s_message() {
    let app = TestApp::spawn().await;
    let state = query_of(&location(&app.authorize(Some(TOKEN), &[]).await))["state"].clone();
    let message = assert_error(
        app.token(TOKEN, &[("code", "forged"), ("state", &state)])
            .await,
        401,
    )
    .await;
    assert!(message.contains("Invalid authorization code"), "{message}");
}

#[tokio::test]
async fn the_callers_state_carries_a_strict_clients_code_flow_through() {
    let app = TestApp::spawn().await;
    let (code, state) = app
        .browser_login_with(STRICT, &[("state", "caller-state-42")])
        .await;
    assert_eq!(state, "caller-state-42");

    let response = app
        .token(STRICT, &[("code", &code), ("state", &state)])
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .json::<Tokens>()
            .await
            .unwrap()
            .refresh_token
            .is_some()
    );
}

#[tokio::test]
async fn unreachable_signing_keys_are_502_and_are_fetched_again_later() {
    let app = TestApp::spawn().await;
    app.tenant.faults().set_error("/.well-known/jwks.json", 500);
    assert_error(app.password_login(TOKEN).await, 502).await;
    app.tenant.faults().clear();
    assert_eq!(app.password_login(TOKEN).await.status(), StatusCode::OK);
}
