//! Waiting for events instead of sleeping: poll a condition, bounded, and tell when it
//! first held (so a test can assert order, never a wall-clock window).

// Test code: a failed wait is a failed test.
#![allow(clippy::panic)]

use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

/// Upper bound of one wait: long enough for a loaded CI machine, only hit on a bug.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Polls `condition` every 20 ms until it holds; returns the wall-clock time it first
/// did. Fails the test, naming `what`, after [`PATIENCE`].
pub async fn until<F, Fut>(what: &str, mut condition: F) -> SystemTime
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if condition().await {
            return SystemTime::now();
        }
        if started.elapsed() > PATIENCE {
            panic!("waited {PATIENCE:?} in vain for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whole milliseconds of wall clock from `earlier` to `later`, each read truncated to
/// the millisecond: the resolution stores keep deadlines in (`now_ms`, Redis `PX`). A
/// deadline met at that resolution can come up to 1 ms early in finer time, so order
/// checks against a lease or grace compare these, not raw durations.
pub fn whole_ms_between(earlier: SystemTime, later: SystemTime) -> u128 {
    let ms = |at: SystemTime| {
        at.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis()
    };
    ms(later).saturating_sub(ms(earlier))
}
