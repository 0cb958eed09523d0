//! Per-request middleware: `x-request-id` (taken or generated, echoed on every
//! response), the `incoming request` / `request completed` log lines (never for `/-/`
//! routes; the path is logged without its query string, headers and bodies never), and
//! the request counter and latency histogram by route template.

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument as _;

/// The request id header.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The middleware; wrap the whole router with `axum::middleware::from_fn(track)`.
pub async fn track(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 200 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        request.headers_mut().insert(REQUEST_ID, value);
    }
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let quiet = path.starts_with("/-/");
    let span = tracing::info_span!("request", reqId = %request_id);
    let mut response = async {
        if !quiet {
            tracing::info!(method = %method, path = %path, "incoming request");
        }
        let response = next.run(request).await;
        let elapsed = started.elapsed();
        if !quiet {
            tracing::info!(
                method = %method,
                path = %path,
                status = response.status().as_u16(),
                responseTime = elapsed.as_secs_f64() * 1000.0,
                "request completed"
            );
        }
        response
    }
    .instrument(span)
    .await;
    let status = response.status().as_u16().to_string();
    let route = response
        .extensions()
        .get::<RouteTemplate>()
        .map(|r| r.0.clone())
        .unwrap_or_else(|| "unmatched".to_owned());
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// The route template (`/users/{userId}`) that answered, passed from the router to [`track`].
#[derive(Debug, Clone)]
pub struct RouteTemplate(pub String);

/// Route-level middleware (`Router::route_layer`): tags the response with its route template.
pub async fn mark_route(request: Request, next: Next) -> Response {
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let mut response = next.run(request).await;
    if let Some(template) = template {
        response.extensions_mut().insert(RouteTemplate(template));
    }
    response
}
