//! Issuing tokens: access tokens and id_tokens (RS256 JWTs), refresh tokens, and the
//! `/oauth/token` success body.

use serde_json::{Map, Value, json};

use crate::errors::AuthError;
use crate::state::Tenant;
use crate::users::UserRecord;
use crate::util::{now_epoch, random_token};

const OIDC_SCOPES: [&str; 6] = [
    "openid",
    "profile",
    "email",
    "address",
    "phone",
    "offline_access",
];

/// A user grant about to be turned into tokens.
pub(crate) struct UserGrant<'a> {
    /// The client the tokens are for.
    pub(crate) client_id: &'a str,
    /// The user.
    pub(crate) user: &'a UserRecord,
    /// The scope as requested.
    pub(crate) scope: &'a str,
    /// The API, if any.
    pub(crate) audience: Option<&'a str>,
    /// The nonce of the authorize request.
    pub(crate) nonce: Option<&'a str>,
    /// `gty` claim of the access token (`password`, `refresh_token`...).
    pub(crate) gty: Option<&'static str>,
    /// Family of the refresh token being rotated (a new family otherwise).
    pub(crate) refresh_family: Option<String>,
    /// The Auth0 session of a browser login (its id_token carries it as `sid`).
    pub(crate) sid: Option<&'a str>,
}

/// The scopes Auth0 grants: OIDC scopes, plus anything when an API is the audience.
pub(crate) fn granted_scope(requested: &str, audience: Option<&str>) -> String {
    let mut granted: Vec<&str> = Vec::new();
    for word in requested.split_whitespace() {
        if (audience.is_some() || OIDC_SCOPES.contains(&word)) && !granted.contains(&word) {
            granted.push(word);
        }
    }
    granted.join(" ")
}

fn access_token_ttl(tenant: &Tenant) -> u64 {
    match tenant.faults.access_token_ttl() {
        Some(ttl) => ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0),
        None => tenant.config.access_token_lifetime_seconds,
    }
}

fn sign(tenant: &Tenant, claims: Map<String, Value>) -> Result<String, AuthError> {
    tenant
        .keys
        .sign(&Value::Object(claims))
        .map_err(|_| AuthError::server_error("token signing failed"))
}

fn sign_repeatable(tenant: &Tenant, claims: Map<String, Value>) -> Result<String, AuthError> {
    tenant
        .keys
        .sign_repeatable(&Value::Object(claims))
        .map_err(|_| AuthError::server_error("token signing failed"))
}

/// Issues the tokens of a user grant and returns the `/oauth/token` body.
pub(crate) fn issue_user_tokens(
    tenant: &Tenant,
    grant: UserGrant<'_>,
    allow_refresh: bool,
) -> Result<Value, AuthError> {
    let scope = granted_scope(grant.scope, grant.audience);
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let openid = scopes.contains(&"openid");
    let now = now_epoch();
    let ttl = access_token_ttl(tenant);
    let namespace = tenant.config.custom_claims_namespace.as_str();
    let custom = grant.user.claims(&[], namespace);

    let userinfo = format!("{}userinfo", tenant.issuer);
    let aud = match grant.audience {
        Some(api) if openid => json!([api, userinfo]),
        Some(api) => json!(api),
        None => json!(userinfo),
    };
    let mut access = custom;
    access.insert("iss".to_owned(), json!(tenant.issuer));
    access.insert("aud".to_owned(), aud);
    access.insert("iat".to_owned(), json!(now));
    access.insert("exp".to_owned(), json!(now + ttl));
    access.insert("scope".to_owned(), json!(scope));
    access.insert("azp".to_owned(), json!(grant.client_id));
    access.insert("jti".to_owned(), json!(random_token(16)));
    if let Some(gty) = grant.gty {
        access.insert("gty".to_owned(), json!(gty));
    }
    let mut body = Map::new();
    let access_token = match tenant.faults.access_token_override() {
        Some(value) => value,
        None => sign(tenant, access)?,
    };
    body.insert("access_token".to_owned(), json!(access_token));

    if openid {
        let mut id = grant.user.claims(&scopes, namespace);
        id.insert("iss".to_owned(), json!(tenant.issuer));
        id.insert("aud".to_owned(), json!(grant.client_id));
        id.insert("iat".to_owned(), json!(now));
        id.insert(
            "exp".to_owned(),
            json!(now + tenant.config.id_token_lifetime_seconds),
        );
        if let Some(sid) = grant.sid {
            // A browser login belongs to an Auth0 session; password and refresh grants do not.
            id.insert("sid".to_owned(), json!(sid));
            tenant.sessions.join(sid, grant.client_id);
        }
        if let Some(nonce) = grant.nonce {
            id.insert("nonce".to_owned(), json!(nonce));
        }
        body.insert("id_token".to_owned(), json!(sign_repeatable(tenant, id)?));
    }
    if allow_refresh && scopes.contains(&"offline_access") {
        let token = tenant.grants.issue_refresh(
            grant.client_id,
            &grant.user.user_id,
            &scope,
            grant.audience,
            grant.refresh_family,
        );
        body.insert("refresh_token".to_owned(), json!(token));
    }
    body.insert("scope".to_owned(), json!(scope));
    body.insert("expires_in".to_owned(), json!(ttl));
    body.insert("token_type".to_owned(), json!("Bearer"));
    Ok(Value::Object(body))
}

/// The scopes of the Management API granted to machine-to-machine clients.
pub(crate) const MANAGEMENT_SCOPES: &str = "read:users update:users delete:users create:users \
read:users_app_metadata update:users_app_metadata delete:users_app_metadata create:users_app_metadata \
read:connections read:clients";

/// Issues a client_credentials access token and returns the `/oauth/token` body.
pub(crate) fn issue_client_token(
    tenant: &Tenant,
    client_id: &str,
    audience: &str,
    requested: Option<&str>,
) -> Result<Value, AuthError> {
    let now = now_epoch();
    let ttl = access_token_ttl(tenant);
    let scope = if audience == tenant.management_audience {
        match requested {
            Some(requested) if !requested.trim().is_empty() => requested
                .split_whitespace()
                .filter(|s| MANAGEMENT_SCOPES.split_whitespace().any(|m| m == *s))
                .collect::<Vec<_>>()
                .join(" "),
            _ => MANAGEMENT_SCOPES.to_owned(),
        }
    } else {
        requested.unwrap_or_default().to_owned()
    };
    let mut claims = Map::new();
    claims.insert("iss".to_owned(), json!(tenant.issuer));
    claims.insert("sub".to_owned(), json!(format!("{client_id}@clients")));
    claims.insert("aud".to_owned(), json!(audience));
    claims.insert("iat".to_owned(), json!(now));
    claims.insert("exp".to_owned(), json!(now + ttl));
    claims.insert("scope".to_owned(), json!(scope));
    claims.insert("gty".to_owned(), json!("client-credentials"));
    claims.insert("azp".to_owned(), json!(client_id));
    claims.insert("jti".to_owned(), json!(random_token(16)));
    Ok(json!({
        "access_token": sign(tenant, claims)?,
        "scope": scope,
        "expires_in": ttl,
        "token_type": "Bearer",
    }))
}
