//! A configured client ("client type"), prepared once at startup for the login flows.

use super::LoginError;
use crate::auth0::jwks::algorithm;
use crate::auth0::{Application, WEBSITE_SCOPE};
use crate::config::file::SameSite;
use crate::config::typed::Client;
use jsonwebtoken::Algorithm;

/// One client's login rules.
#[derive(Debug, Clone)]
pub struct ClientProfile {
    /// The client-type name.
    pub name: String,
    /// The Auth0 application.
    pub app: Application,
    /// True when the session goes in the `sid` cookie (`website` scope).
    pub website: bool,
    /// Allowed id_token signing algorithms.
    pub algorithms: Vec<Algorithm>,
    /// Connections the client may use (any when empty).
    pub supported_connections: Vec<String>,
    /// Connection used when a request names none.
    pub default_connection: Option<String>,
    /// `SameSite` of the `sid` cookie.
    pub same_site: Option<SameSite>,
    /// `/authorize` requires the caller's `state`.
    pub authorize_state_required: bool,
    /// Origins besides the original host allowed to post a login (normalised).
    pub allowed_origins: Vec<String>,
}

impl ClientProfile {
    /// Prepares the typed client `config`.
    pub fn new(config: &Client) -> Self {
        Self {
            name: config.name.clone(),
            app: Application::from_config(config),
            website: config
                .scopes
                .iter()
                .flat_map(|s| s.split_whitespace())
                .any(|s| s == WEBSITE_SCOPE),
            algorithms: config
                .signing_algorithms
                .iter()
                .map(|alg| algorithm(*alg))
                .collect(),
            supported_connections: config.supported_connections.clone(),
            default_connection: config.default_connection.clone(),
            same_site: config.same_site,
            authorize_state_required: config.authorize_state_required,
            allowed_origins: config.allowed_origins.clone(),
        }
    }

    /// The connection to use: the requested one (which must be supported), else the default.
    pub fn resolve_connection(
        &self,
        requested: Option<&str>,
    ) -> Result<Option<String>, LoginError> {
        match requested.filter(|c| !c.is_empty()) {
            Some(connection) => {
                if self.supported_connections.is_empty()
                    || self.supported_connections.iter().any(|c| c == connection)
                {
                    Ok(Some(connection.to_owned()))
                } else {
                    Err(LoginError::UnsupportedConnection {
                        client: self.name.clone(),
                        connection: connection.to_owned(),
                    })
                }
            }
            None => Ok(self.default_connection.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn config(supported: &[&str], default: Option<&str>) -> Client {
        Client::build(
            "web",
            &crate::config::file::ClientConfig {
                auth0_url: "https://tenant.example/".into(),
                client_id: "id".into(),
                client_secret: Secret::new("s"),
                redirect_url: "https://app.example/cb".into(),
                scopes: vec!["website".into(), "offline_access".into()],
                audience: None,
                supported_signing_algs: vec![],
                supported_connections: supported.iter().map(|s| (*s).to_owned()).collect(),
                default_connection: default.map(str::to_owned),
                same_site: None,
                authorize_state_required: false,
                token_endpoint_auth_method: None,
                allowed_origins: vec![],
            },
        )
        .unwrap()
    }

    #[test]
    fn a_requested_connection_must_be_supported_and_the_default_fills_in() {
        let client = ClientProfile::new(&config(&["A", "B"], Some("A")));
        assert_eq!(
            client.resolve_connection(Some("B")).unwrap().as_deref(),
            Some("B")
        );
        assert_eq!(
            client.resolve_connection(None).unwrap().as_deref(),
            Some("A")
        );
        assert!(matches!(
            client.resolve_connection(Some("C")),
            Err(LoginError::UnsupportedConnection { .. })
        ));
        assert!(client.website);
        assert_eq!(client.app.base_url, "https://tenant.example");
        assert_eq!(client.app.scope, "openid offline_access");
    }

    #[test]
    fn any_connection_is_allowed_when_none_are_listed() {
        let client = ClientProfile::new(&config(&[], None));
        assert_eq!(
            client.resolve_connection(Some("X")).unwrap().as_deref(),
            Some("X")
        );
        assert_eq!(client.resolve_connection(None).unwrap(), None);
    }
}
