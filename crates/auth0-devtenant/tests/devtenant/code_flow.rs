use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreResponseType};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use serde_json::Value;
use url::Url;

use crate::support::*;

const CALLBACK: &str = "http://127.0.0.1:9/callback";

/// The login transaction carried by the form's hidden `state` field.
fn form_transaction(html: &str) -> String {
    let marker = "name=\"state\" value=\"";
    let start = html.find(marker).expect("login form with a state field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

fn query_param(location: &str, name: &str) -> Option<String> {
    Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Opens `/authorize` and submits the login form; returns the redirect `Location`.
async fn authorize_and_login(authorize_url: &str, username: &str, password: &str) -> String {
    let client = http();
    let page = client.get(authorize_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let base = Url::parse(authorize_url).unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("<form"), "{html}");
    let response = client
        .post(base.join("/u/login").unwrap())
        .form(&[
            ("state", form_transaction(&html).as_str()),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    response.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_standard_oidc_client_completes_the_code_flow_with_pkce() {
    let t = tenant().await;
    let oidc_http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(t.issuer()).unwrap(), &oidc_http)
            .await
            .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new("dev-website-client".into()),
        Some(ClientSecret::new("dev-website-secret".into())),
    )
    .set_redirect_uri(RedirectUrl::new(CALLBACK.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, csrf, nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();

    let location =
        authorize_and_login(authorize_url.as_str(), "dev@example.com", "DevPassword1!").await;
    assert!(location.starts_with(CALLBACK), "{location}");
    assert_eq!(
        query_param(&location, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    let code = query_param(&location, "code").expect("code");

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&oidc_http)
        .await
        .expect("code exchange");
    assert!(tokens.refresh_token().is_some());
    let id_token = tokens.id_token().expect("id_token");
    let verified = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("id_token verifies");
    assert_eq!(
        verified.subject().as_str(),
        "auth0|dev000000000000000000001"
    );
    assert_eq!(
        verified.email().map(|e| e.as_str()),
        Some("dev@example.com")
    );
    assert_eq!(verified.issuer().as_str(), t.issuer());
    assert_eq!(t.stats().token_grants.get("authorization_code"), Some(&1));
    t.shutdown().await;
}

fn authorize_url(t: &auth0_devtenant::DevTenant, extra: &[(&str, &str)]) -> String {
    let mut url = Url::parse(&format!("{}/authorize", t.url())).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "dev-website-client")
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("scope", "openid profile")
        .append_pair("state", "s-1")
        .extend_pairs(extra);
    url.to_string()
}

async fn exchange(
    t: &auth0_devtenant::DevTenant,
    code: &str,
    redirect_uri: &str,
    verifier: Option<&str>,
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", "dev-website-client"),
        ("client_secret", "dev-website-secret"),
        ("code", code),
        ("redirect_uri", redirect_uri),
    ];
    if let Some(verifier) = verifier {
        form.push(("code_verifier", verifier));
    }
    token_form(t, &form).await
}

#[tokio::test]
async fn codes_are_single_use() {
    let t = tenant().await;
    let location =
        authorize_and_login(&authorize_url(&t, &[]), "dev@example.com", "DevPassword1!").await;
    let code = query_param(&location, "code").unwrap();
    assert_eq!(exchange(&t, &code, CALLBACK, None).await.0, 200);
    let (status, body) = exchange(&t, &code, CALLBACK, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("invalid_grant"))
    );
    t.shutdown().await;
}

#[tokio::test]
async fn the_code_exchange_checks_redirect_uri_and_pkce_verifier() {
    let t = tenant().await;
    let verifier = "a-verifier-that-is-long-enough-for-pkce-0123456789";
    let challenge = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
    };
    let pkce = [
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];

    let location = authorize_and_login(
        &authorize_url(&t, &pkce),
        "dev@example.com",
        "DevPassword1!",
    )
    .await;
    let code = query_param(&location, "code").unwrap();
    let (status, body) = exchange(&t, &code, "http://127.0.0.1:9/other", Some(verifier)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("invalid_grant"))
    );

    let location = authorize_and_login(
        &authorize_url(&t, &pkce),
        "dev@example.com",
        "DevPassword1!",
    )
    .await;
    let code = query_param(&location, "code").unwrap();
    let (status, body) = exchange(&t, &code, CALLBACK, Some("wrong-verifier")).await;
    assert_eq!(
        (status, body["error_description"].as_str()),
        (403, Some("Failed to verify code verifier"))
    );

    let location = authorize_and_login(
        &authorize_url(&t, &pkce),
        "dev@example.com",
        "DevPassword1!",
    )
    .await;
    let code = query_param(&location, "code").unwrap();
    let (status, body) = exchange(&t, &code, CALLBACK, Some(verifier)).await;
    assert_eq!(status, 200, "{body}");
    t.shutdown().await;
}

#[tokio::test]
async fn authorize_refuses_an_unregistered_callback_without_redirecting() {
    let t = tenant().await;
    let mut url = Url::parse(&format!("{}/authorize", t.url())).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "dev-website-client")
        .append_pair("redirect_uri", "https://evil.example/callback");
    let response = http().get(url).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Callback URL mismatch")
    );

    let response = http()
        .get(format!(
            "{}/authorize?response_type=code&client_id=nobody&redirect_uri={CALLBACK}",
            t.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    t.shutdown().await;
}

#[tokio::test]
async fn authorize_errors_after_the_callback_check_redirect_back_with_state() {
    let t = tenant().await;
    let mut url = Url::parse(&format!("{}/authorize", t.url())).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "token")
        .append_pair("client_id", "dev-website-client")
        .append_pair("redirect_uri", CALLBACK)
        .append_pair("state", "keep-me");
    let response = http().get(url).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("unsupported_response_type")
    );
    assert_eq!(query_param(&location, "state").as_deref(), Some("keep-me"));

    let response = http()
        .get(authorize_url(&t, &[("connection", "Nope")]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("invalid_request")
    );
    t.shutdown().await;
}

#[tokio::test]
async fn the_login_form_shows_an_error_on_wrong_credentials_and_can_be_retried() {
    let t = tenant().await;
    let client = http();
    let html = client
        .get(authorize_url(&t, &[]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let transaction = form_transaction(&html);
    let login_url = format!("{}/u/login", t.url());
    let response = client
        .post(&login_url)
        .form(&[
            ("state", transaction.as_str()),
            ("username", "dev@example.com"),
            ("password", "bad"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Wrong email or password.")
    );
    let response = client
        .post(&login_url)
        .form(&[
            ("state", transaction.as_str()),
            ("username", "dev@example.com"),
            ("password", "DevPassword1!"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(query_param(&location, "state").as_deref(), Some("s-1"));
    assert!(query_param(&location, "code").is_some());
    t.shutdown().await;
}

#[tokio::test]
async fn the_code_flow_nonce_reaches_the_id_token() {
    let t = tenant().await;
    let location = authorize_and_login(
        &authorize_url(&t, &[("nonce", "n-0S6_WzA2Mj")]),
        "viewer@example.com",
        "ViewerPassword1!",
    )
    .await;
    let code = query_param(&location, "code").unwrap();
    let (status, body) = exchange(&t, &code, CALLBACK, None).await;
    assert_eq!(status, 200);
    let id = claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(id["sub"], "auth0|dev000000000000000000002");
    t.shutdown().await;
}
