//! Step 2 of an attempt: the platform call, `publish` for a new attempt, `resume` for another
//! look at media the platform is still processing, or `find_published` to read back a publish
//! that was cut off. The only place a delivery calls a platform.

use super::Engine;
use super::prepare::Prepared;
use crate::providers::{LookUp, ProviderError, PublishRequest, PublishStep, ReadBack};
use crate::services::posts::Outcome;
use chrono::{DateTime, Utc};

/// The platform's answer to one call.
pub(super) type Answer = std::result::Result<PublishStep, ProviderError>;

/// The platform's answer to a read-back.
pub(super) type ReadBackAnswer = std::result::Result<ReadBack, ProviderError>;

impl Engine {
    /// Calls the platform with the prepared token (see `with_token`).
    pub(super) fn call(&self, prepared: &Prepared) -> std::result::Result<Answer, Outcome> {
        self.with_token(prepared, |request| match &prepared.lease.resume_state {
            Some(state) => prepared.provider.resume(request, state),
            None => prepared.provider.publish(request),
        })
    }

    /// Asks the platform whether it has the post of an interrupted attempt that started at
    /// `since` (see `with_token`). Only reads: `find_published` never publishes.
    pub(super) fn read_back(
        &self,
        prepared: &Prepared,
        since: DateTime<Utc>,
    ) -> std::result::Result<ReadBackAnswer, Outcome> {
        let now = self.inner.clock.now();
        self.with_token(prepared, |request| {
            prepared.provider.find_published(&LookUp {
                request: clone_request(request),
                resume_state: prepared.lease.resume_state.as_ref(),
                since,
                now,
            })
        })
    }

    /// Runs `call` with the prepared token. A 401 means nothing was created (nor read), so when
    /// the token can be renewed, one refresh and one more try (the token died early: a revoked
    /// scope, a platform-side rotation). `Err` when that refresh fails.
    fn with_token<T>(
        &self,
        prepared: &Prepared,
        call: impl Fn(&PublishRequest) -> std::result::Result<T, ProviderError>,
    ) -> std::result::Result<std::result::Result<T, ProviderError>, Outcome> {
        let answer = self.with_request(prepared, &prepared.access_token, &call);
        if let Err(ProviderError::Unauthorized { .. }) = &answer
            && prepared.connection.can_auto_refresh(self.inner.clock.now())
        {
            let token = self.fresh_access_token(
                &prepared.connection,
                prepared.provider.as_ref(),
                &prepared.credentials,
                true,
            )?;
            return Ok(self.with_request(prepared, &token, &call));
        }
        Ok(answer)
    }

    fn with_request<T>(
        &self,
        prepared: &Prepared,
        access_token: &str,
        call: &impl Fn(&PublishRequest) -> std::result::Result<T, ProviderError>,
    ) -> std::result::Result<T, ProviderError> {
        let account = prepared.connection.account();
        let platform_data = prepared.connection.platform_data(&self.inner.sealer);
        let request = PublishRequest {
            access_token,
            credentials: &prepared.credentials,
            platform_data: platform_data.as_ref(),
            account: &account,
            post: &prepared.content,
            options: &prepared.options,
            media: &self.inner.providers.media,
        };
        call(&request)
    }
}

/// `LookUp` owns its `PublishRequest`; the fields are all borrowed, so a copy costs nothing.
fn clone_request<'a>(request: &PublishRequest<'a>) -> PublishRequest<'a> {
    PublishRequest {
        access_token: request.access_token,
        credentials: request.credentials,
        platform_data: request.platform_data,
        account: request.account,
        post: request.post,
        options: request.options,
        media: request.media,
    }
}
