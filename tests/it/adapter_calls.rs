//! A connection's adapter called directly, with the connection's own token, credentials and
//! account read from the appliance's database, against the simulator over HTTP: what the
//! engine's read-back (`Provider::find_published`) and the delete of a published post
//! (`Provider::delete_post`) do, pinned per platform without waiting for either path.

use crate::support::TestApp;
use mypostshare::config::ClientCredentials;
use mypostshare::providers::{
    AccountCall, DeleteRequest, Deletion, LookUp, MediaKind, Platform, PostContent, Provider,
    ProviderError, PublishRequest, ReadBack, RemoteAccount,
};
use mypostshare::services::{connections, end_users};
use serde_json::{Map, Value};
use std::sync::Arc;

pub struct AdapterCall {
    pub provider: Arc<dyn Provider>,
    pub token: String,
    pub account: RemoteAccount,
    credentials: ClientCredentials,
    platform_data: Option<Value>,
    app: Arc<mypostshare::app::AppState>,
}

impl AdapterCall {
    /// The adapter of `external_user_id`'s connection to `platform`.
    pub fn of(app: &TestApp, external_user_id: &str, platform: Platform) -> Self {
        let state = app.running.state.clone();
        let connection = state
            .db
            .read(|c| {
                let user = end_users::find(c, &app.app_id, external_user_id)?.unwrap();
                Ok(connections::find(c, &app.app_id, &user.id, platform)?.unwrap())
            })
            .unwrap();
        let credentials = state
            .credentials
            .for_connection(&connection)
            .unwrap()
            .unwrap();
        let token = connection.access_token(&state.sealer).unwrap();
        let platform_data = connection.platform_data(&state.sealer);
        let account = RemoteAccount {
            id: connection.remote_account_id.clone().unwrap(),
            username: connection.remote_username.clone(),
            account_type: connection.account_type.clone().unwrap_or_default(),
        };
        Self {
            provider: state.providers.get(platform).unwrap(),
            token,
            account,
            credentials,
            platform_data,
            app: state,
        }
    }

    /// `find_published` for a post sent since `since`, with the resume state stored before
    /// the interrupted call, if any.
    pub fn find_published(
        &self,
        post: &PostContent,
        resume_state: Option<&Value>,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<ReadBack, ProviderError> {
        let options = Map::new();
        let look = LookUp {
            request: PublishRequest {
                access_token: &self.token,
                credentials: &self.credentials,
                platform_data: self.platform_data.as_ref(),
                account: &self.account,
                post,
                options: &options,
                media: &self.app.providers.media,
            },
            resume_state,
            since,
            now: mypostshare::clock::Clock::now(self.app.clock.as_ref()),
        };
        self.provider.find_published(&look)
    }

    pub fn delete(&self, external_id: &str) -> Result<Deletion, ProviderError> {
        let options = Map::new();
        self.provider.delete_post(&DeleteRequest {
            call: AccountCall {
                access_token: &self.token,
                credentials: &self.credentials,
                platform_data: self.platform_data.as_ref(),
                account: &self.account,
            },
            external_id,
            options: &options,
        })
    }
}

/// A post as `validate` hands it to the adapter.
pub fn content(text: &str, media_url: Option<&str>, kind: Option<MediaKind>) -> PostContent {
    PostContent {
        title: None,
        text: text.into(),
        media_url: media_url.map(str::to_string),
        thumbnail_url: None,
        media_kind: kind,
    }
}
