use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn password_realm_login_issues_tokens_with_profile_and_custom_claims() {
    let t = tenant().await;
    let (status, body) = login(
        &t,
        "dev@example.com",
        "DevPassword1!",
        "openid profile email",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86400);
    assert_eq!(body["scope"], "openid profile email");
    assert!(
        body.get("refresh_token").is_none(),
        "no offline_access, no refresh token"
    );
    let id = claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["iss"], t.issuer());
    assert_eq!(id["aud"], "dev-token-client");
    assert_eq!(id["sub"], "auth0|dev000000000000000000001");
    assert_eq!(id["email"], "dev@example.com");
    assert_eq!(id["name"], "Dev User");
    assert_eq!(id["nickname"], "dev");
    assert_eq!(
        id["https://auth0-client.dev/app_metadata"],
        json!({"groups": ["admin", "dev"]})
    );
    assert_eq!(
        id["https://auth0-client.dev/user_metadata"],
        json!({"theme": "dark"})
    );
    assert!(id["exp"].as_u64().unwrap() > id["iat"].as_u64().unwrap());
    let access = claims(body["access_token"].as_str().unwrap());
    assert_eq!(access["sub"], "auth0|dev000000000000000000001");
    assert_eq!(
        access["https://auth0-client.dev/app_metadata"]["groups"][0],
        "admin"
    );
    assert_eq!(
        access["exp"].as_u64().unwrap() - access["iat"].as_u64().unwrap(),
        86400
    );
    assert_eq!(t.stats().token_grants.get(PASSWORD_REALM), Some(&1));
    t.shutdown().await;
}

#[tokio::test]
async fn every_access_token_is_unique() {
    let t = tenant().await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..5 {
        let (status, body) = login(&t, "viewer@example.com", "ViewerPassword1!", "openid").await;
        assert_eq!(status, 200);
        assert!(seen.insert(body["access_token"].as_str().unwrap().to_owned()));
    }
    t.shutdown().await;
}

#[tokio::test]
async fn offline_access_adds_a_refresh_token() {
    let t = tenant().await;
    let (status, body) = login(
        &t,
        "dev@example.com",
        "DevPassword1!",
        "openid offline_access",
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body["refresh_token"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
    t.shutdown().await;
}

#[tokio::test]
async fn wrong_password_or_unknown_user_is_403_wrong_email_or_password() {
    let t = tenant().await;
    for (user, password) in [
        ("dev@example.com", "nope"),
        ("ghost@example.com", "DevPassword1!"),
    ] {
        let (status, body) = login(&t, user, password, "openid").await;
        assert_eq!(status, 403);
        assert_eq!(
            body,
            json!({"error": "invalid_grant", "error_description": "Wrong email or password."})
        );
    }
    assert_eq!(
        t.stats().token_grants.get(PASSWORD_REALM),
        None,
        "failures are not counted"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn login_accepts_the_username_and_any_email_case() {
    let t = tenant().await;
    assert_eq!(login(&t, "dev", "DevPassword1!", "openid").await.0, 200);
    assert_eq!(
        login(&t, "DEV@Example.com", "DevPassword1!", "openid")
            .await
            .0,
        200
    );
    t.shutdown().await;
}

#[tokio::test]
async fn unknown_realm_is_400_connection_not_found() {
    let t = tenant().await;
    let (status, body) = token_form(
        &t,
        &[
            ("grant_type", PASSWORD_REALM),
            ("client_id", "dev-token-client"),
            ("client_secret", "dev-token-secret"),
            ("realm", "No-Such-Connection"),
            ("username", "dev@example.com"),
            ("password", "DevPassword1!"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(body["error_description"], "the connection was not found");
    t.shutdown().await;
}

#[tokio::test]
async fn a_user_of_another_connection_cannot_log_in_with_this_realm() {
    let t = tenant().await;
    let (status, _) = token_form(
        &t,
        &[
            ("grant_type", PASSWORD_REALM),
            ("client_id", "dev-token-client"),
            ("client_secret", "dev-token-secret"),
            ("realm", "Other-Database"),
            ("username", "dev@example.com"),
            ("password", "DevPassword1!"),
        ],
    )
    .await;
    assert_eq!(status, 403);
    t.shutdown().await;
}

#[tokio::test]
async fn plain_password_grant_uses_the_default_directory_and_json_bodies_work() {
    let t = tenant().await;
    let response = http()
        .post(format!("{}/oauth/token", t.url()))
        .json(&json!({
            "grant_type": "password",
            "client_id": "dev-website-client",
            "client_secret": "dev-website-secret",
            "username": "viewer@example.com",
            "password": "ViewerPassword1!",
            "scope": "openid",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        claims(body["id_token"].as_str().unwrap())["aud"],
        "dev-website-client"
    );
    assert_eq!(t.stats().token_grants.get("password"), Some(&1));
    t.shutdown().await;
}

#[tokio::test]
async fn bad_client_credentials_are_401_access_denied() {
    let t = tenant().await;
    for (id, secret) in [("dev-token-client", "wrong"), ("no-such-client", "x")] {
        let (status, body) = token_form(
            &t,
            &[
                ("grant_type", PASSWORD_REALM),
                ("client_id", id),
                ("client_secret", secret),
                ("realm", UPA),
                ("username", "dev@example.com"),
                ("password", "DevPassword1!"),
            ],
        )
        .await;
        assert_eq!(status, 401);
        assert_eq!(
            body,
            json!({"error": "access_denied", "error_description": "Unauthorized"})
        );
    }
    t.shutdown().await;
}

#[tokio::test]
async fn http_basic_client_authentication_is_accepted() {
    let t = tenant().await;
    let response = http()
        .post(format!("{}/oauth/token", t.url()))
        .basic_auth("dev-token-client", Some("dev-token-secret"))
        .form(&[
            ("grant_type", PASSWORD_REALM),
            ("realm", UPA),
            ("username", "dev@example.com"),
            ("password", "DevPassword1!"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    t.shutdown().await;
}

#[tokio::test]
async fn client_credentials_needs_a_known_audience() {
    let t = tenant().await;
    let token = management_token(&t).await;
    let access = claims(&token);
    assert_eq!(access["aud"], format!("{}api/v2/", t.issuer()));
    assert_eq!(access["sub"], "dev-management-client@clients");
    assert_eq!(access["gty"], "client-credentials");
    assert!(access["scope"].as_str().unwrap().contains("read:users"));
    let base = [
        ("grant_type", "client_credentials"),
        ("client_id", "dev-management-client"),
        ("client_secret", "dev-management-secret"),
    ];
    let (status, body) = token_form(&t, &base).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("access_denied"))
    );
    let mut unknown = base.to_vec();
    unknown.push(("audience", "https://elsewhere.example/"));
    let (status, body) = token_form(&t, &unknown).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("access_denied"))
    );
    t.shutdown().await;
}

#[tokio::test]
async fn unsupported_grant_types_and_missing_parameters_are_rejected() {
    let t = tenant().await;
    let (status, body) = token_form(
        &t,
        &[
            ("grant_type", "urn:nope"),
            ("client_id", "dev-token-client"),
            ("client_secret", "dev-token-secret"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (status, body) = token_form(
        &t,
        &[
            ("client_id", "dev-token-client"),
            ("client_secret", "dev-token-secret"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body) = token_form(
        &t,
        &[
            ("grant_type", PASSWORD_REALM),
            ("client_id", "dev-token-client"),
            ("client_secret", "dev-token-secret"),
            ("username", "dev@example.com"),
            ("password", "DevPassword1!"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "realm is required"
    );
    t.shutdown().await;
}

#[tokio::test]
async fn auth0_forwarded_for_is_recorded_per_client() {
    let t = tenant().await;
    let response = http()
        .post(format!("{}/oauth/token", t.url()))
        .header("auth0-forwarded-for", "203.0.113.7")
        .form(&[
            ("grant_type", PASSWORD_REALM),
            ("client_id", "dev-token-client"),
            ("client_secret", "dev-token-secret"),
            ("realm", UPA),
            ("username", "dev@example.com"),
            ("password", "DevPassword1!"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        t.stats()
            .forwarded_for
            .get("dev-token-client")
            .map(String::as_str),
        Some("203.0.113.7")
    );
    t.shutdown().await;
}

#[tokio::test]
async fn a_blocked_user_cannot_log_in() {
    let t = tenant().await;
    let token = management_token(&t).await;
    let (status, _, _) = management(
        &t,
        &token,
        reqwest::Method::PATCH,
        "/api/v2/users/auth0%7Cdev000000000000000000002",
        Some(json!({"blocked": true})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = login(&t, "viewer@example.com", "ViewerPassword1!", "openid").await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"error": "unauthorized", "error_description": "user is blocked"})
    );
    t.shutdown().await;
}
