//! The behaviours every platform must have, as one table of scenarios run against all eight
//! platforms through the hosted connect flow and the simulator: each cell is its own test,
//! `scenarios::<platform>::<scenario>`, so a failure names both. What differs between platforms
//! (what a valid post needs, the redirect its Deny sends, the step of a publish that publishes
//! nothing, its tokens, its duplicate check, how it asks to slow down, one of its media rules,
//! whether it deletes a published post, what reading it back can tell) is a small description
//! per platform in `PLATFORMS`; the expected outcomes are the README's (delivery codes,
//! `tokenStatus`, connect failure codes, deletion results). The per-platform test files keep
//! what is particular to one platform.

use crate::support::{REDIRECT, Setup, TestApp, query_value, send};
use serde_json::{Value, json};

// ----- the table -----

/// One test per scenario × platform. The scenarios are the functions of the same name below;
/// a platform is a module named after its key, described by `PLATFORMS`.
macro_rules! scenario_table {
    (scenarios $scenarios:tt platforms [$($platform:ident),* $(,)?]) => {
        $( scenario_table!(@platform $platform $scenarios); )*
    };
    (@platform $platform:ident [$($scenario:ident),* $(,)?]) => {
        mod $platform {
            $(
                #[test]
                fn $scenario() {
                    super::$scenario(super::platform(stringify!($platform)));
                }
            )*
        }
    };
}

scenario_table! {
    scenarios [
        the_person_denies_consent,
        a_server_error_on_the_publishing_call_is_read_back_before_anything_is_sent_again,
        a_server_error_after_the_platform_published_is_read_back_and_published_once,
        a_server_error_in_a_step_that_publishes_nothing_is_retried_then_published_once,
        no_answer_from_a_step_that_publishes_nothing_is_retried_then_published_once,
        a_revoked_token_asks_for_a_reconnect,
        an_expiring_access_token_is_refreshed_or_asks_for_a_reconnect,
        a_duplicate_meets_the_platforms_own_check,
        a_rate_limit_is_retried_after_the_platforms_wait_then_published,
        a_media_rule_is_checked_before_anything_is_charged,
        a_published_post_is_deleted_where_the_platform_allows_it,
        a_lost_answer_to_the_publishing_call_is_read_back,
        a_publishing_call_that_timed_out_before_the_platform_acted_is_read_back,
    ]
    platforms [linkedin, twitter, facebook, instagram, threads, youtube, pinterest, reddit]
}

/// What the scenarios need to know about one platform.
struct Platform {
    key: &'static str,
    /// The name typed on the simulator's consent page.
    member: &'static str,
    /// The body of a post the platform accepts (without `externalUserId` and `platforms`).
    /// Posts made from the same `word` are identical (text, link, file); from different words,
    /// different.
    post: fn(&TestApp, &str) -> Value,
    /// The query parameter (name, value) of the platform's own redirect after Deny, before our
    /// callback turns it into `errorCode=access_denied`.
    denial: (&'static str, &'static str),
    /// The call of a publish that creates the post (method, a piece of its path), where a 5xx
    /// may mean it was published anyway.
    publishing_call: (&'static str, &'static str),
    /// What a 5xx on `publishing_call` leads to.
    server_error: ServerError,
    /// A call before `publishing_call` that publishes nothing, where a 5xx or no answer is
    /// safe to retry.
    safe_step: SafeStep,
    tokens: Tokens,
    duplicates: Duplicates,
    rate_limit: RateLimit,
    media_rule: MediaRule,
    /// What `DELETE /v1/posts/{id}` of a published post does there.
    deletion: Deletion,
    /// What reading the platform back (`Provider::find_published`) can tell about a publish
    /// whose answer never came.
    read_back: ReadBack,
}

const MINUTE: i64 = 60;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

enum ServerError {
    /// The platform may have published it: read back after the delay, and the `read_back`
    /// row decides (found: published; absent: published again; cannot tell: failed
    /// `PLATFORM_UNAVAILABLE`, never sent again).
    ReadBackDecides,
    /// The adapter resumes the call itself (YouTube's resumable upload asks the session what
    /// arrived and goes on), and the post is published once; so it does when the call's
    /// answer is lost or late.
    ResumedByAdapter,
}

/// A step of a publish that publishes nothing (an upload session, a media registration, a
/// container's status read), which a transient failure may hit.
enum SafeStep {
    /// `post` makes a publish with this step: `call` (method, a piece of its path) fails
    /// `fails` times (the adapter's own retries of an upload step come first).
    Before {
        post: fn(&TestApp, &str) -> Value,
        call: (&'static str, &'static str),
        fails: u32,
    },
    /// The first API call of a publish is the one that creates the post (`why`).
    None { why: &'static str },
}

/// What reading a platform back can tell about a publish whose answer never came. A platform's
/// row moves from `Unavailable` when its adapter implements `find_published`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// The variants a row names once its platform's adapter reads back.
#[allow(dead_code)]
pub enum ReadBack {
    /// No read-back (`find_published`'s default answer, `Unknowable`): the delivery fails
    /// `OUTCOME_UNKNOWN`, and the post keeps its credits, since the platform may have it.
    Unavailable,
    /// Finds a post the platform has, and rules one out when the platform has none: a lost
    /// answer ends `published` with the platform's id, a call the platform never acted on is
    /// published again, once.
    FindsAndRulesOut,
    /// Finds a post the platform has, but cannot rule one out (its listing may be incomplete):
    /// a lost answer ends `published`, a call never acted on `OUTCOME_UNKNOWN`.
    FindsOnly,
}

/// What reading `key` back can tell, from its row (for tests outside the table).
pub fn read_back_of(key: &str) -> ReadBack {
    platform(key).read_back
}

enum Tokens {
    /// A token that does not expire (Facebook's Page tokens, fetched with a long-lived user
    /// token and stored at connect time): still `active` long after 60 days, and publishing.
    NeverExpires,
    /// No refresh token: the access token lives this many seconds, `expiring_soon` in its
    /// last week, then the person connects again.
    NoRefresh { lifetime: i64 },
    /// A refresh token: the access token (this many seconds) is refreshed once it expired,
    /// and the refresh token (rotated or kept) works again for the next one.
    RefreshToken { lifetime: i64 },
    /// A long-lived token (this many seconds) exchanged for a new one before it expires
    /// (Meta's Instagram and Threads): it can only be refreshed while still valid.
    RefreshedBeforeExpiry { lifetime: i64 },
}

enum Duplicates {
    /// The platform refuses a post identical to a recent one (`what` says what counts as
    /// identical there): `DUPLICATE_POST`, its message quoting `message_has`.
    Refused {
        what: &'static str,
        message_has: &'static str,
    },
    /// The platform has no duplicate check: the same post twice is published twice. Its
    /// nearest refusal (the `duplicate` fault) ends as `fault_code`, quoting `message_has`.
    NotChecked {
        why: &'static str,
        fault_code: &'static str,
        message_has: &'static str,
    },
    /// The platform has no duplicate check and no refusal near one: the same post twice is
    /// published twice, and the simulator refuses to queue a `duplicate` fault (400).
    NoRefusal { why: &'static str },
}

struct RateLimit {
    /// The `retryAfter` of the `rate_limit` fault: the wait the platform names, in its own
    /// form (a header, Meta's minutes, Reddit's message); `None` where it names none.
    retry_after: Option<u64>,
    wait: Wait,
    /// A piece of the pending delivery's `errorMessage`.
    message_has: &'static str,
    /// The HTTP status of the platform's throttle answer, as the attempt log records it.
    http_status: i64,
}

enum Wait {
    /// The retry falls due after this many seconds (the platform's wait, or the engine's
    /// 30 s backoff where it is longer), within the engine's 5 s of jitter.
    Seconds(i64),
    /// The daily quota resets at midnight Pacific: more than a minute away, within a day.
    DailyQuotaReset,
}

/// What deleting a published post does on the platform. Every row starts `NotSupported` (the
/// trait's default); a platform's adapter that implements `delete_post` flips its row to
/// `Deletes` in the same change.
enum Deletion {
    /// The platform's API has no deletion (Instagram), or the adapter has none: the platform is
    /// not called, the result is `not_supported` with `DELETE_NOT_AVAILABLE` and what to do
    /// instead, and the post stays on the platform.
    NotSupported,
    /// Deleted on the platform by this call (method, a piece of its path), which a fault can
    /// hit; the simulator then lists the post no more, or marks it `"deleted": true`.
    Deletes { call: (&'static str, &'static str) },
}

/// A post breaking one of the platform's media rules, and the code it gets.
struct MediaRule {
    post: fn(&TestApp) -> Value,
    code: &'static str,
}

const PLATFORMS: &[Platform] = &[
    Platform {
        key: "linkedin",
        member: "Alex Morgan",
        post: |_, word| json!({"content": format!("A post about {word}")}),
        denial: ("error", "user_cancelled_authorize"),
        publishing_call: ("POST", "/rest/posts"),
        server_error: ServerError::ReadBackDecides,
        // initializeUpload: the adapter tries an upload step three times itself.
        safe_step: SafeStep::Before {
            post: |app, word| json!({"content": format!("A picture of {word}"), "mediaUrl": app.sample_media("sample.png")}),
            call: ("POST", "/rest/images"),
            fails: 3,
        },
        // Standard apps get no refresh token (the partner-program refresh is in delivery.rs).
        tokens: Tokens::NoRefresh { lifetime: 60 * DAY },
        duplicates: Duplicates::Refused {
            what: "the same text by the same member within a day",
            message_has: "duplicate",
        },
        // LinkedIn's 429 carries no Retry-After: the engine's backoff.
        rate_limit: RateLimit {
            retry_after: None,
            wait: Wait::Seconds(30),
            message_has: "rate limit",
            http_status: 429,
        },
        media_rule: MediaRule {
            post: |_| json!({"content": "webp", "mediaUrl": "https://cdn.example/a.webp"}),
            code: "UNSUPPORTED_MEDIA_TYPE",
        },
        deletion: Deletion::Deletes {
            call: ("DELETE", "/rest/posts/"),
        },
        read_back: ReadBack::Unavailable,
    },
    Platform {
        key: "twitter",
        member: "Alex Morgan",
        post: |_, word| json!({"content": format!("A post about {word}")}),
        denial: ("error", "access_denied"),
        publishing_call: ("POST", "/2/tweets"),
        server_error: ServerError::ReadBackDecides,
        safe_step: SafeStep::Before {
            post: |app, word| json!({"content": format!("A picture of {word}"), "mediaUrl": app.sample_media("sample.png")}),
            call: ("POST", "media/upload/initialize"),
            fails: 1,
        },
        tokens: Tokens::RefreshToken { lifetime: 2 * HOUR },
        duplicates: Duplicates::Refused {
            what: "the same text by the same account",
            message_has: "duplicate",
        },
        // x-rate-limit-reset names the moment the window reopens.
        rate_limit: RateLimit {
            retry_after: Some(300),
            wait: Wait::Seconds(300),
            message_has: "rate limit",
            http_status: 429,
        },
        media_rule: MediaRule {
            post: |_| json!({"content": "bmp", "mediaUrl": "https://cdn.example.com/a.bmp"}),
            code: "UNSUPPORTED_MEDIA_TYPE",
        },
        deletion: Deletion::Deletes {
            call: ("DELETE", "/2/tweets/"),
        },
        read_back: ReadBack::FindsAndRulesOut,
    },
    Platform {
        key: "facebook",
        member: "Alex Morgan",
        post: |_, word| json!({"content": format!("A post about {word}")}),
        denial: ("error_reason", "user_denied"),
        publishing_call: ("POST", "/feed"),
        server_error: ServerError::ReadBackDecides,
        safe_step: SafeStep::None {
            why: "Page tokens are stored at connect time: a publish reads no Page list, and its first call creates the post",
        },
        // Page tokens got with the 60-day user token do not expire (Meta's access-token guide).
        tokens: Tokens::NeverExpires,
        duplicates: Duplicates::Refused {
            what: "the same message on the same Page (error 506)",
            message_has: "duplicate",
        },
        // Meta reports the wait in whole minutes (X-Business-Use-Case-Usage): 90 s is 2 min.
        rate_limit: RateLimit {
            retry_after: Some(90),
            wait: Wait::Seconds(120),
            message_has: "rate limit",
            http_status: 400,
        },
        media_rule: MediaRule {
            post: |app| json!({"content": "clip", "mediaUrl": app.sample_media("sample.mp4"), "thumbnailUrl": app.sample_media("sample.png")}),
            code: "UNSUPPORTED_MEDIA_TYPE",
        },
        // `DELETE /{post-id}` with the Page token (the Pages API posts guide).
        deletion: Deletion::Deletes {
            call: ("DELETE", "/v25.0/"),
        },
        read_back: ReadBack::FindsAndRulesOut,
    },
    Platform {
        key: "instagram",
        member: "Alex Morgan",
        post: |app, word| json!({"content": format!("A post about {word}"), "mediaUrl": app.sample_media("sample.jpg")}),
        denial: ("error_reason", "user_denied"),
        publishing_call: ("POST", "/media_publish"),
        server_error: ServerError::ReadBackDecides,
        // The first GET of a publish is the container's status read.
        safe_step: SafeStep::Before {
            post: |app, word| json!({"content": format!("A picture of {word}"), "mediaUrl": app.sample_media("sample.jpg")}),
            call: ("GET", "/"),
            fails: 1,
        },
        tokens: Tokens::RefreshedBeforeExpiry { lifetime: 60 * DAY },
        duplicates: Duplicates::NotChecked {
            why: "Instagram has no duplicate check; repeated content meets its spam restriction (subcode 2207051)",
            fault_code: "PLATFORM_REJECTED",
            message_has: "restrict",
        },
        rate_limit: RateLimit {
            retry_after: Some(90),
            wait: Wait::Seconds(120),
            message_has: "rate limit",
            http_status: 400,
        },
        media_rule: MediaRule {
            post: |_| json!({"content": "text only"}),
            code: "MEDIA_REQUIRED",
        },
        deletion: Deletion::NotSupported,
        read_back: ReadBack::FindsAndRulesOut,
    },
    Platform {
        key: "threads",
        member: "Alex Morgan",
        post: |_, word| json!({"content": format!("A post about {word}")}),
        denial: ("error_reason", "user_denied"),
        publishing_call: ("POST", "/threads_publish"),
        server_error: ServerError::ReadBackDecides,
        // The first GET of a publish is the container's status read.
        safe_step: SafeStep::Before {
            post: |_, word| json!({"content": format!("A thread about {word}")}),
            call: ("GET", "/"),
            fails: 1,
        },
        tokens: Tokens::RefreshedBeforeExpiry {
            lifetime: 5_183_944,
        },
        duplicates: Duplicates::NotChecked {
            why: "Threads documents no duplicate check; its refusal of a repeated status (506) is still a duplicate",
            fault_code: "DUPLICATE_POST",
            message_has: "uplicate",
        },
        rate_limit: RateLimit {
            retry_after: None,
            wait: Wait::Seconds(30),
            message_has: "rate limit",
            http_status: 400,
        },
        media_rule: MediaRule {
            post: |app| json!({"content": "gif", "mediaUrl": app.sample_media("sample.gif")}),
            code: "UNSUPPORTED_MEDIA_TYPE",
        },
        // The profile's posts since the attempt (`GET /{user-id}/threads`), read to the end of
        // the window, or a stored container's status.
        read_back: ReadBack::FindsAndRulesOut,
        deletion: Deletion::Deletes {
            call: ("DELETE", "/threads/v1.0/"),
        },
    },
    Platform {
        key: "youtube",
        member: "Chris Creator",
        // The word picks the file too: YouTube's duplicate check is on the video.
        post: |app, word| json!({"title": format!("About {word}"), "content": format!("A video about {word}"), "mediaUrl": app.sample_media(&format!("sample.mp4?bytes={}", 60_000 + fnv(word) % 40_000))}),
        denial: ("error", "access_denied"),
        // The upload session's start is the safe step (`safe_step`); the chunks that complete
        // the video are the publishing call, and a 5xx on one is resumed by the adapter.
        publishing_call: ("PUT", "/upload/youtube/v3/videos"),
        server_error: ServerError::ResumedByAdapter,
        // The upload session's start; a 5xx on an upload chunk is resumed by the adapter.
        safe_step: SafeStep::Before {
            post: |app, word| json!({"title": word, "content": word, "mediaUrl": app.sample_media("sample.mp4?bytes=5000")}),
            call: ("POST", "/upload/youtube/v3/videos"),
            fails: 1,
        },
        tokens: Tokens::RefreshToken { lifetime: HOUR },
        duplicates: Duplicates::Refused {
            what: "the same video file, refused while processing",
            message_has: "duplicate",
        },
        rate_limit: RateLimit {
            retry_after: None,
            wait: Wait::DailyQuotaReset,
            message_has: "midnight Pacific",
            http_status: 403,
        },
        media_rule: MediaRule {
            post: |app| json!({"title": "t", "content": "c", "mediaUrl": app.sample_media("sample.png")}),
            code: "UNSUPPORTED_MEDIA_TYPE",
        },
        // The channel's uploads playlist, read back past the window, or a stored video id. Its
        // lost answers never get this far: the upload asks its session and goes on.
        read_back: ReadBack::FindsAndRulesOut,
        deletion: Deletion::Deletes {
            call: ("DELETE", "/youtube/v3/videos"),
        },
    },
    Platform {
        key: "pinterest",
        member: "Pat Pinner",
        post: |app, word| json!({"content": format!("A pin about {word}"), "mediaUrl": app.sample_media("sample.png"), "platformOptions": {"pinterest": {"boardId": first_board(app)}}}),
        denial: ("error", "access_denied"),
        publishing_call: ("POST", "/pins"),
        server_error: ServerError::ReadBackDecides,
        // The video's media registration.
        safe_step: SafeStep::Before {
            post: |app, word| json!({"content": word, "mediaUrl": app.sample_media("sample.mp4?bytes=5000"), "platformOptions": {"pinterest": {"boardId": first_board(app)}}}),
            call: ("POST", "/media"),
            fails: 1,
        },
        tokens: Tokens::RefreshToken { lifetime: 30 * DAY },
        // Issue 11: Pinterest has no duplicate refusal (its API reference lists none); the
        // simulator's invented 409 is gone.
        duplicates: Duplicates::NoRefusal {
            why: "Pinterest saves the same image, text and board again as a new Pin",
        },
        rate_limit: RateLimit {
            retry_after: Some(40),
            wait: Wait::Seconds(40),
            message_has: "rate limit",
            http_status: 429,
        },
        media_rule: MediaRule {
            post: |_| json!({"content": "no image", "platformOptions": {"pinterest": {"boardId": "123"}}}),
            code: "MEDIA_REQUIRED",
        },
        // The board's Pins, read to the end (pinterest_readback.rs).
        read_back: ReadBack::FindsAndRulesOut,
        deletion: Deletion::Deletes {
            call: ("DELETE", "/v5/pins/"),
        },
    },
    Platform {
        key: "reddit",
        member: "alex_r",
        // A link post: Reddit's duplicate check is on links submitted to a subreddit.
        post: |_, word| json!({"title": format!("About {word}"), "content": format!("Read about {word}"), "platformOptions": {"reddit": {"subreddit": "test", "url": format!("https://blog.example.com/{}", word.replace(' ', "-"))}}}),
        denial: ("error", "access_denied"),
        publishing_call: ("POST", "/api/submit"),
        server_error: ServerError::ReadBackDecides,
        safe_step: SafeStep::None {
            why: "the one read before the submit, the subreddit's post_requirements, is advice: when it fails the submit goes on and Reddit judges the post itself",
        },
        tokens: Tokens::RefreshToken { lifetime: HOUR },
        duplicates: Duplicates::Refused {
            what: "a link already submitted to the same subreddit (ALREADY_SUB)",
            message_has: "ALREADY_SUB",
        },
        // RATELIMIT names the wait in minutes in its message.
        rate_limit: RateLimit {
            retry_after: Some(120),
            wait: Wait::Seconds(120),
            message_has: "RATELIMIT",
            http_status: 200,
        },
        media_rule: MediaRule {
            post: |app| json!({"title": "t", "content": "c", "mediaUrl": app.sample_media("sample.png"), "thumbnailUrl": app.sample_media("sample.png"), "platformOptions": {"reddit": {"subreddit": "test"}}}),
            code: "UNSUPPORTED_MEDIA_TYPE",
        },
        // The account's submissions, newest first, back past the window (reddit_readback.rs).
        read_back: ReadBack::FindsAndRulesOut,
        deletion: Deletion::Deletes {
            call: ("POST", "/api/del"),
        },
    },
];

fn platform(key: &str) -> &'static Platform {
    PLATFORMS
        .iter()
        .find(|p| p.key == key)
        .unwrap_or_else(|| panic!("no description of {key}"))
}

/// The call that deletes a published post on `key` (method, a piece of its path) when its row
/// says the platform deletes; `None` when it reports `not_supported`. The API-level tests of
/// deletion (`delete_published.rs`) read the rows here, so a platform flips in one place.
pub(crate) fn delete_call(key: &str) -> Option<(&'static str, &'static str)> {
    match platform(key).deletion {
        Deletion::Deletes { call } => Some(call),
        Deletion::NotSupported => None,
    }
}

/// The table is complete: a platform added to the appliance's table needs its row here.
#[test]
fn every_platform_of_the_appliance_is_described() {
    let mut ours: Vec<&str> = PLATFORMS.iter().map(|p| p.key).collect();
    let mut theirs: Vec<&str> = mypostshare::providers::PLATFORMS
        .iter()
        .map(|spec| spec.key)
        .collect();
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs);
}

// ----- helpers -----

/// FNV-1a: a stable number from a word (a file size that differs between words).
fn fnv(word: &str) -> u64 {
    word.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn first_board(app: &TestApp) -> String {
    let r = app.get("/api/v1/end-users/u1/connections/pinterest/targets");
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()[0]["id"].as_str().unwrap().to_string()
}

fn connected(p: &Platform) -> TestApp {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect("u1", p.key, p.member);
    app
}

fn create(app: &TestApp, p: &Platform, body: Value) -> crate::support::Reply {
    let mut body = body;
    body["externalUserId"] = json!("u1");
    body["platforms"] = json!([p.key]);
    app.post("/api/v1/posts", body)
}

fn publish(app: &TestApp, p: &Platform, word: &str) -> Value {
    accepted(app, p, (p.post)(app, word))
}

/// Creates a post from a body made earlier (before a fault was queued: making Pinterest's
/// body reads its boards, an API call a fault would hit).
fn accepted(app: &TestApp, p: &Platform, body: Value) -> Value {
    let reply = create(app, p, body);
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json()
}

fn result(post: &Value) -> &Value {
    &post["platformResults"][0]
}

fn read(app: &TestApp, post: &Value) -> Value {
    app.get(&format!("/api/v1/posts/{}", post["id"].as_str().unwrap()))
        .json()
}

fn connection(app: &TestApp) -> Value {
    app.get("/api/v1/end-users/u1/connections").json()[0].clone()
}

fn expiry(connection: &Value) -> chrono::DateTime<chrono::Utc> {
    mypostshare::clock::parse_timestamp(connection["accessTokenExpiresAt"].as_str().unwrap())
        .unwrap()
}

fn message_of(result: &Value) -> String {
    result["errorMessage"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn advance(app: &TestApp, seconds: i64) {
    app.clock.advance(chrono::Duration::seconds(seconds));
}

// ----- the scenarios -----

/// The person presses Deny: back to the customer's redirect with `errorCode=access_denied`,
/// the session failed, nothing stored, the link spent.
fn the_person_denies_consent(p: &Platform) {
    let app = TestApp::start();
    app.upsert_user("u1");
    let session = app.create_session_for("u1", p.key);
    let url = session["connectUrl"].as_str().unwrap();
    let form = app.open_consent_page(url);
    let callback = app.decide(&form, "deny", p.member);
    let (name, value) = p.denial;
    assert_eq!(
        query_value(&callback, name).as_deref(),
        Some(value),
        "{callback}"
    );
    let done = app.follow_callback(&callback);
    assert_eq!(done.status, 302, "{}", done.body);
    let location = done.header("location").unwrap();
    assert!(location.starts_with(&format!("{REDIRECT}?")), "{location}");
    for (name, value) in [
        ("status", "failed"),
        ("errorCode", "access_denied"),
        ("platform", p.key),
        ("externalUserId", "u1"),
        ("connectSessionId", session["id"].as_str().unwrap()),
    ] {
        assert_eq!(
            query_value(location, name).as_deref(),
            Some(value),
            "{location}"
        );
    }
    let polled = app
        .get(&format!(
            "/api/v1/connect-sessions/{}",
            session["id"].as_str().unwrap()
        ))
        .json();
    assert_eq!(polled["status"], "failed", "{polled}");
    assert_eq!(polled["errorCode"], "access_denied");
    assert_eq!(
        app.get("/api/v1/end-users/u1/connections").json(),
        json!([])
    );
    // The link cannot start OAuth again.
    let again = send("GET", url, &[], None);
    assert_eq!(again.status, 410, "{}", again.body);
    assert!(!again.body.contains("<form"));
}

/// A 5xx from the call that creates the post, which the platform did not act on (the
/// simulator's `server_error` creates nothing). It is not failed at once nor sent again
/// blindly: the delivery waits `processing` with `PLATFORM_UNAVAILABLE` (the message naming the
/// status) and the platform is read back after the delay. One that can rule the post out says
/// it is absent, and the post is published once; one that cannot tell ends failed
/// `PLATFORM_UNAVAILABLE`, not refunded, never sent again. An outage is not a disconnect.
fn a_server_error_on_the_publishing_call_is_read_back_before_anything_is_sent_again(p: &Platform) {
    let app = connected(p);
    let (method, path) = p.publishing_call;
    let body = (p.post)(&app, "an outage");
    app.inject_fault(json!({"platform": p.key, "kind": "server_error", "status": 503, "method": method, "path": path}));
    let balance = app.balance();
    let post = accepted(&app, p, body);
    let charged = balance - app.balance();
    if let ServerError::ResumedByAdapter = p.server_error {
        assert_eq!(post["status"], "published", "{post}");
        assert_eq!(result(&post)["attemptCount"], 1);
        assert_eq!(app.sim_posts_of(p.key).len(), 1, "published once");
        return;
    }
    assert!(
        message_of(result(&post)).contains("answered 503 to the publishing call"),
        "{post}"
    );
    let c = connection(&app);
    assert_eq!(c["status"], "connected", "an outage is not a disconnect");
    assert_eq!(c["lastErrorCode"], "PLATFORM_UNAVAILABLE");
    let done = read_back_after_the_delay_with(&app, &post, "PLATFORM_UNAVAILABLE");
    match p.read_back {
        ReadBack::FindsAndRulesOut => {
            assert_eq!(done["status"], "published", "{done}");
            let recorded = app.sim_posts_of(p.key);
            assert_eq!(recorded.len(), 1, "published once");
            assert!(
                is_the_platforms_post(result(&done), &recorded[0]),
                "{done} {recorded:?}"
            );
            assert_eq!(result(&done)["attemptCount"], 2);
            assert_eq!(
                attempt_summary(&app, &done),
                summary(&[
                    ("publish", "unknown", json!("PLATFORM_UNAVAILABLE")),
                    ("reconcile", "absent", Value::Null),
                    ("publish", "published", Value::Null)
                ])
            );
            assert_eq!(attempts(&app, &done)[0].http_status, Some(503));
            assert_eq!(app.balance(), balance - charged, "charged once");
        }
        ReadBack::FindsOnly | ReadBack::Unavailable => {
            assert_eq!(done["status"], "failed", "{done}");
            assert_eq!(result(&done)["errorCode"], "PLATFORM_UNAVAILABLE");
            assert!(message_of(result(&done)).contains("server error"), "{done}");
            assert_eq!(result(&done)["attemptCount"], 1);
            assert_eq!(
                attempt_summary(&app, &done),
                summary(&[
                    ("publish", "unknown", json!("PLATFORM_UNAVAILABLE")),
                    ("reconcile", "failed", json!("PLATFORM_UNAVAILABLE"))
                ])
            );
            assert_eq!(
                app.balance(),
                balance - charged,
                "not refunded: whether the platform has it cannot be told"
            );
            advance(&app, 20 * MINUTE);
            assert_eq!(
                app.run_job("dispatch_due_deliveries"),
                "queued 0 deliveries",
                "never sent twice"
            );
            assert_eq!(result(&read(&app, &post))["attemptCount"], 1);
            assert!(app.sim_posts_of(p.key).is_empty(), "never sent blindly");
        }
    }
}

/// The platform creates the post and its client is told 503 (`lost_answer` with a `status`: a
/// gateway's 5xx after the platform acted). Read back after the delay: one that can tell finds
/// it, `published` with the platform's id, once, charged once; one that cannot ends failed
/// `PLATFORM_UNAVAILABLE` and keeps its credits (the platform has the post).
fn a_server_error_after_the_platform_published_is_read_back_and_published_once(p: &Platform) {
    let app = connected(p);
    let (method, path) = p.publishing_call;
    let fault = json!({"platform": p.key, "kind": "lost_answer", "status": 503, "method": method, "path": path});
    the_platform_published_but_its_answer_was_lost(&app, p, fault, "PLATFORM_UNAVAILABLE");
}

/// The platform refuses the token as revoked: failed `NEEDS_RECONNECT` (even where a refresh
/// was tried), the connection `needs_reconnect`, new posts refused before charging, and
/// connecting again heals it.
/// Lets time pass and the dispatcher run until the post is published or failed, for a number
/// of rounds that any backoff of a safe step fits in; each round waits for the attempt it
/// started to be recorded.
pub fn drive_until_final(app: &TestApp, post: &Value) -> Value {
    let id = post["id"].as_str().unwrap().to_string();
    for _ in 0..10 {
        let post = read(app, post);
        if post["status"] == "published" || post["status"] == "failed" {
            return post;
        }
        let before = attempts(app, &post).len();
        advance(app, 2 * MINUTE);
        if app.run_job("dispatch_due_deliveries") != "queued 0 deliveries" {
            app.wait_for_post(&id, |p| {
                let now = attempts(app, p);
                now.len() > before && now.iter().all(|a| a.finished_at.is_some())
            });
        }
    }
    read(app, post)
}

pub fn attempts(app: &TestApp, post: &Value) -> Vec<mypostshare::services::posts::Attempt> {
    let delivery = result(post)["id"].as_str().unwrap().to_string();
    app.running
        .state
        .db
        .read(|c| mypostshare::services::posts::attempts(c, &delivery))
        .unwrap()
}

/// A transient failure (`fault`: a 5xx, or no answer within the appliance's wait) in a step
/// that publishes nothing: the delivery waits `pending` and is retried with backoff, then
/// published once; the attempt log shows the failed try with `http_status`.
fn a_safe_step_fails_then_is_retried(
    app: &TestApp,
    p: &Platform,
    fault: Value,
    message_has: &str,
    http_status: Option<i64>,
) {
    let SafeStep::Before {
        post: body,
        call: (method, path),
        fails,
    } = &p.safe_step
    else {
        return;
    };
    let mut fault = fault;
    fault["platform"] = json!(p.key);
    fault["method"] = json!(method);
    fault["path"] = json!(path);
    fault["count"] = json!(fails);
    app.inject_fault(fault);
    let balance = app.balance();
    let post = accepted(app, p, body(app, "a safe step"));
    let charged = balance - app.balance();
    assert_eq!(result(&post)["status"], "pending", "{post}");
    assert_eq!(result(&post)["errorCode"], "PLATFORM_UNAVAILABLE");
    let message = message_of(result(&post));
    assert!(
        message.contains(message_has) && message.contains("retrying automatically"),
        "{post}"
    );
    assert_eq!(result(&post)["attemptCount"], 1);
    assert!(app.sim_posts_of(p.key).is_empty(), "nothing published yet");

    let done = drive_until_final(app, &post);
    assert_eq!(done["status"], "published", "{done}");
    assert_eq!(result(&done)["attemptCount"], 2);
    assert_eq!(app.sim_posts_of(p.key).len(), 1, "published exactly once");
    let attempts = attempts(app, &done);
    assert_eq!(attempts[0].outcome.as_deref(), Some("retry"));
    assert_eq!(attempts[0].http_status, http_status);
    assert_eq!(app.balance(), balance - charged, "charged once");
}

fn a_server_error_in_a_step_that_publishes_nothing_is_retried_then_published_once(p: &Platform) {
    if let SafeStep::None { why } = p.safe_step {
        // Nothing to fail before the publishing call, whose 5xx has its own scenario.
        assert!(!why.is_empty());
        return;
    }
    let app = connected(p);
    a_safe_step_fails_then_is_retried(
        &app,
        p,
        json!({"kind": "server_error", "status": 503}),
        "nothing was published",
        Some(503),
    );
}

/// No answer in time from a step that publishes nothing (the simulator's `timeout`, longer than
/// the appliance waits) is as safe to run again as a 5xx there: retried with backoff, then
/// published once, never read back as an interrupted publish.
fn no_answer_from_a_step_that_publishes_nothing_is_retried_then_published_once(p: &Platform) {
    if let SafeStep::None { why } = p.safe_step {
        assert!(!why.is_empty());
        return;
    }
    let app = connected_impatient(p);
    a_safe_step_fails_then_is_retried(
        &app,
        p,
        json!({"kind": "timeout", "delayMs": HELD_MS}),
        "no answer in time",
        None,
    );
}

fn a_revoked_token_asks_for_a_reconnect(p: &Platform) {
    let app = connected(p);
    let body = (p.post)(&app, "a revoked token");
    app.inject_fault(json!({"platform": p.key, "kind": "revoked_token"}));
    let post = accepted(&app, p, body.clone());
    assert_eq!(post["status"], "failed", "{post}");
    assert_eq!(result(&post)["errorCode"], "NEEDS_RECONNECT");
    assert!(app.sim_posts_of(p.key).is_empty());
    let c = connection(&app);
    assert_eq!(c["status"], "error", "{c}");
    assert_eq!(c["needsReconnect"], true);
    assert_eq!(c["tokenStatus"], "needs_reconnect");
    assert_eq!(
        app.get("/api/v1/end-users/u1").json()["connectionSummary"],
        json!({"total": 1, "connected": 0, "failed": 1})
    );
    let balance = app.balance();
    let again = create(&app, p, body);
    assert_eq!(again.error_code(400), "PLATFORM_NEEDS_RECONNECT");
    assert_eq!(app.balance(), balance, "refused before charging");
    app.connect("u1", p.key, p.member);
    let healed = publish(&app, p, "a new connection");
    assert_eq!(healed["status"], "published", "{healed}");
    assert_eq!(connection(&app)["needsReconnect"], false);
}

/// Time passes beyond the access token's life: refreshed and published where the platform
/// allows it, otherwise `expiring_soon`, `expired`, and `PLATFORM_NEEDS_RECONNECT` before
/// anything is charged.
fn an_expiring_access_token_is_refreshed_or_asks_for_a_reconnect(p: &Platform) {
    let app = connected(p);
    let before = connection(&app);
    match p.tokens {
        Tokens::NeverExpires => {
            assert_eq!(before["tokenStatus"], "active", "{before}");
            advance(&app, 90 * DAY);
            assert_eq!(connection(&app)["tokenStatus"], "active");
            let post = publish(&app, p, "ninety days on");
            assert_eq!(post["status"], "published", "{post}");
        }
        Tokens::NoRefresh { lifetime } => {
            assert_eq!(before["tokenStatus"], "active", "{before}");
            assert_eq!(before["canAutoRefresh"], false);
            advance(&app, lifetime - 6 * DAY);
            assert_eq!(connection(&app)["tokenStatus"], "expiring_soon");
            advance(&app, 7 * DAY);
            assert_eq!(connection(&app)["tokenStatus"], "expired");
            let balance = app.balance();
            let late = create(&app, p, (p.post)(&app, "too late"));
            assert_eq!(late.error_code(400), "PLATFORM_NEEDS_RECONNECT");
            assert_eq!(app.balance(), balance, "refused before charging");
            assert!(app.sim_posts_of(p.key).is_empty());
        }
        Tokens::RefreshToken { lifetime } => {
            assert_eq!(before["tokenStatus"], "active_refreshable", "{before}");
            assert_eq!(before["canAutoRefresh"], true);
            // Twice: the second refresh proves the refresh token kept (or its rotation) works.
            let mut previous = before;
            for word in ["one refresh", "two refreshes"] {
                advance(&app, lifetime + MINUTE);
                let post = publish(&app, p, word);
                assert_eq!(post["status"], "published", "{word}: {post}");
                let after = connection(&app);
                assert!(expiry(&after) > expiry(&previous), "{previous} -> {after}");
                assert_eq!(after["tokenStatus"], "active_refreshable");
                previous = after;
            }
            assert_eq!(app.sim_posts_of(p.key).len(), 2);
        }
        Tokens::RefreshedBeforeExpiry { lifetime } => {
            assert_eq!(before["tokenStatus"], "active_refreshable", "{before}");
            advance(&app, lifetime - 30);
            let post = publish(&app, p, "the last minute");
            assert_eq!(post["status"], "published", "{post}");
            let after = connection(&app);
            let gained = expiry(&after) - expiry(&before);
            assert!(
                gained.num_seconds() >= lifetime - DAY,
                "{before} -> {after}"
            );
            assert_eq!(after["tokenStatus"], "active_refreshable");
        }
    }
}

/// The same post twice, then the platform's duplicate refusal on a fresh one: what each
/// platform does is in its row (`DUPLICATE_POST`, or no check at all).
fn a_duplicate_meets_the_platforms_own_check(p: &Platform) {
    let app = connected(p);
    let first = publish(&app, p, "same words");
    assert_eq!(first["status"], "published", "{first}");
    let second = publish(&app, p, "same words");
    match p.duplicates {
        Duplicates::Refused { what, message_has } => {
            assert_eq!(second["status"], "failed", "{what}: {second}");
            assert_eq!(result(&second)["errorCode"], "DUPLICATE_POST", "{what}");
            assert!(
                message_of(result(&second)).contains(message_has),
                "{second}"
            );
            let body = (p.post)(&app, "fresh words");
            app.inject_fault(json!({"platform": p.key, "kind": "duplicate"}));
            let third = accepted(&app, p, body);
            assert_eq!(third["status"], "failed", "{third}");
            assert_eq!(result(&third)["errorCode"], "DUPLICATE_POST");
            assert_eq!(app.sim_posts_of(p.key).len(), 1);
        }
        Duplicates::NotChecked {
            why,
            fault_code,
            message_has,
        } => {
            assert_eq!(second["status"], "published", "{why}: {second}");
            let body = (p.post)(&app, "fresh words");
            app.inject_fault(json!({"platform": p.key, "kind": "duplicate"}));
            let third = accepted(&app, p, body);
            assert_eq!(third["status"], "failed", "{third}");
            assert_eq!(result(&third)["errorCode"], fault_code, "{why}");
            assert!(message_of(result(&third)).contains(message_has), "{third}");
            assert_eq!(app.sim_posts_of(p.key).len(), 2);
        }
        Duplicates::NoRefusal { why } => {
            assert_eq!(second["status"], "published", "{why}: {second}");
            assert_eq!(app.sim_posts_of(p.key).len(), 2);
            let refused = send(
                "POST",
                &format!("{}/sandbox/_sim/faults", app.base),
                &[("Content-Type", "application/json")],
                Some(&json!({"platform": p.key, "kind": "duplicate"}).to_string()),
            );
            assert_eq!(refused.status, 400, "{why}: {}", refused.body);
        }
    }
}

/// The platform throttles the publish: pending `RATE_LIMITED`, not due before the wait the
/// platform names (or the engine's backoff), due after it, then published on the second
/// attempt.
fn a_rate_limit_is_retried_after_the_platforms_wait_then_published(p: &Platform) {
    let app = connected(p);
    let limit = &p.rate_limit;
    let mut fault = json!({"platform": p.key, "kind": "rate_limit"});
    if let Some(secs) = limit.retry_after {
        fault["retryAfter"] = json!(secs);
    }
    let body = (p.post)(&app, "a busy day");
    app.inject_fault(fault);
    let post = accepted(&app, p, body);
    assert_eq!(post["status"], "processing", "{post}");
    assert_eq!(result(&post)["status"], "pending");
    assert_eq!(result(&post)["errorCode"], "RATE_LIMITED");
    assert_eq!(result(&post)["attemptCount"], 1);
    assert!(
        message_of(result(&post)).contains(limit.message_has),
        "{post}"
    );
    let (not_yet, due) = match limit.wait {
        Wait::Seconds(secs) => (secs - 1, secs + 6),
        Wait::DailyQuotaReset => (55, 25 * HOUR),
    };
    advance(&app, not_yet);
    assert_eq!(
        app.run_job("dispatch_due_deliveries"),
        "queued 0 deliveries",
        "retried before the wait"
    );
    advance(&app, due - not_yet);
    assert_eq!(
        app.run_job("dispatch_due_deliveries"),
        "queued 1 deliveries"
    );
    let done = app.wait_for_post(post["id"].as_str().unwrap(), |p| p["status"] == "published");
    assert_eq!(done["status"], "published", "{done}");
    assert_eq!(result(&done)["attemptCount"], 2);
    assert_eq!(result(&done)["errorCode"], Value::Null);
    assert_eq!(app.sim_posts_of(p.key).len(), 1);
    let delivery = result(&done)["id"].as_str().unwrap().to_string();
    let attempts = app
        .running
        .state
        .db
        .read(|c| mypostshare::services::posts::attempts(c, &delivery))
        .unwrap();
    let outcomes: Vec<_> = attempts.iter().map(|a| a.outcome.clone()).collect();
    assert_eq!(
        outcomes,
        [Some("retry".to_string()), Some("published".to_string())]
    );
    assert_eq!(attempts[0].http_status, Some(limit.http_status));
}

/// A post breaking one of the platform's media rules: its validation code, before anything is
/// charged or sent.
fn a_media_rule_is_checked_before_anything_is_charged(p: &Platform) {
    let app = connected(p);
    let balance = app.balance();
    let reply = create(&app, p, (p.media_rule.post)(&app));
    assert_eq!(reply.error_code(400), p.media_rule.code);
    assert_eq!(app.balance(), balance);
    assert!(app.sim_posts_of(p.key).is_empty());
    // Nothing was stored either.
    assert_eq!(app.get("/api/v1/posts").json(), json!([]));
}

/// DELETE of a published post: where the platform's API allows it, deleted there (a failed call
/// is reported `failed` and only it is called again by the next DELETE; a deleted post is never
/// asked about again); elsewhere `not_supported`, naming what to do instead, and nothing is
/// called. The post's status stays, and GET shows what the DELETE answered.
fn a_published_post_is_deleted_where_the_platform_allows_it(p: &Platform) {
    let app = connected(p);
    let post = publish(&app, p, "a post to delete");
    assert_eq!(post["status"], "published", "{post}");
    assert_eq!(app.live_sim_posts_of(p.key), 1);
    let id = post["id"].as_str().unwrap().to_string();
    let delete = || {
        let reply = app.call("DELETE", &format!("/api/v1/posts/{id}"), None);
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    };
    match p.deletion {
        Deletion::NotSupported => {
            let answer = delete();
            assert_eq!(answer["status"], "published", "the post's status stays");
            let deletion = &result(&answer)["deletion"];
            assert_eq!(deletion["status"], "not_supported", "{answer}");
            assert_eq!(deletion["errorCode"], "DELETE_NOT_AVAILABLE");
            assert_eq!(deletion["attemptCount"], 0, "nothing was called");
            assert_eq!(deletion["deletedAt"], Value::Null);
            let message = deletion["errorMessage"].as_str().unwrap_or_default();
            assert!(message.contains("delete it in the"), "{message}");
            assert_eq!(app.live_sim_posts_of(p.key), 1, "still on the platform");
            assert_eq!(read(&app, &post), answer, "GET shows the same");
            assert_eq!(delete(), answer, "a second DELETE finds the same");
        }
        Deletion::Deletes {
            call: (method, path),
        } => {
            let fault = json!({"platform": p.key, "kind": "server_error", "status": 503, "method": method, "path": path});
            app.inject_fault(fault.clone());
            let failed = delete();
            let deletion = &result(&failed)["deletion"];
            assert_eq!(deletion["status"], "failed", "{failed}");
            assert_eq!(deletion["errorCode"], "PLATFORM_UNAVAILABLE");
            assert_eq!(deletion["deletedAt"], Value::Null);
            assert!(app.queued_faults().is_empty(), "the delete call was made");
            assert_eq!(
                app.live_sim_posts_of(p.key),
                1,
                "the failed call deleted nothing"
            );
            let deleted = delete();
            assert_eq!(deleted["status"], "published", "the post's status stays");
            let deletion = &result(&deleted)["deletion"];
            assert_eq!(deletion["status"], "deleted", "{deleted}");
            assert_eq!(deletion["alreadyGone"], false);
            assert_eq!(deletion["errorCode"], Value::Null);
            assert_eq!(deletion["attemptCount"], 2);
            assert!(deletion["deletedAt"].is_string(), "{deleted}");
            assert_eq!(app.live_sim_posts_of(p.key), 0, "gone from the platform");
            assert_eq!(read(&app, &post), deleted, "GET shows the same");
            // Deleted stays deleted: the platform is not asked again, so a fault queued for
            // its delete call stays queued.
            app.inject_fault(fault);
            assert_eq!(delete(), deleted);
            assert_eq!(app.queued_faults().len(), 1, "no call was made");
        }
    }
}

// ----- lost answers: the platform is read back -----

/// How long the appliance waits for a platform's answer in the lost-answer scenarios, and how
/// long the simulator holds the answer: longer, so it never arrives in time.
const SHORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
const HELD_MS: u64 = 5_000;

/// `connected` with platform calls that give up after `SHORT_TIMEOUT`.
fn connected_impatient(p: &Platform) -> TestApp {
    let app = TestApp::start_with(Setup {
        configure: |config| config.provider_timeout = SHORT_TIMEOUT,
        ..Setup::default()
    });
    app.upsert_user("u1");
    app.connect("u1", p.key, p.member);
    app
}

/// The attempts of a post's only delivery: (step, outcome, errorCode).
fn attempt_summary(app: &TestApp, post: &Value) -> Vec<(String, String, Value)> {
    let id = post["id"].as_str().unwrap();
    let attempts = app.get(&format!("/api/v1/posts/{id}/attempts")).json();
    attempts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["step"].as_str().unwrap_or_default().to_string(),
                a["outcome"].as_str().unwrap_or_default().to_string(),
                a["errorCode"].clone(),
            )
        })
        .collect()
}

fn summary(rows: &[(&str, &str, Value)]) -> Vec<(String, String, Value)> {
    rows.iter()
        .map(|(step, outcome, code)| (step.to_string(), outcome.to_string(), code.clone()))
        .collect()
}

/// The publishing call got no answer in time: the delivery stays `processing` with
/// `OUTCOME_UNKNOWN` while the platform is read back, not before the read-back delay (20 s),
/// then once. Returns the post as it ends.
fn read_back_after_the_delay(app: &TestApp, post: &Value) -> Value {
    read_back_after_the_delay_with(app, post, "OUTCOME_UNKNOWN")
}

/// `read_back_after_the_delay` for a delivery waiting with `code` (`PLATFORM_UNAVAILABLE` after
/// a 5xx from the publishing call).
fn read_back_after_the_delay_with(app: &TestApp, post: &Value, code: &str) -> Value {
    assert_eq!(post["status"], "processing", "{post}");
    assert_eq!(result(post)["status"], "processing");
    assert_eq!(result(post)["errorCode"], code);
    assert!(message_of(result(post)).contains("read back"), "{post}");
    advance(app, 19);
    assert_eq!(
        app.run_job("dispatch_due_deliveries"),
        "queued 0 deliveries",
        "read back before the delay"
    );
    advance(app, 2);
    assert_eq!(
        app.run_job("dispatch_due_deliveries"),
        "queued 1 deliveries"
    );
    app.wait_for_post(post["id"].as_str().unwrap(), |p| {
        p["status"] != "processing"
    })
}

/// The platform's id of the one post it holds is the delivery's `externalId` (Reddit's is its
/// fullname, `t3_` and the id).
fn is_the_platforms_post(result: &Value, recorded: &Value) -> bool {
    let (external, id) = (result["externalId"].as_str(), recorded["id"].as_str());
    matches!((external, id), (Some(e), Some(id)) if !id.is_empty() && e.ends_with(id))
}

/// The platform publishes the post, and its answer is lost (`lost_answer`: held longer than the
/// appliance waits). The delivery is not failed at once: after the read-back delay the platform
/// is asked whether it has the post. One that can tell says yes: `published` with the
/// platform's id, one post on the platform, charged once. One that cannot: `OUTCOME_UNKNOWN`,
/// and the post keeps its credits (the platform has it).
fn a_lost_answer_to_the_publishing_call_is_read_back(p: &Platform) {
    let app = connected_impatient(p);
    let (method, path) = p.publishing_call;
    let fault = json!({"platform": p.key, "kind": "lost_answer", "delayMs": HELD_MS, "method": method, "path": path});
    the_platform_published_but_its_answer_was_lost(&app, p, fault, "OUTCOME_UNKNOWN");
}

/// The platform publishes, but its answer to the publishing call is lost (`fault`: held past
/// the appliance's wait, or replaced by a gateway's 5xx). The delivery waits with `code`, is
/// read back after the delay, and is published with the platform's own post, once; a platform
/// that cannot be read back ends `code`. Either way the post keeps its credits.
fn the_platform_published_but_its_answer_was_lost(
    app: &TestApp,
    p: &Platform,
    fault: Value,
    code: &str,
) {
    let body = (p.post)(app, "a lost answer");
    app.inject_fault(fault);
    let balance = app.balance();
    let post = accepted(app, p, body);
    let charged = balance - app.balance();
    assert!(charged > 0);
    if let ServerError::ResumedByAdapter = p.server_error {
        assert_eq!(post["status"], "published", "{post}");
        assert_eq!(app.sim_posts_of(p.key).len(), 1, "published once");
        return;
    }
    assert_eq!(app.sim_posts_of(p.key).len(), 1, "the platform did publish");
    let done = read_back_after_the_delay_with(app, &post, code);
    let recorded = app.sim_posts_of(p.key);
    assert_eq!(recorded.len(), 1, "never published twice");
    match p.read_back {
        ReadBack::FindsAndRulesOut | ReadBack::FindsOnly => {
            assert_eq!(done["status"], "published", "{done}");
            assert_eq!(result(&done)["errorCode"], Value::Null);
            assert!(
                is_the_platforms_post(result(&done), &recorded[0]),
                "{done} {recorded:?}"
            );
            assert_eq!(result(&done)["attemptCount"], 1);
            assert_eq!(
                attempt_summary(app, &done),
                summary(&[
                    ("publish", "unknown", json!(code)),
                    ("reconcile", "published", Value::Null)
                ])
            );
        }
        ReadBack::Unavailable => {
            assert_eq!(done["status"], "failed", "{done}");
            assert_eq!(result(&done)["errorCode"], code);
            assert!(
                message_of(result(&done)).contains("cannot be told"),
                "{done}"
            );
            assert_eq!(
                attempt_summary(app, &done),
                summary(&[
                    ("publish", "unknown", json!(code)),
                    ("reconcile", "failed", json!(code))
                ])
            );
        }
    }
    assert_eq!(
        app.balance(),
        balance - charged,
        "charged once, never refunded: the platform has the post"
    );
    advance(app, 20 * MINUTE);
    assert_eq!(
        app.run_job("dispatch_due_deliveries"),
        "queued 0 deliveries"
    );
    assert_eq!(app.sim_posts_of(p.key).len(), 1);
}

/// The publishing call times out before the platform acted (`timeout`: the platform waits
/// longer than the appliance, then refuses). Read back after the delay: a platform that can
/// rule the post out says it is absent, and the post is published again, once. Where the
/// platform cannot tell: `OUTCOME_UNKNOWN`, not refunded, nothing on the platform.
fn a_publishing_call_that_timed_out_before_the_platform_acted_is_read_back(p: &Platform) {
    let app = connected_impatient(p);
    let (method, path) = p.publishing_call;
    let body = (p.post)(&app, "a slow platform");
    app.inject_fault(json!({"platform": p.key, "kind": "timeout", "delayMs": HELD_MS, "method": method, "path": path}));
    let balance = app.balance();
    let post = accepted(&app, p, body);
    let charged = balance - app.balance();
    if let ServerError::ResumedByAdapter = p.server_error {
        assert_eq!(post["status"], "published", "{post}");
        assert_eq!(app.sim_posts_of(p.key).len(), 1, "published once");
        return;
    }
    assert!(
        app.sim_posts_of(p.key).is_empty(),
        "the platform did not act"
    );
    let done = read_back_after_the_delay(&app, &post);
    match p.read_back {
        ReadBack::FindsAndRulesOut => {
            assert_eq!(done["status"], "published", "{done}");
            let recorded = app.sim_posts_of(p.key);
            assert_eq!(recorded.len(), 1, "published once");
            assert!(
                is_the_platforms_post(result(&done), &recorded[0]),
                "{done} {recorded:?}"
            );
            assert_eq!(result(&done)["attemptCount"], 2);
            assert_eq!(
                attempt_summary(&app, &done),
                summary(&[
                    ("publish", "unknown", json!("OUTCOME_UNKNOWN")),
                    ("reconcile", "absent", Value::Null),
                    ("publish", "published", Value::Null)
                ])
            );
            assert_eq!(app.balance(), balance - charged, "charged once");
        }
        ReadBack::FindsOnly | ReadBack::Unavailable => {
            assert_eq!(done["status"], "failed", "{done}");
            assert_eq!(result(&done)["errorCode"], "OUTCOME_UNKNOWN");
            assert!(app.sim_posts_of(p.key).is_empty(), "never sent blindly");
            assert_eq!(
                app.balance(),
                balance - charged,
                "not refunded: whether the platform has it cannot be told"
            );
        }
    }
}
