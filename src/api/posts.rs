//! `POST /v1/posts`, `POST /v1/posts/scheduled`, `GET /v1/posts/:id`, `GET /v1/posts`.
//! A create request's body is read into a typed `PostBody`, then validated (every rule, before
//! anything is stored or charged). An edit (`post_lifecycle`) goes through the same two steps.

use super::input::{Field, MAX_CONTENT_CHARS, MAX_TITLE_CHARS, parse_fields, path_identifier};
use super::{Ctx, wire};
use crate::clock::{parse_date_or_timestamp, parse_timestamp};
use crate::error::{Code, Error, Result};
use crate::http::{Request, Response, encode_query};
use crate::providers::{MediaKind, Platform, PostContent, parse_platform, rules};
use crate::services::posts::{self, Mode, NewPost, PostFilter, PostStatus};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

/// How far ahead a post may be scheduled.
const MAX_SCHEDULE_AHEAD_DAYS: i64 = 365;
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 200;

/// The body of both create endpoints as sent, each field typed by its JSON shape and nothing
/// checked yet (`input::Field`). Reading it never calls the network; `validate` decides.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub(super) struct PostBody {
    external_user_id: Field<String>,
    content: Field<String>,
    platforms: Field<Vec<Field<String>>>,
    title: Field<String>,
    media_url: Field<String>,
    thumbnail_url: Field<String>,
    metadata: Field<Map<String, Value>>,
    platform_options: Field<Map<String, Value>>,
    schedule_at: Field<String>,
}

fn parse_new_post(ctx: &Ctx, req: &Request, mode: Mode) -> Result<NewPost> {
    let body: PostBody = parse_fields(req.json_value()?)?;
    validate(ctx, body, mode)
}

/// Every rule, in a fixed order (so a body with several mistakes always gets the same
/// answer): the fields, the platforms and their options, what `mediaUrl` points at (which may
/// ask its server), each platform's own rules, and last the schedule.
pub(super) fn validate(ctx: &Ctx, body: PostBody, mode: Mode) -> Result<NewPost> {
    let external_user_id = body
        .external_user_id
        .required_identifier("externalUserId")?;
    let content = body.content.required_text("content", MAX_CONTENT_CHARS)?;
    let keys = body.platforms.required_strings("platforms")?;
    let title = body.title.text("title", MAX_TITLE_CHARS)?.into_option();
    let media_url = body.media_url.url("mediaUrl")?;
    let thumbnail_url = body.thumbnail_url.url("thumbnailUrl")?;
    let metadata = body.metadata.object("metadata")?.into_option();
    let platforms = platforms_of(&keys)?;
    let platform_options = body
        .platform_options
        .object("platformOptions")?
        .into_option();
    let empty = Map::new();
    let option_map = platform_options
        .as_ref()
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    check_platform_options(&platforms, option_map)?;
    let media_kind = match &media_url {
        None => None,
        Some(url) => Some(classify_media(ctx, url)?),
    };
    let draft = PostContent {
        title: title.clone(),
        text: content.clone(),
        media_url: media_url.clone(),
        thumbnail_url: thumbnail_url.clone(),
        media_kind,
    };
    check_platform_rules(ctx, &draft, &platforms, option_map)?;
    check_image_rules(ctx, &draft, &platforms, option_map)?;
    let schedule_at = match mode {
        Mode::Immediate => None,
        Mode::Scheduled => Some(schedule_at(ctx, body.schedule_at)?),
    };
    Ok(NewPost {
        mode,
        external_user_id,
        title,
        content,
        media_url,
        media_kind,
        thumbnail_url,
        metadata,
        platform_options,
        platforms,
        schedule_at,
    })
}

/// The platform keys as platforms, each named once.
pub(super) fn platforms_of(keys: &[String]) -> Result<Vec<Platform>> {
    let mut platforms: Vec<Platform> = Vec::new();
    for key in keys {
        let platform = parse_platform(key).map_err(Error::validation)?;
        if platforms.contains(&platform) {
            return Err(Error::validation(format!(
                "platforms lists {key:?} twice; name each platform once."
            )));
        }
        platforms.push(platform);
    }
    Ok(platforms)
}

/// `platformOptions` has one object per platform of the post, and none for another.
fn check_platform_options(platforms: &[Platform], option_map: &Map<String, Value>) -> Result<()> {
    for (key, value) in option_map {
        let platform =
            parse_platform(key).map_err(|m| Error::validation(format!("platformOptions: {m}")))?;
        if !platforms.contains(&platform) {
            return Err(Error::validation(format!(
                "platformOptions.{key} is given but {key} is not in platforms."
            )));
        }
        if !value.is_object() {
            return Err(Error::validation(format!(
                "platformOptions.{key} must be a JSON object of {key}'s options."
            )));
        }
    }
    Ok(())
}

/// Each platform's own rules (`Provider::validate`), before anything is stored or charged.
fn check_platform_rules(
    ctx: &Ctx,
    draft: &PostContent,
    platforms: &[Platform],
    option_map: &Map<String, Value>,
) -> Result<()> {
    let empty = Map::new();
    for platform in platforms {
        let Some(provider) = ctx.state.providers.get(*platform) else {
            return Err(Error::new(
                Code::PlatformNotSupported,
                format!(
                    "Publishing to {} is not available in this version yet.",
                    platform.key()
                ),
            ));
        };
        let options = option_map
            .get(platform.key())
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        provider.validate(draft, options)?;
    }
    Ok(())
}

/// The image rules of platforms that have them (Instagram's aspect ratio and size), from one
/// ranged read of each image's first bytes, before anything is stored or charged: `mediaUrl`
/// when it is an image, and the images a platform takes in its options (Instagram's carousel
/// items, `Provider::more_images`; those that turn out to be videos are left alone).
fn check_image_rules(
    ctx: &Ctx,
    draft: &PostContent,
    platforms: &[Platform],
    option_map: &Map<String, Value>,
) -> Result<()> {
    let empty = Map::new();
    let mut read: std::collections::HashMap<String, crate::providers::image_header::ImageFacts> =
        std::collections::HashMap::new();
    for provider in platforms
        .iter()
        .filter_map(|p| ctx.state.providers.get(*p))
        .filter(|provider| provider.checks_images())
    {
        let options = option_map
            .get(provider.platform().key())
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let mut images: Vec<(String, String, bool)> = Vec::new();
        if let (Some(url), Some(MediaKind::Image)) = (&draft.media_url, draft.media_kind) {
            images.push(("mediaUrl".into(), url.clone(), true));
        }
        images.extend(
            provider
                .more_images(options)
                .into_iter()
                .map(|(field, url)| (field, url, false)),
        );
        for (field, url, known_image) in images {
            if !read.contains_key(&url) {
                let facts = ctx.state.providers.media.image_facts(&url).map_err(|e| {
                    Error::new(
                        Code::MediaUnreachable,
                        format!("{field} could not be read: {}", e.message()),
                    )
                })?;
                read.insert(url.clone(), facts);
            }
            let facts = &read[&url];
            let is_image = known_image
                || facts
                    .content_type
                    .to_ascii_lowercase()
                    .starts_with("image/")
                || facts.dimensions.is_some();
            if is_image {
                provider.check_image(facts)?;
            }
        }
    }
    Ok(())
}

/// `scheduleAt` of a scheduled post: a timestamp with a zone, in the future, at most
/// `MAX_SCHEDULE_AHEAD_DAYS` ahead.
fn schedule_at(ctx: &Ctx, field: Field<String>) -> Result<DateTime<Utc>> {
    let text = field.required_text("scheduleAt", 64)?;
    let at = parse_timestamp(&text).ok_or_else(|| {
        Error::validation(format!("scheduleAt {text:?} is not an ISO 8601 timestamp with a time zone, e.g. 2026-03-22T09:30:00.000Z."))
    })?;
    if at <= ctx.now {
        return Err(Error::validation(format!(
            "scheduleAt {text} is not in the future; to publish now, use POST /v1/posts."
        )));
    }
    if at > ctx.now + Duration::days(MAX_SCHEDULE_AHEAD_DAYS) {
        return Err(Error::validation(format!(
            "scheduleAt is more than {MAX_SCHEDULE_AHEAD_DAYS} days ahead."
        )));
    }
    Ok(at)
}

/// What `mediaUrl` points at: from its extension, else from what the server says it serves
/// (a HEAD request through the same guarded fetcher that later downloads it).
fn classify_media(ctx: &Ctx, url: &str) -> Result<MediaKind> {
    if let Some(kind) = rules::media_kind_from_url(url) {
        return Ok(kind);
    }
    let info = ctx.state.providers.media.probe(url).map_err(|e| {
        Error::new(
            Code::MediaUnreachable,
            format!(
                "mediaUrl could not be checked: {}. It must be publicly readable.",
                e.message()
            ),
        )
    })?;
    rules::media_kind_from_content_type(&info.content_type).ok_or_else(|| {
        Error::new(
            Code::UnsupportedMediaType,
            format!(
                "mediaUrl is served as {:?}; send an image or a video.",
                info.content_type
            ),
        )
    })
}

pub(super) fn read_post(ctx: &Ctx, id: &str) -> Result<posts::PostRequest> {
    ctx.state
        .db
        .read(|c| posts::get(c, &ctx.caller.app_id, id))?
        .ok_or_else(|| Error::not_found(format!("Post request {id} does not exist.")))
}

pub fn publish_now(ctx: &Ctx, req: &Request) -> Result<Response> {
    let new = parse_new_post(ctx, req, Mode::Immediate)?;
    let cost = ctx.state.config.immediate_post_credits;
    let id = posts::create(
        &ctx.state.db,
        &ctx.caller.app_id,
        &ctx.caller.org_id,
        &new,
        cost,
        ctx.idempotency.as_ref(),
        ctx.now,
    )?;
    let delivery_ids: Vec<String> = read_post(ctx, &id)?
        .deliveries
        .into_iter()
        .map(|d| d.id)
        .collect();
    ctx.state
        .engine
        .deliver_within(&delivery_ids, ctx.state.config.publish_time_budget);
    // The answer is what was stored, so a client sees exactly what a later GET will show.
    Ok(created(&read_post(ctx, &id)?))
}

/// The answer of both create endpoints, also given when an `Idempotency-Key` retry finds the
/// post its first request created but never answered with (a crash).
fn created(post: &posts::PostRequest) -> Response {
    Response::json(201, &wire::post(post))
}

/// The answer the request that created `post_id` would have given, with the post as it is now.
pub fn replay_created(ctx: &Ctx, post_id: &str) -> Result<Response> {
    Ok(created(&read_post(ctx, post_id)?))
}

pub fn schedule(ctx: &Ctx, req: &Request) -> Result<Response> {
    let new = parse_new_post(ctx, req, Mode::Scheduled)?;
    let cost = ctx.state.config.scheduled_post_credits;
    let id = posts::create(
        &ctx.state.db,
        &ctx.caller.app_id,
        &ctx.caller.org_id,
        &new,
        cost,
        ctx.idempotency.as_ref(),
        ctx.now,
    )?;
    Ok(created(&read_post(ctx, &id)?))
}

pub fn get(ctx: &Ctx, id: &str) -> Result<Response> {
    let id = path_identifier("id", id)?;
    Ok(Response::json(200, &wire::post(&read_post(ctx, &id)?)))
}

pub fn list(ctx: &Ctx, req: &Request) -> Result<Response> {
    let param = |name: &str| {
        req.query_param(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let mut filter = PostFilter {
        external_user_id: param("externalUserId").map(str::to_string),
        ..Default::default()
    };
    if let Some(status) = param("status") {
        let Some(parsed) = PostStatus::parse(status) else {
            return Err(Error::validation(format!(
                "status {status:?} is not a post status; use one of: {}.",
                PostStatus::names()
            )));
        };
        filter.status = Some(parsed);
    }
    if let Some(platform) = param("platform") {
        filter.platform = Some(parse_platform(platform).map_err(Error::validation)?);
    }
    let bad_date = |name: &str, v: &str| {
        Error::validation(format!(
            "{name} {v:?} is not an ISO 8601 date (2026-03-21) or timestamp (2026-03-21T08:00:00.000Z)."
        ))
    };
    if let Some(v) = param("dateFrom") {
        filter.created_from =
            Some(parse_date_or_timestamp(v).ok_or_else(|| bad_date("dateFrom", v))?);
    }
    if let Some(v) = param("dateTo") {
        let at = parse_date_or_timestamp(v).ok_or_else(|| bad_date("dateTo", v))?;
        // A bare date includes that whole day; a timestamp includes that instant.
        let is_date = parse_timestamp(v).is_none();
        filter.created_before = Some(if is_date {
            at + Duration::days(1)
        } else {
            at + Duration::milliseconds(1)
        });
    }
    let limit = match param("limit") {
        None => DEFAULT_PAGE,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                Error::validation(format!(
                    "limit {v:?} must be a whole number from 1 to {MAX_PAGE}."
                ))
            })?,
    };
    let after = match param("cursor") {
        None => None,
        Some(v) => Some(posts::decode_cursor(v).ok_or_else(|| {
            Error::validation(
                "cursor is not valid; pass the one from the previous page's Link header unchanged.",
            )
        })?),
    };
    let (page, more) = ctx
        .state
        .db
        .read(|c| posts::list(c, &ctx.caller.app_id, &filter, after.as_ref(), limit))?;
    let mut response = Response::json(200, &Value::Array(page.iter().map(wire::post).collect()));
    if more && let Some(last) = page.last() {
        let cursor = posts::encode_cursor(last);
        let mut pairs: Vec<(&str, &str)> = req
            .query
            .iter()
            .filter(|(k, _)| k != "cursor")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.push(("cursor", &cursor));
        let next = format!(
            "{}{}/posts?{}",
            ctx.state.config.public_url,
            ctx.base_path,
            encode_query(&pairs)
        );
        response = response.with_header("Link", &format!("<{next}>; rel=\"next\""));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Reading keeps every field as sent, wrong types included, so the checks can name them in
    /// their own order; nothing is refused (or fetched) while reading.
    #[test]
    fn a_body_is_read_field_by_field_without_refusing_any() {
        let body: PostBody = parse_fields(json!({
            "content": 5,
            "platforms": ["linkedin", null, 7],
            "title": null,
            "mediaUrl": "https://unreachable.invalid/photo",
            "metadata": [],
            "unknownField": true
        }))
        .unwrap();
        assert_eq!(body.external_user_id, Field::Absent);
        assert_eq!(body.content, Field::Mistyped("a number"));
        assert_eq!(
            body.platforms,
            Field::Given(vec![
                Field::Given("linkedin".to_string()),
                Field::Null,
                Field::Mistyped("a number")
            ])
        );
        assert_eq!(body.title, Field::Null);
        assert_eq!(
            body.media_url,
            Field::Given("https://unreachable.invalid/photo".to_string())
        );
        assert_eq!(body.metadata, Field::Mistyped("an array"));
        assert_eq!(body.schedule_at, Field::Absent);
    }

    #[test]
    fn only_a_json_object_is_a_body() {
        let refused = parse_fields::<PostBody>(json!([1])).unwrap_err();
        assert_eq!(
            refused.message,
            "The request body must be a JSON object, not an array."
        );
    }
}
