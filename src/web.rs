//! Shared pieces of the HTML surfaces: embedded static assets, the one message page, and the
//! demo callback page that `serve --sandbox` allowlists for its walkthrough.

use crate::http::{Request, Response};
use crate::services::connect_sessions::ConnectSessionStatus;
use askama::Template;

#[derive(rust_embed::Embed)]
#[folder = "assets/"]
struct Assets;

pub fn asset(name: &str) -> Response {
    match Assets::get(name) {
        Some(file) => {
            let content_type = match name.rsplit('.').next() {
                Some("css") => "text/css; charset=utf-8",
                Some("js") => "text/javascript; charset=utf-8",
                Some("svg") => "image/svg+xml",
                Some("png") => "image/png",
                _ => "application/octet-stream",
            };
            Response::new(200)
                .with_header("Content-Type", content_type)
                .with_header("Cache-Control", "public, max-age=3600")
                .with_body(file.data.into_owned())
        }
        None => Response::new(404)
            .with_header("Content-Type", "text/plain")
            .with_body(b"not found".to_vec()),
    }
}

#[derive(Template)]
#[template(path = "connect/message.html")]
struct MessagePage<'a> {
    title: &'a str,
    message: &'a str,
    tone: &'a str,
}

/// A small page with a title and one paragraph; `tone` is `ok` or `error`.
pub fn message_page(status: u16, tone: &str, title: &str, message: &str) -> Response {
    let body = MessagePage {
        title,
        message,
        tone,
    }
    .render()
    .unwrap_or_else(|_| title.to_string());
    Response::html(status, body)
}

#[derive(Template)]
#[template(path = "demo_callback.html")]
struct DemoCallback<'a> {
    fields: &'a [(String, String)],
    tone: &'a str,
}

pub fn demo_callback(req: &Request) -> Response {
    let tone = if req
        .query_param("status")
        .and_then(ConnectSessionStatus::parse)
        == Some(ConnectSessionStatus::Connected)
    {
        "ok"
    } else {
        "error"
    };
    let body = DemoCallback {
        fields: &req.query,
        tone,
    }
    .render()
    .unwrap_or_default();
    Response::html(200, body)
}
