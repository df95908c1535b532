//! BuildConfigs and Builds (`build.openshift.io/v1`) on the local engine:
//! declared builds, run by s2i processes, started by hand or by triggers.
//!
//! - [`types`] — the objects, serialised exactly as OpenShift's.
//! - [`validation`] — the API server's defaults and validation, and what the
//!   local build refuses ([`crate::Error::Unsupported`]) or only keeps.
//! - [`quantity`] — Kubernetes quantities of `resources.limits`.
//! - [`generator`] — instantiation: a config and a request become a build.
//! - [`policy`] — run policies, queued-build cancellation, history pruning.
//! - [`executor`] — which process runs a build; builds whose process is gone.
//! - [`run`] — running one build through [`s2i_core::Engine`].
//! - [`logs`] — per-build log files, stages, snippets, following.
//! - [`triggers`] — ImageChange and ConfigChange triggers, exactly once per event.
//! - [`binary`] — snapshots of binary input.
//! - [`configs`] — applying and deleting build configs and builds.
//!
//! # The path of a triggered build
//!
//! A tag moves (a build's output, `s2i tag`, `s2i import-image`): the
//! stream's write appends a `TagChanged` event in the same transaction.
//! [`triggers::process_events`] consumes it as `build-triggers`; in that
//! consumer's transaction [`generator::instantiate`] creates the Build of each
//! config watching the tag (phase `New`) and records the image in the
//! config's `status.imageChangeTriggers`. The caller then has the build run —
//! [`run::Runner::run`] in some process — which waits for its run policy,
//! resolves images, builds, and records its own output, which moves a tag…

pub mod binary;
pub mod configs;
pub mod error;
pub mod executor;
pub mod generator;
pub mod logs;
pub mod policy;
pub mod quantity;
pub mod run;
pub mod triggers;
pub mod types;
pub mod validation;

pub use error::{Error, InputProblem, Instead, Result};
pub use types::{Build, BuildConfig};
