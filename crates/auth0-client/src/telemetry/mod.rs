//! Telemetry: JSON log lines in the platform shape, the Prometheus recorder, and the
//! per-request middleware (request id, access log, request metrics).

pub(crate) mod json_layer;
pub(crate) mod log_writer;
pub(crate) mod origin;
pub(crate) mod request;

use crate::config::env::LogLevel;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::{Arc, Mutex, OnceLock};
use tracing_subscriber::layer::SubscriberExt as _;

pub use json_layer::JsonLayer;
pub use log_writer::{BatchWriter, LineSink};

/// Installs the JSON log layer for the whole process, writing to stdout through a
/// [`BatchWriter`]. A second call (tests building several apps) keeps the first subscriber.
pub fn init_logging(level: LogLevel) {
    let writer: LineWriter =
        match STDOUT.get_or_init(|| BatchWriter::spawn(std::io::stdout()).ok().map(Arc::new)) {
            Some(batches) => batches.clone(),
            None => Arc::new(Mutex::new(std::io::stdout())),
        };
    let subscriber = tracing_subscriber::registry().with(JsonLayer::new(level, writer));
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Where [`JsonLayer`] writes its lines.
pub type LineWriter = Arc<dyn LineSink>;

/// The process's standard-output writer thread, once started.
static STDOUT: OnceLock<Option<Arc<BatchWriter>>> = OnceLock::new();

/// Waits (a second at most) until every queued log line is on stdout; call before exit.
pub fn flush_logs() {
    if let Some(Some(batches)) = STDOUT.get() {
        batches.flush(std::time::Duration::from_secs(1));
    }
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
        metrics::with_local_recorder(&recorder, || {
            crate::metrics::describe();
            process_collector().describe();
        });
        // Another recorder may already be global (a test harness); ours still renders.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// The `process_*` metrics (CPU seconds, resident memory, open fds, start time, …),
/// read from `/proc/self` when collected.
fn process_collector() -> &'static metrics_process::Collector {
    static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
    COLLECTOR.get_or_init(metrics_process::Collector::default)
}

/// The Prometheus text of every metric, `process_*` read now.
pub fn render_metrics() -> String {
    let handle = prometheus();
    process_collector().collect();
    handle.render()
}

/// How often [`metrics_upkeep`] drains the histograms.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Drains recorded histogram samples into their buckets every few seconds, forever.
/// Without it, samples pile up in memory until `/-/metrics` is scraped.
pub async fn metrics_upkeep() {
    let mut ticks = tokio::time::interval(UPKEEP_EVERY);
    loop {
        ticks.tick().await;
        prometheus().run_upkeep();
    }
}
