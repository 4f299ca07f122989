//! Sample media the simulator serves at `/_sim/media/{name}` so that a post with a `mediaUrl`
//! can be tried end to end with no file host: `sample.png`, `sample.jpg`, `sample.gif`, and `sample.mp4`
//! (`?bytes=N` makes the video N bytes long, to exercise chunked and multi-part uploads).

use crate::crypto::base64url_decode;
use httpkit::{Request, Response};

/// Largest generated sample, so a typo cannot allocate gigabytes.
const MAX_SAMPLE_BYTES: usize = 64 * 1024 * 1024;

const PNG_1X1: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg";
/// The smallest baseline JPEG (1x1), for platforms that take JPEG only (Instagram).
const JPEG_1X1: &str = "_9j_4AAQSkZJRgABAQEASABIAAD_2wBDAP__________________________________________________________________________________________wgALCAABAAEBAREA_8QAFBABAAAAAAAAAAAAAAAAAAAAAP_aAAgBAQABPxD_2Q";
const GIF_1X1: &str = "R0lGODlhAQABAIAAAAAAAP___yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";

/// An MP4-shaped file: an `ftyp` box, then an `mdat` box of filler up to `len` bytes. The
/// simulators check sizes and types, not pixels.
pub fn sample_mp4(len: usize) -> Vec<u8> {
    let len = len.clamp(64, MAX_SAMPLE_BYTES);
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(&[0, 0, 0, 0x18]);
    out.extend_from_slice(b"ftypmp42");
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(b"mp42isom");
    let mdat = (len - out.len()) as u32;
    out.extend_from_slice(&mdat.to_be_bytes());
    out.extend_from_slice(b"mdat");
    out.extend((0..len - out.len()).map(|i| (i % 251) as u8));
    out
}

pub fn serve(request: &Request, name: &str) -> Option<Response> {
    let (body, content_type) = match name {
        "sample.png" => (base64url_decode(PNG_1X1)?, "image/png"),
        "sample.gif" => (base64url_decode(GIF_1X1)?, "image/gif"),
        "sample.jpg" => (base64url_decode(JPEG_1X1)?, "image/jpeg"),
        "sample.mp4" => {
            let len = request
                .query_param("bytes")
                .and_then(|b| b.parse().ok())
                .unwrap_or(256 * 1024);
            (sample_mp4(len), "video/mp4")
        }
        _ => return None,
    };
    Some(
        Response::new(200)
            .with_header("Content-Type", content_type)
            .with_body(body),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_have_their_formats_magic_numbers() {
        let png = serve(&Request::new("GET", "/_sim/media/sample.png"), "sample.png").unwrap();
        assert_eq!(&png.body[1..4], b"PNG");
        let mp4 = serve(
            &Request::new("GET", "/_sim/media/sample.mp4?bytes=5000"),
            "sample.mp4",
        )
        .unwrap();
        assert_eq!(mp4.body.len(), 5000);
        assert_eq!(&mp4.body[4..8], b"ftyp");
    }
}
