//! A channel's uploads as the YouTube simulator serves them back: the uploads playlist
//! (`channels.list` names it in `contentDetails.relatedPlaylists.uploads`) read with
//! `playlistItems.list`, and `videos.delete`. Rules from Google's reference
//! (developers.google.com/youtube/v3/docs/playlistItems/list, .../videos/delete) and the v3
//! discovery document: `part` required, `id` or `playlistId`, `maxResults` 0 to 50 (5 by
//! default), `pageToken`/`nextPageToken`; listing accepts `youtube`, `youtube.force-ssl`,
//! `youtube.readonly` or `youtubepartner`, deleting only `youtube`, `youtube.force-ssl` or
//! `youtubepartner` (not `youtube.upload`, not `youtube.readonly`), and answers 204. Inferred:
//! the uploads playlist lists the newest upload first, including videos still processing, and
//! the wording of a malformed `maxResults` or page token.

use super::{
    PLATFORM, READ_SCOPES, Video, YoutubeState, authenticate, bad_request, etag, google_error,
    parts, required_parameter,
};
use crate::Simulator;
use crate::crypto::{base64url, base64url_decode};
use httpkit::{Request, Response};
use serde_json::{Value, json};

/// Scopes `videos.delete` accepts.
const DELETE_SCOPES: &[&str] = &["youtube", "youtube.force-ssl", "youtubepartner"];
const PLAYLIST_ITEM_PARTS: &[&str] = &["contentDetails", "id", "snippet", "status"];
const DEFAULT_MAX_RESULTS: usize = 5;
const MAX_RESULTS: usize = 50;

/// A channel's uploads playlist: `UU` and the channel id after its `UC`.
pub(super) fn playlist_of(channel_id: &str) -> String {
    format!("UU{}", channel_id.strip_prefix("UC").unwrap_or(channel_id))
}

fn page_token(offset: usize) -> String {
    base64url(format!("playlistItems:{offset}").as_bytes())
}

fn offset_of(token: &str) -> Option<usize> {
    String::from_utf8(base64url_decode(token)?)
        .ok()?
        .strip_prefix("playlistItems:")?
        .parse()
        .ok()
}

/// One upload as a `youtube#playlistItem` with the parts asked for.
fn playlist_item(
    video: &Video,
    id: &str,
    playlist: &str,
    position: usize,
    parts: &[String],
) -> Value {
    let wants = |p: &str| parts.iter().any(|x| x == p);
    let snippet = &video.metadata["snippet"];
    let privacy = video.metadata["status"]["privacyStatus"]
        .as_str()
        .unwrap_or("public");
    let at = video
        .uploaded_at
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut item = json!({
        "kind": "youtube#playlistItem",
        "etag": etag(&format!("item {id}")),
        "id": base64url(format!("{playlist}.{id}").as_bytes()),
    });
    if wants("snippet") {
        let thumbs = format!("https://i.ytimg.com/vi/{id}");
        let channel_title = video.resource["snippet"]["channelTitle"].clone();
        item["snippet"] = json!({
            "publishedAt": at,
            "channelId": video.channel_id,
            "title": snippet["title"],
            "description": snippet["description"],
            "thumbnails": {
                "default": {"url": format!("{thumbs}/default.jpg"), "width": 120, "height": 90},
                "medium": {"url": format!("{thumbs}/mqdefault.jpg"), "width": 320, "height": 180},
                "high": {"url": format!("{thumbs}/hqdefault.jpg"), "width": 480, "height": 360},
            },
            "channelTitle": channel_title,
            "playlistId": playlist,
            "position": position,
            "resourceId": {"kind": "youtube#video", "videoId": id},
            "videoOwnerChannelTitle": channel_title,
            "videoOwnerChannelId": video.channel_id,
        });
    }
    if wants("contentDetails") {
        item["contentDetails"] = json!({"videoId": id});
        // A private video has no publication time (inferred from the reference's wording).
        if privacy != "private" {
            item["contentDetails"]["videoPublishedAt"] = json!(at);
        }
    }
    if wants("status") {
        item["status"] = json!({"privacyStatus": privacy});
    }
    item
}

/// `GET /youtube/v3/playlistItems`: the caller's uploads playlist, newest first, a page at a
/// time. Other playlists are unknown to the simulator (`playlistNotFound`).
pub(super) fn playlist_items(sim: &Simulator, request: &Request) -> Response {
    let claims = match authenticate(sim, request, READ_SCOPES) {
        Ok(claims) => claims,
        Err(response) => return response,
    };
    let parts = match parts(request, PLAYLIST_ITEM_PARTS) {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let Some(playlist) = request.query_param("playlistId").filter(|v| !v.is_empty()) else {
        if request.query_param("id").is_some() {
            return bad_request(
                "global",
                "invalidParameter",
                "Listing playlist items by id is not simulated; use playlistId (the uploads playlist).",
            );
        }
        return bad_request(
            "youtube.parameter",
            "missingRequiredParameter",
            "No filter selected. Expected one of: id, playlistId",
        );
    };
    let max_results = match request.query_param("maxResults") {
        None => DEFAULT_MAX_RESULTS,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n <= MAX_RESULTS => n,
            _ => {
                return bad_request(
                    "youtube.parameter",
                    "invalidParameter",
                    &format!(
                        "Invalid value '{v}'. Values must be within the range: [0, {MAX_RESULTS}]"
                    ),
                );
            }
        },
    };
    let offset = match request.query_param("pageToken").filter(|v| !v.is_empty()) {
        None => 0,
        Some(token) => match offset_of(token) {
            Some(offset) => offset,
            None => {
                return bad_request(
                    "youtube.parameter",
                    "invalidPageToken",
                    "The request specifies an invalid page token.",
                );
            }
        },
    };
    if playlist != playlist_of(&claims.sub) {
        return google_error(
            404,
            "youtube.playlistItem",
            "playlistNotFound",
            "The playlist identified with the request's <code>playlistId</code> parameter cannot be found.",
            Some(("playlistId", "parameter")),
        );
    }
    let (total, items) = sim.with_platform_state(PLATFORM, |st: &mut YoutubeState| {
        let mut uploads: Vec<(&String, &Video)> = st
            .videos
            .iter()
            .filter(|(_, v)| v.channel_id == claims.sub)
            .collect();
        uploads.sort_by(|a, b| b.1.uploaded_at.cmp(&a.1.uploaded_at).then(a.0.cmp(b.0)));
        let items: Vec<Value> = uploads
            .iter()
            .enumerate()
            .skip(offset)
            .take(max_results)
            .map(|(position, (id, video))| playlist_item(video, id, playlist, position, &parts))
            .collect();
        (uploads.len(), items)
    });
    let mut body = json!({
        "kind": "youtube#playlistItemListResponse",
        "etag": etag(&format!("playlist {playlist} {offset} {total}")),
        "items": items,
        "pageInfo": {"totalResults": total, "resultsPerPage": max_results},
    });
    if offset + max_results < total && max_results > 0 {
        body["nextPageToken"] = json!(page_token(offset + max_results));
    }
    if offset > 0 {
        body["prevPageToken"] = json!(page_token(offset.saturating_sub(max_results)));
    }
    Response::json(200, &body)
}

/// `DELETE /youtube/v3/videos?id=...`: the caller's own video, 204. The accepted post is
/// marked deleted in the simulator's record.
pub(super) fn delete_video(sim: &Simulator, request: &Request) -> Response {
    let claims = match authenticate(sim, request, DELETE_SCOPES) {
        Ok(claims) => claims,
        Err(response) => return response,
    };
    let Some(id) = request.query_param("id").filter(|v| !v.is_empty()) else {
        return required_parameter("id");
    };
    enum Found {
        Mine,
        Others,
        Missing,
    }
    let found =
        sim.with_platform_state(PLATFORM, |st: &mut YoutubeState| match st.videos.get(id) {
            Some(video) if video.channel_id == claims.sub => {
                st.videos.remove(id);
                Found::Mine
            }
            Some(_) => Found::Others,
            None => Found::Missing,
        });
    match found {
        Found::Mine => {
            sim.mark_post_deleted(PLATFORM, |p| p["id"] == id);
            Response::new(204)
        }
        Found::Others => google_error(
            403,
            "youtube.video",
            "forbidden",
            "The video that you are trying to delete cannot be deleted. The request might not be properly authorized.",
            None,
        ),
        Found::Missing => google_error(
            404,
            "youtube.video",
            "videoNotFound",
            "The video that you are trying to delete cannot be found. Check the value of the <code>id</code> parameter in the request to ensure that it is correct.",
            Some(("id", "parameter")),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SimulatorSettings, TokenClaims};
    use chrono::Duration;
    use httpkit::clock::OffsetClock;
    use std::sync::Arc;

    struct Fixture {
        sim: Arc<Simulator>,
        clock: Arc<OffsetClock>,
    }

    fn fixture() -> Fixture {
        let clock = OffsetClock::new();
        let sim = Simulator::new(clock.clone(), [9; 32], SimulatorSettings::default());
        Fixture { sim, clock }
    }

    const CHANNEL: &str = "UCaaaaaaaaaaaaaaaaaaaaaa";
    const OTHER: &str = "UCbbbbbbbbbbbbbbbbbbbbbb";
    const UPLOAD: &[&str] = &["youtube.upload", "youtube.readonly"];
    const ALL: &[&str] = &["youtube.upload", "youtube.readonly", "youtube.force-ssl"];

    impl Fixture {
        fn token(&self, channel: &str, scopes: &[&str]) -> String {
            let now = self.sim.now().timestamp();
            self.sim.sign_token(&TokenClaims {
                typ: "access".into(),
                plat: "youtube".into(),
                cid: "app".into(),
                sub: channel.into(),
                name: "Chris Creator".into(),
                scp: scopes
                    .iter()
                    .map(|s| format!("https://www.googleapis.com/auth/{s}"))
                    .collect(),
                iat: now,
                exp: now + 3600,
                grant: format!("grant-{channel}"),
                nonce: "n".into(),
            })
        }

        fn call(
            &self,
            method: &str,
            target: &str,
            token: &str,
            headers: &[(&str, &str)],
            body: &[u8],
        ) -> (u16, Value) {
            let mut request = Request::new(method, target);
            request
                .headers
                .push(("Authorization".into(), format!("Bearer {token}")));
            request.headers.push(("Host".into(), "sim.test".into()));
            for (name, value) in headers {
                request.headers.push((name.to_string(), value.to_string()));
            }
            request.body = body.to_vec();
            let response = self.sim.handle(&request, "");
            let mut body = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
            if let Some(location) = response.headers.iter().find(|(n, _)| n == "Location") {
                body = json!({"location": location.1});
            }
            (response.status, body)
        }

        /// A video uploaded in one PUT through a resumable session; its id.
        fn upload(&self, token: &str, title: &str) -> String {
            let video = [&[0, 0, 0, 24][..], b"ftypisom", &[0u8; 500][..]].concat();
            let metadata = json!({"snippet": {"title": title, "description": format!("About {title}")}, "status": {"privacyStatus": "private"}});
            let (status, started) = self.call(
                "POST",
                "/youtube/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status",
                token,
                &[
                    ("Content-Type", "application/json"),
                    ("X-Upload-Content-Length", &video.len().to_string()),
                    ("X-Upload-Content-Type", "video/mp4"),
                ],
                metadata.to_string().as_bytes(),
            );
            assert_eq!(status, 200, "{started}");
            let location = started["location"].as_str().unwrap();
            let session = location.strip_prefix("http://sim.test").unwrap();
            let (status, created) = self.call(
                "PUT",
                session,
                token,
                &[("Content-Type", "video/mp4")],
                &video,
            );
            assert_eq!(status, 201, "{created}");
            created["id"].as_str().unwrap().to_string()
        }

        fn uploads(&self, token: &str, query: &str) -> (u16, Value) {
            let target = format!(
                "/youtube/youtube/v3/playlistItems?part=snippet,contentDetails,status&{query}"
            );
            self.call("GET", &target, token, &[], b"")
        }
    }

    fn reason(body: &Value) -> &str {
        body["error"]["errors"][0]["reason"]
            .as_str()
            .unwrap_or_default()
    }

    #[test]
    fn the_channel_names_its_uploads_playlist_which_lists_the_newest_first_in_pages() {
        let f = fixture();
        let token = f.token(CHANNEL, UPLOAD);
        let (status, channels) = f.call(
            "GET",
            "/youtube/youtube/v3/channels?part=contentDetails&mine=true",
            &token,
            &[],
            b"",
        );
        assert_eq!(status, 200, "{channels}");
        let playlist = channels["items"][0]["contentDetails"]["relatedPlaylists"]["uploads"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(playlist, "UUaaaaaaaaaaaaaaaaaaaaaa");
        let older = f.upload(&token, "older");
        f.clock.advance(Duration::minutes(1));
        let newer = f.upload(&token, "newer");
        f.upload(&f.token(OTHER, UPLOAD), "another channel's");
        let (status, first) = f.uploads(&token, &format!("playlistId={playlist}&maxResults=1"));
        assert_eq!(status, 200, "{first}");
        assert_eq!(first["kind"], "youtube#playlistItemListResponse");
        assert_eq!(first["pageInfo"]["totalResults"], 2);
        let item = &first["items"][0];
        assert_eq!(item["snippet"]["resourceId"]["videoId"], newer.as_str());
        assert_eq!(item["snippet"]["title"], "newer");
        assert_eq!(item["snippet"]["description"], "About newer");
        assert_eq!(item["snippet"]["playlistId"], playlist.as_str());
        assert_eq!(item["status"]["privacyStatus"], "private");
        assert!(
            item["contentDetails"].get("videoPublishedAt").is_none(),
            "private: not published"
        );
        let token_2 = first["nextPageToken"].as_str().unwrap();
        let (_, second) = f.uploads(
            &token,
            &format!("playlistId={playlist}&maxResults=1&pageToken={token_2}"),
        );
        assert_eq!(
            second["items"][0]["snippet"]["resourceId"]["videoId"],
            older.as_str()
        );
        assert!(second.get("nextPageToken").is_none(), "{second}");
        // Five by default; at most fifty.
        let (_, default) = f.uploads(&token, &format!("playlistId={playlist}"));
        assert_eq!(default["pageInfo"]["resultsPerPage"], 5);
        let (status, refused) = f.uploads(&token, &format!("playlistId={playlist}&maxResults=51"));
        assert_eq!((status, reason(&refused)), (400, "invalidParameter"));
    }

    #[test]
    fn listing_needs_a_read_scope_and_a_known_playlist() {
        let f = fixture();
        let (status, refused) = f.uploads(
            &f.token(CHANNEL, &["youtube.upload"]),
            "playlistId=UUaaaaaaaaaaaaaaaaaaaaaa",
        );
        assert_eq!((status, reason(&refused)), (403, "insufficientPermissions"));
        let token = f.token(CHANNEL, UPLOAD);
        let (status, missing) = f.uploads(&token, "playlistId=UUbbbbbbbbbbbbbbbbbbbbbb");
        assert_eq!((status, reason(&missing)), (404, "playlistNotFound"));
        let (status, unfiltered) = f.uploads(&token, "");
        assert_eq!(
            (status, reason(&unfiltered)),
            (400, "missingRequiredParameter")
        );
        let (status, bad_page) =
            f.uploads(&token, "playlistId=UUaaaaaaaaaaaaaaaaaaaaaa&pageToken=nope");
        assert_eq!((status, reason(&bad_page)), (400, "invalidPageToken"));
    }

    #[test]
    fn deleting_needs_a_managing_scope_and_the_channels_own_video() {
        let f = fixture();
        let mine = f.token(CHANNEL, ALL);
        let id = f.upload(&mine, "to delete");
        // Settle processing so the simulator records the post.
        for _ in 0..3 {
            f.call(
                "GET",
                &format!("/youtube/youtube/v3/videos?part=status&id={id}"),
                &mine,
                &[],
                b"",
            );
        }
        assert_eq!(f.sim.accepted_posts(PLATFORM).len(), 1);
        let target = format!("/youtube/youtube/v3/videos?id={id}");
        for scopes in [&["youtube.upload"][..], &["youtube.readonly"][..], UPLOAD] {
            let (status, refused) = f.call("DELETE", &target, &f.token(CHANNEL, scopes), &[], b"");
            assert_eq!(
                (status, reason(&refused)),
                (403, "insufficientPermissions"),
                "{scopes:?}"
            );
        }
        let (status, refused) = f.call("DELETE", &target, &f.token(OTHER, ALL), &[], b"");
        assert_eq!((status, reason(&refused)), (403, "forbidden"));
        let (status, missing) = f.call("DELETE", "/youtube/youtube/v3/videos", &mine, &[], b"");
        assert_eq!((status, reason(&missing)), (400, "required"));
        let (status, deleted) = f.call("DELETE", &target, &mine, &[], b"");
        assert_eq!((status, deleted), (204, Value::Null));
        assert_eq!(f.sim.accepted_posts(PLATFORM)[0]["deleted"], true);
        let (_, list) = f.call(
            "GET",
            &format!("/youtube/youtube/v3/videos?part=status&id={id}"),
            &mine,
            &[],
            b"",
        );
        assert_eq!(list["items"], json!([]));
        let (_, uploads) = f.uploads(&mine, "playlistId=UUaaaaaaaaaaaaaaaaaaaaaa");
        assert_eq!(uploads["items"], json!([]));
        let (status, again) = f.call("DELETE", &target, &mine, &[], b"");
        assert_eq!((status, reason(&again)), (404, "videoNotFound"));
        // `youtube` and `youtubepartner` manage videos too.
        for scope in ["youtube", "youtubepartner"] {
            let id = f.upload(&mine, scope);
            let (status, _) = f.call(
                "DELETE",
                &format!("/youtube/youtube/v3/videos?id={id}"),
                &f.token(CHANNEL, &[scope]),
                &[],
                b"",
            );
            assert_eq!(status, 204, "{scope}");
        }
    }

    #[test]
    fn the_uploads_playlist_is_uu_and_the_channel_id() {
        assert_eq!(playlist_of("UCabc123"), "UUabc123");
    }

    #[test]
    fn page_tokens_round_trip() {
        assert_eq!(offset_of(&page_token(50)), Some(50));
        assert_eq!(offset_of("garbage"), None);
    }
}
