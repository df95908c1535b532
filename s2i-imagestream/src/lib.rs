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
//!
//! # Example
//!
//! Promote `app:dev` to `app:prod` without moving image data, as `s2i tag`
//! does, and see what `prod` pointed to before:
//!
//! ```no_run
//! use s2i_core::ContainerRuntime;
//! use s2i_imagestream::operations::ImageStreams;
//! use s2i_imagestream::registry::RegistryClient;
//! use s2i_imagestream::streams::{StreamTag, TagRequest, TagSource};
//! use s2i_imagestream::{ImageStream, Store};
//!
//! async fn promote(engine: &dyn ContainerRuntime) -> s2i_imagestream::Result<()> {
//!     let store = Store::open(s2i_imagestream::store::default_dir()?)?;
//!     let registry = RegistryClient::new(|_registry: &str| Ok(None));
//!     let streams = ImageStreams::new(&store, Ok(engine), &registry);
//!     let request = TagRequest {
//!         source: TagSource::parse("app:dev", None, "default")?,
//!         destinations: vec![StreamTag::parse("app:prod", "default")?],
//!         alias: false,
//!         reference: false,
//!         reference_policy: None,
//!         import_mode: None,
//!         insecure: false,
//!         scheduled: false,
//!     };
//!     let outcome = streams.tag(&request).await?;
//!     for tag in &outcome.value {
//!         eprintln!("{}", tag.message);
//!     }
//!     let stream: Option<ImageStream> = store.read(|tx| tx.get_as::<ImageStream>("default", "app"))?;
//!     if let Some(history) = stream.and_then(|s| s.status.tags.into_iter().find(|t| t.tag == "prod")) {
//!         for item in history.items {
//!             eprintln!("{} {}", item.created, item.image);
//!         }
//!     }
//!     Ok(())
//! }
//! ```

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
