//! Runtime fault injection (latency, errors, dropped connections, rate limits) and knobs.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::util::{lock, now_epoch};

/// Runtime fault injection and knobs: cheap interior mutability, shared with the server.
#[derive(Default)]
pub struct Faults {
    active: AtomicBool,
    rules: Mutex<Vec<Rule>>,
    access_token_ttl_ms: AtomicU64,
    access_token_override: Mutex<Option<String>>,
    refresh_user: Mutex<Option<String>>,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults")
            .field("rules", &lock(&self.rules).len())
            .finish()
    }
}

#[derive(Debug)]
struct Rule {
    prefix: String,
    latency: Option<Duration>,
    status: Option<u16>,
    body: Option<InjectedBody>,
    drop: bool,
    rate_limit: Option<Window>,
}

/// The body answered with an injected status instead of Auth0's error shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InjectedBody {
    /// A JSON document (e.g. another error shape, `{code, description}`).
    Json(serde_json::Value),
    /// A text body (`text/plain`), e.g. an HTML error page of a proxy.
    Text(String),
    /// `200` with a JSON-looking body that never ends (a tenant answer without bound).
    Endless,
}

#[derive(Debug)]
struct Window {
    limit: u32,
    length: Duration,
    started: Instant,
    used: u32,
}

/// What to do with one request.
#[derive(Debug, Default)]
pub(crate) struct Decision {
    /// Delay before anything else.
    pub(crate) latency: Duration,
    /// Close the connection without an answer.
    pub(crate) drop: bool,
    /// Answer this status with an Auth0-shaped error body (or `body`).
    pub(crate) status: Option<u16>,
    /// The body answered instead of Auth0's error shape.
    pub(crate) body: Option<InjectedBody>,
    /// Rate-limit state for the `x-ratelimit-*` headers (and a 429 when `limited`).
    pub(crate) rate: Option<RateState>,
}

/// One rate-limit window as the `x-ratelimit-*` headers show it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RateState {
    /// Requests allowed per window.
    pub(crate) limit: u32,
    /// Requests left in this window.
    pub(crate) remaining: u32,
    /// Epoch seconds when the window resets.
    pub(crate) reset: u64,
    /// Whether this request is over the limit.
    pub(crate) limited: bool,
}

impl Faults {
    fn update(&self, path_prefix: &str, change: impl FnOnce(&mut Rule)) {
        let mut rules = lock(&self.rules);
        let index = match rules.iter().position(|r| r.prefix == path_prefix) {
            Some(index) => index,
            None => {
                rules.push(Rule {
                    prefix: path_prefix.to_owned(),
                    latency: None,
                    status: None,
                    body: None,
                    drop: false,
                    rate_limit: None,
                });
                rules.len() - 1
            }
        };
        if let Some(rule) = rules.get_mut(index) {
            change(rule);
        }
        self.active.store(true, Ordering::Release);
    }

    /// Adds latency to every request whose path starts with `path_prefix`.
    pub fn set_latency(&self, path_prefix: &str, delay: Duration) {
        self.update(path_prefix, |rule| rule.latency = Some(delay));
    }

    /// Answers `status` (Auth0-shaped error body) on every request under `path_prefix`.
    pub fn set_error(&self, path_prefix: &str, status: u16) {
        self.update(path_prefix, |rule| rule.status = Some(status));
    }

    /// Answers `status` with `body` (instead of Auth0's error shape) under `path_prefix`;
    /// [`InjectedBody::Endless`] answers `200` whatever `status` says.
    pub fn set_body(&self, path_prefix: &str, status: u16, body: InjectedBody) {
        self.update(path_prefix, |rule| {
            rule.status = Some(status);
            rule.body = Some(body);
        });
    }

    /// Access tokens issued from now on are `value` instead of a signed JWT (`None`: signed
    /// again), to test how a relying party treats an unusable token.
    pub fn set_access_token_override(&self, value: Option<String>) {
        *lock(&self.access_token_override) = value;
    }

    /// Closes the connection without an answer under `path_prefix`.
    pub fn set_drop(&self, path_prefix: &str) {
        self.update(path_prefix, |rule| rule.drop = true);
    }

    /// Allows `limit` requests per `window` under `path_prefix`, then 429 with x-ratelimit-* headers.
    pub fn set_rate_limit(&self, path_prefix: &str, limit: u32, window: Duration) {
        self.update(path_prefix, |rule| {
            rule.rate_limit = Some(Window {
                limit,
                length: window.max(Duration::from_millis(1)),
                started: Instant::now(),
                used: 0,
            });
        });
    }

    /// Lifetime of access tokens issued from now on (for tests of expiry/refresh).
    pub fn set_access_token_ttl(&self, ttl: Duration) {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.access_token_ttl_ms.store(ms, Ordering::Release);
    }

    /// Makes `refresh_token` grants issue their tokens (id_token included) for `user_id`
    /// instead of the user the refresh token belongs to: a provider that switches users
    /// on refresh. `None` restores the normal behaviour.
    pub fn set_refresh_user(&self, user_id: Option<&str>) {
        *lock(&self.refresh_user) = user_id.map(str::to_owned);
    }

    /// Removes every fault and knob.
    pub fn clear(&self) {
        lock(&self.rules).clear();
        self.active.store(false, Ordering::Release);
        self.access_token_ttl_ms.store(0, Ordering::Release);
        *lock(&self.access_token_override) = None;
        *lock(&self.refresh_user) = None;
    }

    /// The access token to issue instead of a signed one, if set.
    pub(crate) fn access_token_override(&self) -> Option<String> {
        lock(&self.access_token_override).clone()
    }

    /// The user `refresh_token` grants are issued for, when set.
    pub(crate) fn refresh_user(&self) -> Option<String> {
        lock(&self.refresh_user).clone()
    }

    /// The access-token lifetime set at runtime, if any.
    pub(crate) fn access_token_ttl(&self) -> Option<Duration> {
        match self.access_token_ttl_ms.load(Ordering::Acquire) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    /// Decides the faults of one request (and consumes rate-limit budget).
    pub(crate) fn decide(&self, path: &str) -> Decision {
        let mut decision = Decision::default();
        if !self.active.load(Ordering::Acquire) {
            return decision;
        }
        let mut rules = lock(&self.rules);
        let mut status_prefix_len = 0;
        let mut rate_prefix_len = 0;
        for rule in rules
            .iter_mut()
            .filter(|r| path.starts_with(r.prefix.as_str()))
        {
            if let Some(latency) = rule.latency {
                decision.latency = decision.latency.max(latency);
            }
            decision.drop |= rule.drop;
            if let Some(status) = rule.status
                && (decision.status.is_none() || rule.prefix.len() >= status_prefix_len)
            {
                decision.status = Some(status);
                decision.body.clone_from(&rule.body);
                status_prefix_len = rule.prefix.len();
            }
            if let Some(window) = rule.rate_limit.as_mut() {
                let state = window.consume();
                if decision.rate.is_none() || rule.prefix.len() >= rate_prefix_len {
                    decision.rate = Some(state);
                    rate_prefix_len = rule.prefix.len();
                }
            }
        }
        decision
    }
}

impl Window {
    fn consume(&mut self) -> RateState {
        let now = Instant::now();
        if now.duration_since(self.started) >= self.length {
            let windows =
                now.duration_since(self.started).as_nanos() / self.length.as_nanos().max(1);
            let advance = self
                .length
                .saturating_mul(u32::try_from(windows).unwrap_or(u32::MAX));
            self.started += advance;
            self.used = 0;
        }
        let limited = self.used >= self.limit;
        if !limited {
            self.used += 1;
        }
        let left = self.length.saturating_sub(now.duration_since(self.started));
        RateState {
            limit: self.limit,
            remaining: self.limit.saturating_sub(self.used),
            reset: now_epoch() + left.as_secs() + u64::from(left.subsec_nanos() > 0),
            limited,
        }
    }
}
