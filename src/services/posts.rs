//! Post requests and their deliveries (one per platform), the status rules that tie them
//! together, and the SQL of leasing and recording deliveries for the engine.
//!
//! A delivery moves `pending -> processing (leased) -> published | failed`, or back to
//! `pending` with a later `next_attempt_at` when a retry is safe. A publish that was cut off (a
//! crash, a kill, no answer in time) stays `processing`, to be reconciled: `reconcile_since`
//! set, not leased, due after the read-back delay; its next lease reads the platform back
//! instead of publishing. The post's status is always derived from its deliveries by
//! `recompute_status`, in the same transaction that changed them, which also refunds a post
//! only when no platform can have published it.
//! What a customer does to a post afterwards (cancel, edit, retry) is in `lifecycle`; `lease`
//! here is the one place a delivery is taken for sending, and it excludes those (see there).

use super::connections::Usability;
pub use super::status::{AttemptStep, DeliveryStatus, Mode, PostStatus};
use super::{credits, end_users, idempotency, ts};
use crate::crypto::{base64url, base64url_decode, new_id};
use crate::db::Db;
use crate::error::{Code, Error, Result};
use crate::instance::InstanceId;
use crate::providers::{MediaKind, Platform};
use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OptionalExtension, params, types::Value as SqlValue};
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct NewPost {
    pub mode: Mode,
    pub external_user_id: String,
    pub title: Option<String>,
    pub content: String,
    pub media_url: Option<String>,
    pub media_kind: Option<MediaKind>,
    pub thumbnail_url: Option<String>,
    pub metadata: Option<Value>,
    /// `platformOptions` as sent, keyed by platform key.
    pub platform_options: Option<Value>,
    pub platforms: Vec<Platform>,
    pub schedule_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub post_id: String,
    pub platform: Platform,
    pub connection_id: Option<String>,
    pub status: DeliveryStatus,
    pub external_id: Option<String>,
    pub external_url: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub attempt_count: i64,
    /// `attempt_count` when the post was last retried by hand: automatic retries count from it.
    pub attempts_at_retry: i64,
    pub next_attempt_at: Option<String>,
    /// Waiting to read the platform back after an interrupted publish (`reconcile_since` is
    /// set): `processing` on the wire, but nothing is running and nothing is due before the
    /// read-back delay.
    pub reading_back: bool,
    pub created_at: String,
    pub updated_at: String,
    /// What deleting the sent post did on this platform (`deletions`), once it was deleted.
    pub deletion: Option<super::deletions::Deletion>,
}

impl Delivery {
    /// Attempts since the delivery was created or last retried by hand.
    pub fn attempts_this_round(&self) -> i64 {
        self.attempt_count - self.attempts_at_retry
    }
}

#[derive(Debug, Clone)]
pub struct PostRequest {
    pub id: String,
    pub app_id: String,
    pub org_id: String,
    pub external_user_id: String,
    pub mode: Mode,
    pub status: PostStatus,
    pub title: Option<String>,
    pub content: String,
    pub media_url: Option<String>,
    pub media_kind: Option<MediaKind>,
    pub thumbnail_url: Option<String>,
    pub metadata: Option<Value>,
    pub platform_options: Option<Value>,
    pub credit_cost: i64,
    pub schedule_at: Option<String>,
    pub processed_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub deliveries: Vec<Delivery>,
}

/// Stores a post request and its deliveries and charges its credits, all in one transaction.
/// Returns the post id. Every platform must be connected and usable for the end user. Under an
/// `Idempotency-Key` the post is linked to its key in the same transaction, so a retry after a
/// crash finds it (see `idempotency`).
pub fn create(
    db: &Db,
    app_id: &str,
    org_id: &str,
    new: &NewPost,
    cost: i64,
    idempotency: Option<&idempotency::Claim>,
    now: DateTime<Utc>,
) -> Result<String> {
    db.write(|tx| {
        let user = end_users::require(tx, app_id, &new.external_user_id)?;
        let mut connection_ids = Vec::new();
        for platform in &new.platforms {
            connection_ids.push(usable_connection(tx, app_id, &user.id, &new.external_user_id, *platform, now)?);
        }
        let id = new_id();
        let initial_status = match new.mode {
            Mode::Immediate => PostStatus::Processing,
            Mode::Scheduled => PostStatus::Scheduled,
        };
        tx.execute(
            "INSERT INTO post_requests (id, app_id, end_user_id, mode, status, title, content, media_url, thumbnail_url,
                 metadata, platform_options, credit_cost, schedule_at, created_at, updated_at, media_kind)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?14, ?11, ?12, ?13, ?13, ?15)",
            params![
                id,
                app_id,
                user.id,
                new.mode,
                initial_status,
                new.title,
                new.content,
                new.media_url,
                new.thumbnail_url,
                new.metadata.as_ref().map(|m| m.to_string()),
                cost,
                new.schedule_at.map(ts),
                ts(now),
                new.platform_options.as_ref().map(|o| o.to_string()),
                new.media_kind
            ],
        )?;
        if let Some(claim) = idempotency {
            idempotency::link_post(tx, claim, &id)?;
        }
        credits::charge(tx, org_id, app_id, &id, cost, now)?;
        let due = ts(new.schedule_at.unwrap_or(now));
        for (platform, connection_id) in new.platforms.iter().zip(connection_ids) {
            tx.execute(
                "INSERT INTO post_deliveries (id, post_id, platform, connection_id, status, attempt_count, next_attempt_at, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, 'pending', 0, ?5, ?6, ?6)",
                params![new_id(), id, platform.key(), connection_id, due, ts(now)],
            )?;
        }
        Ok(id)
    })
}

/// The id of the end user's connection to `platform` when it can be posted with now, else the
/// refusal every path that commits a post to a platform gives (create, edit, retry).
pub(super) fn usable_connection(
    conn: &Connection,
    app_id: &str,
    end_user_id: &str,
    external_user_id: &str,
    platform: Platform,
    now: DateTime<Utc>,
) -> Result<String> {
    let key = platform.key();
    let connection = super::connections::find(conn, app_id, end_user_id, platform)?;
    match connection.map(|c| (c.usability(now), c)) {
        Some((Usability::Refreshable | Usability::Active, c)) => Ok(c.id),
        Some((Usability::Expired, _)) => Err(Error::new(
            Code::PlatformNeedsReconnect,
            format!(
                "The {key} access token of {external_user_id:?} expired and cannot be refreshed (no usable refresh token). Create a connect session for {key} and send the user through it."
            ),
        )),
        Some((Usability::NeedsReconnect, c)) => Err(Error::new(
            Code::PlatformNeedsReconnect,
            format!(
                "The {key} connection of {external_user_id:?} needs to be reconnected ({}). Create a connect session for {key} and send the user through it.",
                c.last_error_message
                    .unwrap_or_else(|| "the platform refused its token".into())
            ),
        )),
        Some((Usability::Disconnected, _)) | None => Err(Error::new(
            Code::PlatformNotConnected,
            format!("Connect {key} before posting to it."),
        )),
    }
}

const POST_SELECT: &str = "SELECT p.id, p.app_id, a.org_id, u.external_user_id, p.mode, p.status, p.title, p.content, p.media_url,
    p.thumbnail_url, p.metadata, p.credit_cost, p.schedule_at, p.processed_at, p.created_at, p.updated_at, p.platform_options, p.media_kind
    FROM post_requests p JOIN end_users u ON u.id = p.end_user_id JOIN apps a ON a.id = p.app_id";

fn post_from_row(r: &rusqlite::Row) -> rusqlite::Result<PostRequest> {
    let metadata: Option<String> = r.get(10)?;
    let platform_options: Option<String> = r.get(16)?;
    Ok(PostRequest {
        id: r.get(0)?,
        app_id: r.get(1)?,
        org_id: r.get(2)?,
        external_user_id: r.get(3)?,
        mode: r.get(4)?,
        status: r.get(5)?,
        title: r.get(6)?,
        content: r.get(7)?,
        media_url: r.get(8)?,
        media_kind: r.get(17)?,
        thumbnail_url: r.get(9)?,
        metadata: metadata.and_then(|m| serde_json::from_str(&m).ok()),
        platform_options: platform_options.and_then(|o| serde_json::from_str(&o).ok()),
        credit_cost: r.get(11)?,
        schedule_at: r.get(12)?,
        processed_at: r.get(13)?,
        created_at: r.get(14)?,
        updated_at: r.get(15)?,
        deliveries: Vec::new(),
    })
}

const DELIVERY_SELECT: &str =
    "SELECT id, post_id, platform, connection_id, status, external_id, external_url, error_code,
    error_message, attempt_count, next_attempt_at, created_at, updated_at, attempts_at_retry,
    reconcile_since IS NOT NULL FROM post_deliveries";

fn delivery_from_row(r: &rusqlite::Row) -> rusqlite::Result<Delivery> {
    let platform: String = r.get(2)?;
    Ok(Delivery {
        id: r.get(0)?,
        post_id: r.get(1)?,
        platform: Platform::from_key(&platform).unwrap_or(Platform::Linkedin),
        connection_id: r.get(3)?,
        status: r.get(4)?,
        external_id: r.get(5)?,
        external_url: r.get(6)?,
        error_code: r.get(7)?,
        error_message: r.get(8)?,
        attempt_count: r.get(9)?,
        attempts_at_retry: r.get(13)?,
        next_attempt_at: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
        reading_back: r.get(14)?,
        deletion: None,
    })
}

pub fn deliveries_of(conn: &Connection, post_id: &str) -> Result<Vec<Delivery>> {
    let mut stmt = conn.prepare(&format!(
        "{DELIVERY_SELECT} WHERE post_id = ?1 ORDER BY rowid"
    ))?;
    let rows = stmt.query_map([post_id], delivery_from_row)?;
    let mut deliveries: Vec<Delivery> = rows.collect::<rusqlite::Result<_>>()?;
    super::deletions::attach(conn, &mut deliveries)?;
    Ok(deliveries)
}

pub fn get_delivery(conn: &Connection, id: &str) -> Result<Option<Delivery>> {
    let delivery = conn
        .query_row(
            &format!("{DELIVERY_SELECT} WHERE id = ?1"),
            [id],
            delivery_from_row,
        )
        .optional()?;
    let mut found: Vec<Delivery> = delivery.into_iter().collect();
    super::deletions::attach(conn, &mut found)?;
    Ok(found.pop())
}

/// A post of the calling app with its deliveries; another app's post reads as missing.
pub fn get(conn: &Connection, app_id: &str, id: &str) -> Result<Option<PostRequest>> {
    let post = conn
        .query_row(
            &format!("{POST_SELECT} WHERE p.id = ?1 AND p.app_id = ?2"),
            params![id, app_id],
            post_from_row,
        )
        .optional()?;
    post.map(|mut p| {
        p.deliveries = deliveries_of(conn, &p.id)?;
        Ok(p)
    })
    .transpose()
}

pub fn get_any(conn: &Connection, id: &str) -> Result<Option<PostRequest>> {
    let post = conn
        .query_row(
            &format!("{POST_SELECT} WHERE p.id = ?1"),
            [id],
            post_from_row,
        )
        .optional()?;
    post.map(|mut p| {
        p.deliveries = deliveries_of(conn, &p.id)?;
        Ok(p)
    })
    .transpose()
}

#[derive(Debug, Clone, Default)]
pub struct PostFilter {
    pub external_user_id: Option<String>,
    pub status: Option<PostStatus>,
    pub platform: Option<Platform>,
    pub created_from: Option<DateTime<Utc>>,
    /// Exclusive upper bound.
    pub created_before: Option<DateTime<Utc>>,
}

/// Where the previous page ended: `(created_at, id)` of its last row, opaque to callers.
pub fn encode_cursor(post: &PostRequest) -> String {
    base64url(format!("{}|{}", post.created_at, post.id).as_bytes())
}

pub fn decode_cursor(cursor: &str) -> Option<(String, String)> {
    let text = String::from_utf8(base64url_decode(cursor)?).ok()?;
    let (at, id) = text.split_once('|')?;
    crate::clock::parse_timestamp(at)?;
    Some((at.to_string(), id.to_string()))
}

/// Newest first. Returns one page and whether more rows follow.
pub fn list(
    conn: &Connection,
    app_id: &str,
    filter: &PostFilter,
    after: Option<&(String, String)>,
    limit: usize,
) -> Result<(Vec<PostRequest>, bool)> {
    let mut sql = format!("{POST_SELECT} WHERE p.app_id = ?");
    let mut args: Vec<SqlValue> = vec![app_id.to_string().into()];
    if let Some(user) = &filter.external_user_id {
        sql.push_str(" AND u.external_user_id = ?");
        args.push(user.clone().into());
    }
    if let Some(status) = &filter.status {
        sql.push_str(" AND p.status = ?");
        args.push(status.as_str().to_string().into());
    }
    if let Some(platform) = filter.platform {
        sql.push_str(" AND EXISTS (SELECT 1 FROM post_deliveries d WHERE d.post_id = p.id AND d.platform = ?)");
        args.push(platform.key().to_string().into());
    }
    if let Some(from) = filter.created_from {
        sql.push_str(" AND p.created_at >= ?");
        args.push(ts(from).into());
    }
    if let Some(before) = filter.created_before {
        sql.push_str(" AND p.created_at < ?");
        args.push(ts(before).into());
    }
    if let Some((at, id)) = after {
        sql.push_str(" AND (p.created_at < ? OR (p.created_at = ? AND p.id < ?))");
        args.extend([at.clone().into(), at.clone().into(), id.clone().into()]);
    }
    sql.push_str(" ORDER BY p.created_at DESC, p.id DESC LIMIT ?");
    args.push((limit as i64 + 1).into());
    let mut stmt = conn.prepare(&sql)?;
    let mut posts: Vec<PostRequest> = stmt
        .query_map(rusqlite::params_from_iter(args), post_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    let more = posts.len() > limit;
    posts.truncate(limit);
    let mut deliveries = deliveries_of_posts(conn, &posts)?;
    for post in &mut posts {
        post.deliveries = deliveries.remove(&post.id).unwrap_or_default();
    }
    Ok((posts, more))
}

/// The deliveries of a page of posts in one query (not one per post), by post id, each post's
/// in the order they were created.
fn deliveries_of_posts(
    conn: &Connection,
    posts: &[PostRequest],
) -> Result<std::collections::HashMap<String, Vec<Delivery>>> {
    let mut by_post: std::collections::HashMap<String, Vec<Delivery>> =
        std::collections::HashMap::new();
    if posts.is_empty() {
        return Ok(by_post);
    }
    let placeholders = vec!["?"; posts.len()].join(", ");
    let mut stmt = conn.prepare(&format!(
        "{DELIVERY_SELECT} WHERE post_id IN ({placeholders}) ORDER BY rowid"
    ))?;
    let rows = stmt.query_map(
        rusqlite::params_from_iter(posts.iter().map(|p| &p.id)),
        delivery_from_row,
    )?;
    let mut deliveries: Vec<Delivery> = rows.collect::<rusqlite::Result<_>>()?;
    super::deletions::attach(conn, &mut deliveries)?;
    for delivery in deliveries {
        by_post
            .entry(delivery.post_id.clone())
            .or_default()
            .push(delivery);
    }
    Ok(by_post)
}

/// Derives a post's status from its deliveries, stamps `processedAt` when it becomes final,
/// and refunds the credits of a post that no platform published.
pub fn recompute_status(
    conn: &Connection,
    post_id: &str,
    now: DateTime<Utc>,
) -> Result<PostStatus> {
    let (mode, old_status, cost, app_id, org_id): (Mode, PostStatus, i64, String, String) = conn.query_row(
        "SELECT p.mode, p.status, p.credit_cost, p.app_id, a.org_id FROM post_requests p JOIN apps a ON a.id = p.app_id WHERE p.id = ?1",
        [post_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )?;
    let deliveries = deliveries_of(conn, post_id)?;
    let count = |s: DeliveryStatus| deliveries.iter().filter(|d| d.status == s).count();
    let (pending, processing, published, cancelled) = (
        count(DeliveryStatus::Pending),
        count(DeliveryStatus::Processing),
        count(DeliveryStatus::Published),
        count(DeliveryStatus::Cancelled),
    );
    let total = deliveries.len();
    let untouched = deliveries
        .iter()
        .all(|d| d.status == DeliveryStatus::Pending && d.attempt_count == 0);
    let status = if pending + processing > 0 {
        if mode == Mode::Scheduled && untouched {
            PostStatus::Scheduled
        } else {
            PostStatus::Processing
        }
    } else if published == total {
        PostStatus::Published
    } else if cancelled == total {
        PostStatus::Cancelled
    } else if published == 0 {
        PostStatus::Failed
    } else {
        PostStatus::PartialSuccess
    };
    let is_final = status.is_final();
    if status != old_status {
        conn.execute(
            "UPDATE post_requests SET status = ?2, updated_at = ?3,
                 processed_at = CASE WHEN ?4 THEN COALESCE(processed_at, ?3) ELSE processed_at END
             WHERE id = ?1",
            params![post_id, status, ts(now), is_final],
        )?;
        // Nothing was published for the customer, and no platform can have published it: the
        // credits it holds come back. A delivery that failed in a way that may have published
        // (`lifecycle::MAY_HAVE_PUBLISHED`) keeps them: the post may be live.
        let maybe_live = deliveries.iter().any(|d| {
            d.status == DeliveryStatus::Failed
                && super::lifecycle::may_have_published(d.error_code.as_deref())
        });
        let held = if status == PostStatus::Failed && cost > 0 && !maybe_live {
            credits::net_charge_of_post(conn, post_id)?
        } else {
            0
        };
        if held > 0 {
            credits::refund(
                conn,
                &org_id,
                &app_id,
                post_id,
                held,
                "refund: no platform published the post",
                now,
            )?;
        }
        // The post's final status is an event, written in this same transaction.
        if is_final {
            super::webhooks::post_status_changed(conn, post_id, now)?;
        }
    }
    Ok(status)
}

/// What the engine needs to deliver one leased delivery.
#[derive(Debug, Clone)]
pub struct Lease {
    pub delivery: Delivery,
    pub attempt_id: String,
    pub post: PostRequest,
    /// Set when this lease continues a publish the platform is still processing (and kept
    /// when it reads an interrupted one back: the adapter may look up the stored container).
    pub resume_state: Option<Value>,
    /// Set when this lease reads the platform back instead of publishing: the start of the
    /// attempt that was cut off (the window the post, if it exists, was created in).
    pub reconcile_since: Option<DateTime<Utc>>,
    /// Read-backs of the current interruption, this one included.
    pub read_backs: i64,
    /// When this lease was taken (the attempt's start).
    pub started_at: DateTime<Utc>,
}

/// Due: a pending delivery whose time has come, or a processing one not leased by anyone whose
/// platform-side work is due for another look or whose interrupted publish is due to be read
/// back. `?1` is the time now.
const DUE: &str = "((status = 'pending')
        OR (status = 'processing' AND lease_expires_at IS NULL AND (resume_state IS NOT NULL OR reconcile_since IS NOT NULL)))
    AND next_attempt_at <= ?1";

/// Leases a due delivery for one attempt (or one more look at a publish still processing),
/// committed before the platform is called, so a crash after the call can never make it look
/// untried. `None` when it is not (or no longer) due.
///
/// This is the one point where a delivery is taken for sending, and the status check is in the
/// `UPDATE`'s own `WHERE` (`DUE`), inside `BEGIN IMMEDIATE`: a delivery that a cancel or an
/// edit (`lifecycle`) changed since the dispatcher listed it, or that another worker took,
/// changes no row and is not sent. Those take the same write lock and change a post only while
/// it is still `scheduled`, which the first lease of any of its deliveries ends (the post turns
/// `processing` in this transaction), so either they win and nothing is sent, or the lease wins
/// and they answer 409; never both.
///
/// The lease names the process incarnation that took it (`holder`), so that a later start can
/// recover the leases of a process that is gone at once (`recover_leases_of_earlier_starts`).
pub fn lease(
    db: &Db,
    delivery_id: &str,
    lease_for: Duration,
    holder: &InstanceId,
    now: DateTime<Utc>,
) -> Result<Option<Lease>> {
    db.write(|tx| {
        // A new attempt counts; another look at the same attempt, or a read-back of it, does
        // not (read-backs count in `reconcile_reads`). `RETURNING` gives the stored resume state
        // and the interrupted attempt's start (the UPDATE leaves both as they are).
        let stored: Option<(Option<String>, Option<String>, i64)> = tx
            .query_row(
                &format!(
                    "UPDATE post_deliveries SET status = 'processing',
                         attempt_count = attempt_count + (resume_state IS NULL AND reconcile_since IS NULL),
                         reconcile_reads = reconcile_reads + (reconcile_since IS NOT NULL),
                         lease_expires_at = ?3, lease_instance_id = ?4, updated_at = ?1
                     WHERE id = ?2 AND {DUE} RETURNING resume_state, reconcile_since, reconcile_reads"
                ),
                params![ts(now), delivery_id, ts(now + lease_for), holder.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((stored_state, reconcile_since, read_backs)) = stored else {
            return Ok(None);
        };
        let reconcile_since = reconcile_since.as_deref().map(super::parse_ts);
        let step = match (&reconcile_since, &stored_state) {
            (Some(_), _) => AttemptStep::Reconcile,
            (None, Some(_)) => AttemptStep::Resume,
            (None, None) => AttemptStep::Publish,
        };
        let resume_state = stored_state.and_then(|s| serde_json::from_str(&s).ok());
        let delivery = get_delivery(tx, delivery_id)?.ok_or_else(|| Error::internal("leased delivery vanished"))?;
        let attempt_id = new_id();
        tx.execute(
            "INSERT INTO delivery_attempts (id, delivery_id, attempt_number, started_at, step) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![attempt_id, delivery_id, delivery.attempt_count, ts(now), step],
        )?;
        recompute_status(tx, &delivery.post_id, now)?;
        let post = get_any(tx, &delivery.post_id)?.ok_or_else(|| Error::internal("post of a delivery vanished"))?;
        Ok(Some(Lease { delivery, attempt_id, post, resume_state, reconcile_since, read_backs, started_at: now }))
    })
}

#[derive(Debug, Clone)]
pub enum Outcome {
    Published {
        external_id: String,
        url: Option<String>,
    },
    Failed {
        code: Code,
        message: String,
    },
    /// Not accepted, and safe to try again at `at`.
    RetryAt {
        code: Code,
        message: String,
        at: DateTime<Utc>,
    },
    /// Accepted by the platform, which is still processing it: look again at `at`.
    Processing {
        state: Value,
        at: DateTime<Utc>,
    },
    /// The publishing call was cut off (no answer in time): the platform may or may not have
    /// the post. Read it back at `at` (the attempt's window starts at `since`); any resume
    /// state stays, so the read-back can look the stored container up.
    Reconcile {
        code: Code,
        message: String,
        since: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    /// A read-back failed (the platform's read answered 5xx, 429, nothing): read back again
    /// at `at`, same window, same resume state.
    ReadAgain {
        code: Code,
        message: String,
        at: DateTime<Utc>,
    },
    /// Reading back showed the platform does not have the post: publishing again is safe, at
    /// `at`. `state` is the resume state to continue from (a container already made is not
    /// made twice), `None` for a new attempt from the start.
    PublishAgain {
        message: String,
        state: Option<Value>,
        at: DateTime<Utc>,
    },
}

/// What an outcome does to the read-back columns.
enum ReconcileChange {
    /// A new interruption: read back from `since` (an earlier start is kept).
    Start(String),
    /// Another read-back of the same interruption.
    Keep,
    /// Concluded, or never interrupted.
    Clear,
}

/// How one attempt went, for its row in the attempt log.
#[derive(Debug, Clone, Copy)]
pub struct AttemptReport {
    /// The call it made; `Prepare` when it ended before calling the platform.
    pub step: AttemptStep,
    /// The status of the platform's last HTTP answer in the attempt, if it answered.
    pub http_status: Option<u16>,
    pub duration_ms: i64,
}

/// Records the outcome of a leased attempt and updates the post, in one transaction.
pub fn record_outcome(
    db: &Db,
    lease: &Lease,
    outcome: &Outcome,
    report: &AttemptReport,
    now: DateTime<Utc>,
) -> Result<PostStatus> {
    db.write(|tx| {
        // The resume state an outcome leaves: `Some(new)` replaces it, `None` keeps it.
        let kept = lease.resume_state.as_ref().map(Value::to_string);
        let (status, external_id, url, code, message, next, resume, reconcile, attempt_outcome) = match outcome {
            Outcome::Published { external_id, url } => (DeliveryStatus::Published, Some(external_id.as_str()), url.as_deref(), None, None, None, None, ReconcileChange::Clear, "published"),
            Outcome::Failed { code, message } => (DeliveryStatus::Failed, None, None, Some(*code), Some(message.as_str()), None, None, ReconcileChange::Clear, "failed"),
            Outcome::RetryAt { code, message, at } => (DeliveryStatus::Pending, None, None, Some(*code), Some(message.as_str()), Some(ts(*at)), None, ReconcileChange::Clear, "retry"),
            Outcome::Processing { state, at } => (DeliveryStatus::Processing, None, None, None, None, Some(ts(*at)), Some(state.to_string()), ReconcileChange::Clear, "platform_processing"),
            Outcome::Reconcile { code, message, since, at } => (DeliveryStatus::Processing, None, None, Some(*code), Some(message.as_str()), Some(ts(*at)), kept.clone(), ReconcileChange::Start(ts(*since)), "unknown"),
            Outcome::ReadAgain { code, message, at } => (DeliveryStatus::Processing, None, None, Some(*code), Some(message.as_str()), Some(ts(*at)), kept.clone(), ReconcileChange::Keep, "retry"),
            Outcome::PublishAgain { message, state: Some(state), at } => (DeliveryStatus::Processing, None, None, None, Some(message.as_str()), Some(ts(*at)), Some(state.to_string()), ReconcileChange::Clear, "absent"),
            Outcome::PublishAgain { message, state: None, at } => (DeliveryStatus::Pending, None, None, None, Some(message.as_str()), Some(ts(*at)), None, ReconcileChange::Clear, "absent"),
        };
        let (reconcile_since, reconcile_change) = match &reconcile {
            ReconcileChange::Start(since) => (Some(since.as_str()), "start"),
            ReconcileChange::Keep => (None, "keep"),
            ReconcileChange::Clear => (None, "clear"),
        };
        tx.execute(
            "UPDATE post_deliveries SET status = ?2, external_id = COALESCE(?3, external_id), external_url = COALESCE(?4, external_url),
                 error_code = ?5, error_message = ?6, next_attempt_at = COALESCE(?7, next_attempt_at), lease_expires_at = NULL,
                 lease_instance_id = NULL, resume_state = ?9, updated_at = ?8,
                 reconcile_since = CASE ?11 WHEN 'keep' THEN reconcile_since WHEN 'start' THEN COALESCE(reconcile_since, ?10) ELSE NULL END,
                 reconcile_reads = CASE ?11 WHEN 'keep' THEN reconcile_reads ELSE 0 END
             WHERE id = ?1 AND status = 'processing'",
            params![lease.delivery.id, status, external_id, url, code, message, next, ts(now), resume, reconcile_since, reconcile_change],
        )?;
        // An attempt's outcome is free text for the dashboard.
        tx.execute(
            "UPDATE delivery_attempts SET finished_at = ?2, outcome = ?3, http_status = ?4, duration_ms = ?5, error_code = ?6, error_message = ?7,
                 step = ?8
             WHERE id = ?1",
            params![lease.attempt_id, ts(now), attempt_outcome, report.http_status, report.duration_ms, code, message, report.step],
        )?;
        if matches!(status, DeliveryStatus::Published | DeliveryStatus::Failed) {
            super::webhooks::delivery_updated(tx, &lease.delivery.id, now)?;
        }
        recompute_status(tx, &lease.delivery.post_id, now)
    })
}

/// Deliveries whose time has come, oldest first.
pub fn due_deliveries(conn: &Connection, now: DateTime<Utc>, limit: i64) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT id FROM post_deliveries WHERE {DUE} ORDER BY next_attempt_at LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![ts(now), limit], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// What became of a delivery whose lease was cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupted {
    /// To be read back from the platform (`reconcile_since` set, due after the delay).
    ToReconcile,
    /// Its read-backs were cut off too often: failed `OUTCOME_UNKNOWN`.
    GivenUp,
}

/// How interrupted leases are recovered: when to read back and how many read-backs one
/// interruption gets.
#[derive(Debug, Clone, Copy)]
pub struct Recovery {
    /// The wait before the first read-back (platforms may list a new post late).
    pub read_back_delay: Duration,
    pub max_reads: i64,
}

/// A delivery still leased past its lease was cut off mid-call (a crash, a kill, a worker that
/// died): the platform may or may not have published it, so it is read back before anything is
/// decided (see `interrupt`). Returns the platform key of each delivery so recovered, with
/// what became of it.
pub fn recover_expired_leases(
    db: &Db,
    recovery: Recovery,
    now: DateTime<Utc>,
) -> Result<Vec<(String, Interrupted)>> {
    db.write(|tx| {
        interrupt(
            tx,
            "status = 'processing' AND lease_expires_at <= ?1",
            &[&ts(now)],
            recovery,
            now,
        )
    })
}

/// At start-up, before any worker runs: a delivery still leased by another process incarnation
/// was cut off when that process stopped (a crash, a kill, a power cut), since a database is
/// served by one process at a time (`serve` holds its lock file). It is recovered as
/// `recover_expired_leases` would recover it, without waiting for the lease to run out.
pub fn recover_leases_of_earlier_starts(
    db: &Db,
    current: &InstanceId,
    recovery: Recovery,
    now: DateTime<Utc>,
) -> Result<Vec<(String, Interrupted)>> {
    db.write(|tx| {
        interrupt(
            tx,
            "status = 'processing' AND lease_expires_at IS NOT NULL AND lease_instance_id IS NOT ?1",
            &[&current.as_str()],
            recovery,
            now,
        )
    })
}

/// The leased deliveries `condition` selects were cut off mid-call: the platform may or may not
/// have the post, so none is sent again blindly. Each is kept `processing`, unleased, to be read
/// back after the delay from the start of the attempt that was cut off (a read-back cut off
/// itself keeps its window and counts against `max_reads`); one whose read-backs are used up
/// fails `OUTCOME_UNKNOWN`. The attempt that was cut off is closed as `unknown`.
fn interrupt(
    tx: &rusqlite::Transaction,
    condition: &str,
    condition_params: &[&dyn rusqlite::ToSql],
    recovery: Recovery,
    now: DateTime<Utc>,
) -> Result<Vec<(String, Interrupted)>> {
    let mut stmt = tx.prepare(&format!(
        "SELECT d.id, d.post_id, d.platform, d.reconcile_since, d.reconcile_reads,
             (SELECT MAX(a.started_at) FROM delivery_attempts a WHERE a.delivery_id = d.id AND a.finished_at IS NULL),
             d.updated_at
         FROM post_deliveries d WHERE {condition}"
    ))?;
    type Row = (
        String,
        String,
        String,
        Option<String>,
        i64,
        Option<String>,
        String,
    );
    let cut_off: Vec<Row> = stmt
        .query_map(condition_params, |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut recovered = Vec::new();
    for (id, post_id, platform, reconcile_since, reads, attempt_start, leased_at) in cut_off {
        let reading_back = reconcile_since.is_some();
        let what = if reading_back && reads >= recovery.max_reads {
            let message = format!(
                "Delivery was interrupted while the platform was being called, and each of {reads} read-backs of the platform was cut off too; it may or may not have been published. Check the account before posting again."
            );
            tx.execute(
                "UPDATE post_deliveries SET status = 'failed', error_code = ?4, error_message = ?2, lease_expires_at = NULL,
                     lease_instance_id = NULL, reconcile_since = NULL, reconcile_reads = 0, resume_state = NULL, updated_at = ?3
                 WHERE id = ?1",
                params![id, message, ts(now), Code::OutcomeUnknown],
            )?;
            Interrupted::GivenUp
        } else {
            let message = if reading_back {
                "Reading the platform back was interrupted; it is read back again before anything is sent."
            } else {
                "Delivery was interrupted while the platform was being called (a crash or a kill); the platform is read back to find out whether it published the post before anything is sent again."
            };
            // The window starts when the cut-off attempt did (the lease's time when no
            // attempt row is open any more).
            let since = reconcile_since.or(attempt_start).unwrap_or(leased_at);
            tx.execute(
                "UPDATE post_deliveries SET error_code = ?2, error_message = ?3, lease_expires_at = NULL, lease_instance_id = NULL,
                     reconcile_since = ?4, reconcile_reads = CASE WHEN ?5 THEN reconcile_reads ELSE 0 END,
                     next_attempt_at = ?6, updated_at = ?7
                 WHERE id = ?1",
                params![id, Code::OutcomeUnknown, message, since, reading_back, ts(now + recovery.read_back_delay), ts(now)],
            )?;
            Interrupted::ToReconcile
        };
        tx.execute(
            "UPDATE delivery_attempts SET finished_at = ?2, outcome = 'unknown', error_code = ?3
             WHERE delivery_id = ?1 AND finished_at IS NULL",
            params![id, ts(now), Code::OutcomeUnknown],
        )?;
        if what == Interrupted::GivenUp {
            super::webhooks::delivery_updated(tx, &id, now)?;
        }
        recompute_status(tx, &post_id, now)?;
        recovered.push((platform, what));
    }
    Ok(recovered)
}

/// How many deliveries wait, for the metrics: `due` may be leased now, `pending` waits for its
/// time (a scheduled post, a retry's backoff) or is due, `processing` is leased or waiting on
/// the platform's processing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    pub due: i64,
    pub pending: i64,
    pub processing: i64,
}

pub fn queue_depth(db: &Db, now: DateTime<Utc>) -> Result<QueueDepth> {
    db.read(|conn| {
        let due: i64 = conn.query_row(
            &format!("SELECT COUNT(*) FROM post_deliveries WHERE {DUE}"),
            params![ts(now)],
            |r| r.get(0),
        )?;
        let (pending, processing): (i64, i64) = conn.query_row(
            "SELECT COALESCE(SUM(status = 'pending'), 0), COALESCE(SUM(status = 'processing'), 0)
             FROM post_deliveries WHERE status IN ('pending', 'processing')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(QueueDepth {
            due,
            pending,
            processing,
        })
    })
}

/// One attempt of one delivery, as the attempt log shows it.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub delivery_id: String,
    pub platform: Platform,
    pub attempt_number: i64,
    /// `None` for attempts recorded before the step was kept (schema version 4).
    pub step: Option<AttemptStep>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub outcome: Option<String>,
    pub http_status: Option<i64>,
    pub duration_ms: Option<i64>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

const ATTEMPT_SELECT: &str = "SELECT a.delivery_id, d.platform, a.attempt_number, a.step, a.started_at, a.finished_at, a.outcome,
    a.http_status, a.duration_ms, a.error_code, a.error_message
    FROM delivery_attempts a JOIN post_deliveries d ON d.id = a.delivery_id";

fn attempt_from_row(r: &rusqlite::Row) -> rusqlite::Result<Attempt> {
    let platform: String = r.get(1)?;
    Ok(Attempt {
        delivery_id: r.get(0)?,
        platform: Platform::from_key(&platform).unwrap_or(Platform::Linkedin),
        attempt_number: r.get(2)?,
        step: r.get(3)?,
        started_at: r.get(4)?,
        finished_at: r.get(5)?,
        outcome: r.get(6)?,
        http_status: r.get(7)?,
        duration_ms: r.get(8)?,
        error_code: r.get(9)?,
        error_message: r.get(10)?,
    })
}

/// The attempts of one delivery, oldest first (a look at processing media shares its attempt's
/// number, after it).
pub fn attempts(conn: &Connection, delivery_id: &str) -> Result<Vec<Attempt>> {
    let mut stmt = conn.prepare(&format!(
        "{ATTEMPT_SELECT} WHERE a.delivery_id = ?1 ORDER BY a.attempt_number, a.started_at, a.rowid"
    ))?;
    let rows = stmt.query_map([delivery_id], attempt_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every attempt of every delivery of a post of the calling app, oldest first; `None` when the
/// post is not the app's (it reads as missing).
pub fn attempts_of_post(
    conn: &Connection,
    app_id: &str,
    post_id: &str,
) -> Result<Option<Vec<Attempt>>> {
    let exists: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM post_requests WHERE id = ?1 AND app_id = ?2",
            params![post_id, app_id],
            |r| r.get(0),
        )
        .optional()?;
    if exists.is_none() {
        return Ok(None);
    }
    let mut stmt = conn.prepare(&format!(
        "{ATTEMPT_SELECT} WHERE d.post_id = ?1 ORDER BY a.started_at, d.rowid, a.attempt_number, a.rowid"
    ))?;
    let rows = stmt.query_map([post_id], attempt_from_row)?;
    Ok(Some(rows.collect::<rusqlite::Result<_>>()?))
}

/// Forgets finished attempts older than `retention` (the attempt log's window); an attempt
/// still running is kept whatever its age.
pub fn prune_attempts(db: &Db, retention: Duration, now: DateTime<Utc>) -> Result<usize> {
    db.write(|tx| {
        Ok(tx.execute(
            "DELETE FROM delivery_attempts WHERE finished_at IS NOT NULL AND finished_at < ?1",
            [ts(now - retention)],
        )?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::trace::{TraceEvent, TraceEventCodes};
    use std::cell::RefCell;

    thread_local! {
        /// The statements run on this thread while tracing, as SQLite saw them.
        static STATEMENTS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    }

    fn record(event: TraceEvent<'_>) {
        if let TraceEvent::Profile(statement, _) = event {
            STATEMENTS.with(|s| s.borrow_mut().push(statement.sql().into_owned()));
        }
    }

    /// A database with one app and `posts` posts of one end user, each with a LinkedIn and an
    /// X delivery.
    fn database_with_posts(posts: usize) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        for migration in crate::db::MIGRATIONS {
            conn.execute_batch(migration).unwrap();
        }
        let at = "2026-03-21T08:00:00.000Z";
        conn.execute_batch(&format!(
            "INSERT INTO organizations (id, name, created_at, updated_at) VALUES ('o1', 'Org', '{at}', '{at}');
             INSERT INTO apps (id, org_id, name, created_at, updated_at) VALUES ('a1', 'o1', 'App', '{at}', '{at}');
             INSERT INTO end_users (id, app_id, external_user_id, created_at, updated_at) VALUES ('u1', 'a1', 'alex', '{at}', '{at}');"
        ))
        .unwrap();
        for n in 0..posts {
            let created = format!("2026-03-21T08:00:{n:02}.000Z");
            conn.execute(
                "INSERT INTO post_requests (id, app_id, end_user_id, mode, status, content, credit_cost, created_at, updated_at)
                 VALUES (?1, 'a1', 'u1', 'immediate', 'published', 'hello', 1, ?2, ?2)",
                params![format!("p{n}"), created],
            )
            .unwrap();
            for platform in ["linkedin", "twitter"] {
                conn.execute(
                    "INSERT INTO post_deliveries (id, post_id, platform, status, created_at, updated_at)
                     VALUES (?1, ?2, ?3, 'published', ?4, ?4)",
                    params![format!("d{n}-{platform}"), format!("p{n}"), platform, created],
                )
                .unwrap();
            }
        }
        conn
    }

    #[test]
    fn a_page_of_posts_reads_its_deliveries_in_one_query() {
        let conn = database_with_posts(5);
        STATEMENTS.with(|s| s.borrow_mut().clear());
        conn.trace_v2(TraceEventCodes::SQLITE_TRACE_PROFILE, Some(record));
        let (page, more) = list(&conn, "a1", &PostFilter::default(), None, 3).unwrap();
        conn.trace_v2(TraceEventCodes::empty(), None);

        let statements = STATEMENTS.with(|s| s.borrow().clone());
        let delivery_reads = statements
            .iter()
            .filter(|sql| sql.contains("FROM post_deliveries"))
            .count();
        assert_eq!(delivery_reads, 1, "{statements:#?}");
        assert!(more);
        let ids: Vec<&str> = page.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["p4", "p3", "p2"], "newest first");
        for post in &page {
            let deliveries: Vec<(&str, Platform)> = post
                .deliveries
                .iter()
                .map(|d| (d.post_id.as_str(), d.platform))
                .collect();
            assert_eq!(
                deliveries,
                [
                    (post.id.as_str(), Platform::Linkedin),
                    (post.id.as_str(), Platform::Twitter)
                ],
                "each post gets its own deliveries, in the order they were created"
            );
        }
    }

    #[test]
    fn an_empty_page_reads_no_deliveries() {
        let conn = database_with_posts(0);
        STATEMENTS.with(|s| s.borrow_mut().clear());
        conn.trace_v2(TraceEventCodes::SQLITE_TRACE_PROFILE, Some(record));
        let (page, more) = list(&conn, "a1", &PostFilter::default(), None, 3).unwrap();
        conn.trace_v2(TraceEventCodes::empty(), None);
        assert!(page.is_empty() && !more);
        let statements = STATEMENTS.with(|s| s.borrow().clone());
        assert_eq!(statements.len(), 1, "only the page itself: {statements:#?}");
    }
}
