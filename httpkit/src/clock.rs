//! The injected clock and the one timestamp format, shared so that one test clock moves the
//! appliance's time and the simulator's together, and every log line and record is written
//! the same way.
//!
//! Nothing that decides about expiry calls `Utc::now()` itself: it asks a [`Clock`], so tests of
//! expiry, scheduling and token refresh move time forward instead of sleeping.

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
/// advance naturally between two calls while expiry can be reached without sleeping.
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

    /// Stops the wall clock's part at the current instant, so a test that counts what time
    /// earns (rate limits) sees time move only when it `advance`s it.
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
