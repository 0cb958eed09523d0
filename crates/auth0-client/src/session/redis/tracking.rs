//! Fresh RESP3 connections to the master, for the session cache's tracking connection
//! (`session::cache`): same nodes, TLS and credentials as the store's own connections.

use super::connection::{connection_config, credentials, no_host, sentinel_resolver};
use super::sentinel::SentinelResolver;
use super::tls::Nodes;
use crate::config::env::{RedisMode, RedisSettings};
use crate::tuning::StoreTimeouts;
use redis::aio::{AsyncPushSender, MultiplexedConnection};
use redis::{Client, ProtocolVersion, RedisResult};

/// Makes a new connection to the current master each time it is asked.
pub struct TrackingConnector {
    nodes: Master,
    timeouts: StoreTimeouts,
}

enum Master {
    /// `REDIS_MODE=normal`: the one host.
    Normal(Client),
    /// `REDIS_MODE=sentinel`: the master the sentinels name now.
    Sentinel(SentinelResolver),
}

impl TrackingConnector {
    /// The connector of `settings`, waiting as `timeouts` say; `None` in cluster mode (see
    /// the README: no cache there).
    pub fn new(settings: &RedisSettings, timeouts: &StoreTimeouts) -> RedisResult<Option<Self>> {
        let password = settings.password.as_ref().map(|p| p.expose());
        let template = credentials(settings.username.as_deref(), password)
            .set_protocol(ProtocolVersion::RESP3);
        let nodes = match &settings.mode {
            RedisMode::Normal => {
                let nodes = Nodes::new(settings.tls.as_ref());
                let (host, port) = settings.hosts.first().cloned().ok_or_else(no_host)?;
                Master::Normal(nodes.client(nodes.info(host, port, &template)?)?)
            }
            RedisMode::Sentinel { master_name } => Master::Sentinel(sentinel_resolver(
                settings,
                master_name,
                template,
                timeouts,
            )?),
            RedisMode::Cluster => return Ok(None),
        };
        Ok(Some(Self {
            nodes,
            timeouts: *timeouts,
        }))
    }

    /// A new RESP3 connection to the master whose pushes go to `pushes`.
    pub async fn connect(
        &self,
        pushes: impl AsyncPushSender,
    ) -> RedisResult<MultiplexedConnection> {
        let config = connection_config(&self.timeouts).set_push_sender(pushes);
        match &self.nodes {
            Master::Normal(client) => {
                client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
            }
            Master::Sentinel(resolver) => resolver.connect_with(&config).await,
        }
    }
}
