//! Reddit: a "web app" OAuth client with `duration=permanent` (one-hour access tokens and a
//! lasting refresh token), identity from `oauth.reddit.com/api/v1/me`, and self and link posts
//! through `POST /api/submit`. Reddit answers many failures with HTTP 200 and an error body,
//! wants a descriptive User-Agent on every call, and gives each client id a budget of calls
//! per minute that this adapter tracks from the `X-Ratelimit-*` headers and honours.
//! Read-back of an interrupted submit and deletion are in `reddit_readback.rs`.
//! Reference: `../shared/providers/youtube-threads-pinterest-reddit.md`, part 4.

use super::oauth::{access_token_of, code_grant, refresh_grant, scopes_of, token_endpoint_failure};
use super::{
    AuthorizeRequest, CallKind, DeleteRequest, Deletion, HttpAnswer, LookUp, MediaKind, Platform,
    PostContent, Provider, ProviderError, PublishRequest, PublishStep, Published, ReadBack,
    RemoteAccount, SendBody, TokenSet, clip, rules, send,
};
use crate::config::{ClientCredentials, ProviderEndpoints};
use crate::crypto::sha256_hex;
use crate::error::{Code, Error};
use crate::http::append_query;
use base64::Engine as _;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Username (`identity`), posting (`submit`), the subreddit's link flair templates (`flair`,
/// for `GET /r/{subreddit}/api/link_flair_v2`), reading the subreddit and a post
/// (`read`, also `GET /api/info`), the account's own submissions for read-back (`history`,
/// `GET /user/{username}/submitted`) and deleting a post (`edit`, `POST /api/del`).
pub const SCOPES: &[&str] = &["identity", "submit", "flair", "read", "history", "edit"];
pub const TITLE_LIMIT: usize = 300;
pub const TEXT_LIMIT: usize = 40_000;
/// `POST /api/submit` (reddit.com/dev/api#POST_api_submit): `flair_id` "a string no longer
/// than 36 characters", `flair_text` "a string no longer than 64 characters".
pub const FLAIR_ID_LIMIT: usize = 36;
pub const FLAIR_TEXT_LIMIT: usize = 64;
const OPTIONS: &[&str] = &["subreddit", "url", "flairId", "flairText"];
/// Templates named in a flair-required error; the rest are counted.
const FLAIRS_NAMED: usize = 15;
/// Tokens remembered with the client id that obtained them; more are forgotten oldest-first.
const MAX_KNOWN_TOKENS: usize = 10_000;

/// What the last answer said of a client id's budget.
#[derive(Debug, Clone, Copy)]
struct Budget {
    remaining: f64,
    resets_at: Instant,
}

pub struct Reddit {
    pub(super) endpoints: ProviderEndpoints,
    pub(super) agent: ureq::Agent,
    /// Access-token fingerprint to the client id that obtained it: the publish call gets only
    /// the token, yet the User-Agent and the rate budget belong to the client id.
    token_clients: Mutex<HashMap<String, (String, Instant)>>,
    budgets: Mutex<HashMap<String, Budget>>,
}

impl Reddit {
    pub fn new(endpoints: ProviderEndpoints, agent: ureq::Agent) -> Self {
        Self {
            endpoints,
            agent,
            token_clients: Mutex::new(HashMap::new()),
            budgets: Mutex::new(HashMap::new()),
        }
    }

    /// `web:<client id>:<version> (by /u/<username>)`, the form Reddit's API rules require,
    /// with the operator's username (`MYPOSTSHARE_REDDIT_USERNAME`).
    fn user_agent(&self, client_id: &str) -> String {
        user_agent(client_id, &self.endpoints.user_agent_username)
    }

    fn remember_token(&self, access_token: &str, client_id: &str) {
        let mut known = self.token_clients.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() >= MAX_KNOWN_TOKENS
            && let Some(oldest) = known
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(k, _)| k.clone())
        {
            known.remove(&oldest);
        }
        known.insert(
            fingerprint(access_token),
            (client_id.to_string(), Instant::now()),
        );
    }

    /// The client id a token was obtained with; empty when this process never saw it (tokens
    /// from before a restart, until their hourly refresh).
    fn client_of(&self, access_token: &str) -> String {
        self.token_clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&fingerprint(access_token))
            .map(|(id, _)| id.clone())
            .unwrap_or_default()
    }

    fn token_call(
        &self,
        credentials: &ClientCredentials,
        form: Vec<(String, String)>,
    ) -> Result<TokenSet, ProviderError> {
        let url = format!("{}/api/v1/access_token", self.endpoints.token_base);
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            credentials.client_id, credentials.client_secret
        ));
        let request = self
            .agent
            .post(&url)
            .set("Authorization", &format!("Basic {basic}"))
            .set("User-Agent", &self.user_agent(&credentials.client_id));
        let answer = send(request, Some(SendBody::Form(form)), CallKind::SafeToRetry)?;
        let body = answer.json();
        // Reddit reports a bad code or grant with HTTP 200 and an `error` key.
        if answer.status != 200 || body.get("error").is_some() || body.get("json").is_some() {
            return Err(oauth_error(&answer));
        }
        let access_token = access_token_of(&body, "Reddit's")?;
        self.remember_token(access_token, &credentials.client_id);
        Ok(TokenSet {
            access_token: access_token.to_string(),
            expires_in: body["expires_in"].as_i64(),
            refresh_token: body["refresh_token"].as_str().map(str::to_string),
            refresh_token_expires_in: None,
            scopes: scopes_of(&body, &[',', ' ']),
        })
    }

    /// Refuses locally while the client id's budget is spent, instead of spending a call on a
    /// certain 429 (and counting toward a block).
    fn check_budget(&self, client_id: &str) -> Result<(), ProviderError> {
        let budgets = self.budgets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(budget) = budgets.get(client_id) {
            let now = Instant::now();
            if budget.remaining < 1.0 && now < budget.resets_at {
                let wait = budget.resets_at - now;
                return Err(ProviderError::RateLimited {
                    retry_after: Some(Duration::from_secs(wait.as_secs() + 1)),
                    message: format!(
                        "Reddit's budget of API calls for this app is spent until the window resets in {} s",
                        wait.as_secs() + 1
                    ),
                });
            }
        }
        Ok(())
    }

    fn note_budget(&self, client_id: &str, answer: &HttpAnswer) {
        let number = |name: &str| {
            answer
                .header(name)
                .and_then(|v| v.trim().parse::<f64>().ok())
        };
        if let (Some(remaining), Some(reset)) =
            (number("x-ratelimit-remaining"), number("x-ratelimit-reset"))
        {
            self.budgets
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(
                    client_id.to_string(),
                    Budget {
                        remaining,
                        resets_at: Instant::now() + Duration::from_secs(reset.max(0.0) as u64),
                    },
                );
        }
    }

    /// One call to `oauth.reddit.com`, with the budget checked before and noted after.
    pub(super) fn api(
        &self,
        request: ureq::Request,
        access_token: &str,
        body: Option<SendBody>,
        call: CallKind,
    ) -> Result<HttpAnswer, ProviderError> {
        let client_id = self.client_of(access_token);
        self.check_budget(&client_id)?;
        let request = request
            .set("Authorization", &format!("bearer {access_token}"))
            .set("User-Agent", &self.user_agent(&client_id));
        let answer = send(request, body, call)?;
        self.note_budget(&client_id, &answer);
        Ok(answer)
    }
}

fn fingerprint(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

/// The User-Agent of Reddit calls: `web:<client id>:v<version> (by /u/<username>)`.
pub fn user_agent(client_id: &str, username: &str) -> String {
    let app = if client_id.is_empty() {
        "mypostshare"
    } else {
        client_id
    };
    let username = if username.is_empty() {
        crate::config::DEFAULT_REDDIT_USERNAME
    } else {
        username
    };
    format!(
        "web:{app}:v{} (by /u/{username})",
        env!("CARGO_PKG_VERSION")
    )
}

impl Reddit {
    /// Refuses a post without flair to a subreddit that requires it, naming its link flair
    /// templates. Reddit would refuse the submit with `SUBMIT_VALIDATION_FLAIR_REQUIRED` and
    /// no word of which flair to pick. The check is a courtesy: when the requirements cannot
    /// be read (a profile, a private subreddit, an outage) the submit decides.
    fn check_flair(
        &self,
        request: &PublishRequest,
        subreddit: &str,
        flair_id: Option<&str>,
    ) -> Result<(), ProviderError> {
        if flair_id.is_some() || subreddit.starts_with("u_") {
            return Ok(());
        }
        let url = format!(
            "{}/api/v1/{subreddit}/post_requirements",
            self.endpoints.api_base
        );
        let answer = self.api(
            self.agent.get(&url),
            request.access_token,
            None,
            CallKind::SafeToRetry,
        )?;
        // A refused token or a spent budget would refuse the submit too.
        if matches!(answer.status, 401 | 429) {
            return Err(classify_http(&answer));
        }
        if answer.status != 200 || answer.json()["is_flair_required"] != Value::Bool(true) {
            return Ok(());
        }
        Err(ProviderError::Rejected {
            code: Code::FlairRequired,
            message: format!(
                "r/{subreddit} requires post flair: send platformOptions.reddit.flairId{}",
                self.flair_choices(request, subreddit)
            ),
        })
    }

    /// ", one of: \"News\" (id ...), ..." from the subreddit's link flair templates, or a
    /// hint where they cannot be listed.
    fn flair_choices(&self, request: &PublishRequest, subreddit: &str) -> String {
        let url = format!(
            "{}/r/{subreddit}/api/link_flair_v2",
            self.endpoints.api_base
        );
        let listed = self.api(
            self.agent.get(&url),
            request.access_token,
            None,
            CallKind::SafeToRetry,
        );
        let templates = match listed {
            Ok(answer) if answer.status == 200 => answer.json(),
            _ => {
                return " (its link flair templates could not be listed; ask its moderators)"
                    .into();
            }
        };
        let usable: Vec<String> = templates
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["mod_only"] != Value::Bool(true))
            .filter_map(|t| {
                let id = t["id"].as_str()?;
                let text = t["text"].as_str().unwrap_or_default();
                let editable = if t["text_editable"] == Value::Bool(true) {
                    ", its text editable with flairText"
                } else {
                    ""
                };
                Some(format!("{text:?} (flairId {id}{editable})"))
            })
            .collect();
        match usable.len() {
            0 => {
                " (it offers no link flair templates to non-moderators; ask its moderators)".into()
            }
            n if n > FLAIRS_NAMED => format!(
                ", one of: {} and {} more",
                usable[..FLAIRS_NAMED].join(", "),
                n - FLAIRS_NAMED
            ),
            _ => format!(", one of: {}", usable.join(", ")),
        }
    }
}

impl Provider for Reddit {
    fn platform(&self) -> Platform {
        Platform::Reddit
    }

    fn uses_pkce(&self) -> bool {
        false
    }

    fn authorize_url(&self, request: &AuthorizeRequest) -> String {
        append_query(
            &format!("{}/api/v1/authorize", self.endpoints.auth_base),
            &[
                ("client_id", request.client_id),
                ("response_type", "code"),
                ("state", request.state),
                ("redirect_uri", request.redirect_uri),
                ("duration", "permanent"),
                // Reddit's documentation asks for commas.
                ("scope", &SCOPES.join(",")),
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
        self.token_call(credentials, code_grant(code, redirect_uri))
    }

    fn refresh(
        &self,
        credentials: &ClientCredentials,
        refresh_token: &str,
    ) -> Result<TokenSet, ProviderError> {
        let mut tokens = self.token_call(credentials, refresh_grant(refresh_token))?;
        // Reddit may or may not send the refresh token again; the old one stays valid then.
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(refresh_token.to_string());
        }
        Ok(tokens)
    }

    fn fetch_account(&self, access_token: &str) -> Result<RemoteAccount, ProviderError> {
        let url = format!("{}/api/v1/me", self.endpoints.api_base);
        let answer = self.api(
            self.agent.get(&url),
            access_token,
            None,
            CallKind::SafeToRetry,
        )?;
        if answer.status != 200 {
            return Err(classify_http(&answer));
        }
        let body = answer.json();
        let id = body["id"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ProviderError::Unknown {
                message: "Reddit's /api/v1/me answer had no id".into(),
            })?;
        Ok(RemoteAccount {
            id: id.to_string(),
            username: body["name"].as_str().map(str::to_string),
            account_type: "person".into(),
        })
    }

    fn validate(&self, post: &PostContent, options: &Map<String, Value>) -> Result<(), Error> {
        let platform = Platform::Reddit;
        rules::known_options(platform, options, OPTIONS)?;
        rules::title_required(platform, post, TITLE_LIMIT)?;
        let subreddit =
            rules::option_matching(platform, options, "subreddit", SUBREDDIT_RULE, |s| {
                subreddit_name(s).is_some()
            })?;
        if subreddit.is_none() {
            return Err(Error::new(
                Code::TargetRequired,
                "Reddit posts go to a subreddit: send platformOptions.reddit.subreddit (e.g. \"test\", or \"u_<username>\" for the profile).",
            ));
        }
        // `/api/submit` documents `url` with no length; a link post links either this or
        // mediaUrl, so both get the appliance's URL limit.
        let url = rules::url_option(platform, options, "url", rules::MAX_URL_CHARS)?;
        if url.is_some() && post.media_url.is_some() {
            return Err(Error::validation(
                "A Reddit link post links one URL: send mediaUrl or platformOptions.reddit.url, not both.",
            ));
        }
        let flair_id = rules::option_matching(
            platform,
            options,
            "flairId",
            "a link flair template id of at most 36 characters (GET /r/{subreddit}/api/link_flair_v2 lists them)",
            |s| !s.trim().is_empty() && s.chars().count() <= FLAIR_ID_LIMIT,
        )?;
        let flair_text = rules::option_matching(
            platform,
            options,
            "flairText",
            "a non-blank text of at most 64 characters",
            |s| !s.trim().is_empty() && s.chars().count() <= FLAIR_TEXT_LIMIT,
        )?;
        if flair_text.is_some() && flair_id.is_none() {
            // PRAW's Subreddit.submit: flair_text sets the text of an editable template, so
            // flair_id must come with it.
            return Err(Error::validation(
                "platformOptions.reddit.flairText replaces the text of an editable flair template: send flairId with it.",
            ));
        }
        rules::media_optional(platform, post, &[MediaKind::Image, MediaKind::Video])?;
        rules::thumbnail_only_with_video(platform, post)?;
        if post.thumbnail_url.is_some() {
            return Err(Error::new(
                Code::UnsupportedMediaType,
                "Reddit link posts take no thumbnailUrl (Reddit makes its own preview); leave it out.",
            ));
        }
        if post.media_url.is_none() && url.is_none() {
            rules::text_within(
                platform,
                rules::char_count(&post.text),
                TEXT_LIMIT,
                "content",
            )?;
        }
        Ok(())
    }

    /// Reddit has no list of places to choose from: the post names its subreddit.
    fn where_posts_go(&self, account: &RemoteAccount) -> String {
        let profile = account
            .username
            .as_deref()
            .map(|name| format!("u_{name}"))
            .unwrap_or_else(|| "u_<username>".into());
        format!(
            "A Reddit post goes to the subreddit named in platformOptions.reddit.subreddit (e.g. \"test\", or \"{profile}\" for this account's profile)"
        )
    }

    fn publish(&self, request: &PublishRequest) -> Result<PublishStep, ProviderError> {
        let options = request.options;
        let subreddit = options
            .get("subreddit")
            .and_then(Value::as_str)
            .and_then(subreddit_name)
            .ok_or_else(|| ProviderError::Rejected {
                code: Code::TargetRequired,
                message: "No subreddit was given for the Reddit post".into(),
            })?;
        let flair_id = options.get("flairId").and_then(Value::as_str);
        self.check_flair(request, subreddit, flair_id)?;
        let title = request.post.title.clone().unwrap_or_default();
        let link = request.post.media_url.clone().or_else(|| {
            options
                .get("url")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
        let mut form: Vec<(String, String)> = vec![
            ("api_type".into(), "json".into()),
            ("sr".into(), subreddit.to_string()),
            ("title".into(), title),
        ];
        if let Some(id) = flair_id {
            form.push(("flair_id".into(), id.to_string()));
        }
        if let Some(text) = options.get("flairText").and_then(Value::as_str) {
            form.push(("flair_text".into(), text.to_string()));
        }
        match link {
            Some(url) => {
                form.push(("kind".into(), "link".into()));
                form.push(("url".into(), url));
            }
            None => {
                form.push(("kind".into(), "self".into()));
                form.push(("text".into(), request.post.text.clone()));
            }
        }
        let url = format!("{}/api/submit", self.endpoints.api_base);
        let answer = self.api(
            self.agent.post(&url),
            request.access_token,
            Some(SendBody::Form(form)),
            CallKind::Publishing,
        )?;
        if answer.status != 200 {
            return Err(classify_http(&answer));
        }
        let body = answer.json();
        if let Some(error) = submit_error(&body) {
            return Err(error);
        }
        let data = &body["json"]["data"];
        let id = data["name"]
            .as_str()
            .or_else(|| data["id"].as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ProviderError::Unknown {
                message: format!(
                    "Reddit answered the submit without a post id: {}",
                    clip(&answer.body, 200)
                ),
            })?;
        Ok(PublishStep::Done(Published {
            external_id: id.to_string(),
            url: data["url"].as_str().map(str::to_string),
        }))
    }

    /// Reads the account's submissions (`reddit_readback`).
    fn find_published(&self, look: &LookUp) -> Result<ReadBack, ProviderError> {
        self.read_back(look)
    }

    fn can_delete(&self) -> bool {
        true
    }

    fn delete_post(&self, request: &DeleteRequest) -> Result<Deletion, ProviderError> {
        self.delete_submission(request)
    }

    fn revoke(
        &self,
        credentials: &ClientCredentials,
        access_token: &str,
        refresh_token: Option<&str>,
    ) -> Result<(), ProviderError> {
        let url = format!("{}/api/v1/revoke_token", self.endpoints.token_base);
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            credentials.client_id, credentials.client_secret
        ));
        let request = self
            .agent
            .post(&url)
            .set("Authorization", &format!("Basic {basic}"))
            .set("User-Agent", &self.user_agent(&credentials.client_id));
        // Revoking an access token leaves its permanent refresh token working (reddit's
        // POST_revoke_token revokes only the token it finds); revoking the refresh token
        // takes its access tokens with it.
        let (token, hint) = match refresh_token {
            Some(refresh) => (refresh, "refresh_token"),
            None => (access_token, "access_token"),
        };
        let form = vec![
            ("token".into(), token.to_string()),
            ("token_type_hint".into(), hint.into()),
        ];
        let answer = send(request, Some(SendBody::Form(form)), CallKind::SafeToRetry)?;
        match answer.status {
            200..=299 => Ok(()),
            _ => Err(oauth_error(&answer)),
        }
    }
}

/// The rule `subreddit_name` checks, in words for the error message.
pub const SUBREDDIT_RULE: &str = "a subreddit name, optionally after r/: 3 to 21 letters, digits or _ not starting with _, a two-letter language subreddit such as \"de\", or u_ and a username (3 to 20 letters, digits, _ or -) for a profile";

/// `test`, `r/test` → `test`; `u_name` for a profile. `None` when it cannot be a name.
///
/// Reddit's own rules (reddit-archive/reddit, `r2/models/subreddit.py` and
/// `r2/lib/validator/validator.py`): a subreddit is `\A[A-Za-z0-9][A-Za-z0-9_]{2,20}\Z`, a
/// language subreddit `\A[a-z]{2}\Z`, and a username `\A[\w-]{3,20}\Z` (ASCII only: names
/// are encoded to ASCII), whose profile posts go to the subreddit `u_<username>`.
pub fn subreddit_name(text: &str) -> Option<&str> {
    let name = text.trim();
    let name = name
        .strip_prefix("/r/")
        .or_else(|| name.strip_prefix("r/"))
        .unwrap_or(name);
    let subreddit = |n: &str| {
        (3..=21).contains(&n.len())
            && n.starts_with(|c: char| c.is_ascii_alphanumeric())
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let language = |n: &str| n.len() == 2 && n.chars().all(|c| c.is_ascii_lowercase());
    let profile = |n: &str| {
        n.strip_prefix("u_").is_some_and(|user| {
            (3..=20).contains(&user.len())
                && user
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
    };
    (subreddit(name) || language(name) || profile(name)).then_some(name)
}

fn oauth_error(answer: &HttpAnswer) -> ProviderError {
    if let Some(failure) = token_endpoint_failure(answer, "Reddit's") {
        return failure;
    }
    if answer.status == 429 {
        return ProviderError::RateLimited {
            retry_after: answer.retry_after,
            message: "Reddit throttled the token call".into(),
        };
    }
    let body = answer.json();
    let error = match (answer.status, body["error"].as_str()) {
        (401, _) => "invalid_client".to_string(),
        (_, Some(error)) => error.to_string(),
        _ if body["json"]["errors"].is_array() => "invalid_request".to_string(),
        _ => "unknown_error".to_string(),
    };
    let message = match error.as_str() {
        "invalid_client" => "Reddit refused the client id or secret (HTTP Basic)".to_string(),
        "invalid_grant" => {
            "Reddit refused the authorization code: expired, used, or issued for another redirect_uri"
                .to_string()
        }
        other => format!("Reddit refused the token request ({other})"),
    };
    ProviderError::OAuth { error, message }
}

/// An `oauth.reddit.com` answer other than 200.
pub(super) fn classify_http(answer: &HttpAnswer) -> ProviderError {
    let body = answer.json();
    let platform_message = body["message"]
        .as_str()
        .map(|m| clip(m, 200))
        .unwrap_or_else(|| format!("HTTP {}", answer.status));
    match answer.status {
        401 => ProviderError::Unauthorized {
            message: format!("Reddit refused the access token: {platform_message}"),
        },
        429 => ProviderError::RateLimited {
            retry_after: answer.retry_after.or_else(|| {
                answer
                    .header("x-ratelimit-reset")
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .map(|s| Duration::from_secs(s.max(0.0).ceil() as u64))
            }),
            message: format!("Reddit rate limit reached: {platform_message}"),
        },
        500..=599 => answer.server_error(format!("Reddit had a server error: {platform_message}")),
        403 => ProviderError::Rejected {
            code: Code::PlatformRejected,
            message: format!(
                "Reddit refused the request (missing scope, private or banned subreddit): {platform_message}"
            ),
        },
        404 => ProviderError::Rejected {
            code: Code::PlatformRejected,
            message: format!(
                "Reddit did not find the target (private or banned subreddit): {platform_message}"
            ),
        },
        _ => ProviderError::Rejected {
            code: Code::PlatformRejected,
            message: format!("Reddit rejected the request: {platform_message}"),
        },
    }
}

/// The first `json.errors` entry of a submit answer, classified.
fn submit_error(body: &Value) -> Option<ProviderError> {
    let first = body["json"]["errors"].as_array()?.first()?;
    let code = first[0].as_str().unwrap_or("UNKNOWN");
    let text = first[1].as_str().unwrap_or_default();
    let field = first[2].as_str().unwrap_or_default();
    let message = format!("Reddit refused the post: {code}: {}", clip(text, 200))
        + &if field.is_empty() {
            String::new()
        } else {
            format!(" ({field})")
        };
    Some(match code {
        "RATELIMIT" => ProviderError::RateLimited {
            retry_after: Some(wait_in_text(text).unwrap_or(Duration::from_secs(60))),
            message,
        },
        "ALREADY_SUB" => ProviderError::Rejected {
            code: Code::DuplicatePost,
            message: format!("{message}: the link is a duplicate in that subreddit"),
        },
        "USER_REQUIRED" => ProviderError::Unauthorized { message },
        "SUBMIT_VALIDATION_FLAIR_REQUIRED" => ProviderError::Rejected {
            code: Code::FlairRequired,
            message: format!(
                "{message}: the subreddit requires post flair; send platformOptions.reddit.flairId"
            ),
        },
        "SUBREDDIT_NOEXIST" | "BAD_SR_NAME" | "SUBREDDIT_NOTALLOWED" => ProviderError::Rejected {
            code: Code::TargetNotFound,
            message,
        },
        "TOO_LONG" => ProviderError::Rejected {
            code: Code::ContentTooLong,
            message,
        },
        _ => ProviderError::Rejected {
            code: Code::PlatformRejected,
            message,
        },
    })
}

/// "Take a break for 9 minutes", "try again in 30 seconds": the wait Reddit asks for.
fn wait_in_text(text: &str) -> Option<Duration> {
    let words: Vec<&str> = text.split_whitespace().collect();
    words.windows(2).find_map(|pair| {
        let n: u64 = pair[0].parse().ok()?;
        let unit = pair[1].trim_end_matches(|c: char| !c.is_alphabetic());
        match unit {
            "minute" | "minutes" => Some(Duration::from_secs(n * 60)),
            "second" | "seconds" => Some(Duration::from_secs(n)),
            "hour" | "hours" => Some(Duration::from_secs(n * 3600)),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_is_read_from_the_throttle_message() {
        assert_eq!(
            wait_in_text(
                "Looks like you've been doing that a lot. Take a break for 9 minutes before trying again."
            ),
            Some(Duration::from_secs(540))
        );
        assert_eq!(
            wait_in_text("You're doing that too much. Try again in 30 seconds."),
            Some(Duration::from_secs(30))
        );
        assert_eq!(wait_in_text("no number here"), None);
    }

    #[test]
    fn subreddit_names_accept_the_r_prefix() {
        assert_eq!(subreddit_name("r/test"), Some("test"));
        assert_eq!(subreddit_name("u_someone"), Some("u_someone"));
        assert_eq!(subreddit_name("/r/AskReddit"), Some("AskReddit"));
        assert_eq!(subreddit_name("no spaces"), None);
        assert_eq!(subreddit_name("x"), None);
    }

    #[test]
    fn subreddit_names_follow_reddits_rules() {
        assert_eq!(subreddit_name("abc"), Some("abc"));
        assert_eq!(subreddit_name(&"a".repeat(21)).map(str::len), Some(21));
        assert_eq!(subreddit_name(&"a".repeat(22)), None);
        assert_eq!(
            subreddit_name("ab"),
            Some("ab"),
            "two-letter language subreddit"
        );
        assert_eq!(
            subreddit_name("AB"),
            None,
            "language subreddits are lower-case"
        );
        assert_eq!(subreddit_name("a1"), None);
        assert_eq!(
            subreddit_name("_abc"),
            None,
            "a name starts with a letter or digit"
        );
        assert_eq!(subreddit_name("ab-c"), None, "no hyphens outside usernames");
        assert_eq!(subreddit_name("u_pat-poster"), Some("u_pat-poster"));
        assert_eq!(
            subreddit_name(&format!("u_{}", "p".repeat(20))).map(str::len),
            Some(22)
        );
        assert_eq!(subreddit_name(&format!("u_{}", "p".repeat(21))), None);
        assert_eq!(
            subreddit_name("u_a-"),
            None,
            "usernames have at least 3 characters"
        );
        assert_eq!(subreddit_name("café"), None, "ASCII only");
    }

    #[test]
    fn the_user_agent_has_reddits_form() {
        assert!(mypostshare_sim::reddit::user_agent_is_descriptive(
            &user_agent("abc123", "pat_dev")
        ));
        assert!(mypostshare_sim::reddit::user_agent_is_descriptive(
            &user_agent("", "")
        ));
        assert!(user_agent("abc123", "pat_dev").ends_with("(by /u/pat_dev)"));
        assert!(user_agent("abc123", "").ends_with("(by /u/mypostshare)"));
    }
}
