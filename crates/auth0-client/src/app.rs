//! Wiring: shared state, the router, bind and serve with graceful shutdown.

use crate::config::Config;
use crate::login::Login;
use crate::session::SessionStore;
use std::sync::Arc;

/// State shared by every handler (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    /// Validated configuration.
    pub config: Arc<Config>,
    /// Session store (Redis or memory).
    pub sessions: Arc<dyn SessionStore>,
    /// Login flows, Auth0 authentication client and JWKS cache.
    pub login: Arc<Login>,
    /// User management over the Auth0 Management API (cached M2M token, connection rules).
    pub management: Arc<crate::users::Users>,
}

impl AppState {
    /// Builds the state; fails with a message naming the bad configuration field.
    pub fn new(config: Arc<Config>, sessions: Arc<dyn SessionStore>) -> Result<Self, String> {
        let login = Arc::new(Login::new(&config, sessions.clone())?);
        let management = Arc::new(crate::users::Users::new(&config.file.management_client)?);
        Ok(Self { config, sessions, login, management })
    }
}
