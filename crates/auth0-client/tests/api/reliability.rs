//! Integration tests: what the fault harness (`bench/faults.sh`) found, pinned at the store.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::sessions::session_of;
use crate::support::redis::RedisServer;
use auth0_client::config::env::{RedisMode, RedisSettings};
use auth0_client::session::redis::{Keys, RedisBackend};
use auth0_client::session::{SessionHandle, SessionStore, Store};
use std::time::{Duration, Instant};

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Until `key` is gone from `server` (its TTL ran out), at most 5 s.
async fn wait_until_gone(server: &RedisServer, key: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.cli(&["EXISTS", key]).await.trim() != "0" {
        assert!(Instant::now() < deadline, "{key} did not expire");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The soak found one stale entry per explicit refresh in the user's index: a rotation
/// kept the old handle's entry after its grace ended, so the index of a user who refreshes
/// often grew until the whole set expired with the session.
#[tokio::test]
async fn rotations_leave_no_stale_index_entries_behind() {
    let server = RedisServer::start().await;
    let scope = unique("scope");
    let settings = RedisSettings {
        hosts: vec![("127.0.0.1".into(), server.port())],
        mode: RedisMode::Normal,
        username: None,
        password: None,
        sentinel_auth: Default::default(),
        tls: None,
    };
    let store = Store::with_backend(RedisBackend::new(&settings, &scope).unwrap());
    let keys = Keys::new(&scope);
    let user = unique("auth0|rotating");
    let session = session_of(&user, 3600);
    let mut current = SessionHandle::new(unique("handle"));
    store.put_session(&current, &session).await.unwrap();
    let mut rotated_away = Vec::new();
    for _ in 0..5 {
        let next = SessionHandle::new(unique("handle"));
        store
            .rotate_session(&current, &next, &session, Duration::from_millis(1))
            .await
            .unwrap();
        wait_until_gone(&server, &keys.session(&current.key())).await;
        rotated_away.push(current.key());
        current = next;
    }

    let members = server.cli(&["SMEMBERS", &keys.user_sessions(&user)]).await;
    let members: Vec<&str> = members.lines().map(str::trim).collect();
    assert!(members.contains(&current.key().as_str()), "{members:?}");
    // The handle rotated away last was still in its grace at the last rotation; every
    // earlier one is gone from the index.
    let stale: Vec<&String> = rotated_away[..rotated_away.len() - 1]
        .iter()
        .filter(|key| members.contains(&key.as_str()))
        .collect();
    assert!(stale.is_empty(), "stale entries {stale:?} in {members:?}");
    assert!(members.len() <= 2, "{members:?}");
}
