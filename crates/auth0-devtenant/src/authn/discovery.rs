//! `/.well-known/openid-configuration` and `/.well-known/jwks.json`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::state::Tenant;

/// The OpenID Provider metadata.
pub(crate) async fn openid_configuration(State(tenant): State<Arc<Tenant>>) -> Response {
    let issuer = &tenant.issuer;
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}authorize"),
        "token_endpoint": format!("{issuer}oauth/token"),
        "userinfo_endpoint": format!("{issuer}userinfo"),
        "jwks_uri": format!("{issuer}.well-known/jwks.json"),
        "revocation_endpoint": format!("{issuer}oauth/revoke"),
        "scopes_supported": ["openid", "profile", "offline_access", "name", "given_name", "family_name",
            "nickname", "email", "email_verified", "picture", "created_at", "identities", "phone", "address"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "password", "client_credentials",
            "http://auth0.com/oauth/grant-type/password-realm"],
        "code_challenge_methods_supported": ["S256", "plain"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "claims_supported": ["aud", "auth_time", "created_at", "email", "email_verified", "exp", "family_name",
            "given_name", "iat", "identities", "iss", "name", "nickname", "phone_number", "picture", "sub"],
        "request_uri_parameter_supported": false,
        "request_parameter_supported": false,
    }))
    .into_response()
}

/// The JSON Web Key Set: the signing key, then the tenant file's `extraJwks`.
pub(crate) async fn jwks(State(tenant): State<Arc<Tenant>>) -> Response {
    if tenant.config.extra_jwks.is_empty() {
        return Json(tenant.keys.jwks().clone()).into_response();
    }
    let mut document = tenant.keys.jwks().clone();
    if let Some(keys) = document.get_mut("keys").and_then(Value::as_array_mut) {
        keys.extend(tenant.config.extra_jwks.iter().cloned());
    }
    Json(document).into_response()
}
