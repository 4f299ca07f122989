//! Dashboard helpers over plain HTTP: an operator created through the service, signing in
//! with the sign-in form (double-submit CSRF cookie), and requests carrying the session
//! cookie and the page's CSRF token.

use crate::support::{Reply, TestApp, send};
use mypostshare::services::operators;

pub const EMAIL: &str = "ops@example.com";
pub const PASSWORD: &str = "correct horse battery";

pub fn create_operator(app: &TestApp) {
    operators::create(
        &app.running.state.db,
        "test",
        EMAIL,
        PASSWORD,
        app.clock_now(),
    )
    .unwrap();
}

/// The value of `name=value` in a Set-Cookie header of the reply.
pub fn set_cookie(reply: &Reply, name: &str) -> Option<String> {
    reply
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, v)| v.split(';').next())
        .filter_map(|pair| pair.split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
}

/// The first hidden `csrf` input of a page.
pub fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("the page has a CSRF field")
        + "name=\"csrf\" value=\"".len();
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

pub struct Operator<'a> {
    pub app: &'a TestApp,
    pub cookie: String,
}

/// Submits the sign-in form; returns the reply (303 with a session cookie on success).
pub fn try_sign_in(app: &TestApp, email: &str, password: &str) -> Reply {
    let page = send("GET", &format!("{}/dashboard/sign-in", app.base), &[], None);
    assert_eq!(page.status, 200, "{}", page.body);
    let pre = set_cookie(&page, "mps_signin").expect("a sign-in CSRF cookie");
    let body = mypostshare::http::encode_query(&[
        ("csrf", &csrf_of(&page.body)),
        ("email", email),
        ("password", password),
        ("next", "/dashboard"),
    ]);
    send(
        "POST",
        &format!("{}/dashboard/sign-in", app.base),
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &format!("mps_signin={pre}")),
            ("Origin", &app.base),
        ],
        Some(&body),
    )
}

pub fn sign_in(app: &TestApp) -> Operator<'_> {
    let reply = try_sign_in(app, EMAIL, PASSWORD);
    assert_eq!(reply.status, 303, "{}", reply.body);
    let token = set_cookie(&reply, "mps_session").expect("a session cookie");
    Operator {
        app,
        cookie: format!("mps_session={token}"),
    }
}

impl Operator<'_> {
    pub fn get(&self, path: &str) -> Reply {
        send(
            "GET",
            &format!("{}{path}", self.app.base),
            &[("Cookie", &self.cookie)],
            None,
        )
    }

    /// A page that must render (200), as HTML.
    pub fn page(&self, path: &str) -> String {
        let reply = self.get(path);
        assert_eq!(reply.status, 200, "GET {path}: {}", reply.body);
        reply.body
    }

    /// POSTs a form with explicit CSRF token and Origin (either may be left out).
    pub fn post_raw(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        csrf: Option<&str>,
        origin: Option<&str>,
    ) -> Reply {
        let mut pairs: Vec<(&str, &str)> = fields.to_vec();
        if let Some(csrf) = csrf {
            pairs.push(("csrf", csrf));
        }
        let body = mypostshare::http::encode_query(&pairs);
        let mut headers = vec![
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", self.cookie.as_str()),
        ];
        if let Some(origin) = origin {
            headers.push(("Origin", origin));
        }
        send(
            "POST",
            &format!("{}{path}", self.app.base),
            &headers,
            Some(&body),
        )
    }

    /// POSTs a form the way the browser does: the CSRF token of the overview page, our Origin.
    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let csrf = csrf_of(&self.page("/dashboard"));
        self.post_raw(path, fields, Some(&csrf), Some(&self.app.base))
    }
}
