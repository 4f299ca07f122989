//! YouTube end to end through the appliance (connect, publish every kind of post YouTube
//! takes, validation, processing; deny, faults, duplicates and refresh are rows of the scenario
//! table in `scenarios.rs`), and the simulator's Google and YouTube
//! endpoints on their own: what they accept and what they refuse, in Google's shapes.

use crate::support::{REDIRECT, TestApp, query_value, send};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

mod readback;

const MEMBER: &str = "Chris Creator";

fn connected() -> TestApp {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect("u1", "youtube", MEMBER);
    app
}

fn publish(app: &TestApp, body: Value) -> Value {
    let mut body = body;
    body["externalUserId"] = json!("u1");
    body["platforms"] = json!(["youtube"]);
    let r = app.post("/api/v1/posts", body);
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()
}

fn video_post(app: &TestApp, title: &str, bytes: usize) -> Value {
    json!({
        "title": title,
        "content": format!("About {title}"),
        "mediaUrl": app.sample_media(&format!("sample.mp4?bytes={bytes}")),
    })
}

fn result(post: &Value) -> &Value {
    &post["platformResults"][0]
}

fn sim_settings(app: &TestApp, settings: Value) {
    app.sim_settings("youtube", settings);
}

fn sha256_of_url(url: &str) -> String {
    let mut data = Vec::new();
    std::io::Read::read_to_end(
        &mut crate::support::agent()
            .get(url)
            .call()
            .unwrap()
            .into_reader(),
        &mut data,
    )
    .unwrap();
    mypostshare::crypto::hex(&Sha256::digest(&data))
}

// ----- connect -----

#[test]
fn connecting_a_channel_asks_for_offline_access_and_reads_the_channel() {
    let app = TestApp::start();
    app.upsert_user("u1");
    let session = app.create_session_for("u1", "youtube");
    let page = send("GET", session["connectUrl"].as_str().unwrap(), &[], None);
    assert_eq!(page.status, 200);
    let form = app.open_consent_page(session["connectUrl"].as_str().unwrap());
    let field = |name: &str| {
        form.1
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(field("access_type"), "offline");
    assert_eq!(field("prompt"), "consent");
    assert_eq!(field("code_challenge_method"), "S256");
    assert!(field("scope").contains("https://www.googleapis.com/auth/youtube.upload"));
    // Reading the uploads back needs a read scope, deleting a video `youtube.force-ssl`.
    assert!(field("scope").contains("https://www.googleapis.com/auth/youtube.readonly"));
    assert!(field("scope").contains("https://www.googleapis.com/auth/youtube.force-ssl"));
    let callback = app.decide(&form, "allow", MEMBER);
    assert!(query_value(&callback, "code").is_some());
    let done = app.follow_callback(&callback);
    assert_eq!(done.status, 302, "{}", done.body);
    let location = done.header("location").unwrap();
    assert_eq!(
        query_value(location, "status").as_deref(),
        Some("connected")
    );
    assert_eq!(
        query_value(location, "accountType").as_deref(),
        Some("channel")
    );
    assert_eq!(
        query_value(location, "remoteUsername").as_deref(),
        Some(MEMBER)
    );
    let channel = query_value(location, "remoteAccountId").unwrap();
    assert!(
        channel.starts_with("UC") && channel.len() == 24,
        "{channel}"
    );
    let connection = &app.get("/api/v1/end-users/u1/connections").json()[0];
    assert_eq!(connection["platform"], "youtube");
    assert_eq!(connection["tokenStatus"], "active_refreshable");
    assert_eq!(connection["canAutoRefresh"], true);
}

// ----- publishing -----

#[test]
fn a_video_is_uploaded_with_its_title_description_options_and_thumbnail() {
    let app = connected();
    let mut body = video_post(&app, "Launch day", 300_000);
    body["thumbnailUrl"] = json!(app.sample_media("sample.png"));
    body["platformOptions"] = json!({"youtube": {
        "privacyStatus": "unlisted",
        "tags": ["launch", "behind the scenes"],
        "categoryId": "28",
        "madeForKids": false
    }});
    let post = publish(&app, body);
    assert_eq!(post["status"], "published", "{post}");
    let id = result(&post)["externalId"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 11);
    assert_eq!(
        result(&post)["url"],
        format!("https://www.youtube.com/watch?v={id}")
    );
    let recorded = app.sim_posts_of("youtube");
    assert_eq!(recorded.len(), 1);
    let video = &recorded[0];
    assert_eq!(video["id"], id.as_str());
    assert_eq!(video["title"], "Launch day");
    assert_eq!(video["description"], "About Launch day");
    assert_eq!(video["privacyStatus"], "unlisted");
    assert_eq!(video["tags"], json!(["launch", "behind the scenes"]));
    assert_eq!(video["categoryId"], "28");
    assert_eq!(video["madeForKids"], false);
    assert_eq!(video["media"]["bytes"], 300_000);
    assert_eq!(video["media"]["contentType"], "video/mp4");
    assert_eq!(
        video["media"]["sha256"],
        sha256_of_url(&app.sample_media("sample.mp4?bytes=300000"))
    );
    assert_eq!(video["thumbnail"]["contentType"], "image/png");
    let channel = &app.get("/api/v1/end-users/u1/connections").json()[0]["remoteAccountId"];
    assert_eq!(&video["channelId"], channel);
}

#[test]
fn videos_are_private_unless_asked_otherwise() {
    let app = connected();
    let post = publish(&app, video_post(&app, "Quiet", 70_000));
    assert_eq!(post["status"], "published", "{post}");
    assert_eq!(app.sim_posts_of("youtube")[0]["privacyStatus"], "private");
    assert_eq!(app.sim_posts_of("youtube")[0]["thumbnail"], Value::Null);
}

#[test]
fn a_large_video_goes_in_chunks_and_survives_an_interrupted_chunk() {
    let app = connected();
    let size = 2_621_440 + 1234; // three chunks of 1 MiB, the last one partial
    sim_settings(&app, json!({"interruptUploads": 1}));
    let post = publish(&app, video_post(&app, "Big one", size));
    assert_eq!(post["status"], "published", "{post}");
    let video = &app.sim_posts_of("youtube")[0];
    assert_eq!(video["media"]["bytes"], size);
    assert_eq!(
        video["media"]["sha256"],
        sha256_of_url(&app.sample_media(&format!("sample.mp4?bytes={size}"))),
        "every byte arrived once, in order, after resuming"
    );
}

#[test]
fn processing_that_outlasts_the_call_is_finished_by_the_engine() {
    let app = connected();
    sim_settings(&app, json!({"processingPolls": 7}));
    let post = publish(&app, video_post(&app, "Slow", 80_000));
    let id = post["id"].as_str().unwrap().to_string();
    assert_eq!(post["status"], "processing", "{post}");
    assert!(app.sim_posts_of("youtube").is_empty(), "not watchable yet");
    // Three more status reads finish it; each dispatch is one `resume`. A round may find the
    // previous one still running, so rounds are bounded generously rather than counted.
    let mut last = post.clone();
    for _ in 0..40 {
        app.clock.advance(chrono::Duration::seconds(31));
        app.run_job("dispatch_due_deliveries");
        std::thread::sleep(std::time::Duration::from_millis(100));
        last = app.get(&format!("/api/v1/posts/{id}")).json();
        if last["status"] == "published" {
            break;
        }
    }
    assert_eq!(last["status"], "published", "{last}");
    assert_eq!(app.sim_posts_of("youtube").len(), 1, "uploaded once");
}

// ----- validation -----

#[test]
fn youtube_rules_are_checked_before_anything_is_sent() {
    let app = connected();
    // Dozens of refused posts in a row: the publishing rate limit is not what this tests.
    app.lift_publishing_limit();
    let video = app.sample_media("sample.mp4");
    let cases = [
        (
            json!({"title": "t", "content": "text only"}),
            "MEDIA_REQUIRED",
        ),
        (
            json!({"title": "t", "content": "c", "mediaUrl": app.sample_media("sample.png")}),
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (json!({"content": "c", "mediaUrl": video}), "TITLE_REQUIRED"),
        (
            json!({"title": "x".repeat(101), "content": "c", "mediaUrl": video}),
            "CONTENT_TOO_LONG",
        ),
        // 2,501 characters but 5,002 bytes: YouTube counts bytes.
        (
            json!({"title": "t", "content": "é".repeat(2501), "mediaUrl": video}),
            "CONTENT_TOO_LONG",
        ),
        (
            json!({"title": "a <b>", "content": "c", "mediaUrl": video}),
            "VALIDATION_FAILED",
        ),
        (
            json!({"title": "t", "content": "c", "mediaUrl": video, "thumbnailUrl": app.sample_media("sample.gif")}),
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            json!({"title": "t", "content": "c", "mediaUrl": video, "platformOptions": {"youtube": {"visibility": "PUBLIC"}}}),
            "VALIDATION_FAILED",
        ),
        (
            json!({"title": "t", "content": "c", "mediaUrl": video, "platformOptions": {"youtube": {"privacyStatus": "friends"}}}),
            "VALIDATION_FAILED",
        ),
        (
            json!({"title": "t", "content": "c", "mediaUrl": video, "platformOptions": {"youtube": {"tags": ["x".repeat(501)]}}}),
            "CONTENT_TOO_LONG",
        ),
        (
            json!({"title": "t", "content": "c", "mediaUrl": video, "platformOptions": {"youtube": {"madeForKids": "no"}}}),
            "VALIDATION_FAILED",
        ),
    ];
    let balance = app.balance();
    for (mut body, code) in cases {
        body["externalUserId"] = json!("u1");
        body["platforms"] = json!(["youtube"]);
        let r = app.post("/api/v1/posts", body.clone());
        assert_eq!(r.error_code(400), code, "{body}");
        assert!(
            r.json()["message"].as_str().unwrap().contains("youtube")
                || r.json()["message"].as_str().unwrap().contains("YouTube"),
            "{}",
            r.body
        );
    }
    assert_eq!(app.balance(), balance, "nothing charged");
    assert!(app.sim_posts_of("youtube").is_empty());
    // exactly at the limits is fine
    let ok = publish(
        &app,
        json!({"title": "x".repeat(100), "content": "é".repeat(2500), "mediaUrl": video}),
    );
    assert_eq!(ok["status"], "published", "{ok}");
}

// ----- the simulator's endpoints on their own -----

struct Google {
    base: String,
    client_id: String,
    secret: String,
}

impl Google {
    fn new(app: &TestApp) -> Google {
        let base = format!("{}/sandbox", app.base);
        let r = send(
            "POST",
            &format!("{base}/_sim/clients"),
            &[("Content-Type", "application/json")],
            Some(
                &json!({"platform": "youtube", "clientId": "yt-test", "clientSecret": "s3cret", "name": "Test Uploader", "redirectUris": [REDIRECT]})
                    .to_string(),
            ),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        Google {
            base,
            client_id: "yt-test".into(),
            secret: "s3cret".into(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/youtube{path}", self.base)
    }

    /// Authorize and press Allow; the code.
    fn code(&self, member: &str, extra: &[(&str, &str)]) -> String {
        let mut pairs = vec![
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            (
                "scope",
                "https://www.googleapis.com/auth/youtube.upload https://www.googleapis.com/auth/youtube.readonly",
            ),
            ("state", "st"),
        ];
        pairs.extend_from_slice(extra);
        let query = mypostshare::http::encode_query(&pairs);
        let page = send(
            "GET",
            &format!("{}?{query}", self.url("/o/oauth2/v2/auth")),
            &[],
            None,
        );
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("Test Uploader"));
        assert!(page.body.contains("Manage your YouTube videos"));
        let mut form = pairs.clone();
        form.push(("member_name", member));
        form.push(("decision", "allow"));
        let r = send(
            "POST",
            &self.url("/o/oauth2/v2/auth"),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(&mypostshare::http::encode_query(&form)),
        );
        assert_eq!(r.status, 302, "{}", r.body);
        let location = r.header("location").unwrap();
        assert_eq!(query_value(location, "state").as_deref(), Some("st"));
        query_value(location, "code").unwrap()
    }

    fn token(&self, form: &[(&str, &str)]) -> crate::support::Reply {
        send(
            "POST",
            &self.url("/token"),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(&mypostshare::http::encode_query(form)),
        )
    }

    fn exchange(&self, code: &str, verifier: Option<&str>) -> crate::support::Reply {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.secret.as_str()),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        self.token(&form)
    }

    fn access_token(&self, member: &str) -> String {
        let code = self.code(member, &[("access_type", "offline"), ("prompt", "consent")]);
        let r = self.exchange(&code, None);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["access_token"].as_str().unwrap().to_string()
    }

    fn start_upload(
        &self,
        token: &str,
        headers: &[(&str, &str)],
        body: Value,
    ) -> crate::support::Reply {
        let auth = format!("Bearer {token}");
        let mut all = vec![
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json; charset=UTF-8"),
        ];
        all.extend_from_slice(headers);
        send(
            "POST",
            &self.url("/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status"),
            &all,
            Some(&body.to_string()),
        )
    }
}

fn google_reason(reply: &crate::support::Reply) -> String {
    let v = reply.json();
    assert_eq!(v["error"]["code"], reply.status, "{v}");
    assert!(v["error"]["message"].is_string(), "{v}");
    v["error"]["errors"][0]["reason"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_token_endpoint_refuses_what_google_refuses() {
    let app = TestApp::start();
    let g = Google::new(&app);
    let code = g.code("Pat", &[("access_type", "offline")]);
    let wrong_secret = g.token(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT),
        ("client_id", "yt-test"),
        ("client_secret", "nope"),
    ]);
    assert_eq!(wrong_secret.status, 401);
    assert_eq!(wrong_secret.json()["error"], "invalid_client");
    let wrong_redirect = g.token(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", "https://client.example.com/other"),
        ("client_id", "yt-test"),
        ("client_secret", "s3cret"),
    ]);
    assert_eq!(wrong_redirect.json()["error"], "redirect_uri_mismatch");
    let ok = g.exchange(&code, None);
    assert_eq!(ok.status, 200, "{}", ok.body);
    let tokens = ok.json();
    assert_eq!(tokens["expires_in"], 3599);
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(
        tokens["scope"].as_str().unwrap().contains(" "),
        "space-delimited"
    );
    assert!(
        tokens["refresh_token"].is_string(),
        "first consent, offline"
    );
    let reused = g.exchange(&code, None);
    assert_eq!(reused.status, 400);
    assert_eq!(reused.json()["error"], "invalid_grant");
    let unsupported = g.token(&[
        ("grant_type", "password"),
        ("client_id", "yt-test"),
        ("client_secret", "s3cret"),
    ]);
    assert_eq!(unsupported.json()["error"], "unsupported_grant_type");
}

#[test]
fn pkce_is_enforced_when_the_code_was_asked_with_a_challenge() {
    let app = TestApp::start();
    let g = Google::new(&app);
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = mypostshare::crypto::pkce_challenge(verifier);
    let pkce = [
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let code = g.code("Pat", &pkce);
    let missing = g.exchange(&code, None);
    assert_eq!(missing.json()["error"], "invalid_grant");
    assert_eq!(
        missing.json()["error_description"],
        "Missing code verifier."
    );
    let wrong = g.exchange(&code, Some("x".repeat(43).as_str()));
    assert_eq!(wrong.json()["error_description"], "Invalid code verifier.");
    assert_eq!(g.exchange(&code, Some(verifier)).status, 200);
}

#[test]
fn a_refresh_token_comes_only_with_the_first_or_a_forced_consent_and_is_kept() {
    let app = TestApp::start();
    let g = Google::new(&app);
    let online = g.exchange(&g.code("Robin", &[]), None).json();
    assert!(online.get("refresh_token").is_none(), "online access");
    let first = g
        .exchange(&g.code("Sam", &[("access_type", "offline")]), None)
        .json();
    let refresh_token = first["refresh_token"].as_str().unwrap().to_string();
    let second = g
        .exchange(&g.code("Sam", &[("access_type", "offline")]), None)
        .json();
    assert!(
        second.get("refresh_token").is_none(),
        "Sam consented before: {second}"
    );
    let forced = g
        .exchange(
            &g.code("Sam", &[("access_type", "offline"), ("prompt", "consent")]),
            None,
        )
        .json();
    assert!(forced["refresh_token"].is_string());
    let refreshed = g.token(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", &refresh_token),
        ("client_id", "yt-test"),
        ("client_secret", "s3cret"),
    ]);
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let refreshed = refreshed.json();
    assert!(
        refreshed.get("refresh_token").is_none(),
        "the old one stays valid"
    );
    assert_eq!(refreshed["expires_in"], 3599);
    let access = refreshed["access_token"].as_str().unwrap();
    let channels = send(
        "GET",
        &g.url("/youtube/v3/channels?part=snippet&mine=true"),
        &[("Authorization", &format!("Bearer {access}"))],
        None,
    );
    assert_eq!(channels.status, 200);
    assert_eq!(channels.json()["items"][0]["snippet"]["title"], "Sam");
    // revoking ends the consent: the refresh token stops working
    let revoked = send(
        "POST",
        &g.url("/revoke"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(&format!("token={refresh_token}")),
    );
    assert_eq!(revoked.status, 200);
    let dead = g.token(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", &refresh_token),
        ("client_id", "yt-test"),
        ("client_secret", "s3cret"),
    ]);
    assert_eq!(dead.json()["error"], "invalid_grant");
    assert_eq!(
        dead.json()["error_description"],
        "Token has been expired or revoked."
    );
}

#[test]
fn access_tokens_last_an_hour_and_the_channel_needs_a_reading_scope() {
    let app = TestApp::start();
    let g = Google::new(&app);
    let token = g.access_token("Kim");
    let auth = format!("Bearer {token}");
    let channels = |query: &str, auth: &str| {
        send(
            "GET",
            &g.url(&format!("/youtube/v3/channels{query}")),
            &[("Authorization", auth)],
            None,
        )
    };
    let ok = channels("?part=snippet&mine=true", &auth);
    assert_eq!(ok.status, 200);
    let body = ok.json();
    assert_eq!(body["kind"], "youtube#channelListResponse");
    assert!(body["items"][0]["id"].as_str().unwrap().starts_with("UC"));
    assert_eq!(body["items"][0]["snippet"]["customUrl"], "@kim");
    let no_part = channels("?mine=true", &auth);
    assert_eq!(no_part.status, 400);
    assert_eq!(google_reason(&no_part), "required");
    let anonymous = send(
        "GET",
        &g.url("/youtube/v3/channels?part=snippet&mine=true"),
        &[],
        None,
    );
    assert_eq!(anonymous.status, 401);
    // upload only: channels.list is not allowed
    let upload_only_pairs = [
        ("client_id", "yt-test"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "https://www.googleapis.com/auth/youtube.upload"),
        ("member_name", "Kim"),
        ("decision", "allow"),
    ];
    let r = send(
        "POST",
        &g.url("/o/oauth2/v2/auth"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(&mypostshare::http::encode_query(&upload_only_pairs)),
    );
    let upload_code = query_value(r.header("location").unwrap(), "code").unwrap();
    let upload_token = g.exchange(&upload_code, None).json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let forbidden = channels("?part=snippet&mine=true", &format!("Bearer {upload_token}"));
    assert_eq!(forbidden.status, 403);
    assert_eq!(google_reason(&forbidden), "insufficientPermissions");
    app.clock.advance(chrono::Duration::minutes(60));
    let expired = channels("?part=snippet&mine=true", &auth);
    assert_eq!(expired.status, 401);
    assert_eq!(google_reason(&expired), "authError");
}

#[test]
fn the_authorize_page_refuses_unknown_clients_redirects_and_scopes() {
    let app = TestApp::start();
    let g = Google::new(&app);
    let page = |pairs: &[(&str, &str)]| {
        send(
            "GET",
            &format!(
                "{}?{}",
                g.url("/o/oauth2/v2/auth"),
                mypostshare::http::encode_query(pairs)
            ),
            &[],
            None,
        )
    };
    let scope = ("scope", "https://www.googleapis.com/auth/youtube.upload");
    let unknown = page(&[
        ("client_id", "nobody"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        scope,
    ]);
    assert_eq!(unknown.status, 401);
    assert!(unknown.body.contains("invalid_client"));
    let mismatch = page(&[
        ("client_id", "yt-test"),
        ("redirect_uri", "https://evil.example/cb"),
        ("response_type", "code"),
        scope,
    ]);
    assert_eq!(mismatch.status, 400);
    assert!(mismatch.body.contains("redirect_uri_mismatch"));
    assert!(mismatch.header("location").is_none());
    let bad_scope = page(&[
        ("client_id", "yt-test"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "https://www.googleapis.com/auth/drive"),
    ]);
    assert!(bad_scope.body.contains("invalid_scope"));
    let no_scope = page(&[
        ("client_id", "yt-test"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
    ]);
    assert!(no_scope.body.contains("Missing required parameter: scope"));
}

#[test]
fn the_resumable_upload_checks_headers_metadata_chunks_and_sessions() {
    let app = TestApp::start();
    let g = Google::new(&app);
    let token = g.access_token("Lee");
    let meta = json!({"snippet": {"title": "Clip", "description": "d"}, "status": {"privacyStatus": "private"}});
    let total = 600_000usize;
    let total_text = total.to_string();
    let sized = [
        ("X-Upload-Content-Length", total_text.as_str()),
        ("X-Upload-Content-Type", "video/mp4"),
    ];
    // refusals at the start
    let no_length = g.start_upload(
        &token,
        &[("X-Upload-Content-Type", "video/mp4")],
        meta.clone(),
    );
    assert_eq!(no_length.status, 400, "{}", no_length.body);
    let bad_length = g.start_upload(&token, &[("X-Upload-Content-Length", "lots")], meta.clone());
    assert_eq!(bad_length.status, 400);
    let image = g.start_upload(
        &token,
        &[
            ("X-Upload-Content-Length", "10"),
            ("X-Upload-Content-Type", "image/png"),
        ],
        meta.clone(),
    );
    assert_eq!(image.status, 400);
    assert!(image.body.contains("image/png"));
    let untitled = g.start_upload(&token, &sized, json!({"snippet": {"description": "d"}}));
    assert_eq!(google_reason(&untitled), "invalidTitle");
    let long = g.start_upload(
        &token,
        &sized,
        json!({"snippet": {"title": "t", "description": "é".repeat(2501)}}),
    );
    assert_eq!(google_reason(&long), "invalidDescription");
    let anonymous = g.start_upload("not-a-token", &sized, meta.clone());
    assert_eq!(anonymous.status, 401);
    // a session
    let started = g.start_upload(&token, &sized, meta.clone());
    assert_eq!(started.status, 200, "{}", started.body);
    assert!(started.body.is_empty());
    let session = started.header("location").unwrap().to_string();
    assert!(session.contains("upload_id="), "{session}");
    let bytes = mypostshare_sim::media::sample_mp4(total);
    let put = |range: Option<String>, body: &[u8]| {
        let mut request = crate::support::agent()
            .put(&session)
            .set("Content-Type", "video/mp4");
        if let Some(range) = &range {
            request = request.set("Content-Range", range);
        }
        match request.send_bytes(body) {
            Ok(r) | Err(ureq::Error::Status(_, r)) => (
                r.status(),
                r.header("range").map(str::to_string),
                r.into_string().unwrap_or_default(),
            ),
            Err(e) => panic!("{e}"),
        }
    };
    // nothing yet: 308 without Range
    let (status, range, _) = put(Some(format!("bytes */{total}")), &[]);
    assert_eq!((status, range), (308, None));
    // a chunk that is not a multiple of 256 KiB (and not the last) is refused
    let (status, _, _) = put(Some(format!("bytes 0-99999/{total}")), &bytes[..100_000]);
    assert_eq!(status, 400);
    // a total that disagrees with X-Upload-Content-Length is refused
    let (status, _, _) = put(Some("bytes 0-262143/700000".into()), &bytes[..262_144]);
    assert_eq!(status, 400);
    // the first 256 KiB
    let (status, range, _) = put(Some(format!("bytes 0-262143/{total}")), &bytes[..262_144]);
    assert_eq!((status, range.as_deref()), (308, Some("bytes=0-262143")));
    // a gap is refused
    let (status, _, _) = put(
        Some(format!("bytes 524288-{}/{total}", total - 1)),
        &bytes[524_288..],
    );
    assert_eq!(status, 400);
    // the rest
    let (status, _, body) = put(
        Some(format!("bytes 262144-{}/{total}", total - 1)),
        &bytes[262_144..],
    );
    assert_eq!(status, 201, "{body}");
    let video: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(video["kind"], "youtube#video");
    assert_eq!(video["status"]["uploadStatus"], "uploaded");
    assert_eq!(video["snippet"]["title"], "Clip");
    let id = video["id"].as_str().unwrap();
    // asking again after completion gives the video
    let (status, _, _) = put(Some(format!("bytes */{total}")), &[]);
    assert_eq!(status, 200);
    // processing: one read still processing (the default), then processed and recorded
    let list = |token: &str| {
        send(
            "GET",
            &g.url(&format!(
                "/youtube/v3/videos?part=status,processingDetails&id={id}"
            )),
            &[("Authorization", &format!("Bearer {token}"))],
            None,
        )
        .json()
    };
    let first = list(&token);
    assert_eq!(
        first["items"][0]["processingDetails"]["processingStatus"],
        "processing"
    );
    assert_eq!(first["items"][0]["status"]["uploadStatus"], "uploaded");
    let second = list(&token);
    assert_eq!(second["items"][0]["status"]["uploadStatus"], "processed");
    assert_eq!(app.sim_posts_of("youtube").len(), 1);
    // someone else's token does not see the video, nor set its thumbnail
    let other = g.access_token("Someone Else");
    assert_eq!(list(&other)["items"], json!([]));
    let thumb = send(
        "POST",
        &g.url(&format!("/upload/youtube/v3/thumbnails/set?videoId={id}")),
        &[
            ("Authorization", &format!("Bearer {other}")),
            ("Content-Type", "image/png"),
        ],
        Some("png"),
    );
    assert_eq!(thumb.status, 404);
    assert_eq!(google_reason(&thumb), "videoNotFound");
    // an unknown session
    let unknown = send(
        "PUT",
        &g.url("/upload/youtube/v3/videos?uploadType=resumable&upload_id=nope"),
        &[("Content-Range", "bytes */10")],
        Some(""),
    );
    assert_eq!(unknown.status, 404);
    // a session a week old has expired
    let started = g.start_upload(&token, &sized, meta);
    let stale = started.header("location").unwrap().to_string();
    app.clock.advance(chrono::Duration::days(8));
    let expired = send(
        "PUT",
        &stale,
        &[("Content-Range", &format!("bytes */{total}"))],
        Some(""),
    );
    assert_eq!(expired.status, 404);
}

#[test]
fn quota_faults_on_the_upload_use_googles_shape() {
    let app = TestApp::start();
    let g = Google::new(&app);
    let token = g.access_token("Quinn");
    app.inject_fault(json!({"platform": "youtube", "kind": "rate_limit"}));
    let r = g.start_upload(
        &token,
        &[("X-Upload-Content-Length", "100")],
        json!({"snippet": {"title": "t"}}),
    );
    assert_eq!(r.status, 403);
    assert_eq!(google_reason(&r), "quotaExceeded");
    assert_eq!(r.json()["error"]["errors"][0]["domain"], "youtube.quota");
    app.inject_fault(json!({"platform": "youtube", "kind": "server_error"}));
    let r = send(
        "GET",
        &g.url("/youtube/v3/channels?part=id&mine=true"),
        &[("Authorization", &format!("Bearer {token}"))],
        None,
    );
    assert_eq!(r.status, 500);
    assert_eq!(google_reason(&r), "backendError");
}

/// Issue 11: a Google project whose consent screen is in Testing gets refresh tokens that die
/// after 7 days; the failure says so, where the operator and the API caller read it.
#[test]
fn a_testing_consent_screen_kills_refresh_tokens_after_7_days_and_the_error_says_why() {
    let app = TestApp::start();
    sim_settings(&app, json!({"consentScreenTesting": 1}));
    app.upsert_user("u1");
    app.connect("u1", "youtube", MEMBER);
    // Six days on, the hourly access token is renewed as usual.
    app.clock.advance(chrono::Duration::days(6));
    let early = publish(&app, video_post(&app, "Day six", 60_000));
    assert_eq!(early["status"], "published", "{early}");
    app.clock.advance(chrono::Duration::days(2));
    let late = publish(&app, video_post(&app, "Day eight", 61_000));
    assert_eq!(late["status"], "failed", "{late}");
    assert_eq!(result(&late)["errorCode"], "NEEDS_RECONNECT");
    let message = result(&late)["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("consent screen is in Testing"),
        "{message}"
    );
    assert!(message.contains("7 days"), "{message}");
    let connection = &app.get("/api/v1/end-users/u1/connections").json()[0];
    assert_eq!(connection["needsReconnect"], true);
}
