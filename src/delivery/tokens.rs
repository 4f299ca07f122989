//! Fresh access tokens: the one place a token is refreshed, under a lock per connection (a
//! single-use refresh token would be burnt by a second refresh). Serves a delivery's `prepare`
//! and its retry after a 401, calls outside a delivery (listing targets, deleting a post and
//! its retry after a 401), and the background refresh of long-lived tokens before they expire
//! unused.

use super::Engine;
use super::prepare::failed;
use crate::config::ClientCredentials;
use crate::error::{Code, Error, Result};
use crate::metrics::RefreshOutcome;
use crate::providers::{Provider, ProviderError};
use crate::services::connections::{self, SocialConnection};
use crate::services::posts::Outcome;
use chrono::{DateTime, Duration, Utc};
use std::sync::{Arc, Mutex};

/// Expiring within this many seconds counts as expired: the token must outlive the call.
const EXPIRY_MARGIN_SECONDS: i64 = 60;

fn stale(connection: &SocialConnection, at: DateTime<Utc>) -> bool {
    connection
        .access_token_expires_at
        .as_deref()
        .is_some_and(|t| {
            crate::services::parse_ts(t) - Duration::seconds(EXPIRY_MARGIN_SECONDS) <= at
        })
}

fn undecryptable(key: &str) -> Outcome {
    Outcome::Failed {
        code: Code::NeedsReconnect,
        message: format!(
            "The stored {key} token cannot be decrypted with this instance's secret key; the user must connect again."
        ),
    }
}

impl Engine {
    /// Refreshes the given connections' tokens on a thread of its own (never the scheduler's),
    /// one after the other; a second call while one batch runs is skipped. Failures are
    /// recorded on the connection exactly as a delivery's would be.
    pub fn refresh_connections(&self, ids: Vec<String>) -> bool {
        if ids.is_empty()
            || self
                .inner
                .refreshing
                .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return false;
        }
        let engine = self.clone();
        let spawned = std::thread::Builder::new()
            .name("token-refresh".into())
            .spawn(move || {
                for id in ids {
                    engine.refresh_in_background(&id);
                }
                engine
                    .inner
                    .refreshing
                    .store(false, std::sync::atomic::Ordering::SeqCst);
            });
        if spawned.is_err() {
            self.inner
                .refreshing
                .store(false, std::sync::atomic::Ordering::SeqCst);
        }
        spawned.is_ok()
    }

    fn refresh_in_background(&self, id: &str) {
        let inner = &self.inner;
        let Ok(Some(connection)) = inner.db.read(|c| connections::get(c, id)) else {
            return;
        };
        let Some(provider) = inner.providers.get(connection.platform) else {
            return;
        };
        if let Ok(Some(credentials)) = inner.credentials.for_connection(&connection)
            && let Err(Outcome::Failed { code, message }) =
                self.fresh_access_token(&connection, provider.as_ref(), &credentials, true)
        {
            httpkit::log_warn!("token refresh of connection {id}: {code}: {message}");
        }
    }

    /// A usable access token for a connection, refreshed first if needed (for calls outside a
    /// delivery, such as listing a connection's targets).
    pub fn access_token_for(&self, connection: &SocialConnection) -> Result<String> {
        self.token_outside_a_delivery(connection, false)
    }

    /// A new access token for a connection, refreshed now even though the stored one has not
    /// expired: a call outside a delivery (deleting a post) got a 401, so the token died early.
    pub fn renewed_access_token_for(&self, connection: &SocialConnection) -> Result<String> {
        self.token_outside_a_delivery(connection, true)
    }

    fn token_outside_a_delivery(
        &self,
        connection: &SocialConnection,
        force: bool,
    ) -> Result<String> {
        let inner = &self.inner;
        let provider = inner.providers.get(connection.platform).ok_or_else(|| {
            Error::new(
                Code::PlatformNotSupported,
                "This platform is not available.",
            )
        })?;
        let credentials = inner
            .credentials
            .for_connection(connection)?
            .ok_or_else(|| {
                Error::new(
                    Code::CredentialsMissing,
                    "The credentials this account was connected with are no longer configured.",
                )
            })?;
        self.fresh_access_token(connection, provider.as_ref(), &credentials, force)
            .map_err(|outcome| match outcome {
                Outcome::Failed { code, message } | Outcome::RetryAt { code, message, .. } => {
                    Error::new(code, message)
                }
                _ => Error::internal("unexpected outcome"),
            })
    }

    /// The connection's access token, refreshed first when it has expired or is about to (or
    /// when `force`d after a 401). Errors come back as the outcome to record.
    pub(super) fn fresh_access_token(
        &self,
        connection: &SocialConnection,
        provider: &dyn Provider,
        credentials: &ClientCredentials,
        force: bool,
    ) -> std::result::Result<String, Outcome> {
        let inner = &self.inner;
        let key = connection.platform.key();
        let now = inner.clock.now();
        if !force && !stale(connection, now) {
            return connection
                .access_token(&inner.sealer)
                .ok_or_else(|| undecryptable(key));
        }
        if !connection.can_auto_refresh(now) {
            return Err(self.expired_for_good(connection, now));
        }
        let lock = self.refresh_lock(&connection.id);
        let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        // Another delivery may have refreshed while this one waited: read again first.
        let current = match inner.db.read(|c| connections::get(c, &connection.id)) {
            Ok(Some(c)) => c,
            _ => {
                return Err(failed(
                    Code::PlatformNotConnected,
                    format!("The {key} connection was removed."),
                ));
            }
        };
        if current.access_token_enc != connection.access_token_enc && !stale(&current, now) {
            return current
                .access_token(&inner.sealer)
                .ok_or_else(|| undecryptable(key));
        }
        self.refresh(&current, provider, credentials)
    }

    /// The token has expired and nothing can renew it: the connection is marked for
    /// reconnecting, and the outcome says so.
    fn expired_for_good(&self, connection: &SocialConnection, now: DateTime<Utc>) -> Outcome {
        let inner = &self.inner;
        let key = connection.platform.key();
        let message = format!(
            "The {key} access token has expired and cannot be refreshed (no usable refresh token); the user must connect again."
        );
        connections::flag_for_reconnect(
            &inner.db,
            &connection.id,
            Code::TokenExpired,
            &message,
            now,
        );
        Outcome::Failed {
            code: Code::TokenExpired,
            message,
        }
    }

    fn refresh_lock(&self, connection_id: &str) -> Arc<Mutex<()>> {
        let mut locks = self
            .inner
            .refresh_locks
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        locks.entry(connection_id.to_string()).or_default().clone()
    }

    /// Refreshes `current`'s token at the platform (the caller holds its lock) and stores the
    /// answer. A platform that refuses the refresh token means the person must connect again.
    fn refresh(
        &self,
        current: &SocialConnection,
        provider: &dyn Provider,
        credentials: &ClientCredentials,
    ) -> std::result::Result<String, Outcome> {
        let inner = &self.inner;
        let key = current.platform.key();
        let now = inner.clock.now();
        let refresh_token = current
            .refresh_token(&inner.sealer)
            .ok_or_else(|| undecryptable(key))?;
        let result = match provider.refresh(credentials, &refresh_token) {
            Ok(tokens) => {
                let now = inner.clock.now();
                inner
                    .db
                    .write(|tx| {
                        connections::store_refreshed_tokens(
                            tx,
                            &inner.sealer,
                            &current.id,
                            &tokens,
                            now,
                        )
                    })
                    .map_err(|e| Outcome::Failed {
                        code: Code::InternalError,
                        message: e.message,
                    })
                    .map(|_| tokens.access_token)
            }
            Err(ProviderError::OAuth { error, message }) => {
                let message = format!(
                    "{key} refused to refresh the token ({error}: {message}); the user must connect again."
                );
                connections::flag_for_reconnect(
                    &inner.db,
                    &current.id,
                    Code::NeedsReconnect,
                    &message,
                    now,
                );
                Err(Outcome::Failed {
                    code: Code::NeedsReconnect,
                    message,
                })
            }
            // The OAuth endpoint was down, throttled or silent: nothing was published, and a
            // later attempt may refresh (the engine holds it to the attempt limit).
            Err(
                error @ (ProviderError::Transient { .. }
                | ProviderError::Unknown { .. }
                | ProviderError::Unreachable { .. }
                | ProviderError::RateLimited { .. }),
            ) => {
                let (code, hint) = match &error {
                    ProviderError::RateLimited { retry_after, .. } => {
                        (Code::RateLimited, *retry_after)
                    }
                    ProviderError::Unreachable { .. } => (Code::PlatformUnreachable, None),
                    _ => (Code::PlatformUnavailable, None),
                };
                Err(Outcome::RetryAt {
                    code,
                    message: format!(
                        "Refreshing the {key} token failed ({}); nothing was published, retrying automatically",
                        error.message()
                    ),
                    at: now + super::backoff(1, hint),
                })
            }
            Err(other) => Err(Outcome::Failed {
                code: other.code(),
                message: format!("Refreshing the {key} token failed: {}", other.message()),
            }),
        };
        let counted = match &result {
            Ok(_) => RefreshOutcome::Refreshed,
            Err(Outcome::Failed {
                code: Code::NeedsReconnect,
                ..
            }) => RefreshOutcome::Refused,
            Err(_) => RefreshOutcome::Failed,
        };
        crate::metrics::record_token_refresh(key, counted);
        result
    }
}
