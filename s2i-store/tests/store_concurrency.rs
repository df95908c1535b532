//! Many writers and consumers on one store file, each with its own connection
//! (as separate processes have): no lost update, no event consumed twice.

#![cfg(feature = "sqlite")]

use std::sync::{Arc, Barrier};

use s2i_store::{ConsumerStart, Error, NewEvent, Store};
use serde_json::json;

const WRITERS: usize = 8;
const INCREMENTS: usize = 40;
const CONSUMERS: usize = 4;

#[test]
fn concurrent_writers_lose_nothing_and_consumers_never_double_consume() {
    let dir = tempfile::tempdir().unwrap();
    Store::open(dir.path()).unwrap().write(|tx| tx.create("Counter", "ns", "c", json!({"value": 0}))).unwrap();

    let barrier = Arc::new(Barrier::new(WRITERS + CONSUMERS));
    let mut threads = Vec::new();
    for writer in 0..WRITERS {
        let (path, barrier) = (dir.path().to_owned(), barrier.clone());
        threads.push(std::thread::spawn(move || {
            let store = Store::open(&path).unwrap();
            barrier.wait();
            for i in 0..INCREMENTS {
                store
                    .write(|tx| {
                        let counter = tx.get("Counter", "ns", "c")?.expect("the counter exists");
                        let value = counter.body["value"].as_u64().unwrap() + 1;
                        let version = counter.resource_version.to_string();
                        tx.update("Counter", "ns", "c", json!({ "value": value }), Some(&version))?;
                        tx.append_event(
                            &NewEvent::new("Counter", "ns", "c", "Incremented")
                                .with_data(json!({ "writer": writer, "i": i, "value": value })),
                        )?;
                        Ok::<_, Error>(())
                    })
                    .unwrap();
            }
            0
        }));
    }
    for _ in 0..CONSUMERS {
        let (path, barrier) = (dir.path().to_owned(), barrier.clone());
        threads.push(std::thread::spawn(move || {
            let store = Store::open(&path).unwrap();
            barrier.wait();
            let mut consumed = 0;
            let mut idle = 0;
            // Keep consuming until the writers are surely done and the log is drained.
            while idle < 200 {
                let next = store
                    .consume_next("audit", ConsumerStart::Beginning, |tx, event| {
                        // `create` fails if this event was ever consumed before.
                        tx.create("Seen", "ns", &event.seq.to_string(), json!({ "value": event.data["value"] }))
                    })
                    .unwrap();
                match next {
                    Some(_) => {
                        consumed += 1;
                        idle = 0;
                    }
                    None => {
                        idle += 1;
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    }
                }
            }
            consumed
        }));
    }
    let counts: Vec<usize> = threads.into_iter().map(|t| t.join().unwrap()).collect();

    let store = Store::open(dir.path()).unwrap();
    let total = WRITERS * INCREMENTS;
    let counter = store.read(|tx| tx.get("Counter", "ns", "c")).unwrap().unwrap();
    assert_eq!(counter.body["value"], total, "every increment is there");
    let events = store.read(|tx| tx.events_after(0, usize::MAX)).unwrap();
    assert_eq!(events.len(), total);
    let values: Vec<u64> = events.iter().map(|e| e.data["value"].as_u64().unwrap()).collect();
    assert_eq!(values, (1..=total as u64).collect::<Vec<_>>(), "the log is in commit order");
    assert_eq!(counts.iter().sum::<usize>(), total, "each event was consumed exactly once: {counts:?}");
    assert_eq!(store.read(|tx| tx.list("Seen", Some("ns"))).unwrap().len(), total);
    assert_eq!(store.read(|tx| tx.cursor("audit")).unwrap(), Some(total as u64));
    assert_eq!(store.check().unwrap(), Vec::<String>::new());
}
