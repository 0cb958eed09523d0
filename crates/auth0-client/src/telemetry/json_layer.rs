//! A `tracing` layer writing one JSON object per event, in the platform's shape:
//! numeric `level` (10 trace .. 60 fatal), `time` (epoch ms), `msg`, `reqId`, then fields.
//!
//! A dotted field name is written as nested objects, as the platform's Go and Node
//! loggers write ECS fields: `http.request.method = "GET"` becomes
//! `"http":{"request":{"method":"GET"}}`. Fields sharing a prefix must be recorded one
//! after the other (an object is closed when a field outside it comes). A plain `error`
//! field is written as `error.message`.

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

/// A field's key in the line (`message` is `msg`, `error` is `error.message`).
fn name(field: &Field) -> &'static str {
    match field.name() {
        "message" => "msg",
        "error" => "error.message",
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

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(self.max.into())
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
            text: Vec::with_capacity(384),
            written: Vec::with_capacity(16),
            open: [""; MAX_DEPTH],
            depth: 0,
            fresh: false,
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
        line.close_to(0);
        line.text.extend_from_slice(b"}\n");
        self.writer.line(line.text);
    }
}

/// Deepest nesting of a dotted field name; deeper segments stay in the leaf's key.
const MAX_DEPTH: usize = 6;

/// A log line being written, the keys already in it, and the objects of dotted keys
/// still open (no allocation beyond the line's buffer and its key list).
struct Line {
    text: Vec<u8>,
    written: Vec<&'static str>,
    open: [&'static str; MAX_DEPTH],
    depth: usize,
    /// An object was just opened: its first member needs no comma.
    fresh: bool,
}

impl Line {
    /// Appends an integer.
    fn number(&mut self, value: impl Into<u128>) {
        let _ = serde_json::to_writer(&mut self.text, &value.into());
    }

    /// Appends `,"key":value` unless `key` is already in the line; a dotted key goes
    /// into nested objects, reusing those the previous key left open.
    fn entry(&mut self, key: &'static str, value: &(impl serde::Serialize + ?Sized)) {
        if self.written.contains(&key) {
            return;
        }
        self.written.push(key);
        let mut parents = [""; MAX_DEPTH];
        let mut count = 0;
        let mut leaf = key;
        while count < MAX_DEPTH
            && let Some((parent, rest)) = leaf.split_once('.')
            && !parent.is_empty()
            && !rest.is_empty()
        {
            parents[count] = parent;
            count += 1;
            leaf = rest;
        }
        let shared = self.open[..self.depth]
            .iter()
            .zip(&parents[..count])
            .take_while(|(open, wanted)| open == wanted)
            .count();
        self.close_to(shared);
        for parent in &parents[shared..count] {
            self.key(parent);
            self.text.push(b'{');
            self.open[self.depth] = parent;
            self.depth += 1;
            self.fresh = true;
        }
        self.key(leaf);
        // Serialising a string or a number into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.text, value);
    }

    /// Writes `,"name":` (no comma as an object's first member).
    fn key(&mut self, name: &str) {
        if !self.fresh {
            self.text.push(b',');
        }
        self.fresh = false;
        let _ = serde_json::to_writer(&mut self.text, name);
        self.text.push(b':');
    }

    /// Closes open objects until `depth` remain.
    fn close_to(&mut self, depth: usize) {
        while self.depth > depth {
            self.text.push(b'}');
            self.depth -= 1;
            self.fresh = false;
        }
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
    fn dotted_fields_become_nested_objects_sharing_their_prefixes() {
        let lines = capture(LogLevel::Info, || {
            tracing::info!(
                http.request.method = "GET",
                http.request.userAgent.original = "curl/8",
                http.response.statusCode = 200u16,
                url.path = "/userinfo",
                responseTime = 1.5,
                "request completed"
            );
        });
        assert_eq!(
            lines[0]["http"],
            serde_json::json!({
                "request": {"method": "GET", "userAgent": {"original": "curl/8"}},
                "response": {"statusCode": 200}
            })
        );
        assert_eq!(lines[0]["url"], serde_json::json!({"path": "/userinfo"}));
        assert_eq!(lines[0]["responseTime"], 1.5);
        assert_eq!(lines[0]["msg"], "request completed");
    }

    #[test]
    fn a_plain_error_field_is_written_as_error_message_beside_error_type() {
        let lines = capture(LogLevel::Info, || {
            tracing::warn!(
                error = "connection refused",
                error.r#type = "unavailable",
                "down"
            );
            tracing::warn!(error.message = "late", "no msg field first");
        });
        assert_eq!(
            lines[0]["error"],
            serde_json::json!({"message": "connection refused", "type": "unavailable"})
        );
        assert_eq!(lines[1]["error"]["message"], "late");
        assert_eq!(lines[1]["msg"], "no msg field first");
    }

    #[test]
    fn a_line_is_valid_json_when_a_group_ends_the_event_and_msg_comes_last() {
        let lines = capture(LogLevel::Info, || {
            let span = tracing::info_span!("outer", host.ip = "10.0.0.1");
            let _entered = span.enter();
            tracing::info!(a.b.c.d.e.f.g.h = 1u8);
        });
        assert_eq!(lines[0]["a"]["b"]["c"]["d"]["e"]["f"]["g.h"], 1);
        assert_eq!(lines[0]["msg"], "");
        assert_eq!(lines[0]["host"]["ip"], "10.0.0.1");
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
