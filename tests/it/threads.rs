//! Threads end to end: the hosted connect flow through the simulator's authorize window, every
//! kind of post and what the simulator recorded, the platform's rules, the long-lived token's
//! refresh and expiry; then the simulator's own API where the exact rejection matters. The behaviours every
//! platform shares (deny, faults, duplicates) are rows of the scenario table (`scenarios.rs`).

use crate::support::{TestApp, query_value, send};
use serde_json::{Value, json};

mod readback;

const LONG_LIVED_SECS: i64 = 5_183_944;

fn connected() -> TestApp {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect("u1", "threads", "Alex Morgan");
    app
}

fn publish(app: &TestApp, body: Value) -> Value {
    let mut body = body;
    body["externalUserId"] = json!("u1");
    body["platforms"] = json!(["threads"]);
    let reply = app.post("/api/v1/posts", body);
    assert!(
        reply.status == 201 || reply.status == 200 || reply.status == 202,
        "{}",
        reply.body
    );
    reply.json()
}

fn result(post: &Value) -> &Value {
    &post["platformResults"][0]
}

fn connection(app: &TestApp) -> Value {
    app.get("/api/v1/end-users/u1/connections").json()[0].clone()
}

fn post_id(post: &Value) -> String {
    post["id"].as_str().unwrap().to_string()
}

// ----- connect -----

#[test]
fn connecting_with_allow_stores_a_refreshable_long_lived_token() {
    let app = TestApp::start();
    app.upsert_user("u1");
    let location = app.connect("u1", "threads", "Alex Morgan");
    assert_eq!(
        query_value(&location, "remoteUsername").as_deref(),
        Some("alex_morgan")
    );
    let id = query_value(&location, "remoteAccountId").unwrap();
    assert!(
        id.bytes().all(|b| b.is_ascii_digit()) && id.len() == 17,
        "{id}"
    );
    let c = connection(&app);
    assert_eq!(c["platform"], "threads");
    assert_eq!(c["tokenStatus"], "active_refreshable");
    assert_eq!(c["canAutoRefresh"], true);
    // The long-lived token (~60 days), not the one-hour token, is what was stored.
    let expires =
        mypostshare::clock::parse_timestamp(c["accessTokenExpiresAt"].as_str().unwrap()).unwrap();
    let left = (expires - app.clock_now()).num_seconds();
    assert!(
        (LONG_LIVED_SECS - 60..=LONG_LIVED_SECS).contains(&left),
        "{left}"
    );
    assert_eq!(c["refreshTokenExpiresAt"], c["accessTokenExpiresAt"]);
}

#[test]
fn the_authorize_window_names_the_app_and_the_comma_separated_scopes() {
    let app = TestApp::start();
    app.upsert_user("u1");
    let session = app.create_session_for("u1", "threads");
    let (action, fields) = app.open_consent_page(session["connectUrl"].as_str().unwrap());
    assert!(action.ends_with("/threads/oauth/authorize"), "{action}");
    let scope = fields.iter().find(|(k, _)| k == "scope").unwrap();
    assert_eq!(
        scope.1,
        "threads_basic,threads_content_publish,threads_delete"
    );
    assert!(fields.iter().any(|(k, _)| k == "member_name"));
}

/// Meta's own deny redirect (the rest of a denial is the scenario table's).
#[test]
fn denying_redirects_with_metas_reason_and_fragment() {
    let app = TestApp::start();
    app.upsert_user("u1");
    let session = app.create_session_for("u1", "threads");
    let form = app.open_consent_page(session["connectUrl"].as_str().unwrap());
    let callback = app.decide(&form, "deny", "Alex Morgan");
    assert_eq!(
        query_value(&callback, "error").as_deref(),
        Some("access_denied")
    );
    assert!(callback.ends_with("#_"), "Meta appends #_: {callback}");
}

// ----- publishing -----

#[test]
fn a_text_post_is_published_with_its_permalink() {
    let app = connected();
    let post = publish(
        &app,
        json!({"content": "Hello Threads 🚀", "platformOptions": {"threads": {"replyControl": "mentioned_only"}}}),
    );
    assert_eq!(post["status"], "published", "{post}");
    let url = result(&post)["url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with("https://www.threads.net/@alex_morgan/post/"),
        "{url}"
    );
    let recorded = app.sim_posts_of("threads");
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["mediaType"], "TEXT_POST");
    assert_eq!(recorded[0]["text"], "Hello Threads 🚀");
    assert_eq!(recorded[0]["replyControl"], "mentioned_only");
    assert_eq!(recorded[0]["permalink"], url.as_str());
    assert_eq!(result(&post)["externalId"], recorded[0]["id"]);
    assert_ne!(recorded[0]["id"], recorded[0]["containerId"]);
}

#[test]
fn an_image_post_hands_threads_the_image_url() {
    let app = connected();
    let image = app.sample_media("sample.png");
    let post = publish(
        &app,
        json!({"content": "a picture", "mediaUrl": image, "platformOptions": {"threads": {"altText": "one red pixel"}}}),
    );
    assert_eq!(post["status"], "published", "{post}");
    let recorded = &app.sim_posts_of("threads")[0];
    assert_eq!(recorded["mediaType"], "IMAGE");
    assert_eq!(recorded["imageUrl"], image.as_str());
    assert_eq!(recorded["altText"], "one red pixel");
    assert_eq!(recorded["text"], "a picture");
}

#[test]
fn a_video_that_finishes_within_the_call_is_published_at_once() {
    let app = connected();
    // The simulator keeps a video IN_PROGRESS for one status check by default.
    let video = app.sample_media("sample.mp4");
    let post = publish(&app, json!({"content": "a clip", "mediaUrl": video}));
    assert_eq!(post["status"], "published", "{post}");
    let recorded = &app.sim_posts_of("threads")[0];
    assert_eq!(recorded["mediaType"], "VIDEO");
    assert_eq!(recorded["videoUrl"], video.as_str());
}

#[test]
fn a_video_still_processing_is_finished_later_by_the_engine() {
    let app = connected();
    let video = app.sample_media("sample.mp4?sim_polls=7");
    let post = publish(&app, json!({"content": "a long clip", "mediaUrl": video}));
    assert_eq!(post["status"], "processing", "{post}");
    assert_eq!(result(&post)["status"], "processing");
    assert!(app.sim_posts_of("threads").is_empty());
    // Not due yet: nothing happens.
    app.run_job("dispatch_due_deliveries");
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert!(app.sim_posts_of("threads").is_empty());
    app.clock.advance(chrono::Duration::seconds(31));
    assert_eq!(
        app.run_job("dispatch_due_deliveries"),
        "queued 1 deliveries"
    );
    let done = app.wait_for_post(&post_id(&post), |p| p["status"] == "published");
    assert_eq!(done["status"], "published", "{done}");
    assert_eq!(app.sim_posts_of("threads").len(), 1);
}

#[test]
fn a_container_in_error_fails_with_the_platform_reason() {
    let app = connected();
    let video = app.sample_media("sample.mp4?sim_error=FAILED_PROCESSING_VIDEO");
    let post = publish(&app, json!({"content": "broken clip", "mediaUrl": video}));
    assert_eq!(post["status"], "failed", "{post}");
    assert_eq!(result(&post)["errorCode"], "PLATFORM_REJECTED");
    assert!(
        result(&post)["errorMessage"]
            .as_str()
            .unwrap()
            .contains("FAILED_PROCESSING_VIDEO"),
        "{post}"
    );
    assert!(app.sim_posts_of("threads").is_empty());
}

#[test]
fn a_container_not_yet_visible_to_publishing_is_published_on_the_next_look() {
    let app = connected();
    let image = app.sample_media("sample.png?sim_not_ready=1");
    // The publish call hands the delivery back for a look 5 s later, which the request's
    // time budget still covers.
    let post = publish(&app, json!({"content": "race", "mediaUrl": image}));
    assert_eq!(post["status"], "published", "{post}");
    assert_eq!(result(&post)["attemptCount"], 1);
    assert_eq!(app.sim_posts_of("threads").len(), 1, "published once");
}

#[test]
fn media_threads_cannot_fetch_fails_before_any_container() {
    let app = connected();
    let missing = app.sample_media("missing.png");
    let post = publish(
        &app,
        json!({"content": "nothing there", "mediaUrl": missing}),
    );
    assert_eq!(post["status"], "failed", "{post}");
    assert_eq!(result(&post)["errorCode"], "MEDIA_FETCH_FAILED");
    assert!(app.sim_posts_of("threads").is_empty());
}

// ----- rules -----

#[test]
fn the_platform_rules_are_checked_before_anything_is_charged() {
    let app = connected();
    let balance = app.balance();
    let attempt = |body: Value| {
        let mut body = body;
        body["externalUserId"] = json!("u1");
        body["platforms"] = json!(["threads"]);
        app.post("/api/v1/posts", body)
    };
    assert_eq!(
        attempt(json!({"content": "x".repeat(501)})).error_code(400),
        "CONTENT_TOO_LONG"
    );
    // 126 emoji are 126 characters but 504 by Threads' count (UTF-8 bytes).
    let rockets = attempt(json!({"content": "🚀".repeat(126)}));
    assert_eq!(rockets.error_code(400), "CONTENT_TOO_LONG");
    assert!(rockets.json()["message"].as_str().unwrap().contains("504"));
    assert_eq!(
        attempt(json!({"content": "gif", "mediaUrl": app.sample_media("sample.gif")}))
            .error_code(400),
        "UNSUPPORTED_MEDIA_TYPE"
    );
    assert_eq!(
        attempt(json!({"content": "v", "mediaUrl": app.sample_media("sample.mp4"), "thumbnailUrl": app.sample_media("sample.png")}))
            .error_code(400),
        "UNSUPPORTED_MEDIA_TYPE"
    );
    assert_eq!(
        attempt(json!({"content": "o", "platformOptions": {"threads": {"visibility": "PUBLIC"}}}))
            .error_code(400),
        "VALIDATION_FAILED"
    );
    assert_eq!(
        attempt(
            json!({"content": "o", "platformOptions": {"threads": {"replyControl": "nobody"}}})
        )
        .error_code(400),
        "VALIDATION_FAILED"
    );
    assert_eq!(
        attempt(json!({"content": "o", "platformOptions": {"threads": {"altText": "no media"}}}))
            .error_code(400),
        "VALIDATION_FAILED"
    );
    let links = (1..=6)
        .map(|n| format!("https://l{n}.example"))
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(
        attempt(json!({"content": links})).error_code(400),
        "VALIDATION_FAILED"
    );
    assert_eq!(app.balance(), balance);
    assert!(app.sim_posts_of("threads").is_empty());
    // Exactly at the limit is fine.
    assert_eq!(
        publish(&app, json!({"content": "y".repeat(500)}))["status"],
        "published"
    );
}

// ----- tokens -----

#[test]
fn the_long_lived_token_refreshes_itself_before_it_expires() {
    let app = connected();
    let before = connection(&app);
    app.clock
        .advance(chrono::Duration::seconds(LONG_LIVED_SECS - 30));
    let post = publish(&app, json!({"content": "day 60"}));
    assert_eq!(post["status"], "published", "{post}");
    let after = connection(&app);
    let at =
        |v: &Value, f: &str| mypostshare::clock::parse_timestamp(v[f].as_str().unwrap()).unwrap();
    let gained = at(&after, "accessTokenExpiresAt") - at(&before, "accessTokenExpiresAt");
    assert!(gained.num_days() >= 59, "{before} -> {after}");
    assert_eq!(
        after["refreshTokenExpiresAt"],
        after["accessTokenExpiresAt"]
    );
    assert_eq!(after["tokenStatus"], "active_refreshable");
}

#[test]
fn a_token_left_to_expire_needs_a_reconnect() {
    let app = connected();
    app.clock.advance(chrono::Duration::days(61));
    assert_eq!(connection(&app)["tokenStatus"], "expired");
    let balance = app.balance();
    let reply = app.post(
        "/api/v1/posts",
        json!({"externalUserId": "u1", "content": "too late", "platforms": ["threads"]}),
    );
    assert_eq!(reply.error_code(400), "PLATFORM_NEEDS_RECONNECT");
    assert_eq!(app.balance(), balance);
    assert!(app.sim_posts_of("threads").is_empty());
}

// ----- the simulator's own API -----

struct Raw<'a> {
    app: &'a TestApp,
}

const CLIENT_ID: &str = "990602627938098";
const CLIENT_SECRET: &str = "threads-test-secret";
const CALLBACK: &str = "https://client.example.com/threads/auth/";

impl Raw<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}/sandbox/threads{path}", self.app.base)
    }

    fn register(app: &TestApp) -> Raw<'_> {
        let r = send(
            "POST",
            &format!("{}/sandbox/_sim/clients", app.base),
            &[("Content-Type", "application/json")],
            Some(&json!({"platform": "threads", "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "name": "Social Sizzle", "redirectUris": [CALLBACK]}).to_string()),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        Raw { app }
    }

    fn code(&self, member: &str) -> String {
        let query = mypostshare::http::encode_query(&[
            ("client_id", CLIENT_ID),
            ("redirect_uri", CALLBACK),
            ("scope", "threads_basic,threads_content_publish"),
            ("response_type", "code"),
            ("state", "s1"),
        ]);
        let page = send(
            "GET",
            &self.url(&format!("/oauth/authorize?{query}")),
            &[],
            None,
        );
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(
            page.body.contains("Social Sizzle") && page.body.contains("threads_content_publish")
        );
        let body = format!("{query}&member_name={member}&decision=allow");
        let r = send(
            "POST",
            &self.url("/oauth/authorize"),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(&body),
        );
        assert_eq!(r.status, 302, "{}", r.body);
        let location = r.header("location").unwrap().to_string();
        assert!(
            location.starts_with(CALLBACK) && location.ends_with("#_"),
            "{location}"
        );
        let code = query_value(location.trim_end_matches("#_"), "code").unwrap();
        assert_eq!(
            query_value(location.trim_end_matches("#_"), "state").as_deref(),
            Some("s1")
        );
        code
    }

    fn exchange(&self, code: &str, secret: &str, redirect: &str) -> crate::support::Reply {
        let body = mypostshare::http::encode_query(&[
            ("client_id", CLIENT_ID),
            ("client_secret", secret),
            ("code", code),
            ("grant_type", "authorization_code"),
            ("redirect_uri", redirect),
        ]);
        send(
            "POST",
            &self.url("/oauth/access_token"),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(&body),
        )
    }

    fn long_lived(&self, short: &str) -> crate::support::Reply {
        let query = mypostshare::http::encode_query(&[
            ("grant_type", "th_exchange_token"),
            ("client_secret", CLIENT_SECRET),
            ("access_token", short),
        ]);
        send(
            "GET",
            &self.url(&format!("/access_token?{query}")),
            &[],
            None,
        )
    }

    fn refresh(&self, token: &str) -> crate::support::Reply {
        let query = mypostshare::http::encode_query(&[
            ("grant_type", "th_refresh_token"),
            ("access_token", token),
        ]);
        send(
            "GET",
            &self.url(&format!("/refresh_access_token?{query}")),
            &[],
            None,
        )
    }

    /// A fresh long-lived token and the user id.
    fn token(&self) -> (String, String) {
        let code = self.code("Sam Lee");
        let short = self.exchange(&code, CLIENT_SECRET, CALLBACK).json();
        let user_id = short["user_id"]
            .as_u64()
            .expect("user_id is a JSON number")
            .to_string();
        let long = self
            .long_lived(short["access_token"].as_str().unwrap())
            .json();
        (long["access_token"].as_str().unwrap().to_string(), user_id)
    }

    fn graph(
        &self,
        method: &str,
        path: &str,
        token: &str,
        form: &[(&str, &str)],
    ) -> crate::support::Reply {
        let auth = format!("Bearer {token}");
        let body = mypostshare::http::encode_query(form);
        send(
            method,
            &self.url(&format!("/v1.0/{path}")),
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            if method == "POST" { Some(&body) } else { None },
        )
    }
}

fn graph_code(reply: &crate::support::Reply) -> (i64, Option<i64>, String) {
    assert_eq!(reply.status, 400, "{}", reply.body);
    let v = reply.json();
    (
        v["error"]["code"].as_i64().unwrap(),
        v["error"]["error_subcode"].as_i64(),
        v["error"]["message"].as_str().unwrap().to_string(),
    )
}

#[test]
fn sim_codes_are_single_use_and_bound_to_secret_and_redirect() {
    let app = TestApp::start();
    let raw = Raw::register(&app);
    let code = raw.code("Sam Lee");
    assert_eq!(graph_code(&raw.exchange(&code, "wrong", CALLBACK)).0, 1);
    assert_eq!(
        graph_code(&raw.exchange(&code, CLIENT_SECRET, "https://client.example.com/other")).1,
        Some(36008)
    );
    let ok = raw.exchange(&code, CLIENT_SECRET, CALLBACK);
    assert_eq!(ok.status, 200, "{}", ok.body);
    let body = ok.json();
    assert!(body["user_id"].is_u64(), "{body}");
    assert!(body["access_token"].as_str().unwrap().starts_with("TH"));
    assert_eq!(
        graph_code(&raw.exchange(&code, CLIENT_SECRET, CALLBACK)).1,
        Some(36009)
    );
    let late = raw.code("Sam Lee");
    app.clock.advance(chrono::Duration::minutes(61));
    assert_eq!(
        graph_code(&raw.exchange(&late, CLIENT_SECRET, CALLBACK)).1,
        Some(36007)
    );
}

#[test]
fn sim_long_lived_tokens_last_sixty_days_and_refresh_only_after_a_day() {
    let app = TestApp::start();
    let raw = Raw::register(&app);
    let code = raw.code("Sam Lee");
    let short = raw.exchange(&code, CLIENT_SECRET, CALLBACK).json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    // A short-lived token cannot be refreshed, and the exchange wants the app secret.
    assert_eq!(graph_code(&raw.refresh(&short)).0, 100);
    let query = format!(
        "/access_token?grant_type=th_exchange_token&client_secret=nope&access_token={short}"
    );
    assert_eq!(graph_code(&send("GET", &raw.url(&query), &[], None)).0, 1);
    let long = raw.long_lived(&short).json();
    assert_eq!(long["token_type"], "bearer");
    assert_eq!(long["expires_in"], LONG_LIVED_SECS);
    let token = long["access_token"].as_str().unwrap();
    let (_, _, message) = graph_code(&raw.refresh(token));
    assert!(message.contains("24 hours"), "{message}");
    app.clock.advance(chrono::Duration::hours(25));
    let refreshed = raw.refresh(token);
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    assert_eq!(refreshed.json()["expires_in"], LONG_LIVED_SECS);
    app.clock.advance(chrono::Duration::days(60));
    assert_eq!(
        graph_code(&raw.refresh(token)).1,
        Some(463),
        "expired for good"
    );
    let me = raw.graph("GET", "me?fields=id", token, &[]);
    assert_eq!(graph_code(&me).0, 190);
}

#[test]
fn sim_profile_and_container_rules() {
    let app = TestApp::start();
    let raw = Raw::register(&app);
    let (token, user) = raw.token();
    let me = raw.graph("GET", "me?fields=id,username,name", &token, &[]);
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(
        me.json(),
        json!({"id": user, "username": "sam_lee", "name": "Sam Lee"})
    );
    assert_eq!(graph_code(&raw.graph("GET", "me", "", &[])).0, 2500);
    assert_eq!(graph_code(&raw.graph("GET", "me", "THbogus.x", &[])).0, 190);
    let threads = format!("{user}/threads");
    let create = |form: &[(&str, &str)]| raw.graph("POST", &threads, &token, form);
    assert!(
        graph_code(&create(&[("media_type", "TEXT")]))
            .2
            .contains("text")
    );
    assert!(
        graph_code(&create(&[("media_type", "IMAGE"), ("text", "x")]))
            .2
            .contains("image_url")
    );
    assert!(
        graph_code(&create(&[("media_type", "VIDEO")]))
            .2
            .contains("video_url")
    );
    let long = "z".repeat(501);
    assert!(
        graph_code(&create(&[("media_type", "TEXT"), ("text", &long)]))
            .2
            .contains("500")
    );
    let links = "https://a.x https://b.x https://c.x https://d.x https://e.x https://f.x";
    assert!(
        graph_code(&create(&[("media_type", "TEXT"), ("text", links)]))
            .2
            .contains("THREADS_API__LINK_LIMIT_EXCEEDED")
    );
    // Another profile's id is not this token's to post to.
    let other = raw.graph(
        "POST",
        "1234/threads",
        &token,
        &[("media_type", "TEXT"), ("text", "hi")],
    );
    assert_eq!(graph_code(&other).1, Some(33));
    // A container: status, publish, then its media has a permalink and no status.
    let container = create(&[("media_type", "TEXT"), ("text", "hi")]).json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let status = raw.graph(
        "GET",
        &format!("{container}?fields=status,error_message"),
        &token,
        &[],
    );
    assert_eq!(
        status.json(),
        json!({"id": container, "status": "FINISHED"})
    );
    let publish_path = format!("{user}/threads_publish?creation_id={container}");
    let published = raw.graph("POST", &publish_path, &token, &[]);
    assert_eq!(published.status, 200, "{}", published.body);
    let media = published.json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        graph_code(&raw.graph("POST", &publish_path, &token, &[])).0,
        100,
        "published once"
    );
    let status = raw.graph("GET", &format!("{container}?fields=status"), &token, &[]);
    assert_eq!(status.json()["status"], "PUBLISHED");
    let post = raw
        .graph(
            "GET",
            &format!("{media}?fields=id,permalink,media_type"),
            &token,
            &[],
        )
        .json();
    assert_eq!(post["media_type"], "TEXT_POST");
    assert!(
        post["permalink"]
            .as_str()
            .unwrap()
            .contains("/@sam_lee/post/")
    );
    assert!(
        graph_code(&raw.graph("GET", &format!("{media}?fields=status"), &token, &[]))
            .2
            .contains("nonexisting field (status)")
    );
}

#[test]
fn sim_containers_process_expire_and_the_quota_holds_at_250() {
    let app = TestApp::start();
    let raw = Raw::register(&app);
    let (token, user) = raw.token();
    let video = "https://cdn.example/v.mp4?sim_polls=2";
    let container = raw
        .graph(
            "POST",
            &format!("{user}/threads"),
            &token,
            &[("media_type", "VIDEO"), ("video_url", video)],
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let status = || {
        raw.graph("GET", &format!("{container}?fields=status"), &token, &[])
            .json()["status"]
            .clone()
    };
    let publish = || {
        raw.graph(
            "POST",
            &format!("{user}/threads_publish?creation_id={container}"),
            &token,
            &[],
        )
    };
    assert_eq!(status(), "IN_PROGRESS");
    assert_eq!(
        graph_code(&publish()).1,
        Some(4_279_009),
        "not publishable while processing"
    );
    assert_eq!(status(), "IN_PROGRESS");
    assert_eq!(status(), "FINISHED");
    app.clock.advance(chrono::Duration::hours(25));
    assert_eq!(status(), "EXPIRED");
    assert_eq!(graph_code(&publish()).0, 100);
    // The fresh token keeps working; publish 250 posts, then the 251st is refused.
    let (token, user) = raw.token();
    for n in 0..250 {
        let text = format!("post {n}");
        let c = raw
            .graph(
                "POST",
                &format!("{user}/threads"),
                &token,
                &[("media_type", "TEXT"), ("text", &text)],
            )
            .json()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let r = raw.graph(
            "POST",
            &format!("{user}/threads_publish?creation_id={c}"),
            &token,
            &[],
        );
        assert_eq!(r.status, 200, "{n}: {}", r.body);
    }
    let limit = raw
        .graph(
            "GET",
            &format!("{user}/threads_publishing_limit?fields=quota_usage,config"),
            &token,
            &[],
        )
        .json();
    assert_eq!(limit["data"][0]["quota_usage"], 250);
    assert_eq!(limit["data"][0]["config"]["quota_total"], 250);
    let c = raw
        .graph(
            "POST",
            &format!("{user}/threads"),
            &token,
            &[("media_type", "TEXT"), ("text", "one more")],
        )
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let refused = raw.graph(
        "POST",
        &format!("{user}/threads_publish?creation_id={c}"),
        &token,
        &[],
    );
    assert_eq!(graph_code(&refused).1, Some(2207042));
}

#[test]
fn sim_authorize_refuses_unknown_apps_unregistered_redirects_and_missing_threads_basic() {
    let app = TestApp::start();
    let raw = Raw::register(&app);
    let page = |pairs: &[(&str, &str)]| {
        send(
            "GET",
            &raw.url(&format!(
                "/oauth/authorize?{}",
                mypostshare::http::encode_query(pairs)
            )),
            &[],
            None,
        )
    };
    let unknown = page(&[
        ("client_id", "1"),
        ("redirect_uri", CALLBACK),
        ("scope", "threads_basic"),
        ("response_type", "code"),
    ]);
    assert_eq!(unknown.status, 400);
    let elsewhere = page(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", "https://evil.example/"),
        ("scope", "threads_basic"),
        ("response_type", "code"),
    ]);
    assert_eq!(elsewhere.status, 400);
    assert!(elsewhere.header("location").is_none());
    let no_basic = page(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", CALLBACK),
        ("scope", "threads_content_publish"),
        ("response_type", "code"),
    ]);
    assert_eq!(no_basic.status, 400);
    assert!(no_basic.body.contains("threads_basic"));
    let spaces = page(&[
        ("client_id", CLIENT_ID),
        ("redirect_uri", CALLBACK),
        ("scope", "threads_basic threads_content_publish"),
        ("response_type", "code"),
    ]);
    assert_eq!(
        spaces.status, 200,
        "space-separated scopes are accepted too"
    );
}
