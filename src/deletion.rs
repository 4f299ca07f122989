//! Deleting a sent post on the platforms (`DELETE /v1/posts/{id}` of a `published` or
//! `partial_success` post): every published delivery not yet deleted is deleted on its
//! platform where the adapter can (`Provider::can_delete`), each platform on a thread of its
//! own, and what each answered is recorded in one transaction (`services::deletions`).
//!
//! Each call gets what a delivery's call gets: the connection the post was published with
//! (still linked), the OAuth client it was made with (`AppState::credentials`), a fresh token
//! (`Engine::access_token_for`, refreshed when needed; after a 401 refreshed once more and
//! tried again, like a delivery), and the adapter those credentials choose. A platform that
//! fails does not stop the others. Nothing is retried automatically: a later `DELETE` calls
//! again exactly the platforms not deleted yet.

use crate::app::AppState;
use crate::error::{Code, Result};
use crate::providers::{AccountCall, DeleteRequest, Deletion, ProviderError};
use crate::services::connections::{self, Usability};
use crate::services::deletions::{self, Outcome, Step};
use crate::services::posts::{Delivery, PostRequest};
use std::collections::HashSet;
use std::sync::{Condvar, Mutex};

/// The posts being deleted now. A second `DELETE` of the same post waits for the first and
/// then finds its results, so no platform is asked twice for one post at once.
#[derive(Default)]
pub struct InFlight {
    posts: Mutex<HashSet<String>>,
    finished: Condvar,
}

struct Held<'a> {
    in_flight: &'a InFlight,
    post_id: String,
}

impl InFlight {
    fn hold(&self, post_id: &str) -> Held<'_> {
        let mut posts = self.posts.lock().unwrap_or_else(|e| e.into_inner());
        while posts.contains(post_id) {
            posts = self.finished.wait(posts).unwrap_or_else(|e| e.into_inner());
        }
        posts.insert(post_id.to_string());
        Held {
            in_flight: self,
            post_id: post_id.to_string(),
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let mut posts = self
            .in_flight
            .posts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        posts.remove(&self.post_id);
        self.in_flight.finished.notify_all();
    }
}

/// Deletes the app's sent post on its platforms and records the results (404 for a post of
/// another app, 409 for one that is not `published` or `partial_success`). `actor` is who asked,
/// for the audit log.
pub fn delete_sent_post(state: &AppState, app_id: &str, post_id: &str, actor: &str) -> Result<()> {
    let _held = state.deletions.hold(post_id);
    let post = deletions::begin(&state.db, app_id, post_id, state.clock.now())?;
    let outcomes: Vec<(String, Outcome)> = std::thread::scope(|scope| {
        let mut calls = Vec::new();
        let mut outcomes = Vec::new();
        for delivery in &post.deliveries {
            match deletions::plan(delivery) {
                Step::Keep => {}
                Step::NothingToDelete => {
                    outcomes.push((delivery.id.clone(), Outcome::NothingToDelete))
                }
                Step::Call => {
                    let post = &post;
                    calls.push((
                        delivery.id.clone(),
                        scope.spawn(move || delete_on_platform(state, post, delivery)),
                    ));
                }
            }
        }
        for (id, call) in calls {
            let outcome = call.join().unwrap_or_else(|_| Outcome::Failed {
                code: Code::InternalError,
                message: "The delete call stopped on an internal fault; the log has the cause. Send DELETE again to retry.".into(),
            });
            outcomes.push((id, outcome));
        }
        outcomes
    });
    deletions::record(
        &state.db,
        app_id,
        post_id,
        &outcomes,
        actor,
        state.clock.now(),
    )
}

fn failed(code: Code, message: String) -> Outcome {
    Outcome::Failed { code, message }
}

/// One published delivery on its platform: `not_supported` without a call when the adapter
/// cannot delete, else the delete call's outcome.
fn delete_on_platform(state: &AppState, post: &PostRequest, delivery: &Delivery) -> Outcome {
    let platform = delivery.platform;
    let name = platform.display_name();
    let again = "then send DELETE again";
    let Some(adapter) = state.providers.get(platform) else {
        return failed(
            Code::PlatformNotSupported,
            format!("This build has no {name} adapter; delete the post in the {name} app."),
        );
    };
    if !adapter.can_delete() {
        return Outcome::NotSupported {
            message: not_supported_message(delivery),
        };
    }
    let Some(external_id) = delivery.external_id.as_deref() else {
        return failed(
            Code::InternalError,
            format!(
                "No {name} id was recorded for this post, so it cannot be found to delete; delete it in the {name} app."
            ),
        );
    };
    let connection = match delivery
        .connection_id
        .as_deref()
        .map(|id| state.db.read(|c| connections::get(c, id)))
    {
        Some(Ok(Some(connection))) => connection,
        Some(Err(e)) => {
            return failed(
                Code::InternalError,
                format!("Reading the {name} connection failed: {}", e.message),
            );
        }
        _ => {
            return failed(
                Code::PlatformNotConnected,
                format!(
                    "The {name} connection this post was published with was removed; connect the account again, {again}."
                ),
            );
        }
    };
    let now = state.clock.now();
    match connection.usability(now) {
        Usability::Disconnected => {
            return failed(
                Code::PlatformNotConnected,
                format!(
                    "The {name} account was disconnected; connect it again (a connect session), {again}."
                ),
            );
        }
        Usability::NeedsReconnect => {
            return failed(
                Code::NeedsReconnect,
                format!(
                    "The {name} connection needs to be reconnected ({}); send the user through a new connect session, {again}.",
                    connection
                        .last_error_message
                        .clone()
                        .unwrap_or_else(|| "the platform refused its token".into())
                ),
            );
        }
        Usability::Refreshable | Usability::Active | Usability::Expired => {}
    }
    let credentials = match state.credentials.for_connection(&connection) {
        Ok(Some(credentials)) => credentials,
        Ok(None) => {
            return failed(
                Code::CredentialsMissing,
                format!(
                    "The {name} client credentials this account was connected with are no longer configured; configure them, {again}."
                ),
            );
        }
        Err(e) => return failed(Code::InternalError, e.message),
    };
    // The credentials choose the API host (Pinterest's sandbox for Trial apps).
    let Some(provider) = state.providers.for_credentials(platform, &credentials) else {
        return failed(
            Code::PlatformNotSupported,
            format!("The {name} credentials call a sandbox host this instance does not know."),
        );
    };
    let token = match state.engine.access_token_for(&connection) {
        Ok(token) => token,
        Err(e) => {
            return failed(
                e.code,
                format!("{}; {again}.", e.message.trim_end_matches('.')),
            );
        }
    };
    let platform_data = connection.platform_data(&state.sealer);
    let account = connection.account();
    let options = post
        .platform_options
        .as_ref()
        .and_then(|o| o.get(platform.key()))
        .and_then(|o| o.as_object())
        .cloned()
        .unwrap_or_default();
    let call = |access_token: &str| {
        provider.delete_post(&DeleteRequest {
            call: AccountCall {
                access_token,
                credentials: &credentials,
                platform_data: platform_data.as_ref(),
                account: &account,
            },
            external_id,
            options: &options,
        })
    };
    let mut answer = call(&token);
    // A 401 deleted nothing: when the token can be renewed, one refresh and one more try.
    if let Err(ProviderError::Unauthorized { .. }) = &answer
        && connection.can_auto_refresh(now)
    {
        match state.engine.renewed_access_token_for(&connection) {
            Ok(token) => answer = call(&token),
            Err(e) => {
                return failed(
                    e.code,
                    format!("{}; {again}.", e.message.trim_end_matches('.')),
                );
            }
        }
    }
    match answer {
        Ok(Deletion::Deleted) => Outcome::Deleted {
            already_gone: false,
        },
        Ok(Deletion::AlreadyGone) => Outcome::Deleted { already_gone: true },
        // The adapter can delete, but not this post (or not any more): as if it could not.
        Err(ProviderError::Rejected {
            code: Code::DeleteNotAvailable,
            message,
        }) => Outcome::NotSupported { message },
        Err(ProviderError::Unauthorized { message }) => {
            let message = message.trim_end_matches('.').to_string();
            connections::flag_for_reconnect(
                &state.db,
                &connection.id,
                Code::NeedsReconnect,
                &message,
                state.clock.now(),
            );
            failed(
                Code::NeedsReconnect,
                format!(
                    "{message}. Send the user through a new {} connect session, {again}.",
                    platform.key()
                ),
            )
        }
        Err(other) => failed(
            other.code(),
            format!(
                "{}; {again} to retry.",
                other.message().trim_end_matches('.')
            ),
        ),
    }
}

/// Where the adapter cannot delete (Instagram's): what the person does instead.
fn not_supported_message(delivery: &Delivery) -> String {
    let name = delivery.platform.display_name();
    let place = match &delivery.external_url {
        Some(url) => format!(" (it is at {url})"),
        None => String::new(),
    };
    format!(
        "Deleting a published {name} post through its API is not available; delete it in the {name} app{place}."
    )
}
