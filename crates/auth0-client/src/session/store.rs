//! [`Store`]: the one [`SessionStore`] implementation, over any [`Backend`].
//!
//! It turns sessions and states into records (JSON, sealed when a [`Sealer`] is set),
//! keeps the user index in step, and counts failures in metrics.

mod lifecycle;

use super::backend::{Backend, HotRecord, millis, now_ms};
use super::seal::Sealer;
use super::{
    AUTH_STATE_TTL, AuthState, LockToken, Session, SessionHandle, SessionStore, SessionUser,
    StoreError, hex_sha256,
};
use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::{Duration, Instant};

/// Sessions, states and locks over a [`Backend`], optionally sealed at rest.
pub struct Store<B> {
    backend: B,
    sealer: Option<Sealer>,
}

impl<B: Backend> Store<B> {
    /// A store keeping plain JSON records in `backend`.
    pub fn with_backend(backend: B) -> Self {
        Self {
            backend,
            sealer: None,
        }
    }

    /// Seals every record written from now on with `sealer` (and opens only sealed ones).
    pub fn sealed(mut self, sealer: Sealer) -> Self {
        self.sealer = Some(sealer);
        self
    }

    /// The backend, for tests and diagnostics.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    fn encode<T: Serialize>(&self, value: &T, aad: &str) -> Result<Vec<u8>, StoreError> {
        let json = serde_json::to_vec(value).map_err(|e| json_error("encode", &e))?;
        match &self.sealer {
            Some(sealer) => sealer
                .seal(&json, aad.as_bytes())
                .map_err(|e| StoreError::Corrupt(e.to_string())),
            None => Ok(json),
        }
    }

    fn decode<T: DeserializeOwned>(&self, record: &[u8], aad: &str) -> Result<T, StoreError> {
        let json = match &self.sealer {
            Some(sealer) => std::borrow::Cow::Owned(
                sealer
                    .open(record, aad.as_bytes())
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            ),
            None => std::borrow::Cow::Borrowed(record),
        };
        serde_json::from_slice(&json).map_err(|e| json_error("decode", &e))
    }

    fn encode_session(&self, key: &str, session: &Session) -> Result<Vec<u8>, StoreError> {
        self.encode(session, &session_aad(key))
    }

    fn decode_session<T: DeserializeOwned>(
        &self,
        key: &str,
        record: &[u8],
    ) -> Result<T, StoreError> {
        self.decode(record, &session_aad(key))
    }

    /// The session record behind `handle`.
    async fn read_session(&self, handle: &SessionHandle) -> Result<Option<Session>, StoreError> {
        let started = Instant::now();
        let result = async {
            let key = handle.key();
            match self.backend.get_session(&key).await? {
                Some(record) => self.decode_session(&key, &record).map(Some),
                None => Ok(None),
            }
        }
        .await;
        observed("get_session", started, result)
    }

    /// What the session cache keeps of the record under `key`: [`UserView`] JSON.
    fn user_view(&self, key: &str, record: &[u8]) -> Option<Vec<u8>> {
        let user: SessionUser = self.decode_session(key, record).ok()?;
        serde_json::to_vec(&UserView::of(&user)).ok()
    }

    /// `/userinfo`'s view of the session behind `handle`, through
    /// [`Backend::get_session_hot`]: a cached view is plain JSON of [`UserView`].
    async fn read_session_user(
        &self,
        handle: &SessionHandle,
    ) -> Result<Option<SessionUser>, StoreError> {
        let started = Instant::now();
        let result = async {
            let key = handle.key();
            let view = |record: &[u8]| self.user_view(&key, record);
            match self.backend.get_session_hot(&key, &view).await? {
                Some(HotRecord::Stored(record)) => self.decode_session(&key, &record).map(Some),
                Some(HotRecord::View(kept)) => serde_json::from_slice(&kept)
                    .map(Some)
                    .map_err(|e| json_error("decode", &e)),
                None => Ok(None),
            }
        }
        .await;
        observed("get_session", started, result)
    }
}

/// What the session cache keeps of a record: the fields of [`SessionUser`], without the
/// tokens (a refresh token's presence as `true`).
#[derive(Serialize)]
struct UserView<'a> {
    token_expires_at: i64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    refresh_token: bool,
    user: &'a super::UserJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    activity_id: Option<&'a str>,
}

impl<'a> UserView<'a> {
    fn of(user: &'a SessionUser) -> Self {
        Self {
            token_expires_at: user.token_expires_at,
            refresh_token: user.has_refresh_token(),
            user: &user.user,
            activity_id: user.activity_id.as_deref(),
        }
    }
}

/// A JSON failure by kind and position only: serde_json's message may quote the
/// offending value, which could be a token.
fn json_error(step: &str, error: &serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!(
        "{step}: {:?} error at line {} column {}",
        error.classify(),
        error.line(),
        error.column()
    ))
}

fn session_aad(key: &str) -> String {
    format!("session:{key}")
}

fn state_aad(key: &str) -> String {
    format!("state:{key}")
}

/// Times a store operation started at `started`, counts and logs it when it failed,
/// passing the result through. Arguments are evaluated in order: `Instant::now()` as
/// the second argument is taken before the third is awaited.
fn observed<T>(
    operation: &'static str,
    started: Instant,
    result: Result<T, StoreError>,
) -> Result<T, StoreError> {
    crate::metrics::store_duration(operation, started);
    if let Err(error) = &result {
        crate::metrics::store_error(operation);
        tracing::warn!(operation, %error, "session store operation failed");
    }
    result
}

#[async_trait]
impl<B: Backend> SessionStore for Store<B> {
    async fn put_session(
        &self,
        handle: &SessionHandle,
        session: &Session,
    ) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = async {
            let key = handle.key();
            let expires_at_ms = session.expires_at.saturating_mul(1000);
            let record = self.encode_session(&key, session)?;
            self.backend
                .set_session(&key, record, expires_at_ms)
                .await?;
            if let Some(sid) = &session.auth0_sid {
                self.backend.index_sid(sid, &key, expires_at_ms).await?;
            }
            self.backend
                .index_session(&session.user_id, &key, expires_at_ms)
                .await
        }
        .await;
        observed("put_session", started, result)
    }

    async fn get_session(&self, handle: &SessionHandle) -> Result<Option<Session>, StoreError> {
        self.read_session(handle).await
    }

    async fn get_session_user(
        &self,
        handle: &SessionHandle,
    ) -> Result<Option<SessionUser>, StoreError> {
        self.read_session_user(handle).await
    }

    async fn update_session(
        &self,
        handle: &SessionHandle,
        session: &Session,
    ) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = async {
            let key = handle.key();
            let record = self.encode_session(&key, session)?;
            self.backend.replace_session(&key, record, None).await
        }
        .await;
        observed("update_session", started, result)
    }

    async fn delete_session(&self, handle: &SessionHandle) -> Result<Option<Session>, StoreError> {
        let started = Instant::now();
        let result = self.remove_session_and_links(&handle.key()).await;
        observed("delete_session", started, result)
    }

    async fn rotate_session(
        &self,
        old: &SessionHandle,
        new: &SessionHandle,
        session: &Session,
        grace: Duration,
    ) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = async {
            let (old_key, new_key) = (old.key(), new.key());
            let expires_at_ms = session.expires_at.saturating_mul(1000);
            let grace_links = if grace.is_zero() {
                Vec::new()
            } else {
                vec![old_key.clone()]
            };
            let current = Session {
                grace_links,
                ..session.clone()
            };
            let record = self.encode_session(&new_key, &current)?;
            self.backend
                .set_session(&new_key, record, expires_at_ms)
                .await?;
            self.backend
                .index_session(&session.user_id, &new_key, expires_at_ms)
                .await?;
            if let Some(sid) = &session.auth0_sid {
                self.backend.index_sid(sid, &new_key, expires_at_ms).await?;
            }
            if grace.is_zero() {
                self.backend.remove_session(&old_key).await?;
                return self.unindex(&old_key, session).await;
            }
            let grace_ends_ms = now_ms().saturating_add(millis(grace)).min(expires_at_ms);
            // Read-only during the grace: without refresh tokens the old handle can
            // neither refresh nor be refreshed, so it never forks a second session.
            // It links to the new handle (and keeps its links to earlier ones), so that a
            // logout through either handle ends both.
            let mut grace_links = session.grace_links.clone();
            grace_links.push(new_key.clone());
            let read_only = Session {
                refresh_token: None,
                caller_refresh_token: None,
                grace_links,
                ..session.clone()
            };
            let old_record = self.encode_session(&old_key, &read_only)?;
            self.backend
                .replace_session(&old_key, old_record, Some(grace_ends_ms))
                .await?;
            // Entries of handles rotated away earlier, whose grace has ended. Best effort
            // (counted and logged when it fails): the rotation itself is done.
            let _ = observed(
                "prune_index",
                Instant::now(),
                self.backend.prune_index(&session.user_id).await,
            );
            Ok(())
        }
        .await;
        observed("rotate_session", started, result)
    }

    async fn delete_user_sessions(&self, user_id: &str) -> Result<usize, StoreError> {
        observed(
            "delete_user_sessions",
            Instant::now(),
            self.backend.remove_user_sessions(user_id).await,
        )
    }

    async fn active_users(&self) -> Result<Vec<String>, StoreError> {
        observed(
            "active_users",
            Instant::now(),
            self.backend.active_users().await,
        )
    }

    async fn put_state(&self, state: &str, record: &AuthState) -> Result<bool, StoreError> {
        let started = Instant::now();
        let result = async {
            let key = hex_sha256(state);
            let bytes = self.encode(record, &state_aad(&key))?;
            self.backend.set_state(&key, bytes, AUTH_STATE_TTL).await
        }
        .await;
        observed("put_state", started, result)
    }

    async fn take_state(&self, state: &str) -> Result<Option<AuthState>, StoreError> {
        let started = Instant::now();
        let result = async {
            let key = hex_sha256(state);
            match self.backend.take_state(&key).await? {
                Some(bytes) => self.decode(&bytes, &state_aad(&key)).map(Some),
                None => Ok(None),
            }
        }
        .await;
        observed("take_state", started, result)
    }

    async fn try_lock(&self, name: &str, lease: Duration) -> Result<Option<LockToken>, StoreError> {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let taken = observed(
            "try_lock",
            Instant::now(),
            self.backend.try_lock(name, &token, lease).await,
        )?;
        Ok(taken.then_some(LockToken(token)))
    }

    async fn unlock(&self, name: &str, token: &LockToken) -> Result<(), StoreError> {
        observed(
            "unlock",
            Instant::now(),
            self.backend.unlock(name, &token.0).await,
        )
    }

    async fn ping(&self) -> Result<(), StoreError> {
        observed("ping", Instant::now(), self.backend.ping().await)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::session::memory::MemoryBackend;

    #[test]
    fn the_cached_view_of_a_record_reads_as_the_record_and_holds_no_token() {
        let key = "k";
        let session = Session {
            client_type: "token".into(),
            user_id: "auth0|1".into(),
            access_token: crate::secret::Secret::new("at-value"),
            refresh_token: Some(crate::secret::Secret::new("rt-value")),
            caller_refresh_token: None,
            id_token: crate::secret::Secret::new("idt-value"),
            token_expires_at: 7,
            expires_at: 9,
            created_at: 1,
            user: serde_json::json!({ "sub": "auth0|1", "email": "a@b.c" }).into(),
            auth0_sid: None,
            refreshed_at: None,
            activity_id: Some("act".into()),
            grace_links: vec!["old".into()],
        };
        let key_bytes = crate::config::env::EncryptionKey::from_bytes([7; 32]);
        let stores = [
            Store::with_backend(MemoryBackend::default()),
            Store::with_backend(MemoryBackend::default())
                .sealed(Sealer::new(&[key_bytes]).unwrap()),
        ];
        for store in stores {
            for refresh_token in [session.refresh_token.clone(), None] {
                let session = Session {
                    refresh_token,
                    ..session.clone()
                };
                let record = store.encode_session(key, &session).unwrap();
                let view = store.user_view(key, &record).unwrap();
                let text = String::from_utf8(view.clone()).unwrap();
                for token in ["at-value", "rt-value", "idt-value"] {
                    assert!(!text.contains(token), "{text}");
                }
                let cached: SessionUser = serde_json::from_slice(&view).unwrap();
                let stored: SessionUser = store.decode_session(key, &record).unwrap();
                for read in [cached, stored] {
                    assert_eq!(read.token_expires_at, 7);
                    assert_eq!(read.has_refresh_token(), session.refresh_token.is_some());
                    assert_eq!(read.user.as_str(), session.user.as_str());
                    assert_eq!(read.activity_id.as_deref(), Some("act"));
                }
            }
        }
    }

    #[tokio::test]
    async fn an_unreadable_record_is_corrupt_and_its_error_quotes_nothing_of_it() {
        let store = Store::with_backend(MemoryBackend::default());
        let handle = SessionHandle::new("h");
        let record = br#"{"client_type":"token","user_id":"u","access_token":42,"id_token":"secret-id-token"}"#;
        store
            .backend()
            .set_session(&handle.key(), record.to_vec(), i64::MAX)
            .await
            .unwrap();
        let error = store.get_session(&handle).await.unwrap_err();
        assert!(matches!(error, StoreError::Corrupt(_)));
        let message = error.to_string();
        assert!(
            !message.contains("42") && !message.contains("secret"),
            "{message}"
        );
    }
}
