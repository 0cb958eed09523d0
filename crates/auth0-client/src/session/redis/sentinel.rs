//! Finding the current master through the sentinels.
//!
//! Every sentinel is asked at once, each within [`SENTINEL_TIMEOUT`], so one sentinel
//! that hangs or lags does not hold the others up; the addresses they name are tried
//! most-named first, and one is used only when it answers `ROLE` as a master (a
//! demoted node is never written to).

use futures::future::join_all;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, ConnectionInfo, RedisError, RedisResult, Value, cmd};
use std::time::Duration;

/// How long one sentinel may take to name the master.
const SENTINEL_TIMEOUT: Duration = Duration::from_millis(300);

/// Asks sentinels for the master `master_name` and connects to it.
pub struct SentinelResolver {
    /// The sentinels (no credentials: `REDIS_USERNAME`/`PASSWORD` are the data nodes').
    pub sentinels: Vec<ConnectionInfo>,
    /// `REDIS_MASTER_NAME`.
    pub master_name: String,
    /// Credentials for the master, as a connection template.
    pub master_template: redis::RedisConnectionInfo,
    /// Timeouts of the master connection.
    pub config: AsyncConnectionConfig,
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

    async fn ask(&self, sentinel: &ConnectionInfo) -> RedisResult<(String, u16)> {
        let ask = async {
            let client = Client::open(sentinel.clone())?;
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
        let info = super::connection::node_info(host, port, &self.master_template)?;
        let mut connection = Client::open(info)?
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
