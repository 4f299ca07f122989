//! The HTTP glue the appliance and the platform simulator share: the request and response
//! types, query, form and percent-encoding helpers, the one error body every server of the
//! workspace answers with (`{"message","error","statusCode","code"}`), the tiny_http worker pool
//! (`server`) and the injected clock (`clock`).
//!
//! It knows nothing about posts, tokens or platforms, and nothing of either crate that uses it:
//! the appliance keeps its own error-to-response mapping, the simulator its own errors.

pub mod clock;
pub mod server;

use serde_json::Value;
use std::net::SocketAddr;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path as sent (still percent-encoded), without the query string.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub remote_addr: Option<SocketAddr>,
    pub request_id: String,
}

impl Request {
    pub fn new(method: &str, target: &str) -> Self {
        let (path, query) = split_target(target);
        Self {
            method: method.to_ascii_uppercase(),
            path,
            query,
            headers: Vec::new(),
            body: Vec::new(),
            remote_addr: None,
            request_id: new_request_id(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Percent-decoded path segments after `prefix`, or `None` when the path does not start
    /// with it. Decoding per segment keeps an encoded `/` (`%2F`) inside its segment.
    pub fn segments_after(&self, prefix: &str) -> Option<Vec<String>> {
        let rest = self.path.strip_prefix(prefix)?;
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        Some(
            rest.split('/')
                .filter(|s| !s.is_empty())
                .map(percent_decode)
                .collect(),
        )
    }

    /// The body as JSON, or why it is not: each server maps a `BodyError` to its own error.
    pub fn json_value(&self) -> Result<Value, BodyError> {
        if self.body.is_empty() {
            return Err(BodyError::Empty);
        }
        serde_json::from_slice(&self.body).map_err(|e| BodyError::InvalidJson(e.to_string()))
    }

    /// The body as `application/x-www-form-urlencoded` pairs.
    pub fn form(&self) -> Vec<(String, String)> {
        parse_query(&String::from_utf8_lossy(&self.body))
    }

    /// Bearer token from `Authorization`, if present and well formed.
    pub fn bearer_token(&self) -> Option<&str> {
        let value = self.header("authorization")?.trim();
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty())
    }
}

pub fn form_value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn json(status: u16, value: &Value) -> Self {
        let body = serde_json::to_vec(value).expect("a JSON value always serializes");
        Self::new(status)
            .with_header("Content-Type", "application/json; charset=utf-8")
            .with_body(body)
    }

    pub fn html(status: u16, body: String) -> Self {
        Self::new(status)
            .with_header("Content-Type", "text/html; charset=utf-8")
            .with_header("Cache-Control", "no-store")
            .with_header(
                "Content-Security-Policy",
                "default-src 'self'; style-src 'self' 'unsafe-inline'; form-action *; frame-ancestors 'none'",
            )
            .with_body(body.into_bytes())
    }

    /// 302 to `location`: what browsers follow after an OAuth step.
    pub fn redirect(location: &str) -> Self {
        Self::new(302)
            .with_header("Location", location)
            .with_header("Cache-Control", "no-store")
    }

    pub fn no_content() -> Self {
        Self::new(204)
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn with_body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request body is not the JSON it should be.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyError {
    /// Nothing was sent.
    Empty,
    /// Not JSON; the parser's explanation.
    InvalidJson(String),
}

impl BodyError {
    /// What the caller is told, naming the problem and the fix.
    pub fn message(&self) -> String {
        match self {
            BodyError::Empty => {
                "The request body is empty; send a JSON object with Content-Type: application/json."
                    .into()
            }
            BodyError::InvalidJson(e) => {
                format!("The request body is not valid JSON ({e}); send a JSON object.")
            }
        }
    }

    /// The error code the servers answer it with.
    pub fn code(&self) -> &'static str {
        match self {
            BodyError::Empty => "VALIDATION_FAILED",
            BodyError::InvalidJson(_) => "INVALID_JSON",
        }
    }
}

/// A fresh request id (a UUID v4), for requests that bring no usable `X-Request-Id`.
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The reason phrase the error bodies carry in `error`.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        417 => "Expectation Failed",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

/// The one error shape of the workspace's servers: `{"message","error","statusCode","code"}`.
pub fn error_body(status: u16, code: &str, message: &str) -> Value {
    serde_json::json!({
        "message": message,
        "error": reason_phrase(status),
        "statusCode": status,
        "code": code,
    })
}

/// The `Allow` header for a resource that accepts `allowed`: `HEAD` comes with `GET`, and
/// `OPTIONS` is everywhere, as RFC 9110 wants it.
pub fn allow_header(allowed: &[&str]) -> String {
    let mut methods: Vec<&str> = allowed.to_vec();
    if methods.contains(&"GET") && !methods.contains(&"HEAD") {
        methods.push("HEAD");
    }
    if !methods.contains(&"OPTIONS") {
        methods.push("OPTIONS");
    }
    methods.join(", ")
}

pub fn split_target(target: &str) -> (String, Vec<(String, String)>) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    (path.to_string(), parse_query(query))
}

pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(v) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn encode_query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Appends query pairs to a URL that may already carry a query string.
pub fn append_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{}", encode_query(pairs))
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_round_trips_through_encoding() {
        let url = append_query(
            "https://a.example/cb?x=1",
            &[("state", "a b&c"), ("e", "é")],
        );
        let (_, pairs) = split_target(url.split_once("a.example").unwrap().1);
        assert_eq!(pairs[1], ("state".into(), "a b&c".into()));
        assert_eq!(pairs[2], ("e".into(), "é".into()));
    }

    #[test]
    fn segments_require_a_boundary() {
        let req = Request::new("GET", "/v1/posts/abc");
        assert_eq!(
            req.segments_after("/v1/posts"),
            Some(vec!["abc".to_string()])
        );
        let encoded = Request::new("GET", "/v1/end-users/a%2Fb%20c/connections");
        assert_eq!(
            encoded.segments_after("/v1/end-users").unwrap(),
            vec!["a/b c", "connections"]
        );
        assert_eq!(req.segments_after("/v1/post"), None);
    }
}
