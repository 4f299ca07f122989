//! LinkedIn as the simulator plays it: the OAuth pages and token endpoints of
//! `www.linkedin.com/oauth/v2/*`, OpenID userinfo, and the versioned `/rest/posts` API
//! (creating here; the author finder, reading and deleting in `linkedin/posts.rs`), with
//! LinkedIn's own status codes and error bodies (see `../shared/providers/` part 1, with the
//! corrections verified since). Paths here are relative to `{mount}/linkedin`.
//!
//! It does not know about other platforms, and keeps no state of its own: codes, revocations,
//! faults and posts are the shared pieces of `Simulator`.

use super::authorize::{Authorize, AuthorizeRules, Problem, Rejection, ScopeRule, Step};
use super::consent::{self, ConsentFlow, ConsentWords, Look, authorize_decision, authorize_page};
use super::faults::{Fault, FaultKind};
use super::oauth::{ClientProblem, client_token, redirect_with_state};
use super::token::{
    self, Access, ClientAuth, GrantKind, Issued, OnRefresh, Refresh, Refusal, TokenRules, filled,
};
use super::{Simulator, TokenClaims};
use crate::Platform;
use crate::crypto::{base64url, hmac_sha256, random_bytes};
use httpkit::clock::format_timestamp;
use httpkit::{Request, Response, form_value};
use serde_json::{Value, json};

mod posts;

const PLATFORM: Platform = Platform::Linkedin;

/// The name the consent page proposes; any name signs in as a member of its own.
pub const DEFAULT_MEMBER_NAME: &str = "Alex Morgan";

pub const COMMENTARY_LIMIT: usize = 3000;

/// The scopes a self-serve app can ask for, with what the consent page says about each.
const SCOPES: &[(&str, &str)] = &[
    ("openid", "Use your LinkedIn account to sign in"),
    ("profile", "Use your name and photo"),
    (
        "email",
        "Use the primary email address associated with your LinkedIn account",
    ),
    (
        "w_member_social",
        "Create, modify, and delete posts, comments, and reactions on your behalf",
    ),
];

const BAD_CODE: &str = "Unable to retrieve access token: appid/redirect uri/code verifier does not match authorization code. Or authorization code expired. Or external member binding exists";

pub(crate) fn handle(sim: &Simulator, request: &Request, base: &str, path: &[&str]) -> Response {
    match (request.method.as_str(), path) {
        ("GET", ["oauth", "v2", "authorization"]) => {
            authorize_page::<Consent>(sim, &request.query, base)
        }
        ("POST", ["oauth", "v2", "authorization"]) => {
            authorize_decision::<Consent>(sim, request, base)
        }
        ("POST", ["oauth", "v2", "accessToken"]) => token::endpoint(sim, request, &TOKEN_RULES),
        ("POST", ["oauth", "v2", "revoke"]) => revoke(sim, request),
        ("POST", ["oauth", "v2", "introspectToken"]) => introspect(sim, request),
        (
            _,
            [
                "oauth",
                "v2",
                "authorization" | "accessToken" | "revoke" | "introspectToken",
            ],
        ) => api_error(405, None, None, "Method not allowed"),
        (_, ["v2", ..] | ["rest", ..]) => api_call(sim, request, path),
        // The upload host (`www.linkedin.com/dms-uploads/...`), not the API.
        (_, ["dms-uploads", rest @ ..]) => super::linkedin_media::upload(sim, request, rest),
        _ => not_found(),
    }
}

// ----- authorization pages -----

/// An authorization request, checked the way LinkedIn checks it: client and redirect URI
/// first (an error page), then everything else (an error redirect).
const AUTHORIZE_RULES: AuthorizeRules = AuthorizeRules {
    platform: PLATFORM,
    trimmed: true,
    state_trimmed: false,
    response_type_optional: false,
    steps: &[Step::Scopes],
    scopes: ScopeRule::new(SCOPES, &[' ', ','], " "),
    form_fields: &[
        "response_type",
        "client_id",
        "redirect_uri",
        "state",
        "scope",
    ],
    refuse_client: |problem, redirect_uri| match problem {
        ClientProblem::UnknownClient => error_page(
            "Invalid client_id",
            "The application you are signing in to is not known to LinkedIn. Check the client_id it sent.",
        ),
        ClientProblem::RedirectNotRegistered => error_page(
            "The redirect_uri does not match the registered value",
            &format!(
                "\"{redirect_uri}\" is not one of the redirect URLs registered for this application."
            ),
        ),
    },
    refuse: |problem| {
        let (error, description) = match problem {
            Problem::ResponseType => (
                "unsupported_response_type",
                "The response_type must be code".to_string(),
            ),
            Problem::UnknownScope(scope) => ("invalid_scope", format!("Unknown scope {scope}")),
            _ => (
                "invalid_scope",
                "The scope parameter is missing; ask for at least one scope".to_string(),
            ),
        };
        Rejection::Back {
            error,
            description: Some(description),
        }
    },
};

/// LinkedIn's consent flow (`consent.rs`).
struct Consent;

impl ConsentFlow for Consent {
    const RULES: &'static AuthorizeRules = &AUTHORIZE_RULES;
    const LOOK: &'static Look = &LOOK;
    const WORDS: &'static ConsentWords = &CONSENT_WORDS;
    const PATH: &'static str = "/oauth/v2/authorization";
    const DEFAULT_MEMBER_NAME: &'static str = DEFAULT_MEMBER_NAME;
    const MEMBER_NAME_RULE: &'static str =
        "Enter the name of the member to sign in as (at most 100 characters).";

    fn code_ttl(sim: &Simulator) -> chrono::Duration {
        sim.settings().code_ttl
    }
    fn allowed(request: &Authorize, code: String) -> Response {
        redirect_with_state(
            &request.redirect_uri,
            vec![("code", code.as_str())],
            &request.state,
        )
    }
    fn denied(request: &Authorize) -> Response {
        redirect_with_state(
            &request.redirect_uri,
            vec![
                ("error", "user_cancelled_authorize"),
                ("error_description", "The user cancelled the authorization"),
            ],
            &request.state,
        )
    }
    fn undecided() -> Response {
        error_page(
            "Something went wrong",
            "The consent form was sent without a decision; choose Allow or Deny.",
        )
    }
}

const STYLE: &str = "body{margin:0;background:#f4f2ee;font-family:-apple-system,system-ui,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:rgba(0,0,0,.9)}\
header{padding:16px 24px}.logo{display:inline-block;background:#0a66c2;color:#fff;font-weight:700;border-radius:4px;padding:2px 6px;font-size:20px}\
.logo-word{color:#0a66c2;font-weight:700;font-size:22px;margin-right:4px}\
main{max-width:420px;margin:24px auto;background:#fff;border-radius:8px;box-shadow:0 4px 12px rgba(0,0,0,.15);padding:24px}\
h1{font-size:22px;font-weight:600;margin:0 0 8px}p{line-height:1.4}ul{padding-left:20px}li{margin:6px 0}\
label{display:block;font-size:14px;font-weight:600;margin:16px 0 4px}\
input[type=text]{width:100%;box-sizing:border-box;padding:10px;border:1px solid #666;border-radius:4px;font-size:16px}\
.actions{display:flex;gap:8px;justify-content:flex-end;margin-top:24px}\
button{border-radius:24px;padding:8px 20px;font-size:16px;font-weight:600;cursor:pointer}\
.allow{background:#0a66c2;color:#fff;border:none}.deny{background:#fff;color:#0a66c2;border:1px solid #0a66c2}\
.error{color:#b24020;font-weight:600}.small{font-size:12px;color:rgba(0,0,0,.6)}";

const LOOK: Look = Look {
    title_suffix: " | LinkedIn (sandbox)",
    style: STYLE,
    header: "<header><span class=\"logo-word\">Linked</span><span class=\"logo\">in</span></header>",
    main_start: "",
};

const CONSENT_WORDS: ConsentWords = ConsentWords {
    title: "Authorize {app}",
    heading: "{app} would like to:",
    intro: None,
    member_label: "Signed in as",
    member_max_chars: 100,
    member_autocomplete: true,
    member_field_boxed: false,
    notes: &[
        "This is the LinkedIn simulator: any name signs in as its own member, and the same name is the same member.",
        "You can stop {app} from accessing your account at any time in your LinkedIn settings.",
    ],
    scope_names_shown: false,
};

fn error_page(heading: &str, detail: &str) -> Response {
    consent::error_page(
        &LOOK,
        400,
        heading,
        "Bummer, something went wrong.",
        heading,
        Some(detail),
    )
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
        &format!("A required parameter \"{name}\" is missing"),
    )
}

fn invalid_client() -> Response {
    oauth_error(401, "invalid_client", "Client authentication failed")
}

/// Required form parameters, in order; the first missing one is the error.
fn required<'a, const N: usize>(
    form: &'a [(String, String)],
    names: [&str; N],
) -> Result<[&'a str; N], Response> {
    let mut out = [""; N];
    for (slot, name) in out.iter_mut().zip(names) {
        *slot = form_value(form, name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| missing(name))?;
    }
    Ok(out)
}

/// LinkedIn's token endpoint: the client secret among the parameters of each grant, checked
/// after the grant type; refresh tokens only for apps allowed programmatic refresh, and the
/// same one comes back on each refresh, its lifetime counting from the consent.
const TOKEN_RULES: TokenRules = TokenRules {
    platform: PLATFORM,
    precheck: None,
    params: token::form_params,
    client_auth: ClientAuth::Params,
    required_first: &[],
    grant_before_client: true,
    default_grant: None,
    code_params: &[
        filled("code"),
        filled("redirect_uri"),
        filled("client_id"),
        filled("client_secret"),
    ],
    refresh_params: &[
        filled("refresh_token"),
        filled("client_id"),
        filled("client_secret"),
    ],
    code_suffix: None,
    code_reuse_revokes: false,
    access: Access {
        kind: "access",
        lifetime: |sim| sim.settings().access_token_ttl,
        subject: |sim, member| sim.member_id(PLATFORM, member, 10),
    },
    refresh: Refresh::Issued {
        when: |sim, _| sim.settings().issue_refresh_tokens,
        lifetime: |sim| sim.settings().refresh_token_ttl,
        refreshed_lifetime: None,
        on_refresh: OnRefresh::Repeated,
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
        Refusal::Client(_) | Refusal::ClientIdMismatch => invalid_client(),
        Refusal::UnsupportedGrant(other) => oauth_error(
            400,
            "unsupported_grant_type",
            &format!("The grant_type \"{other}\" is not supported"),
        ),
        Refusal::Code { .. } => oauth_error(400, "invalid_request", BAD_CODE),
        Refusal::RefreshToken => {
            oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        }
    }
}

/// The token, its scopes comma-separated, an OpenID id_token when `openid` was granted (code
/// grant), and the refresh token with the seconds its consent has left.
fn token_answer(sim: &Simulator, issued: &Issued) -> Response {
    let access = &issued.access;
    let mut body = json!({
        "access_token": issued.access_token,
        "expires_in": access.exp - access.iat,
        "scope": access.scp.join(","),
        "token_type": "Bearer",
    });
    if issued.grant == GrantKind::Code && access.scp.iter().any(|s| s == "openid") {
        body["id_token"] = json!(id_token(sim, access));
    }
    if let Some((token, claims)) = &issued.refresh {
        body["refresh_token"] = json!(token);
        body["refresh_token_expires_in"] = json!(claims.exp - issued.now.timestamp());
    }
    Response::json(200, &body).with_header("Cache-Control", "no-store")
}

/// An HS256 OpenID id_token with the member's claims.
fn id_token(sim: &Simulator, claims: &TokenClaims) -> String {
    let header = json!({"alg": "HS256", "kid": "sandbox", "typ": "JWT"});
    let mut payload = json!({
        "iss": "https://www.linkedin.com/oauth",
        "aud": claims.cid,
        "iat": claims.iat,
        "exp": claims.iat + 3600,
        "sub": claims.sub,
    });
    if let Value::Object(profile) = profile_claims(claims) {
        payload
            .as_object_mut()
            .expect("payload is an object")
            .extend(profile);
    }
    let signing_input = format!(
        "{}.{}",
        base64url(header.to_string().as_bytes()),
        base64url(payload.to_string().as_bytes())
    );
    let signature = hmac_sha256(&sim.id_token_key(), signing_input.as_bytes());
    format!("{signing_input}.{}", base64url(&signature))
}

/// What userinfo and the id_token say about the member, beyond `sub`.
fn profile_claims(claims: &TokenClaims) -> Value {
    let (given, family) = claims
        .name
        .split_once(char::is_whitespace)
        .map(|(g, f)| (g.to_string(), f.trim().to_string()))
        .unwrap_or_else(|| (claims.name.clone(), String::new()));
    let mut value = json!({
        "name": claims.name,
        "given_name": given,
        "family_name": family,
        "picture": format!(
            "https://media.licdn.com/dms/image/sandbox/{}/profile-displayphoto-shrink_100_100/0/",
            claims.sub
        ),
        "locale": {"country": "US", "language": "en"},
        "email_verified": true,
    });
    if claims.scp.iter().any(|s| s == "email") {
        value["email"] = json!(member_email(&claims.name));
    }
    value
}

fn member_email(name: &str) -> String {
    let local: Vec<String> = name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(str::to_lowercase)
        .collect();
    let local = if local.is_empty() {
        "member".to_string()
    } else {
        local.join(".")
    };
    format!("{local}@example.com")
}

fn revoke(sim: &Simulator, request: &Request) -> Response {
    let form = request.form();
    let [client_id, client_secret, token] =
        match required(&form, ["client_id", "client_secret", "token"]) {
            Ok(values) => values,
            Err(response) => return response,
        };
    if sim
        .authenticate_client(PLATFORM, client_id, client_secret)
        .is_none()
    {
        return invalid_client();
    }
    // Revoking ends the member's authorization of the app: every token of that consent.
    // Unknown tokens are accepted silently, as RFC 7009 asks.
    if let Some(claims) = client_token(sim, PLATFORM, token, client_id) {
        sim.revoke_grant(&claims.grant);
    }
    Response::new(200)
}

fn introspect(sim: &Simulator, request: &Request) -> Response {
    let form = request.form();
    let [client_id, client_secret, token] =
        match required(&form, ["client_id", "client_secret", "token"]) {
            Ok(values) => values,
            Err(response) => return response,
        };
    if sim
        .authenticate_client(PLATFORM, client_id, client_secret)
        .is_none()
    {
        return invalid_client();
    }
    let Some(claims) = client_token(sim, PLATFORM, token, client_id) else {
        return Response::json(200, &json!({"active": false}));
    };
    let status = if sim.is_revoked(&claims.grant) {
        "revoked"
    } else if sim.now().timestamp() >= claims.exp {
        "expired"
    } else {
        "active"
    };
    Response::json(
        200,
        &json!({
            "active": status == "active",
            "client_id": claims.cid,
            "authorized_at": claims.iat,
            "created_at": claims.iat,
            "status": status,
            "expires_at": claims.exp,
            "scope": claims.scp.join(","),
            "auth_type": "3L",
        }),
    )
}

// ----- the API -----

/// LinkedIn's generic error body `{"status","serviceErrorCode"?,"code"?,"message"}`.
pub(super) fn api_error(
    status: u16,
    service_code: Option<u32>,
    code: Option<&str>,
    message: &str,
) -> Response {
    let mut body = json!({"status": status, "message": message});
    if let Some(service_code) = service_code {
        body["serviceErrorCode"] = json!(service_code);
    }
    if let Some(code) = code {
        body["code"] = json!(code);
    }
    Response::json(status, &body)
}

pub(super) fn not_found() -> Response {
    api_error(404, None, None, "No virtual resource found")
}

pub(super) fn access_denied(message: &str) -> Response {
    api_error(403, Some(100), Some("ACCESS_DENIED"), message)
}

fn revoked_token() -> Response {
    api_error(
        401,
        Some(65601),
        Some("REVOKED_ACCESS_TOKEN"),
        "The token used in the request has been revoked by the user",
    )
}

fn duplicate_post(of: &str) -> Response {
    Response::json(
        422,
        &json!({
            "errorDetailType": "com.linkedin.common.error.BadRequest",
            "message": format!(
                "com.linkedin.content.common.exception.BadRequestResponseException: Content is a duplicate of {of}"
            ),
            "errorDetails": {"inputErrors": [{
                "description": "Duplicate post is detected",
                "input": {},
                "code": "DUPLICATE_POST"
            }]},
            "status": 422
        }),
    )
}

/// A queued fault in LinkedIn's shape.
fn fault_response(fault: &Fault) -> Response {
    match fault.kind {
        FaultKind::ServerError { status } => {
            let message = match status {
                502 => "Bad Gateway",
                503 => "Service Unavailable",
                504 => "Gateway Timeout",
                _ => "Internal Server Error",
            };
            api_error(status, None, None, message)
        }
        FaultKind::RateLimit { retry_after } => {
            let response = api_error(
                429,
                None,
                None,
                "Resource level throttle limit for calls to this resource is reached.",
            );
            match retry_after {
                Some(secs) => response.with_header("Retry-After", &secs.to_string()),
                None => response,
            }
        }
        // The delay was already served by `begin_api_call`.
        FaultKind::Timeout { .. } => api_error(504, None, None, "Gateway Timeout"),
        FaultKind::RevokedToken => revoked_token(),
        FaultKind::Duplicate => duplicate_post(&new_share_urn()),
    }
}

fn api_call(sim: &Simulator, request: &Request, path: &[&str]) -> Response {
    // Media status reads are never faulted, so that a queued fault reaches the calls that
    // change something (initializeUpload, finalizeUpload, the post) in a predictable order.
    if super::linkedin_media::is_status_read(request, path) {
        return super::linkedin_media::status_read(sim, request, &path[1..]);
    }
    if let Some(fault) = sim.begin_api_call(PLATFORM, request) {
        return fault_response(&fault);
    }
    match (request.method.as_str(), path) {
        ("GET", ["v2", "userinfo"]) => match authenticate(sim, request) {
            Ok(claims) if claims.scp.iter().any(|s| s == "openid") => {
                let mut body = json!({"sub": claims.sub});
                if let Value::Object(profile) = profile_claims(&claims) {
                    body.as_object_mut()
                        .expect("body is an object")
                        .extend(profile);
                }
                Response::json(200, &body)
            }
            Ok(_) => access_denied("Not enough permissions to access: userinfo.GET.NO_VERSION"),
            Err(response) => response,
        },
        ("GET", ["v2", "me"]) => match authenticate(sim, request) {
            Ok(_) => access_denied("Not enough permissions to access: me.GET.NO_VERSION"),
            Err(response) => response,
        },
        (_, ["rest", rest @ ..]) => {
            let version = match check_version(sim, request) {
                Ok(version) => version,
                Err(response) => return response,
            };
            let claims = match authenticate(sim, request) {
                Ok(claims) => claims,
                Err(response) => return response,
            };
            match (request.method.as_str(), rest) {
                ("POST", ["posts"]) => create_post(sim, request, &claims, &version),
                ("GET", ["posts"]) => posts::find(sim, request, &claims, &version),
                (_, ["posts"]) => api_error(405, None, None, "Method not allowed"),
                ("GET", ["posts", urn]) => posts::get(sim, &claims, &version, urn),
                ("DELETE", ["posts", urn]) => posts::delete(sim, &claims, &version, urn),
                (_, ["images" | "videos", ..]) => {
                    super::linkedin_media::rest(sim, request, &claims, &version, rest)
                }
                _ => not_found(),
            }
        }
        _ => not_found(),
    }
}

/// The member behind the bearer token, or LinkedIn's 401 for why there is none.
pub(super) fn authenticate(sim: &Simulator, request: &Request) -> Result<TokenClaims, Response> {
    let Some(token) = request.bearer_token() else {
        let header_present = request
            .header("authorization")
            .is_some_and(|h| !h.trim().is_empty() && !h.trim().eq_ignore_ascii_case("bearer"));
        return Err(if header_present {
            invalid_token()
        } else {
            Response::json(
                401,
                &json!({"message": "Empty oauth2_access_token", "serviceErrorCode": 401, "status": 401}),
            )
        });
    };
    let claims = sim
        .verify_token(token)
        .filter(|c| c.typ == "access" && c.plat == PLATFORM.key())
        .ok_or_else(invalid_token)?;
    if sim.is_revoked(&claims.grant) {
        return Err(revoked_token());
    }
    if sim.now().timestamp() >= claims.exp {
        return Err(api_error(
            401,
            Some(65602),
            Some("EXPIRED_ACCESS_TOKEN"),
            "The token used in the request has expired",
        ));
    }
    Ok(claims)
}

fn invalid_token() -> Response {
    api_error(
        401,
        Some(65600),
        Some("INVALID_ACCESS_TOKEN"),
        "Invalid access token",
    )
}

/// `LinkedIn-Version: YYYYMM`: one of the versions LinkedIn released, before its sunset.
pub(super) fn check_version(sim: &Simulator, request: &Request) -> Result<String, Response> {
    let Some(version) = request
        .header("linkedin-version")
        .map(str::trim)
        .filter(|v| !v.is_empty())
    else {
        return Err(api_error(
            400,
            None,
            Some("VERSION_MISSING"),
            "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
        ));
    };
    if !version_is_active(version, sim.now()) {
        return Err(api_error(
            426,
            None,
            Some("NONEXISTENT_VERSION"),
            &format!("Requested version {version} is not active"),
        ));
    }
    Ok(version.to_string())
}

/// The Marketing API versions LinkedIn lists on its migrations page
/// (learn.microsoft.com/linkedin/marketing/integrations/migrations, "API Migration Status"),
/// with their sunset dates. LinkedIn skips months (there is no 202512), so a well-formed
/// `YYYYMM` is not enough: only these exist. Versions older than 202510 were sunset before
/// November 2026 and are left out; add a row when LinkedIn lists a new version.
pub const RELEASED_VERSIONS: &[(&str, (i32, u32, u32))] = &[
    ("202510", (2026, 10, 15)),
    ("202511", (2026, 11, 16)),
    ("202601", (2027, 1, 15)),
    ("202602", (2027, 2, 15)),
    ("202603", (2027, 3, 16)),
];

/// Whether LinkedIn serves `version` at `now`: released, and its sunset date not reached.
pub fn version_is_active(version: &str, now: chrono::DateTime<chrono::Utc>) -> bool {
    RELEASED_VERSIONS
        .iter()
        .find(|(v, _)| *v == version)
        .and_then(|(_, (y, m, d))| chrono::NaiveDate::from_ymd_opt(*y, *m, *d))
        .is_some_and(|sunset| now.date_naive() < sunset)
}

/// `urn:li:share:` and 19 digits, like the real ids (which start with 7 these days).
fn new_share_urn() -> String {
    let digits: String = random_bytes::<18>()
        .iter()
        .map(|b| char::from(b'0' + b % 10))
        .collect();
    format!("urn:li:share:7{digits}")
}

fn create_post(
    sim: &Simulator,
    request: &Request,
    claims: &TokenClaims,
    version: &str,
) -> Response {
    if !claims.scp.iter().any(|s| s == "w_member_social") {
        return access_denied(&format!(
            "Not enough permissions to access: partnerApiPostsExternal.CREATE.{version}01"
        ));
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&request.body) else {
        return api_error(
            400,
            None,
            Some("ILLEGAL_ARGUMENT"),
            "Request body could not be converted to data map",
        );
    };
    let mut problems: Vec<(&str, String, &str)> = [
        "author",
        "commentary",
        "visibility",
        "distribution",
        "lifecycleState",
    ]
    .into_iter()
    .filter(|field| body.get(*field).is_none_or(Value::is_null))
    .map(|field| {
        (
            field,
            "field is required but not found and has no default value".to_string(),
            "MISSING_FIELD",
        )
    })
    .collect();
    let text_field = |field: &'static str,
                      allowed: &[&str],
                      problems: &mut Vec<(&str, String, &str)>| {
        match body.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::String(value))
                if allowed.is_empty() || allowed.contains(&value.as_str()) => {}
            Some(Value::String(value)) => problems.push((
                field,
                format!("\"{value}\" is not an enum symbol"),
                "INVALID_VALUE",
            )),
            Some(other) => {
                problems.push((field, format!("{other} is not a string"), "INVALID_VALUE"))
            }
        }
    };
    text_field("author", &[], &mut problems);
    text_field("commentary", &[], &mut problems);
    text_field(
        "visibility",
        &["PUBLIC", "CONNECTIONS", "LOGGED_IN", "CONTAINER"],
        &mut problems,
    );
    text_field(
        "lifecycleState",
        &["PUBLISHED", "DRAFT", "PUBLISH_REQUESTED"],
        &mut problems,
    );
    if body
        .get("distribution")
        .is_some_and(|d| !d.is_null() && !d.is_object())
    {
        problems.push(("distribution", "is not a record".into(), "INVALID_VALUE"));
    }
    if !problems.is_empty() {
        return validation_failed(&problems);
    }
    let author = body["author"].as_str().unwrap_or_default();
    if author != format!("urn:li:person:{}", claims.sub) {
        return access_denied(
            "Field Value validation failed in REQUEST_BODY: Data Processing Exception while processing fields [/author]",
        );
    }
    let commentary = body["commentary"].as_str().unwrap_or_default();
    let text = unescape_little_text(commentary);
    let length = text.chars().count();
    if length > COMMENTARY_LIMIT {
        return Response::json(
            400,
            &json!({
                "errorDetailType": "com.linkedin.common.error.BadRequest",
                "message": format!(
                    "com.linkedin.content.common.exception.BadRequestResponseException: ShareCommentary text length ({length} characters) exceeded the maximum allowed ({COMMENTARY_LIMIT} characters)"
                ),
                "errorDetails": {"inputErrors": [{
                    "description": "Size of array cannot be higher than the maxLength",
                    "input": {"inputPath": {"fieldPath": "commentary"}},
                    "code": "FIELD_ARRAY_SIZE_TOO_HIGH"
                }]},
                "status": 400
            }),
        );
    }
    let media = match super::linkedin_media::post_media(sim, &body, author) {
        Ok(media) => media,
        Err(response) => return response,
    };
    let now = sim.now();
    let id = new_share_urn();
    let record = json!({
        "id": id,
        "author": author,
        "commentary": commentary,
        "text": text,
        "visibility": body["visibility"],
        "lifecycleState": body["lifecycleState"],
        "clientId": claims.cid,
        "media": media,
        "createdAt": format_timestamp(now),
    });
    let outcome = sim.record_post_unless_duplicate(
        PLATFORM,
        now - sim.settings().duplicate_window,
        |earlier| earlier["author"] == author && earlier["text"] == text.as_str(),
        record,
    );
    match outcome {
        Ok(()) => Response::new(201).with_header("x-restli-id", &id),
        Err(earlier) => duplicate_post(earlier["id"].as_str().unwrap_or_default()),
    }
}

/// LinkedIn's 422 for a body that fails schema validation, one input error per field.
pub(super) fn validation_failed(problems: &[(&str, String, &str)]) -> Response {
    let message = problems
        .iter()
        .map(|(field, problem, _)| format!("ERROR :: /{field} :: {problem}"))
        .collect::<Vec<_>>()
        .join("\n");
    let input_errors: Vec<Value> = problems
        .iter()
        .map(|(field, problem, code)| {
            json!({
                "description": problem,
                "input": {"inputPath": {"fieldPath": field}},
                "code": code
            })
        })
        .collect();
    Response::json(
        422,
        &json!({
            "errorDetailType": "com.linkedin.common.error.BadRequest",
            "message": format!("com.linkedin.restli.server.RestLiServiceException [HTTP Status:422]: {message}"),
            "errorDetails": {"inputErrors": input_errors},
            "status": 422
        }),
    )
}

/// The text a member sees of a `commentary` in LinkedIn's "little text" format: a backslash
/// escapes the character after it (`\\(` is a parenthesis), so the escapes do not count toward
/// the 3,000 characters.
fn unescape_little_text(commentary: &str) -> String {
    let mut text = String::with_capacity(commentary.len());
    let mut escaped = false;
    for c in commentary.chars() {
        if escaped || c != '\\' {
            text.push(c);
            escaped = false;
        } else {
            escaped = true;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn only_released_versions_before_their_sunset_are_active() {
        let now = chrono::Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap();
        assert!(version_is_active("202603", now));
        assert!(version_is_active("202601", now));
        // Sunset on November 16, 2026.
        assert!(!version_is_active("202511", now));
        // Well-formed months LinkedIn never released, or not yet.
        assert!(!version_is_active("202512", now));
        assert!(!version_is_active("202609", now));
        assert!(!version_is_active("202611", now));
        assert!(!version_is_active("20260301", now));
        let sunset = chrono::Utc.with_ymd_and_hms(2027, 3, 16, 0, 0, 0).unwrap();
        assert!(!version_is_active("202603", sunset));
    }

    #[test]
    fn escapes_do_not_count_as_text() {
        assert_eq!(unescape_little_text("a \\(b\\) \\\\ c"), "a (b) \\ c");
        assert_eq!(unescape_little_text("trailing \\"), "trailing ");
    }

    #[test]
    fn share_urns_have_nineteen_digits() {
        let urn = new_share_urn();
        let digits = urn.strip_prefix("urn:li:share:").unwrap();
        assert_eq!(digits.len(), 19);
        assert!(digits.bytes().all(|b| b.is_ascii_digit()));
    }
}
