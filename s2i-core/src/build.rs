//! Running a build: options in, plan made, plan executed on a [`ContainerRuntime`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

use crate::archive::{self, ArchiveFile, ArchiveStats, InputArchive, SourceTree};
use crate::env::{self, EnvVar};
use crate::error::{Error, Result};
use crate::events::{BuildEvent, EventSink, EventSinkExt, Stage};
use crate::ignore::{DEFAULT_EXCLUDE, ExcludePattern, IgnoreRules, SourceFilter};
use crate::labels::{self, IMAGE_METADATA_PATH, LabelInputs, SourceInfo};
use crate::plan::{BuildPlan, PlannedSource, ResolvedImage};
use crate::reference::ImageReference;
use crate::retry::retry;
use crate::runtime::{
    ByteStream, CommitSpec, ContainerRuntime, ContainerSpec, HostOptions, ImageInfo, OutputChunk, OutputKind,
    RuntimeErrorKind, StdinWriter,
};
use crate::scripts::{self, ResolvedScripts, Script, ScriptLocation, ScriptSources};
use crate::source::{self, SourceLocation, SourceOptions};

/// Label naming where the input archive is extracted.
pub const DESTINATION_LABEL: &str = "io.openshift.s2i.destination";
/// Deprecated form of [`DESTINATION_LABEL`].
pub const DEPRECATED_DESTINATION_LABEL: &str = "io.s2i.destination";
/// Label naming the user assemble runs as.
pub const ASSEMBLE_USER_LABEL: &str = "io.openshift.s2i.assemble-user";
/// Where the input archive is extracted when nothing says otherwise.
pub const DEFAULT_DESTINATION: &str = "/tmp";
/// Output lines kept to explain a failed script.
const TAIL_LINES: usize = 20;

/// When to pull an image from its registry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PullPolicy {
    /// Always pull.
    Always,
    /// Pull only when the engine does not have the image.
    #[default]
    IfNotPresent,
    /// Never pull: the image must be present.
    Never,
}

impl PullPolicy {
    /// The flag value.
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "always",
            PullPolicy::IfNotPresent => "if-not-present",
            PullPolicy::Never => "never",
        }
    }
}

impl fmt::Display for PullPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PullPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "always" => Ok(PullPolicy::Always),
            "if-not-present" => Ok(PullPolicy::IfNotPresent),
            "never" => Ok(PullPolicy::Never),
            other => Err(format!("invalid value {other:?}, valid values are: always, never or if-not-present")),
        }
    }
}

/// What to build: the options of `s2i build`, as plain data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildOptions {
    /// The source argument: a directory, a git URL, or `None` to let assemble fetch it.
    pub source: Option<String>,
    /// The builder image.
    pub builder_image: String,
    /// The output image name; untagged when `None`.
    pub tag: Option<String>,
    /// `--ref`.
    pub git_ref: Option<String>,
    /// `--context-dir`.
    pub context_dir: Option<String>,
    /// `--copy`.
    pub copy: bool,
    /// `--ignore-submodules`.
    pub ignore_submodules: bool,
    /// `--keep-symlinks`.
    pub keep_symlinks: bool,
    /// `--scripts-url`.
    pub scripts_url: Option<String>,
    /// `--destination`.
    pub destination: Option<String>,
    /// `-e` values, in order.
    pub env: Vec<EnvVar>,
    /// `-E`.
    pub environment_file: Option<PathBuf>,
    /// `--exclude`; the empty string excludes nothing.
    pub exclude: String,
    /// `--pull-policy`.
    pub pull_policy: PullPolicy,
    /// `--assemble-user`.
    pub assemble_user: Option<String>,
    /// `--description`.
    pub description: Option<String>,
    /// `-n/--application-name`.
    pub display_name: Option<String>,
    /// Extra labels of the output image.
    pub labels: BTreeMap<String, String>,
    /// Volumes, capabilities, network and hosts of the build container.
    pub host: HostOptions,
    /// Keep the working directory.
    pub save_temp_dir: bool,
    /// Where working directories are made; the system's temp dir when `None`.
    pub temp_root: Option<PathBuf>,
    /// Directory relative `file://` script URLs and relative paths are resolved against.
    pub working_dir: Option<PathBuf>,
}

impl BuildOptions {
    /// Options for building `source` on `builder_image` with every default.
    pub fn new(source: Option<String>, builder_image: impl Into<String>) -> Self {
        Self {
            source,
            builder_image: builder_image.into(),
            tag: None,
            git_ref: None,
            context_dir: None,
            copy: false,
            ignore_submodules: false,
            keep_symlinks: false,
            scripts_url: None,
            destination: None,
            env: Vec::new(),
            environment_file: None,
            exclude: DEFAULT_EXCLUDE.to_owned(),
            pull_policy: PullPolicy::IfNotPresent,
            assemble_user: None,
            description: None,
            display_name: None,
            labels: BTreeMap::new(),
            host: HostOptions::default(),
            save_temp_dir: false,
            temp_root: None,
            working_dir: None,
        }
    }
}

/// What a successful build produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildResult {
    /// ID of the new image.
    pub image_id: String,
    /// The tag it got, if any.
    pub tag: Option<String>,
    /// Labels written on it.
    pub labels: BTreeMap<String, String>,
    /// The working directory, when kept.
    pub workdir: Option<PathBuf>,
    /// What the input archive held.
    pub archive: ArchiveStats,
    /// How long the whole build took.
    pub elapsed: Duration,
}

/// Options of `s2i usage`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UsageOptions {
    /// The builder image.
    pub builder_image: String,
    /// `--scripts-url`.
    pub scripts_url: Option<String>,
    /// `--destination`.
    pub destination: Option<String>,
    /// `--pull-policy`.
    pub pull_policy: PullPolicy,
    /// `--assemble-user`.
    pub assemble_user: Option<String>,
    /// `-e` values.
    pub env: Vec<EnvVar>,
    /// Directory relative `file://` script URLs are resolved against.
    pub working_dir: Option<PathBuf>,
}

/// The build engine: runs builds on a container runtime and reports to an event sink.
#[derive(Clone)]
pub struct Engine {
    runtime: Arc<dyn ContainerRuntime>,
    events: Arc<dyn EventSink>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

/// Containers a build created, removed whatever happens.
#[derive(Default)]
struct Cleanup {
    containers: Mutex<Vec<String>>,
}

impl Cleanup {
    fn add(&self, id: &str) {
        self.containers.lock().expect("cleanup lock").push(id.to_owned());
    }

    async fn run(&self, runtime: &dyn ContainerRuntime, events: &dyn EventSink) {
        let ids: Vec<String> = std::mem::take(&mut *self.containers.lock().expect("cleanup lock"));
        for id in ids {
            if let Err(e) = runtime.remove_container(&id).await {
                if !e.is_not_found() {
                    events.warn(format!("could not remove container {}: {e}", short_id(&id)));
                }
            } else {
                events.debug(format!("removed container {}", short_id(&id)));
            }
        }
    }
}

/// The working directory of one build; removed on drop unless kept.
struct Workdir {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl Workdir {
    fn new(root: Option<&Path>) -> Result<Self> {
        let root = root.map_or_else(std::env::temp_dir, Path::to_owned);
        let dir = tempfile::Builder::new().prefix("s2i-").tempdir_in(&root).map_err(|e| {
            Error::io("create a working directory in", &root, "make the temp directory writable, or set TMPDIR", e)
        })?;
        let path = dir.path().to_owned();
        Ok(Self { dir: Some(dir), path })
    }

    fn keep(&mut self) -> PathBuf {
        if let Some(dir) = self.dir.take() {
            let _ = dir.keep();
        }
        self.path.clone()
    }
}

impl Engine {
    /// An engine on `runtime`, reporting to `events`.
    pub fn new(runtime: Arc<dyn ContainerRuntime>, events: Arc<dyn EventSink>) -> Self {
        Self { runtime, events }
    }

    /// The runtime the engine runs on.
    pub fn runtime(&self) -> &Arc<dyn ContainerRuntime> {
        &self.runtime
    }

    /// Build an image. Every container the build creates is removed before this
    /// returns, whether the build succeeds, fails or is cancelled through `cancel`.
    pub async fn build(&self, options: &BuildOptions, cancel: &CancellationToken) -> Result<BuildResult> {
        let started = Instant::now();
        let cleanup = Cleanup::default();
        let cancelled = Arc::new(AtomicBool::new(false));
        let mut workdir = Workdir::new(options.temp_root.as_deref())?;
        let result = tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                cancelled.store(true, Ordering::Relaxed);
                Err(Error::Cancelled)
            }
            result = self.build_inner(options, &workdir.path, &cleanup, &cancelled) => result,
        };
        cleanup.run(self.runtime.as_ref(), self.events.as_ref()).await;
        let kept = options.save_temp_dir.then(|| workdir.keep());
        if let Some(path) = &kept {
            self.events.info(format!("Temporary directory kept: {}", path.display()));
        }
        let (image_id, archive, labels) = result?;
        Ok(BuildResult {
            image_id,
            tag: options.tag.clone(),
            labels,
            workdir: kept,
            archive,
            elapsed: started.elapsed(),
        })
    }

    async fn build_inner(
        &self,
        options: &BuildOptions,
        workdir: &Path,
        cleanup: &Cleanup,
        cancelled: &Arc<AtomicBool>,
    ) -> Result<(String, ArchiveStats, BTreeMap<String, String>)> {
        let plan = self.plan(options, workdir, cancelled).await?;
        if options.save_temp_dir {
            write_plan(workdir, &plan)?;
        }
        self.execute(&plan, cleanup).await
    }

    /// Resolve everything a build needs: the builder image (pulled by policy),
    /// the source, the scripts, the environment and the labels.
    pub async fn plan(&self, options: &BuildOptions, workdir: &Path, cancelled: &Arc<AtomicBool>) -> Result<BuildPlan> {
        let builder_ref = parse_image("builder image", &options.builder_image)?;
        let output = match &options.tag {
            Some(tag) => {
                let reference = parse_image("tag", tag)?;
                if reference.digest.is_some() {
                    return Err(Error::option(
                        "tag",
                        format!("{tag:?} has a digest"),
                        "an output image is named by repository and tag; drop the @digest",
                    ));
                }
                Some(reference)
            }
            None => None,
        };
        let destination = options.destination.clone();
        if let Some(dest) = &destination {
            check_destination(dest)?;
        }
        let exclude = ExcludePattern::new(&options.exclude)?;
        let base_dir = match &options.working_dir {
            Some(dir) => dir.clone(),
            None => std::env::current_dir()
                .map_err(|e| Error::io("read the current directory", ".", "run s2i from an existing directory", e))?,
        };
        let mut file_env = Vec::new();
        if let Some(path) = &options.environment_file {
            let path = base_dir.join(path);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Error::io("read the environment file", &path, "pass an existing file of NAME=VALUE lines to -E", e)
            })?;
            file_env = env::parse_env_file(&path.display().to_string(), &text)?;
        }

        let builder = self.obtain_image(&builder_ref, options.pull_policy).await?;

        let prepared = match &options.source {
            Some(source) => {
                let location = match SourceLocation::parse(source)? {
                    SourceLocation::Local { path, fragment } if path.is_relative() => {
                        SourceLocation::Local { path: base_dir.join(path), fragment }
                    }
                    other => other,
                };
                let source_options = SourceOptions {
                    git_ref: options.git_ref.clone().filter(|r| !r.is_empty()),
                    context_dir: options.context_dir.clone(),
                    copy: options.copy,
                    ignore_submodules: options.ignore_submodules,
                    keep_symlinks: options.keep_symlinks,
                };
                let stage = self.stage(Stage::FetchSource, source);
                let workdir = workdir.to_owned();
                let cancelled = cancelled.clone();
                let events = self.events.clone();
                let prepared = tokio::task::spawn_blocking(move || {
                    let progress = |line: String| events.detail(line);
                    source::prepare_source(&location, &source_options, &workdir, &cancelled, &progress)
                })
                .await
                .map_err(join_error)??;
                stage.finish(self.events.as_ref());
                Some(prepared)
            }
            None => {
                self.events.detail("No source given: assemble is responsible for getting the source");
                None
            }
        };

        // .s2iignore and .s2i/environment are read from the source root.
        let mut ignore = IgnoreRules::default();
        let mut source_env = Vec::new();
        if let Some(prepared) = &prepared {
            let ignore_path = prepared.root.join(".s2iignore");
            if ignore_path.is_file() {
                let text = std::fs::read_to_string(&ignore_path)
                    .map_err(|e| Error::io("read", &ignore_path, "make .s2iignore readable", e))?;
                ignore = IgnoreRules::parse(&ignore_path.display().to_string(), &text)?;
                self.events.detail(format!("Using .s2iignore: {}", ignore.patterns().join(", ")));
            }
            let env_path = prepared.root.join(".s2i/environment");
            if env_path.is_file() && !ignore.is_ignored(".s2i") && !ignore.is_ignored(".s2i/environment") {
                let text = std::fs::read_to_string(&env_path)
                    .map_err(|e| Error::io("read", &env_path, "make .s2i/environment readable", e))?;
                let (vars, skipped) = env::parse_source_environment(&text);
                for line in skipped {
                    self.events.warn(format!(".s2i/environment: skipped {line:?}: not NAME=VALUE"));
                }
                self.events.detail(format!(
                    "Setting {} environment variables provided by environment file in sources",
                    vars.len()
                ));
                source_env = vars;
            }
        }

        let (image_default, note) = ScriptSources::image_default(&builder.info);
        if let Some(note) = note {
            self.events.warn(note);
        }
        let script_sources = ScriptSources {
            scripts_url: options.scripts_url.clone().filter(|u| !u.is_empty()),
            source_root: prepared
                .as_ref()
                .filter(|_| !ignore.is_ignored(".s2i") && !ignore.is_ignored(".s2i/bin"))
                .map(|p| p.root.clone()),
            image_default,
            base_dir: base_dir.clone(),
        };
        let scripts =
            self.resolve_scripts(&[Script::Assemble, Script::Run], &[Script::SaveArtifacts], script_sources).await?;

        let destination = destination.unwrap_or_else(|| image_destination(&builder.info, self.events.as_ref()));
        let assemble_user = options
            .assemble_user
            .clone()
            .filter(|u| !u.is_empty())
            .or_else(|| builder.info.labels.get(ASSEMBLE_USER_LABEL).filter(|u| !u.is_empty()).cloned());
        let assemble = scripts.get(Script::Assemble).expect("assemble is required").container_path(&destination);
        let run = scripts.get(Script::Run).expect("run is required").container_path(&destination);

        let mut build_env = source_env;
        build_env.extend(options.env.iter().cloned());
        build_env.extend(file_env);
        let build_env = env::dedupe(&build_env);

        let source_info = prepared.as_ref().map(|p| p.info.clone()).unwrap_or_default();
        let display_name = options.display_name.clone().or_else(|| options.tag.clone());
        let mut labels = builder.info.labels.clone();
        labels.extend(labels::generated_labels(&LabelInputs {
            description: options.description.as_deref(),
            display_name: display_name.as_deref(),
            builder_image: &builder.canonical,
            source: &source_info,
        }));
        labels.extend(options.labels.clone());

        let output_user = if builder.info.user.is_empty() && assemble_user.is_some() {
            // The engine would otherwise inherit the assemble user from the container.
            "0".to_owned()
        } else {
            builder.info.user.clone()
        };
        let source = prepared.map(|prepared| {
            let filter = SourceFilter {
                ignore: ignore.clone(),
                exclude: exclude.clone(),
                moved: scripts.moved_from_source.iter().cloned().collect(),
            };
            PlannedSource {
                prepared,
                ignore_patterns: ignore.patterns(),
                exclude: exclude.as_ref().map(|e| e.as_str().to_owned()),
                filter,
            }
        });
        Ok(BuildPlan {
            output,
            assemble_entrypoint: vec!["/bin/sh".into(), "-c".into()],
            assemble_command: vec![format!("tar -C {} -xf - && {}", sh_quote(&destination), sh_quote(&assemble))],
            run_command: vec![run],
            output_entrypoint: builder.info.entrypoint.clone(),
            output_user,
            destination,
            assemble_user,
            scripts,
            env: build_env,
            labels,
            source,
            host: options.host.clone(),
            builder,
        })
    }

    async fn resolve_scripts(
        &self,
        required: &[Script],
        optional: &[Script],
        sources: ScriptSources,
    ) -> Result<ResolvedScripts> {
        let stage = self.stage(Stage::InstallScripts, "scripts");
        let (required, optional) = (required.to_vec(), optional.to_vec());
        let scripts = tokio::task::spawn_blocking(move || scripts::resolve_scripts(&required, &optional, &sources))
            .await
            .map_err(join_error)??;
        for note in &scripts.notes {
            self.events.warn(note.clone());
        }
        for resolved in scripts.scripts.values() {
            self.events.detail(format!("Using {} from {}", resolved.script, resolved.origin));
        }
        for (script, looked_at) in &scripts.missing_optional {
            self.events.detail(format!("No {script} script: {}", looked_at.join("; ")));
        }
        stage.finish(self.events.as_ref());
        Ok(scripts)
    }

    /// Make an image available by pull policy and inspect it.
    pub async fn obtain_image(&self, reference: &ImageReference, policy: PullPolicy) -> Result<ResolvedImage> {
        let engine_name = reference.engine_name();
        let stage = self.stage(Stage::PullImage, &engine_name);
        let inspect = |name: String| async move {
            self.runtime.inspect_image(&name).await.map_err(|e| Error::runtime(format!("inspect image {name}"), e))
        };
        let info = match policy {
            PullPolicy::Never => inspect(engine_name.clone()).await?,
            PullPolicy::IfNotPresent => match inspect(engine_name.clone()).await? {
                Some(info) => Some(info),
                None => {
                    self.pull(&engine_name, policy).await?;
                    inspect(engine_name.clone()).await?
                }
            },
            PullPolicy::Always => {
                self.pull(&engine_name, policy).await?;
                inspect(engine_name.clone()).await?
            }
        };
        let Some(info) = info else {
            return Err(Error::ImageNotFound {
                help: format!(
                    "the pull policy is {policy}: build or load {engine_name} first (`docker images` lists what the engine has), \
                     or use --pull-policy if-not-present to pull it"
                ),
                image: engine_name,
            });
        };
        stage.finish(self.events.as_ref());
        Ok(ResolvedImage {
            name: reference.to_string(),
            canonical: reference.normalized().to_string(),
            engine_name,
            info,
        })
    }

    async fn pull(&self, image: &str, policy: PullPolicy) -> Result<()> {
        self.events.info(format!("Pulling image {image} ..."));
        let events = self.events.clone();
        let image_owned = image.to_owned();
        let progress = move |progress| events.emit(BuildEvent::Pull { image: image_owned.clone(), progress });
        let transient = |e: &crate::runtime::RuntimeError| {
            e.kind == RuntimeErrorKind::Other
                && ["connection reset", "connection refused", "already in progress", "transport closed", "timeout"]
                    .iter()
                    .any(|needle| e.message.contains(needle))
        };
        retry(3, Duration::from_secs(2), transient, |_| self.runtime.pull_image(image, &progress))
            .await
            .map_err(|e| {
                let help = match e.kind {
                    RuntimeErrorKind::Unauthorized => {
                        "log in to the registry (`docker login <registry>`), or check the credentials in ~/.docker/config.json".to_owned()
                    }
                    RuntimeErrorKind::Unreachable => {
                        "the container engine cannot be reached; start it, or point DOCKER_HOST at it".to_owned()
                    }
                    _ if policy == PullPolicy::Always => "check the image name and that its registry is reachable; \
                         if the image is local, use --pull-policy never or if-not-present"
                        .to_owned(),
                    _ => "check the image name and that its registry is reachable; build or load local images first".to_owned(),
                };
                Error::PullFailed { image: image.to_owned(), message: e.message, help }
            })
    }

    /// Run a plan: create the assemble container, stream the input archive into
    /// it, and commit it. The container is registered with `cleanup`.
    async fn execute(
        &self,
        plan: &BuildPlan,
        cleanup: &Cleanup,
    ) -> Result<(String, ArchiveStats, BTreeMap<String, String>)> {
        let spec = ContainerSpec {
            name: Some(container_name(&plan.builder.name)),
            image: plan.builder.engine_name.clone(),
            entrypoint: Some(plan.assemble_entrypoint.clone()),
            cmd: plan.assemble_command.clone(),
            env: plan.env.iter().map(EnvVar::to_entry).collect(),
            user: plan.assemble_user.clone(),
            working_dir: None,
            stdin: true,
            labels: BTreeMap::new(),
            host: plan.host.clone(),
        };
        for var in &plan.env {
            self.events.debug(format!("Build environment: {}", env::redact(var)));
        }
        let container = self.create_container(&spec, cleanup).await?;

        let archive = InputArchive {
            scripts: shipped_scripts(&plan.scripts),
            source: plan.source.as_ref().map(|s| SourceTree {
                root: s.prepared.root.clone(),
                filter: s.filter.clone(),
                follow_symlinks: s.prepared.follow_symlinks,
            }),
        };
        let (stream, producer) = self.spawn_archive(archive);
        let stage = self.stage(Stage::Assemble, &plan.builder.name);
        let status = self.run_attached(&container, Some(stream), "assemble", &plan.builder.name).await;
        let stats = finish_producer(producer, status.is_ok()).await;
        status?;
        let stats = stats?;
        stage.finish(self.events.as_ref());

        let stage =
            self.stage(Stage::Commit, plan.output.as_ref().map_or("(untagged)".to_owned(), |o| o.to_string()).as_str());
        let mut labels = plan.labels.clone();
        labels.extend(self.image_metadata(&container).await?);
        let display = plan.output.as_ref().map_or_else(|| plan.builder.name.clone(), |o| o.to_string());
        labels::check_size(&display, &labels)?;
        let commit = CommitSpec {
            repository: plan.output.as_ref().map(ImageReference::name),
            tag: plan.output.as_ref().map(|o| o.tag_or_default().to_owned()),
            cmd: plan.run_command.clone(),
            entrypoint: plan.output_entrypoint.clone(),
            env: plan.env.iter().map(EnvVar::to_entry).collect(),
            user: plan.output_user.clone(),
            labels: labels.clone(),
        };
        let image_id = self
            .runtime
            .commit_container(&container, &commit)
            .await
            .map_err(|e| Error::runtime(format!("commit {display}"), e))?;
        stage.finish(self.events.as_ref());
        Ok((image_id, stats, labels))
    }

    async fn create_container(&self, spec: &ContainerSpec, cleanup: &Cleanup) -> Result<String> {
        let id = self
            .runtime
            .create_container(spec)
            .await
            .map_err(|e| Error::runtime(format!("create a container from {}", spec.image), e))?;
        cleanup.add(&id);
        self.events.debug(format!("Created container {} ({})", short_id(&id), spec.cmd.join(" ")));
        Ok(id)
    }

    fn spawn_archive(&self, archive: InputArchive) -> (ByteStream, tokio::task::JoinHandle<Result<ArchiveStats>>) {
        let events = self.events.clone();
        archive::spawn_producer(move |writer| {
            let mut last = Instant::now();
            let mut progress = |stats: &ArchiveStats| {
                if last.elapsed() >= Duration::from_millis(100) {
                    last = Instant::now();
                    events.emit(BuildEvent::Upload { files: stats.entries, bytes: stats.bytes, done: false });
                }
            };
            let stats = archive::write_archive(&archive, writer, &mut progress)?;
            events.emit(BuildEvent::Upload { files: stats.entries, bytes: stats.bytes, done: true });
            if stats.skipped_special > 0 {
                events
                    .detail(format!("Left out {} sockets, FIFOs or device files of the source", stats.skipped_special));
            }
            Ok(stats)
        })
    }

    /// Attach to a created container, start it, feed `stdin`, relay its output
    /// as events and wait for it. A non-zero exit is a [`Error::ScriptFailed`].
    async fn run_attached(&self, container: &str, stdin: Option<ByteStream>, script: &str, image: &str) -> Result<()> {
        let attachment = self
            .runtime
            .attach_container(container, stdin.is_some())
            .await
            .map_err(|e| Error::runtime("attach to the build container", e))?;
        self.runtime
            .start_container(container)
            .await
            .map_err(|e| Error::runtime(format!("start {script} in {image}"), e))?;
        let mut writer = match (stdin, attachment.stdin) {
            (Some(stream), Some(sink)) => Some(tokio::spawn(feed_stdin(stream, sink))),
            _ => None,
        };
        let mut output = attachment.output;
        let mut lines = LineSplitter::new(self.events.clone());
        let mut feed_failed = None;
        loop {
            tokio::select! {
                chunk = output.next() => match chunk {
                    Some(Ok(chunk)) => lines.push(&chunk),
                    Some(Err(e)) => return Err(Error::runtime(format!("read the output of {script}"), e)),
                    None => break,
                },
                result = async { writer.as_mut().expect("guarded").await }, if writer.is_some() => {
                    writer = None;
                    if let Ok(Err(FeedError::Source(e))) = result {
                        // The archive could not be produced: stop here, the caller reports why.
                        feed_failed = Some(e);
                        break;
                    }
                }
            }
        }
        lines.finish();
        if let Some(e) = feed_failed {
            return Err(Error::Io {
                action: "produce the input archive for".into(),
                path: PathBuf::from(script),
                help: "see the error above".into(),
                source: e,
            });
        }
        let status = self
            .runtime
            .wait_container(container)
            .await
            .map_err(|e| Error::runtime(format!("wait for {script}"), e))?;
        if let Some(writer) = writer {
            // The container has exited; its stdin is gone, so the writer ends promptly.
            let _ = tokio::time::timeout(Duration::from_secs(10), writer).await;
        }
        if status.code != 0 {
            let mut help = String::new();
            let tail = lines.tail();
            if !tail.is_empty() {
                help.push_str(&format!("last lines of its output:\n{}\n", tail.join("\n")));
            }
            if status.oom_killed {
                help.push_str("the container ran out of memory\n");
            }
            if let Some(error) = status.error.filter(|e| !e.is_empty()) {
                help.push_str(&format!("the engine says: {error}\n"));
            }
            help.push_str(&format!("fix the {script} script or the source it builds, then build again"));
            return Err(Error::ScriptFailed {
                script: script.to_owned(),
                code: status.code,
                image: image.to_owned(),
                help,
            });
        }
        Ok(())
    }

    /// Labels assemble wrote to `/tmp/.s2i/image_metadata.json`, if it did.
    async fn image_metadata(&self, container: &str) -> Result<BTreeMap<String, String>> {
        let archive = self
            .runtime
            .download_archive(container, IMAGE_METADATA_PATH)
            .await
            .map_err(|e| Error::runtime(format!("read {IMAGE_METADATA_PATH}"), e))?;
        let Some(mut archive) = archive else { return Ok(BTreeMap::new()) };
        const LIMIT: usize = 1024 * 1024;
        let mut data = Vec::new();
        while let Some(chunk) = archive.next().await {
            let chunk = chunk.map_err(|e| Error::ImageMetadata { message: e.to_string() })?;
            data.extend_from_slice(&chunk);
            if data.len() > LIMIT {
                return Err(Error::ImageMetadata { message: "the file is larger than 1 MiB".into() });
            }
        }
        let mut tar = tar::Archive::new(data.as_slice());
        let mut entries = tar.entries().map_err(|e| Error::ImageMetadata { message: e.to_string() })?;
        let Some(entry) = entries.next() else { return Ok(BTreeMap::new()) };
        let mut entry = entry.map_err(|e| Error::ImageMetadata { message: e.to_string() })?;
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut text)
            .map_err(|e| Error::ImageMetadata { message: e.to_string() })?;
        let labels = labels::parse_image_metadata(&text)?;
        if !labels.is_empty() {
            self.events.detail(format!(
                "Labels from {IMAGE_METADATA_PATH}: {}",
                labels.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        Ok(labels)
    }

    /// Run the builder image's `usage` script and relay its output. Nothing is
    /// committed and the container is removed.
    pub async fn usage(&self, options: &UsageOptions, cancel: &CancellationToken) -> Result<()> {
        let cleanup = Cleanup::default();
        let result = tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(Error::Cancelled),
            result = self.usage_inner(options, &cleanup) => result,
        };
        cleanup.run(self.runtime.as_ref(), self.events.as_ref()).await;
        result
    }

    async fn usage_inner(&self, options: &UsageOptions, cleanup: &Cleanup) -> Result<()> {
        let reference = parse_image("builder image", &options.builder_image)?;
        if let Some(dest) = &options.destination {
            check_destination(dest)?;
        }
        let builder = self.obtain_image(&reference, options.pull_policy).await?;
        let (image_default, note) = ScriptSources::image_default(&builder.info);
        if let Some(note) = note {
            self.events.warn(note);
        }
        let base_dir = options.working_dir.clone().unwrap_or_else(|| std::env::current_dir().unwrap_or_default());
        let sources = ScriptSources {
            scripts_url: options.scripts_url.clone().filter(|u| !u.is_empty()),
            source_root: None,
            image_default,
            base_dir,
        };
        let scripts = self.resolve_scripts(&[Script::Usage], &[], sources).await?;
        let destination =
            options.destination.clone().unwrap_or_else(|| image_destination(&builder.info, self.events.as_ref()));
        let usage = scripts.get(Script::Usage).expect("usage is required").container_path(&destination);
        let spec = ContainerSpec {
            name: Some(container_name(&builder.name)),
            image: builder.engine_name.clone(),
            entrypoint: Some(vec!["/bin/sh".into(), "-c".into()]),
            cmd: vec![format!("tar -C {} -xf - && {}", sh_quote(&destination), sh_quote(&usage))],
            env: env::dedupe(&options.env).iter().map(EnvVar::to_entry).collect(),
            user: options.assemble_user.clone().filter(|u| !u.is_empty()),
            stdin: true,
            ..Default::default()
        };
        let container = self.create_container(&spec, cleanup).await?;
        let (stream, producer) = self.spawn_archive(InputArchive { scripts: shipped_scripts(&scripts), source: None });
        let status = self.run_attached(&container, Some(stream), "usage", &builder.name).await;
        let stats = finish_producer(producer, status.is_ok()).await;
        status?;
        stats.map(|_| ())
    }

    fn stage(&self, stage: Stage, subject: &str) -> StageTimer {
        self.events.emit(BuildEvent::StageStarted { stage, subject: subject.to_owned() });
        StageTimer { stage, started: Instant::now() }
    }
}

struct StageTimer {
    stage: Stage,
    started: Instant,
}

impl StageTimer {
    fn finish(self, events: &dyn EventSink) {
        events.emit(BuildEvent::StageFinished { stage: self.stage, elapsed: self.started.elapsed() });
    }
}

/// Why feeding stdin stopped early.
enum FeedError {
    /// The archive producer failed.
    Source(std::io::Error),
    /// The container stopped reading.
    Sink,
}

async fn feed_stdin(mut stream: ByteStream, mut sink: StdinWriter) -> std::result::Result<(), FeedError> {
    while let Some(chunk) = stream.next().await {
        let chunk: Bytes = chunk.map_err(FeedError::Source)?;
        sink.write_all(&chunk).await.map_err(|_| FeedError::Sink)?;
    }
    sink.flush().await.map_err(|_| FeedError::Sink)?;
    sink.shutdown().await.map_err(|_| FeedError::Sink)?;
    Ok(())
}

/// Wait for the archive producer. When the container already failed, the
/// producer's own error (usually "reader went away") is not the story.
async fn finish_producer(
    producer: tokio::task::JoinHandle<Result<ArchiveStats>>,
    container_ok: bool,
) -> Result<ArchiveStats> {
    match tokio::time::timeout(Duration::from_secs(30), producer).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(join_error(e)),
        Err(_) if !container_ok => Ok(ArchiveStats::default()),
        Err(_) => Err(Error::Io {
            action: "finish the input archive for".into(),
            path: PathBuf::from("assemble"),
            help: "the source tree may be on a stalled file system".into(),
            source: std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"),
        }),
    }
}

/// Splits container output into lines, relays them as events, keeps the last few.
struct LineSplitter {
    events: Arc<dyn EventSink>,
    partial: [Vec<u8>; 2],
    tail: std::collections::VecDeque<String>,
}

impl LineSplitter {
    fn new(events: Arc<dyn EventSink>) -> Self {
        Self { events, partial: [Vec::new(), Vec::new()], tail: std::collections::VecDeque::new() }
    }

    fn index(kind: OutputKind) -> usize {
        match kind {
            OutputKind::Stdout => 0,
            OutputKind::Stderr => 1,
        }
    }

    fn push(&mut self, chunk: &OutputChunk) {
        let i = Self::index(chunk.kind);
        let mut rest: &[u8] = &chunk.bytes;
        while let Some(pos) = rest.iter().position(|b| *b == b'\n') {
            self.partial[i].extend_from_slice(&rest[..pos]);
            let line = std::mem::take(&mut self.partial[i]);
            self.emit(chunk.kind, &line);
            rest = &rest[pos + 1..];
        }
        self.partial[i].extend_from_slice(rest);
    }

    fn emit(&mut self, kind: OutputKind, line: &[u8]) {
        let line = String::from_utf8_lossy(line).trim_end_matches('\r').to_owned();
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line.clone());
        self.events.emit(BuildEvent::Output { kind, line });
    }

    fn finish(&mut self) {
        for kind in [OutputKind::Stdout, OutputKind::Stderr] {
            let line = std::mem::take(&mut self.partial[Self::index(kind)]);
            if !line.is_empty() {
                self.emit(kind, &line);
            }
        }
    }

    fn tail(&self) -> Vec<String> {
        self.tail.iter().cloned().collect()
    }
}

fn shipped_scripts(scripts: &ResolvedScripts) -> Vec<ArchiveFile> {
    scripts
        .scripts
        .values()
        .filter_map(|s| match &s.location {
            ScriptLocation::Shipped { contents, .. } => {
                Some(ArchiveFile { path: format!("scripts/{}", s.script), contents: contents.clone(), mode: 0o755 })
            }
            ScriptLocation::Image { .. } => None,
        })
        .collect()
}

/// DEST from the image: label, deprecated label, deprecated env, else `/tmp`.
fn image_destination(image: &ImageInfo, events: &dyn EventSink) -> String {
    let get = |key: &str| image.labels.get(key).filter(|v| !v.is_empty()).cloned();
    if let Some(dest) = get(DESTINATION_LABEL) {
        return dest;
    }
    if let Some(dest) = get(DEPRECATED_DESTINATION_LABEL) {
        events.warn(format!(
            "the image uses the deprecated label {DEPRECATED_DESTINATION_LABEL}; use {DESTINATION_LABEL}"
        ));
        return dest;
    }
    if let Some(dest) = image.env_var("STI_LOCATION").filter(|v| !v.is_empty()) {
        events.warn(format!("the image uses the deprecated variable STI_LOCATION; use the label {DESTINATION_LABEL}"));
        return dest.to_owned();
    }
    DEFAULT_DESTINATION.to_owned()
}

fn check_destination(dest: &str) -> Result<()> {
    if !dest.starts_with('/') {
        return Err(Error::option(
            "--destination",
            format!("{dest:?} is not an absolute path"),
            "give an absolute directory in the builder image, e.g. /tmp",
        ));
    }
    Ok(())
}

fn parse_image(what: &str, name: &str) -> Result<ImageReference> {
    ImageReference::parse(name).map_err(|source| Error::InvalidImageReference { what: what.to_owned(), source })
}

fn write_plan(workdir: &Path, plan: &BuildPlan) -> Result<()> {
    let path = workdir.join("plan.json");
    let text = serde_json::to_vec_pretty(plan).expect("plans serialise");
    std::fs::write(&path, text).map_err(|e| Error::io("write", &path, "check the temp directory", e))?;
    for script in shipped_scripts(&plan.scripts) {
        let path = workdir.join(&script.path);
        let write = std::fs::create_dir_all(path.parent().expect("scripts/ parent"))
            .and_then(|()| std::fs::write(&path, &script.contents));
        write.map_err(|e| Error::io("write", &path, "check the temp directory", e))?;
    }
    Ok(())
}

fn join_error(e: tokio::task::JoinError) -> Error {
    Error::Io {
        action: "finish a background task of".into(),
        path: PathBuf::from("the build"),
        help: "this is a bug in s2i; please report it".into(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// `s2i_<image with non-alphanumerics as _>_<8 random hex digits>`, as the reference names build containers.
pub fn container_name(image: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let sanitized: String = image.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher
        .write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    format!("s2i_{sanitized}_{:08x}", hasher.finish() as u32)
}

fn short_id(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// Quote a word for `/bin/sh` when it needs it.
pub fn sh_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '+' | ':' | '=' | '@' | ','));
    if safe { word.to_owned() } else { format!("'{}'", word.replace('\'', r"'\''")) }
}

/// The source info recorded for a build, for callers that label images themselves.
pub fn source_info_of(plan: &BuildPlan) -> SourceInfo {
    plan.source.as_ref().map(|s| s.prepared.info.clone()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policies_parse_like_the_reference() {
        assert_eq!("never".parse::<PullPolicy>().unwrap(), PullPolicy::Never);
        assert_eq!(
            "sometimes".parse::<PullPolicy>().unwrap_err(),
            "invalid value \"sometimes\", valid values are: always, never or if-not-present"
        );
    }

    #[test]
    fn container_names_follow_the_reference() {
        let name = container_name("docker.io/a/b:1");
        assert!(name.starts_with("s2i_docker_io_a_b_1_"), "{name}");
        assert_eq!(name.len(), "s2i_docker_io_a_b_1_".len() + 8);
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(sh_quote("/usr/libexec/s2i/assemble"), "/usr/libexec/s2i/assemble");
        assert_eq!(sh_quote("/my dir/it's"), r"'/my dir/it'\''s'");
    }

    #[test]
    fn line_splitter_handles_partial_lines() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let events: Arc<dyn EventSink> = Arc::new(move |e: BuildEvent| {
            if let BuildEvent::Output { line, .. } = e {
                sink.lock().unwrap().push(line);
            }
        });
        let mut s = LineSplitter::new(events);
        let chunk = |b: &'static [u8]| OutputChunk { kind: OutputKind::Stdout, bytes: Bytes::from_static(b) };
        s.push(&chunk(b"he"));
        s.push(&chunk(b"llo\nwor"));
        s.push(&chunk(b"ld\r\n"));
        s.push(&chunk(b"tail"));
        s.finish();
        assert_eq!(*seen.lock().unwrap(), vec!["hello", "world", "tail"]);
        assert_eq!(s.tail(), vec!["hello", "world", "tail"]);
    }
}
