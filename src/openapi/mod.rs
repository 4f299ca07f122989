//! The API describes itself: the OpenAPI 3.1 document of every `/v1` operation (served at
//! `/api/openapi.json`), and the two renderings of it, the human page `/docs` and the plain
//! text `/llms.txt`. The document is built from code: the operation table (`operations`), the
//! schemas (`schemas`), and lists taken from the source of each truth (the error catalogue for
//! codes and statuses, the platform table, the state enums), so none of them is copied.
//!
//! It knows nothing of the handlers: `tests/it/openapi.rs` holds the two together (every route
//! of `api::ROUTES` is documented, every documented operation answers) and every integration
//! test checks the bodies it receives against the schemas here.

pub mod operations;
mod render;
pub mod schemas;

use crate::error::Code;
use crate::http::Response;
use operations::{Body, Operation};
use serde_json::{Map, Value, json};

pub use render::{docs_page, llms_txt};

/// The OpenAPI document, with the server at `{public_url}/api`.
pub fn document(public_url: &str) -> Value {
    let mut paths = Map::new();
    for op in operations::all() {
        let item = paths
            .entry(op.path.to_string())
            .or_insert_with(|| json!({}));
        item[op.method.to_ascii_lowercase()] = operation(&op);
    }
    let tags: Vec<Value> = operations::TAGS
        .iter()
        .filter(|(name, _, _)| operations::all().iter().any(|op| op.tag == *name))
        .map(|(name, description, extension)| {
            let mut tag = json!({"name": name, "description": description});
            if *extension {
                tag[schemas::EXTENSION] = Value::Bool(true);
            }
            tag
        })
        .collect();
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "MyPostShare API",
            "version": env!("CARGO_PKG_VERSION"),
            "summary": "Connect your users' social accounts and publish to them, from your backend.",
            "description": DESCRIPTION,
        },
        "servers": [{"url": format!("{public_url}/api"), "description": "This appliance (also served without `/api`)."}],
        "security": [{"bearerAuth": []}],
        "tags": tags,
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key of the app, created in the dashboard or with `mypostshare key create`. Keep it on your backend.",
                },
            },
            "parameters": {
                "IdempotencyKey": {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": false,
                    "description": "Any unique string (at most 255 bytes). Repeating a POST with the same key and body within 24 h replays the first answer (`Idempotent-Replayed: true`) instead of acting twice; another body gets 409 `IDEMPOTENCY_KEY_REUSED`.",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                    schemas::EXTENSION: true,
                },
            },
            "headers": schemas::headers(),
            "schemas": schemas::schemas(),
        },
    })
}

const DESCRIPTION: &str = "Create your end users, send each through a hosted connect session to connect a platform, then publish now or at a time and read each platform's result. Every request carries the app's API key as a bearer token. Errors share one shape, `{\"message\",\"error\",\"statusCode\",\"code\"}`, where `code` is stable (see `ErrorCode`). Every answer to a request with a valid key carries `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` and `X-RateLimit-Resource`; past the budget the answer is 429 `RATE_LIMITED` with `Retry-After`. Every POST takes an `Idempotency-Key`. Operations and fields marked `x-mypostshare-extension` are this appliance's additions to the MyPostShare API reference.";

fn rate_limit_headers() -> Map<String, Value> {
    [
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "X-RateLimit-Resource",
    ]
    .iter()
    .map(|h| {
        (
            h.to_string(),
            json!({"$ref": format!("#/components/headers/{h}")}),
        )
    })
    .collect()
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn parameter_description(name: &str) -> &'static str {
    match name {
        "externalUserId" => "Your product's id for the end user.",
        "platform" => "A platform key.",
        "id" => "The resource's id, as returned when it was created.",
        "deliveryId" => "A delivery's id, from the endpoint's deliveries.",
        _ => "",
    }
}

fn path_parameters(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

fn operation(op: &Operation) -> Value {
    let mut parameters: Vec<Value> = path_parameters(op.path)
        .into_iter()
        .map(|name| {
            let schema = if name == "platform" {
                schema_ref("Platform")
            } else {
                json!({"type": "string"})
            };
            json!({"name": name, "in": "path", "required": true, "description": parameter_description(name), "schema": schema})
        })
        .collect();
    for q in op.query {
        let mut p = json!({"name": q.name, "in": "query", "required": false, "description": q.description, "schema": (q.schema)()});
        if q.extension {
            p[schemas::EXTENSION] = Value::Bool(true);
        }
        parameters.push(p);
    }
    if op.method == "POST" {
        parameters.push(json!({"$ref": "#/components/parameters/IdempotencyKey"}));
    }

    let mut responses = Map::new();
    let mut headers = rate_limit_headers();
    if op.method == "POST" {
        headers.insert(
            "Idempotent-Replayed".into(),
            json!({"$ref": "#/components/headers/Idempotent-Replayed"}),
        );
    }
    if matches!(op.body, Body::List("Post")) {
        headers.insert("Link".into(), json!({"$ref": "#/components/headers/Link"}));
    }
    let mut success = json!({"description": op.success_description, "headers": headers});
    match op.body {
        Body::One(name) => {
            success["content"] = json!({"application/json": {"schema": schema_ref(name)}})
        }
        Body::List(name) => {
            success["content"] = json!({"application/json": {"schema": {"type": "array", "items": schema_ref(name)}}})
        }
        Body::Empty => {}
    }
    responses.insert(op.success.to_string(), success);
    for (status, codes) in errors_by_status(&operations::codes_of(op)) {
        let names: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
        let mut response = json!({
            "description": format!("{}: {}.", crate::http::reason_phrase(status), names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")),
            "content": {"application/json": {"schema": schema_ref("Error")}},
            "x-error-codes": names,
        });
        if status == 429 || status == 503 {
            let mut h = rate_limit_headers();
            h.insert(
                "Retry-After".into(),
                json!({"$ref": "#/components/headers/Retry-After"}),
            );
            response["headers"] = Value::Object(h);
        }
        responses.insert(status.to_string(), response);
    }
    responses.insert(
        "default".into(),
        json!({
            "description": "Any other error, in the same shape: among them the server's own refusals (`BAD_HEADER`, `HEADERS_TOO_LARGE`, `SERVER_BUSY`, ...). See `ErrorCode`.",
            "content": {"application/json": {"schema": schema_ref("Error")}},
        }),
    );

    let mut value = json!({
        "operationId": op.operation_id,
        "tags": [op.tag],
        "summary": op.summary,
        "description": op.description,
        "parameters": parameters,
        "responses": responses,
    });
    if let Some((name, required)) = op.request {
        value["requestBody"] = json!({
            "required": required,
            "content": {"application/json": {"schema": schema_ref(name)}},
        });
    }
    if op.extension {
        value[schemas::EXTENSION] = Value::Bool(true);
    }
    value
}

/// The codes grouped by their catalogue status, in status order.
fn errors_by_status(codes: &[Code]) -> Vec<(u16, Vec<Code>)> {
    let mut groups: Vec<(u16, Vec<Code>)> = Vec::new();
    for code in codes {
        let Some(status) = code.status() else {
            continue;
        };
        match groups.iter_mut().find(|(s, _)| *s == status) {
            Some((_, list)) => list.push(*code),
            None => groups.push((status, vec![*code])),
        }
    }
    groups.sort_by_key(|(s, _)| *s);
    groups
}

/// `GET /api/openapi.json`.
pub fn openapi_json(public_url: &str) -> Response {
    Response::json(200, &document(public_url))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every API code of the catalogue is in the document with its status, and every code an
    /// operation names answers with a status.
    #[test]
    fn the_codes_come_from_the_catalogue() {
        let doc = document("http://example.test");
        let listed: Vec<&str> = doc["components"]["schemas"]["ErrorCode"]["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["const"].as_str().unwrap())
            .collect();
        let api: Vec<&str> = Code::ALL
            .iter()
            .filter(|c| c.entry().api.is_some())
            .map(|c| c.as_str())
            .collect();
        assert_eq!(listed, api);
        for op in operations::all() {
            for code in operations::codes_of(&op) {
                let status = code.status().unwrap_or_else(|| {
                    panic!(
                        "{} {} names {code}, which has no status",
                        op.method, op.path
                    )
                });
                let response = &doc["paths"][op.path][op.method.to_ascii_lowercase()]["responses"]
                    [status.to_string()];
                assert!(
                    response["x-error-codes"]
                        .as_array()
                        .is_some_and(|codes| codes.iter().any(|c| c == code.as_str())),
                    "{} {}: {code} missing under {status}",
                    op.method,
                    op.path
                );
            }
        }
    }

    /// Every `$ref` points at something the document has, and every schema an operation
    /// names exists.
    #[test]
    fn every_reference_resolves() {
        fn walk(doc: &Value, value: &Value, path: &str) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(target)) = map.get("$ref") {
                        let pointer = target.strip_prefix('#').expect("a local reference");
                        assert!(doc.pointer(pointer).is_some(), "{path}: {target} dangles");
                    }
                    for (k, v) in map {
                        walk(doc, v, &format!("{path}/{k}"));
                    }
                }
                Value::Array(list) => list.iter().for_each(|v| walk(doc, v, path)),
                _ => {}
            }
        }
        let doc = document("http://example.test");
        walk(&doc, &doc, "");
        for op in operations::all() {
            for name in operations::schema_names(&op) {
                assert!(doc["components"]["schemas"].get(name).is_some(), "{name}");
            }
        }
    }
}
