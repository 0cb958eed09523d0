//! User-management routes (SPEC §5). Not to be exposed publicly.
//!
//! Handlers are thin: read the request, call [`crate::users::Users`], map the result.
//! `/users/me` belongs to the authentication routes; static paths (`/users/active`,
//! `/users/count`, `/users/import`) take precedence over `/users/{userId}`.

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath};
use super::schemas::{Auth0Job, Auth0User, CreateUser, ImportForm, UpdateUser, UserFilters};
use super::state::AppState;
use crate::auth0::management::Passthrough;
use crate::users::Users;
use crate::users::{ImportRequest, MAX_IMPORT_FILE};
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::BytesMut;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

/// Header carrying the authorization layer's row filter.
const ACL_ROWS: &str = "acl_rows";
/// Longest accepted value of a text field of the import form.
const MAX_IMPORT_TEXT: usize = 1024;

/// The `/users…` management routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/users", get(list_users).post(create_user))
        .route("/users/count", get(count_users))
        .route("/users/active", get(active_users))
        .route(
            "/users/import",
            post(import_users).layer(DefaultBodyLimit::max(MAX_IMPORT_FILE + 64 * 1024)),
        )
        .route("/users/import/status/{jobID}", get(import_status))
        .route("/users/import/status/{jobID}/errors", get(import_errors))
        .route(
            "/users/{userId}",
            get(get_user).patch(update_user).delete(delete_user),
        )
}

/// OpenAPI description of these routes, to merge into the service's document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_users,
        count_users,
        active_users,
        get_user,
        create_user,
        update_user,
        delete_user,
        import_users,
        import_status,
        import_errors
    ),
    components(schemas(ErrorBody, UserCount, ActiveUser, Auth0User, CreateUser, UpdateUser, ImportForm, Auth0Job)),
    tags((name = "users", description = "User management over the Auth0 Management API (not public)"))
)]
pub struct UsersApi;

/// `GET /users/count` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserCount {
    /// Users matching the filters.
    count: u64,
}

/// One entry of `GET /users/active`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActiveUser {
    /// Auth0 user id.
    user_id: String,
}

fn query_pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_str(raw.unwrap_or_default())
        .map_err(|_| ApiError::bad_request("The query string is not valid URL encoding."))
}

fn acl_rows(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    headers
        .get(ACL_ROWS)
        .map(|value| {
            value
                .to_str()
                .map_err(|_| ApiError::bad_request("The acl_rows header must be ASCII JSON."))
        })
        .transpose()
}

fn passthrough(answer: Passthrough) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    if answer.body.is_null() {
        status.into_response()
    } else {
        (status, Json(answer.body)).into_response()
    }
}

/// Users matching the CRUD-like query, `_q` and `acl_rows`, as Auth0 returns them.
#[utoipa::path(get, path = "/users", tag = "users",
    params(
        UserFilters,
        ("acl_rows" = Option<String>, Header, description = "JSON filter set by the authorization layer (object or array, ANDed)"),
    ),
    responses(
        (status = 200, description = "Auth0 users", body = Vec<Auth0User>),
        (status = 400, description = "Bad query, filter or connection, or a page past the first 1000 results", body = ErrorBody),
        (status = 429, description = "Auth0 rate limit exhausted (Retry-After)", body = ErrorBody),
        (status = 502, description = "Auth0 unavailable", body = ErrorBody),
        (status = 504, description = "Auth0 too slow", body = ErrorBody),
    ))]
pub async fn list_users(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let params = query_pairs(raw.as_deref())?;
    let users = state
        .management
        .search(&params, acl_rows(&headers)?)
        .await?;
    Ok(Json(users))
}

/// How many users match the same filters as `GET /users`.
#[utoipa::path(get, path = "/users/count", tag = "users",
    params(
        UserFilters,
        ("acl_rows" = Option<String>, Header, description = "JSON filter set by the authorization layer (object or array, ANDed)"),
    ),
    responses(
        (status = 200, description = "The count", body = UserCount),
        (status = 400, description = "Bad query, filter or connection", body = ErrorBody),
        (status = 429, description = "Auth0 rate limit exhausted (Retry-After)", body = ErrorBody),
        (status = 502, description = "Auth0 unavailable", body = ErrorBody),
        (status = 504, description = "Auth0 too slow", body = ErrorBody),
    ))]
pub async fn count_users(
    State(users): State<Arc<Users>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Json<UserCount>, ApiError> {
    let params = query_pairs(raw.as_deref())?;
    let count = users.count(&params, acl_rows(&headers)?).await?;
    Ok(Json(UserCount { count }))
}

/// Users with at least one live session, across all clients.
#[utoipa::path(get, path = "/users/active", tag = "users",
    responses(
        (status = 200, description = "Active users, each once", body = Vec<ActiveUser>),
        (status = 503, description = "Session store unavailable", body = ErrorBody),
    ))]
pub async fn active_users(
    State(state): State<AppState>,
) -> Result<Json<Vec<ActiveUser>>, ApiError> {
    let users = state.sessions.active_users().await?;
    Ok(Json(
        users
            .into_iter()
            .map(|user_id| ActiveUser { user_id })
            .collect(),
    ))
}

/// One user, as Auth0 returns it.
#[utoipa::path(get, path = "/users/{userId}", tag = "users",
    params(("userId" = String, Path, description = "Auth0 user id")),
    responses(
        (status = 200, description = "The user", body = Auth0User),
        (status = 400, description = "Bad user id (Auth0's message)", body = ErrorBody),
        (status = 404, description = "Unknown user", body = ErrorBody),
        (status = 429, description = "Auth0 rate limit exhausted (Retry-After)", body = ErrorBody),
        (status = 502, description = "Auth0 unavailable", body = ErrorBody),
        (status = 504, description = "Auth0 too slow", body = ErrorBody),
    ))]
pub async fn get_user(
    State(users): State<Arc<Users>>,
    ApiPath(user_id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(users.get(&user_id).await?))
}

/// Creates a user (not a signup endpoint); `connection` defaults to the configured one.
#[utoipa::path(post, path = "/users", tag = "users",
    request_body(content = CreateUser, description = "Auth0's create-user body; connection optional"),
    responses(
        (status = 201, description = "The created user", body = Auth0User),
        (status = 400, description = "Bad body, unsupported connection or no default connection", body = ErrorBody),
        (status = 409, description = "The user already exists (Auth0's message)", body = ErrorBody),
        (status = 415, description = "Not a JSON body", body = ErrorBody),
        (status = 429, description = "Auth0 rate limit exhausted (Retry-After)", body = ErrorBody),
        (status = 502, description = "Auth0 unavailable", body = ErrorBody),
        (status = 504, description = "Auth0 too slow", body = ErrorBody),
    ))]
pub async fn create_user(
    State(users): State<Arc<Users>>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    let user = users.create(body).await?;
    Ok((StatusCode::CREATED, Json(user)).into_response())
}

/// Updates a user with Auth0's update-user body; `blocked: true` also ends the user's sessions.
#[utoipa::path(patch, path = "/users/{userId}", tag = "users",
    params(("userId" = String, Path, description = "Auth0 user id")),
    request_body(content = UpdateUser, description = "Auth0's update-user body"),
    responses(
        (status = 200, description = "The updated user (with blocked: true, the user's sessions are ended too)", body = Auth0User),
        (status = 400, description = "Bad body (Auth0's message)", body = ErrorBody),
        (status = 404, description = "Unknown user", body = ErrorBody),
        (status = 409, description = "Conflict (Auth0's message)", body = ErrorBody),
        (status = 415, description = "Not a JSON body", body = ErrorBody),
        (status = 429, description = "Auth0 rate limit exhausted (Retry-After)", body = ErrorBody),
        (status = 502, description = "Auth0 unavailable", body = ErrorBody),
        (status = 503, description = "Session store unavailable (the user was updated; retry to end the sessions)", body = ErrorBody),
        (status = 504, description = "Auth0 too slow", body = ErrorBody),
    ))]
pub async fn update_user(
    State(state): State<AppState>,
    ApiPath(user_id): ApiPath<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    let user = state
        .management
        .update_and_end_sessions_if_blocked(&state.login, &user_id, &body)
        .await?;
    Ok(Json(user))
}

/// Deletes a user and ends their live sessions.
#[utoipa::path(delete, path = "/users/{userId}", tag = "users",
    params(("userId" = String, Path, description = "Auth0 user id")),
    responses(
        (status = 204, description = "Deleted; the user's sessions are ended"),
        (status = 400, description = "Bad user id (Auth0's message)", body = ErrorBody),
        (status = 404, description = "Unknown user (Auth0's message)", body = ErrorBody),
        (status = 429, description = "Auth0 rate limit exhausted (Retry-After)", body = ErrorBody),
        (status = 502, description = "Auth0 unavailable", body = ErrorBody),
        (status = 503, description = "Session store unavailable", body = ErrorBody),
        (status = 504, description = "Auth0 too slow", body = ErrorBody),
    ))]
pub async fn delete_user(
    State(state): State<AppState>,
    ApiPath(user_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state
        .management
        .delete_and_end_sessions(&state.login, &user_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Starts an Auth0 users-imports job; `connection` names a `supportedConnectionsMap` key.
#[utoipa::path(post, path = "/users/import", tag = "users",
    request_body(content = ImportForm, content_type = "multipart/form-data", description = "users (JSON array file, at most 500 KB), connection, upsert, external_id, send_completion_email; connection_id is refused"),
    responses(
        (status = 201, description = "Auth0's job object", body = Auth0Job),
        (status = 202, description = "Auth0's job object", body = Auth0Job),
        (status = 400, description = "connection_id sent, unknown connection, deprecated managementClient form, or bad form", body = ErrorBody),
        (status = 413, description = "The users file exceeds 500 KB", body = ErrorBody),
        (status = 429, description = "Auth0 rate limit exhausted (Retry-After)", body = ErrorBody),
        (status = 502, description = "Auth0 unavailable", body = ErrorBody),
        (status = 504, description = "Auth0 too slow", body = ErrorBody),
    ))]
pub async fn import_users(
    State(users): State<Arc<Users>>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let multipart = multipart.map_err(|_| {
        ApiError::bad_request("Send the import as multipart/form-data with a users file field.")
    })?;
    let request = read_import(multipart).await?;
    Ok(passthrough(users.import(request).await?))
}

/// An import job, as Auth0 returns it.
#[utoipa::path(get, path = "/users/import/status/{jobID}", tag = "users",
    params(("jobID" = String, Path, description = "Auth0 job id")),
    responses(
        (status = 200, description = "Auth0's job object", body = Auth0Job),
        (status = 400, description = "Bad job id (Auth0's message)", body = ErrorBody),
        (status = 404, description = "Unknown job", body = ErrorBody),
        (status = 429, description = "Auth0 rate limit exhausted (Retry-After)", body = ErrorBody),
        (status = 502, description = "Auth0 unavailable", body = ErrorBody),
        (status = 504, description = "Auth0 too slow", body = ErrorBody),
    ))]
pub async fn import_status(
    State(users): State<Arc<Users>>,
    ApiPath(job_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    Ok(passthrough(users.job(&job_id).await?))
}

/// An import job's errors, as Auth0 returns them.
#[utoipa::path(get, path = "/users/import/status/{jobID}/errors", tag = "users",
    params(("jobID" = String, Path, description = "Auth0 job id")),
    responses(
        (status = 200, description = "Auth0's job errors: the users that failed and why", body = Vec<Object>),
        (status = 400, description = "Bad job id (Auth0's message)", body = ErrorBody),
        (status = 404, description = "Unknown job", body = ErrorBody),
        (status = 429, description = "Auth0 rate limit exhausted (Retry-After)", body = ErrorBody),
        (status = 502, description = "Auth0 unavailable", body = ErrorBody),
        (status = 504, description = "Auth0 too slow", body = ErrorBody),
    ))]
pub async fn import_errors(
    State(users): State<Arc<Users>>,
    ApiPath(job_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    Ok(passthrough(users.job_errors(&job_id).await?))
}

fn multipart_error(error: MultipartError) -> ApiError {
    if crate::server::body::timed_out(&error) {
        return ApiError::body_timeout();
    }
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        ApiError::bad_request(format!("Invalid multipart body: {}", error.body_text()))
    }
}

fn too_large() -> ApiError {
    ApiError::payload_too_large(format!(
        "The users file exceeds Auth0's limit of {} KB.",
        MAX_IMPORT_FILE / 1024
    ))
}

/// Reads the import form; the users file is read chunk by chunk and refused as soon as
/// it passes the limit.
async fn read_import(mut multipart: Multipart) -> Result<ImportRequest, ApiError> {
    let mut users = None;
    let mut file_name = "users.json".to_owned();
    let mut connection = None;
    let mut upsert = None;
    let mut external_id = None;
    let mut send_completion_email = None;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "users" => {
                if let Some(name) = field.file_name().filter(|n| !n.is_empty()) {
                    name.clone_into(&mut file_name);
                }
                let mut data = BytesMut::new();
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    if data.len() + chunk.len() > MAX_IMPORT_FILE {
                        return Err(too_large());
                    }
                    data.extend_from_slice(&chunk);
                }
                users = Some(data.freeze());
            }
            "connection_id" => {
                return Err(ApiError::bad_request(
                    "connection_id is not accepted: send connection, a key of \
                     managementClient.supportedConnectionsMap (or nothing for the default).",
                ));
            }
            "connection" => connection = Some(text(field, &name).await?),
            "upsert" => upsert = Some(text(field, &name).await?),
            "external_id" => external_id = Some(text(field, &name).await?),
            "send_completion_email" => send_completion_email = Some(text(field, &name).await?),
            other => {
                return Err(ApiError::bad_request(format!(
                    "Unknown form field {other:?}: send users, connection, upsert, external_id \
                     or send_completion_email."
                )));
            }
        }
    }
    let users = users.ok_or_else(|| ApiError::bad_request("The users file field is missing."))?;
    Ok(ImportRequest {
        users,
        file_name,
        connection: connection.filter(|c| !c.is_empty()),
        upsert,
        external_id,
        send_completion_email,
    })
}

async fn text(field: Field<'_>, name: &str) -> Result<String, ApiError> {
    let value = field.text().await.map_err(multipart_error)?;
    if value.len() > MAX_IMPORT_TEXT {
        return Err(ApiError::bad_request(format!(
            "Form field {name} is longer than {MAX_IMPORT_TEXT} bytes."
        )));
    }
    Ok(value.trim().to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::auth0::management::ManagementError;
    use crate::users::UsersError;
    use utoipa::OpenApi;

    #[test]
    fn the_openapi_document_lists_every_users_route() {
        let document = serde_json::to_value(UsersApi::openapi()).unwrap();
        let paths = document["paths"].as_object().unwrap();
        for (path, method) in [
            ("/users", "get"),
            ("/users", "post"),
            ("/users/count", "get"),
            ("/users/active", "get"),
            ("/users/{userId}", "get"),
            ("/users/{userId}", "patch"),
            ("/users/{userId}", "delete"),
            ("/users/import", "post"),
            ("/users/import/status/{jobID}", "get"),
            ("/users/import/status/{jobID}/errors", "get"),
        ] {
            assert!(paths[path][method].is_object(), "{method} {path} missing");
        }
    }

    #[tokio::test]
    async fn auth0_errors_keep_caller_faults_and_hide_the_rest() {
        let cases = [
            (
                ManagementError::Rejected {
                    status: 409,
                    message: "The user already exists.".to_owned(),
                },
                409,
                "The user already exists.",
            ),
            (
                ManagementError::RateLimited { retry_after: 7 },
                429,
                "Retry-After",
            ),
            (ManagementError::Credentials(401), 502, "credentials"),
            (
                ManagementError::Unavailable("tcp connect to 10.0.0.1 refused".to_owned()),
                502,
                "unavailable",
            ),
            (ManagementError::Timeout, 504, "in time"),
        ];
        for (error, status, needle) in cases {
            let api: ApiError = UsersError::Auth0(error).into();
            assert_eq!(api.status().as_u16(), status);
            assert!(api.message().contains(needle), "{}", api.message());
            assert!(!api.message().contains("10.0.0.1"));
        }
        let response =
            ApiError::from(ManagementError::RateLimited { retry_after: 7 }).into_response();
        assert_eq!(response.headers()["retry-after"], "7");
    }
}
