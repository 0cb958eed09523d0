//! auth0-client: a login gateway in front of Auth0.
//!
//! Runs the OAuth2/OIDC login flows for several applications, keeps their sessions in
//! a shared store, answers "who is this user?" and offers user management over the
//! Auth0 Management API v2.

pub mod app;
pub mod auth0;
pub mod cli;
pub mod clock;
pub mod config;
#[cfg(feature = "dev")]
pub(crate) mod dev;
pub mod http;
pub mod login;
pub(crate) mod metrics;
pub mod secret;
pub(crate) mod server;
pub mod session;
pub mod telemetry;
pub mod tuning;
pub mod users;
