//! Consumer leases: following the event log with the I/O outside any
//! transaction (see [`ConsumerLease`]).

use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::{Store, Tx};
use crate::error::{Error, Result};
use crate::events::{ConsumerStart, Event};
use crate::process::ProcessIdentity;
use crate::timestamp;

/// How long a lease stays taken after its holder's last step when the
/// holder's process cannot be checked from here.
pub const LEASE_TTL: Duration = Duration::from_secs(60);

/// The lease of an event consumer, held by this process: how a consumer
/// follows the event log with its I/O outside any transaction.
///
/// [`Store::consume_next`] runs a consumer's effect inside the write
/// transaction that advances its cursor; that is right for effects in the
/// store, and wrong for effects elsewhere (tagging in a container engine,
/// putting a manifest in a registry): every other process would wait for the
/// store while the engine works. A *leased* consumer instead:
///
/// 1. takes the consumer's lease ([`Store::try_lease`]): one short
///    transaction writes a row naming the holder (its [`ProcessIdentity`]), a
///    random token and an expiry. Only one lease per consumer exists;
/// 2. reads the next event after the cursor ([`ConsumerLease::next`]) and
///    whatever it needs to act (read transactions);
/// 3. acts — outside any transaction, taking as long as it takes;
/// 4. marks the event done ([`ConsumerLease::advance`]): one short
///    transaction checks that the lease is still its own and that the cursor
///    still stands just before this event, moves the cursor and renews the
///    expiry; then goes back to 2;
/// 5. releases the lease ([`ConsumerLease::release`], or on drop).
///
/// So events are followed in commit order, by one process at a time. A holder
/// that dies leaves its lease behind; the lease is *free* again when its
/// holder is provably gone — on this machine the process table decides at
/// once (pid and start time, or a reboot since) — or, for a holder this
/// machine cannot check (another host sharing the store's disk), when its
/// expiry ([`LEASE_TTL`] after the last step) has passed. A live holder on
/// this machine keeps its lease however long one step takes. The event a dead
/// holder was acting on was not marked done, so the next holder acts on it
/// again: effects of a leased consumer must be idempotent ("make the engine
/// tag match the stream as it is now" is).
#[derive(Debug)]
pub struct ConsumerLease<'s> {
    store: &'s Store,
    consumer: String,
    token: String,
    released: bool,
}

struct LeaseRow {
    token: String,
    holder: String,
    expires: String,
}

impl Tx<'_> {
    fn lease_row(&self, consumer: &str) -> Result<Option<LeaseRow>> {
        self.conn
            .prepare_cached("SELECT token, holder, expires FROM leases WHERE consumer = ?1")
            .and_then(|mut statement| {
                statement
                    .query_row(params![consumer], |row| {
                        Ok(LeaseRow { token: row.get(0)?, holder: row.get(1)?, expires: row.get(2)? })
                    })
                    .optional()
            })
            .map_err(|e| self.db(e))
    }

    /// Who holds the lease of `consumer`, when a live process does.
    pub(super) fn live_lease_holder(&self, consumer: &str) -> Result<Option<String>> {
        Ok(self.lease_row(consumer)?.filter(|row| is_live(row, self.time())).map(|row| row.holder))
    }

    fn write_lease(&self, consumer: &str, token: &str, holder: &str) -> Result<()> {
        let expires = timestamp::format(&expiry(self.time()));
        self.conn
            .prepare_cached(
                "INSERT INTO leases (consumer, token, holder, acquired, expires) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (consumer) DO UPDATE SET
                     token = excluded.token, holder = excluded.holder,
                     acquired = excluded.acquired, expires = excluded.expires",
            )
            .and_then(|mut statement| statement.execute(params![consumer, token, holder, self.now(), expires]))
            .map(|_| ())
            .map_err(|e| self.db(e))
    }

    /// Fail with [`Error::LeaseLost`] unless `token` holds the lease of `consumer`.
    fn check_lease(&self, consumer: &str, token: &str, seq: u64) -> Result<()> {
        match self.lease_row(consumer)? {
            Some(row) if row.token == token => Ok(()),
            _ => Err(Error::LeaseLost { consumer: consumer.into(), seq }),
        }
    }

    fn renew_lease(&self, consumer: &str, token: &str) -> Result<()> {
        let expires = timestamp::format(&expiry(self.time()));
        self.conn
            .prepare_cached("UPDATE leases SET expires = ?3 WHERE consumer = ?1 AND token = ?2")
            .and_then(|mut statement| statement.execute(params![consumer, token, expires]))
            .map(|_| ())
            .map_err(|e| self.db(e))
    }
}

fn expiry(now: Timestamp) -> Timestamp {
    let ttl = jiff::SignedDuration::try_from(LEASE_TTL).unwrap_or(jiff::SignedDuration::MAX);
    now.checked_add(ttl).unwrap_or(Timestamp::MAX)
}

/// Whether a lease's holder may still be acting (see the module docs).
fn is_live(row: &LeaseRow, now: Timestamp) -> bool {
    match ProcessIdentity::parse(&row.holder).and_then(|holder| holder.is_running_here()) {
        Some(running) => running,
        None => timestamp::parse(&row.expires).is_ok_and(|expires| expires > now),
    }
}

impl Store {
    /// Take the lease of `consumer` for this process, if no live process
    /// holds it; `Ok(None)` when one does (it follows the same events: wait
    /// until its cursor passes the event you care about, or try again). A
    /// consumer that has never consumed starts at `start`.
    pub fn try_lease(&self, consumer: &str, start: ConsumerStart) -> Result<Option<ConsumerLease<'_>>> {
        let token = uuid::Uuid::now_v7().to_string();
        let holder = ProcessIdentity::current().to_string();
        let taken = self.write(|tx| {
            if tx.live_lease_holder(consumer)?.is_some() {
                return Ok(false);
            }
            tx.cursor_or_start(consumer, start)?;
            tx.write_lease(consumer, &token, &holder)?;
            Ok::<_, Error>(true)
        })?;
        Ok(taken.then(|| ConsumerLease { store: self, consumer: consumer.into(), token, released: false }))
    }

    /// Who holds the lease of `consumer` (`pid=… host=…`), when a live process does.
    pub fn lease_holder(&self, consumer: &str) -> Result<Option<String>> {
        self.read(|tx| tx.live_lease_holder(consumer))
    }
}

impl ConsumerLease<'_> {
    /// The consumer this lease is for.
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// The next event to act on: the first after the consumer's cursor;
    /// `None` when the consumer has seen every event.
    pub fn next(&self) -> Result<Option<Event>> {
        Ok(self.pending(1)?.pop())
    }

    /// Up to `limit` events after the consumer's cursor, oldest first (to
    /// prepare for them; they are still acted on one at a time).
    pub fn pending(&self, limit: usize) -> Result<Vec<Event>> {
        self.store.read(|tx| {
            let cursor = tx.cursor(&self.consumer)?.unwrap_or(0);
            tx.events_after(cursor, limit)
        })
    }

    /// Mark `event` done: the cursor moves past it and the lease is renewed.
    /// Fails with [`Error::LeaseLost`] when the lease was taken over, or the
    /// cursor is not just before `event` (it was not the next one).
    pub fn advance(&self, event: &Event) -> Result<()> {
        self.advance_with(event, |_| Ok::<_, Error>(()))
    }

    /// [`advance`](Self::advance), with `effect` — changes to the store that
    /// record what acting on the event did — in the same transaction.
    pub(crate) fn advance_with<T, E: From<Error>>(
        &self,
        event: &Event,
        mut effect: impl FnMut(&Tx<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        self.store.write(|tx| {
            tx.check_lease(&self.consumer, &self.token, event.seq)?;
            let cursor = tx.cursor(&self.consumer)?.unwrap_or(0);
            let next = tx.events_after(cursor, 1)?.into_iter().next();
            if next.map(|next| next.seq) != Some(event.seq) {
                return Err(E::from(Error::LeaseLost { consumer: self.consumer.clone(), seq: event.seq }));
            }
            let value = effect(tx)?;
            tx.set_cursor(&self.consumer, event.seq)?;
            tx.renew_lease(&self.consumer, &self.token)?;
            Ok(value)
        })
    }

    /// Push the expiry [`LEASE_TTL`] ahead, for a step that takes long on a
    /// store other machines share (holders on this machine need not).
    pub fn renew(&self) -> Result<()> {
        self.store.write(|tx| {
            tx.check_lease(&self.consumer, &self.token, tx.cursor(&self.consumer)?.unwrap_or(0))?;
            tx.renew_lease(&self.consumer, &self.token)
        })
    }

    /// Give the lease up; the next process to ask takes it.
    pub fn release(mut self) -> Result<()> {
        self.released = true;
        self.delete_row()
    }

    fn delete_row(&self) -> Result<()> {
        self.store.write(|tx| {
            tx.conn
                .prepare_cached("DELETE FROM leases WHERE consumer = ?1 AND token = ?2")
                .and_then(|mut statement| statement.execute(params![self.consumer, self.token]))
                .map(|_| ())
                .map_err(|e| tx.db(e))
        })
    }
}

impl Drop for ConsumerLease<'_> {
    fn drop(&mut self) {
        if !self.released {
            // Best effort: a row left behind is freed when this process is gone.
            let _ = self.delete_row();
        }
    }
}
