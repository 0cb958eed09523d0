//! An error answered to the caller is logged once: a store failure by the store (with
//! its operation), an Auth0 failure by the error layer (with the request id).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::app::{Store, TOKEN, TestApp};
use auth0_client::config::env::LogLevel;
use auth0_client::telemetry::{JsonLayer, LineWriter};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use tracing_subscriber::layer::SubscriberExt as _;

/// The log lines written while the guard lives (single-threaded test runtime).
fn capture_logs() -> (Arc<Mutex<Vec<u8>>>, tracing::subscriber::DefaultGuard) {
    let buffer = Arc::new(Mutex::new(Vec::<u8>::new()));
    let writer: LineWriter = buffer.clone();
    let subscriber = tracing_subscriber::registry().with(JsonLayer::new(LogLevel::Info, writer));
    (buffer, tracing::subscriber::set_default(subscriber))
}

fn messages(buffer: &Mutex<Vec<u8>>, request_id: &str) -> Vec<String> {
    let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    text.lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|line| line["reqId"] == request_id)
        .filter_map(|line| line["msg"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_session_store_failure_is_logged_once_per_request() {
    // Arrange: a live session, then the store goes away.
    let mut app = TestApp::spawn_on(Store::Redis).await;
    let tokens = app.login_tokens().await;
    app.redis.as_mut().unwrap().stop().await;
    let (buffer, _guard) = capture_logs();

    // Act
    let response = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(&tokens.access_token)
        .header("x-request-id", "store-once")
        .send()
        .await
        .unwrap();

    // Assert
    assert_eq!(response.status(), 503);
    let messages = messages(&buffer, "store-once");
    let store_lines = messages
        .iter()
        .filter(|m| m.contains("session store"))
        .count();
    assert_eq!(store_lines, 1, "{messages:?}");
}

#[tokio::test]
async fn an_auth0_failure_is_logged_once_with_the_request_id() {
    let app = TestApp::spawn().await;
    app.tenant.faults().set_error("/oauth/token", 500);
    let (buffer, _guard) = capture_logs();

    let response = app
        .http
        .post(app.url("/oauth/token"))
        .header("client-type", TOKEN)
        .header("x-request-id", "auth0-once")
        .json(&serde_json::json!({
            "grant_type": "password",
            "username": crate::support::app::DEV_EMAIL,
            "password": crate::support::app::DEV_PASSWORD,
        }))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 502);
    let messages = messages(&buffer, "auth0-once");
    assert_eq!(
        messages.iter().filter(|m| m.starts_with("Auth0 ")).count(),
        1,
        "{messages:?}"
    );
}

#[tokio::test]
async fn a_back_channel_logout_with_the_store_down_is_503_and_logged_once() {
    // Arrange: a valid logout token, and the store goes away.
    let mut app = TestApp::spawn_on(Store::Redis).await;
    let token =
        crate::lifecycle::logout_token(&app.tenant, "dev-token-client", serde_json::json!({}));
    app.redis.as_mut().unwrap().stop().await;
    let (buffer, _guard) = capture_logs();

    // Act
    let response = app
        .http
        .post(app.url("/backchannel-logout"))
        .header("x-request-id", "backchannel-once")
        .form(&[("logout_token", token.as_str())])
        .send()
        .await
        .unwrap();

    // Assert: one line about the store, and no second one about the same failure.
    assert_eq!(response.status(), 503);
    let messages = messages(&buffer, "backchannel-once");
    let failure_lines = messages
        .iter()
        .filter(|m| m.contains("session store") || m.contains("not processed"))
        .count();
    assert_eq!(failure_lines, 1, "{messages:?}");
}
