//! The authentication API.

pub(crate) mod authorize;
pub(crate) mod discovery;
pub(crate) mod params;
pub(crate) mod session;
pub(crate) mod token;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::state::Tenant;

/// Routes of the authentication API.
pub(crate) fn routes() -> Router<Arc<Tenant>> {
    Router::new()
        .route("/authorize", get(authorize::authorize))
        .route(
            "/u/login",
            get(authorize::login_form).post(authorize::login_submit),
        )
        .route("/oauth/token", post(token::token))
        .route("/oauth/revoke", post(session::revoke))
        .route("/userinfo", get(session::userinfo).post(session::userinfo))
        .route("/v2/logout", get(session::logout))
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route("/.well-known/jwks.json", get(discovery::jwks))
}
