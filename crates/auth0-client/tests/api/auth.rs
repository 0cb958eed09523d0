//! Integration tests: the authentication routes of SPEC §2-4, against a real devtenant.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::app::{
    DEV_EMAIL, DEV_PASSWORD, DEV_USER_ID, Options, SESSION_SECONDS, STRICT, Store, TOKEN, TestApp,
    Tokens, WEBSITE, assert_error, client, location, query_of, set_cookies, sid,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// Runs the test function `$name(store)` once on the memory store and once on Redis.
macro_rules! on_both_stores {
    ($name:ident) => {
        mod $name {
            use super::Store;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_memory() {
                super::$name(Store::Memory).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_redis() {
                super::$name(Store::Redis).await;
            }
        }
    };
}

const CLEARED_COOKIE: &str =
    "sid=; Path=/; HttpOnly; Secure; Expires=Thu, 01 Jan 1970 00:00:00 GMT";

fn grants(app: &TestApp, grant_type: &str) -> u64 {
    app.tenant
        .stats()
        .token_grants
        .get(grant_type)
        .copied()
        .unwrap_or(0)
}

fn requests(app: &TestApp, route: &str) -> u64 {
    app.tenant.stats().requests.get(route).copied().unwrap_or(0)
}

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

// ---- /userinfo ----

#[tokio::test]
async fn userinfo_without_a_handle_or_with_an_unknown_one_is_401() {
    let app = TestApp::spawn().await;
    let none = app.http.get(app.url("/userinfo")).send().await.unwrap();
    assert_error(none, 401).await;
    assert_error(app.get_bearer("/userinfo", "not-a-session").await, 401).await;
    let cookie = app
        .http
        .get(app.url("/userinfo"))
        .header("cookie", "sid=unknown")
        .send()
        .await
        .unwrap();
    assert_error(cookie, 401).await;
}

#[tokio::test]
async fn userinfo_answers_from_the_store_without_calling_auth0() {
    let app = TestApp::spawn().await;
    let tokens = app.login_tokens().await;
    for _ in 0..5 {
        assert_eq!(
            app.get_bearer("/userinfo", &tokens.access_token)
                .await
                .status(),
            StatusCode::OK
        );
    }
    assert_eq!(requests(&app, "GET /userinfo"), 0);
}

#[tokio::test]
async fn a_session_without_a_refresh_token_outlives_its_access_token() {
    let app = TestApp::spawn().await;
    app.tenant
        .faults()
        .set_access_token_ttl(Duration::from_secs(1));
    let handle = sid(app.password_login(WEBSITE).await.headers());
    app.clock.advance(Duration::from_secs(2));

    let response = app
        .http
        .get(app.url("/userinfo"))
        .header("cookie", format!("sid={handle}"))
        .send()
        .await
        .unwrap();

    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the session lasts SESSION_DURATION_SECONDS"
    );
    assert_eq!(grants(&app, "refresh_token"), 0);
}

#[tokio::test]
async fn the_signing_keys_are_fetched_once_for_many_logins() {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        app.login_tokens().await;
    }
    assert_eq!(requests(&app, "GET /.well-known/jwks.json"), 1);
}

#[tokio::test]
async fn users_me_answers_the_same_user_with_a_deprecation_header() {
    let app = TestApp::spawn().await;
    let tokens = app.login_tokens().await;
    let userinfo: Value = app
        .get_bearer("/userinfo", &tokens.access_token)
        .await
        .json()
        .await
        .unwrap();
    let me = app.get_bearer("/users/me", &tokens.access_token).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.headers()["deprecation"], "true");
    assert_eq!(me.json::<Value>().await.unwrap(), userinfo);
}

on_both_stores!(an_expired_access_token_is_refreshed_transparently_by_userinfo);
async fn an_expired_access_token_is_refreshed_transparently_by_userinfo(store: Store) {
    let app = TestApp::spawn_on(store).await;
    app.tenant
        .faults()
        .set_access_token_ttl(Duration::from_secs(1));
    let tokens = app.login_tokens().await;
    app.clock.advance(Duration::from_secs(2));

    let response = app.get_bearer("/userinfo", &tokens.access_token).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap()["userId"],
        DEV_USER_ID
    );
    assert_eq!(grants(&app, "refresh_token"), 1);
    app.tenant.faults().clear();
    assert_eq!(
        app.get_bearer("/userinfo", &tokens.access_token)
            .await
            .status(),
        StatusCode::OK
    );
}

on_both_stores!(concurrent_userinfo_calls_on_an_expired_session_refresh_once);
async fn concurrent_userinfo_calls_on_an_expired_session_refresh_once(store: Store) {
    let app = TestApp::spawn_on(store).await;
    app.tenant
        .faults()
        .set_access_token_ttl(Duration::from_secs(1));
    let tokens = app.login_tokens().await;
    app.tenant.faults().clear();
    app.clock.advance(Duration::from_secs(2));

    let calls = (0..12).map(|_| app.get_bearer("/userinfo", &tokens.access_token));
    let responses = futures::future::join_all(calls).await;

    for response in responses {
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(grants(&app, "refresh_token"), 1);
}

on_both_stores!(a_refresh_lock_left_by_a_crashed_replica_only_delays_the_refresh);
async fn a_refresh_lock_left_by_a_crashed_replica_only_delays_the_refresh(store: Store) {
    let app = TestApp::spawn_on(store).await;
    app.tenant
        .faults()
        .set_access_token_ttl(Duration::from_secs(1));
    let tokens = app.login_tokens().await;
    app.tenant.faults().clear();
    app.clock.advance(Duration::from_secs(2));
    let handle = auth0_client::session::SessionHandle::new(tokens.access_token.clone());
    let lease = Duration::from_millis(300);
    let before_lock = std::time::Instant::now();
    let taken = app
        .sessions
        .try_lock(&format!("refresh:{}", handle.key()), lease)
        .await;
    assert!(taken.unwrap().is_some(), "the test holds the lock");

    let response = app.get_bearer("/userinfo", &tokens.access_token).await;

    assert_eq!(response.status(), StatusCode::OK);
    // Order, not a window: the refresh could only start once the crashed holder's lease
    // had run out, so the answer comes after it.
    assert!(before_lock.elapsed() >= lease, "it waited for the lease");
    assert_eq!(grants(&app, "refresh_token"), 1);
}

#[tokio::test]
async fn an_auth0_outage_during_a_transparent_refresh_is_502_and_the_session_survives() {
    let app = TestApp::spawn().await;
    app.tenant
        .faults()
        .set_access_token_ttl(Duration::from_secs(1));
    let tokens = app.login_tokens().await;
    app.clock.advance(Duration::from_secs(2));
    app.tenant.faults().set_error("/oauth/token", 503);

    assert_error(app.get_bearer("/userinfo", &tokens.access_token).await, 502).await;

    app.tenant.faults().clear();
    assert_eq!(
        app.get_bearer("/userinfo", &tokens.access_token)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_refresh_token_revoked_at_auth0_ends_the_session_at_the_next_refresh() {
    let app = TestApp::spawn().await;
    app.tenant
        .faults()
        .set_access_token_ttl(Duration::from_secs(1));
    let tokens = app.login_tokens().await;
    app.tenant.faults().clear();
    let revoke = app
        .http
        .post(format!("{}/oauth/revoke", app.tenant.url()))
        .form(&[
            ("client_id", "dev-token-client"),
            ("client_secret", "dev-token-secret"),
            ("token", tokens.refresh_token.as_deref().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert!(revoke.status().is_success());
    app.clock.advance(Duration::from_secs(2));

    let message = assert_error(app.get_bearer("/userinfo", &tokens.access_token).await, 401).await;

    assert!(message.contains("refresh token"), "{message}");
    let handle = auth0_client::session::SessionHandle::new(tokens.access_token.clone());
    assert!(app.sessions.get_session(&handle).await.unwrap().is_none());
}

// ---- refresh ----

on_both_stores!(refresh_rotates_the_session_to_the_new_access_token);
async fn refresh_rotates_the_session_to_the_new_access_token(store: Store) {
    let app = TestApp::spawn_on(store).await;
    let tokens = app.login_tokens().await;
    let old_refresh = tokens.refresh_token.clone().unwrap();

    let response = app
        .refresh("/oauth/refreshtoken", &tokens.access_token, &old_refresh)
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let rotated: Tokens = response.json().await.unwrap();
    assert_ne!(rotated.access_token, tokens.access_token);
    assert_ne!(rotated.refresh_token.as_deref(), Some(old_refresh.as_str()));
    assert_eq!(
        app.get_bearer("/userinfo", &rotated.access_token)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get_bearer("/userinfo", &tokens.access_token)
            .await
            .status(),
        StatusCode::OK,
        "the old handle keeps working during the grace period"
    );
    let stale = app
        .refresh("/refreshtoken", &rotated.access_token, &old_refresh)
        .await;
    assert_error(stale, 401).await;
    let again = app
        .refresh(
            "/refreshtoken",
            &rotated.access_token,
            rotated.refresh_token.as_deref().unwrap(),
        )
        .await;
    assert_eq!(again.status(), StatusCode::OK);
}

on_both_stores!(the_login_refresh_token_still_refreshes_after_transparent_refreshes);
async fn the_login_refresh_token_still_refreshes_after_transparent_refreshes(store: Store) {
    let app = TestApp::spawn_on(store).await;
    app.tenant
        .faults()
        .set_access_token_ttl(Duration::from_secs(1));
    let tokens = app.login_tokens().await;
    let login_refresh = tokens.refresh_token.clone().unwrap();
    // Two transparent refreshes: Auth0 rotates the refresh token each time, the caller
    // never sees the new ones.
    for _ in 0..2 {
        app.clock.advance(Duration::from_secs(2));
        let response = app.get_bearer("/userinfo", &tokens.access_token).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(grants(&app, "refresh_token"), 2);
    let stranger = app.login_tokens().await;
    let refused = app
        .refresh(
            "/oauth/refreshtoken",
            &tokens.access_token,
            stranger.refresh_token.as_deref().unwrap(),
        )
        .await;
    assert_error(refused, 401).await;

    let response = app
        .refresh("/oauth/refreshtoken", &tokens.access_token, &login_refresh)
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let rotated: Tokens = response.json().await.unwrap();
    assert_eq!(grants(&app, "refresh_token"), 3);
    let stale = app
        .refresh("/oauth/refreshtoken", &rotated.access_token, &login_refresh)
        .await;
    assert_error(stale, 401).await;
    let next = app
        .refresh(
            "/oauth/refreshtoken",
            &rotated.access_token,
            rotated.refresh_token.as_deref().unwrap(),
        )
        .await;
    assert_eq!(next.status(), StatusCode::OK);
}

on_both_stores!(
    concurrent_refreshes_with_the_login_refresh_token_after_a_transparent_refresh_call_auth0_once
);
async fn concurrent_refreshes_with_the_login_refresh_token_after_a_transparent_refresh_call_auth0_once(
    store: Store,
) {
    let app = TestApp::spawn_on(store).await;
    app.tenant
        .faults()
        .set_access_token_ttl(Duration::from_secs(1));
    let tokens = app.login_tokens().await;
    app.tenant.faults().clear();
    app.clock.advance(Duration::from_secs(2));
    let userinfo = app.get_bearer("/userinfo", &tokens.access_token).await;
    assert_eq!(userinfo.status(), StatusCode::OK);
    assert_eq!(grants(&app, "refresh_token"), 1);
    let login_refresh = tokens.refresh_token.clone().unwrap();

    let calls =
        (0..6).map(|_| app.refresh("/oauth/refreshtoken", &tokens.access_token, &login_refresh));
    let responses = futures::future::join_all(calls).await;

    // Those that read the session before the rotation share its result; a later reader
    // finds the new refresh token (and no caller's one) and is refused.
    let rotated = one_rotated_session(responses).await;
    assert_ne!(rotated, tokens.access_token);
    assert_eq!(grants(&app, "refresh_token"), 2);
}

on_both_stores!(the_old_handle_stops_working_after_the_rotation_grace);
async fn the_old_handle_stops_working_after_the_rotation_grace(store: Store) {
    let grace = Duration::from_millis(500);
    let app = TestApp::spawn_with(Options {
        store,
        tuning: Box::new(move |tuning| tuning.rotation_grace = grace),
        ..Options::default()
    })
    .await;
    let tokens = app.login_tokens().await;
    let rotating = std::time::Instant::now();
    let response = app
        .refresh(
            "/oauth/refreshtoken",
            &tokens.access_token,
            tokens.refresh_token.as_deref().unwrap(),
        )
        .await;
    let rotated: Tokens = response.json().await.unwrap();

    // Waits for the event (the old handle answers 401), then checks its order: never
    // before the grace had passed.
    let ended = loop {
        let status = app
            .get_bearer("/userinfo", &tokens.access_token)
            .await
            .status();
        if status == StatusCode::UNAUTHORIZED {
            break rotating.elapsed();
        }
        assert_eq!(status, StatusCode::OK, "the old handle works until then");
        assert!(
            rotating.elapsed() < Duration::from_secs(30),
            "the grace never ended"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(ended >= grace, "ended after {ended:?}, before the grace");
    assert_error(app.get_bearer("/userinfo", &tokens.access_token).await, 401).await;
    assert_eq!(
        app.get_bearer("/userinfo", &rotated.access_token)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn refresh_with_a_refresh_token_of_another_session_is_401() {
    let app = TestApp::spawn().await;
    let first = app.login_tokens().await;
    let second = app.login_tokens().await;
    let response = app
        .refresh(
            "/oauth/refreshtoken",
            &first.access_token,
            second.refresh_token.as_deref().unwrap(),
        )
        .await;
    assert_error(response, 401).await;
    assert_eq!(grants(&app, "refresh_token"), 0);
    let no_handle = app
        .http
        .post(app.url("/oauth/refreshtoken"))
        .json(&json!({"refresh_token": "x"}))
        .send()
        .await
        .unwrap();
    assert_error(no_handle, 401).await;
}

/// The access token every successful one of concurrent `/oauth/refreshtoken` answers
/// carries (there must be exactly one); the others must be `401` for the refresh token.
async fn one_rotated_session(responses: Vec<reqwest::Response>) -> String {
    let mut handles = Vec::new();
    for response in responses {
        if response.status() == StatusCode::OK {
            handles.push(response.json::<Tokens>().await.unwrap().access_token);
        } else {
            let message = assert_error(response, 401).await;
            assert!(message.contains("refresh token"), "{message}");
        }
    }
    handles.dedup();
    assert_eq!(
        handles.len(),
        1,
        "every successful caller gets the one rotated session"
    );
    handles.remove(0)
}

on_both_stores!(concurrent_refreshes_of_one_session_call_auth0_once);
async fn concurrent_refreshes_of_one_session_call_auth0_once(store: Store) {
    let app = TestApp::spawn_on(store).await;
    let tokens = app.login_tokens().await;
    let refresh_token = tokens.refresh_token.clone().unwrap();

    let calls =
        (0..6).map(|_| app.refresh("/oauth/refreshtoken", &tokens.access_token, &refresh_token));
    let responses = futures::future::join_all(calls).await;

    // A request that reads the session after the rotation sees the new refresh token
    // and cannot prove it held the previous one: it is refused, never refreshed again.
    let rotated = one_rotated_session(responses).await;
    assert_ne!(rotated, tokens.access_token);
    assert_eq!(grants(&app, "refresh_token"), 1);
}

#[tokio::test]
async fn a_website_refresh_sets_the_rotated_cookie() {
    let app = TestApp::spawn_with(Options {
        edit: Box::new(|file| {
            if let Some(website) = file.clients.get_mut(WEBSITE) {
                website.scopes.push("offline_access".to_owned());
            }
        }),
        ..Options::default()
    })
    .await;
    let login = app.password_login(WEBSITE).await;
    let handle = sid(login.headers());
    let session = app
        .sessions
        .get_session(&auth0_client::session::SessionHandle::new(handle.clone()))
        .await
        .unwrap()
        .unwrap();
    let refresh_token = session.refresh_token.unwrap();

    let response = app
        .http
        .post(app.url("/oauth/refreshtoken"))
        .header("cookie", format!("sid={handle}"))
        .json(&json!({"refresh_token": refresh_token.expose()}))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    let rotated = sid(response.headers());
    assert_ne!(rotated, handle);
    assert_eq!(
        set_cookies(response.headers()),
        vec![format!(
            "sid={rotated}; Path=/; HttpOnly; Secure; Max-Age={SESSION_SECONDS}; SameSite=Lax"
        )]
    );
}

// ---- logout ----

on_both_stores!(logout_ends_the_session_revokes_the_refresh_token_and_clears_the_cookie);
async fn logout_ends_the_session_revokes_the_refresh_token_and_clears_the_cookie(store: Store) {
    let app = TestApp::spawn_on(store).await;
    let tokens = app.login_tokens().await;

    let response = app.get_bearer("/logout", &tokens.access_token).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        set_cookies(response.headers()),
        vec![CLEARED_COOKIE.to_owned()]
    );
    assert_error(app.get_bearer("/userinfo", &tokens.access_token).await, 401).await;
    assert_eq!(requests(&app, "POST /oauth/revoke"), 1);
    let revoked = app
        .http
        .post(format!("{}/oauth/token", app.tenant.url()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "dev-token-client"),
            ("client_secret", "dev-token-secret"),
            ("refresh_token", tokens.refresh_token.as_deref().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        revoked.status(),
        StatusCode::FORBIDDEN,
        "the refresh token is revoked at Auth0"
    );
}

#[tokio::test]
async fn logout_without_a_session_is_204_and_still_clears_the_cookie() {
    let app = TestApp::spawn().await;
    let response = app.http.get(app.url("/logout")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        set_cookies(response.headers()),
        vec![CLEARED_COOKIE.to_owned()]
    );
}

#[tokio::test]
async fn logout_with_a_relative_redirect_goes_to_auth0_logout_on_the_original_host() {
    let app = TestApp::spawn().await;
    let response = app.password_login(WEBSITE).await;
    let handle = sid(response.headers());

    let response = app
        .http
        .get(app.url("/logout"))
        .query(&[("redirect", "/bye?x=1")])
        .header("client-type", WEBSITE)
        .header("cookie", format!("sid={handle}"))
        .header("x-forwarded-host", "app.example.com")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();

    assert_eq!(
        set_cookies(response.headers()),
        vec![CLEARED_COOKIE.to_owned()]
    );
    let to = location(&response);
    assert!(
        to.starts_with(&format!("{}/v2/logout?", app.tenant.url())),
        "{to}"
    );
    let query = query_of(&to);
    assert_eq!(query["client_id"], "dev-website-client");
    assert_eq!(query["returnTo"], "https://app.example.com/bye?x=1");
    assert!(
        app.sessions
            .get_session(&auth0_client::session::SessionHandle::new(handle))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn logout_refuses_open_redirects() {
    let app = TestApp::spawn().await;
    let tokens = app.login_tokens().await;
    for attempt in [
        "//evil.example/",
        "/\\evil.example",
        "https://evil.example/",
        "https://app.example.com.evil.example/",
        "https://app.example.com@evil.example/",
        "javascript:alert(1)",
        "http:evil.example",
        "evil.example",
    ] {
        let response = app
            .http
            .get(app.url("/logout"))
            .query(&[("redirect", attempt)])
            .header("client-type", TOKEN)
            .header("x-forwarded-host", "app.example.com")
            .bearer_auth(&tokens.access_token)
            .send()
            .await
            .unwrap();
        assert_error(response, 400).await;
    }
    assert_eq!(
        app.get_bearer("/userinfo", &tokens.access_token)
            .await
            .status(),
        StatusCode::OK,
        "a refused logout leaves the session alone"
    );
}

#[tokio::test]
async fn logout_allows_an_absolute_redirect_on_the_original_host() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .get(app.url("/logout"))
        .query(&[("redirect", "https://app.example.com/bye")])
        .header("client-type", TOKEN)
        .header("x-forwarded-host", "app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        query_of(&location(&response))["returnTo"],
        "https://app.example.com/bye"
    );
}

#[tokio::test]
async fn logout_with_a_redirect_and_no_client_type_uses_the_sessions_client() {
    let app = TestApp::spawn().await;
    let handle = sid(app.password_login(WEBSITE).await.headers());

    let response = app
        .http
        .get(app.url("/logout"))
        .query(&[("redirect", "/")])
        .header("cookie", format!("sid={handle}"))
        .send()
        .await
        .unwrap();

    let query = query_of(&location(&response));
    assert_eq!(query["client_id"], "dev-website-client");
    assert_eq!(query["returnTo"], app.url("/"));
    let orphan = app
        .http
        .get(app.url("/logout"))
        .query(&[("redirect", "/")])
        .send()
        .await
        .unwrap();
    assert_error(orphan, 400).await;
}

// ---- Auth0 down or slow ----

#[tokio::test]
async fn auth0_failing_is_502_and_auth0_unreachable_is_502() {
    let app = TestApp::spawn().await;
    app.tenant.faults().set_error("/oauth/token", 500);
    assert_error(app.password_login(TOKEN).await, 502).await;
    app.tenant.faults().clear();
    app.tenant.faults().set_drop("/oauth/token");
    assert_error(app.password_login(TOKEN).await, 502).await;
}

#[tokio::test]
async fn auth0_too_slow_is_504() {
    let timeout = Duration::from_millis(300);
    let app = TestApp::spawn_with(Options {
        tuning: Box::new(move |tuning| tuning.auth0_call_timeout = timeout),
        ..Options::default()
    })
    .await;
    app.tenant
        .faults()
        .set_latency("/oauth/token", timeout + Duration::from_secs(2));
    assert_error(app.password_login(TOKEN).await, 504).await;
}

#[tokio::test]
async fn the_signing_keys_check_up_follows_the_tenant() {
    let app = TestApp::spawn().await;
    assert_eq!(app.login.check_signing_keys().await, Ok(()));
    app.tenant.faults().set_error("/.well-known/jwks.json", 503);
    let failure = app.login.check_signing_keys().await.unwrap_err();
    assert!(failure.contains("unavailable"), "{failure}");
}

// ---- session store down (SPEC §6) ----

#[tokio::test]
async fn session_routes_answer_503_quickly_while_redis_is_down_and_recover_after() {
    let mut app = TestApp::spawn_on(Store::Redis).await;
    let tokens = app.login_tokens().await;
    app.redis.as_mut().unwrap().stop().await;

    let started = std::time::Instant::now();
    assert_error(app.get_bearer("/userinfo", &tokens.access_token).await, 503).await;
    assert_error(app.authorize(Some(WEBSITE), &[]).await, 503).await;
    assert_error(app.password_login(TOKEN).await, 503).await;
    assert_error(app.get_bearer("/logout", &tokens.access_token).await, 503).await;
    let refresh = app
        .refresh("/oauth/refreshtoken", &tokens.access_token, "x")
        .await;
    assert_error(refresh, 503).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    app.redis.as_mut().unwrap().restart().await;
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..50 {
        status = app
            .get_bearer("/userinfo", &tokens.access_token)
            .await
            .status();
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, StatusCode::OK, "the session outlived the outage");
}

// ---- forged id_tokens (a fake tenant serves them) ----

mod forged {
    use super::*;
    use crate::support::app::Options;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    use rsa::traits::PublicKeyParts;
    use rsa::{RsaPrivateKey, RsaPublicKey};
    use std::sync::{Arc, Mutex, OnceLock};

    const KID: &str = "fake-key-1";
    const CLIENT_ID: &str = "forged-client";
    const CLIENT_TYPE: &str = "forged";

    /// The fake tenant's key and an attacker's key.
    fn keys() -> &'static (RsaPrivateKey, RsaPrivateKey) {
        static KEYS: OnceLock<(RsaPrivateKey, RsaPrivateKey)> = OnceLock::new();
        KEYS.get_or_init(|| {
            let mut rng = rand::thread_rng();
            (
                RsaPrivateKey::new(&mut rng, 2048).unwrap(),
                RsaPrivateKey::new(&mut rng, 2048).unwrap(),
            )
        })
    }

    /// A tiny tenant serving one JWKS and, from `/oauth/token`, whatever id_token the test set.
    struct FakeTenant {
        url: String,
        id_token: Arc<Mutex<String>>,
    }

    impl FakeTenant {
        async fn start() -> Self {
            let public = RsaPublicKey::from(&keys().0);
            let jwks = json!({"keys": [{
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": KID,
                "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
                "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
            }]});
            let id_token = Arc::new(Mutex::new(String::new()));
            let served = id_token.clone();
            let router = axum::Router::new()
                .route(
                    "/.well-known/jwks.json",
                    axum::routing::get(move || async move { axum::Json(jwks) }),
                )
                .route(
                    "/oauth/token",
                    axum::routing::post(move || async move {
                        let id_token = served.lock().unwrap().clone();
                        axum::Json(json!({
                            "access_token": format!("fake-access-{}", uuid::Uuid::new_v4()),
                            "id_token": id_token, "expires_in": 3600, "token_type": "Bearer",
                        }))
                    }),
                );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            tokio::spawn(async move { axum::serve(listener, router).await });
            Self { url, id_token }
        }
    }

    fn valid_claims(issuer: &str, nonce: &str) -> Value {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        json!({"iss": issuer, "aud": CLIENT_ID, "sub": "auth0|forged", "iat": now, "exp": now + 3600, "nonce": nonce})
    }

    fn rs256(key: &RsaPrivateKey, claims: &Value) -> String {
        let pem = key.to_pkcs1_pem(LineEnding::LF).unwrap();
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(KID.to_owned());
        encode(
            &header,
            claims,
            &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        )
        .unwrap()
    }

    /// Runs the code flow against the fake tenant with the id_token `forge` builds from
    /// (issuer, nonce of the authorize request); returns the app's answer.
    async fn login_with(forge: impl FnOnce(&str, &str) -> String) -> reqwest::Response {
        let fake = FakeTenant::start().await;
        let fake_url = fake.url.clone();
        let app = TestApp::spawn_with(Options {
            edit: Box::new(move |file| {
                file.clients.insert(
                    CLIENT_TYPE.to_owned(),
                    client(&fake_url, CLIENT_ID, "forged-secret", &["openid"]),
                );
            }),
            ..Options::default()
        })
        .await;
        let query = query_of(&location(&app.authorize(Some(CLIENT_TYPE), &[]).await));
        *fake.id_token.lock().unwrap() = forge(&format!("{}/", fake.url), &query["nonce"]);
        app.token(CLIENT_TYPE, &[("code", "any"), ("state", &query["state"])])
            .await
    }

    async fn assert_refused(response: reqwest::Response) {
        assert!(set_cookies(response.headers()).is_empty());
        let message = assert_error(response, 401).await;
        assert!(message.contains("id_token"), "{message}");
    }

    #[tokio::test]
    async fn a_correctly_signed_id_token_is_accepted() {
        let response = login_with(|iss, nonce| rs256(&keys().0, &valid_claims(iss, nonce))).await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn an_id_token_signed_with_another_key_is_refused() {
        assert_refused(login_with(|iss, nonce| rs256(&keys().1, &valid_claims(iss, nonce))).await)
            .await;
    }

    #[tokio::test]
    async fn an_id_token_with_alg_none_is_refused() {
        let response = login_with(|iss, nonce| {
            let header =
                URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","typ":"JWT","kid":"{KID}"}}"#));
            let claims = URL_SAFE_NO_PAD.encode(valid_claims(iss, nonce).to_string());
            format!("{header}.{claims}.")
        })
        .await;
        assert_refused(response).await;
    }

    #[tokio::test]
    async fn an_id_token_signed_hs256_with_the_public_key_is_refused() {
        let response = login_with(|iss, nonce| {
            let public_pem = RsaPublicKey::from(&keys().0)
                .to_public_key_pem(LineEnding::LF)
                .unwrap();
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some(KID.to_owned());
            encode(
                &header,
                &valid_claims(iss, nonce),
                &EncodingKey::from_secret(public_pem.as_bytes()),
            )
            .unwrap()
        })
        .await;
        assert_refused(response).await;
    }

    #[tokio::test]
    async fn an_id_token_for_another_audience_is_refused() {
        let response = login_with(|iss, nonce| {
            let mut claims = valid_claims(iss, nonce);
            claims["aud"] = json!("someone-else");
            rs256(&keys().0, &claims)
        })
        .await;
        assert_refused(response).await;
    }

    #[tokio::test]
    async fn an_id_token_authorized_for_another_party_is_refused() {
        let response = login_with(|iss, nonce| {
            let mut claims = valid_claims(iss, nonce);
            claims["aud"] = json!([CLIENT_ID, "someone-else"]);
            claims["azp"] = json!("someone-else");
            rs256(&keys().0, &claims)
        })
        .await;
        assert_refused(response).await;
    }

    #[tokio::test]
    async fn an_id_token_from_another_issuer_is_refused() {
        let response =
            login_with(|_, nonce| rs256(&keys().0, &valid_claims("https://evil.example/", nonce)))
                .await;
        assert_refused(response).await;
    }

    #[tokio::test]
    async fn an_expired_id_token_is_refused() {
        let response = login_with(|iss, nonce| {
            let mut claims = valid_claims(iss, nonce);
            claims["exp"] = json!(time::OffsetDateTime::now_utc().unix_timestamp() - 3600);
            rs256(&keys().0, &claims)
        })
        .await;
        assert_refused(response).await;
    }

    #[tokio::test]
    async fn an_id_token_with_another_nonce_is_refused() {
        let response =
            login_with(|iss, _| rs256(&keys().0, &valid_claims(iss, "not-the-nonce"))).await;
        assert_refused(response).await;
    }
}
