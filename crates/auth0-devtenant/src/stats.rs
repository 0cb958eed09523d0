//! Counters: token grants issued and requests received.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::util::lock;

/// Snapshot of counters.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {
    /// grant_type as sent (e.g. "password", `http://auth0.com/oauth/grant-type/password-realm`,
    /// "refresh_token", "authorization_code", "client_credentials") -> successful grants issued.
    pub token_grants: BTreeMap<String, u64>,
    /// "METHOD /path-pattern" (e.g. "GET /userinfo", "GET /api/v2/users") -> requests received.
    pub requests: BTreeMap<String, u64>,
    /// client_id -> last `auth0-forwarded-for` header value it sent to `/oauth/token`.
    pub forwarded_for: BTreeMap<String, String>,
    /// client_id -> `client_secret_post` or `client_secret_basic` -> requests to
    /// `/oauth/token` and `/oauth/revoke` authenticated that way.
    pub client_auth: BTreeMap<String, BTreeMap<String, u64>>,
    /// Bytes of endless bodies written (see `Faults::set_endless_body`) whose reader went away.
    pub endless_bytes_abandoned: u64,
}

/// The live counters, shared with the server.
#[derive(Default)]
pub(crate) struct StatsRecorder {
    inner: Mutex<Stats>,
}

impl StatsRecorder {
    /// Counts one successful grant.
    pub(crate) fn grant(&self, grant_type: &str) {
        let mut stats = lock(&self.inner);
        bump(&mut stats.token_grants, grant_type);
    }

    /// Counts one request on a route.
    pub(crate) fn request(&self, method: &str, pattern: &str) {
        let key = format!("{method} {pattern}");
        let mut stats = lock(&self.inner);
        bump(&mut stats.requests, &key);
    }

    /// Remembers the last `auth0-forwarded-for` value of a client.
    pub(crate) fn forwarded_for(&self, client_id: &str, value: &str) {
        let mut stats = lock(&self.inner);
        match stats.forwarded_for.get_mut(client_id) {
            Some(last) if last == value => {}
            Some(last) => value.clone_into(last),
            None => {
                stats
                    .forwarded_for
                    .insert(client_id.to_owned(), value.to_owned());
            }
        }
    }

    /// Counts one request of a client authenticated with `method`.
    pub(crate) fn client_auth(&self, client_id: &str, method: &str) {
        let mut stats = lock(&self.inner);
        let methods = stats.client_auth.entry(client_id.to_owned()).or_default();
        bump(methods, method);
    }

    /// Records that the reader of an endless body went away after `bytes` bytes.
    pub(crate) fn endless_body_abandoned(&self, bytes: u64) {
        lock(&self.inner).endless_bytes_abandoned += bytes;
    }

    /// A copy of the counters.
    pub(crate) fn snapshot(&self) -> Stats {
        lock(&self.inner).clone()
    }
}

fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    match map.get_mut(key) {
        Some(count) => *count += 1,
        None => {
            map.insert(key.to_owned(), 1);
        }
    }
}
