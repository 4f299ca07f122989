//! Reddit as the simulator plays it: the authorize page and token endpoints of
//! `www.reddit.com/api/v1/*`, and the `oauth.reddit.com` API (`/api/v1/me`, `/api/submit`) with
//! Reddit's quirks: errors of the token call and of submit arrive as HTTP 200 with an error
//! body, every request needs a descriptive User-Agent, and each client id has a budget of
//! calls per minute reported in `X-Ratelimit-*` headers and enforced with 429.
//! Reference: `../shared/providers/youtube-threads-pinterest-reddit.md`, part 4. Paths here are
//! relative to `{mount}/reddit`; both hosts share that prefix since their paths differ.

use super::authorize::{Authorize, AuthorizeRules, Problem, Rejection, ScopeRule, Step};
use super::consent::{self, ConsentFlow, ConsentWords, Look, authorize_decision, authorize_page};
use super::faults::{Fault, FaultKind};
use super::oauth::{ClientProblem, client_token, live_access_token};
use super::token::{self, Access, ClientAuth, OnRefresh, Refresh, Refusal, TokenRules, filled};
use super::{Setting, SettingKind, Simulator, TokenClaims, redirect_with};
use crate::Platform;
use crate::crypto::random_bytes;
use base64::Engine as _;
use httpkit::clock::format_timestamp;
use httpkit::{Request, Response, form_value};
use serde_json::{Value, json};
use std::collections::HashMap;

const PLATFORM: Platform = Platform::Reddit;

pub const DEFAULT_MEMBER_NAME: &str = "sandbox_redditor";
pub const TITLE_LIMIT: usize = 300;
/// `SELFTEXT_MAX_LENGTH` of reddit's source.
pub const SELFTEXT_LIMIT: usize = 40_000;
const ACCESS_TOKEN_SECS: i64 = 3600;
const CODE_TTL_MINUTES: i64 = 10;
const WINDOW_SECS: i64 = 60;

const SCOPES: &[(&str, &str)] = &[
    ("identity", "Access your reddit username and signup date."),
    ("submit", "Submit links and comments from your account."),
    ("read", "Access posts and comments through your account."),
    ("flair", "Select your subreddit and user flair."),
    (
        "mysubreddits",
        "Access the list of subreddits you moderate, contribute to, and subscribe to.",
    ),
    ("edit", "Edit and delete your comments and submissions."),
    (
        "history",
        "Access your voting history and comments or submissions you've saved or hidden.",
    ),
];

/// The subreddits that exist in the simulator and what they accept (`any`, `link`, `self`).
/// Every user's profile (`u_<name>`) exists too and accepts anything.
const SUBREDDITS: &[(&str, &str)] = &[
    ("test", "any"),
    ("sandboxtest", "any"),
    ("pics", "link"),
    ("askreddit", "self"),
    ("buildapc", "any"),
];

/// The subreddits whose moderators require post flair (Reddit's `is_flair_required`).
const FLAIR_REQUIRED: &[&str] = &["buildapc"];

/// `POST /api/submit` (reddit.com/dev/api#POST_api_submit): `flair_id` "a string no longer
/// than 36 characters", `flair_text` "a string no longer than 64 characters".
const FLAIR_ID_LIMIT: usize = 36;
const FLAIR_TEXT_LIMIT: usize = 64;

/// A link flair template: (id, text, text editable, moderators only).
type FlairTemplate = (&'static str, &'static str, bool, bool);

/// The link flair templates of the flair-requiring subreddit.
const LINK_FLAIRS: &[FlairTemplate] = &[
    (
        "3c1c2a3e-1b5e-11ea-9a0b-0e5c7a8d6f01",
        "Build Help",
        false,
        false,
    ),
    (
        "4a7f9b12-1b5e-11ea-8d2c-0e5c7a8d6f02",
        "Discussion",
        true,
        false,
    ),
    (
        "5e2d8c34-1b5e-11ea-b4f1-0e5c7a8d6f03",
        "Announcement",
        false,
        true,
    ),
];

/// Calls per client id in the current minute.
#[derive(Default)]
struct RedditState {
    windows: HashMap<String, (i64, u32)>,
}

/// The test settings of Reddit (`/_sim/reddit/settings`).
pub(crate) const SETTINGS: &[Setting] = &[Setting {
    name: "requestsPerMinute",
    meaning: "API calls each client id may make in a minute before Reddit answers 429",
    kind: SettingKind::Count {
        min: 1,
        max: 100_000,
    },
    default: |s| json!(s.reddit_requests_per_minute),
}];

pub(crate) fn handle(sim: &Simulator, request: &Request, base: &str, path: &[&str]) -> Response {
    match (request.method.as_str(), path) {
        ("GET", ["api", "v1", "authorize" | "authorize.compact"]) => {
            authorize_page::<Consent>(sim, &request.query, base)
        }
        ("POST", ["api", "v1", "authorize" | "authorize.compact"]) => {
            authorize_decision::<Consent>(sim, request, base)
        }
        ("POST", ["api", "v1", "access_token"]) => token::endpoint(sim, request, &TOKEN_RULES),
        ("POST", ["api", "v1", "revoke_token"]) => revoke(sim, request),
        (_, ["api", "v1", "access_token" | "revoke_token"]) => {
            json_error(405, "Method Not Allowed")
        }
        (_, ["api", ..] | ["r", _, "api", ..] | ["user", _, "submitted"]) => {
            api_call(sim, request, path)
        }
        _ => json_error(404, "Not Found"),
    }
}

pub(crate) fn json_error(status: u16, message: &str) -> Response {
    Response::json(status, &json!({"message": message, "error": status}))
}

// ----- User-Agent -----

/// `<platform>:<app ID>:<version> (by /u/<username>)`, as Reddit's API rules ask. Reddit
/// throttles default library agents and anything that does not say who runs it.
pub fn user_agent_is_descriptive(agent: &str) -> bool {
    let Some((head, by)) = agent.split_once(" (by ") else {
        return false;
    };
    let Some(user) = by
        .strip_suffix(')')
        .and_then(|b| b.strip_prefix("/u/").or_else(|| b.strip_prefix("u/")))
    else {
        return false;
    };
    let parts: Vec<&str> = head.splitn(3, ':').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.trim().is_empty() && !p.contains(' '))
        && !user.is_empty()
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Reddit's "whoa there, pardner!" page, served for requests without a proper User-Agent.
fn too_many_requests_page() -> Response {
    Response::html(
        429,
        "<!doctype html><html><head><title>Too Many Requests</title></head><body>\
<h1>whoa there, pardner!</h1>\
<p>reddit's awesome and all, but you may have a bit of a problem. Your request has been blocked \
due to a missing or generic User-Agent. Please use a descriptive User-Agent of the form \
&lt;platform&gt;:&lt;app ID&gt;:&lt;version string&gt; (by /u/&lt;reddit username&gt;).</p></body></html>"
            .into(),
    )
}

fn check_user_agent(request: &Request) -> Result<(), Response> {
    match request.header("user-agent") {
        Some(agent) if user_agent_is_descriptive(agent.trim()) => Ok(()),
        _ => Err(too_many_requests_page()),
    }
}

// ----- authorization page -----

/// An authorization request, checked the way Reddit checks it: unknown clients and
/// unregistered redirect URIs get a 403 page (never a redirect); then a bad response_type, a
/// missing state, a bad duration or scope go back to the app as `error=`.
const AUTHORIZE_RULES: AuthorizeRules = AuthorizeRules {
    platform: PLATFORM,
    trimmed: true,
    state_trimmed: true,
    response_type_optional: false,
    steps: &[
        Step::State { max_len: None },
        Step::Choice {
            name: "duration",
            values: &["temporary", "permanent"],
        },
        Step::Scopes,
    ],
    scopes: ScopeRule::new(SCOPES, &[' ', ','], " "),
    form_fields: &[
        "client_id",
        "response_type",
        "state",
        "redirect_uri",
        "duration",
        "scope",
    ],
    refuse_client: |problem, _| match problem {
        ClientProblem::UnknownClient => {
            error_page("invalid client id: check the client_id your app sent.")
        }
        ClientProblem::RedirectNotRegistered => error_page("invalid redirect_uri parameter."),
    },
    refuse: |problem| Rejection::Back {
        error: match problem {
            Problem::ResponseType => "unsupported_response_type",
            Problem::UnknownScope(_) | Problem::NoScope => "invalid_scope",
            _ => "invalid_request",
        },
        description: None,
    },
};

/// Whether the request asks for access until revoked (`duration=permanent`).
fn permanent(request: &Authorize) -> bool {
    request.choice("duration") == "permanent"
}

/// Reddit's consent flow (`consent.rs`).
struct Consent;

impl ConsentFlow for Consent {
    const RULES: &'static AuthorizeRules = &AUTHORIZE_RULES;
    const LOOK: &'static Look = &LOOK;
    const WORDS: &'static ConsentWords = &CONSENT_WORDS;
    const PATH: &'static str = "/api/v1/authorize";
    const DEFAULT_MEMBER_NAME: &'static str = DEFAULT_MEMBER_NAME;
    const MEMBER_NAME_RULE: &'static str =
        "Enter a reddit username: 3 to 20 letters, digits, _ or -.";

    fn intro(request: &Authorize) -> Option<&'static str> {
        Some(if permanent(request) {
            "Allow this app to access your account until you revoke it."
        } else {
            "Allow this app to access your account for one hour."
        })
    }
    fn member_name_fits(name: &str) -> bool {
        valid_username(name)
    }
    fn code_ttl(_sim: &Simulator) -> chrono::Duration {
        chrono::Duration::minutes(CODE_TTL_MINUTES)
    }
    /// The duration travels with the code, so the token call knows whether to refresh.
    fn offline(request: &Authorize) -> bool {
        permanent(request)
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
                ("state", request.state.as_str()),
                ("error", "access_denied"),
            ],
        ))
    }
    fn undecided() -> Response {
        error_page("The form was sent without a decision; choose Allow or Deny.")
    }
}

fn valid_username(name: &str) -> bool {
    (3..=20).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

const STYLE: &str = "body{margin:0;background:#dae0e6;font-family:'IBM Plex Sans',Arial,sans-serif;color:#1c1c1c}\
header{background:#fff;padding:12px 20px;border-bottom:1px solid #edeff1}.logo{color:#ff4500;font-weight:700;font-size:22px}\
main{max-width:460px;margin:32px auto;background:#fff;border-radius:4px;padding:24px;border:1px solid #ccc}\
h1{font-size:18px;margin:0 0 12px}li{margin:6px 0}label{display:block;font-weight:600;margin:16px 0 4px}\
input[type=text]{width:100%;box-sizing:border-box;padding:8px;border:1px solid #ccc;border-radius:4px}\
.actions{display:flex;gap:8px;margin-top:20px}button{border-radius:999px;padding:8px 20px;font-weight:700;cursor:pointer}\
.allow{background:#0079d3;color:#fff;border:none}.deny{background:#fff;color:#0079d3;border:1px solid #0079d3}\
.error{color:#ea0027;font-weight:600}.small{font-size:12px;color:#7c7c7c}";

const LOOK: Look = Look {
    title_suffix: " | reddit (sandbox)",
    style: STYLE,
    header: "<header><span class=\"logo\">reddit</span></header>",
    main_start: "",
};

const CONSENT_WORDS: ConsentWords = ConsentWords {
    title: "Authorize {app}",
    heading: "{app} requests permission to connect with your reddit account.",
    intro: None,
    member_label: "Logged in as u/",
    member_max_chars: 20,
    member_autocomplete: false,
    member_field_boxed: false,
    notes: &["This is the reddit simulator: any username signs in as its own account."],
    scope_names_shown: false,
};

fn error_page(detail: &str) -> Response {
    consent::error_page(
        &LOOK,
        403,
        "Forbidden",
        "Bad request (reddit.com)",
        detail,
        None,
    )
}

// ----- token endpoints -----

/// Reddit's token endpoint: a descriptive User-Agent first, the client in HTTP Basic, refusals
/// as HTTP 200 with an error body (as Reddit sends them), one-hour access tokens, a refresh
/// token for `duration=permanent` that is sent back as it is on each refresh, and a code
/// presented again ends every token issued from it.
const TOKEN_RULES: TokenRules = TokenRules {
    platform: PLATFORM,
    precheck: Some(|_, request| check_user_agent(request)),
    params: token::form_params,
    client_auth: ClientAuth::Basic {
        percent_decoded: false,
        body_id_must_match: false,
    },
    required_first: &[],
    grant_before_client: false,
    default_grant: None,
    code_params: &[filled("code")],
    refresh_params: &[filled("refresh_token")],
    code_suffix: None,
    code_reuse_revokes: true,
    access: Access {
        kind: "access",
        lifetime: |_| chrono::Duration::seconds(ACCESS_TOKEN_SECS),
        subject: |sim, member| sim.member_id(PLATFORM, member, 9).to_lowercase(),
    },
    refresh: Refresh::Issued {
        when: |_, code| code.offline,
        // Permanent: a signed token still needs a date, so it is a century away.
        lifetime: |_| chrono::Duration::days(36_500),
        refreshed_lifetime: None,
        on_refresh: OnRefresh::Repeated,
    },
    access_prefix: "",
    refresh_prefix: "",
    extra_grants: &[],
    refuse: refuse_token,
    answer: |_, issued| {
        let access = &issued.access;
        let mut body = json!({
            "access_token": issued.access_token,
            "token_type": "bearer",
            "expires_in": access.exp - access.iat,
            "scope": access.scp.join(" "),
        });
        // Since 2021 the refresh answer repeats the refresh token.
        if let Some((token, _)) = &issued.refresh {
            body["refresh_token"] = json!(token);
        }
        Response::json(200, &body)
    },
};

fn refuse_token(sim: &Simulator, refusal: &Refusal<'_>) -> Response {
    match refusal {
        Refusal::Client(_) | Refusal::ClientIdMismatch => json_error(401, "Unauthorized")
            .with_header("WWW-Authenticate", "Basic realm=\"reddit\""),
        Refusal::Missing("grant_type") | Refusal::UnsupportedGrant(_) => {
            token_error(200, "unsupported_grant_type")
        }
        Refusal::Missing(name) => Response::json(
            200,
            &json!({"json": {"errors": [["NO_TEXT", "we need something here", name]]}}),
        ),
        Refusal::Code { code, facts } => {
            if facts.unknown || facts.other_platform {
                // A code used twice ends every token issued from it.
                sim.revoke_grant(&token::grant_of_code(PLATFORM, code));
            }
            token_error(200, "invalid_grant")
        }
        Refusal::RefreshToken => token_error(400, "invalid_request"),
    }
}

/// The client behind `Authorization: Basic`, or the 401 Reddit sends without a valid one.
fn basic_client(sim: &Simulator, request: &Request) -> Result<String, Response> {
    let unauthorized = || {
        json_error(401, "Unauthorized").with_header("WWW-Authenticate", "Basic realm=\"reddit\"")
    };
    let header = request.header("authorization").unwrap_or_default().trim();
    let Some(encoded) = header
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, v)| v.trim())
    else {
        return Err(unauthorized());
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(unauthorized)?;
    let (id, secret) = decoded.split_once(':').ok_or_else(unauthorized)?;
    sim.authenticate_client(PLATFORM, id, secret)
        .map(|c| c.client_id)
        .ok_or_else(unauthorized)
}

fn token_error(status: u16, error: &str) -> Response {
    Response::json(status, &json!({"error": error}))
}

/// `POST /api/v1/revoke_token`, as reddit's `POST_revoke_token` (r2/controllers/oauth2.py)
/// does it: the token is looked up as an access token first, or as a refresh token first when
/// `token_type_hint=refresh_token`, and only the token found is revoked. An access token dies
/// alone and its refresh token (permanent with `duration=permanent`) keeps working; a refresh
/// token takes the access tokens it issued with it. Unknown tokens answer success too.
fn revoke(sim: &Simulator, request: &Request) -> Response {
    if let Err(response) = check_user_agent(request) {
        return response;
    }
    let client_id = match basic_client(sim, request) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let form = request.form();
    if let Some(claims) = client_token(
        sim,
        PLATFORM,
        form_value(&form, "token").unwrap_or_default(),
        &client_id,
    ) {
        if claims.typ == "refresh" {
            sim.revoke_grant(&claims.grant);
        } else {
            sim.revoke_token(&claims);
        }
    }
    Response::new(200)
}

// ----- the API (oauth.reddit.com) -----

/// The budget after counting this call: (used, remaining, seconds to reset, over the limit).
fn count_call(sim: &Simulator, client_id: &str) -> (u32, u32, i64, bool) {
    let now = sim.now().timestamp();
    let limit = sim.count_setting(PLATFORM, "requestsPerMinute");
    sim.with_platform_state(PLATFORM, |s: &mut RedditState| {
        // A window opens with a client's first call and lasts a minute.
        let entry = s.windows.entry(client_id.to_string()).or_insert((now, 0));
        if now >= entry.0 + WINDOW_SECS {
            *entry = (now, 0);
        }
        let over = entry.1 >= limit;
        if !over {
            entry.1 += 1;
        }
        let used = entry.1;
        (
            used,
            limit.saturating_sub(used),
            entry.0 + WINDOW_SECS - now,
            over,
        )
    })
}

fn with_rate_headers(response: Response, budget: (u32, u32, i64, bool)) -> Response {
    let (used, remaining, reset, _) = budget;
    response
        .with_header("X-Ratelimit-Used", &used.to_string())
        .with_header("X-Ratelimit-Remaining", &format!("{remaining}.0"))
        .with_header("X-Ratelimit-Reset", &reset.to_string())
}

fn invalid_token() -> Response {
    json_error(401, "Unauthorized").with_header(
        "WWW-Authenticate",
        "Bearer realm=\"reddit\", error=\"invalid_token\"",
    )
}

fn authenticate(sim: &Simulator, request: &Request) -> Result<TokenClaims, Response> {
    request
        .bearer_token()
        .and_then(|t| live_access_token(sim, PLATFORM, t))
        .filter(|claims| !sim.is_token_revoked(claims))
        .ok_or_else(invalid_token)
}

fn api_call(sim: &Simulator, request: &Request, path: &[&str]) -> Response {
    if let Err(response) = check_user_agent(request) {
        return response;
    }
    let claims = match authenticate(sim, request) {
        Ok(claims) => claims,
        Err(response) => return response,
    };
    let budget = count_call(sim, &claims.cid);
    if budget.3 {
        return with_rate_headers(json_error(429, "Too Many Requests"), budget);
    }
    let submit = path == ["api", "submit"];
    // Queued faults stand for the calls that identify and publish; the read-only lookups a
    // client makes before submitting (requirements, flair templates) pass them by, so a
    // fault meant for the submit reaches it.
    let lookup = matches!(
        path,
        ["api", "v1", _, "post_requirements"] | ["r", _, "api", "link_flair_v2"]
    );
    let fault = if lookup {
        None
    } else {
        sim.begin_api_call(PLATFORM, request)
    };
    let response = match fault {
        Some(fault) => {
            if fault.kind == FaultKind::RevokedToken {
                // The person revoked the app: its refresh token dies with the access token.
                sim.revoke_grant(&claims.grant);
            }
            fault_response(&fault, submit)
        }
        None => match (request.method.as_str(), path) {
            ("GET", ["api", "v1", "me"]) => me(&claims),
            ("POST", ["api", "submit"]) => submit_post(sim, request, &claims),
            ("GET", ["api", "v1", subreddit, "post_requirements"]) => {
                post_requirements(subreddit, &claims)
            }
            ("GET", ["r", subreddit, "api", "link_flair_v2"]) => link_flairs(subreddit, &claims),
            ("GET", ["user", username, "submitted"]) => {
                super::reddit_listing::submitted(sim, request, &claims, username)
            }
            ("GET", ["api", "info"]) => super::reddit_listing::info(sim, request, &claims),
            ("POST", ["api", "del"]) => super::reddit_listing::delete(sim, request, &claims),
            (
                _,
                ["api", "v1", "me"] | ["api", "submit" | "info" | "del"] | ["user", _, "submitted"],
            ) => json_error(405, "Method Not Allowed"),
            _ => json_error(404, "Not Found"),
        },
    };
    let response = if request.query_param("raw_json") == Some("1") {
        response
    } else {
        legacy_escaped(response)
    };
    with_rate_headers(response, budget)
}

/// reddit.com/dev/api, "response body encoding": "For legacy reasons, all JSON response bodies
/// currently have <, >, and & replaced with &lt;, &gt;, and &amp;, respectively. If you wish
/// to opt out of this behaviour, add a raw_json=1 parameter to your request." JSON's own syntax
/// uses none of the three, so replacing them in the body text touches only string values.
fn legacy_escaped(mut response: Response) -> Response {
    let is_json = response
        .headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("content-type") && v.contains("json"));
    if is_json && let Ok(text) = String::from_utf8(std::mem::take(&mut response.body)) {
        response.body = text
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .into_bytes();
    }
    response
}

pub(crate) fn has_scope(claims: &TokenClaims, scope: &str) -> bool {
    claims.scp.iter().any(|s| s == scope)
}

pub(crate) fn insufficient_scope() -> Response {
    Response::json(403, &json!({"message": "Forbidden", "error": 403})).with_header(
        "WWW-Authenticate",
        "Bearer realm=\"reddit\", error=\"insufficient_scope\"",
    )
}

fn me(claims: &TokenClaims) -> Response {
    if !has_scope(claims, "identity") {
        return insufficient_scope();
    }
    Response::json(
        200,
        &json!({
            "id": claims.sub,
            "name": claims.name,
            "icon_img": format!("https://styles.redditmedia.com/t5_sandbox/{}.png?width=256", claims.sub),
            "created_utc": 1_600_000_000.0,
            "link_karma": 1,
            "comment_karma": 0,
            "total_karma": 1,
            "has_verified_email": true,
            "is_mod": false,
            "verified": true,
            "subreddit": {"display_name_prefixed": format!("u/{}", claims.name)},
        }),
    )
}

/// `{"json":{"errors":[[CODE, message, field]]}}` with HTTP 200, as submit reports failures.
fn submit_errors(errors: &[(&str, String, &str)]) -> Response {
    let list: Vec<Value> = errors
        .iter()
        .map(|(code, message, field)| json!([code, message, field]))
        .collect();
    Response::json(200, &json!({"json": {"errors": list}}))
}

fn submit_error(code: &str, message: &str, field: &str) -> Response {
    submit_errors(&[(code, message.to_string(), field)])
}

/// `GET /api/v1/{subreddit}/post_requirements` (scope `submit`): what the subreddit's
/// moderators require of a post, in Reddit's field names; here only flair varies.
fn post_requirements(subreddit: &str, claims: &TokenClaims) -> Response {
    if !has_scope(claims, "submit") {
        return insufficient_scope();
    }
    if subreddit_kind(subreddit, claims).is_none() {
        return json_error(404, "Not Found");
    }
    let flair_required = FLAIR_REQUIRED.contains(&subreddit.to_ascii_lowercase().as_str());
    Response::json(
        200,
        &json!({
            "title_regexes": [],
            "body_blacklisted_strings": [],
            "title_blacklisted_strings": [],
            "body_text_max_length": null,
            "title_required_strings": [],
            "guidelines_text": null,
            "gallery_min_items": null,
            "domain_blacklist": [],
            "domain_whitelist": [],
            "title_text_max_length": null,
            "body_restriction_policy": "none",
            "link_restriction_policy": "none",
            "guidelines_display_policy": null,
            "body_required_strings": [],
            "title_text_min_length": null,
            "gallery_captions_requirement": "none",
            "is_flair_required": flair_required,
            "gallery_max_items": null,
            "gallery_urls_requirement": "none",
            "body_regexes": [],
            "link_repost_age": null,
            "body_text_min_length": null,
        }),
    )
}

/// `GET /r/{subreddit}/api/link_flair_v2` (scope `flair`): the subreddit's link flair
/// templates, each in Reddit's shape.
fn link_flairs(subreddit: &str, claims: &TokenClaims) -> Response {
    if !has_scope(claims, "flair") {
        return insufficient_scope();
    }
    if subreddit_kind(subreddit, claims).is_none() {
        return json_error(404, "Not Found");
    }
    let lower = subreddit.to_ascii_lowercase();
    let templates: Vec<Value> = if FLAIR_REQUIRED.contains(&lower.as_str()) {
        LINK_FLAIRS
            .iter()
            .map(|(id, text, editable, mod_only)| {
                json!({
                    "type": "text",
                    "text_editable": editable,
                    "allowable_content": "all",
                    "text": text,
                    "max_emojis": 10,
                    "text_color": "dark",
                    "mod_only": mod_only,
                    "css_class": "",
                    "richtext": [],
                    "background_color": "",
                    "id": id,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    Response::json(200, &Value::Array(templates))
}

/// What a subreddit accepts, `None` when it does not exist.
fn subreddit_kind<'a>(name: &str, claims: &TokenClaims) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    if lower == format!("u_{}", claims.name.to_ascii_lowercase()) {
        return Some("any");
    }
    SUBREDDITS
        .iter()
        .find(|(known, _)| *known == lower)
        .map(|(_, kind)| *kind)
}

fn new_post_id() -> String {
    const BASE36: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    random_bytes::<7>()
        .iter()
        .map(|b| BASE36[(*b as usize) % 36] as char)
        .collect()
}

fn slug(title: &str) -> String {
    let words: Vec<String> = title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(8)
        .map(str::to_lowercase)
        .collect();
    if words.is_empty() {
        "post".into()
    } else {
        words.join("_")
    }
}

fn submit_post(sim: &Simulator, request: &Request, claims: &TokenClaims) -> Response {
    if !has_scope(claims, "submit") {
        return insufficient_scope();
    }
    let form = request.form();
    let get = |name: &str| form_value(&form, name).unwrap_or_default();
    if get("api_type") != "json" {
        // Without api_type=json reddit answers in its legacy jQuery shape.
        return Response::json(
            200,
            &json!({"jquery": [[0, 1, "call", ["body"]]], "success": false}),
        );
    }
    let sr = get("sr").trim();
    let sr = sr.strip_prefix("r/").unwrap_or(sr);
    let kind = match get("kind") {
        "" => "link",
        other => other,
    };
    let title = get("title");
    let text = get("text");
    let url = get("url").trim();
    let mut errors: Vec<(&str, String, &str)> = Vec::new();
    if sr.is_empty() {
        errors.push((
            "BAD_SR_NAME",
            "This community name isn't recognizable. Check the spelling and try again.".into(),
            "sr",
        ));
    }
    if title.trim().is_empty() {
        errors.push(("NO_TEXT", "we need something here".into(), "title"));
    } else if title.chars().count() > TITLE_LIMIT {
        errors.push((
            "TOO_LONG",
            format!("this is too long (max: {TITLE_LIMIT})"),
            "title",
        ));
    }
    match kind {
        "self" => {
            if text.chars().count() > SELFTEXT_LIMIT {
                errors.push((
                    "TOO_LONG",
                    format!("this is too long (max: {SELFTEXT_LIMIT})"),
                    "text",
                ));
            }
        }
        "link" => {
            if url.is_empty() {
                errors.push(("NO_URL", "a url is required".into(), "url"));
            } else if !(url.starts_with("http://") || url.starts_with("https://"))
                || url.contains(' ')
            {
                errors.push(("BAD_URL", "you should check that url".into(), "url"));
            }
        }
        _ => errors.push(("INVALID_OPTION", "that option is not valid".into(), "kind")),
    }
    let flair_id = get("flair_id").trim();
    let flair_text = get("flair_text");
    if flair_id.chars().count() > FLAIR_ID_LIMIT {
        errors.push((
            "TOO_LONG",
            format!("this is too long (max: {FLAIR_ID_LIMIT})"),
            "flair_id",
        ));
    }
    if flair_text.chars().count() > FLAIR_TEXT_LIMIT {
        errors.push((
            "TOO_LONG",
            format!("this is too long (max: {FLAIR_TEXT_LIMIT})"),
            "flair_text",
        ));
    }
    if !errors.is_empty() {
        return submit_errors(&errors);
    }
    let Some(accepts) = subreddit_kind(sr, claims) else {
        return submit_error(
            "SUBREDDIT_NOEXIST",
            "Hmm, that community doesn't exist. Try checking the spelling.",
            "sr",
        );
    };
    if FLAIR_REQUIRED.contains(&sr.to_ascii_lowercase().as_str()) {
        // A template moderators keep for themselves counts as none. [inf] Reddit's answer to
        // an unknown template id is not documented; it is refused like a missing one.
        let usable = LINK_FLAIRS.iter().any(|t| t.0 == flair_id && !t.3);
        if !usable {
            return submit_error(
                "SUBMIT_VALIDATION_FLAIR_REQUIRED",
                "Your post must contain post flair.",
                "flair",
            );
        }
    }
    if accepts == "link" && kind == "self" {
        return submit_error("NO_SELFS", "This community doesn't allow text posts.", "sr");
    }
    if accepts == "self" && kind == "link" {
        return submit_error("NO_LINKS", "This community only allows text posts.", "sr");
    }
    let now = sim.now();
    let id = new_post_id();
    let sr_lower = sr.to_ascii_lowercase();
    let permalink = format!(
        "https://www.reddit.com/r/{sr}/comments/{id}/{}/",
        slug(title)
    );
    let record = json!({
        "id": id,
        "name": format!("t3_{id}"),
        "author": claims.name,
        "authorId": claims.sub,
        "subreddit": sr_lower,
        "kind": kind,
        "title": title,
        "text": if kind == "self" { json!(text) } else { Value::Null },
        "url": if kind == "link" { json!(url) } else { Value::Null },
        "flairId": if flair_id.is_empty() { Value::Null } else { json!(flair_id) },
        "flairText": if flair_text.is_empty() { Value::Null } else { json!(flair_text) },
        "permalink": permalink,
        "clientId": claims.cid,
        "userAgent": request.header("user-agent"),
        "createdAt": format_timestamp(now),
    });
    // A link already submitted to the same subreddit is refused unless resubmit=true.
    let resubmit = get("resubmit") == "true";
    let outcome = sim.record_post_unless_duplicate(
        PLATFORM,
        now - chrono::Duration::days(3650),
        |earlier| {
            !resubmit
                && kind == "link"
                && earlier["kind"] == "link"
                && earlier["subreddit"] == sr_lower.as_str()
                && earlier["url"] == url
        },
        record,
    );
    match outcome {
        Ok(()) => Response::json(
            200,
            &json!({"json": {"errors": [], "data": {
                "url": permalink,
                "drafts_count": 0,
                "id": id,
                "name": format!("t3_{id}"),
            }}}),
        ),
        Err(_) => already_submitted(),
    }
}

fn already_submitted() -> Response {
    submit_error("ALREADY_SUB", "that link has already been submitted", "url")
}

/// A queued fault in Reddit's shapes: submit's throttle and duplicate refusals come as
/// HTTP 200 errors, like the real ones.
fn fault_response(fault: &Fault, submit: bool) -> Response {
    match fault.kind {
        FaultKind::ServerError { status } => json_error(
            status,
            match status {
                502 => "Bad Gateway",
                503 => "Service Unavailable",
                504 => "Gateway Timeout",
                _ => "Internal Server Error",
            },
        ),
        FaultKind::RateLimit { retry_after } if submit => {
            let minutes = retry_after.map(|s| s.div_ceil(60).max(1)).unwrap_or(1);
            let unit = if minutes == 1 { "minute" } else { "minutes" };
            submit_error(
                "RATELIMIT",
                &format!(
                    "Looks like you've been doing that a lot. Take a break for {minutes} {unit} before trying again."
                ),
                "ratelimit",
            )
        }
        FaultKind::RateLimit { retry_after } => {
            let response = json_error(429, "Too Many Requests");
            match retry_after {
                Some(secs) => response.with_header("Retry-After", &secs.to_string()),
                None => response,
            }
        }
        FaultKind::Timeout { .. } => json_error(504, "Gateway Timeout"),
        FaultKind::RevokedToken => invalid_token(),
        FaultKind::Duplicate => already_submitted(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_must_say_who_runs_the_app() {
        assert!(user_agent_is_descriptive(
            "web:com.example.poster:v1.2.3 (by /u/someone)"
        ));
        assert!(!user_agent_is_descriptive("ureq/2.12.1"));
        assert!(!user_agent_is_descriptive("python-requests/2.31 (by /u/x)"));
        assert!(!user_agent_is_descriptive("web:app:1.0"));
        assert!(!user_agent_is_descriptive("web:app:1.0 (by /u/)"));
    }
}
