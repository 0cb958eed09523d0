//! Login and session domain logic: the authorization-code and password flows, the
//! sessions they create, transparent and explicit refresh, logout.
//!
//! Handlers call these functions; nothing here knows about HTTP.

pub(crate) mod authorize;
pub(crate) mod backchannel;
pub(crate) mod client;
pub mod idle;
pub(crate) mod lifecycle;
pub(crate) mod logout;
pub mod refresh;
mod same_user;
pub(crate) mod throttle;
pub mod token;
pub(crate) mod user;

use crate::auth0::authentication::{Auth0Error, AuthenticationApi};
use crate::auth0::jwks::{Expected, JwksCache, TokenError};
use crate::config::Config;
use crate::secret::Secret;
use crate::session::{Session, SessionHandle, SessionStore, StoreError};
use crate::tuning::Tuning;
use client::ClientProfile;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// Why a login-flow operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// `/authorize` without `state` for a client that requires it.
    #[error("state is required by this client")]
    StateRequired,
    /// `/authorize` with a caller's state that a pending login already uses.
    #[error("a login with this state is already pending")]
    StatePending,
    /// A malformed request value (named in the message).
    #[error("{0}")]
    InvalidInput(String),
    /// The connection is not among the client's supported connections.
    #[error("connection {connection:?} is not supported by client {client:?}")]
    UnsupportedConnection {
        /// Client type.
        client: String,
        /// Requested connection.
        connection: String,
    },
    /// The state is unknown, used, expired, or belongs to another client.
    #[error("unknown, used or expired state")]
    InvalidState,
    /// Auth0 issued an id_token that failed verification.
    #[error(transparent)]
    IdToken(#[from] TokenError),
    /// Auth0 refused the authorization code (used, expired, or PKCE mismatch).
    #[error("Auth0 refused the authorization code")]
    CodeRefused(String),
    /// Auth0 answered without an id_token.
    #[error("Auth0 answered without an id_token")]
    MissingIdToken,
    /// No session behind the handle.
    #[error("no session")]
    NoSession,
    /// The refresh token presented is not the session's.
    #[error("refresh token does not belong to the session")]
    RefreshTokenMismatch,
    /// Auth0 refused the session's refresh token: the session is over.
    #[error("the session's refresh token was refused")]
    RefreshRefused,
    /// Auth0 answered a refresh with an id_token for another user (or issuer, or
    /// audience): the session has been ended.
    #[error("the refreshed id_token names another user")]
    RefreshUserMismatch,
    /// Another request is refreshing this session and did not finish in time.
    #[error("a refresh of this session is still in progress")]
    RefreshPending,
    /// The session's client type is no longer configured.
    #[error("client {0:?} is not configured")]
    UnknownClient(String),
    /// Auth0 failed or refused.
    #[error(transparent)]
    Auth0(#[from] Auth0Error),
    /// The session store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Too many `/authorize` calls from this client IP (or from everyone, while the
    /// limiter tracks as many clients as it may).
    #[error("too many logins started ({})", .0.reason)]
    Throttled(throttle::Throttled),
}

/// A session just created or refreshed, with what the caller gets back.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The session's handle (the Auth0 access token handed out).
    pub handle: SessionHandle,
    /// The session as stored.
    pub session: Session,
    /// When the access token expires.
    pub expire_at: OffsetDateTime,
}

/// The login service: clients, Auth0 clients, the JWKS cache and the session store.
pub struct Login {
    clients: BTreeMap<String, Arc<ClientProfile>>,
    default_client: Option<String>,
    namespaces: Vec<String>,
    session_duration: Duration,
    auth0: AuthenticationApi,
    jwks: JwksCache,
    sessions: Arc<dyn SessionStore>,
    throttle: throttle::StateThrottle,
    idle: Option<idle::IdleTimeout>,
    tuning: Tuning,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("clients", &self.clients.keys())
            .finish_non_exhaustive()
    }
}

impl Login {
    /// The login service of the (typed, hence valid) `config`, calling Auth0 with `http`
    /// ([`crate::auth0::http_client`]).
    pub fn new(config: &Config, sessions: Arc<dyn SessionStore>, http: reqwest::Client) -> Self {
        Self::with_tuning(config, sessions, http, Tuning::default())
    }

    /// [`Login::new`] with explicit timeouts, leases and clock.
    pub fn with_tuning(
        config: &Config,
        sessions: Arc<dyn SessionStore>,
        http: reqwest::Client,
        tuning: Tuning,
    ) -> Self {
        let clients = config
            .clients
            .iter()
            .map(|(name, client)| (name.clone(), Arc::new(ClientProfile::new(client))))
            .collect();
        Self {
            clients,
            default_client: config.default_client.clone(),
            namespaces: config.file.custom_claims_namespaces.clone(),
            session_duration: config.settings.session_duration,
            auth0: AuthenticationApi::new(http.clone())
                .with_call_timeout(tuning.auth0_call_timeout),
            jwks: JwksCache::new(http)
                .with_refetch_interval(tuning.jwks_refetch_interval)
                .with_clock(tuning.clock.clone()),
            sessions,
            throttle: throttle::StateThrottle::new(config.settings.authorize_rate_limit),
            idle: config
                .settings
                .session_idle
                .map(|idle| idle::IdleTimeout::new(idle, tuning.clock.clone())),
            tuning,
        }
    }

    /// The client named by `client-type`, else the default client; `None` when neither applies.
    pub fn client(&self, requested: Option<&str>) -> Option<Arc<ClientProfile>> {
        let name = requested.or(self.default_client.as_deref())?;
        self.clients.get(name).cloned()
    }

    /// Session lifetime (`SESSION_DURATION_SECONDS`), also the cookie Max-Age.
    pub fn session_duration(&self) -> Duration {
        self.session_duration
    }

    /// Check-up: fetches the signing keys of every tenant the clients use; the first
    /// failure names the client whose tenant did not answer.
    pub async fn check_signing_keys(&self) -> Result<(), String> {
        let mut checked: Vec<&str> = Vec::new();
        for client in self.clients.values() {
            let base_url = client.app.base_url.as_str();
            if checked.contains(&base_url) {
                continue;
            }
            self.jwks
                .probe(base_url)
                .await
                .map_err(|e| format!("client {}: {e}", client.name))?;
            checked.push(base_url);
        }
        Ok(())
    }

    /// Check-up of one tenant (a client's or the management client's): its JWKS
    /// answers within `timeout` with a usable signing key, else why not.
    pub async fn check_tenant(&self, tenant: &str, timeout: Duration) -> Result<(), String> {
        self.jwks.check_up(tenant, timeout).await
    }

    /// The live session behind `handle` (no refresh).
    pub async fn session(&self, handle: &SessionHandle) -> Result<Session, LoginError> {
        self.sessions
            .get_session(handle)
            .await?
            .ok_or(LoginError::NoSession)
    }

    async fn verify_id_token(
        &self,
        client: &ClientProfile,
        id_token: &Secret,
        nonce: Option<&str>,
    ) -> Result<Map<String, Value>, LoginError> {
        let issuer = client.app.issuer();
        let expected = Expected {
            base_url: &client.app.base_url,
            issuer: &issuer,
            audience: &client.app.client_id,
            algorithms: &client.algorithms,
            client_secret: &client.app.client_secret,
            nonce,
        };
        Ok(self.jwks.verify(id_token, &expected).await?)
    }
}

impl Login {
    /// Now as Unix seconds, on the service's clock.
    fn unix_now(&self) -> i64 {
        self.tuning.clock.unix_now()
    }

    /// Now, on the service's clock.
    fn now_utc(&self) -> OffsetDateTime {
        self.tuning.clock.now_utc()
    }
}

/// `now + seconds`, saturating.
fn expiry_after(now: OffsetDateTime, seconds: u64) -> OffsetDateTime {
    let seconds = i64::try_from(seconds).unwrap_or(i64::MAX);
    now.checked_add(time::Duration::seconds(seconds))
        .unwrap_or(now)
}
