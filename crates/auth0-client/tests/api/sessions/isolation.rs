//! Store scopes, credentials and sealing: what one store cannot see of another, and what
//! a Redis dump cannot show.

use super::*;

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
