//! Meta's Graph API error envelope, shared by the Facebook and Instagram adapters:
//! `{"error":{"message","type","code","error_subcode","is_transient",...}}`, and how its codes
//! map to the engine's outcome classes. Reference: `../shared/providers/`, parts 3.4 and 4.5.

use super::oauth::token_endpoint_failure;
use super::{HttpAnswer, ProviderError, clip};
use crate::error::Code;
use serde_json::Value;
use std::time::Duration;

/// One Graph error, as read from an answer.
#[derive(Debug, Clone, Default)]
pub struct GraphError {
    pub status: u16,
    pub code: Option<i64>,
    pub subcode: Option<i64>,
    pub message: String,
    pub user_message: Option<String>,
    pub is_transient: bool,
}

impl GraphError {
    /// Reads the envelope; an answer without one keeps only its status.
    pub fn read(answer: &HttpAnswer) -> GraphError {
        let body = answer.json();
        let error = &body["error"];
        // Instagram's OAuth host still answers in the old shape: `{"error_type","code","error_message"}`.
        let message = error["message"]
            .as_str()
            .or_else(|| body["error_message"].as_str())
            .map(|m| clip(m, 300))
            .unwrap_or_else(|| format!("HTTP {}", answer.status));
        GraphError {
            status: answer.status,
            code: error["code"].as_i64().or_else(|| body["code"].as_i64()),
            subcode: error["error_subcode"].as_i64(),
            message,
            user_message: error["error_user_msg"].as_str().map(|m| clip(m, 300)),
            is_transient: error["is_transient"].as_bool().unwrap_or(false),
        }
    }

    /// The platform's words, with the user-facing explanation when Meta gave one.
    pub fn describe(&self) -> String {
        let codes = match (self.code, self.subcode) {
            (Some(code), Some(sub)) => format!(" (code {code}, subcode {sub})"),
            (Some(code), None) => format!(" (code {code})"),
            _ => String::new(),
        };
        match &self.user_message {
            Some(user) if !self.message.contains(user.as_str()) => {
                format!("{}: {user}{codes}", self.message)
            }
            _ => format!("{}{codes}", self.message),
        }
    }

    /// Throttling codes: app (4), user (17), Page (32), custom (613), app limit (341) and the
    /// Business Use Case throttles (80000-80014).
    pub fn is_throttle(&self) -> bool {
        matches!(self.code, Some(4 | 17 | 32 | 341 | 613 | 80_000..=80_014))
    }

    /// An access token Meta no longer accepts: 190 (expired, invalidated, app removed) and the
    /// old session code 102.
    pub fn is_token_error(&self) -> bool {
        matches!(self.code, Some(190 | 102))
    }
}

/// How long Meta asks to wait, from `X-Business-Use-Case-Usage`
/// (`estimated_time_to_regain_access`, minutes); Meta sends no `Retry-After`.
pub fn regain_access_after(answer: &HttpAnswer) -> Option<Duration> {
    let header = answer.header("x-business-use-case-usage")?;
    let usage: Value = serde_json::from_str(header).ok()?;
    let minutes = usage
        .as_object()?
        .values()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|entry| entry["estimated_time_to_regain_access"].as_u64())
        .max()?;
    (minutes > 0).then(|| Duration::from_secs(minutes * 60))
}

/// Maps a failed Graph call to the engine's classes. `platform` names the platform in messages.
pub fn classify(platform: &str, answer: &HttpAnswer) -> ProviderError {
    let error = GraphError::read(answer);
    classify_error(platform, &error, answer)
}

pub fn classify_error(platform: &str, error: &GraphError, answer: &HttpAnswer) -> ProviderError {
    let text = error.describe();
    if error.is_token_error() || (answer.status == 401 && error.code.is_none()) {
        return ProviderError::Unauthorized {
            message: format!("{platform} refused the access token: {text}"),
        };
    }
    if error.is_throttle() || answer.status == 429 {
        return ProviderError::RateLimited {
            retry_after: regain_access_after(answer).or(answer.retry_after),
            message: format!("{platform} rate limit reached: {text}"),
        };
    }
    match error.code {
        Some(506) => ProviderError::Rejected {
            code: Code::DuplicatePost,
            message: format!("{platform} rejected the post as a duplicate: {text}"),
        },
        Some(368) => ProviderError::Rejected {
            code: Code::PlatformRejected,
            message: format!(
                "{platform} temporarily blocks this account from posting for policy reasons: {text}"
            ),
        },
        // Unknown (1) and service (2) errors, or anything Meta marks transient, and every
        // 5xx: retried only when the call could not have published (`CallKind`).
        Some(1 | 2) => transient(platform, error, &text, answer),
        _ if error.is_transient || answer.status >= 500 => {
            transient(platform, error, &text, answer)
        }
        _ => ProviderError::Rejected {
            code: Code::PlatformRejected,
            message: format!("{platform} rejected the request: {text}"),
        },
    }
}

fn transient(platform: &str, error: &GraphError, text: &str, answer: &HttpAnswer) -> ProviderError {
    ProviderError::Transient {
        status: if error.status >= 500 {
            error.status
        } else {
            503
        },
        message: format!("{platform} had a server error: {text}"),
        call: answer.call,
    }
}

/// A failed token call (code exchange, long-lived exchange, refresh): 5xx is transient,
/// anything else an OAuth refusal the engine turns into "reconnect".
pub fn oauth_error(platform: &str, answer: &HttpAnswer) -> ProviderError {
    if let Some(failure) = token_endpoint_failure(answer, &format!("{platform}'s")) {
        return failure;
    }
    let error = GraphError::read(answer);
    let body = answer.json();
    let kind = body["error"]["type"]
        .as_str()
        .or_else(|| body["error_type"].as_str())
        .unwrap_or("OAuthException");
    ProviderError::OAuth {
        error: kind.to_string(),
        message: format!("{platform}: {}", error.describe()),
    }
}

/// `appsecret_proof` (developers.facebook.com/docs/graph-api/guides/secure-requests): the
/// HMAC-SHA256 of the access token keyed with the app secret, in hex. Apps with "Require App
/// Secret" on refuse Graph calls without it; Facebook and Instagram both send it on every call.
pub fn appsecret_proof(app_secret: &str, access_token: &str) -> String {
    crate::crypto::hex(&crate::crypto::hmac_sha256(
        app_secret.as_bytes(),
        access_token.as_bytes(),
    ))
}

/// A Graph timestamp: `2026-03-21T08:00:00+0000` (Graph's ISO 8601 without the colon in the
/// offset), or RFC 3339.
pub fn parse_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// A Graph id from a JSON string or number (Instagram user ids exceed 2^53 and arrive as
/// numbers from one endpoint): always kept as a string.
pub fn id_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
