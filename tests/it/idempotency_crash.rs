//! `Idempotency-Key` across a crash: the real binary is SIGKILLed while a request holds its
//! key, started again on the same database, and the retry with the same key and body gets the
//! post the first request created (replayed, not posted or charged twice), or, when nothing was
//! stored yet, a fresh run. Before the fix both retries answered 409 IN_PROGRESS for 24 hours.
//!
//! The first request is stopped at a known point by a media host the test controls: it holds
//! the request for the image instead of answering, and reports it. A `mediaUrl` with an
//! extension is first fetched by the delivery, after the post is stored; one without is probed
//! during validation, before anything is stored. A last test states the same rules on the
//! service functions, including the cases a kill cannot stage.

use crate::support::{REDIRECT, Reply, TestApp, agent, connect_at, send};
use mypostshare::db::Db;
use mypostshare::instance::InstanceId;
use mypostshare::providers::Platform;
use mypostshare::services::credits;
use mypostshare::services::idempotency::{self, Reservation};
use mypostshare::services::posts::{self, Mode, NewPost};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "idempotency crash test secret key material";

/// How long to wait for something that normally takes milliseconds before calling it broken.
const PATIENCE: Duration = Duration::from_secs(120);

/// The admin command line on the test's database; returns its JSON answer.
fn admin(db: &Path, args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_mypostshare"))
        .arg("--db")
        .arg(db)
        .arg("--json")
        .args(args)
        .env("MYPOSTSHARE_SECRET_KEY", SECRET)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// An organization with credits, an app with the test redirect allowlisted, and its API key.
/// Returns (org id, API key).
pub fn bootstrap(db: &Path) -> (String, String) {
    let org = admin(db, &["org", "create", "--name", "Crash test"]);
    let org_id = org["id"].as_str().unwrap().to_string();
    let app = admin(
        db,
        &["app", "create", "--org", &org_id, "--name", "Crash app"],
    );
    let app_id = app["id"].as_str().unwrap();
    let key = admin(db, &["key", "create", "--app", app_id, "--name", "backend"])["key"]
        .as_str()
        .unwrap()
        .to_string();
    admin(db, &["redirect", "add", "--app", app_id, "--uri", REDIRECT]);
    admin(
        db,
        &["credits", "grant", "--org", &org_id, "--amount", "100"],
    );
    (org_id, key)
}

/// `mypostshare serve --sandbox` as a child process; dropping it SIGKILLs it.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    pub fn start(db: &Path) -> Server {
        Self::start_with_secret(db, SECRET)
    }

    /// `serve --sandbox` with another instance secret (that of the database's other users).
    pub fn start_with_secret(db: &Path, secret: &str) -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_mypostshare"))
            .arg("--db")
            .arg(db)
            .args(["serve", "--sandbox", "--addr", &format!("127.0.0.1:{port}")])
            .env("MYPOSTSHARE_SECRET_KEY", secret)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + PATIENCE;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "serve did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// SIGKILL: no request finishes, nothing is cleaned up.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn post(&self, key: &str, path: &str, idempotency_key: &str, body: &str) -> Reply {
        send(
            "POST",
            &format!("{}{path}", self.base),
            &[
                ("Authorization", &format!("Bearer {key}")),
                ("Content-Type", "application/json"),
                ("Idempotency-Key", idempotency_key),
            ],
            Some(body),
        )
    }

    fn posts(&self, key: &str) -> Vec<Value> {
        let list = send(
            "GET",
            &format!("{}/api/v1/posts", self.base),
            &[("Authorization", &format!("Bearer {key}"))],
            None,
        );
        assert_eq!(list.status, 200, "{}", list.body);
        list.json().as_array().cloned().unwrap()
    }

    /// End user `u1` with a LinkedIn connection made through the hosted flow.
    pub fn connect_user(&self, key: &str) {
        let user = send(
            "POST",
            &format!("{}/api/v1/end-users", self.base),
            &[
                ("Authorization", &format!("Bearer {key}")),
                ("Content-Type", "application/json"),
            ],
            Some(r#"{"externalUserId": "u1"}"#),
        );
        assert_eq!(user.status, 201, "{}", user.body);
        connect_at(&self.base, key, "u1", "linkedin", "Alex Morgan");
    }

    fn sample_png(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        agent()
            .get(&format!("{}/sandbox/_sim/media/sample.png", self.base))
            .call()
            .unwrap()
            .into_reader()
            .read_to_end(&mut bytes)
            .unwrap();
        bytes
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A media host on loopback. While holding, it reports each request ("GET /photo") and
/// leaves it unanswered, so the appliance's request that asked is stuck right there; once
/// released, it serves `image` as a PNG.
struct MediaHost {
    addr: SocketAddr,
    holding: Arc<AtomicBool>,
    arrivals: Receiver<String>,
}

impl MediaHost {
    fn start(image: Vec<u8>) -> MediaHost {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let holding = Arc::new(AtomicBool::new(true));
        let (report, arrivals) = channel();
        let held: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let hold = holding.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let request: Vec<&str> = request_line.split_whitespace().take(2).collect();
                let request = request.join(" ");
                if hold.load(Ordering::SeqCst) {
                    held.lock().unwrap().push(stream);
                    let _ = report.send(request);
                    continue;
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    image.len()
                );
                let _ = stream.write_all(head.as_bytes());
                if !request.starts_with("HEAD ") {
                    let _ = stream.write_all(&image);
                }
            }
        });
        MediaHost {
            addr,
            holding,
            arrivals,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn next_request(&self) -> String {
        self.arrivals
            .recv_timeout(PATIENCE)
            .expect("the appliance asked the media host for the image")
    }

    fn answer_from_now_on(&self) {
        self.holding.store(false, Ordering::SeqCst);
    }
}

/// Sends the request on a thread of its own; it never gets an answer, since the server dies
/// while working on it.
fn send_and_forget(base: &str, key: &str, idempotency_key: &str, body: &str) {
    let (url, auth, idempotency_key, body) = (
        format!("{base}/api/v1/posts"),
        format!("Bearer {key}"),
        idempotency_key.to_string(),
        body.to_string(),
    );
    std::thread::spawn(move || {
        let _ = agent()
            .post(&url)
            .set("Authorization", &auth)
            .set("Content-Type", "application/json")
            .set("Idempotency-Key", &idempotency_key)
            .send_string(&body);
    });
}

fn charges(db: &Path, org_id: &str) -> Vec<credits::LedgerEntry> {
    let db = Db::open(db, 2).unwrap();
    let ledger = db.read(|c| credits::ledger(c, org_id, 100)).unwrap();
    ledger.into_iter().filter(|e| e.kind == "charge").collect()
}

#[test]
fn an_idempotency_key_cut_off_by_a_kill_after_its_post_was_stored_replays_that_post() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let (org_id, key) = bootstrap(&db);
    let first = Server::start(&db);
    first.connect_user(&key);
    let media = MediaHost::start(first.sample_png());
    let body = json!({
        "externalUserId": "u1",
        "content": "cut off after the post was stored",
        "platforms": ["linkedin"],
        "mediaUrl": media.url("/photo.png"),
    })
    .to_string();

    send_and_forget(&first.base, &key, "crash-after-store", &body);
    // The delivery fetches the image only once the post and its charge are committed.
    assert_eq!(media.next_request(), "GET /photo.png");
    let meanwhile = first.post(&key, "/api/v1/posts", "crash-after-store", &body);
    assert_eq!(
        meanwhile.error_code(409),
        "IDEMPOTENCY_KEY_IN_PROGRESS",
        "a request still running holds its key"
    );
    first.kill();

    media.answer_from_now_on();
    let second = Server::start(&db);
    let stored = second.posts(&key);
    assert_eq!(stored.len(), 1, "the post outlived the kill");
    let retry = second.post(&key, "/api/v1/posts", "crash-after-store", &body);
    assert_eq!(retry.status, 201, "{}", retry.body);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    let replayed = retry.json();
    assert_eq!(
        replayed["id"], stored[0]["id"],
        "the stored post, not a new one"
    );
    assert_eq!(replayed["content"], "cut off after the post was stored");
    assert_eq!(replayed["creditCost"], 5);
    assert!(replayed["platformResults"].is_array(), "{replayed}");
    let again = second.post(&key, "/api/v1/posts", "crash-after-store", &body);
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.json()["id"], stored[0]["id"]);
    assert_eq!(second.posts(&key).len(), 1, "no second post");
    let other = json!({"externalUserId": "u1", "content": "another", "platforms": ["linkedin"]});
    let reused = second.post(
        &key,
        "/api/v1/posts",
        "crash-after-store",
        &other.to_string(),
    );
    assert_eq!(reused.error_code(409), "IDEMPOTENCY_KEY_REUSED");
    drop(second);

    let charges = charges(&db, &org_id);
    assert_eq!(charges.len(), 1, "no second charge");
    assert_eq!(charges[0].post_id.as_deref(), stored[0]["id"].as_str());
}

#[test]
fn an_idempotency_key_cut_off_by_a_kill_before_anything_was_stored_runs_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let (org_id, key) = bootstrap(&db);
    let first = Server::start(&db);
    first.connect_user(&key);
    let media = MediaHost::start(first.sample_png());
    let body = json!({
        "externalUserId": "u1",
        "content": "cut off while being validated",
        "platforms": ["linkedin"],
        "mediaUrl": media.url("/photo"),
    })
    .to_string();

    send_and_forget(&first.base, &key, "crash-before-store", &body);
    // Without an extension, what the URL serves is asked during validation, before the post
    // is stored or charged.
    // (a GET of its first bytes, which tell its type)
    assert_eq!(media.next_request(), "GET /photo");
    let meanwhile = first.post(&key, "/api/v1/posts", "crash-before-store", &body);
    assert_eq!(meanwhile.error_code(409), "IDEMPOTENCY_KEY_IN_PROGRESS");
    first.kill();

    media.answer_from_now_on();
    let second = Server::start(&db);
    assert!(second.posts(&key).is_empty(), "nothing was stored");
    let retry = second.post(&key, "/api/v1/posts", "crash-before-store", &body);
    assert_eq!(retry.status, 201, "{}", retry.body);
    assert_eq!(retry.header("idempotent-replayed"), None, "a fresh run");
    let created = retry.json();
    assert_eq!(created["content"], "cut off while being validated");
    let posts = second.posts(&key);
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["id"], created["id"]);
    // From now on the key replays the fresh run's answer.
    let again = second.post(&key, "/api/v1/posts", "crash-before-store", &body);
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, retry.body);
    drop(second);

    let charges = charges(&db, &org_id);
    assert_eq!(charges.len(), 1, "charged once, by the fresh run");
    assert_eq!(charges[0].post_id.as_deref(), created["id"].as_str());
}

fn new_post(content: &str) -> NewPost {
    NewPost {
        mode: Mode::Immediate,
        external_user_id: "u1".into(),
        title: None,
        content: content.into(),
        media_url: None,
        media_kind: None,
        thumbnail_url: None,
        metadata: None,
        platform_options: None,
        platforms: vec![Platform::Linkedin],
        schedule_at: None,
    }
}

/// The rules below the crash tests, on the service functions of a running instance: what a
/// start-up releases, what it keeps, and why a request whose reservation was taken from it
/// cannot post (a second process started on the same file would do that).
#[test]
fn idempotency_reservations_are_released_only_when_no_living_request_holds_them_and_nothing_was_created()
 {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect_linkedin("u1", "Alex Morgan");
    let state = &app.running.state;
    let (db, now, ttl) = (&state.db, app.clock_now(), state.config.idempotency_ttl);
    let this = &state.instance_id;
    let earlier = InstanceId::generate();
    let reserve = |key: &str, holder: &InstanceId| {
        idempotency::reserve(db, &app.app_id, key, "hash", holder, ttl, now).unwrap()
    };
    let claim = |reservation| match reservation {
        Reservation::Fresh(claim) => claim,
        other => panic!("expected a fresh reservation, got {other:?}"),
    };
    let create = |content: &str, claim: &idempotency::Claim| {
        posts::create(
            db,
            &app.app_id,
            &app.org_id,
            &new_post(content),
            5,
            Some(claim),
            now,
        )
    };
    let count_posts = || app.get("/api/v1/posts").json().as_array().unwrap().len();

    // An earlier start left two requests cut off: one before its post, one after.
    claim(reserve("nothing-stored", &earlier));
    let cut_after_post = claim(reserve("post-stored", &earlier));
    let post_id = create("stored before the crash", &cut_after_post).unwrap();
    // And a request of this process is running.
    let running = claim(reserve("running", this));

    assert_eq!(idempotency::release_abandoned(db, this).unwrap(), 1);
    claim(reserve("nothing-stored", this));
    match reserve("post-stored", this) {
        Reservation::ReplayPost { post_id: replayed } => assert_eq!(replayed, post_id),
        other => panic!("expected the stored post, got {other:?}"),
    }
    let busy =
        idempotency::reserve(db, &app.app_id, "running", "hash", this, ttl, now).unwrap_err();
    assert_eq!(busy.code.as_str(), "IDEMPOTENCY_KEY_IN_PROGRESS");

    // A request that fails after its post was stored gives the key up to a replay, not to a
    // second post.
    create("stored, then the request failed", &running).unwrap();
    idempotency::complete(db, &running, 500, "{}").unwrap();
    assert!(matches!(
        reserve("running", this),
        Reservation::ReplayPost { .. }
    ));

    // A reservation released while its request still ran (another process started on the
    // file) cannot be used to post: the post and its charge are rolled back.
    let overtaken = claim(reserve("overtaken", &earlier));
    assert_eq!(idempotency::release_abandoned(db, this).unwrap(), 1);
    let (posts_before, balance_before) = (count_posts(), app.balance());
    let refused = create("too late", &overtaken).unwrap_err();
    assert_eq!(refused.code.as_str(), "IDEMPOTENCY_KEY_IN_PROGRESS");
    assert_eq!(count_posts(), posts_before);
    assert_eq!(app.balance(), balance_before);
}

/// A database of version 1 gains the columns in place, and the reservations it holds, whose
/// outcome nobody recorded, are not released: that could post twice. They keep answering 409
/// until the retention window forgets them.
#[test]
fn idempotency_reservations_of_a_version_1_database_are_kept_until_they_expire() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    let at = "2026-03-21T08:00:00.000Z";
    {
        let v1 = rusqlite::Connection::open(&path).unwrap();
        v1.execute_batch(include_str!("../../schema.sql")).unwrap();
        v1.execute_batch(&format!(
            "PRAGMA user_version = 1;
             INSERT INTO organizations (id, name, created_at, updated_at) VALUES ('o', 'Org', '{at}', '{at}');
             INSERT INTO apps (id, org_id, name, created_at, updated_at) VALUES ('a', 'o', 'App', '{at}', '{at}');
             INSERT INTO idempotency_keys (app_id, key, request_hash, created_at) VALUES ('a', 'cut-off', 'hash', '{at}');"
        ))
        .unwrap();
    }
    let db = Db::open(&path, 2).unwrap();
    let this = InstanceId::generate();
    assert_eq!(idempotency::release_abandoned(&db, &this).unwrap(), 0);
    let now = mypostshare::clock::parse_timestamp(at).unwrap() + chrono::Duration::hours(1);
    let ttl = chrono::Duration::hours(24);
    let kept = idempotency::reserve(&db, "a", "cut-off", "hash", &this, ttl, now).unwrap_err();
    assert_eq!(kept.code.as_str(), "IDEMPOTENCY_KEY_IN_PROGRESS");
    let later = now + ttl;
    assert!(matches!(
        idempotency::reserve(&db, "a", "cut-off", "hash", &this, ttl, later).unwrap(),
        Reservation::Fresh(_)
    ));
}
