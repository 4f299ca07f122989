//! Patched in for mypostshare: per-connection deadlines, connection limits, and the observer
//! that turns every refusal into a response the embedding server chose (see PATCHED.md).
//!
//! Upstream tiny_http 0.12 has no read timeouts of its own and no bound on connections; the
//! only way to time out a connection was `SO_RCVTIMEO` on the listening socket, which on Linux
//! also makes `accept()` fail with EAGAIN (upstream #220, #283).

use std::collections::HashMap;
use std::io::{Error as IoError, ErrorKind};
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::connection::Connection;

/// How the server treats each accepted connection.
#[derive(Clone)]
pub struct ConnectionPolicy {
    /// The request line and headers must arrive within this time from their first byte (on a
    /// fresh connection: from the accept), however the bytes trickle in.
    pub head_timeout: Duration,
    /// A kept-alive connection waiting for its next request is closed (without a response)
    /// after this long.
    pub idle_timeout: Duration,
    /// Each read of a request body and each write of a response.
    pub io_timeout: Duration,
    /// Connections open at once; beyond it the oldest idle one is closed to make room, or the
    /// new one is refused (503) when none is idle.
    pub max_connections: usize,
    /// Connections open at once from one client address (429 beyond it).
    pub max_connections_per_ip: usize,
    /// Addresses exempt from the per-address cap: reverse proxies that carry many clients.
    pub unlimited_ips: Vec<IpAddr>,
    /// Told of every refusal and accept error.
    pub observer: Arc<dyn Observer>,
}

/// A request the server answered itself, before any handler saw it.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub status: u16,
    /// A stable machine-readable reason, e.g. `HEAD_TIMEOUT`.
    pub code: &'static str,
    pub message: String,
    pub remote_addr: Option<SocketAddr>,
    /// Method and target when the request line could be read.
    pub request_line: Option<String>,
}

/// The embedding server's view of what happens below it.
pub trait Observer: Send + Sync {
    /// Returns the body and `Content-Type` of the answer to a refused request, and may log it.
    fn rejected(&self, rejection: &Rejection) -> (Vec<u8>, String);
    /// An `accept()` failed; the loop goes on (after a pause when descriptors ran out).
    fn accept_error(&self, error: &IoError);
}

/// An observer that answers with a plain-text reason and logs nothing.
pub struct PlainObserver;

impl Observer for PlainObserver {
    fn rejected(&self, rejection: &Rejection) -> (Vec<u8>, String) {
        (
            rejection.message.clone().into_bytes(),
            "text/plain; charset=utf-8".to_string(),
        )
    }
    fn accept_error(&self, _: &IoError) {}
}

impl ConnectionPolicy {
    /// Upstream's behaviour: no timeouts, no limits.
    pub fn unlimited() -> Self {
        let forever = Duration::from_secs(u32::MAX as u64);
        ConnectionPolicy {
            head_timeout: forever,
            idle_timeout: forever,
            io_timeout: forever,
            max_connections: usize::MAX,
            max_connections_per_ip: usize::MAX,
            unlimited_ips: Vec::new(),
            observer: Arc::new(PlainObserver),
        }
    }
}

/// What the next socket read of a connection is for, which decides its timeout.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Phase {
    /// Waiting for the first byte of a request; the connection is idle until then.
    Waiting { until: Instant },
    /// Reading the request line and headers.
    Head { until: Instant },
    /// Reading a body: each read may take up to the I/O timeout.
    Body,
}

/// The read deadline of one connection, shared by the socket reader and the request parser.
pub(crate) struct Deadline {
    phase: Mutex<Phase>,
    io_timeout: Duration,
}

impl Deadline {
    pub(crate) fn new(phase: Phase, io_timeout: Duration) -> Self {
        Deadline {
            phase: Mutex::new(phase),
            io_timeout,
        }
    }

    pub(crate) fn set(&self, phase: Phase) {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) = phase;
    }

    pub(crate) fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The timeout for the next read, or `TimedOut` when the phase's deadline has passed.
    pub(crate) fn next_read_timeout(&self) -> Result<Duration, IoError> {
        let until = match self.phase() {
            Phase::Body => return Ok(self.io_timeout),
            Phase::Waiting { until } | Phase::Head { until } => until,
        };
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(IoError::new(ErrorKind::TimedOut, "deadline passed"))
        } else {
            Ok(left)
        }
    }
}

struct Entry {
    ip: Option<IpAddr>,
    /// Since when the connection waits for a request; `None` while one is being served.
    idle_since: Option<Instant>,
    connection: Arc<Connection>,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    live: HashMap<u64, Entry>,
    per_ip: HashMap<IpAddr, usize>,
}

/// Every open connection, so that limits can be enforced and idle ones closed first.
#[derive(Default)]
pub(crate) struct Registry {
    table: Mutex<Table>,
}

/// Why a new connection was not admitted.
pub(crate) enum Refusal {
    PerAddress(usize),
    Full(usize),
    /// Patched: admitted, but the system refused a thread to serve it.
    NoThread,
}

/// A live connection's place in the registry; dropping it frees the place.
pub(crate) struct Registration {
    registry: Arc<Registry>,
    id: u64,
}

impl Registration {
    pub(crate) fn set_idle(&self, idle: bool) {
        let mut table = self.registry.lock();
        if let Some(entry) = table.live.get_mut(&self.id) {
            entry.idle_since = if idle { Some(Instant::now()) } else { None };
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut table = self.registry.lock();
        if let Some(entry) = table.live.remove(&self.id) {
            if let Some(ip) = entry.ip {
                if let Some(n) = table.per_ip.get_mut(&ip) {
                    *n -= 1;
                    if *n == 0 {
                        table.per_ip.remove(&ip);
                    }
                }
            }
        }
    }
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits a fresh connection (idle until its first byte), making room by closing the
    /// oldest idle connection when the server is full.
    pub(crate) fn admit(
        self: &Arc<Self>,
        connection: Arc<Connection>,
        ip: Option<IpAddr>,
        policy: &ConnectionPolicy,
    ) -> Result<Registration, Refusal> {
        let mut table = self.lock();
        if let Some(ip) = ip {
            let from_ip = table.per_ip.get(&ip).copied().unwrap_or(0);
            if from_ip >= policy.max_connections_per_ip && !policy.unlimited_ips.contains(&ip) {
                return Err(Refusal::PerAddress(policy.max_connections_per_ip));
            }
        }
        if table.live.len() >= policy.max_connections && close_oldest_idle(&mut table, 1) == 0 {
            return Err(Refusal::Full(policy.max_connections));
        }
        let id = table.next_id;
        table.next_id += 1;
        table.live.insert(
            id,
            Entry {
                ip,
                idle_since: Some(Instant::now()),
                connection,
            },
        );
        if let Some(ip) = ip {
            *table.per_ip.entry(ip).or_insert(0) += 1;
        }
        Ok(Registration {
            registry: self.clone(),
            id,
        })
    }

    /// Closes up to `count` idle connections, oldest first; returns how many.
    pub(crate) fn close_idle(&self, count: usize) -> usize {
        close_oldest_idle(&mut self.lock(), count)
    }

    pub(crate) fn idle_count(&self) -> usize {
        self.lock()
            .live
            .values()
            .filter(|e| e.idle_since.is_some())
            .count()
    }
}

/// Shutting the socket down wakes its connection thread (the read returns end of stream), which
/// then drops the connection and frees its descriptor and its place.
fn close_oldest_idle(table: &mut Table, count: usize) -> usize {
    let mut idle: Vec<(Instant, u64)> = table
        .live
        .iter()
        .filter_map(|(id, e)| e.idle_since.map(|since| (since, *id)))
        .collect();
    idle.sort();
    let mut closed = 0;
    for (_, id) in idle.into_iter().take(count) {
        if let Some(entry) = table.live.get_mut(&id) {
            let _ = entry.connection.shutdown(Shutdown::Both);
            // No longer idle: it is closing, and must not be counted twice.
            entry.idle_since = None;
            closed += 1;
        }
    }
    closed
}
