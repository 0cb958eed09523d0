//! [`IndexBackend`] in memory: the sid index, the replay cache and activity records
//! beside the session maps, behind the same mutex.

use super::{Expiring, Inner, MemoryBackend, live};
use crate::session::StoreError;
use crate::session::backend::{millis, now_ms};
use crate::session::index::IndexBackend;
use async_trait::async_trait;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// How often expired lifecycle records are swept away.
const SWEEP_EVERY_MS: i64 = 30_000;

/// The lifecycle maps of [`Inner`].
#[derive(Default)]
pub(super) struct Maps {
    sids: HashMap<String, HashSet<String>>,
    seen: HashMap<String, Expiring<()>>,
    activity: HashMap<String, Expiring<i64>>,
    last_sweep_ms: i64,
}

impl Inner {
    fn sweep_index(&mut self, now: i64) {
        if now - self.index.last_sweep_ms < SWEEP_EVERY_MS {
            return;
        }
        self.index.last_sweep_ms = now;
        self.index.seen.retain(|_, entry| entry.live(now));
        self.index.activity.retain(|_, entry| entry.live(now));
        let sessions = &self.sessions;
        self.index.sids.retain(|_, keys| {
            keys.retain(|key| sessions.get(key).is_some_and(|entry| entry.live(now)));
            !keys.is_empty()
        });
    }
}

#[async_trait]
impl IndexBackend for MemoryBackend {
    async fn index_sid(&self, sid: &str, key: &str, _expires_at_ms: i64) -> Result<(), StoreError> {
        let mut inner = self.inner();
        inner.sweep_index(now_ms());
        inner
            .index
            .sids
            .entry(sid.to_owned())
            .or_default()
            .insert(key.to_owned());
        Ok(())
    }

    async fn unindex_sid(&self, sid: &str, key: &str) -> Result<(), StoreError> {
        let mut inner = self.inner();
        if let Some(keys) = inner.index.sids.get_mut(sid) {
            keys.remove(key);
            if keys.is_empty() {
                inner.index.sids.remove(sid);
            }
        }
        Ok(())
    }

    async fn sid_session_keys(&self, sid: &str) -> Result<Vec<String>, StoreError> {
        let inner = self.inner();
        Ok(inner
            .index
            .sids
            .get(sid)
            .map(|keys| keys.iter().cloned().collect())
            .unwrap_or_default())
    }

    async fn user_session_keys(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        let inner = self.inner();
        Ok(inner
            .users
            .get(user_id)
            .map(|keys| keys.iter().cloned().collect())
            .unwrap_or_default())
    }

    async fn remember_once(&self, name: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut inner = self.inner();
        inner.sweep_index(now);
        if live(&mut inner.index.seen, name, now).is_some() {
            return Ok(false);
        }
        inner.index.seen.insert(
            name.to_owned(),
            Expiring {
                value: (),
                deadline_ms: now.saturating_add(millis(ttl)),
            },
        );
        Ok(true)
    }

    async fn is_remembered(&self, name: &str) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut inner = self.inner();
        Ok(live(&mut inner.index.seen, name, now).is_some())
    }

    async fn start_activity(
        &self,
        id: &str,
        now_ms_at: i64,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let mut inner = self.inner();
        inner.sweep_index(now);
        inner.index.activity.insert(
            id.to_owned(),
            Expiring {
                value: now_ms_at,
                deadline_ms: now.saturating_add(millis(ttl)),
            },
        );
        Ok(())
    }

    async fn touch_activity(
        &self,
        id: &str,
        now_ms_at: i64,
        max_gap: Duration,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut inner = self.inner();
        let Some(entry) = live(&mut inner.index.activity, id, now) else {
            return Ok(false);
        };
        if now_ms_at - entry.value > millis(max_gap) {
            return Ok(false);
        }
        entry.value = entry.value.max(now_ms_at);
        entry.deadline_ms = now.saturating_add(millis(max_gap));
        Ok(true)
    }

    async fn last_activity(&self, id: &str) -> Result<Option<i64>, StoreError> {
        let now = now_ms();
        let mut inner = self.inner();
        Ok(live(&mut inner.index.activity, id, now).map(|entry| entry.value))
    }
}
