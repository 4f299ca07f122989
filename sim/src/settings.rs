//! What can be set about the simulated platforms: the start-up settings (`SimulatorSettings`,
//! lifetimes and defaults, fixed for the life of a simulator) and the test settings each
//! platform declares (`Setting`: processing polls, interrupted uploads, rate budgets), which
//! `GET /_sim/{platform}/settings` shows and `POST`/`PATCH` of the same path change.
//!
//! Every platform's test settings have the same shape: a name, a meaning, what values it takes
//! and its default. The platform files read them with `Simulator::count_setting` and friends,
//! so none of them has a control path of its own.

use crate::Platform;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Lifetimes and windows of the simulated platforms, defaulting to LinkedIn's.
#[derive(Debug, Clone)]
pub struct SimulatorSettings {
    pub access_token_ttl: chrono::Duration,
    /// Most LinkedIn apps get no refresh token; partner apps do.
    pub issue_refresh_tokens: bool,
    /// Fixed from the consent: refreshing does not extend it.
    pub refresh_token_ttl: chrono::Duration,
    pub code_ttl: chrono::Duration,
    /// Identical text by the same author within this window is refused as a duplicate.
    pub duplicate_window: chrono::Duration,
    /// X: access tokens live two hours; codes thirty seconds.
    pub twitter_access_token_ttl: chrono::Duration,
    pub twitter_code_ttl: chrono::Duration,
    /// X: STATUS polls a video or GIF answers `in_progress` before it succeeds (the default of
    /// the `processingPolls` setting of `twitter`).
    pub twitter_status_polls: u32,
    /// Status reads of an uploaded Pinterest video that answer `processing` before it succeeds.
    pub pinterest_processing_polls: u32,
    /// Reddit's free-tier budget of API calls per client id and minute.
    pub reddit_requests_per_minute: u32,
    /// Google's access tokens live an hour.
    pub youtube_access_token_ttl: chrono::Duration,
    /// Status reads of a new YouTube video that still answer "processing".
    pub youtube_processing_polls: u32,
    /// How many status reads a LinkedIn video answers `PROCESSING` before `AVAILABLE`.
    pub linkedin_video_processing_polls: u32,
}

impl Default for SimulatorSettings {
    fn default() -> Self {
        Self {
            access_token_ttl: chrono::Duration::days(60),
            issue_refresh_tokens: false,
            refresh_token_ttl: chrono::Duration::days(365),
            code_ttl: chrono::Duration::minutes(30),
            duplicate_window: chrono::Duration::hours(24),
            twitter_access_token_ttl: chrono::Duration::hours(2),
            twitter_code_ttl: chrono::Duration::seconds(30),
            twitter_status_polls: 1,
            pinterest_processing_polls: 1,
            reddit_requests_per_minute: 100,
            youtube_access_token_ttl: chrono::Duration::hours(1),
            youtube_processing_polls: 1,
            linkedin_video_processing_polls: 1,
        }
    }
}

/// What values a test setting takes.
#[derive(Debug, Clone, Copy)]
pub enum SettingKind {
    /// A whole number from `min` to `max`.
    Count { min: u64, max: u64 },
    /// A text of at most `max_chars` characters, or `null` for none.
    Text { max_chars: usize },
}

/// One test setting of a platform.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub name: &'static str,
    pub meaning: &'static str,
    pub kind: SettingKind,
    /// The value until a test changes it (or after `/_sim/reset`).
    pub default: fn(&SimulatorSettings) -> Value,
}

impl Setting {
    /// The value if `value` fits, else what the caller must send instead.
    fn check(&self, value: &Value) -> Result<Value, String> {
        match self.kind {
            SettingKind::Count { min, max } => value
                .as_u64()
                .filter(|n| (min..=max).contains(n))
                .map(|n| json!(n))
                .ok_or_else(|| {
                    format!(
                        "\"{}\" must be a whole number from {min} to {max}.",
                        self.name
                    )
                }),
            SettingKind::Text { max_chars } => match value {
                Value::Null => Ok(Value::Null),
                Value::String(text) if text.chars().count() <= max_chars => Ok(value.clone()),
                _ => Err(format!(
                    "\"{}\" must be a text of at most {max_chars} characters, or null.",
                    self.name
                )),
            },
        }
    }
}

/// The test settings changed from their defaults, per platform and name.
#[derive(Default)]
pub(crate) struct ChangedSettings {
    values: BTreeMap<(Platform, &'static str), Value>,
}

impl ChangedSettings {
    pub(crate) fn get(
        &self,
        platform: Platform,
        setting: &Setting,
        defaults: &SimulatorSettings,
    ) -> Value {
        self.values
            .get(&(platform, setting.name))
            .cloned()
            .unwrap_or_else(|| (setting.default)(defaults))
    }

    /// Takes one from a count setting that is used up as it works (interrupted uploads):
    /// whether there was one left.
    pub(crate) fn take_one(
        &mut self,
        platform: Platform,
        setting: &Setting,
        defaults: &SimulatorSettings,
    ) -> bool {
        let left = self.get(platform, setting, defaults).as_u64().unwrap_or(0);
        if left == 0 {
            return false;
        }
        self.values
            .insert((platform, setting.name), json!(left - 1));
        true
    }

    pub(crate) fn clear(&mut self) {
        self.values.clear();
    }

    /// Every setting of `platform` with its current value, as the control API shows them.
    pub(crate) fn shown(
        &self,
        platform: Platform,
        settings: &[Setting],
        defaults: &SimulatorSettings,
    ) -> Value {
        Value::Object(
            settings
                .iter()
                .map(|s| (s.name.to_string(), self.get(platform, s, defaults)))
                .collect::<Map<String, Value>>(),
        )
    }

    /// Applies every field of `changes` (a JSON object), or none when one is unknown or out
    /// of range; the message names it and says what is allowed.
    pub(crate) fn apply(
        &mut self,
        platform: Platform,
        settings: &[Setting],
        changes: &Value,
    ) -> Result<(), String> {
        let Value::Object(changes) = changes else {
            return Err(format!(
                "Send a JSON object of settings to change, e.g. {}.",
                example(settings)
            ));
        };
        let mut checked = Vec::new();
        for (name, value) in changes {
            let Some(setting) = settings.iter().find(|s| s.name == name) else {
                return Err(if settings.is_empty() {
                    format!(
                        "The {} simulator has no settings to change; \"{name}\" is not one.",
                        platform.key()
                    )
                } else {
                    format!(
                        "The {} simulator has no setting \"{name}\"; its settings are: {}.",
                        platform.key(),
                        settings
                            .iter()
                            .map(|s| s.name)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                });
            };
            checked.push((setting.name, setting.check(value)?));
        }
        for (name, value) in checked {
            self.values.insert((platform, name), value);
        }
        Ok(())
    }
}

fn example(settings: &[Setting]) -> String {
    match settings.first() {
        Some(setting) => match setting.kind {
            SettingKind::Count { min, .. } => format!("{{\"{}\": {}}}", setting.name, min.max(1)),
            SettingKind::Text { .. } => format!("{{\"{}\": null}}", setting.name),
        },
        None => "{}".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLLS: Setting = Setting {
        name: "processingPolls",
        meaning: "status reads that answer processing",
        kind: SettingKind::Count { min: 0, max: 1000 },
        default: |s| json!(s.twitter_status_polls),
    };

    #[test]
    fn a_change_applies_whole_or_not_at_all() {
        let defaults = SimulatorSettings::default();
        let mut changed = ChangedSettings::default();
        assert_eq!(changed.get(Platform::Twitter, &POLLS, &defaults), json!(1));
        let err = changed
            .apply(
                Platform::Twitter,
                &[POLLS],
                &json!({"processingPolls": 3, "x": 1}),
            )
            .unwrap_err();
        assert!(
            err.contains("\"x\"") && err.contains("processingPolls"),
            "{err}"
        );
        assert_eq!(changed.get(Platform::Twitter, &POLLS, &defaults), json!(1));
        let err = changed
            .apply(
                Platform::Twitter,
                &[POLLS],
                &json!({"processingPolls": 1001}),
            )
            .unwrap_err();
        assert!(err.contains("0 to 1000"), "{err}");
        changed
            .apply(Platform::Twitter, &[POLLS], &json!({"processingPolls": 3}))
            .unwrap();
        assert_eq!(
            changed.shown(Platform::Twitter, &[POLLS], &defaults),
            json!({"processingPolls": 3})
        );
    }

    #[test]
    fn a_used_up_count_stops_at_zero() {
        const CUTS: Setting = Setting {
            name: "interruptUploads",
            meaning: "chunks cut short",
            kind: SettingKind::Count { min: 0, max: 1000 },
            default: |_| json!(0),
        };
        let defaults = SimulatorSettings::default();
        let mut changed = ChangedSettings::default();
        assert!(!changed.take_one(Platform::Youtube, &CUTS, &defaults));
        changed
            .apply(Platform::Youtube, &[CUTS], &json!({"interruptUploads": 1}))
            .unwrap();
        assert!(changed.take_one(Platform::Youtube, &CUTS, &defaults));
        assert!(!changed.take_one(Platform::Youtube, &CUTS, &defaults));
    }
}
