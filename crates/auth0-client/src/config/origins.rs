//! `allowedOrigins` of a client: the browser origins (`scheme://host[:port]`) besides
//! the original host that may post a login to `/oauth/token` (login CSRF defence).

/// The origin `value` names, serialised as browsers send it in `Origin`
/// (`https://app.example`, `http://127.0.0.1:8080`); `None` when `value` is not exactly
/// an http(s) origin (a path, a query, credentials or another scheme).
pub fn normalize_origin(value: &str) -> Option<String> {
    let url = url::Url::parse(value).ok()?;
    let bare = matches!(url.scheme(), "http" | "https")
        && url.has_host()
        && url.username().is_empty()
        && url.password().is_none()
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none();
    bare.then(|| url.origin().ascii_serialization())
}

/// One line per entry of `origins` (at JSON path `path`) that is not an origin.
pub fn check_allowed_origins(path: &str, origins: &[String], errors: &mut Vec<String>) {
    for (index, origin) in origins.iter().enumerate() {
        if normalize_origin(origin).is_none() {
            errors.push(format!(
                "{path}/allowedOrigins/{index}: {origin:?} is not an origin such as https://app.example.com (scheme, host and optional port only)"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised_as_browsers_send_them() {
        assert_eq!(
            normalize_origin("https://App.Example.com/").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            normalize_origin("http://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(
            normalize_origin("https://app.example.com:443").as_deref(),
            Some("https://app.example.com")
        );
    }

    #[test]
    fn anything_but_a_bare_origin_is_refused() {
        for value in [
            "app.example.com",
            "https://app.example.com/login",
            "https://app.example.com/?x=1",
            "https://user@app.example.com",
            "ftp://app.example.com",
            "null",
            "",
        ] {
            assert_eq!(normalize_origin(value), None, "{value}");
        }
        let mut errors = Vec::new();
        check_allowed_origins(
            "/clients/web",
            &["https://ok.example".into(), "bad".into()],
            &mut errors,
        );
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("/clients/web/allowedOrigins/1:"),
            "{errors:?}"
        );
    }
}
