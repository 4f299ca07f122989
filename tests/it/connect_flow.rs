//! The spec's "Minimal End-to-End Scenario" and the hosted connect flow's unhappy paths:
//! expiry, state replay, closed links (deny is a row of the scenario table, `scenarios.rs`).

use crate::support::{REDIRECT, TestApp, query_pairs, query_value, send};
use serde_json::json;

#[test]
fn the_spec_scenario_runs_end_to_end_on_linkedin() {
    let app = TestApp::start();
    // 1. upsert end user
    let user = app.post(
        "/api/v1/end-users",
        json!({"externalUserId": "user_123", "displayName": "Test User"}),
    );
    assert_eq!(user.status, 201);
    let user = user.json();
    assert_eq!(user["externalUserId"], "user_123");
    assert_eq!(
        user["email"],
        serde_json::Value::Null,
        "absent optional fields are null, not omitted"
    );
    // 2. connect session
    let session = app.create_session("user_123");
    assert_eq!(session["status"], "pending");
    assert_eq!(session["platform"], "linkedin");
    let connect_url = session["connectUrl"].as_str().unwrap();
    assert_eq!(
        connect_url,
        format!("{}/connect/{}", app.base, session["id"].as_str().unwrap())
    );
    // 3. the browser walks the hosted pages and allows
    let form = app.open_consent_page(connect_url);
    let polled = app
        .get(&format!(
            "/api/v1/connect-sessions/{}",
            session["id"].as_str().unwrap()
        ))
        .json();
    assert_eq!(polled["status"], "redirected");
    let callback = app.decide(&form, "allow", "Alex Morgan");
    let done = app.follow_callback(&callback);
    assert_eq!(done.status, 302);
    let location = done.header("location").unwrap();
    assert!(location.starts_with(&format!("{REDIRECT}?")), "{location}");
    let names: Vec<String> = query_pairs(location).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "status",
            "platform",
            "connectSessionId",
            "externalUserId",
            "appId",
            "remoteAccountId",
            "remoteUsername",
            "accountType"
        ],
        "exactly the spec's safe fields"
    );
    assert_eq!(query_value(location, "appId").unwrap(), app.app_id);
    assert_eq!(
        query_value(location, "remoteUsername").unwrap(),
        "Alex Morgan"
    );
    let session = app
        .get(&format!(
            "/api/v1/connect-sessions/{}",
            session["id"].as_str().unwrap()
        ))
        .json();
    assert_eq!(session["status"], "connected");
    assert!(session["completedAt"].is_string());
    // 4. connections
    let connections = app.get("/api/v1/end-users/user_123/connections").json();
    let c = &connections[0];
    assert_eq!(c["platform"], "linkedin");
    assert_eq!(c["status"], "connected");
    assert_eq!(
        c["tokenStatus"], "active",
        "LinkedIn gives standard apps no refresh token"
    );
    assert_eq!(c["canAutoRefresh"], false);
    assert_eq!(
        c["remoteAccountId"].as_str().unwrap(),
        query_value(location, "remoteAccountId").unwrap()
    );
    assert_eq!(c["accountType"], "person");
    for field in [
        "accessTokenExpiresAt",
        "refreshTokenExpiresAt",
        "lastErrorCode",
        "lastErrorMessage",
        "lastSyncedAt",
        "createdAt",
        "updatedAt",
    ] {
        assert!(c.get(field).is_some(), "{field} missing from {c}");
    }
    let summary = app.get("/api/v1/end-users/user_123").json();
    assert_eq!(
        summary["connectionSummary"],
        json!({"total": 1, "connected": 1, "failed": 0})
    );
    // 5. publish now
    let before = app.balance();
    let post = app.publish("user_123", "Hello from MyPostShare.");
    assert_eq!(post.status, 201, "{}", post.body);
    let post = post.json();
    assert_eq!(post["mode"], "immediate");
    assert_eq!(post["status"], "published");
    assert_eq!(post["creditCost"], 5);
    assert!(post["processedAt"].as_str().unwrap().ends_with('Z'));
    let result = &post["platformResults"][0];
    assert_eq!(result["status"], "published");
    assert_eq!(result["attemptCount"], 1);
    assert!(
        result["externalId"]
            .as_str()
            .unwrap()
            .starts_with("urn:li:share:")
    );
    assert_eq!(app.balance(), before - 5);
    // the simulated LinkedIn received exactly that text, from that member
    let received = app.sim_posts();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["text"], "Hello from MyPostShare.");
    assert_eq!(
        received[0]["author"],
        format!("urn:li:person:{}", c["remoteAccountId"].as_str().unwrap())
    );
    assert_eq!(received[0]["id"], result["externalId"]);
    // 6. poll
    let polled = app
        .get(&format!("/api/v1/posts/{}", post["id"].as_str().unwrap()))
        .json();
    assert_eq!(polled, post, "GET shows exactly what POST answered");
    // the short /v1 prefix answers too
    assert_eq!(
        app.get(&format!("/v1/posts/{}", post["id"].as_str().unwrap()))
            .status,
        200
    );
}

#[test]
fn an_expired_session_cannot_be_started_or_completed() {
    let app = TestApp::start();
    app.upsert_user("u1");
    // expired before the user opened the link
    let unopened = app.create_session("u1");
    app.clock.advance(chrono::Duration::minutes(16));
    let page = send("GET", unopened["connectUrl"].as_str().unwrap(), &[], None);
    assert_eq!(page.status, 410);
    assert!(page.body.contains("expired"));
    let polled = app
        .get(&format!(
            "/api/v1/connect-sessions/{}",
            unopened["id"].as_str().unwrap()
        ))
        .json();
    assert_eq!(polled["status"], "expired");
    // expired while the user was at the platform
    let session = app.create_session("u1");
    let form = app.open_consent_page(session["connectUrl"].as_str().unwrap());
    let callback = app.decide(&form, "allow", "Alex Morgan");
    app.clock.advance(chrono::Duration::minutes(16));
    let done = app.follow_callback(&callback);
    let location = done.header("location").unwrap();
    assert_eq!(query_value(location, "status").as_deref(), Some("failed"));
    assert_eq!(
        query_value(location, "errorCode").as_deref(),
        Some("session_expired")
    );
    assert_eq!(
        app.get(&format!(
            "/api/v1/connect-sessions/{}",
            session["id"].as_str().unwrap()
        ))
        .json()["status"],
        "expired"
    );
    assert_eq!(
        app.get("/api/v1/end-users/u1/connections").json(),
        json!([])
    );
    // the cleanup job writes the expiry of sessions nobody touched
    let fresh = app.create_session("u1");
    app.clock.advance(chrono::Duration::minutes(16));
    // two: this one and the unopened one above, which until now was expired only by its time
    assert_eq!(app.run_job("expire_connect_sessions"), "2 sessions expired");
    let stored: String = app
        .running
        .state
        .db
        .read(|c| {
            Ok(c.query_row(
                "SELECT status FROM connect_sessions WHERE id = ?1",
                [fresh["id"].as_str().unwrap()],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(stored, "expired");
}

#[test]
fn a_replayed_or_forged_state_is_refused_and_changes_nothing() {
    let app = TestApp::start();
    app.upsert_user("u1");
    let session = app.create_session("u1");
    let form = app.open_consent_page(session["connectUrl"].as_str().unwrap());
    let callback = app.decide(&form, "allow", "Alex Morgan");
    assert_eq!(app.follow_callback(&callback).status, 302);
    let replay = app.follow_callback(&callback);
    assert_eq!(replay.status, 400);
    assert!(replay.header("location").is_none());
    assert!(replay.body.contains("already used"));
    assert_eq!(
        app.get(&format!(
            "/api/v1/connect-sessions/{}",
            session["id"].as_str().unwrap()
        ))
        .json()["status"],
        "connected"
    );
    let forged = app.follow_callback(&format!(
        "{}/oauth/callback/linkedin?code=abc&state=not-a-real-state",
        app.base
    ));
    assert_eq!(forged.status, 400);
    let missing = app.follow_callback(&format!("{}/oauth/callback/linkedin?code=abc", app.base));
    assert_eq!(missing.status, 400);
    // a completed session's link shows a page and never restarts OAuth
    let page = send("GET", session["connectUrl"].as_str().unwrap(), &[], None);
    assert_eq!(page.status, 409);
    assert!(!page.body.contains("<form"));
    let post = send(
        "POST",
        session["connectUrl"].as_str().unwrap(),
        &[],
        Some(""),
    );
    assert_eq!(post.status, 409);
    assert!(post.header("location").is_none());
}

#[test]
fn only_the_newest_continue_can_complete_a_session() {
    let app = TestApp::start();
    app.upsert_user("u1");
    let session = app.create_session("u1");
    let url = session["connectUrl"].as_str().unwrap();
    let first = app.open_consent_page(url);
    let second = app.open_consent_page(url);
    let stale = app.decide(&first, "allow", "Alex Morgan");
    assert_eq!(
        app.follow_callback(&stale).status,
        400,
        "the first state was replaced"
    );
    let fresh = app.decide(&second, "allow", "Alex Morgan");
    assert_eq!(app.follow_callback(&fresh).status, 302);
}

#[test]
fn reconnecting_keeps_one_connection_and_disconnect_revokes_it() {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect_linkedin("u1", "Alex Morgan");
    let first = app.get("/api/v1/end-users/u1/connections").json()[0].clone();
    app.connect_linkedin("u1", "Alex Morgan");
    let list = app.get("/api/v1/end-users/u1/connections").json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], first["id"], "the connection keeps its id");
    // the token works before the disconnect
    assert_eq!(
        app.publish("u1", "before disconnect").json()["status"],
        "published"
    );
    let state = &app.running.state;
    let stored = state
        .db
        .read(|c| mypostshare::services::connections::get(c, first["id"].as_str().unwrap()))
        .unwrap()
        .unwrap();
    let token = stored.access_token(&state.sealer).unwrap();
    let gone = app.call("DELETE", "/api/v1/end-users/u1/connections/linkedin", None);
    assert_eq!(gone.status, 204);
    assert!(gone.body.is_empty());
    let list = app.get("/api/v1/end-users/u1/connections").json();
    assert_eq!(list[0]["status"], "disconnected");
    assert_eq!(list[0]["tokenStatus"], "revoked");
    // the platform no longer accepts the old token: it was revoked there, not just forgotten
    let userinfo = send(
        "GET",
        &format!("{}/sandbox/linkedin/v2/userinfo", app.base),
        &[("Authorization", &format!("Bearer {token}"))],
        None,
    );
    assert_eq!(userinfo.status, 401);
    assert!(
        userinfo.body.contains("REVOKED_ACCESS_TOKEN"),
        "{}",
        userinfo.body
    );
    let stored = state
        .db
        .read(|c| mypostshare::services::connections::get(c, first["id"].as_str().unwrap()))
        .unwrap()
        .unwrap();
    assert!(stored.access_token_enc.is_none() && stored.refresh_token_enc.is_none());
    // posting now needs a new connection; disconnecting again is harmless
    assert_eq!(
        app.publish("u1", "after").error_code(400),
        "PLATFORM_NOT_CONNECTED"
    );
    assert_eq!(
        app.call("DELETE", "/api/v1/end-users/u1/connections/linkedin", None)
            .status,
        204
    );
    assert_eq!(
        app.call("DELETE", "/api/v1/end-users/u1/connections/facebook", None)
            .error_code(404),
        "NOT_FOUND"
    );
}

#[test]
fn no_secret_leaves_in_responses_redirects_or_the_database_in_clear() {
    let app = TestApp::start();
    app.upsert_user("u1");
    let location = app.connect_linkedin("u1", "Alex Morgan");
    let state = &app.running.state;
    let id = app.get("/api/v1/end-users/u1/connections").json()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let stored = state
        .db
        .read(|c| mypostshare::services::connections::get(c, &id))
        .unwrap()
        .unwrap();
    let token = stored.access_token(&state.sealer).unwrap();
    assert!(token.len() > 20);
    let managed_secret = state.config.managed_credentials
        [&mypostshare::providers::Platform::Linkedin]
        .client_secret
        .clone();
    let bodies = [
        location.clone(),
        app.get("/api/v1/end-users/u1/connections").body,
        app.get("/api/v1/end-users/u1").body,
        app.publish("u1", "secret check").body,
        app.get("/api/v1/posts").body,
    ];
    for body in &bodies {
        assert!(!body.contains(&token), "access token leaked: {body}");
        assert!(
            !body.contains(&managed_secret),
            "client secret leaked: {body}"
        );
        assert!(!body.contains(&app.key), "API key leaked: {body}");
    }
    // the database file holds neither the token, the API key nor the client secret in clear
    let bytes = std::fs::read(app.dir.path().join("test.db")).unwrap();
    let wal = std::fs::read(app.dir.path().join("test.db-wal")).unwrap_or_default();
    for haystack in [&bytes, &wal] {
        for secret in [&token, &app.key, &managed_secret] {
            assert!(
                !haystack
                    .windows(secret.len())
                    .any(|w| w == secret.as_bytes()),
                "a secret is stored in clear"
            );
        }
    }
}
