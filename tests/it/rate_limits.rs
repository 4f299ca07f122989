//! Rate limits: each API key's general and publishing budgets (token buckets) with the
//! `X-RateLimit-*` headers on every answer and 429 `RATE_LIMITED` with `Retry-After` beyond
//! them; an app's own budgets set in the dashboard and the CLI; failed authentications limited
//! per client address, the address read behind a trusted proxy from `X-Forwarded-For`.
//!
//! Each test freezes the clock, so a bucket refills only when the test moves time forward:
//! the counts below are exact, and no assertion depends on how fast the machine is.

use crate::dash;
use crate::support::{Reply, Setup, TestApp, send};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::Command;

fn frozen(setup: Setup) -> TestApp {
    let app = TestApp::start_with(setup);
    app.clock.freeze();
    app
}

fn millis(n: i64) -> chrono::Duration {
    chrono::Duration::milliseconds(n)
}

/// The four rate-limit headers of a reply, as numbers (and the resource).
fn limits(reply: &Reply) -> (u64, u64, u64, String) {
    let number = |name: &str| {
        reply
            .header(name)
            .unwrap_or_else(|| panic!("no {name}: {:?}", reply.headers))
            .parse::<u64>()
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    (
        number("X-RateLimit-Limit"),
        number("X-RateLimit-Remaining"),
        number("X-RateLimit-Reset"),
        reply
            .header("X-RateLimit-Resource")
            .unwrap_or_default()
            .to_string(),
    )
}

fn retry_after(reply: &Reply) -> u64 {
    reply
        .header("Retry-After")
        .expect("a Retry-After header")
        .parse()
        .unwrap()
}

#[test]
fn a_key_past_its_burst_gets_429_with_retry_after_and_the_headers_count_down() {
    let app = frozen(Setup::default());
    // The defaults: 600 a minute (10 a second), bursts of 60.
    for n in 0..60u64 {
        let reply = app.get("/api/v1/posts?limit=1");
        assert_eq!(reply.status, 200, "request {n}: {}", reply.body);
        let (limit, remaining, reset, resource) = limits(&reply);
        assert_eq!((limit, remaining), (60, 59 - n), "request {n}");
        assert_eq!(resource, "general");
        // Seconds until the bucket is full again: one token per 0.1 s, rounded up.
        assert_eq!(reset, (n + 1).div_ceil(10), "request {n}");
        assert!(reply.header("Retry-After").is_none());
    }
    let refused = app.get("/api/v1/posts?limit=1");
    assert_eq!(refused.error_code(429), "RATE_LIMITED");
    assert_eq!(limits(&refused), (60, 0, 6, "general".into()));
    assert_eq!(
        retry_after(&refused),
        1,
        "0.1 s until the next token, rounded up"
    );
    let message = refused.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("600 requests a minute, 60 at once"),
        "{message}"
    );
    // The `/v1` prefix is the same API and the same bucket.
    assert_eq!(app.get("/v1/posts").error_code(429), "RATE_LIMITED");

    // A tenth of a second earns one request, and one only.
    app.clock.advance(millis(100));
    let allowed = app.get("/v1/posts");
    assert_eq!(allowed.status, 200);
    assert_eq!(limits(&allowed).1, 0);
    assert_eq!(app.get("/v1/posts").status, 429);
    // Six seconds fill the bucket again.
    app.clock.advance(millis(6_000));
    assert_eq!(limits(&app.get("/v1/posts")), (60, 59, 1, "general".into()));

    // Other keys, of this app and of another, have buckets of their own.
    let (other_app, other_key) = app.second_tenant();
    let (_, second_key) = mypostshare::services::keys::create(
        &app.running.state.db,
        "test",
        &app.app_id,
        "second key",
        app.clock_now(),
    )
    .unwrap();
    for key in [&other_key, &second_key] {
        let reply = app.call_as(key, "GET", "/api/v1/posts", None);
        assert_eq!(limits(&reply).1, 59, "{other_app}");
    }

    // Refusals are logged once per run of them, not once per attempt.
    let state = &app.running.state;
    let logged_429s = state
        .db
        .read(|c| {
            mypostshare::services::reports::requests(
                c,
                &mypostshare::services::reports::RequestQuery {
                    status: Some("429".into()),
                    ..Default::default()
                },
                0,
                100,
            )
        })
        .unwrap()
        .rows;
    assert_eq!(logged_429s.len(), 2, "two runs of refusals above");
    assert!(
        logged_429s
            .iter()
            .all(|r| r.client_ip.as_deref() == Some("127.0.0.1"))
    );
}

#[test]
fn publishing_has_its_own_budget_apart_from_the_general_one() {
    let app = frozen(Setup::default());
    app.upsert_user("u1");
    // The defaults: 60 a minute (one a second), bursts of 10. A refused body still counts:
    // the limit applies before anything is read.
    for n in 0..10u64 {
        let reply = app.post("/api/v1/posts", json!({}));
        assert_eq!(reply.error_code(400), "VALIDATION_FAILED");
        let (limit, remaining, _, resource) = limits(&reply);
        assert_eq!(
            (limit, remaining, resource.as_str()),
            (10, 9 - n, "publishing")
        );
    }
    let refused = app.post("/api/v1/posts", json!({}));
    assert_eq!(refused.error_code(429), "RATE_LIMITED");
    assert_eq!(limits(&refused), (10, 0, 10, "publishing".into()));
    assert_eq!(retry_after(&refused), 1);
    assert!(
        refused.json()["message"]
            .as_str()
            .unwrap()
            .contains("publishing (POST /v1/posts, /v1/posts/scheduled and /v1/posts/{id}/retry, DELETE /v1/posts/{id}) budget allows 60 requests a minute, 10 at once")
    );
    let schedule_at = (app.clock_now() + chrono::Duration::hours(1)).to_rfc3339();
    let scheduled = json!({"externalUserId": "u1", "content": "later", "platforms": ["linkedin"], "scheduleAt": schedule_at});
    assert_eq!(
        app.post("/api/v1/posts/scheduled", scheduled.clone())
            .error_code(429),
        "RATE_LIMITED",
        "both publishing endpoints share the budget"
    );
    // The general budget is untouched: only the one upsert above came out of it.
    let read = app.get("/api/v1/posts");
    assert_eq!(read.status, 200);
    assert_eq!(limits(&read), (60, 58, 1, "general".into()));
    // A second later there is room for one publishing request.
    app.clock.advance(millis(1_000));
    app.connect_linkedin("u1", "Alex Morgan");
    let created = app.post("/api/v1/posts/scheduled", scheduled);
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(limits(&created).3, "publishing");
    // And the general budget never was a publishing one: these are not refused.
    for _ in 0..20 {
        assert_eq!(app.get("/api/v1/posts?limit=1").status, 200);
    }
}

#[test]
fn an_apps_own_limits_from_the_dashboard_apply_to_its_next_request() {
    let app = frozen(Setup::default());
    dash::create_operator(&app);
    let op = dash::sign_in(&app);
    let page_path = format!("/dashboard/apps/{}", app.app_id);
    let page = op.page(&page_path);
    assert!(
        page.contains("id=\"limits\""),
        "the app page has the section"
    );
    assert!(
        page.contains("placeholder=\"600\"") && page.contains("placeholder=\"10\""),
        "empty fields fall back to the instance's setting, shown as placeholders"
    );
    let path = format!("{page_path}/limits");
    let fields = |rate: &'static str, burst: &'static str| {
        [
            ("requests_per_minute", rate),
            ("burst", burst),
            ("publish_requests_per_minute", ""),
            ("publish_burst", ""),
        ]
    };
    // Rules, shown beside the field; nothing is stored.
    let refused = op.post(&path, &fields("60", "0"));
    assert_eq!(refused.status, 400);
    assert!(
        refused
            .body
            .contains("A burst must be 1 to 100000 requests")
    );
    let refused = op.post(&path, &fields("lots", "3"));
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("Enter a whole number"));
    assert!(refused.body.contains("value=\"lots\""), "the input is kept");
    // Without the page's CSRF token nothing changes either.
    let forged = op.post_raw(&path, &fields("60", "3"), None, Some(&app.base));
    assert_eq!(forged.status, 403);
    assert_eq!(limits(&app.get("/api/v1/posts")).0, 60);

    let saved = op.post(&path, &fields("60", "3"));
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert!(
        saved
            .header("location")
            .unwrap()
            .ends_with("ok=limits-saved#limits")
    );
    // The bucket shrinks to its new size at once: one of the 59 tokens left fits.
    let first = app.get("/api/v1/posts");
    assert_eq!(limits(&first), (3, 2, 1, "general".into()));
    assert_eq!(app.get("/api/v1/posts").status, 200);
    assert_eq!(app.get("/api/v1/posts").status, 200);
    let refused = app.get("/api/v1/posts");
    assert_eq!(refused.error_code(429), "RATE_LIMITED");
    assert_eq!(retry_after(&refused), 1, "60 a minute: a token a second");
    assert!(
        refused.json()["message"]
            .as_str()
            .unwrap()
            .contains("60 requests a minute, 3 at once")
    );
    // Another app keeps the instance's budget.
    let (_, other_key) = app.second_tenant();
    assert_eq!(
        limits(&app.call_as(&other_key, "GET", "/api/v1/posts", None)).0,
        60
    );
    // The page says where each number comes from, and the audit log has the change.
    let page = op.page(&page_path);
    assert!(
        page.contains("this app") && page.contains("value=\"3\""),
        "own numbers shown"
    );
    let audit = op.page("/dashboard/logs/audit?action=app.rate_limits.update");
    assert!(audit.contains(dash::EMAIL) && audit.contains("app.rate_limits.update"));

    // Empty fields go back to the instance's settings.
    assert_eq!(op.post(&path, &fields("", "")).status, 303);
    app.clock.advance(chrono::Duration::seconds(60));
    assert_eq!(limits(&app.get("/api/v1/posts")).0, 60);
}

/// The CLI on the database of a running server: the server applies the change to the app's
/// next request, since it reads the app's limits with the key.
#[test]
fn an_apps_own_limits_from_the_command_line_apply_to_a_running_server() {
    let app = frozen(Setup::default());
    let db = app.dir.path().join("test.db");
    let cli = |args: &[&str]| -> Value {
        let output = Command::new(env!("CARGO_BIN_EXE_mypostshare"))
            .arg("--db")
            .arg(&db)
            .arg("--json")
            .args(["app", "limits", "--app", &app.app_id])
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let shown = cli(&[]);
    assert_eq!(
        shown,
        json!({"appId": app.app_id, "requestsPerMinute": null, "burst": null, "publishRequestsPerMinute": null, "publishBurst": null})
    );
    let set = cli(&["--publish-requests-per-minute", "6", "--publish-burst", "2"]);
    assert_eq!(set["publishRequestsPerMinute"], 6);
    assert_eq!(set["publishBurst"], 2);
    assert_eq!(set["burst"], Value::Null);
    for remaining in [1, 0] {
        let reply = app.post("/api/v1/posts", json!({}));
        assert_eq!(
            limits(&reply),
            (2, remaining, 20 - 10 * remaining, "publishing".into())
        );
    }
    let refused = app.post("/api/v1/posts", json!({}));
    assert_eq!(refused.error_code(429), "RATE_LIMITED");
    assert_eq!(retry_after(&refused), 10, "6 a minute: a token every 10 s");
    // A rate of 0 turns the limit off: no bucket, no headers.
    cli(&["--publish-requests-per-minute", "0"]);
    let unlimited = app.post("/api/v1/posts", json!({}));
    assert_eq!(unlimited.status, 400);
    assert_eq!(unlimited.header("X-RateLimit-Limit"), None);
    // `default` gives a number back to the instance; the app then has no row at all.
    let reset = cli(&[
        "--publish-requests-per-minute",
        "default",
        "--publish-burst",
        "default",
    ]);
    assert_eq!(reset["publishBurst"], Value::Null);
    assert_eq!(limits(&app.post("/api/v1/posts", json!({}))).0, 10);
    // A wrong value is refused with the rule, and nothing changes.
    let output = Command::new(env!("CARGO_BIN_EXE_mypostshare"))
        .arg("--db")
        .arg(&db)
        .args(["app", "limits", "--app", &app.app_id, "--burst", "0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("A burst must be 1 to 100000"));
    let audit = app
        .running
        .state
        .db
        .read(|c| {
            mypostshare::services::reports::audit(
                c,
                &mypostshare::services::reports::AuditQuery {
                    action: Some("app.rate_limits.update".into()),
                    ..Default::default()
                },
                0,
                10,
            )
        })
        .unwrap()
        .rows;
    assert_eq!(
        audit.len(),
        3,
        "three changes; showing the limits wrote nothing"
    );
    assert!(audit.iter().all(|e| e.actor == "cli"));
}

/// An HTTP/1.1 exchange from a chosen local address (127.0.0.2 is another client to the
/// server, since all of 127/8 is loopback).
fn send_from(local: &str, base: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let to: SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let local: SocketAddr = format!("{local}:0").parse().unwrap();
    socket.bind(&local.into()).unwrap();
    socket.connect(&to.into()).unwrap();
    let mut stream: std::net::TcpStream = socket.into();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {to}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").expect("a whole answer");
    let mut lines = head.lines();
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    Reply {
        status,
        body: body.to_string(),
        headers,
    }
}

#[test]
fn bad_keys_from_one_address_are_limited_while_another_address_still_authenticates() {
    let app = frozen(Setup::default());
    let good = format!("Bearer {}", app.key);
    let bad = format!("Bearer mps_live_{}", "x".repeat(40));
    let from = |local: &str, auth: &str, extra: &[(&str, &str)]| {
        let mut headers = vec![("Authorization", auth)];
        headers.extend_from_slice(extra);
        send_from(local, &app.base, "/api/v1/posts?limit=1", &headers)
    };
    // The default: 30 failed authentications a minute per address, all 30 at once.
    for n in 0..30u64 {
        let reply = from("127.0.0.1", &bad, &[]);
        assert_eq!(reply.error_code(401), "UNAUTHORIZED");
        let (limit, remaining, _, resource) = limits(&reply);
        assert_eq!(
            (limit, remaining, resource.as_str()),
            (30, 29 - n, "failed-auth")
        );
    }
    // Then every request from that address is refused without its key being checked, the
    // right key included, and a forwarded address from a peer that is no trusted proxy
    // changes nothing.
    for auth in [&bad, &good] {
        let refused = from("127.0.0.1", auth, &[("X-Forwarded-For", "203.0.113.9")]);
        assert_eq!(refused.error_code(429), "RATE_LIMITED");
        assert_eq!(limits(&refused), (30, 0, 60, "failed-auth".into()));
        assert_eq!(retry_after(&refused), 2, "30 a minute: one every 2 s");
        assert!(
            refused.json()["message"]
                .as_str()
                .unwrap()
                .contains("key was not checked")
        );
    }
    let missing = send_from("127.0.0.1", &app.base, "/api/v1/posts", &[]);
    assert_eq!(missing.error_code(429), "RATE_LIMITED");
    // Another address authenticates as usual, on the key's own budget.
    let other = from("127.0.0.2", &good, &[]);
    assert_eq!(other.status, 200, "{}", other.body);
    assert_eq!(limits(&other).3, "general");
    assert_eq!(from("127.0.0.2", &bad, &[]).status, 401);
    // Two seconds earn the first address one more try.
    app.clock.advance(millis(2_000));
    assert_eq!(from("127.0.0.1", &good, &[]).status, 200);
    assert_eq!(from("127.0.0.1", &bad, &[]).status, 401);
    assert_eq!(from("127.0.0.1", &good, &[]).status, 429);
}

#[test]
fn behind_a_trusted_proxy_the_forwarded_client_address_is_limited_and_logged() {
    let app = frozen(Setup {
        configure: |config| {
            config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
            config.failed_auth_per_minute = 5;
        },
        ..Setup::default()
    });
    let good = format!("Bearer {}", app.key);
    let bad = format!("Bearer mps_live_{}", "y".repeat(40));
    let via_proxy = |auth: &str, forwarded_for: &str| {
        send_from(
            "127.0.0.1",
            &app.base,
            "/api/v1/posts?limit=1",
            &[("Authorization", auth), ("X-Forwarded-For", forwarded_for)],
        )
    };
    for _ in 0..5 {
        assert_eq!(via_proxy(&bad, "203.0.113.7").status, 401);
    }
    assert_eq!(
        via_proxy(&good, "203.0.113.7").error_code(429),
        "RATE_LIMITED"
    );
    // What the client itself put left of the proxy's entry does not count.
    assert_eq!(
        via_proxy(&good, "203.0.113.8, 203.0.113.7").status,
        429,
        "the right-most untrusted address is the client"
    );
    // Another client behind the same proxy is served.
    assert_eq!(via_proxy(&good, "203.0.113.8").status, 200);
    assert_eq!(via_proxy(&good, "198.51.100.1, 203.0.113.8").status, 200);
    // The request log names the clients, not the proxy.
    let rows = app
        .running
        .state
        .db
        .read(|c| {
            mypostshare::services::reports::requests(
                c,
                &mypostshare::services::reports::RequestQuery::default(),
                0,
                100,
            )
        })
        .unwrap()
        .rows;
    let from = |ip: &str| {
        rows.iter()
            .filter(|r| r.client_ip.as_deref() == Some(ip))
            .count()
    };
    assert_eq!(
        from("203.0.113.7"),
        6,
        "five 401s and the first 429 of the run"
    );
    assert_eq!(from("203.0.113.8"), 2);
    assert_eq!(from("127.0.0.1"), 0);

    // The dashboard's log shows and filters them.
    dash::create_operator(&app);
    let op = dash::sign_in(&app);
    let page = op.page("/dashboard/logs/requests?ip=203.0.113.8");
    assert!(page.contains("<code>203.0.113.8</code>"));
    assert!(!page.contains("<code>203.0.113.7</code>"));
}

/// The dashboard's sign-in throttle counts per forwarded client behind a trusted proxy too:
/// one client's typos do not lock out the others, who all come through the proxy.
#[test]
fn the_sign_in_throttle_counts_the_forwarded_client_behind_a_trusted_proxy() {
    let app = frozen(Setup {
        configure: |config| config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()],
        ..Setup::default()
    });
    dash::create_operator(&app);
    let sign_in = |forwarded_for: &str, email: &str, password: &str| {
        let xff = [("X-Forwarded-For", forwarded_for)];
        let page = send(
            "GET",
            &format!("{}/dashboard/sign-in", app.base),
            &xff,
            None,
        );
        let pre = dash::set_cookie(&page, "mps_signin").unwrap();
        let body = mypostshare::http::encode_query(&[
            ("csrf", &dash::csrf_of(&page.body)),
            ("email", email),
            ("password", password),
            ("next", "/dashboard"),
        ]);
        send(
            "POST",
            &format!("{}/dashboard/sign-in", app.base),
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Cookie", &format!("mps_signin={pre}")),
                ("Origin", &app.base),
                ("X-Forwarded-For", forwarded_for),
            ],
            Some(&body),
        )
        .status
    };
    // Five failures from one client, each for another email (so only the address counts).
    for n in 0..5 {
        assert_eq!(
            sign_in(
                "203.0.113.7",
                &format!("nobody{n}@example.com"),
                "wrong password!"
            ),
            401
        );
    }
    assert_eq!(
        sign_in("203.0.113.7", dash::EMAIL, dash::PASSWORD),
        429,
        "that client is throttled"
    );
    assert_eq!(
        sign_in("203.0.113.8", dash::EMAIL, dash::PASSWORD),
        303,
        "another client behind the same proxy signs in"
    );
}

/// The seed's clients at the pace of a busy backend: ten reads a second and a post a second,
/// sustained for half a minute of (frozen, advanced) time, never see a 429; every answer
/// carries the headers.
#[test]
fn clients_at_normal_rates_are_never_limited() {
    let app = frozen(Setup::default());
    app.upsert_user("u1");
    app.connect_linkedin("u1", "Alex Morgan");
    for second in 0..30 {
        let schedule_at = (app.clock_now() + chrono::Duration::hours(1)).to_rfc3339();
        let post = app.post(
            "/api/v1/posts/scheduled",
            json!({"externalUserId": "u1", "content": format!("post {second}"), "platforms": ["linkedin"], "scheduleAt": schedule_at}),
        );
        assert_eq!(post.status, 201, "second {second}: {}", post.body);
        assert_eq!(limits(&post).3, "publishing");
        let id = post.json()["id"].as_str().unwrap().to_string();
        for tenth in 0..10 {
            let path = match tenth % 3 {
                0 => format!("/api/v1/posts/{id}"),
                1 => "/api/v1/end-users/u1/connections".to_string(),
                _ => "/api/v1/posts?limit=5".to_string(),
            };
            let reply = app.get(&path);
            assert_eq!(reply.status, 200, "second {second}: {path}: {}", reply.body);
            assert_eq!(limits(&reply).3, "general");
            app.clock.advance(millis(100));
        }
    }
}
