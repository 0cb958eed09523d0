//! `GET /logout`: the session ends and its refresh token is revoked at Auth0.

use super::{Login, LoginError};
use crate::metrics;
use crate::session::{Session, SessionHandle};

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
}
