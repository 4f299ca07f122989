//! What a customer does to a post after creating it: cancel a scheduled post (its credits come
//! back), edit it, and retry the deliveries that failed for a reason that may pass now.
//!
//! Race rule: each change is one `BEGIN IMMEDIATE` transaction (`Db::write`) whose `UPDATE` of
//! the post carries the status it requires in its own `WHERE`. The dispatcher takes a delivery
//! in `posts::lease`, under the same write lock, and the first lease of a scheduled post turns
//! it `processing` in that transaction. So a cancel or an edit either commits before the first
//! lease (and the old post is never sent: a cancelled delivery is not due, an edited one is sent
//! as edited), or finds the post no longer `scheduled` and answers 409
//! `INVALID_STATUS_TRANSITION`; never both.

use super::posts::{self, DeliveryStatus, NewPost, PostRequest, PostStatus, usable_connection};
use super::{credits, end_users, ts};
use crate::crypto::new_id;
use crate::db::Db;
use crate::error::{Code, Error, Result};
use crate::providers::Platform;
use chrono::{DateTime, Utc};
use rusqlite::params;

/// What a customer asked to do to a post, for the refusal's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Cancel,
    Edit,
    Delete,
    Retry,
}

impl Action {
    fn past(self) -> &'static str {
        match self {
            Action::Cancel => "cancelled",
            Action::Edit => "edited",
            Action::Delete => "deleted",
            Action::Retry => "retried",
        }
    }
}

fn not_found(post_id: &str) -> Error {
    Error::not_found(format!("Post request {post_id} does not exist."))
}

/// The 409 for `action` on a post whose status does not allow it, naming the status and what
/// the caller can do instead.
pub fn not_allowed(post: &PostRequest, action: Action) -> Error {
    let status = post.status;
    let id = &post.id;
    let rule = match action {
        Action::Retry => "only a failed or partial_success post can be retried".to_string(),
        Action::Delete => "only a scheduled post (which is cancelled) or one the platforms published (published, partial_success: deleted there) can be deleted".to_string(),
        _ => format!(
            "only a scheduled post that has not started publishing can be {}",
            action.past()
        ),
    };
    let why = match status {
        PostStatus::Processing | PostStatus::Pending => {
            "its publishing has begun; wait for its result (GET /v1/posts/{id})".replace("{id}", id)
        }
        PostStatus::Scheduled => "it is waiting for its time".to_string(),
        PostStatus::Published => "every platform published it".to_string(),
        PostStatus::PartialSuccess => "it was sent to the platforms".to_string(),
        PostStatus::Failed if action == Action::Delete => {
            "no platform published it, so there is nothing to delete".to_string()
        }
        PostStatus::Failed => "no platform published it".to_string(),
        PostStatus::Cancelled => "it was cancelled".to_string(),
    };
    Error::new(
        Code::InvalidStatusTransition,
        format!("Post {id} is {status} ({why}); {rule}."),
    )
}

/// Cancels a scheduled post that no delivery has started: the post and its deliveries become
/// `cancelled` and what it cost is refunded, in one transaction (see the module's race rule).
/// `Action::Delete` is the same with the wording of `DELETE /v1/posts/{id}`.
pub fn cancel(
    db: &Db,
    app_id: &str,
    post_id: &str,
    action: Action,
    now: DateTime<Utc>,
) -> Result<()> {
    db.write(|tx| {
        let post = posts::get(tx, app_id, post_id)?.ok_or_else(|| not_found(post_id))?;
        let changed = tx.execute(
            "UPDATE post_requests SET status = 'cancelled', updated_at = ?3, processed_at = ?3
             WHERE id = ?1 AND app_id = ?2 AND status = 'scheduled'",
            params![post_id, app_id, ts(now)],
        )?;
        if changed == 0 {
            return Err(not_allowed(&post, action));
        }
        tx.execute(
            "UPDATE post_deliveries SET status = 'cancelled', next_attempt_at = NULL, updated_at = ?2
             WHERE post_id = ?1 AND status = 'pending' AND attempt_count = 0",
            params![post_id, ts(now)],
        )?;
        // A scheduled post has only untouched deliveries (`recompute_status`): every one is
        // cancelled now, or the transaction is undone rather than leave a delivery to be sent.
        if posts::recompute_status(tx, post_id, now)? != PostStatus::Cancelled {
            return Err(Error::internal(format!(
                "post {post_id} was scheduled but not all of its deliveries were untouched"
            )));
        }
        let charged = credits::net_charge_of_post(tx, post_id)?;
        if charged > 0 {
            credits::refund(
                tx,
                &post.org_id,
                app_id,
                post_id,
                charged,
                "refund: post cancelled before publishing",
                now,
            )?;
        }
        // `recompute_status` above wrote the `post.cancelled` webhook event in this transaction.
        Ok(())
    })
}

/// What an edit found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edited {
    Done,
    /// The post changed after the caller read and validated it (another edit): read, merge and
    /// validate again.
    Stale,
}

/// The fields an edit may change, with the platforms: two readings that agree on these saw the
/// same post, as far as an edit is concerned.
fn editable_fields(post: &PostRequest) -> String {
    let platforms: Vec<&str> = post.deliveries.iter().map(|d| d.platform.key()).collect();
    serde_json::json!([
        post.title,
        post.content,
        post.media_url,
        post.thumbnail_url,
        post.metadata,
        post.platform_options,
        post.schedule_at,
        platforms
    ])
    .to_string()
}

/// Stores an edit of a scheduled post, already validated as a whole (`new`, the stored post
/// with the request's fields over it) against `read`, the post as it was read for that.
/// Deliveries of platforms left out are removed, those of platforms added created (each
/// platform's connection checked as on create), the others keep their ids and move to the new
/// time. The price does not change: a post costs the same whatever its platforms.
pub fn edit(
    db: &Db,
    app_id: &str,
    read: &PostRequest,
    new: &NewPost,
    now: DateTime<Utc>,
) -> Result<Edited> {
    let post_id = read.id.as_str();
    db.write(|tx| {
        let post = posts::get(tx, app_id, post_id)?.ok_or_else(|| not_found(post_id))?;
        if post.status != PostStatus::Scheduled {
            return Err(not_allowed(&post, Action::Edit));
        }
        if editable_fields(&post) != editable_fields(read) {
            return Ok(Edited::Stale);
        }
        let due = new
            .schedule_at
            .map(ts)
            .ok_or_else(|| Error::internal("an edited scheduled post has no scheduleAt"))?;
        let changed = tx.execute(
            "UPDATE post_requests SET title = ?3, content = ?4, media_url = ?5, media_kind = ?6, thumbnail_url = ?7,
                 metadata = ?8, platform_options = ?9, schedule_at = ?10, updated_at = ?11
             WHERE id = ?1 AND app_id = ?2 AND status = 'scheduled'",
            params![
                post_id,
                app_id,
                new.title,
                new.content,
                new.media_url,
                new.media_kind,
                new.thumbnail_url,
                new.metadata.as_ref().map(|m| m.to_string()),
                new.platform_options.as_ref().map(|o| o.to_string()),
                due,
                ts(now)
            ],
        )?;
        if changed == 0 {
            return Err(not_allowed(&post, Action::Edit));
        }
        let user = end_users::require(tx, app_id, &post.external_user_id)?;
        let mut connections = Vec::new();
        for platform in &new.platforms {
            connections.push(usable_connection(tx, app_id, &user.id, &post.external_user_id, *platform, now)?);
        }
        for delivery in &post.deliveries {
            if !new.platforms.contains(&delivery.platform) {
                untouched_delivery(tx.execute(
                    "DELETE FROM post_deliveries WHERE id = ?1 AND status = 'pending' AND attempt_count = 0",
                    [&delivery.id],
                )?)?;
            }
        }
        for (platform, connection_id) in new.platforms.iter().zip(connections) {
            match post.deliveries.iter().find(|d| d.platform == *platform) {
                Some(kept) => untouched_delivery(tx.execute(
                    "UPDATE post_deliveries SET connection_id = ?2, next_attempt_at = ?3, updated_at = ?4
                     WHERE id = ?1 AND status = 'pending' AND attempt_count = 0",
                    params![kept.id, connection_id, due, ts(now)],
                )?)?,
                None => {
                    tx.execute(
                        "INSERT INTO post_deliveries (id, post_id, platform, connection_id, status, attempt_count, next_attempt_at, created_at, updated_at)
                         VALUES (?1, ?2, ?3, ?4, 'pending', 0, ?5, ?6, ?6)",
                        params![new_id(), post_id, platform.key(), connection_id, due, ts(now)],
                    )?;
                }
            }
        }
        if posts::recompute_status(tx, post_id, now)? != PostStatus::Scheduled {
            return Err(Error::internal(format!("edited post {post_id} is no longer scheduled")));
        }
        Ok(Edited::Done)
    })
}

/// A scheduled post's deliveries are all untouched; one that is not means the status lied, and
/// the whole change is undone.
fn untouched_delivery(changed: usize) -> Result<()> {
    if changed == 1 {
        Ok(())
    } else {
        Err(Error::internal(
            "a delivery of a scheduled post was not untouched",
        ))
    }
}

/// Whether a delivery that failed with a code may be sent again by `retry`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryClass {
    /// Sent again: the cause may have passed (the platform was down or throttling, the media
    /// host unreachable, the connection since reconnected, the instance's configuration fixed).
    MayPassNow,
    /// Sent again only with `includeOutcomeUnknown`: the platform may already have the post.
    OutcomeUnknown,
    /// Never sent again: the same post would fail the same way. Edit nothing; create a new post.
    NeedsChange,
}

/// Codes whose deliveries a retry sends again. A delivery with a connection code is sent only
/// when its connection is usable now (otherwise the retry is refused like a create).
pub const RETRIED: &[Code] = &[
    Code::RateLimited,
    Code::PlatformUnreachable,
    Code::PlatformUnavailable,
    Code::PlatformUnavailableBeforePublishing,
    Code::InternalError,
    Code::MediaFetchFailed,
    Code::MediaUploadFailed,
    Code::NeedsReconnect,
    Code::TokenExpired,
    Code::PlatformNotConnected,
    Code::CredentialsMissing,
    Code::PlatformVersionRetired,
    // Fixed in the app's credentials (Pinterest's API host), not in the post.
    Code::PlatformAccessTier,
];

/// Codes whose deliveries a retry sends again only with `{"includeOutcomeUnknown": true}`.
pub const RETRIED_ON_REQUEST: &[Code] = &[Code::OutcomeUnknown, Code::ProcessingTimeout];

/// Codes whose deliveries a retry never sends again (as does any code not in a list: one an
/// earlier version stored).
pub const NEVER_RETRIED: &[Code] = &[
    Code::ContentTooLong,
    Code::MediaRequired,
    Code::UnsupportedMediaType,
    Code::TargetRequired,
    Code::TargetNotFound,
    Code::MediaTooLarge,
    Code::MediaProcessingFailed,
    Code::DuplicatePost,
    Code::PlatformRejected,
    Code::PlatformNotSupported,
    // The post needs a flairId.
    Code::FlairRequired,
];

/// Codes of a failed delivery that the platform may have published anyway: the publishing call
/// got no usable answer (`OUTCOME_UNKNOWN`: cut off, and reading back could not tell), answered
/// 5xx (`PLATFORM_UNAVAILABLE` as a final result comes only from the call that creates the post,
/// or one after it, when reading back could not tell, or from a look at media the platform
/// already holds), or was still processing the media after
/// hours (`PROCESSING_TIMEOUT`: YouTube and Facebook videos exist from their upload on and may
/// still go live). A post with such a delivery is not refunded when it fails: credits come back
/// only when no platform can have published it. Every other delivery code is a refusal or a
/// failure before anything was published.
pub const MAY_HAVE_PUBLISHED: &[Code] = &[
    Code::OutcomeUnknown,
    Code::PlatformUnavailable,
    Code::ProcessingTimeout,
];

/// Whether a delivery that failed with `code` may have been published by its platform (see
/// `MAY_HAVE_PUBLISHED`). A code this version does not know counts as may-have-published, so
/// an unknown cause never refunds a post that could be live.
pub fn may_have_published(code: Option<&str>) -> bool {
    match code.and_then(Code::parse) {
        Some(code) => MAY_HAVE_PUBLISHED.contains(&code),
        None => code.is_some(),
    }
}

pub fn retry_class(code: Option<&str>) -> RetryClass {
    match code.and_then(Code::parse) {
        Some(code) if RETRIED.contains(&code) => RetryClass::MayPassNow,
        Some(code) if RETRIED_ON_REQUEST.contains(&code) => RetryClass::OutcomeUnknown,
        _ => RetryClass::NeedsChange,
    }
}

#[derive(Debug, Clone, Default)]
pub struct RetryRequest {
    /// Also send again deliveries whose outcome is unknown (`RETRIED_ON_REQUEST`).
    pub include_outcome_unknown: bool,
    /// Only these platforms' deliveries; each must be one that may be retried.
    pub platforms: Option<Vec<Platform>>,
}

/// Why a delivery is not sent again, for the refusal.
fn why_not_retried(delivery: &posts::Delivery, request: &RetryRequest) -> Option<String> {
    let key = delivery.platform.key();
    if delivery.status != DeliveryStatus::Failed {
        return Some(format!("{key} is {}, not failed", delivery.status));
    }
    let code = delivery.error_code.as_deref().unwrap_or("no code");
    match retry_class(delivery.error_code.as_deref()) {
        RetryClass::MayPassNow => None,
        RetryClass::OutcomeUnknown if request.include_outcome_unknown => None,
        RetryClass::OutcomeUnknown => Some(format!(
            "{key} failed with {code}: the platform may already have the post, so check the account first; send {{\"includeOutcomeUnknown\": true}} to publish it again anyway"
        )),
        RetryClass::NeedsChange => Some(format!(
            "{key} failed with {code}, which the same post would meet again; create a new post that fixes it"
        )),
    }
}

/// Puts the failed deliveries of a `failed` or `partial_success` post that may pass now back
/// to `pending`, due now, and returns their ids for the engine. A retry charges what the post
/// holds less than its price: a `failed` post that was refunded pays its price again (402 when
/// the balance is short, nothing changed); a `partial_success` post, or a `failed` one that
/// was not refunded because a platform may have published it (`MAY_HAVE_PUBLISHED`), is still
/// paid for, so its retry is free. Should the retry fail on every platform again, the post
/// ends `failed` and is refunded by the same rule.
pub fn retry(
    db: &Db,
    app_id: &str,
    post_id: &str,
    request: &RetryRequest,
    now: DateTime<Utc>,
) -> Result<Vec<String>> {
    db.write(|tx| {
        let post = posts::get(tx, app_id, post_id)?.ok_or_else(|| not_found(post_id))?;
        if !matches!(post.status, PostStatus::Failed | PostStatus::PartialSuccess) {
            return Err(not_allowed(&post, Action::Retry));
        }
        // Deleting takes the same write lock to mark the post (`deletions::begin`): what is
        // being deleted on the platforms is never published again.
        if let Some(at) = super::deletions::requested_at(tx, post_id)? {
            return Err(Error::new(
                Code::InvalidStatusTransition,
                format!(
                    "Post {post_id} is {} but was deleted on the platforms (DELETE at {at}); a deleted post is not retried: create a new post.",
                    post.status
                ),
            ));
        }
        let considered: Vec<&posts::Delivery> = match &request.platforms {
            None => post.deliveries.iter().filter(|d| d.status == DeliveryStatus::Failed).collect(),
            Some(platforms) => {
                let mut named = Vec::new();
                for platform in platforms {
                    let delivery = post.deliveries.iter().find(|d| d.platform == *platform).ok_or_else(|| {
                        Error::validation(format!(
                            "platforms names {}, which is not a platform of post {post_id}.",
                            platform.key()
                        ))
                    })?;
                    named.push(delivery);
                }
                named
            }
        };
        let mut refusals: Vec<String> = considered.iter().filter_map(|d| why_not_retried(d, request)).collect();
        if considered.is_empty() {
            refusals.push("no delivery failed".into());
        }
        // Named platforms must all be retried; without names, what may pass is.
        if considered.is_empty() || (request.platforms.is_some() && !refusals.is_empty()) || refusals.len() == considered.len() {
            return Err(Error::new(
                Code::NotRetryable,
                format!("Post {post_id} has nothing to retry: {}.", refusals.join("; ")),
            ));
        }
        let user = end_users::require(tx, app_id, &post.external_user_id)?;
        let chosen: Vec<&posts::Delivery> = considered.into_iter().filter(|d| why_not_retried(d, request).is_none()).collect();
        let mut connections = Vec::new();
        for delivery in &chosen {
            connections.push(usable_connection(tx, app_id, &user.id, &post.external_user_id, delivery.platform, now)?);
        }
        let held = credits::net_charge_of_post(tx, post_id)?;
        if post.credit_cost > held {
            credits::charge_noted(tx, &post.org_id, app_id, post_id, post.credit_cost - held, "retry of a failed post", now)?;
        }
        for (delivery, connection_id) in chosen.iter().zip(connections) {
            let changed = tx.execute(
                "UPDATE post_deliveries SET status = 'pending', connection_id = ?2, external_id = NULL, external_url = NULL,
                     error_code = NULL, error_message = NULL, next_attempt_at = ?3, lease_expires_at = NULL, lease_instance_id = NULL, resume_state = NULL,
                     reconcile_since = NULL, reconcile_reads = 0,
                     attempts_at_retry = attempt_count, updated_at = ?3
                 WHERE id = ?1 AND status = 'failed'",
                params![delivery.id, connection_id, ts(now)],
            )?;
            if changed != 1 {
                return Err(Error::internal(format!("delivery {} was not failed any more", delivery.id)));
            }
        }
        // The post becomes final again later, with a new processedAt.
        tx.execute("UPDATE post_requests SET processed_at = NULL WHERE id = ?1", [post_id])?;
        posts::recompute_status(tx, post_id, now)?;
        Ok(chosen.iter().map(|d| d.id.clone()).collect())
    })
}

/// The classes in the README's table of retried codes, with whether a post whose deliveries all
/// failed is refunded when one of them has the code.
pub fn retry_table() -> String {
    let mut table = String::from("| code | retried | refunded |\n|---|---|---|\n");
    let rows: [(&[Code], &str); 3] = [
        (RETRIED, "yes"),
        (
            RETRIED_ON_REQUEST,
            "only with `\"includeOutcomeUnknown\": true`",
        ),
        (NEVER_RETRIED, "no"),
    ];
    for (codes, retried) in rows {
        for code in codes {
            let refunded = if MAY_HAVE_PUBLISHED.contains(code) {
                "no: the platform may have published it"
            } else {
                "yes"
            };
            table.push_str(&format!("| `{code}` | {retried} | {refunded} |\n"));
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code a delivery can record is placed in exactly one class on purpose, so a new
    /// delivery code cannot be retried (or refused) by accident.
    #[test]
    fn every_delivery_code_has_one_retry_class() {
        for code in Code::ALL {
            let lists = [RETRIED, RETRIED_ON_REQUEST, NEVER_RETRIED]
                .iter()
                .filter(|list| list.contains(code))
                .count();
            if code.entry().delivery.is_some() {
                assert_eq!(lists, 1, "{code} is in {lists} retry lists");
            } else {
                assert_eq!(lists, 0, "{code} is no delivery code");
            }
        }
        assert_eq!(
            retry_class(Some("OUTCOME_UNKNOWN")),
            RetryClass::OutcomeUnknown
        );
        assert_eq!(
            retry_class(Some("PLATFORM_UNAVAILABLE")),
            RetryClass::MayPassNow
        );
        assert_eq!(retry_class(Some("DUPLICATE_POST")), RetryClass::NeedsChange);
        assert_eq!(
            retry_class(Some("A_CODE_OF_AN_OLD_VERSION")),
            RetryClass::NeedsChange
        );
        assert_eq!(retry_class(None), RetryClass::NeedsChange);
    }

    /// Only delivery codes can mean a platform may have published, and the refund rule holds
    /// back exactly the codes of `MAY_HAVE_PUBLISHED` (and codes of a version it does not know).
    #[test]
    fn the_refund_rule_holds_back_only_what_may_have_been_published() {
        for code in MAY_HAVE_PUBLISHED {
            assert!(
                code.entry().delivery.is_some(),
                "{code} is no delivery code"
            );
            assert!(may_have_published(Some(code.entry().name)));
        }
        for code in [
            "PLATFORM_UNAVAILABLE_BEFORE_PUBLISHING",
            "RATE_LIMITED",
            "PLATFORM_UNREACHABLE",
            "DUPLICATE_POST",
            "NEEDS_RECONNECT",
        ] {
            assert!(!may_have_published(Some(code)), "{code}");
        }
        assert!(may_have_published(Some("A_CODE_OF_A_NEWER_VERSION")));
        assert!(!may_have_published(None));
    }

    /// README's table of retried codes is this module's lists (`UPDATE_README=1` rewrites it).
    #[test]
    fn readme_lists_the_retried_codes() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).expect("README.md");
        let (open, close) = ("<!-- retry:classes -->\n", "<!-- /retry:classes -->");
        let start = readme
            .find(open)
            .expect("README.md lacks the retry table's markers")
            + open.len();
        let end = start
            + readme[start..]
                .find(close)
                .expect("README.md lacks the closing marker");
        if readme[start..end] != retry_table() {
            if std::env::var_os("UPDATE_README").is_some() {
                let mut updated = readme.clone();
                updated.replace_range(start..end, &retry_table());
                std::fs::write(path, updated).expect("writing README.md");
            } else {
                panic!(
                    "README.md's table of retried codes differs from services::lifecycle; run `UPDATE_README=1 cargo test --lib readme` and review the diff"
                );
            }
        }
    }
}
