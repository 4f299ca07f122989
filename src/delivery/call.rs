//! Step 2 of an attempt: the platform call, `publish` for a new attempt or `resume` for another
//! look at media the platform is still processing. The only place a delivery calls a platform.

use super::Engine;
use super::prepare::Prepared;
use crate::providers::{ProviderError, PublishRequest, PublishStep};
use crate::services::posts::Outcome;

/// The platform's answer to one call.
pub(super) type Answer = std::result::Result<PublishStep, ProviderError>;

impl Engine {
    /// Calls the platform with the prepared token. A 401 means the post was certainly not
    /// created, so when the token can be renewed, one refresh and one more try (the token died
    /// early: a revoked scope, a platform-side rotation). `Err` when that refresh fails.
    pub(super) fn call(&self, prepared: &Prepared) -> std::result::Result<Answer, Outcome> {
        let answer = self.call_with(prepared, &prepared.access_token);
        if let Err(ProviderError::Unauthorized { .. }) = &answer
            && prepared.connection.can_auto_refresh(self.inner.clock.now())
        {
            let token = self.fresh_access_token(
                &prepared.connection,
                prepared.provider.as_ref(),
                &prepared.credentials,
                true,
            )?;
            return Ok(self.call_with(prepared, &token));
        }
        Ok(answer)
    }

    fn call_with(&self, prepared: &Prepared, access_token: &str) -> Answer {
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
        match &prepared.lease.resume_state {
            Some(state) => prepared.provider.resume(&request, state),
            None => prepared.provider.publish(&request),
        }
    }
}
