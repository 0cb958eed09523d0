//! Which Auth0 connections the user-management routes may use, for both managementClient
//! forms: the current `supportedConnectionsMap` + `defaultManagementConnectionName`, and
//! the deprecated `supportedConnections` + `defaultCreateUserConnection` (no bulk import).

/// A connection choice the caller must fix (answered as `400`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConnectionError(pub String);

pub use crate::config::typed::Connections;

impl Connections {
    /// The supported connection names (empty: none configured, any is accepted).
    pub fn names(&self) -> Vec<String> {
        match self {
            Self::Current { ids, .. } => ids.keys().cloned().collect(),
            Self::Deprecated { names, .. } => names.clone(),
        }
    }

    fn default_name(&self) -> Option<&str> {
        match self {
            Self::Current { default, .. } | Self::Deprecated { default, .. } => default.as_deref(),
        }
    }

    /// The connection of `POST /users`: the requested one (which must be supported) or
    /// the configured default.
    pub fn for_create(&self, requested: Option<&str>) -> Result<String, ConnectionError> {
        let names = self.names();
        match requested {
            Some(name) if names.is_empty() || names.iter().any(|n| n == name) => {
                Ok(name.to_owned())
            }
            Some(name) => Err(ConnectionError(format!(
                "Connection {name:?} is not a managementClient connection; use one of: {}.",
                names.join(", ")
            ))),
            None => self.default_name().map(str::to_owned).ok_or_else(|| {
                ConnectionError(
                    "No connection given and no default configured: send \"connection\" or set \
                     managementClient.defaultManagementConnectionName."
                        .to_owned(),
                )
            }),
        }
    }

    /// The Auth0 connection id of a users-imports job: `requested` (a key of
    /// `supportedConnectionsMap`) or the default. The deprecated form has no ids.
    pub fn for_import(&self, requested: Option<&str>) -> Result<String, ConnectionError> {
        let Self::Current { ids, default } = self else {
            return Err(ConnectionError(
                "Bulk import needs connection ids: the managementClient uses the deprecated \
                 supportedConnections form; configure supportedConnectionsMap and \
                 defaultManagementConnectionName instead."
                    .to_owned(),
            ));
        };
        let name = match requested.or(default.as_deref()) {
            Some(name) => name,
            None => {
                return Err(ConnectionError(
                    "No connection given and no defaultManagementConnectionName configured: \
                     send the \"connection\" field."
                        .to_owned(),
                ));
            }
        };
        ids.get(name).cloned().ok_or_else(|| {
            ConnectionError(format!(
                "Connection {name:?} is not a key of managementClient.supportedConnectionsMap; \
                 use one of: {}.",
                ids.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::config::file::{ConnectionRef, ManagementClientConfig};
    use crate::secret::Secret;
    use std::collections::BTreeMap;

    fn config() -> ManagementClientConfig {
        ManagementClientConfig {
            auth0_url: "https://tenant.example".to_owned(),
            client_id: "m2m".to_owned(),
            client_secret: Secret::new("s"),
            default_management_connection_name: None,
            supported_connections_map: None,
            supported_connections: None,
            default_create_user_connection: None,
        }
    }

    fn current(default: Option<&str>) -> Connections {
        let mut config = config();
        config.default_management_connection_name = default.map(str::to_owned);
        config.supported_connections_map = Some(BTreeMap::from([
            (
                "A".to_owned(),
                ConnectionRef {
                    connection_id: "con_A".to_owned(),
                },
            ),
            (
                "B".to_owned(),
                ConnectionRef {
                    connection_id: "con_B".to_owned(),
                },
            ),
        ]));
        Connections::from_config(&config)
    }

    fn deprecated(default: Option<&str>) -> Connections {
        let mut config = config();
        config.supported_connections = Some(vec!["A".to_owned(), "B".to_owned()]);
        config.default_create_user_connection = default.map(str::to_owned);
        Connections::from_config(&config)
    }

    #[test]
    fn create_uses_the_requested_supported_connection_or_the_default_of_either_form() {
        for rules in [current(Some("A")), deprecated(Some("A"))] {
            assert_eq!(rules.names(), ["A", "B"]);
            assert_eq!(rules.for_create(Some("B")).unwrap(), "B");
            assert_eq!(rules.for_create(None).unwrap(), "A");
            assert!(rules.for_create(Some("C")).unwrap_err().0.contains("\"C\""));
        }
        for rules in [current(None), deprecated(None)] {
            assert!(rules.for_create(None).unwrap_err().0.contains("no default"));
        }
    }

    #[test]
    fn import_maps_names_to_ids_and_refuses_the_deprecated_form() {
        let rules = current(Some("A"));
        assert_eq!(rules.for_import(None).unwrap(), "con_A");
        assert_eq!(rules.for_import(Some("B")).unwrap(), "con_B");
        assert!(rules.for_import(Some("con_B")).is_err());
        assert!(current(None).for_import(None).is_err());
        assert!(
            deprecated(Some("A"))
                .for_import(Some("A"))
                .unwrap_err()
                .0
                .contains("deprecated")
        );
    }

    #[test]
    fn without_configured_connections_any_connection_may_be_named() {
        let rules = Connections::from_config(&config());
        assert!(rules.names().is_empty());
        assert_eq!(rules.for_create(Some("X")).unwrap(), "X");
    }
}
