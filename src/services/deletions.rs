//! Deleting a sent post on the platforms, its rules and SQL: which deliveries a `DELETE` calls
//! (`plan`), the start that takes a post for deleting (`begin`), and the one transaction that
//! records what each platform answered, with its audit entry and `post.deleted` event
//! (`record`). The calls themselves are `crate::deletion`'s; this module never calls anyone.
//!
//! A delivery's result is one row of `post_deletions`, shown as `deletion` of its platform
//! result. Only a `deleted` row is final: a later `DELETE` calls again every platform whose
//! row is anything else (a failure may pass now, a platform may have become deletable), and
//! never one whose post is already deleted.

use super::lifecycle::{Action, not_allowed};
use super::posts::{self, Delivery, DeliveryStatus, PostRequest, PostStatus};
pub use super::status::DeletionStatus;
use super::ts;
use crate::db::Db;
use crate::error::{Code, Error, Result};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;

/// What the last `DELETE` found for one delivery (`post_deletions`).
#[derive(Debug, Clone, PartialEq)]
pub struct Deletion {
    pub status: DeletionStatus,
    /// The platform answered that the post was gone already; counted as deleted.
    pub already_gone: bool,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// Delete calls made to the platform for this delivery.
    pub attempt_count: i64,
    pub deleted_at: Option<String>,
    pub updated_at: String,
}

/// What a `DELETE` does with one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Deleted by an earlier request: not called again.
    Keep,
    /// Never published: nothing exists on the platform.
    NothingToDelete,
    /// Published and not yet deleted: the platform is asked (or, when its API cannot delete,
    /// reported `not_supported` without a call).
    Call,
}

/// The step for one delivery; `delivery.deletion` is its stored result, if any.
pub fn plan(delivery: &Delivery) -> Step {
    if delivery
        .deletion
        .as_ref()
        .is_some_and(|d| d.status == DeletionStatus::Deleted)
    {
        Step::Keep
    } else if delivery.status == DeliveryStatus::Published {
        Step::Call
    } else {
        Step::NothingToDelete
    }
}

/// What one platform answered to a `DELETE`, to be recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Deleted {
        already_gone: bool,
    },
    /// No call was made: the platform's API offers no deletion (`DELETE_NOT_AVAILABLE`).
    NotSupported {
        message: String,
    },
    /// The call (or getting a token for it) failed; a later `DELETE` tries again.
    Failed {
        code: Code,
        message: String,
    },
    NothingToDelete,
}

impl Outcome {
    fn status(&self) -> DeletionStatus {
        match self {
            Outcome::Deleted { .. } => DeletionStatus::Deleted,
            Outcome::NotSupported { .. } => DeletionStatus::NotSupported,
            Outcome::Failed { .. } => DeletionStatus::Failed,
            Outcome::NothingToDelete => DeletionStatus::NothingToDelete,
        }
    }

    /// Whether the platform's delete endpoint was (or was about to be) called.
    fn called(&self) -> bool {
        matches!(self, Outcome::Deleted { .. } | Outcome::Failed { .. })
    }
}

/// A code a deletion may record: a delivery code (its meaning holds for the delete call) or a
/// deletion code; any other an adapter might name is recorded as `PLATFORM_REJECTED`, keeping
/// its message, so `deletion.errorCode` stays within its documented list.
pub fn recordable(code: Code) -> Code {
    let entry = code.entry();
    if entry.delivery.is_some() || entry.deletion.is_some() {
        code
    } else {
        Code::PlatformRejected
    }
}

const SELECT: &str = "SELECT delivery_id, status, already_gone, error_code, error_message, attempt_count, deleted_at, updated_at
    FROM post_deletions";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<(String, Deletion)> {
    Ok((
        r.get(0)?,
        Deletion {
            status: r.get(1)?,
            already_gone: r.get::<_, i64>(2)? != 0,
            error_code: r.get(3)?,
            error_message: r.get(4)?,
            attempt_count: r.get(5)?,
            deleted_at: r.get(6)?,
            updated_at: r.get(7)?,
        },
    ))
}

/// Fills `deletion` of each delivery from its stored result (one query for all).
pub fn attach(conn: &Connection, deliveries: &mut [Delivery]) -> Result<()> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let placeholders = vec!["?"; deliveries.len()].join(", ");
    let mut stmt = conn.prepare(&format!("{SELECT} WHERE delivery_id IN ({placeholders})"))?;
    let rows = stmt.query_map(
        rusqlite::params_from_iter(deliveries.iter().map(|d| &d.id)),
        from_row,
    )?;
    let mut found: HashMap<String, Deletion> = rows.collect::<rusqlite::Result<_>>()?;
    for delivery in deliveries {
        delivery.deletion = found.remove(&delivery.id);
    }
    Ok(())
}

/// When a `DELETE` of the sent post first began, if one did.
pub fn requested_at(conn: &Connection, post_id: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT deletion_requested_at FROM post_requests WHERE id = ?1",
            [post_id],
            |r| r.get(0),
        )
        .optional()?
        .flatten())
}

/// Takes a sent post of the app for deleting and returns it with its deliveries' stored
/// results. Only a post the platforms have seen and are done with (`published`,
/// `partial_success`) is deleted; any other status is 409 naming it. The post is marked in the
/// same transaction (`deletion_requested_at`), so a retry (`lifecycle::retry`, which checks the
/// mark under the same write lock) either made the post `processing` first, and this answers
/// 409, or finds the mark and is refused: never a publish of what is being deleted.
pub fn begin(db: &Db, app_id: &str, post_id: &str, now: DateTime<Utc>) -> Result<PostRequest> {
    db.write(|tx| {
        let post = posts::get(tx, app_id, post_id)?
            .ok_or_else(|| Error::not_found(format!("Post request {post_id} does not exist.")))?;
        if !matches!(
            post.status,
            PostStatus::Published | PostStatus::PartialSuccess
        ) {
            return Err(not_allowed(&post, Action::Delete));
        }
        tx.execute(
            "UPDATE post_requests SET deletion_requested_at = COALESCE(deletion_requested_at, ?2) WHERE id = ?1",
            params![post_id, ts(now)],
        )?;
        Ok(post)
    })
}

/// Records what each platform answered (`outcomes`: delivery id and outcome), in one
/// transaction with the audit entry (`actor`, one per request) and, when a platform was called
/// or a result is new, the `post.deleted` event. A row already `deleted` is never overwritten
/// (a concurrent request may have deleted it meanwhile). Delivery ids not of this app's post
/// are an internal error.
pub fn record(
    db: &Db,
    app_id: &str,
    post_id: &str,
    outcomes: &[(String, Outcome)],
    actor: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    db.write(|tx| {
        let post = posts::get(tx, app_id, post_id)?
            .ok_or_else(|| Error::not_found(format!("Post request {post_id} does not exist.")))?;
        let mut platforms = serde_json::Map::new();
        let mut changed = false;
        for (delivery_id, outcome) in outcomes {
            let delivery = post
                .deliveries
                .iter()
                .find(|d| &d.id == delivery_id)
                .ok_or_else(|| Error::internal(format!("delivery {delivery_id} is not of post {post_id}")))?;
            platforms.insert(
                delivery.platform.key().to_string(),
                serde_json::json!(outcome.status().as_str()),
            );
            // A result found again without a call (never published, still not deletable) is
            // neither written again nor reported again.
            let stored = delivery.deletion.as_ref().map(|d| d.status);
            if !outcome.called() && stored == Some(outcome.status()) {
                continue;
            }
            changed = true;
            let (code, message) = match outcome {
                Outcome::Failed { code, message } => (Some(recordable(*code)), Some(message.as_str())),
                Outcome::NotSupported { message } => (Some(Code::DeleteNotAvailable), Some(message.as_str())),
                Outcome::Deleted { .. } | Outcome::NothingToDelete => (None, None),
            };
            let already_gone = matches!(outcome, Outcome::Deleted { already_gone: true });
            let deleted_at = matches!(outcome, Outcome::Deleted { .. }).then(|| ts(now));
            tx.execute(
                "INSERT INTO post_deletions (delivery_id, status, already_gone, error_code, error_message, attempt_count, deleted_at, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
                 ON CONFLICT(delivery_id) DO UPDATE SET status = excluded.status, already_gone = excluded.already_gone,
                     error_code = excluded.error_code, error_message = excluded.error_message,
                     attempt_count = post_deletions.attempt_count + excluded.attempt_count,
                     deleted_at = excluded.deleted_at, updated_at = excluded.updated_at
                 WHERE post_deletions.status != 'deleted'",
                params![
                    delivery_id,
                    outcome.status(),
                    already_gone,
                    code,
                    message,
                    i64::from(outcome.called()),
                    deleted_at,
                    ts(now)
                ],
            )?;
        }
        super::audit::record(
            tx,
            actor,
            "post.delete",
            "post",
            Some(post_id),
            Some(&serde_json::json!({"appId": app_id, "platforms": platforms})),
            now,
        )?;
        if changed {
            super::webhooks::post_deleted(tx, post_id, now)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Platform;

    fn delivery(status: DeliveryStatus, deletion: Option<DeletionStatus>) -> Delivery {
        Delivery {
            id: "d1".into(),
            post_id: "p1".into(),
            platform: Platform::Twitter,
            connection_id: Some("c1".into()),
            status,
            external_id: (status == DeliveryStatus::Published).then(|| "1".into()),
            external_url: None,
            error_code: None,
            error_message: None,
            attempt_count: 1,
            attempts_at_retry: 0,
            next_attempt_at: None,
            created_at: "2026-03-21T08:00:00.000Z".into(),
            updated_at: "2026-03-21T08:00:00.000Z".into(),
            reading_back: false,
            deletion: deletion.map(|status| Deletion {
                status,
                already_gone: false,
                error_code: None,
                error_message: None,
                attempt_count: 1,
                deleted_at: None,
                updated_at: "2026-03-21T09:00:00.000Z".into(),
            }),
        }
    }

    /// A second DELETE calls only what is not deleted yet: a failed call, a platform that could
    /// not delete before (it may now), a delivery published since (a retry before the first
    /// DELETE); a deleted one never again, and one that never published never at all.
    #[test]
    fn a_delete_calls_only_the_published_deliveries_not_deleted_yet() {
        use DeletionStatus as D;
        use DeliveryStatus as S;
        let cases = [
            (S::Published, None, Step::Call),
            (S::Published, Some(D::Failed), Step::Call),
            (S::Published, Some(D::NotSupported), Step::Call),
            (S::Published, Some(D::NothingToDelete), Step::Call),
            (S::Published, Some(D::Deleted), Step::Keep),
            (S::Failed, None, Step::NothingToDelete),
            (S::Failed, Some(D::NothingToDelete), Step::NothingToDelete),
            (S::Cancelled, None, Step::NothingToDelete),
        ];
        for (status, stored, step) in cases {
            assert_eq!(plan(&delivery(status, stored)), step, "{status} {stored:?}");
        }
    }

    #[test]
    fn a_code_outside_the_deletion_list_is_recorded_as_a_refusal() {
        assert_eq!(recordable(Code::NeedsReconnect), Code::NeedsReconnect);
        assert_eq!(
            recordable(Code::DeleteNotAvailable),
            Code::DeleteNotAvailable
        );
        assert_eq!(
            recordable(Code::PlatformUnavailable),
            Code::PlatformUnavailable
        );
        assert_eq!(recordable(Code::ValidationFailed), Code::PlatformRejected);
        assert_eq!(recordable(Code::PlatformError), Code::PlatformRejected);
    }
}
