//! The tenant description: clients, connections, users and token settings.

use std::path::Path;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Tenant description (JSON file with camelCase keys; `Default` = the built-in tenant).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct TenantConfig {
    /// Namespace of the custom claims carrying `app_metadata` and `user_metadata`
    /// (like the login Action of an Auth0 setup). Empty: no custom claims.
    pub custom_claims_namespace: String,
    /// Lifetime of access tokens, in seconds.
    pub access_token_lifetime_seconds: u64,
    /// Lifetime of id_tokens, in seconds.
    pub id_token_lifetime_seconds: u64,
    /// Seconds during which a rotated refresh token may still be used (Auth0's reuse interval).
    pub refresh_token_reuse_interval_seconds: u64,
    /// Connection used by the plain `password` grant (Auth0's "default directory").
    /// Absent from a file: `Username-Password-Authentication` when that connection exists.
    #[serde(default)]
    pub default_directory: Option<String>,
    /// Identifiers of custom APIs that may be requested as `audience`
    /// (the Management API `<issuer>api/v2/` always exists).
    pub api_audiences: Vec<String>,
    /// Tenant-level allowed logout URLs (used by `/v2/logout` without `client_id`).
    pub allowed_logout_urls: Vec<String>,
    /// Connections (database connections with ids `con_…`).
    pub connections: Vec<ConnectionConfig>,
    /// Applications.
    pub clients: Vec<ClientConfig>,
    /// Users, seeded at start.
    pub users: Vec<UserConfig>,
    /// Extra entries published in the JWKS beside the signing key (e.g. keys of other
    /// types or uses, to test how a relying party reads a mixed set). Never used to sign.
    pub extra_jwks: Vec<Value>,
    /// Consecutive wrong passwords after which a user's logins answer
    /// `too_many_attempts` (Auth0's brute-force protection); 0 turns it off.
    pub brute_force_threshold: u32,
}

/// A database connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionConfig {
    /// Connection id, `con_…`.
    pub id: String,
    /// Connection name (the `realm` of the password-realm grant).
    pub name: String,
}

/// An application.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientConfig {
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`.
    pub client_secret: String,
    /// Allowed grant types (empty: all).
    #[serde(default)]
    pub grant_types: Vec<String>,
    /// Allowed callback URLs (`*` matches any run of characters).
    #[serde(default)]
    pub callbacks: Vec<String>,
    /// Allowed logout URLs (`*` matches any run of characters).
    #[serde(default)]
    pub allowed_logout_urls: Vec<String>,
    /// Names of the connections enabled for this client (empty: all).
    #[serde(default)]
    pub connections: Vec<String>,
    /// `client_secret_post` (the secret in the body or in HTTP Basic), `client_secret_basic`
    /// (HTTP Basic only: a secret in the body is refused) or `none` (public client).
    #[serde(default = "default_auth_method")]
    pub token_endpoint_auth_method: String,
    /// OpenID Connect Back-Channel Logout URLs: each gets a logout token when an Auth0
    /// session this client logged in through ends.
    #[serde(default)]
    pub backchannel_logout_urls: Vec<String>,
}

fn default_auth_method() -> String {
    "client_secret_post".to_owned()
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("name", &self.name)
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("grant_types", &self.grant_types)
            .field("callbacks", &self.callbacks)
            .field("allowed_logout_urls", &self.allowed_logout_urls)
            .field("connections", &self.connections)
            .field("backchannel_logout_urls", &self.backchannel_logout_urls)
            .finish()
    }
}

/// A user seeded at start.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserConfig {
    /// `user_id` (generated as `auth0|<24 hex>` when absent).
    #[serde(default)]
    pub user_id: Option<String>,
    /// Email (login name).
    pub email: String,
    /// Password in clear (hashed at start).
    pub password: String,
    /// Connection name.
    #[serde(default = "default_connection")]
    pub connection: String,
    /// Username.
    #[serde(default)]
    pub username: Option<String>,
    /// Full name (defaults to the email).
    #[serde(default)]
    pub name: Option<String>,
    /// Nickname (defaults to the email's local part).
    #[serde(default)]
    pub nickname: Option<String>,
    /// Given name.
    #[serde(default)]
    pub given_name: Option<String>,
    /// Family name.
    #[serde(default)]
    pub family_name: Option<String>,
    /// Whether the email is verified.
    #[serde(default)]
    pub email_verified: bool,
    /// Blocked users cannot log in.
    #[serde(default)]
    pub blocked: bool,
    /// Password logins answer `mfa_required` (the user is enrolled in MFA).
    #[serde(default)]
    pub mfa_required: bool,
    /// Logins are denied with this reason, as a login Action's `api.access.deny` would.
    #[serde(default)]
    pub login_denied: Option<String>,
    /// `app_metadata`.
    #[serde(default = "empty_object")]
    pub app_metadata: Value,
    /// `user_metadata`.
    #[serde(default = "empty_object")]
    pub user_metadata: Value,
}

impl std::fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserConfig")
            .field("user_id", &self.user_id)
            .field("connection", &self.connection)
            .field("password", &"***")
            .finish_non_exhaustive()
    }
}

fn default_connection() -> String {
    "Username-Password-Authentication".to_owned()
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

const LOCAL_URLS: [&str; 2] = ["http://127.0.0.1:*", "http://localhost:*"];

impl Default for TenantConfig {
    fn default() -> Self {
        let local = || {
            LOCAL_URLS
                .iter()
                .map(|s| (*s).to_owned())
                .collect::<Vec<_>>()
        };
        let app = |name: &str, id: &str, secret: &str| ClientConfig {
            name: name.to_owned(),
            client_id: id.to_owned(),
            client_secret: secret.to_owned(),
            grant_types: Vec::new(),
            callbacks: local(),
            allowed_logout_urls: local(),
            connections: Vec::new(),
            token_endpoint_auth_method: default_auth_method(),
            backchannel_logout_urls: Vec::new(),
        };
        let mut machine = app(
            "Management (machine to machine)",
            "dev-management-client",
            "dev-management-secret",
        );
        machine.callbacks.clear();
        machine.allowed_logout_urls.clear();
        TenantConfig {
            custom_claims_namespace: "https://auth0-client.dev/".to_owned(),
            access_token_lifetime_seconds: 86_400,
            id_token_lifetime_seconds: 36_000,
            refresh_token_reuse_interval_seconds: 0,
            default_directory: Some(default_connection()),
            api_audiences: Vec::new(),
            allowed_logout_urls: local(),
            connections: vec![
                ConnectionConfig {
                    id: "con_UPA0000000000001".to_owned(),
                    name: "Username-Password-Authentication".to_owned(),
                },
                ConnectionConfig {
                    id: "con_OTH0000000000002".to_owned(),
                    name: "Other-Database".to_owned(),
                },
            ],
            clients: vec![
                app("Website", "dev-website-client", "dev-website-secret"),
                app("Token app", "dev-token-client", "dev-token-secret"),
                machine,
            ],
            users: vec![
                UserConfig {
                    user_id: Some("auth0|dev000000000000000000001".to_owned()),
                    email: "dev@example.com".to_owned(),
                    password: "DevPassword1!".to_owned(),
                    connection: default_connection(),
                    username: Some("dev".to_owned()),
                    name: Some("Dev User".to_owned()),
                    nickname: Some("dev".to_owned()),
                    given_name: None,
                    family_name: None,
                    email_verified: true,
                    blocked: false,
                    mfa_required: false,
                    login_denied: None,
                    app_metadata: json!({"groups": ["admin", "dev"]}),
                    user_metadata: json!({"theme": "dark"}),
                },
                UserConfig {
                    user_id: Some("auth0|dev000000000000000000002".to_owned()),
                    email: "viewer@example.com".to_owned(),
                    password: "ViewerPassword1!".to_owned(),
                    connection: default_connection(),
                    username: Some("viewer".to_owned()),
                    name: Some("Viewer User".to_owned()),
                    nickname: Some("viewer".to_owned()),
                    given_name: None,
                    family_name: None,
                    email_verified: true,
                    blocked: false,
                    mfa_required: false,
                    login_denied: None,
                    app_metadata: json!({"groups": ["viewer"]}),
                    user_metadata: json!({}),
                },
            ],
            extra_jwks: Vec::new(),
            brute_force_threshold: 0,
        }
    }
}

impl TenantConfig {
    /// Reads and validates a tenant description (JSON, camelCase keys; absent keys take
    /// the built-in tenant's values).
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read tenant file {}", path.display()))?;
        let config: TenantConfig = serde_json::from_str(&text)
            .with_context(|| format!("invalid tenant file {}", path.display()))?;
        config
            .validate()
            .with_context(|| format!("invalid tenant file {}", path.display()))?;
        Ok(config)
    }

    /// The connection of the plain `password` grant, if any.
    pub fn default_directory(&self) -> Option<&str> {
        match &self.default_directory {
            Some(name) => Some(name.as_str()),
            None => self
                .connections
                .iter()
                .find(|c| c.name == "Username-Password-Authentication")
                .map(|c| c.name.as_str()),
        }
    }

    /// Checks references between clients, connections and users.
    pub fn validate(&self) -> anyhow::Result<()> {
        let connection_exists = |name: &str| self.connections.iter().any(|c| c.name == name);
        for (i, connection) in self.connections.iter().enumerate() {
            if !connection.id.starts_with("con_") {
                bail!("connections[{i}].id must start with \"con_\"");
            }
            if self.connections[..i]
                .iter()
                .any(|c| c.id == connection.id || c.name == connection.name)
            {
                bail!("connections[{i}]: duplicate id or name");
            }
        }
        for (i, client) in self.clients.iter().enumerate() {
            if client.client_id.is_empty() {
                bail!("clients[{i}].clientId must not be empty");
            }
            if self.clients[..i]
                .iter()
                .any(|c| c.client_id == client.client_id)
            {
                bail!("clients[{i}].clientId is a duplicate");
            }
            if let Some(name) = client.connections.iter().find(|n| !connection_exists(n)) {
                bail!("clients[{i}].connections names an unknown connection {name:?}");
            }
        }
        for (i, user) in self.users.iter().enumerate() {
            if !connection_exists(&user.connection) {
                bail!("users[{i}].connection names an unknown connection");
            }
            if !user.app_metadata.is_object() || !user.user_metadata.is_object() {
                bail!("users[{i}]: appMetadata and userMetadata must be objects");
            }
        }
        if let Some(name) = &self.default_directory
            && !connection_exists(name)
        {
            bail!("defaultDirectory names an unknown connection");
        }
        Ok(())
    }
}
