//! Reading Reddit back and deleting from it, as the simulator plays it: the user's submissions
//! listing (`GET /user/{username}/submitted`, scope `history`), things by fullname
//! (`GET /api/info`, scope `read`) and `POST /api/del` (scope `edit`), over the posts that
//! `reddit.rs` recorded. `reddit.rs` routes the calls here after the User-Agent, the token and
//! the call budget are checked.
//!
//! Sources: reddit's own code (reddit-archive/reddit, `r2/controllers/listingcontroller.py`:
//! `UserController.GET_listing` requires `history`; `r2/controllers/api.py`: `POST_del` requires
//! `edit`, finds the thing with `VByNameIfAuthor` and answers nothing (`noresponse`) whether or
//! not it deleted anything, then `queries.delete` takes the link out of the listings);
//! reddit.com/dev/api (listings: `after`, `before`, `count`, `limit` up to 100;
//! `GET /api/info` with `id` a comma-separated list of fullnames); Pyprohly's
//! reddit-api-doc-notes (a deleted post's `author` is `[deleted]`, `removed_by_category`
//! `deleted`; `/api/info` ignores unknown ids, ids with capitals, and every id when more than
//! 100 are given).

use super::reddit::{has_scope, insufficient_scope, json_error};
use super::{Simulator, TokenClaims};
use crate::Platform;
use httpkit::{Request, Response, form_value};
use serde_json::{Value, json};

const PLATFORM: Platform = Platform::Reddit;
/// `limit` is clamped to 100; 25 when absent (reddit.com/dev/api, listings).
const MAX_LIMIT: usize = 100;
const DEFAULT_LIMIT: usize = 25;
/// [inf] Reddit keeps a listing's newest 1,000 things; older ones are not reachable by paging.
const LISTING_DEPTH: usize = 1000;
/// `GET /api/info` takes at most 100 ids; more, and none is looked up.
const MAX_INFO_IDS: usize = 100;
/// `created` is `created_utc` minus eight hours, a legacy of reddit's Pacific clock.
const LEGACY_OFFSET_SECS: f64 = 28_800.0;

/// `{"kind": "Listing", "data": {...}}` around `children`, with the paging cursors.
fn listing(children: Vec<Value>, after: Option<String>, before: Option<String>) -> Value {
    json!({
        "kind": "Listing",
        "data": {
            "after": after,
            "dist": children.len(),
            "modhash": null,
            "geo_filter": "",
            "children": children,
            "before": before,
        },
    })
}

fn is_deleted(record: &Value) -> bool {
    record["deleted"] == Value::Bool(true)
}

/// Seconds since the epoch of a record's `createdAt`, a whole number as Reddit gives it.
fn created_utc(record: &Value) -> f64 {
    record["createdAt"]
        .as_str()
        .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
        .map(|at| at.timestamp() as f64)
        .unwrap_or(0.0)
}

/// A recorded submission as a `t3` thing, the way Reddit renders it to anyone: a deleted one
/// keeps its title, id and date, but its author and body read `[deleted]`.
fn link_thing(record: &Value) -> Value {
    let deleted = is_deleted(record);
    let is_self = record["kind"] == "self";
    let subreddit = record["subreddit"].as_str().unwrap_or_default();
    let permalink_url = record["permalink"].as_str().unwrap_or_default();
    let permalink = permalink_url
        .strip_prefix("https://www.reddit.com")
        .unwrap_or(permalink_url);
    let link_url = record["url"].as_str().unwrap_or_default();
    let created = created_utc(record);
    let mut data = json!({
        "id": record["id"],
        "name": record["name"],
        "author": if deleted { json!("[deleted]") } else { record["author"].clone() },
        "subreddit": subreddit,
        "subreddit_name_prefixed": match subreddit.strip_prefix("u_") {
            Some(user) => format!("u/{user}"),
            None => format!("r/{subreddit}"),
        },
        "subreddit_type": if subreddit.starts_with("u_") { "user" } else { "public" },
        "title": record["title"],
        "selftext": match (is_self, deleted) {
            (true, true) => json!("[deleted]"),
            (true, false) => record["text"].clone(),
            (false, _) => json!(""),
        },
        "is_self": is_self,
        "url": if is_self { json!(permalink_url) } else { json!(link_url) },
        "domain": if is_self {
            format!("self.{subreddit}")
        } else {
            link_url
                .split("://")
                .nth(1)
                .and_then(|rest| rest.split(['/', '?', '#']).next())
                .unwrap_or_default()
                .to_string()
        },
        "permalink": permalink,
        "created_utc": created,
        "created": created - LEGACY_OFFSET_SECS,
        "link_flair_text": record["flairText"],
        "removed_by_category": if deleted { json!("deleted") } else { Value::Null },
        "is_video": false,
        "over_18": false,
        "spoiler": false,
        "locked": false,
        "stickied": false,
        "archived": false,
        "num_comments": 0,
        "score": 1,
        "ups": 1,
        "downs": 0,
        "upvote_ratio": 1.0,
        "edited": false,
    });
    // Absent, not null, once deleted (and `author_fullname` with it).
    if !deleted {
        data["author_fullname"] = json!(format!(
            "t2_{}",
            record["authorId"].as_str().unwrap_or_default()
        ));
        if let Some(flair) = record["flairId"].as_str() {
            data["link_flair_template_id"] = json!(flair);
        }
    }
    json!({"kind": "t3", "data": data})
}

/// `limit` as reddit reads it: clamped to 1..=100, 25 when absent or not a number.
fn limit_of(request: &Request) -> usize {
    request
        .query_param("limit")
        .and_then(|l| l.trim().parse::<i64>().ok())
        .map(|l| l.clamp(1, MAX_LIMIT as i64) as usize)
        .unwrap_or(DEFAULT_LIMIT)
}

/// `GET /user/{username}/submitted`: the submissions of `username`, newest first for
/// `sort=new` (the default). Deleted submissions are gone from it. The simulator keeps no
/// votes, so `hot`, `top` and `controversial` list in the same order. An unknown user is 404.
pub(crate) fn submitted(
    sim: &Simulator,
    request: &Request,
    claims: &TokenClaims,
    username: &str,
) -> Response {
    if !has_scope(claims, "history") {
        return insufficient_scope();
    }
    let posts = sim.accepted_posts(PLATFORM);
    let known = username.eq_ignore_ascii_case(&claims.name)
        || posts.iter().any(|p| {
            p["author"]
                .as_str()
                .is_some_and(|a| a.eq_ignore_ascii_case(username))
        });
    if !known {
        return json_error(404, "Not Found");
    }
    let mine: Vec<&Value> = posts
        .iter()
        .rev()
        .filter(|p| {
            !is_deleted(p)
                && p["author"]
                    .as_str()
                    .is_some_and(|a| a.eq_ignore_ascii_case(username))
        })
        .take(LISTING_DEPTH)
        .collect();
    let position = |name: &str| mine.iter().position(|p| p["name"] == name);
    let limit = limit_of(request);
    // `after` starts just past the named thing, `before` ends just before it; a thing no
    // longer in the listing gives an empty page.
    let (start, end) = match (request.query_param("after"), request.query_param("before")) {
        (Some(after), _) if !after.is_empty() => match position(after) {
            Some(i) => (i + 1, (i + 1 + limit).min(mine.len())),
            None => (0, 0),
        },
        (_, Some(before)) if !before.is_empty() => match position(before) {
            Some(i) => (i.saturating_sub(limit), i),
            None => (0, 0),
        },
        _ => (0, limit.min(mine.len())),
    };
    let page = &mine[start..end];
    let name_of = |p: &&Value| p["name"].as_str().map(str::to_string);
    let after = if end < mine.len() {
        page.last().and_then(name_of)
    } else {
        None
    };
    let before = if start > 0 {
        page.first().and_then(name_of)
    } else {
        None
    };
    let children = page.iter().map(|p| link_thing(p)).collect();
    Response::json(200, &listing(children, after, before))
}

/// `GET /api/info?id=t3_a,t3_b`: the things named, deleted ones included (shown as deleted).
/// Only submissions are modeled; `url` and `sr_name` look-ups are not (they list nothing).
pub(crate) fn info(sim: &Simulator, request: &Request, claims: &TokenClaims) -> Response {
    if !has_scope(claims, "read") {
        return insufficient_scope();
    }
    let ids: Vec<&str> = request
        .query_param("id")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .collect();
    let posts = sim.accepted_posts(PLATFORM);
    let mut seen: Vec<&str> = Vec::new();
    let children: Vec<Value> = if ids.len() > MAX_INFO_IDS {
        Vec::new()
    } else {
        ids.into_iter()
            .filter(|id| !id.chars().any(|c| c.is_ascii_uppercase()))
            .filter(|id| {
                let first = !seen.contains(id);
                seen.push(id);
                first
            })
            .filter_map(|id| posts.iter().find(|p| p["name"] == id))
            .map(link_thing)
            .collect()
    };
    Response::json(200, &listing(children, None, None))
}

/// `POST /api/del` with `id` a fullname: deletes the submission when the token's account
/// wrote it; otherwise nothing happens. Either way the answer is `{}`.
pub(crate) fn delete(sim: &Simulator, request: &Request, claims: &TokenClaims) -> Response {
    if !has_scope(claims, "edit") {
        return insufficient_scope();
    }
    let form = request.form();
    let id = form_value(&form, "id")
        .unwrap_or_default()
        .trim()
        .to_string();
    if !id.is_empty() {
        sim.mark_post_deleted(PLATFORM, |p| {
            p["name"] == id.as_str() && p["authorId"] == claims.sub.as_str()
        });
    }
    Response::json(200, &json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimulatorSettings;
    use httpkit::clock::OffsetClock;
    use std::sync::Arc;

    const UA: &str = "web:sim-test:v1.0 (by /u/tester)";

    fn sim() -> (Arc<Simulator>, Arc<OffsetClock>) {
        let clock = OffsetClock::new();
        let sim = Simulator::new(clock.clone(), [9; 32], SimulatorSettings::default());
        (sim, clock)
    }

    fn token(sim: &Simulator, sub: &str, name: &str, scopes: &[&str]) -> String {
        let now = sim.now().timestamp();
        sim.sign_token(&TokenClaims {
            typ: "access".into(),
            plat: "reddit".into(),
            cid: "client".into(),
            sub: sub.into(),
            name: name.into(),
            scp: scopes.iter().map(|s| s.to_string()).collect(),
            iat: now,
            exp: now + 3600,
            grant: format!("grant-{sub}"),
            nonce: format!("nonce-{sub}"),
        })
    }

    fn call(sim: &Simulator, method: &str, target: &str, token: &str, form: &str) -> (u16, String) {
        let mut request = Request::new(method, target);
        request
            .headers
            .push(("Authorization".into(), format!("bearer {token}")));
        request.headers.push(("User-Agent".into(), UA.into()));
        request.headers.push((
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        request.body = form.as_bytes().to_vec();
        let response = sim.handle(&request, "");
        (response.status, String::from_utf8(response.body).unwrap())
    }

    fn get(sim: &Simulator, target: &str, token: &str) -> (u16, Value) {
        let (status, body) = call(sim, "GET", target, token, "");
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    /// Submits a self post through the simulator's own submit endpoint; its fullname.
    fn submit(sim: &Simulator, token: &str, title: &str, text: &str) -> String {
        let form = format!(
            "api_type=json&sr=test&kind=self&title={}&text={}",
            crate::form_encode(title),
            crate::form_encode(text)
        );
        let (status, body) = call(sim, "POST", "/reddit/api/submit", token, &form);
        assert_eq!(status, 200, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        body["json"]["data"]["name"].as_str().unwrap().to_string()
    }

    fn names(listing: &Value) -> Vec<String> {
        listing["data"]["children"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["data"]["name"].as_str().unwrap().to_string())
            .collect()
    }

    const SCOPES: &[&str] = &["identity", "submit", "read", "history", "edit"];

    #[test]
    fn submissions_are_listed_newest_first_with_after_cursors() {
        let (sim, clock) = sim();
        let token = token(&sim, "abc", "alex_r", SCOPES);
        let mut posted = Vec::new();
        for i in 0..5 {
            posted.push(submit(&sim, &token, &format!("post {i}"), "body"));
            clock.advance(chrono::Duration::seconds(10));
        }
        let other = self::token(&sim, "def", "sam_q", SCOPES);
        submit(&sim, &other, "not alex", "x");
        let newest_first: Vec<String> = posted.iter().rev().cloned().collect();
        let (status, page) = get(
            &sim,
            "/reddit/user/alex_r/submitted?sort=new&limit=2&raw_json=1",
            &token,
        );
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["kind"], "Listing");
        assert_eq!(names(&page), newest_first[..2]);
        assert_eq!(page["data"]["after"], newest_first[1].as_str());
        let thing = &page["data"]["children"][0];
        assert_eq!(thing["kind"], "t3");
        assert_eq!(thing["data"]["author"], "alex_r");
        assert_eq!(thing["data"]["subreddit"], "test");
        assert_eq!(thing["data"]["is_self"], true);
        assert_eq!(thing["data"]["selftext"], "body");
        assert!(
            thing["data"]["permalink"]
                .as_str()
                .unwrap()
                .starts_with("/r/test/comments/")
        );
        let created = thing["data"]["created_utc"].as_f64().unwrap();
        assert_eq!(created, sim.now().timestamp() as f64 - 10.0);
        let after = page["data"]["after"].as_str().unwrap().to_string();
        let (_, rest) = get(
            &sim,
            &format!("/reddit/user/alex_r/submitted?sort=new&limit=100&after={after}"),
            &token,
        );
        assert_eq!(names(&rest), newest_first[2..]);
        assert_eq!(rest["data"]["after"], Value::Null);
        // A limit over 100 is clamped, not refused; no limit is 25.
        assert_eq!(
            get(&sim, "/reddit/user/alex_r/submitted?limit=500", &token).0,
            200
        );
        assert_eq!(
            get(&sim, "/reddit/user/nobody_here/submitted", &token).0,
            404
        );
    }

    #[test]
    fn reading_back_needs_history_and_deleting_needs_edit() {
        let (sim, _) = sim();
        let old = token(&sim, "abc", "alex_r", &["identity", "submit", "read"]);
        let name = submit(&sim, &old, "t", "x");
        let (status, body) = call(&sim, "GET", "/reddit/user/alex_r/submitted", &old, "");
        assert_eq!(status, 403, "{body}");
        let (status, _) = call(&sim, "POST", "/reddit/api/del", &old, &format!("id={name}"));
        assert_eq!(status, 403);
        let (_, info) = get(&sim, &format!("/reddit/api/info?id={name}"), &old);
        assert_eq!(info["data"]["children"][0]["data"]["author"], "alex_r");
    }

    #[test]
    fn delete_answers_nothing_and_info_shows_the_post_as_deleted() {
        let (sim, _) = sim();
        let alex = token(&sim, "abc", "alex_r", SCOPES);
        let sam = token(&sim, "def", "sam_q", SCOPES);
        let name = submit(&sim, &alex, "Tom & Jerry", "<b>bold</b>");
        // Not the author: `{}` as well, and nothing happens.
        assert_eq!(
            call(&sim, "POST", "/reddit/api/del", &sam, &format!("id={name}")),
            (200, "{}".to_string())
        );
        let (_, info) = get(
            &sim,
            &format!("/reddit/api/info?id={name}&raw_json=1"),
            &sam,
        );
        let data = &info["data"]["children"][0]["data"];
        assert_eq!(data["author"], "alex_r");
        assert_eq!(data["title"], "Tom & Jerry");
        assert_eq!(data["removed_by_category"], Value::Null);
        assert_eq!(
            call(
                &sim,
                "POST",
                "/reddit/api/del",
                &alex,
                &format!("id={name}")
            ),
            (200, "{}".to_string())
        );
        let (_, info) = get(
            &sim,
            &format!("/reddit/api/info?id={name}&raw_json=1"),
            &alex,
        );
        let data = &info["data"]["children"][0]["data"];
        assert_eq!(data["author"], "[deleted]");
        assert_eq!(data["selftext"], "[deleted]");
        assert_eq!(data["removed_by_category"], "deleted");
        assert!(data.get("author_fullname").is_none());
        let record = &sim.accepted_posts(PLATFORM)[0];
        assert_eq!(record["deleted"], true);
        // Gone from the author's listing; deleting again changes nothing and answers the same.
        let (_, listed) = get(&sim, "/reddit/user/alex_r/submitted?raw_json=1", &alex);
        assert!(names(&listed).is_empty());
        assert_eq!(
            call(
                &sim,
                "POST",
                "/reddit/api/del",
                &alex,
                &format!("id={name}")
            ),
            (200, "{}".to_string())
        );
        // Unknown ids, capitals, and more than 100 ids list nothing.
        let (_, none) = get(&sim, "/reddit/api/info?id=t3_zzzzzzz", &alex);
        assert!(names(&none).is_empty());
        let (_, capital) = get(
            &sim,
            &format!("/reddit/api/info?id={}", name.to_uppercase()),
            &alex,
        );
        assert!(names(&capital).is_empty());
        let many = vec![name.as_str(); 101].join(",");
        let (_, too_many) = get(&sim, &format!("/reddit/api/info?id={many}"), &alex);
        assert!(names(&too_many).is_empty());
        let (_, twice) = get(&sim, &format!("/reddit/api/info?id={name},{name}"), &alex);
        assert_eq!(names(&twice), vec![name]);
    }

    #[test]
    fn json_bodies_are_html_escaped_unless_raw_json_is_asked_for() {
        let (sim, _) = sim();
        let alex = token(&sim, "abc", "alex_r", SCOPES);
        let name = submit(&sim, &alex, "Tom & Jerry", "a < b > c");
        let (_, escaped) = call(
            &sim,
            "GET",
            &format!("/reddit/api/info?id={name}"),
            &alex,
            "",
        );
        assert!(escaped.contains("Tom &amp; Jerry"), "{escaped}");
        assert!(escaped.contains("a &lt; b &gt; c"), "{escaped}");
        let (_, raw) = call(
            &sim,
            "GET",
            &format!("/reddit/api/info?id={name}&raw_json=1"),
            &alex,
            "",
        );
        assert!(raw.contains("Tom & Jerry"), "{raw}");
    }
}
