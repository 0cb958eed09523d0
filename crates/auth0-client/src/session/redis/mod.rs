//! Redis backend (normal, sentinel, cluster): every call bounded in time.
//!
//! A Redis that does not answer yields [`StoreError::Unavailable`] within the
//! operation timeout ([`StoreTimeouts::operation`]); nothing is ever deleted because a read failed, and the
//! connection comes back by itself when Redis does.

mod connection;
mod diagnose;
mod index;
mod keys;
mod sentinel;
mod tls;
mod tracking;

pub use keys::Keys;
pub use tracking::TrackingConnector;

use super::StoreError;
use super::backend::{Backend, millis, now_ms};
use crate::config::env::RedisSettings;
use crate::tuning::StoreTimeouts;
use async_trait::async_trait;
use connection::Connection;
use diagnose::Diagnosis;
use redis::{Cmd, FromRedisValue, RedisError, cmd};
use std::time::Duration;

/// How many of a user's session keys one cleanup round looks at.
const CLEANUP_SAMPLE: usize = 8;

/// Deletes a lock only when it still holds the caller's token.
const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

/// Adds a session key to a user's set and pushes the set's expiry to the session's
/// (never pulls it earlier). ARGV: session key, its expiry (Unix ms), now (Unix ms).
const INDEX_SESSION: &str = r"
redis.call('SADD', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 or tonumber(ARGV[3]) + ttl < tonumber(ARGV[2]) then
  redis.call('PEXPIREAT', KEYS[1], ARGV[2])
end
return 1";

/// Sessions, states and locks in Redis, under one `SESSION_SCOPE`.
pub struct RedisBackend {
    connection: Connection,
    /// The longest one call may take before the store counts as unavailable.
    operation_timeout: Duration,
    keys: Keys,
    diagnosis: Diagnosis,
}

impl RedisBackend {
    /// Prepares the backend for `settings` under `scope` with the default timeouts; Redis is
    /// contacted on first use.
    pub fn new(settings: &RedisSettings, scope: &str) -> Result<Self, StoreError> {
        Self::with_timeouts(settings, scope, &StoreTimeouts::default())
    }

    /// [`RedisBackend::new`], waiting as `timeouts` say.
    pub fn with_timeouts(
        settings: &RedisSettings,
        scope: &str,
        timeouts: &StoreTimeouts,
    ) -> Result<Self, StoreError> {
        let connection = Connection::new(settings, timeouts)
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Self {
            connection,
            operation_timeout: timeouts.operation,
            keys: Keys::new(scope),
            diagnosis: Diagnosis::new(settings),
        })
    }

    async fn run<T: FromRedisValue>(&self, command: &Cmd) -> Result<T, StoreError> {
        match tokio::time::timeout(self.operation_timeout, self.connection.query(command)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(map_error(&error, self.diagnosis.explain(&error))),
            Err(_) => Err(StoreError::Unavailable(format!(
                "no answer within {:?}",
                self.operation_timeout
            ))),
        }
    }

    async fn is_live_session(&self, key: &str) -> Result<bool, StoreError> {
        self.run(cmd("EXISTS").arg(self.keys.session(key))).await
    }
}

/// `error`, told as `explained`, as the store's error.
fn map_error(error: &RedisError, explained: String) -> StoreError {
    match error.kind() {
        redis::ErrorKind::UnexpectedReturnType | redis::ErrorKind::Parse => {
            StoreError::Corrupt(explained)
        }
        _ => StoreError::Unavailable(explained),
    }
}

fn eval(script: &str, key: String) -> Cmd {
    let mut command = cmd("EVAL");
    command.arg(script).arg(1).arg(key);
    command
}

#[async_trait]
impl Backend for RedisBackend {
    async fn set_session(
        &self,
        key: &str,
        record: Vec<u8>,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        let session = self.keys.session(key);
        let lifetime_ms = expires_at_ms - now_ms();
        if lifetime_ms <= 0 {
            return self.run(cmd("DEL").arg(session)).await;
        }
        // A relative TTL: Redis's clock does not matter, only ours.
        self.run(
            cmd("SET")
                .arg(session)
                .arg(record)
                .arg("PX")
                .arg(lifetime_ms),
        )
        .await
    }

    async fn get_session(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.run(cmd("GET").arg(self.keys.session(key))).await
    }

    async fn replace_session(
        &self,
        key: &str,
        record: Vec<u8>,
        expires_at_ms: Option<i64>,
    ) -> Result<bool, StoreError> {
        let mut command = cmd("SET");
        command.arg(self.keys.session(key)).arg(record).arg("XX");
        match expires_at_ms {
            Some(at) => command.arg("PX").arg((at - now_ms()).max(1)),
            None => command.arg("KEEPTTL"),
        };
        let answer: Option<String> = self.run(&command).await?;
        Ok(answer.is_some())
    }

    async fn remove_session(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.run(cmd("GETDEL").arg(self.keys.session(key))).await
    }

    async fn index_session(
        &self,
        user_id: &str,
        key: &str,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        let sessions = self.keys.user_sessions(user_id);
        let _: i64 = self
            .run(
                eval(INDEX_SESSION, sessions)
                    .arg(key)
                    .arg(expires_at_ms)
                    .arg(now_ms()),
            )
            .await?;
        let _: Option<i64> = self
            .run(
                cmd("ZADD")
                    .arg(self.keys.active_users())
                    .arg("GT")
                    .arg(expires_at_ms)
                    .arg(user_id),
            )
            .await?;
        Ok(())
    }

    async fn unindex_session(&self, user_id: &str, key: &str) -> Result<(), StoreError> {
        let sessions = self.keys.user_sessions(user_id);
        let _: i64 = self.run(cmd("SREM").arg(&sessions).arg(key)).await?;
        // Lazy cleanup, amortised O(1) per session: sample the user's keys, drop the
        // expired ones, stop at the first live one; drop the user when none is left.
        loop {
            let sample: Vec<String> = self
                .run(cmd("SRANDMEMBER").arg(&sessions).arg(CLEANUP_SAMPLE))
                .await?;
            if sample.is_empty() {
                let _: i64 = self
                    .run(cmd("ZREM").arg(self.keys.active_users()).arg(user_id))
                    .await?;
                return Ok(());
            }
            for member in sample {
                if self.is_live_session(&member).await? {
                    return Ok(());
                }
                let _: i64 = self.run(cmd("SREM").arg(&sessions).arg(&member)).await?;
            }
        }
    }

    async fn prune_index(&self, user_id: &str) -> Result<(), StoreError> {
        // One sample (every entry of a user with few sessions), all of it checked.
        let sessions = self.keys.user_sessions(user_id);
        let sample: Vec<String> = self
            .run(cmd("SRANDMEMBER").arg(&sessions).arg(CLEANUP_SAMPLE))
            .await?;
        for member in sample {
            if !self.is_live_session(&member).await? {
                let _: i64 = self.run(cmd("SREM").arg(&sessions).arg(&member)).await?;
            }
        }
        Ok(())
    }

    async fn remove_user_sessions(&self, user_id: &str) -> Result<usize, StoreError> {
        let sessions = self.keys.user_sessions(user_id);
        let members: Vec<String> = self.run(cmd("SMEMBERS").arg(&sessions)).await?;
        let mut ended = 0;
        for member in members {
            // One DEL per key: in cluster mode the keys live on different slots.
            let removed: i64 = self.run(cmd("DEL").arg(self.keys.session(&member))).await?;
            ended += usize::try_from(removed).unwrap_or(0);
        }
        let _: i64 = self.run(cmd("DEL").arg(&sessions)).await?;
        let _: i64 = self
            .run(cmd("ZREM").arg(self.keys.active_users()).arg(user_id))
            .await?;
        Ok(ended)
    }

    async fn active_users(&self) -> Result<Vec<String>, StoreError> {
        let index = self.keys.active_users();
        let now = now_ms();
        let _: i64 = self
            .run(cmd("ZREMRANGEBYSCORE").arg(&index).arg("-inf").arg(now))
            .await?;
        self.run(cmd("ZRANGE").arg(&index).arg(0).arg(-1)).await
    }

    async fn set_state(
        &self,
        key: &str,
        record: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let answer: Option<String> = self
            .run(
                cmd("SET")
                    .arg(self.keys.state(key))
                    .arg(record)
                    .arg("NX")
                    .arg("PX")
                    .arg(millis(ttl)),
            )
            .await?;
        Ok(answer.is_some())
    }

    async fn take_state(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.run(cmd("GETDEL").arg(self.keys.state(key))).await
    }

    async fn try_lock(&self, name: &str, token: &str, lease: Duration) -> Result<bool, StoreError> {
        let answer: Option<String> = self
            .run(
                cmd("SET")
                    .arg(self.keys.lock(name))
                    .arg(token)
                    .arg("NX")
                    .arg("PX")
                    .arg(millis(lease)),
            )
            .await?;
        Ok(answer.is_some())
    }

    async fn unlock(&self, name: &str, token: &str) -> Result<(), StoreError> {
        let _: i64 = self
            .run(eval(UNLOCK, self.keys.lock(name)).arg(token))
            .await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let _: String = self.run(&cmd("PING")).await?;
        Ok(())
    }
}
