//! The one error type of the HTTP layer and its JSON body:
//! `{"statusCode": 401, "error": "Unauthorized", "message": "…"}` (SPEC §3).
//!
//! Messages are written for the caller and never carry a secret; a cause that only an
//! operator should see rides on the error ([`ApiError::with_cause`]) and is logged once,
//! by the [`log_cause`] middleware. The conversions from domain errors are in
//! `convert`. A session-store failure is logged by the store, so it carries no cause.

mod convert;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answered to the caller as the JSON error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    retry_after: Option<u64>,
    error_code: Option<&'static str>,
    cause: Option<Cause>,
}

/// What the operator is told about an error (logged at warn, never sent).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cause {
    what: &'static str,
    detail: Option<String>,
}

/// The JSON error body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// HTTP status code.
    pub status_code: u16,
    /// The status' reason phrase.
    pub error: String,
    /// What was wrong and, where the caller can fix it, how.
    pub message: String,
    /// A machine-readable reason a caller may act on (e.g. `mfa_required`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
}

impl ApiError {
    /// An error with any status and a caller-facing message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
            error_code: None,
            cause: None,
        }
    }

    /// The same error with a cause for the operator: `what` happened, and the `detail`
    /// (an error's text, never a secret); [`log_cause`] logs it once.
    pub fn with_cause(mut self, what: &'static str, detail: Option<String>) -> Self {
        self.cause = Some(Cause { what, detail });
        self
    }

    /// The same error with an `errorCode` in its body.
    pub fn with_error_code(mut self, code: &'static str) -> Self {
        self.error_code = Some(code);
        self
    }

    /// `400 Bad Request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// `401 Unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// `403 Forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// `404 Not Found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// `409 Conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// `413 Payload Too Large`.
    pub fn payload_too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, message)
    }

    /// `415 Unsupported Media Type`.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, message)
    }

    /// `429 Too Many Requests` with a `Retry-After` of `retry_after_seconds`.
    pub fn too_many_requests(message: impl Into<String>, retry_after_seconds: u64) -> Self {
        Self {
            retry_after: Some(retry_after_seconds),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, message)
        }
    }

    /// `502 Bad Gateway`: Auth0 is down or answered something unusable.
    pub fn bad_gateway(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, message)
    }

    /// `503 Service Unavailable`: a dependency of ours (the session store) is down.
    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    /// `504 Gateway Timeout`: Auth0 did not answer in time.
    pub fn gateway_timeout(message: impl Into<String>) -> Self {
        Self::new(StatusCode::GATEWAY_TIMEOUT, message)
    }

    /// `500 Internal Server Error` with an opaque message; log the cause before calling.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on our side.",
        )
    }

    /// The status answered.
    #[cfg(test)]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The caller-facing message.
    #[cfg(test)]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The JSON body answered.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            status_code: self.status.as_u16(),
            error: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            message: self.message.clone(),
            error_code: self.error_code.map(str::to_owned),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status.as_u16(), self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        // Logged by `log_cause` (practice: no side effects here).
        response.extensions_mut().insert(self);
        response
    }
}

/// `413` for a body over the service's limit.
pub(super) fn body_too_large() -> ApiError {
    ApiError::payload_too_large(format!(
        "The request body is over the {} KiB limit.",
        super::limits::BODY_LIMIT / 1024
    ))
}

impl ApiError {
    /// `408`: the request body did not arrive within `HTTP_BODY_READ_TIMEOUT_SECONDS`.
    pub fn body_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "The request body was not received in time.",
        )
    }
}

/// Middleware: logs the cause attached to an error response, once, inside the request's
/// span (so with its request id).
pub async fn log_cause(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if let Some(error) = response.extensions().get::<ApiError>()
        && let Some(cause) = &error.cause
    {
        let status = error.status.as_u16();
        match &cause.detail {
            Some(detail) => tracing::warn!(status, error = %detail, "{}", cause.what),
            None => tracing::warn!(status, "{}", cause.what),
        }
    }
    response
}

/// Router fallback: `404` in the JSON error shape.
pub async fn route_not_found() -> ApiError {
    ApiError::not_found("No such route.")
}

/// Method fallback: `405` in the JSON error shape.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "This route does not accept this method.",
    )
}

/// Replaces every double-quoted span of a deserializer message with `"***"`: serde quotes
/// the offending input value (`invalid type: string "…"`), which may be a secret.
pub(super) fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        if c == '"' {
            if inside {
                out.push_str("***\"");
            } else {
                out.push('"');
            }
            inside = !inside;
        } else if !inside {
            out.push(c);
        }
    }
    if inside {
        out.push_str("***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth0::authentication::Auth0Error;
    use crate::auth0::jwks::TokenError;
    use crate::login::LoginError;
    use crate::session::StoreError;
    use axum::body::to_bytes;

    async fn body_of(error: ApiError) -> (StatusCode, serde_json::Value, Option<String>) {
        let response = error.into_response();
        let status = response.status();
        let retry = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = to_bytes(response.into_body(), 1 << 16).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap(), retry)
    }

    #[tokio::test]
    async fn an_error_answers_the_json_body_with_the_reason_phrase() {
        let (status, body, _) = body_of(ApiError::unauthorized("No session.")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            body,
            serde_json::json!({"statusCode": 401, "error": "Unauthorized", "message": "No session."})
        );
    }

    #[tokio::test]
    async fn a_store_error_is_503_without_its_cause() {
        let (status, body, _) =
            body_of(StoreError::Unavailable("redis://secret@host".into()).into()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["error"], "Service Unavailable");
        assert!(!body["message"].as_str().unwrap().contains("secret"));
    }

    #[tokio::test]
    async fn too_many_requests_carries_retry_after() {
        let (status, _, retry) = body_of(ApiError::too_many_requests("Slow down.", 7)).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(retry.as_deref(), Some("7"));
    }

    #[test]
    fn quoted_input_values_are_redacted_from_deserializer_messages() {
        assert_eq!(
            redact_quoted(r#"invalid type: string "hunter2", expected u32 at line 1"#),
            r#"invalid type: string "***", expected u32 at line 1"#
        );
        assert_eq!(
            redact_quoted(r#"missing field `code`"#),
            "missing field `code`"
        );
        assert_eq!(redact_quoted(r#"open "abc"#), r#"open "***"#);
    }

    fn rejected(status: u16, code: &str, retry_after: Option<u64>) -> Auth0Error {
        Auth0Error::Rejected {
            status,
            error: code.into(),
            description: "Auth0 says why.".into(),
            retry_after,
        }
    }

    #[test]
    fn auth0_errors_map_by_their_code_not_their_status() {
        let cases = [
            (rejected(403, "invalid_grant", None), 403),
            (rejected(400, "invalid_grant", None), 403),
            (rejected(401, "unauthorized", None), 403),
            (rejected(403, "access_denied", None), 403),
            (rejected(403, "mfa_required", None), 403),
            (rejected(429, "too_many_attempts", None), 429),
            (rejected(401, "access_denied", None), 502),
            (rejected(401, "invalid_client", None), 502),
            (rejected(403, "unauthorized_client", None), 502),
            (rejected(400, "invalid_request", None), 400),
            (rejected(418, "teapot", None), 502),
            (Auth0Error::NotJson(400), 502),
        ];
        for (error, status) in cases {
            let shown = format!("{error:?}");
            let api = ApiError::from(error);
            assert_eq!(api.status().as_u16(), status, "{shown}");
            if status != 502 {
                assert_eq!(api.message(), "Auth0 says why.", "{shown}");
            }
        }
        let mfa = ApiError::from(rejected(403, "mfa_required", None)).body();
        assert_eq!(mfa.error_code.as_deref(), Some("mfa_required"));
        let limited = ApiError::from(rejected(429, "too_many_requests", Some(9)));
        assert_eq!(limited.retry_after, Some(9));
        let no_json = ApiError::from(Auth0Error::NotJson(400));
        assert_eq!(
            no_json.message(),
            "Auth0 answered status 400 without a JSON error."
        );
        let down = ApiError::from(Auth0Error::Unavailable("connect refused".into()));
        assert_eq!(down.status(), StatusCode::BAD_GATEWAY);
        assert!(!down.message().contains("refused"));
        assert_eq!(
            ApiError::from(Auth0Error::Timeout).status(),
            StatusCode::GATEWAY_TIMEOUT
        );
    }

    #[test]
    fn login_errors_map_to_the_documented_statuses() {
        let cases = [
            (LoginError::StateRequired, 400),
            (LoginError::StatePending, 409),
            (LoginError::InvalidState, 401),
            (LoginError::NoSession, 401),
            (LoginError::RefreshTokenMismatch, 401),
            (LoginError::RefreshRefused, 401),
            (LoginError::RefreshUserMismatch, 401),
            (LoginError::IdToken(TokenError::NonceMismatch), 401),
            (LoginError::IdToken(TokenError::KeysTimeout), 504),
            (
                LoginError::IdToken(TokenError::KeysUnavailable("x".into())),
                502,
            ),
            (LoginError::MissingIdToken, 502),
            (LoginError::CodeRefused("used".into()), 401),
            (LoginError::RefreshPending, 503),
            (LoginError::Store(StoreError::Unavailable("x".into())), 503),
        ];
        for (error, status) in cases {
            let shown = format!("{error:?}");
            assert_eq!(ApiError::from(error).status().as_u16(), status, "{shown}");
        }
    }
}
