//! Integration tests: sessions.
//!
//! One suite of store behaviours runs against every backend: memory, Redis (normal,
//! with ACL credentials, sealed), Sentinel and Cluster, all real processes spawned by
//! `support::redis`. Then the fault tests: failover, outage and recovery.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::redis::{Acl, RedisCluster, RedisSentinelSet, RedisServer, SENTINEL_MASTER};
use crate::support::wait::until;
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

mod fixtures {
    use super::*;

    pub async fn memory() -> Fixture {
        Fixture {
            store: Arc::new(MemoryStore::new()),
            _processes: Box::new(()),
        }
    }

    pub async fn sealed_memory() -> Fixture {
        Fixture {
            store: Arc::new(MemoryStore::new().sealed(random_sealer())),
            _processes: Box::new(()),
        }
    }

    pub async fn redis() -> Fixture {
        let server = RedisServer::start().await;
        let store = redis_store(
            &settings(localhost(server.port()), RedisMode::Normal),
            "suite",
        );
        Fixture {
            store: Arc::new(store),
            _processes: Box::new(server),
        }
    }

    pub async fn redis_with_acl() -> Fixture {
        let acl = Acl {
            username: "sessions".into(),
            password: unique("pw"),
        };
        let server = RedisServer::start_with_acl(acl.clone()).await;
        let mut settings = settings(localhost(server.port()), RedisMode::Normal);
        settings.username = Some(acl.username);
        settings.password = Some(Secret::new(acl.password));
        Fixture {
            store: Arc::new(redis_store(&settings, "suite")),
            _processes: Box::new(server),
        }
    }

    pub async fn sealed_redis() -> Fixture {
        let server = RedisServer::start().await;
        let store = redis_store(
            &settings(localhost(server.port()), RedisMode::Normal),
            "suite",
        )
        .sealed(random_sealer());
        Fixture {
            store: Arc::new(store),
            _processes: Box::new(server),
        }
    }

    /// Sentinels over data nodes with ACL credentials, so `REDIS_USERNAME`/`PASSWORD`
    /// are exercised in sentinel mode too.
    pub async fn sentinel() -> Fixture {
        let acl = Acl {
            username: "sessions".into(),
            password: unique("pw"),
        };
        let set = RedisSentinelSet::start_with_acl(acl.clone()).await;
        let mode = RedisMode::Sentinel {
            master_name: SENTINEL_MASTER.into(),
        };
        let mut settings = settings(set.sentinel_hosts(), mode);
        settings.username = Some(acl.username);
        settings.password = Some(Secret::new(acl.password));
        let store = redis_store(&settings, "suite");
        Fixture {
            store: Arc::new(store),
            _processes: Box::new(set),
        }
    }

    /// A cluster with ACL credentials, so `REDIS_USERNAME`/`PASSWORD` are exercised too.
    pub async fn cluster() -> Fixture {
        let acl = Acl {
            username: "sessions".into(),
            password: unique("pw"),
        };
        let cluster = RedisCluster::start_with_acl(acl.clone()).await;
        let mut settings = settings(cluster.hosts(), RedisMode::Cluster);
        settings.username = Some(acl.username);
        settings.password = Some(Secret::new(acl.password));
        let store = redis_store(&settings, "suite");
        Fixture {
            store: Arc::new(store),
            _processes: Box::new(cluster),
        }
    }
}

/// The behaviours every store must have. Each uses fresh handles and users, so they
/// can also run one after another on one store.
pub mod behaviours {
    use super::*;

    pub async fn a_stored_session_is_read_back_by_its_handle_only(fixture: &Fixture) {
        let store = &fixture.store;
        let (handle, session) = (handle(), session_of(&unique("user"), 3600));
        store.put_session(&handle, &session).await.unwrap();
        assert_eq!(store.get_session(&handle).await.unwrap(), Some(session));
        assert_eq!(store.get_session(&super::handle()).await.unwrap(), None);
    }

    pub async fn an_update_replaces_the_session_but_not_a_missing_one(fixture: &Fixture) {
        let store = &fixture.store;
        let (handle, session) = (handle(), session_of(&unique("user"), 3600));
        store.put_session(&handle, &session).await.unwrap();
        let mut refreshed = session.clone();
        refreshed.access_token = Secret::new(unique("at2"));
        assert!(store.update_session(&handle, &refreshed).await.unwrap());
        assert_eq!(
            store.get_session(&handle).await.unwrap(),
            Some(refreshed.clone())
        );
        assert!(
            !store
                .update_session(&super::handle(), &refreshed)
                .await
                .unwrap()
        );
    }

    pub async fn a_deleted_session_is_returned_once_then_gone(fixture: &Fixture) {
        let store = &fixture.store;
        let (handle, session) = (handle(), session_of(&unique("user"), 3600));
        store.put_session(&handle, &session).await.unwrap();
        assert_eq!(store.delete_session(&handle).await.unwrap(), Some(session));
        assert_eq!(store.get_session(&handle).await.unwrap(), None);
        assert_eq!(store.delete_session(&handle).await.unwrap(), None);
    }

    pub async fn a_session_ends_at_its_expiry(fixture: &Fixture) {
        let store = &fixture.store;
        let (handle, session) = (handle(), session_of(&unique("user"), 2));
        store.put_session(&handle, &session).await.unwrap();
        assert!(store.get_session(&handle).await.unwrap().is_some());
        let ends = std::time::UNIX_EPOCH + Duration::from_secs(session.expires_at as u64);
        // Waits for the event (the record is gone), then checks its order: not before
        // the session's expiry (whole seconds, so a Redis TTL may round up, never down).
        let gone_at = until("the session ends", || async {
            store.get_session(&handle).await.unwrap().is_none()
        })
        .await;
        assert!(
            gone_at + Duration::from_secs(1) >= ends,
            "ended before its expiry"
        );
        assert!(
            !store
                .active_users()
                .await
                .unwrap()
                .contains(&session.user_id)
        );
    }

    pub async fn a_rotated_session_answers_on_the_old_handle_only_during_the_grace(
        fixture: &Fixture,
    ) {
        let store = &fixture.store;
        let (old, new, session) = (handle(), handle(), session_of(&unique("user"), 3600));
        store.put_session(&old, &session).await.unwrap();
        let mut rotated = session.clone();
        rotated.refresh_token = Some(Secret::new(unique("rt2")));
        store
            .rotate_session(&old, &new, &rotated, Duration::from_secs(60))
            .await
            .unwrap();
        // Each handle links to the other, so that ending the session on one ends both.
        let current = Session {
            grace_links: vec![old.key()],
            ..rotated.clone()
        };
        assert_eq!(
            store.get_session(&new).await.unwrap(),
            Some(current.clone())
        );
        let read_only = Session {
            refresh_token: None,
            caller_refresh_token: None,
            grace_links: vec![new.key()],
            ..rotated.clone()
        };
        assert_eq!(
            store.get_session(&old).await.unwrap(),
            Some(read_only),
            "old handle works in the grace, read-only"
        );
        // The same rotation with a short grace: the old handle ends (an event waited
        // for), never before the grace, and the new one stays.
        let (old, new) = (handle(), handle());
        store.put_session(&old, &session).await.unwrap();
        let grace = Duration::from_millis(200);
        let rotating = std::time::SystemTime::now();
        store
            .rotate_session(&old, &new, &rotated, grace)
            .await
            .unwrap();
        let gone_at = until("the old handle ends after the grace", || async {
            store.get_session(&old).await.unwrap().is_none()
        })
        .await;
        assert!(
            gone_at.duration_since(rotating).unwrap_or_default() >= grace,
            "old handle ended before the grace"
        );
        assert_eq!(store.get_session(&new).await.unwrap(), Some(current));
        assert!(
            store
                .active_users()
                .await
                .unwrap()
                .contains(&rotated.user_id)
        );
    }

    pub async fn a_state_is_taken_only_once_even_concurrently(fixture: &Fixture) {
        let store = &fixture.store;
        let (state, record) = (unique("state"), state_record());
        store.put_state(&state, &record).await.unwrap();
        let takes = (0..10).map(|_| {
            let (store, state) = (store.clone(), state.clone());
            tokio::spawn(async move { store.take_state(&state).await.unwrap() })
        });
        let taken: Vec<AuthState> = futures::future::join_all(takes)
            .await
            .into_iter()
            .filter_map(|t| t.unwrap())
            .collect();
        assert_eq!(taken, vec![record]);
        assert_eq!(
            store.take_state(&unique("never-stored")).await.unwrap(),
            None
        );
    }

    pub async fn a_lock_is_exclusive_until_released_or_its_lease_ends(fixture: &Fixture) {
        let store = &fixture.store;
        let name = unique("lock");
        let token = store
            .try_lock(&name, Duration::from_secs(30))
            .await
            .unwrap()
            .expect("first taker gets the lock");
        assert_eq!(
            store
                .try_lock(&name, Duration::from_secs(30))
                .await
                .unwrap(),
            None
        );
        store
            .unlock(
                &name,
                &auth0_client::session::LockToken("someone-else".into()),
            )
            .await
            .unwrap();
        assert_eq!(
            store
                .try_lock(&name, Duration::from_secs(30))
                .await
                .unwrap(),
            None,
            "a foreign token does not release"
        );
        store.unlock(&name, &token).await.unwrap();
        let lease = Duration::from_millis(200);
        let taking = std::time::SystemTime::now();
        let short = store.try_lock(&name, lease).await.unwrap();
        assert!(short.is_some(), "released lock can be taken again");
        // Waits for the event (the lease ends and the lock can be taken), then checks
        // its order: never before the lease.
        let freed_at = until("an expired lease frees the lock", || async {
            store
                .try_lock(&name, Duration::from_secs(30))
                .await
                .unwrap()
                .is_some()
        })
        .await;
        assert!(
            freed_at.duration_since(taking).unwrap_or_default() >= lease,
            "the lock was free before its lease ended"
        );
        store.unlock(&name, &short.unwrap()).await.unwrap();
        assert_eq!(
            store.try_lock(&name, Duration::from_secs(1)).await.unwrap(),
            None,
            "the old holder cannot release a newer lock"
        );
    }

    pub async fn active_users_lists_each_user_once_while_a_session_lives(fixture: &Fixture) {
        let store = &fixture.store;
        let (alice, bob) = (unique("alice"), unique("bob"));
        let (a1, a2, b1) = (handle(), handle(), handle());
        store
            .put_session(&a1, &session_of(&alice, 3600))
            .await
            .unwrap();
        store
            .put_session(&a2, &session_of(&alice, 3600))
            .await
            .unwrap();
        store
            .put_session(&b1, &session_of(&bob, 3600))
            .await
            .unwrap();
        let active = store.active_users().await.unwrap();
        assert_eq!(active.iter().filter(|u| **u == alice).count(), 1);
        assert_eq!(active.iter().filter(|u| **u == bob).count(), 1);
        store.delete_session(&a1).await.unwrap();
        assert!(
            store.active_users().await.unwrap().contains(&alice),
            "alice still has a2"
        );
        store.delete_session(&a2).await.unwrap();
        let active = store.active_users().await.unwrap();
        assert!(!active.contains(&alice) && active.contains(&bob));
    }

    pub async fn deleting_a_users_sessions_ends_all_of_them_and_no_other(fixture: &Fixture) {
        let store = &fixture.store;
        let (alice, bob) = (unique("alice"), unique("bob"));
        let (a1, a2, b1) = (handle(), handle(), handle());
        store
            .put_session(&a1, &session_of(&alice, 3600))
            .await
            .unwrap();
        store
            .put_session(&a2, &session_of(&alice, 3600))
            .await
            .unwrap();
        store
            .put_session(&b1, &session_of(&bob, 3600))
            .await
            .unwrap();
        assert_eq!(store.delete_user_sessions(&alice).await.unwrap(), 2);
        assert_eq!(store.get_session(&a1).await.unwrap(), None);
        assert_eq!(store.get_session(&a2).await.unwrap(), None);
        assert!(store.get_session(&b1).await.unwrap().is_some());
        let active = store.active_users().await.unwrap();
        assert!(!active.contains(&alice) && active.contains(&bob));
        assert_eq!(store.delete_user_sessions(&alice).await.unwrap(), 0);
    }

    pub async fn ping_answers(fixture: &Fixture) {
        fixture.store.ping().await.unwrap();
    }
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

async fn assert_scopes_are_isolated(first: &dyn SessionStore, second: &dyn SessionStore) {
    let (handle, user) = (handle(), unique("user"));
    first
        .put_session(&handle, &session_of(&user, 3600))
        .await
        .unwrap();
    first
        .put_state("shared-state", &state_record())
        .await
        .unwrap();
    assert!(
        first
            .try_lock("shared-lock", Duration::from_secs(30))
            .await
            .unwrap()
            .is_some()
    );

    assert_eq!(second.get_session(&handle).await.unwrap(), None);
    assert!(!second.active_users().await.unwrap().contains(&user));
    assert_eq!(second.delete_user_sessions(&user).await.unwrap(), 0);
    assert_eq!(second.take_state("shared-state").await.unwrap(), None);
    assert!(
        second
            .try_lock("shared-lock", Duration::from_secs(30))
            .await
            .unwrap()
            .is_some()
    );

    assert!(first.get_session(&handle).await.unwrap().is_some());
    assert!(first.take_state("shared-state").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn two_scopes_sharing_one_redis_do_not_see_each_others_records() {
    let server = RedisServer::start().await;
    let settings = settings(localhost(server.port()), RedisMode::Normal);
    assert_scopes_are_isolated(
        &redis_store(&settings, "shop"),
        &redis_store(&settings, "admin"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_scopes_sharing_one_redis_cluster_do_not_see_each_others_records() {
    let cluster = RedisCluster::start().await;
    let settings = settings(cluster.hosts(), RedisMode::Cluster);
    assert_scopes_are_isolated(
        &redis_store(&settings, "shop"),
        &redis_store(&settings, "admin"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cluster_records_spread_over_the_nodes() {
    let cluster = RedisCluster::start().await;
    let store = redis_store(&settings(cluster.hosts(), RedisMode::Cluster), "spread");
    for _ in 0..30 {
        store
            .put_session(&handle(), &session_of(&unique("user"), 3600))
            .await
            .unwrap();
    }
    for node in &cluster.nodes {
        let keys = node
            .cli(&["--scan", "--pattern", "auth0-client:spread:session:*"])
            .await;
        assert!(
            keys.lines().count() > 0,
            "node {} holds no session",
            node.port()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_redis_credentials_make_the_store_unavailable_not_empty() {
    let acl = Acl {
        username: "sessions".into(),
        password: unique("pw"),
    };
    let server = RedisServer::start_with_acl(acl.clone()).await;
    let mut settings = settings(localhost(server.port()), RedisMode::Normal);
    settings.username = Some(acl.username);
    settings.password = Some(Secret::new("wrong-password"));
    let store = redis_store(&settings, "suite");
    let answer = store.get_session(&handle()).await;
    assert!(
        matches!(answer, Err(StoreError::Unavailable(_))),
        "{answer:?}"
    );
    assert!(!format!("{answer:?}").contains("wrong-password"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sealed_redis_dump_holds_no_token_nor_raw_handle() {
    let server = RedisServer::start().await;
    let store = redis_store(
        &settings(localhost(server.port()), RedisMode::Normal),
        "dump",
    )
    .sealed(random_sealer());
    let (handle, session) = (handle(), session_of(&unique("user"), 3600));
    store.put_session(&handle, &session).await.unwrap();
    let rotated_handle = self::handle();
    store
        .rotate_session(&handle, &rotated_handle, &session, Duration::from_secs(30))
        .await
        .unwrap();
    let record = state_record();
    store.put_state("dump-state", &record).await.unwrap();

    let secrets = [
        handle.expose(),
        rotated_handle.expose(),
        session.access_token.expose(),
        session.refresh_token.as_ref().unwrap().expose(),
        session.id_token.expose(),
        record.code_verifier.expose(),
        record.nonce.as_str(),
    ];
    let keys = server.keys().await;
    assert!(
        keys.len() >= 5,
        "session x2, state, user set, active users: {keys:?}"
    );
    let client = ::redis::Client::open(format!("redis://127.0.0.1:{}", server.port())).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    for key in &keys {
        let kind: String = ::redis::cmd("TYPE")
            .arg(key)
            .query_async(&mut connection)
            .await
            .unwrap();
        let values: Vec<Vec<u8>> = match kind.as_str() {
            "string" => vec![
                ::redis::cmd("GET")
                    .arg(key)
                    .query_async(&mut connection)
                    .await
                    .unwrap(),
            ],
            "set" => ::redis::cmd("SMEMBERS")
                .arg(key)
                .query_async(&mut connection)
                .await
                .unwrap(),
            "zset" => ::redis::cmd("ZRANGE")
                .arg(key)
                .arg(0)
                .arg(-1)
                .query_async(&mut connection)
                .await
                .unwrap(),
            other => panic!("unexpected key type {other} for {key}"),
        };
        for secret in secrets {
            assert!(!key.contains(secret), "key {key} holds a secret");
            for value in &values {
                assert!(
                    !value.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "value of {key} holds a secret"
                );
            }
        }
    }
    // And the sealed records still open for the store (the rotated one links to the old).
    assert_eq!(
        store.get_session(&rotated_handle).await.unwrap(),
        Some(Session {
            grace_links: vec![handle.key()],
            ..session
        })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_record_sealed_with_a_retired_key_is_corrupt_not_missing() {
    let server = RedisServer::start().await;
    let settings = settings(localhost(server.port()), RedisMode::Normal);
    let key = |byte: u8| EncryptionKey::from_bytes([byte; 32]);
    let old = redis_store(&settings, "rotation").sealed(Sealer::new(&[key(1)]).unwrap());
    let (handle, session) = (handle(), session_of(&unique("user"), 3600));
    old.put_session(&handle, &session).await.unwrap();

    let rotated =
        redis_store(&settings, "rotation").sealed(Sealer::new(&[key(2), key(1)]).unwrap());
    assert_eq!(
        rotated.get_session(&handle).await.unwrap(),
        Some(session.clone()),
        "old key still opens"
    );
    let retired = redis_store(&settings, "rotation").sealed(Sealer::new(&[key(2)]).unwrap());
    assert!(matches!(
        retired.get_session(&handle).await,
        Err(StoreError::Corrupt(_))
    ));
    assert_eq!(
        old.get_session(&handle).await.unwrap(),
        Some(session),
        "a failed open deletes nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_written_before_a_sentinel_failover_are_readable_after_it() {
    let mut set = RedisSentinelSet::start().await;
    let mode = RedisMode::Sentinel {
        master_name: SENTINEL_MASTER.into(),
    };
    let store = redis_store(&settings(set.sentinel_hosts(), mode), "failover");
    sessions_survive_a_master_kill(&mut set, &store).await;
}

/// Writes sessions, kills the master of `set` and waits for `store` to follow the
/// failover; every session is read back and a new one written.
pub async fn sessions_survive_a_master_kill(set: &mut RedisSentinelSet, store: &dyn SessionStore) {
    let sessions: Vec<(SessionHandle, Session)> = (0..20)
        .map(|_| (handle(), session_of(&unique("user"), 3600)))
        .collect();
    for (handle, session) in &sessions {
        store.put_session(handle, session).await.unwrap();
    }
    set.wait_for_replica_sync().await;
    let first_master = set.master_port().await;

    set.kill_master().await;
    let killed = Instant::now();
    let (first, _) = &sessions[0];
    loop {
        match store.get_session(first).await {
            Ok(Some(_)) => break,
            Ok(None) => panic!("a session was reported missing during the failover"),
            Err(StoreError::Unavailable(_)) => {}
            Err(other) => panic!("unexpected error during failover: {other}"),
        }
        assert!(
            killed.elapsed() < Duration::from_secs(60),
            "no failover within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Reads may reach the promoted replica before the sentinels finish; a write proves it.
    let (fresh_handle, fresh) = (handle(), session_of(&unique("user"), 3600));
    loop {
        match store.put_session(&fresh_handle, &fresh).await {
            Ok(()) => break,
            Err(_) => assert!(
                killed.elapsed() < Duration::from_secs(60),
                "no writable master within 60 s"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let failover = killed.elapsed();
    println!(
        "FIGURE sentinel failover: sessions readable and writable again {:.2} s after the master was killed",
        failover.as_secs_f64()
    );

    // The store may follow the promoted node before every sentinel names it.
    while set.master_port().await == first_master {
        assert!(
            killed.elapsed() < Duration::from_secs(60),
            "the sentinels did not agree on the promoted replica"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (handle, session) in &sessions {
        assert_eq!(
            store.get_session(handle).await.unwrap().as_ref(),
            Some(session)
        );
    }
    assert_eq!(store.get_session(&fresh_handle).await.unwrap(), Some(fresh));
    assert_eq!(
        store
            .delete_user_sessions(&sessions[1].1.user_id)
            .await
            .unwrap(),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_planned_sentinel_failover_writes_go_to_the_new_master() {
    let set = RedisSentinelSet::start().await;
    let mode = RedisMode::Sentinel {
        master_name: SENTINEL_MASTER.into(),
    };
    let store = redis_store(&settings(set.sentinel_hosts(), mode), "planned");
    let (handle, session) = (handle(), session_of(&unique("user"), 3600));
    store.put_session(&handle, &session).await.unwrap();
    set.wait_for_replica_sync().await;
    let first_master = set.master_port().await;

    // The old master stays up and becomes a replica: the store's open connection to it
    // must not be written to (READONLY), and the store must move to the new master.
    let answer = set.sentinels[0]
        .cli(&["SENTINEL", "FAILOVER", SENTINEL_MASTER])
        .await;
    assert_eq!(answer.trim(), "OK");
    let started = Instant::now();
    while set.master_port().await == first_master {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no failover within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    loop {
        if set
            .master
            .info_field("replication", "role")
            .await
            .as_deref()
            == Some("slave")
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "old master not demoted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut updated = session.clone();
    updated.access_token = Secret::new(unique("at-after-failover"));
    let mut write = store.update_session(&handle, &updated).await;
    while write.is_err() && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        write = store.update_session(&handle, &updated).await;
    }
    assert!(write.unwrap(), "the session was found on the new master");
    assert_eq!(store.get_session(&handle).await.unwrap(), Some(updated));
    let new_master = set.replica.cli(&["ROLE"]).await;
    assert!(new_master.starts_with("master"), "{new_master}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failover_is_followed_while_one_sentinel_does_not_answer() {
    let mut set = RedisSentinelSet::start().await;
    let mode = RedisMode::Sentinel {
        master_name: SENTINEL_MASTER.into(),
    };
    let store = redis_store(&settings(set.sentinel_hosts(), mode), "frozen-sentinel");
    let (handle, session) = (handle(), session_of(&unique("user"), 3600));
    store.put_session(&handle, &session).await.unwrap();
    set.wait_for_replica_sync().await;

    set.sentinels[0].freeze();
    set.kill_master().await;
    let killed = Instant::now();
    loop {
        let started = Instant::now();
        let answer = store.put_session(&handle, &session).await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a call took {:?}",
            started.elapsed()
        );
        if answer.is_ok() {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(60),
            "no failover followed within 60 s: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "FIGURE sentinel failover with one sentinel frozen: writable again after {:.2} s",
        killed.elapsed().as_secs_f64()
    );
    set.sentinels[0].thaw();
    assert_eq!(store.get_session(&handle).await.unwrap(), Some(session));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_redis_makes_the_store_unavailable_quickly_and_it_recovers_by_itself() {
    let mut server = RedisServer::start().await;
    let store = redis_store(
        &settings(localhost(server.port()), RedisMode::Normal),
        "outage",
    );
    let (handle, session) = (handle(), session_of(&unique("user"), 3600));
    store.put_session(&handle, &session).await.unwrap();

    server.stop().await;
    let mut slowest = Duration::ZERO;
    for _ in 0..5 {
        let started = Instant::now();
        let answer = store.get_session(&handle).await;
        let took = started.elapsed();
        slowest = slowest.max(took);
        assert!(
            matches!(answer, Err(StoreError::Unavailable(_))),
            "{answer:?}"
        );
        assert!(took < Duration::from_secs(2), "took {took:?}");
    }
    for answer in [
        store.put_session(&handle, &session).await.map(|_| ()),
        store.delete_session(&handle).await.map(|_| ()),
        store.active_users().await.map(|_| ()),
        store
            .try_lock("outage", Duration::from_secs(1))
            .await
            .map(|_| ()),
        store.ping().await,
    ] {
        assert!(
            matches!(answer, Err(StoreError::Unavailable(_))),
            "{answer:?}"
        );
    }
    println!(
        "FIGURE redis stopped: slowest Unavailable answer {} ms",
        slowest.as_millis()
    );

    server.restart().await;
    let restarted = Instant::now();
    let recovered = loop {
        if let Ok(found) = store.get_session(&handle).await {
            break found;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(10),
            "no recovery within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!(
        "FIGURE redis restarted: same store answers again after {} ms",
        restarted.elapsed().as_millis()
    );
    assert_eq!(recovered, Some(session), "the session survived the outage");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_redis_cluster_makes_the_store_unavailable_quickly_and_it_recovers_by_itself() {
    let mut cluster = RedisCluster::start().await;
    let store = redis_store(&settings(cluster.hosts(), RedisMode::Cluster), "outage");
    let sessions: Vec<(SessionHandle, Session)> = (0..10)
        .map(|_| (handle(), session_of(&unique("user"), 3600)))
        .collect();
    for (handle, session) in &sessions {
        store.put_session(handle, session).await.unwrap();
    }

    for node in &mut cluster.nodes {
        node.stop().await;
    }
    let mut slowest = Duration::ZERO;
    for (handle, _) in &sessions {
        let started = Instant::now();
        let answer = store.get_session(handle).await;
        slowest = slowest.max(started.elapsed());
        assert!(
            matches!(answer, Err(StoreError::Unavailable(_))),
            "{answer:?}"
        );
    }
    assert!(slowest < Duration::from_secs(2), "slowest {slowest:?}");
    println!(
        "FIGURE redis cluster stopped: slowest Unavailable answer {} ms",
        slowest.as_millis()
    );

    for node in &mut cluster.nodes {
        node.restart().await;
    }
    let restarted = Instant::now();
    for (handle, session) in &sessions {
        loop {
            match store.get_session(handle).await {
                Ok(found) => {
                    assert_eq!(found.as_ref(), Some(session), "the session survived");
                    break;
                }
                Err(_) => assert!(
                    restarted.elapsed() < Duration::from_secs(30),
                    "no recovery within 30 s"
                ),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    println!(
        "FIGURE redis cluster restarted: every session readable after {} ms",
        restarted.elapsed().as_millis()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frozen_redis_makes_the_store_unavailable_within_the_timeout() {
    let server = RedisServer::start().await;
    let store = redis_store(
        &settings(localhost(server.port()), RedisMode::Normal),
        "frozen",
    );
    let (handle, session) = (handle(), session_of(&unique("user"), 3600));
    store.put_session(&handle, &session).await.unwrap();

    server.process.freeze();
    let started = Instant::now();
    let answer = store.get_session(&handle).await;
    let took = started.elapsed();
    server.process.thaw();
    assert!(
        matches!(answer, Err(StoreError::Unavailable(_))),
        "{answer:?}"
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");
    println!(
        "FIGURE redis frozen (SIGSTOP): Unavailable after {} ms",
        took.as_millis()
    );

    let thawed = Instant::now();
    loop {
        if let Ok(found) = store.get_session(&handle).await {
            assert_eq!(found, Some(session));
            break;
        }
        assert!(
            thawed.elapsed() < Duration::from_secs(10),
            "no recovery within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Service-level behaviour: app replicas sharing one Redis, in front of one devtenant.
mod replicas {
    use super::*;
    use crate::support::app::{DEV_EMAIL, Options, TestApp, Tokens};
    use auth0_client::clock::ManualClock;
    use auth0_devtenant::{DevTenant, TenantConfig};
    use std::collections::BTreeMap;

    /// One app replica: a [`TestApp`] on a shared devtenant and Redis.
    struct Replica(TestApp);

    impl Replica {
        /// A replica in front of `tenant`, on the Redis of `redis` under `scope`.
        async fn spawn(tenant: &Arc<DevTenant>, redis: RedisSettings, scope: &str) -> Replica {
            Self::spawn_sealed(tenant, redis, scope, Vec::new()).await
        }

        /// A replica whose records are sealed with `SESSION_ENCRYPTION_KEY` = `keys`.
        async fn spawn_sealed(
            tenant: &Arc<DevTenant>,
            redis: RedisSettings,
            scope: &str,
            keys: Vec<EncryptionKey>,
        ) -> Replica {
            Self::spawn_on_clock(tenant, redis, scope, keys, None).await
        }

        /// A replica reading the time from `clock` (shared by replicas), if given.
        async fn spawn_on_clock(
            tenant: &Arc<DevTenant>,
            redis: RedisSettings,
            scope: &str,
            keys: Vec<EncryptionKey>,
            clock: Option<Arc<ManualClock>>,
        ) -> Replica {
            let scope = scope.to_owned();
            Replica(
                TestApp::spawn_with(Options {
                    on_tenant: Some(tenant.clone()),
                    redis: Some(redis),
                    clock,
                    edit_settings: Box::new(move |settings| {
                        settings.session_scope = scope;
                        settings.session_encryption_keys = keys;
                    }),
                    ..Options::default()
                })
                .await,
            )
        }

        async fn login(&self) -> Tokens {
            self.0.login_tokens().await
        }

        async fn get(&self, path: &str, bearer: &str) -> reqwest::Response {
            self.0.get_bearer(path, bearer).await
        }

        async fn refresh(&self, bearer: &str, refresh_token: &str) -> reqwest::Response {
            self.0
                .refresh("/oauth/refreshtoken", bearer, refresh_token)
                .await
        }
    }

    fn normal(server: &RedisServer) -> RedisSettings {
        settings(localhost(server.port()), RedisMode::Normal)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_session_made_on_one_replica_is_used_and_ended_on_another() {
        let tenant = Arc::new(DevTenant::start(TenantConfig::default()).await.unwrap());
        let redis = RedisServer::start().await;
        let scope = unique("replicas");
        let first = Replica::spawn(&tenant, normal(&redis), &scope).await;
        let second = Replica::spawn(&tenant, normal(&redis), &scope).await;

        let tokens = first.login().await;
        let userinfo = second.get("/userinfo", &tokens.access_token).await;
        assert_eq!(userinfo.status(), 200);
        let user: serde_json::Value = userinfo.json().await.unwrap();
        assert_eq!(user["email"], DEV_EMAIL, "{user}");

        let logout = second.get("/logout", &tokens.access_token).await;
        assert!(
            logout.status().is_success() || logout.status().is_redirection(),
            "logout: {}",
            logout.status()
        );
        assert_eq!(
            first.get("/userinfo", &tokens.access_token).await.status(),
            401
        );
        assert_eq!(
            second.get("/userinfo", &tokens.access_token).await.status(),
            401
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn with_an_encryption_key_a_redis_dump_after_login_holds_no_token() {
        let tenant = Arc::new(DevTenant::start(TenantConfig::default()).await.unwrap());
        let redis = RedisServer::start().await;
        let key = EncryptionKey::from_bytes(rand::random());
        let replica = Replica::spawn_sealed(&tenant, normal(&redis), "sealed", vec![key]).await;
        let tokens = replica.login().await;
        assert_eq!(
            replica
                .get("/userinfo", &tokens.access_token)
                .await
                .status(),
            200
        );

        let refresh_token = tokens
            .refresh_token
            .clone()
            .expect("offline_access gives a refresh token");
        let secrets = [
            tokens.access_token.as_str(),
            refresh_token.as_str(),
            tokens.id_token.as_str(),
        ];
        let keys = redis.keys().await;
        assert!(!keys.is_empty());
        let mut dump = String::new();
        for key in &keys {
            dump.push_str(key);
            // Sets and sorted sets answer WRONGTYPE to GET: their members are dumped too.
            for command in ["GET", "SMEMBERS"] {
                dump.push_str(&redis.cli(&[command, key]).await);
            }
            dump.push_str(&redis.cli(&["ZRANGE", key, "0", "-1"]).await);
        }
        for secret in secrets {
            // A JWT's signature part is enough to spot a leak of any of its forms.
            let tail = &secret[secret.len().saturating_sub(24)..];
            assert!(!dump.contains(tail), "the Redis dump holds a token");
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_session_made_before_a_sentinel_failover_still_answers_after_it() {
        let tenant = Arc::new(DevTenant::start(TenantConfig::default()).await.unwrap());
        let mut set = RedisSentinelSet::start().await;
        let mode = RedisMode::Sentinel {
            master_name: SENTINEL_MASTER.into(),
        };
        let replica =
            Replica::spawn(&tenant, settings(set.sentinel_hosts(), mode), "failover").await;
        let tokens = replica.login().await;
        set.wait_for_replica_sync().await;

        set.kill_master().await;
        let killed = Instant::now();
        let mut statuses = BTreeMap::new();
        loop {
            let status = replica
                .get("/userinfo", &tokens.access_token)
                .await
                .status()
                .as_u16();
            *statuses.entry(status).or_insert(0) += 1;
            assert!(
                status == 200 || status == 503,
                "only 200 or 503 during a failover: {status}"
            );
            if status == 200 && killed.elapsed() > Duration::from_secs(1) {
                break;
            }
            assert!(
                killed.elapsed() < Duration::from_secs(60),
                "no recovery within 60 s: {statuses:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // A new login proves the store writes to the promoted master.
        let again = replica.login().await;
        assert_eq!(
            replica.get("/userinfo", &again.access_token).await.status(),
            200
        );
        println!(
            "FIGURE service over sentinel: {statuses:?} during failover, 200 again after {:.2} s",
            killed.elapsed().as_secs_f64()
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn replicas_on_a_redis_cluster_share_sessions() {
        let tenant = Arc::new(DevTenant::start(TenantConfig::default()).await.unwrap());
        let cluster = RedisCluster::start().await;
        let first = Replica::spawn(
            &tenant,
            settings(cluster.hosts(), RedisMode::Cluster),
            "cluster",
        )
        .await;
        let second = Replica::spawn(
            &tenant,
            settings(cluster.hosts(), RedisMode::Cluster),
            "cluster",
        )
        .await;
        let tokens = first.login().await;
        assert_eq!(
            second.get("/userinfo", &tokens.access_token).await.status(),
            200
        );
        let logout = second.get("/logout", &tokens.access_token).await;
        assert!(logout.status().is_success() || logout.status().is_redirection());
        assert_eq!(
            first.get("/userinfo", &tokens.access_token).await.status(),
            401
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_session_is_not_seen_by_a_replica_of_another_scope() {
        let tenant = Arc::new(DevTenant::start(TenantConfig::default()).await.unwrap());
        let redis = RedisServer::start().await;
        let shop = Replica::spawn(&tenant, normal(&redis), "shop").await;
        let admin = Replica::spawn(&tenant, normal(&redis), "admin").await;
        let tokens = shop.login().await;
        assert_eq!(
            shop.get("/userinfo", &tokens.access_token).await.status(),
            200
        );
        assert_eq!(
            admin.get("/userinfo", &tokens.access_token).await.status(),
            401
        );
    }

    /// Two replicas sharing one Redis, and a login (on the first) whose access token has
    /// expired; refreshed tokens get the normal lifetime again.
    async fn expired_login_on_two_replicas()
    -> (Arc<DevTenant>, RedisServer, Arc<[Replica; 2]>, Tokens) {
        let tenant = Arc::new(DevTenant::start(TenantConfig::default()).await.unwrap());
        let redis = RedisServer::start().await;
        let scope = unique("expired");
        let clock = ManualClock::new();
        let on_clock = || Some(clock.clone());
        let replicas = Arc::new([
            Replica::spawn_on_clock(&tenant, normal(&redis), &scope, Vec::new(), on_clock()).await,
            Replica::spawn_on_clock(&tenant, normal(&redis), &scope, Vec::new(), on_clock()).await,
        ]);
        tenant.faults().set_access_token_ttl(Duration::from_secs(1));
        let tokens = replicas[0].login().await;
        tenant.faults().clear();
        clock.advance(Duration::from_secs(2));
        (tenant, redis, replicas, tokens)
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn fifty_concurrent_userinfo_calls_on_an_expired_token_refresh_it_once_across_replicas() {
        let (tenant, _redis, replicas, tokens) = expired_login_on_two_replicas().await;

        let calls = (0..50).map(|i| {
            let (replicas, bearer) = (replicas.clone(), tokens.access_token.clone());
            tokio::spawn(async move {
                replicas[i % 2]
                    .get("/userinfo", &bearer)
                    .await
                    .status()
                    .as_u16()
            })
        });
        let statuses: Vec<u16> = futures::future::join_all(calls)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();

        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
        let grants = tenant.stats().token_grants;
        assert_eq!(grants.get("refresh_token"), Some(&1), "{grants:?}");
        println!(
            "FIGURE single flight: 50 concurrent /userinfo over 2 replicas -> {} x 200, refresh grants {grants:?}",
            statuses.len()
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_login_refresh_token_rotates_once_across_replicas_after_a_transparent_refresh() {
        let (tenant, _redis, replicas, tokens) = expired_login_on_two_replicas().await;
        // Replica 1 refreshes in place; Auth0 rotates the refresh token behind the caller.
        let userinfo = replicas[1].get("/userinfo", &tokens.access_token).await;
        assert_eq!(userinfo.status(), 200);
        let login_refresh = tokens.refresh_token.clone().unwrap();

        let calls = (0..8).map(|i| {
            let (replicas, bearer, refresh) = (
                replicas.clone(),
                tokens.access_token.clone(),
                login_refresh.clone(),
            );
            tokio::spawn(async move { replicas[i % 2].refresh(&bearer, &refresh).await })
        });
        let responses = futures::future::join_all(calls).await;

        // Callers that read the session before the rotation get its result, whichever
        // replica rotated; a later reader is refused; nobody refreshes a second time.
        let mut handles = Vec::new();
        for response in responses.into_iter().map(Result::unwrap) {
            match response.status().as_u16() {
                200 => handles.push(response.json::<Tokens>().await.unwrap().access_token),
                status => assert_eq!(status, 401, "{:?}", response.text().await),
            }
        }
        handles.dedup();
        assert_eq!(handles.len(), 1, "one rotated session: {handles:?}");
        let grants = tenant.stats().token_grants;
        assert_eq!(grants.get("refresh_token"), Some(&2), "{grants:?}");
        for replica in replicas.iter() {
            assert_eq!(replica.get("/userinfo", &handles[0]).await.status(), 200);
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_redis_restart_under_load_gives_503s_then_200s_and_never_401_or_500() {
        let tenant = Arc::new(DevTenant::start(TenantConfig::default()).await.unwrap());
        let mut redis = RedisServer::start().await;
        let scope = unique("outage");
        let replicas = Arc::new([
            Replica::spawn(&tenant, normal(&redis), &scope).await,
            Replica::spawn(&tenant, normal(&redis), &scope).await,
        ]);
        let tokens = replicas[0].login().await;

        // Every answer as (replica, sent at, status, time taken), visible while the load runs.
        type Seen = Arc<std::sync::Mutex<Vec<(usize, Instant, u16, Duration)>>>;
        let seen: Seen = Arc::default();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let workers: Vec<_> = (0..8)
            .map(|i| {
                let (replicas, bearer, stop, seen) = (
                    replicas.clone(),
                    tokens.access_token.clone(),
                    stop.clone(),
                    seen.clone(),
                );
                tokio::spawn(async move {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let sent = Instant::now();
                        let status = replicas[i % 2]
                            .get("/userinfo", &bearer)
                            .await
                            .status()
                            .as_u16();
                        seen.lock()
                            .unwrap()
                            .push((i % 2, sent, status, sent.elapsed()));
                    }
                })
            })
            .collect();
        let answered = |after: Instant, status: u16, replica: Option<usize>| {
            seen.lock().unwrap().iter().any(|(r, sent, s, _)| {
                *sent >= after && *s == status && replica.is_none_or(|want| *r == want)
            })
        };

        // Events, not pauses: load is served, Redis stops, the outage is seen, Redis
        // comes back, both replicas recover.
        let started = Instant::now();
        until("the load is served", || async {
            answered(started, 200, Some(0)) && answered(started, 200, Some(1))
        })
        .await;
        redis.stop().await;
        let stopped_at = Instant::now();
        until("the outage is seen", || async {
            answered(stopped_at, 503, None)
        })
        .await;
        redis.restart().await;
        let restarted_at = Instant::now();
        until("both replicas recover", || async {
            answered(restarted_at, 200, Some(0)) && answered(restarted_at, 200, Some(1))
        })
        .await;
        let recovered_at = Instant::now();
        until("load after the recovery", || async {
            seen.lock()
                .unwrap()
                .iter()
                .filter(|(_, sent, _, _)| *sent >= recovered_at)
                .count()
                >= 32
        })
        .await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for worker in workers {
            worker.await.unwrap();
        }

        let seen = seen.lock().unwrap().clone();
        let mut counts = BTreeMap::new();
        for (_, _, status, _) in &seen {
            *counts.entry(*status).or_insert(0) += 1;
        }
        let slowest_503 = seen
            .iter()
            .filter(|(_, _, s, _)| *s == 503)
            .map(|(_, _, _, took)| *took)
            .max();
        println!(
            "FIGURE redis restart under load: statuses {counts:?}; stopped at {:?}, restarted at {:?}, \
             both replicas recovered at {:?}, slowest 503 {slowest_503:?}",
            stopped_at - started,
            restarted_at - started,
            recovered_at - started,
        );

        assert!(
            counts.keys().all(|s| *s == 200 || *s == 503),
            "only 200 and 503: {counts:?}"
        );
        // The bound under test is the store's own operation timeout (1 s), not a window
        // on the machine's speed: a 503 never waits for a dead Redis much longer.
        assert!(
            slowest_503.unwrap() < 3 * auth0_client::session::redis::OPERATION_TIMEOUT,
            "503s come quickly: {slowest_503:?}"
        );
        let after_recovery: Vec<u16> = seen
            .iter()
            .filter(|(_, sent, _, _)| *sent >= recovered_at)
            .map(|(_, _, s, _)| *s)
            .collect();
        assert!(
            after_recovery.iter().all(|s| *s == 200),
            "recovered: {after_recovery:?}"
        );
        assert_eq!(
            replicas[1]
                .get("/userinfo", &tokens.access_token)
                .await
                .status(),
            200,
            "the session survived"
        );
    }
}
