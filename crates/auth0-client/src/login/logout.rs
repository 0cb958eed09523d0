//! `GET /logout`: the session ends and its refresh token is revoked at Auth0.

use super::client::ClientProfile;
use super::{Login, LoginError};
use crate::metrics;
use crate::session::{Session, SessionHandle};
use std::sync::Arc;

impl Login {
    /// Ends the session behind `handle` (none is not an error) and revokes its refresh
    /// token; a failed revocation is logged, not fatal. Returns the ended session.
    pub async fn logout(&self, handle: &SessionHandle) -> Result<Option<Session>, LoginError> {
        let Some(session) = self.sessions.delete_session(handle).await? else {
            return Ok(None);
        };
        metrics::session_ended("logout");
        if let (Some(refresh_token), Some(client)) = (
            &session.refresh_token,
            self.client(Some(&session.client_type)),
        ) && let Err(error) = self.auth0.revoke(&client.app, refresh_token).await
        {
            tracing::warn!(error = %error, client_type = %client.name, "refresh token not revoked at logout");
        }
        Ok(Some(session))
    }

    /// The client of the session behind `handle`, when there is a session and its
    /// client is still configured (logout redirects without `client-type`).
    pub async fn client_of_session(
        &self,
        handle: &SessionHandle,
    ) -> Result<Option<Arc<ClientProfile>>, LoginError> {
        let session = self.sessions.get_session(handle).await?;
        Ok(session.and_then(|s| self.client(Some(&s.client_type))))
    }
}
