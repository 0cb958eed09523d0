//! Auth0 sessions (single sign-on) and OpenID Connect Back-Channel Logout.
//!
//! A browser login at `/u/login` starts an Auth0 session: the tenant sets its `auth0`
//! cookie, puts the session's `sid` in the id_tokens of every client that logs in
//! through it, and a later `/authorize` with the cookie skips the login form. When the
//! session ends (`/v2/logout`, the user deleted, blocked or given a new password) the
//! tenant POSTs a signed logout token (`sid`, `sub`, the back-channel logout event) to
//! the back-channel logout URLs of each client of that session, in the background.
//!
//! Retry rule: up to [`MAX_ATTEMPTS`] attempts per URL, each bounded by
//! [`ATTEMPT_TIMEOUT`]; a connection error, a timeout, a `429` or a `5xx` is retried
//! after 50 ms, then 100 ms; any other answer is final. Every finished delivery is
//! recorded ([`crate::DevTenant::backchannel_deliveries`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::keys::SigningKeys;
use crate::util::{lock, now_epoch, random_token};

/// Name of the tenant's session cookie.
pub(crate) const SESSION_COOKIE: &str = "auth0";
/// The event a logout token carries.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Attempts per back-channel logout URL.
pub const MAX_ATTEMPTS: u32 = 3;
/// Bound of one attempt.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a logout token is valid (`exp - iat`).
const LOGOUT_TOKEN_LIFETIME: u64 = 120;

/// One finished back-channel logout delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackchannelDelivery {
    /// The client the logout token was for (its `aud`).
    pub client_id: String,
    /// Where it was posted.
    pub url: String,
    /// The token's `sid`.
    pub sid: String,
    /// The token's `sub`.
    pub sub: String,
    /// The last answer's status, `None` when no attempt got an answer.
    pub status: Option<u16>,
    /// How many attempts were made.
    pub attempts: u32,
}

/// An Auth0 session: its user and the clients that logged in through it.
#[derive(Debug, Clone)]
struct AuthSession {
    sid: String,
    user_id: String,
    clients: BTreeSet<String>,
}

/// The tenant's sessions, the clients' back-channel logout URLs and the delivery log.
pub(crate) struct Sessions {
    by_cookie: Mutex<HashMap<String, AuthSession>>,
    urls: RwLock<HashMap<String, Vec<String>>>,
    deliveries: Arc<Mutex<Vec<BackchannelDelivery>>>,
    delivered: watch::Sender<usize>,
    http: reqwest::Client,
}

impl Sessions {
    /// No sessions yet; `urls` are the clients' configured back-channel logout URLs.
    pub(crate) fn new(urls: HashMap<String, Vec<String>>) -> Self {
        Self {
            by_cookie: Mutex::new(HashMap::new()),
            urls: RwLock::new(urls),
            deliveries: Arc::new(Mutex::new(Vec::new())),
            delivered: watch::channel(0).0,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
        }
    }

    /// Starts a session of `user_id`; returns `(cookie value, sid)`.
    pub(crate) fn start(&self, user_id: &str) -> (String, String) {
        let (cookie, sid) = (random_token(24), random_token(16));
        lock(&self.by_cookie).insert(
            cookie.clone(),
            AuthSession {
                sid: sid.clone(),
                user_id: user_id.to_owned(),
                clients: BTreeSet::new(),
            },
        );
        (cookie, sid)
    }

    /// The `(sid, user_id)` of the session behind a cookie value.
    pub(crate) fn find(&self, cookie: &str) -> Option<(String, String)> {
        lock(&self.by_cookie)
            .get(cookie)
            .map(|s| (s.sid.clone(), s.user_id.clone()))
    }

    /// Records that `client_id` received tokens of session `sid`.
    pub(crate) fn join(&self, sid: &str, client_id: &str) {
        if let Some(session) = lock(&self.by_cookie)
            .values_mut()
            .find(|session| session.sid == sid)
        {
            session.clients.insert(client_id.to_owned());
        }
    }

    /// Ends the session behind a cookie value; returns it.
    fn end_cookie(&self, cookie: &str) -> Option<AuthSession> {
        lock(&self.by_cookie).remove(cookie)
    }

    /// Ends every session of `user_id`; returns them.
    fn end_user(&self, user_id: &str) -> Vec<AuthSession> {
        let mut sessions = lock(&self.by_cookie);
        let cookies: Vec<String> = sessions
            .iter()
            .filter(|(_, s)| s.user_id == user_id)
            .map(|(cookie, _)| cookie.clone())
            .collect();
        cookies
            .iter()
            .filter_map(|cookie| sessions.remove(cookie))
            .collect()
    }

    /// Replaces the back-channel logout URLs of `client_id`.
    pub(crate) fn set_urls(&self, client_id: &str, urls: Vec<String>) {
        self.urls
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(client_id.to_owned(), urls);
    }

    fn urls_of(&self, client_id: &str) -> Vec<String> {
        self.urls
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(client_id)
            .cloned()
            .unwrap_or_default()
    }

    /// The finished deliveries so far, in order.
    pub(crate) fn deliveries(&self) -> Vec<BackchannelDelivery> {
        lock(&self.deliveries).clone()
    }

    /// Waits until at least `count` deliveries have finished (or `timeout` passed).
    pub(crate) async fn wait_for(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Vec<BackchannelDelivery> {
        let mut receiver = self.delivered.subscribe();
        let _ = tokio::time::timeout(timeout, receiver.wait_for(|done| *done >= count)).await;
        self.deliveries()
    }

    /// Ends the session behind a cookie value and notifies its clients.
    pub(crate) fn logout_cookie(&self, cookie: &str, keys: &SigningKeys, issuer: &str) {
        if let Some(session) = self.end_cookie(cookie) {
            self.notify(&session, keys, issuer);
        }
    }

    /// Ends every session of `user_id` and notifies their clients.
    pub(crate) fn logout_user(&self, user_id: &str, keys: &SigningKeys, issuer: &str) {
        for session in self.end_user(user_id) {
            self.notify(&session, keys, issuer);
        }
    }

    /// Posts a logout token to every back-channel logout URL of every client of `session`.
    fn notify(&self, session: &AuthSession, keys: &SigningKeys, issuer: &str) {
        for client_id in &session.clients {
            let urls = self.urls_of(client_id);
            if urls.is_empty() {
                continue;
            }
            let Ok(token) = logout_token(keys, issuer, client_id, session) else {
                tracing::warn!(client_id, "logout token not signed");
                continue;
            };
            for url in urls {
                let delivery = BackchannelDelivery {
                    client_id: client_id.clone(),
                    url,
                    sid: session.sid.clone(),
                    sub: session.user_id.clone(),
                    status: None,
                    attempts: 0,
                };
                tokio::spawn(deliver(
                    self.http.clone(),
                    token.clone(),
                    delivery,
                    self.deliveries.clone(),
                    self.delivered.clone(),
                ));
            }
        }
    }
}

/// A logout token for `client_id` about `session`.
fn logout_token(
    keys: &SigningKeys,
    issuer: &str,
    client_id: &str,
    session: &AuthSession,
) -> jsonwebtoken::errors::Result<String> {
    let now = now_epoch();
    let claims: Value = json!({
        "iss": issuer,
        "aud": client_id,
        "iat": now,
        "exp": now + LOGOUT_TOKEN_LIFETIME,
        "jti": random_token(16),
        "sub": session.user_id,
        "sid": session.sid,
        "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
    });
    keys.sign(&claims)
}

/// Posts `token` to `delivery.url` with the retry rule, then records the outcome.
async fn deliver(
    http: reqwest::Client,
    token: String,
    mut delivery: BackchannelDelivery,
    log: Arc<Mutex<Vec<BackchannelDelivery>>>,
    delivered: watch::Sender<usize>,
) {
    let mut backoff = Duration::from_millis(50);
    while delivery.attempts < MAX_ATTEMPTS {
        delivery.attempts += 1;
        let answer = http
            .post(&delivery.url)
            .form(&[("logout_token", token.as_str())])
            .timeout(ATTEMPT_TIMEOUT)
            .send()
            .await;
        let retry = match answer {
            Ok(response) => {
                let status = response.status();
                delivery.status = Some(status.as_u16());
                status.is_server_error() || status.as_u16() == 429
            }
            Err(_) => true,
        };
        if !retry {
            break;
        }
        if delivery.attempts < MAX_ATTEMPTS {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
    tracing::info!(client_id = %delivery.client_id, status = ?delivery.status, attempts = delivery.attempts, "back-channel logout delivered");
    let count = {
        let mut log = lock(&log);
        log.push(delivery);
        log.len()
    };
    delivered.send_replace(count);
}
