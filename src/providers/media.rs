//! Fetching media that a platform needs uploaded (`mediaUrl`, `thumbnailUrl`), and checking a
//! URL that a platform will fetch itself: a size cap, a timeout, a content-type check, and no
//! request to loopback, private or link-local addresses unless the instance allows them
//! (`serve --sandbox` does, so tests and demos can serve media on 127.0.0.1).
//!
//! The address check sits in the resolver every connection goes through, redirects included,
//! so a hostname that resolves (or re-resolves) to a private address is refused too.

use super::{MediaKind, ProviderError};
use crate::error::Code;
use std::io::Read;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

pub struct MediaFetcher {
    agent: ureq::Agent,
    max_bytes: u64,
    allow_private: bool,
}

#[derive(Clone)]
pub struct MediaBlob {
    pub bytes: Vec<u8>,
    pub content_type: String,
}

impl std::fmt::Debug for MediaBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "MediaBlob({} bytes of {})",
            self.bytes.len(),
            self.content_type
        )
    }
}

#[derive(Debug, Clone)]
pub struct MediaInfo {
    pub content_type: String,
    pub length: Option<u64>,
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

struct GuardedResolver {
    allow_private: bool,
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
    pub fn new(allow_private: bool, max_bytes: u64, timeout: Duration) -> Self {
        let agent = ureq::AgentBuilder::new()
            .resolver(GuardedResolver { allow_private })
            .timeout_connect(Duration::from_secs(5))
            .timeout(timeout)
            .redirects(3)
            .user_agent(concat!(
                "mypostshare/",
                env!("CARGO_PKG_VERSION"),
                " (media fetch)"
            ))
            .build();
        Self {
            agent,
            max_bytes,
            allow_private,
        }
    }

    pub fn allows_private(&self) -> bool {
        self.allow_private
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

    /// Downloads media of one of `accept` kinds, at most the size cap.
    pub fn fetch(&self, url: &str, accept: &[MediaKind]) -> Result<MediaBlob, ProviderError> {
        Self::check_scheme(url)?;
        let response = self.get(self.agent.get(url), url)?;
        let content_type = response.content_type().to_string();
        let kind = super::rules::media_kind_from_content_type(&content_type);
        if !kind.is_some_and(|k| accept.contains(&k)) {
            let wanted: Vec<&str> = accept.iter().map(|k| k.as_str()).collect();
            return Err(failure(format!(
                "{url} is served as {content_type:?}, not {}",
                wanted.join(" or ")
            )));
        }
        if let Some(length) = response
            .header("content-length")
            .and_then(|v| v.parse::<u64>().ok())
            && length > self.max_bytes
        {
            return Err(failure(format!(
                "{url} is {length} bytes; the limit is {}",
                self.max_bytes
            )));
        }
        let mut bytes = Vec::new();
        response
            .into_reader()
            .take(self.max_bytes + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| failure(format!("reading {url} failed: {e}")))?;
        if bytes.len() as u64 > self.max_bytes {
            return Err(failure(format!(
                "{url} is larger than the limit of {} bytes",
                self.max_bytes
            )));
        }
        if bytes.is_empty() {
            return Err(failure(format!("{url} is empty")));
        }
        Ok(MediaBlob {
            bytes,
            content_type,
        })
    }

    /// Checks that a URL a platform will fetch itself answers, and says what it serves.
    pub fn probe(&self, url: &str) -> Result<MediaInfo, ProviderError> {
        Self::check_scheme(url)?;
        let response = match self.agent.head(url).call() {
            Ok(r) => r,
            // Some servers refuse HEAD: ask for the first byte instead.
            Err(ureq::Error::Status(405 | 403 | 501, _)) => {
                self.get(self.agent.get(url).set("Range", "bytes=0-0"), url)?
            }
            Err(ureq::Error::Status(status, _)) => {
                return Err(failure(format!(
                    "{url} answered HTTP {status}; the media must be publicly readable"
                )));
            }
            Err(ureq::Error::Transport(t)) => {
                return Err(failure(format!("{url} cannot be reached: {t}")));
            }
        };
        Ok(MediaInfo {
            content_type: response.content_type().to_string(),
            length: response
                .header("content-length")
                .and_then(|v| v.parse().ok()),
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
