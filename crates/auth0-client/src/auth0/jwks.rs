//! The tenants' signing keys (JWKS), cached per tenant, and id_token verification.
//!
//! Keys are fetched on first use and fetched again when a token names an unknown `kid`
//! (key rotation), at most once per [`REFETCH_INTERVAL`] per tenant.

pub mod logout_token;

use crate::metrics;
use crate::secret::Secret;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Upper bound of one JWKS fetch.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Minimum time between two fetches of one tenant's JWKS caused by unknown `kid`s.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// Clock skew tolerated on `exp`.
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
    /// Signature, `iss`, `aud` or `exp` check failed.
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

#[derive(Debug)]
struct CachedSet {
    keys: Arc<JwkSet>,
    fetched_at: Instant,
}

/// JWKS cache for every tenant the service talks to.
#[derive(Debug)]
pub struct JwksCache {
    http: reqwest::Client,
    tenants: RwLock<HashMap<String, CachedSet>>,
    fetching: tokio::sync::Mutex<()>,
    refetch_interval: Duration,
}

impl JwksCache {
    /// An empty cache fetching with `http`.
    pub fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            tenants: RwLock::default(),
            fetching: tokio::sync::Mutex::new(()),
            refetch_interval: REFETCH_INTERVAL,
        }
    }

    /// Sets the minimum time between two fetches caused by unknown `kid`s.
    pub fn with_refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
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
        let header = decode_header(token).map_err(|_| TokenError::Malformed)?;
        let alg = header.alg;
        if !expected.algorithms.contains(&alg) {
            return Err(TokenError::AlgorithmNotAllowed(alg));
        }
        let key = if is_hmac(alg) {
            DecodingKey::from_secret(expected.client_secret.expose().as_bytes())
        } else {
            let jwk = self.key(expected.base_url, header.kid.as_deref()).await?;
            DecodingKey::from_jwk(&jwk).map_err(|_| TokenError::UnknownKey)?
        };
        let mut validation = Validation::new(alg);
        validation.algorithms = vec![alg];
        validation.leeway = LEEWAY_SECONDS;
        validation.set_issuer(&[expected.issuer]);
        validation.set_audience(&[expected.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?
            .claims;
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

    /// Fetches the tenant's JWKS now (readiness check-up); the cache is refreshed.
    pub async fn probe(&self, base_url: &str) -> Result<(), TokenError> {
        let set = self.fetch(base_url).await?;
        self.store(base_url, set);
        Ok(())
    }

    /// The key named `kid` (or the only key when the token names none).
    async fn key(&self, base_url: &str, kid: Option<&str>) -> Result<Jwk, TokenError> {
        if let Some(jwk) = self.cached(base_url).and_then(|(set, _)| find(&set, kid)) {
            return Ok(jwk);
        }
        let _one_fetch_at_a_time = self.fetching.lock().await;
        if let Some((set, fetched_at)) = self.cached(base_url) {
            if let Some(jwk) = find(&set, kid) {
                return Ok(jwk);
            }
            if fetched_at.elapsed() < self.refetch_interval {
                return Err(TokenError::UnknownKey);
            }
        }
        let set = self.fetch(base_url).await?;
        let jwk = find(&set, kid);
        self.store(base_url, set);
        jwk.ok_or(TokenError::UnknownKey)
    }

    fn cached(&self, base_url: &str) -> Option<(Arc<JwkSet>, Instant)> {
        let tenants = self
            .tenants
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        tenants
            .get(base_url)
            .map(|c| (c.keys.clone(), c.fetched_at))
    }

    fn store(&self, base_url: &str, set: JwkSet) {
        let mut tenants = self
            .tenants
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        tenants.insert(
            base_url.to_owned(),
            CachedSet {
                keys: Arc::new(set),
                fetched_at: Instant::now(),
            },
        );
    }

    #[tracing::instrument(name = "auth0.jwks", skip(self))]
    async fn fetch(&self, base_url: &str) -> Result<JwkSet, TokenError> {
        let url = format!("{base_url}/.well-known/jwks.json");
        let response = match self.http.get(url).timeout(FETCH_TIMEOUT).send().await {
            Ok(response) => response,
            Err(error) if error.is_timeout() => {
                metrics::auth0_call("jwks", "timeout");
                return Err(TokenError::KeysTimeout);
            }
            Err(error) => {
                metrics::auth0_call("jwks", "error");
                return Err(TokenError::KeysUnavailable(error.without_url().to_string()));
            }
        };
        let status = response.status();
        metrics::auth0_call("jwks", &format!("{}xx", status.as_u16() / 100));
        if !status.is_success() {
            return Err(TokenError::KeysUnavailable(format!(
                "status {}",
                status.as_u16()
            )));
        }
        response
            .json::<JwkSet>()
            .await
            .map_err(|e| TokenError::KeysUnavailable(e.without_url().to_string()))
    }
}

fn find(set: &JwkSet, kid: Option<&str>) -> Option<Jwk> {
    match kid {
        Some(kid) => set.find(kid).cloned(),
        None if set.keys.len() == 1 => set.keys.first().cloned(),
        None => None,
    }
}

fn is_hmac(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

/// Parses a client's `supportedSigningAlgs` (RS256 when empty). `none` is never accepted.
pub fn parse_algorithms(names: &[String]) -> Result<Vec<Algorithm>, String> {
    if names.is_empty() {
        return Ok(vec![Algorithm::RS256]);
    }
    names
        .iter()
        .map(|name| {
            name.parse::<Algorithm>()
                .map_err(|_| format!("unsupported signing algorithm {name:?} (use e.g. RS256)"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_default_to_rs256_and_none_is_refused() {
        assert_eq!(parse_algorithms(&[]).unwrap(), vec![Algorithm::RS256]);
        assert_eq!(
            parse_algorithms(&["RS256".into(), "ES256".into()]).unwrap(),
            vec![Algorithm::RS256, Algorithm::ES256]
        );
        assert!(parse_algorithms(&["none".into()]).is_err());
    }

    #[tokio::test]
    async fn a_token_with_alg_none_is_malformed() {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let token = format!(
            "{}.{}.",
            b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
            b64.encode(r#"{"sub":"x","iss":"http://t/","aud":"c","exp":9999999999}"#)
        );
        let cache = JwksCache::new(reqwest::Client::new());
        let secret = Secret::new("s");
        let expected = Expected {
            base_url: "http://127.0.0.1:9",
            issuer: "http://t/",
            audience: "c",
            algorithms: &[Algorithm::RS256],
            client_secret: &secret,
            nonce: None,
        };
        let result = cache.verify(&Secret::new(token), &expected).await;
        assert!(matches!(result, Err(TokenError::Malformed)), "{result:?}");
    }

    #[tokio::test]
    async fn an_hs256_token_is_refused_when_the_client_allows_only_rs256() {
        let claims =
            serde_json::json!({"sub":"x","iss":"http://t/","aud":"c","exp":9_999_999_999u64});
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(b"public key bytes"),
        )
        .unwrap();
        let cache = JwksCache::new(reqwest::Client::new());
        let secret = Secret::new("s");
        let expected = Expected {
            base_url: "http://127.0.0.1:9",
            issuer: "http://t/",
            audience: "c",
            algorithms: &[Algorithm::RS256],
            client_secret: &secret,
            nonce: None,
        };
        let result = cache.verify(&Secret::new(token), &expected).await;
        assert!(
            matches!(
                result,
                Err(TokenError::AlgorithmNotAllowed(Algorithm::HS256))
            ),
            "{result:?}"
        );
    }

    mod rotation {
        use super::*;
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::pkcs8::LineEnding;
        use rsa::traits::PublicKeyParts;
        use std::sync::Mutex;
        use std::sync::atomic::{AtomicUsize, Ordering};

        fn jwk(key: &rsa::RsaPrivateKey, kid: &str) -> Value {
            let public = rsa::RsaPublicKey::from(key);
            serde_json::json!({
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
                "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
            })
        }

        fn token(key: &rsa::RsaPrivateKey, kid: &str, issuer: &str) -> Secret {
            let pem = key.to_pkcs1_pem(LineEnding::LF).unwrap();
            let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
            header.kid = Some(kid.to_owned());
            let claims =
                serde_json::json!({"sub": "u", "iss": issuer, "aud": "c", "exp": 9_999_999_999u64});
            let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
            Secret::new(jsonwebtoken::encode(&header, &claims, &key).unwrap())
        }

        #[tokio::test]
        async fn an_unknown_kid_fetches_the_keys_again_at_most_once_per_interval() {
            let mut rng = rand::thread_rng();
            let (old, new) = (
                rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap(),
                rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap(),
            );
            let jwks = Arc::new(Mutex::new(serde_json::json!({"keys": [jwk(&old, "old")]})));
            let fetches = Arc::new(AtomicUsize::new(0));
            let (served, counted) = (jwks.clone(), fetches.clone());
            let router = axum::Router::new().route(
                "/.well-known/jwks.json",
                axum::routing::get(move || async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    axum::Json(served.lock().unwrap().clone())
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base_url = format!("http://{}", listener.local_addr().unwrap());
            tokio::spawn(async move { axum::serve(listener, router).await });
            let issuer = format!("{base_url}/");
            let secret = Secret::new("s");
            let expected = Expected {
                base_url: &base_url,
                issuer: &issuer,
                audience: "c",
                algorithms: &[Algorithm::RS256],
                client_secret: &secret,
                nonce: None,
            };
            let cache = JwksCache::new(reqwest::Client::new())
                .with_refetch_interval(Duration::from_millis(300));

            cache
                .verify(&token(&old, "old", &issuer), &expected)
                .await
                .unwrap();
            *jwks.lock().unwrap() =
                serde_json::json!({"keys": [jwk(&old, "old"), jwk(&new, "new")]});
            let too_soon = cache.verify(&token(&new, "new", &issuer), &expected).await;
            assert!(
                matches!(too_soon, Err(TokenError::UnknownKey)),
                "{too_soon:?}"
            );
            assert_eq!(fetches.load(Ordering::SeqCst), 1);

            tokio::time::sleep(Duration::from_millis(350)).await;
            cache
                .verify(&token(&new, "new", &issuer), &expected)
                .await
                .unwrap();
            cache
                .verify(&token(&old, "old", &issuer), &expected)
                .await
                .unwrap();
            assert_eq!(fetches.load(Ordering::SeqCst), 2);
        }
    }
}
