//! Forged id_tokens (a fake tenant serves them).

use super::*;
use crate::support::app::Options;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use std::sync::{Arc, Mutex, OnceLock};

const KID: &str = "fake-key-1";
const CLIENT_ID: &str = "forged-client";
const CLIENT_TYPE: &str = "forged";

/// The fake tenant's key and an attacker's key.
fn keys() -> &'static (RsaPrivateKey, RsaPrivateKey) {
    static KEYS: OnceLock<(RsaPrivateKey, RsaPrivateKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rand::thread_rng();
        (
            RsaPrivateKey::new(&mut rng, 2048).unwrap(),
            RsaPrivateKey::new(&mut rng, 2048).unwrap(),
        )
    })
}

/// A tiny tenant serving one JWKS and, from `/oauth/token`, whatever id_token the test set.
struct FakeTenant {
    url: String,
    id_token: Arc<Mutex<String>>,
}

impl FakeTenant {
    async fn start() -> Self {
        let public = RsaPublicKey::from(&keys().0);
        let jwks = json!({"keys": [{
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": KID,
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        }]});
        let id_token = Arc::new(Mutex::new(String::new()));
        let served = id_token.clone();
        let router = axum::Router::new()
            .route(
                "/.well-known/jwks.json",
                axum::routing::get(move || async move { axum::Json(jwks) }),
            )
            .route(
                "/oauth/token",
                axum::routing::post(move || async move {
                    let id_token = served.lock().unwrap().clone();
                    axum::Json(json!({
                        "access_token": format!("fake-access-{}", uuid::Uuid::new_v4()),
                        "id_token": id_token, "expires_in": 3600, "token_type": "Bearer",
                    }))
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, id_token }
    }
}

fn valid_claims(issuer: &str, nonce: &str) -> Value {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    json!({"iss": issuer, "aud": CLIENT_ID, "sub": "auth0|forged", "iat": now, "exp": now + 3600, "nonce": nonce})
}

fn rs256(key: &RsaPrivateKey, claims: &Value) -> String {
    let pem = key.to_pkcs1_pem(LineEnding::LF).unwrap();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KID.to_owned());
    encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// Runs the code flow against the fake tenant with the id_token `forge` builds from
/// (issuer, nonce of the authorize request); returns the app's answer.
async fn login_with(forge: impl FnOnce(&str, &str) -> String) -> reqwest::Response {
    let fake = FakeTenant::start().await;
    let fake_url = fake.url.clone();
    let app = TestApp::spawn_with(Options {
        edit: Box::new(move |file| {
            file.clients.insert(
                CLIENT_TYPE.to_owned(),
                client(&fake_url, CLIENT_ID, "forged-secret", &["openid"]),
            );
        }),
        ..Options::default()
    })
    .await;
    let query = query_of(&location(&app.authorize(Some(CLIENT_TYPE), &[]).await));
    *fake.id_token.lock().unwrap() = forge(&format!("{}/", fake.url), &query["nonce"]);
    app.token(CLIENT_TYPE, &[("code", "any"), ("state", &query["state"])])
        .await
}

async fn assert_refused(response: reqwest::Response) {
    assert!(set_cookies(response.headers()).is_empty());
    let message = assert_error(response, 401).await;
    assert!(message.contains("id_token"), "{message}");
}

#[tokio::test]
async fn a_correctly_signed_id_token_is_accepted() {
    let response = login_with(|iss, nonce| rs256(&keys().0, &valid_claims(iss, nonce))).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_id_token_signed_with_another_key_is_refused() {
    assert_refused(login_with(|iss, nonce| rs256(&keys().1, &valid_claims(iss, nonce))).await)
        .await;
}

#[tokio::test]
async fn an_id_token_with_alg_none_is_refused() {
    let response = login_with(|iss, nonce| {
        let header =
            URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","typ":"JWT","kid":"{KID}"}}"#));
        let claims = URL_SAFE_NO_PAD.encode(valid_claims(iss, nonce).to_string());
        format!("{header}.{claims}.")
    })
    .await;
    assert_refused(response).await;
}

#[tokio::test]
async fn an_id_token_signed_hs256_with_the_public_key_is_refused() {
    let response = login_with(|iss, nonce| {
        let public_pem = RsaPublicKey::from(&keys().0)
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(KID.to_owned());
        encode(
            &header,
            &valid_claims(iss, nonce),
            &EncodingKey::from_secret(public_pem.as_bytes()),
        )
        .unwrap()
    })
    .await;
    assert_refused(response).await;
}

#[tokio::test]
async fn an_id_token_for_another_audience_is_refused() {
    let response = login_with(|iss, nonce| {
        let mut claims = valid_claims(iss, nonce);
        claims["aud"] = json!("someone-else");
        rs256(&keys().0, &claims)
    })
    .await;
    assert_refused(response).await;
}

#[tokio::test]
async fn an_id_token_authorized_for_another_party_is_refused() {
    let response = login_with(|iss, nonce| {
        let mut claims = valid_claims(iss, nonce);
        claims["aud"] = json!([CLIENT_ID, "someone-else"]);
        claims["azp"] = json!("someone-else");
        rs256(&keys().0, &claims)
    })
    .await;
    assert_refused(response).await;
}

#[tokio::test]
async fn an_id_token_from_another_issuer_is_refused() {
    let response =
        login_with(|_, nonce| rs256(&keys().0, &valid_claims("https://evil.example/", nonce)))
            .await;
    assert_refused(response).await;
}

#[tokio::test]
async fn an_expired_id_token_is_refused() {
    let response = login_with(|iss, nonce| {
        let mut claims = valid_claims(iss, nonce);
        claims["exp"] = json!(time::OffsetDateTime::now_utc().unix_timestamp() - 3600);
        rs256(&keys().0, &claims)
    })
    .await;
    assert_refused(response).await;
}

#[tokio::test]
async fn an_id_token_with_another_nonce_is_refused() {
    let response = login_with(|iss, _| rs256(&keys().0, &valid_claims(iss, "not-the-nonce"))).await;
    assert_refused(response).await;
}
