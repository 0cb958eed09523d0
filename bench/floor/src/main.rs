//! `bench-floor`: the best a session lookup can do on this machine.
//!
//! One Redis GET per request, keyed like auth0-client's sessions (a SHA-256 of the
//! handle, never the raw token), and a fixed JSON answer: no parsing, no logging, no
//! middleware. The benchmark compares auth0-client's `/userinfo` against it.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clap::Parser;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use sha2::{Digest, Sha256};

/// The answer for a live session (the size of a typical `/userinfo` body).
const USER: &str = r#"{"sub":"auth0|dev000000000000000000001","userId":"auth0|dev000000000000000000001","email":"dev@example.com","email_verified":true,"name":"Dev User","nickname":"dev","groups":["admin","dev"]}"#;

/// One Redis GET per request and a fixed JSON answer (binds 127.0.0.1 only).
#[derive(Debug, Parser)]
#[command(name = "bench-floor", about)]
struct Args {
    /// Port to listen on.
    #[arg(long)]
    port: u16,
    /// Redis URL, e.g. `redis://127.0.0.1:6379`, or `rediss://localhost:6380` for TLS.
    #[arg(long)]
    redis: String,
    /// PEM bundle of the CAs trusted for a `rediss://` URL (default: the system roots).
    #[arg(long)]
    tls_ca_file: Option<std::path::PathBuf>,
    /// Key prefix; a session's key is the prefix followed by the hex SHA-256 of its token.
    #[arg(long, default_value = "bench-floor:session:")]
    prefix: String,
}

/// What every request needs.
#[derive(Clone)]
struct Floor {
    redis: ConnectionManager,
    prefix: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = match &args.tls_ca_file {
        None => redis::Client::open(args.redis.as_str())?,
        Some(ca) => redis::Client::build_with_tls(
            args.redis.as_str(),
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
    let app = Router::new().route("/me", get(me)).with_state(floor);
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], args.port))).await?;
    println!("bench-floor listening on http://{}", listener.local_addr()?);
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
        Ok(Some(_)) => ([(header::CONTENT_TYPE, "application/json")], USER).into_response(),
        Ok(None) => unauthorized(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"statusCode":503,"error":"Service Unavailable","message":"session store unavailable"}"#,
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

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"statusCode":401,"error":"Unauthorized","message":"no session"}"#,
    )
        .into_response()
}

fn hex_sha256(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
