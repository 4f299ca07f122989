//! The running appliance's shared state, its start-up wiring (database, engine, scheduler,
//! simulator), the top-level router that hands each path to its surface, and the wrapper around
//! it that records every request's metrics.

use crate::clock::SharedClock;
use crate::config::Config;
use crate::crypto::Sealer;
use crate::db::Db;
use crate::delivery::Engine;
use crate::error::Error;
use crate::http::server::{ServerHandle, ServerOptions, serve};
use crate::http::{Request, Response, error_response};
use crate::instance::InstanceId;
use crate::providers::Providers;
use crate::rate_limit::Limiter;
use crate::scheduler::Scheduler;
use crate::services::apps::CredentialStore;
use crate::services::{idempotency, posts};
use serde_json::json;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Instant;

pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub clock: SharedClock,
    pub sealer: Sealer,
    pub providers: Providers,
    /// The OAuth clients connections are made with (the apps' own and the managed ones).
    pub credentials: CredentialStore,
    pub engine: Engine,
    pub scheduler: Arc<Scheduler>,
    pub sandbox: Option<Arc<mypostshare_sim::Simulator>>,
    /// Sends the outbox's webhooks on threads of its own.
    pub webhooks: crate::webhooks::Sender,
    /// This start of the process; state only a living process may hold (an `Idempotency-Key`
    /// reservation) is stored with it, so the next start knows what this one left behind.
    pub instance_id: InstanceId,
    /// The API's token buckets (per key and budget, per client address); memory only.
    pub rate_limits: Limiter,
    /// The sent posts being deleted on the platforms now (`deletion`); memory only.
    pub deletions: crate::deletion::InFlight,
}

/// A started appliance. Dropping it without `shutdown` also stops it.
pub struct Running {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    server: Option<ServerHandle>,
    sandbox_server: Option<ServerHandle>,
}

impl Running {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Finishes requests in flight, stops the scheduler and the delivery workers.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown();
        }
        self.state.scheduler.stop();
        self.state.engine.stop();
        self.state.webhooks.stop();
        if let Some(server) = self.sandbox_server.take() {
            server.shutdown();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

fn server_options(name: &'static str, config: &Config) -> ServerOptions {
    ServerOptions {
        threads: config.worker_threads,
        max_body_bytes: config.max_body_bytes,
        max_header_bytes: config.max_header_bytes,
        io_timeout: config.read_timeout,
        head_timeout: config.head_timeout,
        keep_alive: config.keep_alive,
        max_connections: config.max_connections,
        max_connections_per_ip: config.max_connections_per_ip,
        trusted_proxies: config.trusted_proxies.clone(),
        ..ServerOptions::new(name)
    }
}

/// Opens the database, starts the delivery engine, the scheduler and (in sandbox mode) the
/// simulator, and serves everything on `listener`.
pub fn start(
    mut config: Config,
    listener: TcpListener,
    clock: SharedClock,
) -> Result<Running, StartError> {
    let addr = listener
        .local_addr()
        .map_err(|e| StartError(format!("reading the listener's address: {e}")))?;
    if config.public_url.is_empty() {
        config.public_url = format!("http://{addr}");
    }
    config.public_url = config.public_url.trim_end_matches('/').to_string();
    let db = Db::open_with(
        &config.db_path,
        (config.worker_threads + config.delivery_workers + config.webhook_senders + 5) as u32,
        config.wal_autocheckpoint,
    )
    .map_err(|e| {
        StartError(format!(
            "opening the database {}: {e}",
            config.db_path.display()
        ))
    })?;
    // Before anything serves: whatever requests of an earlier start still held died with it.
    let instance_id = InstanceId::generate();
    let released = idempotency::release_abandoned(&db, &instance_id).map_err(|e| {
        StartError(format!(
            "releasing Idempotency-Key reservations of an earlier start: {e}"
        ))
    })?;
    if released > 0 {
        httpkit::log_info!(
            "released {released} Idempotency-Key reservations of requests cut off by an earlier stop"
        );
    }
    let sealer = Sealer::new(&config.master_key);

    let mut sandbox = None;
    let mut sandbox_server = None;
    if config.sandbox {
        let options = ServerOptions {
            access_log: false,
            ..server_options("simulator", &config)
        };
        let mounted =
            crate::simulator::mount(&mut config, clock.clone(), options).map_err(StartError)?;
        sandbox = Some(mounted.simulator);
        sandbox_server = Some(mounted.server);
    }

    let config = Arc::new(config);
    let providers = Providers::from_config(&config);
    let credentials = CredentialStore::new(
        db.clone(),
        sealer.clone(),
        config.managed_credentials.clone(),
    );
    // Before any delivery worker runs: every lease an earlier start still holds was cut off
    // when that process stopped; it is handed to a read-back of the platform now rather than
    // when its lease runs out.
    let recovered = posts::recover_leases_of_earlier_starts(
        &db,
        &instance_id,
        crate::delivery::recovery(&config),
        clock.now(),
    )
    .map_err(|e| {
        StartError(format!(
            "recovering deliveries interrupted by an earlier stop: {e}"
        ))
    })?;
    for (platform, what) in &recovered {
        crate::delivery::record_recovered(platform, *what);
    }
    if !recovered.is_empty() {
        httpkit::log_warn!(
            "{} deliveries were interrupted by an earlier stop; the platforms are read back to find out whether they published them",
            recovered.len()
        );
    }
    let engine = Engine::start(
        db.clone(),
        instance_id.clone(),
        clock.clone(),
        sealer.clone(),
        credentials.clone(),
        providers.clone(),
        config.clone(),
    );
    let webhooks =
        crate::webhooks::Sender::start(db.clone(), clock.clone(), sealer.clone(), &config);
    let scheduler = Scheduler::new(
        crate::jobs::all(&config, &db, &engine).map_err(StartError)?,
        clock.clone(),
    );
    let state = Arc::new(AppState {
        config: config.clone(),
        db,
        clock,
        sealer,
        providers,
        credentials,
        engine,
        scheduler: scheduler.clone(),
        sandbox,
        webhooks,
        instance_id,
        rate_limits: Limiter::new(),
        deletions: Default::default(),
    });
    scheduler.spawn();
    let handler_state = state.clone();
    let server = serve(
        listener,
        server_options("api", &config),
        Arc::new(move |req: &Request| handle(&handler_state, req)),
    )
    .map_err(|e| StartError(format!("starting the HTTP server: {e}")))?;
    Ok(Running {
        addr,
        state,
        server: Some(server),
        sandbox_server,
    })
}

/// Every request of the main listener: the router, then the request's metrics, recorded here
/// because every answer passes (the server's own refusals, answered before any handler, are
/// counted in the access log only). The answer carries its route template for the access log.
pub fn handle(state: &AppState, req: &Request) -> Response {
    let started = Instant::now();
    let mut response = route(state, req);
    let template = response
        .route
        .get_or_insert_with(|| "{unmatched}".to_string());
    crate::metrics::record_request(template, &req.method, response.status, started.elapsed());
    response
}

/// The top-level router: each surface gets its own prefix. Each answer names its route
/// template (`/v1/posts/{id}`, `/dashboard/apps/{id}`), never the raw path, so neither an id
/// nor a token in a path reaches a log line or a metric label.
pub fn route(state: &AppState, req: &Request) -> Response {
    let path = req.path.as_str();
    if let Some(rest) = path
        .strip_prefix("/api/v1")
        .or_else(|| path.strip_prefix("/v1"))
        && (rest.is_empty() || rest.starts_with('/'))
    {
        return crate::api::handle(state, req, rest);
    }
    if path == "/dashboard" || path.starts_with("/dashboard/") {
        return crate::dashboard::handle(state, req)
            .with_route(crate::dashboard::route_template(req));
    }
    if path.starts_with("/connect/") || path.starts_with("/oauth/callback/") {
        let template = if path.starts_with("/connect/") {
            "/connect/{id}"
        } else {
            "/oauth/callback/{platform}"
        };
        return crate::hosted_connect::handle(state, req).with_route(template);
    }
    if path == "/metrics" {
        return crate::metrics::handle(state, req).with_route("/metrics");
    }
    if let Some(name) = path.strip_prefix("/assets/") {
        return crate::web::asset(name).with_route("/assets/{file}");
    }
    fixed_route(state, req).with_route(match path {
        "/healthz" | "/readyz" | "/" | "/demo/callback" => path,
        _ if path == "/sandbox" || path.starts_with("/sandbox/") => "/sandbox/{page}",
        _ => "{unmatched}",
    })
}

/// The routes of no surface: the sandbox's pages, health, readiness, the service description.
fn fixed_route(state: &AppState, req: &Request) -> Response {
    let path = req.path.as_str();
    if path == "/sandbox" || path.starts_with("/sandbox/") {
        return match &state.sandbox {
            Some(sim) => sim.handle(req, "/sandbox"),
            None => error_response(
                &Error::not_found(
                    "The sandbox is not enabled on this instance (start it with `serve --sandbox`).",
                ),
                &req.request_id,
            ),
        };
    }
    match (req.method.as_str(), path) {
        ("GET", "/healthz") => Response::json(200, &json!({"status": "ok"})),
        ("GET", "/readyz") => {
            if state.db.is_writable() {
                Response::json(200, &json!({"status": "ready"}))
            } else {
                Response::json(
                    503,
                    &json!({"status": "unavailable", "message": "The database is not writable."}),
                )
            }
        }
        // The API's own description and its two renderings; public, like the API reference.
        ("GET", "/api/openapi.json") => crate::openapi::openapi_json(&state.config.public_url),
        ("GET", "/docs") => crate::openapi::docs_page(&state.config.public_url),
        ("GET", "/llms.txt") => crate::openapi::llms_txt(&state.config.public_url),
        ("GET", "/demo/callback") if state.config.sandbox => crate::web::demo_callback(req),
        // Browsers asking for HTML go to the dashboard; API clients get the service description.
        ("GET", "/")
            if req
                .header("accept")
                .is_some_and(|accept| accept.contains("text/html")) =>
        {
            Response::redirect("/dashboard")
        }
        ("GET", "/") => Response::json(
            200,
            &json!({
                "name": "mypostshare",
                "version": env!("CARGO_PKG_VERSION"),
                "api": format!("{}/api/v1", state.config.public_url),
                "openapi": format!("{}/api/openapi.json", state.config.public_url),
                "docs": format!("{}/docs", state.config.public_url),
            }),
        ),
        (_, "/healthz" | "/readyz" | "/" | "/api/openapi.json" | "/docs" | "/llms.txt") => {
            error_response(
                &Error::method_not_allowed(path, &req.method, &["GET"]),
                &req.request_id,
            )
        }
        _ => error_response(
            &Error::not_found(format!("No route for {} {}.", req.method, req.path)),
            &req.request_id,
        ),
    }
}
