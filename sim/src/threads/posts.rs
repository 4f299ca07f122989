//! Threads' published posts as the simulator serves them back: the paginated list of an
//! app-scoped user's posts (`GET /{threads-user-id}/threads`) and deleting one
//! (`DELETE /{threads-media-id}`). Rules from Meta's Threads documentation:
//! developers.facebook.com/documentation/threads/reference/user (fields, `since`/`until`,
//! `limit` 25 by default and 100 at most, `before`/`after` cursors, never both),
//! .../retrieve-and-discover-posts/retrieve-posts (the answer's shape and fields) and
//! .../posts/delete-posts (`threads_delete`, 100 deletes a day per account,
//! `{"success":true,"deleted_id":...}`). Where the documentation says nothing (the order of
//! the list, the error of a malformed parameter, the refusal past 100 deletes), the choice is
//! marked as inferred.

use super::{PLATFORM, graph_error, no_such_object, nonexisting_field, param, requested_fields};
use crate::crypto::{base64url, base64url_decode};
use crate::{Simulator, TokenClaims};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use httpkit::Response;
use serde_json::{Map, Value, json};

/// `since` may not be earlier than this (the Threads API's launch), per the reference.
const EARLIEST_SINCE: i64 = 1_688_540_400;
const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 100;
/// Deletes per account per day (moving 24 hours: inferred, the page says "per day").
pub const DELETES_PER_DAY: usize = 100;

/// The fields the reference lists for an item of `GET /{threads-user-id}/threads`.
const LIST_FIELDS: &[&str] = &[
    "id",
    "media_product_type",
    "media_type",
    "media_url",
    "permalink",
    "owner",
    "username",
    "text",
    "timestamp",
    "shortcode",
    "thumbnail_url",
    "children",
    "is_quote_post",
    "alt_text",
    "link_attachment_url",
    "has_replies",
    "reply_audience",
    "quoted_post",
    "reposted_post",
    "gif_url",
    "is_spoiler_media",
    "text_entities",
    "text_attachment",
    "is_verified",
    "profile_picture_url",
];

/// Deletions this simulator saw, for the daily limit: (user id, unix time).
#[derive(Default)]
pub(super) struct Deletions {
    done: Vec<(String, i64)>,
}

fn invalid_parameter(message: &str) -> Response {
    graph_error(400, 100, None, message, "THApiException")
}

/// A `since`/`until` value: a Unix timestamp, or a date `YYYY-MM-DD` or RFC 3339 time (the
/// forms of `strtotime()` a client is likely to send; the simulator reads these).
fn parse_time(value: &str) -> Option<i64> {
    if let Ok(seconds) = value.trim().parse::<i64>() {
        return Some(seconds);
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(value.trim()) {
        return Some(time.timestamp());
    }
    NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
}

/// The time of a post record (`createdAt`, the simulator's timestamp format).
fn created_at(post: &Value) -> i64 {
    post["createdAt"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp())
        .unwrap_or_default()
}

/// Meta's timestamp format in this API: `2023-10-17T05:42:03+0000`.
fn graph_time(seconds: i64) -> String {
    DateTime::<Utc>::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S+0000")
        .to_string()
}

fn cursor(position: usize) -> String {
    base64url(format!("threads:{position}").as_bytes())
}

fn position_of(cursor: &str) -> Option<usize> {
    let raw = base64url_decode(cursor)?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("threads:")?
        .parse()
        .ok()
}

/// One post as the list shows it, with the fields asked for (documented fields a post does
/// not have are left out, as Meta does).
fn item(post: &Value, fields: &[String]) -> Value {
    let media_url = post["imageUrl"].as_str().or(post["videoUrl"].as_str());
    let all = json!({
        "id": post["id"],
        "media_product_type": "THREADS",
        "media_type": post["mediaType"],
        "media_url": media_url,
        "permalink": post["permalink"],
        "owner": {"id": post["userId"]},
        "username": post["username"],
        "text": post["text"],
        "timestamp": graph_time(created_at(post)),
        "shortcode": post["shortcode"],
        "is_quote_post": false,
        "alt_text": post["altText"],
        "has_replies": false,
        "reply_audience": post["replyControl"].as_str().map(str::to_uppercase).unwrap_or_else(|| "EVERYONE".into()),
        "is_verified": false,
    });
    let mut body = Map::new();
    body.insert("id".into(), post["id"].clone());
    for field in fields {
        if let Some(value) = all.get(field.as_str()).filter(|v| !v.is_null()) {
            body.insert(field.clone(), value.clone());
        }
    }
    Value::Object(body)
}

/// `GET /v1.0/{threads-user-id}/threads`: the user's own posts in the window, newest first
/// (the order is inferred: Meta's lists are newest first), a page at a time.
pub(super) fn list(sim: &Simulator, claims: &TokenClaims, params: &[(String, String)]) -> Response {
    let fields = requested_fields(params);
    if let Some(unknown) = fields.iter().find(|f| !LIST_FIELDS.contains(&f.as_str())) {
        return nonexisting_field(unknown, "ThreadsMedia");
    }
    let now = sim.now().timestamp();
    let since = match param(params, "since").map(|v| (v, parse_time(v))) {
        None => None,
        Some((_, Some(t))) if t >= EARLIEST_SINCE => Some(t),
        Some((v, _)) => {
            return invalid_parameter(&format!(
                "Param since must be a Unix timestamp or a strtotime() date not earlier than {EARLIEST_SINCE}; got {v}"
            ));
        }
    };
    let until = match param(params, "until").map(|v| (v, parse_time(v))) {
        None => None,
        Some((_, Some(t))) if t <= now => Some(t),
        Some((v, _)) => {
            return invalid_parameter(&format!(
                "Param until must be a Unix timestamp or a strtotime() date not later than now; got {v}"
            ));
        }
    };
    if let (Some(since), Some(until)) = (since, until)
        && since >= until
    {
        return invalid_parameter("Param since must be less than until");
    }
    let limit = match param(params, "limit") {
        None => DEFAULT_LIMIT,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n <= MAX_LIMIT => n,
            _ => {
                return invalid_parameter(&format!(
                    "Param limit must be a non-negative number of at most {MAX_LIMIT}; got {v}"
                ));
            }
        },
    };
    let (before, after) = (param(params, "before"), param(params, "after"));
    if before.is_some() && after.is_some() {
        return invalid_parameter(
            "Both before and after cursors cannot be passed at the same time",
        );
    }
    let mut posts: Vec<Value> = sim
        .accepted_posts(PLATFORM)
        .into_iter()
        .filter(|p| p["userId"] == claims.sub.as_str() && p["deleted"] != Value::Bool(true))
        .filter(|p| since.is_none_or(|s| created_at(p) >= s))
        .filter(|p| until.is_none_or(|u| created_at(p) <= u))
        .collect();
    posts.reverse();
    let start = match (before, after) {
        (None, None) => 0,
        (_, Some(c)) => match position_of(c) {
            Some(p) => p + 1,
            None => return invalid_parameter("Invalid cursor: after"),
        },
        (Some(c), _) => match position_of(c) {
            Some(p) => p.saturating_sub(limit),
            None => return invalid_parameter("Invalid cursor: before"),
        },
    };
    let page: Vec<Value> = posts
        .iter()
        .skip(start)
        .take(limit)
        .map(|p| item(p, &fields))
        .collect();
    let mut body = json!({"data": page});
    if !page.is_empty() {
        let last = start + page.len() - 1;
        body["paging"] = json!({"cursors": {"before": cursor(start), "after": cursor(last)}});
    }
    Response::json(200, &body)
}

/// `DELETE /v1.0/{threads-media-id}`: the user's own published post, with `threads_delete`.
pub(super) fn delete(sim: &Simulator, claims: &TokenClaims, id: &str) -> Response {
    if !claims.scp.iter().any(|s| s == "threads_delete") {
        return graph_error(
            400,
            10,
            None,
            "Application does not have permission for this action",
            "OAuthException",
        );
    }
    let exists = sim.accepted_posts(PLATFORM).iter().any(|p| {
        p["id"] == id && p["userId"] == claims.sub.as_str() && p["deleted"] != Value::Bool(true)
    });
    if !exists {
        return no_such_object(id);
    }
    let now = sim.now().timestamp();
    let day_ago = (sim.now() - Duration::hours(24)).timestamp();
    let allowed = sim.with_platform_state(PLATFORM, |deletions: &mut Deletions| {
        deletions.done.retain(|(_, at)| *at > day_ago);
        let used = deletions
            .done
            .iter()
            .filter(|(user, _)| *user == claims.sub)
            .count();
        if used >= DELETES_PER_DAY {
            return false;
        }
        deletions.done.push((claims.sub.clone(), now));
        true
    });
    if !allowed {
        // The documented limit; its error is not documented: Graph's per-user throttle (17).
        return graph_error(
            400,
            17,
            None,
            &format!("User request limit reached: at most {DELETES_PER_DAY} deletes per day"),
            "OAuthException",
        );
    }
    sim.mark_post_deleted(PLATFORM, |p| p["id"] == id);
    Response::json(200, &json!({"success": true, "deleted_id": id}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimulatorSettings;
    use httpkit::Request;
    use httpkit::clock::OffsetClock;
    use std::sync::Arc;

    struct Fixture {
        sim: Arc<Simulator>,
        clock: Arc<OffsetClock>,
    }

    fn fixture() -> Fixture {
        let clock = OffsetClock::new();
        let sim = Simulator::new(clock.clone(), [7; 32], SimulatorSettings::default());
        Fixture { sim, clock }
    }

    impl Fixture {
        /// A long-lived token of user `sub` with these permissions.
        fn token(&self, sub: &str, scopes: &[&str]) -> String {
            let now = self.sim.now().timestamp();
            super::super::sign(
                &self.sim,
                &TokenClaims {
                    typ: "access".into(),
                    plat: "threads".into(),
                    cid: "app".into(),
                    sub: sub.into(),
                    name: "Alex Morgan".into(),
                    scp: scopes.iter().map(|s| s.to_string()).collect(),
                    iat: now,
                    exp: now + 86_400 * 60,
                    grant: format!("grant-{sub}"),
                    nonce: "n".into(),
                },
            )
        }

        fn call(
            &self,
            method: &str,
            target: &str,
            token: &str,
            form: Option<&str>,
        ) -> (u16, Value) {
            let mut request = Request::new(method, target);
            request
                .headers
                .push(("Authorization".into(), format!("Bearer {token}")));
            if let Some(form) = form {
                request.headers.push((
                    "Content-Type".into(),
                    "application/x-www-form-urlencoded".into(),
                ));
                request.body = form.as_bytes().to_vec();
            }
            let response = self.sim.handle(&request, "");
            let body = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
            (response.status, body)
        }

        /// A text post published through the two real calls; its media id.
        fn publish(&self, token: &str, text: &str) -> String {
            let form = format!("media_type=TEXT&text={}", crate::form_encode(text));
            let (status, container) =
                self.call("POST", "/threads/v1.0/me/threads", token, Some(&form));
            assert_eq!(status, 200, "{container}");
            let target = format!(
                "/threads/v1.0/me/threads_publish?creation_id={}",
                container["id"].as_str().unwrap()
            );
            let (status, media) = self.call("POST", &target, token, Some(""));
            assert_eq!(status, 200, "{media}");
            media["id"].as_str().unwrap().to_string()
        }
    }

    const ALL: &[&str] = &["threads_basic", "threads_content_publish", "threads_delete"];

    #[test]
    fn the_list_shows_the_users_own_posts_in_the_window_newest_first_a_page_at_a_time() {
        let f = fixture();
        let alex = f.token("2001", ALL);
        let sam = f.token("2002", ALL);
        let first = f.publish(&alex, "first");
        f.clock.advance(Duration::minutes(10));
        let since = f.sim.now().timestamp();
        let second = f.publish(&alex, "second");
        f.clock.advance(Duration::seconds(5));
        let third = f.publish(&alex, "third");
        f.publish(&sam, "someone else's");
        let target = format!(
            "/threads/v1.0/me/threads?fields=id,text,timestamp,permalink,media_type&since={since}&limit=1"
        );
        let (status, page) = f.call("GET", &target, &alex, None);
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["data"].as_array().unwrap().len(), 1);
        let newest = &page["data"][0];
        assert_eq!(newest["id"], third.as_str());
        assert_eq!(newest["text"], "third");
        assert_eq!(newest["media_type"], "TEXT_POST");
        assert!(
            newest["permalink"]
                .as_str()
                .unwrap()
                .starts_with("https://www.threads.net/@")
        );
        assert!(newest["timestamp"].as_str().unwrap().ends_with("+0000"));
        let after = page["paging"]["cursors"]["after"].as_str().unwrap();
        let (_, next) = f.call("GET", &format!("{target}&after={after}"), &alex, None);
        assert_eq!(next["data"][0]["id"], second.as_str());
        let after = next["paging"]["cursors"]["after"].as_str().unwrap();
        let (_, end) = f.call("GET", &format!("{target}&after={after}"), &alex, None);
        assert_eq!(end["data"], json!([]), "the window holds two posts");
        // Without `since`, the whole history; by the user id as well as `me`.
        let (_, all) = f.call("GET", "/threads/v1.0/2001/threads?limit=100", &alex, None);
        let ids: Vec<&str> = all["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [third.as_str(), second.as_str(), first.as_str()]);
        assert_eq!(
            all["data"][0],
            json!({"id": third}),
            "only the id by default"
        );
    }

    #[test]
    fn the_list_refuses_what_the_reference_rules_out() {
        let f = fixture();
        let alex = f.token("2001", ALL);
        for (query, says) in [
            ("limit=101", "limit"),
            ("since=1600000000", "since"),
            ("until=99999999999", "until"),
            ("since=1700000100&until=1700000000", "less than until"),
            ("before=a&after=b", "same time"),
            ("fields=id,likes", "nonexisting field (likes)"),
        ] {
            let (status, body) = f.call(
                "GET",
                &format!("/threads/v1.0/me/threads?{query}"),
                &alex,
                None,
            );
            assert_eq!(status, 400, "{query}: {body}");
            assert_eq!(body["error"]["code"], 100, "{query}: {body}");
            assert!(
                body["error"]["message"].as_str().unwrap().contains(says),
                "{query}: {body}"
            );
        }
    }

    #[test]
    fn deleting_needs_threads_delete_and_the_users_own_post_and_marks_the_record() {
        let f = fixture();
        let alex = f.token("2001", ALL);
        let without = f.token("2001", &["threads_basic", "threads_content_publish"]);
        let sam = f.token("2002", ALL);
        let id = f.publish(&alex, "to delete");
        let target = format!("/threads/v1.0/{id}");
        let (status, refused) = f.call("DELETE", &target, &without, None);
        assert_eq!(
            (status, refused["error"]["code"].clone()),
            (400, json!(10)),
            "{refused}"
        );
        let (status, refused) = f.call("DELETE", &target, &sam, None);
        assert_eq!(
            (status, refused["error"]["error_subcode"].clone()),
            (400, json!(33)),
            "{refused}"
        );
        let (status, deleted) = f.call("DELETE", &target, &alex, None);
        assert_eq!(status, 200, "{deleted}");
        assert_eq!(deleted, json!({"success": true, "deleted_id": id}));
        let record = &f.sim.accepted_posts(PLATFORM)[0];
        assert_eq!(record["deleted"], true, "{record}");
        assert!(record["deletedAt"].is_string());
        let (_, list) = f.call("GET", "/threads/v1.0/me/threads", &alex, None);
        assert_eq!(list["data"], json!([]));
        let (status, gone) = f.call("GET", &format!("{target}?fields=id,permalink"), &alex, None);
        assert_eq!(
            (status, gone["error"]["error_subcode"].clone()),
            (400, json!(33))
        );
        let (status, again) = f.call("DELETE", &target, &alex, None);
        assert_eq!(
            (status, again["error"]["error_subcode"].clone()),
            (400, json!(33))
        );
    }

    #[test]
    fn at_most_a_hundred_deletes_a_day() {
        let f = fixture();
        let alex = f.token("2001", ALL);
        let ids: Vec<String> = (0..=DELETES_PER_DAY)
            .map(|n| f.publish(&alex, &format!("post {n}")))
            .collect();
        for id in &ids[..DELETES_PER_DAY] {
            assert_eq!(
                f.call("DELETE", &format!("/threads/v1.0/{id}"), &alex, None)
                    .0,
                200
            );
        }
        let last = format!("/threads/v1.0/{}", ids[DELETES_PER_DAY]);
        let (status, refused) = f.call("DELETE", &last, &alex, None);
        assert_eq!(
            (status, refused["error"]["code"].clone()),
            (400, json!(17)),
            "{refused}"
        );
        f.clock.advance(Duration::hours(24));
        assert_eq!(f.call("DELETE", &last, &alex, None).0, 200);
    }

    #[test]
    fn times_parse_as_unix_seconds_dates_and_rfc3339() {
        assert_eq!(parse_time("1700000000"), Some(1_700_000_000));
        assert_eq!(parse_time("2023-10-15"), Some(1_697_328_000));
        assert_eq!(parse_time("2023-10-15T00:00:00Z"), Some(1_697_328_000));
        assert_eq!(parse_time("next tuesday"), None);
    }

    #[test]
    fn cursors_round_trip_and_timestamps_use_metas_format() {
        assert_eq!(position_of(&cursor(42)), Some(42));
        assert_eq!(position_of("not-a-cursor"), None);
        assert_eq!(graph_time(1_697_521_323), "2023-10-17T05:42:03+0000");
    }
}
