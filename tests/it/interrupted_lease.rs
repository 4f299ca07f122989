//! A delivery leased by a process that is gone is recovered when the next one starts, not when
//! its 5-minute lease runs out: the real binary is SIGKILLed while the platform holds the
//! publishing call, started again on the same database, and the delivery is OUTCOME_UNKNOWN
//! (never sent again) as soon as the new process answers.

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

    // The new process records it before it answers anything: no 5-minute wait.
    let server = ChildServer::start(&db, KEY, &[]);
    assert!(leased(&db).is_empty(), "recovered at start-up");
    let posts = server.call(&api_key, "GET", "/api/v1/posts?limit=10", None);
    assert_eq!(posts.status, 200, "{}", posts.body);
    let listed = posts.json();
    let post = listed["data"]
        .as_array()
        .or(listed.as_array())
        .and_then(|posts| posts.first())
        .cloned()
        .unwrap_or(Value::Null);
    let post = server
        .call(
            &api_key,
            "GET",
            &format!("/api/v1/posts/{}", post["id"].as_str().unwrap()),
            None,
        )
        .json();
    let result = &post["platformResults"][0];
    assert_eq!(result["id"], delivery.as_str());
    assert_eq!(result["status"], "failed", "{post}");
    assert_eq!(result["errorCode"], "OUTCOME_UNKNOWN", "{post}");
    assert_eq!(post["status"], "failed", "{post}");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (outcome, holder): (Option<String>, Option<String>) = conn
        .query_row(
            "SELECT a.outcome, d.lease_instance_id FROM delivery_attempts a
             JOIN post_deliveries d ON d.id = a.delivery_id WHERE d.id = ?1",
            [&delivery],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(outcome.as_deref(), Some("unknown"));
    assert_eq!(
        holder, None,
        "the lease is gone with its delivery's outcome"
    );
    // The new simulator never got the post: a failed delivery is not sent again.
    let sent = send(
        "GET",
        &format!("{}/sandbox/_sim/linkedin/posts", server.base),
        &[],
        None,
    );
    assert_eq!(sent.json(), json!([]));
    server.kill();
}
