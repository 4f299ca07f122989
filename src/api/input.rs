//! Reading request bodies field by field, so every mistake gets a message that names the field
//! and says what to send instead.

use crate::error::{Code, Error, Result};
use crate::providers::rules::{MAX_URL_CHARS, is_http_url, thousands};
use crate::services::Patch;
use serde_json::{Map, Value};

pub const MAX_IDENTIFIER_CHARS: usize = 255;
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
pub const MAX_DISPLAY_NAME_CHARS: usize = 255;
/// The post text before any platform's own limit (the longest, Reddit's self post, is 40,000).
pub const MAX_CONTENT_CHARS: usize = 100_000;
/// The post title before any platform's own limit (the longest, Reddit's, is 300).
pub const MAX_TITLE_CHARS: usize = 300;
/// RFC 5321's limit on a mailbox: 64 characters of local part, `@`, 255 of domain.
pub const MAX_EMAIL_CHARS: usize = 320;

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

    /// An identifier (`externalUserId`): present, non-blank, at most 255 characters, and
    /// without any control character, since it travels in paths, redirects and logs where a
    /// newline or tab would split or disguise it.
    pub fn required_identifier(&self, name: &str) -> Result<String> {
        let value = self.required_string(name, MAX_IDENTIFIER_CHARS)?;
        refuse_control_characters(name, &value)?;
        Ok(value)
    }

    /// `email`: as `optional_string`, and when set it must look like an address.
    pub fn optional_email(&self, name: &str) -> Result<Patch<String>> {
        let email = self.optional_string(name, MAX_EMAIL_CHARS)?;
        if let Patch::Set(address) = &email
            && !address.contains('@')
        {
            return Err(Error::validation(format!(
                "{name} must be an email address such as alex@example.com."
            )));
        }
        Ok(email)
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
                        "{name} is {} bytes of JSON; the limit is {} (16 KiB).",
                        thousands(size),
                        thousands(MAX_METADATA_BYTES)
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
                    return Err(Error::new(
                        Code::NoPlatformsSelected,
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

    /// A URL field: absolute http(s) with a host, at most 2,048 characters.
    pub fn optional_url(&self, name: &str) -> Result<Option<String>> {
        let Some(url) = self.optional_string(name, MAX_URL_CHARS)?.into_option() else {
            return Ok(None);
        };
        if !is_http_url(&url) {
            return Err(Error::validation(format!(
                "{name} must be an absolute http(s) URL of at most {} characters, e.g. https://example.com/image.png.",
                thousands(MAX_URL_CHARS)
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
            "{name} is {} characters; the limit is {}.",
            thousands(chars),
            thousands(max_chars)
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
    let value = checked_string(
        name,
        &Value::String(value.to_string()),
        MAX_IDENTIFIER_CHARS,
    )?;
    refuse_control_characters(name, &value)?;
    Ok(value)
}

fn refuse_control_characters(name: &str, value: &str) -> Result<()> {
    if value.chars().any(char::is_control) {
        return Err(Error::validation(format!(
            "{name} contains control characters (tabs and line breaks included); remove them."
        )));
    }
    Ok(())
}
