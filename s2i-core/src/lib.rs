//! The Source-to-Image build engine.
//!
//! `s2i-core` turns application source and a builder image into a new image:
//! it resolves a [`BuildPlan`] (builder image, scripts, environment, labels,
//! which source files go in) and runs it on any [`ContainerRuntime`] — one
//! container runs the builder's `assemble` script with the source streamed in as
//! a tar on its stdin, and is committed as one new layer whose `CMD` is the
//! `run` script.
//!
//! The crate never prints and never names a particular engine: progress comes
//! out as [`BuildEvent`]s, failures as [`Error`]s with a stable code and a help
//! line, and the engine is whatever implements [`ContainerRuntime`]
//! (`s2i-docker` provides the Docker Engine API one).
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use s2i_core::{BuildEvent, BuildOptions, ContainerRuntime, Engine};
//! use tokio_util::sync::CancellationToken;
//!
//! async fn build(runtime: Arc<dyn ContainerRuntime>) -> Result<(), s2i_core::Error> {
//!     let events = Arc::new(|event: BuildEvent| {
//!         if let BuildEvent::Output { line, .. } = event {
//!             eprintln!("{line}");
//!         }
//!     });
//!     let engine = Engine::new(runtime, events);
//!     let mut options = BuildOptions::new(Some("./app".into()), "registry.example.com/builders/python:3.12");
//!     options.tag = Some("my-app:latest".into());
//!     let result = engine.build(&options, &CancellationToken::new()).await?;
//!     eprintln!("built {}", result.image_id);
//!     Ok(())
//! }
//! ```

pub mod archive;
pub mod auth;
pub mod build;
pub mod chained;
pub mod dockerfile;
pub mod env;
pub mod error;
pub mod events;
mod exec;
pub mod git;
pub mod ignore;
pub mod incremental;
pub mod inject;
pub mod labels;
mod onbuild;
pub mod owner;
pub mod plan;
pub mod reference;
pub mod retry;
pub mod runtime;
pub mod scripts;
pub mod skeleton;
pub mod source;
pub mod users;

pub use build::{BuildOptions, BuildResult, Engine, PullPolicy, UsageOptions};
pub use env::EnvVar;
pub use error::{Error, Result};
pub use events::{BuildEvent, EventSink, Level, NoEvents, Stage};
pub use exec::{container_name, sh_quote};
pub use plan::BuildPlan;
pub use reference::ImageReference;
pub use runtime::{ContainerRuntime, RuntimeError, RuntimeErrorKind};
pub use scripts::Script;

/// Re-exported so callers can cancel builds without naming `tokio-util` themselves.
pub use tokio_util::sync::CancellationToken;
