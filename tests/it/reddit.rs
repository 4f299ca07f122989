//! Reddit end to end: the hosted connect flow against the simulator, self and link posts,
//! Reddit's rules, its HTTP 200 errors, the per-client-id call budget, and the simulator's own
//! refusals (User-Agent, HTTP Basic, reused codes, HTTP 200 errors). Deny, faults, duplicates
//! and token refresh are rows of the scenario table (`scenarios.rs`).

use crate::support::{REDIRECT, Setup, TestApp, query_value, send};
use serde_json::{Value, json};

const UA: &str = "web:sim-test:v1.0 (by /u/tester)";

fn connected(setup: Setup) -> TestApp {
    let app = TestApp::start_with(setup);
    app.upsert_user("u1");
    app.connect("u1", "reddit", "alex_r");
    app
}

fn publish(app: &TestApp, body: Value) -> Value {
    let mut body = body;
    body["externalUserId"] = json!("u1");
    body["platforms"] = json!(["reddit"]);
    let r = app.post("/api/v1/posts", body);
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()
}

fn self_post(app: &TestApp, title: &str, text: &str) -> Value {
    publish(
        app,
        json!({"title": title, "content": text, "platformOptions": {"reddit": {"subreddit": "test"}}}),
    )
}

fn result(post: &Value) -> &Value {
    &post["platformResults"][0]
}

#[test]
fn connect_with_allow_stores_the_account_and_a_refresh_token() {
    let app = connected(Setup::default());
    let connection = &app.get("/api/v1/end-users/u1/connections").json()[0];
    assert_eq!(connection["platform"], "reddit");
    assert_eq!(connection["status"], "connected");
    assert_eq!(
        connection["tokenStatus"], "active_refreshable",
        "{connection}"
    );
    assert_eq!(connection["canAutoRefresh"], true);
    assert_eq!(connection["remoteUsername"], "alex_r");
    assert_eq!(connection["accountType"], "person");
}

#[test]
fn self_and_link_posts_reach_the_subreddit() {
    let app = connected(Setup::default());
    let post = self_post(&app, "Launch day", "We shipped **it**.");
    assert_eq!(post["status"], "published", "{post}");
    assert!(
        result(&post)["url"]
            .as_str()
            .unwrap()
            .starts_with("https://www.reddit.com/r/test/comments/")
    );
    let link = publish(
        &app,
        json!({"title": "Our blog", "content": "see link", "platformOptions": {"reddit": {"subreddit": "r/pics", "url": "https://blog.example.com/launch"}}}),
    );
    assert_eq!(link["status"], "published", "{link}");
    let media = app.sample_media("sample.png");
    let image_link = publish(
        &app,
        json!({"title": "A picture", "content": "pic", "mediaUrl": media, "platformOptions": {"reddit": {"subreddit": "sandboxtest"}}}),
    );
    assert_eq!(image_link["status"], "published", "{image_link}");
    let recorded = app.sim_posts_of("reddit");
    assert_eq!(recorded.len(), 3);
    assert_eq!(recorded[0]["kind"], "self");
    assert_eq!(recorded[0]["subreddit"], "test");
    assert_eq!(recorded[0]["title"], "Launch day");
    assert_eq!(recorded[0]["text"], "We shipped **it**.");
    assert_eq!(recorded[0]["author"], "alex_r");
    assert!(
        recorded[0]["userAgent"]
            .as_str()
            .unwrap()
            .contains("(by /u/")
    );
    assert_eq!(recorded[1]["kind"], "link");
    assert_eq!(recorded[1]["subreddit"], "pics");
    assert_eq!(recorded[1]["url"], "https://blog.example.com/launch");
    assert_eq!(recorded[2]["url"], media.as_str());
    assert_eq!(
        result(&post)["externalId"].as_str().unwrap_or_default(),
        format!("t3_{}", recorded[0]["id"].as_str().unwrap())
    );
}

#[test]
fn reddits_rules_are_checked_before_anything_is_charged() {
    let app = connected(Setup::default());
    let balance = app.balance();
    let code = |body: Value| {
        let mut body = body;
        body["externalUserId"] = json!("u1");
        body["platforms"] = json!(["reddit"]);
        app.post("/api/v1/posts", body).error_code(400)
    };
    let sr = json!({"reddit": {"subreddit": "test"}});
    assert_eq!(
        code(json!({"content": "no title", "platformOptions": sr})),
        "TITLE_REQUIRED"
    );
    assert_eq!(
        code(json!({"title": "t", "content": "no target"})),
        "TARGET_REQUIRED"
    );
    assert_eq!(
        code(json!({"title": "t", "content": "x".repeat(40_001), "platformOptions": sr})),
        "CONTENT_TOO_LONG"
    );
    assert_eq!(
        code(
            json!({"title": "t", "content": "c", "platformOptions": {"reddit": {"subreddit": "test", "flair": "x"}}})
        ),
        "VALIDATION_FAILED"
    );
    assert_eq!(
        code(
            json!({"title": "t", "content": "c", "platformOptions": {"reddit": {"subreddit": "not a name"}}})
        ),
        "VALIDATION_FAILED"
    );
    assert_eq!(
        code(
            json!({"title": "t", "content": "c", "mediaUrl": app.sample_media("sample.png"), "platformOptions": {"reddit": {"subreddit": "test", "url": "https://a.example/"}}})
        ),
        "VALIDATION_FAILED"
    );
    assert_eq!(app.balance(), balance);
    assert!(app.sim_posts_of("reddit").is_empty());
}

#[test]
fn http_200_errors_of_submit_fail_with_their_meaning() {
    let app = connected(Setup::default());
    let missing = publish(
        &app,
        json!({"title": "t", "content": "c", "platformOptions": {"reddit": {"subreddit": "nosuchsub"}}}),
    );
    assert_eq!(missing["status"], "failed");
    assert_eq!(result(&missing)["errorCode"], "TARGET_NOT_FOUND");
    assert!(
        result(&missing)["errorMessage"]
            .as_str()
            .unwrap()
            .contains("SUBREDDIT_NOEXIST")
    );
    let no_selfs = publish(
        &app,
        json!({"title": "t", "content": "c", "platformOptions": {"reddit": {"subreddit": "pics"}}}),
    );
    assert_eq!(result(&no_selfs)["errorCode"], "PLATFORM_REJECTED");
    assert!(
        result(&no_selfs)["errorMessage"]
            .as_str()
            .unwrap()
            .contains("NO_SELFS")
    );
}

#[test]
fn a_spent_budget_is_honoured_without_calling_reddit() {
    let app = TestApp::start();
    app.sim_settings("reddit", json!({"requestsPerMinute": 3}));
    app.upsert_user("u1");
    // Call 1 of 3: /api/v1/me while connecting.
    app.connect("u1", "reddit", "alex_r");
    // Calls 2 and 3 of 3 read the subreddit's requirements and publish; the answer says
    // the budget is spent.
    assert_eq!(self_post(&app, "t", "one")["status"], "published");
    let post = self_post(&app, "t", "two");
    assert_eq!(result(&post)["status"], "pending", "{post}");
    assert_eq!(result(&post)["errorCode"], "RATE_LIMITED");
    assert!(
        result(&post)["errorMessage"]
            .as_str()
            .unwrap()
            .contains("budget"),
        "{post}"
    );
    assert_eq!(app.sim_posts_of("reddit").len(), 1);
}

// ----- the simulator at the API level -----

struct Direct {
    app: TestApp,
    sim: String,
}

fn basic(id: &str, secret: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

impl Direct {
    fn start() -> Direct {
        let app = TestApp::start();
        let sim = format!("{}/sandbox", app.base);
        let r = send(
            "POST",
            &format!("{sim}/_sim/clients"),
            &[("Content-Type", "application/json")],
            Some(
                &json!({"platform": "reddit", "clientId": "direct", "clientSecret": "s3cret", "name": "Direct App", "redirectUris": [REDIRECT]})
                    .to_string(),
            ),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        Direct { app, sim }
    }

    fn code(&self) -> String {
        let url = format!(
            "{}/reddit/api/v1/authorize?client_id=direct&response_type=code&state=st&redirect_uri={}&duration=permanent&scope=identity,submit",
            self.sim,
            mypostshare::http::percent_encode(REDIRECT)
        );
        let page = send("GET", &url, &[], None);
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("Direct App"));
        let (action, fields) = crate::support::parse_form(&page.body);
        let mut pairs: Vec<(&str, &str)> = fields
            .iter()
            .filter(|(k, _)| k != "member_name")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.push(("member_name", "direct_user"));
        pairs.push(("decision", "allow"));
        let r = send(
            "POST",
            &format!("{}{action}", self.app.base),
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(&mypostshare::http::encode_query(&pairs)),
        );
        assert_eq!(r.status, 302, "{}", r.body);
        query_value(r.header("location").unwrap(), "code").unwrap()
    }

    fn token_call(
        &self,
        auth: Option<&str>,
        ua: Option<&str>,
        form: &str,
    ) -> crate::support::Reply {
        let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
        if let Some(auth) = auth {
            headers.push(("Authorization", auth));
        }
        if let Some(ua) = ua {
            headers.push(("User-Agent", ua));
        }
        send(
            "POST",
            &format!("{}/reddit/api/v1/access_token", self.sim),
            &headers,
            Some(form),
        )
    }

    fn exchange(&self, code: &str) -> crate::support::Reply {
        self.token_call(
            Some(&basic("direct", "s3cret")),
            Some(UA),
            &format!(
                "grant_type=authorization_code&code={code}&redirect_uri={}",
                mypostshare::http::percent_encode(REDIRECT)
            ),
        )
    }

    fn api(
        &self,
        method: &str,
        path: &str,
        token: &str,
        form: Option<&str>,
    ) -> crate::support::Reply {
        let auth = format!("bearer {token}");
        send(
            method,
            &format!("{}/reddit{path}", self.sim),
            &[
                ("Authorization", &auth),
                ("User-Agent", UA),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            form,
        )
    }
}

#[test]
fn the_token_endpoint_wants_basic_auth_a_user_agent_and_a_fresh_code() {
    let d = Direct::start();
    let code = d.code();
    let form = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}",
        mypostshare::http::percent_encode(REDIRECT)
    );
    let no_ua = d.token_call(Some(&basic("direct", "s3cret")), None, &form);
    assert_eq!(no_ua.status, 429);
    assert!(no_ua.body.contains("whoa there"));
    let no_basic = d.token_call(None, Some(UA), &form);
    assert_eq!(no_basic.status, 401);
    assert!(
        no_basic
            .header("www-authenticate")
            .unwrap()
            .contains("Basic realm=\"reddit\"")
    );
    let wrong = d.token_call(Some(&basic("direct", "nope")), Some(UA), &form);
    assert_eq!(wrong.status, 401);
    let ok = d.exchange(&code);
    assert_eq!(ok.status, 200, "{}", ok.body);
    let tokens = ok.json();
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(tokens["token_type"], "bearer");
    assert!(tokens["refresh_token"].is_string());
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(d.api("GET", "/api/v1/me", access, None).status, 200);
    // Reused: HTTP 200 with invalid_grant, and the tokens of the first use die.
    let reused = d.exchange(&code);
    assert_eq!(reused.status, 200);
    assert_eq!(reused.json()["error"], "invalid_grant");
    assert_eq!(d.api("GET", "/api/v1/me", access, None).status, 401);
    // A refresh token that is not one: 400 invalid_request.
    let bad = d.token_call(
        Some(&basic("direct", "s3cret")),
        Some(UA),
        "grant_type=refresh_token&refresh_token=nope",
    );
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"], "invalid_request");
}

#[test]
fn the_api_counts_calls_per_client_and_refuses_submits_it_would_refuse() {
    let d = Direct::start();
    let access = d.exchange(&d.code()).json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let me = d.api("GET", "/api/v1/me", &access, None);
    assert_eq!(me.json()["name"], "direct_user");
    assert_eq!(me.header("x-ratelimit-used"), Some("1"));
    assert_eq!(me.header("x-ratelimit-remaining"), Some("99.0"));
    let reset: i64 = me.header("x-ratelimit-reset").unwrap().parse().unwrap();
    assert!((1..=60).contains(&reset));
    // Without a descriptive User-Agent: 429, whatever the token.
    let generic = send(
        "GET",
        &format!("{}/reddit/api/v1/me", d.sim),
        &[("Authorization", &format!("bearer {access}"))],
        None,
    );
    assert_eq!(generic.status, 429);
    let submit = |form: &str| d.api("POST", "/api/submit", &access, Some(form)).json();
    let errors = |v: &Value| v["json"]["errors"][0][0].as_str().unwrap_or("").to_string();
    assert_eq!(
        errors(&submit("api_type=json&sr=nosuch&kind=self&title=t&text=x")),
        "SUBREDDIT_NOEXIST"
    );
    assert_eq!(
        errors(&submit(&format!(
            "api_type=json&sr=test&kind=self&title={}",
            "t".repeat(301)
        ))),
        "TOO_LONG"
    );
    assert_eq!(
        errors(&submit("api_type=json&sr=test&kind=self&title=")),
        "NO_TEXT"
    );
    assert_eq!(
        errors(&submit("api_type=json&sr=test&kind=link&title=t")),
        "NO_URL"
    );
    assert_eq!(
        errors(&submit(
            "api_type=json&sr=askreddit&kind=link&title=t&url=https://a.example/"
        )),
        "NO_LINKS"
    );
    let ok = submit("api_type=json&sr=test&kind=self&title=Hello&text=body");
    assert_eq!(ok["json"]["errors"], json!([]));
    assert!(
        ok["json"]["data"]["name"]
            .as_str()
            .unwrap()
            .starts_with("t3_")
    );
    // The budget: the limit is enforced with 429 and headers saying so.
    let r = send(
        "POST",
        &format!("{}/_sim/reddit/settings", d.sim),
        &[("Content-Type", "application/json")],
        Some(r#"{"requestsPerMinute": 8}"#),
    );
    assert_eq!(r.status, 200);
    let last = d.api("GET", "/api/v1/me", &access, None);
    assert_eq!(last.status, 200);
    assert_eq!(last.header("x-ratelimit-remaining"), Some("0.0"));
    let over = d.api("GET", "/api/v1/me", &access, None);
    assert_eq!(over.status, 429);
    assert_eq!(over.header("x-ratelimit-remaining"), Some("0.0"));
    // The window passes.
    d.app.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(d.api("GET", "/api/v1/me", &access, None).status, 200);
}

#[test]
fn disconnect_revokes_the_permanent_refresh_token() {
    // Revoking only the access token leaves the permanent refresh token working at Reddit.
    let app = connected(Setup::default());
    app.clock.advance(chrono::Duration::minutes(61));
    assert!(!app.refresh_token_survives_disconnect("u1", "reddit"));
}

// ----- flair (issue 11, breaker 9) -----

const BUILD_HELP: &str = "3c1c2a3e-1b5e-11ea-9a0b-0e5c7a8d6f01";
const DISCUSSION: &str = "4a7f9b12-1b5e-11ea-8d2c-0e5c7a8d6f02";

#[test]
fn a_subreddit_that_requires_flair_is_named_with_its_templates() {
    let app = connected(Setup::default());
    let balance = app.balance();
    let post = publish(
        &app,
        json!({"title": "Which GPU?", "content": "c", "platformOptions": {"reddit": {"subreddit": "buildapc"}}}),
    );
    assert_eq!(post["status"], "failed", "{post}");
    assert_eq!(result(&post)["errorCode"], "FLAIR_REQUIRED");
    let message = result(&post)["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("r/buildapc requires post flair"),
        "{message}"
    );
    assert!(
        message.contains(&format!("\"Build Help\" (flairId {BUILD_HELP})")),
        "{message}"
    );
    assert!(
        message.contains(DISCUSSION) && message.contains("editable"),
        "{message}"
    );
    // A template only moderators may use is not offered.
    assert!(!message.contains("Announcement"), "{message}");
    assert!(app.sim_posts_of("reddit").is_empty());
    assert_eq!(app.balance(), balance, "a refused post is refunded");

    let flaired = publish(
        &app,
        json!({"title": "Which GPU?", "content": "c", "platformOptions": {"reddit": {"subreddit": "buildapc", "flairId": DISCUSSION, "flairText": "GPU talk"}}}),
    );
    assert_eq!(flaired["status"], "published", "{flaired}");
    let posts = app.sim_posts_of("reddit");
    assert_eq!(posts[0]["flairId"], DISCUSSION);
    assert_eq!(posts[0]["flairText"], "GPU talk");
}

#[test]
fn flair_options_follow_reddits_limits() {
    let app = connected(Setup::default());
    let refused = |options: Value| {
        let r = app.post(
            "/api/v1/posts",
            json!({"externalUserId": "u1", "platforms": ["reddit"], "title": "t", "content": "c", "platformOptions": {"reddit": options}}),
        );
        assert_eq!(r.status, 400, "{}", r.body);
        r.json()["message"].as_str().unwrap().to_string()
    };
    let long_id = "a".repeat(37);
    assert!(refused(json!({"subreddit": "test", "flairId": long_id})).contains("36 characters"));
    let long_text = "b".repeat(65);
    assert!(
        refused(json!({"subreddit": "test", "flairId": BUILD_HELP, "flairText": long_text}))
            .contains("64 characters")
    );
    assert!(refused(json!({"subreddit": "test", "flairText": "x"})).contains("flairId"));
    // 36 and 64 characters are fine.
    let at_limits = publish(
        &app,
        json!({"title": "t", "content": "c", "platformOptions": {"reddit": {"subreddit": "test", "flairId": "c".repeat(36), "flairText": "d".repeat(64)}}}),
    );
    assert_eq!(at_limits["status"], "published", "{at_limits}");
}

#[test]
fn the_user_agent_names_the_configured_reddit_username() {
    let app = TestApp::start_with(Setup {
        configure: |config| config.reddit_username = "pat_dev".into(),
        ..Setup::default()
    });
    app.upsert_user("u1");
    app.connect("u1", "reddit", "alex_r");
    assert_eq!(
        publish(
            &app,
            json!({"title": "t", "content": "c", "platformOptions": {"reddit": {"subreddit": "test"}}})
        )["status"],
        "published"
    );
    let agent = app.sim_posts_of("reddit")[0]["userAgent"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(agent.ends_with("(by /u/pat_dev)"), "{agent}");
}

#[test]
fn the_simulator_serves_requirements_and_flair_and_refuses_unflaired_posts() {
    let d = Direct::start();
    let access = d.exchange(&d.code()).json()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let requirements = d.api("GET", "/api/v1/buildapc/post_requirements", &access, None);
    assert_eq!(requirements.status, 200, "{}", requirements.body);
    assert_eq!(requirements.json()["is_flair_required"], true);
    assert_eq!(requirements.json()["body_restriction_policy"], "none");
    let plain = d.api("GET", "/api/v1/test/post_requirements", &access, None);
    assert_eq!(plain.json()["is_flair_required"], false);
    assert_eq!(
        d.api("GET", "/api/v1/nosuch/post_requirements", &access, None)
            .status,
        404
    );
    // The direct client asked for identity and submit only: the flair list needs `flair`.
    let flairs = d.api("GET", "/r/buildapc/api/link_flair_v2", &access, None);
    assert_eq!(flairs.status, 403);
    let submit = |form: &str| d.api("POST", "/api/submit", &access, Some(form)).json();
    let first_error = |v: &Value| v["json"]["errors"][0].clone();
    let unflaired = submit("api_type=json&sr=buildapc&kind=self&title=t&text=x");
    assert_eq!(
        first_error(&unflaired),
        json!([
            "SUBMIT_VALIDATION_FLAIR_REQUIRED",
            "Your post must contain post flair.",
            "flair"
        ])
    );
    let long_id = submit(&format!(
        "api_type=json&sr=test&kind=self&title=t&text=x&flair_id={}",
        "a".repeat(37)
    ));
    assert_eq!(first_error(&long_id)[2], "flair_id");
    let long_text = submit(&format!(
        "api_type=json&sr=test&kind=self&title=t&text=x&flair_id=a&flair_text={}",
        "b".repeat(65)
    ));
    assert_eq!(first_error(&long_text)[2], "flair_text");
    let flaired = submit(&format!(
        "api_type=json&sr=buildapc&kind=self&title=t&text=x&flair_id={BUILD_HELP}"
    ));
    assert_eq!(flaired["json"]["errors"], json!([]), "{flaired}");
}

// ----- read-back of an interrupted submit, and delete (issues 10 and 11) -----

use crate::adapter_calls::{Adapter, Sent, content, found_id, is_absent, unknowable_reason};
use mypostshare::providers::{Deletion, Platform, ProviderError};

fn sent(subreddit: &str, title: &str, text: &str, url: Option<&str>) -> Sent {
    let mut options = json!({"subreddit": subreddit});
    if let Some(url) = url {
        options["url"] = json!(url);
    }
    let mut post = content(text, None, None);
    post.title = Some(title.into());
    Sent { post, options }
}

fn reddit<'a>(app: &'a TestApp, user: &str) -> Adapter<'a> {
    Adapter::of(app, user, Platform::Reddit)
}

fn read(
    app: &TestApp,
    sent: &Sent,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<mypostshare::providers::ReadBack, ProviderError> {
    reddit(app, "u1").find_sent(sent, None, since)
}

/// Submits straight at the simulator with a connection's `token`, as another client of the
/// same account would; the new post's fullname.
fn submit_direct(app: &TestApp, token: &str, title: &str) -> String {
    let r = send(
        "POST",
        &format!("{}/sandbox/reddit/api/submit", app.base),
        &[
            ("Authorization", &format!("bearer {token}")),
            ("User-Agent", UA),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        Some(&format!(
            "api_type=json&sr=test&kind=self&title={}&text=filler",
            mypostshare::http::percent_encode(title)
        )),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["json"]["data"]["name"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn an_interrupted_submit_is_found_among_the_accounts_submissions() {
    let app = connected(Setup::default());
    let since = app.clock_now();
    // `&` and `<` come back escaped unless the read asks for raw JSON.
    let post = self_post(&app, "Tom & Jerry <3", "Cats & mice");
    let result = result(&post).clone();
    let link = publish(
        &app,
        json!({"title": "Our blog", "content": "see link", "platformOptions": {"reddit": {"subreddit": "r/pics", "url": "https://blog.example.com/a?x=1&y=2"}}}),
    );
    let answer = read(
        &app,
        &sent("test", "Tom & Jerry <3", "Cats & mice", None),
        since,
    );
    match answer {
        Ok(mypostshare::providers::ReadBack::Found(found)) => {
            assert_eq!(found.external_id, result["externalId"].as_str().unwrap());
            assert_eq!(found.url.as_deref(), result["url"].as_str());
        }
        other => panic!("{other:?}"),
    }
    let link_sent = sent(
        "pics",
        "Our blog",
        "see link",
        Some("https://blog.example.com/a?x=1&y=2"),
    );
    assert_eq!(
        found_id(read(&app, &link_sent, since)),
        result_of(&link)["externalId"].as_str().unwrap()
    );
    for other in [
        sent("sandboxtest", "Tom & Jerry <3", "Cats & mice", None),
        sent("test", "Tom and Jerry", "Cats & mice", None),
        sent("test", "Tom & Jerry <3", "Dogs", None),
        sent(
            "test",
            "Tom & Jerry <3",
            "Cats & mice",
            Some("https://blog.example.com/"),
        ),
        sent(
            "pics",
            "Our blog",
            "see link",
            Some("https://blog.example.com/b"),
        ),
    ] {
        assert!(is_absent(&read(&app, &other, since)));
    }
    // The same post made before the interrupted attempt is another post.
    app.clock.advance(chrono::Duration::minutes(10));
    let later = app.clock_now();
    assert!(is_absent(&read(
        &app,
        &sent("test", "Tom & Jerry <3", "Cats & mice", None),
        later
    )));
}

fn result_of(post: &Value) -> &Value {
    &post["platformResults"][0]
}

#[test]
fn read_back_pages_back_to_the_start_of_the_window_and_no_further_than_reddit_lists() {
    let app = connected(Setup::default());
    app.sim_settings("reddit", json!({"requestsPerMinute": 100_000}));
    let token = reddit(&app, "u1").token;
    // Older posts, before the window: reached on the first page, so the read stops there.
    for i in 0..30 {
        submit_direct(&app, &token, &format!("old {i}"));
    }
    app.clock.advance(chrono::Duration::minutes(5));
    let since = app.clock_now();
    let target = self_post(&app, "The one", "body");
    for i in 0..150 {
        submit_direct(&app, &token, &format!("newer {i}"));
    }
    // 150 newer ones: the post is on the second page of 100.
    let answer = read(&app, &sent("test", "The one", "body", None), since);
    assert_eq!(
        found_id(answer),
        result(&target)["externalId"].as_str().unwrap()
    );
    assert!(is_absent(&read(
        &app,
        &sent("test", "Never sent", "body", None),
        since
    )));
    // More than Reddit's 1,000 listed submissions since the attempt: the list ends before the
    // window does, so nothing can be said.
    for i in 0..900 {
        submit_direct(&app, &token, &format!("flood {i}"));
    }
    let reason = unknowable_reason(read(&app, &sent("test", "Never sent", "body", None), since));
    assert!(reason.contains("1,000"), "{reason}");
}

/// Connects u1 to Reddit granting only the scopes a connection made before read-back and
/// delete existed has (`identity submit flair read`).
fn connected_before_history_and_edit(setup: Setup) -> TestApp {
    let app = TestApp::start_with(setup);
    app.upsert_user("u1");
    let session = app.create_session_for("u1", "reddit");
    let (action, mut fields) = app.open_consent_page(session["connectUrl"].as_str().unwrap());
    for (name, value) in fields.iter_mut() {
        if name == "scope" {
            assert!(
                value.contains("history") && value.contains("edit"),
                "{value}"
            );
            *value = "identity submit flair read".into();
        }
    }
    let callback = app.decide(&(action, fields), "allow", "alex_r");
    let done = app.follow_callback(&callback);
    assert_eq!(done.status, 302, "{}", done.body);
    app
}

#[test]
fn a_connection_without_history_or_edit_cannot_read_back_and_is_told_to_reconnect_to_delete() {
    let app = connected_before_history_and_edit(Setup::default());
    let since = app.clock_now();
    let post = self_post(&app, "Old connection", "still posts");
    assert_eq!(post["status"], "published", "{post}");
    let reason = unknowable_reason(read(
        &app,
        &sent("test", "Old connection", "still posts", None),
        since,
    ));
    assert!(
        reason.contains("history") && reason.contains("reconnect"),
        "{reason}"
    );
    let id = result(&post)["externalId"].as_str().unwrap().to_string();
    let adapter = reddit(&app, "u1").with_options(json!({"subreddit": "test"}));
    assert!(adapter.provider.can_delete());
    match adapter.delete(&id) {
        Err(ProviderError::Rejected { message, .. }) => {
            assert!(
                message.contains("`edit`") && message.contains("reconnect"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_ne!(app.sim_posts_of("reddit")[0]["deleted"], true);
}

#[test]
fn a_submission_is_deleted_once_and_reddit_is_asked_whether_it_did() {
    let app = connected(Setup::default());
    let post = self_post(&app, "Short-lived", "bye");
    let id = result(&post)["externalId"].as_str().unwrap().to_string();
    let options = json!({"subreddit": "test"});
    let mine = reddit(&app, "u1").with_options(options.clone());
    assert!(mine.provider.can_delete());
    assert_eq!(mine.delete(&id).unwrap(), Deletion::Deleted);
    assert_eq!(app.sim_posts_of("reddit")[0]["deleted"], true);
    assert_eq!(mine.delete(&id).unwrap(), Deletion::AlreadyGone);
    // An id Reddit never had: nothing to delete.
    assert_eq!(mine.delete("t3_zzzzzzz").unwrap(), Deletion::AlreadyGone);
    // Another account's post: Reddit's `{}` would hide that nothing happened; the adapter
    // says so instead, and the post stays.
    app.upsert_user("u2");
    app.connect("u2", "reddit", "sam_q");
    let theirs = submit_direct(&app, &mine.token, "u1's post");
    let other_account = reddit(&app, "u2").with_options(options);
    assert!(other_account.provider.can_delete());
    match other_account.delete(&theirs) {
        Err(ProviderError::Rejected { message, .. }) => {
            assert!(
                message.contains("u/alex_r") && message.contains("u/sam_q"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let record = app
        .sim_posts_of("reddit")
        .into_iter()
        .find(|p| p["name"] == theirs.as_str())
        .unwrap();
    assert_ne!(record["deleted"], true);
}

#[test]
fn the_connect_flow_asks_for_history_and_edit() {
    let app = TestApp::start();
    app.upsert_user("u1");
    let session = app.create_session_for("u1", "reddit");
    let (_, fields) = app.open_consent_page(session["connectUrl"].as_str().unwrap());
    let scope = fields.iter().find(|(k, _)| k == "scope").unwrap().1.clone();
    let scopes: Vec<&str> = scope.split([' ', ',']).collect();
    for wanted in ["identity", "submit", "flair", "read", "history", "edit"] {
        assert!(scopes.contains(&wanted), "{scope}");
    }
}

/// Through the engine: a submit whose answer was lost, on a connection made before `history`
/// was asked for, cannot be read back, and ends `OUTCOME_UNKNOWN` saying why and what to do;
/// the post is never submitted twice.
#[test]
fn a_lost_answer_on_a_connection_without_history_ends_unknown_saying_to_reconnect() {
    let app = connected_before_history_and_edit(Setup {
        configure: |config| config.provider_timeout = std::time::Duration::from_secs(3),
        ..Setup::default()
    });
    app.inject_fault(json!({"platform": "reddit", "kind": "lost_answer", "delayMs": 5000, "method": "POST", "path": "/api/submit"}));
    let post = self_post(&app, "Lost", "answer");
    let id = post["id"].as_str().unwrap().to_string();
    assert_eq!(result(&post)["errorCode"], "OUTCOME_UNKNOWN", "{post}");
    assert_eq!(app.sim_posts_of("reddit").len(), 1, "Reddit has the post");
    app.clock.advance(chrono::Duration::seconds(21));
    assert_eq!(
        app.run_job("dispatch_due_deliveries"),
        "queued 1 deliveries"
    );
    let done = app.wait_for_post(&id, |p| p["status"] != "processing");
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(result(&done)["errorCode"], "OUTCOME_UNKNOWN");
    let message = result(&done)["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("history") && message.contains("reconnect"),
        "{message}"
    );
    assert_eq!(app.sim_posts_of("reddit").len(), 1, "never submitted twice");
}
