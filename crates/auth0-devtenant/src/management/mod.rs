//! The Management API v2 subset.

pub(crate) mod jobs;

use std::sync::Arc;

use axum::Router;

use crate::state::Tenant;

/// Routes of the Management API.
pub(crate) fn routes() -> Router<Arc<Tenant>> {
    Router::new()
}
