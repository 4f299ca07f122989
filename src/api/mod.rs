//! The public `/v1` API: authenticates the bearer key, applies `Idempotency-Key`, routes to one
//! handler per endpoint, and logs every request. Handlers parse and validate input, call one
//! service, and answer in the spec's wire format (`wire`); they open no SQL of their own.

mod connect_sessions;
mod end_users;
pub mod input;
mod posts;
mod webhooks;
pub mod wire;

use crate::app::AppState;
use crate::crypto::sha256_hex;
use crate::error::{Error, Result};
use crate::http::{Request, Response, error_response};
use crate::services::keys::{self, Caller};
use crate::services::{idempotency, request_log};
use chrono::{DateTime, Utc};
use std::time::Instant;

/// What every handler gets: the app state, who is calling, and the time of the request.
pub struct Ctx<'a> {
    pub state: &'a AppState,
    pub caller: Caller,
    pub now: DateTime<Utc>,
    /// `/api/v1` or `/v1`, as the caller addressed us, for links we hand back.
    pub base_path: &'static str,
    /// The `Idempotency-Key` reservation this request holds, if it came with one; a handler
    /// that creates a post links it to the key in the same transaction.
    pub idempotency: Option<idempotency::Claim>,
}

pub fn handle(state: &AppState, req: &Request, rest: &str) -> Response {
    let started = Instant::now();
    let now = state.clock.now();
    let base_path = if req.path.starts_with("/api/v1") {
        "/api/v1"
    } else {
        "/v1"
    };
    let caller = keys::authenticate(&state.db, req.bearer_token(), now);
    let response = match &caller {
        Err(e) => error_response(e, &req.request_id),
        Ok(caller) => {
            let ctx = Ctx {
                state,
                caller: caller.clone(),
                now,
                base_path,
                idempotency: None,
            };
            with_idempotency(ctx, req, |ctx| route(ctx, req, rest))
                .unwrap_or_else(|e| error_response(&e, &req.request_id))
        }
    };
    let caller = caller.ok();
    let logged = request_log::LoggedRequest {
        app_id: caller.as_ref().map(|c| c.app_id.as_str()),
        key_prefix: caller.as_ref().map(|c| c.key_prefix.as_str()),
        method: &req.method,
        path: &req.path,
        status: response.status,
        duration_ms: started.elapsed().as_millis() as i64,
        request_id: &req.request_id,
    };
    if let Err(e) = request_log::record(&state.db, &logged, state.clock.now()) {
        eprintln!("request log: {e}");
    }
    response
}

/// Runs `run` once per `Idempotency-Key` (POST only): a repeat with the same body gets the
/// stored response (or, after a crash, the post the first request created), a repeat with
/// another body a 409.
fn with_idempotency(
    mut ctx: Ctx,
    req: &Request,
    run: impl FnOnce(&Ctx) -> Result<Response>,
) -> Result<Response> {
    let key = req.header("idempotency-key").map(str::trim);
    let (Some(key), "POST") = (key, req.method.as_str()) else {
        return run(&ctx);
    };
    let hash = sha256_hex(&[req.path.as_bytes(), b"\n", &req.body].concat());
    let state = ctx.state;
    let reservation = idempotency::reserve(
        &state.db,
        &ctx.caller.app_id,
        key,
        &hash,
        &state.instance_id,
        state.config.idempotency_ttl,
        ctx.now,
    )?;
    let claim = match reservation {
        idempotency::Reservation::Replay { status, body } => {
            return Ok(replayed(
                Response::new(status)
                    .with_header("Content-Type", "application/json; charset=utf-8")
                    .with_body(body.into_bytes()),
            ));
        }
        idempotency::Reservation::ReplayPost { post_id } => {
            return posts::replay_created(&ctx, &post_id).map(replayed);
        }
        idempotency::Reservation::Fresh(claim) => claim,
    };
    // Should the handler panic, or storing its answer fail, the guard gives the key up on the
    // way out, so it is not pinned for the rest of this process's life.
    let mut held = HeldKey {
        db: &state.db,
        claim: claim.clone(),
        settled: false,
    };
    ctx.idempotency = Some(claim);
    let response = run(&ctx).unwrap_or_else(|e| error_response(&e, &req.request_id));
    idempotency::complete(
        &state.db,
        &held.claim,
        response.status,
        &String::from_utf8_lossy(&response.body),
    )?;
    held.settled = true;
    Ok(response)
}

fn replayed(response: Response) -> Response {
    response.with_header("Idempotent-Replayed", "true")
}

/// A reservation of this request that is released when dropped before being settled.
struct HeldKey<'a> {
    db: &'a crate::db::Db,
    claim: idempotency::Claim,
    settled: bool,
}

impl Drop for HeldKey<'_> {
    fn drop(&mut self) {
        if !self.settled
            && let Err(e) = idempotency::release(self.db, &self.claim)
        {
            eprintln!("releasing Idempotency-Key {:?}: {e}", self.claim.key);
        }
    }
}

fn route(ctx: &Ctx, req: &Request, rest: &str) -> Result<Response> {
    let scratch = Request::new(&req.method, rest);
    let segments = scratch.segments_after("").unwrap_or_default();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = req.method.as_str();
    let allowed: &[&str] = match segments.as_slice() {
        ["end-users"] => &["POST"],
        ["end-users", _] => &["GET"],
        ["end-users", _, "connections"] => &["GET"],
        ["end-users", _, "connections", _] => &["DELETE"],
        ["end-users", _, "connections", _, "targets"] => &["GET"],
        ["connect-sessions"] => &["POST"],
        ["connect-sessions", _] => &["GET"],
        ["posts"] => &["GET", "POST"],
        ["posts", "scheduled"] => &["POST"],
        ["posts", _] => &["GET"],
        ["webhook-endpoints"] => &["GET", "POST"],
        ["webhook-endpoints", _] => &["GET", "PATCH", "DELETE"],
        ["webhook-endpoints", _, "rotate-secret"] => &["POST"],
        ["webhook-endpoints", _, "test"] => &["POST"],
        ["webhook-endpoints", _, "deliveries"] => &["GET"],
        ["webhook-endpoints", _, "deliveries", _, "resend"] => &["POST"],
        _ => {
            return Err(Error::not_found(format!(
                "No endpoint {method} {}. See the API reference for the ten /v1 endpoints.",
                req.path
            )));
        }
    };
    if !allowed.contains(&method) {
        return Err(Error::method_not_allowed(&req.path, method, allowed));
    }
    match (method, segments.as_slice()) {
        ("POST", ["end-users"]) => end_users::upsert(ctx, req),
        ("GET", ["end-users", user]) => end_users::get(ctx, user),
        ("GET", ["end-users", user, "connections"]) => end_users::list_connections(ctx, user),
        ("GET", ["end-users", user, "connections", platform, "targets"]) => {
            end_users::list_targets(ctx, user, platform)
        }
        ("DELETE", ["end-users", user, "connections", platform]) => {
            end_users::disconnect(ctx, user, platform)
        }
        ("POST", ["connect-sessions"]) => connect_sessions::create(ctx, req),
        ("GET", ["connect-sessions", id]) => connect_sessions::get(ctx, id),
        ("POST", ["posts"]) => posts::publish_now(ctx, req),
        ("POST", ["posts", "scheduled"]) => posts::schedule(ctx, req),
        ("GET", ["posts"]) => posts::list(ctx, req),
        ("GET", ["posts", id]) => posts::get(ctx, id),
        ("POST", ["webhook-endpoints"]) => webhooks::create(ctx, req),
        ("GET", ["webhook-endpoints"]) => webhooks::list(ctx),
        ("GET", ["webhook-endpoints", id]) => webhooks::get(ctx, id),
        ("PATCH", ["webhook-endpoints", id]) => webhooks::update(ctx, req, id),
        ("DELETE", ["webhook-endpoints", id]) => webhooks::delete(ctx, id),
        ("POST", ["webhook-endpoints", id, "rotate-secret"]) => webhooks::rotate_secret(ctx, id),
        ("POST", ["webhook-endpoints", id, "test"]) => webhooks::test(ctx, id),
        ("GET", ["webhook-endpoints", id, "deliveries"]) => webhooks::deliveries(ctx, id),
        ("POST", ["webhook-endpoints", id, "deliveries", delivery, "resend"]) => {
            webhooks::resend(ctx, id, delivery)
        }
        _ => Err(Error::internal("route table and dispatch disagree")),
    }
}
