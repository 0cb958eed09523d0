//! Integration tests: sessions.
//!
//! One suite of store behaviours runs against every backend: memory, Redis (normal,
//! with ACL credentials, sealed), Sentinel and Cluster, all real processes spawned by
//! `support::redis`. Then the fault tests: failover, outage and recovery.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::redis::{Acl, RedisCluster, RedisSentinelSet, RedisServer, SENTINEL_MASTER};
use crate::support::wait::{PATIENCE, until, whole_ms_between};
use auth0_client::config::env::{EncryptionKey, RedisMode, RedisSettings};
use auth0_client::secret::Secret;
use auth0_client::session::redis::RedisBackend;
use auth0_client::session::seal::Sealer;
use auth0_client::session::{
    AuthState, MemoryStore, Session, SessionHandle, SessionStore, Store, StoreError,
};
use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A store under test, and the processes it runs on.
pub struct Fixture {
    /// The store.
    pub store: Arc<dyn SessionStore>,
    _processes: Box<dyn Any + Send>,
}

impl Fixture {
    /// `store`, keeping `processes` alive as long as the fixture.
    pub fn new(store: Arc<dyn SessionStore>, processes: impl Any + Send) -> Fixture {
        Fixture {
            store,
            _processes: Box::new(processes),
        }
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A session of `user_id` that lives `seconds` more.
pub fn session_of(user_id: &str, seconds: i64) -> Session {
    let now = unix_now();
    Session {
        client_type: "token".into(),
        user_id: user_id.into(),
        access_token: Secret::new(unique("at")),
        refresh_token: Some(Secret::new(unique("rt"))),
        caller_refresh_token: None,
        id_token: Secret::new(unique("idt")),
        token_expires_at: now + 60,
        expires_at: now + seconds,
        created_at: now,
        user: serde_json::json!({ "sub": user_id, "email": "someone@example.com" }).into(),
        auth0_sid: None,
        refreshed_at: None,
        activity_id: None,
        grace_links: Vec::new(),
    }
}

fn handle() -> SessionHandle {
    SessionHandle::new(unique("handle"))
}

fn state_record() -> AuthState {
    AuthState {
        client_type: "website".into(),
        nonce: unique("nonce"),
        code_verifier: Secret::new(unique("verifier")),
        redirect: Some("/home".into()),
    }
}

fn settings(hosts: Vec<(String, u16)>, mode: RedisMode) -> RedisSettings {
    RedisSettings {
        hosts,
        mode,
        username: None,
        password: None,
        sentinel_auth: Default::default(),
        tls: None,
    }
}

fn localhost(port: u16) -> Vec<(String, u16)> {
    vec![("127.0.0.1".into(), port)]
}

fn redis_store(settings: &RedisSettings, scope: &str) -> Store<RedisBackend> {
    Store::with_backend(RedisBackend::new(settings, scope).unwrap())
}

/// A sealer with one random key.
pub fn random_sealer() -> Sealer {
    let key: [u8; 32] = rand::random();
    Sealer::new(&[EncryptionKey::from_bytes(key)]).unwrap()
}

/// Calls `$callback!($($args)*, [every behaviour])`, so the list is written once.
macro_rules! with_behaviours {
    ($callback:ident!($($args:tt)*)) => {
        $callback! {$($args)* [
            a_stored_session_is_read_back_by_its_handle_only,
            an_update_replaces_the_session_but_not_a_missing_one,
            a_deleted_session_is_returned_once_then_gone,
            a_session_ends_at_its_expiry,
            a_rotated_session_answers_on_the_old_handle_only_during_the_grace,
            a_state_is_taken_only_once_even_concurrently,
            a_lock_is_exclusive_until_released_or_its_lease_ends,
            active_users_lists_each_user_once_while_a_session_lives,
            deleting_a_users_sessions_ends_all_of_them_and_no_other,
            ping_answers,
        ]}
    };
}

/// One test per behaviour, each on a fresh fixture (cheap backends).
macro_rules! suite_per_behaviour {
    ($backend:ident, $fixture:path, [$($behaviour:ident),* $(,)?]) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $behaviour() {
                    let fixture = $fixture().await;
                    super::behaviours::$behaviour(&fixture).await;
                }
            )*
        }
    };
}

/// Every behaviour in turn on one fixture (backends that take seconds to start).
macro_rules! run_every_behaviour {
    ($fixture:expr, [$($behaviour:ident),* $(,)?]) => {{
        let fixture = $fixture;
        $(
            println!("{}", stringify!($behaviour));
            behaviours::$behaviour(&fixture).await;
        )*
    }};
}

with_behaviours!(suite_per_behaviour!(memory, super::fixtures::memory,));
with_behaviours!(suite_per_behaviour!(
    sealed_memory,
    super::fixtures::sealed_memory,
));
with_behaviours!(suite_per_behaviour!(redis, super::fixtures::redis,));
with_behaviours!(suite_per_behaviour!(
    redis_with_acl,
    super::fixtures::redis_with_acl,
));
with_behaviours!(suite_per_behaviour!(
    sealed_redis,
    super::fixtures::sealed_redis,
));

#[tokio::test(flavor = "multi_thread")]
async fn every_store_behaviour_holds_on_redis_sentinel_with_acl_credentials() {
    with_behaviours!(run_every_behaviour!(fixtures::sentinel().await,));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_store_behaviour_holds_on_a_redis_cluster_with_acl_credentials() {
    with_behaviours!(run_every_behaviour!(fixtures::cluster().await,));
}

pub mod behaviours;
mod fixtures;
mod isolation;
mod outages;
mod replicas;

pub use outages::sessions_survive_a_master_kill;
