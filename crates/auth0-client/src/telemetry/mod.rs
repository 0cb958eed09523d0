//! Telemetry: JSON log lines in the platform shape, the Prometheus recorder, and the
//! per-request middleware (request id, access log, request metrics).

pub(crate) mod json_layer;
pub(crate) mod log_writer;
pub(crate) mod origin;
pub(crate) mod request;

use crate::config::env::LogLevel;
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

// The recorder lives beside the metrics it describes; re-exported for the callers here.
pub use crate::metrics::{metrics_upkeep, prometheus, render_metrics};
