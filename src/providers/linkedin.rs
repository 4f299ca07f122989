//! LinkedIn: "Sign In with LinkedIn using OpenID Connect" for identity and "Share on LinkedIn"
//! for posting as the member, through the versioned REST Posts API.
//! Reference: `../shared/providers/linkedin-x-facebook-instagram.md`, part 1.

use super::oauth::{access_token_of, code_grant, refresh_grant, rfc6749_error, scopes_of};
use super::{
    AuthorizeRequest, CallKind, DeleteRequest, Deletion, HttpAnswer, LookUp, MediaKind, Platform,
    PostContent, Provider, ProviderError, PublishRequest, PublishStep, Published, ReadBack,
    RemoteAccount, SendBody, TokenSet, clip, linkedin_media, rules, send,
};
use crate::config::{ClientCredentials, ProviderEndpoints};
use crate::error::{Code, Error};
use crate::http::{append_query, percent_encode};
use serde_json::Map;
use serde_json::{Value, json};

/// Identity (`openid profile`) and member posting (`w_member_social`). LinkedIn grants all
/// requested scopes or none, so asking for more than needed only risks a refusal.
pub const SCOPES: &[&str] = &["openid", "profile", "w_member_social"];

/// Longest `commentary` LinkedIn accepts, in characters.
pub const COMMENTARY_LIMIT: usize = 3000;

/// Longest image alt text, in characters: the Posts API's `content.media.altText` ("Max length
/// 4086 characters" in the Posts API schema of Microsoft Learn's LinkedIn reference).
pub const ALT_TEXT_LIMIT: usize = 4086;

/// Who may see the post: `visibility` of the Posts API, as the provider notes give it for a
/// member's post (part 1.3). LinkedIn's enum also has `LOGGED_IN` and `CONTAINER` (visibility
/// delegated to a container such as a group), which this adapter does not offer.
pub const VISIBILITIES: &[&str] = &["PUBLIC", "CONNECTIONS"];

pub struct LinkedIn {
    pub(super) endpoints: ProviderEndpoints,
    pub(super) agent: ureq::Agent,
}

impl LinkedIn {
    pub fn new(endpoints: ProviderEndpoints, agent: ureq::Agent) -> Self {
        Self { endpoints, agent }
    }

    fn token_call(
        &self,
        credentials: &ClientCredentials,
        mut form: Vec<(String, String)>,
    ) -> Result<TokenSet, ProviderError> {
        // LinkedIn takes the client credentials in the form body, not a Basic header.
        form.push(("client_id".into(), credentials.client_id.clone()));
        form.push(("client_secret".into(), credentials.client_secret.clone()));
        let url = format!("{}/oauth/v2/accessToken", self.endpoints.token_base);
        let answer = send(
            self.agent.post(&url),
            Some(SendBody::Form(form)),
            CallKind::SafeToRetry,
        )?;
        if answer.status != 200 {
            return Err(oauth_error(&answer));
        }
        let body = answer.json();
        let access_token = access_token_of(&body, "LinkedIn's")?;
        Ok(TokenSet {
            access_token: access_token.to_string(),
            expires_in: body["expires_in"].as_i64(),
            refresh_token: body["refresh_token"].as_str().map(str::to_string),
            refresh_token_expires_in: body["refresh_token_expires_in"].as_i64(),
            // Reported comma-separated, documented space-separated: accept both.
            scopes: scopes_of(&body, &[',', ' ']),
        })
    }

    pub(super) fn rest(&self, request: ureq::Request, access_token: &str) -> ureq::Request {
        request
            .set("Authorization", &format!("Bearer {access_token}"))
            .set("LinkedIn-Version", &self.endpoints.api_version)
            .set("X-Restli-Protocol-Version", "2.0.0")
    }

    /// `POST /rest/posts` as the member, with `content` (media) when given. Never retried
    /// here: LinkedIn has no idempotency key, and a lost answer may still mean a post.
    pub(super) fn create_post(
        &self,
        request: &PublishRequest,
        content: Option<Value>,
    ) -> Result<Published, ProviderError> {
        let url = format!("{}/rest/posts", self.endpoints.api_base);
        let visibility = request
            .options
            .get("visibility")
            .and_then(Value::as_str)
            .unwrap_or("PUBLIC");
        let mut body = json!({
            "author": format!("urn:li:person:{}", request.account.id),
            "commentary": escape_little_text(&request.post.text),
            "visibility": visibility,
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": []
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": false
        });
        if let Some(content) = content {
            body["content"] = content;
        }
        let answer = send(
            self.rest(self.agent.post(&url), request.access_token),
            Some(SendBody::Json(body)),
            CallKind::Publishing,
        )?;
        if answer.status != 201 {
            return Err(classify_api_error(&answer));
        }
        let urn = answer
            .header("x-restli-id")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ProviderError::Unknown {
                message: "LinkedIn accepted the post but sent no x-restli-id".into(),
            })?
            .to_string();
        Ok(Published {
            url: Some(post_url(&urn)),
            external_id: urn,
        })
    }
}

impl Provider for LinkedIn {
    fn platform(&self) -> Platform {
        Platform::Linkedin
    }

    fn uses_pkce(&self) -> bool {
        // LinkedIn's PKCE is for native apps of approved partners; web apps use the secret.
        false
    }

    fn authorize_url(&self, request: &AuthorizeRequest) -> String {
        append_query(
            &format!("{}/oauth/v2/authorization", self.endpoints.auth_base),
            &[
                ("response_type", "code"),
                ("client_id", request.client_id),
                ("redirect_uri", request.redirect_uri),
                ("state", request.state),
                ("scope", &SCOPES.join(" ")),
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
        self.token_call(credentials, refresh_grant(refresh_token))
    }

    fn fetch_account(&self, access_token: &str) -> Result<RemoteAccount, ProviderError> {
        let url = format!("{}/v2/userinfo", self.endpoints.api_base);
        let answer = send(
            self.agent
                .get(&url)
                .set("Authorization", &format!("Bearer {access_token}")),
            None,
            CallKind::SafeToRetry,
        )?;
        if answer.status != 200 {
            return Err(classify_api_error(&answer));
        }
        let body = answer.json();
        let sub = body["sub"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ProviderError::Unknown {
                message: "LinkedIn's userinfo answer had no sub".into(),
            })?;
        Ok(RemoteAccount {
            id: sub.to_string(),
            // Standard apps cannot read a vanity name; the member's name is the best label.
            username: body["name"].as_str().map(str::to_string),
            account_type: "person".into(),
        })
    }

    fn validate(&self, post: &PostContent, options: &Map<String, Value>) -> Result<(), Error> {
        let platform = Platform::Linkedin;
        rules::known_options(platform, options, &["visibility", "altText"])?;
        rules::choice_option(platform, options, "visibility", VISIBILITIES)?;
        let alt_text = rules::text_option(platform, options, "altText", ALT_TEXT_LIMIT)?;
        rules::text_within(
            platform,
            rules::char_count(&post.text),
            COMMENTARY_LIMIT,
            "content",
        )?;
        rules::media_optional(platform, post, &[MediaKind::Image, MediaKind::Video])?;
        rules::thumbnail_only_with_video(platform, post)?;
        linkedin_media::validate(post, alt_text)
    }

    fn publish(&self, request: &PublishRequest) -> Result<PublishStep, ProviderError> {
        match request.post.media_kind {
            None => self.create_post(request, None).map(PublishStep::Done),
            Some(kind) => linkedin_media::publish(self, request, kind),
        }
    }

    fn resume(
        &self,
        request: &PublishRequest,
        state: &Value,
    ) -> Result<PublishStep, ProviderError> {
        linkedin_media::resume(self, request, state)
    }

    /// LinkedIn lists a member's posts (`GET /rest/posts?q=author`) and reads one by its URN
    /// only with `r_member_social`, which it grants to approved partners alone; asking a
    /// self-serve app's member for it fails the whole consent (LinkedIn grants all requested
    /// scopes or none). So nothing is called: no connection this adapter makes can read back.
    fn find_published(&self, _look: &LookUp) -> Result<ReadBack, ProviderError> {
        Ok(ReadBack::Unknowable {
            reason: READ_BACK_UNAVAILABLE.into(),
        })
    }

    fn can_delete(&self) -> bool {
        true
    }

    /// `DELETE /rest/posts/{encoded URN}` as the author (`w_member_social`). LinkedIn answers
    /// 204 for a post deleted before as well ("Post deletions are idempotent"), so a post the
    /// member deleted by hand reads as deleted now; a 404 means there is no such post.
    fn delete_post(&self, request: &DeleteRequest) -> Result<Deletion, ProviderError> {
        let urn = request.external_id;
        if !(urn.starts_with("urn:li:share:") || urn.starts_with("urn:li:ugcPost:")) {
            return Err(ProviderError::Rejected {
                code: Code::PlatformRejected,
                message: format!(
                    "{urn:?} is not a LinkedIn post URN (urn:li:share:… or urn:li:ugcPost:…)"
                ),
            });
        }
        let url = format!(
            "{}/rest/posts/{}",
            self.endpoints.api_base,
            percent_encode(urn)
        );
        let answer = send(
            self.rest(self.agent.delete(&url), request.call.access_token)
                .set("X-RestLi-Method", "DELETE"),
            None,
            CallKind::SafeToRetry,
        )?;
        match answer.status {
            200..=299 => Ok(Deletion::Deleted),
            404 => Ok(Deletion::AlreadyGone),
            403 => Err(ProviderError::Rejected {
                code: Code::PlatformRejected,
                message: format!(
                    "LinkedIn refused to delete {urn}: {} (only the member who wrote a post deletes it, with w_member_social)",
                    answer.json()["message"]
                        .as_str()
                        .map(|m| clip(m, 300))
                        .unwrap_or_else(|| "HTTP 403".into())
                ),
            }),
            _ => Err(classify_api_error(&answer)),
        }
    }

    fn revoke(
        &self,
        credentials: &ClientCredentials,
        access_token: &str,
        _refresh_token: Option<&str>,
    ) -> Result<(), ProviderError> {
        let url = format!("{}/oauth/v2/revoke", self.endpoints.token_base);
        let form = vec![
            ("client_id".into(), credentials.client_id.clone()),
            ("client_secret".into(), credentials.client_secret.clone()),
            ("token".into(), access_token.to_string()),
        ];
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

/// LinkedIn's "little text" format treats these characters as markup; unescaped, the text
/// after them can be dropped, so every one is escaped with a backslash.
pub fn escape_little_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '|'
                | '{'
                | '}'
                | '@'
                | '['
                | ']'
                | '('
                | ')'
                | '<'
                | '>'
                | '#'
                | '*'
                | '_'
                | '~'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub fn unescape_little_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn oauth_error(answer: &HttpAnswer) -> ProviderError {
    rfc6749_error(answer, "LinkedIn", "LinkedIn's")
}

/// Why an interrupted LinkedIn publish stays unknown (the delivery's message says it).
pub const READ_BACK_UNAVAILABLE: &str = "LinkedIn lets an app list a member's posts (GET /rest/posts?q=author) only with r_member_social, a permission it restricts to approved partners; a Share on LinkedIn connection (w_member_social) cannot tell whether the post was created: check the member's LinkedIn activity";

/// The setting that pins `LinkedIn-Version`, named in the error of a 426.
pub const VERSION_SETTING: &str = "MYPOSTSHARE_LINKEDIN_API_VERSION";

/// LinkedIn's list of active versions and their sunset dates.
pub const MIGRATIONS_PAGE: &str =
    "https://learn.microsoft.com/en-us/linkedin/marketing/integrations/migrations";

/// Maps an answer of LinkedIn's REST API to the engine's outcome classes.
pub(super) fn classify_api_error(answer: &HttpAnswer) -> ProviderError {
    let body: Value = answer.json();
    let platform_message = body["message"]
        .as_str()
        .map(|m| clip(m, 300))
        .unwrap_or_else(|| format!("LinkedIn answered HTTP {}", answer.status));
    let duplicate = body["errorDetails"]["inputErrors"]
        .as_array()
        .is_some_and(|errors| errors.iter().any(|e| e["code"] == "DUPLICATE_POST"));
    match answer.status {
        401 => ProviderError::Unauthorized {
            message: format!("LinkedIn refused the access token: {platform_message}"),
        },
        429 => ProviderError::RateLimited {
            retry_after: answer.retry_after,
            message: format!("LinkedIn rate limit reached: {platform_message}"),
        },
        _ if duplicate => ProviderError::Rejected {
            code: Code::DuplicatePost,
            message: format!("LinkedIn rejected the post as a duplicate: {platform_message}"),
        },
        // The version comes from configuration, so the operator is the one who can fix it.
        426 => ProviderError::Rejected {
            code: Code::PlatformVersionRetired,
            message: format!(
                "LinkedIn does not serve the configured API version ({platform_message}): set {VERSION_SETTING} to a version listed as Active on {MIGRATIONS_PAGE} and restart."
            ),
        },
        500..=599 => {
            answer.server_error(format!("LinkedIn had a server error: {platform_message}"))
        }
        _ => ProviderError::Rejected {
            code: Code::PlatformRejected,
            message: format!("LinkedIn rejected the request: {platform_message}"),
        },
    }
}

/// The public address of a post, from its URN.
pub fn post_url(urn: &str) -> String {
    format!(
        "https://www.linkedin.com/feed/update/{}/",
        percent_encode(urn)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn little_text_escaping_round_trips() {
        let text = "Launch (v2) #rust @team_x [docs] {a|b} <ok> *bold* ~tilde\\";
        let escaped = escape_little_text(text);
        assert!(escaped.contains("\\(v2\\)"));
        assert_eq!(unescape_little_text(&escaped), text);
    }
}
