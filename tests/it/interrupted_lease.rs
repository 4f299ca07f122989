//! A delivery leased by a process that is gone is recovered when the next one starts, not when
//! its 5-minute lease runs out: the real binary is SIGKILLed while the platform holds the
//! publishing call, started again on the same database, and the delivery is handed to a
//! read-back of the platform (never sent again blindly) as soon as the new process answers;
//! the read-back then decides, as the platform's row of the scenario table says it can.

use crate::scenarios::{ReadBack, read_back_of};
use crate::support::{ChildServer, agent, bootstrap_with_cli, connect_at, send};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

const KEY: &str = "interrupted lease test secret key material";

/// The leased deliveries in the database: (id, lease holder).
fn leased(db: &Path) -> Vec<(String, Option<String>)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT id, lease_instance_id FROM post_deliveries
             WHERE status = 'processing' AND lease_expires_at IS NOT NULL",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn a_lease_of_a_killed_process_is_recovered_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    let (_, api_key) = bootstrap_with_cli(&db, Some(KEY));
    let server = ChildServer::start(&db, KEY, &[]);
    let user = server.call(
        &api_key,
        "POST",
        "/api/v1/end-users",
        Some(json!({"externalUserId": "u1"})),
    );
    assert_eq!(user.status, 201, "{}", user.body);
    connect_at(&server.base, &api_key, "u1", "linkedin", "Alex Morgan");
    // LinkedIn holds the post's creation for two minutes: the delivery stays leased meanwhile.
    let fault = send(
        "POST",
        &format!("{}/sandbox/_sim/faults", server.base),
        &[("Content-Type", "application/json")],
        Some(
            &json!({"platform": "linkedin", "kind": "timeout", "delayMs": 120_000, "method": "POST", "path": "/rest/posts"})
                .to_string(),
        ),
    );
    assert_eq!(fault.status, 201, "{}", fault.body);
    let base = server.base.clone();
    let key = api_key.clone();
    // The request waits for the delivery; its connection dies with the server.
    let _request = std::thread::spawn(move || {
        let _ = agent()
            .post(&format!("{base}/api/v1/posts"))
            .set("Authorization", &format!("Bearer {key}"))
            .set("Content-Type", "application/json")
            .send_string(
                &json!({"externalUserId": "u1", "content": "cut off", "platforms": ["linkedin"]})
                    .to_string(),
            );
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let (delivery, holder) = loop {
        if let Some(lease) = leased(&db).pop() {
            break lease;
        }
        assert!(Instant::now() < deadline, "the delivery was never leased");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        holder.as_deref().is_some_and(|h| h.starts_with("inst_")),
        "the lease names its process: {holder:?}"
    );
    server.kill();
    assert_eq!(
        leased(&db).len(),
        1,
        "the killed process left its lease behind"
    );

    // The new process recovers it before it answers anything: no 5-minute wait. The read-back
    // waits its delay (5 s here), so the recovered state can be seen first.
    let server = ChildServer::start(&db, KEY, &[("MYPOSTSHARE_RECONCILE_DELAY_SECS", "5")]);
    assert!(leased(&db).is_empty(), "recovered at start-up");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (status, code, since, holder, outcome): (String, String, Option<String>, Option<String>, Option<String>) = conn
        .query_row(
            "SELECT d.status, d.error_code, d.reconcile_since, d.lease_instance_id, a.outcome FROM delivery_attempts a
             JOIN post_deliveries d ON d.id = a.delivery_id WHERE d.id = ?1",
            [&delivery],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(
        (status.as_str(), code.as_str()),
        ("processing", "OUTCOME_UNKNOWN"),
        "to be read back, not failed"
    );
    assert!(since.is_some(), "the window of the cut-off attempt is kept");
    assert_eq!(holder, None, "the lease is gone");
    assert_eq!(
        outcome.as_deref(),
        Some("unknown"),
        "the cut-off attempt is closed"
    );
    let posts = server.call(&api_key, "GET", "/api/v1/posts?limit=10", None);
    assert_eq!(posts.status, 200, "{}", posts.body);
    let listed = posts.json();
    let post = listed["data"]
        .as_array()
        .or(listed.as_array())
        .and_then(|posts| posts.first())
        .cloned()
        .unwrap_or(Value::Null);
    let path = format!("/api/v1/posts/{}", post["id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    let post = loop {
        let post = server.call(&api_key, "GET", &path, None).json();
        if post["status"] != "processing" || Instant::now() > deadline {
            break post;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let result = &post["platformResults"][0];
    assert_eq!(result["id"], delivery.as_str());
    // The killed process's simulator died with it: the new one holds no post, so a platform
    // that can rule one out publishes it again, once; one that cannot leaves it unknown.
    let sent = send(
        "GET",
        &format!("{}/sandbox/_sim/linkedin/posts", server.base),
        &[],
        None,
    )
    .json();
    match read_back_of("linkedin") {
        ReadBack::FindsAndRulesOut => {
            assert_eq!(post["status"], "published", "{post}");
            assert_eq!(sent.as_array().map(Vec::len), Some(1), "{sent}");
        }
        ReadBack::FindsOnly | ReadBack::Unavailable => {
            assert_eq!(result["status"], "failed", "{post}");
            assert_eq!(result["errorCode"], "OUTCOME_UNKNOWN", "{post}");
            assert!(
                result["errorMessage"]
                    .as_str()
                    .is_some_and(|m| m.contains("cannot be told")),
                "the read-back decided: {post}"
            );
            assert_eq!(post["status"], "failed", "{post}");
            assert_eq!(sent, json!([]), "never sent again blindly");
        }
    }
    server.kill();
}
