//! Environment variables of SPEC §1, parsed into typed values.

pub use super::redis_tls::{ClientIdentity, RedisTls};
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
    /// What the sentinels are sent (sentinel mode only).
    pub sentinel_auth: SentinelAuth,
    /// `REDIS_TLS=true`: TLS to every node and sentinel.
    pub tls: Option<RedisTls>,
}

/// The credentials sent to the sentinels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SentinelAuth {
    /// Neither `REDIS_SENTINEL_USERNAME` nor `REDIS_SENTINEL_PASSWORD` is set: the data
    /// nodes' `REDIS_USERNAME`/`REDIS_PASSWORD`, or none for a sentinel that has none.
    #[default]
    SameAsNodes,
    /// `REDIS_SENTINEL_USERNAME` / `REDIS_SENTINEL_PASSWORD` (no username: the default user).
    Own {
        /// `REDIS_SENTINEL_USERNAME`
        username: Option<String>,
        /// `REDIS_SENTINEL_PASSWORD`
        password: Option<Secret>,
    },
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
    /// `ORIGINAL_PROTOCOL_HEADER`
    pub original_protocol_header: http::HeaderName,
    /// `SESSION_DURATION_SECONDS`
    pub session_duration: Duration,
    /// `SESSION_SCOPE`
    pub session_scope: String,
    /// `SESSION_IDLE_SECONDS`: sessions unused that long end (off when unset).
    pub session_idle: Option<Duration>,
    /// Redis, when `REDIS_HOSTS` is set.
    pub redis: Option<RedisSettings>,
    /// `DELAY_SHUTDOWN_SECONDS`
    pub delay_shutdown: Duration,
    /// `SESSION_ENCRYPTION_KEY`: 32-byte keys, the first seals, all open.
    pub session_encryption_keys: Vec<EncryptionKey>,
    /// Mongo sync, when `MONGO_DB_URL` is set.
    pub mongo: Option<MongoSettings>,
    /// `HTTP_ADDRESS`, the HTTP timeouts and the connection limit.
    pub server: super::server::ServerSettings,
    /// `TRUSTED_PROXY_HOPS`: proxies in front of the service whose `X-Forwarded-For`
    /// entries are trusted (1: the right-most entry is the end user's IP; 0: the peer).
    pub trusted_proxy_hops: usize,
    /// `AUTHORIZE_RATE_LIMIT`: `/authorize` state creations per client IP per minute
    /// (and the burst allowed); 0 turns the limit off.
    pub authorize_rate_limit: u32,
    /// `SESSION_CACHE_SIZE`: sessions each replica keeps in memory (Redis only, kept
    /// coherent by `CLIENT TRACKING`); 0 turns the cache off.
    pub session_cache_size: usize,
}

impl LogLevel {
    /// The `tracing` level this log level lets through.
    pub fn as_tracing(self) -> tracing::Level {
        match self {
            LogLevel::Trace => tracing::Level::TRACE,
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Info => tracing::Level::INFO,
            LogLevel::Warn => tracing::Level::WARN,
            LogLevel::Error => tracing::Level::ERROR,
        }
    }
}

/// Why the environment was refused: one line per bad or missing variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct EnvErrors(pub Vec<String>);

impl Settings {
    /// Reads every variable of SPEC §1 through `lookup` (the process environment in
    /// production, a map in tests); collects one line per bad or missing variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, EnvErrors> {
        let mut errors = Vec::new();
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut number = |name: &str, default: u64, max: u64| -> u64 {
            match get(name) {
                None => default,
                Some(raw) => match raw.parse::<u64>() {
                    Ok(value) if value <= max => value,
                    _ => {
                        errors.push(format!(
                            "{name}: expected a whole number from 0 to {max}, got {raw:?}"
                        ));
                        default
                    }
                },
            }
        };
        let http_port = number("HTTP_PORT", 8080, u64::from(u16::MAX)) as u16;
        let session_seconds = number("SESSION_DURATION_SECONDS", 86_400, 10 * 365 * 86_400);
        let delay_seconds = number("DELAY_SHUTDOWN_SECONDS", 10, 3600);
        let trusted_proxy_hops = number("TRUSTED_PROXY_HOPS", 1, 16) as usize;
        let authorize_rate_limit = number("AUTHORIZE_RATE_LIMIT", 120, 1_000_000) as u32;
        let session_cache_size = number("SESSION_CACHE_SIZE", 10_000, 10_000_000) as usize;
        let idle_seconds = number("SESSION_IDLE_SECONDS", 0, 10 * 365 * 86_400);
        if session_seconds == 0 {
            errors.push("SESSION_DURATION_SECONDS: expected at least 1 second".to_owned());
        }
        let log_level = match get("LOG_LEVEL").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("info") => LogLevel::Info,
            Some("trace") => LogLevel::Trace,
            Some("debug") => LogLevel::Debug,
            Some("warn") => LogLevel::Warn,
            Some("error") => LogLevel::Error,
            Some(other) => {
                errors.push(format!(
                    "LOG_LEVEL: expected one of trace, debug, info, warn, error, got {other:?}"
                ));
                LogLevel::Info
            }
        };
        let service_prefix = match get("SERVICE_PREFIX") {
            None => String::new(),
            Some(raw) => {
                let trimmed = raw.trim_matches('/');
                if trimmed.is_empty() {
                    String::new()
                } else if trimmed.contains(['?', '#', ' ', '{', '}', '*']) {
                    errors.push(format!(
                        "SERVICE_PREFIX: expected a path such as /auth, got {raw:?}"
                    ));
                    String::new()
                } else {
                    format!("/{trimmed}")
                }
            }
        };
        let service_version =
            get("SERVICE_VERSION").unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned());
        let config_path = get("SERVICE_CONFIG_PATH");
        let file_name = get("SERVICE_CONFIG_FILE_NAME");
        if config_path.is_none() {
            errors.push(
                "SERVICE_CONFIG_PATH: required: the folder holding the config file".to_owned(),
            );
        }
        if file_name.is_none() {
            errors.push(
                "SERVICE_CONFIG_FILE_NAME: required: the config file name, e.g. config.json"
                    .to_owned(),
            );
        }
        let config_file = match (&config_path, &file_name) {
            (Some(dir), Some(name)) => {
                let name = if name.ends_with(".json") {
                    name.clone()
                } else {
                    format!("{name}.json")
                };
                PathBuf::from(dir).join(name)
            }
            _ => PathBuf::new(),
        };
        let original_protocol_header = match get("ORIGINAL_PROTOCOL_HEADER") {
            None => {
                errors.push(
                    "ORIGINAL_PROTOCOL_HEADER: required: the header carrying the client's scheme, e.g. x-forwarded-proto"
                        .to_owned(),
                );
                http::HeaderName::from_static("x-forwarded-proto")
            }
            Some(raw) => match http::HeaderName::from_bytes(raw.to_ascii_lowercase().as_bytes()) {
                Ok(name) => name,
                Err(_) => {
                    errors.push(format!(
                        "ORIGINAL_PROTOCOL_HEADER: expected a header name, got {raw:?}"
                    ));
                    http::HeaderName::from_static("x-forwarded-proto")
                }
            },
        };
        let redis = redis_settings(&get, &mut errors);
        let server = super::server::ServerSettings::read(&get, &mut errors);
        let session_encryption_keys = encryption_keys(get("SESSION_ENCRYPTION_KEY"), &mut errors);
        let mongo = get("MONGO_DB_URL").map(|url| MongoSettings {
            url: Secret::new(url),
            database: get("USERS_DATABASE_NAME").unwrap_or_default(),
            collection: get("USERS_COLLECTION_NAME").unwrap_or_default(),
            properties: get("USERS_PROPERTIES_TO_SAVE")
                .map(|v| {
                    v.split(',')
                        .map(|p| p.trim().to_owned())
                        .filter(|p| !p.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        });
        if mongo.is_some() {
            errors.push(
                "MONGO_DB_URL: the MongoDB user sync is not available in this build; unset MONGO_DB_URL (see README, \"MongoDB sync\")"
                    .to_owned(),
            );
        }
        if !errors.is_empty() {
            return Err(EnvErrors(errors));
        }
        Ok(Settings {
            http_port,
            log_level,
            service_prefix,
            service_version,
            config_file,
            original_protocol_header,
            session_duration: Duration::from_secs(session_seconds),
            session_scope: get("SESSION_SCOPE").unwrap_or_default(),
            session_idle: (idle_seconds > 0).then(|| Duration::from_secs(idle_seconds)),
            redis,
            delay_shutdown: Duration::from_secs(delay_seconds),
            session_encryption_keys,
            mongo,
            server,
            trusted_proxy_hops,
            authorize_rate_limit,
            session_cache_size,
        })
    }
}

/// `REDIS_HOSTS`, `REDIS_MODE`, `REDIS_MASTER_NAME`, `REDIS_USERNAME`, `REDIS_PASSWORD`,
/// `REDIS_SENTINEL_USERNAME`, `REDIS_SENTINEL_PASSWORD`, `REDIS_TLS…`.
fn redis_settings(
    get: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<String>,
) -> Option<RedisSettings> {
    let mode_raw = get("REDIS_MODE").map(|v| v.to_ascii_lowercase());
    let hosts_raw = get("REDIS_HOSTS")?;
    let mut hosts = Vec::new();
    for entry in hosts_raw
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        match parse_host(entry) {
            Some(host) => hosts.push(host),
            None => errors.push(format!(
                "REDIS_HOSTS: expected comma-separated host[:port] entries, got {entry:?}"
            )),
        }
    }
    if hosts.is_empty() && errors.is_empty() {
        errors.push("REDIS_HOSTS: expected at least one host[:port]".to_owned());
    }
    let mode = match mode_raw.as_deref() {
        None | Some("normal") => RedisMode::Normal,
        Some("cluster") => RedisMode::Cluster,
        Some("sentinel") => match get("REDIS_MASTER_NAME") {
            Some(master_name) => RedisMode::Sentinel { master_name },
            None => {
                errors.push(
                    "REDIS_MASTER_NAME: required with REDIS_MODE=sentinel: the name of the master the sentinels watch"
                        .to_owned(),
                );
                RedisMode::Normal
            }
        },
        Some(other) => {
            errors.push(format!(
                "REDIS_MODE: expected normal, sentinel or cluster, got {other:?}"
            ));
            RedisMode::Normal
        }
    };
    let sentinel_auth = match (
        get("REDIS_SENTINEL_USERNAME"),
        get("REDIS_SENTINEL_PASSWORD"),
    ) {
        (None, None) => SentinelAuth::SameAsNodes,
        (username, password) => SentinelAuth::Own {
            username,
            password: password.map(Secret::new),
        },
    };
    let tls = RedisTls::from_env(get, errors);
    Some(RedisSettings {
        hosts,
        mode,
        username: get("REDIS_USERNAME"),
        password: get("REDIS_PASSWORD").map(Secret::new),
        sentinel_auth,
        tls,
    })
}

/// `host` or `host:port` (`[v6]:port` too); port 6379 by default.
fn parse_host(entry: &str) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        match after.strip_prefix(':') {
            Some(port) => (host, port.parse().ok()?),
            None if after.is_empty() => (host, 6379),
            None => return None,
        }
    } else {
        match entry.rsplit_once(':') {
            Some((host, port)) => (host, port.parse().ok()?),
            None => (entry, 6379),
        }
    };
    if host.is_empty() || port == 0 || host.contains(['/', ' ', '@']) {
        return None;
    }
    Some((host.to_owned(), port))
}

/// A 32-byte key of `SESSION_ENCRYPTION_KEY`, decoded once at startup. `Debug` prints `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptionKey([u8; 32]);

impl EncryptionKey {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw key, for the cipher.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Decodes standard or URL-safe base64, padded or not; `None` unless it is 32 bytes.
    pub fn decode(text: &str) -> Option<Self> {
        use base64::Engine as _;
        use base64::engine::general_purpose::{
            STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
        };
        let bytes = [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())?;
        bytes.try_into().ok().map(Self)
    }
}

impl std::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// `SESSION_ENCRYPTION_KEY`: comma-separated base64 keys of 32 bytes each.
fn encryption_keys(raw: Option<String>, errors: &mut Vec<String>) -> Vec<EncryptionKey> {
    let Some(raw) = raw else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    for (index, key) in raw.split(',').map(str::trim).enumerate() {
        match EncryptionKey::decode(key) {
            Some(key) => keys.push(key),
            None => errors.push(format!(
                "SESSION_ENCRYPTION_KEY: key #{} is not 32 bytes of base64 (make one with `openssl rand -base64 32`)",
                index + 1
            )),
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Result<Settings, EnvErrors> {
        let mut map: HashMap<String, String> = HashMap::from([
            ("SERVICE_CONFIG_PATH".to_owned(), "/etc/auth".to_owned()),
            ("SERVICE_CONFIG_FILE_NAME".to_owned(), "config".to_owned()),
            (
                "ORIGINAL_PROTOCOL_HEADER".to_owned(),
                "X-Forwarded-Proto".to_owned(),
            ),
        ]);
        for (k, v) in pairs {
            map.insert((*k).to_owned(), (*v).to_owned());
        }
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    fn error_of(pairs: &[(&str, &str)]) -> String {
        env(pairs).expect_err("refused").to_string()
    }

    #[test]
    fn defaults_apply_when_only_the_required_variables_are_set() {
        let s = env(&[]).unwrap();
        assert_eq!(s.http_port, 8080);
        assert_eq!(s.log_level, LogLevel::Info);
        assert_eq!(s.service_prefix, "");
        assert_eq!(s.config_file, PathBuf::from("/etc/auth/config.json"));
        assert_eq!(s.original_protocol_header, "x-forwarded-proto");
        assert_eq!(s.session_duration, Duration::from_secs(86_400));
        assert_eq!(s.delay_shutdown, Duration::from_secs(10));
        assert!(s.redis.is_none());
        assert!(s.session_encryption_keys.is_empty());
        assert_eq!(s.trusted_proxy_hops, 1);
        assert_eq!(s.authorize_rate_limit, 120);
    }

    #[test]
    fn the_session_cache_holds_ten_thousand_sessions_unless_told_and_zero_turns_it_off() {
        assert_eq!(env(&[]).unwrap().session_cache_size, 10_000);
        let off = env(&[("SESSION_CACHE_SIZE", "0")]).unwrap();
        assert_eq!(off.session_cache_size, 0);
        assert!(error_of(&[("SESSION_CACHE_SIZE", "-1")]).starts_with("SESSION_CACHE_SIZE:"));
        assert!(error_of(&[("SESSION_CACHE_SIZE", "20000000")]).starts_with("SESSION_CACHE_SIZE:"));
    }

    #[test]
    fn proxy_hops_and_the_authorize_rate_limit_are_bounded_numbers() {
        let s = env(&[("TRUSTED_PROXY_HOPS", "0"), ("AUTHORIZE_RATE_LIMIT", "0")]).unwrap();
        assert_eq!((s.trusted_proxy_hops, s.authorize_rate_limit), (0, 0));
        assert!(error_of(&[("TRUSTED_PROXY_HOPS", "17")]).starts_with("TRUSTED_PROXY_HOPS:"));
        assert!(error_of(&[("AUTHORIZE_RATE_LIMIT", "many")]).starts_with("AUTHORIZE_RATE_LIMIT:"));
    }

    #[test]
    fn missing_required_variables_are_each_named() {
        let error = Settings::from_lookup(|_| None).expect_err("refused").0;
        assert_eq!(error.len(), 3);
        assert!(error[0].starts_with("SERVICE_CONFIG_PATH:"));
        assert!(error[1].starts_with("SERVICE_CONFIG_FILE_NAME:"));
        assert!(error[2].starts_with("ORIGINAL_PROTOCOL_HEADER:"));
    }

    #[test]
    fn a_file_name_with_json_extension_is_kept_as_is() {
        let s = env(&[("SERVICE_CONFIG_FILE_NAME", "config.json")]).unwrap();
        assert_eq!(s.config_file, PathBuf::from("/etc/auth/config.json"));
    }

    #[test]
    fn bad_numbers_name_their_variable() {
        assert!(error_of(&[("HTTP_PORT", "70000")]).starts_with("HTTP_PORT:"));
        assert!(
            error_of(&[("SESSION_DURATION_SECONDS", "1d")])
                .starts_with("SESSION_DURATION_SECONDS:")
        );
        assert!(
            error_of(&[("DELAY_SHUTDOWN_SECONDS", "-1")]).starts_with("DELAY_SHUTDOWN_SECONDS:")
        );
        assert!(error_of(&[("LOG_LEVEL", "verbose")]).starts_with("LOG_LEVEL:"));
    }

    #[test]
    fn service_prefix_is_normalised() {
        assert_eq!(
            env(&[("SERVICE_PREFIX", "auth/")]).unwrap().service_prefix,
            "/auth"
        );
        assert_eq!(env(&[("SERVICE_PREFIX", "/")]).unwrap().service_prefix, "");
    }

    #[test]
    fn redis_hosts_default_to_port_6379() {
        let s = env(&[("REDIS_HOSTS", "a, b:6380,[::1]:7000")]).unwrap();
        let redis = s.redis.unwrap();
        assert_eq!(
            redis.hosts,
            vec![
                ("a".to_owned(), 6379),
                ("b".to_owned(), 6380),
                ("::1".to_owned(), 7000)
            ]
        );
        assert_eq!(redis.mode, RedisMode::Normal);
    }

    #[test]
    fn sentinel_mode_requires_a_master_name() {
        assert!(
            error_of(&[("REDIS_HOSTS", "s1"), ("REDIS_MODE", "sentinel")])
                .starts_with("REDIS_MASTER_NAME:")
        );
        let s = env(&[
            ("REDIS_HOSTS", "s1"),
            ("REDIS_MODE", "sentinel"),
            ("REDIS_MASTER_NAME", "m"),
        ])
        .unwrap();
        assert_eq!(
            s.redis.unwrap().mode,
            RedisMode::Sentinel {
                master_name: "m".to_owned()
            }
        );
    }

    #[test]
    fn sentinels_get_the_data_nodes_credentials_unless_their_own_are_set() {
        let base = [
            ("REDIS_HOSTS", "s1"),
            ("REDIS_MODE", "sentinel"),
            ("REDIS_MASTER_NAME", "m"),
            ("REDIS_PASSWORD", "node-pw"),
        ];
        let redis = env(&base).unwrap().redis.unwrap();
        assert_eq!(redis.sentinel_auth, SentinelAuth::SameAsNodes);
        let mut own = base.to_vec();
        own.push(("REDIS_SENTINEL_PASSWORD", "sentinel-pw"));
        let redis = env(&own).unwrap().redis.unwrap();
        assert_eq!(
            redis.sentinel_auth,
            SentinelAuth::Own {
                username: None,
                password: Some(Secret::new("sentinel-pw"))
            }
        );
        assert!(!format!("{redis:?}").contains("sentinel-pw"));
    }

    #[test]
    fn redis_tls_errors_are_lines_of_the_environment_errors() {
        let error = error_of(&[("REDIS_HOSTS", "a"), ("REDIS_TLS", "maybe")]);
        assert!(error.starts_with("REDIS_TLS:"), "{error}");
        assert!(
            env(&[("REDIS_HOSTS", "a"), ("REDIS_TLS", "true")])
                .unwrap()
                .redis
                .unwrap()
                .tls
                .is_some()
        );
    }

    #[test]
    fn unknown_redis_mode_and_bad_host_are_refused() {
        assert!(
            error_of(&[("REDIS_HOSTS", "a"), ("REDIS_MODE", "ring")]).starts_with("REDIS_MODE:")
        );
        assert!(error_of(&[("REDIS_HOSTS", "a:port")]).starts_with("REDIS_HOSTS:"));
    }

    #[test]
    fn encryption_keys_must_be_32_bytes_of_base64() {
        let good = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
        assert_eq!(
            env(&[("SESSION_ENCRYPTION_KEY", &format!("{good},{good}"))])
                .unwrap()
                .session_encryption_keys
                .len(),
            2
        );
        let error = error_of(&[("SESSION_ENCRYPTION_KEY", "c2hvcnQ=")]);
        assert!(error.starts_with("SESSION_ENCRYPTION_KEY:"));
        assert!(!error.contains("c2hvcnQ="), "the key is not echoed");
    }

    #[test]
    fn url_safe_and_unpadded_keys_decode_to_the_bytes_the_sealer_uses() {
        // 32 bytes whose standard base64 holds '+' and '/', so the URL-safe form differs.
        let bytes = [0xfb_u8; 32];
        let standard = "+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/s=";
        for text in [
            standard,
            "-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_s",
            "-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_s=",
        ] {
            let keys = env(&[("SESSION_ENCRYPTION_KEY", text)])
                .unwrap()
                .session_encryption_keys;
            assert_eq!(keys, vec![EncryptionKey::from_bytes(bytes)], "{text}");
        }
        assert_eq!(format!("{:?}", EncryptionKey::from_bytes(bytes)), "***");
    }

    #[test]
    fn mongo_sync_is_refused_with_a_clear_line() {
        assert!(error_of(&[("MONGO_DB_URL", "mongodb://x")]).starts_with("MONGO_DB_URL:"));
    }
}
