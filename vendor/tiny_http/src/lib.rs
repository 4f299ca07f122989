//! # Simple usage
//!
//! ## Creating the server
//!
//! The easiest way to create a server is to call `Server::http()`.
//!
//! The `http()` function returns an `IoResult<Server>` which will return an error
//! in the case where the server creation fails (for example if the listening port is already
//! occupied).
//!
//! ```no_run
//! let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//! ```
//!
//! A newly-created `Server` will immediately start listening for incoming connections and HTTP
//! requests.
//!
//! ## Receiving requests
//!
//! Calling `server.recv()` will block until the next request is available.
//! This function returns an `IoResult<Request>`, so you need to handle the possible errors.
//!
//! ```no_run
//! # let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//!
//! loop {
//!     // blocks until the next request is received
//!     let request = match server.recv() {
//!         Ok(rq) => rq,
//!         Err(e) => { println!("error: {}", e); break }
//!     };
//!
//!     // do something with the request
//!     // ...
//! }
//! ```
//!
//! In a real-case scenario, you will probably want to spawn multiple worker tasks and call
//! `server.recv()` on all of them. Like this:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use std::thread;
//! # let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//! let server = Arc::new(server);
//! let mut guards = Vec::with_capacity(4);
//!
//! for _ in (0 .. 4) {
//!     let server = server.clone();
//!
//!     let guard = thread::spawn(move || {
//!         loop {
//!             let rq = server.recv().unwrap();
//!
//!             // ...
//!         }
//!     });
//!
//!     guards.push(guard);
//! }
//! ```
//!
//! If you don't want to block, you can call `server.try_recv()` instead.
//!
//! ## Handling requests
//!
//! The `Request` object returned by `server.recv()` contains informations about the client's request.
//! The most useful methods are probably `request.method()` and `request.url()` which return
//! the requested method (`GET`, `POST`, etc.) and url.
//!
//! To handle a request, you need to create a `Response` object. See the docs of this object for
//! more infos. Here is an example of creating a `Response` from a file:
//!
//! ```no_run
//! # use std::fs::File;
//! # use std::path::Path;
//! let response = tiny_http::Response::from_file(File::open(&Path::new("image.png")).unwrap());
//! ```
//!
//! All that remains to do is call `request.respond()`:
//!
//! ```no_run
//! # use std::fs::File;
//! # use std::path::Path;
//! # let server = tiny_http::Server::http("0.0.0.0:0").unwrap();
//! # let request = server.recv().unwrap();
//! # let response = tiny_http::Response::from_file(File::open(&Path::new("image.png")).unwrap());
//! let _ = request.respond(response);
//! ```
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]
#![allow(clippy::match_like_matches_macro)]


use std::error::Error;
use std::io::Error as IoError;
use std::io::ErrorKind as IoErrorKind;
use std::io::Result as IoResult;
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use client::ClientConnection;
use connection::Connection;
use limits::{Refusal, Registry};
use util::{MessagesQueue, RefinedTcpStream};

pub use common::{HTTPVersion, Header, HeaderField, Method, StatusCode};
pub use connection::{ConfigListenAddr, ListenAddr, Listener};
pub use limits::{ConnectionPolicy, Observer, PlainObserver, Rejection};
pub use request::{ReadWrite, Request};
pub use response::{Response, ResponseBox};
pub use test::TestRequest;

mod client;
mod limits;
mod common;
mod connection;
mod request;
mod response;
mod test;
mod util;

/// The main class of this library.
///
/// Destroying this object will immediately close the listening socket and the reading
///  part of all the client's connections. Requests that have already been returned by
///  the `recv()` function will not close and the responses will be transferred to the client.
pub struct Server {
    // should be false as long as the server exists
    // when set to true, all the subtasks will close within a few hundreds ms
    close: Arc<AtomicBool>,

    // queue for messages received by child threads
    messages: Arc<MessagesQueue<Message>>,

    // result of TcpListener::local_addr()
    listening_addr: ListenAddr,

    // Patched: the open connections, so that idle ones can be closed at shutdown.
    registry: Arc<Registry>,
}

/// Patched: the accept loop. It ends only when the server is dropped.
fn accept_loop(
    listener: &Listener,
    policy: &Arc<ConnectionPolicy>,
    registry: &Arc<Registry>,
    close: &AtomicBool,
    messages: &Arc<MessagesQueue<Message>>,
) {
    log::debug!("Running accept thread");
    while !close.load(Relaxed) {
        let (connection, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(error) => {
                policy.observer.accept_error(&error);
                if out_of_resources(&error) {
                    // The connection stays in the kernel's queue: free descriptors by closing
                    // idle connections, oldest first, and try again shortly.
                    let idle = registry.idle_count();
                    registry.close_idle((idle / 4).max(1));
                    thread::sleep(Duration::from_millis(20));
                }
                continue;
            }
        };
        if close.load(Relaxed) {
            break; // the wake-up connection of `Drop for Server`
        }
        let _ = connection.set_write_timeout(Some(policy.io_timeout));
        let connection = Arc::new(connection);
        let registration = match registry.admit(connection.clone(), peer.map(|p| p.ip()), policy) {
            Ok(registration) => registration,
            Err(refusal) => {
                refuse(&connection, peer, refusal, policy);
                continue;
            }
        };
        let (read_half, write_half) = RefinedTcpStream::new(connection.clone());
        let client = ClientConnection::new(write_half, read_half, policy.clone(), Some(registration));
        let messages = messages.clone();
        // A thread of its own for each connection, started at once. (Upstream's task pool
        // could queue a new connection behind long-lived keep-alive ones, where it waited
        // unread until another connection closed.) The connection count bounds the threads.
        // Patched: the connection is handed to the thread once it runs, so that when the
        // system refuses a thread (its thread limit), the connection is still here to be
        // answered 503 instead of closed silently with the dropped closure.
        let (hand_over, handed) = mpsc::sync_channel::<ClientConnection>(1);
        let spawned = thread::Builder::new()
            .name("tiny_http-conn".to_string())
            .spawn(move || {
                let Ok(client) = handed.recv() else { return };
                // One request at a time per connection: the next one is read (and the idle
                // timeout starts) once the previous one has been answered.
                let (sender, receiver) = mpsc::channel();
                for rq in client {
                    messages.push(rq.with_notify_sender(sender.clone()).into());
                    if receiver.recv().is_err() {
                        break;
                    }
                }
            });
        match spawned {
            Ok(_) => {
                let _ = hand_over.send(client);
            }
            Err(error) => {
                policy.observer.accept_error(&error);
                refuse(&connection, peer, Refusal::NoThread, policy);
                drop(client);
            }
        }
    }
    log::debug!("Terminating accept thread");
}

/// EMFILE, ENFILE, ENOBUFS, ENOMEM: the process or the system has run out of something that
/// closing connections gives back.
fn out_of_resources(error: &IoError) -> bool {
    matches!(error.raw_os_error(), Some(24 | 23 | 105 | 12))
}

/// Answers a connection that is over a limit and closes it. The socket is fresh, so the short
/// answer fits its send buffer and the write does not block the accept loop.
fn refuse(
    connection: &Arc<Connection>,
    peer: Option<std::net::SocketAddr>,
    refusal: Refusal,
    policy: &ConnectionPolicy,
) {
    let rejection = match refusal {
        Refusal::PerAddress(limit) => Rejection {
            status: 429,
            code: "TOO_MANY_CONNECTIONS",
            message: format!("This address already has {limit} connections open, the most allowed; reuse or close one."),
            remote_addr: peer,
            request_line: None,
        },
        Refusal::NoThread => Rejection {
            status: 503,
            code: "SERVER_BUSY",
            message: "The server could not start a thread for this connection (the system's thread limit is reached); retry shortly.".to_string(),
            remote_addr: peer,
            request_line: None,
        },
        Refusal::Full(limit) => Rejection {
            status: 503,
            code: "SERVER_BUSY",
            message: format!("The server has {limit} connections open, the most allowed, none of them idle; retry shortly."),
            remote_addr: peer,
            request_line: None,
        },
    };
    let _ = connection.set_write_timeout(Some(Duration::from_secs(1)));
    let mut response = client::rejection_response(&*policy.observer, &rejection);
    if rejection.status == 503 {
        if let Ok(header) = Header::from_bytes(&b"Retry-After"[..], &b"1"[..]) {
            response.add_header(header);
        }
    }
    let _ = response.raw_print(&**connection, HTTPVersion(1, 1), &[], false, None);
    let _ = connection.shutdown(Shutdown::Both);
}

enum Message {
    Error(IoError),
    NewRequest(Request),
}

impl From<IoError> for Message {
    fn from(e: IoError) -> Message {
        Message::Error(e)
    }
}

impl From<Request> for Message {
    fn from(rq: Request) -> Message {
        Message::NewRequest(rq)
    }
}

// this trait is to make sure that Server implements Share and Send
#[doc(hidden)]
#[allow(dead_code)]
trait MustBeShareDummy: Sync + Send {}
#[doc(hidden)]
impl MustBeShareDummy for Server {}

pub struct IncomingRequests<'a> {
    server: &'a Server,
}

/// Represents the parameters required to create a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The addresses to try to listen to.
    pub addr: ConfigListenAddr,

    /// If `Some`, then the server will use SSL to encode the communications.
    pub ssl: Option<SslConfig>,
}

/// Configuration of the server for SSL.
#[derive(Debug, Clone)]
pub struct SslConfig {
    /// Contains the public certificate to send to clients.
    pub certificate: Vec<u8>,
    /// Contains the ultra-secret private key used to decode communications.
    pub private_key: Vec<u8>,
}

impl Server {
    /// Shortcut for a simple server on a specific address.
    #[inline]
    pub fn http<A>(addr: A) -> Result<Server, Box<dyn Error + Send + Sync + 'static>>
    where
        A: ToSocketAddrs,
    {
        Server::new(ServerConfig {
            addr: ConfigListenAddr::from_socket_addrs(addr)?,
            ssl: None,
        })
    }

    #[cfg(unix)]
    #[inline]
    /// Shortcut for a UNIX socket server at a specific path
    pub fn http_unix(
        path: &std::path::Path,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        Server::new(ServerConfig {
            addr: ConfigListenAddr::unix_from_path(path),
            ssl: None,
        })
    }

    /// Builds a new server that listens on the specified address.
    pub fn new(config: ServerConfig) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        let listener = config.addr.bind()?;
        Self::from_listener(listener, config.ssl)
    }

    /// Builds a new server using the specified TCP listener.
    ///
    /// This is useful if you've constructed TcpListener using some less usual method
    /// such as from systemd. For other cases, you probably want the `new()` function.
    pub fn from_listener<L: Into<Listener>>(
        listener: L,
        ssl_config: Option<SslConfig>,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        if ssl_config.is_some() {
            return Err("this patched tiny_http serves plain HTTP only (TLS belongs to a reverse proxy)".into());
        }
        Self::from_listener_with_policy(listener, ConnectionPolicy::unlimited())
    }

    /// Patched: builds a server whose connections follow `policy` (deadlines, limits, the
    /// observer's answers). Its accept loop never exits while the server lives: transient
    /// errors are retried at once; when descriptors run out, idle connections are closed and
    /// the loop pauses briefly.
    pub fn from_listener_with_policy<L: Into<Listener>>(
        listener: L,
        policy: ConnectionPolicy,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        let listener = listener.into();
        let local_addr = listener.local_addr()?;
        log::debug!("Server listening on {}", local_addr);
        let close_trigger = Arc::new(AtomicBool::new(false));
        let messages = MessagesQueue::with_capacity(8);
        let registry = Arc::new(Registry::default());
        let policy = Arc::new(policy);

        let inside_close_trigger = close_trigger.clone();
        let inside_messages = messages.clone();
        let inside_registry = registry.clone();
        thread::Builder::new()
            .name("tiny_http-accept".to_string())
            .spawn(move || {
                accept_loop(
                    &listener,
                    &policy,
                    &inside_registry,
                    &inside_close_trigger,
                    &inside_messages,
                )
            })?;

        Ok(Server {
            messages,
            close: close_trigger,
            listening_addr: local_addr,
            registry,
        })
    }

    /// Returns an iterator for all the incoming requests.
    ///
    /// The iterator will return `None` if the server socket is shutdown.
    #[inline]
    pub fn incoming_requests(&self) -> IncomingRequests<'_> {
        IncomingRequests { server: self }
    }

    /// Returns the address the server is listening to.
    #[inline]
    pub fn server_addr(&self) -> ListenAddr {
        self.listening_addr.clone()
    }

    /// Returns the number of clients currently connected to the server.
    pub fn num_connections(&self) -> usize {
        unimplemented!()
        //self.requests_receiver.lock().len()
    }

    /// Blocks until an HTTP request has been submitted and returns it.
    pub fn recv(&self) -> IoResult<Request> {
        match self.messages.pop() {
            Some(Message::Error(err)) => Err(err),
            Some(Message::NewRequest(rq)) => Ok(rq),
            None => Err(IoError::new(IoErrorKind::Other, "thread unblocked")),
        }
    }

    /// Same as `recv()` but doesn't block longer than timeout
    pub fn recv_timeout(&self, timeout: Duration) -> IoResult<Option<Request>> {
        match self.messages.pop_timeout(timeout) {
            Some(Message::Error(err)) => Err(err),
            Some(Message::NewRequest(rq)) => Ok(Some(rq)),
            None => Ok(None),
        }
    }

    /// Same as `recv()` but doesn't block.
    pub fn try_recv(&self) -> IoResult<Option<Request>> {
        match self.messages.try_pop() {
            Some(Message::Error(err)) => Err(err),
            Some(Message::NewRequest(rq)) => Ok(Some(rq)),
            None => Ok(None),
        }
    }

    /// Unblock thread stuck in recv() or incoming_requests().
    /// If there are several such threads, only one is unblocked.
    /// This method allows graceful shutdown of server.
    pub fn unblock(&self) {
        self.messages.unblock();
    }

    /// Patched: closes every connection that waits for a request (at shutdown, so that
    /// keep-alive clients do not wait for their idle timeout).
    pub fn close_idle_connections(&self) -> usize {
        self.registry.close_idle(usize::MAX)
    }
}

impl Iterator for IncomingRequests<'_> {
    type Item = Request;
    fn next(&mut self) -> Option<Request> {
        self.server.recv().ok()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.close.store(true, Relaxed);
        // Connect briefly to ourselves to unblock the accept thread
        let maybe_stream = match &self.listening_addr {
            ListenAddr::IP(addr) => TcpStream::connect(addr).map(Connection::from),
            #[cfg(unix)]
            ListenAddr::Unix(addr) => {
                // TODO: use connect_addr when its stabilized.
                let path = addr.as_pathname().unwrap();
                std::os::unix::net::UnixStream::connect(path).map(Connection::from)
            }
        };
        if let Ok(stream) = maybe_stream {
            let _ = stream.shutdown(Shutdown::Both);
        }

        #[cfg(unix)]
        if let ListenAddr::Unix(addr) = &self.listening_addr {
            if let Some(path) = addr.as_pathname() {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}
