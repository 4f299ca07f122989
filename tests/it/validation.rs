//! Every validation rule of the public API, as a table: request in, status and code out. Each
//! row also checks that nothing was stored or charged.

use crate::support::{REDIRECT, Reply, TestApp, send};
use serde_json::{Value, json};

/// A row borrows its body, so that a body built at run time (an owned `String` living in the
/// test) sits in the table next to the literal ones.
struct Case<'a> {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    body: &'a str,
    status: u16,
    code: &'static str,
    message_mentions: &'static str,
}

fn check(app: &TestApp, cases: &[Case]) {
    for case in cases {
        let balance = app.balance();
        let posts = app.get("/api/v1/posts").json().as_array().unwrap().len();
        let reply = send(
            case.method,
            &format!("{}{}", app.base, case.path),
            &[
                ("Authorization", &format!("Bearer {}", app.key)),
                ("Content-Type", "application/json"),
            ],
            Some(case.body),
        );
        assert_eq!(reply.status, case.status, "{}: {}", case.name, reply.body);
        let v: Value = reply.json();
        assert_eq!(v["code"], case.code, "{}: {v}", case.name);
        assert_eq!(v["statusCode"], case.status, "{}", case.name);
        let message = v["message"].as_str().unwrap();
        assert!(
            message.contains(case.message_mentions),
            "{}: message {message:?} should mention {:?}",
            case.name,
            case.message_mentions
        );
        assert_eq!(app.balance(), balance, "{}: credits changed", case.name);
        assert_eq!(
            app.get("/api/v1/posts").json().as_array().unwrap().len(),
            posts,
            "{}: a post was stored",
            case.name
        );
    }
}

#[test]
fn bad_post_requests_get_clear_errors_and_cost_nothing() {
    let app = TestApp::start();
    // Dozens of refused posts in a row: the publishing rate limit is not what this tests.
    app.lift_publishing_limit();
    app.upsert_user("u1");
    app.connect_linkedin("u1", "Alex Morgan");
    app.upsert_user("lonely");
    let long = "a".repeat(3001);
    let long_body =
        format!(r#"{{"externalUserId":"u1","content":"{long}","platforms":["linkedin"]}}"#);
    let long_id = format!(
        r#"{{"externalUserId":"{}","content":"x","platforms":["linkedin"]}}"#,
        "u".repeat(256)
    );
    let cases = [
        Case {
            name: "malformed JSON",
            method: "POST",
            path: "/api/v1/posts",
            body: "{not json",
            status: 400,
            code: "INVALID_JSON",
            message_mentions: "JSON",
        },
        Case {
            name: "body not an object",
            method: "POST",
            path: "/api/v1/posts",
            body: "[1]",
            status: 400,
            code: "VALIDATION_FAILED",
            message_mentions: "object",
        },
        Case {
            name: "empty body",
            method: "POST",
            path: "/api/v1/posts",
            body: "",
            status: 400,
            code: "VALIDATION_FAILED",
            message_mentions: "empty",
        },
        Case {
            name: "missing externalUserId",
            method: "POST",
            path: "/api/v1/posts",
            body: r#"{"content":"x","platforms":["linkedin"]}"#,
            status: 400,
            code: "VALIDATION_FAILED",
            message_mentions: "externalUserId is required",
        },
        Case {
            name: "mistyped content",
            method: "POST",
            path: "/api/v1/posts",
            body: r#"{"externalUserId":"u1","content":5,"platforms":["linkedin"]}"#,
            status: 400,
            code: "VALIDATION_FAILED",
            message_mentions: "content must be a string",
        },
        Case {
            name: "blank content",
            method: "POST",
            path: "/api/v1/posts",
            body: r#"{"externalUserId":"u1","content":"   \n ","platforms":["linkedin"]}"#,
            status: 400,
            code: "VALIDATION_FAILED",
            message_mentions: "content must not be empty",
        },
        Case {
            name: "missing platforms",
            method: "POST",
            path: "/api/v1/posts",
            body: r#"{"externalUserId":"u1","content":"x"}"#,
            status: 400,
            code: "VALIDATION_FAILED",
            message_mentions: "platforms is required",
        },
        Case {
            name: "empty platforms",
            method: "POST",
            path: "/api/v1/posts",
            body: r#"{"externalUserId":"u1","content":"x","platforms":[]}"#,
            status: 400,
            code: "NO_PLATFORMS_SELECTED",
            message_mentions: "at least one",
        },
        Case {
            name: "platforms not an array",
            method: "POST",
            path: "/api/v1/posts",
            body: r#"{"externalUserId":"u1","content":"x","platforms":"linkedin"}"#,
            status: 400,
            code: "VALIDATION_FAILED",
            message_mentions: "array",
        },
        Case {
            name: "x instead of twitter",
            method: "POST",
            path: "/api/v1/posts",
            body: r#"{"externalUserId":"u1","content":"x","platforms":["x"]}"#,
            status: 400,
            code: "VALIDATION_FAILED",
            message_mentions: "use \"twitter\"",
        },
        Case {
            name: "unknown platform",
            method: "POST",
            path: "/api/v1/posts",
            body: r#"{"externalUserId":"u1","content":"x","platforms":["myspace"]}"#,
            status: 400,
            code: "VALIDATION_FAILED",
            message_mentions: "linkedin, facebook",
        },
        Case {
            name: "upper-case platform",
            method: "POST",
            path: "/api/v1/posts",
            body: r#"{"externalUserId":"u1","content":"x","platforms":["LinkedIn"]}"#,
            status: 400,
            code: "VALIDATION_FAILED",
            message_mentions: "lower-case",
        },
        Case {
            name: "duplicate platforms",
            method: "POST",
            path: "/api/v1/posts",
            body: r#"{"externalUserId":"u1","content":"x","platforms":["linkedin","linkedin"]}"#,
            status: 400,
            code: "VALIDATION_FAILED",
            message_mentions: "twice",
        },
        Case {
            name: "text over LinkedIn's limit",
            method: "POST",
            path: "/api/v1/posts",
            body: &long_body,
            status: 400,
            code: "CONTENT_TOO_LONG",
            message_mentions: "3000",
        },
        Case {
            name: "platform not connected",
            method: "POST",
            path: "/api/v1/posts",
            body: r#"{"externalUserId":"lonely","content":"x","platforms":["linkedin"]}"#,
            status: 400,
            code: "PLATFORM_NOT_CONNECTED",
            message_mentions: "Connect linkedin before posting to it.",
        },
        Case {
            name: "unknown end user",
            method: "POST",
            path: "/api/v1/posts",
            body: r#"{"externalUserId":"ghost","content":"x","platforms":["linkedin"]}"#,
            status: 404,
            code: "END_USER_NOT_FOUND",
            message_mentions: "POST /v1/end-users",
        },
        Case {
            name: "metadata not an object",
            method: "POST",
            path: "/api/v1/posts",
            body: r#"{"externalUserId":"u1","content":"x","platforms":["linkedin"],"metadata":"a"}"#,
            status: 400,
            code: "VALIDATION_FAILED",
            message_mentions: "metadata must be a JSON object",
        },
        Case {
            name: "over-long externalUserId",
            method: "POST",
            path: "/api/v1/posts",
            body: &long_id,
            status: 400,
            code: "VALIDATION_FAILED",
            message_mentions: "255",
        },
        Case {
            name: "mediaUrl not a URL",
            method: "POST",
            path: "/api/v1/posts",
            body: r#"{"externalUserId":"u1","content":"x","platforms":["linkedin"],"mediaUrl":"file:///etc/passwd"}"#,
            status: 400,
            code: "VALIDATION_FAILED",
            message_mentions: "absolute http(s) URL",
        },
        Case {
            name: "schedule without scheduleAt",
            method: "POST",
            path: "/api/v1/posts/scheduled",
            body: r#"{"externalUserId":"u1","content":"x","platforms":["linkedin"]}"#,
            status: 400,
            code: "VALIDATION_FAILED",
            message_mentions: "scheduleAt is required",
        },
        Case {
            name: "scheduleAt not ISO 8601",
            method: "POST",
            path: "/api/v1/posts/scheduled",
            body: r#"{"externalUserId":"u1","content":"x","platforms":["linkedin"],"scheduleAt":"tomorrow 9am"}"#,
            status: 400,
            code: "VALIDATION_FAILED",
            message_mentions: "ISO 8601",
        },
        Case {
            name: "scheduleAt without zone",
            method: "POST",
            path: "/api/v1/posts/scheduled",
            body: r#"{"externalUserId":"u1","content":"x","platforms":["linkedin"],"scheduleAt":"2099-03-22T09:30:00"}"#,
            status: 400,
            code: "VALIDATION_FAILED",
            message_mentions: "time zone",
        },
        Case {
            name: "scheduleAt in the past",
            method: "POST",
            path: "/api/v1/posts/scheduled",
            body: r#"{"externalUserId":"u1","content":"x","platforms":["linkedin"],"scheduleAt":"2020-03-22T09:30:00.000Z"}"#,
            status: 400,
            code: "VALIDATION_FAILED",
            message_mentions: "not in the future",
        },
    ];
    check(&app, &cases);
}

#[test]
fn bad_end_user_and_session_requests_get_clear_errors() {
    let app = TestApp::start();
    app.upsert_user("u1");
    let cases = [
        Case {
            name: "end user without id",
            method: "POST",
            path: "/api/v1/end-users",
            body: r#"{"displayName":"A"}"#,
            status: 400,
            code: "VALIDATION_FAILED",
            message_mentions: "externalUserId is required",
        },
        Case {
            name: "end user blank id",
            method: "POST",
            path: "/api/v1/end-users",
            body: r#"{"externalUserId":"  "}"#,
            status: 400,
            code: "VALIDATION_FAILED",
            message_mentions: "must not be empty",
        },
        Case {
            name: "end user numeric id",
            method: "POST",
            path: "/api/v1/end-users",
            body: r#"{"externalUserId":123}"#,
            status: 400,
            code: "VALIDATION_FAILED",
            message_mentions: "must be a string",
        },
        Case {
            name: "end user metadata array",
            method: "POST",
            path: "/api/v1/end-users",
            body: r#"{"externalUserId":"u2","metadata":[1]}"#,
            status: 400,
            code: "VALIDATION_FAILED",
            message_mentions: "metadata must be a JSON object",
        },
        Case {
            name: "end user bad email",
            method: "POST",
            path: "/api/v1/end-users",
            body: r#"{"externalUserId":"u2","email":"nope"}"#,
            status: 400,
            code: "VALIDATION_FAILED",
            message_mentions: "email",
        },
        Case {
            name: "session for unknown user",
            method: "POST",
            path: "/api/v1/connect-sessions",
            body: r#"{"externalUserId":"ghost","platform":"linkedin","redirectUri":"https://client.example.com/oauth/callback"}"#,
            status: 404,
            code: "END_USER_NOT_FOUND",
            message_mentions: "POST /v1/end-users",
        },
        Case {
            name: "session with x",
            method: "POST",
            path: "/api/v1/connect-sessions",
            body: r#"{"externalUserId":"u1","platform":"x","redirectUri":"https://client.example.com/oauth/callback"}"#,
            status: 400,
            code: "VALIDATION_FAILED",
            message_mentions: "twitter",
        },
        Case {
            name: "session without redirect",
            method: "POST",
            path: "/api/v1/connect-sessions",
            body: r#"{"externalUserId":"u1","platform":"linkedin"}"#,
            status: 400,
            code: "VALIDATION_FAILED",
            message_mentions: "redirectUri is required",
        },
    ];
    check(&app, &cases);
}

#[test]
fn redirect_uris_must_match_the_allowlist_exactly() {
    let app = TestApp::start();
    app.upsert_user("u1");
    let near_misses = [
        "https://client.example.com/oauth/callback/",
        "https://client.example.com/oauth/callback?x=1",
        "https://client.example.com/oauth/callback/../callback",
        "https://client.example.com/oauth/../oauth/callback",
        "https://client.example.com:8443/oauth/callback",
        "https://evil@client.example.com/oauth/callback",
        "https://CLIENT.example.com/oauth/callback",
        "https://client.example.com/OAUTH/callback",
        "http://client.example.com/oauth/callback",
        "https://client.example.com/oauth/callbac",
        "https://client.example.com/oauth/callback#frag",
        "https://client.example.com.evil.com/oauth/callback",
        "https://client.example.com/oauth/callback%2F..",
    ];
    for uri in near_misses {
        let r = app.post(
            "/api/v1/connect-sessions",
            json!({"externalUserId": "u1", "platform": "linkedin", "redirectUri": uri}),
        );
        assert_eq!(
            r.error_code(400),
            "REDIRECT_URI_NOT_ALLOWED",
            "{uri} must be refused"
        );
    }
    let ok = app.post(
        "/api/v1/connect-sessions",
        json!({"externalUserId": "u1", "platform": "linkedin", "redirectUri": REDIRECT}),
    );
    assert_eq!(ok.status, 201);
}

#[test]
fn upsert_keeps_the_id_and_updates_only_given_fields() {
    let app = TestApp::start();
    let first = app.post("/api/v1/end-users", json!({"externalUserId": "u1", "displayName": "Alex", "email": "alex@example.com", "metadata": {"plan": "pro"}})).json();
    let second = app
        .post(
            "/api/v1/end-users",
            json!({"externalUserId": "u1", "displayName": "Alex Morgan"}),
        )
        .json();
    assert_eq!(first["id"], second["id"]);
    assert_eq!(second["displayName"], "Alex Morgan");
    assert_eq!(
        second["email"], "alex@example.com",
        "a field left out is kept"
    );
    assert_eq!(second["metadata"], json!({"plan": "pro"}));
    assert_eq!(second["createdAt"], first["createdAt"]);
    let cleared = app
        .post(
            "/api/v1/end-users",
            json!({"externalUserId": "u1", "email": null}),
        )
        .json();
    assert_eq!(cleared["email"], Value::Null, "an explicit null clears");
    let got = app.get("/api/v1/end-users/u1").json();
    assert_eq!(got["displayName"], "Alex Morgan");
    assert_eq!(got["connectionSummary"]["total"], 0);
    // ids with reserved characters survive the path
    app.post("/api/v1/end-users", json!({"externalUserId": "team/a b?c"}));
    assert_eq!(
        app.get("/api/v1/end-users/team%2Fa%20b%3Fc").json()["externalUserId"],
        "team/a b?c"
    );
}

#[test]
fn authentication_failures_are_401_in_the_error_shape() {
    let app = TestApp::start();
    let url = format!("{}/api/v1/posts", app.base);
    let missing = send("GET", &url, &[], None);
    assert_eq!(missing.error_code(401), "UNAUTHORIZED");
    let unknown = send(
        "GET",
        &url,
        &[(
            "Authorization",
            &format!("Bearer mps_live_{}", "A".repeat(40)),
        )],
        None,
    );
    assert_eq!(unknown.error_code(401), "UNAUTHORIZED");
    let malformed = send("GET", &url, &[("Authorization", "Basic abc")], None);
    assert_eq!(malformed.error_code(401), "UNAUTHORIZED");
    let state = &app.running.state;
    let (key, secret) = mypostshare::services::keys::create(
        &state.db,
        "test",
        &app.app_id,
        "short-lived",
        chrono::Utc::now(),
    )
    .unwrap();
    assert_eq!(
        send(
            "GET",
            &url,
            &[("Authorization", &format!("Bearer {secret}"))],
            None
        )
        .status,
        200
    );
    mypostshare::services::keys::revoke(&state.db, "test", &key.id, chrono::Utc::now()).unwrap();
    let revoked = send(
        "GET",
        &url,
        &[("Authorization", &format!("Bearer {secret}"))],
        None,
    );
    assert_eq!(revoked.error_code(401), "UNAUTHORIZED");
    assert!(
        revoked.json()["message"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
    // unknown endpoints and wrong methods answer in the same shape
    assert_eq!(app.get("/api/v1/nothing-here").error_code(404), "NOT_FOUND");
    assert_eq!(
        app.call("PUT", "/api/v1/posts", Some(json!({})))
            .error_code(405),
        "METHOD_NOT_ALLOWED"
    );
}

/// A URL of exactly `chars` characters (ASCII, so characters and bytes agree), ending in
/// `ext` so the appliance reads its kind from the path without fetching it.
fn url_of(chars: usize, ext: &str) -> String {
    let head = "https://shop.example.com/";
    assert!(chars > head.len() + ext.len());
    format!("{head}{}{ext}", "p".repeat(chars - head.len() - ext.len()))
}

/// What the API answers to a post of `body` for `platform`, sent for an end user without any
/// connection: `PLATFORM_NOT_CONNECTED` means every platform rule passed (they are checked
/// first, before anything is looked up or stored), anything else is the rule that refused it.
fn verdict(app: &TestApp, platform: &str, body: Value) -> (String, String) {
    let mut body = body;
    body["externalUserId"] = json!("unconnected");
    body["platforms"] = json!([platform]);
    if body.get("content").is_none() {
        body["content"] = json!("c");
    }
    let reply = app.post("/api/v1/posts", body);
    let code = reply.error_code(400);
    let message = reply.json()["message"].as_str().unwrap().to_string();
    (code, message)
}

fn assert_accepted(app: &TestApp, name: &str, platform: &str, body: Value) {
    let (code, message) = verdict(app, platform, body);
    assert_eq!(code, "PLATFORM_NOT_CONNECTED", "{name}: {message}");
}

fn assert_refused(app: &TestApp, name: &str, platform: &str, body: Value, rule: &str) {
    let (code, message) = verdict(app, platform, body);
    assert_eq!(code, "VALIDATION_FAILED", "{name}: {message}");
    assert!(
        message.contains(rule),
        "{name}: message {message:?} should name the rule {rule:?}"
    );
}

#[test]
fn a_pinterest_link_may_have_2048_characters_and_not_one_more() {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect("u1", "pinterest", "Pat Pinner");
    let boards = app.get("/api/v1/end-users/u1/connections/pinterest/targets");
    assert_eq!(boards.status, 200, "{}", boards.body);
    let board = boards.json()[0]["id"].as_str().unwrap().to_string();
    let pin = |link: &str| {
        app.post(
            "/api/v1/posts",
            json!({"externalUserId": "u1", "platforms": ["pinterest"], "content": "Spring menu",
                   "mediaUrl": app.sample_media("sample.png"),
                   "platformOptions": {"pinterest": {"boardId": board, "link": link}}}),
        )
    };
    let longest = url_of(2048, "/menu");
    let accepted = pin(&longest);
    assert_eq!(accepted.status, 201, "{}", accepted.body);
    assert_eq!(accepted.json()["status"], "published", "{}", accepted.body);
    let recorded = app.sim_posts_of("pinterest");
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        recorded[0]["link"],
        longest.as_str(),
        "the link reaches Pinterest whole"
    );

    let balance = app.balance();
    let refused = pin(&url_of(2049, "/menu"));
    assert_eq!(refused.error_code(400), "VALIDATION_FAILED");
    let message = refused.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.contains(
            "platformOptions.pinterest.link must be an absolute http(s) URL of at most 2,048 characters"
        ),
        "{message}"
    );
    assert!(message.contains("2,049 characters"), "{message}");
    assert_eq!(app.balance(), balance, "a refused pin costs nothing");
    assert_eq!(app.sim_posts_of("pinterest").len(), 1);
}

#[test]
fn every_platform_option_follows_its_documented_rule() {
    let app = TestApp::start();
    // Dozens of refused posts in a row: the publishing rate limit is not what this tests.
    app.lift_publishing_limit();
    app.upsert_user("unconnected");
    let image = app.sample_media("sample.png");
    let video = app.sample_media("sample.mp4");
    let text = |n: usize| "a".repeat(n);

    // Facebook: Page ids are numeric strings; `link` has no documented length, so the
    // appliance's URL limit (that of mediaUrl) applies.
    assert_accepted(
        &app,
        "facebook pageId",
        "facebook",
        json!({"platformOptions": {"facebook": {"pageId": "123456789012345"}}}),
    );
    assert_refused(
        &app,
        "facebook pageId with letters",
        "facebook",
        json!({"platformOptions": {"facebook": {"pageId": "my-page"}}}),
        "platformOptions.facebook.pageId must be a Facebook Page id as GET /v1/end-users/{externalUserId}/connections/facebook/targets lists it (digits only); got \"my-page\"",
    );
    assert_accepted(
        &app,
        "facebook link of 2,048 characters",
        "facebook",
        json!({"platformOptions": {"facebook": {"link": url_of(2048, "/a")}}}),
    );
    assert_refused(
        &app,
        "facebook link of 2,049 characters",
        "facebook",
        json!({"platformOptions": {"facebook": {"link": url_of(2049, "/a")}}}),
        "platformOptions.facebook.link must be an absolute http(s) URL of at most 2,048 characters; it is 2,049 characters long",
    );
    assert_refused(
        &app,
        "facebook link without a host",
        "facebook",
        json!({"platformOptions": {"facebook": {"link": "https:///nowhere"}}}),
        "platformOptions.facebook.link must be an absolute http(s) URL",
    );

    // Pinterest: board ids have the pattern ^\d+$.
    assert_refused(
        &app,
        "pinterest board name instead of id",
        "pinterest",
        json!({"mediaUrl": image, "platformOptions": {"pinterest": {"boardId": "recipes"}}}),
        "platformOptions.pinterest.boardId must be a Pinterest board id as GET /v1/end-users/{externalUserId}/connections/pinterest/targets lists it (digits only)",
    );

    // Reddit: Reddit's own name rules, and the URL limit for `url`.
    let reddit = |subreddit: &str| json!({"title": "t", "platformOptions": {"reddit": {"subreddit": subreddit}}});
    for name in ["test", "r/test", "de", "u_pat-poster", &text(21), "A_1"] {
        assert_accepted(&app, &format!("subreddit {name:?}"), "reddit", reddit(name));
    }
    for name in [&text(22), "_test", "ab-c", "DE", "u_a-", "a b"] {
        assert_refused(
            &app,
            &format!("subreddit {name:?}"),
            "reddit",
            reddit(name),
            "platformOptions.reddit.subreddit must be a subreddit name, optionally after r/: 3 to 21 letters, digits or _ not starting with _, a two-letter language subreddit such as \"de\", or u_ and a username (3 to 20 letters, digits, _ or -) for a profile",
        );
    }
    let reddit_url = |url: String| json!({"title": "t", "platformOptions": {"reddit": {"subreddit": "test", "url": url}}});
    assert_accepted(
        &app,
        "reddit url of 2,048",
        "reddit",
        reddit_url(url_of(2048, "/a")),
    );
    assert_refused(
        &app,
        "reddit url of 2,049",
        "reddit",
        reddit_url(url_of(2049, "/a")),
        "platformOptions.reddit.url must be an absolute http(s) URL of at most 2,048 characters",
    );

    // X: `reply_settings` is an enum; any other value, however long or typed, gets the enum.
    let reply_rule = "platformOptions.twitter.replySettings must be one of following, mentionedUsers, subscribers, verified";
    for (name, value) in [
        ("unknown value", json!("everyone")),
        ("long value", json!(text(600))),
        ("number", json!(5)),
        ("empty", json!("")),
    ] {
        assert_refused(
            &app,
            &format!("replySettings {name}"),
            "twitter",
            json!({"platformOptions": {"twitter": {"replySettings": value}}}),
            reply_rule,
        );
    }
    assert_refused(
        &app,
        "replySettings number",
        "twitter",
        json!({"platformOptions": {"twitter": {"replySettings": 5}}}),
        "; got a number.",
    );

    // LinkedIn: the visibility enum, and alt text of at most 4,086 characters.
    assert_refused(
        &app,
        "linkedin visibility",
        "linkedin",
        json!({"platformOptions": {"linkedin": {"visibility": "LOGGED_IN"}}}),
        "platformOptions.linkedin.visibility must be one of PUBLIC, CONNECTIONS; got \"LOGGED_IN\"",
    );
    let linkedin_alt =
        |alt: String| json!({"mediaUrl": image, "platformOptions": {"linkedin": {"altText": alt}}});
    assert_accepted(
        &app,
        "linkedin altText of 4,086",
        "linkedin",
        linkedin_alt(text(4086)),
    );
    assert_refused(
        &app,
        "linkedin altText of 4,087",
        "linkedin",
        linkedin_alt(text(4087)),
        "platformOptions.linkedin.altText must be a non-blank text of at most 4,086 characters; it is 4,087 characters long",
    );

    // Threads: alt text counted in characters, not bytes (1,000 emoji are 4,000 bytes).
    let threads_alt =
        |alt: String| json!({"mediaUrl": image, "platformOptions": {"threads": {"altText": alt}}});
    assert_accepted(
        &app,
        "threads altText of 1,000",
        "threads",
        threads_alt(text(1000)),
    );
    assert_accepted(
        &app,
        "threads altText of 1,000 emoji",
        "threads",
        threads_alt("🙂".repeat(1000)),
    );
    assert_refused(
        &app,
        "threads altText of 1,001",
        "threads",
        threads_alt(text(1001)),
        "platformOptions.threads.altText must be a non-blank text of at most 1,000 characters",
    );
    assert_refused(
        &app,
        "threads blank altText",
        "threads",
        threads_alt("   ".into()),
        "platformOptions.threads.altText must be a non-blank text",
    );
    assert_refused(
        &app,
        "threads replyControl",
        "threads",
        json!({"platformOptions": {"threads": {"replyControl": "nobody"}}}),
        "platformOptions.threads.replyControl must be one of everyone, accounts_you_follow, mentioned_only, parent_post_author_only, followers_only; got \"nobody\"",
    );

    // YouTube: the privacy and category enums.
    let youtube = |options: Value| json!({"title": "t", "mediaUrl": video, "platformOptions": {"youtube": options}});
    assert_refused(
        &app,
        "youtube privacyStatus",
        "youtube",
        youtube(json!({"privacyStatus": 1})),
        "platformOptions.youtube.privacyStatus must be one of private, unlisted, public; got a number",
    );
    assert_refused(
        &app,
        "youtube categoryId",
        "youtube",
        youtube(json!({"categoryId": "99"})),
        "platformOptions.youtube.categoryId must be one of 1, 2, 10,",
    );

    // Instagram: each carousel item follows mediaUrl's rule. The image items are read for
    // Instagram's image rules before charging, so they are the simulator's sample, padded.
    let sample = |chars: usize| {
        let head = format!("{}?pad=", app.sample_media("sample.jpg"));
        format!("{head}{}", "p".repeat(chars - head.len()))
    };
    let carousel = |last: String| json!({"platformOptions": {"instagram": {"carouselUrls": [sample(300), last]}}});
    assert_accepted(
        &app,
        "carousel URL of 2,048",
        "instagram",
        carousel(sample(2048)),
    );
    assert_refused(
        &app,
        "carousel URL of 2,049",
        "instagram",
        carousel(url_of(2049, ".jpg")),
        "each an absolute http(s) URL of at most 2,048 characters",
    );
}

#[test]
fn a_reddit_profile_of_a_user_with_a_hyphen_is_a_valid_target() {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect("u1", "reddit", "pat-poster");
    let r = app.post(
        "/api/v1/posts",
        json!({"externalUserId": "u1", "platforms": ["reddit"], "title": "Hello profile",
               "content": "first post", "platformOptions": {"reddit": {"subreddit": "u_pat-poster"}}}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["status"], "published", "{}", r.body);
    assert_eq!(app.sim_posts_of("reddit")[0]["subreddit"], "u_pat-poster");
}

#[test]
fn no_targets_says_where_the_posts_of_each_platform_go() {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect("u1", "reddit", "alex_r");
    app.connect_linkedin("u1", "Alex Morgan");

    let reddit = app.get("/api/v1/end-users/u1/connections/reddit/targets");
    assert_eq!(reddit.error_code(400), "NO_TARGETS");
    let message = reddit.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("platformOptions.reddit.subreddit"),
        "{message}"
    );
    assert!(message.contains("\"u_alex_r\""), "{message}");
    assert!(!message.contains("account itself"), "{message}");

    let linkedin = app.get("/api/v1/end-users/u1/connections/linkedin/targets");
    assert_eq!(linkedin.error_code(400), "NO_TARGETS");
    assert!(
        linkedin.json()["message"]
            .as_str()
            .unwrap()
            .contains("LinkedIn posts go to the connected account itself"),
        "{}",
        linkedin.body
    );
}

#[test]
fn a_platform_failing_to_list_targets_is_a_503_platform_error() {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect("u1", "pinterest", "Pat Pinner");
    app.inject_fault(json!({"platform": "pinterest", "kind": "server_error", "count": 1}));
    let r = app.get("/api/v1/end-users/u1/connections/pinterest/targets");
    assert_eq!(r.error_code(503), "PLATFORM_ERROR");
    assert_eq!(
        app.get("/api/v1/end-users/u1/connections/pinterest/targets")
            .status,
        200,
        "the next listing works again"
    );
}

#[test]
fn the_input_rules_of_the_readme_hold() {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect_linkedin("u1", "Alex Morgan");
    let post = |body: Value| app.post("/api/v1/posts", body);
    let base = |extra: Value| {
        let mut body = json!({"externalUserId": "u1", "content": "x", "platforms": ["linkedin"]});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let refused = |reply: Reply, mentions: &str| {
        assert_eq!(reply.error_code(400), "VALIDATION_FAILED");
        let message = reply.json()["message"].as_str().unwrap().to_string();
        assert!(
            message.contains(mentions),
            "{message:?} should mention {mentions:?}"
        );
    };

    // Identifiers: no control characters, tabs and line breaks included, in bodies and paths.
    for id in ["a\tb", "a\nb", "a\u{7f}b"] {
        refused(
            app.post("/api/v1/end-users", json!({"externalUserId": id})),
            "externalUserId contains control characters",
        );
    }
    refused(
        app.get("/api/v1/end-users/a%09b"),
        "externalUserId contains control characters",
    );
    assert_eq!(
        app.post(
            "/api/v1/end-users",
            json!({"externalUserId": "u".repeat(255)})
        )
        .status,
        201
    );
    refused(
        app.post(
            "/api/v1/end-users",
            json!({"externalUserId": "u".repeat(256)}),
        ),
        "the limit is 255",
    );
    // Free text keeps its line breaks.
    assert_eq!(
        app.post(
            "/api/v1/end-users",
            json!({"externalUserId": "u2", "displayName": "Alex\nMorgan"})
        )
        .status,
        201
    );
    refused(
        app.post(
            "/api/v1/end-users",
            json!({"externalUserId": "u2", "displayName": "d".repeat(256)}),
        ),
        "displayName is 256 characters; the limit is 255",
    );
    refused(
        app.post(
            "/api/v1/end-users",
            json!({"externalUserId": "u2", "email": format!("{}@example.com", "e".repeat(309))}),
        ),
        "email is 321 characters; the limit is 320",
    );
    // A connect session's email follows the end user's rule.
    refused(
        app.post(
            "/api/v1/connect-sessions",
            json!({"externalUserId": "u1", "platform": "linkedin", "redirectUri": REDIRECT, "email": "nope"}),
        ),
        "email must be an email address",
    );

    // Posts: the appliance's own bounds before any platform's.
    refused(
        post(base(json!({"content": "c".repeat(100_001)}))),
        "the limit is 100,000",
    );
    refused(
        post(base(json!({"title": "t".repeat(301)}))),
        "title is 301 characters; the limit is 300",
    );
    refused(
        post(base(json!({"mediaUrl": url_of(2049, ".png")}))),
        "mediaUrl is 2,049 characters; the limit is 2,048",
    );
    refused(
        post(base(json!({"thumbnailUrl": "https://"}))),
        "thumbnailUrl must be an absolute http(s) URL of at most 2,048 characters",
    );
    refused(
        post(base(json!({"metadata": {"blob": "m".repeat(16 * 1024)}}))),
        "metadata is 16,395 bytes of JSON; the limit is 16,384 (16 KiB)",
    );

    // Empty filters are ignored rather than refused.
    let list =
        app.get("/api/v1/posts?status=&platform=&externalUserId=&dateFrom=&dateTo=&limit=&cursor=");
    assert_eq!(list.status, 200, "{}", list.body);
}

/// LinkedIn's 3,000 characters are counted on the text as the member wrote it: the backslashes
/// the adapter adds to escape little-text's reserved characters do not count (README,
/// LinkedIn). The appliance's check and the simulator's agree at the limit and one past it.
#[test]
fn linkedin_counts_3000_characters_before_escaping_in_the_appliance_and_the_simulator() {
    let app = TestApp::start();
    app.upsert_user("alice");
    app.connect_linkedin("alice", "Alice Example");
    // 3,000 characters, 2,400 of them reserved: 5,400 on the wire.
    let at_limit = "#(a)_".repeat(600);
    assert_eq!(at_limit.chars().count(), 3000);
    let published = app.publish("alice", &at_limit);
    assert_eq!(published.status, 201, "{}", published.body);
    assert_eq!(
        published.json()["status"],
        "published",
        "{}",
        published.body
    );
    let posts = app.sim_posts();
    assert_eq!(posts[0]["text"], at_limit.as_str());
    assert_eq!(
        posts[0]["commentary"].as_str().unwrap().chars().count(),
        5400
    );
    let over = format!("{at_limit}#");
    let refused = app.publish("alice", &over);
    assert_eq!(refused.error_code(400), "CONTENT_TOO_LONG");
    assert!(refused.body.contains("3001"), "{}", refused.body);
}
