//! OpenID Connect Back-Channel Logout 1.0: Auth0 posts a logout token when a user's
//! Auth0 session ends (logout elsewhere, blocked, deleted, password changed); the
//! sessions of the token's client that belong to that Auth0 session (`sid`), or to
//! that user (`sub` alone), end on every replica.

use super::{Login, LoginError};
use crate::auth0::jwks::logout_token::LogoutClaims;
use crate::auth0::jwks::{Expected, TokenError};
use crate::secret::Secret;
use crate::session::{StoreError, StoredSession};
use base64::Engine as _;
use serde_json::Value;
use std::time::Duration;

/// How old a logout token's `iat` may be (beyond the clock leeway).
pub const LOGOUT_TOKEN_MAX_AGE: Duration = Duration::from_secs(300);
/// How long a logout token's `jti` is remembered: longer than a token stays acceptable.
pub const REPLAY_WINDOW: Duration = Duration::from_secs(600);

/// Why a logout request was refused.
#[derive(Debug, thiserror::Error)]
pub enum BackchannelError {
    /// The logout token is not acceptable (`400 invalid_request`); the text says why.
    #[error("{0}")]
    InvalidToken(String),
    /// The tenant's keys could not be had (try again later); the text says why.
    #[error("{0}")]
    Unavailable(String),
    /// The session store failed (try again later); the store has logged it.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<LoginError> for BackchannelError {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::Store(error) => error.into(),
            other => Self::Unavailable(other.to_string()),
        }
    }
}

fn describe(error: TokenError) -> BackchannelError {
    let text = match error {
        TokenError::KeysUnavailable(_) | TokenError::KeysTimeout => {
            return BackchannelError::Unavailable(
                "the tenant's signing keys are unavailable".to_owned(),
            );
        }
        TokenError::Malformed => "the logout token is not a signed JWT".to_owned(),
        TokenError::AlgorithmNotAllowed(alg) => {
            format!("the logout token is signed with {alg:?}, which the client does not allow")
        }
        TokenError::UnknownKey => "the logout token is signed with an unknown key".to_owned(),
        TokenError::Invalid(reason) => format!("the logout token is invalid: {reason}"),
        other => format!("the logout token is invalid: {other}"),
    };
    BackchannelError::InvalidToken(text)
}

/// The `aud` of a token, read before verification to pick the client it is for.
fn audiences(token: &str) -> Vec<String> {
    let payload = token.split('.').nth(1).unwrap_or_default();
    let claims: Option<Value> = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    match claims.as_ref().and_then(|c| c.get("aud")) {
        Some(Value::String(aud)) => vec![aud.clone()],
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

impl Login {
    /// Verifies `token` and ends the sessions it names; returns how many ended.
    pub async fn backchannel_logout(&self, token: &Secret) -> Result<usize, BackchannelError> {
        if token.is_empty() {
            return Err(BackchannelError::InvalidToken(
                "logout_token is required".to_owned(),
            ));
        }
        let audiences = audiences(token.expose());
        let Some(client) = self
            .clients
            .values()
            .find(|c| audiences.contains(&c.app.client_id))
        else {
            return Err(BackchannelError::InvalidToken(
                "the logout token's aud is not a configured client".to_owned(),
            ));
        };
        let issuer = client.app.issuer();
        let expected = Expected {
            base_url: &client.app.base_url,
            issuer: &issuer,
            audience: &client.app.client_id,
            algorithms: &client.algorithms,
            client_secret: &client.app.client_secret,
            nonce: None,
        };
        let claims = self
            .jwks
            .verify_logout_token(token, &expected, LOGOUT_TOKEN_MAX_AGE, self.unix_now())
            .await
            .map_err(describe)?;
        // The jti is remembered once the sessions have ended: a store failure in between
        // answers 503 and leaves the token usable for Auth0's retry. Two copies in flight
        // at once may both pass, and end the same sessions.
        let replay_key = format!("logout-token:{}:{}", claims.issuer, claims.jti);
        if self.sessions.is_remembered(&replay_key).await? {
            return Err(BackchannelError::InvalidToken(
                "the logout token was already used (jti seen before)".to_owned(),
            ));
        }
        // Every client type on the same tenant with this client id (several may share one).
        let client_types: Vec<&str> = self
            .clients
            .values()
            .filter(|c| {
                c.app.client_id == client.app.client_id && c.app.base_url == client.app.base_url
            })
            .map(|c| c.name.as_str())
            .collect();
        let sessions = self.sessions_named_by(&claims).await?;
        let mine = sessions
            .into_iter()
            .filter(|s| client_types.contains(&s.session.client_type.as_str()))
            .collect();
        let ended = self.end_stored(mine, "backchannel").await?;
        self.sessions
            .remember_once(&replay_key, REPLAY_WINDOW)
            .await?;
        tracing::info!(ended, client_id = %client.app.client_id, "back-channel logout");
        Ok(ended)
    }

    /// The sessions of the Auth0 session `sid` (of `sub` too, when both are given), or
    /// every session of `sub` when there is no `sid`.
    async fn sessions_named_by(
        &self,
        claims: &LogoutClaims,
    ) -> Result<Vec<StoredSession>, StoreError> {
        match (&claims.sid, &claims.sub) {
            (Some(sid), sub) => Ok(self
                .sessions
                .auth0_sessions(sid)
                .await?
                .into_iter()
                .filter(|s| sub.as_ref().is_none_or(|sub| *sub == s.session.user_id))
                .collect()),
            (None, Some(sub)) => self.sessions.user_sessions(sub).await,
            (None, None) => Ok(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audience_is_read_as_a_string_or_a_list() {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let token = |payload: &str| format!("e30.{}.sig", b64.encode(payload));
        assert_eq!(audiences(&token(r#"{"aud":"c1"}"#)), ["c1"]);
        assert_eq!(audiences(&token(r#"{"aud":["c1","c2"]}"#)), ["c1", "c2"]);
        assert!(audiences(&token(r#"{"sub":"x"}"#)).is_empty());
        assert!(audiences("not a jwt").is_empty());
    }
}
