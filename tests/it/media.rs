//! The guarded media fetcher against a real server on loopback: refused unless the instance
//! allows private addresses (as `serve --sandbox` does), size-capped and type-checked.

use crate::support::TestApp;
use mypostshare::providers::MediaKind;
use mypostshare::providers::media::MediaFetcher;
use std::time::Duration;

#[test]
fn media_on_a_private_address_is_refused_unless_allowed() {
    let app = TestApp::start();
    let url = app.sample_media("sample.png");
    let guarded = MediaFetcher::new(false, 1 << 20, Duration::from_secs(5));
    let refused = guarded.fetch(&url, &[MediaKind::Image]).unwrap_err();
    assert_eq!(refused.code().as_str(), "MEDIA_FETCH_FAILED");
    assert!(
        refused
            .message()
            .contains("private, loopback or link-local"),
        "{refused:?}"
    );
    assert!(guarded.probe(&url).is_err());
    // A hostname that resolves to loopback is refused the same way (checked after resolution).
    let by_name = url.replace("127.0.0.1", "localhost");
    assert!(
        guarded
            .fetch(&by_name, &[MediaKind::Image])
            .unwrap_err()
            .message()
            .contains("private")
    );

    let open = MediaFetcher::new(true, 1 << 20, Duration::from_secs(5));
    let blob = open.fetch(&url, &[MediaKind::Image]).unwrap();
    assert_eq!(blob.content_type, "image/png");
    assert_eq!(&blob.read_range(1, 4).unwrap(), b"PNG");
    assert_eq!(open.probe(&url).unwrap().content_type, "image/png");
    // The wrong kind and an over-size file are refused with a reason.
    let wrong = open.fetch(&url, &[MediaKind::Video]).unwrap_err();
    assert!(wrong.message().contains("image/png"), "{wrong:?}");
    let small = MediaFetcher::new(true, 1000, Duration::from_secs(5));
    let big = small
        .fetch(
            &app.sample_media("sample.mp4?bytes=5000"),
            &[MediaKind::Video],
        )
        .unwrap_err();
    assert!(big.message().contains("limit"), "{big:?}");
    let missing = open
        .fetch(&app.sample_media("nothing.png"), &[MediaKind::Image])
        .unwrap_err();
    assert!(missing.message().contains("404"), "{missing:?}");
}

#[test]
fn a_post_whose_media_cannot_be_checked_is_refused_before_charging() {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect("u1", "threads", "alex_morgan");
    let balance = app.balance();
    // No extension: the appliance asks the server what it is, and it answers 404.
    let reply = app.post(
        "/api/v1/posts",
        serde_json::json!({"externalUserId": "u1", "content": "x", "mediaUrl": app.sample_media("download?id=1"), "platforms": ["threads"]}),
    );
    assert_eq!(reply.error_code(400), "MEDIA_UNREACHABLE");
    assert_eq!(app.balance(), balance);
}
