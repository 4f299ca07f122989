//! What the delivery engine does beyond the scenario table's rows (`scenarios.rs`, where each
//! class of platform failure meets every platform): rate limits that outlast the attempts,
//! LinkedIn's partner-program refresh, and an attempt cut off by a crash (read back).

use crate::support::{Setup, TestApp};
use serde_json::json;

fn connected_app(setup: Setup) -> TestApp {
    let app = TestApp::start_with(setup);
    app.upsert_user("u1");
    app.connect_linkedin("u1", "Alex Morgan");
    app
}

fn result(post: &serde_json::Value) -> &serde_json::Value {
    &post["platformResults"][0]
}

#[test]
fn rate_limits_give_up_after_the_attempt_limit() {
    let app = connected_app(Setup::default());
    app.inject_fault(json!({"platform": "linkedin", "kind": "rate_limit", "count": 3}));
    let id = app.publish("u1", "persistent limit").json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for attempt in 2..=3 {
        app.clock.advance(chrono::Duration::minutes(20));
        app.run_job("dispatch_due_deliveries");
        app.wait_for_post(&id, |p| {
            p["platformResults"][0]["attemptCount"] == attempt
                && p["platformResults"][0]["status"] != "processing"
        });
    }
    let post = app.get(&format!("/api/v1/posts/{id}")).json();
    assert_eq!(post["status"], "failed");
    assert_eq!(result(&post)["errorCode"], "RATE_LIMITED");
    assert_eq!(result(&post)["attemptCount"], 3);
}

#[test]
fn an_expired_token_is_refreshed_before_publishing_when_the_platform_allows() {
    let app = connected_app(Setup {
        sandbox_refresh_tokens: true,
        access_token_ttl: Some(chrono::Duration::hours(1)),
        ..Setup::default()
    });
    let before = app.get("/api/v1/end-users/u1/connections").json()[0].clone();
    assert_eq!(before["tokenStatus"], "active_refreshable");
    assert_eq!(before["canAutoRefresh"], true);
    assert!(before["refreshTokenExpiresAt"].is_string());
    app.clock.advance(chrono::Duration::hours(2));
    let post = app.publish("u1", "after refresh").json();
    assert_eq!(post["status"], "published", "{post}");
    let after = app.get("/api/v1/end-users/u1/connections").json()[0].clone();
    assert_ne!(
        after["accessTokenExpiresAt"],
        before["accessTokenExpiresAt"]
    );
    // LinkedIn's refresh lifetime is fixed from consent: the countdown it reports (in whole
    // seconds) lands on the same instant.
    let at = |v: &serde_json::Value| {
        mypostshare::clock::parse_timestamp(v["refreshTokenExpiresAt"].as_str().unwrap()).unwrap()
    };
    assert!(
        (at(&after) - at(&before)).num_seconds().abs() <= 1,
        "{after} vs {before}"
    );
    assert_eq!(after["tokenStatus"], "active_refreshable");
}

/// A crash between the lease and the outcome: the lease expires, and the delivery is read back
/// from the platform after the read-back delay instead of being sent again blindly. Nothing
/// reached the platform here, so one that can rule the post out publishes it (once); one that
/// cannot leaves it `OUTCOME_UNKNOWN`, never sent.
#[test]
fn an_interrupted_delivery_is_read_back_and_never_resent_blindly() {
    let app = connected_app(Setup::default());
    let at = (app.clock_now() + chrono::Duration::minutes(5)).to_rfc3339();
    let post = app.post("/api/v1/posts/scheduled", json!({"externalUserId": "u1", "content": "crash test", "platforms": ["linkedin"], "scheduleAt": at})).json();
    let delivery_id = result(&post)["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/posts/{}", post["id"].as_str().unwrap());
    // Simulate a crash between the lease and the outcome: lease it, then record nothing.
    app.clock.advance(chrono::Duration::minutes(6));
    let state = &app.running.state;
    let lease = mypostshare::services::posts::lease(
        &state.db,
        &delivery_id,
        chrono::Duration::minutes(5),
        &state.instance_id,
        app.clock_now(),
    )
    .unwrap();
    assert!(lease.is_some());
    assert_eq!(app.get(&path).json()["status"], "processing");
    assert_eq!(
        app.run_job("dispatch_due_deliveries"),
        "queued 0 deliveries",
        "leased"
    );
    app.clock.advance(chrono::Duration::minutes(6));
    assert_eq!(
        app.run_job("recover_expired_leases"),
        "1 interrupted deliveries recorded"
    );
    let reading_back = app.get(&path).json();
    assert_eq!(reading_back["status"], "processing");
    assert_eq!(result(&reading_back)["errorCode"], "OUTCOME_UNKNOWN");
    assert_eq!(
        app.run_job("dispatch_due_deliveries"),
        "queued 0 deliveries",
        "not before the read-back delay"
    );
    assert!(app.sim_posts().is_empty());
    app.clock.advance(chrono::Duration::seconds(21));
    assert_eq!(
        app.run_job("dispatch_due_deliveries"),
        "queued 1 deliveries"
    );
    let post = app.wait_for_post(post["id"].as_str().unwrap(), |p| {
        p["status"] != "processing"
    });
    match crate::scenarios::read_back_of("linkedin") {
        crate::scenarios::ReadBack::FindsAndRulesOut => {
            assert_eq!(post["status"], "published", "{post}");
            assert_eq!(app.sim_posts().len(), 1, "published once");
        }
        _ => {
            assert_eq!(post["status"], "failed", "{post}");
            assert_eq!(result(&post)["errorCode"], "OUTCOME_UNKNOWN");
            app.run_job("dispatch_due_deliveries");
            assert!(
                app.sim_posts().is_empty(),
                "the interrupted delivery was not sent again"
            );
        }
    }
}

/// A publish-now request does not wait for the read-back of a publishing call that failed: the
/// read-back is due only after its delay, which may be shorter than the request's time budget
/// (here 1 s of the 20 s budget), and the customer gets `processing` at once while the
/// dispatcher reads the platform back later.
#[test]
fn a_publish_now_request_does_not_wait_for_a_read_back() {
    let app = TestApp::start_with(Setup {
        configure: |config| config.reconcile_delay = std::time::Duration::from_secs(1),
        ..Setup::default()
    });
    app.upsert_user("u1");
    app.connect("u1", "twitter", "alex_morgan");
    app.inject_fault(json!({"platform": "twitter", "kind": "lost_answer", "status": 503, "method": "POST", "path": "/2/tweets"}));
    let reply = app.post(
        "/api/v1/posts",
        json!({"externalUserId": "u1", "content": "answered 503, published anyway", "platforms": ["twitter"]}),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let post = reply.json();
    assert_eq!(post["status"], "processing", "{post}");
    assert_eq!(result(&post)["status"], "processing", "{post}");
    assert_eq!(result(&post)["errorCode"], "PLATFORM_UNAVAILABLE", "{post}");
    let delivery = result(&post)["id"].as_str().unwrap().to_string();
    let attempts = app
        .running
        .state
        .db
        .read(|c| mypostshare::services::posts::attempts(c, &delivery))
        .unwrap();
    assert_eq!(attempts.len(), 1, "no read-back ran inside the request");
    // The dispatcher reads it back once the delay has passed.
    app.clock.advance(chrono::Duration::seconds(2));
    app.run_job("dispatch_due_deliveries");
    let done = app.wait_for_post(post["id"].as_str().unwrap(), |p| p["status"] == "published");
    assert_eq!(result(&done)["status"], "published", "{done}");
    assert_eq!(app.sim_posts_of("twitter").len(), 1, "published once");
}
