//! Delivering posts to platforms: a fixed pool of delivery workers takes delivery ids, leases
//! each one (committed before the platform is called), makes sure the token is fresh, calls the
//! provider, and commits the outcome. Retries happen only where the platform certainly did not
//! accept the post (rate limited, unreachable), with exponential backoff and jitter.

use crate::clock::SharedClock;
use crate::config::Config;
use crate::crypto::{Sealer, random_bytes};
use crate::db::Db;
use crate::error::{Code, Error, Result};
use crate::providers::{
    PostContent, Provider, ProviderError, Providers, PublishRequest, PublishStep,
};
use crate::services::apps;
use crate::services::connections::{self, ConnectionStatus, SocialConnection};
use crate::services::posts::{self, DeliveryStatus, Lease, Outcome};
use chrono::{DateTime, Duration, Utc};
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
    clock: SharedClock,
    sealer: Sealer,
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
    pub fn start(
        db: Db,
        clock: SharedClock,
        sealer: Sealer,
        providers: Providers,
        config: Arc<Config>,
    ) -> Engine {
        let engine = Engine {
            inner: Arc::new(Inner {
                db,
                clock,
                sealer,
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
                    // after a rate limit is left to the dispatcher.
                    Ok(Some(d)) if d.status == DeliveryStatus::Processing => {
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

    /// Refreshes the given connections' tokens on a thread of its own (never the scheduler's),
    /// one after the other; a second call while one batch runs is skipped. Failures are
    /// recorded on the connection exactly as a delivery's would be.
    pub fn refresh_connections(&self, ids: Vec<String>) -> bool {
        if ids.is_empty()
            || self
                .inner
                .refreshing
                .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return false;
        }
        let engine = self.clone();
        let spawned = std::thread::Builder::new()
            .name("token-refresh".into())
            .spawn(move || {
                for id in ids {
                    let inner = &engine.inner;
                    let Ok(Some(connection)) = inner.db.read(|c| connections::get(c, &id)) else {
                        continue;
                    };
                    let Some(provider) = inner.providers.get(connection.platform) else {
                        continue;
                    };
                    let credentials = inner.db.read(|c| {
                        apps::credentials_for_source(
                            c,
                            &inner.sealer,
                            &inner.config.managed_credentials,
                            &connection.app_id,
                            connection.platform,
                            connection.credential_source,
                        )
                    });
                    if let Ok(Some(credentials)) = credentials
                        && let Err(Outcome::Failed { code, message }) = engine.fresh_access_token(
                            &connection,
                            provider.as_ref(),
                            &credentials,
                            true,
                        )
                    {
                        eprintln!("token refresh of connection {id}: {code}: {message}");
                    }
                }
                engine
                    .inner
                    .refreshing
                    .store(false, std::sync::atomic::Ordering::SeqCst);
            });
        if spawned.is_err() {
            self.inner
                .refreshing
                .store(false, std::sync::atomic::Ordering::SeqCst);
        }
        spawned.is_ok()
    }

    /// A usable access token for a connection, refreshed first if needed (for calls outside a
    /// delivery, such as listing a connection's targets).
    pub fn access_token_for(&self, connection: &SocialConnection) -> Result<String> {
        let inner = &self.inner;
        let provider = inner.providers.get(connection.platform).ok_or_else(|| {
            Error::new(
                Code::PlatformNotSupported,
                "This platform is not available.",
            )
        })?;
        let credentials = inner
            .db
            .read(|c| {
                apps::credentials_for_source(
                    c,
                    &inner.sealer,
                    &inner.config.managed_credentials,
                    &connection.app_id,
                    connection.platform,
                    connection.credential_source,
                )
            })?
            .ok_or_else(|| {
                Error::new(
                    Code::CredentialsMissing,
                    "The credentials this account was connected with are no longer configured.",
                )
            })?;
        self.fresh_access_token(connection, provider.as_ref(), &credentials, false)
            .map_err(|outcome| match outcome {
                Outcome::Failed { code, message } | Outcome::RetryAt { code, message, .. } => {
                    Error::new(code, message)
                }
                _ => Error::internal("unexpected outcome"),
            })
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
                Ok(Err(e)) => eprintln!("delivery {id}: {e}"),
                Err(_) => eprintln!(
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
    pub fn deliver(&self, delivery_id: &str) -> Result<()> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let Some(lease) = posts::lease(&inner.db, delivery_id, inner.config.delivery_lease, now)?
        else {
            return Ok(());
        };
        let started = Instant::now();
        let (outcome, http_status) = self.attempt(&lease);
        let finished = inner.clock.now();
        posts::record_outcome(
            &inner.db,
            &lease,
            &outcome,
            http_status,
            started.elapsed().as_millis() as i64,
            finished,
        )?;
        Ok(())
    }

    fn attempt(&self, lease: &Lease) -> (Outcome, Option<u16>) {
        let inner = &self.inner;
        let platform = lease.delivery.platform;
        let key = platform.key();
        let failed = |code: Code, message: String| (Outcome::Failed { code, message }, None);
        let connection = match lease
            .delivery
            .connection_id
            .as_deref()
            .map(|id| inner.db.read(|c| connections::get(c, id)))
        {
            Some(Ok(Some(c))) => c,
            Some(Err(e)) => {
                return failed(
                    Code::InternalError,
                    format!("Reading the connection failed: {}", e.message),
                );
            }
            _ => {
                return failed(
                    Code::PlatformNotConnected,
                    format!("The {key} connection was removed before the post was delivered."),
                );
            }
        };
        if connection.status == ConnectionStatus::Disconnected {
            return failed(
                Code::PlatformNotConnected,
                format!("The {key} account was disconnected before the post was delivered."),
            );
        }
        if connection.needs_reconnect {
            return failed(
                Code::NeedsReconnect,
                format!(
                    "The {key} connection needs to be reconnected: {}",
                    connection.last_error_message.clone().unwrap_or_default()
                ),
            );
        }
        let Some(provider) = inner.providers.get(platform) else {
            return failed(
                Code::PlatformNotSupported,
                format!("Publishing to {key} is not available in this version."),
            );
        };
        let credentials = inner.db.read(|c| {
            apps::credentials_for_source(
                c,
                &inner.sealer,
                &inner.config.managed_credentials,
                &connection.app_id,
                platform,
                connection.credential_source,
            )
        });
        let credentials = match credentials {
            Ok(Some(c)) => c,
            Ok(None) => {
                return failed(
                    Code::CredentialsMissing,
                    format!(
                        "The {key} client credentials this account was connected with are no longer configured."
                    ),
                );
            }
            Err(e) => return failed(Code::InternalError, e.message),
        };
        let content = content_of(&lease.post);
        let empty = serde_json::Map::new();
        let options = lease
            .post
            .platform_options
            .as_ref()
            .and_then(|o| o.get(key))
            .and_then(|o| o.as_object())
            .unwrap_or(&empty);
        let age = inner.clock.now() - crate::services::parse_ts(&lease.delivery.created_at);
        if lease.resume_state.is_some() && age > Duration::hours(MAX_PROCESSING_HOURS) {
            return failed(
                Code::ProcessingTimeout,
                format!(
                    "{key} was still processing the media after {MAX_PROCESSING_HOURS} hours; check the account before posting again."
                ),
            );
        }
        let token =
            match self.fresh_access_token(&connection, provider.as_ref(), &credentials, false) {
                Ok(token) => token,
                Err(outcome) => return (outcome, None),
            };
        let account = connection.account();
        let call = |token: &str| {
            let request = PublishRequest {
                access_token: token,
                account: &account,
                post: &content,
                options,
                media: &inner.providers.media,
            };
            match &lease.resume_state {
                Some(state) => provider.resume(&request, state),
                None => provider.publish(&request),
            }
        };
        let mut result = call(&token);
        if let Err(ProviderError::Unauthorized { .. }) = &result
            && connection.can_auto_refresh(inner.clock.now())
        {
            // The token died early (revoked scope, platform-side rotation): one refresh and one
            // more try, since a 401 means the post was certainly not created.
            match self.fresh_access_token(&connection, provider.as_ref(), &credentials, true) {
                Ok(token) => result = call(&token),
                Err(outcome) => return (outcome, None),
            }
        }
        match result {
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
                        at: inner.clock.now() + wait,
                    },
                    None,
                )
            }
            Err(error) => (
                self.classify_failure(&connection, lease, &error),
                http_status_of(&error),
            ),
        }
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
        let can_retry = lease.delivery.attempt_count < inner.config.delivery_max_attempts;
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
                let at = now + backoff(lease.delivery.attempt_count, hint);
                Outcome::RetryAt {
                    code: error.code(),
                    message: format!("{message}; retrying automatically"),
                    at,
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

    /// The connection's access token, refreshed first when it has expired or is about to (or
    /// when `force`d after a 401). Errors come back as the outcome to record.
    fn fresh_access_token(
        &self,
        connection: &SocialConnection,
        provider: &dyn Provider,
        credentials: &crate::config::ClientCredentials,
        force: bool,
    ) -> std::result::Result<String, Outcome> {
        let inner = &self.inner;
        let key = connection.platform.key();
        let now = inner.clock.now();
        let stale = |c: &SocialConnection, at: DateTime<Utc>| {
            c.access_token_expires_at
                .as_deref()
                .is_some_and(|t| crate::services::parse_ts(t) - Duration::seconds(60) <= at)
        };
        if !force && !stale(connection, now) {
            return connection
                .access_token(&inner.sealer)
                .ok_or_else(|| undecryptable(key));
        }
        if !connection.can_auto_refresh(now) {
            let message = format!(
                "The {key} access token has expired and cannot be refreshed (no usable refresh token); the user must connect again."
            );
            connections::flag_for_reconnect(
                &inner.db,
                &connection.id,
                Code::TokenExpired,
                &message,
                now,
            );
            return Err(Outcome::Failed {
                code: Code::TokenExpired,
                message,
            });
        }
        let lock = {
            let mut locks = inner
                .refresh_locks
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            locks.entry(connection.id.clone()).or_default().clone()
        };
        let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        // Another delivery may have refreshed while this one waited: read again first.
        let current = match inner.db.read(|c| connections::get(c, &connection.id)) {
            Ok(Some(c)) => c,
            _ => {
                return Err(Outcome::Failed {
                    code: Code::PlatformNotConnected,
                    message: format!("The {key} connection was removed."),
                });
            }
        };
        if current.access_token_enc != connection.access_token_enc && !stale(&current, now) {
            return current
                .access_token(&inner.sealer)
                .ok_or_else(|| undecryptable(key));
        }
        let refresh_token = current
            .refresh_token(&inner.sealer)
            .ok_or_else(|| undecryptable(key))?;
        match provider.refresh(credentials, &refresh_token) {
            Ok(tokens) => {
                let now = inner.clock.now();
                inner
                    .db
                    .write(|tx| {
                        connections::store_refreshed_tokens(
                            tx,
                            &inner.sealer,
                            &current.id,
                            &tokens,
                            now,
                        )
                    })
                    .map_err(|e| Outcome::Failed {
                        code: Code::InternalError,
                        message: e.message,
                    })?;
                Ok(tokens.access_token)
            }
            Err(ProviderError::OAuth { error, message }) => {
                let message = format!(
                    "{key} refused to refresh the token ({error}: {message}); the user must connect again."
                );
                connections::flag_for_reconnect(
                    &inner.db,
                    &current.id,
                    Code::NeedsReconnect,
                    &message,
                    now,
                );
                Err(Outcome::Failed {
                    code: Code::NeedsReconnect,
                    message,
                })
            }
            Err(other) => Err(Outcome::Failed {
                code: other.code(),
                message: format!("Refreshing the {key} token failed: {}", other.message()),
            }),
        }
    }
}

/// How long a platform may take to process media before the delivery gives up.
const MAX_PROCESSING_HOURS: i64 = 6;

pub fn content_of(post: &posts::PostRequest) -> PostContent {
    PostContent {
        title: post.title.clone(),
        text: post.content.clone(),
        media_url: post.media_url.clone(),
        thumbnail_url: post.thumbnail_url.clone(),
        media_kind: post.media_kind,
    }
}

fn undecryptable(key: &str) -> Outcome {
    Outcome::Failed {
        code: Code::NeedsReconnect,
        message: format!(
            "The stored {key} token cannot be decrypted with this instance's secret key; the user must connect again."
        ),
    }
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
