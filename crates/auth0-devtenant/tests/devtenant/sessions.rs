use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn userinfo_returns_the_profile_for_the_token_scopes() {
    let t = tenant().await;
    let (_, body) = login(
        &t,
        "dev@example.com",
        "DevPassword1!",
        "openid profile email",
    )
    .await;
    let response = http()
        .get(format!("{}/userinfo", t.url()))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let info: Value = response.json().await.unwrap();
    assert_eq!(info["sub"], "auth0|dev000000000000000000001");
    assert_eq!(info["email"], "dev@example.com");
    assert_eq!(info["name"], "Dev User");
    assert_eq!(
        info["https://auth0-client.dev/app_metadata"],
        json!({"groups": ["admin", "dev"]})
    );
    assert_eq!(t.stats().requests.get("GET /userinfo"), Some(&1));

    let (_, narrow) = login(&t, "dev@example.com", "DevPassword1!", "openid").await;
    let info: Value = http()
        .get(format!("{}/userinfo", t.url()))
        .bearer_auth(narrow["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        info.get("email").is_none(),
        "no email scope, no email claim"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn userinfo_refuses_missing_forged_and_management_tokens() {
    let t = tenant().await;
    let url = format!("{}/userinfo", t.url());
    assert_eq!(http().get(&url).send().await.unwrap().status(), 401);
    assert_eq!(
        http()
            .get(&url)
            .bearer_auth("not.a.jwt")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let management = management_token(&t).await;
    assert_eq!(
        http()
            .get(&url)
            .bearer_auth(management)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    t.shutdown().await;
}

#[tokio::test]
async fn logout_redirects_only_to_allowed_logout_urls() {
    let t = tenant().await;
    let client = http();
    let allowed = client
        .get(format!("{}/v2/logout", t.url()))
        .query(&[
            ("client_id", "dev-website-client"),
            ("returnTo", "http://localhost:3000/bye"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 302);
    assert_eq!(allowed.headers()["location"], "http://localhost:3000/bye");

    let refused = client
        .get(format!("{}/v2/logout", t.url()))
        .query(&[
            ("client_id", "dev-website-client"),
            ("returnTo", "https://evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused.headers().get("location").is_none());

    let plain = client
        .get(format!("{}/v2/logout", t.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 200);
    t.shutdown().await;
}

#[tokio::test]
async fn a_tenant_refuses_the_tokens_of_another_tenant() {
    let a = tenant().await;
    let b = tenant().await;
    let (_, body) = login(&a, "dev@example.com", "DevPassword1!", "openid").await;
    let response = http()
        .get(format!("{}/userinfo", b.url()))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let token = management_token(&a).await;
    let response = http()
        .get(format!("{}/api/v2/users", b.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    a.shutdown().await;
    b.shutdown().await;
}
