//! Measures password-realm token issuance over loopback: N logins with C in flight.
//!
//! `cargo run --release -p auth0-devtenant --example token_throughput -- --requests 2000 --concurrency 32`
//! (add `--url http://127.0.0.1:PORT` to measure a running `auth0-devtenant` instead of an
//! in-process one).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use auth0_devtenant::{DevTenant, TenantConfig};
use clap::Parser;

/// Password-realm login throughput.
#[derive(Debug, Parser)]
struct Args {
    /// Number of logins.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Logins in flight.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// A running tenant (built-in tenant credentials); in-process when absent.
    #[arg(long)]
    url: Option<String>,
    /// Requested scope.
    #[arg(long, default_value = "openid profile email")]
    scope: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (url, tenant) = match &args.url {
        Some(url) => (url.trim_end_matches('/').to_owned(), None),
        None => {
            let tenant = DevTenant::start(TenantConfig::default()).await?;
            (tenant.url(), Some(tenant))
        }
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    let token_url = format!("{url}/oauth/token");
    let form = Arc::new(vec![
        (
            "grant_type",
            "http://auth0.com/oauth/grant-type/password-realm".to_owned(),
        ),
        ("client_id", "dev-token-client".to_owned()),
        ("client_secret", "dev-token-secret".to_owned()),
        ("realm", "Username-Password-Authentication".to_owned()),
        ("username", "dev@example.com".to_owned()),
        ("password", "DevPassword1!".to_owned()),
        ("scope", args.scope.clone()),
    ]);
    // Warm up connections.
    for _ in 0..args.concurrency.min(args.requests) {
        client
            .post(&token_url)
            .form(form.as_slice())
            .send()
            .await?
            .error_for_status()?;
    }
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (client, token_url, form, next) = (
            client.clone(),
            token_url.clone(),
            form.clone(),
            next.clone(),
        );
        let total = args.requests;
        workers.push(tokio::spawn(async move {
            let mut failures = 0usize;
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let ok = client
                    .post(&token_url)
                    .form(form.as_slice())
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                failures += usize::from(!ok);
            }
            failures
        }));
    }
    let mut failures = 0;
    for worker in workers {
        failures += worker.await.context("worker")?;
    }
    let elapsed = started.elapsed();
    if failures > 0 {
        bail!("{failures} of {} logins failed", args.requests);
    }
    let rate = args.requests as f64 / elapsed.as_secs_f64();
    println!(
        "{} password-realm logins, {} in flight: {:.2} s, {:.0} tokens/s (access_token + id_token each)",
        args.requests,
        args.concurrency,
        elapsed.as_secs_f64(),
        rate
    );
    if let Some(tenant) = tenant {
        tenant.shutdown().await;
    }
    Ok(())
}
