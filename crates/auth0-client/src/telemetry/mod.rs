//! Telemetry: JSON log lines in the platform shape, the Prometheus recorder, and the
//! per-request middleware (request id, access log, request metrics).

pub mod json_layer;
pub mod request;

use crate::config::env::LogLevel;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use tracing_subscriber::layer::SubscriberExt as _;

pub use json_layer::JsonLayer;

/// Installs the JSON log layer for the whole process, writing to stdout.
/// A second call (tests building several apps) keeps the first subscriber.
pub fn init_logging(level: LogLevel) {
    let subscriber = tracing_subscriber::registry().with(JsonLayer::new(level, stdout_writer()));
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// A writer for [`JsonLayer`]: anything that takes whole lines.
pub type LineWriter = Arc<Mutex<dyn Write + Send>>;

/// Standard output as a [`LineWriter`].
pub fn stdout_writer() -> LineWriter {
    Arc::new(Mutex::new(std::io::stdout()))
}

/// The process-wide Prometheus recorder, installed on first use (tests build many apps
/// in one process; a recorder can be installed only once).
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
            .map(PrometheusBuilder::build_recorder)
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        // Another recorder may already be global (a test harness); ours still renders.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}
