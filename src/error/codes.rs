//! The catalogue of every error code the appliance produces, one row per code: its name, the
//! HTTP status when the API (or the server itself) answers with it, and a one-line meaning for
//! each place a customer meets it. Nothing else in the crate spells a code: an `Error`, a
//! delivery outcome, a connection's last error and a connect redirect all carry a `Code`.
//!
//! A row has up to five columns, in this order:
//! - `api STATUS "meaning"`: an answer of the API (`{"message","error","statusCode","code"}`),
//!   whether a handler or the server (our tiny_http, `vendor/`) gives it;
//! - `internal STATUS "meaning"`: an `Error` no API caller ever sees as a code (the dashboard
//!   and the CLI show its message, the connect pages their own page; the simulator's control
//!   API), with the status of the page or answer it becomes;
//! - `logged "meaning"`: a provider's code that is never answered nor recorded as itself (the
//!   caller folds it into another code, keeping its message);
//! - `delivery "meaning"`: a `platformResults[].errorCode` of a post (and `lastErrorCode` of a
//!   connection);
//! - `deletion "meaning"`: a `platformResults[].deletion.errorCode` of a post that only a
//!   deletion records (a failed deletion otherwise records a delivery code, whose meaning holds
//!   for the delete call);
//! - `connect "meaning"`: the `errorCode` of a connect redirect and of its connect session.
//!
//! The README's "Error codes" section is rendered from these rows; a test keeps it current.

use std::fmt;

/// One row of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub name: &'static str,
    /// The HTTP status of an answer carrying the code; `None` for codes only recorded (deliveries,
    /// connect sessions), which never make an answer of their own.
    pub status: Option<u16>,
    pub api: Option<&'static str>,
    /// Meaning where the code is not shown to an API caller (`internal` and `logged` rows).
    pub internal: Option<&'static str>,
    pub delivery: Option<&'static str>,
    pub deletion: Option<&'static str>,
    pub connect: Option<&'static str>,
}

macro_rules! error_codes {
    (@opt) => { None };
    (@opt $value:literal) => { Some($value) };
    ($(
        $variant:ident $name:literal {
            $(api $api_status:literal $api:literal,)?
            $(internal $internal_status:literal $internal:literal,)?
            $(logged $logged:literal,)?
            $(delivery $delivery:literal,)?
            $(deletion $deletion:literal,)?
            $(connect $connect:literal,)?
        }
    )*) => {
        /// Every error code of the appliance; see the module's documentation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            /// In catalogue order, which is the order of the README's tables.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            pub const fn entry(self) -> Entry {
                match self {
                    $(Code::$variant => Entry {
                        name: $name,
                        // A row names at most one status (api or internal): two would not match.
                        status: error_codes!(@opt $($api_status)? $($internal_status)?),
                        api: error_codes!(@opt $($api)?),
                        internal: error_codes!(@opt $($internal)? $($logged)?),
                        delivery: error_codes!(@opt $($delivery)?),
                        deletion: error_codes!(@opt $($deletion)?),
                        connect: error_codes!(@opt $($connect)?),
                    },)*
                }
            }
        }
    };
}

error_codes! {
    // ----- answers of the API: a handler's refusals -----
    ValidationFailed "VALIDATION_FAILED" {
        api 400 "a field, path segment or query parameter breaks a rule of \"Input rules\" or a platform option's rule; the message names it",
    }
    InvalidJson "INVALID_JSON" {
        api 400 "the body is not valid JSON",
    }
    BodyReadFailed "BODY_READ_FAILED" {
        api 400 "the body did not arrive completely within the read timeout",
    }
    NoPlatformsSelected "NO_PLATFORMS_SELECTED" {
        api 400 "`platforms` is an empty array",
    }
    ContentTooLong "CONTENT_TOO_LONG" {
        api 400 "`content`, `title` (or YouTube's `tags`, Instagram's hashtags and mentions) over a platform's limit, counted the platform's way",
        delivery "the platform refused the text as too long (Reddit checks some limits only when posting)",
    }
    MediaRequired "MEDIA_REQUIRED" {
        api 400 "the platform publishes only media and no `mediaUrl` was sent",
        delivery "the platform needs media and the post has none",
    }
    UnsupportedMediaType "UNSUPPORTED_MEDIA_TYPE" {
        api 400 "the media (or `thumbnailUrl`) is of a kind or format the platform does not take there (or an image outside Instagram's 4:5 to 1.91:1 aspect ratio)",
        delivery "the downloaded media (or thumbnail) turned out to be of a kind or format the platform does not take",
    }
    MediaUnreachable "MEDIA_UNREACHABLE" {
        api 400 "a `mediaUrl` without a file extension could not be checked",
    }
    TitleRequired "TITLE_REQUIRED" {
        api 400 "the platform needs a `title` (Reddit, YouTube)",
    }
    TargetRequired "TARGET_REQUIRED" {
        api 400 "the platform needs a target: `platformOptions.pinterest.boardId`, `platformOptions.reddit.subreddit`",
        delivery "the post names no target the platform can use (a Reddit subreddit)",
    }
    PlatformNotConnected "PLATFORM_NOT_CONNECTED" {
        api 400 "the end user has no usable connection to that platform (posts, targets)",
        delivery "the connection was removed or disconnected before the post was delivered",
    }
    PlatformNeedsReconnect "PLATFORM_NEEDS_RECONNECT" {
        api 400 "the platform refused the connection's token, or it expired and cannot be refreshed: send the user through a connect session",
    }
    PlatformNotSupported "PLATFORM_NOT_SUPPORTED" {
        api 400 "this build has no adapter for that platform",
        delivery "this build has no adapter for the platform",
    }
    PlatformNotConfigured "PLATFORM_NOT_CONFIGURED" {
        api 400 "no client credentials for that platform (the app's own or the instance's managed ones)",
    }
    RedirectUriNotAllowed "REDIRECT_URI_NOT_ALLOWED" {
        api 400 "a connect session's `redirectUri` is not on the app's allowlist",
    }
    NoTargets "NO_TARGETS" {
        api 400 "the targets endpoint, for a platform without a list of targets; the message says where its posts go",
    }
    InvalidIdempotencyKey "INVALID_IDEMPOTENCY_KEY" {
        api 400 "the `Idempotency-Key` header is empty, longer than 255 bytes or holds control characters",
    }
    WebhookUrlNotAllowed "WEBHOOK_URL_NOT_ALLOWED" {
        api 400 "a webhook endpoint's `url` is not an absolute http(s) URL of at most 2,048 characters, or names a loopback, private or link-local address this instance does not call",
    }
    // ----- answers of the API: the server's own refusals (tiny_http in vendor/) -----
    BadRequestLine "BAD_REQUEST_LINE" {
        api 400 "the request line is not `METHOD /path HTTP/1.x` (answered by the server before any route)",
    }
    BadHeader "BAD_HEADER" {
        api 400 "a header line is malformed or holds a byte that is not ASCII; the message names the header",
    }
    Unauthorized "UNAUTHORIZED" {
        api 401 "no bearer key, or one that is malformed, unknown or revoked (with `WWW-Authenticate: Bearer`)",
    }
    MetricsForbidden "METRICS_FORBIDDEN" {
        api 403 "`GET /metrics` from an address other than loopback (or through a proxy) while `MYPOSTSHARE_METRICS_TOKEN` is unset",
    }
    InsufficientCredits "INSUFFICIENT_CREDITS" {
        api 402 "the organization's balance is below the post's price; the message names both",
    }
    EndUserNotFound "END_USER_NOT_FOUND" {
        api 404 "no end user with that `externalUserId` in this app",
    }
    NotFound "NOT_FOUND" {
        api 404 "no such endpoint, post, connect session or connection (another app's count as missing)",
    }
    MethodNotAllowed "METHOD_NOT_ALLOWED" {
        api 405 "the path exists, the method does not; the message lists the allowed ones, and so does `Allow`",
    }
    HeadTimeout "HEAD_TIMEOUT" {
        api 408 "the request line and headers did not arrive within `MYPOSTSHARE_HEAD_TIMEOUT_SECS`",
    }
    IdempotencyKeyReused "IDEMPOTENCY_KEY_REUSED" {
        api 409 "the `Idempotency-Key` was used within 24 h with another body",
    }
    IdempotencyKeyInProgress "IDEMPOTENCY_KEY_IN_PROGRESS" {
        api 409 "a request with that `Idempotency-Key` is still running",
    }
    InvalidStatusTransition "INVALID_STATUS_TRANSITION" {
        api 409 "cancel, edit (`PATCH`), delete or retry of a post whose status does not allow it (only a `scheduled` post not yet picked up can be cancelled or edited; deleted, a `scheduled` one or one the platforms published: `published`, `partial_success`; retried, a `failed` or `partial_success` one not deleted); the message names the status",
    }
    NotRetryable "NOT_RETRYABLE" {
        api 409 "retry of a post none of whose failed deliveries (or one named in `platforms`) may pass by being sent again; the message says why for each platform",
    }
    EditConflict "EDIT_CONFLICT" {
        api 409 "`PATCH` of a post that other requests kept changing while this one was being validated; send it again",
    }
    WebhookEndpointDisabled "WEBHOOK_ENDPOINT_DISABLED" {
        api 409 "a test event or a resend for a disabled webhook endpoint; enable it first (`PATCH` with `{\"enabled\": true}`)",
    }
    PayloadTooLarge "PAYLOAD_TOO_LARGE" {
        api 413 "the body is over `MYPOSTSHARE_MAX_BODY_BYTES`",
    }
    ExpectationFailed "EXPECTATION_FAILED" {
        api 417 "an `Expect` header other than `100-continue`",
    }
    TooManyConnections "TOO_MANY_CONNECTIONS" {
        api 429 "the client's address already holds `MYPOSTSHARE_MAX_CONNECTIONS_PER_IP` connections",
    }
    // Two meanings: our API throttling its caller, and a platform throttling us in a delivery.
    RateLimited "RATE_LIMITED" {
        api 429 "this API key used up its budget (general or publishing), or this client address its failed authentications (then the key is not checked); retry after `Retry-After` seconds (see \"Rate limits\")",
        delivery "the platform throttled the call; retried automatically (3 attempts, exponential backoff honouring `Retry-After`), recorded when the attempts run out",
    }
    HeadersTooLarge "HEADERS_TOO_LARGE" {
        api 431 "the request line and headers take more than 16 KiB (more than 64 KiB is refused while reading)",
    }
    InternalError "INTERNAL_ERROR" {
        api 500 "a fault on the appliance's side; the log has the cause under the request id",
        delivery "a fault on the appliance's side (reading the connection, storing a refreshed token); the log has the cause",
    }
    PlatformError "PLATFORM_ERROR" {
        api 503 "the targets endpoint: the platform failed to list the targets or to refresh the token",
    }
    DatabaseUnavailable "DATABASE_UNAVAILABLE" {
        api 503 "no database connection became free within 15 s; retry shortly",
    }
    ServerBusy "SERVER_BUSY" {
        api 503 "`MYPOSTSHARE_MAX_CONNECTIONS` connections are open and none is idle, or the system refused a thread for the connection (its thread limit); retry shortly (`Retry-After` when the cap was hit)",
    }
    RequestNotHandled "REQUEST_NOT_HANDLED" {
        api 503 "the server stopped before a handler took the request (shutting down); retry",
    }
    HttpVersionNotSupported "HTTP_VERSION_NOT_SUPPORTED" {
        api 505 "an HTTP/2 or HTTP/3 request line sent as text; use HTTP/1.1",
    }

    // ----- deliveries only -----
    NeedsReconnect "NEEDS_RECONNECT" {
        delivery "the platform refused the connection's token (revoked, or its refresh refused), or the stored token cannot be decrypted: the connection needs a new connect session",
    }
    TokenExpired "TOKEN_EXPIRED" {
        delivery "the access token expired and there is no usable refresh token: the connection needs a new connect session",
    }
    PlatformUnreachable "PLATFORM_UNREACHABLE" {
        delivery "the platform could not be reached (connection refused, DNS); retried automatically like `RATE_LIMITED`",
    }
    PlatformUnavailable "PLATFORM_UNAVAILABLE" {
        delivery "the platform answered 5xx (or Meta's code 1 or 2): retried automatically when the failing step publishes nothing (an upload, a status read); from the call that creates the post (or one after it), the platform is read back before anything is sent again (a `processing` delivery carries this code meanwhile): found is `published`, certainly absent is published again; as a final result, reading back could not tell whether the platform has the post (the message says why), or a look at media the platform already holds kept failing: it may have published it, so it is never sent again automatically",
    }
    PlatformUnavailableBeforePublishing "PLATFORM_UNAVAILABLE_BEFORE_PUBLISHING" {
        delivery "the platform kept failing (5xx, Meta's code 1 or 2, no answer in time) in steps that publish nothing (token refresh, uploads, status reads) until the attempt limit, or kept losing the answer to a publish that reading it back showed it never made: nothing was published",
    }
    DuplicatePost "DUPLICATE_POST" {
        delivery "the platform refused the post as a duplicate of an earlier one",
    }
    PlatformRejected "PLATFORM_REJECTED" {
        delivery "the platform refused the post for good; `errorMessage` quotes its reason",
    }
    PlatformVersionRetired "PLATFORM_VERSION_RETIRED" {
        delivery "LinkedIn no longer serves the API version the adapter sends (`MYPOSTSHARE_LINKEDIN_API_VERSION`)",
    }
    PlatformAccessTier "PLATFORM_ACCESS_TIER" {
        delivery "the app's access tier at the platform does not allow this (Pinterest Trial apps create Pins only on the sandbox host: set the credentials' API host to sandbox, or get Standard access)",
    }
    FlairRequired "FLAIR_REQUIRED" {
        delivery "the subreddit requires post flair: send `platformOptions.reddit.flairId` (`errorMessage` lists the subreddit's flair templates)",
    }
    OutcomeUnknown "OUTCOME_UNKNOWN" {
        delivery "the call was cut off (a crash mid-call, or no readable answer in time) and reading the platform back could not tell whether it has the post (the message says why): it may have published it, so it is never sent again blindly; while the read-back runs, a `processing` delivery carries this code",
    }
    TargetNotFound "TARGET_NOT_FOUND" {
        delivery "the target does not exist or takes no posts (a Reddit subreddit, a Pinterest board)",
    }
    MediaFetchFailed "MEDIA_FETCH_FAILED" {
        delivery "`mediaUrl` (or `thumbnailUrl`) could not be downloaded, by the appliance or by the platform",
    }
    MediaTooLarge "MEDIA_TOO_LARGE" {
        api 400 "`mediaUrl` is over a selected platform's size limit, found before anything is charged (Instagram's 8 MiB for images)",
        delivery "the media (or thumbnail) is over the platform's size limit",
    }
    MediaUploadFailed "MEDIA_UPLOAD_FAILED" {
        delivery "the platform refused the media upload (Pinterest)",
    }
    MediaProcessingFailed "MEDIA_PROCESSING_FAILED" {
        delivery "the platform could not process the media; `errorMessage` quotes its reason",
    }
    ProcessingTimeout "PROCESSING_TIMEOUT" {
        delivery "the platform was still processing the media after 6 hours; check the account before posting again",
    }
    CredentialsMissing "CREDENTIALS_MISSING" {
        delivery "the client credentials the account was connected with are no longer configured (the app's removed, or the managed ones withdrawn)",
    }

    // ----- deletions only -----
    DeleteNotAvailable "DELETE_NOT_AVAILABLE" {
        deletion "deleting the post through the platform's API is not available (Instagram's adapter has no delete call): `deletion.status` is `not_supported`; delete it in the platform's own app",
    }

    // ----- connect redirects and connect sessions -----
    AccessDenied "access_denied" {
        connect "the person declined on the platform's consent page (or cancelled its dialog)",
    }
    SessionExpired "session_expired" {
        connect "the connect session expired (15 minutes) before the platform answered",
    }
    ProviderError "provider_error" {
        connect "the platform answered the authorization with an error other than a refusal; `errorMessage` quotes it",
    }
    ProviderCallbackFailed "provider_callback_failed" {
        connect "the callback could not complete the connection: no code, another platform's callback, a refused code exchange, an unreadable account, or a storage fault",
    }

    // ----- never shown to an API caller as a code -----
    SessionNotOpen "SESSION_NOT_OPEN" {
        internal 409 "Continue on a connect page whose session is no longer open; the page says the link expired",
    }
    OauthFailed "OAUTH_FAILED" {
        logged "a platform refused an OAuth step; the connect flow records `provider_callback_failed`, a refresh `NEEDS_RECONNECT`",
    }
    NoPagesGranted "NO_PAGES_GRANTED" {
        logged "Facebook: the person granted no Page; the connect flow records `provider_callback_failed` with this message",
    }
    InvalidRedirectUri "INVALID_REDIRECT_URI" {
        internal 400 "dashboard and CLI: a redirect URI an operator adds breaks the allowlist's rules",
    }
    OperatorExists "OPERATOR_EXISTS" {
        internal 409 "dashboard and CLI: an operator with that email exists",
    }
    LastOperator "LAST_OPERATOR" {
        internal 409 "dashboard: the last operator cannot be removed",
    }
    SetupLinkInvalid "SETUP_LINK_INVALID" {
        internal 403 "dashboard: the setup link is unknown, used or expired",
    }
}

impl Code {
    /// The code as it appears on the wire and in the database.
    pub const fn as_str(self) -> &'static str {
        self.entry().name
    }

    /// The HTTP status of an answer carrying this code; `None` for codes only recorded.
    pub const fn status(self) -> Option<u16> {
        self.entry().status
    }

    pub fn parse(name: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Codes are stored as their name (`post_deliveries.error_code`, `social_connections.
/// last_error_code`, `connect_sessions.error_code`); they are read back as text, since a row
/// may hold a code an earlier version wrote.
impl rusqlite::ToSql for Code {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::Borrowed(
            rusqlite::types::ValueRef::Text(self.as_str().as_bytes()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_each_row_says_where_it_is_met() {
        let mut seen = HashSet::new();
        for code in Code::ALL {
            let entry = code.entry();
            assert!(seen.insert(entry.name), "{} twice", entry.name);
            assert_eq!(Code::parse(entry.name), Some(*code));
            assert!(
                entry.api.is_some()
                    || entry.internal.is_some()
                    || entry.delivery.is_some()
                    || entry.deletion.is_some()
                    || entry.connect.is_some(),
                "{} has no meaning",
                entry.name
            );
            // API codes are SCREAMING_SNAKE_CASE; the connect redirect's are the spec's
            // snake_case.
            let upper = entry
                .name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b == b'_');
            let lower = entry
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_');
            assert!(
                if entry.connect.is_some() {
                    lower
                } else {
                    upper
                },
                "{} is not in its surface's case",
                entry.name
            );
            // A code the API answers with has a status; one only recorded has none.
            if entry.api.is_some() {
                assert!(entry.status.is_some(), "{}", entry.name);
            }
            if entry.status.is_none() {
                assert!(entry.api.is_none(), "{}", entry.name);
            }
        }
        assert_eq!(Code::parse("NO_SUCH_CODE"), None);
    }

    /// The README's four tables of codes, as the catalogue renders them.
    fn readme_tables() -> [(&'static str, String); 4] {
        let mut api = String::from("| code | status | meaning |\n|---|---|---|\n");
        let mut delivery = String::from("| code | meaning |\n|---|---|\n");
        let mut deletion = String::from("| code | meaning |\n|---|---|\n");
        let mut connect = String::from("| code | meaning |\n|---|---|\n");
        for code in Code::ALL {
            let entry = code.entry();
            if let (Some(meaning), Some(status)) = (entry.api, entry.status) {
                api.push_str(&format!("| `{}` | {status} | {meaning} |\n", entry.name));
            }
            if let Some(meaning) = entry.deletion {
                deletion.push_str(&format!("| `{}` | {meaning} |\n", entry.name));
            }
            if let Some(meaning) = entry.connect {
                connect.push_str(&format!("| `{}` | {meaning} |\n", entry.name));
            }
        }
        // Codes met only in deliveries first; then those a refusal of the API shares.
        let (only, shared): (Vec<Entry>, Vec<Entry>) = Code::ALL
            .iter()
            .map(|c| c.entry())
            .filter(|e| e.delivery.is_some())
            .partition(|e| e.api.is_none());
        for entry in only.iter().chain(&shared) {
            let meaning = entry.delivery.unwrap_or_default();
            delivery.push_str(&format!("| `{}` | {meaning} |\n", entry.name));
        }
        [
            ("api", api),
            ("delivery", delivery),
            ("deletion", deletion),
            ("connect", connect),
        ]
    }

    /// Every code a customer can meet is in the README with the catalogue's status and
    /// meaning (the tables between `<!-- codes:NAME -->` markers are the catalogue's rendering;
    /// `UPDATE_README=1` rewrites them), and every code the README names outside the platform
    /// and simulator sections (which quote the platforms' own words) is in the catalogue, with
    /// the same status wherever one is written before it (`413 `PAYLOAD_TOO_LARGE``).
    #[test]
    fn readme_lists_every_code_as_the_catalogue_has_it() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).expect("README.md");
        let mut expected = readme.clone();
        for (name, table) in readme_tables() {
            let open = format!("<!-- codes:{name} -->\n");
            let close = format!("<!-- /codes:{name} -->");
            let start = expected
                .find(&open)
                .unwrap_or_else(|| panic!("README.md lacks {open:?}"))
                + open.len();
            let end = start
                + expected[start..]
                    .find(&close)
                    .unwrap_or_else(|| panic!("README.md lacks {close:?}"));
            expected.replace_range(start..end, &table);
        }
        if expected != readme {
            if std::env::var_os("UPDATE_README").is_some() {
                std::fs::write(path, &expected).expect("writing README.md");
            } else {
                panic!(
                    "README.md's tables of error codes differ from the catalogue in src/error/codes.rs; \
                     run `UPDATE_README=1 cargo test --lib readme` and review the diff"
                );
            }
        }

        let mut checked = 0;
        let mut section = "";
        for line in readme.lines() {
            if let Some(title) = line.strip_prefix("## ") {
                section = title;
            }
            if section == "Platforms" || section.starts_with("The platform simulator") {
                continue;
            }
            for (at, _) in line.match_indices('`') {
                let name: String = line[at + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                let closes = line[at + 1 + name.len()..].starts_with('`');
                let word = name.starts_with(|c: char| c.is_ascii_uppercase()) && name.contains('_');
                if !closes || !word || name.starts_with("MYPOSTSHARE_") {
                    continue;
                }
                let code = Code::parse(&name).unwrap_or_else(|| {
                    panic!("README.md names `{name}`, which is no code: {line}")
                });
                let before = line[..at].trim_end();
                if let Some(status) = before
                    .get(before.len().saturating_sub(3)..)
                    .and_then(|n| n.parse::<u16>().ok())
                {
                    assert_eq!(code.status(), Some(status), "README.md: {line}");
                }
                checked += 1;
            }
        }
        assert!(
            checked > Code::ALL.len(),
            "only {checked} codes found in README.md"
        );
    }

    /// A delivery records `ProviderError::code()` and the codes the engine names itself; each
    /// must say what it means as a delivery result (or be a `logged` row, which the engine folds
    /// into another code). Reads the adapters and the engine for `code: Code::X` and
    /// `failed(Code::X`, wherever the engine lives. The adapters' `delete_post` answers through
    /// the same errors, so a code only a deletion records (`deletion` rows) passes too.
    #[test]
    fn every_code_a_delivery_records_has_a_delivery_meaning() {
        use crate::providers::ProviderError;
        let message = String::new;
        for error in [
            ProviderError::Unauthorized { message: message() },
            ProviderError::RateLimited {
                retry_after: None,
                message: message(),
            },
            ProviderError::Transient {
                status: 503,
                message: message(),
                call: crate::providers::CallKind::Publishing,
            },
            ProviderError::Unreachable { message: message() },
            ProviderError::Unknown { message: message() },
        ] {
            assert!(error.code().entry().delivery.is_some(), "{error:?}");
        }
        let root = env!("CARGO_MANIFEST_DIR");
        let mut files = Vec::new();
        // Every `.rs` file under these folders, submodules' folders included.
        let mut dirs: Vec<std::path::PathBuf> = ["src/providers", "src/delivery"]
            .iter()
            .map(|dir| format!("{root}/{dir}").into())
            .collect();
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten() {
                let path = entry.expect("an entry").path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    files.push(path);
                }
            }
        }
        files.push(format!("{root}/src/engine.rs").into());
        let mut checked = 0;
        for path in files.into_iter().filter(|p| p.exists()) {
            let source = std::fs::read_to_string(&path).expect("a source file");
            for prefix in ["code: Code::", "failed(Code::", "failed(\n"] {
                for (at, _) in source.match_indices(prefix) {
                    let rest = source[at + prefix.len()..].trim_start();
                    let rest = rest.strip_prefix("Code::").unwrap_or(rest);
                    let variant: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric())
                        .collect();
                    let Some(code) = Code::ALL.iter().find(|c| format!("{c:?}") == variant) else {
                        continue;
                    };
                    let entry = code.entry();
                    let logged = entry.internal.is_some() && entry.status.is_none();
                    assert!(
                        entry.delivery.is_some() || entry.deletion.is_some() || logged,
                        "{}: {} is recorded by deliveries or deletions but has no meaning there",
                        path.display(),
                        entry.name
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 40, "only {checked} delivery codes found");
    }

    /// The server's own refusals come from our tiny_http as strings with a status; each must be
    /// a catalogue code with the same status, since the observer in `http::server` answers with
    /// them in the API's error shape. Reads the vendored sources, where each refusal names its
    /// status right before its code (`reject(ver, 400, "BAD_HEADER", ...)`,
    /// `status: 429, code: "TOO_MANY_CONNECTIONS"`).
    #[test]
    fn every_refusal_of_the_vendored_server_is_catalogued_with_its_status() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/vendor/tiny_http/src");
        let mut found = Vec::new();
        for file in std::fs::read_dir(dir).expect("vendor/tiny_http/src") {
            let path = file.expect("a directory entry").path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let source = std::fs::read_to_string(&path).expect("a source file");
            for (name, status) in refusals_in(&source) {
                found.push(name.clone());
                let code = Code::parse(&name).unwrap_or_else(|| {
                    panic!("{name} ({}) is not in the catalogue", path.display())
                });
                assert_eq!(code.status(), Some(status), "{name}");
                assert!(code.entry().api.is_some(), "{name} must be an API code");
            }
        }
        for expected in [
            "BAD_REQUEST_LINE",
            "BAD_HEADER",
            "HEAD_TIMEOUT",
            "HEADERS_TOO_LARGE",
            "EXPECTATION_FAILED",
            "HTTP_VERSION_NOT_SUPPORTED",
            "TOO_MANY_CONNECTIONS",
            "SERVER_BUSY",
            "REQUEST_NOT_HANDLED",
        ] {
            assert!(
                found.iter().any(|n| n == expected),
                "{expected} not found: {found:?}"
            );
        }
    }

    /// `"SCREAMING_CODE"` literals and the three-digit status written closest before each.
    fn refusals_in(source: &str) -> Vec<(String, u16)> {
        let bytes = source.as_bytes();
        let mut out = Vec::new();
        for (at, _) in source.match_indices('"') {
            let name: String = source[at + 1..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                .collect();
            let closes = bytes.get(at + 1 + name.len()) == Some(&b'"');
            if !closes || name.len() < 4 || !name.contains('_') {
                continue;
            }
            let mut from = at.saturating_sub(120);
            while !source.is_char_boundary(from) {
                from += 1;
            }
            let status = source[from..at]
                .split(|c: char| !c.is_ascii_digit())
                .filter(|n| n.len() == 3)
                .filter_map(|n| n.parse::<u16>().ok())
                .next_back()
                .unwrap_or_else(|| panic!("no status before {name}"));
            out.push((name, status));
        }
        out
    }
}
