//! The tenant's RS256 signing key, generated at start, and its JWKS.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use rsa::RsaPrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// An RSA key pair, parsed once: tokens are signed with the cached `EncodingKey`.
pub(crate) struct SigningKeys {
    header: Header,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwks: Value,
}

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
        Ok(SigningKeys {
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

    /// The public key, for verifying the tenant's own tokens.
    pub(crate) fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }

    /// The JWKS document.
    pub(crate) fn jwks(&self) -> &Value {
        &self.jwks
    }
}
