//! The one parser of OAuth authorization requests (the GET of the authorization URL and the
//! consent form that carries it back) for LinkedIn, X, Facebook, Instagram, Threads, Pinterest
//! and Reddit. They check the same things: the client and its redirect URI (always an error
//! page: redirecting to an unverified URI would be an open redirect), `response_type=code`,
//! then in the platform's own order its `state` rule, PKCE, its options (Reddit's `duration`)
//! and the scopes. What differs is data in an `AuthorizeRules` row per platform: how the
//! parameters are read, the order of the checks, the scope separators, the scopes every grant
//! carries or needs, the consent form's fields, and (in `refuse`) each refusal's wording and
//! shape: an error page, or an error sent back to the app with the `state`.
//! YouTube keeps a parser of its own: Google answers every problem with its error page, and
//! names scopes by URL.

use super::Simulator;
use super::consent::{ConsentPage, ConsentWords, Look, consent_page};
use super::oauth::{
    ClientProblem, raw_param, redirect_with_state, registered_client, trimmed_param,
};
use crate::Platform;
use httpkit::Response;

/// How one platform checks an authorization request.
pub(crate) struct AuthorizeRules {
    pub platform: Platform,
    /// Whether `client_id`, `response_type`, `scope` and the options are read trimmed (X reads
    /// every parameter as sent). `redirect_uri` is always compared as sent.
    pub trimmed: bool,
    /// Whether `state` is read trimmed too (it is an opaque value to LinkedIn and Threads).
    pub state_trimmed: bool,
    /// Whether a missing `response_type` means `code` (Facebook's Login dialog).
    pub response_type_optional: bool,
    /// The checks after `response_type`, in the order the platform makes them.
    pub steps: &'static [Step],
    pub scopes: ScopeRule,
    /// The consent form's hidden fields, in the platform's order: each a parameter name
    /// (`response_type` is `code`, `scope` the granted scopes joined by `ScopeRule::joiner`).
    pub form_fields: &'static [&'static str],
    /// The error page for an unknown client or unregistered redirect URI (quoted as sent).
    pub refuse_client: fn(ClientProblem, &str) -> Response,
    /// The platform's answer to every other problem.
    pub refuse: fn(Problem<'_>) -> Rejection,
}

/// One check after `response_type`.
pub(crate) enum Step {
    /// `state` must be sent, and be at most this many bytes when given.
    State { max_len: Option<usize> },
    /// `code_challenge` must be sent; `code_challenge_method` is `plain` (the default) or `S256`.
    Pkce,
    /// An option with a fixed set of values; missing means the first.
    Choice {
        name: &'static str,
        values: &'static [&'static str],
    },
    /// The scopes, by `AuthorizeRules::scopes`.
    Scopes,
}

/// How a platform reads and checks the `scope` parameter.
pub(crate) struct ScopeRule {
    /// The characters that separate scopes (empty pieces are skipped).
    pub separators: &'static [char],
    /// Whether each piece is trimmed (Pinterest: `"a, b"`).
    pub trim_pieces: bool,
    /// Every scope the platform knows, with what its consent page says about it.
    pub known: &'static [(&'static str, &'static str)],
    /// Scopes granted whether asked for or not, first (Facebook's `public_profile`).
    pub implied: &'static [&'static str],
    /// A scope every request must ask for (Threads' `threads_basic`); without one, at least
    /// one scope must be asked for.
    pub required: Option<&'static str>,
    /// What joins the scopes in the consent form.
    pub joiner: &'static str,
}

impl ScopeRule {
    /// Scopes from `known`, split at `separators` and joined by `joiner`, none implied or
    /// required, pieces as split.
    pub const fn new(
        known: &'static [(&'static str, &'static str)],
        separators: &'static [char],
        joiner: &'static str,
    ) -> Self {
        Self {
            separators,
            trim_pieces: false,
            known,
            implied: &[],
            required: None,
            joiner,
        }
    }
}

/// What is wrong with a request whose client and redirect URI are fine.
pub(crate) enum Problem<'a> {
    /// `response_type` is not `code`.
    ResponseType,
    /// `state` is missing or too long.
    State,
    /// `code_challenge` is missing.
    NoChallenge,
    /// `code_challenge_method` is neither `plain` nor `S256`.
    ChallengeMethod(&'a str),
    /// An option has a value the platform does not take.
    Choice,
    /// The first scope the platform does not know.
    UnknownScope(&'a str),
    /// No scope was asked for.
    NoScope,
    /// The scope every request must ask for (`ScopeRule::required`) is missing.
    RequiredScope,
}

/// How a platform refuses a request once the redirect URI is known to be the client's.
pub(crate) enum Rejection {
    /// Its error page.
    Page(Response),
    /// Back to the app: `error`, then `error_description` if any, then `state` if sent.
    Back {
        error: &'static str,
        description: Option<String>,
    },
}

/// What a platform's consent page shows besides the request (see `ConsentPage`).
pub(crate) struct Layout<'a> {
    pub look: &'a Look,
    pub words: &'a ConsentWords,
    /// Where the form posts (the authorization URL).
    pub action: String,
    /// Replaces `words.intro` for this request.
    pub intro: Option<&'a str>,
    /// Markup after the member field.
    pub after_member_field: String,
}

/// A checked authorization request.
pub(crate) struct Authorize {
    pub client_name: String,
    pub client_id: String,
    pub redirect_uri: String,
    /// As the platform reads it; empty when not sent.
    pub state: String,
    /// Each once, in the order asked, after the implied ones.
    pub scopes: Vec<String>,
    /// The PKCE challenge and method, when the platform takes them.
    pub pkce: Option<(String, String)>,
    /// The options' values (`Step::Choice`).
    pub choices: Vec<(&'static str, String)>,
}

impl Authorize {
    /// The value of an option (`Step::Choice`) of the platform's rules.
    pub fn choice(&self, name: &str) -> &str {
        self.choices
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }

    /// The consent page for this request, laid out by `layout`, with the request carried in
    /// the hidden fields `rules.form_fields`, proposing `member_name`, with `error` as alert.
    pub fn consent_page(
        &self,
        rules: &AuthorizeRules,
        layout: Layout<'_>,
        member_name: &str,
        error: Option<&str>,
    ) -> Response {
        let scope = self.scopes.join(rules.scopes.joiner);
        let hidden: Vec<(&str, &str)> = rules
            .form_fields
            .iter()
            .map(|&name| {
                let value = match name {
                    "response_type" => "code",
                    "client_id" => &self.client_id,
                    "redirect_uri" => &self.redirect_uri,
                    "state" => &self.state,
                    "scope" => &scope,
                    "code_challenge" => self.pkce.as_ref().map_or("", |p| p.0.as_str()),
                    "code_challenge_method" => self.pkce.as_ref().map_or("", |p| p.1.as_str()),
                    option => self.choice(option),
                };
                (name, value)
            })
            .collect();
        consent_page(&ConsentPage {
            look: layout.look,
            words: layout.words,
            client_name: &self.client_name,
            action: layout.action,
            hidden: &hidden,
            scopes: &self.scopes,
            known_scopes: rules.scopes.known,
            intro: layout.intro,
            after_member_field: layout.after_member_field,
            member_name,
            error,
        })
    }
}

/// The request in `params` (query or form) checked by `rules`, or the platform's refusal.
pub(crate) fn check(
    sim: &Simulator,
    params: &[(String, String)],
    rules: &AuthorizeRules,
) -> Result<Authorize, Response> {
    let get = |name: &str| {
        if rules.trimmed {
            trimmed_param(params, name)
        } else {
            raw_param(params, name)
        }
    };
    let client_id = get("client_id");
    let redirect_uri = raw_param(params, "redirect_uri");
    let client = registered_client(sim, rules.platform, &client_id, &redirect_uri, |problem| {
        (rules.refuse_client)(problem, &redirect_uri)
    })?;
    let state = if rules.trimmed && rules.state_trimmed {
        trimmed_param(params, "state")
    } else {
        raw_param(params, "state")
    };
    let refuse = |problem: Problem<'_>| match (rules.refuse)(problem) {
        Rejection::Page(page) => page,
        Rejection::Back { error, description } => {
            let mut pairs = vec![("error", error)];
            if let Some(description) = &description {
                pairs.push(("error_description", description.as_str()));
            }
            redirect_with_state(&redirect_uri, pairs, &state)
        }
    };
    let response_type = get("response_type");
    if !(response_type == "code" || rules.response_type_optional && response_type.is_empty()) {
        return Err(refuse(Problem::ResponseType));
    }
    let mut request = Authorize {
        client_name: client.name,
        client_id: client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        scopes: Vec::new(),
        pkce: None,
        choices: Vec::new(),
    };
    for step in rules.steps {
        match step {
            Step::State { max_len } => {
                if state.is_empty() || max_len.is_some_and(|max| state.len() > max) {
                    return Err(refuse(Problem::State));
                }
            }
            Step::Pkce => {
                let challenge = get("code_challenge");
                if challenge.is_empty() {
                    return Err(refuse(Problem::NoChallenge));
                }
                let method = match get("code_challenge_method").as_str() {
                    "" | "plain" => "plain",
                    "S256" => "S256",
                    other => return Err(refuse(Problem::ChallengeMethod(other))),
                };
                request.pkce = Some((challenge, method.to_string()));
            }
            Step::Choice { name, values } => {
                let value = get(name);
                let chosen = if value.is_empty() {
                    values[0]
                } else if let Some(known) = values.iter().find(|v| **v == value) {
                    known
                } else {
                    return Err(refuse(Problem::Choice));
                };
                request.choices.push((name, chosen.to_string()));
            }
            Step::Scopes => {
                request.scopes = scopes(&get("scope"), &rules.scopes).map_err(&refuse)?;
            }
        }
    }
    Ok(request)
}

/// The scopes of `scope`: the implied ones, then each asked once in order; the first unknown
/// one, or a missing required one, is the problem.
fn scopes<'a>(scope: &'a str, rule: &ScopeRule) -> Result<Vec<String>, Problem<'a>> {
    let mut scopes: Vec<String> = rule.implied.iter().map(|s| s.to_string()).collect();
    for piece in scope.split(rule.separators) {
        let piece = if rule.trim_pieces {
            piece.trim()
        } else {
            piece
        };
        if piece.is_empty() {
            continue;
        }
        if !rule.known.iter().any(|(name, _)| *name == piece) {
            return Err(Problem::UnknownScope(piece));
        }
        if !scopes.iter().any(|s| s == piece) {
            scopes.push(piece.to_string());
        }
    }
    match rule.required {
        Some(required) if !scopes.iter().any(|s| s == required) => Err(Problem::RequiredScope),
        None if scopes.is_empty() => Err(Problem::NoScope),
        _ => Ok(scopes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[(&str, &str)] = &[("a", ""), ("b", ""), ("base", "")];

    fn rule(separators: &'static [char], trim_pieces: bool) -> ScopeRule {
        ScopeRule {
            trim_pieces,
            ..ScopeRule::new(KNOWN, separators, " ")
        }
    }

    fn read(scope: &str, rule: &ScopeRule) -> Result<Vec<String>, String> {
        scopes(scope, rule).map_err(|problem| match problem {
            Problem::UnknownScope(scope) => format!("unknown {scope}"),
            Problem::NoScope => "none".into(),
            Problem::RequiredScope => "required".into(),
            _ => "other".into(),
        })
    }

    #[test]
    fn scopes_are_split_deduplicated_and_checked_in_order() {
        let spaces_and_commas = rule(&[' ', ','], false);
        assert_eq!(
            read("b a,,b", &spaces_and_commas),
            Ok(vec!["b".into(), "a".into()])
        );
        assert_eq!(read("a c d", &spaces_and_commas), Err("unknown c".into()));
        assert_eq!(read(" , ", &spaces_and_commas), Err("none".into()));
        // Pinterest separates by commas only and trims each piece: "a b" is one unknown scope.
        let commas_trimmed = rule(&[','], true);
        assert_eq!(
            read("a, b", &commas_trimmed),
            Ok(vec!["a".into(), "b".into()])
        );
        assert_eq!(read("a b", &commas_trimmed), Err("unknown a b".into()));
        assert_eq!(read("a, b", &rule(&[','], false)), Err("unknown  b".into()));
    }

    #[test]
    fn implied_scopes_come_first_and_required_ones_must_be_asked() {
        let implied = ScopeRule {
            implied: &["base"],
            ..rule(&[','], false)
        };
        assert_eq!(read("", &implied), Ok(vec!["base".into()]));
        assert_eq!(
            read("a,base", &implied),
            Ok(vec!["base".into(), "a".into()])
        );
        let required = ScopeRule {
            required: Some("base"),
            ..rule(&[','], false)
        };
        assert_eq!(read("a", &required), Err("required".into()));
        assert_eq!(read("", &required), Err("required".into()));
        assert_eq!(
            read("a,base", &required),
            Ok(vec!["a".into(), "base".into()])
        );
    }
}
