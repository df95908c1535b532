//! What a build is asked to do and what it gives back: [`BuildOptions`],
//! [`UsageOptions`], [`PullPolicy`], [`BuildResult`], and the defaults and
//! labels they fall back on.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use s2i_oci::transport::ImageLocation;
use serde::{Deserialize, Serialize};

use crate::archive::ArchiveStats;
use crate::auth::CredentialFiles;
use crate::chained::{ArtifactMapping, SourceImage};
use crate::env::EnvVar;
use crate::git::GitCredentials;
use crate::ignore::DEFAULT_EXCLUDE;
use crate::inject::Injection;
use crate::runtime::HostOptions;
use crate::users::AllowedUids;

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

/// What to build: the options of `s2i build`, as plain data. Made with
/// [`BuildOptions::new`]; more options will come, so it is non-exhaustive.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
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
    /// Registry credentials for the build's pulls (the builder, source and
    /// runtime images, the previous image), looked at before the runtime's
    /// own (e.g. a build's pull secret); never serialised or shown.
    #[serde(skip)]
    pub pull_credentials: Option<CredentialFiles>,
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
    /// `--push`: push the output tag to its registry after the build (needs a tag).
    pub push: bool,
    /// `--push-builder-stage`: also push the builder stage an incremental
    /// chained build keeps (`<tag>-builder`); needs `push`.
    pub push_builder_stage: bool,
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
    /// `--source-date-epoch` (the CLI also reads `SOURCE_DATE_EPOCH`): the
    /// build's epoch, seconds since 1970-01-01. With it — or, when `None`,
    /// with the commit time of a git source — s2i writes the result image
    /// itself, the same for the same inputs (no wall-clock time, times
    /// clamped to the epoch, no host paths).
    pub source_date_epoch: Option<u64>,
    /// `--output`: where the image goes besides the engine image `tag`
    /// names (which is a `docker-daemon:` output): `oci:DIR[:REF]`,
    /// `oci-archive:FILE[:REF]`, `docker-archive:FILE[:NAME:TAG]`,
    /// `docker://HOST/REPO:TAG`, `docker-daemon:NAME:TAG`. With outputs and
    /// no tag, the engine gets no image (unless `keep_in_engine`).
    pub outputs: Vec<ImageLocation>,
    /// The engine gets the image (untagged without a tag) even when
    /// `outputs` name only other places: for callers that use the image
    /// after the build (a BuildConfig's post-commit hook and output).
    pub keep_in_engine: bool,
    /// `--sbom`: make the SPDX document of the build ([`BuildResult::sbom`]),
    /// attached to `oci:` and `docker://` outputs as a referrer.
    pub sbom: bool,
    /// `--provenance`: make the in-toto SLSA provenance statement
    /// ([`BuildResult::provenance`]), attached like the SBOM.
    pub provenance: bool,
    /// `--dockercfg-path`: the first file registry credentials of `docker://`
    /// outputs are looked up in, before `REGISTRY_AUTH_FILE`, Podman's and
    /// Docker's files.
    pub registry_auth_file: Option<PathBuf>,
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
            pull_credentials: None,
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
            push: false,
            push_builder_stage: false,
            runtime_image: None,
            runtime_artifacts: Vec::new(),
            assemble_runtime_user: None,
            runtime_pull_policy: PullPolicy::IfNotPresent,
            source_images: Vec::new(),
            container_labels: BTreeMap::new(),
            save_temp_dir: false,
            temp_root: None,
            working_dir: None,
            source_date_epoch: None,
            outputs: Vec::new(),
            keep_in_engine: false,
            sbom: false,
            provenance: false,
            registry_auth_file: None,
        }
    }
}

/// What a successful build produced.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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
    /// The builder image as named, and what the engine had under that name.
    pub builder: BuilderImage,
    /// Where the source came from (URL credentials redacted), and its commit; `None` without a source.
    pub source: Option<SourceOrigin>,
    /// Where the output was pushed (`push`).
    pub pushed: Option<PushedImage>,
    /// The builder stage kept for the next incremental chained build, as `repository:tag`.
    pub builder_stage: Option<String>,
    /// Where the builder stage was pushed (`push_builder_stage`).
    pub builder_stage_pushed: Option<PushedImage>,
    /// The epoch of a reproducible build, and where it came from.
    pub epoch: Option<BuildEpoch>,
    /// The image's manifest digest, when s2i wrote the image with a
    /// manifest (an `oci:`, `oci-archive:` or `docker://` output).
    pub manifest_digest: Option<String>,
    /// What s2i wrote the image to (when it wrote the image itself).
    pub outputs: Vec<WrittenOutput>,
    /// The SPDX 2.3 JSON document of the build (`sbom`).
    pub sbom: Option<String>,
    /// The in-toto statement with the SLSA provenance predicate (`provenance`).
    pub provenance: Option<String>,
}

/// The epoch of a reproducible build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildEpoch {
    /// Seconds since 1970-01-01 (UTC).
    pub seconds: u64,
    /// Where it came from.
    pub source: EpochSource,
}

/// Where the epoch of a build came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EpochSource {
    /// [`BuildOptions::source_date_epoch`] (`--source-date-epoch`, `SOURCE_DATE_EPOCH`).
    Given,
    /// The commit time of the git source.
    GitCommit,
}

/// One place s2i wrote the image to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrittenOutput {
    /// Where, as given (`oci:out:app`).
    pub location: ImageLocation,
    /// The manifest digest there (`sha256:…`), for outputs with a manifest
    /// (`oci:`, `oci-archive:`, `docker://`: the digest the registry stored).
    pub digest: Option<String>,
    /// The image ID (the config's digest), the same in every output.
    pub image_id: String,
    /// The digests of the artifacts (SBOM, provenance) attached to it as referrers.
    pub referrers: Vec<String>,
}

/// The builder image of a build.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuilderImage {
    /// The name it was given by.
    pub name: String,
    /// Its image ID (`sha256:…`).
    pub id: String,
    /// Its registry digest (`repository@sha256:…`), when the engine knows one (it was pulled or pushed).
    pub digest: Option<String>,
}

/// Where a build's source came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceOrigin {
    /// The git URL or local path, with URL credentials replaced by `redacted`.
    pub location: String,
    /// The commit built (git sources).
    pub commit: Option<String>,
    /// The branch built, or `HEAD` when detached (git sources).
    pub git_ref: Option<String>,
}

/// An image a build pushed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedImage {
    /// The tag pushed, `registry/repository:tag`.
    pub tag: String,
    /// The manifest digest the registry answered (`sha256:…`).
    pub digest: String,
    /// The pushed image by digest, `registry/repository@sha256:…`.
    pub reference: String,
}

/// Options of `s2i usage`, made with [`UsageOptions::new`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
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

impl UsageOptions {
    /// The usage of `builder_image`, with the defaults of everything else.
    pub fn new(builder_image: impl Into<String>) -> Self {
        Self {
            builder_image: builder_image.into(),
            scripts_url: None,
            destination: None,
            pull_policy: PullPolicy::default(),
            assemble_user: None,
            allowed_uids: AllowedUids::default(),
            env: Vec::new(),
            working_dir: None,
        }
    }
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
}
