//! The store fixtures: every backend the suite runs on.

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
