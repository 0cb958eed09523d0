//! The in-process session cache: a [`Backend`] around the Redis backend that answers
//! session reads from memory, kept coherent by Redis (`CLIENT TRACKING` in BCAST mode
//! on one connection per process, see [`tracking`]).
//!
//! Only the hot path's session reads are cached ([`Backend::get_session_hot`], the
//! `/userinfo` view); the refresh, logout and lifecycle paths, states, locks and indexes
//! always read Redis, exactly as without the cache. A miss is read on the tracking
//! connection with the key's remaining TTL and kept until then at most, unless an
//! invalidation arrived while it was read ([`map`]). This replica's own writes and
//! deletes evict at once; other replicas' arrive as pushes.
//! While tracking is not on (connecting, lost, failed heartbeat) nothing is served from
//! memory: every read goes to Redis as without the cache (503 when it is down).

pub mod map;
pub mod tracking;

use super::StoreError;
use super::backend::{Backend, HotRecord, HotView};
use super::index::IndexBackend;
use super::redis::{Keys, TrackingConnector};
use async_trait::async_trait;
use map::CacheMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracking::Tracking;

/// A backend whose session reads are served from memory when they can be.
pub struct CachedBackend<B> {
    inner: B,
    map: Arc<CacheMap>,
    tracking: Arc<Tracking>,
}

impl<B: Backend> CachedBackend<B> {
    /// `inner` with a cache of `size` sessions kept coherent through `connector`, for
    /// the keys of `keys` (the scope `inner` writes under). Starts the tracking task.
    pub fn new(inner: B, size: usize, keys: Keys, connector: TrackingConnector) -> Self {
        let map = Arc::new(CacheMap::new(size, Instant::now()));
        let tracking = Tracking::start(map.clone(), keys, connector);
        Self {
            inner,
            map,
            tracking,
        }
    }

    /// This replica changed or removed `key`: no hit may serve the old record.
    fn evict(&self, key: &str) {
        self.map.invalidate([key]);
        crate::metrics::session_cache_entries(self.map.entries());
    }
}

#[async_trait]
impl<B: Backend> Backend for CachedBackend<B> {
    async fn set_session(
        &self,
        key: &str,
        record: Vec<u8>,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        let result = self.inner.set_session(key, record, expires_at_ms).await;
        self.evict(key);
        result
    }

    async fn get_session(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get_session(key).await
    }

    async fn get_session_hot(
        &self,
        key: &str,
        view: &HotView<'_>,
    ) -> Result<Option<HotRecord>, StoreError> {
        if let Some(kept) = self.map.get(key, Instant::now()) {
            crate::metrics::session_cache_hit();
            return Ok(Some(HotRecord::View(kept)));
        }
        crate::metrics::session_cache_miss();
        let stored = |record: Option<Vec<u8>>| record.map(HotRecord::Stored);
        let Some(snapshot) = self.tracking.snapshot() else {
            return self.inner.get_session(key).await.map(stored);
        };
        match self.tracking.read(key).await {
            Some(Ok(Some(fetched))) => {
                // The view only (the user, not the tokens): less memory, and a hit
                // neither opens a sealed record nor parses its tokens.
                if let (Some(expires), Some(kept)) = (fetched.expires, view(&fetched.record))
                    && self.map.insert(key, kept.into(), expires, snapshot)
                {
                    crate::metrics::session_cache_entries(self.map.entries());
                }
                Ok(Some(HotRecord::Stored(fetched.record)))
            }
            Some(Ok(None)) => Ok(None),
            // Tracking went away meanwhile, or its connection failed: the store decides.
            None | Some(Err(_)) => self.inner.get_session(key).await.map(stored),
        }
    }

    async fn replace_session(
        &self,
        key: &str,
        record: Vec<u8>,
        expires_at_ms: Option<i64>,
    ) -> Result<bool, StoreError> {
        let result = self.inner.replace_session(key, record, expires_at_ms).await;
        self.evict(key);
        result
    }

    async fn remove_session(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let result = self.inner.remove_session(key).await;
        self.evict(key);
        result
    }

    async fn index_session(
        &self,
        user_id: &str,
        key: &str,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        self.inner.index_session(user_id, key, expires_at_ms).await
    }

    async fn unindex_session(&self, user_id: &str, key: &str) -> Result<(), StoreError> {
        self.inner.unindex_session(user_id, key).await
    }

    async fn prune_index(&self, user_id: &str) -> Result<(), StoreError> {
        self.inner.prune_index(user_id).await
    }

    async fn remove_user_sessions(&self, user_id: &str) -> Result<usize, StoreError> {
        // The keys first, so that each is evicted here at once (pushes follow anyway).
        let keys = self.inner.user_session_keys(user_id).await?;
        let result = self.inner.remove_user_sessions(user_id).await;
        self.map.invalidate(keys.iter().map(String::as_str));
        crate::metrics::session_cache_entries(self.map.entries());
        result
    }

    async fn active_users(&self) -> Result<Vec<String>, StoreError> {
        self.inner.active_users().await
    }

    async fn set_state(
        &self,
        key: &str,
        record: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.inner.set_state(key, record, ttl).await
    }

    async fn take_state(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.take_state(key).await
    }

    async fn try_lock(&self, name: &str, token: &str, lease: Duration) -> Result<bool, StoreError> {
        self.inner.try_lock(name, token, lease).await
    }

    async fn unlock(&self, name: &str, token: &str) -> Result<(), StoreError> {
        self.inner.unlock(name, token).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
}

#[async_trait]
impl<B: Backend> IndexBackend for CachedBackend<B> {
    async fn index_sid(&self, sid: &str, key: &str, expires_at_ms: i64) -> Result<(), StoreError> {
        self.inner.index_sid(sid, key, expires_at_ms).await
    }

    async fn unindex_sid(&self, sid: &str, key: &str) -> Result<(), StoreError> {
        self.inner.unindex_sid(sid, key).await
    }

    async fn sid_session_keys(&self, sid: &str) -> Result<Vec<String>, StoreError> {
        self.inner.sid_session_keys(sid).await
    }

    async fn user_session_keys(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        self.inner.user_session_keys(user_id).await
    }

    async fn remember_once(&self, name: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.inner.remember_once(name, ttl).await
    }

    async fn is_remembered(&self, name: &str) -> Result<bool, StoreError> {
        self.inner.is_remembered(name).await
    }

    async fn start_activity(&self, id: &str, now_ms: i64, ttl: Duration) -> Result<(), StoreError> {
        self.inner.start_activity(id, now_ms, ttl).await
    }

    async fn touch_activity(
        &self,
        id: &str,
        now_ms: i64,
        max_gap: Duration,
    ) -> Result<bool, StoreError> {
        self.inner.touch_activity(id, now_ms, max_gap).await
    }

    async fn last_activity(&self, id: &str) -> Result<Option<i64>, StoreError> {
        self.inner.last_activity(id).await
    }
}
