//! X (Twitter): OAuth 2.0 Authorization Code with PKCE for a confidential client, identity from
//! `GET /2/users/me`, posts through `POST /2/tweets`, media through the v2 chunked upload
//! (`/2/media/upload/initialize|{id}/append|{id}/finalize`, STATUS polling), and X's weighted
//! character count; reading back an interrupted publish from the account's timeline and
//! deleting a post are in `twitter_readback.rs`.
//! Reference: `../shared/providers/linkedin-x-facebook-instagram.md`, part 2.

use super::media::{MediaBlob, MediaFetcher};
use super::oauth::{access_token_of, rfc6749_error, scopes_of};
use super::{
    AuthorizeRequest, CallKind, DeleteRequest, Deletion, HttpAnswer, LookUp, MediaKind, Platform,
    PostContent, Provider, ProviderError, PublishRequest, PublishStep, Published, ReadBack,
    RemoteAccount, SendBody, TokenSet, clip, rules, send,
};
use crate::config::{ClientCredentials, ProviderEndpoints};
use crate::error::{Code, Error};
use crate::http::{append_query, percent_encode};
use base64::Engine as _;
use serde_json::{Map, Value, json};
use std::time::Duration;

#[path = "twitter_readback.rs"]
mod readback;

/// Posting (`tweet.write` needs `tweet.read` and `users.read` too), uploads (`media.write`,
/// without which every upload is refused) and a refresh token (`offline.access`).
pub const SCOPES: &[&str] = &[
    "tweet.read",
    "tweet.write",
    "users.read",
    "media.write",
    "offline.access",
];

/// Longest post, in X's weighted characters (twitter-text configuration v3).
pub const TEXT_LIMIT: usize = 280;

/// Every URL counts as a t.co link of this length, whatever its own.
pub const URL_WEIGHT: usize = 23;

/// `reply_settings` values of `POST /2/tweets`, as `platformOptions.twitter.replySettings`.
pub const REPLY_SETTINGS: &[&str] = &["following", "mentionedUsers", "subscribers", "verified"];

/// Upload segments: X's documented maximum is 5 MB, and 413s were seen near it, so 1 MiB.
pub const CHUNK_BYTES: usize = 1024 * 1024;

/// Waiting for video processing inside one publish call: a few short polls, then the engine
/// takes over (`PublishStep::Processing`) so no worker thread is parked for minutes.
const INLINE_POLLS: u32 = 8;
const INLINE_POLL_WAIT: Duration = Duration::from_millis(250);

/// What X accepts per media category: (content type, category, largest size in bytes).
const MEDIA_TYPES: &[(&str, &str, u64)] = &[
    ("image/jpeg", "tweet_image", 5 * 1024 * 1024),
    ("image/png", "tweet_image", 5 * 1024 * 1024),
    ("image/webp", "tweet_image", 5 * 1024 * 1024),
    ("image/gif", "tweet_gif", 15 * 1024 * 1024),
    ("video/mp4", "tweet_video", 512 * 1024 * 1024),
    ("video/quicktime", "tweet_video", 512 * 1024 * 1024),
];

/// File extensions of those types, for refusing a mediaUrl before anything is charged.
const MEDIA_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "gif", "mp4", "mov"];

pub struct Twitter {
    endpoints: ProviderEndpoints,
    agent: ureq::Agent,
}

impl Twitter {
    pub fn new(endpoints: ProviderEndpoints, agent: ureq::Agent) -> Self {
        Self { endpoints, agent }
    }

    fn api(&self, path: &str) -> String {
        format!(
            "{}/{}/{path}",
            self.endpoints.api_base, self.endpoints.api_version
        )
    }

    fn token_url(&self, path: &str) -> String {
        format!(
            "{}/{}/oauth2/{path}",
            self.endpoints.token_base, self.endpoints.api_version
        )
    }

    /// A confidential client authenticates with HTTP Basic; X refuses its token calls without.
    fn client_post(&self, url: &str, credentials: &ClientCredentials) -> ureq::Request {
        let pair = format!("{}:{}", credentials.client_id, credentials.client_secret);
        let basic = base64::engine::general_purpose::STANDARD.encode(pair);
        self.agent
            .post(url)
            .set("Authorization", &format!("Basic {basic}"))
    }

    fn token_call(
        &self,
        credentials: &ClientCredentials,
        form: Vec<(String, String)>,
    ) -> Result<TokenSet, ProviderError> {
        let url = self.token_url("token");
        let answer = send(
            self.client_post(&url, credentials),
            Some(SendBody::Form(form)),
            CallKind::SafeToRetry,
        )?;
        if answer.status != 200 {
            return Err(oauth_error(&answer));
        }
        let body = answer.json();
        let access_token = access_token_of(&body, "X's")?;
        Ok(TokenSet {
            access_token: access_token.to_string(),
            expires_in: body["expires_in"].as_i64(),
            refresh_token: body["refresh_token"].as_str().map(str::to_string),
            refresh_token_expires_in: None,
            scopes: scopes_of(&body, &[' ']),
        })
    }

    fn bearer(&self, request: ureq::Request, access_token: &str) -> ureq::Request {
        request.set("Authorization", &format!("Bearer {access_token}"))
    }

    /// Uploads the media and returns its id with X's `processing_info`, if any.
    fn upload(
        &self,
        media: &MediaFetcher,
        token: &str,
        blob: &MediaBlob,
    ) -> Result<(String, Value), ProviderError> {
        let media_type = blob.mime();
        let Some((_, category, max)) = MEDIA_TYPES.iter().find(|(t, ..)| *t == media_type) else {
            return Err(ProviderError::Rejected {
                code: Code::UnsupportedMediaType,
                message: format!(
                    "X takes JPEG, PNG, WEBP or GIF images and MP4 or MOV videos; mediaUrl is served as {media_type:?}."
                ),
            });
        };
        if blob.len() > *max {
            return Err(ProviderError::Rejected {
                code: Code::MediaTooLarge,
                message: format!(
                    "The media is {} bytes; X takes at most {max} bytes for {category}.",
                    blob.len()
                ),
            });
        }
        let init = json!({
            "media_type": media_type,
            "total_bytes": blob.len(),
            "media_category": category,
        });
        let answer = self.api_json(
            self.agent.post(&self.api("media/upload/initialize")),
            token,
            Some(SendBody::Json(init)),
        )?;
        let media_id = answer["data"]["id"]
            .as_str()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ProviderError::Unknown {
                message: "X's upload initialize answer had no data.id".into(),
            })?
            .to_string();
        let append_url = self.api(&format!(
            "media/upload/{}/append",
            percent_encode(&media_id)
        ));
        // One chunk at a time from the spooled file, on the media agent: a chunk on a slow
        // link may take longer than an API call.
        let mut first = 0u64;
        for index in 0.. {
            if first >= blob.len() {
                break;
            }
            let end = (first + CHUNK_BYTES as u64).min(blob.len());
            let chunk = blob
                .read_range(first, end)
                .map_err(|e| ProviderError::Unknown {
                    message: format!("reading the spooled media failed: {e}"),
                })?;
            let (content_type, bytes) = multipart(&[
                Part::Text("segment_index", index.to_string()),
                Part::File("media", &chunk),
            ]);
            let len = bytes.len() as u64;
            self.api_json(
                media.upload_agent().post(&append_url),
                token,
                Some(SendBody::Upload {
                    content_type,
                    body: media.capped(std::io::Cursor::new(bytes), len),
                }),
            )?;
            first = end;
        }
        // FINALIZE refuses an empty body: it must be a JSON object.
        let finalize_url = self.api(&format!(
            "media/upload/{}/finalize",
            percent_encode(&media_id)
        ));
        let answer = self.api_json(
            self.agent.post(&finalize_url),
            token,
            Some(SendBody::Json(json!({}))),
        )?;
        Ok((media_id, answer["data"]["processing_info"].clone()))
    }

    fn media_status(&self, token: &str, media_id: &str) -> Result<Value, ProviderError> {
        let url = append_query(
            &self.api("media/upload"),
            &[("command", "STATUS"), ("media_id", media_id)],
        );
        let answer = self.api_json(self.agent.get(&url), token, None)?;
        Ok(answer["data"]["processing_info"].clone())
    }

    /// Polls a few times with short waits. `Ok(None)`: the media is ready; `Ok(Some(secs))`:
    /// still processing, X asks to check again after `secs`.
    fn await_processing(
        &self,
        token: &str,
        media_id: &str,
        mut info: Value,
    ) -> Result<Option<u64>, ProviderError> {
        for poll in 0..=INLINE_POLLS {
            let check_after = info["check_after_secs"].as_u64().unwrap_or(1).max(1);
            match info["state"].as_str() {
                None | Some("succeeded") => return Ok(None),
                Some("failed") => {
                    let reason = info["error"]["message"]
                        .as_str()
                        .or(info["error"]["name"].as_str())
                        .unwrap_or("no reason given");
                    return Err(ProviderError::Rejected {
                        code: Code::MediaProcessingFailed,
                        message: format!("X could not process the media: {}", clip(reason, 300)),
                    });
                }
                Some(_) if poll == INLINE_POLLS => return Ok(Some(check_after)),
                Some(_) => {
                    std::thread::sleep(INLINE_POLL_WAIT.min(Duration::from_secs(check_after)));
                    info = self.media_status(token, media_id)?;
                }
            }
        }
        unreachable!("the last poll returns")
    }

    fn create_tweet(
        &self,
        request: &PublishRequest,
        media_id: Option<&str>,
    ) -> Result<PublishStep, ProviderError> {
        let mut body = Map::new();
        // `text` may be left out only when media is attached.
        if !request.post.text.is_empty() || media_id.is_none() {
            body.insert("text".into(), json!(request.post.text));
        }
        if let Some(id) = media_id {
            body.insert("media".into(), json!({"media_ids": [id]}));
        }
        if let Some(setting) = request.options.get("replySettings").and_then(Value::as_str) {
            body.insert("reply_settings".into(), json!(setting));
        }
        let answer = send(
            self.bearer(self.agent.post(&self.api("tweets")), request.access_token),
            Some(SendBody::Json(Value::Object(body))),
            CallKind::Publishing,
        )?;
        if answer.status != 201 {
            return Err(classify_api_error(&answer));
        }
        let id = answer.json()["data"]["id"]
            .as_str()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ProviderError::Unknown {
                message: "X accepted the post but its answer had no data.id".into(),
            })?
            .to_string();
        Ok(PublishStep::Done(Published {
            url: Some(post_url(request.account.username.as_deref(), &id)),
            external_id: id,
        }))
    }

    /// Sends an API call that publishes nothing (users/me, the media upload's INIT, APPEND,
    /// FINALIZE and STATUS: an uploaded media id is only a draft until a post names it) and
    /// returns its JSON body when it succeeded (2xx).
    fn api_json(
        &self,
        request: ureq::Request,
        token: &str,
        body: Option<SendBody>,
    ) -> Result<Value, ProviderError> {
        let answer = send(self.bearer(request, token), body, CallKind::SafeToRetry)?;
        if !(200..300).contains(&answer.status) {
            return Err(classify_api_error(&answer));
        }
        Ok(answer.json())
    }

    /// After the media is ready: the post, or the wait the engine should take first.
    fn finish(
        &self,
        request: &PublishRequest,
        media_id: &str,
        info: Value,
    ) -> Result<PublishStep, ProviderError> {
        match self.await_processing(request.access_token, media_id, info)? {
            None => self.create_tweet(request, Some(media_id)),
            Some(check_after) => Ok(PublishStep::Processing {
                state: json!({"mediaId": media_id}),
                check_after: Duration::from_secs(check_after),
            }),
        }
    }
}

impl Provider for Twitter {
    fn platform(&self) -> Platform {
        Platform::Twitter
    }

    fn uses_pkce(&self) -> bool {
        // X requires PKCE on every OAuth 2.0 authorization, confidential clients included.
        true
    }

    fn authorize_url(&self, request: &AuthorizeRequest) -> String {
        let mut pairs = vec![
            ("response_type", "code"),
            ("client_id", request.client_id),
            ("redirect_uri", request.redirect_uri),
            (
                "scope",
                "tweet.read tweet.write users.read media.write offline.access",
            ),
            ("state", request.state),
        ];
        if let Some(challenge) = request.pkce_challenge {
            pairs.push(("code_challenge", challenge));
            pairs.push(("code_challenge_method", "S256"));
        }
        append_query(
            &format!("{}/i/oauth2/authorize", self.endpoints.auth_base),
            &pairs,
        )
    }

    fn exchange_code(
        &self,
        credentials: &ClientCredentials,
        code: &str,
        redirect_uri: &str,
        pkce_verifier: Option<&str>,
    ) -> Result<TokenSet, ProviderError> {
        let mut form = vec![
            ("grant_type".to_string(), "authorization_code".to_string()),
            ("code".into(), code.into()),
            ("redirect_uri".into(), redirect_uri.into()),
            ("client_id".into(), credentials.client_id.clone()),
        ];
        if let Some(verifier) = pkce_verifier {
            form.push(("code_verifier".into(), verifier.into()));
        }
        self.token_call(credentials, form)
    }

    fn refresh(
        &self,
        credentials: &ClientCredentials,
        refresh_token: &str,
    ) -> Result<TokenSet, ProviderError> {
        // X answers with a new refresh token and kills this one; the engine stores the new
        // pair in the same transaction, under a per-connection lock.
        self.token_call(
            credentials,
            vec![
                ("grant_type".into(), "refresh_token".into()),
                ("refresh_token".into(), refresh_token.into()),
                ("client_id".into(), credentials.client_id.clone()),
            ],
        )
    }

    fn fetch_account(&self, access_token: &str) -> Result<RemoteAccount, ProviderError> {
        let body = self.api_json(self.agent.get(&self.api("users/me")), access_token, None)?;
        let data = &body["data"];
        let id = data["id"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ProviderError::Unknown {
                message: "X's users/me answer had no data.id".into(),
            })?;
        Ok(RemoteAccount {
            id: id.to_string(),
            username: data["username"].as_str().map(str::to_string),
            account_type: "person".into(),
        })
    }

    fn validate(&self, post: &PostContent, options: &Map<String, Value>) -> Result<(), Error> {
        let platform = Platform::Twitter;
        rules::known_options(platform, options, &["replySettings"])?;
        rules::choice_option(platform, options, "replySettings", REPLY_SETTINGS)?;
        rules::text_within(platform, weighted_length(&post.text), TEXT_LIMIT, "content")?;
        rules::media_optional(platform, post, &[MediaKind::Image, MediaKind::Video])?;
        if let Some(ext) = post.media_url.as_deref().and_then(extension)
            && !MEDIA_EXTENSIONS.contains(&ext.as_str())
            && rules::media_kind_from_url(post.media_url.as_deref().unwrap_or_default()).is_some()
        {
            return Err(Error::new(
                Code::UnsupportedMediaType,
                format!(
                    "X takes JPEG, PNG, WEBP or GIF images and MP4 or MOV videos; mediaUrl is a .{ext} file. Send another mediaUrl or leave twitter out."
                ),
            ));
        }
        if post.text.trim().is_empty() && post.media_url.is_none() {
            return Err(Error::new(
                Code::MediaRequired,
                "X needs text or media: send content or a mediaUrl.",
            ));
        }
        // X has no custom video thumbnail through the API: with a video it picks a frame
        // itself and thumbnailUrl is ignored; without one, thumbnailUrl is a mistake.
        rules::thumbnail_only_with_video(platform, post)
    }

    fn publish(&self, request: &PublishRequest) -> Result<PublishStep, ProviderError> {
        let Some(url) = request.post.media_url.as_deref() else {
            return self.create_tweet(request, None);
        };
        let blob = request
            .media
            .fetch(url, &[MediaKind::Image, MediaKind::Video])?;
        let (media_id, info) = self.upload(request.media, request.access_token, &blob)?;
        self.finish(request, &media_id, info)
    }

    fn resume(
        &self,
        request: &PublishRequest,
        state: &Value,
    ) -> Result<PublishStep, ProviderError> {
        let media_id = state["mediaId"]
            .as_str()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ProviderError::Unknown {
                message: "the stored X processing state has no mediaId".into(),
            })?;
        let info = self.media_status(request.access_token, media_id)?;
        self.finish(request, media_id, info)
    }

    /// The account's Posts timeline since the interrupted attempt (`readback.rs`).
    fn find_published(&self, look: &LookUp) -> Result<ReadBack, ProviderError> {
        readback::find_published(self, look)
    }

    fn can_delete(&self) -> bool {
        true
    }

    /// `DELETE /2/tweets/:id` (`readback.rs`).
    fn delete_post(&self, request: &DeleteRequest) -> Result<Deletion, ProviderError> {
        readback::delete_post(self, request)
    }

    fn revoke(
        &self,
        credentials: &ClientCredentials,
        access_token: &str,
        _refresh_token: Option<&str>,
    ) -> Result<(), ProviderError> {
        let form = vec![
            ("token".into(), access_token.to_string()),
            ("token_type_hint".into(), "access_token".into()),
            ("client_id".into(), credentials.client_id.clone()),
        ];
        let answer = send(
            self.client_post(&self.token_url("revoke"), credentials),
            Some(SendBody::Form(form)),
            CallKind::SafeToRetry,
        )?;
        match answer.status {
            200..=299 => Ok(()),
            _ => Err(oauth_error(&answer)),
        }
    }
}

/// The public address of a post; X redirects `/i/web/status/{id}` when the name is unknown.
pub fn post_url(username: Option<&str>, id: &str) -> String {
    match username.filter(|u| !u.is_empty()) {
        Some(username) => format!("https://x.com/{username}/status/{id}"),
        None => format!("https://x.com/i/web/status/{id}"),
    }
}

fn extension(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?.to_ascii_lowercase();
    Some(path.rsplit('/').next()?.rsplit_once('.')?.1.to_string())
}

// ----- X's weighted character count -----

/// The length X counts, from X's own counting library (twitter-text, in its Rust port, with
/// the current v3 configuration): the text NFC-normalized, code points in U+0000–U+10FF,
/// U+2000–U+200D, U+2010–U+201F and U+2032–U+2037 weighing 1 and all others 2, an emoji
/// sequence (skin tones, ZWJ joins, flags) 2 as a whole, and every link 23, bare domains of
/// any top-level domain included.
pub fn weighted_length(text: &str) -> usize {
    let config = twitter_text_config::config_v3();
    let counted = twitter_text::parse(text, config, true).weighted_length;
    // The Rust port finds links without a scheme (`example.com`) with the full TLD list but
    // weighs them as text, where X's own library (`TwitterTextParser`, whose extractor takes
    // links without a protocol) counts every link as a t.co link.
    let bare_links: i32 = twitter_text::extractor::Extractor::new()
        .extract_urls(text)
        .iter()
        .filter(|link| !has_scheme(link))
        .map(|link| URL_WEIGHT as i32 - twitter_text::parse(link, config, false).weighted_length)
        .sum();
    usize::try_from(counted + bare_links).unwrap_or(0)
}

fn has_scheme(link: &str) -> bool {
    let lower = link.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

// ----- multipart bodies (APPEND) -----

enum Part<'a> {
    Text(&'a str, String),
    File(&'a str, &'a [u8]),
}

/// A `multipart/form-data` body and its content type.
fn multipart(parts: &[Part]) -> (String, Vec<u8>) {
    let boundary = format!("mypostshare-{}", crate::crypto::random_token(24));
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match part {
            Part::Text(name, value) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                        .as_bytes(),
                );
            }
            Part::File(name, bytes) => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"blob\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(bytes);
                body.extend_from_slice(b"\r\n");
            }
        }
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

// ----- errors -----

fn oauth_error(answer: &HttpAnswer) -> ProviderError {
    rfc6749_error(answer, "X", "X's")
}

/// X's problem text: `detail`, else the first of `errors`, else `title`.
fn problem_text(answer: &HttpAnswer) -> String {
    let body = answer.json();
    body["detail"]
        .as_str()
        .or(body["errors"][0]["message"].as_str())
        .or(body["title"].as_str())
        .map(|m| clip(m, 300))
        .unwrap_or_else(|| format!("X answered HTTP {}", answer.status))
}

/// How long to wait after a 429: until `x-rate-limit-reset` (or the 24-hour limit's reset when
/// that one is used up), measured against the answer's own `Date` so clock skew cannot matter.
pub fn rate_limit_wait(answer: &HttpAnswer) -> Option<Duration> {
    if let Some(wait) = answer.retry_after {
        return Some(wait);
    }
    let daily_spent = answer
        .header("x-user-limit-24hour-remaining")
        .is_some_and(|r| r.trim() == "0");
    let reset = if daily_spent {
        answer.header("x-user-limit-24hour-reset")
    } else {
        answer.header("x-rate-limit-reset")
    }?
    .trim()
    .parse::<i64>()
    .ok()?;
    let now = answer
        .header("date")
        .and_then(|d| chrono::DateTime::parse_from_rfc2822(d.trim()).ok())
        .map(|d| d.timestamp())
        .unwrap_or_else(|| chrono::Utc::now().timestamp());
    Some(Duration::from_secs((reset - now).max(1) as u64))
}

/// Maps an answer of X's API to the engine's outcome classes.
fn classify_api_error(answer: &HttpAnswer) -> ProviderError {
    let text = problem_text(answer);
    let lower = text.to_ascii_lowercase();
    match answer.status {
        401 => ProviderError::Unauthorized {
            message: format!("X refused the access token: {text}"),
        },
        429 => ProviderError::RateLimited {
            retry_after: rate_limit_wait(answer),
            message: format!("X rate limit reached: {text}"),
        },
        403 if lower.contains("duplicate content") => ProviderError::Rejected {
            code: Code::DuplicatePost,
            message: format!("X rejected the post as a duplicate: {text}"),
        },
        413 => ProviderError::Rejected {
            code: Code::MediaTooLarge,
            message: "X refused an upload segment as too large".into(),
        },
        500..=599 => answer.server_error(format!("X had a server error: {text}")),
        _ => ProviderError::Rejected {
            code: Code::PlatformRejected,
            message: format!("X rejected the request (HTTP {}): {text}", answer.status),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_counts_one_and_cjk_two() {
        assert_eq!(weighted_length("Hello, world!"), 13);
        assert_eq!(weighted_length("日本語"), 6);
        assert_eq!(weighted_length("café — “quoted”"), 15);
    }

    #[test]
    fn emoji_sequences_count_two() {
        assert_eq!(weighted_length("Hello, world! 👋"), 16);
        assert_eq!(weighted_length("🙋🏽"), 2);
        assert_eq!(weighted_length("👨\u{200D}👩\u{200D}👧\u{200D}👦"), 2);
        assert_eq!(weighted_length("🇫🇷"), 2);
    }

    #[test]
    fn urls_count_twenty_three() {
        let long = format!("https://example.com/{}", "a".repeat(200));
        assert_eq!(weighted_length(&long), 23);
        assert_eq!(weighted_length("see https://x.co."), 4 + 23 + 1);
        assert_eq!(weighted_length("visit example.com today"), 6 + 23 + 6);
        assert_eq!(weighted_length("e.g. fine"), 9);
        assert_eq!(weighted_length("mail me@example.com"), 19);
    }

    /// The hand-written counter knew about 40 top-level domains for bare links, so
    /// `mypostshare.photography` counted its 23 characters instead of a link's 23, and
    /// `example.museum` its 14.
    #[test]
    fn bare_domains_of_every_tld_count_as_links() {
        assert_eq!(
            weighted_length("see mypostshare.photography now"),
            4 + 23 + 4
        );
        assert_eq!(weighted_length("example.museum"), 23);
        assert_eq!(weighted_length("try bücher.de"), 4 + 23);
    }

    /// X counts the NFC form: `e` and a combining accent are one character, as `é` is.
    #[test]
    fn text_is_counted_normalized() {
        assert_eq!(weighted_length("e\u{301}"), weighted_length("é"));
    }

    #[test]
    fn multipart_bodies_have_both_parts() {
        let (content_type, body) = multipart(&[
            Part::Text("segment_index", "3".into()),
            Part::File("media", b"abc"),
        ]);
        let boundary = content_type.split("boundary=").nth(1).unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.contains("name=\"segment_index\"\r\n\r\n3\r\n"));
        assert!(text.contains("filename=\"blob\""));
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
    }
}
