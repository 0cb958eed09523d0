//! Issue 10 (token and key verification, bounded tenant answers, Auth0 errors by their
//! code, client_secret_basic), end to end against the devtenant over real HTTP.

use crate::support::app::*;
use auth0_client::config::file::{ClientAuth, SUPPORTED_ALGORITHMS};
use auth0_client::session::SessionHandle;
use auth0_devtenant::InjectedBody;
use serde_json::{Value, json};
use std::time::Duration;

async fn spawn_tenant(
    edit: impl FnOnce(&mut auth0_devtenant::TenantConfig) + Send + 'static,
) -> TestApp {
    TestApp::spawn_with(Options {
        tenant: Box::new(edit),
        ..Options::default()
    })
    .await
}

async fn login_as(
    app: &TestApp,
    client: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    app.token(
        client,
        &[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ],
    )
    .await
}

// ---- 1. JWKS read key by key ----

#[tokio::test]
async fn logins_verify_when_the_jwks_also_holds_keys_the_service_cannot_use() {
    let app = spawn_tenant(|tenant| {
        tenant.extra_jwks = vec![
            json!({"kty": "EC", "crv": "P-521", "alg": "ES512", "use": "sig", "kid": "p521",
                   "x": "AHKZLLOsCOzz5cY97ewNUajB957y-C-U88c3v13nmGZx6sYl_oJXu9A5RkTKqjqvjyekWF-7ytDyRXYgCF5cj0Kt",
                   "y": "AdymlHvOiLxXkEhayXQnNCvDX4h9htZaCJN34kfmC6pV5OhQHiraVySsUdaQkAgDPrwQrJmbnX9cwlGfP-HqHZR1"}),
            json!({"kty": "EC", "crv": "P-256", "use": "enc", "alg": "ECDH-ES", "kid": "enc",
                   "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4", "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}),
            json!({"kty": "OKP", "crv": "X25519", "kid": "x25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}),
            json!("garbage"),
        ];
    })
    .await;
    let response = app.password_login(TOKEN).await;
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
}

// ---- 5. every algorithm of the verifier ----

#[tokio::test]
async fn every_algorithm_of_the_verifier_passes_the_config_check_and_the_readme_lists_them() {
    let mut file = config_file("https://tenant.example");
    let all: Vec<String> = SUPPORTED_ALGORITHMS
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    for name in ["EdDSA", "HS384", "HS512"] {
        assert!(all.iter().any(|a| a == name), "{name}");
    }
    file.clients.get_mut(TOKEN).unwrap().supported_signing_algs = all.clone();
    let errors = auth0_client::config::validate::cross_checks(&file);
    assert!(errors.is_empty(), "{errors:?}");
    file.clients.get_mut(TOKEN).unwrap().supported_signing_algs = vec!["ES512".into()];
    assert_eq!(auth0_client::config::validate::cross_checks(&file).len(), 1);

    let app = TestApp::spawn_with(Options {
        edit: Box::new(move |file| {
            file.clients.get_mut(TOKEN).unwrap().supported_signing_algs = all;
        }),
        ..Options::default()
    })
    .await;
    assert_eq!(app.password_login(TOKEN).await.status(), 200);

    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let start = readme
        .find("`supportedSigningAlgs` entries")
        .expect("the README documents supportedSigningAlgs");
    let item = &readme[start..];
    let line = &item[..item.find("\n- ").unwrap_or(item.len())];
    for alg in SUPPORTED_ALGORITHMS {
        assert!(
            line.contains(&format!("`{alg}`")),
            "README misses {alg}: {line}"
        );
    }
}

// ---- 6. tenant answers are bounded ----

#[tokio::test]
async fn an_endless_token_answer_is_refused_with_502_without_reading_it_whole() {
    let app = TestApp::spawn().await;
    app.tenant
        .faults()
        .set_body("/oauth/token", 200, InjectedBody::Endless);
    let message = assert_error(app.password_login(TOKEN).await, 502).await;
    assert!(message.contains("Auth0"), "{message}");
    let abandoned = loop {
        let bytes = app.tenant.stats().endless_bytes_abandoned;
        if bytes > 0 {
            break bytes;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(abandoned < 32 * 1024 * 1024, "read {abandoned} bytes");
}

#[tokio::test]
async fn an_access_token_that_is_not_token68_is_refused_before_a_session_is_stored() {
    let app = TestApp::spawn().await;
    for token in ["x; Domain=evil.example", "", "a b"] {
        app.tenant
            .faults()
            .set_access_token_override(Some(token.to_owned()));
        for client in [TOKEN, WEBSITE] {
            let response = app.password_login(client).await;
            assert!(
                !response.headers().contains_key("set-cookie"),
                "{client} {token:?}"
            );
            assert_error(response, 502).await;
        }
        let stored = app
            .sessions
            .get_session(&SessionHandle::new(token))
            .await
            .unwrap();
        assert!(stored.is_none(), "a session was stored under {token:?}");
    }
    app.tenant.faults().set_access_token_override(None);
    assert_eq!(app.password_login(TOKEN).await.status(), 200);
}

// ---- 15. Auth0 errors by their code ----

#[tokio::test]
async fn a_wrong_password_is_403_with_auth0s_message() {
    let app = TestApp::spawn().await;
    let message = assert_error(login_as(&app, TOKEN, DEV_EMAIL, "wrong").await, 403).await;
    assert_eq!(message, "Wrong email or password.");
}

#[tokio::test]
async fn a_refused_authorization_code_is_401() {
    let app = TestApp::spawn().await;
    let (_, state) = app.browser_login(TOKEN).await;
    let response = app
        .token(
            TOKEN,
            &[
                ("grant_type", "authorization_code"),
                ("code", "not-a-code-auth0-issued"),
                ("state", &state),
            ],
        )
        .await;
    let message = assert_error(response, 401).await;
    assert!(message.contains("Invalid authorization code"), "{message}");
}

#[tokio::test]
async fn a_blocked_user_is_403_with_auth0s_message_not_a_502() {
    let app = spawn_tenant(|tenant| tenant.users[1].blocked = true).await;
    let response = login_as(&app, TOKEN, "viewer@example.com", "ViewerPassword1!").await;
    let message = assert_error(response, 403).await;
    assert_eq!(message, "user is blocked");
}

#[tokio::test]
async fn too_many_attempts_is_429_with_auth0s_message() {
    let app = spawn_tenant(|tenant| tenant.brute_force_threshold = 1).await;
    assert_error(login_as(&app, TOKEN, DEV_EMAIL, "wrong").await, 403).await;
    let message = assert_error(app.password_login(TOKEN).await, 429).await;
    assert!(
        message.contains("blocked after multiple consecutive login attempts"),
        "{message}"
    );
}

#[tokio::test]
async fn mfa_required_is_403_with_the_mfa_required_error_code() {
    let app = spawn_tenant(|tenant| tenant.users[0].mfa_required = true).await;
    let response = app.password_login(TOKEN).await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errorCode"], "mfa_required", "{body}");
    assert_eq!(body["statusCode"], 403);
    assert_eq!(body["message"], "Multifactor authentication required");
    assert!(body.get("mfa_token").is_none() && !body.to_string().contains("mfa_token"));
}

#[tokio::test]
async fn a_login_denied_by_an_action_is_403_with_its_reason() {
    let app = spawn_tenant(|tenant| {
        tenant.users[0].login_denied = Some("Logins are closed for maintenance".into());
    })
    .await;
    let message = assert_error(app.password_login(TOKEN).await, 403).await;
    assert_eq!(message, "Logins are closed for maintenance");
}

#[tokio::test]
async fn a_grant_the_client_may_not_use_is_502_for_the_operator_not_403() {
    let app = spawn_tenant(|tenant| {
        tenant.clients[1].grant_types = vec!["authorization_code".into(), "refresh_token".into()];
    })
    .await;
    let message = assert_error(app.password_login(TOKEN).await, 502).await;
    assert!(!message.contains("dev-token-secret"), "{message}");
}

#[tokio::test]
async fn a_refused_client_is_logged_at_error_naming_the_client_without_its_secret() {
    use auth0_client::config::env::LogLevel;
    use auth0_client::telemetry::{JsonLayer, LineWriter};
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt as _;
    let buffer = Arc::new(Mutex::new(Vec::<u8>::new()));
    let writer: LineWriter = buffer.clone();
    let subscriber = tracing_subscriber::registry().with(JsonLayer::new(LogLevel::Debug, writer));
    // The test runtime is single-threaded: the app's tasks run under this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);
    let app =
        spawn_tenant(|tenant| tenant.clients[1].grant_types = vec!["refresh_token".into()]).await;
    assert_error(app.password_login(TOKEN).await, 502).await;
    let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    let line: Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["level"] == 50)
        .unwrap_or_else(|| panic!("no error line in {text}"));
    assert_eq!(line["client_id"], "dev-token-client", "{line}");
    assert!(
        line["msg"]
            .as_str()
            .unwrap()
            .contains("client credentials or grant"),
        "{line}"
    );
    assert!(!text.contains("dev-token-secret"), "{text}");
    assert!(!text.contains(DEV_PASSWORD), "{text}");
}

#[tokio::test]
async fn wrong_client_credentials_are_502_without_the_secret() {
    let app = TestApp::spawn_with(Options {
        edit: Box::new(|file| {
            file.clients.get_mut(TOKEN).unwrap().client_secret =
                auth0_client::secret::Secret::new("not-the-secret");
        }),
        ..Options::default()
    })
    .await;
    let message = assert_error(app.password_login(TOKEN).await, 502).await;
    assert!(!message.contains("not-the-secret"), "{message}");
}

#[tokio::test]
async fn auth0s_rate_limit_is_429_with_retry_after() {
    let app = TestApp::spawn().await;
    app.tenant
        .faults()
        .set_rate_limit("/oauth/token", 0, Duration::from_secs(60));
    let response = app.password_login(TOKEN).await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_error(response, 429).await;
}

#[tokio::test]
async fn an_error_without_a_json_body_says_so() {
    let app = TestApp::spawn().await;
    app.tenant.faults().set_body(
        "/oauth/token",
        400,
        InjectedBody::Text("<html><body>Bad Request</body></html>".into()),
    );
    let message = assert_error(app.password_login(TOKEN).await, 502).await;
    assert_eq!(message, "Auth0 answered status 400 without a JSON error.");
}

#[tokio::test]
async fn the_code_and_description_error_shape_is_read_too() {
    let app = TestApp::spawn().await;
    app.tenant.faults().set_body(
        "/oauth/token",
        403,
        InjectedBody::Json(json!({"code": "access_denied", "description": "Not in this country"})),
    );
    let message = assert_error(app.password_login(TOKEN).await, 403).await;
    assert_eq!(message, "Not in this country");
    app.tenant.faults().set_body(
        "/oauth/token",
        400,
        InjectedBody::Json(json!({"code": "invalid_password", "description": "Too weak"})),
    );
    let message = assert_error(app.password_login(TOKEN).await, 400).await;
    assert_eq!(message, "Too weak");
}

// ---- 16. client_secret_basic ----

fn basic_everywhere() -> Options {
    Options {
        edit: Box::new(|file| {
            for client in file.clients.values_mut() {
                client.token_endpoint_auth_method = Some(ClientAuth::ClientSecretBasic);
            }
        }),
        tenant: Box::new(|tenant| {
            for client in tenant.clients.iter_mut().take(2) {
                client.token_endpoint_auth_method = "client_secret_basic".into();
            }
        }),
        ..Options::default()
    }
}

#[tokio::test]
async fn a_client_set_to_client_secret_basic_logs_in_refreshes_and_revokes_with_basic() {
    let app = TestApp::spawn_with(basic_everywhere()).await;
    let tokens = app.login_tokens().await;
    let refreshed = app
        .refresh(
            "/oauth/refreshtoken",
            &tokens.access_token,
            tokens.refresh_token.as_deref().unwrap(),
        )
        .await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: Tokens = refreshed.json().await.unwrap();
    let logout = app.get_bearer("/logout", &refreshed.access_token).await;
    assert_eq!(logout.status(), 204);
    let methods = app.tenant.stats().client_auth["dev-token-client"].clone();
    assert_eq!(methods.get("client_secret_post"), None, "{methods:?}");
    assert_eq!(
        methods.get("client_secret_basic"),
        Some(&3),
        "token, refresh, revoke"
    );
}

#[tokio::test]
async fn the_default_stays_client_secret_post() {
    let app = spawn_tenant(|tenant| {
        for client in tenant.clients.iter_mut().take(2) {
            client.token_endpoint_auth_method = "client_secret_basic".into();
        }
    })
    .await;
    assert_error(app.password_login(TOKEN).await, 502).await;
    let methods = app.tenant.stats().client_auth["dev-token-client"].clone();
    assert_eq!(methods.get("client_secret_post"), Some(&1), "{methods:?}");
}

#[test]
fn the_config_schema_knows_token_endpoint_auth_method() {
    let mut document = serde_json::to_value(config_file("https://tenant.example")).unwrap();
    document["clients"][TOKEN]["tokenEndpointAuthMethod"] = json!("client_secret_basic");
    let file = auth0_client::config::validate::parse(&document.to_string()).unwrap();
    assert_eq!(
        file.clients[TOKEN].token_endpoint_auth_method,
        Some(ClientAuth::ClientSecretBasic)
    );
    document["clients"][TOKEN]["tokenEndpointAuthMethod"] = json!("private_key_jwt");
    let errors = auth0_client::config::validate::parse(&document.to_string()).unwrap_err();
    assert!(
        errors.iter().any(|e| e.contains("tokenEndpointAuthMethod")),
        "{errors:?}"
    );
}
