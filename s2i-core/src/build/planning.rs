//! Planning a build: `Engine::plan` turns [`BuildOptions`] into a
//! [`BuildPlan`] — options checked, builder image obtained, strategy
//! chosen, source prepared, `.s2iignore` and `.s2i/environment` read, scripts
//! resolved, destination, users, environment and labels computed, the
//! previous image of an incremental build found — before any container runs.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::host::validate_host_options;
use super::{BuildOptions, DEFAULT_DESTINATION, DEPRECATED_DESTINATION_LABEL, DESTINATION_LABEL, Engine, parse_image};
use crate::chained::{self, PlannedSourceImage};
use crate::env;
use crate::error::{Error, Result};
use crate::events::{EventSink, EventSinkExt, Stage};
use crate::exec::{self, StageTimer};
use crate::ignore::{ExcludePattern, IgnoreRules, SourceFilter};
use crate::incremental::{self, PreviousImage};
use crate::inject;
use crate::labels::{self, LabelInputs};
use crate::plan::{BuildPlan, PlannedSource, Strategy};
use crate::reference::ImageReference;
use crate::runtime::ImageInfo;
use crate::scripts::{self, ResolvedScripts, Script, ScriptSources};
use crate::source::{self, SourceLocation, SourceOptions};
use crate::users::ASSEMBLE_USER_LABEL;

impl Engine {
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
        super::push::check_push_options(options)?;
        if options.assemble_user.as_deref().is_some_and(|u| u.trim().is_empty()) {
            return Err(Error::option("--assemble-user", "the user is empty", "give a user name or uid"));
        }
        validate_host_options(&options.host)?;
        let exclude = ExcludePattern::new(&options.exclude)?;
        let base_dir = match &options.working_dir {
            Some(dir) => dir.clone(),
            None => std::env::current_dir().map_err(|e| {
                Error::io(
                    "read the current directory",
                    ".",
                    "start from a directory that exists, or give the build a working directory",
                    e,
                )
            })?,
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

        let builder =
            self.obtain_image_with(&builder_ref, options.pull_policy, options.pull_credentials.as_ref()).await?;
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
        if strategy == Strategy::OnBuild && !options.injections.is_empty() {
            return Err(Error::option(
                "--inject",
                format!(
                    "{} uses ONBUILD triggers, which build with a Dockerfile, not an assemble container",
                    builder.name
                ),
                "drop the option, or use a builder image without ONBUILD triggers",
            ));
        }
        if strategy == Strategy::OnBuild && options.incremental {
            // As the reference and OpenShift do: the build goes on, clean.
            self.events.warn("incremental builds are not supported for ONBUILD builder images; building clean");
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
            let image =
                self.obtain_image_with(&reference, options.pull_policy, options.pull_credentials.as_ref()).await?;
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
        let image = self.plan_image(options, &builder, strategy, &source_info, output.as_ref(), &base_dir)?;
        // A reproducible image does not record where on this machine the source was.
        let mut label_source = source_info.clone();
        if image.as_ref().is_some_and(|i| i.epoch.is_some())
            && super::reproducible::is_local_location(&source_info.location)
        {
            label_source.location.clear();
        }
        let display_name = options.display_name.clone().or_else(|| options.tag.clone());
        // The output image is the runtime image's when chained, so its labels are the base.
        let mut labels = runtime.as_ref().map_or_else(|| builder.info.labels.clone(), |r| r.image.info.labels.clone());
        labels.extend(labels::generated_labels(&LabelInputs {
            description: options.description.as_deref(),
            display_name: display_name.as_deref(),
            builder_image: &builder.canonical,
            source: &label_source,
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
            image,
            workdir: workdir.to_owned(),
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
        match self
            .obtain_image_with(&reference, options.incremental_pull_policy, options.pull_credentials.as_ref())
            .await
        {
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
}

/// DEST from the image: label, deprecated label, deprecated env, else `/tmp`.
pub(crate) fn image_destination(image: &ImageInfo, events: &dyn EventSink) -> String {
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

/// `--destination` must be absolute: it is a directory in the builder image.
pub(crate) fn check_destination(dest: &str) -> Result<()> {
    if !dest.starts_with('/') {
        return Err(Error::option(
            "--destination",
            format!("{dest:?} is not an absolute path"),
            "give an absolute directory in the builder image, e.g. /tmp",
        ));
    }
    Ok(())
}
