//! Logs: the API request log (method, path, status, duration, key prefix, client address,
//! request id) and the audit log (who changed what), each filterable and paginated.

use super::view::{self, Layout, PAGE_SIZE, Pager, param, when};
use super::{Ctx, render};
use crate::error::Result;
use crate::http::Response;
use crate::services::audit::AuditEntry;
use crate::services::reports::{self, AppSummary, AuditQuery, RequestQuery, RequestRow};
use askama::Template;

#[derive(Template)]
#[template(path = "dashboard/requests.html")]
struct RequestsPage {
    layout: Layout,
    apps: Vec<AppSummary>,
    app: String,
    status: String,
    path: String,
    ip: String,
    rows: Vec<RequestRow>,
    pager: Pager,
}

impl RequestsPage {
    fn when(&self, at: &str) -> String {
        when(at)
    }
}

pub fn requests(ctx: &Ctx) -> Result<Response> {
    let query = RequestQuery {
        app_id: param(ctx.req, "app"),
        status: param(ctx.req, "status"),
        path_contains: param(ctx.req, "path"),
        client_ip: param(ctx.req, "ip"),
    };
    let (apps, page) = ctx.state.db.read(|c| {
        Ok((
            reports::apps(c, None)?,
            reports::requests(c, &query, view::offset(ctx.req), PAGE_SIZE)?,
        ))
    })?;
    render(
        200,
        &RequestsPage {
            layout: ctx.layout("logs", "API request log"),
            apps,
            app: query.app_id.unwrap_or_default(),
            status: query.status.unwrap_or_default(),
            path: query.path_contains.unwrap_or_default(),
            ip: query.client_ip.unwrap_or_default(),
            pager: Pager::new(ctx.req, page.more),
            rows: page.rows,
        },
    )
}

#[derive(Template)]
#[template(path = "dashboard/audit.html")]
struct AuditPage {
    layout: Layout,
    actor: String,
    action: String,
    rows: Vec<AuditEntry>,
    pager: Pager,
}

impl AuditPage {
    fn when(&self, at: &str) -> String {
        when(at)
    }
}

pub fn audit(ctx: &Ctx) -> Result<Response> {
    let query = AuditQuery {
        actor: param(ctx.req, "actor"),
        action: param(ctx.req, "action"),
    };
    let page = ctx
        .state
        .db
        .read(|c| reports::audit(c, &query, view::offset(ctx.req), PAGE_SIZE))?;
    render(
        200,
        &AuditPage {
            layout: ctx.layout("logs", "Audit log"),
            actor: query.actor.unwrap_or_default(),
            action: query.action.unwrap_or_default(),
            pager: Pager::new(ctx.req, page.more),
            rows: page.rows,
        },
    )
}
