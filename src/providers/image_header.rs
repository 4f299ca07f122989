//! An image's pixel size from its first bytes: the JPEG frame header (SOF) and the PNG IHDR
//! chunk. Platforms with rules on dimensions (Instagram's aspect ratio) are checked with it
//! before a post is stored or charged, from a short ranged read instead of a whole download.
//! It knows nothing of any platform's rules.

/// How many bytes of an image are read to find its size: a JPEG's frame header follows its
/// EXIF and ICC segments, which are rarely longer than this.
pub const HEADER_BYTES: u64 = 128 * 1024;

/// What a ranged read of an image found.
#[derive(Debug, Clone)]
pub struct ImageFacts {
    pub url: String,
    pub content_type: String,
    /// The whole file's size, when the server said it (Content-Range or Content-Length).
    pub total_bytes: Option<u64>,
    /// (width, height) in pixels, when the first bytes held a JPEG or PNG header.
    pub dimensions: Option<(u32, u32)>,
}

/// (width, height) of a JPEG or PNG from its first bytes; `None` for other formats or when
/// the header is not within `bytes`.
pub fn dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return png_dimensions(bytes);
    }
    if bytes.starts_with(&[0xFF, 0xD8]) {
        return jpeg_dimensions(bytes);
    }
    None
}

/// PNG: the signature, then the IHDR chunk (length, "IHDR", width, height as big-endian u32).
fn png_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    let width = u32::from_be_bytes(bytes.get(16..20)?.try_into().ok()?);
    let height = u32::from_be_bytes(bytes.get(20..24)?.try_into().ok()?);
    Some((width, height))
}

/// JPEG: walks the marker segments after SOI to the first start-of-frame (SOF0 to SOF15 but
/// DHT C4, JPG C8 and DAC CC), whose payload is precision, height, width.
fn jpeg_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let mut at = 2;
    loop {
        // Fill bytes (0xFF) may precede a marker.
        while *bytes.get(at)? == 0xFF && *bytes.get(at + 1)? == 0xFF {
            at += 1;
        }
        if *bytes.get(at)? != 0xFF {
            return None;
        }
        let marker = *bytes.get(at + 1)?;
        // Markers without a length: TEM and RST0-7.
        if marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            at += 2;
            continue;
        }
        // Start of scan or end of image before any frame header: not a usable JPEG.
        if marker == 0xDA || marker == 0xD9 {
            return None;
        }
        let length = u16::from_be_bytes([*bytes.get(at + 2)?, *bytes.get(at + 3)?]) as usize;
        if length < 2 {
            return None;
        }
        if (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            let height = u16::from_be_bytes([*bytes.get(at + 5)?, *bytes.get(at + 6)?]);
            let width = u16::from_be_bytes([*bytes.get(at + 7)?, *bytes.get(at + 8)?]);
            return Some((u32::from(width), u32::from(height)));
        }
        at += 2 + length;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(width: u16, height: u16, app_segment: usize) -> Vec<u8> {
        let mut out = vec![0xFF, 0xD8];
        // An APP1 segment (EXIF-like) before the frame header, as cameras write.
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&((app_segment + 2) as u16).to_be_bytes());
        out.extend(std::iter::repeat_n(0u8, app_segment));
        out.extend_from_slice(&[0xFF, 0xC2, 0x00, 0x11, 0x08]);
        out.extend_from_slice(&height.to_be_bytes());
        out.extend_from_slice(&width.to_be_bytes());
        out.extend_from_slice(&[0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01]);
        out.extend_from_slice(&[0xFF, 0xD9]);
        out
    }

    #[test]
    fn jpeg_frame_headers_give_width_and_height() {
        assert_eq!(dimensions(&jpeg(1080, 1350, 5000)), Some((1080, 1350)));
        assert_eq!(dimensions(&jpeg(4032, 3024, 0)), Some((4032, 3024)));
        // The header cut off: unknown, not wrong.
        assert_eq!(dimensions(&jpeg(1080, 1350, 5000)[..3000]), None);
    }

    #[test]
    fn png_ihdr_gives_width_and_height() {
        let mut png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
        png.extend_from_slice(&640u32.to_be_bytes());
        png.extend_from_slice(&480u32.to_be_bytes());
        assert_eq!(dimensions(&png), Some((640, 480)));
        assert_eq!(dimensions(b"GIF89a"), None);
    }
}
