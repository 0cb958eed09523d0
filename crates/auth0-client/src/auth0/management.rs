//! Auth0 Management API v2 client: cached M2M token, rate limits, error mapping.
//!
//! The client_credentials token (`audience = {auth0Url}/api/v2/`) is cached until shortly
//! before it expires and fetched by one caller at a time: concurrent callers wait for that
//! one fetch. A `401` invalidates it and the call is retried once with a fresh token. A
//! `429` is retried after the time the rate-limit headers give, within [`RetryPolicy`];
//! past it the caller gets [`ManagementError::RateLimited`]. Every call has a timeout and
//! is counted in metrics.

use crate::clock::{Clock, SystemClock};
use crate::config::typed::Management;
use crate::metrics;
use crate::secret::Secret;
pub use crate::tuning::{ManagementOptions, RetryPolicy};
use bytes::Bytes;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Mutex;

/// A Management API call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManagementError {
    /// Auth0 refused the request (4xx other than 401/429), with Auth0's message.
    #[error("Auth0 refused the request ({status}): {message}")]
    Rejected {
        /// Auth0's HTTP status.
        status: u16,
        /// Auth0's message.
        message: String,
    },
    /// Auth0 still rate-limits after the bounded retries.
    #[error("Auth0 rate limit exceeded; retry after {retry_after} s")]
    RateLimited {
        /// Seconds until Auth0's window resets.
        retry_after: u64,
    },
    /// Auth0 refused the management client's credentials or its token.
    #[error("Auth0 refused the management client's credentials ({0})")]
    Credentials(u16),
    /// Auth0 could not be reached, failed (5xx) or answered an unreadable body.
    #[error("Auth0 unavailable: {0}")]
    Unavailable(String),
    /// Auth0 did not answer within the call timeout.
    #[error("Auth0 did not answer in time")]
    Timeout,
}

/// A page of a users search, as Auth0 counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Auth0 `per_page`.
    pub per_page: u32,
    /// Auth0 `page` (0-based).
    pub page: u32,
}

/// Auth0's answer passed through to the caller: status and JSON body (`Null` when empty).
#[derive(Debug, Clone, PartialEq)]
pub struct Passthrough {
    /// Auth0's status.
    pub status: u16,
    /// Auth0's body.
    pub body: Value,
}

/// A users-imports job request (the multipart fields Auth0 takes).
#[derive(Debug, Clone)]
pub struct ImportJob {
    /// The users file (a JSON array), at most 500 KB.
    pub users: Bytes,
    /// File name of the users part.
    pub file_name: String,
    /// Auth0 connection id.
    pub connection_id: String,
    /// `upsert`, as sent.
    pub upsert: Option<String>,
    /// `external_id`, as sent.
    pub external_id: Option<String>,
    /// `send_completion_email`, as sent.
    pub send_completion_email: Option<String>,
}

#[derive(Debug)]
struct CachedToken {
    value: Secret,
    renew_at: Instant,
}

/// The token slot: the cached token, and the last failed fetch (shared with the callers
/// that were already waiting for it, so an outage costs one fetch, not one per caller).
#[derive(Debug, Default)]
struct TokenSlot {
    cached: Option<CachedToken>,
    failure: Option<(Instant, ManagementError)>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Secret,
    #[serde(default = "default_expires_in")]
    expires_in: u64,
}

fn default_expires_in() -> u64 {
    86_400
}

#[derive(Debug, Default, Deserialize)]
struct Auth0ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// The Management API v2 client of the configured managementClient.
#[derive(Debug)]
pub struct ManagementApi {
    http: reqwest::Client,
    base_url: String,
    client_id: String,
    client_secret: Secret,
    options: ManagementOptions,
    token: Mutex<TokenSlot>,
    clock: Arc<dyn Clock>,
}

impl ManagementApi {
    /// A client of the typed managementClient `config`, calling Auth0 with `http`.
    pub fn new(config: &Management, http: reqwest::Client, options: ManagementOptions) -> Self {
        Self {
            http,
            base_url: config.auth0_url.base().to_owned(),
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            options,
            token: Mutex::new(TokenSlot::default()),
            clock: Arc::new(SystemClock),
        }
    }

    /// Sets the clock the token's renewal reads (tests move it by hand).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// `GET /api/v2/users?q=…&search_engine=v3&per_page=…&page=…` (with totals when asked).
    pub async fn search_users(
        &self,
        q: Option<&str>,
        page: Page,
        include_totals: bool,
    ) -> Result<Value, ManagementError> {
        let per_page = page.per_page.to_string();
        let page_index = page.page.to_string();
        let mut query: Vec<(&str, &str)> = vec![
            ("search_engine", "v3"),
            ("per_page", &per_page),
            ("page", &page_index),
        ];
        if let Some(q) = q {
            query.push(("q", q));
        }
        if include_totals {
            query.push(("include_totals", "true"));
        }
        let url = self.url(&["api", "v2", "users"]);
        let response = self
            .call("users_search", || self.http.get(&url).query(&query))
            .await?;
        json_body(response).await
    }

    /// The number of users matching `q` (Auth0 `include_totals`).
    pub async fn count_users(&self, q: Option<&str>) -> Result<u64, ManagementError> {
        let page = Page {
            per_page: 1,
            page: 0,
        };
        let body = self.search_users(q, page, true).await?;
        body.get("total").and_then(Value::as_u64).ok_or_else(|| {
            ManagementError::Unavailable("Auth0 answered a search without its total".to_owned())
        })
    }

    /// `GET /api/v2/users/{id}`.
    pub async fn get_user(&self, user_id: &str) -> Result<Value, ManagementError> {
        let url = self.user_url(user_id)?;
        let response = self.call("users_get", || self.http.get(&url)).await?;
        json_body(response).await
    }

    /// `POST /api/v2/users`.
    pub async fn create_user(&self, body: &Value) -> Result<Value, ManagementError> {
        let url = self.url(&["api", "v2", "users"]);
        let response = self
            .call("users_create", || self.http.post(&url).json(body))
            .await?;
        json_body(response).await
    }

    /// `PATCH /api/v2/users/{id}`.
    pub async fn update_user(&self, user_id: &str, body: &Value) -> Result<Value, ManagementError> {
        let url = self.user_url(user_id)?;
        let response = self
            .call("users_update", || {
                self.http.request(Method::PATCH, &url).json(body)
            })
            .await?;
        json_body(response).await
    }

    /// `DELETE /api/v2/users/{id}`.
    pub async fn delete_user(&self, user_id: &str) -> Result<(), ManagementError> {
        let url = self.user_url(user_id)?;
        self.call("users_delete", || self.http.delete(&url)).await?;
        Ok(())
    }

    /// `POST /api/v2/jobs/users-imports` (multipart).
    pub async fn import_users(&self, job: &ImportJob) -> Result<Passthrough, ManagementError> {
        let url = self.url(&["api", "v2", "jobs", "users-imports"]);
        let response = self
            .call("users_import", || {
                let users = reqwest::multipart::Part::stream(job.users.clone())
                    .file_name(job.file_name.clone())
                    .mime_str("application/json")
                    .unwrap_or_else(|_| reqwest::multipart::Part::stream(job.users.clone()));
                let mut form = reqwest::multipart::Form::new()
                    .part("users", users)
                    .text("connection_id", job.connection_id.clone());
                for (name, value) in [
                    ("upsert", &job.upsert),
                    ("external_id", &job.external_id),
                    ("send_completion_email", &job.send_completion_email),
                ] {
                    if let Some(value) = value {
                        form = form.text(name, value.clone());
                    }
                }
                self.http.post(&url).multipart(form)
            })
            .await?;
        passthrough(response).await
    }

    /// `GET /api/v2/jobs/{id}`.
    pub async fn job(&self, job_id: &str) -> Result<Passthrough, ManagementError> {
        let url = self.url(&["api", "v2", "jobs", checked_id(job_id, "job")?]);
        passthrough(self.call("jobs_get", || self.http.get(&url)).await?).await
    }

    /// `GET /api/v2/jobs/{id}/errors`.
    pub async fn job_errors(&self, job_id: &str) -> Result<Passthrough, ManagementError> {
        let url = self.url(&["api", "v2", "jobs", checked_id(job_id, "job")?, "errors"]);
        passthrough(self.call("jobs_errors", || self.http.get(&url)).await?).await
    }

    fn url(&self, segments: &[&str]) -> String {
        let mut url = self.base_url.clone();
        for segment in segments {
            url.push('/');
            url.push_str(&encode_segment(segment));
        }
        url
    }

    fn user_url(&self, user_id: &str) -> Result<String, ManagementError> {
        Ok(self.url(&["api", "v2", "users", checked_id(user_id, "user")?]))
    }

    /// A call with the cached token: retried once with a fresh token on `401`.
    #[tracing::instrument(name = "auth0.management", skip_all, fields(endpoint = endpoint))]
    async fn call(
        &self,
        endpoint: &'static str,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, ManagementError> {
        let mut renewed = false;
        loop {
            let token = self.token().await?;
            let response = self
                .send(endpoint, || build().bearer_auth(token.expose()))
                .await?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && !renewed {
                self.invalidate(&token).await;
                renewed = true;
                continue;
            }
            if status.is_success() {
                return Ok(response);
            }
            return Err(error_of(response).await);
        }
    }

    /// The cached token, or a new one fetched while concurrent callers wait.
    /// Callers that waited for a fetch that failed get its error instead of fetching again.
    async fn token(&self) -> Result<Secret, ManagementError> {
        let asked_at = self.clock.instant();
        let mut slot = self.token.lock().await;
        if let Some(token) = slot
            .cached
            .as_ref()
            .filter(|t| self.clock.instant() < t.renew_at)
        {
            metrics::management_token_hit();
            return Ok(token.value.clone());
        }
        if let Some((failed_at, error)) = &slot.failure
            && *failed_at >= asked_at
        {
            return Err(error.clone());
        }
        metrics::management_token_fetch();
        match self.fetch_token().await {
            Ok(fresh) => {
                let value = fresh.value.clone();
                slot.cached = Some(fresh);
                slot.failure = None;
                Ok(value)
            }
            Err(error) => {
                slot.failure = Some((self.clock.instant(), error.clone()));
                Err(error)
            }
        }
    }

    /// Drops the cached token if it is still the one that was refused.
    async fn invalidate(&self, refused: &Secret) {
        let mut slot = self.token.lock().await;
        if slot.cached.as_ref().is_some_and(|t| &t.value == refused) {
            slot.cached = None;
        }
    }

    #[tracing::instrument(name = "auth0.management_token", skip_all, fields(client_id = %self.client_id))]
    async fn fetch_token(&self) -> Result<CachedToken, ManagementError> {
        let url = format!("{}/oauth/token", self.base_url);
        let audience = format!("{}/api/v2/", self.base_url);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose()),
            ("audience", audience.as_str()),
        ];
        let started = self.clock.instant();
        let response = self
            .send("management_token", || self.http.post(&url).form(&form))
            .await?;
        let status = response.status();
        if matches!(status.as_u16(), 401 | 403) {
            tracing::error!(
                status = status.as_u16(),
                "Auth0 refused the managementClient credentials"
            );
            return Err(ManagementError::Credentials(status.as_u16()));
        }
        if !status.is_success() {
            return Err(match error_of(response).await {
                ManagementError::Rejected { status, message } => ManagementError::Unavailable(
                    format!("the token request was refused ({status}): {message}"),
                ),
                other => other,
            });
        }
        let bytes = capped(response).await?;
        let token: TokenResponse = serde_json::from_slice(&bytes)
            .map_err(|e| ManagementError::Unavailable(format!("unreadable token: {e}")))?;
        let lifetime = Duration::from_secs(token.expires_in);
        let margin = (lifetime / 10).min(Duration::from_secs(300));
        Ok(CachedToken {
            value: token.access_token,
            renew_at: started + lifetime.saturating_sub(margin),
        })
    }

    /// One exchange, retried on `429` within the [`RetryPolicy`]; counted in metrics.
    async fn send(
        &self,
        endpoint: &'static str,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, ManagementError> {
        let policy = self.options.retry;
        let mut attempts = 0;
        let mut waited = Duration::ZERO;
        loop {
            attempts += 1;
            let started = Instant::now();
            let result = build().timeout(self.options.call_timeout).send().await;
            let response = match result {
                Ok(response) => response,
                Err(error) if error.is_timeout() => {
                    metrics::auth0_call(endpoint, "timeout", started);
                    tracing::warn!(endpoint, "Auth0 management call timed out");
                    return Err(ManagementError::Timeout);
                }
                Err(error) => {
                    metrics::auth0_call(endpoint, "error", started);
                    let cause = error.without_url().to_string();
                    tracing::warn!(endpoint, error = %cause, "Auth0 management call failed");
                    return Err(ManagementError::Unavailable(cause));
                }
            };
            let status = response.status();
            metrics::auth0_call(endpoint, status_class(status), started);
            if status != StatusCode::TOO_MANY_REQUESTS {
                return Ok(response);
            }
            let wait = rate_limit_wait(response.headers(), SystemTime::now());
            if attempts >= policy.max_attempts || waited + wait > policy.max_wait {
                tracing::warn!(endpoint, attempts, "Auth0 rate limit: giving up");
                return Err(ManagementError::RateLimited {
                    retry_after: (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1),
                });
            }
            tracing::info!(
                endpoint,
                wait_ms = wait.as_millis() as u64,
                "Auth0 rate limit: waiting"
            );
            tokio::time::sleep(wait).await;
            waited += wait;
        }
    }
}

/// How long to wait before retrying a `429`: until `x-ratelimit-reset` (epoch seconds),
/// else `retry-after` seconds, else one second; never less than 50 ms.
fn rate_limit_wait(headers: &HeaderMap, now: SystemTime) -> Duration {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let wait = if let Some(reset) = number("x-ratelimit-reset") {
        let reset = UNIX_EPOCH + Duration::from_secs(reset);
        reset.duration_since(now).unwrap_or(Duration::ZERO)
    } else if let Some(seconds) = number(RETRY_AFTER.as_str()) {
        Duration::from_secs(seconds)
    } else {
        Duration::from_secs(1)
    };
    wait.max(Duration::from_millis(50))
}

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=299 => "2xx",
        401 => "401",
        429 => "429",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// Refuses ids that a URL would resolve as path navigation; any other id is encoded.
fn checked_id<'a>(id: &'a str, kind: &str) -> Result<&'a str, ManagementError> {
    if id.is_empty() || id == "." || id == ".." {
        return Err(ManagementError::Rejected {
            status: 404,
            message: format!("The {kind} does not exist."),
        });
    }
    Ok(id)
}

/// Percent-encodes every byte of a path segment but RFC 3986 unreserved characters.
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Largest Management API answer read (a page of 100 users with their metadata fits).
pub const MAX_MANAGEMENT_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The body of `response`, refused past [`MAX_MANAGEMENT_BODY_BYTES`] without buffering it.
async fn capped(response: Response) -> Result<bytes::Bytes, ManagementError> {
    super::body::read_capped(response, MAX_MANAGEMENT_BODY_BYTES)
        .await
        .map_err(|e| ManagementError::Unavailable(e.to_string()))
}

async fn json_body(response: Response) -> Result<Value, ManagementError> {
    let bytes = capped(response).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ManagementError::Unavailable(format!("unreadable body: {e}")))
}

async fn passthrough(response: Response) -> Result<Passthrough, ManagementError> {
    let status = response.status().as_u16();
    let bytes = capped(response).await?;
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| ManagementError::Unavailable(format!("unreadable body: {e}")))?
    };
    Ok(Passthrough { status, body })
}

/// The error of a non-success answer: 5xx is Auth0 failing, 4xx the caller's fault.
async fn error_of(response: Response) -> ManagementError {
    let status = response.status();
    if status.is_server_error() || !status.is_client_error() {
        return ManagementError::Unavailable(format!("Auth0 answered {status}"));
    }
    if status == StatusCode::UNAUTHORIZED {
        tracing::error!("Auth0 refused a fresh management token");
        return ManagementError::Credentials(401);
    }
    let body: Auth0ErrorBody = match capped(response).await {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
        Err(error) => return error,
    };
    let message = body
        .message
        .or(body.error_description)
        .or(body.error)
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("Error").to_owned());
    ManagementError::Rejected {
        status: status.as_u16(),
        message,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn the_wait_follows_the_reset_epoch_then_retry_after() {
        let now = UNIX_EPOCH + Duration::from_millis(1_000_000_400);
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("1000002"));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("30"));
        assert_eq!(rate_limit_wait(&headers, now), Duration::from_millis(1_600));
        headers.remove("x-ratelimit-reset");
        assert_eq!(rate_limit_wait(&headers, now), Duration::from_secs(30));
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("999999"));
        assert_eq!(rate_limit_wait(&headers, now), Duration::from_millis(50));
    }

    #[test]
    fn path_segments_are_encoded_and_dot_ids_refused() {
        assert_eq!(encode_segment("auth0|a b/c?d"), "auth0%7Ca%20b%2Fc%3Fd");
        assert!(checked_id("..", "user").is_err());
        assert!(checked_id("", "user").is_err());
        assert_eq!(checked_id("auth0|1", "user").unwrap(), "auth0|1");
    }
}
