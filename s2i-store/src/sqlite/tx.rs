//! A transaction: objects by kind, namespace and name, and the typed helpers.

use std::path::Path;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::db_error;
use crate::error::{Error, Result};
use crate::resource::Resource;
use crate::timestamp;

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
    /// When it was created.
    pub creation_timestamp: Timestamp,
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
            help: "delete the object and create it again".into(),
        })
    }
}

/// A transaction in progress; see [`Store::read`](super::Store::read) and
/// [`Store::write`](super::Store::write).
pub struct Tx<'a> {
    pub(super) conn: &'a Connection,
    file: &'a Path,
    time: Timestamp,
    now: String,
}

impl std::fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx").field("file", &self.file).field("now", &self.now).finish()
    }
}

pub(super) const OBJECT_COLUMNS: &str = "kind, namespace, name, uid, resource_version, created, body";

impl<'a> Tx<'a> {
    pub(super) fn new(conn: &'a Connection, file: &'a Path) -> Self {
        let time = timestamp::now();
        Self { conn, file, time, now: timestamp::format(&time) }
    }

    /// The transaction's clock: the time it started (RFC 3339, whole
    /// seconds). Every timestamp the store writes in this transaction is this
    /// one; kinds should use it too.
    pub fn now(&self) -> &str {
        &self.now
    }

    /// [`Tx::now`] as a time.
    pub fn time(&self) -> Timestamp {
        self.time
    }

    pub(super) fn file(&self) -> &Path {
        self.file
    }

    /// The store's directory ([`Store::dir`](super::Store::dir)), where
    /// files kept beside the store live (e.g. which process serves its webhooks).
    pub fn store_dir(&self) -> &Path {
        self.file.parent().unwrap_or(Path::new("."))
    }

    pub(super) fn db(&self, e: rusqlite::Error) -> Error {
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
        self.write_object(kind, namespace, name, uid, self.time, body)
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
        created: Timestamp,
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
        let created_text = timestamp::format(&created);
        metadata.insert("name".into(), name.into());
        if namespace.is_empty() {
            metadata.remove("namespace");
        } else {
            metadata.insert("namespace".into(), namespace.into());
        }
        metadata.insert("uid".into(), uid.clone().into());
        metadata.insert("resourceVersion".into(), revision.to_string().into());
        metadata.insert("creationTimestamp".into(), created_text.clone().into());
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
                statement.execute(params![kind, namespace, name, uid, revision as i64, created_text, text])
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
        let label = || format!("{} {}/{}", raw.kind, raw.namespace, raw.name);
        let body = serde_json::from_str(&raw.body).map_err(|e| Error::Database {
            path: self.file.to_owned(),
            message: format!("the stored document of {} is not JSON: {e}", label()),
        })?;
        let creation_timestamp = timestamp::parse(&raw.created).map_err(|e| Error::Database {
            path: self.file.to_owned(),
            message: format!("the creation time of {}: {e}", label()),
        })?;
        Ok(StoredObject {
            kind: raw.kind,
            namespace: raw.namespace,
            name: raw.name,
            uid: raw.uid,
            resource_version: raw.resource_version as u64,
            creation_timestamp,
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

    /// Remove the object of kind `T::KIND`; returns it as it was, `None` when it did not exist.
    pub fn delete_as<T: Resource>(&self, namespace: &str, name: &str) -> Result<Option<T>> {
        self.delete(T::KIND, namespace, name)?.map(|object| object.decode()).transpose()
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
        let revision = self.revision()? as i64;
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
        problems.extend(self.check_consumers()?);
        Ok(problems)
    }
}

/// The document of a typed object, with `apiVersion` and `kind` of its kind.
pub(super) fn typed_body<T: Resource>(object: &T) -> Result<(String, String, Value)> {
    let meta = object.metadata();
    let mut body = serde_json::to_value(object).map_err(|e| Error::InvalidObject {
        kind: T::KIND.into(),
        name: meta.name.clone(),
        message: e.to_string(),
        help: "use JSON-compatible values".into(),
    })?;
    if let Some(document) = body.as_object_mut() {
        document.insert("apiVersion".into(), T::INFO.api_version().into());
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
