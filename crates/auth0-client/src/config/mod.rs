//! Configuration: environment variables and `config.json`, validated once at startup.
//! After startup the configuration is immutable and shared through `Arc`.

pub mod dev_tenant;
pub mod env;
pub mod file;
pub(crate) mod origins;
pub mod redis_tls;
#[cfg(test)]
mod schema_sync;
pub mod server;
pub mod typed;
pub mod validate;

pub use env::Settings;
pub use file::ConfigFile;
use std::collections::BTreeMap;

/// The validated configuration: environment plus `config.json`, typed by
/// [`Config::finish`] (the only way to make one).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// From the environment.
    pub settings: Settings,
    /// `config.json` as read (dev mode prints it; the typed fields below are what runs).
    pub file: ConfigFile,
    /// Every client, by client-type name.
    pub clients: BTreeMap<String, typed::Client>,
    /// `defaultClient`, a key of `clients`; `None` when absent or empty.
    pub default_client: Option<String>,
    /// `managementClient`.
    pub management: typed::Management,
}

impl Config {
    /// Reads the environment through `lookup`, then the config file it names; every
    /// problem found is one line of the error.
    pub fn load(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, Vec<String>> {
        let settings = Settings::from_lookup(lookup).map_err(|e| e.0)?;
        let file = validate::read_file(&settings.config_file)?;
        Self::finish(settings, file)
    }

    /// Checks the cross-field rules of `file` and types it: the configuration `serve`
    /// runs with, or one line per problem (`check-config` prints the same lines).
    pub fn finish(settings: Settings, file: ConfigFile) -> Result<Config, Vec<String>> {
        let errors = validate::cross_checks(&file);
        let clients = file
            .clients
            .iter()
            .map(|(name, client)| Ok((name.clone(), typed::Client::build(name, client)?)))
            .collect::<Result<BTreeMap<_, _>, Vec<String>>>();
        let management = typed::Management::build(&file.management_client);
        match (clients, management) {
            (Ok(clients), Ok(management)) if errors.is_empty() => Ok(Config {
                settings,
                default_client: file.default_client.clone().filter(|c| !c.is_empty()),
                file,
                clients,
                management,
            }),
            // The cross-field checks report every problem the typing found, and more.
            _ => Err(errors),
        }
    }
}
