//! API keys: random secrets with a visible prefix, stored only as a SHA-256 hash, shown once.

use super::rate_limits::{self, AppRateLimits};
use super::{audit, ts};
use crate::crypto::{constant_time_eq, new_id, random_token, sha256_hex};
use crate::db::Db;
use crate::error::{Code, Error, Result};
use chrono::{DateTime, Duration, Utc};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

/// Every key starts with this, so a leaked key is recognisable by secret scanners.
pub const KEY_PREFIX: &str = "mps_live_";
const SECRET_LEN: usize = 40;
const VISIBLE_LEN: usize = KEY_PREFIX.len() + 6;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: String,
    pub app_id: String,
    pub name: String,
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// Who is calling: the key's app and organization, and the app's own rate limits.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: String,
    pub key_prefix: String,
    pub app_id: String,
    pub org_id: String,
    pub rate_limits: AppRateLimits,
}

/// Creates a key and returns it with its secret, which is never readable again.
pub fn create(
    db: &Db,
    actor: &str,
    app_id: &str,
    name: &str,
    now: DateTime<Utc>,
) -> Result<(ApiKey, String)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::validation(
            "The key name must be 1 to 200 characters.",
        ));
    }
    let secret = format!("{KEY_PREFIX}{}", random_token(SECRET_LEN));
    let key = ApiKey {
        id: new_id(),
        app_id: app_id.to_string(),
        name: name.to_string(),
        prefix: secret[..VISIBLE_LEN].to_string(),
        created_at: ts(now),
        last_used_at: None,
        revoked_at: None,
    };
    db.write(|tx| {
        if super::apps::get_app(tx, app_id)?.is_none() {
            return Err(Error::not_found(format!("App {app_id} does not exist.")));
        }
        tx.execute(
            "INSERT INTO api_keys (id, app_id, name, prefix, key_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![key.id, key.app_id, key.name, key.prefix, sha256_hex(secret.as_bytes()), key.created_at],
        )?;
        audit::record(tx, actor, "api_key.create", "api_key", Some(&key.id), Some(&serde_json::json!({"appId": app_id, "name": key.name, "prefix": key.prefix})), now)
    })?;
    Ok((key, secret))
}

pub fn revoke(db: &Db, actor: &str, key_id: &str, now: DateTime<Utc>) -> Result<()> {
    db.write(|tx| {
        let changed = tx.execute(
            "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![key_id, ts(now)],
        )?;
        if changed == 0 {
            return Err(Error::not_found(format!(
                "No active API key has id {key_id}."
            )));
        }
        audit::record(
            tx,
            actor,
            "api_key.revoke",
            "api_key",
            Some(key_id),
            None,
            now,
        )
    })
}

pub fn list(db: &Db, app_id: &str) -> Result<Vec<ApiKey>> {
    db.read(|conn| {
        let mut stmt = conn.prepare(
            "SELECT id, app_id, name, prefix, created_at, last_used_at, revoked_at FROM api_keys
             WHERE app_id = ?1 ORDER BY created_at DESC",
        )?;
        let rows = stmt.query_map([app_id], |r| {
            Ok(ApiKey {
                id: r.get(0)?,
                app_id: r.get(1)?,
                name: r.get(2)?,
                prefix: r.get(3)?,
                created_at: r.get(4)?,
                last_used_at: r.get(5)?,
                revoked_at: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    })
}

fn unauthenticated(message: &str) -> Error {
    Error::new(Code::Unauthorized, message)
}

/// Finds the active key for a bearer secret. The lookup is by hash, so the secret itself is
/// never compared byte by byte; the stored hash is then compared in constant time.
pub fn authenticate(db: &Db, bearer: Option<&str>, now: DateTime<Utc>) -> Result<Caller> {
    let secret = bearer.ok_or_else(|| {
        unauthenticated("Missing API key: send it as `Authorization: Bearer YOUR_API_KEY`.")
    })?;
    if !secret.starts_with(KEY_PREFIX) || secret.len() != KEY_PREFIX.len() + SECRET_LEN {
        return Err(unauthenticated(
            "Invalid API key. Check that you copied the whole key (it starts with mps_live_).",
        ));
    }
    let hash = sha256_hex(secret.as_bytes());
    type KeyRow = (
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        AppRateLimits,
    );
    // The app's own rate limits come with the key, so that limiting a request costs no query
    // of its own (and a change from the CLI or the dashboard applies to the next request).
    let row: Option<KeyRow> = db.read(|conn| {
        Ok(conn
            .query_row(
                &format!(
                    "SELECT k.id, k.prefix, k.app_id, a.org_id, k.revoked_at, k.last_used_at, k.key_hash, {}
                     FROM api_keys k JOIN apps a ON a.id = k.app_id
                     LEFT JOIN app_rate_limits l ON l.app_id = k.app_id
                     WHERE k.key_hash = ?1",
                    rate_limits::COLUMNS
                ),
                [&hash],
                |r| {
                    let stored: String = r.get(6)?;
                    if !constant_time_eq(stored.as_bytes(), hash.as_bytes()) {
                        return Ok(None);
                    }
                    Ok(Some((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        rate_limits::from_row(r, 7)?,
                    )))
                },
            )
            .optional()?
            .flatten())
    })?;
    let Some((key_id, key_prefix, app_id, org_id, revoked_at, last_used_at, limits)) = row else {
        return Err(unauthenticated(
            "Invalid API key. It may have been deleted, or belong to another instance.",
        ));
    };
    if revoked_at.is_some() {
        return Err(unauthenticated(
            "This API key has been revoked. Create a new key in the dashboard.",
        ));
    }
    // Recording every use would make each read request a write; once a minute is enough to
    // show "last used" to an operator.
    let stale = last_used_at
        .as_deref()
        .map(super::parse_ts)
        .is_none_or(|t| now - t > Duration::seconds(60));
    if stale {
        // Failing to note it must not refuse the request; the next use tries again.
        if let Err(e) = db.write(|tx| {
            tx.execute(
                "UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1",
                params![key_id, ts(now)],
            )?;
            Ok(())
        }) {
            eprintln!("api key {key_prefix}: recording its last use failed: {e}");
        }
    }
    Ok(Caller {
        key_id,
        key_prefix,
        app_id,
        org_id,
        rate_limits: limits,
    })
}
