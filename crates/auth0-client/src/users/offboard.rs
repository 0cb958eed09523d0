//! User changes that also end the user's sessions: deleting a user, blocking one.

use super::{Users, UsersError};
use crate::login::{Login, LoginError};
use serde_json::Value;

/// A user change failed at Auth0, or after it while ending the user's sessions.
#[derive(Debug, thiserror::Error)]
pub enum OffboardError {
    /// The Management API call (or its input) failed; nothing changed.
    #[error(transparent)]
    Users(#[from] UsersError),
    /// The user changed at Auth0, but their sessions could not all be ended.
    #[error(transparent)]
    Sessions(#[from] LoginError),
}

impl Users {
    /// Deletes the user at Auth0, then ends their live sessions.
    pub async fn delete_and_end_sessions(
        &self,
        login: &Login,
        user_id: &str,
    ) -> Result<(), OffboardError> {
        self.delete(user_id).await?;
        login.end_user_sessions(user_id, "deleted").await?;
        Ok(())
    }

    /// Updates the user at Auth0; when the update blocks them, ends their live sessions.
    pub async fn update_and_end_sessions_if_blocked(
        &self,
        login: &Login,
        user_id: &str,
        body: &Value,
    ) -> Result<Value, OffboardError> {
        let user = self.update(user_id, body).await?;
        if body.get("blocked") == Some(&Value::Bool(true)) {
            login.end_user_sessions(user_id, "blocked").await?;
        }
        Ok(user)
    }
}
