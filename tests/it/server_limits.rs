//! The HTTP server's limits and manners: body and header size, stalled clients, request ids,
//! health endpoints, panics, and unknown routes.

use crate::support::{TestApp, send};
use mypostshare::http::server::{ServerOptions, serve};
use mypostshare::http::{Request, Response};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn oversized_bodies_and_headers_get_413_and_431_in_the_error_shape() {
    let app = TestApp::start();
    let big = format!(
        r#"{{"externalUserId":"u1","metadata":{{"pad":"{}"}}}}"#,
        "x".repeat(1024 * 1024 + 10)
    );
    let r = send(
        "POST",
        &format!("{}/api/v1/end-users", app.base),
        &[
            ("Authorization", &format!("Bearer {}", app.key)),
            ("Content-Type", "application/json"),
        ],
        Some(&big),
    );
    assert_eq!(r.error_code(413), "PAYLOAD_TOO_LARGE");
    let huge_header = "h".repeat(20 * 1024);
    let r = send(
        "GET",
        &format!("{}/healthz", app.base),
        &[("X-Padding", &huge_header)],
        None,
    );
    assert_eq!(r.error_code(431), "HEADERS_TOO_LARGE");
    assert_eq!(
        send("GET", &format!("{}/healthz", app.base), &[], None).status,
        200,
        "the server lives on"
    );
}

#[test]
fn request_ids_are_echoed_when_valid_and_made_up_otherwise() {
    let app = TestApp::start();
    let r = send(
        "GET",
        &format!("{}/healthz", app.base),
        &[("X-Request-Id", "abc-123.def")],
        None,
    );
    assert_eq!(r.header("x-request-id"), Some("abc-123.def"));
    let r = send(
        "GET",
        &format!("{}/healthz", app.base),
        &[("X-Request-Id", "bad id with spaces")],
        None,
    );
    let made = r.header("x-request-id").unwrap();
    assert_ne!(made, "bad id with spaces");
    assert_eq!(made.len(), 36);
    // every API request is logged with its id, never with the key
    let r = send(
        "GET",
        &format!("{}/api/v1/posts", app.base),
        &[
            ("Authorization", &format!("Bearer {}", app.key)),
            ("X-Request-Id", "trace-me-1"),
        ],
        None,
    );
    assert_eq!(r.status, 200);
    let (path, status, prefix): (String, i64, String) = app
        .running
        .state
        .db
        .read(|c| Ok(c.query_row("SELECT path, status, key_prefix FROM api_request_log WHERE request_id = 'trace-me-1'", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?))
        .unwrap();
    assert_eq!((path.as_str(), status), ("/api/v1/posts", 200));
    assert!(app.key.starts_with(&prefix) && prefix.len() < app.key.len());
}

#[test]
fn health_and_readiness_answer_json() {
    let app = TestApp::start();
    let health = send("GET", &format!("{}/healthz", app.base), &[], None);
    assert_eq!(health.json()["status"], "ok");
    let ready = send("GET", &format!("{}/readyz", app.base), &[], None);
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json()["status"], "ready");
    let missing = send("GET", &format!("{}/no/such/page", app.base), &[], None);
    assert_eq!(missing.error_code(404), "NOT_FOUND");
}

fn options(io_timeout: Duration) -> ServerOptions {
    ServerOptions {
        threads: 2,
        max_body_bytes: 1024,
        max_header_bytes: 4096,
        io_timeout,
        access_log: false,
        ..ServerOptions::new("test")
    }
}

#[test]
fn a_panicking_handler_answers_500_and_the_worker_lives_on() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let handle = serve(
        listener,
        options(Duration::from_secs(5)),
        Arc::new(|req: &Request| {
            if req.path == "/panic" {
                panic!("boom");
            }
            Response::json(200, &serde_json::json!({"ok": true}))
        }),
    )
    .unwrap();
    let base = format!("http://{}", handle.addr());
    for _ in 0..5 {
        let r = send("GET", &format!("{base}/panic"), &[], None);
        assert_eq!(r.error_code(500), "INTERNAL_ERROR");
        assert!(!r.body.contains("boom"), "the cause is logged, not sent");
    }
    assert_eq!(
        send("GET", &format!("{base}/fine"), &[], None).status,
        200,
        "both workers survived five panics"
    );
    handle.shutdown();
}

#[test]
fn a_stalled_client_is_dropped_after_the_timeout_and_holds_no_worker() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let handle = serve(
        listener,
        options(Duration::from_millis(500)),
        Arc::new(|_: &Request| Response::json(200, &serde_json::json!({"ok": true}))),
    )
    .unwrap();
    let addr = handle.addr();
    // more stalled clients than workers, each sending half a request
    let mut stalled: Vec<TcpStream> = (0..6)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nhalf")
                .unwrap();
            s
        })
        .collect();
    // A well-behaved client is still served: with two workers and six stalled clients, that
    // happens only if each stalled client lets its worker go at the timeout.
    assert_eq!(
        send("GET", &format!("http://{addr}/ok"), &[], None).status,
        200
    );
    // And the server closes each stalled connection (with a 4xx if it still gets to answer):
    // the read reaches end of stream; a generous limit guards against a server that never does.
    for s in &mut stalled {
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf)
            .expect("the server closes a stalled connection");
        let text = String::from_utf8_lossy(&buf);
        assert!(
            buf.is_empty() || text.starts_with("HTTP/1.1 4"),
            "unexpected answer to a stalled request: {text}"
        );
    }
    handle.shutdown();
}

#[test]
fn shutdown_lets_the_request_in_flight_finish() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let handle = serve(
        listener,
        options(Duration::from_secs(5)),
        Arc::new(|_: &Request| {
            std::thread::sleep(Duration::from_millis(400));
            Response::json(200, &serde_json::json!({"finished": true}))
        }),
    )
    .unwrap();
    let url = format!("http://{}/slow", handle.addr());
    let client = std::thread::spawn(move || send("GET", &url, &[], None));
    std::thread::sleep(Duration::from_millis(100));
    handle.shutdown();
    let reply = client.join().unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["finished"], true);
}

/// Descriptor exhaustion: the real binary runs with a low open-file limit and clients hold
/// more connections than it may have files open (EMFILE on accept). The accept loop goes on,
/// closes idle connections to free descriptors, and answers a well-behaved client while the
/// hogs are still connected; its accept thread never panics.
#[test]
fn running_out_of_file_descriptors_does_not_leave_the_server_deaf() {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let command = format!(
        "ulimit -n 64 && exec {} --db {} serve --addr 127.0.0.1:{port} --workers 2 --delivery-workers 1",
        env!("CARGO_BIN_EXE_mypostshare"),
        dir.path().join("fd.db").display()
    );
    let mut child = std::process::Command::new("bash")
        .args(["-c", &command])
        .env(
            "MYPOSTSHARE_SECRET_KEY",
            "fd exhaustion test secret key material",
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/healthz");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "serve did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(send("GET", &url, &[], None).status, 200);
    // Hold far more connections than the process may have files open, and keep holding them.
    let hogs: Vec<TcpStream> = (0..120)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let mut answered = None;
    for _ in 0..20 {
        if agent_get(&url) {
            answered = Some(started.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(hogs);
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let mut log = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut log);
    let answered = answered
        .unwrap_or_else(|| panic!("the server stayed deaf while the hogs held on; log:\n{log}"));
    eprintln!("answered {answered:?} after the descriptors ran out");
    assert!(
        log.contains("accept failed") && log.contains("Too many open files"),
        "the accept error was hit, counted and logged; log:\n{log}"
    );
    assert!(!log.contains("panicked"), "no thread panicked; log:\n{log}");
}

fn agent_get(url: &str) -> bool {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(2))
        .build()
        .get(url)
        .call()
        .is_ok_and(|r| r.status() == 200)
}

#[test]
fn the_request_log_is_pruned_after_its_retention() {
    let app = TestApp::start();
    assert_eq!(app.get("/api/v1/posts").status, 200);
    let count = |app: &TestApp| {
        mypostshare::services::request_log::count_for_app(&app.running.state.db, &app.app_id)
            .unwrap()
    };
    assert_eq!(count(&app), 1);
    assert_eq!(
        app.run_job("prune_request_log"),
        "0 request-log rows pruned"
    );
    app.clock.advance(chrono::Duration::days(31));
    assert_eq!(
        app.run_job("prune_request_log"),
        "1 request-log rows pruned"
    );
    assert_eq!(count(&app), 0);
}

/// The system refuses a thread for a new connection (its thread limit): that connection is
/// answered 503 `SERVER_BUSY` in the error shape, not closed silently, the refusal is logged,
/// and the server serves again once threads are free. The real binary runs as an unprivileged
/// user (root is exempt from the limit) with `RLIMIT_NPROC` just above what it starts with.
#[test]
fn a_connection_the_system_refuses_a_thread_for_is_answered_503() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let binary = env!("CARGO_BIN_EXE_mypostshare");
    let db = dir.path().join("threads.db");
    // `nobody` may not own a single process elsewhere on a test machine; the limit counts the
    // user's threads across the system, so it is set from the count at start-up below.
    let start = |limit: u32| {
        let command = format!(
            "exec setpriv --reuid=65534 --regid=65534 --clear-groups prlimit --nproc={limit} {binary} --db {} serve --addr 127.0.0.1:{port} --workers 2 --delivery-workers 1",
            db.display()
        );
        std::process::Command::new("bash")
            .args(["-c", &command])
            .env(
                "MYPOSTSHARE_SECRET_KEY",
                "thread limit test secret key material",
            )
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let wait_up = |child: &mut std::process::Child| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                child.try_wait().unwrap().is_none(),
                "serve exited at start-up"
            );
            assert!(Instant::now() < deadline, "serve did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        // The probe connection's thread ends with it.
        std::thread::sleep(Duration::from_millis(300));
    };
    let stop = |mut child: std::process::Child| {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = child.wait();
        let mut log = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut log);
        log
    };
    let threads_of = |pid: u32| -> u32 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    // A first run without a tight limit counts the threads the server starts with.
    let mut child = start(4096);
    wait_up(&mut child);
    let started_with = threads_of(child.id());
    stop(child);
    // Room for the threads it starts with and three connections.
    let mut child = start(started_with + 3);
    wait_up(&mut child);
    let url = format!("http://127.0.0.1:{port}/healthz");
    let held: Vec<TcpStream> = (0..12)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let mut refusals = Vec::new();
    for mut stream in &held {
        stream.set_nonblocking(true).unwrap();
        let mut buffer = [0u8; 4096];
        if let Ok(n) = stream.read(&mut buffer)
            && n > 0
        {
            refusals.push(String::from_utf8_lossy(&buffer[..n]).to_string());
        }
    }
    drop(held);
    // The held connections' threads end as their clients close; a busy machine may take a
    // moment to reap them, and until then a new connection may meet the limit again.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut after = false;
    while !after && Instant::now() < deadline {
        after = agent_get(&url);
        if !after {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let log = stop(child);
    assert!(
        !refusals.is_empty(),
        "some of 12 connections met the thread limit of {} threads; log:\n{log}",
        started_with + 3
    );
    for answer in &refusals {
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(answer.contains("\"code\":\"SERVER_BUSY\""), "{answer}");
        assert!(answer.contains("thread limit"), "{answer}");
    }
    assert!(
        after,
        "served again once the connections closed; log:\n{log}"
    );
    assert!(
        log.contains("accept failed"),
        "the refused thread was logged; log:\n{log}"
    );
    assert!(!log.contains("panicked"), "no thread panicked; log:\n{log}");
}
