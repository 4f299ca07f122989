//! Shared building blocks of the platforms' `validate` rules, so every platform words the same
//! mistake the same way and uses the same error code.

use super::{MediaKind, Platform, PostContent};
use crate::error::Error;
use serde_json::{Map, Value};

/// Text over the platform's limit; `length` is what the platform counts.
pub fn text_within(
    platform: Platform,
    length: usize,
    limit: usize,
    what: &str,
) -> Result<(), Error> {
    if length > limit {
        return Err(Error::invalid(
            "CONTENT_TOO_LONG",
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

/// An optional string option, non-empty when present.
pub fn string_option<'a>(
    platform: Platform,
    options: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, Error> {
    match options.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 500 => Ok(Some(s.as_str())),
        Some(_) => Err(Error::validation(format!(
            "platformOptions.{}.{key} must be a non-empty string.",
            platform.key()
        ))),
    }
}

/// An optional string option restricted to `allowed` values.
pub fn choice_option<'a>(
    platform: Platform,
    options: &'a Map<String, Value>,
    key: &str,
    allowed: &[&str],
) -> Result<Option<&'a str>, Error> {
    let value = string_option(platform, options, key)?;
    if let Some(v) = value
        && !allowed.contains(&v)
    {
        return Err(Error::validation(format!(
            "platformOptions.{}.{key} must be one of {}; got {v:?}.",
            platform.key(),
            allowed.join(", ")
        )));
    }
    Ok(value)
}

/// The post must carry media of one of `kinds`.
pub fn media_required(
    platform: Platform,
    post: &PostContent,
    kinds: &[MediaKind],
) -> Result<(), Error> {
    let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    match post.media_kind {
        None => Err(Error::invalid(
            "MEDIA_REQUIRED",
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
    Err(Error::invalid(
        "UNSUPPORTED_MEDIA_TYPE",
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
        None => Err(Error::invalid(
            "TITLE_REQUIRED",
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
        return Err(Error::invalid(
            "UNSUPPORTED_MEDIA_TYPE",
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
