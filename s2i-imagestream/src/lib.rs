//! Image streams for s2i: named tags over image digests, with history, kept in
//! an embedded store.
//!
//! - [`store`] — the store every kind of object s2i keeps lives in: objects
//!   keyed by kind, namespace and name, transactions, an event log and
//!   exactly-once event consumers.

pub mod error;
pub mod store;

pub use error::{Error, Result};
pub use store::{ObjectMeta, Resource, Store};
