//! The state shared by every handler ([`AppState`]) and the parts of it a handler may
//! take alone (`State<Arc<Users>>`, …) through [`FromRef`].

use crate::config::Config;
use crate::login::Login;
use crate::session::SessionStore;
use crate::tuning::Tuning;
use crate::users::Users;
use axum::extract::FromRef;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::watch;

/// State shared by every handler: one reference count to clone per extractor, its
/// fields reached through `Deref`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] shares.
#[derive(Clone)]
pub struct Shared {
    /// Validated configuration.
    pub config: Arc<Config>,
    /// Session store (Redis or memory).
    pub sessions: Arc<dyn SessionStore>,
    /// Login flows, Auth0 authentication client and JWKS cache.
    pub login: Arc<Login>,
    /// User management over the Auth0 Management API (cached M2M token, connection rules).
    pub management: Arc<Users>,
    /// Readiness and shutdown signalling.
    pub lifecycle: Arc<Lifecycle>,
}

impl AppState {
    /// The state of a (typed, hence valid) `config`; Auth0 is called with `http`
    /// ([`crate::auth0::http_client`]).
    pub fn new(
        config: Arc<Config>,
        sessions: Arc<dyn SessionStore>,
        http: reqwest::Client,
    ) -> Self {
        Self::with_tuning(config, sessions, http, Tuning::default())
    }

    /// [`AppState::new`] with explicit timeouts, leases and clock.
    pub fn with_tuning(
        config: Arc<Config>,
        sessions: Arc<dyn SessionStore>,
        http: reqwest::Client,
        tuning: Tuning,
    ) -> Self {
        let management = Arc::new(Users::with_tuning(
            &config.management,
            http.clone(),
            &tuning,
        ));
        let login = Arc::new(Login::with_tuning(&config, sessions.clone(), http, tuning));
        Self(Arc::new(Shared {
            config,
            sessions,
            login,
            management,
            lifecycle: Arc::new(Lifecycle::new()),
        }))
    }

    /// The same state with another user-management service (tests tune its timeouts).
    pub fn with_management(&self, management: Arc<Users>) -> Self {
        let mut shared = Shared::clone(&self.0);
        shared.management = management;
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Whether the service takes traffic, and the trigger that starts its shutdown.
#[derive(Debug)]
pub struct Lifecycle {
    shutting_down: AtomicBool,
    trigger: watch::Sender<bool>,
}

impl Lifecycle {
    fn new() -> Self {
        Self {
            shutting_down: AtomicBool::new(false),
            trigger: watch::channel(false).0,
        }
    }

    /// False once shutdown has started (`/-/ready` answers 503).
    pub fn is_ready(&self) -> bool {
        !self.shutting_down.load(Ordering::SeqCst)
    }

    /// Starts the shutdown (what SIGTERM does): readiness fails at once, the listener
    /// closes after `DELAY_SHUTDOWN_SECONDS`, in-flight requests finish.
    pub fn shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        self.trigger.send_replace(true);
    }

    /// Resolves once [`Lifecycle::shutdown`] has been called.
    pub(crate) async fn triggered(&self) {
        let mut receiver = self.trigger.subscribe();
        let _ = receiver.wait_for(|started| *started).await;
    }
}

impl FromRef<AppState> for Arc<Users> {
    fn from_ref(state: &AppState) -> Self {
        state.management.clone()
    }
}

impl FromRef<AppState> for Arc<Login> {
    fn from_ref(state: &AppState) -> Self {
        state.login.clone()
    }
}

impl FromRef<AppState> for Arc<Config> {
    fn from_ref(state: &AppState) -> Self {
        state.config.clone()
    }
}
