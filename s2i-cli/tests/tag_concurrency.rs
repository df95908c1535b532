//! Many `s2i tag` processes on one store at once, and processes killed with
//! SIGKILL in the middle of their work: no tag operation is lost, none is half
//! done, and the store stays readable and consistent.

#![allow(clippy::print_stderr)]

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use s2i_imagestream::streams::{self, ResolvedImage, StreamTag, TAG_CHANGED, TagChange};
use s2i_imagestream::types::{Image, ImageStream};
use s2i_store::{ConsumerStart, ObjectMeta, Store};
use support::*;

const PROCESSES: usize = 8;
const OPERATIONS: usize = 25;

fn digest(p: usize, i: usize) -> String {
    format!("sha256:{:0>64}", format!("{p:x}{i:04x}"))
}

/// Seed stream `src` with one tag per (process, operation), each on its own
/// image, through the library in one transaction; mark those events as
/// followed so the processes under test only follow their own.
fn seed(store_dir: &Path, namespace: &str, processes: usize, operations: usize) {
    let store = Store::open(store_dir).unwrap();
    store
        .write(|tx| {
            for p in 0..processes {
                for i in 0..operations {
                    let destination =
                        StreamTag { namespace: namespace.into(), stream: "src".into(), tag: format!("t{p}-{i}") };
                    let resolved = ResolvedImage {
                        image: Image { metadata: ObjectMeta::named("", digest(p, i)), ..Image::default() },
                        docker_image_reference: format!("{namespace}/src@{}", digest(p, i)),
                    };
                    streams::record_image(tx, &destination, &resolved)?;
                }
            }
            Ok::<_, s2i_imagestream::Error>(())
        })
        .unwrap();
    while store
        .consume_next("mirror", ConsumerStart::Beginning, |_, _| Ok::<_, s2i_imagestream::Error>(()))
        .unwrap()
        .is_some()
    {}
}

fn history(store: &Store, namespace: &str, tag: &str) -> Vec<String> {
    let stream: ImageStream = store.read(|tx| tx.get_as(namespace, "dst")).unwrap().expect("dst exists");
    stream.status_tag(tag).map(|t| t.items.iter().map(|i| i.image.clone()).collect()).unwrap_or_default()
}

/// The TagChanged events of `dst:<tag>` that gave it a new image.
fn change_events(store: &Store, namespace: &str, tag: &str) -> usize {
    store
        .read(|tx| tx.object_events("ImageStream", namespace, "dst"))
        .unwrap()
        .into_iter()
        .filter(|e| e.action == TAG_CHANGED)
        .filter_map(|e| serde_json::from_value::<TagChange>(e.data).ok())
        .filter(|c| c.tag == tag && c.new.is_some())
        .count()
}

fn assert_consistent(store: &Store) {
    let problems = s2i_imagestream::operations::check(store).unwrap();
    assert!(problems.is_empty(), "the store is inconsistent: {problems:?}");
}

#[test]
fn concurrent_tag_processes_lose_nothing() {
    let ns = Namespace::fresh();
    let dir = tempfile::tempdir().unwrap();
    seed(dir.path(), &ns.0, PROCESSES, OPERATIONS);

    let workers: Vec<_> = (0..PROCESSES)
        .map(|p| {
            let (store, namespace) = (dir.path().to_owned(), ns.0.clone());
            std::thread::spawn(move || {
                for i in 0..OPERATIONS {
                    let source = format!("src:t{p}-{i}");
                    let run = run_in_store(&store, &namespace, ["tag", &source, "dst:shared", &format!("dst:p{p}")]);
                    assert_eq!(run.code, 0, "process {p} operation {i} failed:\n{}", run.stderr);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a worker failed");
    }

    let store = Store::open(dir.path()).unwrap();
    let shared: BTreeSet<String> = history(&store, &ns.0, "shared").into_iter().collect();
    let expected: BTreeSet<String> = (0..PROCESSES).flat_map(|p| (0..OPERATIONS).map(move |i| digest(p, i))).collect();
    assert_eq!(shared.len(), PROCESSES * OPERATIONS, "every operation is in the shared history");
    assert_eq!(shared, expected);
    for p in 0..PROCESSES {
        let own = history(&store, &ns.0, &format!("p{p}"));
        let newest_first: Vec<String> = (0..OPERATIONS).rev().map(|i| digest(p, i)).collect();
        assert_eq!(own, newest_first, "process {p}'s tag has its operations, newest first");
    }
    assert_eq!(change_events(&store, &ns.0, "shared"), PROCESSES * OPERATIONS, "one event per change");
    let last = store.read(|tx| tx.last_seq()).unwrap();
    assert_eq!(store.read(|tx| tx.cursor("mirror")).unwrap(), Some(last), "every change was followed");
    assert_consistent(&store);
}

#[test]
fn killed_processes_leave_a_consistent_store() {
    const WORKERS: usize = 4;
    const ROUNDS: usize = 15;
    let ns = Namespace::fresh();
    let dir = tempfile::tempdir().unwrap();
    seed(dir.path(), &ns.0, WORKERS, ROUNDS);

    // How long one operation takes here and now; with WORKERS at once each takes longer,
    // so kills land anywhere in (WORKERS + 2) times that.
    let started = std::time::Instant::now();
    run_in_store(dir.path(), &ns.0, ["tag", "src:t0-0", "dst:warm-up"]).ok();
    let span_ms = (started.elapsed().as_millis() as u64 * (WORKERS as u64 + 2)).max(20);

    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (store, namespace) = (dir.path().to_owned(), ns.0.clone());
            std::thread::spawn(move || {
                // A small deterministic generator for the kill delays: before, during
                // and after the transaction and the engine calls.
                let mut state = 0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(w as u64 + 1);
                let mut completed = Vec::new();
                for i in 0..ROUNDS {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    // Every fourth process dies at once, so that some kills land before
                    // the end whatever the machine's speed; the others anywhere in the span.
                    let delay = if i % 4 == 0 { Duration::ZERO } else { Duration::from_millis(state % span_ms) };
                    let mut child = s2i_in(&store, &namespace)
                        .args(["tag", &format!("src:t{w}-{i}"), "dst:shared"])
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()
                        .unwrap();
                    std::thread::sleep(delay);
                    // SIGKILL: no chance to clean up or roll back.
                    let _ = child.kill();
                    let status = child.wait().unwrap();
                    if status.success() {
                        completed.push(digest(w, i));
                    }
                }
                completed
            })
        })
        .collect();
    let completed: Vec<String> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    eprintln!(
        "{} of {} processes finished before the kill (kills within {span_ms} ms)",
        completed.len(),
        WORKERS * ROUNDS
    );
    assert!(!completed.is_empty() && completed.len() < WORKERS * ROUNDS, "kills land both before and after the end");

    let store = Store::open(dir.path()).unwrap();
    assert_consistent(&store);
    let shared = match store.read(|tx| tx.get_as::<ImageStream>(&ns.0, "dst")).unwrap() {
        Some(_) => history(&store, &ns.0, "shared"),
        None => Vec::new(),
    };
    for image in &completed {
        assert!(shared.contains(image), "a process that finished lost its change {image}");
    }
    assert_eq!(
        change_events(&store, &ns.0, "shared"),
        shared.len(),
        "each history item has exactly one event: no change without its event, no event without its change"
    );
    let unique: BTreeSet<&String> = shared.iter().collect();
    assert_eq!(unique.len(), shared.len(), "no item twice");

    // The store still works, and the changes a killed process left unfollowed are followed now.
    let run = run_in_store(dir.path(), &ns.0, ["tag", "src:t0-0", "dst:after"]).ok();
    assert!(run.stdout.contains("Tag dst:after set to"), "{}", run.stdout);
    let store = Store::open(dir.path()).unwrap();
    let last = store.read(|tx| tx.last_seq()).unwrap();
    assert_eq!(store.read(|tx| tx.cursor("mirror")).unwrap(), Some(last));
    assert_consistent(&store);
}
