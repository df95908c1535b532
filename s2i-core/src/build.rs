//! Running a build: options in, plan made, plan executed on a [`ContainerRuntime`].

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::archive::{ArchiveFile, ArchiveStats, InputArchive, SourceTree, TarInput};
use crate::chained::{self, ArtifactMapping, PlannedSourceImage, RuntimeStage, SourceImage};
use crate::env::{self, EnvVar};
use crate::error::{Error, Result};
use crate::events::{BuildEvent, EventSink, EventSinkExt, Stage};
use crate::exec::{self, Cleanup, RunEnd, StageTimer, Workdir, sh_quote};
use crate::git::GitCredentials;
use crate::ignore::{DEFAULT_EXCLUDE, ExcludePattern, IgnoreRules, SourceFilter};
use crate::incremental::{self, PreviousImage};
use crate::inject::{self, Injection};
use crate::labels::{self, IMAGE_METADATA_PATH, LabelInputs, SourceInfo};
use crate::onbuild;
use crate::plan::{BuildPlan, PlannedSource, ResolvedImage, Strategy};
use crate::reference::ImageReference;
use crate::retry::retry;
use crate::runtime::{
    CommitSpec, ContainerRuntime, ContainerSpec, HostOptions, ImageBuildSpec, ImageInfo, RuntimeErrorKind,
};
use crate::scripts::{self, ResolvedScripts, Script, ScriptLocation, ScriptSources};
use crate::source::{self, SourceLocation, SourceOptions};
use crate::users::{ASSEMBLE_USER_LABEL, AllowedUids};

/// Label naming where the input archive is extracted.
pub const DESTINATION_LABEL: &str = "io.openshift.s2i.destination";
/// Deprecated form of [`DESTINATION_LABEL`].
pub const DEPRECATED_DESTINATION_LABEL: &str = "io.s2i.destination";
/// Where the input archive is extracted when nothing says otherwise.
pub const DEFAULT_DESTINATION: &str = "/tmp";
/// How long save-artifacts may go without sending data, by default.
pub const DEFAULT_ARTIFACTS_TIMEOUT: Duration = Duration::from_secs(300);

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
    /// Credentials for cloning a git source (e.g. a build's source secret);
    /// never serialised or shown.
    #[serde(skip)]
    pub source_credentials: Option<GitCredentials>,
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
    /// `--allowed-uids`.
    pub allowed_uids: AllowedUids,
    /// `--description`.
    pub description: Option<String>,
    /// `-n/--application-name`.
    pub display_name: Option<String>,
    /// Extra labels of the output image.
    pub labels: BTreeMap<String, String>,
    /// Volumes, capabilities, network, hosts and limits of the build containers.
    pub host: HostOptions,
    /// `--incremental`.
    pub incremental: bool,
    /// `--incremental-pull-policy`.
    pub incremental_pull_policy: PullPolicy,
    /// The image to take artifacts from; the output tag when `None`.
    pub incremental_from: Option<String>,
    /// `--rm`: remove the previous image after an incremental build.
    pub remove_previous_image: bool,
    /// How long save-artifacts may go without sending data.
    pub artifacts_timeout: Duration,
    /// `--inject`.
    pub injections: Vec<Injection>,
    /// Refuse builder images with `ONBUILD` triggers.
    pub block_onbuild: bool,
    /// `--callback-url`: where to POST the outcome.
    pub callback_url: Option<String>,
    /// `--runtime-image`: the image that ships, receiving only the built artifacts.
    pub runtime_image: Option<String>,
    /// `-a/--runtime-artifact`; the runtime image's assemble-input-files label when empty.
    pub runtime_artifacts: Vec<ArtifactMapping>,
    /// `--assemble-runtime-user`.
    pub assemble_runtime_user: Option<String>,
    /// `--runtime-pull-policy`.
    pub runtime_pull_policy: PullPolicy,
    /// `--source-image`: paths copied out of images into the source.
    pub source_images: Vec<SourceImage>,
    /// Labels put on every container the build creates, so that its
    /// containers can be found (e.g. to remove those of a killed process).
    pub container_labels: BTreeMap<String, String>,
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
            source_credentials: None,
            scripts_url: None,
            destination: None,
            env: Vec::new(),
            environment_file: None,
            exclude: DEFAULT_EXCLUDE.to_owned(),
            pull_policy: PullPolicy::IfNotPresent,
            assemble_user: None,
            allowed_uids: AllowedUids::default(),
            description: None,
            display_name: None,
            labels: BTreeMap::new(),
            host: HostOptions::default(),
            incremental: false,
            incremental_pull_policy: PullPolicy::IfNotPresent,
            incremental_from: None,
            remove_previous_image: false,
            artifacts_timeout: DEFAULT_ARTIFACTS_TIMEOUT,
            injections: Vec::new(),
            block_onbuild: false,
            callback_url: None,
            runtime_image: None,
            runtime_artifacts: Vec::new(),
            assemble_runtime_user: None,
            runtime_pull_policy: PullPolicy::IfNotPresent,
            source_images: Vec::new(),
            container_labels: BTreeMap::new(),
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
    /// Whether artifacts of a previous image were used.
    pub incremental: bool,
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
    /// `--allowed-uids`.
    pub allowed_uids: AllowedUids,
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

/// What assembling produced: the stopped container to commit.
struct Assembled {
    container: String,
    stats: ArchiveStats,
}

/// Why an assemble attempt did not produce a container to commit.
enum AttemptError {
    /// The builder has no `tar` (or no `/bin/sh`): deliver the input with the engine instead.
    MissingTool { shell: bool },
    /// The artifacts of the previous image could not be used: build clean.
    Artifacts(Error),
    /// Anything else ends the build.
    Fatal(Error),
}

impl From<Error> for AttemptError {
    fn from(e: Error) -> Self {
        AttemptError::Fatal(e)
    }
}

/// How the input archive reaches the build container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Streamed into the container's stdin and unpacked by its own `tar`.
    Stdin,
    /// Unpacked by the engine before the container starts; `shell` says whether `/bin/sh` exists.
    Upload { shell: bool },
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

    /// The event sink the engine reports to.
    pub fn events(&self) -> &Arc<dyn EventSink> {
        &self.events
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
        let result = result.map(|mut r| {
            r.workdir = kept;
            r.elapsed = started.elapsed();
            r
        });
        if let Some(url) = options.callback_url.as_deref().filter(|u| !u.is_empty()) {
            self.callback(url, &result).await;
        }
        result
    }

    async fn build_inner(
        &self,
        options: &BuildOptions,
        workdir: &Path,
        cleanup: &Cleanup,
        cancelled: &Arc<AtomicBool>,
    ) -> Result<BuildResult> {
        let plan = self.plan(options, workdir, cancelled).await?;
        if options.save_temp_dir {
            write_plan(workdir, &plan)?;
        }
        match plan.strategy {
            Strategy::Sti => self.execute(&plan, cleanup).await,
            Strategy::OnBuild => self.execute_onbuild(&plan).await,
        }
    }

    /// Resolve everything a build needs: the builder image (pulled by policy),
    /// the source, the scripts, the environment and the labels. Checks that can
    /// fail without a container (users, network, mounts) run here.
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
        if let Some(dest) = &options.destination {
            check_destination(dest)?;
        }
        if options.assemble_user.as_deref().is_some_and(|u| u.trim().is_empty()) {
            return Err(Error::option("--assemble-user", "the user is empty", "give a user name or uid"));
        }
        validate_host_options(&options.host)?;
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
        self.check_network(&options.host).await?;

        let builder = self.obtain_image(&builder_ref, options.pull_policy).await?;
        options.allowed_uids.check_image(&builder.name, &builder.info, options.assemble_user.as_deref())?;
        let strategy = if builder.info.on_build.is_empty() {
            Strategy::Sti
        } else if options.block_onbuild {
            return Err(Error::option(
                "builder image",
                format!("{} uses ONBUILD instructions but ONBUILD is not allowed", builder.name),
                "use a builder image without ONBUILD triggers",
            ));
        } else {
            self.events.detail(format!("{} has ONBUILD triggers: the image is built FROM it", builder.name));
            Strategy::OnBuild
        };
        if strategy == Strategy::OnBuild && options.runtime_image.is_some() {
            return Err(Error::option(
                "--runtime-image",
                format!(
                    "{} uses ONBUILD triggers, which build with a Dockerfile, not an assemble container",
                    builder.name
                ),
                "use a builder image without ONBUILD triggers for chained builds",
            ));
        }
        if strategy == Strategy::OnBuild && (options.incremental || !options.injections.is_empty()) {
            return Err(Error::option(
                if options.incremental { "--incremental" } else { "--inject" },
                format!(
                    "{} uses ONBUILD triggers, which build with a Dockerfile, not an assemble container",
                    builder.name
                ),
                "drop the option, or use a builder image without ONBUILD triggers",
            ));
        }

        let prepared = match &options.source {
            Some(source) => Some(self.prepare_source(source, options, &base_dir, workdir, cancelled).await?),
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
            if source::readable_source_file(&prepared.root, &ignore_path, self.events.as_ref()) {
                let text = std::fs::read_to_string(&ignore_path)
                    .map_err(|e| Error::io("read", &ignore_path, "make .s2iignore readable", e))?;
                ignore = IgnoreRules::parse(&ignore_path.display().to_string(), &text)?;
                self.events.detail(format!("Using .s2iignore: {}", ignore.patterns().join(", ")));
            }
            let env_path = prepared.root.join(".s2i/environment");
            if !ignore.is_ignored(".s2i")
                && !ignore.is_ignored(".s2i/environment")
                && source::readable_source_file(&prepared.root, &env_path, self.events.as_ref())
            {
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
        let chained = options.runtime_image.is_some();
        let (required, optional): (&[Script], &[Script]) = match strategy {
            // In a chained build the runtime image's run script is the command.
            Strategy::Sti if chained => (&[Script::Assemble], &[Script::SaveArtifacts, Script::Run]),
            Strategy::Sti => (&[Script::Assemble, Script::Run], &[Script::SaveArtifacts]),
            Strategy::OnBuild => (&[], &[Script::Assemble, Script::Run]),
        };
        let runtime_sources = script_sources.clone();
        let scripts = self.resolve_scripts(required, optional, script_sources).await?;
        let runtime = match &options.runtime_image {
            Some(image) => Some(self.plan_runtime(options, image, runtime_sources).await?),
            None => None,
        };
        let mut source_images = Vec::new();
        for spec in &options.source_images {
            let reference = parse_image("--source-image image", &spec.image)?;
            let image = self.obtain_image(&reference, options.pull_policy).await?;
            source_images.push(PlannedSourceImage {
                image,
                path: spec.path.clone(),
                destination: spec.destination.clone(),
            });
        }

        let destination =
            options.destination.clone().unwrap_or_else(|| image_destination(&builder.info, self.events.as_ref()));
        let assemble_user = options
            .assemble_user
            .clone()
            .or_else(|| builder.info.labels.get(ASSEMBLE_USER_LABEL).filter(|u| !u.is_empty()).cloned());
        let assemble_path = scripts.get(Script::Assemble).map(|s| s.container_path(&destination)).unwrap_or_default();
        let run_command = scripts.get(Script::Run).map(|s| vec![s.container_path(&destination)]).unwrap_or_default();

        let mut build_env = source_env;
        build_env.extend(options.env.iter().cloned());
        build_env.extend(file_env);
        let build_env = env::dedupe(&build_env);

        let source_info = prepared.as_ref().map(|p| p.info.clone()).unwrap_or_default();
        let display_name = options.display_name.clone().or_else(|| options.tag.clone());
        // The output image is the runtime image's when chained, so its labels are the base.
        let mut labels = runtime.as_ref().map_or_else(|| builder.info.labels.clone(), |r| r.image.info.labels.clone());
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
        // A chained build keeps its builder stage under a derived name when incremental,
        // so that the next build can take the artifacts from it.
        let builder_stage = match (&runtime, &output) {
            (Some(_), Some(output)) if options.incremental => Some(chained::builder_stage_name(output)),
            _ => None,
        };
        let incremental = if options.incremental && strategy == Strategy::Sti {
            let previous = options.incremental_from.clone().or_else(|| builder_stage.clone());
            self.previous_image(options, previous, &output, &scripts, &destination, assemble_user.as_deref()).await
        } else {
            None
        };
        let injections = inject::resolve(&options.injections, &base_dir, &builder.info.working_dir)?;
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
            strategy,
            output,
            assemble_path,
            run_command,
            output_entrypoint: builder.info.entrypoint.clone(),
            output_user,
            destination,
            assemble_user,
            scripts,
            env: build_env,
            labels,
            source,
            host: options.host.clone(),
            incremental,
            remove_previous_image: options.remove_previous_image,
            artifacts_timeout: options.artifacts_timeout,
            injections,
            runtime,
            builder_stage,
            source_images,
            builder,
            container_labels: options.container_labels.clone(),
        })
    }

    /// Plan the runtime stage of a chained build: the image (obtained and
    /// checked now, so errors come at once), the artifacts, and its scripts.
    async fn plan_runtime(&self, options: &BuildOptions, image: &str, sources: ScriptSources) -> Result<RuntimeStage> {
        let reference = parse_image("runtime image", image)?;
        let resolved = self.obtain_image(&reference, options.runtime_pull_policy).await.map_err(|e| match e {
            Error::ImageNotFound { image, help } => {
                Error::ImageNotFound { image, help: help.replace("--pull-policy", "--runtime-pull-policy") }
            }
            other => other,
        })?;
        options.allowed_uids.check_runtime_image(
            &resolved.name,
            &resolved.info,
            options.assemble_runtime_user.as_deref(),
        )?;
        let artifacts = if options.runtime_artifacts.is_empty() {
            let label = resolved.info.labels.get(chained::ASSEMBLE_INPUT_FILES_LABEL).filter(|v| !v.trim().is_empty());
            let Some(label) = label else {
                return Err(Error::option(
                    "--runtime-artifact",
                    format!(
                        "no runtime artifacts to copy were specified (and {} has no {} label)",
                        resolved.name,
                        chained::ASSEMBLE_INPUT_FILES_LABEL
                    ),
                    "name what to copy from the builder with -a /path/in/builder[:dir/in/runtime]",
                ));
            };
            chained::parse_runtime_artifacts(label).map_err(|e| {
                Error::option(
                    "runtime image",
                    format!(
                        "could not parse {:?} label with value {label:?} on image {:?}: {e}",
                        chained::ASSEMBLE_INPUT_FILES_LABEL,
                        resolved.name
                    ),
                    "fix the label of the runtime image, or give the mappings with -a",
                )
            })?
        } else {
            options.runtime_artifacts.clone()
        };
        chained::validate_mappings(&artifacts)?;
        let (image_default, note) = ScriptSources::image_default(&resolved.info);
        if let Some(note) = note {
            self.events.warn(note);
        }
        let sources = ScriptSources { image_default, ..sources };
        let scripts = self.resolve_scripts(&[Script::Run], &[Script::AssembleRuntime], sources).await?;
        let workdir =
            if resolved.info.working_dir.is_empty() { "/".to_owned() } else { resolved.info.working_dir.clone() };
        let path_of = |script: Script| {
            scripts.get(script).map(|s| match &s.location {
                ScriptLocation::Image { path } => path.clone(),
                ScriptLocation::Shipped { .. } => scripts::join_unix(&workdir, &format!("scripts/{script}")),
            })
        };
        let user = options.assemble_runtime_user.clone().or_else(|| {
            resolved.info.labels.get(chained::ASSEMBLE_RUNTIME_USER_LABEL).filter(|u| !u.is_empty()).cloned()
        });
        Ok(RuntimeStage {
            assemble_runtime_path: path_of(Script::AssembleRuntime),
            run_command: path_of(Script::Run).into_iter().collect(),
            image: resolved,
            artifacts,
            scripts,
            user,
            workdir,
        })
    }

    async fn prepare_source(
        &self,
        source: &str,
        options: &BuildOptions,
        base_dir: &Path,
        workdir: &Path,
        cancelled: &Arc<AtomicBool>,
    ) -> Result<source::PreparedSource> {
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
            credentials: options.source_credentials.clone(),
            ..Default::default()
        };
        let shown = crate::git::source_without_credentials(source);
        let stage = StageTimer::start(self.events.as_ref(), Stage::FetchSource, &shown);
        let workdir = workdir.to_owned();
        let cancelled = cancelled.clone();
        let events = self.events.clone();
        let prepared = tokio::task::spawn_blocking(move || {
            let progress = |line: String| events.detail(line);
            source::prepare_source(&location, &source_options, &workdir, &cancelled, &progress)
        })
        .await
        .map_err(exec::join_error)??;
        stage.finish(self.events.as_ref());
        Ok(prepared)
    }

    /// The previous image of an incremental build, or `None` (with a warning) when there is none to use.
    async fn previous_image(
        &self,
        options: &BuildOptions,
        from: Option<String>,
        output: &Option<ImageReference>,
        scripts: &ResolvedScripts,
        destination: &str,
        assemble_user: Option<&str>,
    ) -> Option<PreviousImage> {
        let name = match (from, output) {
            (Some(from), _) => from,
            (None, Some(output)) => output.to_string(),
            (None, None) => {
                incremental::clean_build(self.events.as_ref(), "an incremental build needs a tag (the previous image)");
                return None;
            }
        };
        let Some(save_artifacts) = scripts.get(Script::SaveArtifacts) else {
            incremental::clean_build(self.events.as_ref(), "the builder has no save-artifacts script");
            return None;
        };
        let reference = match ImageReference::parse(&name) {
            Ok(r) => r,
            Err(e) => {
                incremental::clean_build(self.events.as_ref(), &e.to_string());
                return None;
            }
        };
        match self.obtain_image(&reference, options.incremental_pull_policy).await {
            Ok(previous) => Some(PreviousImage {
                name: previous.engine_name,
                id: previous.info.id.clone(),
                save_artifacts: save_artifacts.container_path(destination),
                user: assemble_user
                    .map(str::to_owned)
                    .or_else(|| Some(previous.info.user.clone()).filter(|u| !u.is_empty())),
            }),
            Err(e) => {
                incremental::clean_build(self.events.as_ref(), &format!("the previous image is not available: {e}"));
                None
            }
        }
    }

    async fn resolve_scripts(
        &self,
        required: &[Script],
        optional: &[Script],
        sources: ScriptSources,
    ) -> Result<ResolvedScripts> {
        let stage = StageTimer::start(self.events.as_ref(), Stage::InstallScripts, "scripts");
        let (required, optional) = (required.to_vec(), optional.to_vec());
        let scripts = tokio::task::spawn_blocking(move || scripts::resolve_scripts(&required, &optional, &sources))
            .await
            .map_err(exec::join_error)??;
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
        let stage = StageTimer::start(self.events.as_ref(), Stage::PullImage, &engine_name);
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
        retry(3, Duration::from_secs(2), transient, |_| self.runtime.pull_image(image, &progress)).await.map_err(|e| {
            let help = match e.kind {
                RuntimeErrorKind::Unauthorized => {
                    "log in to the registry (`docker login <registry>`), or check the credentials in ~/.docker/config.json"
                        .to_owned()
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

    /// `--network`: a built-in mode, an existing container for `container:NAME`, or an existing network.
    async fn check_network(&self, host: &HostOptions) -> Result<()> {
        let Some(network) = host.network_mode.as_deref() else { return Ok(()) };
        if matches!(network, "bridge" | "host" | "none" | "default") {
            return Ok(());
        }
        if let Some(container) = network.strip_prefix("container:") {
            let exists = self
                .runtime
                .container_exists(container)
                .await
                .map_err(|e| Error::runtime(format!("look up container {container}"), e))?;
            return if exists {
                Ok(())
            } else {
                Err(Error::option(
                    "--network",
                    format!("container {container:?} does not exist"),
                    "give a running container's name or ID after container:, or use bridge, host or none",
                ))
            };
        }
        let exists = self
            .runtime
            .network_exists(network)
            .await
            .map_err(|e| Error::runtime(format!("look up network {network}"), e))?;
        if exists {
            Ok(())
        } else {
            Err(Error::option(
                "--network",
                format!("network {network} not found"),
                format!("create it (`docker network create {network}`), or use bridge, host, none or container:NAME"),
            ))
        }
    }

    /// Run the plan: assemble in a builder container (falling back to the
    /// engine's archive upload when the builder lacks `tar` or `/bin/sh`, and
    /// to a clean build when the artifacts cannot be used), then commit.
    async fn execute(&self, plan: &BuildPlan, cleanup: &Cleanup) -> Result<BuildResult> {
        for var in &plan.env {
            self.events.debug(format!("Build environment: {}", env::redact(var)));
        }
        let mut use_artifacts = plan.incremental.is_some();
        let mut delivery = Delivery::Stdin;
        let assembled = loop {
            match self.assemble(plan, delivery, use_artifacts, cleanup).await {
                Ok(assembled) => break assembled,
                Err(AttemptError::Artifacts(e)) if use_artifacts => {
                    incremental::clean_build(
                        self.events.as_ref(),
                        &format!("error saving previous build artifacts: {e}"),
                    );
                    use_artifacts = false;
                }
                Err(AttemptError::MissingTool { shell }) if delivery == Delivery::Stdin => {
                    let what = if shell { "tar" } else { "/bin/sh" };
                    self.events.info(format!(
                        "The builder image has no {what}: the engine unpacks the source into it instead"
                    ));
                    delivery = Delivery::Upload { shell };
                }
                Err(AttemptError::MissingTool { .. }) => {
                    return Err(Error::option(
                        "builder image",
                        format!("{} cannot run assemble", plan.builder.name),
                        "the builder needs /bin/sh or an executable assemble",
                    ));
                }
                Err(AttemptError::Artifacts(e) | AttemptError::Fatal(e)) => return Err(e),
            }
        };
        let (image_id, labels) = match &plan.runtime {
            None => self.commit(plan, &assembled.container).await?,
            Some(runtime) => {
                let builder_labels = self.image_metadata(&assembled.container).await?;
                if let Some(stage) = &plan.builder_stage {
                    self.commit_builder_stage(plan, &assembled.container, stage).await?;
                }
                self.runtime_stage(plan, runtime, &assembled.container, builder_labels, cleanup).await?
            }
        };
        if let Some(previous) = plan.incremental.as_ref().filter(|_| plan.remove_previous_image) {
            // The save-artifacts container still uses the previous image.
            cleanup.run(self.runtime.as_ref(), self.events.as_ref()).await;
            if previous.id != image_id {
                match self.runtime.remove_image(&previous.id).await {
                    Ok(()) => self.events.info(format!("Removed the previous image {}", exec::short_id(&previous.id))),
                    Err(e) => self.events.warn(format!("Unable to remove previous image: {e}")),
                }
            }
        }
        Ok(BuildResult {
            image_id,
            tag: plan.output.as_ref().map(ToString::to_string),
            labels,
            workdir: None,
            archive: assembled.stats,
            incremental: use_artifacts,
            elapsed: Duration::ZERO,
        })
    }

    /// One attempt at running assemble.
    async fn assemble(
        &self,
        plan: &BuildPlan,
        delivery: Delivery,
        use_artifacts: bool,
        cleanup: &Cleanup,
    ) -> std::result::Result<Assembled, AttemptError> {
        let injecting = !plan.injections.is_empty();
        if injecting && delivery == (Delivery::Upload { shell: false }) {
            return Err(AttemptError::Fatal(Error::option(
                "--inject",
                format!("{} has no /bin/sh, which removing the injected files needs", plan.builder.name),
                "drop --inject, or use a builder image with /bin/sh",
            )));
        }
        let assemble = sh_quote(&plan.assemble_path);
        let mut script = match delivery {
            Delivery::Stdin => format!("tar -C {} -xf - && {assemble}", sh_quote(&plan.destination)),
            Delivery::Upload { .. } => assemble.clone(),
        };
        if injecting {
            script = format!(
                "if ! /bin/sh {s} check; then echo '{marker}' >&2; exit {code}; fi; {script}; s2i_status=$?; \
                 if ! /bin/sh {s} remove; then echo '{marker}' >&2; exit {code}; fi; exit $s2i_status",
                s = inject::REMOVAL_SCRIPT,
                marker = inject::REMOVAL_FAILED_MARKER,
                code = inject::REMOVAL_FAILED_EXIT,
            );
        }
        let (entrypoint, cmd) = match delivery {
            Delivery::Upload { shell: false } => (Vec::new(), vec![plan.assemble_path.clone()]),
            _ => (vec!["/bin/sh".to_owned(), "-c".to_owned()], vec![script]),
        };
        let spec = ContainerSpec {
            name: Some(exec::container_name(&plan.builder.name)),
            image: plan.builder.engine_name.clone(),
            entrypoint: Some(entrypoint),
            cmd,
            env: plan.env.iter().map(EnvVar::to_entry).collect(),
            user: plan.assemble_user.clone(),
            working_dir: None,
            stdin: delivery == Delivery::Stdin,
            labels: plan.container_labels.clone(),
            host: plan.host.clone(),
        };
        let container = exec::create_container(self.runtime.as_ref(), self.events.as_ref(), cleanup, &spec).await?;
        let owner = match delivery {
            Delivery::Stdin if !injecting => None,
            _ => Some(self.owner_in(&container, plan).await?),
        };
        if injecting {
            self.upload_injections(&container, plan, owner.unwrap_or((0, 0))).await?;
        }

        let artifacts = match plan.incremental.as_ref().filter(|_| use_artifacts) {
            Some(previous) => {
                let stage = StageTimer::start(self.events.as_ref(), Stage::SaveArtifacts, &previous.name);
                let input = incremental::start(
                    &self.runtime,
                    &self.events,
                    cleanup,
                    previous,
                    &plan.host,
                    &plan.container_labels,
                    plan.artifacts_timeout,
                )
                .await;
                stage.finish(self.events.as_ref());
                match input {
                    Ok(input) => Some(input),
                    Err(e) => {
                        cleanup.remove_now(self.runtime.as_ref(), self.events.as_ref(), &container).await;
                        return Err(AttemptError::Artifacts(e));
                    }
                }
            }
            None => None,
        };
        let mut extra = Vec::new();
        for source_image in &plan.source_images {
            extra.push(self.source_image_input(source_image, &plan.container_labels, cleanup).await?);
        }
        let archive = InputArchive {
            files: shipped_scripts(&plan.scripts),
            source: plan.source.as_ref().map(|s| SourceTree {
                root: s.prepared.root.clone(),
                filter: s.filter.clone(),
                follow_symlinks: s.prepared.follow_symlinks,
            }),
            artifacts,
            extra,
            owner: if delivery == Delivery::Stdin { None } else { owner },
            ..Default::default()
        };
        let (stream, producer) = exec::spawn_archive(self.events.clone(), archive);
        let stage = StageTimer::start(self.events.as_ref(), Stage::Assemble, &plan.builder.name);
        let secrets = proxy_secrets(&plan.env);
        let end = match delivery {
            Delivery::Stdin => {
                exec::run_attached(self.runtime.as_ref(), &self.events, &secrets, &container, Some(stream), "assemble")
                    .await
            }
            Delivery::Upload { .. } => {
                let upload = self.runtime.upload_archive(&container, &plan.destination, stream).await;
                if let Err(e) = upload {
                    let produced = exec::finish_producer(producer, false).await;
                    cleanup.remove_now(self.runtime.as_ref(), self.events.as_ref(), &container).await;
                    return Err(match produced {
                        Err(e @ Error::Artifacts { .. }) => AttemptError::Artifacts(e),
                        Err(e) => AttemptError::Fatal(e),
                        Ok(_) if e.is_not_found() => AttemptError::Fatal(Error::option(
                            "--destination",
                            format!("{} does not exist in {}", plan.destination, plan.builder.name),
                            "use a destination directory that exists in the builder image",
                        )),
                        Ok(_) => AttemptError::Fatal(Error::runtime("upload the source", e)),
                    });
                }
                exec::run_attached(self.runtime.as_ref(), &self.events, &secrets, &container, None, "assemble").await
            }
        };
        let end = match end {
            Ok(end) => end,
            Err(Error::Runtime { source, .. })
                if delivery == Delivery::Stdin && mentions_missing_shell(&source.message) =>
            {
                drop(producer);
                cleanup.remove_now(self.runtime.as_ref(), self.events.as_ref(), &container).await;
                return Err(AttemptError::MissingTool { shell: false });
            }
            Err(e) => return Err(AttemptError::Fatal(e)),
        };
        let container_ok = matches!(&end, RunEnd::Exited { status, .. } if status.code == 0);
        let produced = match delivery {
            Delivery::Stdin => exec::finish_producer(producer, container_ok).await,
            // The upload completed before the start, so the producer has finished.
            Delivery::Upload { .. } => exec::finish_producer(producer, true).await,
        };
        match end {
            RunEnd::FeedFailed => {
                cleanup.remove_now(self.runtime.as_ref(), self.events.as_ref(), &container).await;
                match produced {
                    Err(e @ Error::Artifacts { .. }) => Err(AttemptError::Artifacts(e)),
                    Err(e) => Err(AttemptError::Fatal(e)),
                    Ok(_) => Err(AttemptError::Fatal(Error::Io {
                        action: "stream the input archive to".into(),
                        path: PathBuf::from("assemble"),
                        help: "the build container stopped reading its input".into(),
                        source: std::io::Error::new(std::io::ErrorKind::BrokenPipe, "broken pipe"),
                    })),
                }
            }
            RunEnd::Exited { status, tail } => {
                if status.code == 127 && delivery == Delivery::Stdin && tail.iter().any(|l| mentions_missing_tar(l)) {
                    cleanup.remove_now(self.runtime.as_ref(), self.events.as_ref(), &container).await;
                    return Err(AttemptError::MissingTool { shell: true });
                }
                if injecting
                    && status.code == inject::REMOVAL_FAILED_EXIT
                    && tail.iter().any(|l| l.contains(inject::REMOVAL_FAILED_MARKER))
                {
                    let why = tail
                        .iter()
                        .rev()
                        .find(|l| l.starts_with("s2i: ") && !l.contains(inject::REMOVAL_FAILED_MARKER))
                        .or_else(|| tail.iter().rev().find(|l| l.contains("rm") || l.contains("rmdir")))
                        .cloned()
                        .unwrap_or_else(|| "the injected files could not be removed after assemble".to_owned());
                    return Err(AttemptError::Fatal(Error::option(
                        "--inject",
                        format!("{}; nothing was committed", why.trim_start_matches("s2i: ")),
                        "inject into a directory the assemble user can write (e.g. under /tmp or the WORKDIR), \
                         and do not let assemble put files into injected directories",
                    )));
                }
                if status.code != 0 {
                    if let Err(e @ Error::Artifacts { .. }) = produced {
                        return Err(AttemptError::Artifacts(e));
                    }
                    return Err(AttemptError::Fatal(exec::script_failed(
                        "assemble",
                        &plan.builder.name,
                        &status,
                        &tail,
                    )));
                }
                let stats = produced?;
                stage.finish(self.events.as_ref());
                Ok(Assembled { container, stats })
            }
        }
    }

    /// The numeric owner for files the engine unpacks into the build
    /// container: the assemble user (or the image's user), looked up in the
    /// image's `/etc/passwd` and `/etc/group` when named.
    async fn owner_in(&self, container: &str, plan: &BuildPlan) -> Result<(u64, u64)> {
        let user = plan.assemble_user.clone().unwrap_or_else(|| plan.builder.info.user.clone());
        self.owner_of(container, &user).await
    }

    /// The numeric owner of `user` in a container's image.
    async fn owner_of(&self, container: &str, user: &str) -> Result<(u64, u64)> {
        let user = user.to_owned();
        if let Some(owner) =
            inject::resolve_owner(&user, None, None).filter(|_| !user.contains(|c: char| c.is_alphabetic()))
        {
            return Ok(owner);
        }
        let passwd = self.read_small_file(container, "/etc/passwd").await?;
        let group = self.read_small_file(container, "/etc/group").await?;
        inject::resolve_owner(&user, passwd.as_deref(), group.as_deref()).ok_or_else(|| {
            Error::option(
                "--assemble-user",
                format!("user {user:?} is not in the builder image's /etc/passwd"),
                "use a numeric --assemble-user, or a builder image that defines the user",
            )
        })
    }

    /// A small text file of a container, or `None` when it does not exist.
    async fn read_small_file(&self, container: &str, path: &str) -> Result<Option<String>> {
        let Some(mut archive) = self
            .runtime
            .download_archive(container, path)
            .await
            .map_err(|e| Error::runtime(format!("read {path}"), e))?
        else {
            return Ok(None);
        };
        let mut data = Vec::new();
        while let Some(chunk) = archive.next().await {
            let chunk = chunk.map_err(|e| Error::io("read", path, "check the engine", e))?;
            data.extend_from_slice(&chunk);
            if data.len() > 4 * 1024 * 1024 {
                return Ok(None);
            }
        }
        let mut tar = tar::Archive::new(data.as_slice());
        let mut entries = tar.entries().map_err(|e| Error::io("read", path, "check the engine", e))?;
        let Some(entry) = entries.next() else { return Ok(None) };
        let mut entry = entry.map_err(|e| Error::io("read", path, "check the engine", e))?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut entry, &mut text)
            .map_err(|e| Error::io("read", path, "check the engine", e))?;
        Ok(Some(text))
    }

    /// Upload the injected files, the directories made for them, and the script that removes them.
    async fn upload_injections(&self, container: &str, plan: &BuildPlan, owner: (u64, u64)) -> Result<()> {
        let upload = inject::plan_upload(self.runtime.as_ref(), container, &plan.injections).await?;
        for inj in &plan.injections {
            self.events.detail(format!("Injecting {} into {}", inj.source.display(), inj.destination));
        }
        upload.notes.iter().for_each(|note| self.events.info(note));
        let (stream, producer) = crate::archive::spawn_producer(move |writer| {
            let mut tar = tar::Builder::new(writer);
            let header = |kind: tar::EntryType, mode: u32, size: u64| {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(kind);
                h.set_mode(mode);
                h.set_size(size);
                h.set_uid(owner.0);
                h.set_gid(owner.1);
                h
            };
            let io =
                |e: std::io::Error| Error::io("write the injections for", "the build container", "check the files", e);
            for dir in &upload.new_dirs {
                tar.append_data(&mut header(tar::EntryType::Directory, 0o755, 0), format!("{dir}/"), std::io::empty())
                    .map_err(io)?;
            }
            for (path, host) in &upload.files {
                let file = std::fs::File::open(host)
                    .map_err(|e| Error::io("read the injection", host, "make it readable", e))?;
                let size = file.metadata().map_err(io)?.len();
                tar.append_data(&mut header(tar::EntryType::Regular, 0o600, size), path, file).map_err(io)?;
            }
            let script = upload.removal_script.as_bytes();
            let removal = inject::REMOVAL_SCRIPT.trim_start_matches('/');
            tar.append_data(&mut header(tar::EntryType::Regular, 0o700, script.len() as u64), removal, script)
                .map_err(io)?;
            tar.finish().map_err(io)
        });
        let uploaded = self.runtime.upload_archive(container, "/", stream).await;
        let produced = exec::finish_producer(producer, uploaded.is_ok()).await;
        produced?;
        uploaded.map_err(|e| Error::runtime("upload the injected files", e))
    }

    /// A path of a source image as a tar input under `src/`.
    async fn source_image_input(
        &self,
        source_image: &PlannedSourceImage,
        labels: &BTreeMap<String, String>,
        cleanup: &Cleanup,
    ) -> Result<TarInput> {
        let what = format!("{}:{}", source_image.image.name, source_image.path);
        let spec = ContainerSpec {
            name: Some(exec::container_name(&source_image.image.name)),
            image: source_image.image.info.id.clone(),
            labels: labels.clone(),
            // Never started: the command only has to exist for the engine to create it.
            entrypoint: Some(Vec::new()),
            cmd: vec!["true".to_owned()],
            ..Default::default()
        };
        let container = exec::create_container(self.runtime.as_ref(), self.events.as_ref(), cleanup, &spec).await?;
        let stream = self
            .runtime
            .download_archive(&container, &source_image.path)
            .await
            .map_err(|e| Error::runtime(format!("read {what}"), e))?
            .ok_or_else(|| Error::Copy { what: what.clone(), message: "there is no such path in the image".into() })?;
        self.events.detail(format!("Copying {what} into the source at {}", source_image.destination));
        let prefix = if source_image.destination == "." {
            "src".to_owned()
        } else {
            format!("src/{}", source_image.destination)
        };
        Ok(TarInput { reader: bridge(stream), finished: Box::new(|| Ok(())), prefix, normalize_modes: false, what })
    }

    /// Keep the builder stage of an incremental chained build for the next build.
    async fn commit_builder_stage(&self, plan: &BuildPlan, container: &str, stage: &str) -> Result<()> {
        let reference = parse_image("builder stage", stage)?;
        let mut labels = plan.builder.info.labels.clone();
        labels.insert("io.openshift.s2i.build.stage".into(), "builder".into());
        let commit = CommitSpec {
            repository: Some(reference.name()),
            tag: Some(reference.tag_or_default().to_owned()),
            cmd: plan.run_command.clone(),
            entrypoint: plan.output_entrypoint.clone(),
            env: plan.env.iter().map(EnvVar::to_entry).collect(),
            user: plan.output_user.clone(),
            labels,
        };
        let id = self
            .runtime
            .commit_container(container, &commit)
            .await
            .map_err(|e| Error::runtime(format!("commit the builder stage {stage}"), e))?;
        self.events.info(format!(
            "Kept the builder stage as {stage} ({}) for the next incremental build",
            exec::short_id(&id)
        ));
        Ok(())
    }

    /// The runtime stage: copy the artifacts from the builder container into a
    /// container of the runtime image, run assemble-runtime there, commit it.
    async fn runtime_stage(
        &self,
        plan: &BuildPlan,
        runtime: &RuntimeStage,
        builder_container: &str,
        builder_labels: BTreeMap<String, String>,
        cleanup: &Cleanup,
    ) -> Result<(String, BTreeMap<String, String>)> {
        let image = &runtime.image;
        let spec = ContainerSpec {
            name: Some(exec::container_name(&image.name)),
            image: image.engine_name.clone(),
            entrypoint: Some(Vec::new()),
            // Started only when there is an assemble-runtime; the engine wants a command either way.
            cmd: vec![
                runtime
                    .assemble_runtime_path
                    .clone()
                    .or_else(|| runtime.run_command.first().cloned())
                    .unwrap_or_else(|| "true".to_owned()),
            ],
            env: plan.env.iter().map(EnvVar::to_entry).collect(),
            user: runtime.user.clone(),
            labels: plan.container_labels.clone(),
            // Build-cache mounts are for the builder; the rest applies to every build container.
            host: HostOptions { binds: Vec::new(), ..plan.host.clone() },
            ..Default::default()
        };
        let container = exec::create_container(self.runtime.as_ref(), self.events.as_ref(), cleanup, &spec).await?;
        let user = runtime.user.clone().unwrap_or_else(|| image.info.user.clone());
        let owner = self.owner_of(&container, &user).await?;

        let mut extra = Vec::new();
        for mapping in &runtime.artifacts {
            let what = format!("runtime artifact {}", mapping.source);
            let stream = self
                .runtime
                .download_archive(builder_container, &mapping.source)
                .await
                .map_err(|e| Error::runtime(format!("read {what}"), e))?
                .ok_or_else(|| Error::Copy {
                    what: what.clone(),
                    message: "it does not exist in the builder container after assemble".into(),
                })?;
            let prefix = if mapping.destination == "." { String::new() } else { mapping.destination.clone() };
            extra.push(TarInput {
                reader: bridge(stream),
                finished: Box::new(|| Ok(())),
                prefix,
                normalize_modes: true,
                what,
            });
        }
        let archive = InputArchive {
            dirs: Vec::new(),
            files: shipped_scripts(&runtime.scripts),
            source: None,
            source_dir: String::new(),
            extra,
            owner: Some(owner),
            ..Default::default()
        };
        let stage = StageTimer::start(self.events.as_ref(), Stage::AssembleRuntime, &image.name);
        self.events.info(format!(
            "Copying {} from the builder into {} at {}",
            runtime.artifacts.iter().map(|m| m.source.as_str()).collect::<Vec<_>>().join(", "),
            image.name,
            runtime.workdir
        ));
        let (stream, producer) = exec::spawn_archive(self.events.clone(), archive);
        let uploaded = self.runtime.upload_archive(&container, &runtime.workdir, stream).await;
        let produced = exec::finish_producer(producer, uploaded.is_ok()).await;
        produced?;
        uploaded.map_err(|e| Error::runtime(format!("copy the artifacts into {}", image.name), e))?;
        if runtime.assemble_runtime_path.is_some() {
            let secrets = proxy_secrets(&plan.env);
            let end =
                exec::run_attached(self.runtime.as_ref(), &self.events, &secrets, &container, None, "assemble-runtime")
                    .await?;
            if let RunEnd::Exited { status, tail } = end
                && status.code != 0
            {
                return Err(exec::script_failed("assemble-runtime", &image.name, &status, &tail));
            }
        }
        stage.finish(self.events.as_ref());

        let display = plan.output.as_ref().map_or_else(|| "(untagged)".to_owned(), ToString::to_string);
        let commit_stage = StageTimer::start(self.events.as_ref(), Stage::Commit, &display);
        let mut labels = plan.labels.clone();
        labels.extend(builder_labels);
        if runtime.assemble_runtime_path.is_some() {
            labels.extend(self.image_metadata(&container).await?);
        }
        labels::check_size(&display, &labels)?;
        let output_user =
            if image.info.user.is_empty() && runtime.user.is_some() { "0".to_owned() } else { image.info.user.clone() };
        let commit = CommitSpec {
            repository: plan.output.as_ref().map(ImageReference::name),
            tag: plan.output.as_ref().map(|o| o.tag_or_default().to_owned()),
            cmd: runtime.run_command.clone(),
            entrypoint: image.info.entrypoint.clone(),
            env: plan.env.iter().map(EnvVar::to_entry).collect(),
            user: output_user,
            labels: labels.clone(),
        };
        let image_id = self
            .runtime
            .commit_container(&container, &commit)
            .await
            .map_err(|e| Error::runtime(format!("commit {display}"), e))?;
        commit_stage.finish(self.events.as_ref());
        Ok((image_id, labels))
    }

    /// Commit the assembled container as the output image.
    async fn commit(&self, plan: &BuildPlan, container: &str) -> Result<(String, BTreeMap<String, String>)> {
        let display = plan.output.as_ref().map_or_else(|| "(untagged)".to_owned(), ToString::to_string);
        let stage = StageTimer::start(self.events.as_ref(), Stage::Commit, &display);
        let mut labels = plan.labels.clone();
        labels.extend(self.image_metadata(container).await?);
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
            .commit_container(container, &commit)
            .await
            .map_err(|e| Error::runtime(format!("commit {display}"), e))?;
        stage.finish(self.events.as_ref());
        Ok((image_id, labels))
    }

    /// Labels assemble wrote to `/tmp/.s2i/image_metadata.json`, if it did.
    async fn image_metadata(&self, container: &str) -> Result<BTreeMap<String, String>> {
        let Some(text) = self.read_small_file(container, IMAGE_METADATA_PATH).await? else {
            return Ok(BTreeMap::new());
        };
        let labels = labels::parse_image_metadata(text.as_bytes())?;
        if !labels.is_empty() {
            self.events.detail(format!(
                "Labels from {IMAGE_METADATA_PATH}: {}",
                labels.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        Ok(labels)
    }

    /// Build a builder with `ONBUILD` triggers: an image build of a generated Dockerfile.
    async fn execute_onbuild(&self, plan: &BuildPlan) -> Result<BuildResult> {
        let context = onbuild::context(plan)?;
        let (stream, producer) = exec::spawn_archive(self.events.clone(), context);
        let stage = StageTimer::start(self.events.as_ref(), Stage::Assemble, &plan.builder.name);
        let labels = onbuild::labels(plan);
        let spec = ImageBuildSpec {
            tag: plan.output.as_ref().map(ToString::to_string),
            dockerfile: "Dockerfile".into(),
            labels: labels.clone(),
            network_mode: plan.host.network_mode.clone(),
            limits: plan.host.limits.clone(),
        };
        let events = self.events.clone();
        let output = move |line: String| {
            events.emit(BuildEvent::Output { kind: crate::runtime::OutputKind::Stdout, line });
        };
        let built = self.runtime.build_image(stream, &spec, &output).await;
        let stats = exec::finish_producer(producer, built.is_ok()).await;
        let image_id = built.map_err(|e| Error::ScriptFailed {
            script: "the ONBUILD image build".into(),
            code: 1,
            image: plan.builder.name.clone(),
            oom_killed: false,
            help: format!("the engine says: {}\nfix the source or the builder's ONBUILD triggers", e.message),
        })?;
        let stats = stats?;
        stage.finish(self.events.as_ref());
        let mut all_labels = plan.builder.info.labels.clone();
        all_labels.extend(labels);
        Ok(BuildResult {
            image_id,
            tag: plan.output.as_ref().map(ToString::to_string),
            labels: all_labels,
            workdir: None,
            archive: stats,
            incremental: false,
            elapsed: Duration::ZERO,
        })
    }

    /// POST the outcome to `url` as JSON; retried on transport errors with the same body.
    async fn callback(&self, url: &str, result: &Result<BuildResult>) {
        #[derive(Serialize)]
        struct Body<'a> {
            success: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            labels: Option<&'a BTreeMap<String, String>>,
        }
        let body = match result {
            Ok(r) => Body { success: true, labels: Some(&r.labels).filter(|l| !l.is_empty()) },
            Err(_) => Body { success: false, labels: None },
        };
        let body = serde_json::to_vec(&body).expect("the callback body serialises");
        let url = url.to_owned();
        let attempt = |_| {
            let (url, body) = (url.clone(), body.clone());
            async move {
                tokio::task::spawn_blocking(move || post_json(&url, &body))
                    .await
                    .unwrap_or_else(|e| Err(CallbackError::Transport(e.to_string())))
            }
        };
        let transient = |e: &CallbackError| matches!(e, CallbackError::Transport(_));
        match retry(3, Duration::from_secs(1), transient, attempt).await {
            Ok(()) => self.events.detail(format!("Posted the build result to {url}")),
            Err(CallbackError::Transport(e)) => self.events.warn(format!("callback to {url} failed: {e}")),
            Err(CallbackError::Status(code)) => self.events.warn(format!("callback to {url} answered HTTP {code}")),
        }
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
        options.allowed_uids.check_image(&builder.name, &builder.info, options.assemble_user.as_deref())?;
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
            name: Some(exec::container_name(&builder.name)),
            image: builder.engine_name.clone(),
            entrypoint: Some(vec!["/bin/sh".into(), "-c".into()]),
            cmd: vec![format!("tar -C {} -xf - && {}", sh_quote(&destination), sh_quote(&usage))],
            env: env::dedupe(&options.env).iter().map(EnvVar::to_entry).collect(),
            user: options.assemble_user.clone().filter(|u| !u.is_empty()),
            stdin: true,
            ..Default::default()
        };
        let container = exec::create_container(self.runtime.as_ref(), self.events.as_ref(), cleanup, &spec).await?;
        let archive = InputArchive { files: shipped_scripts(&scripts), ..Default::default() };
        let (stream, producer) = exec::spawn_archive(self.events.clone(), archive);
        let end =
            exec::run_attached(self.runtime.as_ref(), &self.events, &[], &container, Some(stream), "usage").await?;
        let ok = matches!(&end, RunEnd::Exited { status, .. } if status.code == 0);
        let produced = exec::finish_producer(producer, ok).await;
        match end {
            RunEnd::Exited { status, tail } if status.code != 0 => {
                Err(exec::script_failed("usage", &builder.name, &status, &tail))
            }
            _ => produced.map(|_| ()),
        }
    }

    /// Run an image (`s2i build --run`): publish its ports, relay its output,
    /// wait until it exits or `cancel` fires, then remove the container.
    /// Returns its exit code (`None` when cancelled).
    pub async fn run_image(&self, image: &str, host: &HostOptions, cancel: &CancellationToken) -> Result<Option<i64>> {
        let cleanup = Cleanup::default();
        let spec = ContainerSpec {
            name: Some(exec::container_name(&format!("run_{image}"))),
            image: image.to_owned(),
            host: HostOptions {
                publish_all_ports: true,
                network_mode: host.network_mode.clone(),
                ..Default::default()
            },
            ..Default::default()
        };
        let result = tokio::select! {
            biased;
            _ = cancel.cancelled() => Ok(None),
            result = async {
                let container = exec::create_container(self.runtime.as_ref(), self.events.as_ref(), &cleanup, &spec).await?;
                self.events.info(format!("Running {image} as container {} (Ctrl-C stops it)", spec.name.as_deref().unwrap_or(&container)));
                match exec::run_attached(self.runtime.as_ref(), &self.events, &[], &container, None, "the image").await? {
                    RunEnd::Exited { status, .. } => Ok(Some(status.code)),
                    RunEnd::FeedFailed => Ok(None),
                }
            } => result,
        };
        cleanup.run(self.runtime.as_ref(), self.events.as_ref()).await;
        result
    }

    /// Run a command in a new container of `spec.image` (a build hook, e.g. a
    /// BuildConfig's `postCommit`): relay its output as [`BuildEvent::Output`]
    /// lines, wait for it, and remove the container whatever happens.
    /// Returns how it ended; `Err(Error::Cancelled)` when `cancel` fired.
    pub async fn run_command(
        &self,
        spec: &ContainerSpec,
        cancel: &CancellationToken,
    ) -> Result<crate::runtime::ExitStatus> {
        let cleanup = Cleanup::default();
        let mut spec = spec.clone();
        if spec.name.is_none() {
            spec.name = Some(exec::container_name(&format!("hook_{}", exec::short_id(&spec.image))));
        }
        spec.stdin = false;
        let result = tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(Error::Cancelled),
            result = async {
                let container = exec::create_container(self.runtime.as_ref(), self.events.as_ref(), &cleanup, &spec).await?;
                match exec::run_attached(self.runtime.as_ref(), &self.events, &[], &container, None, "the command").await? {
                    RunEnd::Exited { status, .. } => Ok(status),
                    // Nothing is fed to its stdin, so this does not happen; report it as what it would be.
                    RunEnd::FeedFailed => Err(Error::runtime(
                        "run the command",
                        crate::runtime::RuntimeError::new(RuntimeErrorKind::Other, "its input stream failed"),
                    )),
                }
            } => result,
        };
        cleanup.run(self.runtime.as_ref(), self.events.as_ref()).await;
        result
    }

    /// `s2i rebuild`: the options that rebuild `image` from its build labels.
    /// The image is obtained by `pull_policy` and checked against `allowed_uids`.
    pub async fn rebuild_options(
        &self,
        image: &str,
        pull_policy: PullPolicy,
        allowed_uids: &AllowedUids,
    ) -> Result<BuildOptions> {
        let reference = parse_image("image", image)?;
        let resolved = self.obtain_image(&reference, pull_policy).await?;
        allowed_uids.check_image(&resolved.name, &resolved.info, None)?;
        let labels = &resolved.info.labels;
        let label = |key: &str| labels.get(key).filter(|v| !v.is_empty()).cloned();
        let required = |key: &str| {
            label(key).ok_or_else(|| {
                Error::option(
                    "image",
                    format!("required label {key:?} not found in image {image}"),
                    "rebuild works on images built by s2i; build this one with `s2i build` instead",
                )
            })
        };
        let builder = required("io.openshift.s2i.build.image")?;
        let source = required("io.openshift.s2i.build.source-location")?;
        let mut options = BuildOptions::new(Some(source), builder);
        options.tag = Some(reference.to_string());
        options.context_dir = label("io.openshift.s2i.build.source-context-dir");
        options.git_ref = label("io.openshift.s2i.build.commit.ref").filter(|r| r != "HEAD");
        if options.git_ref.is_none() {
            options.git_ref = label("io.openshift.s2i.build.commit.id");
        }
        options.description = label(labels::DESCRIPTION_LABEL);
        options.display_name = label(labels::DISPLAY_NAME_LABEL);
        options.pull_policy = pull_policy;
        options.allowed_uids = allowed_uids.clone();
        Ok(options)
    }
}

/// Failure of a callback POST.
enum CallbackError {
    /// The request did not get an answer (retried).
    Transport(String),
    /// The server answered with this status (not retried).
    Status(u16),
}

fn post_json(url: &str, body: &[u8]) -> std::result::Result<(), CallbackError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body)
        .map_err(|e| CallbackError::Transport(e.to_string()))?;
    match response.status().as_u16() {
        code if code < 300 => Ok(()),
        code => Err(CallbackError::Status(code)),
    }
}

/// A byte stream as a blocking reader, for the archive writer's thread.
fn bridge(stream: crate::runtime::ByteStream) -> Box<dyn std::io::Read + Send> {
    Box::new(tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream)))
}

/// Secrets to mask in output: the userinfo of URLs in `*proxy*` variables.
fn proxy_secrets(env: &[EnvVar]) -> Vec<String> {
    env.iter()
        .filter(|v| v.name.to_ascii_lowercase().contains("proxy"))
        .flat_map(|v| {
            v.value
                .split([',', ' '])
                .filter_map(|url| {
                    let rest = url.split_once("://")?.1;
                    let authority = rest.split(['/', '?', '#']).next()?;
                    authority.rsplit_once('@').map(|(userinfo, _)| userinfo.to_owned())
                })
                .filter(|u| !u.is_empty())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn mentions_missing_shell(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("/bin/sh") && (lower.contains("no such file") || lower.contains("not found"))
}

fn mentions_missing_tar(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    lower.contains("tar") && (lower.contains("not found") || lower.contains("no such file"))
}

/// Check `-v`, `--add-host` and `--cap-drop` values before any container exists.
fn validate_host_options(host: &HostOptions) -> Result<()> {
    for bind in &host.binds {
        let parts: Vec<&str> = bind.split(':').collect();
        let valid_opts = |opts: &str| {
            opts.split(',').all(|o| {
                matches!(
                    o,
                    "ro" | "rw"
                        | "z"
                        | "Z"
                        | "shared"
                        | "rshared"
                        | "slave"
                        | "rslave"
                        | "private"
                        | "rprivate"
                        | "nocopy"
                        | "delegated"
                        | "cached"
                        | "consistent"
                )
            })
        };
        let ok = match parts.as_slice() {
            [src, dst] => !src.is_empty() && dst.starts_with('/'),
            [src, dst, opts] => !src.is_empty() && dst.starts_with('/') && valid_opts(opts),
            _ => false,
        };
        if !ok {
            return Err(Error::option(
                "--volume",
                format!("{bind:?} is not SOURCE:/CONTAINER/PATH[:OPTIONS]"),
                "e.g. -v /host/cache:/opt/cache:ro or -v cache-volume:/opt/cache",
            ));
        }
    }
    for entry in &host.extra_hosts {
        let ok = entry.split_once(':').is_some_and(|(name, ip)| {
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
                && (ip == "host-gateway" || ip.parse::<IpAddr>().is_ok())
        });
        if !ok {
            return Err(Error::option(
                "--add-host",
                format!("{entry:?} is not HOST:IP"),
                "e.g. --add-host registry.local:10.0.0.5",
            ));
        }
    }
    for cap in &host.cap_drop {
        if cap.is_empty() || !cap.chars().all(|c| c.is_ascii_alphabetic() || c == '_') {
            return Err(Error::option(
                "--cap-drop",
                format!("{cap:?} is not a capability name"),
                "give capability names such as NET_RAW or ALL",
            ));
        }
    }
    Ok(())
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
    let mut value = serde_json::to_value(plan).expect("plans serialise");
    // Proxy credentials never reach the disk in clear.
    if let Some(env) = value.get_mut("env").and_then(|e| e.as_array_mut()) {
        for (entry, var) in env.iter_mut().zip(&plan.env) {
            if let Some((_, value)) = env::redact(var).split_once('=') {
                entry["value"] = serde_json::Value::String(value.to_owned());
            }
        }
    }
    let text = serde_json::to_vec_pretty(&value).expect("plans serialise");
    std::fs::write(&path, text).map_err(|e| Error::io("write", &path, "check the temp directory", e))?;
    for script in shipped_scripts(&plan.scripts) {
        let path = workdir.join(&script.path);
        let write = std::fs::create_dir_all(path.parent().expect("scripts/ parent"))
            .and_then(|()| std::fs::write(&path, &script.contents));
        write.map_err(|e| Error::io("write", &path, "check the temp directory", e))?;
    }
    Ok(())
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
    fn host_options_are_validated() {
        let host = |f: fn(&mut HostOptions)| {
            let mut h = HostOptions::default();
            f(&mut h);
            validate_host_options(&h)
        };
        assert!(host(|h| h.binds = vec!["/a:/b".into(), "vol:/c:ro,z".into()]).is_ok());
        assert!(host(|h| h.binds = vec!["/a".into()]).is_err());
        assert!(host(|h| h.binds = vec!["/a:relative".into()]).is_err());
        assert!(host(|h| h.binds = vec!["/a:/b:bogus".into()]).is_err());
        assert!(
            host(|h| h.extra_hosts = vec!["db:10.0.0.1".into(), "v6:::1".into(), "gw:host-gateway".into()]).is_ok()
        );
        assert!(host(|h| h.extra_hosts = vec!["db".into()]).is_err());
        assert!(host(|h| h.extra_hosts = vec!["db:notanip".into()]).is_err());
        assert!(host(|h| h.cap_drop = vec!["NET_RAW".into(), "all".into()]).is_ok());
        assert!(host(|h| h.cap_drop = vec!["NET RAW".into()]).is_err());
    }

    #[test]
    fn proxy_secrets_are_collected() {
        let env = vec![
            EnvVar { name: "HTTP_PROXY".into(), value: "http://u:p@proxy:3128".into() },
            EnvVar { name: "no_proxy".into(), value: "localhost".into() },
            EnvVar { name: "TOKEN".into(), value: "http://a:b@x".into() },
        ];
        assert_eq!(proxy_secrets(&env), vec!["u:p".to_owned()]);
    }

    #[test]
    fn missing_tools_are_recognised() {
        assert!(mentions_missing_tar("/bin/sh: 1: tar: not found"));
        assert!(mentions_missing_tar("sh: tar: command not found"));
        assert!(mentions_missing_shell(
            "OCI runtime create failed: exec: \"/bin/sh\": stat /bin/sh: no such file or directory"
        ));
        assert!(!mentions_missing_shell("permission denied"));
    }
}
