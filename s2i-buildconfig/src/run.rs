//! Running one build on the local engine: the executor's side of the phase
//! machine.
//!
//! [`Runner::run`] registers the calling process as the build's executor,
//! waits in `New` until the run policy admits the build (`Pending`),
//! resolves its images (image stream references become `DockerImage` pull
//! specs in the build's spec, images only the engine has are used by ID),
//! turns the spec into [`s2i_core::BuildOptions`], runs
//! [`s2i_core::Engine::build`] (`Running`), runs the post-commit hook in a
//! container of the new image, and only then records, tags or pushes the
//! output; the build ends `Complete`, `Failed`, `Error` or `Cancelled` with
//! the reference's reasons, stages and log snippet, and history pruning runs.
//!
//! While the engine works, a watcher reads the build every [`POLL`]:
//! `status.cancelled` (`s2i cancel-build`) or the build's deletion cancels the
//! engine's token (its containers are removed), as does
//! `completionDeadlineSeconds`, counted from `Pending`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use s2i_core::chained::SourceImage;
use s2i_core::reference::ImageReference;
use s2i_core::runtime::{ContainerRuntime, ContainerSpec, HostOptions, ResourceLimits};
use s2i_core::{BuildOptions, CancellationToken, Engine, EventSink, PullPolicy};

use crate::error::{Error, Result};
use crate::executor::{Executor, HEARTBEAT_EVERY, clean_up_reaped, reap, register};
use crate::generator::{resolve_isimage, resolve_istag, set_phase};
use crate::logs::{BuildLog, input_path, log_path, remove_files, remove_scratch, work_path};
use crate::policy::{Admission, admit, prune};
use crate::types::*;
use crate::validation::{
    KIND_DOCKER_IMAGE, KIND_IMAGE_STREAM_IMAGE, KIND_IMAGE_STREAM_TAG, clean_path, cpu_limit, memory_limit,
};
use s2i_imagestream::mirror::EngineAccess;
use s2i_imagestream::operations::ImageStreams;
use s2i_imagestream::registry::RegistryClient;
use s2i_imagestream::streams::StreamTag;
use s2i_imagestream::types::{Image, ImageStream};
use s2i_store::{Store, Tx};

/// How often a waiting or running executor reads its build.
pub(crate) const POLL: Duration = Duration::from_millis(500);

/// Runs builds on an engine, keeping their state in a store.
pub(crate) struct Runner<'a> {
    store_dir: PathBuf,
    runtime: Arc<dyn ContainerRuntime>,
    registry: &'a RegistryClient,
    triggers: bool,
}

impl std::fmt::Debug for Runner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").field("store_dir", &self.store_dir).finish_non_exhaustive()
    }
}

/// Why the engine's token was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// `s2i cancel-build`, or Ctrl-C of the process running it.
    User,
    /// `completionDeadlineSeconds` passed.
    Deadline(i64),
    /// The build was deleted.
    Deleted,
}

/// How a build ended, before it is written.
#[derive(Debug, Clone)]
struct Ending {
    phase: BuildPhase,
    reason: String,
    message: String,
}

impl Ending {
    fn new(phase: BuildPhase, (reason, message): (&str, &str)) -> Self {
        Self { phase, reason: reason.into(), message: message.into() }
    }
}

/// What the build turned into, before the output is handled.
struct Prepared {
    options: BuildOptions,
    /// Credentials of `output.pushSecret`.
    push_credentials: Option<s2i_core::auth::CredentialFiles>,
    /// The files of `source.secrets` and `source.configMaps`, removed when the build ends.
    _injected: crate::inputs::InjectedFiles,
    /// The build's namespace.
    namespace: String,
    /// The builder's pull spec (for labels and messages).
    builder: String,
    /// The build's spec with its image references resolved.
    spec: BuildSpec,
    /// Where s2i also writes the image, and the documents to write.
    writing: crate::request::ImageWriting,
}

/// Map an engine failure to the reference's phase, reason and message.
fn ending_of(error: &s2i_core::Error, builder: &str) -> Ending {
    use reasons::*;
    use s2i_core::Error as E;
    match error {
        E::ScriptFailed { oom_killed: true, .. } => Ending::new(BuildPhase::Failed, OUT_OF_MEMORY_KILLED),
        E::ScriptFailed { script, .. } if script.starts_with("assemble") => {
            Ending::new(BuildPhase::Failed, ASSEMBLE_FAILED)
        }
        E::PullFailed { image, .. } | E::ImageNotFound { image, .. } if image_matches(image, builder) => {
            Ending::new(BuildPhase::Failed, PULL_BUILDER_IMAGE_FAILED)
        }
        E::PullFailed { .. } | E::ImageNotFound { .. } | E::Copy { .. } => {
            Ending::new(BuildPhase::Failed, FETCH_IMAGE_CONTENT_FAILED)
        }
        E::Git { .. } | E::SourceUnreadable { .. } | E::EmptyGitRepository { .. } => {
            Ending::new(BuildPhase::Failed, FETCH_SOURCE_FAILED)
        }
        E::InvalidOption { option, .. } if option == "--context-dir" => {
            Ending::new(BuildPhase::Failed, INVALID_CONTEXT_DIRECTORY)
        }
        E::ScriptsNotInstalled { .. } | E::NoScriptsAtUrl { .. } | E::UnsupportedUrl { .. } | E::Download { .. } => {
            Ending::new(BuildPhase::Failed, INSTALL_SCRIPTS_FAILED)
        }
        _ => Ending::new(BuildPhase::Failed, GENERIC_BUILD_FAILED),
    }
}

fn image_matches(image: &str, builder: &str) -> bool {
    let engine = |name: &str| ImageReference::parse(name).map_or_else(|_| name.to_owned(), |r| r.engine_name());
    image == builder || engine(image) == engine(builder)
}

/// An error as log lines: the message, its causes and its help.
fn error_lines(error: &dyn miette::Diagnostic) -> Vec<String> {
    let mut lines = vec![format!("error: {error}")];
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        lines.push(format!("  caused by: {cause}"));
        source = cause.source();
    }
    if let Some(help) = error.help() {
        for (index, line) in help.to_string().lines().enumerate() {
            lines.push(if index == 0 { format!("  help: {line}") } else { format!("        {line}") });
        }
    }
    lines
}

/// Where an image of a build comes from, for the engine.
struct EngineImage {
    /// The pull spec the build records.
    pull_spec: String,
    /// The image's engine ID when the store knows one (images only the engine has).
    engine_id: Option<String>,
}

/// Look a pull spec up among the images the store recorded: an image that
/// lives only in the local engine (recorded by its image ID, `sha256:…`)
/// is asked for by its ID.
fn engine_image(tx: &Tx<'_>, pull_spec: &str) -> Result<EngineImage> {
    let mut image = EngineImage { pull_spec: pull_spec.to_owned(), engine_id: None };
    let digest = match pull_spec.strip_prefix("sha256:") {
        Some(_) => Some(pull_spec.to_owned()),
        None => ImageReference::parse(pull_spec).ok().and_then(|reference| reference.digest),
    };
    if let Some(digest) = &digest
        && let Some(recorded) = tx.get_as::<Image>("", digest)?
    {
        image.engine_id = recorded.engine_id().map(str::to_owned);
    }
    Ok(image)
}

/// Resolve a `from` of the build to a pull spec (image stream references through the store).
fn resolve_from(tx: &Tx<'_>, namespace: &str, from: &ObjectReference) -> std::result::Result<String, String> {
    let ns = if from.namespace.is_empty() { namespace } else { from.namespace.as_str() };
    let found = match from.kind.as_str() {
        KIND_DOCKER_IMAGE => return Ok(from.name.clone()),
        KIND_IMAGE_STREAM_TAG => resolve_istag(tx, ns, &from.name),
        KIND_IMAGE_STREAM_IMAGE => resolve_isimage(tx, ns, &from.name),
        other => return Err(format!("{other:?} is not an image reference kind")),
    };
    match found {
        Ok(Some((pull_spec, _))) => Ok(pull_spec),
        Ok(None) => Err(format!(
            "{} {ns}/{} has no image (build, tag or import one first; the image stream tags of namespace {ns} \
             list what there is)",
            from.kind, from.name
        )),
        Err(e) => Err(e.to_string()),
    }
}

impl<'a> Runner<'a> {
    /// Builds on `runtime`, with state in the store at `store_dir`; `registry`
    /// is used for outputs that go to a registry-backed image stream.
    pub(crate) fn new(store_dir: &Path, runtime: Arc<dyn ContainerRuntime>, registry: &'a RegistryClient) -> Self {
        Self { store_dir: store_dir.to_owned(), runtime, registry, triggers: true }
    }

    /// With `false` (`--no-triggers`), the tag change a build's output makes
    /// starts no build (see [`ImageStreams::with_triggers`]).
    pub(crate) fn with_triggers(mut self, triggers: bool) -> Self {
        self.triggers = triggers;
        self
    }

    /// Run build `namespace/name` in this process (see the module doc) and
    /// return it as it ended. `cancel` (e.g. Ctrl-C) cancels it as
    /// `s2i cancel-build` does. Fails only when the build cannot be run at all
    /// (it does not exist, another process runs it, the store fails).
    pub(crate) async fn run(&self, namespace: &str, name: &str, cancel: &CancellationToken) -> Result<Build> {
        let store = Store::open(&self.store_dir)?;
        let me = Executor::current();
        let build = store.write(|tx| register(tx, namespace, name, &me))?;
        if build.is_terminal() {
            return Ok(build);
        }
        let loglevel = build_loglevel(&build.spec);
        let log = Arc::new(BuildLog::open(&log_path(&self.store_dir, namespace, name), loglevel)?);
        let build = match self.wait(&store, &log, namespace, name, cancel).await? {
            Waited::Admitted(build) => build,
            Waited::Ended(build) => {
                self.cleanup(&store, &build);
                return Ok(*build);
            }
            Waited::Deleted => {
                remove_files(&self.store_dir, namespace, name);
                return Err(deleted(namespace, name));
            }
        };
        let started = Instant::now();
        let (ending, extra) = self.execute(&store, &log, &build, cancel, started).await;
        let Some(ending) = ending else {
            // Deleted while it ran: nothing to record.
            remove_files(&self.store_dir, namespace, name);
            return Err(deleted(namespace, name));
        };
        let snippet = matches!(ending.phase, BuildPhase::Failed | BuildPhase::Error).then(|| log.snippet());
        log.line(format!("==> {} {}", ending.phase, ending.reason).trim_end());
        let stages = log.stages();
        let finished = store.write(|tx| {
            let Some(mut build) = tx.get_as::<Build>(namespace, name)? else { return Ok(None) };
            if build.is_terminal() {
                return Ok(Some(build));
            }
            let now = tx.now().to_owned();
            build.status.stages = stages.clone();
            if let Some(snippet) = &snippet {
                build.status.log_snippet = snippet.clone();
            }
            if let Some(digest) = &extra.digest {
                build.status.output.to = Some(BuildStatusOutputTo { image_digest: digest.clone() });
            }
            if let Some(revision) = &extra.revision {
                build.spec.revision = Some(revision.clone());
            }
            set_phase(&mut build, ending.phase, &ending.reason, &ending.message, &now)?;
            Ok::<_, Error>(Some(tx.update_as(&build)?))
        })?;
        let Some(finished) = finished else {
            remove_files(&self.store_dir, namespace, name);
            return Err(deleted(namespace, name));
        };
        self.cleanup(&store, &finished);
        Ok(finished)
    }

    /// After a build ended: its binary input and working directory go, and history pruning runs.
    fn cleanup(&self, store: &Store, build: &Build) {
        let namespace = &build.metadata.namespace;
        remove_scratch(&self.store_dir, namespace, &build.metadata.name);
        if let Some(config) = build.config_name()
            && let Ok(deleted) = store.write(|tx| prune(tx, namespace, config))
        {
            for name in deleted {
                remove_files(&self.store_dir, namespace, &name);
            }
        }
    }

    async fn wait(
        &self,
        store: &Store,
        log: &BuildLog,
        namespace: &str,
        name: &str,
        cancel: &CancellationToken,
    ) -> Result<Waited> {
        let mut announced: Option<Vec<String>> = None;
        let mut beat = Instant::now();
        loop {
            let reaped = store.write(|tx| reap(tx, Some(namespace)))?;
            if !reaped.is_empty() {
                for warning in clean_up_reaped(&self.store_dir, Some(self.runtime.as_ref()), &reaped).await {
                    log.line(&format!("WARNING: {warning}"));
                }
            }
            let step = store.write(|tx| {
                let Some(mut build) = tx.get_as::<Build>(namespace, name)? else { return Ok(Step::Deleted) };
                if build.is_terminal() {
                    return Ok(Step::Ended(build));
                }
                let now = tx.now().to_owned();
                if build.status.cancelled {
                    let (reason, message) = reasons::CANCELLED_BUILD;
                    set_phase(&mut build, BuildPhase::Cancelled, reason, message, &now)?;
                    return Ok(Step::Ended(tx.update_as(&build)?));
                }
                match admit(tx, &build)? {
                    Admission::Run => {
                        set_phase(&mut build, BuildPhase::Pending, "", "", &now)?;
                        build.metadata.annotations.insert(keys::HEARTBEAT.into(), now);
                        Ok::<_, Error>(Step::Admitted(tx.update_as(&build)?))
                    }
                    Admission::Wait(blockers) => {
                        if beat.elapsed() >= HEARTBEAT_EVERY {
                            build.metadata.annotations.insert(keys::HEARTBEAT.into(), now);
                            tx.update_as(&build)?;
                        }
                        Ok(Step::Wait(blockers))
                    }
                }
            })?;
            match step {
                Step::Deleted => return Ok(Waited::Deleted),
                Step::Ended(build) => {
                    if build.status.phase == BuildPhase::Cancelled {
                        log.line("==> Cancelled CancelledBuild (it was cancelled while queued)");
                    }
                    return Ok(Waited::Ended(Box::new(build)));
                }
                Step::Admitted(build) => return Ok(Waited::Admitted(Box::new(build))),
                Step::Wait(blockers) => {
                    if beat.elapsed() >= HEARTBEAT_EVERY {
                        beat = Instant::now();
                    }
                    if announced.as_ref() != Some(&blockers) {
                        log.line(&format!(
                            "Waiting for {} to finish (the run policy lets one build of a config run at a time)",
                            blockers.join(", ")
                        ));
                        announced = Some(blockers);
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = cancel.cancelled() => {
                    let ended = store.write(|tx| {
                        let Some(mut build) = tx.get_as::<Build>(namespace, name)? else { return Ok(None) };
                        if !build.is_terminal() {
                            build.status.cancelled = true;
                            let (reason, message) = reasons::CANCELLED_BUILD;
                            set_phase(&mut build, BuildPhase::Cancelled, reason, message, tx.now())?;
                            build = tx.update_as(&build)?;
                        }
                        Ok::<_, Error>(Some(build))
                    })?;
                    return Ok(match ended {
                        Some(build) => {
                            log.line("==> Cancelled CancelledBuild (it was cancelled while queued)");
                            Waited::Ended(Box::new(build))
                        }
                        None => Waited::Deleted,
                    });
                }
            }
        }
    }

    /// Run an admitted build; `None` as ending when it was deleted meanwhile.
    async fn execute(
        &self,
        store: &Store,
        log: &Arc<BuildLog>,
        build: &Build,
        cancel: &CancellationToken,
        started: Instant,
    ) -> (Option<Ending>, Extra) {
        let mut extra = Extra::default();
        let namespace = build.metadata.namespace.clone();
        let name = build.metadata.name.clone();
        for cause in &build.spec.triggered_by {
            match &cause.image_change_build {
                Some(change) => log.line(&format!(
                    "Build {name} started by an image change of {} ({})",
                    change.from_ref.as_ref().map_or("", |f| f.name.as_str()),
                    change.image_id
                )),
                None => log.line(&format!("Build {name} started ({})", cause.message)),
            }
        }
        let prepared = match self.prepare(store, log, build).await {
            Ok(prepared) => prepared,
            Err(ending) => return (Some(ending), extra),
        };
        // Running: the resolved spec and the start time are recorded.
        let running = store.write(|tx| {
            let Some(mut current) = tx.get_as::<Build>(&namespace, &name)? else { return Ok(None) };
            if current.is_terminal() {
                return Ok(Some(current));
            }
            let now = tx.now().to_owned();
            current.spec = prepared.spec.clone();
            current.status.start_timestamp = Some(now.clone());
            set_phase(&mut current, BuildPhase::Running, "", "", &now)?;
            Ok::<_, Error>(Some(tx.update_as(&current)?))
        });
        match running {
            Ok(Some(current)) if current.is_terminal() => {
                return (
                    Some(Ending {
                        phase: BuildPhase::Cancelled,
                        reason: current.status.reason,
                        message: current.status.message,
                    }),
                    extra,
                );
            }
            Ok(Some(_)) => {}
            Ok(None) => return (None, extra),
            Err(e) => return (Some(system_error(log, &e)), extra),
        }

        let token = cancel.child_token();
        let stop: Arc<Mutex<Option<Stop>>> = Arc::new(Mutex::new(None));
        let done = Arc::new(AtomicBool::new(false));
        let watcher = self.spawn_watcher(
            &namespace,
            &name,
            build.spec.completion_deadline_seconds,
            started,
            &token,
            &stop,
            &done,
        );
        let engine = Engine::new(self.runtime.clone(), log.clone() as Arc<dyn EventSink>);
        log.line(&format!("Building on {}", prepared.builder));
        let result = engine.build(&prepared.options, &token).await;
        let ending = match result {
            Ok(result) => {
                extra.revision = revision_of(&prepared.spec, &result.labels);
                self.finish_image(store, log, &engine, &prepared, &result, &token, &mut extra).await
            }
            Err(e) => {
                for line in error_lines(&e) {
                    log.line(&line);
                }
                match e {
                    s2i_core::Error::Cancelled => None,
                    other => Some(ending_of(&other, &prepared.options.builder_image)),
                }
            }
        };
        done.store(true, Ordering::Relaxed);
        let _ = watcher.await;
        let ending = match ending {
            Some(ending) => Some(ending),
            None => match *stop.lock().expect("the stop lock") {
                Some(Stop::Deleted) => None,
                Some(Stop::Deadline(seconds)) => {
                    log.line(&format!(
                        "error: the build ran longer than its completionDeadlineSeconds ({seconds}s) and was stopped"
                    ));
                    Some(Ending::new(BuildPhase::Failed, reasons::GENERIC_BUILD_FAILED))
                }
                Some(Stop::User) | None => Some(Ending::new(BuildPhase::Cancelled, reasons::CANCELLED_BUILD)),
            },
        };
        (ending, extra)
    }

    /// The watcher (see the module doc); it ends when `done` is set.
    #[allow(clippy::too_many_arguments)]
    fn spawn_watcher(
        &self,
        namespace: &str,
        name: &str,
        deadline: Option<i64>,
        started: Instant,
        token: &CancellationToken,
        stop: &Arc<Mutex<Option<Stop>>>,
        done: &Arc<AtomicBool>,
    ) -> tokio::task::JoinHandle<()> {
        let (dir, namespace, name) = (self.store_dir.clone(), namespace.to_owned(), name.to_owned());
        let (token, stop, done) = (token.clone(), stop.clone(), done.clone());
        tokio::task::spawn_blocking(move || {
            let store = Store::open(&dir).ok();
            let mut beat = Instant::now();
            let set = |why: Stop| {
                let mut stop = stop.lock().expect("the stop lock");
                if stop.is_none() {
                    *stop = Some(why);
                }
                token.cancel();
            };
            while !done.load(Ordering::Relaxed) {
                if let Some(seconds) = deadline
                    && started.elapsed() >= Duration::from_secs(seconds.max(0) as u64)
                {
                    set(Stop::Deadline(seconds));
                }
                if token.is_cancelled() && stop.lock().expect("the stop lock").is_none() {
                    set(Stop::User);
                }
                if let Some(store) = &store {
                    match store.read(|tx| tx.get_as::<Build>(&namespace, &name)) {
                        Ok(None) => set(Stop::Deleted),
                        Ok(Some(build)) if build.status.cancelled => set(Stop::User),
                        _ => {}
                    }
                    if beat.elapsed() >= HEARTBEAT_EVERY {
                        beat = Instant::now();
                        let _ = store.write(|tx| {
                            if let Some(mut build) = tx.get_as::<Build>(&namespace, &name)? {
                                build.metadata.annotations.insert(keys::HEARTBEAT.into(), tx.now().to_owned());
                                build.metadata.resource_version.clear();
                                tx.update_as(&build)?;
                            }
                            Ok::<_, Error>(())
                        });
                    }
                }
                std::thread::sleep(Duration::from_millis(100).min(POLL));
            }
        })
    }

    /// Resolve the build's images and turn its spec into build options.
    async fn prepare(&self, store: &Store, log: &BuildLog, build: &Build) -> std::result::Result<Prepared, Ending> {
        let namespace = &build.metadata.namespace;
        let mut spec = build.spec.clone();
        let Some(strategy) = spec.strategy.source_strategy.clone() else {
            let what = spec.strategy.not_run_here().map_or("no strategy".to_owned(), |(field, strategy)| {
                format!("the {strategy} strategy ({field}), which is kept for OpenShift")
            });
            log.line(&format!("error: the build has {what}: s2i builds with Source-to-Image only"));
            return Err(Ending::new(BuildPhase::Error, reasons::GENERIC_BUILD_FAILED));
        };
        // Image stream references become DockerImage pull specs (late binding, as the build controller does).
        let resolved = store.read(|tx| {
            let mut problems = Vec::new();
            let builder = match resolve_from(tx, namespace, &strategy.from) {
                Ok(spec) => Some(engine_image(tx, &spec)?),
                Err(why) => {
                    problems.push(format!("builder image: {why}"));
                    None
                }
            };
            let mut images = Vec::new();
            for source in &spec.source.images {
                match resolve_from(tx, namespace, &source.from) {
                    Ok(pull_spec) => images.push(Some(engine_image(tx, &pull_spec)?)),
                    Err(why) => {
                        problems.push(format!("source image {}: {why}", source.from.name));
                        images.push(None);
                    }
                }
            }
            let output = match &spec.output.to {
                Some(to) if to.kind == KIND_IMAGE_STREAM_TAG => {
                    let ns = if to.namespace.is_empty() { namespace.as_str() } else { to.namespace.as_str() };
                    match StreamTag::parse(&to.name, ns) {
                        Ok(tag) => {
                            let current = resolve_istag(tx, &tag.namespace, &format!("{}:{}", tag.stream, tag.tag))?
                                .map(|(pull_spec, _)| pull_spec);
                            let previous = match current {
                                Some(pull_spec) => Some(engine_image(tx, &pull_spec)?),
                                None => None,
                            };
                            Ok(previous)
                        }
                        Err(e) => Err(e.to_string()),
                    }
                }
                _ => Ok(None),
            };
            Ok::<_, Error>((builder, images, output, problems))
        });
        let (builder, images, output, problems) = match resolved {
            Ok(resolved) => resolved,
            Err(e) => return Err(system_error(log, &e)),
        };
        if !problems.is_empty() {
            for problem in &problems {
                log.line(&format!("error: {problem}"));
            }
            return Err(Ending::new(BuildPhase::Error, reasons::INVALID_IMAGE_REFERENCE));
        }
        let previous = match output {
            Ok(output) => output,
            Err(why) => {
                log.line(&format!("error: output: {why}"));
                return Err(Ending::new(BuildPhase::Error, reasons::INVALID_OUTPUT_REFERENCE));
            }
        };
        let builder = builder.expect("no problems means a builder");
        let builder_name = self.engine_name(&builder).await;
        log.set_builder(&builder_name.0);
        let mut options = BuildOptions::new(None, builder_name.0.clone());
        let source_strategy = spec.strategy.source_strategy.as_mut().expect("checked above");
        source_strategy.from = ObjectReference::new(KIND_DOCKER_IMAGE, builder.pull_spec.clone());
        options.pull_policy = match (strategy.force_pull, builder_name.1) {
            (true, false) => PullPolicy::Always,
            (true, true) => {
                log.line(&format!(
                    "forcePull: {} lives only in the local engine, so it is used as it is",
                    builder.pull_spec
                ));
                PullPolicy::IfNotPresent
            }
            (false, _) => PullPolicy::IfNotPresent,
        };
        for (source, image) in spec.source.images.iter_mut().zip(images) {
            let image = image.expect("no problems means every image");
            let engine_name = self.engine_name(&image).await.0;
            source.from = ObjectReference::new(KIND_DOCKER_IMAGE, image.pull_spec.clone());
            for path in &source.paths {
                let destination = clean_path(&path.destination_dir);
                options.source_images.push(SourceImage {
                    image: engine_name.clone(),
                    path: path.source_path.clone(),
                    destination: if destination.is_empty() { ".".into() } else { destination },
                });
            }
        }

        // The source.
        let input_dir = input_path(&self.store_dir, namespace, &build.metadata.name);
        if spec.source.binary.is_some() {
            if !input_dir.is_dir() {
                log.line(&format!(
                    "error: the binary input of this build is gone ({} does not exist)",
                    input_dir.display()
                ));
                return Err(Ending::new(BuildPhase::Failed, reasons::FETCH_SOURCE_FAILED));
            }
            options.source = Some(input_dir.display().to_string());
            options.copy = true;
        } else if let Some(git) = &spec.source.git {
            options.source = Some(git.uri.clone());
            options.git_ref = Some(git.git_ref.clone()).filter(|r| !r.is_empty());
        }
        options.context_dir = Some(spec.source.context_dir.clone()).filter(|d| !d.is_empty() && d != ".");
        if options.source.is_none() && options.source_images.is_empty() {
            log.line("No source: assemble is responsible for getting it");
        }

        // Strategy settings, environment and labels.
        options.scripts_url = Some(strategy.scripts.clone()).filter(|s| !s.is_empty());
        options.incremental = strategy.incremental.unwrap_or(false);
        if options.incremental {
            options.incremental_from = match &previous {
                Some(previous) => Some(self.engine_name(previous).await.0),
                None => match &spec.output.to {
                    Some(to) if to.kind == KIND_DOCKER_IMAGE => Some(to.name.clone()),
                    _ => None,
                },
            };
        }
        let mut env: Vec<s2i_core::EnvVar> =
            strategy.env.iter().map(|v| s2i_core::EnvVar { name: v.name.clone(), value: v.value.clone() }).collect();
        let git = spec.source.git.as_ref();
        for (key, value) in [
            ("OPENSHIFT_BUILD_NAME", Some(build.metadata.name.clone())),
            ("OPENSHIFT_BUILD_NAMESPACE", Some(namespace.clone())),
            ("OPENSHIFT_BUILD_SOURCE", git.map(|g| g.uri.clone())),
            ("OPENSHIFT_BUILD_REFERENCE", git.map(|g| g.git_ref.clone()).filter(|r| !r.is_empty())),
            (
                "OPENSHIFT_BUILD_COMMIT",
                spec.revision.as_ref().and_then(|r| r.git.as_ref()).map(|g| g.commit.clone()).filter(|c| !c.is_empty()),
            ),
        ] {
            if let Some(value) = value {
                env.push(s2i_core::EnvVar { name: key.into(), value });
            }
        }
        options.env = env;
        let mut labels = BTreeMap::new();
        labels.insert("io.openshift.build.name".to_owned(), build.metadata.name.clone());
        labels.insert("io.openshift.build.namespace".to_owned(), namespace.clone());
        labels.insert("io.openshift.build.image".to_owned(), builder.pull_spec.clone());
        labels.insert("io.openshift.s2i.build.image".to_owned(), builder.pull_spec.clone());
        if let Some(git) = git {
            labels.insert("io.openshift.build.source-location".to_owned(), git.uri.clone());
            if !git.git_ref.is_empty() {
                labels.insert("io.openshift.build.commit.ref".to_owned(), git.git_ref.clone());
            }
        }
        if !spec.source.context_dir.is_empty() {
            labels.insert("io.openshift.build.source-context-dir".to_owned(), spec.source.context_dir.clone());
        }
        for label in &spec.output.image_labels {
            labels.insert(label.name.clone(), label.value.clone());
        }
        options.labels = labels;
        // `start-build --output …`, kept as the build's annotations.
        let writing = match crate::request::ImageWriting::from_annotations(&build.metadata.annotations) {
            Ok(writing) => writing,
            Err(why) => {
                log.line(&format!("error: {why}"));
                return Err(Ending::new(BuildPhase::Error, reasons::INVALID_OUTPUT_REFERENCE));
            }
        };
        options.outputs = writing.outputs.clone();
        options.sbom = writing.sbom.is_some();
        options.provenance = writing.provenance.is_some();
        options.source_date_epoch = writing.source_date_epoch;
        // The post-commit hook and the output use the image in the engine.
        options.keep_in_engine = true;
        options.container_labels =
            BTreeMap::from([(keys::CONTAINER_LABEL.to_owned(), format!("{namespace}/{}", build.metadata.name))]);
        let work_dir = work_path(&self.store_dir, namespace, &build.metadata.name);
        if let Err(e) = std::fs::create_dir_all(&work_dir) {
            log.line(&format!("error: cannot create the working directory {}: {e}", work_dir.display()));
            return Err(Ending::new(BuildPhase::Error, reasons::GENERIC_BUILD_FAILED));
        }
        // Secrets and ConfigMaps: credentials, and files for assemble.
        let gathered = store.read(|tx| Ok::<_, s2i_store::Error>(crate::inputs::gather(tx, build, &spec, &work_dir)));
        let mut inputs = match gathered {
            Ok(Ok(inputs)) => inputs,
            Ok(Err(failure)) => {
                log.line(&failure.line);
                let phase =
                    if failure.reason == reasons::MISSING_PUSH_SECRET { BuildPhase::Error } else { BuildPhase::Failed };
                return Err(Ending::new(phase, failure.reason));
            }
            Err(e) => return Err(system_error(log, &e.into())),
        };
        for note in &inputs.notes {
            log.line(&format!("WARNING: {note}"));
        }
        options.source_credentials = inputs.source_credentials.take();
        options.pull_credentials = inputs.pull_credentials.take();
        if !inputs.injections.is_empty() {
            log.line(&format!(
                "Injecting {} Secret(s) for assemble only and {} ConfigMap(s) that stay in the image",
                spec.source.secrets.len(),
                spec.source.config_maps.len()
            ));
        }
        options.injections = std::mem::take(&mut inputs.injections);
        let push_credentials = inputs.push_credentials.take();
        options.temp_root = Some(work_dir);
        options.host = HostOptions::default();
        options.host.limits = ResourceLimits {
            memory_bytes: memory_limit(&spec.resources),
            // No swap, as in a pod.
            memory_swap_bytes: memory_limit(&spec.resources),
            nano_cpus: cpu_limit(&spec.resources),
            shm_size_bytes: None,
        };
        if let Some(bytes) = options.host.limits.memory_bytes {
            log.line(&format!("Memory limit of the build containers: {bytes} bytes"));
        }
        if let Some(nanos) = options.host.limits.nano_cpus {
            log.line(&format!("CPU limit of the build containers: {} CPUs", nanos as f64 / 1e9));
        }
        if !spec.resources.requests.is_empty() {
            log.line("resources.requests are scheduling hints of a cluster: only the limits apply locally");
        }
        Ok(Prepared {
            options,
            push_credentials,
            _injected: std::mem::take(&mut inputs.files),
            namespace: namespace.clone(),
            builder: builder.pull_spec.clone(),
            spec,
            writing,
        })
    }

    /// The name to give the engine for an image, and whether it is an engine-only image.
    async fn engine_name(&self, image: &EngineImage) -> (String, bool) {
        if let Some(id) = &image.engine_id
            && self.runtime.inspect_image(id).await.ok().flatten().is_some()
        {
            let registry = ImageReference::parse(&image.pull_spec).ok().and_then(|r| r.registry);
            return (id.clone(), registry.is_none());
        }
        (image.pull_spec.clone(), false)
    }

    /// After a successful assemble: the post-commit hook, then the output.
    #[allow(clippy::too_many_arguments)]
    async fn finish_image(
        &self,
        store: &Store,
        log: &Arc<BuildLog>,
        engine: &Engine,
        prepared: &Prepared,
        result: &s2i_core::BuildResult,
        token: &CancellationToken,
        extra: &mut Extra,
    ) -> Option<Ending> {
        let image = result.image_id.clone();
        let spec = &prepared.spec;
        let hook = &spec.post_commit;
        if !hook.is_empty() {
            log.start_stage("PostCommit", "RunPostCommitHook");
            let (entrypoint, cmd) = hook.container_command();
            log.line(&format!(
                "==> post-commit hook: {}",
                entrypoint
                    .iter()
                    .flatten()
                    .chain(cmd.iter())
                    .map(|w| s2i_core::sh_quote(w))
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
            let spec = ContainerSpec {
                image: image.clone(),
                entrypoint,
                cmd,
                labels: prepared.options.container_labels.clone(),
                host: prepared.options.host.clone(),
                ..ContainerSpec::default()
            };
            let ran = engine.run_command(&spec, token).await;
            log.finish_stage("PostCommit", "RunPostCommitHook");
            match ran {
                Ok(status) if status.code == 0 => {}
                Ok(status) => {
                    log.line(&format!("error: the post-commit hook failed with exit code {}", status.code));
                    let _ = self.runtime.remove_image(&image).await;
                    return Some(Ending::new(BuildPhase::Failed, reasons::POST_COMMIT_HOOK_FAILED));
                }
                Err(s2i_core::Error::Cancelled) => {
                    let _ = self.runtime.remove_image(&image).await;
                    return None;
                }
                Err(e) => {
                    for line in error_lines(&e) {
                        log.line(&line);
                    }
                    let _ = self.runtime.remove_image(&image).await;
                    return Some(Ending::new(BuildPhase::Failed, reasons::POST_COMMIT_HOOK_FAILED));
                }
            }
        }
        let Some(to) = &spec.output.to else {
            log.line("No output: the image was built to verify the build, and is removed");
            let _ = self.runtime.remove_image(&image).await;
            return Some(match write_documents(log, &prepared.writing, result) {
                Ok(()) => Ending::new(BuildPhase::Complete, ("", "")),
                Err(ending) => ending,
            });
        };
        let outcome = if to.kind == KIND_IMAGE_STREAM_TAG {
            self.record(store, log, prepared, to, result).await
        } else {
            self.tag_and_push(log, &to.name, prepared, result).await
        };
        match outcome {
            Ok(digest) => {
                extra.digest = Some(digest);
                match write_documents(log, &prepared.writing, result) {
                    Ok(()) => Some(Ending::new(BuildPhase::Complete, ("", ""))),
                    Err(ending) => Some(ending),
                }
            }
            Err(ending) => Some(ending),
        }
    }

    /// Output to an image stream tag: record the image (a registry-backed
    /// stream gets it pushed first). Returns the image's digest.
    async fn record(
        &self,
        store: &Store,
        log: &BuildLog,
        prepared: &Prepared,
        to: &ObjectReference,
        result: &s2i_core::BuildResult,
    ) -> std::result::Result<String, Ending> {
        let build_namespace = prepared.namespace.as_str();
        log.start_stage("PushImage", "PushImage");
        let namespace = if to.namespace.is_empty() { build_namespace.to_owned() } else { to.namespace.clone() };
        let destination = match StreamTag::parse(&to.name, &namespace) {
            Ok(destination) => destination,
            Err(e) => {
                log.line(&format!("error: output: {e}"));
                return Err(Ending::new(BuildPhase::Error, reasons::INVALID_OUTPUT_REFERENCE));
            }
        };
        let stream: Option<ImageStream> =
            store.read(|tx| tx.get_as(&destination.namespace, &destination.stream)).ok().flatten();
        let engine: EngineAccess<'_> = Ok(self.runtime.as_ref());
        let mut streams = ImageStreams::new(store, engine, self.registry)
            .with_triggers(self.triggers)
            .with_event_consumers(&[crate::triggers::TRIGGER_CONSUMER]);
        if let Some(credentials) = &prepared.push_credentials {
            streams = streams.with_push_credentials(credentials);
        }
        // A stream kept in a registry gets the image pushed there (record_build does it).
        let pushed_to =
            stream.as_ref().and_then(|stream| s2i_imagestream::operations::push_target(stream, &destination));
        if let Some(target) = &pushed_to {
            log.line(&format!("Pushing image {target} ..."));
        }
        let outcome = streams.record_build(&destination, &result.image_id).await;
        if pushed_to.is_some() && outcome.is_ok() {
            log.line("Push successful");
        }
        log.finish_stage("PushImage", "PushImage");
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(e) => {
                for line in error_lines(&e) {
                    log.line(&line);
                }
                return Err(Ending::new(BuildPhase::Failed, reasons::PUSH_IMAGE_FAILED));
            }
        };
        for warning in &outcome.mirror.warnings {
            log.line(&format!("WARNING: {warning}"));
        }
        if let Some(e) = &outcome.mirror_error {
            log.line(&format!("WARNING: the engine tag does not follow the stream yet: {e}"));
        }
        let write = outcome.value;
        let latest = write.stream.latest(&destination.tag);
        let reference = latest.map(|l| l.docker_image_reference.clone()).unwrap_or_default();
        log.line(&format!("Recorded {reference} as {}", destination.display_from(&namespace)));
        Ok(latest.map(|l| l.image.clone()).unwrap_or_default())
    }

    /// Output to a `DockerImage`: tag it in the engine, and push it with
    /// s2i's registry client when the name has a registry. Returns the
    /// pushed manifest's digest (the image ID when not pushed).
    async fn tag_and_push(
        &self,
        log: &BuildLog,
        name: &str,
        prepared: &Prepared,
        result: &s2i_core::BuildResult,
    ) -> std::result::Result<String, Ending> {
        let image = result.image_id.as_str();
        let reference = match ImageReference::parse(name) {
            Ok(reference) => reference,
            Err(e) => {
                log.line(&format!("error: output: {e}"));
                return Err(Ending::new(BuildPhase::Error, reasons::INVALID_OUTPUT_REFERENCE));
            }
        };
        let pushed = reference.registry.is_some();
        log.start_stage("PushImage", if pushed { "PushDockerImage" } else { "PushImage" });
        let result = match self.tag(log, name, image).await {
            Ok(()) if pushed => self.push(log, reference, prepared, result).await.map(Some),
            Ok(()) => Ok(None),
            Err(()) => Err(()),
        };
        log.finish_stage("PushImage", if pushed { "PushDockerImage" } else { "PushImage" });
        let digest = result.map_err(|()| Ending::new(BuildPhase::Failed, reasons::PUSH_IMAGE_FAILED))?;
        if !pushed {
            log.line(&format!("Tagged {image} as {name}"));
        }
        Ok(digest.unwrap_or_else(|| image.to_owned()))
    }

    async fn tag(&self, log: &BuildLog, name: &str, image: &str) -> std::result::Result<(), ()> {
        let reference = ImageReference::parse(name).map_err(|_| ())?;
        if let Err(e) = self.runtime.tag_image(image, &reference.name(), reference.tag_or_default()).await {
            log.line(&format!("error: cannot tag {image} as {name}: {e}"));
            return Err(());
        }
        Ok(())
    }

    /// Push the image with s2i's registry client (the writer's `docker://`
    /// output): the push secret's credentials first, blobs the registry has
    /// not sent again, the builder's layers mounted from its repository on
    /// the same registry, the SBOM and provenance attached as referrers.
    /// Returns the manifest digest the registry stored.
    async fn push(
        &self,
        log: &BuildLog,
        reference: ImageReference,
        prepared: &Prepared,
        result: &s2i_core::BuildResult,
    ) -> std::result::Result<String, ()> {
        let name = reference.to_string();
        log.line(&format!("Pushing image {name} ..."));
        let credentials = prepared.push_credentials.as_ref();
        if let Some(files) = credentials
            && files.credentials_for(&reference).ok().flatten().is_none()
        {
            log.line(&format!(
                "WARNING: the push secret has no credentials for {name}; pushing with those of the login files"
            ));
        }
        let work_dir = prepared.options.temp_root.clone().unwrap_or_else(std::env::temp_dir);
        let mut push = s2i_core::build::RegistryPush::new(result.image_id.clone(), reference, work_dir);
        push.credentials = credentials.cloned();
        push.mount_from = Some(prepared.builder.clone());
        push.sbom = result.sbom.clone();
        push.provenance = result.provenance.clone();
        match s2i_core::build::push_engine_image(self.runtime.as_ref(), log, &push).await {
            Ok(pushed) => {
                log.line(&format!("Push successful: {name}@{}", pushed.digest));
                Ok(pushed.digest)
            }
            Err(e) => {
                for line in error_lines(&e) {
                    log.line(&line);
                }
                Err(())
            }
        }
    }
}

/// After the output: the SBOM and provenance statement to their files.
fn write_documents(
    log: &BuildLog,
    writing: &crate::request::ImageWriting,
    result: &s2i_core::BuildResult,
) -> std::result::Result<(), Ending> {
    for (what, path, document) in
        [("SBOM", &writing.sbom, &result.sbom), ("provenance statement", &writing.provenance, &result.provenance)]
    {
        let (Some(path), Some(document)) = (path, document) else { continue };
        if let Err(e) = std::fs::write(path, document) {
            log.line(&format!("error: cannot write the {what} to {}: {e}", path.display()));
            log.line("  help: start the build with a file in a directory that exists and is writable");
            return Err(Ending::new(BuildPhase::Failed, reasons::GENERIC_BUILD_FAILED));
        }
        log.line(&format!("Wrote the {what} to {}", path.display()));
    }
    Ok(())
}

/// What a finished build adds to its status.
#[derive(Debug, Default)]
struct Extra {
    digest: Option<String>,
    revision: Option<SourceRevision>,
}

enum Step {
    Deleted,
    Ended(Build),
    Admitted(Build),
    Wait(Vec<String>),
}

enum Waited {
    Deleted,
    Ended(Box<Build>),
    Admitted(Box<Build>),
}

fn deleted(namespace: &str, name: &str) -> Error {
    Error::Deleted { namespace: namespace.into(), name: name.into() }
}

fn system_error(log: &BuildLog, error: &Error) -> Ending {
    for line in error_lines(error) {
        log.line(&line);
    }
    Ending { phase: BuildPhase::Error, reason: "Error".into(), message: error.to_string() }
}

/// The revision a git build built, from the labels s2i wrote.
fn revision_of(spec: &BuildSpec, labels: &BTreeMap<String, String>) -> Option<SourceRevision> {
    spec.source.git.as_ref()?;
    let label = |key: &str| labels.get(&format!("io.openshift.s2i.build.{key}")).cloned().unwrap_or_default();
    let commit = label("commit.id");
    if commit.is_empty() {
        return None;
    }
    let author = label("commit.author");
    let (name, email) = match author.rsplit_once(" <") {
        Some((name, email)) => (name.to_owned(), email.trim_end_matches('>').to_owned()),
        None => (author, String::new()),
    };
    let person = SourceControlUser { name, email };
    Some(SourceRevision {
        kind: "Git".into(),
        git: Some(GitSourceRevision {
            commit,
            author: person.clone(),
            committer: person,
            message: label("commit.message"),
        }),
    })
}

/// `BUILD_LOGLEVEL` of the strategy's environment (0 when unset or not a number).
fn build_loglevel(spec: &BuildSpec) -> u8 {
    spec.strategy
        .source_strategy
        .as_ref()
        .and_then(|s| s.env.iter().find(|v| v.name == "BUILD_LOGLEVEL"))
        .and_then(|v| v.value.trim().parse().ok())
        .unwrap_or(0)
}
