//! Image streams for s2i: named tags over image digests, with history, kept in
//! an embedded store.
//!
//! - [`store`] — the store every kind of object s2i keeps lives in: objects
//!   keyed by kind, namespace and name, transactions, an event log and
//!   exactly-once event consumers.
//! - [`types`] — the `image.openshift.io/v1` objects: [`ImageStream`],
//!   [`Image`], and the views [`ImageStreamTag`] and [`ImageStreamImage`].
//! - [`streams`] — what the server does: generations, resolution of spec
//!   tags, history and tracking tags, and the operations (tag, copy, alias,
//!   reference, delete, record a pushed or built image, record an import).
//! - [`history`] — the history rules on their own.
//! - [`names`] — naming rules of streams, tags and views.
//! - [`engine`] — the local container engine as the home of streams without
//!   a registry; [`registry`] — an OCI distribution client for the others.
//! - [`mirror`] — the event consumer that makes engine and registry tags
//!   follow the streams.
//! - [`operations`] — the user's operations end to end ([`operations::ImageStreams`]).
//! - [`builds`] — BuildConfigs and Builds: declared builds run on the local
//!   engine through `s2i-core`, started by hand or by ImageChange and
//!   ConfigChange triggers that follow the event log.

pub mod builds;
pub mod engine;
pub mod error;
pub mod history;
pub mod mirror;
pub mod names;
pub mod operations;
pub mod registry;
pub mod store;
pub mod streams;
pub mod types;

pub use error::{Error, Result};
pub use store::{ObjectMeta, Resource, Store};
pub use types::{Image, ImageStream, ImageStreamImage, ImageStreamTag};
