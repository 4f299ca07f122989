//! Reddit read-back and delete: whether an interrupted submit made its post, read from the
//! account's own submissions (`GET /user/{username}/submitted?sort=new`), and the deletion of a
//! post (`POST /api/del`), checked before and after with `GET /api/info`, since `/api/del`
//! answers `{}` whether it deleted anything or not.
//!
//! Sources: reddit.com/dev/api (`/user/{username}/submitted` in scope `history`, listings with
//! `after` and `limit` up to 100, `/api/info` in scope `read`, `/api/del` in scope `edit`,
//! `raw_json=1` against the legacy escaping of `<`, `>` and `&`); reddit's code
//! (reddit-archive/reddit `r2/controllers/api.py`: `POST_del` is `@noresponse` and finds the
//! thing with `VByNameIfAuthor`, so a post of another account, or none, answers the same `{}`);
//! PRAW's `Submission.delete` (the same call, no answer read). A deleted post reads `[deleted]`
//! as author and `removed_by_category: "deleted"` in `/api/info` (Pyprohly's
//! reddit-api-doc-notes, Submission schema).
//!
//! `history` and `edit` were added to the connect flow's scopes with this file: a connection
//! made before lacks them, and Reddit answers 403; read-back then says it cannot tell, and a
//! delete says to reconnect.

use super::reddit::{Reddit, classify_http, subreddit_name};
use super::{
    CallKind, DeleteRequest, Deletion, LookUp, ProviderError, PublishRequest, Published, ReadBack,
    SendBody,
};
use crate::error::Code;
use crate::http::append_query;
use serde_json::Value;

/// A listing page holds at most 100 things.
const PAGE_LIMIT: &str = "100";
/// Reddit lists an account's newest 1,000 submissions and no further: ten pages. A listing
/// that ends there may have been cut, not finished.
const LISTING_DEPTH: usize = 1000;
const MAX_PAGES: usize = LISTING_DEPTH / 100;
/// How far Reddit's clock and ours may disagree when placing a post in the window, and the
/// whole second `created_utc` is cut to.
const CLOCK_SLACK_SECS: i64 = 10;

/// What `/api/info` shows of a submission.
enum Shown {
    /// Not listed at all: Reddit has no such post.
    Nothing,
    Deleted,
    /// Live, by this author.
    By(String),
}

impl Reddit {
    /// See `Provider::find_published`. Certainly absent when the account's submissions were
    /// read, newest first, back past the start of the window (or to their end) and none went
    /// to this subreddit with this title and this link or body. The read needs the `history`
    /// scope; without it, or past the 1,000 submissions Reddit lists, the answer is unknowable.
    pub(crate) fn read_back(&self, look: &LookUp) -> Result<ReadBack, ProviderError> {
        let request = &look.request;
        let Some(username) = request.account.username.as_deref() else {
            return Ok(ReadBack::Unknowable {
                reason: "the connection has no Reddit username stored to read its submissions"
                    .into(),
            });
        };
        let from = (look.since - chrono::Duration::seconds(CLOCK_SLACK_SECS)).timestamp() as f64;
        let to = (look.now + chrono::Duration::seconds(CLOCK_SLACK_SECS)).timestamp() as f64;
        let base = format!("{}/user/{username}/submitted", self.endpoints.api_base);
        let mut after: Option<String> = None;
        let mut listed = 0;
        for _ in 0..MAX_PAGES {
            let mut query = vec![("sort", "new"), ("limit", PAGE_LIMIT), ("raw_json", "1")];
            if let Some(a) = &after {
                query.push(("after", a.as_str()));
            }
            let answer = self.api(
                self.agent.get(&append_query(&base, &query)),
                request.access_token,
                None,
                CallKind::SafeToRetry,
            )?;
            match answer.status {
                200 => {}
                403 => {
                    return Ok(ReadBack::Unknowable {
                        reason: "Reddit refused to list the account's submissions: the connection was made without the `history` scope; reconnect the account to grant it".into(),
                    });
                }
                404 => {
                    return Ok(ReadBack::Unknowable {
                        reason: format!(
                            "Reddit does not list u/{username}'s submissions (a suspended or deleted account)"
                        ),
                    });
                }
                _ => return Err(classify_http(&answer)),
            }
            let body = answer.json();
            let mut reached_older = false;
            for child in body["data"]["children"].as_array().into_iter().flatten() {
                listed += 1;
                let data = &child["data"];
                let created = data["created_utc"].as_f64().unwrap_or(0.0);
                if created < from {
                    // Newest first: the window is read through. A pinned post may stand
                    // first out of order, so the rest of this page is still looked at.
                    reached_older = true;
                    continue;
                }
                if created <= to
                    && same_submission(data, request)
                    && let Some(name) = data["name"].as_str().filter(|n| !n.is_empty())
                {
                    return Ok(ReadBack::Found(Published {
                        external_id: name.to_string(),
                        url: data["permalink"]
                            .as_str()
                            .map(|path| format!("https://www.reddit.com{path}")),
                    }));
                }
            }
            after = body["data"]["after"]
                .as_str()
                .filter(|a| !a.is_empty())
                .map(str::to_string);
            if reached_older || (after.is_none() && listed < LISTING_DEPTH) {
                return Ok(ReadBack::Absent);
            }
            if after.is_none() {
                break;
            }
        }
        Ok(ReadBack::Unknowable {
            reason: format!(
                "u/{username} submitted more than 1,000 posts since the interrupted attempt, and Reddit lists no further back"
            ),
        })
    }

    /// See `Provider::delete_post`. `/api/del` answers `{}` for any id, so `/api/info` tells
    /// the outcome: before (already deleted, or not this account's post), and after.
    pub(crate) fn delete_submission(
        &self,
        request: &DeleteRequest,
    ) -> Result<Deletion, ProviderError> {
        let token = request.call.access_token;
        let fullname = if request.external_id.starts_with("t3_") {
            request.external_id.to_string()
        } else {
            format!("t3_{}", request.external_id)
        };
        let me = request.call.account.username.as_deref();
        match self.shown(token, &fullname)? {
            Shown::Nothing | Shown::Deleted => return Ok(Deletion::AlreadyGone),
            Shown::By(author) if me.is_some_and(|me| !author.eq_ignore_ascii_case(me)) => {
                return Err(ProviderError::Rejected {
                    code: Code::PlatformRejected,
                    message: format!(
                        "Reddit deletes a post only for its author: {fullname} is u/{author}'s, and this connection is u/{}",
                        me.unwrap_or_default()
                    ),
                });
            }
            Shown::By(_) => {}
        }
        let url = format!("{}/api/del", self.endpoints.api_base);
        let answer = self.api(
            self.agent.post(&url),
            token,
            Some(SendBody::Form(vec![("id".into(), fullname.clone())])),
            // Deleting twice deletes nothing more.
            CallKind::SafeToRetry,
        )?;
        match answer.status {
            200 => {}
            403 => return Err(missing_scope("edit", "delete the post")),
            _ => return Err(classify_http(&answer)),
        }
        match self.shown(token, &fullname)? {
            Shown::Nothing | Shown::Deleted => Ok(Deletion::Deleted),
            Shown::By(_) => Err(ProviderError::Rejected {
                code: Code::PlatformRejected,
                message: format!(
                    "Reddit answered the delete of {fullname} but still shows the post; try again"
                ),
            }),
        }
    }

    /// `GET /api/info?id=<fullname>` (scope `read`): what Reddit shows of the post.
    fn shown(&self, token: &str, fullname: &str) -> Result<Shown, ProviderError> {
        let url = append_query(
            &format!("{}/api/info", self.endpoints.api_base),
            &[("id", fullname), ("raw_json", "1")],
        );
        let answer = self.api(self.agent.get(&url), token, None, CallKind::SafeToRetry)?;
        match answer.status {
            200 => {}
            403 => return Err(missing_scope("read", "look the post up")),
            _ => return Err(classify_http(&answer)),
        }
        let body = answer.json();
        let Some(data) = body["data"]["children"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|child| &child["data"])
            .find(|data| data["name"] == fullname)
        else {
            return Ok(Shown::Nothing);
        };
        let author = data["author"].as_str().unwrap_or_default();
        Ok(
            if author == "[deleted]" || data["removed_by_category"] == "deleted" {
                Shown::Deleted
            } else {
                Shown::By(author.to_string())
            },
        )
    }
}

/// A connection made before this version lacks a scope Reddit now requires for `what`.
fn missing_scope(scope: &str, what: &str) -> ProviderError {
    ProviderError::Rejected {
        code: Code::PlatformRejected,
        message: format!(
            "Reddit refused to {what}: the connection was made without the `{scope}` scope, which newer connections grant; reconnect the account (a new connect session) and try again"
        ),
    }
}

/// Whether a listed submission is the one the publish sent: the subreddit, the title, and the
/// link (a link post) or the body (a self post), as `publish` builds them.
fn same_submission(data: &Value, request: &PublishRequest) -> bool {
    let options = request.options;
    let Some(subreddit) = options
        .get("subreddit")
        .and_then(Value::as_str)
        .and_then(subreddit_name)
    else {
        return false;
    };
    let text = |value: &Value| value.as_str().unwrap_or_default().trim().to_string();
    let title = request.post.title.as_deref().unwrap_or_default().trim();
    if !text(&data["subreddit"]).eq_ignore_ascii_case(subreddit) || text(&data["title"]) != title {
        return false;
    }
    let link = request.post.media_url.clone().or_else(|| {
        options
            .get("url")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    match link {
        Some(url) => {
            data["is_self"] == Value::Bool(false)
                && (text(&data["url"]) == url.trim()
                    || text(&data["url_overridden_by_dest"]) == url.trim())
        }
        None => {
            data["is_self"] == Value::Bool(true)
                && text(&data["selftext"]) == request.post.text.trim()
        }
    }
}
