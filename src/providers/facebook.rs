//! Facebook Pages: Facebook Login (manual flow) for a long-lived user token, the user's Pages
//! and their Page tokens from `/me/accounts`, and publishing as a Page through the Graph API
//! (`/{page-id}/feed` for text and links, `/{page-id}/photos` for an image by URL, `/{page-id}/videos` for a video by URL).
//! Reference: `../shared/providers/linkedin-x-facebook-instagram.md`, part 3.

use super::graph::{self, GraphError};
use super::oauth::access_token_of;
use super::{
    AuthorizeRequest, MediaKind, Platform, PostContent, Provider, ProviderError, PublishRequest,
    PublishStep, Published, RemoteAccount, SendBody, Target, TokenSet, rules, send,
};
use crate::config::{ClientCredentials, ProviderEndpoints};
use crate::error::{Code, Error};
use crate::http::append_query;
use serde_json::{Map, Value};

/// Listing the Pages and publishing as them. Facebook lets the person untick any of these.
pub const SCOPES: &[&str] = &[
    "pages_show_list",
    "pages_read_engagement",
    "pages_manage_posts",
];

/// Longest Page post message, in characters.
pub const MESSAGE_LIMIT: usize = 63_206;

/// The Page task that allows publishing as the Page.
const CREATE_CONTENT: &str = "CREATE_CONTENT";

/// Pages of `/me/accounts` followed at most, 100 per page.
const MAX_ACCOUNT_PAGES: usize = 10;

const NAME: &str = "Facebook";

pub struct Facebook {
    endpoints: ProviderEndpoints,
    agent: ureq::Agent,
}

/// One Page the person granted, with its Page token.
struct GrantedPage {
    id: String,
    name: String,
    access_token: String,
    tasks: Vec<String>,
}

impl Facebook {
    pub fn new(endpoints: ProviderEndpoints, agent: ureq::Agent) -> Self {
        Self { endpoints, agent }
    }

    fn graph_url(&self, base: &str, path: &str) -> String {
        format!("{base}/{}/{path}", self.endpoints.api_version)
    }

    /// `GET /oauth/access_token` with query parameters, as Facebook documents it.
    fn token_call(&self, pairs: &[(&str, &str)]) -> Result<TokenSet, ProviderError> {
        let url = append_query(
            &self.graph_url(&self.endpoints.token_base, "oauth/access_token"),
            pairs,
        );
        let answer = send(self.agent.get(&url), None)?;
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
    fn granted_pages(&self, user_token: &str) -> Result<Vec<GrantedPage>, ProviderError> {
        let mut url = append_query(
            &self.graph_url(&self.endpoints.api_base, "me/accounts"),
            &[("fields", "id,name,access_token,tasks"), ("limit", "100")],
        );
        let mut pages = Vec::new();
        for _ in 0..MAX_ACCOUNT_PAGES {
            let answer = send(
                self.agent
                    .get(&url)
                    .set("Authorization", &format!("OAuth {user_token}")),
                None,
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
                Some(next) if !next.is_empty() => url = self.same_host(next),
                _ => break,
            }
        }
        Ok(pages)
    }

    /// Keeps a paging URL's path and query, on the configured API base.
    fn same_host(&self, next: &str) -> String {
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
        let pages = self.granted_pages(request.access_token)?;
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
        page: &GrantedPage,
        edge: &str,
        mut form: Vec<(String, String)>,
    ) -> Result<Value, ProviderError> {
        let url = self.graph_url(&self.endpoints.api_base, &format!("{}/{edge}", page.id));
        form.push(("access_token".into(), page.access_token.clone()));
        let answer = send(self.agent.post(&url), Some(SendBody::Form(form)))?;
        if answer.status != 200 {
            let error = GraphError::read(&answer);
            return Err(graph::classify_error(NAME, &error, &answer));
        }
        Ok(answer.json())
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

    fn fetch_account(&self, access_token: &str) -> Result<RemoteAccount, ProviderError> {
        // The connection's account is the first Page granted in the dialog.
        let page = self
            .granted_pages(access_token)?
            .into_iter()
            .next()
            .ok_or_else(|| ProviderError::Rejected {
                code: Code::NoPagesGranted,
                message: "No Facebook Page was granted: choose at least one Page in the Facebook dialog (the person must manage the Page).".into(),
            })?;
        Ok(RemoteAccount {
            id: page.id,
            username: Some(page.name),
            account_type: "page".into(),
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
        let post = request.post;
        let (post_id, answer) = match (&post.media_url, post.media_kind) {
            (Some(url), Some(MediaKind::Image)) => {
                // Facebook fetches the image itself: check it answers first, for a clear error.
                request.media.probe(url)?;
                let answer = self.post_form(
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
                let answer = self.post_form(&page, "videos", form)?;
                let video_id = answer["id"]
                    .as_str()
                    .filter(|id| !id.is_empty())
                    .ok_or_else(|| ProviderError::Unknown {
                        message: format!("Facebook accepted the video but sent no id: {answer}"),
                    })?;
                return Ok(PublishStep::Done(Published {
                    url: Some(format!(
                        "https://www.facebook.com/{}/videos/{video_id}",
                        page.id
                    )),
                    external_id: video_id.to_string(),
                }));
            }
            (None, _) => {
                let mut form = vec![("message".to_string(), post.text.clone())];
                if let Some(link) = request.options.get("link").and_then(Value::as_str) {
                    form.push(("link".into(), link.to_string()));
                }
                let answer = self.post_form(&page, "feed", form)?;
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

    fn targets(
        &self,
        access_token: &str,
        _account: &RemoteAccount,
    ) -> Result<Option<Vec<Target>>, ProviderError> {
        let pages = self.granted_pages(access_token)?;
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
        _credentials: &ClientCredentials,
        access_token: &str,
    ) -> Result<(), ProviderError> {
        // Removing every permission ends the app's authorization and its Page tokens.
        let url = self.graph_url(&self.endpoints.api_base, "me/permissions");
        let answer = send(
            self.agent
                .delete(&url)
                .set("Authorization", &format!("OAuth {access_token}")),
            None,
        )?;
        match answer.status {
            200..=299 => Ok(()),
            _ => Err(graph::classify(NAME, &answer)),
        }
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
