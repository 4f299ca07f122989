//! The API describes itself: `/api/openapi.json` is the document `mypostshare::openapi` builds,
//! every route of the router is in it and every operation in it answers, the main flows answer
//! exactly as it says (every reply is checked by `support::send`, here and in every other test),
//! the check itself refuses bodies that break it, and `/docs` and `/llms.txt` render all of it.

use crate::support::{REDIRECT, TestApp, checked_replies, conformance_errors, path_template, send};
use mypostshare::api::ROUTES;
use mypostshare::error::Code;
use serde_json::{Value, json};

fn document(app: &TestApp) -> Value {
    let reply = send("GET", &format!("{}/api/openapi.json", app.base), &[], None);
    assert_eq!(reply.status, 200, "served without a key: {}", reply.body);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{:?}",
        reply.headers
    );
    reply.json()
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            all.push((method.to_ascii_uppercase(), path.clone(), op.clone()));
        }
    }
    all
}

#[test]
fn the_served_document_is_openapi_3_1_with_every_code_of_the_catalogue() {
    let app = TestApp::start();
    let doc = document(&app);
    assert_eq!(doc, mypostshare::openapi::document(&app.base));
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], format!("{}/api", app.base));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
    let codes: Vec<&str> = doc["components"]["schemas"]["ErrorCode"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["const"].as_str().unwrap())
        .collect();
    for code in Code::ALL {
        let entry = code.entry();
        assert_eq!(
            codes.contains(&entry.name),
            entry.api.is_some(),
            "{} in ErrorCode",
            entry.name
        );
    }
    // Each schema compiles as JSON Schema 2020-12 on its own terms (with the document as its
    // root, for references).
    for name in doc["components"]["schemas"].as_object().unwrap().keys() {
        let mut root = doc.clone();
        root["$ref"] = Value::from(format!("#/components/schemas/{name}"));
        jsonschema::draft202012::new(&root)
            .unwrap_or_else(|e| panic!("{name} is not a valid schema: {e}"));
    }
    // The seed's ten operations are not marked; every other one is.
    let seed = [
        ("POST", "/v1/end-users"),
        ("GET", "/v1/end-users/{externalUserId}"),
        ("GET", "/v1/end-users/{externalUserId}/connections"),
        (
            "DELETE",
            "/v1/end-users/{externalUserId}/connections/{platform}",
        ),
        ("POST", "/v1/connect-sessions"),
        ("GET", "/v1/connect-sessions/{id}"),
        ("POST", "/v1/posts"),
        ("POST", "/v1/posts/scheduled"),
        ("GET", "/v1/posts/{id}"),
        ("GET", "/v1/posts"),
    ];
    for (method, path, op) in operations(&doc) {
        let marked = op["x-mypostshare-extension"] == true;
        let in_seed = seed.contains(&(method.as_str(), path.as_str()));
        assert_ne!(marked, in_seed, "{method} {path}");
    }
}

/// Both ways: each route of `api::ROUTES` is a documented operation, and each documented
/// operation is answered by a handler (neither "No endpoint" nor 405), under `/api/v1` and
/// `/v1`.
#[test]
fn every_route_is_documented_and_every_documented_operation_answers() {
    let app = TestApp::start();
    let doc = document(&app);
    for (template, methods) in ROUTES {
        for method in *methods {
            let path = format!("/v1{template}");
            assert!(
                doc["paths"][&path]
                    .get(method.to_ascii_lowercase())
                    .is_some(),
                "the router serves {method} {path}, the document does not have it"
            );
        }
    }
    for (method, path, op) in operations(&doc) {
        let routed = ROUTES.iter().any(|(template, methods)| {
            format!("/v1{template}") == path && methods.contains(&method.as_str())
        });
        assert!(
            routed,
            "{method} {path} is documented but not in api::ROUTES"
        );
        let concrete = path
            .replace("{externalUserId}", "nobody")
            .replace("{platform}", "linkedin")
            .replace("{id}", "no-such-id");
        let body = op.get("requestBody").map(|_| json!({}));
        for prefix in ["/api", ""] {
            let reply = app.call(&method, &format!("{prefix}{concrete}"), body.clone());
            let answered =
                reply.status != 405 && !(reply.status == 404 && reply.body.contains("No endpoint"));
            assert!(
                answered,
                "{method} {prefix}{concrete} is not served: {} {}",
                reply.status, reply.body
            );
        }
    }
    // A method the document does not list on a documented path is refused as the router does.
    assert_eq!(app.call("PUT", "/api/v1/posts", None).status, 405);
}

/// The flows of the seed's "minimal end-to-end scenario" and the lifecycle, each answer held to
/// the document by `support::send` (this test counts that it was).
#[test]
fn the_main_flows_answer_as_the_document_says() {
    let app = TestApp::start();
    let before = checked_replies();
    let ok = |reply: crate::support::Reply, status: u16| -> Value {
        assert_eq!(reply.status, status, "{}", reply.body);
        if reply.body.is_empty() {
            Value::Null
        } else {
            reply.json()
        }
    };
    ok(
        app.post(
            "/api/v1/end-users",
            json!({"externalUserId": "u1", "displayName": "Alex", "email": "alex@example.com", "metadata": {"plan": "pro"}}),
        ),
        201,
    );
    ok(app.get("/api/v1/end-users/u1"), 200);
    let session = ok(
        app.post(
            "/api/v1/connect-sessions",
            json!({"externalUserId": "u1", "platform": "linkedin", "redirectUri": REDIRECT}),
        ),
        201,
    );
    ok(
        app.get(&format!(
            "/api/v1/connect-sessions/{}",
            session["id"].as_str().unwrap()
        )),
        200,
    );
    app.connect("u1", "linkedin", "Alex Morgan");
    app.connect("u1", "pinterest", "Alex Morgan");
    let connections = ok(app.get("/api/v1/end-users/u1/connections"), 200);
    assert_eq!(connections.as_array().unwrap().len(), 2);
    let boards = ok(
        app.get("/api/v1/end-users/u1/connections/pinterest/targets"),
        200,
    );
    assert!(!boards.as_array().unwrap().is_empty());
    assert_eq!(
        app.get("/api/v1/end-users/u1/connections/linkedin/targets")
            .error_code(400),
        "NO_TARGETS"
    );

    let published = ok(app.publish("u1", "hello from the docs"), 201);
    let id = published["id"].as_str().unwrap().to_string();
    assert_eq!(published["status"], "published");
    ok(app.get(&format!("/api/v1/posts/{id}")), 200);
    ok(app.get(&format!("/api/v1/posts/{id}/attempts")), 200);
    ok(
        app.get("/api/v1/posts?externalUserId=u1&status=published&platform=linkedin&dateFrom=2000-01-01"),
        200,
    );
    assert_eq!(
        app.call("POST", &format!("/api/v1/posts/{id}/retry"), None)
            .error_code(409),
        "INVALID_STATUS_TRANSITION"
    );

    // A failed delivery carries its code; retried, it publishes.
    app.inject_fault(json!({"platform": "linkedin", "kind": "server_error", "status": 503}));
    let failed = ok(app.publish("u1", "through an outage"), 201);
    let failed = app.finish_read_back(failed["id"].as_str().unwrap());
    assert_eq!(failed["status"], "failed");
    let failed_id = failed["id"].as_str().unwrap();
    ok(app.get(&format!("/api/v1/posts/{failed_id}/attempts")), 200);
    ok(
        app.call(
            "POST",
            &format!("/api/v1/posts/{failed_id}/retry"),
            Some(json!({"platforms": ["linkedin"]})),
        ),
        200,
    );

    let at = (app.clock_now() + chrono::Duration::hours(1)).to_rfc3339();
    let scheduled = ok(
        app.post(
            "/api/v1/posts/scheduled",
            json!({"externalUserId": "u1", "content": "later", "platforms": ["linkedin"], "scheduleAt": at, "title": "T", "metadata": {"campaign": "c"}}),
        ),
        201,
    );
    let sid = scheduled["id"].as_str().unwrap().to_string();
    ok(
        app.call(
            "PATCH",
            &format!("/api/v1/posts/{sid}"),
            Some(json!({"content": "later, edited", "title": null})),
        ),
        200,
    );
    let cancelled = ok(
        app.call("POST", &format!("/api/v1/posts/{sid}/cancel"), None),
        200,
    );
    assert_eq!(cancelled["status"], "cancelled");
    let again = ok(
        app.post(
            "/api/v1/posts/scheduled",
            json!({"externalUserId": "u1", "content": "later again", "platforms": ["linkedin"], "scheduleAt": at}),
        ),
        201,
    );
    ok(
        app.call(
            "DELETE",
            &format!("/api/v1/posts/{}", again["id"].as_str().unwrap()),
            None,
        ),
        200,
    );

    // One page of one post leads on with a Link header.
    let page = app.get("/api/v1/posts?limit=1");
    assert_eq!(page.status, 200);
    assert!(
        page.header("link")
            .is_some_and(|l| l.contains("rel=\"next\""))
    );

    // Errors, in their shape, under their documented statuses.
    assert_eq!(
        app.call_as("not-a-key", "GET", "/api/v1/posts", None)
            .error_code(401),
        "UNAUTHORIZED"
    );
    assert_eq!(
        app.post("/api/v1/posts", json!({"externalUserId": "u1"}))
            .error_code(400),
        "VALIDATION_FAILED"
    );
    assert_eq!(
        app.get("/api/v1/posts/no-such-post").error_code(404),
        "NOT_FOUND"
    );
    assert_eq!(app.get("/api/v1/nothing-here").error_code(404), "NOT_FOUND");
    ok(
        app.call("DELETE", "/v1/end-users/u1/connections/pinterest", None),
        204,
    );
    assert!(
        checked_replies() >= before + 25,
        "every answer above was checked against the document"
    );
}

/// The check is not vacuous: answers that break the document in each way it can be broken
/// are refused, with the schema's errors.
#[test]
fn the_conformance_check_refuses_bodies_that_break_the_document() {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect("u1", "linkedin", "Alex Morgan");
    let post = app.publish("u1", "checked").json();
    let text = |v: &Value| v.to_string();
    let errors = |method: &str, path: &str, status: u16, body: &str| {
        conformance_errors(method, path, status, body)
    };
    assert!(errors("GET", "/v1/posts/x", 200, &text(&post)).is_empty());

    let mut bad_status = post.clone();
    bad_status["status"] = json!("done");
    let mut missing = post.clone();
    missing.as_object_mut().unwrap().remove("title");
    let mut undocumented = post.clone();
    undocumented["secret"] = json!("x");
    let mut bad_result = post.clone();
    bad_result["platformResults"][0]["errorCode"] = json!("NOT_A_CODE");
    let mut bad_null = post.clone();
    bad_null["content"] = Value::Null;
    for (what, body) in [
        ("a status that is no state", bad_status),
        ("an optional field omitted instead of null", missing),
        ("a field the document does not have", undocumented),
        ("a delivery code the catalogue does not have", bad_result),
        ("null where the field is not nullable", bad_null),
    ] {
        assert!(
            !errors("GET", "/v1/posts/x", 200, &text(&body)).is_empty(),
            "{what} passed"
        );
    }
    // A list answer must be a list; an error answer must have its four fields and a known code.
    assert!(!errors("GET", "/v1/posts", 200, &text(&post)).is_empty());
    assert!(
        !errors(
            "GET",
            "/v1/posts/x",
            404,
            r#"{"message":"m","error":"Not Found","statusCode":404}"#
        )
        .is_empty()
    );
    assert!(
        !errors(
            "GET",
            "/v1/posts/x",
            404,
            r#"{"message":"m","error":"Not Found","statusCode":404,"code":"GONE"}"#
        )
        .is_empty()
    );
    // A documented 204 has no body; an undocumented path may only answer with an error.
    assert!(!errors("DELETE", "/v1/end-users/u/connections/linkedin", 204, "{}").is_empty());
    assert!(!errors("GET", "/v1/elsewhere", 200, &text(&post)).is_empty());
    let doc = mypostshare::openapi::document("http://x");
    assert_eq!(
        path_template(&doc, "/v1/posts/scheduled").as_deref(),
        Some("/v1/posts/scheduled")
    );
    assert_eq!(
        path_template(&doc, "/v1/posts/abc/").as_deref(),
        Some("/v1/posts/{id}")
    );
}

#[test]
fn docs_and_llms_txt_render_every_operation_and_code_from_the_binary() {
    let app = TestApp::start();
    let doc = document(&app);
    let page = send("GET", &format!("{}/docs", app.base), &[], None);
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let llms = send("GET", &format!("{}/llms.txt", app.base), &[], None);
    assert_eq!(llms.status, 200);
    assert!(
        llms.header("content-type")
            .unwrap()
            .starts_with("text/markdown")
    );
    assert!(
        llms.body.starts_with("# MyPostShare API\n\n> "),
        "{}",
        llms.body
    );
    for (method, path, op) in operations(&doc) {
        assert!(
            page.body.contains(&format!(
                "{method}</span> <span class=\"path\">{path}</span>"
            )),
            "/docs lacks {method} {path}"
        );
        assert!(
            llms.body.contains(&format!("### {method} {path}")),
            "/llms.txt lacks {method} {path}"
        );
        let id = op["operationId"].as_str().unwrap();
        assert!(
            page.body.contains(&format!("id=\"{id}\"")),
            "/docs lacks {id}"
        );
        assert!(llms.body.contains(op["summary"].as_str().unwrap()));
    }
    // Every code a customer can meet (an answer, a delivery, a deletion, a connect redirect); the internal
    // ones are the dashboard's and the CLI's.
    for code in Code::ALL {
        let entry = code.entry();
        if entry.api.is_none()
            && entry.delivery.is_none()
            && entry.deletion.is_none()
            && entry.connect.is_none()
        {
            continue;
        }
        let name = entry.name;
        assert!(
            page.body.contains(&format!("<code>{name}</code>")),
            "/docs lacks {name}"
        );
        assert!(
            llms.body.contains(&format!("`{name}`")),
            "/llms.txt lacks {name}"
        );
    }
    for schema in doc["components"]["schemas"].as_object().unwrap().keys() {
        assert!(
            page.body.contains(&format!("id=\"schema-{schema}\""))
                || page.body.contains(&format!("id=\"{schema}\"")),
            "{schema}"
        );
    }
    // Nothing is loaded from elsewhere: no script, no stylesheet or image from another host.
    for needle in ["<script", "src=\"http", "<link"] {
        assert!(!page.body.contains(needle), "/docs has {needle}");
    }
}
