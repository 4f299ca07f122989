//! The identity of one start of the process (its incarnation). State that only a living
//! process may hold, such as an `Idempotency-Key` reservation, is stored with the id of the
//! process that took it, so a later start can tell what a dead process left behind from what a
//! request running now still holds. A new id is drawn at every start and never reused.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceId(String);

impl InstanceId {
    /// A fresh random id (128 bits): two starts never share one, even on the same database.
    pub fn generate() -> Self {
        Self(format!(
            "inst_{}",
            crate::crypto::hex(&crate::crypto::random_bytes::<16>())
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
