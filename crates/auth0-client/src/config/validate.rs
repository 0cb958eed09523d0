//! `config.json` checks: the shipped JSON schema, then the cross-field rules of SPEC §1.
//! Every problem is one line starting with the JSON path it is about.

use super::file::{ClientConfig, ConfigFile, ManagementClientConfig};
use serde_json::Value;
use std::path::Path;

/// The JSON schema of `config.json` (printed by `auth0-client schema`).
pub const SCHEMA: &str = include_str!("../../config.schema.json");

/// Reads, schema-checks, parses and cross-checks the file at `path`.
pub fn read_file(path: &Path) -> Result<ConfigFile, Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        vec![format!(
            "{}: cannot read the config file ({error}); check SERVICE_CONFIG_PATH and SERVICE_CONFIG_FILE_NAME",
            path.display()
        )]
    })?;
    parse_named(&text, &path.display().to_string())
}

/// Schema-checks, parses and cross-checks a `config.json` document.
pub fn parse(text: &str) -> Result<ConfigFile, Vec<String>> {
    parse_named(text, "config.json")
}

/// [`parse`] for the file `name`: every problem in one run, schema and cross-field alike
/// (the cross-field rules run whenever the document still maps onto the typed config).
fn parse_named(text: &str, name: &str) -> Result<ConfigFile, Vec<String>> {
    let document: Value = serde_json::from_str(text).map_err(|error| {
        vec![format!(
            "{name} is not valid JSON: line {}, column {}",
            error.line(),
            error.column()
        )]
    })?;
    let mut errors = check_schema(&document).err().unwrap_or_default();
    match serde_json::from_value::<ConfigFile>(document) {
        Ok(file) => {
            errors.extend(cross_checks(&file));
            if errors.is_empty() {
                Ok(file)
            } else {
                Err(errors)
            }
        }
        Err(_) if !errors.is_empty() => Err(errors),
        Err(error) => Err(vec![format!("{name}: {error}")]),
    }
}

/// Validates `document` against [`SCHEMA`]; one line per violation, naming its path.
pub fn check_schema(document: &Value) -> Result<(), Vec<String>> {
    let schema: Value = serde_json::from_str(SCHEMA)
        .map_err(|error| vec![format!("built-in schema is not JSON: {error}")])?;
    let validator = jsonschema::validator_for(&schema)
        .map_err(|error| vec![format!("built-in schema is invalid: {error}")])?;
    let mut secrets = Vec::new();
    collect_secrets(document, &mut secrets);
    let errors: Vec<String> = validator
        .iter_errors(document)
        .map(|error| {
            let path = error.instance_path().to_string();
            let path = if path.is_empty() {
                "/".to_owned()
            } else {
                path
            };
            format!("{path}: {}", redact(&error.to_string(), &secrets))
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The string values of every `clientSecret` in the document.
fn collect_secrets(value: &Value, secrets: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match inner {
                    Value::String(secret) if key == "clientSecret" && !secret.is_empty() => {
                        secrets.push(secret.clone());
                    }
                    _ => collect_secrets(inner, secrets),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_secrets(item, secrets)),
        _ => {}
    }
}

/// Schema messages may quote the offending value: secrets are masked, long quotes cut.
fn redact(message: &str, secrets: &[String]) -> String {
    let mut message = message.to_owned();
    for secret in secrets {
        message = message.replace(secret.as_str(), "***");
    }
    if message.chars().count() > 300 {
        message = format!("{}…", message.chars().take(300).collect::<String>());
    }
    message
}

/// The rules a schema cannot express; one line per broken rule.
pub fn cross_checks(file: &ConfigFile) -> Vec<String> {
    let mut errors = Vec::new();
    if let Some(default) = file.default_client.as_deref().filter(|d| !d.is_empty())
        && !file.clients.contains_key(default)
    {
        errors.push(format!(
            "/defaultClient: names {default:?}, which is not a key of /clients"
        ));
    }
    for (name, client) in &file.clients {
        if let Err(lines) = super::typed::Client::build(name, client) {
            errors.extend(lines);
        }
        check_default_connection(&format!("/clients/{name}"), client, &mut errors);
    }
    check_management(&file.management_client, &mut errors);
    if let Some(url) = &file.auth0_tenant_url {
        super::typed::url_at("/auth0TenantUrl", url, &mut errors);
    }
    errors
}

fn check_default_connection(path: &str, client: &ClientConfig, errors: &mut Vec<String>) {
    if let Some(default) = &client.default_connection
        && !client.supported_connections.is_empty()
        && !client.supported_connections.contains(default)
    {
        errors.push(format!(
            "{path}/defaultConnection: {default:?} is not in {path}/supportedConnections"
        ));
    }
}

fn check_management(management: &ManagementClientConfig, errors: &mut Vec<String>) {
    let path = "/managementClient";
    if let Err(lines) = super::typed::Management::build(management) {
        errors.extend(lines);
    }
    let current = management.default_management_connection_name.is_some()
        || management.supported_connections_map.is_some();
    let deprecated = management.supported_connections.is_some()
        || management.default_create_user_connection.is_some();
    if current && deprecated {
        errors.push(format!(
            "{path}: mixes defaultManagementConnectionName/supportedConnectionsMap with the deprecated supportedConnections/defaultCreateUserConnection; keep one form"
        ));
        return;
    }
    if let Some(default) = &management.default_management_connection_name {
        let known = management
            .supported_connections_map
            .as_ref()
            .is_some_and(|map| map.contains_key(default));
        if !known {
            errors.push(format!(
                "{path}/defaultManagementConnectionName: {default:?} is not a key of {path}/supportedConnectionsMap"
            ));
        }
    }
    if let Some(default) = &management.default_create_user_connection {
        let known = management
            .supported_connections
            .as_ref()
            .is_some_and(|list| list.contains(default));
        if !known {
            errors.push(format!(
                "{path}/defaultCreateUserConnection: {default:?} is not in {path}/supportedConnections"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({
            "clients": {
                "website": {
                    "auth0Url": "https://tenant.eu.auth0.com",
                    "clientId": "id",
                    "clientSecret": "s3cr3t-value",
                    "redirectUrl": "https://app.example.com/callback",
                    "scopes": ["website", "openid"],
                    "supportedConnections": ["A", "B"],
                    "defaultConnection": "A",
                    "sameSite": "None"
                }
            },
            "defaultClient": "website",
            "customClaimsNamespaces": ["https://example.com/app_metadata"],
            "managementClient": {
                "auth0Url": "https://tenant.eu.auth0.com",
                "clientId": "m",
                "clientSecret": "m-secret",
                "defaultManagementConnectionName": "A",
                "supportedConnectionsMap": {"A": {"connectionId": "con_1"}}
            },
            "auth0TenantUrl": "https://tenant.eu.auth0.com"
        })
    }

    fn errors_of(document: Value) -> Vec<String> {
        parse(&document.to_string()).expect_err("refused")
    }

    #[test]
    fn a_complete_file_is_accepted() {
        let file = parse(&valid().to_string()).unwrap();
        assert_eq!(file.default_client.as_deref(), Some("website"));
    }

    #[test]
    fn the_schema_is_valid_json_schema() {
        let schema: Value = serde_json::from_str(SCHEMA).unwrap();
        jsonschema::validator_for(&schema).unwrap();
    }

    #[test]
    fn unknown_top_level_key_is_named() {
        let mut doc = valid();
        doc["extra"] = json!(1);
        let errors = errors_of(doc);
        assert!(errors[0].starts_with("/:"), "{errors:?}");
        assert!(errors[0].contains("extra"), "{errors:?}");
    }

    #[test]
    fn missing_required_client_field_names_the_client() {
        let mut doc = valid();
        doc["clients"]["website"]
            .as_object_mut()
            .unwrap()
            .remove("redirectUrl");
        let errors = errors_of(doc);
        assert!(errors[0].starts_with("/clients/website:"), "{errors:?}");
        assert!(errors[0].contains("redirectUrl"), "{errors:?}");
    }

    #[test]
    fn bad_same_site_is_refused_at_its_path() {
        let mut doc = valid();
        doc["clients"]["website"]["sameSite"] = json!("lax");
        assert!(errors_of(doc)[0].starts_with("/clients/website/sameSite:"));
    }

    #[test]
    fn default_client_must_name_a_client() {
        let mut doc = valid();
        doc["defaultClient"] = json!("mobile");
        assert!(errors_of(doc)[0].starts_with("/defaultClient:"));
    }

    #[test]
    fn default_connection_must_be_supported() {
        let mut doc = valid();
        doc["clients"]["website"]["defaultConnection"] = json!("C");
        assert!(errors_of(doc)[0].starts_with("/clients/website/defaultConnection:"));
    }

    #[test]
    fn default_connection_is_free_when_no_list_is_given() {
        let mut doc = valid();
        doc["clients"]["website"]
            .as_object_mut()
            .unwrap()
            .remove("supportedConnections");
        doc["clients"]["website"]["defaultConnection"] = json!("C");
        parse(&doc.to_string()).unwrap();
    }

    #[test]
    fn default_management_connection_must_be_a_map_key() {
        let mut doc = valid();
        doc["managementClient"]["defaultManagementConnectionName"] = json!("Z");
        assert!(
            errors_of(doc)[0].starts_with("/managementClient/defaultManagementConnectionName:")
        );
    }

    #[test]
    fn deprecated_default_create_user_connection_must_be_listed() {
        let mut doc = valid();
        let management = doc["managementClient"].as_object_mut().unwrap();
        management.remove("defaultManagementConnectionName");
        management.remove("supportedConnectionsMap");
        management.insert("supportedConnections".into(), json!(["A"]));
        management.insert("defaultCreateUserConnection".into(), json!("B"));
        assert!(errors_of(doc)[0].starts_with("/managementClient/defaultCreateUserConnection:"));
    }

    #[test]
    fn mixing_the_two_management_forms_is_refused() {
        let mut doc = valid();
        doc["managementClient"]["supportedConnections"] = json!(["A"]);
        let errors = errors_of(doc);
        assert!(errors[0].starts_with("/managementClient:"), "{errors:?}");
        assert!(errors[0].contains("keep one form"));
    }

    #[test]
    fn allowed_origins_must_be_origins() {
        let mut doc = valid();
        doc["clients"]["website"]["allowedOrigins"] = json!(["https://login.example.com"]);
        assert!(parse(&doc.to_string()).is_ok());
        doc["clients"]["website"]["allowedOrigins"] = json!(["https://login.example.com/page"]);
        assert!(errors_of(doc)[0].starts_with("/clients/website/allowedOrigins/0:"));
    }

    #[test]
    fn urls_must_parse() {
        let mut doc = valid();
        doc["clients"]["website"]["redirectUrl"] = json!("not a url");
        assert!(errors_of(doc)[0].starts_with("/clients/website/redirectUrl:"));
    }

    #[test]
    fn errors_never_echo_a_client_secret() {
        let mut doc = valid();
        doc["clients"]["website"]["clientSecret"] = json!(42);
        doc["defaultClient"] = json!("mobile");
        let errors = errors_of(doc);
        assert!(errors.iter().all(|e| !e.contains("s3cr3t")), "{errors:?}");
    }

    #[test]
    fn invalid_json_reports_line_and_column() {
        let errors = parse("{\n  \"clients\": ").expect_err("refused");
        assert!(errors[0].contains("line 2"), "{errors:?}");
    }
}
