//! Faults a test queues for a platform's next API calls (`POST /_sim/faults`): what kind, how
//! many calls it hits, which calls (all, or one step: a method and a piece of the path), and
//! its parameters. Each platform file renders a fault in its own platform's real error shape;
//! this file only parses, matches, counts and describes them.
//!
//! One kind is the same on every platform and never reaches a platform file: `lost_answer`.
//! The platform does the call as usual (a publish records its post, a token endpoint issues
//! its tokens), and then the answer is lost on the way back: the simulator holds it for
//! `delayMs` and answers a gateway's 504 instead, so a client whose timeout is shorter gets no
//! answer at all, the way a real client does when a load balancer or the network drops a reply
//! (and one whose timeout is longer gets the gateway's 504). With a `status` (500-599) the
//! gateway answers that status at once instead of holding the answer: the platform did the
//! call, and its client is told it failed (a 502/503 from a load balancer after the backend
//! acted). `lib.rs` applies it around the platform's handler, to any path of the platform (API
//! calls and OAuth endpoints alike).

use super::invalid;
use crate::ControlError;
use crate::Platform;
use serde_json::{Value, json};
use std::collections::VecDeque;

/// Upper bound of injected delays, so a typo cannot park a worker thread for hours.
pub const MAX_DELAY_MS: u64 = 120_000;

/// The default hold of a `lost_answer`: longer than the 30 s a typical API client (the
/// appliance's platform calls among them) waits for an answer.
pub const LOST_ANSWER_DELAY_MS: u64 = 35_000;

/// A queued fault: one the platform renders in its own shape, or a lost answer the simulator
/// applies itself; either hits `remaining` calls that `method` and `path` select.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    pub effect: Effect,
    pub remaining: u32,
    pub method: Option<String>,
    pub path: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Handed to the platform file, which answers in the platform's error shape.
    Rendered(FaultKind),
    /// The platform does the call; its answer is held for `delay_ms`, then replaced by a 504,
    /// or, with `status`, replaced at once by that 5xx.
    LostAnswer(Lost),
}

/// How a lost answer is lost: held for `delay_ms` then a 504, or answered `status` at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lost {
    pub delay_ms: u64,
    pub status: Option<u16>,
}

impl Queued {
    pub fn kind_name(&self) -> &'static str {
        match &self.effect {
            Effect::Rendered(kind) => kind.name(),
            Effect::LostAnswer(_) => "lost_answer",
        }
    }

    /// Whether this fault hits a call with `method` to `path`.
    pub fn targets(&self, method: &str, path: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self.path.as_deref().is_none_or(|p| path.contains(p))
    }

    /// The fault as a platform file sees it, when it is one a platform renders.
    pub fn rendered(&self) -> Option<Fault> {
        match &self.effect {
            Effect::Rendered(kind) => Some(Fault {
                kind: kind.clone(),
                remaining: self.remaining,
                method: self.method.clone(),
                path: self.path.clone(),
            }),
            Effect::LostAnswer(_) => None,
        }
    }

    pub fn to_json(&self, platform: Platform) -> Value {
        match (&self.effect, self.rendered()) {
            (_, Some(fault)) => fault.to_json(platform),
            (Effect::LostAnswer(lost), None) => {
                let mut value = json!({
                    "platform": platform.key(),
                    "kind": self.kind_name(),
                    "count": self.remaining,
                    "delayMs": lost.delay_ms,
                });
                if let Some(status) = lost.status {
                    value["status"] = json!(status);
                }
                if let Some(method) = &self.method {
                    value["method"] = json!(method);
                }
                if let Some(path) = &self.path {
                    value["path"] = json!(path);
                }
                value
            }
            (Effect::Rendered(_), None) => unreachable!("a rendered fault always has its Fault"),
        }
    }
}

impl FaultKind {
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::ServerError { .. } => "server_error",
            FaultKind::RateLimit { .. } => "rate_limit",
            FaultKind::Timeout { .. } => "timeout",
            FaultKind::RevokedToken => "revoked_token",
            FaultKind::Duplicate => "duplicate",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// A 5xx answer with the platform's generic body.
    ServerError { status: u16 },
    /// A 429; `retry_after` adds a `Retry-After` header (LinkedIn sends none).
    RateLimit { retry_after: Option<u64> },
    /// Waits, then answers 504, so a client with a shorter timeout sees no answer at all.
    Timeout { delay_ms: u64 },
    /// The platform's "token revoked" 401.
    RevokedToken,
    /// The platform's duplicate-content refusal.
    Duplicate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub kind: FaultKind,
    /// API calls still to hit.
    pub remaining: u32,
    /// Only calls with this method (upper case), when set.
    pub method: Option<String>,
    /// Only calls whose path contains this, when set: one step of a multi-call publish (a
    /// status read, an upload session) can fail while the others succeed.
    pub path: Option<String>,
}

impl Fault {
    pub fn kind_name(&self) -> &'static str {
        self.kind.name()
    }

    pub fn to_json(&self, platform: Platform) -> Value {
        let mut value = json!({
            "platform": platform.key(),
            "kind": self.kind_name(),
            "count": self.remaining,
        });
        if let Some(method) = &self.method {
            value["method"] = json!(method);
        }
        if let Some(path) = &self.path {
            value["path"] = json!(path);
        }
        match self.kind {
            FaultKind::ServerError { status } => value["status"] = json!(status),
            FaultKind::RateLimit {
                retry_after: Some(secs),
            } => value["retryAfter"] = json!(secs),
            FaultKind::Timeout { delay_ms } => value["delayMs"] = json!(delay_ms),
            _ => {}
        }
        value
    }
}

/// Takes one hit from the first queued fault a platform renders that targets this API call,
/// dropping it when used up.
pub(crate) fn take_next(queue: &mut VecDeque<Queued>, method: &str, path: &str) -> Option<Fault> {
    let index = queue
        .iter()
        .position(|f| f.rendered().is_some() && f.targets(method, path))?;
    let hit = take_one(queue, index).rendered()?;
    Some(Fault {
        remaining: 1,
        ..hit
    })
}

/// Takes one hit from the first queued `lost_answer` that targets this request (any path of
/// the platform), dropping it when used up; how the answer is lost.
pub(crate) fn take_lost_answer(
    queue: &mut VecDeque<Queued>,
    method: &str,
    path: &str,
) -> Option<Lost> {
    let index = queue
        .iter()
        .position(|f| matches!(f.effect, Effect::LostAnswer(_)) && f.targets(method, path))?;
    match take_one(queue, index).effect {
        Effect::LostAnswer(lost) => Some(lost),
        Effect::Rendered(_) => None,
    }
}

/// One hit of the fault at `index` (as it was), the fault counted down or dropped.
fn take_one(queue: &mut VecDeque<Queued>, index: usize) -> Queued {
    let fault = &mut queue[index];
    fault.remaining = fault.remaining.saturating_sub(1);
    let hit = fault.clone();
    if fault.remaining == 0 {
        queue.remove(index);
    }
    hit
}

/// `status` of a fault that answers a server error (`kind`), `None` when absent.
fn server_status(body: &Value, kind: &str) -> Result<Option<u16>, ControlError> {
    match &body["status"] {
        Value::Null => Ok(None),
        value => value
            .as_u64()
            .filter(|s| (500..=599).contains(s))
            .map(|s| Some(s as u16))
            .ok_or_else(|| invalid(format!("\"status\" of a {kind} must be from 500 to 599."))),
    }
}

/// `delayMs` of a fault that waits, `default` when absent.
fn delay_ms(body: &Value, default: u64) -> Result<u64, ControlError> {
    match &body["delayMs"] {
        Value::Null => Ok(default),
        value => value
            .as_u64()
            .filter(|ms| *ms <= MAX_DELAY_MS)
            .ok_or_else(|| {
                invalid(format!(
                    "\"delayMs\" must be whole milliseconds from 0 to {MAX_DELAY_MS}."
                ))
            }),
    }
}

const KINDS: &str = "server_error, rate_limit, timeout, revoked_token, duplicate or lost_answer";

/// `{"kind", "count"?, "status"?, "retryAfter"?, "delayMs"?, "method"?, "path"?}` with a
/// message naming whatever is wrong.
pub(crate) fn parse_fault(body: &Value) -> Result<Queued, ControlError> {
    let method = match &body["method"] {
        Value::Null => None,
        value => Some(
            value
                .as_str()
                .filter(|m| {
                    ["GET", "POST", "PUT", "DELETE", "PATCH"]
                        .contains(&m.to_ascii_uppercase().as_str())
                })
                .ok_or_else(|| {
                    invalid("\"method\" must be GET, POST, PUT, DELETE or PATCH, or omitted.")
                })?
                .to_ascii_uppercase(),
        ),
    };
    let path = match &body["path"] {
        Value::Null => None,
        value => Some(
            value
                .as_str()
                .filter(|p| !p.is_empty())
                .ok_or_else(|| {
                    invalid("\"path\" must be a non-empty piece of the API path (such as \"/media\"), or omitted.")
                })?
                .to_string(),
        ),
    };
    let count = match &body["count"] {
        Value::Null => 1,
        value => value
            .as_u64()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| invalid("\"count\" must be a whole number from 1 to 10000."))?
            as u32,
    };
    let kind_name = body["kind"].as_str().unwrap_or_default();
    let kind = match kind_name {
        "server_error" => FaultKind::ServerError {
            status: server_status(body, kind_name)?.unwrap_or(500),
        },
        "rate_limit" => {
            let retry_after = match &body["retryAfter"] {
                Value::Null => None,
                value => Some(value.as_u64().filter(|s| *s <= 86_400).ok_or_else(|| {
                    invalid("\"retryAfter\" must be whole seconds from 0 to 86400, or omitted.")
                })?),
            };
            FaultKind::RateLimit { retry_after }
        }
        "timeout" => FaultKind::Timeout {
            delay_ms: delay_ms(body, 10_000)?,
        },
        "revoked_token" => FaultKind::RevokedToken,
        "duplicate" => FaultKind::Duplicate,
        "lost_answer" => {
            return Ok(Queued {
                effect: Effect::LostAnswer(Lost {
                    delay_ms: delay_ms(body, LOST_ANSWER_DELAY_MS)?,
                    status: server_status(body, kind_name)?,
                }),
                remaining: count,
                method,
                path,
            });
        }
        "" => {
            return Err(invalid(format!("\"kind\" is required: {KINDS}.")));
        }
        other => {
            return Err(invalid(format!(
                "Unknown fault kind \"{other}\"; use {KINDS}."
            )));
        }
    };
    Ok(Queued {
        effect: Effect::Rendered(kind),
        remaining: count,
        method,
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_hits_exactly_count_calls() {
        let mut queue =
            VecDeque::from([parse_fault(&json!({"kind": "duplicate", "count": 2})).unwrap()]);
        assert!(take_next(&mut queue, "POST", "/2/tweets").is_some());
        assert!(take_next(&mut queue, "GET", "/2/users/me").is_some());
        assert!(take_next(&mut queue, "POST", "/2/tweets").is_none());
    }

    #[test]
    fn a_lost_answer_is_targeted_like_any_fault_and_never_rendered() {
        let lost = parse_fault(
            &json!({"kind": "lost_answer", "method": "POST", "path": "/2/tweets", "delayMs": 1500}),
        )
        .unwrap();
        assert_eq!(lost.rendered(), None, "no platform file sees it");
        assert_eq!(
            lost.to_json(Platform::Twitter),
            json!({"platform": "twitter", "kind": "lost_answer", "count": 1, "delayMs": 1500, "method": "POST", "path": "/2/tweets"})
        );
        let mut queue = VecDeque::from([lost]);
        assert_eq!(
            take_next(&mut queue, "POST", "/2/tweets"),
            None,
            "not the platform's"
        );
        assert_eq!(
            take_lost_answer(&mut queue, "GET", "/2/tweets/search/recent"),
            None
        );
        assert_eq!(
            take_lost_answer(&mut queue, "POST", "/2/tweets"),
            Some(Lost {
                delay_ms: 1500,
                status: None
            })
        );
        assert!(queue.is_empty());
        let default = parse_fault(&json!({"kind": "lost_answer"})).unwrap();
        assert_eq!(
            default.effect,
            Effect::LostAnswer(Lost {
                delay_ms: LOST_ANSWER_DELAY_MS,
                status: None
            })
        );
        let answered = parse_fault(&json!({"kind": "lost_answer", "status": 503})).unwrap();
        assert_eq!(
            answered.to_json(Platform::Linkedin)["status"],
            json!(503),
            "a lost answer answered at once names its status"
        );
        let err = parse_fault(&json!({"kind": "lost_answer", "status": 404})).unwrap_err();
        assert!(err.message.contains("500 to 599"), "{}", err.message);
        let err =
            parse_fault(&json!({"kind": "lost_answer", "delayMs": MAX_DELAY_MS + 1})).unwrap_err();
        assert!(err.message.contains("delayMs"), "{}", err.message);
    }

    #[test]
    fn a_targeted_fault_hits_only_its_step_and_lets_the_others_pass() {
        let mut queue = VecDeque::from([parse_fault(
            &json!({"kind": "server_error", "method": "get", "path": "/media/"}),
        )
        .unwrap()]);
        assert!(take_next(&mut queue, "POST", "/v5/media/").is_none());
        assert!(take_next(&mut queue, "GET", "/v5/pins").is_none());
        assert_eq!(queue.len(), 1, "a call it does not target leaves it queued");
        assert!(matches!(
            take_next(&mut queue, "GET", "/v5/media/123"),
            Some(Fault {
                kind: FaultKind::ServerError { status: 500 },
                remaining: 1,
                ..
            })
        ));
        assert!(queue.is_empty());
        let err = parse_fault(&json!({"kind": "server_error", "method": "FETCH"})).unwrap_err();
        assert!(err.message.contains("method"));
        let err = parse_fault(&json!({"kind": "server_error", "path": ""})).unwrap_err();
        assert!(err.message.contains("path"));
    }

    #[test]
    fn bad_parameters_are_named() {
        let err = parse_fault(&json!({"kind": "server_error", "status": 404})).unwrap_err();
        assert!(err.message.contains("status"));
        let err = parse_fault(&json!({"kind": "explode"})).unwrap_err();
        assert!(err.message.contains("explode"));
        assert!(err.message.contains("lost_answer"), "{}", err.message);
    }
}
