//! The OpenAPI 3 document (`/documentation/json`, also `/documentations/json`), built
//! from the handlers' annotations, and a self-contained page for people (`/documentation`).

use super::{auth::AuthApi, ops::OpsApi, users::UsersApi};
use crate::app::AppState;
use axum::extract::State;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi as _;

/// The documentation routes (outside `SERVICE_PREFIX`, like the operations routes).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/documentation", get(page))
        .route("/documentation/json", get(document))
        .route("/documentations/json", get(document))
}

/// The service's OpenAPI document; API paths carry `prefix` (`SERVICE_PREFIX`).
pub fn openapi(prefix: &str, version: &str) -> utoipa::openapi::OpenApi {
    let mut api = AuthApi::openapi();
    api.merge(UsersApi::openapi());
    api.merge(super::lifecycle::LifecycleApi::openapi());
    if !prefix.is_empty() {
        let paths = std::mem::take(&mut api.paths.paths);
        api.paths.paths = paths
            .into_iter()
            .map(|(path, item)| (format!("{prefix}{path}"), item))
            .collect();
    }
    api.merge(OpsApi::openapi());
    api.info = utoipa::openapi::InfoBuilder::new()
        .title("auth0-client")
        .version(version)
        .description(Some(
            "Login gateway in front of Auth0. The /users routes must not be exposed publicly.",
        ))
        .build();
    api
}

async fn document(State(state): State<AppState>) -> impl IntoResponse {
    let settings = &state.config.settings;
    Json(openapi(&settings.service_prefix, &settings.service_version))
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

/// Renders `/documentation/json` as a list of operations; no external assets.
const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>auth0-client API</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
.op{border:1px solid #ccc;border-radius:6px;margin:.6rem 0;padding:.5rem .8rem}
.m{display:inline-block;min-width:4.5rem;font-weight:bold;text-transform:uppercase}
code{background:#f4f4f4;padding:0 .2rem}small{color:#555}</style></head>
<body><h1>auth0-client API</h1><p><a href="documentation/json">OpenAPI 3 JSON</a></p>
<div id="ops">Loading…</div>
<script>
fetch(location.pathname.replace(/\/?$/, '/json')).then(r => r.json()).then(doc => {
  const root = document.getElementById('ops'); root.textContent = '';
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const [method, op] of Object.entries(item)) {
      if (typeof op !== 'object' || !op.responses) continue;
      const div = document.createElement('div'); div.className = 'op';
      const m = document.createElement('span'); m.className = 'm'; m.textContent = method;
      const p = document.createElement('code'); p.textContent = path;
      const s = document.createElement('p'); s.textContent = op.summary || op.description || '';
      const codes = document.createElement('small');
      codes.textContent = 'responses: ' + Object.keys(op.responses).join(', ');
      div.append(m, p, s, codes); root.append(div);
    }
  }
}).catch(e => { document.getElementById('ops').textContent = 'Cannot load the document: ' + e; });
</script></body></html>
"#;
