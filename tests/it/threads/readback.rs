//! The Threads adapter after a publish, called as the engine calls it (the connection's own
//! token and credentials, the simulator over HTTP): `find_published` from a stored container
//! and from the profile's list of posts, and `delete_post`, including a connection made
//! before `threads_delete` was asked for.

use super::{Raw, connected, publish, result};
use crate::adapter_calls::{Adapter, content, found};
use crate::support::{TestApp, send};
use chrono::Duration;
use mypostshare::providers::{
    Deletion, MediaKind, Platform, PostContent, ProviderError, Published, ReadBack,
};
use serde_json::{Value, json};

fn text(words: &str) -> PostContent {
    content(words, None, None)
}

fn adapter(app: &TestApp) -> Adapter<'_> {
    Adapter::of(app, "u1", Platform::Threads)
}

/// A container made (and optionally published) straight on the simulator with `token`.
fn container(app: &TestApp, token: &str, words: &str) -> String {
    let r = send(
        "POST",
        &format!("{}/sandbox/threads/v1.0/me/threads", app.base),
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        Some(&mypostshare::http::encode_query(&[
            ("media_type", "TEXT"),
            ("text", words),
        ])),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

fn publish_container(app: &TestApp, token: &str, id: &str) -> String {
    let r = send(
        "POST",
        &format!(
            "{}/sandbox/threads/v1.0/me/threads_publish?creation_id={id}",
            app.base
        ),
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        Some(""),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

#[test]
fn a_published_post_is_found_in_the_profiles_list_by_text_kind_and_window() {
    let app = connected();
    let since = app.clock_now();
    let post = publish(&app, json!({"content": "Read me back"}));
    assert_eq!(post["status"], "published", "{post}");
    let adapter = adapter(&app);
    let Published {
        external_id: id,
        url,
    } = found(adapter.find(&text("Read me back"), None, since));
    assert_eq!(id, result(&post)["externalId"].as_str().unwrap());
    assert_eq!(url.as_deref(), result(&post)["url"].as_str());
    // Another text, another kind, or a window after it: certainly absent.
    assert!(matches!(
        adapter.find(&text("Something else"), None, since),
        Ok(ReadBack::Absent)
    ));
    let mut image = text("Read me back");
    image.media_url = Some(app.sample_media("sample.png"));
    image.media_kind = Some(MediaKind::Image);
    assert!(matches!(
        adapter.find(&image, None, since),
        Ok(ReadBack::Absent)
    ));
    app.clock.advance(Duration::minutes(10));
    assert!(matches!(
        adapter.find(&text("Read me back"), None, app.clock_now()),
        Ok(ReadBack::Absent)
    ));
    // The same text twice in the window: which one is this delivery's cannot be told.
    publish(&app, json!({"content": "Read me back"}));
    match adapter.find(&text("Read me back"), None, since) {
        Ok(ReadBack::Unknowable { reason }) => assert!(reason.contains("2 posts"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_list_is_read_page_by_page_to_the_end_of_the_window() {
    let app = connected();
    let adapter = adapter(&app);
    let since = app.clock_now();
    let target = publish_container(
        &app,
        &adapter.token,
        &container(&app, &adapter.token, "the oldest"),
    );
    // A hundred newer posts push it to the second page of a hundred.
    for n in 0..100 {
        let id = container(&app, &adapter.token, &format!("newer {n}"));
        publish_container(&app, &adapter.token, &id);
    }
    let Published {
        external_id: id,
        url,
    } = found(adapter.find(&text("the oldest"), None, since));
    assert_eq!(id, target);
    assert!(url.unwrap().starts_with("https://www.threads.net/@"));
    assert!(matches!(
        adapter.find(&text("never sent"), None, since),
        Ok(ReadBack::Absent)
    ));
}

#[test]
fn a_stored_container_tells_by_its_status() {
    let app = connected();
    let adapter = adapter(&app);
    let since = app.clock_now();
    let id = container(&app, &adapter.token, "from a container");
    let state = json!({"containerId": id, "stage": "processing", "looks": 1});
    // Finished but never published: resuming it cannot make a second post.
    assert!(matches!(
        adapter.find(&text("from a container"), Some(&state), since),
        Ok(ReadBack::Absent)
    ));
    let media = publish_container(&app, &adapter.token, &id);
    let Published {
        external_id: found_id,
        url,
    } = found(adapter.find(&text("from a container"), Some(&state), since));
    assert_eq!(found_id, media, "the post's id, not the container's");
    assert!(url.is_some());
    // A read that fails is an error for the engine to retry, not an answer.
    app.inject_fault(json!({"platform": "threads", "kind": "server_error", "status": 503}));
    assert!(matches!(
        adapter.find(&text("from a container"), Some(&state), since),
        Err(ProviderError::Transient { .. })
    ));
}

#[test]
fn deleting_a_post_marks_it_deleted_on_threads_and_a_second_delete_finds_it_gone() {
    let app = connected();
    let post = publish(&app, json!({"content": "Delete me"}));
    let id = result(&post)["externalId"].as_str().unwrap().to_string();
    let adapter = adapter(&app);
    assert!(adapter.provider.can_delete());
    assert_eq!(adapter.delete(&id).unwrap(), Deletion::Deleted);
    let record = &app.sim_posts_of("threads")[0];
    assert_eq!(record["deleted"], true, "{record}");
    assert_eq!(adapter.delete(&id).unwrap(), Deletion::AlreadyGone);
    // The read-back no longer sees it.
    assert!(matches!(
        adapter.find(
            &text("Delete me"),
            None,
            app.clock_now() - Duration::minutes(1)
        ),
        Ok(ReadBack::Absent)
    ));
}

#[test]
fn a_connection_without_threads_delete_is_told_to_reconnect() {
    let app = connected();
    // A token granted only what earlier versions asked for.
    let raw = Raw::register(&app);
    let (old_token, _) = raw.token();
    let adapter = adapter(&app);
    let post = publish(&app, json!({"content": "Keep me"}));
    let id = result(&post)["externalId"].as_str().unwrap();
    match adapter.with_token(&old_token).delete(id) {
        Err(ProviderError::Rejected { code, message }) => {
            assert_eq!(code, mypostshare::error::Code::PlatformRejected);
            assert!(
                message.contains("threads_delete") && message.contains("reconnect"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(app.sim_posts_of("threads")[0]["deleted"], Value::Null);
}
