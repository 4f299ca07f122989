//! Credits are charged with the post, never go below zero under concurrency, come back when no
//! platform published; Idempotency-Key replays the first answer.

use crate::support::{Setup, TestApp, send};
use serde_json::json;
use std::sync::Arc;

#[test]
fn fifty_parallel_publishes_against_a_balance_for_seven_charge_exactly_seven() {
    let app = Arc::new(TestApp::start_with(Setup {
        credits: 35,
        ..Setup::default()
    }));
    app.upsert_user("u1");
    app.connect_linkedin("u1", "Alex Morgan");
    // Fifty posts at once are five bursts of the publishing budget: this tests the credits.
    app.lift_publishing_limit();
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let app = app.clone();
            std::thread::spawn(move || app.publish("u1", &format!("parallel post {i}")).status)
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 402).count(),
        43,
        "{statuses:?}"
    );
    assert_eq!(app.balance(), 0);
    let ledger = app
        .running
        .state
        .db
        .read(|c| mypostshare::services::credits::ledger(c, &app.org_id, 100))
        .unwrap();
    assert_eq!(ledger.iter().filter(|e| e.kind == "charge").count(), 7);
    assert!(
        ledger
            .iter()
            .filter(|e| e.kind == "charge")
            .all(|e| e.amount == -5 && e.post_id.is_some())
    );
    assert_eq!(app.sim_posts().len(), 7);
    let refused = app.publish("u1", "one more");
    assert_eq!(refused.error_code(402), "INSUFFICIENT_CREDITS");
    let message = refused.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("costs 5") && message.contains("balance is 0"),
        "{message}"
    );
}

/// A failed post is refunded only when no platform can have published it: a 5xx from the call
/// that creates the post may have published it (other LinkedIn clients handle such cases), a revoked token
/// certainly did not.
#[test]
fn scheduled_posts_cost_eight_and_failed_posts_are_refunded_only_when_none_can_be_live() {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect_linkedin("u1", "Alex Morgan");
    let start = app.balance();
    let at = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let scheduled = app.post("/api/v1/posts/scheduled", json!({"externalUserId": "u1", "content": "later", "platforms": ["linkedin"], "scheduleAt": at}));
    assert_eq!(scheduled.json()["creditCost"], 8);
    assert_eq!(app.balance(), start - 8);
    app.inject_fault(json!({"platform": "linkedin", "kind": "server_error", "status": 500}));
    let maybe_live = app.publish("u1", "this one may be out there").json();
    // LinkedIn cannot be read back: after the read-back, failed and kept.
    let maybe_live = app.finish_read_back(maybe_live["id"].as_str().unwrap());
    assert_eq!(maybe_live["status"], "failed");
    assert_eq!(
        maybe_live["platformResults"][0]["errorCode"],
        "PLATFORM_UNAVAILABLE"
    );
    assert_eq!(app.balance(), start - 8 - 5, "kept: LinkedIn may have it");
    app.inject_fault(json!({"platform": "linkedin", "kind": "revoked_token"}));
    let failed = app.publish("u1", "this one fails").json();
    assert_eq!(failed["status"], "failed");
    assert_eq!(
        app.balance(),
        start - 8 - 5,
        "the failed post's 5 credits came back"
    );
    let ledger = app
        .running
        .state
        .db
        .read(|c| mypostshare::services::credits::ledger(c, &app.org_id, 10))
        .unwrap();
    let refund = ledger
        .iter()
        .find(|e| e.kind == "refund")
        .expect("a refund row");
    assert_eq!(refund.amount, 5);
    assert_eq!(refund.post_id.as_deref(), failed["id"].as_str());
}

#[test]
fn an_idempotency_key_replays_the_first_response_without_a_second_post() {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect_linkedin("u1", "Alex Morgan");
    let url = format!("{}/api/v1/posts", app.base);
    let auth = format!("Bearer {}", app.key);
    let body =
        json!({"externalUserId": "u1", "content": "exactly once", "platforms": ["linkedin"]})
            .to_string();
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
        ("Idempotency-Key", "order-42"),
    ];
    let first = send("POST", &url, &headers, Some(&body));
    assert_eq!(first.status, 201);
    let balance = app.balance();
    let second = send("POST", &url, &headers, Some(&body));
    assert_eq!(second.status, 201);
    assert_eq!(second.body, first.body);
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(app.balance(), balance, "no second charge");
    assert_eq!(app.sim_posts().len(), 1, "no second post");
    let other_body =
        json!({"externalUserId": "u1", "content": "something else", "platforms": ["linkedin"]})
            .to_string();
    let conflict = send("POST", &url, &headers, Some(&other_body));
    assert_eq!(conflict.error_code(409), "IDEMPOTENCY_KEY_REUSED");
    // a request that failed validation does not pin its key
    let bad = json!({"externalUserId": "u1", "content": "", "platforms": ["linkedin"]}).to_string();
    let retry_headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
        ("Idempotency-Key", "order-43"),
    ];
    assert_eq!(send("POST", &url, &retry_headers, Some(&bad)).status, 400);
    let fixed =
        json!({"externalUserId": "u1", "content": "fixed", "platforms": ["linkedin"]}).to_string();
    assert_eq!(send("POST", &url, &retry_headers, Some(&fixed)).status, 201);
    // after the retention window the key is free again
    app.clock.advance(chrono::Duration::hours(25));
    app.run_job("prune_idempotency_keys");
    let later = send("POST", &url, &headers, Some(&other_body));
    assert_eq!(later.status, 201);
}
