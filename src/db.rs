//! The SQLite pool, the pragmas every connection gets, migrations keyed on `PRAGMA
//! user_version`, and the two doors to the data: `read` (any pooled connection) and `write`
//! (one `BEGIN IMMEDIATE` transaction, so a read-then-write never fails on a lock upgrade).

use crate::error::{Error, Result};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

/// Each entry is one schema version; position + 1 is the `user_version` it leads to. A shipped
/// step is never edited: a database that already applied it would not see the change.
pub(crate) const MIGRATIONS: &[&str] = &[
    include_str!("../schema.sql"),
    include_str!("../migrations/0002_idempotency_recovery.sql"),
    // A file's number is its version, so its place in this list: a unit test holds the two
    // together (branches that each add a migration must renumber when they merge).
    include_str!("../migrations/0003_webhooks.sql"),
    include_str!("../migrations/0004_post_lifecycle.sql"),
    include_str!("../migrations/0005_rate_limits.sql"),
    include_str!("../migrations/0006_lease_holder.sql"),
    include_str!("../migrations/0007_connection_platform_data.sql"),
    include_str!("../migrations/0008_credential_api_host.sql"),
    include_str!("../migrations/0009_reconcile.sql"),
    include_str!("../migrations/0010_deletions.sql"),
];

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<SqliteConnectionManager>,
}

/// SQLite's own default: after a commit that leaves the WAL this many pages long, the
/// committing connection runs a PASSIVE checkpoint.
pub const DEFAULT_WAL_AUTOCHECKPOINT: u32 = 1000;

/// The pragmas every pooled connection gets. They suit Litestream (litestream.io/tips): WAL
/// mode, which it requires; `synchronous = NORMAL`, which it recommends with WAL; and a busy
/// timeout of at least the 5 s it recommends, since it takes short write locks to checkpoint.
/// The appliance never checkpoints by hand. What could fight Litestream is the automatic
/// checkpoint after commits: the tips page advises turning it off ("Disable autocheckpoints for
/// high write load servers", `PRAGMA wal_autocheckpoint = 0`) so that Litestream alone
/// checkpoints, once it has copied the frames; a checkpoint racing its lock handover makes it
/// lose its place and start a new generation (a full snapshot). Without Litestream the WAL
/// would then grow without end, so it stays on by default and `MYPOSTSHARE_WAL_AUTOCHECKPOINT=0`
/// turns it off where Litestream runs.
fn configure(conn: &mut Connection, wal_autocheckpoint: u32) -> rusqlite::Result<()> {
    // busy_timeout first: the pragmas after it may already need to wait for a writer.
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA cache_size = -16000;
         PRAGMA temp_store = MEMORY;
         PRAGMA wal_autocheckpoint = {wal_autocheckpoint};",
    ))
}

impl Db {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path, max_connections: u32) -> Result<Self> {
        Self::open_with(path, max_connections, DEFAULT_WAL_AUTOCHECKPOINT)
    }

    /// `open` with the WAL autocheckpoint threshold in pages (0: never; see `configure`).
    pub fn open_with(path: &Path, max_connections: u32, wal_autocheckpoint: u32) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::internal(format!("creating {}: {e}", dir.display())))?;
        }
        let manager = SqliteConnectionManager::file(path)
            .with_init(move |conn| configure(conn, wal_autocheckpoint));
        let pool = r2d2::Pool::builder()
            .max_size(max_connections.max(2))
            .connection_timeout(Duration::from_secs(15))
            .build(manager)?;
        let db = Self { pool };
        db.migrate()?;
        Ok(db)
    }

    /// Applies every migration above the file's `user_version`, each in its own transaction.
    pub fn migrate(&self) -> Result<i64> {
        let mut conn = self.pool.get()?;
        let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if current > SCHEMA_VERSION {
            return Err(Error::internal(format!(
                "the database is at schema version {current}, newer than this binary's {SCHEMA_VERSION}; run a newer mypostshare"
            )));
        }
        for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", index as i64 + 1)?;
            tx.commit()?;
        }
        Ok(SCHEMA_VERSION)
    }

    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.pool.get()?;
        f(&conn)
    }

    /// Runs `f` inside `BEGIN IMMEDIATE`; commits on `Ok`, rolls back on `Err`.
    pub fn write<T>(&self, f: impl FnOnce(&Transaction) -> Result<T>) -> Result<T> {
        let mut conn = self.pool.get()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// True when a write transaction can be opened and committed right now.
    pub fn is_writable(&self) -> bool {
        // BEGIN IMMEDIATE takes the database's write lock, which a read-only file or a full
        // disk refuses; committing an empty transaction then releases it.
        self.write(|_| Ok(())).is_ok()
    }

    /// `VACUUM INTO` a new file: a consistent copy of a live database.
    pub fn backup_to(&self, target: &Path) -> Result<()> {
        let conn = self.pool.get()?;
        conn.execute("VACUUM INTO ?1", [target.to_string_lossy()])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {

    /// Version N is `migrations/000N_*.sql` at place N of `MIGRATIONS`: numbers without a gap,
    /// each file listed once, in its number's place.
    #[test]
    fn each_migration_file_sits_at_the_place_its_number_names() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<(usize, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sql"))
            .map(|name| {
                let number = name[..4]
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}: no number"));
                (number, name)
            })
            .collect();
        files.sort();
        assert_eq!(
            files.len() + 1,
            MIGRATIONS.len(),
            "every file is listed: {files:?}"
        );
        for (place, (number, name)) in files.iter().enumerate() {
            assert_eq!(
                *number,
                place + 2,
                "{name}: versions run 2, 3, ... without gaps"
            );
            let text = std::fs::read_to_string(dir.join(name)).unwrap();
            assert_eq!(
                MIGRATIONS[number - 1],
                text,
                "{name} is listed at place {number}"
            );
        }
    }

    use super::*;

    #[test]
    fn every_pooled_connection_gets_the_autocheckpoint_threshold() {
        let dir = tempfile::tempdir().unwrap();
        for pages in [0, DEFAULT_WAL_AUTOCHECKPOINT] {
            let db = Db::open_with(&dir.path().join(format!("{pages}.db")), 2, pages).unwrap();
            let (a, b) = (db.pool.get().unwrap(), db.pool.get().unwrap());
            for conn in [&a, &b] {
                let set: u32 = conn
                    .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
                    .unwrap();
                assert_eq!(set, pages);
            }
        }
    }
}
