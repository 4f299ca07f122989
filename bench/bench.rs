//! The benchmark harness: starts the real appliance (sandbox on, real scheduler, real clock,
//! a fresh database file) in this process, drives it over HTTP on loopback like a customer
//! backend would, and prints its figures and how it ran. Run it with `bench/run.sh`.

use mypostshare::clock::SystemClock;
use mypostshare::config::Config;
use mypostshare::crypto::MasterKey;
use mypostshare::services::{apps, keys};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn new_agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(Duration::from_secs(60))
        .build()
}

fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    key: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let req = agent
        .request(method, url)
        .set("Authorization", &format!("Bearer {key}"));
    let result = match body {
        Some(b) => req
            .set("Content-Type", "application/json")
            .send_string(&b.to_string()),
        None => req.call(),
    };
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = response.status();
    (
        status,
        response
            .into_string()
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null),
    )
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(name: &str, mut samples_ms: Vec<f64>, wall: Duration) {
    samples_ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{name:<44} n={:<5} p50={:>7.2}ms p95={:>7.2}ms p99={:>7.2}ms max={:>7.2}ms  {:>8.0} req/s",
        samples_ms.len(),
        percentile(&samples_ms, 0.50),
        percentile(&samples_ms, 0.95),
        percentile(&samples_ms, 0.99),
        samples_ms.last().unwrap(),
        samples_ms.len() as f64 / wall.as_secs_f64()
    );
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(
        tag[start..end]
            .replace("&amp;", "&")
            .replace("&quot;", "\"")
            .replace("&#39;", "'"),
    )
}

/// Walks the hosted connect flow like a browser on any simulated platform, pressing Allow on
/// the consent page with its defaults, and returns once the user is connected.
fn connect(agent: &ureq::Agent, base: &str, key: &str, user: &str, platform: &str) {
    call(
        agent,
        "POST",
        &format!("{base}/api/v1/end-users"),
        key,
        Some(&json!({"externalUserId": user})),
    );
    let (_, session) = call(
        agent,
        "POST",
        &format!("{base}/api/v1/connect-sessions"),
        key,
        Some(
            &json!({"externalUserId": user, "platform": platform, "redirectUri": "https://bench.example/cb"}),
        ),
    );
    let go = agent
        .post(session["connectUrl"].as_str().unwrap())
        .call()
        .unwrap();
    let consent = agent
        .get(go.header("location").unwrap())
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let form_at = consent.find("<form").unwrap();
    let form_end = consent[form_at..].find("</form>").unwrap() + form_at;
    let form = &consent[form_at..form_end];
    let action = attribute(&form[..form.find('>').unwrap()], "action").unwrap();
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut rest = form;
    while let Some(at) = rest.find("<input") {
        let end = rest[at..].find('>').unwrap() + at;
        let tag = &rest[at..end];
        let checkable = tag.contains("type=\"checkbox\"") || tag.contains("type=\"radio\"");
        if let Some(name) = attribute(tag, "name")
            && (!checkable || tag.contains(" checked"))
        {
            let value = if name == "member_name" {
                user.to_string()
            } else {
                attribute(tag, "value").unwrap_or_default()
            };
            fields.push((name, value));
        }
        rest = &rest[end..];
    }
    fields.push(("decision".into(), "allow".into()));
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let back = agent
        .post(&format!("{base}{action}"))
        .send_form(&pairs)
        .unwrap();
    let done = agent.get(back.header("location").unwrap()).call().unwrap();
    assert!(
        done.header("location")
            .unwrap()
            .contains("status=connected"),
        "{platform}: {:?}",
        done.header("location")
    );
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(
        dir.path().join("bench.db"),
        MasterKey::from_material("benchmark master key material 32+ chars"),
    );
    config.sandbox = true;
    // The benchmark measures the server at full speed, far past the default rate limits (600
    // requests and 60 publishes a minute per key); 0 turns them off.
    config.rate_limit_per_minute = 0;
    config.publish_rate_limit_per_minute = 0;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let running = mypostshare::start(config, listener, Arc::new(SystemClock)).unwrap();
    let state = running.state.clone();
    let now = chrono::Utc::now();
    let org = apps::create_organization(&state.db, "bench", "Bench", 10_000_000, now).unwrap();
    let app = apps::create_app(&state.db, "bench", &org.id, "Bench", now).unwrap();
    apps::add_redirect_uri(&state.db, "bench", &app.id, "https://bench.example/cb", now).unwrap();
    let (_, key) = keys::create(&state.db, "bench", &app.id, "bench", now).unwrap();
    let base = running.base_url();
    let agent = new_agent();
    println!(
        "mypostshare bench: in-process appliance (release build), SQLite file in a temp dir, LinkedIn simulator on loopback"
    );
    println!(
        "machine: {} cores; {} HTTP workers, {} delivery workers",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        state.config.worker_threads,
        state.config.delivery_workers
    );

    let users: Vec<String> = (0..16).map(|i| format!("bench_user_{i}")).collect();
    let started = Instant::now();
    for user in &users {
        connect(&agent, &base, &key, user, "linkedin");
    }
    println!(
        "{:<44} {} flows in {:.1} ms",
        "hosted connect flow (5 HTTP round trips)",
        users.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );

    // 1. publish now, one client, sequential
    let mut samples = Vec::new();
    let started = Instant::now();
    for i in 0..500 {
        let t = Instant::now();
        let (status, post) = call(
            &agent,
            "POST",
            &format!("{base}/api/v1/posts"),
            &key,
            Some(
                &json!({"externalUserId": users[0], "content": format!("sequential bench post {i}"), "platforms": ["linkedin"]}),
            ),
        );
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(status == 201 && post["status"] == "published", "{post}");
    }
    report(
        "POST /v1/posts (publish now), 1 client",
        samples,
        started.elapsed(),
    );

    // 2. publish now, 16 concurrent clients
    let started = Instant::now();
    let handles: Vec<_> = users
        .iter()
        .map(|user| {
            let (base, key, user) = (base.clone(), key.clone(), user.clone());
            std::thread::spawn(move || {
                let agent = new_agent();
                (0..100)
                    .map(|i| {
                        let t = Instant::now();
                        let (status, _) = call(&agent, "POST", &format!("{base}/api/v1/posts"), &key, Some(&json!({"externalUserId": user, "content": format!("concurrent post {i}"), "platforms": ["linkedin"]})));
                        assert_eq!(status, 201);
                        t.elapsed().as_secs_f64() * 1000.0
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let samples: Vec<f64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    report(
        "POST /v1/posts (publish now), 16 clients",
        samples,
        started.elapsed(),
    );

    // 3. reads
    let (_, list) = call(
        &agent,
        "GET",
        &format!("{base}/api/v1/posts?limit=1"),
        &key,
        None,
    );
    let post_id = list[0]["id"].as_str().unwrap().to_string();
    let started = Instant::now();
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (base, key, id) = (base.clone(), key.clone(), post_id.clone());
            std::thread::spawn(move || {
                let agent = new_agent();
                (0..1000)
                    .map(|_| {
                        let t = Instant::now();
                        let (status, _) = call(
                            &agent,
                            "GET",
                            &format!("{base}/api/v1/posts/{id}"),
                            &key,
                            None,
                        );
                        assert_eq!(status, 200);
                        t.elapsed().as_secs_f64() * 1000.0
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let samples: Vec<f64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    report("GET /v1/posts/:id, 8 clients", samples, started.elapsed());

    // 4. one video post to all eight platforms: uploads, platform-side processing and polling
    const ALL: [&str; 8] = [
        "linkedin",
        "facebook",
        "instagram",
        "twitter",
        "youtube",
        "threads",
        "pinterest",
        "reddit",
    ];
    let everywhere = "bench_everywhere";
    for platform in ALL {
        connect(&agent, &base, &key, everywhere, platform);
    }
    let (_, boards) = call(
        &agent,
        "GET",
        &format!("{base}/api/v1/end-users/{everywhere}/connections/pinterest/targets"),
        &key,
        None,
    );
    let board = boards[0]["id"].clone();
    let video = format!("{base}/sandbox/_sim/media/sample.mp4");
    let mut samples = Vec::new();
    let started = Instant::now();
    for i in 0..20 {
        let t = Instant::now();
        let (status, post) = call(
            &agent,
            "POST",
            &format!("{base}/api/v1/posts"),
            &key,
            Some(&json!({
                "externalUserId": everywhere, "title": format!("Launch film {i}"), "content": format!("Launch film, take {i}"),
                "mediaUrl": format!("{video}?bytes={}", 256 * 1024 + i), "platforms": ALL,
                "platformOptions": {"pinterest": {"boardId": board}, "reddit": {"subreddit": "test"}}
            })),
        );
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(status == 201 && post["status"] == "published", "{post}");
    }
    report(
        "POST /v1/posts, video to all 8 platforms",
        samples,
        started.elapsed(),
    );

    // 5. how late scheduled posts are published: 300 posts due over 3 seconds
    let due_base = chrono::Utc::now() + chrono::Duration::seconds(3);
    let mut ids = Vec::new();
    for i in 0..300 {
        let due = due_base + chrono::Duration::milliseconds(i * 10);
        let user = &users[i as usize % users.len()];
        let (status, post) = call(
            &agent,
            "POST",
            &format!("{base}/api/v1/posts/scheduled"),
            &key,
            Some(
                &json!({"externalUserId": user, "content": format!("scheduled bench post {i}"), "platforms": ["linkedin"], "scheduleAt": due.to_rfc3339()}),
            ),
        );
        assert_eq!(status, 201, "{post}");
        ids.push(post["id"].as_str().unwrap().to_string());
    }
    std::thread::sleep(Duration::from_secs(8));
    let mut lateness = Vec::new();
    for id in &ids {
        let (_, post) = call(
            &agent,
            "GET",
            &format!("{base}/api/v1/posts/{id}"),
            &key,
            None,
        );
        assert_eq!(post["status"], "published", "{post}");
        let at = |f: &str| mypostshare::clock::parse_timestamp(post[f].as_str().unwrap()).unwrap();
        lateness.push((at("processedAt") - at("scheduleAt")).num_milliseconds() as f64);
    }
    lateness.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{:<44} n={:<5} p50={:>7.0}ms p99={:>7.0}ms max={:>7.0}ms (processedAt - scheduleAt)",
        "scheduled posts: lateness",
        lateness.len(),
        percentile(&lateness, 0.5),
        percentile(&lateness, 0.99),
        lateness.last().unwrap()
    );
    running.shutdown();
}
