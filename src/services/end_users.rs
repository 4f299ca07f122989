//! End users: the customer's own users, keyed by `(app, externalUserId)`.

use super::{Patch, ts};
use crate::crypto::new_id;
use crate::db::Db;
use crate::error::{Code, Error, Result};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct EndUser {
    pub id: String,
    pub app_id: String,
    pub external_user_id: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub metadata: Option<Value>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Default)]
pub struct EndUserInput {
    pub external_user_id: String,
    pub display_name: Patch<String>,
    pub email: Patch<String>,
    pub metadata: Patch<Value>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ConnectionSummary {
    pub total: i64,
    pub connected: i64,
    pub failed: i64,
}

const COLUMNS: &str =
    "id, app_id, external_user_id, display_name, email, metadata, created_at, updated_at";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<EndUser> {
    let metadata: Option<String> = r.get(5)?;
    Ok(EndUser {
        id: r.get(0)?,
        app_id: r.get(1)?,
        external_user_id: r.get(2)?,
        display_name: r.get(3)?,
        email: r.get(4)?,
        metadata: metadata.and_then(|m| serde_json::from_str(&m).ok()),
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
    })
}

pub fn find(conn: &Connection, app_id: &str, external_user_id: &str) -> Result<Option<EndUser>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM end_users WHERE app_id = ?1 AND external_user_id = ?2"),
            params![app_id, external_user_id],
            from_row,
        )
        .optional()?)
}

pub fn get_by_id(conn: &Connection, id: &str) -> Result<Option<EndUser>> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM end_users WHERE id = ?1"),
            [id],
            from_row,
        )
        .optional()?)
}

/// The end user, or a 404 that says how to create it.
pub fn require(conn: &Connection, app_id: &str, external_user_id: &str) -> Result<EndUser> {
    find(conn, app_id, external_user_id)?.ok_or_else(|| {
        Error::new(
            Code::EndUserNotFound,
            format!("End user {external_user_id:?} does not exist for this app. Create it first with POST /v1/end-users."),
        )
    })
}

fn patch_text(current: Option<String>, patch: Patch<String>) -> Option<String> {
    match patch {
        Patch::Keep => current,
        Patch::Clear => None,
        Patch::Set(v) => Some(v),
    }
}

/// Creates the end user, or updates the fields given while keeping its id.
pub fn upsert(db: &Db, app_id: &str, input: EndUserInput, now: DateTime<Utc>) -> Result<EndUser> {
    db.write(|tx| upsert_in(tx, app_id, input, now))
}

pub fn upsert_in(
    conn: &Connection,
    app_id: &str,
    input: EndUserInput,
    now: DateTime<Utc>,
) -> Result<EndUser> {
    let existing = find(conn, app_id, &input.external_user_id)?;
    let user = match existing {
        Some(current) => EndUser {
            display_name: patch_text(current.display_name, input.display_name),
            email: patch_text(current.email, input.email),
            metadata: match input.metadata {
                Patch::Keep => current.metadata,
                Patch::Clear => None,
                Patch::Set(v) => Some(v),
            },
            updated_at: ts(now),
            ..current
        },
        None => EndUser {
            id: new_id(),
            app_id: app_id.to_string(),
            external_user_id: input.external_user_id,
            display_name: input.display_name.into_option(),
            email: input.email.into_option(),
            metadata: input.metadata.into_option(),
            created_at: ts(now),
            updated_at: ts(now),
        },
    };
    conn.execute(
        "INSERT INTO end_users (id, app_id, external_user_id, display_name, email, metadata, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (app_id, external_user_id) DO UPDATE SET display_name = excluded.display_name,
             email = excluded.email, metadata = excluded.metadata, updated_at = excluded.updated_at",
        params![
            user.id,
            user.app_id,
            user.external_user_id,
            user.display_name,
            user.email,
            user.metadata.as_ref().map(|m| m.to_string()),
            user.created_at,
            user.updated_at
        ],
    )?;
    Ok(user)
}

pub fn connection_summary(conn: &Connection, end_user_id: &str) -> Result<ConnectionSummary> {
    Ok(conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(status = 'connected'), 0), COALESCE(SUM(status = 'error'), 0)
         FROM social_connections WHERE end_user_id = ?1",
        [end_user_id],
        |r| Ok(ConnectionSummary { total: r.get(0)?, connected: r.get(1)?, failed: r.get(2)? }),
    )?)
}

pub fn search(conn: &Connection, app_id: &str, query: &str, limit: i64) -> Result<Vec<EndUser>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM end_users WHERE app_id = ?1 AND external_user_id LIKE ?2 ESCAPE '\\'
         ORDER BY updated_at DESC LIMIT ?3"
    ))?;
    let pattern = format!(
        "%{}%",
        query
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let rows = stmt.query_map(params![app_id, pattern, limit], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
