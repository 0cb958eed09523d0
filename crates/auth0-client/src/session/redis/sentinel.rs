//! Finding the current master through the sentinels.
//!
//! Every sentinel is asked at once, each within the sentinel timeout ([`StoreTimeouts::sentinel`]), so one sentinel
//! that hangs or lags does not hold the others up; the addresses they name are tried
//! most-named first, and one is used only when it answers `ROLE` as a master (a
//! demoted node is never written to).
//!
//! [`StoreTimeouts::sentinel`]: crate::tuning::StoreTimeouts::sentinel

use super::tls::Nodes;
use futures::future::join_all;
use redis::aio::MultiplexedConnection;
use redis::{
    AsyncConnectionConfig, Client, ConnectionAddr, ConnectionInfo, ErrorKind, RedisConnectionInfo,
    RedisError, RedisResult, Value, cmd,
};
use std::time::Duration;

/// Asks sentinels for the master `master_name` and connects to it.
pub struct SentinelResolver {
    sentinels: Vec<Sentinel>,
    master_name: String,
    master_template: RedisConnectionInfo,
    nodes: Nodes,
    config: AsyncConnectionConfig,
    /// How long one sentinel may take to name the master.
    timeout: Duration,
}

/// One sentinel's clients, made once (a TLS client parses its certificates when made).
struct Sentinel {
    address: String,
    client: Client,
    /// The same without credentials, when the credentials are the data nodes' (no
    /// `REDIS_SENTINEL_*`): a sentinel that refuses them is asked again without any.
    open: Option<Client>,
}

/// A sentinel failed: marks the error so that it is explained as the sentinels' (see
/// `diagnose`), not the data nodes'.
#[derive(Debug, thiserror::Error)]
#[error("sentinel {address}: {cause}")]
pub struct SentinelFailure {
    /// `host:port` of the sentinel.
    pub address: String,
    /// What went wrong.
    #[source]
    pub cause: RedisError,
}

impl SentinelResolver {
    /// A resolver asking `sentinels` (with their credentials, each within `timeout`) for
    /// `master_name`, and connecting to it with `master_template`'s and `config`;
    /// `retry_without_credentials`: see [`Sentinel`].
    pub fn new(
        sentinels: Vec<ConnectionInfo>,
        retry_without_credentials: bool,
        master_name: String,
        master_template: RedisConnectionInfo,
        nodes: Nodes,
        config: AsyncConnectionConfig,
        timeout: Duration,
    ) -> RedisResult<Self> {
        let sentinels = sentinels
            .into_iter()
            .map(|info| {
                let address = match info.addr() {
                    ConnectionAddr::Tcp(host, port) | ConnectionAddr::TcpTls { host, port, .. } => {
                        format!("{host}:{port}")
                    }
                    other => format!("{other:?}"),
                };
                let open = if retry_without_credentials {
                    let info = info
                        .clone()
                        .set_redis_settings(RedisConnectionInfo::default());
                    Some(nodes.client(info)?)
                } else {
                    None
                };
                Ok(Sentinel {
                    address,
                    client: nodes.client(info)?,
                    open,
                })
            })
            .collect::<RedisResult<Vec<_>>>()?;
        Ok(Self {
            sentinels,
            master_name,
            master_template,
            nodes,
            config,
            timeout,
        })
    }

    /// A connection to the node the sentinels name as master, checked with `ROLE`.
    pub async fn connect(&self) -> RedisResult<MultiplexedConnection> {
        self.connect_with(&self.config).await
    }

    /// [`SentinelResolver::connect`], the master connection made with `config`.
    pub async fn connect_with(
        &self,
        config: &AsyncConnectionConfig,
    ) -> RedisResult<MultiplexedConnection> {
        let answers = join_all(self.sentinels.iter().map(|sentinel| self.ask(sentinel))).await;
        let mut named: Vec<((String, u16), usize)> = Vec::new();
        let mut last_error = None;
        for answer in answers {
            match answer {
                Ok(address) => match named.iter_mut().find(|(a, _)| *a == address) {
                    Some((_, votes)) => *votes += 1,
                    None => named.push((address, 1)),
                },
                Err(error) => last_error = Some(error),
            }
        }
        named.sort_by_key(|(_, votes)| std::cmp::Reverse(*votes));
        for ((host, port), _) in named {
            match self.connect_master(host, port, config).await {
                Ok(connection) => return Ok(connection),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| failure("no sentinel names the master")))
    }

    /// The master address `sentinel` names; its errors are marked [`SentinelFailure`].
    async fn ask(&self, sentinel: &Sentinel) -> RedisResult<(String, u16)> {
        let asked = match (self.ask_once(&sentinel.client).await, &sentinel.open) {
            (Err(refused), Some(open)) if refused.kind() == ErrorKind::AuthenticationFailed => {
                // When this fails too, the refusal is the cause worth reporting.
                self.ask_once(open).await.map_err(|_| refused)
            }
            (asked, _) => asked,
        };
        asked.map_err(|cause| {
            RedisError::from(std::io::Error::other(SentinelFailure {
                address: sentinel.address.clone(),
                cause,
            }))
        })
    }

    async fn ask_once(&self, client: &Client) -> RedisResult<(String, u16)> {
        let ask = async {
            let mut connection = client
                .get_multiplexed_async_connection_with_config(&self.config)
                .await?;
            let address: Option<(String, u16)> = cmd("SENTINEL")
                .arg("GET-MASTER-ADDR-BY-NAME")
                .arg(&self.master_name)
                .query_async(&mut connection)
                .await?;
            address.ok_or_else(|| failure("a sentinel does not know the master name"))
        };
        tokio::time::timeout(self.timeout, ask)
            .await
            .unwrap_or_else(|_| Err(failure("a sentinel did not answer in time")))
    }

    async fn connect_master(
        &self,
        host: String,
        port: u16,
        config: &AsyncConnectionConfig,
    ) -> RedisResult<MultiplexedConnection> {
        let info = self.nodes.info(host, port, &self.master_template)?;
        let mut connection = self
            .nodes
            .client(info)?
            .get_multiplexed_async_connection_with_config(config)
            .await?;
        let role: Vec<Value> = cmd("ROLE").query_async(&mut connection).await?;
        match role.first() {
            Some(Value::BulkString(role)) if role == b"master" => Ok(connection),
            _ => Err(failure("the node the sentinels name is not a master (yet)")),
        }
    }
}

fn failure(message: &'static str) -> RedisError {
    RedisError::from((redis::ErrorKind::Io, message))
}
