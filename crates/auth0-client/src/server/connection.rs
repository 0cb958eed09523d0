//! The accept loop: at most `HTTP_MAX_CONNECTIONS` connections served at once, each
//! under the header, idle and body timeouts, and a graceful shutdown that closes the
//! listener, lets in-flight requests finish and closes idle connections.
//!
//! The header and idle timeouts are one rule, kept by a watchdog per connection: a
//! connection with no request being served is closed when its next request has not
//! started (header complete) within `HTTP_HEADER_READ_TIMEOUT_SECONDS` of opening, or
//! within `HTTP_IDLE_TIMEOUT_SECONDS` of its last response.

use super::body::DeadlineBody;
use crate::config::server::ServerSettings;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};
use hyper::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
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
    // No hyper timer: its header timer allocates one per request; each connection's
    // watchdog bounds the header and idle times instead.
    let builder = http1::Builder::new();
    let limits = Limits {
        header_read_timeout: settings.header_read_timeout,
        idle_timeout: settings.idle_timeout,
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
            peer: canonical(peer),
            body_read_timeout: limits.body_read_timeout,
            activity: Arc::new(Activity::new()),
        };
        tokio::spawn(connection(
            stream,
            builder.clone(),
            service,
            limits,
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

/// An IPv4 client of the dual-stack socket as IPv4 (`127.0.0.1`, not `::ffff:127.0.0.1`):
/// the peer address is the end user's IP sent to Auth0 when no proxy names one.
fn canonical(peer: SocketAddr) -> SocketAddr {
    SocketAddr::new(peer.ip().to_canonical(), peer.port())
}

/// The per-connection bounds that hyper does not apply itself.
#[derive(Debug, Clone, Copy)]
struct Limits {
    header_read_timeout: Duration,
    idle_timeout: Duration,
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

/// Serves one connection until it closes: closed by its watchdog when idle too long
/// (see [`Activity::deadline`]), asked to close gracefully once `stopping`.
async fn connection(
    stream: TcpStream,
    builder: http1::Builder,
    service: ConnectionService,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let activity = service.activity.clone();
    let mut conn = pin!(builder.serve_connection(TokioIo::new(stream), service));
    // One timer per connection, moved (never reallocated) as the deadline moves.
    let first_check = limits.header_read_timeout.min(limits.idle_timeout);
    let mut watchdog = pin!(tokio::time::sleep(first_check));
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
            () = &mut watchdog => {
                let now = Instant::now();
                match activity.deadline(limits) {
                    Some(deadline) if deadline <= now => {
                        tracing::debug!(
                            "closing a connection that sent no complete request within HTTP_HEADER_READ_TIMEOUT_SECONDS (first request) or HTTP_IDLE_TIMEOUT_SECONDS (after a response)"
                        );
                        return;
                    }
                    Some(deadline) => watchdog.as_mut().reset(deadline),
                    // Busy: look again one idle period later (the request's end is
                    // at most that far before the deadline it sets).
                    None => watchdog.as_mut().reset(now + limits.idle_timeout),
                }
            }
        }
    }
}

/// What one connection's requests tell its watchdog: no lock, no allocation per request.
#[derive(Debug)]
struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    /// Nanoseconds after `opened` at which the last response was sent; `NEVER` before.
    last_response: AtomicU64,
}

const NEVER: u64 = u64::MAX;

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_response: AtomicU64::new(NEVER),
        }
    }

    /// When the connection is to be closed if no request starts before: the header
    /// timeout after opening (first request), the idle timeout after the last response;
    /// `None` while a request is being served.
    fn deadline(&self, limits: Limits) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        Some(match self.last_response.load(Ordering::Acquire) {
            NEVER => self.opened + limits.header_read_timeout,
            nanos => self.opened + Duration::from_nanos(nanos) + limits.idle_timeout,
        })
    }

    fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }
}

/// A request being served, from its header until its response has been written.
#[derive(Debug)]
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let nanos = u64::try_from(self.0.opened.elapsed().as_nanos()).unwrap_or(NEVER - 1);
        self.0.last_response.store(nanos, Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The router as one connection's hyper service: adds the peer address (for
/// `ConnectInfo`), puts a deadline on request bodies, tracks requests in flight.
#[derive(Clone)]
struct ConnectionService {
    router: Router,
    peer: SocketAddr,
    body_read_timeout: Duration,
    activity: Arc<Activity>,
}

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = Tracked<Oneshot<Router, Request<Body>>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let in_flight = self.activity.request_started();
        let (mut parts, incoming) = request.into_parts();
        parts.extensions.insert(ConnectInfo(self.peer));
        let body = if incoming.is_end_stream() {
            Body::new(incoming)
        } else {
            Body::new(DeadlineBody::new(incoming, self.body_read_timeout))
        };
        Tracked {
            inner: self
                .router
                .clone()
                .oneshot(Request::from_parts(parts, body)),
            in_flight: Some(in_flight),
        }
    }
}

/// The router's response future, handing the request's [`InFlight`] to the response body.
pub struct Tracked<F> {
    inner: F,
    in_flight: Option<InFlight>,
}

impl<F> Future for Tracked<F>
where
    F: Future<Output = Result<Response, Infallible>> + Unpin,
{
    type Output = Result<Response<TrackedBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let result = ready!(Pin::new(&mut this.inner).poll(cx));
        let in_flight = this.in_flight.take();
        Poll::Ready(result.map(|response| {
            response.map(|inner| TrackedBody {
                inner,
                _in_flight: in_flight,
            })
        }))
    }
}

/// A response body that ends its request's [`InFlight`] when hyper has written it.
pub struct TrackedBody {
    inner: Body,
    _in_flight: Option<InFlight>,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
