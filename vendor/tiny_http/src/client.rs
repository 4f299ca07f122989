use ascii::AsciiString;
use std::sync::Arc;
use std::time::Instant;

use std::io::Error as IoError;
use std::io::Result as IoResult;
use std::io::{BufReader, BufWriter, ErrorKind, Read};

use std::net::SocketAddr;
use std::str::FromStr;

use crate::common::{HTTPVersion, Header, Method, StatusCode};
use crate::limits::{ConnectionPolicy, Deadline, Observer, Phase, Registration, Rejection};
use crate::Response;
use crate::util::RefinedTcpStream;
use crate::util::{SequentialReader, SequentialReaderBuilder, SequentialWriterBuilder};
use crate::Request;

/// A ClientConnection is an object that will store a socket to a client
/// and return Request objects.
pub struct ClientConnection {
    // address of the client
    remote_addr: IoResult<Option<SocketAddr>>,

    // sequence of Readers to the stream, so that the data is not read in
    //  the wrong order
    source: SequentialReaderBuilder<BufReader<RefinedTcpStream>>,

    // sequence of Writers to the stream, to avoid writing response #2 before
    //  response #1
    sink: SequentialWriterBuilder<BufWriter<RefinedTcpStream>>,

    // Reader to read the next header from
    next_header_source: SequentialReader<BufReader<RefinedTcpStream>>,

    // set to true if we know that the previous request is the last one
    no_more_requests: bool,

    // true if the connection goes through SSL
    secure: bool,

    // Patched: the timeouts and limits, this connection's read deadline, its place in the
    // registry of connections, when it was accepted and how many requests it has carried.
    policy: Arc<ConnectionPolicy>,
    deadline: Arc<Deadline>,
    registration: Option<Registration>,
    accepted: Instant,
    served: u64,
}

/// Error that can happen when reading a request.
#[derive(Debug)]
enum ReadError {
    WrongRequestLine(String),
    WrongHeader(HTTPVersion, String),
    /// the client asked for a 100-continue status that we do not support
    ExpectationFailed(HTTPVersion),
    /// Patched: no byte of a next request came before the idle (or first) deadline.
    Idle,
    /// Patched: the request line and headers did not arrive in time.
    HeadTimeout(Option<String>),
    /// Patched: the request line and headers are larger than the limit.
    HeadTooLarge(Option<String>),
    ReadIoError(IoError),
}

/// Patched: the request line and headers may take at most this many bytes.
const MAX_HEAD_BYTES: usize = 64 * 1024;

impl ClientConnection {
    /// Creates a new `ClientConnection` that takes ownership of the `TcpStream`.
    pub(crate) fn new(
        write_socket: RefinedTcpStream,
        mut read_socket: RefinedTcpStream,
        policy: Arc<ConnectionPolicy>,
        registration: Option<Registration>,
    ) -> ClientConnection {
        let remote_addr = read_socket.peer_addr();
        let secure = read_socket.secure();
        let accepted = Instant::now();
        let deadline = Arc::new(Deadline::new(
            Phase::Waiting {
                until: accepted + policy.head_timeout,
            },
            policy.io_timeout,
        ));
        let read_socket = read_socket.with_deadline(deadline.clone());

        let mut source = SequentialReaderBuilder::new(BufReader::with_capacity(1024, read_socket));
        let first_header = source.next().unwrap();

        ClientConnection {
            source,
            sink: SequentialWriterBuilder::new(BufWriter::with_capacity(1024, write_socket)),
            remote_addr,
            next_header_source: first_header,
            no_more_requests: false,
            secure,
            policy,
            deadline,
            registration,
            accepted,
            served: 0,
        }
    }

    fn read_byte(&mut self) -> IoResult<u8> {
        match self.next_header_source.by_ref().bytes().next() {
            Some(b) => b,
            None => Err(IoError::new(ErrorKind::ConnectionAborted, "Unexpected EOF")),
        }
    }

    /// Reads until the next `\r\n` and returns the line without it, as bytes: the caller
    /// decides what a byte that is not ASCII means (patched: it used to close the connection
    /// without an answer).
    fn read_next_line(&mut self, head_bytes: &mut usize) -> IoResult<Vec<u8>> {
        let mut buf = Vec::new();
        let mut prev_byte_was_cr = false;

        loop {
            let byte = self.read_byte()?;

            if byte == b'\n' && prev_byte_was_cr {
                buf.pop(); // removing the '\r'
                return Ok(buf);
            }

            prev_byte_was_cr = byte == b'\r';

            buf.push(byte);
            *head_bytes += 1;
            if *head_bytes > MAX_HEAD_BYTES {
                return Err(IoError::new(ErrorKind::OutOfMemory, "head too large"));
            }
        }
    }

    /// Waits for the first byte of the next request: the connection counts as idle until then,
    /// and is closed when nothing comes before the deadline (the head timeout from the accept
    /// for the first request, the idle timeout after a response for later ones).
    fn wait_for_request(&mut self) -> Result<(), ReadError> {
        let until = if self.served == 0 {
            self.accepted + self.policy.head_timeout
        } else {
            Instant::now() + self.policy.idle_timeout
        };
        self.deadline.set(Phase::Waiting { until });
        if let Some(registration) = &self.registration {
            registration.set_idle(true);
        }
        let waited = self.next_header_source.fill_buf_peek();
        if let Some(registration) = &self.registration {
            registration.set_idle(false);
        }
        match waited {
            Ok(true) => {}
            Ok(false) => {
                return Err(ReadError::ReadIoError(IoError::new(
                    ErrorKind::ConnectionAborted,
                    "closed by the client",
                )))
            }
            Err(e) if e.kind() == ErrorKind::TimedOut => return Err(ReadError::Idle),
            Err(e) => return Err(ReadError::ReadIoError(e)),
        }
        let head_until = if self.served == 0 {
            until
        } else {
            Instant::now() + self.policy.head_timeout
        };
        self.deadline.set(Phase::Head { until: head_until });
        Ok(())
    }

    /// Reads a request from the stream.
    /// Blocks until the header has been read.
    fn read(&mut self) -> Result<Request, ReadError> {
        self.wait_for_request()?;
        let mut head_bytes = 0;
        let request_line: Option<String>;
        let head_error = |e: IoError, line: &Option<String>| match e.kind() {
            ErrorKind::TimedOut => ReadError::HeadTimeout(line.clone()),
            ErrorKind::OutOfMemory => ReadError::HeadTooLarge(line.clone()),
            _ => ReadError::ReadIoError(e),
        };
        let (method, path, version, headers) = {
            let (method, path, version) = {
                let line = self
                    .read_next_line(&mut head_bytes)
                    .map_err(|e| head_error(e, &None))?;
                let line = String::from_utf8(line).map_err(|_| {
                    ReadError::WrongRequestLine("the request line is not ASCII".to_string())
                })?;
                let parsed = parse_request_line(line.trim())?;
                request_line = Some(format!("{} {}", parsed.0, parsed.1));
                parsed
            };

            let headers = {
                let mut headers = Vec::new();
                loop {
                    let line = self
                        .read_next_line(&mut head_bytes)
                        .map_err(|e| head_error(e, &request_line))?;

                    if line.is_empty() {
                        break;
                    };
                    let line = match AsciiString::from_ascii(line) {
                        Ok(line) => line,
                        Err(e) => {
                            let bytes = e.into_source();
                            let name = bytes
                                .split(|b| *b == b':')
                                .next()
                                .filter(|n| n.is_ascii() && bytes.contains(&b':'))
                                .map(|n| String::from_utf8_lossy(n).trim().to_string());
                            return Err(ReadError::WrongHeader(
                                version,
                                match name {
                                    Some(name) => format!(
                                        "The value of the header {name} contains a byte that is not ASCII; send header values as ASCII (percent-encode or RFC 8187-encode other characters)."
                                    ),
                                    None => "A header line contains a byte that is not ASCII; header names and values must be ASCII.".to_string(),
                                },
                            ));
                        }
                    };
                    headers.push(match FromStr::from_str(line.as_str().trim()) {
                        Ok(h) => h,
                        _ => {
                            return Err(ReadError::WrongHeader(
                                version,
                                format!(
                                    "The header line {:?} is not of the form `Name: value`.",
                                    truncate(line.as_str(), 80)
                                ),
                            ))
                        }
                    });
                }

                headers
            };

            (method, path, version, headers)
        };
        self.deadline.set(Phase::Body);
        self.served += 1;

        // building the writer for the request
        let writer = self.sink.next().unwrap();

        // follow-up for next potential request
        let mut data_source = self.source.next().unwrap();
        std::mem::swap(&mut self.next_header_source, &mut data_source);

        // building the next reader
        let request = crate::request::new_request(
            self.secure,
            method,
            path,
            version.clone(),
            headers,
            *self.remote_addr.as_ref().unwrap(),
            data_source,
            writer,
        )
        .map_err(|e| {
            use crate::request;
            match e {
                request::RequestCreationError::CreationIoError(e) => ReadError::ReadIoError(e),
                request::RequestCreationError::ExpectationFailed => {
                    ReadError::ExpectationFailed(version)
                }
            }
        })?;

        // return the request
        Ok(request.with_fallback(self.policy.observer.clone()))
    }

    /// Patched: answers a request the server refuses itself with the observer's body (the
    /// embedding server's error shape), never with an empty body or a silent close.
    fn reject(
        &mut self,
        version: HTTPVersion,
        status: u16,
        code: &'static str,
        message: String,
        request_line: Option<String>,
    ) {
        let rejection = Rejection {
            status,
            code,
            message,
            remote_addr: self.remote_addr.as_ref().ok().copied().flatten(),
            request_line,
        };
        let writer = self.sink.next().unwrap();
        rejection_response(&*self.policy.observer, &rejection)
            .raw_print(writer, version, &[], false, None)
            .ok();
    }
}

/// The response to a refused request, built by the observer.
pub(crate) fn rejection_response(
    observer: &dyn Observer,
    rejection: &Rejection,
) -> Response<std::io::Cursor<Vec<u8>>> {
    let (body, content_type) = observer.rejected(rejection);
    let mut response = Response::from_data(body).with_status_code(StatusCode(rejection.status));
    if let Ok(header) = Header::from_bytes(&b"Content-Type"[..], content_type.as_bytes()) {
        response.add_header(header);
    }
    response
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

impl Iterator for ClientConnection {
    type Item = Request;
    /// Blocks until the next Request is available.
    /// Returns None when no new Requests will come from the client.
    fn next(&mut self) -> Option<Request> {
        // the client sent a "connection: close" header in this previous request
        //  or is using HTTP 1.0, meaning that no new request will come
        if self.no_more_requests {
            return None;
        }

        loop {
            let rq = match self.read() {
                Err(ReadError::WrongRequestLine(why)) => {
                    self.reject(
                        HTTPVersion(1, 1),
                        400,
                        "BAD_REQUEST_LINE",
                        format!("The request line is malformed ({why}); send `METHOD /path HTTP/1.1`."),
                        None,
                    );
                    return None; // we don't know where the next request would start,
                }

                Err(ReadError::WrongHeader(ver, why)) => {
                    self.reject(ver, 400, "BAD_HEADER", why, None);
                    return None; // we don't know where the next request would start,
                }

                Err(ReadError::HeadTimeout(line)) => {
                    let message = format!(
                        "The request line and headers did not arrive within {} s; send the whole head at once.",
                        self.policy.head_timeout.as_secs_f64()
                    );
                    self.reject(HTTPVersion(1, 1), 408, "HEAD_TIMEOUT", message, line);
                    return None; // closing the connection
                }

                Err(ReadError::HeadTooLarge(line)) => {
                    let message = format!(
                        "The request line and headers are larger than {MAX_HEAD_BYTES} bytes; send fewer or shorter headers."
                    );
                    self.reject(HTTPVersion(1, 1), 431, "HEADERS_TOO_LARGE", message, line);
                    return None;
                }

                Err(ReadError::ExpectationFailed(ver)) => {
                    self.reject(
                        ver,
                        417,
                        "EXPECTATION_FAILED",
                        "Only `Expect: 100-continue` is supported.".to_string(),
                        None,
                    );
                    return None; // TODO: should be recoverable, but needs handling in case of body
                }

                // Idle keep-alive connections are closed without a word (RFC 9112 9.6).
                Err(ReadError::Idle) => return None,
                Err(ReadError::ReadIoError(e)) => {
                    log::debug!("connection ends: {}", e);
                    return None;
                }

                Ok(rq) => rq,
            };

            // checking HTTP version
            if *rq.http_version() > (1, 1) {
                let line = format!("{} {}", rq.method(), rq.url());
                drop(rq.without_fallback());
                self.reject(
                    HTTPVersion(1, 1),
                    505,
                    "HTTP_VERSION_NOT_SUPPORTED",
                    "This server only supports HTTP versions 1.0 and 1.1.".to_string(),
                    Some(line),
                );
                continue;
            }

            // updating the status of the connection
            let connection_header = rq
                .headers()
                .iter()
                .find(|h| h.field.equiv("Connection"))
                .map(|h| h.value.as_str());

            let lowercase = connection_header.map(|h| h.to_ascii_lowercase());

            match lowercase {
                Some(ref val) if val.contains("close") => self.no_more_requests = true,
                Some(ref val) if val.contains("upgrade") => self.no_more_requests = true,
                Some(ref val)
                    if !val.contains("keep-alive") && *rq.http_version() == HTTPVersion(1, 0) =>
                {
                    self.no_more_requests = true
                }
                None if *rq.http_version() == HTTPVersion(1, 0) => self.no_more_requests = true,
                _ => (),
            };

            // returning the request
            return Some(rq);
        }
    }
}

fn parse_http_version(version: &str) -> Result<HTTPVersion, ReadError> {
    let (major, minor) = match version {
        "HTTP/0.9" => (0, 9),
        "HTTP/1.0" => (1, 0),
        "HTTP/1.1" => (1, 1),
        "HTTP/2.0" => (2, 0),
        "HTTP/3.0" => (3, 0),
        _ => return Err(ReadError::WrongRequestLine(format!("unknown version {version:?}"))),
    };

    Ok(HTTPVersion(major, minor))
}

/// Parses the request line of the request.
/// eg. GET / HTTP/1.1
fn parse_request_line(line: &str) -> Result<(Method, String, HTTPVersion), ReadError> {
    let wrong = || ReadError::WrongRequestLine(format!("got {:?}", truncate(line, 80)));
    let mut parts = line.split(' ');

    let method = parts.next().and_then(|w| w.parse().ok());
    let path = parts.next().map(ToOwned::to_owned);
    let version = parts.next().and_then(|w| parse_http_version(w).ok());

    method
        .and_then(|method| Some((method, path?, version?)))
        .ok_or_else(wrong)
}

#[cfg(test)]
mod test {
    #[test]
    fn test_parse_request_line() {
        let (method, path, ver) = super::parse_request_line("GET /hello HTTP/1.1").unwrap();

        assert!(method == crate::Method::Get);
        assert!(path == "/hello");
        assert!(ver == crate::common::HTTPVersion(1, 1));

        assert!(super::parse_request_line("GET /hello").is_err());
        assert!(super::parse_request_line("qsd qsd qsd").is_err());
    }
}
