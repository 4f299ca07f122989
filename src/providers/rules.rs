//! Shared building blocks of the platforms' `validate` rules, so every platform words the same
//! mistake the same way and uses the same error code.

use super::{MediaKind, Platform, PostContent};
use crate::error::{Code, Error};
use serde_json::{Map, Value};

/// Text over the platform's limit; `length` is what the platform counts.
pub fn text_within(
    platform: Platform,
    length: usize,
    limit: usize,
    what: &str,
) -> Result<(), Error> {
    if length > limit {
        return Err(Error::new(
            Code::ContentTooLong,
            format!(
                "{what} is {length} characters as {} counts them; {} allows at most {limit}. Shorten it or leave {} out.",
                platform.display_name(),
                platform.key(),
                platform.key()
            ),
        ));
    }
    Ok(())
}

/// The post's text counted in Unicode characters.
pub fn char_count(text: &str) -> usize {
    text.chars().count()
}

/// Refuses option keys the platform does not know.
pub fn known_options(
    platform: Platform,
    options: &Map<String, Value>,
    known: &[&str],
) -> Result<(), Error> {
    if let Some(unknown) = options.keys().find(|k| !known.contains(&k.as_str())) {
        let list = if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        };
        return Err(Error::validation(format!(
            "platformOptions.{}.{unknown} is not an option of {}; its options are: {list}.",
            platform.key(),
            platform.key()
        )));
    }
    Ok(())
}

/// The appliance's own limit for a URL where the platform documents none: the same as for
/// `mediaUrl` and `thumbnailUrl`, the length browsers and most servers accept.
pub const MAX_URL_CHARS: usize = 2048;

/// `n` with thousands separators ("2,048"), as the messages quote limits.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// An absolute http(s) URL with a host, the only kind a platform can fetch or link to.
pub fn is_http_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    rest.and_then(|rest| rest.split(['/', '?', '#']).next())
        .is_some_and(|host| !host.is_empty())
}

/// An optional string option that must follow `rule`, the platform's documented rule in
/// words ("an absolute http(s) URL of at most 2,048 characters"), which `fits` checks. A value
/// that does not fit is refused with a message naming the rule, so the caller learns what the
/// platform accepts instead of a generic "must be a string".
pub fn option_matching<'a>(
    platform: Platform,
    options: &'a Map<String, Value>,
    key: &str,
    rule: &str,
    fits: impl Fn(&str) -> bool,
) -> Result<Option<&'a str>, Error> {
    match options.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if fits(s) => Ok(Some(s.as_str())),
        Some(other) => Err(Error::validation(format!(
            "platformOptions.{}.{key} must be {rule}; {}.",
            platform.key(),
            described(other)
        ))),
    }
}

/// Free text (alt text and the like): not blank, at most `max_chars` Unicode characters, the
/// way the platforms that document these limits count them.
pub fn text_option<'a>(
    platform: Platform,
    options: &'a Map<String, Value>,
    key: &str,
    max_chars: usize,
) -> Result<Option<&'a str>, Error> {
    let rule = format!(
        "a non-blank text of at most {} characters",
        thousands(max_chars)
    );
    option_matching(platform, options, key, &rule, |s| {
        !s.trim().is_empty() && char_count(s) <= max_chars
    })
}

/// An absolute http(s) URL of at most `max_chars` characters.
pub fn url_option<'a>(
    platform: Platform,
    options: &'a Map<String, Value>,
    key: &str,
    max_chars: usize,
) -> Result<Option<&'a str>, Error> {
    let rule = format!(
        "an absolute http(s) URL of at most {} characters",
        thousands(max_chars)
    );
    option_matching(platform, options, key, &rule, |s| {
        is_http_url(s) && char_count(s) <= max_chars
    })
}

/// A numeric id (digits only), as the platforms that give ids as numeric strings document
/// them; `what` names the id and where to find it.
pub fn digits_option<'a>(
    platform: Platform,
    options: &'a Map<String, Value>,
    key: &str,
    what: &str,
) -> Result<Option<&'a str>, Error> {
    let rule = format!("{what} (digits only)");
    option_matching(platform, options, key, &rule, |s| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
    })
}

/// An optional string option restricted to `allowed` values (the platform's enum).
pub fn choice_option<'a>(
    platform: Platform,
    options: &'a Map<String, Value>,
    key: &str,
    allowed: &[&str],
) -> Result<Option<&'a str>, Error> {
    let rule = format!("one of {}", allowed.join(", "));
    option_matching(platform, options, key, &rule, |s| allowed.contains(&s))
}

/// What was sent instead, for the message: short strings quoted, long ones by their length
/// (echoing 2,049 characters back helps no one), other JSON by its kind.
fn described(value: &Value) -> String {
    match value {
        Value::String(s) if char_count(s) > 80 => {
            format!("it is {} characters long", thousands(char_count(s)))
        }
        Value::String(s) => format!("got {s:?}"),
        Value::Null => "got null".into(),
        Value::Bool(_) => "got a boolean".into(),
        Value::Number(_) => "got a number".into(),
        Value::Array(_) => "got an array".into(),
        Value::Object(_) => "got an object".into(),
    }
}

/// The post must carry media of one of `kinds`.
pub fn media_required(
    platform: Platform,
    post: &PostContent,
    kinds: &[MediaKind],
) -> Result<(), Error> {
    let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    match post.media_kind {
        None => Err(Error::new(
            Code::MediaRequired,
            format!(
                "{} needs media: send mediaUrl pointing at {}.",
                platform.display_name(),
                names.join(" or ")
            ),
        )),
        Some(kind) => media_allowed(platform, kind, kinds),
    }
}

/// When the post carries media, it must be one of `kinds` (empty: no media at all).
pub fn media_optional(
    platform: Platform,
    post: &PostContent,
    kinds: &[MediaKind],
) -> Result<(), Error> {
    match post.media_kind {
        None => Ok(()),
        Some(kind) => media_allowed(platform, kind, kinds),
    }
}

fn media_allowed(platform: Platform, kind: MediaKind, kinds: &[MediaKind]) -> Result<(), Error> {
    if kinds.contains(&kind) {
        return Ok(());
    }
    let what = if kinds.is_empty() {
        "no media".to_string()
    } else {
        kinds
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(" or ")
    };
    Err(Error::new(
        Code::UnsupportedMediaType,
        format!(
            "{} takes {what} here, and mediaUrl points at {}. Send another mediaUrl or leave {} out.",
            platform.display_name(),
            kind.as_str(),
            platform.key()
        ),
    ))
}

/// A title is required (and at most `max` characters).
pub fn title_required(platform: Platform, post: &PostContent, max: usize) -> Result<(), Error> {
    match &post.title {
        None => Err(Error::new(
            Code::TitleRequired,
            format!(
                "{} needs a title: send title (at most {max} characters).",
                platform.display_name()
            ),
        )),
        Some(title) => text_within(platform, char_count(title), max, "title"),
    }
}

/// thumbnailUrl only makes sense with a video.
pub fn thumbnail_only_with_video(platform: Platform, post: &PostContent) -> Result<(), Error> {
    if post.thumbnail_url.is_some() && post.media_kind != Some(MediaKind::Video) {
        return Err(Error::new(
            Code::UnsupportedMediaType,
            format!(
                "thumbnailUrl is used only with a video mediaUrl on {}; leave it out.",
                platform.key()
            ),
        ));
    }
    Ok(())
}

/// What a media URL points at, judged from its path's extension; `None` when it does not say.
pub fn media_kind_from_url(url: &str) -> Option<MediaKind> {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    let ext = path.rsplit('/').next()?.rsplit_once('.')?.1.to_string();
    match ext.as_str() {
        "jpg" | "jpeg" | "png" | "gif" | "webp" | "bmp" | "heic" => Some(MediaKind::Image),
        "mp4" | "mov" | "m4v" | "webm" | "avi" | "mpeg" | "mpg" => Some(MediaKind::Video),
        _ => None,
    }
}

/// What a content type says the media is.
pub fn media_kind_from_content_type(content_type: &str) -> Option<MediaKind> {
    let ct = content_type.trim().to_ascii_lowercase();
    if ct.starts_with("image/") {
        Some(MediaKind::Image)
    } else if ct.starts_with("video/") {
        Some(MediaKind::Video)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_quoted_with_thousands_separators() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(500), "500");
        assert_eq!(thousands(2048), "2,048");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn only_absolute_http_urls_with_a_host_count_as_urls() {
        assert!(is_http_url("https://example.com"));
        assert!(is_http_url("HTTP://example.com/a?b#c"));
        assert!(!is_http_url("https://"));
        assert!(!is_http_url("https:///path"));
        assert!(!is_http_url("ftp://example.com/"));
        assert!(!is_http_url("example.com"));
    }

    #[test]
    fn media_kind_reads_the_extension_not_the_query() {
        assert_eq!(
            media_kind_from_url("https://cdn.example/a/b.JPG?x=1.mp4"),
            Some(MediaKind::Image)
        );
        assert_eq!(
            media_kind_from_url("https://cdn.example/clip.mp4"),
            Some(MediaKind::Video)
        );
        assert_eq!(
            media_kind_from_url("https://cdn.example/download?id=3"),
            None
        );
    }
}
