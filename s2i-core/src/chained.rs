//! Chained builds: the toolchain stays in the builder image, and the image
//! that ships is a slim runtime image that receives only the built artifacts.
//!
//! - In one invocation (`--runtime-image`, the reference's "extended build"):
//!   assemble runs in the builder; the paths named by `-a/--runtime-artifact`
//!   (or the runtime image's `io.openshift.s2i.assemble-input-files` label)
//!   flow from the stopped builder container into a container of the runtime
//!   image as one tar stream; its `assemble-runtime` runs; that container is
//!   committed.
//! - In two invocations (`--source-image IMAGE:/PATH[:DIR]`, like a
//!   BuildConfig's `source.images`): a path of an image is copied into the
//!   build's source tree before assemble.
//!
//! This module holds the types and their validation, and the engine's side
//! of both modes: planning the runtime stage (`Engine::plan_runtime`), the
//! source image inputs, the kept builder stage of incremental chained builds
//! and the runtime stage itself.
//!
//! # Example
//!
//! Both modes from the library: a toolchain builder with a runtime image in
//! one build, then the same result in two builds chained through an image.
//!
//! ```no_run
//! use std::sync::Arc;
//! use s2i_core::chained::{ArtifactMapping, SourceImage};
//! use s2i_core::{BuildOptions, CancellationToken, ContainerRuntime, Engine, NoEvents};
//!
//! async fn chain(runtime: Arc<dyn ContainerRuntime>) -> Result<(), s2i_core::Error> {
//!     let engine = Engine::new(runtime, Arc::new(NoEvents));
//!     let cancel = CancellationToken::new();
//!
//!     // One invocation: the WAR built by Maven goes into a Tomcat image.
//!     let mut one = BuildOptions::new(Some("./app".into()), "builders/maven:3");
//!     one.tag = Some("app:latest".into());
//!     one.runtime_image = Some("runtimes/tomcat:10".into());
//!     one.runtime_artifacts = vec![ArtifactMapping {
//!         source: "/opt/app/target/app.war".into(),
//!         destination: "webapps".into(),
//!     }];
//!     engine.build(&one, &cancel).await?;
//!
//!     // Two invocations: build the artifact image, then copy the WAR out of it.
//!     let mut artifact = BuildOptions::new(Some("./app".into()), "builders/maven:3");
//!     artifact.tag = Some("app-artifact:latest".into());
//!     engine.build(&artifact, &cancel).await?;
//!     let mut app = BuildOptions::new(None, "builders/tomcat:10");
//!     app.tag = Some("app:latest".into());
//!     app.source_images = vec![SourceImage::parse("app-artifact:latest:/opt/app/target/app.war")?];
//!     engine.build(&app, &cancel).await?;
//!     Ok(())
//! }
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::archive::{InputArchive, TarInput};
use crate::build::{BuildOptions, Engine, parse_image, proxy_secrets, shipped_scripts};
use crate::env::EnvVar;
use crate::error::{Error, Result};
use crate::events::{EventSinkExt, Stage};
use crate::exec::{self, Cleanup, RunEnd, StageTimer};
use crate::inject::parse_mappings;
use crate::labels;
use crate::owner;
use crate::plan::{BuildPlan, ResolvedImage};
use crate::reference::ImageReference;
use crate::runtime::{CommitSpec, ContainerSpec, HostOptions};
use crate::scripts::{self, ResolvedScripts, Script, ScriptLocation, ScriptSources, clean_unix};

/// Label of a runtime image naming the paths it takes from the builder.
pub const ASSEMBLE_INPUT_FILES_LABEL: &str = "io.openshift.s2i.assemble-input-files";
/// Label of a runtime image naming the user assemble-runtime runs as.
pub const ASSEMBLE_RUNTIME_USER_LABEL: &str = "io.openshift.s2i.assemble-runtime-user";

/// A path of the builder container after assemble, and where it goes in the runtime image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactMapping {
    /// Absolute path in the builder container.
    pub source: String,
    /// Directory relative to the runtime image's `WORKDIR` (`.` for the WORKDIR itself).
    pub destination: String,
}

/// Parse `-a/--runtime-artifact` values (`SRC[:DEST]`, `;`-separated).
pub fn parse_runtime_artifacts(value: &str) -> Result<Vec<ArtifactMapping>> {
    Ok(parse_mappings("--runtime-artifact", value)?
        .into_iter()
        .map(|(source, destination)| ArtifactMapping { source, destination })
        .collect())
}

/// Check mappings with the reference's rules and messages.
pub(crate) fn validate_mappings(mappings: &[ArtifactMapping]) -> Result<()> {
    for m in mappings {
        let invalid = |why: &str| {
            Error::option(
                "--runtime-artifact",
                format!("invalid runtime artifacts mapping: {:?} -> {:?}: {why}", m.source, m.destination),
                "write /absolute/path/in/builder[:relative/dir/in/runtime], e.g. -a /opt/app/app.jar:lib",
            )
        };
        if !m.source.starts_with('/') {
            return Err(invalid("source must be an absolute path"));
        }
        if m.destination.starts_with('/') {
            return Err(invalid("destination must be a relative path"));
        }
        if m.destination == ".." || m.destination.starts_with("../") {
            return Err(invalid("destination cannot start with '..'"));
        }
    }
    Ok(())
}

/// A path copied out of an image into the build's source (`--source-image`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceImage {
    /// The image.
    pub image: String,
    /// Absolute path in the image.
    pub path: String,
    /// Directory of the source tree it is copied into (`.` for the root).
    pub destination: String,
}

impl SourceImage {
    /// Parse `IMAGE:/PATH[:DESTDIR]`; the image reference ends at the first `:/`.
    pub fn parse(value: &str) -> Result<Self> {
        let invalid = |why: &str| {
            Error::option(
                "--source-image",
                format!("{value:?} {why}"),
                "write IMAGE:/PATH[:DESTDIR], e.g. app-artifact:latest:/opt/app/bin:deploy",
            )
        };
        let Some((image, rest)) = value.split_once(":/") else {
            return Err(invalid("has no :/PATH"));
        };
        if image.is_empty() {
            return Err(invalid("names no image"));
        }
        crate::reference::ImageReference::parse(image)
            .map_err(|source| Error::InvalidImageReference { what: "--source-image image".into(), source })?;
        let (path, destination) = match rest.split_once(':') {
            Some((path, dest)) => (format!("/{path}"), dest.to_owned()),
            None => (format!("/{rest}"), ".".to_owned()),
        };
        let destination = if destination.is_empty() { ".".to_owned() } else { clean_unix(&destination) };
        if destination.starts_with('/') || destination == ".." || destination.starts_with("../") {
            return Err(invalid("has a destination outside the source tree; give a relative directory"));
        }
        let path = clean_unix(&path);
        if path == "/" {
            return Err(invalid("copies the whole image; name a file or directory in it"));
        }
        Ok(Self { image: image.to_owned(), path, destination })
    }
}

/// The runtime stage of a chained build, as planned.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuntimeStage {
    /// The runtime image.
    pub image: ResolvedImage,
    /// What is copied from the builder.
    pub artifacts: Vec<ArtifactMapping>,
    /// `assemble-runtime` (optional) and `run`, resolved against the runtime image.
    pub scripts: ResolvedScripts,
    /// User assemble-runtime runs as; the image's `USER` when `None`.
    pub user: Option<String>,
    /// The runtime image's `WORKDIR` (`/` when unset): where the artifacts go.
    pub workdir: String,
    /// Path of `assemble-runtime` in the runtime container, if there is one.
    pub assemble_runtime_path: Option<String>,
    /// `CMD` of the output image.
    pub run_command: Vec<String>,
}

/// A source image, as planned.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlannedSourceImage {
    /// The image.
    pub image: ResolvedImage,
    /// Absolute path in it.
    pub path: String,
    /// Directory of the source tree it goes into.
    pub destination: String,
}

/// The name under which the builder stage of an incremental chained build is
/// kept (the next build takes its artifacts from it): the output's tag with `-builder` appended.
pub(crate) fn builder_stage_name(output: &crate::reference::ImageReference) -> String {
    let tag = output.tag_or_default();
    let mut stage_tag = format!("{tag}-builder");
    if stage_tag.len() > 128 {
        stage_tag = format!("{}-builder", &tag[..120]);
    }
    format!("{}:{stage_tag}", output.name())
}

impl Engine {
    /// Plan the runtime stage of a chained build: the image (obtained and
    /// checked now, so errors come at once), the artifacts, and its scripts.
    pub(crate) async fn plan_runtime(
        &self,
        options: &BuildOptions,
        image: &str,
        sources: ScriptSources,
    ) -> Result<RuntimeStage> {
        let reference = parse_image("runtime image", image)?;
        let resolved = self
            .obtain_image_with(&reference, options.runtime_pull_policy, options.pull_credentials.as_ref())
            .await
            .map_err(|e| match e {
                Error::ImageNotFound { image, policy, .. } => {
                    Error::ImageNotFound { image, policy, runtime_image: true }
                }
                other => other,
            })?;
        options.allowed_uids.check_runtime_image(
            &resolved.name,
            &resolved.info,
            options.assemble_runtime_user.as_deref(),
        )?;
        let artifacts = if options.runtime_artifacts.is_empty() {
            let label = resolved.info.labels.get(ASSEMBLE_INPUT_FILES_LABEL).filter(|v| !v.trim().is_empty());
            let Some(label) = label else {
                return Err(Error::option(
                    "--runtime-artifact",
                    format!(
                        "no runtime artifacts to copy were specified (and {} has no {} label)",
                        resolved.name, ASSEMBLE_INPUT_FILES_LABEL
                    ),
                    "name what to copy from the builder with -a /path/in/builder[:dir/in/runtime]",
                ));
            };
            parse_runtime_artifacts(label).map_err(|e| {
                Error::option(
                    "runtime image",
                    format!(
                        "could not parse {:?} label with value {label:?} on image {:?}: {e}",
                        ASSEMBLE_INPUT_FILES_LABEL, resolved.name
                    ),
                    "fix the label of the runtime image, or give the mappings with -a",
                )
            })?
        } else {
            options.runtime_artifacts.clone()
        };
        validate_mappings(&artifacts)?;
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
        let user = options
            .assemble_runtime_user
            .clone()
            .or_else(|| resolved.info.labels.get(ASSEMBLE_RUNTIME_USER_LABEL).filter(|u| !u.is_empty()).cloned());
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

    /// A path of a source image as a tar input under `src/`.
    pub(crate) async fn source_image_input(
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
    pub(crate) async fn commit_builder_stage(&self, plan: &BuildPlan, container: &str, stage: &str) -> Result<()> {
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
            labels: owner::without_owner(&labels),
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
    pub(crate) async fn runtime_stage(
        &self,
        plan: &BuildPlan,
        runtime: &RuntimeStage,
        builder_container: &str,
        builder_labels: BTreeMap<String, String>,
        cleanup: &Cleanup,
    ) -> Result<crate::build::Committed> {
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
            labels: owner::without_owner(&labels),
        };
        self.commit_as(plan, &container, image, &commit, "assemble-runtime", labels).await
    }
}

/// A byte stream as a blocking reader, for the archive writer's thread.
pub(crate) fn bridge(stream: crate::runtime::ByteStream) -> Box<dyn std::io::Read + Send> {
    Box::new(tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_are_validated_with_the_reference_messages() {
        let ok = parse_runtime_artifacts("/opt/app/bin:.;/opt/app/info.txt:meta").unwrap();
        assert_eq!(ok[1], ArtifactMapping { source: "/opt/app/info.txt".into(), destination: "meta".into() });
        assert!(validate_mappings(&ok).is_ok());
        let message = |v: &str| validate_mappings(&parse_runtime_artifacts(v).unwrap()).unwrap_err().to_string();
        assert!(message("relative:dst").contains("source must be an absolute path"));
        assert!(message("/a:/abs").contains("destination must be a relative path"));
        assert!(message("/a:../up").contains("destination cannot start with '..'"));
    }

    #[test]
    fn source_images_split_at_the_first_colon_slash() {
        let s = SourceImage::parse("127.0.0.1:5000/team/app-artifact:1.0:/opt/app/bin:deploy").unwrap();
        assert_eq!(s.image, "127.0.0.1:5000/team/app-artifact:1.0");
        assert_eq!(s.path, "/opt/app/bin");
        assert_eq!(s.destination, "deploy");
        let s = SourceImage::parse("artifact:/opt/app").unwrap();
        assert_eq!((s.image.as_str(), s.path.as_str(), s.destination.as_str()), ("artifact", "/opt/app", "."));
        for bad in ["artifact", ":/opt", "artifact:/", "artifact:/x:/abs", "artifact:/x:../up", "Bad:/x"] {
            assert!(SourceImage::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn builder_stage_names() {
        let r = crate::reference::ImageReference::parse("registry.local:5000/team/app").unwrap();
        assert_eq!(builder_stage_name(&r), "registry.local:5000/team/app:latest-builder");
        let r = crate::reference::ImageReference::parse("app:v2").unwrap();
        assert_eq!(builder_stage_name(&r), "app:v2-builder");
    }
}
