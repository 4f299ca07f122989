//! `Idempotency-Key` on POST requests: the first response is stored and replayed for the same
//! key and body within the retention window; the same key with another body is a conflict.
//!
//! A key is reserved before its request runs, by the process incarnation (`InstanceId`) that
//! runs it. The rule that keeps a crash (SIGKILL at any line) from pinning a key or running a
//! request twice:
//! - a post created under a key is linked to it in the post's own transaction (`link_post`),
//!   and only while this request still holds the reservation;
//! - a reservation with a post but no stored response, held by no living request of this
//!   process, replays that post as it is now;
//! - at start-up, reservations of other incarnations that created nothing are released
//!   (`release_abandoned`): their request died with its process, so a retry runs afresh.

use super::ts;
use crate::db::Db;
use crate::error::{Code, Error, Result};
use crate::instance::InstanceId;
use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OptionalExtension, params};

/// A reservation held by a request running in this process.
#[derive(Debug, Clone)]
pub struct Claim {
    pub app_id: String,
    pub key: String,
    pub holder: InstanceId,
}

#[derive(Debug)]
pub enum Reservation {
    /// First use: run the request with this claim, then `complete` it.
    Fresh(Claim),
    /// Seen before with the same body: replay this response.
    Replay { status: u16, body: String },
    /// An earlier request created this post, but its answer was never stored (its process
    /// died, or the request failed after creating it): answer with the post as it is now.
    ReplayPost { post_id: String },
}

fn in_progress() -> Error {
    Error::new(
        Code::IdempotencyKeyInProgress,
        "A request with this Idempotency-Key is still being processed. Retry in a moment to get its response.",
    )
}

struct Stored {
    request_hash: String,
    status: Option<u16>,
    body: Option<String>,
    created_at: String,
    holder: Option<String>,
    post_id: Option<String>,
}

/// Reserves `key` for a request whose body hashes to `request_hash`, on behalf of `holder`
/// (this process).
pub fn reserve(
    db: &Db,
    app_id: &str,
    key: &str,
    request_hash: &str,
    holder: &InstanceId,
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<Reservation> {
    if key.is_empty() || key.len() > 255 || key.chars().any(|c| c.is_control()) {
        return Err(Error::new(
            Code::InvalidIdempotencyKey,
            "The Idempotency-Key header must be 1 to 255 printable characters.",
        ));
    }
    db.write(|tx| {
        let existing = tx
            .query_row(
                "SELECT request_hash, status_code, response_body, created_at, instance_id, post_id
                 FROM idempotency_keys WHERE app_id = ?1 AND key = ?2",
                params![app_id, key],
                |r| {
                    Ok(Stored {
                        request_hash: r.get(0)?,
                        status: r.get(1)?,
                        body: r.get(2)?,
                        created_at: r.get(3)?,
                        holder: r.get(4)?,
                        post_id: r.get(5)?,
                    })
                },
            )
            .optional()?;
        if let Some(stored) = existing {
            if super::parse_ts(&stored.created_at) + ttl <= now {
                tx.execute(
                    "DELETE FROM idempotency_keys WHERE app_id = ?1 AND key = ?2",
                    params![app_id, key],
                )?;
            } else if stored.request_hash != request_hash {
                return Err(Error::new(
                    Code::IdempotencyKeyReused,
                    "This Idempotency-Key was already used with a different request body. Use a new key for a new request.",
                ));
            } else if let (Some(status), Some(body)) = (stored.status, stored.body) {
                return Ok(Reservation::Replay { status, body });
            } else if let Some(post_id) = stored.post_id
                && stored.holder.as_deref() != Some(holder.as_str())
            {
                // Created by a request that is no longer running here: the post is the answer.
                return Ok(Reservation::ReplayPost { post_id });
            } else {
                // Held by a request of this process that is still running, by another process
                // serving the same file, or a reservation from before version 2 whose outcome
                // nobody knows (it expires with the retention window).
                return Err(in_progress());
            }
        }
        tx.execute(
            "INSERT INTO idempotency_keys (app_id, key, request_hash, created_at, instance_id)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![app_id, key, request_hash, ts(now), holder.as_str()],
        )?;
        Ok(Reservation::Fresh(Claim {
            app_id: app_id.to_string(),
            key: key.to_string(),
            holder: holder.clone(),
        }))
    })
}

/// Links the post created under `claim` to its key. Called inside the transaction that creates
/// the post, so a crash leaves either both or neither. Fails (rolling the post back) when the
/// reservation is no longer this request's: another request may be running the key now.
pub fn link_post(conn: &Connection, claim: &Claim, post_id: &str) -> Result<()> {
    let linked = conn.execute(
        "UPDATE idempotency_keys SET post_id = ?4
         WHERE app_id = ?1 AND key = ?2 AND instance_id = ?3 AND post_id IS NULL",
        params![claim.app_id, claim.key, claim.holder.as_str(), post_id],
    )?;
    if linked == 1 {
        Ok(())
    } else {
        Err(in_progress())
    }
}

/// Stores the successful response of a reserved request. An error response releases the key
/// instead, so a corrected retry (or one after credits were added) is not stuck on the old answer.
pub fn complete(db: &Db, claim: &Claim, status: u16, body: &str) -> Result<()> {
    if status >= 400 {
        return release(db, claim);
    }
    db.write(|tx| {
        tx.execute(
            "UPDATE idempotency_keys SET status_code = ?4, response_body = ?5
             WHERE app_id = ?1 AND key = ?2 AND instance_id = ?3",
            params![claim.app_id, claim.key, claim.holder.as_str(), status, body],
        )?;
        Ok(())
    })
}

/// Gives up a reservation without a response to store (an error answer, a panic). A key that
/// created nothing is freed for a fresh run; a key whose post exists loses its holder, so
/// retries replay that post rather than create a second one.
pub fn release(db: &Db, claim: &Claim) -> Result<()> {
    let args = params![claim.app_id, claim.key, claim.holder.as_str()];
    db.write(|tx| {
        tx.execute(
            "DELETE FROM idempotency_keys
             WHERE app_id = ?1 AND key = ?2 AND instance_id = ?3 AND post_id IS NULL",
            args,
        )?;
        tx.execute(
            "UPDATE idempotency_keys SET instance_id = NULL
             WHERE app_id = ?1 AND key = ?2 AND instance_id = ?3",
            args,
        )?;
        Ok(())
    })
}

/// Frees, at start-up, the reservations other incarnations took and created nothing under:
/// their requests died with their process. Reservations with a post stay (they replay it), and
/// so do rows from before version 2 (no holder recorded; see the migration). Should a second
/// process ever serve the same file, a request of the first whose reservation this frees cannot
/// create its post afterwards (`link_post` checks the holder), so nothing is posted twice.
pub fn release_abandoned(db: &Db, current: &InstanceId) -> Result<usize> {
    db.write(|tx| {
        Ok(tx.execute(
            "DELETE FROM idempotency_keys
             WHERE status_code IS NULL AND post_id IS NULL
               AND instance_id IS NOT NULL AND instance_id <> ?1",
            [current.as_str()],
        )?)
    })
}

pub fn prune(db: &Db, ttl: Duration, now: DateTime<Utc>) -> Result<usize> {
    db.write(|tx| {
        Ok(tx.execute(
            "DELETE FROM idempotency_keys WHERE created_at <= ?1",
            [ts(now - ttl)],
        )?)
    })
}
