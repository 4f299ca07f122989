//! X's read-back and delete as the simulator plays them: the user Posts timeline
//! `GET /2/users/:id/tweets` (reverse chronological; `max_results` 5–100, default 10;
//! `pagination_token`/`meta.next_token`; `start_time`/`end_time` in whole seconds, inclusive;
//! `since_id`/`until_id`; `exclude`; the newest 3,200 posts, 800 with `exclude=replies`;
//! `tweet.fields`, `expansions=attachments.media_keys` with `includes.media`) and
//! `DELETE /2/tweets/:id` (`{"data":{"deleted":true}}`), both needing the scopes of X's API
//! reference (the caller checks them). Sources: docs.x.com "User Posts timeline by User ID",
//! the Timelines integration guide, "Delete Post" and the manage-Posts quickstart.
//!
//! A post's `text` comes back as X stores it, not as it was sent: every link (bare domains
//! too, as twitter-text finds them) becomes a 23-character `https://t.co/…` link, `&`, `<`
//! and `>` come back as `&amp;`, `&lt;` and `&gt;`, and a post with media ends with one
//! more t.co link, to the media (observed in X's v2 answers: tweepy issues 1080 and 93,
//! twitter4j-v2 issue 19; not in X's reference). Whether a delete of a post that is gone
//! answers `deleted: false` or 404 is not documented either: this answers `deleted: false`.

use super::{PLATFORM, Simulator, TokenClaims, invalid_request, media_key, problem};
use crate::crypto::sha256_hex;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use httpkit::Request;
use httpkit::Response;
use serde_json::{Map, Value, json};

/// The most recent posts a user timeline reaches, and with `exclude=replies` (X's guide).
const TIMELINE_DEPTH: usize = 3_200;
const TIMELINE_DEPTH_WITHOUT_REPLIES: usize = 800;

/// The earliest `start_time`/`end_time` X takes.
const EARLIEST_TIME: &str = "2010-11-06T00:00:01Z";

/// `tweet.fields` X documents for this endpoint; other names are refused.
const TWEET_FIELDS: &[&str] = &[
    "article",
    "attachments",
    "author_id",
    "card_uri",
    "community_id",
    "context_annotations",
    "conversation_id",
    "created_at",
    "display_text_range",
    "edit_controls",
    "edit_history_tweet_ids",
    "entities",
    "geo",
    "id",
    "in_reply_to_user_id",
    "lang",
    "media_metadata",
    "non_public_metrics",
    "note_tweet",
    "organic_metrics",
    "possibly_sensitive",
    "promoted_metrics",
    "public_metrics",
    "referenced_tweets",
    "reply_settings",
    "scopes",
    "source",
    "text",
    "withheld",
];

/// `expansions` X documents for this endpoint.
const EXPANSIONS: &[&str] = &[
    "article.cover_media",
    "article.media_entities",
    "attachments.media_keys",
    "attachments.media_source_tweet",
    "attachments.poll_ids",
    "author_id",
    "edit_history_tweet_ids",
    "entities.mentions.username",
    "geo.place_id",
    "in_reply_to_user_id",
    "entities.note.mentions.username",
    "referenced_tweets.id",
    "referenced_tweets.id.attachments.media_keys",
    "referenced_tweets.id.author_id",
];

/// What a timeline request asked for, validated.
struct TimelineQuery {
    max_results: usize,
    /// Only posts older than this id (from `pagination_token`).
    before_id: Option<u64>,
    since_id: Option<u64>,
    until_id: Option<u64>,
    start_time: Option<DateTime<Utc>>,
    end_time: Option<DateTime<Utc>>,
    depth: usize,
    fields: Vec<String>,
    media_expansion: bool,
}

/// `GET /2/users/:id/tweets`: the user's posts, newest first, one page.
pub(super) fn user_tweets(sim: &Simulator, request: &Request, user_id: &str) -> Response {
    if !is_snowflake(user_id) {
        return invalid_request(&[format!(
            "The `id` query parameter value [{user_id}] does not match ^[0-9]{{1,19}}$"
        )]);
    }
    let query = match timeline_query(request) {
        Ok(query) => query,
        Err(problems) => return invalid_request(&problems),
    };
    let mut posts: Vec<(u64, Value)> = sim
        .accepted_posts(PLATFORM)
        .into_iter()
        .filter(|p| p["authorId"] == user_id && p["deleted"] != true)
        .filter_map(|p| Some((p["id"].as_str()?.parse::<u64>().ok()?, p)))
        .collect();
    // Snowflake ids grow with time: sorting by id is X's reverse-chronological order.
    posts.sort_by_key(|(id, _)| std::cmp::Reverse(*id));
    posts.truncate(query.depth);
    let mut matching = posts
        .into_iter()
        .filter(|(id, post)| in_window(&query, *id, post));
    let page: Vec<(u64, Value)> = matching.by_ref().take(query.max_results).collect();
    let more = matching.next().is_some();
    let mut meta = json!({"result_count": page.len()});
    if page.is_empty() {
        return Response::json(200, &json!({"meta": meta}));
    }
    meta["newest_id"] = json!(page[0].0.to_string());
    let oldest = page[page.len() - 1].0;
    meta["oldest_id"] = json!(oldest.to_string());
    if more {
        meta["next_token"] = json!(page_token(oldest));
    }
    let data: Vec<Value> = page
        .iter()
        .map(|(_, post)| rendered(post, &query.fields))
        .collect();
    let mut body = json!({"data": data, "meta": meta});
    if query.media_expansion {
        let media: Vec<Value> = page
            .iter()
            .flat_map(|(_, post)| post["media"].as_array().cloned().unwrap_or_default())
            .map(|m| {
                let category = m["category"].as_str().unwrap_or_default();
                json!({
                    "media_key": media_key(category, m["id"].as_str().unwrap_or_default()),
                    "type": media_type(category),
                })
            })
            .collect();
        if !media.is_empty() {
            body["includes"] = json!({"media": media});
        }
    }
    Response::json(200, &body)
}

/// `DELETE /2/tweets/:id`: only the author deletes a post. An id with no live post (never
/// made, or deleted already) answers `deleted: false`, the "as a result of this request" of
/// X's field description (inferred; X documents only the success answer).
pub(super) fn delete_tweet(sim: &Simulator, claims: &TokenClaims, id: &str) -> Response {
    if !is_snowflake(id) {
        return invalid_request(&[format!(
            "The `id` query parameter value [{id}] does not match ^[0-9]{{1,19}}$"
        )]);
    }
    let live = sim
        .accepted_posts(PLATFORM)
        .into_iter()
        .find(|p| p["id"] == id && p["deleted"] != true);
    if let Some(post) = live
        && post["authorId"] != claims.sub.as_str()
    {
        return problem(
            403,
            "Forbidden",
            "You are not allowed to delete a Post that you did not create.",
            "about:blank",
        );
    }
    let deleted = sim.mark_post_deleted(PLATFORM, |p| p["id"] == id);
    Response::json(200, &json!({"data": {"deleted": deleted}}))
}

fn is_snowflake(id: &str) -> bool {
    (1..=19).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
}

fn timeline_query(request: &Request) -> Result<TimelineQuery, Vec<String>> {
    let mut problems = Vec::new();
    let param = |name: &str| request.query_param(name).filter(|v| !v.is_empty());
    let max_results = match param("max_results") {
        None => 10,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (5..=100).contains(&n) => n,
            _ => {
                problems.push(format!(
                    "The `max_results` query parameter value [{v}] is not between 5 and 100"
                ));
                10
            }
        },
    };
    let mut id_param = |name: &str| {
        let value = param(name)?;
        match value.parse::<u64>() {
            Ok(id) if is_snowflake(value) => Some(id),
            _ => {
                problems.push(format!(
                    "The `{name}` query parameter value [{value}] does not match ^[0-9]{{1,19}}$"
                ));
                None
            }
        }
    };
    let since_id = id_param("since_id");
    let until_id = id_param("until_id");
    let mut time_param = |name: &str| {
        let value = param(name)?;
        match parse_time(value) {
            Some(at) => Some(at),
            None => {
                problems.push(format!(
                    "Invalid '{name}':'{value}'. '{name}' must be a date-time YYYY-MM-DDTHH:mm:ssZ, in whole seconds, on or after {EARLIEST_TIME}."
                ));
                None
            }
        }
    };
    let start_time = time_param("start_time");
    let end_time = time_param("end_time");
    if let (Some(start), Some(end)) = (start_time, end_time)
        && start >= end
    {
        problems.push(format!(
            "Invalid 'start_time':'{}'. 'start_time' must be before 'end_time'.",
            param("start_time").unwrap_or_default()
        ));
    }
    let before_id = match param("pagination_token") {
        None => None,
        Some(token) => match read_page_token(token) {
            Some(id) => Some(id),
            None => {
                problems.push(format!(
                    "The `pagination_token` query parameter value [{token}] is not valid"
                ));
                None
            }
        },
    };
    let exclude = list_param(request, "exclude");
    for value in &exclude {
        if !matches!(value.as_str(), "replies" | "retweets") {
            problems.push(format!(
                "The `exclude` query parameter value [{value}] is not one of [replies,retweets]"
            ));
        }
    }
    let fields = list_param(request, "tweet.fields");
    for field in &fields {
        if !TWEET_FIELDS.contains(&field.as_str()) {
            problems.push(format!(
                "The `tweet.fields` query parameter value [{field}] is not one of [{}]",
                TWEET_FIELDS.join(",")
            ));
        }
    }
    let expansions = list_param(request, "expansions");
    for expansion in &expansions {
        if !EXPANSIONS.contains(&expansion.as_str()) {
            problems.push(format!(
                "The `expansions` query parameter value [{expansion}] is not one of [{}]",
                EXPANSIONS.join(",")
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(TimelineQuery {
        max_results,
        before_id,
        // The ids take precedence over the times when both are given.
        start_time: start_time.filter(|_| since_id.is_none()),
        end_time: end_time.filter(|_| until_id.is_none()),
        since_id,
        until_id,
        depth: if exclude.iter().any(|e| e == "replies") {
            TIMELINE_DEPTH_WITHOUT_REPLIES
        } else {
            TIMELINE_DEPTH
        },
        fields,
        media_expansion: expansions.iter().any(|e| e == "attachments.media_keys"),
    })
}

fn list_param(request: &Request, name: &str) -> Vec<String> {
    request
        .query_param(name)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

/// `YYYY-MM-DDTHH:mm:ssZ`: X takes no milliseconds here, and nothing before its earliest time.
fn parse_time(value: &str) -> Option<DateTime<Utc>> {
    let at =
        Utc.from_utc_datetime(&NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%SZ").ok()?);
    let earliest = DateTime::parse_from_rfc3339(EARLIEST_TIME).ok()?;
    (at >= earliest).then_some(at)
}

fn in_window(query: &TimelineQuery, id: u64, post: &Value) -> bool {
    let created = post["createdAt"]
        .as_str()
        .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
        .map(|at| at.with_timezone(&Utc));
    let Some(created) = created else {
        return false;
    };
    // Both times have whole-second granularity and are inclusive.
    let second = created.timestamp();
    query.before_id.is_none_or(|before| id < before)
        && query.since_id.is_none_or(|since| id > since)
        && query.until_id.is_none_or(|until| id < until)
        && query
            .start_time
            .is_none_or(|start| second >= start.timestamp())
        && query.end_time.is_none_or(|end| second <= end.timestamp())
}

/// Opaque to clients; here it names the oldest post of the page before.
fn page_token(oldest_id: u64) -> String {
    format!("7140dibdnow9c7btw{oldest_id:x}")
}

fn read_page_token(token: &str) -> Option<u64> {
    u64::from_str_radix(token.strip_prefix("7140dibdnow9c7btw")?, 16).ok()
}

/// A post as the timeline shows it: the default fields, and the asked-for ones we keep.
fn rendered(post: &Value, fields: &[String]) -> Value {
    let id = post["id"].as_str().unwrap_or_default();
    let mut tweet = Map::new();
    tweet.insert("id".into(), json!(id));
    tweet.insert("text".into(), json!(stored_text(post)));
    tweet.insert("edit_history_tweet_ids".into(), json!([id]));
    let wants = |name: &str| fields.iter().any(|f| f == name);
    if wants("created_at") {
        tweet.insert("created_at".into(), post["createdAt"].clone());
    }
    if wants("author_id") {
        tweet.insert("author_id".into(), post["authorId"].clone());
    }
    if wants("reply_settings") {
        let setting = post["replySettings"].as_str().unwrap_or("everyone");
        tweet.insert("reply_settings".into(), json!(setting));
    }
    let media = post["media"].as_array().cloned().unwrap_or_default();
    if wants("attachments") && !media.is_empty() {
        let keys: Vec<String> = media
            .iter()
            .map(|m| {
                media_key(
                    m["category"].as_str().unwrap_or_default(),
                    m["id"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        tweet.insert("attachments".into(), json!({"media_keys": keys}));
    }
    Value::Object(tweet)
}

fn media_type(category: &str) -> &'static str {
    match category {
        "tweet_image" => "photo",
        "tweet_gif" => "animated_gif",
        _ => "video",
    }
}

/// The text as X stores and returns it (see the module comment).
pub(super) fn stored_text(post: &Value) -> String {
    let text = post["text"].as_str().unwrap_or_default();
    let id = post["id"].as_str().unwrap_or_default();
    let links = twitter_text::extractor::Extractor::new().extract_urls(text);
    let mut out = String::with_capacity(text.len() + 24);
    let mut rest = text;
    for (index, link) in links.iter().enumerate() {
        let Some(at) = rest.find(link.as_str()) else {
            continue;
        };
        out.push_str(&html_escaped(&rest[..at]));
        out.push_str(&short_link(id, index));
        rest = &rest[at + link.len()..];
    }
    out.push_str(&html_escaped(rest));
    let has_media = post["media"].as_array().is_some_and(|m| !m.is_empty());
    if has_media {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&short_link(id, links.len()));
    }
    out
}

/// X escapes these three in a post's text, and nothing else.
fn html_escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A t.co link, 23 characters, stable for a post and the place of the link in it.
fn short_link(post_id: &str, index: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let digest = sha256_hex(format!("{post_id}/{index}").as_bytes());
    let code: String = digest
        .as_bytes()
        .chunks(2)
        .take(10)
        .map(|pair| {
            let byte =
                u8::from_str_radix(std::str::from_utf8(pair).unwrap_or("00"), 16).unwrap_or(0);
            ALPHABET[usize::from(byte) % ALPHABET.len()] as char
        })
        .collect();
    format!("https://t.co/{code}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_wraps_links_escapes_and_links_the_media() {
        let post = json!({"id": "1", "text": "Tips & tricks <b> at example.com and https://shop.example.com/x?y=1&z=2", "media": []});
        let text = stored_text(&post);
        assert!(
            text.starts_with("Tips &amp; tricks &lt;b&gt; at https://t.co/"),
            "{text}"
        );
        assert_eq!(text.matches("https://t.co/").count(), 2, "{text}");
        assert!(!text.contains("example"));
        assert_eq!(text.split_whitespace().last().unwrap().len(), 23);

        let with_media =
            json!({"id": "2", "text": "Look", "media": [{"id": "9", "category": "tweet_image"}]});
        let text = stored_text(&with_media);
        assert!(text.starts_with("Look https://t.co/"), "{text}");
        assert_eq!(text.len(), "Look ".len() + 23);
        let media_only =
            json!({"id": "3", "text": "", "media": [{"id": "9", "category": "tweet_video"}]});
        assert_eq!(stored_text(&media_only).len(), 23);
    }

    #[test]
    fn times_are_whole_seconds_after_the_earliest() {
        assert!(parse_time("2026-03-01T10:00:00Z").is_some());
        assert!(parse_time("2026-03-01T10:00:00.000Z").is_none());
        assert!(parse_time("2026-03-01 10:00:00").is_none());
        assert!(parse_time("2010-11-06T00:00:00Z").is_none());
    }

    #[test]
    fn page_tokens_round_trip() {
        assert_eq!(
            read_page_token(&page_token(1_234_567_890_123)),
            Some(1_234_567_890_123)
        );
        assert_eq!(read_page_token("nonsense"), None);
    }

    // ----- over the simulator's HTTP surface -----

    use crate::SimulatorSettings;
    use httpkit::clock::OffsetClock;
    use std::sync::Arc;

    struct X {
        sim: Arc<Simulator>,
        clock: Arc<OffsetClock>,
    }

    impl X {
        fn new() -> Self {
            let clock = OffsetClock::new();
            let sim = Simulator::new(clock.clone(), [7; 32], SimulatorSettings::default());
            Self { sim, clock }
        }

        fn token(&self, user: &str, scopes: &[&str]) -> String {
            let now = self.sim.now().timestamp();
            self.sim.sign_token(&TokenClaims {
                typ: "access".into(),
                plat: "twitter".into(),
                cid: "client".into(),
                sub: user.into(),
                name: "Alex Morgan".into(),
                scp: scopes.iter().map(|s| s.to_string()).collect(),
                iat: now,
                exp: now + 7200,
                grant: format!("grant-{user}"),
                nonce: format!("nonce-{user}"),
            })
        }

        fn call(
            &self,
            token: &str,
            method: &str,
            target: &str,
            body: Option<Value>,
        ) -> (u16, Value) {
            let mut request = Request::new(method, &format!("/twitter/2/{target}"));
            request
                .headers
                .push(("Authorization".into(), format!("Bearer {token}")));
            if let Some(body) = body {
                request.body = body.to_string().into_bytes();
            }
            let response = self.sim.handle(&request, "");
            let value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
            (response.status, value)
        }

        fn tweet(&self, token: &str, text: &str) -> String {
            let (status, body) = self.call(token, "POST", "tweets", Some(json!({"text": text})));
            assert_eq!(status, 201, "{body}");
            body["data"]["id"].as_str().unwrap().to_string()
        }
    }

    const ALL: &[&str] = &["tweet.read", "tweet.write", "users.read"];
    const ME: &str = "1000000000000000001";

    #[test]
    fn the_timeline_lists_the_users_posts_newest_first_in_pages() {
        let x = X::new();
        let token = x.token(ME, ALL);
        let mut ids = Vec::new();
        for n in 0..7 {
            ids.push(x.tweet(&token, &format!("post {n} & more at example.com")));
            x.clock.advance(chrono::Duration::seconds(10));
        }
        let other = x.token("1000000000000000002", ALL);
        x.tweet(&other, "someone else's");
        let (status, first) = x.call(
            &token,
            "GET",
            &format!("users/{ME}/tweets?max_results=5&tweet.fields=created_at,author_id"),
            None,
        );
        assert_eq!(status, 200, "{first}");
        let data = first["data"].as_array().unwrap();
        assert_eq!(data.len(), 5);
        assert_eq!(data[0]["id"], ids[6].as_str());
        assert_eq!(first["meta"]["newest_id"], ids[6].as_str());
        assert_eq!(first["meta"]["oldest_id"], ids[2].as_str());
        assert_eq!(first["meta"]["result_count"], 5);
        assert_eq!(data[0]["author_id"], ME);
        assert!(data[0]["created_at"].as_str().unwrap().ends_with('Z'));
        let text = data[0]["text"].as_str().unwrap();
        assert!(
            text.starts_with("post 6 &amp; more at https://t.co/"),
            "{text}"
        );
        let token_of_next = first["meta"]["next_token"].as_str().unwrap();
        let (_, second) = x.call(
            &token,
            "GET",
            &format!("users/{ME}/tweets?max_results=5&pagination_token={token_of_next}"),
            None,
        );
        let rest: Vec<&str> = second["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap())
            .collect();
        assert_eq!(rest, vec![ids[1].as_str(), ids[0].as_str()]);
        assert!(second["meta"].get("next_token").is_none());
        assert!(second["data"][0].get("created_at").is_none());
    }

    #[test]
    fn the_timeline_keeps_to_the_window_and_leaves_deleted_posts_out() {
        let x = X::new();
        let token = x.token(ME, ALL);
        x.tweet(&token, "before");
        x.clock.advance(chrono::Duration::seconds(120));
        let start = x.sim.now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let kept = x.tweet(&token, "inside");
        let gone = x.tweet(&token, "deleted later");
        assert_eq!(
            x.call(&token, "DELETE", &format!("tweets/{gone}"), None),
            (200, json!({"data": {"deleted": true}}))
        );
        let (status, page) = x.call(
            &token,
            "GET",
            &format!("users/{ME}/tweets?start_time={start}&max_results=100"),
            None,
        );
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["meta"]["result_count"], 1);
        assert_eq!(page["data"][0]["id"], kept.as_str());
        let later = (x.sim.now() + chrono::Duration::seconds(60))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let (_, empty) = x.call(
            &token,
            "GET",
            &format!("users/{ME}/tweets?start_time={later}"),
            None,
        );
        assert_eq!(empty, json!({"meta": {"result_count": 0}}));
    }

    #[test]
    fn media_comes_back_as_a_trailing_link_and_an_expansion() {
        let x = X::new();
        let token = x.token(ME, ALL);
        let record = json!({
            "id": "1900000000000000001", "authorId": ME, "text": "With a video",
            "media": [{"id": "1900000000000000000", "category": "tweet_video"}],
            "createdAt": httpkit::clock::format_timestamp(x.sim.now()),
        });
        x.sim
            .record_post_unless_duplicate(PLATFORM, x.sim.now(), |_| false, record)
            .unwrap();
        let (_, page) = x.call(
            &token,
            "GET",
            &format!(
                "users/{ME}/tweets?tweet.fields=attachments&expansions=attachments.media_keys"
            ),
            None,
        );
        let tweet = &page["data"][0];
        assert_eq!(
            tweet["attachments"]["media_keys"],
            json!(["7_1900000000000000000"])
        );
        assert_eq!(
            page["includes"]["media"],
            json!([{"media_key": "7_1900000000000000000", "type": "video"}])
        );
        assert!(
            tweet["text"]
                .as_str()
                .unwrap()
                .starts_with("With a video https://t.co/")
        );
    }

    #[test]
    fn the_timeline_refuses_what_x_refuses() {
        let x = X::new();
        let token = x.token(ME, ALL);
        for query in [
            "max_results=4",
            "max_results=101",
            "start_time=2026-01-01T00:00:00.000Z",
            "pagination_token=abc",
            "tweet.fields=colour",
            "exclude=quotes",
        ] {
            let (status, body) = x.call(&token, "GET", &format!("users/{ME}/tweets?{query}"), None);
            assert_eq!(status, 400, "{query}: {body}");
            assert_eq!(body["title"], "Invalid Request", "{query}");
        }
        assert_eq!(x.call(&token, "GET", "users/me123/tweets", None).0, 400);
        let write_only = x.token(ME, &["tweet.read", "tweet.write"]);
        assert_eq!(
            x.call(&write_only, "GET", &format!("users/{ME}/tweets"), None)
                .0,
            403
        );
        assert_eq!(
            x.call("nonsense", "GET", &format!("users/{ME}/tweets"), None)
                .0,
            401
        );
    }

    #[test]
    fn only_the_author_deletes_and_a_second_delete_deletes_nothing() {
        let x = X::new();
        let token = x.token(ME, ALL);
        let id = x.tweet(&token, "to be deleted");
        let other = x.token("1000000000000000002", ALL);
        let (status, body) = x.call(&other, "DELETE", &format!("tweets/{id}"), None);
        assert_eq!(status, 403, "{body}");
        let read_only = x.token(ME, &["tweet.read", "users.read"]);
        assert_eq!(
            x.call(&read_only, "DELETE", &format!("tweets/{id}"), None)
                .0,
            403
        );
        assert_eq!(x.call(&token, "DELETE", "tweets/12ab", None).0, 400);
        assert_eq!(
            x.call(&token, "DELETE", &format!("tweets/{id}"), None),
            (200, json!({"data": {"deleted": true}}))
        );
        let record = &x.sim.accepted_posts(PLATFORM)[0];
        assert_eq!(record["deleted"], true);
        assert_eq!(
            x.call(&token, "DELETE", &format!("tweets/{id}"), None),
            (200, json!({"data": {"deleted": false}}))
        );
        // A deleted post no longer makes the same text a duplicate.
        x.tweet(&token, "to be deleted");
    }

    #[test]
    fn snowflake_ids_sort_by_time() {
        let x = X::new();
        let token = x.token(ME, ALL);
        let first: u64 = x.tweet(&token, "one").parse().unwrap();
        x.clock.advance(chrono::Duration::milliseconds(5));
        let second: u64 = x.tweet(&token, "two").parse().unwrap();
        assert!(second > first);
        assert_eq!(second.to_string().len(), 19);
    }
}
