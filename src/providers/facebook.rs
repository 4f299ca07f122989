//! Facebook Pages: Facebook Login (manual flow) for a long-lived user token, the user's Pages
//! and their Page tokens from `/me/accounts`, and publishing as a Page through the Graph API
//! (`/{page-id}/feed` for text and links, `/{page-id}/photos` for an image by URL, `/{page-id}/videos` for a video by URL).
//! Page tokens read with the long-lived user token do not expire (Meta's access-token guide,
//! developers.facebook.com/docs/facebook-login/guides/access-tokens/get-long-lived): they are
//! read once at connect time and kept, sealed, with the connection, so publishing does not
//! depend on the 60-day user token. Every Graph call carries `appsecret_proof` (the app
//! secret's HMAC-SHA256 of the access token, hex; developers.facebook.com/docs/graph-api/
//! guides/secure-requests), which apps with "Require App Secret" on insist on. A video is
//! published once Facebook has processed it: `GET /{video-id}?fields=status` is read until it
//! is `ready` (or `error`).
//! Reference: `../shared/providers/linkedin-x-facebook-instagram.md`, part 3.

use super::graph::{self, GraphError};
use super::oauth::access_token_of;
use super::{
    AccountCall, AuthorizeRequest, CallKind, ConnectedAccount, DeleteRequest, Deletion, LookUp,
    MediaKind, Platform, PostContent, Provider, ProviderError, PublishRequest, PublishStep,
    Published, ReadBack, RemoteAccount, SendBody, Target, TokenSet, rules, send,
};
use crate::config::{ClientCredentials, ProviderEndpoints};
use crate::error::{Code, Error};
use crate::http::append_query;
use serde_json::{Map, Value, json};
use std::time::Duration;

/// Listing the Pages and publishing as them. Facebook lets the person untick any of these.
/// `business_management`: Pages a person manages through a Business Manager are business
/// assets, which Meta's Business Management API guards with this permission
/// (developers.facebook.com/docs/business-management-apis/business-manager/get-started);
/// without it `/me/accounts` leaves them out. That last part is inferred from issue 11's audit
/// and clients in production (postiz-app asks for it), not quoted from a Meta page.
pub const SCOPES: &[&str] = &[
    "pages_show_list",
    "pages_read_engagement",
    "pages_manage_posts",
    "business_management",
];

/// Status reads of a new video within the publishing call, after these pauses (ms); a video
/// still processing after them is followed by `resume`.
const VIDEO_POLL_WAITS_MS: &[u64] = &[0, 500, 1000];

/// How long the engine waits before `resume` reads a video's status again.
const VIDEO_RESUME_AFTER: Duration = Duration::from_secs(30);

/// Longest Page post message, in characters.
pub const MESSAGE_LIMIT: usize = 63_206;

/// The Page task that allows publishing as the Page.
const CREATE_CONTENT: &str = "CREATE_CONTENT";

/// Pages of `/me/accounts` followed at most, 100 per page.
const MAX_ACCOUNT_PAGES: usize = 10;

pub(super) const NAME: &str = "Facebook";

pub struct Facebook {
    pub(super) endpoints: ProviderEndpoints,
    pub(super) agent: ureq::Agent,
}

/// One Page the person granted, with its Page token.
pub(super) struct GrantedPage {
    pub(super) id: String,
    name: String,
    pub(super) access_token: String,
    tasks: Vec<String>,
}

impl GrantedPage {
    fn to_json(&self) -> Value {
        json!({"id": self.id, "name": self.name, "accessToken": self.access_token, "tasks": self.tasks})
    }

    fn from_json(value: &Value) -> Option<GrantedPage> {
        Some(GrantedPage {
            id: value["id"].as_str()?.to_string(),
            name: value["name"].as_str().unwrap_or_default().to_string(),
            access_token: value["accessToken"].as_str()?.to_string(),
            tasks: value["tasks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect(),
        })
    }
}

/// The Pages kept with a connection at connect time; `None` for connections made before the
/// adapter kept them (they read `/me/accounts` with the user token, as before).
fn stored_pages(platform_data: Option<&Value>) -> Option<Vec<GrantedPage>> {
    let pages = platform_data?["pages"].as_array()?;
    Some(pages.iter().filter_map(GrantedPage::from_json).collect())
}

pub use super::graph::appsecret_proof;

impl Facebook {
    pub fn new(endpoints: ProviderEndpoints, agent: ureq::Agent) -> Self {
        Self { endpoints, agent }
    }

    pub(super) fn graph_url(&self, base: &str, path: &str) -> String {
        format!("{base}/{}/{path}", self.endpoints.api_version)
    }

    /// `GET /oauth/access_token` with query parameters, as Facebook documents it.
    fn token_call(&self, pairs: &[(&str, &str)]) -> Result<TokenSet, ProviderError> {
        let url = append_query(
            &self.graph_url(&self.endpoints.token_base, "oauth/access_token"),
            pairs,
        );
        let answer = send(self.agent.get(&url), None, CallKind::SafeToRetry)?;
        if answer.status != 200 {
            return Err(graph::oauth_error(NAME, &answer));
        }
        let body = answer.json();
        let access_token = access_token_of(&body, "Facebook's")?;
        Ok(TokenSet {
            access_token: access_token.to_string(),
            expires_in: body["expires_in"].as_i64(),
            refresh_token: None,
            refresh_token_expires_in: None,
            scopes: Vec::new(),
        })
    }

    /// Every Page the user token was granted, following `paging.next`.
    fn granted_pages(
        &self,
        app_secret: &str,
        user_token: &str,
    ) -> Result<Vec<GrantedPage>, ProviderError> {
        let proof = appsecret_proof(app_secret, user_token);
        let mut url = append_query(
            &self.graph_url(&self.endpoints.api_base, "me/accounts"),
            &[
                ("fields", "id,name,access_token,tasks"),
                ("limit", "100"),
                ("appsecret_proof", &proof),
            ],
        );
        let mut pages = Vec::new();
        for _ in 0..MAX_ACCOUNT_PAGES {
            let answer = send(
                self.agent
                    .get(&url)
                    .set("Authorization", &format!("OAuth {user_token}")),
                None,
                // Reading the Pages (and their tokens) publishes nothing.
                CallKind::SafeToRetry,
            )?;
            if answer.status != 200 {
                return Err(graph::classify(NAME, &answer));
            }
            let body = answer.json();
            for page in body["data"].as_array().into_iter().flatten() {
                let (Some(id), Some(access_token)) =
                    (graph::id_string(&page["id"]), page["access_token"].as_str())
                else {
                    continue;
                };
                pages.push(GrantedPage {
                    id,
                    name: page["name"].as_str().unwrap_or_default().to_string(),
                    access_token: access_token.to_string(),
                    tasks: page["tasks"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|t| t.as_str().map(str::to_string))
                        .collect(),
                });
            }
            // `next` is an absolute graph.facebook.com URL; stay on the configured host.
            match body["paging"]["next"].as_str() {
                Some(next) if !next.is_empty() => {
                    url = self.same_host(next);
                    if !url.contains("appsecret_proof=") {
                        url = append_query(&url, &[("appsecret_proof", &proof)]);
                    }
                }
                _ => break,
            }
        }
        Ok(pages)
    }

    /// Keeps a paging URL's path and query, on the configured API base.
    pub(super) fn same_host(&self, next: &str) -> String {
        let after_scheme = next.split_once("://").map(|(_, r)| r).unwrap_or(next);
        let path = after_scheme
            .find('/')
            .map(|i| &after_scheme[i..])
            .unwrap_or("/");
        let path = path
            .strip_prefix(&format!("/{}", self.endpoints.api_version))
            .map(|rest| format!("/{}{rest}", self.endpoints.api_version))
            .unwrap_or_else(|| path.to_string());
        let base = self.endpoints.api_base.trim_end_matches('/');
        // In the simulator the base carries a path prefix that Meta's own URLs do not.
        match path.strip_prefix(base_path(base).as_str()) {
            Some(rest) if !base_path(base).is_empty() => format!("{base}{rest}"),
            _ => format!("{base}{path}"),
        }
    }

    /// The Page to publish to: `pageId` when given, else the connection's Page; it must be
    /// granted and allow publishing.
    fn page_for(&self, request: &PublishRequest) -> Result<GrantedPage, ProviderError> {
        let wanted = request
            .options
            .get("pageId")
            .and_then(Value::as_str)
            .unwrap_or(&request.account.id);
        self.granted_page(
            &request.credentials.client_secret,
            request.access_token,
            request.platform_data,
            wanted,
        )
    }

    /// The granted Page `wanted` with its token: from the Pages kept at connect time, or read
    /// with the user token for connections made before they were kept.
    pub(super) fn granted_page(
        &self,
        app_secret: &str,
        user_token: &str,
        platform_data: Option<&Value>,
        wanted: &str,
    ) -> Result<GrantedPage, ProviderError> {
        let pages = match stored_pages(platform_data) {
            Some(pages) => pages,
            None => self.granted_pages(app_secret, user_token)?,
        };
        let granted: Vec<String> = pages
            .iter()
            .map(|p| format!("{} ({})", p.name, p.id))
            .collect();
        let page = pages
            .into_iter()
            .find(|p| p.id == wanted)
            .ok_or_else(|| ProviderError::Rejected {
                code: Code::PlatformRejected,
                message: format!(
                    "Facebook Page {wanted} is not among the Pages this person granted: {}. Send them through a new connect session to grant it, or choose one of those with platformOptions.facebook.pageId.",
                    if granted.is_empty() { "none".to_string() } else { granted.join(", ") }
                ),
            })?;
        if !page.tasks.is_empty() && !page.tasks.iter().any(|t| t == CREATE_CONTENT) {
            return Err(ProviderError::Rejected {
                code: Code::PlatformRejected,
                message: format!(
                    "This person's role on the Facebook Page {} does not allow creating content (tasks: {}).",
                    page.name,
                    page.tasks.join(", ")
                ),
            });
        }
        Ok(page)
    }

    fn post_form(
        &self,
        app_secret: &str,
        page: &GrantedPage,
        edge: &str,
        mut form: Vec<(String, String)>,
    ) -> Result<Value, ProviderError> {
        let url = self.graph_url(&self.endpoints.api_base, &format!("{}/{edge}", page.id));
        form.push(("access_token".into(), page.access_token.clone()));
        form.push((
            "appsecret_proof".into(),
            appsecret_proof(app_secret, &page.access_token),
        ));
        // Every Page edge this adapter posts to (photos, videos, feed) creates the post.
        let answer = send(
            self.agent.post(&url),
            Some(SendBody::Form(form)),
            CallKind::Publishing,
        )?;
        if answer.status != 200 {
            let error = GraphError::read(&answer);
            return Err(graph::classify_error(NAME, &error, &answer));
        }
        Ok(answer.json())
    }

    /// One read of `GET /{video-id}?fields=status` (Meta's Video Status reference:
    /// `video_status` is `processing`, `ready`, `error`, ...): the published video once it is
    /// `ready`, `None` while Facebook is still at it, an error when processing failed.
    pub(super) fn video_status(
        &self,
        app_secret: &str,
        page: &GrantedPage,
        video_id: &str,
        call: CallKind,
    ) -> Result<Option<Published>, ProviderError> {
        let url = append_query(
            &self.graph_url(&self.endpoints.api_base, video_id),
            &[
                ("fields", "status"),
                (
                    "appsecret_proof",
                    &appsecret_proof(app_secret, &page.access_token),
                ),
            ],
        );
        // Within a publish, after the upload was accepted: the video exists, so this read
        // counts as publishing (as YouTube's status reads do), never as a step that may simply
        // be run again. Reading back an interrupted publish passes `SafeToRetry`.
        let answer = send(
            self.agent
                .get(&url)
                .set("Authorization", &format!("OAuth {}", page.access_token)),
            None,
            call,
        )?;
        if answer.status != 200 {
            return Err(graph::classify(NAME, &answer));
        }
        let body = answer.json();
        let status = &body["status"];
        match status["video_status"].as_str() {
            Some("ready") => Ok(Some(Published {
                url: Some(format!(
                    "https://www.facebook.com/{}/videos/{video_id}",
                    page.id
                )),
                external_id: video_id.to_string(),
            })),
            Some(end @ ("error" | "expired")) => {
                let reason = status["processing_phase"]["errors"][0]["message"]
                    .as_str()
                    .map(|m| format!(": {}", super::clip(m, 300)))
                    .unwrap_or_default();
                Err(ProviderError::Rejected {
                    code: Code::MediaProcessingFailed,
                    message: format!(
                        "Facebook could not process video {video_id} (status {end}){reason}"
                    ),
                })
            }
            _ => Ok(None),
        }
    }

    /// Reads the video's status a few times; still processing after that, the engine resumes.
    fn follow_video(
        &self,
        app_secret: &str,
        page: &GrantedPage,
        video_id: &str,
        waits: &[u64],
    ) -> Result<PublishStep, ProviderError> {
        for wait in waits {
            std::thread::sleep(Duration::from_millis(*wait));
            match self.video_status(app_secret, page, video_id, CallKind::Publishing) {
                Ok(Some(published)) => return Ok(PublishStep::Done(published)),
                Ok(None) => {}
                Err(
                    error @ (ProviderError::Rejected { .. } | ProviderError::Unauthorized { .. }),
                ) => {
                    return Err(error);
                }
                // The video exists: a failing status read must not make the engine upload it
                // again, so the check moves to `resume`.
                Err(_) => break,
            }
        }
        Ok(PublishStep::Processing {
            state: json!({"videoId": video_id, "pageId": page.id}),
            check_after: VIDEO_RESUME_AFTER,
        })
    }
}

/// The path part of a base URL (`http://127.0.0.1:1/sandbox/facebook` -> `/sandbox/facebook`).
fn base_path(base: &str) -> String {
    let after_scheme = base.split_once("://").map(|(_, r)| r).unwrap_or(base);
    after_scheme
        .find('/')
        .map(|i| after_scheme[i..].to_string())
        .unwrap_or_default()
}

impl Provider for Facebook {
    fn platform(&self) -> Platform {
        Platform::Facebook
    }

    fn uses_pkce(&self) -> bool {
        // The manual flow for a server-side web app authenticates with the app secret.
        false
    }

    fn authorize_url(&self, request: &AuthorizeRequest) -> String {
        append_query(
            &self.graph_url(&self.endpoints.auth_base, "dialog/oauth"),
            &[
                ("client_id", request.client_id),
                ("redirect_uri", request.redirect_uri),
                ("state", request.state),
                ("response_type", "code"),
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
        let short = self.token_call(&[
            ("client_id", &credentials.client_id),
            ("redirect_uri", redirect_uri),
            ("client_secret", &credentials.client_secret),
            ("code", code),
        ])?;
        // A short-lived token lasts about an hour and so would the Page tokens read with it:
        // trade it for the 60-day one first. There is no refresh token on Facebook.
        self.token_call(&[
            ("grant_type", "fb_exchange_token"),
            ("client_id", &credentials.client_id),
            ("client_secret", &credentials.client_secret),
            ("fb_exchange_token", &short.access_token),
        ])
    }

    fn refresh(
        &self,
        _credentials: &ClientCredentials,
        _refresh_token: &str,
    ) -> Result<TokenSet, ProviderError> {
        Err(ProviderError::OAuth {
            error: "unsupported".into(),
            message: "Facebook user tokens cannot be refreshed; the person must log in again"
                .into(),
        })
    }

    fn fetch_account(&self, _access_token: &str) -> Result<RemoteAccount, ProviderError> {
        // Every Graph call needs the app secret for its proof: connecting goes through
        // `connect_account`, which has it.
        Err(ProviderError::Unknown {
            message: "Facebook accounts are read with the app's credentials (connect_account)"
                .into(),
        })
    }

    fn connect_account(
        &self,
        credentials: &ClientCredentials,
        tokens: &mut TokenSet,
    ) -> Result<ConnectedAccount, ProviderError> {
        let pages = self.granted_pages(&credentials.client_secret, &tokens.access_token)?;
        // The connection's account is the first Page granted in the dialog.
        let first = pages.first().ok_or_else(|| ProviderError::Rejected {
            code: Code::NoPagesGranted,
            message: "No Facebook Page was granted: choose at least one Page in the Facebook dialog (the person must manage the Page).".into(),
        })?;
        let account = RemoteAccount {
            id: first.id.clone(),
            username: Some(first.name.clone()),
            account_type: "page".into(),
        };
        // The Page tokens, read with the long-lived user token, have no expiry: the
        // connection publishes with them, so the user token's 60 days no longer end it.
        tokens.expires_in = None;
        Ok(ConnectedAccount {
            account,
            platform_data: Some(json!({
                "pages": pages.iter().map(GrantedPage::to_json).collect::<Vec<_>>(),
            })),
        })
    }

    fn validate(&self, post: &PostContent, options: &Map<String, Value>) -> Result<(), Error> {
        let platform = Platform::Facebook;
        rules::known_options(platform, options, &["pageId", "link"])?;
        // Graph API object ids, Page ids included, are numeric strings ("id: numeric string" in
        // the Page reference); Facebook documents no length for them.
        rules::digits_option(
            platform,
            options,
            "pageId",
            "a Facebook Page id as GET /v1/end-users/{externalUserId}/connections/facebook/targets lists it",
        )?;
        // `/{page-id}/feed` documents `link` only as "the URL of a link to attach to the post",
        // with no length: the appliance's URL limit applies, as for mediaUrl.
        let link = rules::url_option(platform, options, "link", rules::MAX_URL_CHARS)?;
        rules::text_within(
            platform,
            rules::char_count(&post.text),
            MESSAGE_LIMIT,
            "content",
        )?;
        rules::media_optional(platform, post, &[MediaKind::Image, MediaKind::Video])?;
        if post.thumbnail_url.is_some() {
            return Err(Error::new(
                Code::UnsupportedMediaType,
                "thumbnailUrl is not used by facebook (Facebook picks the video's thumbnail); leave it out.",
            ));
        }
        if link.is_some() && post.media_kind.is_some() {
            return Err(Error::validation(
                "platformOptions.facebook.link makes a link post, which carries no photo: send either mediaUrl or link for facebook.",
            ));
        }
        Ok(())
    }

    fn publish(&self, request: &PublishRequest) -> Result<PublishStep, ProviderError> {
        let page = self.page_for(request)?;
        let secret = request.credentials.client_secret.as_str();
        let post = request.post;
        let (post_id, answer) = match (&post.media_url, post.media_kind) {
            (Some(url), Some(MediaKind::Image)) => {
                // Facebook fetches the image itself: check it answers first, for a clear error.
                request.media.probe(url)?;
                let answer = self.post_form(
                    secret,
                    &page,
                    "photos",
                    vec![
                        ("url".into(), url.clone()),
                        ("message".into(), post.text.clone()),
                    ],
                )?;
                // The photo's own id is not the feed post's: `post_id` is.
                (answer["post_id"].as_str().map(str::to_string), answer)
            }
            (Some(url), _) => {
                // A Page video: Facebook fetches `file_url` itself and publishes the video once
                // it has processed it; the answer is the video's id.
                request.media.probe(url)?;
                let mut form = vec![
                    ("file_url".to_string(), url.clone()),
                    ("description".to_string(), post.text.clone()),
                ];
                if let Some(title) = &post.title {
                    form.push(("title".into(), title.clone()));
                }
                let answer = self.post_form(secret, &page, "videos", form)?;
                let video_id = answer["id"]
                    .as_str()
                    .filter(|id| !id.is_empty())
                    .ok_or_else(|| ProviderError::Unknown {
                        message: format!("Facebook accepted the video but sent no id: {answer}"),
                    })?;
                // Accepted is not published: Facebook fetches and processes the video first,
                // and processing can end in `error`.
                return self.follow_video(secret, &page, video_id, VIDEO_POLL_WAITS_MS);
            }
            (None, _) => {
                let mut form = vec![("message".to_string(), post.text.clone())];
                if let Some(link) = request.options.get("link").and_then(Value::as_str) {
                    form.push(("link".into(), link.to_string()));
                }
                let answer = self.post_form(secret, &page, "feed", form)?;
                (answer["id"].as_str().map(str::to_string), answer)
            }
        };
        let post_id =
            post_id
                .filter(|id| !id.is_empty())
                .ok_or_else(|| ProviderError::Unknown {
                    message: format!("Facebook accepted the post but sent no post id: {answer}"),
                })?;
        Ok(PublishStep::Done(Published {
            url: Some(post_url(&post_id)),
            external_id: post_id,
        }))
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
                message: "the stored Facebook processing state has no videoId".into(),
            })?;
        let page = self.page_for(request)?;
        self.follow_video(&request.credentials.client_secret, &page, video_id, &[0])
    }

    fn targets(&self, call: &AccountCall) -> Result<Option<Vec<Target>>, ProviderError> {
        let pages = match stored_pages(call.platform_data) {
            Some(pages) => pages,
            None => self.granted_pages(&call.credentials.client_secret, call.access_token)?,
        };
        Ok(Some(
            pages
                .into_iter()
                .map(|p| Target {
                    id: p.id,
                    name: p.name,
                    kind: "page".into(),
                })
                .collect(),
        ))
    }

    fn revoke(
        &self,
        credentials: &ClientCredentials,
        access_token: &str,
        _refresh_token: Option<&str>,
    ) -> Result<(), ProviderError> {
        // Removing every permission ends the app's authorization and its Page tokens.
        let url = append_query(
            &self.graph_url(&self.endpoints.api_base, "me/permissions"),
            &[(
                "appsecret_proof",
                &appsecret_proof(&credentials.client_secret, access_token),
            )],
        );
        let answer = send(
            self.agent
                .delete(&url)
                .set("Authorization", &format!("OAuth {access_token}")),
            None,
            CallKind::SafeToRetry,
        )?;
        match answer.status {
            200..=299 => Ok(()),
            _ => match graph::classify(NAME, &answer) {
                // The 60-day user token has usually expired by the time someone disconnects
                // (the Page tokens published without it): revoke with the app's own token.
                ProviderError::Unauthorized { .. } => self.revoke_as_app(credentials, access_token),
                other => Err(other),
            },
        }
    }

    fn find_published(&self, look: &LookUp) -> Result<ReadBack, ProviderError> {
        self.read_back(look)
    }

    fn can_delete(&self) -> bool {
        true
    }

    fn delete_post(&self, request: &DeleteRequest) -> Result<Deletion, ProviderError> {
        self.delete_page_post(request)
    }
}

/// `{page-id}_{post-id}` opens on facebook.com as is.
pub fn post_url(post_id: &str) -> String {
    format!("https://www.facebook.com/{post_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_urls_stay_on_the_configured_base() {
        let fb = Facebook::new(
            ProviderEndpoints {
                auth_base: "http://127.0.0.1:9/sandbox/facebook".into(),
                token_base: "http://127.0.0.1:9/sandbox/facebook".into(),
                api_base: "http://127.0.0.1:9/sandbox/facebook".into(),
                api_version: "v25.0".into(),
                sandbox_api_base: None,
                user_agent_username: String::new(),
            },
            crate::providers::http_agent(std::time::Duration::from_secs(1)),
        );
        assert_eq!(
            fb.same_host("https://graph.facebook.com/v25.0/me/accounts?after=X"),
            "http://127.0.0.1:9/sandbox/facebook/v25.0/me/accounts?after=X"
        );
        assert_eq!(
            fb.same_host("http://127.0.0.1:9/sandbox/facebook/v25.0/me/accounts?after=X"),
            "http://127.0.0.1:9/sandbox/facebook/v25.0/me/accounts?after=X"
        );
    }
}
