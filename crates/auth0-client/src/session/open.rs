//! Builds the session store the settings ask for.

use super::backend::Backend;
use super::cache::CachedBackend;
use super::memory::MemoryStore;
use super::redis::{Keys, RedisBackend, TrackingConnector};
use super::seal::Sealer;
use super::store::Store;
use super::{SessionStore, StoreError};
use crate::config::env::Settings;
use crate::tuning::StoreTimeouts;
use std::sync::Arc;

/// The store of `settings`: Redis when `REDIS_HOSTS` is set (in its mode), memory
/// otherwise; sealed with `SESSION_ENCRYPTION_KEY` when keys are given.
///
/// Redis is contacted lazily, so the service starts (and reports not ready) while
/// Redis is down.
pub async fn open_store(settings: &Settings) -> Result<Arc<dyn SessionStore>, StoreError> {
    open_store_with(settings, &StoreTimeouts::default()).await
}

/// [`open_store`], the Redis store waiting as `timeouts` say.
pub async fn open_store_with(
    settings: &Settings,
    timeouts: &StoreTimeouts,
) -> Result<Arc<dyn SessionStore>, StoreError> {
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
    let backend = RedisBackend::with_timeouts(redis, &settings.session_scope, timeouts)?;
    let connector = match settings.session_cache_size {
        0 => None,
        _ => TrackingConnector::new(redis, timeouts)
            .map_err(|e| StoreError::Unavailable(e.to_string()))?,
    };
    let store: Arc<dyn SessionStore> = match connector {
        Some(connector) => {
            let keys = Keys::new(&settings.session_scope);
            let size = settings.session_cache_size;
            sealed(
                Store::with_backend(CachedBackend::new(backend, size, keys, connector)),
                sealer,
            )
        }
        None => {
            if settings.session_cache_size > 0 {
                tracing::info!("session cache: off in REDIS_MODE=cluster (see the README)");
            }
            sealed(Store::with_backend(backend), sealer)
        }
    };
    if let Err(error) = store.ping().await {
        tracing::warn!(%error, "session store not reachable yet; serving 503 on session routes until it is");
    }
    Ok(store)
}

/// `store`, sealed with `sealer` when given.
fn sealed<B: Backend + 'static>(store: Store<B>, sealer: Option<Sealer>) -> Arc<dyn SessionStore> {
    match sealer {
        Some(sealer) => Arc::new(store.sealed(sealer)),
        None => Arc::new(store),
    }
}
