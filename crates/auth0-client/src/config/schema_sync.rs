//! The JSON schema of `config.json` and the typed config cannot drift: every schema
//! property is a field of the serde types and back (the typed layer takes every serde
//! field apart without `..`, so it cannot miss one either).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::file::{ClientAuth, ClientConfig, ConfigFile, ConnectionRef, ManagementClientConfig};
use super::validate::SCHEMA;
use crate::secret::Secret;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// A document with every optional field set (a new field must be added here to compile).
fn every_field() -> ConfigFile {
    let client = ClientConfig {
        auth0_url: "https://tenant.example".into(),
        client_id: "id".into(),
        client_secret: Secret::new("secret"),
        redirect_url: "https://app.example/callback".into(),
        scopes: vec!["openid".into()],
        audience: Some("api".into()),
        supported_signing_algs: vec!["RS256".into()],
        supported_connections: vec!["A".into()],
        default_connection: Some("A".into()),
        same_site: Some(super::file::SameSite::Lax),
        authorize_state_required: true,
        token_endpoint_auth_method: Some(ClientAuth::ClientSecretBasic),
        allowed_origins: vec!["https://login.example".into()],
    };
    ConfigFile {
        clients: BTreeMap::from([("web".to_owned(), client)]),
        default_client: Some("web".into()),
        custom_claims_namespaces: vec!["https://example.com/claims".into()],
        management_client: ManagementClientConfig {
            auth0_url: "https://tenant.example".into(),
            client_id: "m".into(),
            client_secret: Secret::new("m-secret"),
            default_management_connection_name: Some("A".into()),
            supported_connections_map: Some(BTreeMap::from([(
                "A".to_owned(),
                ConnectionRef {
                    connection_id: "con_A".into(),
                },
            )])),
            supported_connections: Some(vec!["A".into()]),
            default_create_user_connection: Some("A".into()),
        },
        auth0_tenant_url: Some("https://tenant.example".into()),
    }
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect()
}

fn schema_keys(schema: &Value, pointer: &str) -> BTreeSet<String> {
    keys(
        schema
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{pointer} in the schema")),
    )
}

#[test]
fn every_schema_property_is_a_config_field_and_every_field_a_schema_property() {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    let document = serde_json::to_value(every_field()).unwrap();
    let levels = [
        ("/properties", &document),
        ("/$defs/client/properties", &document["clients"]["web"]),
        (
            "/$defs/managementClient/properties",
            &document["managementClient"],
        ),
        (
            "/$defs/managementClient/properties/supportedConnectionsMap/additionalProperties/properties",
            &document["managementClient"]["supportedConnectionsMap"]["A"],
        ),
    ];
    for (pointer, fields) in levels {
        assert_eq!(schema_keys(&schema, pointer), keys(fields), "{pointer}");
    }
}

#[test]
fn a_document_with_every_field_passes_the_schema_and_types_fully() {
    let document = serde_json::to_value(every_field()).unwrap();
    super::validate::check_schema(&document).unwrap();
    let client = super::typed::Client::build("web", &every_field().clients["web"]).unwrap();
    assert_eq!(client.audience.as_deref(), Some("api"));
    assert_eq!(client.client_auth, ClientAuth::ClientSecretBasic);
    assert_eq!(client.redirect_url.as_str(), "https://app.example/callback");
    assert_eq!(client.allowed_origins, ["https://login.example"]);
}
