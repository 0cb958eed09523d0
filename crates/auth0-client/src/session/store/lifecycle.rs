//! [`SessionLifecycle`] for [`Store`]: index lookups decoded into sessions.

use super::{Store, observed};
use crate::session::backend::Backend;
use crate::session::lifecycle::{SessionLifecycle, StoredSession};
use crate::session::{Session, StoreError};
use async_trait::async_trait;
use std::time::{Duration, Instant};

impl<B: Backend> Store<B> {
    /// The live, readable sessions among `keys`, oldest first.
    async fn load_all(&self, keys: Vec<String>) -> Result<Vec<StoredSession>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        for key in keys {
            let Some(record) = self.backend.get_session(&key).await? else {
                continue;
            };
            match self.decode_session(&key, &record) {
                Ok(session) => found.push(StoredSession { key, session }),
                Err(error) => {
                    tracing::warn!(%error, "a session record of the index cannot be opened; skipped");
                }
            }
        }
        found.sort_by_key(|stored| stored.session.created_at);
        Ok(found)
    }

    /// Drops `key` from the user and sid indexes of `session`.
    pub(super) async fn unindex(&self, key: &str, session: &Session) -> Result<(), StoreError> {
        self.backend.unindex_session(&session.user_id, key).await?;
        if let Some(sid) = &session.auth0_sid {
            self.backend.unindex_sid(sid, key).await?;
        }
        Ok(())
    }

    /// Removes the session record under `key` and unindexes it, then does the same for the
    /// handles its rotations keep alive ([`Session::grace_links`], followed transitively,
    /// at most [`MAX_GRACE_LINKS`]): a session ended through any handle ends on all.
    /// Returns the record under `key`, or the linked one holding the refresh token when
    /// `key` was a read-only grace copy (so that the caller revokes it).
    pub(super) async fn remove_session_and_links(
        &self,
        key: &str,
    ) -> Result<Option<Session>, StoreError> {
        let Some(mut session) = self.remove_one(key).await? else {
            return Ok(None);
        };
        let mut seen = vec![key.to_owned()];
        let mut pending = session.grace_links.clone();
        while let Some(link) = pending.pop() {
            if seen.contains(&link) || seen.len() > MAX_GRACE_LINKS {
                continue;
            }
            if let Some(linked) = self.remove_one(&link).await? {
                pending.extend(linked.grace_links.iter().cloned());
                if session.refresh_token.is_none() && linked.refresh_token.is_some() {
                    session = linked;
                }
            }
            seen.push(link);
        }
        Ok(Some(session))
    }

    /// Removes the session record under `key` and unindexes it; returns it.
    async fn remove_one(&self, key: &str) -> Result<Option<Session>, StoreError> {
        let Some(record) = self.backend.remove_session(key).await? else {
            return Ok(None);
        };
        let session: Session = self.decode_session(key, &record)?;
        self.unindex(key, &session).await?;
        Ok(Some(session))
    }
}

/// Bound on the handles one removal follows: rotations more than a grace apart leave one
/// live link at most, so a longer chain is only rapid refreshing.
const MAX_GRACE_LINKS: usize = 16;

#[async_trait]
impl<B: Backend> SessionLifecycle for Store<B> {
    async fn user_sessions(&self, user_id: &str) -> Result<Vec<StoredSession>, StoreError> {
        let started = Instant::now();
        let result = async {
            let keys = self.backend.user_session_keys(user_id).await?;
            self.load_all(keys).await
        }
        .await;
        observed("user_sessions", started, result)
    }

    async fn auth0_sessions(&self, sid: &str) -> Result<Vec<StoredSession>, StoreError> {
        let started = Instant::now();
        let result = async {
            let keys = self.backend.sid_session_keys(sid).await?;
            self.load_all(keys).await
        }
        .await;
        observed("auth0_sessions", started, result)
    }

    async fn delete_session_key(&self, key: &str) -> Result<Option<Session>, StoreError> {
        let started = Instant::now();
        let result = self.remove_session_and_links(key).await;
        observed("delete_session", started, result)
    }

    async fn remember_once(&self, name: &str, ttl: Duration) -> Result<bool, StoreError> {
        observed(
            "remember_once",
            Instant::now(),
            self.backend.remember_once(name, ttl).await,
        )
    }

    async fn is_remembered(&self, name: &str) -> Result<bool, StoreError> {
        observed(
            "is_remembered",
            Instant::now(),
            self.backend.is_remembered(name).await,
        )
    }

    async fn start_activity(&self, id: &str, now_ms: i64, ttl: Duration) -> Result<(), StoreError> {
        observed(
            "start_activity",
            Instant::now(),
            self.backend.start_activity(id, now_ms, ttl).await,
        )
    }

    async fn touch_activity(
        &self,
        id: &str,
        now_ms: i64,
        max_gap: Duration,
    ) -> Result<bool, StoreError> {
        observed(
            "touch_activity",
            Instant::now(),
            self.backend.touch_activity(id, now_ms, max_gap).await,
        )
    }

    async fn last_activity(&self, id: &str) -> Result<Option<i64>, StoreError> {
        observed(
            "last_activity",
            Instant::now(),
            self.backend.last_activity(id).await,
        )
    }
}
