//! Integration tests: the session lifecycle beyond `/logout`: back-channel logout sent
//! by the devtenant over real HTTP (two replicas on one real Redis, and the memory
//! store), per-user session control on the management routes, blocked and deleted
//! users, and the idle timeout with injected time.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::app::{
    DEV_EMAIL, DEV_PASSWORD, DEV_USER_ID, Options, TOKEN, TestApp, Tokens, WEBSITE, location,
    query_of, set_cookies, sid,
};
use crate::support::redis::RedisServer;
use auth0_client::config::env::{RedisMode, RedisSettings};
use auth0_devtenant::{BACKCHANNEL_LOGOUT_EVENT, DevTenant, TenantConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// How long a test waits for the devtenant's deliveries.
const WAIT: Duration = Duration::from_secs(10);

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn normal(server: &RedisServer) -> RedisSettings {
    RedisSettings {
        hosts: vec![("127.0.0.1".to_owned(), server.port())],
        mode: RedisMode::Normal,
        username: None,
        password: None,
        sentinel_auth: Default::default(),
        tls: None,
    }
}

/// One app replica: a [`TestApp`] on a shared devtenant (and Redis).
struct Replica(TestApp);

impl std::ops::Deref for Replica {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.0
    }
}

/// A session as the caller holds it: the cookie of a website client, or the tokens.
#[derive(Debug, Clone)]
enum Held {
    Cookie(String),
    Tokens(Tokens),
}

impl Held {
    fn refresh_token(&self) -> Option<String> {
        match self {
            Held::Cookie(_) => None,
            Held::Tokens(tokens) => tokens.refresh_token.clone(),
        }
    }
}

impl Replica {
    /// A replica in front of `tenant` on `redis` (memory when `None`) under `scope`.
    async fn spawn(tenant: &Arc<DevTenant>, redis: Option<&RedisServer>, scope: &str) -> Replica {
        let scope = scope.to_owned();
        Replica(
            TestApp::spawn_with(Options {
                on_tenant: Some(tenant.clone()),
                redis: redis.map(normal),
                edit_settings: Box::new(move |settings| settings.session_scope = scope),
                ..Options::default()
            })
            .await,
        )
    }

    fn backchannel_url(&self) -> String {
        self.url("/backchannel-logout")
    }

    /// The browser leg of the code flow for `client_type`: with `tenant_cookie` the
    /// tenant's session is reused (single sign-on). Returns the tenant cookie and the
    /// session the app hands out.
    async fn browser_login(
        &self,
        tenant: &DevTenant,
        client_type: &str,
        tenant_cookie: Option<&str>,
    ) -> (String, Held) {
        let authorize = self
            .http
            .get(self.url("/authorize"))
            .header("client-type", client_type)
            .send()
            .await
            .unwrap();
        let to_tenant = location(&authorize);
        let mut request = self.http.get(&to_tenant);
        if let Some(cookie) = tenant_cookie {
            request = request.header("cookie", cookie);
        }
        let answer = request.send().await.unwrap();
        let (cookie, callback) = if answer.status() == StatusCode::FOUND {
            (tenant_cookie.unwrap().to_owned(), location(&answer))
        } else {
            let page = answer.text().await.unwrap();
            let marker = "name=\"state\" value=\"";
            let start = page.find(marker).expect("a login form") + marker.len();
            let transaction = page[start..].split('"').next().unwrap().to_owned();
            let back = self
                .http
                .post(format!("{}/u/login", tenant.url()))
                .form(&[
                    ("state", transaction.as_str()),
                    ("username", DEV_EMAIL),
                    ("password", DEV_PASSWORD),
                ])
                .send()
                .await
                .unwrap();
            let cookie = set_cookies(back.headers())
                .into_iter()
                .find(|c| c.starts_with("auth0="))
                .expect("the tenant's session cookie")
                .split(';')
                .next()
                .unwrap()
                .to_owned();
            (cookie, location(&back))
        };
        let query = query_of(&callback);
        let exchanged = self
            .http
            .post(self.url("/oauth/token"))
            .header("client-type", client_type)
            .form(&[
                ("code", query["code"].as_str()),
                ("state", query["state"].as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(exchanged.status(), 200, "code exchange");
        let held = if client_type == WEBSITE {
            Held::Cookie(sid(exchanged.headers()))
        } else {
            Held::Tokens(exchanged.json().await.unwrap())
        };
        (cookie, held)
    }

    /// A password login of the dev user with the token client (no Auth0 session).
    async fn password_login(&self) -> Tokens {
        let response = self
            .http
            .post(self.url("/oauth/token"))
            .header("client-type", TOKEN)
            .form(&[
                ("grant_type", "password"),
                ("username", DEV_EMAIL),
                ("password", DEV_PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// `/userinfo` with the held session: its status.
    async fn userinfo(&self, held: &Held) -> u16 {
        let request = self.http.get(self.url("/userinfo"));
        let request = match held {
            Held::Cookie(cookie) => request.header("cookie", format!("sid={cookie}")),
            Held::Tokens(tokens) => request.bearer_auth(&tokens.access_token),
        };
        request.send().await.unwrap().status().as_u16()
    }

    /// Posts a `logout_token` form.
    async fn backchannel(&self, token: &str) -> reqwest::Response {
        self.http
            .post(self.backchannel_url())
            .form(&[("logout_token", token)])
            .send()
            .await
            .unwrap()
    }

    async fn metrics(&self) -> String {
        self.http
            .get(self.url("/-/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

/// Ends the tenant's session of `cookie` at `/v2/logout` (what a logout elsewhere does).
async fn auth0_logout(tenant: &DevTenant, cookie: &str) {
    let response = reqwest::Client::new()
        .get(format!("{}/v2/logout", tenant.url()))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// Whether the tenant still accepts `refresh_token` of the token client.
pub(crate) async fn refresh_token_works(tenant: &DevTenant, refresh_token: &str) -> bool {
    let response = reqwest::Client::new()
        .post(format!("{}/oauth/token", tenant.url()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "dev-token-client"),
            ("client_secret", "dev-token-secret"),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .unwrap();
    response.status() == StatusCode::OK
}

/// The value of `sessions_ended_total{reason="<reason>"}` in a metrics text.
fn ended(metrics: &str, reason: &str) -> u64 {
    let prefix = format!("sessions_ended_total{{reason=\"{reason}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}

/// A logout token the tenant signs, with `claims` over the valid ones.
pub(crate) fn logout_token(tenant: &DevTenant, aud: &str, overrides: Value) -> String {
    let mut claims = json!({
        "iss": tenant.issuer(),
        "aud": aud,
        "iat": unix_now(),
        "jti": unique("jti"),
        "sub": DEV_USER_ID,
        "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
    });
    for (name, value) in overrides.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    tenant.sign(&claims).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_auth0_logout_ends_the_sessions_of_both_clients_across_two_replicas_on_redis() {
    // Arrange: one tenant, one Redis, two replicas; each client's back-channel URL on a
    // different replica; the user logs in to both clients through one Auth0 session.
    let tenant = Arc::new(DevTenant::start(TenantConfig::default()).await.unwrap());
    let redis = RedisServer::start().await;
    let scope = unique("lifecycle");
    let first = Replica::spawn(&tenant, Some(&redis), &scope).await;
    let second = Replica::spawn(&tenant, Some(&redis), &scope).await;
    assert!(
        tenant.set_backchannel_logout_urls("dev-website-client", vec![first.backchannel_url()])
    );
    assert!(tenant.set_backchannel_logout_urls("dev-token-client", vec![second.backchannel_url()]));
    let (cookie, website) = first.browser_login(&tenant, WEBSITE, None).await;
    let (same_cookie, token_app) = second.browser_login(&tenant, TOKEN, Some(&cookie)).await;
    assert_eq!(cookie, same_cookie);
    let other_login = Held::Tokens(first.password_login().await);
    for replica in [&first, &second] {
        for held in [&website, &token_app, &other_login] {
            assert_eq!(replica.userinfo(held).await, 200);
        }
    }
    let refresh_token = token_app.refresh_token().expect("offline_access");
    let before = ended(&first.metrics().await, "backchannel");

    // Act: the user logs out at Auth0 (from any application).
    auth0_logout(&tenant, &cookie).await;
    let deliveries = tenant.wait_for_backchannel_deliveries(2, WAIT).await;

    // Assert: both logout tokens were accepted, both sessions are over on both
    // replicas, the other login (no Auth0 session) lives on, the refresh token is revoked.
    assert_eq!(deliveries.len(), 2, "{deliveries:?}");
    assert!(
        deliveries
            .iter()
            .all(|d| d.status == Some(200) && d.attempts == 1),
        "{deliveries:?}"
    );
    for replica in [&first, &second] {
        assert_eq!(replica.userinfo(&website).await, 401);
        assert_eq!(replica.userinfo(&token_app).await, 401);
        assert_eq!(replica.userinfo(&other_login).await, 200);
    }
    assert!(!refresh_token_works(&tenant, &refresh_token).await);
    assert!(ended(&first.metrics().await, "backchannel") >= before + 2);
    // Nothing of the ended sessions is left in the store's indexes.
    let left = first.sessions.user_sessions(DEV_USER_ID).await.unwrap();
    assert_eq!(left.len(), 1, "only the password login is left");
    assert!(left[0].session.auth0_sid.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_logout_token_with_sid_ends_only_that_logins_sessions_on_the_memory_store() {
    let tenant = Arc::new(DevTenant::start(TenantConfig::default()).await.unwrap());
    let app = Replica::spawn(&tenant, None, "memory").await;
    let (_, first_login) = app.browser_login(&tenant, TOKEN, None).await;
    let (_, second_login) = app.browser_login(&tenant, TOKEN, None).await;
    let stored = app.sessions.user_sessions(DEV_USER_ID).await.unwrap();
    assert_eq!(stored.len(), 2);
    let sid_of = |held: &Held| {
        let Held::Tokens(tokens) = held else {
            panic!("a token client session")
        };
        let key = auth0_client::session::SessionHandle::new(&tokens.access_token).key();
        let found = stored.iter().find(|s| s.key == key).unwrap();
        found.session.auth0_sid.clone().unwrap()
    };
    let first_sid = sid_of(&first_login);
    assert_ne!(
        first_sid,
        sid_of(&second_login),
        "two logins, two Auth0 sessions"
    );

    let token = logout_token(&tenant, "dev-token-client", json!({"sid": first_sid}));
    let response = app.backchannel(&token).await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(app.userinfo(&first_login).await, 401);
    assert_eq!(app.userinfo(&second_login).await, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_logout_token_with_only_sub_ends_the_users_sessions_of_that_client_only() {
    let tenant = Arc::new(DevTenant::start(TenantConfig::default()).await.unwrap());
    let redis = RedisServer::start().await;
    let app = Replica::spawn(&tenant, Some(&redis), "sub-only").await;
    let (cookie, website) = app.browser_login(&tenant, WEBSITE, None).await;
    let (_, token_app) = app.browser_login(&tenant, TOKEN, Some(&cookie)).await;
    let password = Held::Tokens(app.password_login().await);

    let token = logout_token(&tenant, "dev-token-client", json!({}));
    assert_eq!(app.backchannel(&token).await.status(), 200);

    assert_eq!(app.userinfo(&token_app).await, 401);
    assert_eq!(app.userinfo(&password).await, 401);
    assert_eq!(
        app.userinfo(&website).await,
        200,
        "another client's session"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_logout_token_is_a_400_oauth_error_and_ends_nothing() {
    let tenant = Arc::new(DevTenant::start(TenantConfig::default()).await.unwrap());
    let app = Replica::spawn(&tenant, None, "invalid").await;
    let held = Held::Tokens(app.password_login().await);
    let aud = "dev-token-client";
    let old = unix_now() - 3600;
    let cases = [
        (
            "wrong aud",
            logout_token(&tenant, "someone-else", json!({})),
        ),
        (
            "wrong iss",
            logout_token(&tenant, aud, json!({"iss": "https://elsewhere/"})),
        ),
        ("no iat", logout_token(&tenant, aud, json!({"iat": null}))),
        ("old iat", logout_token(&tenant, aud, json!({"iat": old}))),
        ("expired", logout_token(&tenant, aud, json!({"exp": old}))),
        ("no jti", logout_token(&tenant, aud, json!({"jti": null}))),
        (
            "no event",
            logout_token(&tenant, aud, json!({"events": {}})),
        ),
        ("nonce", logout_token(&tenant, aud, json!({"nonce": "n"}))),
        (
            "no sub nor sid",
            logout_token(&tenant, aud, json!({"sub": null})),
        ),
        ("not a JWT", "not-a-jwt".to_owned()),
        (
            "HS256 with the client secret",
            jsonwebtoken::encode(
                &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
                &json!({"iss": tenant.issuer(), "aud": aud, "iat": unix_now(), "jti": "x",
                        "sub": DEV_USER_ID, "events": {BACKCHANNEL_LOGOUT_EVENT: {}}}),
                &jsonwebtoken::EncodingKey::from_secret(b"dev-token-secret"),
            )
            .unwrap(),
        ),
    ];
    for (case, token) in cases {
        let response = app.backchannel(&token).await;
        assert_eq!(response.status(), 400, "{case}");
        assert_eq!(response.headers()["cache-control"], "no-store", "{case}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "{case}: {body}");
        assert!(
            body["error_description"].as_str().unwrap().len() > 5,
            "{case}"
        );
        assert!(
            !body.to_string().contains(&token),
            "{case}: the token is not echoed"
        );
    }
    // No form, or no logout_token field.
    let json_body = app
        .http
        .post(app.backchannel_url())
        .json(&json!({"logout_token": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status(), 400);
    let empty = app
        .http
        .post(app.backchannel_url())
        .form(&[("other", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 400);
    let body: Value = empty.json().await.unwrap();
    assert_eq!(body["error_description"], "logout_token is required");
    assert_eq!(app.userinfo(&held).await, 200, "nothing ended");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_logout_token_is_refused_by_every_replica() {
    let tenant = Arc::new(DevTenant::start(TenantConfig::default()).await.unwrap());
    let redis = RedisServer::start().await;
    let scope = unique("replay");
    let first = Replica::spawn(&tenant, Some(&redis), &scope).await;
    let second = Replica::spawn(&tenant, Some(&redis), &scope).await;
    let token = logout_token(&tenant, "dev-token-client", json!({}));

    assert_eq!(first.backchannel(&token).await.status(), 200);
    let again = second.backchannel(&token).await;

    assert_eq!(again.status(), 400);
    let body: Value = again.json().await.unwrap();
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{body}"
    );
    // The replay record carries a TTL in Redis.
    let keys = redis.keys().await;
    let seen = keys
        .iter()
        .find(|k| k.contains(":seen:{"))
        .expect("a replay record");
    let ttl: i64 = redis.cli(&["PTTL", seen]).await.trim().parse().unwrap();
    assert!(ttl > 0, "{ttl}");
}

mod session_control {
    use super::*;
    use crate::support::app::{Store, TestApp};

    const SESSIONS: &str = "/users/auth0%7Cdev000000000000000000001/sessions";

    async fn list(app: &TestApp) -> Vec<Value> {
        let response = app.http.get(app.url(SESSIONS)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        response.json().await.unwrap()
    }

    async fn metrics(app: &TestApp) -> String {
        auth0_client::telemetry::prometheus();
        let response = app.http.get(app.url("/-/metrics")).send().await.unwrap();
        response.text().await.unwrap()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_back_office_lists_a_users_sessions_without_tokens_and_ends_them_all() {
        let app = TestApp::spawn_on(Store::Redis).await;
        let tokens = app.login_tokens().await;
        let website = app.password_login(WEBSITE).await;
        let cookie = sid(website.headers());
        let refreshed: Tokens = app
            .refresh(
                "/oauth/refreshtoken",
                &tokens.access_token,
                tokens.refresh_token.as_deref().unwrap(),
            )
            .await
            .json()
            .await
            .unwrap();
        let before = ended(&metrics(&app).await, "admin");

        let sessions = list(&app).await;

        assert_eq!(
            sessions.len(),
            2,
            "a rotated handle is listed once: {sessions:?}"
        );
        let of = |client: &str| {
            sessions
                .iter()
                .find(|s| s["clientType"] == client)
                .cloned()
                .unwrap()
        };
        assert!(of(TOKEN)["lastRefreshAt"].is_string());
        assert!(of(WEBSITE)["lastRefreshAt"].is_null());
        for session in &sessions {
            for field in ["createdAt", "expiresAt"] {
                let at = session[field].as_str().unwrap();
                time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                    .unwrap();
            }
        }
        let text = serde_json::to_string(&sessions).unwrap();
        for secret in [
            &tokens.access_token,
            &refreshed.access_token,
            refreshed.refresh_token.as_ref().unwrap(),
            &refreshed.id_token,
            &cookie,
        ] {
            assert!(!text.contains(secret.as_str()), "a token is listed");
        }

        let response = app.http.delete(app.url(SESSIONS)).send().await.unwrap();

        assert_eq!(response.status(), 204);
        assert_eq!(app.userinfo_status(&refreshed.access_token).await, 401);
        let userinfo = app
            .http
            .get(app.url("/userinfo"))
            .header("cookie", format!("sid={cookie}"))
            .send()
            .await
            .unwrap();
        assert_eq!(userinfo.status(), 401);
        assert!(!refresh_token_works(&app.tenant, refreshed.refresh_token.as_ref().unwrap()).await);
        assert!(list(&app).await.is_empty());
        assert!(ended(&metrics(&app).await, "admin") >= before + 2);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_unknown_user_has_no_sessions_and_ending_them_is_still_a_204() {
        let app = TestApp::spawn().await;
        let response = app
            .http
            .get(app.url("/users/auth0%7Cnobody/sessions"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<Vec<Value>>().await.unwrap().len(), 0);
        let response = app
            .http
            .delete(app.url("/users/auth0%7Cnobody/sessions"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn blocking_a_user_ends_their_sessions_and_revokes_their_refresh_tokens() {
        let app = TestApp::spawn_on(Store::Redis).await;
        let tokens = app.login_tokens().await;
        let path = app.url("/users/auth0%7Cdev000000000000000000001");
        let before = ended(&metrics(&app).await, "blocked");

        let unblocked = app
            .http
            .patch(&path)
            .json(&json!({"blocked": false}))
            .send()
            .await
            .unwrap();
        assert_eq!(unblocked.status(), 200);
        assert_eq!(app.userinfo_status(&tokens.access_token).await, 200);

        let blocked = app
            .http
            .patch(&path)
            .json(&json!({"blocked": true}))
            .send()
            .await
            .unwrap();

        assert_eq!(blocked.status(), 200);
        assert_eq!(app.userinfo_status(&tokens.access_token).await, 401);
        assert!(!refresh_token_works(&app.tenant, tokens.refresh_token.as_ref().unwrap()).await);
        assert!(list(&app).await.is_empty());
        assert!(ended(&metrics(&app).await, "blocked") > before);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn deleting_a_user_ends_their_sessions_counted_as_deleted() {
        let app = TestApp::spawn_on(Store::Redis).await;
        let tokens = app.login_tokens().await;
        let before = ended(&metrics(&app).await, "deleted");

        let response = app
            .http
            .delete(app.url("/users/auth0%7Cdev000000000000000000001"))
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), 204);
        assert_eq!(app.userinfo_status(&tokens.access_token).await, 401);
        assert!(ended(&metrics(&app).await, "deleted") > before);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_openapi_document_lists_the_session_routes_under_the_prefix() {
        let document = auth0_client::http::docs::openapi("/auth", "test");
        let document = serde_json::to_value(document).unwrap();
        for (path, method) in [
            ("/auth/backchannel-logout", "post"),
            ("/auth/users/{userId}/sessions", "get"),
            ("/auth/users/{userId}/sessions", "delete"),
        ] {
            assert!(
                document["paths"][path][method].is_object(),
                "{method} {path} missing"
            );
        }
    }
}

mod idle_timeout {
    use super::*;
    use crate::support::app::{config_file, settings};
    use auth0_client::clock::ManualClock;
    use auth0_client::config::Config;
    use auth0_client::login::Login;
    use auth0_client::login::token::PasswordLogin;
    use auth0_client::secret::Secret;
    use auth0_client::session::SessionHandle;
    use auth0_client::session::{SessionStore, open_store};
    use auth0_client::tuning::Tuning;

    struct Fixture {
        login: Login,
        clock: Arc<ManualClock>,
        store: Arc<dyn SessionStore>,
        redis: RedisServer,
        _tenant: Arc<DevTenant>,
    }

    /// A login service with `SESSION_IDLE_SECONDS=100` on a real Redis and a manual clock.
    async fn fixture(idle: Option<Duration>) -> Fixture {
        let tenant = Arc::new(DevTenant::start(TenantConfig::default()).await.unwrap());
        let redis = RedisServer::start().await;
        let mut settings = settings();
        settings.redis = Some(normal(&redis));
        settings.session_idle = idle;
        let store = open_store(&settings).await.unwrap();
        let config = Config::finish(settings, config_file(&tenant.url())).expect("valid config");
        let clock = ManualClock::new();
        let login = Login::with_tuning(
            &config,
            store.clone(),
            auth0_client::auth0::http_client().expect("http client"),
            Tuning {
                clock: clock.clone(),
                ..Tuning::default()
            },
        );
        Fixture {
            login,
            clock,
            store,
            redis,
            _tenant: tenant,
        }
    }

    async fn log_in(fixture: &Fixture) -> SessionHandle {
        let client = fixture.login.client(Some(TOKEN)).unwrap();
        let login = PasswordLogin {
            username: Secret::new(DEV_EMAIL),
            password: Secret::new(DEV_PASSWORD),
            connection: None,
            end_user_ip: None,
        };
        fixture
            .login
            .password_login(&client, login)
            .await
            .unwrap()
            .handle
    }

    /// Redis's count of script calls (activity writes are scripts).
    async fn script_calls(redis: &RedisServer) -> u64 {
        let stats = redis.cli(&["INFO", "commandstats"]).await;
        stats
            .lines()
            .find_map(|line| line.strip_prefix("cmdstat_eval:calls="))
            .and_then(|rest| rest.split(',').next())
            .and_then(|calls| calls.parse().ok())
            .unwrap_or(0)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_session_unused_for_the_idle_window_ends_and_use_keeps_it_alive() {
        let fixture = fixture(Some(Duration::from_secs(100))).await;
        let idle = fixture.login.idle_timeout().unwrap();
        assert_eq!(idle.touch_every(), Duration::from_secs(10));
        let handle = log_in(&fixture).await;

        // Used every 50 s for 250 s: alive, far past the idle window.
        for _ in 0..5 {
            fixture.clock.advance(Duration::from_secs(50));
            fixture.login.current_user(&handle).await.unwrap();
        }
        // Not used for the idle window (plus the write interval): over.
        fixture.clock.advance(Duration::from_secs(111));
        let result = fixture.login.current_user(&handle).await;

        assert!(
            matches!(result, Err(auth0_client::login::LoginError::NoSession)),
            "{result:?}"
        );
        assert!(fixture.store.get_session(&handle).await.unwrap().is_none());
        assert!(
            fixture
                .store
                .user_sessions(DEV_USER_ID)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_hot_path_writes_activity_at_most_once_per_interval() {
        let fixture = fixture(Some(Duration::from_secs(100))).await;
        let handle = log_in(&fixture).await;
        let before = script_calls(&fixture.redis).await;

        // 20 requests within the 10 s write interval: no write at all.
        for _ in 0..20 {
            fixture.clock.advance(Duration::from_millis(400));
            fixture.login.current_user(&handle).await.unwrap();
        }
        assert_eq!(script_calls(&fixture.redis).await, before);

        // Past the interval: one write, then none again.
        fixture.clock.advance(Duration::from_secs(3));
        for _ in 0..5 {
            fixture.login.current_user(&handle).await.unwrap();
        }
        assert_eq!(script_calls(&fixture.redis).await, before + 1);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn without_an_idle_timeout_no_activity_is_recorded_and_a_session_never_idles() {
        let fixture = fixture(None).await;
        let handle = log_in(&fixture).await;
        let session = fixture.store.get_session(&handle).await.unwrap().unwrap();
        assert!(session.activity_id.is_none());
        let before = script_calls(&fixture.redis).await;

        // An hour (36 times the idle timeout of the other tests), within the access
        // token's lifetime: the shared clock also drives token expiry.
        fixture.clock.advance(Duration::from_secs(3600));
        fixture.login.current_user(&handle).await.unwrap();

        assert_eq!(script_calls(&fixture.redis).await, before);
        assert!(
            fixture
                .redis
                .keys()
                .await
                .iter()
                .all(|k| !k.contains(":activity:"))
        );
    }
}

/// The lifecycle records on every backend: memory, Redis, and a Redis Cluster (whose
/// keys spread over slots: each operation must stay on one).
mod store_records {
    use super::*;
    use crate::support::redis::RedisCluster;
    use auth0_client::secret::Secret;
    use auth0_client::session::redis::RedisBackend;
    use auth0_client::session::{MemoryStore, Session, SessionHandle, SessionStore, Store};

    fn session(user_id: &str, sid: Option<&str>) -> Session {
        let now = unix_now();
        Session {
            client_type: "token".into(),
            user_id: user_id.into(),
            access_token: Secret::new(unique("at")),
            refresh_token: None,
            caller_refresh_token: None,
            id_token: Secret::new(unique("idt")),
            token_expires_at: now + 60,
            expires_at: now + 600,
            created_at: now,
            user: json!({ "sub": user_id }).into(),
            auth0_sid: sid.map(str::to_owned),
            refreshed_at: None,
            activity_id: None,
            grace_links: Vec::new(),
        }
    }

    async fn every_record_behaves(store: &dyn SessionStore) {
        // Sessions by Auth0 session id, through writes, rotation and deletes.
        let (user, sid, other_sid) = (unique("user"), unique("sid"), unique("sid"));
        let (a, b, c) = (
            SessionHandle::new(unique("h")),
            SessionHandle::new(unique("h")),
            SessionHandle::new(unique("h")),
        );
        store
            .put_session(&a, &session(&user, Some(&sid)))
            .await
            .unwrap();
        store
            .put_session(&b, &session(&user, Some(&sid)))
            .await
            .unwrap();
        store
            .put_session(&c, &session(&user, Some(&other_sid)))
            .await
            .unwrap();
        let keys = |found: Vec<auth0_client::session::StoredSession>| {
            let mut keys: Vec<String> = found.into_iter().map(|s| s.key).collect();
            keys.sort();
            keys
        };
        let mut expected = vec![a.key(), b.key()];
        expected.sort();
        assert_eq!(keys(store.auth0_sessions(&sid).await.unwrap()), expected);
        assert_eq!(store.user_sessions(&user).await.unwrap().len(), 3);

        let rotated = SessionHandle::new(unique("h"));
        let record = store.get_session(&b).await.unwrap().unwrap();
        store
            .rotate_session(&b, &rotated, &record, Duration::ZERO)
            .await
            .unwrap();
        let mut expected = vec![a.key(), rotated.key()];
        expected.sort();
        assert_eq!(keys(store.auth0_sessions(&sid).await.unwrap()), expected);

        assert!(store.delete_session_key(&a.key()).await.unwrap().is_some());
        assert!(store.delete_session_key(&a.key()).await.unwrap().is_none());
        assert_eq!(
            keys(store.auth0_sessions(&sid).await.unwrap()),
            [rotated.key()]
        );
        assert_eq!(store.user_sessions(&user).await.unwrap().len(), 2);

        // The replay cache.
        let name = unique("jti");
        assert!(!store.is_remembered(&name).await.unwrap());
        assert!(
            store
                .remember_once(&name, Duration::from_secs(60))
                .await
                .unwrap()
        );
        assert!(
            !store
                .remember_once(&name, Duration::from_secs(60))
                .await
                .unwrap()
        );
        assert!(store.is_remembered(&name).await.unwrap());
        assert!(
            store
                .remember_once(&unique("jti"), Duration::from_secs(60))
                .await
                .unwrap()
        );

        // Activity records, on the caller's clock.
        let (id, gap) = (unique("activity"), Duration::from_secs(100));
        assert!(
            !store.touch_activity(&id, 1_000, gap).await.unwrap(),
            "absent"
        );
        store.start_activity(&id, 1_000, gap).await.unwrap();
        assert!(store.touch_activity(&id, 50_000, gap).await.unwrap());
        assert_eq!(store.last_activity(&id).await.unwrap(), Some(50_000));
        assert!(
            !store.touch_activity(&id, 150_001, gap).await.unwrap(),
            "idle"
        );
        assert_eq!(store.last_activity(&id).await.unwrap(), Some(50_000));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn lifecycle_records_behave_on_the_memory_store() {
        every_record_behaves(&MemoryStore::new()).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn lifecycle_records_behave_on_redis() {
        let redis = RedisServer::start().await;
        let store = Store::with_backend(RedisBackend::new(&normal(&redis), "records").unwrap());
        every_record_behaves(&store).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn lifecycle_records_behave_on_a_redis_cluster() {
        let cluster = RedisCluster::start().await;
        let settings = RedisSettings {
            hosts: cluster.hosts(),
            mode: RedisMode::Cluster,
            username: None,
            password: None,
            sentinel_auth: Default::default(),
            tls: None,
        };
        let store = Store::with_backend(RedisBackend::new(&settings, "records").unwrap());
        every_record_behaves(&store).await;
    }
}
