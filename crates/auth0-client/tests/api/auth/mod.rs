//! Integration tests: the authentication routes of SPEC §2-4, against a real devtenant.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::app::{
    DEV_EMAIL, DEV_PASSWORD, DEV_USER_ID, Options, SESSION_SECONDS, STRICT, Store, TOKEN, TestApp,
    Tokens, WEBSITE, assert_error, client, location, query_of, set_cookies, sid,
};
use crate::support::wait::{until, whole_ms_between};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// Runs the test function `$name(store)` once on the memory store and once on Redis.
macro_rules! on_both_stores {
    ($name:ident) => {
        mod $name {
            use super::Store;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_memory() {
                super::$name(Store::Memory).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_redis() {
                super::$name(Store::Redis).await;
            }
        }
    };
}

const CLEARED_COOKIE: &str =
    "sid=; Path=/; HttpOnly; Secure; Expires=Thu, 01 Jan 1970 00:00:00 GMT";

fn grants(app: &TestApp, grant_type: &str) -> u64 {
    app.tenant
        .stats()
        .token_grants
        .get(grant_type)
        .copied()
        .unwrap_or(0)
}

fn requests(app: &TestApp, route: &str) -> u64 {
    app.tenant.stats().requests.get(route).copied().unwrap_or(0)
}

mod authorize;
mod forged;
mod logout;
mod outages;
mod password;
mod refresh;
mod userinfo;
