#![doc = include_str!("../README.md")]
//!
//! ## In detail
//!
//! Always available (`default-features = false` is enough):
//!
//! - [`ObjectMeta`], [`OwnerReference`], [`ObjectKey`]: metadata as
//!   Kubernetes writes it (`creationTimestamp` is a [`jiff::Timestamp`],
//!   written RFC 3339 in UTC to the second, see [`timestamp`]);
//!   [`ObjectReference`], a reference to another object;
//! - [`input_namespace`]: which namespace an object of a file goes to, and
//!   when a namespace the caller asked for refuses the file's;
//! - [`ServerOwned`]: the rule for input that a server owns — a kind's
//!   `status` and the metadata a server adds (`managedFields`, …) are read
//!   and ignored, so objects as `kubectl get -o yaml` prints them apply;
//! - [`Resource`] and [`KindInfo`]: what a kind is (group, version, kind,
//!   plural, short names, namespaced), and [`KindRegistry`], which resolves a
//!   name a user typed (`is`, `imagestreams`, `ImageStream`,
//!   `imagestream.image.openshift.io`) or a document's `kind` to one kind;
//! - [`codec`]: the one YAML writer of the workspace, and reading documents
//!   typed by kind with errors that point into the text;
//! - [`labels`]: Kubernetes' rules for label keys and values;
//!   [`selector`]: label selectors as `kubectl get -l` reads them;
//! - [`export`]: an object as a file for another namespace or cluster
//!   (what a server owns and what is this store's left out);
//! - [`core`]: the generic `v1` kinds several crates use, Secret and
//!   ConfigMap, with the API server's rules (and their store writes);
//! - [`ProcessIdentity`]: a process, recorded so that another one can tell
//!   later whether it still runs.
//!
//! With the default feature `sqlite`, the embedded store:
//!
//! - an object is a JSON document keyed by *(kind, namespace, name)*;
//!   cluster-scoped kinds use the empty namespace. The store owns
//!   `metadata.name`, `namespace`, `uid` (assigned on create, never changed;
//!   a UUIDv7, so uids sort in creation order, which keeps "oldest first,
//!   ties by uid" rules deterministic within one second), `resourceVersion`
//!   (a store-wide counter that grows with every write, as a string) and
//!   `creationTimestamp` (assigned on create). Everything else is the kind's;
//! - all reads and writes happen in a transaction: [`Store::read`] sees one
//!   consistent snapshot, [`Store::write`] runs its closure under SQLite's
//!   `BEGIN IMMEDIATE` (one writer at a time, across processes) and commits
//!   only when the closure returns `Ok`; a store found locked is waited for
//!   and tried again ([`Error::StoreBusy`] when it stays locked);
//! - [`Tx::create_with`], [`Tx::update_with`] and [`Tx::apply_with`] write
//!   with an API server's semantics (existence, `resourceVersion` conflicts,
//!   "unchanged"), leaving the kind's rules to a [`Strategy`];
//! - the event log: [`Tx::append_event`] appends in the transaction of the
//!   change it describes, so an event exists if and only if its change was
//!   committed. A consumer follows the log in order either *inside* the
//!   store ([`Store::consume_next`]: the effect runs in the transaction that
//!   advances the cursor, exactly once) or *outside* it with a lease
//!   ([`Store::try_lease`], [`ConsumerLease`]): one process at a time reads
//!   the next event, acts with no transaction open — however long the
//!   engine or network takes — and then marks it done. A dead holder's lease
//!   is taken over; its unfinished event is acted on again;
//! - a `schema_version` table and an append-only migration list upgrade a
//!   file written by an older version (the file is `store.db` in the store
//!   directory, by default [`default_dir`]); a newer one is refused;
//! - documents written by an older version of a kind are rewritten by the
//!   kind's crate: it holds its steps as [`ObjectMigration`]s and runs them
//!   with [`Store::migrate_objects`] after opening the store; each runs once
//!   per store, in the transaction that records it.
//!
//! ## Adding a kind to the store
//!
//! A kind is a serde type that implements [`Resource`]:
//!
//! ```
//! # #[cfg(feature = "sqlite")] {
//! use serde::{Deserialize, Serialize};
//! use s2i_store::{KindInfo, KindRegistry, NewEvent, NoRules, ObjectMeta, Resource, Store, WriteAction};
//!
//! #[derive(Debug, Clone, Default, Serialize, Deserialize)]
//! #[serde(rename_all = "camelCase")]
//! struct Widget {
//!     api_version: String,
//!     kind: String,
//!     metadata: ObjectMeta,
//!     spec: serde_json::Value,
//! }
//!
//! impl Resource for Widget {
//!     const INFO: KindInfo = KindInfo {
//!         group: "example.com",
//!         version: "v1",
//!         kind: "Widget",
//!         plural: "widgets",
//!         short_names: &["wd"],
//!         namespaced: true,
//!     };
//!     fn metadata(&self) -> &ObjectMeta { &self.metadata }
//!     fn metadata_mut(&mut self) -> &mut ObjectMeta { &mut self.metadata }
//! }
//!
//! # fn main() -> Result<(), s2i_store::Error> {
//! let mut kinds = KindRegistry::new();
//! kinds.register_resource::<Widget>()?;
//! assert_eq!(kinds.resolve("wd")?.kind, "Widget");
//!
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path())?;
//! let mut widget = Widget { metadata: ObjectMeta::named("default", "w"), ..Widget::default() };
//! widget.spec = serde_json::json!({"size": 1});
//! let created = store.write(|tx| tx.create_as(&widget))?;
//! assert_eq!(created.api_version, "example.com/v1");
//!
//! // Read, change, write back; the resourceVersion guards against lost updates.
//! store.write(|tx| {
//!     let mut widget: Widget = tx.get_as("default", "w")?.expect("it exists");
//!     widget.spec["size"] = 2.into();
//!     let (_, action) = tx.apply_with(widget, &NoRules)?;
//!     assert_eq!(action, WriteAction::Configured);
//!     tx.append_event(&NewEvent::new("Widget", "default", "w", "Resized"))?;
//!     Ok::<_, s2i_store::Error>(())
//! })?;
//! let all: Vec<Widget> = store.read(|tx| tx.list_as(Some("default")))?;
//! assert_eq!(all[0].spec["size"], 2);
//! # Ok(())
//! # }
//! # }
//! ```
//!
//! Kind-specific rules (validation, defaults, generations) belong to the
//! kind's crate; the store only guarantees identity, ordering and atomicity.

// Without `sqlite` the crate docs still describe the store; their links to it go nowhere.
#![cfg_attr(not(feature = "sqlite"), allow(rustdoc::broken_intra_doc_links))]

pub mod codec;
pub mod core;
mod error;
mod events;
pub mod export;
mod kinds;
pub mod labels;
mod meta;
mod process;
mod resource;
pub mod selector;
#[cfg(feature = "sqlite")]
mod sqlite;
pub mod timestamp;

pub use error::{Error, Result};
pub use events::{ConsumerStart, Event, NewEvent};
pub use kinds::KindRegistry;
pub use meta::{
    DEFAULT_NAMESPACE, ObjectKey, ObjectMeta, ObjectReference, OwnerReference, ServerOwned, input_namespace,
    validate_namespace,
};
pub use process::ProcessIdentity;
pub use resource::{Applied, KindInfo, Resource, WriteAction};
#[cfg(feature = "sqlite")]
pub use sqlite::{
    ConsumerLease, LEASE_TTL, NoRules, ObjectMigration, SCHEMA_VERSION, STORE_FILE, Store, StoredObject, Strategy, Tx,
    default_dir,
};
