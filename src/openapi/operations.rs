//! The operations of the API, one row each: method, path, tag, words, query parameters, the
//! request and success body schemas, and the error codes the operation can answer with (their
//! statuses come from the catalogue). The rows of the seed's ten endpoints come first; our
//! extensions are marked `extension: true` and appear with `x-mypostshare-extension`.
//!
//! `api::ROUTES` and this table are kept equal by `tests/it/openapi.rs`: a route without a
//! row, or a row without a route, fails it.

use crate::error::Code;
use crate::services::status::PostStatus;
use serde_json::{Value, json};

/// What a successful answer carries.
#[derive(Debug, Clone, Copy)]
pub enum Body {
    /// One object of this schema.
    One(&'static str),
    /// A JSON array of this schema.
    List(&'static str),
    /// No body (204).
    Empty,
}

#[derive(Debug, Clone, Copy)]
pub struct QueryParam {
    pub name: &'static str,
    pub schema: fn() -> Value,
    pub description: &'static str,
    pub extension: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct Operation {
    pub method: &'static str,
    /// The path under the server URL (`{public url}/api`), with `{name}` for a segment.
    pub path: &'static str,
    pub tag: &'static str,
    pub operation_id: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
    /// Not in the seed's API reference: ours.
    pub extension: bool,
    pub query: &'static [QueryParam],
    /// The request body's schema, and whether a body is required.
    pub request: Option<(&'static str, bool)>,
    pub success: u16,
    pub success_description: &'static str,
    pub body: Body,
    /// The codes particular to this operation; the ones every request can meet are added.
    pub errors: &'static [Code],
}

/// Codes any authenticated request can meet.
pub const EVERY_REQUEST: &[Code] = &[
    Code::Unauthorized,
    Code::RateLimited,
    Code::InternalError,
    Code::DatabaseUnavailable,
];

/// Codes any request with a JSON body can meet, besides its own rules.
pub const WITH_BODY: &[Code] = &[
    Code::InvalidJson,
    Code::BodyReadFailed,
    Code::PayloadTooLarge,
];

/// Codes of `Idempotency-Key`, which every POST honours.
pub const IDEMPOTENT: &[Code] = &[
    Code::InvalidIdempotencyKey,
    Code::IdempotencyKeyReused,
    Code::IdempotencyKeyInProgress,
];

/// The checks of a post's body (create and edit).
const POST_RULES: &[Code] = &[
    Code::ValidationFailed,
    Code::NoPlatformsSelected,
    Code::ContentTooLong,
    Code::MediaRequired,
    Code::UnsupportedMediaType,
    Code::MediaUnreachable,
    Code::TitleRequired,
    Code::TargetRequired,
    Code::PlatformNotConnected,
    Code::PlatformNeedsReconnect,
    Code::PlatformNotSupported,
    Code::EndUserNotFound,
    Code::InsufficientCredits,
];

const POST_EDIT: &[Code] = &[
    Code::ValidationFailed,
    Code::NoPlatformsSelected,
    Code::ContentTooLong,
    Code::MediaRequired,
    Code::UnsupportedMediaType,
    Code::MediaUnreachable,
    Code::TitleRequired,
    Code::TargetRequired,
    Code::PlatformNotConnected,
    Code::PlatformNeedsReconnect,
    Code::PlatformNotSupported,
    Code::NotFound,
    Code::InvalidStatusTransition,
    Code::EditConflict,
];

fn string() -> Value {
    json!({"type": "string"})
}

fn platform() -> Value {
    json!({"$ref": "#/components/schemas/Platform"})
}

fn post_status() -> Value {
    let words: Vec<&str> = PostStatus::ALL.iter().map(|s| s.as_str()).collect();
    json!({"type": "string", "enum": words})
}

fn page_size() -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": 200, "default": 50})
}

const LIST_POSTS_QUERY: &[QueryParam] = &[
    QueryParam {
        name: "externalUserId",
        schema: string,
        description: "Only this end user's posts.",
        extension: false,
    },
    QueryParam {
        name: "status",
        schema: post_status,
        description: "Only posts in this status.",
        extension: false,
    },
    QueryParam {
        name: "platform",
        schema: platform,
        description: "Only posts with a delivery to this platform.",
        extension: false,
    },
    QueryParam {
        name: "dateFrom",
        schema: string,
        description: "Created at or after: an ISO 8601 date (2026-03-21) or timestamp.",
        extension: false,
    },
    QueryParam {
        name: "dateTo",
        schema: string,
        description: "Created at or before: a date includes that whole day, a timestamp that instant.",
        extension: false,
    },
    QueryParam {
        name: "limit",
        schema: page_size,
        description: "Page size, newest first.",
        extension: true,
    },
    QueryParam {
        name: "cursor",
        schema: string,
        description: "The next page, as the previous page's `Link` header gives it.",
        extension: true,
    },
];

/// The ten endpoints of the seed's API reference.
fn seed() -> Vec<Operation> {
    vec![
        Operation {
            method: "POST",
            path: "/v1/end-users",
            tag: "End users",
            operation_id: "upsertEndUser",
            summary: "Create or update an end user",
            description: "Creates the tenant-scoped end user with this `externalUserId`, or updates its fields. Call it before creating connect sessions or publishing.",
            extension: false,
            query: &[],
            request: Some(("EndUserInput", true)),
            success: 201,
            success_description: "The end user as stored.",
            body: Body::One("EndUser"),
            errors: &[Code::ValidationFailed],
        },
        Operation {
            method: "GET",
            path: "/v1/end-users/{externalUserId}",
            tag: "End users",
            operation_id: "getEndUser",
            summary: "Get an end user",
            description: "One end user by your `externalUserId`, with a summary of its connections.",
            extension: false,
            query: &[],
            request: None,
            success: 200,
            success_description: "The end user.",
            body: Body::One("EndUserWithSummary"),
            errors: &[Code::ValidationFailed, Code::EndUserNotFound],
        },
        Operation {
            method: "GET",
            path: "/v1/end-users/{externalUserId}/connections",
            tag: "Connections",
            operation_id: "listConnections",
            summary: "List an end user's connections",
            description: "The end user's social accounts, one per platform, to show their state or check readiness before publishing.",
            extension: false,
            query: &[],
            request: None,
            success: 200,
            success_description: "The connections.",
            body: Body::List("SocialConnection"),
            errors: &[Code::ValidationFailed, Code::EndUserNotFound],
        },
        Operation {
            method: "DELETE",
            path: "/v1/end-users/{externalUserId}/connections/{platform}",
            tag: "Connections",
            operation_id: "disconnectPlatform",
            summary: "Disconnect a platform",
            description: "Revokes the token at the platform where it can, then forgets it. Repeating it is harmless.",
            extension: false,
            query: &[],
            request: None,
            success: 204,
            success_description: "Disconnected.",
            body: Body::Empty,
            errors: &[
                Code::ValidationFailed,
                Code::EndUserNotFound,
                Code::NotFound,
            ],
        },
        Operation {
            method: "POST",
            path: "/v1/connect-sessions",
            tag: "Connect sessions",
            operation_id: "createConnectSession",
            summary: "Create a hosted connect session",
            description: "Send the end user to the answer's `connectUrl`; the hosted flow authorizes with the platform and redirects to `redirectUri` with `status`, `platform`, `connectSessionId` and, on failure, `errorCode`. Tokens never leave the appliance.",
            extension: false,
            query: &[],
            request: Some(("ConnectSessionInput", true)),
            success: 201,
            success_description: "The session.",
            body: Body::One("ConnectSession"),
            errors: &[
                Code::ValidationFailed,
                Code::EndUserNotFound,
                Code::PlatformNotSupported,
                Code::RedirectUriNotAllowed,
                Code::PlatformNotConfigured,
            ],
        },
        Operation {
            method: "GET",
            path: "/v1/connect-sessions/{id}",
            tag: "Connect sessions",
            operation_id: "getConnectSession",
            summary: "Get a connect session",
            description: "Poll for completion after sending the user through the hosted flow.",
            extension: false,
            query: &[],
            request: None,
            success: 200,
            success_description: "The session.",
            body: Body::One("ConnectSession"),
            errors: &[Code::ValidationFailed, Code::NotFound],
        },
        Operation {
            method: "POST",
            path: "/v1/posts",
            tag: "Posts",
            operation_id: "publishNow",
            summary: "Publish now",
            description: "Checks every platform's rules, stores the post and charges its credits, delivers it, and answers when every delivery finished or the time budget ran out (then `processing`; poll `GET /v1/posts/{id}`).",
            extension: false,
            query: &[],
            request: Some(("PostInput", true)),
            success: 201,
            success_description: "The post as stored, with its per-platform results.",
            body: Body::One("Post"),
            errors: POST_RULES,
        },
        Operation {
            method: "POST",
            path: "/v1/posts/scheduled",
            tag: "Posts",
            operation_id: "schedulePost",
            summary: "Schedule a post",
            description: "Checks every platform's rules, stores the post and charges its credits; it is published at `scheduleAt`.",
            extension: false,
            query: &[],
            request: Some(("ScheduledPostInput", true)),
            success: 201,
            success_description: "The scheduled post.",
            body: Body::One("Post"),
            errors: POST_RULES,
        },
        Operation {
            method: "GET",
            path: "/v1/posts/{id}",
            tag: "Posts",
            operation_id: "getPost",
            summary: "Get a post",
            description: "One post request with its per-platform results.",
            extension: false,
            query: &[],
            request: None,
            success: 200,
            success_description: "The post.",
            body: Body::One("Post"),
            errors: &[Code::ValidationFailed, Code::NotFound],
        },
        Operation {
            method: "GET",
            path: "/v1/posts",
            tag: "Posts",
            operation_id: "listPosts",
            summary: "List posts",
            description: "Post requests, newest first, filtered; a `Link` header leads to the next page.",
            extension: false,
            query: LIST_POSTS_QUERY,
            request: None,
            success: 200,
            success_description: "One page of posts.",
            body: Body::List("Post"),
            errors: &[Code::ValidationFailed],
        },
    ]
}

/// Our endpoints beyond the seed's: targets and the post lifecycle.
fn extensions() -> Vec<Operation> {
    vec![
        Operation {
            method: "GET",
            path: "/v1/end-users/{externalUserId}/connections/{platform}/targets",
            tag: "Connections",
            operation_id: "listTargets",
            summary: "List a connection's targets",
            description: "The places the account can publish to (a Facebook user's Pages, a Pinterest account's boards), for choosing `platformOptions`. Asks the platform.",
            extension: true,
            query: &[],
            request: None,
            success: 200,
            success_description: "The targets.",
            body: Body::List("Target"),
            errors: &[
                Code::ValidationFailed,
                Code::EndUserNotFound,
                Code::PlatformNotConnected,
                Code::PlatformNotSupported,
                Code::PlatformNeedsReconnect,
                Code::PlatformNotConfigured,
                Code::NoTargets,
                Code::PlatformError,
            ],
        },
        Operation {
            method: "PATCH",
            path: "/v1/posts/{id}",
            tag: "Post lifecycle",
            operation_id: "editPost",
            summary: "Edit a scheduled post",
            description: "Changes a `scheduled` post not yet picked up for sending; the result is validated as a create body. The price does not change.",
            extension: true,
            query: &[],
            request: Some(("PostPatch", true)),
            success: 200,
            success_description: "The edited post.",
            body: Body::One("Post"),
            errors: POST_EDIT,
        },
        Operation {
            method: "DELETE",
            path: "/v1/posts/{id}",
            tag: "Post lifecycle",
            operation_id: "deletePost",
            summary: "Delete a post",
            description: "A `scheduled` post is cancelled (and refunded), as by cancel. A post the platforms published (`published`, `partial_success`) is deleted on every platform whose API allows it; each `platformResults[].deletion` says what happened there: `deleted` (`alreadyGone` when the platform no longer had it), `not_supported` (Instagram: delete it in the app), `failed` (with `errorCode`; send DELETE again to retry only those) or `nothing_to_delete` (that platform never published it). The post's `status` does not change. A `post.deleted` webhook event reports it. Draws from the publishing rate-limit budget.",
            extension: true,
            query: &[],
            request: None,
            success: 200,
            success_description: "The post: cancelled, or with each platform's `deletion`.",
            body: Body::One("Post"),
            errors: &[
                Code::ValidationFailed,
                Code::NotFound,
                Code::InvalidStatusTransition,
            ],
        },
        Operation {
            method: "POST",
            path: "/v1/posts/{id}/cancel",
            tag: "Post lifecycle",
            operation_id: "cancelPost",
            summary: "Cancel a scheduled post",
            description: "Cancels a `scheduled` post not yet picked up for sending and refunds its credits.",
            extension: true,
            query: &[],
            request: None,
            success: 200,
            success_description: "The cancelled post.",
            body: Body::One("Post"),
            errors: &[
                Code::ValidationFailed,
                Code::NotFound,
                Code::InvalidStatusTransition,
            ],
        },
        Operation {
            method: "POST",
            path: "/v1/posts/{id}/retry",
            tag: "Post lifecycle",
            operation_id: "retryPost",
            summary: "Retry a failed post",
            description: "Sends the failed deliveries of a `failed` or `partial_success` post again and waits for them like publishing. A `failed` post that was refunded is charged again; one that kept its credits (a platform may have published it) is not.",
            extension: true,
            query: &[],
            request: Some(("RetryInput", false)),
            success: 200,
            success_description: "The post after the retry.",
            body: Body::One("Post"),
            errors: &[
                Code::ValidationFailed,
                Code::NotFound,
                Code::InvalidStatusTransition,
                Code::NotRetryable,
                Code::InsufficientCredits,
            ],
        },
        Operation {
            method: "GET",
            path: "/v1/posts/{id}/attempts",
            tag: "Post lifecycle",
            operation_id: "listAttempts",
            summary: "List a post's attempts",
            description: "Every attempt of every delivery of the post, oldest first.",
            extension: true,
            query: &[],
            request: None,
            success: 200,
            success_description: "The attempts.",
            body: Body::List("Attempt"),
            errors: &[Code::ValidationFailed, Code::NotFound],
        },
    ]
}

/// The webhook endpoints (`/v1/webhook-endpoints...`), all extensions.
fn webhooks() -> Vec<Operation> {
    const TAG: &str = "Webhooks";
    vec![
        Operation {
            method: "POST",
            path: "/v1/webhook-endpoints",
            tag: TAG,
            operation_id: "createWebhookEndpoint",
            summary: "Create a webhook endpoint",
            description: "Registers an endpoint of yours for this app's events. The answer is the only one that shows its signing secret.",
            extension: true,
            query: &[],
            request: Some(("WebhookEndpointInput", true)),
            success: 201,
            success_description: "The endpoint with its signing secret.",
            body: Body::One("WebhookEndpointWithSecret"),
            errors: &[Code::ValidationFailed, Code::WebhookUrlNotAllowed],
        },
        Operation {
            method: "GET",
            path: "/v1/webhook-endpoints",
            tag: TAG,
            operation_id: "listWebhookEndpoints",
            summary: "List webhook endpoints",
            description: "This app's endpoints, without their secrets.",
            extension: true,
            query: &[],
            request: None,
            success: 200,
            success_description: "The endpoints.",
            body: Body::List("WebhookEndpoint"),
            errors: &[],
        },
        Operation {
            method: "GET",
            path: "/v1/webhook-endpoints/{id}",
            tag: TAG,
            operation_id: "getWebhookEndpoint",
            summary: "Get a webhook endpoint",
            description: "One endpoint, without its secret.",
            extension: true,
            query: &[],
            request: None,
            success: 200,
            success_description: "The endpoint.",
            body: Body::One("WebhookEndpoint"),
            errors: &[Code::ValidationFailed, Code::NotFound],
        },
        Operation {
            method: "PATCH",
            path: "/v1/webhook-endpoints/{id}",
            tag: TAG,
            operation_id: "updateWebhookEndpoint",
            summary: "Change a webhook endpoint",
            description: "Changes its URL, label or events, or enables or disables it.",
            extension: true,
            query: &[],
            request: Some(("WebhookEndpointPatch", true)),
            success: 200,
            success_description: "The endpoint as changed.",
            body: Body::One("WebhookEndpoint"),
            errors: &[
                Code::ValidationFailed,
                Code::WebhookUrlNotAllowed,
                Code::NotFound,
            ],
        },
        Operation {
            method: "DELETE",
            path: "/v1/webhook-endpoints/{id}",
            tag: TAG,
            operation_id: "deleteWebhookEndpoint",
            summary: "Remove a webhook endpoint",
            description: "Removes the endpoint; events on their way to it are dropped.",
            extension: true,
            query: &[],
            request: None,
            success: 204,
            success_description: "Removed.",
            body: Body::Empty,
            errors: &[Code::ValidationFailed, Code::NotFound],
        },
        Operation {
            method: "POST",
            path: "/v1/webhook-endpoints/{id}/rotate-secret",
            tag: TAG,
            operation_id: "rotateWebhookSecret",
            summary: "Rotate a webhook endpoint's secret",
            description: "A new signing secret; the previous one keeps signing beside it until `previousSecretExpiresAt`, so you can switch without losing an event.",
            extension: true,
            query: &[],
            request: None,
            success: 200,
            success_description: "The endpoint with its new secret.",
            body: Body::One("WebhookEndpointWithSecret"),
            errors: &[Code::ValidationFailed, Code::NotFound],
        },
        Operation {
            method: "POST",
            path: "/v1/webhook-endpoints/{id}/test",
            tag: TAG,
            operation_id: "testWebhookEndpoint",
            summary: "Send a test event",
            description: "Queues a `webhook.test` event to this endpoint only.",
            extension: true,
            query: &[],
            request: None,
            success: 202,
            success_description: "The queued delivery.",
            body: Body::One("WebhookDelivery"),
            errors: &[
                Code::ValidationFailed,
                Code::NotFound,
                Code::WebhookEndpointDisabled,
            ],
        },
        Operation {
            method: "GET",
            path: "/v1/webhook-endpoints/{id}/deliveries",
            tag: TAG,
            operation_id: "listWebhookDeliveries",
            summary: "List an endpoint's recent deliveries",
            description: "The most recent deliveries to the endpoint (50), newest first, with their attempts.",
            extension: true,
            query: &[],
            request: None,
            success: 200,
            success_description: "The deliveries.",
            body: Body::List("WebhookDeliveryWithAttempts"),
            errors: &[Code::ValidationFailed, Code::NotFound],
        },
        Operation {
            method: "POST",
            path: "/v1/webhook-endpoints/{id}/deliveries/{deliveryId}/resend",
            tag: TAG,
            operation_id: "resendWebhookDelivery",
            summary: "Resend a delivery",
            description: "Sends the delivery again now, with the same `webhook-id` and body (receivers deduplicate on it); a failure starts its retry schedule afresh.",
            extension: true,
            query: &[],
            request: None,
            success: 202,
            success_description: "The queued delivery.",
            body: Body::One("WebhookDelivery"),
            errors: &[
                Code::ValidationFailed,
                Code::NotFound,
                Code::WebhookEndpointDisabled,
            ],
        },
    ]
}

/// Every operation, in the order the document and the pages show them.
pub fn all() -> Vec<Operation> {
    let mut all = seed();
    all.extend(extensions());
    all.extend(webhooks());
    all
}

/// The tags in their order, with a line each.
pub const TAGS: &[(&str, &str, bool)] = &[
    (
        "End users",
        "Your product's users, identified by your `externalUserId`.",
        false,
    ),
    (
        "Connect sessions",
        "Hosted OAuth sessions that connect one platform for an end user.",
        false,
    ),
    (
        "Connections",
        "The end users' connected social accounts.",
        false,
    ),
    (
        "Posts",
        "Publishing now or at a time, and reading the results.",
        false,
    ),
    (
        "Post lifecycle",
        "Cancel, edit, delete and retry a post; its attempt log.",
        true,
    ),
    (
        "Webhooks",
        "Endpoints of yours that the appliance notifies of post and connection events.",
        true,
    ),
];

/// Codes of an operation: its own, then the ones every request (and every body, and every
/// POST) can meet, each once.
pub fn codes_of(op: &Operation) -> Vec<Code> {
    let mut codes: Vec<Code> = op.errors.to_vec();
    let mut add = |list: &[Code]| {
        for code in list {
            if !codes.contains(code) {
                codes.push(*code);
            }
        }
    };
    if op.request.is_some() {
        add(WITH_BODY);
    }
    if op.method == "POST" {
        add(IDEMPOTENT);
    }
    add(EVERY_REQUEST);
    codes
}

/// The schemas an operation names, so a test can check each exists.
pub fn schema_names(op: &Operation) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = op.request.map(|(n, _)| n).into_iter().collect();
    match op.body {
        Body::One(n) | Body::List(n) => names.push(n),
        Body::Empty => {}
    }
    names
}
