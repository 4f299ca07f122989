//! The Prometheus metrics of the process (`GET /metrics`, text exposition format 0.0.4, with
//! the `prometheus-client` crate): requests by route template, method and status with a latency
//! histogram, deliveries and token refreshes by platform and outcome, webhook deliveries by
//! outcome, the lateness of scheduled posts, and, read when scraped, the delivery queue, the
//! database and WAL file sizes and the build.
//!
//! The counters are process-wide (one registry, as Prometheus expects of a process), so any
//! part of the appliance records with a plain function call and no state to carry:
//! `record_request`, `record_delivery`, `record_token_refresh`, `record_schedule_lateness` and,
//! for the webhook sender, `record_webhook_delivery(outcome)`. Labels are bounded: route
//! templates, never raw paths or ids.
//!
//! Who may read them is decided here too (`allowed`): with `MYPOSTSHARE_METRICS_TOKEN` set,
//! `Authorization: Bearer <token>`; without it, only a loopback peer that no proxy forwarded.

use crate::app::AppState;
use crate::crypto::sha256_hex;
use crate::error::{Code, Error};
use crate::http::{Request, Response, error_response};
use crate::services::posts;
use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PlatformOutcome {
    platform: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FileLabel {
    file: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: HistogramFamily<RouteLabels>,
    deliveries: Family<PlatformOutcome, Counter>,
    token_refreshes: Family<PlatformOutcome, Counter>,
    webhook_deliveries: Family<OutcomeLabel, Counter>,
    schedule_lateness: Histogram,
    queue: Family<StateLabel, Gauge>,
    database_bytes: Family<FileLabel, Gauge>,
}

fn request_duration_histogram() -> Histogram {
    // 1 ms to about 33 s: an API read takes milliseconds, a publish waits for its platforms up
    // to the 20 s budget.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.001, 2.0, 16,
    ))
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "mypostshare_http_requests",
            "HTTP requests answered, by route template, method and status",
            requests.clone(),
        );
        let request_duration: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(request_duration_histogram);
        registry.register(
            "mypostshare_http_request_duration_seconds",
            "Time to answer an HTTP request (handler time, body read before), by route template and method",
            request_duration.clone(),
        );
        let deliveries = Family::<PlatformOutcome, Counter>::default();
        registry.register(
            "mypostshare_deliveries",
            "Delivery attempts finished, by platform and outcome (published, failed, retry_scheduled, processing, outcome_unknown, reconciling, reconciled, reconciled_absent)",
            deliveries.clone(),
        );
        let token_refreshes = Family::<PlatformOutcome, Counter>::default();
        registry.register(
            "mypostshare_token_refreshes",
            "Access-token refreshes at a platform, by platform and outcome (refreshed, refused, failed)",
            token_refreshes.clone(),
        );
        let webhook_deliveries = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "mypostshare_webhook_deliveries",
            "Webhook deliveries to customers' endpoints, by outcome",
            webhook_deliveries.clone(),
        );
        // Half a second to two hours: a healthy dispatcher is late by about its one-second
        // tick; hours mean the instance was down when posts fell due.
        let schedule_lateness = Histogram::new([
            0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 7200.0,
        ]);
        registry.register(
            "mypostshare_schedule_lateness_seconds",
            "Seconds between a scheduled post's scheduleAt and the first attempt of each of its deliveries",
            schedule_lateness.clone(),
        );
        let queue = Family::<StateLabel, Gauge>::default();
        registry.register(
            "mypostshare_delivery_queue",
            "Deliveries waiting, read when scraped: due (may be sent now), pending (due or waiting for their time), processing (leased or being processed by the platform)",
            queue.clone(),
        );
        let database_bytes = Family::<FileLabel, Gauge>::default();
        registry.register(
            "mypostshare_database_size_bytes",
            "Size of the SQLite database file and its write-ahead log, read when scraped",
            database_bytes.clone(),
        );
        registry.register(
            "mypostshare_build",
            "The running build",
            Info::new(vec![("version".to_string(), version().to_string())]),
        );
        // Every platform's series exist from the start at 0, so a rate over the first event is
        // a rate and not a series appearing from nothing.
        for platform in crate::providers::Platform::ALL {
            for outcome in DeliveryOutcome::ALL {
                let _ = deliveries.get_or_create(&PlatformOutcome {
                    platform: platform.key().to_string(),
                    outcome: outcome.as_str().to_string(),
                });
            }
            for outcome in RefreshOutcome::ALL {
                let _ = token_refreshes.get_or_create(&PlatformOutcome {
                    platform: platform.key().to_string(),
                    outcome: outcome.as_str().to_string(),
                });
            }
        }
        Self {
            registry,
            requests,
            request_duration,
            deliveries,
            token_refreshes,
            webhook_deliveries,
            schedule_lateness,
            queue,
            database_bytes,
        }
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// One answered request. `route` is a template (`/v1/posts/{id}`), so the label set stays small
/// whatever ids clients send.
pub fn record_request(route: &str, method: &str, status: u16, elapsed: Duration) {
    let metrics = &*METRICS;
    metrics
        .requests
        .get_or_create(&RequestLabels {
            route: route.to_string(),
            method: method.to_string(),
            status: status.to_string(),
        })
        .inc();
    metrics
        .request_duration
        .get_or_create(&RouteLabels {
            route: route.to_string(),
            method: method.to_string(),
        })
        .observe(elapsed.as_secs_f64());
}

/// How one delivery attempt ended, as the metrics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Published,
    Failed,
    /// Not accepted, tried again later automatically (429, unreachable).
    RetryScheduled,
    /// Accepted, still processed by the platform; looked at again later.
    Processing,
    /// Given up as `OUTCOME_UNKNOWN`: reading the platform back could not tell.
    Unknown,
    /// Cut off mid-call (a crash, a kill, no answer in time), or a read-back that failed: to
    /// be read back from the platform.
    Reconciling,
    /// Read back and found on the platform: published.
    Reconciled,
    /// Read back and certainly absent: published again.
    ReconciledAbsent,
}

impl DeliveryOutcome {
    pub const ALL: [DeliveryOutcome; 8] = [
        DeliveryOutcome::Published,
        DeliveryOutcome::Failed,
        DeliveryOutcome::RetryScheduled,
        DeliveryOutcome::Processing,
        DeliveryOutcome::Unknown,
        DeliveryOutcome::Reconciling,
        DeliveryOutcome::Reconciled,
        DeliveryOutcome::ReconciledAbsent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Published => "published",
            DeliveryOutcome::Failed => "failed",
            DeliveryOutcome::RetryScheduled => "retry_scheduled",
            DeliveryOutcome::Processing => "processing",
            DeliveryOutcome::Unknown => "outcome_unknown",
            DeliveryOutcome::Reconciling => "reconciling",
            DeliveryOutcome::Reconciled => "reconciled",
            DeliveryOutcome::ReconciledAbsent => "reconciled_absent",
        }
    }
}

pub fn record_delivery(platform: &str, outcome: DeliveryOutcome) {
    METRICS
        .deliveries
        .get_or_create(&PlatformOutcome {
            platform: platform.to_string(),
            outcome: outcome.as_str().to_string(),
        })
        .inc();
}

/// How a token refresh at a platform ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshOutcome {
    Refreshed,
    /// The platform refused the refresh token: the person must connect again.
    Refused,
    /// Anything else: unreachable, an error storing the answer, a token we cannot open.
    Failed,
}

impl RefreshOutcome {
    pub const ALL: [RefreshOutcome; 3] = [
        RefreshOutcome::Refreshed,
        RefreshOutcome::Refused,
        RefreshOutcome::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefreshOutcome::Refreshed => "refreshed",
            RefreshOutcome::Refused => "refused",
            RefreshOutcome::Failed => "failed",
        }
    }
}

pub fn record_token_refresh(platform: &str, outcome: RefreshOutcome) {
    METRICS
        .token_refreshes
        .get_or_create(&PlatformOutcome {
            platform: platform.to_string(),
            outcome: outcome.as_str().to_string(),
        })
        .inc();
}

/// One webhook delivery to a customer's endpoint finished with `outcome`: for the webhook
/// sender to call once per HTTP attempt. Keep `outcome` to a few fixed words (`delivered`,
/// `failed`, `retry_scheduled`, `gave_up`), never a URL or a status text: every distinct value
/// is a series of its own.
pub fn record_webhook_delivery(outcome: &str) {
    METRICS
        .webhook_deliveries
        .get_or_create(&OutcomeLabel {
            outcome: outcome.to_string(),
        })
        .inc();
}

/// A scheduled delivery's first attempt began `lateness` after its post's `scheduleAt`
/// (negative lateness, a clock step, counts as on time).
pub fn record_schedule_lateness(lateness: chrono::Duration) {
    let seconds = lateness.num_milliseconds().max(0) as f64 / 1000.0;
    METRICS.schedule_lateness.observe(seconds);
}

/// The text exposition of every metric, after reading the scrape-time ones from `state`.
pub fn render(state: &AppState, now: DateTime<Utc>) -> Result<String, Error> {
    let metrics = &*METRICS;
    let depth = posts::queue_depth(&state.db, now)?;
    for (name, value) in [
        ("due", depth.due),
        ("pending", depth.pending),
        ("processing", depth.processing),
    ] {
        metrics
            .queue
            .get_or_create(&StateLabel {
                state: name.to_string(),
            })
            .set(value);
    }
    let wal = wal_path(&state.config.db_path);
    for (file, path) in [("db", state.config.db_path.as_path()), ("wal", &wal)] {
        // A missing WAL (just checkpointed and truncated, or never written) is 0 bytes.
        let size = std::fs::metadata(path).map_or(0, |m| m.len());
        metrics
            .database_bytes
            .get_or_create(&FileLabel {
                file: file.to_string(),
            })
            .set(i64::try_from(size).unwrap_or(i64::MAX));
    }
    let mut text = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut text, &metrics.registry)
        .map_err(|e| Error::internal(format!("encoding the metrics: {e}")))?;
    Ok(text)
}

fn wal_path(db_path: &Path) -> std::path::PathBuf {
    let mut name = db_path.as_os_str().to_owned();
    name.push("-wal");
    name.into()
}

/// `GET /metrics`, after the access check.
pub fn handle(state: &AppState, req: &Request) -> Response {
    if req.method != "GET" {
        return error_response(
            &Error::method_not_allowed("/metrics", &req.method, &["GET"]),
            &req.request_id,
        );
    }
    if let Err(refusal) = allowed(&state.config.metrics_token.0, req) {
        return error_response(&refusal, &req.request_id);
    }
    match render(state, state.clock.now()) {
        Ok(text) => Response::new(200)
            .with_header(
                "Content-Type",
                prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            )
            .with_header("Cache-Control", "no-store")
            .with_body(text.into_bytes()),
        Err(e) => error_response(&e, &req.request_id),
    }
}

/// Headers a reverse proxy adds. A request carrying one came through a proxy, so its loopback
/// peer says nothing about the client: Caddy or nginx on the same host would otherwise open
/// `/metrics` to the internet.
const FORWARDING_HEADERS: [&str; 3] = ["forwarded", "x-forwarded-for", "x-real-ip"];

/// Whether `req` may read the metrics: with a token configured, exactly that bearer token (from
/// any address, so a Prometheus elsewhere can scrape through the proxy); without one, only a
/// loopback peer, and only when no proxy forwarded the request.
pub fn allowed(token: &str, req: &Request) -> Result<(), Error> {
    if !token.is_empty() {
        // Compare hashes, so the time taken says nothing about how much of a guess was right.
        let given = req.bearer_token().map(|t| sha256_hex(t.as_bytes()));
        return match given {
            Some(given) if given == sha256_hex(token.as_bytes()) => Ok(()),
            Some(_) => Err(Error::new(
                Code::Unauthorized,
                "The bearer token does not match MYPOSTSHARE_METRICS_TOKEN.",
            )),
            None => Err(Error::new(
                Code::Unauthorized,
                "Send the metrics token as `Authorization: Bearer <MYPOSTSHARE_METRICS_TOKEN>`.",
            )),
        };
    }
    let loopback = req.remote_addr.is_some_and(|a| a.ip().is_loopback());
    let forwarded = FORWARDING_HEADERS.iter().any(|h| req.header(h).is_some());
    if loopback && !forwarded {
        Ok(())
    } else {
        Err(Error::new(
            Code::MetricsForbidden,
            "Metrics answer only to this host's loopback address unless MYPOSTSHARE_METRICS_TOKEN is set; set it and send `Authorization: Bearer <token>`.",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn request_from(peer: &str) -> Request {
        let mut req = Request::new("GET", "/metrics");
        req.remote_addr = Some(peer.parse::<SocketAddr>().unwrap());
        req
    }

    #[test]
    fn without_a_token_only_unforwarded_loopback_peers_are_let_in() {
        assert!(allowed("", &request_from("127.0.0.1:5000")).is_ok());
        assert!(allowed("", &request_from("[::1]:5000")).is_ok());
        assert!(allowed("", &request_from("192.0.2.7:5000")).is_err());
        let mut proxied = request_from("127.0.0.1:5000");
        proxied
            .headers
            .push(("X-Forwarded-For".into(), "198.51.100.9".into()));
        assert_eq!(
            allowed("", &proxied).unwrap_err().code,
            Code::MetricsForbidden
        );
    }

    #[test]
    fn with_a_token_only_that_bearer_token_is_let_in() {
        let token = "scrape-me-0123456789";
        let mut remote = request_from("192.0.2.7:5000");
        assert_eq!(
            allowed(token, &remote).unwrap_err().code,
            Code::Unauthorized
        );
        remote
            .headers
            .push(("Authorization".into(), format!("Bearer {token}")));
        assert!(allowed(token, &remote).is_ok());
        let mut wrong = request_from("127.0.0.1:5000");
        wrong
            .headers
            .push(("Authorization".into(), "Bearer scrape-me".into()));
        // Loopback is no way around a configured token.
        assert_eq!(allowed(token, &wrong).unwrap_err().code, Code::Unauthorized);
    }
}
