//! Integration tests: Redis over TLS (normal, sentinel, cluster) and authenticated
//! sentinels, on real TLS-only redis-server processes with certificates made by the test.
//!
//! Each mode runs the whole store suite and a login, `/userinfo` and logout through the
//! service; each misconfiguration (wrong CA, wrong server name, no client certificate,
//! wrong sentinel password) fails the first store call and `/-/check-up` with one line
//! that names the variable to fix, without a secret.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::sessions::{Fixture, behaviours, session_of, sessions_survive_a_master_kill};
use crate::support::app::{DEV_EMAIL, Options, TestApp, Tokens, config_file};
use crate::support::redis::{
    Acl, RedisCluster, RedisSentinelSet, RedisServer, SENTINEL_MASTER, ServerTls,
};
use crate::support::tls::TlsFiles;
use auth0_client::config::env::{RedisSettings, Settings};
use auth0_client::session::redis::RedisBackend;
use auth0_client::session::{SessionHandle, SessionStore, Store, StoreError};
use auth0_devtenant::{DevTenant, TenantConfig};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

fn acl() -> Acl {
    Acl {
        username: "sessions".into(),
        password: unique("node-pw"),
    }
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

fn hosts(list: &[(String, u16)]) -> String {
    list.iter()
        .map(|(host, port)| format!("{host}:{port}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The Redis variables of a deployment, as an operator would set them.
#[derive(Clone, Default)]
struct RedisEnv(Vec<(String, String)>);

impl RedisEnv {
    fn set(mut self, name: &str, value: impl Into<String>) -> Self {
        self.0.push((name.to_owned(), value.into()));
        self
    }

    /// `REDIS_TLS=true`, trusting `files`' CA, presenting its client certificate.
    fn tls(self, files: &TlsFiles) -> Self {
        self.set("REDIS_TLS", "true")
            .set("REDIS_TLS_CA_FILE", path(&files.ca))
            .set("REDIS_TLS_CERT_FILE", path(&files.client_cert))
            .set("REDIS_TLS_KEY_FILE", path(&files.client_key))
    }

    fn acl(self, acl: &Acl) -> Self {
        self.set("REDIS_USERNAME", &acl.username)
            .set("REDIS_PASSWORD", &acl.password)
    }

    fn without(mut self, name: &str) -> Self {
        self.0.retain(|(n, _)| n != name);
        self
    }

    /// The settings these variables make, through the service's own parsing.
    fn settings(&self) -> RedisSettings {
        let mut env: HashMap<String, String> = self.0.iter().cloned().collect();
        for (name, value) in [
            ("SERVICE_CONFIG_PATH", "/unused"),
            ("SERVICE_CONFIG_FILE_NAME", "config.json"),
            ("ORIGINAL_PROTOCOL_HEADER", "x-forwarded-proto"),
        ] {
            env.entry(name.to_owned())
                .or_insert_with(|| value.to_owned());
        }
        Settings::from_lookup(|name| env.get(name).cloned())
            .unwrap_or_else(|errors| panic!("the environment is refused: {errors}"))
            .redis
            .expect("REDIS_HOSTS is set")
    }
}

fn server_tls(files: &Arc<TlsFiles>, require_client_cert: bool) -> ServerTls {
    ServerTls {
        files: files.clone(),
        require_client_cert,
    }
}

fn store_of(env: &RedisEnv) -> Arc<dyn SessionStore> {
    Arc::new(Store::with_backend(
        RedisBackend::new(&env.settings(), &unique("tls")).unwrap(),
    ))
}

/// The store suite on `store`, then a login, `/userinfo` and logout through the service.
async fn assert_store_and_service_work(env: &RedisEnv, processes: impl Send + 'static) {
    let fixture = Fixture::new(store_of(env), processes);
    // By reference: the fixture keeps the processes up for the service below.
    with_behaviours!(run_every_behaviour!(&fixture,));

    let tenant = Arc::new(DevTenant::start(TenantConfig::default()).await.unwrap());
    let service = Service::spawn(&tenant, env.settings()).await;
    let tokens = service.login().await;
    let userinfo = service.get("/userinfo", &tokens.access_token).await;
    assert_eq!(userinfo.status(), 200);
    let user: serde_json::Value = userinfo.json().await.unwrap();
    assert_eq!(user["email"], DEV_EMAIL, "{user}");
    let logout = service.get("/logout", &tokens.access_token).await;
    assert!(
        logout.status().is_success() || logout.status().is_redirection(),
        "logout: {}",
        logout.status()
    );
    assert_eq!(
        service
            .get("/userinfo", &tokens.access_token)
            .await
            .status(),
        401
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn store_and_login_work_over_tls_with_a_client_certificate_on_a_normal_redis() {
    let files = Arc::new(TlsFiles::generate());
    let acl = acl();
    let server = RedisServer::start_tls(server_tls(&files, true), Some(acl.clone())).await;
    let env = RedisEnv::default()
        .set("REDIS_HOSTS", format!("localhost:{}", server.port()))
        .tls(&files)
        .acl(&acl);
    assert_store_and_service_work(&env, server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn store_and_login_work_over_tls_on_tls_sentinels_with_requirepass() {
    let files = Arc::new(TlsFiles::generate());
    let (acl, sentinel_password) = (acl(), unique("sentinel-pw"));
    let set = RedisSentinelSet::start_tls(
        server_tls(&files, true),
        Some(acl.clone()),
        Some(sentinel_password.clone()),
    )
    .await;
    let env = RedisEnv::default()
        .set("REDIS_HOSTS", hosts(&set.sentinel_hosts()))
        .set("REDIS_MODE", "sentinel")
        .set("REDIS_MASTER_NAME", SENTINEL_MASTER)
        .set("REDIS_SENTINEL_PASSWORD", &sentinel_password)
        .tls(&files)
        .acl(&acl);
    assert_store_and_service_work(&env, set).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn store_and_login_work_over_tls_on_a_tls_cluster() {
    let files = Arc::new(TlsFiles::generate());
    let acl = acl();
    let cluster = RedisCluster::start_tls(server_tls(&files, true), Some(acl.clone())).await;
    let env = RedisEnv::default()
        .set("REDIS_HOSTS", hosts(&cluster.hosts()))
        .set("REDIS_MODE", "cluster")
        .tls(&files)
        .acl(&acl);
    assert_store_and_service_work(&env, cluster).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sentinels_are_sent_the_data_nodes_password_when_no_sentinel_password_is_set() {
    let files = Arc::new(TlsFiles::generate());
    // One password for all (the default user of the data nodes and the sentinels).
    let shared = Acl {
        username: "default".into(),
        password: unique("shared-pw"),
    };
    let set = RedisSentinelSet::start_tls(
        server_tls(&files, false),
        Some(shared.clone()),
        Some(shared.password.clone()),
    )
    .await;
    let env = RedisEnv::default()
        .set("REDIS_HOSTS", hosts(&set.sentinel_hosts()))
        .set("REDIS_MODE", "sentinel")
        .set("REDIS_MASTER_NAME", SENTINEL_MASTER)
        .set("REDIS_PASSWORD", &shared.password)
        .tls(&files)
        .without("REDIS_TLS_CERT_FILE")
        .without("REDIS_TLS_KEY_FILE");
    let store = store_of(&env);
    let (handle, session) = (SessionHandle::new(unique("h")), session_of("user", 3600));
    store.put_session(&handle, &session).await.unwrap();
    assert_eq!(store.get_session(&handle).await.unwrap(), Some(session));
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_survive_a_failover_over_tls_with_authenticated_sentinels() {
    let files = Arc::new(TlsFiles::generate());
    let (acl, sentinel_password) = (acl(), unique("sentinel-pw"));
    let mut set = RedisSentinelSet::start_tls(
        server_tls(&files, true),
        Some(acl.clone()),
        Some(sentinel_password.clone()),
    )
    .await;
    let env = RedisEnv::default()
        .set("REDIS_HOSTS", hosts(&set.sentinel_hosts()))
        .set("REDIS_MODE", "sentinel")
        .set("REDIS_MASTER_NAME", SENTINEL_MASTER)
        .set("REDIS_SENTINEL_PASSWORD", &sentinel_password)
        .tls(&files)
        .acl(&acl);
    let store = store_of(&env);
    sessions_survive_a_master_kill(&mut set, store.as_ref()).await;
}

/// The first store call fails with `StoreError::Unavailable` whose line starts with
/// `variable`, carries none of `secrets`, and the service's `/-/check-up` answers KO
/// with a log line naming the store and the same variable.
async fn assert_refused_naming(env: &RedisEnv, variable: &str, secrets: &[&str]) {
    let answer = store_of(env).ping().await;
    let Err(StoreError::Unavailable(line)) = &answer else {
        panic!("expected Unavailable, got {answer:?}");
    };
    assert!(
        line.starts_with(&format!("{variable}: ")),
        "the line names {variable}: {line}"
    );
    assert!(!line.contains('\n'), "one line: {line}");
    for secret in secrets {
        assert!(!line.contains(secret), "a secret in: {line}");
    }

    let tenant = Arc::new(DevTenant::start(TenantConfig::default()).await.unwrap());
    let served = ServedBinary::start(&tenant, env).await;
    let check_up = served.get("/-/check-up").await;
    assert_eq!(check_up.status(), 503);
    let body: serde_json::Value = check_up.json().await.unwrap();
    assert_eq!(body["status"], "KO", "{body}");
    let logs = served.stop().await;
    let store_lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("check-up: session store failed"))
        .collect();
    assert!(
        store_lines
            .iter()
            .any(|l| l.contains(&format!("{variable}: "))),
        "a check-up line names the store and {variable}:\n{logs}"
    );
    for secret in secrets {
        assert!(!logs.contains(secret), "a secret in the logs:\n{logs}");
    }
}

fn key_text(files: &TlsFiles) -> String {
    let key = std::fs::read_to_string(&files.client_key).unwrap();
    // A line of the base64 body is enough to spot any leak of the key.
    key.lines().nth(1).unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_certificate_from_another_ca_names_the_ca_file() {
    let (files, other) = (Arc::new(TlsFiles::generate()), TlsFiles::generate());
    let acl = acl();
    let server = RedisServer::start_tls(server_tls(&files, false), Some(acl.clone())).await;
    let env = RedisEnv::default()
        .set("REDIS_HOSTS", format!("127.0.0.1:{}", server.port()))
        .tls(&files)
        .without("REDIS_TLS_CA_FILE")
        .set("REDIS_TLS_CA_FILE", path(&other.ca))
        .acl(&acl);
    assert_refused_naming(
        &env,
        "REDIS_TLS_CA_FILE",
        &[&acl.password, &key_text(&files)],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_certificate_for_another_name_names_the_hosts() {
    let files = Arc::new(TlsFiles::generate_for(&["elsewhere.example"]));
    let server = RedisServer::start_tls(server_tls(&files, false), None).await;
    let env = RedisEnv::default()
        .set("REDIS_HOSTS", format!("127.0.0.1:{}", server.port()))
        .tls(&files);
    assert_refused_naming(&env, "REDIS_HOSTS", &[&key_text(&files)]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_requires_a_client_certificate_names_the_cert_file_when_none_is_set() {
    let files = Arc::new(TlsFiles::generate());
    let server = RedisServer::start_tls(server_tls(&files, true), None).await;
    let env = RedisEnv::default()
        .set("REDIS_HOSTS", format!("localhost:{}", server.port()))
        .tls(&files)
        .without("REDIS_TLS_CERT_FILE")
        .without("REDIS_TLS_KEY_FILE");
    assert_refused_naming(&env, "REDIS_TLS_CERT_FILE", &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_sentinel_password_names_the_sentinel_password() {
    let files = Arc::new(TlsFiles::generate());
    let (acl, sentinel_password) = (acl(), unique("sentinel-pw"));
    let set = RedisSentinelSet::start_tls(
        server_tls(&files, true),
        Some(acl.clone()),
        Some(sentinel_password),
    )
    .await;
    let wrong = unique("wrong-sentinel-pw");
    let env = RedisEnv::default()
        .set("REDIS_HOSTS", hosts(&set.sentinel_hosts()))
        .set("REDIS_MODE", "sentinel")
        .set("REDIS_MASTER_NAME", SENTINEL_MASTER)
        .set("REDIS_SENTINEL_PASSWORD", &wrong)
        .tls(&files)
        .acl(&acl);
    assert_refused_naming(
        &env,
        "REDIS_SENTINEL_PASSWORD",
        &[&wrong, &acl.password, &key_text(&files)],
    )
    .await;
}

/// The service on 127.0.0.1:<random port>, on the store of `redis`: a [`TestApp`].
struct Service(TestApp);

impl Service {
    async fn spawn(tenant: &Arc<DevTenant>, redis: RedisSettings) -> Service {
        Service(
            TestApp::spawn_with(Options {
                on_tenant: Some(tenant.clone()),
                redis: Some(redis),
                ..Options::default()
            })
            .await,
        )
    }

    async fn login(&self) -> Tokens {
        self.0.login_tokens().await
    }

    async fn get(&self, path: &str, bearer: &str) -> reqwest::Response {
        self.0.get_bearer(path, bearer).await
    }
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The `auth0-client serve` binary, configured by `RedisEnv` and a config file for
/// `tenant`; its stdout (the log) is collected until [`ServedBinary::stop`].
struct ServedBinary {
    child: tokio::process::Child,
    address: String,
    http: reqwest::Client,
    logs: tokio::task::JoinHandle<String>,
    _dir: crate::support::redis::TempDir,
}

impl ServedBinary {
    async fn start(tenant: &DevTenant, env: &RedisEnv) -> ServedBinary {
        let dir = crate::support::redis::TempDir::new("tls-service");
        let file = serde_json::to_string(&config_file(&tenant.url())).unwrap();
        std::fs::write(dir.path().join("config.json"), file).unwrap();
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_auth0-client"));
        command
            .arg("serve")
            .env_clear()
            .env("HTTP_PORT", "0")
            .env("SERVICE_CONFIG_PATH", dir.path())
            .env("SERVICE_CONFIG_FILE_NAME", "config.json")
            .env("ORIGINAL_PROTOCOL_HEADER", "x-forwarded-proto")
            .env("DELAY_SHUTDOWN_SECONDS", "0")
            .envs(env.0.iter().cloned())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // The log until the service says where it listens.
        let mut seen = String::new();
        let port = loop {
            let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
                .await
                .unwrap_or_else(|_| panic!("no `listening` line within 30 s:\n{seen}"))
                .unwrap()
                .unwrap_or_else(|| panic!("the service exited:\n{seen}"));
            seen.push_str(&line);
            seen.push('\n');
            let parsed: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if parsed["msg"] == "auth0-client listening" {
                break parsed["port"].as_u64().unwrap();
            }
        };
        let logs = tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                seen.push_str(&line);
                seen.push('\n');
            }
            seen
        });
        ServedBinary {
            child,
            address: format!("http://127.0.0.1:{port}"),
            http: http_client(),
            logs,
            _dir: dir,
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap()
    }

    /// Stops the service (SIGTERM, then waits for it) and returns its whole log.
    async fn stop(mut self) -> String {
        let pid = self.child.id().unwrap();
        let status = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let stderr = self.child.stderr.take();
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the service stops on SIGTERM")
            .unwrap();
        let mut logs = self.logs.await.unwrap();
        if let Some(mut stderr) = stderr {
            use tokio::io::AsyncReadExt;
            stderr.read_to_string(&mut logs).await.unwrap();
        }
        logs
    }
}

#[test]
fn check_config_names_each_bad_redis_tls_variable_and_accepts_good_files() {
    let files = TlsFiles::generate();
    let dir = crate::support::redis::TempDir::new("tls-check-config");
    let file = serde_json::to_string(&config_file("https://tenant.example.com")).unwrap();
    std::fs::write(dir.path().join("config.json"), file).unwrap();
    let run = |env: &[(&str, String)]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_auth0-client"))
            .arg("check-config")
            .env_clear()
            .env("SERVICE_CONFIG_PATH", dir.path())
            .env("SERVICE_CONFIG_FILE_NAME", "config.json")
            .env("ORIGINAL_PROTOCOL_HEADER", "x-forwarded-proto")
            .env("REDIS_HOSTS", "redis.example.com:6380")
            .envs(env.iter().cloned())
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let on = ("REDIS_TLS", "true".to_owned());
    let (code, stderr) = run(&[
        on.clone(),
        ("REDIS_TLS_CERT_FILE", path(&files.client_cert)),
    ]);
    assert_eq!(code, Some(1));
    assert!(stderr.starts_with("REDIS_TLS_KEY_FILE: "), "{stderr}");
    let (code, stderr) = run(&[
        on.clone(),
        ("REDIS_TLS_CERT_FILE", path(&files.client_cert)),
        ("REDIS_TLS_KEY_FILE", path(&files.server_key)),
    ]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.starts_with("REDIS_TLS_KEY_FILE: the key does not belong"),
        "{stderr}"
    );
    assert!(!stderr.contains(&key_text(&files)), "{stderr}");
    let (code, stderr) = run(&[("REDIS_TLS_CA_FILE", path(&files.ca))]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.starts_with("REDIS_TLS_CA_FILE: set, but REDIS_TLS is not true"),
        "{stderr}"
    );
    let (code, stderr) = run(&[
        on,
        ("REDIS_TLS_CA_FILE", path(&files.ca)),
        ("REDIS_TLS_CERT_FILE", path(&files.client_cert)),
        ("REDIS_TLS_KEY_FILE", path(&files.client_key)),
        ("REDIS_SENTINEL_PASSWORD", "sentinel-pw".to_owned()),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
}
