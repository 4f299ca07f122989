//! The dashboard over plain HTTP (no browser): the sign-in guard, CSRF and Origin checks,
//! session expiry and sign-out, the sign-in throttle, the one-time setup link, the last
//! operator rule, and that no page ever shows a secret.

use crate::dash::{self, EMAIL, PASSWORD, csrf_of, set_cookie, sign_in, try_sign_in};
use crate::support::{TestApp, send};
use mypostshare::providers::Platform;
use mypostshare::services::{connections, end_users, keys};

#[test]
fn pages_need_a_session_and_the_cookie_is_locked_down() {
    let app = TestApp::start();
    dash::create_operator(&app);
    let anonymous = send("GET", &format!("{}/dashboard/posts", app.base), &[], None);
    assert_eq!(anonymous.status, 302);
    assert_eq!(
        anonymous.header("location"),
        Some("/dashboard/sign-in?next=%2Fdashboard%2Fposts")
    );
    let reply = try_sign_in(&app, EMAIL, PASSWORD);
    assert_eq!(reply.status, 303, "{}", reply.body);
    let cookie = reply
        .headers
        .iter()
        .find(|(n, v)| n.eq_ignore_ascii_case("set-cookie") && v.starts_with("mps_session="))
        .map(|(_, v)| v.clone())
        .unwrap();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/dashboard"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain http public URL: no Secure flag"
    );
    let wrong = try_sign_in(&app, EMAIL, "not the password");
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("Wrong email or password."));
    assert!(
        !wrong.body.contains("not the password"),
        "the password is not echoed"
    );
    assert!(
        wrong.body.contains(&format!("value=\"{EMAIL}\"")),
        "email kept"
    );
}

#[test]
fn every_post_checks_the_csrf_token_and_the_origin() {
    let app = TestApp::start();
    dash::create_operator(&app);
    let op = sign_in(&app);
    let csrf = csrf_of(&op.page("/dashboard/orgs"));
    let fields = [("org_name", "Forged org")];
    let missing = op.post_raw("/dashboard/orgs", &fields, None, Some(&app.base));
    assert_eq!(missing.status, 403, "{}", missing.body);
    let wrong = op.post_raw(
        "/dashboard/orgs",
        &fields,
        Some("x".repeat(32).as_str()),
        None,
    );
    assert_eq!(wrong.status, 403);
    let other_site = op.post_raw(
        "/dashboard/orgs",
        &fields,
        Some(&csrf),
        Some("https://evil.example"),
    );
    assert_eq!(other_site.status, 403);
    assert!(!op.page("/dashboard/orgs").contains("Forged org"));
    // Without an Origin header (some clients omit it) the token alone suffices.
    let ok = op.post_raw("/dashboard/orgs", &fields, Some(&csrf), None);
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert!(op.page("/dashboard/orgs").contains("Forged org"));
    // The sign-in form is protected the same way, before any session exists.
    let forged_sign_in = send(
        "POST",
        &format!("{}/dashboard/sign-in", app.base),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(&format!("email={EMAIL}&password=x")),
    );
    assert_eq!(forged_sign_in.status, 403);
}

#[test]
fn sessions_expire_when_idle_and_end_at_sign_out() {
    let app = TestApp::start();
    dash::create_operator(&app);
    let op = sign_in(&app);
    op.page("/dashboard");
    app.clock.advance(chrono::Duration::hours(11));
    op.page("/dashboard");
    app.clock.advance(chrono::Duration::hours(11));
    // Used 11 hours ago: still within the 12-hour idle window, which moved with the last use.
    op.page("/dashboard/jobs");
    app.clock.advance(chrono::Duration::hours(13));
    let expired = op.get("/dashboard");
    assert_eq!(expired.status, 302, "idle past 12 hours: signed out");

    let op = sign_in(&app);
    let csrf = csrf_of(&op.page("/dashboard"));
    let out = op.post_raw("/dashboard/sign-out", &[], Some(&csrf), Some(&app.base));
    assert_eq!(out.status, 303);
    assert_eq!(set_cookie(&out, "mps_session").as_deref(), Some(""));
    assert_eq!(
        op.get("/dashboard").status,
        302,
        "the old cookie no longer works"
    );
    let audit = sign_in(&app).page("/dashboard/logs/audit?action=operator.sign_out");
    assert!(audit.contains(EMAIL) && audit.contains("operator.sign_out"));
}

#[test]
fn repeated_failed_sign_ins_are_throttled() {
    let app = TestApp::start();
    dash::create_operator(&app);
    for _ in 0..5 {
        assert_eq!(try_sign_in(&app, EMAIL, "wrong password!").status, 401);
    }
    let throttled = try_sign_in(&app, EMAIL, PASSWORD);
    assert_eq!(
        throttled.status, 429,
        "even the right password is not checked"
    );
    assert!(
        throttled
            .body
            .contains("Too many failed sign-in attempts. Wait 15 minutes"),
        "{}",
        throttled.body
    );
    // The same address trying another email is throttled too.
    assert_eq!(try_sign_in(&app, "other@example.com", PASSWORD).status, 429);
    app.clock.advance(chrono::Duration::minutes(16));
    assert_eq!(try_sign_in(&app, EMAIL, PASSWORD).status, 303);
}

#[test]
fn the_setup_link_creates_the_first_operator_once() {
    let app = TestApp::start();
    let link = mypostshare::dashboard::auth::issue_setup_link(&app.running.state)
        .unwrap()
        .expect("no operator yet: a link");
    assert!(link.starts_with(&format!("{}/dashboard/setup/", app.base)));
    let page = send("GET", &link, &[], None);
    assert_eq!(page.status, 200);
    let short = send(
        "POST",
        &link,
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", &app.base),
        ],
        Some("email=first%40example.com&password=short&confirm=short"),
    );
    assert_eq!(short.status, 400);
    assert!(short.body.contains("at least 10 characters"));
    assert!(short.body.contains("value=\"first@example.com\""));
    let body = "email=first%40example.com&password=long+enough+pw&confirm=long+enough+pw";
    let created = send(
        "POST",
        &link,
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", &app.base),
        ],
        Some(body),
    );
    assert_eq!(created.status, 303, "{}", created.body);
    assert!(set_cookie(&created, "mps_session").is_some());
    let again = send("GET", &link, &[], None);
    assert_eq!(again.status, 404, "the link works once");
    assert!(
        mypostshare::dashboard::auth::issue_setup_link(&app.running.state)
            .unwrap()
            .is_none(),
        "no new link once an operator exists"
    );
}

#[test]
fn operators_are_added_and_the_last_one_cannot_be_removed() {
    let app = TestApp::start();
    dash::create_operator(&app);
    let op = sign_in(&app);
    let weak = op.post(
        "/dashboard/operators",
        &[("email", "second@example.com"), ("password", "short")],
    );
    assert_eq!(weak.status, 400);
    assert!(weak.body.contains("at least 10 characters"));
    let added = op.post(
        "/dashboard/operators",
        &[
            ("email", "second@example.com"),
            ("password", "another long one"),
        ],
    );
    assert_eq!(added.status, 303, "{}", added.body);
    let page = op.page("/dashboard/operators");
    assert!(page.contains("second@example.com"));
    let ids: Vec<String> = page
        .match_indices("/dashboard/operators/")
        .map(|(at, _)| page[at + 21..at + 57].to_string())
        .collect();
    assert_eq!(ids.len(), 2);
    let me = app
        .running
        .state
        .db
        .read(mypostshare::services::operators::list)
        .unwrap()
        .into_iter()
        .find(|o| o.email == EMAIL)
        .unwrap();
    let other = ids.iter().find(|id| **id != me.id).unwrap();
    assert_eq!(
        op.post(&format!("/dashboard/operators/{other}/remove"), &[])
            .status,
        303
    );
    let last = op.post(&format!("/dashboard/operators/{}/remove", me.id), &[]);
    assert_eq!(last.status, 409, "{}", last.body);
    assert!(last.body.contains("last operator"));
}

#[test]
fn no_page_shows_a_secret() {
    let app = TestApp::start();
    dash::create_operator(&app);
    app.upsert_user("alice");
    app.connect_linkedin("alice", "Alice Example");
    let post = app.publish("alice", "Hello from the secret test");
    assert_eq!(post.status, 201, "{}", post.body);
    let post_id = post.json()["id"].as_str().unwrap().to_string();
    let state = &app.running.state;
    let op = sign_in(&app);
    // A key created in the dashboard is shown exactly once, in the reply to its creation.
    let created = op.post(
        &format!("/dashboard/apps/{}/keys", app.app_id),
        &[("key_name", "dashboard key")],
    );
    assert_eq!(created.status, 200);
    let at = created.body.find(keys::KEY_PREFIX).unwrap();
    let new_key = created.body[at..at + keys::KEY_PREFIX.len() + 40].to_string();
    // Credentials set in the dashboard; the secret must never come back.
    let client_secret = "super-secret-client-value-123";
    let saved = op.post(
        &format!("/dashboard/apps/{}/credentials/facebook", app.app_id),
        &[
            ("client_id", "fb-client-id"),
            ("client_secret", client_secret),
        ],
    );
    assert_eq!(saved.status, 303, "{}", saved.body);
    let (user, access_token, password_hash) = state
        .db
        .read(|c| {
            let user = end_users::find(c, &app.app_id, "alice")?.unwrap();
            let conn = connections::list_for_end_user(c, &app.app_id, &user.id)?.remove(0);
            let hash: String = c.query_row(
                "SELECT password_hash FROM operators WHERE email = ?1",
                [EMAIL],
                |r| r.get(0),
            )?;
            Ok((user, conn.access_token(&state.sealer).unwrap(), hash))
        })
        .unwrap();
    let managed_secret = state.config.managed_credentials[&Platform::Linkedin]
        .client_secret
        .clone();
    let org = format!("/dashboard/orgs/{}", app.org_id);
    let pages = [
        "/dashboard".to_string(),
        "/dashboard/orgs".into(),
        org,
        format!("/dashboard/apps/{}", app.app_id),
        format!("/dashboard/apps/{}/credentials/facebook", app.app_id),
        format!("/dashboard/apps/{}/credentials/linkedin", app.app_id),
        "/dashboard/end-users".into(),
        format!("/dashboard/end-users/{}", user.id),
        "/dashboard/posts".into(),
        format!("/dashboard/posts/{post_id}"),
        "/dashboard/credits".into(),
        format!("/dashboard/credits/{}", app.org_id),
        "/dashboard/logs/requests".into(),
        "/dashboard/logs/audit".into(),
        "/dashboard/jobs".into(),
        "/dashboard/operators".into(),
    ];
    let secrets = [
        ("the test's API key", app.key.as_str()),
        ("the key created in the dashboard", new_key.as_str()),
        ("the client secret", client_secret),
        ("the access token", access_token.as_str()),
        ("the password hash", password_hash.as_str()),
        ("the password", PASSWORD),
        ("the managed client secret", managed_secret.as_str()),
    ];
    for path in &pages {
        let html = op.page(path);
        for (what, secret) in &secrets {
            assert!(!html.contains(secret), "{path} shows {what}");
        }
    }
}

/// The organization's low-credit threshold (`credits.low`), set on its credits page as the CLI's
/// `credits set-low-threshold` sets it: the current value in the field, the CSRF token and
/// Origin required, a value that is no number or out of range refused next to the field with
/// nothing changed, a good one stored and audited with the operator as actor, and 0 shown as
/// off.
#[test]
fn the_low_credit_threshold_is_set_on_the_credits_page() {
    use mypostshare::services::credits;
    use mypostshare::services::reports::{self, AuditQuery};
    let app = TestApp::start();
    dash::create_operator(&app);
    let op = sign_in(&app);
    let path = format!("/dashboard/credits/{}", app.org_id);
    let action = format!("{path}/low-threshold");
    let stored = || {
        app.running
            .state
            .db
            .read(|c| credits::low_threshold(c, &app.org_id))
            .unwrap()
    };
    let page = op.page(&path);
    assert!(page.contains(&format!("action=\"{action}\"")), "{page}");
    assert!(page.contains("id=\"threshold\""), "{page}");
    assert!(page.contains("value=\"100\""), "the default is shown");
    assert_eq!(stored(), 100);

    let csrf = csrf_of(&page);
    let forged = op.post_raw(&action, &[("threshold", "5")], None, Some(&app.base));
    assert_eq!(forged.status, 403);
    let other_site = op.post_raw(
        &action,
        &[("threshold", "5")],
        Some(&csrf),
        Some("https://evil.example"),
    );
    assert_eq!(other_site.status, 403);
    assert_eq!(stored(), 100, "refused before anything changed");

    let not_a_number = op.post(&action, &[("threshold", "lots")]);
    assert_eq!(not_a_number.status, 400, "{}", not_a_number.body);
    assert!(
        not_a_number
            .body
            .contains("Enter a whole number of credits")
    );
    assert!(
        not_a_number.body.contains("value=\"lots\""),
        "the value is kept"
    );
    let negative = op.post(&action, &[("threshold", "-5")]);
    assert_eq!(negative.status, 400, "{}", negative.body);
    assert!(
        negative.body.contains("0 (off) to 1,000,000,000"),
        "{}",
        negative.body
    );
    assert_eq!(stored(), 100);

    let saved = op.post(&action, &[("threshold", " 250 ")]);
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(
        saved.header("location"),
        Some(format!("{path}?ok=threshold-saved").as_str())
    );
    assert_eq!(stored(), 250);
    let page = op.page(&format!("{path}?ok=threshold-saved"));
    assert!(page.contains("Low-credit threshold saved."), "{page}");
    assert!(page.contains("value=\"250\""), "{page}");
    let audit = app
        .running
        .state
        .db
        .read(|c| {
            reports::audit(
                c,
                &AuditQuery {
                    actor: None,
                    action: Some("credits.set_low_threshold".into()),
                },
                0,
                10,
            )
        })
        .unwrap()
        .rows;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].actor, dash::EMAIL);
    assert_eq!(audit[0].target_id.as_deref(), Some(app.org_id.as_str()));

    assert_eq!(op.post(&action, &[("threshold", "0")]).status, 303);
    assert_eq!(stored(), 0);
    assert!(op.page(&path).contains("(now off)"));
}
