//! Every conversion of a domain error (and of an axum rejection) into [`ApiError`]:
//! the status and caller-facing message of each, and the cause the operator sees,
//! attached to the error and logged once by [`super::log_cause`].

use super::{ApiError, body_too_large, redact_quoted};
use crate::auth0::authentication::Auth0Error;
use crate::auth0::jwks::TokenError;
use crate::auth0::management::ManagementError;
use crate::login::LoginError;
use crate::session::StoreError;
use crate::users::UsersError;
use crate::users::offboard::OffboardError;
use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;

impl From<StoreError> for ApiError {
    /// Logged (with the operation) by the store itself, so it carries no cause.
    fn from(_: StoreError) -> Self {
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
                _ => Self::bad_gateway(format!(
                    "Auth0 refused the request unexpectedly ({status} {code})."
                ))
                .with_cause(
                    "Auth0 refused the request unexpectedly",
                    Some(format!("{status} {code}")),
                ),
            },
            Auth0Error::NotJson(status) => Self::bad_gateway(format!(
                "Auth0 answered status {status} without a JSON error."
            ))
            .with_cause(
                "Auth0 answered an error without a JSON body",
                Some(status.to_string()),
            ),
            Auth0Error::Timeout => {
                Self::gateway_timeout("Auth0 did not answer in time; retry shortly.")
                    .with_cause("Auth0 call timed out", Some(error.to_string()))
            }
            error => {
                Self::bad_gateway("Auth0 is unavailable or answered unexpectedly; retry shortly.")
                    .with_cause("Auth0 call failed", Some(error.to_string()))
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
                Self::bad_gateway("Auth0's signing keys are unavailable; retry shortly.")
                    .with_cause("JWKS unavailable", Some(error.to_string()))
            }
            LoginError::IdToken(error) => {
                Self::unauthorized("The id_token issued for this login failed verification.")
                    .with_cause("id_token refused", Some(error.to_string()))
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

impl From<UsersError> for ApiError {
    fn from(error: UsersError) -> Self {
        match error {
            UsersError::Query(error) => Self::bad_request(error.0),
            UsersError::Connection(error) => Self::bad_request(error.0),
            UsersError::InvalidBody(message) => Self::bad_request(message),
            UsersError::TooLarge(message) => Self::payload_too_large(message),
            UsersError::Auth0(error) => error.into(),
        }
    }
}

impl From<OffboardError> for ApiError {
    fn from(error: OffboardError) -> Self {
        match error {
            OffboardError::Users(error) => error.into(),
            OffboardError::Sessions(error) => error.into(),
        }
    }
}

impl From<ManagementError> for ApiError {
    fn from(error: ManagementError) -> Self {
        match error {
            ManagementError::Rejected { status, message } => match StatusCode::from_u16(status) {
                Ok(status) if status.is_client_error() => Self::new(status, message),
                _ => Self::bad_gateway("Auth0 answered unexpectedly; retry shortly."),
            },
            ManagementError::RateLimited { retry_after } => Self::too_many_requests(
                "Auth0's Management API rate limit is exhausted; retry after the Retry-After delay.",
                retry_after,
            ),
            ManagementError::Credentials(_) => {
                Self::bad_gateway("Auth0 refused this service's management client credentials.")
            }
            ManagementError::Unavailable(cause) => {
                Self::bad_gateway("Auth0 is unavailable or answered unexpectedly; retry shortly.")
                    .with_cause("Auth0 Management API unavailable", Some(cause))
            }
            ManagementError::Timeout => {
                Self::gateway_timeout("Auth0 did not answer in time; retry shortly.")
            }
        }
    }
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
