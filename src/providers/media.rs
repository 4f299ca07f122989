//! Fetching media that a platform needs uploaded (`mediaUrl`, `thumbnailUrl`), and checking a
//! URL that a platform will fetch itself: a size cap, a timeout, a content-type check, and no
//! request to loopback, private or link-local addresses unless the instance allows them
//! (`serve --sandbox` does, so tests and demos can serve media on 127.0.0.1).
//!
//! The address check sits in the resolver every connection goes through, redirects included,
//! so a hostname that resolves (or re-resolves) to a private address is refused too.

use super::{MediaKind, ProviderError};
use crate::error::Code;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct MediaFetcher {
    /// Downloads: through the guarded resolver, following a few redirects.
    agent: ureq::Agent,
    /// Uploads to the platforms' own upload hosts (no address guard, no redirects).
    upload_agent: ureq::Agent,
    limits: MediaLimits,
    allow_private: bool,
}

/// How long media transfers may take, and where downloads are kept meanwhile.
///
/// There is no overall timeout on the agents: ureq's replaces the per-read one (a 40 MB video
/// on a slow link would fail at the cap however steadily it arrives). A transfer instead fails
/// when one read or write stalls for `read_timeout`, or when it runs longer than
/// `transfer_base` plus its size at `min_bytes_per_sec`.
#[derive(Debug, Clone)]
pub struct MediaLimits {
    pub max_bytes: u64,
    pub read_timeout: Duration,
    pub transfer_base: Duration,
    pub min_bytes_per_sec: u64,
    /// Where downloads are spooled (anonymous files, gone when closed); the system's temporary
    /// directory when `None` or unusable.
    pub spool_dir: Option<PathBuf>,
}

impl MediaLimits {
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            max_bytes: config.max_media_bytes,
            read_timeout: config.media_read_timeout,
            transfer_base: config.media_transfer_base,
            min_bytes_per_sec: config.media_min_bytes_per_sec,
            // Beside the database: a disk the operator sized for data, where /tmp may be a
            // small tmpfs in memory.
            spool_dir: config
                .db_path
                .parent()
                .filter(|dir| !dir.as_os_str().is_empty())
                .map(Path::to_path_buf),
        }
    }

    /// The longest a transfer of `bytes` may take.
    pub fn cap_for(&self, bytes: u64) -> Duration {
        self.transfer_base + Duration::from_secs(bytes / self.min_bytes_per_sec.max(1))
    }
}

/// Downloaded media, spooled to an anonymous temporary file: uploads read it in parts, so a
/// video is never held in memory whole.
pub struct MediaBlob {
    file: File,
    len: u64,
    /// The type the content was recognised as (its magic number), else the served type.
    pub content_type: String,
}

impl std::fmt::Debug for MediaBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MediaBlob({} bytes of {})", self.len, self.content_type)
    }
}

impl MediaBlob {
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The type without parameters, lower-case (`image/jpeg`).
    pub fn mime(&self) -> String {
        essence(&self.content_type)
    }

    /// A reader of bytes `first..end` (positional reads: readers of one blob do not disturb
    /// each other, so a retried part simply gets a new one).
    pub fn range(&self, first: u64, end: u64) -> BlobReader<'_> {
        BlobReader {
            file: &self.file,
            pos: first,
            end: end.min(self.len),
        }
    }

    /// A reader of the whole file.
    pub fn reader(&self) -> BlobReader<'_> {
        self.range(0, self.len)
    }

    /// Bytes `first..end` in memory, for a part sent inside a multipart body; parts are small
    /// (a few MiB), the file is not.
    pub fn read_range(&self, first: u64, end: u64) -> std::io::Result<Vec<u8>> {
        let mut bytes = Vec::with_capacity(end.saturating_sub(first) as usize);
        self.range(first, end).read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// The whole file in memory; only for small media (thumbnails).
    pub fn to_vec(&self) -> std::io::Result<Vec<u8>> {
        self.read_range(0, self.len)
    }
}

pub struct BlobReader<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for BlobReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.end.saturating_sub(self.pos) as usize;
        if left == 0 {
            return Ok(0);
        }
        let want = left.min(buf.len());
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the spooled media file is shorter than it was",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// A body reader that fails once its transfer has run past its cap, so a crawling upload ends
/// (ureq's per-write timeout only catches one that stops).
pub struct CappedReader<R> {
    inner: R,
    deadline: Instant,
    cap: Duration,
}

impl<R> CappedReader<R> {
    pub fn get_ref(&self) -> &R {
        &self.inner
    }
}

impl<R: Read> Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if Instant::now() > self.deadline {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "the transfer took longer than its cap of {} s",
                    self.cap.as_secs()
                ),
            ));
        }
        self.inner.read(buf)
    }
}

#[derive(Debug, Clone)]
pub struct MediaInfo {
    /// The type the first bytes were recognised as, else the served type.
    pub content_type: String,
    pub length: Option<u64>,
}

/// How many leading bytes `sniff` looks at.
pub const SNIFF_BYTES: usize = 16;

/// The media type the first bytes announce (magic numbers): JPEG, PNG, GIF, WebP, and the
/// ISO base media `ftyp` box of MP4 (MOV when its brand is QuickTime's `qt  `).
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some("image/webp")
    } else if head.len() >= 12 && &head[4..8] == b"ftyp" {
        Some(if &head[8..12] == b"qt  " {
            "video/quicktime"
        } else {
            "video/mp4"
        })
    } else {
        None
    }
}

/// The type media is handled as: what its content is when the first bytes say so (a generic
/// `application/octet-stream` from S3 or GCS, or a header that disagrees, loses to the
/// content), else the served type. A served type that agrees is kept as served.
pub fn decide_type(served: &str, head: &[u8]) -> String {
    let served = essence(served);
    match sniff(head) {
        None => served,
        Some(found) if found == served => served,
        // MP4 and MOV share the box format: a server's word on which it is stands.
        Some("video/mp4" | "video/quicktime")
            if served == "video/mp4" || served == "video/quicktime" =>
        {
            served
        }
        Some(found) => found.to_string(),
    }
}

fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Addresses no server-side fetch may reach on a shared network.
pub fn is_internal_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
                || (a == 198 && (b == 18 || b == 19)) // benchmarking
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal_address(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
        }
    }
}

/// The address check of every server-side request to a URL a customer chose: media fetches
/// and webhook endpoints (`crate::webhooks`) resolve through it, at each connection.
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl ureq::Resolver for GuardedResolver {
    fn resolve(&self, netloc: &str) -> std::io::Result<Vec<SocketAddr>> {
        let addrs: Vec<SocketAddr> = netloc.to_socket_addrs()?.collect();
        let allowed: Vec<SocketAddr> = addrs
            .iter()
            .copied()
            .filter(|a| self.allow_private || !is_internal_address(a.ip()))
            .collect();
        if allowed.is_empty() && !addrs.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{netloc} resolves to a private, loopback or link-local address, which this instance does not fetch from"
                ),
            ));
        }
        Ok(allowed)
    }
}

fn failure(message: String) -> ProviderError {
    ProviderError::Rejected {
        code: Code::MediaFetchFailed,
        message,
    }
}

impl MediaFetcher {
    /// A fetcher with the declared defaults but for the size cap and the stall timeout.
    pub fn new(allow_private: bool, max_bytes: u64, read_timeout: Duration) -> Self {
        Self::with_limits(
            allow_private,
            MediaLimits {
                max_bytes,
                read_timeout,
                transfer_base: Duration::from_secs(60),
                min_bytes_per_sec: 128 * 1024,
                spool_dir: None,
            },
        )
    }

    pub fn with_limits(allow_private: bool, limits: MediaLimits) -> Self {
        // Per-read and per-write timeouts only (see `MediaLimits`).
        let agent = ureq::AgentBuilder::new()
            .resolver(GuardedResolver { allow_private })
            .timeout_connect(Duration::from_secs(5))
            .timeout_read(limits.read_timeout)
            .timeout_write(limits.read_timeout)
            .redirects(3)
            .user_agent(concat!(
                "mypostshare/",
                env!("CARGO_PKG_VERSION"),
                " (media fetch)"
            ))
            .build();
        let upload_agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .timeout_read(limits.read_timeout)
            .timeout_write(limits.read_timeout)
            .redirects(0)
            .user_agent(concat!("mypostshare/", env!("CARGO_PKG_VERSION")))
            .build();
        Self {
            agent,
            upload_agent,
            limits,
            allow_private,
        }
    }

    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    pub fn limits(&self) -> &MediaLimits {
        &self.limits
    }

    /// The agent for sending media to a platform's upload host: a stalled write or answer
    /// fails after the read timeout, a slow steady one goes on. Wrap the body in `capped`.
    pub fn upload_agent(&self) -> &ureq::Agent {
        &self.upload_agent
    }

    /// A body of `bytes` bytes that fails once its upload runs past the cap for its size.
    pub fn capped<R: Read>(&self, inner: R, bytes: u64) -> CappedReader<R> {
        let cap = self.limits.cap_for(bytes);
        CappedReader {
            inner,
            deadline: Instant::now() + cap,
            cap,
        }
    }

    fn check_scheme(url: &str) -> Result<(), ProviderError> {
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            Ok(())
        } else {
            Err(failure(format!("{url} is not an http(s) URL")))
        }
    }

    fn get(&self, request: ureq::Request, url: &str) -> Result<ureq::Response, ProviderError> {
        match request.call() {
            Ok(response) => Ok(response),
            Err(ureq::Error::Status(status, _)) => Err(failure(format!(
                "fetching {url} answered HTTP {status}; the media must be publicly readable"
            ))),
            Err(ureq::Error::Transport(t)) => Err(failure(format!("fetching {url} failed: {t}"))),
        }
    }

    fn spool_file(&self) -> std::io::Result<File> {
        match &self.limits.spool_dir {
            Some(dir) => tempfile::tempfile_in(dir).or_else(|_| tempfile::tempfile()),
            None => tempfile::tempfile(),
        }
    }

    /// Downloads media of one of `accept` kinds, at most the size cap, into a temporary file.
    /// Its type is decided by its first bytes when they are recognised (`decide_type`).
    pub fn fetch(&self, url: &str, accept: &[MediaKind]) -> Result<MediaBlob, ProviderError> {
        Self::check_scheme(url)?;
        let started = Instant::now();
        let response = self.get(self.agent.get(url), url)?;
        let served = response.content_type().to_string();
        let length = response
            .header("content-length")
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(length) = length
            && length > self.limits.max_bytes
        {
            return Err(failure(format!(
                "{url} is {length} bytes; the limit is {}",
                self.limits.max_bytes
            )));
        }
        let cap = self.limits.cap_for(length.unwrap_or(self.limits.max_bytes));
        let read_failed = |e: std::io::Error| failure(format!("reading {url} failed: {e}"));
        let mut reader = response.into_reader().take(self.limits.max_bytes + 1);
        // The first bytes decide the type before anything is written.
        let mut head = Vec::with_capacity(SNIFF_BYTES);
        (&mut reader)
            .take(SNIFF_BYTES as u64)
            .read_to_end(&mut head)
            .map_err(read_failed)?;
        if head.is_empty() {
            return Err(failure(format!("{url} is empty")));
        }
        let content_type = decide_type(&served, &head);
        let kind = super::rules::media_kind_from_content_type(&content_type);
        if !kind.is_some_and(|k| accept.contains(&k)) {
            let wanted: Vec<&str> = accept.iter().map(|k| k.as_str()).collect();
            return Err(failure(format!(
                "{url} is served as {served:?} and its first bytes are {}, not {}",
                sniff(&head).unwrap_or("none of JPEG, PNG, GIF, WebP, MP4 or MOV"),
                wanted.join(" or ")
            )));
        }
        let spool_failed =
            |e: std::io::Error| failure(format!("spooling {url} to a temporary file failed: {e}"));
        let mut file = self.spool_file().map_err(spool_failed)?;
        file.write_all(&head).map_err(spool_failed)?;
        let mut len = head.len() as u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // Each read waits at most the read timeout (the agent's); the whole download at
            // most its cap.
            let n = reader.read(&mut buf).map_err(read_failed)?;
            if n == 0 {
                break;
            }
            file.write_all(&buf[..n]).map_err(spool_failed)?;
            len += n as u64;
            if len > self.limits.max_bytes {
                return Err(failure(format!(
                    "{url} is larger than the limit of {} bytes",
                    self.limits.max_bytes
                )));
            }
            if started.elapsed() > cap {
                return Err(failure(format!(
                    "fetching {url} took longer than {} s (the cap for its size); \
                    {len} bytes had arrived",
                    cap.as_secs()
                )));
            }
        }
        Ok(MediaBlob {
            file,
            len,
            content_type,
        })
    }

    /// Checks that a URL a platform will fetch itself answers, and says what it serves: its
    /// first bytes (a `Range` request; a server that ignores it is read no further) decide
    /// the type when they are recognised, as in `fetch`.
    pub fn probe(&self, url: &str) -> Result<MediaInfo, ProviderError> {
        Self::check_scheme(url)?;
        let range = format!("bytes=0-{}", SNIFF_BYTES - 1);
        let response = match self.agent.get(url).set("Range", &range).call() {
            Ok(r) => r,
            Err(ureq::Error::Status(status, _)) => {
                return Err(failure(format!(
                    "{url} answered HTTP {status}; the media must be publicly readable"
                )));
            }
            Err(ureq::Error::Transport(t)) => {
                return Err(failure(format!("{url} cannot be reached: {t}")));
            }
        };
        // `Content-Range: bytes 0-15/12345` gives the whole length; a plain 200 its own.
        let length = match response.header("content-range") {
            Some(range) => range.rsplit('/').next().and_then(|t| t.trim().parse().ok()),
            None => response
                .header("content-length")
                .and_then(|v| v.parse().ok()),
        };
        let served = response.content_type().to_string();
        let mut head = Vec::with_capacity(SNIFF_BYTES);
        response
            .into_reader()
            .take(SNIFF_BYTES as u64)
            .read_to_end(&mut head)
            .map_err(|e| failure(format!("reading {url} failed: {e}")))?;
        Ok(MediaInfo {
            content_type: decide_type(&served, &head),
            length,
        })
    }
}

impl MediaFetcher {
    /// The first `HEADER_BYTES` of an image (a ranged GET; a server that ignores the range is
    /// read no further), its type and the whole file's size where the server says it.
    pub fn image_facts(&self, url: &str) -> Result<super::image_header::ImageFacts, ProviderError> {
        use super::image_header::{HEADER_BYTES, ImageFacts, dimensions};
        use std::io::Read as _;
        Self::check_scheme(url)?;
        let response = self.get(
            self.agent
                .get(url)
                .set("Range", &format!("bytes=0-{}", HEADER_BYTES - 1)),
            url,
        )?;
        let content_type = response.content_type().to_string();
        // "bytes 0-131071/9000000": the total after the slash; a 200 has it as its length.
        let total_bytes = if response.status() == 206 {
            response
                .header("content-range")
                .and_then(|range| range.rsplit('/').next())
                .and_then(|total| total.trim().parse().ok())
        } else {
            response
                .header("content-length")
                .and_then(|v| v.trim().parse().ok())
        };
        let mut head = Vec::new();
        response
            .into_reader()
            .take(HEADER_BYTES)
            .read_to_end(&mut head)
            .map_err(|e| failure(format!("reading {url} failed: {e}")))?;
        Ok(ImageFacts {
            url: url.to_string(),
            content_type,
            total_bytes,
            dimensions: dimensions(&head),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal_address(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111", "8.8.8.8"] {
            assert!(!is_internal_address(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn magic_numbers_decide_over_generic_or_wrong_headers() {
        let mut mp4 = vec![0, 0, 0, 0x18];
        mp4.extend_from_slice(b"ftypisom\0\0\0\0");
        let mut mov = vec![0, 0, 0, 0x14];
        mov.extend_from_slice(b"ftypqt  \0\0\0\0");
        let cases: [(&[u8], &str); 6] = [
            (&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10], "image/jpeg"),
            (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "image/png"),
            (b"GIF89a\x01\0\x01\0", "image/gif"),
            (b"RIFF\x1a\0\0\0WEBPVP8L", "image/webp"),
            (&mp4, "video/mp4"),
            (&mov, "video/quicktime"),
        ];
        for (head, expected) in cases {
            assert_eq!(sniff(head), Some(expected));
            assert_eq!(decide_type("application/octet-stream", head), expected);
            assert_eq!(decide_type("binary/octet-stream", head), expected);
        }
        // A header that disagrees loses; one that agrees (or names the other ISO format)
        // stands; unknown bytes keep the header.
        assert_eq!(decide_type("image/png", &[0xFF, 0xD8, 0xFF]), "image/jpeg");
        assert_eq!(decide_type("video/quicktime; x=1", &mp4), "video/quicktime");
        assert_eq!(decide_type("Image/PNG", b"\x89PNG\r\n\x1a\n"), "image/png");
        assert_eq!(
            decide_type("application/octet-stream", b"hello"),
            "application/octet-stream"
        );
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVE"), None);
    }

    #[test]
    fn the_cap_grows_with_the_size() {
        let limits = MediaLimits {
            max_bytes: 1 << 30,
            read_timeout: Duration::from_secs(30),
            transfer_base: Duration::from_secs(60),
            min_bytes_per_sec: 1000,
            spool_dir: None,
        };
        assert_eq!(limits.cap_for(0), Duration::from_secs(60));
        assert_eq!(limits.cap_for(40_000), Duration::from_secs(100));
    }

    #[test]
    fn loopback_media_is_refused_unless_allowed() {
        let fetcher = MediaFetcher::new(false, 1024, Duration::from_secs(2));
        let err = fetcher
            .fetch("http://127.0.0.1:9/x.png", &[MediaKind::Image])
            .unwrap_err();
        assert!(
            err.message().contains("private, loopback or link-local"),
            "{err:?}"
        );
        let err = fetcher.probe("http://localhost:9/x.png").unwrap_err();
        assert!(
            err.message().contains("private, loopback or link-local"),
            "{err:?}"
        );
        assert!(
            fetcher
                .fetch("file:///etc/passwd", &[MediaKind::Image])
                .is_err()
        );
    }
}
