//! `POST /oauth/token`: code exchange and password login, each ending in a new session.

use super::client::ClientProfile;
use super::user::user_object;
use super::{Issued, Login, LoginError, expiry_after};
use crate::auth0::authentication::{Auth0Error, Grant, TokenSet};
use crate::metrics;
use crate::secret::Secret;
use crate::session::{Session, SessionHandle};

/// A password login as asked by the caller.
#[derive(Debug)]
pub struct PasswordLogin {
    /// Username or email.
    pub username: Secret,
    /// Password.
    pub password: Secret,
    /// Connection asked for (else the client's default).
    pub connection: Option<String>,
    /// The end user's IP, for Auth0's brute-force protection.
    pub end_user_ip: Option<String>,
}

impl Login {
    /// Exchanges `code` for tokens after the redirect back; `state` must be live, unused
    /// and belong to `client`. It is consumed whatever the outcome.
    pub async fn exchange_code(
        &self,
        client: &ClientProfile,
        code: &Secret,
        state: &str,
    ) -> Result<Issued, LoginError> {
        if code.is_empty() || state.is_empty() {
            return Err(LoginError::InvalidInput(
                "code and state are required".into(),
            ));
        }
        let record = self
            .sessions
            .take_state(state)
            .await?
            .ok_or(LoginError::InvalidState)?;
        if record.client_type != client.name {
            return Err(LoginError::InvalidState);
        }
        let tokens = self
            .auth0
            .token(
                &client.app,
                Grant::AuthorizationCode {
                    code,
                    code_verifier: &record.code_verifier,
                },
            )
            .await
            .map_err(|error| match error {
                Auth0Error::Rejected {
                    error, description, ..
                } if error == "invalid_grant" => LoginError::CodeRefused(description),
                error => LoginError::Auth0(error),
            })?;
        self.open_session(client, tokens, Some(&record.nonce)).await
    }

    /// Logs a user in with username and password (password-realm when a connection applies).
    pub async fn password_login(
        &self,
        client: &ClientProfile,
        login: PasswordLogin,
    ) -> Result<Issued, LoginError> {
        if login.username.is_empty() || login.password.is_empty() {
            return Err(LoginError::InvalidInput(
                "username and password are required".into(),
            ));
        }
        let realm = client.resolve_connection(login.connection.as_deref())?;
        let grant = Grant::Password {
            username: &login.username,
            password: &login.password,
            realm: realm.as_deref(),
            end_user_ip: login.end_user_ip.as_deref(),
        };
        let tokens = self.auth0.token(&client.app, grant).await?;
        self.open_session(client, tokens, None).await
    }

    /// Verifies the id_token and stores a new session under the access token.
    async fn open_session(
        &self,
        client: &ClientProfile,
        tokens: TokenSet,
        nonce: Option<&str>,
    ) -> Result<Issued, LoginError> {
        let id_token = tokens.id_token.ok_or(LoginError::MissingIdToken)?;
        let claims = self.verify_id_token(client, &id_token, nonce).await?;
        let user = user_object(&claims, &self.namespaces);
        let auth0_sid = claims
            .get("sid")
            .and_then(serde_json::Value::as_str)
            .filter(|sid| !sid.is_empty())
            .map(str::to_owned);
        let activity_id = self.start_activity().await?;
        let now = self.now_utc();
        let expire_at = expiry_after(now, tokens.expires_in);
        let session = Session {
            client_type: client.name.clone(),
            user_id: user["userId"].as_str().unwrap_or_default().to_owned(),
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            caller_refresh_token: None,
            id_token,
            token_expires_at: expire_at.unix_timestamp(),
            expires_at: expiry_after(now, self.session_duration.as_secs()).unix_timestamp(),
            created_at: now.unix_timestamp(),
            user: user.into(),
            auth0_sid,
            refreshed_at: None,
            activity_id,
            grace_links: Vec::new(),
        };
        let handle = SessionHandle::new(session.access_token.expose());
        self.sessions.put_session(&handle, &session).await?;
        metrics::session_created(&client.name);
        Ok(Issued {
            handle,
            session,
            expire_at,
        })
    }
}
