//! In-memory backend: one process, nothing shared, nothing kept across restarts.

mod index;

use super::StoreError;
use super::backend::{Backend, millis, now_ms};
use super::store::Store;
use async_trait::async_trait;
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// The session store kept in this process's memory.
pub type MemoryStore = Store<MemoryBackend>;

impl MemoryStore {
    /// An empty in-memory store with plain records.
    pub fn new() -> Self {
        Store::with_backend(MemoryBackend::default())
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

/// How often expired entries nobody reads again are swept away.
const SWEEP_EVERY_MS: i64 = 30_000;

/// Records in maps behind one mutex; expiry checked on read, swept on write.
#[derive(Default)]
pub struct MemoryBackend {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<String, Expiring<Vec<u8>>>,
    users: HashMap<String, HashSet<String>>,
    states: HashMap<String, Expiring<Vec<u8>>>,
    locks: HashMap<String, Expiring<String>>,
    last_sweep_ms: i64,
    /// Lifecycle records (sid index, replay cache, activity).
    index: index::Maps,
}

struct Expiring<T> {
    value: T,
    deadline_ms: i64,
}

impl<T> Expiring<T> {
    fn live(&self, now: i64) -> bool {
        self.deadline_ms > now
    }
}

/// The live value under `key`, dropping it when expired.
fn live<'a, T>(
    map: &'a mut HashMap<String, Expiring<T>>,
    key: &str,
    now: i64,
) -> Option<&'a mut Expiring<T>> {
    if map.get(key).is_some_and(|entry| !entry.live(now)) {
        map.remove(key);
    }
    map.get_mut(key)
}

impl Inner {
    fn sweep(&mut self, now: i64) {
        if now - self.last_sweep_ms < SWEEP_EVERY_MS {
            return;
        }
        self.last_sweep_ms = now;
        self.sessions.retain(|_, entry| entry.live(now));
        self.states.retain(|_, entry| entry.live(now));
        self.locks.retain(|_, entry| entry.live(now));
        let sessions = &self.sessions;
        self.users.retain(|_, keys| {
            keys.retain(|key| sessions.contains_key(key));
            !keys.is_empty()
        });
    }

    fn has_live_session(&self, keys: &HashSet<String>, now: i64) -> bool {
        keys.iter()
            .any(|key| self.sessions.get(key).is_some_and(|entry| entry.live(now)))
    }
}

impl MemoryBackend {
    fn inner(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated in a way
        // that matters more than losing the whole store, so keep serving.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Backend for MemoryBackend {
    async fn set_session(
        &self,
        key: &str,
        record: Vec<u8>,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let mut inner = self.inner();
        inner.sweep(now);
        inner.sessions.insert(
            key.to_owned(),
            Expiring {
                value: record,
                deadline_ms: expires_at_ms,
            },
        );
        Ok(())
    }

    async fn get_session(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = now_ms();
        let mut inner = self.inner();
        Ok(live(&mut inner.sessions, key, now).map(|entry| entry.value.clone()))
    }

    async fn replace_session(
        &self,
        key: &str,
        record: Vec<u8>,
        expires_at_ms: Option<i64>,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut inner = self.inner();
        let Some(entry) = live(&mut inner.sessions, key, now) else {
            return Ok(false);
        };
        entry.value = record;
        if let Some(deadline_ms) = expires_at_ms {
            entry.deadline_ms = deadline_ms;
        }
        Ok(true)
    }

    async fn remove_session(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = now_ms();
        let mut inner = self.inner();
        Ok(inner
            .sessions
            .remove(key)
            .filter(|entry| entry.live(now))
            .map(|entry| entry.value))
    }

    async fn index_session(
        &self,
        user_id: &str,
        key: &str,
        _expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        self.inner()
            .users
            .entry(user_id.to_owned())
            .or_default()
            .insert(key.to_owned());
        Ok(())
    }

    async fn prune_index(&self, user_id: &str) -> Result<(), StoreError> {
        let now = now_ms();
        let mut inner = self.inner();
        let Some(mut keys) = inner.users.remove(user_id) else {
            return Ok(());
        };
        keys.retain(|key| inner.sessions.get(key).is_some_and(|entry| entry.live(now)));
        if !keys.is_empty() {
            inner.users.insert(user_id.to_owned(), keys);
        }
        Ok(())
    }

    async fn unindex_session(&self, user_id: &str, key: &str) -> Result<(), StoreError> {
        let mut inner = self.inner();
        if let Some(keys) = inner.users.get_mut(user_id) {
            keys.remove(key);
            if keys.is_empty() {
                inner.users.remove(user_id);
            }
        }
        Ok(())
    }

    async fn remove_user_sessions(&self, user_id: &str) -> Result<usize, StoreError> {
        let now = now_ms();
        let mut inner = self.inner();
        let keys = inner.users.remove(user_id).unwrap_or_default();
        let ended = keys
            .iter()
            .filter_map(|key| inner.sessions.remove(key))
            .filter(|entry| entry.live(now))
            .count();
        Ok(ended)
    }

    async fn active_users(&self) -> Result<Vec<String>, StoreError> {
        let now = now_ms();
        let inner = self.inner();
        let mut users: Vec<String> = inner
            .users
            .iter()
            .filter(|(_, keys)| inner.has_live_session(keys, now))
            .map(|(user, _)| user.clone())
            .collect();
        users.sort();
        Ok(users)
    }

    async fn set_state(
        &self,
        key: &str,
        record: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut inner = self.inner();
        inner.sweep(now);
        if live(&mut inner.states, key, now).is_some() {
            return Ok(false);
        }
        let deadline_ms = now.saturating_add(millis(ttl));
        inner.states.insert(
            key.to_owned(),
            Expiring {
                value: record,
                deadline_ms,
            },
        );
        Ok(true)
    }

    async fn take_state(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let now = now_ms();
        let mut inner = self.inner();
        Ok(inner
            .states
            .remove(key)
            .filter(|entry| entry.live(now))
            .map(|entry| entry.value))
    }

    async fn try_lock(&self, name: &str, token: &str, lease: Duration) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut inner = self.inner();
        if live(&mut inner.locks, name, now).is_some() {
            return Ok(false);
        }
        let deadline_ms = now.saturating_add(millis(lease));
        inner.locks.insert(
            name.to_owned(),
            Expiring {
                value: token.to_owned(),
                deadline_ms,
            },
        );
        Ok(true)
    }

    async fn unlock(&self, name: &str, token: &str) -> Result<(), StoreError> {
        let mut inner = self.inner();
        if inner
            .locks
            .get(name)
            .is_some_and(|entry| entry.value == token)
        {
            inner.locks.remove(name);
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn pruning_the_index_keeps_only_entries_of_live_sessions() {
        let backend = MemoryBackend::default();
        backend
            .set_session("live", b"{}".to_vec(), i64::MAX)
            .await
            .unwrap();
        backend
            .set_session("expired", b"{}".to_vec(), now_ms() - 1)
            .await
            .unwrap();
        for key in ["live", "expired", "rotated-away"] {
            backend.index_session("u", key, i64::MAX).await.unwrap();
        }
        backend.prune_index("u").await.unwrap();
        let kept = backend.inner().users.get("u").cloned().unwrap();
        assert_eq!(kept, HashSet::from(["live".to_owned()]));

        backend.remove_session("live").await.unwrap();
        backend.prune_index("u").await.unwrap();
        assert!(!backend.inner().users.contains_key("u"));
    }
}
