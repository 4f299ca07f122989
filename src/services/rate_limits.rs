//! An app's own rate limits (table `app_rate_limits`): each of the four numbers is the app's,
//! or `NULL` for the instance's setting. The buckets themselves live in memory
//! (`crate::rate_limit`); this module stores what an operator set, audited, and says which
//! budget applies.

use super::{Patch, audit, ts};
use crate::config::Config;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::rate_limit::Budget;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// The highest rate an app may be given, a request every 60 µs: far above what the server
/// answers, so only a typo reaches it.
pub const MAX_PER_MINUTE: u32 = 1_000_000;
/// The largest bucket.
pub const MAX_BURST: u32 = 100_000;

/// What an app set; `None` is the instance's setting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRateLimits {
    pub requests_per_minute: Option<u32>,
    pub burst: Option<u32>,
    pub publish_requests_per_minute: Option<u32>,
    pub publish_burst: Option<u32>,
}

impl AppRateLimits {
    /// The general budget: the app's numbers where it has them, the instance's otherwise.
    pub fn general(&self, config: &Config) -> Budget {
        Budget {
            per_minute: self
                .requests_per_minute
                .unwrap_or(config.rate_limit_per_minute),
            burst: self.burst.unwrap_or(config.rate_limit_burst),
        }
    }

    /// The publishing budget (`POST /v1/posts`, `POST /v1/posts/scheduled`).
    pub fn publishing(&self, config: &Config) -> Budget {
        Budget {
            per_minute: self
                .publish_requests_per_minute
                .unwrap_or(config.publish_rate_limit_per_minute),
            burst: self
                .publish_burst
                .unwrap_or(config.publish_rate_limit_burst),
        }
    }

    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// A change to an app's limits: each field kept, reset to the instance's setting, or set.
#[derive(Debug, Clone, Default)]
pub struct LimitsChange {
    pub requests_per_minute: Patch<u32>,
    pub burst: Patch<u32>,
    pub publish_requests_per_minute: Patch<u32>,
    pub publish_burst: Patch<u32>,
}

/// The columns `from_row` reads, for a query that joins `app_rate_limits` as `l` (the API key
/// lookup reads them with the key, so a request costs no second query).
pub const COLUMNS: &str =
    "l.requests_per_minute, l.burst, l.publish_requests_per_minute, l.publish_burst";

/// Reads `COLUMNS` starting at column `first` (all `NULL` when the app has no row).
pub fn from_row(row: &rusqlite::Row, first: usize) -> rusqlite::Result<AppRateLimits> {
    Ok(AppRateLimits {
        requests_per_minute: row.get(first)?,
        burst: row.get(first + 1)?,
        publish_requests_per_minute: row.get(first + 2)?,
        publish_burst: row.get(first + 3)?,
    })
}

pub fn get(conn: &Connection, app_id: &str) -> Result<AppRateLimits> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM app_rate_limits l WHERE l.app_id = ?1"),
            [app_id],
            |r| from_row(r, 0),
        )
        .optional()?
        .unwrap_or_default())
}

/// Which field of a change broke its rule, so a form can show the message beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitField {
    RequestsPerMinute,
    Burst,
    PublishRequestsPerMinute,
    PublishBurst,
}

impl LimitField {
    /// The name the dashboard's form and the CLI's flag use (`requests_per_minute`, ...).
    pub fn name(self) -> &'static str {
        match self {
            LimitField::RequestsPerMinute => "requests_per_minute",
            LimitField::Burst => "burst",
            LimitField::PublishRequestsPerMinute => "publish_requests_per_minute",
            LimitField::PublishBurst => "publish_burst",
        }
    }
}

/// Checks each value of `change`: rates 0 (off) to `MAX_PER_MINUTE`, bursts 1 to `MAX_BURST`.
pub fn check(change: &LimitsChange) -> std::result::Result<(), Vec<(LimitField, Error)>> {
    let rate = |field: LimitField, patch: &Patch<u32>| match patch {
        Patch::Set(n) if *n > MAX_PER_MINUTE => Some((
            field,
            Error::validation(format!(
                "Requests a minute must be 0 (no limit) to {MAX_PER_MINUTE}; {n} is too many."
            )),
        )),
        _ => None,
    };
    let burst = |field: LimitField, patch: &Patch<u32>| match patch {
        Patch::Set(n) if *n == 0 || *n > MAX_BURST => Some((
            field,
            Error::validation(format!(
                "A burst must be 1 to {MAX_BURST} requests; {n} is not."
            )),
        )),
        _ => None,
    };
    let errors: Vec<_> = [
        rate(LimitField::RequestsPerMinute, &change.requests_per_minute),
        burst(LimitField::Burst, &change.burst),
        rate(
            LimitField::PublishRequestsPerMinute,
            &change.publish_requests_per_minute,
        ),
        burst(LimitField::PublishBurst, &change.publish_burst),
    ]
    .into_iter()
    .flatten()
    .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Applies `change` to the app's limits and audits it; returns the limits now stored. A change
/// that changes nothing writes nothing; an app whose four numbers are all the instance's has
/// no row.
pub fn set(
    db: &Db,
    actor: &str,
    app_id: &str,
    change: &LimitsChange,
    now: DateTime<Utc>,
) -> Result<AppRateLimits> {
    if let Err(mut errors) = check(change) {
        return Err(errors.remove(0).1);
    }
    db.write(|tx| {
        if super::apps::get_app(tx, app_id)?.is_none() {
            return Err(Error::not_found(format!("App {app_id} does not exist.")));
        }
        let before = get(tx, app_id)?;
        let apply = |patch: &Patch<u32>, current: Option<u32>| match patch {
            Patch::Keep => current,
            Patch::Clear => None,
            Patch::Set(n) => Some(*n),
        };
        let after = AppRateLimits {
            requests_per_minute: apply(&change.requests_per_minute, before.requests_per_minute),
            burst: apply(&change.burst, before.burst),
            publish_requests_per_minute: apply(
                &change.publish_requests_per_minute,
                before.publish_requests_per_minute,
            ),
            publish_burst: apply(&change.publish_burst, before.publish_burst),
        };
        if after == before {
            return Ok(after);
        }
        if after.is_default() {
            tx.execute("DELETE FROM app_rate_limits WHERE app_id = ?1", [app_id])?;
        } else {
            tx.execute(
                "INSERT INTO app_rate_limits (app_id, requests_per_minute, burst, publish_requests_per_minute, publish_burst, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (app_id) DO UPDATE SET requests_per_minute = excluded.requests_per_minute,
                     burst = excluded.burst, publish_requests_per_minute = excluded.publish_requests_per_minute,
                     publish_burst = excluded.publish_burst, updated_at = excluded.updated_at",
                params![
                    app_id,
                    after.requests_per_minute,
                    after.burst,
                    after.publish_requests_per_minute,
                    after.publish_burst,
                    ts(now)
                ],
            )?;
        }
        audit::record(
            tx,
            actor,
            "app.rate_limits.update",
            "app",
            Some(app_id),
            Some(&serde_json::json!({"before": before, "after": after})),
            now,
        )?;
        Ok(after)
    })
}
