//! The record layer of the session lifecycle: sessions by Auth0 session id (`sid`),
//! a user's session keys, the replay cache of logout tokens and activity records
//! (idle timeout). Every backend implements it beside [`super::backend::Backend`].

use super::StoreError;
use async_trait::async_trait;
use std::time::Duration;

/// Lifecycle records by key, one implementation per backend (memory, Redis).
///
/// Keys are hashed session keys (`SessionHandle::key`) or opaque ids; times are Unix
/// milliseconds. `now_ms` arguments are the caller's clock (tests inject time), TTLs
/// only bound how long a record is kept.
#[async_trait]
pub trait IndexBackend: Send + Sync {
    /// Records that Auth0 session `sid` holds the session `key` until `expires_at_ms`.
    async fn index_sid(&self, sid: &str, key: &str, expires_at_ms: i64) -> Result<(), StoreError>;

    /// Drops `key` from the sessions of `sid`.
    async fn unindex_sid(&self, sid: &str, key: &str) -> Result<(), StoreError>;

    /// The session keys indexed under `sid` (some may have expired since).
    async fn sid_session_keys(&self, sid: &str) -> Result<Vec<String>, StoreError>;

    /// The session keys indexed under `user_id` (some may have expired since).
    async fn user_session_keys(&self, user_id: &str) -> Result<Vec<String>, StoreError>;

    /// Remembers `name` for `ttl`; false when it was already remembered (a replay).
    async fn remember_once(&self, name: &str, ttl: Duration) -> Result<bool, StoreError>;

    /// Whether `name` is remembered.
    async fn is_remembered(&self, name: &str) -> Result<bool, StoreError>;

    /// Starts (or restarts) activity record `id` at `now_ms`, kept for `ttl`.
    async fn start_activity(&self, id: &str, now_ms: i64, ttl: Duration) -> Result<(), StoreError>;

    /// Atomically: when record `id` exists and was last active at most `max_gap` before
    /// `now_ms`, moves it to `now_ms` (kept `max_gap` more) and answers true; otherwise
    /// answers false (the session is idle) and leaves it.
    async fn touch_activity(
        &self,
        id: &str,
        now_ms: i64,
        max_gap: Duration,
    ) -> Result<bool, StoreError>;

    /// When record `id` was last active, if it exists.
    async fn last_activity(&self, id: &str) -> Result<Option<i64>, StoreError>;
}
