//! Read-only aggregates and paginated lists for the operator dashboard: balances, credit use
//! per day, post counts, connections needing attention, failures, usage, and instance-wide
//! lists of posts, end users, ledger entries and logs. Operators are instance-wide admins, so
//! these reads span every organization; the API never calls them.

use super::credits::LedgerEntry;
use super::status::PostStatus;
use super::ts;
use crate::error::Result;
use crate::providers::Platform;
use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, params, params_from_iter, types::Value as SqlValue};

#[derive(Debug, Clone)]
pub struct OrgSummary {
    pub id: String,
    pub name: String,
    pub credit_balance: i64,
    pub app_count: i64,
}

pub fn organizations(conn: &Connection) -> Result<Vec<OrgSummary>> {
    let mut stmt = conn.prepare(
        "SELECT o.id, o.name, o.credit_balance, (SELECT COUNT(*) FROM apps a WHERE a.org_id = o.id)
         FROM organizations o ORDER BY o.name COLLATE NOCASE, o.id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(OrgSummary {
            id: r.get(0)?,
            name: r.get(1)?,
            credit_balance: r.get(2)?,
            app_count: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[derive(Debug, Clone)]
pub struct AppSummary {
    pub id: String,
    pub name: String,
    pub org_id: String,
    pub org_name: String,
}

/// Every app (of one organization, or all), by organization then name.
pub fn apps(conn: &Connection, org_id: Option<&str>) -> Result<Vec<AppSummary>> {
    let mut stmt = conn.prepare(
        "SELECT a.id, a.name, o.id, o.name FROM apps a JOIN organizations o ON o.id = a.org_id
         WHERE ?1 IS NULL OR a.org_id = ?1 ORDER BY o.name COLLATE NOCASE, a.name COLLATE NOCASE",
    )?;
    let rows = stmt.query_map([org_id], |r| {
        Ok(AppSummary {
            id: r.get(0)?,
            name: r.get(1)?,
            org_id: r.get(2)?,
            org_name: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[derive(Debug, Clone)]
pub struct CreditDay {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    /// Charges minus refunds.
    pub used: i64,
    pub granted: i64,
}

/// One entry per day for the last `days` days (oldest first, today last), zeros included.
pub fn credit_days(
    conn: &Connection,
    org_id: Option<&str>,
    days: i64,
    now: DateTime<Utc>,
) -> Result<Vec<CreditDay>> {
    let first = (now - Duration::days(days - 1)).date_naive();
    let since = ts(first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    let mut stmt = conn.prepare(
        "SELECT substr(created_at, 1, 10) AS day,
                COALESCE(SUM(CASE WHEN kind = 'charge' THEN -amount WHEN kind = 'refund' THEN -amount ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN kind = 'grant' THEN amount ELSE 0 END), 0)
         FROM credit_ledger WHERE created_at >= ?1 AND (?2 IS NULL OR org_id = ?2) GROUP BY day",
    )?;
    let found: Vec<(String, i64, i64)> = stmt
        .query_map(params![since, org_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok((0..days)
        .map(|i| {
            let date = (first + Duration::days(i)).format("%Y-%m-%d").to_string();
            let (used, granted) = found
                .iter()
                .find(|(d, _, _)| *d == date)
                .map(|(_, u, g)| (*u, *g))
                .unwrap_or_default();
            CreditDay {
                date,
                used,
                granted,
            }
        })
        .collect())
}

pub fn posts_by_status(conn: &Connection) -> Result<Vec<(PostStatus, i64)>> {
    let mut stmt =
        conn.prepare("SELECT status, COUNT(*) FROM post_requests GROUP BY status ORDER BY status")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[derive(Debug, Clone)]
pub struct ConnectionAlert {
    pub app_name: String,
    pub end_user_id: String,
    pub external_user_id: String,
    pub platform: String,
    pub last_error: Option<String>,
    pub updated_at: String,
}

pub fn connections_needing_reconnect(
    conn: &Connection,
    limit: i64,
) -> Result<Vec<ConnectionAlert>> {
    let mut stmt = conn.prepare(
        "SELECT a.name, u.id, u.external_user_id, c.platform, c.last_error_message, c.updated_at
         FROM social_connections c JOIN end_users u ON u.id = c.end_user_id JOIN apps a ON a.id = c.app_id
         WHERE c.status != 'disconnected' AND (c.needs_reconnect = 1 OR c.status = 'error')
         ORDER BY c.updated_at DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], |r| {
        Ok(ConnectionAlert {
            app_name: r.get(0)?,
            end_user_id: r.get(1)?,
            external_user_id: r.get(2)?,
            platform: r.get(3)?,
            last_error: r.get(4)?,
            updated_at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[derive(Debug, Clone)]
pub struct Failure {
    pub post_id: String,
    pub app_name: String,
    pub platform: String,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub updated_at: String,
}

pub fn recent_failures(conn: &Connection, limit: i64) -> Result<Vec<Failure>> {
    let mut stmt = conn.prepare(
        "SELECT d.post_id, a.name, d.platform, d.error_code, d.error_message, d.updated_at
         FROM post_deliveries d JOIN post_requests p ON p.id = d.post_id JOIN apps a ON a.id = p.app_id
         WHERE d.status = 'failed' ORDER BY d.updated_at DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], |r| {
        Ok(Failure {
            post_id: r.get(0)?,
            app_name: r.get(1)?,
            platform: r.get(2)?,
            error_code: r.get(3)?,
            error_message: r.get(4)?,
            updated_at: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// API requests and posts of one app.
pub fn app_usage(conn: &Connection, app_id: &str) -> Result<(i64, i64)> {
    Ok(conn.query_row(
        "SELECT (SELECT COUNT(*) FROM api_request_log WHERE app_id = ?1),
                (SELECT COUNT(*) FROM post_requests WHERE app_id = ?1)",
        [app_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

/// A page of rows and whether another follows.
pub struct Page<T> {
    pub rows: Vec<T>,
    pub more: bool,
}

fn page_of<T>(
    conn: &Connection,
    sql: &str,
    args: Vec<SqlValue>,
    offset: i64,
    limit: i64,
    map: impl FnMut(&rusqlite::Row) -> rusqlite::Result<T>,
) -> Result<Page<T>> {
    let mut args = args;
    args.push((limit + 1).into());
    args.push(offset.into());
    let mut stmt = conn.prepare(&format!("{sql} LIMIT ? OFFSET ?"))?;
    let mut rows: Vec<T> = stmt
        .query_map(params_from_iter(args), map)?
        .collect::<rusqlite::Result<_>>()?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    Ok(Page { rows, more })
}

#[derive(Debug, Clone, Default)]
pub struct PostQuery {
    pub app_id: Option<String>,
    pub status: Option<PostStatus>,
    pub platform: Option<Platform>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct PostRow {
    pub id: String,
    pub app_name: String,
    pub external_user_id: String,
    pub status: PostStatus,
    pub platforms: String,
    pub credit_cost: i64,
    pub content: String,
    pub created_at: String,
}

pub fn posts(conn: &Connection, q: &PostQuery, offset: i64, limit: i64) -> Result<Page<PostRow>> {
    let mut sql = String::from(
        "SELECT p.id, a.name, u.external_user_id, p.status,
                (SELECT group_concat(platform, ', ') FROM post_deliveries d WHERE d.post_id = p.id),
                p.credit_cost, substr(p.content, 1, 120), p.created_at
         FROM post_requests p JOIN apps a ON a.id = p.app_id JOIN end_users u ON u.id = p.end_user_id WHERE 1 = 1",
    );
    let mut args: Vec<SqlValue> = Vec::new();
    if let Some(app) = &q.app_id {
        sql.push_str(" AND p.app_id = ?");
        args.push(app.clone().into());
    }
    if let Some(status) = &q.status {
        sql.push_str(" AND p.status = ?");
        args.push(status.as_str().to_string().into());
    }
    if let Some(platform) = q.platform {
        sql.push_str(
            " AND EXISTS (SELECT 1 FROM post_deliveries d WHERE d.post_id = p.id AND d.platform = ?)",
        );
        args.push(platform.key().to_string().into());
    }
    if let Some(from) = q.created_from {
        sql.push_str(" AND p.created_at >= ?");
        args.push(ts(from).into());
    }
    if let Some(before) = q.created_before {
        sql.push_str(" AND p.created_at < ?");
        args.push(ts(before).into());
    }
    sql.push_str(" ORDER BY p.created_at DESC, p.id DESC");
    page_of(conn, &sql, args, offset, limit, |r| {
        Ok(PostRow {
            id: r.get(0)?,
            app_name: r.get(1)?,
            external_user_id: r.get(2)?,
            status: r.get(3)?,
            platforms: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
            credit_cost: r.get(5)?,
            content: r.get(6)?,
            created_at: r.get(7)?,
        })
    })
}

/// The ledger rows that belong to one post (its charge, and a refund if it failed).
pub fn post_ledger(conn: &Connection, post_id: &str) -> Result<Vec<LedgerEntry>> {
    let mut stmt = conn.prepare(
        "SELECT id, kind, amount, balance_after, post_id, note, created_at FROM credit_ledger
         WHERE post_id = ?1 ORDER BY created_at, rowid",
    )?;
    let rows = stmt.query_map([post_id], ledger_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn ledger_row(r: &rusqlite::Row) -> rusqlite::Result<LedgerEntry> {
    Ok(LedgerEntry {
        id: r.get(0)?,
        kind: r.get(1)?,
        amount: r.get(2)?,
        balance_after: r.get(3)?,
        post_id: r.get(4)?,
        note: r.get(5)?,
        created_at: r.get(6)?,
    })
}

pub fn ledger(
    conn: &Connection,
    org_id: &str,
    offset: i64,
    limit: i64,
) -> Result<Page<LedgerEntry>> {
    page_of(
        conn,
        "SELECT id, kind, amount, balance_after, post_id, note, created_at FROM credit_ledger
         WHERE org_id = ? ORDER BY created_at DESC, rowid DESC",
        vec![org_id.to_string().into()],
        offset,
        limit,
        ledger_row,
    )
}

#[derive(Debug, Clone)]
pub struct EndUserRow {
    pub id: String,
    pub app_name: String,
    pub external_user_id: String,
    pub display_name: Option<String>,
    pub connections: i64,
    pub updated_at: String,
}

/// End users whose externalUserId contains `query` (all when empty), newest first.
pub fn end_users(
    conn: &Connection,
    app_id: Option<&str>,
    query: &str,
    offset: i64,
    limit: i64,
) -> Result<Page<EndUserRow>> {
    let pattern = format!(
        "%{}%",
        query
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    page_of(
        conn,
        "SELECT u.id, a.name, u.external_user_id, u.display_name,
                (SELECT COUNT(*) FROM social_connections c WHERE c.end_user_id = u.id AND c.status != 'disconnected'),
                u.updated_at
         FROM end_users u JOIN apps a ON a.id = u.app_id
         WHERE (? IS NULL OR u.app_id = ?) AND u.external_user_id LIKE ? ESCAPE '\\'
         ORDER BY u.updated_at DESC, u.id",
        vec![
            app_id.map(str::to_string).into(),
            app_id.map(str::to_string).into(),
            pattern.into(),
        ],
        offset,
        limit,
        |r| {
            Ok(EndUserRow {
                id: r.get(0)?,
                app_name: r.get(1)?,
                external_user_id: r.get(2)?,
                display_name: r.get(3)?,
                connections: r.get(4)?,
                updated_at: r.get(5)?,
            })
        },
    )
}

#[derive(Debug, Clone, Default)]
pub struct RequestQuery {
    pub app_id: Option<String>,
    /// `2xx`, `4xx` or `5xx`, or an exact code.
    pub status: Option<String>,
    pub path_contains: Option<String>,
    /// The client's address, exactly.
    pub client_ip: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RequestRow {
    pub method: String,
    pub path: String,
    pub status: i64,
    pub duration_ms: i64,
    pub key_prefix: Option<String>,
    pub client_ip: Option<String>,
    pub request_id: String,
    pub created_at: String,
}

pub fn requests(
    conn: &Connection,
    q: &RequestQuery,
    offset: i64,
    limit: i64,
) -> Result<Page<RequestRow>> {
    let mut sql = String::from(
        "SELECT method, path, status, duration_ms, key_prefix, request_id, created_at, client_ip FROM api_request_log WHERE 1 = 1",
    );
    let mut args: Vec<SqlValue> = Vec::new();
    if let Some(app) = &q.app_id {
        sql.push_str(" AND app_id = ?");
        args.push(app.clone().into());
    }
    match q.status.as_deref() {
        Some(class @ ("2xx" | "3xx" | "4xx" | "5xx")) => {
            let low = i64::from(class.as_bytes()[0] - b'0') * 100;
            sql.push_str(" AND status >= ? AND status < ?");
            args.extend([low.into(), (low + 100).into()]);
        }
        Some(code) if code.parse::<i64>().is_ok() => {
            sql.push_str(" AND status = ?");
            args.push(code.parse::<i64>().unwrap_or_default().into());
        }
        _ => {}
    }
    if let Some(path) = &q.path_contains {
        sql.push_str(" AND instr(path, ?) > 0");
        args.push(path.clone().into());
    }
    if let Some(ip) = &q.client_ip {
        sql.push_str(" AND client_ip = ?");
        args.push(ip.clone().into());
    }
    sql.push_str(" ORDER BY id DESC");
    page_of(conn, &sql, args, offset, limit, |r| {
        Ok(RequestRow {
            method: r.get(0)?,
            path: r.get(1)?,
            status: r.get(2)?,
            duration_ms: r.get(3)?,
            key_prefix: r.get(4)?,
            request_id: r.get(5)?,
            created_at: r.get(6)?,
            client_ip: r.get(7)?,
        })
    })
}

#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
}

pub fn audit(
    conn: &Connection,
    q: &AuditQuery,
    offset: i64,
    limit: i64,
) -> Result<Page<super::audit::AuditEntry>> {
    let mut sql = String::from(
        "SELECT actor, action, target_type, target_id, details, created_at FROM audit_log WHERE 1 = 1",
    );
    let mut args: Vec<SqlValue> = Vec::new();
    if let Some(actor) = &q.actor {
        sql.push_str(" AND instr(lower(actor), lower(?)) > 0");
        args.push(actor.clone().into());
    }
    if let Some(action) = &q.action {
        sql.push_str(" AND instr(action, ?) > 0");
        args.push(action.clone().into());
    }
    sql.push_str(" ORDER BY id DESC");
    page_of(conn, &sql, args, offset, limit, |r| {
        Ok(super::audit::AuditEntry {
            actor: r.get(0)?,
            action: r.get(1)?,
            target_type: r.get(2)?,
            target_id: r.get(3)?,
            details: r.get(4)?,
            created_at: r.get(5)?,
        })
    })
}
