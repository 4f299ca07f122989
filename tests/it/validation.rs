//! Every validation rule of the public API, as a table: request in, status and code out. Each
//! row also checks that nothing was stored or charged.

use crate::support::{REDIRECT, TestApp, send};
use serde_json::{Value, json};

struct Case {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    body: &'static str,
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
    app.upsert_user("u1");
    app.connect_linkedin("u1", "Alex Morgan");
    app.upsert_user("lonely");
    let long = "a".repeat(3001);
    let long_body: &'static str = Box::leak(
        format!(r#"{{"externalUserId":"u1","content":"{long}","platforms":["linkedin"]}}"#)
            .into_boxed_str(),
    );
    let long_id: &'static str = Box::leak(
        format!(
            r#"{{"externalUserId":"{}","content":"x","platforms":["linkedin"]}}"#,
            "u".repeat(256)
        )
        .into_boxed_str(),
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
            body: long_body,
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
            body: long_id,
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
