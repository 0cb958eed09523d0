//! How the HTTP server listens and how long it waits for slow clients: `HTTP_ADDRESS`,
//! `HTTP_HEADER_READ_TIMEOUT_SECONDS`, `HTTP_BODY_READ_TIMEOUT_SECONDS`,
//! `HTTP_IDLE_TIMEOUT_SECONDS`, `HTTP_MAX_CONNECTIONS`.

use std::net::IpAddr;
use std::time::Duration;

/// Listening address, timeouts and connection limit of the HTTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// `HTTP_ADDRESS`: the one address to bind; `None` binds every interface, IPv6 and
    /// IPv4 (`[::]` dual-stack, or `0.0.0.0` where IPv6 is unavailable).
    pub address: Option<IpAddr>,
    /// `HTTP_HEADER_READ_TIMEOUT_SECONDS`: a new connection's first request header must be
    /// complete within this time, or the connection is closed.
    pub header_read_timeout: Duration,
    /// `HTTP_BODY_READ_TIMEOUT_SECONDS`: a request body must be read whole within this
    /// time of the first wait for it (`408`).
    pub body_read_timeout: Duration,
    /// `HTTP_IDLE_TIMEOUT_SECONDS`: after a response, the next request's header must be
    /// complete within this time, or the kept-alive connection is closed.
    pub idle_timeout: Duration,
    /// `HTTP_MAX_CONNECTIONS`: connections served at once; further ones wait in the
    /// listen backlog until one closes.
    pub max_connections: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            address: None,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
            max_connections: 1024,
        }
    }
}

/// Longest accepted timeout, in seconds.
const MAX_TIMEOUT_SECONDS: u64 = 3600;
/// Largest accepted `HTTP_MAX_CONNECTIONS`.
const MAX_CONNECTIONS: u64 = 1_000_000;

impl ServerSettings {
    /// Reads the variables through `get` (trimmed, empty as unset); one line per bad
    /// value goes to `errors`, and the default is kept for it.
    pub fn read(get: &dyn Fn(&str) -> Option<String>, errors: &mut Vec<String>) -> Self {
        let defaults = Self::default();
        let address = get("HTTP_ADDRESS").and_then(|raw| match parse_ip(&raw) {
            Some(ip) => Some(ip),
            None => {
                errors.push(format!(
                    "HTTP_ADDRESS: expected one IP address to listen on, such as 10.0.0.5 or ::1 (the port is HTTP_PORT), got {raw:?}"
                ));
                None
            }
        });
        let mut whole = |name: &str, min: u64, max: u64, default: u64| -> u64 {
            match get(name) {
                None => default,
                Some(raw) => match raw.parse::<u64>() {
                    Ok(value) if (min..=max).contains(&value) => value,
                    _ => {
                        errors.push(format!(
                            "{name}: expected a whole number from {min} to {max}, got {raw:?}"
                        ));
                        default
                    }
                },
            }
        };
        let mut seconds = |name: &str, default: Duration| {
            Duration::from_secs(whole(name, 1, MAX_TIMEOUT_SECONDS, default.as_secs()))
        };
        let header_read_timeout = seconds(
            "HTTP_HEADER_READ_TIMEOUT_SECONDS",
            defaults.header_read_timeout,
        );
        let body_read_timeout =
            seconds("HTTP_BODY_READ_TIMEOUT_SECONDS", defaults.body_read_timeout);
        let idle_timeout = seconds("HTTP_IDLE_TIMEOUT_SECONDS", defaults.idle_timeout);
        let max_connections = whole(
            "HTTP_MAX_CONNECTIONS",
            1,
            MAX_CONNECTIONS,
            defaults.max_connections as u64,
        ) as usize;
        Self {
            address,
            header_read_timeout,
            body_read_timeout,
            idle_timeout,
            max_connections,
        }
    }
}

/// An IPv4 or IPv6 address, IPv6 with or without brackets (`::1`, `[::1]`).
pub fn parse_ip(raw: &str) -> Option<IpAddr> {
    let raw = raw.trim();
    let bare = raw
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(raw);
    match bare.parse::<IpAddr>().ok()? {
        IpAddr::V4(_) if bare != raw => None,
        ip => Some(ip),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use std::collections::HashMap;

    fn read(pairs: &[(&str, &str)]) -> (ServerSettings, Vec<String>) {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut errors = Vec::new();
        let settings = ServerSettings::read(&|name| map.get(name).cloned(), &mut errors);
        (settings, errors)
    }

    #[test]
    fn defaults_listen_everywhere_with_bounded_timeouts() {
        let (settings, errors) = read(&[]);
        assert!(errors.is_empty());
        assert_eq!(settings, ServerSettings::default());
        assert_eq!(settings.address, None);
        assert_eq!(settings.header_read_timeout, Duration::from_secs(10));
        assert_eq!(settings.body_read_timeout, Duration::from_secs(30));
        assert_eq!(settings.idle_timeout, Duration::from_secs(75));
        assert_eq!(settings.max_connections, 1024);
    }

    #[test]
    fn http_address_takes_ipv4_and_ipv6_with_or_without_brackets() {
        for (raw, expected) in [
            ("10.0.0.5", "10.0.0.5"),
            ("::1", "::1"),
            ("[::1]", "::1"),
            ("[::]", "::"),
            ("0.0.0.0", "0.0.0.0"),
        ] {
            let (settings, errors) = read(&[("HTTP_ADDRESS", raw)]);
            assert!(errors.is_empty(), "{raw}: {errors:?}");
            assert_eq!(settings.address, Some(expected.parse().unwrap()), "{raw}");
        }
    }

    #[test]
    fn a_bad_http_address_is_refused_naming_the_variable() {
        for raw in ["localhost", "10.0.0.5:8080", "[10.0.0.5]", "::1]", "1.2.3"] {
            let (_, errors) = read(&[("HTTP_ADDRESS", raw)]);
            assert_eq!(errors.len(), 1, "{raw}");
            assert!(errors[0].starts_with("HTTP_ADDRESS: "), "{}", errors[0]);
            assert!(errors[0].contains(raw), "{}", errors[0]);
        }
    }

    #[test]
    fn timeouts_and_the_connection_limit_are_read_and_bounded() {
        let (settings, errors) = read(&[
            ("HTTP_HEADER_READ_TIMEOUT_SECONDS", "5"),
            ("HTTP_BODY_READ_TIMEOUT_SECONDS", "20"),
            ("HTTP_IDLE_TIMEOUT_SECONDS", "120"),
            ("HTTP_MAX_CONNECTIONS", "64"),
        ]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(settings.header_read_timeout, Duration::from_secs(5));
        assert_eq!(settings.body_read_timeout, Duration::from_secs(20));
        assert_eq!(settings.idle_timeout, Duration::from_secs(120));
        assert_eq!(settings.max_connections, 64);
        for name in [
            "HTTP_HEADER_READ_TIMEOUT_SECONDS",
            "HTTP_BODY_READ_TIMEOUT_SECONDS",
            "HTTP_IDLE_TIMEOUT_SECONDS",
            "HTTP_MAX_CONNECTIONS",
        ] {
            for raw in ["0", "-1", "1.5", "9999999999"] {
                let (_, errors) = read(&[(name, raw)]);
                assert_eq!(errors.len(), 1, "{name}={raw}");
                assert!(errors[0].starts_with(&format!("{name}: ")), "{}", errors[0]);
            }
        }
    }
}
