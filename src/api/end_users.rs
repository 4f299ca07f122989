//! `POST /v1/end-users`, `GET /v1/end-users/:externalUserId`, its connections, and disconnect.

use super::input::{Body, MAX_DISPLAY_NAME_CHARS, path_identifier};
use super::{Ctx, wire};
use crate::error::{Code, Error, Result};
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
            Error::new(
                Code::PlatformNotConnected,
                format!("Connect {} before listing its targets.", platform.key()),
            )
        })?;
    state.providers.get(platform).ok_or_else(|| {
        Error::new(
            Code::PlatformNotSupported,
            format!("{} is not available in this version yet.", platform.key()),
        )
    })?;
    // Boards on Pinterest's sandbox host are not those of production: list where the
    // connection's credentials publish.
    let provider = state
        .credentials
        .for_connection(&connection)?
        .and_then(|credentials| state.providers.for_credentials(platform, &credentials))
        .or_else(|| state.providers.get(platform))
        .ok_or_else(|| Error::internal("the platform's adapter is missing"))?;
    let token = state
        .engine
        .access_token_for(&connection)
        .map_err(|e| token_failure(platform, e))?;
    let credentials = state
        .credentials
        .for_connection(&connection)?
        .ok_or_else(|| {
            Error::new(
                Code::PlatformNotConfigured,
                format!(
                    "The credentials {} was connected with are no longer configured.",
                    platform.key()
                ),
            )
        })?;
    let platform_data = connection.platform_data(&state.sealer);
    let targets = provider
        .targets(&crate::providers::AccountCall {
            access_token: &token,
            credentials: &credentials,
            platform_data: platform_data.as_ref(),
            account: &connection.account(),
        })
        .map_err(|e| platform_error(platform, e.message()))?;
    match targets {
        Some(list) => Ok(Response::json(200, &serde_json::to_value(list)?)),
        None => Err(Error::new(
            Code::NoTargets,
            format!(
                "{}; there are no targets to list for {}.",
                provider.where_posts_go(&connection.account()),
                platform.key()
            ),
        )),
    }
}

/// Why no access token could be had for listing targets (the engine answers with the code a
/// delivery would record), as the caller can act on it: a refused token needs a reconnect,
/// missing credentials need configuring, a fault of ours stays one, and anything else is the
/// platform failing (`PLATFORM_ERROR`, 503, like a failed listing).
fn token_failure(platform: Platform, error: Error) -> Error {
    match error.code {
        Code::NeedsReconnect | Code::TokenExpired => {
            Error::new(Code::PlatformNeedsReconnect, error.message)
        }
        Code::CredentialsMissing => Error::new(Code::PlatformNotConfigured, error.message),
        Code::InternalError | Code::DatabaseUnavailable => error,
        _ => platform_error(platform, &error.message),
    }
}

fn platform_error(platform: Platform, message: &str) -> Error {
    Error::new(
        Code::PlatformError,
        format!(
            "{} did not list the targets: {message}",
            platform.display_name()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_failures_answer_what_the_caller_can_act_on() {
        let answer = |code: Code| {
            let e = token_failure(Platform::Pinterest, Error::new(code, "why"));
            (e.code.as_str(), e.status())
        };
        assert_eq!(
            answer(Code::NeedsReconnect),
            ("PLATFORM_NEEDS_RECONNECT", 400)
        );
        assert_eq!(
            answer(Code::TokenExpired),
            ("PLATFORM_NEEDS_RECONNECT", 400)
        );
        assert_eq!(
            answer(Code::CredentialsMissing),
            ("PLATFORM_NOT_CONFIGURED", 400)
        );
        assert_eq!(answer(Code::InternalError), ("INTERNAL_ERROR", 500));
        // A platform that is down or throttling while the token is refreshed is the same
        // failure as one that cannot list the targets: 503, retry later.
        assert_eq!(answer(Code::PlatformUnavailable), ("PLATFORM_ERROR", 503));
        assert_eq!(answer(Code::PlatformUnreachable), ("PLATFORM_ERROR", 503));
        assert_eq!(answer(Code::RateLimited), ("PLATFORM_ERROR", 503));
    }
}
