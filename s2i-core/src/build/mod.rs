//! Running a build: options in, plan made, plan executed on a [`ContainerRuntime`].

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::archive::ArchiveFile;
use crate::chained::{self, PlannedSourceImage};
use crate::env::{self, EnvVar};
use crate::error::{Error, Result};
use crate::events::{BuildEvent, EventSink, EventSinkExt, Stage};
use crate::exec::{self, Cleanup, StageTimer, Workdir};
use crate::ignore::{ExcludePattern, IgnoreRules, SourceFilter};
use crate::incremental::{self, PreviousImage};
use crate::inject;
use crate::labels::{self, LabelInputs, SourceInfo};
use crate::plan::{BuildPlan, PlannedSource, ResolvedImage, Strategy};
use crate::reference::ImageReference;
use crate::retry::retry;
use crate::runtime::{ContainerRuntime, HostOptions, ImageInfo, RuntimeErrorKind};
use crate::scripts::{self, ResolvedScripts, Script, ScriptLocation, ScriptSources};
use crate::source::{self, SourceLocation, SourceOptions};
use crate::users::ASSEMBLE_USER_LABEL;

mod assemble;
mod callback;
mod commit;
mod options;
mod rebuild;
mod run;

pub use options::{
    BuildOptions, BuildResult, DEFAULT_ARTIFACTS_TIMEOUT, DEFAULT_DESTINATION, DEPRECATED_DESTINATION_LABEL,
    DESTINATION_LABEL, PullPolicy, UsageOptions,
};

/// The build engine: runs builds on a container runtime and reports to an event sink.
#[derive(Clone)]
pub struct Engine {
    pub(crate) runtime: Arc<dyn ContainerRuntime>,
    pub(crate) events: Arc<dyn EventSink>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
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
        };
        let stage = StageTimer::start(self.events.as_ref(), Stage::FetchSource, source);
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

    pub(crate) async fn resolve_scripts(
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
}

/// Secrets to mask in output: the userinfo of URLs in `*proxy*` variables.
pub(crate) fn proxy_secrets(env: &[EnvVar]) -> Vec<String> {
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

pub(crate) fn shipped_scripts(scripts: &ResolvedScripts) -> Vec<ArchiveFile> {
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

pub(crate) fn parse_image(what: &str, name: &str) -> Result<ImageReference> {
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
}
