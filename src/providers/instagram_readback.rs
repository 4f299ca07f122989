//! Reading an interrupted Instagram publish back (`Provider::find_published`): the stored
//! container's `status_code` when the interrupted attempt had one (`PUBLISHED`, or never
//! published: `FINISHED` / `IN_PROGRESS` / `ERROR` / `EXPIRED`), else the account's media list
//! (`GET /{ig-user-id}/media` with `since`, newest first, developers.facebook.com/docs/
//! instagram-basic-display-api/reference/user/media: "a Unix timestamp ... that points to the
//! start of a range of time-based data"), matched on the caption and the kind of media. Reading
//! the list needs `instagram_business_basic`, which every connection was asked for.

use super::graph::{self, GraphError};
use super::instagram::{Auth, Instagram};
use super::{CallKind, LookUp, MediaKind, ProviderError, Published, ReadBack};
use chrono::Duration;
use serde_json::Value;

/// Pages of the media list read at most (`limit` items each): a window an interrupted
/// delivery leaves is minutes long, so more than this many posts in it means "cannot tell".
const MAX_PAGES: usize = 4;
const PAGE_SIZE: &str = "50";

/// Clocks differ: the window starts this much before the interrupted attempt.
const CLOCK_SLACK_SECS: i64 = 120;

impl Instagram {
    pub(super) fn read_back(&self, look: &LookUp) -> Result<ReadBack, ProviderError> {
        let auth = Auth::of(&look.request);
        if let Some(container) = look
            .resume_state
            .filter(|state| state["stage"] == "container")
            .and_then(|state| state["container"].as_str())
        {
            let body = self.get(
                container,
                &[("fields", "status_code,status")],
                auth,
                CallKind::SafeToRetry,
            )?;
            match body["status_code"].as_str().unwrap_or_default() {
                "PUBLISHED" => {
                    return match self.search_media(look, auth)? {
                        found @ ReadBack::Found(_) => Ok(found),
                        _ => Ok(ReadBack::Unknowable {
                            reason: format!(
                                "Instagram says container {container} was published, but its media is not in the account's media list yet"
                            ),
                        }),
                    };
                }
                // A container that was never named in `media_publish` is not on the account;
                // publishing again goes on with the same container.
                "FINISHED" | "IN_PROGRESS" | "ERROR" | "EXPIRED" => return Ok(ReadBack::Absent),
                _ => {}
            }
        }
        // No container to ask (the interrupted call created it, or a carousel's parent), or
        // one in no state we know: the media list decides.
        self.search_media(look, auth)
    }

    /// The account's media created since the window began, newest first, until an older one
    /// shows that the whole window was read.
    fn search_media(&self, look: &LookUp, auth: Auth) -> Result<ReadBack, ProviderError> {
        let request = &look.request;
        let start = look.since - Duration::seconds(CLOCK_SLACK_SECS);
        let since = start.timestamp().to_string();
        let wanted = wanted_type(request.options, request.post.media_kind);
        let path = format!("{}/media", request.account.id);
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut pairs = vec![
                ("fields", "id,caption,media_type,timestamp,permalink"),
                ("since", since.as_str()),
                ("limit", PAGE_SIZE),
            ];
            if let Some(cursor) = &after {
                pairs.push(("after", cursor.as_str()));
            }
            let answer = self.get_answer(&path, &pairs, auth, CallKind::SafeToRetry)?;
            if answer.status != 200 {
                let error = GraphError::read(&answer);
                // (#10) / 200-299: the connection lacks the read permission.
                if matches!(error.code, Some(10 | 200..=299)) {
                    return Ok(ReadBack::Unknowable {
                        reason: format!(
                            "Instagram refused to list the account's media ({}); the connection needs instagram_business_basic: reconnect it",
                            error.describe()
                        ),
                    });
                }
                return Err(super::instagram::classify(&answer));
            }
            let body = answer.json();
            let items = body["data"].as_array().cloned().unwrap_or_default();
            let mut reached_older = false;
            for item in &items {
                let Some(at) = item["timestamp"].as_str().and_then(graph::parse_time) else {
                    continue;
                };
                if at < start {
                    reached_older = true;
                    continue;
                }
                let caption = item["caption"].as_str().unwrap_or_default();
                let kind = item["media_type"].as_str().unwrap_or_default();
                if caption.trim() == request.post.text.trim() && wanted.contains(&kind) {
                    let Some(id) = graph::id_string(&item["id"]) else {
                        continue;
                    };
                    return Ok(ReadBack::Found(Published {
                        external_id: id,
                        url: item["permalink"].as_str().map(str::to_string),
                    }));
                }
            }
            let next = body["paging"]["cursors"]["after"]
                .as_str()
                .filter(|_| body["paging"]["next"].is_string())
                .map(str::to_string);
            match next {
                Some(cursor) if !reached_older && !items.is_empty() => after = Some(cursor),
                // The list ended, or went past the window's start: nothing of ours in it.
                _ => return Ok(ReadBack::Absent),
            }
        }
        Ok(ReadBack::Unknowable {
            reason: format!(
                "the Instagram account created more than {} media since {}; read-back stops there",
                MAX_PAGES * 50,
                look.since.to_rfc3339()
            ),
        })
    }
}

/// The `media_type` values the post can have on Instagram: a carousel is `CAROUSEL_ALBUM`, a
/// reel `VIDEO` (with `media_product_type` REELS), an image `IMAGE`.
fn wanted_type(
    options: &serde_json::Map<String, Value>,
    kind: Option<MediaKind>,
) -> &'static [&'static str] {
    if options
        .get("carouselUrls")
        .and_then(Value::as_array)
        .is_some_and(|urls| !urls.is_empty())
    {
        return &["CAROUSEL_ALBUM"];
    }
    match kind {
        Some(MediaKind::Video) => &["VIDEO", "REELS"],
        _ => &["IMAGE"],
    }
}
