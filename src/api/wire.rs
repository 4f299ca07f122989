//! The spec's wire format: camelCase fields, `null` for absent optional fields (never
//! omitted), lower-case statuses (each state enum's word), codes as the catalogue names them,
//! timestamps as stored (`...000Z`). Every response body of the public API is built here.

use crate::error::Code;
use crate::services::connect_sessions::{self, ConnectSession, ConnectSessionStatus};
use crate::services::connections::SocialConnection;
use crate::services::deletions::Deletion;
use crate::services::end_users::{ConnectionSummary, EndUser};
use crate::services::posts::{Attempt, Delivery, PostRequest};
use crate::services::webhooks::{AttemptRecord, DeliveryRecord, Endpoint};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

pub fn end_user(user: &EndUser) -> Value {
    json!({
        "id": user.id,
        "externalUserId": user.external_user_id,
        "displayName": user.display_name,
        "email": user.email,
        "metadata": user.metadata,
        "createdAt": user.created_at,
        "updatedAt": user.updated_at,
    })
}

pub fn end_user_with_summary(user: &EndUser, summary: ConnectionSummary) -> Value {
    let mut value = end_user(user);
    value["connectionSummary"] = json!({
        "total": summary.total,
        "connected": summary.connected,
        "failed": summary.failed,
    });
    value
}

pub fn connection(c: &SocialConnection, now: DateTime<Utc>) -> Value {
    json!({
        "id": c.id,
        "platform": c.platform.key(),
        "status": c.status.as_str(),
        "tokenStatus": c.token_status(now).as_str(),
        "canAutoRefresh": c.can_auto_refresh(now),
        "needsReconnect": c.needs_reconnect,
        "remoteAccountId": c.remote_account_id,
        "remoteUsername": c.remote_username,
        "accountType": c.account_type,
        "accessTokenExpiresAt": c.access_token_expires_at,
        "refreshTokenExpiresAt": c.refresh_token_expires_at,
        "lastErrorCode": c.last_error_code,
        "lastErrorMessage": c.last_error_message,
        "lastSyncedAt": c.last_synced_at,
        "createdAt": c.created_at,
        "updatedAt": c.updated_at,
    })
}

pub fn connect_session(s: &ConnectSession, connect_url: &str, now: DateTime<Utc>) -> Value {
    let status = s.effective_status(now);
    // Expired by the clock, not yet by the cleanup job: say what the job will store.
    let (error_code, error_message) = if status == ConnectSessionStatus::Expired && s.is_open() {
        (
            Some(Code::SessionExpired.as_str().to_string()),
            Some(connect_sessions::EXPIRED_MESSAGE.to_string()),
        )
    } else {
        (s.error_code.clone(), s.error_message.clone())
    };
    json!({
        "id": s.id,
        "status": status.as_str(),
        "platform": s.platform.key(),
        "externalUserId": s.external_user_id,
        "connectUrl": connect_url,
        "errorCode": error_code,
        "errorMessage": error_message,
        "createdAt": s.created_at,
        "updatedAt": s.updated_at,
        "completedAt": s.completed_at,
        "expiresAt": s.expires_at,
    })
}

pub fn delivery(d: &Delivery) -> Value {
    json!({
        "id": d.id,
        "platform": d.platform.key(),
        "status": d.status.as_str(),
        "externalId": d.external_id,
        "url": d.external_url,
        "errorCode": d.error_code,
        "errorMessage": d.error_message,
        "attemptCount": d.attempt_count,
        "createdAt": d.created_at,
        "updatedAt": d.updated_at,
        "deletion": d.deletion.as_ref().map(deletion),
    })
}

/// What deleting the sent post did on one platform (`platformResults[].deletion`).
pub fn deletion(d: &Deletion) -> Value {
    json!({
        "status": d.status.as_str(),
        "alreadyGone": d.already_gone,
        "errorCode": d.error_code,
        "errorMessage": d.error_message,
        "attemptCount": d.attempt_count,
        "deletedAt": d.deleted_at,
        "updatedAt": d.updated_at,
    })
}

pub fn post(p: &PostRequest) -> Value {
    json!({
        "id": p.id,
        "mode": p.mode.as_str(),
        "status": p.status.as_str(),
        "externalUserId": p.external_user_id,
        "title": p.title,
        "content": p.content,
        "mediaUrl": p.media_url,
        "thumbnailUrl": p.thumbnail_url,
        "metadata": p.metadata,
        "platformOptions": p.platform_options,
        "creditCost": p.credit_cost,
        "scheduleAt": p.schedule_at,
        "processedAt": p.processed_at,
        "createdAt": p.created_at,
        "updatedAt": p.updated_at,
        "platformResults": p.deliveries.iter().map(delivery).collect::<Vec<_>>(),
    })
}

/// One row of `GET /v1/posts/:id/attempts`.
pub fn attempt(a: &Attempt) -> Value {
    json!({
        "deliveryId": a.delivery_id,
        "platform": a.platform.key(),
        "attemptNumber": a.attempt_number,
        "step": a.step.map(|s| s.as_str()),
        "outcome": a.outcome,
        "httpStatus": a.http_status,
        "errorCode": a.error_code,
        "errorMessage": a.error_message,
        "durationMs": a.duration_ms,
        "startedAt": a.started_at,
        "finishedAt": a.finished_at,
    })
}

/// A webhook endpoint (never its secret: that is added once, by the answers that make one).
pub fn webhook_endpoint(e: &Endpoint, now: DateTime<Utc>) -> Value {
    json!({
        "id": e.id,
        "url": e.url,
        "description": e.description,
        "eventTypes": e.event_types.as_ref().map(|types| types.iter().map(|t| t.as_str()).collect::<Vec<_>>()),
        "status": e.status.as_str(),
        "disabledReason": e.disabled_reason,
        "disabledAt": e.disabled_at,
        "secretRotatedAt": e.secret_rotated_at,
        "previousSecretExpiresAt": e.previous_secret_expires_at.as_ref().filter(|_| e.in_rotation_window(now)),
        "createdAt": e.created_at,
        "updatedAt": e.updated_at,
    })
}

/// A webhook endpoint with its signing secret, in the one answer that shows it.
pub fn webhook_endpoint_with_secret(e: &Endpoint, secret: &str, now: DateTime<Utc>) -> Value {
    let mut value = webhook_endpoint(e, now);
    value["secret"] = json!(secret);
    value
}

/// One event's delivery to one endpoint; `attempts` when given.
pub fn webhook_delivery(d: &DeliveryRecord, attempts: Option<&[AttemptRecord]>) -> Value {
    let mut value = json!({
        "id": d.id,
        "eventId": d.event_id,
        "eventType": d.event_type,
        "endpointId": d.endpoint_id,
        "status": d.status.as_str(),
        "attemptCount": d.attempt_count,
        "nextAttemptAt": d.next_attempt_at,
        "lastStatusCode": d.last_status_code,
        "lastError": d.last_error,
        "createdAt": d.created_at,
        "updatedAt": d.updated_at,
    });
    if let Some(attempts) = attempts {
        value["attempts"] = attempts
            .iter()
            .map(|a| {
                json!({
                    "attemptNumber": a.attempt_number,
                    "startedAt": a.started_at,
                    "durationMs": a.duration_ms,
                    "statusCode": a.status_code,
                    "error": a.error,
                })
            })
            .collect();
    }
    value
}
