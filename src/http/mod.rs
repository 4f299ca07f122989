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

use crate::error::{Code, Error};

/// A body that is not JSON is the caller's mistake: `VALIDATION_FAILED` when empty,
/// `INVALID_JSON` when it does not parse.
impl From<BodyError> for Error {
    fn from(err: BodyError) -> Self {
        match err {
            BodyError::Empty => Error::validation(err.message()),
            BodyError::InvalidJson(_) => Error::new(Code::InvalidJson, err.message()),
        }
    }
}

/// `{"message","error","statusCode","code"}`, with the status the code has in the catalogue;
/// the cause goes to the log with the request id.
pub fn error_response(err: &Error, request_id: &str) -> Response {
    if err.code.status().is_none() {
        // A delivery's or a connect redirect's code has no answer of its own: the handler
        // should have said what it means for its caller. Answer as what it is, our fault.
        let internal = Error::internal(format!("{err} reached an HTTP answer untranslated"));
        return error_response(&internal, request_id);
    }
    let status = err.status();
    if let Some(cause) = &err.cause {
        eprintln!(
            "error request_id={request_id} code={} cause={cause}",
            err.code
        );
    }
    let mut response = Response::json(
        status,
        &httpkit::error_body(status, err.code.as_str(), &err.message),
    );
    if err.code == Code::Unauthorized {
        response = response.with_header("WWW-Authenticate", "Bearer");
    }
    if let Some(allow) = &err.allow {
        response = response.with_header("Allow", allow);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn an_error_answers_with_its_codes_status() {
        let json = |r: &Response| serde_json::from_slice::<Value>(&r.body).expect("JSON");
        let refused = error_response(&Error::new(Code::InsufficientCredits, "pay"), "rid");
        assert_eq!(refused.status, 402);
        assert_eq!(json(&refused)["code"], "INSUFFICIENT_CREDITS");
        assert_eq!(json(&refused)["statusCode"], 402);
        assert_eq!(json(&refused)["error"], "Payment Required");
        let unauthorized = error_response(&Error::new(Code::Unauthorized, "who"), "rid");
        assert_eq!(unauthorized.header("www-authenticate"), Some("Bearer"));
        // A delivery's code has no answer of its own: it is our fault that it got here.
        let leaked = error_response(&Error::new(Code::OutcomeUnknown, "slow down"), "rid");
        assert_eq!(leaked.status, 500);
        assert_eq!(json(&leaked)["code"], "INTERNAL_ERROR");
        assert!(!String::from_utf8_lossy(&leaked.body).contains("slow down"));
    }
}
