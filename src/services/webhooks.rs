//! Webhooks (Standard Webhooks): an app's endpoints with their sealed signing secrets, the
//! transactional outbox, and the bookkeeping of the sender.
//!
//! An event is written by `enqueue_event` in the transaction of the state change it reports
//! (a post's final status, a delivery's result, a connection, a connect session, credits), and
//! fanned out there to one `webhook_deliveries` row per enabled endpoint subscribed to its type.
//! Nothing is lost between the change and the send: a crash leaves the rows `pending`, and the
//! sender (`crate::webhooks`, threads of its own) sends them after the restart. The sender asks
//! `due_deliveries`, reads one with `outgoing`, and records each attempt with `record_attempt`,
//! which retries on the configured schedule and disables an endpoint after a `410 Gone` or
//! after failing every attempt for days. This module knows no HTTP; event `data` uses the
//! API's wire shapes (`api::wire`).

pub use super::status::{WebhookDeliveryStatus, WebhookEndpointStatus, WebhookEventType};

use super::connect_sessions::ConnectSessionStatus;
use super::posts::{DeliveryStatus, PostStatus};
use super::{Patch, audit, parse_ts, ts};
use crate::api::wire;
use crate::crypto::{Sealer, base64_standard, new_id, random_bytes, random_token};
use crate::db::Db;
use crate::error::{Code, Error, Result};
use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

/// Who the audit log names for what the sender decides on its own.
pub const SENDER_ACTOR: &str = "webhook sender";

/// How many recent deliveries the dashboard and the API show for an endpoint.
pub const RECENT_DELIVERIES: i64 = 50;

#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: String,
    pub app_id: String,
    pub url: String,
    pub description: Option<String>,
    /// `None`: every event.
    pub event_types: Option<Vec<WebhookEventType>>,
    pub status: WebhookEndpointStatus,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<String>,
    pub secret_rotated_at: Option<String>,
    /// Until then the previous secret signs beside the current one.
    pub previous_secret_expires_at: Option<String>,
    pub failing_since: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Endpoint {
    pub fn subscribes_to(&self, event_type: WebhookEventType) -> bool {
        self.event_types
            .as_ref()
            .is_none_or(|types| types.contains(&event_type))
    }

    /// The previous secret still signs at `now`.
    pub fn in_rotation_window(&self, now: DateTime<Utc>) -> bool {
        self.previous_secret_expires_at
            .as_deref()
            .is_some_and(|at| parse_ts(at) > now)
    }
}

const ENDPOINT_SELECT: &str = "SELECT id, app_id, url, description, event_types, status, disabled_reason, disabled_at,
    secret_rotated_at, previous_secret_expires_at, failing_since, created_at, updated_at FROM webhook_endpoints";

fn endpoint_from_row(r: &rusqlite::Row) -> rusqlite::Result<Endpoint> {
    let types: Option<String> = r.get(4)?;
    Ok(Endpoint {
        id: r.get(0)?,
        app_id: r.get(1)?,
        url: r.get(2)?,
        description: r.get(3)?,
        event_types: types.map(|t| {
            serde_json::from_str::<Vec<String>>(&t)
                .unwrap_or_default()
                .iter()
                .filter_map(|name| WebhookEventType::parse(name))
                .collect()
        }),
        status: r.get(5)?,
        disabled_reason: r.get(6)?,
        disabled_at: r.get(7)?,
        secret_rotated_at: r.get(8)?,
        previous_secret_expires_at: r.get(9)?,
        failing_since: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

/// A fresh signing secret as Standard Webhooks writes it: `whsec_` and 32 random bytes in
/// standard base64 (the specification asks for 24 to 64).
pub fn new_secret() -> String {
    format!("whsec_{}", base64_standard(&random_bytes::<32>()))
}

/// The event types an endpoint may subscribe to: every type but `webhook.test`, which goes
/// to the one endpoint it is asked for.
pub fn subscribable_types() -> impl Iterator<Item = WebhookEventType> {
    WebhookEventType::ALL
        .iter()
        .copied()
        .filter(|t| *t != WebhookEventType::WebhookTest)
}

/// Reads `eventTypes`: known, subscribable types, at least one, each once.
pub fn parse_event_types(names: &[String]) -> Result<Vec<WebhookEventType>> {
    let known = || {
        subscribable_types()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if names.is_empty() {
        return Err(Error::validation(format!(
            "eventTypes must name at least one event type, or be null for every event. The types are: {}.",
            known()
        )));
    }
    let mut types = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let Some(t) =
            WebhookEventType::parse(name.trim()).filter(|t| *t != WebhookEventType::WebhookTest)
        else {
            return Err(Error::validation(format!(
                "eventTypes[{i}] is {name:?}, which is no event type. The types are: {}.",
                known()
            )));
        };
        if !types.contains(&t) {
            types.push(t);
        }
    }
    Ok(types)
}

/// The longest endpoint URL, as for `mediaUrl`.
pub const MAX_URL_CHARS: usize = 2048;

/// Checks an endpoint URL: absolute http(s) with a host, no user information, at most 2,048
/// characters, and (unless the instance allows private addresses) not naming a loopback,
/// private or link-local address or `localhost`. Host names are checked again, as resolved, by
/// the sender's resolver at every attempt (the same guard as media fetches).
pub fn validate_url(url: &str, allow_private: bool) -> Result<String> {
    let refuse = |why: &str| {
        Error::new(
            Code::WebhookUrlNotAllowed,
            format!("url {url:?} cannot be a webhook endpoint: {why}."),
        )
    };
    let url = url.trim();
    if url.chars().count() > MAX_URL_CHARS {
        return Err(refuse("it is longer than 2,048 characters"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(refuse("it contains spaces or control characters"));
    }
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or_else(|| {
            refuse("it must be an absolute http(s) URL such as https://api.example.com/webhooks")
        })?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(refuse("it must not contain user information (@)"));
    }
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    if host.is_empty() {
        return Err(refuse("it has no host"));
    }
    if !allow_private {
        let internal = host == "localhost"
            || host.ends_with(".localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(crate::providers::media::is_internal_address);
        if internal {
            return Err(refuse(
                "it names a loopback, private or link-local address, which this instance does not call (an operator can allow them with MYPOSTSHARE_ALLOW_PRIVATE_MEDIA)",
            ));
        }
    }
    Ok(url.to_string())
}

fn types_json(types: &Option<Vec<WebhookEventType>>) -> Option<String> {
    types
        .as_ref()
        .map(|t| Value::Array(t.iter().map(|t| Value::from(t.as_str())).collect()).to_string())
}

pub struct NewEndpoint {
    pub url: String,
    pub description: Option<String>,
    pub event_types: Option<Vec<WebhookEventType>>,
}

/// Creates an endpoint with a fresh secret; returns it and the secret, shown this once.
pub fn create_endpoint(
    db: &Db,
    sealer: &Sealer,
    actor: &str,
    app_id: &str,
    new: NewEndpoint,
    allow_private: bool,
    now: DateTime<Utc>,
) -> Result<(Endpoint, String)> {
    let url = validate_url(&new.url, allow_private)?;
    let secret = new_secret();
    let id = new_id();
    db.write(|tx| {
        tx.execute(
            "INSERT INTO webhook_endpoints (id, app_id, url, description, event_types, status, secret_enc, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'enabled', ?6, ?7, ?7)",
            params![id, app_id, url, new.description, types_json(&new.event_types), sealer.seal(&secret), ts(now)],
        )?;
        audit::record(
            tx,
            actor,
            "webhook_endpoint.create",
            "webhook_endpoint",
            Some(&id),
            Some(&json!({"appId": app_id, "url": url})),
            now,
        )?;
        let endpoint = get_endpoint(tx, app_id, &id)?
            .ok_or_else(|| Error::internal("a created webhook endpoint vanished"))?;
        Ok((endpoint, secret))
    })
}

/// An app's endpoints, oldest first.
pub fn list_endpoints(conn: &Connection, app_id: &str) -> Result<Vec<Endpoint>> {
    let mut stmt = conn.prepare(&format!(
        "{ENDPOINT_SELECT} WHERE app_id = ?1 ORDER BY created_at, id"
    ))?;
    let rows = stmt.query_map([app_id], endpoint_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// An endpoint of the calling app; another app's reads as missing.
pub fn get_endpoint(conn: &Connection, app_id: &str, id: &str) -> Result<Option<Endpoint>> {
    Ok(conn
        .query_row(
            &format!("{ENDPOINT_SELECT} WHERE id = ?1 AND app_id = ?2"),
            params![id, app_id],
            endpoint_from_row,
        )
        .optional()?)
}

/// What `PATCH` may change; `enabled: Some(true)` also forgets why it was disabled.
#[derive(Default)]
pub struct EndpointPatch {
    pub url: Option<String>,
    pub description: Patch<String>,
    pub event_types: Patch<Vec<WebhookEventType>>,
    pub enabled: Option<bool>,
}

/// Applies a change by a customer or an operator; `None` when there is no such endpoint.
pub fn update_endpoint(
    db: &Db,
    actor: &str,
    app_id: &str,
    id: &str,
    patch: EndpointPatch,
    allow_private: bool,
    now: DateTime<Utc>,
) -> Result<Option<Endpoint>> {
    let url = patch
        .url
        .as_deref()
        .map(|u| validate_url(u, allow_private))
        .transpose()?;
    db.write(|tx| {
        let Some(current) = get_endpoint(tx, app_id, id)? else {
            return Ok(None);
        };
        let description = match &patch.description {
            Patch::Keep => current.description.clone(),
            Patch::Clear => None,
            Patch::Set(d) => Some(d.clone()),
        };
        let event_types = match &patch.event_types {
            Patch::Keep => current.event_types.clone(),
            Patch::Clear => None,
            Patch::Set(t) => Some(t.clone()),
        };
        tx.execute(
            "UPDATE webhook_endpoints SET url = ?2, description = ?3, event_types = ?4, updated_at = ?5 WHERE id = ?1",
            params![id, url.as_deref().unwrap_or(&current.url), description, types_json(&event_types), ts(now)],
        )?;
        match patch.enabled {
            Some(true) if current.status == WebhookEndpointStatus::Disabled => {
                tx.execute(
                    "UPDATE webhook_endpoints SET status = 'enabled', disabled_reason = NULL, disabled_at = NULL,
                         failing_since = NULL, updated_at = ?2 WHERE id = ?1",
                    params![id, ts(now)],
                )?;
            }
            Some(false) if current.status == WebhookEndpointStatus::Enabled => {
                disable(tx, id, &format!("disabled by {actor}"), now)?;
            }
            _ => {}
        }
        audit::record(
            tx,
            actor,
            "webhook_endpoint.update",
            "webhook_endpoint",
            Some(id),
            Some(&json!({
                "appId": app_id,
                "url": url,
                "eventTypes": types_json(&event_types),
                "enabled": patch.enabled,
            })),
            now,
        )?;
        get_endpoint(tx, app_id, id)
    })
}

/// Deletes an endpoint with its deliveries and attempts; `false` when there was none.
pub fn delete_endpoint(
    db: &Db,
    actor: &str,
    app_id: &str,
    id: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    db.write(|tx| {
        let deleted = tx.execute(
            "DELETE FROM webhook_endpoints WHERE id = ?1 AND app_id = ?2",
            params![id, app_id],
        )?;
        if deleted > 0 {
            audit::record(
                tx,
                actor,
                "webhook_endpoint.delete",
                "webhook_endpoint",
                Some(id),
                Some(&json!({"appId": app_id})),
                now,
            )?;
        }
        Ok(deleted > 0)
    })
}

/// A new secret, shown once; the current one keeps signing beside it for `overlap`, so
/// receivers can switch without losing a webhook. Rotating again within the window drops the
/// oldest secret.
pub fn rotate_secret(
    db: &Db,
    sealer: &Sealer,
    actor: &str,
    app_id: &str,
    id: &str,
    overlap: Duration,
    now: DateTime<Utc>,
) -> Result<Option<(Endpoint, String)>> {
    let secret = new_secret();
    db.write(|tx| {
        let changed = tx.execute(
            "UPDATE webhook_endpoints SET previous_secret_enc = secret_enc, previous_secret_expires_at = ?3,
                 secret_enc = ?4, secret_rotated_at = ?5, updated_at = ?5
             WHERE id = ?1 AND app_id = ?2",
            params![id, app_id, ts(now + overlap), sealer.seal(&secret), ts(now)],
        )?;
        if changed == 0 {
            return Ok(None);
        }
        audit::record(
            tx,
            actor,
            "webhook_endpoint.rotate_secret",
            "webhook_endpoint",
            Some(id),
            Some(&json!({"appId": app_id, "previousSecretExpiresAt": ts(now + overlap)})),
            now,
        )?;
        Ok(get_endpoint(tx, app_id, id)?.map(|e| (e, secret.clone())))
    })
}

// ----- the outbox -----

/// A fresh `webhook-id`: `msg_` and 27 base-62 characters (never a `.`, which the signed
/// content uses as its separator).
fn new_message_id() -> String {
    format!("msg_{}", random_token(27))
}

/// The body every attempt of the event sends: `{"type","timestamp","data"}`, compact.
fn payload(event_type: WebhookEventType, data: Value, now: DateTime<Utc>) -> String {
    json!({"type": event_type.as_str(), "timestamp": ts(now), "data": data}).to_string()
}

fn insert_event(
    conn: &Connection,
    app_id: &str,
    event_type: WebhookEventType,
    data: Value,
    endpoint_ids: &[String],
    now: DateTime<Utc>,
) -> Result<String> {
    let id = new_message_id();
    conn.execute(
        "INSERT INTO webhook_events (id, app_id, type, payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, app_id, event_type.as_str(), payload(event_type, data, now), ts(now)],
    )?;
    for endpoint_id in endpoint_ids {
        conn.execute(
            "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, status, next_attempt_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, 'pending', ?4, ?4, ?4)",
            params![new_id(), id, endpoint_id, ts(now)],
        )?;
    }
    Ok(id)
}

/// Writes an event of `app_id` into the outbox, inside the caller's transaction (the one that
/// makes the change it reports), with one delivery per enabled endpoint subscribed to its
/// type. An app without such endpoints stores nothing. Returns the event's `webhook-id`.
pub fn enqueue_event(
    conn: &Connection,
    app_id: &str,
    event_type: WebhookEventType,
    data: Value,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    let endpoints = subscribers(conn, app_id, event_type)?;
    if endpoints.is_empty() {
        return Ok(None);
    }
    insert_event(conn, app_id, event_type, data, &endpoints, now).map(Some)
}

/// The enabled endpoints of an app subscribed to `event_type`. Asked first, so an app without
/// webhooks costs each state change one indexed read and no more.
fn subscribers(
    conn: &Connection,
    app_id: &str,
    event_type: WebhookEventType,
) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{ENDPOINT_SELECT} WHERE app_id = ?1 AND status = 'enabled'"
    ))?;
    Ok(stmt
        .query_map([app_id], endpoint_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .filter(|e| e.subscribes_to(event_type))
        .map(|e| e.id)
        .collect())
}

/// The event a post's new status stands for, if any: `post.published`,
/// `post.partially_published`, `post.failed`, `post.cancelled`. Called by
/// `posts::recompute_status` when the status changes, in its transaction; a cancel that does
/// not go through it calls this itself after storing the status.
pub fn post_status_changed(
    conn: &Connection,
    post_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    let Some((app_id, status)) = conn
        .query_row(
            "SELECT app_id, status FROM post_requests WHERE id = ?1",
            [post_id],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, PostStatus>(1)?)),
        )
        .optional()?
    else {
        return Ok(None);
    };
    let event_type = match status {
        PostStatus::Published => WebhookEventType::PostPublished,
        PostStatus::PartialSuccess => WebhookEventType::PostPartiallyPublished,
        PostStatus::Failed => WebhookEventType::PostFailed,
        PostStatus::Cancelled => WebhookEventType::PostCancelled,
        PostStatus::Pending | PostStatus::Processing | PostStatus::Scheduled => return Ok(None),
    };
    let endpoints = subscribers(conn, &app_id, event_type)?;
    if endpoints.is_empty() {
        return Ok(None);
    }
    let Some(post) = super::posts::get_any(conn, post_id)? else {
        return Ok(None);
    };
    insert_event(
        conn,
        &app_id,
        event_type,
        wire::post(&post),
        &endpoints,
        now,
    )
    .map(Some)
}

/// `post.deleted`: a `DELETE` of the sent post asked the platforms (or found a result new);
/// the post as `GET` answers it, each platform result with its `deletion`. Called by
/// `deletions::record` in the transaction that stored the results.
pub fn post_deleted(
    conn: &Connection,
    post_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    let event_type = WebhookEventType::PostDeleted;
    let Some(post) = super::posts::get_any(conn, post_id)? else {
        return Ok(None);
    };
    let endpoints = subscribers(conn, &post.app_id, event_type)?;
    if endpoints.is_empty() {
        return Ok(None);
    }
    insert_event(
        conn,
        &post.app_id,
        event_type,
        wire::post(&post),
        &endpoints,
        now,
    )
    .map(Some)
}

/// `post.delivery.updated`: one platform's result became final (published, failed, or failed
/// as `OUTCOME_UNKNOWN`). Called in the transaction that stored it.
pub fn delivery_updated(
    conn: &Connection,
    delivery_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    let event_type = WebhookEventType::PostDeliveryUpdated;
    let Some(delivery) = super::posts::get_delivery(conn, delivery_id)? else {
        return Ok(None);
    };
    if !matches!(
        delivery.status,
        DeliveryStatus::Published | DeliveryStatus::Failed
    ) {
        return Ok(None);
    }
    let (app_id, external_user_id): (String, String) = conn.query_row(
        "SELECT p.app_id, u.external_user_id FROM post_requests p JOIN end_users u ON u.id = p.end_user_id
         WHERE p.id = ?1",
        [&delivery.post_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let endpoints = subscribers(conn, &app_id, event_type)?;
    if endpoints.is_empty() {
        return Ok(None);
    }
    let data = json!({
        "postId": delivery.post_id,
        "externalUserId": external_user_id,
        "platformResult": wire::delivery(&delivery),
    });
    insert_event(conn, &app_id, event_type, data, &endpoints, now).map(Some)
}

/// `connection.connected`, `.disconnected`, `.needs_reconnect` (with `reason`) and
/// `.token_expiring`: `{"externalUserId", "connection", "reason"}` with the API's connection.
pub fn connection_event(
    conn: &Connection,
    connection_id: &str,
    event_type: WebhookEventType,
    reason: Option<(Code, &str)>,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    let Some(connection) = super::connections::get(conn, connection_id)? else {
        return Ok(None);
    };
    let external_user_id: String = conn.query_row(
        "SELECT external_user_id FROM end_users WHERE id = ?1",
        [&connection.end_user_id],
        |r| r.get(0),
    )?;
    let data = json!({
        "externalUserId": external_user_id,
        "connection": wire::connection(&connection, now),
        "reason": reason.map(|(code, message)| json!({"code": code.as_str(), "message": message})),
    });
    enqueue_event(conn, &connection.app_id, event_type, data, now)
}

/// `connect_session.failed`: a connect session ended `failed` or `expired` (the data is the
/// API's connect session, whose `status` and `errorCode` say which).
pub fn connect_session_failed(
    conn: &Connection,
    session_id: &str,
    public_url: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    let Some(session) = super::connect_sessions::get_public(conn, session_id)? else {
        return Ok(None);
    };
    if !matches!(
        session.status,
        ConnectSessionStatus::Failed | ConnectSessionStatus::Expired
    ) {
        return Ok(None);
    }
    let url = super::connect_sessions::connect_url(public_url, &session.id);
    enqueue_event(
        conn,
        &session.app_id,
        WebhookEventType::ConnectSessionFailed,
        wire::connect_session(&session, &url, now),
        now,
    )
}

/// After a charge took an organization's balance from `before` to `after`: `credits.low` when
/// it crossed the organization's threshold, `credits.exhausted` when what is left no longer
/// pays for the same charge again. Sent to every app of the organization.
pub fn credits_charged(
    conn: &Connection,
    org_id: &str,
    before: i64,
    after: i64,
    cost: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    let threshold = super::credits::low_threshold(conn, org_id)?;
    let mut events = Vec::new();
    if before >= threshold && after < threshold {
        events.push((
            WebhookEventType::CreditsLow,
            json!({"organizationId": org_id, "balance": after, "threshold": threshold}),
        ));
    }
    if cost > 0 && after < cost {
        events.push((
            WebhookEventType::CreditsExhausted,
            json!({"organizationId": org_id, "balance": after, "lastCharge": cost}),
        ));
    }
    if events.is_empty() {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached("SELECT id FROM apps WHERE org_id = ?1 ORDER BY id")?;
    let apps: Vec<String> = stmt
        .query_map([org_id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for app_id in &apps {
        for (event_type, data) in &events {
            enqueue_event(conn, app_id, *event_type, data.clone(), now)?;
        }
    }
    Ok(())
}

/// `connection.token_expiring`, once per token: connected accounts whose access token ends
/// within `connections::EXPIRING_SOON` days and cannot be refreshed (no usable refresh token),
/// so the person must connect again. Returns how many were announced.
pub fn warn_expiring_tokens(db: &Db, now: DateTime<Utc>) -> Result<usize> {
    db.write(|tx| {
        let mut stmt = tx.prepare(
            "SELECT id, access_token_expires_at FROM social_connections
             WHERE status = 'connected' AND needs_reconnect = 0 AND access_token_enc IS NOT NULL
               AND access_token_expires_at > ?1 AND access_token_expires_at <= ?2
               AND (refresh_token_enc IS NULL OR (refresh_token_expires_at IS NOT NULL AND refresh_token_expires_at <= access_token_expires_at))
               AND (expiry_warned_for IS NULL OR expiry_warned_for != access_token_expires_at)
             LIMIT 500",
        )?;
        let due: Vec<(String, String)> = stmt
            .query_map(
                params![
                    ts(now),
                    ts(now + Duration::days(super::connections::EXPIRING_SOON))
                ],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .collect::<rusqlite::Result<_>>()?;
        for (id, expires_at) in &due {
            tx.execute(
                "UPDATE social_connections SET expiry_warned_for = ?2 WHERE id = ?1",
                params![id, expires_at],
            )?;
            connection_event(
                tx,
                id,
                WebhookEventType::ConnectionTokenExpiring,
                Some((
                    Code::TokenExpired,
                    &format!(
                        "The access token expires at {expires_at} and cannot be refreshed; send the user through a new connect session before then."
                    ),
                )),
                now,
            )?;
        }
        Ok(due.len())
    })
}

/// One delivery of an event to an endpoint, as the API and the dashboard show it.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    pub endpoint_id: String,
    pub status: WebhookDeliveryStatus,
    pub attempt_count: i64,
    pub next_attempt_at: Option<String>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

const DELIVERY_SELECT: &str =
    "SELECT d.id, d.event_id, e.type, d.endpoint_id, d.status, d.attempt_count, d.next_attempt_at,
    d.last_status_code, d.last_error, d.created_at, d.updated_at
    FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id";

fn delivery_from_row(r: &rusqlite::Row) -> rusqlite::Result<DeliveryRecord> {
    Ok(DeliveryRecord {
        id: r.get(0)?,
        event_id: r.get(1)?,
        event_type: r.get(2)?,
        endpoint_id: r.get(3)?,
        status: r.get(4)?,
        attempt_count: r.get(5)?,
        next_attempt_at: r.get(6)?,
        last_status_code: r.get(7)?,
        last_error: r.get(8)?,
        created_at: r.get(9)?,
        updated_at: r.get(10)?,
    })
}

/// An endpoint's deliveries, newest first.
pub fn recent_deliveries(
    conn: &Connection,
    endpoint_id: &str,
    limit: i64,
) -> Result<Vec<DeliveryRecord>> {
    let mut stmt = conn.prepare(&format!(
        "{DELIVERY_SELECT} WHERE d.endpoint_id = ?1 ORDER BY d.created_at DESC, d.rowid DESC LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![endpoint_id, limit], delivery_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn get_delivery(conn: &Connection, id: &str) -> Result<Option<DeliveryRecord>> {
    Ok(conn
        .query_row(
            &format!("{DELIVERY_SELECT} WHERE d.id = ?1"),
            [id],
            delivery_from_row,
        )
        .optional()?)
}

/// One HTTP attempt of a delivery.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub attempt_number: i64,
    pub started_at: String,
    pub duration_ms: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
}

pub fn attempts(conn: &Connection, delivery_id: &str) -> Result<Vec<AttemptRecord>> {
    let mut stmt = conn.prepare(
        "SELECT attempt_number, started_at, duration_ms, status_code, error FROM webhook_attempts
         WHERE delivery_id = ?1 ORDER BY attempt_number",
    )?;
    let rows = stmt.query_map([delivery_id], |r| {
        Ok(AttemptRecord {
            attempt_number: r.get(0)?,
            started_at: r.get(1)?,
            duration_ms: r.get(2)?,
            status_code: r.get(3)?,
            error: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn require_enabled(endpoint: &Endpoint, what: &str) -> Result<()> {
    if endpoint.status == WebhookEndpointStatus::Disabled {
        return Err(Error::new(
            Code::WebhookEndpointDisabled,
            format!(
                "Webhook endpoint {} is disabled ({}), so no {what} is sent to it. Enable it first (PATCH with {{\"enabled\": true}}).",
                endpoint.id,
                endpoint
                    .disabled_reason
                    .as_deref()
                    .unwrap_or("no reason recorded")
            ),
        ));
    }
    Ok(())
}

/// Queues a `webhook.test` event for one endpoint (whatever it subscribes to); `None` when
/// there is no such endpoint. Returns the delivery, `pending` until the sender has tried it.
pub fn send_test(
    db: &Db,
    actor: &str,
    app_id: &str,
    endpoint_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<DeliveryRecord>> {
    db.write(|tx| {
        let Some(endpoint) = get_endpoint(tx, app_id, endpoint_id)? else {
            return Ok(None);
        };
        require_enabled(&endpoint, "test event")?;
        let data = json!({
            "endpointId": endpoint.id,
            "message": "A test event sent on request. It reports no change.",
            "requestedBy": actor,
        });
        let event_id = insert_event(
            tx,
            app_id,
            WebhookEventType::WebhookTest,
            data,
            std::slice::from_ref(&endpoint.id),
            now,
        )?;
        Ok(tx
            .query_row(
                &format!("{DELIVERY_SELECT} WHERE d.event_id = ?1"),
                [&event_id],
                delivery_from_row,
            )
            .optional()?)
    })
}

/// Sends a delivery again now, with the same `webhook-id` and body (receivers deduplicate on
/// the id); a failure starts the retry schedule afresh. `None` when the app has no such
/// delivery.
pub fn resend(
    db: &Db,
    actor: &str,
    app_id: &str,
    delivery_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<DeliveryRecord>> {
    db.write(|tx| {
        let Some(delivery) = get_delivery(tx, delivery_id)? else {
            return Ok(None);
        };
        let Some(endpoint) = get_endpoint(tx, app_id, &delivery.endpoint_id)? else {
            return Ok(None);
        };
        require_enabled(&endpoint, "resend")?;
        tx.execute(
            "UPDATE webhook_deliveries SET status = 'pending', retry_step = 0, next_attempt_at = ?2, updated_at = ?2
             WHERE id = ?1",
            params![delivery_id, ts(now)],
        )?;
        audit::record(
            tx,
            actor,
            "webhook_delivery.resend",
            "webhook_delivery",
            Some(delivery_id),
            Some(&json!({"appId": app_id, "endpointId": endpoint.id, "eventId": delivery.event_id})),
            now,
        )?;
        get_delivery(tx, delivery_id)
    })
}

// ----- the sender's side -----

/// Pending deliveries whose time has come, at most `per_endpoint` of each endpoint (the
/// earliest), so one endpoint's backlog never hides another's events. `(delivery, endpoint)`.
pub fn due_deliveries(
    conn: &Connection,
    now: DateTime<Utc>,
    per_endpoint: usize,
    limit: usize,
) -> Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, endpoint_id FROM (
             SELECT id, endpoint_id, next_attempt_at,
                    ROW_NUMBER() OVER (PARTITION BY endpoint_id ORDER BY next_attempt_at, rowid) AS n
             FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ?1)
         WHERE n <= ?2 ORDER BY next_attempt_at LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![ts(now), per_endpoint as i64, limit as i64], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// When the next pending delivery is due, if any is pending.
pub fn next_due_at(conn: &Connection) -> Result<Option<DateTime<Utc>>> {
    let at: Option<String> = conn.query_row(
        "SELECT MIN(next_attempt_at) FROM webhook_deliveries WHERE status = 'pending'",
        [],
        |r| r.get(0),
    )?;
    Ok(at.as_deref().map(parse_ts))
}

/// Everything one attempt sends. The secrets are the current one and, during a rotation
/// window, the previous one: each signs, and both signatures go in `webhook-signature`.
pub struct Outgoing {
    pub delivery_id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub url: String,
    pub payload: String,
    pub secrets: Vec<String>,
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing")
            .field("delivery_id", &self.delivery_id)
            .field("event_id", &self.event_id)
            .field("url", &self.url)
            .field("secrets", &format!("<{} redacted>", self.secrets.len()))
            .finish()
    }
}

/// What the sender needs for one attempt of a delivery, if it is still pending on an enabled
/// endpoint. A secret that no longer opens (the master key changed) fails the attempt rather
/// than sending unsigned.
pub fn outgoing(
    conn: &Connection,
    sealer: &Sealer,
    delivery_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<Outgoing>> {
    let row = conn
        .query_row(
            "SELECT d.endpoint_id, d.event_id, p.url, e.payload, p.secret_enc, p.previous_secret_enc, p.previous_secret_expires_at
             FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
                  JOIN webhook_endpoints p ON p.id = d.endpoint_id
             WHERE d.id = ?1 AND d.status = 'pending' AND p.status = 'enabled'",
            [delivery_id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Vec<u8>>(4)?,
                    r.get::<_, Option<Vec<u8>>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            },
        )
        .optional()?;
    let Some((endpoint_id, event_id, url, payload, secret, previous, previous_until)) = row else {
        return Ok(None);
    };
    let mut secrets = vec![sealer.open(&secret).ok_or_else(|| {
        Error::internal(format!(
            "the signing secret of webhook endpoint {endpoint_id} does not open with this instance's key"
        ))
    })?];
    if let (Some(previous), Some(until)) = (previous, previous_until)
        && parse_ts(&until) > now
        && let Some(previous) = sealer.open(&previous)
    {
        secrets.push(previous);
    }
    Ok(Some(Outgoing {
        delivery_id: delivery_id.to_string(),
        endpoint_id,
        event_id,
        url,
        payload,
        secrets,
    }))
}

/// How one attempt ended, as the sender saw it.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub started_at: DateTime<Utc>,
    pub duration_ms: i64,
    /// The HTTP status the endpoint answered, if it answered.
    pub status_code: Option<u16>,
    /// Why it failed (a transport error, or the start of the answer's body).
    pub error: Option<String>,
    /// The endpoint's `Retry-After`, honoured for the next attempt.
    pub retry_after: Option<std::time::Duration>,
}

impl AttemptResult {
    pub fn succeeded(&self) -> bool {
        self.status_code.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The retry rules, from the settings.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// The waits after the first, second, ... failed attempt of a series.
    pub schedule: Vec<std::time::Duration>,
    /// An endpoint whose every attempt failed for this long is disabled.
    pub disable_after: Duration,
}

impl RetryPolicy {
    /// The wait after the `step`-th failure (1-based), with up to 10% of jitter so endpoints
    /// that failed together are not retried together; `None` once the schedule is spent.
    pub fn wait_after(&self, step: usize) -> Option<Duration> {
        let base = *self.schedule.get(step.checked_sub(1)?)?;
        let base_ms = base.as_millis().min(i64::MAX as u128 / 2) as i64;
        let jitter_range = base_ms / 10 + 1;
        let jitter = (u64::from_le_bytes(random_bytes::<8>()) % jitter_range as u64) as i64;
        Some(Duration::milliseconds(base_ms + jitter))
    }
}

/// What `record_attempt` decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    Succeeded,
    RetryAt(DateTime<Utc>),
    /// The retries ran out.
    GaveUp,
    /// The endpoint was disabled (410, or failing for `disable_after`); the reason.
    EndpointDisabled(String),
    /// The delivery was no longer pending (resolved meanwhile); only the attempt was kept.
    Stale,
}

/// Disables an endpoint and fails its pending deliveries, recording why.
fn disable(conn: &Connection, endpoint_id: &str, reason: &str, now: DateTime<Utc>) -> Result<()> {
    conn.execute(
        "UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = ?2, disabled_at = ?3, updated_at = ?3
         WHERE id = ?1",
        params![endpoint_id, reason, ts(now)],
    )?;
    conn.execute(
        "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, updated_at = ?3,
             last_error = COALESCE(last_error || '; ', '') || ?2
         WHERE endpoint_id = ?1 AND status = 'pending'",
        params![
            endpoint_id,
            format!("not sent: the endpoint was disabled ({reason})"),
            ts(now)
        ],
    )?;
    Ok(())
}

/// Records one attempt and decides what follows, in one transaction: success, a retry on the
/// schedule (never sooner than the endpoint's `Retry-After`), giving up, or disabling the
/// endpoint (at once on `410 Gone`; after failing every attempt for `disable_after`, with an
/// audit-log entry the dashboard shows).
pub fn record_attempt(
    db: &Db,
    outgoing: &Outgoing,
    result: &AttemptResult,
    policy: &RetryPolicy,
    now: DateTime<Utc>,
) -> Result<AttemptOutcome> {
    db.write(|tx| {
        let row: Option<(WebhookDeliveryStatus, i64, i64, String)> = tx
            .query_row(
                "SELECT d.status, d.attempt_count, d.retry_step, p.app_id FROM webhook_deliveries d
                 JOIN webhook_endpoints p ON p.id = d.endpoint_id WHERE d.id = ?1",
                [&outgoing.delivery_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        // The endpoint was removed while the request was out: nothing left to record.
        let Some((status, attempt_count, retry_step, app_id)) = row else {
            return Ok(AttemptOutcome::Stale);
        };
        let attempt_number = attempt_count + 1;
        tx.execute(
            "INSERT INTO webhook_attempts (delivery_id, attempt_number, started_at, duration_ms, status_code, error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                outgoing.delivery_id,
                attempt_number,
                ts(result.started_at),
                result.duration_ms,
                result.status_code,
                result.error
            ],
        )?;
        tx.execute(
            "UPDATE webhook_deliveries SET attempt_count = ?2, last_status_code = ?3, last_error = ?4, updated_at = ?5
             WHERE id = ?1",
            params![outgoing.delivery_id, attempt_number, result.status_code, result.error, ts(now)],
        )?;
        if status != WebhookDeliveryStatus::Pending {
            return Ok(AttemptOutcome::Stale);
        }
        if result.succeeded() {
            tx.execute(
                "UPDATE webhook_deliveries SET status = 'succeeded', next_attempt_at = NULL WHERE id = ?1",
                [&outgoing.delivery_id],
            )?;
            tx.execute(
                "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ?1",
                [&outgoing.endpoint_id],
            )?;
            return Ok(AttemptOutcome::Succeeded);
        }
        let disable_for = |reason: String| -> Result<AttemptOutcome> {
            disable(tx, &outgoing.endpoint_id, &reason, now)?;
            audit::record(
                tx,
                SENDER_ACTOR,
                "webhook_endpoint.disable",
                "webhook_endpoint",
                Some(&outgoing.endpoint_id),
                Some(&json!({"appId": app_id, "url": outgoing.url, "reason": reason})),
                now,
            )?;
            Ok(AttemptOutcome::EndpointDisabled(reason))
        };
        if result.status_code == Some(410) {
            return disable_for(
                "the endpoint answered 410 Gone, which says it wants no more webhooks".into(),
            );
        }
        tx.execute(
            "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, ?2) WHERE id = ?1",
            params![outgoing.endpoint_id, ts(now)],
        )?;
        let failing_since: String = tx.query_row(
            "SELECT failing_since FROM webhook_endpoints WHERE id = ?1",
            [&outgoing.endpoint_id],
            |r| r.get(0),
        )?;
        if now - parse_ts(&failing_since) >= policy.disable_after {
            return disable_for(format!(
                "every attempt failed since {failing_since} ({} hours)",
                policy.disable_after.num_hours()
            ));
        }
        let step = retry_step as usize + 1;
        match policy.wait_after(step) {
            Some(wait) => {
                let hinted = result
                    .retry_after
                    .map(|h| Duration::seconds(h.as_secs().min(86_400) as i64))
                    .unwrap_or_default();
                let at = now + wait.max(hinted);
                tx.execute(
                    "UPDATE webhook_deliveries SET retry_step = ?2, next_attempt_at = ?3 WHERE id = ?1",
                    params![outgoing.delivery_id, step as i64, ts(at)],
                )?;
                Ok(AttemptOutcome::RetryAt(at))
            }
            None => {
                tx.execute(
                    "UPDATE webhook_deliveries SET status = 'failed', retry_step = ?2, next_attempt_at = NULL WHERE id = ?1",
                    params![outgoing.delivery_id, step as i64],
                )?;
                Ok(AttemptOutcome::GaveUp)
            }
        }
    })
}

/// An attempt that could not be made at all (the secret does not open): recorded like a
/// failed attempt, so the delivery follows the schedule and the dashboard says why.
pub fn unsendable(delivery_id: &str, endpoint_id: &str) -> Outgoing {
    Outgoing {
        delivery_id: delivery_id.to_string(),
        endpoint_id: endpoint_id.to_string(),
        event_id: String::new(),
        url: String::new(),
        payload: String::new(),
        secrets: Vec::new(),
    }
}

/// Forgets events older than `retention` whose deliveries have all ended (and with them
/// their deliveries and attempts), and older attempts of deliveries still going. Returns the
/// rows deleted.
pub fn prune(db: &Db, retention: Duration, now: DateTime<Utc>) -> Result<usize> {
    let cutoff = ts(now - retention);
    db.write(|tx| {
        let events = tx.execute(
            "DELETE FROM webhook_events WHERE created_at < ?1
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id AND d.status = 'pending')",
            [&cutoff],
        )?;
        let attempts = tx.execute(
            "DELETE FROM webhook_attempts WHERE started_at < ?1",
            [&cutoff],
        )?;
        Ok(events + attempts)
    })
}

/// Endpoints the sender disabled, newest first, for the dashboard's overview.
pub fn disabled_endpoints(conn: &Connection, limit: i64) -> Result<Vec<(Endpoint, String)>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT e.*, a.name FROM ({ENDPOINT_SELECT} WHERE status = 'disabled') e JOIN apps a ON a.id = e.app_id
         ORDER BY e.disabled_at DESC LIMIT ?1"
    ))?;
    let rows = stmt.query_map([limit], |r| Ok((endpoint_from_row(r)?, r.get(13)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database at the current schema with an org, an app with one endpoint for every event
    /// and one for `post.failed` only, an end user, and a scheduled post with one delivery.
    fn database() -> (tempfile::TempDir, Db, Sealer) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("w.db"), 2).unwrap();
        let sealer = Sealer::new(&crate::crypto::MasterKey::from_material(
            "unit test key material, 32+ chars",
        ));
        let at = "2026-03-21T08:00:00.000Z";
        db.write(|tx| {
            tx.execute_batch(&format!(
                "INSERT INTO organizations (id, name, credit_balance, created_at, updated_at) VALUES ('o1', 'Org', 50, '{at}', '{at}');
                 INSERT INTO apps (id, org_id, name, created_at, updated_at) VALUES ('a1', 'o1', 'App', '{at}', '{at}');
                 INSERT INTO end_users (id, app_id, external_user_id, created_at, updated_at) VALUES ('u1', 'a1', 'alex', '{at}', '{at}');
                 INSERT INTO post_requests (id, app_id, end_user_id, mode, status, content, credit_cost, schedule_at, created_at, updated_at)
                     VALUES ('p1', 'a1', 'u1', 'scheduled', 'scheduled', 'later', 8, '{at}', '{at}', '{at}');
                 INSERT INTO post_deliveries (id, post_id, platform, status, created_at, updated_at)
                     VALUES ('d1', 'p1', 'linkedin', 'pending', '{at}', '{at}');"
            ))?;
            Ok(())
        })
        .unwrap();
        let now = parse_ts(at);
        for types in [None, Some(vec![WebhookEventType::PostFailed])] {
            let new = NewEndpoint {
                url: "https://hooks.example.com/in".into(),
                description: None,
                event_types: types,
            };
            create_endpoint(&db, &sealer, "test", "a1", new, false, now).unwrap();
        }
        (dir, db, sealer)
    }

    fn events(db: &Db) -> Vec<(String, i64)> {
        db.read(|c| {
            let mut stmt = c.prepare(
                "SELECT e.type, (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.event_id = e.id)
                 FROM webhook_events e ORDER BY e.rowid",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .unwrap()
    }

    /// The cancel of the post lifecycle only has to store the status through
    /// `posts::recompute_status`: the `post.cancelled` event comes with it, to the endpoints
    /// subscribed to it.
    #[test]
    fn a_cancelled_post_is_an_event_in_the_cancelling_transaction() {
        let (_dir, db, _) = database();
        let now = parse_ts("2026-03-21T09:00:00.000Z");
        db.write(|tx| {
            tx.execute(
                "UPDATE post_deliveries SET status = 'cancelled' WHERE id = 'd1'",
                [],
            )?;
            super::super::posts::recompute_status(tx, "p1", now)
        })
        .unwrap();
        assert_eq!(events(&db), [("post.cancelled".to_string(), 1)]);
        let payload: String = db
            .read(|c| Ok(c.query_row("SELECT payload FROM webhook_events", [], |r| r.get(0))?))
            .unwrap();
        let body: Value = serde_json::from_str(&payload).unwrap();
        assert_eq!(body["type"], "post.cancelled");
        assert_eq!(body["timestamp"], "2026-03-21T09:00:00.000Z");
        assert_eq!(body["data"]["id"], "p1");
        assert_eq!(body["data"]["status"], "cancelled");
    }

    /// A change rolled back takes its event with it; an event nobody subscribed to is not
    /// stored at all.
    #[test]
    fn events_live_and_die_with_their_transaction() {
        let (_dir, db, _) = database();
        let now = parse_ts("2026-03-21T09:00:00.000Z");
        let failed: Result<()> = db.write(|tx| {
            enqueue_event(tx, "a1", WebhookEventType::PostFailed, json!({}), now)?;
            Err(Error::internal(
                "the change fails after its event was written",
            ))
        });
        assert!(failed.is_err());
        assert_eq!(events(&db), []);
        db.write(|tx| enqueue_event(tx, "a1", WebhookEventType::PostFailed, json!({}), now))
            .unwrap();
        db.write(|tx| {
            enqueue_event(
                tx,
                "other-app",
                WebhookEventType::PostFailed,
                json!({}),
                now,
            )
        })
        .unwrap();
        assert_eq!(events(&db), [("post.failed".to_string(), 2)]);
    }

    #[test]
    fn secrets_are_whsec_and_24_to_64_bytes_of_base64() {
        let secret = new_secret();
        let encoded = secret.strip_prefix("whsec_").expect("the prefix");
        let bytes = crate::crypto::base64_standard_decode(encoded).expect("base64");
        assert!((24..=64).contains(&bytes.len()), "{}", bytes.len());
        assert_ne!(secret, new_secret());
    }

    #[test]
    fn message_ids_never_hold_the_separator() {
        for _ in 0..100 {
            let id = new_message_id();
            assert!(id.starts_with("msg_") && !id.contains('.'), "{id}");
        }
    }

    #[test]
    fn internal_urls_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "https://10.0.0.5/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]:9000/hook",
            "http://[fd00::1]/x",
        ] {
            let error = validate_url(url, false).expect_err(url);
            assert_eq!(error.code, Code::WebhookUrlNotAllowed, "{url}");
            assert!(
                error.message.contains("loopback, private or link-local"),
                "{error}"
            );
            assert!(validate_url(url, true).is_ok(), "{url}");
        }
        for (url, why) in [
            ("ftp://example.com/x", "absolute http(s)"),
            ("https://user:pw@example.com/x", "user information"),
            ("https:///x", "no host"),
            ("https://example.com/a b", "spaces"),
        ] {
            let error = validate_url(url, true).expect_err(url);
            assert!(error.message.contains(why), "{url}: {error}");
        }
        assert_eq!(
            validate_url(" https://hooks.example.com/in ", false).unwrap(),
            "https://hooks.example.com/in"
        );
    }

    #[test]
    fn event_types_are_checked_and_test_events_are_not_subscribable() {
        assert_eq!(
            parse_event_types(&["post.failed".into(), "post.failed".into()]).unwrap(),
            [WebhookEventType::PostFailed]
        );
        assert_eq!(
            parse_event_types(&["post.deleted".into()]).unwrap(),
            [WebhookEventType::PostDeleted]
        );
        let error = parse_event_types(&["post.removed".into()]).unwrap_err();
        assert!(error.message.contains("eventTypes[0]") && error.message.contains("credits.low"));
        assert!(parse_event_types(&["webhook.test".into()]).is_err());
        assert!(parse_event_types(&[]).is_err());
    }

    #[test]
    fn the_schedule_waits_each_step_with_at_most_ten_percent_jitter() {
        let policy = RetryPolicy {
            schedule: vec![
                std::time::Duration::from_secs(5),
                std::time::Duration::from_secs(300),
            ],
            disable_after: Duration::days(3),
        };
        for _ in 0..50 {
            let first = policy.wait_after(1).unwrap();
            assert!(
                first >= Duration::seconds(5) && first <= Duration::milliseconds(5_500),
                "{first}"
            );
            let second = policy.wait_after(2).unwrap();
            assert!(second >= Duration::seconds(300) && second <= Duration::seconds(330));
        }
        assert_eq!(policy.wait_after(3), None);
        assert_eq!(policy.wait_after(0), None);
    }
}
