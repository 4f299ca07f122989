//! The database as a whole: the checks of `mypostshare check` (SQLite's integrity and foreign
//! key checks, the references the schema does not enforce, sealed secrets that no longer open),
//! the re-sealing of every stored secret under a new master key, and the file-level steps of a
//! restore (open a file without creating it, copy it with `VACUUM INTO`, fold its WAL in).
//!
//! Functions here take a `Connection` rather than a `Db`: `check` and `restore` work on files
//! that no server has open (a backup, a staging copy), and must not migrate them on opening.

use super::audit;
use crate::crypto::Sealer;
use crate::error::{Error, Result};
use crate::providers::Platform;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, Transaction, params};
use serde::Serialize;
use std::path::Path;
use std::time::Duration;

/// How many example rows a finding names; the count says how many there are in all.
const SAMPLE: usize = 5;

/// Opens an existing database file (never creating one) with a busy timeout.
pub fn open_file(path: &Path, read_only: bool) -> Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags)?;
    // Short: whoever holds a lock this long is a process the caller has to be told about.
    conn.busy_timeout(Duration::from_secs(2))?;
    Ok(conn)
}

pub fn schema_version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// The problems `PRAGMA integrity_check` reports (at most 100); empty when it says `ok`. A
/// damaged page can also stop the check midway (`database disk image is malformed`): that is
/// one more problem, not a reason to lose the lines reported before it.
pub fn integrity_errors(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    let mut problems = Vec::new();
    for row in stmt.query_map([], |r| r.get::<_, String>(0))? {
        match row {
            Ok(line) if line == "ok" => {}
            Ok(line) => problems.push(line),
            Err(e) => {
                problems.push(format!("the check stopped: {e}"));
                break;
            }
        }
    }
    Ok(problems)
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ForeignKeyViolation {
    pub table: String,
    pub rowid: Option<i64>,
    /// The row's `id`, when its table has one.
    pub id: Option<String>,
    pub parent: String,
}

/// Rows whose declared foreign key points at nothing. The appliance enforces foreign keys on
/// every connection, so these come from a file edited by other means (a `sqlite3` shell, which
/// leaves them off by default) or from a corrupted page.
pub fn foreign_key_violations(conn: &Connection) -> Result<Vec<ForeignKeyViolation>> {
    let mut stmt = conn.prepare("PRAGMA foreign_key_check")?;
    let mut rows = stmt
        .query_map([], |r| {
            Ok(ForeignKeyViolation {
                table: r.get(0)?,
                rowid: r.get(1)?,
                id: None,
                parent: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for row in &mut rows {
        if let Some(rowid) = row.rowid {
            row.id = Some(row_name(conn, &row.table, rowid)?);
        }
    }
    Ok(rows)
}

/// A rule the schema cannot state as a foreign key, and the rows that break it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub check: &'static str,
    pub table: &'static str,
    pub problem: &'static str,
    pub count: usize,
    pub sample: Vec<String>,
}

/// (name, table, what is wrong with the rows found, query returning one identifying text per row).
/// Left out on purpose: `api_request_log.app_id` and `credit_ledger.app_id` of deleted apps
/// (history kept by design), `audit_log.target_id` (names rows of any table, and deleted ones).
const CONSISTENCY_CHECKS: &[(&str, &str, &str, &str)] = &[
    (
        "ledger_post_missing",
        "credit_ledger",
        "ledger rows name a post that does not exist, although its app does (deleting an app removes its posts and keeps their ledger rows; nothing else deletes a post)",
        "SELECT l.id FROM credit_ledger l
         WHERE l.post_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM post_requests p WHERE p.id = l.post_id)
           AND EXISTS (SELECT 1 FROM apps a WHERE a.id = l.app_id)",
    ),
    (
        "ledger_app_of_other_org",
        "credit_ledger",
        "ledger rows name an app of another organization",
        "SELECT l.id FROM credit_ledger l JOIN apps a ON a.id = l.app_id WHERE a.org_id <> l.org_id",
    ),
    (
        "balance_differs_from_ledger",
        "organizations",
        "the credit balance is not the sum of the organization's ledger (every change of a balance writes a ledger row)",
        "SELECT o.id FROM organizations o
         WHERE o.credit_balance <> COALESCE((SELECT SUM(l.amount) FROM credit_ledger l WHERE l.org_id = o.id), 0)",
    ),
    (
        "connection_of_other_app",
        "social_connections",
        "the connection's app is not its end user's app",
        "SELECT c.id FROM social_connections c JOIN end_users u ON u.id = c.end_user_id WHERE u.app_id <> c.app_id",
    ),
    (
        "session_of_other_app",
        "connect_sessions",
        "the connect session's app is not its end user's app",
        "SELECT s.id FROM connect_sessions s JOIN end_users u ON u.id = s.end_user_id WHERE u.app_id <> s.app_id",
    ),
    (
        "session_connection_mismatch",
        "connect_sessions",
        "the connect session's connection belongs to another end user or platform",
        "SELECT s.id FROM connect_sessions s JOIN social_connections c ON c.id = s.connection_id
         WHERE c.end_user_id <> s.end_user_id OR c.platform <> s.platform",
    ),
    (
        "post_of_other_app",
        "post_requests",
        "the post's app is not its end user's app",
        "SELECT p.id FROM post_requests p JOIN end_users u ON u.id = p.end_user_id WHERE u.app_id <> p.app_id",
    ),
    (
        "post_without_deliveries",
        "post_requests",
        "the post has no delivery (a post is stored with one delivery per platform, in one transaction)",
        "SELECT p.id FROM post_requests p WHERE NOT EXISTS (SELECT 1 FROM post_deliveries d WHERE d.post_id = p.id)",
    ),
    (
        "delivery_connection_mismatch",
        "post_deliveries",
        "the delivery's connection belongs to another end user than its post's, or to another platform",
        "SELECT d.id FROM post_deliveries d
         JOIN post_requests p ON p.id = d.post_id
         JOIN social_connections c ON c.id = d.connection_id
         WHERE c.end_user_id <> p.end_user_id OR c.platform <> d.platform",
    ),
    (
        "idempotency_post_of_other_app",
        "idempotency_keys",
        "the Idempotency-Key record names a post of another app",
        "SELECT k.app_id || ' ' || k.key FROM idempotency_keys k JOIN post_requests p ON p.id = k.post_id
         WHERE p.app_id <> k.app_id",
    ),
];

/// Tables with a `platform` column, whose value must be a platform this binary knows.
const PLATFORM_TABLES: &[&str] = &[
    "provider_credentials",
    "social_connections",
    "connect_sessions",
    "post_deliveries",
];

/// Every rule of `CONSISTENCY_CHECKS` and the platform names; only the rules some row breaks.
pub fn consistency_findings(conn: &Connection) -> Result<Vec<Finding>> {
    let mut findings = Vec::new();
    for (check, table, problem, sql) in CONSISTENCY_CHECKS {
        let ids = ids(conn, sql, [])?;
        if !ids.is_empty() {
            findings.push(finding(check, table, problem, ids));
        }
    }
    let known = serde_json::to_string(&Platform::ALL.map(|p| p.key()))?;
    for table in PLATFORM_TABLES {
        let sql = format!(
            "SELECT id FROM {table} WHERE platform NOT IN (SELECT value FROM json_each(?1))"
        );
        let ids = ids(conn, &sql, [&known])?;
        if !ids.is_empty() {
            findings.push(finding(
                "unknown_platform",
                table,
                "the platform is not one this binary knows",
                ids,
            ));
        }
    }
    Ok(findings)
}

fn ids(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(sql)?;
    let ids = stmt
        .query_map(params, |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(ids)
}

fn finding(
    check: &'static str,
    table: &'static str,
    problem: &'static str,
    ids: Vec<String>,
) -> Finding {
    Finding {
        check,
        table,
        problem,
        count: ids.len(),
        sample: ids.into_iter().take(SAMPLE).collect(),
    }
}

/// A column holding values sealed with the master key (`crypto::Sealer`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SealedColumn {
    pub table: String,
    pub column: String,
}

/// Every sealed column of the schema, found by the schema's naming rule (a BLOB column named
/// `*_enc`), so that a table added later is re-sealed and checked without a list to update.
pub fn sealed_columns(conn: &Connection) -> Result<Vec<SealedColumn>> {
    let mut stmt = conn.prepare(
        "SELECT m.name, c.name FROM sqlite_schema m, pragma_table_info(m.name) c
         WHERE m.type = 'table' AND c.name LIKE '%\\_enc' ESCAPE '\\'
         ORDER BY m.name, c.cid",
    )?;
    let columns = stmt
        .query_map([], |r| {
            Ok(SealedColumn {
                table: r.get(0)?,
                column: r.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(columns)
}

/// The sealed values of one column that a key does not open.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SealedColumnReport {
    pub table: String,
    pub column: String,
    /// Non-NULL values in the column.
    pub sealed: usize,
    /// Of those, the ones the key did not open (another key's, or damaged).
    pub unreadable: usize,
    /// Row ids of unreadable values (at most a few).
    pub sample: Vec<String>,
}

/// Tries every sealed value with `sealer`; one entry per sealed column.
pub fn sealed_values_report(conn: &Connection, sealer: &Sealer) -> Result<Vec<SealedColumnReport>> {
    let mut reports = Vec::new();
    for column in sealed_columns(conn)? {
        let mut report = SealedColumnReport {
            table: column.table.clone(),
            column: column.column.clone(),
            sealed: 0,
            unreadable: 0,
            sample: Vec::new(),
        };
        for (rowid, sealed) in sealed_values(conn, &column)? {
            report.sealed += 1;
            if sealer.open(&sealed).is_none() {
                report.unreadable += 1;
                if report.sample.len() < SAMPLE {
                    report.sample.push(row_name(conn, &column.table, rowid)?);
                }
            }
        }
        reports.push(report);
    }
    Ok(reports)
}

/// How many sealed values the database holds, over every sealed column.
pub fn sealed_value_count(conn: &Connection) -> Result<usize> {
    let mut count = 0;
    for column in sealed_columns(conn)? {
        let sql = format!(
            "SELECT COUNT(*) FROM \"{}\" WHERE \"{}\" IS NOT NULL",
            column.table, column.column
        );
        count += conn.query_row(&sql, [], |r| r.get::<_, i64>(0))? as usize;
    }
    Ok(count)
}

fn sealed_values(conn: &Connection, column: &SealedColumn) -> Result<Vec<(i64, Vec<u8>)>> {
    // Names come from the schema itself (`sealed_columns`), quoted as identifiers.
    let sql = format!(
        "SELECT rowid, \"{}\" FROM \"{}\" WHERE \"{}\" IS NOT NULL",
        column.column, column.table, column.column
    );
    let mut stmt = conn.prepare(&sql)?;
    let values = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(values)
}

/// The row's `id` where the table has one (every table with secrets does), else its rowid.
fn row_name(conn: &Connection, table: &str, rowid: i64) -> Result<String> {
    let sql = format!("SELECT CAST(id AS TEXT) FROM \"{table}\" WHERE rowid = ?1");
    Ok(conn
        .query_row(&sql, [rowid], |r| r.get::<_, String>(0))
        .unwrap_or_else(|_| format!("rowid {rowid}")))
}

/// How many values of one column a rotation re-sealed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resealed {
    pub table: String,
    pub column: String,
    pub count: usize,
}

/// Re-seals every sealed value under `new` inside the caller's transaction, and audits it.
/// Refuses, changing nothing, when any value does not open with `old`: re-sealing the rest would
/// leave those for ever unreadable under both keys, with nobody told.
pub fn reseal_all(
    tx: &Transaction,
    old: &Sealer,
    new: &Sealer,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Vec<Resealed>> {
    let unreadable: Vec<String> = sealed_values_report(tx, old)?
        .into_iter()
        .filter(|r| r.unreadable > 0)
        .map(|r| format!("{}.{}: {} of {}", r.table, r.column, r.unreadable, r.sealed))
        .collect();
    if !unreadable.is_empty() {
        return Err(Error::validation(format!(
            "some sealed values do not open with the current key ({}); nothing was changed. Start with the key they were sealed with, or see `mypostshare check`.",
            unreadable.join(", ")
        )));
    }
    let mut done = Vec::new();
    for column in sealed_columns(tx)? {
        let values = sealed_values(tx, &column)?;
        let sql = format!(
            "UPDATE \"{}\" SET \"{}\" = ?2 WHERE rowid = ?1",
            column.table, column.column
        );
        let mut update = tx.prepare(&sql)?;
        for (rowid, sealed) in &values {
            let plain = old
                .open(sealed)
                .ok_or_else(|| Error::internal("a sealed value stopped opening mid-rotation"))?;
            update.execute(params![rowid, new.seal(&plain)])?;
        }
        done.push(Resealed {
            table: column.table,
            column: column.column,
            count: values.len(),
        });
    }
    audit::record(
        tx,
        actor,
        "instance.rotate_secret_key",
        "instance",
        None,
        Some(&serde_json::to_value(&done)?),
        now,
    )?;
    Ok(done)
}

/// A consistent copy of the database behind `conn` in a new file.
pub fn vacuum_into(conn: &Connection, target: &Path) -> Result<()> {
    conn.execute("VACUUM INTO ?1", [target.to_string_lossy()])?;
    Ok(())
}

/// Folds the WAL into the main file and leaves the file in rollback-journal mode, so that it is
/// one self-contained file that can be renamed. SQLite refuses the switch while any other
/// connection (of any process: a server, Litestream, a `sqlite3` shell) has the file open, even
/// an idle one, so `false` (the file is in use) is also the proof asked for before a restore.
pub fn make_self_contained(conn: &Connection) -> Result<bool> {
    match conn.query_row("PRAGMA journal_mode = DELETE", [], |r| {
        r.get::<_, String>(0)
    }) {
        Ok(mode) => Ok(mode.eq_ignore_ascii_case("delete")),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// Opens an existing database to read it only, safe beside a running server. Read-write with
/// `query_only` rather than a read-only connection: after a crash only a writable connection
/// may replay the WAL into a fresh shared-memory index, and a read-only one would fail there.
pub fn open_for_reading(path: &Path) -> Result<Connection> {
    let conn = open_file(path, false)?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::MasterKey;
    use crate::db::Db;

    fn fresh_db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("m.db"), 2).unwrap();
        (dir, db)
    }

    #[test]
    fn the_schema_names_exactly_the_columns_the_code_seals() {
        let (_dir, db) = fresh_db();
        let found = db.read(sealed_columns).unwrap();
        let names: Vec<String> = found
            .iter()
            .map(|c| format!("{}.{}", c.table, c.column))
            .collect();
        // The values `Sealer::seal` is called for (grep `seal(`): if a secret is ever stored in
        // a column without the `_enc` suffix, rotation and check would miss it.
        assert_eq!(
            names,
            [
                "connect_sessions.pkce_verifier_enc",
                "provider_credentials.client_secret_enc",
                "social_connections.access_token_enc",
                "social_connections.refresh_token_enc",
                "social_connections.platform_data_enc",
                "webhook_endpoints.secret_enc",
                "webhook_endpoints.previous_secret_enc",
            ]
        );
        let blobs: Vec<String> = db
            .read(|c| {
                ids(
                    c,
                    "SELECT m.name || '.' || p.name FROM sqlite_schema m, pragma_table_info(m.name) p
                     WHERE m.type = 'table' AND upper(p.type) = 'BLOB'",
                    [],
                )
            })
            .unwrap();
        assert_eq!(
            blobs.len(),
            names.len(),
            "every BLOB column is sealed: {blobs:?}"
        );
    }

    #[test]
    fn resealing_refuses_when_a_value_does_not_open_and_changes_nothing() {
        let (_dir, db) = fresh_db();
        let old = Sealer::new(&MasterKey::from_material("old key material, long enough.."));
        let other = Sealer::new(&MasterKey::from_material("another key, also long enough.."));
        let new = Sealer::new(&MasterKey::from_material("new key material, long enough.."));
        let at = "2026-03-21T08:00:00.000Z";
        db.write(|tx| {
            tx.execute_batch(&format!(
                "INSERT INTO organizations (id, name, created_at, updated_at) VALUES ('o', 'O', '{at}', '{at}');
                 INSERT INTO apps (id, org_id, name, created_at, updated_at) VALUES ('a', 'o', 'A', '{at}', '{at}');"
            ))?;
            for (id, platform, sealer) in [("c1", "linkedin", &old), ("c2", "twitter", &other)] {
                tx.execute(
                    "INSERT INTO provider_credentials (id, app_id, platform, client_id, client_secret_enc, created_at, updated_at)
                     VALUES (?1, 'a', ?2, 'client', ?3, ?4, ?4)",
                    params![id, platform, sealer.seal("secret"), at],
                )?;
            }
            Ok(())
        })
        .unwrap();
        let now = crate::clock::parse_timestamp(at).unwrap();
        let refused = db
            .write(|tx| reseal_all(tx, &old, &new, "test", now))
            .unwrap_err();
        assert!(
            refused
                .message
                .contains("provider_credentials.client_secret_enc: 1 of 2"),
            "{}",
            refused.message
        );
        let report = db.read(|c| sealed_values_report(c, &old)).unwrap();
        let credentials = report
            .iter()
            .find(|r| r.table == "provider_credentials")
            .unwrap();
        assert_eq!((credentials.sealed, credentials.unreadable), (2, 1));
        assert_eq!(credentials.sample, ["c2"]);
    }
}
