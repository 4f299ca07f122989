//! A small synchronous WebDriver client (ureq) for the dashboard's browser tests: starts
//! ChromeDriver on a free loopback port, opens a headless Chromium session with a fresh
//! profile, and offers navigate / find / click / type / read / screenshot. Dropping it ends
//! the session and kills ChromeDriver. A machine without Chromium fails the test with the
//! command that installs it; browser tests are never skipped.

use base64::Engine as _;
use serde_json::{Value, json};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    endpoint: String,
    session: String,
    agent: ureq::Agent,
    _profile: tempfile::TempDir,
}

fn require_installed() {
    for path in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(path).exists(),
            "{path} is missing: the dashboard's browser tests need Debian's Chromium and ChromeDriver. \
             Install them with `apt-get update && apt-get install -y chromium chromium-driver` \
             (scripts/test.sh does this on a fresh machine)."
        );
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    /// Headless Chromium with a window of `width` x `height` CSS pixels.
    pub fn start(width: u32, height: u32) -> Browser {
        require_installed();
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {CHROMEDRIVER}: {e}"));
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(60))
            .build();
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = agent
                .get(&format!("{endpoint}/status"))
                .call()
                .ok()
                .and_then(|r| r.into_string().ok())
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "ChromeDriver did not become ready on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().unwrap();
        let mut browser = Browser {
            driver,
            endpoint,
            session: String::new(),
            agent,
            _profile: profile,
        };
        let args = json!([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            format!("--user-data-dir={}", browser._profile.path().display()),
            format!("--window-size={width},{height}"),
        ]);
        let created = browser.command(
            "POST",
            "/session",
            Some(json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": CHROMIUM, "args": args}
            }}})),
        );
        browser.session = created["sessionId"]
            .as_str()
            .expect("a WebDriver session id")
            .to_string();
        browser.session_command(
            "POST",
            "/timeouts",
            Some(json!({"implicit": 5000, "pageLoad": 30000, "script": 10000})),
        );
        browser
    }

    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let request = self
            .agent
            .request(method, &format!("{}{path}", self.endpoint));
        let result = match body {
            Some(body) => request
                .set("Content-Type", "application/json")
                .send_string(&body.to_string()),
            None => request.call(),
        };
        let reply: Value = match result {
            Ok(r) => serde_json::from_str(&r.into_string().unwrap()).unwrap(),
            Err(ureq::Error::Status(status, r)) => {
                let text = r.into_string().unwrap_or_default();
                panic!("WebDriver {method} {path} answered {status}: {text}")
            }
            Err(e) => panic!("WebDriver {method} {path}: {e}"),
        };
        reply["value"].clone()
    }

    fn session_command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.command(method, &format!("/session/{}{path}", self.session), body)
    }

    pub fn goto(&self, url: &str) {
        self.session_command("POST", "/url", Some(json!({ "url": url })));
    }

    pub fn url(&self) -> String {
        self.session_command("GET", "/url", None)
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn source(&self) -> String {
        self.session_command("GET", "/source", None)
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The element for a CSS selector (waiting up to the implicit timeout), or a panic that
    /// names the selector and the page.
    pub fn find(&self, css: &str) -> String {
        let request = self.agent.request(
            "POST",
            &format!("{}/session/{}/element", self.endpoint, self.session),
        );
        let body = json!({"using": "css selector", "value": css}).to_string();
        match request
            .set("Content-Type", "application/json")
            .send_string(&body)
        {
            Ok(r) => {
                let v: Value = serde_json::from_str(&r.into_string().unwrap()).unwrap();
                v["value"][ELEMENT_KEY]
                    .as_str()
                    .unwrap_or_else(|| panic!("find {css:?}: unexpected answer {v}"))
                    .to_string()
            }
            Err(_) => panic!("no element matches {css:?} on {}", self.url()),
        }
    }

    /// Clicks something that does not leave the page (a copy button, an option).
    pub fn click_in_place(&self, css: &str) {
        let id = self.find(css);
        self.session_command("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    /// Clicks a link or submit button and waits until the next page has loaded.
    pub fn click(&self, css: &str) {
        self.execute("window.__mpsOldPage = true");
        self.click_in_place(css);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let loaded = self.execute(
                "return window.__mpsOldPage === undefined && document.readyState === 'complete'",
            );
            if loaded == Value::Bool(true) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "clicking {css:?} did not load a new page (still on {})",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Clears a field and types into it.
    pub fn fill(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.session_command("POST", &format!("/element/{id}/clear"), Some(json!({})));
        self.session_command(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        );
    }

    pub fn text(&self, css: &str) -> String {
        let id = self.find(css);
        self.session_command("GET", &format!("/element/{id}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits (up to 5 s) until the element's text becomes `expected`, for changes a script makes
    /// asynchronously; returns the last text read.
    pub fn wait_for_text(&self, css: &str, expected: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let text = self.text(css);
            if text == expected || std::time::Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    pub fn property(&self, css: &str, name: &str) -> String {
        let id = self.find(css);
        self.session_command("GET", &format!("/element/{id}/property/{name}"), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn set_window(&self, width: u32, height: u32) {
        self.session_command(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        );
    }

    pub fn execute(&self, script: &str) -> Value {
        self.session_command(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// A screenshot of the whole page at `width`: the window grows to the page's height
    /// (at most 2400 pixels) for the shot, then returns to `width` x `height`.
    pub fn page_screenshot(&self, path: &Path, width: u32, height: u32) -> usize {
        let full = self
            .execute("return document.documentElement.scrollHeight")
            .as_u64()
            .unwrap_or(height as u64)
            .clamp(height as u64, 2400) as u32;
        self.set_window(width, full + 100);
        let size = self.screenshot(path);
        self.set_window(width, height);
        size
    }

    /// Saves a PNG of the viewport and returns its size in bytes.
    pub fn screenshot(&self, path: &Path) -> usize {
        let data = self.session_command("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, &png).unwrap();
        png.len()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self
                .agent
                .delete(&format!("{}/session/{}", self.endpoint, self.session))
                .call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
