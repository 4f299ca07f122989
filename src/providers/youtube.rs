//! YouTube: Google's OAuth 2.0 web-server flow (offline access, forced consent, PKCE) and the
//! YouTube Data API v3: the channel as identity, the resumable `videos.insert` upload in
//! chunks, `thumbnails.set`, and `videos.list` to follow processing; reading back an
//! interrupted publish and deleting a video are in `youtube_readback.rs`.
//! Reference: `../shared/providers/youtube-threads-pinterest-reddit.md`, part 1.

use super::media::{MediaBlob, MediaFetcher};
use super::oauth::{access_token_of, code_grant, refresh_grant, rfc6749_error, scopes_of};
use super::{
    AuthorizeRequest, CallKind, DeleteRequest, Deletion, HttpAnswer, LookUp, MediaKind, Platform,
    PostContent, Provider, ProviderError, PublishRequest, PublishStep, Published, ReadBack,
    RemoteAccount, SendBody, TokenSet, clip, rules, send,
};
use crate::config::{ClientCredentials, ProviderEndpoints};
use crate::error::{Code, Error};
use crate::http::{append_query, percent_encode};
use chrono::{Timelike, Utc};
use serde_json::{Map, Value, json};
use std::time::Duration;

// A child module (it uses the adapter's private calls), kept as a flat file like the other
// platforms' read-back files.
#[path = "youtube_readback.rs"]
mod readback;

/// Upload, read the channel, the video's processing and the uploads playlist (channels.list,
/// videos.list and playlistItems.list do not accept `youtube.upload` alone), and delete a
/// video (videos.delete accepts only `youtube`, `youtube.force-ssl` or `youtubepartner`;
/// `force-ssl` is the one Google describes as "see, edit, and permanently delete").
pub const SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/youtube.upload",
    "https://www.googleapis.com/auth/youtube.readonly",
    "https://www.googleapis.com/auth/youtube.force-ssl",
];
const UPLOAD_SCOPE: &str = "https://www.googleapis.com/auth/youtube.upload";

pub const TITLE_LIMIT: usize = 100;
/// Google counts the description in UTF-8 bytes.
pub const DESCRIPTION_LIMIT_BYTES: usize = 5000;
pub const TAGS_LIMIT: usize = 500;
pub const THUMBNAIL_LIMIT_BYTES: usize = 2 * 1024 * 1024;
/// Four times the 256 KiB granularity of the protocol, and no larger than the request bodies
/// the simulator's server accepts; a video up to this size goes in one PUT.
pub const CHUNK_SIZE: usize = 1024 * 1024;
/// Interrupted chunks retried (after asking the session where it stands) before giving up.
const UPLOAD_RETRIES: u32 = 3;
/// Waits between processing checks inside `publish`: about three seconds in all.
const POLL_WAITS_MS: &[u64] = &[0, 250, 500, 1000, 1500];
/// How long the engine waits before `resume` checks processing again.
const RESUME_AFTER: Duration = Duration::from_secs(30);

const OPTIONS: &[&str] = &[
    "privacyStatus",
    "madeForKids",
    "tags",
    "categoryId",
    "notifySubscribers",
];
/// `snippet.categoryId` values assignable in the US region.
const CATEGORY_IDS: &[&str] = &[
    "1", "2", "10", "15", "17", "19", "20", "22", "23", "24", "25", "26", "27", "28", "29",
];

pub struct YouTube {
    endpoints: ProviderEndpoints,
    agent: ureq::Agent,
}

impl YouTube {
    pub fn new(endpoints: ProviderEndpoints, agent: ureq::Agent) -> Self {
        Self { endpoints, agent }
    }

    fn api(&self, path: &str) -> String {
        format!(
            "{}/youtube/{}/{path}",
            self.endpoints.api_base, self.endpoints.api_version
        )
    }

    fn upload_api(&self, path: &str) -> String {
        format!(
            "{}/upload/youtube/{}/{path}",
            self.endpoints.api_base, self.endpoints.api_version
        )
    }

    fn token_call(
        &self,
        credentials: &ClientCredentials,
        mut form: Vec<(String, String)>,
    ) -> Result<TokenSet, ProviderError> {
        // Google takes the client credentials in the form body.
        form.push(("client_id".into(), credentials.client_id.clone()));
        form.push(("client_secret".into(), credentials.client_secret.clone()));
        let url = format!("{}/token", self.endpoints.token_base);
        let answer = send(
            self.agent.post(&url),
            Some(SendBody::Form(form)),
            CallKind::SafeToRetry,
        )?;
        if answer.status != 200 {
            return Err(oauth_error(&answer));
        }
        let body = answer.json();
        let access_token = access_token_of(&body, "Google's")?;
        Ok(TokenSet {
            access_token: access_token.to_string(),
            expires_in: body["expires_in"].as_i64(),
            // Sent on the first (or a forced) consent only; a refresh keeps the old one.
            refresh_token: body["refresh_token"].as_str().map(str::to_string),
            refresh_token_expires_in: body["refresh_token_expires_in"].as_i64(),
            scopes: scopes_of(&body, &[' ']),
        })
    }

    fn get(
        &self,
        url: &str,
        access_token: &str,
        call: CallKind,
    ) -> Result<HttpAnswer, ProviderError> {
        send(
            self.agent
                .get(url)
                .set("Authorization", &format!("Bearer {access_token}")),
            None,
            call,
        )
    }

    /// Starts a resumable session with the video's metadata; the session URL.
    fn start_session(
        &self,
        request: &PublishRequest,
        video: &MediaBlob,
    ) -> Result<String, ProviderError> {
        let notify = request
            .options
            .get("notifySubscribers")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let url = append_query(
            &self.upload_api("videos"),
            &[
                ("uploadType", "resumable"),
                ("part", "snippet,status"),
                ("notifySubscribers", if notify { "true" } else { "false" }),
            ],
        );
        let answer = send(
            self.agent
                .post(&url)
                .set("Authorization", &format!("Bearer {}", request.access_token))
                .set("X-Upload-Content-Length", &video.len().to_string())
                .set("X-Upload-Content-Type", &video.content_type),
            Some(SendBody::Json(video_metadata(
                request.post,
                request.options,
            ))),
            // The session only reserves an upload: no video exists until its bytes arrive.
            CallKind::SafeToRetry,
        )?;
        if answer.status != 200 {
            return Err(classify_api_error(
                answer.status,
                &answer.body,
                answer.retry_after,
                CallKind::SafeToRetry,
            ));
        }
        let location = answer
            .header("location")
            .filter(|l| !l.is_empty())
            .ok_or_else(|| ProviderError::Unknown {
                message: "YouTube started the upload but sent no session URL".into(),
            })?;
        // The session URL gets the bearer token: only on the API's own origin.
        if !same_origin(location, &self.endpoints.api_base) {
            return Err(ProviderError::Unknown {
                message: "YouTube's upload session URL is not on the API's host".into(),
            });
        }
        Ok(location.to_string())
    }

    /// Sends the bytes to the session, in chunks when large, resuming from what the session
    /// reports after an interruption; the created video resource.
    fn upload(
        &self,
        media: &MediaFetcher,
        session: &str,
        access_token: &str,
        video: &MediaBlob,
    ) -> Result<Value, ProviderError> {
        let total = video.len() as usize;
        let mut offset = 0usize;
        let mut failures = 0u32;
        loop {
            let end = (offset + CHUNK_SIZE).min(total);
            // The media agent: a chunk on a slow link may take longer than an API call.
            let mut put = media
                .upload_agent()
                .put(session)
                .set("Authorization", &format!("Bearer {access_token}"))
                .set("Content-Type", &video.content_type);
            if offset > 0 || end < total {
                put = put.set(
                    "Content-Range",
                    &format!("bytes {offset}-{}/{total}", end - 1),
                );
            }
            let chunk = video.range(offset as u64, end as u64);
            let result = send_body(
                put,
                media.capped(chunk, (end - offset) as u64),
                end - offset,
            );
            let progress = match result {
                Ok(answer) => match answer.status {
                    200 | 201 => return Ok(answer.json()),
                    308 => Some(next_offset(answer.range.as_deref())),
                    500..=599 => None,
                    404 | 410 => {
                        return Err(ProviderError::Transient {
                            status: answer.status,
                            message: "YouTube lost the upload session before the video was complete; nothing was published".into(),
                            call: CallKind::SafeToRetry,
                        });
                    }
                    // The last chunk creates the video.
                    status => {
                        return Err(classify_api_error(
                            status,
                            &answer.body,
                            answer.retry_after,
                            CallKind::Publishing,
                        ));
                    }
                },
                Err(ProviderError::Unknown { .. } | ProviderError::Unreachable { .. }) => None,
                Err(other) => return Err(other),
            };
            match progress {
                Some(next) if next > offset => {
                    offset = next;
                    continue;
                }
                _ => {}
            }
            // Interrupted, or no progress: ask the session what it holds (never assume a
            // whole chunk arrived), then go on from there.
            failures += 1;
            if failures > UPLOAD_RETRIES {
                return Err(ProviderError::Transient {
                    status: 503,
                    message: format!(
                        "YouTube kept interrupting the upload at byte {offset} of {total}; nothing was published"
                    ),
                    // The session said the video is incomplete: no video exists yet.
                    call: CallKind::SafeToRetry,
                });
            }
            std::thread::sleep(Duration::from_millis(100 << failures));
            match self.upload_status(session, access_token, total)? {
                UploadState::Done(video) => return Ok(video),
                UploadState::Next(next) => offset = next,
                UploadState::Unanswered => {}
            }
        }
    }

    fn upload_status(
        &self,
        session: &str,
        access_token: &str,
        total: usize,
    ) -> Result<UploadState, ProviderError> {
        let put = self
            .agent
            .put(session)
            .set("Authorization", &format!("Bearer {access_token}"))
            .set("Content-Range", &format!("bytes */{total}"));
        match send_body(put, std::io::empty(), 0) {
            Ok(answer) => match answer.status {
                200 | 201 => Ok(UploadState::Done(answer.json())),
                308 => Ok(UploadState::Next(next_offset(answer.range.as_deref()))),
                500..=599 => Ok(UploadState::Unanswered),
                404 | 410 => Err(ProviderError::Transient {
                    status: answer.status,
                    message: "YouTube lost the upload session before the video was complete; nothing was published".into(),
                    call: CallKind::SafeToRetry,
                }),
                status => Err(classify_api_error(
                    status,
                    &answer.body,
                    answer.retry_after,
                    CallKind::Publishing,
                )),
            },
            Err(ProviderError::Unknown { .. } | ProviderError::Unreachable { .. }) => {
                Ok(UploadState::Unanswered)
            }
            Err(other) => Err(other),
        }
    }

    /// thumbnails.set; failures are reported, not fatal: the video exists either way.
    fn set_thumbnail(
        &self,
        media: &MediaFetcher,
        access_token: &str,
        video_id: &str,
        image: &MediaBlob,
    ) -> Result<(), ProviderError> {
        let url = append_query(
            &self.upload_api("thumbnails/set"),
            &[("videoId", video_id), ("uploadType", "media")],
        );
        let post = media
            .upload_agent()
            .post(&url)
            .set("Authorization", &format!("Bearer {access_token}"))
            .set("Content-Type", &image.content_type);
        let answer = send_body(
            post,
            media.capped(image.reader(), image.len()),
            image.len() as usize,
        )?;
        match answer.status {
            200 => Ok(()),
            // After the upload: the video exists.
            status => Err(classify_api_error(
                status,
                &answer.body,
                answer.retry_after,
                CallKind::Publishing,
            )),
        }
    }

    /// One look at the video's processing.
    /// `call`: in `publish` the read follows the upload (`Publishing`: the video exists); when
    /// reading back, it is a plain read.
    fn check_processing(
        &self,
        access_token: &str,
        video_id: &str,
        call: CallKind,
    ) -> Result<Option<Published>, ProviderError> {
        let url = append_query(
            &self.api("videos"),
            &[("part", "status,processingDetails"), ("id", video_id)],
        );
        let answer = self.get(&url, access_token, call)?;
        if answer.status != 200 {
            return Err(classify_api_error(
                answer.status,
                &answer.body,
                answer.retry_after,
                call,
            ));
        }
        let body = answer.json();
        let Some(video) = body["items"]
            .as_array()
            .and_then(|items| items.iter().find(|v| v["id"].as_str() == Some(video_id)))
        else {
            return Err(ProviderError::Rejected {
                code: Code::PlatformRejected,
                message: format!(
                    "YouTube no longer lists video {video_id}; it was removed while processing"
                ),
            });
        };
        processing_outcome(video_id, video)
    }

    /// Checks processing up to `waits.len()` times; `Processing` when it is still going on.
    fn follow_processing(
        &self,
        access_token: &str,
        video_id: &str,
        waits: &[u64],
    ) -> Result<PublishStep, ProviderError> {
        for wait in waits {
            std::thread::sleep(Duration::from_millis(*wait));
            match self.check_processing(access_token, video_id, CallKind::Publishing) {
                Ok(Some(published)) => return Ok(PublishStep::Done(published)),
                Ok(None) => {}
                Err(error @ ProviderError::Rejected { .. }) => return Err(error),
                // The video exists: a failing status read must not make the engine upload
                // it again, so the check moves to `resume`.
                Err(_) => break,
            }
        }
        Ok(processing(video_id))
    }
}

enum UploadState {
    Done(Value),
    Next(usize),
    Unanswered,
}

fn processing(video_id: &str) -> PublishStep {
    PublishStep::Processing {
        state: json!({"videoId": video_id}),
        check_after: RESUME_AFTER,
    }
}

/// `Some` when processed, `None` while processing, an error when YouTube refused the video.
fn processing_outcome(video_id: &str, video: &Value) -> Result<Option<Published>, ProviderError> {
    let status = &video["status"];
    match status["uploadStatus"].as_str().unwrap_or_default() {
        "processed" => Ok(Some(published(video_id))),
        "rejected" => {
            let reason = status["rejectionReason"].as_str().unwrap_or("unknown");
            Err(ProviderError::Rejected {
                code: if reason == "duplicate" {
                    Code::DuplicatePost
                } else {
                    Code::PlatformRejected
                },
                message: format!(
                    "YouTube rejected video {video_id} while processing it ({reason})"
                ),
            })
        }
        "failed" => Err(ProviderError::Rejected {
            code: Code::MediaProcessingFailed,
            message: format!(
                "YouTube could not process video {video_id} ({}); check the file",
                status["failureReason"].as_str().unwrap_or("unknown reason")
            ),
        }),
        "deleted" => Err(ProviderError::Rejected {
            code: Code::PlatformRejected,
            message: format!("Video {video_id} was deleted while YouTube processed it"),
        }),
        _ => match video["processingDetails"]["processingStatus"].as_str() {
            Some("failed" | "terminated") => Err(ProviderError::Rejected {
                code: Code::MediaProcessingFailed,
                message: format!(
                    "YouTube could not process video {video_id} ({})",
                    video["processingDetails"]["processingFailureReason"]
                        .as_str()
                        .unwrap_or("unknown reason")
                ),
            }),
            _ => Ok(None),
        },
    }
}

fn published(video_id: &str) -> Published {
    Published {
        external_id: video_id.to_string(),
        url: Some(post_url(video_id)),
    }
}

/// The public address of a video.
pub fn post_url(video_id: &str) -> String {
    format!(
        "https://www.youtube.com/watch?v={}",
        percent_encode(video_id)
    )
}

/// The video resource sent when the session starts: `snippet` from the post, `status` from
/// the options (private unless told otherwise).
fn video_metadata(post: &PostContent, options: &Map<String, Value>) -> Value {
    let mut snippet = json!({
        "title": post.title.as_deref().unwrap_or_default().trim(),
        "description": post.text,
    });
    if let Some(tags) = options.get("tags").filter(|t| t.is_array()) {
        snippet["tags"] = tags.clone();
    }
    if let Some(category) = options.get("categoryId").and_then(Value::as_str) {
        snippet["categoryId"] = json!(category);
    }
    let mut status = json!({
        "privacyStatus": options.get("privacyStatus").and_then(Value::as_str).unwrap_or("private"),
    });
    if let Some(kids) = options.get("madeForKids").and_then(Value::as_bool) {
        status["selfDeclaredMadeForKids"] = json!(kids);
    }
    json!({"snippet": snippet, "status": status})
}

fn same_origin(url: &str, base: &str) -> bool {
    fn origin(u: &str) -> Option<&str> {
        let scheme_end = u.find("://")? + 3;
        let host_end = u[scheme_end..]
            .find(['/', '?', '#'])
            .map_or(u.len(), |i| scheme_end + i);
        Some(&u[..host_end])
    }
    origin(url)
        .is_some_and(|o| Some(o.to_ascii_lowercase()) == origin(base).map(str::to_ascii_lowercase))
}

/// Where to go on after a 308: one past the last byte of `Range: bytes=0-N` (no header:
/// nothing stored yet).
fn next_offset(range: Option<&str>) -> usize {
    range
        .and_then(|r| r.trim().strip_prefix("bytes=0-"))
        .and_then(|last| last.trim().parse::<usize>().ok())
        .map_or(0, |last| last + 1)
}

/// What a raw-bytes request answered: the status, the `Range` of a 308, and the body.
struct BytesAnswer {
    status: u16,
    body: String,
    range: Option<String>,
    retry_after: Option<Duration>,
}

impl BytesAnswer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// Streams a body of `len` bytes (a chunk, a thumbnail) from the spooled file; statuses come
/// back as answers, transport failures as `Unreachable` (nothing sent) or `Unknown`, as in
/// `send`.
fn send_body(
    request: ureq::Request,
    body: impl std::io::Read,
    len: usize,
) -> Result<BytesAnswer, ProviderError> {
    // With a Content-Length ureq sends the body as is, not chunked.
    let request = request.set("Content-Length", &len.to_string());
    let response = match request.send(body) {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(ureq::Error::Transport(transport)) => {
            let message = transport.to_string();
            return Err(match transport.kind() {
                ureq::ErrorKind::ConnectionFailed | ureq::ErrorKind::Dns => {
                    ProviderError::Unreachable { message }
                }
                _ => ProviderError::Unknown { message },
            });
        }
    };
    let status = response.status();
    let range = response.header("range").map(str::to_string);
    let retry_after = response
        .header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let mut body = String::new();
    use std::io::Read;
    response
        .into_reader()
        .take(4 * 1024 * 1024)
        .read_to_string(&mut body)
        .map_err(|e| ProviderError::Unknown {
            message: format!("reading YouTube's answer: {e}"),
        })?;
    Ok(BytesAnswer {
        status,
        body,
        range,
        retry_after,
    })
}

impl Provider for YouTube {
    fn platform(&self) -> Platform {
        Platform::Youtube
    }

    fn uses_pkce(&self) -> bool {
        // Google supports S256 for web-server clients too, on top of the secret.
        true
    }

    fn authorize_url(&self, request: &AuthorizeRequest) -> String {
        let scope = SCOPES.join(" ");
        let mut pairs = vec![
            ("response_type", "code"),
            ("client_id", request.client_id),
            ("redirect_uri", request.redirect_uri),
            ("state", request.state),
            ("scope", scope.as_str()),
        ];
        // Offline access for a refresh token, and a forced consent so that a person who
        // connects again gets one too (Google sends it on the first consent only otherwise).
        pairs.push(("access_type", "offline"));
        pairs.push(("prompt", "consent"));
        if let Some(challenge) = request.pkce_challenge {
            pairs.push(("code_challenge", challenge));
            pairs.push(("code_challenge_method", "S256"));
        }
        append_query(
            &format!("{}/o/oauth2/v2/auth", self.endpoints.auth_base),
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
        let mut form = code_grant(code, redirect_uri);
        if let Some(verifier) = pkce_verifier {
            form.push(("code_verifier".into(), verifier.into()));
        }
        let tokens = self.token_call(credentials, form)?;
        // Granular consent lets a person untick scopes: without upload, nothing works.
        if !tokens.scopes.is_empty() && !tokens.scopes.iter().any(|s| s == UPLOAD_SCOPE) {
            return Err(ProviderError::OAuth {
                error: "insufficient_scope".into(),
                message: "The YouTube upload permission was not granted; connect again and leave \"Manage your YouTube videos\" ticked.".into(),
            });
        }
        Ok(tokens)
    }

    fn refresh(
        &self,
        credentials: &ClientCredentials,
        refresh_token: &str,
    ) -> Result<TokenSet, ProviderError> {
        self.token_call(credentials, refresh_grant(refresh_token))
            .map_err(|error| match error {
                // The common cause nobody suspects: a Google project whose consent screen is
                // in Testing gets refresh tokens that die after 7 days
                // (developers.google.com/identity/protocols/oauth2#expiration).
                ProviderError::OAuth { error, message } if error == "invalid_grant" => {
                    ProviderError::OAuth {
                        error,
                        message: format!(
                            "{message} If this happens about 7 days after connecting, the Google Cloud project's OAuth consent screen is in Testing, whose refresh tokens expire after 7 days: set its publishing status to In production, then reconnect."
                        ),
                    }
                }
                other => other,
            })
    }

    fn fetch_account(&self, access_token: &str) -> Result<RemoteAccount, ProviderError> {
        let url = append_query(
            &self.api("channels"),
            &[("part", "snippet"), ("mine", "true")],
        );
        let answer = self.get(&url, access_token, CallKind::SafeToRetry)?;
        if answer.status != 200 {
            return Err(classify_api_error(
                answer.status,
                &answer.body,
                answer.retry_after,
                CallKind::SafeToRetry,
            ));
        }
        let body = answer.json();
        let Some(channel) = body["items"].as_array().and_then(|items| items.first()) else {
            return Err(ProviderError::Rejected {
                code: Code::PlatformRejected,
                message: "This Google account has no YouTube channel; create one on youtube.com, then connect again.".into(),
            });
        };
        let id = channel["id"]
            .as_str()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ProviderError::Unknown {
                message: "YouTube's channel answer had no id".into(),
            })?;
        Ok(RemoteAccount {
            id: id.to_string(),
            username: channel["snippet"]["title"].as_str().map(str::to_string),
            account_type: "channel".into(),
        })
    }

    fn validate(&self, post: &PostContent, options: &Map<String, Value>) -> Result<(), Error> {
        let platform = Platform::Youtube;
        rules::known_options(platform, options, OPTIONS)?;
        // `status.privacyStatus` of the video resource (YouTube Data API v3): these three.
        rules::choice_option(
            platform,
            options,
            "privacyStatus",
            &["private", "unlisted", "public"],
        )?;
        rules::choice_option(platform, options, "categoryId", CATEGORY_IDS)?;
        for flag in ["madeForKids", "notifySubscribers"] {
            if options
                .get(flag)
                .is_some_and(|v| !v.is_boolean() && !v.is_null())
            {
                return Err(Error::validation(format!(
                    "platformOptions.youtube.{flag} must be true or false."
                )));
            }
        }
        validate_tags(options)?;
        rules::media_required(platform, post, &[MediaKind::Video])?;
        let title = post
            .title
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let trimmed = PostContent {
            title: title.map(str::to_string),
            ..post.clone()
        };
        rules::title_required(platform, &trimmed, TITLE_LIMIT)?;
        if title.is_some_and(|t| t.contains(['<', '>'])) {
            return Err(Error::validation(
                "YouTube does not allow < or > in a title; remove them.",
            ));
        }
        if post.text.len() > DESCRIPTION_LIMIT_BYTES {
            return Err(Error::new(
                Code::ContentTooLong,
                format!(
                    "content becomes the YouTube description, which allows at most {DESCRIPTION_LIMIT_BYTES} bytes of UTF-8; it is {} bytes. Shorten it or leave youtube out.",
                    post.text.len()
                ),
            ));
        }
        if post.text.contains(['<', '>']) {
            return Err(Error::validation(
                "YouTube does not allow < or > in a description (content); remove them.",
            ));
        }
        if let Some(thumbnail) = &post.thumbnail_url {
            let ext = thumbnail
                .split(['?', '#'])
                .next()
                .unwrap_or_default()
                .rsplit_once('.')
                .map(|(_, e)| e.to_ascii_lowercase());
            if ext.as_deref().is_some_and(|e| {
                !matches!(e, "jpg" | "jpeg" | "png")
                    && rules::media_kind_from_url(thumbnail).is_some()
            }) {
                return Err(Error::new(
                    Code::UnsupportedMediaType,
                    "YouTube thumbnails are JPEG or PNG; thumbnailUrl points at another format.",
                ));
            }
        }
        Ok(())
    }

    fn publish(&self, request: &PublishRequest) -> Result<PublishStep, ProviderError> {
        let url = request
            .post
            .media_url
            .as_deref()
            .ok_or_else(|| ProviderError::Rejected {
                code: Code::MediaRequired,
                message: "YouTube needs a video".into(),
            })?;
        // Everything is downloaded before the upload starts, so a bad thumbnail fails the
        // post before a video exists.
        let video = request.media.fetch(url, &[MediaKind::Video])?;
        let thumbnail = match &request.post.thumbnail_url {
            Some(url) => Some(fetch_thumbnail(request, url)?),
            None => None,
        };
        let session = self.start_session(request, &video)?;
        let created = self.upload(request.media, &session, request.access_token, &video)?;
        let video_id = created["id"]
            .as_str()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ProviderError::Unknown {
                message: "YouTube finished the upload but its answer had no video id".into(),
            })?
            .to_string();
        if let Some(image) = &thumbnail
            && let Err(e) =
                self.set_thumbnail(request.media, request.access_token, &video_id, image)
        {
            // Custom thumbnails need a verified channel; the video stands without one.
            httpkit::log_warn!(
                "youtube: the custom thumbnail of video {video_id} was refused: {}",
                e.message()
            );
        }
        self.follow_processing(request.access_token, &video_id, POLL_WAITS_MS)
    }

    fn resume(
        &self,
        request: &PublishRequest,
        state: &Value,
    ) -> Result<PublishStep, ProviderError> {
        let video_id = state["videoId"]
            .as_str()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ProviderError::Unknown {
                message: "the stored YouTube processing state has no videoId".into(),
            })?;
        match self.check_processing(request.access_token, video_id, CallKind::Publishing) {
            Ok(Some(published)) => Ok(PublishStep::Done(published)),
            Ok(None) => Ok(processing(video_id)),
            // A refused token is refreshed by the engine, which then resumes again.
            Err(error @ (ProviderError::Rejected { .. } | ProviderError::Unauthorized { .. })) => {
                Err(error)
            }
            Err(_) => Ok(processing(video_id)),
        }
    }

    fn find_published(&self, look: &LookUp) -> Result<ReadBack, ProviderError> {
        self.read_back(look)
    }

    fn can_delete(&self) -> bool {
        true
    }

    fn delete_post(&self, request: &DeleteRequest) -> Result<Deletion, ProviderError> {
        self.delete(request)
    }

    fn revoke(
        &self,
        _credentials: &ClientCredentials,
        access_token: &str,
        refresh_token: Option<&str>,
    ) -> Result<(), ProviderError> {
        // Google refuses an expired access token at /revoke (400 invalid_token), and access
        // tokens live an hour; the refresh token is valid until revoked, and revoking it ends
        // the whole consent (developers.google.com/identity/protocols/oauth2/web-server,
        // "Revoking a token").
        let url = format!("{}/revoke", self.endpoints.token_base);
        let token = refresh_token.unwrap_or(access_token);
        let form = vec![("token".into(), token.to_string())];
        let answer = send(
            self.agent.post(&url),
            Some(SendBody::Form(form)),
            CallKind::SafeToRetry,
        )?;
        match answer.status {
            200..=299 => Ok(()),
            _ => Err(oauth_error(&answer)),
        }
    }
}

fn fetch_thumbnail(request: &PublishRequest, url: &str) -> Result<MediaBlob, ProviderError> {
    let image = request.media.fetch(url, &[MediaKind::Image])?;
    let content_type = image.mime();
    if !matches!(content_type.as_str(), "image/jpeg" | "image/png") {
        return Err(ProviderError::Rejected {
            code: Code::UnsupportedMediaType,
            message: format!("YouTube thumbnails are JPEG or PNG; {url} is {content_type}"),
        });
    }
    if image.len() > THUMBNAIL_LIMIT_BYTES as u64 {
        return Err(ProviderError::Rejected {
            code: Code::MediaTooLarge,
            message: format!(
                "YouTube thumbnails are at most {THUMBNAIL_LIMIT_BYTES} bytes; {url} is {}",
                image.len()
            ),
        });
    }
    Ok(image)
}

fn validate_tags(options: &Map<String, Value>) -> Result<(), Error> {
    let Some(value) = options.get("tags").filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let tags: Vec<String> = value
        .as_array()
        .filter(|tags| {
            tags.iter()
                .all(|t| t.as_str().is_some_and(|s| !s.trim().is_empty() && !s.contains(['<', '>', ','])))
        })
        .ok_or_else(|| {
            Error::validation(
                "platformOptions.youtube.tags must be an array of non-empty strings without <, > or commas.",
            )
        })?
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let length = tags_length(&tags);
    if length > TAGS_LIMIT {
        return Err(Error::new(
            Code::ContentTooLong,
            format!(
                "platformOptions.youtube.tags take {length} characters as YouTube counts them (commas between tags, quotes around tags with spaces); YouTube allows at most {TAGS_LIMIT}."
            ),
        ));
    }
    Ok(())
}

/// How YouTube counts the 500 characters of tags: commas between them, and quotes around
/// a tag with a space.
pub fn tags_length(tags: &[String]) -> usize {
    let chars: usize = tags
        .iter()
        .map(|t| t.chars().count() + if t.contains(' ') { 2 } else { 0 })
        .sum();
    chars + tags.len().saturating_sub(1)
}

fn oauth_error(answer: &HttpAnswer) -> ProviderError {
    rfc6749_error(answer, "Google", "Google's")
}

/// Time until the daily quota resets (midnight Pacific): 08:00 UTC, which is at or just
/// after midnight in both PST and PDT, plus a minute.
pub fn until_quota_reset(now: chrono::DateTime<Utc>) -> Duration {
    let today = now
        .with_hour(8)
        .and_then(|t| t.with_minute(1))
        .and_then(|t| t.with_second(0))
        .unwrap_or(now);
    let next = if today > now {
        today
    } else {
        today + chrono::Duration::days(1)
    };
    (next - now).to_std().unwrap_or(Duration::from_secs(3600))
}

/// Maps an answer in Google's error envelope to the engine's outcome classes.
fn classify_api_error(
    status: u16,
    body: &str,
    retry_after: Option<Duration>,
    call: CallKind,
) -> ProviderError {
    let body: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let error = &body["error"];
    let reasons: Vec<&str> = error["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["reason"].as_str()).collect())
        .unwrap_or_default();
    let has = |reason: &str| reasons.contains(&reason);
    let platform_message = error["message"]
        .as_str()
        .map(|m| clip(m, 300))
        .unwrap_or_else(|| format!("YouTube answered HTTP {status}"));
    let reason = reasons.first().copied().unwrap_or("unknown");
    let daily = has("quotaExceeded")
        || has("dailyLimitExceeded")
        || (status == 429 && platform_message.contains("per day"));
    match status {
        401 => ProviderError::Unauthorized {
            message: format!("YouTube refused the access token: {platform_message}"),
        },
        403 | 429 if daily => ProviderError::RateLimited {
            retry_after: Some(until_quota_reset(Utc::now())),
            message: format!(
                "The YouTube API quota for today is used up ({reason}); it resets at midnight Pacific time"
            ),
        },
        _ if has("uploadLimitExceeded") => ProviderError::RateLimited {
            retry_after: Some(Duration::from_secs(24 * 3600)),
            message: format!(
                "This channel reached YouTube's daily upload limit ({reason}): {platform_message}"
            ),
        },
        429 => ProviderError::RateLimited {
            retry_after,
            message: format!("YouTube rate limit reached: {platform_message}"),
        },
        403 if has("rateLimitExceeded") || has("userRateLimitExceeded") => {
            ProviderError::RateLimited {
                retry_after,
                message: format!("YouTube rate limit reached: {platform_message}"),
            }
        }
        500..=599 => ProviderError::Transient {
            status,
            message: format!("YouTube had a server error: {platform_message}"),
            call,
        },
        _ => ProviderError::Rejected {
            code: Code::PlatformRejected,
            message: format!("YouTube rejected the request ({reason}): {platform_message}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn quota_resets_at_the_next_eight_utc() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 7, 0, 0).unwrap();
        assert_eq!(until_quota_reset(now), Duration::from_secs(3660));
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        assert_eq!(until_quota_reset(now), Duration::from_secs(23 * 3600 + 60));
    }

    #[test]
    fn quota_errors_are_rate_limits_and_validation_is_a_rejection() {
        let quota = r#"{"error":{"code":403,"message":"quota","errors":[{"domain":"youtube.quota","reason":"quotaExceeded"}]}}"#;
        assert!(matches!(
            classify_api_error(403, quota, None, CallKind::Publishing),
            ProviderError::RateLimited {
                retry_after: Some(_),
                ..
            }
        ));
        let cap = r#"{"error":{"code":400,"message":"The user has exceeded the number of videos they may upload.","errors":[{"domain":"youtube.video","reason":"uploadLimitExceeded"}]}}"#;
        assert!(matches!(
            classify_api_error(400, cap, None, CallKind::Publishing),
            ProviderError::RateLimited { .. }
        ));
        let title =
            r#"{"error":{"code":400,"message":"bad","errors":[{"reason":"invalidTitle"}]}}"#;
        assert_eq!(
            classify_api_error(400, title, None, CallKind::Publishing).code(),
            Code::PlatformRejected
        );
        assert_eq!(
            classify_api_error(401, "{}", None, CallKind::Publishing).code(),
            Code::NeedsReconnect
        );
        assert_eq!(
            classify_api_error(503, "", None, CallKind::Publishing).code(),
            Code::PlatformUnavailable
        );
    }

    #[test]
    fn ranges_give_the_next_byte() {
        assert_eq!(next_offset(None), 0);
        assert_eq!(next_offset(Some("bytes=0-262143")), 262_144);
    }

    #[test]
    fn session_urls_must_stay_on_the_api_origin() {
        assert!(same_origin(
            "https://www.googleapis.com/upload/youtube/v3/videos?upload_id=x",
            "https://www.googleapis.com"
        ));
        assert!(!same_origin(
            "https://evil.example/upload",
            "https://www.googleapis.com"
        ));
        assert!(same_origin(
            "http://127.0.0.1:5000/youtube/upload/youtube/v3/videos?x",
            "http://127.0.0.1:5000/youtube"
        ));
    }
}
