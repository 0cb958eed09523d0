//! Integration tests of the devtenant over real HTTP on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod support;

mod backchannel;
mod bin;
mod code_flow;
mod config;
mod control;
mod discovery;
mod faults;
mod jobs;
mod login_outcomes;
mod management_users;
mod password_grants;
mod refresh;
mod refresh_user;
mod search;
mod sessions;
