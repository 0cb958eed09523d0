//! Login CSRF defence for cookie clients: a browser page of another site must not be able
//! to post a login to `/oauth/token` and plant its session cookie in the victim's browser.
//!
//! Only what browsers say is used: `Sec-Fetch-Site: cross-site`, or an `Origin` that is
//! neither the original host nor one of the client's `allowedOrigins`. A request with
//! neither header (a login site calling server to server) is let through.

use super::context::OriginalUrl;
use super::error::ApiError;
use crate::config::origins::normalize_origin;
use axum::http::HeaderMap;
use axum::http::header::ORIGIN;

/// The Fetch Metadata request header naming the initiator's relation to the target.
const SEC_FETCH_SITE: &str = "sec-fetch-site";

/// `Ok` unless the browser says this login comes from another site that `allowed`
/// (normalised origins) does not list; then a `403`.
pub fn check_same_site(
    headers: &HeaderMap,
    original: &OriginalUrl,
    allowed: &[String],
) -> Result<(), ApiError> {
    let origin = headers.get(ORIGIN).map(|v| v.to_str().unwrap_or("null"));
    if origin
        .and_then(normalize_origin)
        .is_some_and(|origin| allowed.contains(&origin))
    {
        return Ok(());
    }
    let cross_site = headers
        .get(SEC_FETCH_SITE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    let foreign_origin = origin.is_some_and(|origin| {
        normalize_origin(origin).is_none_or(|origin| original.return_to(&origin).is_err())
    });
    if cross_site || foreign_origin {
        tracing::info!(cross_site, foreign_origin, "cross-site login refused");
        return Err(ApiError::forbidden(
            "Cross-site login refused: this client accepts logins only from pages of its own site or of its allowedOrigins.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn original() -> OriginalUrl {
        OriginalUrl {
            scheme: "https".into(),
            host: Some("auth.example.com".into()),
        }
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn allowed() -> Vec<String> {
        vec!["https://login.example.net".to_owned()]
    }

    #[test]
    fn same_site_allowed_and_headerless_logins_pass() {
        for pairs in [
            &[][..],
            &[("origin", "https://auth.example.com")][..],
            &[
                ("origin", "https://auth.example.com"),
                ("sec-fetch-site", "same-origin"),
            ][..],
            &[("sec-fetch-site", "same-site")][..],
            &[("sec-fetch-site", "none")][..],
            &[
                ("origin", "https://login.example.net"),
                ("sec-fetch-site", "cross-site"),
            ][..],
        ] {
            assert_eq!(
                check_same_site(&headers(pairs), &original(), &allowed()),
                Ok(()),
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn cross_site_and_foreign_origins_are_403() {
        for pairs in [
            &[("sec-fetch-site", "cross-site")][..],
            &[("sec-fetch-site", "Cross-Site")][..],
            &[("origin", "https://evil.example")][..],
            &[("origin", "null")][..],
            &[("origin", "https://auth.example.com.evil.example")][..],
            &[("origin", "https://auth.example.com:8443")][..],
            &[
                ("origin", "https://auth.example.com"),
                ("sec-fetch-site", "cross-site"),
            ][..],
        ] {
            let error = check_same_site(&headers(pairs), &original(), &allowed()).unwrap_err();
            assert_eq!(error.status().as_u16(), 403, "{pairs:?}");
        }
    }
}
