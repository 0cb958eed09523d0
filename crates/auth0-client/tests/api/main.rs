//! Integration tests: one binary (see STYLE.md), one module per area.

mod auth;
mod build;
mod hardening_tokens;
mod hardening_sessions;
mod ops;
mod server;
mod reliability;
mod sessions;
mod startup;
mod support;
mod users;
