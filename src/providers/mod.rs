//! What every platform adapter offers (`Provider`), the outcome classes the engine acts on, and
//! the shared HTTP agent; the platforms themselves are the rows of `platforms::PLATFORMS`.
//! Adapters speak their platform's real HTTP API to whatever base URL configuration gives
//! them, and never touch the database.

pub mod facebook;
pub mod facebook_readback;
pub mod graph;
pub mod image_header;
pub mod instagram;
pub mod instagram_readback;
pub mod linkedin;
pub mod linkedin_media;
pub mod media;
pub mod oauth;
pub mod pinterest;
pub mod pinterest_readback;
pub mod platforms;
pub mod reddit;
pub mod reddit_readback;
pub mod rules;
pub mod threads;
pub mod twitter;
pub mod youtube;

use crate::config::{ClientCredentials, Config};
use crate::error::Code;
pub use platforms::{PLATFORMS, Platform, PlatformSpec, TextLimit, TextUnit, parse_platform};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Tokens as the platform issued them; lifetimes in seconds from now.
#[derive(Clone, Default)]
pub struct TokenSet {
    pub access_token: String,
    pub expires_in: Option<i64>,
    pub refresh_token: Option<String>,
    pub refresh_token_expires_in: Option<i64>,
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("expires_in", &self.expires_in)
            .field("has_refresh_token", &self.refresh_token.is_some())
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// The account a token belongs to.
#[derive(Debug, Clone)]
pub struct RemoteAccount {
    pub id: String,
    pub username: Option<String>,
    /// `person`, `page`, `business`, ...
    pub account_type: String,
}

/// What to publish, already validated against the platform's rules.
#[derive(Debug, Clone)]
pub struct PostContent {
    pub title: Option<String>,
    pub text: String,
    pub media_url: Option<String>,
    pub thumbnail_url: Option<String>,
    /// What `media_url` points at, when there is one.
    pub media_kind: Option<MediaKind>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Image,
    Video,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
        }
    }
}

/// One publish (or resume) call: the token, the account, the post, this platform's entry of
/// `platformOptions`, and the fetcher for media the platform needs uploaded.
pub struct PublishRequest<'a> {
    pub access_token: &'a str,
    /// The app's credentials the connection was made with (Facebook signs every Graph call
    /// with the app secret: `appsecret_proof`).
    pub credentials: &'a ClientCredentials,
    /// What `connect_account` stored with the connection (Facebook's Page tokens), if anything.
    pub platform_data: Option<&'a serde_json::Value>,
    pub account: &'a RemoteAccount,
    pub post: &'a PostContent,
    pub options: &'a serde_json::Map<String, serde_json::Value>,
    pub media: &'a media::MediaFetcher,
}

/// Where a publish stands after one call.
#[derive(Debug, Clone)]
pub enum PublishStep {
    Done(Published),
    /// The platform is still processing (a media container, a video): call `resume` with
    /// `state` after `check_after`. The engine stores the state and frees the thread meanwhile.
    Processing {
        state: serde_json::Value,
        check_after: Duration,
    },
}

/// What `connect_account` found: the account, and what to keep with the connection.
pub struct ConnectedAccount {
    pub account: RemoteAccount,
    pub platform_data: Option<serde_json::Value>,
}

/// A call about a connected account outside publishing (listing its targets).
pub struct AccountCall<'a> {
    pub access_token: &'a str,
    pub credentials: &'a ClientCredentials,
    pub platform_data: Option<&'a serde_json::Value>,
    pub account: &'a RemoteAccount,
}

/// Something an account can publish to: a Facebook Page, a Pinterest board.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Target {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone)]
pub struct Published {
    pub external_id: String,
    pub url: Option<String>,
}

/// What an interrupted publish is looked up by (`Provider::find_published`): the request as
/// it was sent (token, account, post, options), the resume state stored before the interrupted
/// call when it was a resume (an Instagram or Threads container id, a YouTube upload session),
/// and the time window the post, if it exists, was created in.
pub struct LookUp<'a> {
    pub request: PublishRequest<'a>,
    pub resume_state: Option<&'a serde_json::Value>,
    /// When the interrupted attempt started (a little before the publishing call).
    pub since: chrono::DateTime<chrono::Utc>,
    pub now: chrono::DateTime<chrono::Utc>,
}

/// What reading the platform back said about an interrupted publish.
#[derive(Debug, Clone)]
pub enum ReadBack {
    /// The platform has the post: it was published, with this id and URL.
    Found(Published),
    /// The platform certainly does not have it (the adapter read everything the account
    /// created in the window, or the stored container/upload says it was never published):
    /// publishing again cannot make a second copy.
    Absent,
    /// No conclusive answer (no read-back on this platform, a scope the connection lacks, a
    /// window longer than the platform lists); `reason` says which, for the delivery's message.
    Unknowable { reason: String },
}

/// Deleting one published post (`Provider::delete_post`): the account's call, the post's id on
/// the platform as `publish` returned it, and the post's options for this platform (the
/// Facebook Page it went to, the Pinterest board, the subreddit).
pub struct DeleteRequest<'a> {
    pub call: AccountCall<'a>,
    pub external_id: &'a str,
    pub options: &'a serde_json::Map<String, serde_json::Value>,
}

/// What a delete on the platform did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    /// The platform deleted it now.
    Deleted,
    /// The platform no longer has it (deleted by the person, or by an earlier request): the
    /// same end state, reported as such.
    AlreadyGone,
}

/// What repeating a provider call could do, declared by the adapter at every `send`.
///
/// The engine retries a delivery by running its attempt again from where it started (`publish`
/// from the beginning, or `resume` from the stored state), so a call is `SafeToRetry` only when
/// neither it nor any call before it in the same attempt can have published anything: token
/// calls, account and target reads, media registration and upload sessions, container and
/// status reads before the post is created. The call that creates the post, and every call
/// after it in the same attempt, is `Publishing`: a server error there is never retried
/// blindly, since the platform may have published anyway; the engine reads the platform back
/// first (`delivery::reconcile`), as after no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    SafeToRetry,
    Publishing,
}

/// How a platform call failed, in the classes the engine treats differently.
#[derive(Debug, Clone)]
pub enum ProviderError {
    /// The token is expired or revoked: refresh if possible, else the person must reconnect.
    Unauthorized { message: String },
    /// Too many requests; try again after the hint, if any.
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },
    /// The platform refused this request for good (duplicate, validation, permission).
    Rejected { code: Code, message: String },
    /// The platform answered with a server error: it may or may not have acted. `call` says
    /// whether the failing call could have published, which decides if the engine retries.
    Transient {
        status: u16,
        message: String,
        call: CallKind,
    },
    /// The request never reached the platform (connection refused, DNS): safe to retry.
    Unreachable { message: String },
    /// No answer in time, or an answer we cannot read: the outcome is unknown.
    Unknown { message: String },
    /// An OAuth step failed (bad code, bad secret, denied).
    OAuth { error: String, message: String },
}

impl ProviderError {
    pub fn code(&self) -> Code {
        match self {
            ProviderError::Unauthorized { .. } => Code::NeedsReconnect,
            ProviderError::RateLimited { .. } => Code::RateLimited,
            ProviderError::Rejected { code, .. } => *code,
            ProviderError::Transient { .. } => Code::PlatformUnavailable,
            ProviderError::Unreachable { .. } => Code::PlatformUnreachable,
            ProviderError::Unknown { .. } => Code::OutcomeUnknown,
            ProviderError::OAuth { .. } => Code::OauthFailed,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            ProviderError::Unauthorized { message }
            | ProviderError::RateLimited { message, .. }
            | ProviderError::Rejected { message, .. }
            | ProviderError::Transient { message, .. }
            | ProviderError::Unreachable { message }
            | ProviderError::Unknown { message }
            | ProviderError::OAuth { message, .. } => message,
        }
    }
}

/// What the hosted connect flow sends the browser to.
pub struct AuthorizeRequest<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub state: &'a str,
    pub pkce_challenge: Option<&'a str>,
}

pub trait Provider: Send + Sync {
    fn platform(&self) -> Platform;
    /// Whether `check_image` wants the image's first bytes (a ranged read at request time).
    fn checks_images(&self) -> bool {
        false
    }
    /// The platform's rules on an image's pixel size and file size, checked before the post
    /// is stored or charged. Errors name the platform and the rule.
    fn check_image(&self, _image: &image_header::ImageFacts) -> Result<(), crate::error::Error> {
        Ok(())
    }
    /// Images of a post other than `mediaUrl` that `check_image` applies to, each with the
    /// field it came from (Instagram's carousel items, given in its options). Items that turn
    /// out not to be images (a carousel's videos) are skipped by the caller.
    fn more_images(
        &self,
        _options: &serde_json::Map<String, serde_json::Value>,
    ) -> Vec<(String, String)> {
        Vec::new()
    }
    /// Whether the authorize step carries a PKCE challenge (and the token step its verifier).
    fn uses_pkce(&self) -> bool;
    fn authorize_url(&self, request: &AuthorizeRequest) -> String;
    fn exchange_code(
        &self,
        credentials: &ClientCredentials,
        code: &str,
        redirect_uri: &str,
        pkce_verifier: Option<&str>,
    ) -> Result<TokenSet, ProviderError>;
    fn refresh(
        &self,
        credentials: &ClientCredentials,
        refresh_token: &str,
    ) -> Result<TokenSet, ProviderError>;
    fn fetch_account(&self, access_token: &str) -> Result<RemoteAccount, ProviderError>;
    /// The account a new connection links, and what the adapter wants kept with it (sealed)
    /// besides the tokens; it may adjust the token set before it is stored. Most platforms
    /// need only `fetch_account`.
    fn connect_account(
        &self,
        _credentials: &ClientCredentials,
        tokens: &mut TokenSet,
    ) -> Result<ConnectedAccount, ProviderError> {
        Ok(ConnectedAccount {
            account: self.fetch_account(&tokens.access_token)?,
            platform_data: None,
        })
    }
    /// The platform's rules for a post and its options, checked before anything is stored or
    /// charged. Errors carry `CONTENT_TOO_LONG`, `MEDIA_REQUIRED`, `UNSUPPORTED_MEDIA_TYPE`,
    /// `TITLE_REQUIRED`, `TARGET_REQUIRED` or `VALIDATION_FAILED`, and name the platform.
    fn validate(
        &self,
        post: &PostContent,
        options: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), crate::error::Error>;
    fn publish(&self, request: &PublishRequest) -> Result<PublishStep, ProviderError>;
    /// Continues a publish that answered `Processing`.
    fn resume(
        &self,
        _request: &PublishRequest,
        _state: &serde_json::Value,
    ) -> Result<PublishStep, ProviderError> {
        Err(ProviderError::Unknown {
            message: format!(
                "{} has no asynchronous publishing to resume",
                self.platform().key()
            ),
        })
    }
    /// The places an account can publish to, for platforms where the customer chooses one
    /// (`None` where the account itself is the only target).
    fn targets(&self, _call: &AccountCall) -> Result<Option<Vec<Target>>, ProviderError> {
        Ok(None)
    }
    /// Where posts go when `targets` lists nothing, for the `NO_TARGETS` answer of the targets
    /// endpoint: most platforms publish to the connected account itself.
    fn where_posts_go(&self, _account: &RemoteAccount) -> String {
        format!(
            "{} posts go to the connected account itself",
            self.platform().display_name()
        )
    }
    /// Whether the platform has the post an interrupted attempt was sending (a crash, a kill,
    /// an answer that never came). Only reads: never publishes. The default is the answer of a
    /// platform with no way to read back.
    fn find_published(&self, _look: &LookUp) -> Result<ReadBack, ProviderError> {
        Ok(ReadBack::Unknowable {
            reason: format!(
                "{} offers no way to read back the account's recent posts",
                self.platform().display_name()
            ),
        })
    }
    /// Whether `delete_post` exists for this platform (Instagram's API has no deletion).
    fn can_delete(&self) -> bool {
        false
    }
    /// Deletes a published post on the platform.
    fn delete_post(&self, _request: &DeleteRequest) -> Result<Deletion, ProviderError> {
        Err(ProviderError::Rejected {
            code: Code::DeleteNotAvailable,
            message: format!(
                "{}'s API offers no way to delete a published post; delete it in the app",
                self.platform().display_name()
            ),
        })
    }
    /// Revokes the consent at the platform where it offers a way to. `refresh_token` is the
    /// connection's, when it has one: at disconnect the access token has usually expired, and
    /// the refresh token is what outlives it (and what some platforms need revoked).
    fn revoke(
        &self,
        credentials: &ClientCredentials,
        access_token: &str,
        refresh_token: Option<&str>,
    ) -> Result<(), ProviderError>;
}

/// The adapters by platform, built from configuration, and the media fetcher they share.
#[derive(Clone)]
pub struct Providers {
    by_platform: BTreeMap<Platform, Arc<dyn Provider>>,
    /// The same adapters pointed at the platform's sandbox API host, for platforms that have
    /// one (Pinterest); credentials with `api_host = sandbox` get these.
    sandbox_by_platform: BTreeMap<Platform, Arc<dyn Provider>>,
    pub media: Arc<media::MediaFetcher>,
}

impl Providers {
    pub fn from_config(config: &Config) -> Self {
        let agent = http_agent(config.provider_timeout);
        let mut by_platform: BTreeMap<Platform, Arc<dyn Provider>> = BTreeMap::new();
        let mut sandbox_by_platform: BTreeMap<Platform, Arc<dyn Provider>> = BTreeMap::new();
        for (platform, endpoints) in &config.endpoints {
            let mut endpoints = endpoints.clone();
            endpoints.user_agent_username = config.reddit_username.clone();
            if let Some(sandbox) = &endpoints.sandbox_api_base {
                let mut sandboxed = endpoints.clone();
                sandboxed.api_base = sandbox.clone();
                let adapter = (platform.spec().adapter)(sandboxed, agent.clone());
                sandbox_by_platform.insert(*platform, adapter);
            }
            let adapter = (platform.spec().adapter)(endpoints, agent.clone());
            by_platform.insert(*platform, adapter);
        }
        let media = Arc::new(media::MediaFetcher::with_limits(
            config.allow_private_media,
            media::MediaLimits::from_config(config),
        ));
        Self {
            by_platform,
            sandbox_by_platform,
            media,
        }
    }

    /// The adapter on the platform's production hosts; for calls made with known credentials
    /// use `for_credentials`, which honours their API host.
    pub fn get(&self, platform: Platform) -> Option<Arc<dyn Provider>> {
        self.by_platform.get(&platform).cloned()
    }

    /// The adapter that calls the API host `credentials` chose (Pinterest's sandbox host for
    /// Trial apps), else the production one.
    pub fn for_credentials(
        &self,
        platform: Platform,
        credentials: &ClientCredentials,
    ) -> Option<Arc<dyn Provider>> {
        match credentials.api_host {
            crate::config::ApiHost::Sandbox => self.sandbox_by_platform.get(&platform).cloned(),
            crate::config::ApiHost::Production => self.get(platform),
        }
    }

    /// The platforms with an adapter in this build, in the spec's order.
    pub fn supported(&self) -> Vec<Platform> {
        Platform::ALL
            .into_iter()
            .filter(|p| self.by_platform.contains_key(p))
            .collect()
    }
}

pub fn http_agent(timeout: Duration) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(5))
        .timeout(timeout)
        .redirects(0)
        .user_agent(concat!("mypostshare/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// A platform's answer: status, headers we may need, and the body text.
pub struct HttpAnswer {
    pub status: u16,
    pub body: String,
    pub retry_after: Option<Duration>,
    /// What the call that got this answer could have done; server errors carry it on.
    pub call: CallKind,
    response_headers: Vec<(String, String)>,
}

impl HttpAnswer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.response_headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// This answer as a server error (`Transient`), carrying what its call could have done.
    pub fn server_error(&self, message: String) -> ProviderError {
        ProviderError::Transient {
            status: self.status,
            message,
            call: self.call,
        }
    }
}

thread_local! {
    /// The status of the answer to the last request `send` made on this thread; `None` when
    /// that request got no answer (refused, timed out). A delivery's whole call (however many
    /// requests an adapter makes) runs on one worker thread, so the engine reads here what the
    /// platform last answered, for the attempt log, without every adapter and error carrying it.
    static LAST_STATUS: std::cell::Cell<Option<u16>> = const { std::cell::Cell::new(None) };
}

/// The status of the answer to the last request sent on this thread (`None` when it got none,
/// or nothing was sent since the previous take), and forgets it.
pub fn take_last_status() -> Option<u16> {
    LAST_STATUS.with(std::cell::Cell::take)
}

thread_local! {
    /// The message of the `Unknown` error (no answer in time, a connection cut mid-answer) the
    /// last `send` on this thread returned for a call its adapter marked `SafeToRetry`; cleared
    /// by every `send`. An adapter's `Unknown` carrying this message came from a call that
    /// publishes nothing (nor did any call before it in the attempt, by `CallKind`'s rule), so
    /// the engine may retry it like a safe 5xx instead of reading the platform back. An
    /// `Unknown` from any other call (a publishing one, or one sent outside `send`) finds no
    /// match here and counts as a publish that may have happened.
    static UNANSWERED_SAFE_CALL: std::cell::RefCell<Option<String>> =
        const { std::cell::RefCell::new(None) };
}

/// The message of the last unanswered `SafeToRetry` call on this thread (see
/// `UNANSWERED_SAFE_CALL`), and forgets it.
pub fn take_unanswered_safe_call() -> Option<String> {
    UNANSWERED_SAFE_CALL.with(|last| last.borrow_mut().take())
}

/// Whether `error` is the `Unknown` of an unanswered `SafeToRetry` call (taken from this
/// thread's record, which it forgets): nothing can have been published.
pub fn unanswered_call_was_safe(error: &ProviderError) -> bool {
    let recorded = take_unanswered_safe_call();
    match (error, recorded) {
        (ProviderError::Unknown { message }, Some(recorded)) => {
            !recorded.is_empty() && message.contains(&recorded)
        }
        _ => false,
    }
}

/// `error` as returned by `send` for a call of kind `call`, noted in `UNANSWERED_SAFE_CALL`
/// when it is an `Unknown` of a safe call.
fn noting_unanswered(error: ProviderError, call: CallKind) -> ProviderError {
    if let (ProviderError::Unknown { message }, CallKind::SafeToRetry) = (&error, call) {
        UNANSWERED_SAFE_CALL.with(|last| *last.borrow_mut() = Some(message.clone()));
    }
    error
}

/// Sends a request and folds ureq's error statuses back into an answer, so adapters classify
/// every status in one place. Transport failures become `Unreachable` when nothing was sent
/// and `Unknown` otherwise. `call` is what the call could do (see `CallKind`).
pub fn send(
    request: ureq::Request,
    body: Option<SendBody>,
    call: CallKind,
) -> Result<HttpAnswer, ProviderError> {
    LAST_STATUS.with(|last| last.set(None));
    UNANSWERED_SAFE_CALL.with(|last| *last.borrow_mut() = None);
    let result = match body {
        None => request.call(),
        Some(SendBody::Form(pairs)) => request.send_form(
            &pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        ),
        Some(SendBody::Json(value)) => request
            .set("Content-Type", "application/json")
            .send_string(&value.to_string()),
        Some(SendBody::Bytes {
            content_type,
            bytes,
        }) => request
            .set("Content-Type", &content_type)
            .send_bytes(&bytes),
        Some(SendBody::Upload { content_type, body }) => {
            let len = body.get_ref().get_ref().len();
            request
                .set("Content-Type", &content_type)
                .set("Content-Length", &len.to_string())
                .send(body)
        }
    };
    let response = match result {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(ureq::Error::Transport(transport)) => {
            let message = transport.to_string();
            return Err(noting_unanswered(
                match transport.kind() {
                    ureq::ErrorKind::ConnectionFailed | ureq::ErrorKind::Dns => {
                        ProviderError::Unreachable { message }
                    }
                    _ => ProviderError::Unknown { message },
                },
                call,
            ));
        }
    };
    let status = response.status();
    LAST_STATUS.with(|last| last.set(Some(status)));
    let response_headers = response
        .headers_names()
        .into_iter()
        .filter_map(|name| {
            let value = response.header(&name)?.to_string();
            Some((name, value))
        })
        .collect();
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
        .map_err(|e| {
            noting_unanswered(
                ProviderError::Unknown {
                    message: format!("reading the platform's answer: {e}"),
                },
                call,
            )
        })?;
    Ok(HttpAnswer {
        status,
        body,
        retry_after,
        call,
        response_headers,
    })
}

pub enum SendBody {
    Form(Vec<(String, String)>),
    Json(serde_json::Value),
    /// A body built by the adapter (a multipart upload), with its content type.
    Bytes {
        content_type: String,
        bytes: Vec<u8>,
    },
    /// A part of a media upload built in memory (an X chunk in its multipart body), sent on
    /// `MediaFetcher::upload_agent` under the cap for its size.
    Upload {
        content_type: String,
        body: media::CappedReader<std::io::Cursor<Vec<u8>>>,
    },
}

/// Shortens a platform's error text for storage and display.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        text.chars().take(max).collect::<String>() + "…"
    }
}
