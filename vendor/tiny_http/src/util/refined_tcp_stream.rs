use std::io::Result as IoResult;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};

use crate::connection::Connection;
use crate::limits::Deadline;
use std::io::{Error as IoError, ErrorKind};
use std::sync::Arc;
use std::time::Duration;

pub(crate) enum Stream {
    // Patched: shared, not duplicated with `try_clone`, which costs a descriptor and panicked
    // the accept thread when descriptors ran out.
    Http(Arc<Connection>),
}

impl Clone for Stream {
    fn clone(&self) -> Self {
        match self {
            Stream::Http(tcp_stream) => Stream::Http(tcp_stream.clone()),
        }
    }
}

impl From<Arc<Connection>> for Stream {
    fn from(tcp_stream: Arc<Connection>) -> Self {
        Stream::Http(tcp_stream)
    }
}

impl Stream {
    fn secure(&self) -> bool {
        match self {
            Stream::Http(_) => false,
        }
    }

    fn peer_addr(&mut self) -> IoResult<Option<SocketAddr>> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.peer_addr(),
        }
    }

    fn shutdown(&mut self, how: Shutdown) -> IoResult<()> {
        match self {
            Stream::Http(tcp_stream) => tcp_stream.shutdown(how),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        match self {
            Stream::Http(tcp_stream) => (&**tcp_stream).read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> IoResult<usize> {
        match self {
            Stream::Http(tcp_stream) => (&**tcp_stream).write(buf),
        }
    }

    fn flush(&mut self) -> IoResult<()> {
        match self {
            Stream::Http(tcp_stream) => (&**tcp_stream).flush(),
        }
    }
}

pub struct RefinedTcpStream {
    stream: Stream,
    /// Patched: decides each read's timeout (head deadline, idle wait, body reads).
    deadline: Option<Arc<Deadline>>,
    last_timeout: Option<Duration>,
    close_read: bool,
    close_write: bool,
}

impl RefinedTcpStream {
    pub(crate) fn new<S>(stream: S) -> (RefinedTcpStream, RefinedTcpStream)
    where
        S: Into<Stream>,
    {
        let stream: Stream = stream.into();

        let (read, write) = (stream.clone(), stream);

        let read = RefinedTcpStream {
            stream: read,
            deadline: None,
            last_timeout: None,
            close_read: true,
            close_write: false,
        };

        let write = RefinedTcpStream {
            stream: write,
            deadline: None,
            last_timeout: None,
            close_read: false,
            close_write: true,
        };

        (read, write)
    }

    /// Returns true if this struct wraps around a secure connection.
    /// Patched: reads from now on take their timeout from `deadline`.
    pub(crate) fn with_deadline(mut self, deadline: Arc<Deadline>) -> Self {
        self.deadline = Some(deadline);
        self
    }

    fn apply_deadline(&mut self) -> IoResult<()> {
        let Some(deadline) = &self.deadline else {
            return Ok(());
        };
        let timeout = deadline.next_read_timeout()?;
        // A syscall only when the timeout changes by more than a little.
        let stale = self
            .last_timeout
            .map_or(true, |last| last.abs_diff(timeout) > Duration::from_millis(50));
        if stale {
            let Stream::Http(connection) = &self.stream;
            connection.set_read_timeout(Some(timeout))?;
            self.last_timeout = Some(timeout);
        }
        Ok(())
    }

    #[inline]
    pub(crate) fn secure(&self) -> bool {
        self.stream.secure()
    }

    pub(crate) fn peer_addr(&mut self) -> IoResult<Option<SocketAddr>> {
        self.stream.peer_addr()
    }
}

impl Drop for RefinedTcpStream {
    fn drop(&mut self) {
        if self.close_read {
            self.stream.shutdown(Shutdown::Read).ok();
        }

        if self.close_write {
            self.stream.shutdown(Shutdown::Write).ok();
        }
    }
}

impl Read for RefinedTcpStream {
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        self.apply_deadline()?;
        match self.stream.read(buf) {
            // Linux reports an expired SO_RCVTIMEO as EAGAIN; call it what it is.
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                Err(IoError::new(ErrorKind::TimedOut, "read timed out"))
            }
            other => other,
        }
    }
}

impl Write for RefinedTcpStream {
    fn write(&mut self, buf: &[u8]) -> IoResult<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> IoResult<()> {
        self.stream.flush()
    }
}
