//! Continuous replication with Litestream, run for real with the shipped `deploy/litestream.yml`:
//! the appliance (the binary, `serve --sandbox`, autocheckpoints off as the file says) publishes
//! posts while Litestream streams its database to a file replica; the appliance is SIGKILLed;
//! `litestream restore` rebuilds the database in a new directory, which passes `check` and
//! serves every post the API acknowledged.
//!
//! Litestream comes from the npm registry (`@flydotio/litestream-linux-x64`); `scripts/test.sh`
//! installs it and sets `LITESTREAM_BIN`. Without it this test fails rather than pass unseen.

use crate::support::{ChildServer, bootstrap_with_cli, connect_at, mypostshare_ok};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const KEY: &str = "replication test secret key material, long";

/// Where scripts/test.sh installs Litestream when `LITESTREAM_BIN` is not set.
const INSTALLED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/target/tools/node_modules/@flydotio/litestream-linux-x64/litestream"
);

fn litestream_bin() -> PathBuf {
    let path = std::env::var_os("LITESTREAM_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(INSTALLED));
    assert!(
        path.is_file(),
        "no Litestream binary at {}: run ./scripts/test.sh (it installs it) or set LITESTREAM_BIN",
        path.display()
    );
    path
}

fn config_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/litestream.yml")
}

/// `litestream` with the shipped configuration, for the database `db` and the replica `replica`.
fn litestream(db: &Path, replica: &Path) -> Command {
    let mut command = Command::new(litestream_bin());
    command
        .env("MYPOSTSHARE_DB", db)
        .env("LITESTREAM_REPLICA_PATH", replica);
    command
}

/// Restores the replica's latest state into `out`; returns the file.
fn restore(db: &Path, replica: &Path, out: &Path) -> PathBuf {
    let output = litestream(db, replica)
        .arg("restore")
        .arg("-config")
        .arg(config_file())
        .arg("-o")
        .arg(out)
        .arg(db)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "litestream restore: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    out.to_path_buf()
}

/// Post ids in a restored copy.
fn post_ids(file: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(file).unwrap();
    let mut stmt = conn.prepare("SELECT id FROM post_requests").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// Restores the replica into scratch files until it holds every post of `expected`; the deadline
/// only ends a broken run (Litestream ships a second's frames a second after they are written).
fn wait_until_replicated(
    db: &Path,
    replica: &Path,
    scratch: &Path,
    expected: &BTreeMap<String, String>,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    for attempt in 0.. {
        let out = scratch.join(format!("poll-{attempt}.db"));
        if replica.exists() {
            let ids = post_ids(&restore(db, replica, &out));
            if expected.keys().all(|id| ids.contains(id)) {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the replica never held every acknowledged post"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn publish(server: &ChildServer, api_key: &str, content: &str) -> (String, String) {
    let reply = server.call(
        api_key,
        "POST",
        "/api/v1/posts",
        Some(json!({"externalUserId": "u1", "content": content, "platforms": ["linkedin"]})),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let post = reply.json();
    assert_eq!(post["status"], "published", "{post}");
    (
        post["id"].as_str().unwrap().to_string(),
        content.to_string(),
    )
}

#[test]
fn a_killed_appliance_is_restored_from_litestream_with_every_acknowledged_post() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    let db = live.join("mypostshare.db");
    let replica = dir.path().join("replica");
    let scratch = dir.path().join("scratch");
    std::fs::create_dir_all(&live).unwrap();
    std::fs::create_dir_all(&scratch).unwrap();
    let (_, api_key) = bootstrap_with_cli(&db, Some(KEY));

    let log = std::fs::File::create(dir.path().join("litestream.log")).unwrap();
    let _litestream = Guard(
        litestream(&db, &replica)
            .arg("replicate")
            .arg("-config")
            .arg(config_file())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let server = ChildServer::start(&db, KEY, &[("MYPOSTSHARE_WAL_AUTOCHECKPOINT", "0")]);
    let user = server.call(
        &api_key,
        "POST",
        "/api/v1/end-users",
        Some(json!({"externalUserId": "u1"})),
    );
    assert_eq!(user.status, 201, "{}", user.body);
    connect_at(&server.base, &api_key, "u1", "linkedin", "Alex Morgan");

    let mut acknowledged = BTreeMap::new();
    for n in 0..5 {
        let (id, content) = publish(&server, &api_key, &format!("synced before the kill #{n}"));
        acknowledged.insert(id, content);
    }
    wait_until_replicated(&db, &replica, &scratch, &acknowledged);
    // Acknowledged, and killed at once: committed to the WAL, maybe not yet shipped.
    for n in 0..3 {
        let (id, content) = publish(&server, &api_key, &format!("just before the kill #{n}"));
        acknowledged.insert(id, content);
    }
    server.kill();
    // Litestream, still running, ships what the killed process had committed.
    wait_until_replicated(&db, &replica, &scratch, &acknowledged);
    drop(_litestream);

    let restored_dir = dir.path().join("restored");
    std::fs::create_dir_all(&restored_dir).unwrap();
    let restored = restore(&db, &replica, &restored_dir.join("mypostshare.db"));
    let checked = mypostshare_ok(&restored, &["check"], Some(KEY));
    assert_eq!(checked["ok"], true, "{checked}");

    let server = ChildServer::start(&restored, KEY, &[]);
    let listed = server.call(&api_key, "GET", "/api/v1/posts?limit=200", None);
    assert_eq!(listed.status, 200, "{}", listed.body);
    let found: BTreeMap<String, Value> = listed
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap().to_string(), p.clone()))
        .collect();
    for (id, content) in &acknowledged {
        let post = found
            .get(id)
            .unwrap_or_else(|| panic!("post {id} ({content}) lost"));
        assert_eq!(post["content"], content.as_str());
        assert_eq!(post["status"], "published");
    }
}

/// The S3 example of the shipped file is commented out; uncommented, Litestream reads it.
#[test]
fn the_shipped_litestream_config_reads_with_its_s3_example_enabled() {
    let text = std::fs::read_to_string(config_file()).unwrap();
    let marker = "      # - type: s3";
    let at = text.find(marker).expect("the S3 example");
    let example: String = text[at..]
        .lines()
        .map(|line| line.replacen("# ", "", 1))
        .collect::<Vec<_>>()
        .join("\n");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("litestream.yml");
    std::fs::write(&config, format!("{}{example}\n", &text[..at])).unwrap();
    let output = litestream(&dir.path().join("x.db"), &dir.path().join("replica"))
        .env("LITESTREAM_ACCESS_KEY_ID", "id")
        .env("LITESTREAM_SECRET_ACCESS_KEY", "secret")
        .arg("databases")
        .arg("-config")
        .arg(&config)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && listed.contains("file,s3"),
        "{listed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
