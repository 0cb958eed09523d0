//! Salted SHA-256 password hashes: fast on purpose (a dev tenant, not a credential store).

use rand::RngCore;
use sha2::{Digest, Sha256};

/// A salted password digest.
#[derive(Clone)]
pub(crate) struct PasswordHash {
    salt: [u8; 16],
    digest: [u8; 32],
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

impl PasswordHash {
    /// Hashes a password with a fresh random salt.
    pub(crate) fn new(password: &str) -> Self {
        let mut salt = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut salt);
        PasswordHash {
            salt,
            digest: digest(&salt, password),
        }
    }

    /// Whether `password` matches, compared in constant time.
    pub(crate) fn verify(&self, password: &str) -> bool {
        let candidate = digest(&self.salt, password);
        candidate
            .iter()
            .zip(self.digest.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

fn digest(salt: &[u8; 16], password: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(password.as_bytes());
    hasher.finalize().into()
}
