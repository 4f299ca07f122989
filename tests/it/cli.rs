//! The admin command line, run as the real binary against a database file, then used by a
//! server started on the same file; and `serve` stopping cleanly on SIGTERM.

use crate::support::send;
use serde_json::Value;
use std::process::{Command, Stdio};

const CLI_SECRET: &str = "cli test secret key material, long enough";

fn run(db: &std::path::Path, args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_mypostshare"))
        .arg("--db")
        .arg(db)
        .arg("--json")
        .args(args)
        .env("MYPOSTSHARE_SECRET_KEY", CLI_SECRET)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        stdout.trim().lines().count(),
        1,
        "exactly one JSON object: {stdout}"
    );
    serde_json::from_str(stdout.trim()).unwrap()
}

fn fails(db: &std::path::Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_mypostshare"))
        .arg("--db")
        .arg(db)
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    assert!(!output.status.success(), "{args:?} should fail");
    assert!(output.stdout.is_empty());
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn an_operator_bootstraps_an_instance_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db");
    let org = run(&db, &["org", "create", "--name", "Acme"]);
    assert_eq!(org["name"], "Acme");
    assert_eq!(org["creditBalance"], 0, "new organizations start at 0");
    let org_id = org["id"].as_str().unwrap();
    let app = run(
        &db,
        &["app", "create", "--org", org_id, "--name", "Acme Social"],
    );
    assert_eq!(app["orgId"], org_id);
    let app_id = app["id"].as_str().unwrap();
    let key = run(
        &db,
        &["key", "create", "--app", app_id, "--name", "backend"],
    );
    let secret = key["key"].as_str().unwrap().to_string();
    assert!(secret.starts_with("mps_live_") && secret.starts_with(key["prefix"].as_str().unwrap()));
    run(
        &db,
        &[
            "redirect",
            "add",
            "--app",
            app_id,
            "--uri",
            "https://acme.example/cb",
        ],
    );
    let granted = run(
        &db,
        &["credits", "grant", "--org", org_id, "--amount", "50"],
    );
    assert_eq!(granted["balance"], 50);
    let creds = run(
        &db,
        &[
            "credentials",
            "set",
            "--app",
            app_id,
            "--platform",
            "linkedin",
            "--client-id",
            "acme-li",
            "--client-secret",
            "acme-li-secret",
        ],
    );
    assert_eq!(creds["clientId"], "acme-li");
    assert_eq!(creds["apiHost"], "production");
    assert!(!creds.to_string().contains("acme-li-secret"));
    // Pinterest's Trial apps call the sandbox host; a platform without one refuses it.
    let pin = |platform: &str| {
        vec![
            "credentials".to_string(),
            "set".into(),
            "--app".into(),
            app_id.to_string(),
            "--platform".into(),
            platform.into(),
            "--client-id".into(),
            "acme-pin".into(),
            "--client-secret".into(),
            "acme-pin-secret".into(),
            "--api-host".into(),
            "sandbox".into(),
        ]
    };
    let args = pin("pinterest");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(run(&db, &args)["apiHost"], "sandbox");
    let args = pin("linkedin");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert!(fails(&db, &args).contains("no sandbox API host"));
    assert!(
        fails(
            &db,
            &[
                "redirect",
                "add",
                "--app",
                app_id,
                "--uri",
                "http://acme.example/cb"
            ]
        )
        .contains("https")
    );
    assert!(
        fails(&db, &["app", "create", "--org", "nope", "--name", "x"]).contains("does not exist")
    );
    assert!(
        fails(
            &db,
            &[
                "credentials",
                "set",
                "--app",
                app_id,
                "--platform",
                "x",
                "--client-id",
                "a",
                "--client-secret",
                "b"
            ]
        )
        .contains("twitter")
    );

    // A server on the same file accepts the key; the app's own credentials are used for its
    // connect sessions, and the client secret stays encrypted.
    let mut config = mypostshare::config::Config::new(
        &db,
        mypostshare::crypto::MasterKey::from_material("cli test secret key material, long enough"),
    );
    config.jobs.dispatch_due_deliveries = String::new();
    let running = mypostshare::start(
        config,
        std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        std::sync::Arc::new(mypostshare::clock::SystemClock),
    )
    .unwrap();
    let auth = format!("Bearer {secret}");
    let h = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let base = running.base_url();
    assert_eq!(
        send(
            "POST",
            &format!("{base}/api/v1/end-users"),
            &h,
            Some(r#"{"externalUserId":"u1"}"#)
        )
        .status,
        201
    );
    let session = send(
        "POST",
        &format!("{base}/api/v1/connect-sessions"),
        &h,
        Some(
            r#"{"externalUserId":"u1","platform":"linkedin","redirectUri":"https://acme.example/cb"}"#,
        ),
    );
    assert_eq!(session.status, 201, "{}", session.body);
    let go = send(
        "POST",
        session.json()["connectUrl"].as_str().unwrap(),
        &[],
        Some(""),
    );
    let authorize = go.header("location").unwrap();
    assert!(
        authorize.starts_with("https://www.linkedin.com/oauth/v2/authorization?"),
        "{authorize}"
    );
    assert_eq!(
        crate::support::query_value(authorize, "client_id").as_deref(),
        Some("acme-li")
    );
    assert_eq!(
        crate::support::query_value(authorize, "redirect_uri"),
        Some(format!("{base}/oauth/callback/linkedin"))
    );
    assert!(!authorize.contains("acme-li-secret"));
    running.shutdown();
    let revoked = run(&db, &["key", "revoke", "--id", key["id"].as_str().unwrap()]);
    assert_eq!(revoked["revoked"], true);
    let bytes = std::fs::read(&db).unwrap();
    assert!(
        !bytes.windows(14).any(|w| w == b"acme-li-secret"),
        "the client secret is encrypted at rest"
    );
    let backup = dir.path().join("backup.db");
    run(&db, &["backup", "--to", backup.to_str().unwrap()]);
    assert!(backup.exists());
    assert_eq!(
        run(&backup, &["migrate"])["schemaVersion"],
        mypostshare::db::SCHEMA_VERSION
    );
}

/// `serve --sandbox` on a free loopback port with a new database in `dir`, its stdout piped;
/// returns once the listener accepts connections.
fn serve_sandbox(dir: &std::path::Path) -> (std::process::Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_mypostshare"))
        .arg("--db")
        .arg(dir.join("serve.db"))
        .args(["serve", "--sandbox", "--addr", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "serve did not start");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    (child, port)
}

fn sigterm(child: &std::process::Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// A stop asked for while the server starts up (its listener answers before the first-run setup
/// is done) is a clean stop, as `docker stop` right after a start should be.
#[test]
fn a_sigterm_during_start_up_is_a_clean_stop() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, _) = serve_sandbox(dir.path());
    sigterm(&child);
    let exit = child.wait().unwrap();
    assert!(
        exit.success(),
        "a clean exit, not killed by the signal: {exit:?}"
    );
}

#[test]
fn serve_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port) = serve_sandbox(dir.path());
    assert_eq!(
        send(
            "GET",
            &format!("http://127.0.0.1:{port}/healthz"),
            &[],
            None
        )
        .status,
        200
    );
    sigterm(&child);
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert!(
        out.contains("API key       mps_live_"),
        "first run prints the demo key: {out}"
    );
    assert!(
        dir.path().join("serve.db.key").exists(),
        "a key file is created beside the database"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(dir.path().join("serve.db.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
}

#[test]
fn operator_create_reads_the_password_from_stdin() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ops.db");
    let create = |email: &str, password: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mypostshare"))
            .arg("--db")
            .arg(&db)
            .args([
                "--json",
                "operator",
                "create",
                "--email",
                email,
                "--password-stdin",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let output = create("Ops@Example.com", "a long enough password");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.trim().lines().count(), 1, "{stdout}");
    let operator: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(operator["email"], "ops@example.com");
    assert!(operator["id"].is_string() && operator["createdAt"].is_string());
    assert!(!stdout.contains("a long enough password"));
    let duplicate = create("ops@example.com", "a long enough password");
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already exists"));
    let short = create("two@example.com", "short");
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 10 characters"));
}

/// `webhook add|list|rotate|test|remove`: the secret is printed once, a queued test event is
/// sent by the server started on the same file, signed with the secret the CLI printed.
#[test]
fn webhook_endpoints_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli-webhooks.db");
    let org = run(&db, &["org", "create", "--name", "Hooks"]);
    let org_id = org["id"].as_str().unwrap();
    let app = run(&db, &["app", "create", "--org", org_id, "--name", "Hooked"]);
    let app_id = app["id"].as_str().unwrap();
    let receiver = crate::webhooks::Receiver::start();
    let url = receiver.url("/cli");

    let refused = fails(&db, &["webhook", "add", "--app", app_id, "--url", &url]);
    assert!(
        refused.contains("loopback, private or link-local"),
        "{refused}"
    );
    let added = run(
        &db,
        &[
            "webhook",
            "add",
            "--app",
            app_id,
            "--url",
            &url,
            "--event",
            "post.published",
            "--event",
            "post.failed",
            "--allow-private",
        ],
    );
    let id = added["id"].as_str().unwrap().to_string();
    let secret = added["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(
        added["eventTypes"],
        serde_json::json!(["post.published", "post.failed"])
    );
    let listed = run(&db, &["webhook", "list", "--app", app_id]);
    assert_eq!(listed["endpoints"][0]["id"], id.as_str());
    assert!(
        !listed.to_string().contains(&secret),
        "the secret is shown once"
    );

    let rotated = run(&db, &["webhook", "rotate", "--app", app_id, "--id", &id]);
    let new = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(new, secret);
    let queued = run(&db, &["webhook", "test", "--app", app_id, "--id", &id]);
    assert_eq!(queued["status"], "pending");
    assert_eq!(queued["eventType"], "webhook.test");

    receiver.secrets(&[&secret, &new]);
    let server = crate::idempotency_crash::Server::start_with_secret(&db, CLI_SECRET);
    let delivery = receiver.next();
    assert_eq!(delivery["body"]["type"], "webhook.test");
    assert_eq!(delivery["verified"], serde_json::json!([true, true]));
    server.kill();

    run(&db, &["webhook", "remove", "--app", app_id, "--id", &id]);
    assert_eq!(
        run(&db, &["webhook", "list", "--app", app_id])["endpoints"],
        serde_json::json!([])
    );
    let error = fails(&db, &["webhook", "remove", "--app", app_id, "--id", &id]);
    assert!(error.contains("no webhook endpoint"), "{error}");

    let threshold = run(
        &db,
        &[
            "credits",
            "set-low-threshold",
            "--org",
            org_id,
            "--credits",
            "25",
        ],
    );
    assert_eq!(threshold["creditsLowThreshold"], 25);
}
