//! The embedded store: one SQLite file with the objects, a revision counter,
//! the event log, consumer cursors and leases (feature `sqlite`).

mod apply;
mod events;
mod lease;
mod object_migrations;
mod retry;
mod tx;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior, params};

use crate::error::{Error, Result};

pub use apply::{NoRules, Strategy};
pub use lease::{ConsumerLease, LEASE_TTL};
pub use object_migrations::ObjectMigration;
pub use tx::{StoredObject, Tx};

/// The file name of the database inside the store directory.
pub const STORE_FILE: &str = "store.db";
/// The newest schema version this build knows.
pub const SCHEMA_VERSION: u32 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// How long one attempt waits for another process's transaction to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How many times a transaction is attempted when the store stays busy.
const BUSY_ATTEMPTS: u32 = 4;
/// The pause between those attempts.
const BUSY_DELAY: Duration = Duration::from_millis(50);

/// The default store directory: `store` in the user's data directory
/// (`~/.local/share/s2i/store` on Linux).
pub fn default_dir() -> Result<PathBuf> {
    directories::ProjectDirs::from("io", "s2i", "s2i")
        .map(|dirs| dirs.data_dir().join("store"))
        .ok_or(Error::NoDataDirectory)
}

/// An open store. Cheap to open; one per process (or per thread) is the usual use.
///
/// Every call is blocking and short: it runs one SQLite transaction and
/// waits only for another process's transaction to end (no transaction of
/// this crate waits on anything but the database). Async code may call it
/// inline; what it must not do is hold a transaction across its own I/O —
/// the closures of [`Store::write`] run inside the write lock, so they only
/// read and write the store. Work that talks to the outside world follows
/// the event log through a [`ConsumerLease`].
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    dir: PathBuf,
    file: PathBuf,
}

/// One migration step of the schema.
struct Migration {
    version: u32,
    description: &'static str,
    sql: &'static str,
}

/// The schema, as the steps that built it. Append; never edit a published step.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "objects and the revision counter",
        sql: "CREATE TABLE objects (
                  kind TEXT NOT NULL,
                  namespace TEXT NOT NULL,
                  name TEXT NOT NULL,
                  uid TEXT NOT NULL UNIQUE,
                  resource_version INTEGER NOT NULL,
                  created TEXT NOT NULL,
                  body TEXT NOT NULL,
                  PRIMARY KEY (kind, namespace, name)
              ) WITHOUT ROWID;
              CREATE TABLE revision (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
              INSERT INTO revision (id, value) VALUES (1, 0);",
    },
    Migration {
        version: 2,
        description: "event log and consumer cursors",
        sql: "CREATE TABLE events (
                  seq INTEGER PRIMARY KEY AUTOINCREMENT,
                  time TEXT NOT NULL,
                  kind TEXT NOT NULL,
                  namespace TEXT NOT NULL,
                  name TEXT NOT NULL,
                  action TEXT NOT NULL,
                  data TEXT NOT NULL
              );
              CREATE INDEX events_by_object ON events (kind, namespace, name, seq);
              CREATE TABLE consumers (name TEXT PRIMARY KEY, cursor INTEGER NOT NULL, updated TEXT NOT NULL);",
    },
    Migration {
        version: 3,
        description: "consumer leases",
        sql: "CREATE TABLE leases (
                  consumer TEXT PRIMARY KEY,
                  token TEXT NOT NULL,
                  holder TEXT NOT NULL,
                  acquired TEXT NOT NULL,
                  expires TEXT NOT NULL
              );",
    },
    Migration {
        version: 4,
        description: "object migrations of kinds",
        sql: "CREATE TABLE object_migrations (id TEXT PRIMARY KEY, description TEXT NOT NULL, applied TEXT NOT NULL);",
    },
];

impl Store {
    /// Open the store in `dir` (created if missing), migrating an older schema.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        Self::open_at(dir.as_ref(), None)
    }

    fn open_at(dir: &Path, migrate_to: Option<u32>) -> Result<Self> {
        create_private_dir(dir)
            .map_err(|e| Error::StoreOpen { path: dir.to_owned(), message: format!("cannot create it: {e}") })?;
        let file = dir.join(STORE_FILE);
        make_private(&file).map_err(|e| Error::StoreOpen {
            path: file.clone(),
            message: format!("cannot make it readable by its owner only: {e}"),
        })?;
        let open_error = |e: rusqlite::Error| Error::StoreOpen { path: file.clone(), message: e.to_string() };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&file, flags).map_err(open_error)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
        let store = Self { conn, dir: dir.to_owned(), file: file.clone() };
        store
            .with_busy_retry(|| {
                // WAL: readers never block the writer; a killed writer leaves its
                // uncommitted frames behind, which the next opener ignores.
                let mode: String = store.conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
                if !mode.eq_ignore_ascii_case("wal") {
                    return Err(rusqlite::Error::InvalidParameterName(format!(
                        "the file system does not support write-ahead logging (journal mode stayed {mode})"
                    )));
                }
                // FULL: a committed transaction survives a power loss, not only a crash.
                store.conn.pragma_update(None, "synchronous", "FULL")?;
                Ok(())
            })
            .map_err(|e| match e {
                Error::Database { message, .. } => Error::StoreOpen { path: file.clone(), message },
                other => other,
            })?;
        store.migrate(migrate_to.unwrap_or(SCHEMA_VERSION))?;
        Ok(store)
    }

    /// The store directory.
    ///
    /// The store holds Secrets: its file (and SQLite's `-wal` and `-shm`
    /// files beside it, which SQLite creates with the file's mode) is
    /// readable and writable by its owner only (mode 0600), made so on every
    /// open; a directory the store creates is its owner's only (0700).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The database file (mode 0600, see [`Store::dir`]).
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The schema version of the file.
    pub fn schema_version(&self) -> Result<u32> {
        self.current_version().map_err(|e| self.db_error(e))
    }

    fn current_version(&self) -> rusqlite::Result<u32> {
        let exists: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version')",
            [],
            |row| row.get(0),
        )?;
        if !exists {
            return Ok(0);
        }
        self.conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_version", [], |row| row.get(0))
    }

    /// Bring the schema to `target`, in one transaction; a concurrent opener waits and then finds nothing to do.
    fn migrate(&self, target: u32) -> Result<()> {
        let found = self.schema_version()?;
        if found > SCHEMA_VERSION {
            return Err(Error::StoreTooNew { path: self.file.clone(), found, known: SCHEMA_VERSION });
        }
        if found >= target {
            return Ok(());
        }
        self.transaction(TransactionBehavior::Immediate, |tx| {
            let step = || -> rusqlite::Result<()> {
                self.conn.execute_batch(
                    "CREATE TABLE IF NOT EXISTS schema_version (
                         version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied TEXT NOT NULL)",
                )?;
                let found = self.current_version()?;
                for migration in MIGRATIONS.iter().filter(|m| m.version > found && m.version <= target) {
                    self.conn.execute_batch(migration.sql)?;
                    self.conn.execute(
                        "INSERT INTO schema_version (version, description, applied) VALUES (?1, ?2, ?3)",
                        params![migration.version, migration.description, tx.now()],
                    )?;
                }
                Ok(())
            };
            step().map_err(|e| self.db_error(e))
        })
    }

    /// Run `read` on a consistent snapshot of the store.
    pub fn read<T, E: From<Error>>(
        &self,
        read: impl FnOnce(&Tx<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let mut read = Some(read);
        self.transaction(TransactionBehavior::Deferred, |tx| {
            let read = read.take().expect("a read transaction runs its closure once");
            read(tx)
        })
    }

    /// Run `write` in a transaction that holds the store's write lock, and
    /// commit what it did when it returns `Ok`; on `Err` nothing is kept.
    ///
    /// When another process holds the lock for longer than the busy timeout,
    /// the transaction is started again, so `write` may run more than once and
    /// must not have effects outside the store. Other processes wait for the
    /// lock while `write` runs: it must not wait on anything else (a
    /// container engine, a registry, the network).
    pub fn write<T, E: From<Error>>(
        &self,
        write: impl FnMut(&Tx<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        self.transaction(TransactionBehavior::Immediate, write)
    }

    /// Check the file (`PRAGMA integrity_check`) and the store's own invariants;
    /// returns the problems found, none when the store is sound.
    pub fn check(&self) -> Result<Vec<String>> {
        self.read(|tx| tx.check())
    }

    fn transaction<T, E: From<Error>>(
        &self,
        behavior: TransactionBehavior,
        mut body: impl FnMut(&Tx<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        retry::retry_busy(
            BUSY_ATTEMPTS,
            BUSY_DELAY,
            |attempt: &Attempt<E>| matches!(attempt, Attempt::Busy),
            |_| {
                let tx =
                    rusqlite::Transaction::new_unchecked(&self.conn, behavior).map_err(|e| self.attempt_error(e))?;
                let handle = Tx::new(&tx, &self.file);
                let value = body(&handle).map_err(Attempt::Failed)?;
                match behavior {
                    TransactionBehavior::Deferred => tx.rollback(),
                    _ => tx.commit(),
                }
                .map_err(|e| self.attempt_error(e))?;
                Ok(value)
            },
        )
        .map_err(|attempt| match attempt {
            Attempt::Busy => E::from(Error::StoreBusy { path: self.file.clone() }),
            Attempt::Failed(e) => e,
        })
    }

    fn attempt_error<E: From<Error>>(&self, e: rusqlite::Error) -> Attempt<E> {
        if is_busy(&e) { Attempt::Busy } else { Attempt::Failed(E::from(self.db_error(e))) }
    }

    fn with_busy_retry(&self, mut step: impl FnMut() -> rusqlite::Result<()>) -> Result<()> {
        retry::retry_busy(BUSY_ATTEMPTS, BUSY_DELAY, is_busy, |_| step())
            .map_err(|e| if is_busy(&e) { Error::StoreBusy { path: self.file.clone() } } else { self.db_error(e) })
    }

    fn db_error(&self, e: rusqlite::Error) -> Error {
        db_error(&self.file, e)
    }
}

/// How one attempt at a transaction ended, when it did not succeed.
enum Attempt<E> {
    /// The store stayed locked; worth another attempt.
    Busy,
    /// Anything else, as the caller's error.
    Failed(E),
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked))
}

fn db_error(file: &Path, e: rusqlite::Error) -> Error {
    if is_busy(&e) {
        return Error::StoreBusy { path: file.to_owned() };
    }
    Error::Database { path: file.to_owned(), message: e.to_string() }
}

/// Create `dir` (and its parents) when missing; a directory made here is
/// its owner's only.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Create the store file (and give the files SQLite keeps beside it) mode
/// 0600, or take every other permission away from the ones that exist.
fn make_private(file: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(file)?;
        for suffix in ["", "-wal", "-shm"] {
            let path = PathBuf::from(format!("{}{suffix}", file.display()));
            match std::fs::metadata(&path) {
                Ok(meta) if meta.permissions().mode() & 0o777 != 0o600 => {
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

#[cfg(test)]
mod tests;
