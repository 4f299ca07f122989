//! Step 1 of an attempt: the lease (committed before the platform is called, so a crash after
//! the call can never make the delivery look untried), then everything the call needs, each
//! read and checked in turn: the connection still linked, the provider, the credentials the
//! connection was made with, the processing time left, a fresh access token.

use super::Engine;
use crate::config::ClientCredentials;
use crate::error::{Code, Result};
use crate::providers::{PostContent, Provider};
use crate::services::connections::{self, SocialConnection, Usability};
use crate::services::posts::{self, Lease, Outcome};
use chrono::Duration;
use serde_json::{Map, Value};
use std::sync::Arc;

/// How long a platform may take to process media before the delivery gives up.
const MAX_PROCESSING_HOURS: i64 = 6;

/// A leased delivery with everything its platform call needs.
pub(super) struct Prepared<'a> {
    pub lease: &'a Lease,
    pub connection: SocialConnection,
    pub provider: Arc<dyn Provider>,
    pub credentials: ClientCredentials,
    pub content: PostContent,
    /// This platform's part of the post's `platformOptions`.
    pub options: Map<String, Value>,
    pub access_token: String,
}

pub fn content_of(post: &posts::PostRequest) -> PostContent {
    PostContent {
        title: post.title.clone(),
        text: post.content.clone(),
        media_url: post.media_url.clone(),
        thumbnail_url: post.thumbnail_url.clone(),
        media_kind: post.media_kind,
    }
}

/// The outcome of an attempt that ends before the platform is called.
pub(super) fn failed(code: Code, message: String) -> Outcome {
    Outcome::Failed { code, message }
}

impl Engine {
    /// Leases the delivery for one attempt; `None` when it is not (or no longer) due.
    pub(super) fn lease(&self, delivery_id: &str) -> Result<Option<Lease>> {
        let inner = &self.inner;
        posts::lease(
            &inner.db,
            delivery_id,
            inner.config.delivery_lease,
            &inner.instance_id,
            inner.clock.now(),
        )
    }

    /// Reads and checks what the call needs, in order; the first that fails ends the attempt
    /// with its outcome.
    pub(super) fn prepare<'a>(
        &self,
        lease: &'a Lease,
    ) -> std::result::Result<Prepared<'a>, Outcome> {
        let inner = &self.inner;
        let platform = lease.delivery.platform;
        let key = platform.key();
        let connection = self.connection_of(lease)?;
        inner.providers.get(platform).ok_or_else(|| {
            failed(
                Code::PlatformNotSupported,
                format!("Publishing to {key} is not available in this version."),
            )
        })?;
        let credentials = self.credentials_of(&connection)?;
        // The credentials choose the API host (Pinterest's sandbox for Trial apps).
        let provider = inner
            .providers
            .for_credentials(platform, &credentials)
            .ok_or_else(|| {
                failed(
                    Code::PlatformNotSupported,
                    format!(
                        "The {key} credentials call a sandbox host this instance does not know."
                    ),
                )
            })?;
        let content = content_of(&lease.post);
        let options = lease
            .post
            .platform_options
            .as_ref()
            .and_then(|o| o.get(key))
            .and_then(|o| o.as_object())
            .cloned()
            .unwrap_or_default();
        self.check_processing_time(lease)?;
        let access_token =
            self.fresh_access_token(&connection, provider.as_ref(), &credentials, false)?;
        Ok(Prepared {
            lease,
            connection,
            provider,
            credentials,
            content,
            options,
            access_token,
        })
    }

    /// The delivery's connection, if it is still linked to the account. An expired token that
    /// cannot be renewed passes here: the token check finds it and marks the connection.
    fn connection_of(&self, lease: &Lease) -> std::result::Result<SocialConnection, Outcome> {
        let inner = &self.inner;
        let key = lease.delivery.platform.key();
        let connection = match lease
            .delivery
            .connection_id
            .as_deref()
            .map(|id| inner.db.read(|c| connections::get(c, id)))
        {
            Some(Ok(Some(c))) => c,
            Some(Err(e)) => {
                return Err(failed(
                    Code::InternalError,
                    format!("Reading the connection failed: {}", e.message),
                ));
            }
            _ => {
                return Err(failed(
                    Code::PlatformNotConnected,
                    format!("The {key} connection was removed before the post was delivered."),
                ));
            }
        };
        match connection.usability(inner.clock.now()) {
            Usability::Disconnected => Err(failed(
                Code::PlatformNotConnected,
                format!("The {key} account was disconnected before the post was delivered."),
            )),
            Usability::NeedsReconnect => Err(failed(
                Code::NeedsReconnect,
                format!(
                    "The {key} connection needs to be reconnected: {}",
                    connection.last_error_message.clone().unwrap_or_default()
                ),
            )),
            Usability::Refreshable | Usability::Active | Usability::Expired => Ok(connection),
        }
    }

    /// The OAuth client the connection was made with; its tokens work with no other.
    fn credentials_of(
        &self,
        connection: &SocialConnection,
    ) -> std::result::Result<ClientCredentials, Outcome> {
        let key = connection.platform.key();
        match self.inner.credentials.for_connection(connection) {
            Ok(Some(c)) => Ok(c),
            Ok(None) => Err(failed(
                Code::CredentialsMissing,
                format!(
                    "The {key} client credentials this account was connected with are no longer configured."
                ),
            )),
            Err(e) => Err(failed(Code::InternalError, e.message)),
        }
    }

    /// A publish the platform is still processing is given up after `MAX_PROCESSING_HOURS`. A
    /// read-back is not: whatever its age, finding out whether the post exists is worth it.
    fn check_processing_time(&self, lease: &Lease) -> std::result::Result<(), Outcome> {
        let key = lease.delivery.platform.key();
        let age = self.inner.clock.now() - crate::services::parse_ts(&lease.delivery.created_at);
        if lease.resume_state.is_some()
            && lease.reconcile_since.is_none()
            && age > Duration::hours(MAX_PROCESSING_HOURS)
        {
            return Err(failed(
                Code::ProcessingTimeout,
                format!(
                    "{key} was still processing the media after {MAX_PROCESSING_HOURS} hours; check the account before posting again."
                ),
            ));
        }
        Ok(())
    }
}
