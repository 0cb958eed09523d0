//! The Management API bearer check: a token of this tenant for `<issuer>api/v2/` with the
//! scope the route needs.

use axum::http::{HeaderMap, StatusCode};

use crate::authn::session::{bearer, verify_token};
use crate::errors::MgmtError;
use crate::state::Tenant;

/// Checks the bearer token and that its scope holds `scope`.
pub(crate) fn require_scope(
    tenant: &Tenant,
    headers: &HeaderMap,
    scope: &str,
) -> Result<(), MgmtError> {
    let token = bearer(headers).ok_or_else(|| MgmtError::unauthorized("Missing authentication"))?;
    let claims = verify_token(tenant, token, &tenant.management_audience)
        .ok_or_else(|| MgmtError::unauthorized("Invalid token"))?;
    let granted = claims
        .get("scope")
        .and_then(|s| s.as_str())
        .unwrap_or_default();
    if granted.split_whitespace().any(|s| s == scope) {
        Ok(())
    } else {
        Err(MgmtError::new(
            StatusCode::FORBIDDEN,
            format!("Insufficient scope, expected any of: {scope}"),
            "insufficient_scope",
        ))
    }
}
