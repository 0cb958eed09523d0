//! Per-request middleware: `x-request-id` (taken or generated, echoed on every
//! response, and on every log line written while the request runs), the
//! `incoming request` (trace) / `request completed` (info) log lines with the
//! platform's ECS fields (never for `/-/` routes; the path is logged without its query
//! string; of the headers only the user agent and the host and forwarding ones; bodies
//! never), the in-flight gauge, and the request counter and latency histogram by route
//! template.
//!
//! The request id rides in a task-local rather than a `tracing` span: the same effect
//! on the log lines for a fraction of the cost on the hot path.

use super::origin::{InFlight, Origin, body_bytes};
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use metrics::{Counter, Histogram};
use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};
use std::time::Instant;

/// The request id header.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    /// The id of the request this task is serving.
    static REQUEST: HeaderValue;
}

/// Calls `f` with the id of the request the current task serves, if any.
pub fn with_request_id(f: impl FnOnce(&str)) {
    let _ = REQUEST.try_with(|id| {
        if let Ok(id) = id.to_str() {
            f(id);
        }
    });
}

/// The middleware: a route layer (it reads the matched route template), and a layer on
/// the fallback handler, so that every request passes it once.
pub async fn track(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .filter(|v| is_usable_request_id(v.as_bytes()))
        .cloned()
        .unwrap_or_else(new_request_id);
    request.headers_mut().insert(REQUEST_ID, request_id.clone());
    let method = request.method().clone();
    let uri = request.uri().clone();
    let path = uri.path();
    let quiet = path.starts_with("/-/");
    let route = request.extensions().get::<MatchedPath>().cloned();
    let _in_flight = InFlight::enter();
    let origin = (!quiet).then(|| Origin::of(&request));
    let mut response = REQUEST
        .scope(request_id.clone(), async {
            let Some(origin) = &origin else {
                return next.run(request).await;
            };
            // `message` as a field is recorded as a `&str`, not formatted.
            tracing::trace!(
                message = "incoming request",
                http.request.method = method.as_str(),
                http.request.userAgent.original = origin.user_agent(),
                url.path = path,
                host.hostname = origin.hostname(),
                host.forwardedHost = origin.forwarded_host(),
                host.ip = origin.ip(),
            );
            let response = next.run(request).await;
            tracing::info!(
                message = "request completed",
                http.request.method = method.as_str(),
                http.request.userAgent.original = origin.user_agent(),
                http.response.statusCode = response.status().as_u16(),
                http.response.body.bytes = body_bytes(&response),
                url.path = path,
                host.hostname = origin.hostname(),
                host.forwardedHost = origin.forwarded_host(),
                host.ip = origin.ip(),
                responseTime = started.elapsed().as_secs_f64() * 1000.0,
            );
            response
        })
        .await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    record(
        &method,
        route,
        response.status(),
        started.elapsed().as_secs_f64(),
    );
    response.headers_mut().insert(REQUEST_ID, request_id);
    response
}

/// A caller's id is kept when it is 1 to 200 visible ASCII characters.
fn is_usable_request_id(value: &[u8]) -> bool {
    !value.is_empty() && value.len() <= 200 && value.iter().all(u8::is_ascii_graphic)
}

fn new_request_id() -> HeaderValue {
    let mut buffer = uuid::Uuid::encode_buffer();
    HeaderValue::from_str(uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buffer))
        .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

/// The request counter and the latency histogram of one method, route and status.
struct Handles {
    method: Method,
    status: StatusCode,
    requests: Counter,
    duration: Histogram,
}

/// Metric handles by route, asked of the registry once per combination: the hot path
/// then costs a read lock and a hash of the route, not a label set built per request.
static HANDLES: LazyLock<RwLock<HashMap<String, Vec<Handles>>>> = LazyLock::new(Default::default);

/// Counts the request and records its duration (`http_requests_total`,
/// `http_request_duration_seconds`). Methods outside the standard set count as `OTHER`.
fn record(method: &Method, route: &str, status: StatusCode, seconds: f64) {
    let method = if is_standard(method) {
        method.clone()
    } else {
        Method::from_bytes(b"OTHER").unwrap_or_default()
    };
    let find = |handles: &Vec<Handles>| {
        handles
            .iter()
            .position(|h| h.method == method && h.status == status)
    };
    if let Ok(map) = HANDLES.read()
        && let Some(handles) = map.get(route)
        && let Some(index) = find(handles)
    {
        handles[index].requests.increment(1);
        handles[index].duration.record(seconds);
        return;
    }
    let Ok(mut map) = HANDLES.write() else {
        return;
    };
    let handles = map.entry(route.to_owned()).or_default();
    let index = find(handles).unwrap_or_else(|| {
        let method_label = ("method", method.as_str().to_owned());
        let route_label = ("route", route.to_owned());
        let status_label = ("status", status.as_str().to_owned());
        let counted = [method_label.clone(), route_label.clone(), status_label];
        let timed = [method_label, route_label];
        handles.push(Handles {
            requests: metrics::counter!("http_requests_total", &counted),
            duration: metrics::histogram!("http_request_duration_seconds", &timed),
            method: method.clone(),
            status,
        });
        handles.len() - 1
    });
    handles[index].requests.increment(1);
    handles[index].duration.record(seconds);
}

fn is_standard(method: &Method) -> bool {
    [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
        Method::TRACE,
        Method::CONNECT,
    ]
    .contains(method)
}
