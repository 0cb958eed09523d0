//! Test harness: real processes (redis-server, devtenant, the app) on 127.0.0.1.

pub mod app;
pub mod redis;
pub mod tls;
pub mod wait;
