//! User-management routes (SPEC §5). Not to be exposed publicly.

use crate::app::AppState;
use axum::Router;

/// The `/users…` management routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}
