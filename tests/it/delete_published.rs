//! `DELETE /v1/posts/{id}` of a post the platforms published, through the API: one post on all
//! eight platforms deleted where each platform allows it (which ones is the scenario table's
//! `deletion` row of each platform, `scenarios::delete_call`), a failure on one platform that
//! leaves the others deleted and is the only call the next DELETE makes, a partial success
//! whose failed platform has nothing to delete, the refusals (in flight, never published,
//! another app's post), the audit entry, the `post.deleted` event, the publishing budget, the
//! dashboard's view, and the answers' conformance to the OpenAPI document.

use crate::dash;
use crate::scenarios::delete_call;
use crate::support::{TestApp, conformance_errors};
use mypostshare::services::reports::{self, AuditQuery};
use serde_json::{Value, json};

const ALL: [&str; 8] = [
    "linkedin",
    "facebook",
    "instagram",
    "twitter",
    "youtube",
    "threads",
    "pinterest",
    "reddit",
];

fn delete(app: &TestApp, id: &str) -> Value {
    let reply = app.call("DELETE", &format!("/api/v1/posts/{id}"), None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

fn id_of(post: &Value) -> String {
    post["id"].as_str().unwrap().to_string()
}

/// The platform result of `platform` in a post.
fn result<'a>(post: &'a Value, platform: &str) -> &'a Value {
    post["platformResults"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["platform"] == platform)
        .unwrap_or_else(|| panic!("no {platform} result in {post}"))
}

fn fault_on_delete(app: &TestApp, platform: &str) {
    let (method, path) = delete_call(platform).expect("a platform that deletes");
    app.inject_fault(json!({"platform": platform, "kind": "server_error", "status": 503, "method": method, "path": path}));
}

fn events_of_type(app: &TestApp, event_type: &str) -> Vec<Value> {
    app.running
        .state
        .db
        .read(|c| {
            let mut stmt =
                c.prepare("SELECT payload FROM webhook_events WHERE type = ?1 ORDER BY rowid")?;
            let rows = stmt.query_map([event_type], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .unwrap()
        .iter()
        .map(|payload| serde_json::from_str(payload).unwrap())
        .collect()
}

fn audit_of(app: &TestApp, post_id: &str) -> Vec<mypostshare::services::audit::AuditEntry> {
    let query = AuditQuery {
        actor: None,
        action: Some("post.delete".into()),
    };
    app.running
        .state
        .db
        .read(|c| reports::audit(c, &query, 0, 100))
        .unwrap()
        .rows
        .into_iter()
        .filter(|e| e.target_id.as_deref() == Some(post_id))
        .collect()
}

/// One end user on all eight platforms, and one published video post to all of them (the
/// body every platform takes: `all_platforms.rs`).
fn published_everywhere(app: &TestApp) -> Value {
    app.upsert_user("u1");
    for platform in ALL {
        app.connect("u1", platform, "alex_morgan");
    }
    let board = app
        .get("/api/v1/end-users/u1/connections/pinterest/targets")
        .json()[0]["id"]
        .clone();
    let reply = app.post(
        "/api/v1/posts",
        json!({
            "externalUserId": "u1",
            "title": "Launch film",
            "content": "Our launch film is out today.",
            "mediaUrl": app.sample_media("sample.mp4"),
            "platforms": ALL,
            "platformOptions": {
                "pinterest": {"boardId": board},
                "reddit": {"subreddit": "test"},
                "youtube": {"privacyStatus": "unlisted"}
            }
        }),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let post = reply.json();
    assert_eq!(post["status"], "published", "{post}");
    for platform in ALL {
        assert_eq!(app.live_sim_posts_of(platform), 1, "{platform}");
    }
    post
}

/// Every platform of one post at once: those whose API deletes are deleted (the first of them
/// failing on a 503 of its delete call, which the others do not notice), the others report
/// `not_supported` with what to do, and nothing of it changes the post's status. The second
/// DELETE calls only the platform that failed (faults queued on the others' delete calls stay
/// queued), the third calls none, and GET shows what each answered.
#[test]
fn each_platform_is_deleted_where_it_allows_and_only_a_failure_is_called_again() {
    let app = TestApp::start();
    let post = published_everywhere(&app);
    let id = id_of(&post);
    let deleting: Vec<&str> = ALL
        .into_iter()
        .filter(|p| delete_call(p).is_some())
        .collect();
    // The platform whose delete call fails first (the others' rows are checked as deleted).
    let failing = deleting.first().copied();
    if let Some(platform) = failing {
        fault_on_delete(&app, platform);
    }
    let first = delete(&app, &id);
    assert_eq!(first["status"], "published", "the post's status stays");
    for platform in ALL {
        let deletion = &result(&first, platform)["deletion"];
        if Some(platform) == failing {
            assert_eq!(deletion["status"], "failed", "{platform}: {deletion}");
            assert_eq!(deletion["errorCode"], "PLATFORM_UNAVAILABLE");
            assert!(
                deletion["errorMessage"]
                    .as_str()
                    .unwrap()
                    .contains("DELETE again"),
                "{deletion}"
            );
            assert_eq!(app.live_sim_posts_of(platform), 1, "{platform}");
        } else if delete_call(platform).is_some() {
            assert_eq!(deletion["status"], "deleted", "{platform}: {deletion}");
            assert_eq!(deletion["attemptCount"], 1);
            assert!(deletion["deletedAt"].is_string());
            assert_eq!(app.live_sim_posts_of(platform), 0, "{platform}");
        } else {
            assert_eq!(
                deletion["status"], "not_supported",
                "{platform}: {deletion}"
            );
            assert_eq!(deletion["errorCode"], "DELETE_NOT_AVAILABLE");
            assert_eq!(deletion["attemptCount"], 0);
            let message = deletion["errorMessage"].as_str().unwrap();
            assert!(message.contains("delete it in the"), "{message}");
            assert_eq!(app.live_sim_posts_of(platform), 1, "{platform}");
        }
    }
    // Instagram's API has no deletion: whatever the others do, it says where to go instead.
    let instagram = &result(&first, "instagram")["deletion"];
    assert_eq!(instagram["status"], "not_supported");
    assert!(
        instagram["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Instagram app"),
        "{instagram}"
    );
    assert_eq!(app.get(&format!("/api/v1/posts/{id}")).json(), first);

    // Faults on every other deleting platform's delete call: none of them may be called.
    for platform in deleting.iter().skip(1) {
        fault_on_delete(&app, platform);
    }
    let second = delete(&app, &id);
    for platform in ALL {
        let before = &result(&first, platform)["deletion"];
        let after = &result(&second, platform)["deletion"];
        if Some(platform) == failing {
            assert_eq!(after["status"], "deleted", "{platform}: {after}");
            assert_eq!(after["attemptCount"], 2);
            assert_eq!(app.live_sim_posts_of(platform), 0, "{platform}");
        } else {
            assert_eq!(after, before, "{platform}: not called again");
        }
    }
    assert_eq!(
        app.queued_faults().len(),
        deleting.len().saturating_sub(1),
        "only the failed platform was called"
    );
    assert_eq!(delete(&app, &id), second, "a third DELETE changes nothing");
}

/// A `partial_success` post: the platform that failed never published, so it has nothing to
/// delete (and is not called); the one that published is deleted per its row. A deleted post
/// is never retried, even though a failed delivery of it could be.
#[test]
fn a_platform_that_never_published_has_nothing_to_delete_and_a_deleted_post_is_not_retried() {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect("u1", "linkedin", "Alex Morgan");
    app.connect("u1", "twitter", "Alex Morgan");
    // A refused token certainly published nothing (a 5xx would be read back first).
    app.inject_fault(json!({"platform": "twitter", "kind": "revoked_token"}));
    let reply = app.post(
        "/api/v1/posts",
        json!({"externalUserId": "u1", "content": "Half of it", "platforms": ["linkedin", "twitter"]}),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let post = reply.json();
    assert_eq!(post["status"], "partial_success", "{post}");
    assert_eq!(result(&post, "twitter")["status"], "failed");
    assert!(app.queued_faults().is_empty());
    let deleted = delete(&app, &id_of(&post));
    assert_eq!(deleted["status"], "partial_success");
    let twitter = &result(&deleted, "twitter")["deletion"];
    assert_eq!(twitter["status"], "nothing_to_delete", "{twitter}");
    assert_eq!(twitter["errorCode"], Value::Null);
    assert_eq!(twitter["attemptCount"], 0);
    let linkedin = &result(&deleted, "linkedin")["deletion"];
    let expected = if delete_call("linkedin").is_some() {
        "deleted"
    } else {
        "not_supported"
    };
    assert_eq!(linkedin["status"], expected, "{linkedin}");

    let retry = app.post(&format!("/api/v1/posts/{}/retry", id_of(&post)), json!({}));
    assert_eq!(retry.error_code(409), "INVALID_STATUS_TRANSITION");
    let message = retry.json()["message"].as_str().unwrap().to_string();
    assert!(message.contains("deleted on the platforms"), "{message}");
    assert!(app.sim_posts_of("twitter").is_empty(), "never published");
}

/// Only a post the platforms are done with is deleted: one still being published is 409
/// naming its status, one that never published is 409 (nothing to delete), a cancelled one
/// too; another app's post is 404 and is left as it was.
#[test]
fn a_post_in_flight_never_published_or_of_another_app_is_refused() {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect("u1", "linkedin", "Alex Morgan");
    let publish = |content: &str| {
        let reply = app.post(
            "/api/v1/posts",
            json!({"externalUserId": "u1", "content": content, "platforms": ["linkedin"]}),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.json()
    };

    app.inject_fault(json!({"platform": "linkedin", "kind": "rate_limit"}));
    let in_flight = publish("throttled");
    assert_eq!(in_flight["status"], "processing", "{in_flight}");
    let refused = app.call(
        "DELETE",
        &format!("/api/v1/posts/{}", id_of(&in_flight)),
        None,
    );
    assert_eq!(refused.error_code(409), "INVALID_STATUS_TRANSITION");
    let message = refused.json()["message"].as_str().unwrap().to_string();
    assert!(message.contains("is processing"), "{message}");

    app.inject_fault(json!({"platform": "linkedin", "kind": "server_error", "status": 503, "method": "POST", "path": "/rest/posts"}));
    let failed = publish("an outage");
    // LinkedIn cannot be read back: after the read-back the delivery fails.
    let failed = app.finish_read_back(&id_of(&failed));
    assert_eq!(failed["status"], "failed", "{failed}");
    let refused = app.call("DELETE", &format!("/api/v1/posts/{}", id_of(&failed)), None);
    assert_eq!(refused.error_code(409), "INVALID_STATUS_TRANSITION");
    let message = refused.json()["message"].as_str().unwrap().to_string();
    assert!(message.contains("nothing to delete"), "{message}");

    let published = publish("mine");
    let (_, other_key) = app.second_tenant();
    let path = format!("/api/v1/posts/{}", id_of(&published));
    let foreign = app.call_as(&other_key, "DELETE", &path, None);
    assert_eq!(foreign.error_code(404), "NOT_FOUND");
    assert_eq!(
        result(&app.get(&path).json(), "linkedin")["deletion"],
        Value::Null,
        "untouched"
    );
    assert!(audit_of(&app, &id_of(&published)).is_empty());
}

/// Each DELETE of a sent post is one audit entry (the key that asked, each platform's
/// result); a DELETE that asked a platform or found a new result is one `post.deleted`
/// event with the post as GET shows it, and one that found nothing new is none. Deleting
/// and retrying draw from the publishing budget.
#[test]
fn a_deletion_is_audited_reported_by_webhook_and_drawn_from_the_publishing_budget() {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect("u1", "instagram", "Alex Morgan");
    let hook = app.post(
        "/api/v1/webhook-endpoints",
        json!({"url": "http://127.0.0.1:9/hooks", "eventTypes": ["post.deleted"]}),
    );
    assert_eq!(hook.status, 201, "{}", hook.body);
    let reply = app.post(
        "/api/v1/posts",
        json!({"externalUserId": "u1", "content": "A photo", "mediaUrl": app.sample_media("sample.jpg"), "platforms": ["instagram"]}),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = id_of(&reply.json());

    let path = format!("/api/v1/posts/{id}");
    let first = app.call("DELETE", &path, None);
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.header("x-ratelimit-resource"), Some("publishing"));
    let events = events_of_type(&app, "post.deleted");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "post.deleted");
    assert_eq!(
        events[0]["data"],
        first.json(),
        "the post as the API answers it"
    );

    let second = app.call("DELETE", &path, None);
    assert_eq!(second.json(), first.json());
    assert_eq!(
        events_of_type(&app, "post.deleted").len(),
        1,
        "nothing new, no event"
    );
    let entries = audit_of(&app, &id);
    assert_eq!(entries.len(), 2, "one entry per DELETE");
    for entry in &entries {
        let prefix = entry.actor.strip_prefix("api key ").unwrap_or_default();
        assert!(
            !prefix.is_empty() && app.key.starts_with(prefix),
            "{}",
            entry.actor
        );
    }
    let details: Value = serde_json::from_str(entries[0].details.as_deref().unwrap()).unwrap();
    assert_eq!(details["platforms"], json!({"instagram": "not_supported"}));

    let retry = app.post(&format!("{path}/retry"), json!({}));
    assert_eq!(retry.header("x-ratelimit-resource"), Some("publishing"));
    let cancel = app.post(&format!("{path}/cancel"), json!({}));
    assert_eq!(cancel.header("x-ratelimit-resource"), Some("general"));
}

/// The answer of a DELETE is checked against the OpenAPI document like every answer (in
/// `support`); here the document is shown to hold a deletion to its shape: a status outside
/// the list, a missing field or an unknown code fails it.
#[test]
fn a_deletion_answer_conforms_to_the_document_and_the_document_constrains_it() {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect("u1", "instagram", "Alex Morgan");
    let reply = app.post(
        "/api/v1/posts",
        json!({"externalUserId": "u1", "content": "A photo", "mediaUrl": app.sample_media("sample.jpg"), "platforms": ["instagram"]}),
    );
    let answer = delete(&app, &id_of(&reply.json()));
    let text = |v: &Value| v.to_string();
    assert!(
        conformance_errors("DELETE", "/v1/posts/x", 200, &text(&answer)).is_empty(),
        "{answer}"
    );
    for (field, bad) in [
        ("status", json!("removed")),
        ("errorCode", json!("NO_SUCH_CODE")),
        ("alreadyGone", json!("no")),
    ] {
        let mut broken = answer.clone();
        broken["platformResults"][0]["deletion"][field] = bad;
        assert!(
            !conformance_errors("DELETE", "/v1/posts/x", 200, &text(&broken)).is_empty(),
            "{field}"
        );
    }
    let mut missing = answer.clone();
    missing["platformResults"][0]["deletion"]
        .as_object_mut()
        .unwrap()
        .remove("deletedAt");
    assert!(!conformance_errors("GET", "/v1/posts/x", 200, &text(&missing)).is_empty());
}

/// The dashboard's post page shows each platform's deletion next to its result.
#[test]
fn the_dashboard_shows_the_deletion_of_each_platform() {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect("u1", "instagram", "Alex Morgan");
    let reply = app.post(
        "/api/v1/posts",
        json!({"externalUserId": "u1", "content": "A photo", "mediaUrl": app.sample_media("sample.jpg"), "platforms": ["instagram"]}),
    );
    let id = id_of(&reply.json());
    dash::create_operator(&app);
    let op = dash::sign_in(&app);
    let before = op.page(&format!("/dashboard/posts/{id}"));
    assert!(!before.contains("Deletion"), "not deleted yet");
    delete(&app, &id);
    let page = op.page(&format!("/dashboard/posts/{id}"));
    assert!(page.contains("Deletion"), "{page}");
    assert!(page.contains("not_supported"), "{page}");
    assert!(page.contains("DELETE_NOT_AVAILABLE"), "{page}");
    assert!(page.contains("delete it in the Instagram app"), "{page}");
}
