//! The injected clock and the one timestamp format of the wire and the database.
//!
//! Services never call `Utc::now()` themselves: they ask a [`Clock`], so tests of expiry,
//! scheduling and token refresh move time forward instead of sleeping.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use std::sync::{Arc, Mutex};

pub type SharedClock = Arc<dyn Clock>;

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// Wall-clock time.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Wall-clock time shifted by an offset that tests move forward, so that timestamps still
/// advance naturally between two calls while expiry can be reached without sleeping. A test
/// that counts what time earns (rate limits) can `freeze` it: then only `advance` moves it.
#[derive(Default)]
pub struct OffsetClock {
    offset: Mutex<Duration>,
    frozen_at: Mutex<Option<DateTime<Utc>>>,
}

impl OffsetClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn advance(&self, by: Duration) {
        let mut offset = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        *offset += by;
    }

    /// Stops the wall clock's part at the current instant.
    pub fn freeze(&self) {
        let mut frozen = self.frozen_at.lock().unwrap_or_else(|e| e.into_inner());
        frozen.get_or_insert_with(Utc::now);
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        let base = self
            .frozen_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or_else(Utc::now);
        base + *self.offset.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `2026-03-21T08:00:00.000Z`: UTC with milliseconds, as the spec writes every timestamp.
/// The same text is stored in SQLite, where it sorts chronologically.
pub fn format_timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an ISO-8601 / RFC 3339 timestamp with an explicit zone. Text without a zone is
/// refused rather than guessed, since guessing is how peers shifted posts by an hour.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Parses either a full timestamp or a bare date (`2026-03-21`, taken as midnight UTC), for
/// list filters where the spec says "ISO 8601 date".
pub fn parse_date_or_timestamp(text: &str) -> Option<DateTime<Utc>> {
    parse_timestamp(text).or_else(|| {
        chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|dt| dt.and_utc())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_milliseconds_and_z() {
        let at = parse_timestamp("2026-03-21T08:00:00+02:00").unwrap();
        assert_eq!(format_timestamp(at), "2026-03-21T06:00:00.000Z");
    }

    #[test]
    fn refuses_timestamps_without_zone() {
        assert!(parse_timestamp("2026-03-21T08:00:00").is_none());
        assert!(parse_date_or_timestamp("2026-03-21").is_some());
    }
}
