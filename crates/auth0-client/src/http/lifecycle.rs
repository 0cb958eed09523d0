//! Session lifecycle routes: `POST /backchannel-logout` (OpenID Connect Back-Channel
//! Logout 1.0, called by Auth0) and the per-user session control of the management
//! routes, `GET` and `DELETE /users/{userId}/sessions` (not to be exposed publicly).

use super::error::{ApiError, ErrorBody};
use super::extract::ApiPath;
use super::state::AppState;
use crate::login::backchannel::BackchannelError;
use crate::secret::Secret;
use crate::session::Session;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The lifecycle routes (merged under `SERVICE_PREFIX` by the application).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/backchannel-logout", post(backchannel_logout))
        .route(
            "/users/{userId}/sessions",
            get(list_sessions).delete(end_sessions),
        )
}

/// OpenAPI description of these routes, to merge into the service's document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(backchannel_logout, list_sessions, end_sessions),
    components(schemas(ErrorBody, OAuthError, SessionInfo))
)]
pub struct LifecycleApi;

/// An OAuth-style error body (the back-channel logout answers Auth0 in this shape).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OAuthError {
    /// `invalid_request`.
    error: &'static str,
    /// What was wrong with the logout token.
    error_description: String,
}

fn no_store() -> (axum::http::HeaderName, HeaderValue) {
    (CACHE_CONTROL, HeaderValue::from_static("no-store"))
}

fn invalid_request(description: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [no_store()],
        Json(OAuthError {
            error: "invalid_request",
            error_description: description.into(),
        }),
    )
        .into_response()
}

/// The `logout_token` field of a form body, or what is wrong with the body.
fn logout_token(headers: &HeaderMap, body: &[u8]) -> Result<Secret, &'static str> {
    let form = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return Err("send the logout token as application/x-www-form-urlencoded");
    }
    let fields: Vec<(String, Secret)> =
        serde_urlencoded::from_bytes(body).map_err(|_| "the body is not valid URL encoding")?;
    fields
        .into_iter()
        .find(|(name, _)| name == "logout_token")
        .map(|(_, token)| token)
        .filter(|token| !token.is_empty())
        .ok_or("logout_token is required")
}

/// Ends the sessions a logout token names (called by Auth0, OpenID Connect Back-Channel Logout 1.0).
#[utoipa::path(post, path = "/backchannel-logout", tag = "auth",
    request_body(content_type = "application/x-www-form-urlencoded", description = "logout_token: the logout token, a JWT signed by the tenant"),
    responses(
        (status = 200, description = "The sessions of the token's Auth0 session (sid), or of its user (sub), for its client, ended"),
        (status = 400, description = "Invalid logout token", body = OAuthError),
        (status = 503, description = "Session store or the tenant's keys unavailable; retry", body = ErrorBody),
    ))]
pub async fn backchannel_logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let token = match logout_token(&headers, &body) {
        Ok(token) => token,
        Err(problem) => return invalid_request(problem),
    };
    match state.login.backchannel_logout(&token).await {
        Ok(_) => (StatusCode::OK, [no_store()]).into_response(),
        Err(BackchannelError::InvalidToken(description)) => {
            tracing::warn!(reason = %description, "logout token refused");
            invalid_request(description)
        }
        Err(error) => {
            let unavailable =
                ApiError::service_unavailable("The logout could not be processed now; retry.");
            // A store failure was logged by the store; anything else is logged once here.
            let unavailable = match error {
                BackchannelError::Unavailable(cause) => {
                    unavailable.with_cause("back-channel logout not processed", Some(cause))
                }
                _ => unavailable,
            };
            let mut response = unavailable.into_response();
            response.headers_mut().extend([no_store()]);
            response
        }
    }
}

/// One live session of a user, without any token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    /// The client type that created it.
    client_type: String,
    /// Login time (RFC 3339).
    created_at: String,
    /// When it ends at the latest (RFC 3339).
    expires_at: String,
    /// When its tokens were last refreshed at Auth0 (RFC 3339), if ever.
    last_refresh_at: Option<String>,
}

fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|at| at.format(&Rfc3339).ok())
        .unwrap_or_default()
}

impl From<&Session> for SessionInfo {
    fn from(session: &Session) -> Self {
        Self {
            client_type: session.client_type.clone(),
            created_at: rfc3339(session.created_at),
            expires_at: rfc3339(session.expires_at),
            last_refresh_at: session.refreshed_at.map(rfc3339),
        }
    }
}

/// The user's live sessions, oldest first (never a token).
#[utoipa::path(get, path = "/users/{userId}/sessions", tag = "users",
    params(("userId" = String, Path, description = "Auth0 user id")),
    responses(
        (status = 200, description = "Live sessions (empty when none)", body = Vec<SessionInfo>),
        (status = 503, description = "Session store unavailable", body = ErrorBody),
    ))]
pub async fn list_sessions(
    State(state): State<AppState>,
    ApiPath(user_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let sessions = state.login.user_sessions(&user_id).await?;
    let body: Vec<SessionInfo> = sessions.iter().map(SessionInfo::from).collect();
    Ok(([no_store()], Json(body)).into_response())
}

/// Logs the user out everywhere: ends every session and revokes their refresh tokens.
#[utoipa::path(delete, path = "/users/{userId}/sessions", tag = "users",
    params(("userId" = String, Path, description = "Auth0 user id")),
    responses(
        (status = 204, description = "Every session of the user ended"),
        (status = 503, description = "Session store unavailable", body = ErrorBody),
    ))]
pub async fn end_sessions(
    State(state): State<AppState>,
    ApiPath(user_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.login.end_user_sessions(&user_id, "admin").await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::OpenApi as _;

    #[test]
    fn the_openapi_document_lists_the_lifecycle_routes() {
        let document = serde_json::to_value(LifecycleApi::openapi()).unwrap_or_default();
        for (path, method) in [
            ("/backchannel-logout", "post"),
            ("/users/{userId}/sessions", "get"),
            ("/users/{userId}/sessions", "delete"),
        ] {
            assert!(
                document["paths"][path][method].is_object(),
                "{method} {path} missing"
            );
        }
    }
}
