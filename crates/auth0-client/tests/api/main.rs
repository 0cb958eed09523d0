//! Integration tests: one binary (see STYLE.md), one module per area.

mod auth;
mod lifecycle;
mod ops;
mod sessions;
mod startup;
mod support;
mod users;
