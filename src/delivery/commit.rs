//! Step 3 of an attempt: what the platform's answer means, and the outcome committed with the
//! attempt's record. Automatic retries only where the platform certainly did not accept the
//! post (429, unreachable, a server error or no answer in a step that publishes nothing), with
//! exponential backoff and jitter. A 5xx from the call that publishes (or any call after it),
//! or no answer at all from it (a timeout), is never retried blindly, since the platform may
//! have published anyway: the platform is read back before anything is decided (`reconcile`).

use super::Engine;
use super::call::Answer;
use super::prepare::Prepared;
use crate::crypto::random_bytes;
use crate::error::{Code, Result};
use crate::metrics::DeliveryOutcome;
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
        let reading_back = lease.reconcile_since.is_some();
        let counted = match outcome {
            Outcome::Published { .. } if reading_back => DeliveryOutcome::Reconciled,
            Outcome::Published { .. } => DeliveryOutcome::Published,
            // A read-back that could not tell ends with the code of what cut the publish off.
            Outcome::Failed {
                code: Code::OutcomeUnknown | Code::PlatformUnavailable,
                ..
            } if reading_back => DeliveryOutcome::Unknown,
            Outcome::Failed { .. } => DeliveryOutcome::Failed,
            Outcome::RetryAt { .. } => DeliveryOutcome::RetryScheduled,
            Outcome::Processing { .. } => DeliveryOutcome::Processing,
            Outcome::Reconcile { .. } | Outcome::ReadAgain { .. } => DeliveryOutcome::Reconciling,
            Outcome::PublishAgain { .. } => DeliveryOutcome::ReconciledAbsent,
        };
        crate::metrics::record_delivery(lease.delivery.platform.key(), counted);
        Ok(())
    }

    /// A step that publishes nothing failed (5xx, or no answer in time), so the attempt may run
    /// again from where it started. A publish the platform is processing keeps its state (the
    /// media is not uploaded again); the consecutive failures are counted in that state, so a
    /// step that never recovers still ends after the attempt limit, and then as
    /// `PLATFORM_UNAVAILABLE`, since a platform that was processing may hold the post already.
    /// A new attempt that runs out ends as `PLATFORM_UNAVAILABLE_BEFORE_PUBLISHING`: nothing was
    /// published.
    fn safe_failure(&self, lease: &Lease, message: &str) -> Outcome {
        let inner = &self.inner;
        let now = inner.clock.now();
        let attempts = lease.delivery.attempts_this_round();
        let limit = inner.config.delivery_max_attempts;
        match &lease.resume_state {
            Some(state) => match state_with_another_failure(state) {
                Some((state, failures)) if failures < limit => Outcome::Processing {
                    state,
                    at: now + backoff(failures, None),
                },
                _ => Outcome::Failed {
                    code: Code::PlatformUnavailable,
                    message: format!(
                        "{message}; the platform kept failing while it held the media, so the delivery is given up. Check the account before posting again."
                    ),
                },
            },
            None if attempts < limit => Outcome::RetryAt {
                code: Code::PlatformUnavailable,
                message: format!("{message}; nothing was published, retrying automatically"),
                at: now + backoff(attempts, None),
            },
            None => Outcome::Failed {
                code: Code::PlatformUnavailableBeforePublishing,
                message: format!(
                    "{message}; nothing was published, and the attempt limit is reached."
                ),
            },
        }
    }

    /// An outcome that ended the attempt before the platform was called, held to the attempt
    /// limit: a safe retry (a token refresh that met a 5xx) that has used up its attempts fails,
    /// with the code that says nothing was published.
    pub(super) fn bounded(&self, lease: &Lease, outcome: Outcome) -> Outcome {
        let inner = &self.inner;
        let attempts = lease.delivery.attempts_this_round();
        match outcome {
            Outcome::RetryAt { code, message, .. }
                if attempts >= inner.config.delivery_max_attempts =>
            {
                let code = if code == Code::PlatformUnavailable {
                    Code::PlatformUnavailableBeforePublishing
                } else {
                    code
                };
                Outcome::Failed {
                    code,
                    message: format!("{message}; the attempt limit is reached."),
                }
            }
            Outcome::RetryAt { code, message, at } => Outcome::RetryAt {
                code,
                message,
                at: at.max(inner.clock.now() + backoff(attempts, None)),
            },
            other => other,
        }
    }

    /// The wait between an interruption and the first read-back.
    pub(super) fn read_back_delay(&self) -> Duration {
        Duration::from_std(self.inner.config.reconcile_delay).unwrap_or_else(|_| Duration::zero())
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
            // started (see `safe_failure`).
            ProviderError::Transient {
                call: CallKind::SafeToRetry,
                ..
            } => {
                note(error.code());
                self.safe_failure(lease, &message)
            }
            // No answer from a call that publishes nothing (`send` noted it on this thread):
            // as safe to run again as a 5xx there.
            ProviderError::Unknown { .. } if crate::providers::unanswered_call_was_safe(error) => {
                note(Code::PlatformUnavailable);
                self.safe_failure(lease, &format!("{message} (no answer in time)"))
            }
            // No answer from a call that may have published: the platform is read back before
            // anything is decided, after a short delay (platforms may list a new post late).
            ProviderError::Unknown { .. } => Outcome::Reconcile {
                code: Code::OutcomeUnknown,
                message: format!(
                    "{message}: {key} gave no answer to the publishing call, so it may or may not have published the post; it is read back before anything is sent again"
                ),
                since: lease.started_at,
                at: now + self.read_back_delay(),
            },
            // A server error from a call that may have published: the platform may have
            // created the post before failing, so it is read back like a lost answer. The code
            // it waits (and, when the read-back cannot tell, ends) with says what happened.
            ProviderError::Transient { status, .. } => {
                note(error.code());
                let name = lease.delivery.platform.display_name();
                Outcome::Reconcile {
                    code: Code::PlatformUnavailable,
                    message: format!(
                        "{message}: {name} answered {status} to the publishing call, so it may or may not have published the post; it is read back before anything is sent again"
                    ),
                    since: lease.started_at,
                    at: now + self.read_back_delay(),
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
pub(super) fn state_with_another_failure(
    state: &serde_json::Value,
) -> Option<(serde_json::Value, i64)> {
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
