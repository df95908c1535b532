#![doc = include_str!("../README.md")]

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
