//! The one error type of the HTTP layer and its JSON body:
//! `{"statusCode": 401, "error": "Unauthorized", "message": "…"}` (SPEC §3).
//!
//! Messages are written for the caller and never carry a secret; causes that only an
//! operator should see are logged where the error is converted, not sent.

use crate::auth0::authentication::Auth0Error;
use crate::auth0::jwks::TokenError;
use crate::login::LoginError;
use crate::session::StoreError;
use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answered to the caller as the JSON error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    retry_after: Option<u64>,
    error_code: Option<&'static str>,
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
        }
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
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The caller-facing message.
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
        // Kept for middleware that logs errors (practice: no side effects here).
        response.extensions_mut().insert(self);
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        tracing::error!(error = %error, "session store failed");
        Self::service_unavailable("The session store is unavailable; retry shortly.")
    }
}

/// Auth0's refusals, read by their error code (SPEC-silent choices in the README's error
/// table): the end user's faults keep Auth0's message, this service's own client or grant
/// setup is a `502` (logged for the operator where the call was made).
impl From<Auth0Error> for ApiError {
    fn from(error: Auth0Error) -> Self {
        if error.is_client_misconfigured() {
            return Self::bad_gateway(
                "Auth0 refused this service's client credentials or grant; the operator has been told.",
            );
        }
        match error {
            Auth0Error::Rejected {
                error: code,
                description,
                retry_after,
                status,
            } => match code.as_str() {
                "invalid_grant" | "unauthorized" | "blocked_user" => Self::forbidden(description),
                "access_denied" => Self::forbidden(description),
                "mfa_required" => Self::forbidden(description).with_error_code("mfa_required"),
                "too_many_attempts" => Self {
                    retry_after,
                    ..Self::new(StatusCode::TOO_MANY_REQUESTS, description)
                },
                "too_many_requests" => Self::too_many_requests(
                    "Auth0's rate limit was reached; retry later.",
                    retry_after.unwrap_or(1),
                ),
                _ if status == 429 => {
                    Self::too_many_requests(description, retry_after.unwrap_or(1))
                }
                _ if matches!(status, 400 | 403 | 404 | 409) => {
                    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
                    Self::new(status, description)
                }
                _ => {
                    tracing::warn!(status, code = %code, "Auth0 refused the request unexpectedly");
                    Self::bad_gateway(format!(
                        "Auth0 refused the request unexpectedly ({status} {code})."
                    ))
                }
            },
            Auth0Error::NotJson(status) => {
                tracing::warn!(status, "Auth0 answered an error without a JSON body");
                Self::bad_gateway(format!(
                    "Auth0 answered status {status} without a JSON error."
                ))
            }
            Auth0Error::Timeout => {
                tracing::warn!(error = %error, "Auth0 call timed out");
                Self::gateway_timeout("Auth0 did not answer in time; retry shortly.")
            }
            error => {
                tracing::warn!(error = %error, "Auth0 call failed");
                Self::bad_gateway("Auth0 is unavailable or answered unexpectedly; retry shortly.")
            }
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::StateRequired => {
                Self::bad_request("This client requires the state query parameter.")
            }
            LoginError::StatePending => Self::conflict(
                "A login with this state is already pending: start it with a new state.",
            ),
            LoginError::InvalidInput(message) => Self::bad_request(message),
            LoginError::UnsupportedConnection { connection, .. } => Self::bad_request(format!(
                "Connection {connection:?} is not supported by this client."
            )),
            LoginError::InvalidState => Self::unauthorized(
                "Unknown, expired, already used or foreign state: start again from /authorize.",
            ),
            LoginError::IdToken(TokenError::KeysTimeout) => {
                Self::gateway_timeout("Auth0's signing keys did not arrive in time; retry shortly.")
            }
            LoginError::IdToken(error @ TokenError::KeysUnavailable(_)) => {
                tracing::warn!(error = %error, "JWKS unavailable");
                Self::bad_gateway("Auth0's signing keys are unavailable; retry shortly.")
            }
            LoginError::IdToken(error) => {
                tracing::warn!(error = %error, "id_token refused");
                Self::unauthorized("The id_token issued for this login failed verification.")
            }
            LoginError::CodeRefused(description) => Self::unauthorized(format!(
                "Auth0 refused the authorization code: {description} Start again from /authorize."
            )),
            LoginError::MissingIdToken => Self::bad_gateway(
                "Auth0 answered without an id_token; is openid allowed for this client?",
            ),
            LoginError::NoSession => Self::unauthorized("No session: log in again."),
            LoginError::RefreshTokenMismatch => {
                Self::unauthorized("The refresh token does not belong to this session.")
            }
            LoginError::RefreshRefused => {
                Self::unauthorized("Auth0 refused the session's refresh token: log in again.")
            }
            LoginError::RefreshUserMismatch => Self::unauthorized(
                "Auth0 answered the refresh for another user; the session has ended: log in again.",
            ),
            LoginError::RefreshPending => {
                Self::service_unavailable("This session is being refreshed; retry shortly.")
            }
            LoginError::UnknownClient(_) => {
                Self::unauthorized("The session's client is no longer configured: log in again.")
            }
            LoginError::Auth0(error) => error.into(),
            LoginError::Store(error) => error.into(),
            LoginError::Throttled(throttled) => Self::too_many_requests(
                "Too many logins started from this address; retry after the time Retry-After gives.",
                throttled.retry_after.as_secs_f64().ceil().max(1.0) as u64,
            ),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        if crate::server::body::timed_out(&rejection) {
            return Self::body_timeout();
        }
        let status = match &rejection {
            _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => return body_too_large(),
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::BAD_REQUEST,
        };
        Self::new(status, redact_quoted(&rejection.body_text()))
    }
}

impl From<FormRejection> for ApiError {
    fn from(rejection: FormRejection) -> Self {
        if crate::server::body::timed_out(&rejection) {
            return Self::body_timeout();
        }
        let status = match &rejection {
            _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => return body_too_large(),
            FormRejection::InvalidFormContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::BAD_REQUEST,
        };
        Self::new(status, redact_quoted(&rejection.body_text()))
    }
}

/// `413` for a body over the service's limit.
fn body_too_large() -> ApiError {
    ApiError::payload_too_large(format!(
        "The request body is over the {} KiB limit.",
        super::limits::BODY_LIMIT / 1024
    ))
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::bad_request(redact_quoted(&rejection.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::bad_request(redact_quoted(&rejection.body_text()))
    }
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
fn redact_quoted(message: &str) -> String {
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
