//! Instagram end to end (Business Login for Instagram): connect, image / reel / carousel
//! publishing through containers (finished within the call and finished later by the engine),
//! the caption and media rules; then the simulator's own refusals. Deny, faults, the spam
//! restriction in place of duplicates and the token refresh are rows of the scenario table
//! (`scenarios.rs`).

use crate::adapter_calls::{Adapter, content, found, found_id, is_absent};
use crate::support::{TestApp, query_value, send};
use mypostshare::providers::{MediaKind, Platform};
use serde_json::{Value, json};

const MEMBER: &str = "Alex Morgan";

fn connected() -> TestApp {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect("u1", "instagram", MEMBER);
    app
}

fn create(app: &TestApp, body: Value) -> crate::support::Reply {
    let mut body = body;
    body["externalUserId"] = json!("u1");
    body["platforms"] = json!(["instagram"]);
    app.post("/api/v1/posts", body)
}

fn publish(app: &TestApp, body: Value) -> Value {
    let r = create(app, body);
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()
}

fn result(post: &Value) -> &Value {
    &post["platformResults"][0]
}

fn connection(app: &TestApp) -> Value {
    app.get("/api/v1/end-users/u1/connections").json()[0].clone()
}

#[test]
fn allow_connects_the_professional_account() {
    let app = TestApp::start();
    app.upsert_user("u1");
    let location = app.connect("u1", "instagram", MEMBER);
    assert_eq!(
        query_value(&location, "accountType").as_deref(),
        Some("business")
    );
    assert_eq!(
        query_value(&location, "remoteUsername").as_deref(),
        Some("alex.morgan")
    );
    let id = query_value(&location, "remoteAccountId").unwrap();
    assert!(id.starts_with("1784") && id.len() == 17, "{id}");
    // The 60-day token refreshes itself.
    assert_eq!(connection(&app)["tokenStatus"], "active_refreshable");
}

#[test]
fn an_image_post_is_published_with_its_permalink() {
    let app = connected();
    let image = app.sample_media("sample.jpg");
    let post = publish(
        &app,
        json!({"content": "Morning light #sunrise @sam", "mediaUrl": image}),
    );
    assert_eq!(post["status"], "published", "{post}");
    let url = result(&post)["url"].as_str().unwrap();
    assert!(url.starts_with("https://www.instagram.com/p/"), "{url}");
    let posts = app.sim_posts_of("instagram");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["mediaType"], "IMAGE");
    assert_eq!(posts[0]["caption"], "Morning light #sunrise @sam");
    assert_eq!(posts[0]["mediaUrls"], json!([image]));
    assert_eq!(posts[0]["permalink"], url);
    assert_eq!(result(&post)["externalId"], posts[0]["id"]);
}

#[test]
fn a_reel_that_processes_quickly_finishes_within_the_call() {
    let app = connected();
    let video = app.sample_media("sample.mp4?processing_polls=2");
    let post = publish(
        &app,
        json!({"content": "Behind the scenes", "mediaUrl": video, "platformOptions": {"instagram": {"shareToFeed": true}}}),
    );
    assert_eq!(post["status"], "published", "{post}");
    assert!(
        result(&post)["url"]
            .as_str()
            .unwrap()
            .starts_with("https://www.instagram.com/reel/")
    );
    let posts = app.sim_posts_of("instagram");
    assert_eq!(posts[0]["mediaType"], "REELS");
}

#[test]
fn a_slow_reel_is_finished_later_by_the_engine() {
    let app = connected();
    let video = app.sample_media("sample.mp4?processing_polls=9");
    let post = publish(&app, json!({"content": "Long cut", "mediaUrl": video}));
    let id = post["id"].as_str().unwrap();
    assert_eq!(post["status"], "processing", "{post}");
    assert_eq!(result(&post)["status"], "processing");
    assert!(app.sim_posts_of("instagram").is_empty());
    // Not due before the 30 s the adapter asked for.
    app.run_job("dispatch_due_deliveries");
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert!(app.sim_posts_of("instagram").is_empty());
    app.clock.advance(chrono::Duration::seconds(31));
    app.run_job("dispatch_due_deliveries");
    let done = app.wait_for_post(id, |p| p["status"] == "published");
    assert_eq!(done["status"], "published", "{done}");
    assert_eq!(app.sim_posts_of("instagram").len(), 1);
}

#[test]
fn a_carousel_of_an_image_and_a_video() {
    let app = connected();
    let urls = [
        app.sample_media("sample.jpg"),
        app.sample_media("sample.mp4"),
    ];
    let post = publish(
        &app,
        json!({"content": "Two views", "platformOptions": {"instagram": {"carouselUrls": urls}}}),
    );
    assert_eq!(post["status"], "published", "{post}");
    let posts = app.sim_posts_of("instagram");
    assert_eq!(posts[0]["mediaType"], "CAROUSEL");
    assert_eq!(posts[0]["childTypes"], json!(["IMAGE", "VIDEO"]));
    assert_eq!(posts[0]["mediaUrls"], json!(urls));
    assert_eq!(posts[0]["caption"], "Two views");
}

#[test]
fn validation_rules() {
    let app = connected();
    // Dozens of refused posts in a row: the publishing rate limit is not what this tests.
    app.lift_publishing_limit();
    let image = app.sample_media("sample.jpg");
    let check = |body: Value, code: &str| {
        let r = create(&app, body);
        assert_eq!(r.error_code(400), code, "{}", r.body);
    };
    check(json!({"content": "text only"}), "MEDIA_REQUIRED");
    check(
        json!({"content": "x".repeat(2201), "mediaUrl": image}),
        "CONTENT_TOO_LONG",
    );
    let tags: Vec<String> = (0..31).map(|i| format!("#t{i}")).collect();
    check(
        json!({"content": tags.join(" "), "mediaUrl": image}),
        "CONTENT_TOO_LONG",
    );
    let mentions: Vec<String> = (0..21).map(|i| format!("@u{i}")).collect();
    check(
        json!({"content": mentions.join(" "), "mediaUrl": image}),
        "CONTENT_TOO_LONG",
    );
    check(
        json!({"content": "x", "mediaUrl": image, "platformOptions": {"instagram": {"location": "Paris"}}}),
        "VALIDATION_FAILED",
    );
    check(
        json!({"content": "x", "platformOptions": {"instagram": {"carouselUrls": [image]}}}),
        "VALIDATION_FAILED",
    );
    check(
        json!({"content": "x", "platformOptions": {"instagram": {"carouselUrls": vec![image.clone(); 11]}}}),
        "VALIDATION_FAILED",
    );
    check(
        json!({"content": "x", "mediaUrl": image, "platformOptions": {"instagram": {"shareToFeed": true}}}),
        "VALIDATION_FAILED",
    );
    check(
        json!({"content": "x", "mediaUrl": image, "thumbnailUrl": image}),
        "UNSUPPORTED_MEDIA_TYPE",
    );
    // 2,200 characters and 30 hashtags pass.
    let caption = format!(
        "{} {}",
        (0..30)
            .map(|i| format!("#t{i}"))
            .collect::<Vec<_>>()
            .join(" "),
        "y".repeat(1900)
    );
    let post = publish(&app, json!({"content": caption, "mediaUrl": image}));
    assert_eq!(post["status"], "published", "{}", result(&post));
    // Instagram takes JPEG only: a PNG fails before Instagram is asked.
    let png = publish(
        &app,
        json!({"content": "png", "mediaUrl": app.sample_media("sample.png")}),
    );
    assert_eq!(png["status"], "failed");
    assert_eq!(result(&png)["errorCode"], "UNSUPPORTED_MEDIA_TYPE");
}

// ----- the simulator on its own -----

const CLIENT: &str = "ig-test-app";
const SECRET: &str = "ig-test-secret";
const CB: &str = "https://client.example.com/ig/cb";

fn sim(app: &TestApp, path: &str) -> String {
    format!("{}/sandbox/instagram{path}", app.base)
}

fn register(app: &TestApp) {
    let r = send(
        "POST",
        &format!("{}/sandbox/_sim/clients", app.base),
        &[("Content-Type", "application/json")],
        Some(&json!({"platform": "instagram", "clientId": CLIENT, "clientSecret": SECRET, "redirectUris": [CB]}).to_string()),
    );
    assert_eq!(r.status, 201, "{}", r.body);
}

fn form(pairs: &[(&str, &str)]) -> String {
    mypostshare::http::encode_query(pairs)
}

const FORM: [(&str, &str); 1] = [("Content-Type", "application/x-www-form-urlencoded")];

fn code(app: &TestApp) -> String {
    let r = send(
        "POST",
        &sim(app, "/oauth/authorize"),
        &FORM,
        Some(&form(&[
            ("client_id", CLIENT),
            ("redirect_uri", CB),
            ("response_type", "code"),
            (
                "scope",
                "instagram_business_basic,instagram_business_content_publish",
            ),
            ("member_name", MEMBER),
            ("decision", "allow"),
        ])),
    );
    assert_eq!(r.status, 302, "{}", r.body);
    let location = r.header("location").unwrap();
    assert!(location.ends_with("#_"), "{location}");
    query_value(location.trim_end_matches("#_"), "code").unwrap()
}

fn exchange(app: &TestApp, code: &str, redirect: &str, secret: &str) -> crate::support::Reply {
    send(
        "POST",
        &sim(app, "/oauth/access_token"),
        &FORM,
        Some(&form(&[
            ("client_id", CLIENT),
            ("client_secret", secret),
            ("grant_type", "authorization_code"),
            ("redirect_uri", redirect),
            ("code", code),
        ])),
    )
}

fn error_of(reply: &crate::support::Reply) -> (i64, Option<i64>) {
    let body = reply.json();
    (
        body["error"]["code"]
            .as_i64()
            .unwrap_or_else(|| panic!("{body}")),
        body["error"]["error_subcode"].as_i64(),
    )
}

#[test]
fn sim_the_token_steps_refuse_what_instagram_refuses() {
    let app = TestApp::start();
    register(&app);
    let page = send(
        "GET",
        &mypostshare::http::append_query(
            &sim(&app, "/oauth/authorize"),
            &[
                ("client_id", CLIENT),
                ("redirect_uri", CB),
                ("response_type", "code"),
                ("scope", "business_basic"),
            ],
        ),
        &[],
        None,
    );
    assert_eq!(page.status, 400, "old scope names are refused");
    let c = code(&app);
    assert_eq!(
        exchange(&app, &c, CB, "wrong").json()["error_type"],
        "OAuthException"
    );
    assert_eq!(
        exchange(&app, &c, "https://client.example.com/other", SECRET).status,
        400
    );
    let ok = exchange(&app, &c, CB, SECRET);
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(
        ok.body.contains("\"user_id\":1784"),
        "a JSON number: {}",
        ok.body
    );
    assert_eq!(
        exchange(&app, &c, CB, SECRET).status,
        400,
        "codes work once"
    );
    let short = ok.json()["access_token"].as_str().unwrap().to_string();
    let long = send(
        "GET",
        &mypostshare::http::append_query(
            &sim(&app, "/access_token"),
            &[
                ("grant_type", "ig_exchange_token"),
                ("client_secret", SECRET),
                ("access_token", &short),
            ],
        ),
        &[],
        None,
    );
    assert_eq!(long.status, 200, "{}", long.body);
    let long = long.json()["access_token"].as_str().unwrap().to_string();
    let refresh = |token: &str| {
        send(
            "GET",
            &mypostshare::http::append_query(
                &sim(&app, "/refresh_access_token"),
                &[("grant_type", "ig_refresh_token"), ("access_token", token)],
            ),
            &[],
            None,
        )
    };
    assert_eq!(refresh(&long).status, 400, "under 24 hours old");
    app.clock.advance(chrono::Duration::hours(25));
    assert_eq!(refresh(&long).status, 200);
}

#[test]
fn sim_containers_must_be_finished_jpeg_and_owned() {
    let app = TestApp::start();
    register(&app);
    let c = code(&app);
    let short = exchange(&app, &c, CB, SECRET).json();
    let token = short["access_token"].as_str().unwrap().to_string();
    let user = short["user_id"].to_string();
    let media = sim(&app, &format!("/v25.0/{user}/media"));
    let create = |pairs: &[(&str, &str)]| {
        let mut pairs = pairs.to_vec();
        pairs.push(("access_token", &token));
        send("POST", &media, &FORM, Some(&form(&pairs)))
    };
    let png = app.sample_media("sample.png");
    assert_eq!(
        error_of(&create(&[("image_url", &png)])),
        (36001, Some(2207005))
    );
    let missing = format!("{}/sandbox/_sim/media/none.jpg", app.base);
    assert_eq!(
        error_of(&create(&[("image_url", &missing)])),
        (9004, Some(2207052))
    );
    let long = "x".repeat(2201);
    let jpg = app.sample_media("sample.jpg");
    assert_eq!(
        error_of(&create(&[("image_url", &jpg), ("caption", &long)])),
        (36004, Some(2207010))
    );
    assert_eq!(
        error_of(&create(&[("media_type", "CAROUSEL"), ("children", "1")])),
        (100, Some(2207028))
    );
    let slow = app.sample_media("sample.mp4?processing_polls=1");
    let reel = create(&[
        ("media_type", "REELS"),
        ("video_url", &slow),
        ("caption", "c"),
    ]);
    let container = reel.json()["id"].as_str().unwrap().to_string();
    let publish = || {
        send(
            "POST",
            &sim(&app, &format!("/v25.0/{user}/media_publish")),
            &FORM,
            Some(&form(&[
                ("creation_id", &container),
                ("access_token", &token),
            ])),
        )
    };
    assert_eq!(error_of(&publish()), (9007, Some(2207027)));
    let status_url = format!(
        "{}?fields=status_code,status&access_token={token}",
        sim(&app, &format!("/v25.0/{container}"))
    );
    assert_eq!(
        send("GET", &status_url, &[], None).json()["status_code"],
        "IN_PROGRESS"
    );
    assert_eq!(
        send("GET", &status_url, &[], None).json()["status_code"],
        "FINISHED"
    );
    let published = publish();
    assert_eq!(published.status, 200, "{}", published.body);
    assert_eq!(
        send("GET", &status_url, &[], None).json()["status_code"],
        "PUBLISHED"
    );
    assert_eq!(publish().status, 400, "a container is published once");
    // Another account's media endpoint.
    let other = sim(&app, "/v25.0/17840000000000000/media");
    let r = send(
        "POST",
        &other,
        &FORM,
        Some(&form(&[("image_url", &jpg), ("access_token", &token)])),
    );
    assert_eq!(error_of(&r), (100, Some(33)));
}

// ----- image specifications (issue 11) -----

#[test]
fn images_outside_instagrams_ratio_and_size_are_refused_before_charging() {
    let app = connected();
    let balance = app.balance();
    let image = |query: &str| app.sample_media(&format!("sample.jpg?{query}"));
    let refused = |query: &str| {
        let r = create(&app, json!({"content": "c", "mediaUrl": image(query)}));
        (
            r.status,
            r.json()["code"].as_str().unwrap_or("").to_string(),
            r.body,
        )
    };
    // 9:16 is taller than 4:5; 2000x1047 is just wider than 1.91:1.
    for query in ["width=1080&height=1920", "width=2000&height=1047"] {
        let (status, code, body) = refused(query);
        assert_eq!(
            (status, code.as_str()),
            (400, "UNSUPPORTED_MEDIA_TYPE"),
            "{body}"
        );
        assert!(body.contains("4:5") && body.contains("1.91:1"), "{body}");
    }
    let (status, code, body) = refused("width=1080&height=1080&bytes=8388609");
    assert_eq!((status, code.as_str()), (400, "MEDIA_TOO_LARGE"), "{body}");
    assert_eq!(app.balance(), balance, "nothing was charged");
    assert!(app.sim_posts_of("instagram").is_empty());
    // The edges are accepted: 4:5, 1.91:1, exactly 8 MiB, and a 200 px wide image, which
    // Instagram scales up.
    for query in [
        "width=1080&height=1350",
        "width=1910&height=1000",
        "width=1080&height=1080&bytes=8388608",
        "width=200&height=200",
    ] {
        let post = publish(&app, json!({"content": "c", "mediaUrl": image(query)}));
        assert_eq!(post["status"], "published", "{query}: {post}");
    }
}

#[test]
fn sim_refuses_images_with_instagrams_codes() {
    let app = TestApp::start();
    register(&app);
    let c = code(&app);
    let short = exchange(&app, &c, CB, SECRET).json();
    let token = short["access_token"].as_str().unwrap().to_string();
    let user = short["user_id"].to_string();
    let media = sim(&app, &format!("/v25.0/{user}/media"));
    let create = |image: &str| {
        let pairs = [("image_url", image), ("access_token", token.as_str())];
        send("POST", &media, &FORM, Some(&form(&pairs)))
    };
    let tall = app.sample_media("sample.jpg?width=1080&height=1920");
    let refused = create(&tall);
    assert_eq!(error_of(&refused), (36003, Some(2207009)));
    assert!(refused.body.contains("1080/1920"), "{}", refused.body);
    let big = app.sample_media("sample.jpg?width=1080&height=1080&bytes=8388609");
    let refused = create(&big);
    assert_eq!(error_of(&refused), (36000, Some(2207004)));
    assert!(refused.body.contains("8 MiB"), "{}", refused.body);
    let fine = create(&app.sample_media("sample.jpg?width=1080&height=1350"));
    assert_eq!(fine.status, 200, "{}", fine.body);
}

#[test]
fn carousel_items_outside_instagrams_image_rules_are_refused_before_charging() {
    let app = connected();
    let balance = app.balance();
    let image = |query: &str| app.sample_media(&format!("sample.jpg?{query}"));
    let carousel = |urls: Vec<String>| {
        create(
            &app,
            json!({"content": "c", "platformOptions": {"instagram": {"carouselUrls": urls}}}),
        )
    };
    // The second item is 9:16: taller than 4:5.
    let tall = image("width=1080&height=1920");
    let r = carousel(vec![image("width=1080&height=1080"), tall.clone()]);
    assert_eq!(r.error_code(400), "UNSUPPORTED_MEDIA_TYPE", "{}", r.body);
    assert!(
        r.body.contains(&tall) && r.body.contains("4:5"),
        "{}",
        r.body
    );
    // The first is larger than 8 MiB; the video item is not held to image rules.
    let r = carousel(vec![
        image("width=1080&height=1080&bytes=8388609"),
        app.sample_media("sample.mp4"),
    ]);
    assert_eq!(r.error_code(400), "MEDIA_TOO_LARGE", "{}", r.body);
    // An item that cannot be read is named by its place.
    let r = carousel(vec![
        image("width=1080&height=1080"),
        format!("{}/sandbox/_sim/media/missing.jpg", app.base),
    ]);
    assert_eq!(r.error_code(400), "MEDIA_UNREACHABLE", "{}", r.body);
    assert!(r.body.contains("carouselUrls[1]"), "{}", r.body);
    assert_eq!(app.balance(), balance, "nothing was charged");
    assert!(app.sim_posts_of("instagram").is_empty());
    // Items within the rules, with a video among them, are published.
    let post = publish(
        &app,
        json!({"content": "c", "platformOptions": {"instagram": {"carouselUrls": [
            image("width=1080&height=1350"), app.sample_media("sample.mp4"), image("width=1910&height=1000")
        ]}}}),
    );
    assert_eq!(post["status"], "published", "{post}");
}

#[test]
fn every_graph_call_carries_appsecret_proof() {
    // The app has "Require App Secret" on: connecting (GET /me), an image, a reel followed by
    // the engine and a carousel all work, so each Graph call sent the proof.
    let app = TestApp::start();
    app.sim_settings(
        "instagram",
        json!({"requireAppSecret": "some-other-app,mps-sandbox-instagram"}),
    );
    app.upsert_user("u1");
    app.connect("u1", "instagram", MEMBER);
    let image = publish(
        &app,
        json!({"content": "signed", "mediaUrl": app.sample_media("sample.jpg")}),
    );
    assert_eq!(image["status"], "published", "{image}");
    let reel = publish(
        &app,
        json!({"content": "signed reel", "mediaUrl": app.sample_media("sample.mp4?processing_polls=2")}),
    );
    assert_eq!(reel["status"], "published", "{reel}");
    let carousel = publish(
        &app,
        json!({"content": "signed set", "platformOptions": {"instagram": {"carouselUrls": [
            app.sample_media("sample.jpg"), app.sample_media("sample.mp4")
        ]}}}),
    );
    assert_eq!(carousel["status"], "published", "{carousel}");
    assert_eq!(app.sim_posts_of("instagram").len(), 3);
}

// ----- read-back and delete -----

fn account_adapter(app: &TestApp) -> Adapter<'_> {
    Adapter::of(app, "u1", Platform::Instagram)
}

#[test]
fn read_back_finds_the_media_by_caption_and_kind_in_the_window() {
    let app = connected();
    let image = app.sample_media("sample.jpg");
    let since = app.clock_now();
    let post = publish(&app, json!({"content": "Morning light", "mediaUrl": image}));
    assert_eq!(post["status"], "published", "{post}");
    app.clock.advance(chrono::Duration::seconds(30));
    let account = account_adapter(&app);
    let sent = content("Morning light", Some(&image), Some(MediaKind::Image));
    let published = found(account.find(&sent, None, since));
    assert_eq!(
        published.external_id,
        result(&post)["externalId"].as_str().unwrap()
    );
    assert_eq!(published.url.as_deref(), result(&post)["url"].as_str());
    // The same caption as a reel or a carousel is another post; so is another caption.
    let reel = content(
        "Morning light",
        Some(&app.sample_media("sample.mp4")),
        Some(MediaKind::Video),
    );
    assert!(is_absent(&account.find(&reel, None, since)));
    let carousel = account.with_options(json!({"carouselUrls": [image.clone(), image.clone()]}));
    assert!(is_absent(&carousel.find(&sent, None, since)));
    let other = content("Evening light", Some(&image), Some(MediaKind::Image));
    assert!(is_absent(&account.find(&other, None, since)));
    // Media made before the window is not taken for it.
    let later = app.clock_now() + chrono::Duration::minutes(10);
    app.clock.advance(chrono::Duration::minutes(10));
    assert!(is_absent(&account.find(&sent, None, later)));
}

#[test]
fn read_back_asks_the_stored_container_first() {
    let app = connected();
    let adapter = account_adapter(&app);
    let (token, account) = (&adapter.token, &adapter.account);
    let image = app.sample_media("sample.jpg");
    let since = app.clock_now();
    // A container made by an attempt that was then interrupted: never published.
    let made = send(
        "POST",
        &sim(&app, &format!("/v25.0/{}/media", account.id)),
        &FORM,
        Some(&form(&[
            ("image_url", &image),
            ("caption", "Held back"),
            ("access_token", token),
        ])),
    );
    assert_eq!(made.status, 200, "{}", made.body);
    let container = made.json()["id"].as_str().unwrap().to_string();
    let state = json!({"stage": "container", "container": container});
    let sent = content("Held back", Some(&image), Some(MediaKind::Image));
    assert!(is_absent(&adapter.find(&sent, Some(&state), since)));
    // Published after all (the answer to media_publish was lost): found, with its media id.
    let published = send(
        "POST",
        &sim(&app, &format!("/v25.0/{}/media_publish", account.id)),
        &FORM,
        Some(&form(&[
            ("creation_id", &container),
            ("access_token", token),
        ])),
    );
    assert_eq!(published.status, 200, "{}", published.body);
    let media_id = published.json()["id"].as_str().unwrap().to_string();
    assert_eq!(found_id(adapter.find(&sent, Some(&state), since)), media_id);
}

#[test]
fn instagram_media_cannot_be_deleted_through_its_api() {
    let app = connected();
    let post = publish(
        &app,
        json!({"content": "Stays", "mediaUrl": app.sample_media("sample.jpg")}),
    );
    let id = result(&post)["externalId"].as_str().unwrap().to_string();
    let adapter = account_adapter(&app);
    assert!(!adapter.provider.can_delete());
    let refused = adapter.delete(&id).unwrap_err();
    assert_eq!(refused.code(), mypostshare::error::Code::DeleteNotAvailable);
    assert!(
        refused.message().contains(&id)
            && refused.message().contains("delete it in the Instagram app"),
        "{}",
        refused.message()
    );
    assert_eq!(
        app.sim_posts_of("instagram")[0]["deleted"],
        serde_json::Value::Null
    );
}
