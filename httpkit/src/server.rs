//! The tiny_http worker pool: a fixed number of handler threads, request limits (body size,
//! header size, head deadline, per-read timeout, connections per address), request ids, one
//! access-log line per request, panics turned into 500s, `HEAD` and `OPTIONS` for every route,
//! and a shutdown that lets requests in flight finish.
//!
//! The connection-level rules (deadlines, idle keep-alive close, connection caps, an accept loop
//! that never exits) live in our patched tiny_http (`vendor/tiny_http/PATCHED.md`); this module
//! sets them and gives every refusal down there the API's JSON error shape and a log line. It
//! answers its own refusals (headers or body too large, a body not read in time, a panicking
//! handler) in the same shape, so it needs nothing of the appliance's error type.

use super::{Request, Response, error_body, new_request_id, split_target};
use crate::clock::format_timestamp;
use std::io::Read;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub name: &'static str,
    pub threads: usize,
    pub max_body_bytes: usize,
    pub max_header_bytes: usize,
    /// Each read of a body and each write of a response; a client that stalls longer is dropped.
    pub io_timeout: Duration,
    /// The request line and headers must arrive within this time from their first byte.
    pub head_timeout: Duration,
    /// An idle keep-alive connection is closed after this long (announced in `Keep-Alive`).
    pub keep_alive: Duration,
    /// Connections open at once (lowered to what the open-file limit allows).
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub max_connections_per_ip: usize,
    /// Reverse proxies: exempt from the per-address cap, since they carry many clients.
    pub trusted_proxies: Vec<IpAddr>,
    pub access_log: bool,
}

impl ServerOptions {
    /// The defaults of `serve` for a server named `name` (tests and the simulator adjust them).
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            threads: 8,
            max_body_bytes: 1024 * 1024,
            max_header_bytes: 16 * 1024,
            io_timeout: Duration::from_secs(10),
            head_timeout: Duration::from_secs(10),
            keep_alive: Duration::from_secs(5),
            max_connections: 4096,
            max_connections_per_ip: 256,
            trusted_proxies: Vec::new(),
            access_log: true,
        }
    }
}

pub struct ServerHandle {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    server: Arc<tiny_http::Server>,
    workers: Vec<JoinHandle<()>>,
}

impl ServerHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops taking requests, lets the ones in flight finish, and joins the workers.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for _ in 0..self.workers.len() {
            self.server.unblock();
        }
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
        // Keep-alive clients learn at once that this server is gone.
        self.server.close_idle_connections();
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if !self.workers.is_empty() {
            self.stop_and_join();
        }
    }
}

/// Serves `handler` on `listener` with `options.threads` workers.
pub fn serve(
    listener: TcpListener,
    options: ServerOptions,
    handler: Handler,
) -> std::io::Result<ServerHandle> {
    let addr = listener.local_addr()?;
    let policy = tiny_http::ConnectionPolicy {
        head_timeout: options.head_timeout,
        idle_timeout: options.keep_alive,
        io_timeout: options.io_timeout,
        max_connections: connection_budget(options.max_connections),
        max_connections_per_ip: options.max_connections_per_ip.max(1),
        unlimited_ips: options.trusted_proxies.clone(),
        observer: Arc::new(Refusals {
            name: options.name,
            access_log: options.access_log,
            accept_errors: AcceptErrorLog::default(),
        }),
    };
    let server = tiny_http::Server::from_listener_with_policy(listener, policy)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let server = Arc::new(server);
    let stop = Arc::new(AtomicBool::new(false));
    let options = Arc::new(options);
    let workers = (0..options.threads.max(1))
        .map(|n| {
            let (server, stop, options, handler) = (
                server.clone(),
                stop.clone(),
                options.clone(),
                handler.clone(),
            );
            std::thread::Builder::new()
                .name(format!("{}-http-{n}", options.name))
                .spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        // tiny_http's accept loop never ends while the server lives, so an
                        // error here is only the wake-up of `shutdown`.
                        if let Ok(request) = server.recv() {
                            handle_one(request, &options, &handler);
                        }
                    }
                })
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    Ok(ServerHandle {
        addr,
        stop,
        server,
        workers,
    })
}

/// Connections the server may hold: the setting, lowered so that a quarter of the open-file
/// limit stays free for the database, outgoing calls and media files.
fn connection_budget(wanted: usize) -> usize {
    let soft_limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3)?.parse::<usize>().ok())
        });
    match soft_limit {
        Some(limit) => wanted.min((limit * 3 / 4).max(8)),
        None => wanted,
    }
}

/// Gives the requests tiny_http refuses itself (malformed, too slow, over a limit, unanswered
/// at shutdown) the API's error shape and an access-log line, and logs accept errors.
struct Refusals {
    name: &'static str,
    access_log: bool,
    accept_errors: AcceptErrorLog,
}

impl tiny_http::Observer for Refusals {
    fn rejected(&self, rejection: &tiny_http::Rejection) -> (Vec<u8>, String) {
        let request_id = new_request_id();
        let body = error_body(rejection.status, rejection.code, &rejection.message);
        if self.access_log {
            eprintln!(
                "{} {} {} {} 0ms rid={request_id} peer={} refused={}",
                format_timestamp(chrono::Utc::now()),
                self.name,
                rejection.request_line.as_deref().unwrap_or("-"),
                rejection.status,
                rejection
                    .remote_addr
                    .map_or_else(|| "-".to_string(), |a| a.to_string()),
                rejection.code,
            );
        }
        (
            serde_json::to_vec(&body).expect("a JSON value always serializes"),
            "application/json; charset=utf-8".to_string(),
        )
    }

    fn accept_error(&self, error: &std::io::Error) {
        self.accept_errors.record(self.name, error);
    }
}

/// Counts accept errors and logs them at most once a second, with how many there were.
#[derive(Default)]
struct AcceptErrorLog {
    since_last_line: AtomicU64,
    last_line: Mutex<Option<Instant>>,
}

impl AcceptErrorLog {
    fn record(&self, name: &str, error: &std::io::Error) {
        let count = self.since_last_line.fetch_add(1, Ordering::Relaxed) + 1;
        let mut last = self.last_line.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|at| at.elapsed() < Duration::from_secs(1)) {
            return;
        }
        *last = Some(Instant::now());
        self.since_last_line.store(0, Ordering::Relaxed);
        eprintln!(
            "{name}: accept failed {count} time(s) in the last second, last error: {error}; still accepting"
        );
    }
}

fn valid_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

fn handle_one(mut raw: tiny_http::Request, options: &ServerOptions, handler: &Handler) {
    let started = Instant::now();
    let headers: Vec<(String, String)> = raw
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_string(),
                h.value.as_str().to_string(),
            )
        })
        .collect();
    let request_id = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("x-request-id"))
        .map(|(_, v)| v.clone())
        .filter(|id| valid_request_id(id))
        .unwrap_or_else(new_request_id);
    let method = raw.method().as_str().to_ascii_uppercase();
    // HEAD is GET without the body (tiny_http leaves the body out for a HEAD request).
    let routed_method = if method == "HEAD" {
        "GET".to_string()
    } else {
        method.clone()
    };
    let (path, query) = split_target(raw.url());
    let header_bytes: usize = headers
        .iter()
        .map(|(n, v)| n.len() + v.len() + 4)
        .sum::<usize>()
        + raw.url().len();

    let response = if header_bytes > options.max_header_bytes {
        Refusal::new(
            431,
            "HEADERS_TOO_LARGE",
            format!(
                "The request line and headers take {header_bytes} bytes; the limit is {}.",
                options.max_header_bytes
            ),
        )
        .response(&request_id)
    } else {
        match read_body(&mut raw, options.max_body_bytes) {
            Err(refusal) => refusal.response(&request_id),
            Ok(body) => {
                let request = Request {
                    method: routed_method,
                    path: path.clone(),
                    query,
                    headers,
                    body,
                    remote_addr: raw.remote_addr().copied(),
                    request_id: request_id.clone(),
                };
                catch_unwind(AssertUnwindSafe(|| handler(&request))).unwrap_or_else(|_| {
                    Refusal::new(
                        500,
                        "INTERNAL_ERROR",
                        "Something went wrong on our side. Retry later; if it persists, report the request id.",
                    )
                    .with_cause(format!("handler panicked on {method} {path}"))
                    .response(&request_id)
                })
            }
        }
    };

    let response = if method == "OPTIONS" {
        options_answer(response)
    } else {
        response
    };
    let status = response.status;
    let mut out = tiny_http::Response::from_data(response.body).with_status_code(status);
    let keep_alive = format!("timeout={}", options.keep_alive.as_secs().max(1));
    for (name, value) in response.headers.iter().chain([
        &("X-Request-Id".to_string(), request_id.clone()),
        &("Keep-Alive".to_string(), keep_alive),
    ]) {
        if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            out.add_header(header);
        }
    }
    let _ = raw.respond(out);
    if options.access_log {
        eprintln!(
            "{} {} {method} {path} {status} {}ms rid={request_id}",
            format_timestamp(chrono::Utc::now()),
            options.name,
            started.elapsed().as_millis(),
        );
    }
}

/// `OPTIONS` on any route: the routers answer an unknown method with 405 and `Allow`, which
/// is exactly what `OPTIONS` asks for, so a 405 with `Allow` becomes 204 with it.
fn options_answer(response: Response) -> Response {
    match (response.status, response.header("allow")) {
        (405, Some(allow)) => Response::no_content().with_header("Allow", allow),
        _ => response,
    }
}

/// An answer the server gives itself, before or instead of the handler, in the error shape
/// of every surface; its cause goes only to the log, with the request id.
struct Refusal {
    status: u16,
    code: &'static str,
    message: String,
    cause: Option<String>,
}

impl Refusal {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            cause: None,
        }
    }

    fn with_cause(mut self, cause: String) -> Self {
        self.cause = Some(cause);
        self
    }

    fn response(&self, request_id: &str) -> Response {
        if let Some(cause) = &self.cause {
            eprintln!(
                "error request_id={request_id} code={} cause={cause}",
                self.code
            );
        }
        Response::json(
            self.status,
            &error_body(self.status, self.code, &self.message),
        )
    }
}

fn read_body(raw: &mut tiny_http::Request, limit: usize) -> Result<Vec<u8>, Refusal> {
    let too_large = || {
        Refusal::new(
            413,
            "PAYLOAD_TOO_LARGE",
            format!("The request body is larger than the limit of {limit} bytes; send less."),
        )
    };
    if let Some(len) = raw.body_length()
        && len > limit
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    raw.as_reader()
        .take(limit as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| {
            Refusal::new(
                400,
                "BODY_READ_FAILED",
                "The request body could not be read completely before the timeout.",
            )
            .with_cause(format!("reading body: {e}"))
        })?;
    if body.len() > limit {
        return Err(too_large());
    }
    Ok(body)
}
