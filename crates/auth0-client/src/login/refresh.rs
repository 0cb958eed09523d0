//! Refreshing a session's Auth0 tokens, once across every replica.
//!
//! Two ways in: `/userinfo` refreshes in place when the access token has expired
//! (the caller's handle stays), `/oauth/refreshtoken` rotates the session to a new
//! handle. Either way the request that takes the store lock `refresh:<key>` calls
//! Auth0; the others re-read the session until it has changed.

use super::same_user::same_user;
use super::user::user_object;
use super::{Issued, Login, LoginError, expiry_after};
use crate::auth0::authentication::Grant;
use crate::metrics;
use crate::secret::Secret;
use crate::session::{LockToken, Session, SessionHandle, UserJson};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use tokio::time::Instant;

/// How a refresh lands in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Same handle, new tokens (transparent refresh).
    InPlace,
    /// New handle = new access token; the old one lives on for the rotation grace.
    Rotate,
}

impl Login {
    /// The user behind `handle`, its session refreshed first when the access token has
    /// expired and a refresh token exists. A live session costs one record read whose
    /// tokens are not even copied out.
    pub async fn current_user(&self, handle: &SessionHandle) -> Result<UserJson, LoginError> {
        let view = self
            .sessions
            .get_session_user(handle)
            .await?
            .ok_or(LoginError::NoSession)?;
        self.check_activity(handle, view.activity_id.as_deref())
            .await?;
        if view.token_expires_at > self.unix_now() || !view.has_refresh_token() {
            return Ok(view.user);
        }
        let session = self.session(handle).await?;
        if session.token_expires_at > self.unix_now() || session.refresh_token.is_none() {
            return Ok(session.user);
        }
        Ok(self
            .single_flight(handle, &session, Mode::InPlace)
            .await?
            .session
            .user)
    }

    /// `/oauth/refreshtoken`: `refresh_token` must be the session's, or the one its caller
    /// was last given when a transparent refresh has replaced it since; the session moves
    /// to the new access token.
    pub async fn refresh(
        &self,
        handle: &SessionHandle,
        refresh_token: &Secret,
    ) -> Result<Issued, LoginError> {
        let session = self.session(handle).await?;
        self.check_activity(handle, session.activity_id.as_deref())
            .await?;
        let presented = refresh_token.expose().as_bytes();
        let is = |stored: &Option<Secret>| {
            stored.as_ref().map_or(subtle::Choice::from(0), |stored| {
                stored.expose().as_bytes().ct_eq(presented)
            })
        };
        let matches = is(&session.refresh_token) | is(&session.caller_refresh_token);
        if !bool::from(matches) {
            return Err(LoginError::RefreshTokenMismatch);
        }
        self.single_flight(handle, &session, Mode::Rotate).await
    }

    async fn single_flight(
        &self,
        handle: &SessionHandle,
        stale: &Session,
        mode: Mode,
    ) -> Result<Issued, LoginError> {
        let lock = format!("refresh:{}", handle.key());
        let deadline = Instant::now() + self.tuning.refresh_wait;
        loop {
            if let Some(token) = self
                .sessions
                .try_lock(&lock, self.tuning.refresh_lease)
                .await?
            {
                let result = self.refresh_holding_lock(handle, stale, mode).await;
                self.release(&lock, &token).await;
                return result;
            }
            tokio::time::sleep(self.tuning.refresh_poll).await;
            let current = self.session(handle).await?;
            if let Some(issued) = self
                .refreshed_elsewhere(handle, stale, current, mode)
                .await?
            {
                metrics::refresh("shared");
                return Ok(issued);
            }
            if Instant::now() >= deadline {
                return Err(LoginError::RefreshPending);
            }
        }
    }

    /// Deletes the session behind `handle` (and its user-index entry), counting why.
    async fn end_session(
        &self,
        handle: &SessionHandle,
        reason: &'static str,
    ) -> Result<(), LoginError> {
        if self.sessions.delete_session(handle).await?.is_some() {
            metrics::session_ended(reason);
        }
        Ok(())
    }

    async fn release(&self, lock: &str, token: &LockToken) {
        if let Err(error) = self.sessions.unlock(lock, token).await {
            tracing::warn!(error = %error, "refresh lock not released; it expires with its lease");
        }
    }

    /// `Some` when `current` shows that another request already refreshed the session.
    async fn refreshed_elsewhere(
        &self,
        handle: &SessionHandle,
        stale: &Session,
        current: Session,
        mode: Mode,
    ) -> Result<Option<Issued>, LoginError> {
        if current.access_token == stale.access_token {
            return Ok(None);
        }
        let (handle, session) = match mode {
            Mode::InPlace => (handle.clone(), current),
            Mode::Rotate => {
                // Rotated only when the new access token is itself a live handle
                // (a transparent refresh changes the token but keeps the handle). The
                // answer is read there: the old handle's copy is read-only, without
                // the refresh token the caller must be given.
                let rotated = SessionHandle::new(current.access_token.expose());
                match self.sessions.get_session(&rotated).await? {
                    Some(session) => (rotated, session),
                    None => return Ok(None),
                }
            }
        };
        let expire_at = OffsetDateTime::from_unix_timestamp(session.token_expires_at)
            .unwrap_or_else(|_| self.now_utc());
        Ok(Some(Issued {
            handle,
            session,
            expire_at,
        }))
    }

    async fn refresh_holding_lock(
        &self,
        handle: &SessionHandle,
        stale: &Session,
        mode: Mode,
    ) -> Result<Issued, LoginError> {
        let current = self.session(handle).await?;
        if let Some(issued) = self
            .refreshed_elsewhere(handle, stale, current.clone(), mode)
            .await?
        {
            metrics::refresh("shared");
            return Ok(issued);
        }
        let client = self
            .client(Some(&current.client_type))
            .ok_or_else(|| LoginError::UnknownClient(current.client_type.clone()))?;
        let refresh_token = current
            .refresh_token
            .clone()
            .ok_or(LoginError::RefreshTokenMismatch)?;
        let tokens = match self
            .auth0
            .token(
                &client.app,
                Grant::RefreshToken {
                    refresh_token: &refresh_token,
                },
            )
            .await
        {
            Ok(tokens) => tokens,
            Err(error) if error.is_invalid_grant() => {
                // Another replica may have refreshed with this refresh token meanwhile.
                let again = self.session(handle).await?;
                if let Some(issued) = self.refreshed_elsewhere(handle, stale, again, mode).await? {
                    metrics::refresh("shared");
                    return Ok(issued);
                }
                // Refused for good: the caller is told to log in again, so the handle
                // must stop answering too (explicit and transparent refresh alike).
                metrics::refresh("invalid_grant");
                self.end_session(handle, "refresh_refused").await?;
                return Err(LoginError::RefreshRefused);
            }
            Err(error) => {
                metrics::refresh("error");
                return Err(error.into());
            }
        };
        let user = match &tokens.id_token {
            Some(id_token) => {
                let claims = self.verify_id_token(&client, id_token, None).await?;
                if let Err(mismatch) = same_user(&current, &claims) {
                    // OIDC Core §12.2: a refreshed id_token names the same user, or the
                    // session is no longer trustworthy.
                    tracing::warn!(
                        client = %client.name,
                        claim = mismatch,
                        "Auth0 answered a refresh with an id_token for another user; the session ends"
                    );
                    metrics::refresh("user_mismatch");
                    self.end_session(handle, "refresh_user_mismatch").await?;
                    return Err(LoginError::RefreshUserMismatch);
                }
                user_object(&claims, &self.namespaces).into()
            }
            None => current.user.clone(),
        };
        let expire_at = expiry_after(self.now_utc(), tokens.expires_in);
        // After a transparent refresh the caller still holds the refresh token it was
        // given last; a rotation hands the new one out, so there is none to remember.
        let caller_refresh_token = match mode {
            Mode::InPlace if tokens.refresh_token.is_some() => current
                .caller_refresh_token
                .clone()
                .or_else(|| current.refresh_token.clone()),
            Mode::InPlace => current.caller_refresh_token.clone(),
            Mode::Rotate => None,
        };
        let session = Session {
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token.or(current.refresh_token),
            caller_refresh_token,
            id_token: tokens.id_token.unwrap_or(current.id_token),
            token_expires_at: expire_at.unix_timestamp(),
            user,
            refreshed_at: Some(self.unix_now()),
            ..current
        };
        let handle = match mode {
            Mode::InPlace => {
                if !self.sessions.update_session(handle, &session).await? {
                    return Err(LoginError::NoSession);
                }
                handle.clone()
            }
            Mode::Rotate => {
                let new = SessionHandle::new(session.access_token.expose());
                self.sessions
                    .rotate_session(handle, &new, &session, self.tuning.rotation_grace)
                    .await?;
                new
            }
        };
        metrics::refresh("ok");
        Ok(Issued {
            handle,
            session,
            expire_at,
        })
    }
}
