//! `/api/v2/users`: search (Lucene, pages, totals, the 1000-result cap), get, create,
//! update (metadata merged at the top level, `null` deletes) and delete.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::errors::MgmtError;
use crate::lucene;
use crate::management::auth::require_scope;
use crate::state::Tenant;
use crate::users::{StoreError, UserRecord};

/// Auth0 returns at most the first 1000 results of a search.
const RESULT_CAP: u64 = 1000;
const MAX_PER_PAGE: u64 = 100;
const DEFAULT_PER_PAGE: u64 = 50;

fn number(q: &HashMap<String, String>, name: &str, default: u64) -> Result<u64, MgmtError> {
    match q.get(name).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(raw) => raw.parse::<u64>().map_err(|_| {
            MgmtError::invalid_query(format!("Query validation error: 'Expected type integer but found type string' on property {name}."))
        }),
    }
}

fn store_error(error: StoreError) -> MgmtError {
    match error {
        StoreError::NotFound => MgmtError::user_not_found(),
        StoreError::Conflict(message) => {
            MgmtError::new(StatusCode::CONFLICT, message, "auth0_idp_error")
        }
    }
}

/// Keeps or drops the listed top-level fields (`fields`, `include_fields`).
fn project(user: &Value, fields: Option<&Vec<&str>>, include: bool) -> Value {
    match (fields, user) {
        (Some(fields), Value::Object(map)) => Value::Object(
            map.iter()
                .filter(|(key, _)| fields.contains(&key.as_str()) == include)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        _ => user.clone(),
    }
}

/// `GET /api/v2/users`.
pub(crate) async fn search(
    State(tenant): State<Arc<Tenant>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, MgmtError> {
    require_scope(&tenant, &headers, "read:users")?;
    let per_page = number(&q, "per_page", DEFAULT_PER_PAGE)?;
    if per_page > MAX_PER_PAGE {
        return Err(MgmtError::invalid_query(
            "Query validation error: 'Number must be less than or equal to 100' on property per_page.",
        ));
    }
    let page = number(&q, "page", 0)?;
    if page.saturating_mul(per_page).saturating_add(per_page) > RESULT_CAP {
        return Err(MgmtError::invalid_query(
            "You can only page through the first 1000 records. See https://auth0.com/docs/users/search/v3/view-search-results-by-page#limitation",
        ));
    }
    let include_totals = q.get("include_totals").is_some_and(|v| v == "true");
    let query = lucene::parse(q.get("q").map(String::as_str).unwrap_or_default())
        .map_err(|e| MgmtError::invalid_query(format!("Invalid query: {}", e.0)))?;
    let sort = match q.get("sort").filter(|s| !s.is_empty()) {
        Some(sort) => {
            let (field, order) = sort.split_once(':').unwrap_or((sort.as_str(), "1"));
            if order != "1" && order != "-1" {
                return Err(MgmtError::invalid_query(
                    "Query validation error: 'String does not match pattern ^(([a-zA-Z0-9_\\.]+))\\:(1|-1)$' on property sort.",
                ));
            }
            Some((field.to_owned(), order == "-1"))
        }
        None => None,
    };
    let fields: Option<Vec<&str>> = q
        .get("fields")
        .filter(|f| !f.is_empty())
        .map(|f| f.split(',').collect());
    let include_fields = q.get("include_fields").is_none_or(|v| v != "false");

    let users = tenant.users_read();
    let mut matched: Vec<&Value> = users
        .iter()
        .map(UserRecord::json)
        .filter(|u| query.matches(u))
        .collect();
    if let Some((field, descending)) = &sort {
        matched.sort_by(|a, b| {
            let key = |u: &Value| {
                lucene::values(u, field)
                    .into_iter()
                    .next()
                    .unwrap_or_default()
            };
            let order = key(a).cmp(&key(b));
            if *descending { order.reverse() } else { order }
        });
    }
    let total = matched.len();
    let start = usize::try_from(page * per_page).unwrap_or(usize::MAX);
    let page_users: Vec<Value> = matched
        .into_iter()
        .skip(start)
        .take(usize::try_from(per_page).unwrap_or(usize::MAX))
        .map(|u| project(u, fields.as_ref(), include_fields))
        .collect();
    let body = if include_totals {
        json!({"start": start, "limit": per_page, "length": page_users.len(), "total": total, "users": page_users})
    } else {
        Value::Array(page_users)
    };
    Ok(Json(body).into_response())
}

/// `GET /api/v2/users-by-email?email=…`: the users with this email, in every connection.
pub(crate) async fn by_email(
    State(tenant): State<Arc<Tenant>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, MgmtError> {
    require_scope(&tenant, &headers, "read:users")?;
    let email = q
        .get("email")
        .filter(|e| !e.is_empty())
        .ok_or_else(|| {
            MgmtError::invalid_query("Query validation error: 'Missing required property: email'.")
        })?
        .to_lowercase();
    let users = tenant.users_read();
    let found: Vec<Value> = users
        .iter()
        .filter(|u| u.email.as_deref() == Some(email.as_str()))
        .map(|u| u.json().clone())
        .collect();
    Ok(Json(Value::Array(found)).into_response())
}

/// `GET /api/v2/users/{id}`.
pub(crate) async fn get_user(
    State(tenant): State<Arc<Tenant>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, MgmtError> {
    require_scope(&tenant, &headers, "read:users")?;
    let users = tenant.users_read();
    let user = users.get(&id).ok_or_else(MgmtError::user_not_found)?;
    Ok(Json(user.json().clone()).into_response())
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, MgmtError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(MgmtError::invalid_body(
            "Payload validation error: 'Expected type object but found type array'.",
        )),
        Err(_) => Err(MgmtError::invalid_body(
            "Invalid request payload JSON format",
        )),
    }
}

/// `PATCH /api/v2/users/{id}`.
pub(crate) async fn update_user(
    State(tenant): State<Arc<Tenant>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, MgmtError> {
    require_scope(&tenant, &headers, "update:users")?;
    let patch = json_object(&body)?;
    if patch.is_empty() {
        return Err(MgmtError::invalid_body(
            "Payload validation error: 'Too few properties defined (0), minimum 1'.",
        ));
    }
    let updated = {
        let mut users = tenant.users_write();
        users
            .update(&id, |user| {
                user.apply(&patch, &["connection", "client_id", "verify_email"])
            })
            .map_err(|invalid| MgmtError::invalid_body(invalid.0))?
            .map_err(store_error)?
            .json()
            .clone()
    };
    // Auth0's back-channel logout initiators: the user blocked, the password changed.
    if patch.get("blocked") == Some(&Value::Bool(true)) || patch.contains_key("password") {
        tenant
            .sessions
            .logout_user(&id, &tenant.keys, &tenant.issuer);
    }
    Ok(Json(updated).into_response())
}

/// `DELETE /api/v2/users/{id}`: 204, whether or not the user existed.
pub(crate) async fn delete_user(
    State(tenant): State<Arc<Tenant>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, MgmtError> {
    require_scope(&tenant, &headers, "delete:users")?;
    let removed = tenant.users_write().remove(&id);
    if removed {
        tenant.grants.revoke_user(&id);
        tenant
            .sessions
            .logout_user(&id, &tenant.keys, &tenant.issuer);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v2/users`.
pub(crate) async fn create_user(
    State(tenant): State<Arc<Tenant>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, MgmtError> {
    require_scope(&tenant, &headers, "create:users")?;
    let body = json_object(&body)?;
    let missing = |name: &str| {
        MgmtError::invalid_body(format!(
            "Payload validation error: 'Missing required property: {name}'."
        ))
    };
    let connection = body
        .get("connection")
        .and_then(Value::as_str)
        .ok_or_else(|| missing("connection"))?;
    if tenant.connection_by_name(connection).is_none() {
        return Err(MgmtError::invalid_body("The connection does not exist.")
            .with_code("inexistent_connection"));
    }
    if !body.contains_key("email") {
        return Err(missing("email"));
    }
    if !body.contains_key("password") {
        return Err(missing("password"));
    }
    let requested_id = match body.get("user_id") {
        None => None,
        Some(Value::String(id)) if !id.is_empty() => Some(id.as_str()),
        Some(_) => {
            return Err(MgmtError::invalid_body(
                "Payload validation error: 'Expected type string' on property user_id.",
            ));
        }
    };
    let mut user = UserRecord::new(connection, requested_id);
    user.apply(
        &body,
        &["connection", "user_id", "verify_email", "client_id"],
    )
    .map_err(|invalid| MgmtError::invalid_body(invalid.0))?;
    let mut users = tenant.users_write();
    let created = users.insert(user).map_err(store_error)?;
    Ok((StatusCode::CREATED, Json(created.json().clone())).into_response())
}
