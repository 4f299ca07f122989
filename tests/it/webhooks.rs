//! Signed webhooks, checked from the receiving side with the official Standard Webhooks
//! library of another language: `tests/webhook_receiver.py` verifies every delivery with
//! Python's `standardwebhooks` (`Webhook(secret).verify(body, headers)`) and reports it. The
//! events come from real state changes (the hosted connect flow, publishing to the simulator,
//! faults), through the outbox and the sender threads of the running appliance.

use crate::support::{Setup, TestApp, decide_at, open_consent_page_at, send};
use mypostshare::services::credits;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver as Channel, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// How long to wait for something that normally takes a second before calling it broken.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// The Python of the virtual environment `scripts/webhook-test-deps.sh` makes, which it runs
/// first when the environment is missing (a fresh `target/`).
fn python() -> PathBuf {
    static INSTALL: Mutex<()> = Mutex::new(());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = root.join("target/webhook-venv/bin/python");
    let _one_at_a_time = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if !python.exists() {
        let status = Command::new(root.join("scripts/webhook-test-deps.sh"))
            .status()
            .expect("running scripts/webhook-test-deps.sh");
        assert!(
            status.success(),
            "scripts/webhook-test-deps.sh failed: the webhook tests need Python 3 and PyPI's standardwebhooks"
        );
    }
    python
}

/// The Python receiver, a child process; killed when dropped.
pub struct Receiver {
    child: Child,
    pub base: String,
    lines: Channel<Value>,
}

impl Receiver {
    pub fn start() -> Receiver {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/webhook_receiver.py");
        let mut child = Command::new(python())
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting the Python receiver");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let value: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("the receiver printed {line:?}: {e}"));
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        let first = lines
            .recv_timeout(PATIENCE)
            .expect("the receiver says its port");
        let port = first["port"].as_u64().expect("a port");
        Receiver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            lines,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The secrets to verify with, and the answers per path (see the script).
    pub fn control(&self, control: Value) {
        let r = send(
            "POST",
            &self.url("/_control"),
            &[("Content-Type", "application/json")],
            Some(&control.to_string()),
        );
        assert_eq!(r.status, 204, "{}", r.body);
    }

    pub fn secrets(&self, secrets: &[&str]) {
        self.control(json!({"secrets": secrets}));
    }

    /// The next delivery the receiver got.
    pub fn next(&self) -> Value {
        self.lines
            .recv_timeout(PATIENCE)
            .expect("a webhook delivery within the patience")
    }

    /// True when no delivery arrives within `wait` (for "nothing more was sent").
    pub fn quiet_for(&self, wait: Duration) -> bool {
        matches!(
            self.lines.recv_timeout(wait),
            Err(RecvTimeoutError::Timeout)
        )
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The next `types.len()` deliveries, which must be exactly those event types (in any order:
/// two events to one endpoint may be in flight at once); each verified by the library with
/// every secret given (`verified` all true). Returned in the order of `types`.
fn expect_events(receiver: &Receiver, types: &[&str]) -> Vec<Value> {
    let mut got: Vec<Value> = (0..types.len()).map(|_| receiver.next()).collect();
    let mut seen: Vec<String> = got
        .iter()
        .map(|d| d["body"]["type"].as_str().unwrap().to_string())
        .collect();
    seen.sort();
    let mut wanted: Vec<String> = types.iter().map(|t| t.to_string()).collect();
    wanted.sort();
    assert_eq!(seen, wanted, "{got:#?}");
    for delivery in &got {
        let verified = delivery["verified"].as_array().unwrap();
        assert!(
            !verified.is_empty() && verified.iter().all(|v| v == true),
            "standardwebhooks did not verify it: {delivery:#}"
        );
        assert!(delivery["id"].as_str().unwrap().starts_with("msg_"));
        assert!(
            delivery["body"]["timestamp"]
                .as_str()
                .unwrap()
                .ends_with('Z')
        );
    }
    types
        .iter()
        .map(|t| {
            let at = got.iter().position(|d| d["body"]["type"] == *t).unwrap();
            got.remove(at)
        })
        .collect()
}

/// Creates an endpoint through the API; returns (id, secret).
fn add_endpoint(app: &TestApp, url: &str, event_types: Value) -> (String, String) {
    let r = app.post(
        "/api/v1/webhook-endpoints",
        json!({"url": url, "description": "test receiver", "eventTypes": event_types}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let endpoint = r.json();
    let secret = endpoint["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (endpoint["id"].as_str().unwrap().to_string(), secret)
}

/// Waits until `done(endpoint)` for a generous time; returns the last reading.
fn wait_for_endpoint(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let endpoint = app.get(&format!("/api/v1/webhook-endpoints/{id}")).json();
        if done(&endpoint) || Instant::now() > deadline {
            return endpoint;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the endpoint's newest delivery has recorded `attempts` attempts (the receiver
/// sees a request before the sender records its answer).
fn wait_for_attempts(app: &TestApp, id: &str, attempts: i64) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let deliveries = app
            .get(&format!("/api/v1/webhook-endpoints/{id}/deliveries"))
            .json();
        if deliveries[0]["attemptCount"] == attempts {
            return;
        }
        assert!(Instant::now() < deadline, "{deliveries}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn short_retries(config: &mut mypostshare::config::Config) {
    config.webhook_retry_schedule = vec![Duration::from_millis(200); 7];
}

#[test]
fn every_event_type_arrives_signed_and_verified_by_the_python_library() {
    let app = TestApp::start_with(Setup {
        credits: 12,
        ..Setup::default()
    });
    let state = &app.running.state;
    credits::set_low_threshold(&state.db, "test", &app.org_id, 8, app.clock_now()).unwrap();
    let receiver = Receiver::start();
    let (_, secret) = add_endpoint(&app, &receiver.url("/hooks"), Value::Null);
    receiver.secrets(&[&secret]);

    app.upsert_user("u1");
    app.connect_linkedin("u1", "Alex Morgan");
    let [connected] = expect_events(&receiver, &["connection.connected"])
        .try_into()
        .unwrap();
    let data = &connected["body"]["data"];
    assert_eq!(data["externalUserId"], "u1");
    assert_eq!(data["connection"]["platform"], "linkedin");
    assert_eq!(data["connection"]["status"], "connected");
    assert_eq!(data["reason"], Value::Null);
    assert_eq!(connected["path"], "/hooks");

    // 12 -> 7 credits: below this organization's threshold of 8.
    let post = app.publish("u1", "hello webhooks").json();
    assert_eq!(post["status"], "published");
    let [low, updated, published] = expect_events(
        &receiver,
        &["credits.low", "post.delivery.updated", "post.published"],
    )
    .try_into()
    .unwrap();
    assert_eq!(
        low["body"]["data"],
        json!({"organizationId": app.org_id, "balance": 7, "threshold": 8})
    );
    let data = &updated["body"]["data"];
    assert_eq!(data["postId"], post["id"]);
    assert_eq!(data["externalUserId"], "u1");
    assert_eq!(data["platformResult"]["platform"], "linkedin");
    assert_eq!(data["platformResult"]["status"], "published");
    // The post as the API shows it.
    let mut shown = app
        .get(&format!("/api/v1/posts/{}", post["id"].as_str().unwrap()))
        .json();
    let data = published["body"]["data"].clone();
    assert_eq!(data["id"], post["id"]);
    assert_eq!(data["status"], "published");
    shown["updatedAt"] = data["updatedAt"].clone();
    assert_eq!(data, shown);

    // The token is refused: the connection needs a reconnect, the delivery and the post fail,
    // and 7 -> 2 credits no longer pay for another post (refunded afterwards).
    app.inject_fault(json!({"platform": "linkedin", "kind": "revoked_token"}));
    let post = app.publish("u1", "token gone").json();
    assert_eq!(post["status"], "failed");
    let [exhausted, reconnect, updated, failed] = expect_events(
        &receiver,
        &[
            "credits.exhausted",
            "connection.needs_reconnect",
            "post.delivery.updated",
            "post.failed",
        ],
    )
    .try_into()
    .unwrap();
    assert_eq!(
        exhausted["body"]["data"],
        json!({"organizationId": app.org_id, "balance": 2, "lastCharge": 5})
    );
    let data = &reconnect["body"]["data"];
    assert_eq!(data["reason"]["code"], "NEEDS_RECONNECT");
    assert!(data["reason"]["message"].as_str().unwrap().len() > 10);
    assert_eq!(data["connection"]["tokenStatus"], "needs_reconnect");
    assert_eq!(
        updated["body"]["data"]["platformResult"]["errorCode"],
        "NEEDS_RECONNECT"
    );
    assert_eq!(failed["body"]["data"]["status"], "failed");

    // A refused consent: the connect session failed.
    let session = app.create_session("u1");
    let form = open_consent_page_at(&app.base, session["connectUrl"].as_str().unwrap());
    let callback = decide_at(&app.base, &form, "deny", "Alex Morgan");
    assert_eq!(app.follow_callback(&callback).status, 302);
    let [session_failed] = expect_events(&receiver, &["connect_session.failed"])
        .try_into()
        .unwrap();
    let data = &session_failed["body"]["data"];
    assert_eq!(data["id"], session["id"]);
    assert_eq!(data["status"], "failed");
    assert_eq!(data["errorCode"], "access_denied");
    assert_eq!(data["externalUserId"], "u1");

    // Connected again, one platform of two refuses the post as a duplicate.
    app.connect_linkedin("u1", "Alex Morgan");
    app.connect("u1", "twitter", "Alex Morgan");
    expect_events(&receiver, &["connection.connected", "connection.connected"]);
    app.inject_fault(json!({"platform": "twitter", "kind": "duplicate"}));
    let post = app
        .post(
            "/api/v1/posts",
            json!({"externalUserId": "u1", "content": "half", "platforms": ["linkedin", "twitter"]}),
        )
        .json();
    assert_eq!(post["status"], "partial_success", "{post}");
    // The refund of the failed post brought the balance back to 7, and this charge to 2.
    let events = expect_events(
        &receiver,
        &[
            "post.delivery.updated",
            "post.delivery.updated",
            "post.partially_published",
            "credits.exhausted",
        ],
    );
    assert_eq!(events[2]["body"]["data"]["status"], "partial_success");

    // Disconnected through the API.
    let r = app.call("DELETE", "/api/v1/end-users/u1/connections/twitter", None);
    assert_eq!(r.status, 204, "{}", r.body);
    let [disconnected] = expect_events(&receiver, &["connection.disconnected"])
        .try_into()
        .unwrap();
    assert_eq!(
        disconnected["body"]["data"]["connection"]["platform"],
        "twitter"
    );

    // LinkedIn's token cannot be refreshed: a week before it ends, the job announces it, once.
    app.clock.advance(chrono::Duration::days(54));
    assert_eq!(
        app.run_job("warn_expiring_tokens"),
        "1 expiring tokens announced"
    );
    assert_eq!(
        app.run_job("warn_expiring_tokens"),
        "0 expiring tokens announced"
    );
    let expiring = receiver.next();
    assert_eq!(expiring["body"]["type"], "connection.token_expiring");
    // The appliance's clock is 54 days ahead, so the library refuses the timestamp; the
    // signature is still the library's own for this secret.
    assert_eq!(expiring["verified"], json!([false]));
    assert_eq!(expiring["signedBy"], json!([true]));
    let data = &expiring["body"]["data"];
    assert_eq!(data["connection"]["platform"], "linkedin");
    assert_eq!(data["connection"]["tokenStatus"], "expiring_soon");
    assert_eq!(data["reason"]["code"], "TOKEN_EXPIRED");
    assert!(receiver.quiet_for(Duration::from_millis(300)));
}

#[test]
fn a_rotated_secret_signs_beside_the_old_one_for_24_hours() {
    let app = TestApp::start();
    let receiver = Receiver::start();
    let (id, old) = add_endpoint(&app, &receiver.url("/hook"), json!(["post.published"]));
    receiver.secrets(&[&old]);

    let rotated = app.post(
        &format!("/api/v1/webhook-endpoints/{id}/rotate-secret"),
        json!({}),
    );
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let rotated = rotated.json();
    let new = rotated["secret"].as_str().unwrap().to_string();
    assert!(new.starts_with("whsec_") && new != old);
    assert!(rotated["previousSecretExpiresAt"].is_string(), "{rotated}");
    // The secret is shown once: never again in a read.
    let read = app.get(&format!("/api/v1/webhook-endpoints/{id}"));
    assert!(!read.body.contains(&new) && !read.body.contains(&old));
    assert_eq!(read.json()["secret"], Value::Null);

    // Within the window: two signatures; the library verifies with either secret alone.
    receiver.secrets(&[&old, &new]);
    let test = app.post(&format!("/api/v1/webhook-endpoints/{id}/test"), json!({}));
    assert_eq!(test.status, 202, "{}", test.body);
    assert_eq!(test.json()["eventType"], "webhook.test");
    let delivery = receiver.next();
    assert_eq!(delivery["body"]["type"], "webhook.test");
    assert_eq!(delivery["body"]["data"]["endpointId"], id.as_str());
    assert_eq!(
        delivery["signature"].as_str().unwrap().split(' ').count(),
        2,
        "{delivery}"
    );
    assert_eq!(delivery["verified"], json!([true, true]));
    assert_eq!(delivery["signedBy"], json!([true, true]));

    // 24 hours on, only the new secret signs.
    app.clock
        .advance(chrono::Duration::hours(24) + chrono::Duration::minutes(1));
    let test = app.post(&format!("/api/v1/webhook-endpoints/{id}/test"), json!({}));
    assert_eq!(test.status, 202, "{}", test.body);
    let delivery = receiver.next();
    assert_eq!(
        delivery["signature"].as_str().unwrap().split(' ').count(),
        1,
        "{delivery}"
    );
    assert_eq!(delivery["signedBy"], json!([false, true]));
    assert_eq!(
        app.get(&format!("/api/v1/webhook-endpoints/{id}")).json()["previousSecretExpiresAt"],
        Value::Null
    );
}

#[test]
fn a_receiver_failing_three_times_gets_the_event_on_the_fourth_try_with_the_same_id() {
    let app = TestApp::start_with(Setup {
        configure: short_retries,
        ..Setup::default()
    });
    let receiver = Receiver::start();
    let (id, secret) = add_endpoint(&app, &receiver.url("/flaky"), json!(["post.published"]));
    receiver.control(json!({"secrets": [secret], "answers": {"/flaky": [500, 503, 302, 204]}}));
    app.upsert_user("u1");
    app.connect_linkedin("u1", "Alex Morgan");
    let post = app.publish("u1", "eventually").json();
    assert_eq!(post["status"], "published");

    let tries: Vec<Value> = (0..4).map(|_| receiver.next()).collect();
    let answers: Vec<&Value> = tries.iter().map(|t| &t["answer"]).collect();
    assert_eq!(
        answers,
        [&json!(500), &json!(503), &json!(302), &json!(204)]
    );
    for t in &tries {
        assert_eq!(t["id"], tries[0]["id"], "one webhook-id for every try");
        assert_eq!(t["body"], tries[0]["body"], "the same body every try");
        assert_eq!(t["body"]["type"], "post.published");
        assert_eq!(t["verified"], json!([true]));
    }
    // Only post.published was subscribed to: nothing else came.
    assert!(receiver.quiet_for(Duration::from_millis(500)));

    let deliveries = app
        .get(&format!("/api/v1/webhook-endpoints/{id}/deliveries"))
        .json();
    let delivery = &deliveries[0];
    assert_eq!(deliveries.as_array().unwrap().len(), 1, "{deliveries}");
    assert_eq!(delivery["status"], "succeeded");
    assert_eq!(delivery["eventId"], tries[0]["id"]);
    assert_eq!(delivery["attemptCount"], 4);
    let codes: Vec<&Value> = delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["statusCode"])
        .collect();
    assert_eq!(codes, [&json!(500), &json!(503), &json!(302), &json!(204)]);
    let redirect = &delivery["attempts"][2]["error"];
    assert!(
        redirect.as_str().unwrap().contains("not followed"),
        "{redirect}"
    );
    // A success clears the failure streak.
    assert_eq!(
        app.get(&format!("/api/v1/webhook-endpoints/{id}")).json()["status"],
        "enabled"
    );
}

#[test]
fn gone_disables_the_endpoint_at_once() {
    let app = TestApp::start_with(Setup {
        configure: short_retries,
        ..Setup::default()
    });
    let receiver = Receiver::start();
    let (id, secret) = add_endpoint(&app, &receiver.url("/gone"), Value::Null);
    receiver.control(json!({"secrets": [secret], "answers": {"*": [410]}}));
    let r = app.post(&format!("/api/v1/webhook-endpoints/{id}/test"), json!({}));
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(receiver.next()["answer"], 410);

    let endpoint = wait_for_endpoint(&app, &id, |e| e["status"] == "disabled");
    assert_eq!(endpoint["status"], "disabled", "{endpoint}");
    assert!(
        endpoint["disabledReason"]
            .as_str()
            .unwrap()
            .contains("410 Gone"),
        "{endpoint}"
    );
    // Nothing more goes there, and a test event says why.
    app.upsert_user("u1");
    app.connect_linkedin("u1", "Alex Morgan");
    let refused = app.post(&format!("/api/v1/webhook-endpoints/{id}/test"), json!({}));
    assert_eq!(refused.error_code(409), "WEBHOOK_ENDPOINT_DISABLED");
    assert!(receiver.quiet_for(Duration::from_millis(500)));
    let deliveries = app
        .get(&format!("/api/v1/webhook-endpoints/{id}/deliveries"))
        .json();
    assert_eq!(deliveries[0]["status"], "failed", "{deliveries}");
    assert_eq!(deliveries[0]["lastStatusCode"], 410);
    // The audit log names the sender.
    let audit = app
        .running
        .state
        .db
        .read(|c| {
            let query = mypostshare::services::reports::AuditQuery {
                actor: None,
                action: None,
            };
            mypostshare::services::reports::audit(c, &query, 0, 50)
        })
        .unwrap();
    assert!(
        audit
            .rows
            .iter()
            .any(|e| e.action == "webhook_endpoint.disable"
                && e.actor == "webhook sender"
                && e.target_id.as_deref() == Some(id.as_str())),
        "{:?}",
        audit.rows
    );

    // Enabled again, it receives again.
    receiver.control(json!({"answers": {"*": [204]}}));
    let enabled = app.call(
        "PATCH",
        &format!("/api/v1/webhook-endpoints/{id}"),
        Some(json!({"enabled": true})),
    );
    assert_eq!(enabled.status, 200, "{}", enabled.body);
    assert_eq!(enabled.json()["disabledReason"], Value::Null);
    app.post(&format!("/api/v1/webhook-endpoints/{id}/test"), json!({}));
    assert_eq!(receiver.next()["answer"], 204);
}

#[test]
fn an_endpoint_failing_every_attempt_for_three_days_is_disabled() {
    let app = TestApp::start_with(Setup {
        configure: |config| {
            // Long waits: the test moves the clock to the next attempt itself.
            config.webhook_retry_schedule = vec![Duration::from_secs(3600); 7];
        },
        ..Setup::default()
    });
    let receiver = Receiver::start();
    let (id, secret) = add_endpoint(&app, &receiver.url("/down"), Value::Null);
    receiver.control(json!({"secrets": [secret], "answers": {"*": [500]}}));
    app.post(&format!("/api/v1/webhook-endpoints/{id}/test"), json!({}));
    assert_eq!(receiver.next()["answer"], 500);
    wait_for_attempts(&app, &id, 1);
    // Still failing two days later: retried, not disabled.
    app.clock.advance(chrono::Duration::days(2));
    assert_eq!(receiver.next()["answer"], 500);
    wait_for_attempts(&app, &id, 2);
    let endpoint = app.get(&format!("/api/v1/webhook-endpoints/{id}")).json();
    assert_eq!(endpoint["status"], "enabled");
    // Past three days of nothing but failures, the next failure disables it.
    app.clock
        .advance(chrono::Duration::days(1) + chrono::Duration::hours(2));
    assert_eq!(receiver.next()["answer"], 500);
    let endpoint = wait_for_endpoint(&app, &id, |e| e["status"] == "disabled");
    assert_eq!(endpoint["status"], "disabled", "{endpoint}");
    assert!(
        endpoint["disabledReason"]
            .as_str()
            .unwrap()
            .contains("every attempt failed since"),
        "{endpoint}"
    );
}

#[test]
fn one_hanging_endpoint_does_not_hold_up_another_apps_events() {
    let app = TestApp::start();
    let (_, other_key) = app.second_tenant();
    let receiver = Receiver::start();
    receiver.control(json!({"answers": {"/slow": ["hold"], "*": [204]}}));
    let (slow, _) = add_endpoint(&app, &receiver.url("/slow"), Value::Null);
    // Far more test events than there are senders.
    for _ in 0..8 {
        let r = app.post(&format!("/api/v1/webhook-endpoints/{slow}/test"), json!({}));
        assert_eq!(r.status, 202, "{}", r.body);
    }
    let r = app.call_as(
        &other_key,
        "POST",
        "/api/v1/webhook-endpoints",
        Some(json!({"url": receiver.url("/fast")})),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let fast = r.json()["id"].as_str().unwrap().to_string();
    let r = app.call_as(
        &other_key,
        "POST",
        &format!("/api/v1/webhook-endpoints/{fast}/test"),
        Some(json!({})),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    // The slow endpoint holds at most MYPOSTSHARE_WEBHOOK_MAX_IN_FLIGHT requests; the other
    // app's event is delivered while they hang.
    let mut slow_seen = 0;
    loop {
        let delivery = receiver.next();
        if delivery["path"] == "/fast" {
            assert_eq!(delivery["answer"], 204);
            break;
        }
        slow_seen += 1;
    }
    assert!(
        slow_seen
            <= mypostshare::config::Config::new(
                "x.db",
                mypostshare::crypto::MasterKey::from_material("unused key material of 32+ chars")
            )
            .webhook_max_in_flight,
        "{slow_seen} requests to the slow endpoint at once"
    );
}

#[test]
fn endpoints_are_managed_through_the_api_within_the_app() {
    let app = TestApp::start();
    let (_, other_key) = app.second_tenant();
    let (id, _) = add_endpoint(
        &app,
        "https://hooks.example.com/in",
        json!(["post.failed", "credits.low"]),
    );
    let listed = app.get("/api/v1/webhook-endpoints").json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(
        listed[0]["eventTypes"],
        json!(["post.failed", "credits.low"])
    );
    assert_eq!(listed[0]["status"], "enabled");
    assert!(!app.get("/api/v1/webhook-endpoints").body.contains("whsec_"));
    // The same under /v1.
    assert_eq!(app.get("/v1/webhook-endpoints").json(), listed);

    let changed = app.call(
        "PATCH",
        &format!("/api/v1/webhook-endpoints/{id}"),
        Some(json!({"eventTypes": null, "description": "all of them", "enabled": false})),
    );
    assert_eq!(changed.status, 200, "{}", changed.body);
    let changed = changed.json();
    assert_eq!(changed["eventTypes"], Value::Null);
    assert_eq!(changed["description"], "all of them");
    assert_eq!(changed["status"], "disabled");
    assert!(
        changed["disabledReason"]
            .as_str()
            .unwrap()
            .contains("api key")
    );

    // Mistakes name the field.
    for (body, code, words) in [
        (json!({}), "VALIDATION_FAILED", "url is required"),
        (
            json!({"url": "ftp://x.example.com"}),
            "WEBHOOK_URL_NOT_ALLOWED",
            "absolute http(s) URL",
        ),
        (
            json!({"url": "https://x.example.com", "eventTypes": ["post.removed"]}),
            "VALIDATION_FAILED",
            "eventTypes[0]",
        ),
        (
            json!({"url": "https://x.example.com", "eventTypes": "post.failed"}),
            "VALIDATION_FAILED",
            "eventTypes must be an array",
        ),
    ] {
        let r = app.post("/api/v1/webhook-endpoints", body.clone());
        assert_eq!(r.error_code(400), code, "{body}");
        assert!(
            r.json()["message"].as_str().unwrap().contains(words),
            "{}",
            r.body
        );
    }

    // Another app's endpoint does not exist for this one.
    let path = format!("/api/v1/webhook-endpoints/{id}");
    assert_eq!(
        app.call_as(&other_key, "GET", &path, None).error_code(404),
        "NOT_FOUND"
    );
    assert_eq!(
        app.call_as(&other_key, "DELETE", &path, None)
            .error_code(404),
        "NOT_FOUND"
    );
    assert_eq!(
        app.call("PUT", &path, Some(json!({}))).error_code(405),
        "METHOD_NOT_ALLOWED"
    );
    assert_eq!(app.call("DELETE", &path, None).status, 204);
    assert_eq!(app.get(&path).error_code(404), "NOT_FOUND");
}

/// The real binary is SIGKILLed after the change (a new connection) and its event were
/// committed, while the endpoint has not answered the send; started again on the same
/// database, it sends the event again, with the same `webhook-id` and body.
#[test]
fn an_event_survives_a_kill_between_the_change_and_the_send() {
    use crate::idempotency_crash::{Server, bootstrap};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("webhook-crash.db");
    let (_, key) = bootstrap(&db);
    let receiver = Receiver::start();
    // The first request hangs (the endpoint is slow), the next one is answered.
    receiver.control(json!({"answers": {"*": ["hold", 204]}}));
    let server = Server::start(&db);
    let auth = format!("Bearer {key}");
    let created = send(
        "POST",
        &format!("{}/api/v1/webhook-endpoints", server.base),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        Some(
            &json!({"url": receiver.url("/hook"), "eventTypes": ["connection.connected"]})
                .to_string(),
        ),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let endpoint = created.json();
    receiver.secrets(&[endpoint["secret"].as_str().unwrap()]);

    server.connect_user(&key);
    let first = receiver.next();
    assert_eq!(first["answer"], "hold");
    assert_eq!(first["body"]["type"], "connection.connected");
    assert_eq!(first["verified"], json!([true]));
    server.kill();

    let server = Server::start(&db);
    let again = receiver.next();
    assert_eq!(again["answer"], 204);
    assert_eq!(
        again["id"], first["id"],
        "the same webhook-id after the restart"
    );
    assert_eq!(again["body"], first["body"]);
    assert_eq!(again["verified"], json!([true]));
    // The kill left no record of the cut-off attempt; the one after the restart succeeded.
    let id = endpoint["id"].as_str().unwrap();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let deliveries = send(
            "GET",
            &format!("{}/api/v1/webhook-endpoints/{id}/deliveries", server.base),
            &[("Authorization", &auth)],
            None,
        )
        .json();
        if deliveries[0]["status"] == "succeeded" {
            assert_eq!(deliveries.as_array().unwrap().len(), 1, "{deliveries}");
            assert_eq!(deliveries[0]["eventId"], first["id"]);
            break;
        }
        assert!(Instant::now() < deadline, "{deliveries}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(receiver.quiet_for(Duration::from_millis(300)));
}

/// The secret shown once in a page: the first `whsec_...` value.
fn secret_in(html: &str) -> String {
    let at = html.find("whsec_").expect("a secret on the page");
    html[at..]
        .chars()
        .take_while(|c| !matches!(c, '"' | '<' | ' '))
        .collect::<String>()
        .replace("&#x2B;", "+")
        .replace("&#x2F;", "/")
        .replace("&#x3D;", "=")
}

#[test]
fn the_dashboard_adds_tests_resends_rotates_and_disables_endpoints() {
    use crate::dash;
    let app = TestApp::start();
    dash::create_operator(&app);
    let op = dash::sign_in(&app);
    let receiver = Receiver::start();
    let app_page = format!("/dashboard/apps/{}", app.app_id);

    // Refused without the session's CSRF token.
    let forged = op.post_raw(
        &format!("{app_page}/webhooks"),
        &[("webhook_url", &receiver.url("/dash"))],
        None,
        Some(&app.base),
    );
    assert_eq!(forged.status, 403, "{}", forged.body);

    let added = op.post(
        &format!("{app_page}/webhooks"),
        &[
            ("webhook_url", &receiver.url("/dash")),
            ("webhook_description", "from the dashboard"),
            ("event_type", "post.published"),
            ("event_type", "post.failed"),
        ],
    );
    assert_eq!(added.status, 200, "{}", added.body);
    assert!(added.body.contains("shown only this once"));
    let secret = secret_in(&added.body);
    receiver.secrets(&[&secret]);
    let endpoint = app.get("/api/v1/webhook-endpoints").json()[0].clone();
    let id = endpoint["id"].as_str().unwrap().to_string();
    assert_eq!(
        endpoint["eventTypes"],
        json!(["post.published", "post.failed"])
    );
    let page_path = format!("{app_page}/webhooks/{id}");
    assert!(!op.page(&page_path).contains("whsec_"), "shown once only");
    assert!(op.page(&app_page).contains(&receiver.url("/dash")));

    // A test event, sent and shown with its response code.
    let queued = op.post(&format!("{page_path}/test"), &[]);
    assert_eq!(queued.status, 303, "{}", queued.body);
    let first = receiver.next();
    assert_eq!(first["body"]["type"], "webhook.test");
    assert_eq!(
        first["verified"],
        json!([true]),
        "signed with the secret the page showed"
    );
    wait_for_attempts(&app, &id, 1);
    let page = op.page(&page_path);
    assert!(
        page.contains("webhook.test") && page.contains("HTTP 204"),
        "{page}"
    );

    // Resent with the same webhook-id.
    let delivery = app
        .get(&format!("/api/v1/webhook-endpoints/{id}/deliveries"))
        .json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let resent = op.post(&format!("{page_path}/deliveries/{delivery}/resend"), &[]);
    assert_eq!(resent.status, 303, "{}", resent.body);
    assert_eq!(receiver.next()["id"], first["id"]);

    // A rotation shows the new secret once; both sign for now.
    let rotated = op.post(&format!("{page_path}/rotate"), &[]);
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new = secret_in(&rotated.body);
    assert_ne!(new, secret);
    assert!(rotated.body.contains("24 hours"));
    receiver.secrets(&[&secret, &new]);
    op.post(&format!("{page_path}/test"), &[]);
    assert_eq!(receiver.next()["verified"], json!([true, true]));
    assert!(!op.page(&page_path).contains("whsec_"));

    // Disabled: a notice on the app's page and the overview; audited with the operator.
    let disabled = op.post(&format!("{page_path}/disable"), &[]);
    assert_eq!(disabled.status, 303, "{}", disabled.body);
    assert!(op.page(&app_page).contains("Webhook endpoint disabled"));
    assert!(op.page("/dashboard").contains("Disabled webhook endpoints"));
    let audit = op.page("/dashboard/logs/audit");
    assert!(
        audit.contains("webhook_endpoint.create")
            && audit.contains("webhook_endpoint.rotate_secret")
            && audit.contains("webhook_endpoint.update"),
        "{audit}"
    );
    let refused = op.post(&format!("{page_path}/test"), &[]);
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(op.post(&format!("{page_path}/enable"), &[]).status, 303);

    let removed = op.post(&format!("{page_path}/remove"), &[]);
    assert_eq!(removed.status, 303, "{}", removed.body);
    assert_eq!(app.get("/api/v1/webhook-endpoints").json(), json!([]));
    assert_eq!(op.get(&page_path).status, 404);
}
