//! The post lifecycle: `POST /v1/posts/:id/cancel`, `PATCH /v1/posts/:id`, `DELETE
//! /v1/posts/:id` (a scheduled post: a cancel; a sent one: deleted on the platforms, see
//! `crate::deletion`), `POST /v1/posts/:id/retry` and `GET
//! /v1/posts/:id/attempts`. The rules and the race with the dispatcher are in
//! `services::lifecycle`; an edit is read and validated by `posts` exactly as a create.

use super::input::{Field, kind_of, parse_fields, path_identifier};
use super::posts::{PostBody, platforms_of, read_post, validate};
use super::{Ctx, wire};
use crate::error::{Code, Error, Result};
use crate::http::{Request, Response};
use crate::services::lifecycle::{self, Action, Edited, RetryRequest};
use crate::services::posts::{self, Mode, PostRequest, PostStatus};
use serde::Deserialize;
use serde_json::{Map, Value};

/// The fields `PATCH` may change, as the create body names them.
const EDITABLE: &[&str] = &[
    "content",
    "title",
    "mediaUrl",
    "thumbnailUrl",
    "scheduleAt",
    "platforms",
    "platformOptions",
    "metadata",
];

/// Reading, merging and validating again after the post changed under an edit; more than this
/// many concurrent edits of one post get 409 `EDIT_CONFLICT`.
const EDIT_ATTEMPTS: usize = 3;

fn post_answer(ctx: &Ctx, id: &str) -> Result<Response> {
    Ok(Response::json(200, &wire::post(&read_post(ctx, id)?)))
}

pub fn cancel(ctx: &Ctx, id: &str) -> Result<Response> {
    let id = path_identifier("id", id)?;
    lifecycle::cancel(
        &ctx.state.db,
        &ctx.caller.app_id,
        &id,
        Action::Cancel,
        ctx.now,
    )?;
    post_answer(ctx, &id)
}

/// A scheduled post is cancelled (answered like a cancel: 200 with the post); one the platforms
/// published (`published`, `partial_success`) is deleted on each platform that allows it
/// (`crate::deletion`), answered with the post, each platform result carrying its `deletion`.
/// Any other status is 409 naming it.
pub fn delete(ctx: &Ctx, id: &str) -> Result<Response> {
    let id = path_identifier("id", id)?;
    let app_id = &ctx.caller.app_id;
    if read_post(ctx, &id)?.status == PostStatus::Scheduled {
        lifecycle::cancel(&ctx.state.db, app_id, &id, Action::Delete, ctx.now)?;
    } else {
        let actor = format!("api key {}", ctx.caller.key_prefix);
        crate::deletion::delete_sent_post(ctx.state, app_id, &id, &actor)?;
    }
    post_answer(ctx, &id)
}

/// The create body the stored post would have been created with.
fn stored_body(post: &PostRequest) -> Map<String, Value> {
    let platforms: Vec<&str> = post.deliveries.iter().map(|d| d.platform.key()).collect();
    let value = serde_json::json!({
        "externalUserId": post.external_user_id,
        "content": post.content,
        "platforms": platforms,
        "title": post.title,
        "mediaUrl": post.media_url,
        "thumbnailUrl": post.thumbnail_url,
        "metadata": post.metadata,
        "platformOptions": post.platform_options,
        "scheduleAt": post.schedule_at,
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The stored post's body with the request's editable fields over it. When `platforms` changes
/// and `platformOptions` is not sent, the options of platforms no longer in the post go with
/// them (they could only be refused).
fn merged_body(post: &PostRequest, patch: &Map<String, Value>) -> Value {
    let mut body = stored_body(post);
    for name in EDITABLE {
        if let Some(value) = patch.get(*name) {
            body.insert(name.to_string(), value.clone());
        }
    }
    if !patch.contains_key("platformOptions")
        && let Some(Value::Array(keys)) = patch.get("platforms")
        && let Some(Value::Object(options)) = body.get_mut("platformOptions")
    {
        options.retain(|key, _| keys.iter().any(|k| k.as_str() == Some(key)));
    }
    Value::Object(body)
}

/// `PATCH /v1/posts/:id`: the stored post with the request's fields over it is read and
/// validated as a whole, exactly as a create body (`posts::validate`), before anything is
/// stored; then stored only while the post is still `scheduled` and as it was read.
pub fn edit(ctx: &Ctx, req: &Request, id: &str) -> Result<Response> {
    let id = path_identifier("id", id)?;
    let patch = match req.json_value()? {
        Value::Object(map) => map,
        other => {
            return Err(Error::validation(format!(
                "The request body must be a JSON object, not {}.",
                kind_of(&other)
            )));
        }
    };
    if !EDITABLE.iter().any(|name| patch.contains_key(*name)) {
        return Err(Error::validation(format!(
            "The body names no field to change; send one or more of: {}.",
            EDITABLE.join(", ")
        )));
    }
    for _ in 0..EDIT_ATTEMPTS {
        let read = read_post(ctx, &id)?;
        if read.status != PostStatus::Scheduled {
            return Err(lifecycle::not_allowed(&read, Action::Edit));
        }
        if let Some(user) = patch.get("externalUserId")
            && user.as_str() != Some(read.external_user_id.as_str())
        {
            return Err(Error::validation(format!(
                "externalUserId cannot be changed (the post is {:?}'s); cancel the post and create one for the other end user.",
                read.external_user_id
            )));
        }
        let body: PostBody = parse_fields(merged_body(&read, &patch))?;
        let new = validate(ctx, body, Mode::Scheduled)?;
        match lifecycle::edit(&ctx.state.db, &ctx.caller.app_id, &read, &new, ctx.now)? {
            Edited::Done => return post_answer(ctx, &id),
            Edited::Stale => continue,
        }
    }
    Err(Error::new(
        Code::EditConflict,
        format!("Post {id} kept changing while this edit was being validated; send it again."),
    ))
}

/// The body of `POST /v1/posts/:id/retry`, all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct RetryBody {
    include_outcome_unknown: Field<bool>,
    platforms: Field<Vec<Field<String>>>,
}

fn retry_request(req: &Request) -> Result<RetryRequest> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(RetryRequest::default());
    }
    let body: RetryBody = parse_fields(req.json_value()?)?;
    let include_outcome_unknown = match body.include_outcome_unknown {
        Field::Absent | Field::Null => false,
        Field::Given(flag) => flag,
        Field::Mistyped(kind) => {
            return Err(Error::validation(format!(
                "includeOutcomeUnknown must be true or false, not {kind}."
            )));
        }
    };
    let platforms = match body.platforms {
        Field::Absent | Field::Null => None,
        field => Some(platforms_of(&field.required_strings("platforms")?)?),
    };
    Ok(RetryRequest {
        include_outcome_unknown,
        platforms,
    })
}

/// `POST /v1/posts/:id/retry`: the failed deliveries that may pass now are sent again, and the
/// answer waits for them within the publish budget, like `POST /v1/posts`.
pub fn retry(ctx: &Ctx, req: &Request, id: &str) -> Result<Response> {
    let id = path_identifier("id", id)?;
    let request = retry_request(req)?;
    let delivery_ids = lifecycle::retry(&ctx.state.db, &ctx.caller.app_id, &id, &request, ctx.now)?;
    ctx.state
        .engine
        .deliver_within(&delivery_ids, ctx.state.config.publish_time_budget);
    post_answer(ctx, &id)
}

/// `GET /v1/posts/:id/attempts`: every attempt of every delivery, oldest first.
pub fn attempts(ctx: &Ctx, id: &str) -> Result<Response> {
    let id = path_identifier("id", id)?;
    let attempts = ctx
        .state
        .db
        .read(|c| posts::attempts_of_post(c, &ctx.caller.app_id, &id))?
        .ok_or_else(|| Error::not_found(format!("Post request {id} does not exist.")))?;
    Ok(Response::json(
        200,
        &Value::Array(attempts.iter().map(wire::attempt).collect()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scheduled_post() -> PostRequest {
        PostRequest {
            id: "p1".into(),
            app_id: "a1".into(),
            org_id: "o1".into(),
            external_user_id: "alex".into(),
            mode: Mode::Scheduled,
            status: PostStatus::Scheduled,
            title: Some("Title".into()),
            content: "hello".into(),
            media_url: None,
            media_kind: None,
            thumbnail_url: None,
            metadata: Some(json!({"campaign": "spring"})),
            platform_options: Some(json!({"reddit": {"subreddit": "rust"}, "linkedin": {}})),
            credit_cost: 8,
            schedule_at: Some("2026-03-22T09:30:00.000Z".into()),
            processed_at: None,
            created_at: "2026-03-21T08:00:00.000Z".into(),
            updated_at: "2026-03-21T08:00:00.000Z".into(),
            deliveries: Vec::new(),
        }
    }

    /// Only the editable fields are taken from the request: the rest is the stored post's, so
    /// the whole is what a create would have been sent.
    #[test]
    fn an_edit_is_the_stored_post_with_the_sent_fields_over_it() {
        let post = scheduled_post();
        let patch = json!({"content": "changed", "title": null, "mode": "immediate", "externalUserId": "someone"});
        let merged = merged_body(&post, patch.as_object().unwrap());
        assert_eq!(merged["content"], "changed");
        assert_eq!(merged["title"], Value::Null, "null clears, as on create");
        assert_eq!(merged["externalUserId"], "alex");
        assert_eq!(merged["scheduleAt"], "2026-03-22T09:30:00.000Z");
        assert_eq!(merged["metadata"], json!({"campaign": "spring"}));
        assert!(merged.get("mode").is_none());
    }

    #[test]
    fn options_of_a_platform_taken_out_go_with_it_unless_options_are_sent() {
        let post = scheduled_post();
        let merged = merged_body(
            &post,
            json!({"platforms": ["linkedin"]}).as_object().unwrap(),
        );
        assert_eq!(merged["platformOptions"], json!({"linkedin": {}}));
        let sent = merged_body(
            &post,
            json!({"platforms": ["linkedin"], "platformOptions": {"reddit": {}}})
                .as_object()
                .unwrap(),
        );
        assert_eq!(
            sent["platformOptions"],
            json!({"reddit": {}}),
            "what is sent is validated as sent"
        );
    }
}
