//! The injected clock and the one timestamp format of the wire and the database.
//!
//! Services never call `Utc::now()` themselves: they ask a [`Clock`], so tests of expiry,
//! scheduling and token refresh move time forward instead of sleeping.

use chrono::{DateTime, Utc};

// The clock and the timestamp format live in `httpkit`, shared with the simulator so that one
// test clock drives both; the paths under `crate::clock` stay as they were.
pub use httpkit::clock::{Clock, OffsetClock, SharedClock, SystemClock, format_timestamp};

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
