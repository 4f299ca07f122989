//! The webhook sender: a dispatcher thread and a small pool of sender threads that work
//! through the outbox (`services::webhooks`), each request signed as Standard Webhooks asks.
//!
//! The dispatcher looks for due deliveries (at least once a second, and whenever a sender
//! finishes or `wake` is called) and hands at most `MYPOSTSHARE_WEBHOOK_MAX_IN_FLIGHT` of one
//! endpoint to the senders at a time, so a slow endpoint holds only that many of them and the
//! other endpoints' events go on. A sender POSTs the stored body with `webhook-id`,
//! `webhook-timestamp` and `webhook-signature`, through the same address guard as media
//! fetches (no loopback, private or link-local addresses unless the instance allows them),
//! follows no redirect, waits at most `webhook_timeout`, and records the attempt; what comes
//! next (retry, give up, disable) is decided in `services::webhooks::record_attempt`.
//!
//! The scheduler thread never sends: its jobs only write events into the outbox.

use crate::clock::SharedClock;
use crate::config::Config;
use crate::crypto::Sealer;
use crate::crypto::{base64_standard, base64_standard_decode, hmac_sha256};
use crate::db::Db;
use crate::providers::media::GuardedResolver;
use crate::services::webhooks::{self, AttemptResult, Outgoing, RetryPolicy};
use std::collections::{HashMap, HashSet, VecDeque};
use std::io::Read;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The `webhook-signature` entry of one secret: `v1,` and the standard base64 of
/// HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the bytes the
/// `whsec_` secret encodes. `None` for a secret that is not `whsec_` and base64.
pub fn sign(secret: &str, message_id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = base64_standard_decode(secret.strip_prefix("whsec_")?)?;
    let content = format!("{message_id}.{timestamp}.{body}");
    Some(format!(
        "v1,{}",
        base64_standard(&hmac_sha256(&key, content.as_bytes()))
    ))
}

/// The `webhook-signature` header: one signature per secret, space-separated (the current
/// secret's first, then the previous one's during a rotation window).
pub fn signature_header(
    secrets: &[String],
    message_id: &str,
    timestamp: i64,
    body: &str,
) -> String {
    secrets
        .iter()
        .filter_map(|s| sign(s, message_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The HTTP client of the senders: every connection resolves through the media fetcher's
/// address guard, and no redirect is followed.
fn agent(config: &Config) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .resolver(GuardedResolver {
            allow_private: config.allow_private_media,
        })
        // A redirect is a failure (Standard Webhooks: update the URL instead), and following
        // one could lead the request where the guard would not let it go.
        .redirects(0)
        .timeout_connect(config.webhook_timeout.min(Duration::from_secs(5)))
        .timeout(config.webhook_timeout)
        .user_agent(concat!("mypostshare-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

#[derive(Clone)]
pub struct Sender {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    clock: SharedClock,
    sealer: Sealer,
    agent: ureq::Agent,
    policy: RetryPolicy,
    max_in_flight: usize,
    state: Mutex<State>,
    /// Senders wait here for work.
    work: Condvar,
    /// The dispatcher waits here for a finished send, a `wake`, or its next look.
    dispatch: Condvar,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<(String, String)>,
    /// Deliveries queued or being sent.
    in_flight: HashSet<String>,
    per_endpoint: HashMap<String, usize>,
    woken: bool,
    stopping: bool,
}

impl Sender {
    /// Starts the dispatcher and `config.webhook_senders` sender threads.
    pub fn start(db: Db, clock: SharedClock, sealer: Sealer, config: &Config) -> Sender {
        let agent = agent(config);
        let sender = Sender {
            inner: Arc::new(Inner {
                db,
                clock,
                sealer,
                agent,
                policy: RetryPolicy {
                    schedule: config.webhook_retry_schedule.clone(),
                    disable_after: config.webhook_disable_after,
                },
                max_in_flight: config.webhook_max_in_flight.max(1),
                state: Mutex::new(State::default()),
                work: Condvar::new(),
                dispatch: Condvar::new(),
                threads: Mutex::new(Vec::new()),
            }),
        };
        let mut threads = Vec::new();
        let dispatcher = sender.clone();
        threads.push(
            std::thread::Builder::new()
                .name("webhook-dispatch".into())
                .spawn(move || dispatcher.dispatch_loop())
                .expect("spawning the webhook dispatcher"),
        );
        for n in 0..config.webhook_senders.max(1) {
            let worker = sender.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("webhook-send-{n}"))
                    .spawn(move || worker.send_loop())
                    .expect("spawning a webhook sender"),
            );
        }
        *sender.lock_threads() = threads;
        sender
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_threads(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.inner.threads.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Looks at the outbox now (after a test event or a resend was queued).
    pub fn wake(&self) {
        self.lock().woken = true;
        self.inner.dispatch.notify_all();
    }

    /// Stops taking work and waits for the requests in flight (each ends within its timeout).
    /// Whatever is still pending stays in the outbox for the next start.
    pub fn stop(&self) {
        self.lock().stopping = true;
        self.inner.work.notify_all();
        self.inner.dispatch.notify_all();
        let threads = std::mem::take(&mut *self.lock_threads());
        for thread in threads {
            let _ = thread.join();
        }
    }

    fn dispatch_loop(&self) {
        let inner = &self.inner;
        loop {
            if self.lock().stopping {
                return;
            }
            let now = inner.clock.now();
            match inner
                .db
                .read(|c| webhooks::due_deliveries(c, now, inner.max_in_flight, 500))
            {
                Ok(due) => {
                    let mut state = self.lock();
                    let mut handed = false;
                    for (delivery, endpoint) in due {
                        let busy = state.per_endpoint.get(&endpoint).copied().unwrap_or(0);
                        if busy >= inner.max_in_flight || state.in_flight.contains(&delivery) {
                            continue;
                        }
                        *state.per_endpoint.entry(endpoint.clone()).or_default() += 1;
                        state.in_flight.insert(delivery.clone());
                        state.queue.push_back((delivery, endpoint));
                        handed = true;
                    }
                    drop(state);
                    if handed {
                        inner.work.notify_all();
                    }
                }
                Err(e) => eprintln!("webhook dispatch: reading the outbox failed: {e}"),
            }
            // Sleep until the next delivery is due, at most a second (so a clock moved in
            // tests, or a change written by another process, is noticed), unless woken.
            let now = inner.clock.now();
            let wait = match inner.db.read(webhooks::next_due_at) {
                Ok(Some(at)) if at > now => (at - now).to_std().unwrap_or_default(),
                _ => Duration::from_secs(1),
            }
            .min(Duration::from_secs(1));
            let mut state = self.lock();
            if !state.woken && !state.stopping {
                state = inner
                    .dispatch
                    .wait_timeout(state, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            state.woken = false;
        }
    }

    fn send_loop(&self) {
        loop {
            let (delivery, endpoint) = {
                let mut state = self.lock();
                loop {
                    if state.stopping {
                        return;
                    }
                    if let Some(job) = state.queue.pop_front() {
                        break job;
                    }
                    state = self
                        .inner
                        .work
                        .wait(state)
                        .unwrap_or_else(|e| e.into_inner());
                }
            };
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.send(&delivery, &endpoint)
            }));
            match result {
                Ok(Err(e)) => eprintln!("webhook delivery {delivery}: {e}"),
                Err(_) => eprintln!(
                    "webhook delivery {delivery}: the sender panicked; it stays pending and is sent again"
                ),
                Ok(Ok(())) => {}
            }
            let mut state = self.lock();
            state.in_flight.remove(&delivery);
            if let Some(count) = state.per_endpoint.get_mut(&endpoint) {
                *count -= 1;
                if *count == 0 {
                    state.per_endpoint.remove(&endpoint);
                }
            }
            state.woken = true;
            drop(state);
            self.inner.dispatch.notify_all();
        }
    }

    /// One attempt of one delivery, if it is still pending on an enabled endpoint.
    fn send(&self, delivery_id: &str, endpoint_id: &str) -> crate::error::Result<()> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let (outgoing, result) = match inner
            .db
            .read(|c| webhooks::outgoing(c, &inner.sealer, delivery_id, now))
        {
            Ok(None) => return Ok(()),
            Ok(Some(outgoing)) => {
                let result = self.post(&outgoing);
                (outgoing, result)
            }
            // Never sent unsigned: the attempt fails, with the reason for the dashboard.
            Err(e) => (
                webhooks::unsendable(delivery_id, endpoint_id),
                AttemptResult {
                    started_at: now,
                    duration_ms: 0,
                    status_code: None,
                    error: Some(format!("not sent: {}", e.cause.unwrap_or(e.message))),
                    retry_after: None,
                },
            ),
        };
        webhooks::record_attempt(
            &inner.db,
            &outgoing,
            &result,
            &inner.policy,
            inner.clock.now(),
        )?;
        Ok(())
    }

    /// POSTs the event, signed with every secret of the endpoint.
    fn post(&self, outgoing: &Outgoing) -> AttemptResult {
        let started_at = self.inner.clock.now();
        let timestamp = started_at.timestamp();
        let signature = signature_header(
            &outgoing.secrets,
            &outgoing.event_id,
            timestamp,
            &outgoing.payload,
        );
        let clock = Instant::now();
        let answer = self
            .inner
            .agent
            .post(&outgoing.url)
            .set("Content-Type", "application/json")
            .set("webhook-id", &outgoing.event_id)
            .set("webhook-timestamp", &timestamp.to_string())
            .set("webhook-signature", &signature)
            .send_string(&outgoing.payload);
        let (status_code, error, retry_after) = match answer {
            Ok(response) => {
                let status = response.status();
                let error = (!(200..300).contains(&status)).then(|| {
                    format!(
                        "answered HTTP {status} (a redirect to {:?} is not followed: give the endpoint's final URL)",
                        response.header("location").unwrap_or_default()
                    )
                });
                drain(response);
                (Some(status), error, None)
            }
            Err(ureq::Error::Status(status, response)) => {
                let retry_after = response
                    .header("retry-after")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let body = body_start(response);
                let error = if body.is_empty() {
                    format!("answered HTTP {status}")
                } else {
                    format!("answered HTTP {status}: {body}")
                };
                (Some(status), Some(error), retry_after)
            }
            Err(ureq::Error::Transport(transport)) => (None, Some(transport.to_string()), None),
        };
        AttemptResult {
            started_at,
            duration_ms: clock.elapsed().as_millis() as i64,
            status_code,
            error,
            retry_after,
        }
    }
}

/// Reads what is left of an answer (a little), so the connection can be reused.
fn drain(response: ureq::Response) {
    let _ = std::io::copy(
        &mut response.into_reader().take(64 * 1024),
        &mut std::io::sink(),
    );
}

/// The first 200 characters of an error answer's body, on one line, for the dashboard.
fn body_start(response: ureq::Response) -> String {
    let mut bytes = Vec::new();
    let _ = response.into_reader().take(2048).read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks reference libraries: this secret, id, timestamp
    /// and body sign to this signature.
    #[test]
    fn signs_as_the_reference_libraries_do() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
        assert_eq!(sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "m", 1, body), None);
    }

    /// A URL that got past the check at creation (a name that resolves inward later) is still
    /// refused at each attempt, by the resolver.
    #[test]
    fn the_senders_refuse_internal_addresses_unless_the_instance_allows_them() {
        let mut config = Config::new(
            "unused.db",
            crate::crypto::MasterKey::from_material("unit test key material, 32+ chars"),
        );
        assert!(!config.allow_private_media);
        for url in ["http://localhost:9/hook", "http://127.0.0.1:9/hook"] {
            let error = agent(&config).post(url).send_string("{}").unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("private, loopback or link-local"),
                "{url}: {error}"
            );
        }
        config.allow_private_media = true;
        let error = agent(&config)
            .post("http://127.0.0.1:9/hook")
            .send_string("{}")
            .unwrap_err();
        assert!(
            !error
                .to_string()
                .contains("private, loopback or link-local"),
            "{error}"
        );
    }

    #[test]
    fn two_secrets_make_two_space_separated_signatures() {
        let secrets = vec![
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string(),
            crate::services::webhooks::new_secret(),
        ];
        let header = signature_header(&secrets, "msg_1", 1614265330, "{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2, "{header}");
        assert!(parts.iter().all(|p| p.starts_with("v1,")), "{header}");
        assert_ne!(parts[0], parts[1]);
    }
}
