//! The operator dashboard under `/dashboard`: server-rendered askama pages, assets embedded
//! with rust-embed, no external resources. This file owns the route table and the guard every
//! page passes (a live session; for POST also the CSRF token and `Origin`). Each page group has
//! its own file; handlers call services and never open SQL. Operators are instance-wide
//! admins, so every list spans every organization.

mod apps;
pub mod auth;
mod chart;
mod credits;
mod end_users;
mod jobs;
mod logs;
mod operators;
mod orgs;
mod overview;
mod posts;
pub mod view;
mod webhooks;

use crate::app::AppState;
use crate::error::{Error, Result};
use crate::http::{Request, Response};
use crate::services::operators::Session;
use askama::Template;
use chrono::{DateTime, Utc};
use view::Layout;

/// What every signed-in handler gets.
pub struct Ctx<'a> {
    pub state: &'a AppState,
    pub req: &'a Request,
    pub now: DateTime<Utc>,
    pub session: Session,
}

impl Ctx<'_> {
    /// Who the audit log names for a change.
    pub fn actor(&self) -> &str {
        &self.session.email
    }

    pub fn layout(&self, active: &'static str, title: impl Into<String>) -> Layout {
        Layout {
            title: title.into(),
            active,
            email: self.session.email.clone(),
            csrf: self.session.csrf_token.clone(),
            notice: view::notice(self.req.query_param("ok")),
        }
    }
}

pub fn render(status: u16, page: &impl Template) -> Result<Response> {
    let body = page
        .render()
        .map_err(|e| Error::internal(format!("template: {e}")))?;
    Ok(Response::html(status, body))
}

/// 303 to a page of the dashboard with a notice (before any `#fragment` of `path`).
pub fn done(path: &str, notice: &str) -> Result<Response> {
    let (path, fragment) = match path.split_once('#') {
        Some((p, f)) => (p, format!("#{f}")),
        None => (path, String::new()),
    };
    let separator = if path.contains('?') { '&' } else { '?' };
    Ok(Response::new(303)
        .with_header(
            "Location",
            &format!("{path}{separator}ok={notice}{fragment}"),
        )
        .with_header("Cache-Control", "no-store"))
}

#[derive(Template)]
#[template(path = "dashboard/error.html")]
struct ErrorPage {
    layout: Layout,
    message: String,
}

fn error_page(ctx: &Ctx, err: &Error) -> Response {
    let status = err.status();
    if let Some(cause) = &err.cause {
        httpkit::log::event(
            httpkit::log::Level::Error,
            "dashboard error",
            &[
                ("request_id", (&ctx.req.request_id).into()),
                ("code", err.code.to_string().into()),
                ("cause", cause.into()),
            ],
        );
    }
    // 400 and 409 refuse what the operator asked for; anything else is not their doing.
    let title = match status {
        404 => "Not found",
        400 | 409 => "That did not work",
        _ => "Something went wrong",
    };
    let page = ErrorPage {
        layout: ctx.layout("", title),
        message: err.message.clone(),
    };
    render(status, &page).unwrap_or_else(|_| Response::new(status))
}

pub fn handle(state: &AppState, req: &Request) -> Response {
    let now = state.clock.now();
    let segments = req.segments_after("/dashboard").unwrap_or_default();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = req.method.as_str();
    match (method, segments.as_slice()) {
        ("GET", ["sign-in"]) => return auth::sign_in_page(state, req, now),
        ("POST", ["sign-in"]) => return auth::sign_in(state, req, now),
        ("GET" | "POST", ["setup", token]) => return auth::setup(state, req, token, now),
        _ => {}
    }
    let Some(session) = auth::current_session(state, req, now) else {
        if method == "GET" {
            let next = crate::http::encode_query(&[("next", req.path.as_str())]);
            return Response::redirect(&format!("/dashboard/sign-in?{next}"));
        }
        return crate::web::message_page(
            403,
            "error",
            "Signed out",
            "Your session has ended. Sign in again at /dashboard/sign-in, then repeat the change.",
        );
    };
    if method == "POST"
        && let Some(refused) = auth::reject_forgery(state, req, &session)
    {
        return refused;
    }
    let ctx = Ctx {
        state,
        req,
        now,
        session,
    };
    route(&ctx, method, &segments).unwrap_or_else(|e| error_page(&ctx, &e))
}

/// The fixed words of the dashboard's paths (every literal segment of `route` and of the pages
/// `handle` serves before the guard); any other segment is an id, a platform, a job or a setup
/// token.
const PATH_WORDS: &[&str] = &[
    "sign-in",
    "sign-out",
    "setup",
    "orgs",
    "apps",
    "rename",
    "delete",
    "keys",
    "revoke",
    "redirects",
    "remove",
    "limits",
    "credentials",
    "end-users",
    "disconnect",
    "posts",
    "credits",
    "grant",
    "low-threshold",
    "logs",
    "requests",
    "audit",
    "jobs",
    "run",
    "operators",
];

/// The route template of a dashboard path for the access log and the metrics
/// (`/dashboard/apps/{id}/keys`): fixed words stay, everything else becomes `{id}`, so neither
/// an id nor a setup link's token reaches a log line or a label.
pub fn route_template(req: &Request) -> String {
    let segments = req.segments_after("/dashboard").unwrap_or_default();
    let mut template = String::from("/dashboard");
    for segment in segments.iter().take(6) {
        template.push('/');
        if PATH_WORDS.contains(&segment.as_str()) {
            template.push_str(segment);
        } else {
            template.push_str("{id}");
        }
    }
    template
}

fn route(ctx: &Ctx, method: &str, segments: &[&str]) -> Result<Response> {
    match (method, segments) {
        ("GET", []) => overview::page(ctx),
        ("POST", ["sign-out"]) => Ok(auth::sign_out(ctx.state, &ctx.session, ctx.now)),
        ("GET", ["orgs"]) => orgs::list(ctx, view::Form::empty()),
        ("POST", ["orgs"]) => orgs::create(ctx),
        ("GET", ["orgs", id]) => orgs::show(ctx, id, view::Form::empty()),
        ("POST", ["orgs", id, "rename"]) => orgs::rename(ctx, id),
        ("GET", ["orgs", id, "delete"]) => orgs::confirm_delete(ctx, id),
        ("POST", ["orgs", id, "delete"]) => orgs::delete(ctx, id),
        ("POST", ["orgs", id, "apps"]) => orgs::create_app(ctx, id),
        ("GET", ["apps", id]) => apps::show(ctx, id, view::Form::empty(), None),
        ("POST", ["apps", id, "rename"]) => apps::rename(ctx, id),
        ("GET", ["apps", id, "delete"]) => apps::confirm_delete(ctx, id),
        ("POST", ["apps", id, "delete"]) => apps::delete(ctx, id),
        ("POST", ["apps", id, "keys"]) => apps::create_key(ctx, id),
        ("POST", ["apps", id, "keys", key, "revoke"]) => apps::revoke_key(ctx, id, key),
        ("POST", ["apps", id, "redirects"]) => apps::add_redirect(ctx, id),
        ("POST", ["apps", id, "redirects", "remove"]) => apps::remove_redirect(ctx, id),
        ("POST", ["apps", id, "limits"]) => apps::save_limits(ctx, id),
        ("GET", ["apps", id, "credentials", platform]) => {
            apps::credentials_form(ctx, id, platform, view::Form::empty())
        }
        ("POST", ["apps", id, "credentials", platform]) => {
            apps::save_credentials(ctx, id, platform)
        }
        ("POST", ["apps", id, "webhooks"]) => webhooks::add(ctx, id),
        ("GET", ["apps", id, "webhooks", endpoint]) => webhooks::show(ctx, id, endpoint),
        ("POST", ["apps", id, "webhooks", endpoint, "disable"]) => {
            webhooks::disable(ctx, id, endpoint)
        }
        ("POST", ["apps", id, "webhooks", endpoint, "enable"]) => {
            webhooks::enable(ctx, id, endpoint)
        }
        ("POST", ["apps", id, "webhooks", endpoint, "test"]) => webhooks::test(ctx, id, endpoint),
        ("POST", ["apps", id, "webhooks", endpoint, "rotate"]) => {
            webhooks::rotate(ctx, id, endpoint)
        }
        ("POST", ["apps", id, "webhooks", endpoint, "remove"]) => {
            webhooks::remove(ctx, id, endpoint)
        }
        (
            "POST",
            [
                "apps",
                id,
                "webhooks",
                endpoint,
                "deliveries",
                delivery,
                "resend",
            ],
        ) => webhooks::resend(ctx, id, endpoint, delivery),
        ("GET", ["end-users"]) => end_users::search(ctx),
        ("GET", ["end-users", id]) => end_users::show(ctx, id),
        ("POST", ["end-users", id, "disconnect", platform]) => {
            end_users::disconnect(ctx, id, platform)
        }
        ("GET", ["posts"]) => posts::list(ctx),
        ("GET", ["posts", id]) => posts::show(ctx, id),
        ("GET", ["credits"]) => credits::index(ctx),
        ("GET", ["credits", org]) => credits::ledger(ctx, org, view::Form::empty()),
        ("POST", ["credits", org, "grant"]) => credits::grant(ctx, org),
        ("POST", ["credits", org, "low-threshold"]) => credits::set_low_threshold(ctx, org),
        ("GET", ["logs"]) => Ok(Response::redirect("/dashboard/logs/requests")),
        ("GET", ["logs", "requests"]) => logs::requests(ctx),
        ("GET", ["logs", "audit"]) => logs::audit(ctx),
        ("GET", ["jobs"]) => jobs::list(ctx),
        ("POST", ["jobs", name, "run"]) => jobs::run(ctx, name),
        ("GET", ["operators"]) => operators::list(ctx, view::Form::empty()),
        ("POST", ["operators"]) => operators::add(ctx),
        ("POST", ["operators", id, "remove"]) => operators::remove(ctx, id),
        _ => Err(Error::not_found(
            "There is no such page in the dashboard. Use the navigation above.",
        )),
    }
}
