//! The `config.json` for the built-in dev tenant (`auth0_devtenant::TenantConfig::default()`),
//! written once: dev mode (`auth0-client dev`) and the tests start from it.

use super::file::{ClientConfig, ConfigFile, ConnectionRef, ManagementClientConfig, SameSite};
use crate::secret::Secret;
use std::collections::BTreeMap;

/// Client type of the cookie client (`website` scope, `SameSite=Lax`).
pub const WEBSITE: &str = "website";
/// Client type of the token client (`offline_access`).
pub const TOKEN: &str = "token";
/// The dev tenant's default database connection.
pub const UPA: &str = "Username-Password-Authentication";
/// The dev tenant's second database connection.
pub const OTHER_DATABASE: &str = "Other-Database";

/// A client of the dev tenant at `tenant` (no connections, default signing algorithms).
pub fn client(
    tenant: &str,
    id: &str,
    secret: &str,
    redirect_url: &str,
    scopes: &[&str],
) -> ClientConfig {
    ClientConfig {
        auth0_url: tenant.to_owned(),
        client_id: id.to_owned(),
        client_secret: Secret::new(secret),
        redirect_url: redirect_url.to_owned(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        audience: None,
        supported_signing_algs: Vec::new(),
        supported_connections: Vec::new(),
        default_connection: None,
        same_site: None,
        authorize_state_required: false,
        token_endpoint_auth_method: None,
        allowed_origins: Vec::new(),
    }
}

/// The dev tenant's clients at `tenant`: [`WEBSITE`] (both database connections, the
/// first by default) and [`TOKEN`], each redirecting to `redirect_url(client type)`, the
/// management client, and the custom-claim namespaces. No default client.
pub fn config_file(tenant: &str, redirect_url: impl Fn(&str) -> String) -> ConfigFile {
    let mut website = client(
        tenant,
        "dev-website-client",
        "dev-website-secret",
        &redirect_url(WEBSITE),
        &["website", "profile", "email"],
    );
    website.same_site = Some(SameSite::Lax);
    website.supported_connections = vec![UPA.to_owned(), OTHER_DATABASE.to_owned()];
    website.default_connection = Some(UPA.to_owned());
    let token = client(
        tenant,
        "dev-token-client",
        "dev-token-secret",
        &redirect_url(TOKEN),
        &["openid", "profile", "email", "offline_access"],
    );
    let connection = |id: &str| ConnectionRef {
        connection_id: id.to_owned(),
    };
    ConfigFile {
        clients: BTreeMap::from([(WEBSITE.to_owned(), website), (TOKEN.to_owned(), token)]),
        default_client: None,
        custom_claims_namespaces: vec![
            "https://auth0-client.dev/app_metadata".to_owned(),
            "https://auth0-client.dev/user_metadata".to_owned(),
        ],
        management_client: ManagementClientConfig {
            auth0_url: tenant.to_owned(),
            client_id: "dev-management-client".to_owned(),
            client_secret: Secret::new("dev-management-secret"),
            default_management_connection_name: Some(UPA.to_owned()),
            supported_connections_map: Some(BTreeMap::from([
                (UPA.to_owned(), connection("con_UPA0000000000001")),
                (
                    OTHER_DATABASE.to_owned(),
                    connection("con_OTH0000000000002"),
                ),
            ])),
            supported_connections: None,
            default_create_user_connection: None,
        },
        auth0_tenant_url: Some(tenant.to_owned()),
    }
}
