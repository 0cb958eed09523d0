//! The answers a relying party must handle: MFA, a denying login Action, brute-force
//! protection, client authentication methods, odd JWKS entries and injected bodies.

use auth0_devtenant::{DevTenant, TenantConfig};
use serde_json::{Value, json};

use crate::support::*;

async fn tenant_with(edit: impl FnOnce(&mut TenantConfig)) -> DevTenant {
    let mut config = TenantConfig::default();
    edit(&mut config);
    DevTenant::start(config).await.expect("devtenant starts")
}

#[tokio::test]
async fn a_user_enrolled_in_mfa_gets_mfa_required_with_an_mfa_token() {
    let t = tenant_with(|c| c.users[0].mfa_required = true).await;
    let (status, body) = login(&t, "dev@example.com", "DevPassword1!", "openid").await;
    assert_eq!(status, 403);
    assert_eq!(body["error"], "mfa_required");
    assert!(body["mfa_token"].as_str().is_some_and(|t| !t.is_empty()));
    let (status, body) = login(&t, "dev@example.com", "wrong", "openid").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("invalid_grant"))
    );
    let (status, _) = login(&t, "viewer@example.com", "ViewerPassword1!", "openid").await;
    assert_eq!(status, 200, "other users are not enrolled");
    t.shutdown().await;
}

#[tokio::test]
async fn a_denying_login_action_answers_access_denied_with_its_reason() {
    let t = tenant_with(|c| c.users[0].login_denied = Some("Outside office hours".into())).await;
    let (status, body) = login(&t, "dev@example.com", "DevPassword1!", "openid").await;
    assert_eq!(status, 403);
    assert_eq!(body["error"], "access_denied");
    assert_eq!(body["error_description"], "Outside office hours");
    t.shutdown().await;
}

#[tokio::test]
async fn brute_force_protection_holds_a_user_after_the_threshold_even_with_the_right_password() {
    let t = tenant_with(|c| c.brute_force_threshold = 2).await;
    for _ in 0..2 {
        let (status, body) = login(&t, "dev@example.com", "wrong", "openid").await;
        assert_eq!(
            (status, body["error"].as_str()),
            (403, Some("invalid_grant"))
        );
    }
    let (status, body) = login(&t, "dev@example.com", "DevPassword1!", "openid").await;
    assert_eq!(status, 429);
    assert_eq!(body["error"], "too_many_attempts");
    let (status, _) = login(&t, "viewer@example.com", "ViewerPassword1!", "openid").await;
    assert_eq!(status, 200, "per user");
    t.shutdown().await;
}

#[tokio::test]
async fn a_client_set_to_client_secret_basic_refuses_the_secret_in_the_body_and_counts_methods() {
    let t = tenant_with(|c| c.clients[1].token_endpoint_auth_method = "client_secret_basic".into())
        .await;
    let (status, body) = login(&t, "dev@example.com", "DevPassword1!", "openid").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    let response = http()
        .post(format!("{}/oauth/token", t.url()))
        .basic_auth("dev-token-client", Some("dev-token-secret"))
        .form(&[
            ("grant_type", PASSWORD_REALM),
            ("realm", UPA),
            ("username", "dev@example.com"),
            ("password", "DevPassword1!"),
            ("scope", "openid"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let methods = &t.stats().client_auth["dev-token-client"];
    assert_eq!(methods.get("client_secret_post"), Some(&1));
    assert_eq!(methods.get("client_secret_basic"), Some(&1));
    t.shutdown().await;
}

#[tokio::test]
async fn extra_jwks_entries_are_published_after_the_signing_key() {
    let extra = json!({"kty": "OKP", "crv": "X25519", "kid": "x", "x": "AA"});
    let expected = extra.clone();
    let t = tenant_with(move |c| c.extra_jwks = vec![extra]).await;
    let jwks: Value = http()
        .get(format!("{}/.well-known/jwks.json", t.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["kty"], "RSA");
    assert_eq!(keys[1], expected);
    t.shutdown().await;
}

#[tokio::test]
async fn injected_bodies_replace_the_error_shape_over_the_control_api() {
    let t = tenant().await;
    let control = format!("{}/__devtenant/faults", t.url());
    let set = |body: Value| http().post(&control).json(&body).send();
    let response = set(json!({"pathPrefix": "/oauth/token", "status": 400,
        "body": {"code": "invalid_password", "description": "Too weak"}}))
    .await
    .unwrap();
    assert_eq!(response.status(), 204);
    let (status, body) = login(&t, "dev@example.com", "DevPassword1!", "openid").await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"code": "invalid_password", "description": "Too weak"})
    );

    set(json!({"pathPrefix": "/oauth/token", "status": 403, "body": "<html>denied</html>"}))
        .await
        .unwrap();
    let response = http()
        .post(format!("{}/oauth/token", t.url()))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(response.text().await.unwrap(), "<html>denied</html>");

    let refused = set(json!({"pathPrefix": "/oauth/token", "body": {}}))
        .await
        .unwrap();
    assert_eq!(refused.status(), 400, "a body needs a status");
    t.shutdown().await;
}

#[tokio::test]
async fn an_endless_body_streams_until_its_reader_goes_away() {
    let t = tenant().await;
    let response = http()
        .post(format!("{}/__devtenant/faults", t.url()))
        .json(&json!({"pathPrefix": "/oauth/token", "endlessBody": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let mut response = http()
        .post(format!("{}/oauth/token", t.url()))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut read = 0;
    while read < 4 * 1024 * 1024 {
        read += response.chunk().await.unwrap().expect("never ends").len();
    }
    drop(response);
    loop {
        let abandoned = t.stats().endless_bytes_abandoned;
        if abandoned > 0 {
            assert!(abandoned >= 4 * 1024 * 1024, "{abandoned}");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    t.shutdown().await;
}

#[tokio::test]
async fn the_access_token_override_replaces_issued_access_tokens_until_cleared() {
    let t = tenant().await;
    let control = format!("{}/__devtenant/access-token-override", t.url());
    let response = http()
        .post(&control)
        .json(&json!({"value": "x; Domain=evil"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let (status, body) = login(&t, "dev@example.com", "DevPassword1!", "openid").await;
    assert_eq!(status, 200);
    assert_eq!(body["access_token"], "x; Domain=evil");
    assert!(
        body["id_token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3)
    );
    http()
        .post(&control)
        .json(&json!({"value": null}))
        .send()
        .await
        .unwrap();
    let (_, body) = login(&t, "dev@example.com", "DevPassword1!", "openid").await;
    assert_eq!(body["access_token"].as_str().unwrap().split('.').count(), 3);
    t.shutdown().await;
}
