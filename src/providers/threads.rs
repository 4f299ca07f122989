//! Threads (Meta): the Threads OAuth flow (authorize window, code → short-lived token →
//! long-lived token), the profile, and two-step publishing through media containers on
//! `graph.threads.net`; reading back an interrupted publish and deleting a post are in
//! `threads_readback.rs`. Reference: `../shared/providers/youtube-threads-pinterest-reddit.md`,
//! part 2.
//!
//! Tokens: Threads has no refresh token. The long-lived access token refreshes *itself*
//! (`GET /refresh_access_token?grant_type=th_refresh_token`), once it is at least 24 hours old
//! and before it expires (60 days). So the connection stores the long-lived token twice: as
//! the access token and as the "refresh token" the engine hands back to `refresh`, both with
//! the same expiry. The engine refreshes a token that expires within 60 s, which is always
//! long past the 24-hour minimum; a refresh forced by a 401 on a younger token is refused by
//! Threads and ends in a reconnect, which is what a rejected token needs anyway.

use super::oauth::{access_token_of, token_endpoint_failure};
use super::{
    AuthorizeRequest, CallKind, DeleteRequest, Deletion, HttpAnswer, LookUp, MediaKind, Platform,
    PostContent, Provider, ProviderError, PublishRequest, PublishStep, Published, ReadBack,
    RemoteAccount, SendBody, TokenSet, clip, rules, send,
};
use crate::config::{ClientCredentials, ProviderEndpoints};
use crate::error::{Code, Error};
use crate::http::append_query;
use serde_json::{Map, Value, json};
use std::time::Duration;

// A child module (it uses the adapter's private calls), kept as a flat file like the other
// platforms' read-back files.
#[path = "threads_readback.rs"]
mod readback;

/// `threads_basic` is needed by every endpoint (listing the profile's posts too),
/// `threads_content_publish` by publishing, `threads_delete` by deleting a post
/// (developers.facebook.com/documentation/threads/posts/delete-posts). Threads takes them
/// comma-separated.
pub const SCOPES: &[&str] = &["threads_basic", "threads_content_publish", "threads_delete"];

/// Longest post text, counted the Threads way (see `text_length`).
pub const TEXT_LIMIT: usize = 500;

/// Most unique links a post may carry (container creation fails above it since Dec 2025).
pub const LINK_LIMIT: usize = 5;

/// Longest `alt_text` this adapter sends, in characters. Threads' accessibility page
/// (developers.facebook.com/documentation/threads/posts/accessibility) gives no length, so
/// this is the 1,000 characters Meta documents for the same field of Instagram's media
/// containers, which Threads clients apply too.
pub const ALT_TEXT_LIMIT: usize = 1000;

/// `reply_control` values of the media container (Threads Posts reference, "Reply controls").
pub const REPLY_CONTROLS: &[&str] = &[
    "everyone",
    "accounts_you_follow",
    "mentioned_only",
    "parent_post_author_only",
    "followers_only",
];

/// Pauses between container status checks inside one publish or resume call: a few seconds
/// in all, so a worker thread is never held for long; longer processing goes back to the
/// engine as `Processing`.
const POLL_PAUSES_MS: &[u64] = &[0, 250, 500, 1000, 1000];

/// When the engine should look again at a container still processing. Meta advises about
/// once a minute; the first look comes sooner since most videos take ~30 s.
const FIRST_CHECK_AFTER: Duration = Duration::from_secs(30);
const LATER_CHECK_AFTER: Duration = Duration::from_secs(60);

/// `threads_publish` sometimes does not see a FINISHED container yet (subcode 4279009);
/// it is asked again a few seconds later, at most this many times.
const PUBLISH_NOT_READY_ATTEMPTS: u64 = 3;
const PUBLISH_NOT_READY_WAIT: Duration = Duration::from_secs(5);

/// The wait suggested when the 250-posts-per-24-hours quota is used up.
const QUOTA_RETRY_AFTER: Duration = Duration::from_secs(3600);

pub struct Threads {
    endpoints: ProviderEndpoints,
    agent: ureq::Agent,
}

impl Threads {
    pub fn new(endpoints: ProviderEndpoints, agent: ureq::Agent) -> Self {
        Self { endpoints, agent }
    }

    fn graph(&self, path: &str) -> String {
        format!(
            "{}/{}/{}",
            self.endpoints.api_base, self.endpoints.api_version, path
        )
    }

    /// Graph calls carry the token in a Bearer header rather than the query, so it never
    /// ends up in a URL (and so in a transport error message).
    fn authed(&self, request: ureq::Request, access_token: &str) -> ureq::Request {
        request.set("Authorization", &format!("Bearer {access_token}"))
    }

    /// The token endpoints take secrets in the query string, as documented; a transport error
    /// message would repeat that URL, so it is replaced by one without it.
    fn token_get(&self, url: &str, what: &str) -> Result<Value, ProviderError> {
        let answer =
            send(self.agent.get(url), None, CallKind::SafeToRetry).map_err(|e| scrub(e, what))?;
        if answer.status != 200 {
            return Err(oauth_error(&answer));
        }
        Ok(answer.json())
    }

    /// `GET /access_token?grant_type=th_exchange_token`: short-lived → long-lived (60 days).
    fn long_lived(
        &self,
        credentials: &ClientCredentials,
        short_lived: &str,
    ) -> Result<TokenSet, ProviderError> {
        let url = append_query(
            &format!("{}/access_token", self.endpoints.token_base),
            &[
                ("grant_type", "th_exchange_token"),
                ("client_secret", &credentials.client_secret),
                ("access_token", short_lived),
            ],
        );
        let body = self.token_get(&url, "exchanging the short-lived Threads token")?;
        long_lived_tokens(&body)
    }

    fn container_status(
        &self,
        access_token: &str,
        container_id: &str,
    ) -> Result<ContainerStatus, ProviderError> {
        let url = append_query(
            &self.graph(container_id),
            &[("fields", "id,status,error_message")],
        );
        let answer = send(
            self.authed(self.agent.get(&url), access_token),
            None,
            CallKind::SafeToRetry,
        )?;
        if answer.status != 200 {
            return Err(classify_api_error(&answer));
        }
        let body = answer.json();
        Ok(match body["status"].as_str().unwrap_or_default() {
            "FINISHED" => ContainerStatus::Finished,
            "PUBLISHED" => ContainerStatus::Published,
            "IN_PROGRESS" => ContainerStatus::InProgress,
            "EXPIRED" => ContainerStatus::Failed(
                "Threads let the media container expire (not published within 24 hours)".into(),
            ),
            "ERROR" => ContainerStatus::Failed(format!(
                "Threads could not process the media: {}",
                body["error_message"].as_str().unwrap_or("UNKNOWN")
            )),
            other => {
                return Err(ProviderError::Unknown {
                    message: format!("Threads answered an unknown container status {other:?}"),
                });
            }
        })
    }

    /// Checks the container a few times within a few seconds; then publishes it, or hands it
    /// back to the engine to look at later.
    fn wait_then_publish(
        &self,
        request: &PublishRequest,
        container_id: &str,
        earlier_looks: u64,
    ) -> Result<PublishStep, ProviderError> {
        for pause in POLL_PAUSES_MS {
            std::thread::sleep(Duration::from_millis(*pause));
            match self.container_status(request.access_token, container_id)? {
                ContainerStatus::InProgress => continue,
                ContainerStatus::Finished => {
                    return self.publish_container(request, container_id, 0);
                }
                ContainerStatus::Published => {
                    // Only reachable if an earlier publish went through unnoticed; the post is
                    // live, so publishing again would duplicate it.
                    return Ok(PublishStep::Done(Published {
                        external_id: container_id.to_string(),
                        url: None,
                    }));
                }
                ContainerStatus::Failed(message) => {
                    return Err(ProviderError::Rejected {
                        code: Code::PlatformRejected,
                        message,
                    });
                }
            }
        }
        Ok(PublishStep::Processing {
            state: json!({"containerId": container_id, "stage": "processing", "looks": earlier_looks + 1}),
            check_after: if earlier_looks == 0 {
                FIRST_CHECK_AFTER
            } else {
                LATER_CHECK_AFTER
            },
        })
    }

    /// `POST /{user-id}/threads_publish?creation_id=...`, then the permalink.
    fn publish_container(
        &self,
        request: &PublishRequest,
        container_id: &str,
        not_ready_so_far: u64,
    ) -> Result<PublishStep, ProviderError> {
        let url = append_query(
            &self.graph(&format!("{}/threads_publish", request.account.id)),
            &[("creation_id", container_id)],
        );
        let answer = send(
            self.authed(self.agent.post(&url), request.access_token),
            Some(SendBody::Form(Vec::new())),
            CallKind::Publishing,
        )?;
        if answer.status != 200 {
            let error = GraphError::of(&answer);
            if error.subcode == Some(4279009) && not_ready_so_far + 1 < PUBLISH_NOT_READY_ATTEMPTS {
                // Known race: the container is FINISHED but not yet visible to publishing.
                return Ok(PublishStep::Processing {
                    state: json!({"containerId": container_id, "stage": "publish", "notReady": not_ready_so_far + 1}),
                    check_after: PUBLISH_NOT_READY_WAIT,
                });
            }
            return Err(classify_api_error(&answer));
        }
        let media_id = answer.json()["id"]
            .as_str()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ProviderError::Unknown {
                message: "Threads published the post but answered no id".into(),
            })?
            .to_string();
        Ok(PublishStep::Done(Published {
            url: self.permalink(request.access_token, &media_id),
            external_id: media_id,
        }))
    }

    /// The post's public address. It cannot be derived from the id, and a failed lookup must
    /// not turn a published post into a failed delivery, so it is left out then.
    fn permalink(&self, access_token: &str, media_id: &str) -> Option<String> {
        let url = append_query(&self.graph(media_id), &[("fields", "id,permalink")]);
        let answer = send(
            self.authed(self.agent.get(&url), access_token),
            None,
            CallKind::Publishing,
        )
        .ok()?;
        if answer.status != 200 {
            return None;
        }
        answer.json()["permalink"].as_str().map(str::to_string)
    }

    /// `POST /{user-id}/threads`: the media container; returns its id.
    fn create_container(&self, request: &PublishRequest) -> Result<String, ProviderError> {
        let post = request.post;
        let mut form: Vec<(String, String)> = Vec::new();
        match (&post.media_url, post.media_kind) {
            (Some(url), Some(kind)) => {
                let media_type = match kind {
                    MediaKind::Image => "IMAGE",
                    MediaKind::Video => "VIDEO",
                };
                check_media(request, url, kind)?;
                form.push(("media_type".into(), media_type.into()));
                let field = match kind {
                    MediaKind::Image => "image_url",
                    MediaKind::Video => "video_url",
                };
                form.push((field.into(), url.clone()));
                if let Some(alt) = request.options.get("altText").and_then(Value::as_str) {
                    form.push(("alt_text".into(), alt.to_string()));
                }
            }
            _ => form.push(("media_type".into(), "TEXT".into())),
        }
        if !post.text.is_empty() {
            form.push(("text".into(), post.text.clone()));
        }
        if let Some(control) = request.options.get("replyControl").and_then(Value::as_str) {
            form.push(("reply_control".into(), control.to_string()));
        }
        let url = self.graph(&format!("{}/threads", request.account.id));
        let answer = send(
            self.authed(self.agent.post(&url), request.access_token),
            Some(SendBody::Form(form)),
            // A container is a draft: nothing is shown until `threads_publish` names it.
            CallKind::SafeToRetry,
        )?;
        if answer.status != 200 {
            return Err(classify_api_error(&answer));
        }
        answer.json()["id"]
            .as_str()
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            .ok_or_else(|| ProviderError::Unknown {
                message: "Threads created a container but answered no id".into(),
            })
    }
}

enum ContainerStatus {
    InProgress,
    Finished,
    Published,
    Failed(String),
}

/// Threads downloads the media itself: make sure it answers, and serves what the post says,
/// before a container is made that would only fail minutes later.
fn check_media(request: &PublishRequest, url: &str, kind: MediaKind) -> Result<(), ProviderError> {
    let info = request.media.probe(url)?;
    if rules::media_kind_from_content_type(&info.content_type) != Some(kind) {
        return Err(ProviderError::Rejected {
            code: Code::UnsupportedMediaType,
            message: format!(
                "{url} is served as {:?}, not as {}; Threads would refuse it.",
                info.content_type,
                kind.as_str()
            ),
        });
    }
    Ok(())
}

impl Provider for Threads {
    fn platform(&self) -> Platform {
        Platform::Threads
    }

    fn uses_pkce(&self) -> bool {
        // The Threads authorize window has no PKCE; the app secret authenticates the exchange.
        false
    }

    fn authorize_url(&self, request: &AuthorizeRequest) -> String {
        append_query(
            &format!("{}/oauth/authorize", self.endpoints.auth_base),
            &[
                ("client_id", request.client_id),
                ("redirect_uri", request.redirect_uri),
                ("scope", &SCOPES.join(",")),
                ("response_type", "code"),
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
        // Meta appends `#_` to the redirect; it is not part of the code.
        let code = code.strip_suffix("#_").unwrap_or(code);
        let url = format!("{}/oauth/access_token", self.endpoints.token_base);
        let form = vec![
            ("client_id".into(), credentials.client_id.clone()),
            ("client_secret".into(), credentials.client_secret.clone()),
            ("code".into(), code.to_string()),
            ("grant_type".into(), "authorization_code".into()),
            ("redirect_uri".into(), redirect_uri.to_string()),
        ];
        let answer = send(
            self.agent.post(&url),
            Some(SendBody::Form(form)),
            CallKind::SafeToRetry,
        )
        .map_err(|e| scrub(e, "exchanging the Threads code"))?;
        if answer.status != 200 {
            return Err(oauth_error(&answer));
        }
        let body = answer.json();
        let short_lived = body["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ProviderError::Unknown {
                message: "Threads' code exchange answered no access_token".into(),
            })?;
        // The one-hour token is never stored: only a long-lived one can be refreshed.
        let mut tokens = self.long_lived(credentials, short_lived)?;
        tokens.scopes = SCOPES.iter().map(|s| s.to_string()).collect();
        Ok(tokens)
    }

    fn refresh(
        &self,
        _credentials: &ClientCredentials,
        refresh_token: &str,
    ) -> Result<TokenSet, ProviderError> {
        // The "refresh token" is the long-lived access token itself (see the module comment).
        let url = append_query(
            &format!("{}/refresh_access_token", self.endpoints.token_base),
            &[
                ("grant_type", "th_refresh_token"),
                ("access_token", refresh_token),
            ],
        );
        let body = self.token_get(&url, "refreshing the Threads token")?;
        let mut tokens = long_lived_tokens(&body)?;
        tokens.scopes = SCOPES.iter().map(|s| s.to_string()).collect();
        Ok(tokens)
    }

    fn fetch_account(&self, access_token: &str) -> Result<RemoteAccount, ProviderError> {
        let url = append_query(
            &self.graph("me"),
            &[(
                "fields",
                "id,username,name,threads_profile_picture_url,threads_biography",
            )],
        );
        let answer = send(
            self.authed(self.agent.get(&url), access_token),
            None,
            CallKind::SafeToRetry,
        )?;
        if answer.status != 200 {
            return Err(classify_api_error(&answer));
        }
        let body = answer.json();
        // Ids are numeric strings; accept a number too rather than fail on a format change.
        let id = match &body["id"] {
            Value::String(s) if !s.is_empty() => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => {
                return Err(ProviderError::Unknown {
                    message: "Threads' profile answer had no id".into(),
                });
            }
        };
        Ok(RemoteAccount {
            id,
            username: body["username"].as_str().map(str::to_string),
            account_type: "person".into(),
        })
    }

    fn validate(&self, post: &PostContent, options: &Map<String, Value>) -> Result<(), Error> {
        let platform = Platform::Threads;
        rules::known_options(platform, options, &["replyControl", "altText"])?;
        rules::choice_option(platform, options, "replyControl", REPLY_CONTROLS)?;
        if rules::text_option(platform, options, "altText", ALT_TEXT_LIMIT)?.is_some()
            && post.media_kind.is_none()
        {
            return Err(Error::validation(
                "platformOptions.threads.altText describes media; send it with a mediaUrl or leave it out.",
            ));
        }
        rules::text_within(platform, text_length(&post.text), TEXT_LIMIT, "content")?;
        let links = count_links(&post.text);
        if links > LINK_LIMIT {
            return Err(Error::validation(format!(
                "content has {links} different links; Threads allows at most {LINK_LIMIT} per post."
            )));
        }
        rules::media_optional(platform, post, &[MediaKind::Image, MediaKind::Video])?;
        if let (Some(url), Some(MediaKind::Image)) = (&post.media_url, post.media_kind) {
            image_format_supported(url)?;
        }
        if post.thumbnail_url.is_some() {
            return Err(Error::new(
                Code::UnsupportedMediaType,
                "thumbnailUrl is not used by Threads (it picks a video's cover itself); leave it out.",
            ));
        }
        if post.media_kind.is_none() && post.text.trim().is_empty() {
            return Err(Error::validation(
                "A Threads text post needs content; send content or a mediaUrl.",
            ));
        }
        Ok(())
    }

    fn publish(&self, request: &PublishRequest) -> Result<PublishStep, ProviderError> {
        let container_id = self.create_container(request)?;
        self.wait_then_publish(request, &container_id, 0)
    }

    fn resume(
        &self,
        request: &PublishRequest,
        state: &Value,
    ) -> Result<PublishStep, ProviderError> {
        let container_id = state["containerId"]
            .as_str()
            .ok_or_else(|| ProviderError::Unknown {
                message: "the stored Threads state names no container".into(),
            })?;
        match state["stage"].as_str() {
            Some("publish") => self.publish_container(
                request,
                container_id,
                state["notReady"].as_u64().unwrap_or(1),
            ),
            _ => {
                self.wait_then_publish(request, container_id, state["looks"].as_u64().unwrap_or(1))
            }
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
        _access_token: &str,
        _refresh_token: Option<&str>,
    ) -> Result<(), ProviderError> {
        // Threads has no revocation endpoint: people remove the app in their Threads settings.
        Ok(())
    }
}

/// Threads counts text in characters, except that an emoji counts as its UTF-8 bytes.
pub fn text_length(text: &str) -> usize {
    text.chars()
        .map(|c| if is_emoji(c) { c.len_utf8() } else { 1 })
        .sum()
}

/// Emoji and the joiners and selectors that build them (pictographs, symbols, flags, skin
/// tones, ZWJ, variation selectors, tags).
fn is_emoji(c: char) -> bool {
    matches!(
        c as u32,
        0x1F000..=0x1FAFF
            | 0x2300..=0x23FF
            | 0x2600..=0x27BF
            | 0x2B00..=0x2BFF
            | 0xFE00..=0xFE0F
            | 0x200D
            | 0x20E3
            | 0xE0020..=0xE007F
    )
}

/// Unique links in the text, as Threads counts them for its 5-link limit: every distinct URL.
pub fn count_links(text: &str) -> usize {
    let mut seen: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        let word = word.trim_matches(|c: char| matches!(c, '(' | ')' | '<' | '>' | '"' | '\''));
        let word = word.trim_end_matches(['.', ',', '!', '?', ';', ':']);
        let lower = word.to_ascii_lowercase();
        let is_link = lower.starts_with("http://")
            || lower.starts_with("https://")
            || (lower.starts_with("www.") && lower.len() > 4);
        if is_link && !seen.contains(&lower) {
            seen.push(lower);
        }
    }
    seen.len()
}

/// Threads takes JPEG and PNG images.
fn image_format_supported(url: &str) -> Result<(), Error> {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    let ext = path
        .rsplit('/')
        .next()
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e);
    match ext {
        Some("gif" | "webp" | "bmp" | "heic") => Err(Error::new(
            Code::UnsupportedMediaType,
            format!(
                "Threads takes JPEG or PNG images, and mediaUrl points at a .{} file. Send a JPEG or PNG, or leave threads out.",
                ext.unwrap_or_default()
            ),
        )),
        _ => Ok(()),
    }
}

fn long_lived_tokens(body: &Value) -> Result<TokenSet, ProviderError> {
    let token = access_token_of(body, "Threads'")?;
    let expires_in = body["expires_in"].as_i64();
    Ok(TokenSet {
        access_token: token.to_string(),
        expires_in,
        // The long-lived token is its own refresh credential, valid exactly as long.
        refresh_token: Some(token.to_string()),
        refresh_token_expires_in: expires_in,
        scopes: Vec::new(),
    })
}

/// A transport error on a URL with secrets in it: keep the class, drop the text.
fn scrub(error: ProviderError, what: &str) -> ProviderError {
    let message = format!("{what} failed: Threads could not be reached or did not answer");
    match error {
        ProviderError::Unreachable { .. } => ProviderError::Unreachable { message },
        ProviderError::Unknown { .. } => ProviderError::Unknown { message },
        other => other,
    }
}

/// Meta's error envelope `{"error":{"message","type","code","error_subcode",...}}`; the
/// Instagram-style `{"error_type","code","error_message"}` is read too.
#[derive(Debug, Default)]
struct GraphError {
    code: Option<i64>,
    subcode: Option<i64>,
    message: String,
}

impl GraphError {
    fn of(answer: &HttpAnswer) -> GraphError {
        let body = answer.json();
        let error = &body["error"];
        if error.is_object() {
            let message = error["error_user_msg"]
                .as_str()
                .filter(|m| !m.is_empty())
                .map(|user| format!("{} ({user})", error["message"].as_str().unwrap_or_default()))
                .or_else(|| error["message"].as_str().map(str::to_string))
                .unwrap_or_default();
            return GraphError {
                code: error["code"].as_i64(),
                subcode: error["error_subcode"].as_i64(),
                message: clip(&message, 300),
            };
        }
        GraphError {
            code: body["code"].as_i64(),
            subcode: None,
            message: clip(
                body["error_message"]
                    .as_str()
                    .or(body["error"].as_str())
                    .unwrap_or_default(),
                300,
            ),
        }
    }

    fn text(&self, status: u16) -> String {
        if self.message.is_empty() {
            format!("Threads answered HTTP {status}")
        } else {
            self.message.clone()
        }
    }
}

fn oauth_error(answer: &HttpAnswer) -> ProviderError {
    if let Some(failure) = token_endpoint_failure(answer, "Threads'") {
        return failure;
    }
    let error = GraphError::of(answer);
    ProviderError::OAuth {
        error: match error.code {
            Some(code) => format!("OAuthException {code}"),
            None => "OAuthException".into(),
        },
        message: error.text(answer.status),
    }
}

/// Maps an answer of the Threads Graph API to the engine's outcome classes.
fn classify_api_error(answer: &HttpAnswer) -> ProviderError {
    let error = GraphError::of(answer);
    let text = error.text(answer.status);
    let code = error.code.unwrap_or_default();
    // Token errors: 190 invalid/expired/revoked, 102 session, 463/467 expired/invalid.
    if answer.status == 401 || matches!(code, 102 | 190 | 463 | 467) {
        return ProviderError::Unauthorized {
            message: format!("Threads refused the access token: {text}"),
        };
    }
    if code == 9 || error.subcode == Some(2207042) {
        return ProviderError::RateLimited {
            retry_after: Some(answer.retry_after.unwrap_or(QUOTA_RETRY_AFTER)),
            message: format!("The Threads profile used up its 250 API posts per 24 hours: {text}"),
        };
    }
    if answer.status == 429 || matches!(code, 4 | 17 | 32 | 613) || (80000..=80014).contains(&code)
    {
        return ProviderError::RateLimited {
            retry_after: answer.retry_after,
            message: format!("Threads rate limit reached: {text}"),
        };
    }
    if code == 506 {
        return ProviderError::Rejected {
            code: Code::DuplicatePost,
            message: format!("Threads rejected the post as a duplicate: {text}"),
        };
    }
    // Meta's unknown (1) and service (2) errors are server trouble, as in `graph`.
    if answer.status >= 500 || matches!(code, 1 | 2) {
        return ProviderError::Transient {
            status: answer.status.max(500),
            message: format!("Threads had a server error: {text}"),
            call: answer.call,
        };
    }
    ProviderError::Rejected {
        code: Code::PlatformRejected,
        message: format!("Threads rejected the request: {text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_count_as_their_bytes() {
        assert_eq!(text_length("hello"), 5);
        assert_eq!(text_length("é"), 1);
        assert_eq!(text_length("🚀"), 4);
        assert_eq!(text_length("a🚀b"), 6);
    }

    fn answer(status: u16, body: Value) -> HttpAnswer {
        HttpAnswer {
            status,
            body: body.to_string(),
            retry_after: None,
            call: CallKind::SafeToRetry,
            response_headers: Vec::new(),
        }
    }

    fn graph(status: u16, code: i64, subcode: Option<i64>) -> ProviderError {
        let mut error = json!({"message": "m", "type": "OAuthException", "code": code});
        if let Some(subcode) = subcode {
            error["error_subcode"] = json!(subcode);
        }
        classify_api_error(&answer(status, json!({ "error": error })))
    }

    #[test]
    fn graph_errors_map_to_the_engine_classes() {
        assert!(matches!(
            graph(400, 190, Some(458)),
            ProviderError::Unauthorized { .. }
        ));
        assert!(matches!(
            graph(400, 4, None),
            ProviderError::RateLimited {
                retry_after: None,
                ..
            }
        ));
        assert!(matches!(
            graph(400, 9, Some(2207042)),
            ProviderError::RateLimited { retry_after: Some(d), .. } if d == QUOTA_RETRY_AFTER
        ));
        assert_eq!(graph(400, 506, None).code(), Code::DuplicatePost);
        assert_eq!(graph(500, 1, None).code(), Code::PlatformUnavailable);
        // Meta's service error at a 4xx is server trouble too, and keeps what its call could do.
        assert!(matches!(
            graph(400, 2, None),
            ProviderError::Transient {
                call: CallKind::SafeToRetry,
                ..
            }
        ));
        assert_eq!(graph(400, 100, Some(33)).code(), Code::PlatformRejected);
        // The Instagram-style envelope is read too.
        let ig = answer(
            400,
            json!({"error_type": "OAuthException", "code": 190, "error_message": "bad token"}),
        );
        assert!(classify_api_error(&ig).message().contains("bad token"));
    }

    #[test]
    fn links_are_counted_once_each() {
        assert_eq!(
            count_links("see https://a.example and https://a.example."),
            1
        );
        assert_eq!(
            count_links("www.threads.com (https://b.example) http://c.example"),
            3
        );
        assert_eq!(count_links("no links, www. alone"), 0);
    }
}
