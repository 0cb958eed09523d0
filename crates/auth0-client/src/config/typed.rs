//! The typed form of `config.json`, built once by [`super::Config::finish`]: URLs
//! parsed, signing algorithms known, origins normalised, empty strings turned into
//! absent values. Nothing after startup parses configuration again.

use super::file::{
    ClientAuth, ClientConfig, ManagementClientConfig, SUPPORTED_ALGORITHMS, SameSite,
};
use crate::secret::Secret;
use std::collections::BTreeMap;

/// An absolute `http(s)` URL with a host, kept exactly as written (Auth0 compares
/// `redirect_uri` byte for byte) beside its parsed form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    text: String,
    url: url::Url,
}

impl HttpUrl {
    /// Parses `text`; `None` unless it is an absolute http(s) URL with a host.
    pub fn parse(text: &str) -> Option<Self> {
        let url = url::Url::parse(text).ok()?;
        (matches!(url.scheme(), "http" | "https") && url.has_host()).then(|| Self {
            text: text.to_owned(),
            url,
        })
    }

    /// The URL as written in the config file.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The URL as written, without trailing slashes (a tenant's base URL).
    pub fn base(&self) -> &str {
        self.text.trim_end_matches('/')
    }

    /// The parsed URL.
    pub fn url(&self) -> &url::Url {
        &self.url
    }
}

/// An id_token signing algorithm a client may allow (`supportedSigningAlgs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum SigningAlgorithm {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
    HS256,
    HS384,
    HS512,
}

impl SigningAlgorithm {
    /// Every algorithm, in the order of [`SUPPORTED_ALGORITHMS`].
    pub const ALL: [SigningAlgorithm; 12] = [
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::EdDSA,
        Self::HS256,
        Self::HS384,
        Self::HS512,
    ];

    /// The JOSE name (`RS256`, …).
    pub fn name(self) -> &'static str {
        let index = Self::ALL.iter().position(|a| *a == self).unwrap_or(0);
        SUPPORTED_ALGORITHMS.get(index).copied().unwrap_or("RS256")
    }

    /// The algorithm named `name` (case-sensitive, as JOSE names are).
    pub fn from_name(name: &str) -> Option<Self> {
        SUPPORTED_ALGORITHMS
            .iter()
            .position(|known| *known == name)
            .and_then(|index| Self::ALL.get(index).copied())
    }
}

/// One client ("client type"), typed.
#[derive(Debug, Clone)]
pub struct Client {
    /// The client-type name (its key in `/clients`).
    pub name: String,
    /// `auth0Url`: the tenant.
    pub auth0_url: HttpUrl,
    /// `clientId`
    pub client_id: String,
    /// `clientSecret`
    pub client_secret: Secret,
    /// `tokenEndpointAuthMethod` (`client_secret_post` when absent).
    pub client_auth: ClientAuth,
    /// `redirectUrl`: the callback registered at Auth0.
    pub redirect_url: HttpUrl,
    /// `scopes`, as configured (the `website` marker included).
    pub scopes: Vec<String>,
    /// `audience`; `None` when absent or empty.
    pub audience: Option<String>,
    /// `supportedSigningAlgs`; RS256 when none is listed.
    pub signing_algorithms: Vec<SigningAlgorithm>,
    /// `supportedConnections` (any when empty).
    pub supported_connections: Vec<String>,
    /// `defaultConnection`; `None` when absent or empty.
    pub default_connection: Option<String>,
    /// `sameSite` of the `sid` cookie.
    pub same_site: Option<SameSite>,
    /// `authorizeStateRequired`
    pub authorize_state_required: bool,
    /// `allowedOrigins`, normalised to `scheme://host[:port]`.
    pub allowed_origins: Vec<String>,
}

impl Client {
    /// Types the client at `/clients/{name}`; every problem is one line naming its path.
    /// Every field of [`ClientConfig`] is taken apart here, so a field added to the file
    /// format without a typed counterpart does not compile.
    pub fn build(name: &str, config: &ClientConfig) -> Result<Self, Vec<String>> {
        let ClientConfig {
            auth0_url,
            client_id,
            client_secret,
            redirect_url,
            scopes,
            audience,
            supported_signing_algs,
            supported_connections,
            default_connection,
            same_site,
            authorize_state_required,
            token_endpoint_auth_method,
            allowed_origins,
        } = config;
        let path = format!("/clients/{name}");
        let mut errors = Vec::new();
        let auth0_url = url_at(&format!("{path}/auth0Url"), auth0_url, &mut errors);
        let redirect_url = url_at(&format!("{path}/redirectUrl"), redirect_url, &mut errors);
        let mut signing_algorithms = Vec::new();
        for (index, alg) in supported_signing_algs.iter().enumerate() {
            match SigningAlgorithm::from_name(alg) {
                Some(alg) => signing_algorithms.push(alg),
                None => errors.push(format!(
                    "{path}/supportedSigningAlgs/{index}: {alg:?} is not a supported algorithm ({})",
                    SUPPORTED_ALGORITHMS.join(", ")
                )),
            }
        }
        if signing_algorithms.is_empty() {
            signing_algorithms.push(SigningAlgorithm::RS256);
        }
        super::origins::check_allowed_origins(&path, allowed_origins, &mut errors);
        let (Some(auth0_url), Some(redirect_url), true) =
            (auth0_url, redirect_url, errors.is_empty())
        else {
            return Err(errors);
        };
        Ok(Self {
            name: name.to_owned(),
            auth0_url,
            client_id: client_id.clone(),
            client_secret: client_secret.clone(),
            client_auth: token_endpoint_auth_method.unwrap_or_default(),
            redirect_url,
            scopes: scopes.clone(),
            audience: audience.clone().filter(|a| !a.is_empty()),
            signing_algorithms,
            supported_connections: supported_connections.clone(),
            default_connection: default_connection.clone().filter(|c| !c.is_empty()),
            same_site: *same_site,
            authorize_state_required: *authorize_state_required,
            allowed_origins: allowed_origins
                .iter()
                .filter_map(|origin| super::origins::normalize_origin(origin))
                .collect(),
        })
    }
}

/// The managementClient connection rules (either form of `config.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connections {
    /// Current form: name -> Auth0 connection id, and the default name.
    Current {
        /// Connection name -> `con_…` id.
        ids: BTreeMap<String, String>,
        /// `defaultManagementConnectionName`.
        default: Option<String>,
    },
    /// Deprecated form: names only, and the default for `POST /users`.
    Deprecated {
        /// `supportedConnections`.
        names: Vec<String>,
        /// `defaultCreateUserConnection`.
        default: Option<String>,
    },
}

impl Connections {
    /// The rules of a managementClient (the current form when it sets any of its fields).
    pub fn from_config(config: &ManagementClientConfig) -> Self {
        let non_empty = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
        let current = config.supported_connections_map.is_some()
            || config.default_management_connection_name.is_some();
        if current {
            Self::Current {
                ids: config
                    .supported_connections_map
                    .iter()
                    .flatten()
                    .map(|(name, connection)| (name.clone(), connection.connection_id.clone()))
                    .collect(),
                default: non_empty(&config.default_management_connection_name),
            }
        } else {
            Self::Deprecated {
                names: config.supported_connections.clone().unwrap_or_default(),
                default: non_empty(&config.default_create_user_connection),
            }
        }
    }
}

/// The managementClient, typed.
#[derive(Debug, Clone)]
pub struct Management {
    /// `auth0Url`: the tenant whose Management API v2 is called.
    pub auth0_url: HttpUrl,
    /// `clientId` of the machine-to-machine application.
    pub client_id: String,
    /// `clientSecret` of the machine-to-machine application.
    pub client_secret: Secret,
    /// The connection rules.
    pub connections: Connections,
}

impl Management {
    /// Types `/managementClient`; every problem is one line naming its path.
    pub fn build(config: &ManagementClientConfig) -> Result<Self, Vec<String>> {
        let ManagementClientConfig {
            auth0_url,
            client_id,
            client_secret,
            default_management_connection_name: _,
            supported_connections_map: _,
            supported_connections: _,
            default_create_user_connection: _,
        } = config;
        let mut errors = Vec::new();
        let Some(auth0_url) = url_at("/managementClient/auth0Url", auth0_url, &mut errors) else {
            return Err(errors);
        };
        Ok(Self {
            auth0_url,
            client_id: client_id.clone(),
            client_secret: client_secret.clone(),
            connections: Connections::from_config(config),
        })
    }
}

/// The URL at `path`, or one line saying it is not an absolute http(s) URL.
pub fn url_at(path: &str, value: &str, errors: &mut Vec<String>) -> Option<HttpUrl> {
    let url = HttpUrl::parse(value);
    if url.is_none() {
        errors.push(format!("{path}: {value:?} is not an absolute http(s) URL"));
    }
    url
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn every_supported_algorithm_name_is_one_variant_and_back() {
        assert_eq!(SUPPORTED_ALGORITHMS.len(), SigningAlgorithm::ALL.len());
        for alg in SigningAlgorithm::ALL {
            assert_eq!(SigningAlgorithm::from_name(alg.name()), Some(alg));
            assert_eq!(alg.name(), format!("{alg:?}"));
        }
        assert_eq!(SigningAlgorithm::from_name("none"), None);
        assert_eq!(SigningAlgorithm::from_name("rs256"), None);
    }

    #[test]
    fn a_url_is_kept_as_written_and_its_base_has_no_trailing_slash() {
        let url = HttpUrl::parse("https://tenant.example/").unwrap();
        assert_eq!(url.as_str(), "https://tenant.example/");
        assert_eq!(url.base(), "https://tenant.example");
        assert!(HttpUrl::parse("ftp://tenant.example").is_none());
        assert!(HttpUrl::parse("/callback").is_none());
    }
}
