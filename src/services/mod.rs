//! The business rules and state machines, one module per concept, each owning its SQL. Services
//! take the time they act at (`now`) from the caller, which got it from the injected clock, and
//! know nothing about HTTP.

pub mod apps;
pub mod audit;
pub mod connect_sessions;
pub mod connections;
pub mod credits;
pub mod deletions;
pub mod end_users;
pub mod idempotency;
pub mod keys;
pub mod lifecycle;
pub mod maintenance;
pub mod operators;
pub mod posts;
pub mod rate_limits;
pub mod reports;
pub mod request_log;
pub mod status;
pub mod webhooks;

use chrono::{DateTime, Utc};

pub fn ts(at: DateTime<Utc>) -> String {
    crate::clock::format_timestamp(at)
}

/// Reads a stored timestamp; the database only ever holds what `ts` wrote.
pub fn parse_ts(text: &str) -> DateTime<Utc> {
    crate::clock::parse_timestamp(text).unwrap_or_default()
}

/// A field of a partial update: left as it is, cleared, or set.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Patch<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

impl<T> Patch<T> {
    pub fn into_option(self) -> Option<T> {
        match self {
            Patch::Set(v) => Some(v),
            _ => None,
        }
    }
}
