//! `POST /v1/end-users`, `GET /v1/end-users/:externalUserId`, its connections, and disconnect.

use super::input::{Body, MAX_IDENTIFIER_CHARS, path_identifier};
use super::{Ctx, wire};
use crate::error::{Error, Result};
use crate::http::{Request, Response};
use crate::providers::parse_platform;
use crate::services::end_users::{self, EndUserInput};
use crate::services::{Patch, connections};
use serde_json::Value;

pub fn upsert(ctx: &Ctx, req: &Request) -> Result<Response> {
    let body = Body::parse(req.json_value()?)?;
    let input = EndUserInput {
        external_user_id: body.required_string("externalUserId", MAX_IDENTIFIER_CHARS)?,
        display_name: body.optional_string("displayName", 255)?,
        email: body.optional_string("email", 320)?,
        metadata: body.optional_object("metadata")?,
    };
    if let Patch::Set(email) = &input.email
        && !email.contains('@')
    {
        return Err(Error::validation(
            "email must be an email address such as alex@example.com.",
        ));
    }
    let user = end_users::upsert(&ctx.state.db, &ctx.caller.app_id, input, ctx.now)?;
    Ok(Response::json(201, &wire::end_user(&user)))
}

pub fn get(ctx: &Ctx, external_user_id: &str) -> Result<Response> {
    let external_user_id = path_identifier("externalUserId", external_user_id)?;
    let body = ctx.state.db.read(|conn| {
        let user = end_users::require(conn, &ctx.caller.app_id, &external_user_id)?;
        let summary = end_users::connection_summary(conn, &user.id)?;
        Ok(wire::end_user_with_summary(&user, summary))
    })?;
    Ok(Response::json(200, &body))
}

pub fn list_connections(ctx: &Ctx, external_user_id: &str) -> Result<Response> {
    let external_user_id = path_identifier("externalUserId", external_user_id)?;
    let list = ctx.state.db.read(|conn| {
        let user = end_users::require(conn, &ctx.caller.app_id, &external_user_id)?;
        connections::list_for_end_user(conn, &ctx.caller.app_id, &user.id)
    })?;
    Ok(Response::json(
        200,
        &Value::Array(list.iter().map(|c| wire::connection(c, ctx.now)).collect()),
    ))
}

/// Revokes at the platform where it can, then forgets the tokens (`connections::disconnect_revoking`,
/// shared with the dashboard). Repeating it is harmless.
pub fn disconnect(ctx: &Ctx, external_user_id: &str, platform_key: &str) -> Result<Response> {
    let external_user_id = path_identifier("externalUserId", external_user_id)?;
    let platform = parse_platform(platform_key).map_err(Error::validation)?;
    let state = ctx.state;
    let app_id = &ctx.caller.app_id;
    let user = state
        .db
        .read(|conn| end_users::require(conn, app_id, &external_user_id))?;
    let revoke = connections::RevokeContext {
        db: &state.db,
        sealer: &state.sealer,
        managed: &state.config.managed_credentials,
        providers: &state.providers,
    };
    let actor = format!("api key {}", ctx.caller.key_prefix);
    match connections::disconnect_revoking(&revoke, &actor, app_id, &user.id, platform, ctx.now)? {
        Some(()) => Ok(Response::no_content()),
        None => Err(Error::not_found(format!(
            "{external_user_id:?} has no {} connection.",
            platform.key()
        ))),
    }
}

/// `GET /v1/end-users/:externalUserId/connections/:platform/targets`: the places the account
/// can publish to (a Facebook user's Pages, a Pinterest account's boards), as
/// `[{"id","name","type"}]`, for choosing `platformOptions`.
pub fn list_targets(ctx: &Ctx, external_user_id: &str, platform_key: &str) -> Result<Response> {
    let external_user_id = path_identifier("externalUserId", external_user_id)?;
    let platform = parse_platform(platform_key).map_err(Error::validation)?;
    let state = ctx.state;
    let app_id = &ctx.caller.app_id;
    let connection = state
        .db
        .read(|conn| {
            let user = end_users::require(conn, app_id, &external_user_id)?;
            connections::find(conn, app_id, &user.id, platform)
        })?
        .filter(|c| c.status == "connected" && !c.needs_reconnect)
        .ok_or_else(|| {
            Error::invalid(
                "PLATFORM_NOT_CONNECTED",
                format!("Connect {} before listing its targets.", platform.key()),
            )
        })?;
    let provider = state.providers.get(platform).ok_or_else(|| {
        Error::invalid(
            "PLATFORM_NOT_SUPPORTED",
            format!("{} is not available in this version yet.", platform.key()),
        )
    })?;
    let token = state
        .engine
        .access_token_for(&connection)
        .map_err(|(code, message)| {
            Error::invalid(
                if code == "NEEDS_RECONNECT" || code == "TOKEN_EXPIRED" {
                    "PLATFORM_NEEDS_RECONNECT"
                } else {
                    "PLATFORM_ERROR"
                },
                message,
            )
        })?;
    let targets = provider
        .targets(&token, &connection.account())
        .map_err(|e| {
            Error::new(
                crate::error::ErrorKind::Unavailable,
                "PLATFORM_ERROR",
                format!(
                    "{} did not list the targets: {}",
                    platform.display_name(),
                    e.message()
                ),
            )
        })?;
    match targets {
        Some(list) => Ok(Response::json(200, &serde_json::to_value(list)?)),
        None => Err(Error::invalid(
            "NO_TARGETS",
            format!(
                "{} posts go to the connected account itself; there are no targets to choose.",
                platform.display_name()
            ),
        )),
    }
}
