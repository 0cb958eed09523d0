//! HTTP layer: axum routers, extractors and the JSON error body.

pub(crate) mod auth;
pub(crate) mod client_ip;
pub(crate) mod context;
pub mod docs;
pub(crate) mod error;
pub(crate) mod extract;
pub(crate) mod lifecycle;
pub(crate) mod limits;
pub(crate) mod login_csrf;
pub(crate) mod ops;
pub(crate) mod schemas;
pub(crate) mod state;
pub(crate) mod users;
