//! X: reading back an interrupted publish from the account's own Posts timeline
//! (`GET /2/users/:id/tweets`, scopes `tweet.read users.read`), and deleting a post
//! (`DELETE /2/tweets/:id`, scopes `tweet.read tweet.write users.read`). Every scope is one
//! the connect flow already asks for, so no connection has to be made again.
//!
//! A post is found when one of the account's posts created in the window carries the media
//! id the interrupted attempt uploaded (its `media_key` ends with it), or, once the whole
//! window is read, when exactly one matches the text as X stores it (links as t.co links,
//! `&<>` HTML-escaped, a trailing t.co link to attached media) with the same kind of media.
//! It is certainly absent when X listed every post of the window (the last page has no
//! `next_token`) and none matches; two or more matches cannot be told apart.

use super::{Twitter, classify_api_error, post_url};
use crate::error::Code;
use crate::http::{append_query, percent_encode};
use crate::providers::{
    CallKind, DeleteRequest, Deletion, LookUp, MediaKind, PostContent, ProviderError, Published,
    ReadBack, send,
};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde_json::Value;
use std::collections::HashMap;
use unicode_normalization::UnicodeNormalization;

/// Posts per page, X's largest `max_results`.
const PAGE_SIZE: &str = "100";

/// Pages read before the window counts as too busy to be sure of (500 posts).
const MAX_PAGES: usize = 5;

/// How much earlier than the interrupted attempt the window starts: X stamps a post with its
/// own clock, which may differ a little from ours.
const CLOCK_MARGIN_SECONDS: i64 = 60;

/// Stands for a link on both sides of the comparison: X replaces every link with a t.co
/// link of its own, so only where links are can be compared, not what they say.
const LINK: char = '\u{1}';

pub(super) fn find_published(x: &Twitter, look: &LookUp) -> Result<ReadBack, ProviderError> {
    let request = &look.request;
    let start = window_start(look.since);
    let media_id = look
        .resume_state
        .and_then(|state| state["mediaId"].as_str())
        .filter(|id| !id.is_empty());
    let wanted = Wanted::of(request.post, media_id);
    let url = x.api(&format!(
        "users/{}/tweets",
        percent_encode(&request.account.id)
    ));
    let mut next_token: Option<String> = None;
    let mut matches: Vec<String> = Vec::new();
    for _ in 0..MAX_PAGES {
        let mut pairs = vec![
            ("max_results", PAGE_SIZE),
            ("start_time", start.as_str()),
            ("tweet.fields", "created_at,attachments"),
            ("expansions", "attachments.media_keys"),
            ("media.fields", "type"),
        ];
        if let Some(token) = &next_token {
            pairs.push(("pagination_token", token));
        }
        let answer = send(
            x.bearer(
                x.agent.get(&append_query(&url, &pairs)),
                request.access_token,
            ),
            None,
            CallKind::SafeToRetry,
        )?;
        if answer.status == 403 {
            return Ok(ReadBack::Unknowable {
                reason: format!(
                    "X refused to list the account's posts (HTTP 403: {}); listing needs the tweet.read and users.read scopes: reconnect the X account",
                    super::problem_text(&answer)
                ),
            });
        }
        if !(200..300).contains(&answer.status) {
            return Err(classify_api_error(&answer));
        }
        let page = answer.json();
        let media_types: HashMap<&str, &str> = page["includes"]["media"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| Some((m["media_key"].as_str()?, m["type"].as_str()?)))
            .collect();
        for tweet in page["data"].as_array().into_iter().flatten() {
            let Some(id) = tweet["id"].as_str() else {
                continue;
            };
            match wanted.evidence(tweet, &media_types) {
                Evidence::UploadedMedia => return Ok(found(request, id)),
                Evidence::SameContent => matches.push(id.to_string()),
                Evidence::None => {}
            }
        }
        match page["meta"]["next_token"].as_str() {
            Some(token) if !token.is_empty() => next_token = Some(token.to_string()),
            // X listed every post since the window's start.
            _ => {
                return Ok(match matches.as_slice() {
                    [] => ReadBack::Absent,
                    [id] => found(request, id),
                    _ => ReadBack::Unknowable {
                        reason: format!(
                            "the X account has {} posts with this content since {start}; which one this delivery made cannot be told",
                            matches.len()
                        ),
                    },
                });
            }
        }
    }
    Ok(ReadBack::Unknowable {
        reason: format!(
            "the X account has more than {} posts since {start}, more than read back looks through",
            MAX_PAGES * 100
        ),
    })
}

fn found(request: &crate::providers::PublishRequest, id: &str) -> ReadBack {
    ReadBack::Found(Published {
        url: Some(post_url(request.account.username.as_deref(), id)),
        external_id: id.to_string(),
    })
}

pub(super) fn delete_post(x: &Twitter, request: &DeleteRequest) -> Result<Deletion, ProviderError> {
    let id = request.external_id;
    if id.is_empty() || id.len() > 19 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ProviderError::Rejected {
            code: Code::PlatformRejected,
            message: format!("{id:?} is not an X post id (1 to 19 digits)"),
        });
    }
    let answer = send(
        x.bearer(
            x.agent.delete(&x.api(&format!("tweets/{id}"))),
            request.call.access_token,
        ),
        None,
        CallKind::SafeToRetry,
    )?;
    match answer.status {
        200..=299 => match answer.json()["data"]["deleted"].as_bool() {
            Some(true) => Ok(Deletion::Deleted),
            // "Whether the post was deleted as a result of this request": it was not there.
            Some(false) => Ok(Deletion::AlreadyGone),
            None => Err(ProviderError::Unknown {
                message: "X answered the delete without data.deleted".into(),
            }),
        },
        404 => Ok(Deletion::AlreadyGone),
        403 => Err(ProviderError::Rejected {
            code: Code::PlatformRejected,
            message: format!(
                "X refused to delete post {id}: {} (only the account that created a post deletes it, with the tweet.write scope)",
                super::problem_text(&answer)
            ),
        }),
        _ => Err(classify_api_error(&answer)),
    }
}

/// `start_time` in X's form: whole seconds, `Z`.
fn window_start(since: DateTime<Utc>) -> String {
    (since - Duration::seconds(CLOCK_MARGIN_SECONDS))
        .trunc_subsecs(0)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// What the interrupted attempt sent, in the form it is compared in.
struct Wanted<'a> {
    text: String,
    media: Option<MediaKind>,
    /// The media the attempt uploaded, when the stored state names it.
    media_id: Option<&'a str>,
}

impl<'a> Wanted<'a> {
    fn of(post: &PostContent, media_id: Option<&'a str>) -> Self {
        Self {
            text: comparable(&post.text),
            media: post
                .media_url
                .as_ref()
                .map(|_| post.media_kind.unwrap_or(MediaKind::Image)),
            media_id,
        }
    }

    /// What `tweet` says about being the post we sent.
    fn evidence(&self, tweet: &Value, media_types: &HashMap<&str, &str>) -> Evidence {
        let keys: Vec<&str> = tweet["attachments"]["media_keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        // A media id is attached to one post at most: the strongest evidence there is.
        if let Some(id) = self.media_id
            && keys.iter().any(|key| key.rsplit('_').next() == Some(id))
        {
            return Evidence::UploadedMedia;
        }
        let media_fits = match self.media {
            None => keys.is_empty(),
            Some(kind) => {
                keys.len() == 1
                    && media_types
                        .get(keys[0])
                        .is_none_or(|t| kind_of(t) == Some(kind))
            }
        };
        let same_text =
            stored_comparable(tweet["text"].as_str().unwrap_or_default(), !keys.is_empty())
                == self.text;
        if media_fits && same_text {
            Evidence::SameContent
        } else {
            Evidence::None
        }
    }

    #[cfg(test)]
    fn matches(&self, tweet: &Value, media_types: &HashMap<&str, &str>) -> bool {
        self.evidence(tweet, media_types) != Evidence::None
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Evidence {
    /// The post carries the media the interrupted attempt uploaded: it is ours.
    UploadedMedia,
    /// Same text and kind of media: ours, unless another post of the window is the same.
    SameContent,
    None,
}

/// X's media `type` as the kind we publish: GIFs go out as images.
fn kind_of(media_type: &str) -> Option<MediaKind> {
    match media_type {
        "photo" | "animated_gif" => Some(MediaKind::Image),
        "video" => Some(MediaKind::Video),
        _ => None,
    }
}

/// Text in comparable form: NFC (as X stores it), every link (as X's own library finds
/// them, bare domains too) one `LINK`, surrounding whitespace gone.
fn comparable(text: &str) -> String {
    let text: String = text.nfc().collect();
    let links = twitter_text::extractor::Extractor::new().extract_urls(&text);
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    for link in &links {
        if let Some(at) = rest.find(link.as_str()) {
            out.push_str(&rest[..at]);
            out.push(LINK);
            rest = &rest[at + link.len()..];
        }
    }
    out.push_str(rest);
    out.trim().to_string()
}

/// X's stored text in comparable form: its HTML escapes undone, and the t.co link X adds at
/// the end for attached media left out.
fn stored_comparable(text: &str, has_media: bool) -> String {
    let unescaped = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let mut out = comparable(&unescaped);
    if has_media && out.ends_with(LINK) {
        out.pop();
        out = out.trim_end().to_string();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn post(text: &str, media: Option<MediaKind>) -> PostContent {
        PostContent {
            title: None,
            text: text.into(),
            media_url: media.map(|_| "https://cdn.example.com/a".into()),
            thumbnail_url: None,
            media_kind: media,
        }
    }

    fn tweet(text: &str, keys: &[&str]) -> Value {
        json!({"id": "1", "text": text, "attachments": {"media_keys": keys}})
    }

    #[test]
    fn text_matches_as_x_stores_it() {
        let sent = post(
            "Tips & <tricks> at example.com, see https://shop.example.com/a?b=1&c=2 ",
            None,
        );
        let wanted = Wanted::of(&sent, None);
        let stored =
            "Tips &amp; &lt;tricks&gt; at https://t.co/abcdefghij, see https://t.co/0123456789";
        assert!(wanted.matches(&tweet(stored, &[]), &HashMap::new()));
        assert!(!wanted.matches(&tweet("Tips &amp; tricks", &[]), &HashMap::new()));
        // The same text with media attached is another post.
        assert!(!wanted.matches(&tweet(stored, &["3_5"]), &HashMap::new()));
    }

    #[test]
    fn media_posts_match_on_kind_and_the_trailing_media_link() {
        let wanted = Wanted::of(&post("Look", Some(MediaKind::Video)), None);
        let types = HashMap::from([("7_5", "video"), ("3_6", "photo")]);
        assert!(wanted.matches(&tweet("Look https://t.co/abcdefghij", &["7_5"]), &types));
        assert!(!wanted.matches(&tweet("Look https://t.co/abcdefghij", &["3_6"]), &types));
        assert!(!wanted.matches(&tweet("Look", &[]), &types));
        let media_only = Wanted::of(&post("", Some(MediaKind::Image)), None);
        assert!(media_only.matches(&tweet("https://t.co/abcdefghij", &["3_6"]), &types));
    }

    #[test]
    fn the_uploaded_media_id_is_enough() {
        let wanted = Wanted::of(&post("edited elsewhere", Some(MediaKind::Video)), Some("5"));
        assert!(wanted.matches(
            &tweet("something else https://t.co/x", &["7_5"]),
            &HashMap::new()
        ));
        assert!(!wanted.matches(
            &tweet("something else https://t.co/x", &["7_55"]),
            &HashMap::new()
        ));
    }

    #[test]
    fn nfc_and_nfd_text_compare_equal() {
        assert_eq!(comparable("Cafe\u{301}"), comparable("Café"));
    }

    #[test]
    fn the_window_starts_a_minute_early_in_whole_seconds() {
        let since = DateTime::parse_from_rfc3339("2026-03-01T10:00:30.750Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(window_start(since), "2026-03-01T09:59:30Z");
    }
}
