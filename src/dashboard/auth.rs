//! Who may use the dashboard: sign-in (with its throttle), the session cookie, sign-out, the
//! CSRF and `Origin` checks of every POST, and the one-time setup link of an instance that has
//! no operator yet. Sessions, hashes and attempts live in `services::operators`.

use super::view::Form;
use crate::app::AppState;
use crate::crypto::{constant_time_eq, random_token};
use crate::http::{Request, Response};
use crate::services::operators::{self, Session, SignInRefusal};
use askama::Template;
use chrono::{DateTime, Utc};

pub const SESSION_COOKIE: &str = "mps_session";
/// Carries the sign-in form's CSRF token before there is a session (double submit).
const SIGN_IN_COOKIE: &str = "mps_signin";

pub fn cookie(req: &Request, name: &str) -> Option<String> {
    req.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, v)| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
}

fn cookie_header(state: &AppState, name: &str, value: &str, max_age: Option<i64>) -> String {
    let mut header = format!("{name}={value}; HttpOnly; SameSite=Lax; Path=/dashboard");
    if let Some(age) = max_age {
        header.push_str(&format!("; Max-Age={age}"));
    }
    if state.config.public_url.starts_with("https://") {
        header.push_str("; Secure");
    }
    header
}

pub fn current_session(state: &AppState, req: &Request, now: DateTime<Utc>) -> Option<Session> {
    let token = cookie(req, SESSION_COOKIE)?;
    operators::session(&state.db, &token, state.config.dashboard_session_idle, now).unwrap_or_else(
        |e| {
            eprintln!("dashboard session lookup: {e}");
            None
        },
    )
}

/// `scheme://host[:port]` of the public URL: what a browser sends as `Origin`.
fn public_origin(state: &AppState) -> &str {
    let url = state.config.public_url.as_str();
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

/// A POST from another site is refused: when the browser says where the form came from, it
/// must be this instance's public origin.
pub fn origin_ok(state: &AppState, req: &Request) -> bool {
    req.header("origin")
        .is_none_or(|origin| origin.eq_ignore_ascii_case(public_origin(state)))
}

fn csrf_ok(expected: &str, req: &Request) -> bool {
    let form = req.form();
    crate::http::form_value(&form, "csrf").is_some_and(|sent| {
        !expected.is_empty() && constant_time_eq(sent.as_bytes(), expected.as_bytes())
    })
}

/// The CSRF token and `Origin` of a signed-in POST; `Some(403 page)` when either is wrong.
pub fn reject_forgery(state: &AppState, req: &Request, session: &Session) -> Option<Response> {
    if !origin_ok(state, req) {
        return Some(forbidden(
            "This form was sent from another site (its Origin header does not match this instance's public URL).",
        ));
    }
    if !csrf_ok(&session.csrf_token, req) {
        return Some(forbidden(
            "This form has expired or was not sent by the dashboard. Go back, reload the page and try again.",
        ));
    }
    None
}

fn forbidden(message: &str) -> Response {
    crate::web::message_page(403, "error", "Request refused", message)
}

#[derive(Template)]
#[template(path = "dashboard/sign_in.html")]
struct SignInPage<'a> {
    form: &'a Form,
    csrf: &'a str,
    next: &'a str,
    message: Option<String>,
}

/// Only paths inside the dashboard are followed after sign-in (no open redirect).
fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| n.starts_with("/dashboard") && !n.contains("//") && !n.contains('\\'))
        .unwrap_or("/dashboard")
        .to_string()
}

fn render_sign_in(
    state: &AppState,
    status: u16,
    form: &Form,
    next: &str,
    message: Option<String>,
) -> Response {
    let csrf = random_token(32);
    let body = SignInPage {
        form,
        csrf: &csrf,
        next,
        message,
    }
    .render()
    .unwrap_or_default();
    Response::html(status, body).with_header(
        "Set-Cookie",
        &cookie_header(state, SIGN_IN_COOKIE, &csrf, Some(3600)),
    )
}

pub fn sign_in_page(state: &AppState, req: &Request, now: DateTime<Utc>) -> Response {
    if current_session(state, req, now).is_some() {
        return Response::redirect("/dashboard");
    }
    let next = safe_next(req.query_param("next"));
    render_sign_in(state, 200, &Form::empty(), &next, None)
}

pub fn sign_in(state: &AppState, req: &Request, now: DateTime<Utc>) -> Response {
    let mut form = Form::from_request(req);
    let next = safe_next(Some(form.value("next")));
    if !origin_ok(state, req) {
        return forbidden("This form was sent from another site.");
    }
    let expected = cookie(req, SIGN_IN_COOKIE).unwrap_or_default();
    if !csrf_ok(&expected, req) {
        return forbidden("The sign-in form expired. Go back, reload the page and sign in again.");
    }
    let (email, password) = (form.trimmed("email"), form.value("password").to_string());
    form.forget("password");
    if email.is_empty() {
        form.add_error("email", "Enter your email address.");
    }
    if password.is_empty() {
        form.add_error("password", "Enter your password.");
    }
    if form.has_errors() {
        return render_sign_in(state, 400, &form, &next, None);
    }
    // Behind a trusted proxy, the address it forwarded: otherwise every sign-in would share
    // the proxy's, and five typos anywhere would lock everyone out.
    let ip = crate::client_ip::of_request(req, &state.config.trusted_proxies)
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".into());
    let outcome = operators::sign_in(
        &state.db,
        &email,
        &password,
        &ip,
        state.config.dashboard_session_idle,
        now,
    );
    match outcome {
        Ok(Ok((_, token))) => Response::new(303)
            .with_header("Location", &next)
            .with_header("Cache-Control", "no-store")
            .with_header(
                "Set-Cookie",
                &cookie_header(state, SESSION_COOKIE, &token, None),
            )
            .with_header(
                "Set-Cookie",
                &cookie_header(state, SIGN_IN_COOKIE, "", Some(0)),
            ),
        Ok(Err(SignInRefusal::Invalid)) => render_sign_in(
            state,
            401,
            &form,
            &next,
            Some("Wrong email or password.".into()),
        ),
        Ok(Err(SignInRefusal::Throttled(minutes))) => render_sign_in(
            state,
            429,
            &form,
            &next,
            Some(format!(
                "Too many failed sign-in attempts. Wait {minutes} minute{} and try again.",
                if minutes == 1 { "" } else { "s" }
            )),
        ),
        Err(e) => {
            eprintln!("dashboard sign-in: {e}");
            render_sign_in(state, 500, &form, &next, Some(e.message))
        }
    }
}

pub fn sign_out(state: &AppState, session: &Session, now: DateTime<Utc>) -> Response {
    if let Err(e) = operators::sign_out(&state.db, session, now) {
        eprintln!("dashboard sign-out: {e}");
    }
    Response::new(303)
        .with_header("Location", "/dashboard/sign-in")
        .with_header(
            "Set-Cookie",
            &cookie_header(state, SESSION_COOKIE, "", Some(0)),
        )
}

/// On an instance without operators, a fresh one-time setup link (valid for an hour).
pub fn issue_setup_link(state: &AppState) -> crate::error::Result<Option<String>> {
    if state.db.read(operators::count)? > 0 {
        return Ok(None);
    }
    let token = operators::create_setup_token(&state.db, state.clock.now())?;
    Ok(Some(format!(
        "{}/dashboard/setup/{token}",
        state.config.public_url
    )))
}

#[derive(Template)]
#[template(path = "dashboard/setup.html")]
struct SetupPage<'a> {
    form: &'a Form,
    token: &'a str,
    message: Option<String>,
}

pub fn setup(state: &AppState, req: &Request, token: &str, now: DateTime<Utc>) -> Response {
    let valid = state
        .db
        .read(|c| operators::setup_token_valid(c, token, now))
        .unwrap_or(false);
    if !valid {
        return crate::web::message_page(
            404,
            "error",
            "Setup link not valid",
            "This setup link was already used, has expired, or an operator already exists. Sign in at /dashboard, or create an operator with `mypostshare operator create`.",
        );
    }
    let mut form = Form::from_request(req);
    if req.method != "POST" {
        return render_setup(200, &Form::empty(), token, None);
    }
    if !origin_ok(state, req) {
        return forbidden("This form was sent from another site.");
    }
    let (email, password, confirm) = (
        form.trimmed("email"),
        form.value("password").to_string(),
        form.value("confirm").to_string(),
    );
    form.forget("password");
    form.forget("confirm");
    if let Err(e) = operators::check_email(&email) {
        form.add_error("email", e.message);
    }
    if let Err(e) = operators::check_password(&password) {
        form.add_error("password", e.message);
    } else if password != confirm {
        form.add_error("confirm", "The two passwords differ.");
    }
    if form.has_errors() {
        return render_setup(400, &form, token, None);
    }
    let created = operators::create_first_operator(&state.db, token, &email, &password, now)
        .and_then(|op| {
            operators::open_session(&state.db, &op.id, state.config.dashboard_session_idle, now)
        });
    match created {
        Ok((_, session_token)) => Response::new(303)
            .with_header("Location", "/dashboard")
            .with_header(
                "Set-Cookie",
                &cookie_header(state, SESSION_COOKIE, &session_token, None),
            ),
        Err(e) => render_setup(400, &form, token, Some(e.message)),
    }
}

fn render_setup(status: u16, form: &Form, token: &str, message: Option<String>) -> Response {
    let body = SetupPage {
        form,
        token,
        message,
    }
    .render()
    .unwrap_or_default();
    Response::html(status, body)
}
