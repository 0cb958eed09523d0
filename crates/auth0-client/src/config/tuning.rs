//! Timing knobs that are not configuration an operator sets: production defaults in
//! [`Tuning::default`], short values in tests (set where the app is built).

use crate::auth0::management::ManagementOptions;
use crate::clock::{Clock, SystemClock};
use std::sync::Arc;
use std::time::Duration;

/// Timeouts, leases, grace periods and the clock of one service instance.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// Lease of the refresh lock: longer than one Auth0 call.
    pub refresh_lease: Duration,
    /// How long a rotated-away handle keeps working.
    pub rotation_grace: Duration,
    /// How often a request waiting for another's refresh re-reads the session.
    pub refresh_poll: Duration,
    /// How long a request waits for another's refresh before answering 503.
    pub refresh_wait: Duration,
    /// Minimum time between two JWKS fetches of one tenant caused by unknown `kid`s.
    pub jwks_refetch_interval: Duration,
    /// Upper bound of one Authentication API call (`/oauth/token`, `/userinfo`, ...).
    pub auth0_call_timeout: Duration,
    /// Management API timeouts and `429` retry budget.
    pub management: ManagementOptions,
    /// Where expiry decisions read the time.
    pub clock: Arc<dyn Clock>,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            refresh_lease: crate::login::refresh::REFRESH_LEASE,
            rotation_grace: crate::login::refresh::ROTATION_GRACE,
            refresh_poll: Duration::from_millis(50),
            refresh_wait: Duration::from_secs(12),
            jwks_refetch_interval: crate::auth0::jwks::REFETCH_INTERVAL,
            auth0_call_timeout: crate::auth0::authentication::CALL_TIMEOUT,
            management: ManagementOptions::default(),
            clock: Arc::new(SystemClock),
        }
    }
}
