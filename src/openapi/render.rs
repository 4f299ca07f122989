//! The two renderings of the OpenAPI document: `/docs` (an askama page, no script, nothing
//! loaded from outside the binary) and `/llms.txt` (markdown as llmstxt.org describes it, for
//! pasting into an assistant). Both read the document as JSON, through one view of it, so what
//! they say is what `/api/openapi.json` says.

use super::schemas::EXTENSION;
use crate::http::Response;
use askama::Template;
use serde_json::Value;

pub struct Reference {
    pub title: String,
    pub version: String,
    pub summary: String,
    pub description: String,
    pub server: String,
    pub tags: Vec<TagView>,
    pub schemas: Vec<SchemaView>,
    pub code_lists: Vec<CodeList>,
}

pub struct TagView {
    pub name: String,
    pub description: String,
    pub extension: bool,
    pub operations: Vec<OperationView>,
}

pub struct OperationView {
    pub anchor: String,
    pub method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    pub extension: bool,
    pub parameters: Vec<FieldView>,
    /// The request body's schema and whether it is required.
    pub request: Option<(String, bool)>,
    pub responses: Vec<ResponseView>,
}

pub struct ResponseView {
    pub status: String,
    pub description: String,
    pub schema: String,
    pub headers: Vec<String>,
}

pub struct SchemaView {
    pub name: String,
    pub description: String,
    pub extension: bool,
    pub kind: String,
    pub fields: Vec<FieldView>,
}

pub struct FieldView {
    pub name: String,
    /// `path`, `query`, `header`, or `body` for a schema's field.
    pub location: String,
    pub type_label: String,
    pub required: bool,
    pub description: String,
    pub extension: bool,
}

pub struct CodeList {
    pub schema: String,
    pub description: String,
    pub codes: Vec<CodeRow>,
}

pub struct CodeRow {
    pub name: String,
    pub status: String,
    pub meaning: String,
}

fn string_of(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn is_extension(value: &Value) -> bool {
    value.get(EXTENSION).and_then(Value::as_bool) == Some(true)
}

fn ref_name(value: &Value) -> Option<&str> {
    value.get("$ref")?.as_str()?.rsplit('/').next()
}

/// A short type, as a reader wants it: `string | null`, `Post[]`, `Platform`, `one of: a, b`.
fn type_label(schema: &Value) -> String {
    if let Some(name) = ref_name(schema) {
        return name.to_string();
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        return any.iter().map(type_label).collect::<Vec<_>>().join(" | ");
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let words: Vec<String> = values
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        return format!("one of: {}", words.join(", "));
    }
    let base = match schema.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" | "),
        _ => "any".to_string(),
    };
    if base == "array" {
        return format!(
            "{}[]",
            schema.get("items").map(type_label).unwrap_or_default()
        );
    }
    base
}

fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(target) => doc.pointer(target.trim_start_matches('#')).unwrap_or(value),
        None => value,
    }
}

fn fields_of(schema: &Value) -> Vec<FieldView> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, field)| FieldView {
            name: name.clone(),
            location: "body".into(),
            type_label: type_label(field),
            required: required.contains(&name.as_str()),
            description: string_of(field, "description"),
            extension: is_extension(field),
        })
        .collect()
}

/// The view both renderings share, read from the document.
pub fn reference(doc: &Value) -> Reference {
    let mut tags: Vec<TagView> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| TagView {
            name: string_of(t, "name"),
            description: string_of(t, "description"),
            extension: is_extension(t),
            operations: Vec::new(),
        })
        .collect();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let parameters = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let p = resolve(doc, p);
                    FieldView {
                        name: string_of(p, "name"),
                        location: string_of(p, "in"),
                        type_label: type_label(&p["schema"]),
                        required: p["required"].as_bool() == Some(true),
                        description: string_of(p, "description"),
                        extension: is_extension(p),
                    }
                })
                .collect();
            let request = op.get("requestBody").map(|body| {
                (
                    type_label(&body["content"]["application/json"]["schema"]),
                    body["required"].as_bool() == Some(true),
                )
            });
            let responses = op["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(status, r)| ResponseView {
                    status: status.clone(),
                    description: string_of(r, "description"),
                    schema: r["content"]["application/json"]
                        .get("schema")
                        .map(type_label)
                        .unwrap_or_default(),
                    headers: r["headers"]
                        .as_object()
                        .map(|h| h.keys().cloned().collect())
                        .unwrap_or_default(),
                })
                .collect();
            let view = OperationView {
                anchor: string_of(op, "operationId"),
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                summary: string_of(op, "summary"),
                description: string_of(op, "description"),
                extension: is_extension(op),
                parameters,
                request,
                responses,
            };
            let tag = op["tags"][0].as_str().unwrap_or_default();
            if let Some(t) = tags.iter_mut().find(|t| t.name == tag) {
                t.operations.push(view);
            }
        }
    }
    let mut schemas = Vec::new();
    let mut code_lists = Vec::new();
    let statuses = super::schemas::api_codes();
    for (name, schema) in doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
    {
        if let Some(codes) = schema.get("oneOf").and_then(Value::as_array) {
            code_lists.push(CodeList {
                schema: name.clone(),
                description: string_of(schema, "description"),
                codes: codes
                    .iter()
                    .map(|c| {
                        let code = string_of(c, "const");
                        let status = statuses
                            .iter()
                            .find(|(n, _, _)| *n == code)
                            .filter(|_| name == "ErrorCode")
                            .map(|(_, s, _)| s.to_string())
                            .unwrap_or_default();
                        CodeRow {
                            name: code,
                            status,
                            meaning: string_of(c, "description"),
                        }
                    })
                    .collect(),
            });
            continue;
        }
        schemas.push(SchemaView {
            name: name.clone(),
            description: string_of(schema, "description"),
            extension: is_extension(schema),
            kind: type_label(schema),
            fields: fields_of(schema),
        });
    }
    Reference {
        title: string_of(&doc["info"], "title"),
        version: string_of(&doc["info"], "version"),
        summary: string_of(&doc["info"], "summary"),
        description: string_of(&doc["info"], "description"),
        server: string_of(&doc["servers"][0], "url"),
        tags: tags
            .into_iter()
            .filter(|t| !t.operations.is_empty())
            .collect(),
        schemas,
        code_lists,
    }
}

#[derive(Template)]
#[template(path = "docs.html")]
struct DocsPage<'a> {
    r: &'a Reference,
}

/// `GET /docs`: the reference as one HTML page.
pub fn docs_page(public_url: &str) -> Response {
    let reference = reference(&super::document(public_url));
    match (DocsPage { r: &reference }).render() {
        Ok(body) => Response::html(200, body),
        Err(e) => {
            eprintln!("rendering /docs: {e}");
            Response::html(500, "The API reference could not be rendered.".into())
        }
    }
}

/// `GET /llms.txt`: the reference as markdown (llmstxt.org: a title, a summary in a quote,
/// then sections).
pub fn llms_txt(public_url: &str) -> Response {
    let body = markdown(&reference(&super::document(public_url)), public_url);
    Response::new(200)
        .with_header("Content-Type", "text/markdown; charset=utf-8")
        .with_body(body.into_bytes())
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn ext(flag: bool) -> &'static str {
    if flag { " (extension)" } else { "" }
}

pub fn markdown(r: &Reference, public_url: &str) -> String {
    let mut out = String::new();
    let mut line = |s: &str| {
        out.push_str(s);
        out.push('\n');
    };
    line(&format!("# {}", r.title));
    line("");
    line(&format!("> {}", r.summary));
    line("");
    line(&r.description);
    line("");
    line(&format!("Base URL: `{}`. Version {}.", r.server, r.version));
    line("Authentication: `Authorization: Bearer YOUR_API_KEY` on every request.");
    line("");
    line("## Docs");
    line("");
    line(&format!(
        "- [OpenAPI 3.1 document]({public_url}/api/openapi.json): the machine-readable source of this text"
    ));
    line(&format!(
        "- [API reference]({public_url}/docs): the same, as a page"
    ));
    for tag in &r.tags {
        line("");
        line(&format!("## {}{}", tag.name, ext(tag.extension)));
        line("");
        line(&tag.description);
        for op in &tag.operations {
            line("");
            line(&format!(
                "### {} {}{}",
                op.method,
                op.path,
                ext(op.extension)
            ));
            line("");
            line(&format!("{}. {}", op.summary, op.description));
            if !op.parameters.is_empty() {
                line("");
                line("Parameters:");
                for p in &op.parameters {
                    line(&format!(
                        "- `{}` ({}, {}, {}){}: {}",
                        p.name,
                        p.location,
                        p.type_label,
                        if p.required { "required" } else { "optional" },
                        ext(p.extension),
                        p.description
                    ));
                }
            }
            if let Some((schema, required)) = &op.request {
                line("");
                line(&format!(
                    "Request body: `{schema}` (JSON{}).",
                    if *required { "" } else { ", optional" }
                ));
            }
            line("");
            line("Responses:");
            for resp in &op.responses {
                let schema = if resp.schema.is_empty() {
                    String::new()
                } else {
                    format!(" `{}`", resp.schema)
                };
                line(&format!(
                    "- {}{}: {}",
                    resp.status, schema, resp.description
                ));
            }
        }
    }
    line("");
    line("## Schemas");
    for s in &r.schemas {
        line("");
        line(&format!("### {}{}", s.name, ext(s.extension)));
        line("");
        if !s.description.is_empty() {
            line(&s.description);
            line("");
        }
        if s.fields.is_empty() {
            line(&format!("Type: {}", s.kind));
            continue;
        }
        line("| field | type | required | description |");
        line("|---|---|---|---|");
        for f in &s.fields {
            line(&format!(
                "| `{}`{} | {} | {} | {} |",
                f.name,
                ext(f.extension),
                cell(&f.type_label),
                if f.required { "yes" } else { "no" },
                cell(&f.description)
            ));
        }
    }
    for list in &r.code_lists {
        line("");
        line(&format!("## Codes: {}", list.schema));
        line("");
        line(&list.description);
        line("");
        if list.schema == "ErrorCode" {
            line("| code | status | meaning |");
            line("|---|---|---|");
            for c in &list.codes {
                line(&format!(
                    "| `{}` | {} | {} |",
                    c.name,
                    c.status,
                    cell(&c.meaning)
                ));
            }
        } else {
            line("| code | meaning |");
            line("|---|---|");
            for c in &list.codes {
                line(&format!("| `{}` | {} |", c.name, cell(&c.meaning)));
            }
        }
    }
    out
}
