//! Threads after a publish: reading back whether an interrupted publish reached Threads
//! (`find_published`) and deleting a published post (`delete_post`).
//!
//! Read-back, best evidence first: a container id stored in the resume state says by its
//! `status` whether it was published (`PUBLISHED`) or not (anything else: resuming it cannot
//! make a second post). Without one, the profile's own posts in the window are listed
//! (`GET /{threads-user-id}/threads?since=...`, which needs only `threads_basic`) and matched
//! on what was sent: the text and the media type. The listing is complete when its last page
//! comes back short; a complete listing without a match means the post is certainly absent.
//! Sources: developers.facebook.com/documentation/threads/reference/user,
//! .../retrieve-and-discover-posts/retrieve-posts, .../posts/delete-posts.

use super::{ContainerStatus, GraphError, Threads, classify_api_error};
use crate::error::Code;
use crate::http::append_query;
use crate::providers::{
    CallKind, DeleteRequest, Deletion, LookUp, MediaKind, ProviderError, Published, ReadBack, send,
};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

/// Posts asked for per page: the reference's maximum.
const PAGE_SIZE: usize = 100;
/// Pages read before giving up on telling (500 posts in the window).
const MAX_PAGES: usize = 5;
/// Posts from this long before the attempt started count too: the interrupted attempt's start
/// is our clock, the post's timestamp Meta's.
const CLOCK_SKEW: Duration = Duration::minutes(2);
/// `since` may not be earlier than this (the reference's lower bound).
const EARLIEST_SINCE: i64 = 1_688_540_400;

/// What the listing of the window found.
enum Listing {
    One(Published),
    None,
    Several(usize),
    TooLong,
}

impl Threads {
    pub(super) fn read_back(&self, look: &LookUp) -> Result<ReadBack, ProviderError> {
        let token = look.request.access_token;
        if let Some(container_id) = look
            .resume_state
            .and_then(|state| state["containerId"].as_str())
            .filter(|id| !id.is_empty())
        {
            match self.container_status(token, container_id) {
                Ok(ContainerStatus::Published) => {
                    // Published: the post's own id is in the list (the container's id is not
                    // the post's); if the list does not show it yet, the container stands in.
                    return Ok(ReadBack::Found(match self.list_window(look)? {
                        Listing::One(published) => published,
                        _ => Published {
                            external_id: container_id.to_string(),
                            url: None,
                        },
                    }));
                }
                // In progress, finished, failed or expired: never published. Resuming from the
                // stored container (kept by the engine) cannot make a second post.
                Ok(_) => return Ok(ReadBack::Absent),
                // A container Threads no longer knows: the list decides.
                Err(ProviderError::Rejected { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(match self.list_window(look)? {
            Listing::One(published) => ReadBack::Found(published),
            Listing::None => ReadBack::Absent,
            Listing::Several(count) => ReadBack::Unknowable {
                reason: format!(
                    "Threads lists {count} posts with this text and media type since the attempt started, so which one this delivery made cannot be told"
                ),
            },
            Listing::TooLong => ReadBack::Unknowable {
                reason: format!(
                    "the Threads profile published more than {} posts since the attempt started; not all of them were read",
                    PAGE_SIZE * MAX_PAGES
                ),
            },
        })
    }

    /// Lists the profile's posts since the attempt started (less the clock skew) and picks
    /// the ones that are this post.
    fn list_window(&self, look: &LookUp) -> Result<Listing, ProviderError> {
        let request = &look.request;
        let since = look.since - CLOCK_SKEW;
        let base = append_query(
            &self.graph(&format!("{}/threads", request.account.id)),
            &[
                ("fields", "id,text,timestamp,permalink,media_type"),
                ("since", &since.timestamp().max(EARLIEST_SINCE).to_string()),
                ("limit", &PAGE_SIZE.to_string()),
            ],
        );
        let media_type = match request.post.media_kind {
            Some(MediaKind::Image) => "IMAGE",
            Some(MediaKind::Video) => "VIDEO",
            None => "TEXT_POST",
        };
        let text = request.post.text.trim();
        let mut matches: Vec<Published> = Vec::new();
        let mut url = base.clone();
        for _ in 0..MAX_PAGES {
            let answer = send(
                self.authed(self.agent.get(&url), request.access_token),
                None,
                CallKind::SafeToRetry,
            )?;
            if answer.status != 200 {
                return Err(classify_api_error(&answer));
            }
            let body = answer.json();
            let items = body["data"].as_array().cloned().unwrap_or_default();
            for item in &items {
                let same = item["media_type"].as_str() == Some(media_type)
                    && item["text"].as_str().unwrap_or_default().trim() == text
                    && posted_at(item).is_some_and(|at| at >= since);
                if let (true, Some(id)) = (same, item["id"].as_str()) {
                    matches.push(Published {
                        external_id: id.to_string(),
                        url: item["permalink"].as_str().map(str::to_string),
                    });
                }
            }
            let after = body["paging"]["cursors"]["after"].as_str();
            match after {
                Some(after) if items.len() >= PAGE_SIZE => {
                    url = append_query(&base, &[("after", after)]);
                }
                // A short page (or no cursor) is the end of the window.
                _ => {
                    return Ok(match matches.len() {
                        0 => Listing::None,
                        1 => Listing::One(matches.remove(0)),
                        n => Listing::Several(n),
                    });
                }
            }
        }
        Ok(Listing::TooLong)
    }

    /// `DELETE /{threads-media-id}` (needs `threads_delete`).
    pub(super) fn delete(&self, request: &DeleteRequest) -> Result<Deletion, ProviderError> {
        let url = self.graph(request.external_id);
        let answer = send(
            self.authed(self.agent.delete(&url), request.call.access_token),
            None,
            // Deleting again cannot publish anything.
            CallKind::SafeToRetry,
        )?;
        if answer.status == 200 {
            return match answer.json()["success"].as_bool() {
                Some(true) => Ok(Deletion::Deleted),
                _ => Err(ProviderError::Rejected {
                    code: Code::PlatformRejected,
                    message: format!(
                        "Threads did not delete post {}: {}",
                        request.external_id,
                        crate::providers::clip(&answer.body, 200)
                    ),
                }),
            };
        }
        let error = GraphError::of(&answer);
        // "Object does not exist": deleted already (by the person, or an earlier request).
        if error.code == Some(100) && error.subcode == Some(33) {
            return Ok(Deletion::AlreadyGone);
        }
        // Permission errors (10, 200-299): a connection made before `threads_delete` was asked.
        if matches!(error.code, Some(10 | 200..=299)) {
            return Err(ProviderError::Rejected {
                code: Code::PlatformRejected,
                message: format!(
                    "Threads refused to delete the post: the connection lacks the threads_delete permission ({}). Connections made before this version did not ask for it; reconnect the Threads account, then delete again.",
                    error.text(answer.status)
                ),
            });
        }
        Err(classify_api_error(&answer))
    }
}

/// An item's `timestamp` (`2023-10-17T05:42:03+0000`).
fn posted_at(item: &Value) -> Option<DateTime<Utc>> {
    let text = item["timestamp"].as_str()?;
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_read_in_metas_format() {
        let at = posted_at(&json!({"timestamp": "2023-10-17T05:42:03+0000"})).unwrap();
        assert_eq!(at.timestamp(), 1_697_521_323);
        assert!(posted_at(&json!({"timestamp": "yesterday"})).is_none());
    }
}
