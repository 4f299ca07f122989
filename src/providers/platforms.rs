//! The one table of platforms: for each, its key, its display name, its production hosts and
//! API version, how to build its adapter, and its text limit. `Platform`, `Platform::ALL`, the
//! adapters of `Providers`, the real endpoints in `config` and the per-platform environment
//! variables all come from it.
//!
//! Adding a platform is one row here, one adapter file in `providers/`, one simulator file
//! and one test file. The simulator does not read this table (it is a crate of its own that
//! knows nothing of the appliance): it serves each platform under `/{key}` with the same keys,
//! which is where `config::simulator_platform_endpoints` points the adapters.

use super::{
    Provider, facebook, instagram, linkedin, pinterest, reddit, threads, twitter, youtube,
};
use crate::config::ProviderEndpoints;
use std::sync::Arc;

/// Everything the appliance knows about a platform outside its adapter file.
pub struct PlatformSpec {
    pub platform: Platform,
    /// The key of the API (`platforms`, `platformOptions`), of URLs and of the database.
    pub key: &'static str,
    /// The name people read on pages and in messages.
    pub display_name: &'static str,
    /// Where the real platform lives.
    pub hosts: PlatformHosts,
    /// Builds the adapter for the given endpoints and the shared HTTP agent.
    pub adapter: fn(ProviderEndpoints, ureq::Agent) -> Arc<dyn Provider>,
    /// The longest post text the platform takes (checked by the adapter's `validate`), where
    /// it has one.
    pub text_limit: Option<TextLimit>,
}

/// The production hosts of a platform. The browser-facing authorize host and the
/// server-to-server API host are separate because the real platforms separate them.
pub struct PlatformHosts {
    pub auth_base: &'static str,
    pub token_base: &'static str,
    pub api_base: &'static str,
    /// The API version the adapter sends unless `MYPOSTSHARE_{PLATFORM}_API_VERSION` says
    /// otherwise (empty where the platform has none).
    pub api_version: &'static str,
    /// The platform's test host for API calls, chosen per credentials (`api_host = sandbox`).
    pub sandbox_api_base: Option<&'static str>,
}

/// A limit on the post text, in the unit the platform counts.
#[derive(Debug, Clone, Copy)]
pub struct TextLimit {
    pub max: usize,
    pub counted_in: TextUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextUnit {
    /// Unicode characters.
    Characters,
    /// X's weighted characters: a URL counts 23, most CJK characters and emoji 2.
    WeightedCharacters,
    /// Characters, except that an emoji counts as its UTF-8 bytes (Threads).
    CharactersEmojiAsBytes,
    /// Bytes of UTF-8.
    Utf8Bytes,
}

impl TextUnit {
    pub fn describe(self) -> &'static str {
        match self {
            TextUnit::Characters => "characters",
            TextUnit::WeightedCharacters => {
                "weighted characters (a URL counts 23, CJK and emoji 2)"
            }
            TextUnit::CharactersEmojiAsBytes => "characters (an emoji counts as its UTF-8 bytes)",
            TextUnit::Utf8Bytes => "bytes of UTF-8",
        }
    }
}

const fn chars(max: usize) -> Option<TextLimit> {
    Some(TextLimit {
        max,
        counted_in: TextUnit::Characters,
    })
}

/// Generates `Platform` (one variant per row, in row order) and `PLATFORMS` (the rows, in the
/// same order, so `PLATFORMS[platform as usize]` is the platform's row).
macro_rules! platforms {
    ($( $variant:ident { $($field:ident : $value:expr),* $(,)? } ),* $(,)?) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Platform {
            $( $variant, )*
        }

        /// Every platform's row, in the order of `Platform`.
        pub const PLATFORMS: &[PlatformSpec] = &[
            $( PlatformSpec { platform: Platform::$variant, $($field: $value),* }, )*
        ];

        impl Platform {
            /// Every platform, in the table's order.
            pub const ALL: [Platform; PLATFORMS.len()] = [ $( Platform::$variant, )* ];
        }
    };
}

platforms! {
    Linkedin {
        key: "linkedin",
        display_name: "LinkedIn",
        hosts: PlatformHosts {
            auth_base: "https://www.linkedin.com",
            token_base: "https://www.linkedin.com",
            api_base: "https://api.linkedin.com",
            // The newest version LinkedIn's migrations page lists as Active (sunset March 16,
            // 2027): learn.microsoft.com/linkedin/marketing/integrations/migrations.
            api_version: "202603",
            sandbox_api_base: None,
        },
        adapter: |endpoints, agent| Arc::new(linkedin::LinkedIn::new(endpoints, agent)),
        text_limit: chars(linkedin::COMMENTARY_LIMIT),
    },
    Facebook {
        key: "facebook",
        display_name: "Facebook",
        hosts: PlatformHosts {
            auth_base: "https://www.facebook.com",
            token_base: "https://graph.facebook.com",
            api_base: "https://graph.facebook.com",
            // Introduced February 18, 2026, available until July 29, 2028 (Graph API
            // changelog, developers.facebook.com/docs/graph-api/changelog).
            api_version: "v25.0",
            sandbox_api_base: None,
        },
        adapter: |endpoints, agent| Arc::new(facebook::Facebook::new(endpoints, agent)),
        text_limit: chars(facebook::MESSAGE_LIMIT),
    },
    Instagram {
        key: "instagram",
        display_name: "Instagram",
        hosts: PlatformHosts {
            auth_base: "https://www.instagram.com",
            token_base: "https://api.instagram.com",
            api_base: "https://graph.instagram.com",
            api_version: "v25.0",
            sandbox_api_base: None,
        },
        adapter: |endpoints, agent| Arc::new(instagram::Instagram::new(endpoints, agent)),
        text_limit: chars(instagram::CAPTION_LIMIT),
    },
    Twitter {
        key: "twitter",
        display_name: "X (Twitter)",
        hosts: PlatformHosts {
            auth_base: "https://x.com",
            token_base: "https://api.x.com",
            api_base: "https://api.x.com",
            api_version: "2",
            sandbox_api_base: None,
        },
        adapter: |endpoints, agent| Arc::new(twitter::Twitter::new(endpoints, agent)),
        text_limit: Some(TextLimit {
            max: twitter::TEXT_LIMIT,
            counted_in: TextUnit::WeightedCharacters,
        }),
    },
    Youtube {
        key: "youtube",
        display_name: "YouTube",
        hosts: PlatformHosts {
            auth_base: "https://accounts.google.com",
            token_base: "https://oauth2.googleapis.com",
            api_base: "https://www.googleapis.com",
            api_version: "v3",
            sandbox_api_base: None,
        },
        adapter: |endpoints, agent| Arc::new(youtube::YouTube::new(endpoints, agent)),
        text_limit: Some(TextLimit {
            max: youtube::DESCRIPTION_LIMIT_BYTES,
            counted_in: TextUnit::Utf8Bytes,
        }),
    },
    Threads {
        key: "threads",
        display_name: "Threads",
        hosts: PlatformHosts {
            auth_base: "https://threads.net",
            token_base: "https://graph.threads.net",
            api_base: "https://graph.threads.net",
            api_version: "v1.0",
            sandbox_api_base: None,
        },
        adapter: |endpoints, agent| Arc::new(threads::Threads::new(endpoints, agent)),
        text_limit: Some(TextLimit {
            max: threads::TEXT_LIMIT,
            counted_in: TextUnit::CharactersEmojiAsBytes,
        }),
    },
    Pinterest {
        key: "pinterest",
        display_name: "Pinterest",
        hosts: PlatformHosts {
            auth_base: "https://www.pinterest.com",
            token_base: "https://api.pinterest.com",
            api_base: "https://api.pinterest.com",
            api_version: "v5",
            // developers.pinterest.com/docs/developer-tools/sandbox/: the same v5 paths; apps
            // with Trial access create Pins only here.
            sandbox_api_base: Some("https://api-sandbox.pinterest.com"),
        },
        adapter: |endpoints, agent| Arc::new(pinterest::Pinterest::new(endpoints, agent)),
        text_limit: chars(pinterest::DESCRIPTION_LIMIT),
    },
    Reddit {
        key: "reddit",
        display_name: "Reddit",
        hosts: PlatformHosts {
            auth_base: "https://www.reddit.com",
            token_base: "https://www.reddit.com",
            api_base: "https://oauth.reddit.com",
            api_version: "",
            sandbox_api_base: None,
        },
        adapter: |endpoints, agent| Arc::new(reddit::Reddit::new(endpoints, agent)),
        text_limit: chars(reddit::TEXT_LIMIT),
    },
}

impl Platform {
    /// The platform's row of the table.
    pub fn spec(self) -> &'static PlatformSpec {
        &PLATFORMS[self as usize]
    }

    pub fn key(self) -> &'static str {
        self.spec().key
    }

    pub fn display_name(self) -> &'static str {
        self.spec().display_name
    }

    pub fn from_key(key: &str) -> Option<Platform> {
        PLATFORMS.iter().find(|s| s.key == key).map(|s| s.platform)
    }
}

/// A platform key from the caller, with the advice a caller needs when it is wrong.
pub fn parse_platform(key: &str) -> Result<Platform, String> {
    if let Some(p) = Platform::from_key(key) {
        return Ok(p);
    }
    let known = Platform::ALL.map(|p| p.key()).join(", ");
    if key.eq_ignore_ascii_case("x") {
        return Err("Unknown platform \"x\": use \"twitter\" for X.".into());
    }
    if let Some(p) = Platform::from_key(&key.to_ascii_lowercase()) {
        return Err(format!(
            "Unknown platform \"{key}\": platform keys are lower-case; use \"{}\".",
            p.key()
        ));
    }
    Err(format!("Unknown platform \"{key}\"; use one of: {known}."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::{MediaKind, PostContent};

    #[test]
    fn each_row_is_the_row_of_its_platform_and_keys_are_distinct() {
        for (index, spec) in PLATFORMS.iter().enumerate() {
            assert_eq!(spec.platform as usize, index);
            assert_eq!(Platform::from_key(spec.key), Some(spec.platform));
            assert!(
                spec.key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
                "{}: a key is lower-case ASCII (URLs, env names)",
                spec.key
            );
        }
        assert_eq!(Platform::ALL.len(), PLATFORMS.len());
    }

    /// The table's text limit is the one each adapter enforces: text one unit over it is
    /// refused as CONTENT_TOO_LONG, text at it is not refused for its length.
    #[test]
    fn the_text_limit_of_each_row_is_what_its_adapter_enforces() {
        let agent = crate::providers::http_agent(std::time::Duration::from_secs(1));
        for spec in PLATFORMS {
            let Some(limit) = spec.text_limit else {
                continue;
            };
            let endpoints = crate::config::real_platform_endpoints()[&spec.platform].clone();
            let adapter = (spec.adapter)(endpoints, agent.clone());
            assert_eq!(adapter.platform(), spec.platform);
            // A text post and a video post: some platforms need media, and Reddit limits the
            // text of text posts only.
            let post = |length: usize, with_media: bool| PostContent {
                title: Some("A title".into()),
                // Plain ASCII letters count one in every unit of `TextUnit`.
                text: "a".repeat(length),
                media_url: with_media.then(|| "https://media.example.com/video.mp4".into()),
                thumbnail_url: None,
                media_kind: with_media.then_some(MediaKind::Video),
            };
            // The options a post to the platform cannot do without (where it goes).
            let options = match spec.key {
                "pinterest" => serde_json::json!({"boardId": "1234"}),
                "reddit" => serde_json::json!({"subreddit": "test"}),
                _ => serde_json::json!({}),
            };
            let options = options.as_object().unwrap();
            let too_long = |length: usize| {
                [false, true].map(|with_media| {
                    adapter
                        .validate(&post(length, with_media), options)
                        .is_err_and(|e| e.code == crate::error::Code::ContentTooLong)
                })
            };
            assert!(
                too_long(limit.max + 1).contains(&true),
                "{}: one over the limit is refused",
                spec.key
            );
            assert_eq!(
                too_long(limit.max),
                [false, false],
                "{}: the limit itself is allowed",
                spec.key
            );
        }
    }
}
