//! A per-client-IP limit on `/authorize` state creation (`AUTHORIZE_RATE_LIMIT`), so
//! unauthenticated callers cannot fill the store with pending logins.
//!
//! A token bucket per IP (IPv6 per /64, which one subscriber usually holds whole), in
//! this replica's memory. The map of buckets is bounded: past [`MAX_TRACKED`] clients it
//! drops the buckets that are full again, and while it is still full it refuses new
//! states from everyone (memory stays bounded under a spread-out flood).

use governor::clock::{Clock, DefaultClock, Reference as _};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

/// Most clients whose buckets are kept at once.
pub const MAX_TRACKED: usize = 100_000;
/// Least time between two sweeps of the bucket map.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Why a state creation was refused, and when to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// What was exceeded (a metric label).
    pub reason: &'static str,
    /// How long until a retry can succeed.
    pub retry_after: Duration,
}

type Limiter<C> =
    RateLimiter<IpAddr, DashMapStateStore<IpAddr>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// The state-creation limit of one replica.
pub struct StateThrottle<C: Clock = DefaultClock> {
    limiter: Option<Limiter<C>>,
    clock: C,
    max_tracked: usize,
    last_sweep: Mutex<Option<C::Instant>>,
}

impl<C: Clock> std::fmt::Debug for StateThrottle<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateThrottle")
            .field("enabled", &self.limiter.is_some())
            .finish_non_exhaustive()
    }
}

impl StateThrottle {
    /// `per_minute` states per client IP per minute (and as a burst); 0 turns it off.
    pub fn new(per_minute: u32) -> Self {
        Self::with_clock(per_minute, MAX_TRACKED, DefaultClock::default())
    }
}

impl<C: Clock + Clone> StateThrottle<C> {
    /// [`StateThrottle::new`] on `clock`, tracking at most `max_tracked` clients.
    pub fn with_clock(per_minute: u32, max_tracked: usize, clock: C) -> Self {
        let limiter = NonZeroU32::new(per_minute)
            .map(|n| RateLimiter::dashmap_with_clock(Quota::per_minute(n), clock.clone()));
        Self {
            limiter,
            clock,
            max_tracked,
            last_sweep: Mutex::new(None),
        }
    }

    /// Takes one state creation from the bucket of `ip`.
    pub fn check(&self, ip: IpAddr) -> Result<(), Throttled> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if limiter.len() >= self.max_tracked && !self.sweep(limiter) {
            return Err(Throttled {
                reason: "clients_tracked",
                retry_after: SWEEP_EVERY,
            });
        }
        limiter
            .check_key(&bucket_of(ip))
            .map_err(|not_until| Throttled {
                reason: "per_ip",
                retry_after: not_until.wait_time_from(self.clock.now()),
            })
    }

    /// Drops the buckets that are full again (at most once per [`SWEEP_EVERY`]); true
    /// when there is room for another client afterwards.
    fn sweep(&self, limiter: &Limiter<C>) -> bool {
        let now = self.clock.now();
        {
            let mut last = self
                .last_sweep
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let due = last.is_none_or(|at| Duration::from(now.duration_since(at)) >= SWEEP_EVERY);
            if due {
                *last = Some(now);
            } else {
                return false;
            }
        }
        limiter.retain_recent();
        limiter.shrink_to_fit();
        limiter.len() < self.max_tracked
    }
}

/// The bucket key of `ip`: itself for IPv4, its /64 for IPv6.
fn bucket_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !u128::from(u64::MAX);
            IpAddr::V6(prefix.into())
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_client_gets_its_burst_then_waits_for_its_bucket_to_refill() {
        let clock = FakeRelativeClock::default();
        let throttle = StateThrottle::with_clock(3, 100, clock.clone());
        let client = ip("198.51.100.7");
        for _ in 0..3 {
            assert_eq!(throttle.check(client), Ok(()));
        }
        let refused = throttle.check(client).unwrap_err();
        assert_eq!(refused.reason, "per_ip");
        assert_eq!(refused.retry_after, Duration::from_secs(20));
        assert_eq!(
            throttle.check(ip("198.51.100.8")),
            Ok(()),
            "another client has its own bucket"
        );

        clock.advance(Duration::from_secs(20));

        assert_eq!(throttle.check(client), Ok(()));
        assert!(throttle.check(client).is_err());
    }

    #[test]
    fn addresses_of_one_ipv6_64_share_a_bucket() {
        let throttle = StateThrottle::with_clock(1, 100, FakeRelativeClock::default());
        assert_eq!(throttle.check(ip("2001:db8:1:2::1")), Ok(()));
        assert!(throttle.check(ip("2001:db8:1:2:ffff::9")).is_err());
        assert_eq!(throttle.check(ip("2001:db8:1:3::1")), Ok(()));
    }

    #[test]
    fn zero_turns_the_limit_off() {
        let throttle = StateThrottle::with_clock(0, 1, FakeRelativeClock::default());
        for _ in 0..1000 {
            assert_eq!(throttle.check(ip("198.51.100.7")), Ok(()));
        }
    }

    #[test]
    fn the_bucket_map_stays_bounded_and_frees_room_as_buckets_refill() {
        let clock = FakeRelativeClock::default();
        let throttle = StateThrottle::with_clock(60, 2, clock.clone());
        assert_eq!(throttle.check(ip("192.0.2.1")), Ok(()));
        assert_eq!(throttle.check(ip("192.0.2.2")), Ok(()));

        let full = throttle.check(ip("192.0.2.3")).unwrap_err();

        assert_eq!(full.reason, "clients_tracked");
        assert_eq!(throttle.limiter.as_ref().unwrap().len(), 2);
        // Once both buckets are full again the sweep frees their room.
        clock.advance(Duration::from_secs(2));
        assert_eq!(throttle.check(ip("192.0.2.3")), Ok(()));
        assert!(throttle.limiter.as_ref().unwrap().len() <= 2);
    }
}
