//! A `tracing` layer writing one JSON object per event, in the platform's shape:
//! numeric `level` (10 trace .. 60 fatal), `time` (epoch ms), `msg`, `reqId`, then fields.

use super::LineWriter;
use crate::config::env::LogLevel;
use serde_json::{Map, Value};
use std::fmt;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The JSON log layer; events below the configured level are dropped.
pub struct JsonLayer {
    max: Level,
    writer: LineWriter,
}

impl JsonLayer {
    /// A layer letting `level` and above through to `writer`.
    pub fn new(level: LogLevel, writer: LineWriter) -> Self {
        Self {
            max: level.as_tracing(),
            writer,
        }
    }
}

/// The platform's numeric level of a `tracing` level.
pub fn numeric_level(level: &Level) -> u8 {
    match *level {
        Level::TRACE => 10,
        Level::DEBUG => 20,
        Level::INFO => 30,
        Level::WARN => 40,
        _ => 50,
    }
}

/// Fields of a span or event, as JSON values.
#[derive(Default)]
struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(name(field), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(name(field), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(name(field), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(name(field), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(name(field), Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(name(field), Value::from(format!("{value:?}")));
    }
}

fn name(field: &Field) -> String {
    match field.name() {
        "message" => "msg".to_owned(),
        other => other.to_owned(),
    }
}

impl<S> tracing_subscriber::Layer<S> for JsonLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        *metadata.level() <= self.max
    }

    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut line = Map::new();
        line.insert(
            "level".into(),
            Value::from(numeric_level(event.metadata().level())),
        );
        let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        line.insert("time".into(), Value::from(now as i64));
        line.insert("pid".into(), Value::from(std::process::id()));
        // Span fields (reqId, method, path…) from the outermost span inwards.
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<Fields>() {
                    for (key, value) in &fields.0 {
                        line.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        line.entry("msg").or_insert(Value::from(""));
        for (key, value) in fields.0 {
            line.insert(key, value);
        }
        let Ok(mut text) = serde_json::to_string(&line) else {
            return;
        };
        text.push('\n');
        if let Ok(mut writer) = self.writer.lock() {
            let _ = writer.write_all(text.as_bytes());
            let _ = writer.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt as _;

    fn capture(level: LogLevel, emit: impl FnOnce()) -> Vec<Value> {
        let buffer = Arc::new(Mutex::new(Vec::<u8>::new()));
        let writer: LineWriter = buffer.clone();
        let subscriber = tracing_subscriber::registry().with(JsonLayer::new(level, writer));
        tracing::subscriber::with_default(subscriber, emit);
        let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[test]
    fn events_become_one_json_line_with_numeric_level_time_msg_and_span_fields() {
        let lines = capture(LogLevel::Info, || {
            let span = tracing::info_span!("request", reqId = "r-1");
            let _entered = span.enter();
            tracing::warn!(status = 503u16, "store down");
        });
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["level"], 40);
        assert_eq!(lines[0]["msg"], "store down");
        assert_eq!(lines[0]["reqId"], "r-1");
        assert_eq!(lines[0]["status"], 503);
        assert!(lines[0]["time"].as_i64().unwrap() > 1_600_000_000_000);
    }

    #[test]
    fn events_below_log_level_are_dropped() {
        let lines = capture(LogLevel::Warn, || {
            tracing::info!("chatty");
            tracing::debug!("chattier");
            tracing::error!("bad");
        });
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["level"], 50);
    }

    #[test]
    fn every_level_maps_to_the_platform_number() {
        let numbers: Vec<u8> = [
            Level::TRACE,
            Level::DEBUG,
            Level::INFO,
            Level::WARN,
            Level::ERROR,
        ]
        .iter()
        .map(numeric_level)
        .collect();
        assert_eq!(numbers, vec![10, 20, 30, 40, 50]);
    }
}
