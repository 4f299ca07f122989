//! The OAuth checks that every simulated platform makes the same way: reading the parameters
//! of an authorization request, finding the registered client and its redirect URI, sending an
//! error back to the redirect URI with the `state`, and verifying the signed tokens presented
//! to a token or revocation endpoint. `authorize.rs` checks whole authorization requests.
//!
//! It decides nothing a platform words: each platform file answers with its own error pages
//! (through `consent.rs`'s template), error codes and bodies from what these helpers report.

use super::{SimClient, Simulator, TokenClaims, redirect_with};
use crate::Platform;
use httpkit::{Response, form_value};

/// A parameter of the query or form, trimmed; empty when absent.
pub(crate) fn trimmed_param(params: &[(String, String)], name: &str) -> String {
    form_value(params, name)
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// A parameter of the query or form as sent; empty when absent.
pub(crate) fn raw_param(params: &[(String, String)], name: &str) -> String {
    form_value(params, name).unwrap_or_default().to_string()
}

/// Why an authorization request cannot even be answered with a redirect.
pub(crate) enum ClientProblem {
    /// No client is registered under that id (or the id is empty).
    UnknownClient,
    /// The redirect URI is not one of the client's, compared exactly.
    RedirectNotRegistered,
}

/// The client of an authorization request, when `client_id` names a registered client and
/// `redirect_uri` is one of its redirect URIs. Until both hold, the platform answers with the
/// error page `refuse` renders: redirecting to an unverified URI would be an open redirect.
pub(crate) fn registered_client(
    sim: &Simulator,
    platform: Platform,
    client_id: &str,
    redirect_uri: &str,
    refuse: impl FnOnce(ClientProblem) -> Response,
) -> Result<SimClient, Response> {
    let Some(client) = sim
        .client(platform, client_id)
        .filter(|_| !client_id.is_empty())
    else {
        return Err(refuse(ClientProblem::UnknownClient));
    };
    if client.redirect_uris.iter().any(|uri| uri == redirect_uri) {
        Ok(client)
    } else {
        Err(refuse(ClientProblem::RedirectNotRegistered))
    }
}

/// The redirect back to the client with `pairs`, followed by `state` when the request had one.
pub(crate) fn redirect_with_state<'a>(
    redirect_uri: &str,
    mut pairs: Vec<(&'a str, &'a str)>,
    state: &'a str,
) -> Response {
    if !state.is_empty() {
        pairs.push(("state", state));
    }
    Response::redirect(&redirect_with(redirect_uri, &pairs))
}

/// The claims of a refresh token that `client_id` may use now on `platform`: signed here,
/// of type `refresh`, not expired and not revoked.
pub(crate) fn live_refresh_token(
    sim: &Simulator,
    platform: Platform,
    token: &str,
    client_id: &str,
) -> Option<TokenClaims> {
    let now = sim.now().timestamp();
    sim.verify_token(token).filter(|c| {
        c.typ == "refresh"
            && c.plat == platform.key()
            && c.cid == client_id
            && now < c.exp
            && !sim.is_revoked(&c.grant)
    })
}

/// The claims of a token of `platform` issued to `client_id`, whatever its type, expiry or
/// revocation: what revocation and introspection endpoints look at.
pub(crate) fn client_token(
    sim: &Simulator,
    platform: Platform,
    token: &str,
    client_id: &str,
) -> Option<TokenClaims> {
    sim.verify_token(token)
        .filter(|c| c.plat == platform.key() && c.cid == client_id)
}

/// The claims of an access token of `platform` that is valid now: signed here, of type
/// `access`, not revoked and not expired. For platforms that answer all of these alike.
pub(crate) fn live_access_token(
    sim: &Simulator,
    platform: Platform,
    token: &str,
) -> Option<TokenClaims> {
    sim.verify_token(token)
        .filter(|c| c.typ == "access" && c.plat == platform.key())
        .filter(|c| !sim.is_revoked(&c.grant) && sim.now().timestamp() < c.exp)
}
