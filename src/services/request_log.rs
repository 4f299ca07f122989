//! The API request log: one row per `/v1` request (method, path, status, duration, key prefix,
//! client address, request id), for operators tracing a customer's integration. Never bodies
//! or headers. (`api` leaves out most 429s: see `api::handle`.)

use crate::db::Db;
use crate::error::Result;
use chrono::{DateTime, Utc};
use rusqlite::params;

pub struct LoggedRequest<'a> {
    pub app_id: Option<&'a str>,
    pub key_prefix: Option<&'a str>,
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub duration_ms: i64,
    pub request_id: &'a str,
    /// The client's address (`client_ip`), when the request came over a socket.
    pub client_ip: Option<&'a str>,
}

pub fn record(db: &Db, entry: &LoggedRequest, now: DateTime<Utc>) -> Result<()> {
    db.write(|tx| {
        tx.execute(
            "INSERT INTO api_request_log (app_id, key_prefix, method, path, status, duration_ms, request_id, created_at, client_ip)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                entry.app_id,
                entry.key_prefix,
                entry.method,
                entry.path,
                entry.status,
                entry.duration_ms,
                entry.request_id,
                super::ts(now),
                entry.client_ip
            ],
        )?;
        Ok(())
    })
}

pub fn count_for_app(db: &Db, app_id: &str) -> Result<i64> {
    db.read(|conn| {
        Ok(conn.query_row(
            "SELECT COUNT(*) FROM api_request_log WHERE app_id = ?1",
            [app_id],
            |r| r.get(0),
        )?)
    })
}

/// Forgets request-log rows older than `keep`; returns how many.
pub fn prune(db: &Db, keep: chrono::Duration, now: DateTime<Utc>) -> Result<usize> {
    db.write(|tx| {
        Ok(tx.execute(
            "DELETE FROM api_request_log WHERE created_at < ?1",
            [super::ts(now - keep)],
        )?)
    })
}
