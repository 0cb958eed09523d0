//! Integration tests: the in-process session cache (`SESSION_CACHE_SIZE`) with real
//! redis-server processes and two replicas on one Redis. Replica B holds a session in
//! its cache (proved by Redis' `INFO commandstats`: B's read issued no `GET`), then
//! something happens on replica A or in Redis, and B must refuse (or re-read) it.
//! Every wait is a bounded number of attempts on an event; nothing asserts a duration.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::app::{DEV_USER_ID, Options, Store, TestApp, Tokens};
use crate::support::redis::{
    Acl, RedisCluster, RedisProcess, RedisSentinelSet, RedisServer, SENTINEL_MASTER, ServerTls,
};
use crate::support::tls::TlsFiles;
use auth0_client::config::env::{RedisMode, RedisSettings, Settings};
use auth0_client::session::SessionHandle;
use auth0_client::session::redis::Keys;
use reqwest::StatusCode;
use std::time::Duration;

/// Pause between two attempts of a wait.
const PAUSE: Duration = Duration::from_millis(20);
/// Attempts of a wait for something that follows at once (an invalidation push).
const ATTEMPTS: usize = 250;
/// Attempts of a wait for a process to come back (a reconnect, a failover).
const LONG_ATTEMPTS: usize = 3000;
/// The name the tracking connection gives itself (`CLIENT SETNAME`).
const TRACKING_NAME: &str = "name=auth0-client-session-cache";

fn normal(port: u16) -> RedisSettings {
    RedisSettings {
        hosts: vec![("127.0.0.1".to_owned(), port)],
        mode: RedisMode::Normal,
        username: None,
        password: None,
        sentinel_auth: Default::default(),
        tls: None,
    }
}

/// A replica on `redis` under `scope` with a cache of `size` sessions.
async fn replica(redis: RedisSettings, scope: &str, size: usize) -> TestApp {
    auth0_client::telemetry::prometheus();
    replica_with(redis, scope, size, Duration::from_secs(3600)).await
}

async fn replica_with(
    redis: RedisSettings,
    scope: &str,
    size: usize,
    session: Duration,
) -> TestApp {
    let scope = scope.to_owned();
    TestApp::spawn_with(Options {
        store: Store::Memory,
        edit_settings: Box::new(move |settings| {
            settings.redis = Some(redis);
            settings.session_scope = scope;
            settings.session_cache_size = size;
            settings.session_duration = session;
        }),
        ..Options::default()
    })
    .await
}

/// One Redis and two replicas A and B on it, B with the cache on (A as `a_size` says).
struct Pair {
    redis: RedisServer,
    a: TestApp,
    b: TestApp,
    scope: String,
}

impl Pair {
    async fn start(a_size: usize) -> Pair {
        Self::start_with(a_size, Duration::from_secs(3600)).await
    }

    async fn start_with(a_size: usize, session: Duration) -> Pair {
        let redis = RedisServer::start().await;
        let scope = format!("cache-{}", uuid::Uuid::new_v4().simple());
        let a = replica_with(normal(redis.port()), &scope, a_size, session).await;
        let b = replica_with(normal(redis.port()), &scope, 1000, session).await;
        Pair { redis, a, b, scope }
    }

    /// The Redis key of the session behind `handle`.
    fn key(&self, handle: &str) -> String {
        Keys::new(&self.scope).session(&SessionHandle::new(handle).key())
    }
}

/// `GET` commands `redis` has run (`INFO commandstats`).
async fn gets(redis: &RedisProcess) -> u64 {
    redis
        .info_field("commandstats", "cmdstat_get")
        .await
        .and_then(|stats| {
            stats
                .split(',')
                .find_map(|part| part.strip_prefix("calls="))
                .and_then(|calls| calls.parse().ok())
        })
        .unwrap_or(0)
}

/// The ids of the session cache's tracking connections on `redis`.
async fn tracking_ids(redis: &RedisProcess) -> Vec<String> {
    redis
        .cli(&["CLIENT", "LIST"])
        .await
        .lines()
        .filter(|line| line.split(' ').any(|field| field == TRACKING_NAME))
        .filter_map(|line| line.split(' ').next()?.strip_prefix("id="))
        .map(str::to_owned)
        .collect()
}

async fn userinfo(app: &TestApp, token: &str) -> StatusCode {
    app.userinfo_status(token).await
}

/// Waits until `app` answers `token` from its cache: a `200` that made no `GET` on
/// `redis` (the first reads after tracking is on fill the cache).
async fn until_cached(app: &TestApp, redis: &RedisProcess, token: &str) {
    for _ in 0..LONG_ATTEMPTS {
        let before = gets(redis).await;
        assert_eq!(userinfo(app, token).await, StatusCode::OK);
        if gets(redis).await == before {
            return;
        }
        tokio::time::sleep(PAUSE).await;
    }
    panic!("the session was never served from the cache");
}

/// Whether one read of `token` on `app` was answered from its cache (asserting `200`).
async fn served_from_cache(app: &TestApp, redis: &RedisProcess, token: &str) -> bool {
    let before = gets(redis).await;
    assert_eq!(userinfo(app, token).await, StatusCode::OK);
    gets(redis).await == before
}

/// Polls `app` with `token` until it answers 401 (a bounded number of times) and checks
/// that it keeps answering 401: once refused, never served again.
async fn refused_from_now_on(app: &TestApp, token: &str) {
    let mut refused = false;
    for _ in 0..ATTEMPTS {
        match userinfo(app, token).await {
            StatusCode::UNAUTHORIZED => {
                refused = true;
                break;
            }
            StatusCode::OK => tokio::time::sleep(PAUSE).await,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(refused, "the other replica kept serving the ended session");
    for _ in 0..5 {
        assert_eq!(userinfo(app, token).await, StatusCode::UNAUTHORIZED);
    }
}

/// Waits until a tracking connection other than `old` is on at `redis`.
async fn until_tracking_again(redis: &RedisProcess, old: &[String]) {
    for _ in 0..LONG_ATTEMPTS {
        if tracking_ids(redis).await.iter().any(|id| !old.contains(id)) {
            return;
        }
        tokio::time::sleep(PAUSE).await;
    }
    panic!("tracking was never turned on again");
}

async fn logged_in_and_cached_on_b(pair: &Pair) -> Tokens {
    let tokens = pair.a.login_tokens().await;
    until_cached(&pair.b, &pair.redis.process, &tokens.access_token).await;
    tokens
}

#[tokio::test]
async fn a_cached_answer_is_the_answer_read_from_redis() {
    let pair = Pair::start(1000).await;
    let tokens = pair.a.login_tokens().await;
    let from_redis = pair
        .a
        .get_bearer("/userinfo", &tokens.access_token)
        .await
        .text()
        .await
        .unwrap();
    until_cached(&pair.b, &pair.redis.process, &tokens.access_token).await;

    let before = gets(&pair.redis.process).await;
    let cached = pair.b.get_bearer("/userinfo", &tokens.access_token).await;
    assert_eq!(cached.status(), StatusCode::OK);
    assert_eq!(cached.text().await.unwrap(), from_redis);
    assert_eq!(
        gets(&pair.redis.process).await,
        before,
        "served from memory"
    );
}

#[tokio::test]
async fn a_logout_on_one_replica_is_refused_by_the_other_that_had_it_cached() {
    let pair = Pair::start(1000).await;
    let tokens = logged_in_and_cached_on_b(&pair).await;

    let response = pair.a.get_bearer("/logout", &tokens.access_token).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    refused_from_now_on(&pair.b, &tokens.access_token).await;
}

#[tokio::test]
async fn a_refresh_on_one_replica_replaces_the_other_replicas_copy_and_the_old_handle_ends_with_its_grace()
 {
    let pair = Pair::start(1000).await;
    let old = logged_in_and_cached_on_b(&pair).await;
    let refresh_token = old.refresh_token.clone().expect("offline_access");

    let response = pair
        .a
        .refresh("/oauth/refreshtoken", &old.access_token, &refresh_token)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let new: Tokens = response.json().await.unwrap();
    assert_ne!(new.access_token, old.access_token);

    // The rotation rewrote the old handle's record (read-only for the grace): B drops
    // its copy and reads the new record once (a GET), then serves that from memory.
    let mut reread = false;
    for _ in 0..ATTEMPTS {
        if !served_from_cache(&pair.b, &pair.redis.process, &old.access_token).await {
            reread = true;
            break;
        }
        tokio::time::sleep(PAUSE).await;
    }
    assert!(
        reread,
        "B kept its copy of the record the rotation replaced"
    );
    until_cached(&pair.b, &pair.redis.process, &old.access_token).await;
    assert_eq!(userinfo(&pair.b, &new.access_token).await, StatusCode::OK);

    // The grace ends when Redis expires the old handle's key: brought forward here.
    let ttl = pair
        .redis
        .cli(&["PTTL", &pair.key(&old.access_token)])
        .await;
    let ttl: i64 = ttl.trim().parse().unwrap();
    assert!(ttl > 0, "the old handle lives for the grace only: {ttl}");
    pair.redis
        .cli(&["PEXPIRE", &pair.key(&old.access_token), "1"])
        .await;

    refused_from_now_on(&pair.b, &old.access_token).await;
    assert_eq!(userinfo(&pair.b, &new.access_token).await, StatusCode::OK);
}

#[tokio::test]
async fn deleting_the_user_on_one_replica_ends_the_session_the_other_had_cached() {
    let pair = Pair::start(1000).await;
    let tokens = logged_in_and_cached_on_b(&pair).await;

    let user = url::form_urlencoded::byte_serialize(DEV_USER_ID.as_bytes()).collect::<String>();
    let response = pair
        .a
        .http
        .delete(pair.a.url(&format!("/users/{user}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    refused_from_now_on(&pair.b, &tokens.access_token).await;
}

#[tokio::test]
async fn a_cached_session_is_never_served_once_its_key_has_expired_in_redis() {
    let pair = Pair::start_with(1000, Duration::from_secs(2)).await;
    let tokens = logged_in_and_cached_on_b(&pair).await;
    let key = pair.key(&tokens.access_token);

    // Whenever Redis no longer has the key, B's next answer is a refusal: the entry
    // carries the key's own expiry, pushes aside.
    let mut expired = false;
    for _ in 0..LONG_ATTEMPTS {
        let exists = pair.redis.cli(&["EXISTS", &key]).await;
        let status = userinfo(&pair.b, &tokens.access_token).await;
        if exists.trim() == "0" {
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            expired = true;
            break;
        }
        assert!(
            status == StatusCode::OK || status == StatusCode::UNAUTHORIZED,
            "{status}"
        );
        tokio::time::sleep(PAUSE).await;
    }
    assert!(expired, "the session never expired");
    refused_from_now_on(&pair.b, &tokens.access_token).await;
}

#[tokio::test]
async fn a_direct_del_in_redis_is_seen_by_a_replica_that_had_the_session_cached() {
    let pair = Pair::start(1000).await;
    let tokens = logged_in_and_cached_on_b(&pair).await;

    let deleted = pair
        .redis
        .cli(&["DEL", &pair.key(&tokens.access_token)])
        .await;
    assert_eq!(deleted.trim(), "1");

    refused_from_now_on(&pair.b, &tokens.access_token).await;

    let metrics = pair
        .b
        .http
        .get(pair.b.url("/-/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "session_cache_hits_total",
        "session_cache_misses_total",
        "session_cache_invalidations_total",
        "session_cache_entries",
    ] {
        assert!(
            metrics.contains(&format!("# HELP {name} ")),
            "{name}: {metrics}"
        );
    }
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0.0)
    };
    assert!(value("session_cache_hits_total") >= 1.0, "{metrics}");
    assert!(
        value("session_cache_invalidations_total") >= 1.0,
        "{metrics}"
    );
}

#[tokio::test]
async fn a_flushall_empties_the_cache() {
    let pair = Pair::start(1000).await;
    let tokens = logged_in_and_cached_on_b(&pair).await;

    assert_eq!(pair.redis.cli(&["FLUSHALL"]).await.trim(), "OK");

    refused_from_now_on(&pair.b, &tokens.access_token).await;
}

#[tokio::test]
async fn a_redis_restart_flushes_the_cache_and_tracking_comes_back_on() {
    let mut pair = Pair::start(0).await;
    let tokens = logged_in_and_cached_on_b(&pair).await;
    let old = tracking_ids(&pair.redis.process).await;
    assert_eq!(old.len(), 1, "only B tracks");

    pair.redis.restart().await;
    // A new tracking connection is made only after the old one was given up (flushed).
    until_tracking_again(&pair.redis.process, &[]).await;
    assert!(
        !served_from_cache(&pair.b, &pair.redis.process, &tokens.access_token).await,
        "the first read after the restart must go to Redis"
    );
    until_cached(&pair.b, &pair.redis.process, &tokens.access_token).await;

    // Tracking is on for real on the new connection: a delete is still seen.
    pair.redis
        .cli(&["DEL", &pair.key(&tokens.access_token)])
        .await;
    refused_from_now_on(&pair.b, &tokens.access_token).await;
}

/// B caches, its tracking connection is killed with `kill`, and B must read Redis again
/// before serving from memory, and still see a delete afterwards.
async fn killing_the_tracking_connection_flushes_the_cache(kill: &[&str], by_id: bool) {
    let pair = Pair::start(0).await;
    let tokens = logged_in_and_cached_on_b(&pair).await;
    let old = tracking_ids(&pair.redis.process).await;
    assert_eq!(old.len(), 1, "only B tracks");

    let mut command: Vec<&str> = kill.to_vec();
    if by_id {
        command.push(&old[0]);
    }
    let killed = pair.redis.cli(&command).await;
    assert_ne!(killed.trim(), "0", "{killed}");

    until_tracking_again(&pair.redis.process, &old).await;
    assert!(
        !served_from_cache(&pair.b, &pair.redis.process, &tokens.access_token).await,
        "the first read after the kill must go to Redis"
    );
    until_cached(&pair.b, &pair.redis.process, &tokens.access_token).await;
    pair.redis
        .cli(&["DEL", &pair.key(&tokens.access_token)])
        .await;
    refused_from_now_on(&pair.b, &tokens.access_token).await;
}

#[tokio::test]
async fn client_kill_id_of_the_tracking_connection_flushes_the_cache() {
    killing_the_tracking_connection_flushes_the_cache(&["CLIENT", "KILL", "ID"], true).await;
}

#[tokio::test]
async fn client_kill_type_normal_flushes_the_cache() {
    killing_the_tracking_connection_flushes_the_cache(&["CLIENT", "KILL", "TYPE", "normal"], false)
        .await;
}

#[tokio::test]
async fn a_frozen_redis_is_not_hidden_by_the_cache_past_the_heartbeat_lease() {
    let pair = Pair::start(0).await;
    let tokens = logged_in_and_cached_on_b(&pair).await;

    pair.redis.process.freeze();
    // Hits stop once the lease of the last answered heartbeat runs out; then B answers
    // as without the cache: 503 while Redis does not answer.
    let mut unavailable = false;
    for _ in 0..LONG_ATTEMPTS {
        match userinfo(&pair.b, &tokens.access_token).await {
            StatusCode::SERVICE_UNAVAILABLE => {
                unavailable = true;
                break;
            }
            StatusCode::OK => tokio::time::sleep(PAUSE).await,
            other => panic!("unexpected {other}"),
        }
    }
    pair.redis.process.thaw();
    assert!(unavailable, "the cache kept serving while Redis was frozen");
}

#[tokio::test]
async fn session_cache_size_zero_never_caches() {
    let redis = RedisServer::start().await;
    let scope = format!("cache-{}", uuid::Uuid::new_v4().simple());
    let a = replica(normal(redis.port()), &scope, 0).await;
    let b = replica(normal(redis.port()), &scope, 0).await;
    let tokens = a.login_tokens().await;

    for _ in 0..5 {
        assert!(!served_from_cache(&b, &redis.process, &tokens.access_token).await);
    }
    assert!(tracking_ids(&redis.process).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sentinel_failover_flushes_the_cache() {
    let mut set = RedisSentinelSet::start().await;
    let settings = RedisSettings {
        hosts: set.sentinel_hosts(),
        mode: RedisMode::Sentinel {
            master_name: SENTINEL_MASTER.to_owned(),
        },
        ..normal(0)
    };
    let scope = format!("cache-{}", uuid::Uuid::new_v4().simple());
    let a = replica(settings.clone(), &scope, 0).await;
    let b = replica(settings, &scope, 1000).await;
    let tokens = a.login_tokens().await;
    until_cached(&b, &set.master, &tokens.access_token).await;
    set.wait_for_replica_sync().await;

    set.kill_master().await;
    // B tracks on the promoted replica only after it gave up (flushed) the old master.
    until_tracking_again(&set.replica, &[]).await;
    let mut reread = false;
    for _ in 0..LONG_ATTEMPTS {
        let before = gets(&set.replica).await;
        let status = userinfo(&b, &tokens.access_token).await;
        if status == StatusCode::OK {
            reread = gets(&set.replica).await > before;
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        tokio::time::sleep(PAUSE).await;
    }
    assert!(
        reread,
        "the first read after the failover must go to the new master"
    );
    until_cached(&b, &set.replica, &tokens.access_token).await;
    let keys = Keys::new(&scope);
    set.replica
        .cli(&[
            "DEL",
            &keys.session(&SessionHandle::new(&tokens.access_token).key()),
        ])
        .await;
    refused_from_now_on(&b, &tokens.access_token).await;
}

#[tokio::test]
async fn the_cache_tracks_over_tls_with_an_acl_user_as_the_store_connects() {
    let files = std::sync::Arc::new(TlsFiles::generate());
    let acl = Acl {
        username: "sessions".into(),
        password: format!("pw-{}", uuid::Uuid::new_v4().simple()),
    };
    let tls = ServerTls {
        files: files.clone(),
        require_client_cert: true,
    };
    let server = RedisServer::start_tls(tls, Some(acl.clone())).await;
    let path = |p: &std::path::Path| p.display().to_string();
    let env: Vec<(&str, String)> = vec![
        ("SERVICE_CONFIG_PATH", "/unused".into()),
        ("SERVICE_CONFIG_FILE_NAME", "config.json".into()),
        ("ORIGINAL_PROTOCOL_HEADER", "x-forwarded-proto".into()),
        ("REDIS_HOSTS", format!("localhost:{}", server.port())),
        ("REDIS_TLS", "true".into()),
        ("REDIS_TLS_CA_FILE", path(&files.ca)),
        ("REDIS_TLS_CERT_FILE", path(&files.client_cert)),
        ("REDIS_TLS_KEY_FILE", path(&files.client_key)),
        ("REDIS_USERNAME", acl.username.clone()),
        ("REDIS_PASSWORD", acl.password.clone()),
        ("SESSION_CACHE_SIZE", "500".into()),
    ];
    let parsed = Settings::from_lookup(|name| {
        env.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, value)| value.clone())
    })
    .unwrap();
    assert_eq!(parsed.session_cache_size, 500);
    let settings = parsed.redis.unwrap();
    let scope = format!("cache-{}", uuid::Uuid::new_v4().simple());
    let a = replica(settings.clone(), &scope, 0).await;
    let b = replica(settings, &scope, parsed.session_cache_size).await;
    let tokens = a.login_tokens().await;
    until_cached(&b, &server.process, &tokens.access_token).await;
    assert_eq!(tracking_ids(&server.process).await.len(), 1);

    let response = a.get_bearer("/logout", &tokens.access_token).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    refused_from_now_on(&b, &tokens.access_token).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn in_cluster_mode_the_cache_is_off_and_sessions_work_as_before() {
    let cluster = RedisCluster::start().await;
    let settings = RedisSettings {
        hosts: cluster.hosts(),
        mode: RedisMode::Cluster,
        ..normal(0)
    };
    let scope = format!("cache-{}", uuid::Uuid::new_v4().simple());
    let a = replica(settings.clone(), &scope, 1000).await;
    let b = replica(settings, &scope, 1000).await;
    let tokens = a.login_tokens().await;
    assert_eq!(userinfo(&b, &tokens.access_token).await, StatusCode::OK);

    for node in &cluster.nodes {
        assert!(tracking_ids(node).await.is_empty());
    }
    assert_eq!(
        a.get_bearer("/logout", &tokens.access_token).await.status(),
        StatusCode::NO_CONTENT
    );
    // No cache, nothing to wait for: the very next read is refused.
    assert_eq!(
        userinfo(&b, &tokens.access_token).await,
        StatusCode::UNAUTHORIZED
    );
}
