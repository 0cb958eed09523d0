//! The accept loop: at most `HTTP_MAX_CONNECTIONS` connections served at once, each
//! under the header, idle and body timeouts, and a graceful shutdown that closes the
//! listener, lets in-flight requests finish and closes idle connections.

use super::body::DeadlineBody;
use crate::config::server::ServerSettings;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use http_body::Body as _;
use hyper::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt as _;
use tower::util::Oneshot;

/// Pause after an accept error that is not the client's (e.g. out of file descriptors),
/// so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Serves `router` on `listener` until `shutdown` completes; then closes the listener,
/// asks every connection to close once its request in flight is answered (idle ones at
/// once) and returns when the last one has closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: &ServerSettings,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let limit = settings
        .max_connections
        .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let permits = Arc::new(Semaphore::new(limit));
    let (stop, stopping) = watch::channel(false);
    let mut builder = http1::Builder::new();
    // hyper's header timer runs from the moment a connection waits for a request until
    // its header is complete: after a response that is the keep-alive idle time. The
    // first request of a connection has its own, usually shorter, bound (see `connection`).
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.idle_timeout);
    let limits = Limits {
        header_read_timeout: settings.header_read_timeout,
        body_read_timeout: settings.body_read_timeout,
    };
    let mut shutdown = pin!(shutdown);
    let mut saturated = false;
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                saturated = false;
                permit
            }
            Err(_) => {
                if !saturated {
                    tracing::warn!(
                        max_connections = limit,
                        "HTTP_MAX_CONNECTIONS reached: new connections wait until one closes"
                    );
                    saturated = true;
                }
                tokio::select! {
                    permit = permits.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) if is_connection_error(&error) => continue,
                Err(error) => {
                    tracing::error!("accepting a connection failed: {error}");
                    tokio::select! {
                        () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                        () = &mut shutdown => break,
                    }
                }
            },
            () = &mut shutdown => break,
        };
        let service = ConnectionService {
            router: router.clone(),
            peer,
            body_read_timeout: limits.body_read_timeout,
            arrived: Arc::new(AtomicBool::new(false)),
        };
        tokio::spawn(connection(
            stream,
            builder.clone(),
            service,
            limits.header_read_timeout,
            stopping.clone(),
            permit,
        ));
    }
    drop(listener);
    stop.send_replace(true);
    // Every connection holds a permit until it has closed.
    let _all = permits
        .acquire_many(u32::try_from(limit).unwrap_or(u32::MAX))
        .await;
    Ok(())
}

/// The per-connection bounds that hyper does not apply itself.
#[derive(Debug, Clone, Copy)]
struct Limits {
    header_read_timeout: Duration,
    body_read_timeout: Duration,
}

/// Errors of one connection (the peer went away before it was accepted), not of the
/// listener.
fn is_connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection until it closes: dropped when its first request header is not
/// complete within `header_read_timeout`, asked to close gracefully once `stopping`.
async fn connection(
    stream: TcpStream,
    builder: http1::Builder,
    service: ConnectionService,
    header_read_timeout: Duration,
    mut stopping: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let arrived = service.arrived.clone();
    let mut conn = pin!(builder.serve_connection(TokioIo::new(stream), service));
    let mut first_header = pin!(tokio::time::sleep(header_read_timeout));
    let mut waiting_first = true;
    let mut stop_requested = false;
    loop {
        tokio::select! {
            biased;
            result = conn.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!("connection closed: {error}");
                }
                return;
            }
            _ = stopping.wait_for(|stop| *stop), if !stop_requested => {
                stop_requested = true;
                conn.as_mut().graceful_shutdown();
            }
            () = &mut first_header, if waiting_first => {
                if !arrived.load(Ordering::Relaxed) {
                    tracing::debug!(
                        "closing a connection whose first request header did not arrive within HTTP_HEADER_READ_TIMEOUT_SECONDS"
                    );
                    return;
                }
                waiting_first = false;
            }
        }
    }
}

/// The router as one connection's hyper service: adds the peer address (for
/// `ConnectInfo`), puts a deadline on request bodies, notes the first request.
#[derive(Clone)]
struct ConnectionService {
    router: Router,
    peer: SocketAddr,
    body_read_timeout: Duration,
    arrived: Arc<AtomicBool>,
}

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response;
    type Error = Infallible;
    type Future = Oneshot<Router, Request<Body>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        if !self.arrived.load(Ordering::Relaxed) {
            self.arrived.store(true, Ordering::Relaxed);
        }
        let (mut parts, incoming) = request.into_parts();
        parts.extensions.insert(ConnectInfo(self.peer));
        let body = if incoming.is_end_stream() {
            Body::new(incoming)
        } else {
            Body::new(DeadlineBody::new(incoming, self.body_read_timeout))
        };
        self.router
            .clone()
            .oneshot(Request::from_parts(parts, body))
    }
}
