//! Auth0 sessions (single sign-on through the `auth0` cookie) and back-channel logout:
//! logout tokens posted to the clients of an ended session, with the retry rule.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth0_devtenant::{BACKCHANNEL_LOGOUT_EVENT, DevTenant};
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;
use url::Url;

use crate::support::*;

const CALLBACK: &str = "http://127.0.0.1:9/callback";
const WAIT: Duration = Duration::from_secs(10);

/// A back-channel logout receiver: records each posted `logout_token` and answers the
/// next status of its script (then 200).
#[derive(Clone, Default)]
struct Receiver {
    tokens: Arc<Mutex<Vec<String>>>,
    script: Arc<Mutex<Vec<u16>>>,
}

impl Receiver {
    async fn start(script: Vec<u16>) -> (Receiver, String) {
        let receiver = Receiver {
            tokens: Arc::default(),
            script: Arc::new(Mutex::new(script)),
        };
        let app = axum::Router::new()
            .route("/backchannel", axum::routing::post(receive))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/backchannel", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }

    fn tokens(&self) -> Vec<String> {
        self.tokens.lock().unwrap().clone()
    }
}

async fn receive(
    State(receiver): State<Receiver>,
    axum::Form(form): axum::Form<std::collections::HashMap<String, String>>,
) -> StatusCode {
    receiver
        .tokens
        .lock()
        .unwrap()
        .push(form.get("logout_token").cloned().unwrap_or_default());
    let mut script = receiver.script.lock().unwrap();
    let status = if script.is_empty() {
        200
    } else {
        script.remove(0)
    };
    StatusCode::from_u16(status).unwrap()
}

fn authorize_url(t: &DevTenant, client_id: &str) -> String {
    let mut url = Url::parse(&format!("{}/authorize", t.url())).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("scope", "openid profile email")
        .append_pair("state", "s");
    url.to_string()
}

fn code_of(location: &str) -> String {
    Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code in the redirect")
}

/// The form login of `client_id` as the dev user: `(auth0 cookie, code)`.
async fn form_login(t: &DevTenant, client_id: &str) -> (String, String) {
    let client = http();
    let html = client
        .get(authorize_url(t, client_id))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = "name=\"state\" value=\"";
    let start = html.find(marker).expect("a login form") + marker.len();
    let transaction = html[start..].split('"').next().unwrap().to_owned();
    let response = client
        .post(format!("{}/u/login", t.url()))
        .form(&[
            ("state", transaction.as_str()),
            ("username", "dev@example.com"),
            ("password", "DevPassword1!"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("auth0="), "{cookie}");
    let code = code_of(response.headers()["location"].to_str().unwrap());
    (cookie, code)
}

/// `/authorize` of `client_id` with the session cookie: the form is skipped.
async fn sso_login(t: &DevTenant, client_id: &str, cookie: &str) -> reqwest::Response {
    http()
        .get(authorize_url(t, client_id))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

/// Exchanges `code` for the id_token's claims.
async fn id_token_claims(t: &DevTenant, client_id: &str, secret: &str, code: &str) -> Value {
    let (status, body) = token_form(
        t,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("code", code),
            ("redirect_uri", CALLBACK),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    claims(body["id_token"].as_str().unwrap())
}

/// Logs the dev user in to both apps through one Auth0 session; returns (cookie, sid).
async fn login_to_both_apps(t: &DevTenant) -> (String, String) {
    let (cookie, code) = form_login(t, "dev-website-client").await;
    let website = id_token_claims(t, "dev-website-client", "dev-website-secret", &code).await;
    let response = sso_login(t, "dev-token-client", &cookie).await;
    assert_eq!(response.status(), 302, "the form is skipped with a session");
    let code = code_of(response.headers()["location"].to_str().unwrap());
    let token_app = id_token_claims(t, "dev-token-client", "dev-token-secret", &code).await;
    let sid = website["sid"].as_str().expect("a sid").to_owned();
    assert_eq!(token_app["sid"], website["sid"]);
    (cookie, sid)
}

/// Verifies a logout token's signature against the tenant's JWKS; returns its claims.
async fn verified(t: &DevTenant, token: &str, audience: &str) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet = http()
        .get(format!("{}/.well-known/jwks.json", t.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[t.issuer()]);
    validation.set_audience(&[audience]);
    jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    )
    .unwrap()
    .claims
}

#[tokio::test]
async fn a_second_client_logs_in_through_the_auth0_session_and_shares_its_sid() {
    let t = tenant().await;
    let (cookie, sid) = login_to_both_apps(&t).await;
    assert!(!sid.is_empty());
    // A password grant belongs to no Auth0 session.
    let (_, body) = login(&t, "dev@example.com", "DevPassword1!", "openid").await;
    assert!(claims(body["id_token"].as_str().unwrap())["sid"].is_null());
    // prompt=login shows the form even with a session.
    let forced = http()
        .get(format!(
            "{}&prompt=login",
            authorize_url(&t, "dev-token-client")
        ))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(forced.status(), 200);
}

#[tokio::test]
async fn v2_logout_posts_a_signed_logout_token_to_each_client_of_the_session() {
    let t = tenant().await;
    let (receiver, url) = Receiver::start(Vec::new()).await;
    assert!(t.set_backchannel_logout_urls("dev-website-client", vec![url.clone()]));
    assert!(t.set_backchannel_logout_urls("dev-token-client", vec![url.clone()]));
    let (cookie, sid) = login_to_both_apps(&t).await;

    let logout = http()
        .get(format!("{}/v2/logout", t.url()))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 200);
    assert!(
        logout.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("auth0=;")
    );

    let deliveries = t.wait_for_backchannel_deliveries(2, WAIT).await;
    assert_eq!(deliveries.len(), 2, "{deliveries:?}");
    assert!(
        deliveries
            .iter()
            .all(|d| d.status == Some(200) && d.attempts == 1)
    );
    let mut audiences = Vec::new();
    for token in receiver.tokens() {
        let aud = claims(&token)["aud"].as_str().unwrap().to_owned();
        let verified = verified(&t, &token, &aud).await;
        assert_eq!(verified["sid"], sid.as_str());
        assert_eq!(verified["sub"], "auth0|dev000000000000000000001");
        assert!(verified["events"][BACKCHANNEL_LOGOUT_EVENT].is_object());
        assert!(verified["jti"].is_string() && verified["iat"].is_u64());
        assert!(verified.get("nonce").is_none());
        audiences.push(aud);
    }
    audiences.sort();
    assert_eq!(audiences, ["dev-token-client", "dev-website-client"]);
    // The session is over: the form is shown again.
    assert_eq!(
        sso_login(&t, "dev-token-client", &cookie).await.status(),
        200
    );
}

#[tokio::test]
async fn a_client_without_a_backchannel_url_gets_no_logout_token() {
    let t = tenant().await;
    let (receiver, url) = Receiver::start(Vec::new()).await;
    assert!(t.set_backchannel_logout_urls("dev-token-client", vec![url]));
    let (cookie, _) = login_to_both_apps(&t).await;
    http()
        .get(format!("{}/v2/logout", t.url()))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let deliveries = t.wait_for_backchannel_deliveries(1, WAIT).await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].client_id, "dev-token-client");
    assert_eq!(receiver.tokens().len(), 1);
}

#[tokio::test]
async fn deleting_blocking_or_changing_the_password_of_a_user_ends_their_sessions() {
    for change in ["delete", "block", "password"] {
        let t = tenant().await;
        let (receiver, url) = Receiver::start(Vec::new()).await;
        assert!(t.set_backchannel_logout_urls("dev-website-client", vec![url]));
        let (cookie, code) = form_login(&t, "dev-website-client").await;
        id_token_claims(&t, "dev-website-client", "dev-website-secret", &code).await;
        let token = management_token(&t).await;
        let path = "/api/v2/users/auth0%7Cdev000000000000000000001";
        let (status, _, _) = match change {
            "delete" => management(&t, &token, reqwest::Method::DELETE, path, None).await,
            "block" => {
                let body = serde_json::json!({"blocked": true});
                management(&t, &token, reqwest::Method::PATCH, path, Some(body)).await
            }
            _ => {
                let body = serde_json::json!({"password": "AnotherPassword1!"});
                management(&t, &token, reqwest::Method::PATCH, path, Some(body)).await
            }
        };
        assert!(status == 200 || status == 204, "{change}: {status}");
        let deliveries = t.wait_for_backchannel_deliveries(1, WAIT).await;
        assert_eq!(deliveries.len(), 1, "{change}");
        assert_eq!(receiver.tokens().len(), 1, "{change}");
        assert_eq!(
            claims(&receiver.tokens()[0])["sub"],
            "auth0|dev000000000000000000001"
        );
        assert_eq!(
            sso_login(&t, "dev-website-client", &cookie).await.status(),
            200,
            "{change}: the session is over"
        );
    }
}

#[tokio::test]
async fn an_updated_name_ends_no_session() {
    let t = tenant().await;
    let (_, url) = Receiver::start(Vec::new()).await;
    assert!(t.set_backchannel_logout_urls("dev-website-client", vec![url]));
    let (cookie, code) = form_login(&t, "dev-website-client").await;
    id_token_claims(&t, "dev-website-client", "dev-website-secret", &code).await;
    let token = management_token(&t).await;
    let body = serde_json::json!({"name": "Renamed"});
    let path = "/api/v2/users/auth0%7Cdev000000000000000000001";
    let (status, _, _) = management(&t, &token, reqwest::Method::PATCH, path, Some(body)).await;
    assert_eq!(status, 200);
    assert_eq!(
        sso_login(&t, "dev-website-client", &cookie).await.status(),
        302
    );
    assert!(t.backchannel_deliveries().is_empty());
}

#[tokio::test]
async fn a_failing_receiver_is_tried_three_times_and_a_client_error_is_final() {
    let t = tenant().await;
    let (flaky, flaky_url) = Receiver::start(vec![503, 503, 503, 503]).await;
    let (refusing, refusing_url) = Receiver::start(vec![400]).await;
    assert!(t.set_backchannel_logout_urls("dev-website-client", vec![flaky_url]));
    assert!(t.set_backchannel_logout_urls("dev-token-client", vec![refusing_url]));
    let (cookie, _) = login_to_both_apps(&t).await;
    http()
        .get(format!("{}/v2/logout", t.url()))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let deliveries = t.wait_for_backchannel_deliveries(2, WAIT).await;
    let of = |client: &str| {
        deliveries
            .iter()
            .find(|d| d.client_id == client)
            .cloned()
            .unwrap()
    };
    assert_eq!(of("dev-website-client").attempts, 3);
    assert_eq!(of("dev-website-client").status, Some(503));
    assert_eq!(flaky.tokens().len(), 3);
    assert_eq!(of("dev-token-client").attempts, 1);
    assert_eq!(of("dev-token-client").status, Some(400));
    assert_eq!(refusing.tokens().len(), 1);
    // Every retry carries the same token.
    let tokens = flaky.tokens();
    assert!(tokens.iter().all(|token| *token == tokens[0]));
}

#[tokio::test]
async fn a_retried_delivery_succeeds_once_the_receiver_recovers() {
    let t = tenant().await;
    let (receiver, url) = Receiver::start(vec![502]).await;
    let control = http()
        .post(format!("{}/__devtenant/backchannel-logout-urls", t.url()))
        .json(&serde_json::json!({"clientId": "dev-website-client", "urls": [url]}))
        .send()
        .await
        .unwrap();
    assert_eq!(control.status(), 204);
    let (cookie, code) = form_login(&t, "dev-website-client").await;
    id_token_claims(&t, "dev-website-client", "dev-website-secret", &code).await;
    http()
        .get(format!("{}/v2/logout", t.url()))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let deliveries = t.wait_for_backchannel_deliveries(1, WAIT).await;
    assert_eq!(deliveries[0].attempts, 2);
    assert_eq!(deliveries[0].status, Some(200));
    assert_eq!(receiver.tokens().len(), 2);
    let listed: Value = http()
        .get(format!("{}/__devtenant/backchannel-deliveries", t.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["clientId"], "dev-website-client");
    assert_eq!(listed[0]["attempts"], 2);
}
