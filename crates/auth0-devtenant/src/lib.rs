//! A local Auth0-compatible tenant for development, tests and benchmarks.
//!
//! [`DevTenant::start`] serves, on 127.0.0.1, the parts of Auth0 that auth0-client uses:
//! the authentication API (`/authorize` with a login form, `/oauth/token`, `/userinfo`,
//! `/v2/logout`, `/oauth/revoke`, discovery and JWKS), a Management API v2 subset (users
//! search with Lucene queries, users CRUD, users-imports jobs), Auth0 sessions with
//! back-channel logout (see `backchannel`), and fault injection.

mod authn;
mod backchannel;
mod config;
mod control;
mod errors;
mod faults;
mod grants;
mod keys;
mod lucene;
mod management;
mod password;
mod server;
mod state;
mod stats;
mod tokens;
mod users;
mod util;

pub use backchannel::{BACKCHANNEL_LOGOUT_EVENT, BackchannelDelivery};
pub use config::{ClientConfig, ConnectionConfig, TenantConfig, UserConfig};
pub use faults::{Faults, InjectedBody};
pub use server::DevTenant;
pub use stats::Stats;
