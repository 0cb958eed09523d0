//! User management: CRUD-like query -> Auth0 Lucene translation, connection rules, and
//! the operations of the `/users` routes over the Management API.

pub(crate) mod connections;
pub(crate) mod offboard;
pub(crate) mod query;

use crate::auth0::management::{
    ImportJob, ManagementApi, ManagementError, ManagementOptions, Passthrough,
};
use crate::config::typed::Management;
use bytes::Bytes;
use connections::{ConnectionError, Connections};
use query::QueryError;
use serde_json::Value;

/// Auth0's limit on the users file of a users-imports job (500 KB).
pub const MAX_IMPORT_FILE: usize = 500 * 1024;

/// A user-management operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsersError {
    /// The query is invalid (`400`).
    #[error(transparent)]
    Query(#[from] QueryError),
    /// The connection choice is invalid (`400`).
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    /// The body is invalid (`400`).
    #[error("{0}")]
    InvalidBody(String),
    /// The body is over Auth0's limit (`413`).
    #[error("{0}")]
    TooLarge(String),
    /// The Management API call failed.
    #[error(transparent)]
    Auth0(#[from] ManagementError),
}

/// A users-imports request with the connection still named (not yet an id).
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// The users file (a JSON array), at most [`MAX_IMPORT_FILE`].
    pub users: Bytes,
    /// File name of the users part.
    pub file_name: String,
    /// Connection name (a key of `supportedConnectionsMap`); the default when absent.
    pub connection: Option<String>,
    /// `upsert`, as sent.
    pub upsert: Option<String>,
    /// `external_id`, as sent.
    pub external_id: Option<String>,
    /// `send_completion_email`, as sent.
    pub send_completion_email: Option<String>,
}

/// The user-management operations of the configured managementClient.
#[derive(Debug)]
pub struct Users {
    api: ManagementApi,
    connections: Connections,
}

impl Users {
    /// The service for the typed managementClient `config` with default timeouts and
    /// retry bounds, calling Auth0 with `http`.
    pub fn new(config: &Management, http: reqwest::Client) -> Self {
        Self::with_options(config, http, ManagementOptions::default())
    }

    /// The service for `config` with explicit timeouts and retry bounds.
    pub fn with_options(
        config: &Management,
        http: reqwest::Client,
        options: ManagementOptions,
    ) -> Self {
        Self {
            api: ManagementApi::new(config, http, options),
            connections: config.connections.clone(),
        }
    }

    /// The service with the timeouts, retry budget and clock of `tuning`.
    pub fn with_tuning(
        config: &Management,
        http: reqwest::Client,
        tuning: &crate::tuning::Tuning,
    ) -> Self {
        Self {
            api: ManagementApi::new(config, http, tuning.management)
                .with_clock(tuning.clock.clone()),
            connections: config.connections.clone(),
        }
    }

    /// A page of users matching the query-string `params` and the `acl_rows` header.
    pub async fn search(
        &self,
        params: &[(String, String)],
        acl_rows: Option<&str>,
    ) -> Result<Value, UsersError> {
        let search = query::translate(params, acl_rows, &self.connections.names())?;
        Ok(self
            .api
            .search_users(search.q.as_deref(), search.page, false)
            .await?)
    }

    /// How many users match the query-string `params` and the `acl_rows` header.
    pub async fn count(
        &self,
        params: &[(String, String)],
        acl_rows: Option<&str>,
    ) -> Result<u64, UsersError> {
        let search = query::translate(params, acl_rows, &self.connections.names())?;
        Ok(self.api.count_users(search.q.as_deref()).await?)
    }

    /// One user.
    pub async fn get(&self, user_id: &str) -> Result<Value, UsersError> {
        Ok(self.api.get_user(user_id).await?)
    }

    /// Creates a user; `connection` defaults to the configured one and must be supported.
    pub async fn create(&self, mut body: Value) -> Result<Value, UsersError> {
        let Value::Object(fields) = &mut body else {
            return Err(UsersError::InvalidBody(
                "The body must be a JSON object (Auth0's create-user body).".to_owned(),
            ));
        };
        let requested = match fields.get("connection") {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) => Some(name.clone()),
            Some(_) => {
                return Err(UsersError::InvalidBody(
                    "\"connection\" must be a connection name (a string).".to_owned(),
                ));
            }
        };
        let connection = self.connections.for_create(requested.as_deref())?;
        fields.insert("connection".to_owned(), Value::String(connection));
        Ok(self.api.create_user(&body).await?)
    }

    /// Updates a user with Auth0's update-user body, passed through.
    pub async fn update(&self, user_id: &str, body: &Value) -> Result<Value, UsersError> {
        if !body.is_object() {
            return Err(UsersError::InvalidBody(
                "The body must be a JSON object (Auth0's update-user body).".to_owned(),
            ));
        }
        Ok(self.api.update_user(user_id, body).await?)
    }

    /// Deletes a user at Auth0 (its sessions are the caller's to end).
    pub async fn delete(&self, user_id: &str) -> Result<(), UsersError> {
        Ok(self.api.delete_user(user_id).await?)
    }

    /// Starts a users-imports job on the named (or default) connection.
    pub async fn import(&self, request: ImportRequest) -> Result<Passthrough, UsersError> {
        if request.users.len() > MAX_IMPORT_FILE {
            return Err(UsersError::TooLarge(
                "The users file exceeds Auth0's 500 KB limit.".to_owned(),
            ));
        }
        let connection_id = self.connections.for_import(request.connection.as_deref())?;
        let job = ImportJob {
            users: request.users,
            file_name: request.file_name,
            connection_id,
            upsert: request.upsert,
            external_id: request.external_id,
            send_completion_email: request.send_completion_email,
        };
        Ok(self.api.import_users(&job).await?)
    }

    /// An import job, as Auth0 returns it.
    pub async fn job(&self, job_id: &str) -> Result<Passthrough, UsersError> {
        Ok(self.api.job(job_id).await?)
    }

    /// An import job's errors, as Auth0 returns them.
    pub async fn job_errors(&self, job_id: &str) -> Result<Passthrough, UsersError> {
        Ok(self.api.job_errors(job_id).await?)
    }
}
