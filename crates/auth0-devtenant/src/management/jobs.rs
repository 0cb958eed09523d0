//! `POST /api/v2/jobs/users-imports` (multipart, 500 KB limit, runs asynchronously),
//! `GET /api/v2/jobs/{id}` and `GET /api/v2/jobs/{id}/errors`.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::errors::MgmtError;
use crate::management::auth::require_scope;
use crate::state::Tenant;
use crate::users::{StoreError, UserRecord};
use crate::util::{lock, now_iso, random_token};

/// Auth0's limit on the users file.
pub(crate) const MAX_USERS_FILE: usize = 500 * 1024;

/// Delay before a job starts, so callers can see it pending.
const START_DELAY: Duration = Duration::from_millis(50);

/// A users-imports job.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    /// The job object as Auth0 returns it.
    pub(crate) body: Value,
    /// The per-user errors (`/errors`).
    pub(crate) errors: Vec<Value>,
}

struct ImportRequest {
    users: Vec<u8>,
    connection_id: Option<String>,
    upsert: bool,
    external_id: Option<String>,
    send_completion_email: bool,
}

async fn read_form(mut multipart: Multipart) -> Result<ImportRequest, MgmtError> {
    let mut request = ImportRequest {
        users: Vec::new(),
        connection_id: None,
        upsert: false,
        external_id: None,
        send_completion_email: true,
    };
    let mut has_users = false;
    let bad = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            MgmtError::invalid_body(format!("Invalid multipart body: {e}"))
        }
    };
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_owned();
        let data = field.bytes().await.map_err(bad)?;
        let text = || String::from_utf8_lossy(&data).trim().to_owned();
        match name.as_str() {
            "users" => {
                has_users = true;
                request.users = data.to_vec();
            }
            "connection_id" => request.connection_id = Some(text()),
            "upsert" => request.upsert = text() == "true",
            "external_id" => request.external_id = Some(text()),
            "send_completion_email" => request.send_completion_email = text() != "false",
            other => {
                return Err(MgmtError::invalid_body(format!(
                    "Payload validation error: 'Additional properties not allowed: {other}'."
                )));
            }
        }
    }
    if !has_users {
        return Err(MgmtError::invalid_body(
            "Payload validation error: 'Missing required property: users'.",
        ));
    }
    Ok(request)
}

fn too_large() -> MgmtError {
    MgmtError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "Payload validation error: the users file exceeds the maximum allowed size of 500KB.",
        "too_large",
    )
}

/// `POST /api/v2/jobs/users-imports`: answers 202 with the pending job.
pub(crate) async fn create_import(
    State(tenant): State<Arc<Tenant>>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Result<Response, MgmtError> {
    require_scope(&tenant, &headers, "create:users")?;
    let request = read_form(multipart).await?;
    if request.users.len() > MAX_USERS_FILE {
        return Err(too_large());
    }
    let connection_id = request
        .connection_id
        .clone()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            MgmtError::invalid_body(
                "Payload validation error: 'Missing required property: connection_id'.",
            )
        })?;
    let connection = tenant
        .connection_by_id(&connection_id)
        .ok_or_else(|| {
            MgmtError::invalid_body("The connection does not exist.")
                .with_code("inexistent_connection")
        })?
        .name
        .clone();
    let entries = match serde_json::from_slice::<Value>(&request.users) {
        Ok(Value::Array(entries)) => entries,
        _ => {
            return Err(MgmtError::invalid_body(
                "Users file must be a valid JSON array.",
            ));
        }
    };
    let id = format!("job_{}", random_token(12).replace(['-', '_'], "x"));
    let mut body = json!({
        "status": "pending",
        "type": "users_import",
        "created_at": now_iso(),
        "id": id,
        "connection_id": connection_id,
        "connection": connection,
        "upsert": request.upsert,
        "send_completion_email": request.send_completion_email,
    });
    if let (Some(external_id), Value::Object(map)) = (&request.external_id, &mut body) {
        map.insert("external_id".to_owned(), json!(external_id));
    }
    lock(&tenant.jobs).insert(
        id.clone(),
        Job {
            body: body.clone(),
            errors: Vec::new(),
        },
    );
    let worker = tenant.clone();
    tokio::spawn(async move {
        tokio::time::sleep(START_DELAY).await;
        run_import(&worker, &id, &connection, entries, request.upsert);
    });
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// Fields never echoed back in job errors.
const SECRET_FIELDS: [&str; 3] = ["password", "password_hash", "custom_password_hash"];

const IMPORT_IGNORED: [&str; 4] = [
    "user_id",
    "password_hash",
    "custom_password_hash",
    "mfa_factors",
];

fn run_import(tenant: &Tenant, job_id: &str, connection: &str, entries: Vec<Value>, upsert: bool) {
    let (mut inserted, mut updated, mut errors) = (0u64, 0u64, Vec::new());
    let total = entries.len();
    for entry in entries {
        match import_one(tenant, connection, &entry, upsert) {
            Ok(true) => inserted += 1,
            Ok(false) => updated += 1,
            Err((code, message, path)) => {
                let user = entry.as_object().map(|m| {
                    m.iter()
                        .filter(|(k, _)| !SECRET_FIELDS.contains(&k.as_str()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect::<Map<String, Value>>()
                });
                errors.push(json!({"user": user, "errors": [{"code": code, "message": message, "path": path}]}));
            }
        }
    }
    let failed = errors.len();
    if let Some(job) = lock(&tenant.jobs).get_mut(job_id) {
        if let Value::Object(map) = &mut job.body {
            map.insert("status".to_owned(), json!("completed"));
            map.insert("percentage_done".to_owned(), json!(100));
            map.insert("time_left_seconds".to_owned(), json!(0));
            map.insert(
                "summary".to_owned(),
                json!({"failed": failed, "updated": updated, "inserted": inserted, "total": total}),
            );
        }
        job.errors = errors;
    }
}

/// Imports one user: `Ok(true)` inserted, `Ok(false)` updated.
fn import_one(
    tenant: &Tenant,
    connection: &str,
    entry: &Value,
    upsert: bool,
) -> Result<bool, (&'static str, String, &'static str)> {
    let Some(fields) = entry.as_object() else {
        return Err((
            "INVALID_FORMAT",
            "Each user must be a JSON object".to_owned(),
            "",
        ));
    };
    if fields.contains_key("password") {
        // Auth0's import schema takes password hashes only, never clear-text passwords.
        return Err((
            "INVALID_FORMAT",
            "Additional properties not allowed: password".to_owned(),
            "password",
        ));
    }
    let Some(email) = fields.get("email").and_then(Value::as_str) else {
        return Err((
            "INVALID_FORMAT",
            "Error in email property - Missing required property: email".to_owned(),
            "email",
        ));
    };
    let mut users = tenant.users_write();
    if let Some(existing) = users
        .find_login(connection, email)
        .map(|u| u.user_id.clone())
    {
        if !upsert {
            return Err((
                "DUPLICATED_USER",
                "The user already exist and upsert parameter is false".to_owned(),
                "",
            ));
        }
        return match users.update(&existing, |user| user.apply(fields, &IMPORT_IGNORED)) {
            Ok(Ok(_)) => Ok(false),
            Ok(Err(StoreError::Conflict(message))) => Err(("CONFLICT", message.to_owned(), "")),
            Ok(Err(StoreError::NotFound)) => Err(("INTERNAL", "user vanished".to_owned(), "")),
            Err(invalid) => Err(("INVALID_FORMAT", invalid.0, "")),
        };
    }
    let requested_id = fields.get("user_id").and_then(Value::as_str);
    let mut user = UserRecord::new(connection, requested_id);
    user.apply(fields, &IMPORT_IGNORED)
        .map_err(|invalid| ("INVALID_FORMAT", invalid.0, ""))?;
    match users.insert(user) {
        Ok(_) => Ok(true),
        Err(StoreError::Conflict(_)) => Err((
            "DUPLICATED_USER",
            "The user already exist and upsert parameter is false".to_owned(),
            "",
        )),
        Err(StoreError::NotFound) => Err(("INTERNAL", "user vanished".to_owned(), "")),
    }
}

fn job_not_found() -> MgmtError {
    MgmtError::new(
        StatusCode::NOT_FOUND,
        "The job does not exist.",
        "inexistent_job",
    )
}

/// `GET /api/v2/jobs/{id}`.
pub(crate) async fn get_job(
    State(tenant): State<Arc<Tenant>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, MgmtError> {
    require_scope(&tenant, &headers, "create:users")?;
    let jobs = lock(&tenant.jobs);
    let job = jobs.get(&id).ok_or_else(job_not_found)?;
    Ok(Json(job.body.clone()).into_response())
}

/// `GET /api/v2/jobs/{id}/errors`: the per-user errors, or 204 when there are none.
pub(crate) async fn get_job_errors(
    State(tenant): State<Arc<Tenant>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, MgmtError> {
    require_scope(&tenant, &headers, "create:users")?;
    let jobs = lock(&tenant.jobs);
    let job = jobs.get(&id).ok_or_else(job_not_found)?;
    if job.errors.is_empty() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(Json(Value::Array(job.errors.clone())).into_response())
}
