//! `auth0-devtenant`: a local Auth0-compatible tenant on 127.0.0.1.

use std::path::PathBuf;

use auth0_devtenant::{DevTenant, TenantConfig};
use clap::Parser;

/// A local Auth0-compatible tenant (binds 127.0.0.1 only).
#[derive(Debug, Parser)]
#[command(name = "auth0-devtenant", version, about)]
struct Args {
    /// Port to listen on (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Tenant description (JSON); the built-in tenant when absent.
    #[arg(long)]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let config = match &args.config {
        Some(path) => TenantConfig::from_file(path)?,
        None => TenantConfig::default(),
    };
    let summary = describe(&config, args.config.is_none());
    let tenant = DevTenant::start_on(config, args.port).await?;
    println!("auth0-devtenant listening on {}", tenant.url());
    println!("issuer: {}", tenant.issuer());
    print!("{summary}");
    tokio::signal::ctrl_c().await?;
    tenant.shutdown().await;
    Ok(())
}

/// What the tenant holds; credentials only for the built-in (public, fixed) tenant.
fn describe(config: &TenantConfig, builtin: bool) -> String {
    let mut out = String::new();
    for client in &config.clients {
        let secret = if builtin {
            client.client_secret.as_str()
        } else {
            "(from the tenant file)"
        };
        out.push_str(&format!(
            "client {:?}: client_id={} client_secret={secret}\n",
            client.name, client.client_id
        ));
    }
    for connection in &config.connections {
        out.push_str(&format!(
            "connection {} ({})\n",
            connection.name, connection.id
        ));
    }
    for user in &config.users {
        let password = if builtin {
            user.password.as_str()
        } else {
            "(from the tenant file)"
        };
        out.push_str(&format!(
            "user {} / {password} in {}\n",
            user.email, user.connection
        ));
    }
    out
}
