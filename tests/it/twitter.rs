//! X (`twitter`) end to end: the hosted connect flow with PKCE, text/image/GIF/video posts and
//! what the simulator recorded, X's weighted length and the other validation rules; then the
//! simulator's own refusals at the level of X's API. Deny, faults, duplicates and token
//! refresh are rows of the scenario table (`scenarios.rs`).

use crate::adapter_calls::{Adapter, content, found};
use crate::support::{Setup, TestApp, query_value, send};
use base64::Engine as _;
use mypostshare::providers::{CallKind, Deletion, MediaKind, Platform, ProviderError, ReadBack};
use serde_json::{Value, json};

fn connected() -> TestApp {
    let app = TestApp::start_with(Setup::default());
    app.upsert_user("u1");
    app.connect("u1", "twitter", "Alex Morgan");
    app
}

fn publish(app: &TestApp, body: Value) -> crate::support::Reply {
    let mut body = body;
    body["externalUserId"] = json!("u1");
    body["platforms"] = json!(["twitter"]);
    app.post("/api/v1/posts", body)
}

fn result(post: &Value) -> &Value {
    &post["platformResults"][0]
}

fn connection(app: &TestApp) -> Value {
    app.get("/api/v1/end-users/u1/connections").json()[0].clone()
}

/// How many STATUS polls a video or GIF stays `in_progress` (the simulator's test setting).
fn set_processing_polls(app: &TestApp, polls: u32) {
    app.sim_settings("twitter", json!({"processingPolls": polls}));
}

fn sample_sha(app: &TestApp, name: &str) -> String {
    let url = app.sample_media(name);
    let mut bytes = Vec::new();
    use std::io::Read;
    crate::support::agent()
        .get(&url)
        .call()
        .unwrap()
        .into_reader()
        .read_to_end(&mut bytes)
        .unwrap();
    mypostshare::crypto::sha256_hex(&bytes)
}

// ----- connect -----

#[test]
fn connect_with_allow_stores_the_x_account() {
    let app = connected();
    let c = connection(&app);
    assert_eq!(c["platform"], "twitter");
    assert_eq!(c["status"], "connected");
    assert_eq!(c["remoteUsername"], "AlexMorgan");
    assert_eq!(c["accountType"], "person");
    let id = c["remoteAccountId"].as_str().unwrap();
    assert_eq!(id.len(), 19);
    assert!(id.bytes().all(|b| b.is_ascii_digit()));
    // offline.access gave a refresh token; the access token lives two hours
    assert_eq!(c["tokenStatus"], "active_refreshable");
    assert_eq!(c["canAutoRefresh"], true);
    let expires =
        mypostshare::clock::parse_timestamp(c["accessTokenExpiresAt"].as_str().unwrap()).unwrap();
    assert_eq!((expires - app.clock_now()).num_minutes(), 119);
}

#[test]
fn the_authorize_redirect_carries_pkce_and_the_scopes() {
    let app = TestApp::start();
    app.upsert_user("u1");
    let session = app.create_session_for("u1", "twitter");
    let page = send("GET", session["connectUrl"].as_str().unwrap(), &[], None);
    let (action, fields) = crate::support::parse_form(&page.body);
    let encoded = mypostshare::http::encode_query(
        &fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
    );
    let continued = send(
        "POST",
        &format!("{}{action}", app.base),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(&encoded),
    );
    let authorize = continued.header("location").unwrap().to_string();
    assert!(authorize.contains("/sandbox/twitter/i/oauth2/authorize?"));
    assert_eq!(
        query_value(&authorize, "scope").as_deref(),
        Some("tweet.read tweet.write users.read media.write offline.access")
    );
    assert_eq!(
        query_value(&authorize, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(query_value(&authorize, "code_challenge").unwrap().len(), 43);
    let consent = send("GET", &authorize, &[], None);
    assert!(consent.body.contains("mypostshare (sandbox)"));
    assert!(consent.body.contains("Upload media for you"));
}

// ----- publishing -----

#[test]
fn a_text_post_is_published_with_its_x_url() {
    let app = connected();
    let post = publish(&app, json!({"content": "Hello from the sandbox"})).json();
    assert_eq!(post["status"], "published", "{post}");
    let id = result(&post)["externalId"].as_str().unwrap();
    assert_eq!(
        result(&post)["url"],
        format!("https://x.com/AlexMorgan/status/{id}")
    );
    let recorded = app.sim_posts_of("twitter");
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["id"], id);
    assert_eq!(recorded[0]["text"], "Hello from the sandbox");
    assert_eq!(recorded[0]["media"], json!([]));
    assert_eq!(recorded[0]["authorId"], connection(&app)["remoteAccountId"]);
    assert_eq!(recorded[0]["replySettings"], Value::Null);
}

#[test]
fn reply_settings_are_passed_to_x() {
    let app = connected();
    let post = publish(
        &app,
        json!({"content": "Only followers reply", "platformOptions": {"twitter": {"replySettings": "following"}}}),
    )
    .json();
    assert_eq!(post["status"], "published", "{post}");
    assert_eq!(app.sim_posts_of("twitter")[0]["replySettings"], "following");
}

#[test]
fn an_image_post_uploads_the_image_and_attaches_it() {
    let app = connected();
    let url = app.sample_media("sample.png");
    let post = publish(&app, json!({"content": "A picture", "mediaUrl": url})).json();
    assert_eq!(post["status"], "published", "{post}");
    let media = &app.sim_posts_of("twitter")[0]["media"];
    assert_eq!(media.as_array().unwrap().len(), 1);
    assert_eq!(media[0]["category"], "tweet_image");
    assert_eq!(media[0]["mediaType"], "image/png");
    assert_eq!(media[0]["sha256"], sample_sha(&app, "sample.png"));
}

#[test]
fn a_gif_is_uploaded_as_an_animated_gif_and_waits_for_processing() {
    let app = connected();
    let url = app.sample_media("sample.gif");
    let post = publish(&app, json!({"content": "Animated", "mediaUrl": url})).json();
    assert_eq!(post["status"], "published", "{post}");
    let media = &app.sim_posts_of("twitter")[0]["media"];
    assert_eq!(media[0]["category"], "tweet_gif");
    assert_eq!(media[0]["sha256"], sample_sha(&app, "sample.gif"));
}

#[test]
fn a_video_is_uploaded_in_chunks_and_published_once_processed() {
    let app = connected();
    set_processing_polls(&app, 2);
    let name = "sample.mp4?bytes=2500000";
    let post = publish(
        &app,
        json!({"content": "A video", "mediaUrl": app.sample_media(name)}),
    )
    .json();
    assert_eq!(post["status"], "published", "{post}");
    let media = &app.sim_posts_of("twitter")[0]["media"];
    assert_eq!(media[0]["category"], "tweet_video");
    assert_eq!(media[0]["size"], 2_500_000);
    assert_eq!(media[0]["sha256"], sample_sha(&app, name));
}

#[test]
fn slow_video_processing_is_finished_later_by_the_engine() {
    // A short budget, so the publish call answers before the engine would look again itself.
    let app = TestApp::start_with(Setup {
        publish_budget: std::time::Duration::from_millis(500),
        ..Setup::default()
    });
    app.upsert_user("u1");
    app.connect("u1", "twitter", "Alex Morgan");
    // more STATUS polls than one publish call makes (8), fewer than two calls make
    set_processing_polls(&app, 12);
    let post = publish(
        &app,
        json!({"content": "Long render", "mediaUrl": app.sample_media("sample.mp4")}),
    )
    .json();
    let id = post["id"].as_str().unwrap();
    assert_eq!(post["status"], "processing", "{post}");
    assert_eq!(result(&post)["status"], "processing");
    assert!(app.sim_posts_of("twitter").is_empty());
    // Once the adapter has handed the wait to the engine (due one check_after_secs later),
    // the dispatcher resumes it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        app.clock.advance(chrono::Duration::seconds(5));
        if app.run_job("dispatch_due_deliveries") == "queued 1 deliveries" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never became due");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let done = app.wait_for_post(id, |p| p["status"] == "published");
    assert_eq!(done["status"], "published", "{done}");
    let recorded = app.sim_posts_of("twitter");
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["media"][0]["category"], "tweet_video");
    assert_eq!(result(&done)["externalId"], recorded[0]["id"]);
}

// ----- validation -----

fn refused(app: &TestApp, body: Value) -> (String, String) {
    let balance = app.balance();
    let reply = publish(app, body);
    let code = reply.error_code(400);
    assert_eq!(app.balance(), balance, "credits changed");
    (code, reply.json()["message"].as_str().unwrap().to_string())
}

#[test]
fn x_counts_text_by_weight() {
    let app = connected();
    let (code, message) = refused(&app, json!({"content": "a".repeat(281)}));
    assert_eq!(code, "CONTENT_TOO_LONG");
    assert!(message.contains("281"), "{message}");
    // 141 CJK characters weigh 282
    let (code, message) = refused(&app, json!({"content": "字".repeat(141)}));
    assert_eq!(code, "CONTENT_TOO_LONG");
    assert!(message.contains("282"), "{message}");
    // emoji weigh 2 each: 140 fit, 141 do not
    let (code, _) = refused(&app, json!({"content": "🎉".repeat(141)}));
    assert_eq!(code, "CONTENT_TOO_LONG");
    // a long URL counts 23: 256 + 1 + 23 = 280 is accepted by us and by X
    let text = format!(
        "{} https://example.com/{}",
        "b".repeat(256),
        "p".repeat(300)
    );
    let post = publish(&app, json!({"content": text})).json();
    assert_eq!(post["status"], "published", "{post}");
    assert_eq!(app.sim_posts_of("twitter")[0]["text"], text);
    let post = publish(&app, json!({"content": "🎉".repeat(140)})).json();
    assert_eq!(post["status"], "published", "{post}");
}

#[test]
fn media_types_options_and_thumbnails_follow_x_rules() {
    let app = connected();
    let (code, _) = refused(
        &app,
        json!({"content": "bmp", "mediaUrl": "https://cdn.example.com/a.bmp"}),
    );
    assert_eq!(code, "UNSUPPORTED_MEDIA_TYPE");
    let (code, _) = refused(
        &app,
        json!({"content": "webm", "mediaUrl": "https://cdn.example.com/a.webm"}),
    );
    assert_eq!(code, "UNSUPPORTED_MEDIA_TYPE");
    let (code, _) = refused(
        &app,
        json!({"content": "thumb", "mediaUrl": "https://cdn.example.com/a.png", "thumbnailUrl": "https://cdn.example.com/t.png"}),
    );
    assert_eq!(code, "UNSUPPORTED_MEDIA_TYPE");
    let (code, message) = refused(
        &app,
        json!({"content": "x", "platformOptions": {"twitter": {"visibility": "PUBLIC"}}}),
    );
    assert_eq!(code, "VALIDATION_FAILED");
    assert!(message.contains("replySettings"), "{message}");
    let (code, message) = refused(
        &app,
        json!({"content": "x", "platformOptions": {"twitter": {"replySettings": "everyone"}}}),
    );
    assert_eq!(code, "VALIDATION_FAILED");
    assert!(message.contains("mentionedUsers"), "{message}");
    assert!(app.sim_posts_of("twitter").is_empty());
}

// ----- read-back of an interrupted publish, and delete -----

fn adapter(app: &TestApp) -> Adapter<'_> {
    Adapter::of(app, "u1", Platform::Twitter)
}

/// A post made on X directly with the connection's token (not through the appliance).
fn x_post(app: &TestApp, token: &str, text: &str) -> String {
    let r = send(
        "POST",
        &format!("{}/sandbox/twitter/2/tweets", app.base),
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("Content-Type", "application/json"),
        ],
        Some(&json!({"text": text}).to_string()),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["data"]["id"].as_str().unwrap().to_string()
}

#[test]
fn read_back_finds_a_text_post_as_x_stores_it() {
    let app = connected();
    let since = app.clock_now();
    let text = "Tips & <tricks> at example.com and https://shop.example.com/a?b=1&c=2";
    let post = publish(&app, json!({"content": text})).json();
    assert_eq!(post["status"], "published", "{post}");
    let id = result(&post)["externalId"].as_str().unwrap();
    let published = found(adapter(&app).find(&content(text, None, None), None, since));
    assert_eq!(published.external_id, id);
    assert_eq!(
        published.url.as_deref(),
        Some(format!("https://x.com/AlexMorgan/status/{id}").as_str())
    );
    // The same text with an image attached is another post.
    let with_image = content(
        text,
        Some("https://cdn.example.com/a.png"),
        Some(MediaKind::Image),
    );
    assert!(matches!(
        adapter(&app).find(&with_image, None, since),
        Ok(ReadBack::Absent)
    ));
}

#[test]
fn read_back_finds_a_media_post_by_kind_or_by_the_uploaded_media_id() {
    let app = connected();
    let since = app.clock_now();
    let url = app.sample_media("sample.png");
    let post = publish(&app, json!({"content": "A picture", "mediaUrl": url})).json();
    assert_eq!(post["status"], "published", "{post}");
    let id = result(&post)["externalId"].as_str().unwrap();
    let image = content("A picture", Some(&url), Some(MediaKind::Image));
    assert_eq!(
        found(adapter(&app).find(&image, None, since)).external_id,
        id
    );
    let video = content("A picture", Some(&url), Some(MediaKind::Video));
    assert!(matches!(
        adapter(&app).find(&video, None, since),
        Ok(ReadBack::Absent)
    ));
    // The media id an interrupted resume stored is evidence enough, whatever the text.
    let media_id = app.sim_posts_of("twitter")[0]["media"][0]["id"].clone();
    let state = json!({"mediaId": media_id});
    let other_text = content("changed", Some(&url), Some(MediaKind::Image));
    assert_eq!(
        found(adapter(&app).find(&other_text, Some(&state), since)).external_id,
        id
    );
}

#[test]
fn read_back_is_absent_when_the_window_holds_no_such_post() {
    let app = connected();
    let x = adapter(&app);
    x_post(&app, &x.token, "Said an hour ago");
    app.clock.advance(chrono::Duration::hours(1));
    let since = app.clock_now();
    x_post(&app, &x.token, "Something else");
    assert!(matches!(
        x.find(&content("Said an hour ago", None, None), None, since),
        Ok(ReadBack::Absent)
    ));
}

#[test]
fn read_back_cannot_tell_two_posts_of_the_same_content_apart() {
    let app = connected();
    let x = adapter(&app);
    let since = app.clock_now();
    x_post(&app, &x.token, "Good morning");
    // X refuses the same text again for a while; a day later it takes it (the two-hour token
    // has expired by then: connect again for a fresh one).
    app.clock.advance(chrono::Duration::hours(25));
    app.connect("u1", "twitter", "Alex Morgan");
    let x = adapter(&app);
    x_post(&app, &x.token, "Good morning");
    match x.find(&content("Good morning", None, None), None, since) {
        Ok(ReadBack::Unknowable { reason }) => {
            assert!(reason.contains("2 posts with this content"), "{reason}")
        }
        other => panic!("expected Unknowable, got {other:?}"),
    }
}

#[test]
fn read_back_pages_through_the_window_and_gives_up_past_five_hundred_posts() {
    let app = connected();
    let x = adapter(&app);
    let since = app.clock_now();
    let wanted = x_post(&app, &x.token, "The one we look for");
    for n in 0..150 {
        x_post(&app, &x.token, &format!("Later post {n}"));
    }
    let post = content("The one we look for", None, None);
    assert_eq!(found(x.find(&post, None, since)).external_id, wanted);
    for n in 150..520 {
        x_post(&app, &x.token, &format!("Later post {n}"));
    }
    match x.find(&post, None, since) {
        Ok(ReadBack::Unknowable { reason }) => {
            assert!(reason.contains("more than 500"), "{reason}")
        }
        other => panic!("expected Unknowable, got {other:?}"),
    }
}

#[test]
fn a_failed_listing_is_an_error_to_look_again_after() {
    let app = connected();
    app.inject_fault(json!({"platform": "twitter", "kind": "server_error", "status": 503, "path": "/tweets", "method": "GET"}));
    match adapter(&app).find(&content("x", None, None), None, app.clock_now()) {
        Err(ProviderError::Transient {
            status: 503, call, ..
        }) => {
            assert_eq!(call, CallKind::SafeToRetry)
        }
        other => panic!("expected a transient error, got {other:?}"),
    }
}

/// A video X was still processing: the delivery waits, then its resume creates the post, and
/// that call's answer is lost. The read-back (with the stored `mediaId`) finds the post X made;
/// nothing is published twice.
#[test]
fn a_lost_answer_while_resuming_a_video_is_read_back_as_published() {
    let app = TestApp::start_with(Setup {
        configure: |config| config.provider_timeout = std::time::Duration::from_secs(3),
        publish_budget: std::time::Duration::from_millis(500),
        ..Setup::default()
    });
    app.upsert_user("u1");
    app.connect("u1", "twitter", "Alex Morgan");
    // Nine STATUS polls in progress: the publish call polls eight, the resume finds it done
    // and creates the post, whose answer X then holds past the appliance's patience.
    set_processing_polls(&app, 9);
    app.inject_fault(json!({"platform": "twitter", "kind": "lost_answer", "delayMs": 5000, "method": "POST", "path": "/2/tweets"}));
    let url = app.sample_media("sample.mp4");
    let post = publish(&app, json!({"content": "A clip", "mediaUrl": url})).json();
    assert_eq!(post["status"], "processing", "{post}");
    let id = post["id"].as_str().unwrap();
    // Once the adapter has handed the wait to the engine, the dispatcher resumes it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        app.clock.advance(chrono::Duration::seconds(5));
        if app.run_job("dispatch_due_deliveries") == "queued 1 deliveries" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never became due");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The resume and its lost answer take seconds: look every quarter of a second (the API's
    // burst would not last polling at wait_for_post's pace).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let interrupted = loop {
        std::thread::sleep(std::time::Duration::from_millis(250));
        let now = app.get(&format!("/api/v1/posts/{id}")).json();
        let decided =
            result(&now)["errorCode"] == "OUTCOME_UNKNOWN" || now["status"] != "processing";
        if decided || std::time::Instant::now() > deadline {
            break now;
        }
    };
    assert_eq!(interrupted["status"], "processing", "{interrupted}");
    assert_eq!(result(&interrupted)["errorCode"], "OUTCOME_UNKNOWN");
    assert_eq!(app.sim_posts_of("twitter").len(), 1, "X made the post");
    app.clock.advance(chrono::Duration::seconds(21));
    assert_eq!(
        app.run_job("dispatch_due_deliveries"),
        "queued 1 deliveries"
    );
    let done = app.wait_for_post(id, |p| p["status"] != "processing");
    assert_eq!(done["status"], "published", "{done}");
    let recorded = app.sim_posts_of("twitter");
    assert_eq!(recorded.len(), 1, "never published twice");
    assert_eq!(result(&done)["externalId"], recorded[0]["id"]);
}

#[test]
fn delete_removes_the_post_and_a_second_delete_finds_it_gone() {
    let app = connected();
    let post = publish(&app, json!({"content": "Short-lived"})).json();
    let id = result(&post)["externalId"].as_str().unwrap().to_string();
    let x = adapter(&app);
    assert!(x.provider.can_delete());
    assert_eq!(x.delete(&id).unwrap(), Deletion::Deleted);
    let recorded = &app.sim_posts_of("twitter")[0];
    assert_eq!(recorded["deleted"], true);
    assert_eq!(x.delete(&id).unwrap(), Deletion::AlreadyGone);
    assert!(matches!(
        x.delete("not-a-post-id"),
        Err(ProviderError::Rejected { .. })
    ));
    // Gone from the timeline, so read-back no longer finds it.
    assert!(matches!(
        x.find(
            &content("Short-lived", None, None),
            None,
            app.clock_now() - chrono::Duration::minutes(5)
        ),
        Ok(ReadBack::Absent)
    ));
}

#[test]
fn delete_of_another_accounts_post_is_refused_in_xs_words() {
    let app = connected();
    app.upsert_user("u2");
    app.connect("u2", "twitter", "Sam Lee");
    let theirs = x_post(
        &app,
        &Adapter::of(&app, "u2", Platform::Twitter).token,
        "Not yours",
    );
    match adapter(&app).delete(&theirs) {
        Err(ProviderError::Rejected { message, .. }) => {
            assert!(
                message.contains("only the account that created a post"),
                "{message}"
            )
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_ne!(app.sim_posts_of("twitter")[0]["deleted"], true);
}

#[test]
fn deleting_a_post_the_person_already_deleted_on_x_reports_it_already_gone() {
    let app = connected();
    let post = publish(&app, json!({"content": "Deleted by hand first"})).json();
    let tweet = result(&post)["externalId"].as_str().unwrap().to_string();
    let token = adapter(&app).token;
    let by_hand = send(
        "DELETE",
        &format!("{}/sandbox/twitter/2/tweets/{tweet}", app.base),
        &[("Authorization", &format!("Bearer {token}"))],
        None,
    );
    assert_eq!(by_hand.json(), json!({"data": {"deleted": true}}));
    let id = post["id"].as_str().unwrap();
    let answer = app.call("DELETE", &format!("/api/v1/posts/{id}"), None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let answer = answer.json();
    let deletion = &result(&answer)["deletion"];
    assert_eq!(deletion["status"], "deleted", "{deletion}");
    assert_eq!(deletion["alreadyGone"], true);
}

// ----- the simulator at X's API level -----

const CLIENT_ID: &str = "sim-test-client";
const CLIENT_SECRET: &str = "sim-test-secret";
const CALLBACK: &str = "https://app.example.com/x/callback";
const VERIFIER: &str = "a-verifier-of-at-least-forty-three-characters-long-0123";

struct Sim {
    app: TestApp,
    base: String,
}

impl Sim {
    fn new() -> Sim {
        let app = TestApp::start();
        let r = send(
            "POST",
            &format!("{}/sandbox/_sim/clients", app.base),
            &[("Content-Type", "application/json")],
            Some(
                &json!({"platform": "twitter", "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "name": "Test App", "redirectUris": [CALLBACK]})
                    .to_string(),
            ),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        // The simulator's loopback listener, which the appliance's adapters call (its body
        // limit fits X's upload segments).
        let base = app.running.state.config.endpoints[&mypostshare::providers::Platform::Twitter]
            .api_base
            .clone();
        Sim { app, base }
    }

    fn authorize_query(&self, scope: &str, challenge: Option<&str>) -> String {
        let mut pairs = vec![
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", CALLBACK),
            ("scope", scope),
            ("state", "st4te"),
        ];
        if let Some(challenge) = challenge {
            pairs.push(("code_challenge", challenge));
            pairs.push(("code_challenge_method", "S256"));
        }
        mypostshare::http::encode_query(&pairs)
    }

    /// Presses Allow; returns the code.
    fn code(&self, scope: &str) -> String {
        let challenge = mypostshare::crypto::pkce_challenge(VERIFIER);
        let query = self.authorize_query(scope, Some(&challenge));
        let page = send(
            "GET",
            &format!("{}/i/oauth2/authorize?{query}", self.base),
            &[],
            None,
        );
        assert_eq!(page.status, 200, "{}", page.body);
        let body = format!("{query}&member_name=Sam+Lee&decision=allow");
        let r = send(
            "POST",
            &format!("{}/i/oauth2/authorize", self.base),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(&body),
        );
        assert_eq!(r.status, 302, "{}", r.body);
        let location = r.header("location").unwrap();
        assert_eq!(query_value(location, "state").as_deref(), Some("st4te"));
        query_value(location, "code").unwrap()
    }

    fn token_call(
        &self,
        basic: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> crate::support::Reply {
        let mut headers = vec![(
            "Content-Type".to_string(),
            "application/x-www-form-urlencoded".to_string(),
        )];
        if let Some((id, secret)) = basic {
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
            headers.push(("Authorization".into(), format!("Basic {encoded}")));
        }
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        send(
            "POST",
            &format!("{}/2/oauth2/token", self.base),
            &headers,
            Some(&mypostshare::http::encode_query(form)),
        )
    }

    fn exchange(&self, code: &str) -> crate::support::Reply {
        self.token_call(
            Some((CLIENT_ID, CLIENT_SECRET)),
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", VERIFIER),
            ],
        )
    }

    fn tokens(&self, scope: &str) -> (String, Option<String>) {
        let r = self.exchange(&self.code(scope));
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        (
            v["access_token"].as_str().unwrap().to_string(),
            v["refresh_token"].as_str().map(str::to_string),
        )
    }

    fn api(
        &self,
        method: &str,
        path: &str,
        token: &str,
        content_type: &str,
        body: Option<&[u8]>,
    ) -> crate::support::Reply {
        let auth = format!("Bearer {token}");
        let mut request = crate::support::agent()
            .request(method, &format!("{}{path}", self.base))
            .set("Authorization", &auth);
        if !content_type.is_empty() {
            request = request.set("Content-Type", content_type);
        }
        let result = match body {
            Some(bytes) => request.send_bytes(bytes),
            None => request.call(),
        };
        let response = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        let status = response.status();
        let headers = response
            .headers_names()
            .into_iter()
            .map(|n| {
                let v = response.header(&n).unwrap_or_default().to_string();
                (n, v)
            })
            .collect();
        crate::support::Reply {
            status,
            body: response.into_string().unwrap_or_default(),
            headers,
        }
    }

    fn json(&self, path: &str, token: &str, body: &Value) -> crate::support::Reply {
        self.api(
            "POST",
            path,
            token,
            "application/json",
            Some(body.to_string().as_bytes()),
        )
    }
}

const ALL_SCOPES: &str = "tweet.read tweet.write users.read media.write offline.access";

#[test]
fn sim_authorize_requires_pkce_and_known_clients() {
    let sim = Sim::new();
    let query = sim.authorize_query(ALL_SCOPES, None);
    let r = send(
        "GET",
        &format!("{}/i/oauth2/authorize?{query}", sim.base),
        &[],
        None,
    );
    assert_eq!(r.status, 302);
    let location = r.header("location").unwrap();
    assert!(location.starts_with(CALLBACK));
    assert_eq!(
        query_value(location, "error").as_deref(),
        Some("invalid_request")
    );
    let bad = query.replace(CLIENT_ID, "nobody");
    let r = send(
        "GET",
        &format!("{}/i/oauth2/authorize?{bad}", sim.base),
        &[],
        None,
    );
    assert_eq!(
        r.status, 400,
        "an unknown client gets a page, never a redirect"
    );
    assert!(r.header("location").is_none());
}

#[test]
fn sim_token_endpoint_refuses_what_x_refuses() {
    let sim = Sim::new();
    let code = sim.code(ALL_SCOPES);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("code_verifier", VERIFIER),
    ];
    // no Basic header, or a wrong secret
    let r = sim.token_call(None, &form);
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "unauthorized_client");
    assert_eq!(
        sim.token_call(Some((CLIENT_ID, "wrong")), &form).status,
        401
    );
    // missing or wrong verifier, wrong redirect
    let r = sim.token_call(Some((CLIENT_ID, CLIENT_SECRET)), &form[..3]);
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("code_verifier")
    );
    let mut wrong = form;
    wrong[3] = (
        "code_verifier",
        "another-verifier-of-at-least-forty-three-characters",
    );
    let r = sim.token_call(Some((CLIENT_ID, CLIENT_SECRET)), &wrong);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_request");
    assert_eq!(
        r.json()["error_description"],
        "Value passed for the authorization code was invalid."
    );
    let mut wrong = form;
    wrong[2] = ("redirect_uri", "https://app.example.com/other");
    assert_eq!(
        sim.token_call(Some((CLIENT_ID, CLIENT_SECRET)), &wrong)
            .status,
        400
    );
    // the right call works once
    let r = sim.exchange(&code);
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["token_type"], "bearer");
    assert_eq!(v["expires_in"], 7200);
    assert_eq!(v["scope"], ALL_SCOPES);
    assert!(v["refresh_token"].is_string());
    assert_eq!(sim.exchange(&code).status, 400, "codes are single use");
    // codes live 30 seconds
    let late = sim.code(ALL_SCOPES);
    sim.app.clock.advance(chrono::Duration::seconds(31));
    assert_eq!(sim.exchange(&late).status, 400);
    // no offline.access, no refresh token
    let (_, refresh) = sim.tokens("tweet.read users.read");
    assert!(refresh.is_none());
}

#[test]
fn sim_refresh_tokens_rotate_and_work_once() {
    let sim = Sim::new();
    let (_, refresh) = sim.tokens(ALL_SCOPES);
    let refresh = refresh.unwrap();
    let form = |token: &str| {
        vec![
            ("grant_type".to_string(), "refresh_token".to_string()),
            ("refresh_token".to_string(), token.to_string()),
        ]
    };
    let call = |token: &str| {
        let pairs = form(token);
        let pairs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        sim.token_call(Some((CLIENT_ID, CLIENT_SECRET)), &pairs)
    };
    let first = call(&refresh);
    assert_eq!(first.status, 200, "{}", first.body);
    let rotated = first.json()["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rotated, refresh);
    let replay = call(&refresh);
    assert_eq!(replay.status, 400);
    assert_eq!(replay.json()["error"], "invalid_request");
    assert_eq!(
        replay.json()["error_description"],
        "Value passed for the token was invalid."
    );
    assert_eq!(call(&rotated).status, 200);
}

#[test]
fn sim_access_tokens_expire_after_two_hours_and_die_on_revoke() {
    let sim = Sim::new();
    let (token, _) = sim.tokens(ALL_SCOPES);
    let me = sim.api("GET", "/2/users/me", &token, "", None);
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["data"]["username"], "SamLee");
    assert!(me.header("x-rate-limit-remaining").is_some());
    assert!(me.header("x-rate-limit-reset").is_some());
    sim.app.clock.advance(chrono::Duration::hours(2));
    let r = sim.api("GET", "/2/users/me", &token, "", None);
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["title"], "Unauthorized");
    let (token, _) = sim.tokens(ALL_SCOPES);
    let r = sim.token_call(
        Some((CLIENT_ID, CLIENT_SECRET)),
        &[("token", token.as_str())],
    );
    assert_eq!(
        r.status, 400,
        "token needs grant_type; revoke has its own path"
    );
    let revoke = send(
        "POST",
        &format!("{}/2/oauth2/revoke", sim.base),
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            (
                "Authorization",
                &format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD
                        .encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
                ),
            ),
        ],
        Some(&mypostshare::http::encode_query(&[(
            "token",
            token.as_str(),
        )])),
    );
    assert_eq!(revoke.status, 200);
    assert_eq!(revoke.json()["revoked"], true);
    assert_eq!(sim.api("GET", "/2/users/me", &token, "", None).status, 401);
}

#[test]
fn sim_tweets_refuse_unknown_fields_long_text_and_unready_media() {
    let sim = Sim::new();
    let (token, _) = sim.tokens(ALL_SCOPES);
    let r = sim.json(
        "/2/tweets",
        &token,
        &json!({"text": "hi", "visibility": "PUBLIC"}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["title"], "Invalid Request");
    assert!(r.body.contains("$.visibility"));
    let r = sim.json("/2/tweets", &token, &json!({"text": "字".repeat(141)}));
    assert_eq!(r.status, 400);
    assert!(r.body.contains("282"), "{}", r.body);
    let r = sim.json("/2/tweets", &token, &json!({}));
    assert_eq!(r.status, 400);
    let r = sim.json(
        "/2/tweets",
        &token,
        &json!({"text": "hi", "reply_settings": "everyone"}),
    );
    assert_eq!(r.status, 400);
    // a video whose processing is not finished cannot be attached yet
    set_processing_polls(&sim.app, 3);
    let init = sim.json(
        "/2/media/upload/initialize",
        &token,
        &json!({"media_type": "video/mp4", "total_bytes": 4, "media_category": "tweet_video"}),
    );
    assert_eq!(init.status, 200, "{}", init.body);
    let id = init.json()["data"]["id"].as_str().unwrap().to_string();
    let boundary = "b0undary";
    let multipart = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"segment_index\"\r\n\r\n0\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"blob\"\r\n\r\nabcd\r\n--{boundary}--\r\n"
    );
    let append = sim.api(
        "POST",
        &format!("/2/media/upload/{id}/append"),
        &token,
        &format!("multipart/form-data; boundary={boundary}"),
        Some(multipart.as_bytes()),
    );
    assert_eq!(append.status, 200, "{}", append.body);
    let empty = sim.api(
        "POST",
        &format!("/2/media/upload/{id}/finalize"),
        &token,
        "",
        None,
    );
    assert_eq!(empty.status, 400);
    assert!(empty.body.contains("Request body must be a JSON object"));
    let fin = sim.json(
        &format!("/2/media/upload/{id}/finalize"),
        &token,
        &json!({}),
    );
    assert_eq!(fin.status, 200, "{}", fin.body);
    assert_eq!(fin.json()["data"]["processing_info"]["state"], "pending");
    let tweet = json!({"text": "too soon", "media": {"media_ids": [id]}});
    let r = sim.json("/2/tweets", &token, &tweet);
    assert_eq!(r.status, 400);
    assert!(r.body.contains("Your media IDs are invalid."));
    let status_path = format!("/2/media/upload?command=STATUS&media_id={id}");
    let states: Vec<String> = (0..3)
        .map(|_| {
            sim.api("GET", &status_path, &token, "", None).json()["data"]["processing_info"]["state"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(states, ["in_progress", "in_progress", "succeeded"]);
    let r = sim.json("/2/tweets", &token, &tweet);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.json()["data"]["edit_history_tweet_ids"][0],
        r.json()["data"]["id"]
    );
    // the same text again is a duplicate, in X's words
    let r = sim.json("/2/tweets", &token, &tweet);
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json()["detail"],
        "You are not allowed to create a Tweet with duplicate content."
    );
}

#[test]
fn sim_uploads_need_media_write_and_small_segments() {
    let sim = Sim::new();
    let (token, _) = sim.tokens("tweet.read tweet.write users.read offline.access");
    let body =
        json!({"media_type": "image/png", "total_bytes": 10, "media_category": "tweet_image"});
    let r = sim.json("/2/media/upload/initialize", &token, &body);
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["title"], "Forbidden");
    let (token, _) = sim.tokens(ALL_SCOPES);
    let too_big = json!({"media_type": "image/png", "total_bytes": 6 * 1024 * 1024, "media_category": "tweet_image"});
    assert_eq!(
        sim.json("/2/media/upload/initialize", &token, &too_big)
            .status,
        400
    );
    let video = json!({"media_type": "video/mp4", "total_bytes": 6 * 1024 * 1024, "media_category": "tweet_video"});
    let init = sim.json("/2/media/upload/initialize", &token, &video);
    let id = init.json()["data"]["id"].as_str().unwrap().to_string();
    let boundary = "b0undary";
    let mut multipart = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"segment_index\"\r\n\r\n0\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"blob\"\r\n\r\n"
    )
    .into_bytes();
    multipart.extend(std::iter::repeat_n(b'x', 6 * 1024 * 1024));
    multipart.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = sim.api(
        "POST",
        &format!("/2/media/upload/{id}/append"),
        &token,
        &format!("multipart/form-data; boundary={boundary}"),
        Some(&multipart),
    );
    assert_eq!(r.status, 413);
    assert!(r.body.is_empty());
}
