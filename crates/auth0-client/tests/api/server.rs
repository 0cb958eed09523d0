//! Integration tests: how the real `Application` listens (dual-stack, `HTTP_ADDRESS`) and
//! how it treats slow clients (header, idle and body timeouts, `HTTP_MAX_CONNECTIONS`).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::app::{DEV_EMAIL, DEV_PASSWORD, TOKEN, config_file, settings};
use auth0_client::app::{Application, Lifecycle};
use auth0_client::config::Config;
use auth0_client::config::server::ServerSettings;
use auth0_client::session::MemoryStore;
use auth0_devtenant::{DevTenant, TenantConfig};
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Bound on any wait for the server in these tests: a hang guard, not a measurement.
const HANG_GUARD: Duration = Duration::from_secs(20);

/// The real `Application` with `server` settings, bound as `Application::build` does
/// (`HTTP_ADDRESS`, or every interface), on port 0.
struct Served {
    port: u16,
    lifecycle: Arc<Lifecycle>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    tenant: DevTenant,
}

impl Served {
    async fn start(server: ServerSettings) -> Served {
        let tenant = DevTenant::start(TenantConfig::default()).await.unwrap();
        let mut settings = settings();
        settings.server = server;
        let config = Config::finish(settings, config_file(&tenant.url())).expect("valid config");
        let app = Application::build(config, Arc::new(MemoryStore::new()))
            .await
            .unwrap();
        let port = app.port();
        let lifecycle = app.state().lifecycle.clone();
        let server = tokio::spawn(app.run_until_stopped());
        Served {
            port,
            lifecycle,
            server,
            tenant,
        }
    }

    fn v4(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.port)
    }

    fn v6(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), self.port)
    }

    async fn stop(self) {
        self.lifecycle.shutdown();
        let stopped = tokio::time::timeout(HANG_GUARD, self.server).await;
        assert!(matches!(stopped, Ok(Ok(Ok(())))), "the server stops");
    }
}

async fn healthz(address: SocketAddr) -> reqwest::Result<reqwest::StatusCode> {
    let response = reqwest::Client::new()
        .get(format!("http://{address}/-/healthz"))
        .timeout(HANG_GUARD)
        .send()
        .await?;
    Ok(response.status())
}

const GET_HEALTHZ: &[u8] = b"GET /-/healthz HTTP/1.1\r\nhost: test\r\n\r\n";

/// Reads one HTTP/1.1 response with a `content-length` body: (status, body).
async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if buffer.len() >= end + 4 + length {
                let status = head[9..12].parse().unwrap();
                let body = String::from_utf8_lossy(&buffer[end + 4..end + 4 + length]);
                return (status, body.into_owned());
            }
        }
        let read = tokio::time::timeout(HANG_GUARD, stream.read(&mut chunk))
            .await
            .expect("a response before the hang guard")
            .unwrap();
        assert!(read > 0, "the connection closed before a whole response");
        buffer.extend_from_slice(&chunk[..read]);
    }
}

/// Waits until the server closes `stream` (EOF or reset); fails on any data.
async fn assert_closed_by_server(stream: &mut TcpStream) {
    let mut chunk = [0u8; 1024];
    let read = tokio::time::timeout(HANG_GUARD, stream.read(&mut chunk))
        .await
        .expect("the server closes the connection before the hang guard");
    match read {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!(
            "expected the connection to close, got {:?}",
            String::from_utf8_lossy(&chunk[..n])
        ),
    }
}

#[tokio::test]
async fn by_default_the_service_is_reachable_over_ipv6_and_ipv4_loopback() {
    let app = Served::start(ServerSettings::default()).await;
    assert_eq!(healthz(app.v6()).await.unwrap(), 200, "over [::1]");
    assert_eq!(healthz(app.v4()).await.unwrap(), 200, "over 127.0.0.1");
    app.stop().await;
}

#[tokio::test]
async fn an_ipv4_client_of_the_dual_stack_socket_is_seen_as_ipv4() {
    let app = Served::start(ServerSettings::default()).await;
    let response = reqwest::Client::new()
        .post(format!("http://{}/oauth/token", app.v4()))
        .header("client-type", TOKEN)
        .form(&[
            ("grant_type", "password"),
            ("username", DEV_EMAIL),
            ("password", DEV_PASSWORD),
        ])
        .timeout(HANG_GUARD)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Without x-forwarded-for the peer address is the end user's IP sent to Auth0.
    let forwarded = app.tenant.stats().forwarded_for;
    assert_eq!(
        forwarded.get("dev-token-client").map(String::as_str),
        Some("127.0.0.1"),
        "not the IPv4-mapped ::ffff:127.0.0.1"
    );
    app.stop().await;
}

#[tokio::test]
async fn http_address_binds_that_one_address_only() {
    let app = Served::start(ServerSettings {
        address: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        ..ServerSettings::default()
    })
    .await;
    assert_eq!(healthz(app.v4()).await.unwrap(), 200);
    assert!(
        TcpStream::connect(app.v6()).await.is_err(),
        "[::1] is not bound"
    );
    app.stop().await;

    let app = Served::start(ServerSettings {
        address: Some(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        ..ServerSettings::default()
    })
    .await;
    assert_eq!(healthz(app.v6()).await.unwrap(), 200);
    assert!(
        TcpStream::connect(app.v4()).await.is_err(),
        "127.0.0.1 is not bound: an IPv6 HTTP_ADDRESS is IPv6 only"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_connection_that_never_completes_its_header_is_closed_after_the_header_timeout() {
    let app = Served::start(ServerSettings {
        header_read_timeout: Duration::from_millis(50),
        ..ServerSettings::default()
    })
    .await;
    let mut stream = TcpStream::connect(app.v4()).await.unwrap();
    stream
        .write_all(b"GET /-/healthz HTTP/1.1\r\nhost: test\r\nx-slow: ")
        .await
        .unwrap();
    assert_closed_by_server(&mut stream).await;
    // A connection that says nothing at all is closed too.
    let mut silent = TcpStream::connect(app.v4()).await.unwrap();
    assert_closed_by_server(&mut silent).await;
    // Well-behaved clients are still served.
    assert_eq!(healthz(app.v4()).await.unwrap(), 200);
    app.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let app = Served::start(ServerSettings {
        idle_timeout: Duration::from_millis(100),
        ..ServerSettings::default()
    })
    .await;
    let mut stream = TcpStream::connect(app.v4()).await.unwrap();
    stream.write_all(GET_HEALTHZ).await.unwrap();
    assert_eq!(read_response(&mut stream).await.0, 200);
    assert_closed_by_server(&mut stream).await;
    app.stop().await;
}

#[tokio::test]
async fn a_request_served_longer_than_the_idle_and_header_timeouts_still_completes() {
    let app = Served::start(ServerSettings {
        header_read_timeout: Duration::from_millis(50),
        idle_timeout: Duration::from_millis(50),
        ..ServerSettings::default()
    })
    .await;
    // Auth0 answers the login only after several idle timeouts have passed.
    app.tenant
        .faults()
        .set_latency("/oauth/token", Duration::from_millis(500));
    let body = format!("grant_type=password&username={DEV_EMAIL}&password={DEV_PASSWORD}")
        .replace('@', "%40")
        .replace('!', "%21");
    let mut stream = TcpStream::connect(app.v4()).await.unwrap();
    stream
        .write_all(
            format!(
                "POST /oauth/token HTTP/1.1\r\nhost: test\r\nclient-type: token\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let (status, body) = read_response(&mut stream).await;
    assert_eq!(status, 200, "{body}");
    // Idle again afterwards: closed.
    assert_closed_by_server(&mut stream).await;
    app.stop().await;
}

#[tokio::test]
async fn a_stalled_request_body_answers_a_json_408_and_the_connection_closes() {
    let app = Served::start(ServerSettings {
        body_read_timeout: Duration::from_millis(100),
        ..ServerSettings::default()
    })
    .await;
    let mut stream = TcpStream::connect(app.v4()).await.unwrap();
    stream
        .write_all(
            b"POST /oauth/token HTTP/1.1\r\nhost: test\r\nclient-type: token\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"grant_type\":",
        )
        .await
        .unwrap();
    let (status, body) = read_response(&mut stream).await;
    assert_eq!(status, 408, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["statusCode"], 408);
    assert_eq!(body["error"], "Request Timeout");
    assert_closed_by_server(&mut stream).await;
    app.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_until_one_closes_while_the_others_are_served() {
    let app = Served::start(ServerSettings {
        max_connections: 1,
        ..ServerSettings::default()
    })
    .await;
    let mut first = TcpStream::connect(app.v4()).await.unwrap();
    first.write_all(GET_HEALTHZ).await.unwrap();
    assert_eq!(read_response(&mut first).await.0, 200);

    // The second connection is queued by the kernel; its request waits.
    let mut second = TcpStream::connect(app.v4()).await.unwrap();
    second.write_all(GET_HEALTHZ).await.unwrap();
    // The first connection is still served meanwhile...
    first.write_all(GET_HEALTHZ).await.unwrap();
    assert_eq!(read_response(&mut first).await.0, 200);
    // ...and the second has had no answer.
    let mut chunk = [0u8; 64];
    match second.try_read(&mut chunk) {
        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the connection over the limit was answered: {other:?}"),
    }

    // Once the first closes, the second is served.
    drop(first);
    assert_eq!(read_response(&mut second).await.0, 200);
    app.stop().await;
}

#[test]
fn check_config_refuses_a_bad_http_address_naming_the_variable() {
    let dir = std::env::temp_dir().join(format!("auth0-client-listen-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = serde_json::to_string(&config_file("https://tenant.example.com")).unwrap();
    std::fs::write(dir.join("config.json"), file).unwrap();
    let run = |address: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_auth0-client"))
            .arg("check-config")
            .env_clear()
            .env("SERVICE_CONFIG_PATH", &dir)
            .env("SERVICE_CONFIG_FILE_NAME", "config")
            .env("ORIGINAL_PROTOCOL_HEADER", "x-forwarded-proto")
            .env("HTTP_ADDRESS", address)
            .env("HTTP_MAX_CONNECTIONS", "0")
            .output()
            .unwrap()
    };
    let output = run("localhost:8080");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(
        lines.iter().any(|l| l.starts_with("HTTP_ADDRESS: ")),
        "{stderr}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("HTTP_MAX_CONNECTIONS: ")),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
