//! Finding the current master through the sentinels.
//!
//! Every sentinel is asked at once, each within [`SENTINEL_TIMEOUT`], so one sentinel
//! that hangs or lags does not hold the others up; the addresses they name are tried
//! most-named first, and one is used only when it answers `ROLE` as a master (a
//! demoted node is never written to).

use super::tls::Nodes;
use futures::future::join_all;
use redis::aio::MultiplexedConnection;
use redis::{
    AsyncConnectionConfig, ConnectionInfo, ErrorKind, RedisConnectionInfo, RedisError, RedisResult,
    Value, cmd,
};
use std::time::Duration;

/// How long one sentinel may take to name the master.
const SENTINEL_TIMEOUT: Duration = Duration::from_millis(300);

/// Asks sentinels for the master `master_name` and connects to it.
pub struct SentinelResolver {
    /// The sentinels, with the credentials they are sent.
    pub sentinels: Vec<ConnectionInfo>,
    /// The credentials are the data nodes' (no `REDIS_SENTINEL_*`): a sentinel that
    /// refuses them is asked again without any (a sentinel without a password).
    pub retry_without_credentials: bool,
    /// `REDIS_MASTER_NAME`.
    pub master_name: String,
    /// Credentials for the master, as a connection template.
    pub master_template: RedisConnectionInfo,
    /// Plain TCP or TLS, for the sentinels and the master alike.
    pub nodes: Nodes,
    /// Timeouts of the master connection.
    pub config: AsyncConnectionConfig,
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
    /// A connection to the node the sentinels name as master, checked with `ROLE`.
    pub async fn connect(&self) -> RedisResult<MultiplexedConnection> {
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
            match self.connect_master(host, port).await {
                Ok(connection) => return Ok(connection),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| failure("no sentinel names the master")))
    }

    /// The master address `sentinel` names; its errors are marked [`SentinelFailure`].
    async fn ask(&self, sentinel: &ConnectionInfo) -> RedisResult<(String, u16)> {
        let asked = match self.ask_once(sentinel).await {
            Err(refused)
                if self.retry_without_credentials
                    && refused.kind() == ErrorKind::AuthenticationFailed =>
            {
                let open = sentinel
                    .clone()
                    .set_redis_settings(RedisConnectionInfo::default());
                // When this fails too, the refusal is the cause worth reporting.
                self.ask_once(&open).await.map_err(|_| refused)
            }
            asked => asked,
        };
        asked.map_err(|cause| {
            let address = match sentinel.addr() {
                redis::ConnectionAddr::Tcp(host, port)
                | redis::ConnectionAddr::TcpTls { host, port, .. } => format!("{host}:{port}"),
                other => format!("{other:?}"),
            };
            RedisError::from(std::io::Error::other(SentinelFailure { address, cause }))
        })
    }

    async fn ask_once(&self, sentinel: &ConnectionInfo) -> RedisResult<(String, u16)> {
        let ask = async {
            let client = self.nodes.client(sentinel.clone())?;
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
        tokio::time::timeout(SENTINEL_TIMEOUT, ask)
            .await
            .unwrap_or_else(|_| Err(failure("a sentinel did not answer in time")))
    }

    async fn connect_master(&self, host: String, port: u16) -> RedisResult<MultiplexedConnection> {
        let info = self.nodes.info(host, port, &self.master_template)?;
        let mut connection = self
            .nodes
            .client(info)?
            .get_multiplexed_async_connection_with_config(&self.config)
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
