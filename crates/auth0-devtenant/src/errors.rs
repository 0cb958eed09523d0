//! Auth0's two error shapes: `{error, error_description}` on the authentication API,
//! `{statusCode, error, message, errorCode}` on the Management API.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An authentication API error.
#[derive(Debug)]
pub(crate) struct AuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    mfa_token: Option<String>,
}

impl AuthError {
    /// Any status, error code and description.
    pub(crate) fn new(
        status: StatusCode,
        error: &'static str,
        description: impl Into<String>,
    ) -> Self {
        AuthError {
            status,
            error,
            description: description.into(),
            mfa_token: None,
        }
    }

    /// The same error carrying an `mfa_token` (Auth0's `mfa_required` answer).
    pub(crate) fn with_mfa_token(mut self, token: String) -> Self {
        self.mfa_token = Some(token);
        self
    }

    /// 400 `invalid_request`.
    pub(crate) fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// 403 `invalid_grant`.
    pub(crate) fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "invalid_grant", description)
    }

    /// 401 `access_denied` "Unauthorized": what Auth0 answers to bad client credentials.
    pub(crate) fn client_unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "access_denied", "Unauthorized")
    }

    /// 403 `invalid_grant` "Wrong email or password.".
    pub(crate) fn wrong_credentials() -> Self {
        Self::invalid_grant("Wrong email or password.")
    }

    /// 403 `invalid_grant` "Unknown or invalid refresh token.".
    pub(crate) fn invalid_refresh_token() -> Self {
        Self::invalid_grant("Unknown or invalid refresh token.")
    }

    /// 500 `server_error`.
    pub(crate) fn server_error(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            description,
        )
    }

    /// The error code (e.g. `invalid_request`).
    pub(crate) fn error(&self) -> &'static str {
        self.error
    }

    /// The human description.
    pub(crate) fn description(&self) -> &str {
        &self.description
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": self.error, "error_description": self.description});
        if let Some(token) = self.mfa_token {
            body["mfa_token"] = json!(token);
        }
        (self.status, Json(body)).into_response()
    }
}

/// A Management API error.
#[derive(Debug)]
pub(crate) struct MgmtError {
    status: StatusCode,
    message: String,
    error_code: &'static str,
}

impl MgmtError {
    /// Any status, message and errorCode.
    pub(crate) fn new(
        status: StatusCode,
        message: impl Into<String>,
        error_code: &'static str,
    ) -> Self {
        MgmtError {
            status,
            message: message.into(),
            error_code,
        }
    }

    /// 400 with `errorCode` `invalid_body`.
    pub(crate) fn invalid_body(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message, "invalid_body")
    }

    /// 400 with `errorCode` `invalid_query_string`.
    pub(crate) fn invalid_query(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message, "invalid_query_string")
    }

    /// The same error with another `errorCode`.
    pub(crate) fn with_code(mut self, error_code: &'static str) -> Self {
        self.error_code = error_code;
        self
    }

    /// 404 "The user does not exist.".
    pub(crate) fn user_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "The user does not exist.",
            "inexistent_user",
        )
    }

    /// 401 for a missing or bad bearer token.
    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message, "invalid_token")
    }
}

impl IntoResponse for MgmtError {
    fn into_response(self) -> Response {
        mgmt_error_body(self.status, &self.message, self.error_code)
    }
}

/// A Management API error body for any status.
pub(crate) fn mgmt_error_body(status: StatusCode, message: &str, error_code: &str) -> Response {
    let body = json!({
        "statusCode": status.as_u16(),
        "error": status.canonical_reason().unwrap_or("Error"),
        "message": message,
        "errorCode": error_code,
    });
    (status, Json(body)).into_response()
}

/// The Auth0-shaped body for an injected or generic error on `path`.
pub(crate) fn error_for_path(path: &str, status: StatusCode, message: &str) -> Response {
    if path.starts_with("/api/v2") {
        let code = match status.as_u16() {
            429 => "too_many_requests",
            s if s >= 500 => "server_error",
            _ => "error",
        };
        mgmt_error_body(status, message, code)
    } else {
        let error = match status.as_u16() {
            429 => "too_many_requests",
            503 => "temporarily_unavailable",
            s if s >= 500 => "server_error",
            401 => "access_denied",
            _ => "invalid_request",
        };
        let body = json!({"error": error, "error_description": message});
        (status, Json(body)).into_response()
    }
}
