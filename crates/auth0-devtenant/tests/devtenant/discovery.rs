use jsonwebtoken::{DecodingKey, Validation, jwk::JwkSet};
use serde_json::Value;

use crate::support::*;

#[tokio::test]
async fn discovery_document_points_at_the_tenant_endpoints() {
    let t = tenant().await;
    assert_eq!(t.issuer(), format!("{}/", t.url()));
    assert_eq!(t.management_audience(), format!("{}/api/v2/", t.url()));
    let doc: Value = http()
        .get(format!("{}/.well-known/openid-configuration", t.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], t.issuer());
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{}/authorize", t.url())
    );
    assert_eq!(doc["token_endpoint"], format!("{}/oauth/token", t.url()));
    assert_eq!(doc["userinfo_endpoint"], format!("{}/userinfo", t.url()));
    assert_eq!(
        doc["jwks_uri"],
        format!("{}/.well-known/jwks.json", t.url())
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    assert!(
        doc["code_challenge_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&"S256".into())
    );
    t.shutdown().await;
}

#[tokio::test]
async fn jwks_verifies_the_signature_of_issued_tokens() {
    let t = tenant().await;
    let jwks: JwkSet = http()
        .get(format!("{}/.well-known/jwks.json", t.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks.keys.len(), 1);
    let (status, body) = login(
        &t,
        "dev@example.com",
        "DevPassword1!",
        "openid profile email",
    )
    .await;
    assert_eq!(status, 200);
    let id_token = body["id_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("kid in JWKS");
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[t.issuer()]);
    validation.set_audience(&["dev-token-client"]);
    let data = jsonwebtoken::decode::<Value>(id_token, &key, &validation).expect("valid signature");
    assert_eq!(data.claims["sub"], "auth0|dev000000000000000000001");

    let mut tampered = id_token.to_owned();
    tampered.pop();
    tampered.push(if id_token.ends_with('A') { 'B' } else { 'A' });
    assert!(jsonwebtoken::decode::<Value>(&tampered, &key, &validation).is_err());
    t.shutdown().await;
}

#[tokio::test]
async fn unknown_routes_answer_auth0_shaped_404s() {
    let t = tenant().await;
    let response = http()
        .get(format!("{}/nope", t.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].is_string() && body["error_description"].is_string());
    let response = http()
        .get(format!("{}/api/v2/nope", t.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["statusCode"], 404);
    t.shutdown().await;
}

#[tokio::test]
async fn framework_rejections_keep_auth0_error_shapes() {
    let t = tenant().await;
    let response = http()
        .get(format!("{}/oauth/token", t.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].is_string() && body["error_description"].is_string());

    let token = management_token(&t).await;
    let response = http()
        .post(format!("{}/api/v2/jobs/users-imports", t.url()))
        .bearer_auth(&token)
        .body("not multipart")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["statusCode"], 400);
    assert!(body["message"].is_string());
    t.shutdown().await;
}
