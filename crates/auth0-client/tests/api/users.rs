//! Integration tests: the user-management routes against a real devtenant over HTTP.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::app::{
    DEV_EMAIL, DEV_PASSWORD, DEV_USER_ID, Options, TOKEN, TestApp, assert_error,
};
use auth0_client::auth0::management::{ManagementOptions, RetryPolicy};
use auth0_client::config::file::ConfigFile;
use futures::StreamExt;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

const UPA: &str = "Username-Password-Authentication";
const OTHER: &str = "Other-Database";

/// The app (auth + users routes) in front of its own devtenant: a [`TestApp`] with
/// user-management helpers.
struct UsersApp(TestApp);

impl std::ops::Deref for UsersApp {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.0
    }
}

impl UsersApp {
    async fn spawn() -> Self {
        Self::spawn_with(|_| {}, None).await
    }

    async fn spawn_with(
        edit: impl FnOnce(&mut ConfigFile) + Send + 'static,
        options: Option<ManagementOptions>,
    ) -> Self {
        Self(
            TestApp::spawn_with(Options {
                edit: Box::new(edit),
                tuning: Box::new(move |tuning| {
                    if let Some(options) = options {
                        tuning.management = options;
                    }
                }),
                ..Options::default()
            })
            .await,
        )
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .query(query)
            .send()
            .await
            .unwrap()
    }

    /// The emails `GET /users?<query>` answers (asserting 200).
    async fn emails(&self, query: &[(&str, &str)], acl_rows: Option<&str>) -> BTreeSet<String> {
        let mut request = self.http.get(self.url("/users")).query(query);
        if let Some(acl) = acl_rows {
            request = request.header("acl_rows", acl);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{query:?}: {body}");
        body.as_array()
            .expect("an array of users")
            .iter()
            .map(|u| u["email"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn create(&self, body: Value) -> reqwest::Response {
        self.http
            .post(self.url("/users"))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn create_user(&self, email: &str, connection: &str, groups: &[&str]) -> Value {
        let response = self
            .create(json!({
                "email": email,
                "password": "Passw0rd!long",
                "connection": connection,
                "app_metadata": {"groups": groups},
            }))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    async fn login_dev(&self) -> String {
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
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["accessToken"].as_str().unwrap().to_owned()
    }

    fn client_credentials_grants(&self) -> u64 {
        self.tenant
            .stats()
            .token_grants
            .get("client_credentials")
            .copied()
            .unwrap_or(0)
    }

    fn requests(&self, key: &str) -> u64 {
        self.tenant.stats().requests.get(key).copied().unwrap_or(0)
    }

    async fn import(&self, form: Form) -> reqwest::Response {
        self.http
            .post(self.url("/users/import"))
            .multipart(form)
            .send()
            .await
            .unwrap()
    }
}

fn set(emails: &[&str]) -> BTreeSet<String> {
    emails.iter().map(|e| (*e).to_owned()).collect()
}

const VIEWER: &str = "viewer@example.com";
const ALICE: &str = "alice@corp.test";
const BOB: &str = "bob@corp.test";
const CAROL: &str = "carol@other.test";

/// Seeded dev (UPA: admin, dev) and viewer (UPA: viewer), plus alice (UPA: admin),
/// bob (Other: admin, ops), carol (Other: ops).
async fn populated() -> UsersApp {
    let app = UsersApp::spawn().await;
    app.create_user(ALICE, UPA, &["admin"]).await;
    app.create_user(BOB, OTHER, &["admin", "ops"]).await;
    app.create_user(CAROL, OTHER, &["ops"]).await;
    app
}

#[tokio::test]
async fn filters_return_exactly_the_matching_users_across_connections() {
    let app = populated().await;
    let everyone = set(&[DEV_EMAIL, VIEWER, ALICE, BOB, CAROL]);
    assert_eq!(app.emails(&[], None).await, everyone);
    assert_eq!(
        app.emails(&[("app_metadata.groups", "admin")], None).await,
        set(&[DEV_EMAIL, ALICE, BOB])
    );
    assert_eq!(
        app.emails(
            &[("app_metadata.groups", "admin"), ("connection", OTHER)],
            None
        )
        .await,
        set(&[BOB])
    );
    assert_eq!(
        app.emails(&[("connection", OTHER), ("connection", UPA)], None)
            .await,
        everyone
    );
    assert_eq!(
        app.emails(&[("connection", &format!("{UPA},{OTHER}"))], None)
            .await,
        everyone
    );
    assert_eq!(
        app.emails(&[("email", "*@corp.test")], None).await,
        set(&[ALICE, BOB])
    );
    assert_eq!(
        app.emails(&[("email", BOB), ("app_metadata.groups", "ops")], None)
            .await,
        set(&[BOB])
    );
    assert_eq!(
        app.emails(&[("username", "viewer")], None).await,
        set(&[VIEWER])
    );
    assert_eq!(
        app.emails(
            &[(
                "_q",
                r#"{"$or":[{"email":"carol@other.test"},{"app_metadata.groups":{"$in":["viewer"]}}]}"#
            )],
            None
        )
        .await,
        set(&[CAROL, VIEWER])
    );
    assert_eq!(
        app.emails(
            &[("_q", r#"{"app_metadata.groups":{"$nin":["admin"]}}"#)],
            None
        )
        .await,
        set(&[VIEWER, CAROL])
    );
    assert_eq!(
        app.emails(
            &[(
                "_q",
                r#"{"email":{"$ne":"alice@corp.test"},"app_metadata.groups":"admin"}"#
            )],
            None
        )
        .await,
        set(&[DEV_EMAIL, BOB])
    );
    assert_eq!(
        app.emails(
            &[("app_metadata.groups", "admin")],
            Some(r#"[{"app_metadata.groups":"ops"}]"#)
        )
        .await,
        set(&[BOB])
    );
    assert_eq!(
        app.emails(
            &[],
            Some(r#"{"app_metadata.groups":{"$in":["dev","viewer"]}}"#)
        )
        .await,
        set(&[DEV_EMAIL, VIEWER])
    );
}

#[tokio::test]
async fn injection_attempts_match_nobody() {
    let app = populated().await;
    for (name, value) in [
        ("email", r#"a" OR email:*"#),
        ("email", r#"a") OR (email:*"#),
        ("email", r#"x\" OR email:\"*"#),
        ("email", "* OR email:*"),
        ("nickname", r#"nobody" OR _exists_:email OR nickname:"x"#),
        (
            "app_metadata.groups",
            r#"none" OR app_metadata.groups:"admin"#,
        ),
    ] {
        assert_eq!(
            app.emails(&[(name, value)], None).await,
            set(&[]),
            "{name}={value}"
        );
    }
    let filter = json!({"email": "nobody\" OR email:*"}).to_string();
    assert_eq!(app.emails(&[("_q", &filter)], None).await, set(&[]));
    let acl = json!([{"app_metadata.groups": "x\") OR (email:*"}]).to_string();
    assert_eq!(app.emails(&[], Some(&acl)).await, set(&[]));
}

#[tokio::test]
async fn bad_filters_answer_400_naming_the_problem() {
    let app = UsersApp::spawn().await;
    let cases: [(&[(&str, &str)], &str); 7] = [
        (&[("connection", "Evil")], "\"Evil\""),
        (&[("_q", r#"{"email":{"$regex":"a"}}"#)], "$regex"),
        (&[("_q", "{not json")], "_q is not valid JSON"),
        (&[("_l", "100"), ("_sk", "10")], "first 1000"),
        (&[("_l", "500")], "between 1 and 100"),
        (&[("app_metadata.a b", "x")], "app_metadata.a b"),
        (&[("sort", "email:1")], "Unknown query parameter"),
    ];
    for (query, needle) in cases {
        let message = assert_error(app.get("/users", query).await, 400).await;
        assert!(message.contains(needle), "{query:?}: {message}");
    }
    let response = app
        .http
        .get(app.url("/users/count"))
        .header("acl_rows", "[]")
        .send()
        .await
        .unwrap();
    assert!(assert_error(response, 400).await.contains("acl_rows"));
    assert_eq!(
        app.requests("GET /api/v2/users"),
        0,
        "nothing reached Auth0"
    );
}

#[tokio::test]
async fn pages_cover_every_user_once_and_count_counts_the_filtered_users() {
    let app = populated().await;
    let mut seen = BTreeSet::new();
    let mut sizes = Vec::new();
    for page in ["0", "1", "2"] {
        let emails = app.emails(&[("_l", "2"), ("_sk", page)], None).await;
        sizes.push(emails.len());
        seen.extend(emails);
    }
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(seen.len(), 5);
    let count = |query: &'static [(&'static str, &'static str)]| {
        let app = &app;
        async move {
            let response = app.get("/users/count", query).await;
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(count(&[]).await, json!({"count": 5}));
    assert_eq!(
        count(&[("app_metadata.groups", "admin")]).await,
        json!({"count": 3})
    );
    assert_eq!(
        count(&[("connection", "Other-Database")]).await,
        json!({"count": 2})
    );
}

#[tokio::test]
async fn active_users_lists_each_logged_in_user_once() {
    let app = UsersApp::spawn().await;
    let response = app.get("/users/active", &[]).await;
    assert_eq!(response.json::<Value>().await.unwrap(), json!([]));
    app.login_dev().await;
    app.login_dev().await;
    let response = app.get("/users/active", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!([{"userId": DEV_USER_ID}])
    );
}

#[tokio::test]
async fn a_user_is_created_on_the_default_connection_patched_read_and_deleted() {
    let app = UsersApp::spawn().await;
    let response = app
        .create(json!({"email": "new@corp.test", "password": "Passw0rd!long"}))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["identities"][0]["connection"], UPA);
    let id = user["user_id"].as_str().unwrap().to_owned();
    let path = format!("/users/{}", urlencode(&id));

    let response = app
        .http
        .patch(app.url(&path))
        .json(&json!({"app_metadata": {"groups": ["ops"]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let patched: Value = response.json().await.unwrap();
    assert_eq!(patched["app_metadata"]["groups"], json!(["ops"]));

    let response = app.get(&path, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap()["email"],
        "new@corp.test"
    );

    let conflict = app
        .create(json!({"email": "new@corp.test", "password": "Passw0rd!long"}))
        .await;
    assert_error(conflict, 409).await;

    let response = app.http.delete(app.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_error(app.get(&path, &[]).await, 404).await;
}

#[tokio::test]
async fn create_refuses_unsupported_connections_and_bodies_that_are_not_objects() {
    let app = UsersApp::spawn().await;
    let message = assert_error(
        app.create(
            json!({"email": "x@corp.test", "password": "Passw0rd!long", "connection": "Nope"}),
        )
        .await,
        400,
    )
    .await;
    assert!(message.contains("\"Nope\""), "{message}");
    assert_error(app.create(json!(["not", "an", "object"])).await, 400).await;
    assert_error(
        app.create(json!({"email": "x@corp.test", "connection": 7}))
            .await,
        400,
    )
    .await;
    assert_eq!(app.requests("POST /api/v2/users"), 0);
}

#[tokio::test]
async fn create_without_a_default_connection_is_400_in_either_config_form() {
    let current = UsersApp::spawn_with(
        |file| file.management_client.default_management_connection_name = None,
        None,
    )
    .await;
    let deprecated = UsersApp::spawn_with(
        |file| {
            let client = &mut file.management_client;
            client.default_management_connection_name = None;
            client.supported_connections_map = None;
            client.supported_connections = Some(vec![UPA.to_owned(), OTHER.to_owned()]);
        },
        None,
    )
    .await;
    for app in [&current, &deprecated] {
        let message = assert_error(
            app.create(json!({"email": "x@corp.test", "password": "Passw0rd!long"}))
                .await,
            400,
        )
        .await;
        assert!(message.contains("no default"), "{message}");
        let created = app
            .create(
                json!({"email": "x@corp.test", "password": "Passw0rd!long", "connection": OTHER}),
            )
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
    }
}

#[tokio::test]
async fn deleting_a_user_ends_their_sessions() {
    let app = UsersApp::spawn().await;
    let token = app.login_dev().await;
    assert_eq!(app.sessions.active_users().await.unwrap(), [DEV_USER_ID]);
    let response = app
        .http
        .delete(app.url(&format!("/users/{}", urlencode(DEV_USER_ID))))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(app.sessions.active_users().await.unwrap().is_empty());
    let response = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get("/users/active", &[])
            .await
            .json::<Value>()
            .await
            .unwrap(),
        json!([])
    );
}

#[tokio::test]
async fn unknown_users_are_404_and_static_paths_are_not_user_ids() {
    let app = UsersApp::spawn().await;
    assert_error(app.get("/users/auth0%7Cnobody", &[]).await, 404).await;
    assert_error(app.get("/users/me", &[]).await, 401).await;
    assert_eq!(app.get("/users/count", &[]).await.status(), StatusCode::OK);
    assert_eq!(app.get("/users/active", &[]).await.status(), StatusCode::OK);
    assert_eq!(app.requests("GET /api/v2/users/{id}"), 1);
}

fn users_part(body: Vec<u8>) -> Part {
    Part::bytes(body)
        .file_name("users.json")
        .mime_str("application/json")
        .unwrap()
}

#[tokio::test]
async fn an_import_job_runs_and_reports_its_errors() {
    let app = UsersApp::spawn().await;
    let users = json!([
        {"email": "imported@corp.test", "app_metadata": {"groups": ["ops"]}},
        {"email": DEV_EMAIL},
        {"email": "clear@corp.test", "password": "not-a-hash"},
    ]);
    let form = Form::new()
        .part("users", users_part(users.to_string().into_bytes()))
        .text("connection", OTHER)
        .text("upsert", "false")
        .text("external_id", "batch-1");
    let response = app.import(form).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let job: Value = response.json().await.unwrap();
    assert_eq!(job["connection_id"], "con_OTH0000000000002");
    assert_eq!(job["external_id"], "batch-1");
    let id = job["id"].as_str().unwrap().to_owned();

    let mut status = Value::Null;
    for _ in 0..100 {
        let response = app.get(&format!("/users/import/status/{id}"), &[]).await;
        assert_eq!(response.status(), StatusCode::OK);
        status = response.json().await.unwrap();
        if status["status"] == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(status["summary"]["inserted"], 2, "{status}");
    assert_eq!(status["summary"]["failed"], 1, "{status}");

    let response = app
        .get(&format!("/users/import/status/{id}/errors"), &[])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let errors: Value = response.json().await.unwrap();
    assert_eq!(errors.as_array().unwrap().len(), 1, "{errors}");
    assert_eq!(errors[0]["errors"][0]["code"], "INVALID_FORMAT");
    assert!(!errors.to_string().contains("not-a-hash"));
    assert_eq!(
        app.emails(&[("_q", r#"{"app_metadata.groups":"ops"}"#)], None)
            .await,
        set(&["imported@corp.test"])
    );
    assert_error(app.get("/users/import/status/job_nope", &[]).await, 404).await;
}

#[tokio::test]
async fn an_import_on_the_default_connection_with_a_duplicate_reports_it() {
    let app = UsersApp::spawn().await;
    let form = Form::new().part(
        "users",
        users_part(json!([{"email": DEV_EMAIL}]).to_string().into_bytes()),
    );
    let job: Value = app.import(form).await.json().await.unwrap();
    assert_eq!(job["connection_id"], "con_UPA0000000000001");
    let errors_path = format!(
        "/users/import/status/{}/errors",
        job["id"].as_str().unwrap()
    );
    let mut errors = Value::Null;
    for _ in 0..100 {
        let response = app.get(&errors_path, &[]).await;
        if response.status() == StatusCode::OK {
            errors = response.json().await.unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        errors[0]["errors"][0]["code"], "DUPLICATED_USER",
        "{errors}"
    );
}

#[tokio::test]
async fn imports_refuse_connection_id_unknown_connections_big_files_and_the_deprecated_form() {
    let app = UsersApp::spawn().await;
    let small = || users_part(b"[]".to_vec());
    let message = assert_error(
        app.import(
            Form::new()
                .part("users", small())
                .text("connection_id", "con_UPA0000000000001"),
        )
        .await,
        400,
    )
    .await;
    assert!(
        message.contains("connection_id is not accepted"),
        "{message}"
    );
    let message = assert_error(
        app.import(
            Form::new()
                .part("users", small())
                .text("connection", "Nope"),
        )
        .await,
        400,
    )
    .await;
    assert!(message.contains("\"Nope\""), "{message}");
    for entries in [30_200, 40_000] {
        // Just over the 500 KB file limit (within the body limit), and far over both.
        let big = format!("[{}]", vec![r#"{"email":"a@b.c"}"#; entries].join(","));
        assert!(big.len() > 500 * 1024, "{}", big.len());
        let message = assert_error(
            app.import(Form::new().part("users", users_part(big.into_bytes())))
                .await,
            413,
        )
        .await;
        assert!(message.contains("500 KB"), "{message}");
    }
    let response = app
        .http
        .post(app.url("/users/import"))
        .json(&json!({"users": []}))
        .send()
        .await
        .unwrap();
    assert_error(response, 400).await;
    assert_error(app.import(Form::new().text("upsert", "true")).await, 400).await;
    assert_eq!(app.requests("POST /api/v2/jobs/users-imports"), 0);

    let deprecated = UsersApp::spawn_with(
        |file| {
            let client = &mut file.management_client;
            client.default_management_connection_name = None;
            client.supported_connections_map = None;
            client.supported_connections = Some(vec![UPA.to_owned()]);
            client.default_create_user_connection = Some(UPA.to_owned());
        },
        None,
    )
    .await;
    let message = assert_error(
        deprecated
            .import(Form::new().part("users", small()).text("connection", UPA))
            .await,
        400,
    )
    .await;
    assert!(message.contains("deprecated"), "{message}");
}

#[tokio::test]
async fn a_rate_limited_call_waits_for_the_window_then_answers_429_with_retry_after() {
    let app = UsersApp::spawn().await;
    app.emails(&[], None).await;
    app.tenant
        .faults()
        .set_rate_limit("/api/v2/users", 1, Duration::from_secs(1));
    for _ in 0..3 {
        assert_eq!(app.emails(&[], None).await.len(), 2);
    }
    assert!(
        app.requests("GET /api/v2/users") > 4,
        "some calls were retried: {:?}",
        app.tenant.stats().requests
    );

    app.tenant
        .faults()
        .set_rate_limit("/api/v2/users", 1, Duration::from_secs(60));
    assert_eq!(app.emails(&[], None).await.len(), 2);
    let before = app.requests("GET /api/v2/users");
    let response = app.get("/users", &[]).await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((50..=61).contains(&retry_after), "{retry_after}");
    assert_eq!(
        app.requests("GET /api/v2/users"),
        before + 1,
        "a wait past the bound is not waited: one call, no retry"
    );
    assert!(assert_error(response, 429).await.contains("Retry-After"));
}

#[tokio::test]
async fn one_token_serves_many_and_concurrent_calls() {
    let app = UsersApp::spawn().await;
    let statuses: Vec<StatusCode> = futures::stream::iter(0..50)
        .map(|_| async { app.get("/users", &[]).await.status() })
        .buffer_unordered(50)
        .collect()
        .await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(
        app.client_credentials_grants(),
        1,
        "concurrent callers share one fetch"
    );

    let ok = futures::stream::iter(0..1000)
        .map(|_| async { app.get("/users", &[("_l", "1")]).await.status() == StatusCode::OK })
        .buffer_unordered(16)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    assert_eq!(ok, 1000);
    assert_eq!(
        app.client_credentials_grants(),
        1,
        "1050 GET /users calls, one client_credentials grant"
    );
}

#[tokio::test]
async fn an_expired_token_is_renewed_and_a_refused_one_refetched_once() {
    let app = UsersApp::spawn().await;
    app.tenant
        .faults()
        .set_access_token_ttl(Duration::from_secs(1));
    app.emails(&[], None).await;
    app.emails(&[], None).await;
    assert_eq!(app.client_credentials_grants(), 1);
    app.clock.advance(Duration::from_secs(2));
    app.emails(&[], None).await;
    assert_eq!(app.client_credentials_grants(), 2, "renewed after expiry");

    app.tenant.faults().set_error("/api/v2/users", 401);
    assert_error(app.get("/users", &[]).await, 502).await;
    assert_eq!(
        app.client_credentials_grants(),
        3,
        "refetched exactly once on 401"
    );
}

#[tokio::test]
async fn auth0_failures_map_to_502_and_504_and_its_4xx_keep_their_message() {
    let options = ManagementOptions {
        call_timeout: Duration::from_millis(300),
        retry: RetryPolicy {
            max_attempts: 3,
            max_wait: Duration::from_secs(5),
        },
    };
    let app = UsersApp::spawn_with(|_| {}, Some(options)).await;
    app.tenant.faults().set_error("/api/v2/users", 503);
    assert_error(app.get("/users", &[]).await, 502).await;
    app.tenant.faults().clear();
    app.tenant
        .faults()
        .set_latency("/api/v2/users", Duration::from_secs(1));
    assert_error(app.get("/users", &[]).await, 504).await;
    app.tenant.faults().clear();
    let response = app
        .http
        .patch(app.url(&format!("/users/{}", urlencode(DEV_USER_ID))))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let message = assert_error(response, 400).await;
    assert!(message.contains("Too few properties"), "{message}");
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[tokio::test]
async fn concurrent_callers_share_one_failed_token_fetch() {
    let options = ManagementOptions {
        call_timeout: Duration::from_millis(300),
        retry: RetryPolicy {
            max_attempts: 3,
            max_wait: Duration::from_secs(5),
        },
    };
    let app = UsersApp::spawn_with(|_| {}, Some(options)).await;
    app.tenant
        .faults()
        .set_latency("/oauth/token", Duration::from_secs(2));
    let statuses: Vec<StatusCode> = futures::stream::iter(0..10)
        .map(|_| async { app.get("/users", &[]).await.status() })
        .buffer_unordered(10)
        .collect()
        .await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::GATEWAY_TIMEOUT),
        "{statuses:?}"
    );
    assert_eq!(app.requests("POST /oauth/token"), 1);
    app.tenant.faults().clear();
    assert_eq!(
        app.emails(&[], None).await.len(),
        2,
        "recovers on the next call"
    );
}

#[tokio::test]
async fn deleting_a_user_ends_their_sessions_on_memory_and_redis() {
    use crate::support::app::{Store, TestApp};
    for store in [Store::Memory, Store::Redis] {
        let app = TestApp::spawn_on(store).await;
        let tokens = app.login_tokens().await;
        let active: Value = app
            .http
            .get(app.url("/users/active"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(active, json!([{"userId": DEV_USER_ID}]), "{store:?}");
        let response = app
            .http
            .delete(app.url(&format!("/users/{}", urlencode(DEV_USER_ID))))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{store:?}");
        let response = app.get_bearer("/userinfo", &tokens.access_token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{store:?}");
        let active: Value = app
            .http
            .get(app.url("/users/active"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(active, json!([]), "{store:?}");
    }
}
