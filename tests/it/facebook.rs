//! Facebook Pages end to end: the hosted connect flow through the simulated Login dialog (with
//! its Page chooser), publishing text, link and photo posts as a Page, choosing another granted
//! Page, the validation rules, a scheduled post outliving its token; then the simulator's own
//! refusals at the Graph API level. Deny, faults and duplicates are rows of the scenario table
//! (`scenarios.rs`).

use crate::adapter_calls::{Adapter, content, found, is_absent, unknowable_reason};
use crate::support::{Setup, TestApp, query_value, send};
use mypostshare::providers::{Deletion, MediaKind, Platform, ReadBack};
use serde_json::{Value, json};

const MEMBER: &str = "Alex Morgan";

fn connected() -> TestApp {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect("u1", "facebook", MEMBER);
    app
}

fn publish(app: &TestApp, body: Value) -> Value {
    let mut body = body;
    body["externalUserId"] = json!("u1");
    body["platforms"] = json!(["facebook"]);
    let r = app.post("/api/v1/posts", body);
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()
}

fn result(post: &Value) -> &Value {
    &post["platformResults"][0]
}

fn connection(app: &TestApp) -> Value {
    app.get("/api/v1/end-users/u1/connections").json()[0].clone()
}

fn targets(app: &TestApp) -> Vec<Value> {
    let r = app.get("/api/v1/end-users/u1/connections/facebook/targets");
    assert_eq!(r.status, 200, "{}", r.body);
    r.json().as_array().unwrap().clone()
}

#[test]
fn allow_connects_the_first_granted_page() {
    let app = TestApp::start();
    app.upsert_user("u1");
    let location = app.connect("u1", "facebook", MEMBER);
    assert_eq!(
        query_value(&location, "accountType").as_deref(),
        Some("page")
    );
    assert_eq!(
        query_value(&location, "remoteUsername").as_deref(),
        Some("Harbor Bakery")
    );
    let page_id = query_value(&location, "remoteAccountId").unwrap();
    assert!(page_id.bytes().all(|b| b.is_ascii_digit()), "{page_id}");
    let c = connection(&app);
    assert_eq!(c["status"], "connected");
    // No refresh token on Facebook, and no expiry either: the connection publishes with the
    // Page tokens, which do not expire when read with the long-lived user token.
    assert_eq!(c["tokenStatus"], "active");
    assert_eq!(c["accessTokenExpiresAt"], Value::Null, "{c}");
    let list = targets(&app);
    // The third Page is owned through a Business Manager: listed because the appliance asks
    // for business_management.
    assert_eq!(list.len(), 3, "{list:?}");
    assert_eq!(list[0]["id"], page_id.as_str());
    assert_eq!(list[0]["type"], "page");
    assert_eq!(list[1]["name"], "Northside Studio");
    assert_eq!(list[2]["name"], "Lakeside Agency");
}

#[test]
fn granting_no_page_fails_the_connection() {
    let app = TestApp::start();
    app.upsert_user("u1");
    let session = app.create_session_for("u1", "facebook");
    let (action, fields) = app.open_consent_page(session["connectUrl"].as_str().unwrap());
    let fields: Vec<_> = fields.into_iter().filter(|(k, _)| k != "page").collect();
    let callback = app.decide(&(action, fields), "allow", MEMBER);
    let done = app.follow_callback(&callback);
    let location = done.header("location").unwrap();
    assert_eq!(query_value(location, "status").as_deref(), Some("failed"));
    assert_eq!(
        query_value(location, "errorCode").as_deref(),
        Some("provider_callback_failed")
    );
}

#[test]
fn a_text_post_is_published_as_the_page() {
    let app = connected();
    let page_id = connection(&app)["remoteAccountId"]
        .as_str()
        .unwrap()
        .to_string();
    let post = publish(
        &app,
        json!({"content": "Fresh bread at 7 (and croissants) #bakery"}),
    );
    assert_eq!(post["status"], "published", "{post}");
    let external = result(&post)["externalId"].as_str().unwrap().to_string();
    assert!(external.starts_with(&format!("{page_id}_")), "{external}");
    assert_eq!(
        result(&post)["url"],
        format!("https://www.facebook.com/{external}")
    );
    let posts = app.sim_posts_of("facebook");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["kind"], "text");
    assert_eq!(posts[0]["pageId"], page_id.as_str());
    assert_eq!(
        posts[0]["message"],
        "Fresh bread at 7 (and croissants) #bakery"
    );
    assert_eq!(posts[0]["id"], external.as_str());
}

#[test]
fn a_link_post_and_a_photo_post() {
    let app = connected();
    let link = publish(
        &app,
        json!({"content": "Our new menu", "platformOptions": {"facebook": {"link": "https://bakery.example/menu"}}}),
    );
    assert_eq!(link["status"], "published", "{link}");
    let image = app.sample_media("sample.png");
    let photo = publish(&app, json!({"content": "Today's loaf", "mediaUrl": image}));
    assert_eq!(photo["status"], "published", "{photo}");
    let posts = app.sim_posts_of("facebook");
    assert_eq!(posts[0]["kind"], "link");
    assert_eq!(posts[0]["link"], "https://bakery.example/menu");
    assert_eq!(posts[1]["kind"], "photo");
    assert_eq!(posts[1]["imageUrl"], image.as_str());
    assert_eq!(posts[1]["message"], "Today's loaf");
    // The post id, not the photo's own id, identifies the post.
    assert_eq!(result(&photo)["externalId"], posts[1]["id"]);
}

#[test]
fn page_id_chooses_another_granted_page() {
    let app = connected();
    let studio = targets(&app)[1]["id"].as_str().unwrap().to_string();
    let post = publish(
        &app,
        json!({"content": "Studio open day", "platformOptions": {"facebook": {"pageId": studio}}}),
    );
    assert_eq!(post["status"], "published", "{post}");
    let posts = app.sim_posts_of("facebook");
    assert_eq!(posts[0]["pageId"], studio.as_str());
    assert_eq!(posts[0]["pageName"], "Northside Studio");
}

#[test]
fn a_page_the_person_did_not_grant_is_a_clear_failure() {
    let app = TestApp::start();
    app.upsert_user("u1");
    let session = app.create_session_for("u1", "facebook");
    let (action, fields) = app.open_consent_page(session["connectUrl"].as_str().unwrap());
    // Untick the second and third Pages.
    let fields: Vec<_> = fields
        .into_iter()
        .filter(|(k, v)| !(k == "page" && (v == "studio" || v == "agency")))
        .collect();
    let callback = app.decide(&(action, fields), "allow", MEMBER);
    assert_eq!(app.follow_callback(&callback).status, 302);
    assert_eq!(targets(&app).len(), 1);
    let post = publish(
        &app,
        json!({"content": "Somewhere else", "platformOptions": {"facebook": {"pageId": "123456789012345"}}}),
    );
    assert_eq!(post["status"], "failed");
    assert_eq!(result(&post)["errorCode"], "PLATFORM_REJECTED");
    let message = result(&post)["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("123456789012345") && message.contains("Harbor Bakery"),
        "{message}"
    );
    assert!(app.sim_posts_of("facebook").is_empty());
}

#[test]
fn validation_rules() {
    let app = connected();
    let check = |body: Value, code: &str| {
        let mut body = body;
        body["externalUserId"] = json!("u1");
        body["platforms"] = json!(["facebook"]);
        let r = app.post("/api/v1/posts", body);
        assert_eq!(r.error_code(400), code, "{}", r.body);
    };
    check(json!({"content": "x".repeat(63_207)}), "CONTENT_TOO_LONG");
    check(
        json!({"content": "clip", "mediaUrl": app.sample_media("sample.mp4"), "thumbnailUrl": app.sample_media("sample.png")}),
        "UNSUPPORTED_MEDIA_TYPE",
    );
    check(
        json!({"content": "x", "mediaUrl": app.sample_media("sample.png"), "thumbnailUrl": app.sample_media("sample.png")}),
        "UNSUPPORTED_MEDIA_TYPE",
    );
    check(
        json!({"content": "x", "platformOptions": {"facebook": {"privacy": "EVERYONE"}}}),
        "VALIDATION_FAILED",
    );
    check(
        json!({"content": "x", "platformOptions": {"facebook": {"pageId": "my-page"}}}),
        "VALIDATION_FAILED",
    );
    check(
        json!({"content": "x", "platformOptions": {"facebook": {"link": "bakery.example"}}}),
        "VALIDATION_FAILED",
    );
    check(
        json!({"content": "x", "mediaUrl": app.sample_media("sample.png"), "platformOptions": {"facebook": {"link": "https://bakery.example"}}}),
        "VALIDATION_FAILED",
    );
    // The longest message passes.
    let post = publish(&app, json!({"content": "y".repeat(63_206)}));
    assert_eq!(post["status"], "published", "{}", result(&post));
}

#[test]
fn an_expired_user_token_asks_for_a_reconnect() {
    let app = TestApp::start_with(Setup {
        access_token_ttl: Some(chrono::Duration::days(60)),
        ..Setup::default()
    });
    app.upsert_user("u1");
    app.connect("u1", "facebook", MEMBER);
    let at = (app.clock_now() + chrono::Duration::days(90)).to_rfc3339();
    let r = app.post(
        "/api/v1/posts/scheduled",
        json!({"externalUserId": "u1", "content": "three months on", "platforms": ["facebook"], "scheduleAt": at}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["id"].as_str().unwrap().to_string();
    app.clock.advance(chrono::Duration::days(91));
    assert_eq!(connection(&app)["tokenStatus"], "active");
    // Listing the Pages needs no user token either.
    assert_eq!(targets(&app).len(), 3);
    app.run_job("dispatch_due_deliveries");
    let done = app.wait_for_post(&id, |p| {
        p["status"] == "published" || p["status"] == "failed"
    });
    assert_eq!(done["status"], "published", "{done}");
    assert_eq!(app.sim_posts_of("facebook").len(), 1);
}

#[test]
fn every_graph_call_carries_appsecret_proof() {
    // The app has "Require App Secret" on: connecting, listing Pages, publishing (text and
    // video, with its status reads) and disconnecting all work, so each call sent the proof.
    let app = TestApp::start();
    app.sim_settings(
        "facebook",
        json!({"requireAppSecret": "some-other-app,mps-sandbox-facebook"}),
    );
    app.upsert_user("u1");
    app.connect("u1", "facebook", MEMBER);
    assert_eq!(targets(&app).len(), 3);
    let text = publish(&app, json!({"content": "signed"}));
    assert_eq!(text["status"], "published", "{text}");
    let video = publish(
        &app,
        json!({"content": "signed film", "mediaUrl": app.sample_media("sample.mp4")}),
    );
    assert_eq!(video["status"], "published", "{video}");
    let gone = app.call("DELETE", "/api/v1/end-users/u1/connections/facebook", None);
    assert_eq!(gone.status, 204);
}

#[test]
fn a_video_is_published_only_once_facebook_has_processed_it() {
    let app = connected();
    app.sim_settings("facebook", json!({"videoProcessingPolls": 6}));
    let post = publish(
        &app,
        json!({"content": "Slow film", "mediaUrl": app.sample_media("sample.mp4")}),
    );
    assert_eq!(post["status"], "processing", "{post}");
    assert!(app.sim_posts_of("facebook").is_empty(), "not published yet");
    let id = post["id"].as_str().unwrap().to_string();
    let mut last = post.clone();
    for _ in 0..40 {
        app.clock.advance(chrono::Duration::seconds(31));
        app.run_job("dispatch_due_deliveries");
        std::thread::sleep(std::time::Duration::from_millis(100));
        last = app.get(&format!("/api/v1/posts/{id}")).json();
        if last["status"] == "published" {
            break;
        }
    }
    assert_eq!(last["status"], "published", "{last}");
    assert_eq!(app.sim_posts_of("facebook").len(), 1);
}

#[test]
fn a_video_whose_processing_fails_is_not_reported_published() {
    let app = connected();
    app.sim_settings("facebook", json!({"failVideoProcessing": 1}));
    let post = publish(
        &app,
        json!({"content": "Broken film", "mediaUrl": app.sample_media("sample.mp4")}),
    );
    assert_eq!(post["status"], "failed", "{post}");
    assert_eq!(result(&post)["errorCode"], "MEDIA_PROCESSING_FAILED");
    let message = result(&post)["errorMessage"].as_str().unwrap();
    assert!(message.contains("Video Processing Failed"), "{message}");
    assert!(app.sim_posts_of("facebook").is_empty());
}

// ----- the simulator's Graph API on its own -----

const CLIENT: &str = "fb-test-app";
const SECRET: &str = "fb-test-secret";
const CB: &str = "https://client.example.com/fb/cb";

fn sim(app: &TestApp, path: &str) -> String {
    format!("{}/sandbox/facebook/v25.0{path}", app.base)
}

fn register(app: &TestApp) {
    let r = send(
        "POST",
        &format!("{}/sandbox/_sim/clients", app.base),
        &[("Content-Type", "application/json")],
        Some(
            &json!({"platform": "facebook", "clientId": CLIENT, "clientSecret": SECRET, "name": "Bakery Tools", "redirectUris": [CB]})
                .to_string(),
        ),
    );
    assert_eq!(r.status, 201, "{}", r.body);
}

/// Walks the dialog with Allow; returns the code.
fn code(app: &TestApp, pages: &[&str]) -> String {
    let mut pairs = vec![
        ("client_id", CLIENT),
        ("redirect_uri", CB),
        ("state", "s1"),
        (
            "scope",
            "pages_show_list,pages_read_engagement,pages_manage_posts",
        ),
        ("member_name", MEMBER),
        ("decision", "allow"),
    ];
    for page in pages {
        pairs.push(("page", page));
    }
    let r = send(
        "POST",
        &sim(app, "/dialog/oauth"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(&mypostshare::http::encode_query(&pairs)),
    );
    assert_eq!(r.status, 302, "{}", r.body);
    let location = r
        .header("location")
        .unwrap()
        .trim_end_matches("#_=_")
        .to_string();
    assert_eq!(query_value(&location, "state").as_deref(), Some("s1"));
    query_value(&location, "code").unwrap()
}

fn exchange(app: &TestApp, code: &str, redirect: &str, secret: &str) -> crate::support::Reply {
    let url = mypostshare::http::append_query(
        &sim(app, "/oauth/access_token"),
        &[
            ("client_id", CLIENT),
            ("redirect_uri", redirect),
            ("client_secret", secret),
            ("code", code),
        ],
    );
    send("GET", &url, &[], None)
}

fn graph_code(reply: &crate::support::Reply) -> (i64, Option<i64>) {
    let body = reply.json();
    (
        body["error"]["code"]
            .as_i64()
            .unwrap_or_else(|| panic!("{body}")),
        body["error"]["error_subcode"].as_i64(),
    )
}

#[test]
fn sim_the_dialog_shows_the_app_scopes_and_pages() {
    let app = TestApp::start();
    register(&app);
    let url = mypostshare::http::append_query(
        &sim(&app, "/dialog/oauth"),
        &[
            ("client_id", CLIENT),
            ("redirect_uri", CB),
            ("state", "s"),
            ("scope", "pages_show_list,pages_manage_posts"),
        ],
    );
    let page = send("GET", &url, &[], None);
    assert_eq!(page.status, 200, "{}", page.body);
    for needle in [
        "Bakery Tools",
        "Create and manage content on your Page",
        "name=\"page\" value=\"bakery\" checked",
        "Northside Studio",
        "name=\"member_name\"",
        ">Allow<",
        ">Deny<",
    ] {
        assert!(page.body.contains(needle), "{needle} missing");
    }
    let bad = mypostshare::http::append_query(
        &sim(&app, "/dialog/oauth"),
        &[
            ("client_id", CLIENT),
            ("redirect_uri", "https://evil.example/cb"),
        ],
    );
    let refused = send("GET", &bad, &[], None);
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("URL blocked"));
    let unknown_scope = mypostshare::http::append_query(
        &sim(&app, "/dialog/oauth"),
        &[
            ("client_id", CLIENT),
            ("redirect_uri", CB),
            ("scope", "publish_actions"),
        ],
    );
    assert_eq!(send("GET", &unknown_scope, &[], None).status, 400);
}

#[test]
fn sim_codes_work_once_with_the_same_redirect_and_the_right_secret() {
    let app = TestApp::start();
    register(&app);
    let c = code(&app, &["bakery"]);
    let wrong_secret = exchange(&app, &c, CB, "nope");
    assert_eq!(wrong_secret.status, 400);
    assert_eq!(graph_code(&wrong_secret), (1, None));
    let wrong_redirect = exchange(&app, &c, "https://client.example.com/other", SECRET);
    assert_eq!(graph_code(&wrong_redirect), (100, Some(36008)));
    let ok = exchange(&app, &c, CB, SECRET);
    assert_eq!(ok.status, 200, "{}", ok.body);
    let body = ok.json();
    assert_eq!(body["token_type"], "bearer");
    assert!(
        body["expires_in"].as_i64().unwrap() <= 7200,
        "short-lived first"
    );
    let reused = exchange(&app, &c, CB, SECRET);
    assert_eq!(graph_code(&reused), (100, Some(36009)));
    // The long-lived exchange needs the secret too.
    let short = body["access_token"].as_str().unwrap();
    let long = send(
        "GET",
        &mypostshare::http::append_query(
            &sim(&app, "/oauth/access_token"),
            &[
                ("grant_type", "fb_exchange_token"),
                ("client_id", CLIENT),
                ("client_secret", SECRET),
                ("fb_exchange_token", short),
            ],
        ),
        &[],
        None,
    );
    assert_eq!(long.status, 200, "{}", long.body);
    assert!(long.json()["expires_in"].as_i64().unwrap() > 50 * 86_400);
}

#[test]
fn sim_publishing_needs_a_page_token_of_that_page() {
    let app = TestApp::start();
    register(&app);
    let c = code(&app, &["bakery"]);
    let user_token = exchange(&app, &c, CB, SECRET).json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let accounts = send(
        "GET",
        &format!(
            "{}?fields=id,name,access_token,tasks",
            sim(&app, "/me/accounts")
        ),
        &[("Authorization", &format!("OAuth {user_token}"))],
        None,
    );
    assert_eq!(accounts.status, 200, "{}", accounts.body);
    let page = accounts.json()["data"][0].clone();
    assert_eq!(accounts.json()["data"].as_array().unwrap().len(), 1);
    assert!(
        page["tasks"]
            .as_array()
            .unwrap()
            .contains(&json!("CREATE_CONTENT"))
    );
    let page_id = page["id"].as_str().unwrap();
    let page_token = page["access_token"].as_str().unwrap();
    let feed = sim(&app, &format!("/{page_id}/feed"));
    let form = |pairs: &[(&str, &str)]| mypostshare::http::encode_query(pairs);
    let ct = [("Content-Type", "application/x-www-form-urlencoded")];
    // No token.
    let r = send("POST", &feed, &ct, Some(&form(&[("message", "hi")])));
    assert_eq!(graph_code(&r), (2500, None));
    // A user token cannot post as the Page.
    let r = send(
        "POST",
        &feed,
        &ct,
        Some(&form(&[("message", "hi"), ("access_token", &user_token)])),
    );
    assert_eq!(graph_code(&r), (200, None));
    // Too long.
    let long = "x".repeat(63_207);
    let r = send(
        "POST",
        &feed,
        &ct,
        Some(&form(&[("message", &long), ("access_token", page_token)])),
    );
    assert_eq!(graph_code(&r), (100, None));
    // Nothing to post.
    let r = send(
        "POST",
        &feed,
        &ct,
        Some(&form(&[("access_token", page_token)])),
    );
    assert_eq!(graph_code(&r), (100, None));
    // Another Page's feed.
    let r = send(
        "POST",
        &sim(&app, "/999999999999999/feed"),
        &ct,
        Some(&form(&[("message", "hi"), ("access_token", page_token)])),
    );
    assert_eq!(graph_code(&r), (100, Some(33)));
    // A photo needs a reachable image.
    let photos = sim(&app, &format!("/{page_id}/photos"));
    let r = send(
        "POST",
        &photos,
        &ct,
        Some(&form(&[("access_token", page_token)])),
    );
    assert_eq!(graph_code(&r), (324, None));
    let missing = format!("{}/sandbox/_sim/media/nothing.png", app.base);
    let r = send(
        "POST",
        &photos,
        &ct,
        Some(&form(&[("url", &missing), ("access_token", page_token)])),
    );
    assert_eq!(graph_code(&r).0, 100);
    // The accepted one.
    let r = send(
        "POST",
        &feed,
        &ct,
        Some(&form(&[("message", "hi"), ("access_token", page_token)])),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.json()["id"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{page_id}_"))
    );
    // Revoking the login ends the Page token too.
    let revoke = send(
        "DELETE",
        &sim(&app, "/me/permissions"),
        &[("Authorization", &format!("Bearer {user_token}"))],
        None,
    );
    assert_eq!(revoke.json()["success"], true);
    let r = send(
        "POST",
        &feed,
        &ct,
        Some(&form(&[("message", "again"), ("access_token", page_token)])),
    );
    assert_eq!(graph_code(&r), (190, Some(458)));
}

#[test]
fn a_video_is_published_to_the_page_by_url() {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect("u1", "facebook", "Alex Morgan");
    let video = app.sample_media("sample.mp4");
    let post = app.post(
        "/api/v1/posts",
        json!({"externalUserId": "u1", "title": "Launch film", "content": "Our launch film", "mediaUrl": video, "platforms": ["facebook"]}),
    );
    assert_eq!(post.status, 201, "{}", post.body);
    let result = &post.json()["platformResults"][0];
    assert_eq!(result["status"], "published", "{result}");
    let recorded = app.sim_posts_of("facebook");
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["kind"], "video");
    assert_eq!(recorded[0]["videoUrl"], video.as_str());
    assert_eq!(recorded[0]["message"], "Our launch film");
    assert_eq!(result["externalId"], recorded[0]["videoId"]);
    let page = recorded[0]["pageId"].as_str().unwrap();
    assert_eq!(
        result["url"],
        format!(
            "https://www.facebook.com/{page}/videos/{}",
            recorded[0]["videoId"].as_str().unwrap()
        )
    );
}

#[test]
fn sim_require_app_secret_refuses_calls_without_a_right_proof() {
    let app = TestApp::start();
    register(&app);
    let c = code(&app, &["bakery"]);
    let user_token = exchange(&app, &c, CB, SECRET).json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let me = |query: &str| {
        send(
            "GET",
            &format!("{}{query}", sim(&app, "/me")),
            &[("Authorization", &format!("OAuth {user_token}"))],
            None,
        )
    };
    let proof = mypostshare::providers::facebook::appsecret_proof(SECRET, &user_token);
    // Off by default: no proof is fine, and a wrong one is refused all the same.
    assert_eq!(me("").status, 200);
    let wrong = me("?appsecret_proof=0123abcd");
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.json()["error"]["type"], "GraphMethodException");
    assert_eq!(
        wrong.json()["error"]["message"],
        "Invalid appsecret_proof provided in the API argument"
    );
    app.sim_settings("facebook", json!({"requireAppSecret": CLIENT}));
    let missing = me("");
    assert_eq!(missing.status, 400);
    assert_eq!(graph_code(&missing), (100, None));
    assert_eq!(missing.json()["error"]["type"], "GraphMethodException");
    assert_eq!(
        missing.json()["error"]["message"],
        "API calls from the server require an appsecret_proof argument"
    );
    assert_eq!(graph_code(&me("?appsecret_proof=0123abcd")), (100, None));
    // A proof made with another app's secret is wrong too.
    let other = mypostshare::providers::facebook::appsecret_proof("not-the-secret", &user_token);
    assert_eq!(me(&format!("?appsecret_proof={other}")).status, 400);
    let ok = me(&format!("?appsecret_proof={proof}"));
    assert_eq!(ok.status, 200, "{}", ok.body);
}

#[test]
fn sim_a_video_reports_its_processing_status() {
    let app = TestApp::start();
    register(&app);
    app.sim_settings("facebook", json!({"videoProcessingPolls": 1}));
    let c = code(&app, &["bakery"]);
    let user_token = exchange(&app, &c, CB, SECRET).json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let accounts = send(
        "GET",
        &format!("{}?fields=id,name,access_token", sim(&app, "/me/accounts")),
        &[("Authorization", &format!("OAuth {user_token}"))],
        None,
    );
    let page = accounts.json()["data"][0].clone();
    let (page_id, page_token) = (
        page["id"].as_str().unwrap(),
        page["access_token"].as_str().unwrap(),
    );
    let video = app.sample_media("sample.mp4");
    let created = send(
        "POST",
        &sim(&app, &format!("/{page_id}/videos")),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(&mypostshare::http::encode_query(&[
            ("file_url", video.as_str()),
            ("description", "film"),
            ("access_token", page_token),
        ])),
    );
    assert_eq!(created.status, 200, "{}", created.body);
    let video_id = created.json()["id"].as_str().unwrap().to_string();
    let status = || {
        send(
            "GET",
            &format!("{}?fields=status", sim(&app, &format!("/{video_id}"))),
            &[("Authorization", &format!("OAuth {page_token}"))],
            None,
        )
        .json()
    };
    let first = status();
    assert_eq!(first["id"], video_id.as_str());
    assert_eq!(first["status"]["video_status"], "processing", "{first}");
    assert!(first["status"]["processing_progress"].is_u64(), "{first}");
    assert!(app.sim_posts_of("facebook").is_empty());
    let second = status();
    assert_eq!(second["status"]["video_status"], "ready", "{second}");
    assert_eq!(second["status"]["processing_progress"], 100);
    assert_eq!(app.sim_posts_of("facebook").len(), 1);
    // Reading again changes nothing.
    assert_eq!(status()["status"]["video_status"], "ready");
    assert_eq!(app.sim_posts_of("facebook").len(), 1);
}

#[test]
fn disconnecting_after_the_user_token_expired_still_revokes_the_app() {
    // Page tokens keep a connection publishing past the user token's 60 days, so a disconnect
    // usually comes after it expired. Revoking then goes through the app's own token, which
    // ends the app's authorization for the person: every login of theirs with this app.
    let app = TestApp::start_with(Setup {
        access_token_ttl: Some(chrono::Duration::days(60)),
        ..Setup::default()
    });
    app.upsert_user("u1");
    app.connect("u1", "facebook", MEMBER);
    app.clock.advance(chrono::Duration::days(61));
    // The same person logs in to the same app again for another end user.
    app.upsert_user("u2");
    app.connect("u2", "facebook", MEMBER);
    let before = app.post(
        "/api/v1/posts",
        json!({"externalUserId": "u2", "content": "still here", "platforms": ["facebook"]}),
    );
    assert_eq!(before.json()["status"], "published", "{}", before.body);

    let gone = app.call("DELETE", "/api/v1/end-users/u1/connections/facebook", None);
    assert_eq!(gone.status, 204, "{}", gone.body);
    let after = app.post(
        "/api/v1/posts",
        json!({"externalUserId": "u2", "content": "after the revoke", "platforms": ["facebook"]}),
    );
    let post = after.json();
    assert_eq!(post["status"], "failed", "{post}");
    assert_eq!(
        post["platformResults"][0]["errorCode"], "NEEDS_RECONNECT",
        "{post}"
    );
}

// ----- read-back and delete, through the connection's own adapter -----

fn page_adapter(app: &TestApp) -> Adapter<'_> {
    Adapter::of(app, "u1", Platform::Facebook)
}

#[test]
fn read_back_finds_the_page_post_in_the_window_and_nothing_else() {
    let app = connected();
    let earlier = publish(&app, json!({"content": "Fresh bread at nine"}));
    assert_eq!(earlier["status"], "published", "{earlier}");
    app.clock.advance(chrono::Duration::minutes(30));
    let since = app.clock_now();
    let post = publish(&app, json!({"content": "Croissants are back"}));
    let id = result(&post)["externalId"].as_str().unwrap().to_string();
    app.clock.advance(chrono::Duration::seconds(20));

    let page = page_adapter(&app);
    let published = found(page.find(&content("Croissants are back", None, None), None, since));
    assert_eq!(published.external_id, id);
    assert_eq!(published.url.as_deref(), result(&post)["url"].as_str());
    // The same text posted before the window is not taken for it; other text is absent.
    assert!(is_absent(&page.find(
        &content("Fresh bread at nine", None, None),
        None,
        since
    )));
    assert!(is_absent(&page.find(
        &content("never sent", None, None),
        None,
        since
    )));
}

#[test]
fn read_back_of_a_video_waits_for_facebook_to_finish_processing_it() {
    let app = connected();
    app.sim_settings("facebook", json!({"videoProcessingPolls": 50}));
    let since = app.clock_now();
    let url = app.sample_media("sample.mp4");
    let post = publish(&app, json!({"content": "Slow film", "mediaUrl": url}));
    assert_eq!(post["status"], "processing", "{post}");
    let film = content("Slow film", Some(&url), Some(MediaKind::Video));
    let page = page_adapter(&app);
    // Found in the Page's videos, but not published until Facebook has processed it.
    let reason = unknowable_reason(page.find(&film, None, since));
    assert!(reason.contains("still processing"), "{reason}");
    // Each status read moves the simulated processing on; enough reads end it.
    let mut last = None;
    for _ in 0..60 {
        match page.find(&film, None, since) {
            Ok(ReadBack::Found(found)) => {
                last = Some(found);
                break;
            }
            Ok(ReadBack::Unknowable { .. }) => continue,
            other => panic!("the video exists: {other:?}"),
        }
    }
    let found = last.expect("ready after processing");
    assert!(found.url.unwrap().contains("/videos/"), "a video's address");
}

#[test]
fn delete_removes_the_page_post_and_a_second_delete_finds_it_gone() {
    let app = connected();
    let post = publish(&app, json!({"content": "Closed on Monday"}));
    let id = result(&post)["externalId"].as_str().unwrap().to_string();
    let page = page_adapter(&app);
    assert_eq!(page.delete(&id).unwrap(), Deletion::Deleted);
    let record = app.sim_posts_of("facebook")[0].clone();
    assert_eq!(record["deleted"], true, "{record}");
    assert_eq!(page.delete(&id).unwrap(), Deletion::AlreadyGone);
    // A deleted post is no longer found by read-back.
    assert!(is_absent(&page.find(
        &content("Closed on Monday", None, None),
        None,
        app.clock_now() - chrono::Duration::minutes(5)
    )));
}
