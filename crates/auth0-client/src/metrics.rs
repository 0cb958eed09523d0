//! Names, help texts and helpers for the Prometheus metrics of SPEC §7.
//!
//! Code records through these helpers (the `metrics` facade); the recorder and the
//! `/-/metrics` rendering are installed by the telemetry setup, which calls
//! [`describe`] so that every metric has a `# HELP` line. Every label value comes from
//! a closed set (route templates, standard methods, static endpoint and operation names,
//! status classes), so no request can grow the number of series.

mod recorder;

pub use recorder::{metrics_upkeep, prometheus, render_metrics};

use metrics::{Histogram, Unit, counter, histogram};
use std::sync::{LazyLock, RwLock};
use std::time::Instant;

/// Requests being served now (gauge).
pub const IN_FLIGHT: &str = "http_requests_in_flight";
/// The build's version and commit (gauge, always 1).
pub const BUILD_INFO: &str = "build_info";

/// Every metric the service writes, with its kind, unit and help text.
const DESCRIPTIONS: &[(Kind, &str, Unit, &str)] = &[
    (
        Kind::Counter,
        "http_requests_total",
        Unit::Count,
        "HTTP requests answered, by method (OTHER past the standard ones), route template and status",
    ),
    (
        Kind::Histogram,
        "http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by method and route template",
    ),
    (
        Kind::Gauge,
        IN_FLIGHT,
        Unit::Count,
        "HTTP requests being served now",
    ),
    (
        Kind::Counter,
        "auth0_calls_total",
        Unit::Count,
        "Calls to Auth0, by endpoint and outcome (status class, timeout or error)",
    ),
    (
        Kind::Histogram,
        "auth0_call_duration_seconds",
        Unit::Seconds,
        "Time of a call to Auth0 until its answer's status, by endpoint and outcome",
    ),
    (
        Kind::Counter,
        "management_token_cache_hits_total",
        Unit::Count,
        "Management API calls served with the cached Management API token",
    ),
    (
        Kind::Counter,
        "management_token_fetches_total",
        Unit::Count,
        "Management API tokens requested from Auth0 (client-credentials grants)",
    ),
    (
        Kind::Counter,
        "session_refreshes_total",
        Unit::Count,
        "Session refreshes at Auth0, by outcome (ok, invalid_grant, error, shared)",
    ),
    (
        Kind::Counter,
        "sessions_created_total",
        Unit::Count,
        "Sessions created by a login or a code exchange, by client type",
    ),
    (
        Kind::Counter,
        "sessions_ended_total",
        Unit::Count,
        "Sessions ended, by reason (logout, user_deleted, refresh_refused)",
    ),
    (
        Kind::Counter,
        "session_store_errors_total",
        Unit::Count,
        "Failed session store operations, by operation",
    ),
    (
        Kind::Histogram,
        "session_store_duration_seconds",
        Unit::Seconds,
        "Time of a session store operation (failed ones included), by operation",
    ),
    (
        Kind::Counter,
        "authorize_rate_limited_total",
        Unit::Count,
        "/authorize calls refused by the per-IP limit, by reason",
    ),
    (
        Kind::Counter,
        "session_cache_hits_total",
        Unit::Count,
        "Session reads answered from the in-process session cache",
    ),
    (
        Kind::Counter,
        "session_cache_misses_total",
        Unit::Count,
        "Session reads the in-process session cache could not answer (read from Redis)",
    ),
    (
        Kind::Counter,
        "session_cache_invalidations_total",
        Unit::Count,
        "Session keys named by Redis invalidation pushes (CLIENT TRACKING) to the session cache",
    ),
    (
        Kind::Counter,
        "session_cache_flushes_total",
        Unit::Count,
        "Times the whole session cache was emptied (tracking connection lost or replaced, FLUSHALL)",
    ),
    (
        Kind::Gauge,
        "session_cache_entries",
        Unit::Count,
        "Sessions held in the in-process session cache",
    ),
    (
        Kind::Gauge,
        BUILD_INFO,
        Unit::Count,
        "Always 1; the labels carry the build's version and git commit",
    ),
];

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Describes every metric to the installed recorder (the `# HELP` lines) and sets
/// `build_info`.
pub fn describe() {
    for (kind, name, unit, help) in DESCRIPTIONS {
        match kind {
            Kind::Counter => metrics::describe_counter!(*name, *unit, *help),
            Kind::Gauge => metrics::describe_gauge!(*name, *unit, *help),
            Kind::Histogram => metrics::describe_histogram!(*name, *unit, *help),
        }
    }
    metrics::gauge!(
        BUILD_INFO,
        "version" => env!("CARGO_PKG_VERSION"),
        "commit" => env!("AUTH0_CLIENT_BUILD_COMMIT"),
    )
    .set(1.0);
}

/// An outbound call to Auth0 started at `started` finished: `endpoint` is a short
/// route name (e.g. `oauth_token`, `jwks`, `users_search`), `outcome` a status class or
/// `error`/`timeout`.
pub fn auth0_call(endpoint: &'static str, outcome: &str, started: Instant) {
    let seconds = started.elapsed().as_secs_f64();
    let outcome = bounded_outcome(outcome);
    counter!("auth0_calls_total", "endpoint" => endpoint, "outcome" => outcome).increment(1);
    histogram!("auth0_call_duration_seconds", "endpoint" => endpoint, "outcome" => outcome)
        .record(seconds);
}

/// The outcome label: one of a fixed set.
fn bounded_outcome(outcome: &str) -> &'static str {
    match outcome {
        "1xx" => "1xx",
        "2xx" => "2xx",
        "3xx" => "3xx",
        "4xx" => "4xx",
        "5xx" => "5xx",
        "timeout" => "timeout",
        _ => "error",
    }
}

/// A Management API call used the cached token.
pub fn management_token_hit() {
    counter!("management_token_cache_hits_total").increment(1);
}

/// A Management API token was requested from Auth0.
pub fn management_token_fetch() {
    counter!("management_token_fetches_total").increment(1);
}

/// A refresh at Auth0 finished with `outcome` (`ok`, `invalid_grant`, `error`, `shared`).
pub fn refresh(outcome: &'static str) {
    counter!("session_refreshes_total", "outcome" => outcome).increment(1);
}

/// A session was created (login or code exchange).
pub fn session_created(client_type: &str) {
    counter!("sessions_created_total", "client_type" => client_type.to_owned()).increment(1);
}

/// A session was ended (logout, user deleted).
pub fn session_ended(reason: &'static str) {
    counter!("sessions_ended_total", "reason" => reason).increment(1);
}

/// An `/authorize` call was refused by the state-creation limit (`reason`: `per_ip`,
/// or `clients_tracked` while the limiter holds as many clients as it may).
pub fn authorize_rate_limited(reason: &'static str) {
    counter!("authorize_rate_limited_total", "reason" => reason).increment(1);
}

/// The session store failed an operation.
pub fn store_error(operation: &'static str) {
    counter!("session_store_errors_total", "operation" => operation).increment(1);
}

/// Histogram handles of the store operations, asked of the registry once each: the
/// store is on the hot path (one read per `/userinfo`).
static STORE_DURATIONS: LazyLock<RwLock<Vec<(&'static str, Histogram)>>> = LazyLock::new(|| {
    prometheus();
    RwLock::default()
});

/// A session store operation started at `started` finished.
pub fn store_duration(operation: &'static str, started: Instant) {
    let seconds = started.elapsed().as_secs_f64();
    if let Ok(handles) = STORE_DURATIONS.read()
        && let Some((_, handle)) = handles.iter().find(|(name, _)| *name == operation)
    {
        handle.record(seconds);
        return;
    }
    let handle = histogram!("session_store_duration_seconds", "operation" => operation);
    handle.record(seconds);
    if let Ok(mut handles) = STORE_DURATIONS.write()
        && !handles.iter().any(|(name, _)| *name == operation)
    {
        handles.push((operation, handle));
    }
}

/// Handles of the session cache metrics, asked of the registry once (hits are the hot path).
struct CacheMetrics {
    hits: metrics::Counter,
    misses: metrics::Counter,
    invalidations: metrics::Counter,
    flushes: metrics::Counter,
    entries: metrics::Gauge,
}

static CACHE: LazyLock<CacheMetrics> = LazyLock::new(|| {
    prometheus();
    CacheMetrics {
        hits: counter!("session_cache_hits_total"),
        misses: counter!("session_cache_misses_total"),
        invalidations: counter!("session_cache_invalidations_total"),
        flushes: counter!("session_cache_flushes_total"),
        entries: metrics::gauge!("session_cache_entries"),
    }
});

/// A session read was answered by the session cache.
pub fn session_cache_hit() {
    CACHE.hits.increment(1);
}

/// A session read missed the session cache.
pub fn session_cache_miss() {
    CACHE.misses.increment(1);
}

/// Redis named `keys` session keys in invalidation pushes.
pub fn session_cache_invalidations(keys: usize) {
    CACHE.invalidations.increment(keys as u64);
}

/// The whole session cache was emptied.
pub fn session_cache_flush() {
    CACHE.flushes.increment(1);
}

/// The session cache holds `entries` sessions.
pub fn session_cache_entries(entries: usize) {
    CACHE.entries.set(entries as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_labels_are_a_closed_set() {
        assert_eq!(bounded_outcome("2xx"), "2xx");
        assert_eq!(bounded_outcome("timeout"), "timeout");
        assert_eq!(bounded_outcome("9xx"), "error");
        assert_eq!(bounded_outcome("<script>"), "error");
    }

    #[test]
    fn the_build_commit_is_known_or_unknown_never_empty() {
        let commit = env!("AUTH0_CLIENT_BUILD_COMMIT");
        assert!(!commit.is_empty());
        assert!(
            commit == "unknown" || commit.chars().all(|c| c.is_ascii_hexdigit()),
            "{commit}"
        );
    }
}
