//! `bench-floor`: the best a session lookup can do on this machine.
//!
//! Two modes, both keyed like auth0-client's sessions (a SHA-256 of the handle, never the
//! raw token) and answering a fixed JSON, with no parsing, no logging, no middleware:
//!
//! - `--redis URL`: one Redis GET per request (the "Redis-GET floor");
//! - `--no-io`: a lookup in an in-memory map of token hashes, filled once by
//!   `PUT /-/sessions` (the "no-I/O floor": the ceiling of any HTTP service here).
//!
//! The benchmark compares auth0-client's `/userinfo` against both.

mod memory;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use clap::Parser;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use sha2::{Digest, Sha256};

use crate::memory::Sessions;

/// The answer for a live session (the size of a typical `/userinfo` body).
const USER: &str = r#"{"sub":"auth0|dev000000000000000000001","userId":"auth0|dev000000000000000000001","email":"dev@example.com","email_verified":true,"name":"Dev User","nickname":"dev","groups":["admin","dev"]}"#;

/// Largest `PUT /-/sessions` body (a line of 65 bytes per session: a million sessions).
const SEED_LIMIT: usize = 65 << 20;

/// A session lookup floor: one Redis GET per request, or an in-memory map (binds 127.0.0.1 only).
#[derive(Debug, Parser)]
#[command(name = "bench-floor", about)]
struct Args {
    /// Port to listen on.
    #[arg(long)]
    port: u16,
    /// Redis URL, e.g. `redis://127.0.0.1:6379`, or `rediss://localhost:6380` for TLS.
    #[arg(long, required_unless_present = "no_io", conflicts_with = "no_io")]
    redis: Option<String>,
    /// No I/O: sessions are the SHA-256 digests given once with `PUT /-/sessions`
    /// (hex, one per line), kept in memory.
    #[arg(long)]
    no_io: bool,
    /// PEM bundle of the CAs trusted for a `rediss://` URL (default: the system roots).
    #[arg(long)]
    tls_ca_file: Option<std::path::PathBuf>,
    /// Key prefix; a session's key is the prefix followed by the hex SHA-256 of its token.
    #[arg(long, default_value = "bench-floor:session:")]
    prefix: String,
}

/// What every request of the Redis-GET floor needs.
#[derive(Clone)]
struct Floor {
    redis: ConnectionManager,
    prefix: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let app = match &args.redis {
        Some(url) => {
            let client = match &args.tls_ca_file {
                None => redis::Client::open(url.as_str())?,
                Some(ca) => redis::Client::build_with_tls(
                    url.as_str(),
                    redis::TlsCertificates {
                        client_tls: None,
                        root_cert: Some(std::fs::read(ca)?),
                    },
                )?,
            };
            let redis = client.get_connection_manager().await?;
            let floor = Floor {
                redis,
                prefix: args.prefix,
            };
            Router::new().route("/me", get(me)).with_state(floor)
        }
        None => {
            let sessions = Arc::new(Sessions::new(USER));
            Router::new()
                .route("/me", get(me_in_memory))
                .route(
                    "/-/sessions",
                    put(seed).layer(DefaultBodyLimit::max(SEED_LIMIT)),
                )
                .with_state(sessions)
        }
    };
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], args.port))).await?;
    let mode = if args.no_io { "no I/O" } else { "Redis GET" };
    println!(
        "bench-floor ({mode}) listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// `GET /me`: 200 and the fixed user when the handle's key exists, else 401.
async fn me(State(mut floor): State<Floor>, headers: HeaderMap) -> Response {
    let Some(token) = handle(&headers) else {
        return unauthorized();
    };
    let key = format!("{}{}", floor.prefix, hex_sha256(token));
    let found: redis::RedisResult<Option<Vec<u8>>> = floor.redis.get(key).await;
    match found {
        Ok(Some(_)) => json(StatusCode::OK, USER),
        Ok(None) => unauthorized(),
        Err(_) => json(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"statusCode":503,"error":"Service Unavailable","message":"session store unavailable"}"#,
        ),
    }
}

/// `GET /me` without I/O: 200 and the map's answer when the handle's digest is in it, else 401.
async fn me_in_memory(State(sessions): State<Arc<Sessions>>, headers: HeaderMap) -> Response {
    let Some(token) = handle(&headers) else {
        return unauthorized();
    };
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    match sessions.get(&digest) {
        Some(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body.clone(),
        )
            .into_response(),
        None => unauthorized(),
    }
}

/// `PUT /-/sessions`: the hex SHA-256 digests of the live handles, one per line, given once.
async fn seed(State(sessions): State<Arc<Sessions>>, body: String) -> Response {
    match sessions.fill(&body) {
        Ok(count) => (
            [(header::CONTENT_TYPE, "application/json")],
            format!(r#"{{"sessions":{count}}}"#),
        )
            .into_response(),
        Err(err) => (
            err.status(),
            [(header::CONTENT_TYPE, "application/json")],
            format!(
                r#"{{"statusCode":{},"error":"{}","message":"{err}"}}"#,
                err.status().as_u16(),
                err.status().canonical_reason().unwrap_or("Error"),
            ),
        )
            .into_response(),
    }
}

/// The bearer token, else the `sid` cookie.
fn handle(headers: &HeaderMap) -> Option<&str> {
    if let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(token);
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix("sid="))
}

/// A fixed JSON answer (no copy of the body).
fn json(status: StatusCode, body: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn unauthorized() -> Response {
    json(
        StatusCode::UNAUTHORIZED,
        r#"{"statusCode":401,"error":"Unauthorized","message":"no session"}"#,
    )
}

fn hex_sha256(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
