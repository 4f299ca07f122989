//! Facebook as the simulator plays it: the Login dialog of `www.facebook.com/v{ver}/dialog/oauth`
//! (with a Page chooser), the token endpoint of `graph.facebook.com/v{ver}/oauth/access_token`
//! (code exchange and `fb_exchange_token`), and the Graph API a Page publisher uses: `/me`,
//! `/me/permissions`, `/me/accounts` with Page tokens, `/{page-id}`, `/{page-id}/feed` and
//! `/{page-id}/photos`, with Meta's `{"error":{...}}` envelope (reference part 3). Paths here
//! are relative to `{mount}/facebook`.
//!
//! Every member has the same three sample Pages (ids differ per member); the dialog grants the
//! ticked ones, and the grant travels inside the signed token as `page:{slug}` entries. One of
//! them is owned through a Business Manager and listed only with `business_management`.
//!
//! Settings (`/_sim/facebook/settings`): `requireAppSecret` names the apps whose "Require App
//! Secret" is on (Graph calls without `appsecret_proof` are refused; a wrong proof is refused
//! for every app); `videoProcessingPolls` and `failVideoProcessing` drive what
//! `GET /{video-id}?fields=status` answers after `POST /{page-id}/videos`.

use super::authorize::{
    self, Authorize, AuthorizeRules, Layout, Problem, Rejection, ScopeRule, Step,
};
use super::consent::{self, ConsentWords, Look};
use super::faults::{Fault, FaultKind};
use super::oauth::ClientProblem;
use super::settings::{Setting, SettingKind};
use super::token::{self, Access, ClientAuth, Refresh, Refusal, TokenRules, filled, sent};
use super::{AuthCode, Simulator, TokenClaims, redirect_with};
use crate::Platform;
use crate::crypto::{
    base64url, base64url_decode, constant_time_eq, hex, hmac_sha256, random_bytes, random_token,
};
use httpkit::clock::format_timestamp;
use httpkit::{Request, Response, form_value, html_escape};
use serde_json::{Value, json};
use std::collections::HashMap;

pub(crate) mod listing;
mod pages_read;
#[cfg(test)]
mod readback_tests;

const PLATFORM: Platform = Platform::Facebook;

pub const DEFAULT_MEMBER_NAME: &str = "Alex Morgan";

pub const MESSAGE_LIMIT: usize = 63_206;

/// The sample Pages every member manages: slug (the dialog's checkbox value) and name.
pub const PAGES: &[(&str, &str)] = &[
    ("bakery", "Harbor Bakery"),
    ("studio", "Northside Studio"),
    ("agency", "Lakeside Agency"),
];

/// The sample Pages owned through a Business Manager: `/me/accounts` lists them only when
/// the person granted `business_management` [inf: issue 11's audit; Meta guards business
/// assets with that permission].
const BUSINESS_PAGES: &[&str] = &["agency"];

/// The test settings of Facebook (`/_sim/facebook/settings`).
pub(crate) const SETTINGS: &[Setting] = &[
    Setting {
        name: "requireAppSecret",
        meaning: "comma-separated app (client) ids whose \"Require App Secret\" setting is on: their Graph calls need appsecret_proof",
        kind: SettingKind::Text { max_chars: 2000 },
        default: |_| Value::Null,
    },
    Setting {
        name: "videoProcessingPolls",
        meaning: "status reads a new video answers processing before it is ready (or error)",
        kind: SettingKind::Count { min: 0, max: 1000 },
        default: |_| json!(1),
    },
    Setting {
        name: "failVideoProcessing",
        meaning: "the next videos whose processing ends in error instead of ready",
        kind: SettingKind::Count { min: 0, max: 1000 },
        default: |_| json!(0),
    },
];

/// What the Facebook simulator keeps between calls: the videos uploaded to Pages, and whose
/// login each grant is (grant -> (app id, app-scoped user id)), for de-authorizing a person.
#[derive(Default)]
struct FacebookState {
    videos: HashMap<String, Video>,
    logins: HashMap<String, (String, String)>,
}

/// A video accepted by `POST /{page-id}/videos`, published once processing ends well.
struct Video {
    page: String,
    polls_left: u32,
    fails: bool,
    /// The post as recorded when the video is ready.
    record: Value,
    outcome: Option<&'static str>,
    deleted: bool,
}

/// Permissions an app can ask for here, with the dialog's wording.
const SCOPES: &[(&str, &str)] = &[
    ("public_profile", "Your name and profile picture"),
    ("email", "Your email address"),
    ("pages_show_list", "Show a list of the Pages you manage"),
    ("pages_read_engagement", "Read content posted on the Page"),
    (
        "pages_manage_posts",
        "Create and manage content on your Page",
    ),
    (
        "pages_manage_engagement",
        "Create and manage comments on your Page",
    ),
    ("publish_video", "Publish videos to your Page"),
    (
        "business_management",
        "Manage your business and the Pages it owns",
    ),
];

/// A short-lived user token (from the code exchange) lasts this long [inf: "1-2 hours"].
const SHORT_TOKEN_SECS: i64 = 2 * 3600;

/// Page tokens read with a long-lived user token do not expire; signed tokens need a date.
const NEVER_SECS: i64 = 100 * 365 * 86_400;

const PAGE_TASKS: &[&str] = &[
    "ADVERTISE",
    "ANALYZE",
    "CREATE_CONTENT",
    "MESSAGING",
    "MODERATE",
    "MANAGE",
];

pub(crate) fn handle(sim: &Simulator, request: &Request, base: &str, path: &[&str]) -> Response {
    let Some((version, rest)) = path.split_first() else {
        return unknown_path();
    };
    if !is_version(version) {
        return graph_error(
            400,
            "Unknown path components: /".to_string() + version,
            "OAuthException",
            2500,
            None,
        );
    }
    match (request.method.as_str(), rest) {
        ("GET", ["dialog", "oauth"]) => dialog_page(sim, request, base, version),
        ("POST", ["dialog", "oauth"]) => dialog_decision(sim, request, base, version),
        ("GET" | "POST", ["oauth", "access_token"]) => token::endpoint(sim, request, &TOKEN_RULES),
        _ => api_call(sim, request, rest),
    }
}

/// `v{major}.{minor}`, as Graph versions are written.
fn is_version(segment: &str) -> bool {
    segment
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        })
}

// ----- ids -----

/// A Graph-style numeric id derived from a stable member-scoped seed.
fn numeric_id(sim: &Simulator, seed: &str, len: usize) -> String {
    let letters = sim.member_id(PLATFORM, seed, len);
    let mut digits: String = letters.bytes().map(|b| char::from(b'0' + b % 10)).collect();
    digits.replace_range(0..1, "1");
    digits
}

pub(crate) fn user_id(sim: &Simulator, member: &str) -> String {
    numeric_id(sim, member, 17)
}

pub(crate) fn page_id(sim: &Simulator, member: &str, slug: &str) -> String {
    numeric_id(sim, &format!("{member}\u{1f}page:{slug}"), 15)
}

/// The Pages a user token was granted: (slug, id, name).
fn granted_pages(sim: &Simulator, claims: &TokenClaims) -> Vec<(String, String, String)> {
    let business = has_permission(claims, "business_management");
    PAGES
        .iter()
        .filter(|(slug, _)| claims.scp.iter().any(|s| s == &format!("page:{slug}")))
        .filter(|(slug, _)| business || !BUSINESS_PAGES.contains(slug))
        .map(|(slug, name)| {
            (
                slug.to_string(),
                page_id(sim, &claims.name, slug),
                name.to_string(),
            )
        })
        .collect()
}

fn permissions(claims: &TokenClaims) -> impl Iterator<Item = &String> {
    claims.scp.iter().filter(|s| !s.starts_with("page:"))
}

// ----- the Login dialog -----

/// A Login dialog request, checked the way Facebook checks it: client and redirect URI
/// problems and unknown permissions get an error page, a response_type other than `code` an
/// error redirect; `public_profile` is always granted.
const DIALOG_RULES: AuthorizeRules = AuthorizeRules {
    platform: PLATFORM,
    trimmed: true,
    state_trimmed: true,
    response_type_optional: true,
    steps: &[Step::Scopes],
    // Facebook documents commas; spaces are tolerated.
    scopes: ScopeRule {
        implied: &["public_profile"],
        ..ScopeRule::new(SCOPES, &[',', ' '], ",")
    },
    form_fields: &[
        "client_id",
        "redirect_uri",
        "state",
        "response_type",
        "scope",
    ],
    refuse_client: |problem, _| match problem {
        ClientProblem::UnknownClient => error_page(
            "Invalid App ID",
            "The provided app ID does not look like a valid app ID.",
        ),
        ClientProblem::RedirectNotRegistered => error_page(
            "URL blocked",
            "This redirect failed because the redirect URI is not whitelisted in the app's Client OAuth Settings. Make sure that the client and web OAuth logins are on and add all your app domains as Valid OAuth Redirect URIs.",
        ),
    },
    refuse: |problem| match problem {
        Problem::UnknownScope(scope) => Rejection::Page(error_page(
            "Invalid Scopes",
            &format!(
                "Invalid Scopes: {scope}. This message is only shown to developers. Users of your app will ignore these permissions if present."
            ),
        )),
        _ => Rejection::Back {
            error: "invalid_request",
            description: Some("Unsupported response_type".to_string()),
        },
    },
};

fn dialog_page(sim: &Simulator, request: &Request, base: &str, version: &str) -> Response {
    match authorize::check(sim, &request.query, &DIALOG_RULES) {
        Ok(params) => dialog(&params, base, version, DEFAULT_MEMBER_NAME, None),
        Err(response) => response,
    }
}

fn dialog_decision(sim: &Simulator, request: &Request, base: &str, version: &str) -> Response {
    let form = request.form();
    let params = match authorize::check(sim, &form, &DIALOG_RULES) {
        Ok(params) => params,
        Err(response) => return response,
    };
    let with_state = |mut pairs: Vec<(&'static str, String)>| {
        if !params.state.is_empty() {
            pairs.push(("state", params.state.clone()));
        }
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        // Facebook appends this fragment to its redirects.
        Response::redirect(&format!(
            "{}#_=_",
            redirect_with(&params.redirect_uri, &pairs)
        ))
    };
    match form_value(&form, "decision") {
        Some("allow") => {
            let member = form_value(&form, "member_name").unwrap_or_default().trim();
            if member.is_empty() || member.chars().count() > 100 {
                return dialog(
                    &params,
                    base,
                    version,
                    member,
                    Some("Enter the name of the person to log in as (at most 100 characters)."),
                );
            }
            let mut scopes = params.scopes.clone();
            for (name, value) in &form {
                if name == "page" && PAGES.iter().any(|(slug, _)| slug == value) {
                    let grant = format!("page:{value}");
                    if !scopes.contains(&grant) {
                        scopes.push(grant);
                    }
                }
            }
            let code = sim.issue_code(AuthCode {
                platform: PLATFORM,
                client_id: params.client_id.clone(),
                redirect_uri: params.redirect_uri.clone(),
                scopes,
                member_name: member.to_string(),
                expires_at: sim.now() + sim.settings().code_ttl,
                used: false,
                pkce: None,
                offline: false,
            });
            with_state(vec![("code", code)])
        }
        Some("deny") => with_state(vec![
            ("error", "access_denied".into()),
            ("error_code", "200".into()),
            ("error_description", "Permissions error".into()),
            ("error_reason", "user_denied".into()),
        ]),
        _ => error_page(
            "Something went wrong",
            "The dialog was sent without a decision; choose Allow or Deny.",
        ),
    }
}

const STYLE: &str = "body{margin:0;background:#f0f2f5;font-family:Helvetica,Arial,sans-serif;color:#1c1e21}\
header{background:#fff;padding:12px 24px;box-shadow:0 1px 2px rgba(0,0,0,.1)}.logo{color:#1877f2;font-weight:700;font-size:28px}\
main{max-width:440px;margin:24px auto;background:#fff;border-radius:8px;box-shadow:0 2px 4px rgba(0,0,0,.1),0 8px 16px rgba(0,0,0,.1);padding:24px}\
h1{font-size:20px;margin:0 0 12px}h2{font-size:16px;margin:18px 0 6px}ul{padding-left:20px}li{margin:6px 0}\
label{font-size:15px}.field label{display:block;font-weight:600;margin:16px 0 4px}\
input[type=text]{width:100%;box-sizing:border-box;padding:10px;border:1px solid #dddfe2;border-radius:6px;font-size:16px}\
.pages label{display:block;margin:6px 0}.actions{display:flex;gap:8px;justify-content:flex-end;margin-top:24px}\
button{border-radius:6px;padding:8px 20px;font-size:16px;font-weight:600;cursor:pointer}\
.allow{background:#1877f2;color:#fff;border:none}.deny{background:#e4e6eb;color:#050505;border:none}\
.error{color:#be4b49;font-weight:600}.small{font-size:12px;color:#65676b}";

const LOOK: Look = Look {
    title_suffix: " | Facebook (sandbox)",
    style: STYLE,
    header: "<header><span class=\"logo\">facebook</span></header>",
    main_start: "",
};

const CONSENT_WORDS: ConsentWords = ConsentWords {
    title: "Log in to {app}",
    heading: "{app} is requesting access to:",
    intro: None,
    member_label: "Logged in as",
    member_max_chars: 100,
    member_autocomplete: true,
    member_field_boxed: true,
    notes: &[
        "This is the Facebook simulator: any name logs in as its own person, who manages these sample Pages.",
    ],
    scope_names_shown: false,
};

/// The Login dialog, with a checkbox per sample Page (all ticked) after the member field.
fn dialog(
    params: &Authorize,
    base: &str,
    version: &str,
    member: &str,
    error: Option<&str>,
) -> Response {
    let pages: String = PAGES
        .iter()
        .map(|(slug, name)| {
            format!(
                "<label><input type=\"checkbox\" name=\"page\" value=\"{slug}\" checked> {}</label>",
                html_escape(name)
            )
        })
        .collect();
    let layout = Layout {
        look: &LOOK,
        words: &CONSENT_WORDS,
        action: format!("{base}/{version}/dialog/oauth"),
        intro: None,
        after_member_field: format!(
            "<h2>Choose the Pages you want {} to access</h2><fieldset class=\"pages\">{pages}</fieldset>",
            html_escape(&params.client_name)
        ),
    };
    params.consent_page(&DIALOG_RULES, layout, member, error)
}

fn error_page(heading: &str, detail: &str) -> Response {
    consent::error_page(&LOOK, 400, heading, heading, detail, None)
}

// ----- errors -----

/// Meta's error envelope.
fn graph_error(
    status: u16,
    message: String,
    kind: &str,
    code: i64,
    subcode: Option<i64>,
) -> Response {
    let mut error = json!({
        "message": message,
        "type": kind,
        "code": code,
        "fbtrace_id": base64url(&random_bytes::<9>()),
    });
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    Response::json(status, &json!({ "error": error }))
}

fn oauth_exception(message: impl Into<String>, code: i64, subcode: Option<i64>) -> Response {
    graph_error(400, message.into(), "OAuthException", code, subcode)
}

fn unknown_path() -> Response {
    oauth_exception("Unknown path components", 2500, None)
}

fn permission_error(message: &str) -> Response {
    oauth_exception(format!("(#200) {message}"), 200, None)
}

fn param_error(message: &str) -> Response {
    oauth_exception(format!("(#100) {message}"), 100, None)
}

pub(crate) fn fault_response(fault: &Fault) -> Response {
    match fault.kind {
        FaultKind::ServerError { status } => {
            let mut response = graph_error(
                status,
                "An unknown error has occurred.".into(),
                "OAuthException",
                1,
                None,
            );
            if let Ok(mut body) = serde_json::from_slice::<Value>(&response.body) {
                body["error"]["is_transient"] = json!(true);
                response.body = body.to_string().into_bytes();
            }
            response
        }
        // Meta throttles with HTTP 400 and code 32 for Page tokens, and reports the wait in
        // the usage header in minutes; it sends no Retry-After.
        FaultKind::RateLimit { retry_after } => {
            let minutes = retry_after.map(|s| s.div_ceil(60)).unwrap_or(0);
            let usage = json!({"0": [{
                "type": "pages",
                "call_count": 100,
                "total_cputime": 20,
                "total_time": 30,
                "estimated_time_to_regain_access": minutes
            }]});
            oauth_exception("(#32) Page request limit reached", 32, None)
                .with_header("X-Business-Use-Case-Usage", &usage.to_string())
        }
        FaultKind::Timeout { .. } => graph_error(
            504,
            "The request timed out.".into(),
            "OAuthException",
            2,
            None,
        ),
        FaultKind::RevokedToken => oauth_exception(
            "Error validating access token: The user has not authorized application.",
            190,
            Some(458),
        ),
        FaultKind::Duplicate => oauth_exception("(#506) Duplicate status message", 506, None),
    }
}

// ----- token endpoint -----

/// Facebook's token endpoint (GET or POST): the client secret among the query or form
/// parameters; a request naming no grant exchanges a code, for a short-lived user token;
/// `fb_exchange_token` trades a user token for a long-lived one. No refresh tokens.
const TOKEN_RULES: TokenRules = TokenRules {
    platform: PLATFORM,
    precheck: None,
    params: |request| {
        let mut params = request.query.clone();
        if request.method == "POST" {
            params.extend(request.form());
        }
        params
    },
    client_auth: ClientAuth::Params,
    required_first: &[],
    grant_before_client: false,
    default_grant: Some("authorization_code"),
    code_params: &[sent("redirect_uri"), filled("code")],
    refresh_params: &[],
    code_suffix: None,
    code_reuse_revokes: false,
    access: Access {
        kind: "short",
        lifetime: |_| chrono::Duration::seconds(SHORT_TOKEN_SECS),
        subject: user_id,
    },
    refresh: Refresh::None,
    access_prefix: "",
    refresh_prefix: "",
    extra_grants: &[("fb_exchange_token", |sim, params, client_id| {
        long_lived(
            sim,
            client_id,
            form_value(params, "fb_exchange_token").filter(|t| !t.is_empty()),
        )
    })],
    refuse: refuse_token,
    answer: |sim, issued| token_answer(sim, &issued.access),
};

fn refuse_token(_sim: &Simulator, refusal: &Refusal<'_>) -> Response {
    match refusal {
        Refusal::Missing("redirect_uri") => {
            oauth_exception("Missing redirect_uri parameter.", 191, None)
        }
        Refusal::Missing(name) => oauth_exception(format!("Missing {name} parameter."), 100, None),
        Refusal::Client(client) if !client.id_sent => {
            oauth_exception("Missing client_id parameter.", 101, None)
        }
        Refusal::Client(client) if !client.secret_sent => {
            oauth_exception("Missing client_secret parameter.", 1, None)
        }
        Refusal::Client(client) if !client.known => oauth_exception(
            "Error validating application. Invalid application ID.",
            101,
            None,
        ),
        Refusal::Client(_) | Refusal::ClientIdMismatch => {
            oauth_exception("Error validating client secret.", 1, None)
        }
        Refusal::UnsupportedGrant(other) => {
            oauth_exception(format!("Unsupported grant_type: {other}"), 100, None)
        }
        Refusal::Code { facts, .. } if facts.unknown => {
            oauth_exception("This authorization code has been used.", 100, Some(36009))
        }
        Refusal::Code { facts, .. } if facts.other_platform || facts.other_client => {
            oauth_exception("Invalid verification code format.", 100, None)
        }
        Refusal::Code { facts, .. } if facts.other_redirect_uri => oauth_exception(
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
            100,
            Some(36008),
        ),
        Refusal::Code { .. } => {
            oauth_exception("This authorization code has expired.", 100, Some(36007))
        }
        // Facebook issues no refresh tokens; the grant never reaches here.
        Refusal::RefreshToken => {
            oauth_exception("Unsupported grant_type: refresh_token", 100, None)
        }
    }
}

/// Trades a valid user token of this app for a long-lived one (60 days by default).
fn long_lived(sim: &Simulator, client_id: &str, token: Option<&str>) -> Response {
    let Some(token) = token else {
        return oauth_exception("Missing fb_exchange_token parameter.", 100, None);
    };
    let user = match user_claims(sim, token) {
        Ok(claims) if claims.cid == client_id => claims,
        Ok(_) => return oauth_exception("Invalid OAuth access token.", 190, None),
        Err(response) => return response,
    };
    let now = sim.now();
    let claims = TokenClaims {
        typ: "access".into(),
        iat: now.timestamp(),
        exp: (now + sim.settings().access_token_ttl).timestamp(),
        nonce: random_token(16),
        ..user
    };
    token_answer(sim, &claims)
}

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

// ----- the Graph API -----

/// `access_token` from the query, the form body, or `Authorization: OAuth|Bearer`.
fn presented_token(request: &Request) -> Option<String> {
    if let Some(t) = request
        .query_param("access_token")
        .filter(|t| !t.is_empty())
    {
        return Some(t.to_string());
    }
    if request.method == "POST"
        && let Some(t) = form_value(&request.form(), "access_token").filter(|t| !t.is_empty())
    {
        return Some(t.to_string());
    }
    let header = request.header("authorization")?.trim();
    let (scheme, token) = header.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("oauth") || scheme.eq_ignore_ascii_case("bearer"))
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// Any token of this platform: signature, revocation and expiry checked, in Meta's words.
fn any_claims(sim: &Simulator, token: &str) -> Result<TokenClaims, Response> {
    let claims = sim
        .verify_token(token)
        .filter(|c| c.plat == PLATFORM.key())
        .ok_or_else(|| {
            oauth_exception(
                "Invalid OAuth access token - Cannot parse access token",
                190,
                None,
            )
        })?;
    if sim.is_revoked(&claims.grant) {
        return Err(oauth_exception(
            "Error validating access token: The user has not authorized application.",
            190,
            Some(458),
        ));
    }
    if sim.now().timestamp() >= claims.exp {
        let at = chrono::DateTime::from_timestamp(claims.exp, 0)
            .map(|t| t.format("%A, %d-%b-%y %H:%M:%S UTC").to_string())
            .unwrap_or_default();
        return Err(oauth_exception(
            format!("Error validating access token: Session has expired on {at}."),
            190,
            Some(463),
        ));
    }
    Ok(claims)
}

fn user_claims(sim: &Simulator, token: &str) -> Result<TokenClaims, Response> {
    let claims = any_claims(sim, token)?;
    if claims.typ == "short" || claims.typ == "access" {
        Ok(claims)
    } else {
        Err(oauth_exception(
            "An active access token must be used to query information about the current user.",
            2500,
            None,
        ))
    }
}

fn authenticate(sim: &Simulator, request: &Request) -> Result<TokenClaims, Response> {
    let token = presented_token(request).ok_or_else(|| {
        oauth_exception(
            "An active access token must be used to query information about the current user.",
            2500,
            None,
        )
    })?;
    any_claims(sim, &token)
}

fn api_call(sim: &Simulator, request: &Request, path: &[&str]) -> Response {
    if let Some(fault) = sim.begin_api_call(PLATFORM, request) {
        if fault.kind == FaultKind::RevokedToken
            && let Some(claims) = presented_token(request).and_then(|t| sim.verify_token(&t))
        {
            // The person removed the app: every token of that login dies with this one.
            sim.revoke_grant(&claims.grant);
        }
        return fault_response(&fault);
    }
    if let Some(app) = presented_token(request)
        .as_deref()
        .and_then(|token| pages_read::app_of(sim, token))
    {
        // The app's own token: the secret is in it, so a proof is checked only when sent.
        return match app
            .and_then(|app| check_proof(sim, PLATFORM, request, &app, false).map(|()| app))
        {
            Ok(app) => pages_read::app_call(sim, request, &app, path),
            Err(response) => response,
        };
    }
    let claims = match authenticate(sim, request) {
        Ok(claims) => claims,
        Err(response) => return response,
    };
    if let Err(response) = check_appsecret_proof(sim, request, &claims) {
        return response;
    }
    pages_read::remember_login(sim, &claims);
    let is_user = claims.typ != "page";
    match (request.method.as_str(), path) {
        ("GET", ["me"]) => Response::json(200, &json!({"id": claims.sub, "name": claims.name})),
        ("GET", ["me", "permissions"]) if is_user => {
            let data: Vec<Value> = permissions(&claims)
                .map(|p| json!({"permission": p, "status": "granted"}))
                .collect();
            Response::json(200, &json!({ "data": data }))
        }
        ("DELETE", ["me", "permissions"]) if is_user => {
            sim.revoke_grant(&claims.grant);
            Response::json(200, &json!({"success": true}))
        }
        ("GET", ["me", "accounts"]) if is_user => accounts(sim, request, &claims),
        (_, ["me", ..]) if !is_user => oauth_exception(
            "(#100) Tried accessing nonexisting field (accounts) on node type (Page)",
            100,
            None,
        ),
        ("GET", [page, edge @ ("published_posts" | "feed")]) => {
            pages_read::posts(sim, request, &claims, page, edge)
        }
        ("GET", [page, "videos"]) => pages_read::videos(sim, request, &claims, page),
        ("DELETE", [id]) => pages_read::delete(sim, &claims, id),
        ("GET", [id]) if request.query_param("fields") == Some("status") => {
            video_status(sim, &claims, id)
        }
        ("GET", [id]) => object(sim, &claims, id),
        ("POST", [page, "feed"]) => create_feed_post(sim, request, &claims, page),
        ("POST", [page, "photos"]) => create_photo(sim, request, &claims, page),
        ("POST", [page, "videos"]) => create_video(sim, request, &claims, page),
        _ => unknown_path(),
    }
}

/// `appsecret_proof` (developers.facebook.com/docs/graph-api/guides/secure-requests): the
/// HMAC-SHA256 of the access token keyed with the app secret, hex. A proof that is sent is
/// checked for every app; an app with "Require App Secret" on also refuses calls without one.
/// Both refusals in Graph's words (HTTP 400, `GraphMethodException`, code 100).
fn check_appsecret_proof(
    sim: &Simulator,
    request: &Request,
    claims: &TokenClaims,
) -> Result<(), Response> {
    check_proof(sim, PLATFORM, request, &claims.cid, true)
}

/// The proof of the token `request` presents (query, form, or `Authorization`), for
/// `client_id`'s app on `platform`: checked when sent, and required when `required_if_set`
/// and the platform's `requireAppSecret` setting names the app. Shared with Instagram.
pub(crate) fn check_proof(
    sim: &Simulator,
    platform: Platform,
    request: &Request,
    client_id: &str,
    required_if_set: bool,
) -> Result<(), Response> {
    let Some(token) = presented_token(request) else {
        return Ok(());
    };
    let sent = form_value(&params_of(request), "appsecret_proof")
        .map(str::to_string)
        .filter(|p| !p.is_empty());
    let required = required_if_set
        && sim
            .text_setting(platform, "requireAppSecret")
            .is_some_and(|apps| apps.split(',').any(|app| app.trim() == client_id));
    let Some(sent) = sent else {
        return if required {
            Err(graph_error(
                400,
                "API calls from the server require an appsecret_proof argument".into(),
                "GraphMethodException",
                100,
                None,
            ))
        } else {
            Ok(())
        };
    };
    let secret = sim
        .client(platform, client_id)
        .map(|c| c.client_secret)
        .unwrap_or_default();
    let expected = hex(&hmac_sha256(secret.as_bytes(), token.as_bytes()));
    if constant_time_eq(expected.as_bytes(), sent.to_ascii_lowercase().as_bytes()) {
        Ok(())
    } else {
        Err(graph_error(
            400,
            "Invalid appsecret_proof provided in the API argument".into(),
            "GraphMethodException",
            100,
            None,
        ))
    }
}

/// `GET /{video-id}?fields=status`, in the shape of Meta's Video Status node: `video_status`
/// (`processing`, then `ready` or `error`), `processing_progress` (0-100) and the three
/// phases [inf: the phases' inner fields follow Meta's Reels publishing guide]. Reading it
/// is what moves processing on here; a video that becomes ready is published on its Page.
fn video_status(sim: &Simulator, claims: &TokenClaims, id: &str) -> Response {
    let readable = |page: &str| {
        (claims.typ == "page" && claims.sub == page)
            || (claims.typ != "page" && granted_pages(sim, claims).iter().any(|p| p.1 == page))
    };
    let step = sim.with_platform_state(PLATFORM, |s: &mut FacebookState| {
        let video = s
            .videos
            .get_mut(id)
            .filter(|v| readable(&v.page) && !v.deleted)?;
        if video.outcome.is_none() {
            if video.polls_left > 0 {
                video.polls_left -= 1;
            } else {
                video.outcome = Some(if video.fails { "error" } else { "ready" });
                return Some((video.outcome, video.polls_left, Some(video.record.clone())));
            }
        }
        Some((video.outcome, video.polls_left, None))
    });
    let Some((outcome, polls_left, newly_ready)) = step else {
        return no_such_object(id);
    };
    if let (Some("ready"), Some(record)) = (outcome, newly_ready) {
        sim.record_post_unless_duplicate(PLATFORM, sim.now(), |_| false, record)
            .ok();
    }
    let status = match outcome {
        None => json!({
            "video_status": "processing",
            "processing_progress": 100 / (polls_left + 2),
            "uploading_phase": {"status": "complete"},
            "processing_phase": {"status": "in_progress"},
            "publishing_phase": {"status": "not_started"},
        }),
        Some("ready") => json!({
            "video_status": "ready",
            "processing_progress": 100,
            "uploading_phase": {"status": "complete"},
            "processing_phase": {"status": "complete"},
            "publishing_phase": {"status": "complete", "publish_status": "published"},
        }),
        Some(_) => json!({
            "video_status": "error",
            "processing_progress": 0,
            "uploading_phase": {"status": "complete"},
            "processing_phase": {
                "status": "error",
                "errors": [{"code": 1363008, "message": "Video Processing Failed: the video file could not be processed"}],
            },
            "publishing_phase": {"status": "not_started"},
        }),
    };
    Response::json(200, &json!({"status": status, "id": id}))
}

fn has_permission(claims: &TokenClaims, permission: &str) -> bool {
    claims.scp.iter().any(|s| s == permission)
}

fn accounts(sim: &Simulator, request: &Request, claims: &TokenClaims) -> Response {
    if !has_permission(claims, "pages_show_list") {
        return permission_error("Requires pages_show_list permission to manage the object");
    }
    let limit = request
        .query_param("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(25)
        .clamp(1, 100);
    let offset = request
        .query_param("after")
        .and_then(base64url_decode)
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(0);
    let now = sim.now().timestamp();
    // Page tokens read with a short-lived user token expire with it.
    let page_exp = if claims.typ == "short" {
        claims.exp
    } else {
        now + NEVER_SECS
    };
    let pages = granted_pages(sim, claims);
    let data: Vec<Value> = pages
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(_, id, name)| {
            let token = sim.sign_token(&TokenClaims {
                typ: "page".into(),
                sub: id.clone(),
                name: name.clone(),
                iat: now,
                exp: page_exp,
                nonce: random_token(16),
                ..claims.clone()
            });
            json!({
                "access_token": token,
                "category": "Local business",
                "category_list": [{"id": "2500", "name": "Local Business"}],
                "name": name,
                "id": id,
                "tasks": PAGE_TASKS,
            })
        })
        .collect();
    let mut body = json!({ "data": data });
    if !data.is_empty() {
        let cursor = |n: usize| base64url(n.to_string().as_bytes());
        body["paging"] = json!({"cursors": {
            "before": cursor(offset),
            "after": cursor(offset + data.len()),
        }});
        if offset + data.len() < pages.len() {
            // Absolute, on the real host, as Meta writes it.
            body["paging"]["next"] = json!(format!(
                "https://graph.facebook.com/v25.0/me/accounts?limit={limit}&after={}",
                cursor(offset + data.len())
            ));
        }
    }
    Response::json(200, &body)
}

/// `GET /{id}`: a granted Page, or the user itself.
fn object(sim: &Simulator, claims: &TokenClaims, id: &str) -> Response {
    if claims.typ == "page" && claims.sub == id {
        return Response::json(200, &json!({"id": id, "name": claims.name}));
    }
    if claims.typ != "page" && claims.sub == id {
        return Response::json(200, &json!({"id": id, "name": claims.name}));
    }
    if claims.typ != "page"
        && let Some((_, pid, name)) = granted_pages(sim, claims).into_iter().find(|p| p.1 == id)
    {
        return Response::json(200, &json!({"id": pid, "name": name}));
    }
    no_such_object(id)
}

fn no_such_object(id: &str) -> Response {
    oauth_exception(
        format!(
            "Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
        ),
        100,
        Some(33),
    )
}

/// Query and form parameters merged, as Graph merges them (Instagram's Graph API too).
pub(crate) fn params_of(request: &Request) -> Vec<(String, String)> {
    let mut params = request.query.clone();
    params.extend(request.form());
    params
}

/// The Page token may publish to `page`; a user token may not.
fn check_page_token(claims: &TokenClaims, page: &str) -> Result<(), Response> {
    if claims.typ != "page" {
        return Err(permission_error(
            "If posting to a page, requires both pages_read_engagement and pages_manage_posts as an admin with sufficient administrative permission",
        ));
    }
    if claims.sub != page {
        return Err(no_such_object(page));
    }
    if !has_permission(claims, "pages_manage_posts")
        || !has_permission(claims, "pages_read_engagement")
    {
        return Err(permission_error(
            "The pages_manage_posts and pages_read_engagement permissions are required to publish as this Page",
        ));
    }
    Ok(())
}

fn new_object_id() -> String {
    let digits: String = random_bytes::<15>()
        .iter()
        .map(|b| char::from(b'0' + b % 10))
        .collect();
    format!("1{digits}")
}

fn create_feed_post(
    sim: &Simulator,
    request: &Request,
    claims: &TokenClaims,
    page: &str,
) -> Response {
    if let Err(response) = check_page_token(claims, page) {
        return response;
    }
    let params = params_of(request);
    let message = form_value(&params, "message")
        .unwrap_or_default()
        .to_string();
    let link = form_value(&params, "link").filter(|l| !l.is_empty());
    if message.trim().is_empty() && link.is_none() {
        return param_error("The parameter message or link is required");
    }
    if message.chars().count() > MESSAGE_LIMIT {
        return param_error(&format!(
            "The message is too long: it must be at most {MESSAGE_LIMIT} characters"
        ));
    }
    if let Some(link) = link
        && !(link.starts_with("http://") || link.starts_with("https://"))
    {
        return oauth_exception("(#100) The link is not a valid URL", 100, Some(1500));
    }
    let kind = if link.is_some() { "link" } else { "text" };
    record(sim, claims, page, kind, &message, link, None, None)
}

fn create_photo(sim: &Simulator, request: &Request, claims: &TokenClaims, page: &str) -> Response {
    if let Err(response) = check_page_token(claims, page) {
        return response;
    }
    let params = params_of(request);
    let Some(url) = form_value(&params, "url").filter(|u| !u.is_empty()) else {
        return oauth_exception("(#324) Requires upload file", 324, None);
    };
    let caption = form_value(&params, "message")
        .or_else(|| form_value(&params, "caption"))
        .unwrap_or_default()
        .to_string();
    if caption.chars().count() > MESSAGE_LIMIT {
        return param_error(&format!(
            "The message is too long: it must be at most {MESSAGE_LIMIT} characters"
        ));
    }
    match fetch_content_type(url) {
        Ok(ct) if ct.starts_with("image/") => {}
        Ok(ct) => {
            return oauth_exception(
                format!("(#100) The url does not point at an image (it serves {ct})"),
                100,
                Some(2069019),
            );
        }
        Err(problem) => {
            return oauth_exception(
                format!("(#100) url should represent a valid URL: {problem}"),
                100,
                None,
            );
        }
    }
    let photo_id = new_object_id();
    if form_value(&params, "published") == Some("false") {
        // An unpublished photo, for attaching to a later feed post: nothing appears yet.
        return Response::json(200, &json!({"id": photo_id}));
    }
    record(
        sim,
        claims,
        page,
        "photo",
        &caption,
        None,
        Some(url),
        Some(&photo_id),
    )
}

/// `POST /{page-id}/videos` with `file_url`: Facebook fetches the video itself and answers
/// with the video's id (it processes and publishes it on its side).
fn create_video(sim: &Simulator, request: &Request, claims: &TokenClaims, page: &str) -> Response {
    if let Err(response) = check_page_token(claims, page) {
        return response;
    }
    let params = params_of(request);
    let Some(url) = form_value(&params, "file_url").filter(|u| !u.is_empty()) else {
        return oauth_exception(
            "(#390) The video file you selected is in a format that we don't support: no file_url or source",
            390,
            None,
        );
    };
    let description = form_value(&params, "description")
        .unwrap_or_default()
        .to_string();
    if description.chars().count() > MESSAGE_LIMIT {
        return param_error(&format!(
            "The description is too long: it must be at most {MESSAGE_LIMIT} characters"
        ));
    }
    match fetch_content_type(url) {
        Ok(ct) if ct.starts_with("video/") => {}
        Ok(ct) => {
            return oauth_exception(
                format!(
                    "(#352) The video file you selected is in a format that we don't support (it serves {ct})"
                ),
                352,
                None,
            );
        }
        Err(problem) => {
            return oauth_exception(
                format!("(#100) file_url should represent a valid URL: {problem}"),
                100,
                None,
            );
        }
    }
    // Accepted now, published once processed: the post appears when a status read finds
    // the video ready.
    let video_id = new_object_id();
    let record = json!({
        "id": format!("{page}_{}", new_object_id()),
        "pageId": page,
        "pageName": claims.name,
        "kind": "video",
        "message": description,
        "link": null,
        "imageUrl": null,
        "videoUrl": url,
        "photoId": null,
        "videoId": video_id,
        "title": form_value(&params, "title").filter(|t| !t.is_empty()),
        "clientId": claims.cid,
        "createdAt": format_timestamp(sim.now()),
    });
    let polls_left = sim.count_setting(PLATFORM, "videoProcessingPolls");
    let fails = sim
        .with_platform_state_and_settings(PLATFORM, |_: &mut FacebookState, settings| {
            settings.take_one("failVideoProcessing")
        });
    sim.with_platform_state(PLATFORM, |s: &mut FacebookState| {
        s.videos.insert(
            video_id.clone(),
            Video {
                page: page.to_string(),
                polls_left,
                fails,
                record,
                outcome: None,
                deleted: false,
            },
        )
    });
    Response::json(200, &json!({ "id": video_id }))
}

#[allow(clippy::too_many_arguments)]
fn record(
    sim: &Simulator,
    claims: &TokenClaims,
    page: &str,
    kind: &str,
    message: &str,
    link: Option<&str>,
    image_url: Option<&str>,
    photo_id: Option<&str>,
) -> Response {
    let now = sim.now();
    let post_id = format!("{page}_{}", new_object_id());
    let record = json!({
        "id": post_id,
        "pageId": page,
        "pageName": claims.name,
        "kind": kind,
        "message": message,
        "link": link,
        "imageUrl": if kind == "video" { None } else { image_url },
        "videoUrl": if kind == "video" { image_url } else { None },
        "photoId": if kind == "video" { None } else { photo_id },
        "videoId": if kind == "video" { photo_id } else { None },
        "clientId": claims.cid,
        "createdAt": format_timestamp(now),
    });
    // Facebook refuses the same status text on the same Page in a row.
    let outcome = sim.record_post_unless_duplicate(
        PLATFORM,
        now - sim.settings().duplicate_window,
        |earlier| {
            earlier["pageId"] == page
                && earlier["deleted"] != true
                && earlier["kind"] == kind
                && earlier["message"] == message
                && earlier["link"] == json!(link)
                && (earlier["imageUrl"] == json!(image_url)
                    || earlier["videoUrl"] == json!(image_url))
        },
        record,
    );
    match (outcome, photo_id) {
        (Err(_), _) => oauth_exception("(#506) Duplicate status message", 506, None),
        (Ok(()), Some(video_id)) if kind == "video" => {
            Response::json(200, &json!({ "id": video_id }))
        }
        (Ok(()), Some(photo_id)) => {
            Response::json(200, &json!({"id": photo_id, "post_id": post_id}))
        }
        (Ok(()), None) => Response::json(200, &json!({ "id": post_id })),
    }
}

/// What a media URL serves, fetched the way Meta's crawler would (a HEAD, then a one-byte
/// GET for servers that refuse HEAD). Shared with the Instagram simulator.
pub(crate) fn fetch_content_type(url: &str) -> Result<String, String> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!("{url} is not an http(s) URL"));
    }
    let agent = ureq::AgentBuilder::new()
        .timeout(std::time::Duration::from_secs(5))
        .redirects(3)
        .user_agent("facebookexternalhit/1.1 (sandbox)")
        .build();
    let response = match agent.head(url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(405 | 403 | 501, _)) => agent
            .get(url)
            .set("Range", "bytes=0-0")
            .call()
            .map_err(|e| format!("fetching it failed: {e}"))?,
        Err(ureq::Error::Status(status, _)) => return Err(format!("it answered HTTP {status}")),
        Err(e) => return Err(format!("it could not be fetched: {e}")),
    };
    Ok(response.content_type().to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_look_like_graph_versions() {
        assert!(is_version("v25.0"));
        assert!(!is_version("25.0"));
        assert!(!is_version("v25"));
        assert!(!is_version("me"));
    }
}
