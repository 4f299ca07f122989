//! What the adapters send and read the same way at an OAuth token endpoint: the forms of the
//! code and refresh grants, the access token and
//! scopes of a successful answer, the 5xx that is worth retrying, and the error body of
//! RFC 6749 (`error`, `error_description`) for the platforms that send it as the RFC says.
//!
//! Each adapter still builds its own request (where the client credentials go, which URL)
//! and its own `TokenSet` (which lifetimes and refresh tokens its platform issues); the
//! platform's name is passed in so every message keeps naming the platform it came from.

use super::{HttpAnswer, ProviderError, clip};
use serde_json::Value;

/// The form of an authorization-code exchange, in the order the RFC lists it.
pub(crate) fn code_grant(code: &str, redirect_uri: &str) -> Vec<(String, String)> {
    vec![
        ("grant_type".into(), "authorization_code".into()),
        ("code".into(), code.into()),
        ("redirect_uri".into(), redirect_uri.into()),
    ]
}

/// The form of a refresh-token grant.
pub(crate) fn refresh_grant(refresh_token: &str) -> Vec<(String, String)> {
    vec![
        ("grant_type".into(), "refresh_token".into()),
        ("refresh_token".into(), refresh_token.into()),
    ]
}

/// The non-empty `access_token` of a token answer; `possessive` names the platform
/// ("LinkedIn's") in the error when it is missing.
pub(crate) fn access_token_of<'a>(
    body: &'a Value,
    possessive: &str,
) -> Result<&'a str, ProviderError> {
    body["access_token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ProviderError::Unknown {
            message: format!("{possessive} token answer had no access_token"),
        })
}

/// The granted scopes of a token answer, split on any of `separators`; none when absent.
pub(crate) fn scopes_of(body: &Value, separators: &[char]) -> Vec<String> {
    body["scope"]
        .as_str()
        .unwrap_or_default()
        .split(separators)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A 5xx from the token endpoint: transient, whatever the body says.
pub(crate) fn token_endpoint_failure(
    answer: &HttpAnswer,
    possessive: &str,
) -> Option<ProviderError> {
    (answer.status >= 500).then(|| {
        answer.server_error(format!(
            "{possessive} token endpoint answered {}",
            answer.status
        ))
    })
}

/// A refused token request in RFC 6749's shape; `name` and `possessive` name the platform
/// ("Google", "Google's").
pub(crate) fn rfc6749_error(answer: &HttpAnswer, name: &str, possessive: &str) -> ProviderError {
    if let Some(failure) = token_endpoint_failure(answer, possessive) {
        return failure;
    }
    let body = answer.json();
    ProviderError::OAuth {
        error: body["error"]
            .as_str()
            .unwrap_or("unknown_error")
            .to_string(),
        message: clip(
            body["error_description"]
                .as_str()
                .unwrap_or(&format!("{name} answered {}", answer.status)),
            300,
        ),
    }
}
