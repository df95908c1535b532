//! The event log in the store: appending in a change's transaction, reading,
//! consumer cursors, exactly-once transactional consumers, compaction.

use rusqlite::{OptionalExtension, params};

use super::{Store, Tx};
use crate::error::{Error, Result};
use crate::events::{ConsumerStart, Event, NewEvent};

impl Tx<'_> {
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
                statement.query_row(
                    params![self.now(), event.kind, event.namespace, event.name, event.action, data],
                    |row| row.get(0),
                )
            })
            .map_err(|e| self.db(e))?;
        Ok(Event {
            seq: seq as u64,
            time: self.now().to_owned(),
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
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = statement.query_map(params![seq as i64, limit], raw_event).map_err(|e| self.db(e))?;
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

    pub(super) fn set_cursor(&self, consumer: &str, seq: u64) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO consumers (name, cursor, updated) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, updated = excluded.updated",
            )
            .and_then(|mut statement| statement.execute(params![consumer, seq as i64, self.now()]))
            .map(|_| ())
            .map_err(|e| self.db(e))
    }

    /// The consumer's cursor, created at `start` when it never ran.
    pub(super) fn cursor_or_start(&self, consumer: &str, start: ConsumerStart) -> Result<u64> {
        if let Some(cursor) = self.cursor(consumer)? {
            return Ok(cursor);
        }
        match start {
            ConsumerStart::Beginning => Ok(0),
            ConsumerStart::End => {
                let last = self.last_seq()?;
                self.set_cursor(consumer, last)?;
                Ok(last)
            }
        }
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

    /// Consumers whose cursor is past the newest event.
    pub(super) fn check_consumers(&self) -> Result<Vec<String>> {
        let last = self.last_seq()?;
        let mut problems = Vec::new();
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

    fn event(&self, raw: RawEvent) -> Result<Event> {
        let data = serde_json::from_str(&raw.data).map_err(|e| Error::Database {
            path: self.file().to_owned(),
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
}

impl Store {
    /// Consume the next event of the log as `consumer`: in one write
    /// transaction, find the first event after the consumer's cursor, run
    /// `effect` on it and advance the cursor. `Ok(None)` when the consumer has
    /// seen every event. When `effect` fails nothing is kept, and the same event
    /// comes again on the next call.
    ///
    /// This is the consumer for effects *in the store* (the transaction holds
    /// the write lock while `effect` runs). A consumer whose effect talks to
    /// anything else follows the log through a [`ConsumerLease`](super::ConsumerLease)
    /// instead; while a live process holds the lease of `consumer`, this
    /// fails with [`Error::ConsumerLeased`].
    ///
    /// A consumer that has never consumed starts at `start`.
    pub fn consume_next<T, E: From<Error>>(
        &self,
        consumer: &str,
        start: ConsumerStart,
        mut effect: impl FnMut(&Tx<'_>, &Event) -> std::result::Result<T, E>,
    ) -> std::result::Result<Option<(Event, T)>, E> {
        self.write(|tx| {
            if let Some(holder) = tx.live_lease_holder(consumer)? {
                return Err(E::from(Error::ConsumerLeased { consumer: consumer.into(), holder }));
            }
            let cursor = tx.cursor_or_start(consumer, start)?;
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
