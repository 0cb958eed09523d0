//! Environment variables of SPEC §1, parsed into typed values.

use crate::secret::Secret;
use std::path::PathBuf;
use std::time::Duration;

/// Log level from `LOG_LEVEL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// trace
    Trace,
    /// debug
    Debug,
    /// info
    Info,
    /// warn
    Warn,
    /// error
    Error,
}

/// How the session store is reached (`REDIS_MODE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisMode {
    /// One host.
    Normal,
    /// The hosts are sentinels; the master is named.
    Sentinel {
        /// `REDIS_MASTER_NAME`
        master_name: String,
    },
    /// The hosts seed a Redis Cluster.
    Cluster,
}

/// Redis connection settings; absent when `REDIS_HOSTS` is not set (in-memory store).
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `host:port` pairs (port defaulted to 6379).
    pub hosts: Vec<(String, u16)>,
    /// `REDIS_MODE`
    pub mode: RedisMode,
    /// `REDIS_USERNAME`
    pub username: Option<String>,
    /// `REDIS_PASSWORD`
    pub password: Option<Secret>,
}

/// Optional MongoDB sync of user properties.
#[derive(Debug, Clone)]
pub struct MongoSettings {
    /// `MONGO_DB_URL`
    pub url: Secret,
    /// `USERS_DATABASE_NAME`
    pub database: String,
    /// `USERS_COLLECTION_NAME`
    pub collection: String,
    /// `USERS_PROPERTIES_TO_SAVE`
    pub properties: Vec<String>,
}

/// Everything read from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `HTTP_PORT`
    pub http_port: u16,
    /// `LOG_LEVEL`
    pub log_level: LogLevel,
    /// `SERVICE_PREFIX`, normalised to "" or "/x" (no trailing slash).
    pub service_prefix: String,
    /// `SERVICE_VERSION`
    pub service_version: String,
    /// `SERVICE_CONFIG_PATH` joined with `SERVICE_CONFIG_FILE_NAME` (`.json` added when omitted).
    pub config_file: PathBuf,
    /// `ORIGINAL_PROTOCOL_HEADER`, lowercased.
    pub original_protocol_header: String,
    /// `SESSION_DURATION_SECONDS`
    pub session_duration: Duration,
    /// `SESSION_SCOPE`
    pub session_scope: String,
    /// Redis, when `REDIS_HOSTS` is set.
    pub redis: Option<RedisSettings>,
    /// `DELAY_SHUTDOWN_SECONDS`
    pub delay_shutdown: Duration,
    /// `SESSION_ENCRYPTION_KEY`: 32-byte keys, the first seals, all open.
    pub session_encryption_keys: Vec<Secret>,
    /// Mongo sync, when `MONGO_DB_URL` is set.
    pub mongo: Option<MongoSettings>,
}
