//! The hosted connect flow the end user's browser walks through: the page that names the app
//! and the platform, the redirect to the platform's authorize URL with a single-use state bound
//! to the session (and PKCE where the platform supports it), and the OAuth callback that
//! exchanges the code, stores the connection and sends the browser back to the customer's
//! `redirectUri` with only the safe fields of the spec.

use crate::app::AppState;
use crate::crypto::{pkce_challenge, random_token, sha256_hex};
use crate::error::{Code, Error};
use crate::http::{Request, Response, append_query};
use crate::providers::{AuthorizeRequest, Platform};
use crate::services::connect_sessions::{self, ConnectSession, ConnectSessionStatus, StateClaim};
use crate::services::{apps, connections, parse_ts};
use crate::web::message_page;
use askama::Template;

#[derive(Template)]
#[template(path = "connect/start.html")]
struct StartPage<'a> {
    app_name: &'a str,
    platform_name: &'a str,
    session_id: &'a str,
    expires_at: &'a str,
}

pub fn handle(state: &AppState, req: &Request) -> Response {
    if let Some(segments) = req.segments_after("/connect") {
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        return match (req.method.as_str(), segments.as_slice()) {
            ("GET", [id]) => show_start_page(state, id),
            ("POST", [id]) => redirect_to_platform(state, id),
            _ => message_page(
                404,
                "error",
                "Page not found",
                "This connect address is not valid.",
            ),
        };
    }
    if let Some(segments) = req.segments_after("/oauth/callback") {
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        return match (req.method.as_str(), segments.as_slice()) {
            ("GET", [platform]) => callback(state, req, platform),
            _ => message_page(
                404,
                "error",
                "Page not found",
                "This callback address is not valid.",
            ),
        };
    }
    message_page(404, "error", "Page not found", "This address is not valid.")
}

fn internal_error_page(e: &Error) -> Response {
    httpkit::log_error!("connect flow: {e}");
    message_page(
        500,
        "error",
        "Something went wrong",
        "The connection could not be started. Please try again in a moment.",
    )
}

/// The page for a session that is no longer open; never starts OAuth again.
fn closed_session_page(session: &ConnectSession, status: ConnectSessionStatus) -> Response {
    let platform = session.platform.display_name();
    match status {
        ConnectSessionStatus::Connected => message_page(
            409,
            "ok",
            "Already connected",
            &format!(
                "Your {platform} account is already connected through this link. You can close this window."
            ),
        ),
        ConnectSessionStatus::Expired => message_page(
            410,
            "error",
            "This link has expired",
            "Connect links are valid for 15 minutes. Go back to the app and start connecting again.",
        ),
        _ => message_page(
            410,
            "error",
            "This link can no longer be used",
            &format!(
                "Connecting {platform} through this link did not complete. Go back to the app and start again."
            ),
        ),
    }
}

fn load_open_session(state: &AppState, id: &str) -> Result<ConnectSession, Response> {
    let session = state
        .db
        .read(|c| connect_sessions::get_public(c, id))
        .map_err(|e| internal_error_page(&e))?;
    let Some(session) = session else {
        return Err(message_page(
            404,
            "error",
            "Link not found",
            "This connect link is not valid. Go back to the app and start again.",
        ));
    };
    let status = session.effective_status(state.clock.now());
    if !status.is_open() {
        return Err(closed_session_page(&session, status));
    }
    Ok(session)
}

fn show_start_page(state: &AppState, id: &str) -> Response {
    let session = match load_open_session(state, id) {
        Ok(s) => s,
        Err(page) => return page,
    };
    let app_name = state
        .db
        .read(|c| apps::get_app(c, &session.app_id))
        .ok()
        .flatten()
        .map(|a| a.name)
        .unwrap_or_else(|| "This app".into());
    let page = StartPage {
        app_name: &app_name,
        platform_name: session.platform.display_name(),
        session_id: &session.id,
        expires_at: &session.expires_at,
    };
    match page.render() {
        Ok(html) => Response::html(200, html),
        Err(e) => internal_error_page(&Error::internal(e.to_string())),
    }
}

fn redirect_to_platform(state: &AppState, id: &str) -> Response {
    let session = match load_open_session(state, id) {
        Ok(s) => s,
        Err(page) => return page,
    };
    let Some(provider) = state.providers.get(session.platform) else {
        return message_page(
            400,
            "error",
            "Platform unavailable",
            "Connecting this platform is not available on this instance.",
        );
    };
    let credentials = match state.credentials.for_session(&session) {
        Ok(Some(c)) => c,
        Ok(None) => {
            return message_page(
                400,
                "error",
                "Platform not configured",
                "This app has no credentials for this platform any more. Ask the app's support team.",
            );
        }
        Err(e) => return internal_error_page(&e),
    };
    let oauth_state = random_token(43);
    let verifier = provider.uses_pkce().then(|| random_token(64));
    let sealed_verifier = verifier.as_deref().map(|v| state.sealer.seal(v));
    if let Err(e) = connect_sessions::begin_redirect(
        &state.db,
        &session.id,
        &sha256_hex(oauth_state.as_bytes()),
        sealed_verifier,
        state.clock.now(),
    ) {
        return match e.code {
            Code::SessionNotOpen => closed_session_page(&session, ConnectSessionStatus::Expired),
            _ => internal_error_page(&e),
        };
    }
    let challenge = verifier.as_deref().map(pkce_challenge);
    let url = provider.authorize_url(&AuthorizeRequest {
        client_id: &credentials.client_id,
        redirect_uri: &state.config.callback_url(session.platform),
        state: &oauth_state,
        pkce_challenge: challenge.as_deref(),
    });
    // 303: the browser follows a POST's answer with a GET.
    let mut response = Response::redirect(&url);
    response.status = 303;
    response
}

/// Back to the customer with `status=failed`; the session records why (`error` carries a
/// connect code of the catalogue, and a cause for the log when there is one).
fn fail_session(
    state: &AppState,
    session: &ConnectSession,
    status: ConnectSessionStatus,
    error: &Error,
) -> Response {
    debug_assert!(
        error.code.entry().connect.is_some(),
        "{} is not a connect code",
        error.code
    );
    if error.cause.is_some() {
        httpkit::log_error!("connect flow: session {} failed: {error}", session.id);
    }
    if let Err(e) = connect_sessions::finish_unsuccessfully(
        &state.db,
        &session.id,
        status,
        error.code,
        &error.message,
        &state.config.public_url,
        state.clock.now(),
    ) {
        return internal_error_page(&e);
    }
    Response::redirect(&append_query(
        &session.redirect_uri,
        &[
            ("status", ConnectSessionStatus::Failed.as_str()),
            ("errorCode", error.code.as_str()),
            ("platform", session.platform.key()),
            ("connectSessionId", &session.id),
            ("externalUserId", &session.external_user_id),
            ("appId", &session.app_id),
        ],
    ))
}

fn callback(state: &AppState, req: &Request, platform_key: &str) -> Response {
    let Some(platform) = Platform::from_key(platform_key) else {
        return message_page(
            404,
            "error",
            "Page not found",
            "This callback address is not valid.",
        );
    };
    let Some(oauth_state) = req.query_param("state").filter(|s| !s.is_empty()) else {
        return message_page(
            400,
            "error",
            "Sign-in response not valid",
            "The platform's answer carried no state. Go back to the app and start connecting again.",
        );
    };
    let now = state.clock.now();
    let session = match connect_sessions::claim_state(
        &state.db,
        &sha256_hex(oauth_state.as_bytes()),
        now,
    ) {
        Ok(StateClaim::Claimed(session)) => *session,
        Ok(StateClaim::Reused(_)) => {
            return message_page(
                400,
                "error",
                "Sign-in response already used",
                "This sign-in answer was already used once and cannot be used again. Go back to the app to check your connection.",
            );
        }
        Ok(StateClaim::Unknown) => {
            return message_page(
                400,
                "error",
                "Sign-in response not valid",
                "This sign-in answer does not belong to any connect session. Go back to the app and start connecting again.",
            );
        }
        Err(e) => return internal_error_page(&e),
    };
    if session.platform != platform {
        return fail_session(
            state,
            &session,
            ConnectSessionStatus::Failed,
            &Error::new(
                Code::ProviderCallbackFailed,
                "The callback arrived for another platform than the session's.",
            ),
        );
    }
    if parse_ts(&session.expires_at) <= now {
        return fail_session(
            state,
            &session,
            ConnectSessionStatus::Expired,
            &Error::new(
                Code::SessionExpired,
                "The connect session expired before the platform answered.",
            ),
        );
    }
    if let Some(error) = req.query_param("error") {
        let description = req.query_param("error_description").unwrap_or("");
        // The platforms' own words for a person who declined.
        let code = match error {
            "user_cancelled_authorize" | "user_cancelled_login" | "access_denied" => {
                Code::AccessDenied
            }
            _ => Code::ProviderError,
        };
        let message = format!(
            "{} answered {error}: {}",
            platform.display_name(),
            crate::providers::clip(description, 300)
        );
        return fail_session(
            state,
            &session,
            ConnectSessionStatus::Failed,
            &Error::new(code, message),
        );
    }
    let Some(code) = req.query_param("code").filter(|c| !c.is_empty()) else {
        return fail_session(
            state,
            &session,
            ConnectSessionStatus::Failed,
            &Error::new(
                Code::ProviderCallbackFailed,
                "The platform answered with neither a code nor an error.",
            ),
        );
    };
    match complete_connection(state, &session, code) {
        Ok(response) => response,
        Err(error) => fail_session(state, &session, ConnectSessionStatus::Failed, &error),
    }
}

/// Exchanges the code, reads the account and stores the connection. Every failure is a
/// `provider_callback_failed` whose message the session keeps (the cause, if any, is logged).
fn complete_connection(
    state: &AppState,
    session: &ConnectSession,
    code: &str,
) -> Result<Response, Error> {
    let failed = |message: String| Error::new(Code::ProviderCallbackFailed, message);
    let platform = session.platform;
    let credentials = state
        .credentials
        .for_session(session)
        .map_err(|e| failed(e.message.clone()).with_cause(e.to_string()))?
        .ok_or_else(|| failed("The app's credentials for this platform were removed.".into()))?;
    // The account is read from the host the credentials call, where its Pins will go.
    let provider = state
        .providers
        .for_credentials(platform, &credentials)
        .ok_or_else(|| failed("This platform is not available.".into()))?;
    let verifier = session
        .pkce_verifier_enc
        .as_deref()
        .and_then(|v| state.sealer.open(v));
    let tokens = provider
        .exchange_code(
            &credentials,
            code,
            &state.config.callback_url(platform),
            verifier.as_deref(),
        )
        .map_err(|e| failed(format!("Exchanging the code failed: {}", e.message())))?;
    let mut tokens = tokens;
    let connected = provider
        .connect_account(&credentials, &mut tokens)
        .map_err(|e| failed(format!("Reading the account failed: {}", e.message())))?;
    let account = connected.account;
    let now = state.clock.now();
    state
        .db
        .write(|tx| {
            let connection_id = connections::upsert_from_oauth(
                tx,
                &state.sealer,
                &session.app_id,
                &session.end_user_id,
                platform,
                &account,
                &tokens,
                connected.platform_data.as_ref(),
                session.credential_source,
                now,
            )?;
            connect_sessions::mark_connected(tx, &session.id, &connection_id, now)
        })
        .map_err(|e| {
            failed("The connection could not be stored.".into())
                .with_cause(format!("storing the connection failed: {e}"))
        })?;
    Ok(Response::redirect(&append_query(
        &session.redirect_uri,
        &[
            ("status", ConnectSessionStatus::Connected.as_str()),
            ("platform", platform.key()),
            ("connectSessionId", &session.id),
            ("externalUserId", &session.external_user_id),
            ("appId", &session.app_id),
            ("remoteAccountId", &account.id),
            ("remoteUsername", account.username.as_deref().unwrap_or("")),
            ("accountType", &account.account_type),
        ],
    )))
}
