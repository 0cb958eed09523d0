//! Operations routes (health, readiness, check-up, metrics), outside `SERVICE_PREFIX`.

use super::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
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
    /// Check-up only: each dependency (`sessionStore`, `tenant:<auth0Url>`) and `OK` or
    /// `KO: <why>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<std::collections::BTreeMap<String, String>>)]
    checks: Option<BTreeMap<String, String>>,
}

fn status(state: &AppState, ok: bool) -> (StatusCode, Json<Status>) {
    with_checks(state, ok, None)
}

fn with_checks(
    state: &AppState,
    ok: bool,
    checks: Option<BTreeMap<String, String>>,
) -> (StatusCode, Json<Status>) {
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Status {
        status: if ok { "OK" } else { "KO" },
        name: "auth0-client",
        version: state.config.settings.service_version.clone(),
        checks,
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

/// The session store answers a ping, and every tenant's JWKS (clients' and
/// management's) answers with at least one usable signing key; `checks` names each.
#[utoipa::path(get, path = "/-/check-up", tag = "operations",
    responses((status = 200, description = "Every dependency OK", body = Status),
              (status = 503, description = "A dependency is KO (named in checks)", body = Status)))]
async fn check_up(State(state): State<AppState>) -> impl IntoResponse {
    let store = async {
        match tokio::time::timeout(PROBE_TIMEOUT, state.sessions.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => {
                tracing::warn!(%error, error.r#type = "unavailable", "check-up: session store failed");
                Err("unavailable".to_owned())
            }
            Err(_) => {
                tracing::warn!(
                    error.r#type = "timeout",
                    "check-up: session store timed out"
                );
                Err("timeout".to_owned())
            }
        }
    };
    let config = &state.config;
    let tenants: BTreeSet<&str> = config
        .clients
        .values()
        .map(|client| client.auth0_url.base())
        .chain([config.management.auth0_url.base()])
        .collect();
    let jwks = futures::future::join_all(tenants.into_iter().map(|tenant| {
        let login = &state.login;
        async move { (tenant, login.check_tenant(tenant, PROBE_TIMEOUT).await) }
    }));
    let (store, jwks) = tokio::join!(store, jwks);
    let mut checks = BTreeMap::new();
    checks.insert("sessionStore".to_owned(), outcome(store));
    for (tenant, result) in jwks {
        checks.insert(format!("tenant:{tenant}"), outcome(result));
    }
    let ok = checks.values().all(|check| check == "OK");
    with_checks(&state, ok, Some(checks))
}

/// `OK` or `KO: <why>`.
fn outcome(result: Result<(), String>) -> String {
    match result {
        Ok(()) => "OK".to_owned(),
        Err(why) => format!("KO: {why}"),
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
