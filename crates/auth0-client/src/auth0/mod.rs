//! Typed clients for Auth0: the Authentication API, the Management API v2, the JWKS.

pub mod authentication;
pub(crate) mod body;
pub(crate) mod jwks;
pub mod management;

use crate::config::file::ClientAuth;
use crate::config::typed::Client;
use crate::secret::Secret;

/// The service's own scope marker: the session goes in a cookie. Never sent to Auth0.
pub const WEBSITE_SCOPE: &str = "website";

/// The HTTP client every Auth0 call goes through (authentication API, JWKS, Management
/// API): 3 s to connect, no redirects followed; each call sets its own timeout.
pub fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(3))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("auth0-client/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client for Auth0: {e}"))
}

/// An Auth0 application as the Authentication API sees it.
#[derive(Debug, Clone)]
pub struct Application {
    /// Tenant base URL without a trailing slash, e.g. `https://tenant.eu.auth0.com`.
    pub base_url: String,
    /// Application client id.
    pub client_id: String,
    /// Application client secret.
    pub client_secret: Secret,
    /// How the client authenticates to `/oauth/token` and `/oauth/revoke`.
    pub client_auth: ClientAuth,
    /// Callback URL registered at Auth0.
    pub redirect_url: String,
    /// API audience, when set.
    pub audience: Option<String>,
    /// Space-separated scope sent to Auth0: `openid` once, never `website`.
    pub scope: String,
}

impl Application {
    /// The application of a configured client.
    pub fn from_config(client: &Client) -> Self {
        Self {
            base_url: client.auth0_url.base().to_owned(),
            client_id: client.client_id.clone(),
            client_secret: client.client_secret.clone(),
            client_auth: client.client_auth,
            redirect_url: client.redirect_url.as_str().to_owned(),
            audience: client.audience.clone(),
            scope: auth0_scope(&client.scopes),
        }
    }

    /// The `iss` of the tenant's tokens: `{auth0Url}/`.
    pub fn issuer(&self) -> String {
        format!("{}/", self.base_url)
    }
}

/// The scope asked of Auth0: `openid` first and once, then the configured scopes in
/// order, without duplicates and without the `website` marker.
pub fn auth0_scope(configured: &[String]) -> String {
    let mut scopes: Vec<&str> = vec!["openid"];
    for scope in configured.iter().flat_map(|s| s.split_whitespace()) {
        if scope != WEBSITE_SCOPE && !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    scopes.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn openid_is_asked_exactly_once_and_website_never() {
        assert_eq!(
            auth0_scope(&scopes(&[
                "website",
                "openid",
                "profile",
                "openid",
                "offline_access"
            ])),
            "openid profile offline_access"
        );
        assert_eq!(auth0_scope(&[]), "openid");
        assert_eq!(
            auth0_scope(&scopes(&["profile email openid"])),
            "openid profile email"
        );
    }
}
