//! Credits: every organization's balance, one organization's ledger (charges, grants and
//! refunds, each charge or refund linked to its post) with its chart, granting credits, and the
//! organization's low-credit threshold (below it a charge sends `credits.low`).

use super::orgs::field_error;
use super::view::{self, Form, Layout, PAGE_SIZE, Pager, when};
use super::{Ctx, chart, done, render};
use crate::error::{Error, Result};
use crate::http::Response;
use crate::services::apps::{self, Organization};
use crate::services::credits::{self, LedgerEntry};
use crate::services::reports::{self, OrgSummary};
use askama::Template;

#[derive(Template)]
#[template(path = "dashboard/credits.html")]
struct IndexPage {
    layout: Layout,
    orgs: Vec<OrgSummary>,
}

pub fn index(ctx: &Ctx) -> Result<Response> {
    let orgs = ctx.state.db.read(reports::organizations)?;
    render(
        200,
        &IndexPage {
            layout: ctx.layout("credits", "Credits"),
            orgs,
        },
    )
}

#[derive(Template)]
#[template(path = "dashboard/ledger.html")]
struct LedgerPage {
    layout: Layout,
    org: Organization,
    chart: String,
    entries: Vec<LedgerEntry>,
    pager: Pager,
    form: Form,
    /// The stored `credits.low` threshold (0: off).
    low_threshold: i64,
}

impl LedgerPage {
    fn when(&self, at: &str) -> String {
        when(at)
    }
}

pub fn ledger(ctx: &Ctx, org_id: &str, mut form: Form) -> Result<Response> {
    let found = ctx.state.db.read(|c| {
        let Some(org) = apps::get_organization(c, org_id)? else {
            return Ok(None);
        };
        let days = reports::credit_days(c, Some(org_id), 30, ctx.now)?;
        let page = reports::ledger(c, org_id, view::offset(ctx.req), PAGE_SIZE)?;
        let low_threshold = credits::low_threshold(c, org_id)?;
        Ok(Some((org, days, page, low_threshold)))
    })?;
    let Some((org, days, page, low_threshold)) = found else {
        return Err(Error::not_found("This organization does not exist."));
    };
    if form.value("threshold").is_empty() {
        form.set("threshold", &low_threshold.to_string());
    }
    let status = if form.has_errors() { 400 } else { 200 };
    render(
        status,
        &LedgerPage {
            layout: ctx.layout("credits", format!("Credits of {}", org.name)),
            chart: chart::credit_chart(
                &days,
                &format!(
                    "Credits used and granted per day, last 30 days, {}",
                    org.name
                ),
            ),
            org,
            pager: Pager::new(ctx.req, page.more),
            entries: page.rows,
            form,
            low_threshold,
        },
    )
}

pub fn grant(ctx: &Ctx, org_id: &str) -> Result<Response> {
    let mut form = Form::from_request(ctx.req);
    let amount = form.trimmed("amount");
    let note = form.trimmed("note");
    let note = if note.is_empty() {
        "granted by operator".to_string()
    } else {
        note
    };
    if note.chars().count() > 500 {
        form.add_error("note", "The note must be at most 500 characters.");
        return ledger(ctx, org_id, form);
    }
    let Ok(amount) = amount.parse::<i64>() else {
        form.add_error("amount", "Enter a whole number of credits, such as 500.");
        return ledger(ctx, org_id, form);
    };
    match credits::grant(&ctx.state.db, ctx.actor(), org_id, amount, &note, ctx.now) {
        Ok(_) => done(&format!("/dashboard/credits/{org_id}"), "credits-granted"),
        Err(e) => {
            field_error(&mut form, "amount", e)?;
            ledger(ctx, org_id, form)
        }
    }
}

/// Sets the organization's low-credit threshold, as `credits set-low-threshold` does (0 turns
/// `credits.low` off); audited with the operator as actor.
pub fn set_low_threshold(ctx: &Ctx, org_id: &str) -> Result<Response> {
    let mut form = Form::from_request(ctx.req);
    let Ok(threshold) = form.trimmed("threshold").parse::<i64>() else {
        form.add_error(
            "threshold",
            "Enter a whole number of credits, such as 100, or 0 to turn the alert off.",
        );
        return ledger(ctx, org_id, form);
    };
    match credits::set_low_threshold(&ctx.state.db, ctx.actor(), org_id, threshold, ctx.now) {
        Ok(()) => done(&format!("/dashboard/credits/{org_id}"), "threshold-saved"),
        Err(e) => {
            field_error(&mut form, "threshold", e)?;
            ledger(ctx, org_id, form)
        }
    }
}
