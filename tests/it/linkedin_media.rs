//! LinkedIn image and video posts: end to end through the appliance and its simulator (uploads,
//! parts, thumbnails, asynchronous processing, faults, refresh), and the simulator's Images and
//! Videos APIs on their own over HTTP, where the exact refusals matter.

use crate::support::{self, Setup, TestApp, query_value};
use mypostshare::clock::OffsetClock;
use mypostshare::config::{ClientCredentials, ProviderEndpoints};
use mypostshare::http::server::{ServerHandle, ServerOptions, serve};
use mypostshare::providers::linkedin::LinkedIn;
use mypostshare::providers::linkedin_media::IN_CALL_POLLS;
use mypostshare::providers::{AuthorizeRequest, Provider, http_agent};
use mypostshare_sim::linkedin_media::PART_SIZE;
use mypostshare_sim::{Platform, SimClient, Simulator, SimulatorSettings};
use serde_json::{Value, json};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

fn connected_app(setup: Setup) -> TestApp {
    let app = TestApp::start_with(setup);
    app.upsert_user("u1");
    app.connect("u1", "linkedin", "Alex Morgan");
    app
}

fn post(app: &TestApp, body: Value) -> Value {
    let mut body = body;
    body["externalUserId"] = json!("u1");
    body["platforms"] = json!(["linkedin"]);
    let reply = app.post("/api/v1/posts", body);
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json()
}

fn result(post: &Value) -> &Value {
    &post["platformResults"][0]
}

/// How the videos finalized from now on process (the simulator's test settings of LinkedIn).
fn set_video_processing(app: &TestApp, polls: u32, failure: Option<&str>) {
    app.sim_settings(
        "linkedin",
        json!({"processingPolls": polls, "processingFailure": failure}),
    );
}

fn bytes_of(url: &str) -> Vec<u8> {
    let mut out = Vec::new();
    use std::io::Read;
    support::agent()
        .get(url)
        .call()
        .unwrap()
        .into_reader()
        .read_to_end(&mut out)
        .unwrap();
    out
}

// ----- end to end -----

#[test]
fn an_image_post_uploads_the_image_and_references_it() {
    let app = connected_app(Setup::default());
    let png = bytes_of(&app.sample_media("sample.png"));
    let done = post(
        &app,
        json!({"content": "Our new office", "title": "The office at dawn", "mediaUrl": app.sample_media("sample.png")}),
    );
    assert_eq!(done["status"], "published", "{done}");
    let posts = app.sim_posts();
    assert_eq!(posts.len(), 1);
    let media = &posts[0]["media"];
    assert_eq!(media["kind"], "image");
    assert!(media["id"].as_str().unwrap().starts_with("urn:li:image:"));
    assert_eq!(media["bytes"], png.len());
    assert_eq!(media["contentType"], "image/png");
    assert_eq!(
        media["altText"], "The office at dawn",
        "alt text from the title"
    );
    assert_eq!(posts[0]["text"], "Our new office");
    assert_eq!(
        result(&done)["externalId"].as_str(),
        posts[0]["id"].as_str()
    );

    // platformOptions.linkedin.altText wins over the title; a GIF is an image too.
    let gif = post(
        &app,
        json!({"content": "Animated", "title": "ignored", "mediaUrl": app.sample_media("sample.gif"),
               "platformOptions": {"linkedin": {"altText": "A blinking dot"}}}),
    );
    assert_eq!(gif["status"], "published", "{gif}");
    let media = &app.sim_posts()[1]["media"];
    assert_eq!(media["altText"], "A blinking dot");
    assert_eq!(media["contentType"], "image/gif");
}

#[test]
fn a_video_post_uploads_every_part_and_the_thumbnail() {
    let app = connected_app(Setup::default());
    let size = 2 * PART_SIZE as usize + 123_456;
    let done = post(
        &app,
        json!({"content": "Launch video", "title": "Launch day",
               "mediaUrl": app.sample_media(&format!("sample.mp4?bytes={size}")),
               "thumbnailUrl": app.sample_media("sample.png")}),
    );
    assert_eq!(done["status"], "published", "{done}");
    let media = &app.sim_posts()[0]["media"];
    assert_eq!(media["kind"], "video");
    assert!(media["id"].as_str().unwrap().starts_with("urn:li:video:"));
    assert_eq!(media["bytes"], size);
    assert_eq!(media["parts"], 3);
    assert_eq!(media["title"], "Launch day");
    assert_eq!(media["thumbnail"]["contentType"], "image/png");

    // Without a title or thumbnail: one part, no title.
    let small = post(
        &app,
        json!({"content": "Short clip", "mediaUrl": app.sample_media("sample.mp4?bytes=5000")}),
    );
    assert_eq!(small["status"], "published", "{small}");
    let media = &app.sim_posts()[1]["media"];
    assert_eq!(media["parts"], 1);
    assert_eq!(media["title"], Value::Null);
    assert_eq!(media["thumbnail"], Value::Null);
}

#[test]
fn a_video_still_processing_is_finished_later_by_the_engine() {
    let app = connected_app(Setup::default());
    set_video_processing(&app, IN_CALL_POLLS as u32 + 1, None);
    let first = post(
        &app,
        json!({"content": "Slow video", "mediaUrl": app.sample_media("sample.mp4?bytes=5000")}),
    );
    let id = first["id"].as_str().unwrap();
    assert_eq!(first["status"], "processing", "{first}");
    assert_eq!(result(&first)["status"], "processing");
    assert!(app.sim_posts().is_empty(), "not posted before AVAILABLE");
    // not due yet
    app.run_job("dispatch_due_deliveries");
    std::thread::sleep(Duration::from_millis(100));
    assert!(app.sim_posts().is_empty());
    app.clock.advance(chrono::Duration::seconds(31));
    assert_eq!(
        app.run_job("dispatch_due_deliveries"),
        "queued 1 deliveries"
    );
    let done = app.wait_for_post(id, |p| p["status"] == "published");
    assert_eq!(done["status"], "published", "{done}");
    assert_eq!(result(&done)["attemptCount"], 1, "a look is not an attempt");
    assert_eq!(app.sim_posts()[0]["media"]["kind"], "video");
}

#[test]
fn a_video_that_fails_processing_fails_with_the_reason() {
    let app = connected_app(Setup::default());
    set_video_processing(&app, 0, Some("Unsupported codec"));
    let done = post(
        &app,
        json!({"content": "Broken video", "mediaUrl": app.sample_media("sample.mp4?bytes=5000")}),
    );
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(result(&done)["errorCode"], "MEDIA_PROCESSING_FAILED");
    assert!(
        result(&done)["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Unsupported codec")
    );
    assert!(app.sim_posts().is_empty());
}

#[test]
fn linkedin_media_rules_are_checked_before_anything_is_charged() {
    let app = connected_app(Setup::default());
    let balance = app.balance();
    let cases = [
        (
            json!({"content": "x", "mediaUrl": "https://cdn.example/a.webp"}),
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            json!({"content": "x", "mediaUrl": "https://cdn.example/a.mov"}),
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            json!({"content": "x", "mediaUrl": app.sample_media("sample.png"), "thumbnailUrl": app.sample_media("sample.png")}),
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            json!({"content": "x", "mediaUrl": app.sample_media("sample.mp4"), "thumbnailUrl": app.sample_media("sample.gif")}),
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            json!({"content": "x", "platformOptions": {"linkedin": {"altText": "no image"}}}),
            "VALIDATION_FAILED",
        ),
        (
            json!({"content": "x", "mediaUrl": app.sample_media("sample.png"), "platformOptions": {"linkedin": {"altText": 5}}}),
            "VALIDATION_FAILED",
        ),
        (
            json!({"content": "x", "mediaUrl": app.sample_media("sample.png"), "platformOptions": {"linkedin": {"alt_text": "typo"}}}),
            "VALIDATION_FAILED",
        ),
        (
            json!({"content": "é".repeat(3001), "mediaUrl": app.sample_media("sample.png")}),
            "CONTENT_TOO_LONG",
        ),
    ];
    for (mut body, code) in cases {
        body["externalUserId"] = json!("u1");
        body["platforms"] = json!(["linkedin"]);
        let reply = app.post("/api/v1/posts", body.clone());
        assert_eq!(reply.error_code(400), code, "{body}");
        assert!(reply.body.contains("linkedin"), "{}", reply.body);
    }
    assert_eq!(app.balance(), balance);
    assert!(app.sim_posts().is_empty());
}

#[test]
fn a_server_error_during_upload_is_retried_and_a_lasting_one_later() {
    let app = connected_app(Setup::default());
    app.inject_fault(json!({"platform": "linkedin", "kind": "server_error", "status": 503}));
    let done = post(
        &app,
        json!({"content": "retried upload", "mediaUrl": app.sample_media("sample.png")}),
    );
    assert_eq!(
        done["status"], "published",
        "an upload is safe to send again"
    );
    assert_eq!(app.sim_posts().len(), 1);

    // Three in a row use up the adapter's own tries; the engine retries the delivery later,
    // since nothing was published.
    app.inject_fault(json!({"platform": "linkedin", "kind": "server_error", "count": 3}));
    let pending = post(
        &app,
        json!({"content": "lasting outage", "mediaUrl": app.sample_media("sample.png")}),
    );
    let id = pending["id"].as_str().unwrap().to_string();
    assert_eq!(result(&pending)["status"], "pending", "{pending}");
    assert_eq!(result(&pending)["errorCode"], "PLATFORM_UNAVAILABLE");
    assert_eq!(app.sim_posts().len(), 1);
    app.clock.advance(chrono::Duration::minutes(2));
    app.run_job("dispatch_due_deliveries");
    let done = app.wait_for_post(&id, |p| p["status"] == "published");
    assert_eq!(done["status"], "published", "{done}");
    assert_eq!(app.sim_posts().len(), 2);
}

#[test]
/// A 5xx on the create of a video post, after the upload: LinkedIn cannot be read back, so
/// after the read-back delay the delivery fails `PLATFORM_UNAVAILABLE` and is never sent again.
fn a_server_error_on_the_create_is_read_back_and_never_sent_again() {
    let app = connected_app(Setup::default());
    set_video_processing(&app, IN_CALL_POLLS as u32 + 1, None);
    let first = post(
        &app,
        json!({"content": "create fails", "mediaUrl": app.sample_media("sample.mp4?bytes=5000")}),
    );
    let id = first["id"].as_str().unwrap().to_string();
    assert_eq!(first["status"], "processing");
    // Status reads are never faulted: the next call that takes a fault is the create.
    app.inject_fault(json!({"platform": "linkedin", "kind": "server_error", "status": 500}));
    app.clock.advance(chrono::Duration::seconds(31));
    app.run_job("dispatch_due_deliveries");
    let waiting = app.wait_for_post(&id, |p| result(p)["errorCode"] == "PLATFORM_UNAVAILABLE");
    assert_eq!(result(&waiting)["status"], "processing", "{waiting}");
    assert!(
        result(&waiting)["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("read back"),
        "{waiting}"
    );
    let done = app.finish_read_back(&id);
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(result(&done)["errorCode"], "PLATFORM_UNAVAILABLE");
    app.clock.advance(chrono::Duration::minutes(5));
    app.run_job("dispatch_due_deliveries");
    std::thread::sleep(Duration::from_millis(200));
    let again = app.get(&format!("/api/v1/posts/{id}")).json();
    assert_eq!(result(&again)["status"], "failed");
    assert!(app.sim_posts().is_empty(), "the create was sent once");
}

#[test]
fn a_rate_limited_media_post_is_published_after_backoff() {
    let app = connected_app(Setup::default());
    app.inject_fault(json!({"platform": "linkedin", "kind": "rate_limit"}));
    let first = post(
        &app,
        json!({"content": "busy", "mediaUrl": app.sample_media("sample.png")}),
    );
    let id = first["id"].as_str().unwrap();
    assert_eq!(result(&first)["status"], "pending", "{first}");
    assert_eq!(result(&first)["errorCode"], "RATE_LIMITED");
    app.clock.advance(chrono::Duration::seconds(40));
    assert_eq!(
        app.run_job("dispatch_due_deliveries"),
        "queued 1 deliveries"
    );
    let done = app.wait_for_post(id, |p| p["status"] == "published");
    assert_eq!(done["status"], "published", "{done}");
    assert_eq!(result(&done)["attemptCount"], 2);
    assert_eq!(app.sim_posts()[0]["media"]["kind"], "image");
}

#[test]
fn a_revoked_token_during_upload_asks_for_a_reconnect() {
    let app = connected_app(Setup::default());
    app.inject_fault(json!({"platform": "linkedin", "kind": "revoked_token"}));
    let done = post(
        &app,
        json!({"content": "gone", "mediaUrl": app.sample_media("sample.mp4?bytes=5000")}),
    );
    assert_eq!(done["status"], "failed");
    assert_eq!(result(&done)["errorCode"], "NEEDS_RECONNECT");
    let connection = &app.get("/api/v1/end-users/u1/connections").json()[0];
    assert_eq!(connection["needsReconnect"], true);
    assert_eq!(connection["tokenStatus"], "needs_reconnect");
    let reply = app.post(
        "/api/v1/posts",
        json!({"externalUserId": "u1", "platforms": ["linkedin"], "content": "again", "mediaUrl": app.sample_media("sample.png")}),
    );
    assert_eq!(reply.error_code(400), "PLATFORM_NEEDS_RECONNECT");
}

#[test]
fn the_same_image_post_twice_is_a_duplicate() {
    let app = connected_app(Setup::default());
    let body = json!({"content": "same words", "mediaUrl": app.sample_media("sample.png")});
    assert_eq!(post(&app, body.clone())["status"], "published");
    let second = post(&app, body);
    assert_eq!(second["status"], "failed");
    assert_eq!(result(&second)["errorCode"], "DUPLICATE_POST");
    // The injected duplicate refusal maps the same way.
    app.inject_fault(json!({"platform": "linkedin", "kind": "duplicate"}));
    let third = post(
        &app,
        json!({"content": "other words", "mediaUrl": app.sample_media("sample.png")}),
    );
    assert_eq!(result(&third)["errorCode"], "DUPLICATE_POST");
    assert_eq!(app.sim_posts().len(), 1);
}

#[test]
fn an_expired_token_is_refreshed_before_a_video_upload() {
    let app = connected_app(Setup {
        sandbox_refresh_tokens: true,
        access_token_ttl: Some(chrono::Duration::hours(1)),
        ..Setup::default()
    });
    let before =
        app.get("/api/v1/end-users/u1/connections").json()[0]["accessTokenExpiresAt"].clone();
    app.clock.advance(chrono::Duration::hours(2));
    let done = post(
        &app,
        json!({"content": "after refresh", "mediaUrl": app.sample_media("sample.mp4?bytes=5000")}),
    );
    assert_eq!(done["status"], "published", "{done}");
    let after =
        app.get("/api/v1/end-users/u1/connections").json()[0]["accessTokenExpiresAt"].clone();
    assert_ne!(before, after);
}

#[test]
fn an_expired_token_without_refresh_needs_a_reconnect() {
    let app = connected_app(Setup::default());
    app.clock.advance(chrono::Duration::days(61));
    let reply = app.post(
        "/api/v1/posts",
        json!({"externalUserId": "u1", "platforms": ["linkedin"], "content": "late", "mediaUrl": app.sample_media("sample.png")}),
    );
    assert_eq!(reply.error_code(400), "PLATFORM_NEEDS_RECONNECT");
}

// ----- the simulator's media APIs on their own -----

const CLIENT_ID: &str = "media-client";
const CLIENT_SECRET: &str = "media-secret";
const CALLBACK: &str = "http://127.0.0.1:9/oauth/callback/linkedin";

struct Simulated {
    base: String,
    token: String,
    person: String,
    version: String,
    _server: ServerHandle,
}

fn simulated() -> Simulated {
    let clock = OffsetClock::new();
    let sim = Simulator::new(
        clock.clone(),
        [9; 32],
        SimulatorSettings {
            linkedin_video_processing_polls: 2,
            ..SimulatorSettings::default()
        },
    );
    sim.register_client(
        Platform::Linkedin,
        SimClient {
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            name: "Media tests".into(),
            redirect_uris: vec![CALLBACK.into()],
            trial_access: false,
        },
    );
    let handler = sim.clone();
    let server = serve(
        TcpListener::bind("127.0.0.1:0").unwrap(),
        ServerOptions {
            threads: 4,
            max_body_bytes: 64 << 20,
            io_timeout: Duration::from_secs(5),
            access_log: false,
            ..ServerOptions::new("simulator")
        },
        Arc::new(move |request| handler.handle(request, "")),
    )
    .unwrap();
    let base = format!("http://{}", server.addr());
    let version = mypostshare::providers::Platform::Linkedin
        .spec()
        .hosts
        .api_version
        .to_string();
    let adapter = LinkedIn::new(
        ProviderEndpoints {
            auth_base: format!("{base}/linkedin"),
            token_base: format!("{base}/linkedin"),
            api_base: format!("{base}/linkedin"),
            api_version: version.clone(),
            sandbox_api_base: None,
            user_agent_username: String::new(),
        },
        http_agent(Duration::from_secs(10)),
    );
    let page = support::send(
        "GET",
        &adapter.authorize_url(&AuthorizeRequest {
            client_id: CLIENT_ID,
            redirect_uri: CALLBACK,
            state: "s",
            pkce_challenge: None,
        }),
        &[],
        None,
    );
    let (action, fields) = support::parse_form(&page.body);
    let mut pairs: Vec<(&str, &str)> = fields
        .iter()
        .filter(|(k, _)| k != "member_name")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.extend([("member_name", "Media Tester"), ("decision", "allow")]);
    let redirect = support::send(
        "POST",
        &format!("{base}{action}"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(&mypostshare::http::encode_query(&pairs)),
    );
    let code = query_value(redirect.header("location").unwrap(), "code").unwrap();
    let credentials = ClientCredentials {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        api_host: Default::default(),
    };
    let tokens = adapter
        .exchange_code(&credentials, &code, CALLBACK, None)
        .unwrap();
    let account = adapter.fetch_account(&tokens.access_token).unwrap();
    Simulated {
        base,
        token: tokens.access_token,
        person: format!("urn:li:person:{}", account.id),
        version,
        _server: server,
    }
}

struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn raw(request: ureq::Request, body: Option<&[u8]>) -> Raw {
    let result = match body {
        Some(bytes) => request.send_bytes(bytes),
        None => request.call(),
    };
    let response = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let headers = response
        .headers_names()
        .into_iter()
        .map(|n| {
            let v = response.header(&n).unwrap_or_default().to_string();
            (n, v)
        })
        .collect();
    Raw {
        status: response.status(),
        headers,
        body: response.into_string().unwrap_or_default(),
    }
}

impl Simulated {
    fn rest(&self, method: &str, path: &str) -> ureq::Request {
        support::agent()
            .request(method, &format!("{}/linkedin/rest/{path}", self.base))
            .set("Authorization", &format!("Bearer {}", self.token))
            .set("LinkedIn-Version", &self.version)
            .set("X-Restli-Protocol-Version", "2.0.0")
            .set("Content-Type", "application/json")
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Raw {
        raw(self.rest(method, path), Some(body.to_string().as_bytes()))
    }

    fn put(&self, url: &str, bytes: &[u8], auth: bool) -> Raw {
        let mut request = support::agent()
            .put(url)
            .set("Content-Type", "application/octet-stream");
        if auth {
            request = request.set("Authorization", &format!("Bearer {}", self.token));
        }
        raw(request, Some(bytes))
    }

    fn create_post(&self, commentary: &str, media: Value) -> Raw {
        self.call(
            "POST",
            "posts",
            json!({"author": self.person, "commentary": commentary, "visibility": "PUBLIC",
                   "distribution": {"feedDistribution": "MAIN_FEED"}, "lifecycleState": "PUBLISHED",
                   "content": {"media": media}}),
        )
    }

    fn init_video(&self, size: u64) -> Value {
        let init = self.call(
            "POST",
            "videos?action=initializeUpload",
            json!({"initializeUploadRequest": {"owner": self.person, "fileSizeBytes": size,
                   "uploadCaptions": false, "uploadThumbnail": false}}),
        );
        assert_eq!(init.status, 200, "{}", init.body);
        init.json()["value"].clone()
    }

    fn video_status(&self, urn: &str) -> String {
        let answer = raw(
            self.rest(
                "GET",
                &format!("videos/{}", mypostshare::http::percent_encode(urn)),
            ),
            None,
        );
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.json()["status"].as_str().unwrap().to_string()
    }
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n0000";

#[test]
fn the_images_api_takes_one_authorized_upload_of_an_image() {
    let sb = simulated();
    let init = sb.call(
        "POST",
        "images?action=initializeUpload",
        json!({"initializeUploadRequest": {"owner": sb.person}}),
    );
    assert_eq!(init.status, 200, "{}", init.body);
    let value = init.json()["value"].clone();
    let urn = value["image"].as_str().unwrap();
    let url = value["uploadUrl"].as_str().unwrap();
    assert!(urn.starts_with("urn:li:image:"));
    assert!(url.contains("/dms-uploads/"), "{url}");
    assert!(value["uploadUrlExpiresAt"].as_i64().is_some());

    // Before the upload, a post with the image is refused.
    let early = sb.create_post("too early", json!({"id": urn}));
    assert_eq!(early.status, 400, "{}", early.body);
    assert!(early.body.contains("WAITING_UPLOAD"), "{}", early.body);

    let anonymous = sb.put(url, PNG, false);
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
    let not_an_image = sb.put(url, b"hello", true);
    assert_eq!(not_an_image.status, 400, "{}", not_an_image.body);
    assert_eq!(sb.put(url, PNG, true).status, 201);

    // A member token cannot read images.
    let read = raw(
        sb.rest(
            "GET",
            &format!("images/{}", mypostshare::http::percent_encode(urn)),
        ),
        None,
    );
    assert_eq!(read.status, 403, "{}", read.body);
    assert_eq!(read.json()["code"], "ACCESS_DENIED");

    let posted = sb.create_post("with image", json!({"id": urn, "altText": "a dot"}));
    assert_eq!(posted.status, 201, "{}", posted.body);
    let unknown = sb.create_post(
        "unknown media",
        json!({"id": "urn:li:image:C4E10AQnothing"}),
    );
    assert_eq!(unknown.status, 400);
    assert_eq!(
        unknown.json()["errorDetails"]["inputErrors"][0]["input"]["inputPath"]["fieldPath"],
        "content/media/id"
    );
}

#[test]
fn the_images_api_checks_owner_and_scope() {
    let sb = simulated();
    let other = sb.call(
        "POST",
        "images?action=initializeUpload",
        json!({"initializeUploadRequest": {"owner": "urn:li:person:someoneelse"}}),
    );
    assert_eq!(other.status, 403, "{}", other.body);
    let missing = sb.call("POST", "images?action=initializeUpload", json!({}));
    assert_eq!(missing.status, 422, "{}", missing.body);
    let no_version = raw(
        support::agent()
            .post(&format!(
                "{}/linkedin/rest/images?action=initializeUpload",
                sb.base
            ))
            .set("Authorization", &format!("Bearer {}", sb.token)),
        Some(b"{}"),
    );
    assert_eq!(no_version.status, 400, "{}", no_version.body);
}

#[test]
fn the_videos_api_takes_exact_parts_and_their_etags_in_order() {
    let sb = simulated();
    let size = PART_SIZE + 1000;
    let value = sb.init_video(size);
    let urn = value["video"].as_str().unwrap().to_string();
    let parts = value["uploadInstructions"].as_array().unwrap().clone();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["firstByte"], 0);
    assert_eq!(parts[0]["lastByte"], PART_SIZE - 1);
    assert_eq!(parts[1]["firstByte"], PART_SIZE);
    assert_eq!(parts[1]["lastByte"], size - 1);
    assert_eq!(value["uploadToken"], "");
    assert!(value.get("thumbnailUploadUrl").is_none());

    let file = mypostshare_sim::media::sample_mp4(size as usize);
    let url = |i: usize| parts[i]["uploadUrl"].as_str().unwrap().to_string();
    let finalize = |ids: Value| {
        sb.call(
            "POST",
            "videos?action=finalizeUpload",
            json!({"finalizeUploadRequest": {"video": urn, "uploadToken": "", "uploadedPartIds": ids}}),
        )
    };

    // Wrong length, then a part missing at finalize.
    let short = sb.put(&url(1), &file[PART_SIZE as usize..], false);
    assert_eq!(short.status, 200, "{}", short.body);
    let wrong = sb.put(&url(0), &file[..1000], false);
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    let first_etag_missing = finalize(json!([short.header("etag").unwrap()]));
    assert_eq!(
        first_etag_missing.status, 400,
        "{}",
        first_etag_missing.body
    );

    // Both parts; an invalid token on a part URL is refused.
    let bad_token = raw(
        support::agent()
            .put(&url(0))
            .set("Authorization", "Bearer not-a-token"),
        Some(&file[..PART_SIZE as usize]),
    );
    assert_eq!(bad_token.status, 401);
    let first = sb.put(&url(0), &file[..PART_SIZE as usize], true);
    assert_eq!(first.status, 200, "{}", first.body);
    let e0 = first.header("etag").unwrap().to_string();
    let e1 = short.header("etag").unwrap().to_string();
    assert_ne!(e0, e1);
    assert_eq!(finalize(json!([e1, e0])).status, 400, "wrong order");
    assert_eq!(finalize(json!([e0, "made-up"])).status, 400, "wrong id");

    // Not usable until finalized and processed (two polls with these settings).
    assert_eq!(sb.video_status(&urn), "WAITING_UPLOAD");
    let early = sb.create_post("early video", json!({"id": urn, "title": "t"}));
    assert_eq!(early.status, 400, "{}", early.body);
    let ok = finalize(json!([e0, e1]));
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(finalize(json!([e0, e1])).status, 200, "a repeated finalize");
    assert_eq!(
        sb.put(&url(0), &file[..PART_SIZE as usize], false).status,
        400,
        "no uploads after finalize"
    );
    assert_eq!(sb.video_status(&urn), "PROCESSING");
    assert!(
        sb.create_post("processing", json!({"id": urn}))
            .body
            .contains("PROCESSING")
    );
    assert_eq!(sb.video_status(&urn), "PROCESSING");
    assert_eq!(sb.video_status(&urn), "AVAILABLE");
    let posted = sb.create_post("the video", json!({"id": urn, "title": "Clip"}));
    assert_eq!(posted.status, 201, "{}", posted.body);
}

#[test]
fn the_videos_api_checks_sizes_and_thumbnails() {
    let sb = simulated();
    for size in [json!(0), json!(-5), json!("big"), json!(600u64 << 20)] {
        let answer = sb.call(
            "POST",
            "videos?action=initializeUpload",
            json!({"initializeUploadRequest": {"owner": sb.person, "fileSizeBytes": size}}),
        );
        assert_eq!(answer.status, 400, "{size}: {}", answer.body);
    }
    let missing = sb.call(
        "POST",
        "videos?action=initializeUpload",
        json!({"initializeUploadRequest": {"owner": sb.person}}),
    );
    assert_eq!(missing.status, 422);
    let init = sb.call(
        "POST",
        "videos?action=initializeUpload",
        json!({"initializeUploadRequest": {"owner": sb.person, "fileSizeBytes": 500, "uploadThumbnail": true}}),
    );
    let value = init.json()["value"].clone();
    let thumbnail = value["thumbnailUploadUrl"].as_str().unwrap();
    assert_eq!(
        sb.put(thumbnail, b"GIF89a", false).status,
        400,
        "GIF thumbnail"
    );
    assert_eq!(sb.put(thumbnail, PNG, false).status, 201);
    let part = value["uploadInstructions"][0]["uploadUrl"]
        .as_str()
        .unwrap();
    assert_eq!(sb.put(part, &[0u8; 500], false).status, 400, "not an MP4");
    let unknown = raw(sb.rest("GET", "videos/urn%3Ali%3Avideo%3Anothing"), None);
    assert_eq!(unknown.status, 404);
}
