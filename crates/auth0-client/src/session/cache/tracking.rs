//! The tracking connection of the session cache: one RESP3 connection to the master
//! with `CLIENT TRACKING ON BCAST PREFIX <session prefix>`, whose invalidation pushes
//! evict entries, whose loss flushes the cache, and on which misses are read.
//!
//! Pushes are handled synchronously in the connection's reader (before any later reply
//! on it is delivered), so when a heartbeat's answer arrives, every invalidation Redis
//! sent before it has been applied: each answered heartbeat renews the cache's lease
//! for [`LEASE`]. A heartbeat unanswered within [`HEARTBEAT_TIMEOUT`], a reply that
//! names a node other than a master, an error or a disconnection ends the connection:
//! the cache goes dark (flushed, no hits) until tracking is on again on a new one
//! (asked of the sentinels again in sentinel mode).

use super::map::{CacheMap, Snapshot, deadline};
use crate::session::redis::{Keys, TrackingConnector};
use redis::aio::MultiplexedConnection;
use redis::{PushInfo, PushKind, RedisResult, Value, cmd, pipe};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How often the tracking connection is checked.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long a heartbeat may take before the connection counts as lost.
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long after a heartbeat was sent its answer lets hits be served: past this
/// without a newer answer, no hit is served (the guarantee's bound).
pub const LEASE: Duration = Duration::from_secs(2);
/// How long connecting and enabling tracking may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest a miss read on the tracking connection may take (then the store reads).
const READ_TIMEOUT: Duration = Duration::from_millis(750);
/// First and longest pause between two attempts to connect.
const RETRY: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(2));

/// What the cache and the tracking task share.
pub struct Tracking {
    map: Arc<CacheMap>,
    keys: Keys,
    /// The connection whose tracking is on, with its generation.
    current: Mutex<Option<(u64, MultiplexedConnection)>>,
    /// Bumped when a connection is given up: pushes of older ones are ignored.
    generation: AtomicU64,
}

/// A record read on a miss, with how long Redis keeps it.
pub struct Fetched {
    /// The raw record.
    pub record: Vec<u8>,
    /// When the key expires, measured from before the read was sent (so never later
    /// than Redis' own expiry); `None` when it has no expiry (then it is not cached).
    pub expires: Option<Instant>,
}

impl Tracking {
    /// Shares `map`, and runs the tracking connection in the background (until the
    /// returned value is dropped).
    pub fn start(map: Arc<CacheMap>, keys: Keys, connector: TrackingConnector) -> Arc<Self> {
        let tracking = Arc::new(Self {
            map,
            keys,
            current: Mutex::new(None),
            generation: AtomicU64::new(0),
        });
        tokio::spawn(run(Arc::downgrade(&tracking), connector));
        tracking
    }

    /// The session record of handle hash `key` (and its expiry), read on the tracking
    /// connection; `None` when tracking is not on (the caller reads through the store).
    pub async fn read(&self, key: &str) -> Option<RedisResult<Option<Fetched>>> {
        let (_, mut connection) = self.lock().clone()?;
        let key = self.keys.session(key);
        let sent = Instant::now();
        let mut query = pipe();
        query.cmd("GET").arg(&key).cmd("PTTL").arg(&key);
        let read = tokio::time::timeout(
            READ_TIMEOUT,
            query.query_async::<(Option<Vec<u8>>, i64)>(&mut connection),
        )
        .await;
        Some(match read {
            Ok(Ok((record, pttl))) => Ok(record.map(|record| Fetched {
                record,
                expires: u64::try_from(pttl)
                    .ok()
                    .map(|ms| deadline(sent, Duration::from_millis(ms))),
            })),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "tracking connection: no answer in time",
            ))),
        })
    }

    /// The map's state before a miss read, when entries may be inserted.
    pub fn snapshot(&self) -> Option<Snapshot> {
        self.map.snapshot()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(u64, MultiplexedConnection)>> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Handles one push of connection `generation`.
    fn on_push(&self, generation: u64, push: PushInfo) {
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        match push.kind {
            PushKind::Invalidate => match push.data.first() {
                Some(Value::Array(named)) => {
                    let keys: Vec<&str> = named
                        .iter()
                        .filter_map(|value| match value {
                            Value::BulkString(bytes) => std::str::from_utf8(bytes).ok(),
                            Value::SimpleString(text) => Some(text.as_str()),
                            _ => None,
                        })
                        .filter_map(|key| self.keys.session_of(key))
                        .collect();
                    crate::metrics::session_cache_invalidations(named.len());
                    self.map.invalidate(keys);
                    crate::metrics::session_cache_entries(self.map.entries());
                }
                // FLUSHALL / FLUSHDB: Redis names no key.
                Some(Value::Nil) => {
                    self.map.flush();
                    crate::metrics::session_cache_flush();
                    crate::metrics::session_cache_entries(0);
                }
                _ => {}
            },
            PushKind::Disconnection => self.retire(generation),
            _ => {}
        }
    }

    /// Gives up connection `generation` (if still current): the cache goes dark.
    fn retire(&self, generation: u64) {
        if self
            .generation
            .compare_exchange(
                generation,
                generation + 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            )
            .is_err()
        {
            return;
        }
        let was_live = self.map.is_live();
        self.map.go_dark();
        let dropped = self.lock().take();
        drop(dropped);
        if was_live {
            tracing::warn!(
                "session cache: tracking connection lost; cache emptied, reads go to Redis until it is back"
            );
            crate::metrics::session_cache_flush();
            crate::metrics::session_cache_entries(0);
        }
    }

    fn go_live(&self, generation: u64, connection: MultiplexedConnection, lease_until: Instant) {
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        *self.lock() = Some((generation, connection));
        self.map.go_live(lease_until);
    }
}

/// Connects, enables tracking, checks the connection every [`HEARTBEAT`]; again and
/// again, until the cache is dropped.
async fn run(tracking: Weak<Tracking>, connector: TrackingConnector) {
    let mut pause = RETRY.0;
    loop {
        let Some(generation) = tracking
            .upgrade()
            .map(|t| t.generation.load(Ordering::SeqCst))
        else {
            return;
        };
        let (lost, mut lost_seen) = mpsc::unbounded_channel::<()>();
        let pushes = {
            let tracking = tracking.clone();
            move |push: PushInfo| -> Result<(), Infallible> {
                let disconnected = push.kind == PushKind::Disconnection;
                if let Some(tracking) = tracking.upgrade() {
                    tracking.on_push(generation, push);
                }
                if disconnected {
                    let _ = lost.send(());
                }
                Ok(())
            }
        };
        match connect(&connector, pushes, &tracking, generation).await {
            Ok(mut connection) => {
                pause = RETRY.0;
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(HEARTBEAT) => {}
                        _ = lost_seen.recv() => break,
                    }
                    let sent = Instant::now();
                    let Some(tracking) = tracking.upgrade() else {
                        return;
                    };
                    match tokio::time::timeout(HEARTBEAT_TIMEOUT, is_master(&mut connection)).await
                    {
                        Ok(Ok(true)) => tracking.map.renew(sent + LEASE),
                        _ => break,
                    }
                }
            }
            Err(error) if pause == RETRY.0 => {
                tracing::warn!(%error, "session cache: tracking connection failed; serving without the cache until it is back");
            }
            Err(error) => {
                tracing::debug!(%error, "session cache: tracking connection failed again")
            }
        }
        let Some(strong) = tracking.upgrade() else {
            return;
        };
        strong.retire(generation);
        drop(strong);
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(RETRY.1);
    }
}

/// A new connection of `generation` with tracking on, made current.
async fn connect(
    connector: &TrackingConnector,
    pushes: impl redis::aio::AsyncPushSender,
    tracking: &Weak<Tracking>,
    generation: u64,
) -> RedisResult<MultiplexedConnection> {
    let prefix = match tracking.upgrade() {
        Some(tracking) => tracking.keys.session_prefix(),
        None => return Err(redis::RedisError::from((redis::ErrorKind::Io, "stopped"))),
    };
    let enable = async {
        let mut connection = connector.connect(pushes).await?;
        let _: () = cmd("CLIENT")
            .arg("SETNAME")
            .arg("auth0-client-session-cache")
            .query_async(&mut connection)
            .await?;
        let _: () = cmd("CLIENT")
            .arg("TRACKING")
            .arg("ON")
            .arg("BCAST")
            .arg("PREFIX")
            .arg(&prefix)
            .query_async(&mut connection)
            .await?;
        RedisResult::Ok(connection)
    };
    let sent = Instant::now();
    let connection = tokio::time::timeout(CONNECT_TIMEOUT, enable)
        .await
        .unwrap_or_else(|_| {
            Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "no answer in time",
            )))
        })?;
    if let Some(tracking) = tracking.upgrade() {
        tracking.go_live(generation, connection.clone(), sent + LEASE);
        tracing::info!("session cache: tracking on");
    }
    Ok(connection)
}

/// Whether the node behind `connection` still answers as a master.
async fn is_master(connection: &mut MultiplexedConnection) -> RedisResult<bool> {
    let role: Vec<Value> = cmd("ROLE").query_async(connection).await?;
    Ok(matches!(role.first(), Some(Value::BulkString(role)) if role == b"master"))
}
