//! X (Twitter) as the simulator plays it: the consent page of `x.com/i/oauth2/authorize` (PKCE
//! required), the token and revoke endpoints of `api.x.com/2/oauth2/*` (HTTP Basic for the
//! confidential client, single-use rotating refresh tokens), `GET /2/users/me`, `POST
//! /2/tweets`, and the v2 chunked media upload with its STATUS processing state machine, in
//! X's status codes and problem bodies. Paths here are relative to `{mount}/twitter`.
//!
//! Its own state (upload sessions) lives in the simulator's per-platform slot; how many STATUS polls processing takes is its test setting
//! `processingPolls`. Text is counted by X's own library (`twitter-text`), not the adapter's.

use super::authorize::{Authorize, AuthorizeRules, Problem, Rejection, ScopeRule, Step};
use super::consent::{self, ConsentFlow, ConsentWords, Look, authorize_decision, authorize_page};
use super::faults::{Fault, FaultKind};
use super::oauth::{ClientProblem, client_token};
use super::token::{
    self, Access, ClientAuth, Issued, OnRefresh, Refresh, Refusal, TokenRules, filled,
};
use super::{Setting, SettingKind, Simulator, TokenClaims, redirect_with};
use crate::Platform;
use crate::crypto::{random_bytes, sha256_hex};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use httpkit::clock::format_timestamp;
use httpkit::{Request, Response, form_value};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};

mod readback;

const PLATFORM: Platform = Platform::Twitter;

/// X's limit of a post's text, in weighted characters (the `maxWeightedTweetLength` of
/// twitter-text's configuration).
pub const TEXT_LIMIT: usize = 280;

/// `reply_settings` of `POST /2/tweets`, X's enumeration.
const REPLY_SETTINGS: &[&str] = &["following", "mentionedUsers", "subscribers", "verified"];

/// The test settings of X (`/_sim/twitter/settings`).
pub(crate) const SETTINGS: &[Setting] = &[Setting {
    name: "processingPolls",
    meaning: "STATUS polls a video or GIF answers in_progress before it succeeded",
    kind: SettingKind::Count { min: 0, max: 1000 },
    default: |s| json!(s.twitter_status_polls),
}];

/// The length X counts, from X's own counting library (twitter-text, in its Rust port, with
/// its current v3 configuration): the text NFC-normalized, code points of the light ranges
/// weighing 1 and all others 2, an emoji sequence 2 as a whole, and every link, bare domains of
/// any top-level domain included, 23 (`transformedURLLength`).
pub fn weighted_length(text: &str) -> usize {
    let config = twitter_text_config::config_v3();
    let counted = twitter_text::parse(text, config, true).weighted_length;
    // The Rust port finds links without a scheme (`example.com`) but weighs them as text;
    // X's own `TwitterTextParser` counts every link its extractor finds, those included, 23.
    let bare_links: i32 = twitter_text::extractor::Extractor::new()
        .extract_urls(text)
        .iter()
        .filter(|link| {
            let lower = link.to_ascii_lowercase();
            !(lower.starts_with("http://") || lower.starts_with("https://"))
        })
        .map(|link| {
            config.transformed_url_length - twitter_text::parse(link, config, false).weighted_length
        })
        .sum();
    usize::try_from(counted + bare_links).unwrap_or(0)
}

pub const DEFAULT_MEMBER_NAME: &str = "Alex Morgan";

/// Refresh tokens: X documents no lifetime; about six months is what integrators report.
const REFRESH_TOKEN_DAYS: i64 = 180;

/// Largest APPEND segment; X documents 5 MB and answered 413 with an empty body above it.
const MAX_SEGMENT_BYTES: usize = 5 * 1024 * 1024;

/// The scopes an app can ask for, with what the consent page says about the ones shown.
const SCOPES: &[(&str, &str)] = &[
    (
        "tweet.read",
        "Read posts you can see, including protected accounts'",
    ),
    ("tweet.write", "Post and repost for you"),
    (
        "users.read",
        "Any account you can view, including protected accounts",
    ),
    ("media.write", "Upload media for you"),
    (
        "offline.access",
        "Stay connected to your account until you revoke access",
    ),
    (
        "follows.read",
        "People who follow you and people you follow",
    ),
    ("like.read", "Posts you have liked"),
    ("like.write", "Like and un-like posts for you"),
    ("bookmark.read", "Your bookmarks"),
    ("list.read", "Lists, list members and list followers"),
];

const BAD_CODE: &str = "Value passed for the authorization code was invalid.";
const BAD_TOKEN: &str = "Value passed for the token was invalid.";

/// `POST /2/tweets` body fields (the schema refuses any other).
const TWEET_FIELDS: &[&str] = &[
    "text",
    "media",
    "reply",
    "quote_tweet_id",
    "reply_settings",
    "poll",
    "made_with_ai",
    "paid_partnership",
    "community_id",
    "for_super_followers_only",
    "nullcast",
    "direct_message_deep_link",
    "geo",
    "card_uri",
    "share_with_followers",
    "edit_options",
];

/// (content type, category, largest total_bytes) accepted by INITIALIZE.
const MEDIA_TYPES: &[(&str, &str, u64)] = &[
    ("image/jpeg", "tweet_image", 5 * 1024 * 1024),
    ("image/png", "tweet_image", 5 * 1024 * 1024),
    ("image/webp", "tweet_image", 5 * 1024 * 1024),
    ("image/gif", "tweet_gif", 15 * 1024 * 1024),
    ("video/mp4", "tweet_video", 512 * 1024 * 1024),
    ("video/quicktime", "tweet_video", 512 * 1024 * 1024),
];

#[derive(Default)]
struct XState {
    uploads: HashMap<String, Upload>,
}

struct Upload {
    owner: String,
    media_type: String,
    category: String,
    total_bytes: u64,
    segments: BTreeMap<u32, Vec<u8>>,
    /// After FINALIZE: the bytes' digest and the STATUS polls still to answer `in_progress`.
    finalized: Option<Finalized>,
}

struct Finalized {
    sha256: String,
    polls_left: u32,
}

fn with_state<R>(sim: &Simulator, f: impl FnOnce(&mut XState) -> R) -> R {
    sim.with_platform_state(PLATFORM, f)
}

pub(crate) fn handle(sim: &Simulator, request: &Request, base: &str, path: &[&str]) -> Response {
    match (request.method.as_str(), path) {
        ("GET", ["i", "oauth2", "authorize"]) => {
            authorize_page::<Consent>(sim, &request.query, base)
        }
        ("POST", ["i", "oauth2", "authorize"]) => authorize_decision::<Consent>(sim, request, base),
        ("POST", ["2", "oauth2", "token"]) => token::endpoint(sim, request, &TOKEN_RULES),
        ("POST", ["2", "oauth2", "revoke"]) => revoke(sim, request),
        (_, ["2", "oauth2", ..]) => not_found(),
        (_, ["2", ..]) => api_call(sim, request, &path[1..]),
        _ => not_found(),
    }
}

// ----- authorization pages -----

/// An authorization request, checked the way X checks it: every parameter as sent; client and
/// redirect URI problems get an error page, everything else an error redirect.
const AUTHORIZE_RULES: AuthorizeRules = AuthorizeRules {
    platform: PLATFORM,
    trimmed: false,
    state_trimmed: false,
    response_type_optional: false,
    steps: &[Step::State { max_len: Some(500) }, Step::Pkce, Step::Scopes],
    scopes: ScopeRule::new(SCOPES, &[' '], " "),
    form_fields: &[
        "response_type",
        "client_id",
        "redirect_uri",
        "state",
        "scope",
        "code_challenge",
        "code_challenge_method",
    ],
    refuse_client: |problem, redirect_uri| match problem {
        ClientProblem::UnknownClient => error_page(
            "Something went wrong",
            "You weren't able to give access to the App. Go back and try logging in again. (unknown client_id)",
        ),
        ClientProblem::RedirectNotRegistered => error_page(
            "Something went wrong",
            &format!(
                "You weren't able to give access to the App. The callback URL \"{redirect_uri}\" is not registered for this App."
            ),
        ),
    },
    refuse: |problem| {
        let (error, description) = match problem {
            Problem::ResponseType => (
                "unsupported_response_type",
                "response_type must be code".to_string(),
            ),
            Problem::State => (
                "invalid_request",
                "Missing required parameter [state] (at most 500 characters).".to_string(),
            ),
            Problem::NoChallenge => (
                "invalid_request",
                "Missing required parameter [code_challenge].".to_string(),
            ),
            Problem::ChallengeMethod(method) => (
                "invalid_request",
                format!("Unsupported code_challenge_method [{method}]."),
            ),
            Problem::UnknownScope(scope) => ("invalid_scope", format!("Unknown scope [{scope}].")),
            _ => (
                "invalid_request",
                "Missing required parameter [scope].".to_string(),
            ),
        };
        Rejection::Back {
            error,
            description: Some(description),
        }
    },
};

/// X's consent flow (`consent.rs`).
struct Consent;

impl ConsentFlow for Consent {
    const RULES: &'static AuthorizeRules = &AUTHORIZE_RULES;
    const LOOK: &'static Look = &LOOK;
    const WORDS: &'static ConsentWords = &CONSENT_WORDS;
    const PATH: &'static str = "/i/oauth2/authorize";
    const DEFAULT_MEMBER_NAME: &'static str = DEFAULT_MEMBER_NAME;
    const MEMBER_NAME_RULE: &'static str =
        "Enter the name of the account to sign in as (at most 50 characters).";

    fn member_name_fits(name: &str) -> bool {
        !name.is_empty() && name.chars().count() <= 50
    }
    fn code_ttl(sim: &Simulator) -> chrono::Duration {
        sim.settings().twitter_code_ttl
    }
    fn allowed(request: &Authorize, code: String) -> Response {
        Response::redirect(&redirect_with(
            &request.redirect_uri,
            &[("state", request.state.as_str()), ("code", code.as_str())],
        ))
    }
    fn denied(request: &Authorize) -> Response {
        Response::redirect(&redirect_with(
            &request.redirect_uri,
            &[
                ("error", "access_denied"),
                ("state", request.state.as_str()),
            ],
        ))
    }
    fn undecided() -> Response {
        error_page(
            "Something went wrong",
            "The authorization form was sent without a decision; choose Allow or Deny.",
        )
    }
}

const STYLE: &str = "body{margin:0;background:#fff;font-family:-apple-system,system-ui,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#0f1419}\
header{padding:16px 24px;font-size:28px;font-weight:800}\
main{max-width:440px;margin:24px auto;border:1px solid #cfd9de;border-radius:16px;padding:24px}\
h1{font-size:22px;font-weight:800;margin:0 0 8px}p{line-height:1.4}ul{padding-left:20px}li{margin:6px 0}\
label{display:block;font-size:14px;font-weight:700;margin:16px 0 4px}\
input[type=text]{width:100%;box-sizing:border-box;padding:10px;border:1px solid #cfd9de;border-radius:4px;font-size:16px}\
.actions{display:flex;gap:8px;justify-content:flex-end;margin-top:24px}\
button{border-radius:9999px;padding:8px 20px;font-size:15px;font-weight:700;cursor:pointer}\
.allow{background:#0f1419;color:#fff;border:none}.deny{background:#fff;color:#0f1419;border:1px solid #cfd9de}\
.error{color:#f4212e;font-weight:700}.small{font-size:13px;color:#536471}";

const LOOK: Look = Look {
    title_suffix: " / X (sandbox)",
    style: STYLE,
    header: "<header>𝕏</header>",
    main_start: "",
};

const CONSENT_WORDS: ConsentWords = ConsentWords {
    title: "Authorize app",
    heading: "{app} wants to access your X account.",
    intro: Some("Things this App can view and do:"),
    member_label: "Signed in as",
    member_max_chars: 50,
    member_autocomplete: true,
    member_field_boxed: false,
    notes: &[
        "This is the X simulator: any name signs in as its own account, and the same name is the same account.",
        "You can revoke access to any app at any time from Connected apps in your settings.",
    ],
    scope_names_shown: false,
};

fn error_page(heading: &str, detail: &str) -> Response {
    consent::error_page(&LOOK, 400, heading, heading, detail, None)
}

// ----- token endpoints -----

fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    Response::json(
        status,
        &json!({"error": error, "error_description": description}),
    )
    .with_header("Cache-Control", "no-store")
}

fn missing(name: &str) -> Response {
    oauth_error(
        400,
        "invalid_request",
        &format!("Missing required parameter [{name}]."),
    )
}

/// X's token endpoint: the confidential client in HTTP Basic (form-encoded parts), PKCE on
/// every code, and a refresh token with `offline.access` that works once and is replaced on
/// each refresh.
const TOKEN_RULES: TokenRules = TokenRules {
    platform: PLATFORM,
    precheck: None,
    params: token::form_params,
    client_auth: ClientAuth::Basic {
        percent_decoded: true,
        body_id_must_match: true,
    },
    required_first: &[],
    grant_before_client: false,
    default_grant: None,
    code_params: &[
        filled("code"),
        filled("redirect_uri"),
        filled("code_verifier"),
    ],
    refresh_params: &[filled("refresh_token")],
    code_suffix: None,
    code_reuse_revokes: false,
    access: Access {
        kind: "access",
        lifetime: |sim| sim.settings().twitter_access_token_ttl,
        subject: user_id,
    },
    refresh: Refresh::Issued {
        when: |_, code| code.scopes.iter().any(|s| s == "offline.access"),
        lifetime: |_| chrono::Duration::days(REFRESH_TOKEN_DAYS),
        refreshed_lifetime: None,
        on_refresh: OnRefresh::RotatedSingleUse,
    },
    access_prefix: "",
    refresh_prefix: "",
    extra_grants: &[],
    refuse: refuse_token,
    answer: token_answer,
};

/// Every simulated client is confidential, so X's answer to a missing or wrong Basic header
/// is the same 401.
fn refuse_token(_sim: &Simulator, refusal: &Refusal<'_>) -> Response {
    match refusal {
        Refusal::Missing(name) => missing(name),
        Refusal::Client(_) => oauth_error(
            401,
            "unauthorized_client",
            "Missing valid authorization header",
        ),
        Refusal::ClientIdMismatch => oauth_error(
            400,
            "invalid_request",
            "client_id does not match the authorization header.",
        ),
        Refusal::UnsupportedGrant(other) => oauth_error(
            400,
            "unsupported_grant_type",
            &format!("Unsupported grant_type [{other}]."),
        ),
        Refusal::Code { .. } => oauth_error(400, "invalid_request", BAD_CODE),
        Refusal::RefreshToken => oauth_error(400, "invalid_request", BAD_TOKEN),
    }
}

/// The token answer; a new refresh token whenever `offline.access` was granted.
fn token_answer(_sim: &Simulator, issued: &Issued) -> Response {
    let access = &issued.access;
    let mut body = json!({
        "token_type": "bearer",
        "expires_in": access.exp - access.iat,
        "access_token": issued.access_token,
        "scope": access.scp.join(" "),
    });
    if let Some((token, _)) = &issued.refresh {
        body["refresh_token"] = json!(token);
    }
    Response::json(200, &body).with_header("Cache-Control", "no-store")
}

/// The client from the Basic header, for the revocation endpoint.
fn basic_client(sim: &Simulator, request: &Request) -> Result<String, Response> {
    let unauthorized = || {
        oauth_error(
            401,
            "unauthorized_client",
            "Missing valid authorization header",
        )
    };
    let header = request.header("authorization").unwrap_or_default().trim();
    let (scheme, encoded) = header.split_once(' ').ok_or_else(unauthorized)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(unauthorized());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(unauthorized)?;
    let (id, secret) = decoded.split_once(':').ok_or_else(unauthorized)?;
    let id = httpkit::percent_decode(id);
    let secret = httpkit::percent_decode(secret);
    sim.authenticate_client(PLATFORM, &id, &secret)
        .map(|c| c.client_id)
        .ok_or_else(unauthorized)
}

fn required<'a>(form: &'a [(String, String)], name: &str) -> Result<&'a str, Response> {
    form_value(form, name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| missing(name))
}

fn revoke(sim: &Simulator, request: &Request) -> Response {
    let client_id = match basic_client(sim, request) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let form = request.form();
    let token = match required(&form, "token") {
        Ok(token) => token,
        Err(response) => return response,
    };
    // Revoking ends the whole authorization: every token of that consent.
    if let Some(claims) = client_token(sim, PLATFORM, token, &client_id) {
        sim.revoke_grant(&claims.grant);
    }
    Response::json(200, &json!({"revoked": true}))
}

/// A numeric id of 19 digits, stable per name, like X's snowflake user ids.
fn user_id(sim: &Simulator, member_name: &str) -> String {
    let digits: String = sim
        .member_id(PLATFORM, member_name, 18)
        .chars()
        .map(|c| char::from(b'0' + (c as u32 % 10) as u8))
        .collect();
    format!("1{digits}")
}

/// The handle a name signs in with: letters, digits and underscores, at most 15.
pub fn username_for(member_name: &str) -> String {
    let handle: String = member_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(15)
        .collect();
    if handle.is_empty() {
        "sandbox_user".into()
    } else {
        handle
    }
}

// ----- the API -----

/// X's problem body (RFC 7807 style).
fn problem(status: u16, title: &str, detail: &str, kind: &str) -> Response {
    Response::json(
        status,
        &json!({"title": title, "detail": detail, "type": kind, "status": status}),
    )
}

fn unauthorized() -> Response {
    problem(401, "Unauthorized", "Unauthorized", "about:blank")
}

fn forbidden() -> Response {
    problem(403, "Forbidden", "Forbidden", "about:blank")
}

fn not_found() -> Response {
    Response::json(
        404,
        &json!({"errors": [{"message": "Sorry, that page does not exist", "code": 34}]}),
    )
}

/// 400 invalid-request with one error per problem.
fn invalid_request(messages: &[String]) -> Response {
    let errors: Vec<Value> = messages
        .iter()
        .map(|m| json!({"parameters": {}, "message": m}))
        .collect();
    Response::json(
        400,
        &json!({
            "errors": errors,
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.x.com/2/problems/invalid-request"
        }),
    )
}

fn duplicate() -> Response {
    problem(
        403,
        "Forbidden",
        "You are not allowed to create a Tweet with duplicate content.",
        "about:blank",
    )
}

/// Rate-limit headers X sends on every answer, and a `Date` from the simulator's clock so a
/// client can measure `x-rate-limit-reset` against it.
fn with_limits(sim: &Simulator, response: Response, remaining: u32, reset: i64) -> Response {
    let now = sim.now();
    response
        .with_header("x-rate-limit-limit", "100")
        .with_header("x-rate-limit-remaining", &remaining.to_string())
        .with_header("x-rate-limit-reset", &reset.to_string())
        .with_header("Date", &now.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
}

/// The end of the current fifteen-minute window, in epoch seconds.
fn window_end(now: DateTime<Utc>) -> i64 {
    let t = now.timestamp();
    t - t.rem_euclid(900) + 900
}

/// A queued fault in X's shape; a revoked token also revokes the grant it came from, as a
/// person revoking the app in their settings does, so a refresh cannot bring it back.
fn fault_response(sim: &Simulator, request: &Request, fault: &Fault) -> Response {
    match fault.kind {
        FaultKind::ServerError { status } => {
            let title = match status {
                502 => "Bad Gateway",
                503 => "Service Unavailable",
                504 => "Gateway Timeout",
                _ => "Internal Server Error",
            };
            problem(status, title, title, "about:blank")
        }
        FaultKind::RateLimit { retry_after } => {
            let reset = match retry_after {
                Some(secs) => sim.now().timestamp() + secs as i64,
                None => window_end(sim.now()),
            };
            let body = problem(429, "Too Many Requests", "Too Many Requests", "about:blank");
            with_limits(sim, body, 0, reset)
        }
        FaultKind::Timeout { .. } => {
            problem(504, "Gateway Timeout", "Gateway Timeout", "about:blank")
        }
        FaultKind::RevokedToken => {
            if let Some(claims) = request.bearer_token().and_then(|t| sim.verify_token(t)) {
                sim.revoke_grant(&claims.grant);
            }
            unauthorized()
        }
        FaultKind::Duplicate => duplicate(),
    }
}

fn api_call(sim: &Simulator, request: &Request, path: &[&str]) -> Response {
    let reset = window_end(sim.now());
    let response = match sim.begin_api_call(PLATFORM, request) {
        Some(fault) => fault_response(sim, request, &fault),
        None => route(sim, request, path),
    };
    if response.header("x-rate-limit-reset").is_some() {
        response
    } else {
        with_limits(sim, response, 99, reset)
    }
}

fn route(sim: &Simulator, request: &Request, path: &[&str]) -> Response {
    let claims = match authenticate(sim, request) {
        Ok(claims) => claims,
        Err(response) => return response,
    };
    let has = |scope: &str| claims.scp.iter().any(|s| s == scope);
    let needs = |scopes: &[&str]| scopes.iter().all(|s| has(s));
    match (request.method.as_str(), path) {
        ("GET", ["users", "me"]) if needs(&["tweet.read", "users.read"]) => Response::json(
            200,
            &json!({"data": {
                "id": claims.sub,
                "name": claims.name,
                "username": username_for(&claims.name),
            }}),
        ),
        ("POST", ["tweets"]) if needs(&["tweet.read", "tweet.write", "users.read"]) => {
            create_tweet(sim, request, &claims)
        }
        (_, ["media", "upload", ..]) if !has("media.write") => forbidden(),
        ("POST", ["media", "upload", "initialize"]) => initialize(sim, request, &claims),
        ("POST", ["media", "upload", id, "append"]) => append(sim, request, &claims, id),
        ("POST", ["media", "upload", id, "finalize"]) => finalize(sim, request, &claims, id),
        ("GET", ["media", "upload"]) => status(sim, request, &claims),
        ("GET", ["users", id, "tweets"]) if needs(&["tweet.read", "users.read"]) => {
            readback::user_tweets(sim, request, id)
        }
        ("DELETE", ["tweets", id]) if needs(&["tweet.read", "tweet.write", "users.read"]) => {
            readback::delete_tweet(sim, &claims, id)
        }
        ("GET", ["users", "me"] | ["users", _, "tweets"])
        | ("POST", ["tweets"])
        | ("DELETE", ["tweets", _]) => forbidden(),
        _ => not_found(),
    }
}

/// The account behind the bearer token, or X's 401.
fn authenticate(sim: &Simulator, request: &Request) -> Result<TokenClaims, Response> {
    let claims = request
        .bearer_token()
        .and_then(|t| sim.verify_token(t))
        .filter(|c| c.typ == "access" && c.plat == PLATFORM.key())
        .ok_or_else(unauthorized)?;
    if sim.is_revoked(&claims.grant) || sim.now().timestamp() >= claims.exp {
        return Err(unauthorized());
    }
    Ok(claims)
}

/// X's epoch for snowflake ids: 2010-11-04T01:42:54.657Z, in Unix milliseconds.
const SNOWFLAKE_EPOCH_MS: i64 = 1_288_834_974_657;

/// A snowflake id as X makes them: milliseconds since X's epoch in the high bits, 22 low bits
/// that tell apart ids of the same millisecond, so ids sort by creation time (the timeline's
/// `since_id`, `until_id` and order rely on it).
fn new_snowflake(now: DateTime<Utc>) -> String {
    let millis = u64::try_from(now.timestamp_millis() - SNOWFLAKE_EPOCH_MS).unwrap_or(0);
    let low = random_bytes::<4>();
    let low = u64::from(u32::from_le_bytes(low) & 0x3F_FFFF);
    ((millis << 22) | low).to_string()
}

fn create_tweet(sim: &Simulator, request: &Request, claims: &TokenClaims) -> Response {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&request.body) else {
        return invalid_request(&["Request body must be a JSON object".into()]);
    };
    let mut problems: Vec<String> = body
        .keys()
        .filter(|k| !TWEET_FIELDS.contains(&k.as_str()))
        .map(|k| {
            format!("$.{k}: is not defined in the schema and the schema does not allow additional properties")
        })
        .collect();
    let text = match body.get("text") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(t.clone()),
        Some(_) => {
            problems.push("$.text: string found, but expected a string".into());
            None
        }
    };
    if let Some(setting) = body.get("reply_settings")
        && !setting
            .as_str()
            .is_some_and(|s| REPLY_SETTINGS.contains(&s))
    {
        problems.push(format!(
            "$.reply_settings: does not have a value in the enumeration [{}]",
            REPLY_SETTINGS.join(", ")
        ));
    }
    let media_ids = match media_ids(&body) {
        Ok(ids) => ids,
        Err(problem) => {
            problems.push(problem);
            Vec::new()
        }
    };
    if text.is_none() && media_ids.is_empty() {
        problems.push("$.text: is missing but it is required when no media is attached".into());
    }
    if !problems.is_empty() {
        return invalid_request(&problems);
    }
    let text = text.unwrap_or_default();
    let length = weighted_length(&text);
    if length > TEXT_LIMIT {
        return invalid_request(&[format!(
            "Your Tweet text is too long: {length} weighted characters, at most {TEXT_LIMIT}."
        )]);
    }
    let media = match attached_media(sim, claims, &media_ids) {
        Ok(media) => media,
        Err(response) => return response,
    };
    let now = sim.now();
    let id = new_snowflake(now);
    let username = username_for(&claims.name);
    let record = json!({
        "id": id,
        "authorId": claims.sub,
        "username": username,
        "text": text,
        "media": media,
        "replySettings": body.get("reply_settings").cloned().unwrap_or(Value::Null),
        "clientId": claims.cid,
        "createdAt": format_timestamp(now),
    });
    let author = claims.sub.clone();
    let outcome = sim.record_post_unless_duplicate(
        PLATFORM,
        now - sim.settings().duplicate_window,
        // A deleted post no longer makes a new one a duplicate.
        |earlier| {
            earlier["authorId"] == author.as_str()
                && earlier["text"] == text.as_str()
                && !text.is_empty()
                && earlier["deleted"] != true
        },
        record,
    );
    match outcome {
        Ok(()) => Response::json(
            201,
            &json!({"data": {"id": id, "text": text, "edit_history_tweet_ids": [id]}}),
        ),
        Err(_) => duplicate(),
    }
}

fn media_ids(body: &Map<String, Value>) -> Result<Vec<String>, String> {
    let Some(media) = body.get("media").filter(|m| !m.is_null()) else {
        return Ok(Vec::new());
    };
    let ids = media["media_ids"]
        .as_array()
        .filter(|ids| (1..=4).contains(&ids.len()))
        .ok_or("$.media.media_ids: must be an array of 1 to 4 media ids")?;
    ids.iter()
        .map(|id| {
            id.as_str()
                .filter(|s| !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit()))
                .map(str::to_string)
                .ok_or_else(|| format!("$.media.media_ids: {id} is not a numeric string"))
        })
        .collect()
}

/// The media a post attaches: each uploaded by this account and done processing; at most one
/// video or GIF, never mixed with images.
fn attached_media(
    sim: &Simulator,
    claims: &TokenClaims,
    ids: &[String],
) -> Result<Vec<Value>, Response> {
    let invalid = || invalid_request(&["Your media IDs are invalid.".into()]);
    let media: Vec<Value> = with_state(sim, |s| {
        ids.iter()
            .map(|id| {
                let upload = s.uploads.get(id).filter(|u| u.owner == claims.sub)?;
                let finalized = upload.finalized.as_ref().filter(|f| f.polls_left == 0)?;
                Some(json!({
                    "id": id,
                    "mediaType": upload.media_type,
                    "category": upload.category,
                    "size": upload.total_bytes,
                    "sha256": finalized.sha256,
                }))
            })
            .collect::<Option<Vec<_>>>()
    })
    .ok_or_else(invalid)?;
    let animated = media
        .iter()
        .filter(|m| m["category"] != "tweet_image")
        .count();
    if animated > 0 && media.len() > 1 {
        return Err(invalid_request(&[
            "A post takes up to 4 images, or 1 GIF, or 1 video.".into(),
        ]));
    }
    Ok(media)
}

fn initialize(sim: &Simulator, request: &Request, claims: &TokenClaims) -> Response {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&request.body) else {
        return invalid_request(&["Request body must be a JSON object".into()]);
    };
    let media_type = body
        .get("media_type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let total_bytes = body.get("total_bytes").and_then(Value::as_u64).unwrap_or(0);
    let Some((_, default_category, max)) = MEDIA_TYPES.iter().find(|(t, ..)| *t == media_type)
    else {
        return invalid_request(&[format!(
            "$.media_type: unsupported media type [{media_type}]"
        )]);
    };
    let category = body
        .get("media_category")
        .and_then(Value::as_str)
        .unwrap_or(default_category);
    if category != *default_category {
        return invalid_request(&[format!(
            "$.media_category: {category} does not match media type {media_type}"
        )]);
    }
    if total_bytes == 0 || total_bytes > *max {
        return invalid_request(&[format!(
            "$.total_bytes: must be from 1 to {max} for {category}"
        )]);
    }
    let id = new_snowflake(sim.now());
    with_state(sim, |s| {
        s.uploads.insert(
            id.clone(),
            Upload {
                owner: claims.sub.clone(),
                media_type: media_type.to_string(),
                category: category.to_string(),
                total_bytes,
                segments: BTreeMap::new(),
                finalized: None,
            },
        )
    });
    Response::json(
        200,
        &json!({"data": {"id": id, "media_key": media_key(category, &id), "expires_after_secs": 86_399}}),
    )
}

fn media_key(category: &str, id: &str) -> String {
    let prefix = match category {
        "tweet_image" => 3,
        "tweet_gif" => 16,
        _ => 7,
    };
    format!("{prefix}_{id}")
}

fn append(sim: &Simulator, request: &Request, claims: &TokenClaims, id: &str) -> Response {
    let content_type = request.header("content-type").unwrap_or_default();
    let Some(parts) = parse_multipart(content_type, &request.body) else {
        return invalid_request(&[
            "Request body must be multipart/form-data with media and segment_index".into(),
        ]);
    };
    let field = |name: &str| parts.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let Some(index) = field("segment_index")
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|i| *i <= 999)
    else {
        return invalid_request(&["$.segment_index: must be an integer from 0 to 999".into()]);
    };
    let Some(media) = field("media").filter(|m| !m.is_empty()) else {
        return invalid_request(&["$.media: is missing but it is required".into()]);
    };
    if media.len() > MAX_SEGMENT_BYTES {
        return Response::new(413);
    }
    let stored = with_state(sim, |s| {
        let upload = s
            .uploads
            .get_mut(id)
            .filter(|u| u.owner == claims.sub && u.finalized.is_none())?;
        upload.segments.insert(index, media.clone());
        Some(())
    });
    match stored {
        Some(()) => Response::json(
            200,
            &json!({"data": {"expires_at": sim.now().timestamp() + 86_399}}),
        ),
        None => invalid_request(&[format!("$.id: no upload session [{id}] is open")]),
    }
}

fn finalize(sim: &Simulator, request: &Request, claims: &TokenClaims, id: &str) -> Response {
    if !matches!(
        serde_json::from_slice::<Value>(&request.body),
        Ok(Value::Object(_))
    ) {
        return invalid_request(&["Request body must be a JSON object".into()]);
    }
    let polls = sim.count_setting(PLATFORM, "processingPolls");
    let outcome = with_state(sim, |s| {
        let upload = s
            .uploads
            .get_mut(id)
            .filter(|u| u.owner == claims.sub && u.finalized.is_none())
            .ok_or_else(|| format!("$.id: no upload session [{id}] is open"))?;
        let indexes: Vec<u32> = upload.segments.keys().copied().collect();
        if indexes.iter().enumerate().any(|(i, at)| i as u32 != *at) {
            return Err(
                "Segments are missing: send segment_index 0, 1, 2, ... without gaps".into(),
            );
        }
        let bytes: Vec<u8> = std::mem::take(&mut upload.segments)
            .into_values()
            .flatten()
            .collect();
        if bytes.len() as u64 != upload.total_bytes {
            return Err(format!(
                "File size mismatch: received {} bytes, total_bytes was {}",
                bytes.len(),
                upload.total_bytes
            ));
        }
        // Images are ready at once; videos and GIFs are transcoded first.
        let polls_left = if upload.category == "tweet_image" {
            0
        } else {
            polls
        };
        upload.finalized = Some(Finalized {
            sha256: sha256_hex(&bytes),
            polls_left,
        });
        Ok((upload.category.clone(), upload.total_bytes, polls_left))
    });
    match outcome {
        Ok((category, size, polls_left)) => {
            let mut data = json!({
                "id": id,
                "media_key": media_key(&category, id),
                "size": size,
                "expires_after_secs": 86_400,
            });
            if category != "tweet_image" {
                data["processing_info"] = if polls_left == 0 {
                    json!({"state": "succeeded", "progress_percent": 100})
                } else {
                    json!({"state": "pending", "check_after_secs": 1})
                };
            }
            Response::json(200, &json!({"data": data}))
        }
        Err(message) => invalid_request(&[message]),
    }
}

fn status(sim: &Simulator, request: &Request, claims: &TokenClaims) -> Response {
    if request.query_param("command") != Some("STATUS") {
        return invalid_request(&["$.command: must be STATUS".into()]);
    }
    let id = request
        .query_param("media_id")
        .unwrap_or_default()
        .to_string();
    let polls = sim.count_setting(PLATFORM, "processingPolls");
    let info = with_state(sim, |s| {
        let upload = s.uploads.get_mut(&id).filter(|u| u.owner == claims.sub)?;
        let category = upload.category.clone();
        let finalized = upload.finalized.as_mut()?;
        if finalized.polls_left > 0 {
            finalized.polls_left -= 1;
        }
        let left = finalized.polls_left;
        let info = if left == 0 {
            json!({"state": "succeeded", "progress_percent": 100})
        } else {
            let done = (polls.saturating_sub(left) * 100 / polls.max(1)).min(99);
            json!({"state": "in_progress", "check_after_secs": 1, "progress_percent": done})
        };
        Some((category, info))
    });
    match info {
        Some((category, info)) => Response::json(
            200,
            &json!({"data": {"id": id, "media_key": media_key(&category, &id), "processing_info": info}}),
        ),
        None => invalid_request(&[format!(
            "$.media_id: [{id}] is not a finalized upload of this account"
        )]),
    }
}

/// The parts of a `multipart/form-data` body: (name, bytes).
fn parse_multipart(content_type: &str, body: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))?
        .trim_matches('"');
    if !content_type
        .trim()
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return None;
    }
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut rest = body;
    let start = find(rest, &delimiter)?;
    rest = &rest[start + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let header_end = find(rest, b"\r\n\r\n")?;
        let headers = std::str::from_utf8(&rest[..header_end]).ok()?;
        let name = headers
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))?
            .split(';')
            .map(str::trim)
            .find_map(|p| p.strip_prefix("name="))?
            .trim_matches('"')
            .to_string();
        rest = &rest[header_end + 4..];
        let mut end_marker = b"\r\n".to_vec();
        end_marker.extend_from_slice(&delimiter);
        let end = find(rest, &end_marker)?;
        parts.push((name, rest[..end].to_vec()));
        rest = &rest[end + end_marker.len()..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_bodies_parse() {
        let body = b"--xyz\r\nContent-Disposition: form-data; name=\"segment_index\"\r\n\r\n2\r\n--xyz\r\nContent-Disposition: form-data; name=\"media\"; filename=\"blob\"\r\nContent-Type: application/octet-stream\r\n\r\n\r\n--x\x00\r\n--xyz--\r\n";
        let parts = parse_multipart("multipart/form-data; boundary=xyz", body).unwrap();
        assert_eq!(parts[0], ("segment_index".to_string(), b"2".to_vec()));
        assert_eq!(parts[1], ("media".to_string(), b"\r\n--x\x00".to_vec()));
    }

    #[test]
    fn text_is_weighted_as_x_counts_it() {
        assert_eq!(weighted_length("Hello, world!"), 13);
        assert_eq!(weighted_length("日本語"), 6);
        assert_eq!(weighted_length("👨\u{200D}👩\u{200D}👧\u{200D}👦 ok"), 5);
        assert_eq!(weighted_length("e\u{301}"), 1);
        let long = format!("https://example.com/{}", "a".repeat(200));
        assert_eq!(weighted_length(&long), 23);
        assert_eq!(weighted_length("visit example.museum today"), 6 + 23 + 6);
        // Issue 11: newer generic TLDs are in twitter-text's list too.
        assert_eq!(weighted_length("mypostshare.photography"), 23);
        assert_eq!(weighted_length("mail me@example.com"), 19);
    }

    #[test]
    fn usernames_keep_handle_characters() {
        assert_eq!(username_for("Alex Morgan"), "AlexMorgan");
        assert_eq!(username_for("日本"), "sandbox_user");
        assert_eq!(username_for("a_very_long_name_indeed"), "a_very_long_nam");
    }
}
