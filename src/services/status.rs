//! The states stored as text, as Rust enums: each mirrors the `CHECK` list of its column in
//! `schema.sql` (a test compares them), is written and read through `ToSql`/`FromSql`, and is
//! rendered on the wire and in pages as the same lower-case word. Rust code compares states
//! only as these enums; SQL names them in its own text, checked by a test as well.
//!
//! A value a column's enum does not know fails to read with an error that names the column,
//! the value and the values allowed, rather than being taken for another state.

use crate::providers::MediaKind;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use std::fmt;

/// Declares a text enum: `as_str`, `parse`, `ALL`, `Display` and `Serialize` as the word,
/// and with `stored in "table.column"`, `ToSql`/`FromSql` for that column.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $name:ident $(stored in $column:literal)? {
            $($(#[$variant_meta:meta])* $variant:ident = $text:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)*
                    _ => None,
                }
            }

            /// The words, for messages that list them.
            pub fn names() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        $(
            impl $name {
                /// The column this enum mirrors.
                pub const COLUMN: &'static str = $column;
            }

            impl ToSql for $name {
                fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                    Ok(ToSqlOutput::Borrowed(ValueRef::Text(self.as_str().as_bytes())))
                }
            }

            impl FromSql for $name {
                fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                    let text = value.as_str()?;
                    $name::parse(text).ok_or_else(|| {
                        FromSqlError::Other(Box::new(UnknownState {
                            column: $column,
                            value: text.to_string(),
                            allowed: $name::names(),
                        }))
                    })
                }
            }
        )?
    };
}

/// A stored state that its column's enum does not know (written by hand, or by another
/// version): reading it is an error, never a guess.
#[derive(Debug)]
pub struct UnknownState {
    pub column: &'static str,
    pub value: String,
    pub allowed: String,
}

impl fmt::Display for UnknownState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} holds {:?}, which is none of: {}",
            self.column, self.value, self.allowed
        )
    }
}

impl std::error::Error for UnknownState {}

text_enum! {
    /// A post request's status, derived from its deliveries (`posts::recompute_status`).
    /// `pending` is in the schema's list but never written: a post starts `processing` or
    /// `scheduled`.
    PostStatus stored in "post_requests.status" {
        Pending = "pending",
        Processing = "processing",
        Published = "published",
        Failed = "failed",
        PartialSuccess = "partial_success",
        Scheduled = "scheduled",
        Cancelled = "cancelled",
    }
}

impl PostStatus {
    /// Nothing will change it any more: `processedAt` is stamped.
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            PostStatus::Scheduled | PostStatus::Processing | PostStatus::Pending
        )
    }
}

text_enum! {
    /// One platform's delivery of a post: `pending -> processing (leased) -> published |
    /// failed`, or back to `pending` for a retry.
    DeliveryStatus stored in "post_deliveries.status" {
        Pending = "pending",
        Processing = "processing",
        Published = "published",
        Failed = "failed",
        Cancelled = "cancelled",
    }
}

text_enum! {
    /// What `DELETE /v1/posts/{id}` of a sent post found for one delivery (`deletion.status`
    /// of a platform result): deleted on the platform (or gone already), not possible through
    /// the platform's API, failed (the next DELETE tries again), or never published.
    DeletionStatus stored in "post_deletions.status" {
        Deleted = "deleted",
        NotSupported = "not_supported",
        Failed = "failed",
        NothingToDelete = "nothing_to_delete",
    }
}

text_enum! {
    /// Which call one delivery attempt made (`delivery_attempts.step`, shown in the attempt
    /// log): a new publish, another look at media the platform is still processing, a read-back
    /// of a publish that was cut off (did the platform publish it?), or none, when the attempt
    /// ended while it was being prepared (connection, credentials, token).
    AttemptStep stored in "delivery_attempts.step" {
        Prepare = "prepare",
        Publish = "publish",
        Resume = "resume",
        Reconcile = "reconcile",
    }
}

text_enum! {
    /// A social connection's status; `error` goes with `needs_reconnect`.
    ConnectionStatus stored in "social_connections.status" {
        Connected = "connected",
        Disconnected = "disconnected",
        Error = "error",
    }
}

text_enum! {
    /// A connect session's status (the state machine in `connect_sessions`).
    ConnectSessionStatus stored in "connect_sessions.status" {
        Pending = "pending",
        Redirected = "redirected",
        Connected = "connected",
        Failed = "failed",
        Expired = "expired",
    }
}

impl ConnectSessionStatus {
    /// Still waiting for the person (or for the platform's callback).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            ConnectSessionStatus::Pending | ConnectSessionStatus::Redirected
        )
    }
}

text_enum! {
    /// Publish now or at `scheduleAt`.
    Mode stored in "post_requests.mode" {
        Immediate = "immediate",
        Scheduled = "scheduled",
    }
}

text_enum! {
    /// Whose OAuth client a connection was made with: the app's own, or the instance's
    /// managed credentials. Stored on connect sessions and connections alike.
    CredentialSource stored in "social_connections.credential_source" {
        App = "app",
        Managed = "managed",
    }
}

text_enum! {
    /// What a connection's token allows now (`tokenStatus`; derived, never stored).
    TokenStatus {
        /// The platform gave a usable refresh token.
        ActiveRefreshable = "active_refreshable",
        Active = "active",
        /// No refresh token and under `connections::EXPIRING_SOON` days left.
        ExpiringSoon = "expiring_soon",
        Expired = "expired",
        /// The platform refused the token.
        NeedsReconnect = "needs_reconnect",
        /// Disconnected.
        Revoked = "revoked",
    }
}

text_enum! {
    /// A webhook endpoint: `enabled` receives events; `disabled` (by the customer, an
    /// operator, a `410 Gone` answer or days of failures) receives none.
    WebhookEndpointStatus stored in "webhook_endpoints.status" {
        Enabled = "enabled",
        Disabled = "disabled",
    }
}

text_enum! {
    /// One event on its way to one endpoint: `pending` until an attempt gets a 2xx
    /// (`succeeded`) or the retries run out or the endpoint is disabled (`failed`).
    WebhookDeliveryStatus stored in "webhook_deliveries.status" {
        Pending = "pending",
        Succeeded = "succeeded",
        Failed = "failed",
    }
}

text_enum! {
    /// The event types a webhook endpoint can subscribe to (`type` of every event), in the
    /// order the README lists them. `webhook.test` goes only to the endpoint it was asked for.
    WebhookEventType {
        PostPublished = "post.published",
        PostPartiallyPublished = "post.partially_published",
        PostFailed = "post.failed",
        PostCancelled = "post.cancelled",
        PostDeliveryUpdated = "post.delivery.updated",
        PostDeleted = "post.deleted",
        ConnectionConnected = "connection.connected",
        ConnectionDisconnected = "connection.disconnected",
        ConnectionNeedsReconnect = "connection.needs_reconnect",
        ConnectionTokenExpiring = "connection.token_expiring",
        ConnectSessionFailed = "connect_session.failed",
        CreditsLow = "credits.low",
        CreditsExhausted = "credits.exhausted",
        WebhookTest = "webhook.test",
    }
}

/// `post_requests.media_kind`: the kind lives with the providers, which decide it; its column
/// reads and writes the same way as the states above.
impl MediaKind {
    pub const COLUMN: &'static str = "post_requests.media_kind";
    pub const ALL: &'static [MediaKind] = &[MediaKind::Image, MediaKind::Video];
}

impl ToSql for MediaKind {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Text(
            self.as_str().as_bytes(),
        )))
    }
}

impl FromSql for MediaKind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        MediaKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == text)
            .ok_or_else(|| {
                FromSqlError::Other(Box::new(UnknownState {
                    column: MediaKind::COLUMN,
                    value: text.to_string(),
                    allowed: "image, video".into(),
                }))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    /// The values of `CHECK (column IN (...))` of `table.column` in the schema and every
    /// migration, in a `CREATE TABLE` or an `ALTER TABLE ... ADD COLUMN` (a later migration's
    /// list would replace the table, so the last one counts).
    fn check_list(column: &str) -> Vec<String> {
        let (table, column) = column.split_once('.').expect("table.column");
        let mut sources = vec![
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.sql"))
                .expect("schema.sql"),
        ];
        let mut migrations: Vec<_> =
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
                .expect("migrations/")
                .map(|e| e.expect("an entry").path())
                .collect();
        migrations.sort();
        for path in migrations {
            sources.push(std::fs::read_to_string(path).expect("a migration"));
        }
        let mut found = None;
        for source in &sources {
            let mut in_table = false;
            for line in source.lines() {
                let line = line.trim();
                let words: Vec<&str> = line.split_whitespace().collect();
                if line.starts_with("CREATE TABLE") {
                    in_table = words.get(2) == Some(&table);
                }
                // `ALTER TABLE t ADD COLUMN c ...` stands alone, outside any CREATE TABLE.
                let added = line.starts_with("ALTER TABLE")
                    && words.get(2) == Some(&table)
                    && words.get(5) == Some(&column);
                if !added && (!in_table || words.first() != Some(&column)) {
                    continue;
                }
                let Some((_, list)) = line.split_once(" IN (") else {
                    continue;
                };
                let list = &list[..list.find(')').expect("a closing parenthesis")];
                found = Some(
                    list.split(',')
                        .map(|v| v.trim().trim_matches('\'').to_string())
                        .collect(),
                );
            }
        }
        found.unwrap_or_else(|| panic!("no CHECK list for {table}.{column}"))
    }

    fn words<T: Copy>(all: &[T], as_str: fn(T) -> &'static str) -> Vec<String> {
        all.iter().map(|v| as_str(*v).to_string()).collect()
    }

    #[test]
    fn each_enum_mirrors_its_check_list() {
        assert_eq!(
            words(PostStatus::ALL, PostStatus::as_str),
            check_list(PostStatus::COLUMN)
        );
        assert_eq!(
            words(DeliveryStatus::ALL, DeliveryStatus::as_str),
            check_list(DeliveryStatus::COLUMN)
        );
        assert_eq!(
            words(ConnectionStatus::ALL, ConnectionStatus::as_str),
            check_list(ConnectionStatus::COLUMN)
        );
        assert_eq!(
            words(ConnectSessionStatus::ALL, ConnectSessionStatus::as_str),
            check_list(ConnectSessionStatus::COLUMN)
        );
        assert_eq!(words(Mode::ALL, Mode::as_str), check_list(Mode::COLUMN));
        assert_eq!(
            words(DeletionStatus::ALL, DeletionStatus::as_str),
            check_list(DeletionStatus::COLUMN)
        );
        assert_eq!(
            words(AttemptStep::ALL, AttemptStep::as_str),
            check_list(AttemptStep::COLUMN)
        );
        assert_eq!(
            words(CredentialSource::ALL, CredentialSource::as_str),
            check_list(CredentialSource::COLUMN)
        );
        assert_eq!(
            words(CredentialSource::ALL, CredentialSource::as_str),
            check_list("connect_sessions.credential_source")
        );
        assert_eq!(
            words(MediaKind::ALL, MediaKind::as_str),
            check_list(MediaKind::COLUMN)
        );
        assert_eq!(
            words(WebhookEndpointStatus::ALL, WebhookEndpointStatus::as_str),
            check_list(WebhookEndpointStatus::COLUMN)
        );
        assert_eq!(
            words(WebhookDeliveryStatus::ALL, WebhookDeliveryStatus::as_str),
            check_list(WebhookDeliveryStatus::COLUMN)
        );
    }

    fn round_trip<T>(all: &[T])
    where
        T: ToSql + FromSql + PartialEq + fmt::Debug + Copy,
    {
        let conn = Connection::open_in_memory().expect("an in-memory database");
        conn.execute("CREATE TABLE t (v TEXT)", [])
            .expect("a table");
        for value in all {
            conn.execute("DELETE FROM t", []).expect("a delete");
            conn.execute("INSERT INTO t (v) VALUES (?1)", [value])
                .expect("an insert");
            let back: T = conn
                .query_row("SELECT v FROM t", [], |r| r.get(0))
                .expect("a read");
            assert_eq!(back, *value);
        }
    }

    #[test]
    fn every_state_survives_the_database() {
        round_trip(PostStatus::ALL);
        round_trip(DeliveryStatus::ALL);
        round_trip(ConnectionStatus::ALL);
        round_trip(ConnectSessionStatus::ALL);
        round_trip(Mode::ALL);
        round_trip(DeletionStatus::ALL);
        round_trip(AttemptStep::ALL);
        round_trip(CredentialSource::ALL);
        round_trip(MediaKind::ALL);
        round_trip(WebhookEndpointStatus::ALL);
        round_trip(WebhookDeliveryStatus::ALL);
        let conn = Connection::open_in_memory().expect("an in-memory database");
        let stored: String = conn
            .query_row("SELECT ?1", [DeliveryStatus::Published], |r| r.get(0))
            .expect("a read");
        assert_eq!(stored, "published");
    }

    #[test]
    fn a_state_the_check_list_does_not_know_fails_to_read_and_says_why() {
        let conn = Connection::open_in_memory().expect("an in-memory database");
        let read = |text: &str| {
            conn.query_row("SELECT ?1", [text], |r| r.get::<_, DeliveryStatus>(0))
                .map_err(|e| e.to_string())
        };
        assert_eq!(read("failed"), Ok(DeliveryStatus::Failed));
        let error = read("partial_success").expect_err("not a delivery status");
        assert!(
            error.contains("post_deliveries.status holds \"partial_success\"")
                && error.contains("pending, processing, published, failed, cancelled"),
            "{error}"
        );
        // Case matters: the schema's words are lower-case.
        assert!(read("Failed").is_err());
        let error = conn
            .query_row("SELECT 7", [], |r| r.get::<_, ConnectionStatus>(0))
            .expect_err("not text");
        assert!(error.to_string().contains("Invalid column type"), "{error}");
        let error = conn
            .query_row("SELECT 'managd'", [], |r| r.get::<_, CredentialSource>(0))
            .expect_err("a typo");
        assert!(error.to_string().contains("app, managed"), "{error}");
    }

    /// SQL names states in its own text (`WHERE status = 'pending'`); each such word must be
    /// a state of some column, so a typo cannot silently match nothing.
    #[test]
    fn states_named_in_the_services_sql_exist() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/services");
        let mut known: Vec<&str> = Vec::new();
        known.extend(PostStatus::ALL.iter().map(|s| s.as_str()));
        known.extend(DeliveryStatus::ALL.iter().map(|s| s.as_str()));
        known.extend(DeletionStatus::ALL.iter().map(|s| s.as_str()));
        known.extend(ConnectionStatus::ALL.iter().map(|s| s.as_str()));
        known.extend(ConnectSessionStatus::ALL.iter().map(|s| s.as_str()));
        known.extend(WebhookEndpointStatus::ALL.iter().map(|s| s.as_str()));
        known.extend(WebhookDeliveryStatus::ALL.iter().map(|s| s.as_str()));
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).expect("src/services") {
            let path = entry.expect("an entry").path();
            let source = std::fs::read_to_string(&path).expect("a source file");
            for (at, _) in source.match_indices("status") {
                let rest = source[at + "status".len()..].trim_start();
                let list = if let Some(r) = rest.strip_prefix("IN (") {
                    &r[..r.find(')').unwrap_or(0)]
                } else if let Some(r) = rest
                    .strip_prefix("!=")
                    .or_else(|| rest.strip_prefix('='))
                    .map(str::trim_start)
                    .filter(|r| r.starts_with('\''))
                {
                    &r[..r[1..].find('\'').map_or(0, |i| i + 2)]
                } else {
                    continue;
                };
                for word in list.split(',') {
                    let word = word.trim().trim_matches('\'');
                    assert!(
                        known.contains(&word),
                        "{}: status '{word}' is no state",
                        path.display()
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 20, "only {checked} states found in the SQL");
    }
}
