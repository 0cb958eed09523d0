//! Request parameters (form or JSON bodies) and client authentication (client_secret_post,
//! HTTP Basic, or none for public clients).

use std::collections::HashMap;

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::config::ClientConfig;
use crate::errors::AuthError;
use crate::state::Tenant;

/// The parameters of a token-endpoint style request.
pub(crate) type Params = HashMap<String, String>;

/// Parses a JSON or `application/x-www-form-urlencoded` body.
pub(crate) fn parse_params(headers: &HeaderMap, body: &[u8]) -> Result<Params, AuthError> {
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if json {
        let value: Value = serde_json::from_slice(body)
            .map_err(|_| AuthError::invalid_request("The request body is not valid JSON."))?;
        let Value::Object(map) = value else {
            return Err(AuthError::invalid_request(
                "The request body must be a JSON object.",
            ));
        };
        Ok(map
            .into_iter()
            .filter_map(|(key, value)| match value {
                Value::String(s) => Some((key, s)),
                Value::Null => None,
                other => Some((key, other.to_string())),
            })
            .collect())
    } else {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .map(|pairs| pairs.into_iter().collect())
            .map_err(|_| AuthError::invalid_request("The request body is not valid form data."))
    }
}

/// Decodes `Authorization: Basic` client credentials (RFC 6749 §2.3.1: form-urlencoded parts).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id), form_decode(secret)))
}

fn form_decode(part: &str) -> String {
    url::form_urlencoded::parse(part.as_bytes())
        .next()
        .map(|(key, value)| {
            if value.is_empty() {
                key.into_owned()
            } else {
                format!("{key}={value}")
            }
        })
        .unwrap_or_default()
}

fn secrets_equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Authenticates the calling client.
pub(crate) fn authenticate_client<'t>(
    tenant: &'t Tenant,
    headers: &HeaderMap,
    params: &Params,
) -> Result<&'t ClientConfig, AuthError> {
    let (client_id, secret, method) = match basic_credentials(headers) {
        Some((id, secret)) => (id, Some(secret), "client_secret_basic"),
        None => match params.get("client_id") {
            Some(id) => (
                id.clone(),
                params.get("client_secret").cloned(),
                "client_secret_post",
            ),
            None => {
                return Err(AuthError::invalid_request(
                    "Missing required parameter: client_id",
                ));
            }
        },
    };
    let client = tenant
        .client(&client_id)
        .ok_or_else(AuthError::client_unauthorized)?;
    if client.token_endpoint_auth_method == "none" {
        return Ok(client);
    }
    tenant.stats.client_auth(&client.client_id, method);
    if client.token_endpoint_auth_method == "client_secret_basic" && method != "client_secret_basic"
    {
        return Err(AuthError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed: this client authenticates with client_secret_basic.",
        ));
    }
    match secret {
        Some(secret) if secrets_equal(&secret, &client.client_secret) => Ok(client),
        _ => Err(AuthError::client_unauthorized()),
    }
}

/// Whether a client may use a grant type.
pub(crate) fn grant_allowed(client: &ClientConfig, grant_type: &str) -> bool {
    client.grant_types.is_empty() || client.grant_types.iter().any(|g| g == grant_type)
}
