//! Wiring: shared state, the router, bind and serve with graceful shutdown.

use crate::config::Config;
use crate::session::SessionStore;
use std::sync::Arc;

/// State shared by every handler (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    /// Validated configuration.
    pub config: Arc<Config>,
    /// Session store (Redis or memory).
    pub sessions: Arc<dyn SessionStore>,
}
