//! An app's webhook endpoints in the dashboard: the list and the add form on the app's page
//! (with a notice for each disabled endpoint), and one endpoint's page with its recent
//! deliveries (status, response code, attempts) and its actions: resend a delivery, send a
//! test event, rotate the secret (the new one shown once), disable or enable, remove. Every
//! change goes through `services::webhooks`, which writes the audit log.

use super::orgs::field_error;
use super::view::{Form, Layout, when, when_opt};
use super::{Ctx, done, render};
use crate::error::{Error, Result};
use crate::http::Response;
use crate::services::apps::{self, App};
use crate::services::webhooks::{
    self, AttemptRecord, DeliveryRecord, Endpoint, EndpointPatch, NewEndpoint,
    WebhookEndpointStatus,
};
use askama::Template;

/// One endpoint as the pages list it.
pub struct EndpointRow {
    pub id: String,
    pub url: String,
    pub description: Option<String>,
    /// "every event", or the types.
    pub events: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<String>,
    pub rotation_until: Option<String>,
    pub created_at: String,
}

impl EndpointRow {
    pub fn of(e: &Endpoint, now: chrono::DateTime<chrono::Utc>) -> EndpointRow {
        EndpointRow {
            id: e.id.clone(),
            url: e.url.clone(),
            description: e.description.clone(),
            events: match &e.event_types {
                None => "every event".into(),
                Some(types) => types
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            },
            enabled: e.status == WebhookEndpointStatus::Enabled,
            disabled_reason: e.disabled_reason.clone(),
            disabled_at: e.disabled_at.clone(),
            rotation_until: e
                .previous_secret_expires_at
                .clone()
                .filter(|_| e.in_rotation_window(now)),
            created_at: e.created_at.clone(),
        }
    }
}

/// The event types an operator can tick in the add form.
pub fn event_type_names() -> Vec<&'static str> {
    webhooks::subscribable_types().map(|t| t.as_str()).collect()
}

/// The app page's part: its endpoints, for `apps::show`.
pub fn rows_of_app(ctx: &Ctx, app_id: &str) -> Result<Vec<EndpointRow>> {
    Ok(ctx
        .state
        .db
        .read(|c| webhooks::list_endpoints(c, app_id))?
        .iter()
        .map(|e| EndpointRow::of(e, ctx.now))
        .collect())
}

/// A delivery with its attempts, as the endpoint page shows it.
pub struct DeliveryRow {
    pub delivery: DeliveryRecord,
    pub attempts: Vec<AttemptRecord>,
}

/// A secret just made, shown once on the page that answers the request.
pub struct NewSecret {
    pub secret: String,
    pub rotated: bool,
}

#[derive(Template)]
#[template(path = "dashboard/webhook_endpoint.html")]
struct EndpointPage {
    layout: Layout,
    app: App,
    endpoint: EndpointRow,
    deliveries: Vec<DeliveryRow>,
    new_secret: Option<NewSecret>,
}

impl EndpointPage {
    fn when(&self, at: &str) -> String {
        when(at)
    }
    fn when_opt(&self, at: &Option<String>) -> String {
        when_opt(at)
    }
    /// The badge class of an HTTP status (`s2xx`, `s4xx`, `s5xx`).
    fn status_class(&self, code: &Option<i64>) -> String {
        code.map(|c| format!("s{}xx", c / 100)).unwrap_or_default()
    }
}

fn require(ctx: &Ctx, app_id: &str, endpoint_id: &str) -> Result<(App, Endpoint)> {
    ctx.state
        .db
        .read(|c| {
            let Some(app) = apps::get_app(c, app_id)? else {
                return Ok(None);
            };
            Ok(webhooks::get_endpoint(c, app_id, endpoint_id)?.map(|e| (app, e)))
        })?
        .ok_or_else(|| {
            Error::not_found("This app has no such webhook endpoint (it may have been removed).")
        })
}

fn show_with(
    ctx: &Ctx,
    app_id: &str,
    endpoint_id: &str,
    new_secret: Option<NewSecret>,
) -> Result<Response> {
    let (app, endpoint) = require(ctx, app_id, endpoint_id)?;
    let deliveries = ctx.state.db.read(|c| {
        webhooks::recent_deliveries(c, endpoint_id, webhooks::RECENT_DELIVERIES)?
            .into_iter()
            .map(|delivery| {
                Ok(DeliveryRow {
                    attempts: webhooks::attempts(c, &delivery.id)?,
                    delivery,
                })
            })
            .collect::<Result<Vec<_>>>()
    })?;
    let page = EndpointPage {
        layout: ctx.layout("orgs", format!("Webhook endpoint of {}", app.name)),
        endpoint: EndpointRow::of(&endpoint, ctx.now),
        app,
        deliveries,
        new_secret,
    };
    render(200, &page)
}

pub fn show(ctx: &Ctx, app_id: &str, endpoint_id: &str) -> Result<Response> {
    show_with(ctx, app_id, endpoint_id, None)
}

pub fn add(ctx: &Ctx, app_id: &str) -> Result<Response> {
    let mut form = Form::from_request(ctx.req);
    let ticked: Vec<String> = ctx
        .req
        .form()
        .into_iter()
        .filter(|(name, _)| name == "event_type")
        .map(|(_, value)| value)
        .collect();
    let event_types = if ticked.is_empty() {
        None
    } else {
        match webhooks::parse_event_types(&ticked) {
            Ok(types) => Some(types),
            Err(e) => {
                field_error(&mut form, "webhook_url", e)?;
                return super::apps::show(ctx, app_id, form, None);
            }
        }
    };
    let description = Some(form.trimmed("webhook_description")).filter(|d| !d.is_empty());
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 500)
    {
        form.add_error(
            "webhook_url",
            "The description takes at most 500 characters.",
        );
        return super::apps::show(ctx, app_id, form, None);
    }
    let state = ctx.state;
    match webhooks::create_endpoint(
        &state.db,
        &state.sealer,
        ctx.actor(),
        app_id,
        NewEndpoint {
            url: form.trimmed("webhook_url"),
            description,
            event_types,
        },
        state.config.allow_private_media,
        ctx.now,
    ) {
        Ok((endpoint, secret)) => show_with(
            ctx,
            app_id,
            &endpoint.id,
            Some(NewSecret {
                secret,
                rotated: false,
            }),
        ),
        Err(e) => {
            field_error(&mut form, "webhook_url", e)?;
            super::apps::show(ctx, app_id, form, None)
        }
    }
}

fn set_enabled(ctx: &Ctx, app_id: &str, endpoint_id: &str, enabled: bool) -> Result<Response> {
    require(ctx, app_id, endpoint_id)?;
    let patch = EndpointPatch {
        enabled: Some(enabled),
        ..EndpointPatch::default()
    };
    webhooks::update_endpoint(
        &ctx.state.db,
        ctx.actor(),
        app_id,
        endpoint_id,
        patch,
        ctx.state.config.allow_private_media,
        ctx.now,
    )?;
    done(
        &format!("/dashboard/apps/{app_id}/webhooks/{endpoint_id}"),
        if enabled {
            "webhook-enabled"
        } else {
            "webhook-disabled"
        },
    )
}

pub fn disable(ctx: &Ctx, app_id: &str, endpoint_id: &str) -> Result<Response> {
    set_enabled(ctx, app_id, endpoint_id, false)
}

pub fn enable(ctx: &Ctx, app_id: &str, endpoint_id: &str) -> Result<Response> {
    set_enabled(ctx, app_id, endpoint_id, true)
}

pub fn test(ctx: &Ctx, app_id: &str, endpoint_id: &str) -> Result<Response> {
    webhooks::send_test(&ctx.state.db, ctx.actor(), app_id, endpoint_id, ctx.now)?
        .ok_or_else(|| Error::not_found("This app has no such webhook endpoint."))?;
    ctx.state.webhooks.wake();
    done(
        &format!("/dashboard/apps/{app_id}/webhooks/{endpoint_id}"),
        "webhook-test-queued",
    )
}

pub fn rotate(ctx: &Ctx, app_id: &str, endpoint_id: &str) -> Result<Response> {
    let state = ctx.state;
    let (_, secret) = webhooks::rotate_secret(
        &state.db,
        &state.sealer,
        ctx.actor(),
        app_id,
        endpoint_id,
        state.config.webhook_secret_overlap,
        ctx.now,
    )?
    .ok_or_else(|| Error::not_found("This app has no such webhook endpoint."))?;
    show_with(
        ctx,
        app_id,
        endpoint_id,
        Some(NewSecret {
            secret,
            rotated: true,
        }),
    )
}

pub fn remove(ctx: &Ctx, app_id: &str, endpoint_id: &str) -> Result<Response> {
    if !webhooks::delete_endpoint(&ctx.state.db, ctx.actor(), app_id, endpoint_id, ctx.now)? {
        return Err(Error::not_found("This app has no such webhook endpoint."));
    }
    done(
        &format!("/dashboard/apps/{app_id}#webhooks"),
        "webhook-removed",
    )
}

pub fn resend(ctx: &Ctx, app_id: &str, endpoint_id: &str, delivery_id: &str) -> Result<Response> {
    let belongs = ctx
        .state
        .db
        .read(|c| webhooks::get_delivery(c, delivery_id))?
        .is_some_and(|d| d.endpoint_id == endpoint_id);
    if !belongs {
        return Err(Error::not_found("This endpoint has no such delivery."));
    }
    webhooks::resend(&ctx.state.db, ctx.actor(), app_id, delivery_id, ctx.now)?
        .ok_or_else(|| Error::not_found("This endpoint has no such delivery."))?;
    ctx.state.webhooks.wake();
    done(
        &format!("/dashboard/apps/{app_id}/webhooks/{endpoint_id}"),
        "webhook-resent",
    )
}
