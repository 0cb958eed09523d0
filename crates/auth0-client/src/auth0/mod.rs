//! Typed clients for Auth0: the Authentication API, the Management API v2, the JWKS.

pub mod management;
