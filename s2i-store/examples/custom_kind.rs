//! A kind of one's own in the object store: created, changed, refused when
//! the change was made on a stale copy, listed as YAML, and its changes
//! followed through the event log.
//!
//! ```sh
//! cargo run -p s2i-store --example custom_kind [-- STORE_DIR]
//! ```
//!
//! Without `STORE_DIR` the store lives in a temporary directory that is
//! removed at the end; with it, run the example twice to see the second run
//! find the objects and events of the first.

// An example shows its result on the terminal.
#![allow(clippy::print_stdout)]

use s2i_store::codec::to_yaml;
use s2i_store::{ConsumerStart, Error, KindInfo, NewEvent, NoRules, ObjectMeta, Resource, Store, WriteAction};
use serde::{Deserialize, Serialize};

/// A bookmark: `bookmarks.links.example.com/v1`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bookmark {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    metadata: ObjectMeta,
    url: String,
}

impl Resource for Bookmark {
    const INFO: KindInfo = KindInfo {
        group: "links.example.com",
        version: "v1",
        kind: "Bookmark",
        plural: "bookmarks",
        short_names: &["bm"],
        namespaced: true,
    };
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

fn bookmark(name: &str, url: &str) -> Bookmark {
    Bookmark { metadata: ObjectMeta::named("reading", name), url: url.to_owned(), ..Bookmark::default() }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temporary = tempfile::tempdir()?;
    let dir = std::env::args_os().nth(1).map_or_else(|| temporary.path().to_owned(), Into::into);
    let store = Store::open(&dir)?;
    println!("store: {}", store.file().display());

    // Apply: create when missing, otherwise update; the same content again is
    // "unchanged" and writes nothing. Each change records an event in the
    // same transaction, so an event exists exactly when its change does.
    for (name, url) in [("rust", "https://www.rust-lang.org/"), ("oci", "https://opencontainers.org/")] {
        let (_, action) = store.write(|tx| {
            let (saved, action) = tx.apply_with(bookmark(name, url), &NoRules)?;
            if action != WriteAction::Unchanged {
                tx.append_event(&NewEvent::new(Bookmark::KIND, "reading", name, action.as_str()))?;
            }
            Ok::<_, Error>((saved, action))
        })?;
        println!("bookmark/{name} {}", action.as_str());
    }

    // Two copies read at once; the first write wins, the second is refused
    // because its resourceVersion is no longer the stored one.
    let read = || store.read(|tx| tx.get_as::<Bookmark>("reading", "rust"));
    let (mut first, mut second) = (read()?.expect("created above"), read()?.expect("created above"));
    first.url = "https://doc.rust-lang.org/".into();
    store.write(|tx| tx.update_as(&first))?;
    second.url = "https://crates.io/".into();
    match store.write(|tx| tx.update_as(&second)) {
        Err(Error::Conflict { .. }) => println!("a stale update is refused"),
        other => return Err(format!("expected a conflict, got {other:?}").into()),
    }

    // Everything of the namespace, as YAML.
    for saved in store.read(|tx| tx.list_as::<Bookmark>(Some("reading")))? {
        print!("---\n{}", to_yaml(&saved)?);
    }

    // A consumer whose effect is outside the store (here: printing) follows
    // the log under a lease: it reads the next event, acts with no
    // transaction open, then marks the event done. With a STORE_DIR, a
    // second run prints only the events of that run.
    let lease = store.try_lease("printer", ConsumerStart::Beginning)?.ok_or("another process holds the lease")?;
    while let Some(event) = lease.next()? {
        println!("event {}: {} {}/{} {}", event.seq, event.kind, event.namespace, event.name, event.action);
        lease.advance(&event)?;
    }
    lease.release()?;
    Ok(())
}
