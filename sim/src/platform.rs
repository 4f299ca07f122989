//! The platforms the simulator plays, by the keys of their paths (`/linkedin/...`) and of the
//! control API (`/_sim/{platform}/...`). The simulator's own list: the appliance has one of its
//! own, and the two meet only in the keys, which are the platforms' public names in URLs.

/// One simulated platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Platform {
    Linkedin,
    Facebook,
    Instagram,
    Twitter,
    Youtube,
    Threads,
    Pinterest,
    Reddit,
}

impl Platform {
    pub const ALL: [Platform; 8] = [
        Platform::Linkedin,
        Platform::Facebook,
        Platform::Instagram,
        Platform::Twitter,
        Platform::Youtube,
        Platform::Threads,
        Platform::Pinterest,
        Platform::Reddit,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Platform::Linkedin => "linkedin",
            Platform::Facebook => "facebook",
            Platform::Instagram => "instagram",
            Platform::Twitter => "twitter",
            Platform::Youtube => "youtube",
            Platform::Threads => "threads",
            Platform::Pinterest => "pinterest",
            Platform::Reddit => "reddit",
        }
    }

    pub fn from_key(key: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.key() == key)
    }

    /// The platform a control request names, or a message saying which keys exist (and that
    /// X is `twitter`, and keys are lower-case).
    pub fn parse(key: &str) -> Result<Platform, String> {
        if let Some(platform) = Platform::from_key(key) {
            return Ok(platform);
        }
        if key.eq_ignore_ascii_case("x") {
            return Err("Unknown platform \"x\": use \"twitter\" for X.".into());
        }
        if let Some(platform) = Platform::from_key(&key.to_ascii_lowercase()) {
            return Err(format!(
                "Unknown platform \"{key}\": platform keys are lower-case; use \"{}\".",
                platform.key()
            ));
        }
        let known = Platform::ALL.map(|p| p.key()).join(", ");
        Err(format!("Unknown platform \"{key}\"; use one of: {known}."))
    }
}
