//! The cross-platform scenario table of server errors: a transient 5xx in a step that publishes
//! nothing (an upload session, a media registration, a container status read, the Page list) is
//! retried with backoff and the post is then published once; a 5xx from the call that creates
//! the post is still never retried, since the platform may have published it anyway.

use crate::support::{Setup, TestApp};
use serde_json::{Value, json};

/// One platform's row: the post it sends, the step that publishes nothing and fails once
/// (`method`, a piece of its path, and how many calls fail: the adapter's own retries of an
/// upload step come first), and the call that publishes.
struct Scenario {
    platform: &'static str,
    post: fn(&TestApp, &str) -> Value,
    safe_step: Option<(&'static str, &'static str, u32)>,
    publishing_step: Option<(&'static str, &'static str)>,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        platform: "twitter",
        post: |app, text| json!({"content": text, "mediaUrl": app.sample_media("sample.png")}),
        safe_step: Some(("POST", "media/upload/initialize", 1)),
        publishing_step: Some(("POST", "/2/tweets")),
    },
    Scenario {
        platform: "instagram",
        // The first GET of a publish is the container's status read.
        post: |app, text| json!({"content": text, "mediaUrl": app.sample_media("sample.jpg")}),
        safe_step: Some(("GET", "/", 1)),
        publishing_step: Some(("POST", "/media_publish")),
    },
    Scenario {
        platform: "threads",
        // The first GET of a publish is the container's status read.
        post: |_, text| json!({"content": text}),
        safe_step: Some(("GET", "/", 1)),
        publishing_step: Some(("POST", "/threads_publish")),
    },
    Scenario {
        platform: "facebook",
        post: |_, text| json!({"content": text}),
        // Page tokens are stored at connect time: a publish reads no Page list, so it has no
        // step before the one that creates the post.
        safe_step: None,
        publishing_step: Some(("POST", "/feed")),
    },
    Scenario {
        platform: "youtube",
        post: |app, text| json!({"title": text, "content": text, "mediaUrl": app.sample_media("sample.mp4?bytes=5000")}),
        // The session start; a 5xx on an upload chunk is resumed by the adapter itself.
        safe_step: Some(("POST", "/upload/youtube/v3/videos", 1)),
        publishing_step: None,
    },
    Scenario {
        platform: "pinterest",
        post: |app, text| json!({"content": text, "mediaUrl": app.sample_media("sample.mp4?bytes=5000"), "platformOptions": {"pinterest": {"boardId": pinterest_board(app)}}}),
        safe_step: Some(("POST", "/media", 1)),
        publishing_step: Some(("POST", "/pins")),
    },
    Scenario {
        platform: "linkedin",
        // initializeUpload: the adapter tries an upload step three times itself.
        post: |app, text| json!({"content": text, "mediaUrl": app.sample_media("sample.png")}),
        safe_step: Some(("POST", "/rest/images", 3)),
        publishing_step: Some(("POST", "/rest/posts")),
    },
    Scenario {
        platform: "reddit",
        // A self post is one call, the one that publishes.
        post: |_, text| json!({"title": text, "content": text, "platformOptions": {"reddit": {"subreddit": "test"}}}),
        safe_step: None,
        publishing_step: Some(("POST", "/api/submit")),
    },
];

fn pinterest_board(app: &TestApp) -> String {
    app.get("/api/v1/end-users/u1/connections/pinterest/targets")
        .json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn connected_everywhere(setup: Setup) -> TestApp {
    let app = TestApp::start_with(setup);
    app.upsert_user("u1");
    for scenario in SCENARIOS {
        app.connect("u1", scenario.platform, "alex_morgan");
    }
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

fn read(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/posts/{id}")).json()
}

fn attempts(app: &TestApp, post: &Value) -> Vec<mypostshare::services::posts::Attempt> {
    let delivery = result(post)["id"].as_str().unwrap().to_string();
    app.running
        .state
        .db
        .read(|c| mypostshare::services::posts::attempts(c, &delivery))
        .unwrap()
}

/// Lets time pass and the dispatcher run until the post is published or failed, for a number
/// of rounds that any backoff of this table fits in; each round waits for the attempt it
/// started to be recorded.
fn drive_until_published(app: &TestApp, id: &str) -> Value {
    for _ in 0..10 {
        let post = read(app, id);
        if post["status"] == "published" || post["status"] == "failed" {
            return post;
        }
        let before = attempts(app, &post).len();
        app.clock.advance(chrono::Duration::minutes(2));
        if app.run_job("dispatch_due_deliveries") != "queued 0 deliveries" {
            app.wait_for_post(id, |p| {
                let now = attempts(app, p);
                now.len() > before && now.iter().all(|a| a.finished_at.is_some())
            });
        }
    }
    read(app, id)
}

#[test]
fn a_server_error_in_a_step_that_publishes_nothing_is_retried_then_published_once() {
    let app = connected_everywhere(Setup::default());
    for scenario in SCENARIOS {
        let platform = scenario.platform;
        let Some((method, path, count)) = scenario.safe_step else {
            continue;
        };
        let before = app.sim_posts_of(platform).len();
        app.inject_fault(json!({"platform": platform, "kind": "server_error", "status": 503, "method": method, "path": path, "count": count}));
        let post = publish(&app, scenario, &format!("safe step of {platform}"));
        let id = post["id"].as_str().unwrap().to_string();
        assert_eq!(result(&post)["status"], "pending", "{platform}: {post}");
        assert_eq!(
            result(&post)["errorCode"],
            "PLATFORM_UNAVAILABLE",
            "{platform}"
        );
        assert!(
            result(&post)["errorMessage"]
                .as_str()
                .unwrap()
                .contains("retrying automatically"),
            "{platform}: {post}"
        );
        assert_eq!(result(&post)["attemptCount"], 1, "{platform}");
        assert_eq!(app.sim_posts_of(platform).len(), before, "{platform}");

        let done = drive_until_published(&app, &id);
        assert_eq!(done["status"], "published", "{platform}: {done}");
        assert_eq!(result(&done)["attemptCount"], 2, "{platform}");
        assert_eq!(
            app.sim_posts_of(platform).len(),
            before + 1,
            "{platform}: published exactly once"
        );
        let attempts = attempts(&app, &done);
        assert_eq!(attempts[0].outcome.as_deref(), Some("retry"), "{platform}");
        assert_eq!(attempts[0].http_status, Some(503), "{platform}");
    }
}

/// How long the appliance waits for a platform's answer in the no-answer tests, and how long
/// the simulator holds it: longer, so no answer comes in time.
const SHORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
const HELD_MS: u64 = 5_000;

/// No answer in time from a step that publishes nothing (the simulator's `timeout`, longer than
/// the appliance waits) is as safe to run again as a 5xx there: retried with backoff, then
/// published once, never read back as an interrupted publish.
#[test]
fn no_answer_from_a_step_that_publishes_nothing_is_retried_then_published_once() {
    let app = connected_everywhere(Setup {
        configure: |config| config.provider_timeout = SHORT_TIMEOUT,
        ..Setup::default()
    });
    for scenario in SCENARIOS {
        let platform = scenario.platform;
        let Some((method, path, count)) = scenario.safe_step else {
            continue;
        };
        let before = app.sim_posts_of(platform).len();
        app.inject_fault(json!({"platform": platform, "kind": "timeout", "delayMs": HELD_MS, "method": method, "path": path, "count": count}));
        let post = publish(
            &app,
            scenario,
            &format!("no answer at a safe step of {platform}"),
        );
        let id = post["id"].as_str().unwrap().to_string();
        assert_eq!(result(&post)["status"], "pending", "{platform}: {post}");
        assert_eq!(
            result(&post)["errorCode"],
            "PLATFORM_UNAVAILABLE",
            "{platform}"
        );
        let message = result(&post)["errorMessage"].as_str().unwrap().to_string();
        assert!(
            message.contains("no answer in time") && message.contains("retrying automatically"),
            "{platform}: {post}"
        );
        assert_eq!(app.sim_posts_of(platform).len(), before, "{platform}");

        let done = drive_until_published(&app, &id);
        assert_eq!(done["status"], "published", "{platform}: {done}");
        assert_eq!(result(&done)["attemptCount"], 2, "{platform}");
        assert_eq!(
            app.sim_posts_of(platform).len(),
            before + 1,
            "{platform}: published exactly once"
        );
        let attempts = attempts(&app, &done);
        assert_eq!(attempts[0].outcome.as_deref(), Some("retry"), "{platform}");
        assert_eq!(attempts[0].http_status, None, "{platform}: no answer");
    }
}

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
    let reddit = SCENARIOS.iter().find(|s| s.platform == "reddit").unwrap();
    let token_call = |held: u64, count: u32| json!({"platform": "reddit", "kind": "lost_answer", "method": "POST", "path": "/api/v1/access_token", "delayMs": held, "count": count});
    // A gateway's 504 at once, then no answer within the appliance's wait.
    for (held, how) in [(0, "answered 504"), (HELD_MS, "gave no answer")] {
        app.clock.advance(chrono::Duration::hours(2));
        app.inject_fault(token_call(held, 1));
        let post = publish(&app, reddit, &format!("the token endpoint {how}"));
        let id = post["id"].as_str().unwrap().to_string();
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
        let done = drive_until_published(&app, &id);
        assert_eq!(done["status"], "published", "{how}: {done}");
        assert_eq!(result(&done)["attemptCount"], 2, "{how}");
    }
    assert_eq!(app.sim_posts_of("reddit").len(), 2, "each published once");

    app.clock.advance(chrono::Duration::hours(2));
    app.inject_fault(token_call(0, 3));
    let balance = app.balance();
    let post = publish(&app, reddit, "the token endpoint is down");
    let done = drive_until_published(&app, post["id"].as_str().unwrap());
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(
        result(&done)["errorCode"],
        "PLATFORM_UNAVAILABLE_BEFORE_PUBLISHING"
    );
    assert_eq!(result(&done)["attemptCount"], 3);
    assert_eq!(app.balance(), balance, "refunded: nothing was published");
    assert_eq!(app.sim_posts_of("reddit").len(), 2);
}

#[test]
fn a_server_error_from_the_call_that_publishes_is_never_retried() {
    let app = connected_everywhere(Setup::default());
    for scenario in SCENARIOS {
        let platform = scenario.platform;
        let Some((method, path)) = scenario.publishing_step else {
            continue;
        };
        app.inject_fault(json!({"platform": platform, "kind": "server_error", "status": 503, "method": method, "path": path}));
        let post = publish(&app, scenario, &format!("publishing step of {platform}"));
        let id = post["id"].as_str().unwrap().to_string();
        let post = app.wait_for_post(&id, |p| p["status"] == "failed");
        assert_eq!(post["status"], "failed", "{platform}: {post}");
        assert_eq!(
            result(&post)["errorCode"],
            "PLATFORM_UNAVAILABLE",
            "{platform}"
        );
        assert!(
            result(&post)["errorMessage"]
                .as_str()
                .unwrap()
                .contains("Not retried automatically"),
            "{platform}: {post}"
        );
        app.clock.advance(chrono::Duration::minutes(20));
        app.run_job("dispatch_due_deliveries");
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert_eq!(
            result(&read(&app, &id))["attemptCount"],
            1,
            "{platform}: never sent twice"
        );
    }
}

/// A status read that fails while the platform processes a video is looked at again with the
/// stored state: the video is not uploaded again and no new attempt is counted.
#[test]
fn a_failed_status_read_while_processing_keeps_the_upload() {
    // A short budget, so the video is left processing when the request answers.
    let app = connected_everywhere(Setup {
        publish_budget: std::time::Duration::from_secs(3),
        ..Setup::default()
    });
    app.sim_settings("pinterest", json!({"processingPolls": 7}));
    let scenario = SCENARIOS
        .iter()
        .find(|s| s.platform == "pinterest")
        .unwrap();
    let post = publish(&app, scenario, "long clip");
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
    let done = drive_until_published(&app, &id);
    assert_eq!(done["status"], "published", "{done}");
    assert_eq!(
        result(&done)["attemptCount"],
        1,
        "the video was uploaded once"
    );
    assert_eq!(app.sim_posts_of("pinterest").len(), 1);
}
