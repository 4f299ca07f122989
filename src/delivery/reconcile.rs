//! A read-back attempt: a publish that was cut off (a crash, a kill, an expired lease, no answer
//! in time) or answered with a server error is looked up on the platform
//! (`Provider::find_published`) before anything is decided, since the platform may or may not
//! have the post. What the platform says decides:
//!
//! - `Found` → `published`, with the platform's id and URL;
//! - `Absent` → publishing again is safe: a new attempt at once (a stored resume state is kept,
//!   so a container the platform already made is not made twice), within the attempt limit;
//! - `Unknowable` → `failed`, with the adapter's reason;
//! - the read itself fails (5xx, 429, unreachable, no answer) → read back again with backoff,
//!   up to `reconcile_max_reads`, then `failed`.
//!
//! Anything that stops the read-back from being made (the connection removed, the token
//! refused) fails too, never with a code that says nothing was published. A delivery that
//! fails here keeps the code of what cut the publish off (`Interruption`): `OUTCOME_UNKNOWN`
//! for a lost answer, `PLATFORM_UNAVAILABLE` for a server error; both keep the post's credits
//! (`lifecycle::MAY_HAVE_PUBLISHED`).

use super::Engine;
use super::call::ReadBackAnswer;
use super::commit::{backoff, state_with_another_failure};
use crate::error::Code;
use crate::providers::{ProviderError, ReadBack};
use crate::services::connections;
use crate::services::posts::{AttemptStep, Lease, Outcome};
use chrono::{DateTime, Utc};

impl Engine {
    /// Reads back the interrupted publish of `lease` (whose attempt started at `since`): the
    /// outcome to commit, the step, and the status the platform last answered.
    pub(super) fn reconcile(
        &self,
        lease: &Lease,
        since: DateTime<Utc>,
    ) -> (Outcome, AttemptStep, Option<u16>) {
        let step = AttemptStep::Reconcile;
        let prepared = match self.prepare(lease) {
            Ok(prepared) => prepared,
            Err(outcome) => return (self.read_back_not_made(lease, outcome), step, None),
        };
        crate::providers::take_last_status();
        let answer = self.read_back(&prepared, since);
        let status = crate::providers::take_last_status();
        match answer {
            Ok(answer) => (self.outcome_of_read_back(lease, answer), step, status),
            // The token refresh after the platform's 401 failed.
            Err(outcome) => (self.read_back_not_made(lease, outcome), step, Some(401)),
        }
    }

    fn outcome_of_read_back(&self, lease: &Lease, answer: ReadBackAnswer) -> Outcome {
        let interruption = Interruption::of(lease);
        let what = interruption.said();
        let key = lease.delivery.platform.key();
        match answer {
            Ok(ReadBack::Found(published)) => Outcome::Published {
                external_id: published.external_id,
                url: published.url,
            },
            Ok(ReadBack::Absent) => self.publish_again(lease),
            Ok(ReadBack::Unknowable { reason }) => Outcome::Failed {
                code: interruption.code(),
                message: format!(
                    "{what}, and whether {key} published the post cannot be told: {reason}. Check the account before posting again."
                ),
            },
            Err(ProviderError::Unauthorized { message }) => {
                let now = self.inner.clock.now();
                if let Some(connection) = &lease.delivery.connection_id {
                    connections::flag_for_reconnect(
                        &self.inner.db,
                        connection,
                        Code::NeedsReconnect,
                        &message,
                        now,
                    );
                }
                Outcome::Failed {
                    code: interruption.code(),
                    message: format!(
                        "{what}, and {key} refused the token when asked whether it has the post ({message}); it may or may not have been published. Check the account, and send the user through a new {key} connect session."
                    ),
                }
            }
            Err(
                error @ (ProviderError::RateLimited { .. }
                | ProviderError::Transient { .. }
                | ProviderError::Unreachable { .. }
                | ProviderError::Unknown { .. }),
            ) => {
                let hint = match &error {
                    ProviderError::RateLimited { retry_after, .. } => *retry_after,
                    _ => None,
                };
                self.read_again(lease, error.message(), hint)
            }
            Err(error) => Outcome::Failed {
                code: interruption.code(),
                message: format!(
                    "{what}, and reading {key} back failed ({}: {}); it may or may not have been published. Check the account before posting again.",
                    error.code(),
                    error.message()
                ),
            },
        }
    }

    /// The platform does not have the post: a new attempt now, from the stored resume state
    /// when there is one. Each lost answer followed by an absent post counts against the
    /// attempt limit (a new attempt counts when leased; a continued one in its state), so a
    /// publish whose answer is lost every time ends, as one that published nothing.
    fn publish_again(&self, lease: &Lease) -> Outcome {
        let what = Interruption::of(lease).said();
        let inner = &self.inner;
        let key = lease.delivery.platform.key();
        let limit = inner.config.delivery_max_attempts;
        let now = inner.clock.now();
        let message = format!(
            "{what}, and reading {key} back showed it does not have the post; publishing again."
        );
        let given_up = |tries: i64| Outcome::Failed {
            code: Code::PlatformUnavailableBeforePublishing,
            message: format!(
                "The answer to the publishing call was lost {tries} times (no answer in time, a crash, or a server error), and each time reading {key} back showed it does not have the post: nothing was published, and the attempt limit is reached."
            ),
        };
        match &lease.resume_state {
            None if lease.delivery.attempts_this_round() >= limit => {
                given_up(lease.delivery.attempts_this_round())
            }
            None => Outcome::PublishAgain {
                message,
                state: None,
                at: now,
            },
            Some(state) => match state_with_another_failure(state) {
                Some((state, tries)) if tries < limit => Outcome::PublishAgain {
                    message,
                    state: Some(state),
                    at: now,
                },
                Some((_, tries)) => given_up(tries),
                // A state that is no object cannot count: never loop on it.
                None => given_up(1),
            },
        }
    }

    /// The read-back failed in a way that may pass: again later, with backoff, while reads
    /// are left.
    fn read_again(&self, lease: &Lease, why: &str, hint: Option<std::time::Duration>) -> Outcome {
        let interruption = Interruption::of(lease);
        let what = interruption.said();
        let inner = &self.inner;
        let key = lease.delivery.platform.key();
        let reads = lease.read_backs;
        if reads >= inner.config.reconcile_max_reads {
            return Outcome::Failed {
                code: interruption.code(),
                message: format!(
                    "{what}, and reading {key} back failed {reads} times (last: {why}); it may or may not have been published. Check the account before posting again."
                ),
            };
        }
        Outcome::ReadAgain {
            code: interruption.code(),
            message: format!(
                "{what}, and reading {key} back failed ({why}); it is read back again before anything is sent."
            ),
            at: inner.clock.now() + backoff(reads, hint),
        }
    }

    /// The read-back could not be made (the attempt ended while being prepared, or the token
    /// refresh after a 401 failed): a failure that may pass reads again; any other ends as
    /// `OUTCOME_UNKNOWN` with its reason, since the platform may have the post.
    fn read_back_not_made(&self, lease: &Lease, outcome: Outcome) -> Outcome {
        let interruption = Interruption::of(lease);
        let what = interruption.said();
        let key = lease.delivery.platform.key();
        match outcome {
            Outcome::RetryAt { message, .. } => self.read_again(lease, &message, None),
            Outcome::Failed { code, message } => Outcome::Failed {
                code: interruption.code(),
                message: format!(
                    "{what}, and {key} could not be read back ({code}: {message}); it may or may not have been published. Check the account before posting again."
                ),
            },
            other => other,
        }
    }
}

/// What cut off the publish being read back, told by the code the delivery waits with (set by
/// `commit` when it handed the publish to a read-back, kept by every read again): a server
/// error from the publishing call, or no answer at all (a timeout, a crash, an expired lease,
/// whose recovery writes `OUTCOME_UNKNOWN`). A delivery the read-back cannot settle ends with
/// that same code, so the code says what happened: `PLATFORM_UNAVAILABLE` (the platform said
/// it failed) or `OUTCOME_UNKNOWN` (it said nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interruption {
    ServerError,
    NoAnswer,
}

impl Interruption {
    fn of(lease: &Lease) -> Interruption {
        match lease.delivery.error_code.as_deref() {
            Some(code) if code == Code::PlatformUnavailable.as_str() => Interruption::ServerError,
            _ => Interruption::NoAnswer,
        }
    }

    fn code(self) -> Code {
        match self {
            Interruption::ServerError => Code::PlatformUnavailable,
            Interruption::NoAnswer => Code::OutcomeUnknown,
        }
    }

    /// The start of a message about the read-back.
    fn said(self) -> &'static str {
        match self {
            Interruption::ServerError => {
                "The platform answered the publishing call with a server error"
            }
            Interruption::NoAnswer => "The publishing call was cut off",
        }
    }
}
