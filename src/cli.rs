//! The command line: `serve`, `sandbox`, `migrate`, `backup`, `restore`, `check`,
//! `rotate-secret-key`, and the admin commands that bootstrap an instance (organizations, apps
//! and their rate limits, keys, redirect URIs, credits, credentials, webhook endpoints).
//! Each admin command prints one JSON object with `--json`, and exits non-zero with the reason
//! on stderr when it fails.

use crate::clock::{Clock, SystemClock};
use crate::config::{self, ClientCredentials, Config};
use crate::crypto::Sealer;
use crate::db::Db;
use crate::providers::parse_platform;
use crate::services::rate_limits::{self, LimitsChange};
use crate::services::{Patch, apps, credits, keys, webhooks};
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
    #[command(flatten)]
    global: config::GlobalSettings,
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
    /// Exit 0 when the server at --addr answers /readyz, else 1 (for container health checks).
    Healthcheck(HealthcheckArgs),
    /// Bring the database schema up to date.
    Migrate,
    /// Write a consistent copy of the live database to a file (VACUUM INTO).
    Backup {
        #[arg(long)]
        to: PathBuf,
    },
    /// Replace the database with a backup, after checking it (integrity, schema version); the
    /// replaced database is kept as `<db>.replaced-<time>`. Refused while a server runs.
    Restore {
        #[arg(long)]
        from: PathBuf,
    },
    /// Check the database: integrity, foreign keys, references the schema does not enforce,
    /// sealed secrets this instance's key cannot open. Exits non-zero when something is wrong.
    Check,
    /// Re-seal every stored secret (tokens, client secrets, PKCE verifiers) under a new master
    /// key in one transaction, then replace the key file. Refused while a server runs.
    RotateSecretKey {
        /// Read the new key (32+ characters) from the first line of stdin; required when the key
        /// comes from MYPOSTSHARE_SECRET_KEY. Without it a new key is generated into the key file.
        #[arg(long)]
        new_key_stdin: bool,
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
    /// An app's webhook endpoints (Standard Webhooks).
    #[command(subcommand)]
    Webhook(WebhookCommand),
}

/// The flags of `serve`: every one is declared, with its variable, default and help, in
/// `config` (`ListenSettings`, then `Config`'s settings).
#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    listen: config::ListenSettings,
    #[command(flatten)]
    settings: config::ConfigArgs,
}

/// The flags of `healthcheck`: the same address as `serve`.
#[derive(Args)]
struct HealthcheckArgs {
    #[command(flatten)]
    listen: config::ListenSettings,
}

#[derive(Args)]
struct SandboxArgs {
    #[command(flatten)]
    listen: config::SimulatorListenSettings,
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
        #[arg(
            long,
            env = config::config_setting("new_organization_credits").env,
            default_value = config::config_setting("new_organization_credits").default_value
        )]
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
    /// Show or change an app's own rate limits. Each value is a number or `default` (the
    /// instance's setting); a flag left out keeps its value. A rate of 0 turns that limit off.
    /// A running server applies a change from the app's next request.
    Limits {
        #[arg(long)]
        app: String,
        /// General budget: requests a minute per API key.
        #[arg(long, value_name = "N|default", value_parser = limit_value)]
        requests_per_minute: Option<Patch<u32>>,
        /// General budget: requests at once (the bucket's size).
        #[arg(long, value_name = "N|default", value_parser = limit_value)]
        burst: Option<Patch<u32>>,
        /// Publishing budget (POST /v1/posts, /v1/posts/scheduled): requests a minute per key.
        #[arg(long, value_name = "N|default", value_parser = limit_value)]
        publish_requests_per_minute: Option<Patch<u32>>,
        /// Publishing budget: requests at once.
        #[arg(long, value_name = "N|default", value_parser = limit_value)]
        publish_burst: Option<Patch<u32>>,
    },
}

/// `default` (the instance's setting) or a whole number.
fn limit_value(text: &str) -> Result<Patch<u32>, String> {
    if text.trim().eq_ignore_ascii_case("default") {
        return Ok(Patch::Clear);
    }
    text.trim()
        .parse::<u32>()
        .map(Patch::Set)
        .map_err(|_| format!("{text:?} is neither a whole number nor `default`"))
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
    /// Set the balance below which a charge sends `credits.low` (0 turns it off).
    SetLowThreshold {
        #[arg(long)]
        org: String,
        #[arg(long)]
        credits: i64,
    },
}

#[derive(Subcommand)]
enum WebhookCommand {
    /// Add an endpoint; its signing secret (`whsec_...`) is printed once and never again.
    Add {
        #[arg(long)]
        app: String,
        #[arg(long)]
        url: String,
        /// An event type to send (repeatable); without any, every event.
        #[arg(long = "event")]
        events: Vec<String>,
        #[arg(long)]
        description: Option<String>,
        /// Accept a loopback, private or link-local address (the running instance still calls
        /// one only with MYPOSTSHARE_ALLOW_PRIVATE_MEDIA or --sandbox).
        #[arg(long)]
        allow_private: bool,
    },
    /// List an app's endpoints (never their secrets).
    List {
        #[arg(long)]
        app: String,
    },
    /// Delete an endpoint with its deliveries.
    Remove {
        #[arg(long)]
        app: String,
        #[arg(long)]
        id: String,
    },
    /// A new secret, printed once; the old one keeps signing beside it for 24 hours.
    Rotate {
        #[arg(long)]
        app: String,
        #[arg(long)]
        id: String,
    },
    /// Queue a `webhook.test` event for the endpoint; the running instance sends it.
    Test {
        #[arg(long)]
        app: String,
        #[arg(long)]
        id: String,
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
        /// The API host the client calls: `production`, or `sandbox` where the platform has
        /// one (Pinterest's Trial apps create Pins only on api-sandbox.pinterest.com).
        #[arg(long, default_value = "production", value_parser = ["production", "sandbox"])]
        api_host: String,
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
    httpkit::log::set_format(cli.global.log_format);
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
        Command::Serve(args) => serve(&cli.global.db, *args),
        Command::Sandbox(args) => sandbox(args),
        Command::Healthcheck(args) => healthcheck(&args.listen.addr),
        Command::Migrate => {
            let version = open_db(&cli.global.db)?.migrate().map_err(err)?;
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
            open_db(&cli.global.db)?
                .backup_to(&to)
                .map_err(|e| e.cause.unwrap_or(e.message))?;
            print(
                json_mode,
                json!({"backup": to.display().to_string()}),
                "Backup written.",
            );
            Ok(())
        }
        Command::Restore { from } => {
            crate::recovery::restore_command(&cli.global.db, &from, json_mode, now)
        }
        Command::Check => crate::recovery::check_command(&cli.global.db, json_mode),
        Command::RotateSecretKey { new_key_stdin } => {
            crate::recovery::rotate_command(&cli.global.db, new_key_stdin, json_mode, now)
        }
        Command::Org(OrgCommand::Create { name, credits }) => {
            let org =
                apps::create_organization(&open_db(&cli.global.db)?, ACTOR, &name, credits, now)
                    .map_err(err)?;
            print(
                json_mode,
                serde_json::to_value(&org).unwrap_or_default(),
                "Organization created.",
            );
            Ok(())
        }
        Command::App(AppCommand::Create { org, name }) => {
            let app = apps::create_app(&open_db(&cli.global.db)?, ACTOR, &org, &name, now)
                .map_err(err)?;
            print(
                json_mode,
                serde_json::to_value(&app).unwrap_or_default(),
                "App created.",
            );
            Ok(())
        }
        Command::App(AppCommand::Limits {
            app,
            requests_per_minute,
            burst,
            publish_requests_per_minute,
            publish_burst,
        }) => {
            let db = open_db(&cli.global.db)?;
            let change = LimitsChange {
                requests_per_minute: requests_per_minute.unwrap_or_default(),
                burst: burst.unwrap_or_default(),
                publish_requests_per_minute: publish_requests_per_minute.unwrap_or_default(),
                publish_burst: publish_burst.unwrap_or_default(),
            };
            // With no flag this only reads, so it writes no audit entry.
            let limits = rate_limits::set(&db, ACTOR, &app, &change, now).map_err(err)?;
            let mut value = serde_json::to_value(&limits).unwrap_or_default();
            value["appId"] = json!(app);
            print(
                json_mode,
                value,
                "Rate limits of the app (null: the instance's setting, MYPOSTSHARE_RATE_LIMIT_* and MYPOSTSHARE_PUBLISH_RATE_LIMIT_*).",
            );
            Ok(())
        }
        Command::Key(KeyCommand::Create { app, name }) => {
            let (key, secret) =
                keys::create(&open_db(&cli.global.db)?, ACTOR, &app, &name, now).map_err(err)?;
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
            keys::revoke(&open_db(&cli.global.db)?, ACTOR, &id, now).map_err(err)?;
            print(
                json_mode,
                json!({"id": id, "revoked": true}),
                "API key revoked.",
            );
            Ok(())
        }
        Command::Redirect(RedirectCommand::Add { app, uri }) => {
            apps::add_redirect_uri(&open_db(&cli.global.db)?, ACTOR, &app, &uri, now)
                .map_err(err)?;
            print(
                json_mode,
                json!({"appId": app, "uri": uri, "allowed": true}),
                "Redirect URI allowed.",
            );
            Ok(())
        }
        Command::Redirect(RedirectCommand::Remove { app, uri }) => {
            apps::remove_redirect_uri(&open_db(&cli.global.db)?, ACTOR, &app, &uri, now)
                .map_err(err)?;
            print(
                json_mode,
                json!({"appId": app, "uri": uri, "allowed": false}),
                "Redirect URI removed.",
            );
            Ok(())
        }
        Command::Credits(CreditsCommand::Grant { org, amount, note }) => {
            let balance =
                credits::grant(&open_db(&cli.global.db)?, ACTOR, &org, amount, &note, now)
                    .map_err(err)?;
            print(
                json_mode,
                json!({"orgId": org, "granted": amount, "balance": balance}),
                "Credits granted.",
            );
            Ok(())
        }
        Command::Credits(CreditsCommand::SetLowThreshold { org, credits }) => {
            credits::set_low_threshold(&open_db(&cli.global.db)?, ACTOR, &org, credits, now)
                .map_err(err)?;
            print(
                json_mode,
                json!({"orgId": org, "creditsLowThreshold": credits}),
                "Low-credit threshold set.",
            );
            Ok(())
        }
        Command::Webhook(command) => webhook(&cli.global.db, json_mode, command, now),
        Command::Operator(OperatorCommand::Create { email, .. }) => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| format!("reading the password from stdin: {e}"))?;
            let password = line.trim_end_matches(['\r', '\n']);
            let operator = crate::services::operators::create(
                &open_db(&cli.global.db)?,
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
            api_host,
        }) => {
            let platform = parse_platform(&platform)?;
            let api_host = config::ApiHost::parse(&api_host).unwrap_or_default();
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
            let db = open_db(&cli.global.db)?;
            let master = config::load_or_create_master_key(
                config::secret_key_from_env().as_deref(),
                &cli.global.db,
            )
            .map_err(|e| e.to_string())?;
            let credentials = ClientCredentials {
                client_id: client_id.clone(),
                client_secret: secret,
                api_host,
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
                json!({"appId": app, "platform": platform.key(), "clientId": client_id, "apiHost": api_host.as_str()}),
                "Credentials stored (the secret is encrypted at rest).",
            );
            Ok(())
        }
    }
}

fn sealer_for(db_path: &std::path::Path) -> Result<Sealer, String> {
    let master =
        config::load_or_create_master_key(config::secret_key_from_env().as_deref(), db_path)
            .map_err(|e| e.to_string())?;
    Ok(Sealer::new(&master))
}

fn webhook(
    db_path: &std::path::Path,
    json_mode: bool,
    command: WebhookCommand,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), String> {
    let db = open_db(db_path)?;
    let require_app = |app: &str| -> Result<(), String> {
        db.read(|c| apps::get_app(c, app))
            .map_err(err)?
            .map(|_| ())
            .ok_or_else(|| format!("app {app} does not exist"))
    };
    let missing = |id: &str| format!("the app has no webhook endpoint {id}");
    match command {
        WebhookCommand::Add {
            app,
            url,
            events,
            description,
            allow_private,
        } => {
            require_app(&app)?;
            let event_types = if events.is_empty() {
                None
            } else {
                Some(webhooks::parse_event_types(&events).map_err(err)?)
            };
            let (endpoint, secret) = webhooks::create_endpoint(
                &db,
                &sealer_for(db_path)?,
                ACTOR,
                &app,
                webhooks::NewEndpoint {
                    url,
                    description,
                    event_types,
                },
                allow_private,
                now,
            )
            .map_err(err)?;
            print(
                json_mode,
                crate::api::wire::webhook_endpoint_with_secret(&endpoint, &secret, now),
                "Webhook endpoint added. Copy the secret now: it is shown only this once.",
            );
        }
        WebhookCommand::List { app } => {
            require_app(&app)?;
            let list = db
                .read(|c| webhooks::list_endpoints(c, &app))
                .map_err(err)?;
            let endpoints: Vec<Value> = list
                .iter()
                .map(|e| crate::api::wire::webhook_endpoint(e, now))
                .collect();
            print(
                json_mode,
                json!({"appId": app, "endpoints": endpoints}),
                "Webhook endpoints:",
            );
        }
        WebhookCommand::Remove { app, id } => {
            if !webhooks::delete_endpoint(&db, ACTOR, &app, &id, now).map_err(err)? {
                return Err(missing(&id));
            }
            print(
                json_mode,
                json!({"appId": app, "id": id, "removed": true}),
                "Webhook endpoint removed.",
            );
        }
        WebhookCommand::Rotate { app, id } => {
            let overlap = Config::new(db_path, crate::crypto::MasterKey::from_material(""))
                .webhook_secret_overlap;
            let (endpoint, secret) =
                webhooks::rotate_secret(&db, &sealer_for(db_path)?, ACTOR, &app, &id, overlap, now)
                    .map_err(err)?
                    .ok_or_else(|| missing(&id))?;
            print(
                json_mode,
                crate::api::wire::webhook_endpoint_with_secret(&endpoint, &secret, now),
                "New secret. Copy it now: it is shown only this once. The previous one signs beside it for 24 hours.",
            );
        }
        WebhookCommand::Test { app, id } => {
            let delivery = webhooks::send_test(&db, ACTOR, &app, &id, now)
                .map_err(err)?
                .ok_or_else(|| missing(&id))?;
            print(
                json_mode,
                crate::api::wire::webhook_delivery(&delivery, None),
                "Test event queued; the running instance sends it within a second.",
            );
        }
    }
    Ok(())
}

fn bind(addr: &str) -> Result<TcpListener, String> {
    TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))
}

/// `Config` from the parsed `serve` flags, the key file or `MYPOSTSHARE_SECRET_KEY`, and the
/// per-platform variables.
fn build_config(
    db_path: &std::path::Path,
    settings: config::ConfigArgs,
    listener: &TcpListener,
) -> Result<Config, String> {
    let master =
        config::load_or_create_master_key(config::secret_key_from_env().as_deref(), db_path)
            .map_err(|e| format!("secret key: {e}"))?;
    let mut config = settings.into_config(db_path.to_path_buf(), master);
    if config.public_url.is_empty() {
        // Bound to every interface: the loopback address is the one sure to reach us.
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        let host = if local.ip().is_unspecified() {
            format!("127.0.0.1:{}", local.port())
        } else {
            local.to_string()
        };
        config.public_url = format!("http://{host}");
    }
    config::apply_platform_env(&mut config)?;
    Ok(config)
}

/// Asks the server listening on `addr` (as `serve` was given it) whether it is ready. There is
/// no curl in the container image, so its HEALTHCHECK runs this.
fn healthcheck(addr: &str) -> Result<(), String> {
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| format!("--addr {addr:?} has no port"))?;
    // A server bound to every interface is reached on loopback.
    let host = match host {
        "0.0.0.0" | "" => "127.0.0.1",
        "[::]" => "[::1]",
        other => other,
    };
    let url = format!("http://{host}:{port}/readyz");
    let agent = ureq::AgentBuilder::new()
        .timeout(std::time::Duration::from_secs(5))
        .build();
    match agent.get(&url).call() {
        Ok(response) if response.status() == 200 => Ok(()),
        Ok(response) => Err(format!("{url} answered {}", response.status())),
        Err(ureq::Error::Status(status, _)) => Err(format!("{url} answered {status}")),
        Err(e) => Err(format!("{url}: {e}")),
    }
}

fn serve(db_path: &std::path::Path, args: ServeArgs) -> Result<(), String> {
    // Held until the process ends: `restore` and `rotate-secret-key` refuse to run beside a
    // server, and a server does not start while one of them works.
    let _lock = crate::recovery::DatabaseLock::acquire(db_path, "serve")?;
    if let Some(note) = crate::recovery::finish_interrupted_rotation(db_path)? {
        httpkit::log_info!("{note}");
    }
    // Before anything starts: a stop asked for while the server starts up (the listener already
    // answers during the first-run setup) is a clean stop once start-up is done, not a kill.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone())
            .map_err(|e| format!("installing the signal handler: {e}"))?;
    }
    let listener = bind(&args.listen.addr)?;
    let config = build_config(db_path, args.settings, &listener)?;
    let sandbox = config.sandbox;
    let running = crate::app::start(config, listener, Arc::new(SystemClock)).map_err(|e| e.0)?;
    let public_url = running.state.config.public_url.clone();
    httpkit::log_info!(
        "mypostshare {} listening on {} (public URL {public_url}){}",
        env!("CARGO_PKG_VERSION"),
        running.addr,
        if sandbox { ", sandbox on" } else { "" }
    );
    if sandbox {
        crate::demo::first_run_setup(&running.state).map_err(err)?;
    }
    if let Some(link) = crate::dashboard::auth::issue_setup_link(&running.state).map_err(err)? {
        httpkit::log_info!(
            "No dashboard operator yet. Create the first one within an hour (the link works once):\n  {link}\nor run `mypostshare operator create --email you@example.com --password-stdin`."
        );
    }
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    httpkit::log_info!("shutting down: finishing requests in flight");
    running.shutdown();
    httpkit::log_info!("stopped");
    Ok(())
}

fn sandbox(args: SandboxArgs) -> Result<(), String> {
    let listener = bind(&args.listen.addr)?;
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
                trial_access: false,
            },
        );
    }
    let options = crate::http::server::ServerOptions {
        io_timeout: std::time::Duration::from_secs(30),
        ..crate::http::server::ServerOptions::new("simulator")
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).map_err(|e| e.to_string())?;
    }
    let server = simulator
        .serve(listener, options)
        .map_err(|e| e.to_string())?;
    httpkit::log_info!(
        "platform simulator listening on http://{addr} (each platform under /{{platform key}}, e.g. /linkedin, /twitter; control under /_sim)"
    );
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    server.shutdown();
    Ok(())
}
