//! Integration tests: login hardening (issue 10, items 4, 7-11, 13, 14): refresh keeps the
//! same user, refused refreshes and rotated handles, pending states, the end user's IP,
//! bounded state records, login CSRF on cookie clients, and oversized requests.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::app::{
    DEV_EMAIL, DEV_PASSWORD, DEV_USER_ID, Options, STRICT, Store, TOKEN, TestApp, Tokens, WEBSITE,
    assert_error, set_cookies,
};
use auth0_client::session::SessionHandle;
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

/// `sub` of the devtenant's second seeded user.
const VIEWER_USER_ID: &str = "auth0|dev000000000000000000002";

fn refresh_grants(app: &TestApp) -> u64 {
    app.tenant
        .stats()
        .token_grants
        .get("refresh_token")
        .copied()
        .unwrap_or(0)
}

/// Makes the access token behind `handle` expired, as time passing would (no sleep).
async fn expire_access_token(app: &TestApp, handle: &str) {
    let handle = SessionHandle::new(handle);
    let mut session = app.sessions.get_session(&handle).await.unwrap().unwrap();
    session.token_expires_at = 0;
    assert!(
        app.sessions
            .update_session(&handle, &session)
            .await
            .unwrap()
    );
}

async fn session_exists(app: &TestApp, handle: &str) -> bool {
    app.sessions
        .get_session(&SessionHandle::new(handle))
        .await
        .unwrap()
        .is_some()
}

// ---- item 4: a refresh keeps the session's user ----

on_both_stores!(an_explicit_refresh_that_switches_the_user_ends_the_session);
async fn an_explicit_refresh_that_switches_the_user_ends_the_session(store: Store) {
    // Arrange: the dev user's session; Auth0 answers the refresh for another user.
    let app = TestApp::spawn_on(store).await;
    let tokens = app.login_tokens().await;
    app.tenant.faults().set_refresh_user(Some(VIEWER_USER_ID));

    // Act
    let response = app
        .refresh(
            "/oauth/refreshtoken",
            &tokens.access_token,
            tokens.refresh_token.as_deref().unwrap(),
        )
        .await;

    // Assert: refused, the session is over, the user index holds no stale entry.
    let message = assert_error(response, 401).await;
    assert!(message.contains("log in again"), "{message}");
    assert_eq!(refresh_grants(&app), 1, "Auth0 was asked");
    assert!(!session_exists(&app, &tokens.access_token).await);
    assert_error(app.get_bearer("/userinfo", &tokens.access_token).await, 401).await;
    let active = app.sessions.active_users().await.unwrap();
    assert!(
        !active.contains(&DEV_USER_ID.to_owned()) && !active.contains(&VIEWER_USER_ID.to_owned()),
        "{active:?}"
    );
}

on_both_stores!(a_transparent_refresh_that_switches_the_user_ends_the_session);
async fn a_transparent_refresh_that_switches_the_user_ends_the_session(store: Store) {
    let app = TestApp::spawn_on(store).await;
    let tokens = app.login_tokens().await;
    expire_access_token(&app, &tokens.access_token).await;
    app.tenant.faults().set_refresh_user(Some(VIEWER_USER_ID));

    let response = app.get_bearer("/userinfo", &tokens.access_token).await;

    assert_error(response, 401).await;
    assert_eq!(refresh_grants(&app), 1);
    assert!(!session_exists(&app, &tokens.access_token).await);
    assert!(
        !app.sessions
            .active_users()
            .await
            .unwrap()
            .contains(&DEV_USER_ID.to_owned())
    );
}

#[tokio::test]
async fn a_refresh_for_the_same_user_still_works() {
    let app = TestApp::spawn().await;
    let tokens = app.login_tokens().await;
    app.tenant.faults().set_refresh_user(Some(DEV_USER_ID));

    let response = app
        .refresh(
            "/oauth/refreshtoken",
            &tokens.access_token,
            tokens.refresh_token.as_deref().unwrap(),
        )
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let rotated: Tokens = response.json().await.unwrap();
    let user: serde_json::Value = app
        .get_bearer("/userinfo", &rotated.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(user["userId"], DEV_USER_ID);
}

// ---- item 7: a refused explicit refresh ends the session ----

on_both_stores!(an_explicit_refresh_refused_by_auth0_ends_the_session);
async fn an_explicit_refresh_refused_by_auth0_ends_the_session(store: Store) {
    let app = TestApp::spawn_on(store).await;
    let tokens = app.login_tokens().await;
    app.revoke_at_tenant(tokens.refresh_token.as_deref().unwrap())
        .await;

    let response = app
        .refresh(
            "/oauth/refreshtoken",
            &tokens.access_token,
            tokens.refresh_token.as_deref().unwrap(),
        )
        .await;

    let message = assert_error(response, 401).await;
    assert!(message.contains("log in again"), "{message}");
    assert_error(app.get_bearer("/userinfo", &tokens.access_token).await, 401).await;
    assert!(!session_exists(&app, &tokens.access_token).await);
    assert!(
        !app.sessions
            .active_users()
            .await
            .unwrap()
            .contains(&DEV_USER_ID.to_owned())
    );
}

// ---- item 8: the old handle is read-only during the rotation grace ----

on_both_stores!(the_old_handle_cannot_refresh_during_the_rotation_grace);
async fn the_old_handle_cannot_refresh_during_the_rotation_grace(store: Store) {
    let app = TestApp::spawn_on(store).await;
    let tokens = app.login_tokens().await;
    let rotated: Tokens = app
        .refresh(
            "/oauth/refreshtoken",
            &tokens.access_token,
            tokens.refresh_token.as_deref().unwrap(),
        )
        .await
        .json()
        .await
        .unwrap();
    let new_refresh = rotated.refresh_token.clone().unwrap();

    // The old handle still answers /userinfo...
    assert_eq!(
        app.userinfo_status(&tokens.access_token).await,
        StatusCode::OK
    );
    // ...but refreshing with it, with either refresh token, makes no second session.
    for refresh_token in [
        new_refresh.as_str(),
        tokens.refresh_token.as_deref().unwrap(),
    ] {
        let response = app
            .refresh("/oauth/refreshtoken", &tokens.access_token, refresh_token)
            .await;
        assert_error(response, 401).await;
    }
    // Nor does a transparent refresh on it when its access token has expired.
    expire_access_token(&app, &tokens.access_token).await;
    assert_eq!(
        app.userinfo_status(&tokens.access_token).await,
        StatusCode::OK
    );
    assert_eq!(refresh_grants(&app), 1, "one grant: the rotation");

    // The rotated session is untouched: its refresh token still refreshes it.
    let next = app
        .refresh("/oauth/refreshtoken", &rotated.access_token, &new_refresh)
        .await;
    assert_eq!(next.status(), StatusCode::OK);
    assert_eq!(refresh_grants(&app), 2);
}

// A logout during the rotation grace ends both handles, whichever one it comes through.
on_both_stores!(a_logout_during_the_rotation_grace_ends_the_old_and_the_new_handle);
async fn a_logout_during_the_rotation_grace_ends_the_old_and_the_new_handle(store: Store) {
    let app = TestApp::spawn_on(store).await;
    for logout_through_new_handle in [true, false] {
        let tokens = app.login_tokens().await;
        let rotated: Tokens = app
            .refresh(
                "/oauth/refreshtoken",
                &tokens.access_token,
                tokens.refresh_token.as_deref().unwrap(),
            )
            .await
            .json()
            .await
            .unwrap();
        let (through, other) = if logout_through_new_handle {
            (&rotated.access_token, &tokens.access_token)
        } else {
            (&tokens.access_token, &rotated.access_token)
        };
        assert_eq!(
            app.userinfo_status(other).await,
            StatusCode::OK,
            "both handles answer during the grace"
        );

        let logout = app.get_bearer("/logout", through).await;
        assert!(logout.status().is_success(), "{}", logout.status());

        for handle in [through, other] {
            assert_error(app.get_bearer("/userinfo", handle).await, 401).await;
        }
        let refresh_token = rotated.refresh_token.as_deref().unwrap();
        assert!(
            !crate::lifecycle::refresh_token_works(&app.tenant, refresh_token).await,
            "the session's refresh token is revoked"
        );
    }
}

// ---- item 9: a caller's state is stored only if absent ----

on_both_stores!(a_second_authorize_with_a_pending_state_is_refused_and_the_first_login_completes);
async fn a_second_authorize_with_a_pending_state_is_refused_and_the_first_login_completes(
    store: Store,
) {
    let app = TestApp::spawn_on(store).await;
    let (code, state) = app
        .browser_login_with(STRICT, &[("state", "pending-state-1")])
        .await;

    let second = app
        .authorize(Some(STRICT), &[("state", "pending-state-1")])
        .await;

    let message = assert_error(second, 409).await;
    assert!(message.contains("state"), "{message}");
    let response = app
        .token(STRICT, &[("code", &code), ("state", &state)])
        .await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the pending login kept its nonce and PKCE verifier"
    );
    // Used, the state may start a new login.
    let again = app
        .authorize(Some(STRICT), &[("state", "pending-state-1")])
        .await;
    assert_eq!(again.status(), StatusCode::FOUND);
}

// ---- item 14: oversized bodies ----

#[tokio::test]
async fn an_oversized_body_is_413_in_the_json_error_shape() {
    let app = TestApp::spawn().await;
    let big = "x".repeat(300 * 1024);
    for request in [
        app.http
            .post(app.url("/oauth/token"))
            .header("client-type", TOKEN)
            .json(&json!({"grant_type": "password", "username": big, "password": "p"})),
        app.http
            .post(app.url("/oauth/token"))
            .header("client-type", TOKEN)
            .form(&[("grant_type", "password"), ("username", &big)]),
    ] {
        let message = assert_error(request.send().await.unwrap(), 413).await;
        assert!(message.contains("KiB"), "{message}");
    }
}

#[tokio::test]
async fn an_over_long_target_is_414_and_oversized_headers_are_431_in_the_json_error_shape() {
    let app = TestApp::spawn().await;
    let long_query = format!("/userinfo?pad={}", "a".repeat(10 * 1024));
    let response = app
        .http
        .get(app.url(&long_query))
        .header("x-request-id", "req-414")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-414");
    let message = assert_error(response, 414).await;
    assert!(message.contains("8 KiB"), "{message}");

    let response = app
        .http
        .get(app.url("/userinfo"))
        .header("x-padding", "b".repeat(40 * 1024))
        .send()
        .await
        .unwrap();
    let message = assert_error(response, 431).await;
    assert!(message.contains("32 KiB"), "{message}");
}

/// Documents the part below axum (README decisions): hyper answers a malformed request
/// line itself, `400` with an empty body, before any of the service's code runs.
#[tokio::test]
async fn a_malformed_request_line_is_refused_by_hyper_with_an_empty_400() {
    let app = TestApp::spawn().await;
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /userinfo HTTP/1.1 extra\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(answer.contains("content-length: 0"), "{answer}");
}

// ---- item 10: the end user's IP for Auth0's brute-force protection ----

async fn password_login_with(
    app: &TestApp,
    client_type: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = app
        .http
        .post(app.url("/oauth/token"))
        .header("client-type", client_type);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
        .form(&[
            ("grant_type", "password"),
            ("username", DEV_EMAIL),
            ("password", DEV_PASSWORD),
        ])
        .send()
        .await
        .unwrap()
}

fn forwarded_for(app: &TestApp) -> Option<String> {
    app.tenant
        .stats()
        .forwarded_for
        .get("dev-token-client")
        .cloned()
}

#[tokio::test]
async fn auth0_gets_the_address_the_nearest_trusted_proxy_appended() {
    let app = TestApp::spawn().await;
    for (header, expected) in [
        // The client wrote the left-most entry itself; the gateway appended the last.
        ("203.0.113.66, 198.51.100.7", "198.51.100.7"),
        ("203.0.113.66, 198.51.100.8:51234", "198.51.100.8"),
        ("203.0.113.66, [2001:db8::7]:443", "2001:db8::7"),
        ("[2001:db8::8]", "2001:db8::8"),
    ] {
        let response = password_login_with(&app, TOKEN, &[("x-forwarded-for", header)]).await;
        assert_eq!(response.status(), StatusCode::OK, "{header}");
        assert_eq!(forwarded_for(&app).as_deref(), Some(expected), "{header}");
    }
}

#[tokio::test]
async fn with_two_trusted_hops_the_second_entry_from_the_right_is_sent() {
    let app = TestApp::spawn_with(Options {
        edit_settings: Box::new(|settings| settings.trusted_proxy_hops = 2),
        ..Options::default()
    })
    .await;
    let header = "203.0.113.66, 198.51.100.7, 10.0.0.2";

    let response = password_login_with(&app, TOKEN, &[("x-forwarded-for", header)]).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(forwarded_for(&app).as_deref(), Some("198.51.100.7"));
}

#[tokio::test]
async fn an_unparsable_end_user_address_is_400_and_never_replaced_by_the_peer() {
    let app = TestApp::spawn().await;

    let response = password_login_with(&app, TOKEN, &[("x-forwarded-for", "unknown")]).await;

    let message = assert_error(response, 400).await;
    assert!(message.contains("X-Forwarded-For"), "{message}");
    assert_eq!(forwarded_for(&app), None, "nothing reached Auth0");
    assert!(app.tenant.stats().token_grants.is_empty());
}

// ---- item 11: bounded state records, and a limit on their creation ----

#[tokio::test]
async fn a_redirect_over_2_kb_is_400_and_one_of_2_kb_is_kept() {
    let app = TestApp::spawn().await;
    let at_limit = format!("/{}", "a".repeat(2047));
    let over = format!("/{}", "a".repeat(2048));

    assert_eq!(
        app.authorize(Some(TOKEN), &[("redirect", &at_limit)])
            .await
            .status(),
        StatusCode::FOUND
    );
    let message = assert_error(
        app.authorize(Some(TOKEN), &[("redirect", &over)]).await,
        400,
    )
    .await;
    assert!(message.contains("2048"), "{message}");
}

#[tokio::test]
async fn a_state_record_in_redis_stays_under_4_kib() {
    let app = TestApp::spawn_on(Store::Redis).await;
    let redis = app.redis.as_ref().unwrap();
    let longest = format!("/{}", "a".repeat(2047));
    assert_eq!(
        app.authorize(Some(TOKEN), &[("redirect", &longest)])
            .await
            .status(),
        StatusCode::FOUND
    );
    let huge = format!("/{}", "a".repeat(6 * 1024));
    assert_error(
        app.authorize(Some(TOKEN), &[("redirect", &huge)]).await,
        400,
    )
    .await;

    let states: Vec<String> = redis
        .keys()
        .await
        .into_iter()
        .filter(|key| key.contains(":state:"))
        .collect();
    assert_eq!(states.len(), 1, "{states:?}");
    let size: usize = redis
        .cli(&["STRLEN", &states[0]])
        .await
        .trim()
        .parse()
        .unwrap();
    assert!(size <= 4096, "{size} bytes");
}

async fn authorize_from(app: &TestApp, ip: &str) -> reqwest::Response {
    app.http
        .get(app.url("/authorize"))
        .header("client-type", TOKEN)
        .header("x-forwarded-for", ip)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn authorize_past_the_per_ip_limit_is_429_with_retry_after_and_counted() {
    let app = TestApp::spawn_with(Options {
        edit_settings: Box::new(|settings| settings.authorize_rate_limit = 3),
        ..Options::default()
    })
    .await;
    app.http.get(app.url("/-/metrics")).send().await.unwrap();
    for _ in 0..3 {
        assert_eq!(
            authorize_from(&app, "198.51.100.7").await.status(),
            StatusCode::FOUND
        );
    }

    let refused = authorize_from(&app, "198.51.100.7").await;

    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    let message = assert_error(refused, 429).await;
    assert!(message.contains("Too many logins"), "{message}");
    assert_eq!(
        authorize_from(&app, "198.51.100.8").await.status(),
        StatusCode::FOUND,
        "another client IP has its own budget"
    );
    let metrics = app
        .http
        .get(app.url("/-/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"authorize_rate_limited_total{reason="per_ip"} 1"#),
        "{metrics}"
    );
}

// ---- item 13: login CSRF on cookie clients ----

#[tokio::test]
async fn a_cross_site_login_to_a_cookie_client_is_403_and_sets_no_cookie() {
    let app = TestApp::spawn().await;
    for headers in [
        &[("sec-fetch-site", "cross-site")][..],
        &[("origin", "https://evil.example")][..],
        &[("origin", "null")][..],
    ] {
        let response = password_login_with(&app, WEBSITE, headers).await;
        assert!(set_cookies(response.headers()).is_empty(), "{headers:?}");
        let message = assert_error(response, 403).await;
        assert!(message.contains("Cross-site login refused"), "{message}");
    }
    assert!(
        app.tenant.stats().token_grants.is_empty(),
        "Auth0 was never asked"
    );
}

#[tokio::test]
async fn same_site_headerless_and_token_client_logins_keep_working() {
    let app = TestApp::spawn().await;
    let own_origin = app.address.clone();
    for headers in [
        &[][..],
        &[
            ("origin", own_origin.as_str()),
            ("sec-fetch-site", "same-origin"),
        ][..],
        &[("sec-fetch-site", "same-site")][..],
    ] {
        let response = password_login_with(&app, WEBSITE, headers).await;
        assert_eq!(response.status(), StatusCode::OK, "{headers:?}");
        assert!(!set_cookies(response.headers()).is_empty());
    }
    let token_client = password_login_with(&app, TOKEN, &[("sec-fetch-site", "cross-site")]).await;
    assert_eq!(
        token_client.status(),
        StatusCode::OK,
        "tokens in a body are not a cookie a page can plant"
    );
}

#[tokio::test]
async fn an_origin_of_allowed_origins_may_post_a_cross_site_login() {
    let app = TestApp::spawn_with(Options {
        edit: Box::new(|file| {
            if let Some(website) = file.clients.get_mut(WEBSITE) {
                website.allowed_origins = vec!["https://login.example.net/".to_owned()];
            }
        }),
        ..Options::default()
    })
    .await;
    let allowed = [
        ("origin", "https://login.example.net"),
        ("sec-fetch-site", "cross-site"),
    ];

    assert_eq!(
        password_login_with(&app, WEBSITE, &allowed).await.status(),
        StatusCode::OK
    );
    let other =
        password_login_with(&app, WEBSITE, &[("origin", "https://login.example.org")]).await;
    assert_error(other, 403).await;
}

#[tokio::test]
async fn a_cross_site_code_exchange_to_a_cookie_client_is_403() {
    let app = TestApp::spawn().await;
    let (code, state) = app.browser_login(WEBSITE).await;

    let response = app
        .http
        .post(app.url("/oauth/token"))
        .header("client-type", WEBSITE)
        .header("sec-fetch-site", "cross-site")
        .form(&[("code", code.as_str()), ("state", state.as_str())])
        .send()
        .await
        .unwrap();

    assert!(set_cookies(response.headers()).is_empty());
    assert_error(response, 403).await;
}
