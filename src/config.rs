//! Every setting of the appliance, declared once with its default, and the secret key file.
//! Settings come from command-line flags and `MYPOSTSHARE_*` environment variables (clap reads
//! both, in `cli`); nothing else in the crate reads the environment.

use crate::crypto::{self, MasterKey};
use crate::providers::Platform;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where a platform's API lives. The browser-facing authorize host and the server-to-server API
/// host are separate because the real platforms separate them (www.linkedin.com versus
/// api.linkedin.com), and because in `serve --sandbox` the browser reaches the simulator through
/// the public URL while the appliance reaches it on loopback.
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
}

/// OAuth client credentials the instance owns and lends to apps without their own.
#[derive(Clone)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

/// Cron expressions (with a seconds field) of the scheduler's named jobs. An empty expression
/// turns a job off.
#[derive(Debug, Clone)]
pub struct JobSchedules {
    pub dispatch_due_deliveries: String,
    pub recover_expired_leases: String,
    pub expire_connect_sessions: String,
    pub prune_idempotency_keys: String,
    pub refresh_expiring_tokens: String,
    pub prune_request_log: String,
}

impl Default for JobSchedules {
    fn default() -> Self {
        Self {
            dispatch_due_deliveries: "* * * * * *".into(),
            recover_expired_leases: "*/15 * * * * *".into(),
            expire_connect_sessions: "0 * * * * *".into(),
            prune_idempotency_keys: "0 17 * * * *".into(),
            refresh_expiring_tokens: "0 23 * * * *".into(),
            prune_request_log: "0 41 3 * * *".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub db_path: PathBuf,
    /// How the outside world reaches this instance; `connectUrl` and OAuth callbacks use it.
    /// Empty: `http://` and the address the server is bound to.
    pub public_url: String,
    pub worker_threads: usize,
    pub max_body_bytes: usize,
    pub max_header_bytes: usize,
    pub read_timeout: Duration,
    /// The request line and headers must arrive within this time from their first byte.
    pub head_timeout: Duration,
    /// Idle keep-alive connections are closed after this long.
    pub keep_alive: Duration,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    /// Reverse proxies in front of the instance (exempt from the per-address connection cap).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub connect_session_ttl: chrono::Duration,
    pub immediate_post_credits: i64,
    pub scheduled_post_credits: i64,
    pub new_organization_credits: i64,
    pub idempotency_ttl: chrono::Duration,
    /// How long API request-log rows are kept.
    pub request_log_retention: chrono::Duration,
    /// How long `POST /v1/posts` waits for its deliveries before answering `processing`.
    pub publish_time_budget: Duration,
    pub delivery_workers: usize,
    pub delivery_max_attempts: i64,
    /// How long a leased delivery may stay `processing` before it counts as crashed.
    pub delivery_lease: chrono::Duration,
    pub provider_timeout: Duration,
    /// Fetch media from loopback and private addresses (only for sandboxes and tests).
    pub allow_private_media: bool,
    /// Largest media file fetched for an upload.
    pub max_media_bytes: u64,
    pub jobs: JobSchedules,
    pub endpoints: BTreeMap<Platform, ProviderEndpoints>,
    pub managed_credentials: BTreeMap<Platform, ClientCredentials>,
    /// A dashboard session ends after this long without a request.
    pub dashboard_session_idle: chrono::Duration,
    /// Mount the platform simulator and point every platform at it.
    pub sandbox: bool,
    /// Token lifetimes and windows of the mounted simulator.
    pub sandbox_settings: mypostshare_sim::SimulatorSettings,
    pub master_key: MasterKey,
}

impl Config {
    /// Defaults for a database at `db_path`, with the real platforms' endpoints.
    pub fn new(db_path: impl Into<PathBuf>, master_key: MasterKey) -> Self {
        Self {
            db_path: db_path.into(),
            public_url: String::new(),
            worker_threads: 8,
            max_body_bytes: 1024 * 1024,
            max_header_bytes: 16 * 1024,
            read_timeout: Duration::from_secs(10),
            head_timeout: Duration::from_secs(10),
            keep_alive: Duration::from_secs(5),
            max_connections: 4096,
            max_connections_per_ip: 256,
            trusted_proxies: Vec::new(),
            connect_session_ttl: chrono::Duration::minutes(15),
            immediate_post_credits: 5,
            scheduled_post_credits: 8,
            new_organization_credits: 0,
            idempotency_ttl: chrono::Duration::hours(24),
            request_log_retention: chrono::Duration::days(30),
            publish_time_budget: Duration::from_secs(20),
            delivery_workers: 8,
            delivery_max_attempts: 3,
            delivery_lease: chrono::Duration::minutes(5),
            provider_timeout: Duration::from_secs(30),
            allow_private_media: false,
            max_media_bytes: 256 * 1024 * 1024,
            jobs: JobSchedules::default(),
            endpoints: real_platform_endpoints(),
            managed_credentials: BTreeMap::new(),
            dashboard_session_idle: chrono::Duration::hours(12),
            sandbox: false,
            sandbox_settings: mypostshare_sim::SimulatorSettings::default(),
            master_key,
        }
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

/// The production hosts of each platform. In sandbox mode all three bases of a platform point
/// at the same simulator prefix, so each platform's paths stay distinct across its hosts.
pub fn real_platform_endpoints() -> BTreeMap<Platform, ProviderEndpoints> {
    let entry = |auth: &str, token: &str, api: &str, version: &str| ProviderEndpoints {
        auth_base: auth.into(),
        token_base: token.into(),
        api_base: api.into(),
        api_version: version.into(),
    };
    BTreeMap::from([
        (
            Platform::Linkedin,
            entry(
                "https://www.linkedin.com",
                "https://www.linkedin.com",
                "https://api.linkedin.com",
                "202609",
            ),
        ),
        (
            Platform::Twitter,
            entry(
                "https://x.com",
                "https://api.x.com",
                "https://api.x.com",
                "2",
            ),
        ),
        (
            Platform::Facebook,
            entry(
                "https://www.facebook.com",
                "https://graph.facebook.com",
                "https://graph.facebook.com",
                "v25.0",
            ),
        ),
        (
            Platform::Instagram,
            entry(
                "https://www.instagram.com",
                "https://api.instagram.com",
                "https://graph.instagram.com",
                "v25.0",
            ),
        ),
        (
            Platform::Youtube,
            entry(
                "https://accounts.google.com",
                "https://oauth2.googleapis.com",
                "https://www.googleapis.com",
                "v3",
            ),
        ),
        (
            Platform::Threads,
            entry(
                "https://threads.net",
                "https://graph.threads.net",
                "https://graph.threads.net",
                "v1.0",
            ),
        ),
        (
            Platform::Pinterest,
            entry(
                "https://www.pinterest.com",
                "https://api.pinterest.com",
                "https://api.pinterest.com",
                "v5",
            ),
        ),
        (
            Platform::Reddit,
            entry(
                "https://www.reddit.com",
                "https://www.reddit.com",
                "https://oauth.reddit.com",
                "",
            ),
        ),
    ])
}

/// Reads the per-platform settings from the environment: `MYPOSTSHARE_{PLATFORM}_CLIENT_ID`
/// and `_CLIENT_SECRET` (managed credentials lent to apps without their own) and
/// `MYPOSTSHARE_{PLATFORM}_API_VERSION`, where `{PLATFORM}` is the upper-case platform key.
pub fn apply_platform_env(config: &mut Config) -> Result<(), String> {
    for platform in Platform::ALL {
        let prefix = format!("MYPOSTSHARE_{}", platform.key().to_ascii_uppercase());
        let read = |suffix: &str| {
            std::env::var(format!("{prefix}_{suffix}"))
                .ok()
                .filter(|v| !v.trim().is_empty())
        };
        if let (Some(version), Some(endpoints)) =
            (read("API_VERSION"), config.endpoints.get_mut(&platform))
        {
            endpoints.api_version = version;
        }
        match (read("CLIENT_ID"), read("CLIENT_SECRET")) {
            (Some(client_id), Some(client_secret)) => {
                config.managed_credentials.insert(
                    platform,
                    ClientCredentials {
                        client_id,
                        client_secret,
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

fn is_platform_env_var(name: &str) -> bool {
    Platform::ALL.iter().any(|p| {
        let prefix = format!("MYPOSTSHARE_{}_", p.key().to_ascii_uppercase());
        name.strip_prefix(&prefix)
            .is_some_and(|rest| matches!(rest, "CLIENT_ID" | "CLIENT_SECRET" | "API_VERSION"))
    })
}

/// Points every simulated platform at a simulator: pages through `browser_base` (what a
/// person's browser can reach), API calls through `server_base` (what this process can reach).
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

/// Every `MYPOSTSHARE_*` variable the binary reads; others are reported as likely typos.
pub const KNOWN_ENV_VARS: &[&str] = &[
    "MYPOSTSHARE_DB",
    "MYPOSTSHARE_SECRET_KEY",
    "MYPOSTSHARE_ADDR",
    "MYPOSTSHARE_PUBLIC_URL",
    "MYPOSTSHARE_SANDBOX",
    "MYPOSTSHARE_SANDBOX_ADDR",
    "MYPOSTSHARE_WORKERS",
    "MYPOSTSHARE_MAX_BODY_BYTES",
    "MYPOSTSHARE_READ_TIMEOUT_SECS",
    "MYPOSTSHARE_HEAD_TIMEOUT_SECS",
    "MYPOSTSHARE_KEEP_ALIVE_SECS",
    "MYPOSTSHARE_MAX_CONNECTIONS",
    "MYPOSTSHARE_MAX_CONNECTIONS_PER_IP",
    "MYPOSTSHARE_TRUSTED_PROXIES",
    "MYPOSTSHARE_IMMEDIATE_POST_CREDITS",
    "MYPOSTSHARE_SCHEDULED_POST_CREDITS",
    "MYPOSTSHARE_NEW_ORG_CREDITS",
    "MYPOSTSHARE_PUBLISH_BUDGET_SECS",
    "MYPOSTSHARE_DELIVERY_WORKERS",
    "MYPOSTSHARE_ALLOW_PRIVATE_MEDIA",
    "MYPOSTSHARE_MAX_MEDIA_BYTES",
    "MYPOSTSHARE_JOB_DISPATCH",
    "MYPOSTSHARE_JOB_RECOVER_LEASES",
    "MYPOSTSHARE_JOB_EXPIRE_SESSIONS",
    "MYPOSTSHARE_JOB_PRUNE_IDEMPOTENCY",
    "MYPOSTSHARE_JOB_REFRESH_TOKENS",
    "MYPOSTSHARE_JOB_PRUNE_REQUEST_LOG",
    "MYPOSTSHARE_REQUEST_LOG_DAYS",
    "MYPOSTSHARE_DASHBOARD_SESSION_HOURS",
    // Read by clients of the API, not by the appliance; common in the same environment.
    "MYPOSTSHARE_API_KEY",
    "MYPOSTSHARE_API_URL",
];

/// The instance secret from the environment, if set.
pub fn secret_key_from_env() -> Option<String> {
    std::env::var("MYPOSTSHARE_SECRET_KEY").ok()
}

pub fn warn_unknown_env_vars() {
    for (name, _) in std::env::vars() {
        if name.starts_with("MYPOSTSHARE_")
            && !KNOWN_ENV_VARS.contains(&name.as_str())
            && !is_platform_env_var(&name)
        {
            eprintln!("warning: unknown setting {name} is ignored (a typo?)");
        }
    }
}
