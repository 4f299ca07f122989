//! The tiny_http worker pool: a fixed number of handler threads, request limits (body size,
//! header size, read timeout), request ids, one access-log line per request, panics turned into
//! 500s, recovery from accept errors, and a shutdown that lets requests in flight finish.
//!
//! tiny_http alone has no timeouts and gives up for good on an accept error (see
//! `../shared/design/SERVER-NOTES.md`); both are handled here rather than in every handler.

use super::{Request, Response, error_response, split_target};
use crate::error::{Error, ErrorKind};
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub name: &'static str,
    pub threads: usize,
    pub max_body_bytes: usize,
    pub max_header_bytes: usize,
    /// Applies to every read and write on a connection; a client that stalls longer is dropped.
    pub io_timeout: Duration,
    pub access_log: bool,
}

pub struct ServerHandle {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    current: Arc<RwLock<Arc<tiny_http::Server>>>,
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
        let server = self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for _ in 0..self.workers.len() {
            server.unblock();
        }
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
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
    // Accepted sockets inherit these timeouts from the listening socket on Linux, which is
    // the only way to give tiny_http's connections a read timeout.
    let sock = socket2::SockRef::from(&listener);
    sock.set_read_timeout(Some(options.io_timeout))?;
    sock.set_write_timeout(Some(options.io_timeout))?;
    let addr = listener.local_addr()?;
    let spare = listener.try_clone()?;
    let server = tiny_http::Server::from_listener(listener, None)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let current = Arc::new(RwLock::new(Arc::new(server)));
    let stop = Arc::new(AtomicBool::new(false));
    let spare = Arc::new(spare);
    let options = Arc::new(options);
    let mut workers = (0..options.threads.max(1))
        .map(|n| {
            let (current, stop, spare, options, handler) = (
                current.clone(),
                stop.clone(),
                spare.clone(),
                options.clone(),
                handler.clone(),
            );
            std::thread::Builder::new()
                .name(format!("{}-http-{n}", options.name))
                .spawn(move || worker_loop(&current, &stop, &spare, &options, &handler))
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    let (watch_current, watch_stop, watch_spare, watch_options) = (
        current.clone(),
        stop.clone(),
        spare.clone(),
        options.clone(),
    );
    workers.push(
        std::thread::Builder::new()
            .name(format!("{}-accept-watchdog", options.name))
            .spawn(move || {
                accept_watchdog(
                    addr.port(),
                    &watch_current,
                    &watch_stop,
                    &watch_spare,
                    &watch_options,
                )
            })?,
    );
    Ok(ServerHandle {
        addr,
        stop,
        current,
        workers,
    })
}

fn worker_loop(
    current: &RwLock<Arc<tiny_http::Server>>,
    stop: &AtomicBool,
    spare: &TcpListener,
    options: &ServerOptions,
    handler: &Handler,
) {
    while !stop.load(Ordering::SeqCst) {
        let server = current.read().unwrap_or_else(|e| e.into_inner()).clone();
        match server.recv() {
            Ok(request) => handle_one(request, options, handler),
            Err(e) => {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let replaced =
                    !Arc::ptr_eq(&current.read().unwrap_or_else(|e| e.into_inner()), &server);
                if replaced {
                    continue; // woken up to move to the fresh server
                }
                // tiny_http's accept thread has died (EMFILE, ECONNABORTED, ...). Start a
                // fresh server on a duplicate of the same listening socket and wake the other
                // workers so they move to it. While descriptors are exhausted even the
                // duplicate fails, so keep trying: going back to the dead server would block
                // this worker forever.
                eprintln!(
                    "{}: accept failed ({e}); restarting the listener",
                    options.name
                );
                while !stop.load(Ordering::SeqCst)
                    && !restart_listener(current, &server, spare, options.threads)
                {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }
}

/// tiny_http's accept thread can also die without a word: it unwraps the duplication of each
/// accepted socket, which panics when file descriptors run out. A living accept thread drains
/// the kernel's accept queue at once, so a queue that stays non-empty for two seconds means
/// nobody is accepting: start a fresh server on the same socket.
fn accept_watchdog(
    port: u16,
    current: &RwLock<Arc<tiny_http::Server>>,
    stop: &AtomicBool,
    spare: &TcpListener,
    options: &ServerOptions,
) {
    let mut stuck_checks = 0;
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(250));
        if accept_backlog(port).unwrap_or(0) == 0 {
            stuck_checks = 0;
            continue;
        }
        stuck_checks += 1;
        if stuck_checks >= 8 {
            stuck_checks = 0;
            let server = current.read().unwrap_or_else(|e| e.into_inner()).clone();
            eprintln!(
                "{}: connections are waiting but none is accepted; restarting the listener",
                options.name
            );
            restart_listener(current, &server, spare, options.threads);
        }
    }
}

/// Connections waiting in the accept queue of the listening socket on `port`, from
/// `/proc/net/tcp{,6}` (the `rx_queue` of a socket in state LISTEN). `None` off Linux.
fn accept_backlog(port: u16) -> Option<u64> {
    let wanted = format!("{port:04X}");
    let mut found = None;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(queues)) =
                (fields.get(1), fields.get(3), fields.get(4))
            else {
                continue;
            };
            if *state != "0A" || local.rsplit(':').next() != Some(wanted.as_str()) {
                continue;
            }
            let rx = queues
                .split(':')
                .nth(1)
                .and_then(|q| u64::from_str_radix(q, 16).ok())?;
            found = Some(found.unwrap_or(0) + rx);
        }
    }
    found
}

fn restart_listener(
    current: &RwLock<Arc<tiny_http::Server>>,
    dead: &Arc<tiny_http::Server>,
    spare: &TcpListener,
    threads: usize,
) -> bool {
    let mut slot = current.write().unwrap_or_else(|e| e.into_inner());
    if !Arc::ptr_eq(&slot, dead) {
        return true; // another worker already replaced it
    }
    let fresh = spare
        .try_clone()
        .map_err(|e| e.to_string())
        .and_then(|l| tiny_http::Server::from_listener(l, None).map_err(|e| e.to_string()));
    match fresh {
        Ok(server) => {
            *slot = Arc::new(server);
            for _ in 0..threads {
                dead.unblock();
            }
            true
        }
        Err(e) => {
            eprintln!("restarting the listener failed: {e}; will retry");
            false
        }
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
        .unwrap_or_else(crate::crypto::new_id);
    let method = raw.method().as_str().to_ascii_uppercase();
    let (path, query) = split_target(raw.url());
    let header_bytes: usize = headers
        .iter()
        .map(|(n, v)| n.len() + v.len() + 4)
        .sum::<usize>()
        + raw.url().len();

    let response = if header_bytes > options.max_header_bytes {
        error_response(
            &Error::new(
                ErrorKind::HeadersTooLarge,
                "HEADERS_TOO_LARGE",
                format!(
                    "The request line and headers take {header_bytes} bytes; the limit is {}.",
                    options.max_header_bytes
                ),
            ),
            &request_id,
        )
    } else {
        match read_body(&mut raw, options.max_body_bytes) {
            Err(err) => error_response(&err, &request_id),
            Ok(body) => {
                let request = Request {
                    method: method.clone(),
                    path: path.clone(),
                    query,
                    headers,
                    body,
                    remote_addr: raw.remote_addr().copied(),
                    request_id: request_id.clone(),
                };
                catch_unwind(AssertUnwindSafe(|| handler(&request))).unwrap_or_else(|_| {
                    error_response(
                        &Error::internal(format!("handler panicked on {method} {path}")),
                        &request_id,
                    )
                })
            }
        }
    };

    let status = response.status;
    let mut out = tiny_http::Response::from_data(response.body).with_status_code(status);
    for (name, value) in response.headers.iter().chain(std::iter::once(&(
        "X-Request-Id".to_string(),
        request_id.clone(),
    ))) {
        if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            out.add_header(header);
        }
    }
    let _ = raw.respond(out);
    if options.access_log {
        eprintln!(
            "{} {} {method} {path} {status} {}ms rid={request_id}",
            crate::clock::format_timestamp(chrono::Utc::now()),
            options.name,
            started.elapsed().as_millis(),
        );
    }
}

fn read_body(raw: &mut tiny_http::Request, limit: usize) -> Result<Vec<u8>, Error> {
    let too_large = || {
        Error::new(
            ErrorKind::PayloadTooLarge,
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
            Error::new(
                ErrorKind::Validation,
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
