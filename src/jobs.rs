//! The appliance's scheduled jobs: what each does and why it exists. The scheduler
//! (`scheduler.rs`) runs them on the cron expressions of `Config::jobs` and on demand; each
//! job only decides and hands work over (to the delivery engine's queue or its token-refresh
//! thread) or runs one short statement, and none calls a platform.

use crate::config::Config;
use crate::db::Db;
use crate::delivery::Engine;
use crate::scheduler::Job;
use crate::services::{connect_sessions, connections, idempotency, posts, request_log, webhooks};

/// Every job, in the order the dashboard lists them. `Err` names a job whose cron expression
/// does not parse.
pub fn all(config: &Config, db: &Db, engine: &Engine) -> Result<Vec<Job>, String> {
    let schedules = &config.jobs;
    Ok(vec![
        dispatch_due_deliveries(&schedules.dispatch_due_deliveries, db, engine)?,
        recover_expired_leases(&schedules.recover_expired_leases, db, config)?,
        expire_connect_sessions(&schedules.expire_connect_sessions, db, config)?,
        prune_idempotency_keys(&schedules.prune_idempotency_keys, db, config)?,
        prune_request_log(&schedules.prune_request_log, db, config)?,
        prune_delivery_attempts(&schedules.prune_delivery_attempts, db, config)?,
        refresh_expiring_tokens(&schedules.refresh_expiring_tokens, db, engine)?,
        warn_expiring_tokens(&schedules.warn_expiring_tokens, db)?,
        prune_webhook_log(&schedules.prune_webhook_log, db, config)?,
    ])
}

fn dispatch_due_deliveries(schedule: &str, db: &Db, engine: &Engine) -> Result<Job, String> {
    let (db, engine) = (db.clone(), engine.clone());
    Job::new(
        "dispatch_due_deliveries",
        "Hands deliveries whose time has come (scheduled posts, retries) to the delivery workers.",
        schedule,
        Box::new(move |now| {
            let due = db.read(|c| posts::due_deliveries(c, now, 500))?;
            engine.enqueue(&due);
            Ok(format!("queued {} deliveries", due.len()))
        }),
    )
}

fn recover_expired_leases(schedule: &str, db: &Db, config: &Config) -> Result<Job, String> {
    let db = db.clone();
    let recovery = crate::delivery::recovery(config);
    Job::new(
        "recover_expired_leases",
        "Hands deliveries cut off mid-call (a worker that died) to a read-back of the platform instead of sending them again blindly.",
        schedule,
        Box::new(move |now| {
            let recovered = posts::recover_expired_leases(&db, recovery, now)?;
            for (platform, what) in &recovered {
                crate::delivery::record_recovered(platform, *what);
            }
            Ok(format!(
                "{} interrupted deliveries recorded",
                recovered.len()
            ))
        }),
    )
}

fn expire_connect_sessions(schedule: &str, db: &Db, config: &Config) -> Result<Job, String> {
    let db = db.clone();
    let public_url = config.public_url.clone();
    Job::new(
        "expire_connect_sessions",
        "Marks connect sessions past their 15 minutes as expired (each a connect_session.failed webhook).",
        schedule,
        Box::new(move |now| {
            Ok(format!(
                "{} sessions expired",
                connect_sessions::expire_due(&db, &public_url, now)?
            ))
        }),
    )
}

fn prune_idempotency_keys(schedule: &str, db: &Db, config: &Config) -> Result<Job, String> {
    let db = db.clone();
    let idempotency_ttl = config.idempotency_ttl;
    Job::new(
        "prune_idempotency_keys",
        "Forgets Idempotency-Key responses older than the retention window.",
        schedule,
        Box::new(move |now| {
            Ok(format!(
                "{} keys pruned",
                idempotency::prune(&db, idempotency_ttl, now)?
            ))
        }),
    )
}

fn prune_request_log(schedule: &str, db: &Db, config: &Config) -> Result<Job, String> {
    let db = db.clone();
    let request_log_retention = config.request_log_retention;
    Job::new(
        "prune_request_log",
        "Forgets API request-log rows past the retention period, so the log does not grow without bound.",
        schedule,
        Box::new(move |now| {
            Ok(format!(
                "{} request-log rows pruned",
                request_log::prune(&db, request_log_retention, now)?
            ))
        }),
    )
}

fn prune_delivery_attempts(schedule: &str, db: &Db, config: &Config) -> Result<Job, String> {
    let db = db.clone();
    let retention = config.attempt_log_retention;
    Job::new(
        "prune_delivery_attempts",
        "Forgets delivery attempts past the attempt log's retention, so the log does not grow without bound.",
        schedule,
        Box::new(move |now| {
            Ok(format!(
                "{} delivery attempts pruned",
                posts::prune_attempts(&db, retention, now)?
            ))
        }),
    )
}

fn refresh_expiring_tokens(schedule: &str, db: &Db, engine: &Engine) -> Result<Job, String> {
    let (db, refresher) = (db.clone(), engine.clone());
    Job::new(
        "refresh_expiring_tokens",
        "Refreshes long-lived tokens (Threads, Instagram, Pinterest) before they expire unused, so idle connections stay connected.",
        schedule,
        Box::new(move |now| {
            let due = db.read(|c| connections::due_for_refresh(c, now, 200))?;
            let count = due.len();
            let started = refresher.refresh_connections(due);
            Ok(if started || count == 0 {
                format!("{count} connections handed to the token refresher")
            } else {
                "the previous refresh batch is still running".to_string()
            })
        }),
    )
}

fn warn_expiring_tokens(schedule: &str, db: &Db) -> Result<Job, String> {
    let db = db.clone();
    Job::new(
        "warn_expiring_tokens",
        "Sends connection.token_expiring a week before a token nobody can refresh expires (LinkedIn, Facebook), so the customer can ask the person to reconnect in time.",
        schedule,
        Box::new(move |now| {
            Ok(format!(
                "{} expiring tokens announced",
                webhooks::warn_expiring_tokens(&db, now)?
            ))
        }),
    )
}

fn prune_webhook_log(schedule: &str, db: &Db, config: &Config) -> Result<Job, String> {
    let db = db.clone();
    let retention = config.webhook_log_retention;
    Job::new(
        "prune_webhook_log",
        "Forgets finished webhook events, their deliveries and attempts past the retention period, so the outbox does not grow without bound.",
        schedule,
        Box::new(move |now| {
            Ok(format!(
                "{} webhook rows pruned",
                webhooks::prune(&db, retention, now)?
            ))
        }),
    )
}
