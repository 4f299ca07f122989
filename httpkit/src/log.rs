//! The one way a process of the workspace writes a log line to stderr: in text (a timestamp,
//! the level, the message, then `key=value` fields) or as JSON lines (one object per line:
//! `timestamp`, `level`, `message` and the same fields), chosen once at start-up for the whole
//! process (`set_format`, from `--log-format`). The server's access log (`access`) and its
//! refusal lines go through here, and so do the appliance's and the simulator's other lines.
//!
//! It never decides what is secret: callers pass only what may be shown (a route template
//! rather than a raw path, never a header, a query string or a key).

use crate::clock::format_timestamp;
use serde_json::{Map, Value};
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

/// How lines are written: for a person reading a terminal, or for a log shipper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            other => Err(format!("unknown log format {other:?}; use text or json")),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Text => "text",
            Format::Json => "json",
        })
    }
}

// A process has one stderr, so the format is process-wide: an atomic, since every thread reads
// it on every line and it is set once before any thread starts.
static FORMAT: AtomicU8 = AtomicU8::new(0);

/// Chooses the format of every later line of this process.
pub fn set_format(format: Format) {
    FORMAT.store(
        match format {
            Format::Text => 0,
            Format::Json => 1,
        },
        Ordering::Relaxed,
    );
}

pub fn format() -> Format {
    match FORMAT.load(Ordering::Relaxed) {
        1 => Format::Json,
        _ => Format::Text,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// One field of a line. Text fields are quoted in text lines only when they hold a space.
#[derive(Debug, Clone)]
pub enum FieldValue {
    Text(String),
    Number(u64),
}

impl From<&str> for FieldValue {
    fn from(text: &str) -> Self {
        FieldValue::Text(text.to_string())
    }
}

impl From<String> for FieldValue {
    fn from(text: String) -> Self {
        FieldValue::Text(text)
    }
}

impl From<&String> for FieldValue {
    fn from(text: &String) -> Self {
        FieldValue::Text(text.clone())
    }
}

impl From<u64> for FieldValue {
    fn from(n: u64) -> Self {
        FieldValue::Number(n)
    }
}

impl From<u16> for FieldValue {
    fn from(n: u16) -> Self {
        FieldValue::Number(n.into())
    }
}

/// Writes one line: `message` with `fields` (in order) at `level`.
pub fn event(level: Level, message: &str, fields: &[(&str, FieldValue)]) {
    write_line(&render(format(), level, message, fields));
}

pub fn info(message: &str) {
    event(Level::Info, message, &[]);
}

pub fn warn(message: &str) {
    event(Level::Warn, message, &[]);
}

pub fn error(message: &str) {
    event(Level::Error, message, &[]);
}

/// `format!` arguments to an error line.
#[macro_export]
macro_rules! log_error {
    ($($arg:tt)*) => { $crate::log::error(&format!($($arg)*)) };
}

/// `format!` arguments to a warning line.
#[macro_export]
macro_rules! log_warn {
    ($($arg:tt)*) => { $crate::log::warn(&format!($($arg)*)) };
}

/// `format!` arguments to an informational line.
#[macro_export]
macro_rules! log_info {
    ($($arg:tt)*) => { $crate::log::info(&format!($($arg)*)) };
}

/// One answered (or refused) request, as the access log records it.
#[derive(Debug, Clone)]
pub struct Access<'a> {
    /// Which server of the process answered (`api`, `simulator`).
    pub server: &'a str,
    pub method: &'a str,
    /// The route template (`/v1/posts/{id}`) when the handler named one, else the path without
    /// its query string.
    pub route: &'a str,
    pub status: u16,
    pub duration: Duration,
    pub request_id: &'a str,
    /// The app the request acted for, when the handler knew it.
    pub app_id: Option<&'a str>,
    pub peer: Option<String>,
    /// The code of a refusal the server gave itself (`HEAD_TIMEOUT`).
    pub refused: Option<&'a str>,
}

/// The access-log line of one request. Text keeps the shape the log had before JSON existed
/// (`<time> <server> <METHOD> <route> <status> <ms>ms rid=<id>`), so existing greps still work.
pub fn access(access: &Access) {
    write_line(&render_access(format(), access));
}

fn render_access(format: Format, access: &Access) -> String {
    let millis = access.duration.as_millis() as u64;
    let mut fields: Vec<(&str, FieldValue)> = Vec::new();
    if let Some(app_id) = access.app_id {
        fields.push(("app_id", app_id.into()));
    }
    if let Some(peer) = &access.peer {
        fields.push(("peer", peer.into()));
    }
    if let Some(code) = access.refused {
        fields.push(("refused", code.into()));
    }
    match format {
        Format::Text => {
            let mut line = format!(
                "{} {} {} {} {} {millis}ms rid={}",
                format_timestamp(chrono::Utc::now()),
                access.server,
                access.method,
                access.route,
                access.status,
                access.request_id,
            );
            append_text_fields(&mut line, &fields);
            line
        }
        Format::Json => {
            let mut object = Map::new();
            object.insert(
                "timestamp".into(),
                format_timestamp(chrono::Utc::now()).into(),
            );
            object.insert(
                "level".into(),
                if access.status >= 500 {
                    "error"
                } else {
                    "info"
                }
                .into(),
            );
            object.insert("message".into(), "request".into());
            object.insert("server".into(), access.server.into());
            object.insert("request_id".into(), access.request_id.into());
            object.insert("method".into(), access.method.into());
            object.insert("route".into(), access.route.into());
            object.insert("status".into(), access.status.into());
            object.insert("duration_ms".into(), millis.into());
            object.insert(
                "app_id".into(),
                access.app_id.map_or(Value::Null, Value::from),
            );
            insert_json_fields(&mut object, &fields[usize::from(access.app_id.is_some())..]);
            Value::Object(object).to_string()
        }
    }
}

fn render(format: Format, level: Level, message: &str, fields: &[(&str, FieldValue)]) -> String {
    let timestamp = format_timestamp(chrono::Utc::now());
    match format {
        Format::Text => {
            // Lines without a level word read as they always did: only warnings and errors
            // name theirs, where the message does not already say so.
            let mut line = format!("{timestamp} {message}");
            if level != Level::Info && !message.starts_with(level.as_str()) {
                line = format!("{timestamp} {}: {message}", level.as_str());
            }
            append_text_fields(&mut line, fields);
            line
        }
        Format::Json => {
            let mut object = Map::new();
            object.insert("timestamp".into(), timestamp.into());
            object.insert("level".into(), level.as_str().into());
            object.insert("message".into(), message.into());
            insert_json_fields(&mut object, fields);
            Value::Object(object).to_string()
        }
    }
}

fn append_text_fields(line: &mut String, fields: &[(&str, FieldValue)]) {
    for (name, value) in fields {
        match value {
            FieldValue::Number(n) => line.push_str(&format!(" {name}={n}")),
            FieldValue::Text(t) if t.contains(char::is_whitespace) || t.is_empty() => {
                line.push_str(&format!(" {name}={t:?}"))
            }
            FieldValue::Text(t) => line.push_str(&format!(" {name}={t}")),
        }
    }
}

fn insert_json_fields(object: &mut Map<String, Value>, fields: &[(&str, FieldValue)]) {
    for (name, value) in fields {
        let value = match value {
            FieldValue::Text(t) => Value::from(t.as_str()),
            FieldValue::Number(n) => Value::from(*n),
        };
        object.insert((*name).to_string(), value);
    }
}

/// One `write` of the whole line, so lines of concurrent threads never interleave.
fn write_line(line: &str) {
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    let _ = std::io::stderr().lock().write_all(&bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Access<'static> {
        Access {
            server: "api",
            method: "GET",
            route: "/v1/posts/{id}",
            status: 200,
            duration: Duration::from_millis(12),
            request_id: "req-1",
            app_id: Some("app_1"),
            peer: None,
            refused: None,
        }
    }

    #[test]
    fn a_json_access_line_carries_every_field() {
        let line = render_access(Format::Json, &sample());
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["level"], "info");
        assert_eq!(value["request_id"], "req-1");
        assert_eq!(value["method"], "GET");
        assert_eq!(value["route"], "/v1/posts/{id}");
        assert_eq!(value["status"], 200);
        assert_eq!(value["duration_ms"], 12);
        assert_eq!(value["app_id"], "app_1");
        assert!(value["timestamp"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn a_text_access_line_keeps_its_old_shape() {
        let line = render_access(Format::Text, &sample());
        let rest = line.split_once(' ').unwrap().1;
        assert_eq!(
            rest,
            "api GET /v1/posts/{id} 200 12ms rid=req-1 app_id=app_1"
        );
    }

    #[test]
    fn json_lines_escape_what_they_carry() {
        let line = render(
            Format::Json,
            Level::Warn,
            "a \"quoted\"\nmessage",
            &[("n", 3u64.into())],
        );
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["message"], "a \"quoted\"\nmessage");
        assert_eq!(value["level"], "warn");
        assert_eq!(value["n"], 3);
        assert!(!line.contains('\n'));
    }

    #[test]
    fn formats_parse_from_the_setting() {
        assert_eq!("JSON".parse::<Format>(), Ok(Format::Json));
        assert_eq!("text".parse::<Format>(), Ok(Format::Text));
        assert!("yaml".parse::<Format>().is_err());
    }
}
