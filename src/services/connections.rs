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
    /// What the adapter keeps besides the tokens (Facebook's Page tokens), sealed JSON.
    pub platform_data_enc: Option<Vec<u8>>,
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

/// Whether a connection can be posted with: the one rule that creating a post, delivering it,
/// listing its targets and the API's `tokenStatus` all read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usability {
    /// Connected, with a refresh token that still works: the access token can always be renewed.
    Refreshable,
    /// Connected; the access token has not expired (or states no expiry) and cannot be renewed.
    Active,
    /// Connected, but the access token has expired and cannot be renewed.
    Expired,
    /// The platform refused the tokens (or there are none): the person must connect again.
    NeedsReconnect,
    /// Disconnected by the customer or an operator; the tokens are gone.
    Disconnected,
}

impl Usability {
    /// Still linked to the account: a call may work, or the token check says why not (an
    /// expired token is found there, and the connection is then marked for reconnecting).
    pub fn is_linked(self) -> bool {
        !matches!(self, Usability::NeedsReconnect | Usability::Disconnected)
    }
}

impl SocialConnection {
    fn refresh_usable(&self, now: DateTime<Utc>) -> bool {
        self.refresh_token_enc.is_some()
            && self
                .refresh_token_expires_at
                .as_deref()
                .is_none_or(|t| parse_ts(t) > now)
    }

    /// Whether the connection can be posted with at `now`, and if not, why.
    pub fn usability(&self, now: DateTime<Utc>) -> Usability {
        if self.status == ConnectionStatus::Disconnected {
            return Usability::Disconnected;
        }
        if self.needs_reconnect
            || self.status == ConnectionStatus::Error
            || self.access_token_enc.is_none()
        {
            return Usability::NeedsReconnect;
        }
        if self.refresh_usable(now) {
            return Usability::Refreshable;
        }
        match self.access_token_expires_at.as_deref().map(parse_ts) {
            Some(at) if at <= now => Usability::Expired,
            _ => Usability::Active,
        }
    }

    pub fn can_auto_refresh(&self, now: DateTime<Utc>) -> bool {
        self.usability(now) == Usability::Refreshable
    }

    /// What the token allows now (`tokenStatus`, documented in the README's API notes).
    pub fn token_status(&self, now: DateTime<Utc>) -> TokenStatus {
        match self.usability(now) {
            Usability::Disconnected => TokenStatus::Revoked,
            Usability::NeedsReconnect => TokenStatus::NeedsReconnect,
            Usability::Refreshable => TokenStatus::ActiveRefreshable,
            Usability::Expired => TokenStatus::Expired,
            Usability::Active => match self.access_token_expires_at.as_deref().map(parse_ts) {
                Some(at) if at - now < Duration::days(EXPIRING_SOON) => TokenStatus::ExpiringSoon,
                _ => TokenStatus::Active,
            },
        }
    }

    pub fn access_token(&self, sealer: &Sealer) -> Option<String> {
        sealer.open(self.access_token_enc.as_deref()?)
    }

    pub fn refresh_token(&self, sealer: &Sealer) -> Option<String> {
        sealer.open(self.refresh_token_enc.as_deref()?)
    }

    /// What the adapter stored at connect time, opened (`None` when there is none).
    pub fn platform_data(&self, sealer: &Sealer) -> Option<serde_json::Value> {
        serde_json::from_str(&sealer.open(self.platform_data_enc.as_deref()?)?).ok()
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
    needs_reconnect, last_error_code, last_error_message, last_synced_at, created_at, updated_at, platform_data_enc
    FROM social_connections";

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
        platform_data_enc: r.get(19)?,
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
    platform_data: Option<&serde_json::Value>,
    source: CredentialSource,
    now: DateTime<Utc>,
) -> Result<String> {
    let id = find(conn, app_id, end_user_id, platform)?
        .map(|c| c.id)
        .unwrap_or_else(new_id);
    conn.execute(
        "INSERT INTO social_connections (id, app_id, end_user_id, platform, status, remote_account_id, remote_username,
             account_type, access_token_enc, refresh_token_enc, access_token_expires_at, refresh_token_expires_at, scopes,
             credential_source, needs_reconnect, last_synced_at, created_at, updated_at, platform_data_enc)
         VALUES (?1, ?2, ?3, ?4, 'connected', ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 0, ?14, ?14, ?14, ?15)
         ON CONFLICT (end_user_id, platform) DO UPDATE SET status = 'connected',
             remote_account_id = excluded.remote_account_id, remote_username = excluded.remote_username,
             account_type = excluded.account_type, access_token_enc = excluded.access_token_enc,
             refresh_token_enc = excluded.refresh_token_enc, access_token_expires_at = excluded.access_token_expires_at,
             refresh_token_expires_at = excluded.refresh_token_expires_at, scopes = excluded.scopes,
             credential_source = excluded.credential_source, needs_reconnect = 0, last_error_code = NULL,
             last_error_message = NULL, last_synced_at = excluded.last_synced_at, updated_at = excluded.updated_at,
             platform_data_enc = excluded.platform_data_enc",
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
            ts(now),
            platform_data.map(|data| sealer.seal(&data.to_string()))
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

/// The platform no longer accepts the tokens: the person has to connect again. The first time
/// (not on every refused call after it) is a `connection.needs_reconnect` event.
pub fn mark_needs_reconnect(
    conn: &Connection,
    id: &str,
    code: Code,
    message: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let already: Option<bool> = conn
        .query_row(
            "SELECT needs_reconnect != 0 OR status = 'error' FROM social_connections WHERE id = ?1 AND status != 'disconnected'",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    conn.execute(
        "UPDATE social_connections SET status = 'error', needs_reconnect = 1, last_error_code = ?2,
             last_error_message = ?3, updated_at = ?4 WHERE id = ?1 AND status != 'disconnected'",
        params![id, code, message, ts(now)],
    )?;
    if already == Some(false) {
        super::webhooks::connection_event(
            conn,
            id,
            super::webhooks::WebhookEventType::ConnectionNeedsReconnect,
            Some((code, message)),
            now,
        )?;
    }
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

/// Forgets the tokens; a `connection.disconnected` event in the same transaction.
pub fn disconnect(conn: &Connection, id: &str, now: DateTime<Utc>) -> Result<()> {
    let changed = conn.execute(
        "UPDATE social_connections SET status = 'disconnected', access_token_enc = NULL, refresh_token_enc = NULL, platform_data_enc = NULL,
             access_token_expires_at = NULL, refresh_token_expires_at = NULL, needs_reconnect = 0, updated_at = ?2
         WHERE id = ?1 AND status != 'disconnected'",
        params![id, ts(now)],
    )?;
    if changed > 0 {
        super::webhooks::connection_event(
            conn,
            id,
            super::webhooks::WebhookEventType::ConnectionDisconnected,
            None,
            now,
        )?;
    }
    Ok(())
}

/// What `disconnect_revoking` needs from the running instance to call the platform.
pub struct RevokeContext<'a> {
    pub db: &'a crate::db::Db,
    pub sealer: &'a Sealer,
    pub credentials: &'a super::apps::CredentialStore,
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
    let credentials = ctx.credentials.for_connection(&connection)?;
    if let (Some(provider), Some(credentials), Some(token)) = (
        ctx.providers.get(platform),
        credentials,
        connection.access_token(ctx.sealer),
    ) && let Err(e) = provider.revoke(
        &credentials,
        &token,
        connection.refresh_token(ctx.sealer).as_deref(),
    ) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        parse_ts("2026-03-21T08:00:00.000Z")
    }

    fn at(offset: Duration) -> Option<String> {
        Some(ts(now() + offset))
    }

    /// A connected account with an access token that never expires and no refresh token.
    fn connected() -> SocialConnection {
        SocialConnection {
            id: "c1".into(),
            app_id: "a1".into(),
            end_user_id: "u1".into(),
            platform: Platform::Linkedin,
            status: ConnectionStatus::Connected,
            remote_account_id: Some("r1".into()),
            remote_username: None,
            account_type: None,
            access_token_enc: Some(vec![1]),
            refresh_token_enc: None,
            platform_data_enc: None,
            access_token_expires_at: None,
            refresh_token_expires_at: None,
            credential_source: CredentialSource::Managed,
            needs_reconnect: false,
            last_error_code: None,
            last_error_message: None,
            last_synced_at: None,
            created_at: ts(now()),
            updated_at: ts(now()),
        }
    }

    #[test]
    fn usability_names_each_state_of_a_connection() {
        let hour = Duration::hours(1);
        let cases: Vec<(&str, SocialConnection, Usability, &str)> = vec![
            (
                "no expiry, no refresh token",
                connected(),
                Usability::Active,
                "active",
            ),
            (
                "valid for a day, no refresh token",
                SocialConnection {
                    access_token_expires_at: at(hour * 24),
                    ..connected()
                },
                Usability::Active,
                "expiring_soon",
            ),
            (
                "valid for 60 days, no refresh token",
                SocialConnection {
                    access_token_expires_at: at(Duration::days(60)),
                    ..connected()
                },
                Usability::Active,
                "active",
            ),
            (
                "expired, no refresh token",
                SocialConnection {
                    access_token_expires_at: at(-hour),
                    ..connected()
                },
                Usability::Expired,
                "expired",
            ),
            (
                "expiring this very instant",
                SocialConnection {
                    access_token_expires_at: at(Duration::zero()),
                    ..connected()
                },
                Usability::Expired,
                "expired",
            ),
            (
                "expired, refresh token without expiry",
                SocialConnection {
                    access_token_expires_at: at(-hour),
                    refresh_token_enc: Some(vec![2]),
                    ..connected()
                },
                Usability::Refreshable,
                "active_refreshable",
            ),
            (
                "expired, refresh token valid for an hour",
                SocialConnection {
                    access_token_expires_at: at(-hour),
                    refresh_token_enc: Some(vec![2]),
                    refresh_token_expires_at: at(hour),
                    ..connected()
                },
                Usability::Refreshable,
                "active_refreshable",
            ),
            (
                "expired, refresh token expired too",
                SocialConnection {
                    access_token_expires_at: at(-hour),
                    refresh_token_enc: Some(vec![2]),
                    refresh_token_expires_at: at(-hour),
                    ..connected()
                },
                Usability::Expired,
                "expired",
            ),
            (
                "valid, refresh token expired",
                SocialConnection {
                    access_token_expires_at: at(Duration::days(30)),
                    refresh_token_enc: Some(vec![2]),
                    refresh_token_expires_at: at(-hour),
                    ..connected()
                },
                Usability::Active,
                "active",
            ),
            (
                "refused by the platform",
                SocialConnection {
                    status: ConnectionStatus::Error,
                    needs_reconnect: true,
                    refresh_token_enc: Some(vec![2]),
                    ..connected()
                },
                Usability::NeedsReconnect,
                "needs_reconnect",
            ),
            (
                "in error without the flag",
                SocialConnection {
                    status: ConnectionStatus::Error,
                    ..connected()
                },
                Usability::NeedsReconnect,
                "needs_reconnect",
            ),
            (
                "flagged while still connected",
                SocialConnection {
                    needs_reconnect: true,
                    ..connected()
                },
                Usability::NeedsReconnect,
                "needs_reconnect",
            ),
            (
                "no access token",
                SocialConnection {
                    access_token_enc: None,
                    ..connected()
                },
                Usability::NeedsReconnect,
                "needs_reconnect",
            ),
            (
                "disconnected",
                SocialConnection {
                    status: ConnectionStatus::Disconnected,
                    access_token_enc: None,
                    ..connected()
                },
                Usability::Disconnected,
                "revoked",
            ),
        ];
        for (name, connection, usability, token_status) in cases {
            assert_eq!(connection.usability(now()), usability, "{name}");
            assert_eq!(
                connection.token_status(now()).as_str(),
                token_status,
                "{name}"
            );
            assert_eq!(
                connection.can_auto_refresh(now()),
                usability == Usability::Refreshable,
                "{name}"
            );
        }
    }

    /// Listing targets and delivering go on with a connection that is still linked, even with
    /// an expired token (the token check then marks it); the other two stop at once.
    #[test]
    fn only_a_reconnect_or_a_disconnect_unlinks() {
        assert!(Usability::Refreshable.is_linked());
        assert!(Usability::Active.is_linked());
        assert!(Usability::Expired.is_linked());
        assert!(!Usability::NeedsReconnect.is_linked());
        assert!(!Usability::Disconnected.is_linked());
    }
}
