//! Command line (SPEC §8): `serve` (the default), `dev`, `check-config`, `schema`.

use crate::app::Application;
use crate::config::Config;
use crate::config::env::{LogLevel, Settings};
use clap::{Parser, Subcommand};
use std::net::IpAddr;
use std::process::ExitCode;

/// auth0-client: a login gateway in front of Auth0.
#[derive(Debug, Parser)]
#[command(name = "auth0-client", version, about)]
pub struct Cli {
    /// What to run (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service, configured by the environment (the default).
    Serve,
    /// Everything on this machine: embedded dev tenant, in-memory sessions, generated config
    /// (not in builds without the `dev` feature).
    Dev {
        /// Port of auth0-client (the dev tenant takes the next one).
        #[arg(long, env = "HTTP_PORT", default_value_t = 8080)]
        port: u16,
        /// Listen on this IP address instead of loopback (e.g. 0.0.0.0 or ::): the dev
        /// tenant's seeded user and secrets become reachable from the network.
        #[arg(long, value_name = "ADDR", value_parser = listen_address)]
        listen: Option<IpAddr>,
        /// Print the config.json dev mode runs with, for a dev tenant at TENANT_URL (one
        /// started with `auth0-devtenant`), and exit: the bench and the fault scenarios
        /// start from it.
        #[arg(long, value_name = "TENANT_URL")]
        print_config: Option<String>,
        /// With --print-config: the client requests that name none use (`website`, the
        /// default, or `token`).
        #[arg(long, value_name = "CLIENT", requires = "print_config")]
        default_client: Option<String>,
    },
    /// Validate the environment and the config file; exit 0 when valid, 1 otherwise.
    CheckConfig,
    /// Print the JSON schema of config.json.
    Schema,
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Schema => {
            println!("{}", crate::config::validate::SCHEMA.trim_end());
            ExitCode::SUCCESS
        }
        Command::CheckConfig => match Config::load(env_var) {
            Ok(config) => {
                println!(
                    "{}: configuration is valid",
                    config.settings.config_file.display()
                );
                ExitCode::SUCCESS
            }
            Err(errors) => {
                errors.iter().for_each(|line| eprintln!("{line}"));
                ExitCode::FAILURE
            }
        },
        Command::Serve => runtime(serve()),
        #[cfg(feature = "dev")]
        Command::Dev {
            port,
            print_config: Some(tenant),
            default_client,
            ..
        } => crate::dev::print_config(&tenant, port, default_client.as_deref()),
        #[cfg(feature = "dev")]
        Command::Dev { port, listen, .. } => runtime(crate::dev::run(port, listen)),
        #[cfg(not(feature = "dev"))]
        Command::Dev { .. } => {
            eprintln!("{NO_DEV_MODE}");
            ExitCode::from(2)
        }
    }
}

/// The one line `auth0-client dev` prints (exit 2) in a build without the `dev` feature.
pub const NO_DEV_MODE: &str = "auth0-client: this build has no dev mode (built without the `dev` cargo feature); run `serve`, or build with default features for `dev`";

/// `--listen`: an IPv4 or IPv6 address (brackets allowed).
fn listen_address(raw: &str) -> Result<IpAddr, String> {
    crate::config::server::parse_ip(raw)
        .ok_or_else(|| format!("expected an IP address such as 0.0.0.0 or ::, got {raw:?}"))
}

/// The process environment, for [`Config::load`].
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Runs `future` on a multi-threaded runtime; a failure is logged once (by the JSON log
/// when logging is up), then the logs are flushed.
fn runtime(future: impl Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("auth0-client: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = match runtime.block_on(future) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.is::<Reported>() => ExitCode::FAILURE,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    };
    crate::telemetry::flush_logs();
    code
}

/// A failure whose every line was already logged: the process only exits 1.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration (logged above)")]
struct Reported;

async fn serve() -> anyhow::Result<()> {
    let config = match Config::load(env_var) {
        Ok(config) => config,
        Err(errors) => {
            let level = Settings::from_lookup(env_var).map_or(LogLevel::Info, |s| s.log_level);
            crate::telemetry::init_logging(level);
            for line in &errors {
                tracing::error!("{line}");
            }
            return Err(Reported.into());
        }
    };
    crate::telemetry::init_logging(config.settings.log_level);
    let store = crate::session::open_store(&config.settings).await?;
    let app = Application::build(config, store).await?;
    tracing::info!(port = app.port(), "auth0-client listening");
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}
