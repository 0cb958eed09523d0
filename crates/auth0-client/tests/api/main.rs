//! Integration tests: one binary (see STYLE.md), one module per area.

mod auth;
mod build;
mod ops;
mod server;
mod sessions;
mod startup;
mod support;
mod users;
