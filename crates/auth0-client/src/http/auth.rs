//! Authentication routes (SPEC §4): `/authorize`, `/oauth/token`, `/oauth/refreshtoken`
//! (and `/refreshtoken`), `/userinfo`, `/users/me`, `/logout`.

use super::context::{
    EndUserIp, Handle, MaybeHandle, OptionalClient, OriginalUrl, SESSION_COOKIE, SelectedClient,
};
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiQuery, JsonOrForm};
use super::login_csrf::check_same_site;
use super::schemas::{CodeExchange, PasswordLogin as PasswordLoginBody, TokenGrant, UserInfo};
use super::state::AppState;
use crate::config::file::SameSite;
use crate::login::Issued;
use crate::login::authorize::{AuthorizeRequest, MAX_REDIRECT_LEN};
use crate::login::client::ClientProfile;
use crate::login::token::PasswordLogin;
use crate::secret::Secret;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use time::format_description::well_known::Rfc3339;

/// The authentication routes (merged under `SERVICE_PREFIX` by the application).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/authorize", get(authorize))
        .route("/oauth/token", post(token))
        .route("/oauth/refreshtoken", post(refresh_token))
        .route("/refreshtoken", post(refresh_token_alias))
        .route("/userinfo", get(userinfo))
        .route("/users/me", get(users_me))
        .route("/logout", get(logout))
}

/// OpenAPI description of these routes, to merge into the service's document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(authorize, token, refresh_token, refresh_token_alias, userinfo, users_me, logout),
    components(schemas(ErrorBody, TokenGrant, CodeExchange, PasswordLoginBody, TokenResponse, RefreshRequest, UserInfo)),
    tags((name = "auth", description = "Login flows and sessions"))
)]
pub struct AuthApi;

/// Query of `GET /authorize`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuthorizeQuery {
    /// The caller's state; used (and then required) only when the client sets `authorizeStateRequired`.
    state: Option<String>,
    /// Connection to log in with (must be supported by the client).
    connection: Option<String>,
    /// Where the login site wants to land afterwards: a path or a URL on the original host
    /// (the pattern documents paths; an absolute URL on that host is accepted too).
    #[param(pattern = r"^(/([^/\\\s][^\\\s]*)?)?$")]
    redirect: Option<String>,
}

/// Starts the authorization-code flow: `302` to the tenant's `/authorize`.
#[utoipa::path(get, path = "/authorize", tag = "auth",
    params(AuthorizeQuery, ("client-type" = Option<String>, Header, description = "Client type (else defaultClient)")),
    responses(
        (status = 302, description = "Redirect to Auth0's /authorize (PKCE, nonce, state)",
            headers(("Location" = String, description = "The tenant's /authorize URL"))),
        (status = 400, description = "Missing state, unsupported connection, bad or over-long redirect (2 KB), or an unparsable X-Forwarded-For entry", body = ErrorBody),
        (status = 401, description = "No or unknown client", body = ErrorBody),
        (status = 409, description = "A login with the caller's state is already pending", body = ErrorBody),
        (status = 429, description = "Too many logins started from this client IP (Retry-After)", body = ErrorBody),
        (status = 503, description = "Session store unavailable", body = ErrorBody),
    ))]
pub async fn authorize(
    State(state): State<AppState>,
    SelectedClient(client): SelectedClient,
    original: OriginalUrl,
    EndUserIp(ip): EndUserIp,
    ApiQuery(query): ApiQuery<AuthorizeQuery>,
) -> Result<Response, ApiError> {
    let redirect = match query.redirect.filter(|r| !r.is_empty()) {
        Some(redirect) if redirect.len() > MAX_REDIRECT_LEN => {
            return Err(ApiError::bad_request(format!(
                "redirect must be at most {MAX_REDIRECT_LEN} bytes."
            )));
        }
        Some(redirect) => {
            original.return_to(&redirect)?;
            Some(redirect)
        }
        None => None,
    };
    let request = AuthorizeRequest {
        state: query.state,
        connection: query.connection,
        redirect,
        client_ip: ip,
    };
    let location = state.login.authorize(&client, request).await?;
    found(&location, None)
}

/// Auth0's password-realm grant type, accepted from callers as a password login.
const PASSWORD_REALM_GRANT: &str = "http://auth0.com/oauth/grant-type/password-realm";

/// Body of `POST /oauth/token`: a code exchange or a password login.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TokenRequest {
    /// `password` for a password login, `authorization_code` for a code exchange; when
    /// absent, a body with `code` is a code exchange and one with `username` a password login.
    grant_type: Option<String>,
    /// Code from the redirect back.
    #[schema(value_type = Option<String>)]
    code: Option<Secret>,
    /// State from the redirect back.
    state: Option<String>,
    /// Password login: username or email.
    #[schema(value_type = Option<String>)]
    username: Option<Secret>,
    /// Password login: password.
    #[schema(value_type = Option<String>)]
    password: Option<Secret>,
    /// Password login: connection (else the client's default).
    connection: Option<String>,
}

/// Tokens answered to clients without the `website` scope.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    /// The access token: also the session handle.
    access_token: String,
    /// Present when Auth0 issued one (`offline_access`).
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    /// The verified id_token.
    id_token: String,
    /// When the access token expires (RFC 3339, nanoseconds, UTC).
    expire_at: String,
}

/// Code exchange or password login; creates a session.
#[utoipa::path(post, path = "/oauth/token", tag = "auth",
    request_body(description = "A code exchange (code, state) or a password login (grant_type=password, username, password)",
        content((TokenGrant = "application/json"), (TokenGrant = "application/x-www-form-urlencoded"))),
    params(("client-type" = Option<String>, Header, description = "Client type (else defaultClient)")),
    responses(
        (status = 200, description = "Tokens; for website clients an empty body and the sid cookie instead", body = TokenResponse,
            headers(
                ("Set-Cookie" = String, description = "Website clients: sid=<handle>; Path=/; HttpOnly; Secure; Max-Age=<SESSION_DURATION_SECONDS>[; SameSite=…]"),
                ("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "Bad body or unsupported connection", body = ErrorBody),
        (status = 401, description = "No or unknown client, bad state, or id_token refused", body = ErrorBody),
        (status = 403, description = "Wrong credentials (Auth0's message), or a cross-site login to a cookie client", body = ErrorBody),
        (status = 413, description = "Body over the 256 KiB limit", body = ErrorBody),
        (status = 415, description = "Neither JSON nor a form", body = ErrorBody),
        (status = 429, description = "Too many attempts (Auth0's brute-force protection)", body = ErrorBody),
        (status = 502, description = "Auth0 unavailable", body = ErrorBody),
        (status = 503, description = "Session store unavailable", body = ErrorBody),
        (status = 504, description = "Auth0 too slow", body = ErrorBody),
    ))]
pub async fn token(
    State(state): State<AppState>,
    SelectedClient(client): SelectedClient,
    original: OriginalUrl,
    headers: HeaderMap,
    EndUserIp(ip): EndUserIp,
    JsonOrForm(body): JsonOrForm<TokenRequest>,
) -> Result<Response, ApiError> {
    if client.website {
        check_same_site(&headers, &original, &client.allowed_origins)?;
    }
    let grant = body.grant_type.as_deref().filter(|g| !g.is_empty());
    let password_grant = match grant {
        Some("password" | PASSWORD_REALM_GRANT) => true,
        Some("authorization_code") => false,
        None => body.code.is_none() && body.username.is_some(),
        Some(_) => {
            return Err(ApiError::bad_request(
                "grant_type must be password or authorization_code.",
            ));
        }
    };
    let issued = if password_grant {
        let login = PasswordLogin {
            username: body.username.unwrap_or_default(),
            password: body.password.unwrap_or_default(),
            connection: body.connection,
            end_user_ip: ip.map(|ip| ip.to_string()),
        };
        state.login.password_login(&client, login).await?
    } else {
        let (Some(code), Some(code_state)) = (body.code, body.state) else {
            return Err(ApiError::bad_request(
                "Send code and state (after the redirect back), or grant_type=password with username and password.",
            ));
        };
        state
            .login
            .exchange_code(&client, &code, &code_state)
            .await?
    };
    issued_response(&client, &issued, state.login.session_duration())
}

/// Body of `POST /oauth/refreshtoken`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RefreshRequest {
    /// The session's refresh token.
    #[schema(value_type = String, min_length = 1)]
    refresh_token: Secret,
}

/// Refreshes the session's tokens at Auth0 and rotates the session to the new access token.
#[utoipa::path(post, path = "/oauth/refreshtoken", tag = "auth",
    request_body = RefreshRequest,
    security(("bearerAuth" = []), ("sidCookie" = [])),
    responses(
        (status = 200, description = "New tokens, as /oauth/token", body = TokenResponse,
            headers(("Set-Cookie" = String, description = "Website clients: the new sid cookie"))),
        (status = 400, description = "No refresh_token, or a body that is neither JSON nor a form", body = ErrorBody),
        (status = 401, description = "No session, or not its refresh token", body = ErrorBody),
        (status = 415, description = "Neither JSON nor a form", body = ErrorBody),
        (status = 502, description = "Auth0 unavailable", body = ErrorBody),
        (status = 503, description = "Session store unavailable", body = ErrorBody),
        (status = 504, description = "Auth0 too slow", body = ErrorBody),
    ))]
pub async fn refresh_token(
    State(state): State<AppState>,
    Handle(handle): Handle,
    JsonOrForm(body): JsonOrForm<RefreshRequest>,
) -> Result<Response, ApiError> {
    if body.refresh_token.is_empty() {
        return Err(ApiError::bad_request("refresh_token is required."));
    }
    let issued = state.login.refresh(&handle, &body.refresh_token).await?;
    let client = state
        .login
        .client(Some(&issued.session.client_type))
        .ok_or_else(|| {
            ApiError::unauthorized("The session's client is no longer configured: log in again.")
        })?;
    issued_response(&client, &issued, state.login.session_duration())
}

/// `/refreshtoken`: the path the service exposed before `/oauth/refreshtoken`.
#[utoipa::path(post, path = "/refreshtoken", tag = "auth",
    request_body = RefreshRequest,
    security(("bearerAuth" = []), ("sidCookie" = [])),
    responses(
        (status = 200, description = "New tokens, as /oauth/token", body = TokenResponse,
            headers(("Set-Cookie" = String, description = "Website clients: the new sid cookie"))),
        (status = 400, description = "No refresh_token", body = ErrorBody),
        (status = 401, description = "No session, or not its refresh token", body = ErrorBody),
        (status = 415, description = "Neither JSON nor a form", body = ErrorBody),
        (status = 502, description = "Auth0 unavailable", body = ErrorBody),
        (status = 503, description = "Session store unavailable", body = ErrorBody),
        (status = 504, description = "Auth0 too slow", body = ErrorBody),
    ))]
pub async fn refresh_token_alias(
    state: State<AppState>,
    handle: Handle,
    body: JsonOrForm<RefreshRequest>,
) -> Result<Response, ApiError> {
    refresh_token(state, handle, body).await
}

/// The user behind the session (refreshed first when its access token has expired).
#[utoipa::path(get, path = "/userinfo", tag = "auth",
    security(("bearerAuth" = []), ("sidCookie" = [])),
    responses(
        (status = 200, description = "The user object", body = UserInfo),
        (status = 401, description = "No session", body = ErrorBody),
        (status = 502, description = "Auth0 unavailable during a refresh", body = ErrorBody),
        (status = 503, description = "Session store unavailable", body = ErrorBody),
        (status = 504, description = "Auth0 too slow during a refresh", body = ErrorBody),
    ))]
pub async fn userinfo(
    State(state): State<AppState>,
    Handle(handle): Handle,
) -> Result<Response, ApiError> {
    let user = state.login.current_user(&handle).await?;
    Ok((
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        user.into_string(),
    )
        .into_response())
}

/// Deprecated alias of `/userinfo` (answers `Deprecation: true`).
#[utoipa::path(get, path = "/users/me", tag = "auth",
    security(("bearerAuth" = []), ("sidCookie" = [])),
    responses(
        (status = 200, description = "The user object", body = UserInfo,
            headers(("Deprecation" = String, description = "true: use /userinfo"))),
        (status = 401, description = "No session", body = ErrorBody),
        (status = 502, description = "Auth0 unavailable during a refresh", body = ErrorBody),
        (status = 503, description = "Session store unavailable", body = ErrorBody),
        (status = 504, description = "Auth0 too slow during a refresh", body = ErrorBody),
    ))]
pub async fn users_me(state: State<AppState>, handle: Handle) -> Result<Response, ApiError> {
    let mut response = userinfo(state, handle).await?;
    response.headers_mut().insert(
        HeaderName::from_static("deprecation"),
        HeaderValue::from_static("true"),
    );
    Ok(response)
}

/// Query of `GET /logout`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogoutQuery {
    /// Where to land after Auth0's logout: a path or a URL on the original host (the
    /// pattern documents paths; an absolute URL on that host is accepted too).
    #[param(pattern = r"^(/([^/\\\s][^\\\s]*)?)?$")]
    redirect: Option<String>,
}

/// Ends the session, revokes its refresh token and clears the cookie.
#[utoipa::path(get, path = "/logout", tag = "auth",
    params(LogoutQuery, ("client-type" = Option<String>, Header, description = "Client type (else the session's client)")),
    security((), ("bearerAuth" = []), ("sidCookie" = [])),
    responses(
        (status = 204, description = "Logged out (cookie cleared)",
            headers(("Set-Cookie" = String, description = "sid=; Path=/; HttpOnly; Secure; Expires=<the epoch>"))),
        (status = 302, description = "Logged out; redirect to Auth0's /v2/logout",
            headers(
                ("Location" = String, description = "Auth0's /v2/logout with client_id and returnTo"),
                ("Set-Cookie" = String, description = "The cleared sid cookie"))),
        (status = 400, description = "redirect not on the original host", body = ErrorBody),
        (status = 503, description = "Session store unavailable", body = ErrorBody),
    ))]
pub async fn logout(
    State(state): State<AppState>,
    OptionalClient(client): OptionalClient,
    original: OriginalUrl,
    MaybeHandle(handle): MaybeHandle,
    ApiQuery(query): ApiQuery<LogoutQuery>,
) -> Result<Response, ApiError> {
    let return_to = query
        .redirect
        .filter(|r| !r.is_empty())
        .map(|r| original.return_to(&r))
        .transpose()?;
    let location = match return_to {
        None => None,
        Some(return_to) => Some(
            state
                .login
                .logout_location(client, handle.as_ref(), &return_to)
                .await?,
        ),
    };
    if let Some(handle) = &handle {
        state.login.logout(handle).await?;
    }
    let clear = cleared_cookie();
    match location {
        Some(location) => found(&location, Some(clear)),
        None => Ok((StatusCode::NO_CONTENT, [(SET_COOKIE, clear)]).into_response()),
    }
}

/// `302` to `location`, optionally setting a cookie.
fn found(location: &str, cookie: Option<HeaderValue>) -> Result<Response, ApiError> {
    let location = HeaderValue::try_from(location).map_err(|_| {
        tracing::error!("redirect location is not a valid header value");
        ApiError::internal()
    })?;
    let mut response = (StatusCode::FOUND, [(LOCATION, location)]).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    Ok(response)
}

/// The answer to a login or refresh: the `sid` cookie for website clients, tokens otherwise.
fn issued_response(
    client: &ClientProfile,
    issued: &Issued,
    session_duration: Duration,
) -> Result<Response, ApiError> {
    let no_store = (CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if client.website {
        let cookie = session_cookie(issued.handle.expose(), session_duration, client.same_site)?;
        return Ok((StatusCode::OK, [no_store, (SET_COOKIE, cookie)]).into_response());
    }
    let expire_at = issued
        .expire_at
        .format(&Rfc3339)
        .map_err(|_| ApiError::internal())?;
    let body = TokenResponse {
        access_token: issued.handle.expose().to_owned(),
        refresh_token: issued
            .session
            .refresh_token
            .as_ref()
            .map(|t| t.expose().to_owned()),
        id_token: issued.session.id_token.expose().to_owned(),
        expire_at: rfc3339_nanos(&expire_at),
    };
    Ok(([no_store], Json(body)).into_response())
}

/// RFC 3339 with exactly nine fractional digits: `2021-07-16T08:28:24.568365226Z`.
fn rfc3339_nanos(formatted: &str) -> String {
    let (seconds, fraction) = match formatted.strip_suffix('Z').and_then(|s| s.split_once('.')) {
        Some((seconds, fraction)) => (seconds.to_owned(), fraction.to_owned()),
        None => (formatted.trim_end_matches('Z').to_owned(), String::new()),
    };
    format!("{seconds}.{fraction:0<9}Z")
}

/// `sid=<handle>; Path=/; HttpOnly; Secure; Max-Age=<duration>[; SameSite=<s>]`.
fn session_cookie(
    handle: &str,
    duration: Duration,
    same_site: Option<SameSite>,
) -> Result<HeaderValue, ApiError> {
    let mut cookie = format!(
        "{SESSION_COOKIE}={handle}; Path=/; HttpOnly; Secure; Max-Age={}",
        duration.as_secs()
    );
    if let Some(same_site) = same_site {
        let value = match same_site {
            SameSite::Lax => "Lax",
            SameSite::None => "None",
            SameSite::Strict => "Strict",
        };
        cookie.push_str("; SameSite=");
        cookie.push_str(value);
    }
    HeaderValue::try_from(cookie).map_err(|_| {
        tracing::error!("the access token is not a valid cookie value");
        ApiError::bad_gateway("Auth0 issued an access token that cannot be carried in a cookie.")
    })
}

/// `sid=; Path=/; HttpOnly; Secure; Expires=<the epoch>`.
fn cleared_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "sid=; Path=/; HttpOnly; Secure; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::OpenApi as _;

    #[test]
    fn the_openapi_document_lists_every_auth_route() {
        let doc = AuthApi::openapi();
        let paths: Vec<&str> = doc.paths.paths.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            [
                "/authorize",
                "/logout",
                "/oauth/refreshtoken",
                "/oauth/token",
                "/refreshtoken",
                "/userinfo",
                "/users/me"
            ]
        );
    }

    #[test]
    fn expire_at_always_has_nine_fractional_digits() {
        assert_eq!(
            rfc3339_nanos("2021-07-16T08:28:24.568365226Z"),
            "2021-07-16T08:28:24.568365226Z"
        );
        assert_eq!(
            rfc3339_nanos("2021-07-16T08:28:24.5Z"),
            "2021-07-16T08:28:24.500000000Z"
        );
        assert_eq!(
            rfc3339_nanos("2021-07-16T08:28:24Z"),
            "2021-07-16T08:28:24.000000000Z"
        );
    }

    #[test]
    fn the_session_cookie_has_exactly_the_documented_attributes() {
        let cookie = session_cookie("tok", Duration::from_secs(3600), Some(SameSite::Lax)).unwrap();
        assert_eq!(
            cookie,
            "sid=tok; Path=/; HttpOnly; Secure; Max-Age=3600; SameSite=Lax"
        );
        let cookie = session_cookie("tok", Duration::from_secs(60), None).unwrap();
        assert_eq!(cookie, "sid=tok; Path=/; HttpOnly; Secure; Max-Age=60");
    }
}
