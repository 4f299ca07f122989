//! `Idempotency-Key` on POST requests: the first response is stored and replayed for the same
//! key and body within the retention window; the same key with another body is a conflict.

use super::ts;
use crate::db::Db;
use crate::error::{Error, Result};
use chrono::{DateTime, Duration, Utc};
use rusqlite::{OptionalExtension, params};

pub enum Reservation {
    /// First use: run the request, then `complete` it.
    Fresh,
    /// Seen before with the same body: replay this response.
    Replay { status: u16, body: String },
}

/// Reserves `key` for a request whose body hashes to `request_hash`.
pub fn reserve(
    db: &Db,
    app_id: &str,
    key: &str,
    request_hash: &str,
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<Reservation> {
    if key.is_empty() || key.len() > 255 || key.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(
            "INVALID_IDEMPOTENCY_KEY",
            "The Idempotency-Key header must be 1 to 255 printable characters.",
        ));
    }
    db.write(|tx| {
        let existing: Option<(String, Option<u16>, Option<String>, String)> = tx
            .query_row(
                "SELECT request_hash, status_code, response_body, created_at FROM idempotency_keys WHERE app_id = ?1 AND key = ?2",
                params![app_id, key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        match existing {
            Some((_, _, _, created)) if super::parse_ts(&created) + ttl <= now => {
                tx.execute("DELETE FROM idempotency_keys WHERE app_id = ?1 AND key = ?2", params![app_id, key])?;
            }
            Some((hash, _, _, _)) if hash != request_hash => {
                return Err(Error::conflict(
                    "IDEMPOTENCY_KEY_REUSED",
                    "This Idempotency-Key was already used with a different request body. Use a new key for a new request.",
                ));
            }
            Some((_, Some(status), Some(body), _)) => return Ok(Reservation::Replay { status, body }),
            Some(_) => {
                return Err(Error::conflict(
                    "IDEMPOTENCY_KEY_IN_PROGRESS",
                    "A request with this Idempotency-Key is still being processed. Retry in a moment to get its response.",
                ));
            }
            None => {}
        }
        tx.execute(
            "INSERT INTO idempotency_keys (app_id, key, request_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![app_id, key, request_hash, ts(now)],
        )?;
        Ok(Reservation::Fresh)
    })
}

/// Stores the successful response of a reserved request. An error response releases the key
/// instead, so a corrected retry (or one after credits were added) is not stuck on the old answer.
pub fn complete(db: &Db, app_id: &str, key: &str, status: u16, body: &str) -> Result<()> {
    db.write(|tx| {
        if status >= 400 {
            tx.execute("DELETE FROM idempotency_keys WHERE app_id = ?1 AND key = ?2", params![app_id, key])?;
        } else {
            tx.execute(
                "UPDATE idempotency_keys SET status_code = ?3, response_body = ?4 WHERE app_id = ?1 AND key = ?2",
                params![app_id, key, status, body],
            )?;
        }
        Ok(())
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
