//! The overview: balance per organization, credits used per day (chart), posts by status,
//! connections needing reconnect and recent delivery failures.

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
}

impl OverviewPage {
    fn when(&self, at: &str) -> String {
        when(at)
    }
}

pub fn page(ctx: &Ctx) -> Result<Response> {
    let (orgs, days, statuses, alerts, failures) = ctx.state.db.read(|c| {
        Ok((
            reports::organizations(c)?,
            reports::credit_days(c, None, 30, ctx.now)?,
            reports::posts_by_status(c)?,
            reports::connections_needing_reconnect(c, 20)?,
            reports::recent_failures(c, 10)?,
        ))
    })?;
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
    };
    render(200, &page)
}
