//! Transient failures before anything is published, beyond the cross-platform scenario table
//! (`scenarios.rs`, whose rows name each platform's safe step: a 5xx or no answer there is
//! retried, then published once): a token refresh the platform fails, and a status read that
//! fails while the platform processes a video.

use crate::scenarios::{attempts, drive_until_final};
use crate::support::{Setup, TestApp};
use serde_json::{Value, json};

/// A post and the platform it goes to.
struct Scenario {
    platform: &'static str,
    post: fn(&TestApp, &str) -> Value,
}

const REDDIT: Scenario = Scenario {
    platform: "reddit",
    post: |_, text| json!({"title": text, "content": text, "platformOptions": {"reddit": {"subreddit": "test"}}}),
};

const PINTEREST_VIDEO: Scenario = Scenario {
    platform: "pinterest",
    post: |app, text| json!({"content": text, "mediaUrl": app.sample_media("sample.mp4?bytes=5000"), "platformOptions": {"pinterest": {"boardId": pinterest_board(app)}}}),
};

fn pinterest_board(app: &TestApp) -> String {
    app.get("/api/v1/end-users/u1/connections/pinterest/targets")
        .json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn connected(setup: Setup, scenario: &Scenario) -> TestApp {
    let app = TestApp::start_with(setup);
    app.upsert_user("u1");
    app.connect("u1", scenario.platform, "alex_morgan");
    app
}

fn publish(app: &TestApp, scenario: &Scenario, text: &str) -> Value {
    let mut body = (scenario.post)(app, text);
    body["externalUserId"] = json!("u1");
    body["platforms"] = json!([scenario.platform]);
    let reply = app.post("/api/v1/posts", body);
    assert_eq!(reply.status, 201, "{}: {}", scenario.platform, reply.body);
    reply.json()
}

fn result(post: &Value) -> &Value {
    &post["platformResults"][0]
}

/// How long the appliance waits for a platform's answer in the no-answer tests, and how long
/// the simulator holds it: longer, so no answer comes in time.
const SHORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
const HELD_MS: u64 = 5_000;

/// Reddit's token endpoint fails while a delivery refreshes its expired token (a 5xx, then no
/// answer in time): nothing was published, so the delivery waits and tries again instead of
/// failing, and publishes once the endpoint answers. One that keeps failing ends, after the
/// attempt limit, as `PLATFORM_UNAVAILABLE_BEFORE_PUBLISHING`, and is refunded.
#[test]
fn a_token_refresh_the_platform_fails_is_retried_later() {
    let app = TestApp::start_with(Setup {
        configure: |config| config.provider_timeout = SHORT_TIMEOUT,
        ..Setup::default()
    });
    app.upsert_user("u1");
    app.connect("u1", "reddit", "alex_r");
    let reddit = &REDDIT;
    let token_call = |held: u64, count: u32| json!({"platform": "reddit", "kind": "lost_answer", "method": "POST", "path": "/api/v1/access_token", "delayMs": held, "count": count});
    // A gateway's 504 at once, then no answer within the appliance's wait.
    for (held, how) in [(0, "answered 504"), (HELD_MS, "gave no answer")] {
        app.clock.advance(chrono::Duration::hours(2));
        app.inject_fault(token_call(held, 1));
        let post = publish(&app, reddit, &format!("the token endpoint {how}"));
        assert_eq!(result(&post)["status"], "pending", "{how}: {post}");
        assert!(
            result(&post)["errorMessage"]
                .as_str()
                .unwrap()
                .contains("Refreshing the reddit token failed"),
            "{how}: {post}"
        );
        let first = attempts(&app, &post);
        assert_eq!(
            first[0].step,
            Some(mypostshare::services::posts::AttemptStep::Prepare),
            "{how}: the platform's API was not called"
        );
        let done = drive_until_final(&app, &post);
        assert_eq!(done["status"], "published", "{how}: {done}");
        assert_eq!(result(&done)["attemptCount"], 2, "{how}");
    }
    assert_eq!(app.sim_posts_of("reddit").len(), 2, "each published once");

    app.clock.advance(chrono::Duration::hours(2));
    app.inject_fault(token_call(0, 3));
    let balance = app.balance();
    let post = publish(&app, reddit, "the token endpoint is down");
    let done = drive_until_final(&app, &post);
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(
        result(&done)["errorCode"],
        "PLATFORM_UNAVAILABLE_BEFORE_PUBLISHING"
    );
    assert_eq!(result(&done)["attemptCount"], 3);
    assert_eq!(app.balance(), balance, "refunded: nothing was published");
    assert_eq!(app.sim_posts_of("reddit").len(), 2);
}

/// A status read that fails while the platform processes a video is looked at again with the
/// stored state: the video is not uploaded again and no new attempt is counted.
#[test]
fn a_failed_status_read_while_processing_keeps_the_upload() {
    // A short budget, so the video is left processing when the request answers.
    let app = connected(
        Setup {
            publish_budget: std::time::Duration::from_secs(3),
            ..Setup::default()
        },
        &PINTEREST_VIDEO,
    );
    app.sim_settings("pinterest", json!({"processingPolls": 7}));
    let post = publish(&app, &PINTEREST_VIDEO, "long clip");
    let id = post["id"].as_str().unwrap().to_string();
    assert_eq!(result(&post)["status"], "processing", "{post}");
    app.inject_fault(json!({"platform": "pinterest", "kind": "server_error", "status": 500, "method": "GET", "path": "/media/"}));
    app.clock.advance(chrono::Duration::minutes(2));
    app.run_job("dispatch_due_deliveries");
    let post = app.wait_for_post(&id, |p| {
        attempts(&app, p)
            .iter()
            .any(|a| a.http_status == Some(500) && a.finished_at.is_some())
    });
    assert_eq!(result(&post)["status"], "processing", "{post}");
    assert_eq!(
        result(&post)["attemptCount"],
        1,
        "a look again, not a new attempt"
    );
    let done = drive_until_final(&app, &post);
    assert_eq!(done["status"], "published", "{done}");
    assert_eq!(
        result(&done)["attemptCount"],
        1,
        "the video was uploaded once"
    );
    assert_eq!(app.sim_posts_of("pinterest").len(), 1);
}
