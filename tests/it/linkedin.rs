//! LinkedIn (`linkedin`): what read-back and delete of a published post do for a member's
//! connection (Share on LinkedIn, `w_member_social`). Publishing, media and the simulator's
//! own refusals are in `simulator_linkedin.rs` and `linkedin_media.rs`; cross-platform
//! behaviours are rows of the scenario table (`scenarios.rs`).

use crate::adapter_calls::{Adapter, content};
use crate::support::{TestApp, send};
use mypostshare::providers::{CallKind, Deletion, Platform, ProviderError, ReadBack};
use serde_json::json;

fn connected() -> TestApp {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect_linkedin("u1", "Alex Morgan");
    app
}

fn adapter(app: &TestApp) -> Adapter<'_> {
    Adapter::of(app, "u1", Platform::Linkedin)
}

fn published_urn(app: &TestApp, text: &str) -> String {
    let post = app.publish("u1", text).json();
    assert_eq!(post["status"], "published", "{post}");
    post["platformResults"][0]["externalId"]
        .as_str()
        .unwrap()
        .to_string()
}

/// LinkedIn's REST API, called with the connection's own token.
fn rest(app: &TestApp, token: &str, method: &str, path: &str) -> crate::support::Reply {
    send(
        method,
        &format!("{}/sandbox/linkedin/rest/{path}", app.base),
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("LinkedIn-Version", "202603"),
            ("X-Restli-Protocol-Version", "2.0.0"),
        ],
        None,
    )
}

#[test]
fn read_back_is_unknowable_for_a_member_and_says_why() {
    let app = connected();
    let since = app.clock_now();
    published_urn(&app, "Was this posted?");
    let li = adapter(&app);
    match li.find(&content("Was this posted?", None, None), None, since) {
        Ok(ReadBack::Unknowable { reason }) => {
            assert!(reason.contains("r_member_social"), "{reason}");
            assert!(reason.contains("w_member_social"), "{reason}");
        }
        other => panic!("expected Unknowable, got {other:?}"),
    }
    // Why: LinkedIn refuses this connection's token both ways a post could be read back.
    let author = mypostshare::http::percent_encode(&format!("urn:li:person:{}", li.account.id));
    let listing = rest(
        &app,
        &li.token,
        "GET",
        &format!("posts?q=author&author={author}"),
    );
    assert_eq!(listing.status, 403, "{}", listing.body);
    assert_eq!(listing.json()["code"], "ACCESS_DENIED");
    let urn = app.sim_posts()[0]["id"].as_str().unwrap().to_string();
    let one = rest(
        &app,
        &li.token,
        "GET",
        &format!("posts/{}", mypostshare::http::percent_encode(&urn)),
    );
    assert_eq!(one.status, 403, "{}", one.body);
}

#[test]
fn delete_removes_the_post_and_deleting_again_is_no_error() {
    let app = connected();
    let urn = published_urn(&app, "Short-lived on LinkedIn");
    let li = adapter(&app);
    assert!(li.provider.can_delete());
    assert_eq!(li.delete(&urn).unwrap(), Deletion::Deleted);
    assert_eq!(app.sim_posts()[0]["deleted"], true);
    // LinkedIn answers 204 again for a post deleted before.
    assert_eq!(li.delete(&urn).unwrap(), Deletion::Deleted);
    assert_eq!(
        li.delete("urn:li:share:7000000000000000001").unwrap(),
        Deletion::AlreadyGone
    );
    assert!(matches!(
        li.delete("https://www.linkedin.com/feed/update/x"),
        Err(ProviderError::Rejected { .. })
    ));
}

#[test]
fn delete_of_another_members_post_is_refused() {
    let app = connected();
    app.upsert_user("u2");
    app.connect("u2", "linkedin", "Sam Lee");
    let post = app
        .post(
            "/api/v1/posts",
            json!({"externalUserId": "u2", "content": "Sam's post", "platforms": ["linkedin"]}),
        )
        .json();
    let theirs = post["platformResults"][0]["externalId"].as_str().unwrap();
    match adapter(&app).delete(theirs) {
        Err(ProviderError::Rejected { message, .. }) => {
            assert!(
                message.contains("only the member who wrote a post"),
                "{message}"
            )
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_ne!(app.sim_posts()[0]["deleted"], true);
}

#[test]
fn a_server_error_on_delete_is_an_error_the_caller_sees() {
    let app = connected();
    let urn = published_urn(&app, "Delete me later");
    app.inject_fault(
        json!({"platform": "linkedin", "kind": "server_error", "status": 500, "method": "DELETE"}),
    );
    match adapter(&app).delete(&urn) {
        Err(ProviderError::Transient {
            status: 500, call, ..
        }) => {
            assert_eq!(call, CallKind::SafeToRetry)
        }
        other => panic!("expected a server error, got {other:?}"),
    }
    assert_ne!(app.sim_posts()[0]["deleted"], true);
    assert_eq!(adapter(&app).delete(&urn).unwrap(), Deletion::Deleted);
}

/// LinkedIn answers a delete of a post deleted before with 204 as well, so a post the member
/// removed by hand is reported deleted now, not "already gone": the API cannot tell them apart.
#[test]
fn a_post_the_member_deleted_by_hand_reads_as_deleted_now() {
    let app = connected();
    let urn = published_urn(&app, "Removed in the LinkedIn app");
    let li = adapter(&app);
    let path = format!("posts/{}", mypostshare::http::percent_encode(&urn));
    assert_eq!(rest(&app, &li.token, "DELETE", &path).status, 204);
    let post = app.get("/api/v1/posts").json()[0].clone();
    let id = post["id"].as_str().unwrap();
    let answer = app.call("DELETE", &format!("/api/v1/posts/{id}"), None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let deletion = &answer.json()["platformResults"][0]["deletion"];
    assert_eq!(deletion["status"], "deleted", "{deletion}");
    assert_eq!(deletion["alreadyGone"], false);
}
