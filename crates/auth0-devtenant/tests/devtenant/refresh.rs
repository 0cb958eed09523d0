use std::time::Duration;

use serde_json::Value;

use crate::support::*;

async fn refresh(
    t: &auth0_devtenant::DevTenant,
    client: (&str, &str),
    token: &str,
) -> (u16, Value) {
    token_form(
        t,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", client.0),
            ("client_secret", client.1),
            ("refresh_token", token),
        ],
    )
    .await
}

const TOKEN_APP: (&str, &str) = ("dev-token-client", "dev-token-secret");

#[tokio::test]
async fn refresh_rotates_the_refresh_token_and_issues_new_tokens() {
    let t = tenant().await;
    let (_, first) = login(
        &t,
        "dev@example.com",
        "DevPassword1!",
        "openid profile offline_access",
    )
    .await;
    let r1 = first["refresh_token"].as_str().unwrap();
    let (status, second) = refresh(&t, TOKEN_APP, r1).await;
    assert_eq!(status, 200, "{second}");
    let r2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2);
    assert_ne!(first["access_token"], second["access_token"]);
    assert_eq!(
        claims(second["id_token"].as_str().unwrap())["sub"],
        "auth0|dev000000000000000000001"
    );
    let (status, third) = refresh(&t, TOKEN_APP, r2).await;
    assert_eq!(status, 200);
    assert!(third["refresh_token"].is_string());
    assert_eq!(t.stats().token_grants.get("refresh_token"), Some(&2));
    t.shutdown().await;
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_whole_family() {
    let t = tenant().await;
    let (_, first) = login(
        &t,
        "dev@example.com",
        "DevPassword1!",
        "openid offline_access",
    )
    .await;
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();
    let (_, second) = refresh(&t, TOKEN_APP, &r1).await;
    let r2 = second["refresh_token"].as_str().unwrap().to_owned();

    let (status, body) = refresh(&t, TOKEN_APP, &r1).await;
    assert_eq!(status, 403);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(
        body["error_description"],
        "Unknown or invalid refresh token."
    );
    let (status, _) = refresh(&t, TOKEN_APP, &r2).await;
    assert_eq!(status, 403, "the newest token of the family is revoked too");

    let (_, other) = login(
        &t,
        "dev@example.com",
        "DevPassword1!",
        "openid offline_access",
    )
    .await;
    assert_eq!(
        refresh(&t, TOKEN_APP, other["refresh_token"].as_str().unwrap())
            .await
            .0,
        200,
        "other families live on"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn a_refresh_token_works_only_for_its_own_client() {
    let t = tenant().await;
    let (_, first) = login(
        &t,
        "dev@example.com",
        "DevPassword1!",
        "openid offline_access",
    )
    .await;
    let token = first["refresh_token"].as_str().unwrap();
    let (status, _) = refresh(&t, ("dev-website-client", "dev-website-secret"), token).await;
    assert_eq!(status, 403);
    assert_eq!(refresh(&t, TOKEN_APP, "v1.unknown").await.0, 403);
    t.shutdown().await;
}

#[tokio::test]
async fn revoke_ends_a_refresh_token() {
    let t = tenant().await;
    let (_, first) = login(
        &t,
        "dev@example.com",
        "DevPassword1!",
        "openid offline_access",
    )
    .await;
    let token = first["refresh_token"].as_str().unwrap();
    let response = http()
        .post(format!("{}/oauth/revoke", t.url()))
        .json(&serde_json::json!({"client_id": TOKEN_APP.0, "client_secret": TOKEN_APP.1, "token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(refresh(&t, TOKEN_APP, token).await.0, 403);

    let response = http()
        .post(format!("{}/oauth/revoke", t.url()))
        .json(&serde_json::json!({"client_id": TOKEN_APP.0, "client_secret": "wrong", "token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    t.shutdown().await;
}

#[tokio::test]
async fn the_access_token_ttl_knob_applies_to_tokens_issued_afterwards() {
    let t = tenant().await;
    t.faults().set_access_token_ttl(Duration::from_secs(2));
    let (_, body) = login(
        &t,
        "dev@example.com",
        "DevPassword1!",
        "openid offline_access",
    )
    .await;
    assert_eq!(body["expires_in"], 2);
    let access = claims(body["access_token"].as_str().unwrap());
    assert_eq!(
        access["exp"].as_u64().unwrap() - access["iat"].as_u64().unwrap(),
        2
    );
    let (_, refreshed) = refresh(&t, TOKEN_APP, body["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refreshed["expires_in"], 2);
    t.faults().clear();
    let (_, body) = login(&t, "dev@example.com", "DevPassword1!", "openid").await;
    assert_eq!(body["expires_in"], 86400);
    t.shutdown().await;
}
