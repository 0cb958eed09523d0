//! What the access log says about a request's origin (the ECS `host.*` and user-agent
//! fields), its answer's size, and the in-flight requests gauge.
//!
//! Header values are kept as they came (a `HeaderValue` clone shares the request's
//! bytes), so reading them costs no allocation on the hot path.

use axum::body::HttpBody as _;
use axum::extract::{ConnectInfo, Request};
use axum::http::header::{CONTENT_LENGTH, HOST, USER_AGENT};
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use metrics::Gauge;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::LazyLock;

const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// Longest textual IP address (IPv6 with an embedded IPv4 part).
const IP_TEXT: usize = 45;

/// The origin fields of one request.
pub struct Origin {
    user_agent: Option<HeaderValue>,
    host: Option<HeaderValue>,
    forwarded_host: Option<HeaderValue>,
    forwarded_for: Option<HeaderValue>,
    peer: [u8; IP_TEXT],
    peer_len: usize,
}

impl Origin {
    /// Reads the headers (and the peer address, when the server recorded it).
    pub fn of(request: &Request) -> Self {
        let headers = request.headers();
        let mut origin = Self {
            user_agent: headers.get(USER_AGENT).cloned(),
            host: headers.get(HOST).cloned().or_else(|| authority_of(request)),
            forwarded_host: headers.get(X_FORWARDED_HOST).cloned(),
            forwarded_for: headers.get(X_FORWARDED_FOR).cloned(),
            peer: [0; IP_TEXT],
            peer_len: 0,
        };
        if origin.forwarded_for.is_none()
            && let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>()
        {
            let mut buffer = std::io::Cursor::new(&mut origin.peer[..]);
            if write!(buffer, "{}", peer.ip()).is_ok() {
                origin.peer_len = usize::try_from(buffer.position()).unwrap_or(0);
            }
        }
        origin
    }

    /// `http.request.userAgent.original`.
    pub fn user_agent(&self) -> Option<&str> {
        text(self.user_agent.as_ref())
    }

    /// `host.hostname`: the `Host` header without its port.
    pub fn hostname(&self) -> Option<&str> {
        text(self.host.as_ref()).map(without_port)
    }

    /// `host.forwardedHost`: `x-forwarded-host` as sent.
    pub fn forwarded_host(&self) -> Option<&str> {
        text(self.forwarded_host.as_ref())
    }

    /// `host.ip`: the first hop of `x-forwarded-for`, else the connection's peer.
    pub fn ip(&self) -> Option<&str> {
        match text(self.forwarded_for.as_ref()) {
            Some(hops) => Some(hops.split(',').next().unwrap_or_default().trim()),
            None => std::str::from_utf8(&self.peer[..self.peer_len])
                .ok()
                .filter(|ip| !ip.is_empty()),
        }
    }
}

/// HTTP/2 carries the host in the URI, not in a `Host` header.
fn authority_of(request: &Request) -> Option<HeaderValue> {
    let authority = request.uri().authority()?;
    HeaderValue::from_str(authority.as_str()).ok()
}

/// A header value as text, when it is visible ASCII (never a lossy copy).
fn text(value: Option<&HeaderValue>) -> Option<&str> {
    value
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

/// `example.com:8080` -> `example.com`; `[::1]:8080` -> `[::1]`.
fn without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.split(':').next().unwrap_or(host)
}

/// `http.response.body.bytes`: the body's exact size, when known before it is sent.
pub fn body_bytes(response: &Response) -> Option<u64> {
    response.body().size_hint().exact().or_else(|| {
        response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    })
}

/// `http_requests_in_flight`, asked of the registry once.
static IN_FLIGHT: LazyLock<Gauge> = LazyLock::new(|| {
    super::prometheus();
    metrics::gauge!(crate::metrics::IN_FLIGHT)
});

/// One request being served: counted in the in-flight gauge until dropped (also when
/// the client goes away and the request's future is dropped).
pub struct InFlight(());

impl InFlight {
    /// Counts a request in.
    pub fn enter() -> Self {
        IN_FLIGHT.increment(1.0);
        Self(())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn origin(headers: &[(&str, &str)], peer: Option<&str>) -> Origin {
        let mut request = Request::builder().uri("/x");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request.body(axum::body::Body::empty()).unwrap();
        if let Some(peer) = peer {
            let peer: SocketAddr = peer.parse().unwrap();
            request.extensions_mut().insert(ConnectInfo(peer));
        }
        Origin::of(&request)
    }

    #[test]
    fn the_hostname_loses_its_port_and_ipv6_keeps_its_brackets() {
        assert_eq!(
            origin(&[("host", "app.example.com:8443")], None).hostname(),
            Some("app.example.com")
        );
        assert_eq!(
            origin(&[("host", "[::1]:8080")], None).hostname(),
            Some("[::1]")
        );
        assert_eq!(origin(&[], None).hostname(), None);
    }

    #[test]
    fn the_ip_is_the_first_forwarded_hop_else_the_peer() {
        let forwarded = origin(
            &[("x-forwarded-for", " 203.0.113.7 , 10.0.0.1")],
            Some("127.0.0.1:5000"),
        );
        assert_eq!(forwarded.ip(), Some("203.0.113.7"));
        assert_eq!(origin(&[], Some("[::1]:5000")).ip(), Some("::1"));
        assert_eq!(origin(&[], None).ip(), None);
    }

    #[test]
    fn forwarded_host_and_user_agent_are_taken_as_sent() {
        let origin = origin(
            &[
                ("x-forwarded-host", "public.example.com"),
                ("user-agent", "curl/8.5"),
            ],
            None,
        );
        assert_eq!(origin.forwarded_host(), Some("public.example.com"));
        assert_eq!(origin.user_agent(), Some("curl/8.5"));
    }
}
