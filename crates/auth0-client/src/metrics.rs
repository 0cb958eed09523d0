//! Names and helpers for the Prometheus metrics of SPEC §7.
//!
//! Code records through these helpers (the `metrics` facade); the recorder and the
//! `/-/metrics` rendering are installed by the telemetry setup.

use metrics::counter;

/// An outbound call to Auth0 finished: `endpoint` is a short route name
/// (e.g. `oauth_token`, `jwks`, `users_search`), `outcome` a status class or `error`/`timeout`.
pub fn auth0_call(endpoint: &'static str, outcome: &str) {
    counter!("auth0_calls_total", "endpoint" => endpoint, "outcome" => outcome.to_owned())
        .increment(1);
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
