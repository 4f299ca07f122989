//! Scheduled posts wait for their time, are handed to the engine by the dispatch job, and are
//! published then; the scheduler's own thread publishes a post due in the near future within
//! its one-second tick.

use crate::support::TestApp;
use serde_json::json;

#[test]
fn a_scheduled_post_waits_for_its_time_then_publishes() {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect_linkedin("u1", "Alex Morgan");
    let at = app.clock_now() + chrono::Duration::hours(2);
    let created = app.post("/api/v1/posts/scheduled", json!({"externalUserId": "u1", "content": "Scheduled via MyPostShare.", "platforms": ["linkedin"], "scheduleAt": at.to_rfc3339(), "metadata": {"campaign": "launch-week"}}));
    assert_eq!(created.status, 201, "{}", created.body);
    let post = created.json();
    assert_eq!(post["mode"], "scheduled");
    assert_eq!(post["status"], "scheduled");
    assert_eq!(post["scheduleAt"], mypostshare::clock::format_timestamp(at));
    assert_eq!(post["processedAt"], serde_json::Value::Null);
    assert_eq!(post["metadata"], json!({"campaign": "launch-week"}));
    let result = &post["platformResults"][0];
    assert_eq!(result["status"], "pending");
    assert_eq!(result["attemptCount"], 0);
    assert_eq!(result["externalId"], serde_json::Value::Null);
    let id = post["id"].as_str().unwrap();
    assert_eq!(
        app.run_job("dispatch_due_deliveries"),
        "queued 0 deliveries",
        "not due yet"
    );
    app.clock.advance(chrono::Duration::hours(2));
    assert_eq!(
        app.run_job("dispatch_due_deliveries"),
        "queued 1 deliveries"
    );
    let done = app.wait_for_post(id, |p| p["status"] == "published");
    assert_eq!(done["status"], "published");
    assert!(done["processedAt"].as_str().unwrap() >= done["scheduleAt"].as_str().unwrap());
    assert_eq!(app.sim_posts()[0]["text"], "Scheduled via MyPostShare.");
    assert_eq!(
        app.run_job("dispatch_due_deliveries"),
        "queued 0 deliveries",
        "published once"
    );
}

#[test]
fn the_scheduler_thread_publishes_a_due_post_on_its_own() {
    // The real cron schedule (every second) on the real clock: no job is run by hand.
    let dir = tempfile::tempdir().unwrap();
    let mut config = mypostshare::config::Config::new(
        dir.path().join("s.db"),
        mypostshare::crypto::MasterKey::from_material("scheduler test key material 32 chars"),
    );
    config.sandbox = true;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let running = mypostshare::start(
        config,
        listener,
        std::sync::Arc::new(mypostshare::clock::SystemClock),
    )
    .unwrap();
    let state = running.state.clone();
    let now = chrono::Utc::now();
    let org =
        mypostshare::services::apps::create_organization(&state.db, "t", "o", 100, now).unwrap();
    let app = mypostshare::services::apps::create_app(&state.db, "t", &org.id, "a", now).unwrap();
    let (_, key) = mypostshare::services::keys::create(&state.db, "t", &app.id, "k", now).unwrap();
    // connect through the public flow
    mypostshare::services::apps::add_redirect_uri(
        &state.db,
        "t",
        &app.id,
        crate::support::REDIRECT,
        now,
    )
    .unwrap();
    let harness = HarnessView {
        base: running.base_url(),
        key,
    };
    harness.connect();
    let due = chrono::Utc::now() + chrono::Duration::milliseconds(1500);
    let post = harness.post("/api/v1/posts/scheduled", json!({"externalUserId": "u1", "content": "on time", "platforms": ["linkedin"], "scheduleAt": due.to_rfc3339()}));
    let id = post["id"].as_str().unwrap().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut last = serde_json::Value::Null;
    while std::time::Instant::now() < deadline {
        last = harness.get(&format!("/api/v1/posts/{id}"));
        if last["status"] == "published" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(last["status"], "published", "{last}");
    running.shutdown();
}

/// Just enough of the harness for an appliance started outside `TestApp`.
struct HarnessView {
    base: String,
    key: String,
}

impl HarnessView {
    fn post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        crate::support::send(
            "POST",
            &format!("{}{path}", self.base),
            &[
                ("Authorization", &format!("Bearer {}", self.key)),
                ("Content-Type", "application/json"),
            ],
            Some(&body.to_string()),
        )
        .json()
    }

    fn get(&self, path: &str) -> serde_json::Value {
        crate::support::send(
            "GET",
            &format!("{}{path}", self.base),
            &[("Authorization", &format!("Bearer {}", self.key))],
            None,
        )
        .json()
    }

    fn connect(&self) {
        self.post("/api/v1/end-users", json!({"externalUserId": "u1"}));
        let session = self.post("/api/v1/connect-sessions", json!({"externalUserId": "u1", "platform": "linkedin", "redirectUri": crate::support::REDIRECT}));
        let url = session["connectUrl"].as_str().unwrap();
        let page = crate::support::send("GET", url, &[], None);
        let (action, _) = crate::support::parse_form(&page.body);
        let go = crate::support::send("POST", &format!("{}{action}", self.base), &[], Some(""));
        let consent = crate::support::send("GET", go.header("location").unwrap(), &[], None);
        let (action, fields) = crate::support::parse_form(&consent.body);
        let mut pairs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.push(("decision", "allow"));
        let body = mypostshare::http::encode_query(&pairs);
        let back = crate::support::send(
            "POST",
            &format!("{}{action}", self.base),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(&body),
        );
        let done = crate::support::send("GET", back.header("location").unwrap(), &[], None);
        assert_eq!(
            crate::support::query_value(done.header("location").unwrap(), "status").as_deref(),
            Some("connected")
        );
    }
}

#[test]
fn long_lived_tokens_are_refreshed_before_they_expire_unused() {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect("u1", "threads", "alex_morgan");
    let before = app.get("/api/v1/end-users/u1/connections").json()[0].clone();
    assert_eq!(before["tokenStatus"], "active_refreshable");
    // Nothing to do while the token is far from its end.
    assert_eq!(
        app.run_job("refresh_expiring_tokens"),
        "0 connections handed to the token refresher"
    );
    // Two days before its 60 days end, nobody has posted: the job refreshes it.
    app.clock.advance(chrono::Duration::days(58));
    assert_eq!(
        app.run_job("refresh_expiring_tokens"),
        "1 connections handed to the token refresher"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut after = before.clone();
    while std::time::Instant::now() < deadline
        && after["accessTokenExpiresAt"] == before["accessTokenExpiresAt"]
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
        after = app.get("/api/v1/end-users/u1/connections").json()[0].clone();
    }
    let at = |v: &serde_json::Value| {
        mypostshare::clock::parse_timestamp(v["accessTokenExpiresAt"].as_str().unwrap()).unwrap()
    };
    assert!(
        at(&after) - at(&before) > chrono::Duration::days(50),
        "{before} -> {after}"
    );
    assert_eq!(after["status"], "connected");
    // A post long after the original expiry still goes out.
    app.clock.advance(chrono::Duration::days(10));
    let post = app.post(
        "/api/v1/posts",
        json!({"externalUserId": "u1", "content": "still here", "platforms": ["threads"]}),
    );
    assert_eq!(post.json()["status"], "published", "{}", post.body);
}
