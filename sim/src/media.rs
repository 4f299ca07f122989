//! Sample media the simulator serves at `/_sim/media/{name}` so that a post with a `mediaUrl`
//! can be tried end to end with no file host: `sample.png`, `sample.jpg`, `sample.gif`, and `sample.mp4`
//! (`?bytes=N` makes the video N bytes long, to exercise chunked and multi-part uploads;
//! `sample.jpg?width=W&height=H&bytes=N` is a JPEG whose frame header says W x H pixels,
//! padded to N bytes, for the platforms' rules on dimensions and size).

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

/// The 1x1 JPEG with the frame header's size set from `?width=&height=` and filler after its
/// end up to `?bytes=`: enough for a header reader, which is all the simulators are.
fn sample_jpeg(request: &Request) -> Option<Vec<u8>> {
    let mut jpeg = base64url_decode(JPEG_1X1)?;
    let number = |name: &str| {
        request
            .query_param(name)
            .and_then(|v| v.parse::<u16>().ok())
    };
    if let (Some(width), Some(height)) = (number("width"), number("height")) {
        // The sample is progressive: its frame header is SOF2.
        let sof = jpeg
            .windows(2)
            .position(|w| w[0] == 0xFF && matches!(w[1], 0xC0 | 0xC2))?;
        jpeg[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
        jpeg[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    }
    if let Some(len) = request
        .query_param("bytes")
        .and_then(|b| b.parse::<usize>().ok())
    {
        let len = len.min(MAX_SAMPLE_BYTES);
        if len > jpeg.len() {
            jpeg.resize(len, 0);
        }
    }
    Some(jpeg)
}

/// (width, height) from a JPEG's first frame header (SOF0 to SOF15 but C4, C8, CC), as the
/// platforms read it; `None` for anything else.
pub(crate) fn jpeg_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut at = 2;
    while at + 9 <= bytes.len() {
        if bytes[at] != 0xFF {
            return None;
        }
        let marker = bytes[at + 1];
        if marker == 0xFF {
            at += 1;
            continue;
        }
        if marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            at += 2;
            continue;
        }
        if marker == 0xDA || marker == 0xD9 {
            return None;
        }
        if (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            let height = u16::from_be_bytes([bytes[at + 5], bytes[at + 6]]);
            let width = u16::from_be_bytes([bytes[at + 7], bytes[at + 8]]);
            return Some((u32::from(width), u32::from(height)));
        }
        let length = u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) as usize;
        at += 2 + length.max(2);
    }
    None
}

pub fn serve(request: &Request, name: &str) -> Option<Response> {
    let (body, content_type) = match name {
        "sample.png" => (base64url_decode(PNG_1X1)?, "image/png"),
        "sample.gif" => (base64url_decode(GIF_1X1)?, "image/gif"),
        "sample.jpg" => (sample_jpeg(request)?, "image/jpeg"),
        "sample.mp4" => {
            let len = request
                .query_param("bytes")
                .and_then(|b| b.parse().ok())
                .unwrap_or(256 * 1024);
            (sample_mp4(len), "video/mp4")
        }
        _ => return None,
    };
    // `Range: bytes=A-B` as file hosts answer it (206 with Content-Range naming the total),
    // so a client can read an image's header without the whole file.
    let range = request
        .header("range")
        .and_then(|r| r.trim().strip_prefix("bytes="))
        .and_then(|r| r.split_once('-'))
        .and_then(|(a, b)| {
            let start: usize = a.trim().parse().ok()?;
            let end: usize = b.trim().parse().unwrap_or(usize::MAX);
            (start < body.len()).then(|| (start, end.min(body.len() - 1)))
        });
    Some(match range {
        Some((start, end)) if start <= end => Response::new(206)
            .with_header("Content-Type", content_type)
            .with_header(
                "Content-Range",
                &format!("bytes {start}-{end}/{}", body.len()),
            )
            .with_body(body[start..=end].to_vec()),
        _ => Response::new(200)
            .with_header("Content-Type", content_type)
            .with_body(body),
    })
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

    #[test]
    fn sample_jpegs_carry_the_asked_size() {
        let jpeg = serve(
            &Request::new(
                "GET",
                "/_sim/media/sample.jpg?width=1080&height=1920&bytes=9000",
            ),
            "sample.jpg",
        )
        .unwrap();
        assert_eq!(jpeg.body.len(), 9000);
        assert_eq!(jpeg_dimensions(&jpeg.body), Some((1080, 1920)));
        let plain = serve(&Request::new("GET", "/_sim/media/sample.jpg"), "sample.jpg").unwrap();
        assert_eq!(jpeg_dimensions(&plain.body), Some((1, 1)));
    }
}
