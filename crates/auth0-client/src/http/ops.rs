//! Operations routes (health, readiness, check-up, metrics), outside `SERVICE_PREFIX`.

use crate::app::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::Duration;

/// How long each check-up probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The `/-/…` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/-/healthz", get(healthz))
        .route("/-/ready", get(ready))
        .route("/-/check-up", get(check_up))
        .route("/-/metrics", get(metrics))
}

/// OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(healthz, ready, check_up, metrics),
    components(schemas(Status)),
    tags((name = "operations", description = "Health, readiness, check-up, metrics"))
)]
pub struct OpsApi;

/// Body of the health routes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Status {
    /// `OK` or `KO`.
    status: &'static str,
    /// `auth0-client`.
    name: &'static str,
    /// `SERVICE_VERSION`.
    version: String,
}

fn status(state: &AppState, ok: bool) -> (StatusCode, Json<Status>) {
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Status {
        status: if ok { "OK" } else { "KO" },
        name: "auth0-client",
        version: state.config.settings.service_version.clone(),
    };
    (code, Json(body))
}

/// The process is alive.
#[utoipa::path(get, path = "/-/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = Status)))]
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    status(&state, true)
}

/// Ready for traffic; `503` once shutdown has started.
#[utoipa::path(get, path = "/-/ready", tag = "operations",
    responses((status = 200, description = "Ready", body = Status),
              (status = 503, description = "Shutting down", body = Status)))]
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    status(&state, state.lifecycle.is_ready())
}

/// The session store answers and every tenant's JWKS (clients' and management's) is reachable.
#[utoipa::path(get, path = "/-/check-up", tag = "operations",
    responses((status = 200, description = "Dependencies reachable", body = Status),
              (status = 503, description = "A dependency is down", body = Status)))]
async fn check_up(State(state): State<AppState>) -> impl IntoResponse {
    let store = async {
        match tokio::time::timeout(PROBE_TIMEOUT, state.sessions.ping()).await {
            Ok(Ok(())) => true,
            Ok(Err(error)) => {
                tracing::warn!(%error, "check-up: session store failed");
                false
            }
            Err(_) => {
                tracing::warn!("check-up: session store timed out");
                false
            }
        }
    };
    let file = &state.config.file;
    let tenants: BTreeSet<&str> = file
        .clients
        .values()
        .map(|client| client.auth0_url.as_str())
        .chain([file.management_client.auth0_url.as_str()])
        .map(|url| url.trim_end_matches('/'))
        .collect();
    let jwks = futures::future::join_all(tenants.into_iter().map(jwks_reachable));
    let (store_ok, jwks_ok) = tokio::join!(store, jwks);
    status(&state, store_ok && jwks_ok.into_iter().all(|ok| ok))
}

async fn jwks_reachable(tenant: &str) -> bool {
    static HTTP: OnceLock<reqwest::Client> = OnceLock::new();
    let http = HTTP.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(PROBE_TIMEOUT)
            .build()
            .unwrap_or_default()
    });
    let url = format!("{tenant}/.well-known/jwks.json");
    match http.get(&url).send().await {
        Ok(response) if response.status().is_success() => true,
        Ok(response) => {
            tracing::warn!(
                tenant,
                status = response.status().as_u16(),
                "check-up: JWKS not served"
            );
            false
        }
        Err(error) => {
            tracing::warn!(tenant, error = %error.without_url(), "check-up: JWKS unreachable");
            false
        }
    }
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/-/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
async fn metrics() -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::telemetry::render_metrics(),
    )
}
