//! A connection's adapter called directly, as the engine calls it, against the simulator over
//! HTTP: `Provider::find_published` (the read-back of an interrupted publish) and
//! `Provider::delete_post`, with the connection's own token, credentials, platform data and
//! account read from the running appliance. The per-platform files pin what read-back and
//! delete do without waiting for the engine flows that call them.

use crate::support::TestApp;
use chrono::{DateTime, Utc};
use mypostshare::config::ClientCredentials;
use mypostshare::providers::{
    AccountCall, DeleteRequest, Deletion, LookUp, MediaKind, Platform, PostContent, Provider,
    ProviderError, PublishRequest, Published, ReadBack, RemoteAccount,
};
use mypostshare::services::{connections, end_users};
use serde_json::{Map, Value};
use std::sync::Arc;

/// The adapter of one end user's connection to one platform, with what a delivery gives it.
#[derive(Clone)]
pub struct Adapter<'a> {
    app: &'a TestApp,
    /// Chosen as the engine chooses it: by the credentials' API host (Pinterest's trial apps
    /// call the sandbox host).
    pub provider: Arc<dyn Provider>,
    /// The connection's access token, or the one given to `with_token`.
    pub token: String,
    pub account: RemoteAccount,
    credentials: ClientCredentials,
    platform_data: Option<Value>,
    options: Map<String, Value>,
}

impl<'a> Adapter<'a> {
    /// The adapter of `external_user_id`'s connection to `platform`, read now (so a change of
    /// the connection's credentials afterwards needs a new `of`).
    pub fn of(app: &'a TestApp, external_user_id: &str, platform: Platform) -> Self {
        let state = &app.running.state;
        let connection = state
            .db
            .read(|c| {
                let user =
                    end_users::find(c, &app.app_id, external_user_id)?.expect("the end user");
                Ok(connections::find(c, &app.app_id, &user.id, platform)?
                    .expect("a connection of that platform"))
            })
            .unwrap();
        let credentials = state
            .credentials
            .for_connection(&connection)
            .unwrap()
            .unwrap();
        Adapter {
            app,
            provider: state
                .providers
                .for_credentials(platform, &credentials)
                .unwrap(),
            token: connection.access_token(&state.sealer).unwrap(),
            account: connection.account(),
            credentials,
            platform_data: connection.platform_data(&state.sealer),
            options: Map::new(),
        }
    }

    /// The same adapter sent the post's platform options (`platformOptions.<platform>`).
    pub fn with_options(&self, options: Value) -> Self {
        Adapter {
            options: options.as_object().cloned().unwrap_or_default(),
            ..self.clone()
        }
    }

    /// The same adapter calling with another token of the account (one granted other scopes).
    pub fn with_token(&self, token: &str) -> Self {
        Adapter {
            token: token.to_string(),
            ..self.clone()
        }
    }

    /// `find_published`: was `post` published between `since` and now? With the resume state
    /// stored before the interrupted call, if it was a resume.
    pub fn find(
        &self,
        post: &PostContent,
        resume_state: Option<&Value>,
        since: DateTime<Utc>,
    ) -> Result<ReadBack, ProviderError> {
        self.provider.find_published(&LookUp {
            request: PublishRequest {
                access_token: &self.token,
                credentials: &self.credentials,
                platform_data: self.platform_data.as_ref(),
                account: &self.account,
                post,
                options: &self.options,
                media: &self.app.running.state.providers.media,
            },
            resume_state,
            since,
            now: self.app.clock_now(),
        })
    }

    /// `find` for `sent`, with its options.
    pub fn find_sent(
        &self,
        sent: &Sent,
        resume_state: Option<&Value>,
        since: DateTime<Utc>,
    ) -> Result<ReadBack, ProviderError> {
        self.with_options(sent.options.clone())
            .find(&sent.post, resume_state, since)
    }

    /// `delete_post` of `external_id`, as `DELETE /v1/posts/{id}` calls it.
    pub fn delete(&self, external_id: &str) -> Result<Deletion, ProviderError> {
        self.provider.delete_post(&DeleteRequest {
            call: AccountCall {
                access_token: &self.token,
                credentials: &self.credentials,
                platform_data: self.platform_data.as_ref(),
                account: &self.account,
            },
            external_id,
            options: &self.options,
        })
    }
}

/// A post as `validate` hands it to the adapter (no title; set `title` where one was sent).
pub fn content(text: &str, media_url: Option<&str>, kind: Option<MediaKind>) -> PostContent {
    PostContent {
        title: None,
        text: text.into(),
        media_url: media_url.map(str::to_string),
        thumbnail_url: None,
        media_kind: kind,
    }
}

/// What a publish sent when its platform options are part of what the read-back compares
/// (a Pin's board and link, a submission's subreddit and url).
pub struct Sent {
    pub post: PostContent,
    pub options: Value,
}

/// The post of a `Found` answer; panics with the answer otherwise.
pub fn found(answer: Result<ReadBack, ProviderError>) -> Published {
    match answer {
        Ok(ReadBack::Found(published)) => published,
        other => panic!("expected Found, got {other:?}"),
    }
}

/// The id of a `Found` answer; panics with the answer otherwise.
pub fn found_id(answer: Result<ReadBack, ProviderError>) -> String {
    found(answer).external_id
}

pub fn is_absent(answer: &Result<ReadBack, ProviderError>) -> bool {
    matches!(answer, Ok(ReadBack::Absent))
}

/// The reason of an `Unknowable` answer; panics with the answer otherwise.
pub fn unknowable_reason(answer: Result<ReadBack, ProviderError>) -> String {
    match answer {
        Ok(ReadBack::Unknowable { reason }) => reason,
        other => panic!("expected Unknowable, got {other:?}"),
    }
}
