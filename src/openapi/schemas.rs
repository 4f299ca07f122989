//! The document's `components`: the schemas of every request and response body (field names
//! and nullability as the seed's client types and `api::wire` give them), the error shape and
//! the code lists generated from the catalogue, the headers and the bearer scheme.
//!
//! Response schemas list every field as required and allow no other: `api::wire` sends each
//! optional field as `null`, and a field added to the wire format without being documented
//! then fails the integration tests, which check every answer they receive against these.

use crate::error::Code;
use crate::providers::Platform;
use crate::services::status::{
    AttemptStep, ConnectSessionStatus, ConnectionStatus, DeletionStatus, DeliveryStatus, Mode,
    PostStatus, TokenStatus, WebhookDeliveryStatus, WebhookEndpointStatus, WebhookEventType,
};
use serde_json::{Map, Value, json};

/// Marks a field, parameter or operation that the seed's API reference does not have.
pub const EXTENSION: &str = "x-mypostshare-extension";

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn words(all: impl IntoIterator<Item = &'static str>) -> Value {
    Value::Array(all.into_iter().map(Value::from).collect())
}

fn text(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

fn nullable_text(description: &str) -> Value {
    json!({"type": ["string", "null"], "description": description})
}

fn timestamp(description: &str) -> Value {
    json!({"type": "string", "format": "date-time", "description": description})
}

fn nullable_timestamp(description: &str) -> Value {
    json!({"type": ["string", "null"], "format": "date-time", "description": description})
}

fn nullable(schema_name: &str, description: &str) -> Value {
    json!({"anyOf": [reference(schema_name), {"type": "null"}], "description": description})
}

fn nullable_enum(all: impl IntoIterator<Item = &'static str>, description: &str) -> Value {
    let mut values: Vec<Value> = all.into_iter().map(Value::from).collect();
    values.push(Value::Null);
    json!({"type": ["string", "null"], "enum": values, "description": description})
}

fn extension(mut schema: Value) -> Value {
    schema[EXTENSION] = Value::Bool(true);
    schema
}

/// A response object: every property required, nothing else allowed.
fn response_object(description: &str, properties: Vec<(&str, Value)>) -> Value {
    let required: Vec<Value> = properties.iter().map(|(n, _)| Value::from(*n)).collect();
    let properties: Map<String, Value> = properties
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect();
    json!({
        "type": "object",
        "description": description,
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// A request body: the named fields required, unknown ones ignored by the server.
fn request_object(description: &str, required: &[&str], properties: Vec<(&str, Value)>) -> Value {
    let properties: Map<String, Value> = properties
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect();
    json!({
        "type": "object",
        "description": description,
        "properties": properties,
        "required": required,
    })
}

/// A list of codes as `oneOf` constants, each with its one-line meaning from the catalogue.
fn code_list(description: &str, codes: Vec<(&'static str, &'static str)>) -> Value {
    let one_of: Vec<Value> = codes
        .into_iter()
        .map(|(name, meaning)| json!({"const": name, "description": meaning}))
        .collect();
    json!({"type": "string", "description": description, "oneOf": one_of})
}

/// Every code the API answers with, with its status: the `api` rows of the catalogue.
pub fn api_codes() -> Vec<(&'static str, u16, &'static str)> {
    Code::ALL
        .iter()
        .filter_map(|code| {
            let entry = code.entry();
            Some((entry.name, entry.status?, entry.api?))
        })
        .collect()
}

fn delivery_codes() -> Vec<(&'static str, &'static str)> {
    Code::ALL
        .iter()
        .filter_map(|c| Some((c.entry().name, c.entry().delivery?)))
        .collect()
}

/// What a deletion on the platforms records: a delivery code (its meaning holds for the
/// delete call) or a code only a deletion records.
pub fn deletion_codes() -> Vec<(&'static str, &'static str)> {
    Code::ALL
        .iter()
        .filter_map(|c| {
            let entry = c.entry();
            Some((entry.name, entry.deletion.or(entry.delivery)?))
        })
        .collect()
}

fn connect_codes() -> Vec<(&'static str, &'static str)> {
    Code::ALL
        .iter()
        .filter_map(|c| Some((c.entry().name, c.entry().connect?)))
        .collect()
}

fn end_user_properties() -> Vec<(&'static str, Value)> {
    vec![
        ("id", text("The end user's id in MyPostShare.")),
        ("externalUserId", text("Your product's id for the user.")),
        ("displayName", nullable_text("Human-readable label.")),
        ("email", nullable_text("Email, for operator visibility.")),
        (
            "metadata",
            json!({"type": ["object", "null"], "description": "Your free-form metadata."}),
        ),
        ("createdAt", timestamp("When the end user was created.")),
        ("updatedAt", timestamp("When the end user last changed.")),
    ]
}

/// Optional, non-null request fields the create bodies share (the seed's `?: string`).
fn optional_post_fields() -> Vec<(&'static str, Value)> {
    vec![
        (
            "title",
            text(
                "Title or headline, used by the platforms that have one (required by Reddit and YouTube).",
            ),
        ),
        (
            "mediaUrl",
            json!({"type": "string", "format": "uri", "description": "A publicly readable image or video URL."}),
        ),
        (
            "thumbnailUrl",
            json!({"type": "string", "format": "uri", "description": "A publicly readable thumbnail image URL."}),
        ),
        (
            "metadata",
            json!({"type": "object", "description": "Your metadata, stored with the post."}),
        ),
        (
            "platformOptions",
            extension(json!({
                "type": "object",
                "description": "One object of options per platform of the post, keyed by platform (e.g. `pinterest.boardId`, `reddit.subreddit`, `facebook.pageId`).",
                "propertyNames": reference("Platform"),
                "additionalProperties": {"type": "object"},
            })),
        ),
    ]
}

fn platforms_field() -> Value {
    json!({
        "type": "array",
        "items": reference("Platform"),
        "minItems": 1,
        "uniqueItems": true,
        "description": "Platform keys to deliver to, each once; each must be connected for the end user.",
    })
}

pub fn schemas() -> Map<String, Value> {
    let mut s = Map::new();
    s.insert(
        "Platform".into(),
        json!({"type": "string", "enum": words(Platform::ALL.iter().map(|p| p.key())), "description": "A platform key (`twitter` is X)."}),
    );
    s.insert(
        "ErrorCode".into(),
        code_list(
            "The `code` of an error answer; each status lists the codes it can carry.",
            api_codes().into_iter().map(|(n, _, m)| (n, m)).collect(),
        ),
    );
    s.insert(
        "DeliveryErrorCode".into(),
        code_list(
            "`platformResults[].errorCode` of a post and `lastErrorCode` of a connection. New codes may be added: treat an unknown one as a failure.",
            delivery_codes(),
        ),
    );
    s.insert(
        "DeletionErrorCode".into(),
        extension(code_list(
            "`platformResults[].deletion.errorCode` of a post: why deleting it on that platform failed (a delivery error code, meaning the same for the delete call) or is not possible (`DELETE_NOT_AVAILABLE`). New codes may be added: treat an unknown one as a failure.",
            deletion_codes(),
        )),
    );
    s.insert(
        "ConnectErrorCode".into(),
        code_list(
            "`errorCode` of a connect session and of its redirect back to you.",
            connect_codes(),
        ),
    );
    s.insert(
        "Error".into(),
        response_object(
            "Every error answer: what to fix, the HTTP reason phrase, the status and a stable code.",
            vec![
                ("message", text("What went wrong and what to fix, for a person.")),
                ("error", text("The HTTP reason phrase, e.g. `Bad Request`.")),
                ("statusCode", json!({"type": "integer", "description": "The HTTP status, repeated."})),
                ("code", reference("ErrorCode")),
            ],
        ),
    );
    s.insert(
        "EndUserInput".into(),
        request_object(
            "Creates the end user, or updates the one with this `externalUserId`.",
            &["externalUserId"],
            vec![
                ("externalUserId", text("Unique user id from your product.")),
                ("displayName", text("Human-readable label.")),
                ("email", json!({"type": "string", "format": "email", "description": "Email for operator visibility."})),
                ("metadata", json!({"type": "object", "description": "Free-form metadata."})),
            ],
        ),
    );
    s.insert(
        "EndUser".into(),
        response_object("A tenant-scoped end user.", end_user_properties()),
    );
    let mut with_summary = end_user_properties();
    with_summary.push((
        "connectionSummary",
        response_object(
            "Counts of the end user's connections.",
            vec![
                ("total", json!({"type": "integer"})),
                ("connected", json!({"type": "integer"})),
                ("failed", json!({"type": "integer"})),
            ],
        ),
    ));
    s.insert(
        "EndUserWithSummary".into(),
        response_object(
            "An end user with a summary of its connections.",
            with_summary,
        ),
    );
    s.insert(
        "SocialConnection".into(),
        response_object(
            "A connected social account of an end user on one platform.",
            vec![
                ("id", text("The connection's id.")),
                ("platform", reference("Platform")),
                ("status", json!({"type": "string", "enum": words(ConnectionStatus::ALL.iter().map(|s| s.as_str()))})),
                ("tokenStatus", json!({"type": "string", "enum": words(TokenStatus::ALL.iter().map(|s| s.as_str())), "description": "Whether the stored token can be posted with now."})),
                ("canAutoRefresh", json!({"type": "boolean", "description": "The appliance can renew the token without the user."})),
                ("needsReconnect", json!({"type": "boolean", "description": "Send the user through a connect session again."})),
                ("remoteAccountId", nullable_text("The account's id on the platform.")),
                ("remoteUsername", nullable_text("The account's name on the platform.")),
                ("accountType", nullable_text("e.g. `person`, `page`.")),
                ("accessTokenExpiresAt", nullable_timestamp("When the access token expires.")),
                ("refreshTokenExpiresAt", nullable_timestamp("When the refresh token expires.")),
                ("lastErrorCode", nullable("DeliveryErrorCode", "The last error the connection met.")),
                ("lastErrorMessage", nullable_text("Its message.")),
                ("lastSyncedAt", nullable_timestamp("When the account was last read from the platform.")),
                ("createdAt", timestamp("")),
                ("updatedAt", timestamp("")),
            ],
        ),
    );
    s.insert(
        "Target".into(),
        extension(response_object(
            "A place an account can publish to (a Facebook Page, a Pinterest board), for `platformOptions`.",
            vec![
                ("id", text("The id to pass in `platformOptions`.")),
                ("name", text("Its name on the platform.")),
                ("type", text("What it is, e.g. `page`, `board`.")),
            ],
        )),
    );
    s.insert(
        "ConnectSessionInput".into(),
        request_object(
            "A hosted OAuth connect session for one end user and platform.",
            &["externalUserId", "platform", "redirectUri"],
            vec![
                ("externalUserId", text("An end user already created for this app.")),
                ("platform", reference("Platform")),
                ("redirectUri", json!({"type": "string", "format": "uri", "description": "Where the user returns; must be on the app's allowlist exactly."})),
                ("displayName", text("Display label for the hosted pages.")),
                ("email", json!({"type": "string", "format": "email", "description": "End-user email for visibility."})),
                ("metadata", json!({"type": "object", "description": "Free-form metadata."})),
            ],
        ),
    );
    s.insert(
        "ConnectSession".into(),
        response_object(
            "A hosted connect session; send the user to `connectUrl`.",
            vec![
                ("id", text("The session's id.")),
                ("status", json!({"type": "string", "enum": words(ConnectSessionStatus::ALL.iter().map(|s| s.as_str()))})),
                ("platform", reference("Platform")),
                ("externalUserId", text("")),
                ("connectUrl", json!({"type": "string", "format": "uri", "description": "The hosted page to open for the end user."})),
                ("errorCode", nullable("ConnectErrorCode", "Why the session failed or expired.")),
                ("errorMessage", nullable_text("Its message.")),
                ("createdAt", timestamp("")),
                ("updatedAt", timestamp("")),
                ("completedAt", nullable_timestamp("When the connection was made or refused.")),
                ("expiresAt", timestamp("After this the session can no longer complete.")),
            ],
        ),
    );
    let mut post_input = vec![
        (
            "externalUserId",
            text("The connected end user to publish for."),
        ),
        ("content", text("The post's text.")),
        ("platforms", platforms_field()),
    ];
    post_input.extend(optional_post_fields());
    s.insert(
        "PostInput".into(),
        request_object(
            "A post to publish now.",
            &["externalUserId", "content", "platforms"],
            post_input.clone(),
        ),
    );
    post_input.push((
        "scheduleAt",
        timestamp("Future ISO 8601 timestamp with a time zone, at most 365 days ahead."),
    ));
    s.insert(
        "ScheduledPostInput".into(),
        request_object(
            "A post to publish at `scheduleAt`.",
            &["externalUserId", "content", "platforms", "scheduleAt"],
            post_input,
        ),
    );
    s.insert(
        "PostPatch".into(),
        extension(json!({
            "type": "object",
            "description": "The fields of a scheduled post to change; the rest stay as stored, and the whole is validated again as a create body. `null` clears an optional field. `externalUserId` cannot change.",
            "minProperties": 1,
            "properties": {
                "content": {"type": "string"},
                "title": {"type": ["string", "null"]},
                "mediaUrl": {"type": ["string", "null"], "format": "uri"},
                "thumbnailUrl": {"type": ["string", "null"], "format": "uri"},
                "scheduleAt": {"type": "string", "format": "date-time"},
                "platforms": platforms_field(),
                "platformOptions": {"type": ["object", "null"]},
                "metadata": {"type": ["object", "null"]},
            },
        })),
    );
    s.insert(
        "RetryInput".into(),
        extension(json!({
            "type": "object",
            "description": "Which failed deliveries to send again; an empty body retries every one that may pass.",
            "properties": {
                "platforms": platforms_field(),
                "includeOutcomeUnknown": {"type": "boolean", "default": false, "description": "Also send deliveries whose outcome is unknown (`OUTCOME_UNKNOWN`, `PROCESSING_TIMEOUT`): the platform may already have the post."},
            },
        })),
    );
    s.insert(
        "PlatformResult".into(),
        response_object(
            "The delivery of a post to one platform.",
            vec![
                ("id", text("The delivery's id.")),
                ("platform", reference("Platform")),
                ("status", json!({"type": "string", "enum": words(DeliveryStatus::ALL.iter().map(|s| s.as_str()))})),
                ("externalId", nullable_text("The post's id on the platform.")),
                ("url", extension(nullable_text("The post's address on the platform, where it gives one."))),
                ("errorCode", nullable("DeliveryErrorCode", "Why the delivery failed.")),
                ("errorMessage", nullable_text("Its message.")),
                ("attemptCount", json!({"type": "integer", "minimum": 0})),
                ("createdAt", timestamp("")),
                ("updatedAt", timestamp("")),
                ("deletion", extension(nullable("Deletion", "What `DELETE /v1/posts/{id}` of the sent post did on this platform; `null` until the post is deleted."))),
            ],
        ),
    );
    s.insert(
        "Deletion".into(),
        extension(response_object(
            "What deleting a sent post did on one platform (`DELETE /v1/posts/{id}`); a later DELETE calls again only the platforms whose deletion `failed`.",
            vec![
                ("status", json!({"type": "string", "enum": words(DeletionStatus::ALL.iter().map(|s| s.as_str())), "description": "`deleted`: the platform deleted it (or no longer had it: `alreadyGone`); `not_supported`: the platform's API cannot delete it, delete it in the app; `failed`: the call failed, DELETE again to retry; `nothing_to_delete`: this delivery never published."})),
                ("alreadyGone", json!({"type": "boolean", "description": "The platform answered that the post was gone already (deleted in the app, or by an earlier request): counted as deleted."})),
                ("errorCode", nullable("DeletionErrorCode", "Why it failed or is not supported.")),
                ("errorMessage", nullable_text("Its message, naming the platform and what to do.")),
                ("attemptCount", json!({"type": "integer", "minimum": 0, "description": "Delete calls made to the platform for this post."})),
                ("deletedAt", nullable_timestamp("When the platform deleted it (or said it was gone).")),
                ("updatedAt", timestamp("When this result was last recorded.")),
            ],
        )),
    );
    s.insert(
        "Post".into(),
        response_object(
            "A post request and its per-platform results.",
            vec![
                ("id", text("The post request's id; keep it to poll.")),
                ("mode", json!({"type": "string", "enum": words(Mode::ALL.iter().map(|s| s.as_str()))})),
                ("status", json!({"type": "string", "enum": words(PostStatus::ALL.iter().map(|s| s.as_str()))})),
                ("externalUserId", text("")),
                ("title", nullable_text("")),
                ("content", text("")),
                ("mediaUrl", nullable_text("")),
                ("thumbnailUrl", nullable_text("")),
                ("metadata", json!({"type": ["object", "null"]})),
                ("platformOptions", extension(json!({"type": ["object", "null"]}))),
                ("creditCost", json!({"type": "integer", "description": "Credits charged for the post."})),
                ("scheduleAt", nullable_timestamp("When a scheduled post publishes.")),
                ("processedAt", nullable_timestamp("When every delivery finished.")),
                ("createdAt", timestamp("")),
                ("updatedAt", timestamp("")),
                ("platformResults", json!({"type": "array", "items": reference("PlatformResult")})),
            ],
        ),
    );
    s.insert(
        "Attempt".into(),
        extension(response_object(
            "One attempt of one delivery.",
            vec![
                ("deliveryId", text("")),
                ("platform", reference("Platform")),
                ("attemptNumber", json!({"type": "integer", "minimum": 1})),
                ("step", nullable_enum(AttemptStep::ALL.iter().map(|s| s.as_str()), "Which step the attempt ended in; `null` for attempts recorded before steps were kept.")),
                ("outcome", nullable_text("What the attempt came to, for people; `null` while it runs.")),
                ("httpStatus", json!({"type": ["integer", "null"], "description": "The status of the platform's last HTTP answer in the attempt."})),
                ("errorCode", nullable("DeliveryErrorCode", "")),
                ("errorMessage", nullable_text("")),
                ("durationMs", json!({"type": ["integer", "null"]})),
                ("startedAt", timestamp("")),
                ("finishedAt", nullable_timestamp("")),
            ],
        )),
    );
    webhook_schemas(&mut s);
    s
}

fn webhook_endpoint_properties() -> Vec<(&'static str, Value)> {
    vec![
        ("id", text("The endpoint's id.")),
        (
            "url",
            json!({"type": "string", "format": "uri", "description": "Where events are POSTed."}),
        ),
        ("description", nullable_text("Your label.")),
        (
            "eventTypes",
            json!({"type": ["array", "null"], "items": reference("WebhookEventType"), "description": "The events it receives; `null` for every event."}),
        ),
        (
            "status",
            json!({"type": "string", "enum": words(WebhookEndpointStatus::ALL.iter().map(|s| s.as_str()))}),
        ),
        (
            "disabledReason",
            nullable_text(
                "Why it was disabled (by you, an operator, a `410 Gone`, or days of failures).",
            ),
        ),
        ("disabledAt", nullable_timestamp("")),
        (
            "secretRotatedAt",
            nullable_timestamp("When the signing secret was last rotated."),
        ),
        (
            "previousSecretExpiresAt",
            nullable_timestamp("Until then the previous secret signs beside the current one."),
        ),
        ("createdAt", timestamp("")),
        ("updatedAt", timestamp("")),
    ]
}

fn webhook_delivery_properties() -> Vec<(&'static str, Value)> {
    vec![
        ("id", text("The delivery's id.")),
        (
            "eventId",
            text("The event's id (`webhook-id`), the same in every delivery of the event."),
        ),
        ("eventType", reference("WebhookEventType")),
        ("endpointId", text("")),
        (
            "status",
            json!({"type": "string", "enum": words(WebhookDeliveryStatus::ALL.iter().map(|s| s.as_str()))}),
        ),
        ("attemptCount", json!({"type": "integer", "minimum": 0})),
        (
            "nextAttemptAt",
            nullable_timestamp("When the next attempt is due, while `pending`."),
        ),
        (
            "lastStatusCode",
            json!({"type": ["integer", "null"], "description": "The HTTP status your endpoint last answered."}),
        ),
        ("lastError", nullable_text("Why the last attempt failed.")),
        ("createdAt", timestamp("")),
        ("updatedAt", timestamp("")),
    ]
}

/// The webhook endpoints' bodies (all extensions: the seed has no webhooks).
fn webhook_schemas(s: &mut Map<String, Value>) {
    s.insert(
        "WebhookEventType".into(),
        extension(json!({"type": "string", "enum": words(WebhookEventType::ALL.iter().map(|t| t.as_str())), "description": "An event's `type`."})),
    );
    let event_types = json!({"type": ["array", "null"], "items": reference("WebhookEventType"), "description": "The events to receive; leave out or `null` for every event."});
    s.insert(
        "WebhookEndpointInput".into(),
        extension(request_object(
            "A new webhook endpoint; the answer shows its signing secret once.",
            &["url"],
            vec![
                ("url", json!({"type": "string", "format": "uri", "description": "An absolute http(s) URL of at most 2,048 characters, on a public address."})),
                ("description", text("Your label.")),
                ("eventTypes", event_types.clone()),
            ],
        )),
    );
    s.insert(
        "WebhookEndpointPatch".into(),
        extension(request_object(
            "The fields to change; `enabled: true` enables a disabled endpoint.",
            &[],
            vec![
                ("url", json!({"type": "string", "format": "uri"})),
                ("description", json!({"type": ["string", "null"]})),
                ("eventTypes", event_types),
                ("enabled", json!({"type": "boolean"})),
            ],
        )),
    );
    s.insert(
        "WebhookEndpoint".into(),
        extension(response_object(
            "An endpoint of yours that events are POSTed to, signed as Standard Webhooks says.",
            webhook_endpoint_properties(),
        )),
    );
    let mut with_secret = webhook_endpoint_properties();
    with_secret.push((
        "secret",
        text("The signing secret (`whsec_...`); shown only in this answer."),
    ));
    s.insert(
        "WebhookEndpointWithSecret".into(),
        extension(response_object(
            "A webhook endpoint with its new signing secret.",
            with_secret,
        )),
    );
    s.insert(
        "WebhookDelivery".into(),
        extension(response_object(
            "One event on its way to one endpoint.",
            webhook_delivery_properties(),
        )),
    );
    let mut with_attempts = webhook_delivery_properties();
    with_attempts.push((
        "attempts",
        json!({"type": "array", "items": response_object(
            "One attempt of the delivery.",
            vec![
                ("attemptNumber", json!({"type": "integer", "minimum": 1})),
                ("startedAt", timestamp("")),
                ("durationMs", json!({"type": "integer"})),
                ("statusCode", json!({"type": ["integer", "null"], "description": "Your endpoint's answer, if it gave one."})),
                ("error", nullable_text("Why it failed.")),
            ],
        )}),
    ));
    s.insert(
        "WebhookDeliveryWithAttempts".into(),
        extension(response_object(
            "A delivery with every attempt.",
            with_attempts,
        )),
    );
}

pub fn headers() -> Value {
    let int = |d: &str| json!({"description": d, "schema": {"type": "integer"}});
    json!({
        "X-RateLimit-Limit": extension(int("The size of the bucket this request drew from.")),
        "X-RateLimit-Remaining": extension(int("Requests allowed right now.")),
        "X-RateLimit-Reset": extension(int("Seconds until the bucket is full again.")),
        "X-RateLimit-Resource": extension(json!({"description": "Which budget: `general` or `publishing` (POST /v1/posts and /v1/posts/scheduled), or the failed authentications of an address.", "schema": {"type": "string"}})),
        "Retry-After": int("On a 429 or 503: seconds to wait before retrying."),
        "Idempotent-Replayed": extension(json!({"description": "`true` when the answer is the stored one of an earlier request with the same `Idempotency-Key`.", "schema": {"type": "string", "const": "true"}})),
        "Link": extension(json!({"description": "`<url>; rel=\"next\"` when there is a next page; follow it unchanged.", "schema": {"type": "string"}})),
    })
}
