//! Configuration: environment variables and `config.json`, validated once at startup.
//! After startup the configuration is immutable and shared through `Arc`.

pub mod env;
pub mod file;

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
