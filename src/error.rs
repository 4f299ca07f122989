//! The one error type of the appliance: what the caller is told, a stable machine code, and a
//! cause that only the log sees. `http::respond_error` is the single place that turns it into a
//! response, so services stay free of HTTP.

use std::fmt;

/// What went wrong, in terms a service understands; `http` maps each kind to a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Validation,
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
    PaymentRequired,
    PayloadTooLarge,
    HeadersTooLarge,
    MethodNotAllowed,
    Unavailable,
    Internal,
}

#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    /// Stable, machine-readable: `VALIDATION_FAILED`, `PLATFORM_NOT_CONNECTED`, ...
    pub code: &'static str,
    /// Told to the caller; says what to fix.
    pub message: String,
    /// Logged, never serialized.
    pub cause: Option<String>,
    /// With `MethodNotAllowed`: the methods the resource accepts, for the `Allow` header.
    pub allow: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
            cause: None,
            allow: None,
        }
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
            ErrorKind::MethodNotAllowed,
            "METHOD_NOT_ALLOWED",
            format!("{path} accepts {}, not {method}.", allowed.join(", ")),
        );
        error.allow = Some(methods.join(", "));
        error
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Validation, "VALIDATION_FAILED", message)
    }

    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Validation, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, "NOT_FOUND", message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, code, message)
    }

    pub fn internal(cause: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Internal,
            code: "INTERNAL_ERROR",
            message: "Something went wrong on our side. Retry later; if it persists, report the request id.".into(),
            cause: Some(cause.into()),
            allow: None,
        }
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
        let mut err = Error::internal(format!("database pool: {e}"));
        err.kind = ErrorKind::Unavailable;
        err.code = "DATABASE_UNAVAILABLE";
        err.message = "The database is busy; retry shortly.".into();
        err
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::internal(format!("json: {e}"))
    }
}
