//! The `config.json` document as written by operators (serde types, unknown keys rejected).
//!
//! These are the raw shapes; cross-field checks live beside them in `config`.

use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The whole `config.json`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigFile {
    /// Client-type name -> client.
    pub clients: BTreeMap<String, ClientConfig>,
    /// Client used when a request has no `client-type` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_client: Option<String>,
    /// Claims whose last path segment is exposed in the user object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_claims_namespaces: Vec<String>,
    /// Credentials and connection rules for the Management API.
    pub management_client: ManagementClientConfig,
    /// The tenant base URL (informational; each client names its own `auth0Url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth0_tenant_url: Option<String>,
}

/// Every id_token signing algorithm the verifier (jsonwebtoken) supports; a client's
/// `supportedSigningAlgs` may list any of them.
pub const SUPPORTED_ALGORITHMS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA", "HS256",
    "HS384", "HS512",
];

/// `SameSite` attribute of the `sid` cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum SameSite {
    /// `SameSite=Lax`
    Lax,
    /// `SameSite=None` (allowed because the cookie is always `Secure`)
    None,
    /// `SameSite=Strict`
    Strict,
}

/// One application ("client type") that logs users in through Auth0.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientConfig {
    /// Tenant base URL, e.g. `https://tenant.eu.auth0.com`.
    pub auth0_url: String,
    /// Auth0 application client id.
    pub client_id: String,
    /// Auth0 application client secret.
    pub client_secret: Secret,
    /// Callback URL registered at Auth0.
    pub redirect_url: String,
    /// Scopes asked of Auth0; `website` is the service's own cookie marker.
    pub scopes: Vec<String>,
    /// API audience asked of Auth0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Allowed id_token signing algorithms (RS256 when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supported_signing_algs: Vec<String>,
    /// Connections this client may log in with (any when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supported_connections: Vec<String>,
    /// Connection used when a request names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_connection: Option<String>,
    /// `SameSite` of the `sid` cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_site: Option<SameSite>,
    /// When true, `/authorize` requires the caller's `state`.
    #[serde(default)]
    pub authorize_state_required: bool,
    /// How the client authenticates to Auth0's token and revoke endpoints
    /// (`client_secret_post` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<ClientAuth>,
    /// Cookie clients: origins besides the original host whose browser pages may post
    /// a login to `/oauth/token` (a cross-site one is refused otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
}

/// Client authentication at Auth0's token endpoint (the application's "Token Endpoint
/// Authentication Method").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form body.
    #[default]
    ClientSecretPost,
    /// `Authorization: Basic` with the form-encoded id and secret.
    ClientSecretBasic,
}

/// A connection of the current managementClient form.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionRef {
    /// Auth0 connection id (`con_...`).
    pub connection_id: String,
}

/// The machine-to-machine application used for the Management API v2.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManagementClientConfig {
    /// Tenant base URL.
    pub auth0_url: String,
    /// M2M client id.
    pub client_id: String,
    /// M2M client secret.
    pub client_secret: Secret,
    /// Current form: default connection name (a key of `supportedConnectionsMap`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_management_connection_name: Option<String>,
    /// Current form: connection name -> id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_connections_map: Option<BTreeMap<String, ConnectionRef>>,
    /// Deprecated form: connection names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_connections: Option<Vec<String>>,
    /// Deprecated form: default connection for `POST /users`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_create_user_connection: Option<String>,
}
