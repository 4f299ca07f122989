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
//! Each platform describes its own part with `ConsentFlow`: how it checks a request (its
//! `AuthorizeRules` row for `authorize.rs`, which also keeps X's PKCE challenge and Reddit's
//! duration), its look, words and path, its member-name rule and message, its code lifetime
//! and its redirects. Facebook (Page checkboxes) and YouTube
//! (Google's account pages) keep flows of their own.
//!
//! Every page of every platform (consent pages and error pages alike) is rendered here, from
//! one template and a small description per platform: its `Look` (title suffix, style, header)
//! and its `ConsentWords` (title, heading, the member field's label and rule, the notes). What
//! varies per request (the scopes, the hidden fields, Facebook's Page checkboxes, Reddit's
//! duration sentence) fills the slots of `ConsentPage`.

use super::authorize::{self, Authorize, AuthorizeRules, Layout};
use super::{AuthCode, Simulator};
use httpkit::{Request, Response, form_value, html_escape};

/// One platform's consent flow: how it checks a request, what its consent page shows, and
/// what it answers to each decision.
pub(crate) trait ConsentFlow {
    /// How the platform checks the request (`authorize.rs`).
    const RULES: &'static AuthorizeRules;
    const LOOK: &'static Look;
    const WORDS: &'static ConsentWords;
    /// The authorization URL's path under the platform's base, where the form posts.
    const PATH: &'static str;
    /// The name the consent page proposes.
    const DEFAULT_MEMBER_NAME: &'static str;
    /// What the consent page says when the member name does not fit `member_name_fits`.
    const MEMBER_NAME_RULE: &'static str;

    /// What replaces `WORDS.intro` for this request, if anything.
    fn intro(_request: &Authorize) -> Option<&'static str> {
        None
    }
    /// Whether the (trimmed) member name can sign in; by default 1 to 100 characters.
    fn member_name_fits(name: &str) -> bool {
        !name.is_empty() && name.chars().count() <= 100
    }
    /// How long an issued code can be exchanged.
    fn code_ttl(sim: &Simulator) -> chrono::Duration;
    /// Whether the consent asks for lasting access (see `AuthCode::offline`).
    fn offline(_request: &Authorize) -> bool {
        false
    }
    /// The answer to Allow, once `code` is issued (and anything kept beside it).
    fn allowed(request: &Authorize, code: String) -> Response;
    /// The answer to Deny.
    fn denied(request: &Authorize) -> Response;
    /// The answer to a form sent without a decision.
    fn undecided() -> Response;
}

/// The consent page of platform `F` for `request`, proposing `member_name`, `error` its alert.
fn flow_page<F: ConsentFlow>(
    request: &Authorize,
    base: &str,
    member_name: &str,
    error: Option<&str>,
) -> Response {
    let layout = Layout {
        look: F::LOOK,
        words: F::WORDS,
        action: format!("{base}{}", F::PATH),
        intro: F::intro(request),
        after_member_field: String::new(),
    };
    request.consent_page(F::RULES, layout, member_name, error)
}

/// The GET of the authorization URL: the consent page, or why the request is refused.
pub(crate) fn authorize_page<F: ConsentFlow>(
    sim: &Simulator,
    query: &[(String, String)],
    base: &str,
) -> Response {
    match authorize::check(sim, query, F::RULES) {
        Ok(request) => flow_page::<F>(&request, base, F::DEFAULT_MEMBER_NAME, None),
        Err(response) => response,
    }
}

/// The POST of the consent form: the request checked again, then the decision.
pub(crate) fn authorize_decision<F: ConsentFlow>(
    sim: &Simulator,
    request: &Request,
    base: &str,
) -> Response {
    let form = request.form();
    let request = match authorize::check(sim, &form, F::RULES) {
        Ok(request) => request,
        Err(response) => return response,
    };
    match form_value(&form, "decision") {
        Some("allow") => {
            let member_name = form_value(&form, "member_name").unwrap_or_default().trim();
            if !F::member_name_fits(member_name) {
                return flow_page::<F>(&request, base, member_name, Some(F::MEMBER_NAME_RULE));
            }
            let code = sim.issue_code(AuthCode {
                platform: F::RULES.platform,
                client_id: request.client_id.clone(),
                redirect_uri: request.redirect_uri.clone(),
                scopes: request.scopes.clone(),
                member_name: member_name.to_string(),
                expires_at: sim.now() + F::code_ttl(sim),
                used: false,
                pkce: request.pkce.clone(),
                offline: F::offline(&request),
            });
            F::allowed(&request, code)
        }
        Some("deny") => F::denied(&request),
        _ => F::undecided(),
    }
}

// ----- the one page template -----

/// How one platform's pages look.
pub(crate) struct Look {
    /// Follows the page's own title in `<title>`: `" | LinkedIn (sandbox)"`.
    pub title_suffix: &'static str,
    pub style: &'static str,
    /// Markup between `<body>` and `<main>`: the platform's header bar.
    pub header: &'static str,
    /// Markup at the start of `<main>` (Google's logo sits inside the card).
    pub main_start: &'static str,
}

/// What a platform's consent page says. In the HTML fields `{app}` stands for the client's
/// name (escaped); in `title` for the name as text.
pub(crate) struct ConsentWords {
    pub title: &'static str,
    pub heading: &'static str,
    /// A paragraph between the heading and the scopes, if the platform has one.
    pub intro: Option<&'static str>,
    pub member_label: &'static str,
    /// The member field's `maxlength`: the platform's rule for names.
    pub member_max_chars: usize,
    /// Whether the member field carries `autocomplete="name"`.
    pub member_autocomplete: bool,
    /// Whether the label and field sit in a `<div class="field">` (Facebook's layout).
    pub member_field_boxed: bool,
    /// Small print after the member field.
    pub notes: &'static [&'static str],
    /// Whether each scope is listed with its own name after its words (Threads).
    pub scope_names_shown: bool,
}

/// One consent page to render: the platform's description and the request's slots.
pub(crate) struct ConsentPage<'a> {
    pub look: &'a Look,
    pub words: &'a ConsentWords,
    pub client_name: &'a str,
    /// Where the form posts (the authorization URL).
    pub action: String,
    /// The authorization request, carried through the form.
    pub hidden: &'a [(&'a str, &'a str)],
    /// The granted scopes, and every scope the platform knows with its words.
    pub scopes: &'a [String],
    pub known_scopes: &'a [(&'a str, &'a str)],
    /// Replaces `words.intro` for this request (Reddit says how long access lasts).
    pub intro: Option<&'a str>,
    /// Markup after the member field (Facebook's Page checkboxes).
    pub after_member_field: String,
    pub member_name: &'a str,
    /// The problem with the last form, shown as an alert; the page then answers 400.
    pub error: Option<&'a str>,
}

/// The frame every page shares: title, style, header, and `main` in the platform's card.
pub(crate) fn page(look: &Look, title: &str, main: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title}{suffix}</title><style>{style}</style></head>\
<body>{header}<main>{start}{main}</main></body></html>\n",
        title = html_escape(title),
        suffix = look.title_suffix,
        style = look.style,
        header = look.header,
        start = look.main_start,
    )
}

/// The consent page: who asks, for what, as whom, and the Allow and Deny buttons.
pub(crate) fn consent_page(consent: &ConsentPage<'_>) -> Response {
    let words = consent.words;
    let app = html_escape(consent.client_name);
    let with_app = |text: &str| text.replace("{app}", &app);
    let scope_items: String = consent
        .scopes
        .iter()
        .filter_map(|scope| consent.known_scopes.iter().find(|(name, _)| name == scope))
        .map(|(name, said)| {
            if words.scope_names_shown {
                format!(
                    "<li>{} <span class=\"small\">({})</span></li>",
                    html_escape(said),
                    html_escape(name)
                )
            } else {
                format!("<li>{}</li>", html_escape(said))
            }
        })
        .collect();
    let intro = match (consent.intro, words.intro) {
        (Some(intro), _) => format!("<p>{}</p>", with_app(intro)),
        (None, Some(intro)) => format!("<p>{}</p>", with_app(intro)),
        (None, None) => String::new(),
    };
    let autocomplete = if words.member_autocomplete {
        " autocomplete=\"name\""
    } else {
        ""
    };
    let field = format!(
        "<label for=\"member_name\">{label}</label>\
<input type=\"text\" id=\"member_name\" name=\"member_name\" value=\"{member}\"{autocomplete} required maxlength=\"{max}\">",
        label = words.member_label,
        member = html_escape(consent.member_name),
        max = words.member_max_chars,
    );
    let field = if words.member_field_boxed {
        format!("<div class=\"field\">{field}</div>")
    } else {
        field
    };
    let notes: String = words
        .notes
        .iter()
        .map(|note| format!("<p class=\"small\">{}</p>", with_app(note)))
        .collect();
    let main = format!(
        "<h1>{heading}</h1>{intro}<ul class=\"scopes\">{scope_items}</ul>{error}\
<form method=\"post\" action=\"{action}\">{hidden}{field}{after}{notes}\
<div class=\"actions\"><button type=\"submit\" class=\"deny\" name=\"decision\" value=\"deny\">Deny</button>\
<button type=\"submit\" class=\"allow\" name=\"decision\" value=\"allow\">Allow</button></div></form>",
        heading = with_app(words.heading),
        error = error_paragraph(consent.error),
        action = html_escape(&consent.action),
        hidden = hidden_inputs(consent.hidden),
        after = consent.after_member_field,
    );
    let title = words.title.replace("{app}", consent.client_name);
    let status = if consent.error.is_some() { 400 } else { 200 };
    Response::html(status, page(consent.look, &title, &main))
}

/// An error page: `heading`, then `problem` as the alert and `detail` under it, if any.
pub(crate) fn error_page(
    look: &Look,
    status: u16,
    title: &str,
    heading: &str,
    problem: &str,
    detail: Option<&str>,
) -> Response {
    let detail = detail
        .map(|d| format!("<p>{}</p>", html_escape(d)))
        .unwrap_or_default();
    let main = format!(
        "<h1>{}</h1><p class=\"error\">{}</p>{detail}",
        html_escape(heading),
        html_escape(problem),
    );
    Response::html(status, page(look, title, &main))
}

/// Hidden form fields that carry the authorization request through the consent form.
pub(crate) fn hidden_inputs(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                html_escape(value)
            )
        })
        .collect()
}

/// The alert paragraph of a consent page sent back with a problem; empty without one.
pub(crate) fn error_paragraph(error: Option<&str>) -> String {
    error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", html_escape(e)))
        .unwrap_or_default()
}
