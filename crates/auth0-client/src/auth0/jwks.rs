//! The tenants' signing keys (JWKS), cached per tenant, and id_token verification.
//!
//! A tenant's keys are fetched on first use and trusted for the `max-age` of its answer,
//! within [`MIN_CACHE_AGE`](key_set::MIN_CACHE_AGE)..[`MAX_CACHE_AGE`]; then fetched again, so a key the tenant
//! removed stops being trusted. A token naming an unknown `kid` (key rotation) also
//! fetches them again, at most once per [`REFETCH_INTERVAL`] per tenant. When a refetch
//! fails, the keys fetched last keep working until [`MAX_CACHE_AGE`] after their fetch.

mod check_up;
mod key_set;
pub mod logout_token;

pub use key_set::{KeySet, MAX_CACHE_AGE, cache_age};

use super::body::{MAX_BODY_BYTES, read_capped};
use crate::clock::{Clock, SystemClock};
use crate::config::typed::SigningAlgorithm;
use crate::metrics;
use crate::secret::Secret;
use crate::tuning::JWKS_REFETCH_INTERVAL as REFETCH_INTERVAL;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use reqwest::header::CACHE_CONTROL;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Upper bound of one JWKS fetch.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 30;

/// Why an id_token was not accepted, or the keys could not be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Not a JWT, or an unknown/`none` algorithm.
    #[error("the id_token is malformed")]
    Malformed,
    /// Signed with an algorithm the client does not allow.
    #[error("the id_token is signed with {0:?}, which this client does not allow")]
    AlgorithmNotAllowed(Algorithm),
    /// No key of the tenant matches the token.
    #[error("the id_token is signed with an unknown key")]
    UnknownKey,
    /// Signature, `iss`, `aud`, `exp` or `nbf` check failed.
    #[error("the id_token is invalid: {0}")]
    Invalid(String),
    /// The `nonce` is not the one sent with the authorization request.
    #[error("the id_token nonce does not match the authorization request")]
    NonceMismatch,
    /// No non-empty `sub`.
    #[error("the id_token has no subject")]
    MissingSubject,
    /// The JWKS could not be fetched.
    #[error("the tenant's signing keys are unavailable: {0}")]
    KeysUnavailable(String),
    /// The JWKS fetch timed out.
    #[error("the tenant's signing keys did not arrive in time")]
    KeysTimeout,
}

/// What the verified id_token must show.
#[derive(Debug)]
pub struct Expected<'a> {
    /// Tenant base URL (no trailing slash): keys are at `/.well-known/jwks.json`.
    pub base_url: &'a str,
    /// Expected `iss`.
    pub issuer: &'a str,
    /// The client id `aud` must contain.
    pub audience: &'a str,
    /// Algorithms the client allows (asymmetric ones are checked against the JWKS).
    pub algorithms: &'a [Algorithm],
    /// The client secret, used only for the HS* algorithms the client explicitly allows.
    pub client_secret: &'a Secret,
    /// The nonce sent with the authorization request, when the flow had one.
    pub nonce: Option<&'a str>,
}

#[derive(Debug, Clone)]
struct CachedSet {
    keys: Arc<KeySet>,
    /// When these keys were fetched.
    fetched_at: Instant,
    /// Until when they are trusted without fetching again.
    fresh_until: Instant,
    /// Last fetch attempt (successful or not), for the refetch rate limit.
    attempted_at: Instant,
}

/// JWKS cache for every tenant the service talks to.
#[derive(Debug)]
pub struct JwksCache {
    http: reqwest::Client,
    tenants: RwLock<HashMap<String, CachedSet>>,
    fetching: tokio::sync::Mutex<()>,
    refetch_interval: Duration,
    clock: Arc<dyn Clock>,
}

impl JwksCache {
    /// An empty cache fetching with `http`.
    pub fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            tenants: RwLock::default(),
            fetching: tokio::sync::Mutex::new(()),
            refetch_interval: REFETCH_INTERVAL,
            clock: Arc::new(SystemClock),
        }
    }

    /// Sets the minimum time between two fetches caused by unknown `kid`s.
    pub fn with_refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// Sets the time source (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Verifies `id_token` and returns its claims.
    #[tracing::instrument(name = "auth0.verify_id_token", skip_all)]
    pub async fn verify(
        &self,
        id_token: &Secret,
        expected: &Expected<'_>,
    ) -> Result<Map<String, Value>, TokenError> {
        let token = id_token.expose();
        let (alg, key) = self.signing_key(token, expected).await?;
        let mut validation = Validation::new(alg);
        validation.algorithms = vec![alg];
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_issuer(&[expected.issuer]);
        validation.set_audience(&[expected.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?
            .claims;
        // The verifier also accepts an array of issuers containing the expected one;
        // OIDC Core 2 makes `iss` one string.
        if claims.get("iss").and_then(Value::as_str) != Some(expected.issuer) {
            return Err(TokenError::Invalid(
                "iss is not the expected issuer string".to_owned(),
            ));
        }
        if let Some(nonce) = expected.nonce
            && claims.get("nonce").and_then(Value::as_str) != Some(nonce)
        {
            return Err(TokenError::NonceMismatch);
        }
        // OIDC Core 3.1.3.7: with several audiences, `azp` names the client when present.
        if let Some(azp) = claims.get("azp").and_then(Value::as_str)
            && azp != expected.audience
        {
            return Err(TokenError::Invalid("azp is another client".to_owned()));
        }
        match claims.get("sub").and_then(Value::as_str) {
            Some(sub) if !sub.is_empty() => Ok(claims),
            _ => Err(TokenError::MissingSubject),
        }
    }

    /// The algorithm a JWT (id_token or logout token) names and the key that checks its
    /// signature: the client secret for an allowed HS*, else the tenant's key for its `kid`.
    async fn signing_key(
        &self,
        token: &str,
        expected: &Expected<'_>,
    ) -> Result<(Algorithm, DecodingKey), TokenError> {
        let header = decode_header(token).map_err(|_| TokenError::Malformed)?;
        let alg = header.alg;
        if !expected.algorithms.contains(&alg) {
            return Err(TokenError::AlgorithmNotAllowed(alg));
        }
        let key = if is_hmac(alg) {
            DecodingKey::from_secret(expected.client_secret.expose().as_bytes())
        } else {
            self.key(expected.base_url, header.kid.as_deref(), alg)
                .await?
        };
        Ok((alg, key))
    }

    /// Fetches the tenant's JWKS now (readiness check-up); the cache is refreshed.
    pub async fn probe(&self, base_url: &str) -> Result<(), TokenError> {
        let (set, age) = self.fetch(base_url).await?;
        self.store(base_url, set, age);
        Ok(())
    }

    /// The key named `kid` for `alg` (or the only candidate when the token names none).
    async fn key(
        &self,
        base_url: &str,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<DecodingKey, TokenError> {
        let now = self.clock.instant();
        if let Some(cached) = self.cached(base_url)
            && now < cached.fresh_until
            && let Some(key) = cached.keys.find(kid, alg)
        {
            return Ok(key.clone());
        }
        let _one_fetch_at_a_time = self.fetching.lock().await;
        let now = self.clock.instant();
        let cached = self.cached(base_url);
        if let Some(cached) = &cached {
            let found = cached.keys.find(kid, alg).cloned();
            let recently_tried =
                now.saturating_duration_since(cached.attempted_at) < self.refetch_interval;
            match found {
                Some(key) if now < cached.fresh_until => return Ok(key),
                // Stale keys after a failed refetch keep working up to the ceiling.
                Some(key) if recently_tried && self.usable_stale(cached, now) => return Ok(key),
                None if recently_tried => return Err(TokenError::UnknownKey),
                _ => {}
            }
        }
        match self.fetch(base_url).await {
            Ok((set, age)) => {
                let key = set.find(kid, alg).cloned();
                self.store(base_url, set, age);
                key.ok_or(TokenError::UnknownKey)
            }
            Err(error) => {
                let stale = cached.as_ref().filter(|c| self.usable_stale(c, now));
                let Some(stale) = stale else {
                    return Err(error);
                };
                tracing::warn!(error = %error, "JWKS refetch failed; the keys fetched last are used meanwhile");
                self.mark_attempt(base_url, now);
                stale.keys.find(kid, alg).cloned().ok_or(error)
            }
        }
    }

    fn usable_stale(&self, cached: &CachedSet, now: Instant) -> bool {
        now.saturating_duration_since(cached.fetched_at) < MAX_CACHE_AGE
    }

    fn cached(&self, base_url: &str) -> Option<CachedSet> {
        let tenants = self
            .tenants
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        tenants.get(base_url).cloned()
    }

    fn store(&self, base_url: &str, set: KeySet, age: Duration) {
        let now = self.clock.instant();
        let mut tenants = self
            .tenants
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        tenants.insert(
            base_url.to_owned(),
            CachedSet {
                keys: Arc::new(set),
                fetched_at: now,
                fresh_until: now + age,
                attempted_at: now,
            },
        );
    }

    fn mark_attempt(&self, base_url: &str, now: Instant) {
        let mut tenants = self
            .tenants
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(cached) = tenants.get_mut(base_url) {
            cached.attempted_at = now;
        }
    }

    /// Fetches and reads the tenant's JWKS; also returns how long to trust it.
    #[tracing::instrument(name = "auth0.jwks", skip(self))]
    async fn fetch(&self, base_url: &str) -> Result<(KeySet, Duration), TokenError> {
        let url = format!("{base_url}/.well-known/jwks.json");
        let started = Instant::now();
        let response = match self.http.get(url).timeout(FETCH_TIMEOUT).send().await {
            Ok(response) => response,
            Err(error) if error.is_timeout() => {
                metrics::auth0_call("jwks", "timeout", started);
                return Err(TokenError::KeysTimeout);
            }
            Err(error) => {
                metrics::auth0_call("jwks", "error", started);
                return Err(TokenError::KeysUnavailable(error.without_url().to_string()));
            }
        };
        let status = response.status();
        metrics::auth0_call("jwks", &format!("{}xx", status.as_u16() / 100), started);
        if !status.is_success() {
            return Err(TokenError::KeysUnavailable(format!(
                "status {}",
                status.as_u16()
            )));
        }
        let age = cache_age(
            response
                .headers()
                .get(CACHE_CONTROL)
                .and_then(|v| v.to_str().ok()),
        );
        let body = read_capped(response, MAX_BODY_BYTES)
            .await
            .map_err(|e| match e {
                super::body::BodyError::Timeout => TokenError::KeysTimeout,
                e => TokenError::KeysUnavailable(e.to_string()),
            })?;
        let set = KeySet::parse(&body).map_err(TokenError::KeysUnavailable)?;
        Ok((set, age))
    }
}

fn is_hmac(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

/// The verifier's algorithm for a configured one (`none` is not configurable).
pub fn algorithm(alg: SigningAlgorithm) -> Algorithm {
    match alg {
        SigningAlgorithm::RS256 => Algorithm::RS256,
        SigningAlgorithm::RS384 => Algorithm::RS384,
        SigningAlgorithm::RS512 => Algorithm::RS512,
        SigningAlgorithm::PS256 => Algorithm::PS256,
        SigningAlgorithm::PS384 => Algorithm::PS384,
        SigningAlgorithm::PS512 => Algorithm::PS512,
        SigningAlgorithm::ES256 => Algorithm::ES256,
        SigningAlgorithm::ES384 => Algorithm::ES384,
        SigningAlgorithm::EdDSA => Algorithm::EdDSA,
        SigningAlgorithm::HS256 => Algorithm::HS256,
        SigningAlgorithm::HS384 => Algorithm::HS384,
        SigningAlgorithm::HS512 => Algorithm::HS512,
    }
}

/// Check-up: how many keys of a JWKS document can verify signatures (public, not
/// marked for encryption, and accepted as a decoding key); why not, when the document
/// is not a JWKS.
pub fn usable_signing_keys(body: &[u8]) -> Result<usize, String> {
    use jsonwebtoken::jwk::{AlgorithmParameters, PublicKeyUse};
    let set: jsonwebtoken::jwk::JwkSet =
        serde_json::from_slice(body).map_err(|_| "not a JWKS".to_owned())?;
    Ok(set
        .keys
        .iter()
        .filter(|jwk| jwk.common.public_key_use != Some(PublicKeyUse::Encryption))
        .filter(|jwk| !matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)))
        .filter(|jwk| DecodingKey::from_jwk(jwk).is_ok())
        .count())
}

#[cfg(test)]
mod tests;
