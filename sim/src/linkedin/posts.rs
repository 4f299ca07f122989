//! Reading and deleting posts on LinkedIn's Posts API, as the simulator plays them:
//! `GET /rest/posts?q=author&author={urn}` (the author finder: `start`, `count`, `sortBy`,
//! `paging`), `GET /rest/posts/{encoded urn}` and `DELETE /rest/posts/{encoded urn}` (204,
//! also for a post deleted before: "Post deletions are idempotent").
//!
//! Permissions as the Posts API page states them: reading a member's posts needs
//! `r_member_social`, which LinkedIn restricts to approved partners (the simulator's consent
//! page does not offer it, as LinkedIn does not to a self-serve app); an organization's posts
//! need `r_organization_social` and a Page role, which no simulated member has; deleting
//! needs `w_member_social`, and only the author deletes ("Social Access Control": a member
//! updates only the personal posts they authored). Source: learn.microsoft.com, LinkedIn
//! Marketing, Community Management, "Posts API" and "Social Access Control".

use super::{PLATFORM, Simulator, TokenClaims, access_denied, api_error, not_found};
use chrono::DateTime;
use httpkit::{Request, Response, percent_encode};
use serde_json::{Value, json};

/// The author finder's page size: 10 unless `count` says otherwise, at most 100 (inferred:
/// the common Rest.li finder limit; LinkedIn's page gives no number).
const DEFAULT_COUNT: usize = 10;
const MAX_COUNT: usize = 100;

fn has(claims: &TokenClaims, scope: &str) -> bool {
    claims.scp.iter().any(|s| s == scope)
}

fn person(claims: &TokenClaims) -> String {
    format!("urn:li:person:{}", claims.sub)
}

/// `GET /rest/posts?q=author&author=...`: the author's posts, newest first.
pub(super) fn find(
    sim: &Simulator,
    request: &Request,
    claims: &TokenClaims,
    version: &str,
) -> Response {
    match request.query_param("q") {
        Some("author") => {}
        Some(other) => {
            return api_error(400, None, None, &format!("Invalid finder name: {other}"));
        }
        None => {
            return api_error(
                400,
                None,
                Some("ILLEGAL_ARGUMENT"),
                "A GET on a collection needs a finder: q=author",
            );
        }
    }
    let Some(author) = request.query_param("author").filter(|a| !a.is_empty()) else {
        return api_error(
            400,
            None,
            Some("ILLEGAL_ARGUMENT"),
            "Parameter 'author' is required",
        );
    };
    let denied = || {
        access_denied(&format!(
            "Not enough permissions to access: partnerApiPostsExternal.FINDER-author.{version}01"
        ))
    };
    if author.starts_with("urn:li:organization:") {
        // r_organization_social reads only the Pages a member has a role on; no simulated
        // member has one.
        return denied();
    }
    if !author.starts_with("urn:li:person:") {
        return api_error(
            400,
            None,
            Some("ILLEGAL_ARGUMENT"),
            &format!("Invalid author URN: {author}"),
        );
    }
    if author != person(claims) || !has(claims, "r_member_social") {
        return denied();
    }
    let number = |name: &str, default: usize| -> Result<usize, Response> {
        match request.query_param(name) {
            None => Ok(default),
            Some(value) => value.parse::<usize>().map_err(|_| {
                api_error(
                    400,
                    None,
                    Some("ILLEGAL_ARGUMENT"),
                    &format!("Invalid value for parameter '{name}': {value}"),
                )
            }),
        }
    };
    let (start, count) = match (number("start", 0), number("count", DEFAULT_COUNT)) {
        (Ok(start), Ok(count)) => (start, count.min(MAX_COUNT)),
        (Err(response), _) | (_, Err(response)) => return response,
    };
    if let Some(sort) = request.query_param("sortBy")
        && !matches!(sort, "LAST_MODIFIED" | "CREATED")
    {
        return api_error(
            400,
            None,
            Some("ILLEGAL_ARGUMENT"),
            &format!("Invalid value for parameter 'sortBy': {sort}"),
        );
    }
    let mut posts: Vec<Value> = sim
        .accepted_posts(PLATFORM)
        .into_iter()
        .filter(|p| p["author"] == author && p["deleted"] != true)
        .collect();
    // Posts are never edited here, so last-modified and created order are the same.
    posts.reverse();
    let total = posts.len();
    let elements: Vec<Value> = posts
        .iter()
        .skip(start)
        .take(count)
        .map(post_view)
        .collect();
    let mut links = Vec::new();
    if start + elements.len() < total {
        links.push(json!({
            "type": "application/json",
            "rel": "next",
            "href": format!(
                "/rest/posts?author={}&count={count}&q=author&start={}",
                percent_encode(author),
                start + count
            ),
        }));
    }
    Response::json(
        200,
        &json!({
            "paging": {"start": start, "count": count, "links": links, "total": total},
            "elements": elements,
        }),
    )
}

/// `GET /rest/posts/{urn}`: one post, for a caller allowed to read its author's posts.
pub(super) fn get(sim: &Simulator, claims: &TokenClaims, version: &str, urn: &str) -> Response {
    let Some(post) = live_post(sim, urn) else {
        return not_found();
    };
    if post["author"] != person(claims).as_str() || !has(claims, "r_member_social") {
        return access_denied(&format!(
            "Not enough permissions to access: partnerApiPostsExternal.GET.{version}01"
        ));
    }
    Response::json(200, &post_view(&post))
}

/// `DELETE /rest/posts/{urn}`: 204 for the author, again for a post already deleted.
pub(super) fn delete(sim: &Simulator, claims: &TokenClaims, version: &str, urn: &str) -> Response {
    if !(urn.starts_with("urn:li:share:") || urn.starts_with("urn:li:ugcPost:")) {
        return api_error(
            400,
            None,
            Some("ILLEGAL_ARGUMENT"),
            "Syntax exception in path variables",
        );
    }
    let denied = || {
        access_denied(&format!(
            "Not enough permissions to access: partnerApiPostsExternal.DELETE.{version}01"
        ))
    };
    if !has(claims, "w_member_social") {
        return denied();
    }
    let me = person(claims);
    let Some(post) = sim
        .accepted_posts(PLATFORM)
        .into_iter()
        .find(|p| p["id"] == urn)
    else {
        // Inferred: an id that never was a post is not found.
        return not_found();
    };
    if post["author"] != me.as_str() {
        return denied();
    }
    // Deleted posts keep their record (and, as members report, keep making the same text a
    // duplicate for a day or two): the duplicate rule of `create_post` still sees them.
    sim.mark_post_deleted(PLATFORM, |p| p["id"] == urn);
    Response::no_content()
}

fn live_post(sim: &Simulator, urn: &str) -> Option<Value> {
    sim.accepted_posts(PLATFORM)
        .into_iter()
        .find(|p| p["id"] == urn && p["deleted"] != true)
}

fn epoch_millis(at: &Value) -> i64 {
    at.as_str()
        .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
        .map(|at| at.timestamp_millis())
        .unwrap_or(0)
}

/// A post as the Posts API returns it.
fn post_view(post: &Value) -> Value {
    let created = epoch_millis(&post["createdAt"]);
    let mut view = json!({
        "id": post["id"],
        "author": post["author"],
        "commentary": post["commentary"],
        "visibility": post["visibility"],
        "lifecycleState": post["lifecycleState"],
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": []
        },
        "isReshareDisabledByAuthor": false,
        "lifecycleStateInfo": {"isEditedByAuthor": false},
        "createdAt": created,
        "publishedAt": created,
        "lastModifiedAt": created,
    });
    if let Some(id) = post["media"]["id"].as_str() {
        let mut media = json!({"id": id});
        if let Some(alt) = post["media"]["altText"].as_str() {
            media["altText"] = json!(alt);
        }
        view["content"] = json!({"media": media});
    }
    view
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimulatorSettings;
    use httpkit::clock::OffsetClock;
    use std::sync::Arc;

    const VERSION: &str = "202603";

    fn sim() -> Arc<Simulator> {
        Simulator::new(OffsetClock::new(), [9; 32], SimulatorSettings::default())
    }

    fn token(sim: &Simulator, member: &str, scopes: &[&str]) -> String {
        let now = sim.now().timestamp();
        sim.sign_token(&TokenClaims {
            typ: "access".into(),
            plat: "linkedin".into(),
            cid: "client".into(),
            sub: member.into(),
            name: "Alex Morgan".into(),
            scp: scopes.iter().map(|s| s.to_string()).collect(),
            iat: now,
            exp: now + 3600,
            grant: format!("grant-{member}"),
            nonce: format!("nonce-{member}"),
        })
    }

    fn call(
        sim: &Simulator,
        token: &str,
        method: &str,
        target: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = Request::new(method, &format!("/linkedin/rest/{target}"));
        for (name, value) in [
            ("Authorization", format!("Bearer {token}")),
            ("LinkedIn-Version", VERSION.to_string()),
            ("X-Restli-Protocol-Version", "2.0.0".to_string()),
        ] {
            request.headers.push((name.into(), value));
        }
        if let Some(body) = body {
            request.body = body.to_string().into_bytes();
        }
        let response = sim.handle(&request, "");
        (
            response.status,
            serde_json::from_slice(&response.body).unwrap_or(Value::Null),
        )
    }

    fn post(sim: &Simulator, token: &str, member: &str, text: &str) -> String {
        let mut request = Request::new("POST", "/linkedin/rest/posts");
        for (name, value) in [
            ("Authorization", format!("Bearer {token}")),
            ("LinkedIn-Version", VERSION.to_string()),
            ("X-Restli-Protocol-Version", "2.0.0".to_string()),
        ] {
            request.headers.push((name.into(), value));
        }
        request.body = json!({
            "author": format!("urn:li:person:{member}"),
            "commentary": text,
            "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
            "lifecycleState": "PUBLISHED",
        })
        .to_string()
        .into_bytes();
        let response = sim.handle(&request, "");
        assert_eq!(response.status, 201);
        response.header("x-restli-id").unwrap().to_string()
    }

    fn encoded(urn: &str) -> String {
        percent_encode(urn)
    }

    #[test]
    fn a_members_posts_are_listed_only_with_the_restricted_permission() {
        let sim = sim();
        let writer = token(&sim, "abc", &["openid", "profile", "w_member_social"]);
        let first = post(&sim, &writer, "abc", "first");
        let second = post(&sim, &writer, "abc", "second");
        let finder = format!("posts?q=author&author={}", encoded("urn:li:person:abc"));
        let (status, body) = call(&sim, &writer, "GET", &finder, None);
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["code"], "ACCESS_DENIED");
        assert!(body["message"].as_str().unwrap().contains("FINDER-author"));
        let (status, _) = call(
            &sim,
            &writer,
            "GET",
            &format!("posts/{}", encoded(&first)),
            None,
        );
        assert_eq!(status, 403);

        let reader = token(&sim, "abc", &["w_member_social", "r_member_social"]);
        let (status, body) = call(&sim, &reader, "GET", &format!("{finder}&count=1"), None);
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["elements"][0]["id"], second.as_str());
        assert_eq!(body["elements"][0]["commentary"], "second");
        assert_eq!(body["paging"]["total"], 2);
        assert!(
            body["paging"]["links"][0]["href"]
                .as_str()
                .unwrap()
                .contains("start=1")
        );
        let (_, page) = call(
            &sim,
            &reader,
            "GET",
            &format!("{finder}&count=1&start=1"),
            None,
        );
        assert_eq!(page["elements"][0]["id"], first.as_str());
        assert_eq!(page["paging"]["links"], json!([]));
        let (status, one) = call(
            &sim,
            &reader,
            "GET",
            &format!("posts/{}", encoded(&first)),
            None,
        );
        assert_eq!(
            (status, one["author"].clone()),
            (200, json!("urn:li:person:abc"))
        );
        // Someone else's posts, and an organization's, stay closed.
        let others = format!("posts?q=author&author={}", encoded("urn:li:person:xyz"));
        assert_eq!(call(&sim, &reader, "GET", &others, None).0, 403);
        let page_posts = format!("posts?q=author&author={}", encoded("urn:li:organization:1"));
        assert_eq!(call(&sim, &reader, "GET", &page_posts, None).0, 403);
        assert_eq!(call(&sim, &reader, "GET", "posts?q=authors", None).0, 400);
    }

    #[test]
    fn the_author_deletes_idempotently_and_nobody_else_does() {
        let sim = sim();
        let writer = token(&sim, "abc", &["openid", "profile", "w_member_social"]);
        let urn = post(&sim, &writer, "abc", "to delete");
        let path = format!("posts/{}", encoded(&urn));
        let stranger = token(&sim, "xyz", &["w_member_social"]);
        assert_eq!(call(&sim, &stranger, "DELETE", &path, None).0, 403);
        let no_write = token(&sim, "abc", &["openid", "profile"]);
        assert_eq!(call(&sim, &no_write, "DELETE", &path, None).0, 403);
        assert_eq!(
            call(&sim, &writer, "DELETE", "posts/not-a-urn", None).0,
            400
        );
        assert_eq!(call(&sim, &writer, "DELETE", &path, None).0, 204);
        assert_eq!(sim.accepted_posts(PLATFORM)[0]["deleted"], true);
        assert_eq!(call(&sim, &writer, "DELETE", &path, None).0, 204);
        let unknown = format!("posts/{}", encoded("urn:li:share:7000000000000000000"));
        assert_eq!(call(&sim, &writer, "DELETE", &unknown, None).0, 404);
        let reader = token(&sim, "abc", &["r_member_social"]);
        assert_eq!(call(&sim, &reader, "GET", &path, None).0, 404);
    }
}
