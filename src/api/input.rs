//! Reading request bodies field by field, so every mistake gets a message that names the field
//! and says what to send instead.

use crate::error::{Code, Error, Result};
use crate::providers::rules::{MAX_URL_CHARS, is_http_url, thousands};
use crate::services::Patch;
use serde::de::{Deserialize, DeserializeOwned, Deserializer};
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
            other => Err(not_an_object(&other)),
        }
    }

    fn field<T: DeserializeOwned>(&self, name: &str) -> Field<T> {
        self.0
            .get(name)
            .cloned()
            .map_or(Field::Absent, Field::from_value)
    }

    /// A string that must be present and non-blank.
    pub fn required_string(&self, name: &str, max_chars: usize) -> Result<String> {
        self.field(name).required_text(name, max_chars)
    }

    /// An identifier (`externalUserId`): see `Field::required_identifier`.
    pub fn required_identifier(&self, name: &str) -> Result<String> {
        self.field(name).required_identifier(name)
    }

    /// `email`: as `optional_string`, and when set it must look like an address.
    pub fn optional_email(&self, name: &str) -> Result<Patch<String>> {
        self.field(name).email(name)
    }

    /// `Keep` when absent, `Clear` when null, `Set` when a non-blank string.
    pub fn optional_string(&self, name: &str, max_chars: usize) -> Result<Patch<String>> {
        self.field(name).text(name, max_chars)
    }

    pub fn optional_object(&self, name: &str) -> Result<Patch<Value>> {
        self.field(name).object(name)
    }

    pub fn required_string_array(&self, name: &str) -> Result<Vec<String>> {
        self.field(name).required_strings(name)
    }

    /// A URL field: absolute http(s) with a host, at most 2,048 characters.
    pub fn optional_url(&self, name: &str) -> Result<Option<String>> {
        self.field(name).url(name)
    }
}

/// Reads a request body into `T`, a struct of `Field`s: the body must be a JSON object, and
/// each field keeps what was sent (absent, null, a value of the expected JSON type, or the
/// type it had instead), so reading never fails on a field and the checks that follow decide,
/// in their own order, what to say about it.
pub fn parse_fields<T: DeserializeOwned>(value: Value) -> Result<T> {
    if !value.is_object() {
        return Err(not_an_object(&value));
    }
    serde_json::from_value(value).map_err(|e| Error::validation(e.to_string()))
}

fn not_an_object(value: &Value) -> Error {
    Error::validation(format!(
        "The request body must be a JSON object, not {}.",
        kind_of(value)
    ))
}

/// One field of a request body as sent. Its checks (below) give every mistake a message that
/// names the field and says what to send instead.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Field<T> {
    #[default]
    Absent,
    Null,
    Given(T),
    /// A value of another JSON type than expected: which one (`a number`, `an array`, ...).
    Mistyped(&'static str),
}

impl<T: DeserializeOwned> Field<T> {
    fn from_value(value: Value) -> Field<T> {
        if value.is_null() {
            return Field::Null;
        }
        let kind = kind_of(&value);
        serde_json::from_value(value).map_or(Field::Mistyped(kind), Field::Given)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Field::from_value)
    }
}

impl Field<String> {
    /// `Keep` when absent, `Clear` when null, `Set` when a non-blank string.
    pub fn text(self, name: &str, max_chars: usize) -> Result<Patch<String>> {
        match self {
            Field::Absent => Ok(Patch::Keep),
            Field::Null => Ok(Patch::Clear),
            Field::Given(text) => checked_text(name, text, max_chars).map(Patch::Set),
            Field::Mistyped(kind) => Err(not_a_string(name, kind)),
        }
    }

    /// A string that must be present and non-blank.
    pub fn required_text(self, name: &str, max_chars: usize) -> Result<String> {
        match self {
            Field::Absent | Field::Null => Err(Error::validation(format!("{name} is required."))),
            Field::Given(text) => checked_text(name, text, max_chars),
            Field::Mistyped(kind) => Err(not_a_string(name, kind)),
        }
    }

    /// An identifier (`externalUserId`): present, non-blank, at most 255 characters, and
    /// without any control character, since it travels in paths, redirects and logs where a
    /// newline or tab would split or disguise it.
    pub fn required_identifier(self, name: &str) -> Result<String> {
        let value = self.required_text(name, MAX_IDENTIFIER_CHARS)?;
        refuse_control_characters(name, &value)?;
        Ok(value)
    }

    /// `email`: as `text`, and when set it must look like an address.
    pub fn email(self, name: &str) -> Result<Patch<String>> {
        let email = self.text(name, MAX_EMAIL_CHARS)?;
        if let Patch::Set(address) = &email
            && !address.contains('@')
        {
            return Err(Error::validation(format!(
                "{name} must be an email address such as alex@example.com."
            )));
        }
        Ok(email)
    }

    /// A URL field: absolute http(s) with a host, at most 2,048 characters.
    pub fn url(self, name: &str) -> Result<Option<String>> {
        let Some(url) = self.text(name, MAX_URL_CHARS)?.into_option() else {
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

impl Field<Map<String, Value>> {
    /// A JSON object of at most 16 KiB: `Keep` when absent, `Clear` when null.
    pub fn object(self, name: &str) -> Result<Patch<Value>> {
        match self {
            Field::Absent => Ok(Patch::Keep),
            Field::Null => Ok(Patch::Clear),
            Field::Given(map) => {
                let value = Value::Object(map);
                let size = value.to_string().len();
                if size > MAX_METADATA_BYTES {
                    return Err(Error::validation(format!(
                        "{name} is {} bytes of JSON; the limit is {} (16 KiB).",
                        thousands(size),
                        thousands(MAX_METADATA_BYTES)
                    )));
                }
                Ok(Patch::Set(value))
            }
            Field::Mistyped(kind) => Err(Error::validation(format!(
                "{name} must be a JSON object, not {kind}."
            ))),
        }
    }
}

impl Field<Vec<Field<String>>> {
    /// A non-empty array of strings (`platforms`).
    pub fn required_strings(self, name: &str) -> Result<Vec<String>> {
        match self {
            Field::Absent | Field::Null => Err(Error::validation(format!(
                "{name} is required: a non-empty array of platform keys, e.g. [\"linkedin\"]."
            ))),
            Field::Given(items) => {
                if items.is_empty() {
                    return Err(Error::new(
                        Code::NoPlatformsSelected,
                        format!("{name} must name at least one platform."),
                    ));
                }
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| match item {
                        Field::Given(s) => Ok(s),
                        Field::Absent | Field::Null => {
                            Err(not_a_string(&format!("{name}[{i}]"), "null"))
                        }
                        Field::Mistyped(kind) => Err(not_a_string(&format!("{name}[{i}]"), kind)),
                    })
                    .collect()
            }
            Field::Mistyped(kind) => Err(Error::validation(format!(
                "{name} must be an array of strings, not {kind}."
            ))),
        }
    }
}

fn not_a_string(name: &str, kind: &str) -> Error {
    Error::validation(format!("{name} must be a string, not {kind}."))
}

fn checked_text(name: &str, text: String, max_chars: usize) -> Result<String> {
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
    Ok(text)
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
    let value = checked_text(name, value.to_string(), MAX_IDENTIFIER_CHARS)?;
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
