//! Auth0 Authentication API: `/oauth/token` (authorization code with PKCE, password,
//! password-realm, refresh token) and `/oauth/revoke`.
//!
//! Every call is bounded in time, counted in metrics and traced without its secrets.

use super::Application;
use crate::metrics;
use crate::secret::Secret;
use serde::Deserialize;
use std::time::Duration;

/// Upper bound of one Authentication API call (connect + answer).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// Auth0 refused the request (4xx) with an OAuth error code and description.
    #[error("Auth0 refused the request ({status}, {error})")]
    Rejected {
        /// Auth0's HTTP status.
        status: u16,
        /// OAuth error code (`invalid_grant`, `access_denied`, …).
        error: String,
        /// Auth0's human-readable description.
        description: String,
    },
    /// Auth0 could not be reached or failed (5xx).
    #[error("Auth0 unavailable: {0}")]
    Unavailable(String),
    /// Auth0 did not answer within [`CALL_TIMEOUT`].
    #[error("Auth0 did not answer in time")]
    Timeout,
    /// Auth0 answered a body that could not be read.
    #[error("Auth0 answered an unreadable body: {0}")]
    InvalidResponse(String),
}

impl Auth0Error {
    /// True for OAuth `invalid_grant` (wrong password, unknown or revoked refresh token, used code).
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, Auth0Error::Rejected { error, .. } if error == "invalid_grant")
    }
}

/// Auth0's error body (OAuth form, or the `{statusCode,error,message}` form).
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// Client of the Authentication API of any tenant (the tenant comes with each [`Application`]).
#[derive(Debug, Clone)]
pub struct AuthenticationApi {
    http: reqwest::Client,
}

impl AuthenticationApi {
    /// A client on a shared `reqwest::Client`; each call adds its own [`CALL_TIMEOUT`].
    pub fn new(http: reqwest::Client) -> Self {
        Self { http }
    }

    /// `POST {auth0Url}/oauth/token` with `grant`.
    #[tracing::instrument(name = "auth0.oauth_token", skip_all, fields(grant = grant.name(), client_id = %app.client_id))]
    pub async fn token(&self, app: &Application, grant: Grant<'_>) -> Result<TokenSet, Auth0Error> {
        let mut form: Vec<(&str, &str)> = vec![
            ("client_id", &app.client_id),
            ("client_secret", app.client_secret.expose()),
        ];
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
            .timeout(CALL_TIMEOUT)
            .form(&form);
        if let Some(ip) = forwarded_for {
            request = request.header("auth0-forwarded-for", ip);
        }
        let response = send("oauth_token", request).await?;
        response
            .json::<TokenSet>()
            .await
            .map_err(|e| Auth0Error::InvalidResponse(e.without_url().to_string()))
    }

    /// `POST {auth0Url}/oauth/revoke`: the refresh token stops working.
    #[tracing::instrument(name = "auth0.oauth_revoke", skip_all, fields(client_id = %app.client_id))]
    pub async fn revoke(
        &self,
        app: &Application,
        refresh_token: &Secret,
    ) -> Result<(), Auth0Error> {
        let form = [
            ("client_id", app.client_id.as_str()),
            ("client_secret", app.client_secret.expose()),
            ("token", refresh_token.expose()),
        ];
        let request = self
            .http
            .post(format!("{}/oauth/revoke", app.base_url))
            .timeout(CALL_TIMEOUT)
            .form(&form);
        send("oauth_revoke", request).await.map(drop)
    }
}

/// Sends `request`, records the outcome, and turns a non-2xx answer into an [`Auth0Error`].
async fn send(
    endpoint: &'static str,
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, Auth0Error> {
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) if error.is_timeout() => {
            metrics::auth0_call(endpoint, "timeout");
            return Err(Auth0Error::Timeout);
        }
        Err(error) => {
            metrics::auth0_call(endpoint, "error");
            return Err(Auth0Error::Unavailable(error.without_url().to_string()));
        }
    };
    let status = response.status();
    metrics::auth0_call(endpoint, &format!("{}xx", status.as_u16() / 100));
    if status.is_success() {
        return Ok(response);
    }
    if status.is_server_error() {
        return Err(Auth0Error::Unavailable(format!(
            "status {}",
            status.as_u16()
        )));
    }
    let body: ErrorBody = match response.json().await {
        Ok(body) => body,
        Err(error) if error.is_timeout() => return Err(Auth0Error::Timeout),
        Err(_) => ErrorBody::default(),
    };
    Err(Auth0Error::Rejected {
        status: status.as_u16(),
        error: body.error.unwrap_or_else(|| "unknown_error".to_owned()),
        description: body
            .error_description
            .or(body.message)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("Error").to_owned()),
    })
}
