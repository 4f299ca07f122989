//! Threads (Meta) as the simulator plays it: the authorize window of `threads.net/oauth/authorize`,
//! the token endpoints of `graph.threads.net` (code → short-lived token, `th_exchange_token` →
//! long-lived token, `th_refresh_token`), the profile, media containers with their status
//! state machine, `threads_publish`, media retrieval (`permalink`), the publishing quota, and
//! (in `threads/posts.rs`) the list of the user's posts and deleting one, answering in Meta's
//! Graph error envelope. Paths here are relative to `{mount}/threads`;
//! the real hosts' paths (`/oauth/authorize`, `/oauth/access_token`, `/access_token`,
//! `/refresh_access_token`, `/v1.0/...`) do not overlap, so one prefix serves all three hosts.
//!
//! Per-post control for tests and integrators, read from the `image_url`/`video_url` query
//! (the simulator's sample media ignores these parameters): `sim_polls=N` keeps
//! the container `IN_PROGRESS` for N status checks (default: 0 for images, 1 for videos),
//! `sim_error=FAILED_PROCESSING_VIDEO` ends it in `ERROR` with that message, and
//! `sim_not_ready=N` makes `threads_publish` answer the "media not found" race N times.
//!
//! Codes, revocations, faults and posts are the shared pieces of `Simulator`; containers are
//! this file's own state (`ThreadsState`), kept in the simulator's per-platform store.

use super::authorize::{Authorize, AuthorizeRules, Problem, Rejection, ScopeRule, Step};
use super::consent::{self, ConsentFlow, ConsentWords, Look, authorize_decision, authorize_page};
use super::faults::{Fault, FaultKind};
use super::oauth::ClientProblem;
use super::token::{self, Access, ClientAuth, Refresh, Refusal, TokenRules, filled};
use super::{Simulator, TokenClaims, redirect_with};
use crate::Platform;
use crate::crypto::{random_bytes, random_token};
use chrono::Duration;
use httpkit::clock::format_timestamp;
use httpkit::{Request, Response, form_value, parse_query};
use serde_json::{Value, json};
use std::collections::HashMap;

mod posts;

const PLATFORM: Platform = Platform::Threads;

/// What this platform keeps in the simulator between API calls: media containers by id.
#[derive(Default)]
struct ThreadsState {
    containers: HashMap<String, Value>,
}

/// Runs `f` on the containers under the simulator's lock (so `f` must not call back into it).
fn with_platform_containers<R>(
    sim: &Simulator,
    f: impl FnOnce(&mut HashMap<String, Value>) -> R,
) -> R {
    sim.with_platform_state(
        PLATFORM,
        |state: &mut ThreadsState| f(&mut state.containers),
    )
}

/// Reads and changes one container; `None` when there is no such id.
fn with_container<R>(sim: &Simulator, id: &str, change: impl FnOnce(&mut Value) -> R) -> Option<R> {
    with_platform_containers(sim, |containers| containers.get_mut(id).map(change))
}

/// The name the authorize window proposes; any name signs in as a profile of its own.
pub const DEFAULT_MEMBER_NAME: &str = "Alex Morgan";

pub const TEXT_LIMIT: usize = 500;
pub const LINK_LIMIT: usize = 5;
/// `reply_control` of a container, Threads' enumeration.
const REPLY_CONTROLS: &[&str] = &[
    "everyone",
    "accounts_you_follow",
    "mentioned_only",
    "parent_post_author_only",
    "followers_only",
];
/// API-published posts per profile in a moving 24 hours.
pub const POSTS_PER_DAY: usize = 250;
/// `expires_in` of a long-lived token, as the documentation shows it (~60 days).
pub const LONG_LIVED_SECS: i64 = 5_183_944;
const SHORT_LIVED_SECS: i64 = 3600;
/// A long-lived token can be refreshed once it is this old.
const REFRESH_MIN_AGE_SECS: i64 = 24 * 3600;
/// Authorization codes are valid for one hour and single-use.
const CODE_TTL_SECS: i64 = 3600;
/// A container not published within 24 hours expires.
const CONTAINER_TTL_HOURS: i64 = 24;
const DEFAULT_VIDEO_POLLS: u64 = 1;

const SCOPES: &[(&str, &str)] = &[
    (
        "threads_basic",
        "Access your Threads profile information and posts",
    ),
    (
        "threads_content_publish",
        "Create and publish posts on Threads on your behalf",
    ),
    ("threads_manage_replies", "Manage replies to your posts"),
    ("threads_read_replies", "Read replies to your posts"),
    ("threads_manage_insights", "Read insights of your posts"),
    ("threads_delete", "Delete your posts"),
];

pub(crate) fn handle(sim: &Simulator, request: &Request, base: &str, path: &[&str]) -> Response {
    match (request.method.as_str(), path) {
        ("GET", ["oauth", "authorize"]) => authorize_page::<Consent>(sim, &request.query, base),
        ("POST", ["oauth", "authorize"]) => authorize_decision::<Consent>(sim, request, base),
        ("POST", ["oauth", "access_token"]) => token::endpoint(sim, request, &TOKEN_RULES),
        ("GET", ["access_token"]) => exchange_long_lived(sim, request),
        ("GET", ["refresh_access_token"]) => refresh(sim, request),
        (
            _,
            ["oauth", "authorize" | "access_token"] | ["access_token"] | ["refresh_access_token"],
        ) => graph_error(
            400,
            100,
            None,
            "Unsupported request - method type",
            "OAuthException",
        ),
        (_, ["v1.0", rest @ ..]) => api_call(sim, request, rest),
        _ => graph_error(400, 2500, None, "Unknown path components", "OAuthException"),
    }
}

// ----- errors -----

/// Meta's Graph error envelope.
fn graph_error(
    status: u16,
    code: i64,
    subcode: Option<i64>,
    message: &str,
    kind: &str,
) -> Response {
    let mut error = json!({
        "message": message,
        "type": kind,
        "code": code,
        "fbtrace_id": random_token(27),
    });
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    Response::json(status, &json!({"error": error}))
}

fn oauth(code: i64, message: &str) -> Response {
    graph_error(400, code, None, message, "OAuthException")
}

fn missing_param(name: &str) -> Response {
    graph_error(
        400,
        100,
        None,
        &format!("The parameter {name} is required"),
        "OAuthException",
    )
}

fn invalid_token() -> Response {
    oauth(
        190,
        "Invalid OAuth access token - Cannot parse access token",
    )
}

fn revoked_token(client_id: &str) -> Response {
    graph_error(
        400,
        190,
        Some(458),
        &format!(
            "Error validating access token: The user has not authorized application {client_id}."
        ),
        "OAuthException",
    )
}

fn expired_token(exp: i64) -> Response {
    let at = chrono::DateTime::from_timestamp(exp, 0)
        .map(|t| t.format("%A, %d-%b-%y %H:%M:%S UTC").to_string())
        .unwrap_or_default();
    graph_error(
        400,
        190,
        Some(463),
        &format!("Error validating access token: Session has expired on {at}."),
        "OAuthException",
    )
}

fn not_ready() -> Response {
    let mut response = graph_error(
        400,
        24,
        Some(4_279_009),
        "The requested resource does not exist",
        "THApiException",
    );
    // Meta adds these user-facing fields to this one.
    let mut body: Value = serde_json::from_slice(&response.body).unwrap_or_default();
    body["error"]["error_user_title"] = json!("Media Not Found");
    body["error"]["error_user_msg"] = json!("The requested resource does not exist");
    body["error"]["is_transient"] = json!(false);
    response.body = body.to_string().into_bytes();
    response
}

fn no_such_object(id: &str) -> Response {
    graph_error(
        400,
        100,
        Some(33),
        &format!(
            "Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
        ),
        "THApiException",
    )
}

/// A queued fault in Meta's shape.
fn fault_response(sim: &Simulator, request: &Request, fault: &Fault) -> Response {
    match fault.kind {
        FaultKind::ServerError { status } => {
            let (code, message) = match status {
                503 => (2, "Service temporarily unavailable"),
                _ => (1, "An unknown error has occurred."),
            };
            let mut response = graph_error(status, code, None, message, "OAuthException");
            let mut body: Value = serde_json::from_slice(&response.body).unwrap_or_default();
            body["error"]["is_transient"] = json!(true);
            response.body = body.to_string().into_bytes();
            response
        }
        FaultKind::RateLimit { retry_after } => {
            let response = oauth(4, "Application request limit reached");
            match retry_after {
                Some(secs) => response.with_header("Retry-After", &secs.to_string()),
                None => response,
            }
        }
        // The delay was already served by `begin_api_call`.
        FaultKind::Timeout { .. } => graph_error(504, 2, None, "Gateway Timeout", "OAuthException"),
        FaultKind::RevokedToken => {
            // The person removed the app: every token of that consent stops working, so a
            // refresh cannot bring it back either.
            let claims = token_of(request).and_then(|t| verify(sim, t));
            if let Some(claims) = &claims {
                sim.revoke_grant(&claims.grant);
            }
            revoked_token(claims.as_ref().map(|c| c.cid.as_str()).unwrap_or("unknown"))
        }
        FaultKind::Duplicate => oauth(506, "Duplicate status message"),
    }
}

// ----- tokens -----

/// Threads tokens start with `TH`; the rest is the simulator's signed claims.
fn sign(sim: &Simulator, claims: &TokenClaims) -> String {
    format!("TH{}", sim.sign_token(claims))
}

fn verify(sim: &Simulator, token: &str) -> Option<TokenClaims> {
    sim.verify_token(token.strip_prefix("TH")?)
        .filter(|c| c.plat == PLATFORM.key())
}

/// The token of an API call: a Bearer header, or `access_token` in the query or form.
fn token_of(request: &Request) -> Option<&str> {
    request
        .bearer_token()
        .or_else(|| request.query_param("access_token"))
        .filter(|t| !t.is_empty())
}

/// Query and form parameters together, as Graph endpoints read both.
fn params(request: &Request) -> Vec<(String, String)> {
    let mut all = request.query.clone();
    let is_form = request
        .header("content-type")
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        all.extend(request.form());
    }
    all
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form_value(params, name).filter(|v| !v.is_empty())
}

fn user_id(sim: &Simulator, member_name: &str) -> String {
    let digits: String = sim
        .member_id(PLATFORM, member_name, 16)
        .bytes()
        .map(|b| char::from(b'0' + b % 10))
        .collect();
    format!("2{digits}")
}

fn username(member_name: &str) -> String {
    let name: String = member_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let name = name.trim_matches('_').to_string();
    if name.is_empty() {
        "threads_user".into()
    } else {
        name
    }
}

// ----- authorize window -----

/// An authorization request, checked the way Threads checks it: every problem gets an error
/// page (redirecting to an unregistered URI would be an open redirect).
const AUTHORIZE_RULES: AuthorizeRules = AuthorizeRules {
    platform: PLATFORM,
    trimmed: true,
    state_trimmed: false,
    response_type_optional: false,
    steps: &[Step::Scopes],
    scopes: ScopeRule {
        required: Some("threads_basic"),
        ..ScopeRule::new(SCOPES, &[',', ' '], ",")
    },
    form_fields: &[
        "client_id",
        "redirect_uri",
        "scope",
        "response_type",
        "state",
    ],
    refuse_client: |problem, redirect_uri| match problem {
        ClientProblem::UnknownClient => error_page(
            "Invalid app ID",
            "The app you are signing in to is not known to Threads. Check that it sends its Threads App ID as client_id.",
        ),
        ClientProblem::RedirectNotRegistered => error_page(
            "URL blocked",
            &format!(
                "This redirect failed because \"{redirect_uri}\" is not whitelisted in the app's Client OAuth Settings."
            ),
        ),
    },
    refuse: |problem| {
        Rejection::Page(match problem {
            Problem::ResponseType => error_page("Invalid request", "response_type must be code."),
            Problem::UnknownScope(scope) => {
                error_page("Invalid scopes", &format!("Invalid Scopes: {scope}."))
            }
            _ => error_page(
                "Invalid scopes",
                "threads_basic is required: ask for it with every other permission.",
            ),
        })
    },
};

/// Meta's redirect: the pairs, then `#_`, which is not part of any value.
fn meta_redirect(uri: &str, pairs: &[(&str, &str)]) -> Response {
    Response::redirect(&format!("{}#_", redirect_with(uri, pairs)))
}

/// Meta's redirect back to `request`'s app with `pairs`, then `state` when the request had one.
fn back<'a>(request: &'a Authorize, mut pairs: Vec<(&'a str, &'a str)>) -> Response {
    if !request.state.is_empty() {
        pairs.push(("state", request.state.as_str()));
    }
    meta_redirect(&request.redirect_uri, &pairs)
}

/// Threads' consent flow (`consent.rs`).
struct Consent;

impl ConsentFlow for Consent {
    const RULES: &'static AuthorizeRules = &AUTHORIZE_RULES;
    const LOOK: &'static Look = &LOOK;
    const WORDS: &'static ConsentWords = &CONSENT_WORDS;
    const PATH: &'static str = "/oauth/authorize";
    const DEFAULT_MEMBER_NAME: &'static str = DEFAULT_MEMBER_NAME;
    const MEMBER_NAME_RULE: &'static str =
        "Enter the name of the profile to sign in as (at most 100 characters).";

    fn code_ttl(_sim: &Simulator) -> chrono::Duration {
        Duration::seconds(CODE_TTL_SECS)
    }
    fn allowed(request: &Authorize, code: String) -> Response {
        back(request, vec![("code", code.as_str())])
    }
    fn denied(request: &Authorize) -> Response {
        back(
            request,
            vec![
                ("error", "access_denied"),
                ("error_reason", "user_denied"),
                ("error_description", "Permissions error"),
            ],
        )
    }
    fn undecided() -> Response {
        error_page(
            "Something went wrong",
            "The form was sent without a decision; choose Allow or Deny.",
        )
    }
}

const STYLE: &str = "body{margin:0;background:#fff;font-family:-apple-system,system-ui,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#000}\
header{padding:20px;text-align:center;font-size:32px;font-weight:700}\
main{max-width:420px;margin:12px auto;border:1px solid #dbdbdb;border-radius:16px;padding:24px}\
h1{font-size:20px;font-weight:600;margin:0 0 8px}p{line-height:1.4}ul{padding-left:20px}li{margin:6px 0}\
label{display:block;font-size:14px;font-weight:600;margin:16px 0 4px}\
input[type=text]{width:100%;box-sizing:border-box;padding:12px;border:1px solid #dbdbdb;border-radius:12px;font-size:16px;background:#fafafa}\
.actions{display:flex;gap:8px;justify-content:flex-end;margin-top:24px}\
button{border-radius:12px;padding:10px 22px;font-size:16px;font-weight:600;cursor:pointer}\
.allow{background:#000;color:#fff;border:none}.deny{background:#fff;color:#000;border:1px solid #dbdbdb}\
.error{color:#ed4956;font-weight:600}.small{font-size:12px;color:#737373}";

const LOOK: Look = Look {
    title_suffix: " • Threads (sandbox)",
    style: STYLE,
    header: "<header>@ Threads</header>",
    main_start: "",
};

const CONSENT_WORDS: ConsentWords = ConsentWords {
    title: "Allow {app}",
    heading: "{app} is requesting access to:",
    intro: None,
    member_label: "Continue as",
    member_max_chars: 100,
    member_autocomplete: true,
    member_field_boxed: false,
    notes: &[
        "This is the Threads simulator: any name signs in as a profile of its own, and the same name is the same profile.",
        "You can remove {app} at any time in your Threads settings under Account &gt; Website permissions.",
    ],
    scope_names_shown: true,
};

fn error_page(heading: &str, detail: &str) -> Response {
    consent::error_page(&LOOK, 400, heading, heading, detail, None)
}

// ----- token endpoints -----

#[allow(clippy::too_many_arguments)]
fn token_claims(
    typ: &str,
    client_id: &str,
    sub: String,
    name: String,
    scopes: Vec<String>,
    lifetime: i64,
    grant: String,
    now: i64,
) -> TokenClaims {
    TokenClaims {
        typ: typ.into(),
        plat: PLATFORM.key().into(),
        cid: client_id.to_string(),
        sub,
        name,
        scp: scopes,
        iat: now,
        exp: now + lifetime,
        grant,
        nonce: random_token(16),
    }
}

/// The token endpoint of `graph.threads.net` (`POST /oauth/access_token`, form or query):
/// every parameter required first, the grant type checked before the client, the code for a
/// one-hour token and the user id as a JSON number. Long-lived tokens come from the exchange
/// and refresh endpoints below, not from a refresh grant.
const TOKEN_RULES: TokenRules = TokenRules {
    platform: PLATFORM,
    precheck: None,
    params,
    client_auth: ClientAuth::Params,
    required_first: &[
        filled("client_id"),
        filled("client_secret"),
        filled("code"),
        filled("grant_type"),
        filled("redirect_uri"),
    ],
    grant_before_client: true,
    default_grant: None,
    code_params: &[],
    refresh_params: &[],
    code_suffix: None,
    code_reuse_revokes: false,
    access: Access {
        kind: "short",
        lifetime: |_| Duration::seconds(SHORT_LIVED_SECS),
        subject: user_id,
    },
    refresh: Refresh::None,
    access_prefix: "TH",
    refresh_prefix: "TH",
    extra_grants: &[],
    refuse: |_, refusal| match refusal {
        Refusal::Missing(name) => missing_param(name),
        Refusal::Client(client) if !client.known => {
            oauth(101, "Error validating application. Invalid application ID.")
        }
        Refusal::Client(_) | Refusal::ClientIdMismatch => {
            oauth(1, "Error validating client secret.")
        }
        Refusal::UnsupportedGrant(other) => oauth(100, &format!("Unsupported grant_type: {other}")),
        Refusal::RefreshToken => oauth(100, "Unsupported grant_type: refresh_token"),
        Refusal::Code { facts, .. }
            if facts.unknown || facts.other_platform || facts.other_client =>
        {
            graph_error(
                400,
                100,
                Some(36009),
                "This authorization code has been used or is not valid.",
                "OAuthException",
            )
        }
        Refusal::Code { facts, .. } if facts.expired => graph_error(
            400,
            100,
            Some(36007),
            "This authorization code has expired.",
            "OAuthException",
        ),
        Refusal::Code { .. } => graph_error(
            400,
            100,
            Some(36008),
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
            "OAuthException",
        ),
    },
    answer: |_, issued| {
        let numeric: u64 = issued.access.sub.parse().unwrap_or_default();
        Response::json(
            200,
            &json!({"access_token": issued.access_token, "user_id": numeric}),
        )
        .with_header("Cache-Control", "no-store")
    },
};

/// `GET /access_token?grant_type=th_exchange_token&client_secret&access_token`.
fn exchange_long_lived(sim: &Simulator, request: &Request) -> Response {
    let params = &request.query;
    for name in ["grant_type", "client_secret", "access_token"] {
        if param(params, name).is_none() {
            return missing_param(name);
        }
    }
    if param(params, "grant_type") != Some("th_exchange_token") {
        return oauth(100, "Unsupported grant_type; use th_exchange_token");
    }
    let Some(short) = param(params, "access_token").and_then(|t| verify(sim, t)) else {
        return invalid_token();
    };
    let secret = param(params, "client_secret").unwrap_or_default();
    if sim
        .authenticate_client(PLATFORM, &short.cid, secret)
        .is_none()
    {
        return oauth(1, "Error validating client secret.");
    }
    if let Err(response) = usable(sim, &short) {
        return response;
    }
    if short.typ != "short" {
        return oauth(
            100,
            "Only a short-lived Threads user access token can be exchanged for a long-lived one.",
        );
    }
    long_lived_answer(sim, &short)
}

fn long_lived_answer(sim: &Simulator, from: &TokenClaims) -> Response {
    let claims = token_claims(
        "access",
        &from.cid,
        from.sub.clone(),
        from.name.clone(),
        from.scp.clone(),
        LONG_LIVED_SECS,
        from.grant.clone(),
        sim.now().timestamp(),
    );
    Response::json(
        200,
        &json!({
            "access_token": sign(sim, &claims),
            "token_type": "bearer",
            "expires_in": LONG_LIVED_SECS,
        }),
    )
    .with_header("Cache-Control", "no-store")
}

/// Revoked or expired tokens get Meta's 190 with the subcode that says which.
fn usable(sim: &Simulator, claims: &TokenClaims) -> Result<(), Response> {
    if sim.is_revoked(&claims.grant) {
        return Err(revoked_token(&claims.cid));
    }
    if sim.now().timestamp() >= claims.exp {
        return Err(expired_token(claims.exp));
    }
    Ok(())
}

/// `GET /refresh_access_token?grant_type=th_refresh_token&access_token=<long-lived>`: a new
/// 60-day token, once the given one is at least 24 hours old and still valid.
fn refresh(sim: &Simulator, request: &Request) -> Response {
    let params = &request.query;
    for name in ["grant_type", "access_token"] {
        if param(params, name).is_none() {
            return missing_param(name);
        }
    }
    if param(params, "grant_type") != Some("th_refresh_token") {
        return oauth(100, "Unsupported grant_type; use th_refresh_token");
    }
    let Some(claims) = param(params, "access_token").and_then(|t| verify(sim, t)) else {
        return invalid_token();
    };
    if let Err(response) = usable(sim, &claims) {
        return response;
    }
    if claims.typ != "access" {
        return oauth(
            100,
            "Short-lived tokens cannot be refreshed; exchange them for a long-lived token first.",
        );
    }
    if !claims.scp.iter().any(|s| s == "threads_basic") {
        return oauth(
            10,
            "The threads_basic permission is required to refresh a token.",
        );
    }
    let age = sim.now().timestamp() - claims.iat;
    if age < REFRESH_MIN_AGE_SECS {
        return oauth(
            100,
            &format!(
                "The access token cannot be refreshed yet: a long-lived token can be refreshed once it is at least 24 hours old (this one is {} hours old).",
                age / 3600
            ),
        );
    }
    long_lived_answer(sim, &claims)
}

// ----- the Graph API -----

fn api_call(sim: &Simulator, request: &Request, path: &[&str]) -> Response {
    if let Some(fault) = sim.begin_api_call(PLATFORM, request) {
        return fault_response(sim, request, &fault);
    }
    let claims = match authenticate(sim, request) {
        Ok(claims) => claims,
        Err(response) => return response,
    };
    let params = params(request);
    let is_self = |id: &str| id == "me" || id == claims.sub;
    match (request.method.as_str(), path) {
        ("GET", [id]) if is_self(id) => profile(&claims, &params),
        ("GET", [id]) => read_object(sim, &claims, id, &params),
        ("POST", [id, "threads"]) if is_self(id) => create_container(sim, &claims, &params),
        ("POST", [id, "threads_publish"]) if is_self(id) => publish(sim, &claims, &params),
        ("GET", [id, "threads_publishing_limit"]) if is_self(id) => publishing_limit(sim, &claims),
        ("GET", [id, "threads"]) if is_self(id) => posts::list(sim, &claims, &params),
        ("DELETE", [id]) if !is_self(id) => posts::delete(sim, &claims, id),
        (_, [id, ..]) => no_such_object(id),
        _ => graph_error(400, 2500, None, "Unknown path components", "OAuthException"),
    }
}

fn authenticate(sim: &Simulator, request: &Request) -> Result<TokenClaims, Response> {
    let Some(token) = token_of(request) else {
        return Err(oauth(
            2500,
            "An active access token must be used to query information about the current user.",
        ));
    };
    let claims = verify(sim, token)
        .filter(|c| c.typ == "short" || c.typ == "access")
        .ok_or_else(invalid_token)?;
    usable(sim, &claims)?;
    Ok(claims)
}

fn requested_fields(params: &[(String, String)]) -> Vec<String> {
    param(params, "fields")
        .unwrap_or("id")
        .split(',')
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect()
}

/// `GET /v1.0/me?fields=...`: only the token's own profile can be read.
fn profile(claims: &TokenClaims, params: &[(String, String)]) -> Response {
    let all = json!({
        "id": claims.sub,
        "username": username(&claims.name),
        "name": claims.name,
        "threads_profile_picture_url": format!("https://scontent.cdninstagram.com/sandbox/{}/profile.jpg", claims.sub),
        "threads_biography": "",
        "is_verified": false,
    });
    let mut body = json!({"id": claims.sub});
    for field in requested_fields(params) {
        match all.get(&field) {
            Some(value) => body[&field] = value.clone(),
            None => {
                return graph_error(
                    400,
                    100,
                    None,
                    &format!("Tried accessing nonexisting field ({field}) on node type (User)"),
                    "THApiException",
                );
            }
        }
    }
    Response::json(200, &body)
}

/// The per-post controls carried in a media URL's query (see the module comment).
fn url_control(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1.split('#').next().unwrap_or_default();
    parse_query(query)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn numeric_id() -> String {
    let digits: String = random_bytes::<16>()
        .iter()
        .map(|b| char::from(b'0' + b % 10))
        .collect();
    format!("1{digits}")
}

/// `POST /v1.0/{user-id}/threads`: a media container.
fn create_container(
    sim: &Simulator,
    claims: &TokenClaims,
    params: &[(String, String)],
) -> Response {
    if !claims.scp.iter().any(|s| s == "threads_content_publish") {
        return graph_error(
            400,
            10,
            None,
            "Application does not have permission for this action",
            "OAuthException",
        );
    }
    let Some(media_type) = param(params, "media_type") else {
        return missing_param("media_type");
    };
    let text = param(params, "text").unwrap_or_default();
    let media_url = match media_type {
        "TEXT" => {
            if text.is_empty() {
                return missing_param("text");
            }
            None
        }
        "IMAGE" | "VIDEO" => {
            let field = if media_type == "IMAGE" {
                "image_url"
            } else {
                "video_url"
            };
            let Some(url) = param(params, field) else {
                return missing_param(field);
            };
            let lower = url.to_ascii_lowercase();
            if !(lower.starts_with("http://") || lower.starts_with("https://")) {
                return graph_error(
                    400,
                    100,
                    Some(2207052),
                    "The media could not be fetched from this URI",
                    "THApiException",
                );
            }
            Some(url.to_string())
        }
        "CAROUSEL" => return missing_param("children"),
        other => {
            return graph_error(
                400,
                100,
                None,
                &format!(
                    "Param media_type must be one of {{TEXT, IMAGE, VIDEO, CAROUSEL}}, got {other}"
                ),
                "THApiException",
            );
        }
    };
    let length = text_length(text);
    if length > TEXT_LIMIT {
        return graph_error(
            400,
            100,
            None,
            &format!("Param text must be at most {TEXT_LIMIT} characters long (it is {length})."),
            "THApiException",
        );
    }
    if count_links(text) > LINK_LIMIT {
        return graph_error(
            400,
            100,
            None,
            &format!(
                "THREADS_API__LINK_LIMIT_EXCEEDED: a post may contain at most {LINK_LIMIT} links."
            ),
            "THApiException",
        );
    }
    let reply_control = param(params, "reply_control");
    if let Some(control) = reply_control
        && !REPLY_CONTROLS.contains(&control)
    {
        return graph_error(
            400,
            100,
            None,
            &format!(
                "Param reply_control must be one of {}",
                REPLY_CONTROLS.join(", ")
            ),
            "THApiException",
        );
    }
    let control = |name: &str| media_url.as_deref().and_then(|u| url_control(u, name));
    let default_polls = if media_type == "VIDEO" {
        DEFAULT_VIDEO_POLLS
    } else {
        0
    };
    let id = numeric_id();
    let container = json!({
            "id": id,
            "owner": claims.sub,
            "clientId": claims.cid,
            "username": username(&claims.name),
            "mediaType": media_type,
            "text": text,
            "imageUrl": if media_type == "IMAGE" { json!(media_url) } else { Value::Null },
            "videoUrl": if media_type == "VIDEO" { json!(media_url) } else { Value::Null },
            "altText": param(params, "alt_text"),
            "replyControl": reply_control,
            "createdAt": sim.now().timestamp(),
            "pollsLeft": control("sim_polls").and_then(|v| v.parse::<u64>().ok()).unwrap_or(default_polls),
            "error": control("sim_error"),
            "notReadyLeft": control("sim_not_ready").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0),
            "mediaId": null,
    });
    with_platform_containers(sim, |containers| containers.insert(id.clone(), container));
    Response::json(200, &json!({"id": id}))
}

/// A container's status, advancing its processing by one check when `advance`.
fn container_status(container: &mut Value, now: i64, advance: bool) -> &'static str {
    if !container["mediaId"].is_null() {
        return "PUBLISHED";
    }
    let created = container["createdAt"].as_i64().unwrap_or_default();
    if now - created >= CONTAINER_TTL_HOURS * 3600 {
        return "EXPIRED";
    }
    let left = container["pollsLeft"].as_u64().unwrap_or_default();
    if left > 0 {
        if advance {
            container["pollsLeft"] = json!(left - 1);
        }
        return "IN_PROGRESS";
    }
    if container["error"].is_string() {
        return "ERROR";
    }
    "FINISHED"
}

/// `GET /v1.0/{id}?fields=...`: a container's status or a published post's fields.
fn read_object(
    sim: &Simulator,
    claims: &TokenClaims,
    id: &str,
    params: &[(String, String)],
) -> Response {
    let fields = requested_fields(params);
    let now = sim.now().timestamp();
    let container = with_container(sim, id, |container| {
        if container["owner"] != claims.sub.as_str() {
            return None;
        }
        let status = container_status(container, now, fields.iter().any(|f| f == "status"));
        Some((status, container.clone()))
    });
    if let Some(Some((status, container))) = container {
        let mut body = json!({"id": id});
        for field in &fields {
            match field.as_str() {
                "id" => {}
                "status" => body["status"] = json!(status),
                "error_message" if status == "ERROR" => {
                    body["error_message"] = container["error"].clone()
                }
                "error_message" => {}
                other => return nonexisting_field(other, "ThreadsMediaContainer"),
            }
        }
        return Response::json(200, &body);
    }
    let Some(post) = sim.accepted_posts(PLATFORM).into_iter().find(|p| {
        p["id"] == id && p["userId"] == claims.sub.as_str() && p["deleted"] != Value::Bool(true)
    }) else {
        return no_such_object(id);
    };
    let all = json!({
        "id": post["id"],
        "permalink": post["permalink"],
        "shortcode": post["shortcode"],
        "username": post["username"],
        "text": post["text"],
        "media_type": post["mediaType"],
        "media_url": post["imageUrl"].as_str().or(post["videoUrl"].as_str()),
        "timestamp": post["createdAt"],
        "is_quote_post": false,
    });
    let mut body = json!({"id": post["id"]});
    for field in &fields {
        match all.get(field) {
            Some(value) if !value.is_null() => body[field] = value.clone(),
            Some(_) => {}
            None => return nonexisting_field(field, "ThreadsMedia"),
        }
    }
    Response::json(200, &body)
}

fn nonexisting_field(field: &str, node: &str) -> Response {
    graph_error(
        400,
        100,
        None,
        &format!("Tried accessing nonexisting field ({field}) on node type ({node})"),
        "THApiException",
    )
}

fn posts_in_last_day(sim: &Simulator, user: &str) -> usize {
    let since = format_timestamp(sim.now() - Duration::hours(24));
    sim.accepted_posts(PLATFORM)
        .iter()
        .filter(|p| {
            p["userId"] == user
                && p["createdAt"]
                    .as_str()
                    .is_some_and(|at| at >= since.as_str())
        })
        .count()
}

/// What publishing a container found.
enum PublishCheck {
    Ready(Value),
    Refuse(Response),
}

/// `POST /v1.0/{user-id}/threads_publish?creation_id=...`.
fn publish(sim: &Simulator, claims: &TokenClaims, params: &[(String, String)]) -> Response {
    if !claims.scp.iter().any(|s| s == "threads_content_publish") {
        return graph_error(
            400,
            10,
            None,
            "Application does not have permission for this action",
            "OAuthException",
        );
    }
    let Some(creation_id) = param(params, "creation_id") else {
        return missing_param("creation_id");
    };
    if posts_in_last_day(sim, &claims.sub) >= POSTS_PER_DAY {
        let mut response = graph_error(
            400,
            9,
            Some(2207042),
            "The maximum number of posts allowed within 24 hours has been reached.",
            "THApiException",
        );
        let mut body: Value = serde_json::from_slice(&response.body).unwrap_or_default();
        body["error"]["error_user_title"] = json!("Publishing limit reached");
        body["error"]["error_user_msg"] = json!(format!(
            "This profile has published {POSTS_PER_DAY} posts through the API in the last 24 hours."
        ));
        response.body = body.to_string().into_bytes();
        return response;
    }
    let now = sim.now().timestamp();
    let checked = with_container(sim, creation_id, |container| {
        if container["owner"] != claims.sub.as_str() {
            return PublishCheck::Refuse(not_ready());
        }
        match container_status(container, now, false) {
            "FINISHED" => {}
            "IN_PROGRESS" => return PublishCheck::Refuse(not_ready()),
            "PUBLISHED" => {
                return PublishCheck::Refuse(graph_error(
                    400,
                    100,
                    None,
                    "This media container has already been published.",
                    "THApiException",
                ));
            }
            "EXPIRED" => {
                return PublishCheck::Refuse(graph_error(
                    400,
                    100,
                    None,
                    "The media container has expired; create a new one.",
                    "THApiException",
                ));
            }
            _ => {
                return PublishCheck::Refuse(graph_error(
                    400,
                    100,
                    None,
                    &format!(
                        "The media container could not be published: {}",
                        container["error"].as_str().unwrap_or("UNKNOWN")
                    ),
                    "THApiException",
                ));
            }
        }
        let not_ready_left = container["notReadyLeft"].as_u64().unwrap_or_default();
        if not_ready_left > 0 {
            container["notReadyLeft"] = json!(not_ready_left - 1);
            return PublishCheck::Refuse(not_ready());
        }
        let media_id = numeric_id();
        container["mediaId"] = json!(media_id);
        PublishCheck::Ready(container.clone())
    });
    let container = match checked {
        None => return not_ready(),
        Some(PublishCheck::Refuse(response)) => return response,
        Some(PublishCheck::Ready(container)) => container,
    };
    let media_id = container["mediaId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let shortcode = random_token(11);
    let username = container["username"].as_str().unwrap_or_default();
    let media_type = match container["mediaType"].as_str() {
        Some("TEXT") => "TEXT_POST",
        Some(other) => other,
        None => "TEXT_POST",
    };
    let record = json!({
        "id": media_id,
        "containerId": container["id"],
        "userId": claims.sub,
        "username": username,
        "mediaType": media_type,
        "text": container["text"],
        "imageUrl": container["imageUrl"],
        "videoUrl": container["videoUrl"],
        "altText": container["altText"],
        "replyControl": container["replyControl"],
        "shortcode": shortcode,
        "permalink": format!("https://www.threads.net/@{username}/post/{shortcode}"),
        "clientId": claims.cid,
        "createdAt": format_timestamp(sim.now()),
    });
    // Threads documents no duplicate check: identical posts are accepted.
    let _ = sim.record_post_unless_duplicate(PLATFORM, sim.now(), |_| false, record);
    Response::json(200, &json!({"id": media_id}))
}

/// `GET /v1.0/{user-id}/threads_publishing_limit`.
fn publishing_limit(sim: &Simulator, claims: &TokenClaims) -> Response {
    Response::json(
        200,
        &json!({"data": [{
            "quota_usage": posts_in_last_day(sim, &claims.sub),
            "config": {"quota_total": POSTS_PER_DAY, "quota_duration": 86400},
        }]}),
    )
}

// ----- Threads' counting rules -----

/// The length Threads counts against its 500 characters: each character 1, except emoji,
/// which "are counted by their UTF-8 bytes" (Meta's documentation of the `text` parameter).
/// An emoji here is any sequence Unicode lists as one (the `emojis` crate's table: skin tones,
/// ZWJ families, flags, keycaps), counted with all of its bytes.
pub fn text_length(text: &str) -> usize {
    let mut length = 0;
    let mut rest = text;
    while let Some(first) = rest.chars().next() {
        match longest_emoji_at(rest) {
            Some(emoji) => {
                length += emoji.len();
                rest = &rest[emoji.len()..];
            }
            None => {
                length += 1;
                rest = &rest[first.len_utf8()..];
            }
        }
    }
    length
}

/// The longest emoji sequence `text` starts with (the longest in Unicode's list is ten code
/// points, a family with skin tones), if any. ASCII never starts one here: keycaps (`1️⃣`) need
/// their combining mark, and the digit alone is text.
fn longest_emoji_at(text: &str) -> Option<&str> {
    let ends: Vec<usize> = text
        .char_indices()
        .skip(1)
        .map(|(at, _)| at)
        .chain(std::iter::once(text.len()))
        .take(10)
        .collect();
    ends.iter()
        .rev()
        .map(|end| &text[..*end])
        .find(|candidate| {
            let single_ascii = candidate.len() == 1;
            !single_ascii && emojis::get(candidate).is_some()
        })
}

/// The distinct links of a text, as Threads counts them for its limit of five: every
/// different `http://`, `https://` or `www.` address, compared without case, with the
/// punctuation around it left out.
pub fn count_links(text: &str) -> usize {
    let mut links: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        let link = word
            .trim_start_matches(['(', '<', '"', '\''])
            .trim_end_matches([')', '>', '"', '\'', '.', ',', '!', '?', ';', ':'])
            .to_lowercase();
        let is_link = link.starts_with("http://")
            || link.starts_with("https://")
            || link
                .strip_prefix("www.")
                .is_some_and(|host| !host.is_empty());
        if is_link && !links.contains(&link) {
            links.push(link);
        }
    }
    links.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_handles() {
        assert_eq!(username("Alex Morgan"), "alex_morgan");
        assert_eq!(username("  ¿?  "), "threads_user");
    }

    #[test]
    fn emoji_count_their_utf8_bytes_and_text_its_characters() {
        assert_eq!(text_length("hello"), 5);
        assert_eq!(text_length("é"), 1);
        assert_eq!(text_length("日本"), 2);
        assert_eq!(text_length("🚀"), 4);
        assert_eq!(text_length("a🚀b"), 6);
        // A family is one sequence of four people and three joiners: 4 * 4 + 3 * 3 bytes.
        assert_eq!(text_length("👨\u{200D}👩\u{200D}👧\u{200D}👦"), 25);
        assert_eq!(text_length("🇫🇷!"), 9);
        assert_eq!(text_length("1 2"), 3);
    }

    #[test]
    fn links_are_counted_once_each() {
        assert_eq!(
            count_links("see https://a.x, (https://A.x) and www.b.example."),
            2
        );
        assert_eq!(count_links("www. is not a link, nor is example.com"), 0);
    }

    #[test]
    fn controls_are_read_from_the_media_query() {
        let url = "http://h/_sim/media/sample.mp4?bytes=10&sim_polls=3#x";
        assert_eq!(url_control(url, "sim_polls").as_deref(), Some("3"));
        assert_eq!(url_control(url, "sim_error"), None);
    }
}
