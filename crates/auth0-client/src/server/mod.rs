//! The HTTP server under the router: binding (dual-stack by default), the accept loop
//! with its connection limit, the header, idle and body timeouts, and graceful shutdown.

pub mod bind;
pub mod body;
mod connection;

pub use bind::bind;
pub use connection::serve;
