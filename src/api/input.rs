//! Reading request bodies field by field, so every mistake gets a message that names the field
//! and says what to send instead.

use crate::error::{Error, Result};
use crate::services::Patch;
use serde_json::{Map, Value};

pub const MAX_IDENTIFIER_CHARS: usize = 255;
pub const MAX_METADATA_BYTES: usize = 16 * 1024;

pub struct Body(Map<String, Value>);

impl Body {
    pub fn parse(value: Value) -> Result<Body> {
        match value {
            Value::Object(map) => Ok(Body(map)),
            other => Err(Error::validation(format!(
                "The request body must be a JSON object, not {}.",
                kind_of(&other)
            ))),
        }
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// A string that must be present and non-blank.
    pub fn required_string(&self, name: &str, max_chars: usize) -> Result<String> {
        match self.get(name) {
            None | Some(Value::Null) => Err(Error::validation(format!("{name} is required."))),
            Some(value) => checked_string(name, value, max_chars),
        }
    }

    /// `Keep` when absent, `Clear` when null, `Set` when a non-blank string.
    pub fn optional_string(&self, name: &str, max_chars: usize) -> Result<Patch<String>> {
        match self.get(name) {
            None => Ok(Patch::Keep),
            Some(Value::Null) => Ok(Patch::Clear),
            Some(value) => checked_string(name, value, max_chars).map(Patch::Set),
        }
    }

    pub fn optional_object(&self, name: &str) -> Result<Patch<Value>> {
        match self.get(name) {
            None => Ok(Patch::Keep),
            Some(Value::Null) => Ok(Patch::Clear),
            Some(value @ Value::Object(_)) => {
                let size = value.to_string().len();
                if size > MAX_METADATA_BYTES {
                    return Err(Error::validation(format!(
                        "{name} is {size} bytes of JSON; the limit is {MAX_METADATA_BYTES}."
                    )));
                }
                Ok(Patch::Set(value.clone()))
            }
            Some(other) => Err(Error::validation(format!(
                "{name} must be a JSON object, not {}.",
                kind_of(other)
            ))),
        }
    }

    pub fn required_string_array(&self, name: &str) -> Result<Vec<String>> {
        match self.get(name) {
            None | Some(Value::Null) => Err(Error::validation(format!(
                "{name} is required: a non-empty array of platform keys, e.g. [\"linkedin\"]."
            ))),
            Some(Value::Array(items)) => {
                if items.is_empty() {
                    return Err(Error::invalid(
                        "NO_PLATFORMS_SELECTED",
                        format!("{name} must name at least one platform."),
                    ));
                }
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| match item {
                        Value::String(s) => Ok(s.clone()),
                        other => Err(Error::validation(format!(
                            "{name}[{i}] must be a string, not {}.",
                            kind_of(other)
                        ))),
                    })
                    .collect()
            }
            Some(other) => Err(Error::validation(format!(
                "{name} must be an array of strings, not {}.",
                kind_of(other)
            ))),
        }
    }

    /// A URL field: absolute http(s), at most 2,048 characters.
    pub fn optional_url(&self, name: &str) -> Result<Option<String>> {
        let Some(url) = self.optional_string(name, 2048)?.into_option() else {
            return Ok(None);
        };
        let lower = url.to_ascii_lowercase();
        let has_host = lower
            .split_once("://")
            .map(|(_, rest)| {
                rest.split(['/', '?', '#'])
                    .next()
                    .is_some_and(|h| !h.is_empty())
            })
            .unwrap_or(false);
        if !(lower.starts_with("https://") || lower.starts_with("http://")) || !has_host {
            return Err(Error::validation(format!(
                "{name} must be an absolute http(s) URL, e.g. https://example.com/image.png."
            )));
        }
        Ok(Some(url))
    }
}

fn checked_string(name: &str, value: &Value, max_chars: usize) -> Result<String> {
    let Value::String(text) = value else {
        return Err(Error::validation(format!(
            "{name} must be a string, not {}.",
            kind_of(value)
        )));
    };
    if text.trim().is_empty() {
        return Err(Error::validation(format!("{name} must not be empty.")));
    }
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(Error::validation(format!(
            "{name} is {chars} characters; the limit is {max_chars}."
        )));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Error::validation(format!(
            "{name} contains control characters; remove them."
        )));
    }
    Ok(text.clone())
}

pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A path identifier (externalUserId, ids) within the same limits as in bodies.
pub fn path_identifier(name: &str, value: &str) -> Result<String> {
    checked_string(
        name,
        &Value::String(value.to_string()),
        MAX_IDENTIFIER_CHARS,
    )
}
