//! Integration tests: the platform contract (issue 14): ECS-shaped access logs,
//! Prometheus metrics (help texts, process and build metrics, bounded labels), and a
//! check-up naming each dependency.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::app::{Store, TestApp};
use auth0_client::config::env::LogLevel;
use auth0_client::telemetry::{JsonLayer, LineWriter};
use auth0_devtenant::InjectedBody;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use tracing_subscriber::layer::SubscriberExt as _;

/// Captures the log lines written while the returned guard lives (the test runtime is
/// single-threaded: the app's tasks run under this subscriber).
fn capture_logs(level: LogLevel) -> (Arc<Mutex<Vec<u8>>>, tracing::subscriber::DefaultGuard) {
    let buffer = Arc::new(Mutex::new(Vec::<u8>::new()));
    let writer: LineWriter = buffer.clone();
    let subscriber = tracing_subscriber::registry().with(JsonLayer::new(level, writer));
    (buffer, tracing::subscriber::set_default(subscriber))
}

fn lines(buffer: &Mutex<Vec<u8>>) -> Vec<Value> {
    let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// `GET /userinfo` through an API gateway: forwarding headers, a user agent, a Host
/// with a port.
async fn gateway_userinfo(app: &TestApp, token: &str, request_id: &str) -> reqwest::Response {
    app.http
        .get(app.url("/userinfo"))
        .bearer_auth(token)
        .header("x-request-id", request_id)
        .header("user-agent", "platform-test/1.0")
        .header("host", "app.example.com:8443")
        .header("x-forwarded-host", "public.example.com")
        .header("x-forwarded-for", "203.0.113.7, 10.0.0.1")
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn at_info_a_request_logs_one_request_completed_line_with_nested_ecs_fields() {
    let app = TestApp::spawn().await;
    let tokens = app.login_tokens().await;
    let (buffer, _guard) = capture_logs(LogLevel::Info);

    let response = gateway_userinfo(&app, &tokens.access_token, "ecs-1").await;
    assert_eq!(response.status(), 200);
    let body = response.bytes().await.unwrap();

    let lines = lines(&buffer);
    let mine: Vec<&Value> = lines.iter().filter(|l| l["reqId"] == "ecs-1").collect();
    assert_eq!(mine.len(), 1, "one line per request at info: {lines:?}");
    let line = mine[0];
    assert_eq!(line["level"], 30);
    assert_eq!(line["msg"], "request completed");
    assert!(line["time"].as_u64().unwrap() > 1_600_000_000_000);
    assert_eq!(
        line["http"],
        json!({
            "request": {"method": "GET", "userAgent": {"original": "platform-test/1.0"}},
            "response": {"statusCode": 200, "body": {"bytes": body.len()}}
        })
    );
    assert_eq!(line["url"], json!({"path": "/userinfo"}));
    assert_eq!(
        line["host"],
        json!({"hostname": "app.example.com", "forwardedHost": "public.example.com", "ip": "203.0.113.7"})
    );
    assert!(line["responseTime"].as_f64().unwrap() >= 0.0);
    let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    assert!(!text.contains(&tokens.access_token), "no token in the logs");
    assert!(
        !text.contains("\"http.request"),
        "nested objects, not dotted keys"
    );
}

#[tokio::test]
async fn at_trace_incoming_request_comes_first_with_the_request_fields() {
    let app = TestApp::spawn().await;
    let (buffer, _guard) = capture_logs(LogLevel::Trace);

    let response = app
        .http
        .get(app.url("/userinfo?access_token=not-logged"))
        .header("x-request-id", "ecs-2")
        .header("user-agent", "platform-test/2.0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    let lines = lines(&buffer);
    let messages: Vec<&Value> = lines
        .iter()
        .filter(|l| l["reqId"] == "ecs-2" && l["url"].is_object())
        .map(|l| &l["msg"])
        .collect();
    assert_eq!(messages, ["incoming request", "request completed"]);
    let incoming = lines
        .iter()
        .find(|l| l["msg"] == "incoming request" && l["reqId"] == "ecs-2")
        .unwrap();
    assert_eq!(incoming["level"], 10);
    assert_eq!(incoming["http"]["request"]["method"], "GET");
    assert_eq!(
        incoming["http"]["request"]["userAgent"]["original"],
        "platform-test/2.0"
    );
    assert!(incoming["http"].get("response").is_none());
    assert_eq!(incoming["url"]["path"], "/userinfo", "no query string");
    assert_eq!(
        incoming["host"]["ip"], "127.0.0.1",
        "without x-forwarded-for: the peer"
    );
    assert_eq!(incoming["host"]["hostname"], "127.0.0.1");
    let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    assert!(!text.contains("not-logged"));
}

#[tokio::test]
async fn errors_are_logged_under_error_message_and_never_as_a_flat_string() {
    let mut app = TestApp::spawn_on(Store::Redis).await;
    let (buffer, _guard) = capture_logs(LogLevel::Info);
    app.redis.as_mut().unwrap().stop().await;

    let response = app
        .http
        .get(app.url("/-/check-up"))
        .header("x-request-id", "ecs-3")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);

    let lines = lines(&buffer);
    let errors: Vec<&Value> = lines.iter().filter(|l| l.get("error").is_some()).collect();
    assert!(!errors.is_empty(), "{lines:?}");
    for line in &errors {
        assert!(line["error"]["message"].is_string(), "{line}");
    }
    let store = errors
        .iter()
        .find(|l| l["msg"] == "check-up: session store failed")
        .unwrap();
    assert_eq!(store["error"]["type"], "unavailable");
    assert_eq!(store["reqId"], "ecs-3");
}

/// `/-/metrics` as text.
async fn scrape(app: &TestApp) -> String {
    let response = app.http.get(app.url("/-/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// The value of the sample `series` (name and labels exactly as rendered), or 0.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .filter_map(|line| line.strip_prefix(series))
        .filter_map(|rest| rest.strip_prefix(' '))
        .find_map(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The metric family of a sample name (histogram series share their family's help).
fn family(name: &str) -> &str {
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .unwrap_or(name)
}

#[tokio::test]
async fn every_metric_has_help_and_the_process_build_latency_and_cache_metrics_are_there() {
    let app = TestApp::spawn().await;
    let before = scrape(&app).await;
    let tokens = app.login_tokens().await;
    for _ in 0..2 {
        let users = app
            .http
            .get(app.url("/users?email=dev@example.com"))
            .send()
            .await
            .unwrap();
        assert_eq!(users.status(), 200);
    }
    assert_eq!(app.userinfo_status(&tokens.access_token).await, 200);
    let text = scrape(&app).await;

    let mut help = BTreeSet::new();
    let mut typed = BTreeMap::new();
    let mut sampled = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, words) = rest.split_once(' ').unwrap();
            assert!(!words.trim().is_empty(), "{line}");
            help.insert(name.to_owned());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            typed.insert(name.to_owned(), kind.to_owned());
        } else if !line.is_empty() {
            let name = line.split(['{', ' ']).next().unwrap();
            sampled.insert(family(name).to_owned());
        }
    }
    for name in &sampled {
        assert!(help.contains(name), "{name} has no # HELP");
        assert!(typed.contains_key(name), "{name} has no # TYPE");
    }
    for (name, kind) in [
        ("process_cpu_seconds_total", "counter"),
        ("process_resident_memory_bytes", "gauge"),
        ("process_open_fds", "gauge"),
        ("process_start_time_seconds", "gauge"),
        ("build_info", "gauge"),
        ("http_requests_in_flight", "gauge"),
        ("auth0_call_duration_seconds", "histogram"),
        ("session_store_duration_seconds", "histogram"),
        ("management_token_cache_hits_total", "counter"),
        ("management_token_fetches_total", "counter"),
    ] {
        assert_eq!(typed.get(name).map(String::as_str), Some(kind), "{name}");
    }
    assert!(sample(&text, "process_resident_memory_bytes") > 1_000_000.0);
    assert!(sample(&text, "process_open_fds") >= 3.0);
    let build = text.lines().find(|l| l.starts_with("build_info{")).unwrap();
    assert!(build.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))));
    assert!(
        build.contains("commit=\"") && build.ends_with(" 1"),
        "{build}"
    );
    assert!(
        sample(&text, "http_requests_in_flight") >= 1.0,
        "the scrape itself is in flight"
    );
    let grew = |series: &str| sample(&text, series) - sample(&before, series);
    assert!(grew("management_token_fetches_total") >= 1.0);
    assert!(grew("management_token_cache_hits_total") >= 1.0);
    assert!(
        grew(r#"auth0_call_duration_seconds_count{endpoint="oauth_token",outcome="2xx"}"#) >= 1.0
    );
    assert!(grew(r#"session_store_duration_seconds_count{operation="get_session"}"#) >= 1.0);
    assert!(grew(r#"session_store_duration_seconds_count{operation="put_session"}"#) >= 1.0);
}

#[tokio::test]
async fn hostile_paths_and_methods_add_no_label_values() {
    let app = TestApp::spawn().await;
    let marker = uuid::Uuid::new_v4().simple().to_string();
    let hostile = [
        format!("/{marker}"),
        format!("/users/{marker}/x/y"),
        format!("/users/{marker}%22%7D%0Aevil"),
        format!("/-/{marker}"),
        format!("/documentation/{marker}"),
    ];
    for path in &hostile {
        for method in ["GET", "POST", &format!("X{}", &marker[..8]), "PROPFIND"] {
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let response = app
                .http
                .request(method, app.url(path))
                .send()
                .await
                .unwrap();
            assert!(response.status().is_client_error(), "{path}");
        }
    }
    let text = scrape(&app).await;
    assert!(!text.contains(&marker), "no label carries request input");
    assert!(!text.contains(&marker[..8]));
    assert!(!text.contains("PROPFIND"));
    let routes: BTreeSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("http_requests_total{"))
        .filter_map(|l| l.split("route=\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .collect();
    let doc: Value = app
        .http
        .get(app.url("/documentation/json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut known: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    known.extend(
        [
            "unmatched",
            "/documentation",
            "/documentation/",
            "/documentation/json",
            "/documentations/json",
        ]
        .map(str::to_owned),
    );
    for route in routes {
        assert!(known.contains(route), "{route}");
    }
    assert!(
        text.contains(r#"method="OTHER",route="unmatched""#),
        "{text}"
    );
}

async fn check_up(app: &TestApp) -> (u16, Value) {
    let response = app.http.get(app.url("/-/check-up")).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn check_up_names_the_session_store_and_each_tenant() {
    let app = TestApp::spawn().await;
    let (status, body) = check_up(&app).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "OK");
    assert_eq!(body["name"], "auth0-client");
    let tenant = format!("tenant:{}", app.tenant.url().trim_end_matches('/'));
    assert_eq!(body["checks"], json!({"sessionStore": "OK", tenant: "OK"}));
}

#[tokio::test]
async fn check_up_ko_names_the_session_store_when_redis_is_down() {
    let mut app = TestApp::spawn_on(Store::Redis).await;
    assert_eq!(check_up(&app).await.0, 200);
    app.redis.as_mut().unwrap().stop().await;

    let (status, body) = check_up(&app).await;
    assert_eq!(status, 503);
    assert_eq!(body["status"], "KO");
    let store = body["checks"]["sessionStore"].as_str().unwrap();
    assert!(
        store == "KO: unavailable" || store == "KO: timeout",
        "{store}"
    );
    let tenant = format!("tenant:{}", app.tenant.url().trim_end_matches('/'));
    assert_eq!(body["checks"][&tenant], "OK");
}

#[tokio::test]
async fn check_up_ko_when_the_jwks_answers_without_a_usable_signing_key() {
    let app = TestApp::spawn().await;
    let tenant = format!("tenant:{}", app.tenant.url().trim_end_matches('/'));
    let jwks = "/.well-known/jwks.json";
    let cases = [
        (json!({"keys": []}), "KO: no usable signing key"),
        (
            json!({"keys": [{"kty": "RSA", "kid": "k1", "use": "sig", "n": "%%%", "e": "AQAB"}]}),
            "KO: no usable signing key",
        ),
        (
            json!({"keys": [{"kty": "oct", "kid": "k2", "k": "c2VjcmV0"}]}),
            "KO: no usable signing key",
        ),
        (json!({"status": "fine"}), "KO: not a JWKS"),
    ];
    for (served, expected) in cases {
        app.tenant
            .faults()
            .set_body(jwks, 200, InjectedBody::Json(served.clone()));
        let (status, body) = check_up(&app).await;
        assert_eq!(status, 503, "{served}");
        assert_eq!(body["status"], "KO");
        assert_eq!(body["checks"][&tenant], expected, "{served}");
        assert_eq!(body["checks"]["sessionStore"], "OK");
    }
    app.tenant.faults().clear();
    app.tenant.faults().set_error(jwks, 500);
    let (_, body) = check_up(&app).await;
    assert_eq!(body["checks"][&tenant], "KO: JWKS answered 500");
    app.tenant.faults().clear();
    assert_eq!(check_up(&app).await.0, 200);
}

/// The served OpenAPI document.
async fn openapi(app: &TestApp) -> Value {
    let response = app
        .http
        .get(app.url("/documentation/json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// `additionalProperties` allows any value (`true`, or a schema without constraints).
fn assert_loose(additional: &Value) {
    let any = additional == &Value::Bool(true)
        || additional
            .as_object()
            .is_some_and(|schema| schema.keys().all(|k| k == "description"));
    assert!(any, "additionalProperties is not loose: {additional}");
}

/// Follows a local `$ref` (`#/components/schemas/Name`).
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => doc
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{reference} is not in the document")),
        None => schema,
    }
}

#[tokio::test]
async fn the_openapi_document_describes_bodies_security_and_headers() {
    let app = TestApp::spawn().await;
    let doc = openapi(&app).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));

    // /userinfo and /users/me: the user object, /users/me deprecated.
    for path in ["/userinfo", "/users/me"] {
        let get = &doc["paths"][path]["get"];
        let ok = &get["responses"]["200"];
        let user = resolve(&doc, &ok["content"]["application/json"]["schema"]);
        let required: BTreeSet<&str> = user["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            required,
            BTreeSet::from(["sub", "userId", "groups"]),
            "{path}"
        );
        for claim in ["app_metadata", "user_metadata", "email", "name", "picture"] {
            assert!(user["properties"].get(claim).is_some(), "{path} {claim}");
        }
        assert_loose(&user["additionalProperties"]);
        assert_eq!(
            get["security"],
            json!([{"bearerAuth": []}, {"sidCookie": []}]),
            "{path}"
        );
        let parameters = get["parameters"].as_array().cloned().unwrap_or_default();
        assert!(
            parameters.iter().all(|p| p["name"] != "authorization"),
            "the bearer is a security scheme, not a parameter"
        );
        assert!(ok["headers"].get("x-request-id").is_some(), "{path}");
    }
    assert_eq!(doc["paths"]["/users/me"]["get"]["deprecated"], true);
    assert!(doc["paths"]["/userinfo"]["get"].get("deprecated").is_none());
    assert!(
        doc["paths"]["/users/me"]["get"]["responses"]["200"]["headers"]
            .get("Deprecation")
            .is_some()
    );
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearerAuth"]["scheme"], "bearer");
    assert_eq!(
        schemes["sidCookie"],
        json!({"type": "apiKey", "in": "cookie", "name": "sid",
               "description": schemes["sidCookie"]["description"]})
    );

    // /oauth/token: JSON and form bodies; Set-Cookie on 200.
    let token = &doc["paths"]["/oauth/token"]["post"];
    let content = token["requestBody"]["content"].as_object().unwrap();
    assert!(content.contains_key("application/json"));
    assert!(content.contains_key("application/x-www-form-urlencoded"));
    assert!(
        token["responses"]["200"]["headers"]
            .get("Set-Cookie")
            .is_some()
    );
    let logout = &doc["paths"]["/logout"]["get"]["responses"];
    assert!(logout["302"]["headers"].get("Location").is_some());
    assert!(logout["204"]["headers"].get("Set-Cookie").is_some());
    assert!(
        doc["paths"]["/authorize"]["get"]["responses"]["302"]["headers"]
            .get("Location")
            .is_some()
    );
    assert!(
        doc["paths"]["/users"]["get"]["responses"]["429"]["headers"]
            .get("Retry-After")
            .is_some()
    );

    // /users and /users/count: the same filters, app_metadata.<path> included.
    for path in ["/users", "/users/count"] {
        let names: BTreeSet<String> = doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect();
        for name in [
            "_l",
            "_sk",
            "email",
            "nickname",
            "username",
            "connection",
            "_q",
            "app_metadata.groups",
            "acl_rows",
        ] {
            assert!(names.contains(name), "{path} lacks {name}");
        }
    }

    // The import form, and Auth0's user object (loose).
    let import = &doc["paths"]["/users/import"]["post"]["requestBody"]["content"];
    let form = resolve(&doc, &import["multipart/form-data"]["schema"]);
    assert_eq!(form["required"], json!(["users"]));
    assert_eq!(form["properties"]["users"]["format"], "binary");
    let list = &doc["paths"]["/users"]["get"]["responses"]["200"]["content"]["application/json"];
    let user = resolve(&doc, &list["schema"]["items"]);
    assert_loose(&user["additionalProperties"]);
    assert!(user["properties"].get("user_id").is_some());
    assert!(user.get("required").is_none(), "loose: nothing required");

    // Every error response is the JSON error body.
    for item in doc["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            let default = &operation["responses"]["default"]["content"]["application/json"];
            assert_eq!(default["schema"]["$ref"], "#/components/schemas/ErrorBody");
        }
    }
}

#[tokio::test]
async fn the_documentation_page_works_with_a_trailing_slash_and_loads_nothing_from_elsewhere() {
    let app = TestApp::spawn().await;
    for path in ["/documentation", "/documentation/"] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let page = response.text().await.unwrap();
        assert!(page.contains("fetch('/documentation/json')"), "{path}");
        for shown in ["Parameters", "Request body", "Responses", "Schemas"] {
            assert!(page.contains(shown), "{path} does not show {shown}");
        }
        assert!(!page.contains("src=\"http"), "no external script");
        assert!(!page.contains("href=\"http"), "no external stylesheet");
        assert!(!page.contains("@import"), "no imported stylesheet");
    }
}
