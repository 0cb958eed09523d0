//! Integration tests: operations routes, request ids, metrics, docs, SERVICE_PREFIX,
//! graceful shutdown, log redaction, and the `check-config` command.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::app::{
    DEV_EMAIL, DEV_PASSWORD, Options, TOKEN, TestApp, assert_error, config_file, settings,
};
use crate::support::wait::until;
use auth0_client::config::env::{LogLevel, Settings};
use auth0_client::config::file::ConfigFile;
use auth0_client::telemetry::{JsonLayer, LineWriter};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing_subscriber::layer::SubscriberExt as _;

/// The real `Application` (router, middleware, shutdown) on loopback, port 0: a
/// [`TestApp`] with a plain `GET` helper.
struct Served(TestApp);

impl std::ops::Deref for Served {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.0
    }
}

impl Served {
    async fn start(edit: impl FnOnce(&mut Settings, &mut ConfigFile) + Send + 'static) -> Served {
        // `edit` sees the settings and the config file together: it runs on the file,
        // the settings it wrote replace the harness's.
        let edited = Arc::new(Mutex::new(None::<Settings>));
        let slot = edited.clone();
        Served(
            TestApp::spawn_with(Options {
                edit: Box::new(move |file| {
                    let mut settings = settings();
                    edit(&mut settings, file);
                    *slot.lock().unwrap() = Some(settings);
                }),
                edit_settings: Box::new(move |settings| {
                    if let Some(edited) = edited.lock().unwrap().take() {
                        *settings = edited;
                    }
                }),
                ..Options::default()
            })
            .await,
        )
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn health_and_readiness_answer_ok_with_name_and_version() {
    let app = Served::start(|_, _| {}).await;
    for path in ["/-/healthz", "/-/ready", "/-/check-up"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let mut body: Value = response.json().await.unwrap();
        // The check-up also names each dependency (tests/api/platform.rs).
        body.as_object_mut().unwrap().remove("checks");
        assert_eq!(
            body,
            serde_json::json!({"status": "OK", "name": "auth0-client", "version": "test"}),
            "{path}"
        );
    }
}

#[tokio::test]
async fn check_up_is_ko_when_a_tenant_jwks_is_unreachable() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = Served::start(move |_, file| {
        if let Some(client) = file.clients.get_mut(TOKEN) {
            client.auth0_url = format!("http://127.0.0.1:{closed}");
        }
    })
    .await;
    let response = app.get("/-/check-up").await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "KO");
    assert_eq!(
        app.get("/-/healthz").await.status(),
        200,
        "liveness does not depend on Auth0"
    );
}

#[tokio::test]
async fn request_id_is_echoed_or_generated_on_every_response_including_errors() {
    let app = Served::start(|_, _| {}).await;
    let given = app
        .http
        .get(format!("{}/userinfo", app.address))
        .header("x-request-id", "req-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "req-abc-123");
    assert_eq!(given.status(), 401);
    let generated = app.get("/no/such/route").await;
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    assert_error(generated, 404).await;
}

#[tokio::test]
async fn a_known_route_with_another_method_is_a_json_405_with_a_request_id() {
    let app = Served::start(|_, _| {}).await;
    let response = app
        .http
        .delete(format!("{}/userinfo", app.address))
        .header("x-request-id", "req-405")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-405");
    assert_error(response, 405).await;
    let text = app.get("/-/metrics").await.text().await.unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="DELETE",route="/userinfo",status="405"} 1"#),
        "{text}"
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_status() {
    let app = Served::start(|_, _| {}).await;
    app.get("/users/auth0%7Cnobody-metrics").await;
    let text = app.get("/-/metrics").await.text().await.unwrap();
    assert!(text.contains("http_requests_total"), "{text}");
    assert!(text.contains(r#"route="/users/{userId}""#), "{text}");
    assert!(text.contains("http_request_duration_seconds"), "{text}");
}

#[tokio::test]
async fn openapi_document_lists_auth_users_and_ops_routes() {
    let app = Served::start(|_, _| {}).await;
    for path in ["/documentation/json", "/documentations/json"] {
        let doc: Value = app.get(path).await.json().await.unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{path}");
        for route in [
            "/oauth/token",
            "/authorize",
            "/logout",
            "/users",
            "/users/{userId}",
            "/-/check-up",
        ] {
            assert!(doc["paths"].get(route).is_some(), "{path} lacks {route}");
        }
    }
    let page = app.get("/documentation").await.text().await.unwrap();
    assert!(page.contains("documentation/json"));
}

#[tokio::test]
async fn service_prefix_applies_to_api_routes_but_not_ops_routes() {
    let app = Served::start(|settings, _| settings.service_prefix = "/auth".to_owned()).await;
    assert_error(app.get("/auth/userinfo").await, 401).await;
    assert_error(app.get("/userinfo").await, 404).await;
    assert_eq!(app.get("/-/healthz").await.status(), 200);
    assert_eq!(app.get("/auth/-/healthz").await.status(), 404);
    let doc: Value = app.get("/documentation/json").await.json().await.unwrap();
    assert!(doc["paths"].get("/auth/oauth/token").is_some());
    assert!(doc["paths"].get("/-/ready").is_some());
}

#[tokio::test]
async fn readiness_fails_at_once_on_shutdown_and_the_listener_closes_after_the_delay() {
    let app =
        Served::start(|settings, _| settings.delay_shutdown = Duration::from_millis(1500)).await;
    assert_eq!(app.get("/-/ready").await.status(), 200);
    app.lifecycle.shutdown();
    let response = app.get("/-/ready").await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "KO");
    assert_eq!(
        app.get("/-/healthz").await.status(),
        200,
        "still serving during the delay"
    );
    let stopped = tokio::time::timeout(Duration::from_secs(10), app.0.server).await;
    assert!(
        matches!(stopped, Ok(Ok(Ok(())))),
        "server stops after the delay"
    );
    let fresh = reqwest::Client::new();
    assert!(
        fresh
            .get(format!("{}/-/healthz", app.0.address))
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn log_lines_have_the_platform_shape_and_never_carry_passwords_or_tokens() {
    let buffer = Arc::new(Mutex::new(Vec::<u8>::new()));
    let writer: LineWriter = buffer.clone();
    let subscriber = tracing_subscriber::registry().with(JsonLayer::new(LogLevel::Trace, writer));
    // The test runtime is single-threaded: the app's tasks run under this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = Served::start(|_, _| {}).await;
    let response = app
        .http
        .post(format!(
            "{}/oauth/token?password={DEV_PASSWORD}",
            app.address
        ))
        .header("client-type", TOKEN)
        .header("x-request-id", "log-test-1")
        .form(&[
            ("grant_type", "password"),
            ("username", DEV_EMAIL),
            ("password", DEV_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    let access = tokens["accessToken"].as_str().unwrap().to_owned();
    let refresh = tokens["refreshToken"].as_str().unwrap().to_owned();
    let user = app
        .http
        .get(format!("{}/userinfo", app.address))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(user.status(), 200);
    let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let completed: Vec<&Value> = lines
        .iter()
        .filter(|l| l["msg"] == "request completed")
        .collect();
    assert_eq!(completed.len(), 2, "{text}");
    let first = completed[0];
    assert_eq!(first["level"], 30);
    assert_eq!(first["reqId"], "log-test-1");
    assert_eq!(first["http"]["request"]["method"], "POST");
    assert_eq!(first["url"]["path"], "/oauth/token", "no query string");
    assert_eq!(first["http"]["response"]["statusCode"], 200);
    assert!(first["responseTime"].as_f64().unwrap() >= 0.0);
    assert!(first["time"].as_i64().unwrap() > 1_600_000_000_000);
    assert!(
        lines
            .iter()
            .any(|l| l["msg"] == "incoming request" && l["reqId"] == "log-test-1")
    );
    for secret in [
        DEV_PASSWORD,
        DEV_EMAIL,
        access.as_str(),
        refresh.as_str(),
        "dev-token-secret",
    ] {
        assert!(!text.contains(secret), "a log line carries a secret");
    }
}

#[test]
fn check_config_exits_1_naming_the_bad_field() {
    let dir = std::env::temp_dir().join(format!("auth0-client-check-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut file = serde_json::to_value(config_file("https://tenant.example.com")).unwrap();
    file["defaultClient"] = Value::from("nobody");
    file["clients"]["website"]["sameSite"] = Value::from("Loose");
    std::fs::write(dir.join("config.json"), file.to_string()).unwrap();
    let run = |name: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_auth0-client"))
            .arg("check-config")
            .env_clear()
            .env("SERVICE_CONFIG_PATH", &dir)
            .env("SERVICE_CONFIG_FILE_NAME", name)
            .env("ORIGINAL_PROTOCOL_HEADER", "x-forwarded-proto")
            .output()
            .unwrap()
    };
    let output = run("config");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/clients/website/sameSite"), "{stderr}");
    assert!(!stderr.contains("dev-website-secret"), "{stderr}");

    file["clients"]["website"]["sameSite"] = Value::from("Lax");
    std::fs::write(dir.join("config.json"), file.to_string()).unwrap();
    let output = run("config.json");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/defaultClient"), "{stderr}");

    file["defaultClient"] = Value::from("website");
    std::fs::write(dir.join("config.json"), file.to_string()).unwrap();
    assert_eq!(run("config").status.code(), Some(0));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn schema_command_prints_the_shipped_schema() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_auth0-client"))
        .arg("schema")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let schema: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        schema["required"],
        serde_json::json!(["clients", "managementClient"])
    );
}

#[tokio::test]
async fn requests_in_flight_at_shutdown_finish() {
    let app = Served::start(|_, _| {}).await;
    app.tenant
        .faults()
        .set_latency("/oauth/token", Duration::from_millis(800));
    let login = app
        .http
        .post(format!("{}/oauth/token", app.address))
        .header("client-type", TOKEN)
        .form(&[
            ("grant_type", "password"),
            ("username", DEV_EMAIL),
            ("password", DEV_PASSWORD),
        ])
        .send();
    let login = tokio::spawn(login);
    // The event, not a pause: the login has reached Auth0 (which holds it) when the
    // shutdown starts.
    until("the login reaches the tenant", || async {
        app.tenant
            .stats()
            .requests
            .get("POST /oauth/token")
            .copied()
            == Some(1)
    })
    .await;
    app.lifecycle.shutdown();
    let response = login.await.unwrap().unwrap();
    assert_eq!(response.status(), 200, "the in-flight login completes");
    let stopped = tokio::time::timeout(Duration::from_secs(10), app.0.server).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))));
}
