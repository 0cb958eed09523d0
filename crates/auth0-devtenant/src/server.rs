//! Serving: the router, the per-request middleware (counters, faults, rate-limit headers)
//! and a hyper accept loop that can close a connection without an answer.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt;

use crate::backchannel::BackchannelDelivery;
use crate::config::TenantConfig;
use crate::errors::error_for_path;
use crate::faults::{Faults, InjectedBody, RateState};
use crate::keys::process_keys;
use crate::state::Tenant;
use crate::stats::Stats;
use crate::util::now_epoch;
use crate::{authn, control, management};

/// A running tenant.
pub struct DevTenant {
    url: String,
    tenant: Arc<Tenant>,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for DevTenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevTenant")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Marks a response whose connection must be closed without an answer.
#[derive(Clone, Copy)]
struct DropConnection;

/// The error that makes hyper close the connection.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by fault injection")]
struct Dropped;

impl DevTenant {
    /// Binds 127.0.0.1:0 and serves in a background tokio task.
    pub async fn start(config: TenantConfig) -> anyhow::Result<DevTenant> {
        Self::start_on(config, 0).await
    }

    /// Same on a given port (0 = any).
    pub async fn start_on(config: TenantConfig, port: u16) -> anyhow::Result<DevTenant> {
        config.validate()?;
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let address = listener.local_addr()?;
        let url = format!("http://127.0.0.1:{}", address.port());
        let keys = process_keys().await?;
        let tenant = Arc::new(Tenant::new(config, keys, format!("{url}/"))?);
        let app = router(tenant.clone());
        let (shutdown, stop) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, app, stop));
        tracing::info!(%url, "auth0-devtenant listening");
        Ok(DevTenant {
            url,
            tenant,
            shutdown,
            task,
        })
    }

    /// "http://127.0.0.1:PORT" (no trailing slash): what auth0-client's `auth0Url` is set to.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The `iss` of its tokens: url() + "/" (Auth0 issuers end with a slash).
    pub fn issuer(&self) -> String {
        self.tenant.issuer.clone()
    }

    /// The Management API audience: issuer() + "api/v2/".
    pub fn management_audience(&self) -> String {
        self.tenant.management_audience.clone()
    }

    /// Snapshot of counters.
    pub fn stats(&self) -> Stats {
        self.tenant.stats.snapshot()
    }

    /// Runtime fault injection and knobs.
    pub fn faults(&self) -> &Faults {
        &self.tenant.faults
    }

    /// Replaces the back-channel logout URLs of a client (`false`: no such client).
    pub fn set_backchannel_logout_urls(&self, client_id: &str, urls: Vec<String>) -> bool {
        if self.tenant.client(client_id).is_none() {
            return false;
        }
        self.tenant.sessions.set_urls(client_id, urls);
        true
    }

    /// The back-channel logout deliveries finished so far, in order.
    pub fn backchannel_deliveries(&self) -> Vec<BackchannelDelivery> {
        self.tenant.sessions.deliveries()
    }

    /// Waits until at least `count` back-channel logout deliveries have finished, at most
    /// `timeout`; returns them all.
    pub async fn wait_for_backchannel_deliveries(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Vec<BackchannelDelivery> {
        self.tenant.sessions.wait_for(count, timeout).await
    }

    /// Signs `claims` with the tenant's key (RS256, its `kid`), as its tokens are: for
    /// tests that need a token the tenant would never issue (e.g. a bad logout token).
    pub fn sign(&self, claims: &serde_json::Value) -> anyhow::Result<String> {
        Ok(self.tenant.keys.sign(claims)?)
    }

    /// Stops serving (open connections are closed).
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

async fn accept_loop(listener: TcpListener, app: Router, mut stop: watch::Receiver<bool>) {
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                    let app = app.clone();
                    async move {
                        let response = match app.oneshot(request.map(Body::new)).await {
                            Ok(response) => response,
                            Err(never) => match never {},
                        };
                        if response.extensions().get::<DropConnection>().is_some() {
                            Err(Dropped)
                        } else {
                            Ok::<_, Dropped>(response)
                        }
                    }
                });
            let connection = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = stop.changed() => {}
            }
        });
    }
}

fn router(tenant: Arc<Tenant>) -> Router {
    Router::new()
        .merge(authn::routes())
        .merge(management::routes())
        .merge(control::routes())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(tenant.clone(), observe))
        .with_state(tenant)
}

async fn not_found(request: Request) -> Response {
    error_for_path(request.uri().path(), StatusCode::NOT_FOUND, "Not Found")
}

const CONTROL_PREFIX: &str = "/__devtenant";
const MANAGEMENT_PREFIX: &str = "/api/v2";
/// The informational limit shown on Management API answers when no limit is injected.
const DEFAULT_LIMIT: u32 = 1_000;

/// Gives axum's own plain-text or empty rejections (bad query string, wrong method, bad form)
/// Auth0's JSON error shape. `/userinfo` keeps Auth0's plain-text 401.
async fn auth0_shaped(path: &str, response: Response) -> Response {
    let status = response.status();
    let has_type = response.headers().contains_key(CONTENT_TYPE);
    let plain = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if status.as_u16() < 400 || path.starts_with("/userinfo") || (has_type && !plain) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024)
        .await
        .unwrap_or_default();
    let message = String::from_utf8_lossy(&text).trim().to_owned();
    let message = if message.is_empty() {
        status.canonical_reason().unwrap_or("Error").to_owned()
    } else {
        message
    };
    let mut shaped = error_for_path(path, status, &message);
    for (name, value) in parts
        .headers
        .iter()
        .filter(|(name, _)| *name != CONTENT_TYPE && *name != CONTENT_LENGTH)
    {
        shaped.headers_mut().insert(name.clone(), value.clone());
    }
    shaped
}

/// The answer of an injected body.
fn injected_body(tenant: &Arc<Tenant>, status: StatusCode, body: InjectedBody) -> Response {
    match body {
        InjectedBody::Json(value) => (status, axum::Json(value)).into_response(),
        InjectedBody::Text(text) => {
            (status, [(CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
        }
        InjectedBody::Endless => endless_body(tenant.clone()),
    }
}

/// Counts the bytes of an endless body written until its reader goes away.
struct EndlessWriter {
    tenant: Arc<Tenant>,
    written: u64,
}

impl Drop for EndlessWriter {
    fn drop(&mut self) {
        self.tenant.stats.endless_body_abandoned(self.written);
    }
}

/// `200 application/json` whose body (`{"access_token":"aaaa…`) never ends.
fn endless_body(tenant: Arc<Tenant>) -> Response {
    const CHUNK: usize = 64 * 1024;
    let filler = bytes::Bytes::from(vec![b'a'; CHUNK]);
    let writer = EndlessWriter { tenant, written: 0 };
    let stream = futures::stream::unfold(writer, move |mut writer| {
        let chunk = if writer.written == 0 {
            bytes::Bytes::from_static(br#"{"access_token":""#)
        } else {
            filler.clone()
        };
        async move {
            writer.written += chunk.len() as u64;
            Some((Ok::<_, Infallible>(chunk), writer))
        }
    });
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// Counts the request, applies injected faults, adds rate-limit headers.
async fn observe(
    State(tenant): State<Arc<Tenant>>,
    request: Request,
    next: Next,
) -> Result<Response, Infallible> {
    let path = request.uri().path().to_owned();
    if path.starts_with(CONTROL_PREFIX) {
        return Ok(next.run(request).await);
    }
    let pattern = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "<unmatched>".to_owned(), |m| m.as_str().to_owned());
    tenant.stats.request(request.method().as_str(), &pattern);
    tracing::debug!(method = %request.method(), route = %pattern, "request");
    let decision = tenant.faults.decide(&path);
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    if decision.drop {
        let mut response = Response::new(Body::empty());
        response.extensions_mut().insert(DropConnection);
        return Ok(response);
    }
    let mut response = match (decision.rate, decision.status) {
        (Some(rate), _) if rate.limited => {
            let mut response = error_for_path(
                &path,
                StatusCode::TOO_MANY_REQUESTS,
                "Global limit has been reached",
            );
            if let Ok(value) =
                HeaderValue::from_str(&rate.reset.saturating_sub(now_epoch()).max(1).to_string())
            {
                response.headers_mut().insert("retry-after", value);
            }
            response
        }
        (_, Some(status)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            match decision.body {
                Some(body) => injected_body(&tenant, status, body),
                None => error_for_path(&path, status, "Injected failure"),
            }
        }
        _ => auth0_shaped(&path, next.run(request).await).await,
    };
    let rate = decision.rate.or_else(|| {
        path.starts_with(MANAGEMENT_PREFIX).then(|| RateState {
            limit: DEFAULT_LIMIT,
            remaining: DEFAULT_LIMIT - 1,
            reset: now_epoch() + 1,
            limited: false,
        })
    });
    if let Some(rate) = rate {
        let headers = response.headers_mut();
        for (name, value) in [
            ("x-ratelimit-limit", rate.limit.to_string()),
            ("x-ratelimit-remaining", rate.remaining.to_string()),
            ("x-ratelimit-reset", rate.reset.to_string()),
        ] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
    }
    Ok(response)
}
