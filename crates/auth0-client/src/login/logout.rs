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

    /// Auth0's `/v2/logout` URL that lands on `return_to` afterwards, for `client` (the
    /// `client-type` header's) or else the client of the session behind `handle`.
    pub async fn logout_location(
        &self,
        client: Option<Arc<ClientProfile>>,
        handle: Option<&SessionHandle>,
        return_to: &str,
    ) -> Result<String, LoginError> {
        let client = match (client, handle) {
            (Some(client), _) => Some(client),
            (None, Some(handle)) => self.client_of_session(handle).await?,
            (None, None) => None,
        }
        .ok_or_else(|| {
            LoginError::InvalidInput(
                "Logging out with a redirect needs the client-type header.".to_owned(),
            )
        })?;
        Ok(auth0_logout_url(&client, return_to))
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

/// `{tenant}/v2/logout?client_id=…&returnTo=…`: Auth0 ends its own session, then
/// redirects to `return_to`.
fn auth0_logout_url(client: &ClientProfile, return_to: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &client.app.client_id)
        .append_pair("returnTo", return_to)
        .finish();
    format!("{}/v2/logout?{query}", client.app.base_url)
}
