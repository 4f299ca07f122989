//! `GET /metrics` and the logs: the exposition is parsed as Prometheus reads it and its
//! counters are checked to move with requests, publishes, deliveries and token refreshes; who
//! may scrape it; and the real binary's `--log-format json` lines carry their fields and none of
//! the secrets the requests held.

use crate::support::{
    ChildServer, REDIRECT, Setup, TestApp, bootstrap_with_cli, decide_at, open_consent_page_at,
    query_value, send,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// One sample of the text exposition: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The text exposition format (0.0.4) as Prometheus reads it: `# HELP`/`# TYPE` lines, then
/// `name{label="value",...} number` samples. Panics on a line that is neither.
fn parse_exposition(text: &str) -> (Vec<Sample>, BTreeMap<String, String>) {
    let mut samples = Vec::new();
    let mut types = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            types.insert(name.to_string(), kind.to_string());
            continue;
        }
        if line.starts_with("# HELP ") || line.starts_with("# EOF") {
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment line {line:?}");
        let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number in {line:?}"));
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("labels end with }");
                (name.to_string(), parse_labels(body))
            }
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "metric name {name:?}"
        );
        samples.push(Sample {
            name,
            labels,
            value,
        });
    }
    (samples, types)
}

fn parse_labels(body: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").expect("label=\"value\"");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            let (i, c) = chars.next().expect("a label value ends with a quote");
            match c {
                '\\' => {
                    let (_, escaped) = chars.next().unwrap();
                    value.push(if escaped == 'n' { '\n' } else { escaped });
                }
                '"' => break i,
                c => value.push(c),
            }
        };
        labels.insert(name.to_string(), value);
        rest = after[end + 1..].trim_start_matches(',');
    }
    labels
}

struct Scrape {
    samples: Vec<Sample>,
    types: BTreeMap<String, String>,
}

impl Scrape {
    /// The value of the series `name` whose labels include `labels`, summed over the rest (0
    /// when there is none yet).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .sum()
    }

    fn series(&self, name: &str) -> impl Iterator<Item = &Sample> {
        self.samples.iter().filter(move |s| s.name == name)
    }
}

fn scrape(base: &str, headers: &[(&str, &str)]) -> Scrape {
    let reply = send("GET", &format!("{base}/metrics"), headers, None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let (samples, types) = parse_exposition(&reply.body);
    Scrape { samples, types }
}

const REQUESTS: &str = "mypostshare_http_requests_total";
const DELIVERIES: &str = "mypostshare_deliveries_total";

#[test]
fn metrics_answer_in_the_text_format_and_move_with_requests_publishes_and_deliveries() {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect_linkedin("u1", "Alex Morgan");
    let before = scrape(&app.base, &[]);
    for (name, kind) in [
        (REQUESTS, "counter"),
        ("mypostshare_http_request_duration_seconds", "histogram"),
        ("mypostshare_deliveries_total", "counter"),
        ("mypostshare_token_refreshes_total", "counter"),
        ("mypostshare_schedule_lateness_seconds", "histogram"),
        ("mypostshare_delivery_queue", "gauge"),
        ("mypostshare_database_size_bytes", "gauge"),
        ("mypostshare_build_info", "gauge"),
    ] {
        assert_eq!(
            before.types.get(name).map(String::as_str),
            Some(kind),
            "{name}"
        );
    }
    assert_eq!(
        before.value(
            "mypostshare_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    assert!(before.value("mypostshare_database_size_bytes", &[("file", "db")]) > 0.0);
    assert_eq!(
        before
            .series("mypostshare_database_size_bytes")
            .filter(|s| s.labels.get("file").is_some_and(|f| f == "wal"))
            .count(),
        1
    );

    // A publish: the request by its template, its latency, one published delivery.
    let published = app.publish("u1", "Counted by the metrics.");
    assert_eq!(published.status, 201, "{}", published.body);
    let id = published.json()["id"].as_str().unwrap().to_string();
    assert_eq!(published.json()["status"], "published");
    let read = app.get(&format!("/api/v1/posts/{id}"));
    assert_eq!(read.status, 200);
    let missing = app.get("/v1/posts/no-such-post");
    assert_eq!(missing.status, 404);
    let after = scrape(&app.base, &[]);
    let grew = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    let publish = [
        ("route", "/v1/posts"),
        ("method", "POST"),
        ("status", "201"),
    ];
    assert!(grew(REQUESTS, &publish) >= 1.0);
    assert!(
        grew(
            REQUESTS,
            &[
                ("route", "/v1/posts/{id}"),
                ("method", "GET"),
                ("status", "200")
            ]
        ) >= 1.0
    );
    assert!(
        grew(
            REQUESTS,
            &[
                ("route", "/v1/posts/{id}"),
                ("method", "GET"),
                ("status", "404")
            ]
        ) >= 1.0
    );
    assert!(
        grew(
            "mypostshare_http_request_duration_seconds_count",
            &[("route", "/v1/posts"), ("method", "POST")]
        ) >= 1.0
    );
    assert!(
        grew(
            DELIVERIES,
            &[("platform", "linkedin"), ("outcome", "published")]
        ) >= 1.0
    );
    // The request that fetched `before` is counted too: the scrape sees the scrapes.
    assert!(grew(REQUESTS, &[("route", "/metrics"), ("status", "200")]) >= 1.0);
    // Every request sample has exactly the three labels, and no raw id ever becomes one.
    for sample in after.series(REQUESTS) {
        let keys: Vec<&str> = sample.labels.keys().map(String::as_str).collect();
        assert_eq!(keys, ["method", "route", "status"], "{sample:?}");
        let route = &sample.labels["route"];
        assert!(
            !route.contains(&id) && !route.contains("no-such-post"),
            "{sample:?}"
        );
    }
    for sample in after.series(DELIVERIES) {
        let keys: Vec<&str> = sample.labels.keys().map(String::as_str).collect();
        assert_eq!(keys, ["outcome", "platform"], "{sample:?}");
    }
}

#[test]
fn metrics_show_the_queue_and_the_lateness_of_scheduled_posts() {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect_linkedin("u1", "Alex Morgan");
    let at = app.clock_now() + chrono::Duration::hours(2);
    let created = app.post(
        "/api/v1/posts/scheduled",
        json!({"externalUserId": "u1", "content": "Later.", "platforms": ["linkedin"], "scheduleAt": at.to_rfc3339()}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_str().unwrap().to_string();
    let waiting = scrape(&app.base, &[]);
    // The queue is this instance's own database, read when scraped: exact numbers.
    let queue =
        |s: &Scrape, state: &str| s.value("mypostshare_delivery_queue", &[("state", state)]);
    assert_eq!(queue(&waiting, "pending"), 1.0);
    assert_eq!(queue(&waiting, "due"), 0.0);
    assert_eq!(queue(&waiting, "processing"), 0.0);
    // Ten minutes late: the instance was down when the post fell due.
    app.clock
        .advance(chrono::Duration::hours(2) + chrono::Duration::minutes(10));
    let due = scrape(&app.base, &[]);
    assert_eq!(queue(&due, "due"), 1.0);
    assert_eq!(queue(&due, "pending"), 1.0);
    let lateness = "mypostshare_schedule_lateness_seconds";
    app.run_job("dispatch_due_deliveries");
    app.wait_for_post(&id, |p| p["status"] == "published");
    let done = scrape(&app.base, &[]);
    assert_eq!(queue(&done, "pending"), 0.0);
    assert!(
        done.value(&format!("{lateness}_count"), &[])
            - due.value(&format!("{lateness}_count"), &[])
            >= 1.0
    );
    // At least one observation fell above 300 s and at or below 900 s: this post's 600 s.
    let in_bucket = |s: &Scrape, le: &str| s.value(&format!("{lateness}_bucket"), &[("le", le)]);
    let grown = |le: &str| in_bucket(&done, le) - in_bucket(&due, le);
    assert!(
        grown("900") - grown("300") >= 1.0,
        "{:?}",
        done.series(&format!("{lateness}_bucket"))
            .collect::<Vec<_>>()
    );
}

#[test]
fn metrics_count_token_refreshes_and_webhook_deliveries() {
    let app = TestApp::start_with(Setup {
        sandbox_refresh_tokens: true,
        access_token_ttl: Some(chrono::Duration::hours(1)),
        ..Setup::default()
    });
    app.upsert_user("u1");
    app.connect_linkedin("u1", "Alex Morgan");
    let before = scrape(&app.base, &[]);
    app.clock.advance(chrono::Duration::hours(2));
    let post = app.publish("u1", "after a refresh").json();
    assert_eq!(post["status"], "published", "{post}");
    // The registry API the webhook sender calls.
    mypostshare::metrics::record_webhook_delivery("delivered");
    let after = scrape(&app.base, &[]);
    let refreshed = [("platform", "linkedin"), ("outcome", "refreshed")];
    let name = "mypostshare_token_refreshes_total";
    assert!(after.value(name, &refreshed) - before.value(name, &refreshed) >= 1.0);
    let webhooks = "mypostshare_webhook_deliveries_total";
    assert_eq!(
        after.types.get(webhooks).map(String::as_str),
        Some("counter")
    );
    assert!(
        after.value(webhooks, &[("outcome", "delivered")])
            - before.value(webhooks, &[("outcome", "delivered")])
            >= 1.0
    );
}

#[test]
fn metrics_without_a_token_answer_only_to_loopback_not_through_a_proxy() {
    let app = TestApp::start();
    // The test client is a loopback peer.
    scrape(&app.base, &[]);
    // A proxy on this host makes every client look like loopback: its header gives it away.
    for header in ["X-Forwarded-For", "Forwarded", "X-Real-IP"] {
        let proxied = send(
            "GET",
            &format!("{}/metrics", app.base),
            &[(header, "198.51.100.7")],
            None,
        );
        assert_eq!(proxied.error_code(403), "METRICS_FORBIDDEN", "{header}");
    }
    let posted = send("POST", &format!("{}/metrics", app.base), &[], Some(""));
    assert_eq!(posted.error_code(405), "METHOD_NOT_ALLOWED");
}

const METRICS_TOKEN: &str = "scrape-token-for-tests-0123456789";

#[test]
fn metrics_with_a_token_need_that_bearer_token_even_from_loopback() {
    let app = TestApp::start_with(Setup {
        configure: |config| {
            config.metrics_token = mypostshare::config::SecretText(METRICS_TOKEN.to_string());
        },
        ..Setup::default()
    });
    let url = format!("{}/metrics", app.base);
    let bare = send("GET", &url, &[], None);
    assert_eq!(bare.error_code(401), "UNAUTHORIZED");
    assert_eq!(bare.header("www-authenticate"), Some("Bearer"));
    let wrong = send(
        "GET",
        &url,
        &[("Authorization", "Bearer scrape-token")],
        None,
    );
    assert_eq!(wrong.error_code(401), "UNAUTHORIZED");
    // The API key is no metrics token either.
    let api_key = format!("Bearer {}", app.key);
    let with_api_key = send("GET", &url, &[("Authorization", &api_key)], None);
    assert_eq!(with_api_key.error_code(401), "UNAUTHORIZED");
    let bearer = format!("Bearer {METRICS_TOKEN}");
    // With the token, a proxied request is fine: that is how a remote Prometheus scrapes.
    let scraped = scrape(
        &app.base,
        &[
            ("Authorization", &bearer),
            ("X-Forwarded-For", "198.51.100.7"),
        ],
    );
    assert!(scraped.value("mypostshare_build_info", &[]) >= 1.0);
}

const KEY: &str = "observability test master key, 32+ characters";

#[test]
fn json_logs_carry_their_fields_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("logs.db");
    let (app_id, api_key) = bootstrap_with_cli(&db, Some(KEY));
    let server = ChildServer::start_with_flags(&db, KEY, &[], &["--log-format", "json"]);
    let base = server.base.clone();
    let auth = format!("Bearer {api_key}");
    let call = |method: &str, path: &str, body: Option<Value>| {
        send(
            method,
            &format!("{base}{path}"),
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.map(|b| b.to_string()).as_deref(),
        )
    };
    let user = call(
        "POST",
        "/api/v1/end-users",
        Some(json!({"externalUserId": "u1"})),
    );
    assert!(user.status == 200 || user.status == 201, "{}", user.body);
    let wrong_key = "mps_wrong_key_never_logged_0123456789";
    let refused = send(
        "GET",
        &format!("{base}/api/v1/posts"),
        &[("Authorization", &format!("Bearer {wrong_key}"))],
        None,
    );
    assert_eq!(refused.status, 401);

    // The hosted flow up to the platform's redirect to our callback, which carries a real
    // code and state; then the callback itself.
    let session = call(
        "POST",
        "/api/v1/connect-sessions",
        Some(json!({"externalUserId": "u1", "platform": "linkedin", "redirectUri": REDIRECT})),
    );
    assert_eq!(session.status, 201, "{}", session.body);
    let connect_url = session.json()["connectUrl"].as_str().unwrap().to_string();
    let session_id = connect_url.rsplit('/').next().unwrap().to_string();
    let form = open_consent_page_at(&base, &connect_url);
    let callback = decide_at(&base, &form, "allow", "Alex Morgan");
    let code = query_value(&callback, "code").expect("a code");
    let state = query_value(&callback, "state").expect("a state");
    let done = send("GET", &callback, &[], None);
    assert_eq!(done.status, 302, "{}", done.body);
    // A request the server refuses itself, with a code in its query string.
    let refused_code = "refusedcode0123456789";
    {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(base.trim_start_matches("http://")).unwrap();
        // A header value that is not ASCII: refused by the server before any handler.
        let head = format!(
            "GET /oauth/callback/linkedin?code={refused_code} HTTP/1.1\r\nHost: x\r\nX-Name: caf\u{e9}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    }
    let posts = call("GET", "/api/v1/posts", None);
    assert_eq!(posts.status, 200, "{}", posts.body);
    let request_id = posts.header("x-request-id").unwrap().to_string();
    // A graceful stop (SIGTERM): the access line of the last request is written after its
    // answer, and the server finishes what is in flight before it exits.
    let mut server = server;
    let pid = server.child.id().to_string();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(term.success());
    server.child.wait().unwrap();

    let log = std::fs::read_to_string(db.with_extension("serve.log")).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"))
        })
        .collect();
    for line in &lines {
        for field in ["timestamp", "level", "message"] {
            assert!(line[field].is_string(), "{field} in {line}");
        }
    }
    let access: Vec<&Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    let listing = access
        .iter()
        .find(|l| l["request_id"] == request_id.as_str())
        .unwrap_or_else(|| panic!("no access line for {request_id}: {log}"));
    assert_eq!(listing["method"], "GET");
    assert_eq!(listing["route"], "/v1/posts");
    assert_eq!(listing["status"], 200);
    assert!(listing["duration_ms"].is_u64(), "{listing}");
    assert_eq!(listing["app_id"], app_id.as_str());
    assert!(
        access
            .iter()
            .any(|l| l["route"] == "/oauth/callback/{platform}" && l["status"] == 302),
        "{log}"
    );
    assert!(
        access
            .iter()
            .any(|l| l["route"] == "/connect/{id}" && l["app_id"].is_null()),
        "{log}"
    );
    assert!(
        access
            .iter()
            .any(|l| l["refused"] == "BAD_HEADER" && l["status"] == 400 && l["peer"].is_string()),
        "{log}"
    );
    for secret in [
        api_key.as_str(),
        wrong_key,
        code.as_str(),
        state.as_str(),
        refused_code,
        session_id.as_str(),
        "Bearer",
        "authorization",
        "Authorization",
    ] {
        assert!(!log.contains(secret), "{secret:?} is in the log:\n{log}");
    }
}
