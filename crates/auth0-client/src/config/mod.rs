//! Configuration: environment variables and `config.json`, validated once at startup.
//! After startup the configuration is immutable and shared through `Arc`.

pub mod dev_tenant;
pub mod env;
pub mod file;
pub mod origins;
pub mod redis_tls;
pub mod server;
pub mod tuning;
pub mod validate;

pub use env::Settings;
pub use file::ConfigFile;

/// The validated configuration: environment plus `config.json`.
#[derive(Debug, Clone)]
pub struct Config {
    /// From the environment.
    pub settings: Settings,
    /// From `config.json`.
    pub file: ConfigFile,
}

impl Config {
    /// Reads the environment through `lookup`, then the config file it names; every
    /// problem found is one line of the error.
    pub fn load(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, Vec<String>> {
        let settings = Settings::from_lookup(lookup).map_err(|e| e.0)?;
        let file = validate::read_file(&settings.config_file)?;
        Ok(Config { settings, file })
    }
}
