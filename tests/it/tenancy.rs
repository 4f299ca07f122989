//! Another app's rows are indistinguishable from missing ones, on every endpoint.

use crate::support::{REDIRECT, TestApp};
use serde_json::json;

#[test]
fn every_endpoint_hides_other_apps_rows() {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect_linkedin("u1", "Alex Morgan");
    let post = app.publish("u1", "tenant A's post").json();
    let post_id = post["id"].as_str().unwrap();
    let session = app.create_session("u1");
    let session_id = session["id"].as_str().unwrap();
    let (_, other) = app.second_tenant();

    assert_eq!(
        app.call_as(&other, "GET", "/api/v1/end-users/u1", None)
            .error_code(404),
        "END_USER_NOT_FOUND"
    );
    assert_eq!(
        app.call_as(&other, "GET", "/api/v1/end-users/u1/connections", None)
            .error_code(404),
        "END_USER_NOT_FOUND"
    );
    assert_eq!(
        app.call_as(
            &other,
            "DELETE",
            "/api/v1/end-users/u1/connections/linkedin",
            None
        )
        .error_code(404),
        "END_USER_NOT_FOUND"
    );
    assert_eq!(
        app.call_as(
            &other,
            "GET",
            &format!("/api/v1/connect-sessions/{session_id}"),
            None
        )
        .error_code(404),
        "NOT_FOUND"
    );
    assert_eq!(
        app.call_as(&other, "GET", &format!("/api/v1/posts/{post_id}"), None)
            .error_code(404),
        "NOT_FOUND"
    );
    assert_eq!(
        app.call_as(&other, "GET", "/api/v1/posts", None).json(),
        json!([])
    );
    assert_eq!(
        app.call_as(&other, "GET", "/api/v1/posts?externalUserId=u1", None)
            .json(),
        json!([])
    );
    let publish = app.call_as(
        &other,
        "POST",
        "/api/v1/posts",
        Some(json!({"externalUserId": "u1", "content": "x", "platforms": ["linkedin"]})),
    );
    assert_eq!(publish.error_code(404), "END_USER_NOT_FOUND");
    let connect = app.call_as(
        &other,
        "POST",
        "/api/v1/connect-sessions",
        Some(json!({"externalUserId": "u1", "platform": "linkedin", "redirectUri": REDIRECT})),
    );
    assert_eq!(connect.error_code(404), "END_USER_NOT_FOUND");

    // The same externalUserId in the other app is a different person with its own data.
    let theirs = app
        .call_as(
            &other,
            "POST",
            "/api/v1/end-users",
            Some(json!({"externalUserId": "u1", "displayName": "Someone else"})),
        )
        .json();
    let ours = app.get("/api/v1/end-users/u1").json();
    assert_ne!(theirs["id"], ours["id"]);
    assert_eq!(ours["displayName"], serde_json::Value::Null);
    assert_eq!(
        app.call_as(&other, "GET", "/api/v1/end-users/u1/connections", None)
            .json(),
        json!([])
    );
    let refused = app.call_as(
        &other,
        "POST",
        "/api/v1/posts",
        Some(json!({"externalUserId": "u1", "content": "x", "platforms": ["linkedin"]})),
    );
    assert_eq!(
        refused.error_code(400),
        "PLATFORM_NOT_CONNECTED",
        "tenant A's connection is not theirs"
    );
    // and nothing of tenant A changed
    assert_eq!(
        app.get(&format!("/api/v1/posts/{post_id}")).json()["status"],
        "published"
    );
    assert_eq!(
        app.get("/api/v1/end-users/u1/connections").json()[0]["status"],
        "connected"
    );
}
