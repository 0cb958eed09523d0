//! The no-I/O floor's sessions: SHA-256 digests of the live handles, in memory.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::body::Bytes;
use axum::http::StatusCode;

/// Why `PUT /-/sessions` was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum SeedError {
    /// The map was filled before (it is filled once, so that reads take no lock).
    AlreadyFilled,
    /// A line is not 64 hex digits; the line number (from 1).
    BadDigest(usize),
}

impl SeedError {
    /// The HTTP status of the refusal.
    pub fn status(&self) -> StatusCode {
        match self {
            SeedError::AlreadyFilled => StatusCode::CONFLICT,
            SeedError::BadDigest(_) => StatusCode::BAD_REQUEST,
        }
    }
}

impl std::fmt::Display for SeedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SeedError::AlreadyFilled => write!(f, "the sessions were given already"),
            SeedError::BadDigest(line) => write!(f, "line {line} is not a hex SHA-256 digest"),
        }
    }
}

/// Token digest -> the JSON answer of its session; filled once, then read without locks.
pub struct Sessions {
    answer: Bytes,
    map: OnceLock<HashMap<[u8; 32], Bytes>>,
}

impl Sessions {
    /// An empty map whose sessions will all answer `answer`.
    pub fn new(answer: &'static str) -> Self {
        Sessions {
            answer: Bytes::from_static(answer.as_bytes()),
            map: OnceLock::new(),
        }
    }

    /// Fills the map from hex digests, one per line (blank lines skipped); returns how many.
    pub fn fill(&self, lines: &str) -> Result<usize, SeedError> {
        if self.map.get().is_some() {
            return Err(SeedError::AlreadyFilled);
        }
        let mut map = HashMap::new();
        for (i, line) in lines.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let digest = decode_hex(line).ok_or(SeedError::BadDigest(i + 1))?;
            map.insert(digest, self.answer.clone());
        }
        let count = map.len();
        self.map.set(map).map_err(|_| SeedError::AlreadyFilled)?;
        Ok(count)
    }

    /// The answer of the session whose handle hashes to `digest`.
    pub fn get(&self, digest: &[u8; 32]) -> Option<&Bytes> {
        self.map.get()?.get(digest)
    }
}

/// 64 hex digits -> 32 bytes.
fn decode_hex(text: &str) -> Option<[u8; 32]> {
    let bytes = text.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let high = (pair[0] as char).to_digit(16)?;
        let low = (pair[1] as char).to_digit(16)?;
        out[i] = u8::try_from(high * 16 + low).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

    #[test]
    fn a_filled_digest_answers_and_others_do_not() {
        let sessions = Sessions::new("{}");
        assert_eq!(sessions.fill(&format!("{DIGEST}\n\n")), Ok(1));
        let digest = decode_hex(DIGEST).unwrap_or_default();
        assert_eq!(digest[0], 0x2c);
        assert_eq!(sessions.get(&digest).map(|b| b.as_ref()), Some(&b"{}"[..]));
        assert_eq!(sessions.get(&[0u8; 32]), None);
    }

    #[test]
    fn the_map_is_filled_once_and_bad_lines_are_refused() {
        let sessions = Sessions::new("{}");
        assert_eq!(sessions.fill("zz\n"), Err(SeedError::BadDigest(1)));
        assert_eq!(sessions.fill(DIGEST), Ok(1));
        assert_eq!(sessions.fill(DIGEST), Err(SeedError::AlreadyFilled));
    }
}
