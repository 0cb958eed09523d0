//! HTTP layer: axum routers, extractors and the JSON error body.

pub mod error;
pub mod ops;
pub mod users;
