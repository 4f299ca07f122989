//! Connect sessions: one hosted OAuth attempt for one end user and platform.
//!
//! ```text
//! pending --(Continue)--> redirected --(callback ok)--> connected
//!    |                       |   \--(denied, exchange failed)--> failed
//!    \------(15 min)---------+--> expired
//! ```
//! The OAuth `state` is stored only as a hash, and is consumed by the first callback that
//! presents it, so a replayed callback can never complete a session a second time.

pub use super::status::{ConnectSessionStatus, CredentialSource};

use super::ts;
use crate::crypto::new_id;
use crate::db::Db;
use crate::error::{Code, Error, Result};
use crate::providers::Platform;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct ConnectSession {
    pub id: String,
    pub app_id: String,
    pub end_user_id: String,
    pub external_user_id: String,
    pub platform: Platform,
    pub redirect_uri: String,
    pub status: ConnectSessionStatus,
    pub credential_source: CredentialSource,
    pub pkce_verifier_enc: Option<Vec<u8>>,
    pub state_consumed: bool,
    pub connection_id: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub completed_at: Option<String>,
    pub expires_at: String,
}

impl ConnectSession {
    /// A pending or redirected session past its expiry is expired, whether or not the
    /// cleanup job has written that down yet.
    pub fn effective_status(&self, now: DateTime<Utc>) -> ConnectSessionStatus {
        if self.is_open() && super::parse_ts(&self.expires_at) <= now {
            ConnectSessionStatus::Expired
        } else {
            self.status
        }
    }

    pub fn is_open(&self) -> bool {
        self.status.is_open()
    }
}

/// Why an open session past its expiry failed, as stored by `expire_due` and shown (by
/// `api::wire`) for one the cleanup job has not reached yet.
pub const EXPIRED_MESSAGE: &str = "The connect session expired before the account was connected.";

pub struct NewSession<'a> {
    pub app_id: &'a str,
    pub end_user_id: &'a str,
    pub platform: Platform,
    pub redirect_uri: &'a str,
    pub display_name: Option<&'a str>,
    pub email: Option<&'a str>,
    pub metadata: Option<&'a Value>,
    pub credential_source: CredentialSource,
    pub ttl: chrono::Duration,
}

const SELECT: &str = "SELECT s.id, s.app_id, s.end_user_id, u.external_user_id, s.platform, s.redirect_uri, s.status,
    s.credential_source, s.pkce_verifier_enc, s.state_consumed_at, s.connection_id, s.error_code, s.error_message,
    s.created_at, s.updated_at, s.completed_at, s.expires_at
    FROM connect_sessions s JOIN end_users u ON u.id = s.end_user_id";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<ConnectSession> {
    let platform: String = r.get(4)?;
    let consumed: Option<String> = r.get(9)?;
    Ok(ConnectSession {
        id: r.get(0)?,
        app_id: r.get(1)?,
        end_user_id: r.get(2)?,
        external_user_id: r.get(3)?,
        platform: Platform::from_key(&platform).unwrap_or(Platform::Linkedin),
        redirect_uri: r.get(5)?,
        status: r.get(6)?,
        credential_source: r.get(7)?,
        pkce_verifier_enc: r.get(8)?,
        state_consumed: consumed.is_some(),
        connection_id: r.get(10)?,
        error_code: r.get(11)?,
        error_message: r.get(12)?,
        created_at: r.get(13)?,
        updated_at: r.get(14)?,
        completed_at: r.get(15)?,
        expires_at: r.get(16)?,
    })
}

pub fn create(conn: &Connection, new: &NewSession, now: DateTime<Utc>) -> Result<String> {
    let id = new_id();
    conn.execute(
        "INSERT INTO connect_sessions (id, app_id, end_user_id, platform, redirect_uri, status, display_name, email,
             metadata, credential_source, created_at, updated_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7, ?8, ?9, ?10, ?10, ?11)",
        params![
            id,
            new.app_id,
            new.end_user_id,
            new.platform.key(),
            new.redirect_uri,
            new.display_name,
            new.email,
            new.metadata.map(|m| m.to_string()),
            new.credential_source,
            ts(now),
            ts(now + new.ttl)
        ],
    )?;
    Ok(id)
}

/// A session of the calling app; another app's session is indistinguishable from none.
pub fn get(conn: &Connection, app_id: &str, id: &str) -> Result<Option<ConnectSession>> {
    Ok(conn
        .query_row(
            &format!("{SELECT} WHERE s.id = ?1 AND s.app_id = ?2"),
            params![id, app_id],
            from_row,
        )
        .optional()?)
}

/// A session by its unguessable id alone, for the hosted pages the end user's browser opens.
pub fn get_public(conn: &Connection, id: &str) -> Result<Option<ConnectSession>> {
    Ok(conn
        .query_row(&format!("{SELECT} WHERE s.id = ?1"), [id], from_row)
        .optional()?)
}

/// Binds a fresh state (and PKCE verifier) to an open session and marks it redirected. A
/// second Continue replaces the first state, so only the newest authorize link can complete.
pub fn begin_redirect(
    db: &Db,
    id: &str,
    state_hash: &str,
    pkce_verifier_enc: Option<Vec<u8>>,
    now: DateTime<Utc>,
) -> Result<()> {
    db.write(|tx| {
        let changed = tx.execute(
            "UPDATE connect_sessions SET status = 'redirected', state_hash = ?2, state_consumed_at = NULL,
                 pkce_verifier_enc = ?3, updated_at = ?4
             WHERE id = ?1 AND status IN ('pending', 'redirected') AND expires_at > ?4",
            params![id, state_hash, pkce_verifier_enc, ts(now)],
        )?;
        if changed == 0 {
            return Err(Error::new(Code::SessionNotOpen, "This connect session is no longer open."));
        }
        Ok(())
    })
}

pub enum StateClaim {
    /// First use of a live state: the caller may complete the session.
    Claimed(Box<ConnectSession>),
    /// The state was already used once.
    Reused(Box<ConnectSession>),
    Unknown,
}

pub fn claim_state(db: &Db, state_hash: &str, now: DateTime<Utc>) -> Result<StateClaim> {
    db.write(|tx| {
        let Some(session) = tx
            .query_row(
                &format!("{SELECT} WHERE s.state_hash = ?1"),
                [state_hash],
                from_row,
            )
            .optional()?
        else {
            return Ok(StateClaim::Unknown);
        };
        if session.state_consumed || session.status != ConnectSessionStatus::Redirected {
            return Ok(StateClaim::Reused(Box::new(session)));
        }
        tx.execute(
            "UPDATE connect_sessions SET state_consumed_at = ?2, updated_at = ?2 WHERE id = ?1",
            params![session.id, ts(now)],
        )?;
        Ok(StateClaim::Claimed(Box::new(session)))
    })
}

/// The hosted page a connect session sends its end user to (`connectUrl`).
pub fn connect_url(public_url: &str, id: &str) -> String {
    format!("{}/connect/{id}", public_url.trim_end_matches('/'))
}

/// Completes the session with the connection just stored (a `connection.connected` event in
/// the same transaction).
pub fn mark_connected(
    conn: &Connection,
    id: &str,
    connection_id: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    conn.execute(
        "UPDATE connect_sessions SET status = 'connected', connection_id = ?2, pkce_verifier_enc = NULL,
             completed_at = ?3, updated_at = ?3, error_code = NULL, error_message = NULL WHERE id = ?1",
        params![id, connection_id, ts(now)],
    )?;
    super::webhooks::connection_event(
        conn,
        connection_id,
        super::webhooks::WebhookEventType::ConnectionConnected,
        None,
        now,
    )?;
    Ok(())
}

/// Ends an open session as `failed` or `expired` with a reason (a `connect_session.failed`
/// event, whose `connectUrl` is built on `public_url`).
pub fn finish_unsuccessfully(
    db: &Db,
    id: &str,
    status: ConnectSessionStatus,
    code: Code,
    message: &str,
    public_url: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    db.write(|tx| {
        let changed = tx.execute(
            "UPDATE connect_sessions SET status = ?2, error_code = ?3, error_message = ?4, pkce_verifier_enc = NULL,
                 completed_at = ?5, updated_at = ?5
             WHERE id = ?1 AND status IN ('pending', 'redirected')",
            params![id, status, code, message, ts(now)],
        )?;
        if changed > 0 {
            super::webhooks::connect_session_failed(tx, id, public_url, now)?;
        }
        Ok(())
    })
}

/// Writes down the expiry of every open session past its time, each a `connect_session.failed`
/// event; returns how many.
pub fn expire_due(db: &Db, public_url: &str, now: DateTime<Utc>) -> Result<usize> {
    db.write(|tx| {
        let mut stmt = tx.prepare(
            "SELECT id FROM connect_sessions WHERE status IN ('pending', 'redirected') AND expires_at <= ?1",
        )?;
        let due: Vec<String> = stmt
            .query_map([ts(now)], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for id in &due {
            tx.execute(
                "UPDATE connect_sessions SET status = 'expired', error_code = ?2, error_message = ?3,
                     pkce_verifier_enc = NULL, updated_at = ?1
                 WHERE id = ?4",
                params![ts(now), Code::SessionExpired, EXPIRED_MESSAGE, id],
            )?;
            super::webhooks::connect_session_failed(tx, id, public_url, now)?;
        }
        Ok(due.len())
    })
}
