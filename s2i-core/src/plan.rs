//! The build plan: every decision of a build, resolved before any container
//! starts. Serialisable, so it can be inspected (`--save-temp-dir` writes it as
//! `plan.json`) and consumed by other backends.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use s2i_oci::transport::ImageLocation;
use serde::{Deserialize, Serialize};

use crate::build::BuildEpoch;
use crate::chained::{PlannedSourceImage, RuntimeStage};
use crate::env::EnvVar;
use crate::ignore::SourceFilter;
use crate::incremental::PreviousImage;
use crate::inject::Injection;
use crate::reference::ImageReference;
use crate::runtime::{HostOptions, ImageInfo};
use crate::scripts::ResolvedScripts;
use crate::source::PreparedSource;

/// A resolved image the build runs on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedImage {
    /// The name as the user gave it.
    pub name: String,
    /// The fully qualified name, e.g. `docker.io/library/busybox:latest`.
    pub canonical: String,
    /// The name the engine is asked for (`:latest` added when untagged).
    pub engine_name: String,
    /// What the engine reported about the image.
    pub info: ImageInfo,
}

/// The source part of a plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlannedSource {
    /// Where the source is and where it came from.
    pub prepared: PreparedSource,
    /// `.s2iignore` patterns in effect, normalised.
    pub ignore_patterns: Vec<String>,
    /// `--exclude` in effect, if any.
    pub exclude: Option<String>,
    /// The compiled filter.
    #[serde(skip)]
    pub filter: SourceFilter,
}

/// How the output image is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// assemble runs in a container of the builder, which is committed.
    Sti,
    /// The builder has `ONBUILD` triggers: an image build `FROM` it.
    OnBuild,
}

/// Everything a build will do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildPlan {
    /// How the image is made.
    pub strategy: Strategy,
    /// The builder image.
    pub builder: ResolvedImage,
    /// The output image name, when tagged.
    pub output: Option<ImageReference>,
    /// Where the input archive is extracted in the build container.
    pub destination: String,
    /// User assemble runs as; `None` for the image's `USER`.
    pub assemble_user: Option<String>,
    /// The scripts and where they come from.
    pub scripts: ResolvedScripts,
    /// Path of assemble in the build container.
    pub assemble_path: String,
    /// `CMD` of the output image.
    pub run_command: Vec<String>,
    /// `ENTRYPOINT` of the output image.
    pub output_entrypoint: Vec<String>,
    /// `USER` of the output image.
    pub output_user: String,
    /// Environment of assemble and of the output image.
    pub env: Vec<EnvVar>,
    /// Labels of the output image, before those from `image_metadata.json`.
    pub labels: BTreeMap<String, String>,
    /// The source, if any.
    pub source: Option<PlannedSource>,
    /// Host-side settings of the build containers.
    pub host: HostOptions,
    /// The previous image, when the build is incremental.
    pub incremental: Option<PreviousImage>,
    /// Remove the previous image after the build (`--rm`).
    pub remove_previous_image: bool,
    /// How long save-artifacts may go without sending data.
    pub artifacts_timeout: Duration,
    /// Files injected for assemble only, with absolute destinations.
    pub injections: Vec<Injection>,
    /// The runtime stage of a chained build.
    pub runtime: Option<RuntimeStage>,
    /// Where the builder stage of an incremental chained build is kept.
    pub builder_stage: Option<String>,
    /// Paths copied out of images into the source.
    pub source_images: Vec<PlannedSourceImage>,
    /// Labels put on every container the build creates.
    #[serde(default)]
    pub container_labels: BTreeMap<String, String>,
    /// How s2i writes the result image itself; `None` when the engine commits it.
    #[serde(default)]
    pub image: Option<ImagePlan>,
    /// The build's working directory (spool files, the image's blobs).
    #[serde(skip)]
    pub workdir: PathBuf,
}

/// How s2i writes the result image itself: from the container's changes,
/// with a config derived from the base image's, into each output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImagePlan {
    /// The epoch (times, `created`), when the build is reproducible.
    pub epoch: Option<BuildEpoch>,
    /// Where the image goes, the engine's names (`docker-daemon:`) included.
    pub outputs: Vec<ImageLocation>,
    /// The image goes into the engine without a name (no tag, no output).
    pub untagged: bool,
    /// Make the SPDX document.
    pub sbom: bool,
    /// Make the provenance statement.
    pub provenance: bool,
    /// The first credentials file for `docker://` outputs.
    pub registry_auth_file: Option<PathBuf>,
    /// The directory relative output paths are resolved against.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

impl ImagePlan {
    /// Whether an output needs a manifest (and so compressed layers).
    pub fn needs_manifest(&self) -> bool {
        self.outputs.iter().any(|o| {
            matches!(o, ImageLocation::Oci { .. } | ImageLocation::OciArchive { .. } | ImageLocation::Registry(_))
        })
    }

    /// Whether the engine gets the image.
    pub fn loads_into_engine(&self) -> bool {
        self.untagged || self.outputs.iter().any(|o| matches!(o, ImageLocation::DockerDaemon(_)))
    }
}
