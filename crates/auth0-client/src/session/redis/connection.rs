//! One connection type for the three Redis modes, each reconnecting by itself.
//!
//! - normal: a [`ConnectionManager`] (reconnects in the background after I/O errors);
//! - sentinel: the master is asked of the sentinels (and checked with `ROLE`) and the
//!   connection is dropped on I/O errors or `READONLY`, so the next call follows a failover;
//! - cluster: a [`ClusterConnection`] (follows slot moves and node changes itself).
//!
//! Every mode runs over TLS with `REDIS_TLS=true` (see `tls`).
//!
//! Sentinel and cluster connections are made lazily: the service starts while Redis
//! is down and answers 503 until it comes.

use super::sentinel::SentinelResolver;
use super::tls::Nodes;
use crate::config::env::{RedisMode, RedisSettings, SentinelAuth};
use crate::tuning::StoreTimeouts;
use futures::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{
    AsyncConnectionConfig, Cmd, FromRedisValue, RedisConnectionInfo, RedisError, RedisResult,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A connection to the Redis deployment of [`RedisSettings`].
pub enum Connection {
    /// `REDIS_MODE=normal`.
    Normal(ConnectionManager),
    /// `REDIS_MODE=sentinel`.
    Sentinel(Reconnecting<MultiplexedConnection>),
    /// `REDIS_MODE=cluster`.
    Cluster(Reconnecting<ClusterConnection>),
}

impl Connection {
    /// Prepares the connection of `settings`, waiting as `timeouts` say; nothing is
    /// contacted yet.
    pub fn new(settings: &RedisSettings, timeouts: &StoreTimeouts) -> RedisResult<Self> {
        let username = settings.username.as_deref();
        let password = settings.password.as_ref().map(|p| p.expose());
        let credentials = credentials(username, password);
        let nodes = Nodes::new(settings.tls.as_ref());
        match &settings.mode {
            RedisMode::Normal => {
                let (host, port) = settings.hosts.first().cloned().ok_or_else(no_host)?;
                let client = nodes.client(nodes.info(host, port, &credentials)?)?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeouts.connect))
                    .set_response_timeout(Some(timeouts.response))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(200));
                Ok(Self::Normal(ConnectionManager::new_lazy_with_config(
                    client, config,
                )?))
            }
            RedisMode::Sentinel { master_name } => {
                let resolver = Arc::new(sentinel_resolver(
                    settings,
                    master_name,
                    credentials,
                    timeouts,
                )?);
                Ok(Self::Sentinel(Reconnecting::new(move || {
                    let resolver = resolver.clone();
                    Box::pin(async move { resolver.connect().await })
                })))
            }
            RedisMode::Cluster => {
                let seeds = settings
                    .hosts
                    .iter()
                    .map(|(host, port)| {
                        nodes.info(host.clone(), *port, &RedisConnectionInfo::default())
                    })
                    .collect::<RedisResult<Vec<_>>>()?;
                let mut builder = ClusterClientBuilder::new(seeds)
                    .connection_timeout(timeouts.connect)
                    .response_timeout(timeouts.response)
                    .retries(2);
                if let Some(username) = username {
                    builder = builder.username(username);
                }
                if let Some(password) = password {
                    builder = builder.password(password);
                }
                if let Some(certificates) = nodes.certificates() {
                    builder = builder.certs(certificates.clone());
                }
                let client = builder.build()?;
                Ok(Self::Cluster(Reconnecting::new(move || {
                    let client = client.clone();
                    Box::pin(async move { client.get_async_connection().await })
                })))
            }
        }
    }

    /// Runs `cmd` on the master that owns its key.
    pub async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> RedisResult<T> {
        match self {
            Self::Normal(manager) => cmd.query_async(&mut manager.clone()).await,
            Self::Sentinel(master) => {
                let (generation, mut connection) = master.get().await?;
                match cmd.query_async(&mut connection).await {
                    Err(error) if is_readonly(&error) => {
                        // The node was demoted by a failover: the command did not run,
                        // so ask the sentinels again and retry once.
                        master.forget(generation);
                        let (_, mut connection) = master.get().await?;
                        cmd.query_async(&mut connection).await
                    }
                    Err(error) => {
                        if error.is_io_error()
                            || error.is_unrecoverable_error()
                            || error.is_timeout()
                        {
                            master.forget(generation);
                        }
                        Err(error)
                    }
                    ok => ok,
                }
            }
            Self::Cluster(cluster) => {
                let (_, mut connection) = cluster.get().await?;
                cmd.query_async(&mut connection).await
            }
        }
    }
}

/// The resolver of `settings`' sentinels for `master_name`, connecting to the master
/// as `master_template` (its credentials), waiting as `timeouts` say.
pub(super) fn sentinel_resolver(
    settings: &RedisSettings,
    master_name: &str,
    master_template: RedisConnectionInfo,
    timeouts: &StoreTimeouts,
) -> RedisResult<SentinelResolver> {
    let nodes = Nodes::new(settings.tls.as_ref());
    let password = settings.password.as_ref().map(|p| p.expose());
    let (sentinel_credentials, retry_without_credentials) = match &settings.sentinel_auth {
        SentinelAuth::SameAsNodes => (
            credentials(settings.username.as_deref(), password),
            password.is_some(),
        ),
        SentinelAuth::Own { username, password } => (
            credentials(username.as_deref(), password.as_ref().map(|p| p.expose())),
            false,
        ),
    };
    let sentinels = settings
        .hosts
        .iter()
        .map(|(host, port)| nodes.info(host.clone(), *port, &sentinel_credentials))
        .collect::<RedisResult<Vec<_>>>()?;
    SentinelResolver::new(
        sentinels,
        retry_without_credentials,
        master_name.to_owned(),
        master_template,
        nodes,
        connection_config(timeouts),
        timeouts.sentinel,
    )
}

fn is_readonly(error: &RedisError) -> bool {
    error.code() == Some("READONLY")
}

pub(super) fn no_host() -> RedisError {
    RedisError::from((
        redis::ErrorKind::InvalidClientConfig,
        "REDIS_HOSTS names no host",
    ))
}

/// The connection and response timeouts of `timeouts`, for one node.
pub(super) fn connection_config(timeouts: &StoreTimeouts) -> AsyncConnectionConfig {
    AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeouts.connect))
        .set_response_timeout(Some(timeouts.response))
}

/// A connection template with `username` and `password`, when given.
pub(super) fn credentials(username: Option<&str>, password: Option<&str>) -> RedisConnectionInfo {
    let mut credentials = RedisConnectionInfo::default();
    if let Some(username) = username {
        credentials = credentials.set_username(username);
    }
    if let Some(password) = password {
        credentials = credentials.set_password(password);
    }
    credentials
}

type Connect<C> = Box<dyn Fn() -> BoxFuture<'static, RedisResult<C>> + Send + Sync>;

/// A connection made on first use, and made again after [`Reconnecting::forget`].
pub struct Reconnecting<C> {
    connect: Connect<C>,
    current: std::sync::Mutex<Option<(u64, C)>>,
    connecting: tokio::sync::Mutex<()>,
    generation: AtomicU64,
}

impl<C: Clone> Reconnecting<C> {
    fn new(
        connect: impl Fn() -> BoxFuture<'static, RedisResult<C>> + Send + Sync + 'static,
    ) -> Self {
        Self {
            connect: Box::new(connect),
            current: std::sync::Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            generation: AtomicU64::new(0),
        }
    }

    fn current(&self) -> Option<(u64, C)> {
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The current connection and its generation, connecting when there is none
    /// (one caller connects, the others wait for it).
    async fn get(&self) -> RedisResult<(u64, C)> {
        if let Some(current) = self.current() {
            return Ok(current);
        }
        let _connecting = self.connecting.lock().await;
        if let Some(current) = self.current() {
            return Ok(current);
        }
        let connection = (self.connect)().await?;
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let made = (generation, connection);
        *self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(made.clone());
        Ok(made)
    }

    /// Drops connection `generation` (unless a newer one replaced it already).
    fn forget(&self, generation: u64) {
        let mut current = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if current.as_ref().is_some_and(|(g, _)| *g == generation) {
            *current = None;
        }
    }
}
