//! The process-wide Prometheus recorder: installed once, rendered for `/-/metrics`,
//! its histograms drained in the background.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

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
            super::describe();
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
