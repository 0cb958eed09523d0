//! Integration tests: one binary (see STYLE.md), one module per area.

mod auth;
mod ops;
mod reliability;
mod sessions;
mod startup;
mod support;
mod users;
