//! YouTube as the simulator plays it: Google's OAuth pages and token endpoints
//! (`accounts.google.com/o/oauth2/v2/auth`, `oauth2.googleapis.com/token` and `/revoke`) and the
//! YouTube Data API v3 calls a publisher makes (`channels.list`, the resumable `videos.insert`,
//! `videos.list` for processing, `thumbnails.set`, and in `youtube/uploads.rs` the uploads
//! playlist's `playlistItems.list` and `videos.delete`), with Google's status codes and error
//! envelope (see `../shared/providers/youtube-threads-pinterest-reddit.md`, part 1). Paths here
//! are relative to `{mount}/youtube`; the three real hosts use distinct paths, so one prefix
//! serves them all.
//!
//! Besides the shared pieces of `Simulator`, it keeps its own state (remembered consents, upload
//! sessions, videos and their processing) in the simulator's per-platform slot. Its test
//! settings (`/_sim/youtube/settings`) say how many status reads processing takes and how many
//! upload chunks are cut short.

use super::consent::{self, ConsentPage, ConsentWords, Look, consent_page};
use super::faults::{Fault, FaultKind};
use super::token::{
    self, Access, ClientAuth, Issued, OnRefresh, Refresh, Refusal, TokenRules, filled,
};
use super::{AuthCode, Setting, SettingKind, Simulator, TokenClaims, redirect_with};
use crate::Platform;
use crate::crypto::{base64url, hex, random_bytes, random_token};
use chrono::{DateTime, Duration, Utc};
use httpkit::clock::format_timestamp;
use httpkit::{Request, Response, form_value, percent_encode};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};

mod uploads;

const PLATFORM: Platform = Platform::Youtube;

/// The name the consent page proposes; any name signs in as a channel of its own.
pub const DEFAULT_MEMBER_NAME: &str = "Alex Morgan";

pub const TITLE_LIMIT: usize = 100;
/// Google counts the description in bytes.
pub const DESCRIPTION_LIMIT_BYTES: usize = 5000;
pub const TAGS_LIMIT: usize = 500;
/// Every chunk but the last must be a multiple of this.
pub const CHUNK_GRANULARITY: u64 = 256 * 1024;
pub const MAX_VIDEO_BYTES: u64 = 274_877_906_944;
pub const THUMBNAIL_LIMIT_BYTES: usize = 2 * 1024 * 1024;
/// Resumable sessions last about a week.
const SESSION_TTL_DAYS: i64 = 7;
/// Refresh tokens have no fixed expiry; a signed token needs one, so it is far away.
const REFRESH_TOKEN_DAYS: i64 = 3650;

const AUTH: &str = "https://www.googleapis.com/auth/";

/// Scopes the consent page knows, with what Google's consent screen says about each.
const SCOPES: &[(&str, &str)] = &[
    ("youtube", "Manage your YouTube account"),
    (
        "youtube.force-ssl",
        "See, edit, and permanently delete your YouTube videos, ratings, comments and captions",
    ),
    ("youtube.readonly", "View your YouTube account"),
    ("youtube.upload", "Manage your YouTube videos"),
    (
        "youtubepartner",
        "View and manage your assets and associated content on YouTube",
    ),
    ("openid", "Associate you with your personal info on Google"),
    ("email", "See your primary Google Account email address"),
    (
        "profile",
        "See your personal info, including any personal info you've made publicly available",
    ),
];

/// Scopes accepted by each method, from the YouTube v3 discovery document.
const READ_SCOPES: &[&str] = &[
    "youtube",
    "youtube.force-ssl",
    "youtube.readonly",
    "youtubepartner",
];
const UPLOAD_SCOPES: &[&str] = &[
    "youtube",
    "youtube.force-ssl",
    "youtube.upload",
    "youtubepartner",
];

/// `snippet.categoryId` values assignable in the US region.
const CATEGORY_IDS: &[&str] = &[
    "1", "2", "10", "15", "17", "19", "20", "22", "23", "24", "25", "26", "27", "28", "29",
];

const VIDEO_PARTS: &[&str] = &[
    "contentDetails",
    "fileDetails",
    "id",
    "liveStreamingDetails",
    "localizations",
    "player",
    "processingDetails",
    "recordingDetails",
    "snippet",
    "statistics",
    "status",
    "suggestions",
    "topicDetails",
];

// ----- the platform's own state -----

#[derive(Default)]
struct YoutubeState {
    /// (client id, channel id) pairs that consented once: later consents get no refresh token
    /// unless the app asks again with `prompt=consent`.
    consents: HashSet<(String, String)>,
    sessions: HashMap<String, UploadSession>,
    videos: HashMap<String, Video>,
}

/// The test settings of YouTube (`/_sim/youtube/settings`).
pub(crate) const SETTINGS: &[Setting] = &[
    Setting {
        name: "processingPolls",
        meaning: "status reads a new video answers processing before it is processed",
        kind: SettingKind::Count { min: 0, max: 1000 },
        default: |s| json!(s.youtube_processing_polls),
    },
    Setting {
        name: "consentScreenTesting",
        meaning: "1: the Google project's OAuth consent screen is in Testing, so refresh tokens die 7 days after the consent",
        kind: SettingKind::Count { min: 0, max: 1 },
        default: |_| json!(0),
    },
    Setting {
        name: "interruptUploads",
        meaning: "upload chunks of 512 KiB or more still to be cut short with a 503",
        kind: SettingKind::Count { min: 0, max: 1000 },
        default: |_| json!(0),
    },
];

struct UploadSession {
    client_id: String,
    channel_id: String,
    channel_title: String,
    part: String,
    /// The metadata as sent, normalized: `snippet` and `status`.
    resource: Value,
    total: u64,
    content_type: String,
    received: u64,
    hasher: Sha256,
    head: Vec<u8>,
    created_at: DateTime<Utc>,
    /// A queued `duplicate` fault: processing will reject the video as a duplicate.
    duplicate: bool,
    /// Set once the last byte arrived.
    video: Option<Value>,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Outcome {
    Processing,
    Processed,
    Duplicate,
    Failed,
}

struct Video {
    client_id: String,
    channel_id: String,
    /// When the last byte arrived: the video's place in the channel's uploads playlist.
    uploaded_at: DateTime<Utc>,
    /// The metadata as sent (`snippet`, `status`), whatever parts the session asked for.
    metadata: Value,
    resource: Value,
    polls_left: u32,
    outcome: Outcome,
    /// Taken by the status read that settles the outcome, so two reads never record twice.
    settling: bool,
    forced_duplicate: bool,
    valid_file: bool,
    media: Value,
    thumbnail: Option<Value>,
}

fn state<R>(sim: &Simulator, f: impl FnOnce(&mut YoutubeState) -> R) -> R {
    sim.with_platform_state(PLATFORM, f)
}

pub(crate) fn handle(sim: &Simulator, request: &Request, base: &str, path: &[&str]) -> Response {
    match (request.method.as_str(), path) {
        ("GET", ["o", "oauth2", "v2", "auth"]) => authorize_page(sim, request, base),
        ("POST", ["o", "oauth2", "v2", "auth"]) => authorize_decision(sim, request, base),
        ("POST", ["token"]) => token::endpoint(sim, request, &TOKEN_RULES),
        ("POST", ["revoke"]) => revoke(sim, request),
        (_, ["o", "oauth2", "v2", "auth"] | ["token"] | ["revoke"]) => google_error(
            405,
            "global",
            "httpMethodNotAllowed",
            "Method Not Allowed",
            None,
        ),
        (_, ["youtube", "v3", ..] | ["upload", "youtube", "v3", ..]) => {
            api_call(sim, request, base, path)
        }
        _ => not_found(),
    }
}

// ----- authorization pages -----

struct AuthorizeParams {
    client_name: String,
    client_id: String,
    redirect_uri: String,
    state: String,
    /// Short names (`youtube.upload`, `openid`).
    scopes: Vec<String>,
    access_type: String,
    prompt: String,
    pkce: Option<(String, String)>,
}

impl AuthorizeParams {
    fn full_scopes(&self) -> Vec<String> {
        self.scopes.iter().map(|s| full_scope(s)).collect()
    }
}

fn full_scope(short: &str) -> String {
    if matches!(short, "openid" | "email" | "profile") {
        short.to_string()
    } else {
        format!("{AUTH}{short}")
    }
}

fn short_scope(scope: &str) -> &str {
    scope.strip_prefix(AUTH).unwrap_or(scope)
}

/// Checks an authorization request the way Google does: problems with the client, the
/// redirect URI or the request itself get Google's error page (never a redirect to an
/// unverified URI); only the user's own refusal goes back to the app.
fn check_authorize(
    sim: &Simulator,
    params: &[(String, String)],
) -> Result<AuthorizeParams, Response> {
    let get = |name: &str| {
        form_value(params, name)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let client_id = get("client_id");
    if client_id.is_empty() {
        return Err(error_page(
            "invalid_request",
            "Missing required parameter: client_id",
        ));
    }
    let Some(client) = sim.client(PLATFORM, &client_id) else {
        return Err(error_page(
            "invalid_client",
            "The OAuth client was not found.",
        ));
    };
    let redirect_uri = form_value(params, "redirect_uri")
        .unwrap_or_default()
        .to_string();
    if redirect_uri.is_empty() {
        return Err(error_page(
            "invalid_request",
            "Missing required parameter: redirect_uri",
        ));
    }
    if !client.redirect_uris.contains(&redirect_uri) {
        return Err(error_page(
            "redirect_uri_mismatch",
            &format!(
                "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy. If you're the app developer, register the redirect URI in the Google Cloud Console. Request details: redirect_uri={redirect_uri}"
            ),
        ));
    }
    match get("response_type").as_str() {
        "code" => {}
        "" => {
            return Err(error_page(
                "invalid_request",
                "Required parameter is missing: response_type",
            ));
        }
        other => {
            return Err(error_page(
                "unsupported_response_type",
                &format!("Invalid response_type: {other}"),
            ));
        }
    }
    let mut scopes: Vec<String> = Vec::new();
    let mut invalid: Vec<String> = Vec::new();
    for scope in get("scope").split(' ').filter(|s| !s.is_empty()) {
        let short = short_scope(scope);
        if !SCOPES.iter().any(|(known, _)| *known == short)
            || (scope == short && !matches!(short, "openid" | "email" | "profile"))
        {
            invalid.push(scope.to_string());
        } else if !scopes.iter().any(|s| s == short) {
            scopes.push(short.to_string());
        }
    }
    if !invalid.is_empty() {
        return Err(error_page(
            "invalid_scope",
            &format!(
                "Some requested scopes were invalid. {{invalid=[{}]}}",
                invalid.join(", ")
            ),
        ));
    }
    if scopes.is_empty() {
        return Err(error_page(
            "invalid_request",
            "Missing required parameter: scope",
        ));
    }
    let access_type = match get("access_type").as_str() {
        "" | "online" => "online".to_string(),
        "offline" => "offline".to_string(),
        other => {
            return Err(error_page(
                "invalid_request",
                &format!("Invalid access_type: {other}"),
            ));
        }
    };
    let prompt = get("prompt");
    let prompts: Vec<&str> = prompt.split(' ').filter(|p| !p.is_empty()).collect();
    if prompts
        .iter()
        .any(|p| !matches!(*p, "none" | "consent" | "select_account"))
        || (prompts.contains(&"none") && prompts.len() > 1)
    {
        return Err(error_page(
            "invalid_request",
            &format!("Invalid prompt: {prompt}"),
        ));
    }
    let challenge = get("code_challenge");
    let pkce = if challenge.is_empty() {
        None
    } else {
        let method = match get("code_challenge_method").as_str() {
            "" | "plain" => "plain",
            "S256" => "S256",
            other => {
                return Err(error_page(
                    "invalid_request",
                    &format!("Invalid code_challenge_method: {other}"),
                ));
            }
        };
        if !(43..=128).contains(&challenge.len()) {
            return Err(error_page(
                "invalid_request",
                "Invalid code_challenge: it must be 43 to 128 characters long.",
            ));
        }
        Some((challenge, method.to_string()))
    };
    Ok(AuthorizeParams {
        client_name: client.name,
        client_id,
        redirect_uri,
        state: form_value(params, "state").unwrap_or_default().to_string(),
        scopes,
        access_type,
        prompt,
        pkce,
    })
}

fn authorize_page(sim: &Simulator, request: &Request, base: &str) -> Response {
    let params = match check_authorize(sim, &request.query) {
        Ok(params) => params,
        Err(response) => return response,
    };
    // Nobody is signed in to the simulator, so a silent sign-in always needs interaction.
    if params.prompt.split(' ').any(|p| p == "none") {
        return back_to_app(&params, &[("error", "interaction_required")]);
    }
    consent(&params, base, DEFAULT_MEMBER_NAME, None)
}

fn back_to_app(params: &AuthorizeParams, pairs: &[(&str, &str)]) -> Response {
    let mut pairs = pairs.to_vec();
    if !params.state.is_empty() {
        pairs.push(("state", params.state.as_str()));
    }
    Response::redirect(&redirect_with(&params.redirect_uri, &pairs))
}

fn authorize_decision(sim: &Simulator, request: &Request, base: &str) -> Response {
    let form = request.form();
    let params = match check_authorize(sim, &form) {
        Ok(params) => params,
        Err(response) => return response,
    };
    match form_value(&form, "decision") {
        Some("allow") => {
            let member_name = form_value(&form, "member_name").unwrap_or_default().trim();
            if member_name.is_empty() || member_name.chars().count() > 100 {
                return consent(
                    &params,
                    base,
                    member_name,
                    Some("Enter the name of the channel to sign in as (at most 100 characters)."),
                );
            }
            let channel_id = channel_id(sim, member_name);
            // Google sends a refresh token for offline access on the first consent of a
            // channel to an app, and again only when the app asks with `prompt=consent`.
            let forced = params.prompt.split(' ').any(|p| p == "consent");
            let first = state(sim, |st| {
                st.consents
                    .insert((params.client_id.clone(), channel_id.clone()))
            });
            let code = sim.issue_code(AuthCode {
                platform: PLATFORM,
                client_id: params.client_id.clone(),
                redirect_uri: params.redirect_uri.clone(),
                scopes: params.full_scopes(),
                member_name: member_name.to_string(),
                expires_at: sim.now() + sim.settings().code_ttl,
                used: false,
                pkce: params.pkce.clone(),
                offline: params.access_type == "offline" && (first || forced),
            });
            let granted = params.full_scopes().join(" ");
            back_to_app(&params, &[("code", &code), ("scope", &granted)])
        }
        Some("deny") => back_to_app(&params, &[("error", "access_denied")]),
        _ => error_page(
            "invalid_request",
            "The consent form was sent without a decision; choose Allow or Deny.",
        ),
    }
}

/// `UC` and 22 characters, stable per member name, like real channel ids.
fn channel_id(sim: &Simulator, member_name: &str) -> String {
    format!("UC{}", sim.member_id(PLATFORM, member_name, 22))
}

const STYLE: &str = "body{margin:0;background:#f0f4f9;font-family:'Google Sans',Roboto,Arial,sans-serif;color:#1f1f1f}\
main{max-width:460px;margin:48px auto;background:#fff;border-radius:28px;padding:36px}\
.logo{font-size:22px;font-weight:500}.logo b:nth-child(1){color:#4285f4}.logo b:nth-child(2){color:#ea4335}.logo b:nth-child(3){color:#fbbc05}.logo b:nth-child(4){color:#4285f4}.logo b:nth-child(5){color:#34a853}.logo b:nth-child(6){color:#ea4335}\
h1{font-size:28px;font-weight:400;margin:16px 0}p{line-height:1.5}ul{padding-left:20px}li{margin:8px 0}\
label{display:block;font-size:14px;font-weight:500;margin:16px 0 4px}\
input[type=text]{width:100%;box-sizing:border-box;padding:12px;border:1px solid #747775;border-radius:4px;font-size:16px}\
.actions{display:flex;gap:8px;justify-content:flex-end;margin-top:24px}\
button{border-radius:20px;padding:10px 24px;font-size:14px;font-weight:500;cursor:pointer}\
.allow{background:#0b57d0;color:#fff;border:none}.deny{background:#fff;color:#0b57d0;border:1px solid #747775}\
.error{color:#b3261e;font-weight:500}.small{font-size:12px;color:#444746}";

const LOOK: Look = Look {
    title_suffix: " - Google Accounts (sandbox)",
    style: STYLE,
    header: "",
    main_start: "<div class=\"logo\"><b>G</b><b>o</b><b>o</b><b>g</b><b>l</b><b>e</b></div>",
};

const CONSENT_WORDS: ConsentWords = ConsentWords {
    title: "Sign in - {app}",
    heading: "{app} wants access to your Google Account",
    intro: Some("This will allow {app} to:"),
    member_label: "Signed in as (channel name)",
    member_max_chars: 100,
    member_autocomplete: true,
    member_field_boxed: false,
    notes: &[
        "This is the YouTube simulator: any name signs in as its own channel, and the same name is the same channel.",
        "You can see and remove access for {app} at any time in your Google Account.",
    ],
    scope_names_shown: false,
};

/// Google's consent page; the form carries the whole request, PKCE challenge included.
fn consent(
    params: &AuthorizeParams,
    base: &str,
    member_name: &str,
    error: Option<&str>,
) -> Response {
    let (challenge, method) = params
        .pkce
        .as_ref()
        .map(|(c, m)| (c.as_str(), m.as_str()))
        .unwrap_or_default();
    consent_page(&ConsentPage {
        look: &LOOK,
        words: &CONSENT_WORDS,
        client_name: &params.client_name,
        action: format!("{base}/o/oauth2/v2/auth"),
        hidden: &[
            ("response_type", "code"),
            ("client_id", &params.client_id),
            ("redirect_uri", &params.redirect_uri),
            ("state", &params.state),
            ("scope", &params.full_scopes().join(" ")),
            ("access_type", &params.access_type),
            ("prompt", &params.prompt),
            ("code_challenge", challenge),
            ("code_challenge_method", method),
        ],
        scopes: &params.scopes,
        known_scopes: SCOPES,
        intro: None,
        after_member_field: String::new(),
        member_name,
        error,
    })
}

/// Google's "Access blocked" page; an unknown client is a 401, everything else a 400.
fn error_page(error: &str, detail: &str) -> Response {
    let status = if error == "invalid_client" { 401 } else { 400 };
    consent::error_page(
        &LOOK,
        status,
        "Error",
        "Access blocked: authorization error",
        &format!("Error {status}: {error}"),
        Some(detail),
    )
}

// ----- token endpoints -----

/// developers.google.com/identity/protocols/oauth2#expiration: "A Google Cloud Platform project
/// with an OAuth consent screen configured for an external user type and a publishing status
/// of 'Testing' is issued a refresh token expiring in 7 days" (unless it asks only for name,
/// email and profile, which a YouTube client never does). Google's answer to a dead refresh
/// token is `invalid_grant`, "Token has been expired or revoked.".
fn testing_refresh_tokens_expire(sim: &Simulator, request: &Request) -> Result<(), Response> {
    if sim.count_setting(PLATFORM, "consentScreenTesting") == 0 {
        return Ok(());
    }
    let form = request.form();
    if form_value(&form, "grant_type") != Some("refresh_token") {
        return Ok(());
    }
    let issued_at = form_value(&form, "refresh_token")
        .and_then(|token| sim.verify_token(token))
        .map(|claims| claims.iat);
    match issued_at {
        Some(iat) if sim.now().timestamp() - iat >= TESTING_REFRESH_TOKEN_SECS => Err(oauth_error(
            400,
            "invalid_grant",
            "Token has been expired or revoked.",
        )),
        _ => Ok(()),
    }
}

/// Seven days, the life of a refresh token of a project whose consent screen is in Testing.
const TESTING_REFRESH_TOKEN_SECS: i64 = 7 * 86_400;

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
        &format!("Missing required parameter: {name}"),
    )
}

/// Google's token endpoint: the client secret in the form (`client_secret_post`), PKCE when
/// the authorization asked for it, a refresh token for offline access (see the consent), kept
/// as it is on each refresh and not sent again.
const TOKEN_RULES: TokenRules = TokenRules {
    platform: PLATFORM,
    precheck: Some(testing_refresh_tokens_expire),
    params: token::form_params,
    client_auth: ClientAuth::Params,
    required_first: &[],
    grant_before_client: false,
    default_grant: None,
    code_params: &[filled("code"), filled("redirect_uri")],
    refresh_params: &[filled("refresh_token")],
    code_suffix: None,
    code_reuse_revokes: false,
    access: Access {
        kind: "access",
        lifetime: |sim| sim.settings().youtube_access_token_ttl,
        subject: channel_id,
    },
    refresh: Refresh::Issued {
        when: |_, code| code.offline,
        lifetime: |_| Duration::days(REFRESH_TOKEN_DAYS),
        refreshed_lifetime: None,
        on_refresh: OnRefresh::Kept,
    },
    access_prefix: "",
    refresh_prefix: "",
    extra_grants: &[],
    refuse: refuse_token,
    answer: token_answer,
};

fn refuse_token(_sim: &Simulator, refusal: &Refusal<'_>) -> Response {
    match refusal {
        Refusal::Missing(name) => missing(name),
        Refusal::Client(client) if !client.id_sent => oauth_error(
            400,
            "invalid_request",
            "Could not determine client ID from request.",
        ),
        Refusal::Client(client) if !client.known => {
            oauth_error(401, "invalid_client", "The OAuth client was not found.")
        }
        Refusal::Client(_) | Refusal::ClientIdMismatch => {
            oauth_error(401, "invalid_client", "Unauthorized")
        }
        Refusal::UnsupportedGrant(other) => oauth_error(
            400,
            "unsupported_grant_type",
            &format!("Invalid grant_type: {other}"),
        ),
        Refusal::Code { facts, .. }
            if facts.unknown || facts.other_platform || facts.other_client || facts.expired =>
        {
            oauth_error(400, "invalid_grant", "Bad Request")
        }
        Refusal::Code { facts, .. } if facts.other_redirect_uri => {
            oauth_error(400, "redirect_uri_mismatch", "Bad Request")
        }
        Refusal::Code { facts, .. } if facts.verifier_missing => {
            oauth_error(400, "invalid_grant", "Missing code verifier.")
        }
        Refusal::Code { .. } => oauth_error(400, "invalid_grant", "Invalid code verifier."),
        Refusal::RefreshToken => {
            oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        }
    }
}

/// Google rounds `expires_in` down (3599 for an hour); a refresh answer has no refresh token.
fn token_answer(_sim: &Simulator, issued: &Issued) -> Response {
    let access = &issued.access;
    let mut body = json!({
        "access_token": issued.access_token,
        "expires_in": access.exp - access.iat - 1,
        "scope": access.scp.join(" "),
        "token_type": "Bearer",
    });
    if let Some((token, _)) = &issued.refresh {
        body["refresh_token"] = json!(token);
    }
    Response::json(200, &body).with_header("Cache-Control", "no-store")
}

/// `POST /revoke` (developers.google.com/identity/protocols/oauth2/web-server, "Revoking a
/// token"): an access token or a refresh token; revoking either ends the consent, the refresh
/// token with it. An access token past its hour is no longer one Google knows: `/revoke`
/// answers 400 `invalid_token` and the consent (and its refresh token) stays.
fn revoke(sim: &Simulator, request: &Request) -> Response {
    let form = request.form();
    let token = form_value(&form, "token")
        .or_else(|| request.query_param("token"))
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return oauth_error(400, "invalid_request", "Missing required parameter: token");
    };
    match sim
        .verify_token(token)
        .filter(|c| c.plat == PLATFORM.key() && !sim.is_revoked(&c.grant))
        .filter(|c| c.typ != "access" || sim.now().timestamp() < c.exp)
    {
        Some(claims) => {
            sim.revoke_grant(&claims.grant);
            Response::json(200, &json!({}))
        }
        None => oauth_error(400, "invalid_token", "Token expired or revoked"),
    }
}

// ----- the API -----

fn status_name(code: u16) -> &'static str {
    match code {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        405 => "METHOD_NOT_ALLOWED",
        413 => "OUT_OF_RANGE",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

/// Google's error envelope: `{"error":{"code","message","errors":[{"message","domain","reason"}],"status"}}`.
fn google_error(
    code: u16,
    domain: &str,
    reason: &str,
    message: &str,
    location: Option<(&str, &str)>,
) -> Response {
    let mut item = json!({"message": message, "domain": domain, "reason": reason});
    if let Some((location, kind)) = location {
        item["location"] = json!(location);
        item["locationType"] = json!(kind);
    }
    Response::json(
        code,
        &json!({"error": {
            "code": code,
            "message": message,
            "errors": [item],
            "status": status_name(code),
        }}),
    )
}

fn bad_request(domain: &str, reason: &str, message: &str) -> Response {
    google_error(400, domain, reason, message, None)
}

fn required_parameter(name: &str) -> Response {
    google_error(
        400,
        "global",
        "required",
        &format!("Required parameter: {name}"),
        Some((name, "parameter")),
    )
}

fn not_found() -> Response {
    google_error(404, "global", "notFound", "Not Found", None)
}

fn invalid_credentials() -> Response {
    google_error(
        401,
        "global",
        "authError",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        Some(("Authorization", "header")),
    )
}

fn fault_response(
    sim: &Simulator,
    request: &Request,
    fault: &Fault,
    upload: bool,
) -> Option<Response> {
    Some(match fault.kind {
        FaultKind::ServerError { status } => {
            let (reason, message) = match status {
                503 => ("backendError", "The service is currently unavailable."),
                _ => ("backendError", "Internal error encountered."),
            };
            google_error(status, "global", reason, message, None)
        }
        FaultKind::RateLimit { retry_after } => {
            let response = if upload {
                // The classic answer of an exhausted daily quota on videos.insert.
                google_error(
                    403,
                    "youtube.quota",
                    "quotaExceeded",
                    "The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.",
                    None,
                )
            } else {
                google_error(
                    429,
                    "global",
                    "rateLimitExceeded",
                    "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'youtube.googleapis.com'.",
                    None,
                )
            };
            match retry_after {
                Some(secs) => response.with_header("Retry-After", &secs.to_string()),
                None => response,
            }
        }
        // The delay was already served by `begin_api_call`.
        FaultKind::Timeout { .. } => {
            google_error(504, "global", "backendError", "Deadline exceeded.", None)
        }
        // Google does not tell a revoked token from a bad one; the consent really ends, so
        // refreshing fails too, as after a user removes the app's access.
        FaultKind::RevokedToken => {
            if let Some(claims) = request.bearer_token().and_then(|t| sim.verify_token(t)) {
                sim.revoke_grant(&claims.grant);
            }
            invalid_credentials()
        }
        // YouTube refuses duplicates while processing, not at the call: the upload goes on.
        FaultKind::Duplicate => return None,
    })
}

fn api_call(sim: &Simulator, request: &Request, base: &str, path: &[&str]) -> Response {
    let method = request.method.as_str();
    let upload_init = method == "POST" && path == ["upload", "youtube", "v3", "videos"];
    let mut duplicate = false;
    if let Some(fault) = sim.begin_api_call(PLATFORM, request) {
        match fault_response(sim, request, &fault, upload_init) {
            Some(response) => return response,
            None => duplicate = true,
        }
    }
    match (method, path) {
        ("GET", ["youtube", "v3", "channels"]) => channels_list(sim, request),
        ("GET", ["youtube", "v3", "videos"]) => videos_list(sim, request),
        ("POST", ["upload", "youtube", "v3", "videos"]) => {
            start_upload(sim, request, base, duplicate)
        }
        ("PUT", ["upload", "youtube", "v3", "videos"]) => upload_bytes(sim, request),
        ("POST", ["upload", "youtube", "v3", "thumbnails", "set"]) => set_thumbnail(sim, request),
        ("GET", ["youtube", "v3", "playlistItems"]) => uploads::playlist_items(sim, request),
        ("DELETE", ["youtube", "v3", "videos"]) => uploads::delete_video(sim, request),
        (
            _,
            ["youtube", "v3", "channels" | "videos" | "playlistItems"]
            | ["upload", "youtube", "v3", ..],
        ) => google_error(
            405,
            "global",
            "httpMethodNotAllowed",
            "Method Not Allowed",
            None,
        ),
        _ => not_found(),
    }
}

/// The channel behind the bearer token, when it carries one of `scopes`.
fn authenticate(
    sim: &Simulator,
    request: &Request,
    scopes: &[&str],
) -> Result<TokenClaims, Response> {
    let Some(token) = request.bearer_token() else {
        return Err(google_error(
            401,
            "global",
            "required",
            "Login Required.",
            Some(("Authorization", "header")),
        ));
    };
    let claims = sim
        .verify_token(token)
        .filter(|c| c.typ == "access" && c.plat == PLATFORM.key())
        .filter(|c| sim.now().timestamp() < c.exp && !sim.is_revoked(&c.grant))
        .ok_or_else(invalid_credentials)?;
    if !claims.scp.iter().any(|s| scopes.contains(&short_scope(s))) {
        return Err(google_error(
            403,
            "global",
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
            None,
        ));
    }
    Ok(claims)
}

/// The `part` parameter: present, and every name one of `known`.
fn parts(request: &Request, known: &[&str]) -> Result<Vec<String>, Response> {
    let part = request
        .query_param("part")
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| required_parameter("part"))?;
    let parts: Vec<String> = part.split(',').map(|p| p.trim().to_string()).collect();
    if let Some(unknown) = parts.iter().find(|p| !known.contains(&p.as_str())) {
        return Err(google_error(
            400,
            "youtube.part",
            "unknownPart",
            &format!("'{unknown}'"),
            Some(("part", "parameter")),
        ));
    }
    Ok(parts)
}

fn channels_list(sim: &Simulator, request: &Request) -> Response {
    let claims = match authenticate(sim, request, READ_SCOPES) {
        Ok(claims) => claims,
        Err(response) => return response,
    };
    let parts = match parts(
        request,
        &[
            "auditDetails",
            "brandingSettings",
            "contentDetails",
            "contentOwnerDetails",
            "id",
            "localizations",
            "snippet",
            "statistics",
            "status",
            "topicDetails",
        ],
    ) {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let mine = request.query_param("mine") == Some("true");
    let by_id = request.query_param("id");
    if !mine && by_id.is_none() && request.query_param("forHandle").is_none() {
        return bad_request(
            "youtube.parameter",
            "missingRequiredParameter",
            "No filter selected. Expected one of: forUsername, managedByMe, categoryId, mine, mySubscribers, id, idParam, forHandle",
        );
    }
    let own = mine || by_id.is_some_and(|ids| ids.split(',').any(|id| id == claims.sub));
    let mut items = Vec::new();
    if own {
        let mut item =
            json!({"kind": "youtube#channel", "etag": etag(&claims.sub), "id": claims.sub});
        if parts.iter().any(|p| p == "snippet") {
            item["snippet"] = channel_snippet(&claims);
        }
        if parts.iter().any(|p| p == "contentDetails") {
            item["contentDetails"] = json!({"relatedPlaylists": {"likes": "LL", "uploads": uploads::playlist_of(&claims.sub)}});
        }
        items.push(item);
    }
    Response::json(
        200,
        &json!({
            "kind": "youtube#channelListResponse",
            "etag": etag(&format!("channels {}", claims.sub)),
            "pageInfo": {"totalResults": items.len(), "resultsPerPage": 5},
            "items": items,
        }),
    )
}

fn channel_snippet(claims: &TokenClaims) -> Value {
    let handle: String = claims
        .name
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    let picture = format!("https://yt3.ggpht.com/sandbox/{}", claims.sub);
    json!({
        "title": claims.name,
        "description": "",
        "customUrl": format!("@{handle}"),
        "publishedAt": "2020-01-01T00:00:00Z",
        "thumbnails": {
            "default": {"url": format!("{picture}=s88"), "width": 88, "height": 88},
            "medium": {"url": format!("{picture}=s240"), "width": 240, "height": 240},
            "high": {"url": format!("{picture}=s800"), "width": 800, "height": 800},
        },
        "localized": {"title": claims.name, "description": ""},
        "country": "US",
    })
}

fn etag(seed: &str) -> String {
    base64url(&Sha256::digest(seed.as_bytes())[..20])
}

/// 11 characters of the base64url alphabet, like real video ids.
fn new_video_id() -> String {
    base64url(&random_bytes::<9>())[..11].to_string()
}

// ----- videos.insert, resumable -----

/// Checks the video resource of a session start; the normalized `snippet` and `status`.
fn check_metadata(body: &Value) -> Result<Value, Response> {
    let Value::Object(resource) = body else {
        return Err(bad_request("global", "parseError", "Parse Error"));
    };
    let empty = Map::new();
    let snippet = resource
        .get("snippet")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let status = resource
        .get("status")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let title = snippet
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if title.trim().is_empty() || title.chars().count() > TITLE_LIMIT || title.contains(['<', '>'])
    {
        return Err(bad_request(
            "youtube.video",
            "invalidTitle",
            "The request metadata specifies an invalid or empty video title.",
        ));
    }
    let description = match snippet.get("description") {
        None | Some(Value::Null) => "",
        Some(Value::String(d)) => d.as_str(),
        Some(_) => return Err(bad_request("global", "parseError", "Parse Error")),
    };
    if description.len() > DESCRIPTION_LIMIT_BYTES || description.contains(['<', '>']) {
        return Err(bad_request(
            "youtube.video",
            "invalidDescription",
            "The request metadata specifies an invalid video description.",
        ));
    }
    let tags: Vec<String> = match snippet.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(tags)) if tags.iter().all(Value::is_string) => tags
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(_) => return Err(bad_request("global", "parseError", "Parse Error")),
    };
    if tags_length(&tags) > TAGS_LIMIT || tags.iter().any(|t| t.contains(['<', '>'])) {
        return Err(bad_request(
            "youtube.video",
            "invalidTags",
            "The request metadata specifies invalid video keywords.",
        ));
    }
    let category = snippet
        .get("categoryId")
        .and_then(Value::as_str)
        .unwrap_or("22");
    if !CATEGORY_IDS.contains(&category) {
        return Err(bad_request(
            "youtube.video",
            "invalidCategoryId",
            "The <code>snippet.categoryId</code> property specifies an invalid category ID. Use the <code>videoCategories.list</code> method to retrieve supported categories.",
        ));
    }
    let privacy = status
        .get("privacyStatus")
        .and_then(Value::as_str)
        .unwrap_or("public");
    if !matches!(privacy, "public" | "private" | "unlisted") {
        return Err(bad_request(
            "youtube.video",
            "invalidVideoMetadata",
            &format!("Invalid value for status.privacyStatus: {privacy}"),
        ));
    }
    if status.get("publishAt").is_some_and(|v| !v.is_null()) && privacy != "private" {
        return Err(bad_request(
            "youtube.video",
            "invalidPublishAt",
            "The request metadata specifies an invalid scheduled publishing time.",
        ));
    }
    let made_for_kids = match status.get("selfDeclaredMadeForKids") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(bad_request("global", "parseError", "Parse Error")),
    };
    Ok(json!({
        "snippet": {
            "title": title,
            "description": description,
            "tags": tags,
            "categoryId": category,
        },
        "status": {
            "privacyStatus": privacy,
            "selfDeclaredMadeForKids": made_for_kids,
        },
    }))
}

fn start_upload(sim: &Simulator, request: &Request, base: &str, duplicate: bool) -> Response {
    let claims = match authenticate(sim, request, UPLOAD_SCOPES) {
        Ok(claims) => claims,
        Err(response) => return response,
    };
    match request.query_param("uploadType") {
        Some("resumable") => {}
        None => return required_parameter("uploadType"),
        Some(other) => {
            return bad_request(
                "global",
                "invalidParameter",
                &format!(
                    "uploadType={other} is not simulated; this simulator implements the resumable protocol (uploadType=resumable)."
                ),
            );
        }
    }
    let parts = match parts(request, VIDEO_PARTS) {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let total = match request
        .header("x-upload-content-length")
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        None => {
            return bad_request(
                "global",
                "required",
                "The X-Upload-Content-Length header is required: the size of the video in bytes.",
            );
        }
        Some(v) => match v.parse::<u64>() {
            Ok(n) if n > 0 && n <= MAX_VIDEO_BYTES => n,
            Ok(0) => {
                return bad_request(
                    "youtube.video",
                    "mediaBodyRequired",
                    "The request does not include the video content.",
                );
            }
            _ => {
                return bad_request(
                    "global",
                    "badRequest",
                    &format!("Invalid X-Upload-Content-Length header: {v}"),
                );
            }
        },
    };
    let content_type = request
        .header("x-upload-content-type")
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "application/octet-stream".into());
    if !(content_type.starts_with("video/") || content_type == "application/octet-stream") {
        return bad_request(
            "global",
            "badContent",
            &format!(
                "Media type '{content_type}' is not supported. Valid media types: [video/*, application/octet-stream]"
            ),
        );
    }
    let body: Value = match serde_json::from_slice(&request.body) {
        Ok(body) => body,
        Err(_) if request.body.is_empty() => json!({}),
        Err(_) => return bad_request("global", "parseError", "Parse Error"),
    };
    let resource = match check_metadata(&body) {
        Ok(resource) => resource,
        Err(response) => return response,
    };
    let upload_id = format!("AUp{}", random_token(61));
    let part = parts.join(",");
    let session = UploadSession {
        client_id: claims.cid.clone(),
        channel_id: claims.sub.clone(),
        channel_title: claims.name.clone(),
        part: part.clone(),
        resource,
        total,
        content_type,
        received: 0,
        hasher: Sha256::new(),
        head: Vec::new(),
        created_at: sim.now(),
        duplicate,
        video: None,
    };
    state(sim, |st| st.sessions.insert(upload_id.clone(), session));
    let host = request.header("host").unwrap_or("localhost");
    // Behind a TLS-terminating proxy the session URL must keep the public scheme.
    let scheme = match request.header("x-forwarded-proto") {
        Some(proto) if proto.trim().eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    let location = format!(
        "{scheme}://{host}{base}/upload/youtube/v3/videos?uploadType=resumable&part={}&upload_id={upload_id}",
        percent_encode(&part)
    );
    Response::new(200)
        .with_header("Location", &location)
        .with_header("X-GUploader-UploadID", &upload_id)
}

enum Range {
    /// `bytes */TOTAL`: where does the upload stand?
    Status { total: Option<u64> },
    Chunk {
        start: u64,
        end: u64,
        total: Option<u64>,
    },
}

fn parse_content_range(value: &str) -> Option<Range> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse::<u64>().ok()?),
    };
    if range.trim() == "*" {
        return Some(Range::Status { total });
    }
    let (start, end) = range.trim().split_once('-')?;
    let (start, end) = (start.parse::<u64>().ok()?, end.parse::<u64>().ok()?);
    (start <= end).then_some(Range::Chunk { start, end, total })
}

fn incomplete(received: u64) -> Response {
    let response = Response::new(308).with_header("X-GUploader-UploadID", "sandbox");
    if received == 0 {
        response
    } else {
        response.with_header("Range", &format!("bytes=0-{}", received - 1))
    }
}

fn upload_bytes(sim: &Simulator, request: &Request) -> Response {
    let Some(upload_id) = request.query_param("upload_id").filter(|v| !v.is_empty()) else {
        return required_parameter("upload_id");
    };
    let range = match request.header("content-range") {
        None => None,
        Some(value) => match parse_content_range(value) {
            Some(range) => Some(range),
            None => {
                return bad_request(
                    "global",
                    "badRequest",
                    &format!("Failed to parse Content-Range header: {value}"),
                );
            }
        },
    };
    let now = sim.now();
    let polls = sim.count_setting(PLATFORM, "processingPolls");
    let body = &request.body;
    sim.with_platform_state_and_settings(PLATFORM, |st: &mut YoutubeState, settings| {
        let expired = st
            .sessions
            .get(upload_id)
            .is_some_and(|s| now - s.created_at > Duration::days(SESSION_TTL_DAYS));
        if expired {
            st.sessions.remove(upload_id);
        }
        let Some(session) = st.sessions.get_mut(upload_id) else {
            return google_error(
                404,
                "global",
                "notFound",
                "The upload session does not exist or has expired; start a new one.",
                None,
            );
        };
        if let Some(video) = &session.video {
            return Response::json(200, video);
        }
        let (start, end) = match range {
            Some(Range::Status { total }) => {
                if !body.is_empty() || total.is_some_and(|t| t != session.total) {
                    return bad_request(
                        "global",
                        "badRequest",
                        "A status request carries no bytes and the total given at the start (Content-Range: bytes */TOTAL).",
                    );
                }
                return incomplete(session.received);
            }
            Some(Range::Chunk { start, end, total }) => {
                if total.is_some_and(|t| t != session.total) {
                    return bad_request(
                        "global",
                        "badRequest",
                        &format!(
                            "The Content-Range total does not match the X-Upload-Content-Length of the session ({}).",
                            session.total
                        ),
                    );
                }
                (start, end)
            }
            None if body.is_empty() => {
                return bad_request(
                    "youtube.video",
                    "mediaBodyRequired",
                    "The request does not include the video content.",
                );
            }
            None => (0, body.len() as u64 - 1),
        };
        if end - start + 1 != body.len() as u64 || end >= session.total {
            return bad_request(
                "global",
                "badRequest",
                &format!(
                    "The chunk carries {} bytes, which does not match bytes {start}-{end} of {}.",
                    body.len(),
                    session.total
                ),
            );
        }
        if range.is_none() && body.len() as u64 != session.total {
            return bad_request(
                "global",
                "badRequest",
                &format!(
                    "The request carries {} bytes but X-Upload-Content-Length announced {}; send the rest with Content-Range.",
                    body.len(),
                    session.total
                ),
            );
        }
        if start > session.received {
            return bad_request(
                "global",
                "badRequest",
                &format!(
                    "The chunk starts at byte {start}, but the session has {} bytes; ask for its status and resume from there.",
                    session.received
                ),
            );
        }
        let last = end + 1 == session.total;
        if !last && !(body.len() as u64).is_multiple_of(CHUNK_GRANULARITY) {
            return bad_request(
                "global",
                "badRequest",
                "Every chunk but the last must be a multiple of 256 KiB (262144 bytes).",
            );
        }
        // Bytes the session already holds (a chunk sent again) are skipped.
        let mut fresh = &body[(session.received - start) as usize..];
        let interrupted = fresh.len() as u64 >= 2 * CHUNK_GRANULARITY
            && settings.take_one("interruptUploads");
        if interrupted {
            let kept = (fresh.len() as u64 / 2 / CHUNK_GRANULARITY) * CHUNK_GRANULARITY;
            fresh = &fresh[..kept as usize];
        }
        let session = st.sessions.get_mut(upload_id).expect("the session exists");
        if session.head.len() < 16 {
            let want = (16 - session.head.len()).min(fresh.len());
            session.head.extend_from_slice(&fresh[..want]);
        }
        session.hasher.update(fresh);
        session.received += fresh.len() as u64;
        if interrupted {
            return google_error(
                503,
                "global",
                "backendError",
                "The service is currently unavailable.",
                None,
            );
        }
        if session.received < session.total {
            return incomplete(session.received);
        }
        let video_id = new_video_id();
        let resource = video_resource(session, &video_id, now);
        session.video = Some(resource.clone());
        let video = Video {
            client_id: session.client_id.clone(),
            channel_id: session.channel_id.clone(),
            uploaded_at: now,
            metadata: session.resource.clone(),
            resource: resource.clone(),
            polls_left: polls,
            outcome: Outcome::Processing,
            settling: false,
            forced_duplicate: session.duplicate,
            valid_file: looks_like_video(&session.head),
            media: json!({
                "contentType": session.content_type,
                "bytes": session.total,
                "sha256": hex(&session.hasher.clone().finalize()),
            }),
            thumbnail: None,
        };
        st.videos.insert(video_id, video);
        Response::json(201, &resource)
    })
}

/// MP4/MOV (`ftyp`), WebM/Matroska (EBML) or AVI (`RIFF....AVI `): what processing accepts.
fn looks_like_video(head: &[u8]) -> bool {
    (head.len() >= 8 && &head[4..8] == b"ftyp")
        || head.starts_with(&[0x1a, 0x45, 0xdf, 0xa3])
        || (head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"AVI ")
}

/// The video resource as videos.insert returns it, with the parts the session asked for.
fn video_resource(session: &UploadSession, id: &str, now: DateTime<Utc>) -> Value {
    let snippet = &session.resource["snippet"];
    let status = &session.resource["status"];
    let thumbs = format!("https://i.ytimg.com/vi/{id}");
    let mut video = json!({"kind": "youtube#video", "etag": etag(id), "id": id});
    let wants = |p: &str| session.part.split(',').any(|x| x == p);
    if wants("snippet") {
        let mut s = json!({
            "publishedAt": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "channelId": session.channel_id,
            "title": snippet["title"],
            "description": snippet["description"],
            "thumbnails": {
                "default": {"url": format!("{thumbs}/default.jpg"), "width": 120, "height": 90},
                "medium": {"url": format!("{thumbs}/mqdefault.jpg"), "width": 320, "height": 180},
                "high": {"url": format!("{thumbs}/hqdefault.jpg"), "width": 480, "height": 360},
            },
            "channelTitle": session.channel_title,
            "categoryId": snippet["categoryId"],
            "liveBroadcastContent": "none",
            "localized": {"title": snippet["title"], "description": snippet["description"]},
        });
        if snippet["tags"].as_array().is_some_and(|t| !t.is_empty()) {
            s["tags"] = snippet["tags"].clone();
        }
        video["snippet"] = s;
    }
    if wants("status") {
        let mut s = json!({
            "uploadStatus": "uploaded",
            "privacyStatus": status["privacyStatus"],
            "license": "youtube",
            "embeddable": true,
            "publicStatsViewable": true,
        });
        if let Some(kids) = status["selfDeclaredMadeForKids"].as_bool() {
            s["selfDeclaredMadeForKids"] = json!(kids);
            s["madeForKids"] = json!(kids);
        }
        video["status"] = s;
    }
    video
}

// ----- videos.list: processing -----

fn videos_list(sim: &Simulator, request: &Request) -> Response {
    let claims = match authenticate(sim, request, READ_SCOPES) {
        Ok(claims) => claims,
        Err(response) => return response,
    };
    let parts = match parts(request, VIDEO_PARTS) {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let Some(ids) = request.query_param("id").filter(|v| !v.is_empty()) else {
        return bad_request(
            "youtube.parameter",
            "missingRequiredParameter",
            "No filter selected. Expected one of: myRating, chart, id, idParam",
        );
    };
    let mut items = Vec::new();
    for id in ids.split(',').map(str::trim) {
        if let Some(item) = read_video(sim, id, &claims.sub, &parts) {
            items.push(item);
        }
    }
    Response::json(
        200,
        &json!({
            "kind": "youtube#videoListResponse",
            "etag": etag(&format!("videos {ids}")),
            "items": items,
            "pageInfo": {"totalResults": items.len(), "resultsPerPage": items.len()},
        }),
    )
}

/// One status read of a video: processing advances by one read; when it finishes, an
/// accepted video is recorded (the duplicate check runs then, as YouTube's does).
fn read_video(sim: &Simulator, id: &str, channel_id: &str, parts: &[String]) -> Option<Value> {
    enum Step {
        Ready(Outcome),
        Settle {
            record: Value,
            forced: bool,
            valid: bool,
        },
    }
    let now = sim.now();
    let step = state(sim, |st| {
        let video = st
            .videos
            .get_mut(id)
            .filter(|v| v.channel_id == channel_id)?;
        if video.outcome != Outcome::Processing || video.settling {
            return Some(Step::Ready(video.outcome));
        }
        if video.polls_left > 0 {
            video.polls_left -= 1;
            return Some(Step::Ready(Outcome::Processing));
        }
        video.settling = true;
        Some(Step::Settle {
            record: post_record(id, video, now),
            forced: video.forced_duplicate,
            valid: video.valid_file,
        })
    })?;
    let outcome = match step {
        Step::Ready(outcome) => outcome,
        Step::Settle {
            record,
            forced,
            valid,
        } => {
            let outcome = if !valid {
                Outcome::Failed
            } else if forced {
                Outcome::Duplicate
            } else {
                let sha = record["media"]["sha256"].clone();
                let channel = record["channelId"].clone();
                match sim.record_post_unless_duplicate(
                    PLATFORM,
                    now - sim.settings().duplicate_window,
                    |earlier| earlier["channelId"] == channel && earlier["media"]["sha256"] == sha,
                    record,
                ) {
                    Ok(()) => Outcome::Processed,
                    Err(_) => Outcome::Duplicate,
                }
            };
            state(sim, |st| {
                if let Some(video) = st.videos.get_mut(id) {
                    video.outcome = outcome;
                    video.settling = false;
                }
            });
            outcome
        }
    };
    state(sim, |st| {
        st.videos
            .get(id)
            .map(|video| video_with_progress(video, outcome, parts))
    })
}

fn post_record(id: &str, video: &Video, now: DateTime<Utc>) -> Value {
    let snippet = &video.resource["snippet"];
    let status = &video.resource["status"];
    json!({
        "id": id,
        "channelId": video.channel_id,
        "channelTitle": snippet["channelTitle"],
        "clientId": video.client_id,
        "title": snippet["title"],
        "text": snippet["description"],
        "description": snippet["description"],
        "tags": snippet["tags"],
        "categoryId": snippet["categoryId"],
        "privacyStatus": status["privacyStatus"],
        "madeForKids": status["selfDeclaredMadeForKids"],
        "media": video.media,
        "thumbnail": video.thumbnail,
        "url": format!("https://www.youtube.com/watch?v={id}"),
        "createdAt": format_timestamp(now),
    })
}

fn video_with_progress(video: &Video, outcome: Outcome, parts: &[String]) -> Value {
    let wants = |p: &str| parts.iter().any(|x| x == p);
    let mut item = json!({"kind": "youtube#video", "etag": etag(&format!("{outcome:?}")), "id": video.resource["id"]});
    if wants("snippet") {
        item["snippet"] = video.resource["snippet"].clone();
    }
    if wants("status") {
        let mut status = video.resource["status"].clone();
        if !status.is_object() {
            status = json!({});
        }
        let upload_status = match outcome {
            Outcome::Processing => "uploaded",
            Outcome::Processed => "processed",
            Outcome::Duplicate => "rejected",
            Outcome::Failed => "failed",
        };
        status["uploadStatus"] = json!(upload_status);
        match outcome {
            Outcome::Duplicate => status["rejectionReason"] = json!("duplicate"),
            Outcome::Failed => status["failureReason"] = json!("invalidFile"),
            _ => {}
        }
        item["status"] = status;
    }
    if wants("processingDetails") {
        item["processingDetails"] = match outcome {
            Outcome::Processing => json!({
                "processingStatus": "processing",
                "processingProgress": {
                    "partsTotal": video.polls_left + 1,
                    "partsProcessed": 0,
                    "timeLeftMs": (u64::from(video.polls_left) + 1) * 5000,
                },
            }),
            Outcome::Failed => json!({
                "processingStatus": "failed",
                "processingFailureReason": "transcodeFailed",
            }),
            _ => json!({
                "processingStatus": "succeeded",
                "fileDetailsAvailability": "available",
                "thumbnailsAvailability": "available",
            }),
        };
    }
    item
}

// ----- thumbnails.set -----

fn set_thumbnail(sim: &Simulator, request: &Request) -> Response {
    let claims = match authenticate(sim, request, UPLOAD_SCOPES) {
        Ok(claims) => claims,
        Err(response) => return response,
    };
    let Some(video_id) = request.query_param("videoId").filter(|v| !v.is_empty()) else {
        return required_parameter("videoId");
    };
    if request.body.is_empty() {
        return bad_request(
            "youtube.thumbnail",
            "mediaBodyRequired",
            "The request does not include the image content.",
        );
    }
    let content_type = request
        .header("content-type")
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if !matches!(
        content_type.as_str(),
        "image/jpeg" | "image/png" | "application/octet-stream"
    ) {
        return bad_request(
            "global",
            "badContent",
            &format!(
                "Media type '{content_type}' is not supported. Valid media types: [image/jpeg, image/png, application/octet-stream]"
            ),
        );
    }
    if request.body.len() > THUMBNAIL_LIMIT_BYTES {
        return google_error(
            413,
            "global",
            "uploadTooLarge",
            &format!("Media larger than: {THUMBNAIL_LIMIT_BYTES}"),
            None,
        );
    }
    let thumbnail = json!({
        "contentType": content_type,
        "bytes": request.body.len(),
        "sha256": hex(&Sha256::digest(&request.body)),
    });
    let found = state(sim, |st| match st.videos.get_mut(video_id) {
        Some(video) if video.channel_id == claims.sub => {
            video.thumbnail = Some(thumbnail);
            true
        }
        _ => false,
    });
    if !found {
        return google_error(
            404,
            "youtube.thumbnail",
            "videoNotFound",
            "The video that you are trying to update cannot be found.",
            Some(("videoId", "parameter")),
        );
    }
    let base = format!("https://i.ytimg.com/vi/{video_id}");
    Response::json(
        200,
        &json!({
            "kind": "youtube#thumbnailSetResponse",
            "etag": etag(&format!("thumb {video_id}")),
            "items": [{
                "default": {"url": format!("{base}/default.jpg"), "width": 120, "height": 90},
                "medium": {"url": format!("{base}/mqdefault.jpg"), "width": 320, "height": 180},
                "high": {"url": format!("{base}/hqdefault.jpg"), "width": 480, "height": 360},
            }],
        }),
    )
}

/// How YouTube counts the 500 characters of `snippet.tags`: the tags joined with commas, a
/// tag that contains a space counting with the quotes YouTube puts around it.
fn tags_length(tags: &[String]) -> usize {
    let joined_with_commas = tags.len().saturating_sub(1);
    let quoted = |tag: &String| if tag.contains(' ') { 2 } else { 0 };
    tags.iter()
        .map(|tag| tag.chars().count() + quoted(tag))
        .sum::<usize>()
        + joined_with_commas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_parse_as_google_sends_them() {
        assert!(matches!(
            parse_content_range("bytes */1000"),
            Some(Range::Status { total: Some(1000) })
        ));
        assert!(matches!(
            parse_content_range("bytes 0-262143/1000000"),
            Some(Range::Chunk {
                start: 0,
                end: 262_143,
                total: Some(1_000_000)
            })
        ));
        assert!(parse_content_range("bytes 5-4/10").is_none());
        assert!(parse_content_range("items 0-1/2").is_none());
    }

    #[test]
    fn tags_count_commas_and_quotes() {
        assert_eq!(tags_length(&["a".into(), "b c".into()]), 1 + 5 + 1);
        assert_eq!(tags_length(&[]), 0);
    }

    #[test]
    fn video_ids_have_eleven_url_safe_characters() {
        let id = new_video_id();
        assert_eq!(id.len(), 11);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
}
