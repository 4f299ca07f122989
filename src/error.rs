//! The one error type of the appliance: what the caller is told, a code from the catalogue
//! (`codes`), and a cause that only the log sees. The code decides the HTTP status;
//! `http::error_response` is the single place that turns an error into a response, so services
//! stay free of HTTP.

mod codes;

pub use codes::{Code, Entry};

use std::fmt;

#[derive(Debug, Clone)]
pub struct Error {
    /// Stable and machine-readable, from the catalogue: `VALIDATION_FAILED`, ...
    pub code: Code,
    /// Told to the caller; says what to fix.
    pub message: String,
    /// Logged, never serialized.
    pub cause: Option<String>,
    /// With `METHOD_NOT_ALLOWED`: the methods the resource accepts, for the `Allow` header.
    pub allow: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            cause: None,
            allow: None,
        }
    }

    /// The status of the answer this error becomes. A code without one (a delivery's or a
    /// connect redirect's) never makes an answer of its own: `http::error_response` answers
    /// it as an internal error, so 500 is what it would be.
    pub fn status(&self) -> u16 {
        self.code.status().unwrap_or(500)
    }

    /// 405 for `method` on `path`, which accepts `allowed` (plus `HEAD` with `GET`, and
    /// `OPTIONS` everywhere), as RFC 9110 wants it in `Allow`.
    pub fn method_not_allowed(path: &str, method: &str, allowed: &[&str]) -> Self {
        let mut methods: Vec<&str> = allowed.to_vec();
        if methods.contains(&"GET") && !methods.contains(&"HEAD") {
            methods.push("HEAD");
        }
        if !methods.contains(&"OPTIONS") {
            methods.push("OPTIONS");
        }
        let mut error = Self::new(
            Code::MethodNotAllowed,
            format!("{path} accepts {}, not {method}.", allowed.join(", ")),
        );
        error.allow = Some(methods.join(", "));
        error
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(Code::ValidationFailed, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Code::NotFound, message)
    }

    pub fn internal(cause: impl Into<String>) -> Self {
        Self::new(
            Code::InternalError,
            "Something went wrong on our side. Retry later; if it persists, report the request id.",
        )
        .with_cause(cause)
    }

    pub fn with_cause(mut self, cause: impl Into<String>) -> Self {
        self.cause = Some(cause.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(cause) = &self.cause {
            write!(f, " ({cause})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::internal(format!("database: {e}"))
    }
}

impl From<r2d2::Error> for Error {
    fn from(e: r2d2::Error) -> Self {
        Error::new(
            Code::DatabaseUnavailable,
            "The database is busy; retry shortly.",
        )
        .with_cause(format!("database pool: {e}"))
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::internal(format!("json: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_comes_from_the_code() {
        assert_eq!(Error::validation("x").status(), 400);
        assert_eq!(Error::not_found("x").status(), 404);
        assert_eq!(Error::internal("x").status(), 500);
        assert_eq!(Error::new(Code::InsufficientCredits, "x").status(), 402);
        // Recorded, never answered: an internal error should one ever reach an answer.
        assert_eq!(Error::new(Code::OutcomeUnknown, "x").status(), 500);
        // The API's own throttle shares its name with the delivery result.
        assert_eq!(Error::new(Code::RateLimited, "x").status(), 429);
    }
}
