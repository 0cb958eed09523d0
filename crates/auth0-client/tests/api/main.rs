//! Integration tests: one binary (see STYLE.md), one module per area.

mod auth;
mod build;
mod errors_logged_once;
mod hardening_sessions;
mod hardening_tokens;
mod layering;
mod lifecycle;
mod ops;
mod platform;
mod reliability;
mod server;
mod session_cache;
#[macro_use]
mod sessions;
mod startup;
mod support;
mod typed_config;
mod users;
// After `sessions`, whose store-suite macros it uses.
mod redis_tls;
