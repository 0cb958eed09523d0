//! A `tracing` layer writing one JSON object per event, in the platform's shape:
//! numeric `level` (10 trace .. 60 fatal), `time` (epoch ms), `msg`, `reqId`, then fields.

use super::LineWriter;
use crate::config::env::LogLevel;
use serde_json::Value;
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

/// This process's id, read once (`getpid` is a syscall).
fn pid() -> u32 {
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *PID.get_or_init(std::process::id)
}

/// Fields of a span or event, in the order recorded (`message` is named `msg`).
#[derive(Default)]
struct Fields(Vec<(&'static str, Value)>);

impl Fields {
    fn push(&mut self, field: &Field, value: Value) {
        self.0.push((name(field), value));
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, Value::from(format!("{value:?}")));
    }
}

/// A field's key in the line (`message` is `msg`).
fn name(field: &Field) -> &'static str {
    match field.name() {
        "message" => "msg",
        other => other,
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

    /// Writes the line straight into a buffer: `level`, `time`, `pid`, the event's
    /// fields (`msg` first when the event has none), `reqId` while a request is served,
    /// then the fields of the spans around it (inner spans first; a key already written
    /// is not repeated).
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_millis());
        let mut line = Line {
            text: Vec::with_capacity(256),
            written: Vec::with_capacity(12),
        };
        line.text.extend_from_slice(b"{\"level\":");
        line.number(numeric_level(event.metadata().level()));
        line.text.extend_from_slice(b",\"time\":");
        line.number(now);
        line.text.extend_from_slice(b",\"pid\":");
        line.number(pid());
        line.written.extend(["level", "time", "pid"]);
        event.record(&mut line);
        if !line.written.contains(&"msg") {
            line.entry("msg", "");
        }
        super::request::with_request_id(|id| line.entry("reqId", id));
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                if let Some(span_fields) = span.extensions().get::<Fields>() {
                    for (key, value) in &span_fields.0 {
                        line.entry(key, value);
                    }
                }
            }
        }
        line.text.extend_from_slice(b"}\n");
        self.writer.line(line.text);
    }
}

/// A log line being written, and the keys already in it.
struct Line {
    text: Vec<u8>,
    written: Vec<&'static str>,
}

impl Line {
    /// Appends an integer.
    fn number(&mut self, value: impl Into<u128>) {
        let _ = serde_json::to_writer(&mut self.text, &value.into());
    }

    /// Appends `,"key":value` unless `key` is already in the line.
    fn entry(&mut self, key: &'static str, value: &(impl serde::Serialize + ?Sized)) {
        if self.written.contains(&key) {
            return;
        }
        self.written.push(key);
        self.text.push(b',');
        // Serialising a string or a number into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.text, key);
        self.text.push(b':');
        let _ = serde_json::to_writer(&mut self.text, value);
    }
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.entry(name(field), value);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.entry(name(field), &value);
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.entry(name(field), &value);
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.entry(name(field), &value);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.entry(name(field), &value);
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.entry(name(field), &format!("{value:?}"));
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
