//! Media as real file hosts serve it, end to end through a post: a 40 MB video that arrives
//! slowly but steadily (longer than the old all-in-one timeout) is fetched and uploaded, a
//! host that stalls fails the delivery after the read timeout, and media served with a
//! generic or wrong `Content-Type` (S3's `application/octet-stream`) is taken for what its
//! first bytes say it is, both where the appliance downloads it and where it only checks a
//! URL the platform fetches.

use crate::support::{Setup, TestApp};
use base64::Engine as _;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// How a route sends its body.
#[derive(Clone, Copy)]
enum Pace {
    AtOnce,
    /// `chunk` bytes, then a pause, until done: slow but never stalled.
    Steady {
        chunk: usize,
        pause: Duration,
    },
    /// The headers and `bytes` bytes, then nothing for a minute.
    StallAfter(usize),
}

struct Route {
    path: &'static str,
    content_type: &'static str,
    body: Arc<Vec<u8>>,
    pace: Pace,
}

/// A file host on loopback: one thread per connection, `Connection: close`, `Range` ignored
/// (as many hosts do; the probe reads the first bytes and hangs up).
fn media_server(routes: Vec<Route>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let routes = Arc::new(routes);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let routes = routes.clone();
            std::thread::spawn(move || {
                let _ = answer(stream, &routes);
            });
        }
    });
    base
}

fn answer(mut stream: TcpStream, routes: &[Route]) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split(' ').nth(1).unwrap_or("/");
    let path = path.split('?').next().unwrap_or(path);
    let Some(route) = routes.iter().find(|r| r.path == path) else {
        return stream.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    };
    stream.write_all(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            route.content_type,
            route.body.len()
        )
        .as_bytes(),
    )?;
    match route.pace {
        Pace::AtOnce => stream.write_all(&route.body)?,
        Pace::Steady { chunk, pause } => {
            for part in route.body.chunks(chunk) {
                stream.write_all(part)?;
                std::thread::sleep(pause);
            }
        }
        Pace::StallAfter(bytes) => {
            stream.write_all(&route.body[..bytes])?;
            std::thread::sleep(Duration::from_secs(60));
        }
    }
    stream.flush()
}

/// An MP4-shaped file (an `ftyp` box with `brand`, then `mdat` filler), `len` bytes.
fn iso_media(brand: &[u8; 4], len: usize) -> Vec<u8> {
    let mut out = vec![0, 0, 0, 0x14];
    out.extend_from_slice(b"ftyp");
    out.extend_from_slice(brand);
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(brand);
    out.extend_from_slice(&((len - out.len()) as u32).to_be_bytes());
    out.extend_from_slice(b"mdat");
    let filler = len - out.len();
    out.extend((0..filler).map(|i| (i % 251) as u8));
    out
}

fn b64(text: &str) -> Vec<u8> {
    let text = text.replace('-', "+").replace('_', "/");
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(text.trim_end_matches('='))
        .unwrap()
}

fn jpeg() -> Vec<u8> {
    b64(
        "_9j_4AAQSkZJRgABAQEASABIAAD_2wBDAP__________________________________________________________________________________________wgALCAABAAEBAREA_8QAFBABAAAAAAAAAAAAAAAAAAAAAP_aAAgBAQABPxD_2Q",
    )
}
fn png() -> Vec<u8> {
    b64(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg",
    )
}
fn gif() -> Vec<u8> {
    b64("R0lGODlhAQABAIAAAAAAAP___yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
}
fn webp() -> Vec<u8> {
    b64("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA")
}

fn route(path: &'static str, content_type: &'static str, body: Vec<u8>) -> Route {
    Route {
        path,
        content_type,
        body: Arc::new(body),
        pace: Pace::AtOnce,
    }
}

fn result(post: &Value) -> &Value {
    &post["platformResults"][0]
}

fn publish(app: &TestApp, platform: &str, body: Value) -> Value {
    let mut body = body;
    body["externalUserId"] = json!("u1");
    body["platforms"] = json!([platform]);
    let r = app.post("/api/v1/posts", body);
    assert_eq!(r.status, 201, "{}", r.body);
    let post = r.json();
    let id = post["id"].as_str().unwrap().to_string();
    app.wait_for_post(&id, |p| p["status"] != "processing")
}

// ----- breaker 1: long transfers -----

/// The old all-in-one timeout of every platform call, which media transfers were under; the
/// test sets it low so that a transfer longer than it stays quick to run.
const OLD_CAP: Duration = Duration::from_secs(2);

fn youtube_with_short_timeouts() -> TestApp {
    let app = TestApp::start_with(Setup {
        configure: |config| {
            config.provider_timeout = OLD_CAP;
            config.media_read_timeout = Duration::from_secs(2);
        },
        ..Setup::default()
    });
    app.upsert_user("u1");
    app.connect("u1", "youtube", "Chris Creator");
    app
}

#[test]
fn a_slow_but_steady_40_mb_video_is_fetched_and_uploaded_past_the_old_cap() {
    let app = youtube_with_short_timeouts();
    let video = iso_media(b"mp42", 40 * 1000 * 1000);
    // About 5 s in all (160 parts, 30 ms apart), more than twice the old cap, and never a
    // pause near the read timeout.
    let base = media_server(vec![Route {
        path: "/launch.mp4",
        content_type: "video/mp4",
        body: Arc::new(video),
        pace: Pace::Steady {
            chunk: 256 * 1000,
            pause: Duration::from_millis(30),
        },
    }]);
    let started = std::time::Instant::now();
    let post = publish(
        &app,
        "youtube",
        json!({"title": "Launch", "content": "The launch", "mediaUrl": format!("{base}/launch.mp4")}),
    );
    assert!(started.elapsed() > OLD_CAP * 2, "the transfer was not slow");
    assert_eq!(post["status"], "published", "{post}");
    let recorded = app.sim_posts_of("youtube");
    assert_eq!(recorded[0]["media"]["bytes"], 40 * 1000 * 1000);
    assert_eq!(recorded[0]["media"]["contentType"], "video/mp4");
}

#[test]
fn a_stalled_media_server_fails_the_delivery_after_the_read_timeout() {
    let app = youtube_with_short_timeouts();
    let base = media_server(vec![Route {
        path: "/stuck.mp4",
        content_type: "video/mp4",
        body: Arc::new(iso_media(b"mp42", 1 << 20)),
        pace: Pace::StallAfter(64 * 1024),
    }]);
    let post = publish(
        &app,
        "youtube",
        json!({"title": "Stuck", "content": "Never arrives", "mediaUrl": format!("{base}/stuck.mp4")}),
    );
    assert_eq!(post["status"], "failed", "{post}");
    assert_eq!(result(&post)["errorCode"], "MEDIA_FETCH_FAILED", "{post}");
    assert!(app.sim_posts_of("youtube").is_empty());
}

// ----- breaker 5: the type comes from the bytes -----

#[test]
fn media_served_as_octet_stream_is_uploaded_as_what_its_bytes_are() {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect("u1", "twitter", "Alex Morgan");
    // No extensions: the appliance must ask the host, which says nothing useful, or is wrong.
    let cases: Vec<(&'static str, &'static str, Vec<u8>, &str)> = vec![
        ("/o/jpeg", "application/octet-stream", jpeg(), "image/jpeg"),
        ("/o/png", "binary/octet-stream", png(), "image/png"),
        ("/o/gif", "application/octet-stream", gif(), "image/gif"),
        ("/o/webp", "application/octet-stream", webp(), "image/webp"),
        (
            "/o/mp4",
            "application/octet-stream",
            iso_media(b"isom", 300_000),
            "video/mp4",
        ),
        (
            "/o/mov",
            "application/octet-stream",
            iso_media(b"qt  ", 300_000),
            "video/quicktime",
        ),
        // A header that disagrees with the content loses to it.
        ("/o/liar", "image/png", jpeg(), "image/jpeg"),
    ];
    let base = media_server(
        cases
            .iter()
            .map(|(path, ct, body, _)| route(path, ct, body.clone()))
            .collect(),
    );
    for (n, (path, _, _, expected)) in cases.iter().enumerate() {
        let post = publish(
            &app,
            "twitter",
            json!({"content": format!("Media {n}"), "mediaUrl": format!("{base}{path}")}),
        );
        assert_eq!(post["status"], "published", "{path}: {post}");
        let recorded = app.sim_posts_of("twitter");
        let media = &recorded.last().unwrap()["media"][0];
        assert_eq!(media["mediaType"], *expected, "{path}: {media}");
    }
}

#[test]
fn a_url_the_platform_fetches_is_checked_by_its_first_bytes() {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect("u1", "threads", "Alex Morgan");
    let base = media_server(vec![
        route("/img", "application/octet-stream", jpeg()),
        route("/clip", "binary/octet-stream", iso_media(b"isom", 100_000)),
        route(
            "/notes",
            "application/octet-stream",
            b"just some text, no picture".to_vec(),
        ),
    ]);
    let post = publish(
        &app,
        "threads",
        json!({"content": "Picture", "mediaUrl": format!("{base}/img")}),
    );
    assert_eq!(post["status"], "published", "{post}");
    let post = publish(
        &app,
        "threads",
        json!({"content": "Clip", "mediaUrl": format!("{base}/clip")}),
    );
    assert_eq!(post["status"], "published", "{post}");
    // Bytes that are no media are still refused, before charging.
    let balance = app.balance();
    let reply = app.post(
        "/api/v1/posts",
        json!({"externalUserId": "u1", "content": "x", "mediaUrl": format!("{base}/notes"), "platforms": ["threads"]}),
    );
    assert_eq!(reply.error_code(400), "UNSUPPORTED_MEDIA_TYPE");
    assert_eq!(app.balance(), balance);
}
