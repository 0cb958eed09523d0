//! A local Auth0-compatible tenant.
