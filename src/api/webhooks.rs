//! `/v1/webhook-endpoints`: an app's webhook endpoints (create with the secret shown once,
//! list, read, change, delete), rotating the secret, a test event, and the recent deliveries
//! with their attempts (and resending one).

use super::input::{Body, kind_of, path_identifier};
use super::{Ctx, wire};
use crate::error::{Error, Result};
use crate::http::{Request, Response};
use crate::services::Patch;
use crate::services::webhooks::{self, EndpointPatch, NewEndpoint, WebhookEventType};
use serde_json::{Map, Value};

/// The longest `description`.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

fn actor(ctx: &Ctx) -> String {
    format!("api key {}", ctx.caller.key_prefix)
}

fn object(req: &Request) -> Result<(Body, Map<String, Value>)> {
    let value = req.json_value()?;
    let map = value.as_object().cloned().unwrap_or_default();
    Ok((Body::parse(value)?, map))
}

/// `eventTypes`: absent keeps, `null` means every event, an array names the types.
fn event_types(map: &Map<String, Value>) -> Result<Patch<Vec<WebhookEventType>>> {
    match map.get("eventTypes") {
        None => Ok(Patch::Keep),
        Some(Value::Null) => Ok(Patch::Clear),
        Some(Value::Array(items)) => {
            let names = items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    item.as_str().map(str::to_string).ok_or_else(|| {
                        Error::validation(format!(
                            "eventTypes[{i}] must be a string, not {}.",
                            kind_of(item)
                        ))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            webhooks::parse_event_types(&names).map(Patch::Set)
        }
        Some(other) => Err(Error::validation(format!(
            "eventTypes must be an array of event types, or null for every event; not {}.",
            kind_of(other)
        ))),
    }
}

fn not_found(id: &str) -> Error {
    Error::not_found(format!("This app has no webhook endpoint {id:?}."))
}

pub fn create(ctx: &Ctx, req: &Request) -> Result<Response> {
    let (body, map) = object(req)?;
    let url = body.required_string("url", webhooks::MAX_URL_CHARS)?;
    let description = body
        .optional_string("description", MAX_DESCRIPTION_CHARS)?
        .into_option();
    let event_types = event_types(&map)?.into_option();
    let state = ctx.state;
    let (endpoint, secret) = webhooks::create_endpoint(
        &state.db,
        &state.sealer,
        &actor(ctx),
        &ctx.caller.app_id,
        NewEndpoint {
            url,
            description,
            event_types,
        },
        state.config.allow_private_media,
        ctx.now,
    )?;
    Ok(Response::json(
        201,
        &wire::webhook_endpoint_with_secret(&endpoint, &secret, ctx.now),
    ))
}

pub fn list(ctx: &Ctx) -> Result<Response> {
    let endpoints = ctx
        .state
        .db
        .read(|c| webhooks::list_endpoints(c, &ctx.caller.app_id))?;
    Ok(Response::json(
        200,
        &Value::Array(
            endpoints
                .iter()
                .map(|e| wire::webhook_endpoint(e, ctx.now))
                .collect(),
        ),
    ))
}

pub fn get(ctx: &Ctx, id: &str) -> Result<Response> {
    let id = path_identifier("id", id)?;
    let endpoint = ctx
        .state
        .db
        .read(|c| webhooks::get_endpoint(c, &ctx.caller.app_id, &id))?
        .ok_or_else(|| not_found(&id))?;
    Ok(Response::json(
        200,
        &wire::webhook_endpoint(&endpoint, ctx.now),
    ))
}

pub fn update(ctx: &Ctx, req: &Request, id: &str) -> Result<Response> {
    let id = path_identifier("id", id)?;
    let (body, map) = object(req)?;
    let url = match body.optional_string("url", webhooks::MAX_URL_CHARS)? {
        Patch::Keep => None,
        Patch::Set(url) => Some(url),
        Patch::Clear => {
            return Err(Error::validation(
                "url cannot be null; leave it out to keep the endpoint's URL.",
            ));
        }
    };
    let enabled = match map.get("enabled") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            return Err(Error::validation(format!(
                "enabled must be true or false, not {}.",
                kind_of(other)
            )));
        }
    };
    let patch = EndpointPatch {
        url,
        description: body.optional_string("description", MAX_DESCRIPTION_CHARS)?,
        event_types: event_types(&map)?,
        enabled,
    };
    let state = ctx.state;
    let endpoint = webhooks::update_endpoint(
        &state.db,
        &actor(ctx),
        &ctx.caller.app_id,
        &id,
        patch,
        state.config.allow_private_media,
        ctx.now,
    )?
    .ok_or_else(|| not_found(&id))?;
    Ok(Response::json(
        200,
        &wire::webhook_endpoint(&endpoint, ctx.now),
    ))
}

pub fn delete(ctx: &Ctx, id: &str) -> Result<Response> {
    let id = path_identifier("id", id)?;
    if webhooks::delete_endpoint(&ctx.state.db, &actor(ctx), &ctx.caller.app_id, &id, ctx.now)? {
        Ok(Response::no_content())
    } else {
        Err(not_found(&id))
    }
}

pub fn rotate_secret(ctx: &Ctx, id: &str) -> Result<Response> {
    let id = path_identifier("id", id)?;
    let state = ctx.state;
    let (endpoint, secret) = webhooks::rotate_secret(
        &state.db,
        &state.sealer,
        &actor(ctx),
        &ctx.caller.app_id,
        &id,
        state.config.webhook_secret_overlap,
        ctx.now,
    )?
    .ok_or_else(|| not_found(&id))?;
    Ok(Response::json(
        200,
        &wire::webhook_endpoint_with_secret(&endpoint, &secret, ctx.now),
    ))
}

pub fn test(ctx: &Ctx, id: &str) -> Result<Response> {
    let id = path_identifier("id", id)?;
    let delivery =
        webhooks::send_test(&ctx.state.db, &actor(ctx), &ctx.caller.app_id, &id, ctx.now)?
            .ok_or_else(|| not_found(&id))?;
    ctx.state.webhooks.wake();
    Ok(Response::json(
        202,
        &wire::webhook_delivery(&delivery, None),
    ))
}

pub fn deliveries(ctx: &Ctx, id: &str) -> Result<Response> {
    let id = path_identifier("id", id)?;
    let list = ctx.state.db.read(|c| {
        webhooks::get_endpoint(c, &ctx.caller.app_id, &id)?.ok_or_else(|| not_found(&id))?;
        webhooks::recent_deliveries(c, &id, webhooks::RECENT_DELIVERIES)?
            .into_iter()
            .map(|d| {
                let attempts = webhooks::attempts(c, &d.id)?;
                Ok(wire::webhook_delivery(&d, Some(&attempts)))
            })
            .collect::<Result<Vec<_>>>()
    })?;
    Ok(Response::json(200, &Value::Array(list)))
}

pub fn resend(ctx: &Ctx, id: &str, delivery_id: &str) -> Result<Response> {
    let id = path_identifier("id", id)?;
    let delivery_id = path_identifier("deliveryId", delivery_id)?;
    let missing = || {
        Error::not_found(format!(
            "Webhook endpoint {id:?} of this app has no delivery {delivery_id:?}."
        ))
    };
    let belongs = ctx
        .state
        .db
        .read(|c| webhooks::get_delivery(c, &delivery_id))?
        .is_some_and(|d| d.endpoint_id == id);
    if !belongs {
        return Err(missing());
    }
    let delivery = webhooks::resend(
        &ctx.state.db,
        &actor(ctx),
        &ctx.caller.app_id,
        &delivery_id,
        ctx.now,
    )?
    .ok_or_else(missing)?;
    ctx.state.webhooks.wake();
    Ok(Response::json(
        202,
        &wire::webhook_delivery(&delivery, None),
    ))
}
