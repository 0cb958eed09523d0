//! Types that exist only to describe bodies in the OpenAPI document: the user object of
//! `/userinfo`, Auth0's user object, the management request bodies, the import form and
//! the `/users` filters. Handlers pass these bodies through as JSON; the schemas are
//! loose (`additionalProperties: true`) where Auth0 or the tenant's claims may add fields.

#![allow(dead_code)]

use serde_json::Value;
use std::collections::HashMap;

/// The user behind a session: the verified id_token's standard claims, `userId`, the
/// custom claims under their last path segment, and `groups`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct UserInfo {
    /// The subject (Auth0 user id); never empty.
    #[schema(min_length = 1)]
    sub: String,
    /// The same as `sub`.
    #[serde(rename = "userId")]
    user_id: String,
    /// `app_metadata.groups` (an empty array when absent).
    groups: Vec<Value>,
    /// The custom claim `<namespace>/app_metadata`, when configured and present.
    app_metadata: Option<HashMap<String, Value>>,
    /// The custom claim `<namespace>/user_metadata`, when configured and present.
    user_metadata: Option<HashMap<String, Value>>,
    /// Full name.
    name: Option<String>,
    /// Given name.
    given_name: Option<String>,
    /// Family name.
    family_name: Option<String>,
    /// Nickname.
    nickname: Option<String>,
    /// Preferred username.
    preferred_username: Option<String>,
    /// Picture URL.
    picture: Option<String>,
    /// Email address.
    email: Option<String>,
    /// Whether the email address is verified.
    email_verified: Option<bool>,
    /// Locale.
    locale: Option<String>,
    /// When the profile last changed (as the id_token carries it: Auth0 writes an ISO
    /// 8601 string, OpenID Connect epoch seconds).
    updated_at: Option<Value>,
    /// Other claims of the id_token (`iss`, `aud`, `iat`, `exp`, further custom claims).
    #[serde(flatten)]
    other: HashMap<String, Value>,
}

/// An Auth0 user, as Auth0's Management API returns it (loose: Auth0 adds fields).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Auth0User {
    /// Auth0 user id (`auth0|…`).
    user_id: Option<String>,
    /// Email address.
    email: Option<String>,
    /// Whether the email address is verified.
    email_verified: Option<bool>,
    /// Username (connections that use one).
    username: Option<String>,
    /// Full name.
    name: Option<String>,
    /// Nickname.
    nickname: Option<String>,
    /// Picture URL.
    picture: Option<String>,
    /// Creation time (ISO 8601).
    created_at: Option<String>,
    /// Last update (ISO 8601).
    updated_at: Option<String>,
    /// The identities linked to the user (`connection`, `provider`, `user_id`, …).
    identities: Option<Vec<HashMap<String, Value>>>,
    /// Data the user cannot change (e.g. `groups`).
    app_metadata: Option<HashMap<String, Value>>,
    /// Data the user can change.
    user_metadata: Option<HashMap<String, Value>>,
    /// Further Auth0 fields (`blocked`, `last_login`, `logins_count`, …).
    #[serde(flatten)]
    other: HashMap<String, Value>,
}

/// Auth0's create-user body (`connection` optional: the configured default is used).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct CreateUser {
    /// A managementClient connection.
    #[serde(default)]
    connection: String,
    /// Email address.
    #[serde(default)]
    email: String,
    /// Initial password (database connections).
    #[serde(default)]
    password: String,
    /// Username (connections that use one).
    #[serde(default)]
    username: String,
    /// Data the user cannot change.
    #[serde(default)]
    app_metadata: HashMap<String, Value>,
    /// Data the user can change.
    #[serde(default)]
    user_metadata: HashMap<String, Value>,
    /// Further fields of Auth0's create-user body, passed through.
    #[serde(flatten)]
    other: HashMap<String, Value>,
}

/// Auth0's update-user body, passed through.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct UpdateUser {
    /// Data the user cannot change.
    #[serde(default)]
    app_metadata: HashMap<String, Value>,
    /// Data the user can change.
    #[serde(default)]
    user_metadata: HashMap<String, Value>,
    /// Further fields of Auth0's update-user body, passed through.
    #[serde(flatten)]
    other: HashMap<String, Value>,
}

/// The `POST /users/import` form (Auth0's users-imports job, with `connection` by name).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ImportForm {
    /// A JSON array of users in Auth0's import format (at most 500 KB).
    #[schema(value_type = String, format = Binary)]
    users: Vec<u8>,
    /// A `supportedConnectionsMap` key (default `defaultManagementConnectionName`).
    #[serde(default)]
    connection: String,
    /// Update existing users.
    #[serde(default)]
    upsert: bool,
    /// Identifier of the job for the caller.
    #[serde(default)]
    external_id: String,
    /// Email the tenant's admins when the job ends.
    #[serde(default)]
    send_completion_email: bool,
}

/// An Auth0 job (users import), as Auth0 returns it.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Auth0Job {
    /// Job id (`job_…`).
    id: Option<String>,
    /// `pending`, `processing`, `completed` or `failed`.
    status: Option<String>,
    /// `users_import`.
    #[serde(rename = "type")]
    kind: Option<String>,
    /// Further Auth0 fields.
    #[serde(flatten)]
    other: HashMap<String, Value>,
}

/// A code exchange, after the redirect back from Auth0.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct CodeExchange {
    /// `authorization_code` (optional).
    #[serde(default)]
    #[schema(pattern = "^authorization_code$")]
    grant_type: String,
    /// The code from the redirect back.
    #[schema(min_length = 1)]
    code: String,
    /// The state from the redirect back.
    #[schema(min_length = 1)]
    state: String,
}

/// A password login (Auth0's password-realm grant when a connection applies).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct PasswordLogin {
    /// `password` (or Auth0's password-realm grant type).
    #[schema(pattern = "^(password|http://auth0\\.com/oauth/grant-type/password-realm)$")]
    grant_type: String,
    /// Username or email.
    #[schema(min_length = 1)]
    username: String,
    /// Password.
    #[schema(min_length = 1)]
    password: String,
    /// A connection the client supports (else the client's default).
    #[serde(default)]
    connection: String,
}

/// The body of `POST /oauth/token`: one of the two grants.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum TokenGrant {
    /// After the redirect back.
    Code(CodeExchange),
    /// Username and password.
    Password(PasswordLogin),
}

/// The filters of `GET /users` and `GET /users/count`. Any `app_metadata.<path>=<value>`
/// filter is accepted (`app_metadata.groups` is listed as the common one).
#[derive(serde::Serialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserFilters {
    /// Page size (Auth0 `per_page`), default 25.
    #[serde(rename = "_l")]
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// Page index (Auth0 `page`); `(_sk + 1) * _l` at most 1000.
    #[serde(rename = "_sk")]
    #[param(minimum = 0, maximum = 999)]
    skip: Option<u32>,
    /// Exact email; `*` is a wildcard.
    email: Option<String>,
    /// Exact nickname; `*` is a wildcard.
    nickname: Option<String>,
    /// Exact username; `*` is a wildcard.
    username: Option<String>,
    /// managementClient connection name(s), comma-separated, ORed; default all.
    connection: Option<String>,
    /// JSON filter: field equality, `$and`, `$or`, `$in`, `$nin`, `$ne`, `$eq`, `$exists`; `*` wildcards.
    #[serde(rename = "_q")]
    query: Option<String>,
    /// `app_metadata.groups=<value>`; any `app_metadata.<path>` works the same way.
    #[serde(rename = "app_metadata.groups")]
    groups: Option<String>,
}
