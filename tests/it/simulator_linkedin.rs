//! The LinkedIn simulator on its own, over HTTP: raw requests where the exact status and body
//! matter, and the real adapter (`providers::linkedin::LinkedIn`) for the flows the appliance
//! runs, so that the adapter and the simulator are held to the same contract.

use mypostshare::clock::OffsetClock;
use mypostshare::config::{ClientCredentials, ProviderEndpoints};
use mypostshare::error::Code;
use mypostshare::http::server::{ServerHandle, ServerOptions, serve};
use mypostshare::providers::linkedin::LinkedIn;
use mypostshare::providers::{
    AuthorizeRequest, PostContent, Provider, ProviderError, RemoteAccount, TokenSet, http_agent,
};
use mypostshare_sim::{SimClient, Simulator, SimulatorSettings};
use serde_json::{Value, json};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CLIENT_ID: &str = "sandbox-client";
const CLIENT_SECRET: &str = "sandbox-secret";
const CLIENT_NAME: &str = "Acme <Scheduler> & Co";
const REDIRECT_URI: &str = "http://127.0.0.1:9/oauth/callback/linkedin";

struct Simulated {
    sim: Arc<Simulator>,
    clock: Arc<OffsetClock>,
    base: String,
    _server: ServerHandle,
}

fn start() -> Simulated {
    start_with([7; 32], SimulatorSettings::default(), OffsetClock::new())
}

fn start_with(key: [u8; 32], settings: SimulatorSettings, clock: Arc<OffsetClock>) -> Simulated {
    let sim = Simulator::new(clock.clone(), key, settings);
    sim.register_client(
        mypostshare_sim::Platform::Linkedin,
        SimClient {
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            name: CLIENT_NAME.into(),
            redirect_uris: vec![REDIRECT_URI.into(), format!("{REDIRECT_URI}/other")],
            trial_access: false,
        },
    );
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    let handler_sim = sim.clone();
    let server = serve(
        listener,
        ServerOptions {
            threads: 4,
            max_body_bytes: 1 << 20,
            io_timeout: Duration::from_secs(5),
            access_log: false,
            ..ServerOptions::new("simulator")
        },
        Arc::new(move |request| handler_sim.handle(request, "")),
    )
    .expect("start the simulator");
    Simulated {
        base: format!("http://{}", server.addr()),
        sim,
        clock,
        _server: server,
    }
}

impl Simulated {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The version the adapter sends by default, which the simulator must accept.
    fn current_version(&self) -> String {
        mypostshare::providers::Platform::Linkedin
            .spec()
            .hosts
            .api_version
            .to_string()
    }

    fn adapter(&self) -> LinkedIn {
        self.adapter_with(&self.current_version(), Duration::from_secs(5))
    }

    fn adapter_with(&self, version: &str, timeout: Duration) -> LinkedIn {
        let base = self.url("/linkedin");
        LinkedIn::new(
            ProviderEndpoints {
                auth_base: base.clone(),
                token_base: base.clone(),
                api_base: base,
                api_version: version.to_string(),
                sandbox_api_base: None,
                user_agent_username: String::new(),
            },
            http_agent(timeout),
        )
    }

    fn posts(&self) -> Vec<Value> {
        let answer = get(&self.url("/_sim/linkedin/posts"));
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer
            .json()
            .as_array()
            .cloned()
            .expect("an array of posts")
    }

    fn add_fault(&self, fault: Value) {
        let answer = post_json(&self.url("/_sim/faults"), &fault);
        assert_eq!(answer.status, 201, "{}", answer.body);
    }

    /// Runs the browser part of the consent: the authorize page, then the form with `decision`.
    fn consent(&self, member_name: &str, decision: &str, state: &str) -> Answer {
        let url = self.adapter().authorize_url(&AuthorizeRequest {
            client_id: CLIENT_ID,
            redirect_uri: REDIRECT_URI,
            state,
            pkce_challenge: None,
        });
        let page = get(&url);
        assert_eq!(page.status, 200, "{}", page.body);
        submit_consent(&self.base, &page.body, member_name, decision)
    }

    /// Allows the consent and exchanges the code through the adapter.
    fn connect(&self, member_name: &str) -> (TokenSet, RemoteAccount) {
        let answer = self.consent(member_name, "allow", "state-1");
        let code = redirect_param(&answer, "code").expect("a code in the redirect");
        let adapter = self.adapter();
        let tokens = adapter
            .exchange_code(&credentials(), &code, REDIRECT_URI, None)
            .expect("exchange the code");
        let account = adapter
            .fetch_account(&tokens.access_token)
            .expect("fetch the account");
        (tokens, account)
    }

    /// A code from an allowed consent, not yet exchanged.
    fn code(&self) -> String {
        let answer = self.consent("Alex Morgan", "allow", "s");
        redirect_param(&answer, "code").expect("a code in the redirect")
    }
}

fn credentials() -> ClientCredentials {
    ClientCredentials {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        api_host: Default::default(),
    }
}

fn content(text: &str) -> PostContent {
    PostContent {
        title: None,
        text: text.to_string(),
        media_url: None,
        thumbnail_url: None,
        media_kind: None,
    }
}

/// A text post through the adapter's publish call, with no options.
trait PublishText {
    fn publish_text(
        &self,
        token: &str,
        account: &mypostshare::providers::RemoteAccount,
        post: &PostContent,
    ) -> Result<mypostshare::providers::Published, mypostshare::providers::ProviderError>;
}

impl PublishText for LinkedIn {
    fn publish_text(
        &self,
        token: &str,
        account: &mypostshare::providers::RemoteAccount,
        post: &PostContent,
    ) -> Result<mypostshare::providers::Published, mypostshare::providers::ProviderError> {
        use mypostshare::providers::{Provider, PublishRequest, PublishStep};
        let media =
            mypostshare::providers::media::MediaFetcher::new(true, 1 << 20, Duration::from_secs(5));
        let options = serde_json::Map::new();
        let credentials = credentials();
        let request = PublishRequest {
            access_token: token,
            credentials: &credentials,
            platform_data: None,
            account,
            post,
            options: &options,
            media: &media,
        };
        match self.publish(&request)? {
            PublishStep::Done(published) => Ok(published),
            PublishStep::Processing { .. } => {
                panic!("a text post is never processed asynchronously")
            }
        }
    }
}

// ----- a small HTTP client -----

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(Duration::from_secs(10))
        .build()
}

fn answer(result: Result<ureq::Response, ureq::Error>) -> Answer {
    let response = match result {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = response.status();
    let headers = response
        .headers_names()
        .into_iter()
        .filter_map(|n| Some((n.clone(), response.header(&n)?.to_string())))
        .collect();
    let body = response.into_string().expect("a text body");
    Answer {
        status,
        headers,
        body,
    }
}

fn get(url: &str) -> Answer {
    answer(agent().get(url).call())
}

fn post_json(url: &str, body: &Value) -> Answer {
    answer(
        agent()
            .post(url)
            .set("Content-Type", "application/json")
            .send_string(&body.to_string()),
    )
}

fn post_form(url: &str, pairs: &[(&str, &str)]) -> Answer {
    answer(agent().post(url).send_form(pairs))
}

fn delete(url: &str) -> Answer {
    answer(agent().delete(url).call())
}

fn unescape_html(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag[start..].find('"')? + start;
    Some(unescape_html(&tag[start..end]))
}

/// What a browser would send: the form's hidden fields, the typed name and the pressed button.
fn submit_consent(base: &str, page: &str, member_name: &str, decision: &str) -> Answer {
    let form_start = page.find("<form").expect("a form on the consent page");
    let form_tag = &page[form_start..form_start + page[form_start..].find('>').unwrap()];
    assert_eq!(attribute(form_tag, "method").as_deref(), Some("post"));
    let action = attribute(form_tag, "action").expect("a form action");
    let mut fields: Vec<(String, String)> = page
        .match_indices("<input")
        .map(|(at, _)| &page[at..at + page[at..].find('>').unwrap()])
        .filter(|tag| attribute(tag, "type").as_deref() == Some("hidden"))
        .map(|tag| {
            (
                attribute(tag, "name").unwrap(),
                attribute(tag, "value").unwrap_or_default(),
            )
        })
        .collect();
    fields.push(("member_name".into(), member_name.into()));
    fields.push(("decision".into(), decision.into()));
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    post_form(&format!("{base}{action}"), &pairs)
}

fn redirect_param(answer: &Answer, name: &str) -> Option<String> {
    assert_eq!(answer.status, 302, "{}", answer.body);
    let location = answer.header("location").expect("a Location header");
    let (_, query) = mypostshare::http::split_target(location.split_once("://")?.1);
    query.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn rest_post(sb: &Simulated, token: Option<&str>, version: Option<&str>, body: &str) -> Answer {
    let mut request = agent()
        .post(&sb.url("/linkedin/rest/posts"))
        .set("Content-Type", "application/json");
    if let Some(token) = token {
        request = request.set("Authorization", &format!("Bearer {token}"));
    }
    if let Some(version) = version {
        request = request.set("LinkedIn-Version", version);
    }
    answer(request.send_string(body))
}

fn post_body(author: &str, commentary: &str) -> String {
    json!({
        "author": author,
        "commentary": commentary,
        "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": false
    })
    .to_string()
}

fn userinfo(sb: &Simulated, token: &str) -> Answer {
    answer(
        agent()
            .get(&sb.url("/linkedin/v2/userinfo"))
            .set("Authorization", &format!("Bearer {token}"))
            .call(),
    )
}

fn token_call(sb: &Simulated, pairs: &[(&str, &str)]) -> Answer {
    post_form(&sb.url("/linkedin/oauth/v2/accessToken"), pairs)
}

fn exchange_raw(sb: &Simulated, code: &str, redirect_uri: &str, secret: &str) -> Answer {
    token_call(
        sb,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", CLIENT_ID),
            ("client_secret", secret),
        ],
    )
}

const BAD_CODE: &str = "Unable to retrieve access token: appid/redirect uri/code verifier does not match authorization code. Or authorization code expired. Or external member binding exists";

// ----- the consent pages -----

#[test]
fn adapter_connects_and_publishes_what_the_member_wrote() {
    let sb = start();
    let url = sb.adapter().authorize_url(&AuthorizeRequest {
        client_id: CLIENT_ID,
        redirect_uri: REDIRECT_URI,
        state: "st 1&x",
        pkce_challenge: None,
    });
    let page = get(&url);
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        page.body.contains("Acme &lt;Scheduler&gt; &amp; Co"),
        "{}",
        page.body
    );
    assert!(!page.body.contains(CLIENT_NAME));
    assert!(page.body.contains("Create, modify, and delete posts"));
    assert!(
        page.body
            .contains("<label for=\"member_name\">Signed in as</label>")
    );
    assert!(
        page.body
            .contains("name=\"member_name\" value=\"Alex Morgan\"")
    );
    assert!(page.body.contains(
        "<button type=\"submit\" class=\"allow\" name=\"decision\" value=\"allow\">Allow</button>"
    ));
    assert!(
        page.body
            .contains("name=\"decision\" value=\"deny\">Deny</button>")
    );
    assert!(
        page.body
            .contains("action=\"/linkedin/oauth/v2/authorization\"")
    );

    let allowed = submit_consent(&sb.base, &page.body, "Alex Morgan", "allow");
    let location = allowed.header("location").unwrap().to_string();
    assert!(
        location.starts_with(&format!("{REDIRECT_URI}?code=")),
        "{location}"
    );
    assert!(location.ends_with("&state=st+1%26x"), "{location}");
    let code = redirect_param(&allowed, "code").unwrap();

    let adapter = sb.adapter();
    let tokens = adapter
        .exchange_code(&credentials(), &code, REDIRECT_URI, None)
        .unwrap();
    assert_eq!(tokens.expires_in, Some(60 * 24 * 3600));
    assert_eq!(tokens.refresh_token, None);
    assert_eq!(tokens.scopes, ["openid", "profile", "w_member_social"]);
    let account = adapter.fetch_account(&tokens.access_token).unwrap();
    assert_eq!(account.id.len(), 10);
    assert!(account.id.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(account.username.as_deref(), Some("Alex Morgan"));

    let text = "Launch day (v2) #rust @team_x [docs] *bold* ~ok~ \\o/ — ünïcode";
    let published = adapter
        .publish_text(&tokens.access_token, &account, &content(text))
        .unwrap();
    let digits = published.external_id.strip_prefix("urn:li:share:").unwrap();
    assert_eq!(digits.len(), 19);
    assert!(digits.bytes().all(|b| b.is_ascii_digit()));

    let posts = sb.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["id"], published.external_id.as_str());
    assert_eq!(posts[0]["text"], text);
    assert_eq!(
        posts[0]["commentary"],
        mypostshare::providers::linkedin::escape_little_text(text).as_str()
    );
    assert_eq!(
        posts[0]["author"],
        format!("urn:li:person:{}", account.id).as_str()
    );
    assert_eq!(posts[0]["visibility"], "PUBLIC");
    assert_eq!(posts[0]["clientId"], CLIENT_ID);
    assert!(posts[0]["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        sb.sim.accepted_posts(mypostshare_sim::Platform::Linkedin),
        posts
    );
}

#[test]
fn the_same_name_is_the_same_member_and_another_name_is_not() {
    let sb = start();
    let (_, first) = sb.connect("Alex Morgan");
    let (_, again) = sb.connect("Alex Morgan");
    let (_, other) = sb.connect("Sam Lee");
    assert_eq!(first.id, again.id);
    assert_ne!(first.id, other.id);
    assert_eq!(other.username.as_deref(), Some("Sam Lee"));
}

#[test]
fn deny_redirects_with_user_cancelled_authorize() {
    let sb = start();
    let answer = sb.consent("Alex Morgan", "deny", "st-9");
    assert_eq!(answer.status, 302);
    assert_eq!(
        answer.header("location"),
        Some(format!("{REDIRECT_URI}?error=user_cancelled_authorize&error_description=The+user+cancelled+the+authorization&state=st-9").as_str())
    );
}

#[test]
fn authorize_refuses_unknown_clients_and_redirects_without_redirecting() {
    let sb = start();
    let authorize = |client_id: &str, redirect_uri: &str, scope: &str| {
        get(&mypostshare::http::append_query(
            &sb.url("/linkedin/oauth/v2/authorization"),
            &[
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", redirect_uri),
                ("state", "s"),
                ("scope", scope),
            ],
        ))
    };
    for (client_id, redirect_uri) in [
        ("nobody", REDIRECT_URI),
        (CLIENT_ID, "http://127.0.0.1:9/evil"),
        (CLIENT_ID, "http://127.0.0.1:9/oauth/callback/linkedin/"),
    ] {
        let answer = authorize(client_id, redirect_uri, "openid profile");
        assert_eq!(answer.status, 400, "{client_id} {redirect_uri}");
        assert_eq!(answer.header("location"), None);
        assert!(
            answer
                .header("content-type")
                .unwrap()
                .starts_with("text/html")
        );
    }
    // The redirect URI in the error page is escaped.
    let answer = authorize(CLIENT_ID, "http://x/<script>", "openid");
    assert!(answer.body.contains("http://x/&lt;script&gt;"));
    assert!(!answer.body.contains("<script>"));

    let answer = authorize(CLIENT_ID, REDIRECT_URI, "openid offline_access");
    assert_eq!(
        redirect_param(&answer, "error").as_deref(),
        Some("invalid_scope")
    );
    assert!(
        redirect_param(&answer, "error_description")
            .unwrap()
            .contains("offline_access")
    );
    assert_eq!(redirect_param(&answer, "state").as_deref(), Some("s"));

    // The decision is checked again on POST: a forged form cannot pick another redirect URI.
    let forged = post_form(
        &sb.url("/linkedin/oauth/v2/authorization"),
        &[
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", "http://127.0.0.1:9/evil"),
            ("scope", "openid"),
            ("member_name", "Alex Morgan"),
            ("decision", "allow"),
        ],
    );
    assert_eq!(forged.status, 400);
    assert_eq!(forged.header("location"), None);
}

// ----- the token endpoint -----

#[test]
fn wrong_client_secret_is_invalid_client() {
    let sb = start();
    let code = sb.code();
    let answer = exchange_raw(&sb, &code, REDIRECT_URI, "wrong");
    assert_eq!(answer.status, 401);
    assert_eq!(
        answer.json(),
        json!({"error": "invalid_client", "error_description": "Client authentication failed"})
    );
    let err = sb
        .adapter()
        .exchange_code(
            &ClientCredentials {
                client_id: CLIENT_ID.into(),
                client_secret: "wrong".into(),
                api_host: Default::default(),
            },
            &code,
            REDIRECT_URI,
            None,
        )
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::OAuth { ref error, .. } if error == "invalid_client"),
        "{err:?}"
    );
    // The failed attempts did not use the code up.
    assert_eq!(
        exchange_raw(&sb, &code, REDIRECT_URI, CLIENT_SECRET).status,
        200
    );
}

#[test]
fn a_code_works_once() {
    let sb = start();
    let code = sb.code();
    let first = exchange_raw(&sb, &code, REDIRECT_URI, CLIENT_SECRET);
    assert_eq!(first.status, 200, "{}", first.body);
    let body = first.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 5_184_000);
    assert_eq!(body["scope"], "openid,profile,w_member_social");
    assert_eq!(body["id_token"].as_str().unwrap().split('.').count(), 3);
    assert!(body.get("refresh_token").is_none());

    let again = exchange_raw(&sb, &code, REDIRECT_URI, CLIENT_SECRET);
    assert_eq!(again.status, 400);
    assert_eq!(
        again.json(),
        json!({"error": "invalid_request", "error_description": BAD_CODE})
    );
    let err = sb
        .adapter()
        .exchange_code(&credentials(), &code, REDIRECT_URI, None)
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::OAuth { ref error, .. } if error == "invalid_request"),
        "{err:?}"
    );
}

#[test]
fn a_code_expires_after_thirty_minutes() {
    let sb = start();
    let fresh = sb.code();
    let stale = sb.code();
    sb.clock.advance(chrono::Duration::minutes(29));
    assert_eq!(
        exchange_raw(&sb, &fresh, REDIRECT_URI, CLIENT_SECRET).status,
        200
    );
    sb.clock.advance(chrono::Duration::minutes(2));
    let answer = exchange_raw(&sb, &stale, REDIRECT_URI, CLIENT_SECRET);
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json()["error_description"], BAD_CODE);
}

#[test]
fn the_token_step_needs_the_same_redirect_uri() {
    let sb = start();
    let code = sb.code();
    // Registered, but not the one the code was issued for.
    let answer = exchange_raw(&sb, &code, &format!("{REDIRECT_URI}/other"), CLIENT_SECRET);
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.json(),
        json!({"error": "invalid_request", "error_description": BAD_CODE})
    );
    assert_eq!(
        exchange_raw(&sb, &code, REDIRECT_URI, CLIENT_SECRET).status,
        200
    );
}

#[test]
fn missing_token_parameters_are_named() {
    let sb = start();
    let all = [
        ("grant_type", "authorization_code"),
        ("code", "x"),
        ("redirect_uri", REDIRECT_URI),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ];
    for skip in 0..all.len() {
        let pairs: Vec<(&str, &str)> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, p)| *p)
            .collect();
        let answer = token_call(&sb, &pairs);
        assert_eq!(answer.status, 400);
        assert_eq!(
            answer.json(),
            json!({
                "error": "invalid_request",
                "error_description": format!("A required parameter \"{}\" is missing", all[skip].0)
            })
        );
    }
    let unknown_client = token_call(
        &sb,
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", "nobody"),
            ("client_secret", CLIENT_SECRET),
        ],
    );
    assert_eq!(unknown_client.status, 401);
    assert_eq!(unknown_client.json()["error"], "invalid_client");
}

#[test]
fn refresh_tokens_keep_their_original_expiry_when_enabled() {
    let settings = SimulatorSettings {
        issue_refresh_tokens: true,
        ..SimulatorSettings::default()
    };
    let sb = start_with([7; 32], settings, OffsetClock::new());
    let (tokens, account) = sb.connect("Alex Morgan");
    let refresh_token = tokens.refresh_token.clone().expect("a refresh token");
    assert_eq!(tokens.refresh_token_expires_in, Some(365 * 24 * 3600));

    sb.clock.advance(chrono::Duration::days(59));
    let refreshed = sb
        .adapter()
        .refresh(&credentials(), &refresh_token)
        .unwrap();
    assert_eq!(
        refreshed.refresh_token.as_deref(),
        Some(refresh_token.as_str())
    );
    let left = refreshed.refresh_token_expires_in.unwrap();
    assert!((306 * 86400 - 5..=306 * 86400).contains(&left), "{left}");
    assert_ne!(refreshed.access_token, tokens.access_token);
    assert_eq!(
        sb.adapter()
            .fetch_account(&refreshed.access_token)
            .unwrap()
            .id,
        account.id
    );

    let bad = token_call(
        &sb,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "garbage"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ],
    );
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.json(),
        json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
    );
    // An access token is not a refresh token.
    let err = sb
        .adapter()
        .refresh(&credentials(), &tokens.access_token)
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::OAuth { ref error, .. } if error == "invalid_grant"),
        "{err:?}"
    );
    sb.clock.advance(chrono::Duration::days(307));
    let err = sb
        .adapter()
        .refresh(&credentials(), &refresh_token)
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::OAuth { ref error, .. } if error == "invalid_grant"),
        "{err:?}"
    );
}

// ----- tokens on the API -----

#[test]
fn userinfo_and_me_answer_like_linkedin() {
    let sb = start();
    let (tokens, account) = sb.connect("Jane Q Doe");
    let info = userinfo(&sb, &tokens.access_token);
    assert_eq!(info.status, 200);
    let body = info.json();
    assert_eq!(body["sub"], account.id.as_str());
    assert_eq!(body["name"], "Jane Q Doe");
    assert_eq!(body["given_name"], "Jane");
    assert_eq!(body["family_name"], "Q Doe");
    assert_eq!(body["locale"], json!({"country": "US", "language": "en"}));
    assert!(body["picture"].as_str().unwrap().starts_with("https://"));
    assert!(
        body.get("email").is_none(),
        "no email without the email scope"
    );

    let me = answer(
        agent()
            .get(&sb.url("/linkedin/v2/me"))
            .set("Authorization", &format!("Bearer {}", tokens.access_token))
            .call(),
    );
    assert_eq!(me.status, 403);
    assert_eq!(
        me.json(),
        json!({"status": 403, "serviceErrorCode": 100, "code": "ACCESS_DENIED", "message": "Not enough permissions to access: me.GET.NO_VERSION"})
    );

    let anonymous = get(&sb.url("/linkedin/v2/userinfo"));
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.json(),
        json!({"message": "Empty oauth2_access_token", "serviceErrorCode": 401, "status": 401})
    );
    let forged = userinfo(&sb, "not-a-token");
    assert_eq!(forged.status, 401);
    assert_eq!(
        forged.json(),
        json!({"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN", "message": "Invalid access token"})
    );
}

#[test]
fn an_access_token_expires_after_sixty_days() {
    let sb = start();
    let (tokens, account) = sb.connect("Alex Morgan");
    sb.clock.advance(chrono::Duration::days(59));
    assert!(sb.adapter().fetch_account(&tokens.access_token).is_ok());
    sb.clock
        .advance(chrono::Duration::days(1) + chrono::Duration::seconds(5));
    let info = userinfo(&sb, &tokens.access_token);
    assert_eq!(info.status, 401);
    assert_eq!(
        info.json(),
        json!({"status": 401, "serviceErrorCode": 65602, "code": "EXPIRED_ACCESS_TOKEN", "message": "The token used in the request has expired"})
    );
    let err = sb
        .adapter()
        .publish_text(&tokens.access_token, &account, &content("late"))
        .unwrap_err();
    assert!(matches!(err, ProviderError::Unauthorized { .. }), "{err:?}");
    assert!(sb.posts().is_empty());
}

#[test]
fn a_revoked_token_is_refused_as_revoked() {
    let sb = start();
    let (tokens, account) = sb.connect("Alex Morgan");
    let introspect = |token: &str| {
        post_form(
            &sb.url("/linkedin/oauth/v2/introspectToken"),
            &[
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("token", token),
            ],
        )
        .json()
    };
    let before = introspect(&tokens.access_token);
    assert_eq!(before["active"], true);
    assert_eq!(before["status"], "active");
    assert_eq!(before["client_id"], CLIENT_ID);
    assert_eq!(before["auth_type"], "3L");

    sb.adapter()
        .revoke(&credentials(), &tokens.access_token, None)
        .unwrap();
    let info = userinfo(&sb, &tokens.access_token);
    assert_eq!(info.status, 401);
    assert_eq!(
        info.json(),
        json!({"status": 401, "serviceErrorCode": 65601, "code": "REVOKED_ACCESS_TOKEN", "message": "The token used in the request has been revoked by the user"})
    );
    let err = sb
        .adapter()
        .publish_text(&tokens.access_token, &account, &content("after revoke"))
        .unwrap_err();
    assert!(matches!(err, ProviderError::Unauthorized { .. }), "{err:?}");
    let after = introspect(&tokens.access_token);
    assert_eq!(after["active"], false);
    assert_eq!(after["status"], "revoked");

    // Revoking needs the client's credentials.
    let (other, _) = sb.connect("Alex Morgan");
    let refused = post_form(
        &sb.url("/linkedin/oauth/v2/revoke"),
        &[
            ("client_id", CLIENT_ID),
            ("client_secret", "wrong"),
            ("token", &other.access_token),
        ],
    );
    assert_eq!(refused.status, 401);
    assert_eq!(userinfo(&sb, &other.access_token).status, 200);
}

#[test]
fn tokens_survive_a_restart_with_the_same_signing_key() {
    let first = start_with([42; 32], SimulatorSettings::default(), OffsetClock::new());
    let (tokens, account) = first.connect("Alex Morgan");
    drop(first);

    let restarted = start_with([42; 32], SimulatorSettings::default(), OffsetClock::new());
    let again = restarted
        .adapter()
        .fetch_account(&tokens.access_token)
        .unwrap();
    assert_eq!(again.id, account.id);
    restarted
        .adapter()
        .publish_text(&tokens.access_token, &account, &content("after a restart"))
        .unwrap();
    assert_eq!(restarted.posts().len(), 1);

    let other_key = start_with([43; 32], SimulatorSettings::default(), OffsetClock::new());
    let err = other_key
        .adapter()
        .fetch_account(&tokens.access_token)
        .unwrap_err();
    assert!(matches!(err, ProviderError::Unauthorized { .. }), "{err:?}");
}

// ----- /rest/posts -----

#[test]
fn rest_calls_need_an_active_linkedin_version() {
    let sb = start();
    let (tokens, account) = sb.connect("Alex Morgan");
    let body = post_body(&format!("urn:li:person:{}", account.id), "hello");

    let missing = rest_post(&sb, Some(&tokens.access_token), None, &body);
    assert_eq!(missing.status, 400);
    assert_eq!(
        missing.json(),
        json!({"status": 400, "code": "VERSION_MISSING", "message": "A version must be present. Please specify a version by adding the LinkedIn-Version header."})
    );
    let retired = rest_post(&sb, Some(&tokens.access_token), Some("202401"), &body);
    assert_eq!(retired.status, 426);
    assert_eq!(
        retired.json(),
        json!({"status": 426, "code": "NONEXISTENT_VERSION", "message": "Requested version 202401 is not active"})
    );
    // Well-formed months LinkedIn never released: it skipped December 2025, and 202609 (the
    // appliance's old default) is not on its migrations page.
    for unreleased in ["202512", "202609"] {
        assert_eq!(
            rest_post(&sb, Some(&tokens.access_token), Some(unreleased), &body).status,
            426,
            "{unreleased}"
        );
    }

    let err = sb
        .adapter_with("202401", Duration::from_secs(5))
        .publish_text(&tokens.access_token, &account, &content("hello"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            ProviderError::Rejected {
                code: Code::PlatformVersionRetired,
                ..
            }
        ),
        "{err:?}"
    );
    // The operator is told which setting to change.
    assert!(
        err.message().contains("MYPOSTSHARE_LINKEDIN_API_VERSION")
            && err.message().contains("202401"),
        "{err:?}"
    );
    assert!(sb.posts().is_empty());

    // X-Restli-Protocol-Version is optional (protocol 1.0 is the default).
    let accepted = rest_post(
        &sb,
        Some(&tokens.access_token),
        Some(&sb.current_version()),
        &body,
    );
    assert_eq!(accepted.status, 201, "{}", accepted.body);
    assert_eq!(accepted.body, "");
    assert!(
        accepted
            .header("x-restli-id")
            .unwrap()
            .starts_with("urn:li:share:")
    );
}

#[test]
fn commentary_is_limited_to_3000_characters_after_unescaping() {
    let sb = start();
    let (tokens, account) = sb.connect("Alex Morgan");
    let adapter = sb.adapter();
    // 3000 characters, 600 of which the adapter escapes: 3600 on the wire, still accepted.
    let at_limit = "#é_x@".repeat(600);
    assert_eq!(at_limit.chars().count(), 3000);
    adapter
        .publish_text(&tokens.access_token, &account, &content(&at_limit))
        .unwrap();

    let over = "a".repeat(3001);
    let err = adapter
        .publish_text(&tokens.access_token, &account, &content(&over))
        .unwrap_err();
    assert!(
        matches!(
            err,
            ProviderError::Rejected {
                code: Code::PlatformRejected,
                ..
            }
        ),
        "{err:?}"
    );
    let raw = rest_post(
        &sb,
        Some(&tokens.access_token),
        Some(&sb.current_version()),
        &post_body(&format!("urn:li:person:{}", account.id), &over),
    );
    assert_eq!(raw.status, 400);
    assert_eq!(
        raw.json(),
        json!({
            "errorDetailType": "com.linkedin.common.error.BadRequest",
            "message": "com.linkedin.content.common.exception.BadRequestResponseException: ShareCommentary text length (3001 characters) exceeded the maximum allowed (3000 characters)",
            "errorDetails": {"inputErrors": [{
                "description": "Size of array cannot be higher than the maxLength",
                "input": {"inputPath": {"fieldPath": "commentary"}},
                "code": "FIELD_ARRAY_SIZE_TOO_HIGH"
            }]},
            "status": 400
        })
    );
    assert_eq!(sb.posts().len(), 1);
}

#[test]
fn the_same_text_twice_within_a_day_is_a_duplicate() {
    let sb = start();
    let (tokens, account) = sb.connect("Alex Morgan");
    let (other_tokens, other_account) = sb.connect("Sam Lee");
    let adapter = sb.adapter();
    let first = adapter
        .publish_text(&tokens.access_token, &account, &content("Same words"))
        .unwrap();
    let err = adapter
        .publish_text(&tokens.access_token, &account, &content("Same words"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            ProviderError::Rejected {
                code: Code::DuplicatePost,
                ..
            }
        ),
        "{err:?}"
    );

    let raw = rest_post(
        &sb,
        Some(&tokens.access_token),
        Some(&sb.current_version()),
        &post_body(&format!("urn:li:person:{}", account.id), "Same words"),
    );
    assert_eq!(raw.status, 422);
    let body = raw.json();
    assert_eq!(body["status"], 422);
    assert_eq!(
        body["errorDetails"]["inputErrors"][0]["code"],
        "DUPLICATE_POST"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .ends_with(&format!("Content is a duplicate of {}", first.external_id))
    );

    // Another member may say the same; a day later the same member may too.
    adapter
        .publish_text(
            &other_tokens.access_token,
            &other_account,
            &content("Same words"),
        )
        .unwrap();
    sb.clock
        .advance(chrono::Duration::hours(24) + chrono::Duration::minutes(1));
    adapter
        .publish_text(&tokens.access_token, &account, &content("Same words"))
        .unwrap();
    assert_eq!(sb.posts().len(), 3);
}

#[test]
fn posting_as_someone_else_is_access_denied() {
    let sb = start();
    let (tokens, account) = sb.connect("Alex Morgan");
    let (_, other) = sb.connect("Sam Lee");
    let raw = rest_post(
        &sb,
        Some(&tokens.access_token),
        Some(&sb.current_version()),
        &post_body(&format!("urn:li:person:{}", other.id), "hi"),
    );
    assert_eq!(raw.status, 403);
    assert_eq!(
        raw.json(),
        json!({"status": 403, "serviceErrorCode": 100, "code": "ACCESS_DENIED", "message": "Field Value validation failed in REQUEST_BODY: Data Processing Exception while processing fields [/author]"})
    );
    let err = sb
        .adapter()
        .publish_text(&tokens.access_token, &other, &content("hi"))
        .unwrap_err();
    assert!(matches!(err, ProviderError::Rejected { .. }), "{err:?}");
    assert!(sb.posts().is_empty());
    sb.adapter()
        .publish_text(&tokens.access_token, &account, &content("hi"))
        .unwrap();
}

#[test]
fn posting_needs_the_w_member_social_scope() {
    let sb = start();
    let page = get(&mypostshare::http::append_query(
        &sb.url("/linkedin/oauth/v2/authorization"),
        &[
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid profile email"),
        ],
    ));
    assert!(page.body.contains("primary email address"));
    let allowed = submit_consent(&sb.base, &page.body, "Alex Morgan", "allow");
    let code = redirect_param(&allowed, "code").unwrap();
    let tokens = sb
        .adapter()
        .exchange_code(&credentials(), &code, REDIRECT_URI, None)
        .unwrap();
    assert_eq!(
        userinfo(&sb, &tokens.access_token).json()["email"],
        "alex.morgan@example.com"
    );
    let account = sb.adapter().fetch_account(&tokens.access_token).unwrap();
    let version = sb.current_version();
    let raw = rest_post(
        &sb,
        Some(&tokens.access_token),
        Some(&version),
        &post_body(&format!("urn:li:person:{}", account.id), "hi"),
    );
    assert_eq!(raw.status, 403);
    assert_eq!(raw.json()["code"], "ACCESS_DENIED");
    assert!(
        raw.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("Not enough permissions to access: partnerApiPostsExternal.CREATE.")
    );
}

#[test]
fn malformed_and_incomplete_posts_are_refused() {
    let sb = start();
    let (tokens, account) = sb.connect("Alex Morgan");
    let version = sb.current_version();
    let malformed = rest_post(&sb, Some(&tokens.access_token), Some(&version), "{not json");
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.json()["code"], "ILLEGAL_ARGUMENT");
    assert_eq!(
        malformed.json()["message"],
        "Request body could not be converted to data map"
    );

    let incomplete = rest_post(
        &sb,
        Some(&tokens.access_token),
        Some(&version),
        &json!({"author": format!("urn:li:person:{}", account.id), "commentary": "hi"}).to_string(),
    );
    assert_eq!(incomplete.status, 422);
    let fields: Vec<Value> = incomplete.json()["errorDetails"]["inputErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["input"]["inputPath"]["fieldPath"].clone())
        .collect();
    assert_eq!(
        fields,
        [
            json!("visibility"),
            json!("distribution"),
            json!("lifecycleState")
        ]
    );
    assert!(
        incomplete.json()["message"]
            .as_str()
            .unwrap()
            .contains("/visibility")
    );
    let anonymous = rest_post(&sb, None, Some(&version), "{}");
    assert_eq!(anonymous.status, 401);
    assert!(sb.posts().is_empty());
}

// ----- faults and latency -----

#[test]
fn injected_faults_reach_the_adapter_as_the_right_outcome() {
    let sb = start();
    let (tokens, account) = sb.connect("Alex Morgan");
    let adapter = sb.adapter();
    let publish = |text: &str| adapter.publish_text(&tokens.access_token, &account, &content(text));

    sb.add_fault(json!({"platform": "linkedin", "kind": "server_error", "status": 503}));
    let err = publish("a").unwrap_err();
    assert!(
        matches!(err, ProviderError::Transient { status: 503, .. }),
        "{err:?}"
    );

    sb.add_fault(json!({"platform": "linkedin", "kind": "server_error"}));
    let err = publish("a").unwrap_err();
    assert!(
        matches!(err, ProviderError::Transient { status: 500, .. }),
        "{err:?}"
    );

    sb.add_fault(json!({"platform": "linkedin", "kind": "rate_limit"}));
    let err = publish("a").unwrap_err();
    assert!(
        matches!(
            err,
            ProviderError::RateLimited {
                retry_after: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.message().contains("Resource level throttle limit"),
        "{err:?}"
    );

    sb.add_fault(json!({"platform": "linkedin", "kind": "rate_limit", "retryAfter": 7}));
    let err = publish("a").unwrap_err();
    assert!(
        matches!(err, ProviderError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(7)),
        "{err:?}"
    );

    sb.add_fault(json!({"platform": "linkedin", "kind": "revoked_token"}));
    let err = adapter.fetch_account(&tokens.access_token).unwrap_err();
    assert!(matches!(err, ProviderError::Unauthorized { .. }), "{err:?}");

    sb.add_fault(json!({"platform": "linkedin", "kind": "duplicate", "count": 2}));
    for _ in 0..2 {
        let err = publish("a").unwrap_err();
        assert!(
            matches!(
                err,
                ProviderError::Rejected {
                    code: Code::DuplicatePost,
                    ..
                }
            ),
            "{err:?}"
        );
    }
    assert!(sb.posts().is_empty(), "no faulted call was recorded");
    publish("a").unwrap();
    assert_eq!(sb.posts().len(), 1);
}

#[test]
fn a_timeout_fault_outlasts_the_client() {
    let sb = start();
    let (tokens, account) = sb.connect("Alex Morgan");
    sb.add_fault(json!({"platform": "linkedin", "kind": "timeout", "delayMs": 1500}));
    let started = Instant::now();
    let err = sb
        .adapter_with(&sb.current_version(), Duration::from_millis(500))
        .publish_text(&tokens.access_token, &account, &content("slow"))
        .unwrap_err();
    // Unknown, not Transient: the client gave up before the simulator's late 504 arrived.
    assert!(matches!(err, ProviderError::Unknown { .. }), "{err:?}");
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert!(sb.posts().is_empty());

    sb.add_fault(json!({"platform": "linkedin", "kind": "timeout", "delayMs": 200}));
    let raw = userinfo(&sb, &tokens.access_token);
    assert_eq!(raw.status, 504);
}

#[test]
fn faults_skip_the_oauth_endpoints_and_can_be_cleared() {
    let sb = start();
    sb.add_fault(json!({"platform": "linkedin", "kind": "server_error", "count": 3}));
    // The consent pages and the token exchange are not API calls: no hit is used up.
    let code = sb.code();
    let tokens = sb
        .adapter()
        .exchange_code(&credentials(), &code, REDIRECT_URI, None)
        .unwrap();
    let listed = get(&sb.url("/_sim/faults")).json();
    assert_eq!(
        listed,
        json!([{"platform": "linkedin", "kind": "server_error", "count": 3, "status": 500}])
    );
    // userinfo is.
    assert_eq!(userinfo(&sb, &tokens.access_token).status, 500);
    assert_eq!(get(&sb.url("/_sim/faults")).json()[0]["count"], 2);
    assert_eq!(delete(&sb.url("/_sim/faults")).status, 204);
    assert_eq!(get(&sb.url("/_sim/faults")).json(), json!([]));
    assert_eq!(userinfo(&sb, &tokens.access_token).status, 200);
}

#[test]
fn latency_slows_every_api_call() {
    let sb = start();
    let (tokens, _) = sb.connect("Alex Morgan");
    let set = post_json(
        &sb.url("/_sim/latency"),
        &json!({"platform": "linkedin", "ms": 300}),
    );
    assert_eq!(set.status, 200);
    let started = Instant::now();
    assert_eq!(userinfo(&sb, &tokens.access_token).status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    post_json(
        &sb.url("/_sim/latency"),
        &json!({"platform": "linkedin", "ms": 0}),
    );
    // Turned off again: a client that waits only 250 ms is answered (it would time out with
    // the latency still on).
    let quick = ureq::AgentBuilder::new()
        .timeout(Duration::from_millis(250))
        .build();
    let url = sb.url("/linkedin/v2/userinfo");
    let mut answered = false;
    for _ in 0..5 {
        let call = quick
            .get(&url)
            .set("Authorization", &format!("Bearer {}", tokens.access_token))
            .call();
        if call.is_ok() {
            answered = true;
            break;
        }
    }
    assert!(answered, "calls stay slow after the latency was set to 0");
}

// ----- the control API -----

#[test]
fn control_api_registers_clients_without_showing_secrets() {
    let sb = start();
    let created = post_json(
        &sb.url("/_sim/clients"),
        &json!({
            "platform": "linkedin",
            "clientId": "second",
            "clientSecret": "second-secret",
            "name": "Second App",
            "redirectUris": ["https://app.example/cb"]
        }),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let listed = get(&sb.url("/_sim/clients"));
    assert_eq!(listed.status, 200);
    assert!(!listed.body.contains("secret\""), "{}", listed.body);
    assert!(!listed.body.contains("second-secret"));
    assert!(!listed.body.contains(CLIENT_SECRET));
    let clients = listed.json();
    assert!(clients.as_array().unwrap().iter().any(|c| c
        == &json!({"platform": "linkedin", "clientId": "second", "name": "Second App", "redirectUris": ["https://app.example/cb"], "accessTier": "standard"})));
    // The new client works on the consent page.
    let page = get(&mypostshare::http::append_query(
        &sb.url("/linkedin/oauth/v2/authorization"),
        &[
            ("response_type", "code"),
            ("client_id", "second"),
            ("redirect_uri", "https://app.example/cb"),
            ("scope", "openid"),
        ],
    ));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Second App"));

    for (body, names) in [
        (
            json!({"platform": "linkedin", "clientSecret": "s", "redirectUris": ["https://a/cb"]}),
            "clientId",
        ),
        (
            json!({"platform": "myspace", "clientId": "a", "clientSecret": "s", "redirectUris": ["https://a/cb"]}),
            "myspace",
        ),
        (
            json!({"platform": "linkedin", "clientId": "a", "clientSecret": "s", "redirectUris": []}),
            "redirectUris",
        ),
        (
            json!({"platform": "linkedin", "kind": "explode"}),
            "explode",
        ),
    ] {
        let path = if body.get("kind").is_some() {
            "/_sim/faults"
        } else {
            "/_sim/clients"
        };
        let answer = post_json(&sb.url(path), &body);
        assert_eq!(answer.status, 400, "{body}");
        let error = answer.json();
        assert_eq!(error["statusCode"], 400);
        assert_eq!(error["error"], "Bad Request");
        assert!(error["code"].is_string());
        assert!(
            error["message"].as_str().unwrap().contains(names),
            "{error}"
        );
    }
    let not_json = answer(agent().post(&sb.url("/_sim/faults")).send_string("nope"));
    assert_eq!(not_json.status, 400);
    let unknown = get(&sb.url("/_sim/nothing"));
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["statusCode"], 404);
    assert_eq!(get(&sb.url("/nowhere/2/users/me")).status, 404);
}

#[test]
fn reset_forgets_posts_and_revocations_but_keeps_clients() {
    let sb = start();
    let (tokens, account) = sb.connect("Alex Morgan");
    sb.adapter()
        .publish_text(&tokens.access_token, &account, &content("one"))
        .unwrap();
    sb.adapter()
        .revoke(&credentials(), &tokens.access_token, None)
        .unwrap();
    let code = sb.code();
    sb.add_fault(json!({"platform": "linkedin", "kind": "server_error"}));
    assert_eq!(sb.posts().len(), 1);

    assert_eq!(post_json(&sb.url("/_sim/reset"), &json!({})).status, 204);
    assert!(sb.posts().is_empty());
    assert_eq!(get(&sb.url("/_sim/faults")).json(), json!([]));
    assert_eq!(
        userinfo(&sb, &tokens.access_token).status,
        200,
        "revocation forgotten"
    );
    assert_eq!(
        exchange_raw(&sb, &code, REDIRECT_URI, CLIENT_SECRET).status,
        400,
        "codes forgotten"
    );
    // The client is still registered.
    sb.connect("Alex Morgan");
}
