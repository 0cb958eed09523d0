//! A tenant's JWKS read key by key (RFC 7517 §5): keys of a type, curve or algorithm the
//! verifier does not know, encryption keys and malformed entries are skipped, so one
//! unusable key never makes the other keys unusable.

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use std::time::Duration;

/// Shortest time a fetched JWKS is trusted before it is fetched again.
pub const MIN_CACHE_AGE: Duration = Duration::from_secs(5 * 60);
/// Longest time a fetched JWKS is trusted before it is fetched again.
pub const MAX_CACHE_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// One verification key of the set.
#[derive(Clone)]
pub struct VerificationKey {
    kid: Option<String>,
    alg: Option<Algorithm>,
    key: DecodingKey,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// The usable signature keys of one JWKS document.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<VerificationKey>,
}

impl KeySet {
    /// Reads a JWKS document; `Err` only when it is not a JWKS at all (no `keys` array).
    /// Each skipped key is logged once, at debug.
    pub fn parse(document: &[u8]) -> Result<Self, String> {
        let value: Value =
            serde_json::from_slice(document).map_err(|_| "the JWKS is not JSON".to_owned())?;
        let entries = value
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| "the JWKS has no keys array".to_owned())?;
        let keys = entries
            .iter()
            .filter_map(|entry| match usable_key(entry) {
                Ok(key) => Some(key),
                Err(reason) => {
                    let kid = entry.get("kid").and_then(Value::as_str).unwrap_or("-");
                    tracing::debug!(kid, reason, "JWKS key skipped");
                    None
                }
            })
            .collect();
        Ok(Self { keys })
    }

    /// The key named `kid` that may verify `alg` (or, when the token names no `kid`, the
    /// only key of the set that may).
    pub fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<&DecodingKey> {
        let mut candidates = self
            .keys
            .iter()
            .filter(|key| key.alg.is_none_or(|declared| declared == alg));
        match kid {
            Some(kid) => candidates
                .find(|key| key.kid.as_deref() == Some(kid))
                .map(|key| &key.key),
            None => {
                let first = candidates.next()?;
                candidates.next().is_none().then_some(&first.key)
            }
        }
    }

    /// Number of usable keys.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when no key is usable.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn usable_key(entry: &Value) -> Result<VerificationKey, &'static str> {
    if !entry.is_object() {
        return Err("not a JSON object");
    }
    if let Some(usage) = entry.get("use")
        && usage.as_str() != Some("sig")
    {
        return Err("not a signature key (use)");
    }
    if let Some(ops) = entry.get("key_ops")
        && !ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op.as_str() == Some("verify")))
    {
        return Err("not a verification key (key_ops)");
    }
    let alg = match entry.get("alg") {
        None => None,
        Some(alg) => Some(
            alg.as_str()
                .and_then(|alg| alg.parse::<Algorithm>().ok())
                .ok_or("unsupported signature algorithm")?,
        ),
    };
    let jwk: Jwk =
        serde_json::from_value(entry.clone()).map_err(|_| "unsupported or malformed key")?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| "unusable key material")?;
    Ok(VerificationKey {
        kid: jwk.common.key_id,
        alg,
        key,
    })
}

/// How long a JWKS answered with `cache_control` is trusted: its `max-age` within
/// [`MIN_CACHE_AGE`]..[`MAX_CACHE_AGE`]; the minimum without one (or with `no-cache`).
pub fn cache_age(cache_control: Option<&str>) -> Duration {
    let max_age = cache_control.and_then(|value| {
        value.split(',').find_map(|directive| {
            let (name, seconds) = directive.trim().split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("max-age")
                .then(|| seconds.trim().trim_matches('"').parse::<u64>().ok())
                .flatten()
        })
    });
    max_age
        .map(Duration::from_secs)
        .unwrap_or(MIN_CACHE_AGE)
        .clamp(MIN_CACHE_AGE, MAX_CACHE_AGE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RSA_N: &str = "u1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0_IzW7yWR7QkrmBL7jTKEn5u-qKhbwKfBstIs-bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW_VDL5AaWTg0nLVkjRo9z-40RQzuVaE8AkAFmxZzow3x-VJYKdjykkJ0iT9wCS0DRTXu269V264Vf_3jvredZiKRkgwlL9xNAwxXFg0x_XFw005UWVRIkdgcKWTjpBP2dPwVZ4WWC-9aGVd-Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbcmw";

    fn rsa(kid: &str) -> Value {
        json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": RSA_N, "e": "AQAB"})
    }

    #[test]
    fn unknown_and_unusable_keys_are_skipped_and_the_good_ones_kept() {
        let document = json!({"keys": [
            {"kty": "EC", "crv": "P-521", "alg": "ES512", "kid": "p521", "use": "sig",
             "x": "AHKZLLOsCOzz5cY97ewNUajB957y-C-U88c3v13nmGZx6sYl_oJXu9A5RkTKqjqvjyekWF-7ytDyRXYgCF5cj0Kt",
             "y": "AdymlHvOiLxXkEhayXQnNCvDX4h9htZaCJN34kfmC6pV5OhQHiraVySsUdaQkAgDPrwQrJmbnX9cwlGfP-HqHZR1"},
            {"kty": "EC", "crv": "P-256", "use": "enc", "alg": "ECDH-ES", "kid": "enc",
             "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4", "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"},
            {"kty": "OKP", "crv": "X25519", "kid": "x25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"},
            "garbage",
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            {"kid": "nokty"},
            {"kty": "RSA", "kid": "ops", "key_ops": ["encrypt"], "n": RSA_N, "e": "AQAB"},
            rsa("good"),
        ]});
        let set = KeySet::parse(document.to_string().as_bytes()).unwrap();
        assert_eq!(set.len(), 1, "{set:?}");
        assert!(set.find(Some("good"), Algorithm::RS256).is_some());
        assert!(
            set.find(None, Algorithm::RS256).is_some(),
            "the only usable key"
        );
        assert!(set.find(Some("p521"), Algorithm::ES256).is_none());
        assert!(
            set.find(Some("good"), Algorithm::RS384).is_none(),
            "declared alg"
        );
    }

    #[test]
    fn a_document_without_keys_is_not_a_jwks() {
        assert!(KeySet::parse(b"{}").is_err());
        assert!(KeySet::parse(b"<html>").is_err());
        assert!(KeySet::parse(br#"{"keys": []}"#).unwrap().is_empty());
    }

    #[test]
    fn a_token_without_kid_needs_a_single_candidate() {
        let document = json!({"keys": [rsa("a"), rsa("b")]});
        let set = KeySet::parse(document.to_string().as_bytes()).unwrap();
        assert!(set.find(None, Algorithm::RS256).is_none());
        assert!(set.find(Some("b"), Algorithm::RS256).is_some());
    }

    #[test]
    fn max_age_is_honoured_within_the_floor_and_the_ceiling() {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        assert_eq!(cache_age(None), MIN_CACHE_AGE);
        assert_eq!(cache_age(Some("public, max-age=15")), MIN_CACHE_AGE);
        assert_eq!(
            cache_age(Some("public, max-age=3600, stale-while-revalidate=60")),
            minutes(60)
        );
        assert_eq!(cache_age(Some("Max-Age=\"1200\"")), minutes(20));
        assert_eq!(cache_age(Some("max-age=99999999")), MAX_CACHE_AGE);
        assert_eq!(cache_age(Some("no-cache")), MIN_CACHE_AGE);
        assert_eq!(cache_age(Some("max-age=abc")), MIN_CACHE_AGE);
    }
}
