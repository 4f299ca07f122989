//! Every setting of the appliance, declared once: each row below gives a setting's field, type,
//! flag, environment variable, default and help, and from it come the command line (clap, in
//! `cli`), `Config` and its defaults (the same for the binary and the tests), the check for
//! unknown `MYPOSTSHARE_*` variables and the reference in `docs/configuration.md`
//! (`reference`). The per-platform variables come from the platform table
//! (`providers::platforms`). Settings reach the process only through clap and the few
//! environment readers here; nothing else in the crate reads the environment.

pub mod declare;
pub mod reference;

use crate::crypto::{self, MasterKey};
use crate::providers::{PLATFORMS, Platform};
use clap::builder::{PathBufValueParser, StringValueParser, TypedValueParser};
use clap::value_parser;
use declare::{DeclaredSetting, fixed, group, list, settings, switch, value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where a platform's API lives. The browser-facing authorize host and the server-to-server API
/// host are separate because the real platforms separate them (www.linkedin.com versus
/// api.linkedin.com), and because in `serve --sandbox` the browser reaches the simulator through
/// the public URL while the appliance reaches it on loopback. The production values are the
/// rows of `providers::PLATFORMS`.
#[derive(Debug, Clone)]
pub struct ProviderEndpoints {
    /// Base of the pages a person sees (authorize), e.g. `https://www.linkedin.com`.
    pub auth_base: String,
    /// Base of the token endpoint, e.g. `https://www.linkedin.com`.
    pub token_base: String,
    /// Base of the REST API, e.g. `https://api.linkedin.com`.
    pub api_base: String,
    /// API version pinned by the adapter (LinkedIn-Version `YYYYMM`).
    pub api_version: String,
    /// The platform's test host for API calls, where it has one (Pinterest's
    /// `api-sandbox.pinterest.com`); credentials whose `api_host` is `sandbox` call it.
    pub sandbox_api_base: Option<String>,
    /// The Reddit username the User-Agent names (`by /u/<name>`): Reddit's API rules ask for
    /// the developer's own (`MYPOSTSHARE_REDDIT_USERNAME`). Only Reddit's adapter reads it.
    pub user_agent_username: String,
}

/// Which of a platform's API hosts an OAuth client calls. Pinterest gives new apps Trial
/// access, which may create Pins only on `api-sandbox.pinterest.com` (code 29 elsewhere); the
/// host is therefore a property of the credentials, not of the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApiHost {
    #[default]
    Production,
    Sandbox,
}

impl ApiHost {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiHost::Production => "production",
            ApiHost::Sandbox => "sandbox",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "production" => Some(ApiHost::Production),
            "sandbox" => Some(ApiHost::Sandbox),
            _ => None,
        }
    }
}

/// A secret setting: `Debug` (and so any dump of `Config`) shows only whether it is set.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretText(pub String);

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "<unset>"
        } else {
            "<redacted>"
        })
    }
}

/// OAuth client credentials the instance owns and lends to apps without their own.
#[derive(Clone)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: String,
    /// The API host these credentials call (production unless the platform has a sandbox
    /// host and the operator chose it).
    pub api_host: ApiHost,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("api_host", &self.api_host)
            .finish()
    }
}

settings! {
    /// What the running appliance reads: the settings of `serve`, values the code fixes, and the
    /// database path and master key the caller gives.
    #[derive(Debug, Clone)]
    pub struct Config {
        /// How browsers and platforms reach this instance (e.g. https://posts.example.com).
        pub public_url: String =
            value("public-url", "MYPOSTSHARE_PUBLIC_URL", text())
                .shown_default("`http://<addr>`")
                .details("`connectUrl` and the OAuth callbacks are built on it."),
        /// Mount the platform simulator and point every platform at it.
        pub sandbox: bool =
            switch("sandbox", "MYPOSTSHARE_SANDBOX")
                .details("The simulator's pages are served under `/sandbox`."),
        /// Point every platform at a standalone simulator at this URL (staging).
        pub simulator_url: String =
            value("simulator-url", "MYPOSTSHARE_SIMULATOR_URL", text())
                .shown_default("none")
                .details("The URL of `mypostshare sandbox`, reachable by this process and by the people who connect accounts; each platform is then served under `{URL}/{platform key}`. `MYPOSTSHARE_{PLATFORM}_AUTH_BASE`, `_TOKEN_BASE` and `_API_BASE` still override one platform, e.g. to use LinkedIn's real API and the simulator for the rest."),
        /// HTTP handler threads.
        pub worker_threads: usize =
            value("workers", "MYPOSTSHARE_WORKERS", at_least_one())
                .default("8"),
        /// Largest accepted request body, in bytes.
        pub max_body_bytes: usize =
            value("max-body-bytes", "MYPOSTSHARE_MAX_BODY_BYTES", parsed::<usize>)
                .default("1048576")
                .details("Larger bodies get 413."),
        /// Largest request head, in bytes (larger heads get 431).
        pub max_header_bytes: usize = fixed(16 * 1024),
        /// Seconds a client may stall in one read of a body (or one write of a response).
        pub read_timeout: Duration =
            value("read-timeout-secs", "MYPOSTSHARE_READ_TIMEOUT_SECS", seconds_at_least_one())
                .default("10")
                .details("A client stalled longer is dropped."),
        /// Seconds the request line and headers may take from their first byte, however they
        /// trickle.
        pub head_timeout: Duration =
            value("head-timeout-secs", "MYPOSTSHARE_HEAD_TIMEOUT_SECS", seconds_at_least_one())
                .default("10")
                .details(
                    "On a new connection the time runs from the accept; a late head gets 408 \
                    `HEAD_TIMEOUT`.",
                ),
        /// Seconds an idle keep-alive connection stays open (announced in `Keep-Alive: timeout=N`).
        pub keep_alive: Duration =
            value("keep-alive-secs", "MYPOSTSHARE_KEEP_ALIVE_SECS", seconds_at_least_one())
                .default("5")
                .details("Then it is closed cleanly, without an answer."),
        /// Connections open at once (lowered to three quarters of the open-file limit); when full,
        /// the oldest idle keep-alive connection is closed to make room.
        pub max_connections: usize =
            value("max-connections", "MYPOSTSHARE_MAX_CONNECTIONS", at_least_one())
                .default("4096")
                .shown_default("`4096` (at most ¾ of the open-file limit)")
                .details("With none idle, a new connection gets 503 `SERVER_BUSY`."),
        /// Connections open at once from one client address (trusted proxies are exempt).
        pub max_connections_per_ip: usize =
            value("max-connections-per-ip", "MYPOSTSHARE_MAX_CONNECTIONS_PER_IP", at_least_one())
                .default("256")
                .details("Beyond it, 429 `TOO_MANY_CONNECTIONS`."),
        /// Addresses of reverse proxies in front of the instance, comma-separated.
        pub trusted_proxies: Vec<std::net::IpAddr> =
            list("trusted-proxies", "MYPOSTSHARE_TRUSTED_PROXIES", parsed::<std::net::IpAddr>)
                .details(
                    "They are exempt from the per-address connection cap, and when one of them is \
                    the peer, the client's address is the right-most address of \
                    `X-Forwarded-For` that is not a trusted proxy (the rate limits, the request \
                    log and the dashboard's sign-in throttle use it).",
                ),
        /// Requests a minute each API key may make, publishing endpoints aside (the general
        /// budget).
        pub rate_limit_per_minute: u32 =
            value("rate-limit-per-minute", "MYPOSTSHARE_RATE_LIMIT_PER_MINUTE", parsed::<u32>)
                .default("600")
                .details(
                    "A token bucket per key refills at this rate; 0 turns the limit off. An app \
                    can have its own (dashboard app page, `app limits`). Beyond it, 429 \
                    `RATE_LIMITED`.",
                ),
        /// Requests an API key may make at once before the general per-minute rate applies (the
        /// size of its bucket).
        pub rate_limit_burst: u32 =
            value("rate-limit-burst", "MYPOSTSHARE_RATE_LIMIT_BURST", burst())
                .default("60")
                .details("0 counts as 1."),
        /// Requests a minute each API key may make to `POST /v1/posts` and
        /// `POST /v1/posts/scheduled` (the publishing budget, apart from the general one).
        pub publish_rate_limit_per_minute: u32 =
            value(
                "publish-rate-limit-per-minute",
                "MYPOSTSHARE_PUBLISH_RATE_LIMIT_PER_MINUTE",
                parsed::<u32>,
            )
            .default("60")
            .details("0 turns the limit off. An app can have its own."),
        /// Publishing requests an API key may make at once (the size of its publishing bucket).
        pub publish_rate_limit_burst: u32 =
            value("publish-rate-limit-burst", "MYPOSTSHARE_PUBLISH_RATE_LIMIT_BURST", burst())
                .default("10")
                .details("0 counts as 1."),
        /// Requests with a missing or invalid API key one client address may make a minute (and
        /// at once).
        pub failed_auth_per_minute: u32 =
            value("failed-auth-per-minute", "MYPOSTSHARE_FAILED_AUTH_PER_MINUTE", parsed::<u32>)
                .default("30")
                .details(
                    "Beyond it, every request from that address gets 429 `RATE_LIMITED` without \
                    its key being checked, until the bucket refills (IPv6 addresses count per \
                    /64). 0 turns the limit off.",
                ),
        /// How long a connect session (the hosted connect page's link) stays usable.
        pub connect_session_ttl: chrono::Duration = fixed(chrono::Duration::minutes(15)),
        /// Credits charged for a post published now.
        pub immediate_post_credits: i64 =
            value("immediate-post-credits", "MYPOSTSHARE_IMMEDIATE_POST_CREDITS", credits())
                .default("5"),
        /// Credits charged for a scheduled post.
        pub scheduled_post_credits: i64 =
            value("scheduled-post-credits", "MYPOSTSHARE_SCHEDULED_POST_CREDITS", credits())
                .default("8"),
        /// Credits a new organization starts with.
        pub new_organization_credits: i64 =
            value("new-org-credits", "MYPOSTSHARE_NEW_ORG_CREDITS", credits())
                .default("0")
                .details("Also the default of `org create --credits`."),
        /// How long an `Idempotency-Key` answer is kept for replay.
        pub idempotency_ttl: chrono::Duration = fixed(chrono::Duration::hours(24)),
        /// Seconds `POST /v1/posts` waits for its deliveries before answering `processing`.
        pub publish_time_budget: Duration =
            value("publish-budget-secs", "MYPOSTSHARE_PUBLISH_BUDGET_SECS", seconds())
                .default("20"),
        /// Delivery worker threads.
        pub delivery_workers: usize =
            value("delivery-workers", "MYPOSTSHARE_DELIVERY_WORKERS", at_least_one())
                .default("8")
                .details("They are the threads that call the platforms."),
        /// Attempts of a delivery that fails in a way worth retrying (429, refused connections).
        pub delivery_max_attempts: i64 = fixed(3),
        /// How long a leased delivery may stay `processing` before it counts as crashed.
        pub delivery_lease: chrono::Duration = fixed(chrono::Duration::minutes(5)),
        /// Seconds between an interrupted publish and the first read-back of the platform.
        pub reconcile_delay: Duration =
            value("reconcile-delay-secs", "MYPOSTSHARE_RECONCILE_DELAY_SECS", seconds())
                .default("20")
                .details(
                    "A publishing call that was cut off (a crash, a kill, no answer in time) is \
                    not failed at once: the platform is asked whether it has the post. Platforms \
                    may take a few seconds to list a post they just created, so the first look \
                    waits this long after the interruption is noticed.",
                ),
        /// Read-backs of one interrupted publish (each failed read is tried again with backoff)
        /// before it is given up as OUTCOME_UNKNOWN.
        pub reconcile_max_reads: i64 = fixed(5),
        /// How long one call to a platform's API may take (media transfers excepted).
        pub provider_timeout: Duration = fixed(Duration::from_secs(30)),
        /// Seconds one read or write of a media download or upload may wait for progress.
        pub media_read_timeout: Duration =
            value("media-read-timeout-secs", "MYPOSTSHARE_MEDIA_READ_TIMEOUT_SECS", seconds_at_least_one())
                .default("30")
                .details(
                    "A stalled transfer fails (a download with `MEDIA_FETCH_FAILED`); a slow one \
                    that keeps sending goes on, up to the cap below.",
                ),
        /// Seconds every media transfer may take on top of the time its size allows.
        pub media_transfer_base: Duration =
            value("media-transfer-base-secs", "MYPOSTSHARE_MEDIA_TRANSFER_BASE_SECS", seconds_at_least_one())
                .default("60")
                .details(
                    "A transfer (a download, or one upload request) may last this plus its size \
                    at `--media-min-bytes-per-sec`.",
                ),
        /// The slowest transfer rate media downloads and uploads are given time for, in bytes a
        /// second.
        pub media_min_bytes_per_sec: u64 =
            value("media-min-bytes-per-sec", "MYPOSTSHARE_MEDIA_MIN_BYTES_PER_SEC", bytes())
                .default("131072")
                .details(
                    "With the defaults, a 256 MiB video may take about 35 minutes; 0 counts as 1.",
                ),
        /// Fetch media from loopback and private addresses (on by default with --sandbox only).
        pub allow_private_media: bool =
            switch("allow-private-media", "MYPOSTSHARE_ALLOW_PRIVATE_MEDIA")
                .shown_default("off (on with `--sandbox`)")
                .details("Webhook endpoints may then use such addresses too."),
        /// Bearer token that `GET /metrics` requires; unset, metrics answer only to loopback
        /// peers that no proxy forwarded.
        pub metrics_token: SecretText =
            value("metrics-token", "MYPOSTSHARE_METRICS_TOKEN", text().map(SecretText))
                .shown_default("none (loopback only)")
                .details(
                    "Set it through the variable, not the flag, to keep it out of `ps`. With it, \
                    Prometheus scrapes with `Authorization: Bearer <token>` from anywhere; \
                    without it, a request from another address or carrying `X-Forwarded-For`, \
                    `Forwarded` or `X-Real-IP` gets 403 `METRICS_FORBIDDEN`.",
                ),
        /// WAL pages after which a commit checkpoints the database (SQLite's default).
        pub wal_autocheckpoint: u32 =
            value("wal-autocheckpoint", "MYPOSTSHARE_WAL_AUTOCHECKPOINT", parsed::<u32>)
                .default("1000")
                .details("`0` where Litestream replicates the database, which then checkpoints alone (see \"Operate\"); never `0` without Litestream, or the WAL grows without end."),
        /// Largest media file fetched for an upload, in bytes.
        pub max_media_bytes: u64 =
            value("max-media-bytes", "MYPOSTSHARE_MAX_MEDIA_BYTES", bytes())
                .default("268435456"),
        /// Threads that send webhooks.
        pub webhook_senders: usize =
            value("webhook-senders", "MYPOSTSHARE_WEBHOOK_SENDERS", at_least_one())
                .default("4")
                .details("Each sends one request at a time; no endpoint holds more than `MYPOSTSHARE_WEBHOOK_MAX_IN_FLIGHT` of them."),
        /// Webhook requests one endpoint may have in flight at once.
        pub webhook_max_in_flight: usize =
            value("webhook-max-in-flight", "MYPOSTSHARE_WEBHOOK_MAX_IN_FLIGHT", at_least_one())
                .default("2")
                .details("A slow endpoint then holds at most this many senders, never all of them."),
        /// Waits between the attempts of a webhook that failed, comma-separated (`ms`, `s`,
        /// `m`, `h`, `d`).
        pub webhook_retry_schedule: Vec<Duration> =
            value("webhook-retry-schedule", "MYPOSTSHARE_WEBHOOK_RETRY_SCHEDULE", retry_schedule)
                .default("5s,5m,30m,2h,5h,10h,10h")
                .details("Each wait gets up to 10% of random jitter; after the last one the delivery is `failed`."),
        /// How long one webhook request may take before it counts as failed.
        pub webhook_timeout: Duration = fixed(Duration::from_secs(10)),
        /// An endpoint whose every attempt failed for this long is disabled.
        pub webhook_disable_after: chrono::Duration = fixed(chrono::Duration::days(3)),
        /// How long the previous secret keeps signing beside a rotated one.
        pub webhook_secret_overlap: chrono::Duration = fixed(chrono::Duration::hours(24)),
        /// Days of webhook deliveries and attempts kept.
        pub webhook_log_retention: chrono::Duration =
            value("webhook-log-days", "MYPOSTSHARE_WEBHOOK_LOG_DAYS", days_at_least_one())
                .default("30")
                .details("Deliveries still being retried are kept until they end."),
        pub jobs: JobSchedules = group::<JobSchedules>(),
        /// Days of API request log kept.
        pub request_log_retention: chrono::Duration =
            value("request-log-days", "MYPOSTSHARE_REQUEST_LOG_DAYS", days_at_least_one())
                .default("30"),
        /// Days of delivery attempts kept (`GET /v1/posts/{id}/attempts`, the dashboard's post page).
        pub attempt_log_retention: chrono::Duration =
            value("attempt-log-days", "MYPOSTSHARE_ATTEMPT_LOG_DAYS", days_at_least_one())
                .default("30"),
        /// Hours a dashboard session lasts without use.
        pub dashboard_session_idle: chrono::Duration =
            value(
                "dashboard-session-hours",
                "MYPOSTSHARE_DASHBOARD_SESSION_HOURS",
                hours_at_least_one(),
            )
            .default("12")
            .details("Then the operator signs in again."),
        /// Your Reddit username, named in the User-Agent of Reddit calls (`by /u/<name>`).
        pub reddit_username: String =
            value("reddit-username", "MYPOSTSHARE_REDDIT_USERNAME", reddit_username())
                .default(DEFAULT_REDDIT_USERNAME)
                .details("Reddit's API rules ask for the developer's own username; Reddit may throttle or block clients with generic User-Agents."),
        /// Where each platform's API is; the real hosts unless the simulator is mounted.
        pub endpoints: BTreeMap<Platform, ProviderEndpoints> = fixed(real_platform_endpoints()),
        /// OAuth clients of the instance (from `MYPOSTSHARE_{PLATFORM}_CLIENT_ID`/`_SECRET`).
        pub managed_credentials: BTreeMap<Platform, ClientCredentials> = fixed(BTreeMap::new()),
        /// Token lifetimes and windows of the mounted simulator.
        pub sandbox_settings: mypostshare_sim::SimulatorSettings =
            fixed(mypostshare_sim::SimulatorSettings::default()),
    }
    given {
        pub db_path: PathBuf,
        pub master_key: MasterKey,
    }
}

settings! {
    /// Cron expressions (with a seconds field) of the scheduler's named jobs. An empty expression
    /// turns a job off.
    #[derive(Debug, Clone)]
    pub struct JobSchedules {
        /// Cron (with seconds) of the job that hands due deliveries to the workers; empty turns it
        /// off.
        pub dispatch_due_deliveries: String =
            value("job-dispatch", "MYPOSTSHARE_JOB_DISPATCH", text())
                .default("* * * * * *"),
        /// Cron of the job that hands deliveries whose lease expired mid-call to a read-back of
        /// the platform.
        pub recover_expired_leases: String =
            value("job-recover-leases", "MYPOSTSHARE_JOB_RECOVER_LEASES", text())
                .default("*/15 * * * * *")
                .details("They were cut off (a worker that died); the platform is asked whether it has the post before anything is sent again, so none is sent twice."),
        /// Cron of the job that expires connect sessions.
        pub expire_connect_sessions: String =
            value("job-expire-sessions", "MYPOSTSHARE_JOB_EXPIRE_SESSIONS", text())
                .default("0 * * * * *"),
        /// Cron of the job that prunes old Idempotency-Key records.
        pub prune_idempotency_keys: String =
            value("job-prune-idempotency", "MYPOSTSHARE_JOB_PRUNE_IDEMPOTENCY", text())
                .default("0 17 * * * *"),
        /// Cron of the job that refreshes long-lived tokens (Threads, Instagram, Pinterest) before
        /// they expire unused.
        pub refresh_expiring_tokens: String =
            value("job-refresh-tokens", "MYPOSTSHARE_JOB_REFRESH_TOKENS", text())
                .default("0 23 * * * *"),
        /// Cron of the job that prunes the API request log.
        pub prune_request_log: String =
            value("job-prune-request-log", "MYPOSTSHARE_JOB_PRUNE_REQUEST_LOG", text())
                .default("0 41 3 * * *")
                .details("It deletes rows older than `MYPOSTSHARE_REQUEST_LOG_DAYS`."),
        /// Cron of the job that prunes the delivery attempt log.
        pub prune_delivery_attempts: String =
            value("job-prune-attempts", "MYPOSTSHARE_JOB_PRUNE_ATTEMPTS", text())
                .default("0 47 3 * * *")
                .details("It deletes finished attempts older than `MYPOSTSHARE_ATTEMPT_LOG_DAYS`."),
        /// Cron of the job that prunes webhook events, deliveries and attempts.
        pub prune_webhook_log: String =
            value("job-prune-webhook-log", "MYPOSTSHARE_JOB_PRUNE_WEBHOOK_LOG", text())
                .default("0 47 3 * * *")
                .details("It deletes finished ones older than `MYPOSTSHARE_WEBHOOK_LOG_DAYS`."),
        /// Cron of the job that sends `connection.token_expiring` for tokens that cannot be
        /// refreshed and expire within 7 days.
        pub warn_expiring_tokens: String =
            value("job-warn-expiring-tokens", "MYPOSTSHARE_JOB_WARN_EXPIRING_TOKENS", text())
                .default("0 5 * * * *"),
    }
}

impl JobSchedules {
    /// Every job off: tests run jobs on demand instead of on their schedule. Written without
    /// `..`, so a new job must be added here too.
    pub fn all_off() -> Self {
        Self {
            dispatch_due_deliveries: String::new(),
            recover_expired_leases: String::new(),
            expire_connect_sessions: String::new(),
            prune_idempotency_keys: String::new(),
            refresh_expiring_tokens: String::new(),
            prune_request_log: String::new(),
            prune_delivery_attempts: String::new(),
            prune_webhook_log: String::new(),
            warn_expiring_tokens: String::new(),
        }
    }
}

settings! {
    /// What every command reads.
    pub struct GlobalSettings {
        /// The SQLite database file.
        pub db: PathBuf =
            value("db", "MYPOSTSHARE_DB", PathBufValueParser::new())
                .default("./mypostshare.db")
                .global(),
        /// How log lines on stderr are written: `text` or `json` (one object per line).
        pub log_format: httpkit::log::Format =
            value("log-format", "MYPOSTSHARE_LOG_FORMAT", parsed::<httpkit::log::Format>)
                .default("text")
                .global()
                .details(
                    "JSON access lines carry `timestamp`, `level`, `request_id`, `method`, \
                    `route` (the route template, never the raw path or query), `status`, \
                    `duration_ms` and `app_id`; see \"Metrics and logs\" in the README.",
                ),
    }
}

settings! {
    /// Where `serve` listens.
    pub struct ListenSettings {
        /// Address to listen on.
        pub addr: String =
            value("addr", "MYPOSTSHARE_ADDR", text())
                .default("127.0.0.1:8080"),
    }
}

settings! {
    /// Where `mypostshare sandbox` (the simulator alone) listens.
    pub struct SimulatorListenSettings {
        pub addr: String =
            value("addr", "MYPOSTSHARE_SANDBOX_ADDR", text())
                .default("127.0.0.1:9090")
                .value_name("ADDR")
                .details("Where `mypostshare sandbox` (the simulator alone) listens."),
    }
}

/// A variable read from the environment only, never from a flag.
pub struct EnvVariable {
    pub env: &'static str,
    pub shown_default: &'static str,
    pub meaning: &'static str,
}

/// The instance secret: from the environment only, because a flag would show it in `ps`.
pub const SECRET_KEY: EnvVariable = EnvVariable {
    env: "MYPOSTSHARE_SECRET_KEY",
    shown_default: "key file `<db>.key` (0600, created on first start)",
    meaning: "Master secret (32+ characters); encrypts tokens and client secrets.",
};

/// Variables that clients of the API read (the appliance does not), common in the same
/// environment: known, so never reported as typos.
pub const CLIENT_VARIABLES: [EnvVariable; 2] = [
    EnvVariable {
        env: "MYPOSTSHARE_API_KEY",
        shown_default: "none",
        meaning: "Read by API clients, not by the appliance.",
    },
    EnvVariable {
        env: "MYPOSTSHARE_API_URL",
        shown_default: "none",
        meaning: "Read by API clients, not by the appliance.",
    },
];

/// A variable each platform of `providers::PLATFORMS` has: `MYPOSTSHARE_{PLATFORM}_{suffix}`,
/// `{PLATFORM}` the upper-case platform key.
pub struct PlatformVariable {
    pub suffix: &'static str,
    pub shown_default: &'static str,
    pub meaning: &'static str,
}

pub const PLATFORM_CLIENT_ID: PlatformVariable = PlatformVariable {
    suffix: "CLIENT_ID",
    shown_default: "none",
    meaning: "Managed OAuth client of that platform, lent to apps without their own; set both \
              `_CLIENT_ID` and `_CLIENT_SECRET`, or neither.",
};

pub const PLATFORM_CLIENT_SECRET: PlatformVariable = PlatformVariable {
    suffix: "CLIENT_SECRET",
    shown_default: "none",
    meaning: "The managed client's secret.",
};

pub const PLATFORM_API_VERSION: PlatformVariable = PlatformVariable {
    suffix: "API_VERSION",
    shown_default: "per platform (see the platforms in docs/configuration.md)",
    meaning: "API version the adapter sends.",
};

pub const PLATFORM_API_HOST: PlatformVariable = PlatformVariable {
    suffix: "API_HOST",
    shown_default: "`production`",
    meaning: "`production` or `sandbox`: the API host the managed client calls. Only Pinterest \
              has a sandbox host (`api-sandbox.pinterest.com`), where apps with Trial access \
              must create their Pins.",
};

pub const PLATFORM_AUTH_BASE: PlatformVariable = PlatformVariable {
    suffix: "AUTH_BASE",
    shown_default: "the platform's own host (see the platforms in docs/configuration.md)",
    meaning: "Base URL of the pages a person sees (authorize), e.g. a simulator's `{URL}/linkedin`.",
};

pub const PLATFORM_TOKEN_BASE: PlatformVariable = PlatformVariable {
    suffix: "TOKEN_BASE",
    shown_default: "the platform's own host",
    meaning: "Base URL of the platform's OAuth token endpoint.",
};

pub const PLATFORM_API_BASE: PlatformVariable = PlatformVariable {
    suffix: "API_BASE",
    shown_default: "the platform's own host",
    meaning: "Base URL of the platform's API.",
};

pub const PLATFORM_VARIABLES: [PlatformVariable; 7] = [
    PLATFORM_CLIENT_ID,
    PLATFORM_CLIENT_SECRET,
    PLATFORM_API_VERSION,
    PLATFORM_AUTH_BASE,
    PLATFORM_TOKEN_BASE,
    PLATFORM_API_BASE,
    PLATFORM_API_HOST,
];

/// The command whose flags a group of settings are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    EveryCommand,
    Serve,
    Simulator,
}

impl Scope {
    pub fn describe(self) -> &'static str {
        match self {
            Scope::EveryCommand => "every command",
            Scope::Serve => "`serve`",
            Scope::Simulator => "`sandbox`",
        }
    }
}

/// Every setting with a flag, in the order of the reference.
pub fn declared_settings() -> Vec<(Scope, DeclaredSetting)> {
    let scoped = |scope: Scope, settings: Vec<DeclaredSetting>| {
        settings.into_iter().map(move |s| (scope, s))
    };
    scoped(Scope::EveryCommand, GlobalSettings::declared())
        .chain(scoped(Scope::Serve, ListenSettings::declared()))
        .chain(scoped(Scope::Serve, Config::declared()))
        .chain(scoped(
            Scope::Simulator,
            SimulatorListenSettings::declared(),
        ))
        .collect()
}

/// The declared setting held in `Config`'s field `id`, for a command that reads the same
/// variable (`org create --credits`). Panics on an unknown id, which the CLI tests would meet.
pub fn config_setting(id: &str) -> DeclaredSetting {
    Config::declared()
        .into_iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("no setting {id} is declared in Config"))
}

impl Config {
    /// Every setting at its declared default, for a database at `db_path`, with the real
    /// platforms' endpoints. The tests start here too.
    pub fn new(db_path: impl Into<PathBuf>, master_key: MasterKey) -> Self {
        Self::defaults(db_path.into(), master_key)
    }

    pub fn callback_url(&self, platform: Platform) -> String {
        format!(
            "{}/oauth/callback/{}",
            self.public_url.trim_end_matches('/'),
            platform.key()
        )
    }

    pub fn endpoints(&self, platform: Platform) -> &ProviderEndpoints {
        &self.endpoints[&platform]
    }
}

/// The `serve` flags of `Config`, parsed, waiting for the database path and the master key
/// (which clap does not give: the path is a global flag, the key comes from a file or
/// `MYPOSTSHARE_SECRET_KEY`).
pub struct ConfigArgs(clap::ArgMatches);

impl ConfigArgs {
    pub fn into_config(self, db_path: PathBuf, master_key: MasterKey) -> Config {
        Config::from_matches(&self.0, db_path, master_key)
    }
}

impl clap::FromArgMatches for ConfigArgs {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        Ok(Self(matches.clone()))
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        self.0 = matches.clone();
        Ok(())
    }
}

impl clap::Args for ConfigArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        Config::augment_args(cmd)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Config::augment_args(cmd)
    }
}

/// The `/u/` name of the User-Agent until the operator sets `MYPOSTSHARE_REDDIT_USERNAME`.
pub const DEFAULT_REDDIT_USERNAME: &str = "mypostshare";

/// A Reddit username: 3 to 20 ASCII letters, digits, `_` or `-` (reddit's
/// `r2/lib/validator/validator.py`), with an optional `u/` or `/u/` before it.
fn reddit_username() -> impl TypedValueParser<Value = String> {
    StringValueParser::new().try_map(|text: String| {
        let name = text.trim();
        let name = name
            .strip_prefix("/u/")
            .or_else(|| name.strip_prefix("u/"))
            .unwrap_or(name);
        let valid = (3..=20).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if valid {
            Ok(name.to_string())
        } else {
            Err(format!(
                "{text:?} is not a Reddit username (3 to 20 letters, digits, _ or -)"
            ))
        }
    })
}

/// Any UTF-8 text.
fn text() -> StringValueParser {
    StringValueParser::new()
}

/// A value `FromStr` reads (clap's own choice for types it has no parser of its own for).
fn parsed<T: std::str::FromStr>(text: &str) -> Result<T, T::Err> {
    text.parse()
}

/// A count of threads or connections: 0 counts as 1, since none would serve nothing.
fn at_least_one() -> impl TypedValueParser<Value = usize> {
    parsed::<usize>.map(|n| n.max(1))
}

/// The size of a token bucket: 0 counts as 1, since an empty bucket would refuse everything.
fn burst() -> impl TypedValueParser<Value = u32> {
    parsed::<u32>.map(|n| n.max(1))
}

/// Whole seconds.
fn seconds() -> impl TypedValueParser<Value = Duration> {
    value_parser!(u64).map(Duration::from_secs)
}

/// A number of bytes.
fn bytes() -> impl TypedValueParser<Value = u64> {
    value_parser!(u64)
}

/// A number of credits (negative prices are the operator's business).
fn credits() -> impl TypedValueParser<Value = i64> {
    value_parser!(i64)
}

/// Whole seconds; 0 counts as 1, since a zero deadline would end every connection at once.
fn seconds_at_least_one() -> impl TypedValueParser<Value = Duration> {
    value_parser!(u64).map(|secs| Duration::from_secs(secs.max(1)))
}

fn days_at_least_one() -> impl TypedValueParser<Value = chrono::Duration> {
    value_parser!(i64).map(|days| chrono::Duration::days(days.max(1)))
}

/// `5s,5m,30m,2h`: waits with a unit each (`ms`, `s`, `m`, `h`, `d`), at least one.
pub fn retry_schedule(text: &str) -> Result<Vec<Duration>, String> {
    let steps = text
        .split(',')
        .map(|step| {
            let step = step.trim();
            let split = step
                .find(|c: char| !c.is_ascii_digit())
                .ok_or_else(|| format!("{step:?} has no unit (ms, s, m, h or d)"))?;
            let (number, unit) = step.split_at(split);
            let number: u64 = number
                .parse()
                .map_err(|_| format!("{step:?} does not start with a whole number"))?;
            let millis = match unit {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return Err(format!("{step:?}: the unit must be ms, s, m, h or d")),
            };
            Ok(Duration::from_millis(number.saturating_mul(millis)))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(steps)
}

fn hours_at_least_one() -> impl TypedValueParser<Value = chrono::Duration> {
    value_parser!(i64).map(|hours| chrono::Duration::hours(hours.max(1)))
}

/// The production hosts of each platform, from the platform table.
pub fn real_platform_endpoints() -> BTreeMap<Platform, ProviderEndpoints> {
    PLATFORMS
        .iter()
        .map(|spec| {
            (
                spec.platform,
                ProviderEndpoints {
                    auth_base: spec.hosts.auth_base.into(),
                    token_base: spec.hosts.token_base.into(),
                    api_base: spec.hosts.api_base.into(),
                    api_version: spec.hosts.api_version.into(),
                    sandbox_api_base: spec.hosts.sandbox_api_base.map(str::to_string),
                    user_agent_username: DEFAULT_REDDIT_USERNAME.into(),
                },
            )
        })
        .collect()
}

/// `MYPOSTSHARE_LINKEDIN` in `MYPOSTSHARE_LINKEDIN_CLIENT_ID`: the platform's key in upper case.
fn platform_env_prefix(platform: Platform) -> String {
    format!("MYPOSTSHARE_{}", platform.key().to_ascii_uppercase())
}

/// Reads the per-platform settings from the environment: `MYPOSTSHARE_{PLATFORM}_CLIENT_ID`
/// and `_CLIENT_SECRET` (managed credentials lent to apps without their own) and
/// `MYPOSTSHARE_{PLATFORM}_API_VERSION`, where `{PLATFORM}` is the upper-case platform key.
pub fn apply_platform_env(config: &mut Config) -> Result<(), String> {
    let simulator = config
        .simulator_url
        .trim()
        .trim_end_matches('/')
        .to_string();
    if !simulator.is_empty() {
        if !(simulator.starts_with("http://") || simulator.starts_with("https://")) {
            return Err(format!(
                "MYPOSTSHARE_SIMULATOR_URL must be an http(s) URL, not {simulator:?}"
            ));
        }
        config.endpoints = sandbox_platform_endpoints(&simulator, &simulator);
    }
    for platform in Platform::ALL {
        let prefix = platform_env_prefix(platform);
        let read = |variable: &PlatformVariable| {
            std::env::var(format!("{prefix}_{}", variable.suffix))
                .ok()
                .filter(|v| !v.trim().is_empty())
        };
        if let Some(endpoints) = config.endpoints.get_mut(&platform) {
            for (variable, base) in [
                (&PLATFORM_API_VERSION, &mut endpoints.api_version),
                (&PLATFORM_AUTH_BASE, &mut endpoints.auth_base),
                (&PLATFORM_TOKEN_BASE, &mut endpoints.token_base),
                (&PLATFORM_API_BASE, &mut endpoints.api_base),
            ] {
                if let Some(value) = read(variable) {
                    *base = value.trim_end_matches('/').to_string();
                }
            }
        }
        let api_host = match read(&PLATFORM_API_HOST) {
            None => ApiHost::Production,
            Some(text) => match ApiHost::parse(&text) {
                Some(ApiHost::Sandbox) if platform.spec().hosts.sandbox_api_base.is_none() => {
                    return Err(format!(
                        "{prefix}_API_HOST: {} has no sandbox API host; leave it unset or production",
                        platform.spec().display_name
                    ));
                }
                Some(host) => host,
                None => {
                    return Err(format!(
                        "{prefix}_API_HOST must be production or sandbox, not {text:?}"
                    ));
                }
            },
        };
        match (read(&PLATFORM_CLIENT_ID), read(&PLATFORM_CLIENT_SECRET)) {
            (Some(client_id), Some(client_secret)) => {
                config.managed_credentials.insert(
                    platform,
                    ClientCredentials {
                        client_id,
                        client_secret,
                        api_host,
                    },
                );
            }
            (None, None) => {}
            _ => {
                return Err(format!(
                    "set both {prefix}_CLIENT_ID and {prefix}_CLIENT_SECRET, or neither"
                ));
            }
        }
    }
    Ok(())
}

/// Points every simulated platform at a simulator: pages through `browser_base` (what a
/// person's browser can reach), API calls through `server_base` (what this process can reach).
/// The simulator serves each platform under `/{key}`, with the keys of the platform table; all
/// three bases of a platform share that prefix, so its paths stay distinct across its hosts.
pub fn sandbox_platform_endpoints(
    browser_base: &str,
    server_base: &str,
) -> BTreeMap<Platform, ProviderEndpoints> {
    let mut map = real_platform_endpoints();
    for (platform, endpoints) in map.iter_mut() {
        let key = platform.key();
        endpoints.auth_base = format!("{browser_base}/{key}");
        endpoints.token_base = format!("{server_base}/{key}");
        endpoints.api_base = format!("{server_base}/{key}");
        // The simulator plays a platform's sandbox host under `/{key}/api-sandbox`.
        if endpoints.sandbox_api_base.is_some() {
            endpoints.sandbox_api_base = Some(format!("{server_base}/{key}/api-sandbox"));
        }
    }
    map
}

/// Reads the master secret: the given material if any, else the key file beside the database,
/// created with mode 0600 on first start.
pub fn load_or_create_master_key(
    explicit: Option<&str>,
    db_path: &Path,
) -> std::io::Result<MasterKey> {
    if let Some(material) = explicit.filter(|m| !m.trim().is_empty()) {
        if material.trim().len() < 32 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "MYPOSTSHARE_SECRET_KEY must be at least 32 characters (e.g. `openssl rand -hex 32`)",
            ));
        }
        return Ok(MasterKey::from_material(material.trim()));
    }
    let key_path = key_file_path(db_path);
    match std::fs::read_to_string(&key_path) {
        Ok(text) => Ok(MasterKey::from_material(text.trim())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let material = crypto::hex(&crypto::random_bytes::<32>());
            write_private_file(&key_path, &material)?;
            Ok(MasterKey::from_material(&material))
        }
        Err(e) => Err(e),
    }
}

pub fn key_file_path(db_path: &Path) -> PathBuf {
    let mut name = db_path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "mypostshare.db".into());
    name.push(".key");
    db_path.with_file_name(name)
}

fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

/// Every `MYPOSTSHARE_*` variable the binary knows: the declared settings, the secret key,
/// the clients' variables and each platform's variables.
pub fn known_env_vars() -> Vec<String> {
    let mut known: Vec<String> = declared_settings()
        .into_iter()
        .map(|(_, s)| s.env.to_string())
        .collect();
    known.push(SECRET_KEY.env.to_string());
    known.extend(CLIENT_VARIABLES.iter().map(|v| v.env.to_string()));
    for platform in Platform::ALL {
        for variable in &PLATFORM_VARIABLES {
            known.push(format!(
                "{}_{}",
                platform_env_prefix(platform),
                variable.suffix
            ));
        }
    }
    known
}

/// The `MYPOSTSHARE_*` names among `names` that the binary does not know (likely typos).
pub fn unknown_env_vars(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let known = known_env_vars();
    names
        .into_iter()
        .filter(|name| name.starts_with("MYPOSTSHARE_") && !known.contains(name))
        .collect()
}

/// The instance secret from the environment, if set.
pub fn secret_key_from_env() -> Option<String> {
    std::env::var(SECRET_KEY.env).ok()
}

pub fn warn_unknown_env_vars() {
    for name in unknown_env_vars(std::env::vars_os().filter_map(|(n, _)| n.into_string().ok())) {
        httpkit::log_warn!("warning: unknown setting {name} is ignored (a typo?)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Config {
        Config::new(
            "test.db",
            MasterKey::from_material("unit test key material, 32+ chars"),
        )
    }

    /// The defaults as they were before they were declared in one table (and as the README
    /// gives them): moving them must not change them.
    #[test]
    fn the_declared_defaults_are_the_documented_ones() {
        let c = defaults();
        assert_eq!(c.public_url, "");
        assert!(!c.sandbox && !c.allow_private_media);
        assert_eq!(c.worker_threads, 8);
        assert_eq!(c.max_body_bytes, 1024 * 1024);
        assert_eq!(c.max_header_bytes, 16 * 1024);
        assert_eq!(c.read_timeout, Duration::from_secs(10));
        assert_eq!(c.head_timeout, Duration::from_secs(10));
        assert_eq!(c.keep_alive, Duration::from_secs(5));
        assert_eq!(c.max_connections, 4096);
        assert_eq!(c.max_connections_per_ip, 256);
        assert!(c.trusted_proxies.is_empty());
        assert_eq!((c.rate_limit_per_minute, c.rate_limit_burst), (600, 60));
        assert_eq!(
            (c.publish_rate_limit_per_minute, c.publish_rate_limit_burst),
            (60, 10)
        );
        assert_eq!(c.failed_auth_per_minute, 30);
        assert_eq!(c.connect_session_ttl, chrono::Duration::minutes(15));
        assert_eq!((c.immediate_post_credits, c.scheduled_post_credits), (5, 8));
        assert_eq!(c.new_organization_credits, 0);
        assert_eq!(c.idempotency_ttl, chrono::Duration::hours(24));
        assert_eq!(c.request_log_retention, chrono::Duration::days(30));
        assert_eq!(c.attempt_log_retention, chrono::Duration::days(30));
        assert_eq!(c.publish_time_budget, Duration::from_secs(20));
        assert_eq!(c.delivery_workers, 8);
        assert_eq!(c.delivery_max_attempts, 3);
        assert_eq!(c.delivery_lease, chrono::Duration::minutes(5));
        assert_eq!(c.reconcile_delay, Duration::from_secs(20));
        assert_eq!(c.reconcile_max_reads, 5);
        assert_eq!(c.provider_timeout, Duration::from_secs(30));
        assert_eq!(c.max_media_bytes, 256 * 1024 * 1024);
        assert_eq!(c.dashboard_session_idle, chrono::Duration::hours(12));
        assert_eq!(c.jobs.dispatch_due_deliveries, "* * * * * *");
        assert_eq!(c.jobs.recover_expired_leases, "*/15 * * * * *");
        assert_eq!(c.jobs.expire_connect_sessions, "0 * * * * *");
        assert_eq!(c.jobs.prune_idempotency_keys, "0 17 * * * *");
        assert_eq!(c.jobs.refresh_expiring_tokens, "0 23 * * * *");
        assert_eq!(c.jobs.prune_request_log, "0 41 3 * * *");
        assert_eq!(c.jobs.prune_delivery_attempts, "0 47 3 * * *");
        assert_eq!(c.jobs.prune_webhook_log, "0 47 3 * * *");
        assert_eq!(c.jobs.warn_expiring_tokens, "0 5 * * * *");
        assert_eq!((c.webhook_senders, c.webhook_max_in_flight), (4, 2));
        let minutes = |m: u64| Duration::from_secs(m * 60);
        assert_eq!(
            c.webhook_retry_schedule,
            [
                Duration::from_secs(5),
                minutes(5),
                minutes(30),
                minutes(120),
                minutes(300),
                minutes(600),
                minutes(600)
            ]
        );
        assert_eq!(c.webhook_timeout, Duration::from_secs(10));
        assert_eq!(c.webhook_disable_after, chrono::Duration::days(3));
        assert_eq!(c.webhook_secret_overlap, chrono::Duration::hours(24));
        assert_eq!(c.webhook_log_retention, chrono::Duration::days(30));
        assert_eq!(c.endpoints.len(), PLATFORMS.len());
        assert_eq!(c.endpoints[&Platform::Linkedin].api_version, "202603");
        assert!(c.managed_credentials.is_empty());
        assert_eq!(c.db_path, PathBuf::from("test.db"));
        assert_eq!(
            GlobalSettings::default().db,
            PathBuf::from("./mypostshare.db")
        );
        assert_eq!(ListenSettings::default().addr, "127.0.0.1:8080");
        assert_eq!(SimulatorListenSettings::default().addr, "127.0.0.1:9090");
    }

    fn parse(args: &[&str]) -> Config {
        let command = Config::augment_args(clap::Command::new("serve").no_binary_name(true));
        let matches = command.try_get_matches_from(args).unwrap();
        Config::from_matches(
            &matches,
            "test.db".into(),
            MasterKey::from_material("unit test key material, 32+ chars"),
        )
    }

    #[test]
    fn flags_reach_their_fields_in_the_units_they_name() {
        let c = parse(&[
            "--workers",
            "0",
            "--read-timeout-secs",
            "0",
            "--keep-alive-secs",
            "7",
            "--publish-budget-secs",
            "0",
            "--request-log-days",
            "3",
            "--dashboard-session-hours",
            "2",
            "--trusted-proxies",
            "10.0.0.1,10.0.0.2",
            "--trusted-proxies",
            "::1",
            "--job-dispatch",
            "",
            "--new-org-credits",
            "40",
            "--sandbox",
        ]);
        assert_eq!(c.worker_threads, 1, "0 threads counts as 1");
        assert_eq!(c.read_timeout, Duration::from_secs(1), "0 s counts as 1 s");
        assert_eq!(c.keep_alive, Duration::from_secs(7));
        assert_eq!(c.publish_time_budget, Duration::ZERO, "no wait is allowed");
        assert_eq!(c.request_log_retention, chrono::Duration::days(3));
        assert_eq!(c.dashboard_session_idle, chrono::Duration::hours(2));
        assert_eq!(c.trusted_proxies.len(), 3);
        assert_eq!(
            c.jobs.dispatch_due_deliveries, "",
            "an empty cron turns a job off"
        );
        assert_eq!(c.jobs.prune_request_log, "0 41 3 * * *");
        assert_eq!(c.new_organization_credits, 40);
        assert!(c.sandbox);
    }

    #[test]
    fn retry_schedules_take_units_and_name_a_mistake() {
        assert_eq!(
            retry_schedule("100ms, 5s,2m,1h,1d").unwrap(),
            [
                Duration::from_millis(100),
                Duration::from_secs(5),
                Duration::from_secs(120),
                Duration::from_secs(3600),
                Duration::from_secs(86_400)
            ]
        );
        assert!(retry_schedule("5").unwrap_err().contains("no unit"));
        assert!(
            retry_schedule("5x")
                .unwrap_err()
                .contains("ms, s, m, h or d")
        );
        assert!(retry_schedule("s").unwrap_err().contains("whole number"));
        assert!(retry_schedule("").is_err());
    }

    #[test]
    fn every_declared_variable_is_known_and_others_are_reported() {
        let declared: Vec<String> = declared_settings()
            .into_iter()
            .map(|(_, s)| s.env.to_string())
            .collect();
        assert!(declared.len() >= 28, "{declared:?}");
        let mut names = declared.clone();
        names.push("MYPOSTSHARE_SECRET_KEY".into());
        names.push("MYPOSTSHARE_API_KEY".into());
        names.push("MYPOSTSHARE_API_URL".into());
        for spec in PLATFORMS {
            let upper = spec.key.to_ascii_uppercase();
            for suffix in ["CLIENT_ID", "CLIENT_SECRET", "API_VERSION"] {
                names.push(format!("MYPOSTSHARE_{upper}_{suffix}"));
            }
        }
        assert_eq!(unknown_env_vars(names), Vec::<String>::new());
        assert_eq!(
            unknown_env_vars([
                "MYPOSTSHARE_WORKER".to_string(),
                "MYPOSTSHARE_LINKEDIN_CLIENTID".to_string(),
                "MYPOSTSHARE_MASTODON_CLIENT_ID".to_string(),
                "PATH".to_string(),
            ]),
            [
                "MYPOSTSHARE_WORKER",
                "MYPOSTSHARE_LINKEDIN_CLIENTID",
                "MYPOSTSHARE_MASTODON_CLIENT_ID"
            ]
        );
        let mut unique = declared.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), declared.len(), "a variable is declared twice");
    }
}
