//! [`SessionLifecycle`]: how sessions end other than by their own handle: by Auth0
//! session id (back-channel logout), by user (back office, blocked or deleted users),
//! and the records behind the replay cache and the idle timeout.

use super::{Session, StoreError};
use async_trait::async_trait;
use std::time::Duration;

/// A live session found through an index, with the key it is stored under.
#[derive(Debug, Clone)]
pub struct StoredSession {
    /// The hashed handle ([`super::SessionHandle::key`]).
    pub key: String,
    /// The session.
    pub session: Session,
}

/// The lifecycle part of [`super::SessionStore`] (a supertrait of it).
#[async_trait]
pub trait SessionLifecycle: Send + Sync {
    /// The live sessions of `user_id`, oldest first (records that cannot be opened are skipped).
    async fn user_sessions(&self, user_id: &str) -> Result<Vec<StoredSession>, StoreError>;

    /// The live sessions logged in through Auth0 session `sid`, oldest first.
    async fn auth0_sessions(&self, sid: &str) -> Result<Vec<StoredSession>, StoreError>;

    /// Ends the session stored under `key`; returns it when it was still there.
    async fn delete_session_key(&self, key: &str) -> Result<Option<Session>, StoreError>;

    /// Remembers `name` for `ttl`; false when it was already remembered (a replay).
    async fn remember_once(&self, name: &str, ttl: Duration) -> Result<bool, StoreError>;

    /// Whether `name` is remembered.
    async fn is_remembered(&self, name: &str) -> Result<bool, StoreError>;

    /// Starts activity record `id` at `now_ms`, kept for `ttl`.
    async fn start_activity(&self, id: &str, now_ms: i64, ttl: Duration) -> Result<(), StoreError>;

    /// Records activity at `now_ms` unless the record is gone or older than `max_gap`
    /// (then false: the session is idle).
    async fn touch_activity(
        &self,
        id: &str,
        now_ms: i64,
        max_gap: Duration,
    ) -> Result<bool, StoreError>;

    /// When activity record `id` was last active.
    async fn last_activity(&self, id: &str) -> Result<Option<i64>, StoreError>;
}
