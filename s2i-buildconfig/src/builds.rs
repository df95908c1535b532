//! [`Builds`]: what a front end does with build configs and builds, end to
//! end — start a build, run it here or in a worker process, run a chain,
//! cancel, follow a log, and the controller's tick — composed of the rules
//! of the other modules. A front end turns its input into these calls and
//! draws the [`Event`]s; it starts worker processes through its
//! [`WorkerLauncher`].

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use s2i_core::{CancellationToken, ContainerRuntime};
use s2i_imagestream::mirror::EngineAccess;
use s2i_imagestream::operations::{ImageStreams, ImportSchedule};
use s2i_imagestream::registry::RegistryClient;
use s2i_store::{Resource, Store};

use crate::binary;
use crate::configs::{
    AppliedConfig, apply_build_config, cancel_build, check_build_config, delete_build, delete_build_config, get_build,
    get_build_config,
};
use crate::error::{Error, InputProblem, Result};
use crate::events::{Event, Warning, ignore};
use crate::executor::{Executor, Reaped, clean_up_reaped, reap, register};
use crate::generator::{Instantiation, build_name, instantiate, set_phase};
use crate::launcher::WorkerLauncher;
use crate::logs::{Followed, LogReader, input_path, log_path, open_append, remove_files};
use crate::policy::builds_of;
use crate::request::{BinaryInput, BuildRequest};
use crate::run::Runner;
use crate::triggers::{Started, TRIGGER_CONSUMER, TriggerReport, on_applied, process_events};
use crate::types::*;
use crate::webhooks::{self, Decision, Rejection, WebhookRequest, WebhookResponse};
use s2i_store::core::Secret;

/// How often a followed log is read, and a cancelled build looked at again.
const POLL: Duration = Duration::from_millis(200);
/// While a log is followed, how often builds whose process is gone are looked for.
const REAP_EVERY: Duration = Duration::from_secs(2);
/// How long [`Builds::cancel`] waits for the process of a running build to stop it.
pub const CANCEL_WAIT: Duration = Duration::from_secs(60);

/// The operations on the build configs and builds of a store.
///
/// Built from the store, the container engine (or why it cannot be reached:
/// only operations that need it fail), a registry client (for outputs that
/// go to registry-backed image streams) and the [`WorkerLauncher`] that
/// starts the processes running builds in the background.
pub struct Builds<'a> {
    store: &'a Store,
    engine: std::result::Result<Arc<dyn ContainerRuntime>, String>,
    registry: &'a RegistryClient,
    launcher: &'a dyn WorkerLauncher,
    triggers: bool,
    events: &'a dyn Fn(&Event),
}

impl std::fmt::Debug for Builds<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builds")
            .field("store", &self.store.dir())
            .field("engine", &self.engine.as_ref().map(|_| "connected"))
            .field("triggers", &self.triggers)
            .finish_non_exhaustive()
    }
}

/// How [`Builds::cancel`] ended.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Cancellation {
    /// The build ended (`Cancelled`, or whatever it reached first).
    Ended(Box<Build>),
    /// The build was deleted meanwhile.
    Deleted,
    /// It is marked for cancellation, and its process has not stopped it
    /// within [`CANCEL_WAIT`]; it will when it next looks.
    StillRunning(Box<Build>),
}

impl<'a> Builds<'a> {
    /// The operations on `store`'s builds. `engine` is the container engine,
    /// or why it cannot be reached.
    pub fn new(
        store: &'a Store,
        engine: std::result::Result<Arc<dyn ContainerRuntime>, String>,
        registry: &'a RegistryClient,
        launcher: &'a dyn WorkerLauncher,
    ) -> Self {
        Self { store, engine, registry, launcher, triggers: true, events: &ignore }
    }

    /// With `false`, tag changes start no build: neither those of these
    /// operations (a build's output) nor those found in the event log.
    pub fn with_triggers(mut self, triggers: bool) -> Self {
        self.triggers = triggers;
        self
    }

    /// Report [`Event`]s to `events` (by default nobody hears them).
    pub fn with_events(mut self, events: &'a dyn Fn(&Event)) -> Self {
        self.events = events;
        self
    }

    /// The store.
    pub fn store(&self) -> &Store {
        self.store
    }

    /// The image-stream operations on the same store, engine and registries,
    /// set up to go with builds: the same triggers setting, and the log of
    /// tag changes kept until the build triggers have read it.
    pub fn image_streams(&self) -> ImageStreams<'_> {
        let engine: EngineAccess<'_> = match &self.engine {
            Ok(runtime) => Ok(runtime.as_ref()),
            Err(why) => Err(why.clone()),
        };
        ImageStreams::new(self.store, engine, self.registry)
            .with_triggers(self.triggers)
            .with_event_consumers(&[TRIGGER_CONSUMER])
    }

    fn emit(&self, event: Event) {
        (self.events)(&event);
    }

    fn runtime(&self) -> Result<Arc<dyn ContainerRuntime>> {
        self.engine.clone().map_err(|reason| Error::EngineUnreachable { reason })
    }

    // -----------------------------------------------------------------------
    // Objects.

    /// Create or update a build config (checked, defaulted and validated as
    /// the API server does; its status is the server's), then start what
    /// its triggers start ([`Self::configs_applied`]). To apply it in a
    /// transaction with other objects, use [`apply_build_config`] and then
    /// [`Self::configs_applied`].
    pub fn apply(&self, config: &BuildConfig) -> Result<AppliedConfig> {
        check_build_config(config)?;
        let applied = self.store.write(|tx| apply_build_config(tx, config.clone()))?;
        let metadata = &applied.config.metadata;
        self.configs_applied(&[(&metadata.namespace, &metadata.name)])?;
        Ok(applied)
    }

    /// After build configs were applied (created or changed): start what
    /// their triggers start — the first build of a new config with a
    /// ConfigChange trigger, or a build for a watched tag whose image the
    /// config has not built — each in a worker process.
    pub fn configs_applied(&self, configs: &[(&str, &str)]) -> Result<()> {
        if !self.triggers {
            return Ok(());
        }
        let mut report = TriggerReport::default();
        for (namespace, name) in configs {
            let one = self.store.write(|tx| on_applied(tx, namespace, name))?;
            report.started.extend(one.started);
            report.warnings.extend(one.warnings);
        }
        self.launch_started(report)
    }

    /// Delete a build config and its builds (with their logs and inputs);
    /// returns the names of the builds deleted. A running one is stopped by
    /// its process.
    pub fn delete_config(&self, namespace: &str, name: &str) -> Result<Vec<String>> {
        let deleted = self.store.write(|tx| delete_build_config(tx, namespace, name))?;
        for build in &deleted {
            remove_files(self.store.dir(), namespace, build);
        }
        Ok(deleted)
    }

    /// Delete one build (with its log and input); a running one is stopped by its process.
    pub fn delete_build(&self, namespace: &str, name: &str) -> Result<Build> {
        let build = self.store.write(|tx| delete_build(tx, namespace, name))?;
        remove_files(self.store.dir(), namespace, name);
        Ok(build)
    }

    /// The queued and running builds of a build config.
    pub fn active_builds(&self, namespace: &str, config: &str) -> Result<Vec<Build>> {
        let builds = self.store.read(|tx| {
            get_build_config(tx, namespace, config)?;
            builds_of(tx, namespace, config)
        })?;
        Ok(builds.into_iter().filter(Build::is_active).collect())
    }

    /// The name of the latest build of a build config.
    pub fn latest_build(&self, namespace: &str, config: &str) -> Result<String> {
        let bc = self.store.read(|tx| get_build_config(tx, namespace, config))?;
        if bc.status.last_version == 0 {
            return Err(Error::NoBuilds { namespace: namespace.into(), config: config.into() });
        }
        Ok(build_name(config, bc.status.last_version))
    }

    // -----------------------------------------------------------------------
    // Keeping builds honest.

    /// Mark the queued or running builds of `namespace` (all when `None`)
    /// whose process is gone `Error`; returns them for [`Self::clean_up`].
    /// Needs only the store.
    pub fn reap(&self, namespace: Option<&str>) -> Result<Vec<Reaped>> {
        self.store.write(|tx| reap(tx, namespace))
    }

    /// After [`Self::reap`]: say in each build's log what happened, and
    /// remove the containers its process left (when the engine can be
    /// reached). Containers that stay are [`Warning::CleanUp`]s.
    pub async fn clean_up(&self, reaped: &[Reaped]) {
        let runtime = self.engine.as_ref().ok().map(|runtime| runtime.as_ref());
        for warning in clean_up_reaped(self.store.dir(), runtime, reaped).await {
            self.emit(Event::Warning(Warning::CleanUp(warning)));
        }
    }

    /// [`Self::reap`], then [`Self::clean_up`].
    pub async fn refresh(&self, namespace: Option<&str>) -> Result<()> {
        let reaped = self.reap(namespace)?;
        if !reaped.is_empty() {
            self.clean_up(&reaped).await;
        }
        Ok(())
    }

    // -----------------------------------------------------------------------
    // Starting builds.

    /// Create the next build of a config (phase `New`), as asked: checks
    /// that the engine answers and the binary input can be read before
    /// anything is created, then copies the binary input into the store
    /// directory (a failed copy ends the build `Error`). Running it is the
    /// caller's: [`Self::launch`] or [`Self::run_chain`].
    pub async fn start(&self, request: &BuildRequest) -> Result<Build> {
        self.start_for(request, BuildTriggerCause { message: causes::MANUAL.into(), ..Default::default() }, None).await
    }

    /// [`Self::start`], for a cause and with the revision it names.
    async fn start_for(
        &self,
        request: &BuildRequest,
        cause: BuildTriggerCause,
        revision: Option<SourceRevision>,
    ) -> Result<Build> {
        let runtime = self.runtime()?;
        runtime.info().await.map_err(|e| Error::EngineUnreachable { reason: e.to_string() })?;
        let namespace = request.namespace.as_str();
        self.refresh(Some(namespace)).await?;
        let config = self.store.read(|tx| get_build_config(tx, namespace, &request.config))?;
        if let Some((field, strategy)) = config.spec.strategy.not_run_here() {
            return Err(Error::Unsupported {
                kind: BuildConfig::KIND,
                name: request.config.clone(),
                field: field.into(),
                message: format!(
                    "the {strategy} strategy cannot be run here: s2i builds with Source-to-Image only (the config \
                     is kept for OpenShift)"
                ),
                help: "build this config on OpenShift; to build it here, give it a sourceStrategy with an S2I \
                       builder image"
                    .into(),
            });
        }
        let mut instantiation = Instantiation::new(namespace, &request.config, "");
        instantiation.cause = cause;
        instantiation.revision = revision;
        instantiation.env = request.env.clone();
        instantiation.commit = request.commit.clone();
        for location in &request.image.outputs {
            s2i_core::build::check_output(location).map_err(|e| Error::InvalidObject {
                kind: Build::KIND,
                name: request.config.clone(),
                message: e.to_string(),
                help: miette::Diagnostic::help(&e).map_or_else(String::new, |h| h.to_string()),
            })?;
        }
        if !request.image.is_empty() {
            let here = std::env::current_dir().map_err(Error::WorkingDirectory)?;
            instantiation.image = request.image.resolved(&here);
        }
        let input = match &request.binary {
            None => None,
            Some(BinaryInput::Dir(dir)) => Some((dir.clone(), None)),
            Some(BinaryInput::File(file)) => {
                let configured =
                    config.spec.source.binary.as_ref().map(|b| b.as_file.clone()).filter(|n| !n.is_empty());
                let name = configured
                    .or_else(|| file.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .ok_or_else(|| Error::BinaryInput { path: file.clone(), problem: InputProblem::NoFileName })?;
                Some((file.clone(), Some(name)))
            }
        };
        if let Some((path, as_file)) = &input {
            instantiation.binary = Some(BinaryBuildSource { as_file: as_file.clone().unwrap_or_default() });
            let meta = std::fs::metadata(path)
                .map_err(|e| Error::BinaryInput { path: path.clone(), problem: InputProblem::Unreadable(e) })?;
            if as_file.is_none() && !meta.is_dir() {
                return Err(Error::BinaryInput { path: path.clone(), problem: InputProblem::NotADirectory });
            }
        }
        let build = self.store.write(|tx| instantiate(tx, &instantiation))?;
        if let Some((path, as_file)) = &input {
            let name = &build.metadata.name;
            let target = input_path(self.store.dir(), namespace, name);
            let copied = match as_file {
                Some(as_file) => binary::snapshot_file(path, &target, as_file),
                None => binary::snapshot_dir(path, &target),
            };
            if let Err(e) = copied {
                let _ = std::fs::remove_dir_all(&target);
                let (reason, _) = reasons::FETCH_SOURCE_FAILED;
                self.end_with_error(namespace, name, reason, &e.to_string())?;
                return Err(e);
            }
        }
        Ok(build)
    }

    /// Mark a build that cannot run `Error` (unless it has ended already).
    fn end_with_error(&self, namespace: &str, name: &str, reason: &str, message: &str) -> Result<()> {
        self.store.write(|tx| {
            let mut build = get_build(tx, namespace, name)?;
            if build.is_active() {
                set_phase(&mut build, BuildPhase::Error, reason, message, tx.now())?;
                tx.update_as(&build)?;
            }
            Ok(())
        })
    }

    /// Have a worker process run the build ([`WorkerLauncher::launch`]),
    /// its output appended to the build's log. When it cannot be started,
    /// the build ends `Error` (`CannotCreateBuildPod`).
    pub fn launch(&self, build: &Build) -> Result<()> {
        let (namespace, name) = (&build.metadata.namespace, &build.metadata.name);
        let dir = self.store.dir();
        let launched = open_append(&log_path(dir, namespace, name))
            .and_then(|log| self.launcher.launch(dir, namespace, name, log).map_err(Error::Launch));
        if let Err(e) = launched {
            let (reason, _) = reasons::CANNOT_CREATE_BUILD_POD;
            let _ = self.end_with_error(namespace, name, reason, &e.to_string());
            return Err(e);
        }
        Ok(())
    }

    /// Start the builds that the tag changes of the event log trigger (each
    /// in a worker process). Nothing when triggers are off.
    pub fn start_triggered(&self) -> Result<()> {
        if !self.triggers {
            return Ok(());
        }
        let report = process_events(self.store)?;
        self.launch_started(report)
    }

    fn launch_started(&self, report: TriggerReport) -> Result<()> {
        for warning in report.warnings {
            self.emit(Event::Warning(Warning::Trigger(warning)));
        }
        for started in report.started {
            self.launch(&started.build)?;
            self.emit(Event::Started(started));
        }
        Ok(())
    }

    // -----------------------------------------------------------------------
    // Running builds.

    /// Run build `namespace/name` in this process, as a worker does: it
    /// waits for its run policy, builds, records its output, and ends in a
    /// final phase, which it is returned in; then the builds its tag change
    /// triggers are started in worker processes (unless `cancel` fired).
    /// `cancel` cancels the build. Without an engine, the build ends `Error`.
    ///
    /// Fails only when the build cannot be run at all: it does not exist,
    /// another live process runs it, the store fails.
    pub async fn run(&self, namespace: &str, name: &str, cancel: &CancellationToken) -> Result<Build> {
        let runtime = match &self.engine {
            Ok(runtime) => runtime.clone(),
            Err(why) => {
                let (reason, _) = reasons::CANNOT_CREATE_BUILD_POD;
                let message = format!("The container engine cannot be reached: {why}");
                let _ = self.end_with_error(namespace, name, reason, &message);
                return Err(Error::EngineUnreachable { reason: why.clone() });
            }
        };
        let ended = self.runner(runtime).run(namespace, name, cancel).await?;
        if !cancel.is_cancelled() {
            self.start_triggered()?;
        }
        Ok(ended)
    }

    fn runner(&self, runtime: Arc<dyn ContainerRuntime>) -> Runner<'_> {
        Runner::new(self.store.dir(), runtime, self.registry).with_triggers(self.triggers)
    }

    /// Run `first` in this process, then the builds its output triggers,
    /// and theirs, until none is left (each is registered as run by this
    /// process at once, so that it is not taken for abandoned while it
    /// waits). With `log`, each build's log lines are handed to it while it
    /// runs. Reports [`Event::Ended`] for each build and [`Event::Started`]
    /// for each one queued; returns those that did not complete.
    pub async fn run_chain(
        &self,
        first: &Build,
        mut log: Option<&mut dyn FnMut(&str)>,
        cancel: &CancellationToken,
    ) -> Result<Vec<Build>> {
        let runtime = self.runtime()?;
        let mut queue = VecDeque::from([first.clone()]);
        let mut failed = Vec::new();
        while let Some(build) = queue.pop_front() {
            let (namespace, name) = (&build.metadata.namespace, &build.metadata.name);
            let ended = match log.as_deref_mut() {
                Some(on_line) => self.run_following(runtime.clone(), namespace, name, on_line, cancel).await?,
                None => self.runner(runtime.clone()).run(namespace, name, cancel).await?,
            };
            let complete = ended.status.phase == BuildPhase::Complete;
            self.emit(Event::Ended(ended.clone()));
            if !complete {
                failed.push(ended);
            }
            if cancel.is_cancelled() {
                break;
            }
            if self.triggers {
                let report = process_events(self.store)?;
                for warning in report.warnings {
                    self.emit(Event::Warning(Warning::Trigger(warning)));
                }
                let me = Executor::current();
                for started in report.started {
                    let (namespace, name) = (&started.build.metadata.namespace, &started.build.metadata.name);
                    self.store.write(|tx| register(tx, namespace, name, &me))?;
                    queue.push_back(started.build.clone());
                    self.emit(Event::Started(started));
                }
            }
        }
        Ok(failed)
    }

    /// Run one build here, handing its log lines to `on_line` as they come.
    async fn run_following(
        &self,
        runtime: Arc<dyn ContainerRuntime>,
        namespace: &str,
        name: &str,
        on_line: &mut dyn FnMut(&str),
        cancel: &CancellationToken,
    ) -> Result<Build> {
        let mut reader = LogReader::new(self.store.dir(), namespace, name);
        let runner = self.runner(runtime);
        let run = runner.run(namespace, name, cancel);
        tokio::pin!(run);
        // A log that cannot be read is not the build's failure: the build goes on.
        let ended = loop {
            tokio::select! {
                ended = &mut run => break ended,
                _ = tokio::time::sleep(POLL) => { let _ = reader.read_lines(on_line).await; }
            }
        };
        // The runner writes its last lines before it returns.
        let _ = reader.read_lines(on_line).await;
        ended
    }

    /// Cancel a queued or running build: a queued one ends `Cancelled` at
    /// once; a running one is stopped by its process (its containers
    /// removed), which this waits for, up to [`CANCEL_WAIT`].
    pub async fn cancel(&self, namespace: &str, name: &str) -> Result<Cancellation> {
        self.store.write(|tx| cancel_build(tx, namespace, name))?;
        let deadline = Instant::now() + CANCEL_WAIT;
        loop {
            self.refresh(Some(namespace)).await?;
            match self.store.read(|tx| tx.get_as::<Build>(namespace, name))? {
                Some(build) if build.is_terminal() => return Ok(Cancellation::Ended(Box::new(build))),
                None => return Ok(Cancellation::Deleted),
                Some(build) if Instant::now() > deadline => return Ok(Cancellation::StillRunning(Box::new(build))),
                Some(_) => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// Hand the lines of a build's log to `on_line`; with `wait`, also those
    /// appended until the build has ended — meanwhile a build whose process
    /// died is marked `Error`, so that following always ends.
    pub async fn follow_log(
        &self,
        namespace: &str,
        name: &str,
        wait: bool,
        on_line: &mut dyn FnMut(&str),
    ) -> Result<Followed> {
        let mut reader = LogReader::new(self.store.dir(), namespace, name);
        let mut reaped_at = Instant::now();
        loop {
            let build: Option<Build> = self.store.read(|tx| tx.get_as(namespace, name))?;
            reader.read_lines(on_line).await?;
            let Some(build) = build else { return Ok(Followed::Deleted) };
            if !wait || build.is_terminal() {
                // One last read: the build's process writes its last lines before its final state.
                reader.read_lines(on_line).await?;
                return Ok(Followed::Ended(Box::new(build)));
            }
            if reaped_at.elapsed() > REAP_EVERY {
                reaped_at = Instant::now();
                if let Ok(reaped) = self.reap(Some(namespace))
                    && !reaped.is_empty()
                {
                    self.clean_up(&reaped).await;
                }
            }
            tokio::time::sleep(POLL).await;
        }
    }

    // -----------------------------------------------------------------------
    // Webhooks.

    /// Answer a webhook request as OpenShift's API server does (see
    /// [`crate::webhooks`]): a build it asks for is started and launched
    /// in a worker process ([`Event::Started`]), and the answer is that
    /// Build; otherwise a Kubernetes `Status` with the HTTP status.
    pub async fn webhook(&self, request: &WebhookRequest) -> WebhookResponse {
        if !request.method.eq_ignore_ascii_case("POST") {
            return WebhookResponse::rejected(Rejection::method_not_allowed(&request.method));
        }
        let hook = match webhooks::parse_path(&request.path) {
            Ok(hook) => hook,
            Err(rejection) => return WebhookResponse::rejected(rejection),
        };
        let found = self.store.read(|tx| {
            let Some(config) = tx.get_as::<BuildConfig>(&hook.namespace, &hook.config)? else { return Ok(None) };
            let mut secrets = std::collections::BTreeMap::new();
            let references = config.spec.triggers.iter().filter_map(|t| t.webhook()?.secret_reference.as_ref());
            for reference in references {
                if let Some(secret) = tx.get_as::<Secret>(&hook.namespace, &reference.name)?
                    && let Some(value) = secret.value(webhooks::SECRET_KEY)
                {
                    secrets.insert(reference.name.clone(), value.to_vec());
                }
            }
            Ok::<_, Error>(Some((config, secrets)))
        });
        let (config, secrets) = match found {
            Ok(Some(found)) => found,
            Ok(None) => {
                return WebhookResponse::rejected(Rejection::not_found(format!(
                    "buildconfigs.{GROUP} {:?} not found",
                    hook.config
                )));
            }
            Err(e) => return WebhookResponse::rejected(Rejection::internal(e.to_string())),
        };
        let secret_of = |name: &str| secrets.get(name).cloned();
        let (cause, revision, env, warnings) = match webhooks::decide(&config, &hook, &secret_of, request) {
            Decision::Reject(rejection) => return WebhookResponse::rejected(rejection),
            Decision::Skip { message } => return WebhookResponse::skipped(message),
            Decision::Start { cause, revision, env, warnings } => (cause, revision, env, warnings),
        };
        let mut build_request = BuildRequest::new(&hook.namespace, &hook.config);
        build_request.env = env;
        let commit = revision.as_ref().and_then(|r| r.git.as_ref()).map(|git| git.commit.clone());
        if config.spec.source.git.is_some() {
            build_request.commit = commit.filter(|c| !c.is_empty());
        }
        let started = match self.start_for(&build_request, *cause, revision).await {
            Ok(build) => build,
            Err(e) => {
                return WebhookResponse::rejected(Rejection::internal(format!("could not generate a build: {e}")));
            }
        };
        if let Err(e) = self.launch(&started) {
            return WebhookResponse::rejected(Rejection::internal(format!(
                "build {} could not be started: {e}",
                started.metadata.name
            )));
        }
        let response = WebhookResponse::started(&started, warnings);
        self.emit(Event::Started(Started { build: started, cause: format!("a {} webhook", hook.kind.trigger_type()) }));
        response
    }

    // -----------------------------------------------------------------------
    // The controller.

    /// One round of the controller: mark builds whose process is gone
    /// `Error` (and clean up after them), re-import the scheduled tags that
    /// are due by `schedule`, and start the builds that tag changes trigger
    /// (in worker processes). A failed import is the tag's (recorded on it,
    /// reported as an [`Event::Imported`]); the tick goes on.
    pub async fn tick(&self, schedule: &mut ImportSchedule) -> Result<()> {
        self.refresh(None).await?;
        let streams = self.image_streams();
        let due = streams.due_scheduled(schedule, Instant::now())?;
        if !due.is_empty() {
            let outcome = streams.import_scheduled(&due).await?;
            self.emit(Event::Mirrored(outcome.mirror));
            for import in outcome.value {
                self.emit(Event::Imported(import));
            }
            if let Some(error) = outcome.mirror_error {
                self.emit(Event::Warning(Warning::Mirror(error)));
            }
        }
        self.start_triggered()
    }
}
