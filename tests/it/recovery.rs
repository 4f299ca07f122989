//! Backup, restore, check and key rotation, run as the real binary on database files.
//! `restore` refuses while a server or any other process holds the database, checks a backup
//! before anything changes, migrates an older one, and keeps the replaced database aside whole
//! (what a killed server left in its WAL included). `check` finds what the schema's foreign keys
//! do not. `rotate-secret-key` re-seals every secret: a connection keeps publishing through the
//! simulator under the new key, and the old key opens nothing.

use crate::support::{
    ChildServer, REDIRECT, TestApp, bootstrap_with_cli, decide_at, free_port, mypostshare,
    mypostshare_fails, mypostshare_ok, open_consent_page_at, query_value, send,
};
use mypostshare::clock::SystemClock;
use mypostshare::config::{Config, sandbox_platform_endpoints};
use mypostshare::crypto::{MasterKey, Sealer};
use mypostshare::db::SCHEMA_VERSION;
use serde_json::{Value, json};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEY: &str = "recovery test secret key material, long enough";

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

fn external_user_ids(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT external_user_id FROM end_users ORDER BY 1")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// Files a restore leaves or a failed one must not: replaced databases, staging copies.
fn restore_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".replaced-") || n.contains(".restoring-"))
        .collect();
    names.sort();
    names
}

#[test]
fn restore_swaps_in_a_checked_backup_and_keeps_the_replaced_database_whole() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    let (_, api_key) = bootstrap_with_cli(&db, Some(KEY));
    let backup = dir.path().join("backup.db");
    mypostshare_ok(
        &db,
        &["backup", "--to", backup.to_str().unwrap()],
        Some(KEY),
    );
    let restore = ["restore", "--from", backup.to_str().unwrap()];

    let server = ChildServer::start(&db, KEY, &[]);
    let user = server.call(
        &api_key,
        "POST",
        "/api/v1/end-users",
        Some(json!({"externalUserId": "after-backup"})),
    );
    assert_eq!(user.status, 201, "{}", user.body);
    for args in [&restore[..], &["rotate-secret-key"][..]] {
        let refused = mypostshare_fails(&db, args, Some(KEY));
        assert!(
            refused.contains("is in use by a running mypostshare (serve, pid"),
            "{args:?}: {refused}"
        );
    }
    // Killed, the server leaves the end user committed in the WAL only: a copy of the main
    // file alone (the copy by hand that must never be made) does not have it.
    server.kill();
    assert!(std::fs::metadata(with_suffix(&db, "-wal")).unwrap().len() > 0);
    let main_file_only = dir.path().join("main-file-only.db");
    std::fs::copy(&db, &main_file_only).unwrap();
    assert_eq!(external_user_ids(&main_file_only), Vec::<String>::new());

    let restored = mypostshare_ok(&db, &restore, Some(KEY));
    assert_eq!(restored["backupSchemaVersion"], SCHEMA_VERSION);
    assert_eq!(restored["schemaVersion"], SCHEMA_VERSION);
    assert_eq!(restored["migrated"], false);
    assert_eq!(restored["unreadableSecrets"], 0);
    assert_eq!(
        restored["replaced"]["wal"],
        Value::Null,
        "the WAL was folded into the replaced file: {restored}"
    );
    let replaced = PathBuf::from(restored["replaced"]["database"].as_str().unwrap());
    assert_eq!(
        restore_files(dir.path()),
        [replaced.file_name().unwrap().to_string_lossy()]
    );
    // The replaced database is whole, the end user from its WAL included; the restored one is
    // the backup, and a server runs on it with the same API key.
    assert_eq!(external_user_ids(&replaced), ["after-backup"]);
    for leftover in ["-wal", "-shm"] {
        assert!(
            !with_suffix(&db, leftover).exists(),
            "{leftover} left behind"
        );
    }
    assert_eq!(external_user_ids(&db), Vec::<String>::new());
    assert_eq!(mypostshare_ok(&db, &["check"], Some(KEY))["ok"], true);
    let server = ChildServer::start(&db, KEY, &[]);
    let gone = server.call(&api_key, "GET", "/api/v1/end-users/after-backup", None);
    assert_eq!(gone.status, 404, "{}", gone.body);
    server.kill();

    // Another process with the file open (Litestream, a sqlite3 shell) is not a mypostshare
    // server, and holds no lock file: SQLite itself tells, and nothing changes.
    let shell = rusqlite::Connection::open(&db).unwrap();
    let _: i64 = shell
        .query_row("SELECT COUNT(*) FROM end_users", [], |r| r.get(0))
        .unwrap();
    let refused = mypostshare_fails(&db, &restore, Some(KEY));
    assert!(refused.contains("another process has"), "{refused}");
    drop(shell);
    assert_eq!(
        restore_files(dir.path()).len(),
        1,
        "nothing new was set aside"
    );
}

#[test]
fn restore_refuses_a_backup_it_cannot_trust_and_migrates_an_older_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    bootstrap_with_cli(&db, Some(KEY));
    let good = dir.path().join("good.db");
    mypostshare_ok(&db, &["backup", "--to", good.to_str().unwrap()], Some(KEY));
    let before = std::fs::read(&db).unwrap();

    let foreign = dir.path().join("notes.txt");
    std::fs::write(&foreign, "not a database at all, just some text").unwrap();
    let damaged = dir.path().join("damaged.db");
    let mut bytes = std::fs::read(&good).unwrap();
    // Page 2, the root page of the first table, overwritten.
    bytes[4096..4096 + 64].fill(0xff);
    std::fs::write(&damaged, bytes).unwrap();
    let newer = dir.path().join("newer.db");
    std::fs::copy(&good, &newer).unwrap();
    rusqlite::Connection::open(&newer)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    let other_app = dir.path().join("other.db");
    rusqlite::Connection::open(&other_app)
        .unwrap()
        .execute_batch("CREATE TABLE notes (body TEXT)")
        .unwrap();
    for (backup, expected) in [
        (&foreign, "is not a readable SQLite database".to_string()),
        (&damaged, "fails SQLite's integrity check".to_string()),
        (
            &newer,
            format!(
                "is at schema version {}, newer than this binary's {SCHEMA_VERSION}",
                SCHEMA_VERSION + 1
            ),
        ),
        (&other_app, "is not a mypostshare database".to_string()),
    ] {
        let refused = mypostshare_fails(
            &db,
            &["restore", "--from", backup.to_str().unwrap()],
            Some(KEY),
        );
        assert!(
            refused.contains(&expected),
            "{}: {refused}",
            backup.display()
        );
    }
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "the database is untouched"
    );
    assert_eq!(restore_files(dir.path()), Vec::<String>::new());

    // A backup of schema version 1 goes in migrated, and checks clean.
    let v1 = dir.path().join("v1.db");
    let at = "2026-03-21T08:00:00.000Z";
    let conn = rusqlite::Connection::open(&v1).unwrap();
    conn.execute_batch(include_str!("../../schema.sql"))
        .unwrap();
    conn.execute_batch(&format!(
        "PRAGMA user_version = 1;
         INSERT INTO organizations (id, name, created_at, updated_at) VALUES ('o1', 'Old org', '{at}', '{at}');"
    ))
    .unwrap();
    drop(conn);
    let restored = mypostshare_ok(&db, &["restore", "--from", v1.to_str().unwrap()], Some(KEY));
    assert_eq!(restored["backupSchemaVersion"], 1);
    assert_eq!(restored["migrated"], true);
    assert_eq!(restored["schemaVersion"], SCHEMA_VERSION);
    let checked = mypostshare_ok(&db, &["check"], Some(KEY));
    assert_eq!(checked["schemaVersion"], SCHEMA_VERSION);
    assert_eq!(checked["ok"], true, "{checked}");
}

#[test]
fn check_passes_a_healthy_database_and_reports_what_is_broken() {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect_linkedin("u1", "Alex Morgan");
    let post = app.publish("u1", "checked");
    assert_eq!(post.status, 201, "{}", post.body);
    assert_eq!(post.json()["status"], "published");
    let db = app.dir.path().join("test.db");
    let test_key = "test master key material, 32+ chars";

    let healthy = mypostshare_ok(&db, &["check"], Some(test_key));
    assert_eq!(healthy["ok"], true, "{healthy}");
    assert_eq!(healthy["problems"], 0);
    let tokens = healthy["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == "access_token_enc")
        .unwrap();
    assert_eq!(
        (tokens["sealed"].as_u64(), tokens["unreadable"].as_u64()),
        (Some(1), Some(0))
    );

    // Edits made behind the appliance's back, as a sqlite3 shell makes them (foreign keys off).
    let other_key = Sealer::new(&MasterKey::from_material("another instance's key material"));
    let shell = rusqlite::Connection::open(&db).unwrap();
    shell
        .execute_batch(
            "PRAGMA foreign_keys = OFF;
             INSERT INTO api_keys (id, app_id, name, prefix, key_hash, created_at)
                 VALUES ('stray-key', 'no-such-app', 'stray', 'mps_x', 'hash', '2026-01-01T00:00:00.000Z');
             UPDATE organizations SET credit_balance = credit_balance + 7;
             UPDATE social_connections SET platform = 'myspace';",
        )
        .unwrap();
    shell
        .execute(
            "UPDATE social_connections SET access_token_enc = ?1",
            [other_key.seal("a token sealed elsewhere")],
        )
        .unwrap();
    drop(shell);

    let output = mypostshare(&db, &["check"], Some(test_key), None);
    assert!(!output.status.success());
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["integrity"], json!([]));
    assert_eq!(
        report["foreignKeys"],
        json!([{"table": "api_keys", "rowid": report["foreignKeys"][0]["rowid"], "id": "stray-key", "parent": "apps"}])
    );
    let broken: Vec<(String, String)> = report["consistency"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["check"].as_str().unwrap().to_string(),
                f["table"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for expected in [
        ("balance_differs_from_ledger", "organizations"),
        ("delivery_connection_mismatch", "post_deliveries"),
        ("unknown_platform", "social_connections"),
    ] {
        assert!(
            broken.contains(&(expected.0.into(), expected.1.into())),
            "{expected:?} in {broken:?}"
        );
    }
    let tokens = report["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == "access_token_enc")
        .unwrap();
    assert_eq!(tokens["unreadable"], 1);
    let counted: u64 = report["consistency"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["count"].as_u64().unwrap())
        .sum::<u64>()
        + 1
        + 1;
    assert_eq!(report["problems"].as_u64(), Some(counted), "{report}");

    // Without --json: a report a person reads, and the exit status says it failed.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_mypostshare"))
        .arg("--db")
        .arg(&db)
        .arg("check")
        .env("MYPOSTSHARE_SECRET_KEY", test_key)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let human = String::from_utf8(output.stdout).unwrap();
    for expected in [
        "integrity     ok",
        "foreign keys  1 row pointing at nothing",
        "api_keys stray-key -> missing apps",
        "balance_differs_from_ledger",
        "the platform is not one this binary knows",
        "social_connections.access_token_enc: 1 of 1 do not open",
        &format!("{counted} problems found."),
    ] {
        assert!(human.contains(expected), "{expected:?} in:\n{human}");
    }
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("problems")
    );
}

/// A child process killed when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `mypostshare sandbox` alone, with one LinkedIn client: a platform whose signing keys are its
/// own, as a real platform's are, so the tokens it issued outlive the appliance's key.
fn standalone_linkedin(callback: &str) -> (Guard, String) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_mypostshare"))
        .args([
            "sandbox",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--client",
            &format!("linkedin:acme-li:acme-li-secret:{callback}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = Guard(child);
    let deadline = Instant::now() + Duration::from_secs(120);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the simulator did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (guard, format!("http://127.0.0.1:{port}"))
}

fn publish(base: &str, api_key: &str, content: &str) -> Value {
    let reply = send(
        "POST",
        &format!("{base}/api/v1/posts"),
        &[
            ("Authorization", &format!("Bearer {api_key}")),
            ("Content-Type", "application/json"),
        ],
        Some(
            &json!({"externalUserId": "u1", "content": content, "platforms": ["linkedin"]})
                .to_string(),
        ),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json()
}

#[test]
fn rotating_the_secret_key_reseals_every_secret_and_the_connection_keeps_publishing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rot.db");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let callback = format!(
        "http://{}/oauth/callback/linkedin",
        listener.local_addr().unwrap()
    );
    let (_simulator, sim) = standalone_linkedin(&callback);
    // The key file, not the environment: the first command that seals a secret creates it.
    let (app_id, api_key) = bootstrap_with_cli(&db, None);
    mypostshare_ok(
        &db,
        &[
            "credentials",
            "set",
            "--app",
            &app_id,
            "--platform",
            "linkedin",
            "--client-id",
            "acme-li",
            "--client-secret",
            "acme-li-secret",
        ],
        None,
    );
    let key_file = dir.path().join("rot.db.key");
    let old_key = std::fs::read_to_string(&key_file).unwrap();
    let start = |listener: TcpListener, key: &str| {
        let mut config = Config::new(&db, MasterKey::from_material(key.trim()));
        config.endpoints = sandbox_platform_endpoints(&sim, &sim);
        config.jobs.dispatch_due_deliveries = String::new();
        config.jobs.recover_expired_leases = String::new();
        config.jobs.refresh_expiring_tokens = String::new();
        mypostshare::start(config, listener, Arc::new(SystemClock)).expect("the appliance starts")
    };

    let running = start(listener, &old_key);
    let base = running.base_url();
    let user = send(
        "POST",
        &format!("{base}/api/v1/end-users"),
        &[
            ("Authorization", &format!("Bearer {api_key}")),
            ("Content-Type", "application/json"),
        ],
        Some(r#"{"externalUserId": "u1"}"#),
    );
    assert_eq!(user.status, 201, "{}", user.body);
    let session = send(
        "POST",
        &format!("{base}/api/v1/connect-sessions"),
        &[
            ("Authorization", &format!("Bearer {api_key}")),
            ("Content-Type", "application/json"),
        ],
        Some(
            &json!({"externalUserId": "u1", "platform": "linkedin", "redirectUri": REDIRECT})
                .to_string(),
        ),
    );
    assert_eq!(session.status, 201, "{}", session.body);
    let form = open_consent_page_at(&base, session.json()["connectUrl"].as_str().unwrap());
    let done = send(
        "GET",
        &decide_at(&sim, &form, "allow", "Alex Morgan"),
        &[],
        None,
    );
    assert_eq!(done.status, 302, "{}", done.body);
    let location = done.header("location").unwrap();
    assert_eq!(
        query_value(location, "status").as_deref(),
        Some("connected"),
        "{location}"
    );
    assert_eq!(
        publish(&base, &api_key, "before the rotation")["status"],
        "published"
    );
    drop(running);

    let rotated = mypostshare_ok(&db, &["rotate-secret-key"], None);
    let resealed: Vec<(String, u64)> = rotated["resealed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                format!(
                    "{}.{}",
                    r["table"].as_str().unwrap(),
                    r["column"].as_str().unwrap()
                ),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        resealed,
        [
            ("connect_sessions.pkce_verifier_enc".to_string(), 0),
            ("provider_credentials.client_secret_enc".to_string(), 1),
            ("social_connections.access_token_enc".to_string(), 1),
            ("social_connections.refresh_token_enc".to_string(), 0),
            ("social_connections.platform_data_enc".to_string(), 0),
            ("webhook_endpoints.secret_enc".to_string(), 0),
            ("webhook_endpoints.previous_secret_enc".to_string(), 0),
        ]
    );
    assert_eq!(rotated["keySource"], "file");
    assert_eq!(rotated["keyFile"], key_file.to_str().unwrap());
    let new_key = std::fs::read_to_string(&key_file).unwrap();
    assert_ne!(new_key, old_key);
    let kept = rotated["oldKeyFile"].as_str().unwrap();
    assert_eq!(
        std::fs::read_to_string(kept).unwrap(),
        old_key,
        "kept for older backups"
    );

    // The old key opens none of the stored secrets any more; the key file's opens them all.
    let stale = mypostshare(&db, &["check"], Some(old_key.trim()), None);
    assert!(!stale.status.success());
    let stale: Value = serde_json::from_slice(&stale.stdout).unwrap();
    for column in stale["secrets"].as_array().unwrap() {
        assert_eq!(column["unreadable"], column["sealed"], "{column}");
    }
    assert_eq!(stale["problems"], 2);
    assert_eq!(mypostshare_ok(&db, &["check"], None)["ok"], true);

    // Restarted with the new key, the connection's token opens and publishes.
    let running = start(TcpListener::bind("127.0.0.1:0").unwrap(), &new_key);
    let base = running.base_url();
    assert_eq!(
        publish(&base, &api_key, "after the rotation")["status"],
        "published"
    );
    let accepted: Vec<Value> = send("GET", &format!("{sim}/_sim/linkedin/posts"), &[], None)
        .json()
        .as_array()
        .cloned()
        .unwrap();
    let texts: Vec<String> = accepted.iter().map(|p| p.to_string()).collect();
    assert_eq!(accepted.len(), 2, "{texts:?}");
    assert!(texts[1].contains("after the rotation"), "{texts:?}");
}

#[test]
fn rotating_a_key_kept_in_the_environment_takes_the_new_key_from_stdin() {
    let old = "the old key, given in MYPOSTSHARE_SECRET_KEY, long";
    let new = "the new key, read from stdin by the rotation, long";
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("env.db");
    let (app_id, _) = bootstrap_with_cli(&db, Some(old));
    mypostshare_ok(
        &db,
        &[
            "credentials",
            "set",
            "--app",
            &app_id,
            "--platform",
            "reddit",
            "--client-id",
            "r",
            "--client-secret",
            "reddit-secret",
        ],
        Some(old),
    );
    let rotate = ["rotate-secret-key", "--new-key-stdin"];
    let refusal = |key: &str, stdin: Option<&str>, args: &[&str]| {
        let output = mypostshare(&db, args, Some(key), stdin);
        assert!(!output.status.success());
        String::from_utf8(output.stderr).unwrap()
    };
    assert!(refusal(old, None, &["rotate-secret-key"]).contains("--new-key-stdin"));
    assert!(refusal(old, Some("short\n"), &rotate).contains("at least 32 characters"));
    assert!(refusal(old, Some(&format!("{old}\n")), &rotate).contains("is the current key"));
    let wrong = "a key that never sealed anything here";
    assert!(
        refusal(wrong, Some(&format!("{new}\n")), &rotate)
            .contains("provider_credentials.client_secret_enc: 1 of 1")
    );
    assert_eq!(
        mypostshare_ok(&db, &["check"], Some(old))["ok"],
        true,
        "nothing changed"
    );

    let output = mypostshare(&db, &rotate, Some(old), Some(&format!("{new}\n")));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rotated: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(rotated["keySource"], "env");
    assert_eq!(rotated["keyFile"], Value::Null);
    assert!(
        !dir.path().join("env.db.key").exists(),
        "no key file is written"
    );
    assert_eq!(mypostshare_ok(&db, &["check"], Some(new))["ok"], true);
    let stale = mypostshare(&db, &["check"], Some(old), None);
    assert!(!stale.status.success());
}
