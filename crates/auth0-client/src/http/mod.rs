//! HTTP layer: axum routers, extractors and the JSON error body.

pub mod auth;
pub mod client_ip;
pub mod context;
pub mod docs;
pub mod error;
pub mod extract;
pub mod lifecycle;
pub mod limits;
pub mod login_csrf;
pub mod ops;
pub mod schemas;
pub mod state;
pub mod users;
