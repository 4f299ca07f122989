//! Putting an instance back: the lock a server holds on its database, `restore` (a backup
//! checked, migrated and swapped in, the replaced files kept aside), `check` (a readable report,
//! non-zero exit when something is wrong) and `rotate-secret-key` (every sealed secret re-sealed
//! under a new master key in one transaction, then the key file replaced). This module handles
//! files, locks and keys; the SQL is in `services::maintenance`.
//!
//! Why a lock file: a server's pooled connections sit idle between requests holding no SQLite
//! lock a probe could see (in WAL mode `BEGIN EXCLUSIVE` succeeds beside an idle server), so
//! `serve` holds an advisory `flock` on `<db>.lock` for its whole life instead. The kernel drops
//! it when the process ends, however it ends (SIGKILL included), so it never goes stale the way
//! a pid file does. `restore` and `rotate-secret-key` take the same lock, so a server cannot
//! start while they work. It only knows mypostshare processes: `restore` additionally asks
//! SQLite whether anyone else (Litestream, a `sqlite3` shell) has the file open.

use crate::config;
use crate::crypto::{self, MasterKey, Sealer};
use crate::db::{Db, SCHEMA_VERSION};
use crate::error::Error;
use crate::services::maintenance::{self, Finding, ForeignKeyViolation, SealedColumnReport};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

const ACTOR: &str = "cli";

/// `<db><suffix>` in the database's directory (`app.db` + `.lock` = `app.db.lock`).
fn sidecar(db_path: &Path, suffix: &str) -> PathBuf {
    let mut name = db_path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "mypostshare.db".into());
    name.push(suffix);
    db_path.with_file_name(name)
}

/// Where Litestream 0.3 keeps its local state for a database: `.<name>-litestream` beside it.
fn litestream_dir(db_path: &Path) -> PathBuf {
    let name = db_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    db_path.with_file_name(format!(".{name}-litestream"))
}

fn next_key_path(db_path: &Path) -> PathBuf {
    sidecar(db_path, ".key.next")
}

/// A time in file names: sortable, no colons.
fn stamp(now: DateTime<Utc>) -> String {
    now.format("%Y%m%dT%H%M%S%.3fZ").to_string()
}

fn cause(e: Error) -> String {
    e.cause.unwrap_or(e.message)
}

fn show(path: &Path) -> String {
    path.display().to_string()
}

/// An exclusive advisory lock on `<db>.lock`, released when dropped or when the process dies.
pub struct DatabaseLock {
    _file: File,
}

impl DatabaseLock {
    /// Takes the lock without waiting; `holder` ("serve", "restore") is written into the file
    /// so that whoever is refused learns who holds it.
    pub fn acquire(db_path: &Path, holder: &str) -> Result<Self, String> {
        let path = sidecar(db_path, ".lock");
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        }
        // Not truncated on open: the holder's line must survive a refused attempt.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| format!("opening {}: {e}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut who = String::new();
                let _ = file.read_to_string(&mut who);
                let who = who.trim();
                return Err(format!(
                    "{} is in use by a running mypostshare{} (it holds {}); stop it first",
                    db_path.display(),
                    if who.is_empty() {
                        String::new()
                    } else {
                        format!(" ({who})")
                    },
                    path.display()
                ));
            }
            Err(TryLockError::Error(e)) => {
                return Err(format!("locking {}: {e}", path.display()));
            }
        }
        let line = format!("{holder}, pid {}\n", std::process::id());
        file.set_len(0)
            .and_then(|()| file.write_all(line.as_bytes()))
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        Ok(Self { _file: file })
    }
}

/// Where the master key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeySource {
    Env,
    File,
}

/// The instance's master key if it has one: `MYPOSTSHARE_SECRET_KEY`, else the key file.
/// Unlike `config::load_or_create_master_key` this never creates a key file: a command that
/// reads secrets must not invent a key that opens none of them.
fn existing_master_key(db_path: &Path) -> Result<Option<(MasterKey, KeySource)>, String> {
    if let Some(material) = config::secret_key_from_env().filter(|m| !m.trim().is_empty()) {
        let key = config::load_or_create_master_key(Some(&material), db_path)
            .map_err(|e| e.to_string())?;
        return Ok(Some((key, KeySource::Env)));
    }
    let path = config::key_file_path(db_path);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some((
            MasterKey::from_material(text.trim()),
            KeySource::File,
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("reading {}: {e}", path.display())),
    }
}

fn sync_dir(path: &Path) -> Result<(), String> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("syncing {}: {e}", dir.display()))
}

fn rename(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::rename(from, to)
        .map_err(|e| format!("renaming {} to {}: {e}", from.display(), to.display()))
}

/// Writes a new file readable by its owner only, flushed to disk; fails if it exists.
fn write_private(path: &Path, contents: &str) -> Result<(), String> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("creating {}: {e}", path.display()))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// restore

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreReport {
    pub database: String,
    pub restored_from: String,
    pub backup_schema_version: i64,
    pub schema_version: i64,
    pub migrated: bool,
    /// The database that was there before, kept aside; `null` when there was none.
    pub replaced: Option<Replaced>,
    /// Sealed secrets of the restored database that this instance's key does not open (the
    /// backup was taken under another key); `null` when it holds some and the instance has no
    /// key yet.
    pub unreadable_secrets: Option<usize>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Replaced {
    pub database: String,
    /// The replaced database's WAL, when it could not be folded into the file.
    pub wal: Option<String>,
    /// Litestream's local state for the replaced database, moved along with it.
    pub litestream: Option<String>,
}

/// Replaces the database with the backup at `from`, which must pass `integrity_check` and be at
/// a schema version this binary knows (an older one is migrated before it goes in place).
pub fn restore(db_path: &Path, from: &Path, now: DateTime<Utc>) -> Result<RestoreReport, String> {
    if !from.is_file() {
        return Err(format!("{}: no such file", from.display()));
    }
    if db_path.exists() && std::fs::canonicalize(db_path).ok() == std::fs::canonicalize(from).ok() {
        return Err("the backup is the database itself".into());
    }
    let _lock = DatabaseLock::acquire(db_path, "restore")?;
    let stamp = stamp(now);
    let staging = sidecar(db_path, &format!(".restoring-{stamp}"));
    let result = restore_locked(db_path, from, &staging, &stamp);
    if result.is_err() {
        let _ = std::fs::remove_file(&staging);
        for suffix in ["-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(sidecar(&staging, suffix));
        }
    }
    result
}

fn restore_locked(
    db_path: &Path,
    from: &Path,
    staging: &Path,
    stamp: &str,
) -> Result<RestoreReport, String> {
    let backup_version = copy_checked_backup(from, staging)?;
    let migrated = backup_version < SCHEMA_VERSION;
    if migrated {
        Db::open(staging, 2).map_err(|e| {
            format!(
                "migrating the backup from schema version {backup_version}: {}",
                cause(e)
            )
        })?;
    }
    let unreadable_secrets = {
        let conn = maintenance::open_file(staging, false).map_err(cause)?;
        if !maintenance::make_self_contained(&conn).map_err(cause)? {
            return Err(format!(
                "{} is held open by another process",
                staging.display()
            ));
        }
        match existing_master_key(db_path)? {
            Some((key, _)) => Some(
                maintenance::sealed_values_report(&conn, &Sealer::new(&key))
                    .map_err(cause)?
                    .iter()
                    .map(|r| r.unreadable)
                    .sum(),
            ),
            // No key on this host: every sealed value is unreadable until one is put in place.
            None => match maintenance::sealed_value_count(&conn).map_err(cause)? {
                0 => Some(0),
                _ => None,
            },
        }
    };
    let replaced = if db_path.exists() {
        Some(swap_in(db_path, staging, stamp)?)
    } else {
        rename(staging, db_path)?;
        None
    };
    sync_dir(db_path)?;
    Ok(RestoreReport {
        database: show(db_path),
        restored_from: show(from),
        backup_schema_version: backup_version,
        schema_version: SCHEMA_VERSION,
        migrated,
        replaced,
        unreadable_secrets,
    })
}

/// Checks the backup and copies it to `staging` through SQLite (`VACUUM INTO`), which reads a
/// WAL beside the backup if there is one and writes one self-contained file. The backup itself
/// is only read. Returns its schema version.
fn copy_checked_backup(from: &Path, staging: &Path) -> Result<i64, String> {
    let wal = sidecar(from, "-wal");
    let shm = sidecar(from, "-shm");
    let had_wal_files = wal.exists() || shm.exists();
    let result = (|| {
        let conn = maintenance::open_file(from, true).map_err(cause)?;
        let not_sqlite = |e: Error| {
            format!(
                "{} is not a readable SQLite database: {}",
                from.display(),
                cause(e)
            )
        };
        let problems = maintenance::integrity_errors(&conn).map_err(not_sqlite)?;
        if !problems.is_empty() {
            return Err(format!(
                "{} fails SQLite's integrity check; nothing was changed:\n  {}",
                from.display(),
                problems.join("\n  ")
            ));
        }
        let version = maintenance::schema_version(&conn).map_err(not_sqlite)?;
        if version < 1 {
            return Err(format!(
                "{} is not a mypostshare database (its schema version is {version})",
                from.display()
            ));
        }
        if version > SCHEMA_VERSION {
            return Err(format!(
                "{} is at schema version {version}, newer than this binary's {SCHEMA_VERSION}: restore it with the mypostshare that wrote it, or a newer one; nothing was changed",
                from.display()
            ));
        }
        maintenance::vacuum_into(&conn, staging)
            .map_err(|e| format!("copying {}: {}", from.display(), cause(e)))?;
        Ok(version)
    })();
    // A read-only connection to a WAL-mode file creates empty -wal/-shm files beside it; remove
    // them again, so that restoring leaves the backup's directory as it was.
    if !had_wal_files && std::fs::metadata(&wal).is_ok_and(|m| m.len() == 0) {
        let _ = std::fs::remove_file(&wal);
        let _ = std::fs::remove_file(&shm);
    }
    result
}

/// Keeps the current database as `<db>.replaced-<stamp>` and puts `staging` in its place. Its
/// WAL is first folded into it (never copied by hand); that takes the only connection to the
/// file, which is also how we learn that no other process (Litestream, a `sqlite3` shell) still
/// has it open. The old file gets its second name by a hard link before the new one is renamed
/// over the first, so that a crash at any point leaves a whole database at `db_path`: never
/// none, which the next `serve` would fill with a new, empty one.
fn swap_in(db_path: &Path, staging: &Path, stamp: &str) -> Result<Replaced, String> {
    let target = sidecar(db_path, &format!(".replaced-{stamp}"));
    if target.exists() {
        return Err(format!("{} already exists", target.display()));
    }
    let folded = maintenance::open_file(db_path, false)
        .and_then(|conn| maintenance::make_self_contained(&conn));
    match folded {
        Ok(true) => {}
        Ok(false) => {
            return Err(format!(
                "another process has {} open (Litestream? a sqlite3 shell?): stop it, then restore again; nothing was changed",
                db_path.display()
            ));
        }
        // A damaged database may refuse; its files then move aside as they are, together.
        Err(e) => eprintln!(
            "warning: could not fold the WAL of {} into it ({}); moving its files aside as they are",
            db_path.display(),
            cause(e)
        ),
    }
    let linked = std::fs::hard_link(db_path, &target).is_ok();
    if !linked {
        // A filesystem without hard links: a plain rename, with that short window.
        rename(db_path, &target)?;
    }
    // A WAL left beside the name would be replayed into the restored database.
    let mut wal = None;
    let old_wal = sidecar(db_path, "-wal");
    if old_wal.exists() {
        let to = sidecar(&target, "-wal");
        rename(&old_wal, &to)?;
        wal = Some(show(&to));
    }
    // The shared-memory index is rebuilt from the WAL by whoever opens the file next.
    let _ = std::fs::remove_file(sidecar(db_path, "-shm"));
    rename(staging, db_path)?;
    // Litestream's local state describes the replaced database; its tips say to delete this
    // directory when a database is replaced and restart it. Moved, not deleted: it goes with
    // the file it describes.
    let mut litestream = None;
    let state = litestream_dir(db_path);
    if state.exists() {
        let to = litestream_dir(&target);
        rename(&state, &to)?;
        litestream = Some(show(&to));
    }
    Ok(Replaced {
        database: show(&target),
        wal,
        litestream,
    })
}

pub fn restore_command(
    db_path: &Path,
    from: &Path,
    json_mode: bool,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let report = restore(db_path, from, now)?;
    if json_mode {
        println!("{}", serde_json::to_value(&report).unwrap_or_default());
        return Ok(());
    }
    let mut out = format!(
        "Restored {} from {} (schema version {}{}).",
        report.database,
        report.restored_from,
        report.backup_schema_version,
        if report.migrated {
            format!(", migrated to {}", report.schema_version)
        } else {
            String::new()
        }
    );
    match &report.replaced {
        Some(replaced) => {
            out += &format!(
                "\nThe database it replaced is kept as {}.",
                replaced.database
            );
            if let Some(wal) = &replaced.wal {
                out += &format!(" Its WAL is kept beside it as {wal}.");
            }
            if let Some(state) = &replaced.litestream {
                out += &format!(
                    "\nLitestream's state for the replaced database moved to {state}: restart Litestream, which starts a new generation from the restored database."
                );
            }
        }
        None => out += "\nThere was no database to replace.",
    }
    match report.unreadable_secrets {
        Some(0) => {}
        Some(n) => {
            out += &format!(
                "\nWarning: {n} sealed secrets of the restored database do not open with this instance's key. Start the server with the key that was in use when the backup was taken (see `mypostshare check`)."
            )
        }
        None => {
            out += "\nThis instance has no key yet: put the key file (or MYPOSTSHARE_SECRET_KEY) of the instance the backup comes from in place before starting the server."
        }
    }
    println!("{out}");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// check

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    pub database: String,
    pub schema_version: i64,
    pub ok: bool,
    /// Everything wrong, counted: integrity errors, foreign key violations, rows breaking a
    /// consistency rule, secrets the key does not open, a schema this binary does not know.
    pub problems: usize,
    pub integrity: Vec<String>,
    pub foreign_keys: Vec<ForeignKeyViolation>,
    pub consistency: Vec<Finding>,
    /// One entry per sealed column; `null` when the instance has no key to try.
    pub secrets: Option<Vec<SealedColumnReport>>,
    pub notes: Vec<String>,
}

/// Checks the database file; reads only, and is safe while a server runs.
pub fn check(db_path: &Path) -> Result<CheckReport, String> {
    if !db_path.is_file() {
        return Err(format!("{}: no such database", db_path.display()));
    }
    let conn = maintenance::open_for_reading(db_path).map_err(cause)?;
    let unreadable = |e: Error| format!("{} cannot be read: {}", db_path.display(), cause(e));
    let schema_version = maintenance::schema_version(&conn).map_err(unreadable)?;
    let integrity = maintenance::integrity_errors(&conn).map_err(unreadable)?;
    let foreign_keys = maintenance::foreign_key_violations(&conn).map_err(unreadable)?;
    let mut notes = Vec::new();
    let mut problems = integrity.len() + foreign_keys.len();
    let consistency = if schema_version == SCHEMA_VERSION {
        maintenance::consistency_findings(&conn).map_err(cause)?
    } else if schema_version > SCHEMA_VERSION {
        problems += 1;
        notes.push(format!(
            "schema version {schema_version} is newer than this binary's {SCHEMA_VERSION}: check it with a newer mypostshare"
        ));
        Vec::new()
    } else {
        notes.push(format!(
            "schema version {schema_version} is older than this binary's {SCHEMA_VERSION}: the consistency rules were not checked; `mypostshare migrate` (or starting the server) brings it up to date"
        ));
        Vec::new()
    };
    problems += consistency.iter().map(|f| f.count).sum::<usize>();
    let secrets = match existing_master_key(db_path)? {
        Some((key, source)) => {
            let report =
                maintenance::sealed_values_report(&conn, &Sealer::new(&key)).map_err(cause)?;
            let bad: usize = report.iter().map(|r| r.unreadable).sum();
            if bad > 0 {
                problems += bad;
                notes.push(format!(
                    "{bad} sealed secrets do not open with the key from {}: the database was sealed under another key (a restored backup, a rotation), or the values are damaged",
                    match source {
                        KeySource::Env => "MYPOSTSHARE_SECRET_KEY".to_string(),
                        KeySource::File => show(&config::key_file_path(db_path)),
                    }
                ));
            }
            Some(report)
        }
        None => {
            notes.push(format!(
                "secrets not checked: MYPOSTSHARE_SECRET_KEY is unset and there is no key file {}",
                config::key_file_path(db_path).display()
            ));
            None
        }
    };
    Ok(CheckReport {
        database: show(db_path),
        schema_version,
        ok: problems == 0,
        problems,
        integrity,
        foreign_keys,
        consistency,
        secrets,
        notes,
    })
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn rows(n: usize) -> String {
    plural(n, "row", "rows")
}

impl CheckReport {
    /// The report as a person reads it.
    pub fn human(&self) -> String {
        let mut out = format!(
            "Checked {} (schema version {})\n",
            self.database, self.schema_version
        );
        let mut line = |label: &str, status: String| {
            out += &format!("  {label:<14}{status}\n");
        };
        line(
            "integrity",
            if self.integrity.is_empty() {
                "ok".into()
            } else {
                format!(
                    "{}\n{}",
                    plural(self.integrity.len(), "error", "errors"),
                    self.integrity
                        .iter()
                        .map(|e| format!("      - {e}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            },
        );
        line(
            "foreign keys",
            if self.foreign_keys.is_empty() {
                "ok".into()
            } else {
                format!(
                    "{} pointing at nothing\n{}",
                    rows(self.foreign_keys.len()),
                    self.foreign_keys
                        .iter()
                        .take(20)
                        .map(|v| format!(
                            "      - {} {} -> missing {}",
                            v.table,
                            v.id.clone().unwrap_or_default(),
                            v.parent
                        ))
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            },
        );
        line(
            "consistency",
            if self.consistency.is_empty() {
                "ok".into()
            } else {
                format!(
                    "{} broken\n{}",
                    plural(self.consistency.len(), "rule", "rules"),
                    self.consistency
                        .iter()
                        .map(|f| format!(
                            "      - {} ({}), {}: {} (e.g. {})",
                            f.table,
                            f.check,
                            rows(f.count),
                            f.problem,
                            f.sample.join(", ")
                        ))
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            },
        );
        line(
            "secrets",
            match &self.secrets {
                None => "not checked (no key)".into(),
                Some(columns) => {
                    let sealed: usize = columns.iter().map(|c| c.sealed).sum();
                    let bad: Vec<String> = columns
                        .iter()
                        .filter(|c| c.unreadable > 0)
                        .map(|c| {
                            format!(
                                "      - {}.{}: {} of {} do not open (e.g. {})",
                                c.table,
                                c.column,
                                c.unreadable,
                                c.sealed,
                                c.sample.join(", ")
                            )
                        })
                        .collect();
                    if bad.is_empty() {
                        format!("ok ({sealed} sealed values open with this instance's key)")
                    } else {
                        format!(
                            "{} columns with unreadable values\n{}",
                            bad.len(),
                            bad.join("\n")
                        )
                    }
                }
            },
        );
        for note in &self.notes {
            out += &format!("  note: {note}\n");
        }
        out += &if self.ok {
            "No problems found.".to_string()
        } else {
            format!("{} found.", plural(self.problems, "problem", "problems"))
        };
        out
    }
}

/// Prints the report (human or one JSON object) and fails when it found a problem, so that the
/// exit status tells scripts and health checks.
pub fn check_command(db_path: &Path, json_mode: bool) -> Result<(), String> {
    let report = check(db_path)?;
    if json_mode {
        println!("{}", serde_json::to_value(&report).unwrap_or_default());
    } else {
        println!("{}", report.human());
    }
    if report.ok {
        Ok(())
    } else {
        Err(format!(
            "{} has {} (see the report above)",
            report.database,
            plural(report.problems, "problem", "problems")
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// rotate-secret-key

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RotationReport {
    pub database: String,
    /// Values re-sealed, per sealed column.
    pub resealed: Vec<maintenance::Resealed>,
    /// "file" (the key file now holds the new key) or "env" (the operator must now set
    /// `MYPOSTSHARE_SECRET_KEY` to the new key).
    pub key_source: &'static str,
    pub key_file: Option<String>,
    /// The previous key, kept for the backups taken under it.
    pub old_key_file: Option<String>,
}

/// Re-seals every stored secret under a new master key in one transaction. With a key file, the
/// new key is written beside it first (`<db>.key.next`), the transaction commits, and the file
/// is renamed over the key file; `finish_interrupted_rotation` completes a run cut off between
/// the two. With `MYPOSTSHARE_SECRET_KEY`, the new key must be given (`new_material`) and the
/// operator sets the variable afterwards.
pub fn rotate_secret_key(
    db_path: &Path,
    new_material: Option<String>,
    now: DateTime<Utc>,
) -> Result<RotationReport, String> {
    if !db_path.is_file() {
        return Err(format!("{}: no such database", db_path.display()));
    }
    let _lock = DatabaseLock::acquire(db_path, "rotate-secret-key")?;
    if let Some(note) = finish_interrupted_rotation(db_path)? {
        eprintln!("{note}");
    }
    let (old_key, source) = existing_master_key(db_path)?.ok_or_else(|| {
        format!(
            "this instance has no key yet (MYPOSTSHARE_SECRET_KEY is unset and there is no {}): nothing to rotate",
            config::key_file_path(db_path).display()
        )
    })?;
    let new_material = match (new_material, source) {
        (Some(material), _) => {
            let material = material.trim().to_string();
            if material.len() < 32 {
                return Err(
                    "the new key must be at least 32 characters (e.g. `openssl rand -hex 32`)"
                        .into(),
                );
            }
            material
        }
        (None, KeySource::File) => crypto::hex(&crypto::random_bytes::<32>()),
        (None, KeySource::Env) => {
            return Err("the key comes from MYPOSTSHARE_SECRET_KEY: give the new key with --new-key-stdin, then set the variable to it".into());
        }
    };
    let new_key = MasterKey::from_material(&new_material);
    if new_key.derive("rotation check") == old_key.derive("rotation check") {
        return Err("the new key is the current key".into());
    }
    let key_file = config::key_file_path(db_path);
    let next = next_key_path(db_path);
    if source == KeySource::File {
        write_private(&next, &new_material)?;
    }
    let resealed = Db::open(db_path, 2)
        .and_then(|db| {
            db.write(|tx| {
                maintenance::reseal_all(
                    tx,
                    &Sealer::new(&old_key),
                    &Sealer::new(&new_key),
                    ACTOR,
                    now,
                )
            })
        })
        .map_err(|e| {
            let _ = std::fs::remove_file(&next);
            if e.code == crate::error::Code::InternalError {
                cause(e)
            } else {
                e.message
            }
        })?;
    let mut old_key_file = None;
    if source == KeySource::File {
        old_key_file = Some(promote_next_key(db_path, now)?);
    }
    Ok(RotationReport {
        database: show(db_path),
        resealed,
        key_source: match source {
            KeySource::Env => "env",
            KeySource::File => "file",
        },
        key_file: (source == KeySource::File).then(|| show(&key_file)),
        old_key_file,
    })
}

/// Keeps the current key file as `<db>.key.replaced-<stamp>` (a copy: the key file never
/// disappears, even for a moment, since an admin command finding none would create a new one),
/// then renames `<db>.key.next` over it. Returns the kept copy's path.
fn promote_next_key(db_path: &Path, now: DateTime<Utc>) -> Result<String, String> {
    let key_file = config::key_file_path(db_path);
    let kept = sidecar(db_path, &format!(".key.replaced-{}", stamp(now)));
    let old = std::fs::read_to_string(&key_file)
        .map_err(|e| format!("reading {}: {e}", key_file.display()))?;
    write_private(&kept, &old)?;
    rename(&next_key_path(db_path), &key_file)?;
    sync_dir(&key_file)?;
    Ok(show(&kept))
}

/// Completes or undoes a rotation that stopped between its commit and the key file's rename,
/// leaving `<db>.key.next`: whichever key opens the stored secrets is the one in force. Called
/// with the database lock held (by `serve` before it loads the key, and by the rotation).
/// Returns what it did, for the operator.
pub fn finish_interrupted_rotation(db_path: &Path) -> Result<Option<String>, String> {
    let next = next_key_path(db_path);
    if !next.exists() || config::secret_key_from_env().is_some_and(|k| !k.trim().is_empty()) {
        return Ok(None);
    }
    let key_file = config::key_file_path(db_path);
    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .map(|text| MasterKey::from_material(text.trim()))
            .map_err(|e| format!("reading {}: {e}", path.display()))
    };
    let (current, candidate) = (read(&key_file)?, read(&next)?);
    let conn = maintenance::open_for_reading(db_path).map_err(cause)?;
    let opened = |key: &MasterKey| -> Result<(usize, usize), String> {
        let report = maintenance::sealed_values_report(&conn, &Sealer::new(key)).map_err(cause)?;
        let sealed: usize = report.iter().map(|r| r.sealed).sum();
        let unreadable: usize = report.iter().map(|r| r.unreadable).sum();
        Ok((sealed, sealed - unreadable))
    };
    let (sealed, open_with_next) = opened(&candidate)?;
    let (_, open_with_current) = opened(&current)?;
    drop(conn);
    if sealed > 0 && open_with_next == sealed {
        let kept = promote_next_key(db_path, Utc::now())?;
        return Ok(Some(format!(
            "finished a key rotation interrupted after its commit: {} now holds the new key (the old one is kept in {kept})",
            key_file.display()
        )));
    }
    if open_with_current == sealed {
        std::fs::remove_file(&next).map_err(|e| format!("removing {}: {e}", next.display()))?;
        return Ok(Some(format!(
            "discarded {}, left by a key rotation that stopped before re-sealing anything; {} stays in force",
            next.display(),
            key_file.display()
        )));
    }
    Err(format!(
        "{} and {} each open only some of the stored secrets; keep both files and see `mypostshare check`",
        key_file.display(),
        next.display()
    ))
}

pub fn rotate_command(
    db_path: &Path,
    new_key_stdin: bool,
    json_mode: bool,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let new_material = if new_key_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| format!("reading the new key from stdin: {e}"))?;
        Some(line)
    } else {
        None
    };
    let report = rotate_secret_key(db_path, new_material, now)?;
    if json_mode {
        println!("{}", serde_json::to_value(&report).unwrap_or_default());
        return Ok(());
    }
    let total: usize = report.resealed.iter().map(|r| r.count).sum();
    let mut out = format!(
        "Re-sealed {total} secrets under the new key ({}).",
        report
            .resealed
            .iter()
            .map(|r| format!("{}.{}: {}", r.table, r.column, r.count))
            .collect::<Vec<_>>()
            .join(", ")
    );
    match (&report.key_file, &report.old_key_file) {
        (Some(key_file), Some(old)) => {
            out += &format!(
                "\nThe new key is in {key_file}: back it up now, apart from the database backups.\nThe old key is kept in {old}: backups taken before now need it, so store it with them, then delete it from this host."
            );
        }
        _ => {
            out += "\nSet MYPOSTSHARE_SECRET_KEY to the new key before starting the server: the stored secrets no longer open with the old one. Keep the old key with the backups taken before now.";
        }
    }
    println!("{out}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "the old key material, long enough for a key";
    const NEW: &str = "the new key material, long enough for a key";

    /// A database with one secret sealed under `sealed_with`, the key file holding `OLD` and
    /// `<db>.key.next` holding `NEW`: the state a rotation leaves when it stops between its
    /// commit (sealed under NEW) or before it (sealed under OLD) and the rename.
    fn interrupted(sealed_with: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("r.db");
        let db = Db::open(&db_path, 2).unwrap();
        let at = "2026-03-21T08:00:00.000Z";
        let sealed = Sealer::new(&MasterKey::from_material(sealed_with)).seal("client secret");
        db.write(|tx| {
            tx.execute_batch(&format!(
                "INSERT INTO organizations (id, name, created_at, updated_at) VALUES ('o', 'O', '{at}', '{at}');
                 INSERT INTO apps (id, org_id, name, created_at, updated_at) VALUES ('a', 'o', 'A', '{at}', '{at}');"
            ))?;
            tx.execute(
                "INSERT INTO provider_credentials (id, app_id, platform, client_id, client_secret_enc, created_at, updated_at)
                 VALUES ('c', 'a', 'linkedin', 'client', ?1, ?2, ?2)",
                rusqlite::params![sealed, at],
            )?;
            Ok(())
        })
        .unwrap();
        write_private(&config::key_file_path(&db_path), OLD).unwrap();
        write_private(&next_key_path(&db_path), NEW).unwrap();
        (dir, db_path)
    }

    fn key_file(db_path: &Path) -> String {
        std::fs::read_to_string(config::key_file_path(db_path)).unwrap()
    }

    #[test]
    fn a_rotation_cut_off_after_its_commit_is_finished() {
        let (_dir, db_path) = interrupted(NEW);
        let note = finish_interrupted_rotation(&db_path).unwrap().unwrap();
        assert!(note.contains("finished"), "{note}");
        assert_eq!(key_file(&db_path), NEW);
        assert!(!next_key_path(&db_path).exists());
        let kept: Vec<String> = std::fs::read_dir(db_path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("r.db.key.replaced-"))
            .collect();
        assert_eq!(kept.len(), 1, "the old key is kept for older backups");
        let kept = db_path.with_file_name(&kept[0]);
        assert_eq!(std::fs::read_to_string(kept).unwrap(), OLD);
        assert_eq!(finish_interrupted_rotation(&db_path).unwrap(), None);
    }

    #[test]
    fn a_rotation_cut_off_before_its_commit_is_undone() {
        let (_dir, db_path) = interrupted(OLD);
        let note = finish_interrupted_rotation(&db_path).unwrap().unwrap();
        assert!(note.contains("discarded"), "{note}");
        assert_eq!(key_file(&db_path), OLD);
        assert!(!next_key_path(&db_path).exists());
    }

    #[test]
    fn the_lock_is_exclusive_and_names_its_holder_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("l.db");
        let held = DatabaseLock::acquire(&db_path, "serve").unwrap();
        let refused = DatabaseLock::acquire(&db_path, "restore").err().unwrap();
        assert!(
            refused.contains(&format!("serve, pid {}", std::process::id())),
            "{refused}"
        );
        drop(held);
        DatabaseLock::acquire(&db_path, "restore").unwrap();
    }
}
