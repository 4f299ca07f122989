//! Step 3 of an attempt: what the platform's answer means, and the outcome committed with the
//! attempt's record. Automatic retries only where the platform certainly did not accept the
//! post (429, unreachable, a server error in a step that publishes nothing), with exponential
//! backoff and jitter; a 5xx from the call that publishes (or any call after it) is not
//! retried, since the platform may have published anyway.

use super::Engine;
use super::call::Answer;
use super::prepare::Prepared;
use crate::crypto::random_bytes;
use crate::error::{Code, Result};
use crate::providers::{CallKind, ProviderError, PublishStep};
use crate::services::connections::{self, SocialConnection};
use crate::services::posts::{self, AttemptReport, Lease, Outcome};
use chrono::Duration;

impl Engine {
    /// The outcome to commit for the platform's answer, and the HTTP status it stands for.
    pub(super) fn outcome_of(&self, prepared: &Prepared, answer: Answer) -> (Outcome, Option<u16>) {
        match answer {
            Ok(PublishStep::Done(published)) => (
                Outcome::Published {
                    external_id: published.external_id,
                    url: published.url,
                },
                Some(201),
            ),
            Ok(PublishStep::Processing { state, check_after }) => {
                let wait = Duration::milliseconds(check_after.as_millis().min(3_600_000) as i64);
                (
                    Outcome::Processing {
                        state,
                        at: self.inner.clock.now() + wait,
                    },
                    None,
                )
            }
            Err(error) => (
                self.classify_failure(&prepared.connection, prepared.lease, &error),
                http_status_of(&error),
            ),
        }
    }

    /// Commits the outcome of a leased attempt and updates the post, in one transaction.
    pub(super) fn commit(
        &self,
        lease: &Lease,
        outcome: &Outcome,
        report: &AttemptReport,
    ) -> Result<()> {
        let inner = &self.inner;
        posts::record_outcome(&inner.db, lease, outcome, report, inner.clock.now())?;
        Ok(())
    }

    fn classify_failure(
        &self,
        connection: &SocialConnection,
        lease: &Lease,
        error: &ProviderError,
    ) -> Outcome {
        let inner = &self.inner;
        let now = inner.clock.now();
        let key = lease.delivery.platform.key();
        let message = error.message().to_string();
        // A retry by hand (`POST /v1/posts/{id}/retry`) starts a new round of attempts.
        let attempts = lease.delivery.attempts_this_round();
        let can_retry = attempts < inner.config.delivery_max_attempts;
        let note = |code: Code| {
            connections::note_error(&inner.db, &connection.id, code, &message, now);
        };
        match error {
            ProviderError::Unauthorized { .. } => {
                connections::flag_for_reconnect(
                    &inner.db,
                    &connection.id,
                    Code::NeedsReconnect,
                    &message,
                    now,
                );
                Outcome::Failed {
                    code: Code::NeedsReconnect,
                    message: format!(
                        "{message}. Send the user through a new {key} connect session."
                    ),
                }
            }
            ProviderError::RateLimited { .. } | ProviderError::Unreachable { .. } if can_retry => {
                note(error.code());
                let hint = match error {
                    ProviderError::RateLimited { retry_after, .. } => *retry_after,
                    _ => None,
                };
                let at = now + backoff(attempts, hint);
                Outcome::RetryAt {
                    code: error.code(),
                    message: format!("{message}; retrying automatically"),
                    at,
                }
            }
            // A step that publishes nothing failed: the attempt runs again from where it
            // started. A publish the platform is processing keeps its state (the media is
            // not uploaded again); the consecutive failures are counted in that state, so a
            // step that never recovers still ends after the attempt limit.
            ProviderError::Transient {
                call: CallKind::SafeToRetry,
                ..
            } => {
                note(error.code());
                let message = format!("{message}; nothing was published, retrying automatically");
                match &lease.resume_state {
                    Some(state) => match state_with_another_failure(state) {
                        Some((state, failures))
                            if failures < inner.config.delivery_max_attempts =>
                        {
                            Outcome::Processing {
                                state,
                                at: now + backoff(failures, None),
                            }
                        }
                        _ => Outcome::Failed {
                            code: error.code(),
                            message: format!(
                                "{}; nothing was published, and the platform kept failing, so the delivery is given up.",
                                error.message()
                            ),
                        },
                    },
                    None if can_retry => Outcome::RetryAt {
                        code: error.code(),
                        message,
                        at: now + backoff(attempts, None),
                    },
                    None => Outcome::Failed {
                        code: error.code(),
                        message: format!(
                            "{}; nothing was published, and the attempt limit is reached.",
                            error.message()
                        ),
                    },
                }
            }
            ProviderError::Transient { .. } => {
                note(error.code());
                Outcome::Failed {
                    code: error.code(),
                    message: format!(
                        "{message}. Not retried automatically: the platform may have published the post anyway, so check the account before posting again."
                    ),
                }
            }
            _ => {
                note(error.code());
                Outcome::Failed {
                    code: error.code(),
                    message,
                }
            }
        }
    }
}

/// The key in a stored resume state that counts the engine's looks again after a server error
/// in a step that publishes nothing. Adapters own the rest of the state and ignore it.
const SAFE_FAILURES_KEY: &str = "engineSafeFailures";

/// `state` with one more failure counted, and the count; `None` when the state is not an object.
fn state_with_another_failure(state: &serde_json::Value) -> Option<(serde_json::Value, i64)> {
    let mut state = state.clone();
    let object = state.as_object_mut()?;
    let failures = object
        .get(SAFE_FAILURES_KEY)
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(0)
        + 1;
    object.insert(SAFE_FAILURES_KEY.into(), failures.into());
    Some((state, failures))
}

fn http_status_of(error: &ProviderError) -> Option<u16> {
    match error {
        ProviderError::Unauthorized { .. } => Some(401),
        ProviderError::RateLimited { .. } => Some(429),
        ProviderError::Transient { status, .. } => Some(*status),
        _ => None,
    }
}

/// 30 s, 60 s, 120 s, ... capped at 15 minutes, plus up to 5 s of jitter so retries of many
/// deliveries do not arrive together; never sooner than the platform's own hint.
pub fn backoff(attempts_so_far: i64, hint: Option<std::time::Duration>) -> Duration {
    let exponent = (attempts_so_far - 1).clamp(0, 10) as u32;
    let base = Duration::seconds((30i64 << exponent).min(900));
    let jitter = Duration::milliseconds(i64::from(u16::from_le_bytes(random_bytes::<2>())) % 5000);
    let hinted = hint
        .map(|h| Duration::seconds(h.as_secs() as i64))
        .unwrap_or_default();
    base.max(hinted) + jitter
}
