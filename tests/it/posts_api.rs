//! `GET /v1/posts`: filters, newest first, limit and cursor pagination with a Link header.

use crate::support::TestApp;
use serde_json::json;

#[test]
fn list_filters_and_paginates_newest_first() {
    let app = TestApp::start();
    for user in ["u1", "u2"] {
        app.upsert_user(user);
        app.connect_linkedin(user, user);
    }
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            app.publish("u1", &format!("u1 post {i}")).json()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    app.publish("u2", "u2 post");
    let at = (app.clock_now() + chrono::Duration::days(1)).to_rfc3339();
    let scheduled = app.post("/api/v1/posts/scheduled", json!({"externalUserId": "u2", "content": "later", "platforms": ["linkedin"], "scheduleAt": at})).json();

    let all = app.get("/api/v1/posts").json();
    assert_eq!(all.as_array().unwrap().len(), 7);
    assert_eq!(all[0]["id"], scheduled["id"], "newest first");
    let u1 = app.get("/api/v1/posts?externalUserId=u1").json();
    assert_eq!(u1.as_array().unwrap().len(), 5);
    assert_eq!(u1[0]["id"], ids[4]);
    assert_eq!(
        app.get("/api/v1/posts?status=scheduled")
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.get("/api/v1/posts?externalUserId=u2&status=published")
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.get("/api/v1/posts?platform=linkedin")
            .json()
            .as_array()
            .unwrap()
            .len(),
        7
    );
    assert_eq!(app.get("/api/v1/posts?platform=reddit").json(), json!([]));
    let today = app.clock_now().format("%Y-%m-%d").to_string();
    assert_eq!(
        app.get(&format!("/api/v1/posts?dateFrom={today}&dateTo={today}"))
            .json()
            .as_array()
            .unwrap()
            .len(),
        7
    );
    let tomorrow = (app.clock_now() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(
        app.get(&format!("/api/v1/posts?dateFrom={tomorrow}"))
            .json(),
        json!([])
    );
    assert_eq!(
        app.get("/api/v1/posts?status=done").error_code(400),
        "VALIDATION_FAILED"
    );
    assert_eq!(
        app.get("/api/v1/posts?dateFrom=yesterday").error_code(400),
        "VALIDATION_FAILED"
    );
    assert_eq!(
        app.get("/api/v1/posts?limit=0").error_code(400),
        "VALIDATION_FAILED"
    );
    assert_eq!(
        app.get("/api/v1/posts?limit=201").error_code(400),
        "VALIDATION_FAILED"
    );
    assert_eq!(
        app.get("/api/v1/posts?cursor=garbage").error_code(400),
        "VALIDATION_FAILED"
    );

    // pages of two, following the Link header, visit every u1 post once, in order
    let mut seen = Vec::new();
    let mut next = Some(format!(
        "{}/api/v1/posts?externalUserId=u1&limit=2",
        app.base
    ));
    while let Some(url) = next {
        let page = crate::support::send(
            "GET",
            &url,
            &[("Authorization", &format!("Bearer {}", app.key))],
            None,
        );
        assert_eq!(page.status, 200);
        for post in page.json().as_array().unwrap() {
            seen.push(post["id"].as_str().unwrap().to_string());
        }
        next = page.header("link").map(|link| {
            assert!(link.ends_with("; rel=\"next\""), "{link}");
            link.trim_start_matches('<')
                .split('>')
                .next()
                .unwrap()
                .to_string()
        });
    }
    let expected: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(seen, expected);
}
