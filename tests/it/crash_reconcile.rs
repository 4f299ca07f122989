//! The crash test of issue 11, short form: the real binary publishes to several platforms of a
//! standalone simulator (a process of its own, so what the platforms accepted survives every
//! kill) with latency on every call, so calls are in flight; it is SIGKILLed at random moments
//! a few dozen times and started again on the same database each time. At the end, once every
//! delivery has settled:
//!
//! - no post is on a platform twice;
//! - every delivery we call `published` is on its platform, with the id we report;
//! - every post on a platform belongs to a delivery we call `published`, or to an
//!   `OUTCOME_UNKNOWN` one where that platform cannot be read back (its scenario row);
//! - credits follow the refund rule: a post keeps its price unless it failed and none of its
//!   deliveries may have been published.

use crate::scenarios::{ReadBack, read_back_of};
use crate::support::{
    ChildServer, ChildSimulator, REDIRECT, bootstrap_with_cli, decide_at, free_port,
    mypostshare_ok, open_consent_page_at, query_value, send,
};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

const KEY: &str = "crash reconcile test secret key material";
/// Platforms that publish text alone (no media host needed outside the sandbox).
const PLATFORMS: [&str; 4] = ["linkedin", "twitter", "facebook", "threads"];
const KILLS: usize = 30;
const POSTS_PER_ROUND: usize = 2;
/// Added to every API call of each platform: a publish spans several of them.
const LATENCY_MS: u64 = 150;

/// xorshift64*, seeded from the clock (printed, so a failing run can be repeated).
struct Rng(u64);

impl Rng {
    fn between(&mut self, low: u64, high: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        low + self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % (high - low)
    }
}

/// The appliance on its fixed port, pointed at the simulator, reading back 1 s after an
/// interruption.
fn start(db: &Path, port: u16, simulator: &ChildSimulator) -> ChildServer {
    let mut env: Vec<(String, String)> =
        vec![("MYPOSTSHARE_RECONCILE_DELAY_SECS".into(), "1".into())];
    for platform in PLATFORMS {
        let upper = platform.to_ascii_uppercase();
        env.push((
            format!("MYPOSTSHARE_{upper}_CLIENT_ID"),
            format!("crash-{platform}"),
        ));
        env.push((
            format!("MYPOSTSHARE_{upper}_CLIENT_SECRET"),
            format!("secret-of-{platform}"),
        ));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    ChildServer::serve(
        db,
        KEY,
        &env,
        &[],
        port,
        &["--simulator-url", &simulator.base],
    )
}

/// The hosted connect flow with the consent on the standalone simulator.
fn connect(server: &ChildServer, simulator: &ChildSimulator, api_key: &str, platform: &str) {
    let session = server.call(
        api_key,
        "POST",
        "/api/v1/connect-sessions",
        Some(json!({"externalUserId": "u1", "platform": platform, "redirectUri": REDIRECT})),
    );
    assert_eq!(session.status, 201, "{}", session.body);
    let form = open_consent_page_at(&server.base, session.json()["connectUrl"].as_str().unwrap());
    let callback = decide_at(&simulator.base, &form, "allow", "Alex Morgan");
    let done = send("GET", &callback, &[], None);
    assert_eq!(done.status, 302, "{}", done.body);
    let location = done.header("location").unwrap();
    assert_eq!(
        query_value(location, "status").as_deref(),
        Some("connected"),
        "{platform}: {location}"
    );
}

/// The tag a post's text carries, `crashtag{R}x{N}end`, found anywhere in a record. Letters and
/// digits only: platforms escape other characters (LinkedIn's commentary escapes brackets).
fn tag_in(text: &str) -> Option<String> {
    let start = text.find("crashtag")?;
    let tag: String = text[start..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    Some(tag)
}

struct Delivery {
    post_id: String,
    tag: String,
    platform: String,
    status: String,
    external_id: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
}

fn deliveries(db: &Path) -> Vec<Delivery> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT p.id, p.content, d.platform, d.status, d.external_id, d.error_code,
                    d.error_message
             FROM post_deliveries d JOIN post_requests p ON p.id = d.post_id",
        )
        .unwrap();
    stmt.query_map([], |r| {
        let content: String = r.get(1)?;
        Ok(Delivery {
            post_id: r.get(0)?,
            tag: tag_in(&content).unwrap_or_default(),
            platform: r.get(2)?,
            status: r.get(3)?,
            external_id: r.get(4)?,
            error_code: r.get(5)?,
            error_message: r.get(6)?,
        })
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

fn unsettled(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(
        "SELECT COUNT(*) FROM post_deliveries WHERE status IN ('pending', 'processing')",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn kills_while_publishing_never_post_twice_and_every_outcome_is_read_back() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("crash_reconcile seed {seed}");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let port = free_port();
    let clients: Vec<String> = PLATFORMS
        .iter()
        .map(|p| format!("{p}:crash-{p}:secret-of-{p}:http://127.0.0.1:{port}/oauth/callback/{p}"))
        .collect();
    let simulator = ChildSimulator::start(&clients);
    let (app_id, api_key) = bootstrap_with_cli(&db, Some(KEY));
    mypostshare_ok(
        &db,
        &[
            "app",
            "limits",
            "--app",
            &app_id,
            "--publish-requests-per-minute",
            "0",
        ],
        Some(KEY),
    );
    let mut server = start(&db, port, &simulator);
    let user = server.call(
        &api_key,
        "POST",
        "/api/v1/end-users",
        Some(json!({"externalUserId": "u1"})),
    );
    assert_eq!(user.status, 201, "{}", user.body);
    for platform in PLATFORMS {
        connect(&server, &simulator, &api_key, platform);
        let latency = send(
            "POST",
            &format!("{}/_sim/latency", simulator.base),
            &[("Content-Type", "application/json")],
            Some(&json!({"platform": platform, "ms": LATENCY_MS}).to_string()),
        );
        assert_eq!(latency.status, 200, "{}", latency.body);
    }

    let started = Instant::now();
    for round in 0..KILLS {
        let requests: Vec<_> = (0..POSTS_PER_ROUND)
            .map(|n| {
                let (base, key) = (server.base.clone(), api_key.clone());
                let body = json!({"externalUserId": "u1", "content": format!("A post crashtag{round}x{n}end of the test"), "platforms": PLATFORMS});
                std::thread::spawn(move || {
                    // The answer usually dies with the server; what was stored is in the database.
                    let _ = crate::support::agent()
                        .post(&format!("{base}/api/v1/posts"))
                        .set("Authorization", &format!("Bearer {key}"))
                        .set("Content-Type", "application/json")
                        .send_string(&body.to_string());
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.between(50, 900)));
        server.kill();
        for request in requests {
            let _ = request.join();
        }
        server = start(&db, port, &simulator);
    }
    // No more kills: every delivery settles (dispatched, read back, decided).
    let deadline = Instant::now() + Duration::from_secs(40);
    while unsettled(&db) > 0 {
        assert!(
            Instant::now() < deadline,
            "{} deliveries never settled",
            unsettled(&db)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    server.kill();
    eprintln!("crash_reconcile: {KILLS} kills in {:?}", started.elapsed());

    let all = deliveries(&db);
    assert!(all.len() >= PLATFORMS.len(), "posts were made");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let interrupted: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM delivery_attempts WHERE outcome = 'unknown'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        interrupted > 0,
        "no kill cut a publish off: the test proves nothing"
    );
    let count = |status: &str| all.iter().filter(|d| d.status == status).count();
    eprintln!(
        "crash_reconcile: {} deliveries, {} published, {} failed, {interrupted} attempts cut off",
        all.len(),
        count("published"),
        count("failed")
    );

    for platform in PLATFORMS {
        let recorded = send(
            "GET",
            &format!("{}/_sim/{platform}/posts", simulator.base),
            &[],
            None,
        )
        .json();
        let recorded = recorded.as_array().unwrap();
        // Each post is on the platform at most once.
        let mut seen: BTreeMap<String, &Value> = BTreeMap::new();
        for record in recorded {
            let tag = tag_in(&record.to_string())
                .unwrap_or_else(|| panic!("{platform}: a post of no test: {record}"));
            assert!(
                seen.insert(tag.clone(), record).is_none(),
                "{platform}: {tag} was published twice"
            );
        }
        let ours: Vec<&Delivery> = all.iter().filter(|d| d.platform == platform).collect();
        // What we call published is there, with our id.
        for delivery in ours.iter().filter(|d| d.status == "published") {
            let record = seen.get(&delivery.tag).unwrap_or_else(|| {
                panic!(
                    "{platform}: {} is published but not on the platform",
                    delivery.tag
                )
            });
            let id = record["id"].as_str().unwrap_or_default();
            assert!(
                !id.is_empty()
                    && delivery
                        .external_id
                        .as_deref()
                        .is_some_and(|e| e.ends_with(id)),
                "{platform}: {} published as {:?}, the platform's id is {id}",
                delivery.tag,
                delivery.external_id
            );
        }
        // What is there is ours: published, or unknown where it cannot be read back.
        for tag in seen.keys() {
            let delivery = ours
                .iter()
                .find(|d| &d.tag == tag)
                .unwrap_or_else(|| panic!("{platform}: {tag} is on the platform, no delivery"));
            // Unknown is right where the platform cannot be read back, and also where every
            // read-back the engine may make was cut off by a kill, or failed (kills land on
            // read-backs too, more often on a loaded machine): "each of N read-backs of the
            // platform was cut off too", "reading ... back failed N times (last: ...)".
            let message = delivery.error_message.as_deref().unwrap_or_default();
            let reads_ran_out = message.contains("read-backs of the platform was cut off")
                || (message.contains("back failed") && message.contains(" times (last:"));
            let unknown_allowed = (read_back_of(platform) == ReadBack::Unavailable
                || reads_ran_out)
                && delivery.error_code.as_deref() == Some("OUTCOME_UNKNOWN");
            assert!(
                delivery.status == "published" || unknown_allowed,
                "{platform}: {tag} is on the platform, but its delivery is {} {:?}: {message}",
                delivery.status,
                delivery.error_code
            );
        }
    }

    // Credits: a post keeps its price unless it failed and no platform can have it.
    let posts: BTreeSet<&str> = all.iter().map(|d| d.post_id.as_str()).collect();
    for post_id in posts {
        let (status, cost): (String, i64) = conn
            .query_row(
                "SELECT status, credit_cost FROM post_requests WHERE id = ?1",
                [post_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let held: i64 = conn
            .query_row(
                "SELECT -COALESCE(SUM(amount), 0) FROM credit_ledger WHERE post_id = ?1 AND kind IN ('charge', 'refund')",
                [post_id],
                |r| r.get(0),
            )
            .unwrap();
        let maybe_live = all.iter().any(|d| {
            d.post_id == post_id
                && d.status == "failed"
                && mypostshare::services::lifecycle::may_have_published(d.error_code.as_deref())
        });
        let expected = if status == "failed" && !maybe_live {
            0
        } else {
            cost
        };
        assert_eq!(
            held, expected,
            "post {post_id} ({status}) holds {held} credits"
        );
    }
}
