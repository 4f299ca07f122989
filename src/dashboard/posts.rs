//! Posts: the list filtered by app, status, platform and creation date, and one post with each
//! platform's result, its delivery attempts (the same as `GET /v1/posts/:id/attempts`: step,
//! start and end, status code, duration, error) and the credits it cost.

use super::view::{self, Layout, PAGE_SIZE, Pager, param, when};
use super::{Ctx, render};
use crate::clock::parse_date_or_timestamp;
use crate::error::{Error, Result};
use crate::http::Response;
use crate::providers::{Platform, parse_platform};
use crate::services::credits::LedgerEntry;
use crate::services::posts::{self, Attempt, Delivery, DeliveryStatus, PostRequest, PostStatus};
use crate::services::reports::{self, AppSummary, PostQuery, PostRow};
use askama::Template;
use chrono::Duration;

#[derive(Template)]
#[template(path = "dashboard/posts.html")]
struct ListPage {
    layout: Layout,
    apps: Vec<AppSummary>,
    statuses: &'static [PostStatus],
    platforms: Vec<&'static str>,
    app: String,
    status: String,
    platform: String,
    from: String,
    to: String,
    filter_error: Option<String>,
    rows: Vec<PostRow>,
    pager: Pager,
}

impl ListPage {
    fn when(&self, at: &str) -> String {
        when(at)
    }
}

pub fn list(ctx: &Ctx) -> Result<Response> {
    let req = ctx.req;
    let mut query = PostQuery {
        app_id: param(req, "app"),
        status: param(req, "status").and_then(|s| PostStatus::parse(&s)),
        ..Default::default()
    };
    let mut filter_error = None;
    if let Some(p) = param(req, "platform") {
        match parse_platform(&p) {
            Ok(p) => query.platform = Some(p),
            Err(e) => filter_error = Some(e),
        }
    }
    let from = param(req, "from");
    let to = param(req, "to");
    for (value, is_from) in [(&from, true), (&to, false)] {
        if let Some(text) = value {
            match parse_date_or_timestamp(text) {
                Some(at) if is_from => query.created_from = Some(at),
                // A bare end date covers its whole day.
                Some(at) if text.len() == 10 => query.created_before = Some(at + Duration::days(1)),
                Some(at) => query.created_before = Some(at),
                None => filter_error = Some(format!("{text:?} is not a date; use YYYY-MM-DD.")),
            }
        }
    }
    let (apps, page) = ctx.state.db.read(|c| {
        Ok((
            reports::apps(c, None)?,
            reports::posts(c, &query, view::offset(req), PAGE_SIZE)?,
        ))
    })?;
    render(
        if filter_error.is_some() { 400 } else { 200 },
        &ListPage {
            layout: ctx.layout("posts", "Posts"),
            apps,
            statuses: PostStatus::ALL,
            platforms: Platform::ALL.iter().map(|p| p.key()).collect(),
            app: query.app_id.clone().unwrap_or_default(),
            status: query.status.map(|s| s.to_string()).unwrap_or_default(),
            platform: param(req, "platform").unwrap_or_default(),
            from: from.unwrap_or_default(),
            to: to.unwrap_or_default(),
            filter_error,
            pager: Pager::new(req, page.more),
            rows: page.rows,
        },
    )
}

pub struct DeliveryView {
    pub delivery: Delivery,
    pub attempts: Vec<Attempt>,
}

#[derive(Template)]
#[template(path = "dashboard/post.html")]
struct PostPage {
    layout: Layout,
    post: PostRequest,
    app_name: String,
    deliveries: Vec<DeliveryView>,
    ledger: Vec<LedgerEntry>,
    /// How long attempts are kept (`MYPOSTSHARE_ATTEMPT_LOG_DAYS`).
    attempt_log_days: i64,
}

impl PostPage {
    fn when(&self, at: &str) -> String {
        when(at)
    }
    fn net_cost(&self) -> i64 {
        -self.ledger.iter().map(|e| e.amount).sum::<i64>()
    }
}

pub fn show(ctx: &Ctx, id: &str) -> Result<Response> {
    let found = ctx.state.db.read(|c| {
        let Some(post) = posts::get_any(c, id)? else {
            return Ok(None);
        };
        let app_name = crate::services::apps::get_app(c, &post.app_id)?
            .map(|a| a.name)
            .unwrap_or_default();
        let deliveries = post
            .deliveries
            .iter()
            .map(|d| {
                Ok(DeliveryView {
                    delivery: d.clone(),
                    attempts: posts::attempts(c, &d.id)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let ledger = reports::post_ledger(c, &post.id)?;
        Ok(Some((post, app_name, deliveries, ledger)))
    })?;
    let Some((post, app_name, deliveries, ledger)) = found else {
        return Err(Error::not_found("This post does not exist."));
    };
    render(
        200,
        &PostPage {
            layout: ctx.layout("posts", "Post"),
            post,
            app_name,
            deliveries,
            ledger,
            attempt_log_days: ctx.state.config.attempt_log_retention.num_days(),
        },
    )
}
