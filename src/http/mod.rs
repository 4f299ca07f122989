//! HTTP plumbing of the appliance. The request and response types, the query and percent
//! helpers and the tiny_http worker pool (`server`) live in the `httpkit` crate, shared with the
//! simulator, and are re-exported here so every surface keeps using `crate::http::...`. What is
//! the appliance's own stays here: the map from its error type to a response.

pub use httpkit::{
    BodyError, Request, Response, append_query, encode_query, form_value, html_escape, parse_query,
    percent_decode, percent_encode, reason_phrase, split_target,
};

/// The worker pool (`serve`, `ServerOptions`, `ServerHandle`), from `httpkit`.
pub mod server {
    pub use httpkit::server::*;
}

use crate::error::{Error, ErrorKind};

/// A body that is not JSON is the caller's mistake: `VALIDATION_FAILED` when empty,
/// `INVALID_JSON` when it does not parse.
impl From<BodyError> for Error {
    fn from(err: BodyError) -> Self {
        match err {
            BodyError::Empty => Error::validation(err.message()),
            BodyError::InvalidJson(_) => Error::invalid("INVALID_JSON", err.message()),
        }
    }
}

pub fn status_for(kind: ErrorKind) -> u16 {
    match kind {
        ErrorKind::Validation => 400,
        ErrorKind::Unauthenticated => 401,
        ErrorKind::PaymentRequired => 402,
        ErrorKind::Forbidden => 403,
        ErrorKind::NotFound => 404,
        ErrorKind::MethodNotAllowed => 405,
        ErrorKind::Conflict => 409,
        ErrorKind::PayloadTooLarge => 413,
        ErrorKind::HeadersTooLarge => 431,
        ErrorKind::Internal => 500,
        ErrorKind::Unavailable => 503,
    }
}

/// `{"message","error","statusCode","code"}`; the cause goes to the log with the request id.
pub fn error_response(err: &Error, request_id: &str) -> Response {
    let status = status_for(err.kind);
    if let Some(cause) = &err.cause {
        eprintln!(
            "error request_id={request_id} code={} cause={cause}",
            err.code
        );
    }
    let mut response = Response::json(status, &httpkit::error_body(status, err.code, &err.message));
    if err.kind == ErrorKind::Unauthenticated {
        response = response.with_header("WWW-Authenticate", "Bearer");
    }
    if let Some(allow) = &err.allow {
        response = response.with_header("Allow", allow);
    }
    response
}
