//! The command line: `serve`, `sandbox`, `migrate`, `backup`, and the admin commands that
//! bootstrap an instance (organizations, apps, keys, redirect URIs, credits, credentials).
//! Each admin command prints one JSON object with `--json`, and exits non-zero with the reason
//! on stderr when it fails.

use crate::clock::{Clock, SystemClock};
use crate::config::{self, ClientCredentials, Config};
use crate::crypto::Sealer;
use crate::db::Db;
use crate::providers::parse_platform;
use crate::services::{apps, credits, keys};
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const ACTOR: &str = "cli";

#[derive(Parser)]
#[command(
    name = "mypostshare",
    version,
    about = "A self-hosted social posting API in one binary."
)]
pub struct Cli {
    /// The SQLite database file.
    #[arg(
        long,
        global = true,
        env = "MYPOSTSHARE_DB",
        default_value = "./mypostshare.db"
    )]
    db: PathBuf,
    /// Print exactly one JSON object on stdout.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the appliance: the API, the hosted connect pages, the scheduler.
    Serve(Box<ServeArgs>),
    /// Run the platform simulator alone.
    Sandbox(SandboxArgs),
    /// Bring the database schema up to date.
    Migrate,
    /// Write a consistent copy of the live database to a file (VACUUM INTO).
    Backup {
        #[arg(long)]
        to: PathBuf,
    },
    #[command(subcommand)]
    Org(OrgCommand),
    #[command(subcommand)]
    App(AppCommand),
    #[command(subcommand)]
    Key(KeyCommand),
    #[command(subcommand)]
    Redirect(RedirectCommand),
    #[command(subcommand)]
    Credits(CreditsCommand),
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    #[command(subcommand)]
    Operator(OperatorCommand),
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "MYPOSTSHARE_ADDR", default_value = "127.0.0.1:8080")]
    addr: String,
    /// How browsers and platforms reach this instance (e.g. https://posts.example.com).
    #[arg(long, env = "MYPOSTSHARE_PUBLIC_URL")]
    public_url: Option<String>,
    /// Mount the platform simulator and point every platform at it.
    #[arg(long, env = "MYPOSTSHARE_SANDBOX")]
    sandbox: bool,
    #[command(flatten)]
    settings: Settings,
}

/// Tunable settings, each also readable from its environment variable.
#[derive(Args)]
struct Settings {
    /// HTTP handler threads.
    #[arg(long, env = "MYPOSTSHARE_WORKERS", default_value_t = 8)]
    workers: usize,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "MYPOSTSHARE_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    max_body_bytes: usize,
    /// Seconds a client may stall in one read of a body (or one write of a response).
    #[arg(long, env = "MYPOSTSHARE_READ_TIMEOUT_SECS", default_value_t = 10)]
    read_timeout_secs: u64,
    /// Seconds the request line and headers may take from their first byte, however they trickle.
    #[arg(long, env = "MYPOSTSHARE_HEAD_TIMEOUT_SECS", default_value_t = 10)]
    head_timeout_secs: u64,
    /// Seconds an idle keep-alive connection stays open (announced in `Keep-Alive: timeout=N`).
    #[arg(long, env = "MYPOSTSHARE_KEEP_ALIVE_SECS", default_value_t = 5)]
    keep_alive_secs: u64,
    /// Connections open at once (lowered to three quarters of the open-file limit); when full,
    /// the oldest idle keep-alive connection is closed to make room.
    #[arg(long, env = "MYPOSTSHARE_MAX_CONNECTIONS", default_value_t = 4096)]
    max_connections: usize,
    /// Connections open at once from one client address (trusted proxies are exempt).
    #[arg(
        long,
        env = "MYPOSTSHARE_MAX_CONNECTIONS_PER_IP",
        default_value_t = 256
    )]
    max_connections_per_ip: usize,
    /// Addresses of reverse proxies in front of the instance, comma-separated.
    #[arg(long, env = "MYPOSTSHARE_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Vec<std::net::IpAddr>,
    /// Credits charged for a post published now.
    #[arg(long, env = "MYPOSTSHARE_IMMEDIATE_POST_CREDITS", default_value_t = 5)]
    immediate_post_credits: i64,
    /// Credits charged for a scheduled post.
    #[arg(long, env = "MYPOSTSHARE_SCHEDULED_POST_CREDITS", default_value_t = 8)]
    scheduled_post_credits: i64,
    /// Credits a new organization starts with.
    #[arg(long, env = "MYPOSTSHARE_NEW_ORG_CREDITS", default_value_t = 0)]
    new_org_credits: i64,
    /// Seconds `POST /v1/posts` waits for its deliveries before answering `processing`.
    #[arg(long, env = "MYPOSTSHARE_PUBLISH_BUDGET_SECS", default_value_t = 20)]
    publish_budget_secs: u64,
    /// Delivery worker threads.
    #[arg(long, env = "MYPOSTSHARE_DELIVERY_WORKERS", default_value_t = 8)]
    delivery_workers: usize,
    /// Fetch media from loopback and private addresses (on by default with --sandbox only).
    #[arg(long, env = "MYPOSTSHARE_ALLOW_PRIVATE_MEDIA")]
    allow_private_media: bool,
    /// Largest media file fetched for an upload, in bytes.
    #[arg(long, env = "MYPOSTSHARE_MAX_MEDIA_BYTES", default_value_t = 256 * 1024 * 1024)]
    max_media_bytes: u64,
    /// Cron (with seconds) of the job that hands due deliveries to the workers; empty turns it off.
    #[arg(long, env = "MYPOSTSHARE_JOB_DISPATCH", default_value = "* * * * * *")]
    job_dispatch: String,
    /// Cron of the job that records interrupted deliveries as OUTCOME_UNKNOWN.
    #[arg(
        long,
        env = "MYPOSTSHARE_JOB_RECOVER_LEASES",
        default_value = "*/15 * * * * *"
    )]
    job_recover_leases: String,
    /// Cron of the job that expires connect sessions.
    #[arg(
        long,
        env = "MYPOSTSHARE_JOB_EXPIRE_SESSIONS",
        default_value = "0 * * * * *"
    )]
    job_expire_sessions: String,
    /// Cron of the job that prunes old Idempotency-Key records.
    #[arg(
        long,
        env = "MYPOSTSHARE_JOB_PRUNE_IDEMPOTENCY",
        default_value = "0 17 * * * *"
    )]
    job_prune_idempotency: String,
    /// Cron of the job that refreshes long-lived tokens (Threads, Instagram, Pinterest) before
    /// they expire unused.
    #[arg(
        long,
        env = "MYPOSTSHARE_JOB_REFRESH_TOKENS",
        default_value = "0 23 * * * *"
    )]
    job_refresh_tokens: String,
    /// Cron of the job that prunes the API request log.
    #[arg(
        long,
        env = "MYPOSTSHARE_JOB_PRUNE_REQUEST_LOG",
        default_value = "0 41 3 * * *"
    )]
    job_prune_request_log: String,
    /// Days of API request log kept.
    #[arg(long, env = "MYPOSTSHARE_REQUEST_LOG_DAYS", default_value_t = 30)]
    request_log_days: i64,
    /// Hours a dashboard session lasts without use.
    #[arg(
        long,
        env = "MYPOSTSHARE_DASHBOARD_SESSION_HOURS",
        default_value_t = 12
    )]
    dashboard_session_hours: i64,
}

#[derive(Args)]
struct SandboxArgs {
    #[arg(
        long,
        env = "MYPOSTSHARE_SANDBOX_ADDR",
        default_value = "127.0.0.1:9090"
    )]
    addr: String,
    /// Register an OAuth client: `PLATFORM:CLIENT_ID:CLIENT_SECRET:REDIRECT_URI` (repeatable).
    #[arg(long = "client")]
    clients: Vec<String>,
    /// Hand out refresh tokens (LinkedIn does only for approved partner apps).
    #[arg(long)]
    refresh_tokens: bool,
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Create an organization.
    Create {
        #[arg(long)]
        name: String,
        /// Credits to start with (default: the new-organization setting, 0).
        #[arg(long, env = "MYPOSTSHARE_NEW_ORG_CREDITS", default_value_t = 0)]
        credits: i64,
    },
}

#[derive(Subcommand)]
enum AppCommand {
    /// Create an app inside an organization.
    Create {
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create an API key; the key is printed once and never again.
    Create {
        #[arg(long)]
        app: String,
        #[arg(long)]
        name: String,
    },
    /// Revoke an API key by id.
    Revoke {
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand)]
enum RedirectCommand {
    /// Allow a redirect URI for an app (exact match).
    Add {
        #[arg(long)]
        app: String,
        #[arg(long)]
        uri: String,
    },
    /// Remove a redirect URI from an app's allowlist.
    Remove {
        #[arg(long)]
        app: String,
        #[arg(long)]
        uri: String,
    },
}

#[derive(Subcommand)]
enum CreditsCommand {
    /// Add credits to an organization.
    Grant {
        #[arg(long)]
        org: String,
        #[arg(long)]
        amount: i64,
        #[arg(long, default_value = "granted by operator")]
        note: String,
    },
}

#[derive(Subcommand)]
enum CredentialsCommand {
    /// Set an app's own OAuth client for a platform.
    Set {
        #[arg(long)]
        app: String,
        #[arg(long)]
        platform: String,
        #[arg(long)]
        client_id: String,
        /// The client secret; prefer --client-secret-stdin to keep it out of shell history.
        #[arg(long, conflicts_with = "client_secret_stdin")]
        client_secret: Option<String>,
        #[arg(long)]
        client_secret_stdin: bool,
    },
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// Create a dashboard operator (an instance-wide admin); the password is read from stdin.
    Create {
        #[arg(long)]
        email: String,
        /// Read the password from the first line of stdin (keeps it out of shell history).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

/// Runs the command line; returns the process exit code.
pub fn run() -> i32 {
    let cli = Cli::parse();
    config::warn_unknown_env_vars();
    match dispatch(cli) {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("error: {message}");
            1
        }
    }
}

fn open_db(path: &std::path::Path) -> Result<Db, String> {
    Db::open(path, 4).map_err(|e| {
        format!(
            "opening {}: {}",
            path.display(),
            e.cause.clone().unwrap_or(e.message)
        )
    })
}

fn print(json_mode: bool, value: Value, human: &str) {
    if json_mode {
        println!("{value}");
    } else {
        println!("{human}");
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    }
}

fn err(e: crate::error::Error) -> String {
    e.message
}

fn dispatch(cli: Cli) -> Result<(), String> {
    let now = SystemClock.now();
    let json_mode = cli.json;
    match cli.command {
        Command::Serve(args) => serve(&cli.db, *args),
        Command::Sandbox(args) => sandbox(args),
        Command::Migrate => {
            let version = open_db(&cli.db)?.migrate().map_err(err)?;
            print(
                json_mode,
                json!({"schemaVersion": version}),
                "Database is up to date.",
            );
            Ok(())
        }
        Command::Backup { to } => {
            if to.exists() {
                return Err(format!(
                    "{} already exists; choose a new file name",
                    to.display()
                ));
            }
            open_db(&cli.db)?
                .backup_to(&to)
                .map_err(|e| e.cause.unwrap_or(e.message))?;
            print(
                json_mode,
                json!({"backup": to.display().to_string()}),
                "Backup written.",
            );
            Ok(())
        }
        Command::Org(OrgCommand::Create { name, credits }) => {
            let org = apps::create_organization(&open_db(&cli.db)?, ACTOR, &name, credits, now)
                .map_err(err)?;
            print(
                json_mode,
                serde_json::to_value(&org).unwrap_or_default(),
                "Organization created.",
            );
            Ok(())
        }
        Command::App(AppCommand::Create { org, name }) => {
            let app = apps::create_app(&open_db(&cli.db)?, ACTOR, &org, &name, now).map_err(err)?;
            print(
                json_mode,
                serde_json::to_value(&app).unwrap_or_default(),
                "App created.",
            );
            Ok(())
        }
        Command::Key(KeyCommand::Create { app, name }) => {
            let (key, secret) =
                keys::create(&open_db(&cli.db)?, ACTOR, &app, &name, now).map_err(err)?;
            let mut value = serde_json::to_value(&key).unwrap_or_default();
            value["key"] = json!(secret);
            print(
                json_mode,
                value,
                "API key created. Copy the key now: it is shown only this once.",
            );
            Ok(())
        }
        Command::Key(KeyCommand::Revoke { id }) => {
            keys::revoke(&open_db(&cli.db)?, ACTOR, &id, now).map_err(err)?;
            print(
                json_mode,
                json!({"id": id, "revoked": true}),
                "API key revoked.",
            );
            Ok(())
        }
        Command::Redirect(RedirectCommand::Add { app, uri }) => {
            apps::add_redirect_uri(&open_db(&cli.db)?, ACTOR, &app, &uri, now).map_err(err)?;
            print(
                json_mode,
                json!({"appId": app, "uri": uri, "allowed": true}),
                "Redirect URI allowed.",
            );
            Ok(())
        }
        Command::Redirect(RedirectCommand::Remove { app, uri }) => {
            apps::remove_redirect_uri(&open_db(&cli.db)?, ACTOR, &app, &uri, now).map_err(err)?;
            print(
                json_mode,
                json!({"appId": app, "uri": uri, "allowed": false}),
                "Redirect URI removed.",
            );
            Ok(())
        }
        Command::Credits(CreditsCommand::Grant { org, amount, note }) => {
            let balance =
                credits::grant(&open_db(&cli.db)?, ACTOR, &org, amount, &note, now).map_err(err)?;
            print(
                json_mode,
                json!({"orgId": org, "granted": amount, "balance": balance}),
                "Credits granted.",
            );
            Ok(())
        }
        Command::Operator(OperatorCommand::Create { email, .. }) => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| format!("reading the password from stdin: {e}"))?;
            let password = line.trim_end_matches(['\r', '\n']);
            let operator = crate::services::operators::create(
                &open_db(&cli.db)?,
                ACTOR,
                &email,
                password,
                now,
            )
            .map_err(err)?;
            print(
                json_mode,
                json!({"id": operator.id, "email": operator.email, "createdAt": operator.created_at}),
                "Operator created. Sign in at {public URL}/dashboard.",
            );
            Ok(())
        }
        Command::Credentials(CredentialsCommand::Set {
            app,
            platform,
            client_id,
            client_secret,
            client_secret_stdin,
        }) => {
            let platform = parse_platform(&platform)?;
            let secret = match (client_secret, client_secret_stdin) {
                (Some(s), _) => s,
                (None, true) => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .map_err(|e| format!("reading the secret from stdin: {e}"))?;
                    line.trim().to_string()
                }
                (None, false) => return Err("give --client-secret or --client-secret-stdin".into()),
            };
            let db = open_db(&cli.db)?;
            let master = config::load_or_create_master_key(
                config::secret_key_from_env().as_deref(),
                &cli.db,
            )
            .map_err(|e| e.to_string())?;
            let credentials = ClientCredentials {
                client_id: client_id.clone(),
                client_secret: secret,
            };
            apps::set_credentials(
                &db,
                &Sealer::new(&master),
                ACTOR,
                &app,
                platform,
                &credentials,
                now,
            )
            .map_err(err)?;
            print(
                json_mode,
                json!({"appId": app, "platform": platform.key(), "clientId": client_id}),
                "Credentials stored (the secret is encrypted at rest).",
            );
            Ok(())
        }
    }
}

fn bind(addr: &str) -> Result<TcpListener, String> {
    TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))
}

fn build_config(
    db_path: &std::path::Path,
    args: &ServeArgs,
    listener: &TcpListener,
) -> Result<Config, String> {
    let master =
        config::load_or_create_master_key(config::secret_key_from_env().as_deref(), db_path)
            .map_err(|e| format!("secret key: {e}"))?;
    let mut config = Config::new(db_path, master);
    let s = &args.settings;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let host = if local.ip().is_unspecified() {
        format!("127.0.0.1:{}", local.port())
    } else {
        local.to_string()
    };
    config.public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{host}"));
    config.sandbox = args.sandbox;
    config.worker_threads = s.workers.max(1);
    config.max_body_bytes = s.max_body_bytes;
    config.read_timeout = std::time::Duration::from_secs(s.read_timeout_secs.max(1));
    config.head_timeout = std::time::Duration::from_secs(s.head_timeout_secs.max(1));
    config.keep_alive = std::time::Duration::from_secs(s.keep_alive_secs.max(1));
    config.max_connections = s.max_connections.max(1);
    config.max_connections_per_ip = s.max_connections_per_ip.max(1);
    config.trusted_proxies = s.trusted_proxies.clone();
    config.immediate_post_credits = s.immediate_post_credits;
    config.scheduled_post_credits = s.scheduled_post_credits;
    config.new_organization_credits = s.new_org_credits;
    config.publish_time_budget = std::time::Duration::from_secs(s.publish_budget_secs);
    config.delivery_workers = s.delivery_workers.max(1);
    config.allow_private_media = s.allow_private_media;
    config.max_media_bytes = s.max_media_bytes;
    config.jobs.dispatch_due_deliveries = s.job_dispatch.clone();
    config.jobs.recover_expired_leases = s.job_recover_leases.clone();
    config.jobs.expire_connect_sessions = s.job_expire_sessions.clone();
    config.jobs.prune_idempotency_keys = s.job_prune_idempotency.clone();
    config.jobs.refresh_expiring_tokens = s.job_refresh_tokens.clone();
    config.jobs.prune_request_log = s.job_prune_request_log.clone();
    config.request_log_retention = chrono::Duration::days(s.request_log_days.max(1));
    config.dashboard_session_idle = chrono::Duration::hours(s.dashboard_session_hours.max(1));
    config::apply_platform_env(&mut config)?;
    Ok(config)
}

fn serve(db_path: &std::path::Path, args: ServeArgs) -> Result<(), String> {
    let listener = bind(&args.addr)?;
    let config = build_config(db_path, &args, &listener)?;
    let sandbox = config.sandbox;
    let running = crate::app::start(config, listener, Arc::new(SystemClock)).map_err(|e| e.0)?;
    let public_url = running.state.config.public_url.clone();
    eprintln!(
        "mypostshare {} listening on {} (public URL {public_url}){}",
        env!("CARGO_PKG_VERSION"),
        running.addr,
        if sandbox { ", sandbox on" } else { "" }
    );
    if sandbox {
        crate::demo::first_run_setup(&running.state).map_err(err)?;
    }
    if let Some(link) = crate::dashboard::auth::issue_setup_link(&running.state).map_err(err)? {
        eprintln!(
            "No dashboard operator yet. Create the first one within an hour (the link works once):\n  {link}\nor run `mypostshare operator create --email you@example.com --password-stdin`."
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone())
            .map_err(|e| format!("installing the signal handler: {e}"))?;
    }
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    eprintln!("shutting down: finishing requests in flight");
    running.shutdown();
    eprintln!("stopped");
    Ok(())
}

fn sandbox(args: SandboxArgs) -> Result<(), String> {
    let listener = bind(&args.addr)?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let settings = mypostshare_sim::SimulatorSettings {
        issue_refresh_tokens: args.refresh_tokens,
        ..Default::default()
    };
    let simulator = mypostshare_sim::Simulator::new(
        Arc::new(SystemClock),
        crate::crypto::random_bytes::<32>(),
        settings,
    );
    for spec in &args.clients {
        let parts: Vec<&str> = spec.splitn(4, ':').collect();
        let [platform, client_id, client_secret, redirect] = parts.as_slice() else {
            return Err(format!(
                "--client {spec:?}: expected PLATFORM:CLIENT_ID:CLIENT_SECRET:REDIRECT_URI"
            ));
        };
        let platform = crate::simulator::simulated(parse_platform(platform)?);
        simulator.register_client(
            platform,
            mypostshare_sim::SimClient {
                client_id: client_id.to_string(),
                client_secret: client_secret.to_string(),
                name: client_id.to_string(),
                redirect_uris: vec![redirect.to_string()],
            },
        );
    }
    let options = crate::http::server::ServerOptions {
        io_timeout: std::time::Duration::from_secs(30),
        ..crate::http::server::ServerOptions::new("simulator")
    };
    let server = simulator
        .serve(listener, options)
        .map_err(|e| e.to_string())?;
    eprintln!(
        "platform simulator listening on http://{addr} (each platform under /{{platform key}}, e.g. /linkedin, /twitter; control under /_sim)"
    );
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).map_err(|e| e.to_string())?;
    }
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    server.shutdown();
    Ok(())
}
