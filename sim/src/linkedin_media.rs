//! LinkedIn's Images and Videos APIs as the simulator plays them: `initializeUpload`, the upload
//! URLs on the `dms-uploads` host (whole images; 4 MiB video parts answering an `ETag` each;
//! thumbnails), `finalizeUpload`, status reads, and the `content.media` check of a new post.
//! Paths are relative to `{mount}/linkedin`; uploads in progress live in this file's own
//! `Store` (a `Simulator` extension), so a restart forgets them, as unfinished uploads should.

use super::linkedin::{
    access_denied, api_error, authenticate, check_version, not_found, validation_failed,
};
use super::{Setting, SettingKind, Simulator, TokenClaims};
use crate::Platform;
use crate::crypto::random_token;
use httpkit::{Request, Response, percent_encode};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// Video parts are 4 MiB; the last one is whatever is left.
pub const PART_SIZE: u64 = 4 * 1024 * 1024;
/// Largest video `initializeUpload` accepts (LinkedIn documents up to 500 MB for member video).
pub const MAX_VIDEO_BYTES: u64 = 500 * 1024 * 1024;
/// Upload URLs stay valid this long after `initializeUpload`.
const UPLOAD_URL_TTL_MS: i64 = 24 * 3600 * 1000;

/// The test settings of LinkedIn (`/_sim/linkedin/settings`): how the videos finalized from
/// then on process, so that tests and demos can make processing outlast a publish call, or
/// fail.
pub(crate) const SETTINGS: &[Setting] = &[
    Setting {
        name: "processingPolls",
        meaning: "status reads a finalized video answers PROCESSING before it is AVAILABLE",
        kind: SettingKind::Count { min: 0, max: 1000 },
        default: |s| json!(s.linkedin_video_processing_polls),
    },
    Setting {
        name: "processingFailure",
        meaning: "when set, processing ends PROCESSING_FAILED with this reason instead",
        kind: SettingKind::Text { max_chars: 500 },
        default: |_| Value::Null,
    },
];

/// How the next videos to be finalized will process: `polls` status reads answer
/// `PROCESSING`, then the video is `AVAILABLE`, or `PROCESSING_FAILED` with `failure`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Processing {
    polls: u32,
    failure: Option<String>,
}

#[derive(Default)]
pub(crate) struct Store {
    images: HashMap<String, ImageAsset>,
    videos: HashMap<String, VideoAsset>,
    /// Upload URL token -> what that URL accepts.
    uploads: HashMap<String, UploadTarget>,
}

struct ImageAsset {
    owner: String,
    /// Set once the bytes arrived; the image is usable from then on.
    uploaded: Option<Blob>,
}

#[derive(Clone)]
struct Blob {
    bytes: u64,
    content_type: String,
}

struct VideoAsset {
    owner: String,
    size: u64,
    upload_token: String,
    parts: Vec<Part>,
    thumbnail: Option<Blob>,
    state: VideoState,
}

struct Part {
    first: u64,
    last: u64,
    etag: Option<String>,
}

#[derive(Clone, PartialEq)]
enum VideoState {
    WaitingUpload,
    Processing {
        polls_left: u32,
        failure: Option<String>,
        part_ids: Vec<String>,
    },
    Available,
    Failed(String),
}

impl VideoState {
    fn name(&self) -> &'static str {
        match self {
            VideoState::WaitingUpload => "WAITING_UPLOAD",
            VideoState::Processing { .. } => "PROCESSING",
            VideoState::Available => "AVAILABLE",
            VideoState::Failed(_) => "PROCESSING_FAILED",
        }
    }
}

#[derive(Clone)]
enum UploadTarget {
    Image(String),
    VideoPart(String, usize),
    Thumbnail(String),
    Captions,
}

fn person(claims: &TokenClaims) -> String {
    format!("urn:li:person:{}", claims.sub)
}

/// `urn:li:{kind}:` and an id shaped like LinkedIn's (`C4E10AQ...`).
fn new_urn(kind: &str, prefix: &str) -> String {
    format!("urn:li:{kind}:{prefix}{}", random_token(12))
}

/// The absolute URL of an upload on the host the request came in on, so the adapter reaches
/// it on the same listener (loopback or the appliance's `/sandbox` mount).
fn upload_url(request: &Request, base: &str, token: &str) -> String {
    let host = request.header("host").unwrap_or("127.0.0.1");
    format!("http://{host}{base}/dms-uploads/sp/v2/{token}?sync=0&v=beta")
}

/// The `{mount}/linkedin` prefix of this request's path, for building upload URLs.
fn base_of(request: &Request) -> String {
    match request.path.find("/linkedin/") {
        Some(at) => request.path[..at + "/linkedin".len()].to_string(),
        None => "/linkedin".to_string(),
    }
}

fn now_ms(sim: &Simulator) -> i64 {
    sim.now().timestamp_millis()
}

// ----- the REST endpoints -----

/// `GET /rest/images/{urn}` and `GET /rest/videos/{urn}`: answered without injected faults.
pub(super) fn is_status_read(request: &Request, path: &[&str]) -> bool {
    request.method == "GET" && matches!(path, ["rest", "images" | "videos", _])
}

pub(super) fn status_read(sim: &Simulator, request: &Request, path: &[&str]) -> Response {
    if let Err(response) = check_version(sim, request) {
        return response;
    }
    let claims = match authenticate(sim, request) {
        Ok(claims) => claims,
        Err(response) => return response,
    };
    match path {
        // A member token (`w_member_social`) cannot read images, documented and observed.
        ["images", _] => access_denied(&format!(
            "Not enough permissions to access: partnerApiImages.GET.{}01",
            request
                .header("linkedin-version")
                .unwrap_or_default()
                .trim()
        )),
        ["videos", urn] => video_status(sim, &claims, urn),
        _ => not_found(),
    }
}

pub(super) fn rest(
    sim: &Simulator,
    request: &Request,
    claims: &TokenClaims,
    version: &str,
    path: &[&str],
) -> Response {
    let action = request.query_param("action").unwrap_or_default();
    match (request.method.as_str(), path, action) {
        ("POST", ["images"], "initializeUpload") => {
            with_scope(claims, version, "partnerApiImages", || {
                initialize_image(sim, request, claims)
            })
        }
        ("POST", ["videos"], "initializeUpload") => {
            with_scope(claims, version, "partnerApiVideos", || {
                initialize_video(sim, request, claims)
            })
        }
        ("POST", ["videos"], "finalizeUpload") => {
            with_scope(claims, version, "partnerApiVideos", || {
                finalize_video(sim, request, claims)
            })
        }
        ("POST", ["images" | "videos"], other) => api_error(
            400,
            None,
            Some("ILLEGAL_ARGUMENT"),
            &format!("Unsupported action \"{other}\"; use initializeUpload"),
        ),
        (_, ["images" | "videos"] | ["images" | "videos", _], _) => {
            api_error(405, None, None, "Method not allowed")
        }
        _ => not_found(),
    }
}

fn with_scope(
    claims: &TokenClaims,
    version: &str,
    resource: &str,
    f: impl FnOnce() -> Response,
) -> Response {
    if claims.scp.iter().any(|s| s == "w_member_social") {
        f()
    } else {
        access_denied(&format!(
            "Not enough permissions to access: {resource}.ACTION.{version}01"
        ))
    }
}

/// The `initializeUploadRequest` object with its owner checked against the token.
fn initialize_request(
    request: &Request,
    claims: &TokenClaims,
) -> Result<Map<String, Value>, Response> {
    let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(&request.body) else {
        return Err(api_error(
            400,
            None,
            Some("ILLEGAL_ARGUMENT"),
            "Request body could not be converted to data map",
        ));
    };
    let Some(Value::Object(init)) = body.remove("initializeUploadRequest") else {
        return Err(validation_failed(&[(
            "initializeUploadRequest",
            "field is required but not found and has no default value".into(),
            "MISSING_FIELD",
        )]));
    };
    match init.get("owner").and_then(Value::as_str) {
        None => Err(validation_failed(&[(
            "initializeUploadRequest/owner",
            "field is required but not found and has no default value".into(),
            "MISSING_FIELD",
        )])),
        Some(owner) if owner != person(claims) => Err(access_denied(
            "Field Value validation failed in REQUEST_BODY: Data Processing Exception while processing fields [/owner]",
        )),
        Some(_) => Ok(init),
    }
}

fn initialize_image(sim: &Simulator, request: &Request, claims: &TokenClaims) -> Response {
    if let Err(response) = initialize_request(request, claims) {
        return response;
    }
    let urn = new_urn("image", "C4E10AQ");
    let token = random_token(32);
    sim.with_platform_state(Platform::Linkedin, |store: &mut Store| {
        store.images.insert(
            urn.clone(),
            ImageAsset {
                owner: person(claims),
                uploaded: None,
            },
        );
        store
            .uploads
            .insert(token.clone(), UploadTarget::Image(urn.clone()));
    });
    Response::json(
        200,
        &json!({"value": {
            "uploadUrlExpiresAt": now_ms(sim) + UPLOAD_URL_TTL_MS,
            "uploadUrl": upload_url(request, &base_of(request), &token),
            "image": urn,
        }}),
    )
}

fn flag(init: &Map<String, Value>, name: &str) -> Result<bool, Response> {
    match init.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(validation_failed(&[(
            name,
            format!("{other} is not a boolean"),
            "INVALID_VALUE",
        )])),
    }
}

fn initialize_video(sim: &Simulator, request: &Request, claims: &TokenClaims) -> Response {
    let init = match initialize_request(request, claims) {
        Ok(init) => init,
        Err(response) => return response,
    };
    let size = match init.get("fileSizeBytes") {
        None | Some(Value::Null) => {
            return validation_failed(&[(
                "initializeUploadRequest/fileSizeBytes",
                "field is required but not found and has no default value".into(),
                "MISSING_FIELD",
            )]);
        }
        Some(value) => match value.as_u64().filter(|n| (1..=MAX_VIDEO_BYTES).contains(n)) {
            Some(size) => size,
            None => {
                return api_error(
                    400,
                    None,
                    Some("ILLEGAL_ARGUMENT"),
                    &format!("fileSizeBytes {value} is not between 1 and {MAX_VIDEO_BYTES} bytes"),
                );
            }
        },
    };
    let (thumbnail, captions) = match (
        flag(&init, "uploadThumbnail"),
        flag(&init, "uploadCaptions"),
    ) {
        (Ok(t), Ok(c)) => (t, c),
        (Err(response), _) | (_, Err(response)) => return response,
    };
    let urn = new_urn("video", "C5F10AQ");
    let base = base_of(request);
    let parts: Vec<Part> = (0..size.div_ceil(PART_SIZE))
        .map(|i| Part {
            first: i * PART_SIZE,
            last: ((i + 1) * PART_SIZE).min(size) - 1,
            etag: None,
        })
        .collect();
    let mut value = json!({
        "uploadUrlsExpireAt": now_ms(sim) + UPLOAD_URL_TTL_MS,
        "video": urn,
        "uploadToken": "",
    });
    let mut targets = Vec::new();
    let instructions: Vec<Value> = parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let token = random_token(32);
            let url = upload_url(request, &base, &token);
            targets.push((token, UploadTarget::VideoPart(urn.clone(), i)));
            json!({"uploadUrl": url, "firstByte": part.first, "lastByte": part.last})
        })
        .collect();
    value["uploadInstructions"] = json!(instructions);
    if thumbnail {
        let token = random_token(32);
        value["thumbnailUploadUrl"] = json!(upload_url(request, &base, &token));
        targets.push((token, UploadTarget::Thumbnail(urn.clone())));
    }
    if captions {
        let token = random_token(32);
        value["captionsUploadUrl"] = json!(upload_url(request, &base, &token));
        targets.push((token, UploadTarget::Captions));
    }
    sim.with_platform_state(Platform::Linkedin, |store: &mut Store| {
        store.uploads.extend(targets);
        store.videos.insert(
            urn.clone(),
            VideoAsset {
                owner: person(claims),
                size,
                upload_token: String::new(),
                parts,
                thumbnail: None,
                state: VideoState::WaitingUpload,
            },
        );
    });
    Response::json(200, &json!({ "value": value }))
}

fn finalize_video(sim: &Simulator, request: &Request, claims: &TokenClaims) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
        return api_error(
            400,
            None,
            Some("ILLEGAL_ARGUMENT"),
            "Request body could not be converted to data map",
        );
    };
    let finalize = &body["finalizeUploadRequest"];
    let Some(urn) = finalize["video"].as_str() else {
        return validation_failed(&[(
            "finalizeUploadRequest/video",
            "field is required but not found and has no default value".into(),
            "MISSING_FIELD",
        )]);
    };
    let Some(ids) = finalize["uploadedPartIds"].as_array() else {
        return validation_failed(&[(
            "finalizeUploadRequest/uploadedPartIds",
            "field is required but not found and has no default value".into(),
            "MISSING_FIELD",
        )]);
    };
    let ids: Vec<String> = ids
        .iter()
        .map(|id| id.as_str().unwrap_or_default().to_string())
        .collect();
    let upload_token = finalize["uploadToken"].as_str().unwrap_or_default();
    let processing = Processing {
        polls: sim.count_setting(Platform::Linkedin, "processingPolls"),
        failure: sim.text_setting(Platform::Linkedin, "processingFailure"),
    };
    sim.with_platform_state(Platform::Linkedin, |store: &mut Store| {
        let Some(video) = store.videos.get_mut(urn) else {
            return api_error(404, None, None, &format!("Video {urn} does not exist"));
        };
        if video.owner != person(claims) {
            return access_denied(&format!("Not enough permissions to access video {urn}"));
        }
        if upload_token != video.upload_token {
            return api_error(400, None, Some("ILLEGAL_ARGUMENT"), "Invalid uploadToken");
        }
        match &video.state {
            VideoState::WaitingUpload => {}
            // Finalizing again with the same parts is answered as the first time, so a
            // client may retry a finalize whose answer it lost.
            VideoState::Processing { part_ids, .. } if *part_ids == ids => {
                return Response::new(200);
            }
            _ => {
                return api_error(
                    400,
                    None,
                    Some("ILLEGAL_ARGUMENT"),
                    &format!("Video {urn} was already finalized"),
                );
            }
        }
        if let Some(missing) = video.parts.iter().position(|p| p.etag.is_none()) {
            return api_error(
                400,
                None,
                Some("ILLEGAL_ARGUMENT"),
                &format!(
                    "Part {missing} (bytes {}-{}) of {urn} was never uploaded",
                    video.parts[missing].first, video.parts[missing].last
                ),
            );
        }
        let expected: Vec<String> = video.parts.iter().filter_map(|p| p.etag.clone()).collect();
        if ids != expected {
            return api_error(
                400,
                None,
                Some("ILLEGAL_ARGUMENT"),
                &format!(
                    "uploadedPartIds do not match the {} uploaded parts of {urn}: send every part's ETag, in the order of uploadInstructions",
                    expected.len()
                ),
            );
        }
        video.state = VideoState::Processing {
            polls_left: processing.polls,
            failure: processing.failure,
            part_ids: ids,
        };
        Response::new(200)
    })
}

fn video_status(sim: &Simulator, claims: &TokenClaims, urn: &str) -> Response {
    sim.with_platform_state(Platform::Linkedin, |store: &mut Store| {
        let Some(video) = store.videos.get_mut(urn) else {
            return api_error(404, None, None, &format!("Video {urn} does not exist"));
        };
        if video.owner != person(claims) {
            return access_denied(&format!("Not enough permissions to access video {urn}"));
        }
        // Each read while processing is one step of the configured processing time.
        if let VideoState::Processing {
            polls_left,
            failure,
            ..
        } = &mut video.state
        {
            if *polls_left == 0 {
                video.state = match failure.take() {
                    Some(reason) => VideoState::Failed(reason),
                    None => VideoState::Available,
                };
            } else {
                *polls_left -= 1;
            }
        }
        let mut body = json!({
            "id": urn,
            "owner": video.owner,
            "status": video.state.name(),
        });
        if let VideoState::Failed(reason) = &video.state {
            body["processingFailureReason"] = json!(reason);
        }
        if video.state == VideoState::Available {
            body["downloadUrl"] = json!(format!(
                "https://dms.licdn.com/playlist/vid/sandbox/{}",
                percent_encode(urn)
            ));
            body["duration"] = json!(0);
        }
        Response::json(200, &body)
    })
}

// ----- the upload host -----

/// `PUT /dms-uploads/sp/v2/{token}`: the bytes of an image, a video part or a thumbnail.
pub(super) fn upload(sim: &Simulator, request: &Request, path: &[&str]) -> Response {
    let ["sp", "v2", token] = path else {
        return not_found();
    };
    if request.method != "PUT" {
        return api_error(405, None, None, "Method not allowed");
    }
    let Some(target) = sim.with_platform_state(Platform::Linkedin, |store: &mut Store| {
        store.uploads.get(*token).cloned()
    }) else {
        return api_error(404, None, None, "No upload is waiting at this URL");
    };
    // Image uploads need the owner's bearer token (LinkedIn's own samples send it); video
    // part URLs are pre-signed, but a token sent along must still be valid.
    let claims = match (&target, request.header("authorization")) {
        (UploadTarget::Image(_), _) | (_, Some(_)) => match authenticate(sim, request) {
            Ok(claims) => Some(claims),
            Err(response) => return response,
        },
        _ => None,
    };
    let body = &request.body;
    let content_type = request
        .header("content-type")
        .unwrap_or("application/octet-stream")
        .to_string();
    sim.with_platform_state(Platform::Linkedin, |store: &mut Store| match target {
        UploadTarget::Image(urn) => {
            let Some(image) = store.images.get_mut(&urn) else {
                return not_found();
            };
            if claims.is_some_and(|c| person(&c) != image.owner) {
                return access_denied(&format!("Not enough permissions to upload {urn}"));
            }
            if image_format(body).is_none() {
                return bad_upload("The uploaded file is not a JPG, PNG or GIF image");
            }
            image.uploaded = Some(Blob {
                bytes: body.len() as u64,
                content_type,
            });
            Response::new(201)
        }
        UploadTarget::VideoPart(urn, index) => {
            let Some(video) = store.videos.get_mut(&urn) else {
                return not_found();
            };
            if claims.is_some_and(|c| person(&c) != video.owner) {
                return access_denied(&format!("Not enough permissions to upload {urn}"));
            }
            if video.state != VideoState::WaitingUpload {
                return bad_upload(&format!("Video {urn} was already finalized"));
            }
            let part = &mut video.parts[index];
            let expected = part.last - part.first + 1;
            if body.len() as u64 != expected {
                return bad_upload(&format!(
                    "Part {index} must be exactly bytes {}-{} ({expected} bytes); got {} bytes",
                    part.first,
                    part.last,
                    body.len()
                ));
            }
            if index == 0 && body.get(4..8) != Some(b"ftyp".as_slice()) {
                return bad_upload("The uploaded file is not an MP4 video (no ftyp box)");
            }
            // A part sent again replaces the first: retrying an upload is safe.
            let etag = format!("/ambry-video/signedId/{}", random_token(24));
            part.etag = Some(etag.clone());
            Response::new(200).with_header("ETag", &etag)
        }
        UploadTarget::Thumbnail(urn) => {
            let Some(video) = store.videos.get_mut(&urn) else {
                return not_found();
            };
            if !matches!(image_format(body), Some("image/jpeg" | "image/png")) {
                return bad_upload("A thumbnail must be a JPG or PNG image");
            }
            video.thumbnail = Some(Blob {
                bytes: body.len() as u64,
                content_type,
            });
            Response::new(201)
        }
        UploadTarget::Captions if body.is_empty() => bad_upload("The captions file is empty"),
        UploadTarget::Captions => Response::new(201),
    })
}

fn bad_upload(message: &str) -> Response {
    api_error(400, None, Some("ILLEGAL_ARGUMENT"), message)
}

/// The image format its magic number says, among the ones LinkedIn takes.
fn image_format(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG") {
        Some("image/png")
    } else if bytes.starts_with(b"GIF8") {
        Some("image/gif")
    } else {
        None
    }
}

// ----- posts -----

/// Checks a new post's `content` and describes its media for the record (`null` for none):
/// the media must exist, belong to the author, and be fully uploaded (and processed).
pub(super) fn post_media(
    sim: &Simulator,
    body: &Map<String, Value>,
    author: &str,
) -> Result<Value, Response> {
    let content = match body.get("content") {
        None | Some(Value::Null) => return Ok(Value::Null),
        Some(Value::Object(content)) => content,
        Some(_) => {
            return Err(validation_failed(&[(
                "content",
                "is not a record".into(),
                "INVALID_VALUE",
            )]));
        }
    };
    let Some(media) = content.get("media").and_then(Value::as_object) else {
        return Err(validation_failed(&[(
            "content",
            "the simulator supports content.media (one image or one video) only".into(),
            "INVALID_VALUE",
        )]));
    };
    let Some(id) = media.get("id").and_then(Value::as_str) else {
        return Err(validation_failed(&[(
            "content/media/id",
            "field is required but not found and has no default value".into(),
            "MISSING_FIELD",
        )]));
    };
    let text = |name: &str| media.get(name).and_then(Value::as_str).map(str::to_string);
    sim.with_platform_state(Platform::Linkedin, |store: &mut Store| {
        if let Some(image) = store.images.get(id) {
            if image.owner != author {
                return Err(media_refused(id, "is owned by another member"));
            }
            let Some(blob) = &image.uploaded else {
                return Err(media_refused(id, "is not uploaded yet (WAITING_UPLOAD)"));
            };
            return Ok(json!({
                "kind": "image",
                "id": id,
                "bytes": blob.bytes,
                "contentType": blob.content_type,
                "altText": text("altText"),
            }));
        }
        if let Some(video) = store.videos.get(id) {
            if video.owner != author {
                return Err(media_refused(id, "is owned by another member"));
            }
            if video.state != VideoState::Available {
                return Err(media_refused(
                    id,
                    &format!("is not AVAILABLE (it is {})", video.state.name()),
                ));
            }
            return Ok(json!({
                "kind": "video",
                "id": id,
                "bytes": video.size,
                "parts": video.parts.len(),
                "title": text("title"),
                "thumbnail": video.thumbnail.as_ref().map(|blob| {
                    json!({"bytes": blob.bytes, "contentType": blob.content_type})
                }),
            }));
        }
        Err(media_refused(id, "does not exist"))
    })
}

/// LinkedIn's 400 for a post whose media cannot be used.
fn media_refused(id: &str, why: &str) -> Response {
    Response::json(
        400,
        &json!({
            "errorDetailType": "com.linkedin.common.error.BadRequest",
            "message": format!(
                "com.linkedin.content.common.exception.BadRequestResponseException: Media {id} {why}"
            ),
            "errorDetails": {"inputErrors": [{
                "description": format!("Media {id} {why}"),
                "input": {"inputPath": {"fieldPath": "content/media/id"}},
                "code": "INVALID_VALUE"
            }]},
            "status": 400
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_formats_are_told_by_their_magic_numbers() {
        assert_eq!(image_format(b"\x89PNG\r\n"), Some("image/png"));
        assert_eq!(image_format(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(image_format(b"GIF89a"), Some("image/gif"));
        assert_eq!(image_format(b"RIFF....WEBP"), None);
    }
}
