//! Pinterest read-back and delete: whether an interrupted publish made its Pin, read from the
//! board the Pin was for (`GET /v5/boards/{board_id}/pins`) and, for a video, from the media
//! upload the resume state names (`GET /v5/media/{media_id}`); and `DELETE /v5/pins/{pin_id}`.
//! Every call goes to the API host of the credentials (production, or the sandbox of Trial
//! apps), since the adapter was built for it.
//!
//! Pinterest's OpenAPI description (pinterest/api-description, `v5/openapi.yaml`):
//! `boards/list_pins` needs `boards:read` and `pins:read`, pages with `bookmark` and
//! `page_size` (at most 250), answers 404 "Board not found."; `pins/delete` needs
//! `boards:read`, `boards:write`, `pins:read`, `pins:write` and answers 204, or 404
//! "Pin not found.". The connect flow asks for all four since the first version.

use super::pinterest::{Pinterest, classify_api_error};
use super::{
    CallKind, DeleteRequest, Deletion, LookUp, MediaKind, ProviderError, PublishRequest, Published,
    ReadBack, send,
};
use crate::http::append_query;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// The most Pins one page may hold (`page_size` maximum).
const PAGE_SIZE: &str = "250";
/// Pages read before giving up: 10,000 Pins on one board. Pinterest does not say in which
/// order a board lists its Pins, so the whole board is read, never only its first pages.
const MAX_PAGES: usize = 40;
/// How far Pinterest's clock and ours may disagree when placing a Pin in the window, and the
/// whole second its `created_at` is cut to.
const CLOCK_SLACK_SECS: i64 = 10;

/// What a board's listing said about the Pin.
enum Scan {
    Found(Published),
    /// Read to the end: no such Pin.
    Complete,
    /// Stopped before the end; the reason.
    Partial(String),
}

impl Pinterest {
    /// See `Provider::find_published`: certainly absent when the board was read to its end
    /// (or is gone) and holds no Pin with this post's title, description, link and media kind
    /// created in the window, or when the video the Pin was to show never finished processing.
    pub(crate) fn read_back(&self, look: &LookUp) -> Result<ReadBack, ProviderError> {
        let request = &look.request;
        let Some(board) = request.options.get("boardId").and_then(Value::as_str) else {
            return Ok(ReadBack::Unknowable {
                reason: "the post names no Pinterest board to read back".into(),
            });
        };
        if request.post.media_kind == Some(MediaKind::Video)
            && let Some(media_id) = look.resume_state.and_then(|s| s["mediaId"].as_str())
            && !self.video_may_have_a_pin(request, media_id)?
        {
            return Ok(ReadBack::Absent);
        }
        let from = look.since - chrono::Duration::seconds(CLOCK_SLACK_SECS);
        let to = look.now + chrono::Duration::seconds(CLOCK_SLACK_SECS);
        Ok(match self.scan_board(request, board, from, to)? {
            Scan::Found(published) => ReadBack::Found(published),
            Scan::Complete => ReadBack::Absent,
            Scan::Partial(reason) => ReadBack::Unknowable { reason },
        })
    }

    /// A video Pin is created only from an upload whose status is `succeeded` (the video Pin
    /// guide: register, upload, wait for `succeeded`, then create the Pin). An upload still
    /// `registered` or `processing`, or `failed`, carries no Pin; anything else may.
    fn video_may_have_a_pin(
        &self,
        request: &PublishRequest,
        media_id: &str,
    ) -> Result<bool, ProviderError> {
        let answer = self.get(
            &self.api_url(&format!("media/{media_id}")),
            request.access_token,
        )?;
        match answer.status {
            200 => Ok(!matches!(
                answer.json()["status"].as_str(),
                Some("registered" | "processing" | "failed")
            )),
            // An upload Pinterest no longer knows says nothing: the board decides.
            404 => Ok(true),
            _ => Err(classify_api_error(&answer)),
        }
    }

    fn scan_board(
        &self,
        request: &PublishRequest,
        board: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Scan, ProviderError> {
        let mut bookmark: Option<String> = None;
        let mut undated_match = false;
        for _ in 0..MAX_PAGES {
            let mut query = vec![("page_size", PAGE_SIZE)];
            if let Some(b) = &bookmark {
                query.push(("bookmark", b.as_str()));
            }
            let url = append_query(&self.api_url(&format!("boards/{board}/pins")), &query);
            let answer = self.get(&url, request.access_token)?;
            match answer.status {
                200 => {}
                // The board is gone, and every Pin that was on it.
                404 => return Ok(Scan::Complete),
                403 => {
                    return Ok(Scan::Partial(format!(
                        "Pinterest refused to list the board's Pins ({}); reconnect the account so it grants boards:read and pins:read",
                        answer.json()["message"].as_str().unwrap_or("HTTP 403")
                    )));
                }
                _ => return Err(classify_api_error(&answer)),
            }
            let body = answer.json();
            for pin in body["items"].as_array().into_iter().flatten() {
                if !same_content(pin, request) {
                    continue;
                }
                match pin["created_at"].as_str().and_then(pin_time) {
                    Some(at) if at >= from && at <= to => {
                        if let Some(id) = pin["id"].as_str().filter(|id| !id.is_empty()) {
                            return Ok(Scan::Found(Published {
                                url: Some(format!("https://www.pinterest.com/pin/{id}/")),
                                external_id: id.to_string(),
                            }));
                        }
                    }
                    Some(_) => {}
                    None => undated_match = true,
                }
            }
            bookmark = body["bookmark"]
                .as_str()
                .filter(|b| !b.is_empty())
                .map(str::to_string);
            if bookmark.is_none() {
                return Ok(if undated_match {
                    Scan::Partial(
                        "a Pin with the same content on the board has no readable created_at"
                            .into(),
                    )
                } else {
                    Scan::Complete
                });
            }
        }
        Ok(Scan::Partial(format!(
            "the board holds more than {} Pins, more than the read-back pages through",
            MAX_PAGES * 250
        )))
    }

    /// See `Provider::delete_post`: 204 deleted; 404 already gone (deleted in the app, or by
    /// an earlier request). Repeating it is harmless, so it is `SafeToRetry`.
    pub(crate) fn delete_pin(&self, request: &DeleteRequest) -> Result<Deletion, ProviderError> {
        let url = self.api_url(&format!("pins/{}", request.external_id));
        let answer = send(
            self.agent.delete(&url).set(
                "Authorization",
                &format!("Bearer {}", request.call.access_token),
            ),
            None,
            CallKind::SafeToRetry,
        )?;
        match answer.status {
            200 | 204 => Ok(Deletion::Deleted),
            404 => Ok(Deletion::AlreadyGone),
            _ => Err(classify_api_error(&answer)),
        }
    }
}

/// Whether a listed Pin carries what the publish sent: description, title and link as given
/// (absent and empty alike), and the media kind.
fn same_content(pin: &Value, request: &PublishRequest) -> bool {
    let text = |value: &Value| value.as_str().unwrap_or_default().trim().to_string();
    let wanted_link = request
        .options
        .get("link")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_string();
    let wanted_kind = match request.post.media_kind {
        Some(MediaKind::Video) => "video",
        _ => "image",
    };
    text(&pin["description"]) == request.post.text.trim()
        && text(&pin["title"]) == request.post.title.as_deref().unwrap_or_default().trim()
        && text(&pin["link"]) == wanted_link
        && pin["media"]["media_type"] == wanted_kind
}

/// `created_at` as Pinterest writes it: with an offset (`2020-01-01T20:10:40-00:00`, the
/// OpenAPI description's example) or without one, in UTC.
fn pin_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|at| at.and_utc())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_times_are_read_with_or_without_an_offset() {
        let expected = "2020-01-01T20:10:40Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(pin_time("2020-01-01T20:10:40-00:00"), Some(expected));
        assert_eq!(pin_time("2020-01-01T20:10:40"), Some(expected));
        assert_eq!(pin_time("2020-01-01T22:10:40+02:00"), Some(expected));
        assert_eq!(pin_time("yesterday"), None);
    }
}
