//! The YouTube adapter after a publish, called as the engine calls it (the connection's own
//! token and credentials, the simulator over HTTP): `find_published` from a stored video id
//! and from the channel's uploads playlist, and `delete_post`, including connections made
//! before `youtube.force-ssl` was asked for and ones without a read scope.

use super::{Google, MEMBER, connected, publish, result, sim_settings, video_post};
use crate::adapter_calls::{Adapter, found};
use crate::support::{REDIRECT, TestApp, query_value, send};
use chrono::{DateTime, Duration, Utc};
use mypostshare::providers::{
    Deletion, MediaKind, Platform, PostContent, ProviderError, Published, ReadBack,
};
use serde_json::{Value, json};

fn video(title: &str) -> PostContent {
    PostContent {
        title: Some(title.to_string()),
        text: format!("About {title}"),
        media_url: Some("https://media.example/video.mp4".into()),
        thumbnail_url: None,
        media_kind: Some(MediaKind::Video),
    }
}

/// A video uploaded straight to the simulator (one resumable session, one PUT) with `token`:
/// title `title`, description `About {title}`; its id.
fn upload(google: &Google, token: &str, title: &str) -> String {
    let bytes = [&[0, 0, 0, 24][..], b"ftypisom", &[0u8; 1000][..]].concat();
    let started = google.start_upload(
        token,
        &[
            ("X-Upload-Content-Length", &bytes.len().to_string()),
            ("X-Upload-Content-Type", "video/mp4"),
        ],
        json!({"snippet": {"title": title, "description": format!("About {title}")}, "status": {"privacyStatus": "private"}}),
    );
    assert_eq!(started.status, 200, "{}", started.body);
    let session = started.header("location").unwrap().to_string();
    let r = crate::support::agent()
        .put(&session)
        .set("Authorization", &format!("Bearer {token}"))
        .set("Content-Type", "video/mp4")
        .send_bytes(&bytes)
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = serde_json::from_reader(r.into_reader()).unwrap();
    body["id"].as_str().unwrap().to_string()
}

/// A token of the same channel granted only `scope` (space-separated Google scopes).
fn token_with(google: &Google, scope: &str) -> String {
    let query = mypostshare::http::encode_query(&[
        ("client_id", "yt-test"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", scope),
        ("state", "st"),
        ("member_name", MEMBER),
        ("decision", "allow"),
    ]);
    let r = send(
        "POST",
        &google.url("/o/oauth2/v2/auth"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(&query),
    );
    assert_eq!(r.status, 302, "{}", r.body);
    let code = query_value(r.header("location").unwrap(), "code").unwrap();
    let t = google.exchange(&code, None);
    assert_eq!(t.status, 200, "{}", t.body);
    t.json()["access_token"].as_str().unwrap().to_string()
}

fn adapter(app: &TestApp) -> Adapter<'_> {
    Adapter::of(app, "u1", Platform::Youtube)
}

fn since(app: &TestApp) -> DateTime<Utc> {
    app.clock_now()
}

#[test]
fn a_published_video_is_found_in_the_uploads_playlist_by_title_description_and_window() {
    let app = connected();
    let start = since(&app);
    let post = publish(&app, video_post(&app, "Read me back", 60_000));
    assert_eq!(post["status"], "published", "{post}");
    let adapter = adapter(&app);
    let Published {
        external_id: id,
        url,
    } = found(adapter.find(&video("Read me back"), None, start));
    assert_eq!(id, result(&post)["externalId"].as_str().unwrap());
    assert_eq!(url.as_deref(), result(&post)["url"].as_str());
    assert!(matches!(
        adapter.find(&video("Another title"), None, start),
        Ok(ReadBack::Absent)
    ));
    let mut other_description = video("Read me back");
    other_description.text = "Said otherwise".into();
    assert!(matches!(
        adapter.find(&other_description, None, start),
        Ok(ReadBack::Absent)
    ));
    // A window that starts after it: the reading reaches an older upload and stops, absent.
    app.clock.advance(Duration::minutes(10));
    assert!(matches!(
        adapter.find(&video("Read me back"), None, since(&app)),
        Ok(ReadBack::Absent)
    ));
    // The same title and description twice in the window: cannot tell which.
    publish(&app, video_post(&app, "Read me back", 61_000));
    match adapter.find(&video("Read me back"), None, start) {
        Ok(ReadBack::Unknowable { reason }) => assert!(reason.contains("2 uploads"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_uploads_playlist_is_read_page_by_page() {
    let app = connected();
    let google = Google::new(&app);
    let token = google.access_token(MEMBER);
    let adapter = adapter(&app);
    let start = since(&app);
    let target = upload(&google, &token, "the oldest");
    app.clock.advance(Duration::seconds(1));
    // Fifty newer uploads push it to the second page of fifty.
    for n in 0..50 {
        upload(&google, &token, &format!("newer {n}"));
    }
    let Published {
        external_id: id, ..
    } = found(adapter.find(&video("the oldest"), None, start));
    assert_eq!(id, target);
    assert!(matches!(
        adapter.find(&video("never sent"), None, start),
        Ok(ReadBack::Absent)
    ));
}

#[test]
fn a_stored_video_id_is_found_once_processed() {
    let app = connected();
    sim_settings(&app, json!({"processingPolls": 2}));
    let google = Google::new(&app);
    let token = google.access_token(MEMBER);
    let adapter = adapter(&app);
    let id = upload(&google, &token, "processing");
    let state = json!({"videoId": id});
    // Still processing: the resume that follows keeps looking; it only reads.
    assert!(matches!(
        adapter.find(&video("processing"), Some(&state), since(&app)),
        Ok(ReadBack::Absent)
    ));
    let mut looks = 1;
    let (found_id, url) = loop {
        looks += 1;
        assert!(looks < 6, "processing never ended");
        if let Ok(ReadBack::Found(p)) =
            adapter.find(&video("processing"), Some(&state), since(&app))
        {
            break (p.external_id, p.url);
        }
    };
    assert_eq!(found_id, id);
    assert_eq!(
        url.unwrap(),
        format!("https://www.youtube.com/watch?v={id}")
    );
}

#[test]
fn an_upload_youtube_rejected_is_reported_as_its_error_not_as_published() {
    let app = connected();
    sim_settings(&app, json!({"processingPolls": 0}));
    let google = Google::new(&app);
    let token = google.access_token(MEMBER);
    let adapter = adapter(&app);
    let start = since(&app);
    // The same file twice: YouTube rejects the second while processing it.
    let first = upload(&google, &token, "the original");
    found(adapter.find(
        &video("the original"),
        Some(&json!({"videoId": first})),
        start,
    ));
    upload(&google, &token, "the copy");
    match adapter.find(&video("the copy"), None, start) {
        Err(ProviderError::Rejected { code, message }) => {
            assert_eq!(code, mypostshare::error::Code::DuplicatePost);
            assert!(message.contains("duplicate"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn without_a_read_scope_the_outcome_cannot_be_told() {
    let app = connected();
    let google = Google::new(&app);
    let upload_only = token_with(&google, "https://www.googleapis.com/auth/youtube.upload");
    let adapter = adapter(&app);
    match adapter
        .with_token(&upload_only)
        .find(&video("anything"), None, since(&app))
    {
        Ok(ReadBack::Unknowable { reason }) => {
            assert!(
                reason.contains("youtube.readonly") && reason.contains("reconnect"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    // A connection of earlier versions (upload and read-only) can read back.
    let earlier = google.access_token(MEMBER);
    assert!(matches!(
        adapter
            .with_token(&earlier)
            .find(&video("anything"), None, since(&app)),
        Ok(ReadBack::Absent)
    ));
}

#[test]
fn deleting_a_video_needs_force_ssl_then_a_second_delete_finds_it_gone() {
    let app = connected();
    let post = publish(&app, video_post(&app, "Delete me", 60_000));
    let id = result(&post)["externalId"].as_str().unwrap().to_string();
    let adapter = adapter(&app);
    // A channel connected before this version granted upload and read-only.
    let google = Google::new(&app);
    let earlier = google.access_token(MEMBER);
    match adapter.with_token(&earlier).delete(&id) {
        Err(ProviderError::Rejected { code, message }) => {
            assert_eq!(code, mypostshare::error::Code::PlatformRejected);
            assert!(
                message.contains("youtube.force-ssl") && message.contains("reconnect"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(app.sim_posts_of("youtube")[0]["deleted"], Value::Null);
    assert_eq!(adapter.delete(&id).unwrap(), Deletion::Deleted);
    assert_eq!(app.sim_posts_of("youtube")[0]["deleted"], true);
    assert_eq!(adapter.delete(&id).unwrap(), Deletion::AlreadyGone);
    assert!(matches!(
        adapter.find(
            &video("Delete me"),
            None,
            since(&app) - Duration::minutes(1)
        ),
        Ok(ReadBack::Absent)
    ));
}
