//! The overview: balance per organization, credits used per day (chart), posts by status,
//! connections needing reconnect, disabled webhook endpoints and recent delivery failures.

use super::view::{Layout, when};
use super::{Ctx, chart, render};
use crate::error::Result;
use crate::http::Response;
use crate::services::posts::PostStatus;
use crate::services::reports::{self, ConnectionAlert, Failure, OrgSummary};
use askama::Template;

#[derive(Template)]
#[template(path = "dashboard/overview.html")]
struct OverviewPage {
    layout: Layout,
    orgs: Vec<OrgSummary>,
    chart: String,
    statuses: Vec<(PostStatus, i64)>,
    alerts: Vec<ConnectionAlert>,
    failures: Vec<Failure>,
    /// (app id, app name, endpoint row) of each disabled webhook endpoint, newest first.
    disabled_webhooks: Vec<(String, String, super::webhooks::EndpointRow)>,
}

impl OverviewPage {
    fn when(&self, at: &str) -> String {
        when(at)
    }
}

pub fn page(ctx: &Ctx) -> Result<Response> {
    let (orgs, days, statuses, alerts, failures, disabled) = ctx.state.db.read(|c| {
        Ok((
            reports::organizations(c)?,
            reports::credit_days(c, None, 30, ctx.now)?,
            reports::posts_by_status(c)?,
            reports::connections_needing_reconnect(c, 20)?,
            reports::recent_failures(c, 10)?,
            crate::services::webhooks::disabled_endpoints(c, 20)?,
        ))
    })?;
    let disabled_webhooks = disabled
        .iter()
        .map(|(e, app_name)| {
            (
                e.app_id.clone(),
                app_name.clone(),
                super::webhooks::EndpointRow::of(e, ctx.now),
            )
        })
        .collect();
    let page = OverviewPage {
        layout: ctx.layout("overview", "Overview"),
        orgs,
        chart: chart::credit_chart(
            &days,
            "Credits used and granted per day, last 30 days, all organizations",
        ),
        statuses,
        alerts,
        failures,
        disabled_webhooks,
    };
    render(200, &page)
}
