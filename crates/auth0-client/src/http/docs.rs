//! The OpenAPI 3 document (`/documentation/json`, also `/documentations/json`), built
//! from the handlers' annotations, and a self-contained page for people (`/documentation`).

use super::state::AppState;
use super::{auth::AuthApi, ops::OpsApi, users::UsersApi};
use axum::extract::State;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use utoipa::OpenApi as _;

/// The documentation routes (outside `SERVICE_PREFIX`, like the operations routes).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/documentation", get(page))
        .route("/documentation/", get(page))
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
    Json(document_json(
        &settings.service_prefix,
        &settings.service_version,
    ))
}

/// The document as served: [`openapi`] plus what the annotations cannot say for every
/// operation at once: the security schemes, the `x-request-id` header on every
/// response, `Retry-After` on `429`s, the JSON error body as the `default` response,
/// and `/users/me` deprecated.
pub fn document_json(prefix: &str, version: &str) -> Value {
    let mut doc = serde_json::to_value(openapi(prefix, version)).unwrap_or_default();
    doc["components"]["securitySchemes"] = json!({
        "bearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "description": "The access token answered by /oauth/token (token clients): the session handle"
        },
        "sidCookie": {
            "type": "apiKey",
            "in": "cookie",
            "name": "sid",
            "description": "The session cookie set by /oauth/token (website clients)"
        }
    });
    let users_me = format!("{prefix}/users/me");
    if let Some(paths) = doc["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, operation) in item.iter_mut() {
                if *path == users_me && method == "get" {
                    operation["deprecated"] = Value::Bool(true);
                }
                describe_responses(operation);
            }
        }
    }
    doc
}

/// Adds the headers every response carries, and the `default` error response.
fn describe_responses(operation: &mut Value) {
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    responses.entry("default").or_insert_with(|| {
        json!({
            "description": "Any other error, as the JSON error body",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        })
    });
    for (status, response) in responses.iter_mut() {
        let headers = response
            .as_object_mut()
            .map(|r| r.entry("headers").or_insert_with(|| json!({})));
        let Some(headers) = headers.and_then(Value::as_object_mut) else {
            continue;
        };
        headers.insert(
            "x-request-id".to_owned(),
            json!({
                "description": "The request's id: the caller's x-request-id (1-200 visible ASCII characters) or a new UUID",
                "required": true,
                "schema": {"type": "string"}
            }),
        );
        if status == "429" {
            headers.insert(
                "Retry-After".to_owned(),
                json!({
                    "description": "Seconds to wait before retrying",
                    "required": true,
                    "schema": {"type": "integer", "minimum": 1}
                }),
            );
        }
    }
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

/// Renders `/documentation/json` for people: every operation with its parameters,
/// bodies, responses and headers, then every schema; no external assets (works offline).
const PAGE: &str = r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>auth0-client API</title>
<style>body{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem}
.op,.schema{border:1px solid #ccc;border-radius:6px;margin:.6rem 0;padding:.5rem .8rem}
.m{display:inline-block;min-width:4.5rem;font-weight:bold;text-transform:uppercase}
.dep{color:#a00;font-weight:bold;margin-left:.5rem}
table{border-collapse:collapse;margin:.3rem 0;font-size:.9rem}td,th{border:1px solid #ddd;padding:.15rem .4rem;text-align:left;vertical-align:top}
code{background:#f4f4f4;padding:0 .2rem}small{color:#555}h3{margin:.4rem 0 .2rem;font-size:1rem}</style></head>
<body><h1>auth0-client API</h1><p><a href="/documentation/json">OpenAPI 3 JSON</a> · <a href="#schemas">Schemas</a></p>
<div id="ops">Loading…</div><h2 id="schemas">Schemas</h2><div id="schemas-list"></div>
<script>
const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; };
const typeOf = s => {
  if (!s) return '';
  if (s.$ref) return s.$ref.split('/').pop();
  if (s.type === 'array' || (Array.isArray(s.type) && s.type.includes('array'))) return 'array of ' + typeOf(s.items);
  const t = Array.isArray(s.type) ? s.type.join(' | ') : (s.type || (s.oneOf ? s.oneOf.map(typeOf).join(' | ') : 'any'));
  return t + (s.format ? ' (' + s.format + ')' : '') + (s.minimum !== undefined ? ' ≥' + s.minimum : '') + (s.maximum !== undefined ? ' ≤' + s.maximum : '');
};
const link = s => { const name = typeOf(s); const ref = s && (s.$ref || (s.items && s.items.$ref));
  if (!ref) return el('span', name); const a = el('a', name); a.href = '#schema-' + ref.split('/').pop(); return a; };
const table = (head, rows) => { const t = el('table'); const h = el('tr'); head.forEach(x => h.append(el('th', x))); t.append(h);
  rows.forEach(r => { const tr = el('tr'); r.forEach(c => { const td = el('td'); if (c instanceof Node) td.append(c); else td.textContent = c; tr.append(td); }); t.append(tr); }); return t; };
fetch('/documentation/json').then(r => r.json()).then(doc => {
  const root = document.getElementById('ops'); root.textContent = '';
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const [method, op] of Object.entries(item)) {
      if (typeof op !== 'object' || !op.responses) continue;
      const div = el('div', undefined, 'op');
      const title = el('div'); title.append(el('span', method, 'm'), el('code', path));
      if (op.deprecated) title.append(el('span', 'deprecated', 'dep'));
      div.append(title, el('p', op.description || op.summary || ''));
      if (op.security) div.append(el('small', 'auth: ' + op.security.map(s => Object.keys(s).join('+') || 'none').join(' or ')));
      if (op.parameters && op.parameters.length) { div.append(el('h3', 'Parameters'));
        div.append(table(['name', 'in', 'required', 'type', 'description'], op.parameters.map(p =>
          [p.name, p.in, p.required ? 'yes' : 'no', link(p.schema), p.description || '']))); }
      if (op.requestBody) { div.append(el('h3', 'Request body'));
        div.append(table(['content type', 'schema'], Object.entries(op.requestBody.content || {}).map(([t, c]) => [t, link(c.schema)]))); }
      div.append(el('h3', 'Responses'));
      div.append(table(['status', 'description', 'body', 'headers'], Object.entries(op.responses).map(([code, r]) => [code, r.description || '',
        Object.entries(r.content || {}).map(([t, c]) => t + ': ' + typeOf(c.schema)).join('; '), Object.keys(r.headers || {}).join(', ')])));
      root.append(div);
    }
  }
  const list = document.getElementById('schemas-list');
  for (const [name, schema] of Object.entries((doc.components || {}).schemas || {})) {
    const div = el('div', undefined, 'schema'); div.id = 'schema-' + name;
    div.append(el('h3', name), el('p', schema.description || ''));
    const required = schema.required || [];
    div.append(table(['property', 'type', 'required', 'description'], Object.entries(schema.properties || {}).map(([p, s]) =>
      [p, link(s), required.includes(p) ? 'yes' : 'no', s.description || ''])));
    if (schema.additionalProperties) div.append(el('small', 'other properties allowed'));
    list.append(div);
  }
}).catch(e => { document.getElementById('ops').textContent = 'Cannot load the document: ' + e; });
</script></body></html>
"##;
