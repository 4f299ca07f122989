//! Instagram professional accounts through "Business Login for Instagram": the authorize page
//! of `www.instagram.com`, the short-lived token of `api.instagram.com`, the long-lived and
//! refreshed tokens of `graph.instagram.com`, and content publishing: a media container per
//! image, reel or carousel item, status polling until `FINISHED` (continued by the engine
//! through `resume` when it takes longer), `media_publish`, then the permalink.
//! Reference: `../shared/providers/linkedin-x-facebook-instagram.md`, part 4.

use super::graph::{self, GraphError};
use super::image_header::ImageFacts;
use super::oauth::access_token_of;
use super::{
    AuthorizeRequest, CallKind, ConnectedAccount, DeleteRequest, Deletion, HttpAnswer, LookUp,
    MediaKind, Platform, PostContent, Provider, ProviderError, PublishRequest, PublishStep,
    Published, ReadBack, RemoteAccount, SendBody, TokenSet, rules, send,
};
use crate::config::{ClientCredentials, ProviderEndpoints};
use crate::error::{Code, Error};
use crate::http::append_query;
use serde_json::{Map, Value, json};
use std::time::Duration;

/// Reading the account and publishing to it (the names valid since January 2025).
pub const SCOPES: &[&str] = &[
    "instagram_business_basic",
    "instagram_business_content_publish",
];

pub const CAPTION_LIMIT: usize = 2200;
pub const HASHTAG_LIMIT: usize = 30;
pub const MENTION_LIMIT: usize = 20;
pub const CAROUSEL_MIN: usize = 2;
pub const CAROUSEL_MAX: usize = 10;
/// Image rules of the Content Publishing API (developers.facebook.com/docs/instagram-platform/
/// instagram-graph-api/reference/ig-user/media, "Image specifications"): at most 8 MB (the
/// error-codes page's 2207004 says "less than 8 MiB"), an aspect ratio from 4:5 to 1.91:1.
/// Widths from 320 to 1440 px are not refused: Instagram scales images outside them.
pub const IMAGE_MAX_BYTES: u64 = 8 * 1024 * 1024;
/// 4:5 and 1.91:1 as width/height, compared in integers: 5w >= 4h and 100w <= 191h.
pub const ASPECT_MIN: (u64, u64) = (4, 5);
pub const ASPECT_MAX: (u64, u64) = (191, 100);

/// Status polls inside one call, and the pause between them: about two seconds in all, so a
/// delivery thread is never held long; longer processing is finished through `resume`.
const POLLS_PER_CALL: u32 = 6;
const POLL_INTERVAL: Duration = Duration::from_millis(300);

const NAME: &str = "Instagram";

pub struct Instagram {
    endpoints: ProviderEndpoints,
    agent: ureq::Agent,
}

/// The token of a Graph call and the app secret its `appsecret_proof` is made with: every
/// call under `/v{ver}` carries the proof, which apps with "Require App Secret" on insist on
/// (developers.facebook.com/docs/graph-api/guides/secure-requests).
#[derive(Clone, Copy)]
pub(super) struct Auth<'a> {
    token: &'a str,
    secret: &'a str,
}

impl<'a> Auth<'a> {
    pub(super) fn of(request: &'a PublishRequest) -> Auth<'a> {
        Auth {
            token: request.access_token,
            secret: &request.credentials.client_secret,
        }
    }
}

/// One thing to put in a container: its public URL and what it is.
struct Item {
    url: String,
    kind: MediaKind,
}

impl Instagram {
    pub fn new(endpoints: ProviderEndpoints, agent: ureq::Agent) -> Self {
        Self { endpoints, agent }
    }

    fn api(&self, path: &str) -> String {
        format!(
            "{}/{}/{path}",
            self.endpoints.api_base, self.endpoints.api_version
        )
    }

    fn check(answer: HttpAnswer) -> Result<Value, ProviderError> {
        if answer.status == 200 {
            Ok(answer.json())
        } else {
            Err(classify(&answer))
        }
    }

    /// A Graph read with the token and its `appsecret_proof`; the answer as sent, for callers
    /// that tell refusals apart (read-back).
    pub(super) fn get_answer(
        &self,
        path: &str,
        pairs: &[(&str, &str)],
        auth: Auth,
        call: CallKind,
    ) -> Result<HttpAnswer, ProviderError> {
        let proof = graph::appsecret_proof(auth.secret, auth.token);
        let mut pairs = pairs.to_vec();
        pairs.push(("access_token", auth.token));
        pairs.push(("appsecret_proof", &proof));
        send(
            self.agent.get(&append_query(&self.api(path), &pairs)),
            None,
            call,
        )
    }

    pub(super) fn get(
        &self,
        path: &str,
        pairs: &[(&str, &str)],
        auth: Auth,
        call: CallKind,
    ) -> Result<Value, ProviderError> {
        Self::check(self.get_answer(path, pairs, auth, call)?)
    }

    fn post(
        &self,
        path: &str,
        form: Vec<(String, String)>,
        auth: Auth,
        call: CallKind,
    ) -> Result<Value, ProviderError> {
        let mut form = form;
        form.push(("access_token".into(), auth.token.to_string()));
        form.push((
            "appsecret_proof".into(),
            graph::appsecret_proof(auth.secret, auth.token),
        ));
        Self::check(send(
            self.agent.post(&self.api(path)),
            Some(SendBody::Form(form)),
            call,
        )?)
    }

    /// A long-lived token answer (`ig_exchange_token` or `ig_refresh_token`): the token is its
    /// own refresh credential, valid until it expires.
    fn long_lived(&self, path: &str, pairs: &[(&str, &str)]) -> Result<TokenSet, ProviderError> {
        let url = append_query(&format!("{}/{path}", self.endpoints.api_base), pairs);
        let answer = send(self.agent.get(&url), None, CallKind::SafeToRetry)?;
        if answer.status != 200 {
            return Err(graph::oauth_error(NAME, &answer));
        }
        let body = answer.json();
        let token = access_token_of(&body, "Instagram's")?;
        let expires_in = body["expires_in"].as_i64();
        Ok(TokenSet {
            access_token: token.to_string(),
            expires_in,
            refresh_token: Some(token.to_string()),
            refresh_token_expires_in: expires_in,
            scopes: Vec::new(),
        })
    }

    /// What the URL serves, checked before Instagram is asked to fetch it: Instagram takes
    /// JPEG images and MP4/MOV videos, from public servers.
    fn checked_item(&self, request: &PublishRequest, url: &str) -> Result<Item, ProviderError> {
        let info = request.media.probe(url)?;
        let content_type = info.content_type.to_ascii_lowercase();
        let kind = rules::media_kind_from_content_type(&content_type);
        let supported = match kind {
            Some(MediaKind::Image) => content_type == "image/jpeg" || content_type == "image/jpg",
            Some(MediaKind::Video) => {
                content_type == "video/mp4" || content_type == "video/quicktime"
            }
            None => false,
        };
        match kind {
            Some(kind) if supported => Ok(Item {
                url: url.to_string(),
                kind,
            }),
            _ => Err(ProviderError::Rejected {
                code: Code::UnsupportedMediaType,
                message: format!(
                    "{url} is served as {content_type:?}; Instagram takes JPEG images and MP4 or MOV videos."
                ),
            }),
        }
    }

    fn create_container(
        &self,
        request: &PublishRequest,
        item: &Item,
        carousel_item: bool,
    ) -> Result<String, ProviderError> {
        let mut form: Vec<(String, String)> = Vec::new();
        match (item.kind, carousel_item) {
            (MediaKind::Image, _) => form.push(("image_url".into(), item.url.clone())),
            (MediaKind::Video, true) => {
                form.push(("media_type".into(), "VIDEO".into()));
                form.push(("video_url".into(), item.url.clone()));
            }
            (MediaKind::Video, false) => {
                // Single feed videos are published as reels.
                form.push(("media_type".into(), "REELS".into()));
                form.push(("video_url".into(), item.url.clone()));
                if let Some(share) = request.options.get("shareToFeed").and_then(Value::as_bool) {
                    form.push(("share_to_feed".into(), share.to_string()));
                }
                if let Some(cover) = &request.post.thumbnail_url {
                    form.push(("cover_url".into(), cover.clone()));
                }
            }
        }
        if carousel_item {
            form.push(("is_carousel_item".into(), "true".into()));
        } else {
            form.push(("caption".into(), request.post.text.clone()));
        }
        // A container is a draft: nothing is shown until `media_publish` names it.
        let body = self.post(
            &format!("{}/media", request.account.id),
            form,
            Auth::of(request),
            CallKind::SafeToRetry,
        )?;
        container_id(&body)
    }

    fn create_carousel(
        &self,
        request: &PublishRequest,
        children: &[String],
    ) -> Result<String, ProviderError> {
        let form = vec![
            ("media_type".into(), "CAROUSEL".into()),
            ("children".into(), children.join(",")),
            ("caption".into(), request.post.text.clone()),
        ];
        // A container is a draft: nothing is shown until `media_publish` names it.
        let body = self.post(
            &format!("{}/media", request.account.id),
            form,
            Auth::of(request),
            CallKind::SafeToRetry,
        )?;
        container_id(&body)
    }

    /// `FINISHED`, `IN_PROGRESS`, or a refusal for `ERROR` / `EXPIRED`.
    fn container_status(&self, id: &str, auth: Auth) -> Result<bool, ProviderError> {
        let body = self.get(
            id,
            &[("fields", "status_code,status")],
            auth,
            CallKind::SafeToRetry,
        )?;
        match body["status_code"].as_str().unwrap_or_default() {
            "FINISHED" | "PUBLISHED" => Ok(true),
            "IN_PROGRESS" => Ok(false),
            "EXPIRED" => Err(ProviderError::Rejected {
                code: Code::PlatformRejected,
                message: "Instagram let the media container expire (not published within 24 hours)"
                    .into(),
            }),
            other => Err(ProviderError::Rejected {
                code: Code::PlatformRejected,
                message: format!(
                    "Instagram could not process the media ({}): {}",
                    if other.is_empty() { "no status" } else { other },
                    body["status"].as_str().unwrap_or("no detail")
                ),
            }),
        }
    }

    /// Polls every container a few times, briefly; true when all are ready.
    fn wait_ready(&self, ids: &[String], auth: Auth) -> Result<bool, ProviderError> {
        let mut pending: Vec<&String> = ids.iter().collect();
        for poll in 0..POLLS_PER_CALL {
            if poll > 0 {
                std::thread::sleep(POLL_INTERVAL);
            }
            let mut still = Vec::new();
            for id in pending {
                if !self.container_status(id, auth)? {
                    still.push(id);
                }
            }
            pending = still;
            if pending.is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Drives the publish from `state` as far as it goes in this call.
    fn advance(
        &self,
        request: &PublishRequest,
        mut state: Value,
    ) -> Result<PublishStep, ProviderError> {
        let auth = Auth::of(request);
        if state["stage"] == "children" {
            let children: Vec<String> = strings(&state["children"]);
            if !self.wait_ready(&children, auth)? {
                return Ok(processing(state));
            }
            let parent = self.create_carousel(request, &children)?;
            state = json!({"stage": "container", "container": parent, "round": state["round"]});
        }
        let container = state["container"].as_str().unwrap_or_default().to_string();
        if !self.wait_ready(std::slice::from_ref(&container), auth)? {
            return Ok(processing(state));
        }
        let body = self.post(
            &format!("{}/media_publish", request.account.id),
            vec![("creation_id".into(), container)],
            auth,
            CallKind::Publishing,
        )?;
        let media_id = graph::id_string(&body["id"]).ok_or_else(|| ProviderError::Unknown {
            message: format!("Instagram published but sent no media id: {body}"),
        })?;
        // The media id is not the shortcode: the public address comes from `permalink`.
        let url = self
            .get(
                &media_id,
                &[("fields", "permalink,shortcode")],
                auth,
                CallKind::Publishing,
            )
            .ok()
            .and_then(|b| b["permalink"].as_str().map(str::to_string))
            .or_else(|| {
                request
                    .account
                    .username
                    .as_ref()
                    .map(|u| format!("https://www.instagram.com/{u}/"))
            });
        Ok(PublishStep::Done(Published {
            external_id: media_id,
            url,
        }))
    }
}

fn container_id(body: &Value) -> Result<String, ProviderError> {
    graph::id_string(&body["id"]).ok_or_else(|| ProviderError::Unknown {
        message: format!("Instagram created a container but sent no id: {body}"),
    })
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// Still processing: look again later, less often each round (Meta suggests once a minute).
fn processing(mut state: Value) -> PublishStep {
    let round = state["round"].as_u64().unwrap_or(0);
    state["round"] = json!(round + 1);
    PublishStep::Processing {
        state,
        check_after: Duration::from_secs(if round == 0 { 30 } else { 60 }),
    }
}

/// Instagram's error codes on top of Meta's common ones (reference 4.5).
pub(super) fn classify(answer: &HttpAnswer) -> ProviderError {
    let error = GraphError::read(answer);
    let text = error.describe();
    match error.subcode {
        // "We restrict certain activity": code 4 like a throttle, but not one to retry.
        Some(2207051) => ProviderError::Rejected {
            code: Code::PlatformRejected,
            message: format!(
                "Instagram restricted this activity (suspected spam or repeated content): {text}"
            ),
        },
        Some(2207042) => ProviderError::RateLimited {
            retry_after: Some(Duration::from_secs(3600)),
            message: format!("Instagram's daily publishing limit is reached: {text}"),
        },
        Some(2207052) => ProviderError::Rejected {
            code: Code::MediaFetchFailed,
            message: format!(
                "Instagram could not fetch the media (it must be on a public server): {text}"
            ),
        },
        Some(2207005 | 2207026 | 2207023) => ProviderError::Rejected {
            code: Code::UnsupportedMediaType,
            message: format!("Instagram refused the media format: {text}"),
        },
        // The image checks made before charging, should Instagram still refuse.
        Some(2207004) => ProviderError::Rejected {
            code: Code::MediaTooLarge,
            message: format!("Instagram refused the image as too large (8 MiB at most): {text}"),
        },
        Some(2207009) => ProviderError::Rejected {
            code: Code::UnsupportedMediaType,
            message: format!("Instagram refused the image's aspect ratio (4:5 to 1.91:1): {text}"),
        },
        Some(2207010 | 2207040) => ProviderError::Rejected {
            code: Code::ContentTooLong,
            message: format!("Instagram refused the caption: {text}"),
        },
        _ => graph::classify_error(NAME, &error, answer),
    }
}

/// Instagram's image rules on what a ranged read found; what it could not learn (a server
/// that gives no size, a header past the bytes read) is left to Instagram.
pub fn check_image(image: &ImageFacts) -> Result<(), Error> {
    if let Some(total) = image.total_bytes
        && total > IMAGE_MAX_BYTES
    {
        return Err(Error::new(
            Code::MediaTooLarge,
            format!(
                "{} is {total} bytes; Instagram takes images of at most 8 MiB ({IMAGE_MAX_BYTES} bytes).",
                image.url
            ),
        ));
    }
    if let Some((width, height)) = image.dimensions {
        let (w, h) = (u64::from(width), u64::from(height));
        let too_tall = w * ASPECT_MIN.1 < h * ASPECT_MIN.0;
        let too_wide = w * ASPECT_MAX.1 > h * ASPECT_MAX.0;
        if height == 0 || too_tall || too_wide {
            return Err(Error::new(
                Code::UnsupportedMediaType,
                format!(
                    "{} is {width}x{height} pixels; Instagram takes images with an aspect ratio from 4:5 (portrait) to 1.91:1 (landscape). Crop or pad it.",
                    image.url
                ),
            ));
        }
    }
    Ok(())
}

fn count_tags(text: &str, mark: char) -> usize {
    text.split(|c: char| c.is_whitespace())
        .filter(|word| {
            word.strip_prefix(mark)
                .and_then(|rest| rest.chars().next())
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
        .count()
}

/// `platformOptions.instagram.carouselUrls`, checked: 2-10 absolute http(s) URLs.
fn carousel_urls(options: &Map<String, Value>) -> Result<Option<Vec<String>>, Error> {
    let Some(value) = options.get("carouselUrls").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    // Instagram documents `image_url` and `video_url` only as public URLs it fetches, with no
    // length: each item gets the rule of mediaUrl, which it stands in for.
    let urls: Option<Vec<String>> = value.as_array().and_then(|items| {
        items
            .iter()
            .map(|u| {
                u.as_str()
                    .filter(|u| {
                        rules::is_http_url(u) && rules::char_count(u) <= rules::MAX_URL_CHARS
                    })
                    .map(str::to_string)
            })
            .collect()
    });
    match urls {
        Some(urls) if (CAROUSEL_MIN..=CAROUSEL_MAX).contains(&urls.len()) => Ok(Some(urls)),
        _ => Err(Error::validation(format!(
            "platformOptions.instagram.carouselUrls must be an array of {CAROUSEL_MIN} to {CAROUSEL_MAX} public images or videos, each an absolute http(s) URL of at most {} characters.",
            rules::thousands(rules::MAX_URL_CHARS)
        ))),
    }
}

impl Provider for Instagram {
    fn platform(&self) -> Platform {
        Platform::Instagram
    }

    fn checks_images(&self) -> bool {
        true
    }

    fn check_image(&self, image: &ImageFacts) -> Result<(), Error> {
        check_image(image)
    }

    fn uses_pkce(&self) -> bool {
        false
    }

    fn authorize_url(&self, request: &AuthorizeRequest) -> String {
        append_query(
            &format!("{}/oauth/authorize", self.endpoints.auth_base),
            &[
                ("client_id", request.client_id),
                ("redirect_uri", request.redirect_uri),
                ("response_type", "code"),
                ("scope", &SCOPES.join(",")),
                ("state", request.state),
                ("enable_fb_login", "0"),
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
        // Instagram appends `#_` to the redirect; it is not part of the code.
        let code = code.trim_end_matches("#_");
        let form = vec![
            ("client_id".into(), credentials.client_id.clone()),
            ("client_secret".into(), credentials.client_secret.clone()),
            ("grant_type".into(), "authorization_code".into()),
            ("redirect_uri".into(), redirect_uri.to_string()),
            ("code".into(), code.to_string()),
        ];
        let url = format!("{}/oauth/access_token", self.endpoints.token_base);
        let answer = send(
            self.agent.post(&url),
            Some(SendBody::Form(form)),
            CallKind::SafeToRetry,
        )?;
        if answer.status != 200 {
            return Err(graph::oauth_error(NAME, &answer));
        }
        let body = answer.json();
        // Documented inside `data[]`, answered flat: read both.
        let entry = body["data"].get(0).unwrap_or(&body);
        let short = access_token_of(entry, "Instagram's")?;
        // The short-lived token lasts an hour: trade it for the 60-day one at once.
        self.long_lived(
            "access_token",
            &[
                ("grant_type", "ig_exchange_token"),
                ("client_secret", &credentials.client_secret),
                ("access_token", short),
            ],
        )
    }

    fn refresh(
        &self,
        _credentials: &ClientCredentials,
        refresh_token: &str,
    ) -> Result<TokenSet, ProviderError> {
        self.long_lived(
            "refresh_access_token",
            &[
                ("grant_type", "ig_refresh_token"),
                ("access_token", refresh_token),
            ],
        )
    }

    fn fetch_account(&self, _access_token: &str) -> Result<RemoteAccount, ProviderError> {
        // Every Graph call carries the app secret's proof: connecting goes through
        // `connect_account`, which has the credentials.
        Err(ProviderError::Unknown {
            message: "Instagram accounts are read with the app's credentials (connect_account)"
                .into(),
        })
    }

    fn connect_account(
        &self,
        credentials: &ClientCredentials,
        tokens: &mut TokenSet,
    ) -> Result<ConnectedAccount, ProviderError> {
        let auth = Auth {
            token: &tokens.access_token,
            secret: &credentials.client_secret,
        };
        let body = self.get(
            "me",
            &[("fields", "user_id,username,name,account_type")],
            auth,
            CallKind::SafeToRetry,
        )?;
        // `user_id` is the professional account id that publishing takes; `id` is app-scoped.
        let id = graph::id_string(&body["user_id"]).ok_or_else(|| ProviderError::Unknown {
            message: "Instagram's /me answer had no user_id".into(),
        })?;
        let account_type = match body["account_type"].as_str() {
            Some("MEDIA_CREATOR") => "creator",
            _ => "business",
        };
        Ok(ConnectedAccount {
            account: RemoteAccount {
                id,
                username: body["username"].as_str().map(str::to_string),
                account_type: account_type.into(),
            },
            platform_data: None,
        })
    }

    fn validate(&self, post: &PostContent, options: &Map<String, Value>) -> Result<(), Error> {
        let platform = Platform::Instagram;
        rules::known_options(platform, options, &["carouselUrls", "shareToFeed"])?;
        rules::text_within(
            platform,
            rules::char_count(&post.text),
            CAPTION_LIMIT,
            "content",
        )?;
        let hashtags = count_tags(&post.text, '#');
        if hashtags > HASHTAG_LIMIT {
            return Err(Error::new(
                Code::ContentTooLong,
                format!(
                    "content has {hashtags} hashtags; Instagram allows at most {HASHTAG_LIMIT}."
                ),
            ));
        }
        let mentions = count_tags(&post.text, '@');
        if mentions > MENTION_LIMIT {
            return Err(Error::new(
                Code::ContentTooLong,
                format!(
                    "content mentions {mentions} accounts; Instagram allows at most {MENTION_LIMIT}."
                ),
            ));
        }
        if let Some(share) = options.get("shareToFeed")
            && !share.is_boolean()
        {
            return Err(Error::validation(
                "platformOptions.instagram.shareToFeed must be true or false.",
            ));
        }
        match carousel_urls(options)? {
            Some(urls) => {
                if let Some(media) = &post.media_url
                    && media != &urls[0]
                {
                    return Err(Error::validation(
                        "With platformOptions.instagram.carouselUrls, leave mediaUrl out or set it to the first carousel URL: carouselUrls lists every item.",
                    ));
                }
                if post.thumbnail_url.is_some() || options.contains_key("shareToFeed") {
                    return Err(Error::validation(
                        "thumbnailUrl and shareToFeed apply to a single reel, not to a carousel.",
                    ));
                }
                Ok(())
            }
            None => {
                rules::media_required(platform, post, &[MediaKind::Image, MediaKind::Video])?;
                rules::thumbnail_only_with_video(platform, post)?;
                if options.contains_key("shareToFeed") && post.media_kind != Some(MediaKind::Video)
                {
                    return Err(Error::validation(
                        "platformOptions.instagram.shareToFeed applies to a reel (a video mediaUrl) only.",
                    ));
                }
                Ok(())
            }
        }
    }

    fn publish(&self, request: &PublishRequest) -> Result<PublishStep, ProviderError> {
        let carousel = request.options.get("carouselUrls").map(strings);
        let state =
            match carousel {
                Some(urls) if !urls.is_empty() => {
                    let items = urls
                        .iter()
                        .map(|u| self.checked_item(request, u))
                        .collect::<Result<Vec<_>, _>>()?;
                    let children = items
                        .iter()
                        .map(|item| self.create_container(request, item, true))
                        .collect::<Result<Vec<_>, _>>()?;
                    json!({"stage": "children", "children": children})
                }
                _ => {
                    let url = request.post.media_url.as_deref().ok_or_else(|| {
                        ProviderError::Rejected {
                            code: Code::MediaRequired,
                            message: "Instagram needs an image or a video.".into(),
                        }
                    })?;
                    let item = self.checked_item(request, url)?;
                    let container = self.create_container(request, &item, false)?;
                    json!({"stage": "container", "container": container})
                }
            };
        self.advance(request, state)
    }

    fn resume(
        &self,
        request: &PublishRequest,
        state: &Value,
    ) -> Result<PublishStep, ProviderError> {
        self.advance(request, state.clone())
    }

    fn find_published(&self, look: &LookUp) -> Result<ReadBack, ProviderError> {
        self.read_back(look)
    }

    fn more_images(&self, options: &Map<String, Value>) -> Vec<(String, String)> {
        // Every carousel item an image is subject to the same rules as a single image
        // (the IG User Media reference's image specifications apply to `image_url`).
        options
            .get("carouselUrls")
            .map(strings)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, url)| (format!("platformOptions.instagram.carouselUrls[{i}]"), url))
            .collect()
    }

    fn delete_post(&self, request: &DeleteRequest) -> Result<Deletion, ProviderError> {
        // `can_delete` stays false: the IG Media reference (developers.facebook.com/
        // documentation/instagram-platform/reference/instagram-media) documents reading and
        // updating (comments on or off) only, no deleting, so nothing is sent.
        Err(ProviderError::Rejected {
            code: Code::DeleteNotAvailable,
            message: format!(
                "Instagram's API has no way to delete published media (its IG Media reference offers reading and updating only); delete it in the Instagram app (media {}).",
                request.external_id
            ),
        })
    }

    fn revoke(
        &self,
        _credentials: &ClientCredentials,
        _access_token: &str,
        _refresh_token: Option<&str>,
    ) -> Result<(), ProviderError> {
        // Business Login for Instagram has no revocation call: the person removes the app in
        // Instagram's settings, and Meta notifies the app's deauthorize callback.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashtags_and_mentions_are_counted_as_words() {
        assert_eq!(count_tags("#a #b c#d # #_x", '#'), 3);
        assert_eq!(count_tags("hi @sam and @lee, mail a@b.c", '@'), 2);
    }
}
