//! Grants in flight: login transactions, authorization codes (single use, 10 minutes) and
//! refresh tokens (rotated; reuse of a rotated token revokes its whole family).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::util::{lock, random_token};

/// How long a login transaction and an authorization code live.
pub(crate) const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// A PKCE challenge.
#[derive(Debug, Clone)]
pub(crate) struct Challenge {
    /// `code_challenge`.
    pub(crate) value: String,
    /// `S256` or `plain`.
    pub(crate) method: String,
}

/// A validated `/authorize` request waiting for the login form.
#[derive(Debug, Clone)]
pub(crate) struct AuthorizeRequest {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) scope: String,
    pub(crate) audience: Option<String>,
    pub(crate) state: Option<String>,
    pub(crate) nonce: Option<String>,
    pub(crate) challenge: Option<Challenge>,
    pub(crate) connection: Option<String>,
    pub(crate) expires: Instant,
}

/// An issued authorization code.
#[derive(Debug, Clone)]
pub(crate) struct CodeGrant {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) user_id: String,
    pub(crate) scope: String,
    pub(crate) audience: Option<String>,
    pub(crate) nonce: Option<String>,
    pub(crate) challenge: Option<Challenge>,
    pub(crate) expires: Instant,
    /// The Auth0 session the login belongs to.
    pub(crate) sid: Option<String>,
}

/// An issued refresh token.
#[derive(Debug, Clone)]
pub(crate) struct RefreshGrant {
    pub(crate) client_id: String,
    pub(crate) user_id: String,
    pub(crate) scope: String,
    pub(crate) audience: Option<String>,
    pub(crate) family: String,
    rotated_at: Option<Instant>,
}

/// Why a refresh token was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RefreshRefusal {
    /// Unknown, revoked, or issued to another client.
    Invalid,
    /// Already rotated: the family is now revoked.
    Reused,
}

#[derive(Default)]
struct RefreshTokens {
    tokens: HashMap<String, RefreshGrant>,
    revoked_families: HashSet<String>,
}

/// Login transactions, codes and refresh tokens.
#[derive(Default)]
pub(crate) struct GrantStore {
    transactions: Mutex<HashMap<String, AuthorizeRequest>>,
    codes: Mutex<HashMap<String, CodeGrant>>,
    refresh: Mutex<RefreshTokens>,
}

const PRUNE_ABOVE: usize = 10_000;

impl GrantStore {
    /// Stores an authorize request; returns its transaction id.
    pub(crate) fn add_transaction(&self, request: AuthorizeRequest) -> String {
        let id = random_token(18);
        let mut transactions = lock(&self.transactions);
        if transactions.len() > PRUNE_ABOVE {
            let now = Instant::now();
            transactions.retain(|_, t| t.expires > now);
        }
        transactions.insert(id.clone(), request);
        id
    }

    /// A live transaction.
    pub(crate) fn transaction(&self, id: &str) -> Option<AuthorizeRequest> {
        lock(&self.transactions)
            .get(id)
            .filter(|t| t.expires > Instant::now())
            .cloned()
    }

    /// Ends a transaction.
    pub(crate) fn end_transaction(&self, id: &str) {
        lock(&self.transactions).remove(id);
    }

    /// Stores a code grant; returns the code.
    pub(crate) fn add_code(&self, grant: CodeGrant) -> String {
        let code = random_token(24);
        let mut codes = lock(&self.codes);
        if codes.len() > PRUNE_ABOVE {
            let now = Instant::now();
            codes.retain(|_, c| c.expires > now);
        }
        codes.insert(code.clone(), grant);
        code
    }

    /// Takes a code (single use): `None` when unknown, used or expired.
    pub(crate) fn take_code(&self, code: &str) -> Option<CodeGrant> {
        lock(&self.codes)
            .remove(code)
            .filter(|c| c.expires > Instant::now())
    }

    /// Issues a refresh token, in `family` or a new one.
    pub(crate) fn issue_refresh(
        &self,
        client_id: &str,
        user_id: &str,
        scope: &str,
        audience: Option<&str>,
        family: Option<String>,
    ) -> String {
        let token = format!("v1.{}", random_token(48));
        let grant = RefreshGrant {
            client_id: client_id.to_owned(),
            user_id: user_id.to_owned(),
            scope: scope.to_owned(),
            audience: audience.map(str::to_owned),
            family: family.unwrap_or_else(|| random_token(12)),
            rotated_at: None,
        };
        lock(&self.refresh).tokens.insert(token.clone(), grant);
        token
    }

    /// Uses a refresh token: marks it rotated and returns its grant. A token rotated more
    /// than `reuse_interval` ago revokes its whole family.
    pub(crate) fn use_refresh(
        &self,
        token: &str,
        client_id: &str,
        reuse_interval: Duration,
    ) -> Result<RefreshGrant, RefreshRefusal> {
        let mut refresh = lock(&self.refresh);
        let Some(grant) = refresh.tokens.get(token).cloned() else {
            return Err(RefreshRefusal::Invalid);
        };
        if grant.client_id != client_id || refresh.revoked_families.contains(&grant.family) {
            return Err(RefreshRefusal::Invalid);
        }
        if let Some(rotated_at) = grant.rotated_at
            && rotated_at.elapsed() > reuse_interval
        {
            let family = grant.family;
            refresh.tokens.retain(|_, g| g.family != family);
            refresh.revoked_families.insert(family);
            return Err(RefreshRefusal::Reused);
        }
        if let Some(stored) = refresh.tokens.get_mut(token) {
            stored.rotated_at.get_or_insert_with(Instant::now);
        }
        Ok(grant)
    }

    /// Revokes the family of a refresh token issued to `client_id`; whether it did.
    pub(crate) fn revoke_refresh(&self, token: &str, client_id: &str) -> bool {
        let mut refresh = lock(&self.refresh);
        let Some(family) = refresh
            .tokens
            .get(token)
            .filter(|g| g.client_id == client_id)
            .map(|g| g.family.clone())
        else {
            return false;
        };
        refresh.tokens.retain(|_, g| g.family != family);
        refresh.revoked_families.insert(family);
        true
    }

    /// Forgets every refresh token of a user (the user was deleted).
    pub(crate) fn revoke_user(&self, user_id: &str) {
        lock(&self.refresh)
            .tokens
            .retain(|_, g| g.user_id != user_id);
    }
}
