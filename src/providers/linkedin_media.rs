//! LinkedIn image and video posts: the media rules of `validate`, uploads through the Images
//! API (one PUT of the whole file) and the Videos API (4 MiB parts with ETags, an optional
//! thumbnail, finalize, status polling), then the post with `content.media`.
//! Reference: `../shared/providers/linkedin-x-facebook-instagram.md`, part 1.3.
//!
//! Upload steps are retried here on server errors and lost connections, since nothing is
//! published before the post itself; the post is created once and never retried blindly.

use super::linkedin::{LinkedIn, classify_api_error};
use super::media::MediaBlob;
use super::{
    CallKind, HttpAnswer, MediaKind, Platform, PostContent, ProviderError, PublishRequest,
    PublishStep, SendBody, send,
};
use crate::error::{Code, Error};
use crate::http::percent_encode;
use serde_json::{Value, json};
use std::time::Duration;

/// Waits before each status read of a video inside one publish (or resume) call: about four
/// seconds in all, then the engine looks again after `CHECK_AFTER`.
const POLL_WAITS_MS: [u64; 5] = [200, 400, 800, 1200, 1400];
/// How many status reads one call makes before handing the video back to the engine.
pub const IN_CALL_POLLS: usize = POLL_WAITS_MS.len();
/// When the engine looks at a processing video again (trypost polls every 5 s, postiz every
/// 20 s; a minute of processing is common).
pub const CHECK_AFTER: Duration = Duration::from_secs(30);
/// Attempts of one upload step (initialize, a part, finalize) on a 5xx or a lost connection.
const UPLOAD_ATTEMPTS: usize = 3;

/// `image/jpg` is not a registered type, but common enough among file hosts to accept.
const IMAGE_TYPES: [&str; 4] = ["image/jpeg", "image/jpg", "image/png", "image/gif"];
const IMAGE_EXTENSIONS: [&str; 4] = ["jpg", "jpeg", "png", "gif"];
const THUMBNAIL_TYPES: [&str; 3] = ["image/jpeg", "image/jpg", "image/png"];
const THUMBNAIL_EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

/// The media rules beyond kinds: LinkedIn takes JPG, PNG and GIF images and MP4 video, JPG or
/// PNG thumbnails, and alt text only for an image.
pub fn validate(post: &PostContent, alt_text: Option<&str>) -> Result<(), Error> {
    let unsupported = |message: String| Err(Error::new(Code::UnsupportedMediaType, message));
    let ext = post.media_url.as_deref().and_then(extension);
    match (post.media_kind, ext.as_deref()) {
        (Some(MediaKind::Image), Some(ext)) if !IMAGE_EXTENSIONS.contains(&ext) => {
            return unsupported(format!(
                "LinkedIn takes JPG, PNG or GIF images, and mediaUrl points at a .{ext} file. Convert it or leave linkedin out."
            ));
        }
        (Some(MediaKind::Video), Some(ext)) if ext != "mp4" => {
            return unsupported(format!(
                "LinkedIn takes MP4 video, and mediaUrl points at a .{ext} file. Convert it or leave linkedin out."
            ));
        }
        _ => {}
    }
    if let Some(ext) = post.thumbnail_url.as_deref().and_then(extension)
        && !THUMBNAIL_EXTENSIONS.contains(&ext.as_str())
    {
        return unsupported(format!(
            "LinkedIn takes a JPG or PNG video thumbnail, and thumbnailUrl points at a .{ext} file. Send another or leave linkedin out."
        ));
    }
    if alt_text.is_some() && post.media_kind != Some(MediaKind::Image) {
        return Err(Error::validation(
            "platformOptions.linkedin.altText describes an image; send an image mediaUrl or leave altText out.",
        ));
    }
    Ok(())
}

/// The lower-case extension of a URL's last path segment, if it has one.
fn extension(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let name = path.rsplit('/').next()?;
    let (_, ext) = name.rsplit_once('.')?;
    Some(ext.to_ascii_lowercase())
}

pub(super) fn publish(
    li: &LinkedIn,
    request: &PublishRequest,
    kind: MediaKind,
) -> Result<PublishStep, ProviderError> {
    match kind {
        MediaKind::Image => {
            let image = upload_image(li, request)?;
            let mut media = json!({ "id": image });
            if let Some(alt) = alt_text(request) {
                media["altText"] = json!(alt);
            }
            li.create_post(request, Some(json!({ "media": media })))
                .map(PublishStep::Done)
        }
        MediaKind::Video => {
            let video = upload_video(li, request)?;
            await_video(li, request, &video)
        }
    }
}

/// Continues a video post the platform was still processing.
pub(super) fn resume(
    li: &LinkedIn,
    request: &PublishRequest,
    state: &Value,
) -> Result<PublishStep, ProviderError> {
    match state["video"].as_str() {
        Some(video) if video.starts_with("urn:li:video:") => await_video(li, request, video),
        _ => Err(ProviderError::Unknown {
            message: format!("LinkedIn cannot resume from the stored state {state}"),
        }),
    }
}

/// `platformOptions.linkedin.altText`, else the post's title.
fn alt_text(request: &PublishRequest) -> Option<String> {
    request
        .options
        .get("altText")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| request.post.title.clone())
}

// ----- images -----

fn upload_image(li: &LinkedIn, request: &PublishRequest) -> Result<String, ProviderError> {
    let url = request.post.media_url.as_deref().unwrap_or_default();
    let blob = fetch(request, url, MediaKind::Image, &IMAGE_TYPES)?;
    let init = initialize(li, request, "images", json!({ "owner": owner(request) }))?;
    let image = text_field(&init, "image")?;
    let upload_url = text_field(&init, "uploadUrl")?;
    put_bytes(request, &upload_url, &blob, 0, blob.len(), &blob.mime())?;
    Ok(image)
}

// ----- videos -----

fn upload_video(li: &LinkedIn, request: &PublishRequest) -> Result<String, ProviderError> {
    let url = request.post.media_url.as_deref().unwrap_or_default();
    let blob = fetch(request, url, MediaKind::Video, &["video/mp4"])?;
    let thumbnail = match request.post.thumbnail_url.as_deref() {
        Some(url) => Some(fetch(request, url, MediaKind::Image, &THUMBNAIL_TYPES)?),
        None => None,
    };
    let init = initialize(
        li,
        request,
        "videos",
        json!({
            "owner": owner(request),
            "fileSizeBytes": blob.len(),
            "uploadCaptions": false,
            "uploadThumbnail": thumbnail.is_some(),
        }),
    )?;
    let video = text_field(&init, "video")?;
    let parts = instructions(&init, blob.len())?;
    let mut part_ids = Vec::with_capacity(parts.len());
    for (upload_url, first, last) in &parts {
        let etag = put_bytes(
            request,
            upload_url,
            &blob,
            *first,
            last + 1,
            "application/octet-stream",
        )?
        .filter(|e| !e.is_empty())
        .ok_or_else(|| ProviderError::Unknown {
            message: format!(
                "LinkedIn accepted bytes {first}-{last} of the video but sent no ETag"
            ),
        })?;
        part_ids.push(etag);
    }
    if let Some(thumbnail) = &thumbnail {
        let upload_url = text_field(&init, "thumbnailUploadUrl")?;
        put_bytes(
            request,
            &upload_url,
            thumbnail,
            0,
            thumbnail.len(),
            &thumbnail.mime(),
        )?;
    }
    let finalize = json!({"finalizeUploadRequest": {
        "video": video,
        "uploadToken": init["uploadToken"].as_str().unwrap_or_default(),
        "uploadedPartIds": part_ids,
    }});
    let url = format!(
        "{}/rest/videos?action=finalizeUpload",
        li.endpoints.api_base
    );
    retrying(|| {
        let answer = send(
            li.rest(li.agent.post(&url), request.access_token),
            Some(SendBody::Json(finalize.clone())),
            CallKind::SafeToRetry,
        )?;
        expect_success(&answer)
    })?;
    Ok(video)
}

/// `uploadInstructions` as (URL, firstByte, lastByte), checked to cover the file exactly once
/// in order, so a wrong answer cannot make us send a corrupt video.
fn instructions(init: &Value, size: u64) -> Result<Vec<(String, u64, u64)>, ProviderError> {
    let bad = |why: &str| ProviderError::Unknown {
        message: format!("LinkedIn's video upload instructions are unusable: {why}"),
    };
    let list = init["uploadInstructions"]
        .as_array()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| bad("none were given"))?;
    let mut next = 0u64;
    let mut parts = Vec::with_capacity(list.len());
    for item in list {
        let (Some(url), Some(first), Some(last)) = (
            item["uploadUrl"].as_str(),
            item["firstByte"].as_u64(),
            item["lastByte"].as_u64(),
        ) else {
            return Err(bad("an instruction lacks uploadUrl, firstByte or lastByte"));
        };
        if first != next || last < first || last >= size {
            return Err(bad("the byte ranges do not follow each other"));
        }
        next = last + 1;
        parts.push((url.to_string(), first, last));
    }
    if next != size {
        return Err(bad("the byte ranges do not cover the whole file"));
    }
    Ok(parts)
}

/// Polls the video's status a few times; creates the post once it is `AVAILABLE`, else hands
/// it back to the engine to look again later.
fn await_video(
    li: &LinkedIn,
    request: &PublishRequest,
    video: &str,
) -> Result<PublishStep, ProviderError> {
    let url = format!(
        "{}/rest/videos/{}",
        li.endpoints.api_base,
        percent_encode(video)
    );
    for wait in POLL_WAITS_MS {
        std::thread::sleep(Duration::from_millis(wait));
        let answer = match send(
            li.rest(li.agent.get(&url), request.access_token),
            None,
            CallKind::SafeToRetry,
        ) {
            Ok(answer) => answer,
            // A status read that failed in transit changes nothing: look again later.
            Err(ProviderError::Unreachable { .. } | ProviderError::Unknown { .. }) => break,
            Err(other) => return Err(other),
        };
        if answer.status == 429 || answer.status >= 500 {
            break;
        }
        if answer.status != 200 {
            return Err(classify_api_error(&answer));
        }
        let body = answer.json();
        match body["status"].as_str().unwrap_or_default() {
            "AVAILABLE" => {
                let mut media = json!({ "id": video });
                if let Some(title) = &request.post.title {
                    media["title"] = json!(title);
                }
                return li
                    .create_post(request, Some(json!({ "media": media })))
                    .map(PublishStep::Done);
            }
            "PROCESSING_FAILED" => {
                return Err(ProviderError::Rejected {
                    code: Code::MediaProcessingFailed,
                    message: format!(
                        "LinkedIn could not process the video: {}",
                        body["processingFailureReason"]
                            .as_str()
                            .unwrap_or("no reason given")
                    ),
                });
            }
            _ => {}
        }
    }
    Ok(PublishStep::Processing {
        state: json!({ "video": video }),
        check_after: CHECK_AFTER,
    })
}

// ----- shared steps -----

fn owner(request: &PublishRequest) -> String {
    format!("urn:li:person:{}", request.account.id)
}

/// Downloads media and checks that LinkedIn takes its type.
fn fetch(
    request: &PublishRequest,
    url: &str,
    kind: MediaKind,
    types: &[&str],
) -> Result<MediaBlob, ProviderError> {
    let blob = request.media.fetch(url, &[kind])?;
    let content_type = blob.mime();
    if !types.contains(&content_type.as_str()) {
        return Err(ProviderError::Rejected {
            code: Code::UnsupportedMediaType,
            message: format!(
                "{} takes {} here; {url} is served as {content_type:?}",
                Platform::Linkedin.display_name(),
                types.join(", ")
            ),
        });
    }
    Ok(blob)
}

/// `POST /rest/{images|videos}?action=initializeUpload`; returns the answer's `value`.
fn initialize(
    li: &LinkedIn,
    request: &PublishRequest,
    resource: &str,
    init: Value,
) -> Result<Value, ProviderError> {
    let url = format!(
        "{}/rest/{resource}?action=initializeUpload",
        li.endpoints.api_base
    );
    let body = json!({ "initializeUploadRequest": init });
    let answer = retrying(|| {
        let answer = send(
            li.rest(li.agent.post(&url), request.access_token),
            Some(SendBody::Json(body.clone())),
            CallKind::SafeToRetry,
        )?;
        expect_success(&answer)?;
        Ok(answer)
    })?;
    Ok(answer.json()["value"].clone())
}

/// One PUT of bytes `first..end` of the spooled file to an upload URL, streamed on the media
/// agent, with the member's token (LinkedIn's samples send it); returns the answer's `ETag`,
/// if any.
fn put_bytes(
    request: &PublishRequest,
    url: &str,
    blob: &MediaBlob,
    first: u64,
    end: u64,
    content_type: &str,
) -> Result<Option<String>, ProviderError> {
    retrying(|| {
        let put = request
            .media
            .upload_agent()
            .put(url)
            .set("Authorization", &format!("Bearer {}", request.access_token))
            .set("Content-Type", content_type)
            .set("Content-Length", &(end - first).to_string());
        let body = request.media.capped(blob.range(first, end), end - first);
        let response = match put.send(body) {
            Ok(response) => response,
            Err(ureq::Error::Status(_, response)) => response,
            Err(ureq::Error::Transport(t)) => {
                return Err(ProviderError::Unknown {
                    message: format!("uploading to LinkedIn failed: {t}"),
                });
            }
        };
        let status = response.status();
        let etag = response.header("etag").map(str::to_string);
        if (200..300).contains(&status) {
            return Ok(etag);
        }
        let body: Value = serde_json::from_str(&response.into_string().unwrap_or_default())
            .unwrap_or(Value::Null);
        Err(upload_error(status, &body))
    })
}

/// An upload host's refusal, in the engine's classes.
fn upload_error(status: u16, body: &Value) -> ProviderError {
    let message = format!(
        "LinkedIn refused the upload (HTTP {status}): {}",
        body["message"].as_str().unwrap_or("no reason given")
    );
    match status {
        401 => ProviderError::Unauthorized { message },
        429 => ProviderError::RateLimited {
            retry_after: None,
            message,
        },
        // An upload publishes nothing: the post that names the media does.
        500..=599 => ProviderError::Transient {
            status,
            message,
            call: CallKind::SafeToRetry,
        },
        _ => ProviderError::Rejected {
            code: Code::PlatformRejected,
            message,
        },
    }
}

fn expect_success(answer: &HttpAnswer) -> Result<(), ProviderError> {
    if (200..300).contains(&answer.status) {
        Ok(())
    } else {
        Err(classify_api_error(answer))
    }
}

/// Runs an upload step up to `UPLOAD_ATTEMPTS` times while it fails with a server error or
/// in transit: nothing is published by an upload, so sending it again is safe.
fn retrying<T>(mut step: impl FnMut() -> Result<T, ProviderError>) -> Result<T, ProviderError> {
    let mut attempt = 1;
    loop {
        match step() {
            Err(
                ProviderError::Transient { .. }
                | ProviderError::Unreachable { .. }
                | ProviderError::Unknown { .. },
            ) if attempt < UPLOAD_ATTEMPTS => {
                std::thread::sleep(Duration::from_millis(200 * attempt as u64));
                attempt += 1;
            }
            other => return other,
        }
    }
}

fn text_field(value: &Value, name: &str) -> Result<String, ProviderError> {
    value[name]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| ProviderError::Unknown {
            message: format!("LinkedIn's initializeUpload answer had no {name}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_must_cover_the_file_in_order() {
        let init = |parts: Value| json!({ "uploadInstructions": parts });
        let ok = init(json!([
            {"uploadUrl": "a", "firstByte": 0, "lastByte": 4},
            {"uploadUrl": "b", "firstByte": 5, "lastByte": 6}
        ]));
        assert_eq!(instructions(&ok, 7).unwrap().len(), 2);
        assert!(instructions(&ok, 8).is_err(), "a gap at the end");
        let gap = init(json!([
            {"uploadUrl": "a", "firstByte": 0, "lastByte": 3},
            {"uploadUrl": "b", "firstByte": 5, "lastByte": 6}
        ]));
        assert!(instructions(&gap, 7).is_err());
    }

    #[test]
    fn extensions_ignore_queries() {
        assert_eq!(
            extension("https://x.example/a/b.PNG?v=1").as_deref(),
            Some("png")
        );
        assert_eq!(extension("https://x.example/download"), None);
    }
}
