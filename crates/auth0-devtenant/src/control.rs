//! `/__devtenant/*`: the same controls as [`crate::Faults`] and [`crate::Stats`], over HTTP
//! for other processes (the benchmark, the Node peer).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::faults::InjectedBody;
use crate::state::Tenant;

/// Body of `POST /__devtenant/faults`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FaultRequest {
    path_prefix: String,
    latency_ms: Option<u64>,
    status: Option<u16>,
    #[serde(default)]
    drop: bool,
    rate_limit: Option<RateLimitRequest>,
    /// With `status`: the body answered instead of Auth0's error shape (a JSON value, or
    /// a string answered as `text/plain`).
    body: Option<serde_json::Value>,
    /// Answer `200` with a body that never ends.
    #[serde(default)]
    endless_body: bool,
}

/// Body of `POST /__devtenant/access-token-override`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideRequest {
    value: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RateLimitRequest {
    limit: u32,
    window_ms: u64,
}

/// Body of `POST /__devtenant/access-token-ttl`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TtlRequest {
    seconds: u64,
}

/// Body of `POST /__devtenant/backchannel-logout-urls`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BackchannelUrlsRequest {
    client_id: String,
    urls: Vec<String>,
}

/// The control routes.
pub(crate) fn routes() -> Router<Arc<Tenant>> {
    Router::new()
        .route(
            "/__devtenant/backchannel-logout-urls",
            post(set_backchannel_urls),
        )
        .route("/__devtenant/backchannel-deliveries", get(deliveries))
        .route("/__devtenant/stats", get(stats))
        .route("/__devtenant/faults", post(set_faults).delete(clear_faults))
        .route("/__devtenant/access-token-ttl", post(set_ttl))
        .route("/__devtenant/access-token-override", post(set_override))
}

async fn stats(State(tenant): State<Arc<Tenant>>) -> Response {
    Json(tenant.stats.snapshot()).into_response()
}

fn bad_request(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({"statusCode": 400, "error": "Bad Request", "message": message})),
    )
        .into_response()
}

async fn set_faults(State(tenant): State<Arc<Tenant>>, body: axum::body::Bytes) -> Response {
    let request: FaultRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return bad_request(format!("invalid fault: {error}")),
    };
    if let Some(status) = request.status
        && !(100..=599).contains(&status)
    {
        return bad_request("status must be an HTTP status (100-599)".to_owned());
    }
    let faults = &tenant.faults;
    let prefix = request.path_prefix.as_str();
    if let Some(ms) = request.latency_ms {
        faults.set_latency(prefix, Duration::from_millis(ms));
    }
    match (request.status, request.body) {
        (Some(status), Some(serde_json::Value::String(text))) => {
            faults.set_body(prefix, status, InjectedBody::Text(text));
        }
        (Some(status), Some(value)) => faults.set_body(prefix, status, InjectedBody::Json(value)),
        (Some(status), None) => faults.set_error(prefix, status),
        (None, Some(_)) => return bad_request("body needs a status".to_owned()),
        (None, None) => {}
    }
    if request.endless_body {
        faults.set_body(prefix, 200, InjectedBody::Endless);
    }
    if request.drop {
        faults.set_drop(prefix);
    }
    if let Some(rate) = request.rate_limit {
        faults.set_rate_limit(prefix, rate.limit, Duration::from_millis(rate.window_ms));
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn clear_faults(State(tenant): State<Arc<Tenant>>) -> Response {
    tenant.faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn set_override(State(tenant): State<Arc<Tenant>>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<OverrideRequest>(&body) {
        Ok(request) => {
            tenant.faults.set_access_token_override(request.value);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => bad_request(format!("invalid body: {error}")),
    }
}

async fn set_ttl(State(tenant): State<Arc<Tenant>>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<TtlRequest>(&body) {
        Ok(request) => {
            tenant
                .faults
                .set_access_token_ttl(Duration::from_secs(request.seconds));
            StatusCode::NO_CONTENT.into_response()
        }
        Err(error) => bad_request(format!("invalid body: {error}")),
    }
}

async fn set_backchannel_urls(
    State(tenant): State<Arc<Tenant>>,
    body: axum::body::Bytes,
) -> Response {
    match serde_json::from_slice::<BackchannelUrlsRequest>(&body) {
        Ok(request) if tenant.client(&request.client_id).is_some() => {
            tenant.sessions.set_urls(&request.client_id, request.urls);
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(request) => bad_request(format!("unknown client {:?}", request.client_id)),
        Err(error) => bad_request(format!("invalid body: {error}")),
    }
}

async fn deliveries(State(tenant): State<Arc<Tenant>>) -> Response {
    Json(tenant.sessions.deliveries()).into_response()
}
