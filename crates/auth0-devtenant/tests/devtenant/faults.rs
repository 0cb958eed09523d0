use std::time::Duration;

use serde_json::Value;

use crate::support::*;

#[tokio::test]
async fn injected_errors_answer_auth0_shaped_bodies_until_cleared() {
    let t = tenant().await;
    t.faults().set_error("/oauth/token", 503);
    let (status, body) = login(&t, "dev@example.com", "DevPassword1!", "openid").await;
    assert_eq!(status, 503);
    assert!(body["error"].is_string() && body["error_description"].is_string());

    t.faults().set_error("/api/v2/", 500);
    let response = http()
        .get(format!("{}/api/v2/users", t.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["statusCode"], 500);

    t.faults().clear();
    assert_eq!(
        login(&t, "dev@example.com", "DevPassword1!", "openid")
            .await
            .0,
        200
    );
    t.shutdown().await;
}

#[tokio::test]
async fn faults_apply_only_under_their_path_prefix() {
    let t = tenant().await;
    t.faults().set_error("/userinfo", 500);
    assert_eq!(
        login(&t, "dev@example.com", "DevPassword1!", "openid")
            .await
            .0,
        200
    );
    t.shutdown().await;
}

#[tokio::test]
async fn dropped_connections_get_no_answer() {
    let t = tenant().await;
    t.faults().set_drop("/oauth/token");
    let result = http()
        .post(format!("{}/oauth/token", t.url()))
        .form(&[("grant_type", "password")])
        .send()
        .await;
    let error = result.expect_err("no HTTP answer");
    assert!(error.status().is_none());
    t.faults().clear();
    assert_eq!(
        login(&t, "dev@example.com", "DevPassword1!", "openid")
            .await
            .0,
        200
    );
    t.shutdown().await;
}

#[tokio::test]
async fn latency_delays_answers_past_a_client_timeout() {
    let t = tenant().await;
    t.faults()
        .set_latency("/.well-known", Duration::from_secs(5));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let result = client
        .get(format!("{}/.well-known/jwks.json", t.url()))
        .send()
        .await;
    assert!(result.expect_err("times out").is_timeout());
    let fast = client
        .post(format!("{}/oauth/token", t.url()))
        .form(&[("a", "b")])
        .send()
        .await;
    assert!(fast.is_ok(), "other paths are not delayed");
    t.shutdown().await;
}

#[tokio::test]
async fn rate_limits_answer_429_with_rate_limit_headers() {
    let t = tenant().await;
    let token = management_token(&t).await;
    t.faults()
        .set_rate_limit("/api/v2/users", 2, Duration::from_secs(60));
    let url = format!("{}/api/v2/users", t.url());
    for expected_remaining in ["1", "0"] {
        let response = http().get(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-ratelimit-limit"], "2");
        assert_eq!(
            response.headers()["x-ratelimit-remaining"],
            expected_remaining
        );
    }
    let limited = http().get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(limited.status(), 429);
    let reset: u64 = limited.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        reset > now && reset <= now + 61,
        "reset is an epoch second within the window"
    );
    assert_eq!(limited.headers()["x-ratelimit-remaining"], "0");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["statusCode"], 429);
    assert_eq!(body["errorCode"], "too_many_requests");
    t.shutdown().await;
}

#[tokio::test]
async fn a_rate_limit_window_refills() {
    let t = tenant().await;
    let window = Duration::from_millis(300);
    let opened = std::time::Instant::now();
    t.faults()
        .set_rate_limit("/.well-known/jwks.json", 1, window);
    let url = format!("{}/.well-known/jwks.json", t.url());
    assert_eq!(http().get(&url).send().await.unwrap().status(), 200);
    // A window of one request: the next is refused until the window refills (an event
    // waited for), never before the window has passed.
    loop {
        let status = http().get(&url).send().await.unwrap().status();
        if status == 200 {
            break;
        }
        assert_eq!(status, 429);
        assert!(opened.elapsed() < Duration::from_secs(30), "never refilled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        opened.elapsed() >= window,
        "refilled before the window ended"
    );
    t.shutdown().await;
}
