//! `GET /{ig-user-id}/media`: the account's published media, newest first (the User Media
//! reference on graph.instagram.com: `since`/`until` as a Unix timestamp or strtotime value,
//! cursor paging, "a maximum of 10K of the most recently created media"), with
//! `instagram_business_basic`. `media_type` is `IMAGE`, `VIDEO` (reels too, with
//! `media_product_type` `REELS`) or `CAROUSEL_ALBUM` (the IG Media reference's values).

use super::{PLATFORM, graph_error, no_such_object};
use crate::facebook::listing::{self, Entry};
use crate::{Simulator, TokenClaims};
use httpkit::{Request, Response};
use serde_json::{Map, json};

/// 25 a page unless asked; at most 100 [inf: the reference names no maximum].
const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 100;
/// "Returns a maximum of 10K of the most recently created media."
const MAX_LISTED: usize = 10_000;

pub(super) fn list(
    sim: &Simulator,
    request: &Request,
    claims: &TokenClaims,
    user: &str,
) -> Response {
    if user != claims.sub {
        return no_such_object(user);
    }
    if !claims.scp.iter().any(|s| s == "instagram_business_basic") {
        return graph_error(
            400,
            "(#10) Application does not have permission for this action",
            10,
            None,
        );
    }
    let mut posts = sim.accepted_posts(PLATFORM);
    posts.retain(|p| p["userId"] == user);
    let skip = posts.len().saturating_sub(MAX_LISTED);
    let entries = posts
        .into_iter()
        .skip(skip)
        .filter_map(|p| {
            let created = listing::unix_of(&p["createdAt"])?;
            let (media_type, product) = match p["mediaType"].as_str() {
                Some("CAROUSEL") => ("CAROUSEL_ALBUM", "FEED"),
                Some("REELS") => ("VIDEO", "REELS"),
                Some("VIDEO") => ("VIDEO", "FEED"),
                _ => ("IMAGE", "FEED"),
            };
            let mut fields = Map::new();
            fields.insert("id".into(), p["id"].clone());
            let caption = p["caption"].as_str().unwrap_or_default();
            if !caption.is_empty() {
                fields.insert("caption".into(), json!(caption));
            }
            fields.insert("media_type".into(), json!(media_type));
            fields.insert("media_product_type".into(), json!(product));
            fields.insert("timestamp".into(), json!(listing::graph_time(created)));
            fields.insert("permalink".into(), p["permalink"].clone());
            fields.insert("shortcode".into(), p["shortcode"].clone());
            fields.insert("username".into(), p["username"].clone());
            Some(Entry { created, fields })
        })
        .collect();
    let base = format!("https://graph.instagram.com/v25.0/{user}/media");
    match listing::page(request, entries, DEFAULT_LIMIT, MAX_LIMIT, &base) {
        Ok(body) => Response::json(200, &body),
        Err(name) => listing::bad_parameter(&name, |m| graph_error(400, &m, 100, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::ig_user_id;
    use super::*;
    use crate::crypto::random_token;
    use crate::{SimClient, SimulatorSettings};
    use httpkit::clock::OffsetClock;
    use serde_json::Value;
    use std::sync::Arc;

    fn setup() -> (Arc<Simulator>, Arc<OffsetClock>, String, String) {
        let clock = OffsetClock::new();
        clock.freeze();
        let sim = Simulator::new(clock.clone(), [9; 32], SimulatorSettings::default());
        sim.register_client(
            PLATFORM,
            SimClient {
                client_id: "ig-app".into(),
                client_secret: "ig-secret".into(),
                name: "Test app".into(),
                redirect_uris: vec!["http://localhost/cb".into()],
                trial_access: false,
            },
        );
        let user = ig_user_id(&sim, "Sam Lee");
        let now = sim.now().timestamp();
        let token = sim.sign_token(&TokenClaims {
            typ: "access".into(),
            plat: "instagram".into(),
            cid: "ig-app".into(),
            sub: user.clone(),
            name: "Sam Lee".into(),
            scp: vec![
                "instagram_business_basic".into(),
                "instagram_business_content_publish".into(),
            ],
            iat: now,
            exp: now + 86_400,
            grant: "g".into(),
            nonce: random_token(8),
        });
        (sim, clock, user, token)
    }

    fn get(sim: &Simulator, target: &str) -> (u16, Value) {
        let request = Request::new("GET", &format!("/instagram/v25.0/{target}"));
        let response = sim.handle(&request, "");
        (
            response.status,
            serde_json::from_slice(&response.body).unwrap_or(Value::Null),
        )
    }

    fn record(sim: &Simulator, user: &str, id: &str, kind: &str, caption: &str) {
        let now = sim.now();
        sim.record_post_unless_duplicate(
            PLATFORM,
            now,
            |_| false,
            json!({"id": id, "userId": user, "mediaType": kind, "caption": caption,
                "permalink": format!("https://www.instagram.com/p/{id}/"), "shortcode": id,
                "username": "sam.lee", "createdAt": httpkit::clock::format_timestamp(now)}),
        )
        .unwrap();
    }

    #[test]
    fn media_lists_the_accounts_media_newest_first_within_since() {
        let (sim, clock, user, token) = setup();
        record(&sim, &user, "1", "IMAGE", "old");
        clock.advance(chrono::Duration::minutes(30));
        let since = sim.now().timestamp();
        record(&sim, &user, "2", "REELS", "a reel");
        clock.advance(chrono::Duration::seconds(3));
        record(&sim, &user, "3", "CAROUSEL", "");
        let (status, body) = get(
            &sim,
            &format!(
                "{user}/media?fields=id,caption,media_type,timestamp&since={since}&access_token={token}"
            ),
        );
        assert_eq!(status, 200, "{body}");
        let data = body["data"].as_array().unwrap();
        assert_eq!(data.len(), 2, "{body}");
        assert_eq!(data[0]["id"], "3");
        assert_eq!(data[0]["media_type"], "CAROUSEL_ALBUM");
        assert!(data[0].get("caption").is_none(), "no caption, no field");
        assert_eq!(data[1]["media_type"], "VIDEO");
        assert_eq!(data[1]["caption"], "a reel");
        assert!(data[1]["timestamp"].as_str().unwrap().ends_with("+0000"));
        // Paging by one, with `id` only when no fields are asked for.
        let (_, page) = get(&sim, &format!("{user}/media?limit=1&access_token={token}"));
        assert_eq!(page["data"], json!([{"id": "3"}]));
        assert!(page["paging"]["next"].as_str().unwrap().contains("after="));
        // Someone else's media is not this token's to read.
        let (status, _) = get(&sim, &format!("1784000/media?access_token={token}"));
        assert_eq!(status, 400);
    }

    #[test]
    fn require_app_secret_covers_instagrams_graph_calls() {
        let (sim, _, user, token) = setup();
        sim.change_settings(PLATFORM, &json!({"requireAppSecret": "ig-app"}))
            .unwrap();
        let (status, body) = get(&sim, &format!("{user}/media?access_token={token}"));
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            body["error"]["message"],
            "API calls from the server require an appsecret_proof argument"
        );
        let proof = crate::crypto::hex(&crate::crypto::hmac_sha256(b"ig-secret", token.as_bytes()));
        let (status, body) = get(
            &sim,
            &format!("{user}/media?access_token={token}&appsecret_proof={proof}"),
        );
        assert_eq!(status, 200, "{body}");
        let (status, _) = get(
            &sim,
            &format!("{user}/media?access_token={token}&appsecret_proof=00ff"),
        );
        assert_eq!(status, 400);
    }
}
