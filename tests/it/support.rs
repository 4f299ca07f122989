//! The test harness: `TestApp` starts the real appliance (sandbox on) on 127.0.0.1:0 with a
//! temporary SQLite file and an adjustable clock, bootstraps an organization, an app, an
//! allowlisted redirect and an API key through the same services the CLI uses, and offers a
//! small HTTP client plus a "browser" that walks the hosted connect pages. Every answer of the
//! API that the client receives is checked against the OpenAPI document's schemas.

#![allow(dead_code)]

use mypostshare::clock::{Clock, OffsetClock};
use mypostshare::config::{Config, JobSchedules};
use mypostshare::crypto::MasterKey;
use mypostshare::services::{apps, keys};
use mypostshare::{Running, start};
use serde_json::Value;
use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const REDIRECT: &str = "https://client.example.com/oauth/callback";

pub struct TestApp {
    pub running: Running,
    pub clock: Arc<OffsetClock>,
    pub base: String,
    pub key: String,
    pub app_id: String,
    pub org_id: String,
    pub dir: tempfile::TempDir,
}

pub struct Reply {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Asserts an error reply in the spec's shape and returns its `code`.
    pub fn error_code(&self, status: u16) -> String {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        let v = self.json();
        assert_eq!(v["statusCode"], status, "{v}");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
        assert!(v["error"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
        v["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no code in {v}"))
            .to_string()
    }
}

pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(Duration::from_secs(30))
        .build()
}

/// Sends a request and returns any status as a reply (ureq treats 4xx/5xx as errors).
pub fn send(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Reply {
    let mut request = agent().request(method, url);
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let result = match body {
        Some(body) => request.send_string(body),
        None => request.call(),
    };
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    let status = response.status();
    let headers = response
        .headers_names()
        .into_iter()
        .map(|n| {
            let v = response.header(&n).unwrap_or_default().to_string();
            (n, v)
        })
        .collect();
    let body = response.into_string().unwrap_or_default();
    let reply = Reply {
        status,
        body,
        headers,
    };
    check_conformance(method, url, &reply);
    reply
}

/// The API's OpenAPI document, as `/api/openapi.json` serves it, and one compiled validator per
/// response schema it names.
struct Conformance {
    document: Value,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

fn conformance() -> &'static Conformance {
    static CONFORMANCE: OnceLock<Conformance> = OnceLock::new();
    CONFORMANCE.get_or_init(|| Conformance {
        document: mypostshare::openapi::document("http://appliance.test"),
        validators: Mutex::new(HashMap::new()),
    })
}

static CHECKED_REPLIES: AtomicUsize = AtomicUsize::new(0);

/// How many API answers this test binary checked against the document so far.
pub fn checked_replies() -> usize {
    CHECKED_REPLIES.load(Ordering::SeqCst)
}

/// The document's path template (`/v1/posts/{id}`) that a request path fits, as the router
/// reads it: empty segments dropped, `{name}` for any one segment, literal paths first.
pub fn path_template(document: &Value, path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let templates = document["paths"].as_object()?;
    let fits = |template: &str| {
        let parts: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
        parts.len() == segments.len()
            && parts
                .iter()
                .zip(&segments)
                .all(|(part, segment)| part.starts_with('{') || part == segment)
    };
    let literal = templates.keys().find(|t| !t.contains('{') && fits(t));
    literal
        .or_else(|| templates.keys().find(|t| fits(t)))
        .cloned()
}

fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Where the document says what an answer to `method` on `template` with `status` looks like:
/// the operation's response for that status, else its `default`. A path or method the document
/// does not have may only answer with an error (404, 405), so it is held to the error schema.
pub fn response_pointer(
    document: &Value,
    method: &str,
    template: Option<&str>,
    status: u16,
) -> String {
    let method = method.to_ascii_lowercase();
    if let Some(template) = template
        && let Some(operation) = document["paths"][template].get(&method)
    {
        let base = format!("/paths/{}/{method}/responses", escape_pointer(template));
        let key = if operation["responses"].get(status.to_string()).is_some() {
            status.to_string()
        } else {
            "default".to_string()
        };
        return format!("{base}/{key}");
    }
    "/components/responses/UndocumentedRequest".to_string()
}

/// The errors of `body` against the schema the document gives for this answer (empty when it
/// conforms). `path` is the request path without `/api` (`/v1/...`).
pub fn conformance_errors(method: &str, path: &str, status: u16, body: &str) -> Vec<String> {
    let c = conformance();
    let template = path_template(&c.document, path);
    let pointer = response_pointer(&c.document, method, template.as_deref(), status);
    let schema_pointer = if pointer.starts_with("/components/responses/") {
        "/components/schemas/Error".to_string()
    } else {
        let response = c.document.pointer(&pointer).expect("the response exists");
        if response.get("content").is_none() {
            // No body documented (204): none may come.
            return if body.is_empty() {
                Vec::new()
            } else {
                vec![format!("{pointer} documents no body, got {body}")]
            };
        }
        format!("{pointer}/content/application~1json/schema")
    };
    let instance: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => {
            return vec![format!(
                "{pointer} documents a JSON body; got ({e}): {body:?}"
            )];
        }
    };
    let validator = {
        // A failed test elsewhere must not turn every later check into a poisoned lock.
        let mut cache = c.validators.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(schema_pointer.clone())
            .or_insert_with(|| {
                // The whole document as the root, so the schema's `#/components/...`
                // references resolve; its other members are unknown keywords to JSON Schema.
                let mut root = c.document.clone();
                root["$schema"] = Value::from("https://json-schema.org/draft/2020-12/schema");
                // Braces of path templates are not allowed in a URI fragment as they are.
                let fragment = schema_pointer.replace('{', "%7B").replace('}', "%7D");
                root["$ref"] = Value::from(format!("#{fragment}"));
                Arc::new(
                    jsonschema::draft202012::new(&root)
                        .unwrap_or_else(|e| panic!("the schema at {schema_pointer} compiles: {e}")),
                )
            })
            .clone()
    };
    validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}: {e}", schema_pointer, e.instance_path()))
        .collect()
}

/// Every answer of the API (`/api/v1/...` or `/v1/...`) that a test receives is held to the
/// OpenAPI document: the test fails with the schema's errors when the body does not conform.
fn check_conformance(method: &str, url: &str, reply: &Reply) {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("/", |at| &after_scheme[at..]);
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let path = path.strip_prefix("/api").unwrap_or(path);
    if !(path == "/v1" || path.starts_with("/v1/")) {
        return;
    }
    // HEAD answers carry no body; OPTIONS answers the allowed methods, with no body.
    if method.eq_ignore_ascii_case("HEAD")
        || (method.eq_ignore_ascii_case("OPTIONS") && reply.body.is_empty())
    {
        return;
    }
    let errors = conformance_errors(method, path, reply.status, &reply.body);
    CHECKED_REPLIES.fetch_add(1, Ordering::SeqCst);
    assert!(
        errors.is_empty(),
        "{method} {url} answered {} with a body that breaks the OpenAPI document:\n  {}\nbody: {}",
        reply.status,
        errors.join("\n  "),
        reply.body
    );
}

pub fn query_pairs(url: &str) -> Vec<(String, String)> {
    mypostshare::http::parse_query(url.split_once('?').map(|(_, q)| q).unwrap_or(""))
}

pub fn query_value(url: &str, name: &str) -> Option<String> {
    query_pairs(url)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

fn html_unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&")
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let needle = format!("{name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')? + start;
    Some(html_unescape(&tag[start..end]))
}

/// The first form of a page: its action and its hidden and text inputs with their values.
pub fn parse_form(html: &str) -> (String, Vec<(String, String)>) {
    let form_start = html.find("<form").expect("the page has a form");
    let form_tag_end = html[form_start..].find('>').unwrap() + form_start;
    let action = attribute(&html[form_start..form_tag_end], "action").expect("form action");
    let form_end = html[form_start..].find("</form>").unwrap() + form_start;
    let mut fields = Vec::new();
    let mut rest = &html[form_start..form_end];
    while let Some(at) = rest.find("<input") {
        let end = rest[at..].find('>').unwrap() + at;
        let tag = &rest[at..end];
        if let Some(name) = attribute(tag, "name") {
            fields.push((name, attribute(tag, "value").unwrap_or_default()));
        }
        rest = &rest[end..];
    }
    (action, fields)
}

pub struct Setup {
    pub sandbox_refresh_tokens: bool,
    pub access_token_ttl: Option<chrono::Duration>,
    pub credits: i64,
    pub publish_budget: Duration,
    /// Any other change to the declared defaults (trusted proxies, rate limits, a shorter
    /// webhook retry schedule, ...).
    pub configure: fn(&mut Config),
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            sandbox_refresh_tokens: false,
            access_token_ttl: None,
            credits: 1000,
            publish_budget: declared_defaults().publish_time_budget,
            configure: |_| {},
        }
    }
}

/// The configuration the binary starts with (every declared default), on a throwaway path.
pub fn declared_defaults() -> Config {
    Config::new(
        "unused.db",
        MasterKey::from_material("test master key material, 32+ chars"),
    )
}

impl TestApp {
    pub fn start() -> TestApp {
        Self::start_with(Setup::default())
    }

    pub fn start_with(setup: Setup) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let clock = OffsetClock::new();
        // The binary's own defaults (the one declaration in `config`), then what a test needs.
        let mut config = Config::new(
            dir.path().join("test.db"),
            MasterKey::from_material("test master key material, 32+ chars"),
        );
        config.sandbox = true;
        config.publish_time_budget = setup.publish_budget;
        config.sandbox_settings.issue_refresh_tokens = setup.sandbox_refresh_tokens;
        if let Some(ttl) = setup.access_token_ttl {
            config.sandbox_settings.access_token_ttl = ttl;
        }
        // Tests run jobs on demand instead of waiting for their schedule.
        config.jobs = JobSchedules::all_off();
        (setup.configure)(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let running = start(config, listener, clock.clone()).expect("the appliance starts");
        let base = running.base_url();
        let state = running.state.clone();
        let now = clock.now();
        let org =
            apps::create_organization(&state.db, "test", "Test org", setup.credits, now).unwrap();
        let app = apps::create_app(&state.db, "test", &org.id, "Test app", now).unwrap();
        apps::add_redirect_uri(&state.db, "test", &app.id, REDIRECT, now).unwrap();
        let (_, key) = keys::create(&state.db, "test", &app.id, "test key", now).unwrap();
        TestApp {
            running,
            clock,
            base,
            key,
            app_id: app.id,
            org_id: org.id,
            dir,
        }
    }

    /// A second app (own org, key and allowlist) on the same instance, for tenancy tests.
    pub fn second_tenant(&self) -> (String, String) {
        let state = &self.running.state;
        let now = self.clock.now();
        let org = apps::create_organization(&state.db, "test", "Other org", 1000, now).unwrap();
        let app = apps::create_app(&state.db, "test", &org.id, "Other app", now).unwrap();
        apps::add_redirect_uri(&state.db, "test", &app.id, REDIRECT, now).unwrap();
        let (_, key) = keys::create(&state.db, "test", &app.id, "other key", now).unwrap();
        (app.id, key)
    }

    /// Turns this app's publishing rate limit off (its own setting, as an operator would), for
    /// tests that send more posts at once than the default burst of 10 and test something else.
    pub fn lift_publishing_limit(&self) {
        use mypostshare::services::{Patch, rate_limits};
        let change = rate_limits::LimitsChange {
            publish_requests_per_minute: Patch::Set(0),
            ..Default::default()
        };
        rate_limits::set(
            &self.running.state.db,
            "test",
            &self.app_id,
            &change,
            self.clock.now(),
        )
        .unwrap();
    }

    pub fn call_as(&self, key: &str, method: &str, path: &str, body: Option<Value>) -> Reply {
        let auth = format!("Bearer {key}");
        let body = body.map(|b| b.to_string());
        send(
            method,
            &format!("{}{path}", self.base),
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.as_deref(),
        )
    }

    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.call_as(&self.key, method, path, body)
    }

    pub fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None)
    }

    pub fn post(&self, path: &str, body: Value) -> Reply {
        self.call("POST", path, Some(body))
    }

    pub fn balance(&self) -> i64 {
        self.running
            .state
            .db
            .read(|c| mypostshare::services::credits::balance(c, &self.org_id))
            .unwrap()
    }

    pub fn upsert_user(&self, external_user_id: &str) {
        let r = self.post(
            "/api/v1/end-users",
            serde_json::json!({"externalUserId": external_user_id}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }

    pub fn create_session(&self, external_user_id: &str) -> Value {
        self.create_session_for(external_user_id, "linkedin")
    }

    pub fn create_session_for(&self, external_user_id: &str, platform: &str) -> Value {
        let r = self.post(
            "/api/v1/connect-sessions",
            serde_json::json!({"externalUserId": external_user_id, "platform": platform, "redirectUri": REDIRECT}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()
    }

    /// Walks the hosted pages like a browser up to the platform's consent page and returns
    /// that page's form (action URL, fields).
    pub fn open_consent_page(&self, connect_url: &str) -> (String, Vec<(String, String)>) {
        open_consent_page_at(&self.base, connect_url)
    }

    /// Presses Allow or Deny on the consent page; returns the platform's redirect to our
    /// callback (not yet followed).
    pub fn decide(
        &self,
        form: &(String, Vec<(String, String)>),
        decision: &str,
        member: &str,
    ) -> String {
        decide_at(&self.base, form, decision, member)
    }

    /// Follows the platform's redirect to our callback; returns the reply (a redirect to the
    /// customer, or an error page).
    pub fn follow_callback(&self, callback: &str) -> Reply {
        send("GET", callback, &[], None)
    }

    /// The whole hosted flow with Allow; returns the final redirect to the customer.
    pub fn connect_linkedin(&self, external_user_id: &str, member: &str) -> String {
        self.connect(external_user_id, "linkedin", member)
    }

    /// The whole hosted flow on any simulated platform with Allow (the consent page's other
    /// fields, such as a Page choice, keep their defaults); returns the final redirect.
    pub fn connect(&self, external_user_id: &str, platform: &str, member: &str) -> String {
        connect_at(&self.base, &self.key, external_user_id, platform, member)
    }

    pub fn publish(&self, external_user_id: &str, content: &str) -> Reply {
        self.post("/api/v1/posts", serde_json::json!({"externalUserId": external_user_id, "content": content, "platforms": ["linkedin"]}))
    }

    pub fn sim_posts(&self) -> Vec<Value> {
        self.sim_posts_of("linkedin")
    }

    /// What the simulated platform accepted.
    pub fn sim_posts_of(&self, platform: &str) -> Vec<Value> {
        let url = format!("{}/sandbox/_sim/{platform}/posts", self.base);
        send("GET", &url, &[], None)
            .json()
            .as_array()
            .cloned()
            .unwrap()
    }

    /// The posts the simulator still holds live for `platform`: a deleted one is gone from
    /// its record, or marked `"deleted": true` there.
    pub fn live_sim_posts_of(&self, platform: &str) -> usize {
        self.sim_posts_of(platform)
            .iter()
            .filter(|post| post["deleted"] != serde_json::json!(true))
            .count()
    }

    /// The faults queued in the simulator and not yet spent.
    pub fn queued_faults(&self) -> Vec<Value> {
        send(
            "GET",
            &format!("{}/sandbox/_sim/faults", self.base),
            &[],
            None,
        )
        .json()
        .as_array()
        .cloned()
        .unwrap()
    }

    /// A sample media URL the simulator serves on loopback (`sample.png`, `sample.gif`,
    /// `sample.mp4`, optionally `?bytes=N`).
    pub fn sample_media(&self, name: &str) -> String {
        format!("{}/sandbox/_sim/media/{name}", self.base)
    }

    /// Disconnects `external_user_id`'s `platform` through the API and answers whether the
    /// refresh token the connection held still refreshes at the platform afterwards (the
    /// adapter's own refresh call, with the connection's credentials).
    pub fn refresh_token_survives_disconnect(
        &self,
        external_user_id: &str,
        platform: &str,
    ) -> bool {
        let state = &self.running.state;
        let id = self
            .get(&format!("/api/v1/end-users/{external_user_id}/connections"))
            .json()
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["platform"] == platform)
            .map(|c| c["id"].as_str().unwrap().to_string())
            .expect("a connection of that platform");
        let connection = state
            .db
            .read(|c| mypostshare::services::connections::get(c, &id))
            .unwrap()
            .unwrap();
        let refresh_token = connection
            .refresh_token(&state.sealer)
            .expect("the connection holds a refresh token");
        let credentials = state
            .credentials
            .for_connection(&connection)
            .unwrap()
            .unwrap();
        let gone = self.call(
            "DELETE",
            &format!("/api/v1/end-users/{external_user_id}/connections/{platform}"),
            None,
        );
        assert_eq!(gone.status, 204, "{}", gone.body);
        let provider = state
            .providers
            .get(mypostshare::providers::parse_platform(platform).unwrap())
            .unwrap();
        provider.refresh(&credentials, &refresh_token).is_ok()
    }

    /// Changes test settings of a simulated platform through `/_sim/{platform}/settings`;
    /// returns its settings as they are now.
    pub fn sim_settings(&self, platform: &str, changes: Value) -> Value {
        let r = send(
            "POST",
            &format!("{}/sandbox/_sim/{platform}/settings", self.base),
            &[("Content-Type", "application/json")],
            Some(&changes.to_string()),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    pub fn inject_fault(&self, fault: Value) {
        let r = send(
            "POST",
            &format!("{}/sandbox/_sim/faults", self.base),
            &[("Content-Type", "application/json")],
            Some(&fault.to_string()),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }

    pub fn run_job(&self, name: &str) -> String {
        self.running.state.scheduler.run_job(name).unwrap()
    }

    /// Polls a post until `done(post)` or a generous deadline (the engine works on its own
    /// threads); returns the last reading.
    pub fn wait_for_post(&self, id: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let post = self.get(&format!("/api/v1/posts/{id}")).json();
            if done(&post) || Instant::now() > deadline {
                return post;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl TestApp {
    /// Lets the read-back delay pass, runs the dispatcher once, and waits until post `id`
    /// leaves `processing`: a publish whose publishing call met a 5xx or no answer is decided
    /// by reading the platform back (README, "Outcome unknown, resolved"). The post as it ends.
    pub fn finish_read_back(&self, id: &str) -> Value {
        let delay = chrono::Duration::from_std(self.running.state.config.reconcile_delay)
            .expect("a read-back delay of sane size");
        self.clock.advance(delay + chrono::Duration::seconds(1));
        self.run_job("dispatch_due_deliveries");
        self.wait_for_post(id, |p| p["status"] != "processing")
    }

    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}

/// Walks the hosted pages of the instance at `base` like a browser up to the platform's
/// consent page and returns that page's form (action URL, fields).
pub fn open_consent_page_at(base: &str, connect_url: &str) -> (String, Vec<(String, String)>) {
    let page = send("GET", connect_url, &[], None);
    assert_eq!(page.status, 200, "{}", page.body);
    let (action, fields) = parse_form(&page.body);
    let encoded = mypostshare::http::encode_query(
        &fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
    );
    let continued = send(
        "POST",
        &format!("{base}{action}"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(&encoded),
    );
    assert_eq!(continued.status, 303, "{}", continued.body);
    let authorize = continued.header("location").unwrap().to_string();
    let consent = send("GET", &authorize, &[], None);
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(consent.body.contains(">Allow<") && consent.body.contains(">Deny<"));
    parse_form(&consent.body)
}

/// Presses Allow or Deny on a consent page of the instance at `base`; returns the platform's
/// redirect to our callback (not yet followed).
pub fn decide_at(
    base: &str,
    form: &(String, Vec<(String, String)>),
    decision: &str,
    member: &str,
) -> String {
    let (action, fields) = form;
    let mut pairs: Vec<(&str, &str)> = fields
        .iter()
        .filter(|(k, _)| k != "member_name")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.push(("member_name", member));
    pairs.push(("decision", decision));
    let body = mypostshare::http::encode_query(&pairs);
    let r = send(
        "POST",
        &format!("{base}{action}"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(&body),
    );
    assert_eq!(r.status, 302, "{}", r.body);
    r.header("location").unwrap().to_string()
}

/// The whole hosted flow with Allow against the instance at `base` (a `TestApp` or a server
/// run as a child process) for an end user that exists; returns the final redirect.
pub fn connect_at(
    base: &str,
    key: &str,
    external_user_id: &str,
    platform: &str,
    member: &str,
) -> String {
    let body = serde_json::json!({"externalUserId": external_user_id, "platform": platform, "redirectUri": REDIRECT}).to_string();
    let auth = format!("Bearer {key}");
    let session = send(
        "POST",
        &format!("{base}/api/v1/connect-sessions"),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        Some(&body),
    );
    assert_eq!(session.status, 201, "{}", session.body);
    let form = open_consent_page_at(base, session.json()["connectUrl"].as_str().unwrap());
    let callback = decide_at(base, &form, "allow", member);
    let done = send("GET", &callback, &[], None);
    assert_eq!(done.status, 302, "{}", done.body);
    let location = done.header("location").unwrap().to_string();
    assert_eq!(
        query_value(&location, "status").as_deref(),
        Some("connected"),
        "{location}"
    );
    location
}

/// The binary's admin command line on a database file, with `--json`; `key` is put in
/// `MYPOSTSHARE_SECRET_KEY` (or the variable removed, so that the key file is used) and `stdin`
/// fed to it. Returns the finished process's output, whatever its status.
pub fn mypostshare(
    db: &std::path::Path,
    args: &[&str],
    key: Option<&str>,
    stdin: Option<&str>,
) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut command = Command::new(env!("CARGO_BIN_EXE_mypostshare"));
    command
        .arg("--db")
        .arg(db)
        .arg("--json")
        .args(args)
        .env_remove("MYPOSTSHARE_SECRET_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(key) = key {
        command.env("MYPOSTSHARE_SECRET_KEY", key);
    }
    let mut child = command.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// `mypostshare` that must succeed; returns its one JSON object.
pub fn mypostshare_ok(db: &std::path::Path, args: &[&str], key: Option<&str>) -> Value {
    let output = mypostshare(db, args, key, None);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// `mypostshare` that must fail; returns its stderr.
pub fn mypostshare_fails(db: &std::path::Path, args: &[&str], key: Option<&str>) -> String {
    let output = mypostshare(db, args, key, None);
    assert!(
        !output.status.success(),
        "{args:?} should fail: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stderr).unwrap()
}

/// An organization with credits, an app with the test redirect allowlisted and an API key,
/// made with the admin command line. Returns (app id, API key).
pub fn bootstrap_with_cli(db: &std::path::Path, key: Option<&str>) -> (String, String) {
    let org = mypostshare_ok(db, &["org", "create", "--name", "Acme"], key);
    let org_id = org["id"].as_str().unwrap().to_string();
    let app = mypostshare_ok(
        db,
        &["app", "create", "--org", &org_id, "--name", "Acme app"],
        key,
    );
    let app_id = app["id"].as_str().unwrap().to_string();
    let api_key = mypostshare_ok(
        db,
        &["key", "create", "--app", &app_id, "--name", "backend"],
        key,
    )["key"]
        .as_str()
        .unwrap()
        .to_string();
    mypostshare_ok(
        db,
        &["redirect", "add", "--app", &app_id, "--uri", REDIRECT],
        key,
    );
    mypostshare_ok(
        db,
        &["credits", "grant", "--org", &org_id, "--amount", "500"],
        key,
    );
    (app_id, api_key)
}

/// A free loopback port (bound and released; the caller binds it again at once).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `mypostshare serve --sandbox` as a child process on a database file; dropping it SIGKILLs
/// it. Its stderr goes to `<db>.serve.log`, shown when it fails to start.
pub struct ChildServer {
    pub child: std::process::Child,
    pub base: String,
}

impl ChildServer {
    pub fn start(db: &std::path::Path, key: &str, env: &[(&str, &str)]) -> ChildServer {
        Self::start_with_flags(db, key, env, &[])
    }

    /// `start` with global flags before `serve` (`--log-format json`).
    pub fn start_with_flags(
        db: &std::path::Path,
        key: &str,
        env: &[(&str, &str)],
        global_flags: &[&str],
    ) -> ChildServer {
        let port = free_port();
        Self::serve(db, key, env, global_flags, port, &["--sandbox"])
    }

    /// `mypostshare serve` on `127.0.0.1:port` with `serve_flags` (e.g. `--simulator-url`
    /// instead of `--sandbox`); the same port across restarts keeps the public URL, and with it
    /// the OAuth callbacks registered with a standalone simulator.
    pub fn serve(
        db: &std::path::Path,
        key: &str,
        env: &[(&str, &str)],
        global_flags: &[&str],
        port: u16,
        serve_flags: &[&str],
    ) -> ChildServer {
        use std::process::{Command, Stdio};
        let log_path = db.with_extension("serve.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_mypostshare"))
            .arg("--db")
            .arg(db)
            .args(global_flags)
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .args(serve_flags)
            .env("MYPOSTSHARE_SECRET_KEY", key)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        // Generous: only a broken start takes long, and the exit check ends that at once.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "serve exited ({status}): {}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "serve did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let base = format!("http://127.0.0.1:{port}");
        let health = send("GET", &format!("{base}/healthz"), &[], None);
        assert_eq!(health.status, 200, "{}", health.body);
        ChildServer { child, base }
    }

    /// SIGKILL: nothing is finished or cleaned up, as in a crash.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn call(&self, api_key: &str, method: &str, path: &str, body: Option<Value>) -> Reply {
        let auth = format!("Bearer {api_key}");
        let body = body.map(|b| b.to_string());
        send(
            method,
            &format!("{}{path}", self.base),
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.as_deref(),
        )
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `mypostshare sandbox` (the platform simulator alone) as a child process, with OAuth clients
/// registered (`PLATFORM:ID:SECRET:REDIRECT_URI`); it outlives the appliances that call it, so
/// what the platforms accepted survives their kills. Dropping it kills it.
pub struct ChildSimulator {
    pub child: std::process::Child,
    pub base: String,
}

impl ChildSimulator {
    pub fn start(clients: &[String]) -> ChildSimulator {
        use std::process::{Command, Stdio};
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_mypostshare"));
        command.args(["sandbox", "--addr", &format!("127.0.0.1:{port}")]);
        for client in clients {
            command.args(["--client", client]);
        }
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the simulator exited ({status})");
            }
            assert!(Instant::now() < deadline, "the simulator did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        ChildSimulator {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for ChildSimulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
