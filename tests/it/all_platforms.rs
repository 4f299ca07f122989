//! One end user connected to all eight platforms through the hosted flow, and one request that
//! publishes to all of them at once.

use crate::support::TestApp;
use serde_json::json;

const PLATFORMS: [&str; 8] = [
    "linkedin",
    "facebook",
    "instagram",
    "twitter",
    "youtube",
    "threads",
    "pinterest",
    "reddit",
];

#[test]
fn one_request_publishes_to_all_eight_platforms() {
    let app = TestApp::start();
    app.upsert_user("u1");
    for platform in PLATFORMS {
        app.connect("u1", platform, "alex_morgan");
    }
    let connections = app.get("/api/v1/end-users/u1/connections").json();
    assert_eq!(connections.as_array().unwrap().len(), 8);
    assert!(
        connections
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "connected"),
        "{connections}"
    );
    let summary = app.get("/api/v1/end-users/u1").json()["connectionSummary"].clone();
    assert_eq!(summary, json!({"total": 8, "connected": 8, "failed": 0}));

    let board = app
        .get("/api/v1/end-users/u1/connections/pinterest/targets")
        .json()[0]["id"]
        .clone();
    let video = app.sample_media("sample.mp4");
    let reply = app.post(
        "/api/v1/posts",
        json!({
            "externalUserId": "u1",
            "title": "Launch film",
            "content": "Our launch film is out today.",
            "mediaUrl": video,
            "platforms": PLATFORMS,
            "platformOptions": {
                "pinterest": {"boardId": board},
                "reddit": {"subreddit": "test"},
                "youtube": {"privacyStatus": "unlisted"}
            }
        }),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let post = reply.json();
    let results = post["platformResults"].as_array().unwrap();
    assert_eq!(results.len(), 8);
    for result in results {
        assert_eq!(result["status"], "published", "{result}");
        assert!(
            result["externalId"]
                .as_str()
                .is_some_and(|id| !id.is_empty()),
            "{result}"
        );
        assert_eq!(result["attemptCount"], 1, "{result}");
    }
    assert_eq!(post["status"], "published");
    assert_eq!(post["creditCost"], 5);
    let mut platforms: Vec<&str> = results
        .iter()
        .map(|r| r["platform"].as_str().unwrap())
        .collect();
    platforms.sort();
    let mut expected = PLATFORMS.to_vec();
    expected.sort();
    assert_eq!(platforms, expected);
    // Every simulated platform recorded exactly one post.
    for platform in PLATFORMS {
        assert_eq!(
            app.sim_posts_of(platform).len(),
            1,
            "{platform} recorded {:?}",
            app.sim_posts_of(platform)
        );
    }
}
