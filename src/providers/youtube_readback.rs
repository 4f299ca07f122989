//! YouTube after a publish: reading back whether an interrupted publish reached YouTube
//! (`find_published`) and deleting a video (`delete_post`).
//!
//! Read-back, best evidence first. A video id stored in the resume state means the upload
//! had finished and the interrupted call was a look at processing: processed is found;
//! anything else is "absent" in the engine's sense (resuming from that state only reads,
//! so it cannot upload the video twice). Without one, the channel's uploads playlist
//! (`channels.list` `contentDetails.relatedPlaylists.uploads`, then `playlistItems.list`)
//! is read newest first and matched on the title and description sent, within the window.
//! It is certainly absent when the reading reached an upload older than the window (or the
//! playlist's end) without a match. A match is then looked at once with `videos.list`: a video
//! YouTube rejected or could not process is reported as that error, not as published. Both reads accept `youtube.readonly`, which every
//! connection asked for. Deleting (`videos.delete`) needs `youtube.force-ssl` (or `youtube`,
//! `youtubepartner`), asked for since this version. Sources:
//! developers.google.com/youtube/v3/docs/channels#contentDetails.relatedPlaylists.uploads,
//! .../playlistItems/list, .../videos/delete; the order of the uploads playlist (newest first)
//! is inferred.

use super::{YouTube, classify_api_error, published};
use crate::error::Code;
use crate::http::append_query;
use crate::providers::{
    CallKind, DeleteRequest, Deletion, HttpAnswer, LookUp, ProviderError, ReadBack, send,
};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

/// Items per page: `playlistItems.list` allows at most 50.
const PAGE_SIZE: usize = 50;
/// Pages read before giving up on telling (200 uploads in the window).
const MAX_PAGES: usize = 4;
/// Uploads from this long before the attempt started count too (our clock against Google's).
const CLOCK_SKEW: Duration = Duration::minutes(2);

/// What reading the uploads playlist found.
enum Uploads {
    One(String),
    None,
    Several(usize),
    TooLong,
    /// The connection may not read the channel (`insufficientPermissions`).
    NoReadScope,
}

fn reasons_of(body: &str) -> Vec<String> {
    let body: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    body["error"]["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["reason"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl YouTube {
    pub(super) fn read_back(&self, look: &LookUp) -> Result<ReadBack, ProviderError> {
        let token = look.request.access_token;
        if let Some(video_id) = look
            .resume_state
            .and_then(|state| state["videoId"].as_str())
            .filter(|id| !id.is_empty())
        {
            return match self.check_processing(token, video_id, CallKind::SafeToRetry) {
                Ok(Some(published)) => Ok(ReadBack::Found(published)),
                // Still processing, refused or removed: the resume that follows reports it.
                Ok(None) | Err(ProviderError::Rejected { .. }) => Ok(ReadBack::Absent),
                Err(other) => Err(other),
            };
        }
        Ok(match self.search_uploads(look)? {
            Uploads::One(video_id) => {
                // The video exists. Processed or still processing, it is this delivery's post
                // (processing goes on at YouTube, no longer followed); one YouTube rejected
                // (a duplicate) or could not process is not published: its error says so.
                self.check_processing(token, &video_id, CallKind::SafeToRetry)?;
                ReadBack::Found(published(&video_id))
            }
            Uploads::None => ReadBack::Absent,
            Uploads::Several(count) => ReadBack::Unknowable {
                reason: format!(
                    "the channel has {count} uploads with this title and description since the attempt started, so which one this delivery made cannot be told"
                ),
            },
            Uploads::TooLong => ReadBack::Unknowable {
                reason: format!(
                    "the channel uploaded more than {} videos since the attempt started; not all of them were read",
                    PAGE_SIZE * MAX_PAGES
                ),
            },
            Uploads::NoReadScope => ReadBack::Unknowable {
                reason: "the YouTube connection may not read the channel's uploads (it lacks the youtube.readonly scope); reconnect the channel".into(),
            },
        })
    }

    fn get_safe(&self, url: &str, access_token: &str) -> Result<HttpAnswer, ProviderError> {
        send(
            self.agent
                .get(url)
                .set("Authorization", &format!("Bearer {access_token}")),
            None,
            CallKind::SafeToRetry,
        )
    }

    /// The channel's uploads playlist id; `None` without a read scope.
    fn uploads_playlist(&self, access_token: &str) -> Result<Option<String>, ProviderError> {
        let url = append_query(
            &self.api("channels"),
            &[("part", "contentDetails"), ("mine", "true")],
        );
        let answer = self.get_safe(&url, access_token)?;
        if answer.status == 403
            && reasons_of(&answer.body)
                .iter()
                .any(|r| r == "insufficientPermissions")
        {
            return Ok(None);
        }
        if answer.status != 200 {
            return Err(classify_api_error(
                answer.status,
                &answer.body,
                answer.retry_after,
                CallKind::SafeToRetry,
            ));
        }
        answer.json()["items"][0]["contentDetails"]["relatedPlaylists"]["uploads"]
            .as_str()
            .filter(|id| !id.is_empty())
            .map(|id| Some(id.to_string()))
            .ok_or_else(|| ProviderError::Unknown {
                message: "YouTube's channel answer names no uploads playlist".into(),
            })
    }

    /// Reads the uploads playlist, newest first, down to the first upload older than the
    /// window, collecting the uploads with the title and description that were sent.
    fn search_uploads(&self, look: &LookUp) -> Result<Uploads, ProviderError> {
        let request = &look.request;
        let Some(playlist) = self.uploads_playlist(request.access_token)? else {
            return Ok(Uploads::NoReadScope);
        };
        let since = look.since - CLOCK_SKEW;
        let title = request.post.title.as_deref().unwrap_or_default().trim();
        let base = append_query(
            &self.api("playlistItems"),
            &[
                ("part", "snippet"),
                ("playlistId", &playlist),
                ("maxResults", &PAGE_SIZE.to_string()),
            ],
        );
        let mut matches: Vec<String> = Vec::new();
        let mut url = base.clone();
        for _ in 0..MAX_PAGES {
            let answer = self.get_safe(&url, request.access_token)?;
            if answer.status == 403
                && reasons_of(&answer.body)
                    .iter()
                    .any(|r| r == "insufficientPermissions")
            {
                return Ok(Uploads::NoReadScope);
            }
            if answer.status != 200 {
                return Err(classify_api_error(
                    answer.status,
                    &answer.body,
                    answer.retry_after,
                    CallKind::SafeToRetry,
                ));
            }
            let body = answer.json();
            let mut older_reached = false;
            for item in body["items"].as_array().cloned().unwrap_or_default() {
                let snippet = &item["snippet"];
                let Some(at) = snippet["publishedAt"]
                    .as_str()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc))
                else {
                    continue;
                };
                if at < since {
                    older_reached = true;
                    continue;
                }
                let same = snippet["title"].as_str() == Some(title)
                    && snippet["description"].as_str().unwrap_or_default() == request.post.text;
                if let (true, Some(id)) = (same, snippet["resourceId"]["videoId"].as_str()) {
                    matches.push(id.to_string());
                }
            }
            match body["nextPageToken"].as_str().filter(|t| !t.is_empty()) {
                Some(next) if !older_reached => {
                    url = append_query(&base, &[("pageToken", next)]);
                }
                _ => {
                    return Ok(match matches.len() {
                        0 => Uploads::None,
                        1 => Uploads::One(matches.remove(0)),
                        n => Uploads::Several(n),
                    });
                }
            }
        }
        Ok(Uploads::TooLong)
    }

    /// `DELETE /youtube/v3/videos?id=...`: 204 when deleted.
    pub(super) fn delete(&self, request: &DeleteRequest) -> Result<Deletion, ProviderError> {
        let url = append_query(&self.api("videos"), &[("id", request.external_id)]);
        let answer = send(
            self.agent.delete(&url).set(
                "Authorization",
                &format!("Bearer {}", request.call.access_token),
            ),
            None,
            // Deleting again cannot publish anything.
            CallKind::SafeToRetry,
        )?;
        let reasons = reasons_of(&answer.body);
        match answer.status {
            200..=299 => Ok(Deletion::Deleted),
            404 => Ok(Deletion::AlreadyGone),
            403 if reasons.iter().any(|r| r == "insufficientPermissions") => {
                Err(ProviderError::Rejected {
                    code: Code::PlatformRejected,
                    message: "YouTube refused to delete the video: the connection lacks the youtube.force-ssl scope. Channels connected before this version did not grant it; reconnect the channel, then delete again.".into(),
                })
            }
            status => Err(classify_api_error(
                status,
                &answer.body,
                answer.retry_after,
                CallKind::SafeToRetry,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_come_from_googles_envelope() {
        let body = r#"{"error":{"code":403,"errors":[{"domain":"global","reason":"insufficientPermissions"}]}}"#;
        assert_eq!(reasons_of(body), ["insufficientPermissions"]);
        assert!(reasons_of("not json").is_empty());
    }
}
