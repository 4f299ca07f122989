//! Jobs: the scheduler's named jobs with their cron expressions, last run, last result and
//! next run, and a "run now" button.

use super::view::Layout;
use super::{Ctx, done, render};
use crate::error::Result;
use crate::http::Response;
use crate::services::audit;
use askama::Template;

pub struct JobView {
    pub name: &'static str,
    pub purpose: &'static str,
    pub expression: String,
    pub last_run: String,
    pub last_result: String,
    pub last_ok: Option<bool>,
    pub next_run: String,
}

#[derive(Template)]
#[template(path = "dashboard/jobs.html")]
struct JobsPage {
    layout: Layout,
    jobs: Vec<JobView>,
}

fn when(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map(|t| super::view::when(&crate::clock::format_timestamp(t)))
        .unwrap_or_else(|| "—".into())
}

pub fn list(ctx: &Ctx) -> Result<Response> {
    let jobs = ctx
        .state
        .scheduler
        .jobs()
        .into_iter()
        .map(|(name, purpose, expression, status)| JobView {
            name,
            purpose,
            expression: if expression.is_empty() {
                "off (run on demand only)".into()
            } else {
                expression
            },
            last_run: if status.last_run_at.is_some() {
                when(status.last_run_at)
            } else {
                "not since start".into()
            },
            last_result: status.last_result.unwrap_or_default(),
            last_ok: status.last_ok,
            next_run: when(status.next_run_at),
        })
        .collect();
    render(
        200,
        &JobsPage {
            layout: ctx.layout("jobs", "Jobs"),
            jobs,
        },
    )
}

pub fn run(ctx: &Ctx, name: &str) -> Result<Response> {
    let result = ctx.state.scheduler.run_job(name);
    let outcome = match &result {
        Ok(text) => text.clone(),
        Err(e) => e.message.clone(),
    };
    ctx.state.db.write(|tx| {
        audit::record(
            tx,
            ctx.actor(),
            "job.run",
            "job",
            Some(name),
            Some(&serde_json::json!({"ok": result.is_ok(), "result": outcome})),
            ctx.now,
        )
    })?;
    if let Err(e) = result
        && e.code == crate::error::Code::NotFound
    {
        return Err(e);
    }
    done("/dashboard/jobs", "job-ran")
}
