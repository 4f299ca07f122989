//! `POST /v1/connect-sessions` and `GET /v1/connect-sessions/:id`.

use super::input::{Body, MAX_DISPLAY_NAME_CHARS, path_identifier};
use super::{Ctx, wire};
use crate::error::{Code, Error, Result};
use crate::http::{Request, Response};
use crate::providers::parse_platform;
use crate::services::connect_sessions::{self, NewSession};
use crate::services::{apps, end_users};

fn connect_url(ctx: &Ctx, id: &str) -> String {
    connect_sessions::connect_url(&ctx.state.config.public_url, id)
}

pub fn create(ctx: &Ctx, req: &Request) -> Result<Response> {
    let body = Body::parse(req.json_value()?)?;
    let external_user_id = body.required_identifier("externalUserId")?;
    let platform_key = body.required_string("platform", 32)?;
    let redirect_uri = body.required_string("redirectUri", 2000)?;
    let display_name = body
        .optional_string("displayName", MAX_DISPLAY_NAME_CHARS)?
        .into_option();
    let email = body.optional_email("email")?.into_option();
    let metadata = body.optional_object("metadata")?.into_option();
    let platform = parse_platform(&platform_key).map_err(Error::validation)?;
    let supported_platforms = ctx.state.providers.supported();
    if !supported_platforms.contains(&platform) {
        let supported: Vec<&str> = supported_platforms.iter().map(|p| p.key()).collect();
        return Err(Error::new(
            Code::PlatformNotSupported,
            format!(
                "Connecting {} is not available in this version yet; available now: {}.",
                platform.key(),
                supported.join(", ")
            ),
        ));
    }
    let state = ctx.state;
    let app_id = &ctx.caller.app_id;
    let id = state.db.write(|tx| {
        let user = end_users::require(tx, app_id, &external_user_id)?;
        if !apps::is_redirect_allowed(tx, app_id, &redirect_uri)? {
            return Err(Error::new(
                Code::RedirectUriNotAllowed,
                format!("redirectUri {redirect_uri:?} is not on this app's allowlist. Add it in the dashboard exactly as sent (scheme, host, port, path and query must match character for character)."),
            ));
        }
        let Some((_, source)) = apps::resolve_credentials(tx, &state.sealer, &state.config.managed_credentials, app_id, platform)? else {
            return Err(Error::new(
                Code::PlatformNotConfigured,
                format!(
                    "No {} credentials are configured for this app. Add your own client id and secret in the dashboard (register the callback URL {} at {}), or ask the operator to enable managed credentials.",
                    platform.key(),
                    state.config.callback_url(platform),
                    platform.display_name()
                ),
            ));
        };
        let new = NewSession {
            app_id,
            end_user_id: &user.id,
            platform,
            redirect_uri: &redirect_uri,
            display_name: display_name.as_deref(),
            email: email.as_deref(),
            metadata: metadata.as_ref(),
            credential_source: source,
            ttl: state.config.connect_session_ttl,
        };
        connect_sessions::create(tx, &new, ctx.now)
    })?;
    let session = state
        .db
        .read(|c| connect_sessions::get(c, app_id, &id))?
        .ok_or_else(|| Error::internal("created session vanished"))?;
    Ok(Response::json(
        201,
        &wire::connect_session(&session, &connect_url(ctx, &id), ctx.now),
    ))
}

pub fn get(ctx: &Ctx, id: &str) -> Result<Response> {
    let id = path_identifier("id", id)?;
    let session = ctx
        .state
        .db
        .read(|c| connect_sessions::get(c, &ctx.caller.app_id, &id))?
        .ok_or_else(|| Error::not_found(format!("Connect session {id} does not exist.")))?;
    Ok(Response::json(
        200,
        &wire::connect_session(&session, &connect_url(ctx, &id), ctx.now),
    ))
}
