//! The Management API v2 subset auth0-client uses.

pub(crate) mod auth;
pub(crate) mod jobs;
pub(crate) mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::state::Tenant;

/// Routes of the Management API.
pub(crate) fn routes() -> Router<Arc<Tenant>> {
    Router::new()
        .route("/api/v2/users", get(users::search).post(users::create_user))
        .route("/api/v2/users-by-email", get(users::by_email))
        .route(
            "/api/v2/users/{id}",
            get(users::get_user)
                .patch(users::update_user)
                .delete(users::delete_user),
        )
        .route(
            "/api/v2/jobs/users-imports",
            // Larger than the 500 KB limit, so an oversized file gets Auth0's 413 body.
            post(jobs::create_import).layer(DefaultBodyLimit::max(8 * jobs::MAX_USERS_FILE)),
        )
        .route("/api/v2/jobs/{id}", get(jobs::get_job))
        .route("/api/v2/jobs/{id}/errors", get(jobs::get_job_errors))
}
