//! `POST /v1/end-users`, `GET /v1/end-users/:externalUserId`, its connections, and disconnect.

use super::input::{Body, MAX_DISPLAY_NAME_CHARS, path_identifier};
use super::{Ctx, wire};
use crate::error::{Error, ErrorKind, Result};
use crate::http::{Request, Response};
use crate::providers::{Platform, parse_platform};
use crate::services::connections;
use crate::services::end_users::{self, EndUserInput};
use serde_json::Value;

pub fn upsert(ctx: &Ctx, req: &Request) -> Result<Response> {
    let body = Body::parse(req.json_value()?)?;
    let input = EndUserInput {
        external_user_id: body.required_identifier("externalUserId")?,
        display_name: body.optional_string("displayName", MAX_DISPLAY_NAME_CHARS)?,
        email: body.optional_email("email")?,
        metadata: body.optional_object("metadata")?,
    };
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
        credentials: &state.credentials,
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
        .filter(|c| c.usability(ctx.now).is_linked())
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
        .map_err(|(code, message)| token_failure(platform, &code, message))?;
    let targets = provider
        .targets(&token, &connection.account())
        .map_err(|e| platform_error(platform, e.message()))?;
    match targets {
        Some(list) => Ok(Response::json(200, &serde_json::to_value(list)?)),
        None => Err(Error::invalid(
            "NO_TARGETS",
            format!(
                "{}; there are no targets to list for {}.",
                provider.where_posts_go(&connection.account()),
                platform.key()
            ),
        )),
    }
}

/// Why no access token could be had for listing targets, as the caller can act on it: a
/// refused token needs a reconnect, missing credentials need configuring, and anything else
/// is the platform failing (`PLATFORM_ERROR`, 503, like a failed listing).
fn token_failure(platform: Platform, code: &str, message: String) -> Error {
    match code {
        "NEEDS_RECONNECT" | "TOKEN_EXPIRED" => Error::invalid("PLATFORM_NEEDS_RECONNECT", message),
        "CREDENTIALS_MISSING" => Error::invalid("PLATFORM_NOT_CONFIGURED", message),
        "INTERNAL_ERROR" => Error::internal(message),
        _ => platform_error(platform, &message),
    }
}

fn platform_error(platform: Platform, message: &str) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        "PLATFORM_ERROR",
        format!(
            "{} did not list the targets: {message}",
            platform.display_name()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::status_for;

    #[test]
    fn token_failures_answer_what_the_caller_can_act_on() {
        let answer = |code: &str| {
            let e = token_failure(Platform::Pinterest, code, "why".into());
            (e.code, status_for(e.kind))
        };
        assert_eq!(answer("NEEDS_RECONNECT"), ("PLATFORM_NEEDS_RECONNECT", 400));
        assert_eq!(answer("TOKEN_EXPIRED"), ("PLATFORM_NEEDS_RECONNECT", 400));
        assert_eq!(
            answer("CREDENTIALS_MISSING"),
            ("PLATFORM_NOT_CONFIGURED", 400)
        );
        assert_eq!(answer("INTERNAL_ERROR"), ("INTERNAL_ERROR", 500));
        // A platform that is down or throttling while the token is refreshed is the same
        // failure as one that cannot list the targets: 503, retry later.
        assert_eq!(answer("PLATFORM_UNAVAILABLE"), ("PLATFORM_ERROR", 503));
        assert_eq!(answer("PLATFORM_UNREACHABLE"), ("PLATFORM_ERROR", 503));
        assert_eq!(answer("RATE_LIMITED"), ("PLATFORM_ERROR", 503));
    }
}
