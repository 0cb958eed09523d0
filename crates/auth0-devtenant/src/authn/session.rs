//! `GET|POST /userinfo`, `GET /v2/logout` and `POST /oauth/revoke`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header::{AUTHORIZATION, COOKIE, LOCATION, SET_COOKIE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, Validation};
use serde_json::Value;

use crate::authn::authorize::error_page;
use crate::authn::params::{authenticate_client, parse_params};
use crate::state::Tenant;
use crate::util::url_allowed;

/// The bearer token of a request, if any.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Verifies a token signed by this tenant for `audience`; returns its claims.
pub(crate) fn verify_token(
    tenant: &Tenant,
    token: &str,
    audience: &str,
) -> Option<serde_json::Map<String, Value>> {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = 0;
    validation.set_issuer(&[&tenant.issuer]);
    validation.set_audience(&[audience]);
    let data = jsonwebtoken::decode::<Value>(token, tenant.keys.decoding(), &validation).ok()?;
    match data.claims {
        Value::Object(claims) => Some(claims),
        _ => None,
    }
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
        "Unauthorized",
    )
        .into_response()
}

/// `GET /userinfo`: the user's claims for the token's scopes.
pub(crate) async fn userinfo(State(tenant): State<Arc<Tenant>>, headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers) else {
        return unauthorized();
    };
    let audience = format!("{}userinfo", tenant.issuer);
    let Some(claims) = verify_token(&tenant, token, &audience) else {
        return unauthorized();
    };
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let scope = claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let users = tenant.users_read();
    match users.get(sub) {
        Some(user) => Json(Value::Object(
            user.claims(&scopes, &tenant.config.custom_claims_namespace),
        ))
        .into_response(),
        None => unauthorized(),
    }
}

/// The value of the tenant's session cookie, if the request carries one.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == crate::backchannel::SESSION_COOKIE).then(|| value.to_owned())
        })
}

/// `GET /v2/logout?client_id=…&returnTo=…`: ends the Auth0 session of the `auth0`
/// cookie (its clients get a back-channel logout token); `returnTo` must be an allowed
/// logout URL.
pub(crate) async fn logout(
    State(tenant): State<Arc<Tenant>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut response = logout_redirect(&tenant, &q);
    if response.status().is_client_error() {
        return response;
    }
    if let Some(cookie) = session_cookie(&headers) {
        tenant
            .sessions
            .logout_cookie(&cookie, &tenant.keys, &tenant.issuer);
    }
    response.headers_mut().insert(
        SET_COOKIE,
        axum::http::HeaderValue::from_static(
            "auth0=; Path=/; HttpOnly; SameSite=Lax; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        ),
    );
    response
}

fn logout_redirect(tenant: &Tenant, q: &HashMap<String, String>) -> Response {
    let Some(return_to) = q.get("returnTo").filter(|r| !r.is_empty()) else {
        return (StatusCode::OK, "OK").into_response();
    };
    let allowed = match q.get("client_id").filter(|c| !c.is_empty()) {
        Some(client_id) => match tenant.client(client_id) {
            Some(client) => &client.allowed_logout_urls,
            None => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    &format!("Unknown client: {client_id}"),
                );
            }
        },
        None => &tenant.config.allowed_logout_urls,
    };
    if !allowed
        .iter()
        .any(|pattern| url_allowed(pattern, return_to))
    {
        return error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!(
                "The \"returnTo\" querystring parameter \"{return_to}\" is not defined as a valid URL in \"Allowed Logout URLs\"."
            ),
        );
    }
    (StatusCode::FOUND, [(LOCATION, return_to.clone())]).into_response()
}

/// `POST /oauth/revoke`: revokes a refresh token (and its rotation family).
pub(crate) async fn revoke(
    State(tenant): State<Arc<Tenant>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = match parse_params(&headers, &body) {
        Ok(params) => params,
        Err(error) => return error.into_response(),
    };
    let client = match authenticate_client(&tenant, &headers, &params) {
        Ok(client) => client,
        Err(error) => return error.into_response(),
    };
    let Some(token) = params.get("token").filter(|t| !t.is_empty()) else {
        return crate::errors::AuthError::invalid_request("Missing required parameter: token")
            .into_response();
    };
    tenant.grants.revoke_refresh(token, &client.client_id);
    StatusCode::OK.into_response()
}
