//! Pinterest as the simulator plays it: the `www.pinterest.com/oauth/` consent page, the API v5
//! token endpoint (HTTP Basic, rotating `pinr_` refresh tokens), `/v5/user_account`,
//! `/v5/boards` with bookmark paging, `/v5/pins` (image URL and uploaded video sources),
//! `/v5/media` registration and status, and a stand-in for the S3 form upload that video
//! bytes go to. Errors use Pinterest's `{"code","message"}` shape.
//! Reference: `../shared/providers/youtube-threads-pinterest-reddit.md`, part 3. Paths here are
//! relative to `{mount}/pinterest`.

use super::authorize::{Authorize, AuthorizeRules, Problem, Rejection, ScopeRule, Step};
use super::consent::{self, ConsentFlow, ConsentWords, Look, authorize_decision, authorize_page};
use super::faults::{Fault, FaultKind};
use super::oauth::{ClientProblem, live_access_token, redirect_with_state};
use super::token::{
    self, Access, ClientAuth, Issued, OnRefresh, Refresh, Refusal, TokenRules, filled,
};
use super::{Setting, SettingKind, Simulator, TokenClaims};
use crate::Platform;
use crate::crypto::{hmac_sha256, random_bytes, random_token};
use base64::Engine as _;
use httpkit::clock::format_timestamp;
use httpkit::{Request, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

const PLATFORM: Platform = Platform::Pinterest;

pub const DEFAULT_MEMBER_NAME: &str = "Sandbox Pinner";
pub const TITLE_LIMIT: usize = 100;
/// The OpenAPI spec's limit of `description`.
pub const DESCRIPTION_LIMIT: usize = 800;
pub const LINK_LIMIT: usize = 2048;
const ACCESS_TOKEN_SECS: i64 = 30 * 86_400;
const REFRESH_TOKEN_SECS: i64 = 60 * 86_400;
const CODE_TTL_MINUTES: i64 = 10;
/// The boards every simulated account has: (name, privacy).
const BOARDS: &[(&str, &str)] = &[
    ("Ideas", "PUBLIC"),
    ("Recipes", "PUBLIC"),
    ("Travel", "PUBLIC"),
    ("Drafts", "SECRET"),
];

const SCOPES: &[(&str, &str)] = &[
    (
        "user_accounts:read",
        "See your public profile and account information",
    ),
    ("boards:read", "See your public boards"),
    ("boards:read_secret", "See your secret boards"),
    (
        "boards:write",
        "Create, update, or delete your public boards",
    ),
    (
        "boards:write_secret",
        "Create, update, or delete your secret boards",
    ),
    ("pins:read", "See your public Pins"),
    ("pins:read_secret", "See your secret Pins"),
    ("pins:write", "Create, update, or delete your public Pins"),
    (
        "pins:write_secret",
        "Create, update, or delete your secret Pins",
    ),
];

/// A registered video upload.
struct Upload {
    owner: String,
    key: String,
    uploaded: bool,
    /// Status reads still answering `processing` after the upload.
    polls_left: u32,
}

#[derive(Default)]
struct PinterestState {
    uploads: HashMap<String, Upload>,
}

/// The test settings of Pinterest (`/_sim/pinterest/settings`).
pub(crate) const SETTINGS: &[Setting] = &[Setting {
    name: "processingPolls",
    meaning: "status reads an uploaded video answers processing before it succeeded",
    kind: SettingKind::Count { min: 0, max: 1000 },
    default: |s| json!(s.pinterest_processing_polls),
}];

pub(crate) fn handle(sim: &Simulator, request: &Request, base: &str, path: &[&str]) -> Response {
    match (request.method.as_str(), path) {
        ("GET", ["oauth"]) => authorize_page::<Consent>(sim, &request.query, base),
        ("POST", ["oauth"]) => authorize_decision::<Consent>(sim, request, base),
        ("POST", ["v5", "oauth", "token"]) => token::endpoint(sim, request, &TOKEN_RULES),
        ("POST", ["media-upload"]) => s3_upload(sim, request),
        (_, ["v5", ..]) => api_call(sim, request, base, &path[1..], Host::Production),
        // api-sandbox.pinterest.com: the same v5 paths (developers.pinterest.com/docs/
        // developer-tools/sandbox/); its uploads go to the same stand-in for S3.
        (_, ["api-sandbox", "v5", ..]) => api_call(sim, request, base, &path[2..], Host::Sandbox),
        _ => error(404, 404, "Not found."),
    }
}

/// Which of Pinterest's API hosts a call reached.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Host {
    /// api.pinterest.com
    Production,
    /// api-sandbox.pinterest.com
    Sandbox,
}

fn error(status: u16, code: i64, message: &str) -> Response {
    Response::json(status, &json!({"code": code, "message": message}))
}

// ----- consent -----

/// An authorization request, checked the way Pinterest checks it: client and redirect URI
/// problems get an error page, everything else an error redirect.
const AUTHORIZE_RULES: AuthorizeRules = AuthorizeRules {
    platform: PLATFORM,
    trimmed: true,
    state_trimmed: true,
    response_type_optional: false,
    steps: &[Step::Scopes],
    scopes: ScopeRule {
        trim_pieces: true,
        ..ScopeRule::new(SCOPES, &[','], ",")
    },
    form_fields: &[
        "client_id",
        "redirect_uri",
        "response_type",
        "scope",
        "state",
    ],
    refuse_client: |problem, redirect_uri| match problem {
        ClientProblem::UnknownClient => {
            error_page("The app you are trying to connect is not known to Pinterest (client_id).")
        }
        ClientProblem::RedirectNotRegistered => error_page(&format!(
            "The provided redirect_uri ({redirect_uri}) does not match any of the registered redirect URIs."
        )),
    },
    refuse: |problem| {
        let (error, description) = match problem {
            Problem::ResponseType => (
                "unsupported_response_type",
                "response_type must be code".to_string(),
            ),
            Problem::UnknownScope(scope) => ("invalid_scope", format!("Unknown scope {scope}")),
            _ => (
                "invalid_scope",
                "Ask for at least one scope, comma-separated".to_string(),
            ),
        };
        Rejection::Back {
            error,
            description: Some(description),
        }
    },
};

/// The redirect back to `request`'s app with `pairs`, then `state` when the request had one.
fn back<'a>(request: &'a Authorize, pairs: Vec<(&'a str, &'a str)>) -> Response {
    redirect_with_state(&request.redirect_uri, pairs, &request.state)
}

/// Pinterest's consent flow (`consent.rs`).
struct Consent;

impl ConsentFlow for Consent {
    const RULES: &'static AuthorizeRules = &AUTHORIZE_RULES;
    const LOOK: &'static Look = &LOOK;
    const WORDS: &'static ConsentWords = &CONSENT_WORDS;
    const PATH: &'static str = "/oauth/";
    const DEFAULT_MEMBER_NAME: &'static str = DEFAULT_MEMBER_NAME;
    const MEMBER_NAME_RULE: &'static str =
        "Enter the name of the account to sign in as (at most 100 characters).";

    fn code_ttl(_sim: &Simulator) -> chrono::Duration {
        chrono::Duration::minutes(CODE_TTL_MINUTES)
    }
    fn allowed(request: &Authorize, code: String) -> Response {
        back(request, vec![("code", code.as_str())])
    }
    fn denied(request: &Authorize) -> Response {
        back(
            request,
            vec![
                ("error", "access_denied"),
                ("error_description", "The user denied the request"),
            ],
        )
    }
    fn undecided() -> Response {
        error_page("The form was sent without a decision; choose Allow or Deny.")
    }
}

const STYLE: &str = "body{margin:0;background:#fff;font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#111}\
header{padding:16px 24px}.logo{color:#e60023;font-weight:700;font-size:24px}\
main{max-width:440px;margin:24px auto;border-radius:32px;box-shadow:0 0 24px rgba(0,0,0,.12);padding:32px}\
h1{font-size:24px;margin:0 0 12px;text-align:center}li{margin:6px 0}label{display:block;font-weight:600;margin:16px 0 4px}\
input[type=text]{width:100%;box-sizing:border-box;padding:12px;border:2px solid #cdcdcd;border-radius:16px}\
.actions{display:flex;gap:8px;justify-content:center;margin-top:24px}button{border-radius:24px;padding:12px 24px;font-weight:700;border:none;cursor:pointer}\
.allow{background:#e60023;color:#fff}.deny{background:#efefef;color:#111}.error{color:#cc0000;font-weight:600}.small{font-size:12px;color:#767676}";

const LOOK: Look = Look {
    title_suffix: " | Pinterest (sandbox)",
    style: STYLE,
    header: "<header><span class=\"logo\">Pinterest</span></header>",
    main_start: "",
};

const CONSENT_WORDS: ConsentWords = ConsentWords {
    title: "Authorize {app}",
    heading: "Give {app} access to your Pinterest account",
    intro: Some("{app} will be able to:"),
    member_label: "Logged in as",
    member_max_chars: 100,
    member_autocomplete: false,
    member_field_boxed: false,
    notes: &["This is the Pinterest simulator: any name signs in as its own account."],
    scope_names_shown: false,
};

fn error_page(detail: &str) -> Response {
    consent::error_page(
        &LOOK,
        400,
        "Error",
        "You are not permitted to access that resource.",
        detail,
        None,
    )
}

// ----- token endpoint -----

fn authentication_failed() -> Response {
    error(401, 2, "Authentication failed.")
}

/// Pinterest's token endpoint: credentials only in the Basic header (in the body they
/// authenticate nothing), 30-day `pina_` access tokens, and continuous refresh: every answer
/// brings a new 60-day `pinr_` refresh token.
const TOKEN_RULES: TokenRules = TokenRules {
    platform: PLATFORM,
    precheck: None,
    params: token::form_params,
    client_auth: ClientAuth::Basic {
        percent_decoded: false,
        body_id_must_match: false,
    },
    required_first: &[],
    grant_before_client: false,
    default_grant: None,
    code_params: &[filled("code"), filled("redirect_uri")],
    refresh_params: &[],
    code_suffix: None,
    code_reuse_revokes: false,
    access: Access {
        kind: "access",
        lifetime: |_| chrono::Duration::seconds(ACCESS_TOKEN_SECS),
        subject: account_id,
    },
    refresh: Refresh::Issued {
        when: |_, _| true,
        lifetime: |_| chrono::Duration::seconds(REFRESH_TOKEN_SECS),
        refreshed_lifetime: None,
        on_refresh: OnRefresh::Rotated,
    },
    access_prefix: "pina_",
    refresh_prefix: "pinr_",
    extra_grants: &[],
    refuse: |_, refusal| match refusal {
        Refusal::Missing("grant_type") => error(400, 1, "Missing required parameter: grant_type"),
        Refusal::Missing(_) => error(400, 1, "Missing required parameters: code and redirect_uri"),
        Refusal::UnsupportedGrant(other) => error(400, 1, &format!("Invalid grant_type: {other}")),
        Refusal::Client(_)
        | Refusal::ClientIdMismatch
        | Refusal::Code { .. }
        | Refusal::RefreshToken => authentication_failed(),
    },
    answer: token_answer,
};

/// Access token plus a new refresh token: continuous refresh gives a fresh 60-day one each time.
fn token_answer(_sim: &Simulator, issued: &Issued) -> Response {
    let refresh_expires_at = issued.refresh.as_ref().map(|(_, claims)| claims.exp);
    Response::json(
        200,
        &json!({
            "access_token": issued.access_token,
            "refresh_token": issued.refresh.as_ref().map(|(token, _)| token.as_str()),
            "response_type": issued.grant.grant_type(),
            "token_type": "bearer",
            "expires_in": ACCESS_TOKEN_SECS,
            "refresh_token_expires_in": REFRESH_TOKEN_SECS,
            "refresh_token_expires_at": refresh_expires_at,
            "scope": issued.access.scp.join(","),
        }),
    )
}

/// A numeric account id, stable per name.
fn account_id(sim: &Simulator, name: &str) -> String {
    digits(&sim.member_id(PLATFORM, name, 18), 18)
}

fn digits(seed: &str, len: usize) -> String {
    let digest = hmac_sha256(b"pinterest ids", seed.as_bytes());
    let mut out: String = digest
        .iter()
        .cycle()
        .take(len)
        .map(|b| char::from(b'0' + b % 10))
        .collect();
    out.replace_range(0..1, "1");
    out
}

fn board_id(account: &str, index: usize) -> String {
    digits(&format!("{account} board {index}"), 18)
}

fn username(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase();
    if cleaned.is_empty() {
        "pinner".into()
    } else {
        cleaned
    }
}

// ----- the API -----

fn authenticate(sim: &Simulator, request: &Request) -> Result<TokenClaims, Response> {
    request
        .bearer_token()
        .and_then(|t| t.strip_prefix("pina_"))
        .and_then(|t| live_access_token(sim, PLATFORM, t))
        .ok_or_else(authentication_failed)
}

fn needs_scopes(claims: &TokenClaims, scopes: &[&str]) -> Result<(), Response> {
    match scopes
        .iter()
        .find(|s| !claims.scp.iter().any(|have| have == *s))
    {
        None => Ok(()),
        Some(missing) => Err(error(
            403,
            403,
            &format!(
                "Not authorized to access this resource: the token lacks the {missing} scope."
            ),
        )),
    }
}

fn api_call(sim: &Simulator, request: &Request, base: &str, path: &[&str], host: Host) -> Response {
    let claims = match authenticate(sim, request) {
        Ok(claims) => claims,
        Err(response) => return response,
    };
    if let Some(fault) = sim.begin_api_call(PLATFORM, request) {
        if fault.kind == FaultKind::RevokedToken {
            // The person removed the app: every token of the consent stops working.
            sim.revoke_grant(&claims.grant);
        }
        return fault_response(&fault);
    }
    let result = match (request.method.as_str(), path) {
        ("GET", ["user_account"]) => {
            needs_scopes(&claims, &["user_accounts:read"]).map(|_| user_account(&claims))
        }
        ("GET", ["boards"]) => {
            needs_scopes(&claims, &["boards:read"]).map(|_| boards(request, &claims))
        }
        ("POST", ["pins"]) => needs_scopes(&claims, &["boards:read", "pins:read", "pins:write"])
            .and_then(|_| trial_may_pin_here(sim, &claims, host))
            .map(|_| create_pin(sim, request, &claims, host)),
        ("POST", ["media"]) => needs_scopes(&claims, &["pins:read", "pins:write"])
            .map(|_| register_media(sim, request, base, &claims)),
        ("GET", ["media", id]) => {
            needs_scopes(&claims, &["pins:read"]).map(|_| media_status(sim, id, &claims))
        }
        ("GET", ["boards", board, "pins"]) => needs_scopes(&claims, &["boards:read", "pins:read"])
            .map(|_| board_pins(sim, request, &claims, board, host)),
        ("GET", ["pins", id]) => needs_scopes(&claims, &["boards:read", "pins:read"])
            .map(|_| get_pin(sim, &claims, id, host)),
        ("DELETE", ["pins", id]) => needs_scopes(
            &claims,
            &["boards:read", "boards:write", "pins:read", "pins:write"],
        )
        .map(|_| delete_pin(sim, &claims, id, host)),
        (
            _,
            ["user_account" | "boards" | "pins" | "media"]
            | ["media" | "pins", _]
            | ["boards", _, "pins"],
        ) => Ok(error(405, 405, "Method not allowed.")),
        _ => Ok(error(404, 404, "Not found.")),
    };
    result.unwrap_or_else(|response| response)
}

/// Apps with Trial access create Pins only in the sandbox: at the production host Pinterest
/// answers code 29 (its words as postiz-app issue 1084 quotes them).
fn trial_may_pin_here(sim: &Simulator, claims: &TokenClaims, host: Host) -> Result<(), Response> {
    let trial = sim
        .client(PLATFORM, &claims.cid)
        .is_some_and(|client| client.trial_access);
    if trial && host == Host::Production {
        return Err(error(
            403,
            29,
            "Apps with Trial access may not create Pins in production https://api.pinterest.com - use API Sandbox https://api-sandbox.pinterest.com instead.",
        ));
    }
    Ok(())
}

fn user_account(claims: &TokenClaims) -> Response {
    Response::json(
        200,
        &json!({
            "id": claims.sub,
            "username": username(&claims.name),
            "account_type": "PINNER",
            "business_name": null,
            "profile_image": format!("https://i.pinimg.com/sandbox/{}.jpg", claims.sub),
            "website_url": null,
            "about": "",
            "board_count": BOARDS.len(),
            "pin_count": 0,
            "follower_count": 0,
            "following_count": 0,
            "monthly_views": 0,
        }),
    )
}

fn board_json(claims: &TokenClaims, index: usize) -> Value {
    let (name, privacy) = BOARDS[index];
    json!({
        "id": board_id(&claims.sub, index),
        "name": name,
        "description": "",
        "owner": {"username": username(&claims.name)},
        "privacy": privacy,
        "pin_count": 0,
        "follower_count": 0,
        "collaborator_count": 0,
        "created_at": "2024-01-01T00:00:00",
    })
}

/// Boards the token may see: secret ones only with `boards:read_secret`.
fn visible_boards(claims: &TokenClaims) -> Vec<usize> {
    let secret = claims.scp.iter().any(|s| s == "boards:read_secret");
    (0..BOARDS.len())
        .filter(|i| secret || BOARDS[*i].1 != "SECRET")
        .collect()
}

fn boards(request: &Request, claims: &TokenClaims) -> Response {
    let all: Vec<Value> = visible_boards(claims)
        .into_iter()
        .map(|i| board_json(claims, i))
        .collect();
    match page_of(request, &all) {
        Ok(page) => Response::json(200, &page),
        Err(response) => response,
    }
}

/// One page of `all` as Pinterest's `Paginated` answers it: `{"items", "bookmark"}`, the
/// bookmark `null` on the last page. `page_size` is 1 to 250, 25 when absent (the OpenAPI
/// description's `query_page_size`); the bookmark is opaque to clients (here the offset of the
/// next page).
fn page_of(request: &Request, all: &[Value]) -> Result<Value, Response> {
    let page_size = match request.query_param("page_size").map(str::parse::<usize>) {
        None => 25,
        Some(Ok(n)) if (1..=250).contains(&n) => n,
        Some(_) => {
            return Err(error(
                400,
                1,
                "Invalid parameter: page_size must be from 1 to 250.",
            ));
        }
    };
    let start = match request.query_param("bookmark") {
        None | Some("") => 0,
        Some(b) => match base64::engine::general_purpose::STANDARD
            .decode(b)
            .ok()
            .and_then(|v| String::from_utf8(v).ok())
            .and_then(|s| s.strip_prefix("offset:").and_then(|n| n.parse().ok()))
        {
            Some(n) => n,
            None => return Err(error(400, 1, "Invalid parameter: bookmark.")),
        },
    };
    let items: Vec<Value> = all.iter().skip(start).take(page_size).cloned().collect();
    let next = start + items.len();
    let bookmark = if next < all.len() {
        json!(base64::engine::general_purpose::STANDARD.encode(format!("offset:{next}")))
    } else {
        Value::Null
    };
    Ok(json!({"items": items, "bookmark": bookmark}))
}

/// A Pin's time as Pinterest writes it (the OpenAPI description's example:
/// `2020-01-01T20:10:40-00:00`): seconds, and an offset of `-00:00`.
fn pin_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S-00:00").to_string()
}

/// The API host a record was created on, as `create_pin` stores it: sandbox Pins exist only
/// on the sandbox host, production Pins only on production.
fn host_name(host: Host) -> &'static str {
    match host {
        Host::Sandbox => "api-sandbox.pinterest.com",
        Host::Production => "api.pinterest.com",
    }
}

/// A recorded Pin in the `Pin` shape of Pinterest's OpenAPI description.
fn pin_json(record: &Value, claims: &TokenClaims) -> Value {
    let media = &record["media"];
    let media_type = media["media_type"].clone();
    let mut summary = json!({"media_type": media_type});
    if media_type == "video" {
        summary["cover_image_url"] = media["cover_image_url"].clone();
    }
    json!({
        "id": record["id"],
        "created_at": record["created_at"],
        "link": record["link"],
        "title": record["title"],
        "description": record["description"],
        "dominant_color": null,
        "alt_text": null,
        "board_id": record["board_id"],
        "board_section_id": null,
        "board_owner": {"username": username(&claims.name)},
        "is_owner": record["owner"] == claims.sub.as_str(),
        "is_standard": true,
        "has_been_promoted": false,
        "parent_pin_id": null,
        "note": null,
        "creative_type": if media_type == "video" { "VIDEO" } else { "REGULAR" },
        "media": summary,
    })
}

/// The Pins this host has that are not deleted, newest first. [inf] Pinterest does not say in
/// which order a board lists its Pins; newest first is what its boards show by default.
fn live_pins(sim: &Simulator, host: Host) -> Vec<Value> {
    let mut pins: Vec<Value> = sim
        .accepted_posts(PLATFORM)
        .into_iter()
        .filter(|p| p["host"] == host_name(host) && p["deleted"] != Value::Bool(true))
        .collect();
    pins.reverse();
    pins
}

/// `GET /v5/boards/{board_id}/pins` (scopes `boards:read`, `pins:read`): the Pins on a board
/// the token's account owns, paged like every list; a board it cannot see is "Board not found."
fn board_pins(
    sim: &Simulator,
    request: &Request,
    claims: &TokenClaims,
    board: &str,
    host: Host,
) -> Response {
    let visible = visible_boards(claims)
        .into_iter()
        .any(|i| board_id(&claims.sub, i) == board);
    if !visible {
        return error(404, 404, "Board not found.");
    }
    let pins: Vec<Value> = live_pins(sim, host)
        .iter()
        .filter(|p| p["board_id"] == board)
        .map(|p| pin_json(p, claims))
        .collect();
    match page_of(request, &pins) {
        Ok(page) => Response::json(200, &page),
        Err(response) => response,
    }
}

/// `GET /v5/pins/{pin_id}` (scopes `boards:read`, `pins:read`): 404 code 50 for a Pin that does
/// not exist (or was deleted), 403 code 29 for another account's Pin on a board not shared.
fn get_pin(sim: &Simulator, claims: &TokenClaims, id: &str, host: Host) -> Response {
    match live_pins(sim, host).iter().find(|p| p["id"] == id) {
        None => error(404, 50, "Pin not found."),
        Some(pin) if pin["owner"] != claims.sub.as_str() => {
            error(403, 29, "You are not permitted to access that resource.")
        }
        Some(pin) => Response::json(200, &pin_json(pin, claims)),
    }
}

/// `DELETE /v5/pins/{pin_id}` (scopes `boards:read`, `boards:write`, `pins:read`, `pins:write`):
/// 204 with no body; a Pin that does not exist, or no longer, is "Pin not found." (404), and
/// another account's Pin "Not authorized to access board or Pin." (403), the examples of
/// Pinterest's OpenAPI description for `pins/delete`.
fn delete_pin(sim: &Simulator, claims: &TokenClaims, id: &str, host: Host) -> Response {
    match live_pins(sim, host).iter().find(|p| p["id"] == id) {
        None => return error(404, 404, "Pin not found."),
        Some(pin) if pin["owner"] != claims.sub.as_str() => {
            return error(403, 403, "Not authorized to access board or Pin.");
        }
        Some(_) => {}
    }
    let deleted =
        sim.mark_post_deleted(PLATFORM, |p| p["id"] == id && p["host"] == host_name(host));
    if deleted {
        Response::no_content()
    } else {
        // Deleted by a request that ran between the look and the mark.
        error(404, 404, "Pin not found.")
    }
}

fn new_id(len: usize) -> String {
    let mut out: String = random_bytes::<24>()
        .iter()
        .take(len)
        .map(|b| char::from(b'0' + b % 10))
        .collect();
    out.replace_range(0..1, "9");
    out
}

/// Pinterest fetches an image URL itself; so does the simulator, with a short timeout.
fn fetch_image(url: &str) -> Result<String, String> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err("Sorry, we could not fetch the image: the URL is not http(s).".into());
    }
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(5))
        .redirects(3)
        .build();
    match agent.get(url).call() {
        Ok(response) => {
            let content_type = response.content_type().to_string();
            if content_type.starts_with("image/") {
                Ok(content_type)
            } else {
                Err(format!(
                    "Sorry, we could not fetch the image: {url} is served as {content_type}, not an image."
                ))
            }
        }
        Err(e) => Err(format!("Sorry, we could not fetch the image: {e}")),
    }
}

fn invalid(message: String) -> Response {
    error(400, 1, &message)
}

fn create_pin(sim: &Simulator, request: &Request, claims: &TokenClaims, host: Host) -> Response {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&request.body) else {
        return invalid("Invalid request body: a JSON object is required.".into());
    };
    let text = |field: &str| {
        body.get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let board = text("board_id");
    if board.is_empty() {
        return invalid("Invalid request body: 'board_id' is a required property".into());
    }
    if !board.bytes().all(|b| b.is_ascii_digit()) {
        return invalid(format!(
            "Invalid request body: '{board}' does not match '^\\d+$' - 'board_id'"
        ));
    }
    for (field, limit) in [
        ("title", TITLE_LIMIT),
        ("description", DESCRIPTION_LIMIT),
        ("link", LINK_LIMIT),
        ("alt_text", 500),
    ] {
        let length = text(field).chars().count();
        if length > limit {
            return invalid(format!(
                "Invalid request body: '{field}' is too long ({length} characters; constraint: maxLength={limit})"
            ));
        }
    }
    let link = text("link");
    if !(link.is_empty() || link.starts_with("https://") || link.starts_with("http://")) {
        return invalid("Invalid request body: 'link' is not a valid URL".into());
    }
    let Some(index) = visible_boards(claims)
        .into_iter()
        .find(|i| board_id(&claims.sub, *i) == board)
    else {
        // Pinterest's OpenAPI description, `pins/create`: 404 `BoardNotFound` is code 40.
        return error(404, 40, "Board not found.");
    };
    if BOARDS[index].1 == "SECRET" && !claims.scp.iter().any(|s| s == "pins:write_secret") {
        return error(403, 29, "You are not permitted to access that resource.");
    }
    let source = body.get("media_source").cloned().unwrap_or(Value::Null);
    let media = match source["source_type"].as_str() {
        None => {
            return invalid("Invalid request body: 'media_source' is a required property".into());
        }
        Some("image_url") => {
            let url = source["url"].as_str().unwrap_or_default().to_string();
            if let Err(message) = fetch_image(&url) {
                return invalid(message);
            }
            json!({"media_type": "image", "url": url})
        }
        // "You cannot do the following in Sandbox: Create video Pins." (the sandbox page; the
        // exact answer is not documented, so this one is Pinterest's generic refusal).
        Some("video_id") if host == Host::Sandbox => {
            return error(
                403,
                29,
                "You are not permitted to access that resource: video Pins cannot be created in Sandbox.",
            );
        }
        Some("video_id") => match video_source(sim, &source, claims) {
            Ok(media) => media,
            Err(response) => return response,
        },
        Some(
            other @ ("image_base64" | "multiple_image_urls" | "multiple_image_base64" | "pin_url"),
        ) => {
            return invalid(format!(
                "The simulator does not implement media_source {other} yet."
            ));
        }
        Some(other) => {
            return invalid(format!(
                "Invalid request body: '{other}' is not a valid source_type"
            ));
        }
    };
    let now = sim.now();
    let id = new_id(18);
    let record = json!({
        "id": id,
        "board_id": board,
        "board_name": BOARDS[index].0,
        "owner": claims.sub,
        "title": text("title"),
        "description": text("description"),
        "link": if link.is_empty() { Value::Null } else { json!(link) },
        "media": media,
        "clientId": claims.cid,
        "host": host_name(host),
        "created_at": pin_time(now),
        "createdAt": format_timestamp(now),
    });
    // Pinterest has no duplicate refusal: the same Pin can be saved again.
    let _ = sim.record_post_unless_duplicate(PLATFORM, now, |_| false, record.clone());
    Response::json(201, &pin_json(&record, claims))
}

fn video_source(sim: &Simulator, source: &Value, claims: &TokenClaims) -> Result<Value, Response> {
    let media_id = source["media_id"].as_str().unwrap_or_default().to_string();
    let ready = sim.with_platform_state(PLATFORM, |s: &mut PinterestState| {
        s.uploads
            .get(&media_id)
            .filter(|u| u.owner == claims.sub)
            .map(|u| u.uploaded && u.polls_left == 0)
    });
    match ready {
        None => {
            return Err(invalid(format!(
                "Invalid request body: media_id {media_id} was not found."
            )));
        }
        Some(false) => {
            return Err(invalid(format!(
                "The video {media_id} has not finished processing; read GET /v5/media/{media_id} until its status is succeeded."
            )));
        }
        Some(true) => {}
    }
    let cover = source["cover_image_url"].as_str().map(str::to_string);
    let key_frame = source["cover_image_key_frame_time"].as_f64();
    let has_data =
        source["cover_image_data"].is_string() && source["cover_image_content_type"].is_string();
    if cover.is_none() && key_frame.is_none() && !has_data {
        return Err(invalid("Invalid request body: a video Pin needs a cover: cover_image_url or cover_image_content_type and cover_image_data, or cover_image_key_frame_time.".into()));
    }
    if let Some(url) = &cover
        && let Err(message) = fetch_image(url)
    {
        return Err(invalid(message));
    }
    Ok(
        json!({"media_type": "video", "media_id": media_id, "cover_image_url": cover, "cover_image_key_frame_time": key_frame}),
    )
}

fn register_media(
    sim: &Simulator,
    request: &Request,
    base: &str,
    claims: &TokenClaims,
) -> Response {
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    if body["media_type"] != "video" {
        return invalid("Invalid request body: 'media_type' must be 'video'".into());
    }
    let media_id = new_id(19);
    let key = format!("uploads/{}/{}", &claims.sub[..6], random_token(24));
    let polls = sim.count_setting(PLATFORM, "processingPolls");
    sim.with_platform_state(PLATFORM, |s: &mut PinterestState| {
        s.uploads.insert(
            media_id.clone(),
            Upload {
                owner: claims.sub.clone(),
                key: key.clone(),
                uploaded: false,
                polls_left: polls,
            },
        );
    });
    // The upload goes to "S3": an absolute URL on the host that served this call.
    let host = request.header("host").unwrap_or("127.0.0.1");
    let policy =
        base64::engine::general_purpose::STANDARD.encode(json!({"media_id": media_id}).to_string());
    let signature = crate::crypto::hex(&hmac_sha256(b"pinterest sandbox s3", key.as_bytes()));
    Response::json(
        201,
        &json!({
            "media_id": media_id,
            "media_type": "video",
            "upload_url": format!("http://{host}{base}/media-upload/"),
            "upload_parameters": {
                "x-amz-date": sim.now().format("%Y%m%dT%H%M%SZ").to_string(),
                "x-amz-signature": signature,
                "x-amz-security-token": random_token(32),
                "x-amz-algorithm": "AWS4-HMAC-SHA256",
                "key": key,
                "policy": policy,
                "x-amz-credential": "SANDBOXACCESSKEY/20260101/us-east-1/s3/aws4_request",
                "Content-Type": "multipart/form-data",
            },
        }),
    )
}

fn media_status(sim: &Simulator, id: &str, claims: &TokenClaims) -> Response {
    let status = sim.with_platform_state(PLATFORM, |s: &mut PinterestState| {
        let upload = s.uploads.get_mut(id).filter(|u| u.owner == claims.sub)?;
        Some(if !upload.uploaded {
            "registered"
        } else if upload.polls_left > 0 {
            upload.polls_left -= 1;
            "processing"
        } else {
            "succeeded"
        })
    });
    match status {
        Some(status) => Response::json(
            200,
            &json!({"media_id": id, "media_type": "video", "status": status}),
        ),
        None => error(404, 404, "Media not found."),
    }
}

/// The S3 presigned POST: every field Pinterest handed out, then the file; 204 with no body.
fn s3_upload(sim: &Simulator, request: &Request) -> Response {
    let s3_error = |code: &str, message: &str| {
        Response::new(400)
            .with_header("Content-Type", "application/xml")
            .with_body(format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>").into_bytes())
    };
    let Some(parts) = multipart_parts(request) else {
        return s3_error(
            "PreconditionFailed",
            "Bucket POST must be of the enclosure-type multipart/form-data",
        );
    };
    let field = |name: &str| {
        parts
            .iter()
            .find(|p| p.0 == name)
            .map(|p| String::from_utf8_lossy(&p.2).to_string())
    };
    let Some(key) = field("key") else {
        return s3_error(
            "InvalidArgument",
            "Bucket POST must contain a field named 'key'.",
        );
    };
    let signature_ok = field("x-amz-signature").is_some_and(|s| {
        s == crate::crypto::hex(&hmac_sha256(b"pinterest sandbox s3", key.as_bytes()))
    });
    if !signature_ok || field("policy").is_none() || field("x-amz-credential").is_none() {
        return Response::new(403).with_header("Content-Type", "application/xml").with_body(
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Invalid according to Policy: Policy Condition failed</Message></Error>".to_vec(),
        );
    }
    let Some(file) = parts
        .iter()
        .find(|p| p.0 == "file")
        .filter(|p| p.1 && !p.2.is_empty())
    else {
        return s3_error(
            "InvalidArgument",
            "POST requires exactly one file upload per request.",
        );
    };
    if file.2.len() < 8 || &file.2[4..8] != b"ftyp" {
        return s3_error(
            "InvalidArgument",
            "The uploaded file is not an MP4/MOV video.",
        );
    }
    let found = sim.with_platform_state(PLATFORM, |s: &mut PinterestState| {
        match s.uploads.values_mut().find(|u| u.key == key) {
            Some(upload) => {
                upload.uploaded = true;
                true
            }
            None => false,
        }
    });
    if !found {
        return s3_error("InvalidArgument", "Unknown key");
    }
    Response::no_content()
}

/// (name, is a file, bytes) of each part of a multipart/form-data body.
fn multipart_parts(request: &Request) -> Option<Vec<(String, bool, Vec<u8>)>> {
    let content_type = request.header("content-type")?;
    if !content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return None;
    }
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))?
        .trim_matches('"');
    let delimiter = format!("--{boundary}").into_bytes();
    let body = &request.body;
    let mut parts = Vec::new();
    let mut positions = Vec::new();
    let mut i = 0;
    while i + delimiter.len() <= body.len() {
        if body[i..].starts_with(&delimiter) {
            positions.push(i);
            i += delimiter.len();
        } else {
            i += 1;
        }
    }
    for pair in positions.windows(2) {
        let chunk = &body[pair[0] + delimiter.len()..pair[1]];
        let chunk = chunk.strip_prefix(b"\r\n").unwrap_or(chunk);
        let chunk = chunk.strip_suffix(b"\r\n").unwrap_or(chunk);
        let split = chunk.windows(4).position(|w| w == b"\r\n\r\n")?;
        let headers = String::from_utf8_lossy(&chunk[..split]).to_string();
        let content = chunk[split + 4..].to_vec();
        let disposition = headers
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))?;
        let name = disposition
            .split(';')
            .find_map(|p| p.trim().strip_prefix("name="))
            .map(|n| n.trim_matches('"').to_string())?;
        let is_file = disposition.contains("filename=");
        parts.push((name, is_file, content));
    }
    Some(parts)
}

/// A queued fault in Pinterest's `{code,message}` shape.
fn fault_response(fault: &Fault) -> Response {
    match fault.kind {
        FaultKind::ServerError { status } => error(
            status,
            status as i64,
            "Something went wrong on our end. Sorry about that.",
        ),
        FaultKind::RateLimit { retry_after } => {
            let response = error(
                429,
                8,
                "You have exceeded your rate limit. Try again later.",
            );
            match retry_after {
                Some(secs) => response.with_header("Retry-After", &secs.to_string()),
                None => response,
            }
        }
        FaultKind::Timeout { .. } => error(504, 504, "Gateway timeout."),
        FaultKind::RevokedToken => authentication_failed(),
        // The control API refuses to queue it (Pinterest has no duplicate refusal); should
        // one arrive anyway, it is Pinterest's generic server error.
        FaultKind::Duplicate => error(
            500,
            500,
            "Something went wrong on our end. Sorry about that.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimulatorSettings;
    use httpkit::clock::OffsetClock;
    use std::sync::Arc;

    fn sim() -> (Arc<Simulator>, Arc<OffsetClock>) {
        let clock = OffsetClock::new();
        let sim = Simulator::new(clock.clone(), [7; 32], SimulatorSettings::default());
        (sim, clock)
    }

    fn token(sim: &Simulator, sub: &str, scopes: &[&str]) -> String {
        let now = sim.now().timestamp();
        let claims = TokenClaims {
            typ: "access".into(),
            plat: "pinterest".into(),
            cid: "client".into(),
            sub: sub.into(),
            name: "Pat Pinner".into(),
            scp: scopes.iter().map(|s| s.to_string()).collect(),
            iat: now,
            exp: now + 3600,
            grant: format!("grant-{sub}"),
            nonce: "n".into(),
        };
        format!("pina_{}", sim.sign_token(&claims))
    }

    const ALL: &[&str] = &["boards:read", "boards:write", "pins:read", "pins:write"];

    /// A Pin recorded as `create_pin` records one, without fetching an image.
    fn pin(sim: &Simulator, owner: &str, board: &str, host: Host, title: &str) -> String {
        let id = new_id(18);
        let now = sim.now();
        let record = json!({
            "id": id, "board_id": board, "owner": owner, "title": title, "description": "d",
            "link": null, "media": {"media_type": "image", "url": "https://i.example/a.png"},
            "host": host_name(host), "created_at": pin_time(now), "createdAt": format_timestamp(now),
        });
        sim.record_post_unless_duplicate(PLATFORM, now, |_| false, record)
            .unwrap();
        id
    }

    fn call(sim: &Simulator, method: &str, target: &str, token: &str) -> (u16, Value) {
        let mut request = Request::new(method, target);
        request
            .headers
            .push(("Authorization".into(), format!("Bearer {token}")));
        let response = sim.handle(&request, "");
        let value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        (response.status, value)
    }

    fn titles(page: &Value) -> Vec<&str> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["title"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn a_boards_pins_are_listed_newest_first_page_by_page() {
        let (sim, clock) = sim();
        let owner = "1000";
        let board = board_id(owner, 0);
        for title in ["one", "two", "three"] {
            pin(&sim, owner, &board, Host::Production, title);
            clock.advance(chrono::Duration::seconds(5));
        }
        pin(
            &sim,
            owner,
            &board_id(owner, 1),
            Host::Production,
            "other board",
        );
        pin(&sim, owner, &board, Host::Sandbox, "sandbox");
        let token = token(&sim, owner, ALL);
        let base = format!("/pinterest/v5/boards/{board}/pins");
        let (status, first) = call(&sim, "GET", &format!("{base}?page_size=2"), &token);
        assert_eq!(status, 200, "{first}");
        assert_eq!(titles(&first), ["three", "two"]);
        let bookmark = first["bookmark"].as_str().unwrap();
        let (_, second) = call(
            &sim,
            "GET",
            &format!("{base}?page_size=2&bookmark={bookmark}"),
            &token,
        );
        assert_eq!(titles(&second), ["one"]);
        assert_eq!(second["bookmark"], Value::Null);
        let item = &first["items"][0];
        assert_eq!(item["board_id"], board.as_str());
        assert_eq!(item["media"]["media_type"], "image");
        let created = item["created_at"].as_str().unwrap();
        assert!(created.ends_with("-00:00"), "{created}");
        // Each host has its own Pins (Pinterest's sandbox is a separate world).
        let (_, sandbox) = call(
            &sim,
            "GET",
            &format!("/pinterest/api-sandbox/v5/boards/{board}/pins"),
            &token,
        );
        assert_eq!(titles(&sandbox), ["sandbox"]);
    }

    #[test]
    fn listing_pins_needs_the_read_scopes_a_visible_board_and_a_page_size_up_to_250() {
        let (sim, _) = sim();
        let board = board_id("1000", 0);
        let base = format!("/pinterest/v5/boards/{board}/pins");
        let (status, body) = call(&sim, "GET", &base, &token(&sim, "1000", &["boards:read"]));
        assert_eq!((status, body["code"].as_i64()), (403, Some(403)), "{body}");
        let token = token(&sim, "1000", ALL);
        assert_eq!(call(&sim, "GET", &base, &token).0, 200);
        for size in ["0", "251", "x"] {
            let (status, body) = call(&sim, "GET", &format!("{base}?page_size={size}"), &token);
            assert_eq!(status, 400, "{size}: {body}");
        }
        assert_eq!(
            call(&sim, "GET", &format!("{base}?page_size=250"), &token).0,
            200
        );
        let (status, body) = call(
            &sim,
            "GET",
            &format!("/pinterest/v5/boards/{}/pins", board_id("2000", 0)),
            &token,
        );
        assert_eq!(
            (status, body["message"].as_str()),
            (404, Some("Board not found."))
        );
        // The secret board needs boards:read_secret.
        let secret = board_id("1000", 3);
        let (status, _) = call(
            &sim,
            "GET",
            &format!("/pinterest/v5/boards/{secret}/pins"),
            &token,
        );
        assert_eq!(status, 404);
    }

    #[test]
    fn a_deleted_pin_is_marked_and_gone_and_a_second_delete_finds_nothing() {
        let (sim, _) = sim();
        let board = board_id("1000", 0);
        let mine = pin(&sim, "1000", &board, Host::Production, "mine");
        let theirs = pin(
            &sim,
            "2000",
            &board_id("2000", 0),
            Host::Production,
            "theirs",
        );
        let token = token(&sim, "1000", ALL);
        let (status, body) = call(
            &sim,
            "DELETE",
            &format!("/pinterest/v5/pins/{mine}"),
            &self::token(&sim, "1000", &["boards:read", "pins:read", "pins:write"]),
        );
        assert_eq!(status, 403, "boards:write is required: {body}");
        assert_eq!(
            call(&sim, "GET", &format!("/pinterest/v5/pins/{mine}"), &token).0,
            200
        );
        let (status, body) = call(
            &sim,
            "DELETE",
            &format!("/pinterest/v5/pins/{mine}"),
            &token,
        );
        assert_eq!((status, body), (204, Value::Null));
        let record = sim
            .accepted_posts(PLATFORM)
            .into_iter()
            .find(|p| p["id"] == mine.as_str())
            .unwrap();
        assert_eq!(record["deleted"], true);
        let (status, body) = call(
            &sim,
            "DELETE",
            &format!("/pinterest/v5/pins/{mine}"),
            &token,
        );
        assert_eq!(
            (status, body["message"].as_str()),
            (404, Some("Pin not found."))
        );
        let (status, body) = call(&sim, "GET", &format!("/pinterest/v5/pins/{mine}"), &token);
        assert_eq!((status, body["code"].as_i64()), (404, Some(50)));
        let (_, listed) = call(
            &sim,
            "GET",
            &format!("/pinterest/v5/boards/{board}/pins"),
            &token,
        );
        assert!(titles(&listed).is_empty());
        // Another account's Pin: refused, and left alone.
        let (status, _) = call(
            &sim,
            "DELETE",
            &format!("/pinterest/v5/pins/{theirs}"),
            &token,
        );
        assert_eq!(status, 403);
        // A production Pin does not exist on the sandbox host.
        let other = pin(&sim, "1000", &board, Host::Production, "again");
        let (status, _) = call(
            &sim,
            "DELETE",
            &format!("/pinterest/api-sandbox/v5/pins/{other}"),
            &token,
        );
        assert_eq!(status, 404);
        assert_eq!(
            call(&sim, "PUT", &format!("/pinterest/v5/pins/{other}"), &token).0,
            405
        );
    }
}
