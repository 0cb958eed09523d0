use auth0_devtenant::{DevTenant, TenantConfig};
use serde_json::json;

use crate::support::*;

fn write(name: &str, value: &serde_json::Value) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("devtenant-{}-{name}.json", std::process::id()));
    std::fs::write(&path, serde_json::to_vec(value).unwrap()).unwrap();
    path
}

#[tokio::test]
async fn a_tenant_file_describes_clients_connections_and_users() {
    let path = write(
        "custom",
        &json!({
            "customClaimsNamespace": "https://example.com/",
            "accessTokenLifetimeSeconds": 600,
            "connections": [
                {"id": "con_A000000000000001", "name": "Staff"},
                {"id": "con_B000000000000002", "name": "Customers"}
            ],
            "clients": [{
                "clientId": "staff-app", "clientSecret": "staff-secret",
                "callbacks": ["https://staff.example/callback"],
                "connections": ["Staff"],
                "grantTypes": ["http://auth0.com/oauth/grant-type/password-realm"]
            }],
            "users": [
                {"email": "ann@staff.example", "password": "Ann-Password1", "connection": "Staff",
                 "appMetadata": {"groups": ["ops"]}},
                {"email": "bob@customer.example", "password": "Bob-Password1", "connection": "Customers"}
            ]
        }),
    );
    let config = TenantConfig::from_file(&path).unwrap();
    let t = DevTenant::start(config).await.unwrap();
    let realm_login = |realm: &'static str, user: &'static str, password: &'static str| {
        let t = &t;
        async move {
            token_form(
                t,
                &[
                    ("grant_type", PASSWORD_REALM),
                    ("client_id", "staff-app"),
                    ("client_secret", "staff-secret"),
                    ("realm", realm),
                    ("username", user),
                    ("password", password),
                    ("scope", "openid"),
                ],
            )
            .await
        }
    };
    let (status, body) = realm_login("Staff", "ann@staff.example", "Ann-Password1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(
        claims(body["id_token"].as_str().unwrap())["https://example.com/app_metadata"]["groups"][0],
        "ops"
    );

    let (status, body) = realm_login("Customers", "bob@customer.example", "Bob-Password1").await;
    assert_eq!(status, 400);
    assert_eq!(body["error_description"], "the connection was disabled");

    let (status, body) = token_form(
        &t,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "staff-app"),
            ("client_secret", "staff-secret"),
        ],
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(body["error"], "unauthorized_client");
    t.shutdown().await;
    let _ = std::fs::remove_file(path);
}

#[test]
fn a_tenant_file_with_dangling_references_is_refused_with_a_clear_message() {
    let path = write(
        "dangling",
        &json!({"users": [{"email": "a@b.example", "password": "x", "connection": "Nope"}]}),
    );
    let error = format!("{:#}", TenantConfig::from_file(&path).unwrap_err());
    assert!(error.contains("users[0].connection"), "{error}");
    let path = write("unknown-key", &json!({"clientz": []}));
    let error = format!("{:#}", TenantConfig::from_file(&path).unwrap_err());
    assert!(error.contains("clientz"), "{error}");
}

#[test]
fn the_built_in_tenant_has_the_documented_values() {
    let config = TenantConfig::default();
    let ids: Vec<(&str, &str)> = config
        .connections
        .iter()
        .map(|c| (c.id.as_str(), c.name.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            ("con_UPA0000000000001", UPA),
            ("con_OTH0000000000002", "Other-Database")
        ]
    );
    let clients: Vec<&str> = config
        .clients
        .iter()
        .map(|c| c.client_id.as_str())
        .collect();
    assert_eq!(
        clients,
        [
            "dev-website-client",
            "dev-token-client",
            "dev-management-client"
        ]
    );
    assert_eq!(config.custom_claims_namespace, "https://auth0-client.dev/");
    assert_eq!(config.access_token_lifetime_seconds, 86400);
    assert!(
        !format!("{:?}", config).contains("dev-website-secret"),
        "Debug hides secrets"
    );
    assert!(
        !format!("{:?}", config).contains("DevPassword1!"),
        "Debug hides passwords"
    );
}
