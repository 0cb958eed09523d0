//! Builds the session store the settings ask for.

use super::memory::MemoryStore;
use super::redis::RedisBackend;
use super::seal::Sealer;
use super::store::Store;
use super::{SessionStore, StoreError};
use crate::config::env::Settings;
use std::sync::Arc;

/// The store of `settings`: Redis when `REDIS_HOSTS` is set (in its mode), memory
/// otherwise; sealed with `SESSION_ENCRYPTION_KEY` when keys are given.
///
/// Redis is contacted lazily, so the service starts (and reports not ready) while
/// Redis is down.
pub async fn open_store(settings: &Settings) -> Result<Arc<dyn SessionStore>, StoreError> {
    let sealer = if settings.session_encryption_keys.is_empty() {
        None
    } else {
        Some(
            Sealer::new(&settings.session_encryption_keys)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        )
    };
    let Some(redis) = &settings.redis else {
        tracing::warn!(
            "REDIS_HOSTS is not set: sessions live in memory, are not shared between replicas and end on restart"
        );
        let store = MemoryStore::new();
        return Ok(match sealer {
            Some(sealer) => Arc::new(store.sealed(sealer)),
            None => Arc::new(store),
        });
    };
    let store = Store::with_backend(RedisBackend::new(redis, &settings.session_scope)?);
    let store: Arc<dyn SessionStore> = match sealer {
        Some(sealer) => Arc::new(store.sealed(sealer)),
        None => Arc::new(store),
    };
    if let Err(error) = store.ping().await {
        tracing::warn!(%error, "session store not reachable yet; serving 503 on session routes until it is");
    }
    Ok(store)
}
