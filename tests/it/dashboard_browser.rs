//! The dashboard in a real headless Chromium, driven over WebDriver: an operator signs in,
//! creates an app, creates and revokes a key, edits the redirect allowlist, sets credentials,
//! grants credits (ledger and chart change), finds a post and its attempts, disconnects a
//! user, runs a job and deletes the app. Screenshots of the main pages are taken on the way;
//! with `UPDATE_SCREENSHOTS=1` they are written to `docs/screenshots/`.

use crate::dash::{self, EMAIL, PASSWORD};
use crate::support::TestApp;
use crate::webdriver::Browser;
use serde_json::json;
use std::path::PathBuf;

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 800;

fn screenshot_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
        root.join("docs/screenshots")
    } else {
        root.join("target/screenshots")
    }
}

fn shoot(browser: &Browser, name: &str) {
    let size =
        browser.page_screenshot(&screenshot_dir().join(format!("{name}.png")), WIDTH, HEIGHT);
    assert!(size > 10_000, "{name}: a real picture, not a blank page");
}

#[test]
fn an_operator_runs_the_instance_from_the_browser() {
    let app = TestApp::start();
    dash::create_operator(&app);
    // A connected end user with one published and one failed post.
    app.upsert_user("alice");
    app.connect_linkedin("alice", "Alice Example");
    let published = app.publish("alice", "Launch day: the appliance is live");
    assert_eq!(published.status, 201, "{}", published.body);
    let post_id = published.json()["id"].as_str().unwrap().to_string();
    app.inject_fault(json!({"platform": "linkedin", "kind": "server_error", "status": 500}));
    let failed = app.publish("alice", "This one meets a platform outage");
    assert_eq!(failed.status, 201, "{}", failed.body);
    let failed = app.finish_read_back(failed.json()["id"].as_str().unwrap());
    assert_eq!(failed["status"], "failed", "{failed}");

    let browser = Browser::start(WIDTH, HEIGHT);
    let base = &app.base;

    // Sign-in: the dashboard sends us to the form, then back where we were going.
    browser.goto(&format!("{base}/dashboard/posts"));
    assert!(
        browser.url().contains("/dashboard/sign-in"),
        "{}",
        browser.url()
    );
    browser.fill("#email", EMAIL);
    browser.fill("#password", PASSWORD);
    browser.click("button[type=submit]");
    assert_eq!(browser.text("h1"), "Posts");
    browser.goto(&format!("{base}/dashboard"));
    assert_eq!(browser.text("h1"), "Overview");
    let overview = browser.source();
    assert!(overview.contains("Test org") && overview.contains("<svg"));
    assert!(
        overview.contains("PLATFORM_UNAVAILABLE"),
        "recent failures listed"
    );
    shoot(&browser, "overview");

    // Create an app in the test organization.
    browser.click("a[href='/dashboard/orgs']");
    browser.click(&format!("a[href='/dashboard/orgs/{}']", app.org_id));
    browser.fill("#app_name", "Browser app");
    browser.click("form[action$='/apps'] button");
    assert_eq!(browser.text(".notice"), "App created.");
    assert_eq!(browser.text("h1"), "App Browser app");
    let app_url = browser.url();
    let new_app_id = app_url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();

    // A key: shown once with a copy button, works, then revoked.
    browser.fill("#key_name", "ci key");
    browser.click("form[action$='/keys'] button");
    let key = browser.property("#new-key-value", "value");
    assert!(key.starts_with("mps_live_"), "{key}");
    browser.click_in_place("button[data-copy='new-key-value']");
    assert_eq!(
        browser.wait_for_text("button[data-copy='new-key-value']", "Copied"),
        "Copied"
    );
    assert_eq!(
        app.call_as(&key, "GET", "/api/v1/posts", None).status,
        200,
        "the new key authenticates"
    );
    browser.goto(&app_url);
    assert!(!browser.source().contains(&key), "shown only once");
    browser.click("button[aria-label='Revoke key ci key']");
    assert_eq!(
        browser.text(".notice"),
        "API key revoked. Requests with it now get 401."
    );
    assert!(browser.text("#key-table").contains("revoked"));
    assert_eq!(app.call_as(&key, "GET", "/api/v1/posts", None).status, 401);

    // The redirect allowlist: a refused URI shows its error next to the field, input kept.
    browser.fill("#redirect_uri", "http://shop.example.com/cb");
    browser.click("form[action$='/redirects'] button");
    assert!(browser.text("#redirect_uri-error").contains("https"));
    assert_eq!(
        browser.property("#redirect_uri", "value"),
        "http://shop.example.com/cb"
    );
    browser.fill("#redirect_uri", "https://shop.example.com/cb");
    browser.click("form[action$='/redirects'] button");
    assert!(
        browser
            .text("#redirect-list")
            .contains("https://shop.example.com/cb")
    );
    assert!(
        browser.source().contains("exactly"),
        "the exact-match rule is explained"
    );
    browser.click("button[aria-label='Remove https://shop.example.com/cb']");
    assert_eq!(
        browser.text(".notice"),
        "Redirect URI removed from the allowlist."
    );
    assert!(
        !browser
            .source()
            .contains("<code>https://shop.example.com/cb</code>")
    );

    // Credentials: the callback URL to register, a secret that never comes back.
    browser.click("a[aria-label='Set LinkedIn credentials']");
    assert_eq!(
        browser.text("#callback-url"),
        format!("{base}/oauth/callback/linkedin")
    );
    assert!(browser.source().contains("managed LinkedIn credentials"));
    browser.fill("#client_id", "li-browser-client");
    browser.click("form.stack button");
    assert!(
        browser
            .text("#client_secret-error")
            .contains("client secret")
    );
    assert_eq!(browser.property("#client_id", "value"), "li-browser-client");
    browser.fill("#client_secret", "li-browser-secret-value");
    browser.click("form.stack button");
    assert!(browser.text(".notice").starts_with("Credentials saved."));
    let app_page = browser.source();
    assert!(app_page.contains("li-browser-client"));
    assert!(!app_page.contains("li-browser-secret-value"));
    browser.goto(&app_url);
    shoot(&browser, "app");

    // Credits: grant, then the ledger and the chart show it.
    let today = app.clock_now().format("%Y-%m-%d").to_string();
    browser.goto(&format!("{base}/dashboard/credits/{}", app.org_id));
    let before = browser.property("#balance", "textContent");
    assert!(
        browser
            .source()
            .contains(&format!("{today}: 1000 credits granted"))
    );
    browser.fill("#amount", "abc");
    browser.click("form[action$='/grant'] button");
    assert!(browser.text("#amount-error").contains("whole number"));
    browser.fill("#amount", "250");
    browser.fill("#note", "invoice 42");
    browser.click("form[action$='/grant'] button");
    assert_eq!(browser.text(".notice"), "Credits granted.");
    let after: i64 = browser.property("#balance", "textContent").parse().unwrap();
    assert_eq!(after, before.parse::<i64>().unwrap() + 250);
    let ledger = browser.text("#ledger-table");
    assert!(
        ledger.contains("invoice 42") && ledger.contains("250"),
        "{ledger}"
    );
    assert!(
        browser
            .source()
            .contains(&format!("{today}: 1250 credits granted"))
    );
    assert!(
        browser
            .source()
            .contains(&format!("href=\"/dashboard/posts/{post_id}\"")),
        "charges link their post"
    );
    shoot(&browser, "credits");

    // Posts: filter, open the published one, see its attempts and cost.
    browser.goto(&format!("{base}/dashboard/posts"));
    browser.click_in_place("#status option[value='published']");
    browser.click_in_place("#platform option[value='linkedin']");
    browser.click("form.filters button");
    let table = browser.text("#post-table");
    assert!(table.contains("Launch day"), "{table}");
    assert!(!table.contains("platform outage"), "filtered by status");
    shoot(&browser, "posts");
    browser.click(&format!("a[href='/dashboard/posts/{post_id}']"));
    assert_eq!(browser.text("h1"), "Post");
    let attempts = browser.text("table.attempts");
    assert!(
        attempts.contains("201") && attempts.contains(" ms"),
        "{attempts}"
    );
    assert!(browser.source().contains("5 charged, net cost 5"));
    shoot(&browser, "post");

    // End users: find alice, disconnect LinkedIn.
    browser.goto(&format!("{base}/dashboard/end-users"));
    browser.fill("#q", "ali");
    browser.click("form.filters button");
    browser.click("a[href^='/dashboard/end-users/']");
    assert!(browser.source().contains("active"));
    browser.click("button[aria-label='Disconnect LinkedIn']");
    assert_eq!(
        browser.text(".notice"),
        "Disconnected. The tokens were deleted."
    );
    assert!(browser.source().contains(">revoked<"));
    let over_api = app.get("/api/v1/end-users/alice/connections").json();
    assert_eq!(over_api[0]["tokenStatus"], "revoked");

    // Logs: the API requests and the audit trail of what we just did.
    browser.goto(&format!("{base}/dashboard/logs/requests?status=2xx"));
    assert!(browser.source().contains("/api/v1/posts"));
    shoot(&browser, "logs");
    browser.goto(&format!("{base}/dashboard/logs/audit?action=api_key"));
    let audit = browser.source();
    assert!(audit.contains("api_key.revoke") && audit.contains(EMAIL));

    // Jobs: run one now.
    browser.goto(&format!("{base}/dashboard/jobs"));
    browser.click("button[aria-label='Run dispatch_due_deliveries now']");
    assert_eq!(browser.text(".notice"), "Job ran.");
    assert!(browser.text("#job-table").contains("queued 0 deliveries"));
    shoot(&browser, "jobs");

    // Delete the app, through its confirmation step.
    browser.goto(&app_url);
    browser.click(&format!("a[href='/dashboard/apps/{new_app_id}/delete']"));
    assert!(browser.text("h1").starts_with("Delete app"));
    browser.click("#confirm-delete");
    assert_eq!(browser.text(".notice"), "App deleted.");
    assert!(!browser.source().contains("Browser app"));

    // A phone-sized window still shows the navigation and the content.
    browser.set_window(390, 844);
    browser.goto(&format!("{base}/dashboard"));
    let size = browser.screenshot(&screenshot_dir().join("overview-phone.png"));
    assert!(size > 5_000);
    let overflow = browser
        .execute("return document.documentElement.scrollWidth > window.innerWidth + 1")
        .as_bool()
        .unwrap();
    assert!(!overflow, "no horizontal scrolling on a phone");
    browser.set_window(WIDTH, HEIGHT);

    // Sign out.
    browser.click(".signout button");
    assert!(browser.url().contains("/dashboard/sign-in"));
    browser.goto(&format!("{base}/dashboard"));
    assert!(browser.url().contains("/dashboard/sign-in"));
}
