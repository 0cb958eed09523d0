//! Sealing at rest: records encrypted with AES-256-GCM under `SESSION_ENCRYPTION_KEY`.
//!
//! Layout of a sealed record: `[version 0x01][key id][96-bit nonce][ciphertext + tag]`.
//! The key id is the first byte of the key's SHA-256, so opening tries only the keys
//! that can match. The record's store key is bound as associated data, so a record
//! copied under another key does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::env::EncryptionKey;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const HEADER_LEN: usize = 2 + NONCE_LEN;

/// One AES-256-GCM key and its id byte.
struct SealKey {
    id: u8,
    cipher: Aes256Gcm,
}

/// Seals with the first key, opens with any key of the list (rotation).
pub struct Sealer {
    keys: Vec<SealKey>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer({} keys)", self.keys.len())
    }
}

/// Why a record did not open.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// No key was given.
    #[error("SESSION_ENCRYPTION_KEY holds no key")]
    NoKey,
    /// The record is not a sealed record.
    #[error("record is not sealed")]
    NotSealed,
    /// No key of the list opens the record (wrong key, or tampered).
    #[error("no configured key opens the record")]
    NoMatchingKey,
    /// Encryption failed.
    #[error("sealing failed")]
    Seal,
}

impl Sealer {
    /// Keys from `SESSION_ENCRYPTION_KEY`, decoded at startup; the first seals.
    pub fn new(keys: &[EncryptionKey]) -> Result<Self, SealError> {
        let keys = keys
            .iter()
            .filter_map(|key| Self::key(key.bytes()))
            .collect::<Vec<_>>();
        if keys.is_empty() {
            return Err(SealError::NoKey);
        }
        Ok(Self { keys })
    }

    fn key(bytes: &[u8]) -> Option<SealKey> {
        if bytes.len() != 32 {
            return None;
        }
        let cipher = Aes256Gcm::new_from_slice(bytes).ok()?;
        let id = Sha256::digest(bytes)[0];
        Some(SealKey { id, cipher })
    }

    /// Encrypts `plain` under the first key with a fresh random nonce, bound to `aad`.
    pub fn seal(&self, plain: &[u8], aad: &[u8]) -> Result<Vec<u8>, SealError> {
        let key = self.keys.first().ok_or(SealError::NoKey)?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = key
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
            .map_err(|_| SealError::Seal)?;
        let mut record = Vec::with_capacity(HEADER_LEN + sealed.len());
        record.push(VERSION);
        record.push(key.id);
        record.extend_from_slice(&nonce);
        record.extend_from_slice(&sealed);
        Ok(record)
    }

    /// Decrypts a record sealed by [`Sealer::seal`] with any key of the list.
    pub fn open(&self, record: &[u8], aad: &[u8]) -> Result<Vec<u8>, SealError> {
        if record.len() < HEADER_LEN || record[0] != VERSION {
            return Err(SealError::NotSealed);
        }
        let (id, nonce, sealed) = (record[1], &record[2..HEADER_LEN], &record[HEADER_LEN..]);
        self.keys
            .iter()
            .filter(|key| key.id == id)
            .find_map(|key| {
                key.cipher
                    .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad })
                    .ok()
            })
            .ok_or(SealError::NoMatchingKey)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn key(byte: u8) -> EncryptionKey {
        EncryptionKey::from_bytes([byte; 32])
    }

    #[test]
    fn a_sealed_record_opens_with_the_same_key_and_hides_the_plaintext() {
        let sealer = Sealer::new(&[key(1)]).unwrap();
        let record = sealer.seal(b"refresh-token-value", b"k").unwrap();
        assert!(!record.windows(7).any(|w| w == b"refresh"));
        assert_eq!(sealer.open(&record, b"k").unwrap(), b"refresh-token-value");
    }

    #[test]
    fn two_seals_of_the_same_value_differ() {
        let sealer = Sealer::new(&[key(1)]).unwrap();
        assert_ne!(
            sealer.seal(b"x", b"k").unwrap(),
            sealer.seal(b"x", b"k").unwrap()
        );
    }

    #[test]
    fn rotation_opens_records_of_an_older_key_and_seals_with_the_first() {
        let old = Sealer::new(&[key(1)]).unwrap();
        let rotated = Sealer::new(&[key(2), key(1)]).unwrap();
        let record = old.seal(b"value", b"k").unwrap();
        assert_eq!(rotated.open(&record, b"k").unwrap(), b"value");
        let fresh = rotated.seal(b"value", b"k").unwrap();
        assert!(matches!(
            old.open(&fresh, b"k"),
            Err(SealError::NoMatchingKey)
        ));
    }

    #[test]
    fn a_record_moved_under_another_key_or_tampered_does_not_open() {
        let sealer = Sealer::new(&[key(1)]).unwrap();
        let mut record = sealer.seal(b"value", b"k").unwrap();
        assert!(sealer.open(&record, b"other").is_err());
        let last = record.len() - 1;
        record[last] ^= 1;
        assert!(sealer.open(&record, b"k").is_err());
        assert!(matches!(
            sealer.open(b"{}", b"k"),
            Err(SealError::NotSealed)
        ));
    }

    #[test]
    fn a_sealer_needs_a_key() {
        assert!(matches!(Sealer::new(&[]), Err(SealError::NoKey)));
    }
}
