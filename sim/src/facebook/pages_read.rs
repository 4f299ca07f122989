//! What a Page's own token may read and delete, and what the app's own token may do:
//! - `GET /{page-id}/published_posts` and `GET /{page-id}/feed` (the Page's posts, newest first,
//!   `since`/`until`/`limit`/cursors; Page Feed and Page Published Posts references), with
//!   `pages_read_engagement`;
//! - `GET /{page-id}/videos` (the Page's videos; Page Videos reference);
//! - `DELETE /{post-id}` / `DELETE /{video-id}` with `pages_manage_posts` (Pages API posts
//!   guide: "Delete a post" answers `{"success": true}`); a post that is gone answers Graph's
//!   "does not exist" error (code 100, subcode 33);
//! - the app access token `{app-id}|{app-secret}`: `GET /debug_token?input_token=` (Access Token
//!   Debugging guide; an expired or revoked token is described with `is_valid: false` and its
//!   `error` [inf: the shape of `error` inside `data` comes from client libraries, not a Meta
//!   page]) and `DELETE /{user-id}/permissions` (User Permissions reference: revoking "must be
//!   made with a user access token or an app access token for the current app"), which
//!   de-authorizes the app for that person: every token of every login of theirs dies.

use super::listing::{self, Entry};
use super::{
    FacebookState, PLATFORM, has_permission, no_such_object, oauth_exception, permission_error,
};
use crate::{Simulator, TokenClaims};
use httpkit::{Request, Response};
use serde_json::{Map, json};

/// Page lists: 25 a page unless asked, at most 100 (the Page Feed reference's `limit`).
const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 100;

/// The Page token of `page` with `permission`, or Graph's refusal.
fn page_token_for(claims: &TokenClaims, page: &str, permission: &str) -> Result<(), Response> {
    if claims.typ != "page" {
        return Err(permission_error(&format!(
            "This endpoint requires a Page access token of the Page with the {permission} permission"
        )));
    }
    if claims.sub != page {
        return Err(no_such_object(page));
    }
    if !has_permission(claims, permission) {
        return Err(permission_error(&format!(
            "The {permission} permission is required for this request"
        )));
    }
    Ok(())
}

fn list_answer(request: &Request, entries: Vec<Entry>, base: String) -> Response {
    match listing::page(request, entries, DEFAULT_LIMIT, MAX_LIMIT, &base) {
        Ok(body) => Response::json(200, &body),
        Err(name) => listing::bad_parameter(&name, |m| oauth_exception(m, 100, None)),
    }
}

/// `GET /{page-id}/published_posts` and `GET /{page-id}/feed`: the Page's posts that are not
/// deleted (videos once processed, as they appear on the Page).
pub(super) fn posts(
    sim: &Simulator,
    request: &Request,
    claims: &TokenClaims,
    page: &str,
    edge: &str,
) -> Response {
    if let Err(refusal) = page_token_for(claims, page, "pages_read_engagement") {
        return refusal;
    }
    let entries = sim
        .accepted_posts(PLATFORM)
        .into_iter()
        .filter(|p| p["pageId"] == page && p["deleted"] != true)
        .filter_map(|p| {
            let created = listing::unix_of(&p["createdAt"])?;
            let mut fields = Map::new();
            fields.insert("id".into(), p["id"].clone());
            let message = p["message"].as_str().unwrap_or_default();
            if !message.is_empty() {
                fields.insert("message".into(), json!(message));
            }
            fields.insert("created_time".into(), json!(listing::graph_time(created)));
            fields.insert(
                "permalink_url".into(),
                json!(format!("https://www.facebook.com/{}", p["id"].as_str()?)),
            );
            fields.insert(
                "status_type".into(),
                json!(match p["kind"].as_str() {
                    Some("photo") => "added_photos",
                    Some("video") => "added_video",
                    Some("link") => "shared_story",
                    _ => "mobile_status_update",
                }),
            );
            Some(Entry { created, fields })
        })
        .collect();
    list_answer(
        request,
        entries,
        format!("https://graph.facebook.com/v25.0/{page}/{edge}"),
    )
}

/// `GET /{page-id}/videos`: the videos uploaded to the Page, processed or not, with their
/// `description`, `title` and `status` when asked.
pub(super) fn videos(
    sim: &Simulator,
    request: &Request,
    claims: &TokenClaims,
    page: &str,
) -> Response {
    if let Err(refusal) = page_token_for(claims, page, "pages_read_engagement") {
        return refusal;
    }
    let entries = sim.with_platform_state(PLATFORM, |s: &mut FacebookState| {
        s.videos
            .iter()
            .filter(|(_, v)| v.page == page && !v.deleted)
            .filter_map(|(id, v)| {
                let created = listing::unix_of(&v.record["createdAt"])?;
                let mut fields = Map::new();
                fields.insert("id".into(), json!(id));
                fields.insert("description".into(), v.record["message"].clone());
                fields.insert("title".into(), v.record["title"].clone());
                fields.insert("created_time".into(), json!(listing::graph_time(created)));
                fields.insert(
                    "permalink_url".into(),
                    json!(format!("/{page}/videos/{id}/")),
                );
                fields.insert(
                    "status".into(),
                    json!({"video_status": match v.outcome {
                        None => "processing",
                        Some("ready") => "ready",
                        Some(_) => "error",
                    }}),
                );
                Some(Entry { created, fields })
            })
            .collect::<Vec<_>>()
    });
    list_answer(
        request,
        entries,
        format!("https://graph.facebook.com/v25.0/{page}/videos"),
    )
}

/// `DELETE /{id}` with a Page token: a post of that Page (by post id or photo id) or one of
/// its videos.
pub(super) fn delete(sim: &Simulator, claims: &TokenClaims, id: &str) -> Response {
    let gone = || {
        oauth_exception(
            format!(
                "Unsupported delete request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
            ),
            100,
            Some(33),
        )
    };
    if claims.typ != "page" {
        return gone();
    }
    if !has_permission(claims, "pages_manage_posts") {
        return permission_error(
            "The pages_manage_posts permission is required to delete posts of this Page",
        );
    }
    let page = claims.sub.as_str();
    let video = sim.with_platform_state(PLATFORM, |s: &mut FacebookState| {
        match s
            .videos
            .get_mut(id)
            .filter(|v| v.page == page && !v.deleted)
        {
            Some(video) => {
                video.deleted = true;
                true
            }
            None => false,
        }
    });
    let post = sim.mark_post_deleted(PLATFORM, |p| {
        p["pageId"] == page && (p["id"] == id || p["photoId"] == id || p["videoId"] == id)
    });
    if video || post {
        Response::json(200, &json!({"success": true}))
    } else {
        gone()
    }
}

// ----- the app access token -----

/// The app of an app access token `{app-id}|{app-secret}`, when the secret is right.
pub(super) fn app_of(sim: &Simulator, token: &str) -> Option<Result<String, Response>> {
    let (app, secret) = token.split_once('|')?;
    Some(match sim.authenticate_client(PLATFORM, app, secret) {
        Some(_) => Ok(app.to_string()),
        None => Err(oauth_exception(
            "Invalid OAuth access token signature.",
            190,
            None,
        )),
    })
}

/// Calls made with the app's own token: token debugging and de-authorizing a person.
pub(super) fn app_call(sim: &Simulator, request: &Request, app: &str, path: &[&str]) -> Response {
    match (request.method.as_str(), path) {
        ("GET", ["debug_token"]) => debug_token(sim, request, app),
        ("DELETE", [user, "permissions"]) => deauthorize(sim, app, user),
        ("GET", ["me", ..]) => oauth_exception(
            "An active access token must be used to query information about the current user.",
            2500,
            None,
        ),
        _ => permission_error("This request cannot be made with an app access token"),
    }
}

/// Remembers which person (app-scoped user id) a login belongs to, so that de-authorizing
/// the person ends all of their logins; Page tokens carry the login's grant, not the person.
pub(super) fn remember_login(sim: &Simulator, claims: &TokenClaims) {
    if claims.typ == "short" || claims.typ == "access" {
        sim.with_platform_state(PLATFORM, |s: &mut FacebookState| {
            s.logins.insert(
                claims.grant.clone(),
                (claims.cid.clone(), claims.sub.clone()),
            );
        });
    }
}

fn debug_token(sim: &Simulator, request: &Request, app: &str) -> Response {
    let Some(input) = request.query_param("input_token").filter(|t| !t.is_empty()) else {
        return oauth_exception("(#100) The parameter input_token is required", 100, None);
    };
    let Some(claims) = sim
        .verify_token(input)
        .filter(|c| c.plat == PLATFORM.key() && c.cid == app)
    else {
        return Response::json(
            200,
            &json!({"data": {"is_valid": false, "error": {"code": 190, "message": "Invalid OAuth access token."}, "scopes": []}}),
        );
    };
    remember_login(sim, &claims);
    let now = sim.now().timestamp();
    let mut data = json!({
        "app_id": claims.cid,
        "type": if claims.typ == "page" { "PAGE" } else { "USER" },
        "application": sim.client(PLATFORM, app).map(|c| c.name).unwrap_or_default(),
        "data_access_expires_at": claims.iat + 90 * 86_400,
        "expires_at": if claims.typ == "page" { 0 } else { claims.exp },
        "is_valid": true,
        "issued_at": claims.iat,
        "scopes": super::permissions(&claims).collect::<Vec<_>>(),
    });
    let user = if claims.typ == "page" {
        data["profile_id"] = json!(claims.sub);
        sim.with_platform_state(PLATFORM, |s: &mut FacebookState| {
            s.logins.get(&claims.grant).map(|(_, user)| user.clone())
        })
    } else {
        Some(claims.sub.clone())
    };
    if let Some(user) = user {
        data["user_id"] = json!(user);
    }
    let problem = if sim.is_revoked(&claims.grant) {
        Some((
            458,
            "Error validating access token: The user has not authorized application.",
        ))
    } else if claims.typ != "page" && now >= claims.exp {
        Some((463, "Error validating access token: Session has expired."))
    } else {
        None
    };
    if let Some((subcode, message)) = problem {
        data["is_valid"] = json!(false);
        data["error"] = json!({"code": 190, "message": message, "subcode": subcode});
    }
    Response::json(200, &json!({ "data": data }))
}

/// `DELETE /{user-id}/permissions` with the app token: every login of that person with this
/// app ends (their user and Page tokens are refused from now on).
fn deauthorize(sim: &Simulator, app: &str, user: &str) -> Response {
    let grants: Vec<String> = sim.with_platform_state(PLATFORM, |s: &mut FacebookState| {
        s.logins
            .iter()
            .filter(|(_, (cid, sub))| cid == app && sub == user)
            .map(|(grant, _)| grant.clone())
            .collect()
    });
    if grants.is_empty() {
        return no_such_object(user);
    }
    for grant in grants {
        sim.revoke_grant(&grant);
    }
    Response::json(200, &json!({"success": true}))
}
