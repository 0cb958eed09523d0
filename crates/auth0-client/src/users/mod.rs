//! User management: CRUD-like query -> Auth0 Lucene translation and connection rules.

pub mod query;
