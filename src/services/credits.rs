//! Credits: an organization's balance and the ledger that explains it. The balance changes only
//! together with a ledger row, inside the caller's transaction, and never goes below zero (the
//! `UPDATE ... WHERE credit_balance >= cost` and a CHECK constraint both hold the line).

use super::ts;
use crate::crypto::new_id;
use crate::db::Db;
use crate::error::{Code, Error, Result};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEntry {
    pub id: String,
    pub kind: String,
    pub amount: i64,
    pub balance_after: i64,
    pub post_id: Option<String>,
    pub note: Option<String>,
    pub created_at: String,
}

pub fn balance(conn: &Connection, org_id: &str) -> Result<i64> {
    conn.query_row(
        "SELECT credit_balance FROM organizations WHERE id = ?1",
        [org_id],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| Error::not_found(format!("Organization {org_id} does not exist.")))
}

/// One change of a balance, as the ledger records it.
struct LedgerChange<'a> {
    org_id: &'a str,
    app_id: Option<&'a str>,
    post_id: Option<&'a str>,
    kind: &'a str,
    amount: i64,
    note: &'a str,
}

/// Writes the ledger row of a change already applied to the balance.
fn add_entry(conn: &Connection, change: LedgerChange, now: DateTime<Utc>) -> Result<i64> {
    let balance_after = balance(conn, change.org_id)?;
    conn.execute(
        "INSERT INTO credit_ledger (id, org_id, app_id, post_id, kind, amount, balance_after, note, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            new_id(),
            change.org_id,
            change.app_id,
            change.post_id,
            change.kind,
            change.amount,
            balance_after,
            change.note,
            ts(now)
        ],
    )?;
    Ok(balance_after)
}

pub fn grant_in(
    conn: &Connection,
    org_id: &str,
    amount: i64,
    note: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    if amount <= 0 || amount > 1_000_000_000 {
        return Err(Error::validation(
            "A grant must be a positive number of credits (at most 1,000,000,000).",
        ));
    }
    let changed = conn.execute(
        "UPDATE organizations SET credit_balance = credit_balance + ?2, updated_at = ?3 WHERE id = ?1",
        params![org_id, amount, ts(now)],
    )?;
    if changed == 0 {
        return Err(Error::not_found(format!(
            "Organization {org_id} does not exist."
        )));
    }
    add_entry(
        conn,
        LedgerChange {
            org_id,
            app_id: None,
            post_id: None,
            kind: "grant",
            amount,
            note,
        },
        now,
    )
}

pub fn grant(
    db: &Db,
    actor: &str,
    org_id: &str,
    amount: i64,
    note: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    db.write(|tx| {
        let balance = grant_in(tx, org_id, amount, note, now)?;
        super::audit::record(
            tx,
            actor,
            "credits.grant",
            "organization",
            Some(org_id),
            Some(&serde_json::json!({"amount": amount, "balance": balance})),
            now,
        )?;
        Ok(balance)
    })
}

/// Takes `cost` credits for a post, or answers 402 naming the balance and the cost.
pub fn charge(
    conn: &Connection,
    org_id: &str,
    app_id: &str,
    post_id: &str,
    cost: i64,
    now: DateTime<Utc>,
) -> Result<i64> {
    charge_noted(conn, org_id, app_id, post_id, cost, "post request", now)
}

/// `charge` with the ledger row's note saying what the credits pay for (a retry).
pub fn charge_noted(
    conn: &Connection,
    org_id: &str,
    app_id: &str,
    post_id: &str,
    cost: i64,
    note: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    let changed = conn.execute(
        "UPDATE organizations SET credit_balance = credit_balance - ?2, updated_at = ?3
         WHERE id = ?1 AND credit_balance >= ?2",
        params![org_id, cost, ts(now)],
    )?;
    if changed == 0 {
        let balance = balance(conn, org_id)?;
        return Err(Error::new(
            Code::InsufficientCredits,
            format!(
                "This post costs {cost} credits but the organization's balance is {balance}. Add credits in the dashboard, then retry."
            ),
        ));
    }
    let balance_after = add_entry(
        conn,
        LedgerChange {
            org_id,
            app_id: Some(app_id),
            post_id: Some(post_id),
            kind: "charge",
            amount: -cost,
            note,
        },
        now,
    )?;
    // credits.low / credits.exhausted, written with the charge that crossed the line.
    super::webhooks::credits_charged(conn, org_id, balance_after + cost, balance_after, cost, now)?;
    Ok(balance_after)
}

/// Below this balance a charge sends `credits.low` (per organization; 100 unless changed).
pub fn low_threshold(conn: &Connection, org_id: &str) -> Result<i64> {
    conn.query_row(
        "SELECT credits_low_threshold FROM organizations WHERE id = ?1",
        [org_id],
        |r| r.get(0),
    )
    .optional()?
    .ok_or_else(|| Error::not_found(format!("Organization {org_id} does not exist.")))
}

/// Sets an organization's `credits.low` threshold (0 turns the event off).
pub fn set_low_threshold(
    db: &Db,
    actor: &str,
    org_id: &str,
    threshold: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    if !(0..=1_000_000_000).contains(&threshold) {
        return Err(Error::validation(
            "The low-credit threshold must be 0 (off) to 1,000,000,000 credits.",
        ));
    }
    db.write(|tx| {
        let changed = tx.execute(
            "UPDATE organizations SET credits_low_threshold = ?2, updated_at = ?3 WHERE id = ?1",
            params![org_id, threshold, ts(now)],
        )?;
        if changed == 0 {
            return Err(Error::not_found(format!(
                "Organization {org_id} does not exist."
            )));
        }
        super::audit::record(
            tx,
            actor,
            "credits.set_low_threshold",
            "organization",
            Some(org_id),
            Some(&serde_json::json!({"threshold": threshold})),
            now,
        )
    })
}

pub fn refund(
    conn: &Connection,
    org_id: &str,
    app_id: &str,
    post_id: &str,
    amount: i64,
    note: &str,
    now: DateTime<Utc>,
) -> Result<i64> {
    conn.execute(
        "UPDATE organizations SET credit_balance = credit_balance + ?2, updated_at = ?3 WHERE id = ?1",
        params![org_id, amount, ts(now)],
    )?;
    add_entry(
        conn,
        LedgerChange {
            org_id,
            app_id: Some(app_id),
            post_id: Some(post_id),
            kind: "refund",
            amount,
            note,
        },
        now,
    )
}

/// What a post has cost so far: its charges less its refunds, from the ledger.
pub fn net_charge_of_post(conn: &Connection, post_id: &str) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT -COALESCE(SUM(amount), 0) FROM credit_ledger WHERE post_id = ?1 AND kind IN ('charge', 'refund')",
        [post_id],
        |r| r.get(0),
    )?)
}

pub fn ledger(conn: &Connection, org_id: &str, limit: i64) -> Result<Vec<LedgerEntry>> {
    let mut stmt = conn.prepare(
        "SELECT id, kind, amount, balance_after, post_id, note, created_at FROM credit_ledger
         WHERE org_id = ?1 ORDER BY created_at DESC, rowid DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![org_id, limit], |r| {
        Ok(LedgerEntry {
            id: r.get(0)?,
            kind: r.get(1)?,
            amount: r.get(2)?,
            balance_after: r.get(3)?,
            post_id: r.get(4)?,
            note: r.get(5)?,
            created_at: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
