#![doc = include_str!("../README.md")]
//!
//! ## In detail
//!
//! - [`types`] — the `image.openshift.io/v1` objects: [`ImageStream`],
//!   [`Image`], and the views [`ImageStreamTag`] and [`ImageStreamImage`].
//! - [`streams`] — what the server does: generations, resolution of spec
//!   tags, history and tracking tags, and the operations (apply, tag, copy,
//!   alias, reference, delete, record a pushed or built image, record an
//!   import).
//! - [`views`] — the `ImageStreamTag` and `ImageStreamImage` views, and
//!   what applying an `ImageStreamTag` means; [`images`] — `Image` objects,
//!   and the rule that an image in a tag's history cannot be deleted.
//! - [`history`] — the history rules on their own.
//! - [`names`] — naming rules of streams, tags and views.
//! - [`engine`] — the local container engine as the home of streams without
//!   a registry; [`registry`] — an OCI distribution client for the others.
//! - [`suppression`] — tag changes that start nothing (`--no-triggers`).
//! - [`mirror`] — the event consumer that makes engine and registry tags
//!   follow the streams (under a consumer lease: engine and registry calls
//!   happen outside any store transaction).
//! - [`operations`] — the user's operations end to end ([`operations::ImageStreams`]).
//!
//! ### Async
//!
//! The operations are `async` and run on any tokio runtime, a current-thread
//! one included: the container engine is called through
//! [`s2i_core::ContainerRuntime`], the registry client (blocking HTTP) on
//! tokio's blocking pool. Store transactions are short and called inline —
//! none of them waits on the engine or a registry, so they only ever wait for
//! another process's short transaction.
//!
//! ### Example: promotion with the engine
//!
//! Promote `app:dev` to `app:prod` without moving image data, as `s2i tag`
//! does, and see what `prod` pointed to before:
//!
//! ```no_run
//! use s2i_core::ContainerRuntime;
//! use s2i_imagestream::operations::ImageStreams;
//! use s2i_imagestream::registry::RegistryClient;
//! use s2i_imagestream::streams::{StreamTag, TagRequest, TagSource};
//! use s2i_imagestream::ImageStream;
//! use s2i_store::Store;
//!
//! async fn promote(engine: &dyn ContainerRuntime) -> s2i_imagestream::Result<()> {
//!     let store = Store::open(s2i_store::default_dir()?)?;
//!     let registry = RegistryClient::new(|_registry: &str| Ok(None));
//!     let streams = ImageStreams::new(&store, Ok(engine), &registry);
//!     let source = TagSource::parse("app:dev", None, "default")?;
//!     let request = TagRequest::new(source, vec![StreamTag::parse("app:prod", "default")?]);
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

pub mod engine;
pub mod error;
pub mod history;
pub mod images;
pub mod migrations;
pub mod mirror;
pub mod names;
pub mod operations;
pub mod registry;
pub mod repository;
pub mod streams;
pub mod suppression;
pub mod types;
pub mod views;

pub use error::{Error, Result};
pub use types::{Image, ImageStream, ImageStreamImage, ImageStreamTag};
