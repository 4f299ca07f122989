//! Social connections: one linked platform account per end user and platform, with its tokens
//! sealed at rest. Token material never leaves this module except to the engine and the connect
//! callback, and never in a response.

pub use super::status::{ConnectionStatus, TokenStatus};

use super::status::CredentialSource;
use super::{parse_ts, ts};
use crate::crypto::{Sealer, new_id};
use crate::error::{Code, Result};
use crate::providers::{Platform, RemoteAccount, TokenSet};
use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OptionalExtension, params};

/// Below this much remaining lifetime a token that cannot refresh itself is `expiring_soon`.
pub const EXPIRING_SOON: i64 = 7;

#[derive(Debug, Clone)]
pub struct SocialConnection {
    pub id: String,
    pub app_id: String,
    pub end_user_id: String,
    pub platform: Platform,
    pub status: ConnectionStatus,
    pub remote_account_id: Option<String>,
    pub remote_username: Option<String>,
    pub account_type: Option<String>,
    pub access_token_enc: Option<Vec<u8>>,
    pub refresh_token_enc: Option<Vec<u8>>,
    pub access_token_expires_at: Option<String>,
    pub refresh_token_expires_at: Option<String>,
    pub credential_source: CredentialSource,
    pub needs_reconnect: bool,
    pub last_error_code: Option<String>,
    pub last_error_message: Option<String>,
    pub last_synced_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl SocialConnection {
    fn refresh_usable(&self, now: DateTime<Utc>) -> bool {
        self.refresh_token_enc.is_some()
            && self
                .refresh_token_expires_at
                .as_deref()
                .is_none_or(|t| parse_ts(t) > now)
    }

    pub fn can_auto_refresh(&self, now: DateTime<Utc>) -> bool {
        self.status == ConnectionStatus::Connected
            && !self.needs_reconnect
            && self.refresh_usable(now)
    }

    /// What the token allows now (`tokenStatus`, documented in the README's API notes).
    pub fn token_status(&self, now: DateTime<Utc>) -> TokenStatus {
        if self.status == ConnectionStatus::Disconnected {
            return TokenStatus::Revoked;
        }
        if self.needs_reconnect || self.access_token_enc.is_none() {
            return TokenStatus::NeedsReconnect;
        }
        if self.refresh_usable(now) {
            return TokenStatus::ActiveRefreshable;
        }
        match self.access_token_expires_at.as_deref().map(parse_ts) {
            None => TokenStatus::Active,
            Some(at) if at <= now => TokenStatus::Expired,
            Some(at) if at - now < Duration::days(EXPIRING_SOON) => TokenStatus::ExpiringSoon,
            Some(_) => TokenStatus::Active,
        }
    }

    pub fn access_token(&self, sealer: &Sealer) -> Option<String> {
        sealer.open(self.access_token_enc.as_deref()?)
    }

    pub fn refresh_token(&self, sealer: &Sealer) -> Option<String> {
        sealer.open(self.refresh_token_enc.as_deref()?)
    }

    pub fn account(&self) -> RemoteAccount {
        RemoteAccount {
            id: self.remote_account_id.clone().unwrap_or_default(),
            username: self.remote_username.clone(),
            account_type: self.account_type.clone().unwrap_or_else(|| "person".into()),
        }
    }
}

const SELECT: &str = "SELECT id, app_id, end_user_id, platform, status, remote_account_id, remote_username, account_type,
    access_token_enc, refresh_token_enc, access_token_expires_at, refresh_token_expires_at, credential_source,
    needs_reconnect, last_error_code, last_error_message, last_synced_at, created_at, updated_at FROM social_connections";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<SocialConnection> {
    let platform: String = r.get(3)?;
    Ok(SocialConnection {
        id: r.get(0)?,
        app_id: r.get(1)?,
        end_user_id: r.get(2)?,
        platform: Platform::from_key(&platform).unwrap_or(Platform::Linkedin),
        status: r.get(4)?,
        remote_account_id: r.get(5)?,
        remote_username: r.get(6)?,
        account_type: r.get(7)?,
        access_token_enc: r.get(8)?,
        refresh_token_enc: r.get(9)?,
        access_token_expires_at: r.get(10)?,
        refresh_token_expires_at: r.get(11)?,
        credential_source: r.get(12)?,
        needs_reconnect: r.get::<_, i64>(13)? != 0,
        last_error_code: r.get(14)?,
        last_error_message: r.get(15)?,
        last_synced_at: r.get(16)?,
        created_at: r.get(17)?,
        updated_at: r.get(18)?,
    })
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<SocialConnection>> {
    Ok(conn
        .query_row(&format!("{SELECT} WHERE id = ?1"), [id], from_row)
        .optional()?)
}

pub fn list_for_end_user(
    conn: &Connection,
    app_id: &str,
    end_user_id: &str,
) -> Result<Vec<SocialConnection>> {
    let mut stmt = conn.prepare(&format!(
        "{SELECT} WHERE app_id = ?1 AND end_user_id = ?2 ORDER BY created_at, platform"
    ))?;
    let rows = stmt.query_map(params![app_id, end_user_id], from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn find(
    conn: &Connection,
    app_id: &str,
    end_user_id: &str,
    platform: Platform,
) -> Result<Option<SocialConnection>> {
    Ok(conn
        .query_row(
            &format!("{SELECT} WHERE app_id = ?1 AND end_user_id = ?2 AND platform = ?3"),
            params![app_id, end_user_id, platform.key()],
            from_row,
        )
        .optional()?)
}

fn expiry(now: DateTime<Utc>, seconds: Option<i64>) -> Option<String> {
    seconds
        .filter(|s| *s > 0)
        .map(|s| ts(now + Duration::seconds(s)))
}

/// Creates or refreshes the connection after a successful OAuth callback.
#[allow(clippy::too_many_arguments)]
pub fn upsert_from_oauth(
    conn: &Connection,
    sealer: &Sealer,
    app_id: &str,
    end_user_id: &str,
    platform: Platform,
    account: &RemoteAccount,
    tokens: &TokenSet,
    source: CredentialSource,
    now: DateTime<Utc>,
) -> Result<String> {
    let id = find(conn, app_id, end_user_id, platform)?
        .map(|c| c.id)
        .unwrap_or_else(new_id);
    conn.execute(
        "INSERT INTO social_connections (id, app_id, end_user_id, platform, status, remote_account_id, remote_username,
             account_type, access_token_enc, refresh_token_enc, access_token_expires_at, refresh_token_expires_at, scopes,
             credential_source, needs_reconnect, last_synced_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, 'connected', ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 0, ?14, ?14, ?14)
         ON CONFLICT (end_user_id, platform) DO UPDATE SET status = 'connected',
             remote_account_id = excluded.remote_account_id, remote_username = excluded.remote_username,
             account_type = excluded.account_type, access_token_enc = excluded.access_token_enc,
             refresh_token_enc = excluded.refresh_token_enc, access_token_expires_at = excluded.access_token_expires_at,
             refresh_token_expires_at = excluded.refresh_token_expires_at, scopes = excluded.scopes,
             credential_source = excluded.credential_source, needs_reconnect = 0, last_error_code = NULL,
             last_error_message = NULL, last_synced_at = excluded.last_synced_at, updated_at = excluded.updated_at",
        params![
            id,
            app_id,
            end_user_id,
            platform.key(),
            account.id,
            account.username,
            account.account_type,
            sealer.seal(&tokens.access_token),
            tokens.refresh_token.as_deref().map(|t| sealer.seal(t)),
            expiry(now, tokens.expires_in),
            expiry(now, tokens.refresh_token_expires_in),
            tokens.scopes.join(" "),
            source,
            ts(now)
        ],
    )?;
    Ok(id)
}

/// Stores the result of a refresh. A platform that answers without a new refresh token keeps
/// the old one valid, so the stored one is kept rather than dropped (a classic reconnect loop).
pub fn store_refreshed_tokens(
    conn: &Connection,
    sealer: &Sealer,
    id: &str,
    tokens: &TokenSet,
    now: DateTime<Utc>,
) -> Result<()> {
    conn.execute(
        "UPDATE social_connections SET access_token_enc = ?2, access_token_expires_at = ?3,
             refresh_token_enc = COALESCE(?4, refresh_token_enc),
             refresh_token_expires_at = CASE WHEN ?4 IS NULL THEN refresh_token_expires_at ELSE ?5 END,
             needs_reconnect = 0, status = 'connected', last_synced_at = ?6, updated_at = ?6
         WHERE id = ?1",
        params![
            id,
            sealer.seal(&tokens.access_token),
            expiry(now, tokens.expires_in),
            tokens.refresh_token.as_deref().map(|t| sealer.seal(t)),
            expiry(now, tokens.refresh_token_expires_in),
            ts(now)
        ],
    )?;
    Ok(())
}

/// The platform no longer accepts the tokens: the person has to connect again.
pub fn mark_needs_reconnect(
    conn: &Connection,
    id: &str,
    code: Code,
    message: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    conn.execute(
        "UPDATE social_connections SET status = 'error', needs_reconnect = 1, last_error_code = ?2,
             last_error_message = ?3, updated_at = ?4 WHERE id = ?1 AND status != 'disconnected'",
        params![id, code, message, ts(now)],
    )?;
    Ok(())
}

/// Notes a failure that says nothing about the tokens (rate limit, outage, rejected post).
pub fn record_error(
    conn: &Connection,
    id: &str,
    code: Code,
    message: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    conn.execute(
        "UPDATE social_connections SET last_error_code = ?2, last_error_message = ?3, updated_at = ?4 WHERE id = ?1",
        params![id, code, message, ts(now)],
    )?;
    Ok(())
}

/// `mark_needs_reconnect` in a transaction of its own, for the engine while it settles a
/// delivery or a refresh. A failed write is logged with what it means rather than returned:
/// the outcome the customer sees (`NEEDS_RECONNECT`, `TOKEN_EXPIRED`) is recorded either way,
/// and the next call with the refused token fails and marks the connection again.
pub fn flag_for_reconnect(
    db: &crate::db::Db,
    id: &str,
    code: Code,
    message: &str,
    now: DateTime<Utc>,
) {
    if let Err(e) = db.write(|tx| mark_needs_reconnect(tx, id, code, message, now)) {
        eprintln!(
            "connection {id}: marking it for reconnect ({code}) failed: {e}; its tokenStatus stays as it was until the next refused call marks it"
        );
    }
}

/// `record_error` in a transaction of its own, for the engine; a failed write is logged, since
/// the delivery's own outcome (which holds the same code and message) is what matters.
pub fn note_error(db: &crate::db::Db, id: &str, code: Code, message: &str, now: DateTime<Utc>) {
    if let Err(e) = db.write(|tx| record_error(tx, id, code, message, now)) {
        eprintln!(
            "connection {id}: recording its last error ({code}) failed: {e}; lastErrorCode stays as it was"
        );
    }
}

pub fn disconnect(conn: &Connection, id: &str, now: DateTime<Utc>) -> Result<()> {
    conn.execute(
        "UPDATE social_connections SET status = 'disconnected', access_token_enc = NULL, refresh_token_enc = NULL,
             access_token_expires_at = NULL, refresh_token_expires_at = NULL, needs_reconnect = 0, updated_at = ?2
         WHERE id = ?1",
        params![id, ts(now)],
    )?;
    Ok(())
}

/// What `disconnect_revoking` needs from the running instance to call the platform.
pub struct RevokeContext<'a> {
    pub db: &'a crate::db::Db,
    pub sealer: &'a Sealer,
    pub managed: &'a std::collections::BTreeMap<Platform, crate::config::ClientCredentials>,
    pub providers: &'a crate::providers::Providers,
}

/// Disconnects an end user's platform account, as both the API's DELETE and the dashboard do:
/// revokes the token at the platform where it can (a failure there is logged, not fatal: the
/// person can also revoke in the platform's settings), then forgets the tokens and records who
/// did it. Repeating it is harmless. `None` when there is no such connection.
pub fn disconnect_revoking(
    ctx: &RevokeContext,
    actor: &str,
    app_id: &str,
    end_user_id: &str,
    platform: Platform,
    now: DateTime<Utc>,
) -> Result<Option<()>> {
    let Some(connection) = ctx.db.read(|c| find(c, app_id, end_user_id, platform))? else {
        return Ok(None);
    };
    if connection.status == ConnectionStatus::Disconnected {
        return Ok(Some(()));
    }
    let credentials = ctx.db.read(|c| {
        super::apps::credentials_for_source(
            c,
            ctx.sealer,
            ctx.managed,
            app_id,
            platform,
            connection.credential_source,
        )
    })?;
    if let (Some(provider), Some(credentials), Some(token)) = (
        ctx.providers.get(platform),
        credentials,
        connection.access_token(ctx.sealer),
    ) && let Err(e) = provider.revoke(&credentials, &token)
    {
        eprintln!(
            "disconnect {}: revoking at {} failed ({}); tokens are deleted locally",
            connection.id,
            platform.key(),
            e.message()
        );
    }
    ctx.db.write(|tx| {
        disconnect(tx, &connection.id, now)?;
        super::audit::record(
            tx,
            actor,
            "connection.disconnect",
            "connection",
            Some(&connection.id),
            Some(&serde_json::json!({"appId": app_id, "endUserId": end_user_id, "platform": platform.key()})),
            now,
        )
    })?;
    Ok(Some(()))
}

/// Connections whose long-lived access token ends between 6 hours and 3 days from now and
/// that can refresh it: the ones a nightly refresh keeps alive even when nobody posts (Threads,
/// Instagram and Pinterest tokens expire unused). Short-lived tokens (X, Google, Reddit) are
/// refreshed when a delivery needs them, and never fall in this window for long.
pub fn due_for_refresh(conn: &Connection, now: DateTime<Utc>, limit: i64) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT id FROM social_connections
         WHERE status = 'connected' AND needs_reconnect = 0 AND refresh_token_enc IS NOT NULL
           AND access_token_expires_at > ?1 AND access_token_expires_at <= ?2
           AND (refresh_token_expires_at IS NULL OR refresh_token_expires_at > ?1)
         ORDER BY access_token_expires_at LIMIT ?3",
    )?;
    let rows = stmt.query_map(
        params![
            ts(now + Duration::hours(6)),
            ts(now + Duration::days(3)),
            limit
        ],
        |r| r.get(0),
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
