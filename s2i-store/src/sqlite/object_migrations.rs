//! Migrations of stored objects: how a kind's library rewrites documents
//! that an older version of it wrote (a field that became an object of its
//! own, a renamed field), once per store.
//!
//! The store's schema has its own list of steps (tables, in `mod.rs`); the
//! documents belong to the kinds, and their crates hold their steps as
//! [`ObjectMigration`]s and run them with [`Store::migrate_objects`] when
//! they open a store. The store records which ones ran.

use rusqlite::{OptionalExtension, params};

use super::{Store, Tx};
use crate::error::Result;

/// One rewrite of stored objects, identified for ever by its `id`.
///
/// `run` gets the write transaction in which the store records the step,
/// so the rewrite and its record commit together: a step runs exactly once
/// per store, even when two processes open it at the same time. It must
/// only read and write the store.
#[derive(Debug, Clone, Copy)]
pub struct ObjectMigration {
    /// Stable and unique across crates: `<crate>/<what>`, e.g.
    /// `s2i-route/service-endpoints`. Never rename or reuse one.
    pub id: &'static str,
    /// What it does, for people reading the store.
    pub description: &'static str,
    /// The rewrite.
    pub run: fn(&Tx<'_>) -> Result<()>,
}

impl Store {
    /// Runs the steps of `migrations` that this store has not recorded, in
    /// order, each in one write transaction with its record. Returns the ids
    /// of the steps run now (none when the store is up to date, which costs
    /// one read).
    pub fn migrate_objects(&self, migrations: &[ObjectMigration]) -> Result<Vec<&'static str>> {
        let pending: Vec<&ObjectMigration> = self.read(|tx| {
            let mut pending = Vec::new();
            for migration in migrations {
                if !tx.object_migration_recorded(migration.id)? {
                    pending.push(migration);
                }
            }
            Ok::<_, crate::Error>(pending)
        })?;
        let mut ran = Vec::new();
        for migration in pending {
            let now = self.write(|tx| {
                // Another process may have run it since the read.
                if tx.object_migration_recorded(migration.id)? {
                    return Ok(false);
                }
                (migration.run)(tx)?;
                tx.record_object_migration(migration)?;
                Ok::<_, crate::Error>(true)
            })?;
            if now {
                ran.push(migration.id);
            }
        }
        Ok(ran)
    }

    /// The object migrations this store has run, oldest first.
    pub fn object_migrations(&self) -> Result<Vec<String>> {
        self.read(|tx| {
            let mut statement = tx
                .conn
                .prepare_cached("SELECT id FROM object_migrations ORDER BY applied, rowid")
                .map_err(|e| tx.db(e))?;
            let rows = statement.query_map([], |row| row.get::<_, String>(0)).map_err(|e| tx.db(e))?;
            rows.map(|row| row.map_err(|e| tx.db(e))).collect()
        })
    }
}

impl Tx<'_> {
    fn object_migration_recorded(&self, id: &str) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM object_migrations WHERE id = ?1")
            .and_then(|mut statement| statement.query_row(params![id], |_| Ok(())).optional())
            .map(|found| found.is_some())
            .map_err(|e| self.db(e))
    }

    fn record_object_migration(&self, migration: &ObjectMigration) -> Result<()> {
        self.conn
            .prepare_cached("INSERT INTO object_migrations (id, description, applied) VALUES (?1, ?2, ?3)")
            .and_then(|mut statement| statement.execute(params![migration.id, migration.description, self.now()]))
            .map(|_| ())
            .map_err(|e| self.db(e))
    }
}
