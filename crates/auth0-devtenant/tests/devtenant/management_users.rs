use reqwest::Method;
use serde_json::json;

use crate::support::*;

const DEV: &str = "/api/v2/users/auth0%7Cdev000000000000000000001";

#[tokio::test]
async fn management_calls_need_a_management_api_token() {
    let t = tenant().await;
    let response = http()
        .get(format!("{}/api/v2/users", t.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["statusCode"], 401);
    assert_eq!(body["error"], "Unauthorized");
    assert!(body["message"].is_string() && body["errorCode"].is_string());

    let (_, user_tokens) = login(&t, "dev@example.com", "DevPassword1!", "openid").await;
    let (status, _, _) = management(
        &t,
        user_tokens["access_token"].as_str().unwrap(),
        Method::GET,
        "/api/v2/users",
        None,
    )
    .await;
    assert_eq!(
        status, 401,
        "a userinfo-audience token is not a Management API token"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn management_answers_carry_rate_limit_headers() {
    let t = tenant().await;
    let token = management_token(&t).await;
    let (status, headers, _) = management(&t, &token, Method::GET, DEV, None).await;
    assert_eq!(status, 200);
    for name in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ] {
        let value: u64 = headers[name].to_str().unwrap().parse().unwrap();
        assert!(value > 0, "{name}");
    }
    t.shutdown().await;
}

#[tokio::test]
async fn get_user_returns_the_auth0_user_or_404() {
    let t = tenant().await;
    let token = management_token(&t).await;
    let (status, _, user) = management(&t, &token, Method::GET, DEV, None).await;
    assert_eq!(status, 200);
    assert_eq!(user["user_id"], "auth0|dev000000000000000000001");
    assert_eq!(user["email"], "dev@example.com");
    assert_eq!(user["identities"][0]["connection"], UPA);
    assert_eq!(user["app_metadata"], json!({"groups": ["admin", "dev"]}));
    let (status, _, body) = management(
        &t,
        &token,
        Method::GET,
        "/api/v2/users/auth0%7Cnobody",
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"statusCode": 404, "error": "Not Found", "message": "The user does not exist.", "errorCode": "inexistent_user"})
    );
    t.shutdown().await;
}

#[tokio::test]
async fn patch_merges_metadata_at_the_top_level_and_null_deletes() {
    let t = tenant().await;
    let token = management_token(&t).await;
    let patch = json!({
        "name": "Renamed",
        "user_metadata": {"theme": null, "lang": "fr"},
        "app_metadata": {"plan": {"tier": "gold"}},
    });
    let (status, _, user) = management(&t, &token, Method::PATCH, DEV, Some(patch)).await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["name"], "Renamed");
    assert_eq!(user["user_metadata"], json!({"lang": "fr"}));
    assert_eq!(
        user["app_metadata"],
        json!({"groups": ["admin", "dev"], "plan": {"tier": "gold"}})
    );
    let (_, tokens) = login(&t, "dev@example.com", "DevPassword1!", "openid profile").await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["name"], "Renamed");
    assert_eq!(
        id["https://auth0-client.dev/user_metadata"],
        json!({"lang": "fr"})
    );

    let (status, _, user) = management(
        &t,
        &token,
        Method::PATCH,
        DEV,
        Some(json!({"user_metadata": {}})),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        user.get("user_metadata").is_none(),
        "an empty object clears the metadata: {user}"
    );
    assert_eq!(user["app_metadata"]["groups"], json!(["admin", "dev"]));

    let (status, _, body) = management(
        &t,
        &token,
        Method::PATCH,
        DEV,
        Some(json!({"shoe_size": 42})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["errorCode"], "invalid_body");
    let (status, _, _) = management(
        &t,
        &token,
        Method::PATCH,
        "/api/v2/users/auth0%7Cnobody",
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(status, 404);
    t.shutdown().await;
}

#[tokio::test]
async fn patching_the_password_changes_the_login() {
    let t = tenant().await;
    let token = management_token(&t).await;
    let (status, _, _) = management(
        &t,
        &token,
        Method::PATCH,
        DEV,
        Some(json!({"password": "NewPassword2!"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        login(&t, "dev@example.com", "DevPassword1!", "openid")
            .await
            .0,
        403
    );
    assert_eq!(
        login(&t, "dev@example.com", "NewPassword2!", "openid")
            .await
            .0,
        200
    );
    t.shutdown().await;
}

#[tokio::test]
async fn create_user_needs_an_existing_connection_and_a_unique_email() {
    let t = tenant().await;
    let token = management_token(&t).await;
    let new_user = json!({"connection": UPA, "email": "new@example.com", "password": "NewPassword1!", "app_metadata": {"groups": ["viewer"]}});
    let (status, _, user) = management(
        &t,
        &token,
        Method::POST,
        "/api/v2/users",
        Some(new_user.clone()),
    )
    .await;
    assert_eq!(status, 201, "{user}");
    assert!(user["user_id"].as_str().unwrap().starts_with("auth0|"));
    assert_eq!(user["nickname"], "new");
    assert_eq!(
        login(&t, "new@example.com", "NewPassword1!", "openid")
            .await
            .0,
        200
    );

    let (status, _, body) = management(
        &t,
        &token,
        Method::POST,
        "/api/v2/users",
        Some(new_user.clone()),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(body["message"], "The user already exists.");

    let mut other = new_user.clone();
    other["connection"] = json!("Other-Database");
    let (status, _, _) = management(&t, &token, Method::POST, "/api/v2/users", Some(other)).await;
    assert_eq!(
        status, 201,
        "the same email may exist in another connection"
    );

    let mut unknown = new_user.clone();
    unknown["connection"] = json!("Nope");
    let (status, _, body) =
        management(&t, &token, Method::POST, "/api/v2/users", Some(unknown)).await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], "The connection does not exist.");

    let (status, _, body) = management(
        &t,
        &token,
        Method::POST,
        "/api/v2/users",
        Some(json!({"email": "x@example.com", "password": "p"})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("connection"));

    let (status, _, _) = management(
        &t,
        &token,
        Method::POST,
        "/api/v2/users",
        Some(json!({"connection": UPA, "email": "not-an-email", "password": "p"})),
    )
    .await;
    assert_eq!(status, 400);
    t.shutdown().await;
}

#[tokio::test]
async fn delete_user_removes_the_user_and_its_refresh_tokens() {
    let t = tenant().await;
    let token = management_token(&t).await;
    let (_, tokens) = login(
        &t,
        "dev@example.com",
        "DevPassword1!",
        "openid offline_access",
    )
    .await;
    let (status, _, _) = management(&t, &token, Method::DELETE, DEV, None).await;
    assert_eq!(status, 204);
    assert_eq!(management(&t, &token, Method::GET, DEV, None).await.0, 404);
    assert_eq!(
        login(&t, "dev@example.com", "DevPassword1!", "openid")
            .await
            .0,
        403
    );
    let (status, _) = token_form(
        &t,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "dev-token-client"),
            ("client_secret", "dev-token-secret"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(status, 403);
    t.shutdown().await;
}

#[tokio::test]
async fn users_by_email_finds_the_user_in_any_case() {
    let t = tenant().await;
    let token = management_token(&t).await;
    let (status, _, users) = management(
        &t,
        &token,
        Method::GET,
        "/api/v2/users-by-email?email=Viewer%40Example.com",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(users[0]["user_id"], "auth0|dev000000000000000000002");
    let (status, _, users) = management(
        &t,
        &token,
        Method::GET,
        "/api/v2/users-by-email?email=x%40y.z",
        None,
    )
    .await;
    assert_eq!((status, users), (200, json!([])));
    t.shutdown().await;
}
