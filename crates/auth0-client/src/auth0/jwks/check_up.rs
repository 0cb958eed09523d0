//! The check-up's probe of a tenant's JWKS: it answers, parses and holds a usable key.

use super::{JwksCache, usable_signing_keys};
use std::time::Duration;

/// Largest JWKS document the check-up reads.
const MAX_JWKS_BYTES: usize = 256 * 1024;

impl JwksCache {
    /// Check-up: the tenant's JWKS answers within `timeout`, parses and holds at least
    /// one usable signing key; otherwise a short reason (logged here, at warn). The
    /// cache is left as it is.
    pub async fn check_up(&self, tenant: &str, timeout: Duration) -> Result<(), String> {
        let url = format!("{tenant}/.well-known/jwks.json");
        let failed = |why: String, kind: &'static str| {
            tracing::warn!(
                tenant,
                error.message = why.as_str(),
                error.r#type = kind,
                "check-up: JWKS not usable"
            );
            Err(why)
        };
        let response = match self.http.get(&url).timeout(timeout).send().await {
            Ok(response) => response,
            Err(error) if error.is_timeout() => return failed("timeout".to_owned(), "timeout"),
            Err(_) => return failed("unreachable".to_owned(), "unavailable"),
        };
        if !response.status().is_success() {
            return failed(
                format!("JWKS answered {}", response.status().as_u16()),
                "status",
            );
        }
        let body = match response.bytes().await {
            Ok(body) if body.len() <= MAX_JWKS_BYTES => body,
            Ok(_) => return failed("JWKS too large".to_owned(), "invalid"),
            Err(error) if error.is_timeout() => return failed("timeout".to_owned(), "timeout"),
            Err(_) => return failed("unreachable".to_owned(), "unavailable"),
        };
        match usable_signing_keys(&body) {
            Ok(0) => failed("no usable signing key".to_owned(), "invalid"),
            Ok(_) => Ok(()),
            Err(_) => failed("not a JWKS".to_owned(), "invalid"),
        }
    }
}
