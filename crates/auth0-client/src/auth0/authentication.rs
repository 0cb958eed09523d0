//! Auth0 Authentication API: `/oauth/token` (authorization code with PKCE, password,
//! password-realm, refresh token) and `/oauth/revoke`.
//!
//! Every call is bounded in time and size, counted in metrics and traced without its
//! secrets. The client authenticates with `client_secret_post` or `client_secret_basic`
//! (per client, [`ClientAuth`]).

use super::Application;
use super::body::{BodyError, MAX_BODY_BYTES, read_capped};
use crate::config::file::ClientAuth;
use crate::metrics;
use crate::secret::Secret;
use crate::tuning::AUTH0_CALL_TIMEOUT as CALL_TIMEOUT;
use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use serde::Deserialize;
use std::time::Duration;

/// The grant asked of `/oauth/token`.
#[derive(Debug)]
pub enum Grant<'a> {
    /// Code exchange after the redirect back, with the PKCE verifier.
    AuthorizationCode {
        /// The code from the redirect.
        code: &'a Secret,
        /// The PKCE verifier kept with the state.
        code_verifier: &'a Secret,
    },
    /// Resource-owner password; with a `realm` Auth0's password-realm grant is used.
    Password {
        /// The end user's username or email.
        username: &'a Secret,
        /// The end user's password.
        password: &'a Secret,
        /// The connection to authenticate against.
        realm: Option<&'a str>,
        /// The end user's IP, sent as `auth0-forwarded-for`.
        end_user_ip: Option<&'a str>,
    },
    /// A new access token from a refresh token.
    RefreshToken {
        /// The refresh token.
        refresh_token: &'a Secret,
    },
}

impl Grant<'_> {
    fn name(&self) -> &'static str {
        match self {
            Grant::AuthorizationCode { .. } => "authorization_code",
            Grant::Password { realm: None, .. } => "password",
            Grant::Password { realm: Some(_), .. } => "password_realm",
            Grant::RefreshToken { .. } => "refresh_token",
        }
    }
}

/// Tokens issued by `/oauth/token`.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenSet {
    /// The access token (also the session handle).
    pub access_token: Secret,
    /// Present when Auth0 issued one (`offline_access`), or rotated it.
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    /// The id_token (present whenever `openid` was asked).
    #[serde(default)]
    pub id_token: Option<Secret>,
    /// Lifetime of the access token in seconds.
    #[serde(default = "default_expires_in")]
    pub expires_in: u64,
}

fn default_expires_in() -> u64 {
    86_400
}

/// An Authentication API call failed.
#[derive(Debug, thiserror::Error)]
pub enum Auth0Error {
    /// Auth0 refused the request (4xx) with an error code and description.
    #[error("Auth0 refused the request ({status}, {error})")]
    Rejected {
        /// Auth0's HTTP status.
        status: u16,
        /// Auth0's error code (`invalid_grant`, `access_denied`, `mfa_required`, …).
        error: String,
        /// Auth0's human-readable description.
        description: String,
        /// Seconds to wait, from Auth0's `Retry-After` (or `x-ratelimit-reset`).
        retry_after: Option<u64>,
    },
    /// Auth0 refused the request with a body that is not a JSON error.
    #[error("Auth0 answered status {0} without a JSON error")]
    NotJson(u16),
    /// Auth0 could not be reached or failed (5xx).
    #[error("Auth0 unavailable: {0}")]
    Unavailable(String),
    /// Auth0 did not answer within [`CALL_TIMEOUT`].
    #[error("Auth0 did not answer in time")]
    Timeout,
    /// Auth0 answered a body that could not be read or used.
    #[error("Auth0 answered an unusable body: {0}")]
    InvalidResponse(String),
}

impl Auth0Error {
    /// True for OAuth `invalid_grant` (wrong password, unknown or revoked refresh token, used code).
    pub fn is_invalid_grant(&self) -> bool {
        self.code() == Some("invalid_grant")
    }

    /// Auth0's error code, when it refused the request with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Auth0Error::Rejected { error, .. } => Some(error),
            _ => None,
        }
    }

    /// True when the error says this service's client credentials or grant setup are
    /// wrong (an operator's problem, never the end user's).
    pub fn is_client_misconfigured(&self) -> bool {
        match self {
            Auth0Error::Rejected { error, status, .. } => {
                matches!(error.as_str(), "invalid_client" | "unauthorized_client")
                    || (error == "access_denied" && *status == 401)
            }
            _ => false,
        }
    }
}

impl From<BodyError> for Auth0Error {
    fn from(error: BodyError) -> Self {
        match error {
            BodyError::Timeout => Auth0Error::Timeout,
            error => Auth0Error::InvalidResponse(error.to_string()),
        }
    }
}

/// Auth0's error bodies: `{error, error_description}` (OAuth), `{code, description}`
/// (older endpoints and rules) and `{statusCode, error, message}`.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// True when `token` is usable as a bearer credential and a cookie value: non-empty
/// RFC 6750 `token68` (`A-Z a-z 0-9 - . _ ~ + /`, then `=` padding only).
pub fn is_token68(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// Client of the Authentication API of any tenant (the tenant comes with each [`Application`]).
#[derive(Debug, Clone)]
pub struct AuthenticationApi {
    http: reqwest::Client,
    call_timeout: Duration,
}

impl AuthenticationApi {
    /// A client on a shared `reqwest::Client`; each call adds its own [`CALL_TIMEOUT`].
    pub fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            call_timeout: CALL_TIMEOUT,
        }
    }

    /// Sets the upper bound of each call (default [`CALL_TIMEOUT`]).
    pub fn with_call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// `POST {auth0Url}/oauth/token` with `grant`.
    #[tracing::instrument(name = "auth0.oauth_token", skip_all, fields(grant = grant.name(), client_id = %app.client_id))]
    pub async fn token(&self, app: &Application, grant: Grant<'_>) -> Result<TokenSet, Auth0Error> {
        let mut form: Vec<(&str, &str)> = post_credentials(app);
        let mut forwarded_for = None;
        match &grant {
            Grant::AuthorizationCode {
                code,
                code_verifier,
            } => {
                form.push(("grant_type", "authorization_code"));
                form.push(("code", code.expose()));
                form.push(("code_verifier", code_verifier.expose()));
                form.push(("redirect_uri", &app.redirect_url));
            }
            Grant::Password {
                username,
                password,
                realm,
                end_user_ip,
            } => {
                match realm {
                    Some(realm) => {
                        form.push((
                            "grant_type",
                            "http://auth0.com/oauth/grant-type/password-realm",
                        ));
                        form.push(("realm", realm));
                    }
                    None => form.push(("grant_type", "password")),
                }
                form.push(("username", username.expose()));
                form.push(("password", password.expose()));
                form.push(("scope", &app.scope));
                if let Some(audience) = &app.audience {
                    form.push(("audience", audience));
                }
                forwarded_for = *end_user_ip;
            }
            Grant::RefreshToken { refresh_token } => {
                form.push(("grant_type", "refresh_token"));
                form.push(("refresh_token", refresh_token.expose()));
            }
        }
        let mut request = self
            .http
            .post(format!("{}/oauth/token", app.base_url))
            .timeout(self.call_timeout)
            .form(&form);
        if let Some(basic) = basic_credentials(app) {
            request = request.header(AUTHORIZATION, basic);
        }
        if let Some(ip) = forwarded_for {
            request = request.header("auth0-forwarded-for", ip);
        }
        let response = send("oauth_token", app, request).await?;
        let body = read_capped(response, MAX_BODY_BYTES).await?;
        let tokens: TokenSet = serde_json::from_slice(&body)
            .map_err(|e| Auth0Error::InvalidResponse(e.to_string()))?;
        if !is_token68(tokens.access_token.expose()) {
            return Err(Auth0Error::InvalidResponse(
                "the access token is empty or not a valid bearer token (RFC 6750 token68)"
                    .to_owned(),
            ));
        }
        Ok(tokens)
    }

    /// `POST {auth0Url}/oauth/revoke`: the refresh token stops working.
    #[tracing::instrument(name = "auth0.oauth_revoke", skip_all, fields(client_id = %app.client_id))]
    pub async fn revoke(
        &self,
        app: &Application,
        refresh_token: &Secret,
    ) -> Result<(), Auth0Error> {
        let mut form = post_credentials(app);
        form.push(("token", refresh_token.expose()));
        let mut request = self
            .http
            .post(format!("{}/oauth/revoke", app.base_url))
            .timeout(self.call_timeout)
            .form(&form);
        if let Some(basic) = basic_credentials(app) {
            request = request.header(AUTHORIZATION, basic);
        }
        let response = send("oauth_revoke", app, request).await?;
        read_capped(response, MAX_BODY_BYTES).await?;
        Ok(())
    }
}

/// The form fields authenticating the client with `client_secret_post` (none with basic).
fn post_credentials(app: &Application) -> Vec<(&str, &str)> {
    match app.client_auth {
        ClientAuth::ClientSecretPost => vec![
            ("client_id", app.client_id.as_str()),
            ("client_secret", app.client_secret.expose()),
        ],
        ClientAuth::ClientSecretBasic => Vec::new(),
    }
}

/// `Authorization: Basic` for `client_secret_basic`: RFC 6749 §2.3.1 form-encodes the id
/// and the secret before joining them with `:`. The header is marked sensitive.
fn basic_credentials(app: &Application) -> Option<HeaderValue> {
    if app.client_auth != ClientAuth::ClientSecretBasic {
        return None;
    }
    let encode =
        |part: &str| url::form_urlencoded::byte_serialize(part.as_bytes()).collect::<String>();
    let joined = format!(
        "{}:{}",
        encode(&app.client_id),
        encode(app.client_secret.expose())
    );
    let encoded = base64::engine::general_purpose::STANDARD.encode(joined);
    let mut value = HeaderValue::from_str(&format!("Basic {encoded}")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// Sends `request`, records the outcome, and turns a non-2xx answer into an [`Auth0Error`]
/// (read by its error code; a refusal of the client's own credentials is logged for the
/// operator, naming the client).
async fn send(
    endpoint: &'static str,
    app: &Application,
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, Auth0Error> {
    let started = std::time::Instant::now();
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) if error.is_timeout() => {
            metrics::auth0_call(endpoint, "timeout", started);
            return Err(Auth0Error::Timeout);
        }
        Err(error) => {
            metrics::auth0_call(endpoint, "error", started);
            return Err(Auth0Error::Unavailable(error.without_url().to_string()));
        }
    };
    let status = response.status();
    metrics::auth0_call(endpoint, &format!("{}xx", status.as_u16() / 100), started);
    if status.is_success() {
        return Ok(response);
    }
    if status.is_server_error() {
        return Err(Auth0Error::Unavailable(format!(
            "status {}",
            status.as_u16()
        )));
    }
    let retry_after = retry_after(response.headers());
    let bytes = read_capped(response, MAX_BODY_BYTES).await?;
    let error = match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(body) if body.error.is_some() || body.code.is_some() => Auth0Error::Rejected {
            status: status.as_u16(),
            error: body.error.or(body.code).unwrap_or_default(),
            description: body
                .error_description
                .or(body.description)
                .or(body.message)
                .unwrap_or_else(|| status.canonical_reason().unwrap_or("Error").to_owned()),
            retry_after,
        },
        _ if status.as_u16() == 429 => Auth0Error::Rejected {
            status: 429,
            error: "too_many_requests".to_owned(),
            description: "Auth0's rate limit was reached.".to_owned(),
            retry_after,
        },
        _ => Auth0Error::NotJson(status.as_u16()),
    };
    if error.is_client_misconfigured() {
        tracing::error!(
            client_id = %app.client_id,
            endpoint,
            error = %error,
            "Auth0 refused this service's client credentials or grant for this client: check its clientId, clientSecret, tokenEndpointAuthMethod and grant types at Auth0"
        );
    }
    Err(error)
}

/// `Retry-After` in seconds, else the time to `x-ratelimit-reset` (epoch seconds).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    if let Some(seconds) = number(RETRY_AFTER.as_str()) {
        return Some(seconds);
    }
    let reset = number("x-ratelimit-reset")?;
    let now = u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).unwrap_or(0);
    Some(reset.saturating_sub(now).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_tokens_must_be_token68() {
        for good in ["abc", "eyJ.a-b_c~d+e/f", "YWJj==", "a="] {
            assert!(is_token68(good), "{good}");
        }
        for bad in [
            "",
            "=",
            "a b",
            "x; Domain=evil",
            "a\"b",
            "a=b",
            "tök",
            "a,b",
        ] {
            assert!(!is_token68(bad), "{bad}");
        }
    }
}
