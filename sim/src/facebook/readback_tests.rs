//! The Facebook simulator's read-back, delete and app-token endpoints, called as the Graph API
//! is called (paths, query and form parameters, tokens), with no appliance involved.

use super::{PLATFORM, page_id, user_id};
use crate::crypto::random_token;
use crate::{SimClient, Simulator, SimulatorSettings, TokenClaims};
use httpkit::clock::OffsetClock;
use httpkit::{Request, Response};
use serde_json::Value;
use std::sync::Arc;

const APP: &str = "fb-app";
const SECRET: &str = "fb-secret";
const MEMBER: &str = "Sam Lee";

struct Fixture {
    sim: Arc<Simulator>,
    clock: Arc<OffsetClock>,
}

impl Fixture {
    fn new() -> Fixture {
        let clock = OffsetClock::new();
        clock.freeze();
        let sim = Simulator::new(clock.clone(), [7; 32], SimulatorSettings::default());
        sim.register_client(
            PLATFORM,
            SimClient {
                client_id: APP.into(),
                client_secret: SECRET.into(),
                name: "Test app".into(),
                redirect_uris: vec!["http://localhost/cb".into()],
                trial_access: false,
            },
        );
        Fixture { sim, clock }
    }

    fn claims(&self, typ: &str, sub: String, name: &str, grant: &str, days: i64) -> TokenClaims {
        let now = self.sim.now().timestamp();
        TokenClaims {
            typ: typ.into(),
            plat: "facebook".into(),
            cid: APP.into(),
            sub,
            name: name.into(),
            scp: [
                "pages_show_list",
                "pages_read_engagement",
                "pages_manage_posts",
                "page:bakery",
            ]
            .map(String::from)
            .to_vec(),
            iat: now,
            exp: now + days * 86_400,
            grant: grant.into(),
            nonce: random_token(8),
        }
    }

    /// A user token of MEMBER (a login of their own) and the Page token read with it.
    fn login(&self, grant: &str) -> (String, String) {
        let user = self.claims("access", user_id(&self.sim, MEMBER), MEMBER, grant, 60);
        let page = self.claims(
            "page",
            page_id(&self.sim, MEMBER, "bakery"),
            "Harbor Bakery",
            grant,
            36_500,
        );
        (self.sim.sign_token(&user), self.sim.sign_token(&page))
    }

    fn call(&self, method: &str, target: &str, token: &str, form: &str) -> (u16, Value) {
        let mut request = Request::new(method, &format!("/facebook/v25.0/{target}"));
        request
            .headers
            .push(("Authorization".into(), format!("OAuth {token}")));
        if !form.is_empty() {
            request.headers.push((
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
            request.body = form.as_bytes().to_vec();
        }
        let response: Response = self.sim.handle(&request, "");
        let body = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        (response.status, body)
    }

    fn post(&self, page_token: &str, message: &str) -> String {
        let page = page_id(&self.sim, MEMBER, "bakery");
        let (status, body) = self.call(
            "POST",
            &format!("{page}/feed"),
            page_token,
            &format!("message={}", crate::form_encode(message)),
        );
        assert_eq!(status, 200, "{body}");
        body["id"].as_str().unwrap().to_string()
    }
}

fn error_codes(body: &Value) -> (i64, Option<i64>) {
    (
        body["error"]["code"].as_i64().unwrap_or_default(),
        body["error"]["error_subcode"].as_i64(),
    )
}

#[test]
fn published_posts_lists_the_page_newest_first_within_since() {
    let f = Fixture::new();
    let (user, page_token) = f.login("g1");
    let page = page_id(&f.sim, MEMBER, "bakery");
    let first = f.post(&page_token, "first");
    f.clock.advance(chrono::Duration::minutes(10));
    let since = f.sim.now().timestamp();
    let second = f.post(&page_token, "second");
    f.clock.advance(chrono::Duration::seconds(5));
    let third = f.post(&page_token, "third");

    let (status, body) = f.call(
        "GET",
        &format!("{page}/published_posts?fields=id,message,created_time&since={since}&limit=1"),
        &page_token,
        "",
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["id"], third.as_str());
    assert_eq!(body["data"][0]["message"], "third");
    assert!(
        body["data"][0]["created_time"]
            .as_str()
            .unwrap()
            .ends_with("+0000")
    );
    assert!(
        body["data"][0].get("permalink_url").is_none(),
        "only the fields asked for"
    );
    let next = body["paging"]["next"].as_str().unwrap();
    assert!(next.starts_with("https://graph.facebook.com/"), "{next}");
    let after = body["paging"]["cursors"]["after"].as_str().unwrap();
    let (_, body) = f.call(
        "GET",
        &format!("{page}/feed?since={since}&limit=1&after={after}"),
        &page_token,
        "",
    );
    assert_eq!(body["data"][0]["id"], second.as_str());
    assert!(
        body["paging"].get("next").is_none(),
        "the window ends there: {body}"
    );
    // Without since, the first post is there too; `first` is never in the window.
    let (_, all) = f.call("GET", &format!("{page}/published_posts"), &page_token, "");
    let ids: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [third.as_str(), second.as_str(), first.as_str()]);

    // A user token is not a Page token; a bad `since` is Graph's (#100).
    let (status, body) = f.call("GET", &format!("{page}/published_posts"), &user, "");
    assert_eq!((status, error_codes(&body).0), (400, 200), "{body}");
    let (status, body) = f.call(
        "GET",
        &format!("{page}/published_posts?since=yesterday-ish"),
        &page_token,
        "",
    );
    assert_eq!((status, error_codes(&body).0), (400, 100), "{body}");
}

#[test]
fn a_deleted_post_leaves_the_page_and_a_second_delete_finds_nothing() {
    let f = Fixture::new();
    let (user, page_token) = f.login("g1");
    let page = page_id(&f.sim, MEMBER, "bakery");
    let id = f.post(&page_token, "to be deleted");
    // A user token cannot delete a Page post.
    let (status, body) = f.call("DELETE", &id, &user, "");
    assert_eq!(
        (status, error_codes(&body)),
        (400, (100, Some(33))),
        "{body}"
    );
    let (status, body) = f.call("DELETE", &id, &page_token, "");
    assert_eq!(
        (status, body.clone()),
        (200, serde_json::json!({"success": true}))
    );
    let record = &f.sim.accepted_posts(PLATFORM)[0];
    assert_eq!(record["deleted"], true, "{record}");
    let (_, list) = f.call("GET", &format!("{page}/published_posts"), &page_token, "");
    assert_eq!(list["data"], serde_json::json!([]));
    let (status, body) = f.call("DELETE", &id, &page_token, "");
    assert_eq!(
        (status, error_codes(&body)),
        (400, (100, Some(33))),
        "{body}"
    );
    // The same text may be posted again once the first is gone (no duplicate refusal).
    f.post(&page_token, "to be deleted");
}

#[test]
fn the_app_token_describes_an_expired_user_token_and_deauthorizes_the_person() {
    let f = Fixture::new();
    let (old_user, old_page) = f.login("g1");
    let app_token = format!("{APP}|{SECRET}");
    // Sixty days on, the first login's user token has expired; the person logged in again.
    f.clock.advance(chrono::Duration::days(61));
    let (new_user, new_page) = f.login("g2");
    let (status, body) = f.call("GET", "me/permissions", &new_user, "");
    assert_eq!(status, 200, "{body}");
    let (status, body) = f.call("DELETE", "me/permissions", &old_user, "");
    assert_eq!(
        (status, error_codes(&body)),
        (400, (190, Some(463))),
        "{body}"
    );

    let (status, body) = f.call(
        "GET",
        &format!("debug_token?input_token={old_user}"),
        &app_token,
        "",
    );
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!(data["is_valid"], false);
    assert_eq!(data["error"]["subcode"], 463);
    let person = user_id(&f.sim, MEMBER);
    assert_eq!(data["user_id"], person.as_str());
    // A wrong app secret is no app token.
    let (status, body) = f.call(
        "GET",
        "debug_token?input_token=x",
        &format!("{APP}|nope"),
        "",
    );
    assert_eq!((status, error_codes(&body).0), (400, 190), "{body}");

    let (status, body) = f.call("DELETE", &format!("{person}/permissions"), &app_token, "");
    assert_eq!(
        (status, body.clone()),
        (200, serde_json::json!({"success": true}))
    );
    // Every login of the person ends, Page tokens included.
    for token in [&new_user, &new_page, &old_page] {
        let (status, body) = f.call("GET", "me", token, "");
        assert_eq!(
            (status, error_codes(&body)),
            (400, (190, Some(458))),
            "{body}"
        );
    }
    // The app token reads no person's data.
    let (status, body) = f.call("GET", "me", &app_token, "");
    assert_eq!((status, error_codes(&body).0), (400, 2500), "{body}");
}
