//! The password login.

use super::*;

// ---- password login ----

#[tokio::test]
async fn a_password_login_answers_tokens_with_an_rfc3339_nanosecond_expiry() {
    let app = TestApp::spawn().await;
    let before = time::OffsetDateTime::now_utc();

    let tokens = app.login_tokens().await;

    assert!(tokens.refresh_token.is_some());
    assert!(!tokens.id_token.is_empty());
    let expire_at = &tokens.expire_at;
    assert_eq!(
        expire_at.len(),
        "2021-07-16T08:28:24.568365226Z".len(),
        "{expire_at}"
    );
    assert!(expire_at.ends_with('Z'));
    let parsed =
        time::OffsetDateTime::parse(expire_at, &time::format_description::well_known::Rfc3339)
            .unwrap();
    let lifetime = (parsed - before).whole_seconds();
    assert!((86_000..=86_401).contains(&lifetime), "{lifetime}");
}

#[tokio::test]
async fn a_website_password_login_sets_the_cookie_and_answers_an_empty_body() {
    let app = TestApp::spawn().await;
    let response = app.password_login(WEBSITE).await;
    assert_eq!(response.status(), StatusCode::OK);
    let handle = sid(response.headers());
    assert_eq!(
        set_cookies(response.headers()),
        vec![format!(
            "sid={handle}; Path=/; HttpOnly; Secure; Max-Age={SESSION_SECONDS}; SameSite=Lax"
        )]
    );
    assert!(response.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_cookie_has_no_samesite_when_the_client_sets_none() {
    let app = TestApp::spawn_with(Options {
        edit: Box::new(|file| {
            if let Some(website) = file.clients.get_mut(WEBSITE) {
                website.same_site = None;
            }
        }),
        ..Options::default()
    })
    .await;
    let response = app.password_login(WEBSITE).await;
    let handle = sid(response.headers());
    assert_eq!(
        set_cookies(response.headers()),
        vec![format!(
            "sid={handle}; Path=/; HttpOnly; Secure; Max-Age={SESSION_SECONDS}"
        )]
    );
}

#[tokio::test]
async fn a_wrong_password_is_403_with_auth0s_message_and_no_secret() {
    let app = TestApp::spawn().await;
    let response = app
        .token(
            TOKEN,
            &[
                ("grant_type", "password"),
                ("username", DEV_EMAIL),
                ("password", "Wrong-Secret-9"),
            ],
        )
        .await;
    let message = assert_error(response, 403).await;
    assert_eq!(message, "Wrong email or password.");
}

#[tokio::test]
async fn a_password_login_with_a_connection_uses_password_realm_and_forwards_the_end_user_ip() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .post(app.url("/oauth/token"))
        .header("client-type", WEBSITE)
        .header("x-forwarded-for", "198.51.100.99, 203.0.113.7")
        .form(&[
            ("grant_type", "password"),
            ("username", DEV_EMAIL),
            ("password", DEV_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        grants(&app, "http://auth0.com/oauth/grant-type/password-realm"),
        1
    );
    assert_eq!(
        app.tenant.stats().forwarded_for["dev-website-client"],
        "203.0.113.7"
    );
}

#[tokio::test]
async fn a_password_login_without_a_connection_uses_the_password_grant() {
    let app = TestApp::spawn().await;
    app.login_tokens().await;
    assert_eq!(grants(&app, "password"), 1);
    assert_eq!(
        app.tenant.stats().forwarded_for["dev-token-client"],
        "127.0.0.1"
    );
}

#[tokio::test]
async fn a_password_login_with_an_unsupported_connection_is_400() {
    let app = TestApp::spawn().await;
    let form = [
        ("grant_type", "password"),
        ("username", DEV_EMAIL),
        ("password", DEV_PASSWORD),
        ("connection", "Other-Database"),
    ];
    assert_error(app.token(STRICT, &form).await, 400).await;
    assert_eq!(app.tenant.stats().token_grants.values().sum::<u64>(), 0);
}

#[tokio::test]
async fn a_json_body_with_credentials_and_no_grant_type_is_a_password_login() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .post(app.url("/oauth/token"))
        .header("client-type", TOKEN)
        .json(&json!({"username": DEV_EMAIL, "password": DEV_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(grants(&app, "password"), 1);
}

#[tokio::test]
async fn bad_token_bodies_answer_json_errors() {
    let app = TestApp::spawn().await;
    let post = || {
        app.http
            .post(app.url("/oauth/token"))
            .header("client-type", TOKEN)
    };

    let missing = post()
        .json(&json!({"grant_type": "password", "username": DEV_EMAIL}))
        .send()
        .await
        .unwrap();
    assert_error(missing, 400).await;
    let malformed = post()
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_error(malformed, 400).await;
    let wrong_type = post()
        .json(&json!({"grant_type": "password", "username": 1, "password": "hunter2"}))
        .send()
        .await
        .unwrap();
    let message = assert_error(wrong_type, 400).await;
    assert!(!message.contains("hunter2"));
    let text = post()
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_error(text, 415).await;
    let grant = post()
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_error(grant, 400).await;
}
