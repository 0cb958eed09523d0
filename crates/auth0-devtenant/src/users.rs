//! The user directory: records, indexes per connection, and Auth0's JSON shape of a user.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};

use crate::config::UserConfig;
use crate::password::PasswordHash;
use crate::util::{now_iso, random_hex};

/// One user.
#[derive(Debug, Clone)]
pub(crate) struct UserRecord {
    pub(crate) user_id: String,
    pub(crate) connection: String,
    pub(crate) email: Option<String>,
    pub(crate) email_verified: bool,
    pub(crate) username: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) nickname: Option<String>,
    pub(crate) given_name: Option<String>,
    pub(crate) family_name: Option<String>,
    pub(crate) picture: Option<String>,
    pub(crate) blocked: bool,
    pub(crate) password: Option<PasswordHash>,
    pub(crate) app_metadata: Map<String, Value>,
    pub(crate) user_metadata: Map<String, Value>,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
    pub(crate) last_login: Option<String>,
    pub(crate) logins_count: u64,
    json: Value,
}

/// A bad field in a create/update/import body.
#[derive(Debug)]
pub(crate) struct InvalidUser(pub(crate) String);

/// Why an insert or update was refused.
#[derive(Debug)]
pub(crate) enum StoreError {
    /// A user with this email, username or id already exists in the connection.
    Conflict(&'static str),
    /// The user does not exist.
    NotFound,
}

const EDITABLE_STRINGS: [&str; 7] = [
    "email",
    "username",
    "name",
    "nickname",
    "given_name",
    "family_name",
    "picture",
];

impl UserRecord {
    /// A new user in `connection` with a generated (or given) id.
    pub(crate) fn new(connection: &str, user_id: Option<&str>) -> Self {
        let now = now_iso();
        let user_id = match user_id {
            Some(id) if id.contains('|') => id.to_owned(),
            Some(id) => format!("auth0|{id}"),
            None => format!("auth0|{}", random_hex(24)),
        };
        UserRecord {
            user_id,
            connection: connection.to_owned(),
            email: None,
            email_verified: false,
            username: None,
            name: None,
            nickname: None,
            given_name: None,
            family_name: None,
            picture: None,
            blocked: false,
            password: None,
            app_metadata: Map::new(),
            user_metadata: Map::new(),
            created_at: now.clone(),
            updated_at: now,
            last_login: None,
            logins_count: 0,
            json: Value::Null,
        }
    }

    /// A user from the tenant file.
    pub(crate) fn from_config(config: &UserConfig) -> Self {
        let mut user = UserRecord::new(&config.connection, config.user_id.as_deref());
        user.email = Some(config.email.to_lowercase());
        user.email_verified = config.email_verified;
        user.username = config.username.clone();
        user.name = config.name.clone();
        user.nickname = config.nickname.clone();
        user.given_name = config.given_name.clone();
        user.family_name = config.family_name.clone();
        user.blocked = config.blocked;
        user.password = Some(PasswordHash::new(&config.password));
        user.app_metadata = config.app_metadata.as_object().cloned().unwrap_or_default();
        user.user_metadata = config
            .user_metadata
            .as_object()
            .cloned()
            .unwrap_or_default();
        user.fill_defaults();
        user
    }

    /// Auth0's defaults: nickname from the email, name = email, a picture.
    pub(crate) fn fill_defaults(&mut self) {
        if let Some(email) = &self.email {
            if self.nickname.is_none() {
                self.nickname = email.split('@').next().map(str::to_owned);
            }
            if self.name.is_none() {
                self.name = Some(email.clone());
            }
        }
        if self.picture.is_none() {
            let initials = self
                .nickname
                .as_deref()
                .unwrap_or("u")
                .chars()
                .take(2)
                .collect::<String>();
            self.picture = Some(format!(
                "https://cdn.auth0.com/avatars/{}.png",
                initials.to_lowercase()
            ));
        }
        self.refresh_json();
    }

    /// The Management API representation (cached).
    pub(crate) fn json(&self) -> &Value {
        &self.json
    }

    /// Rebuilds the cached JSON after a change.
    pub(crate) fn refresh_json(&mut self) {
        let mut out = Map::new();
        let mut put = |key: &str, value: Value| {
            out.insert(key.to_owned(), value);
        };
        put("created_at", json!(self.created_at));
        if let Some(email) = &self.email {
            put("email", json!(email));
            put("email_verified", json!(self.email_verified));
        }
        for (key, value) in [
            ("family_name", &self.family_name),
            ("given_name", &self.given_name),
            ("name", &self.name),
            ("nickname", &self.nickname),
            ("picture", &self.picture),
            ("username", &self.username),
        ] {
            if let Some(value) = value {
                put(key, json!(value));
            }
        }
        let local_id = self
            .user_id
            .split_once('|')
            .map_or(self.user_id.as_str(), |(_, id)| id);
        put(
            "identities",
            json!([{"connection": self.connection, "provider": "auth0", "user_id": local_id, "isSocial": false}]),
        );
        put("updated_at", json!(self.updated_at));
        put("user_id", json!(self.user_id));
        if !self.app_metadata.is_empty() {
            put("app_metadata", Value::Object(self.app_metadata.clone()));
        }
        if !self.user_metadata.is_empty() {
            put("user_metadata", Value::Object(self.user_metadata.clone()));
        }
        if self.blocked {
            put("blocked", json!(true));
        }
        if let Some(last_login) = &self.last_login {
            put("last_login", json!(last_login));
        }
        put("logins_count", json!(self.logins_count));
        self.json = Value::Object(out);
    }

    /// OIDC claims of this user for the granted scopes, plus the namespaced custom claims.
    pub(crate) fn claims(&self, scopes: &[&str], namespace: &str) -> Map<String, Value> {
        let mut claims = Map::new();
        if scopes.contains(&"profile") {
            for (key, value) in [
                ("given_name", &self.given_name),
                ("family_name", &self.family_name),
                ("nickname", &self.nickname),
                ("name", &self.name),
                ("picture", &self.picture),
            ] {
                if let Some(value) = value {
                    claims.insert(key.to_owned(), json!(value));
                }
            }
            claims.insert("updated_at".to_owned(), json!(self.updated_at));
        }
        if scopes.contains(&"email")
            && let Some(email) = &self.email
        {
            claims.insert("email".to_owned(), json!(email));
            claims.insert("email_verified".to_owned(), json!(self.email_verified));
        }
        if !namespace.is_empty() {
            claims.insert(
                format!("{namespace}app_metadata"),
                Value::Object(self.app_metadata.clone()),
            );
            claims.insert(
                format!("{namespace}user_metadata"),
                Value::Object(self.user_metadata.clone()),
            );
        }
        claims.insert("sub".to_owned(), json!(self.user_id));
        claims
    }

    /// Applies the fields of a create/update/import body (metadata merged at the top level,
    /// `null` deletes a key, `{}` deletes them all). Unknown keys are refused unless listed in `ignored`.
    pub(crate) fn apply(
        &mut self,
        body: &Map<String, Value>,
        ignored: &[&str],
    ) -> Result<(), InvalidUser> {
        for (key, value) in body {
            match key.as_str() {
                k if EDITABLE_STRINGS.contains(&k) => {
                    let text = match value {
                        Value::String(s) if !s.is_empty() => s.clone(),
                        _ => {
                            return Err(InvalidUser(format!(
                                "Payload validation error: 'Expected type string but found type {}' on property {k}.",
                                type_name(value)
                            )));
                        }
                    };
                    if k == "email" && !looks_like_email(&text) {
                        return Err(InvalidUser(format!(
                            "Payload validation error: 'Object didn't pass validation for format email: {text}' on property email."
                        )));
                    }
                    let slot = match k {
                        "email" => &mut self.email,
                        "username" => &mut self.username,
                        "name" => &mut self.name,
                        "nickname" => &mut self.nickname,
                        "given_name" => &mut self.given_name,
                        "family_name" => &mut self.family_name,
                        _ => &mut self.picture,
                    };
                    *slot = Some(if k == "email" || k == "username" {
                        text.to_lowercase()
                    } else {
                        text
                    });
                }
                "email_verified" | "blocked" => {
                    let Value::Bool(flag) = value else {
                        return Err(InvalidUser(format!(
                            "Payload validation error: 'Expected type boolean but found type {}' on property {key}.",
                            type_name(value)
                        )));
                    };
                    if key == "blocked" {
                        self.blocked = *flag;
                    } else {
                        self.email_verified = *flag;
                    }
                }
                "password" => match value {
                    Value::String(p) if !p.is_empty() => self.password = Some(PasswordHash::new(p)),
                    _ => {
                        return Err(InvalidUser(
                            "PasswordStrengthError: Password is too weak".to_owned(),
                        ));
                    }
                },
                "app_metadata" => merge_metadata(&mut self.app_metadata, value, key)?,
                "user_metadata" => merge_metadata(&mut self.user_metadata, value, key)?,
                k if ignored.contains(&k) => {}
                other => {
                    return Err(InvalidUser(format!(
                        "Payload validation error: 'Additional properties not allowed: {other}'."
                    )));
                }
            }
        }
        self.updated_at = now_iso();
        self.fill_defaults();
        Ok(())
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn looks_like_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && domain.contains('.') && !text.contains(char::is_whitespace)
        }
        None => false,
    }
}

fn merge_metadata(
    target: &mut Map<String, Value>,
    patch: &Value,
    property: &str,
) -> Result<(), InvalidUser> {
    let Value::Object(patch) = patch else {
        return Err(InvalidUser(format!(
            "Payload validation error: 'Expected type object but found type {}' on property {property}.",
            type_name(patch)
        )));
    };
    if patch.is_empty() {
        // Auth0: an empty object removes every key.
        target.clear();
    }
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            target.insert(key.clone(), value.clone());
        }
    }
    Ok(())
}

/// All users, in creation order, with per-connection login indexes.
#[derive(Default)]
pub(crate) struct UserStore {
    by_seq: BTreeMap<u64, UserRecord>,
    by_id: HashMap<String, u64>,
    by_email: HashMap<(String, String), u64>,
    by_username: HashMap<(String, String), u64>,
    next_seq: u64,
}

impl UserStore {
    /// Adds a user; refuses a duplicate id, or email/username within the connection.
    pub(crate) fn insert(&mut self, user: UserRecord) -> Result<&UserRecord, StoreError> {
        self.check_unique(&user, None)?;
        let seq = self.next_seq;
        self.next_seq += 1;
        self.index(&user, seq);
        self.by_id.insert(user.user_id.clone(), seq);
        Ok(self.by_seq.entry(seq).or_insert(user))
    }

    fn check_unique(&self, user: &UserRecord, own: Option<u64>) -> Result<(), StoreError> {
        let other = |seq: Option<&u64>| seq.is_some_and(|s| Some(*s) != own);
        if other(self.by_id.get(&user.user_id)) {
            return Err(StoreError::Conflict("The user already exists."));
        }
        if let Some(email) = &user.email
            && other(
                self.by_email
                    .get(&(user.connection.clone(), email.to_lowercase())),
            )
        {
            return Err(StoreError::Conflict("The user already exists."));
        }
        if let Some(username) = &user.username
            && other(
                self.by_username
                    .get(&(user.connection.clone(), username.to_lowercase())),
            )
        {
            return Err(StoreError::Conflict(
                "The username provided is in use already.",
            ));
        }
        Ok(())
    }

    fn index(&mut self, user: &UserRecord, seq: u64) {
        if let Some(email) = &user.email {
            self.by_email
                .insert((user.connection.clone(), email.to_lowercase()), seq);
        }
        if let Some(username) = &user.username {
            self.by_username
                .insert((user.connection.clone(), username.to_lowercase()), seq);
        }
    }

    fn unindex(&mut self, user: &UserRecord) {
        if let Some(email) = &user.email {
            self.by_email
                .remove(&(user.connection.clone(), email.to_lowercase()));
        }
        if let Some(username) = &user.username {
            self.by_username
                .remove(&(user.connection.clone(), username.to_lowercase()));
        }
    }

    /// A user by id.
    pub(crate) fn get(&self, user_id: &str) -> Option<&UserRecord> {
        self.by_id.get(user_id).and_then(|seq| self.by_seq.get(seq))
    }

    /// A user of `connection` by email or username (case-insensitive).
    pub(crate) fn find_login(&self, connection: &str, login: &str) -> Option<&UserRecord> {
        let key = (connection.to_owned(), login.to_lowercase());
        self.by_email
            .get(&key)
            .or_else(|| self.by_username.get(&key))
            .and_then(|seq| self.by_seq.get(seq))
    }

    /// Changes a user through `change`, keeping indexes and uniqueness; the change is
    /// rolled back when it fails or would create a duplicate.
    pub(crate) fn update<E>(
        &mut self,
        user_id: &str,
        change: impl FnOnce(&mut UserRecord) -> Result<(), E>,
    ) -> Result<Result<&UserRecord, StoreError>, E> {
        let Some(&seq) = self.by_id.get(user_id) else {
            return Ok(Err(StoreError::NotFound));
        };
        let Some(current) = self.by_seq.get(&seq) else {
            return Ok(Err(StoreError::NotFound));
        };
        let mut updated = current.clone();
        change(&mut updated)?;
        if let Err(conflict) = self.check_unique(&updated, Some(seq)) {
            return Ok(Err(conflict));
        }
        let old = self.by_seq.remove(&seq);
        if let Some(old) = old {
            self.unindex(&old);
        }
        self.index(&updated, seq);
        Ok(Ok(self.by_seq.entry(seq).or_insert(updated)))
    }

    /// Records a successful login.
    pub(crate) fn record_login(&mut self, user_id: &str) {
        if let Some(user) = self
            .by_id
            .get(user_id)
            .and_then(|seq| self.by_seq.get_mut(seq))
        {
            user.logins_count += 1;
            user.last_login = Some(now_iso());
            user.refresh_json();
        }
    }

    /// Removes a user; whether it existed.
    pub(crate) fn remove(&mut self, user_id: &str) -> bool {
        let Some(seq) = self.by_id.remove(user_id) else {
            return false;
        };
        if let Some(user) = self.by_seq.remove(&seq) {
            self.unindex(&user);
        }
        true
    }

    /// Every user in creation order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &UserRecord> {
        self.by_seq.values()
    }
}
