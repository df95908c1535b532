//! The embedded object store: every kind of object s2i keeps (image streams,
//! images, and later routes, services, build configs and builds) in one SQLite
//! file, with an event log and exactly-once event consumers.
//!
//! # Model
//!
//! - An object is a JSON document keyed by *(kind, namespace, name)*; cluster-scoped
//!   kinds use the empty namespace. The store owns four `metadata` fields and
//!   writes them into the document on every write: `name`, `namespace`, `uid`
//!   (assigned on create, never changed; a UUIDv7, so uids sort in creation
//!   order, which keeps "oldest first, ties by uid" rules deterministic within
//!   one second), `resourceVersion` (a store-wide counter
//!   that grows with every write, as a string) and `creationTimestamp` (RFC 3339,
//!   assigned on create). Everything else in the document is the kind's business.
//! - All reads and writes happen in a transaction: [`Store::read`] sees one
//!   consistent snapshot, [`Store::write`] runs its closure under SQLite's
//!   `BEGIN IMMEDIATE` (one writer at a time, across processes) and commits only
//!   when the closure returns `Ok`. A closure that fails leaves the store as it was.
//!   A write that finds the store locked waits (busy timeout) and is retried.
//! - The event log is a sequence of [`Event`]s with strictly increasing `seq`,
//!   appended with [`Tx::append_event`] in the same transaction as the change it
//!   describes, so an event exists if and only if its change was committed.
//! - A named consumer reads the log in order with [`Store::consume_next`]: one
//!   transaction claims the next event after the consumer's cursor, runs the
//!   effect and advances the cursor. Two processes consuming under the same name
//!   never see the same event; an effect that fails (or a process killed during
//!   it) leaves the event for the next attempt.
//! - The schema has a version table and a list of migrations; opening an older
//!   store migrates it, opening a newer one is refused.
//!
//! # Adding a kind
//!
//! A kind is a serde type that implements [`Resource`] (its `kind`, `apiVersion`
//! and where its [`ObjectMeta`] is). The typed helpers then do the JSON work:
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use s2i_imagestream::store::{ObjectMeta, Resource, Store};
//!
//! #[derive(Debug, Clone, Default, Serialize, Deserialize)]
//! #[serde(rename_all = "camelCase")]
//! struct Route {
//!     api_version: String,
//!     kind: String,
//!     metadata: ObjectMeta,
//!     spec: serde_json::Value,
//! }
//!
//! impl Resource for Route {
//!     const KIND: &'static str = "Route";
//!     const API_VERSION: &'static str = "route.openshift.io/v1";
//!     fn metadata(&self) -> &ObjectMeta { &self.metadata }
//!     fn metadata_mut(&mut self) -> &mut ObjectMeta { &mut self.metadata }
//! }
//!
//! # fn main() -> Result<(), s2i_imagestream::Error> {
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path())?;
//! let mut route = Route { metadata: ObjectMeta::named("default", "web"), ..Route::default() };
//! route.spec = serde_json::json!({"host": "web.example.com"});
//! let created = store.write(|tx| tx.create_as(&route))?;
//! assert_eq!(created.kind, "Route");
//! assert!(!created.metadata.uid.is_empty());
//!
//! // Read, change, write back; the resourceVersion guards against lost updates.
//! store.write(|tx| {
//!     let mut route: Route = tx.get_as("default", "web")?.expect("it exists");
//!     route.spec["host"] = "www.example.com".into();
//!     tx.update_as(&route)?;
//!     tx.append_event(&s2i_imagestream::store::NewEvent::new("Route", "default", "web", "HostChanged"))?;
//!     Ok::<_, s2i_imagestream::Error>(())
//! })?;
//! let all: Vec<Route> = store.read(|tx| tx.list_as(Some("default")))?;
//! assert_eq!(all.len(), 1);
//! # Ok(())
//! # }
//! ```
//!
//! Kind-specific rules (validation, defaults, generations) belong to the kind's
//! module; the store only guarantees identity, ordering and atomicity.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// The file name of the database inside the store directory.
pub const STORE_FILE: &str = "store.db";
/// The namespace used when none is given.
pub const DEFAULT_NAMESPACE: &str = "default";
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

/// Check a namespace name: a DNS-1123 label (`[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters).
pub fn validate_namespace(namespace: &str) -> Result<()> {
    let bytes = namespace.as_bytes();
    let edge = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let ok = !bytes.is_empty()
        && bytes.len() <= 63
        && edge(bytes[0])
        && edge(bytes[bytes.len() - 1])
        && bytes.iter().all(|&b| edge(b) || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName {
            what: "namespace".into(),
            value: namespace.into(),
            reason: "a namespace is 1-63 lower-case letters, digits or '-', starting and ending with a letter or digit"
                .into(),
            help: "pick a name like `default`, `dev` or `team-a` (--namespace or S2I_NAMESPACE)".into(),
        })
    }
}

/// The current time as Kubernetes writes it: RFC 3339, UTC, whole seconds.
pub fn now_timestamp() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

// ---------------------------------------------------------------------------
// Object metadata and typed objects.

/// The `metadata` of an object, as Kubernetes serialises it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// The object's name, unique per kind and namespace.
    #[serde(default)]
    pub name: String,
    /// Its namespace; empty for cluster-scoped kinds.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Identity assigned by the store on create.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    /// The store revision of the last write of this object. Sent back on update,
    /// a stale value makes the update fail instead of overwriting newer data.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    /// Kind-defined generation of the desired state (`0` = unset).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub generation: i64,
    /// When the object was created (RFC 3339), assigned by the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The objects this one belongs to (a Build to its BuildConfig).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owner_references: Vec<OwnerReference>,
}

/// `metadata.ownerReferences[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReference {
    /// The owner's API version, e.g. `build.openshift.io/v1`.
    #[serde(default)]
    pub api_version: String,
    /// The owner's kind.
    #[serde(default)]
    pub kind: String,
    /// The owner's name.
    #[serde(default)]
    pub name: String,
    /// The owner's uid.
    #[serde(default)]
    pub uid: String,
    /// The owner manages this object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<bool>,
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}

impl ObjectMeta {
    /// Metadata with just a namespace and a name.
    pub fn named(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self { namespace: namespace.into(), name: name.into(), ..Self::default() }
    }
}

/// A kind the store can keep as a typed Rust value.
///
/// The type serialises to the object's JSON (with `apiVersion`, `kind` and
/// `metadata` fields); the typed [`Tx`] helpers fill in `apiVersion` and `kind`.
pub trait Resource: Serialize + DeserializeOwned {
    /// The kind, e.g. `ImageStream`.
    const KIND: &'static str;
    /// The API group and version, e.g. `image.openshift.io/v1`.
    const API_VERSION: &'static str;
    /// The object's metadata.
    fn metadata(&self) -> &ObjectMeta;
    /// The object's metadata, to change.
    fn metadata_mut(&mut self) -> &mut ObjectMeta;
}

/// One object as the store holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredObject {
    /// Its kind.
    pub kind: String,
    /// Its namespace (empty for cluster-scoped kinds).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Identity assigned on create.
    pub uid: String,
    /// Store revision of its last write.
    pub resource_version: u64,
    /// When it was created (RFC 3339).
    pub creation_timestamp: String,
    /// The whole document, store-owned metadata included.
    pub body: Value,
}

impl StoredObject {
    /// The document as a typed value.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_value(self.body.clone()).map_err(|e| Error::InvalidObject {
            kind: self.kind.clone(),
            name: self.name.clone(),
            message: format!("the stored document does not match the {} schema: {e}", self.kind),
            help: format!("delete it (s2i delete {} {}) and create it again", self.kind.to_lowercase(), self.name),
        })
    }
}

// ---------------------------------------------------------------------------
// Events.

/// An entry of the event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the log; strictly increasing, never reused.
    pub seq: u64,
    /// When it was appended (RFC 3339).
    pub time: String,
    /// Kind of the object it is about.
    pub kind: String,
    /// Namespace of the object.
    pub namespace: String,
    /// Name of the object.
    pub name: String,
    /// What happened, e.g. `TagChanged`.
    pub action: String,
    /// Kind-specific detail (for `TagChanged`: tag, old and new image).
    pub data: Value,
}

/// An event to append; see [`Tx::append_event`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Kind of the object it is about.
    pub kind: String,
    /// Namespace of the object.
    pub namespace: String,
    /// Name of the object.
    pub name: String,
    /// What happened.
    pub action: String,
    /// Kind-specific detail; `null` when there is none.
    pub data: Value,
}

impl NewEvent {
    /// An event without detail.
    pub fn new(
        kind: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
        action: impl Into<String>,
    ) -> Self {
        Self {
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
            action: action.into(),
            data: Value::Null,
        }
    }

    /// The same event with detail.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }
}

/// Where a consumer that has never consumed starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerStart {
    /// At the first event ever appended.
    Beginning,
    /// After the newest event at the time the consumer first runs.
    End,
}

// ---------------------------------------------------------------------------
// The store.

/// An open store. Cheap to open; one per process (or per thread) is the usual use.
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
];

impl Store {
    /// Open the store in `dir` (created if missing), migrating an older schema.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        Self::open_at(dir.as_ref(), None)
    }

    fn open_at(dir: &Path, migrate_to: Option<u32>) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::StoreOpen { path: dir.to_owned(), message: format!("cannot create it: {e}") })?;
        let file = dir.join(STORE_FILE);
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
                Error::Store { message, .. } => Error::StoreOpen { path: file.clone(), message },
                other => other,
            })?;
        store.migrate(migrate_to.unwrap_or(SCHEMA_VERSION))?;
        Ok(store)
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The database file.
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
        self.transaction(TransactionBehavior::Immediate, |_| {
            let step = || -> rusqlite::Result<()> {
                self.conn.execute_batch(
                    "CREATE TABLE IF NOT EXISTS schema_version (
                         version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied TEXT NOT NULL)",
                )?;
                let found = self.current_version()?;
                let now = now_timestamp();
                for migration in MIGRATIONS.iter().filter(|m| m.version > found && m.version <= target) {
                    self.conn.execute_batch(migration.sql)?;
                    self.conn.execute(
                        "INSERT INTO schema_version (version, description, applied) VALUES (?1, ?2, ?3)",
                        params![migration.version, migration.description, now],
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
    /// must not have effects outside the store.
    pub fn write<T, E: From<Error>>(
        &self,
        write: impl FnMut(&Tx<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        self.transaction(TransactionBehavior::Immediate, write)
    }

    /// Consume the next event of the log as `consumer`: in one write
    /// transaction, find the first event after the consumer's cursor, run
    /// `effect` on it and advance the cursor. `Ok(None)` when the consumer has
    /// seen every event. When `effect` fails nothing is kept, and the same event
    /// comes again on the next call.
    ///
    /// A consumer that has never consumed starts at `start`.
    pub fn consume_next<T, E: From<Error>>(
        &self,
        consumer: &str,
        start: ConsumerStart,
        mut effect: impl FnMut(&Tx<'_>, &Event) -> std::result::Result<T, E>,
    ) -> std::result::Result<Option<(Event, T)>, E> {
        self.write(|tx| {
            let cursor = match tx.cursor(consumer)? {
                Some(cursor) => cursor,
                None => match start {
                    ConsumerStart::Beginning => 0,
                    ConsumerStart::End => {
                        let last = tx.last_seq()?;
                        tx.set_cursor(consumer, last)?;
                        last
                    }
                },
            };
            let Some(event) = tx.events_after(cursor, 1)?.into_iter().next() else {
                return Ok(None);
            };
            let value = effect(tx, &event)?;
            tx.set_cursor(consumer, event.seq)?;
            Ok(Some((event, value)))
        })
    }

    /// Drop the events that every consumer has consumed, once at least
    /// `at_least` of them can go, so that the log does not grow with the
    /// store's age. "Every consumer" is each one that has a cursor; nothing is
    /// dropped while one of `required` has none yet (it would start at the
    /// beginning and need them). The event at the lowest cursor stays, so the
    /// newest event always does. Returns how many events were dropped.
    pub fn compact_events(&self, required: &[&str], at_least: u64) -> Result<u64> {
        // A read first: most calls find too little to drop and take no write lock.
        let (oldest, below) = self.read(|tx| tx.compactable(required))?;
        if below.saturating_sub(oldest) < at_least {
            return Ok(0);
        }
        self.write(|tx| {
            let (_, below) = tx.compactable(required)?;
            tx.conn
                .execute("DELETE FROM events WHERE seq < ?1", params![below as i64])
                .map(|dropped| dropped as u64)
                .map_err(|e| tx.db(e))
        })
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
        s2i_core::retry::retry_blocking(
            BUSY_ATTEMPTS,
            BUSY_DELAY,
            |attempt: &Attempt<E>| matches!(attempt, Attempt::Busy),
            |_| {
                let tx =
                    rusqlite::Transaction::new_unchecked(&self.conn, behavior).map_err(|e| self.attempt_error(e))?;
                let handle = Tx { conn: &tx, file: &self.file, now: now_timestamp() };
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
        s2i_core::retry::retry_blocking(BUSY_ATTEMPTS, BUSY_DELAY, is_busy, |_| step())
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
    Error::Store { path: file.to_owned(), message: e.to_string() }
}

// ---------------------------------------------------------------------------
// Transactions.

/// A transaction in progress; see [`Store::read`] and [`Store::write`].
pub struct Tx<'a> {
    conn: &'a Connection,
    file: &'a Path,
    now: String,
}

impl std::fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx").field("file", &self.file).field("now", &self.now).finish()
    }
}

const OBJECT_COLUMNS: &str = "kind, namespace, name, uid, resource_version, created, body";

impl Tx<'_> {
    /// The transaction's clock: the time it started (RFC 3339). Every timestamp
    /// the store writes in this transaction is this one; kinds should use it too.
    pub fn now(&self) -> &str {
        &self.now
    }

    fn db(&self, e: rusqlite::Error) -> Error {
        db_error(self.file, e)
    }

    /// The object `kind`/`namespace`/`name`, if it exists.
    pub fn get(&self, kind: &str, namespace: &str, name: &str) -> Result<Option<StoredObject>> {
        let mut statement = self
            .conn
            .prepare_cached(&format!(
                "SELECT {OBJECT_COLUMNS} FROM objects WHERE kind = ?1 AND namespace = ?2 AND name = ?3"
            ))
            .map_err(|e| self.db(e))?;
        let row = statement.query_row(params![kind, namespace, name], raw_object).optional().map_err(|e| self.db(e))?;
        row.map(|raw| self.object(raw)).transpose()
    }

    /// The objects of `kind` in `namespace` (every namespace when `None`), sorted by namespace and name.
    pub fn list(&self, kind: &str, namespace: Option<&str>) -> Result<Vec<StoredObject>> {
        let sql = match namespace {
            Some(_) => format!(
                "SELECT {OBJECT_COLUMNS} FROM objects WHERE kind = ?1 AND namespace = ?2 ORDER BY namespace, name"
            ),
            None => format!("SELECT {OBJECT_COLUMNS} FROM objects WHERE kind = ?1 ORDER BY namespace, name"),
        };
        let mut statement = self.conn.prepare_cached(&sql).map_err(|e| self.db(e))?;
        let rows = match namespace {
            Some(namespace) => statement.query_map(params![kind, namespace], raw_object),
            None => statement.query_map(params![kind], raw_object),
        }
        .map_err(|e| self.db(e))?;
        let mut objects = Vec::new();
        for row in rows {
            objects.push(self.object(row.map_err(|e| self.db(e))?)?);
        }
        Ok(objects)
    }

    /// Store a new object; fails with [`Error::AlreadyExists`] when the key is taken.
    pub fn create(&self, kind: &str, namespace: &str, name: &str, body: Value) -> Result<StoredObject> {
        if self.exists(kind, namespace, name)? {
            return Err(Error::AlreadyExists { kind: kind.into(), namespace: namespace.into(), name: name.into() });
        }
        let uid = uuid::Uuid::now_v7().to_string();
        let created = self.now.clone();
        self.write_object(kind, namespace, name, uid, created, body)
    }

    /// Replace an existing object's document. With `expected_version`, fail with
    /// [`Error::Conflict`] unless the stored `resourceVersion` is that one.
    /// `uid` and `creationTimestamp` are kept whatever the document says.
    pub fn update(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
        body: Value,
        expected_version: Option<&str>,
    ) -> Result<StoredObject> {
        let Some(current) = self.get(kind, namespace, name)? else {
            return Err(Error::NotFound {
                kind: kind.into(),
                namespace: namespace.into(),
                name: name.into(),
                help: "create it first".into(),
            });
        };
        if let Some(expected) = expected_version
            && expected != current.resource_version.to_string()
        {
            return Err(Error::Conflict {
                kind: kind.into(),
                namespace: namespace.into(),
                name: name.into(),
                expected: expected.into(),
                actual: current.resource_version,
            });
        }
        self.write_object(kind, namespace, name, current.uid, current.creation_timestamp, body)
    }

    /// Create the object, or replace its document when it exists (no version check).
    pub fn put(&self, kind: &str, namespace: &str, name: &str, body: Value) -> Result<StoredObject> {
        match self.get(kind, namespace, name)? {
            Some(current) => self.write_object(kind, namespace, name, current.uid, current.creation_timestamp, body),
            None => self.create(kind, namespace, name, body),
        }
    }

    /// Remove an object; returns what it was, `None` when it did not exist.
    pub fn delete(&self, kind: &str, namespace: &str, name: &str) -> Result<Option<StoredObject>> {
        let Some(current) = self.get(kind, namespace, name)? else {
            return Ok(None);
        };
        self.conn
            .prepare_cached("DELETE FROM objects WHERE kind = ?1 AND namespace = ?2 AND name = ?3")
            .and_then(|mut statement| statement.execute(params![kind, namespace, name]))
            .map_err(|e| self.db(e))?;
        self.next_revision()?;
        Ok(Some(current))
    }

    fn exists(&self, kind: &str, namespace: &str, name: &str) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM objects WHERE kind = ?1 AND namespace = ?2 AND name = ?3)")
            .and_then(|mut statement| statement.query_row(params![kind, namespace, name], |row| row.get(0)))
            .map_err(|e| self.db(e))
    }

    fn next_revision(&self) -> Result<u64> {
        let value: i64 = self
            .conn
            .prepare_cached("UPDATE revision SET value = value + 1 WHERE id = 1 RETURNING value")
            .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
            .map_err(|e| self.db(e))?;
        Ok(value as u64)
    }

    fn write_object(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
        uid: String,
        created: String,
        mut body: Value,
    ) -> Result<StoredObject> {
        if kind.is_empty() || name.is_empty() {
            return Err(Error::InvalidObject {
                kind: kind.into(),
                name: name.into(),
                message: "an object needs a kind and a name".into(),
                help: "set metadata.name".into(),
            });
        }
        let Some(document) = body.as_object_mut() else {
            return Err(Error::InvalidObject {
                kind: kind.into(),
                name: name.into(),
                message: "the document is not a JSON object".into(),
                help: "write the object as a mapping with apiVersion, kind, metadata and spec".into(),
            });
        };
        let revision = self.next_revision()?;
        let metadata = document.entry("metadata").or_insert_with(|| Value::Object(Default::default()));
        let Some(metadata) = metadata.as_object_mut() else {
            return Err(Error::InvalidObject {
                kind: kind.into(),
                name: name.into(),
                message: "metadata is not a mapping".into(),
                help: "write metadata as a mapping with name (and namespace)".into(),
            });
        };
        metadata.insert("name".into(), name.into());
        if namespace.is_empty() {
            metadata.remove("namespace");
        } else {
            metadata.insert("namespace".into(), namespace.into());
        }
        metadata.insert("uid".into(), uid.clone().into());
        metadata.insert("resourceVersion".into(), revision.to_string().into());
        metadata.insert("creationTimestamp".into(), created.clone().into());
        let text = serde_json::to_string(&body).map_err(|e| Error::InvalidObject {
            kind: kind.into(),
            name: name.into(),
            message: e.to_string(),
            help: "use JSON-compatible values".into(),
        })?;
        self.conn
            .prepare_cached(
                "INSERT INTO objects (kind, namespace, name, uid, resource_version, created, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (kind, namespace, name) DO UPDATE SET
                     uid = excluded.uid, resource_version = excluded.resource_version,
                     created = excluded.created, body = excluded.body",
            )
            .and_then(|mut statement| {
                statement.execute(params![kind, namespace, name, uid, revision as i64, created, text])
            })
            .map_err(|e| self.db(e))?;
        Ok(StoredObject {
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
            uid,
            resource_version: revision,
            creation_timestamp: created,
            body,
        })
    }

    fn object(&self, raw: RawObject) -> Result<StoredObject> {
        let body = serde_json::from_str(&raw.body).map_err(|e| Error::Store {
            path: self.file.to_owned(),
            message: format!("the stored document of {} {}/{} is not JSON: {e}", raw.kind, raw.namespace, raw.name),
        })?;
        Ok(StoredObject {
            kind: raw.kind,
            namespace: raw.namespace,
            name: raw.name,
            uid: raw.uid,
            resource_version: raw.resource_version as u64,
            creation_timestamp: raw.created,
            body,
        })
    }

    // -- typed helpers ------------------------------------------------------

    /// The object of kind `T::KIND`, typed.
    pub fn get_as<T: Resource>(&self, namespace: &str, name: &str) -> Result<Option<T>> {
        self.get(T::KIND, namespace, name)?.map(|object| object.decode()).transpose()
    }

    /// The objects of kind `T::KIND` in `namespace` (every namespace when `None`), typed, sorted.
    pub fn list_as<T: Resource>(&self, namespace: Option<&str>) -> Result<Vec<T>> {
        self.list(T::KIND, namespace)?.iter().map(StoredObject::decode).collect()
    }

    /// Create `object`; returns it as stored.
    pub fn create_as<T: Resource>(&self, object: &T) -> Result<T> {
        let (namespace, name, body) = typed_body(object)?;
        self.create(T::KIND, &namespace, &name, body)?.decode()
    }

    /// Update `object`, checking its `metadata.resourceVersion` when it has one; returns it as stored.
    pub fn update_as<T: Resource>(&self, object: &T) -> Result<T> {
        let (namespace, name, body) = typed_body(object)?;
        let expected = Some(object.metadata().resource_version.as_str()).filter(|v| !v.is_empty());
        self.update(T::KIND, &namespace, &name, body, expected)?.decode()
    }

    /// Create or replace `object` (no version check); returns it as stored.
    pub fn put_as<T: Resource>(&self, object: &T) -> Result<T> {
        let (namespace, name, body) = typed_body(object)?;
        self.put(T::KIND, &namespace, &name, body)?.decode()
    }

    // -- events -------------------------------------------------------------

    /// Append an event to the log; it is kept only if the transaction commits.
    pub fn append_event(&self, event: &NewEvent) -> Result<Event> {
        let data = serde_json::to_string(&event.data)
            .map_err(|e| self.db(rusqlite::Error::ToSqlConversionFailure(e.into())))?;
        let seq: i64 = self
            .conn
            .prepare_cached(
                "INSERT INTO events (time, kind, namespace, name, action, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 RETURNING seq",
            )
            .and_then(|mut statement| {
                statement
                    .query_row(params![self.now, event.kind, event.namespace, event.name, event.action, data], |row| {
                        row.get(0)
                    })
            })
            .map_err(|e| self.db(e))?;
        Ok(Event {
            seq: seq as u64,
            time: self.now.clone(),
            kind: event.kind.clone(),
            namespace: event.namespace.clone(),
            name: event.name.clone(),
            action: event.action.clone(),
            data: event.data.clone(),
        })
    }

    /// Up to `limit` events after `seq`, oldest first.
    pub fn events_after(&self, seq: u64, limit: usize) -> Result<Vec<Event>> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT seq, time, kind, namespace, name, action, data FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(|e| self.db(e))?;
        let rows = statement.query_map(params![seq as i64, limit as i64], raw_event).map_err(|e| self.db(e))?;
        rows.map(|row| self.event(row.map_err(|e| self.db(e))?)).collect()
    }

    /// Every event about one object, oldest first.
    pub fn object_events(&self, kind: &str, namespace: &str, name: &str) -> Result<Vec<Event>> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT seq, time, kind, namespace, name, action, data FROM events
                 WHERE kind = ?1 AND namespace = ?2 AND name = ?3 ORDER BY seq",
            )
            .map_err(|e| self.db(e))?;
        let rows = statement.query_map(params![kind, namespace, name], raw_event).map_err(|e| self.db(e))?;
        rows.map(|row| self.event(row.map_err(|e| self.db(e))?)).collect()
    }

    /// The store's revision: the `resourceVersion` of the newest write (creates,
    /// updates and deletes all count), 0 for a new store. It only grows, so a
    /// watcher that remembers it knows cheaply whether anything changed.
    pub fn revision(&self) -> Result<u64> {
        self.conn
            .prepare_cached("SELECT value FROM revision WHERE id = 1")
            .and_then(|mut statement| statement.query_row([], |row| row.get::<_, i64>(0)))
            .map(|value| value as u64)
            .map_err(|e| self.db(e))
    }

    /// `(oldest event's seq, the seq below which every consumer has consumed)`;
    /// `(0, 0)` when nothing may be dropped (see [`Store::compact_events`]).
    fn compactable(&self, required: &[&str]) -> Result<(u64, u64)> {
        for consumer in required {
            if self.cursor(consumer)?.is_none() {
                return Ok((0, 0));
            }
        }
        self.conn
            .query_row(
                "SELECT COALESCE((SELECT MIN(seq) FROM events), 0), COALESCE((SELECT MIN(cursor) FROM consumers), 0)",
                [],
                |row| Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64)),
            )
            .map_err(|e| self.db(e))
    }

    /// The `seq` of the newest event, 0 when the log is empty.
    pub fn last_seq(&self) -> Result<u64> {
        self.conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |row| row.get::<_, i64>(0))
            .map(|seq| seq as u64)
            .map_err(|e| self.db(e))
    }

    /// The cursor of `consumer`: the `seq` of the last event it consumed; `None` if it never ran.
    pub fn cursor(&self, consumer: &str) -> Result<Option<u64>> {
        self.conn
            .prepare_cached("SELECT cursor FROM consumers WHERE name = ?1")
            .and_then(|mut statement| statement.query_row(params![consumer], |row| row.get::<_, i64>(0)).optional())
            .map(|cursor| cursor.map(|c| c as u64))
            .map_err(|e| self.db(e))
    }

    fn set_cursor(&self, consumer: &str, seq: u64) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO consumers (name, cursor, updated) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, updated = excluded.updated",
            )
            .and_then(|mut statement| statement.execute(params![consumer, seq as i64, self.now]))
            .map(|_| ())
            .map_err(|e| self.db(e))
    }

    fn event(&self, raw: RawEvent) -> Result<Event> {
        let data = serde_json::from_str(&raw.data).map_err(|e| Error::Store {
            path: self.file.to_owned(),
            message: format!("the data of event {} is not JSON: {e}", raw.seq),
        })?;
        Ok(Event {
            seq: raw.seq as u64,
            time: raw.time,
            kind: raw.kind,
            namespace: raw.namespace,
            name: raw.name,
            action: raw.action,
            data,
        })
    }

    // -- integrity ----------------------------------------------------------

    /// `PRAGMA integrity_check` and the store's invariants; the problems found.
    pub fn check(&self) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        let mut statement = self.conn.prepare("PRAGMA integrity_check").map_err(|e| self.db(e))?;
        let rows = statement.query_map([], |row| row.get::<_, String>(0)).map_err(|e| self.db(e))?;
        for row in rows {
            let row = row.map_err(|e| self.db(e))?;
            if row != "ok" {
                problems.push(format!("integrity_check: {row}"));
            }
        }
        let revision: i64 = self
            .conn
            .query_row("SELECT value FROM revision WHERE id = 1", [], |row| row.get(0))
            .map_err(|e| self.db(e))?;
        let mut statement = self
            .conn
            .prepare(&format!("SELECT {OBJECT_COLUMNS} FROM objects ORDER BY kind, namespace, name"))
            .map_err(|e| self.db(e))?;
        let rows = statement.query_map([], raw_object).map_err(|e| self.db(e))?;
        for row in rows {
            let raw = row.map_err(|e| self.db(e))?;
            let label = format!("{} {}/{}", raw.kind, raw.namespace, raw.name);
            if raw.resource_version > revision {
                problems.push(format!(
                    "{label}: resourceVersion {} is ahead of the store revision {revision}",
                    raw.resource_version
                ));
            }
            let body: Value = match serde_json::from_str(&raw.body) {
                Ok(body) => body,
                Err(e) => {
                    problems.push(format!("{label}: the document is not JSON: {e}"));
                    continue;
                }
            };
            let metadata = &body["metadata"];
            let expect = [
                ("name", Value::from(raw.name.clone())),
                ("uid", Value::from(raw.uid.clone())),
                ("resourceVersion", Value::from(raw.resource_version.to_string())),
                ("creationTimestamp", Value::from(raw.created.clone())),
            ];
            for (field, value) in expect {
                if metadata[field] != value {
                    problems
                        .push(format!("{label}: metadata.{field} is {} but the store says {value}", metadata[field]));
                }
            }
            let namespace = metadata["namespace"].as_str().unwrap_or("");
            if namespace != raw.namespace {
                problems.push(format!("{label}: metadata.namespace is {namespace:?}"));
            }
        }
        let last = self.last_seq()?;
        let mut statement =
            self.conn.prepare("SELECT name, cursor FROM consumers ORDER BY name").map_err(|e| self.db(e))?;
        let rows = statement
            .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))
            .map_err(|e| self.db(e))?;
        for row in rows {
            let (name, cursor) = row.map_err(|e| self.db(e))?;
            if cursor as u64 > last {
                problems.push(format!("consumer {name}: cursor {cursor} is past the newest event {last}"));
            }
        }
        Ok(problems)
    }
}

fn typed_body<T: Resource>(object: &T) -> Result<(String, String, Value)> {
    let meta = object.metadata();
    let mut body = serde_json::to_value(object).map_err(|e| Error::InvalidObject {
        kind: T::KIND.into(),
        name: meta.name.clone(),
        message: e.to_string(),
        help: "use JSON-compatible values".into(),
    })?;
    if let Some(document) = body.as_object_mut() {
        document.insert("apiVersion".into(), T::API_VERSION.into());
        document.insert("kind".into(), T::KIND.into());
    }
    Ok((meta.namespace.clone(), meta.name.clone(), body))
}

struct RawObject {
    kind: String,
    namespace: String,
    name: String,
    uid: String,
    resource_version: i64,
    created: String,
    body: String,
}

fn raw_object(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawObject> {
    Ok(RawObject {
        kind: row.get(0)?,
        namespace: row.get(1)?,
        name: row.get(2)?,
        uid: row.get(3)?,
        resource_version: row.get(4)?,
        created: row.get(5)?,
        body: row.get(6)?,
    })
}

struct RawEvent {
    seq: i64,
    time: String,
    kind: String,
    namespace: String,
    name: String,
    action: String,
    data: String,
}

fn raw_event(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawEvent> {
    Ok(RawEvent {
        seq: row.get(0)?,
        time: row.get(1)?,
        kind: row.get(2)?,
        namespace: row.get(3)?,
        name: row.get(4)?,
        action: row.get(5)?,
        data: row.get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        (dir, store)
    }

    #[test]
    fn create_get_update_delete() {
        let (_dir, store) = store();
        let created = store.write(|tx| tx.create("Thing", "default", "a", json!({"spec": {"x": 1}}))).unwrap();
        assert_eq!(created.body["metadata"]["name"], "a");
        assert_eq!(created.body["metadata"]["namespace"], "default");
        assert_eq!(created.body["metadata"]["resourceVersion"], "1");
        assert!(!created.uid.is_empty());

        let again = store.write(|tx| tx.create("Thing", "default", "a", json!({})));
        assert!(matches!(again, Err(Error::AlreadyExists { .. })), "{again:?}");

        let updated = store
            .write(|tx| {
                tx.update("Thing", "default", "a", json!({"metadata": {"uid": "forged"}, "spec": {"x": 2}}), Some("1"))
            })
            .unwrap();
        assert_eq!(updated.uid, created.uid, "the uid cannot be changed");
        assert_eq!(updated.creation_timestamp, created.creation_timestamp);
        assert_eq!(updated.resource_version, 2);
        assert_eq!(updated.body["spec"]["x"], 2);

        let stale = store.write(|tx| tx.update("Thing", "default", "a", json!({}), Some("1")));
        assert!(matches!(stale, Err(Error::Conflict { actual: 2, .. })), "{stale:?}");

        let read = store.read(|tx| tx.get("Thing", "default", "a")).unwrap().unwrap();
        assert_eq!(read, updated);
        assert_eq!(store.read(|tx| tx.get("Thing", "other", "a")).unwrap(), None, "namespaces are separate");
        assert_eq!(store.read(|tx| tx.get("Other", "default", "a")).unwrap(), None, "kinds are separate");

        let deleted = store.write(|tx| tx.delete("Thing", "default", "a")).unwrap();
        assert_eq!(deleted.map(|d| d.uid), Some(created.uid));
        assert_eq!(store.write(|tx| tx.delete("Thing", "default", "a")).unwrap(), None);
        assert!(store.check().unwrap().is_empty());
    }

    #[test]
    fn the_revision_counts_every_write() {
        let (_dir, store) = store();
        assert_eq!(store.read(|tx| tx.revision()).unwrap(), 0);
        let a = store.write(|tx| tx.create("Thing", "ns", "a", json!({}))).unwrap();
        assert_eq!(store.read(|tx| tx.revision()).unwrap(), a.resource_version);
        store.write(|tx| tx.delete("Thing", "ns", "a")).unwrap();
        assert_eq!(store.read(|tx| tx.revision()).unwrap(), a.resource_version + 1, "a delete is a write");
        store.write(|tx| tx.append_event(&NewEvent::new("Thing", "ns", "a", "Noted"))).unwrap();
        assert_eq!(store.read(|tx| tx.revision()).unwrap(), a.resource_version + 1, "events are not objects");
    }

    #[test]
    fn uids_sort_in_creation_order() {
        let (_dir, store) = store();
        let uids: Vec<String> = (0..20)
            .map(|i| store.write(|tx| tx.create("Thing", "ns", &format!("t{i:02}"), json!({}))).unwrap().uid)
            .collect();
        let mut sorted = uids.clone();
        sorted.sort();
        assert_eq!(uids, sorted);
    }

    #[test]
    fn resource_versions_never_repeat() {
        let (_dir, store) = store();
        let a = store.write(|tx| tx.create("Thing", "ns", "a", json!({}))).unwrap();
        store.write(|tx| tx.delete("Thing", "ns", "a")).unwrap();
        let b = store.write(|tx| tx.create("Thing", "ns", "a", json!({}))).unwrap();
        assert!(b.resource_version > a.resource_version + 1, "{} then {}", a.resource_version, b.resource_version);
        assert_ne!(a.uid, b.uid, "a re-created object is a new object");
    }

    #[test]
    fn failed_transactions_keep_nothing() {
        let (_dir, store) = store();
        let result: Result<()> = store.write(|tx| {
            tx.create("Thing", "ns", "a", json!({}))?;
            tx.append_event(&NewEvent::new("Thing", "ns", "a", "Created"))?;
            Err(Error::InvalidName { what: "x".into(), value: "y".into(), reason: "test".into(), help: "none".into() })
        });
        assert!(result.is_err());
        assert_eq!(store.read(|tx| tx.list("Thing", None)).unwrap(), vec![]);
        assert_eq!(store.read(|tx| tx.last_seq()).unwrap(), 0);
    }

    #[test]
    fn lists_are_sorted_and_filtered() {
        let (_dir, store) = store();
        store
            .write(|tx| {
                for (ns, name) in [("b", "z"), ("a", "y"), ("b", "a"), ("a", "x")] {
                    tx.create("Thing", ns, name, json!({}))?;
                }
                tx.create("Other", "a", "q", json!({}))
            })
            .unwrap();
        let names = |ns: Option<&str>| -> Vec<String> {
            store
                .read(|tx| tx.list("Thing", ns))
                .unwrap()
                .into_iter()
                .map(|o| format!("{}/{}", o.namespace, o.name))
                .collect()
        };
        assert_eq!(names(None), ["a/x", "a/y", "b/a", "b/z"]);
        assert_eq!(names(Some("b")), ["b/a", "b/z"]);
        assert_eq!(names(Some("c")), Vec::<String>::new());
    }

    #[test]
    fn invalid_documents_are_refused() {
        let (_dir, store) = store();
        let r = store.write(|tx| tx.create("Thing", "ns", "a", json!([1, 2])));
        assert!(matches!(r, Err(Error::InvalidObject { .. })), "{r:?}");
        let r = store.write(|tx| tx.create("Thing", "ns", "a", json!({"metadata": "x"})));
        assert!(matches!(r, Err(Error::InvalidObject { .. })), "{r:?}");
        let r = store.write(|tx| tx.create("Thing", "ns", "", json!({})));
        assert!(matches!(r, Err(Error::InvalidObject { .. })), "{r:?}");
    }

    #[test]
    fn events_are_ordered_and_consumed_once() {
        let (_dir, store) = store();
        store
            .write(|tx| {
                for i in 0..3 {
                    tx.append_event(&NewEvent::new("Thing", "ns", "a", "Changed").with_data(json!({ "i": i })))?;
                }
                Ok::<_, Error>(())
            })
            .unwrap();
        let events = store.read(|tx| tx.events_after(0, 10)).unwrap();
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(events[2].data["i"], 2);

        // A failing effect leaves the event for the next attempt.
        let failed: Result<Option<(Event, ())>> = store.consume_next("c", ConsumerStart::Beginning, |_, _| {
            Err(Error::InvalidName { what: "x".into(), value: "y".into(), reason: "test".into(), help: "none".into() })
        });
        assert!(failed.is_err());
        let mut seen = Vec::new();
        while let Some((event, ())) = store
            .consume_next("c", ConsumerStart::Beginning, |tx, event| {
                tx.put("Seen", "ns", &event.seq.to_string(), json!({}))?;
                Ok::<_, Error>(())
            })
            .unwrap()
        {
            seen.push(event.seq);
        }
        assert_eq!(seen, [1, 2, 3]);
        assert_eq!(store.read(|tx| tx.list("Seen", None)).unwrap().len(), 3, "effects were committed with the cursor");

        // A consumer that starts at the end skips history.
        let late = store.consume_next("late", ConsumerStart::End, |_, _| Ok::<_, Error>(())).unwrap();
        assert_eq!(late, None);
        store.write(|tx| tx.append_event(&NewEvent::new("Thing", "ns", "a", "Changed"))).unwrap();
        let late = store.consume_next("late", ConsumerStart::End, |_, _| Ok::<_, Error>(())).unwrap();
        assert_eq!(late.map(|(e, ())| e.seq), Some(4));
        assert_eq!(store.read(|tx| tx.object_events("Thing", "ns", "a")).unwrap().len(), 4);
        assert!(store.check().unwrap().is_empty());

        // Compaction drops what every consumer has seen ("c" is at 3, "late" at 4),
        // never while a required consumer has not run, nor below its threshold.
        assert_eq!(store.compact_events(&["c", "never-ran"], 1).unwrap(), 0);
        assert_eq!(store.compact_events(&["c"], 3).unwrap(), 0);
        assert_eq!(store.compact_events(&["c"], 2).unwrap(), 2);
        let left: Vec<u64> = store.read(|tx| tx.events_after(0, 10)).unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(left, [3, 4]);
        while store.consume_next("c", ConsumerStart::Beginning, |_, _| Ok::<_, Error>(())).unwrap().is_some() {}
        assert_eq!(store.compact_events(&["c"], 1).unwrap(), 1);
        let left: Vec<u64> = store.read(|tx| tx.events_after(0, 10)).unwrap().iter().map(|e| e.seq).collect();
        assert_eq!(left, [4], "the newest event stays");
        assert_eq!(store.read(|tx| tx.last_seq()).unwrap(), 4);
        store.write(|tx| tx.append_event(&NewEvent::new("Thing", "ns", "a", "Changed"))).unwrap();
        let next = store.consume_next("c", ConsumerStart::Beginning, |_, _| Ok::<_, Error>(())).unwrap();
        assert_eq!(next.map(|(e, ())| e.seq), Some(5), "sequence numbers are never reused");
        assert!(store.check().unwrap().is_empty());
    }

    #[test]
    fn an_old_store_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        {
            let old = Store::open_at(dir.path(), Some(1)).unwrap();
            assert_eq!(old.schema_version().unwrap(), 1);
            old.write(|tx| tx.create("Thing", "ns", "kept", json!({"spec": 1}))).unwrap();
            let has_events: bool = old
                .conn
                .query_row("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'events')", [], |r| r.get(0))
                .unwrap();
            assert!(!has_events, "version 1 has no event log");
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        let kept = store.read(|tx| tx.get("Thing", "ns", "kept")).unwrap().unwrap();
        assert_eq!(kept.body["spec"], 1);
        store.write(|tx| tx.append_event(&NewEvent::new("Thing", "ns", "kept", "Migrated"))).unwrap();
        assert!(store.check().unwrap().is_empty());
    }

    #[test]
    fn a_newer_store_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .conn
            .execute("INSERT INTO schema_version (version, description, applied) VALUES (99, 'future', 'now')", [])
            .unwrap();
        drop(store);
        let err = Store::open(dir.path()).unwrap_err();
        assert!(matches!(err, Error::StoreTooNew { found: 99, .. }), "{err:?}");
    }

    #[test]
    fn a_file_that_is_not_a_store_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(STORE_FILE), "this is not a database, just text that is long enough").unwrap();
        let err = Store::open(dir.path()).unwrap_err();
        assert!(matches!(err, Error::StoreOpen { .. }), "{err:?}");
        assert!(err.to_string().contains(STORE_FILE), "{err}");
    }

    #[test]
    fn namespaces_are_dns_labels() {
        for good in ["default", "a", "team-a", "x1"] {
            validate_namespace(good).unwrap();
        }
        for bad in ["", "A", "-a", "a-", "a_b", "a.b", &"a".repeat(64)] {
            assert!(validate_namespace(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_default_dir_is_under_the_data_dir() {
        let dir = default_dir().unwrap();
        assert!(dir.ends_with("store"), "{}", dir.display());
    }
}
