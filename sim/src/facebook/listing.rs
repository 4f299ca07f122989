//! Graph's lists as Facebook and Instagram answer them: time-based pagination with `since` and
//! `until` ("a Unix timestamp or strtotime data value", Meta's pagination guide,
//! developers.facebook.com/docs/graph-api/results), `limit`, cursor paging
//! (`paging.cursors.before/after`, `paging.next` while there is more), only the `fields` asked
//! for (`id` when none are), and Graph's timestamp format (`2026-03-21T08:00:00+0000`).

use crate::crypto::{base64url, base64url_decode};
use httpkit::{Request, Response};
use serde_json::{Map, Value, json};

/// One entry of a list: when it was created (Unix seconds) and every field it can show.
pub(crate) struct Entry {
    pub created: i64,
    pub fields: Map<String, Value>,
}

/// `createdAt` as the simulator records it (RFC 3339) in Unix seconds.
pub(crate) fn unix_of(recorded: &Value) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(recorded.as_str()?)
        .ok()
        .map(|t| t.timestamp())
}

/// Graph's timestamp format for Unix seconds.
pub(crate) fn graph_time(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S+0000").to_string())
        .unwrap_or_default()
}

/// A `since`/`until` value: Unix seconds, an RFC 3339 timestamp or a date (`2026-03-21`), the
/// forms of strtotime a client sends in practice [inf: strtotime accepts many more].
fn time_param(value: &str) -> Option<i64> {
    let value = value.trim();
    if let Ok(unix) = value.parse::<i64>() {
        return Some(unix);
    }
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(value) {
        return Some(at.timestamp());
    }
    if let Ok(at) = chrono::DateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%z") {
        return Some(at.timestamp());
    }
    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
}

/// What a list answers, newest first: the entries in the time window, one page of them with
/// the fields asked for, and the paging object. `Err(name)` for a `since`, `until` or `limit`
/// Graph would refuse, for the caller's error shape. `next_base` is the absolute URL of the
/// list, without a query, on the platform's real host.
pub(crate) fn page(
    request: &Request,
    mut entries: Vec<Entry>,
    default_limit: usize,
    max_limit: usize,
    next_base: &str,
) -> Result<Value, String> {
    let bound = |name: &str| -> Result<Option<i64>, String> {
        match request.query_param(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => time_param(v).map(Some).ok_or_else(|| name.to_string()),
        }
    };
    let since = bound("since")?;
    let until = bound("until")?;
    let limit = match request.query_param("limit") {
        None => default_limit,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| "limit".to_string())?
            .min(max_limit),
    };
    let offset = request
        .query_param("after")
        .and_then(base64url_decode)
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(0);
    entries
        .retain(|e| since.is_none_or(|s| e.created >= s) && until.is_none_or(|u| e.created <= u));
    entries.sort_by_key(|e| std::cmp::Reverse(e.created));
    let wanted: Vec<String> = request
        .query_param("fields")
        .unwrap_or("id")
        .split(',')
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty())
        .collect();
    let data: Vec<Value> = entries
        .iter()
        .skip(offset)
        .take(limit)
        .map(|entry| {
            let mut shown = Map::new();
            shown.insert("id".into(), entry.fields["id"].clone());
            for field in &wanted {
                if let Some(value) = entry.fields.get(field).filter(|v| !v.is_null()) {
                    shown.insert(field.clone(), value.clone());
                }
            }
            Value::Object(shown)
        })
        .collect();
    let mut body = json!({ "data": data });
    if !data.is_empty() {
        let cursor = |n: usize| base64url(n.to_string().as_bytes());
        let after = offset + data.len();
        body["paging"] = json!({"cursors": {"before": cursor(offset), "after": cursor(after)}});
        if after < entries.len() {
            let mut query: Vec<(String, String)> = request
                .query
                .iter()
                .filter(|(k, _)| k != "after" && k != "access_token" && k != "appsecret_proof")
                .cloned()
                .collect();
            query.push(("after".into(), cursor(after)));
            let query: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{k}={}", crate::form_encode(v)))
                .collect();
            body["paging"]["next"] = json!(format!("{next_base}?{}", query.join("&")));
        }
    }
    Ok(body)
}

/// The answer for a refused list parameter, in the caller's Graph error shape.
pub(crate) fn bad_parameter(name: &str, error: impl Fn(String) -> Response) -> Response {
    error(format!(
        "(#100) The parameter {name} is not valid: send a Unix timestamp or a date for since and until, and a positive number for limit"
    ))
}
