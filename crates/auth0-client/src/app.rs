//! Wiring: shared state, the router, bind and serve with graceful shutdown.

use crate::config::Config;
use crate::http::{auth, docs, error, ops, users};
use crate::session::SessionStore;
use crate::telemetry::request::track;
use crate::tuning::Tuning;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler as _;
use axum::middleware::from_fn;
use std::net::IpAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

pub use crate::http::limits::BODY_LIMIT;
pub use crate::http::state::{AppState, Lifecycle, Shared};

/// The whole service router: API routes under `SERVICE_PREFIX`, operations and
/// documentation routes outside it, request tracking, a body-size limit, JSON 404s and 405s.
pub fn router(state: AppState) -> Router {
    let prefix = state.config.settings.service_prefix.clone();
    let api = Router::new()
        .merge(auth::routes())
        .merge(users::routes())
        .merge(crate::http::lifecycle::routes());
    let api = if prefix.is_empty() {
        api
    } else {
        Router::new().nest(&prefix, api)
    };
    Router::new()
        .merge(api)
        .merge(ops::routes())
        .merge(docs::routes())
        .method_not_allowed_fallback(error::method_not_allowed)
        .route_layer(from_fn(error::log_cause))
        .route_layer(from_fn(crate::http::limits::request_head_limits))
        .route_layer(from_fn(track))
        .fallback(error::route_not_found.layer(from_fn(track)))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// A bound, not yet serving, service.
pub struct Application {
    listener: TcpListener,
    port: u16,
    state: AppState,
    extra: Router,
}

impl Application {
    /// Builds the state and binds `HTTP_ADDRESS:HTTP_PORT`, or every interface (IPv6 and
    /// IPv4) without `HTTP_ADDRESS` (port 0: any free port).
    pub async fn build(config: Config, store: Arc<dyn SessionStore>) -> anyhow::Result<Self> {
        Self::build_tuned(config, store, Tuning::default()).await
    }

    /// [`Application::build`] with explicit timeouts, leases and clock (tests).
    pub async fn build_tuned(
        config: Config,
        store: Arc<dyn SessionStore>,
        tuning: Tuning,
    ) -> anyhow::Result<Self> {
        let address = config.settings.server.address;
        Self::bind(config, store, address, tuning).await
    }

    /// [`Application::build`] on a given interface (dev mode binds loopback only).
    pub async fn build_on(
        config: Config,
        store: Arc<dyn SessionStore>,
        ip: IpAddr,
    ) -> anyhow::Result<Self> {
        Self::bind(config, store, Some(ip), Tuning::default()).await
    }

    async fn bind(
        config: Config,
        store: Arc<dyn SessionStore>,
        address: Option<IpAddr>,
        tuning: Tuning,
    ) -> anyhow::Result<Self> {
        crate::telemetry::prometheus();
        let port = config.settings.http_port;
        let http = crate::auth0::http_client().map_err(anyhow::Error::msg)?;
        let state = AppState::with_tuning(Arc::new(config), store, http, tuning);
        let listener = crate::server::bind(address, port).map_err(|error| {
            let shown = address.map_or_else(|| "every interface".to_owned(), |ip| ip.to_string());
            anyhow::anyhow!(
                "HTTP_ADDRESS/HTTP_PORT: cannot listen on {shown}, port {port}: {error}"
            )
        })?;
        let port = listener.local_addr()?.port();
        Ok(Self {
            listener,
            port,
            state,
            extra: Router::new(),
        })
    }

    /// Serves `routes` beside the service's own (dev mode's callback page).
    pub fn with_routes(mut self, routes: Router) -> Self {
        self.extra = self.extra.merge(routes);
        self
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (its [`Lifecycle`] stops the service without a signal).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGTERM/SIGINT or [`Lifecycle::shutdown`]: readiness fails at once,
    /// the listener closes after `DELAY_SHUTDOWN_SECONDS`, in-flight requests finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let lifecycle = self.state.lifecycle.clone();
        let delay = self.state.config.settings.delay_shutdown;
        let signals = lifecycle.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = os_signal() => {
                    tracing::info!("shutdown signal received; readiness now fails");
                    signals.shutdown();
                }
                () = signals.triggered() => {}
            }
        });
        let upkeep = tokio::spawn(crate::telemetry::metrics_upkeep());
        let server = self.state.config.settings.server.clone();
        let router = router(self.state).merge(self.extra);
        let served = crate::server::serve(self.listener, router, &server, async move {
            lifecycle.triggered().await;
            tokio::time::sleep(delay).await;
            tracing::info!("closing the listener; finishing in-flight requests");
        })
        .await;
        upkeep.abort();
        served
    }
}

/// SIGTERM or SIGINT.
async fn os_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
