//! Sessions and authorization states, and the store that keeps them.
//!
//! [`SessionStore`] is the contract handlers and the login code use (as
//! `Arc<dyn SessionStore>`, built by [`open_store`]); handlers never see a Redis type.
//! It has one implementation, [`Store`], which encodes records (JSON, sealed with
//! AES-256-GCM when [`seal::Sealer`] keys are set) and keeps them in a
//! [`backend::Backend`]: [`redis::RedisBackend`] (normal, sentinel, cluster) or
//! [`memory::MemoryBackend`]. So both backends get the same semantics and sealing.

pub mod backend;
pub mod cache;
pub mod index;
pub mod lifecycle;
pub mod memory;
mod open;
pub mod redis;
pub mod seal;
pub mod store;

pub use lifecycle::{SessionLifecycle, StoredSession};
pub use memory::MemoryStore;
pub use open::{open_store, open_store_with};
pub use store::Store;

use crate::secret::Secret;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The opaque value a caller presents (bearer token or `sid` cookie).
/// The store only ever sees its [`SessionHandle::key`].
#[derive(Clone, PartialEq, Eq)]
pub struct SessionHandle(Secret);

impl SessionHandle {
    /// Wraps the raw handle.
    pub fn new(raw: impl Into<String>) -> Self {
        Self(Secret::new(raw))
    }

    /// The raw handle, to hand back to the caller.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// Hex SHA-256 of the handle: the only form the store keeps.
    pub fn key(&self) -> String {
        hex_sha256(self.0.expose())
    }
}

impl std::fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionHandle(***)")
    }
}

/// Lowercase hex SHA-256 of `value`.
pub fn hex_sha256(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    format!("{digest:x}")
}

/// A logged-in user's session. Times are Unix seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Client type that created it.
    pub client_type: String,
    /// Auth0 user id (`sub`).
    pub user_id: String,
    /// Current Auth0 access token.
    pub access_token: Secret,
    /// Current Auth0 refresh token, when Auth0 issued one.
    pub refresh_token: Option<Secret>,
    /// The refresh token the caller holds, when a transparent refresh (`/userinfo`) has
    /// replaced it here since: `/oauth/refreshtoken` accepts it as well as the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_refresh_token: Option<Secret>,
    /// Current Auth0 id_token.
    pub id_token: Secret,
    /// When `access_token` expires.
    pub token_expires_at: i64,
    /// When the session ends (login + SESSION_DURATION_SECONDS; refresh does not extend it).
    pub expires_at: i64,
    /// Login time.
    pub created_at: i64,
    /// The user object answered by `/userinfo` (verified id_token claims, mapped).
    pub user: UserJson,
    /// Auth0's session id (the id_token's `sid`), for back-channel logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth0_sid: Option<String>,
    /// When the tokens were last refreshed at Auth0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refreshed_at: Option<i64>,
    /// Id of the session's activity record (idle timeout), stable across rotations;
    /// present when the idle timeout was on at login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity_id: Option<String>,
    /// Keys of the session's other handles that a rotation keeps alive for its grace (the
    /// handle rotated from, or to): ending the session through one handle ends them all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grace_links: Vec<String>,
}

/// What `/userinfo` needs of a session: read without copying its tokens out of the record.
#[derive(Debug, Deserialize)]
pub struct SessionUser {
    /// When the access token expires.
    pub token_expires_at: i64,
    /// Present when the session has a refresh token (its value is skipped, not read).
    refresh_token: Option<serde::de::IgnoredAny>,
    /// The user object.
    pub user: UserJson,
    /// Id of the session's activity record, when it tracks activity (idle timeout).
    #[serde(default)]
    pub activity_id: Option<String>,
}

impl SessionUser {
    /// Whether the session holds a refresh token.
    pub fn has_refresh_token(&self) -> bool {
        self.refresh_token.is_some()
    }
}

/// The user object as the JSON text `/userinfo` answers: stored and served as it is,
/// never parsed on the hot path.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserJson(Box<serde_json::value::RawValue>);

impl UserJson {
    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// The JSON text, owned (no copy).
    pub fn into_string(self) -> String {
        Box::<str>::from(self.0).into()
    }
}

impl From<serde_json::Value> for UserJson {
    fn from(user: serde_json::Value) -> Self {
        // Serialising a `Value` cannot fail; `null` stands in if it ever did.
        Self(
            serde_json::value::to_raw_value(&user)
                .unwrap_or_else(|_| serde_json::value::RawValue::NULL.to_owned()),
        )
    }
}

impl PartialEq for UserJson {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

/// A pending `/authorize`: kept 10 minutes, used once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthState {
    /// Client type that started the flow.
    pub client_type: String,
    /// OIDC nonce sent to Auth0.
    pub nonce: String,
    /// PKCE code verifier.
    pub code_verifier: Secret,
    /// Where the login site wants to land afterwards.
    pub redirect: Option<String>,
}

/// How long authorization states live.
pub const AUTH_STATE_TTL: Duration = Duration::from_secs(600);

/// The store could not answer (down, timed out, corrupt record). Maps to `503`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend is unreachable or timed out.
    #[error("session store unavailable: {0}")]
    Unavailable(String),
    /// A record could not be decoded or opened.
    #[error("session record unreadable: {0}")]
    Corrupt(String),
}

/// Proof of holding a lock; pass it back to release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockToken(pub String);

/// Where sessions, authorization states and the active-users index live.
///
/// Every method is bounded in time: a backend that does not answer yields
/// [`StoreError::Unavailable`], never a hang and never "not found".
#[async_trait]
pub trait SessionStore: SessionLifecycle + Send + Sync {
    /// Stores `session` under `handle` until `session.expires_at`, and indexes its user.
    async fn put_session(
        &self,
        handle: &SessionHandle,
        session: &Session,
    ) -> Result<(), StoreError>;

    /// The live session behind `handle`, if any.
    async fn get_session(&self, handle: &SessionHandle) -> Result<Option<Session>, StoreError>;

    /// [`SessionStore::get_session`] reduced to what `/userinfo` needs (the hot path).
    async fn get_session_user(
        &self,
        handle: &SessionHandle,
    ) -> Result<Option<SessionUser>, StoreError>;

    /// Replaces the session behind `handle` (after a refresh), keeping its expiry.
    /// Returns false when the session no longer exists.
    async fn update_session(
        &self,
        handle: &SessionHandle,
        session: &Session,
    ) -> Result<bool, StoreError>;

    /// Ends the session behind `handle`; returns it when there was one.
    async fn delete_session(&self, handle: &SessionHandle) -> Result<Option<Session>, StoreError>;

    /// Rotation: stores `session` under `new`, and lets `old` keep working for `grace`
    /// only (then it is gone), read-only: its copy holds no refresh token, so it answers
    /// `/userinfo` but cannot refresh. The user index follows.
    async fn rotate_session(
        &self,
        old: &SessionHandle,
        new: &SessionHandle,
        session: &Session,
        grace: Duration,
    ) -> Result<(), StoreError>;

    /// Ends every session of `user_id`; returns how many ended.
    async fn delete_user_sessions(&self, user_id: &str) -> Result<usize, StoreError>;

    /// User ids with at least one live session, each once.
    async fn active_users(&self) -> Result<Vec<String>, StoreError>;

    /// Keeps an authorization state for [`AUTH_STATE_TTL`], only if no live state of
    /// that value is pending (`SET NX`); true when it was stored, false when refused.
    async fn put_state(&self, state: &str, record: &AuthState) -> Result<bool, StoreError>;

    /// Takes (reads and deletes atomically) an authorization state: a second take finds nothing.
    async fn take_state(&self, state: &str) -> Result<Option<AuthState>, StoreError>;

    /// Tries to take the short lock `name` for `lease`; `None` when someone else holds it.
    async fn try_lock(&self, name: &str, lease: Duration) -> Result<Option<LockToken>, StoreError>;

    /// Releases a lock taken with [`SessionStore::try_lock`] (no-op when it expired or moved on).
    async fn unlock(&self, name: &str, token: &LockToken) -> Result<(), StoreError>;

    /// Round-trip to the backend, for readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            client_type: "token".into(),
            user_id: "auth0|1".into(),
            access_token: Secret::new("at-value"),
            refresh_token: Some(Secret::new("rt-current")),
            caller_refresh_token: Some(Secret::new("rt-caller")),
            id_token: Secret::new("idt-value"),
            token_expires_at: 2,
            expires_at: 3,
            created_at: 1,
            user: serde_json::json!({ "sub": "auth0|1" }).into(),
            auth0_sid: None,
            refreshed_at: None,
            activity_id: None,
            grace_links: Vec::new(),
        }
    }

    #[test]
    fn a_record_written_before_the_caller_refresh_token_existed_still_loads() {
        let mut record = serde_json::to_value(session()).unwrap();
        record
            .as_object_mut()
            .unwrap()
            .remove("caller_refresh_token");

        let loaded: Session = serde_json::from_value(record).unwrap();

        assert_eq!(loaded.caller_refresh_token, None);
        assert_eq!(loaded.refresh_token, Some(Secret::new("rt-current")));
    }

    #[test]
    fn no_caller_refresh_token_leaves_the_record_as_before() {
        let record = serde_json::to_value(Session {
            caller_refresh_token: None,
            ..session()
        })
        .unwrap();
        assert!(record.get("caller_refresh_token").is_none(), "{record}");

        let with = serde_json::to_value(session()).unwrap();
        assert_eq!(with["caller_refresh_token"], "rt-caller");
    }

    #[test]
    fn the_userinfo_view_of_a_record_reads_expiry_refresh_presence_and_user() {
        let record = serde_json::to_vec(&session()).unwrap();
        let view: SessionUser = serde_json::from_slice(&record).unwrap();
        assert_eq!(view.token_expires_at, 2);
        assert!(view.has_refresh_token());
        assert_eq!(view.user.as_str(), r#"{"sub":"auth0|1"}"#);

        let record = serde_json::to_vec(&Session {
            refresh_token: None,
            ..session()
        })
        .unwrap();
        let view: SessionUser = serde_json::from_slice(&record).unwrap();
        assert!(!view.has_refresh_token());
    }

    #[test]
    fn debug_shows_no_token() {
        let printed = format!("{:?}", session());
        for secret in ["at-value", "rt-current", "rt-caller", "idt-value"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(
            printed.contains("caller_refresh_token: Some(***)"),
            "{printed}"
        );
    }
}
