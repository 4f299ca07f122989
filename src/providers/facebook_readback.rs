//! Facebook after publishing: reading an interrupted publish back, deleting a Page post, and
//! revoking the app when the person's user token has expired.
//!
//! - Read-back (`Provider::find_published`) lists the Page's posts with its Page token:
//!   `GET /{page-id}/published_posts?since=` (Page Published Posts / Page Feed references,
//!   newest first, `limit` up to 100, cursor paging), matched on the message; a video is
//!   looked up in `GET /{page-id}/videos` by its description, or by the video id a resumed
//!   publish stored, and counts as published once its status is `ready`. Reading needs
//!   `pages_read_engagement`, which every connection was asked for.
//! - Delete: `DELETE /{post-id}` (or `/{video-id}`) with the Page's token answers
//!   `{"success": true}` (Pages API posts guide, "Delete a post"); Graph's "does not exist"
//!   (code 100, subcode 33) means it is already gone.
//! - Revoke with the app token: `DELETE /{user-id}/permissions` "must be made with a user
//!   access token or an app access token for the current app" (User Permissions reference);
//!   the person's app-scoped id comes from `GET /debug_token` (Access Token Debugging guide),
//!   which describes expired tokens too.

use super::facebook::{Facebook, GrantedPage, NAME, appsecret_proof, post_url};
use super::graph::{self, GraphError};
use super::{
    CallKind, DeleteRequest, Deletion, LookUp, MediaKind, ProviderError, Published, ReadBack, send,
};
use crate::config::ClientCredentials;
use crate::http::append_query;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

/// Pages of a list read at most, 100 entries each; a window an interrupted delivery leaves is
/// minutes long, so more than this means "cannot tell".
const MAX_PAGES: usize = 4;
const PAGE_SIZE: &str = "100";

/// Clocks differ: the window starts this much before the interrupted attempt.
const CLOCK_SLACK_SECS: i64 = 120;

/// Where to tell the person to remove the app themselves.
const BUSINESS_INTEGRATIONS: &str = "https://www.facebook.com/settings/?tab=business_tools";

impl Facebook {
    pub(super) fn read_back(&self, look: &LookUp) -> Result<ReadBack, ProviderError> {
        let request = &look.request;
        let secret = request.credentials.client_secret.as_str();
        let wanted = request
            .options
            .get("pageId")
            .and_then(Value::as_str)
            .unwrap_or(&request.account.id);
        let page =
            self.granted_page(secret, request.access_token, request.platform_data, wanted)?;
        // A resumed video publish stored the video's id: its status is the answer.
        if let Some(video_id) = look.resume_state.and_then(|s| s["videoId"].as_str()) {
            return self.video_read_back(secret, &page, video_id);
        }
        let start = look.since - Duration::seconds(CLOCK_SLACK_SECS);
        let text = request.post.text.trim();
        if request.post.media_kind == Some(MediaKind::Video) && request.post.media_url.is_some() {
            let title = request.post.title.as_deref().map(str::trim);
            let found = self.search(
                secret,
                &page,
                "videos",
                "id,description,title,created_time",
                start,
                |item| {
                    item["description"].as_str().unwrap_or_default().trim() == text
                        && title.is_none_or(|t| item["title"].as_str().map(str::trim) == Some(t))
                },
            )?;
            return match found {
                Listed::Found(item) => match graph::id_string(&item["id"]) {
                    Some(video_id) => self.video_read_back(secret, &page, &video_id),
                    None => Ok(ReadBack::Unknowable {
                        reason: "Facebook listed a matching video without an id".into(),
                    }),
                },
                Listed::Absent => Ok(ReadBack::Absent),
                Listed::Unknowable(reason) => Ok(ReadBack::Unknowable { reason }),
            };
        }
        let found = self.search(
            secret,
            &page,
            "published_posts",
            "id,message,created_time,permalink_url",
            start,
            |item| item["message"].as_str().unwrap_or_default().trim() == text,
        )?;
        Ok(match found {
            Listed::Found(item) => match graph::id_string(&item["id"]) {
                Some(id) => ReadBack::Found(Published {
                    url: Some(post_url(&id)),
                    external_id: id,
                }),
                None => ReadBack::Unknowable {
                    reason: "Facebook listed a matching post without an id".into(),
                },
            },
            Listed::Absent => ReadBack::Absent,
            Listed::Unknowable(reason) => ReadBack::Unknowable { reason },
        })
    }

    /// A video Facebook has: published once `ready`; still processing, it cannot be told yet;
    /// processing that ended in error published nothing.
    fn video_read_back(
        &self,
        secret: &str,
        page: &GrantedPage,
        video_id: &str,
    ) -> Result<ReadBack, ProviderError> {
        match self.video_status(secret, page, video_id, CallKind::SafeToRetry) {
            Ok(Some(published)) => Ok(ReadBack::Found(published)),
            Ok(None) => Ok(ReadBack::Unknowable {
                reason: format!(
                    "Facebook has video {video_id} but is still processing it; it is published once ready"
                ),
            }),
            Err(ProviderError::Rejected {
                code: crate::error::Code::MediaProcessingFailed,
                ..
            }) => Ok(ReadBack::Absent),
            Err(other) => Err(other),
        }
    }

    /// Reads `edge` of the Page newest first from `start` on, until `matches` picks an entry,
    /// or the list ends or goes past `start` (then nothing of ours is in the window).
    fn search(
        &self,
        secret: &str,
        page: &GrantedPage,
        edge: &str,
        fields: &str,
        start: DateTime<Utc>,
        matches: impl Fn(&Value) -> bool,
    ) -> Result<Listed, ProviderError> {
        let proof = appsecret_proof(secret, &page.access_token);
        let since = start.timestamp().to_string();
        let mut url = append_query(
            &self.graph_url(&self.endpoints.api_base, &format!("{}/{edge}", page.id)),
            &[
                ("fields", fields),
                ("since", &since),
                ("limit", PAGE_SIZE),
                ("appsecret_proof", &proof),
            ],
        );
        for _ in 0..MAX_PAGES {
            let answer = send(
                self.agent
                    .get(&url)
                    .set("Authorization", &format!("OAuth {}", page.access_token)),
                None,
                CallKind::SafeToRetry,
            )?;
            if answer.status != 200 {
                let error = GraphError::read(&answer);
                if matches!(error.code, Some(10 | 200..=299)) && !error.is_token_error() {
                    return Ok(Listed::Unknowable(format!(
                        "Facebook refused to list the Page's {edge} ({}); the connection needs pages_read_engagement: reconnect it",
                        error.describe()
                    )));
                }
                return Err(graph::classify_error(NAME, &error, &answer));
            }
            let body = answer.json();
            let items = body["data"].as_array().cloned().unwrap_or_default();
            let mut reached_older = false;
            for item in &items {
                let Some(at) = item["created_time"].as_str().and_then(graph::parse_time) else {
                    continue;
                };
                if at < start {
                    reached_older = true;
                } else if matches(item) {
                    return Ok(Listed::Found(item.clone()));
                }
            }
            match body["paging"]["next"].as_str() {
                Some(next) if !next.is_empty() && !reached_older && !items.is_empty() => {
                    url = self.same_host(next);
                    if !url.contains("appsecret_proof=") {
                        url = append_query(&url, &[("appsecret_proof", &proof)]);
                    }
                }
                _ => return Ok(Listed::Absent),
            }
        }
        Ok(Listed::Unknowable(format!(
            "the Facebook Page has more than {} {edge} since {}; read-back stops there",
            MAX_PAGES * 100,
            start.to_rfc3339()
        )))
    }

    pub(super) fn delete_page_post(
        &self,
        request: &DeleteRequest,
    ) -> Result<Deletion, ProviderError> {
        let call = &request.call;
        let secret = call.credentials.client_secret.as_str();
        // A feed post's id is `{page-id}_{post-id}`; a video's id names no Page.
        let page_id = request
            .external_id
            .split_once('_')
            .map(|(page, _)| page)
            .or_else(|| request.options.get("pageId").and_then(Value::as_str))
            .unwrap_or(&call.account.id);
        let page = self.granted_page(secret, call.access_token, call.platform_data, page_id)?;
        let url = append_query(
            &self.graph_url(&self.endpoints.api_base, request.external_id),
            &[(
                "appsecret_proof",
                &appsecret_proof(secret, &page.access_token),
            )],
        );
        // Repeating a delete publishes nothing.
        let answer = send(
            self.agent
                .delete(&url)
                .set("Authorization", &format!("OAuth {}", page.access_token)),
            None,
            CallKind::SafeToRetry,
        )?;
        if answer.status == 200 && answer.json()["success"] == true {
            return Ok(Deletion::Deleted);
        }
        let error = GraphError::read(&answer);
        if error.code == Some(100) && error.subcode == Some(33) {
            // "Object ... does not exist, cannot be loaded due to missing permissions": with
            // the Page's own token, the post is gone (deleted on Facebook or earlier).
            return Ok(Deletion::AlreadyGone);
        }
        Err(graph::classify_error(NAME, &error, &answer))
    }

    /// Revokes with the app access token (`{app-id}|{app-secret}`): whose the expired user
    /// token was comes from `debug_token`, then `DELETE /{user-id}/permissions`. When even
    /// that fails, the error says the grant stays until it lapses or the person removes the
    /// app; disconnecting goes on either way.
    pub(super) fn revoke_as_app(
        &self,
        credentials: &ClientCredentials,
        user_token: &str,
    ) -> Result<(), ProviderError> {
        let app_token = format!("{}|{}", credentials.client_id, credentials.client_secret);
        let proof = appsecret_proof(&credentials.client_secret, &app_token);
        let lapse = |why: String| ProviderError::Rejected {
            code: crate::error::Code::PlatformRejected,
            message: format!(
                "Facebook's user token of this connection has expired and {why}; the app's permissions could not be revoked from here. They end when Meta's data access for the app expires (90 days after the person last used it), or when the person removes the app at {BUSINESS_INTEGRATIONS}"
            ),
        };
        let url = append_query(
            &self.graph_url(&self.endpoints.api_base, "debug_token"),
            &[("input_token", user_token), ("appsecret_proof", &proof)],
        );
        let answer = send(
            self.agent
                .get(&url)
                .set("Authorization", &format!("OAuth {app_token}")),
            None,
            CallKind::SafeToRetry,
        )?;
        if answer.status != 200 {
            return Err(lapse(format!(
                "Facebook refused to describe it ({})",
                GraphError::read(&answer).describe()
            )));
        }
        let data = &answer.json()["data"];
        // 458: the person already removed the app; nothing is left to revoke.
        if data["error"]["subcode"].as_i64() == Some(458) {
            return Ok(());
        }
        let Some(user) = graph::id_string(&data["user_id"]) else {
            return Err(lapse("Facebook no longer says whose it was".into()));
        };
        let url = append_query(
            &self.graph_url(&self.endpoints.api_base, &format!("{user}/permissions")),
            &[("appsecret_proof", &proof)],
        );
        let answer = send(
            self.agent
                .delete(&url)
                .set("Authorization", &format!("OAuth {app_token}")),
            None,
            CallKind::SafeToRetry,
        )?;
        if answer.status == 200 {
            Ok(())
        } else {
            Err(lapse(format!(
                "revoking with the app's token was refused ({})",
                GraphError::read(&answer).describe()
            )))
        }
    }
}

/// What one search of a Page list found.
enum Listed {
    Found(Value),
    Absent,
    Unknowable(String),
}
