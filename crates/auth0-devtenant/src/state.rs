//! The tenant's shared state: configuration, keys, users, grants in flight, jobs, counters.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use crate::config::{ClientConfig, ConnectionConfig, TenantConfig};
use crate::faults::Faults;
use crate::grants::GrantStore;
use crate::keys::SigningKeys;
use crate::management::jobs::Job;
use crate::stats::StatsRecorder;
use crate::users::{UserRecord, UserStore};

/// Everything the routes share.
pub(crate) struct Tenant {
    /// `iss` of the tokens, with a trailing slash.
    pub(crate) issuer: String,
    /// The Management API audience, `<issuer>api/v2/`.
    pub(crate) management_audience: String,
    /// The tenant description.
    pub(crate) config: TenantConfig,
    clients: HashMap<String, ClientConfig>,
    /// Signing key and JWKS (one per process, see [`crate::keys::process_keys`]).
    pub(crate) keys: Arc<SigningKeys>,
    /// The user directory.
    pub(crate) users: RwLock<UserStore>,
    /// Login transactions, authorization codes and refresh tokens.
    pub(crate) grants: GrantStore,
    /// Users-imports jobs.
    pub(crate) jobs: Mutex<HashMap<String, Job>>,
    /// Counters.
    pub(crate) stats: StatsRecorder,
    /// Fault injection and knobs.
    pub(crate) faults: Arc<Faults>,
    /// Login rules of seeded users (MFA, a denying login Action), by user id.
    login_rules: HashMap<String, LoginRule>,
    /// Consecutive wrong passwords, by user id (brute-force protection).
    failed_logins: Mutex<HashMap<String, u32>>,
    /// Auth0 sessions and back-channel logout.
    pub(crate) sessions: crate::backchannel::Sessions,
}

/// What a seeded user's login runs into besides the password check.
#[derive(Debug, Clone, Default)]
pub(crate) struct LoginRule {
    /// The user must complete MFA.
    pub(crate) mfa_required: bool,
    /// A login Action denies the login with this reason.
    pub(crate) denied: Option<String>,
}

impl Tenant {
    /// Builds the state (users' passwords hashed here).
    pub(crate) fn new(
        config: TenantConfig,
        keys: Arc<SigningKeys>,
        issuer: String,
    ) -> anyhow::Result<Self> {
        config.validate()?;
        let mut users = UserStore::default();
        let mut login_rules = HashMap::new();
        for (i, user) in config.users.iter().enumerate() {
            let record = UserRecord::from_config(user);
            if user.mfa_required || user.login_denied.is_some() {
                let rule = LoginRule {
                    mfa_required: user.mfa_required,
                    denied: user.login_denied.clone(),
                };
                login_rules.insert(record.user_id.clone(), rule);
            }
            if users.insert(record).is_err() {
                anyhow::bail!("users[{i}] duplicates another user (id, email or username)");
            }
        }
        let clients = config
            .clients
            .iter()
            .map(|c| (c.client_id.clone(), c.clone()))
            .collect();
        let backchannel_urls = config
            .clients
            .iter()
            .map(|c| (c.client_id.clone(), c.backchannel_logout_urls.clone()))
            .collect();
        Ok(Tenant {
            management_audience: format!("{issuer}api/v2/"),
            issuer,
            config,
            clients,
            keys,
            users: RwLock::new(users),
            grants: GrantStore::default(),
            jobs: Mutex::new(HashMap::new()),
            stats: StatsRecorder::default(),
            faults: Arc::new(Faults::default()),
            login_rules,
            failed_logins: Mutex::new(HashMap::new()),
            sessions: crate::backchannel::Sessions::new(backchannel_urls),
        })
    }

    /// The login rule of a user, if any.
    pub(crate) fn login_rule(&self, user_id: &str) -> Option<&LoginRule> {
        self.login_rules.get(user_id)
    }

    /// True when brute-force protection holds the user's logins.
    pub(crate) fn login_held(&self, user_id: &str) -> bool {
        let threshold = self.config.brute_force_threshold;
        threshold > 0
            && crate::util::lock(&self.failed_logins)
                .get(user_id)
                .is_some_and(|count| *count >= threshold)
    }

    /// Records a wrong password (`false`) or a successful login (`true`) of a user.
    pub(crate) fn record_password_check(&self, user_id: &str, ok: bool) {
        let mut failed = crate::util::lock(&self.failed_logins);
        if ok {
            failed.remove(user_id);
        } else {
            *failed.entry(user_id.to_owned()).or_insert(0) += 1;
        }
    }

    /// A client by id.
    pub(crate) fn client(&self, client_id: &str) -> Option<&ClientConfig> {
        self.clients.get(client_id)
    }

    /// A connection by name.
    pub(crate) fn connection_by_name(&self, name: &str) -> Option<&ConnectionConfig> {
        self.config.connections.iter().find(|c| c.name == name)
    }

    /// A connection by id.
    pub(crate) fn connection_by_id(&self, id: &str) -> Option<&ConnectionConfig> {
        self.config.connections.iter().find(|c| c.id == id)
    }

    /// Whether `audience` names an API of this tenant.
    pub(crate) fn is_known_audience(&self, audience: &str) -> bool {
        audience == self.management_audience
            || self.config.api_audiences.iter().any(|a| a == audience)
    }

    /// Read access to the users (a poisoned lock is still consistent).
    pub(crate) fn users_read(&self) -> std::sync::RwLockReadGuard<'_, UserStore> {
        self.users
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Write access to the users.
    pub(crate) fn users_write(&self) -> std::sync::RwLockWriteGuard<'_, UserStore> {
        self.users
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Whether a client may use a connection.
pub(crate) fn connection_enabled(client: &ClientConfig, connection: &str) -> bool {
    client.connections.is_empty() || client.connections.iter().any(|c| c == connection)
}
