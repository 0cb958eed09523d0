//! `GET /authorize`: a state record (client, nonce, PKCE verifier, redirect) kept 10
//! minutes, and the Auth0 `/authorize` URL the browser is sent to.

use super::client::ClientProfile;
use super::{Login, LoginError};
use crate::metrics;
use crate::secret::Secret;
use crate::session::AuthState;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::net::IpAddr;

/// Longest `state` accepted from a caller.
const MAX_STATE_LEN: usize = 512;
/// Longest `redirect` accepted (bytes).
pub const MAX_REDIRECT_LEN: usize = 2048;
/// Largest state record stored (bytes of JSON, before sealing).
const MAX_STATE_RECORD_LEN: usize = 4096;

/// What the caller asked of `/authorize`.
#[derive(Debug, Default)]
pub struct AuthorizeRequest {
    /// The caller's state (used only when the client requires it).
    pub state: Option<String>,
    /// The connection asked for.
    pub connection: Option<String>,
    /// Where the login site wants to land afterwards (already checked by the caller).
    pub redirect: Option<String>,
    /// The end user's IP, for the per-client limit on state creation.
    pub client_ip: Option<IpAddr>,
}

impl Login {
    /// Records a new authorization state and returns the Auth0 `/authorize` URL.
    pub async fn authorize(
        &self,
        client: &ClientProfile,
        request: AuthorizeRequest,
    ) -> Result<String, LoginError> {
        let state = if client.authorize_state_required {
            let state = request
                .state
                .filter(|s| !s.is_empty())
                .ok_or(LoginError::StateRequired)?;
            if state.len() > MAX_STATE_LEN || state.chars().any(char::is_control) {
                return Err(LoginError::InvalidInput(format!(
                    "state must be at most {MAX_STATE_LEN} printable characters"
                )));
            }
            state
        } else {
            random_token()
        };
        let connection = client.resolve_connection(request.connection.as_deref())?;
        if request
            .redirect
            .as_ref()
            .is_some_and(|r| r.len() > MAX_REDIRECT_LEN)
        {
            return Err(LoginError::InvalidInput(format!(
                "redirect must be at most {MAX_REDIRECT_LEN} bytes"
            )));
        }
        let nonce = random_token();
        let code_verifier = random_token();
        let record = AuthState {
            client_type: client.name.clone(),
            nonce: nonce.clone(),
            code_verifier: Secret::new(code_verifier.clone()),
            redirect: request.redirect,
        };
        if serde_json::to_vec(&record).map_or(usize::MAX, |json| json.len()) > MAX_STATE_RECORD_LEN
        {
            return Err(LoginError::InvalidInput(format!(
                "the login state would exceed {MAX_STATE_RECORD_LEN} bytes: shorten redirect"
            )));
        }
        if let Some(ip) = request.client_ip
            && let Err(throttled) = self.throttle.check(ip)
        {
            metrics::authorize_rate_limited(throttled.reason);
            return Err(LoginError::Throttled(throttled));
        }
        if !self.sessions.put_state(&state, &record).await? {
            // Replacing it would swap the pending login's nonce and PKCE verifier.
            return Err(LoginError::StatePending);
        }

        let app = &client.app;
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &app.client_id)
            .append_pair("redirect_uri", &app.redirect_url)
            .append_pair("scope", &app.scope);
        if let Some(audience) = &app.audience {
            query.append_pair("audience", audience);
        }
        query
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &code_challenge(&code_verifier))
            .append_pair("code_challenge_method", "S256");
        if let Some(connection) = &connection {
            query.append_pair("connection", connection);
        }
        Ok(format!("{}/authorize?{}", app.base_url, query.finish()))
    }
}

/// 32 random bytes, base64url (43 characters): states, nonces, PKCE verifiers.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// PKCE S256 challenge of `verifier`.
fn code_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pkce_challenge_matches_rfc_7636_appendix_b() {
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn random_tokens_are_long_and_distinct() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }
}
