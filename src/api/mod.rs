//! The public `/v1` API: limits failed authentications per client address, authenticates the
//! bearer key, applies the key's rate limit (`X-RateLimit-*` on every answer, 429 beyond it),
//! applies `Idempotency-Key`, routes to one handler per endpoint, and logs every request.
//! Handlers parse and validate input, call one service, and answer in the spec's wire format
//! (`wire`); they open no SQL of their own.

mod connect_sessions;
mod end_users;
pub mod input;
mod post_lifecycle;
mod posts;
mod webhooks;
pub mod wire;

use crate::app::AppState;
use crate::config::Config;
use crate::crypto::sha256_hex;
use crate::error::{Code, Error, Result};
use crate::http::{Request, Response, error_response};
use crate::rate_limit::{Budget, Reading, Resource};
use crate::services::keys::{self, Caller};
use crate::services::{idempotency, request_log};
use chrono::{DateTime, Utc};
use std::net::IpAddr;
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
    let client_ip = crate::client_ip::of_request(req, &state.config.trusted_proxies);
    let (response, caller, reading) = admit_and_run(state, req, rest, client_ip, now, base_path);
    // A client retrying into a 429 in a loop would otherwise turn each refusal into a write:
    // only the first refusal of a run is logged, so refusals add at most one row per allowed
    // request.
    let worth_logging = reading.is_none_or(|r| !r.refused() || r.first_refusal);
    if worth_logging {
        let client_ip = client_ip.map(|ip| ip.to_string());
        let logged = request_log::LoggedRequest {
            app_id: caller.as_ref().map(|c| c.app_id.as_str()),
            key_prefix: caller.as_ref().map(|c| c.key_prefix.as_str()),
            method: &req.method,
            path: &req.path,
            status: response.status,
            duration_ms: started.elapsed().as_millis() as i64,
            request_id: &req.request_id,
            client_ip: client_ip.as_deref(),
        };
        if let Err(e) = request_log::record(&state.db, &logged, state.clock.now()) {
            httpkit::log_error!("request log: {e}");
        }
    }
    let response = match caller {
        Some(caller) => response.with_app_id(caller.app_id),
        None => response,
    };
    let response = response.with_route(route_template(rest));
    match reading {
        Some(reading) => with_rate_limit_headers(response, &reading),
        None => response,
    }
}

/// The budget of failed authentications per client address: as many at once as a minute
/// allows, so the setting is one number.
fn failed_auth_budget(config: &Config) -> Budget {
    Budget {
        per_minute: config.failed_auth_per_minute,
        burst: config.failed_auth_per_minute.max(1),
    }
}

/// The budget a request draws from: the endpoints that call the platforms about a post (and
/// may charge credits) have their own: publishing, retrying (it publishes again) and deleting
/// (it deletes on every platform of the post). Every other request draws from the general one.
pub fn resource_of(method: &str, rest: &str) -> Resource {
    let scratch = Request::new(method, rest);
    let segments = scratch.segments_after("").unwrap_or_default();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (method, segments.as_slice()) {
        ("POST", ["posts"] | ["posts", "scheduled"] | ["posts", _, "retry"])
        | ("DELETE", ["posts", _]) => Resource::Publishing,
        _ => Resource::General,
    }
}

/// The endpoints of the publishing budget, for the 429's message.
const PUBLISHING_ENDPOINTS: &str =
    "POST /v1/posts, /v1/posts/scheduled and /v1/posts/{id}/retry, DELETE /v1/posts/{id}";

/// The rate limits, in order, then the request: an address out of failed authentications is
/// refused before its key is checked (so guessing keys stays slow, and each refusal costs no
/// database read); a refused key costs its address one failed authentication; a valid key
/// takes a token of its budget or gets 429. Returns the answer, the caller if known, and the
/// bucket the answer's headers describe (none when that limit is off).
fn admit_and_run(
    state: &AppState,
    req: &Request,
    rest: &str,
    client_ip: Option<IpAddr>,
    now: DateTime<Utc>,
    base_path: &'static str,
) -> (Response, Option<Caller>, Option<Reading>) {
    let limiter = &state.rate_limits;
    let failed_auth = failed_auth_budget(&state.config);
    if let Some(ip) = client_ip
        && let Some(refusal) = limiter.address_refusal(ip, failed_auth, now)
    {
        let error = Error::new(
            Code::RateLimited,
            format!(
                "Too many requests with a missing or invalid API key from your address ({} a minute are allowed); this request's key was not checked. Retry after {} s with a valid key.",
                failed_auth.per_minute,
                refusal.retry_after_secs.unwrap_or(1)
            ),
        );
        return (error_response(&error, &req.request_id), None, Some(refusal));
    }
    let caller = match keys::authenticate(&state.db, req.bearer_token(), now) {
        Ok(caller) => caller,
        Err(error) => {
            let reading = (error.code == Code::Unauthorized)
                .then_some(client_ip)
                .flatten()
                .and_then(|ip| limiter.address_failure(ip, failed_auth, now));
            if let (Some(ip), Some(r)) = (client_ip, reading)
                && r.remaining == 0
            {
                httpkit::log_warn!(
                    "rate limit: {ip} used up its {} failed authentications; its API requests get 429 for the next {} s",
                    r.limit,
                    r.reset_secs
                );
            }
            return (error_response(&error, &req.request_id), None, reading);
        }
    };
    let resource = resource_of(&req.method, rest);
    let budget = match resource {
        Resource::Publishing => caller.rate_limits.publishing(&state.config),
        _ => caller.rate_limits.general(&state.config),
    };
    let reading = limiter.take(&caller.app_id, &caller.key_id, resource, budget, now);
    if let Some(refusal) = reading.filter(Reading::refused) {
        let error = Error::new(
            Code::RateLimited,
            format!(
                "Too many requests with this API key: its {} budget allows {} requests a minute, {} at once. Retry after {} s; X-RateLimit-Remaining and X-RateLimit-Reset on every answer show what is left.",
                match resource {
                    Resource::Publishing => format!("publishing ({PUBLISHING_ENDPOINTS})"),
                    _ => "general".to_string(),
                },
                budget.per_minute,
                budget.burst,
                refusal.retry_after_secs.unwrap_or(1)
            ),
        );
        return (
            error_response(&error, &req.request_id),
            Some(caller),
            reading,
        );
    }
    let ctx = Ctx {
        state,
        caller: caller.clone(),
        now,
        base_path,
        idempotency: None,
    };
    let response = with_idempotency(ctx, req, |ctx| route(ctx, req, rest))
        .unwrap_or_else(|e| error_response(&e, &req.request_id));
    (response, Some(caller), reading)
}

/// `X-RateLimit-Limit` (the bucket's size), `X-RateLimit-Remaining` (requests allowed right
/// now), `X-RateLimit-Reset` (seconds until the bucket is full), `X-RateLimit-Resource` (which
/// bucket), and on a 429 `Retry-After` (seconds until the next request is allowed).
fn with_rate_limit_headers(response: Response, reading: &Reading) -> Response {
    let response = response
        .with_header("X-RateLimit-Limit", &reading.limit.to_string())
        .with_header("X-RateLimit-Remaining", &reading.remaining.to_string())
        .with_header("X-RateLimit-Reset", &reading.reset_secs.to_string())
        .with_header("X-RateLimit-Resource", reading.resource.as_str());
    match reading.retry_after_secs {
        Some(seconds) => response.with_header("Retry-After", &seconds.to_string()),
        None => response,
    }
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
            httpkit::log_warn!("releasing Idempotency-Key {:?}: {e}", self.claim.key);
        }
    }
}

/// Every endpoint of the API: its path under `/v1` (`{name}` stands for one segment) and its
/// methods, first match wins. The router answers 404 and 405 from this table, and
/// `tests/it/openapi.rs` checks it against the OpenAPI document (`crate::openapi`) both ways.
pub const ROUTES: &[(&str, &[&str])] = &[
    ("/end-users", &["POST"]),
    ("/end-users/{externalUserId}", &["GET"]),
    ("/end-users/{externalUserId}/connections", &["GET"]),
    (
        "/end-users/{externalUserId}/connections/{platform}",
        &["DELETE"],
    ),
    (
        "/end-users/{externalUserId}/connections/{platform}/targets",
        &["GET"],
    ),
    ("/connect-sessions", &["POST"]),
    ("/connect-sessions/{id}", &["GET"]),
    ("/posts", &["GET", "POST"]),
    ("/posts/scheduled", &["POST"]),
    ("/posts/{id}", &["GET", "PATCH", "DELETE"]),
    ("/posts/{id}/cancel", &["POST"]),
    ("/posts/{id}/retry", &["POST"]),
    ("/posts/{id}/attempts", &["GET"]),
    ("/webhook-endpoints", &["GET", "POST"]),
    ("/webhook-endpoints/{id}", &["GET", "PATCH", "DELETE"]),
    ("/webhook-endpoints/{id}/rotate-secret", &["POST"]),
    ("/webhook-endpoints/{id}/test", &["POST"]),
    ("/webhook-endpoints/{id}/deliveries", &["GET"]),
    (
        "/webhook-endpoints/{id}/deliveries/{deliveryId}/resend",
        &["POST"],
    ),
];

/// The first route whose template the path's segments fit: its template (which the access log
/// and the metrics show instead of the raw path) and its methods.
fn endpoint(segments: &[&str]) -> Option<(&'static str, &'static [&'static str])> {
    ROUTES.iter().copied().find(|(template, _)| {
        let parts: Vec<&str> = template.split('/').filter(|p| !p.is_empty()).collect();
        parts.len() == segments.len()
            && parts
                .iter()
                .zip(segments)
                .all(|(part, segment)| part.starts_with('{') || part == segment)
    })
}

/// The route template of a request to `/v1{rest}` (`/v1/posts/{id}`), whichever prefix
/// (`/v1`, `/api/v1`) it came by; `/v1/{unmatched}` for a path that is no endpoint.
pub fn route_template(rest: &str) -> String {
    let scratch = Request::new("GET", rest);
    let segments = scratch.segments_after("").unwrap_or_default();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match endpoint(&segments) {
        Some((template, _)) => format!("/v1{template}"),
        None if segments.is_empty() => "/v1".to_string(),
        None => "/v1/{unmatched}".to_string(),
    }
}

fn route(ctx: &Ctx, req: &Request, rest: &str) -> Result<Response> {
    let scratch = Request::new(&req.method, rest);
    let segments = scratch.segments_after("").unwrap_or_default();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = req.method.as_str();
    let Some((_, allowed)) = endpoint(&segments) else {
        return Err(Error::not_found(format!(
            "No endpoint {method} {}. See the API reference at /docs for the /v1 endpoints.",
            req.path
        )));
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
        ("PATCH", ["posts", id]) => post_lifecycle::edit(ctx, req, id),
        ("DELETE", ["posts", id]) => post_lifecycle::delete(ctx, id),
        ("POST", ["posts", id, "cancel"]) => post_lifecycle::cancel(ctx, id),
        ("POST", ["posts", id, "retry"]) => post_lifecycle::retry(ctx, req, id),
        ("GET", ["posts", id, "attempts"]) => post_lifecycle::attempts(ctx, id),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The budget is chosen on the path as the router reads it (percent-decoded, empty segments
    /// dropped), so no spelling of a publishing endpoint reaches it on the general budget.
    #[test]
    fn publishing_is_told_apart_as_the_router_reads_the_path() {
        for (method, rest) in [
            ("POST", "/posts"),
            ("POST", "/posts/"),
            ("POST", "/posts/scheduled"),
            ("POST", "/%70osts"),
            ("POST", "//posts//scheduled"),
            ("POST", "/posts/abc/retry"),
            ("DELETE", "/posts/abc"),
            ("DELETE", "/%70osts/abc/"),
        ] {
            assert_eq!(resource_of(method, rest), Resource::Publishing, "{rest}");
        }
        for (method, rest) in [
            ("GET", "/posts"),
            ("GET", "/posts/scheduled"),
            ("POST", "/end-users"),
            ("POST", "/connect-sessions"),
            ("POST", "/posts/abc/other"),
            ("POST", "/posts/abc/cancel"),
            ("PATCH", "/posts/abc"),
            ("GET", "/posts/abc"),
            ("DELETE", "/end-users/u/connections/linkedin"),
        ] {
            assert_eq!(
                resource_of(method, rest),
                Resource::General,
                "{method} {rest}"
            );
        }
    }
}
