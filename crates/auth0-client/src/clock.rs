//! Where the service reads the time: the system clock in production, a clock moved by
//! hand in tests (token and session expiry, the JWKS refetch limit, the idle timeout and
//! the management token's renewal all read it).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// A source of wall-clock and monotonic time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The wall-clock time now (UTC).
    fn now_utc(&self) -> OffsetDateTime;
    /// The monotonic time now.
    fn instant(&self) -> Instant;
    /// Unix time now, in seconds.
    fn unix_now(&self) -> i64 {
        self.now_utc().unix_timestamp()
    }
    /// Unix time now, in milliseconds.
    fn unix_now_ms(&self) -> i64 {
        let now = self.now_utc();
        now.unix_timestamp() * 1000 + i64::from(now.millisecond())
    }
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_utc(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn instant(&self) -> Instant {
        Instant::now()
    }
}

/// The system clock moved forward by hand: tests advance it instead of sleeping.
#[derive(Debug, Default)]
pub struct ManualClock {
    ahead: Mutex<Duration>,
}

impl ManualClock {
    /// A clock that reads the system time until it is advanced.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.ahead.lock().unwrap_or_else(PoisonError::into_inner) += by;
    }

    fn ahead(&self) -> Duration {
        *self.ahead.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now_utc(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + self.ahead()
    }

    fn instant(&self) -> Instant {
        Instant::now() + self.ahead()
    }
}
