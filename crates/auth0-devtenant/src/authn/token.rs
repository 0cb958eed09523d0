//! `POST /oauth/token`: authorization_code (PKCE), refresh_token (rotation), password,
//! password-realm and client_credentials grants.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, PRAGMA};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::authn::params::{Params, authenticate_client, grant_allowed, parse_params};
use crate::config::ClientConfig;
use crate::errors::AuthError;
use crate::grants::{Challenge, RefreshRefusal};
use crate::state::{Tenant, connection_enabled};
use crate::tokens::{UserGrant, issue_client_token, issue_user_tokens};
use crate::users::UserRecord;

/// The password-realm grant type.
pub(crate) const PASSWORD_REALM: &str = "http://auth0.com/oauth/grant-type/password-realm";

/// `POST /oauth/token`.
pub(crate) async fn token(
    State(tenant): State<Arc<Tenant>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match exchange(&tenant, &headers, &body) {
        Ok((grant_type, body)) => {
            tenant.stats.grant(&grant_type);
            (
                StatusCode::OK,
                [(CACHE_CONTROL, "no-store"), (PRAGMA, "no-cache")],
                Json(body),
            )
                .into_response()
        }
        Err(error) => {
            tracing::debug!(
                error = error.error(),
                description = error.description(),
                "token request refused"
            );
            error.into_response()
        }
    }
}

fn exchange(
    tenant: &Tenant,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(String, Value), AuthError> {
    let params = parse_params(headers, body)?;
    let grant_type = params
        .get("grant_type")
        .cloned()
        .ok_or_else(|| AuthError::invalid_request("Missing required parameter: grant_type"))?;
    let client = authenticate_client(tenant, headers, &params)?;
    if let Some(forwarded) = headers
        .get("auth0-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        tenant.stats.forwarded_for(&client.client_id, forwarded);
    }
    let known = matches!(
        grant_type.as_str(),
        "authorization_code" | "refresh_token" | "password" | "client_credentials" | PASSWORD_REALM
    );
    if !known {
        return Err(AuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("Unsupported grant type: {grant_type}"),
        ));
    }
    if !grant_allowed(client, &grant_type) {
        return Err(AuthError::new(
            StatusCode::FORBIDDEN,
            "unauthorized_client",
            format!("Grant type '{grant_type}' not allowed for the client."),
        ));
    }
    let body = match grant_type.as_str() {
        "authorization_code" => authorization_code(tenant, client, &params)?,
        "refresh_token" => refresh_token(tenant, client, &params)?,
        "client_credentials" => client_credentials(tenant, client, &params)?,
        "password" => {
            let connection = tenant
                .config
                .default_directory()
                .map(str::to_owned)
                .ok_or_else(|| {
                    AuthError::server_error(
                        "Authorization server not configured with default connection.",
                    )
                })?;
            password(tenant, client, &params, &connection)?
        }
        _ => {
            let realm = required(&params, "realm")?;
            password(tenant, client, &params, realm)?
        }
    };
    Ok((grant_type, body))
}

fn required<'p>(params: &'p Params, name: &str) -> Result<&'p str, AuthError> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| AuthError::invalid_request(format!("Missing required parameter: {name}")))
}

fn audience<'p>(tenant: &Tenant, params: &'p Params) -> Result<Option<&'p str>, AuthError> {
    match params
        .get("audience")
        .map(String::as_str)
        .filter(|a| !a.is_empty())
    {
        Some(api) if !tenant.is_known_audience(api) => Err(AuthError::new(
            StatusCode::FORBIDDEN,
            "access_denied",
            format!("Service not enabled within domain: {api}"),
        )),
        other => Ok(other),
    }
}

fn password(
    tenant: &Tenant,
    client: &ClientConfig,
    params: &Params,
    connection: &str,
) -> Result<Value, AuthError> {
    let username = required(params, "username")?;
    let password = required(params, "password")?;
    if tenant.connection_by_name(connection).is_none() {
        return Err(AuthError::invalid_request("the connection was not found"));
    }
    if !connection_enabled(client, connection) {
        return Err(AuthError::invalid_request("the connection was disabled"));
    }
    let audience = audience(tenant, params)?;
    let user = login(tenant, connection, username, password).map_err(|e| e.into_auth_error())?;
    let scope = params.get("scope").map(String::as_str).unwrap_or_default();
    issue_user_tokens(
        tenant,
        UserGrant {
            client_id: &client.client_id,
            user: &user,
            scope,
            audience,
            nonce: None,
            gty: Some("password"),
            refresh_family: None,
            sid: None,
        },
        grant_allowed(client, "refresh_token"),
    )
}

/// Why a login failed.
#[derive(Debug)]
pub(crate) enum LoginFailure {
    /// Unknown user or wrong password.
    WrongCredentials,
    /// The user is blocked.
    Blocked,
    /// Brute-force protection holds the user's logins.
    TooManyAttempts,
    /// The user must complete MFA.
    MfaRequired,
    /// A login Action denied the login (its reason).
    Denied(String),
}

/// Auth0's description of a brute-force block.
pub(crate) const TOO_MANY_ATTEMPTS: &str = "Your account has been blocked after multiple consecutive login attempts. We've sent you an email with instructions on how to unblock it.";

impl LoginFailure {
    fn into_auth_error(self) -> AuthError {
        match self {
            LoginFailure::WrongCredentials => AuthError::wrong_credentials(),
            LoginFailure::Blocked => {
                AuthError::new(StatusCode::UNAUTHORIZED, "unauthorized", "user is blocked")
            }
            LoginFailure::TooManyAttempts => AuthError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                TOO_MANY_ATTEMPTS,
            ),
            LoginFailure::MfaRequired => AuthError::new(
                StatusCode::FORBIDDEN,
                "mfa_required",
                "Multifactor authentication required",
            )
            .with_mfa_token(uuid::Uuid::new_v4().simple().to_string()),
            LoginFailure::Denied(reason) => {
                AuthError::new(StatusCode::FORBIDDEN, "access_denied", reason)
            }
        }
    }
}

/// Checks a user's credentials in a connection and records the login.
pub(crate) fn login(
    tenant: &Tenant,
    connection: &str,
    username: &str,
    password: &str,
) -> Result<UserRecord, LoginFailure> {
    let user = {
        let users = tenant.users_read();
        let user = users
            .find_login(connection, username)
            .ok_or(LoginFailure::WrongCredentials)?;
        if tenant.login_held(&user.user_id) {
            return Err(LoginFailure::TooManyAttempts);
        }
        let matches = user
            .password
            .as_ref()
            .is_some_and(|hash| hash.verify(password));
        tenant.record_password_check(&user.user_id, matches);
        if !matches {
            return Err(LoginFailure::WrongCredentials);
        }
        if user.blocked {
            return Err(LoginFailure::Blocked);
        }
        if let Some(rule) = tenant.login_rule(&user.user_id) {
            if let Some(reason) = &rule.denied {
                return Err(LoginFailure::Denied(reason.clone()));
            }
            if rule.mfa_required {
                return Err(LoginFailure::MfaRequired);
            }
        }
        user.clone()
    };
    tenant.users_write().record_login(&user.user_id);
    Ok(user)
}

fn client_credentials(
    tenant: &Tenant,
    client: &ClientConfig,
    params: &Params,
) -> Result<Value, AuthError> {
    let audience = audience(tenant, params)?.ok_or_else(|| {
        AuthError::new(
            StatusCode::FORBIDDEN,
            "access_denied",
            "No audience parameter was provided, and no default audience has been configured",
        )
    })?;
    issue_client_token(
        tenant,
        &client.client_id,
        audience,
        params.get("scope").map(String::as_str),
    )
}

fn verify_pkce(challenge: &Challenge, verifier: Option<&String>) -> bool {
    let Some(verifier) = verifier else {
        return false;
    };
    match challenge.method.as_str() {
        "plain" => *verifier == challenge.value,
        _ => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == challenge.value,
    }
}

fn authorization_code(
    tenant: &Tenant,
    client: &ClientConfig,
    params: &Params,
) -> Result<Value, AuthError> {
    let code = required(params, "code")?;
    let grant = tenant
        .grants
        .take_code(code)
        .filter(|g| g.client_id == client.client_id)
        .ok_or_else(|| AuthError::invalid_grant("Invalid authorization code"))?;
    if params
        .get("redirect_uri")
        .is_none_or(|uri| *uri != grant.redirect_uri)
    {
        return Err(AuthError::invalid_grant("Invalid redirect_uri"));
    }
    match &grant.challenge {
        Some(challenge) if !verify_pkce(challenge, params.get("code_verifier")) => {
            return Err(AuthError::invalid_grant("Failed to verify code verifier"));
        }
        None if client.token_endpoint_auth_method == "none" => {
            return Err(AuthError::invalid_grant("Failed to verify code verifier"));
        }
        _ => {}
    }
    let user = tenant
        .users_read()
        .get(&grant.user_id)
        .cloned()
        .ok_or_else(|| AuthError::invalid_grant("Invalid authorization code"))?;
    issue_user_tokens(
        tenant,
        UserGrant {
            client_id: &client.client_id,
            user: &user,
            scope: &grant.scope,
            audience: grant.audience.as_deref(),
            nonce: grant.nonce.as_deref(),
            gty: None,
            refresh_family: None,
            sid: grant.sid.as_deref(),
        },
        grant_allowed(client, "refresh_token"),
    )
}

fn refresh_token(
    tenant: &Tenant,
    client: &ClientConfig,
    params: &Params,
) -> Result<Value, AuthError> {
    let token = required(params, "refresh_token")?;
    let reuse_interval = Duration::from_secs(tenant.config.refresh_token_reuse_interval_seconds);
    let grant = tenant.grants.use_refresh(token, &client.client_id, reuse_interval).map_err(|refusal| {
        if refusal == RefreshRefusal::Reused {
            tracing::info!(client_id = %client.client_id, "refresh token reused: its family is revoked");
        }
        AuthError::invalid_refresh_token()
    })?;
    let user_id = tenant.faults.refresh_user().unwrap_or(grant.user_id);
    let user = tenant
        .users_read()
        .get(&user_id)
        .filter(|u| !u.blocked)
        .cloned()
        .ok_or_else(AuthError::invalid_refresh_token)?;
    issue_user_tokens(
        tenant,
        UserGrant {
            client_id: &client.client_id,
            user: &user,
            scope: &grant.scope,
            audience: grant.audience.as_deref(),
            nonce: None,
            gty: Some("refresh_token"),
            refresh_family: Some(grant.family),
            sid: None,
        },
        true,
    )
}
