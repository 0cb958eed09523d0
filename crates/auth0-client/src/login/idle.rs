//! Idle timeout (`SESSION_IDLE_SECONDS`, off by default): a session not used for that
//! long ends, on top of its absolute duration.
//!
//! Each session tracking activity has an activity record in the store (its id stays
//! the same across rotations). A request records activity at most once per
//! [`IdleTimeout::touch_every`] per session and replica: the replica remembers when it
//! last did, so the hot path reads nothing more from the store in between. Because of
//! that, a session ends between `idle` and `idle + touch_every` after its last use,
//! never earlier.

use super::{Login, LoginError};
use crate::clock::Clock;
use crate::session::SessionHandle;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The longest time between two activity writes of one session (per replica).
pub const MAX_TOUCH_INTERVAL: Duration = Duration::from_secs(60);

/// The idle-timeout policy and this replica's memory of recent activity writes.
pub struct IdleTimeout {
    idle: Duration,
    touch_every: Duration,
    clock: Arc<dyn Clock>,
    recent: Mutex<Recent>,
}

#[derive(Default)]
struct Recent {
    touched_ms: HashMap<String, i64>,
    last_sweep_ms: i64,
}

impl std::fmt::Debug for IdleTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdleTimeout")
            .field("idle", &self.idle)
            .field("touch_every", &self.touch_every)
            .finish_non_exhaustive()
    }
}

impl IdleTimeout {
    /// Sessions end after `idle` without use; activity is written at most every
    /// min(60 s, idle / 10).
    pub fn new(idle: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            idle,
            touch_every: (idle / 10).min(MAX_TOUCH_INTERVAL),
            clock,
            recent: Mutex::new(Recent::default()),
        }
    }

    /// How often one replica writes one session's activity, at most.
    pub fn touch_every(&self) -> Duration {
        self.touch_every
    }

    /// The longest gap between two activity writes that still counts as in use.
    fn max_gap(&self) -> Duration {
        self.idle + self.touch_every
    }

    fn now_ms(&self) -> i64 {
        self.clock.unix_now_ms()
    }

    /// True when this replica wrote activity for `id` less than `touch_every` ago.
    fn recently_touched(&self, id: &str, now: i64) -> bool {
        let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        recent
            .touched_ms
            .get(id)
            .is_some_and(|at| now - at < millis(self.touch_every))
    }

    fn remember_touch(&self, id: &str, now: i64) {
        let every = millis(self.touch_every);
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if now - recent.last_sweep_ms >= every {
            recent.last_sweep_ms = now;
            recent.touched_ms.retain(|_, at| now - *at < every);
        }
        recent.touched_ms.insert(id.to_owned(), now);
    }

    fn forget(&self, id: &str) {
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        recent.touched_ms.remove(id);
    }

    /// Whether a record last active at `last_ms` still counts as in use now.
    pub fn is_live(&self, last_ms: i64) -> bool {
        self.now_ms() - last_ms <= millis(self.max_gap())
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl Login {
    /// The idle timeout, when `SESSION_IDLE_SECONDS` is set.
    pub fn idle_timeout(&self) -> Option<&IdleTimeout> {
        self.idle.as_ref()
    }

    /// For a new session: its activity record (started now), when the idle timeout is on.
    pub(super) async fn start_activity(&self) -> Result<Option<String>, LoginError> {
        let Some(idle) = &self.idle else {
            return Ok(None);
        };
        let id = uuid::Uuid::new_v4().simple().to_string();
        let now = idle.now_ms();
        self.sessions
            .start_activity(&id, now, idle.max_gap())
            .await?;
        idle.remember_touch(&id, now);
        Ok(Some(id))
    }

    /// Records a use of the session behind `handle`; ends it (`NoSession`) when it has
    /// been idle too long. Sessions without an activity record are never idle.
    pub(super) async fn check_activity(
        &self,
        handle: &SessionHandle,
        activity_id: Option<&str>,
    ) -> Result<(), LoginError> {
        let (Some(idle), Some(id)) = (&self.idle, activity_id) else {
            return Ok(());
        };
        let now = idle.now_ms();
        if idle.recently_touched(id, now) {
            return Ok(());
        }
        if self
            .sessions
            .touch_activity(id, now, idle.max_gap())
            .await?
        {
            idle.remember_touch(id, now);
            return Ok(());
        }
        idle.forget(id);
        if let Some(session) = self.sessions.delete_session(handle).await? {
            self.retire(&session, "idle").await;
        }
        Err(LoginError::NoSession)
    }
}
