//! One app: its usage, API keys (create shown once, revoke), redirect allowlist (add, remove),
//! provider credentials per platform (set or replace; the secret is never shown back), its own
//! rate limits (or the instance's), its webhook endpoints (listed here, managed in `webhooks`),
//! rename and delete with a confirmation step.

use super::orgs::{ConfirmDelete, field_error};
use super::view::{Form, Layout, when, when_opt};
use super::{Ctx, done, render};
use crate::config::{ApiHost, ClientCredentials};
use crate::error::{Error, Result};
use crate::http::Response;
use crate::providers::{Platform, parse_platform};
use crate::services::Patch;
use crate::services::apps::{self, App, Organization};
use crate::services::keys::{self, ApiKey};
use crate::services::rate_limits::{self, AppRateLimits, LimitField, LimitsChange};
use crate::services::reports;
use askama::Template;

pub struct PlatformRow {
    pub key: &'static str,
    pub name: &'static str,
    pub client_id: Option<String>,
    pub updated_at: Option<String>,
    pub managed: bool,
    pub supported: bool,
    pub callback_url: String,
    /// The API host the app's own client calls (`production` or `sandbox`).
    pub api_host: &'static str,
    /// Whether the platform has a sandbox API host to choose (Pinterest).
    pub has_sandbox_host: bool,
}

/// One budget as the app page shows it: what applies, and whether the app set it.
pub struct BudgetRow {
    pub name: &'static str,
    pub endpoints: &'static str,
    pub per_minute: u32,
    pub burst: u32,
    pub own: bool,
}

/// A field of the limits form: its name, label and the instance's value it falls back to.
pub struct LimitInput {
    pub name: &'static str,
    pub label: &'static str,
    pub instance: u32,
}

/// The key just created, shown once on the page that answers the create request.
pub struct NewKey {
    pub name: String,
    pub secret: String,
}

#[derive(Template)]
#[template(path = "dashboard/app.html")]
struct AppPage {
    layout: Layout,
    app: App,
    org: Organization,
    keys: Vec<ApiKey>,
    redirects: Vec<String>,
    platforms: Vec<PlatformRow>,
    requests: i64,
    posts: i64,
    budgets: Vec<BudgetRow>,
    limit_inputs: Vec<LimitInput>,
    form: Form,
    new_key: Option<NewKey>,
    webhooks: Vec<super::webhooks::EndpointRow>,
    event_types: Vec<&'static str>,
}

impl AppPage {
    fn when(&self, at: &str) -> String {
        when(at)
    }
    fn when_opt(&self, at: &Option<String>) -> String {
        when_opt(at)
    }
}

fn require_app(ctx: &Ctx, id: &str) -> Result<(App, Organization)> {
    ctx.state
        .db
        .read(|c| {
            let Some(app) = apps::get_app(c, id)? else {
                return Ok(None);
            };
            Ok(apps::get_organization(c, &app.org_id)?.map(|org| (app, org)))
        })?
        .ok_or_else(|| Error::not_found("This app does not exist (it may have been deleted)."))
}

fn platform_rows(ctx: &Ctx, app_id: &str) -> Result<Vec<PlatformRow>> {
    let own = ctx
        .state
        .db
        .read(|c| apps::credential_summaries(c, app_id))?;
    Ok(Platform::ALL
        .iter()
        .map(|p| {
            let found = own.iter().find(|c| c.platform == p.key());
            PlatformRow {
                key: p.key(),
                name: p.display_name(),
                client_id: found.map(|c| c.client_id.clone()),
                updated_at: found.map(|c| c.updated_at.clone()),
                api_host: found.map(|c| c.api_host).unwrap_or_default().as_str(),
                has_sandbox_host: p.spec().hosts.sandbox_api_base.is_some(),
                managed: ctx.state.config.managed_credentials.contains_key(p),
                supported: ctx.state.providers.get(*p).is_some(),
                callback_url: ctx.state.config.callback_url(*p),
            }
        })
        .collect())
}

fn budget_rows(ctx: &Ctx, limits: &AppRateLimits) -> Vec<BudgetRow> {
    let config = &ctx.state.config;
    let (general, publishing) = (limits.general(config), limits.publishing(config));
    vec![
        BudgetRow {
            name: "General",
            endpoints: "every /v1 request but the two below",
            per_minute: general.per_minute,
            burst: general.burst,
            own: limits.requests_per_minute.is_some() || limits.burst.is_some(),
        },
        BudgetRow {
            name: "Publishing",
            endpoints: "POST /v1/posts and POST /v1/posts/scheduled",
            per_minute: publishing.per_minute,
            burst: publishing.burst,
            own: limits.publish_requests_per_minute.is_some() || limits.publish_burst.is_some(),
        },
    ]
}

fn limit_inputs(ctx: &Ctx) -> Vec<LimitInput> {
    let config = &ctx.state.config;
    let input = |field: LimitField, label, instance| LimitInput {
        name: field.name(),
        label,
        instance,
    };
    vec![
        input(
            LimitField::RequestsPerMinute,
            "General: requests a minute",
            config.rate_limit_per_minute,
        ),
        input(LimitField::Burst, "General: burst", config.rate_limit_burst),
        input(
            LimitField::PublishRequestsPerMinute,
            "Publishing: requests a minute",
            config.publish_rate_limit_per_minute,
        ),
        input(
            LimitField::PublishBurst,
            "Publishing: burst",
            config.publish_rate_limit_burst,
        ),
    ]
}

pub fn show(ctx: &Ctx, id: &str, mut form: Form, new_key: Option<NewKey>) -> Result<Response> {
    let (app, org) = require_app(ctx, id)?;
    let keys = keys::list(&ctx.state.db, id)?;
    let (redirects, (requests, posts), limits) = ctx.state.db.read(|c| {
        Ok((
            apps::redirect_uris(c, id)?,
            reports::app_usage(c, id)?,
            rate_limits::get(c, id)?,
        ))
    })?;
    if form.value("app_name").is_empty() {
        form.set("app_name", &app.name);
    }
    // The app's own numbers fill the limits form, unless that form comes back with an error
    // (then it shows what was sent).
    let limit_values = [
        (LimitField::RequestsPerMinute, limits.requests_per_minute),
        (LimitField::Burst, limits.burst),
        (
            LimitField::PublishRequestsPerMinute,
            limits.publish_requests_per_minute,
        ),
        (LimitField::PublishBurst, limits.publish_burst),
    ];
    if !limit_values
        .iter()
        .any(|(field, _)| form.error(field.name()).is_some())
    {
        for (field, value) in limit_values {
            form.set(
                field.name(),
                &value.map(|n| n.to_string()).unwrap_or_default(),
            );
        }
    }
    let status = if form.has_errors() { 400 } else { 200 };
    let page = AppPage {
        layout: ctx.layout("orgs", format!("App {}", app.name)),
        platforms: platform_rows(ctx, id)?,
        app,
        org,
        keys,
        redirects,
        requests,
        posts,
        budgets: budget_rows(ctx, &limits),
        limit_inputs: limit_inputs(ctx),
        form,
        new_key,
        webhooks: super::webhooks::rows_of_app(ctx, id)?,
        event_types: super::webhooks::event_type_names(),
    };
    render(status, &page)
}

/// Saves the app's own rate limits: each field a whole number, or empty for the instance's
/// setting. They apply from the app's next request.
pub fn save_limits(ctx: &Ctx, id: &str) -> Result<Response> {
    require_app(ctx, id)?;
    let mut form = Form::from_request(ctx.req);
    let mut read = |field: LimitField| -> Patch<u32> {
        let text = form.trimmed(field.name());
        if text.is_empty() {
            return Patch::Clear;
        }
        match text.parse::<u32>() {
            Ok(n) => Patch::Set(n),
            Err(_) => {
                form.add_error(
                    field.name(),
                    "Enter a whole number, or leave the field empty for the instance's setting.",
                );
                Patch::Keep
            }
        }
    };
    let change = LimitsChange {
        requests_per_minute: read(LimitField::RequestsPerMinute),
        burst: read(LimitField::Burst),
        publish_requests_per_minute: read(LimitField::PublishRequestsPerMinute),
        publish_burst: read(LimitField::PublishBurst),
    };
    if let Err(errors) = rate_limits::check(&change) {
        for (field, error) in errors {
            form.add_error(field.name(), error.message);
        }
    }
    if form.has_errors() {
        return show(ctx, id, form, None);
    }
    rate_limits::set(&ctx.state.db, ctx.actor(), id, &change, ctx.now)?;
    done(&format!("/dashboard/apps/{id}#limits"), "limits-saved")
}

pub fn rename(ctx: &Ctx, id: &str) -> Result<Response> {
    let mut form = Form::from_request(ctx.req);
    match apps::rename_app(
        &ctx.state.db,
        ctx.actor(),
        id,
        &form.trimmed("app_name"),
        ctx.now,
    ) {
        Ok(()) => done(&format!("/dashboard/apps/{id}"), "app-renamed"),
        Err(e) => {
            field_error(&mut form, "app_name", e)?;
            show(ctx, id, form, None)
        }
    }
}

pub fn confirm_delete(ctx: &Ctx, id: &str) -> Result<Response> {
    let (app, _) = require_app(ctx, id)?;
    render(
        200,
        &ConfirmDelete {
            layout: ctx.layout("orgs", format!("Delete app {}?", app.name)),
            what: "app",
            name: app.name,
            consequences: "This revokes all its API keys at once and deletes its allowlist, credentials, end users, connections and posts. The organization's credit ledger keeps its rows. It cannot be undone.".into(),
            action: format!("/dashboard/apps/{id}/delete"),
            cancel: format!("/dashboard/apps/{id}"),
        },
    )
}

pub fn delete(ctx: &Ctx, id: &str) -> Result<Response> {
    let (app, _) = require_app(ctx, id)?;
    apps::delete_app(&ctx.state.db, ctx.actor(), id, ctx.now)?;
    done(&format!("/dashboard/orgs/{}", app.org_id), "app-deleted")
}

pub fn create_key(ctx: &Ctx, id: &str) -> Result<Response> {
    let mut form = Form::from_request(ctx.req);
    match keys::create(
        &ctx.state.db,
        ctx.actor(),
        id,
        &form.trimmed("key_name"),
        ctx.now,
    ) {
        Ok((key, secret)) => {
            form.forget("key_name");
            show(
                ctx,
                id,
                form,
                Some(NewKey {
                    name: key.name,
                    secret,
                }),
            )
        }
        Err(e) => {
            field_error(&mut form, "key_name", e)?;
            show(ctx, id, form, None)
        }
    }
}

pub fn revoke_key(ctx: &Ctx, id: &str, key_id: &str) -> Result<Response> {
    let belongs = keys::list(&ctx.state.db, id)?
        .iter()
        .any(|k| k.id == key_id);
    if !belongs {
        return Err(Error::not_found("This app has no such API key."));
    }
    keys::revoke(&ctx.state.db, ctx.actor(), key_id, ctx.now)?;
    done(&format!("/dashboard/apps/{id}"), "key-revoked")
}

pub fn add_redirect(ctx: &Ctx, id: &str) -> Result<Response> {
    let mut form = Form::from_request(ctx.req);
    match apps::add_redirect_uri(
        &ctx.state.db,
        ctx.actor(),
        id,
        &form.trimmed("redirect_uri"),
        ctx.now,
    ) {
        Ok(()) => done(&format!("/dashboard/apps/{id}#allowlist"), "redirect-added"),
        Err(e) => {
            field_error(&mut form, "redirect_uri", e)?;
            show(ctx, id, form, None)
        }
    }
}

pub fn remove_redirect(ctx: &Ctx, id: &str) -> Result<Response> {
    let form = Form::from_request(ctx.req);
    apps::remove_redirect_uri(&ctx.state.db, ctx.actor(), id, form.value("uri"), ctx.now)?;
    done(
        &format!("/dashboard/apps/{id}#allowlist"),
        "redirect-removed",
    )
}

#[derive(Template)]
#[template(path = "dashboard/credentials.html")]
struct CredentialsPage {
    layout: Layout,
    app: App,
    row: PlatformRow,
    form: Form,
}

fn platform_of(key: &str) -> Result<Platform> {
    parse_platform(key).map_err(Error::not_found)
}

pub fn credentials_form(ctx: &Ctx, id: &str, platform: &str, mut form: Form) -> Result<Response> {
    let platform = platform_of(platform)?;
    let (app, _) = require_app(ctx, id)?;
    let row = platform_rows(ctx, id)?
        .into_iter()
        .find(|r| r.key == platform.key())
        .ok_or_else(|| Error::internal("platform row missing"))?;
    if form.value("client_id").is_empty()
        && let Some(client_id) = &row.client_id
    {
        form.set("client_id", client_id);
    }
    if form.value("api_host").is_empty() {
        form.set("api_host", row.api_host);
    }
    form.forget("client_secret");
    let status = if form.has_errors() { 400 } else { 200 };
    let page = CredentialsPage {
        layout: ctx.layout(
            "orgs",
            format!("{} credentials of {}", platform.display_name(), app.name),
        ),
        app,
        row,
        form,
    };
    render(status, &page)
}

pub fn save_credentials(ctx: &Ctx, id: &str, platform_key: &str) -> Result<Response> {
    let platform = platform_of(platform_key)?;
    let mut form = Form::from_request(ctx.req);
    let client_id = form.trimmed("client_id");
    let mut secret = form.value("client_secret").trim().to_string();
    if client_id.is_empty() {
        form.add_error(
            "client_id",
            "Enter the client id the platform gave your app.",
        );
    }
    if secret.is_empty() {
        // Leaving the secret empty keeps the stored one, so the client id can change alone.
        let current = ctx
            .state
            .db
            .read(|c| apps::app_credentials(c, &ctx.state.sealer, id, platform))?;
        match current {
            Some(current) => secret = current.client_secret,
            None => form.add_error(
                "client_secret",
                "Enter the client secret (it is stored encrypted and never shown again).",
            ),
        }
    }
    // Only platforms with a sandbox host show the choice; the others always call production.
    let api_host = match form.value("api_host").trim() {
        "" => ApiHost::Production,
        text => ApiHost::parse(text).unwrap_or_else(|| {
            form.add_error("api_host", "Choose production or sandbox.");
            ApiHost::Production
        }),
    };
    if !form.has_errors() {
        let credentials = ClientCredentials {
            client_id,
            client_secret: secret,
            api_host,
        };
        match apps::set_credentials(
            &ctx.state.db,
            &ctx.state.sealer,
            ctx.actor(),
            id,
            platform,
            &credentials,
            ctx.now,
        ) {
            Ok(()) => {
                return done(
                    &format!("/dashboard/apps/{id}#credentials"),
                    "credentials-saved",
                );
            }
            Err(e) => {
                let field = if e.message.contains("secret") {
                    "client_secret"
                } else if e.message.contains("sandbox") {
                    "api_host"
                } else {
                    "client_id"
                };
                field_error(&mut form, field, e)?;
            }
        }
    }
    credentials_form(ctx, id, platform_key, form)
}
