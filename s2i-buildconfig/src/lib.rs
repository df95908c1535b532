//! BuildConfigs and Builds (`build.openshift.io/v1`) on a local container
//! engine: declared builds, started by hand or by ImageChange and
//! ConfigChange triggers, run by s2i processes through [`s2i_core::Engine`],
//! their state kept in the object store of [`s2i_store`] next to the image
//! streams of [`s2i_imagestream`] they read and write.
//!
//! [`Builds`] is what a front end uses: start a build ([`BuildRequest`]),
//! run it here or have a worker process run it, run a chain, cancel, follow
//! a log, and the controller's [`Builds::tick`]. The library never prints
//! (it reports [`Event`]s) and never starts a process itself: the front end
//! starts worker processes through its [`WorkerLauncher`].
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
//! # The path of a triggered build
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
//! # Async
//!
//! The operations run on any tokio runtime, a current-thread one included:
//! engine calls are awaited, the registry client runs on tokio's blocking
//! pool, store transactions are short and called inline.
//!
//! # Example
//!
//! Declare a build, run it in this process and read its log, as a tool
//! embedding s2i would:
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use s2i_buildconfig::{BuildConfig, BuildRequest, Builds, WorkerLauncher};
//! use s2i_core::{CancellationToken, ContainerRuntime};
//! use s2i_imagestream::registry::RegistryClient;
//! use s2i_store::{Store, codec};
//!
//! /// This tool runs every build itself, so it starts no worker processes.
//! struct InProcess;
//!
//! impl WorkerLauncher for InProcess {
//!     fn launch(&self, _: &std::path::Path, _: &str, _: &str, _: std::fs::File) -> std::io::Result<()> {
//!         Err(std::io::Error::other("this tool runs builds in its own process"))
//!     }
//! }
//!
//! async fn build_app(engine: Arc<dyn ContainerRuntime>) -> Result<(), Box<dyn std::error::Error>> {
//!     let store = Store::open(s2i_store::default_dir()?)?;
//!     let registry = RegistryClient::anonymous();
//!     let builds = Builds::new(&store, Ok(engine), &registry, &InProcess).with_triggers(false);
//!
//!     let yaml = "apiVersion: build.openshift.io/v1
//! kind: BuildConfig
//! metadata: {name: app, namespace: default}
//! spec:
//!   source: {git: {uri: 'https://example.com/app.git'}}
//!   strategy: {sourceStrategy: {from: {kind: DockerImage, name: 'registry.example.com/builder:1'}}}
//!   output: {to: {kind: ImageStreamTag, name: 'app:latest'}}";
//!     for document in codec::read_documents("app.yaml", yaml)? {
//!         builds.apply(&document.decode::<BuildConfig>()?)?;
//!     }
//!
//!     let build = builds.start(&BuildRequest::new("default", "app").env("DEBUG", "1")).await?;
//!     let mut print = |line: &str| println!("{line}");
//!     let failed = builds.run_chain(&build, Some(&mut print), &CancellationToken::new()).await?;
//!     assert!(failed.is_empty(), "the build did not complete");
//!     Ok(())
//! }
//! ```

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
pub use error::{Error, InputProblem, Instead, Result};
pub use events::{Event, Warning};
pub use executor::{Executor, Reaped, executor_of};
pub use kept::Kept;
pub use launcher::WorkerLauncher;
pub use logs::Followed;
pub use policy::builds_of;
pub use request::{BinaryInput, BuildRequest};
pub use triggers::{Started, TRIGGER_CONSUMER, TriggerWarning};
pub use types::{Build, BuildConfig, BuildPhase, ConditionStatus, RunPolicy};
