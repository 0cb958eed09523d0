//! Operations routes (health, readiness, check-up, metrics), outside `SERVICE_PREFIX`.

use crate::app::AppState;
use axum::Router;

/// The `/-/…` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}
