//! Organizations: the list (with their apps), create, rename, delete with a confirmation step,
//! and creating an app inside one.

use super::view::{Form, Layout};
use super::{Ctx, done, render};
use crate::error::{Error, Result};
use crate::http::Response;
use crate::services::apps::{self, Organization};
use crate::services::reports::{self, AppSummary, OrgSummary};
use askama::Template;

#[derive(Template)]
#[template(path = "dashboard/orgs.html")]
struct OrgsPage {
    layout: Layout,
    orgs: Vec<OrgSummary>,
    apps: Vec<AppSummary>,
    form: Form,
}

pub fn list(ctx: &Ctx, form: Form) -> Result<Response> {
    let (orgs, apps) = ctx
        .state
        .db
        .read(|c| Ok((reports::organizations(c)?, reports::apps(c, None)?)))?;
    let status = if form.has_errors() { 400 } else { 200 };
    render(
        status,
        &OrgsPage {
            layout: ctx.layout("orgs", "Organizations & apps"),
            orgs,
            apps,
            form,
        },
    )
}

/// A validation error of a service becomes an error next to `field`; others propagate.
pub fn field_error(form: &mut Form, field: &str, err: Error) -> Result<()> {
    // A refusal (400) or a clash with what exists (409) is the operator's to fix in the form.
    match err.status() {
        400 | 409 => {
            form.add_error(field, err.message);
            Ok(())
        }
        _ => Err(err),
    }
}

pub fn create(ctx: &Ctx) -> Result<Response> {
    let mut form = Form::from_request(ctx.req);
    let credits = ctx.state.config.new_organization_credits;
    match apps::create_organization(
        &ctx.state.db,
        ctx.actor(),
        &form.trimmed("org_name"),
        credits,
        ctx.now,
    ) {
        Ok(org) => done(&format!("/dashboard/orgs/{}", org.id), "org-created"),
        Err(e) => {
            field_error(&mut form, "org_name", e)?;
            list(ctx, form)
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/org.html")]
struct OrgPage {
    layout: Layout,
    org: Organization,
    apps: Vec<AppSummary>,
    form: Form,
}

fn require_org(ctx: &Ctx, id: &str) -> Result<Organization> {
    ctx.state
        .db
        .read(|c| apps::get_organization(c, id))?
        .ok_or_else(|| {
            Error::not_found("This organization does not exist (it may have been deleted).")
        })
}

pub fn show(ctx: &Ctx, id: &str, mut form: Form) -> Result<Response> {
    let org = require_org(ctx, id)?;
    let apps = ctx.state.db.read(|c| reports::apps(c, Some(id)))?;
    if form.value("org_name").is_empty() {
        form.set("org_name", &org.name);
    }
    let status = if form.has_errors() { 400 } else { 200 };
    render(
        status,
        &OrgPage {
            layout: ctx.layout("orgs", format!("Organization {}", org.name)),
            org,
            apps,
            form,
        },
    )
}

pub fn rename(ctx: &Ctx, id: &str) -> Result<Response> {
    let mut form = Form::from_request(ctx.req);
    match apps::rename_organization(
        &ctx.state.db,
        ctx.actor(),
        id,
        &form.trimmed("org_name"),
        ctx.now,
    ) {
        Ok(()) => done(&format!("/dashboard/orgs/{id}"), "org-renamed"),
        Err(e) => {
            field_error(&mut form, "org_name", e)?;
            show(ctx, id, form)
        }
    }
}

pub fn create_app(ctx: &Ctx, id: &str) -> Result<Response> {
    let mut form = Form::from_request(ctx.req);
    match apps::create_app(
        &ctx.state.db,
        ctx.actor(),
        id,
        &form.trimmed("app_name"),
        ctx.now,
    ) {
        Ok(app) => done(&format!("/dashboard/apps/{}", app.id), "app-created"),
        Err(e) => {
            field_error(&mut form, "app_name", e)?;
            show(ctx, id, form)
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/confirm_delete.html")]
pub struct ConfirmDelete {
    pub layout: Layout,
    pub what: &'static str,
    pub name: String,
    pub consequences: String,
    pub action: String,
    pub cancel: String,
}

pub fn confirm_delete(ctx: &Ctx, id: &str) -> Result<Response> {
    let org = require_org(ctx, id)?;
    let apps = ctx.state.db.read(|c| reports::apps(c, Some(id)))?;
    render(
        200,
        &ConfirmDelete {
            layout: ctx.layout("orgs", format!("Delete organization {}?", org.name)),
            what: "organization",
            name: org.name,
            consequences: format!(
                "This deletes its {} app(s) with their API keys, allowlists, credentials, end users, connections and posts, and its credit ledger (balance {}). It cannot be undone.",
                apps.len(),
                org.credit_balance
            ),
            action: format!("/dashboard/orgs/{id}/delete"),
            cancel: format!("/dashboard/orgs/{id}"),
        },
    )
}

pub fn delete(ctx: &Ctx, id: &str) -> Result<Response> {
    apps::delete_organization(&ctx.state.db, ctx.actor(), id, ctx.now)?;
    done("/dashboard/orgs", "org-deleted")
}
