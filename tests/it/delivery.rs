//! Each class of platform failure ends in the right delivery status and error code, retries
//! happen only where the platform certainly did not publish, and tokens refresh or ask for a
//! reconnect as the platform allows.

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
fn a_server_error_fails_without_a_blind_retry() {
    let app = connected_app(Setup::default());
    app.inject_fault(json!({"platform": "linkedin", "kind": "server_error", "status": 503}));
    let post = app.publish("u1", "outage").json();
    assert_eq!(post["status"], "failed");
    assert_eq!(result(&post)["errorCode"], "PLATFORM_UNAVAILABLE");
    assert!(
        result(&post)["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Not retried automatically")
    );
    assert_eq!(result(&post)["attemptCount"], 1);
    app.run_job("dispatch_due_deliveries");
    std::thread::sleep(std::time::Duration::from_millis(100));
    let again = app
        .get(&format!("/api/v1/posts/{}", post["id"].as_str().unwrap()))
        .json();
    assert_eq!(result(&again)["attemptCount"], 1, "never sent twice");
    let connection = &app.get("/api/v1/end-users/u1/connections").json()[0];
    assert_eq!(
        connection["status"], "connected",
        "an outage is not a disconnect"
    );
    assert_eq!(connection["lastErrorCode"], "PLATFORM_UNAVAILABLE");
}

#[test]
fn a_rate_limit_is_retried_after_backoff_and_then_published() {
    let app = connected_app(Setup::default());
    app.inject_fault(json!({"platform": "linkedin", "kind": "rate_limit", "retryAfter": 40}));
    let post = app.publish("u1", "busy day").json();
    let id = post["id"].as_str().unwrap();
    assert_eq!(post["status"], "processing");
    assert_eq!(result(&post)["status"], "pending");
    assert_eq!(result(&post)["errorCode"], "RATE_LIMITED");
    assert_eq!(result(&post)["attemptCount"], 1);
    // not due yet: the dispatcher leaves it alone
    app.run_job("dispatch_due_deliveries");
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(
        result(&app.get(&format!("/api/v1/posts/{id}")).json())["attemptCount"],
        1
    );
    app.clock.advance(chrono::Duration::seconds(46));
    assert_eq!(
        app.run_job("dispatch_due_deliveries"),
        "queued 1 deliveries"
    );
    let done = app.wait_for_post(id, |p| p["status"] == "published");
    assert_eq!(done["status"], "published");
    assert_eq!(result(&done)["attemptCount"], 2);
    assert_eq!(result(&done)["errorCode"], serde_json::Value::Null);
    let attempts = app
        .running
        .state
        .db
        .read(|c| mypostshare::services::posts::attempts(c, result(&done)["id"].as_str().unwrap()))
        .unwrap();
    assert_eq!(
        attempts
            .iter()
            .map(|a| a.outcome.clone().unwrap())
            .collect::<Vec<_>>(),
        ["retry", "published"]
    );
    assert_eq!(attempts[0].http_status, Some(429));
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
fn a_duplicate_is_rejected_with_its_own_code() {
    let app = connected_app(Setup::default());
    assert_eq!(
        app.publish("u1", "same words").json()["status"],
        "published"
    );
    let second = app.publish("u1", "same words").json();
    assert_eq!(second["status"], "failed");
    assert_eq!(result(&second)["errorCode"], "DUPLICATE_POST");
    assert!(
        result(&second)["errorMessage"]
            .as_str()
            .unwrap()
            .contains("duplicate")
    );
}

#[test]
fn a_revoked_token_marks_the_connection_for_reconnect() {
    let app = connected_app(Setup::default());
    app.inject_fault(json!({"platform": "linkedin", "kind": "revoked_token"}));
    let post = app.publish("u1", "token gone").json();
    assert_eq!(post["status"], "failed");
    assert_eq!(result(&post)["errorCode"], "NEEDS_RECONNECT");
    let connection = &app.get("/api/v1/end-users/u1/connections").json()[0];
    assert_eq!(connection["status"], "error");
    assert_eq!(connection["needsReconnect"], true);
    assert_eq!(connection["tokenStatus"], "needs_reconnect");
    assert_eq!(
        app.get("/api/v1/end-users/u1").json()["connectionSummary"]["failed"],
        1
    );
    assert_eq!(
        app.publish("u1", "again").error_code(400),
        "PLATFORM_NEEDS_RECONNECT"
    );
    // connecting again heals it
    app.connect_linkedin("u1", "Alex Morgan");
    assert_eq!(app.publish("u1", "healed").json()["status"], "published");
}

#[test]
fn an_expired_token_without_refresh_asks_for_a_reconnect_before_charging() {
    let app = connected_app(Setup::default());
    app.clock.advance(chrono::Duration::days(53));
    assert_eq!(
        app.get("/api/v1/end-users/u1/connections").json()[0]["tokenStatus"],
        "expiring_soon"
    );
    app.clock.advance(chrono::Duration::days(8));
    assert_eq!(
        app.get("/api/v1/end-users/u1/connections").json()[0]["tokenStatus"],
        "expired"
    );
    let balance = app.balance();
    assert_eq!(
        app.publish("u1", "too late").error_code(400),
        "PLATFORM_NEEDS_RECONNECT"
    );
    assert_eq!(app.balance(), balance);
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

#[test]
fn an_interrupted_delivery_is_recorded_as_unknown_and_never_resent() {
    let app = connected_app(Setup::default());
    let at = (app.clock_now() + chrono::Duration::minutes(5)).to_rfc3339();
    let post = app.post("/api/v1/posts/scheduled", json!({"externalUserId": "u1", "content": "crash test", "platforms": ["linkedin"], "scheduleAt": at})).json();
    let delivery_id = result(&post)["id"].as_str().unwrap().to_string();
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
    assert_eq!(
        app.get(&format!("/api/v1/posts/{}", post["id"].as_str().unwrap()))
            .json()["status"],
        "processing"
    );
    app.run_job("dispatch_due_deliveries");
    app.clock.advance(chrono::Duration::minutes(6));
    assert_eq!(
        app.run_job("recover_expired_leases"),
        "1 interrupted deliveries recorded"
    );
    let post = app
        .get(&format!("/api/v1/posts/{}", post["id"].as_str().unwrap()))
        .json();
    assert_eq!(post["status"], "failed");
    assert_eq!(result(&post)["errorCode"], "OUTCOME_UNKNOWN");
    app.run_job("dispatch_due_deliveries");
    assert!(
        app.sim_posts().is_empty(),
        "the interrupted delivery was not sent again"
    );
}
