//! Instagram as the simulator plays it, with "Business Login for Instagram": the authorize page
//! of `www.instagram.com/oauth/authorize`, the short-lived token of
//! `api.instagram.com/oauth/access_token`, the long-lived (`/access_token`) and refreshed
//! (`/refresh_access_token`) tokens of `graph.instagram.com`, and content publishing under
//! `/v{ver}`: `/me`, `/{ig-user-id}/media` containers, `/{container-id}` status,
//! `/{ig-user-id}/media_publish`, `/{media-id}` permalinks and `content_publishing_limit`
//! (reference part 4). Paths are relative to `{mount}/instagram`; the three hosts' paths do
//! not overlap, so one prefix serves them all.
//!
//! Containers are the one piece of state this platform adds: they live in the simulator's
//! per-platform state (`InstagramState`), keyed by random ids and cleared by `/_sim/reset`. A container
//! answers `IN_PROGRESS` to as many status polls as its media URL asks with
//! `?processing_polls=N` (default: 0 for images, 1 for videos), then `FINISHED`.

use super::authorize::{Authorize, AuthorizeRules, Problem, Rejection, ScopeRule, Step};
use super::consent::{self, ConsentFlow, ConsentWords, Look, authorize_decision, authorize_page};
use super::facebook::params_of;
use super::faults::{Fault, FaultKind};
use super::oauth::ClientProblem;
use super::token::{self, Access, ClientAuth, Refresh, Refusal, TokenRules, filled};
use super::{Simulator, TokenClaims, redirect_with};
use crate::Platform;
use crate::crypto::{base64url, random_bytes, random_token};
use chrono::{DateTime, Utc};
use httpkit::clock::format_timestamp;
use httpkit::{Request, Response, form_value, parse_query};
use serde_json::{Value, json};
use std::collections::HashMap;

mod media_list;

const PLATFORM: Platform = Platform::Instagram;

/// The test settings of Instagram (`/_sim/instagram/settings`): `requireAppSecret` names the
/// apps whose "Require App Secret" is on, as for Facebook: Graph calls under `/v{ver}` without
/// `appsecret_proof` are refused, and a wrong proof is refused for every app
/// (developers.facebook.com/docs/graph-api/guides/secure-requests [inf: that the setting
/// covers graph.instagram.com as it does graph.facebook.com]).
pub(crate) const SETTINGS: &[crate::Setting] = &[crate::Setting {
    name: "requireAppSecret",
    meaning: "comma-separated app (client) ids whose \"Require App Secret\" setting is on: their Graph calls need appsecret_proof",
    kind: crate::SettingKind::Text { max_chars: 2000 },
    default: |_| Value::Null,
}];

pub const DEFAULT_MEMBER_NAME: &str = "Alex Morgan";
pub const CAPTION_LIMIT: usize = 2200;
const HASHTAG_LIMIT: usize = 30;
const MENTION_LIMIT: usize = 20;
/// Publishing quota per rolling 24 hours (the reference pages say 50).
pub const QUOTA_TOTAL: usize = 50;
const SHORT_TOKEN_SECS: i64 = 3600;
/// A long-lived token can be refreshed once it is at least this old.
const REFRESH_MIN_AGE_SECS: i64 = 24 * 3600;
const CONTAINER_TTL_HOURS: i64 = 24;
/// "less than 8 MiB" (Instagram's error 2207004).
const IMAGE_MAX_BYTES: u64 = 8 * 1024 * 1024;

const SCOPES: &[(&str, &str)] = &[
    (
        "instagram_business_basic",
        "Access your profile info and media",
    ),
    (
        "instagram_business_content_publish",
        "Publish content to your account",
    ),
    (
        "instagram_business_manage_comments",
        "Manage comments on your content",
    ),
    (
        "instagram_business_manage_messages",
        "Manage and access your messages",
    ),
];

#[derive(Debug, Clone)]
struct Container {
    owner: String,
    client_id: String,
    /// IMAGE, VIDEO (a carousel item), REELS or CAROUSEL.
    media_type: String,
    media_url: Option<String>,
    caption: String,
    children: Vec<String>,
    carousel_item: bool,
    polls_left: u32,
    created_at: DateTime<Utc>,
    published: bool,
}

/// What this platform keeps in the simulator between API calls.
#[derive(Default)]
struct InstagramState {
    containers: HashMap<String, Container>,
}

/// Runs `f` on the containers under the simulator's lock (so `f` must not call back into it).
fn with_containers<R>(sim: &Simulator, f: impl FnOnce(&mut HashMap<String, Container>) -> R) -> R {
    sim.with_platform_state(PLATFORM, |state: &mut InstagramState| {
        f(&mut state.containers)
    })
}

pub(crate) fn handle(sim: &Simulator, request: &Request, base: &str, path: &[&str]) -> Response {
    match (request.method.as_str(), path) {
        ("GET", ["oauth", "authorize"]) => authorize_page::<Consent>(sim, &request.query, base),
        ("POST", ["oauth", "authorize"]) => authorize_decision::<Consent>(sim, request, base),
        ("POST", ["oauth", "access_token"]) => token::endpoint(sim, request, &TOKEN_RULES),
        ("GET", ["access_token"]) => long_lived(sim, request),
        ("GET", ["refresh_access_token"]) => refresh(sim, request),
        (_, [version, rest @ ..]) if version.starts_with('v') && !rest.is_empty() => {
            api_call(sim, request, rest)
        }
        _ => graph_error(400, "Unknown path components", 2500, None),
    }
}

// ----- ids -----

fn numeric(seed: &str, sim: &Simulator, prefix: &str, len: usize) -> String {
    let letters = sim.member_id(PLATFORM, seed, len);
    let digits: String = letters.bytes().map(|b| char::from(b'0' + b % 10)).collect();
    format!("{prefix}{digits}")
}

/// The professional account id (`user_id`, 17 digits starting 1784, beyond 2^53).
fn ig_user_id(sim: &Simulator, member: &str) -> String {
    numeric(member, sim, "1784", 13)
}

fn username(member: &str) -> String {
    let name: String = member
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ')
        .collect::<String>()
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(".");
    if name.is_empty() {
        "member".into()
    } else {
        name
    }
}

fn new_id() -> String {
    let digits: String = random_bytes::<13>()
        .iter()
        .map(|b| char::from(b'0' + b % 10))
        .collect();
    format!("179{digits}")
}

// ----- errors -----

fn graph_error(status: u16, message: &str, code: i64, subcode: Option<i64>) -> Response {
    let mut error = json!({
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": base64url(&random_bytes::<9>()),
    });
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
        error["is_transient"] = json!(false);
    }
    Response::json(status, &json!({ "error": error }))
}

/// The old shape `api.instagram.com` still answers with.
fn old_oauth_error(message: &str) -> Response {
    Response::json(
        400,
        &json!({"error_type": "OAuthException", "code": 400, "error_message": message}),
    )
}

fn user_error(code: i64, subcode: i64, title: &str, message: &str) -> Response {
    let response = graph_error(400, title, code, Some(subcode));
    let mut body: Value = serde_json::from_slice(&response.body).unwrap_or_default();
    body["error"]["error_user_title"] = json!(title);
    body["error"]["error_user_msg"] = json!(message);
    Response::json(400, &body)
}

fn fault_response(fault: &Fault) -> Response {
    match fault.kind {
        FaultKind::ServerError { status } => {
            let response = graph_error(
                status,
                "An unexpected error has occurred. Please retry your request later.",
                2,
                None,
            );
            let mut body: Value = serde_json::from_slice(&response.body).unwrap_or_default();
            body["error"]["is_transient"] = json!(true);
            Response::json(status, &body)
        }
        FaultKind::RateLimit { retry_after } => {
            let minutes = retry_after.map(|s| s.div_ceil(60)).unwrap_or(0);
            let usage = json!({"0": [{"type": "instagram", "call_count": 100, "total_cputime": 10,
                "total_time": 20, "estimated_time_to_regain_access": minutes}]});
            graph_error(400, "Application request limit reached", 4, None)
                .with_header("X-Business-Use-Case-Usage", &usage.to_string())
        }
        FaultKind::Timeout { .. } => graph_error(504, "The request timed out.", 2, None),
        FaultKind::RevokedToken => graph_error(
            400,
            "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.",
            190,
            Some(460),
        ),
        // Instagram has no duplicate refusal; repeated content meets its spam restriction.
        FaultKind::Duplicate => user_error(
            4,
            2207051,
            "Action is blocked",
            "We restrict certain activity to protect our community. Tell us if you think we made a mistake.",
        ),
    }
}

// ----- authorize page -----

/// An authorization request, checked the way Instagram checks it: every problem gets an
/// error page.
const AUTHORIZE_RULES: AuthorizeRules = AuthorizeRules {
    platform: PLATFORM,
    trimmed: true,
    state_trimmed: true,
    response_type_optional: false,
    steps: &[Step::Scopes],
    scopes: ScopeRule::new(SCOPES, &[',', ' '], ","),
    form_fields: &[
        "client_id",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
    ],
    refuse_client: |problem, _| match problem {
        ClientProblem::UnknownClient => error_page("Invalid platform app"),
        ClientProblem::RedirectNotRegistered => error_page("Invalid redirect_uri"),
    },
    refuse: |problem| {
        Rejection::Page(match problem {
            Problem::ResponseType => error_page("Invalid response_type: only code is supported"),
            Problem::UnknownScope(scope) => error_page(&format!(
                "Invalid scope: {scope} (the business_* names stopped working on January 27, 2025; use instagram_business_*)"
            )),
            _ => error_page("Invalid scope: ask for at least one permission"),
        })
    },
};

/// The redirect back to `request`'s app with `pairs`, then `state` when the request had one.
fn redirect(request: &Authorize, mut pairs: Vec<(&str, String)>) -> String {
    if !request.state.is_empty() {
        pairs.push(("state", request.state.clone()));
    }
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    redirect_with(&request.redirect_uri, &pairs)
}

/// Instagram's consent flow (`consent.rs`).
struct Consent;

impl ConsentFlow for Consent {
    const RULES: &'static AuthorizeRules = &AUTHORIZE_RULES;
    const LOOK: &'static Look = &LOOK;
    const WORDS: &'static ConsentWords = &CONSENT_WORDS;
    const PATH: &'static str = "/oauth/authorize";
    const DEFAULT_MEMBER_NAME: &'static str = DEFAULT_MEMBER_NAME;
    const MEMBER_NAME_RULE: &'static str =
        "Enter the name of the account to log in as (at most 100 characters).";

    fn code_ttl(_sim: &Simulator) -> chrono::Duration {
        chrono::Duration::hours(1)
    }
    fn allowed(request: &Authorize, code: String) -> Response {
        // Instagram ends the code with `#_` (a fragment, which browsers do not send on).
        Response::redirect(&format!("{}#_", redirect(request, vec![("code", code)])))
    }
    fn denied(request: &Authorize) -> Response {
        Response::redirect(&redirect(
            request,
            vec![
                ("error", "access_denied".into()),
                ("error_reason", "user_denied".into()),
                ("error_description", "The user denied your request.".into()),
            ],
        ))
    }
    fn undecided() -> Response {
        error_page("The form was sent without a decision; choose Allow or Deny.")
    }
}

const STYLE: &str = "body{margin:0;background:#fafafa;font-family:-apple-system,system-ui,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#262626}\
header{padding:16px 24px;text-align:center}.logo{font-family:cursive;font-size:30px}\
main{max-width:400px;margin:12px auto;background:#fff;border:1px solid #dbdbdb;border-radius:4px;padding:24px}\
h1{font-size:18px;margin:0 0 12px}ul{padding-left:20px}li{margin:6px 0}\
label{display:block;font-size:14px;font-weight:600;margin:16px 0 4px}\
input[type=text]{width:100%;box-sizing:border-box;padding:9px;border:1px solid #dbdbdb;border-radius:3px;background:#fafafa;font-size:15px}\
.actions{display:flex;gap:8px;justify-content:flex-end;margin-top:24px}\
button{border-radius:8px;padding:7px 16px;font-size:14px;font-weight:600;cursor:pointer;border:none}\
.allow{background:#0095f6;color:#fff}.deny{background:#efefef;color:#262626}\
.error{color:#ed4956;font-weight:600}.small{font-size:12px;color:#8e8e8e}";

const LOOK: Look = Look {
    title_suffix: " | Instagram (sandbox)",
    style: STYLE,
    header: "<header><span class=\"logo\">Instagram</span></header>",
    main_start: "",
};

const CONSENT_WORDS: ConsentWords = ConsentWords {
    title: "Allow {app}",
    heading: "{app} would like to:",
    intro: None,
    member_label: "Logged in as",
    member_max_chars: 100,
    member_autocomplete: true,
    member_field_boxed: false,
    notes: &[
        "This is the Instagram simulator: any name logs in as its own professional (business) account.",
    ],
    scope_names_shown: false,
};

fn error_page(message: &str) -> Response {
    consent::error_page(
        &LOOK,
        400,
        "Error",
        "Sorry, this page isn't available.",
        message,
        None,
    )
}

// ----- tokens -----

/// The token endpoint of `api.instagram.com`: every parameter in the form, the code (with or
/// without Instagram's trailing `#_`) for a one-hour token, answered flat (not in `data[]` as
/// documented) with `user_id` as a JSON number, errors in the old `error_type` shape.
const TOKEN_RULES: TokenRules = TokenRules {
    platform: PLATFORM,
    precheck: None,
    params: token::form_params,
    client_auth: ClientAuth::Params,
    required_first: &[
        filled("client_id"),
        filled("client_secret"),
        filled("grant_type"),
        filled("redirect_uri"),
        filled("code"),
    ],
    grant_before_client: false,
    default_grant: None,
    code_params: &[],
    refresh_params: &[],
    code_suffix: Some("#_"),
    code_reuse_revokes: false,
    access: Access {
        kind: "short",
        lifetime: |_| chrono::Duration::seconds(SHORT_TOKEN_SECS),
        subject: ig_user_id,
    },
    refresh: Refresh::None,
    access_prefix: "",
    refresh_prefix: "",
    extra_grants: &[],
    refuse: |_, refusal| match refusal {
        Refusal::Missing(name) => old_oauth_error(&format!("Missing required field {name}")),
        Refusal::Client(_) | Refusal::ClientIdMismatch => old_oauth_error("Invalid platform app"),
        Refusal::UnsupportedGrant(_) | Refusal::RefreshToken => {
            old_oauth_error("Invalid grant_type: use authorization_code")
        }
        Refusal::Code { facts, .. }
            if facts.other_redirect_uri
                && !(facts.unknown
                    || facts.other_platform
                    || facts.other_client
                    || facts.expired) =>
        {
            old_oauth_error(
                "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
            )
        }
        Refusal::Code { .. } => {
            old_oauth_error("This authorization code has been used or has expired")
        }
    },
    answer: |_, issued| {
        let number: Value =
            serde_json::from_str(&issued.access.sub).unwrap_or(json!(issued.access.sub));
        Response::json(
            200,
            &json!({
                "access_token": issued.access_token,
                "user_id": number,
                "permissions": issued.access.scp,
            }),
        )
    },
};

fn token_answer(sim: &Simulator, claims: &TokenClaims) -> Response {
    Response::json(
        200,
        &json!({
            "access_token": sim.sign_token(claims),
            "token_type": "bearer",
            "expires_in": claims.exp - claims.iat,
        }),
    )
}

fn long_lived(sim: &Simulator, request: &Request) -> Response {
    if request.query_param("grant_type") != Some("ig_exchange_token") {
        return graph_error(
            400,
            "Unsupported grant_type: use ig_exchange_token",
            100,
            None,
        );
    }
    let claims = match claims_of(sim, request.query_param("access_token")) {
        Ok(claims) if claims.typ == "short" => claims,
        Ok(_) => {
            return graph_error(
                400,
                "The access_token must be a short-lived token",
                100,
                None,
            );
        }
        Err(response) => return response,
    };
    let secret = request.query_param("client_secret").unwrap_or_default();
    if sim
        .authenticate_client(PLATFORM, &claims.cid, secret)
        .is_none()
    {
        return graph_error(400, "Error validating client secret.", 101, None);
    }
    let now = sim.now();
    token_answer(
        sim,
        &TokenClaims {
            typ: "access".into(),
            iat: now.timestamp(),
            exp: (now + sim.settings().access_token_ttl).timestamp(),
            nonce: random_token(16),
            ..claims
        },
    )
}

fn refresh(sim: &Simulator, request: &Request) -> Response {
    if request.query_param("grant_type") != Some("ig_refresh_token") {
        return graph_error(
            400,
            "Unsupported grant_type: use ig_refresh_token",
            100,
            None,
        );
    }
    let claims = match claims_of(sim, request.query_param("access_token")) {
        Ok(claims) if claims.typ == "access" => claims,
        Ok(_) => return graph_error(400, "Only long-lived tokens can be refreshed", 100, None),
        Err(response) => return response,
    };
    let now = sim.now();
    if now.timestamp() - claims.iat < REFRESH_MIN_AGE_SECS {
        return graph_error(
            400,
            "The access token must be at least 24 hours old to be refreshed",
            100,
            None,
        );
    }
    token_answer(
        sim,
        &TokenClaims {
            iat: now.timestamp(),
            exp: (now + sim.settings().access_token_ttl).timestamp(),
            nonce: random_token(16),
            ..claims
        },
    )
}

/// A token of this platform, checked for signature, revocation and expiry.
fn claims_of(sim: &Simulator, token: Option<&str>) -> Result<TokenClaims, Response> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(graph_error(
            400,
            "An active access token must be used to query information about the current user.",
            2500,
            None,
        ));
    };
    let claims = sim
        .verify_token(token)
        .filter(|c| c.plat == PLATFORM.key())
        .ok_or_else(|| {
            graph_error(
                400,
                "Invalid OAuth access token - Cannot parse access token",
                190,
                None,
            )
        })?;
    if sim.is_revoked(&claims.grant) {
        return Err(graph_error(
            400,
            "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.",
            190,
            Some(460),
        ));
    }
    if sim.now().timestamp() >= claims.exp {
        return Err(graph_error(
            400,
            "Error validating access token: Session has expired.",
            190,
            Some(463),
        ));
    }
    Ok(claims)
}

// ----- the API -----

fn presented_token(request: &Request) -> Option<String> {
    if let Some(t) = request.query_param("access_token") {
        return Some(t.to_string());
    }
    if request.method == "POST"
        && let Some(t) = form_value(&request.form(), "access_token")
    {
        return Some(t.to_string());
    }
    request.bearer_token().map(str::to_string)
}

fn api_call(sim: &Simulator, request: &Request, path: &[&str]) -> Response {
    if let Some(fault) = sim.begin_api_call(PLATFORM, request) {
        if fault.kind == FaultKind::RevokedToken
            && let Some(claims) = presented_token(request).and_then(|t| sim.verify_token(&t))
        {
            sim.revoke_grant(&claims.grant);
        }
        return fault_response(&fault);
    }
    let claims = match claims_of(sim, presented_token(request).as_deref()) {
        Ok(claims) if claims.typ == "access" || claims.typ == "short" => claims,
        Ok(_) => return graph_error(400, "Invalid OAuth access token", 190, None),
        Err(response) => return response,
    };
    if let Err(response) = super::facebook::check_proof(sim, PLATFORM, request, &claims.cid, true) {
        return response;
    }
    match (request.method.as_str(), path) {
        ("GET", ["me"]) => Response::json(
            200,
            &json!({
                "id": numeric(&format!("{}\u{1f}app:{}", claims.name, claims.cid), sim, "2", 16),
                "user_id": claims.sub,
                "username": username(&claims.name),
                "name": claims.name,
                "account_type": "BUSINESS",
                "profile_picture_url": format!("https://scontent.cdninstagram.com/sandbox/{}.jpg", claims.sub),
            }),
        ),
        ("POST", [user, "media"]) => create_container(sim, request, &claims, user),
        ("POST", [user, "media_publish"]) => publish(sim, request, &claims, user),
        ("GET", [user, "media"]) => media_list::list(sim, request, &claims, user),
        ("GET", [user, "content_publishing_limit"]) if *user == claims.sub => Response::json(
            200,
            &json!({"data": [{"quota_usage": published_today(sim, &claims.sub),
                "config": {"quota_total": QUOTA_TOTAL, "quota_duration": 86400}}]}),
        ),
        ("GET", [id]) => read_object(sim, &claims, id),
        _ => graph_error(
            400,
            "Unsupported request - method type or path not supported",
            100,
            None,
        ),
    }
}

fn no_such_object(id: &str) -> Response {
    graph_error(
        400,
        &format!(
            "Unsupported request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
        ),
        100,
        Some(33),
    )
}

fn count_tags(text: &str, mark: char) -> usize {
    text.split(char::is_whitespace)
        .filter(|w| {
            w.strip_prefix(mark)
                .and_then(|r| r.chars().next())
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
        .count()
}

/// `?processing_polls=N` on the media URL: how many status polls answer `IN_PROGRESS`.
fn processing_polls(url: &str, default: u32) -> u32 {
    url.split_once('?')
        .map(|(_, q)| parse_query(q))
        .and_then(|q| {
            q.into_iter()
                .find(|(k, _)| k == "processing_polls")
                .and_then(|(_, v)| v.parse().ok())
        })
        .unwrap_or(default)
        .min(1000)
}

fn create_container(
    sim: &Simulator,
    request: &Request,
    claims: &TokenClaims,
    user: &str,
) -> Response {
    if user != claims.sub {
        return no_such_object(user);
    }
    if !claims
        .scp
        .iter()
        .any(|s| s == "instagram_business_content_publish")
    {
        return graph_error(
            400,
            "(#10) Application does not have permission for this action",
            10,
            None,
        );
    }
    let params = params_of(request);
    let get = |name: &str| form_value(&params, name).filter(|v| !v.is_empty());
    let caption = get("caption").unwrap_or_default().to_string();
    if caption.chars().count() > CAPTION_LIMIT || count_tags(&caption, '#') > HASHTAG_LIMIT {
        return user_error(
            36004,
            2207010,
            "Caption too long",
            &format!(
                "The caption is too long: at most {CAPTION_LIMIT} characters and {HASHTAG_LIMIT} hashtags."
            ),
        );
    }
    if count_tags(&caption, '@') > MENTION_LIMIT {
        return user_error(
            100,
            2207040,
            "Too many tags",
            &format!("You can't mention more than {MENTION_LIMIT} accounts."),
        );
    }
    let carousel_item = get("is_carousel_item") == Some("true");
    let media_type = get("media_type").unwrap_or("IMAGE").to_string();
    let mut container = Container {
        owner: claims.sub.clone(),
        client_id: claims.cid.clone(),
        media_type: media_type.clone(),
        media_url: None,
        caption: if carousel_item {
            String::new()
        } else {
            caption
        },
        children: Vec::new(),
        carousel_item,
        polls_left: 0,
        created_at: sim.now(),
        published: false,
    };
    match media_type.as_str() {
        "IMAGE" => {
            let Some(url) = get("image_url") else {
                return graph_error(400, "(#100) The parameter image_url is required", 100, None);
            };
            if let Err(response) = check_media(url, "image/jpeg").and_then(|_| check_image(url)) {
                return response;
            }
            container.media_url = Some(url.to_string());
            container.polls_left = processing_polls(url, 0);
        }
        "REELS" | "VIDEO" => {
            if media_type == "VIDEO" && !carousel_item {
                return user_error(
                    100,
                    2207023,
                    "Unknown media type",
                    "The VIDEO media type is for carousel items; publish single videos as REELS.",
                );
            }
            let Some(url) = get("video_url") else {
                return graph_error(400, "(#100) The parameter video_url is required", 100, None);
            };
            if let Err(response) = check_media(url, "video/") {
                return response;
            }
            container.media_url = Some(url.to_string());
            container.polls_left = processing_polls(url, 1);
        }
        "CAROUSEL" => {
            let children: Vec<String> = get("children")
                .unwrap_or_default()
                .split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect();
            if !(2..=10).contains(&children.len()) {
                return user_error(
                    100,
                    2207028,
                    "Carousel error",
                    "A carousel needs between 2 and 10 items.",
                );
            }
            let refusal = with_containers(sim, |store| {
                children.iter().find_map(|child| match store.get(child) {
                    Some(c) if c.owner == claims.sub && c.carousel_item => {
                        (c.polls_left > 0).then(|| {
                            user_error(
                                9007,
                                2207027,
                                "Media not ready",
                                "The media is not ready for publishing, please wait for a moment",
                            )
                        })
                    }
                    _ => Some(no_such_object(child)),
                })
            });
            if let Some(response) = refusal {
                return response;
            }
            container.children = children;
        }
        _ => {
            return user_error(
                100,
                2207023,
                "Unknown media type",
                "The media type is unknown: use IMAGE (or none), REELS, VIDEO for carousel items, CAROUSEL or STORIES.",
            );
        }
    }
    let id = new_id();
    with_containers(sim, |store| {
        if store.len() > 100_000 {
            store.clear();
        }
        store.insert(id.clone(), container);
    });
    Response::json(200, &json!({ "id": id }))
}

/// Instagram fetches the media itself: it must answer, with the right type.
fn check_media(url: &str, wanted: &str) -> Result<(), Response> {
    match super::facebook::fetch_content_type(url) {
        Ok(ct) if ct.starts_with(wanted) || (wanted == "video/" && ct == "video/quicktime") => {
            Ok(())
        }
        Ok(_) if wanted.starts_with("image") => Err(user_error(
            36001,
            2207005,
            "Unsupported image format",
            "The image format is not supported. Only JPEG images can be published.",
        )),
        Ok(_) => Err(user_error(
            352,
            2207026,
            "Unsupported video format",
            "The video format is not supported. Please check the video specifications.",
        )),
        Err(problem) => Err(user_error(
            9004,
            2207052,
            "Media download has failed",
            &format!("The media could not be fetched from this URI: {url} ({problem})"),
        )),
    }
}

/// Instagram's image specifications (the IG User Media reference): at most 8 MiB, an
/// aspect ratio from 4:5 to 1.91:1; widths outside 320-1440 px are scaled, not refused. The
/// codes are the error-codes page's: 36000/2207004 for the size, 36003/2207009 for the
/// ratio.
fn check_image(url: &str) -> Result<(), Response> {
    let agent = ureq::AgentBuilder::new()
        .timeout(std::time::Duration::from_secs(10))
        .redirects(3)
        .build();
    let Ok(response) = agent.get(url).call() else {
        return Err(user_error(
            9004,
            2207052,
            "Media download has failed",
            &format!("The media could not be fetched from this URI: {url}"),
        ));
    };
    let mut body = Vec::new();
    use std::io::Read as _;
    // Read one byte past the limit: enough to know it is over.
    let _ = response
        .into_reader()
        .take(IMAGE_MAX_BYTES + 1)
        .read_to_end(&mut body);
    if body.len() as u64 > IMAGE_MAX_BYTES {
        return Err(user_error(
            36000,
            2207004,
            "Image size too large",
            "The image is too large to download. It should be less than 8 MiB.",
        ));
    }
    if let Some((width, height)) = super::media::jpeg_dimensions(&body) {
        let (w, h) = (u64::from(width), u64::from(height));
        // 4:5 <= w/h <= 1.91, in integers.
        if h == 0 || w * 5 < h * 4 || w * 100 > h * 191 {
            return Err(user_error(
                36003,
                2207009,
                "Aspect ratio not supported",
                &format!(
                    "The submitted image with aspect ratio ('{width}/{height}') cannot be published. Please submit an image with a valid aspect ratio."
                ),
            ));
        }
    }
    Ok(())
}

fn container_status(container: &Container, now: DateTime<Utc>) -> &'static str {
    if container.published {
        "PUBLISHED"
    } else if now - container.created_at > chrono::Duration::hours(CONTAINER_TTL_HOURS) {
        "EXPIRED"
    } else if container.polls_left > 0 {
        "IN_PROGRESS"
    } else {
        "FINISHED"
    }
}

fn read_object(sim: &Simulator, claims: &TokenClaims, id: &str) -> Response {
    let now = sim.now();
    let status = with_containers(sim, |store| {
        let container = store.get_mut(id).filter(|c| c.owner == claims.sub)?;
        let status = container_status(container, now);
        if status == "IN_PROGRESS" {
            container.polls_left -= 1;
        }
        Some(status)
    });
    if let Some(status) = status {
        let detail = match status {
            "IN_PROGRESS" => "In Progress: Media is still being processed.",
            "EXPIRED" => "Expired: the container was not published within 24 hours.",
            "PUBLISHED" => "Published: the container was published.",
            _ => "Finished: Media has been uploaded and it is ready to be published.",
        };
        return Response::json(
            200,
            &json!({"status_code": status, "status": detail, "id": id}),
        );
    }
    match sim
        .accepted_posts(PLATFORM)
        .into_iter()
        .find(|p| p["id"] == id && p["userId"] == claims.sub.as_str())
    {
        Some(post) => Response::json(
            200,
            &json!({"id": id, "permalink": post["permalink"], "shortcode": post["shortcode"],
                "media_type": post["mediaType"], "caption": post["caption"]}),
        ),
        None => no_such_object(id),
    }
}

fn published_today(sim: &Simulator, user: &str) -> usize {
    let since = format_timestamp(sim.now() - chrono::Duration::hours(24));
    sim.accepted_posts(PLATFORM)
        .iter()
        .filter(|p| {
            p["userId"] == user && p["createdAt"].as_str().is_some_and(|t| t >= since.as_str())
        })
        .count()
}

fn publish(sim: &Simulator, request: &Request, claims: &TokenClaims, user: &str) -> Response {
    if user != claims.sub {
        return no_such_object(user);
    }
    let params = params_of(request);
    let Some(creation_id) = form_value(&params, "creation_id").filter(|c| !c.is_empty()) else {
        return graph_error(
            400,
            "(#100) The parameter creation_id is required",
            100,
            None,
        );
    };
    if published_today(sim, user) >= QUOTA_TOTAL {
        return user_error(
            9,
            2207042,
            "Maximum number of posts reached",
            "You reached the maximum number of posts that is allowed to be published by Content Publishing API.",
        );
    }
    let now = sim.now();
    let found = with_containers(sim, |store| {
        let container = store
            .get(creation_id)
            .filter(|c| c.owner == claims.sub)
            .cloned()?;
        let children: Vec<Container> = container
            .children
            .iter()
            .filter_map(|c| store.get(c).cloned())
            .collect();
        Some((container, children))
    });
    let Some((container, children)) = found else {
        return user_error(
            24,
            2207008,
            "Media builder expired",
            "The media builder does not exist or has expired. Please try again.",
        );
    };
    match container_status(&container, now) {
        "FINISHED" if !container.carousel_item => {}
        "IN_PROGRESS" => {
            return user_error(
                9007,
                2207027,
                "Media not ready",
                "The media is not ready for publishing, please wait for a moment",
            );
        }
        "EXPIRED" => {
            return user_error(
                -2,
                2207020,
                "Media expired",
                "The media you are trying to access has expired. Please try to upload again.",
            );
        }
        _ => {
            return graph_error(
                400,
                "(#100) This container cannot be published (already published, or a carousel item)",
                100,
                None,
            );
        }
    }
    let media_id = new_id();
    let shortcode: String = base64url(&random_bytes::<9>()).chars().take(11).collect();
    let path = if container.media_type == "REELS" {
        "reel"
    } else {
        "p"
    };
    let permalink = format!("https://www.instagram.com/{path}/{shortcode}/");
    let media_urls: Vec<Value> = if children.is_empty() {
        vec![json!(container.media_url)]
    } else {
        children.iter().map(|c| json!(c.media_url)).collect()
    };
    let record = json!({
        "id": media_id,
        "userId": claims.sub,
        "username": username(&claims.name),
        "mediaType": container.media_type,
        "caption": container.caption,
        "mediaUrls": media_urls,
        "childTypes": children.iter().map(|c| c.media_type.clone()).collect::<Vec<_>>(),
        "containerId": creation_id,
        "shortcode": shortcode,
        "permalink": permalink,
        "clientId": container.client_id,
        "createdAt": format_timestamp(now),
    });
    // Instagram has no duplicate check of its own.
    let _ = sim.record_post_unless_duplicate(PLATFORM, now, |_| false, record);
    with_containers(sim, |store| {
        if let Some(c) = store.get_mut(creation_id) {
            c.published = true;
        }
    });
    Response::json(200, &json!({ "id": media_id }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processing_polls_come_from_the_media_url() {
        assert_eq!(processing_polls("http://x/a.mp4?processing_polls=7", 1), 7);
        assert_eq!(processing_polls("http://x/a.mp4", 1), 1);
        assert_eq!(username("Alex Morgan!"), "alex.morgan");
    }
}
