//! What every dashboard page shares: the layout data of `base.html` (title, nav, signed-in
//! operator, CSRF token, notice), the form state that keeps input and shows errors next to each
//! field, pagination links, and small formatting helpers called from templates.

use crate::http::{Request, encode_query};

/// Rows per page of every paginated list.
pub const PAGE_SIZE: i64 = 50;

/// The navigation: (key, label, href).
pub const NAV: &[(&str, &str, &str)] = &[
    ("overview", "Overview", "/dashboard"),
    ("orgs", "Organizations & apps", "/dashboard/orgs"),
    ("end-users", "End users", "/dashboard/end-users"),
    ("posts", "Posts", "/dashboard/posts"),
    ("credits", "Credits", "/dashboard/credits"),
    ("logs", "Logs", "/dashboard/logs/requests"),
    ("jobs", "Jobs", "/dashboard/jobs"),
    ("operators", "Operators", "/dashboard/operators"),
];

pub struct Layout {
    pub title: String,
    pub active: &'static str,
    pub email: String,
    pub csrf: String,
    pub notice: Option<&'static str>,
}

impl Layout {
    pub fn nav(&self) -> &'static [(&'static str, &'static str, &'static str)] {
        NAV
    }
}

/// Messages shown after a successful change (`?ok=code` on the redirect), from a fixed list so
/// a crafted link cannot put words on the page.
pub fn notice(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "org-created" => "Organization created.",
        "org-renamed" => "Organization renamed.",
        "org-deleted" => "Organization deleted.",
        "app-created" => "App created.",
        "app-renamed" => "App renamed.",
        "app-deleted" => "App deleted.",
        "key-revoked" => "API key revoked. Requests with it now get 401.",
        "redirect-added" => "Redirect URI added to the allowlist.",
        "redirect-removed" => "Redirect URI removed from the allowlist.",
        "credentials-saved" => {
            "Credentials saved. The secret is encrypted and will not be shown again."
        }
        "limits-saved" => "Rate limits saved. They apply from the app's next request.",
        "credits-granted" => "Credits granted.",
        "threshold-saved" => {
            "Low-credit threshold saved. A charge that takes the balance below it sends credits.low."
        }
        "disconnected" => "Disconnected. The tokens were deleted.",
        "job-ran" => "Job ran.",
        "operator-added" => "Operator added.",
        "operator-removed" => "Operator removed.",
        "webhook-enabled" => "Webhook endpoint enabled. New events are sent to it again.",
        "webhook-disabled" => {
            "Webhook endpoint disabled. Its pending deliveries were failed; nothing more is sent."
        }
        "webhook-test-queued" => "Test event queued. It appears below once it was sent.",
        "webhook-resent" => "Delivery queued again, with the same webhook-id.",
        "webhook-removed" => "Webhook endpoint removed, with its deliveries.",
        _ => return None,
    })
}

/// Submitted values (kept when the form is shown again) and errors per field.
#[derive(Default)]
pub struct Form {
    values: Vec<(String, String)>,
    errors: Vec<(String, String)>,
}

impl Form {
    pub fn from_request(req: &Request) -> Form {
        Form {
            values: req.form(),
            errors: Vec::new(),
        }
    }

    pub fn empty() -> Form {
        Form::default()
    }

    pub fn value(&self, name: &str) -> &str {
        crate::http::form_value(&self.values, name).unwrap_or("")
    }

    pub fn trimmed(&self, name: &str) -> String {
        self.value(name).trim().to_string()
    }

    pub fn error(&self, name: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, m)| m.as_str())
    }

    pub fn add_error(&mut self, name: &str, message: impl Into<String>) {
        self.errors.push((name.to_string(), message.into()));
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Forgets a value that must not be echoed back (passwords, secrets).
    pub fn forget(&mut self, name: &str) {
        self.values.retain(|(n, _)| n != name);
    }

    /// Sets a value shown in the form (defaults when nothing was submitted).
    pub fn set(&mut self, name: &str, value: &str) {
        self.values.retain(|(n, _)| n != name);
        self.values.push((name.to_string(), value.to_string()));
    }
}

/// Previous/next links of a list that keeps its filters.
pub struct Pager {
    pub prev: Option<String>,
    pub next: Option<String>,
    pub page: i64,
}

impl Pager {
    pub fn new(req: &Request, more: bool) -> Pager {
        let page = page_number(req);
        let link = |to: i64| {
            let mut pairs: Vec<(&str, String)> = req
                .query
                .iter()
                .filter(|(k, v)| k != "page" && k != "ok" && !v.is_empty())
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect();
            pairs.push(("page", to.to_string()));
            let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            format!("{}?{}", req.path, encode_query(&refs))
        };
        Pager {
            prev: (page > 1).then(|| link(page - 1)),
            next: more.then(|| link(page + 1)),
            page,
        }
    }
}

/// The 1-based `page` of the query.
pub fn page_number(req: &Request) -> i64 {
    req.query_param("page")
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|p| *p >= 1 && *p < 1_000_000)
        .unwrap_or(1)
}

pub fn offset(req: &Request) -> i64 {
    (page_number(req) - 1) * PAGE_SIZE
}

/// A stored timestamp as `2026-03-21 08:00 UTC`.
pub fn when(at: &str) -> String {
    if at.len() >= 16 {
        format!("{} {} UTC", &at[..10], &at[11..16])
    } else {
        at.to_string()
    }
}

pub fn when_opt(at: &Option<String>) -> String {
    at.as_deref().map(when).unwrap_or_else(|| "never".into())
}

pub fn or_dash(text: &Option<String>) -> String {
    text.clone().unwrap_or_else(|| "—".into())
}

/// A query parameter, trimmed, `None` when empty.
pub fn param(req: &Request, name: &str) -> Option<String> {
    req.query_param(name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}
