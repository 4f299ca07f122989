//! The one token endpoint of the simulated platforms: the authorization-code grant and the
//! refresh-token grant, run the same way for all eight, fed by a table of what differs
//! (`TokenRules`, one row per platform file):
//!
//! - where the client's credentials travel (`ClientAuth`: HTTP Basic, or parameters of the
//!   query or form) and in which order the platform checks credentials, grant type and
//!   parameters;
//! - which parameters each grant needs, whether a code carries a PKCE challenge;
//! - the access token's kind and lifetime, and the refresh rule (`Refresh`: none, repeated,
//!   kept, rotated, rotated single-use) with its lifetime;
//! - the error shape (`refuse`: every refusal comes as a `Refusal` with the facts gathered, and
//!   the platform picks its answer, in its own order and words) and the answer's shape
//!   (`answer`);
//! - grants of its own on the same endpoint (Facebook's `fb_exchange_token`).
//!
//! What a platform does besides (Instagram's and Threads' long-lived tokens on their Graph
//! hosts, revocation, introspection) stays in its file.

use super::oauth::live_refresh_token;
use super::{AuthCode, Simulator, TokenClaims};
use crate::Platform;
use crate::crypto::{constant_time_eq, pkce_challenge, random_token, sha256_hex};
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use httpkit::{Request, Response, form_value};
use std::collections::HashSet;

/// One platform's token endpoint.
pub(crate) struct TokenRules {
    pub platform: Platform,
    /// Checked before anything else (Reddit's User-Agent rule).
    pub precheck: Option<Precheck>,
    /// The parameters of a request: the form, or the query and form together.
    pub params: fn(&Request) -> Vec<(String, String)>,
    pub client_auth: ClientAuth,
    /// Parameters every request needs, checked first, in this order.
    pub required_first: &'static [Param],
    /// Whether the grant type and the grant's parameters are checked before the client is
    /// authenticated (LinkedIn takes the credentials among each grant's parameters).
    pub grant_before_client: bool,
    /// The grant of a request that names none; without one, `grant_type` is required.
    pub default_grant: Option<&'static str>,
    /// Parameters of each grant, in the order the platform checks them.
    pub code_params: &'static [Param],
    pub refresh_params: &'static [Param],
    /// A suffix the platform drops from the code it gets back (Instagram's `#_`).
    pub code_suffix: Option<&'static str>,
    /// Whether a code presented again ends every token issued from it (Reddit).
    pub code_reuse_revokes: bool,
    pub access: Access,
    pub refresh: Refresh,
    /// Prefixes of the token strings (Pinterest's `pina_`/`pinr_`, Threads' `TH`).
    pub access_prefix: &'static str,
    pub refresh_prefix: &'static str,
    /// Grants of the platform's own on this endpoint: (grant type, its handler, given the
    /// parameters and the authenticated client id).
    pub extra_grants: &'static [(&'static str, ExtraGrant)],
    /// The platform's answer to each refusal.
    pub refuse: fn(&Simulator, &Refusal<'_>) -> Response,
    /// The platform's answer to a successful grant.
    pub answer: fn(&Simulator, &Issued) -> Response,
}

/// A check of the whole request before anything else; `Err` is the platform's refusal.
pub(crate) type Precheck = fn(&Simulator, &Request) -> Result<(), Response>;

pub(crate) type ExtraGrant = fn(&Simulator, &[(String, String)], &str) -> Response;

/// Where a client's credentials travel.
#[derive(Clone, Copy)]
pub(crate) enum ClientAuth {
    /// `Authorization: Basic base64(id:secret)`; with `percent_decoded` the two parts are
    /// form-encoded first (RFC 6749, section 2.3.1); with `body_id_must_match` a `client_id`
    /// parameter must name the same client.
    Basic {
        percent_decoded: bool,
        body_id_must_match: bool,
    },
    /// `client_id` and `client_secret` among the parameters.
    Params,
}

/// A parameter a step requires; `may_be_empty` when the platform only checks it was sent.
#[derive(Clone, Copy)]
pub(crate) struct Param {
    pub name: &'static str,
    pub may_be_empty: bool,
}

/// A parameter that must be sent and not empty.
pub(crate) const fn filled(name: &'static str) -> Param {
    Param {
        name,
        may_be_empty: false,
    }
}

/// A parameter that must be sent, perhaps empty.
pub(crate) const fn sent(name: &'static str) -> Param {
    Param {
        name,
        may_be_empty: true,
    }
}

/// The access tokens the code grant issues.
pub(crate) struct Access {
    /// The claims' `typ`: `access`, or `short` where a platform trades it for a long-lived one.
    pub kind: &'static str,
    pub lifetime: fn(&Simulator) -> Duration,
    /// The account id (`sub`) of a member name.
    pub subject: fn(&Simulator, &str) -> String,
}

/// Whether and how refresh tokens work.
pub(crate) enum Refresh {
    /// No refresh grant here.
    None,
    Issued {
        /// Whether the code's consent gets a refresh token.
        when: fn(&Simulator, &AuthCode) -> bool,
        lifetime: fn(&Simulator) -> Duration,
        /// Refreshing gives a new access token with this lifetime (the code grant's when `None`).
        refreshed_lifetime: Option<fn(&Simulator) -> Duration>,
        on_refresh: OnRefresh,
    },
}

/// What happens to a refresh token when it is used.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum OnRefresh {
    /// It stays valid (its lifetime counting from the consent) and is sent back again.
    Repeated,
    /// It stays valid and is not sent again (Google).
    Kept,
    /// A new one comes each time, with a lifetime of its own; the old one stays valid until it
    /// expires (Pinterest's continuous refresh).
    Rotated,
    /// A new one comes each time and the old one works only once (X).
    RotatedSingleUse,
}

/// Which grant gave an answer.
#[derive(Clone, Copy, PartialEq, Debug)]
pub(crate) enum GrantKind {
    Code,
    Refresh,
}

impl GrantKind {
    pub(crate) fn grant_type(self) -> &'static str {
        match self {
            GrantKind::Code => "authorization_code",
            GrantKind::Refresh => "refresh_token",
        }
    }
}

/// What a grant issued, for the platform to put in its answer.
pub(crate) struct Issued {
    pub grant: GrantKind,
    pub access: TokenClaims,
    /// The access token as sent, prefix included.
    pub access_token: String,
    /// The refresh token to send with it, if any, and its claims.
    pub refresh: Option<(String, TokenClaims)>,
    pub now: DateTime<Utc>,
}

/// What the client's credentials looked like.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientFacts {
    /// With Basic: whether the header was there and decoded to `id:secret`.
    pub basic_readable: bool,
    pub id_sent: bool,
    pub secret_sent: bool,
    pub known: bool,
    pub secret_matches: bool,
}

/// What was wrong with a presented code; every fact is gathered, the platform picks which to
/// name first.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CodeFacts {
    /// Never issued, or already used.
    pub unknown: bool,
    /// Issued by another simulated platform.
    pub other_platform: bool,
    pub other_client: bool,
    pub other_redirect_uri: bool,
    pub expired: bool,
    /// The code has a PKCE challenge and no `code_verifier` came.
    pub verifier_missing: bool,
    pub verifier_wrong: bool,
}

impl CodeFacts {
    fn any(&self) -> bool {
        self.unknown
            || self.other_platform
            || self.other_client
            || self.other_redirect_uri
            || self.expired
            || self.verifier_missing
            || self.verifier_wrong
    }
}

/// Why the endpoint refuses a request.
#[derive(Debug)]
pub(crate) enum Refusal<'a> {
    /// A required parameter is missing (or empty).
    Missing(&'a str),
    Client(ClientFacts),
    /// The `client_id` parameter names another client than the Basic header.
    ClientIdMismatch,
    UnsupportedGrant(&'a str),
    Code {
        code: &'a str,
        facts: CodeFacts,
    },
    /// Not a live refresh token of this client: unknown, expired, revoked, or already used
    /// where refresh tokens are single-use.
    RefreshToken,
}

/// Refresh tokens already exchanged, where they work once: per platform, by nonce.
#[derive(Default)]
struct SpentRefreshTokens(HashSet<String>);

/// The token endpoint of the platform `rules` describes.
pub(crate) fn endpoint(sim: &Simulator, request: &Request, rules: &TokenRules) -> Response {
    match run(sim, request, rules) {
        Ok(response) | Err(response) => response,
    }
}

fn run(sim: &Simulator, request: &Request, rules: &TokenRules) -> Result<Response, Response> {
    let refuse = |refusal: Refusal<'_>| (rules.refuse)(sim, &refusal);
    if let Some(precheck) = rules.precheck {
        precheck(sim, request)?;
    }
    let params = (rules.params)(request);
    require(&params, rules.required_first).map_err(|name| refuse(Refusal::Missing(name)))?;
    let mut client_id = None;
    if !rules.grant_before_client {
        client_id = Some(authenticate(sim, request, &params, rules)?);
    }
    let grant_type = match value(&params, "grant_type", false) {
        Some(grant_type) => grant_type,
        None => rules
            .default_grant
            .ok_or_else(|| refuse(Refusal::Missing("grant_type")))?,
    };
    let grant = match grant_type {
        "authorization_code" => Grant::Code,
        "refresh_token" if !matches!(rules.refresh, Refresh::None) => Grant::Refresh,
        other => match rules.extra_grants.iter().find(|(name, _)| *name == other) {
            Some((_, extra)) => Grant::Extra(*extra),
            None => return Err(refuse(Refusal::UnsupportedGrant(other))),
        },
    };
    let grant_params = match grant {
        Grant::Code => rules.code_params,
        Grant::Refresh => rules.refresh_params,
        Grant::Extra(_) => &[],
    };
    require(&params, grant_params).map_err(|name| refuse(Refusal::Missing(name)))?;
    let client_id = match client_id {
        Some(id) => id,
        None => authenticate(sim, request, &params, rules)?,
    };
    Ok(match grant {
        Grant::Code => exchange_code(sim, &params, &client_id, rules)?,
        Grant::Refresh => refresh(sim, &params, &client_id, rules)?,
        Grant::Extra(extra) => extra(sim, &params, &client_id),
    })
}

enum Grant {
    Code,
    Refresh,
    Extra(ExtraGrant),
}

/// A parameter's value; empty counts as absent unless `may_be_empty`.
fn value<'a>(params: &'a [(String, String)], name: &str, may_be_empty: bool) -> Option<&'a str> {
    form_value(params, name).filter(|v| may_be_empty || !v.is_empty())
}

/// The first of `required` that is missing.
fn require(params: &[(String, String)], required: &[Param]) -> Result<(), &'static str> {
    match required
        .iter()
        .find(|p| value(params, p.name, p.may_be_empty).is_none())
    {
        Some(missing) => Err(missing.name),
        None => Ok(()),
    }
}

/// The client the request authenticates as, or the platform's refusal.
fn authenticate(
    sim: &Simulator,
    request: &Request,
    params: &[(String, String)],
    rules: &TokenRules,
) -> Result<String, Response> {
    let (id, secret, basic_readable) = match rules.client_auth {
        ClientAuth::Basic {
            percent_decoded, ..
        } => match basic_credentials(request) {
            Some((id, secret)) if percent_decoded => (
                httpkit::percent_decode(&id),
                httpkit::percent_decode(&secret),
                true,
            ),
            Some((id, secret)) => (id, secret, true),
            None => (String::new(), String::new(), false),
        },
        ClientAuth::Params => (
            value(params, "client_id", false)
                .unwrap_or_default()
                .to_string(),
            value(params, "client_secret", false)
                .unwrap_or_default()
                .to_string(),
            true,
        ),
    };
    let client = sim.client(rules.platform, &id).filter(|_| !id.is_empty());
    let facts = ClientFacts {
        basic_readable,
        id_sent: !id.is_empty(),
        secret_sent: !secret.is_empty(),
        known: client.is_some(),
        secret_matches: client
            .as_ref()
            .is_some_and(|c| constant_time_eq(c.client_secret.as_bytes(), secret.as_bytes())),
    };
    if !(facts.basic_readable && facts.known && facts.secret_matches) {
        return Err((rules.refuse)(sim, &Refusal::Client(facts)));
    }
    if let ClientAuth::Basic {
        body_id_must_match: true,
        ..
    } = rules.client_auth
        && form_value(params, "client_id").is_some_and(|named| named != id)
    {
        return Err((rules.refuse)(sim, &Refusal::ClientIdMismatch));
    }
    Ok(id)
}

/// `id:secret` from `Authorization: Basic`, when the header is there and decodes.
fn basic_credentials(request: &Request) -> Option<(String, String)> {
    let header = request.header("authorization")?.trim();
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// The grant id of the tokens a code produced, derived from the code so that a second use of
/// the code can revoke them without any stored mapping.
pub(crate) fn grant_of_code(platform: Platform, code: &str) -> String {
    sha256_hex(format!("{} code {code}", platform.key()).as_bytes())[..24].to_string()
}

fn exchange_code(
    sim: &Simulator,
    params: &[(String, String)],
    client_id: &str,
    rules: &TokenRules,
) -> Result<Response, Response> {
    let sent_code = value(params, "code", true).unwrap_or_default();
    let code = match rules.code_suffix {
        Some(suffix) => sent_code.trim_end_matches(suffix),
        None => sent_code,
    };
    let redirect_uri = value(params, "redirect_uri", true).unwrap_or_default();
    let now = sim.now();
    let found = sim.find_code(code).filter(|_| !code.is_empty());
    let mut facts = CodeFacts {
        unknown: found.is_none(),
        ..CodeFacts::default()
    };
    if let Some(found) = &found {
        facts.other_platform = found.platform != rules.platform;
        facts.other_client = found.client_id != client_id;
        facts.other_redirect_uri = found.redirect_uri != redirect_uri;
        facts.expired = now >= found.expires_at;
        if let Some((challenge, method)) = &found.pkce {
            match value(params, "code_verifier", false) {
                None => facts.verifier_missing = true,
                Some(verifier) => {
                    let computed = if method == "S256" {
                        pkce_challenge(verifier)
                    } else {
                        verifier.to_string()
                    };
                    facts.verifier_wrong =
                        !constant_time_eq(computed.as_bytes(), challenge.as_bytes());
                }
            }
        }
    }
    let grant = match found {
        Some(grant) if !facts.any() => grant,
        _ => return Err((rules.refuse)(sim, &Refusal::Code { code, facts })),
    };
    sim.consume_code(code);
    let access = TokenClaims {
        typ: rules.access.kind.into(),
        plat: rules.platform.key().into(),
        cid: client_id.to_string(),
        sub: (rules.access.subject)(sim, &grant.member_name),
        name: grant.member_name.clone(),
        scp: grant.scopes.clone(),
        iat: now.timestamp(),
        exp: (now + (rules.access.lifetime)(sim)).timestamp(),
        grant: if rules.code_reuse_revokes {
            grant_of_code(rules.platform, code)
        } else {
            random_token(16)
        },
        nonce: random_token(16),
    };
    let refresh = match &rules.refresh {
        Refresh::Issued { when, lifetime, .. } if when(sim, &grant) => {
            Some(new_refresh_token(sim, rules, &access, now, *lifetime))
        }
        _ => None,
    };
    Ok(issue(sim, rules, GrantKind::Code, access, refresh, now))
}

fn new_refresh_token(
    sim: &Simulator,
    rules: &TokenRules,
    access: &TokenClaims,
    now: DateTime<Utc>,
    lifetime: fn(&Simulator) -> Duration,
) -> (String, TokenClaims) {
    let claims = TokenClaims {
        typ: "refresh".into(),
        exp: (now + lifetime(sim)).timestamp(),
        nonce: random_token(16),
        ..access.clone()
    };
    (
        format!("{}{}", rules.refresh_prefix, sim.sign_token(&claims)),
        claims,
    )
}

fn issue(
    sim: &Simulator,
    rules: &TokenRules,
    grant: GrantKind,
    access: TokenClaims,
    refresh: Option<(String, TokenClaims)>,
    now: DateTime<Utc>,
) -> Response {
    let access_token = format!("{}{}", rules.access_prefix, sim.sign_token(&access));
    (rules.answer)(
        sim,
        &Issued {
            grant,
            access,
            access_token,
            refresh,
            now,
        },
    )
}

fn refresh(
    sim: &Simulator,
    params: &[(String, String)],
    client_id: &str,
    rules: &TokenRules,
) -> Result<Response, Response> {
    let Refresh::Issued {
        lifetime,
        refreshed_lifetime,
        on_refresh,
        ..
    } = &rules.refresh
    else {
        unreachable!("the refresh grant is routed only where refresh tokens exist");
    };
    let presented = value(params, "refresh_token", true).unwrap_or_default();
    let refuse = || (rules.refuse)(sim, &Refusal::RefreshToken);
    let old = presented
        .strip_prefix(rules.refresh_prefix)
        .and_then(|token| live_refresh_token(sim, rules.platform, token, client_id))
        .ok_or_else(refuse)?;
    // Single use: the check and the marking happen under one lock, so two refreshes with the
    // same token cannot both win.
    if *on_refresh == OnRefresh::RotatedSingleUse
        && !sim.with_platform_state(rules.platform, |spent: &mut SpentRefreshTokens| {
            spent.0.insert(old.nonce.clone())
        })
    {
        return Err(refuse());
    }
    let now = sim.now();
    let access_lifetime = refreshed_lifetime.unwrap_or(rules.access.lifetime);
    let access = TokenClaims {
        typ: "access".into(),
        iat: now.timestamp(),
        exp: (now + access_lifetime(sim)).timestamp(),
        nonce: random_token(16),
        ..old.clone()
    };
    let refresh = match on_refresh {
        OnRefresh::Repeated => Some((presented.to_string(), old)),
        OnRefresh::Kept => None,
        OnRefresh::Rotated | OnRefresh::RotatedSingleUse => {
            Some(new_refresh_token(sim, rules, &access, now, *lifetime))
        }
    };
    Ok(issue(sim, rules, GrantKind::Refresh, access, refresh, now))
}

/// The form of a token request (most platforms read only the body).
pub(crate) fn form_params(request: &Request) -> Vec<(String, String)> {
    request.form()
}
