//! [`IndexBackend`] in Redis. Each operation touches one key (hash-tagged on its own
//! id), so it stays on one slot in cluster mode.

use super::{INDEX_SESSION, RedisBackend, eval};
use crate::session::StoreError;
use crate::session::backend::{millis, now_ms};
use crate::session::index::IndexBackend;
use async_trait::async_trait;
use redis::cmd;
use std::time::Duration;

/// Moves an activity record to ARGV[1] (ms) when it exists and is at most ARGV[2] ms
/// old; keeps it ARGV[2] ms more. Answers 1 when it was live, 0 when idle or absent.
const TOUCH_ACTIVITY: &str = r"
local last = redis.call('GET', KEYS[1])
if not last then return 0 end
local now, gap = tonumber(ARGV[1]), tonumber(ARGV[2])
if now - tonumber(last) > gap then return 0 end
if now > tonumber(last) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1";

#[async_trait]
impl IndexBackend for RedisBackend {
    async fn index_sid(&self, sid: &str, key: &str, expires_at_ms: i64) -> Result<(), StoreError> {
        let _: i64 = self
            .run(
                eval(INDEX_SESSION, self.keys.sid_sessions(sid))
                    .arg(key)
                    .arg(expires_at_ms)
                    .arg(now_ms()),
            )
            .await?;
        Ok(())
    }

    async fn unindex_sid(&self, sid: &str, key: &str) -> Result<(), StoreError> {
        let _: i64 = self
            .run(cmd("SREM").arg(self.keys.sid_sessions(sid)).arg(key))
            .await?;
        Ok(())
    }

    async fn sid_session_keys(&self, sid: &str) -> Result<Vec<String>, StoreError> {
        self.run(cmd("SMEMBERS").arg(self.keys.sid_sessions(sid)))
            .await
    }

    async fn user_session_keys(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        self.run(cmd("SMEMBERS").arg(self.keys.user_sessions(user_id)))
            .await
    }

    async fn remember_once(&self, name: &str, ttl: Duration) -> Result<bool, StoreError> {
        let answer: Option<String> = self
            .run(
                cmd("SET")
                    .arg(self.keys.seen(name))
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(millis(ttl)),
            )
            .await?;
        Ok(answer.is_some())
    }

    async fn is_remembered(&self, name: &str) -> Result<bool, StoreError> {
        self.run(cmd("EXISTS").arg(self.keys.seen(name))).await
    }

    async fn start_activity(
        &self,
        id: &str,
        now_ms_at: i64,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.run(
            cmd("SET")
                .arg(self.keys.activity(id))
                .arg(now_ms_at)
                .arg("PX")
                .arg(millis(ttl)),
        )
        .await
    }

    async fn touch_activity(
        &self,
        id: &str,
        now_ms_at: i64,
        max_gap: Duration,
    ) -> Result<bool, StoreError> {
        let live: i64 = self
            .run(
                eval(TOUCH_ACTIVITY, self.keys.activity(id))
                    .arg(now_ms_at)
                    .arg(millis(max_gap)),
            )
            .await?;
        Ok(live == 1)
    }

    async fn last_activity(&self, id: &str) -> Result<Option<i64>, StoreError> {
        self.run(cmd("GET").arg(self.keys.activity(id))).await
    }
}
