//! End users and their connections: search by externalUserId (optionally within one app),
//! one user's connections with token status and last error, and disconnect (the same service
//! function as the API's DELETE).

use super::view::{self, Layout, PAGE_SIZE, Pager, param, when};
use super::{Ctx, done, render};
use crate::error::{Error, Result};
use crate::http::Response;
use crate::providers::parse_platform;
use crate::services::connections::{self, ConnectionStatus, SocialConnection, TokenStatus};
use crate::services::end_users::{self, EndUser};
use crate::services::reports::{self, AppSummary, EndUserRow};
use askama::Template;

#[derive(Template)]
#[template(path = "dashboard/end_users.html")]
struct SearchPage {
    layout: Layout,
    apps: Vec<AppSummary>,
    app: String,
    q: String,
    rows: Vec<EndUserRow>,
    pager: Pager,
}

impl SearchPage {
    fn when(&self, at: &str) -> String {
        when(at)
    }
}

pub fn search(ctx: &Ctx) -> Result<Response> {
    let app = param(ctx.req, "app");
    let q = param(ctx.req, "q").unwrap_or_default();
    let (apps, page) = ctx.state.db.read(|c| {
        Ok((
            reports::apps(c, None)?,
            reports::end_users(c, app.as_deref(), &q, view::offset(ctx.req), PAGE_SIZE)?,
        ))
    })?;
    render(
        200,
        &SearchPage {
            layout: ctx.layout("end-users", "End users"),
            apps,
            app: app.unwrap_or_default(),
            q,
            pager: Pager::new(ctx.req, page.more),
            rows: page.rows,
        },
    )
}

pub struct ConnectionView {
    pub platform: &'static str,
    pub platform_name: &'static str,
    pub status: ConnectionStatus,
    pub token_status: TokenStatus,
    pub account: String,
    pub last_error: Option<String>,
    pub updated_at: String,
    pub connected: bool,
}

#[derive(Template)]
#[template(path = "dashboard/end_user.html")]
struct UserPage {
    layout: Layout,
    user: EndUser,
    app_name: String,
    connections: Vec<ConnectionView>,
}

impl UserPage {
    fn when(&self, at: &str) -> String {
        when(at)
    }
}

fn view_of(c: &SocialConnection, now: chrono::DateTime<chrono::Utc>) -> ConnectionView {
    ConnectionView {
        platform: c.platform.key(),
        platform_name: c.platform.display_name(),
        status: c.status,
        token_status: c.token_status(now),
        account: c
            .remote_username
            .clone()
            .or_else(|| c.remote_account_id.clone())
            .unwrap_or_default(),
        last_error: match (&c.last_error_code, &c.last_error_message) {
            (Some(code), Some(message)) => Some(format!("{code}: {message}")),
            (code, message) => code.clone().or_else(|| message.clone()),
        },
        updated_at: c.updated_at.clone(),
        connected: c.status != ConnectionStatus::Disconnected,
    }
}

pub fn show(ctx: &Ctx, id: &str) -> Result<Response> {
    let found = ctx.state.db.read(|c| {
        let Some(user) = end_users::get_by_id(c, id)? else {
            return Ok(None);
        };
        let app = crate::services::apps::get_app(c, &user.app_id)?;
        let list = connections::list_for_end_user(c, &user.app_id, &user.id)?;
        Ok(Some((user, app, list)))
    })?;
    let Some((user, app, list)) = found else {
        return Err(Error::not_found("This end user does not exist."));
    };
    render(
        200,
        &UserPage {
            layout: ctx.layout("end-users", format!("End user {}", user.external_user_id)),
            app_name: app.map(|a| a.name).unwrap_or_default(),
            connections: list.iter().map(|c| view_of(c, ctx.now)).collect(),
            user,
        },
    )
}

pub fn disconnect(ctx: &Ctx, id: &str, platform: &str) -> Result<Response> {
    let platform = parse_platform(platform).map_err(Error::validation)?;
    let user = ctx
        .state
        .db
        .read(|c| end_users::get_by_id(c, id))?
        .ok_or_else(|| Error::not_found("This end user does not exist."))?;
    let revoke = connections::RevokeContext {
        db: &ctx.state.db,
        sealer: &ctx.state.sealer,
        credentials: &ctx.state.credentials,
        providers: &ctx.state.providers,
    };
    connections::disconnect_revoking(
        &revoke,
        ctx.actor(),
        &user.app_id,
        &user.id,
        platform,
        ctx.now,
    )?
    .ok_or_else(|| {
        Error::not_found(format!(
            "This end user has no {} connection.",
            platform.key()
        ))
    })?;
    done(&format!("/dashboard/end-users/{id}"), "disconnected")
}
