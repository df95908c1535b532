//! The store's own rules: identity, revisions, transactions, events,
//! consumers and leases, migrations.

use serde_json::json;

use super::*;
use crate::events::{ConsumerStart, Event, NewEvent};

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
fn the_default_dir_is_under_the_data_dir() {
    let dir = default_dir().unwrap();
    assert!(dir.ends_with("store"), "{}", dir.display());
}

fn append(store: &Store, count: usize) {
    store
        .write(|tx| {
            for _ in 0..count {
                tx.append_event(&NewEvent::new("Thing", "ns", "a", "Changed"))?;
            }
            Ok::<_, Error>(())
        })
        .unwrap();
}

#[test]
fn a_lease_follows_in_order_outside_transactions() {
    let (dir, store) = store();
    append(&store, 3);
    let lease = store.try_lease("mirror", ConsumerStart::Beginning).unwrap().expect("the lease is free");
    let other = Store::open(dir.path()).unwrap();
    assert!(other.try_lease("mirror", ConsumerStart::Beginning).unwrap().is_none(), "one holder at a time");
    assert!(other.lease_holder("mirror").unwrap().unwrap().starts_with("pid="));
    let blocked = other.consume_next("mirror", ConsumerStart::Beginning, |_, _| Ok::<_, Error>(()));
    assert!(matches!(blocked, Err(Error::ConsumerLeased { .. })), "{blocked:?}");

    let first = lease.next().unwrap().unwrap();
    // Between `next` and `advance` no transaction is open: others write freely.
    other.write(|tx| tx.create("Thing", "ns", "during", json!({}))).unwrap();
    lease.advance(&first).unwrap();
    let err = lease.advance(&first).unwrap_err();
    assert!(matches!(err, Error::LeaseLost { seq: 1, .. }), "an event is marked done once: {err:?}");
    let second = lease.next().unwrap().unwrap();
    assert_eq!(second.seq, 2);
    let recorded = lease.advance_with(&second, |tx| tx.create("Seen", "ns", "2", json!({}))).unwrap();
    assert_eq!(recorded.name, "2");
    assert_eq!(other.read(|tx| tx.cursor("mirror")).unwrap(), Some(2));
    assert_eq!(lease.pending(10).unwrap().iter().map(|e| e.seq).collect::<Vec<_>>(), [3]);

    lease.release().unwrap();
    let next = other.try_lease("mirror", ConsumerStart::Beginning).unwrap().expect("released");
    assert_eq!(next.next().unwrap().map(|e| e.seq), Some(3), "the next holder continues where the last stopped");
    drop(next);
    assert!(store.lease_holder("mirror").unwrap().is_none(), "dropping a lease releases it");
    assert!(store.check().unwrap().is_empty());
}

#[test]
fn a_dead_holders_lease_is_taken_over() {
    let (_dir, store) = store();
    append(&store, 2);
    let now = crate::timestamp::now();
    let in_an_hour = crate::timestamp::format(&(now + jiff::SignedDuration::from_hours(1)));
    let an_hour_ago = crate::timestamp::format(&(now - jiff::SignedDuration::from_hours(1)));
    let me = crate::ProcessIdentity::current();
    let plant = |holder: &crate::ProcessIdentity, expires: &str| {
        store
            .conn
            .execute(
                "INSERT OR REPLACE INTO leases (consumer, token, holder, acquired, expires) VALUES ('c', 't', ?1, '', ?2)",
                params![holder.to_string(), expires],
            )
            .unwrap();
    };
    // A process of this machine that is gone: taken over at once, expiry or not.
    plant(&crate::ProcessIdentity { pid: u32::MAX - 1, ..me.clone() }, &in_an_hour);
    let lease = store.try_lease("c", ConsumerStart::Beginning).unwrap().expect("the holder is dead");
    drop(lease);
    // A live process of this machine: kept, expired or not.
    plant(&me, &an_hour_ago);
    assert!(store.try_lease("c", ConsumerStart::Beginning).unwrap().is_none());
    // A process elsewhere: its expiry decides.
    let elsewhere = crate::ProcessIdentity { host: "elsewhere".into(), ..me.clone() };
    plant(&elsewhere, &in_an_hour);
    assert!(store.try_lease("c", ConsumerStart::Beginning).unwrap().is_none());
    plant(&elsewhere, &an_hour_ago);
    let lease = store.try_lease("c", ConsumerStart::Beginning).unwrap().expect("expired");
    // The old holder, back, finds its lease lost.
    let event = lease.next().unwrap().unwrap();
    store.conn.execute("UPDATE leases SET token = 'someone else'", []).unwrap();
    assert!(matches!(lease.advance(&event), Err(Error::LeaseLost { .. })));
}

#[test]
fn a_lease_starting_at_the_end_skips_history() {
    let (_dir, store) = store();
    append(&store, 2);
    let lease = store.try_lease("late", ConsumerStart::End).unwrap().unwrap();
    assert_eq!(lease.next().unwrap(), None);
    append(&store, 1);
    assert_eq!(lease.next().unwrap().map(|e| e.seq), Some(3));
}

#[test]
fn stores_of_schema_two_gain_leases() {
    let dir = tempfile::tempdir().unwrap();
    Store::open_at(dir.path(), Some(2)).unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert!(store.try_lease("c", ConsumerStart::Beginning).unwrap().is_some());
}

fn split_things(tx: &Tx<'_>) -> crate::Result<()> {
    for thing in tx.list("Thing", None)? {
        let Some(parts) = thing.body["spec"].get("parts").cloned() else { continue };
        let mut body = thing.body.clone();
        body["spec"].as_object_mut().unwrap().remove("parts");
        tx.update("Thing", &thing.namespace, &thing.name, body, None)?;
        tx.create("Part", &thing.namespace, &thing.name, json!({"parts": parts}))?;
    }
    Ok(())
}

const SPLIT: ObjectMigration =
    ObjectMigration { id: "test/split-parts", description: "parts become objects", run: split_things };

#[test]
fn object_migrations_run_once_with_their_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_at(dir.path(), Some(3)).unwrap();
    let old = store.write(|tx| tx.create("Thing", "ns", "a", json!({"spec": {"parts": [1, 2]}}))).unwrap();
    drop(store);

    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.migrate_objects(&[SPLIT]).unwrap(), ["test/split-parts"]);
    let thing = store.read(|tx| tx.get("Thing", "ns", "a")).unwrap().unwrap();
    assert_eq!(thing.body["spec"], json!({}));
    assert_eq!(thing.uid, old.uid, "a rewritten object keeps its identity");
    assert!(thing.resource_version > old.resource_version, "and gets a new version: it changed");
    let part = store.read(|tx| tx.get("Part", "ns", "a")).unwrap().unwrap();
    assert_eq!(part.body["parts"], json!([1, 2]));
    assert_eq!(store.object_migrations().unwrap(), ["test/split-parts"]);

    // Recorded: a second open runs nothing, even with new old-shaped data.
    store.write(|tx| tx.create("Thing", "ns", "b", json!({"spec": {"parts": [3]}}))).unwrap();
    let again = Store::open(dir.path()).unwrap();
    assert!(again.migrate_objects(&[SPLIT]).unwrap().is_empty());
    assert!(again.read(|tx| tx.get("Part", "ns", "b")).unwrap().is_none());
    assert!(again.check().unwrap().is_empty());
}

#[test]
fn a_failed_object_migration_keeps_nothing_and_runs_again() {
    fn refuse(tx: &Tx<'_>) -> crate::Result<()> {
        tx.create("Part", "ns", "half", json!({}))?;
        Err(Error::InvalidObject { kind: "Thing".into(), name: "x".into(), message: "no".into(), help: "".into() })
    }
    let (_dir, store) = store();
    let failing = ObjectMigration { id: "test/refuse", description: "fails", run: refuse };
    assert!(matches!(store.migrate_objects(&[failing]), Err(Error::InvalidObject { .. })));
    assert!(store.read(|tx| tx.get("Part", "ns", "half")).unwrap().is_none(), "the step's writes are rolled back");
    assert!(store.object_migrations().unwrap().is_empty(), "and it is not recorded");
    assert_eq!(store.migrate_objects(&[SPLIT]).unwrap(), ["test/split-parts"]);
}

#[cfg(unix)]
#[test]
fn the_store_file_is_its_owners_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("new/store");
    let store = Store::open(&dir).unwrap();
    store.write(|tx| tx.create("Thing", "ns", "a", json!({}))).unwrap();
    assert_eq!(mode(&dir), 0o700, "a directory the store makes");
    for suffix in ["", "-wal", "-shm"] {
        let path = std::path::PathBuf::from(format!("{}{suffix}", store.file().display()));
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    drop(store);
    // A file someone opened up is closed again on the next open.
    std::fs::set_permissions(dir.join(STORE_FILE), std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = Store::open(&dir).unwrap();
    assert_eq!(mode(store.file()), 0o600);
}
