use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn the_http_control_endpoints_set_and_clear_faults_and_report_stats() {
    let t = tenant().await;
    let client = http();
    let control = |path: &str| format!("{}/__devtenant/{path}", t.url());

    let response = client
        .post(control("faults"))
        .json(&json!({"pathPrefix": "/oauth/token", "status": 502}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(
        login(&t, "dev@example.com", "DevPassword1!", "openid")
            .await
            .0,
        502
    );

    assert_eq!(
        client
            .delete(control("faults"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        login(&t, "dev@example.com", "DevPassword1!", "openid")
            .await
            .0,
        200
    );

    let response = client
        .post(control("faults"))
        .json(&json!({"pathPrefix": "/userinfo", "rateLimit": {"limit": 0, "windowMs": 60000}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(
        client
            .get(format!("{}/userinfo", t.url()))
            .send()
            .await
            .unwrap()
            .status(),
        429
    );
    assert_eq!(
        client
            .delete(control("faults"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );

    let response = client
        .post(control("access-token-ttl"))
        .json(&json!({"seconds": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(
        login(&t, "dev@example.com", "DevPassword1!", "openid")
            .await
            .1["expires_in"],
        5
    );

    let bad = client
        .post(control("faults"))
        .json(&json!({"latencyMs": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400, "pathPrefix is required");

    let stats: Value = client
        .get(control("stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["token_grants"][PASSWORD_REALM], 2);
    assert_eq!(stats["requests"]["POST /oauth/token"], 3);
    assert_eq!(stats["requests"]["GET /userinfo"], 1);
    assert!(
        stats["requests"].get("GET /__devtenant/stats").is_none(),
        "control calls are not counted"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let t = tenant().await;
    let url = format!("{}/.well-known/jwks.json", t.url());
    assert_eq!(http().get(&url).send().await.unwrap().status(), 200);
    t.shutdown().await;
    assert!(reqwest::Client::new().get(&url).send().await.is_err());
}
