//! The audit log: who changed what, written in the same transaction as the change.

use crate::error::Result;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};

pub fn record(
    conn: &Connection,
    actor: &str,
    action: &str,
    target_type: &str,
    target_id: Option<&str>,
    details: Option<&serde_json::Value>,
    now: DateTime<Utc>,
) -> Result<()> {
    conn.execute(
        "INSERT INTO audit_log (actor, action, target_type, target_id, details, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            actor,
            action,
            target_type,
            target_id,
            details.map(|d| d.to_string()),
            super::ts(now)
        ],
    )?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub actor: String,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub details: Option<String>,
    pub created_at: String,
}
