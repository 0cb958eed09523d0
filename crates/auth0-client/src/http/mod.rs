//! HTTP layer: axum routers, extractors and the JSON error body.

pub mod auth;
pub mod context;
pub mod docs;
pub mod error;
pub mod extract;
pub mod lifecycle;
pub mod ops;
pub mod users;
