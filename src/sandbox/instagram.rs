//! Instagram as the simulator plays it (work in progress).
use super::Simulator;
use crate::http::{Request, Response};
use serde_json::json;

pub(crate) fn handle(
    _sim: &Simulator,
    _request: &Request,
    _base: &str,
    _path: &[&str],
) -> Response {
    Response::json(
        404,
        &json!({"error": {"message": "Unknown path components", "code": 2500}}),
    )
}
