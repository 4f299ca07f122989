//! Calls of an adapter's read-back (`find_published`) and `delete_post` with a real connection
//! of a running appliance, against the simulator over HTTP: the connection's token, account
//! and credentials as the engine would use them, the adapter for the credentials' API host.
//! The per-platform files use these to test read-back and delete ahead of (and beside) the
//! engine flows that call them.

use crate::support::TestApp;
use chrono::{DateTime, Utc};
use mypostshare::providers::{
    AccountCall, DeleteRequest, Deletion, LookUp, MediaKind, PostContent, ProviderError,
    PublishRequest, ReadBack, parse_platform,
};
use serde_json::{Map, Value};

/// What a publish sent, for a read-back.
pub struct Sent {
    pub title: Option<String>,
    pub text: String,
    pub media_url: Option<String>,
    pub media_kind: Option<MediaKind>,
    pub options: Value,
}

impl Sent {
    pub fn text(text: &str, options: Value) -> Self {
        Sent {
            title: None,
            text: text.into(),
            media_url: None,
            media_kind: None,
            options,
        }
    }
}

fn connection(
    app: &TestApp,
    user: &str,
    platform: &str,
) -> mypostshare::services::connections::SocialConnection {
    let state = &app.running.state;
    let id = app
        .get(&format!("/api/v1/end-users/{user}/connections"))
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["platform"] == platform)
        .map(|c| c["id"].as_str().unwrap().to_string())
        .expect("a connection of that platform");
    state
        .db
        .read(|c| mypostshare::services::connections::get(c, &id))
        .unwrap()
        .unwrap()
}

/// `find_published` for `user`'s `platform` connection: was `sent` published between `since`
/// and now?
pub fn read_back(
    app: &TestApp,
    user: &str,
    platform: &str,
    sent: &Sent,
    resume_state: Option<&Value>,
    since: DateTime<Utc>,
) -> Result<ReadBack, ProviderError> {
    let state = &app.running.state;
    let connection = connection(app, user, platform);
    let credentials = state
        .credentials
        .for_connection(&connection)
        .unwrap()
        .unwrap();
    let provider = state
        .providers
        .for_credentials(parse_platform(platform).unwrap(), &credentials)
        .unwrap();
    let token = connection.access_token(&state.sealer).unwrap();
    let platform_data = connection.platform_data(&state.sealer);
    let account = connection.account();
    let post = PostContent {
        title: sent.title.clone(),
        text: sent.text.clone(),
        media_url: sent.media_url.clone(),
        thumbnail_url: None,
        media_kind: sent.media_kind,
    };
    let options: Map<String, Value> = sent.options.as_object().cloned().unwrap_or_default();
    let look = LookUp {
        request: PublishRequest {
            access_token: &token,
            credentials: &credentials,
            platform_data: platform_data.as_ref(),
            account: &account,
            post: &post,
            options: &options,
            media: &state.providers.media,
        },
        resume_state,
        since,
        now: app.clock_now(),
    };
    provider.find_published(&look)
}

/// `delete_post` of `external_id` with `user`'s `platform` connection.
pub fn delete(
    app: &TestApp,
    user: &str,
    platform: &str,
    external_id: &str,
    options: Value,
) -> Result<Deletion, ProviderError> {
    let state = &app.running.state;
    let connection = connection(app, user, platform);
    let credentials = state
        .credentials
        .for_connection(&connection)
        .unwrap()
        .unwrap();
    let provider = state
        .providers
        .for_credentials(parse_platform(platform).unwrap(), &credentials)
        .unwrap();
    assert!(provider.can_delete());
    let token = connection.access_token(&state.sealer).unwrap();
    let platform_data = connection.platform_data(&state.sealer);
    let account = connection.account();
    let options: Map<String, Value> = options.as_object().cloned().unwrap_or_default();
    provider.delete_post(&DeleteRequest {
        call: AccountCall {
            access_token: &token,
            credentials: &credentials,
            platform_data: platform_data.as_ref(),
            account: &account,
        },
        external_id,
        options: &options,
    })
}

/// The id of a `Found` answer; panics with the answer otherwise.
pub fn found_id(answer: Result<ReadBack, ProviderError>) -> String {
    match answer {
        Ok(ReadBack::Found(published)) => published.external_id,
        other => panic!("expected Found, got {other:?}"),
    }
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

/// The access token of `user`'s `platform` connection, for calls straight to the simulator.
pub fn access_token(app: &TestApp, user: &str, platform: &str) -> String {
    connection(app, user, platform)
        .access_token(&app.running.state.sealer)
        .unwrap()
}
