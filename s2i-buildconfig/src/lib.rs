#![doc = include_str!("../README.md")]
//!
//! ## In detail
//!
//! - [`types`] — the objects, serialised exactly as OpenShift's.
//! - `validation` — the API server's defaults and validation, and what the
//!   local build refuses ([`Error::Unsupported`]) or only keeps; `quantity`
//!   — Kubernetes quantities of `resources.limits`.
//! - `configs` — applying, checking, reading and deleting objects in a
//!   caller's transaction ([`apply_build_config`], [`check_build_config`],
//!   [`get_build`], [`get_build_config`], [`builds_of`]).
//! - `generator` — instantiation: a config and a request become a build;
//!   the one write path of phases.
//! - `policy` — run policies, queued-build cancellation, history pruning.
//! - `executor` — which process runs a build; builds whose process is gone.
//! - `run` — running one build through [`s2i_core::Engine`].
//! - `logs` — per-build log files, stages, snippets, reading as they grow.
//! - `triggers` — ImageChange and ConfigChange triggers, exactly once per event.
//! - `binary` — snapshots of binary input.
//! - [`webhooks`] — what a webhook request means (OpenShift's rules, a
//!   request in, a decision out); [`Builds::webhook`] starts its build.
//! - `builds` — [`Builds`], the operations end to end.
//!
//! ## The path of a triggered build
//!
//! A tag moves (a build's output, a tag or an import): the stream's write
//! appends a `TagChanged` event in the same transaction. The
//! [`TRIGGER_CONSUMER`] consumes it ([`Builds::start_triggered`],
//! [`Builds::tick`]); in that consumer's transaction each config watching
//! the tag gets its next Build (phase `New`), and the config records the
//! image in its `status.imageChangeTriggers`. The build then runs — in a
//! worker process, or in this one for [`Builds::run_chain`] — which waits
//! for its run policy, resolves images, builds, and records its own output,
//! which moves a tag…
//!
//! ## Async
//!
//! The operations run on any tokio runtime, a current-thread one included:
//! engine calls are awaited, the registry client runs on tokio's blocking
//! pool, store transactions are short and called inline.

mod binary;
mod builds;
mod configs;
mod error;
mod events;
mod executor;
mod generator;
mod inputs;
mod kept;
mod launcher;
mod logs;
mod policy;
mod quantity;
mod request;
mod run;
mod triggers;
pub mod types;
mod validation;
pub mod webhooks;

#[cfg(test)]
mod tests;

pub use builds::{Builds, CANCEL_WAIT, Cancellation};
pub use configs::{
    AppliedBuild, AppliedConfig, apply_build, apply_build_config, check_build, check_build_config, get_build,
    get_build_config, list_build_configs, list_builds,
};
pub use error::{Error, InputProblem, Result};
pub use events::{Event, Warning};
pub use executor::{Executor, Reaped, executor_of};
pub use kept::Kept;
pub use launcher::WorkerLauncher;
pub use logs::Followed;
pub use policy::builds_of;
pub use request::{BinaryInput, BuildRequest, ImageWriting};
pub use triggers::{Started, TRIGGER_CONSUMER, TriggerWarning};
pub use types::{Build, BuildConfig, BuildPhase, ConditionStatus, RunPolicy};
