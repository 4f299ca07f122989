//! Pinterest end to end: connect, boards as targets, image pins, video pins processed within
//! the call and finished later by the engine, Pinterest's rules, refresh
//! with rotating refresh tokens, and the simulator's own refusals. Deny, faults and duplicates
//! are rows of the scenario table (`scenarios.rs`).

use crate::support::{REDIRECT, Setup, TestApp, query_value, send};
use serde_json::{Value, json};
use std::time::Duration;

fn connected(setup: Setup) -> TestApp {
    let app = TestApp::start_with(setup);
    app.upsert_user("u1");
    app.connect("u1", "pinterest", "Pat Pinner");
    app
}

fn boards(app: &TestApp) -> Vec<Value> {
    let r = app.get("/api/v1/end-users/u1/connections/pinterest/targets");
    assert_eq!(r.status, 200, "{}", r.body);
    r.json().as_array().unwrap().clone()
}

fn board(app: &TestApp) -> String {
    boards(app)[0]["id"].as_str().unwrap().to_string()
}

fn pin(app: &TestApp, body: Value) -> Value {
    let mut body = body;
    body["externalUserId"] = json!("u1");
    body["platforms"] = json!(["pinterest"]);
    let r = app.post("/api/v1/posts", body);
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()
}

fn image_pin(app: &TestApp, text: &str) -> Value {
    let board = board(app);
    pin(
        app,
        json!({"content": text, "mediaUrl": app.sample_media("sample.png"), "platformOptions": {"pinterest": {"boardId": board}}}),
    )
}

fn result(post: &Value) -> &Value {
    &post["platformResults"][0]
}

fn set_processing_polls(app: &TestApp, polls: u32) {
    app.sim_settings("pinterest", json!({"processingPolls": polls}));
}

#[test]
fn connect_lists_the_public_boards_as_targets() {
    let app = connected(Setup::default());
    let connection = &app.get("/api/v1/end-users/u1/connections").json()[0];
    assert_eq!(connection["status"], "connected");
    assert_eq!(connection["remoteUsername"], "patpinner");
    assert_eq!(connection["accountType"], "person");
    assert_eq!(connection["tokenStatus"], "active_refreshable");
    let list = boards(&app);
    let names: Vec<&str> = list.iter().map(|b| b["name"].as_str().unwrap()).collect();
    // The secret board needs boards:read_secret, which is not asked for.
    assert_eq!(names, ["Ideas", "Recipes", "Travel"]);
    assert!(list.iter().all(|b| b["type"] == "board"));
}

#[test]
fn an_image_pin_carries_title_description_link_and_board() {
    let app = connected(Setup::default());
    let board = board(&app);
    let media = app.sample_media("sample.png");
    let post = pin(
        &app,
        json!({"title": "Spring menu", "content": "Five salads", "mediaUrl": media, "platformOptions": {"pinterest": {"boardId": board, "link": "https://shop.example.com/menu"}}}),
    );
    assert_eq!(post["status"], "published", "{post}");
    let recorded = app.sim_posts_of("pinterest");
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["board_id"], board.as_str());
    assert_eq!(recorded[0]["title"], "Spring menu");
    assert_eq!(recorded[0]["description"], "Five salads");
    assert_eq!(recorded[0]["link"], "https://shop.example.com/menu");
    assert_eq!(recorded[0]["media"]["media_type"], "image");
    assert_eq!(recorded[0]["media"]["url"], media.as_str());
    assert_eq!(
        result(&post)["url"],
        format!(
            "https://www.pinterest.com/pin/{}/",
            recorded[0]["id"].as_str().unwrap()
        )
    );
}

#[test]
fn a_video_pin_processed_within_the_call_gets_its_cover() {
    let app = connected(Setup::default());
    let board = board(&app);
    set_processing_polls(&app, 2);
    let post = pin(
        &app,
        json!({"title": "Clip", "content": "Watch", "mediaUrl": app.sample_media("sample.mp4?bytes=5000"), "thumbnailUrl": app.sample_media("sample.png"), "platformOptions": {"pinterest": {"boardId": board}}}),
    );
    assert_eq!(post["status"], "published", "{post}");
    let recorded = app.sim_posts_of("pinterest");
    assert_eq!(recorded[0]["media"]["media_type"], "video");
    assert!(recorded[0]["media"]["media_id"].is_string());
    assert_eq!(
        recorded[0]["media"]["cover_image_url"],
        app.sample_media("sample.png").as_str()
    );
}

#[test]
fn a_slow_video_is_finished_by_the_engine_later() {
    let app = connected(Setup {
        publish_budget: Duration::from_secs(3),
        ..Setup::default()
    });
    let board = board(&app);
    set_processing_polls(&app, 7);
    let post = pin(
        &app,
        json!({"content": "Long video", "mediaUrl": app.sample_media("sample.mp4"), "platformOptions": {"pinterest": {"boardId": board}}}),
    );
    let id = post["id"].as_str().unwrap();
    assert_eq!(post["status"], "processing", "{post}");
    assert!(app.sim_posts_of("pinterest").is_empty());
    app.clock.advance(chrono::Duration::seconds(20));
    assert_eq!(
        app.run_job("dispatch_due_deliveries"),
        "queued 1 deliveries"
    );
    let done = app.wait_for_post(id, |p| p["status"] == "published");
    assert_eq!(done["status"], "published", "{done}");
    let recorded = app.sim_posts_of("pinterest");
    assert_eq!(recorded.len(), 1);
    // No thumbnail: the first frame is the cover.
    assert_eq!(recorded[0]["media"]["cover_image_key_frame_time"], 0.0);
}

#[test]
fn pinterests_rules_are_checked_before_anything_is_charged() {
    let app = connected(Setup::default());
    let balance = app.balance();
    let media = app.sample_media("sample.png");
    let code = |body: Value| {
        let mut body = body;
        body["externalUserId"] = json!("u1");
        body["platforms"] = json!(["pinterest"]);
        app.post("/api/v1/posts", body).error_code(400)
    };
    let board = json!({"pinterest": {"boardId": "123"}});
    assert_eq!(
        code(json!({"content": "c", "mediaUrl": media})),
        "TARGET_REQUIRED"
    );
    assert_eq!(
        code(json!({"content": "c", "platformOptions": board})),
        "MEDIA_REQUIRED"
    );
    assert_eq!(
        code(json!({"content": "x".repeat(501), "mediaUrl": media, "platformOptions": board})),
        "CONTENT_TOO_LONG"
    );
    assert_eq!(
        code(
            json!({"title": "t".repeat(101), "content": "c", "mediaUrl": media, "platformOptions": board})
        ),
        "CONTENT_TOO_LONG"
    );
    assert_eq!(
        code(
            json!({"content": "c", "mediaUrl": media, "thumbnailUrl": media, "platformOptions": board})
        ),
        "UNSUPPORTED_MEDIA_TYPE"
    );
    assert_eq!(
        code(
            json!({"content": "c", "mediaUrl": media, "platformOptions": {"pinterest": {"boardId": "123", "section": "x"}}})
        ),
        "VALIDATION_FAILED"
    );
    assert_eq!(
        code(
            json!({"content": "c", "mediaUrl": media, "platformOptions": {"pinterest": {"boardId": "recipes"}}})
        ),
        "VALIDATION_FAILED"
    );
    assert_eq!(app.balance(), balance);
}

#[test]
fn the_token_is_refreshed_and_the_refresh_token_rotates() {
    let app = connected(Setup::default());
    let before = app.get("/api/v1/end-users/u1/connections").json()[0].clone();
    app.clock.advance(chrono::Duration::days(31));
    let post = image_pin(&app, "a month later");
    assert_eq!(post["status"], "published", "{post}");
    let after = app.get("/api/v1/end-users/u1/connections").json()[0].clone();
    assert_ne!(
        after["accessTokenExpiresAt"],
        before["accessTokenExpiresAt"]
    );
    // Continuous refresh: a new 60-day refresh token from today.
    assert_ne!(
        after["refreshTokenExpiresAt"],
        before["refreshTokenExpiresAt"]
    );
}

// ----- the simulator at the API level -----

fn direct_tokens(app: &TestApp) -> (String, Value) {
    let sim = format!("{}/sandbox", app.base);
    let r = send(
        "POST",
        &format!("{sim}/_sim/clients"),
        &[("Content-Type", "application/json")],
        Some(&json!({"platform": "pinterest", "clientId": "1500", "clientSecret": "pw", "redirectUris": [REDIRECT]}).to_string()),
    );
    assert_eq!(r.status, 201);
    let url = format!(
        "{sim}/pinterest/oauth/?client_id=1500&redirect_uri={}&response_type=code&scope=boards:read,pins:read,pins:write,user_accounts:read&state=s",
        mypostshare::http::percent_encode(REDIRECT)
    );
    let page = send("GET", &url, &[], None);
    assert_eq!(page.status, 200, "{}", page.body);
    let (action, fields) = crate::support::parse_form(&page.body);
    let mut pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.push(("decision", "allow"));
    let r = send(
        "POST",
        &format!("{}{action}", app.base),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(&mypostshare::http::encode_query(&pairs)),
    );
    let code = query_value(r.header("location").unwrap(), "code").unwrap();
    let form = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}",
        mypostshare::http::percent_encode(REDIRECT)
    );
    let token_url = format!("{sim}/pinterest/v5/oauth/token");
    use base64::Engine as _;
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("1500:pw")
    );
    let form_type = ("Content-Type", "application/x-www-form-urlencoded");
    // Credentials in the body instead of Basic: refused.
    let in_body = send(
        "POST",
        &token_url,
        &[form_type],
        Some(&format!("{form}&client_id=1500&client_secret=pw")),
    );
    assert_eq!(in_body.status, 401);
    assert_eq!(in_body.json()["code"], 2);
    let ok = send(
        "POST",
        &token_url,
        &[form_type, ("Authorization", &auth)],
        Some(&form),
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    let reused = send(
        "POST",
        &token_url,
        &[form_type, ("Authorization", &auth)],
        Some(&form),
    );
    assert_eq!(reused.status, 401);
    assert_eq!(reused.json()["message"], "Authentication failed.");
    let tokens = ok.json();
    (tokens["access_token"].as_str().unwrap().to_string(), tokens)
}

#[test]
fn the_simulator_speaks_pinterest_v5() {
    let app = TestApp::start();
    let (token, tokens) = direct_tokens(&app);
    assert!(token.starts_with("pina_"));
    assert!(
        tokens["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("pinr_")
    );
    assert_eq!(tokens["expires_in"], 2_592_000);
    assert_eq!(tokens["refresh_token_expires_in"], 5_184_000);
    let api = |method: &str, path: &str, body: Option<Value>| {
        let auth = format!("Bearer {token}");
        send(
            method,
            &format!("{}/sandbox/pinterest/v5/{path}", app.base),
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.map(|b| b.to_string()).as_deref(),
        )
    };
    // Paging with bookmarks.
    let first = api("GET", "boards?page_size=2", None).json();
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let bookmark = first["bookmark"].as_str().unwrap().to_string();
    let second = api(
        "GET",
        &format!(
            "boards?page_size=2&bookmark={}",
            mypostshare::http::percent_encode(&bookmark)
        ),
        None,
    )
    .json();
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert!(second["bookmark"].is_null());
    let board = first["items"][0]["id"].as_str().unwrap().to_string();
    let image = json!({"source_type": "image_url", "url": app.sample_media("sample.png")});
    let bad_board = api(
        "POST",
        "pins",
        Some(json!({"board_id": "recipes", "media_source": image})),
    )
    .json();
    assert!(
        bad_board["message"]
            .as_str()
            .unwrap()
            .contains("does not match")
    );
    let long = api(
        "POST",
        "pins",
        Some(json!({"board_id": board, "title": "t".repeat(101), "media_source": image})),
    );
    assert_eq!(long.status, 400);
    assert!(long.body.contains("maxLength=100"));
    let no_media = api("POST", "pins", Some(json!({"board_id": board})));
    assert_eq!(no_media.status, 400);
    let unreachable = api(
        "POST",
        "pins",
        Some(
            json!({"board_id": board, "media_source": {"source_type": "image_url", "url": format!("{}/sandbox/_sim/media/missing.png", app.base)}}),
        ),
    );
    assert!(
        unreachable.body.contains("could not fetch the image"),
        "{}",
        unreachable.body
    );
    let other_board = api(
        "POST",
        "pins",
        Some(json!({"board_id": "123456", "media_source": image})),
    );
    assert_eq!(other_board.status, 404);
    let ok = api(
        "POST",
        "pins",
        Some(json!({"board_id": board, "title": "ok", "media_source": image})),
    );
    assert_eq!(ok.status, 201, "{}", ok.body);
    // A video pin needs a processed upload and a cover.
    let media = api("POST", "media", Some(json!({"media_type": "video"}))).json();
    let media_id = media["media_id"].as_str().unwrap().to_string();
    assert_eq!(
        api("GET", &format!("media/{media_id}"), None).json()["status"],
        "registered"
    );
    let not_ready = api(
        "POST",
        "pins",
        Some(
            json!({"board_id": board, "media_source": {"source_type": "video_id", "media_id": media_id, "cover_image_key_frame_time": 0}}),
        ),
    );
    assert_eq!(not_ready.status, 400);
    let forged = send(
        "POST",
        media["upload_url"].as_str().unwrap(),
        &[("Content-Type", "multipart/form-data; boundary=XX")],
        Some(&format!(
            "--XX\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n{}\r\n--XX\r\nContent-Disposition: form-data; name=\"x-amz-signature\"\r\n\r\nforged\r\n--XX--\r\n",
            media["upload_parameters"]["key"].as_str().unwrap()
        )),
    );
    assert_eq!(forged.status, 403);
}

// ----- Trial access and the sandbox host (issue 11, breaker 8) -----

const TRIAL_CLIENT: &str = "pinterest-trial-app";

/// Registers an app with Trial access at the simulated Pinterest and stores it as the app's
/// own client through the dashboard's form, calling `host`.
fn trial_app_calling(app: &TestApp, op: &crate::dash::Operator<'_>, host: &str) {
    let saved = op.post(
        &format!("/dashboard/apps/{}/credentials/pinterest", app.app_id),
        &[
            ("client_id", TRIAL_CLIENT),
            ("client_secret", "trial-secret"),
            ("api_host", host),
        ],
    );
    assert_eq!(saved.status, 303, "{}", saved.body);
}

#[test]
fn a_trial_app_pins_only_on_the_sandbox_host() {
    let app = TestApp::start();
    let r = send(
        "POST",
        &format!("{}/sandbox/_sim/clients", app.base),
        &[("Content-Type", "application/json")],
        Some(&json!({"platform": "pinterest", "clientId": TRIAL_CLIENT, "clientSecret": "trial-secret", "redirectUris": [format!("{}/oauth/callback/pinterest", app.base)], "accessTier": "trial"}).to_string()),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["accessTier"], "trial");
    crate::dash::create_operator(&app);
    let op = crate::dash::sign_in(&app);
    // The form offers the host for Pinterest only.
    let form = op.page(&format!(
        "/dashboard/apps/{}/credentials/pinterest",
        app.app_id
    ));
    assert!(form.contains("name=\"api_host\""), "{form}");
    let other = op.page(&format!(
        "/dashboard/apps/{}/credentials/linkedin",
        app.app_id
    ));
    assert!(!other.contains("name=\"api_host\""));
    trial_app_calling(&app, &op, "production");
    app.upsert_user("u1");
    app.connect("u1", "pinterest", "Pat Pinner");

    // At api.pinterest.com Pinterest answers code 29; the error says which setting to change.
    let refused = image_pin(&app, "trial at production");
    assert_eq!(refused["status"], "failed", "{refused}");
    assert_eq!(result(&refused)["errorCode"], "PLATFORM_ACCESS_TIER");
    let message = result(&refused)["errorMessage"].as_str().unwrap();
    assert!(message.contains("sandbox"), "{message}");
    assert!(app.sim_posts_of("pinterest").is_empty());

    // The same client switched to the sandbox host (the secret kept): boards and Pins work.
    let saved = op.post(
        &format!("/dashboard/apps/{}/credentials/pinterest", app.app_id),
        &[
            ("client_id", TRIAL_CLIENT),
            ("client_secret", ""),
            ("api_host", "sandbox"),
        ],
    );
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = op.page(&format!("/dashboard/apps/{}", app.app_id));
    assert!(page.contains("(sandbox host)"), "{page}");
    let pinned = image_pin(&app, "trial in the sandbox");
    assert_eq!(pinned["status"], "published", "{pinned}");
    let posts = app.sim_posts_of("pinterest");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["host"], "api-sandbox.pinterest.com");

    // The sandbox cannot create video Pins: refused before any upload.
    let video = pin(
        &app,
        json!({"content": "v", "mediaUrl": app.sample_media("sample.mp4"), "platformOptions": {"pinterest": {"boardId": board(&app)}}}),
    );
    assert_eq!(video["status"], "failed", "{video}");
    assert_eq!(result(&video)["errorCode"], "PLATFORM_ACCESS_TIER");
}

#[test]
fn the_simulated_sandbox_host_refuses_video_pins_and_production_refuses_trial_apps() {
    let app = TestApp::start();
    let (token, _) = direct_tokens(&app);
    let sim = format!("{}/sandbox/pinterest", app.base);
    let auth = format!("Bearer {token}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let boards = send(
        "GET",
        &format!("{sim}/api-sandbox/v5/boards"),
        &headers,
        None,
    )
    .json();
    let board = boards["items"][0]["id"].as_str().unwrap().to_string();
    let video = json!({"board_id": board, "media_source": {"source_type": "video_id", "media_id": "1", "cover_image_key_frame_time": 0}});
    let r = send(
        "POST",
        &format!("{sim}/api-sandbox/v5/pins"),
        &headers,
        Some(&video.to_string()),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.json()["code"], 29);
    // The direct client is standard: production pins work; made trial, code 29 there.
    let image = json!({"board_id": board, "media_source": {"source_type": "image_url", "url": app.sample_media("sample.png")}});
    let r = send(
        "POST",
        &format!("{sim}/v5/pins"),
        &headers,
        Some(&image.to_string()),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let again = send(
        "POST",
        &format!("{}/sandbox/_sim/clients", app.base),
        &[("Content-Type", "application/json")],
        Some(&json!({"platform": "pinterest", "clientId": "1500", "clientSecret": "pw", "redirectUris": [REDIRECT], "accessTier": "trial"}).to_string()),
    );
    assert_eq!(again.status, 201);
    let r = send(
        "POST",
        &format!("{sim}/v5/pins"),
        &headers,
        Some(&image.to_string()),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.json()["code"], 29);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("Trial access")
    );
    let r = send(
        "POST",
        &format!("{sim}/api-sandbox/v5/pins"),
        &headers,
        Some(&image.to_string()),
    );
    assert_eq!(r.status, 201, "{}", r.body);
}

// ----- read-back of an interrupted publish, and delete (issues 10 and 11) -----

use crate::adapter_calls::{Adapter, Sent, content, found_id, is_absent, unknowable_reason};
use mypostshare::providers::{Deletion, MediaKind, Platform, ProviderError};

fn sent_pin(board: &str, text: &str, title: Option<&str>, link: Option<&str>) -> Sent {
    let mut options = json!({"boardId": board});
    if let Some(link) = link {
        options["link"] = json!(link);
    }
    let mut post = content(text, None, Some(MediaKind::Image));
    post.title = title.map(str::to_string);
    Sent { post, options }
}

/// `user`'s Pinterest adapter, read now: after a change of the app's API host, ask again.
fn pinterest<'a>(app: &'a TestApp, user: &str) -> Adapter<'a> {
    Adapter::of(app, user, Platform::Pinterest)
}

#[test]
fn an_interrupted_pin_is_found_on_its_board_by_its_content_and_time() {
    let app = connected(Setup::default());
    let board = board(&app);
    let since = app.clock_now();
    let post = pin(
        &app,
        json!({"title": "Spring menu", "content": "Five salads", "mediaUrl": app.sample_media("sample.png"), "platformOptions": {"pinterest": {"boardId": board, "link": "https://shop.example.com/menu"}}}),
    );
    let id = result(&post)["externalId"].as_str().unwrap().to_string();
    let read = |sent: &Sent, since| pinterest(&app, "u1").find_sent(sent, None, since);
    let same = sent_pin(
        &board,
        "Five salads",
        Some("Spring menu"),
        Some("https://shop.example.com/menu"),
    );
    assert_eq!(found_id(read(&same, since)), id);
    // Anything else the publish sent, different: not that Pin.
    for other in [
        sent_pin(
            &board,
            "Six salads",
            Some("Spring menu"),
            Some("https://shop.example.com/menu"),
        ),
        sent_pin(
            &board,
            "Five salads",
            None,
            Some("https://shop.example.com/menu"),
        ),
        sent_pin(&board, "Five salads", Some("Spring menu"), None),
    ] {
        assert!(is_absent(&read(&other, since)));
    }
    let mut video = sent_pin(
        &board,
        "Five salads",
        Some("Spring menu"),
        Some("https://shop.example.com/menu"),
    );
    video.post.media_kind = Some(MediaKind::Video);
    assert!(is_absent(&read(&video, since)));
    // The same Pin made before the interrupted attempt is an earlier post, not this one.
    app.clock.advance(chrono::Duration::minutes(10));
    assert!(is_absent(&read(&same, app.clock_now())));
}

#[test]
fn read_back_pages_through_the_whole_board() {
    let app = connected(Setup::default());
    let board = board(&app);
    let since = app.clock_now();
    let target = pin(
        &app,
        json!({"content": "the one", "mediaUrl": app.sample_media("sample.png"), "platformOptions": {"pinterest": {"boardId": board}}}),
    );
    let id = result(&target)["externalId"].as_str().unwrap().to_string();
    // 260 newer Pins, made straight at the simulator: the first page (250, newest first)
    // does not reach the one looked for.
    let token = pinterest(&app, "u1").token;
    let auth = format!("Bearer {token}");
    let image = app.sample_media("sample.png");
    for i in 0..260 {
        let r = send(
            "POST",
            &format!("{}/sandbox/pinterest/v5/pins", app.base),
            &[("Authorization", &auth), ("Content-Type", "application/json")],
            Some(&json!({"board_id": board, "description": format!("filler {i}"), "media_source": {"source_type": "image_url", "url": image}}).to_string()),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let sent = sent_pin(&board, "the one", None, None);
    let answer = pinterest(&app, "u1").find_sent(&sent, None, since);
    assert_eq!(found_id(answer), id);
    let missing = sent_pin(&board, "never pinned", None, None);
    assert!(is_absent(
        &pinterest(&app, "u1").find_sent(&missing, None, since)
    ));
}

#[test]
fn a_video_whose_upload_never_finished_has_no_pin_and_one_that_did_is_looked_for() {
    let app = connected(Setup::default());
    let board = board(&app);
    let since = app.clock_now();
    set_processing_polls(&app, 2);
    let post = pin(
        &app,
        json!({"title": "Clip", "content": "Watch", "mediaUrl": app.sample_media("sample.mp4?bytes=5000"), "platformOptions": {"pinterest": {"boardId": board}}}),
    );
    assert_eq!(post["status"], "published", "{post}");
    let media_id = app.sim_posts_of("pinterest")[0]["media"]["media_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut sent = sent_pin(&board, "Watch", Some("Clip"), None);
    sent.post.media_kind = Some(MediaKind::Video);
    let state = json!({"mediaId": media_id});
    let answer = pinterest(&app, "u1").find_sent(&sent, Some(&state), since);
    assert_eq!(
        found_id(answer),
        result(&post)["externalId"].as_str().unwrap()
    );

    // An upload registered but never processed: no Pin can show it, so the board is not even
    // read (a failing board read would say otherwise).
    let token = pinterest(&app, "u1").token;
    let registered = send(
        "POST",
        &format!("{}/sandbox/pinterest/v5/media", app.base),
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("Content-Type", "application/json"),
        ],
        Some(r#"{"media_type": "video"}"#),
    );
    assert_eq!(registered.status, 201, "{}", registered.body);
    let pending = json!({"mediaId": registered.json()["media_id"]});
    app.inject_fault(json!({"platform": "pinterest", "kind": "server_error", "status": 503, "method": "GET", "path": "/pins"}));
    let answer = pinterest(&app, "u1").find_sent(&sent, Some(&pending), since);
    assert!(is_absent(&answer), "{answer:?}");
    // The fault is still queued for the next board read, which it fails: the engine looks
    // again later (a read publishes nothing).
    let answer = pinterest(&app, "u1").find_sent(&sent, Some(&state), since);
    assert!(
        matches!(answer, Err(ProviderError::Transient { status: 503, .. })),
        "{answer:?}"
    );
}

#[test]
fn a_board_that_is_gone_holds_no_pin_and_a_refused_read_cannot_tell() {
    let app = connected(Setup::default());
    let since = app.clock_now();
    let sent = sent_pin("123456789", "anything", None, None);
    assert!(is_absent(
        &pinterest(&app, "u1").find_sent(&sent, None, since)
    ));
    let mut no_board = sent_pin("1", "x", None, None);
    no_board.options = json!({});
    let reason = unknowable_reason(pinterest(&app, "u1").find_sent(&no_board, None, since));
    assert!(reason.contains("board"), "{reason}");
}

#[test]
fn a_pin_is_deleted_once_and_then_already_gone() {
    let app = connected(Setup::default());
    let post = image_pin(&app, "to be deleted");
    let id = result(&post)["externalId"].as_str().unwrap().to_string();
    let options = json!({"boardId": board(&app)});
    let mine = pinterest(&app, "u1").with_options(options.clone());
    assert!(mine.provider.can_delete());
    assert_eq!(mine.delete(&id).unwrap(), Deletion::Deleted);
    let recorded = app.sim_posts_of("pinterest");
    assert_eq!(recorded[0]["deleted"], true, "{recorded:?}");
    assert_eq!(mine.delete(&id).unwrap(), Deletion::AlreadyGone);
    // Another account's Pin: Pinterest refuses, and says so.
    app.upsert_user("u2");
    app.connect("u2", "pinterest", "Sam Other");
    let someone_elses = image_pin_id(&app);
    let theirs = pinterest(&app, "u2").with_options(options);
    assert!(theirs.provider.can_delete());
    match theirs.delete(&someone_elses) {
        Err(ProviderError::Rejected { code, message }) => {
            assert_eq!(code, mypostshare::error::Code::PlatformRejected);
            assert!(message.contains("Not authorized"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

/// A new image Pin of u1's; its id.
fn image_pin_id(app: &TestApp) -> String {
    let post = image_pin(app, "someone else's");
    result(&post)["externalId"].as_str().unwrap().to_string()
}

#[test]
fn read_back_and_delete_use_the_sandbox_host_of_trial_credentials() {
    let app = TestApp::start();
    let r = send(
        "POST",
        &format!("{}/sandbox/_sim/clients", app.base),
        &[("Content-Type", "application/json")],
        Some(&json!({"platform": "pinterest", "clientId": TRIAL_CLIENT, "clientSecret": "trial-secret", "redirectUris": [format!("{}/oauth/callback/pinterest", app.base)], "accessTier": "trial"}).to_string()),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    crate::dash::create_operator(&app);
    let op = crate::dash::sign_in(&app);
    trial_app_calling(&app, &op, "sandbox");
    app.upsert_user("u1");
    app.connect("u1", "pinterest", "Pat Pinner");
    let since = app.clock_now();
    let post = image_pin(&app, "in the sandbox");
    assert_eq!(post["status"], "published", "{post}");
    let id = result(&post)["externalId"].as_str().unwrap().to_string();
    let sent = sent_pin(&board(&app), "in the sandbox", None, None);
    let answer = pinterest(&app, "u1").find_sent(&sent, None, since);
    assert_eq!(found_id(answer), id);
    // Production has no such Pin: read there, the same post would be absent.
    trial_app_calling(&app, &op, "production");
    assert!(is_absent(
        &pinterest(&app, "u1").find_sent(&sent, None, since)
    ));
    let at_production = pinterest(&app, "u1");
    assert!(at_production.provider.can_delete());
    assert_eq!(at_production.delete(&id).unwrap(), Deletion::AlreadyGone);
    trial_app_calling(&app, &op, "sandbox");
    let at_sandbox = pinterest(&app, "u1");
    assert!(at_sandbox.provider.can_delete());
    assert_eq!(at_sandbox.delete(&id).unwrap(), Deletion::Deleted);
}

/// A video Pin whose creating call loses its answer while the engine resumes it: the read-back
/// starts from the upload the resume state names (processed, so a Pin may exist) and finds the
/// Pin on the board. One Pin, published with its id.
#[test]
fn a_video_pin_whose_answer_was_lost_while_resuming_is_found_by_the_engine() {
    let app = connected(Setup {
        publish_budget: Duration::from_secs(3),
        configure: |config| config.provider_timeout = Duration::from_secs(3),
        ..Setup::default()
    });
    let board = board(&app);
    set_processing_polls(&app, 7);
    let post = pin(
        &app,
        json!({"title": "Clip", "content": "Lost and found", "mediaUrl": app.sample_media("sample.mp4?bytes=5000"), "platformOptions": {"pinterest": {"boardId": board}}}),
    );
    let id = post["id"].as_str().unwrap().to_string();
    assert_eq!(post["status"], "processing", "{post}");
    app.inject_fault(json!({"platform": "pinterest", "kind": "lost_answer", "delayMs": 5000, "method": "POST", "path": "/v5/pins"}));
    app.clock.advance(chrono::Duration::seconds(20));
    assert_eq!(
        app.run_job("dispatch_due_deliveries"),
        "queued 1 deliveries"
    );
    let cut_off = app.wait_for_post(&id, |p| result(p)["errorCode"] == "OUTCOME_UNKNOWN");
    assert_eq!(cut_off["status"], "processing", "{cut_off}");
    assert_eq!(
        app.sim_posts_of("pinterest").len(),
        1,
        "Pinterest made the Pin"
    );
    app.clock.advance(chrono::Duration::seconds(21));
    assert_eq!(
        app.run_job("dispatch_due_deliveries"),
        "queued 1 deliveries"
    );
    let done = app.wait_for_post(&id, |p| p["status"] != "processing");
    assert_eq!(done["status"], "published", "{done}");
    let recorded = app.sim_posts_of("pinterest");
    assert_eq!(recorded.len(), 1, "never pinned twice");
    assert_eq!(result(&done)["externalId"], recorded[0]["id"]);
    let attempts = app.get(&format!("/api/v1/posts/{id}/attempts")).json();
    let steps: Vec<(&str, &str)> = attempts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["step"].as_str().unwrap(),
                a["outcome"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        steps.last(),
        Some(&("reconcile", "published")),
        "{attempts}"
    );
}
