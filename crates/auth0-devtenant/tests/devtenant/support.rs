//! Helpers: a running tenant, an HTTP client that does not follow redirects, logins.

use auth0_devtenant::{DevTenant, TenantConfig};
use serde_json::{Value, json};

pub const PASSWORD_REALM: &str = "http://auth0.com/oauth/grant-type/password-realm";
pub const UPA: &str = "Username-Password-Authentication";

pub async fn tenant() -> DevTenant {
    DevTenant::start(TenantConfig::default())
        .await
        .expect("devtenant starts")
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// POSTs a form to `/oauth/token`, returns (status, body).
pub async fn token_form(t: &DevTenant, form: &[(&str, &str)]) -> (u16, Value) {
    let response = http()
        .post(format!("{}/oauth/token", t.url()))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A password-realm login of the token app; returns the token body.
pub async fn login(t: &DevTenant, username: &str, password: &str, scope: &str) -> (u16, Value) {
    token_form(
        t,
        &[
            ("grant_type", PASSWORD_REALM),
            ("client_id", "dev-token-client"),
            ("client_secret", "dev-token-secret"),
            ("realm", UPA),
            ("username", username),
            ("password", password),
            ("scope", scope),
        ],
    )
    .await
}

/// A Management API token of the machine-to-machine client.
pub async fn management_token(t: &DevTenant) -> String {
    let response = http()
        .post(format!("{}/oauth/token", t.url()))
        .json(&json!({
            "grant_type": "client_credentials",
            "client_id": "dev-management-client",
            "client_secret": "dev-management-secret",
            "audience": format!("{}api/v2/", t.issuer()),
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// Decodes a JWT's claims without verifying (tests verify signatures separately).
pub fn claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// A management API call; returns (status, headers, body).
pub async fn management(
    t: &DevTenant,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = http()
        .request(method, format!("{}{}", t.url(), path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}
