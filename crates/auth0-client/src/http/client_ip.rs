//! The end user's IP behind trusted proxies: the `X-Forwarded-For` entry appended by the
//! nearest trusted proxy (`TRUSTED_PROXY_HOPS`), never one the client could write itself.
//!
//! The chain is the `X-Forwarded-For` entries, oldest first, followed by the peer
//! address. With `hops` trusted proxies in front of the service, the end user is the
//! entry `hops` places from the right of that chain: 0 is the peer itself, 1 the
//! right-most `X-Forwarded-For` entry (what the gateway appended), and so on. A chain
//! shorter than that yields its left-most entry; no `X-Forwarded-For` at all means the
//! caller connected directly and is the peer.

use axum::http::HeaderMap;
use std::net::{IpAddr, Ipv6Addr};

/// The header proxies append the address they received the request from to.
const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The entry that names the end user is not an IP address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the X-Forwarded-For entry appended by the nearest trusted proxy is not an IP address")]
pub struct Unparsable;

/// The end user's IP for a request from `peer` carrying `headers`, with `hops` trusted
/// proxies in front of the service.
pub fn end_user_ip(
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    hops: usize,
) -> Result<Option<IpAddr>, Unparsable> {
    if hops == 0 {
        return Ok(peer);
    }
    let mut entries = Vec::new();
    for value in headers.get_all(X_FORWARDED_FOR) {
        let value = value.to_str().map_err(|_| Unparsable)?;
        entries.extend(value.split(',').map(str::trim));
    }
    if entries.iter().all(|entry| entry.is_empty()) {
        return Ok(peer);
    }
    let index = entries.len().saturating_sub(hops);
    entries
        .get(index)
        .and_then(|entry| parse_entry(entry))
        .map(Some)
        .ok_or(Unparsable)
}

/// One `X-Forwarded-For` entry: `1.2.3.4`, `1.2.3.4:5`, `2001:db8::1`, `[2001:db8::1]`
/// or `[2001:db8::1]:80`. IPv4-mapped IPv6 addresses are read as IPv4.
pub fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let ip = if let Some(rest) = entry.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        IpAddr::V6(inside.parse::<Ipv6Addr>().ok()?)
    } else if let Ok(ip) = entry.parse::<IpAddr>() {
        ip
    } else {
        let (host, port) = entry.split_once(':')?;
        if !is_port(port) {
            return None;
        }
        IpAddr::V4(host.parse().ok()?)
    };
    Some(ip.to_canonical())
}

fn is_port(port: &str) -> bool {
    !port.is_empty() && port.len() <= 5 && port.parse::<u16>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn forwarded(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(X_FORWARDED_FOR, HeaderValue::from_static(value));
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    const PEER: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 9)));

    #[test]
    fn one_trusted_hop_takes_the_right_most_entry() {
        let headers = forwarded(&["203.0.113.66, 198.51.100.7"]);
        assert_eq!(end_user_ip(&headers, PEER, 1), Ok(Some(ip("198.51.100.7"))));
    }

    #[test]
    fn entries_of_several_header_lines_form_one_chain() {
        let headers = forwarded(&["203.0.113.66", "198.51.100.7, 192.0.2.1"]);
        assert_eq!(end_user_ip(&headers, PEER, 2), Ok(Some(ip("198.51.100.7"))));
        assert_eq!(end_user_ip(&headers, PEER, 3), Ok(Some(ip("203.0.113.66"))));
        assert_eq!(
            end_user_ip(&headers, PEER, 9),
            Ok(Some(ip("203.0.113.66"))),
            "a short chain yields its left-most entry"
        );
    }

    #[test]
    fn zero_hops_or_no_header_is_the_peer() {
        assert_eq!(
            end_user_ip(&forwarded(&["198.51.100.7"]), PEER, 0),
            Ok(PEER)
        );
        assert_eq!(end_user_ip(&HeaderMap::new(), PEER, 1), Ok(PEER));
        assert_eq!(end_user_ip(&forwarded(&[" "]), PEER, 1), Ok(PEER));
    }

    #[test]
    fn an_unparsable_entry_is_refused_not_replaced_by_the_peer() {
        for value in [
            "unknown",
            "198.51.100.7, _hidden",
            "1.2.3.4:port",
            "[::1",
            "::1]:80",
        ] {
            let headers = forwarded(&[value]);
            assert_eq!(end_user_ip(&headers, PEER, 1), Err(Unparsable), "{value}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(X_FORWARDED_FOR, HeaderValue::from_bytes(b"\xff").unwrap());
        assert_eq!(end_user_ip(&headers, PEER, 1), Err(Unparsable));
    }

    #[test]
    fn entries_with_ports_and_brackets_are_parsed() {
        for (entry, expected) in [
            ("1.2.3.4", "1.2.3.4"),
            ("1.2.3.4:5", "1.2.3.4"),
            ("[::1]:80", "::1"),
            ("[::1]", "::1"),
            ("2001:db8::1", "2001:db8::1"),
            ("[2001:db8::1]:65535", "2001:db8::1"),
            ("::ffff:192.0.2.5", "192.0.2.5"),
        ] {
            assert_eq!(parse_entry(entry), Some(ip(expected)), "{entry}");
        }
        for entry in [
            "",
            "1.2.3.4:",
            "1.2.3.4:99999",
            "[::1]80",
            "host:80",
            "[1.2.3.4]",
        ] {
            assert_eq!(parse_entry(entry), None, "{entry}");
        }
    }
}
