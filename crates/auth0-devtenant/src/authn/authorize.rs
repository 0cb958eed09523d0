//! `GET /authorize` (validates the request and renders the login form), `GET /u/login`
//! (the form again) and `POST /u/login` (logs in and redirects back with `code` and `state`).
//! A login starts an Auth0 session (the `auth0` cookie); `/authorize` with a live one
//! skips the form (single sign-on).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use crate::authn::token::{LoginFailure, login};
use crate::backchannel::SESSION_COOKIE;
use crate::grants::{AuthorizeRequest, CODE_LIFETIME, Challenge, CodeGrant};
use crate::state::{Tenant, connection_enabled};
use crate::util::url_allowed;

/// `GET /authorize`.
pub(crate) async fn authorize(
    State(tenant): State<Arc<Tenant>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |name: &str| q.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let Some(client_id) = get("client_id") else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: client_id",
        );
    };
    let Some(client) = tenant.client(client_id) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("Unknown client: {client_id}"),
        );
    };
    let Some(redirect_uri) = get("redirect_uri") else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: redirect_uri",
        );
    };
    if !client
        .callbacks
        .iter()
        .any(|allowed| url_allowed(allowed, redirect_uri))
    {
        return error_page(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            &format!(
                "Callback URL mismatch. {redirect_uri} is not in the list of allowed callback URLs"
            ),
        );
    }
    let state = get("state");
    let back =
        |error: &str, description: &str| redirect_error(redirect_uri, state, error, description);
    if get("response_type") != Some("code") {
        return back(
            "unsupported_response_type",
            "Unsupported response type: only \"code\" is supported",
        );
    }
    if let Some(connection) = get("connection") {
        if tenant.connection_by_name(connection).is_none() {
            return back("invalid_request", "the connection was not found");
        }
        if !connection_enabled(client, connection) {
            return back("invalid_request", "the connection was disabled");
        }
    }
    if let Some(audience) = get("audience")
        && !tenant.is_known_audience(audience)
    {
        return back("access_denied", &format!("Service not found: {audience}"));
    }
    let challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (None, None) => None,
        (Some(value), method) => {
            let method = method.unwrap_or("plain");
            if method != "S256" && method != "plain" {
                return back("invalid_request", "Unsupported code_challenge_method");
            }
            Some(Challenge {
                value: value.to_owned(),
                method: method.to_owned(),
            })
        }
        (None, Some(_)) => {
            return back(
                "invalid_request",
                "Missing required parameter: code_challenge",
            );
        }
    };
    let session = auth0_session(&tenant, &headers).filter(|_| get("prompt") != Some("login"));
    if session.is_none() && get("prompt") == Some("none") {
        return back("login_required", "Login required");
    }
    let request = AuthorizeRequest {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scope: get("scope").unwrap_or("openid").to_owned(),
        audience: get("audience").map(str::to_owned),
        state: state.map(str::to_owned),
        nonce: get("nonce").map(str::to_owned),
        challenge,
        connection: get("connection").map(str::to_owned),
        expires: Instant::now() + CODE_LIFETIME,
    };
    if let Some((sid, user_id)) = session {
        return issue_code(&tenant, request, user_id, sid, None);
    }
    let app_name = client.name.clone();
    let transaction = tenant.grants.add_transaction(request);
    login_page(StatusCode::OK, &transaction, &app_name, None)
}

/// `GET /u/login?state=<transaction>`: the login form again.
pub(crate) async fn login_form(
    State(tenant): State<Arc<Tenant>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let transaction = q.get("state").cloned().unwrap_or_default();
    match tenant.grants.transaction(&transaction) {
        Some(request) => {
            let name = tenant
                .client(&request.client_id)
                .map(|c| c.name.clone())
                .unwrap_or_default();
            login_page(StatusCode::OK, &transaction, &name, None)
        }
        None => error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Invalid or expired login transaction",
        ),
    }
}

/// `POST /u/login` (form fields `state`, `username`, `password`).
pub(crate) async fn login_submit(
    State(tenant): State<Arc<Tenant>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let transaction = field("state");
    let Some(request) = tenant.grants.transaction(transaction) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Invalid or expired login transaction",
        );
    };
    let Some(client) = tenant.client(&request.client_id) else {
        return error_page(StatusCode::BAD_REQUEST, "invalid_request", "Unknown client");
    };
    let connections: Vec<String> = match &request.connection {
        Some(connection) => vec![connection.clone()],
        None => {
            let mut names: Vec<String> = tenant
                .config
                .default_directory()
                .into_iter()
                .map(str::to_owned)
                .collect();
            for connection in &tenant.config.connections {
                if connection_enabled(client, &connection.name) && !names.contains(&connection.name)
                {
                    names.push(connection.name.clone());
                }
            }
            names.retain(|name| connection_enabled(client, name));
            names
        }
    };
    let mut outcome = Err(LoginFailure::WrongCredentials);
    for connection in &connections {
        outcome = login(&tenant, connection, field("username"), field("password"));
        if !matches!(outcome, Err(LoginFailure::WrongCredentials)) {
            break;
        }
    }
    let user = match outcome {
        Ok(user) => user,
        Err(failure) => {
            let message = match failure {
                LoginFailure::WrongCredentials => "Wrong email or password.",
                LoginFailure::Blocked => "Your account has been blocked.",
                LoginFailure::TooManyAttempts => crate::authn::token::TOO_MANY_ATTEMPTS,
                LoginFailure::MfaRequired => "Multifactor authentication is not available here.",
                LoginFailure::Denied(_) => "Access denied.",
            };
            return login_page(
                StatusCode::BAD_REQUEST,
                transaction,
                &client.name,
                Some(message),
            );
        }
    };
    tenant.grants.end_transaction(transaction);
    let (cookie, sid) = tenant.sessions.start(&user.user_id);
    issue_code(&tenant, request, user.user_id, sid, Some(&cookie))
}

/// The `(sid, user_id)` of the request's Auth0 session, when it is live and its user
/// may still log in.
fn auth0_session(tenant: &Tenant, headers: &HeaderMap) -> Option<(String, String)> {
    let cookie = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SESSION_COOKIE).then(|| value.to_owned())
        })?;
    let (sid, user_id) = tenant.sessions.find(&cookie)?;
    let users = tenant.users_read();
    let user = users.get(&user_id)?;
    (!user.blocked).then_some((sid, user_id))
}

/// Redirects back with a new code for `user_id` in Auth0 session `sid` (setting the
/// session cookie when the session is new).
fn issue_code(
    tenant: &Tenant,
    request: AuthorizeRequest,
    user_id: String,
    sid: String,
    new_cookie: Option<&str>,
) -> Response {
    let code = tenant.grants.add_code(CodeGrant {
        client_id: request.client_id,
        redirect_uri: request.redirect_uri.clone(),
        user_id,
        scope: request.scope,
        audience: request.audience,
        nonce: request.nonce,
        challenge: request.challenge,
        expires: Instant::now() + CODE_LIFETIME,
        sid: Some(sid),
    });
    let mut pairs = vec![("code", code.as_str())];
    if let Some(state) = &request.state {
        pairs.push(("state", state));
    }
    let mut response = redirect(&request.redirect_uri, &pairs);
    if let Some(cookie) = new_cookie
        && let Ok(value) = axum::http::HeaderValue::from_str(&format!(
            "{SESSION_COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Lax"
        ))
    {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    response
}

fn redirect(base: &str, pairs: &[(&str, &str)]) -> Response {
    let location = match url::Url::parse(base) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(pairs);
            url.to_string()
        }
        Err(_) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "redirect_uri is not a valid URL",
            );
        }
    };
    (StatusCode::FOUND, [(LOCATION, location)]).into_response()
}

fn redirect_error(
    redirect_uri: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> Response {
    let mut pairs = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    redirect(redirect_uri, &pairs)
}

/// Escapes text for HTML.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn login_page(
    status: StatusCode,
    transaction: &str,
    app_name: &str,
    error: Option<&str>,
) -> Response {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>\n", escape(e)))
        .unwrap_or_default();
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Log in | auth0-devtenant</title></head>\n\
<body>\n<h1>Log in to {app}</h1>\n{error}<form method=\"post\" action=\"/u/login\">\n\
<input type=\"hidden\" name=\"state\" value=\"{state}\">\n\
<label>Email or username <input type=\"text\" name=\"username\" autocomplete=\"username\" required></label>\n\
<label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\" required></label>\n\
<button type=\"submit\">Continue</button>\n</form>\n</body></html>\n",
        app = escape(app_name),
        state = escape(transaction),
    );
    (status, Html(page)).into_response()
}

/// An error page, as Auth0 shows for requests it cannot redirect back.
pub(crate) fn error_page(status: StatusCode, error: &str, description: &str) -> Response {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error | auth0-devtenant</title></head>\n\
<body>\n<h1>Oops!, something went wrong</h1>\n<p><code class=\"error\">{}</code>: <span class=\"error_description\">{}</span></p>\n</body></html>\n",
        escape(error),
        escape(description),
    );
    (status, Html(page)).into_response()
}
