//! Service-level behaviour: app replicas sharing one Redis, in front of one devtenant.

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
    let replica = Replica::spawn(&tenant, settings(set.sentinel_hosts(), mode), "failover").await;
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
async fn expired_login_on_two_replicas() -> (Arc<DevTenant>, RedisServer, Arc<[Replica; 2]>, Tokens)
{
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
        slowest_503.unwrap() < 3 * auth0_client::tuning::StoreTimeouts::default().operation,
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
