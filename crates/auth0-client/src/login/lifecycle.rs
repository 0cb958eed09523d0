//! Ending sessions other than by their own handle: a user's sessions from the back
//! office (`admin`), because the user was blocked (`blocked`) or deleted (`deleted`),
//! or because Auth0 said so (back-channel logout). Every ended session has its refresh
//! token revoked at Auth0 and is counted in `sessions_ended_total{reason}`.

use super::{Login, LoginError};
use crate::metrics;
use crate::session::{Session, StoredSession};

impl Login {
    /// The live sessions of `user_id` (idle ones excluded), oldest first. A handle
    /// rotated away and still in its grace period is the same session, listed once.
    pub async fn user_sessions(&self, user_id: &str) -> Result<Vec<Session>, LoginError> {
        let stored = self.sessions.user_sessions(user_id).await?;
        let mut live: Vec<Session> = Vec::with_capacity(stored.len());
        for StoredSession { session, .. } in stored {
            if live.iter().any(|s| s.access_token == session.access_token)
                || self.is_idle(&session).await?
            {
                continue;
            }
            live.push(session);
        }
        Ok(live)
    }

    /// Ends every session of `user_id` ("log out everywhere"); returns how many ended.
    pub async fn end_user_sessions(
        &self,
        user_id: &str,
        reason: &'static str,
    ) -> Result<usize, LoginError> {
        let stored = self.sessions.user_sessions(user_id).await?;
        let mut ended = self.end_stored(stored, reason).await?;
        // Records that could not be opened (and the index itself) go too.
        let unreadable = self.sessions.delete_user_sessions(user_id).await?;
        for _ in 0..unreadable {
            metrics::session_ended(reason);
        }
        ended += unreadable;
        Ok(ended)
    }

    /// Ends each of `stored` that still exists (a handle in its rotation grace with
    /// the session it became counts once); returns how many sessions ended.
    pub(super) async fn end_stored(
        &self,
        stored: Vec<StoredSession>,
        reason: &'static str,
    ) -> Result<usize, LoginError> {
        let mut retired: Vec<Session> = Vec::new();
        for StoredSession { key, .. } in stored {
            let Some(session) = self.sessions.delete_session_key(&key).await? else {
                continue;
            };
            match retired
                .iter_mut()
                .find(|s| s.access_token == session.access_token)
            {
                // The grace copy of a rotated handle holds no refresh token: the
                // session it became does, whichever of the two is deleted first.
                Some(earlier) if earlier.refresh_token.is_none() => {
                    self.revoke(&session, reason).await;
                    earlier.refresh_token = session.refresh_token;
                }
                Some(_) => {}
                None => {
                    self.retire(&session, reason).await;
                    retired.push(session);
                }
            }
        }
        Ok(retired.len())
    }

    /// After a session ended: counts it and revokes its refresh token at Auth0.
    pub(super) async fn retire(&self, session: &Session, reason: &'static str) {
        metrics::session_ended(reason);
        self.revoke(session, reason).await;
    }

    /// Revokes the refresh token of an ended session at Auth0 (a failed revocation is
    /// logged, not fatal).
    async fn revoke(&self, session: &Session, reason: &'static str) {
        let (Some(refresh_token), Some(client)) = (
            &session.refresh_token,
            self.client(Some(&session.client_type)),
        ) else {
            return;
        };
        if let Err(error) = self.auth0.revoke(&client.app, refresh_token).await {
            tracing::warn!(error = %error, client_type = %client.name, reason, "refresh token not revoked");
        }
    }

    /// Whether `session` has gone idle (never without an idle timeout or activity record).
    async fn is_idle(&self, session: &Session) -> Result<bool, LoginError> {
        let (Some(idle), Some(id)) = (self.idle_timeout(), &session.activity_id) else {
            return Ok(false);
        };
        Ok(match self.sessions.last_activity(id).await? {
            Some(last) => !idle.is_live(last),
            None => true,
        })
    }
}
