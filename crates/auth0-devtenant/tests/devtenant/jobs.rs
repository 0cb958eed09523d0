use std::time::Duration;

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::support::*;

async fn import(
    t: &auth0_devtenant::DevTenant,
    token: &str,
    users: Vec<u8>,
    connection_id: &str,
    upsert: bool,
) -> (u16, Value) {
    let form = Form::new()
        .part(
            "users",
            Part::bytes(users)
                .file_name("users.json")
                .mime_str("application/json")
                .unwrap(),
        )
        .text("connection_id", connection_id.to_owned())
        .text("upsert", upsert.to_string())
        .text("external_id", "ext-1")
        .text("send_completion_email", "false");
    let response = http()
        .post(format!("{}/api/v2/jobs/users-imports", t.url()))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn wait_completed(t: &auth0_devtenant::DevTenant, token: &str, id: &str) -> Value {
    for _ in 0..500 {
        let (status, _, job) =
            management(t, token, Method::GET, &format!("/api/v2/jobs/{id}"), None).await;
        assert_eq!(status, 200);
        if job["status"] == "completed" {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("job {id} did not complete");
}

#[tokio::test]
async fn an_import_job_runs_asynchronously_and_reports_its_errors() {
    let t = tenant().await;
    let token = management_token(&t).await;
    let users = json!([
        {"email": "imported@example.com", "email_verified": true, "app_metadata": {"groups": ["imported"]}},
        {"email": "dev@example.com"},
        {"name": "no email"},
        {"email": "clear@example.com", "password": "not-a-hash"},
    ]);
    let (status, job) = import(
        &t,
        &token,
        serde_json::to_vec(&users).unwrap(),
        "con_UPA0000000000001",
        false,
    )
    .await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["status"], "pending");
    assert_eq!(job["type"], "users_import");
    assert_eq!(job["connection_id"], "con_UPA0000000000001");
    assert_eq!(job["external_id"], "ext-1");
    let id = job["id"].as_str().unwrap();
    assert!(id.starts_with("job_"));

    let done = wait_completed(&t, &token, id).await;
    assert_eq!(
        done["summary"],
        json!({"failed": 3, "updated": 0, "inserted": 1, "total": 4})
    );
    let (status, _, errors) = management(
        &t,
        &token,
        Method::GET,
        &format!("/api/v2/jobs/{id}/errors"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let codes: Vec<&str> = errors
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["errors"][0]["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["DUPLICATED_USER", "INVALID_FORMAT", "INVALID_FORMAT"]
    );
    assert!(
        !errors.to_string().contains("not-a-hash"),
        "passwords are not echoed"
    );

    let (_, _, found) = management(
        &t,
        &token,
        Method::GET,
        "/api/v2/users?q=app_metadata.groups%3Aimported",
        None,
    )
    .await;
    assert_eq!(found[0]["email"], "imported@example.com");
    t.shutdown().await;
}

#[tokio::test]
async fn upsert_updates_existing_users_and_a_clean_job_has_no_errors() {
    let t = tenant().await;
    let token = management_token(&t).await;
    let users = json!([{"email": "dev@example.com", "name": "Imported Name"}]);
    let (status, job) = import(
        &t,
        &token,
        serde_json::to_vec(&users).unwrap(),
        "con_UPA0000000000001",
        true,
    )
    .await;
    assert_eq!(status, 202);
    let id = job["id"].as_str().unwrap();
    let done = wait_completed(&t, &token, id).await;
    assert_eq!(done["summary"]["updated"], 1);
    let (status, _, _) = management(
        &t,
        &token,
        Method::GET,
        &format!("/api/v2/jobs/{id}/errors"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (_, _, user) = management(
        &t,
        &token,
        Method::GET,
        "/api/v2/users/auth0%7Cdev000000000000000000001",
        None,
    )
    .await;
    assert_eq!(user["name"], "Imported Name");
    t.shutdown().await;
}

#[tokio::test]
async fn imports_refuse_big_files_unknown_connections_and_bad_json() {
    let t = tenant().await;
    let token = management_token(&t).await;
    let mut big = b"[".to_vec();
    while big.len() <= 500 * 1024 {
        big.extend_from_slice(
            br#"{"email":"padding-user@example.com","name":"padding padding padding"},"#,
        );
    }
    big.extend_from_slice(br#"{"email":"last@example.com"}]"#);
    let (status, body) = import(&t, &token, big, "con_UPA0000000000001", false).await;
    assert_eq!(status, 413);
    assert_eq!(body["statusCode"], 413);

    let (status, body) = import(&t, &token, b"[]".to_vec(), "con_NOPE", false).await;
    assert_eq!(status, 400);
    assert_eq!(body["errorCode"], "inexistent_connection");

    let (status, _) = import(
        &t,
        &token,
        b"{not json".to_vec(),
        "con_UPA0000000000001",
        false,
    )
    .await;
    assert_eq!(status, 400);

    let (status, _, body) =
        management(&t, &token, Method::GET, "/api/v2/jobs/job_nope", None).await;
    assert_eq!(status, 404);
    assert_eq!(body["statusCode"], 404);
    t.shutdown().await;
}
