//! Pinterest API v5: OAuth with HTTP Basic client authentication and continuous (rotating)
//! refresh tokens, the account from `/v5/user_account`, boards as publish targets, image pins
//! from a URL Pinterest fetches itself, and video pins through the media upload (register,
//! S3 form upload, status polling, then the pin with a cover). Read-back of an interrupted
//! publish and deletion of a Pin are in `pinterest_readback.rs`.
//! Reference: `../shared/providers/youtube-threads-pinterest-reddit.md`, part 3.

use super::media::MediaBlob;
use super::oauth::{access_token_of, refresh_grant, scopes_of, token_endpoint_failure};
use super::{
    AccountCall, AuthorizeRequest, CallKind, DeleteRequest, Deletion, HttpAnswer, LookUp,
    MediaKind, Platform, PostContent, Provider, ProviderError, PublishRequest, PublishStep,
    Published, ReadBack, RemoteAccount, SendBody, Target, TokenSet, clip, rules, send,
};
use crate::config::{ClientCredentials, ProviderEndpoints};
use crate::crypto::random_token;
use crate::error::{Code, Error};
use crate::http::append_query;
use base64::Engine as _;
use serde_json::{Map, Value, json};
use std::io::Read as _;
use std::time::Duration;

/// Profile, boards (to list and to pin to) and pins.
pub const SCOPES: &[&str] = &[
    "user_accounts:read",
    "boards:read",
    "boards:write",
    "pins:read",
    "pins:write",
];
pub const TITLE_LIMIT: usize = 100;
/// What this adapter allows in `description`: the spec says 800, but Pinterest shows 500.
pub const DESCRIPTION_LIMIT: usize = 500;
/// `link`, the pin's destination URL, in characters (`maxLength: 2048` in PinCreate).
pub const LINK_LIMIT: usize = 2048;
const OPTIONS: &[&str] = &["boardId", "link"];
const BOARD_PAGE_SIZE: u32 = 100;
const MAX_BOARD_PAGES: usize = 50;
/// Status reads within one publish call, and the pause between them: a few seconds at most,
/// then the engine takes over with `resume`.
const POLLS_PER_CALL: u32 = 5;
const POLL_INTERVAL: Duration = Duration::from_millis(250);
const RESUME_AFTER: Duration = Duration::from_secs(15);

pub struct Pinterest {
    endpoints: ProviderEndpoints,
    pub(super) agent: ureq::Agent,
    /// Whether this adapter calls Pinterest's sandbox host (credentials with
    /// `api_host = sandbox`), where video Pins cannot be created.
    on_sandbox: bool,
}

impl Pinterest {
    pub fn new(endpoints: ProviderEndpoints, agent: ureq::Agent) -> Self {
        let on_sandbox = endpoints.sandbox_api_base.as_deref() == Some(&endpoints.api_base);
        Self {
            endpoints,
            agent,
            on_sandbox,
        }
    }

    pub(super) fn api_url(&self, path: &str) -> String {
        format!(
            "{}/{}/{path}",
            self.endpoints.api_base, self.endpoints.api_version
        )
    }

    fn token_call(
        &self,
        credentials: &ClientCredentials,
        form: Vec<(String, String)>,
    ) -> Result<TokenSet, ProviderError> {
        let url = format!(
            "{}/{}/oauth/token",
            self.endpoints.token_base, self.endpoints.api_version
        );
        // Pinterest takes the client credentials only as HTTP Basic (no trailing newline).
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            credentials.client_id, credentials.client_secret
        ));
        let request = self
            .agent
            .post(&url)
            .set("Authorization", &format!("Basic {basic}"));
        let answer = send(request, Some(SendBody::Form(form)), CallKind::SafeToRetry)?;
        if answer.status != 200 {
            return Err(oauth_error(&answer));
        }
        let body = answer.json();
        let access_token = access_token_of(&body, "Pinterest's")?;
        Ok(TokenSet {
            access_token: access_token.to_string(),
            expires_in: body["expires_in"].as_i64(),
            // Continuous refresh: every answer carries a new refresh token to keep.
            refresh_token: body["refresh_token"].as_str().map(str::to_string),
            refresh_token_expires_in: body["refresh_token_expires_in"].as_i64(),
            scopes: scopes_of(&body, &[',', ' ']),
        })
    }

    /// A read (the account, boards, a video's status): it publishes nothing.
    pub(super) fn get(&self, url: &str, access_token: &str) -> Result<HttpAnswer, ProviderError> {
        send(
            self.agent
                .get(url)
                .set("Authorization", &format!("Bearer {access_token}")),
            None,
            CallKind::SafeToRetry,
        )
    }

    fn post_json(
        &self,
        url: &str,
        access_token: &str,
        body: Value,
        call: CallKind,
    ) -> Result<HttpAnswer, ProviderError> {
        send(
            self.agent
                .post(url)
                .set("Authorization", &format!("Bearer {access_token}")),
            Some(SendBody::Json(body)),
            call,
        )
    }

    /// The pin body common to images and videos.
    fn pin_body(&self, request: &PublishRequest, media_source: Value) -> Value {
        let mut body = json!({
            "board_id": request.options.get("boardId").and_then(Value::as_str).unwrap_or_default(),
            "description": request.post.text,
            "media_source": media_source,
        });
        if let Some(title) = &request.post.title {
            body["title"] = json!(title);
        }
        if let Some(link) = request.options.get("link").and_then(Value::as_str) {
            body["link"] = json!(link);
        }
        body
    }

    fn create_pin(
        &self,
        request: &PublishRequest,
        media_source: Value,
    ) -> Result<PublishStep, ProviderError> {
        let answer = self.post_json(
            &self.api_url("pins"),
            request.access_token,
            self.pin_body(request, media_source),
            CallKind::Publishing,
        )?;
        if !matches!(answer.status, 200 | 201) {
            return Err(classify_api_error(&answer));
        }
        let id = answer.json()["id"]
            .as_str()
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            .ok_or_else(|| ProviderError::Unknown {
                message: "Pinterest created the pin but its answer had no id".into(),
            })?;
        Ok(PublishStep::Done(Published {
            url: Some(format!("https://www.pinterest.com/pin/{id}/")),
            external_id: id,
        }))
    }

    fn publish_image(
        &self,
        request: &PublishRequest,
        url: &str,
    ) -> Result<PublishStep, ProviderError> {
        // Pinterest fetches the image itself: check now that it can, for a clear error.
        let info = request.media.probe(url)?;
        if rules::media_kind_from_content_type(&info.content_type) != Some(MediaKind::Image) {
            return Err(ProviderError::Rejected {
                code: Code::UnsupportedMediaType,
                message: format!(
                    "{url} is served as {:?}; Pinterest pins an image from a URL",
                    info.content_type
                ),
            });
        }
        self.create_pin(request, json!({"source_type": "image_url", "url": url}))
    }

    fn publish_video(
        &self,
        request: &PublishRequest,
        url: &str,
    ) -> Result<PublishStep, ProviderError> {
        if self.on_sandbox {
            // developers.pinterest.com/docs/developer-tools/sandbox/: "You cannot do the
            // following in Sandbox: Create video Pins." Refused before anything is uploaded.
            return Err(ProviderError::Rejected {
                code: Code::PlatformAccessTier,
                message: "Pinterest's sandbox host cannot create video Pins; pin an image, or set the credentials' API host to production once Pinterest grants Standard access".into(),
            });
        }
        if let Some(cover) = &request.post.thumbnail_url {
            request.media.probe(cover)?;
        }
        let video = request.media.fetch(url, &[MediaKind::Video])?;
        let answer = self.post_json(
            &self.api_url("media"),
            request.access_token,
            json!({"media_type": "video"}),
            // Registering an upload creates no pin.
            CallKind::SafeToRetry,
        )?;
        if !matches!(answer.status, 200 | 201) {
            return Err(classify_api_error(&answer));
        }
        let registered = answer.json();
        let media_id = registered["media_id"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ProviderError::Unknown {
                message: "Pinterest registered the media without a media_id".into(),
            })?
            .to_string();
        let upload_url = registered["upload_url"].as_str().unwrap_or_default();
        let fields = registered["upload_parameters"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        self.upload(request, upload_url, &fields, &video)?;
        self.wait_for_video(request, &media_id)
    }

    /// The S3 presigned POST: the fields Pinterest gave, in order, then the file.
    /// The body is streamed: the fields, then the spooled file, then the closing boundary.
    fn upload(
        &self,
        request: &PublishRequest,
        upload_url: &str,
        fields: &Map<String, Value>,
        video: &MediaBlob,
    ) -> Result<(), ProviderError> {
        if !(upload_url.starts_with("https://") || upload_url.starts_with("http://")) {
            return Err(ProviderError::Unknown {
                message: format!("Pinterest gave an unusable upload_url {upload_url:?}"),
            });
        }
        let boundary = format!("mypostshare-{}", random_token(24));
        let mut body = Vec::with_capacity(2048);
        for (name, value) in fields {
            let value = value
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| value.to_string());
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"video.mp4\"\r\nContent-Type: {}\r\n\r\n",
                video.content_type
            )
            .as_bytes(),
        );
        let tail = format!("\r\n--{boundary}--\r\n").into_bytes();
        let len = body.len() as u64 + video.len() + tail.len() as u64;
        let stream = std::io::Cursor::new(body)
            .chain(video.reader())
            .chain(std::io::Cursor::new(tail));
        // The media agent, not the API's: one POST carries the whole video, which on a slow
        // link takes longer than an API call may.
        let result = request
            .media
            .upload_agent()
            .post(upload_url)
            .set(
                "Content-Type",
                &format!("multipart/form-data; boundary={boundary}"),
            )
            .set("Content-Length", &len.to_string())
            .send(request.media.capped(stream, len));
        match result {
            Ok(_) => Ok(()),
            Err(ureq::Error::Status(status, response)) => {
                let text = response.into_string().unwrap_or_default();
                let message = format!(
                    "Pinterest's media upload answered HTTP {status}: {}",
                    clip(&text, 200)
                );
                Err(if status >= 500 {
                    ProviderError::Transient {
                        status,
                        message,
                        call: CallKind::SafeToRetry,
                    }
                } else {
                    ProviderError::Rejected {
                        code: Code::MediaUploadFailed,
                        message,
                    }
                })
            }
            Err(ureq::Error::Transport(t)) => Err(ProviderError::Unreachable {
                message: format!("Pinterest's media upload failed: {t}"),
            }),
        }
    }

    /// Reads the video's status a few times; pins it once processed, else hands the wait
    /// over to the engine.
    fn wait_for_video(
        &self,
        request: &PublishRequest,
        media_id: &str,
    ) -> Result<PublishStep, ProviderError> {
        for attempt in 0..POLLS_PER_CALL {
            if attempt > 0 {
                std::thread::sleep(POLL_INTERVAL);
            }
            let answer = self.get(
                &self.api_url(&format!("media/{media_id}")),
                request.access_token,
            )?;
            if answer.status != 200 {
                return Err(classify_api_error(&answer));
            }
            match answer.json()["status"].as_str().unwrap_or_default() {
                "succeeded" => {
                    return self.create_pin(request, self.video_source(request, media_id));
                }
                "failed" => {
                    return Err(ProviderError::Rejected {
                        code: Code::MediaProcessingFailed,
                        message: format!(
                            "Pinterest could not process the video (media {media_id})"
                        ),
                    });
                }
                _ => {}
            }
        }
        Ok(PublishStep::Processing {
            state: json!({"mediaId": media_id}),
            check_after: RESUME_AFTER,
        })
    }

    /// A video pin needs a cover: the thumbnail when given, else the first frame.
    fn video_source(&self, request: &PublishRequest, media_id: &str) -> Value {
        match &request.post.thumbnail_url {
            Some(cover) => {
                json!({"source_type": "video_id", "media_id": media_id, "cover_image_url": cover})
            }
            None => {
                json!({"source_type": "video_id", "media_id": media_id, "cover_image_key_frame_time": 0})
            }
        }
    }
}

impl Provider for Pinterest {
    fn platform(&self) -> Platform {
        Platform::Pinterest
    }

    fn uses_pkce(&self) -> bool {
        false
    }

    fn authorize_url(&self, request: &AuthorizeRequest) -> String {
        append_query(
            &format!("{}/oauth/", self.endpoints.auth_base),
            &[
                ("client_id", request.client_id),
                ("redirect_uri", request.redirect_uri),
                ("response_type", "code"),
                // Pinterest separates scopes with commas.
                ("scope", &SCOPES.join(",")),
                ("state", request.state),
            ],
        )
    }

    fn exchange_code(
        &self,
        credentials: &ClientCredentials,
        code: &str,
        redirect_uri: &str,
        _pkce_verifier: Option<&str>,
    ) -> Result<TokenSet, ProviderError> {
        self.token_call(
            credentials,
            vec![
                ("grant_type".into(), "authorization_code".into()),
                ("code".into(), code.into()),
                ("redirect_uri".into(), redirect_uri.into()),
                // Apps made before 25 Sep 2025 get rotating refresh tokens only when asking.
                ("continuous_refresh".into(), "true".into()),
            ],
        )
    }

    fn refresh(
        &self,
        credentials: &ClientCredentials,
        refresh_token: &str,
    ) -> Result<TokenSet, ProviderError> {
        let mut tokens = self.token_call(credentials, refresh_grant(refresh_token))?;
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(refresh_token.to_string());
        }
        Ok(tokens)
    }

    fn fetch_account(&self, access_token: &str) -> Result<RemoteAccount, ProviderError> {
        let answer = self.get(&self.api_url("user_account"), access_token)?;
        if answer.status != 200 {
            return Err(classify_api_error(&answer));
        }
        let body = answer.json();
        let id = body["id"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ProviderError::Unknown {
                message: "Pinterest's user_account answer had no id".into(),
            })?;
        Ok(RemoteAccount {
            id: id.to_string(),
            username: body["username"].as_str().map(str::to_string),
            account_type: match body["account_type"].as_str() {
                Some("BUSINESS") => "business".into(),
                _ => "person".into(),
            },
        })
    }

    fn validate(&self, post: &PostContent, options: &Map<String, Value>) -> Result<(), Error> {
        let platform = Platform::Pinterest;
        rules::known_options(platform, options, OPTIONS)?;
        // PinCreate in Pinterest's OpenAPI description (pinterest/api-description,
        // v5/openapi.yaml): `board_id` has the pattern ^\d+$ and no length; `link` has
        // maxLength 2048.
        let board = rules::digits_option(
            platform,
            options,
            "boardId",
            "a Pinterest board id as GET /v1/end-users/{externalUserId}/connections/pinterest/targets lists it",
        )?;
        if board.is_none() {
            return Err(Error::new(
                Code::TargetRequired,
                "A pin goes on a board: send platformOptions.pinterest.boardId (list the boards with GET /v1/end-users/{externalUserId}/connections/pinterest/targets).",
            ));
        }
        rules::url_option(platform, options, "link", LINK_LIMIT)?;
        if let Some(title) = &post.title {
            rules::text_within(platform, rules::char_count(title), TITLE_LIMIT, "title")?;
        }
        rules::text_within(
            platform,
            rules::char_count(&post.text),
            DESCRIPTION_LIMIT,
            "content",
        )?;
        rules::media_required(platform, post, &[MediaKind::Image, MediaKind::Video])?;
        rules::thumbnail_only_with_video(platform, post)
    }

    fn publish(&self, request: &PublishRequest) -> Result<PublishStep, ProviderError> {
        let url = request
            .post
            .media_url
            .as_deref()
            .ok_or_else(|| ProviderError::Rejected {
                code: Code::MediaRequired,
                message: "A pin needs an image or a video".into(),
            })?;
        match request.post.media_kind {
            Some(MediaKind::Video) => self.publish_video(request, url),
            _ => self.publish_image(request, url),
        }
    }

    fn resume(
        &self,
        request: &PublishRequest,
        state: &Value,
    ) -> Result<PublishStep, ProviderError> {
        let media_id = state["mediaId"]
            .as_str()
            .ok_or_else(|| ProviderError::Unknown {
                message: "The stored Pinterest processing state has no mediaId".into(),
            })?;
        self.wait_for_video(request, media_id)
    }

    fn targets(&self, call: &AccountCall) -> Result<Option<Vec<Target>>, ProviderError> {
        let access_token = call.access_token;
        let mut targets = Vec::new();
        let mut bookmark: Option<String> = None;
        for _ in 0..MAX_BOARD_PAGES {
            let size = BOARD_PAGE_SIZE.to_string();
            let mut query = vec![("page_size", size.as_str())];
            if let Some(b) = &bookmark {
                query.push(("bookmark", b.as_str()));
            }
            let url = append_query(&self.api_url("boards"), &query);
            let answer = self.get(&url, access_token)?;
            if answer.status != 200 {
                return Err(classify_api_error(&answer));
            }
            let body = answer.json();
            for board in body["items"].as_array().into_iter().flatten() {
                if let (Some(id), Some(name)) = (board["id"].as_str(), board["name"].as_str()) {
                    targets.push(Target {
                        id: id.to_string(),
                        name: name.to_string(),
                        kind: "board".into(),
                    });
                }
            }
            bookmark = body["bookmark"]
                .as_str()
                .filter(|b| !b.is_empty())
                .map(str::to_string);
            if bookmark.is_none() {
                break;
            }
        }
        Ok(Some(targets))
    }

    /// Reads the board the Pin was for (`pinterest_readback`).
    fn find_published(&self, look: &LookUp) -> Result<ReadBack, ProviderError> {
        self.read_back(look)
    }

    fn can_delete(&self) -> bool {
        true
    }

    fn delete_post(&self, request: &DeleteRequest) -> Result<Deletion, ProviderError> {
        self.delete_pin(request)
    }

    fn revoke(
        &self,
        _credentials: &ClientCredentials,
        _access_token: &str,
        _refresh_token: Option<&str>,
    ) -> Result<(), ProviderError> {
        // Pinterest revokes only tokens of system users; a person's tokens are just dropped.
        Ok(())
    }
}

fn oauth_error(answer: &HttpAnswer) -> ProviderError {
    if let Some(failure) = token_endpoint_failure(answer, "Pinterest's") {
        return failure;
    }
    let body = answer.json();
    let message = body["message"]
        .as_str()
        .map(|m| clip(m, 300))
        .unwrap_or_else(|| format!("Pinterest answered HTTP {}", answer.status));
    let error = match body["code"].as_i64() {
        Some(2) => "invalid_grant".to_string(),
        Some(code) => format!("pinterest_error_{code}"),
        None => "unknown_error".to_string(),
    };
    ProviderError::OAuth { error, message }
}

/// Maps a Pinterest API answer to the engine's outcome classes.
pub(super) fn classify_api_error(answer: &HttpAnswer) -> ProviderError {
    let body = answer.json();
    let platform_message = body["message"]
        .as_str()
        .map(|m| clip(m, 300))
        .unwrap_or_else(|| format!("Pinterest answered HTTP {}", answer.status));
    let lower = platform_message.to_ascii_lowercase();
    match answer.status {
        401 => ProviderError::Unauthorized {
            message: format!("Pinterest refused the access token: {platform_message}"),
        },
        429 => ProviderError::RateLimited {
            retry_after: answer.retry_after,
            message: format!("Pinterest rate limit reached: {platform_message}"),
        },
        500..=599 => {
            answer.server_error(format!("Pinterest had a server error: {platform_message}"))
        }
        // Code 29 with "Trial access": the app may create Pins only on the sandbox host
        // (postiz-app issue 1084 quotes the answer: "Apps with Trial access may not create
        // Pins in production https://api.pinterest.com - use API Sandbox ... instead.").
        _ if body["code"].as_i64() == Some(29) && lower.contains("trial") => {
            ProviderError::Rejected {
                code: Code::PlatformAccessTier,
                message: format!(
                    "Pinterest refused the pin because the app has Trial access: set the API host of the app's Pinterest credentials to sandbox (dashboard, `credentials set --api-host sandbox`, or MYPOSTSHARE_PINTEREST_API_HOST=sandbox for the managed client), or get Standard access. Pinterest said: {platform_message}"
                ),
            }
        }
        404 if lower.contains("board") => ProviderError::Rejected {
            code: Code::TargetNotFound,
            message: format!("Pinterest did not find the board: {platform_message}"),
        },
        _ if lower.contains("could not fetch the image") => ProviderError::Rejected {
            code: Code::MediaFetchFailed,
            message: format!("Pinterest could not fetch the media: {platform_message}"),
        },
        _ => ProviderError::Rejected {
            code: Code::PlatformRejected,
            message: format!("Pinterest rejected the request: {platform_message}"),
        },
    }
}
