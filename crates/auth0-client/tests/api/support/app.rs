//! Spawns the app (and a devtenant) on port 0 for a test, with typed request helpers.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::redis::RedisServer;
use auth0_client::app::{Application, Lifecycle};
use auth0_client::clock::ManualClock;
use auth0_client::config::Config;
use auth0_client::config::dev_tenant;
use auth0_client::config::env::{LogLevel, RedisMode, RedisSettings, Settings};
use auth0_client::config::file::{ClientConfig, ConfigFile};
use auth0_client::session::{SessionStore, open_store_with};
use auth0_client::tuning::Tuning;
use auth0_devtenant::{DevTenant, TenantConfig};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The seeded user of the devtenant.
pub const DEV_EMAIL: &str = "dev@example.com";
/// Password of [`DEV_EMAIL`].
pub const DEV_PASSWORD: &str = "DevPassword1!";
/// `sub` of [`DEV_EMAIL`].
pub const DEV_USER_ID: &str = "auth0|dev000000000000000000001";
/// Client type of the cookie client (`website` scope, `SameSite=Lax`).
pub const WEBSITE: &str = "website";
/// Client type of the token client (`offline_access`).
pub const TOKEN: &str = "token";
/// Client type that requires the caller's `state` and allows one connection.
pub const STRICT: &str = "strict";
/// Session lifetime of the test apps.
pub const SESSION_SECONDS: u64 = 3600;

/// Which session store the app runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// The in-memory store.
    Memory,
    /// Redis (normal mode) on a redis-server spawned for the test.
    Redis,
}

/// Edits the generated `config.json` before the app starts.
pub type EditConfig = Box<dyn FnOnce(&mut ConfigFile) + Send>;

/// Edits the devtenant's description before it starts.
pub type EditTenant = Box<dyn FnOnce(&mut TenantConfig) + Send>;
/// Edits the app's settings (environment) before it starts.
pub type EditSettings = Box<dyn FnOnce(&mut Settings) + Send>;
/// Edits the app's timeouts and leases before it starts (its clock is the test's).
pub type EditTuning = Box<dyn FnOnce(&mut Tuning) + Send>;

/// Knobs of [`TestApp::spawn_with`].
pub struct Options {
    /// The session store.
    pub store: Store,
    /// Edits the generated `config.json` before the app starts.
    pub edit: EditConfig,
    /// Edits the devtenant's description (default: the built-in tenant).
    pub tenant: EditTenant,
    /// Edits the settings before the app starts.
    pub edit_settings: EditSettings,
    /// Edits the timeouts and leases before the app starts.
    pub tuning: EditTuning,
    /// A running devtenant to use instead of starting one (replicas share one).
    pub on_tenant: Option<Arc<DevTenant>>,
    /// Redis settings to use instead of `store` (replicas share one Redis).
    pub redis: Option<RedisSettings>,
    /// A clock to share with other apps instead of a new one.
    pub clock: Option<Arc<ManualClock>>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            store: Store::Memory,
            edit: Box::new(|_| {}),
            tenant: Box::new(|_| {}),
            edit_settings: Box::new(|_| {}),
            tuning: Box::new(|_| {}),
            on_tenant: None,
            redis: None,
            clock: None,
        }
    }
}

/// A running app on 127.0.0.1:<random port> in front of its own devtenant.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// The devtenant the app talks to.
    pub tenant: Arc<DevTenant>,
    /// Redirects off; cookies are not stored (read them from `Set-Cookie`).
    pub http: reqwest::Client,
    /// The app's session store, for assertions.
    pub sessions: Arc<dyn SessionStore>,
    /// The app's configuration.
    pub config: Arc<Config>,
    /// The app's login service.
    pub login: Arc<auth0_client::login::Login>,
    /// The redis-server behind the store, with [`Store::Redis`].
    pub redis: Option<RedisServer>,
    /// The app's clock: advance it instead of sleeping for tokens to expire.
    pub clock: Arc<ManualClock>,
    /// Readiness and shutdown of the app.
    pub lifecycle: Arc<Lifecycle>,
    /// The serving task: ends once a shutdown has finished.
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// What `/oauth/token` answers to a token client.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tokens {
    /// The access token (session handle).
    pub access_token: String,
    /// The refresh token, with `offline_access`.
    pub refresh_token: Option<String>,
    /// The id_token.
    pub id_token: String,
    /// RFC 3339 with nanoseconds.
    pub expire_at: String,
}

/// A generated client of the app's config.
pub fn client(tenant_url: &str, id: &str, secret: &str, scopes: &[&str]) -> ClientConfig {
    dev_tenant::client(tenant_url, id, secret, REDIRECT_URL, scopes)
}

/// Where the test clients redirect to after a login.
const REDIRECT_URL: &str = "http://127.0.0.1:3000/callback";

/// The generated `config.json` for a tenant at `tenant_url`: the dev tenant's clients
/// (shared with dev mode) and a [`STRICT`] client.
pub fn config_file(tenant_url: &str) -> ConfigFile {
    let mut file = dev_tenant::config_file(tenant_url, |_| REDIRECT_URL.to_owned());
    let mut strict = client(
        tenant_url,
        "dev-token-client",
        "dev-token-secret",
        &["openid", "offline_access"],
    );
    strict.authorize_state_required = true;
    strict.supported_connections = vec![dev_tenant::UPA.to_owned()];
    file.clients.insert(STRICT.to_owned(), strict);
    file
}

/// Settings of a test app (port 0, `x-forwarded-proto`, one-hour sessions).
pub fn settings() -> Settings {
    Settings {
        http_port: 0,
        log_level: LogLevel::Info,
        service_prefix: String::new(),
        service_version: "test".to_owned(),
        config_file: std::path::PathBuf::from("config.json"),
        original_protocol_header: http::HeaderName::from_static("x-forwarded-proto"),
        session_duration: Duration::from_secs(SESSION_SECONDS),
        session_scope: format!("test-{}", uuid::Uuid::new_v4()),
        session_idle: None,
        redis: None,
        delay_shutdown: Duration::ZERO,
        session_encryption_keys: Vec::new(),
        mongo: None,
        server: auth0_client::config::server::ServerSettings::default(),
        trusted_proxy_hops: 1,
        authorize_rate_limit: 120,
        // Off unless a test turns it on (`session_cache.rs`): other tests edit Redis
        // directly and read the result back at once.
        session_cache_size: 0,
    }
}

impl TestApp {
    /// The app on the memory store with the generated config.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Options::default()).await
    }

    /// The app on `store` with the generated config.
    pub async fn spawn_on(store: Store) -> TestApp {
        Self::spawn_with(Options {
            store,
            ..Options::default()
        })
        .await
    }

    /// The app with `options`.
    pub async fn spawn_with(options: Options) -> TestApp {
        let tenant = match options.on_tenant {
            Some(tenant) => tenant,
            None => {
                let mut tenant_config = TenantConfig::default();
                (options.tenant)(&mut tenant_config);
                Arc::new(
                    DevTenant::start(tenant_config)
                        .await
                        .expect("devtenant starts"),
                )
            }
        };
        let tenant_url = tenant.url();
        let mut file = config_file(&tenant_url);
        (options.edit)(&mut file);
        let redis = match (options.store, &options.redis) {
            (Store::Redis, None) => Some(RedisServer::start().await),
            _ => None,
        };
        let mut settings = settings();
        settings.redis = redis.as_ref().map(|server| RedisSettings {
            hosts: vec![("127.0.0.1".to_owned(), server.port())],
            mode: RedisMode::Normal,
            username: None,
            password: None,
            sentinel_auth: Default::default(),
            tls: None,
        });
        if options.redis.is_some() {
            settings.redis = options.redis;
        }
        (options.edit_settings)(&mut settings);
        settings
            .server
            .address
            .get_or_insert(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        let clock = options.clock.unwrap_or_default();
        let mut tuning = Tuning::default();
        (options.tuning)(&mut tuning);
        tuning.clock = clock.clone();
        let sessions = open_store_with(&settings, &tuning.store)
            .await
            .expect("session store opens");
        let application = Application::build_tuned(
            Config::finish(settings, file).expect("valid config"),
            sessions.clone(),
            tuning,
        )
        .await
        .expect("the app builds");
        let port = application.port();
        let state = application.state().clone();
        let (config, login, lifecycle) = (
            state.config.clone(),
            state.login.clone(),
            state.lifecycle.clone(),
        );
        let server = tokio::spawn(application.run_until_stopped());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("reqwest client");
        TestApp {
            address: format!("http://127.0.0.1:{port}"),
            tenant,
            http,
            sessions,
            config,
            login,
            redis,
            clock,
            lifecycle,
            server,
        }
    }

    /// Absolute URL of `path` on the app.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `GET /authorize?<query>` as `client_type`.
    pub async fn authorize(
        &self,
        client_type: Option<&str>,
        query: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self.http.get(self.url("/authorize")).query(query);
        if let Some(client_type) = client_type {
            request = request.header("client-type", client_type);
        }
        request.send().await.expect("GET /authorize")
    }

    /// `POST /oauth/token` (form) as `client_type`.
    pub async fn token(&self, client_type: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url("/oauth/token"))
            .header("client-type", client_type)
            .form(form)
            .send()
            .await
            .expect("POST /oauth/token")
    }

    /// Password login of the dev user as `client_type`.
    pub async fn password_login(&self, client_type: &str) -> reqwest::Response {
        self.token(
            client_type,
            &[
                ("grant_type", "password"),
                ("username", DEV_EMAIL),
                ("password", DEV_PASSWORD),
            ],
        )
        .await
    }

    /// Password login of the dev user with the token client; its tokens.
    pub async fn login_tokens(&self) -> Tokens {
        let response = self.password_login(TOKEN).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "login failed: {:?}",
            response.text().await
        );
        response.json().await.expect("token body")
    }

    /// A token-client login whose access token has expired by the app's clock: the
    /// tenant issues it for 1 s (faults cleared after), then the clock moves 2 s. Its
    /// refresh token still works.
    pub async fn login_tokens_expired(&self) -> Tokens {
        self.tenant
            .faults()
            .set_access_token_ttl(Duration::from_secs(1));
        let tokens = self.login_tokens().await;
        self.tenant.faults().clear();
        self.clock.advance(Duration::from_secs(2));
        tokens
    }

    /// `GET <path>` with `Authorization: Bearer <token>`.
    pub async fn get_bearer(&self, path: &str, token: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET with bearer")
    }

    /// The status of `GET /userinfo` with `token` as the bearer.
    pub async fn userinfo_status(&self, token: &str) -> StatusCode {
        self.get_bearer("/userinfo", token).await.status()
    }

    /// Revokes `refresh_token` at the tenant (`/oauth/revoke`), as the token client.
    pub async fn revoke_at_tenant(&self, refresh_token: &str) {
        let revoke = self
            .http
            .post(format!("{}/oauth/revoke", self.tenant.url()))
            .form(&[
                ("client_id", "dev-token-client"),
                ("client_secret", "dev-token-secret"),
                ("token", refresh_token),
            ])
            .send()
            .await
            .expect("POST /oauth/revoke");
        assert!(revoke.status().is_success(), "revoked at the tenant");
    }

    /// `POST /oauth/refreshtoken` with the bearer and `{"refresh_token": …}`.
    pub async fn refresh(
        &self,
        path: &str,
        bearer: &str,
        refresh_token: &str,
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(bearer)
            .json(&serde_json::json!({"refresh_token": refresh_token}))
            .send()
            .await
            .expect("POST refresh")
    }

    /// The whole browser leg of the code flow for `client_type`: `/authorize` on the app,
    /// the devtenant's login form, the dev user's credentials; returns `(code, state)`
    /// taken from the redirect back.
    pub async fn browser_login(&self, client_type: &str) -> (String, String) {
        self.browser_login_with(client_type, &[]).await
    }

    /// [`TestApp::browser_login`] with a query for the app's `/authorize`.
    pub async fn browser_login_with(
        &self,
        client_type: &str,
        query: &[(&str, &str)],
    ) -> (String, String) {
        let response = self.authorize(Some(client_type), query).await;
        let to_tenant = location(&response);
        assert!(to_tenant.starts_with(&self.tenant.url()), "{to_tenant}");
        let form = self
            .http
            .get(&to_tenant)
            .send()
            .await
            .expect("tenant /authorize");
        let page = form.text().await.expect("login page");
        let transaction = hidden_state(&page);
        let back = self
            .http
            .post(format!("{}/u/login", self.tenant.url()))
            .form(&[
                ("state", transaction.as_str()),
                ("username", DEV_EMAIL),
                ("password", DEV_PASSWORD),
            ])
            .send()
            .await
            .expect("tenant login");
        let callback = location(&back);
        let query = query_of(&callback);
        (query["code"].clone(), query["state"].clone())
    }
}

/// The `Location` of a 302.
pub fn location(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::FOUND, "not a 302");
    response.headers()[LOCATION]
        .to_str()
        .expect("ascii location")
        .to_owned()
}

/// Query parameters of `url`.
pub fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .expect("absolute url")
        .query_pairs()
        .into_owned()
        .collect()
}

/// Every `Set-Cookie` value.
pub fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().expect("ascii cookie").to_owned())
        .collect()
}

/// The `sid` value set by a response.
pub fn sid(headers: &HeaderMap) -> String {
    let cookie = set_cookies(headers)
        .into_iter()
        .find(|c| c.starts_with("sid="))
        .expect("a sid cookie");
    cookie["sid=".len()..]
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Asserts the JSON error body and returns its message.
pub async fn assert_error(response: reqwest::Response, status: u16) -> String {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let body: Value = response.json().await.expect("JSON error body");
    assert_eq!(body["statusCode"], status, "{body}");
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or_default();
    assert_eq!(body["error"], reason, "{body}");
    body["message"].as_str().expect("a message").to_owned()
}

fn hidden_state(page: &str) -> String {
    let marker = "name=\"state\" value=\"";
    let start = page.find(marker).expect("the login form carries its state") + marker.len();
    let end = page[start..].find('"').expect("closing quote") + start;
    page[start..end].to_owned()
}
