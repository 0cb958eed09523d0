//! Request context (SPEC §2): the selected client, the original host and scheme, the
//! session handle, the end user's IP. Extractors never put a token in a span.

use super::error::ApiError;
use super::state::AppState;
use crate::login::client::ClientProfile;
use crate::session::SessionHandle;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::{AUTHORIZATION, COOKIE, HOST};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Header naming the client type.
pub const CLIENT_TYPE_HEADER: &str = "client-type";
/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "sid";

/// The client of this request: `client-type`, else `defaultClient`; `401` otherwise.
#[derive(Debug, Clone)]
pub struct SelectedClient(pub Arc<ClientProfile>);

/// Like [`SelectedClient`] but `None` when no client is named and there is no default
/// (an unknown client is still `401`).
#[derive(Debug, Clone)]
pub struct OptionalClient(pub Option<Arc<ClientProfile>>);

impl FromRequestParts<AppState> for OptionalClient {
    type Rejection = ApiError;

    #[tracing::instrument(name = "extract.client", level = "debug", skip_all)]
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let requested = match parts.headers.get(CLIENT_TYPE_HEADER) {
            Some(value) => Some(value.to_str().map_err(|_| unknown_client())?.trim()),
            None => None,
        };
        match (state.login.client(requested), requested) {
            (Some(client), _) => Ok(Self(Some(client))),
            (None, Some(_)) => Err(unknown_client()),
            (None, None) => Ok(Self(None)),
        }
    }
}

impl FromRequestParts<AppState> for SelectedClient {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let OptionalClient(client) = OptionalClient::from_request_parts(parts, state).await?;
        client.map(Self).ok_or_else(|| {
            ApiError::unauthorized(format!(
                "No client selected: send the {CLIENT_TYPE_HEADER} header (no defaultClient is configured)."
            ))
        })
    }
}

fn unknown_client() -> ApiError {
    ApiError::unauthorized(format!(
        "The {CLIENT_TYPE_HEADER} header names no configured client."
    ))
}

/// Where the end user's browser thinks it is: scheme and host, for absolute URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalUrl {
    /// `https` or `http` (from the header named by `ORIGINAL_PROTOCOL_HEADER`, else `http`).
    pub scheme: String,
    /// `x-forwarded-host`, else `Host`; `None` when neither is sent.
    pub host: Option<String>,
}

impl FromRequestParts<AppState> for OriginalUrl {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self::from_headers(
            &parts.headers,
            Some(&state.config.settings.original_protocol_header),
            parts.uri.authority().map(|a| a.as_str()),
        ))
    }
}

impl OriginalUrl {
    /// Reads the original scheme and host from `headers`.
    pub fn from_headers(
        headers: &HeaderMap,
        protocol_header: Option<&HeaderName>,
        authority: Option<&str>,
    ) -> Self {
        let scheme = protocol_header
            .and_then(|name| first_value(headers, name.as_str()))
            .map(|s| s.to_ascii_lowercase())
            .filter(|s| s == "https")
            .unwrap_or_else(|| "http".to_owned());
        let host = first_value(headers, "x-forwarded-host")
            .or_else(|| first_value(headers, HOST.as_str()))
            .or_else(|| authority.map(str::to_owned))
            .filter(|h| !h.is_empty());
        Self { scheme, host }
    }

    /// The absolute URL to send the browser back to after logout: `redirect` must be a
    /// path (`/…`, not `//…`) or an absolute http(s) URL on the original host.
    pub fn return_to(&self, redirect: &str) -> Result<String, ApiError> {
        let host = self.host.as_deref().ok_or_else(|| {
            ApiError::bad_request(
                "redirect needs the original host (x-forwarded-host or Host header).",
            )
        })?;
        let refused = || {
            ApiError::bad_request(format!(
                "redirect must be a path starting with / or an absolute http(s) URL on {host}."
            ))
        };
        if redirect
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        {
            return Err(refused());
        }
        let origin =
            url::Url::parse(&format!("{}://{host}/", self.scheme)).map_err(|_| refused())?;
        if redirect.starts_with('/') {
            if redirect.starts_with("//") {
                return Err(refused());
            }
            let joined = origin.join(redirect).map_err(|_| refused())?;
            return if same_origin_host(&joined, &origin) {
                Ok(joined.into())
            } else {
                Err(refused())
            };
        }
        let target = url::Url::parse(redirect).map_err(|_| refused())?;
        let plain = matches!(target.scheme(), "http" | "https")
            && target.username().is_empty()
            && target.password().is_none();
        if plain && same_origin_host(&target, &origin) {
            Ok(target.into())
        } else {
            Err(refused())
        }
    }
}

/// Same host and same explicit port (the original host names a port only when it is not
/// its scheme's default; the original scheme header may be absent, so schemes are not compared).
fn same_origin_host(target: &url::Url, origin: &url::Url) -> bool {
    target.host_str().map(str::to_ascii_lowercase) == origin.host_str().map(str::to_ascii_lowercase)
        && target.port() == origin.port()
}

/// First comma-separated value of header `name`, trimmed.
fn first_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?;
    value
        .split(',')
        .next()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The session handle, when the request carries one (`Authorization: Bearer`, else cookie `sid`).
#[derive(Debug, Clone)]
pub struct MaybeHandle(pub Option<SessionHandle>);

/// The session handle; `401` when the request carries none.
#[derive(Debug, Clone)]
pub struct Handle(pub SessionHandle);

impl<S: Send + Sync> FromRequestParts<S> for MaybeHandle {
    type Rejection = ApiError;

    #[tracing::instrument(name = "extract.session_handle", level = "debug", skip_all)]
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            bearer(&parts.headers)
                .or_else(|| session_cookie(&parts.headers))
                .map(SessionHandle::new),
        ))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Handle {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let MaybeHandle(handle) = MaybeHandle::from_request_parts(parts, state).await?;
        handle.map(Self).ok_or_else(|| {
            ApiError::unauthorized(format!(
                "No session: send Authorization: Bearer <access token> or the {SESSION_COOKIE} cookie."
            ))
        })
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers.get_all(AUTHORIZATION).iter().find_map(|value| {
        let value = value.to_str().ok()?.trim();
        let (scheme, token) = value.split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
    })
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            let value = value.trim().trim_matches('"');
            (name.trim() == SESSION_COOKIE && !value.is_empty()).then(|| value.to_owned())
        })
}

/// The end user's IP: the `x-forwarded-for` entry appended by the nearest trusted proxy
/// (`TRUSTED_PROXY_HOPS`), else the peer address (see [`super::client_ip`]). An entry
/// there that is not an IP is a `400`, never replaced by the peer address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndUserIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for EndUserIp {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let hops = state.config.settings.trusted_proxy_hops;
        super::client_ip::end_user_ip(&parts.headers, peer, hops)
            .map(Self)
            .map_err(|error| {
                tracing::debug!(%error, hops, "end user IP refused");
                ApiError::bad_request(format!(
                    "X-Forwarded-For: the entry appended by the nearest trusted proxy (TRUSTED_PROXY_HOPS={hops}) is not an IP address."
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn original(host: &str, scheme: &str) -> OriginalUrl {
        OriginalUrl {
            scheme: scheme.into(),
            host: Some(host.into()),
        }
    }

    #[test]
    fn the_forwarded_host_and_protocol_win_over_host() {
        let proto = HeaderName::from_static("x-forwarded-proto");
        let map = headers(&[
            ("host", "internal:8080"),
            ("x-forwarded-host", "app.example"),
            ("x-forwarded-proto", "https"),
        ]);
        assert_eq!(
            OriginalUrl::from_headers(&map, Some(&proto), None),
            original("app.example", "https")
        );
        let map = headers(&[("host", "internal:8080")]);
        assert_eq!(
            OriginalUrl::from_headers(&map, Some(&proto), None),
            original("internal:8080", "http")
        );
    }

    #[test]
    fn relative_paths_and_same_host_urls_are_allowed_as_logout_redirects() {
        let url = original("app.example", "https");
        assert_eq!(
            url.return_to("/home?x=1").unwrap(),
            "https://app.example/home?x=1"
        );
        assert_eq!(
            url.return_to("https://app.example/bye").unwrap(),
            "https://app.example/bye"
        );
        assert_eq!(
            url.return_to("https://APP.example/").unwrap(),
            "https://app.example/"
        );
    }

    #[test]
    fn open_redirect_attempts_are_refused() {
        let url = original("app.example", "https");
        for attempt in [
            "//evil.example/x",
            "/\\evil.example",
            "https://evil.example/",
            "https://app.example.evil.example/",
            "https://app.example@evil.example/",
            "https://user@app.example/",
            "javascript:alert(1)",
            "http:evil.example",
            "evil.example/x",
            "/\tevil",
            "https://app.example:8443/",
        ] {
            assert!(url.return_to(attempt).is_err(), "{attempt} was allowed");
        }
    }

    #[test]
    fn the_bearer_token_wins_over_the_sid_cookie() {
        let map = headers(&[
            ("authorization", "Bearer tok1"),
            ("cookie", "a=b; sid=tok2"),
        ]);
        assert_eq!(bearer(&map).as_deref(), Some("tok1"));
        assert_eq!(session_cookie(&map).as_deref(), Some("tok2"));
        let map = headers(&[("authorization", "Basic abc"), ("cookie", "sidx=1; sid=")]);
        assert_eq!(bearer(&map), None);
        assert_eq!(session_cookie(&map), None);
    }
}
