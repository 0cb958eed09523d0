//! Small helpers: locks, random ids, time.

use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use time::OffsetDateTime;
use time::macros::format_description;

/// Locks a mutex; a poisoned lock is still usable (every critical section leaves it consistent).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `bytes` random bytes, base64url without padding.
pub(crate) fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// `len` random lowercase hex characters.
pub(crate) fn random_hex(len: usize) -> String {
    let mut buf = vec![0u8; len.div_ceil(2)];
    rand::thread_rng().fill_bytes(&mut buf);
    let mut out: String = buf.iter().map(|b| format!("{b:02x}")).collect();
    out.truncate(len);
    out
}

/// Seconds since the epoch.
pub(crate) fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Now as Auth0 writes dates: `2021-07-16T08:28:24.568Z`.
pub(crate) fn now_iso() -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

/// Whether `url` is allowed by `pattern`: exact, or `*` matching any run of characters
/// (a devtenant extension so any local port and path can be allowed).
pub(crate) fn url_allowed(pattern: &str, url: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == url;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    if !url.starts_with(first) || url.len() < first.len() + last.len() || !url.ends_with(last) {
        return false;
    }
    let mut rest = &url[first.len()..url.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::url_allowed;

    #[test]
    fn star_matches_any_port_and_path_but_not_another_host() {
        assert!(url_allowed(
            "http://127.0.0.1:*",
            "http://127.0.0.1:8080/cb?x=1"
        ));
        assert!(url_allowed("http://localhost:*", "http://localhost:3000"));
        assert!(!url_allowed(
            "http://localhost:*",
            "http://evil.com/?http://localhost:1"
        ));
        assert!(url_allowed("https://a.com/cb", "https://a.com/cb"));
        assert!(!url_allowed("https://a.com/cb", "https://a.com/cb2"));
        assert!(url_allowed("https://*.a.com/*/cb", "https://x.a.com/p/cb"));
    }
}
