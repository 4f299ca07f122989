//! The consent flow that LinkedIn, X, Instagram, Threads, Pinterest and Reddit walk the same
//! way. The GET of the authorization URL checks the request and renders the consent page,
//! proposing the platform's default member name. The POST of the consent form checks the
//! request again (the form carries it in hidden fields), then:
//!
//! - Allow: the member name (trimmed) must fit the platform's rule, or the consent page comes
//!   back with the platform's message; then a code is issued for the granted scopes with the
//!   platform's lifetime and the browser goes back to the app with it;
//! - Deny: the browser goes back to the app with the platform's error parameters;
//! - anything else: the platform's error page.
//!
//! Each platform describes its own part with `ConsentRequest`: how it checks a request, its
//! member-name rule and message, its code lifetime, what it keeps besides the code (X's PKCE
//! challenge, Reddit's duration), its redirects and its pages. Facebook (Page checkboxes) and
//! YouTube (Google's account pages) keep flows of their own.

use super::{AuthCode, Simulator};
use crate::Platform;
use httpkit::{Request, Response, form_value};

/// A checked authorization request of one platform, and what its consent flow does with it.
pub(crate) trait ConsentRequest: Sized {
    const PLATFORM: Platform;
    /// The name the consent page proposes.
    const DEFAULT_MEMBER_NAME: &'static str;
    /// What the consent page says when the member name does not fit `member_name_fits`.
    const MEMBER_NAME_RULE: &'static str;

    /// The request from the query (GET) or form (POST), or the platform's answer refusing it.
    fn check(sim: &Simulator, params: &[(String, String)]) -> Result<Self, Response>;
    /// The consent page, proposing `member_name`, with `error` as its alert.
    fn page(&self, base: &str, member_name: &str, error: Option<&str>) -> Response;
    /// Whether the (trimmed) member name can sign in; by default 1 to 100 characters.
    fn member_name_fits(name: &str) -> bool {
        !name.is_empty() && name.chars().count() <= 100
    }
    /// How long an issued code can be exchanged.
    fn code_ttl(sim: &Simulator) -> chrono::Duration;
    fn client_id(&self) -> &str;
    fn redirect_uri(&self) -> &str;
    /// The scopes the code carries: by default the granted ones.
    fn code_scopes(&self) -> Vec<String>;
    /// The answer to Allow, once `code` is issued (and anything kept beside it).
    fn allowed(&self, sim: &Simulator, code: String) -> Response;
    /// The answer to Deny.
    fn denied(&self) -> Response;
    /// The answer to a form sent without a decision.
    fn undecided() -> Response;
}

/// The GET of the authorization URL: the consent page, or why the request is refused.
pub(crate) fn authorize_page<R: ConsentRequest>(
    sim: &Simulator,
    query: &[(String, String)],
    base: &str,
) -> Response {
    match R::check(sim, query) {
        Ok(params) => params.page(base, R::DEFAULT_MEMBER_NAME, None),
        Err(response) => response,
    }
}

/// The POST of the consent form: the request checked again, then the decision.
pub(crate) fn authorize_decision<R: ConsentRequest>(
    sim: &Simulator,
    request: &Request,
    base: &str,
) -> Response {
    let form = request.form();
    let params = match R::check(sim, &form) {
        Ok(params) => params,
        Err(response) => return response,
    };
    match form_value(&form, "decision") {
        Some("allow") => {
            let member_name = form_value(&form, "member_name").unwrap_or_default().trim();
            if !R::member_name_fits(member_name) {
                return params.page(base, member_name, Some(R::MEMBER_NAME_RULE));
            }
            let code = sim.issue_code(AuthCode {
                platform: R::PLATFORM,
                client_id: params.client_id().to_string(),
                redirect_uri: params.redirect_uri().to_string(),
                scopes: params.code_scopes(),
                member_name: member_name.to_string(),
                expires_at: sim.now() + R::code_ttl(sim),
                used: false,
            });
            params.allowed(sim, code)
        }
        Some("deny") => params.denied(),
        _ => R::undecided(),
    }
}
