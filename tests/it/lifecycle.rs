//! The post lifecycle: cancel, edit (`PATCH`), delete, retry and the attempt log. A cancel or an
//! edit raced against the dispatcher wins or loses as a whole (never both sent and refunded,
//! never sent as it was after an accepted edit); an edit is validated exactly as a create; a
//! retry leaves deliveries whose outcome is unknown alone unless asked, and charges per its rule.

use crate::support::{Reply, Setup, TestApp};
use mypostshare::services::credits::{self, LedgerEntry};
use serde_json::{Value, json};
use std::sync::Barrier;

const SCHEDULED_PRICE: i64 = 8;
const IMMEDIATE_PRICE: i64 = 5;

fn app_with(credits: i64, platforms: &[&str]) -> TestApp {
    app_configured(credits, platforms, |_| {})
}

fn app_configured(
    credits: i64,
    platforms: &[&str],
    configure: fn(&mut mypostshare::config::Config),
) -> TestApp {
    let app = TestApp::start_with(Setup {
        credits,
        configure,
        ..Setup::default()
    });
    // These tests send more posts than the publishing budget's burst; its own tests are in
    // rate_limits.rs.
    app.lift_publishing_limit();
    app.upsert_user("u1");
    for platform in platforms {
        app.connect("u1", platform, "Alex Morgan");
    }
    app
}

fn schedule_at(app: &TestApp, body: Value) -> Value {
    let reply = app.post("/api/v1/posts/scheduled", body);
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json()
}

/// A scheduled post of `content` to `platforms`, due `minutes` from now.
fn schedule(app: &TestApp, content: &str, platforms: &[&str], minutes: i64) -> Value {
    let at = app.clock_now() + chrono::Duration::minutes(minutes);
    schedule_at(
        app,
        json!({"externalUserId": "u1", "content": content, "platforms": platforms, "scheduleAt": at.to_rfc3339()}),
    )
}

fn id_of(post: &Value) -> String {
    post["id"].as_str().unwrap().to_string()
}

fn get_post(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/posts/{id}")).json()
}

fn action(app: &TestApp, method: &str, id: &str, suffix: &str, body: Option<Value>) -> Reply {
    app.call(method, &format!("/api/v1/posts/{id}{suffix}"), body)
}

fn ledger_of(app: &TestApp, post_id: &str) -> Vec<LedgerEntry> {
    let mut rows: Vec<LedgerEntry> = app
        .running
        .state
        .db
        .read(|c| credits::ledger(c, &app.org_id, 100_000))
        .unwrap()
        .into_iter()
        .filter(|e| e.post_id.as_deref() == Some(post_id))
        .collect();
    rows.reverse();
    rows
}

fn kinds(ledger: &[LedgerEntry]) -> Vec<(String, i64)> {
    ledger.iter().map(|e| (e.kind.clone(), e.amount)).collect()
}

fn texts(app: &TestApp, platform: &str) -> Vec<String> {
    app.sim_posts_of(platform)
        .iter()
        .map(|p| p["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn is_final(post: &Value) -> bool {
    !matches!(
        post["status"].as_str(),
        Some("scheduled" | "processing" | "pending")
    )
}

/// The error code of a reply and its message.
fn refusal(reply: &Reply, status: u16) -> (String, String) {
    let code = reply.error_code(status);
    (code, reply.json()["message"].as_str().unwrap().to_string())
}

#[test]
fn a_cancelled_post_is_refunded_and_never_sent() {
    let app = app_with(1000, &["linkedin"]);
    let post = schedule(&app, "never to be seen", &["linkedin"], 60);
    let id = id_of(&post);
    assert_eq!(app.balance(), 1000 - SCHEDULED_PRICE);

    let cancelled = action(&app, "POST", &id, "/cancel", None);
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    let cancelled = cancelled.json();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["platformResults"][0]["status"], "cancelled");
    assert!(cancelled["processedAt"].is_string());
    assert_eq!(
        cancelled,
        get_post(&app, &id),
        "the answer is what GET shows"
    );
    assert_eq!(app.balance(), 1000);
    assert_eq!(
        kinds(&ledger_of(&app, &id)),
        [
            ("charge".to_string(), -SCHEDULED_PRICE),
            ("refund".to_string(), SCHEDULED_PRICE)
        ]
    );

    app.clock.advance(chrono::Duration::hours(2));
    assert_eq!(
        app.run_job("dispatch_due_deliveries"),
        "queued 0 deliveries"
    );
    assert!(app.sim_posts().is_empty());

    // Any other status is a 409 naming it; a second cancel refunds nothing more.
    for (method, suffix) in [("POST", "/cancel"), ("DELETE", "")] {
        let (code, message) = refusal(&action(&app, method, &id, suffix, None), 409);
        assert_eq!(code, "INVALID_STATUS_TRANSITION");
        assert!(message.contains("is cancelled"), "{message}");
    }
    let (code, _) = refusal(
        &action(&app, "PATCH", &id, "", Some(json!({"content": "x"}))),
        409,
    );
    assert_eq!(code, "INVALID_STATUS_TRANSITION");
    assert_eq!(app.balance(), 1000);
}

/// DELETE of a scheduled post is a cancel; of a sent one, a deletion on the platforms
/// (`delete_published.rs`), never a cancel.
#[test]
fn delete_of_a_scheduled_post_cancels_it_and_a_sent_one_is_not_cancelled() {
    let app = app_with(1000, &["linkedin"]);
    let post = schedule(&app, "delete me", &["linkedin"], 60);
    let deleted = action(&app, "DELETE", &id_of(&post), "", None);
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(deleted.json()["status"], "cancelled");
    assert_eq!(
        deleted.json()["platformResults"][0]["deletion"],
        Value::Null,
        "a cancel deletes nothing"
    );
    assert_eq!(app.balance(), 1000);

    let published = app.publish("u1", "out there").json();
    assert_eq!(published["status"], "published");
    let (code, message) = refusal(
        &action(&app, "POST", &id_of(&published), "/cancel", None),
        409,
    );
    assert_eq!(code, "INVALID_STATUS_TRANSITION");
    assert!(message.contains("is published"), "{message}");
    assert_eq!(app.sim_posts().len(), 1);
}

#[test]
fn a_post_whose_delivery_has_started_can_no_longer_be_cancelled_or_edited() {
    let app = app_with(1000, &["linkedin"]);
    let post = schedule(&app, "taken", &["linkedin"], 5);
    let id = id_of(&post);
    app.clock.advance(chrono::Duration::minutes(6));
    // The dispatcher's worker has taken the delivery (leased) and is calling the platform.
    let state = &app.running.state;
    let lease = mypostshare::services::posts::lease(
        &state.db,
        post["platformResults"][0]["id"].as_str().unwrap(),
        chrono::Duration::minutes(5),
        &state.instance_id,
        app.clock_now(),
    )
    .unwrap();
    assert!(lease.is_some());
    let (code, message) = refusal(&action(&app, "POST", &id, "/cancel", None), 409);
    assert_eq!(code, "INVALID_STATUS_TRANSITION");
    assert!(message.contains("is processing"), "{message}");
    let later = (app.clock_now() + chrono::Duration::hours(1)).to_rfc3339();
    let (code, _) = refusal(
        &action(
            &app,
            "PATCH",
            &id,
            "",
            Some(json!({"content": "too late", "scheduleAt": later})),
        ),
        409,
    );
    assert_eq!(code, "INVALID_STATUS_TRANSITION");
    assert_eq!(app.balance(), 1000 - SCHEDULED_PRICE, "nothing refunded");
}

/// The race: a scheduled post due now, the dispatch job and a cancel fired at the same
/// instant, 200 times. Each round ends one way: cancelled (200, refunded, never sent) or
/// published (the cancel got 409, sent once, not refunded).
#[test]
fn cancel_and_dispatch_race_never_both_publish_and_refund() {
    const ROUNDS: usize = 200;
    let app = app_with(10_000, &["linkedin"]);
    let (mut cancelled, mut published, mut cancelled_after_queueing) = (0, 0, 0);
    for round in 0..ROUNDS {
        let content = format!("race {round}");
        let post = schedule(&app, &content, &["linkedin"], 1);
        let id = id_of(&post);
        app.clock.advance(chrono::Duration::seconds(61));
        let barrier = Barrier::new(2);
        // Released together; the job starts up to 1 ms late, in steps, so that the cancel meets
        // it at every point: before it lists the delivery, between listing and lease, after.
        let stagger = std::time::Duration::from_micros(125 * (round % 9) as u64);
        let (dispatched, cancel) = std::thread::scope(|s| {
            let dispatch = s.spawn(|| {
                barrier.wait();
                std::thread::sleep(stagger);
                app.run_job("dispatch_due_deliveries")
            });
            let cancel = s.spawn(|| {
                barrier.wait();
                action(&app, "POST", &id, "/cancel", None)
            });
            (dispatch.join().unwrap(), cancel.join().unwrap())
        });
        // A cancel that commits before the job lists due deliveries leaves it nothing to queue;
        // the close calls are the rounds where the job queued the delivery and the worker's
        // lease met the cancel.
        let queued = match dispatched.as_str() {
            "queued 1 deliveries" => true,
            "queued 0 deliveries" => false,
            other => panic!("round {round}: {other}"),
        };
        let post = app.wait_for_post(&id, is_final);
        let sent = texts(&app, "linkedin")
            .iter()
            .filter(|t| **t == content)
            .count();
        let refunds = ledger_of(&app, &id)
            .iter()
            .filter(|e| e.kind == "refund")
            .count();
        match cancel.status {
            200 => {
                cancelled += 1;
                cancelled_after_queueing += usize::from(queued);
                assert_eq!(post["status"], "cancelled", "round {round}: {post}");
                assert_eq!((sent, refunds), (0, 1), "round {round}: cancelled");
            }
            409 => {
                assert!(queued, "round {round}: refused, yet nothing was dispatched");
                published += 1;
                assert_eq!(cancel.json()["code"], "INVALID_STATUS_TRANSITION");
                assert_eq!(post["status"], "published", "round {round}: {post}");
                assert_eq!((sent, refunds), (1, 0), "round {round}: published");
            }
            other => panic!("round {round}: cancel answered {other}: {}", cancel.body),
        }
    }
    assert_eq!(
        app.balance(),
        10_000 - SCHEDULED_PRICE * published as i64,
        "cancelled posts cost nothing, published ones their price"
    );
    eprintln!(
        "{ROUNDS} rounds: {cancelled} cancelled first ({cancelled_after_queueing} of them after the job queued the delivery), {published} dispatched first"
    );
}

/// An edit raced against the dispatcher: either the edit is stored (and what is sent later is
/// the edited post) or the dispatch took the post first (and the edit got 409); the original
/// is never sent after an accepted edit.
#[test]
fn edit_and_dispatch_race_never_send_the_old_post_after_an_accepted_edit() {
    const ROUNDS: usize = 50;
    let app = app_with(10_000, &["linkedin"]);
    let mut edited_first = 0;
    for round in 0..ROUNDS {
        let original = format!("original {round}");
        let edited = format!("edited {round}");
        let post = schedule(&app, &original, &["linkedin"], 1);
        let id = id_of(&post);
        app.clock.advance(chrono::Duration::seconds(61));
        let later = (app.clock_now() + chrono::Duration::seconds(30)).to_rfc3339();
        let barrier = Barrier::new(2);
        // An edit reads and validates before it writes, so it is slower off the mark than the
        // job: the job starts up to 4 ms late, in steps, so the two meet at every point.
        let stagger = std::time::Duration::from_micros(500 * (round % 9) as u64);
        let edit = std::thread::scope(|s| {
            s.spawn(|| {
                barrier.wait();
                std::thread::sleep(stagger);
                app.run_job("dispatch_due_deliveries")
            });
            let edit = s.spawn(|| {
                barrier.wait();
                action(
                    &app,
                    "PATCH",
                    &id,
                    "",
                    Some(json!({"content": edited, "scheduleAt": later})),
                )
            });
            edit.join().unwrap()
        });
        let expected = match edit.status {
            200 => {
                // The edit moved the post to a later time: it goes out then, edited. The racing
                // job may have queued the delivery, whose worker found it no longer due; while
                // that worker holds it the job does not queue it again, so the job runs until
                // the post is sent (as the real one does every second).
                app.clock.advance(chrono::Duration::seconds(31));
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
                while !is_final(&get_post(&app, &id)) && std::time::Instant::now() < deadline {
                    app.run_job("dispatch_due_deliveries");
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                edited_first += 1;
                &edited
            }
            409 => &original,
            other => panic!("round {round}: edit answered {other}: {}", edit.body),
        };
        let post = app.wait_for_post(&id, is_final);
        assert_eq!(post["status"], "published", "round {round}: {post}");
        assert_eq!(post["content"], expected.as_str(), "round {round}");
        let sent: Vec<String> = texts(&app, "linkedin")
            .into_iter()
            .filter(|t| *t == original || *t == edited)
            .collect();
        assert_eq!(sent, std::slice::from_ref(expected), "round {round}");
    }
    eprintln!("{ROUNDS} rounds: {edited_first} edited first");
}

/// Each bad edit gets exactly the answer a create with the same (merged) body gets, and
/// changes nothing.
#[test]
fn an_edit_is_validated_again_exactly_as_a_create() {
    let app = app_with(1000, &["linkedin", "twitter"]);
    // Thirteen creates in a row: more than the publishing burst, which is not under test here.
    app.lift_publishing_limit();
    let at = (app.clock_now() + chrono::Duration::hours(1)).to_rfc3339();
    let stored = json!({"externalUserId": "u1", "content": "fine", "platforms": ["linkedin"], "scheduleAt": at, "metadata": {"k": "v"}});
    let post = schedule_at(&app, stored.clone());
    let id = id_of(&post);
    let before = get_post(&app, &id);
    let past = (app.clock_now() - chrono::Duration::minutes(1)).to_rfc3339();
    let edits = [
        json!({"content": "x".repeat(281), "platforms": ["linkedin", "twitter"]}),
        json!({"content": "   "}),
        json!({"content": 7}),
        json!({"platforms": []}),
        json!({"platforms": ["linkedin", "linkedin"]}),
        json!({"platforms": ["instagram"]}),
        json!({"scheduleAt": past}),
        json!({"scheduleAt": "tomorrow"}),
        json!({"mediaUrl": "ftp://example.com/a.png"}),
        json!({"metadata": [1]}),
        json!({"platformOptions": {"twitter": {}}}),
        json!({"title": "t".repeat(301)}),
    ];
    for edit in edits {
        let mut create = stored.clone();
        for (k, v) in edit.as_object().unwrap() {
            create[k] = v.clone();
        }
        let created = app.post("/api/v1/posts/scheduled", create);
        assert!(created.status >= 400, "{edit}: {}", created.body);
        let edited = action(&app, "PATCH", &id, "", Some(edit.clone()));
        assert_eq!(
            (edited.status, edited.json()),
            (created.status, created.json()),
            "{edit}"
        );
        assert_eq!(get_post(&app, &id), before, "{edit} changed the post");
    }
    assert_eq!(
        app.balance(),
        1000 - SCHEDULED_PRICE,
        "no refused create was charged"
    );
    // Not a field of a post's content: refused with the field named.
    let (code, message) = refusal(
        &action(
            &app,
            "PATCH",
            &id,
            "",
            Some(json!({"externalUserId": "u2"})),
        ),
        400,
    );
    assert_eq!(code, "VALIDATION_FAILED");
    assert!(message.contains("names no field"), "{message}");
    let (_, message) = refusal(
        &action(
            &app,
            "PATCH",
            &id,
            "",
            Some(json!({"externalUserId": "u2", "content": "x"})),
        ),
        400,
    );
    assert!(
        message.contains("externalUserId cannot be changed"),
        "{message}"
    );
    // A platform the end user has not connected: as on create.
    let (code, _) = refusal(
        &action(
            &app,
            "PATCH",
            &id,
            "",
            Some(
                json!({"platforms": ["reddit"], "title": "T", "platformOptions": {"reddit": {"subreddit": "rust"}}}),
            ),
        ),
        400,
    );
    assert_eq!(code, "PLATFORM_NOT_CONNECTED");
    assert_eq!(get_post(&app, &id), before);
}

#[test]
fn an_edit_changes_what_is_sent_and_when_and_keeps_the_price() {
    let app = app_with(1000, &["linkedin", "twitter"]);
    let post = schedule(&app, "first draft", &["linkedin"], 60);
    let id = id_of(&post);
    let linkedin_delivery = post["platformResults"][0]["id"].clone();
    let later = (app.clock_now() + chrono::Duration::hours(3)).to_rfc3339();
    let edited = action(
        &app,
        "PATCH",
        &id,
        "",
        Some(
            json!({"content": "final text", "title": "Launch", "metadata": {"v": 2}, "scheduleAt": later, "platforms": ["linkedin", "twitter"]}),
        ),
    );
    assert_eq!(edited.status, 200, "{}", edited.body);
    let edited = edited.json();
    assert_eq!(edited["status"], "scheduled");
    assert_eq!(edited["content"], "final text");
    assert_eq!(edited["title"], "Launch");
    assert_eq!(edited["metadata"], json!({"v": 2}));
    assert_eq!(
        edited["scheduleAt"],
        mypostshare::clock::format_timestamp(mypostshare::clock::parse_timestamp(&later).unwrap())
    );
    let platforms: Vec<&str> = edited["platformResults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["platform"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["linkedin", "twitter"]);
    assert_eq!(
        edited["platformResults"][0]["id"], linkedin_delivery,
        "a kept platform keeps its delivery"
    );
    assert_eq!(edited["creditCost"], SCHEDULED_PRICE);
    assert_eq!(
        app.balance(),
        1000 - SCHEDULED_PRICE,
        "the price is per post"
    );

    // The old time passes without a send; the new one sends the edited post everywhere.
    app.clock.advance(chrono::Duration::hours(2));
    assert_eq!(
        app.run_job("dispatch_due_deliveries"),
        "queued 0 deliveries"
    );
    // Taking a platform out removes its delivery.
    let edited = action(
        &app,
        "PATCH",
        &id,
        "",
        Some(json!({"platforms": ["twitter"]})),
    );
    assert_eq!(edited.status, 200, "{}", edited.body);
    assert_eq!(
        edited.json()["platformResults"].as_array().unwrap().len(),
        1
    );
    app.clock.advance(chrono::Duration::hours(2));
    assert_eq!(
        app.run_job("dispatch_due_deliveries"),
        "queued 1 deliveries"
    );
    let done = app.wait_for_post(&id, is_final);
    assert_eq!(done["status"], "published", "{done}");
    assert_eq!(texts(&app, "twitter"), ["final text"]);
    assert!(app.sim_posts().is_empty(), "linkedin was taken out");
}

/// A delivery cut off mid-call, whose read-back is cut off too, is OUTCOME_UNKNOWN: the
/// platform may have it, so the post is not refunded, a plain retry refuses and sends nothing,
/// and with the flag it is published again without being charged again (it never was
/// refunded). Read-backs are cut off here by leasing them and letting the lease expire, so no
/// adapter's read-back decides the outcome.
#[test]
fn retry_leaves_an_unknown_outcome_alone_unless_asked() {
    let app = app_configured(1000, &["linkedin"], |config| {
        config.reconcile_max_reads = 1;
    });
    let post = schedule(&app, "maybe out there", &["linkedin"], 5);
    let id = id_of(&post);
    let delivery = post["platformResults"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.clock.advance(chrono::Duration::minutes(6));
    let state = &app.running.state;
    let lease = || {
        mypostshare::services::posts::lease(
            &state.db,
            &delivery,
            chrono::Duration::minutes(5),
            &state.instance_id,
            app.clock_now(),
        )
        .unwrap()
        .expect("leased")
    };
    assert_eq!(lease().reconcile_since, None, "a publish");
    app.clock.advance(chrono::Duration::minutes(6));
    app.run_job("recover_expired_leases");
    let reading_back = get_post(&app, &id);
    assert_eq!(reading_back["status"], "processing", "{reading_back}");
    assert_eq!(reading_back["platformResults"][0]["status"], "processing");
    assert_eq!(
        reading_back["platformResults"][0]["errorCode"],
        "OUTCOME_UNKNOWN"
    );
    app.clock.advance(chrono::Duration::seconds(21));
    assert!(lease().reconcile_since.is_some(), "a read-back");
    app.clock.advance(chrono::Duration::minutes(6));
    app.run_job("recover_expired_leases");
    let failed = get_post(&app, &id);
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["platformResults"][0]["errorCode"], "OUTCOME_UNKNOWN");
    assert!(
        failed["platformResults"][0]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("read-backs of the platform was cut off"),
        "{failed}"
    );
    assert_eq!(
        app.balance(),
        1000 - SCHEDULED_PRICE,
        "not refunded: linkedin may have the post"
    );

    for body in [
        None,
        Some(json!({})),
        Some(json!({"includeOutcomeUnknown": false})),
    ] {
        let (code, message) = refusal(&action(&app, "POST", &id, "/retry", body), 409);
        assert_eq!(code, "NOT_RETRYABLE");
        assert!(
            message.contains("OUTCOME_UNKNOWN") && message.contains("includeOutcomeUnknown"),
            "{message}"
        );
    }
    assert!(app.sim_posts().is_empty(), "nothing sent");
    assert_eq!(get_post(&app, &id), failed, "nothing changed");
    assert_eq!(app.balance(), 1000 - SCHEDULED_PRICE);

    let retried = action(
        &app,
        "POST",
        &id,
        "/retry",
        Some(json!({"includeOutcomeUnknown": true})),
    );
    assert_eq!(retried.status, 200, "{}", retried.body);
    let retried = retried.json();
    assert_eq!(retried["status"], "published", "{retried}");
    assert_eq!(retried["platformResults"][0]["errorCode"], Value::Null);
    assert_eq!(retried["platformResults"][0]["attemptCount"], 2);
    assert!(retried["processedAt"].as_str().unwrap() > failed["processedAt"].as_str().unwrap());
    assert_eq!(texts(&app, "linkedin"), ["maybe out there"]);
    assert_eq!(
        app.balance(),
        1000 - SCHEDULED_PRICE,
        "not charged again: never refunded"
    );
    assert_eq!(
        kinds(&ledger_of(&app, &id)),
        [("charge".to_string(), -SCHEDULED_PRICE)]
    );
    let attempts = app.get(&format!("/api/v1/posts/{id}/attempts")).json();
    let summary: Vec<(Value, Value, Value, Value)> = attempts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["attemptNumber"].clone(),
                a["step"].clone(),
                a["outcome"].clone(),
                a["errorCode"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                json!(1),
                json!("publish"),
                json!("unknown"),
                json!("OUTCOME_UNKNOWN")
            ),
            (
                json!(1),
                json!("reconcile"),
                json!("unknown"),
                json!("OUTCOME_UNKNOWN")
            ),
            (json!(2), json!("publish"), json!("published"), Value::Null)
        ]
    );
    // Published now: nothing more to retry.
    let (code, message) = refusal(&action(&app, "POST", &id, "/retry", None), 409);
    assert_eq!(code, "INVALID_STATUS_TRANSITION");
    assert!(message.contains("is published"), "{message}");
}

/// A 5xx from LinkedIn's create call may have published the post, and LinkedIn cannot be read
/// back: the failed post keeps its credits, and its retry (a person decided) is not charged
/// again. (A refunded post is charged
/// again on retry: `a_connection_failure_is_retried_after_the_user_reconnects`.)
#[test]
fn a_failed_post_that_may_be_live_is_not_refunded_nor_charged_on_retry_and_its_attempts_are_logged()
{
    let app = app_with(1000, &["linkedin"]);
    app.inject_fault(json!({"platform": "linkedin", "kind": "server_error", "status": 503}));
    let failed = app.publish("u1", "after the outage").json();
    let id = id_of(&failed);
    let failed = app.finish_read_back(&id);
    assert_eq!(failed["status"], "failed");
    assert_eq!(
        failed["platformResults"][0]["errorCode"],
        "PLATFORM_UNAVAILABLE"
    );
    assert_eq!(
        app.balance(),
        1000 - IMMEDIATE_PRICE,
        "not refunded: LinkedIn may have created it"
    );

    let retried = action(&app, "POST", &id, "/retry", None);
    assert_eq!(retried.status, 200, "{}", retried.body);
    assert_eq!(retried.json()["status"], "published");
    assert_eq!(app.balance(), 1000 - IMMEDIATE_PRICE, "not charged again");
    assert_eq!(
        kinds(&ledger_of(&app, &id)),
        [("charge".to_string(), -IMMEDIATE_PRICE)]
    );

    let attempts = app.get(&format!("/api/v1/posts/{id}/attempts"));
    assert_eq!(attempts.status, 200, "{}", attempts.body);
    let attempts = attempts.json();
    let attempts = attempts.as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    let delivery_id = &failed["platformResults"][0]["id"];
    // The read-back shares the attempt it reads back.
    for (attempt, (number, step)) in
        attempts
            .iter()
            .zip([(1, "publish"), (1, "reconcile"), (2, "publish")])
    {
        assert_eq!(attempt["deliveryId"], *delivery_id);
        assert_eq!(attempt["platform"], "linkedin");
        assert_eq!(attempt["attemptNumber"], number);
        assert_eq!(attempt["step"], step);
        assert!(attempt["durationMs"].as_i64().is_some(), "{attempt}");
        assert!(attempt["finishedAt"].as_str().unwrap() >= attempt["startedAt"].as_str().unwrap());
    }
    assert_eq!(attempts[0]["outcome"], "unknown");
    assert_eq!(attempts[0]["httpStatus"], 503);
    assert_eq!(attempts[0]["errorCode"], "PLATFORM_UNAVAILABLE");
    assert!(
        attempts[0]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("answered 503 to the publishing call")
    );
    assert_eq!(attempts[1]["outcome"], "failed");
    assert_eq!(attempts[1]["errorCode"], "PLATFORM_UNAVAILABLE");
    assert_eq!(attempts[2]["outcome"], "published");
    assert_eq!(attempts[2]["httpStatus"], 201);
    assert_eq!(attempts[2]["errorCode"], Value::Null);

    // The dashboard's post page shows the same log.
    crate::dash::create_operator(&app);
    let operator = crate::dash::sign_in(&app);
    let page = operator.page(&format!("/dashboard/posts/{id}"));
    for needle in [
        "<th scope=\"col\">Step</th>",
        "<th scope=\"col\">Finished</th>",
        "<td>publish</td>",
        "503",
        "PLATFORM_UNAVAILABLE",
        "kept 30 days",
    ] {
        assert!(page.contains(needle), "the post page lacks {needle}");
    }
}

/// A partial success was paid for: its retry is free. `platforms` limits a retry, and names
/// only deliveries that can be retried.
#[test]
fn a_partial_success_is_retried_for_free() {
    let app = app_with(1000, &["linkedin", "twitter"]);
    // LinkedIn cannot be read back, so its 5xx ends failed after the read-back.
    app.inject_fault(json!({"platform": "linkedin", "kind": "server_error", "status": 502}));
    let post = app
        .post("/api/v1/posts", json!({"externalUserId": "u1", "content": "half way", "platforms": ["linkedin", "twitter"]}))
        .json();
    let id = id_of(&post);
    let post = app.finish_read_back(&id);
    assert_eq!(post["status"], "partial_success", "{post}");
    assert_eq!(app.balance(), 1000 - IMMEDIATE_PRICE);

    let (code, message) = refusal(
        &action(
            &app,
            "POST",
            &id,
            "/retry",
            Some(json!({"platforms": ["twitter"]})),
        ),
        409,
    );
    assert_eq!(code, "NOT_RETRYABLE");
    assert!(message.contains("twitter is published"), "{message}");
    let (code, _) = refusal(
        &action(
            &app,
            "POST",
            &id,
            "/retry",
            Some(json!({"platforms": ["reddit"]})),
        ),
        400,
    );
    assert_eq!(code, "VALIDATION_FAILED");
    let (code, _) = refusal(
        &action(
            &app,
            "POST",
            &id,
            "/retry",
            Some(json!({"includeOutcomeUnknown": "yes"})),
        ),
        400,
    );
    assert_eq!(code, "VALIDATION_FAILED");

    let retried = action(
        &app,
        "POST",
        &id,
        "/retry",
        Some(json!({"platforms": ["linkedin"]})),
    );
    assert_eq!(retried.status, 200, "{}", retried.body);
    assert_eq!(retried.json()["status"], "published");
    assert_eq!(app.balance(), 1000 - IMMEDIATE_PRICE, "free");
    assert_eq!(
        texts(&app, "twitter"),
        ["half way"],
        "twitter not sent twice"
    );
    assert_eq!(texts(&app, "linkedin"), ["half way"]);
}

#[test]
fn a_failure_the_same_post_would_meet_again_is_not_retried() {
    let app = app_with(1000, &["linkedin"]);
    app.inject_fault(json!({"platform": "linkedin", "kind": "duplicate"}));
    let post = app.publish("u1", "said before").json();
    let id = id_of(&post);
    assert_eq!(post["platformResults"][0]["errorCode"], "DUPLICATE_POST");
    for body in [None, Some(json!({"includeOutcomeUnknown": true}))] {
        let (code, message) = refusal(&action(&app, "POST", &id, "/retry", body), 409);
        assert_eq!(code, "NOT_RETRYABLE");
        assert!(
            message.contains("DUPLICATE_POST") && message.contains("create a new post"),
            "{message}"
        );
    }
    assert!(app.sim_posts().is_empty());
    assert_eq!(app.balance(), 1000);
}

#[test]
fn a_retry_the_balance_cannot_pay_for_changes_nothing() {
    let app = app_with(2 * IMMEDIATE_PRICE, &["linkedin"]);
    // A revoked token: certainly not published, so refunded, and a retry pays again.
    app.inject_fault(json!({"platform": "linkedin", "kind": "revoked_token"}));
    let failed = app.publish("u1", "unlucky").json();
    assert_eq!(failed["status"], "failed");
    assert_eq!(app.balance(), 2 * IMMEDIATE_PRICE, "refunded");
    app.connect_linkedin("u1", "Alex Morgan");
    assert_eq!(app.publish("u1", "one").json()["status"], "published");
    assert_eq!(app.publish("u1", "two").json()["status"], "published");
    assert_eq!(app.balance(), 0);
    let id = id_of(&failed);
    let (code, message) = refusal(&action(&app, "POST", &id, "/retry", None), 402);
    assert_eq!(code, "INSUFFICIENT_CREDITS");
    assert!(message.contains("balance is 0"), "{message}");
    assert_eq!(get_post(&app, &id), failed, "nothing changed");
    assert_eq!(texts(&app, "linkedin"), ["one", "two"]);
}

#[test]
fn attempts_are_listed_for_the_owner_only_and_pruned_after_their_retention() {
    let app = app_with(1000, &["linkedin"]);
    app.inject_fault(json!({"platform": "linkedin", "kind": "rate_limit", "retryAfter": 40}));
    let post = app.publish("u1", "busy").json();
    let id = id_of(&post);
    app.clock.advance(chrono::Duration::minutes(2));
    app.run_job("dispatch_due_deliveries");
    let done = app.wait_for_post(&id, is_final);
    assert_eq!(done["status"], "published");
    let attempts = app.get(&format!("/api/v1/posts/{id}/attempts")).json();
    let summary: Vec<(Value, Value, Value, Value)> = attempts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["step"].clone(),
                a["outcome"].clone(),
                a["httpStatus"].clone(),
                a["errorCode"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                json!("publish"),
                json!("retry"),
                json!(429),
                json!("RATE_LIMITED")
            ),
            (
                json!("publish"),
                json!("published"),
                json!(201),
                Value::Null
            )
        ]
    );

    // Another app's post reads as missing, on every lifecycle endpoint.
    let (_, other_key) = app.second_tenant();
    for (method, suffix) in [
        ("GET", "/attempts"),
        ("POST", "/cancel"),
        ("POST", "/retry"),
        ("PATCH", ""),
        ("DELETE", ""),
    ] {
        let reply = app.call_as(
            &other_key,
            method,
            &format!("/api/v1/posts/{id}{suffix}"),
            Some(json!({"content": "x"})),
        );
        assert_eq!(reply.error_code(404), "NOT_FOUND", "{method} {suffix}");
    }
    assert_eq!(
        app.get("/api/v1/posts/nope/attempts").error_code(404),
        "NOT_FOUND"
    );

    // Kept 30 days (the default), then pruned by the job.
    app.clock.advance(chrono::Duration::days(29));
    assert_eq!(
        app.run_job("prune_delivery_attempts"),
        "0 delivery attempts pruned"
    );
    app.clock.advance(chrono::Duration::days(2));
    assert_eq!(
        app.run_job("prune_delivery_attempts"),
        "2 delivery attempts pruned"
    );
    assert_eq!(
        app.get(&format!("/api/v1/posts/{id}/attempts")).json(),
        json!([])
    );
}

#[test]
fn the_new_routes_answer_405_with_allow_for_other_methods() {
    let app = app_with(1000, &[]);
    for (method, path, allow) in [
        ("GET", "/api/v1/posts/p1/cancel", "POST"),
        ("GET", "/api/v1/posts/p1/retry", "POST"),
        ("POST", "/api/v1/posts/p1/attempts", "GET"),
        ("PUT", "/api/v1/posts/p1", "GET, PATCH, DELETE"),
        ("PATCH", "/api/v1/posts/scheduled", "POST"),
    ] {
        let reply = app.call(method, path, Some(json!({})));
        assert_eq!(
            reply.error_code(405),
            "METHOD_NOT_ALLOWED",
            "{method} {path}"
        );
        assert!(
            reply.header("allow").unwrap().starts_with(allow),
            "{method} {path}: {:?}",
            reply.header("allow")
        );
    }
}

/// A delivery that failed for its connection passes once the user reconnects: until then the
/// retry is refused as a create would be. The attempt log tells a platform's refusal (its 401)
/// from an attempt that never reached the platform (`prepare`).
#[test]
fn a_connection_failure_is_retried_after_the_user_reconnects() {
    let app = app_with(1000, &["linkedin"]);
    app.inject_fault(json!({"platform": "linkedin", "kind": "revoked_token"}));
    let refused = app.publish("u1", "token gone").json();
    let refused_id = id_of(&refused);
    assert_eq!(
        refused["platformResults"][0]["errorCode"],
        "NEEDS_RECONNECT"
    );
    let (code, _) = refusal(&action(&app, "POST", &refused_id, "/retry", None), 400);
    assert_eq!(
        code,
        app.publish("u1", "as a create").error_code(400),
        "refused like a create"
    );
    assert_eq!(code, "PLATFORM_NEEDS_RECONNECT");
    assert_eq!(get_post(&app, &refused_id), refused, "nothing changed");

    // A scheduled post whose account is disconnected before its time never calls the platform.
    app.connect_linkedin("u1", "Alex Morgan");
    let scheduled = schedule(&app, "while away", &["linkedin"], 5);
    let scheduled_id = id_of(&scheduled);
    let disconnected = app.call("DELETE", "/api/v1/end-users/u1/connections/linkedin", None);
    assert!(disconnected.status < 300, "{}", disconnected.body);
    app.clock.advance(chrono::Duration::minutes(6));
    app.run_job("dispatch_due_deliveries");
    let failed = app.wait_for_post(&scheduled_id, is_final);
    assert_eq!(
        failed["platformResults"][0]["errorCode"],
        "PLATFORM_NOT_CONNECTED"
    );

    let attempt = |id: &str| app.get(&format!("/api/v1/posts/{id}/attempts")).json()[0].clone();
    let first = attempt(&refused_id);
    assert_eq!(
        (&first["step"], &first["httpStatus"], &first["errorCode"]),
        (&json!("publish"), &json!(401), &json!("NEEDS_RECONNECT"))
    );
    let first = attempt(&scheduled_id);
    assert_eq!(
        (&first["step"], &first["httpStatus"], &first["errorCode"]),
        (
            &json!("prepare"),
            &Value::Null,
            &json!("PLATFORM_NOT_CONNECTED")
        )
    );

    app.connect_linkedin("u1", "Alex Morgan");
    for id in [&refused_id, &scheduled_id] {
        let retried = action(&app, "POST", id, "/retry", None);
        assert_eq!(retried.status, 200, "{}", retried.body);
        assert_eq!(retried.json()["status"], "published");
    }
    assert_eq!(texts(&app, "linkedin"), ["token gone", "while away"]);
    assert_eq!(
        app.balance(),
        1000 - IMMEDIATE_PRICE - SCHEDULED_PRICE,
        "each failed post paid its price once, on its retry"
    );
}
