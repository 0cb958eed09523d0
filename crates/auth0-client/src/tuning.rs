//! Timing knobs that are not configuration an operator sets: production defaults in
//! [`Tuning::default`], short values in tests (set where the app is built). A leaf
//! module: the parts that read a knob import it from here, never the other way round.

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
    /// Session store timeouts.
    pub store: StoreTimeouts,
    /// Where expiry decisions read the time.
    pub clock: Arc<dyn Clock>,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            refresh_lease: REFRESH_LEASE,
            rotation_grace: ROTATION_GRACE,
            refresh_poll: Duration::from_millis(50),
            refresh_wait: Duration::from_secs(12),
            jwks_refetch_interval: JWKS_REFETCH_INTERVAL,
            auth0_call_timeout: AUTH0_CALL_TIMEOUT,
            management: ManagementOptions::default(),
            store: StoreTimeouts::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

/// Default lease of the refresh lock.
pub const REFRESH_LEASE: Duration = Duration::from_secs(10);
/// Default rotation grace of a rotated-away handle.
pub const ROTATION_GRACE: Duration = Duration::from_secs(10);
/// Default minimum time between two JWKS fetches of one tenant caused by unknown `kid`s
/// (or after a failed fetch).
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// Default upper bound of one Authentication API call.
pub const AUTH0_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Management API client timeouts and retries.
#[derive(Debug, Clone, Copy)]
pub struct ManagementOptions {
    /// Upper bound of one HTTP exchange with Auth0.
    pub call_timeout: Duration,
    /// `429` retries.
    pub retry: RetryPolicy,
}

impl Default for ManagementOptions {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(10),
            retry: RetryPolicy {
                max_attempts: 3,
                max_wait: Duration::from_secs(5),
            },
        }
    }
}

/// Bounds of the `429` retries of one Management API call.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Longest total time spent waiting for rate-limit windows.
    pub max_wait: Duration,
}

/// How long the Redis session store waits for each step.
#[derive(Debug, Clone, Copy)]
pub struct StoreTimeouts {
    /// Connecting to one node.
    pub connect: Duration,
    /// One node answering one command.
    pub response: Duration,
    /// One store operation in all (reconnects included): past it, the store is unavailable.
    pub operation: Duration,
    /// One sentinel naming the master.
    pub sentinel: Duration,
}

impl Default for StoreTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_millis(750),
            response: Duration::from_millis(750),
            operation: Duration::from_secs(1),
            sentinel: Duration::from_millis(300),
        }
    }
}
