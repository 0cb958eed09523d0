//! Store faults: Sentinel failovers, a stopped, restarted or frozen Redis.

use super::*;

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
        // A hang on the frozen sentinel fails here; how long a call may take is the
        // sentinel timeout's business, not a window asserted by this test.
        let answer = tokio::time::timeout(PATIENCE, store.put_session(&handle, &session))
            .await
            .expect("a call hung on the frozen sentinel");
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
