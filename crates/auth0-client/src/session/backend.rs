//! The raw record layer under [`super::SessionStore`]: opaque bytes by key, with expiry.
//!
//! A backend never sees a `Session` value: [`super::store::Store`] encodes (and seals)
//! records before they reach it, so every backend gets sealing and the same semantics.

use super::StoreError;
use async_trait::async_trait;
use std::time::Duration;

/// Byte records by key, one implementation per backend (memory, Redis).
///
/// Keys are already hashed (`SessionHandle::key`, a state's hash); the backend
/// adds its own namespace. Times are Unix milliseconds.
#[async_trait]
pub trait Backend: super::index::IndexBackend + Send + Sync {
    /// Stores a session record until `expires_at_ms`.
    async fn set_session(
        &self,
        key: &str,
        record: Vec<u8>,
        expires_at_ms: i64,
    ) -> Result<(), StoreError>;

    /// A live session record.
    async fn get_session(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// [`Backend::get_session`] for the hot path (`/userinfo`'s view of a session): a
    /// backend may answer it from a cache kept coherent with the store (see
    /// `session::cache`), which keeps what `view` makes of a record read from the store
    /// rather than the record. Every other read (refresh, logout, lifecycle) reads the store.
    async fn get_session_hot(
        &self,
        key: &str,
        _view: &HotView<'_>,
    ) -> Result<Option<HotRecord>, StoreError> {
        Ok(self.get_session(key).await?.map(HotRecord::Stored))
    }

    /// Replaces an existing session record; keeps its expiry, or moves it to
    /// `expires_at_ms` when given. False when there was no record.
    async fn replace_session(
        &self,
        key: &str,
        record: Vec<u8>,
        expires_at_ms: Option<i64>,
    ) -> Result<bool, StoreError>;

    /// Removes a session record and returns it (atomically).
    async fn remove_session(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Records that `user_id` holds the session `key` until `expires_at_ms`.
    async fn index_session(
        &self,
        user_id: &str,
        key: &str,
        expires_at_ms: i64,
    ) -> Result<(), StoreError>;

    /// Drops `key` from the index of `user_id` (and the user, when no live session is left).
    async fn unindex_session(&self, user_id: &str, key: &str) -> Result<(), StoreError>;

    /// Drops index entries of `user_id` whose session record is gone (a sample of them in
    /// Redis): a rotation leaves the old handle's entry behind once its grace ends.
    async fn prune_index(&self, user_id: &str) -> Result<(), StoreError>;

    /// Removes every session of `user_id` and the user from the index; returns how many
    /// live session records were removed.
    async fn remove_user_sessions(&self, user_id: &str) -> Result<usize, StoreError>;

    /// Users with at least one live session, each once.
    async fn active_users(&self) -> Result<Vec<String>, StoreError>;

    /// Stores a state record for `ttl` unless a live one exists under `key` (then
    /// nothing changes); true when it was stored.
    async fn set_state(
        &self,
        key: &str,
        record: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, StoreError>;

    /// Reads and removes a state record in one atomic step.
    async fn take_state(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Takes lock `name` with `token` for `lease` unless someone holds it.
    async fn try_lock(&self, name: &str, token: &str, lease: Duration) -> Result<bool, StoreError>;

    /// Releases lock `name` when it is still held with `token`.
    async fn unlock(&self, name: &str, token: &str) -> Result<(), StoreError>;

    /// Round-trip to the backend.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Makes the hot path's view of a session record (`None`: the record is not to be kept).
pub type HotView<'a> = dyn Fn(&[u8]) -> Option<Vec<u8>> + Send + Sync + 'a;

/// What [`Backend::get_session_hot`] answers.
pub enum HotRecord {
    /// The record as the store holds it.
    Stored(Vec<u8>),
    /// What the [`HotView`] made of it, kept in memory.
    View(std::sync::Arc<[u8]>),
}

/// Unix time now, in milliseconds.
pub fn now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

/// A duration in whole milliseconds, at least 1 (a zero TTL is an error in Redis).
pub fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis())
        .unwrap_or(i64::MAX)
        .max(1)
}
