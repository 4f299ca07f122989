//! Delivering posts to platforms: a fixed pool of delivery workers takes delivery ids, and each
//! attempt runs three steps, one file each:
//!
//! 1. `prepare`: lease the delivery (committed before the platform is called), read its
//!    connection and credentials, and make sure the token is fresh (`tokens`);
//! 2. `call`: the provider's `publish`, or `resume` for media the platform is still
//!    processing, with one refresh and one more try after a 401;
//! 3. `commit`: what the answer means (retries only where the platform certainly did not
//!    accept the post: rate limited, unreachable, with exponential backoff and jitter), then the
//!    outcome committed.
//!
//! A publish that was cut off (a crash, a kill, no answer in time) is not decided blindly: its
//! next lease is a read-back (`reconcile`: prepare, `find_published`, what its answer means),
//! which finds the post (published), rules it out (published again at once) or cannot tell
//! (`OUTCOME_UNKNOWN`).
//!
//! A step that cannot go on answers with the outcome to commit (`Err(Outcome)`), so the steps
//! chain with `?`. `tokens` also serves calls outside a delivery (listing targets) and the
//! background refresh of long-lived tokens. This module opens no SQL: `services` does.

mod call;
mod commit;
mod prepare;
mod reconcile;
mod tokens;

pub use commit::backoff;
pub use prepare::content_of;

/// How interrupted leases are recovered under `config`: the read-back delay and bound.
pub fn recovery(config: &Config) -> posts::Recovery {
    posts::Recovery {
        read_back_delay: chrono::Duration::from_std(config.reconcile_delay)
            .unwrap_or_else(|_| chrono::Duration::zero()),
        max_reads: config.reconcile_max_reads,
    }
}

/// Counts a recovered lease in the metrics.
pub fn record_recovered(platform: &str, what: posts::Interrupted) {
    let counted = match what {
        posts::Interrupted::ToReconcile => crate::metrics::DeliveryOutcome::Reconciling,
        posts::Interrupted::GivenUp => crate::metrics::DeliveryOutcome::Unknown,
    };
    crate::metrics::record_delivery(platform, counted);
}

use crate::clock::SharedClock;
use crate::config::Config;
use crate::crypto::Sealer;
use crate::db::Db;
use crate::error::Result;
use crate::instance::InstanceId;
use crate::providers::Providers;
use crate::services::apps::CredentialStore;
use crate::services::posts::{self, AttemptReport, AttemptStep, DeliveryStatus, Lease, Outcome};
use crate::services::status::Mode;
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    /// This process incarnation: every lease names it.
    instance_id: InstanceId,
    clock: SharedClock,
    sealer: Sealer,
    credentials: CredentialStore,
    providers: Providers,
    config: Arc<Config>,
    queue: Mutex<Queue>,
    work_available: Condvar,
    /// One lock per connection, so two deliveries never refresh the same token at once (a
    /// single-use refresh token would be burnt by the second).
    refresh_locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    /// A batch of background token refreshes is running.
    refreshing: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<String>,
    /// Queued or being delivered; the dispatcher does not enqueue these again.
    busy: HashSet<String>,
    waiters: HashMap<String, Vec<Sender<()>>>,
    stopping: bool,
}

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        db: Db,
        instance_id: InstanceId,
        clock: SharedClock,
        sealer: Sealer,
        credentials: CredentialStore,
        providers: Providers,
        config: Arc<Config>,
    ) -> Engine {
        let engine = Engine {
            inner: Arc::new(Inner {
                db,
                instance_id,
                clock,
                sealer,
                credentials,
                providers,
                queue: Mutex::new(Queue::default()),
                work_available: Condvar::new(),
                refresh_locks: Mutex::new(HashMap::new()),
                workers: Mutex::new(Vec::new()),
                refreshing: std::sync::atomic::AtomicBool::new(false),
                config,
            }),
        };
        let handles = (0..engine.inner.config.delivery_workers.max(1))
            .map(|n| {
                let worker = engine.clone();
                std::thread::Builder::new()
                    .name(format!("delivery-{n}"))
                    .spawn(move || worker.worker_loop())
                    .expect("spawning a delivery worker")
            })
            .collect();
        *engine
            .inner
            .workers
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = handles;
        engine
    }

    /// Queues deliveries not already queued or in flight. The receiver of each id gets a
    /// message when that delivery's attempt is over.
    pub fn enqueue(&self, ids: &[String]) -> Vec<Receiver<()>> {
        let mut queue = self.inner.queue.lock().unwrap_or_else(|e| e.into_inner());
        let mut receivers = Vec::new();
        for id in ids {
            let (tx, rx) = channel();
            queue.waiters.entry(id.clone()).or_default().push(tx);
            receivers.push(rx);
            if queue.busy.insert(id.clone()) {
                queue.items.push_back(id.clone());
            }
        }
        drop(queue);
        self.inner.work_available.notify_all();
        receivers
    }

    /// Queues deliveries and waits until each has a final outcome or `budget` runs out,
    /// whichever comes first. A platform that is still processing media is looked at again
    /// when due, as long as the budget lasts; after that the dispatcher finishes it.
    pub fn deliver_within(&self, ids: &[String], budget: std::time::Duration) {
        let deadline = Instant::now() + budget;
        let mut waiting: Vec<String> = ids.to_vec();
        while !waiting.is_empty() {
            for receiver in self.enqueue(&waiting) {
                let left = deadline.saturating_duration_since(Instant::now());
                if receiver.recv_timeout(left).is_err() {
                    return;
                }
            }
            // Which are still unfinished, and when is the next look due?
            let mut next_due: Option<DateTime<Utc>> = None;
            waiting.retain(
                |id| match self.inner.db.read(|c| posts::get_delivery(c, id)) {
                    // Only a publish the platform is still processing is waited for; a retry
                    // after a rate limit, and a read-back after an interrupted publish (due only
                    // after its delay), are left to the dispatcher.
                    Ok(Some(d)) if d.status == DeliveryStatus::Processing && !d.reading_back => {
                        let due = d.next_attempt_at.as_deref().map(crate::services::parse_ts);
                        next_due = match (next_due, due) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        };
                        true
                    }
                    _ => false,
                },
            );
            let Some(due) = next_due else { return };
            let wait = (due - self.inner.clock.now()).to_std().unwrap_or_default();
            if waiting.is_empty() || Instant::now() + wait >= deadline {
                return;
            }
            std::thread::sleep(wait);
        }
    }

    pub fn stop(&self) {
        {
            let mut queue = self.inner.queue.lock().unwrap_or_else(|e| e.into_inner());
            queue.stopping = true;
        }
        self.inner.work_available.notify_all();
        let handles: Vec<_> =
            std::mem::take(&mut *self.inner.workers.lock().unwrap_or_else(|e| e.into_inner()));
        for handle in handles {
            let _ = handle.join();
        }
    }

    fn worker_loop(&self) {
        loop {
            let id = {
                let mut queue = self.inner.queue.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if queue.stopping {
                        return;
                    }
                    if let Some(id) = queue.items.pop_front() {
                        break id;
                    }
                    queue = self
                        .inner
                        .work_available
                        .wait(queue)
                        .unwrap_or_else(|e| e.into_inner());
                }
            };
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.deliver(&id)));
            match result {
                Ok(Err(e)) => httpkit::log_error!("delivery {id}: {e}"),
                Err(_) => httpkit::log_error!(
                    "delivery {id}: worker panicked; the lease will expire and be recorded as unknown"
                ),
                Ok(Ok(())) => {}
            }
            let mut queue = self.inner.queue.lock().unwrap_or_else(|e| e.into_inner());
            queue.busy.remove(&id);
            for waiter in queue.waiters.remove(&id).unwrap_or_default() {
                let _ = waiter.send(());
            }
        }
    }

    /// One attempt at one delivery, if it is due. Public so tests and `run now` can drive it.
    /// A read-back that rules the post out is followed by a new attempt at once.
    pub fn deliver(&self, delivery_id: &str) -> Result<()> {
        let Some(lease) = self.lease(delivery_id)? else {
            return Ok(());
        };
        self.record_lateness(&lease);
        let started = Instant::now();
        let (outcome, step, http_status) = match lease.reconcile_since {
            Some(since) => self.reconcile(&lease, since),
            None => self.attempt(&lease),
        };
        let report = AttemptReport {
            step,
            http_status,
            duration_ms: started.elapsed().as_millis() as i64,
        };
        self.commit(&lease, &outcome, &report)?;
        if let Outcome::PublishAgain { .. } = outcome {
            return self.deliver(delivery_id);
        }
        Ok(())
    }

    /// How late the first attempt of a scheduled post's delivery starts after its `scheduleAt`:
    /// later attempts (automatic retries, looks at a publish still processing, retries by hand)
    /// are late on purpose, so only the first counts.
    fn record_lateness(&self, lease: &Lease) {
        if lease.post.mode != Mode::Scheduled
            || lease.resume_state.is_some()
            || lease.delivery.attempt_count != 1
        {
            return;
        }
        if let Some(schedule_at) = lease
            .post
            .schedule_at
            .as_deref()
            .and_then(crate::clock::parse_timestamp)
        {
            crate::metrics::record_schedule_lateness(self.inner.clock.now() - schedule_at);
        }
    }

    /// Prepare, call, and what the answer means, with the step the attempt ended in and the
    /// status the platform last answered. An attempt that ends while being prepared never
    /// called the platform; one whose call ends early (a refused token refresh after a 401)
    /// did, and keeps the platform's status.
    fn attempt(&self, lease: &Lease) -> (Outcome, AttemptStep, Option<u16>) {
        let step = if lease.resume_state.is_some() {
            AttemptStep::Resume
        } else {
            AttemptStep::Publish
        };
        let prepared = match self.prepare(lease) {
            Ok(prepared) => prepared,
            Err(outcome) => return (self.bounded(lease, outcome), AttemptStep::Prepare, None),
        };
        // Token refreshes while preparing spoke to the platform's OAuth endpoint, not its API.
        crate::providers::take_last_status();
        crate::providers::take_unanswered_safe_call();
        let answer = self.call(&prepared);
        match answer {
            Ok(answer) => {
                let platform_status = crate::providers::take_last_status();
                let (outcome, classified_status) = self.outcome_of(&prepared, answer);
                (outcome, step, platform_status.or(classified_status))
            }
            // `call` fails only when the token refresh after the platform's 401 fails; the last
            // answer read was the OAuth endpoint's, but the platform's was the 401.
            Err(outcome) => (self.bounded(lease, outcome), step, Some(401)),
        }
    }
}
