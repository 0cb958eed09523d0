//! Spawns real redis-server processes (standalone, sentinel, cluster) on free ports.
//!
//! Every process runs in its own temporary directory and is killed when its handle
//! drops. A missing `redis-server` fails the test with instructions; it never skips.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::tls::TlsFiles;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// How long a process may take to answer after it was spawned.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// ACL credentials for a standalone server (`--user NAME on >PASSWORD`, default user off).
#[derive(Debug, Clone)]
pub struct Acl {
    /// ACL user name.
    pub username: String,
    /// Its password.
    pub password: String,
}

/// TLS of a spawned server: TLS only (`port 0`, `tls-port`), with the files of `files`.
#[derive(Clone)]
pub struct ServerTls {
    /// The CA, the server certificate it presents (and uses as a client towards other
    /// nodes), and the client certificate the harness's `redis-cli` presents.
    pub files: Arc<TlsFiles>,
    /// `tls-auth-clients yes` (clients must present a certificate of the CA), else `no`.
    pub require_client_cert: bool,
}

impl ServerTls {
    fn server_lines(&self) -> Vec<(String, String)> {
        let path = |p: &Path| p.display().to_string();
        vec![
            ("tls-cert-file".into(), path(&self.files.server_cert)),
            ("tls-key-file".into(), path(&self.files.server_key)),
            ("tls-ca-cert-file".into(), path(&self.files.ca)),
            (
                "tls-auth-clients".into(),
                if self.require_client_cert {
                    "yes"
                } else {
                    "no"
                }
                .into(),
            ),
        ]
    }

    fn cli_args(&self) -> Vec<String> {
        let path = |p: &Path| p.display().to_string();
        vec![
            "--tls".into(),
            "--cacert".into(),
            path(&self.files.ca),
            "--cert".into(),
            path(&self.files.client_cert),
            "--key".into(),
            path(&self.files.client_key),
        ]
    }
}

/// One `redis-server` process (standalone, replica, cluster node or sentinel).
pub struct RedisProcess {
    // Declared first so it is killed before its directory is removed.
    child: Option<Child>,
    port: u16,
    dir: TempDir,
    args: Vec<String>,
    acl: Option<Acl>,
    tls: Option<ServerTls>,
    requirepass: Option<String>,
}

impl RedisProcess {
    async fn spawn(args: Vec<String>, acl: Option<Acl>) -> RedisProcess {
        Self::spawn_secured(args, acl, None, None).await
    }

    /// [`RedisProcess::spawn`] over TLS only (with `tls`), and with `requirepass` (sentinels).
    async fn spawn_secured(
        args: Vec<String>,
        acl: Option<Acl>,
        tls: Option<ServerTls>,
        requirepass: Option<String>,
    ) -> RedisProcess {
        let port = free_port();
        let dir = TempDir::new(&format!("redis-{port}"));
        let mut process = RedisProcess {
            port,
            dir,
            args,
            child: None,
            acl,
            tls,
            requirepass,
        };
        process.launch().await;
        process
    }

    async fn launch(&mut self) {
        let mut command = Command::new(redis_server());
        if let Some(config) = self.args.iter().position(|arg| arg == "--sentinel") {
            // A sentinel rewrites its config file: give it one in its own directory.
            let file = self.dir.path().join("sentinel.conf");
            let mut body = self.args[config + 1..].join("\n");
            let port = match &self.tls {
                None => format!("port {}", self.port),
                Some(tls) => {
                    for (name, value) in tls.server_lines() {
                        body.push_str(&format!("\n{name} {value}"));
                    }
                    // TLS to the data nodes and to the other sentinels too.
                    body.push_str("\ntls-replication yes");
                    format!("port 0\ntls-port {}", self.port)
                }
            };
            if let Some(password) = &self.requirepass {
                body.push_str(&format!("\nrequirepass {password}"));
            }
            std::fs::write(
                &file,
                format!(
                    "{port}\nbind 127.0.0.1\ndir {}\n{body}\n",
                    self.dir.path().display()
                ),
            )
            .expect("write sentinel.conf");
            command.arg(&file).arg("--sentinel");
        } else {
            match &self.tls {
                None => command.args(["--port", &self.port.to_string()]),
                Some(tls) => {
                    command.args(["--port", "0", "--tls-port", &self.port.to_string()]);
                    for (name, value) in tls.server_lines() {
                        command.arg(format!("--{name}")).arg(value);
                    }
                    &mut command
                }
            };
            command
                .args(["--bind", "127.0.0.1", "--dir"])
                .arg(self.dir.path())
                .args([
                    "--save",
                    "",
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    "always",
                ])
                .args([
                    "--protected-mode",
                    "no",
                    "--daemonize",
                    "no",
                    "--loglevel",
                    "warning",
                ])
                .args(&self.args);
            if let Some(acl) = &self.acl {
                command.arg("--user").args([
                    acl.username.as_str(),
                    "on",
                    &format!(">{}", acl.password),
                    "~*",
                    "&*",
                    "+@all",
                ]);
                if acl.username != "default" {
                    command.args(["--user", "default", "off"]);
                }
            }
        }
        let log =
            std::fs::File::create(self.dir.path().join("redis.log")).expect("create redis.log");
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot spawn redis-server: {error}"));
        self.child = Some(child);
        self.wait_until_answering().await;
    }

    async fn wait_until_answering(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                let log =
                    std::fs::read_to_string(self.dir.path().join("redis.log")).unwrap_or_default();
                panic!(
                    "redis-server on port {} exited ({status}):\n{log}",
                    self.port
                );
            }
            let answering = match &self.tls {
                None => ping(self.port).await,
                // Any RESP answer counts, as for `ping`.
                Some(_) => {
                    let answer = self.cli(&["PING"]).await;
                    answer.starts_with("PONG") || answer.contains("NOAUTH")
                }
            };
            if answering {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "redis-server on port {} did not answer within {START_TIMEOUT:?}",
            self.port
        );
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the process (SIGKILL, like a crash); the port stays reserved for [`Self::restart`].
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts the process again on the same port and data directory.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.launch().await;
    }

    /// Runs `redis-cli -p PORT ARGS...` (authenticated when the server has an ACL user)
    /// and returns its stdout.
    pub async fn cli(&self, args: &[&str]) -> String {
        let mut command = Command::new("redis-cli");
        command.args(["-h", "127.0.0.1", "-p", &self.port.to_string()]);
        if let Some(tls) = &self.tls {
            command.args(tls.cli_args());
        }
        if let Some(password) = &self.requirepass {
            command.args(["-a", password, "--no-auth-warning"]);
        }
        if let Some(acl) = &self.acl {
            command.args([
                "--user",
                &acl.username,
                "--pass",
                &acl.password,
                "--no-auth-warning",
            ]);
        }
        let output = command.args(args).output().await.expect("run redis-cli");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Suspends the process (SIGSTOP): it keeps its connections but answers nothing.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Resumes a frozen process (SIGCONT).
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self
            .child
            .as_ref()
            .and_then(Child::id)
            .expect("process is running");
        let status = std::process::Command::new("kill")
            .arg(signal)
            .arg(pid.to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {pid} failed");
    }

    /// The `field:value` of an `INFO section` answer.
    pub async fn info_field(&self, section: &str, field: &str) -> Option<String> {
        let info = self.cli(&["INFO", section]).await;
        info.lines().find_map(|line| {
            line.strip_prefix(&format!("{field}:"))
                .map(|v| v.trim().to_owned())
        })
    }
}

/// A standalone redis-server.
pub struct RedisServer {
    /// The process.
    pub process: RedisProcess,
}

impl RedisServer {
    /// A standalone server without authentication.
    pub async fn start() -> RedisServer {
        RedisServer {
            process: RedisProcess::spawn(Vec::new(), None).await,
        }
    }

    /// A standalone server that only accepts the ACL user `acl`.
    pub async fn start_with_acl(acl: Acl) -> RedisServer {
        RedisServer {
            process: RedisProcess::spawn(Vec::new(), Some(acl)).await,
        }
    }

    /// A standalone server over TLS only, accepting only `acl` when given.
    pub async fn start_tls(tls: ServerTls, acl: Option<Acl>) -> RedisServer {
        RedisServer {
            process: RedisProcess::spawn_secured(Vec::new(), acl, Some(tls), None).await,
        }
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.process.port()
    }

    /// Kills the server (SIGKILL); data written so far is on disk (append-only, fsync always).
    pub async fn stop(&mut self) {
        self.process.stop().await;
    }

    /// Starts it again on the same port with the same data.
    pub async fn restart(&mut self) {
        self.process.restart().await;
    }

    /// `redis-cli` against the server.
    pub async fn cli(&self, args: &[&str]) -> String {
        self.process.cli(args).await
    }

    /// Every key, by `redis-cli --scan`.
    pub async fn keys(&self) -> Vec<String> {
        self.cli(&["--scan"])
            .await
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// The master name the sentinels monitor.
pub const SENTINEL_MASTER: &str = "sessions";

/// A master, one replica and three sentinels monitoring them (quorum 2).
pub struct RedisSentinelSet {
    /// The first master.
    pub master: RedisProcess,
    /// Its replica.
    pub replica: RedisProcess,
    /// The sentinels.
    pub sentinels: Vec<RedisProcess>,
}

impl RedisSentinelSet {
    /// Starts the five processes and waits until the replica is in sync and every
    /// sentinel knows the replica and the two other sentinels.
    pub async fn start() -> RedisSentinelSet {
        Self::start_with(None, None, None).await
    }

    /// The same, with the data nodes accepting only the ACL user `acl`: they replicate
    /// with it (`masteruser`) and the sentinels monitor with it (`auth-user`).
    pub async fn start_with_acl(acl: Acl) -> RedisSentinelSet {
        Self::start_with(Some(acl), None, None).await
    }

    /// The same over TLS only (data nodes replicate over TLS, sentinels reach them and
    /// each other over TLS), the sentinels with `requirepass sentinel_password` when given.
    pub async fn start_tls(
        tls: ServerTls,
        acl: Option<Acl>,
        sentinel_password: Option<String>,
    ) -> RedisSentinelSet {
        Self::start_with(acl, Some(tls), sentinel_password).await
    }

    async fn start_with(
        acl: Option<Acl>,
        tls: Option<ServerTls>,
        sentinel_password: Option<String>,
    ) -> RedisSentinelSet {
        let mut auth: Vec<String> = match &acl {
            Some(acl) => vec![
                "--masteruser".into(),
                acl.username.clone(),
                "--masterauth".into(),
                acl.password.clone(),
            ],
            None => Vec::new(),
        };
        if tls.is_some() {
            auth.extend(["--tls-replication".to_owned(), "yes".to_owned()]);
        }
        let master =
            RedisProcess::spawn_secured(auth.clone(), acl.clone(), tls.clone(), None).await;
        let mut replica_args = vec![
            "--replicaof".to_owned(),
            "127.0.0.1".to_owned(),
            master.port().to_string(),
        ];
        replica_args.extend(auth);
        let replica =
            RedisProcess::spawn_secured(replica_args, acl.clone(), tls.clone(), None).await;
        let mut sentinels = Vec::new();
        for _ in 0..3 {
            let mut config = vec![
                "--sentinel".to_owned(),
                format!(
                    "sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {} 2",
                    master.port()
                ),
                format!("sentinel down-after-milliseconds {SENTINEL_MASTER} 1000"),
                format!("sentinel failover-timeout {SENTINEL_MASTER} 5000"),
                format!("sentinel parallel-syncs {SENTINEL_MASTER} 1"),
            ];
            if let Some(acl) = &acl {
                config.push(format!(
                    "sentinel auth-user {SENTINEL_MASTER} {}",
                    acl.username
                ));
                config.push(format!(
                    "sentinel auth-pass {SENTINEL_MASTER} {}",
                    acl.password
                ));
            }
            sentinels.push(
                RedisProcess::spawn_secured(config, None, tls.clone(), sentinel_password.clone())
                    .await,
            );
        }
        let set = RedisSentinelSet {
            master,
            replica,
            sentinels,
        };
        set.wait_until_ready().await;
        set
    }

    async fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let replica_up = self
                .replica
                .info_field("replication", "master_link_status")
                .await
                .as_deref()
                == Some("up");
            let mut sentinels_ready = true;
            for sentinel in &self.sentinels {
                let answer = sentinel.cli(&["SENTINEL", "MASTER", SENTINEL_MASTER]).await;
                let fields: Vec<&str> = answer.lines().collect();
                let field = |name: &str| {
                    fields
                        .iter()
                        .position(|line| *line == name)
                        .and_then(|i| fields.get(i + 1))
                        .copied()
                };
                sentinels_ready &=
                    field("num-slaves") == Some("1") && field("num-other-sentinels") == Some("2");
            }
            if replica_up && sentinels_ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "sentinel set not ready within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the replica has processed every write the master has.
    pub async fn wait_for_replica_sync(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let master = self
                .master
                .info_field("replication", "master_repl_offset")
                .await;
            let replica = self
                .replica
                .info_field("replication", "slave_repl_offset")
                .await;
            let offset = |v: Option<String>| v.and_then(|v| v.parse::<u64>().ok());
            if let (Some(master), Some(replica)) = (offset(master), offset(replica))
                && replica >= master
            {
                return;
            }
            assert!(Instant::now() < deadline, "replica not in sync within 10 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `(127.0.0.1, port)` of each sentinel, for `REDIS_HOSTS`.
    pub fn sentinel_hosts(&self) -> Vec<(String, u16)> {
        self.sentinels
            .iter()
            .map(|s| ("127.0.0.1".to_owned(), s.port()))
            .collect()
    }

    /// Kills the current master (SIGKILL); the sentinels promote the replica.
    pub async fn kill_master(&mut self) {
        self.master.stop().await;
    }

    /// The port most sentinels currently name as master.
    pub async fn master_port(&self) -> Option<u16> {
        let mut named: Vec<u16> = Vec::new();
        for sentinel in &self.sentinels {
            let answer = sentinel
                .cli(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", SENTINEL_MASTER])
                .await;
            named.extend(
                answer
                    .lines()
                    .nth(1)
                    .and_then(|port| port.trim().parse::<u16>().ok()),
            );
        }
        let count = |port: &u16| named.iter().filter(|p| *p == port).count();
        named.iter().copied().max_by_key(count)
    }
}

/// A Redis Cluster of three masters (no replicas), every slot covered.
pub struct RedisCluster {
    /// The nodes.
    pub nodes: Vec<RedisProcess>,
}

impl RedisCluster {
    /// Starts three cluster-enabled servers, joins them with `redis-cli --cluster create`
    /// and waits for `cluster_state:ok` on every node.
    pub async fn start() -> RedisCluster {
        Self::start_with(None, None).await
    }

    /// A cluster whose nodes only accept the ACL user `acl` (the nodes talk to each
    /// other over the cluster bus, which needs no credentials).
    pub async fn start_with_acl(acl: Acl) -> RedisCluster {
        Self::start_with(Some(acl), None).await
    }

    /// The same over TLS only: clients, the cluster bus (`tls-cluster yes`) and
    /// replication (`tls-replication yes`).
    pub async fn start_tls(tls: ServerTls, acl: Option<Acl>) -> RedisCluster {
        Self::start_with(acl, Some(tls)).await
    }

    async fn start_with(acl: Option<Acl>, tls: Option<ServerTls>) -> RedisCluster {
        let mut nodes = Vec::new();
        for _ in 0..3 {
            let mut args = vec![
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "2000",
            ];
            if tls.is_some() {
                args.extend(["--tls-cluster", "yes", "--tls-replication", "yes"]);
            }
            nodes.push(
                RedisProcess::spawn_secured(
                    args.iter().map(|a| (*a).to_owned()).collect(),
                    acl.clone(),
                    tls.clone(),
                    None,
                )
                .await,
            );
        }
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port()))
            .collect();
        let mut create = Command::new("redis-cli");
        if let Some(tls) = &tls {
            create.args(tls.cli_args());
        }
        if let Some(acl) = &acl {
            create.args([
                "--user",
                &acl.username,
                "--pass",
                &acl.password,
                "--no-auth-warning",
            ]);
        }
        let output = create
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .arg("--cluster-yes")
            .output()
            .await
            .expect("run redis-cli --cluster create");
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        let cluster = RedisCluster { nodes };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut ok = true;
            for node in &cluster.nodes {
                ok &= node.info_field_cluster("cluster_state").await.as_deref() == Some("ok");
            }
            if ok {
                return cluster;
            }
            assert!(
                Instant::now() < deadline,
                "cluster_state not ok within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `(127.0.0.1, port)` of each node, for `REDIS_HOSTS`.
    pub fn hosts(&self) -> Vec<(String, u16)> {
        self.nodes
            .iter()
            .map(|n| ("127.0.0.1".to_owned(), n.port()))
            .collect()
    }
}

impl RedisProcess {
    async fn info_field_cluster(&self, field: &str) -> Option<String> {
        let info = self.cli(&["CLUSTER", "INFO"]).await;
        info.lines().find_map(|line| {
            line.strip_prefix(&format!("{field}:"))
                .map(|v| v.trim().to_owned())
        })
    }
}

/// The `redis-server` binary; fails the test with instructions when it is missing.
fn redis_server() -> &'static str {
    static CHECKED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let found = *CHECKED.get_or_init(|| {
        std::process::Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    });
    if !found {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        panic!(
            "redis-server is not on PATH{}: these tests need a real Redis. Install it \
             (Debian/Ubuntu: `sudo apt-get install -y redis-server`, macOS: `brew install redis`) \
             or run the README's test command, which installs it where missing.",
            if ci { " (CI=true)" } else { "" }
        );
    }
    "redis-server"
}

/// True when something on `port` answers a `PING` (any RESP answer counts: a server
/// with ACLs answers `-NOAUTH`).
async fn ping(port: u16) -> bool {
    let attempt = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        stream.write_all(b"PING\r\n").await.ok()?;
        let mut buffer = [0u8; 64];
        let read = stream.read(&mut buffer).await.ok()?;
        (read > 0 && matches!(buffer[0], b'+' | b'-')).then_some(())
    };
    tokio::time::timeout(Duration::from_millis(500), attempt)
        .await
        .ok()
        .flatten()
        .is_some()
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// A directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new directory under the system's temporary directory.
    pub fn new(prefix: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "auth0-client-{prefix}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
