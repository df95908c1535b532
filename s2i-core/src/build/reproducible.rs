//! Deciding, at plan time, whether s2i writes the result image itself, and
//! with which epoch: [`Engine::plan_image`].
//!
//! s2i writes the image itself (rather than the engine committing the
//! container) when the build has an epoch — `--source-date-epoch`, else
//! `SOURCE_DATE_EPOCH` (both [`BuildOptions::source_date_epoch`]), else the
//! commit time of a git source — or when it has outputs besides the engine,
//! an SBOM or a provenance statement. Without any of them the build is as it
//! always was.
//!
//! With an epoch the image is a function of its inputs. What s2i can tell
//! would make it not — a builder named by a tag, which can move; scripts
//! fetched over HTTP; artifacts of a previous image — is said in a warning.

use s2i_oci::transport::{ArchiveImage, DaemonImage, ImageLocation};

use super::{BuildEpoch, BuildOptions, Engine, EpochSource};
use crate::error::{Error, Result};
use crate::events::EventSinkExt;
use crate::labels::SourceInfo;
use crate::plan::{ImagePlan, ResolvedImage, Strategy};
use crate::reference::ImageReference;

impl Engine {
    /// The [`ImagePlan`] of a build, or `None` when the engine commits the
    /// image as before; see the [module docs](self).
    pub(crate) fn plan_image(
        &self,
        options: &BuildOptions,
        builder: &ResolvedImage,
        strategy: Strategy,
        source: &SourceInfo,
        output: Option<&ImageReference>,
        base_dir: &std::path::Path,
    ) -> Result<Option<ImagePlan>> {
        for location in &options.outputs {
            check_output(location)?;
        }
        let epoch = match (options.source_date_epoch, source.commit_time) {
            (Some(seconds), _) => Some(BuildEpoch { seconds, source: EpochSource::Given }),
            (None, Some(seconds)) => Some(BuildEpoch { seconds, source: EpochSource::GitCommit }),
            (None, None) => None,
        };
        let writes_more = !options.outputs.is_empty() || options.sbom || options.provenance;
        if epoch.is_none() && !writes_more {
            return Ok(None);
        }
        if strategy == Strategy::OnBuild {
            if writes_more {
                return Err(Error::option(
                    "--output",
                    format!(
                        "{} has ONBUILD triggers: the engine builds the image from a Dockerfile, and s2i cannot \
                         write it, to outputs or with an SBOM or provenance",
                        builder.name
                    ),
                    "drop --output, --sbom and --provenance, or use a builder image without ONBUILD triggers",
                ));
            }
            self.events.warn(format!(
                "{} has ONBUILD triggers: the engine builds the image, which is not reproducible (the epoch is not \
                 applied)",
                builder.name
            ));
            return Ok(None);
        }
        let mut outputs = Vec::new();
        if let Some(tag) = output {
            outputs.push(ImageLocation::DockerDaemon(DaemonImage::Named(tag.clone().or_tag("latest"))));
        }
        outputs.extend(options.outputs.iter().cloned());
        if let Some(epoch) = epoch {
            let from = match epoch.source {
                EpochSource::Given => "given",
                EpochSource::GitCommit => "the commit time of the source",
            };
            self.events.info(format!("Writing the image reproducibly: epoch {} ({from})", epoch.seconds));
            self.warn_about_moving_inputs(options, builder);
        }
        Ok(Some(ImagePlan {
            epoch,
            untagged: outputs.is_empty() || (output.is_none() && options.keep_in_engine),
            outputs,
            sbom: options.sbom,
            provenance: options.provenance,
            registry_auth_file: options.registry_auth_file.clone(),
            base_dir: base_dir.to_owned(),
        }))
    }

    /// Warn about inputs that can change under the same name: the same
    /// options would then not give the same digest.
    fn warn_about_moving_inputs(&self, options: &BuildOptions, builder: &ResolvedImage) {
        let pinned =
            |name: &str| name.starts_with("sha256:") || ImageReference::parse(name).is_ok_and(|r| r.digest.is_some());
        if !pinned(&options.builder_image) {
            self.events.warn(format!(
                "the builder image {} is named by a tag, which can move to another image: the same source gives \
                 the same digest only on the same builder (image {} now); name it by digest to pin it",
                options.builder_image, builder.info.id
            ));
        }
        if let Some(runtime) = options.runtime_image.as_deref().filter(|name| !pinned(name)) {
            self.events.warn(format!(
                "the runtime image {runtime} is named by a tag, which can move to another image; name it by digest \
                 to pin it"
            ));
        }
        for image in options.source_images.iter().filter(|s| !pinned(&s.image)) {
            self.events.warn(format!(
                "the source image {} is named by a tag, which can move to another image; name it by digest to pin it",
                image.image
            ));
        }
        if let Some(url) =
            options.scripts_url.as_deref().filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        {
            self.events.warn(format!(
                "the scripts come from {url}, which can change between builds; the image is reproducible only while \
                 they do not"
            ));
        }
        if options.incremental {
            self.events.warn(
                "an incremental build uses the artifacts of the previous image: the result depends on that image too",
            );
        }
    }
}

/// Refuse outputs that name something to read rather than a place to write
/// (an image ID, a digest, an image of an archive by position), as a build
/// does when it is planned; for callers that take outputs before that (a
/// BuildConfig build when it is started).
pub fn check_output(location: &ImageLocation) -> Result<()> {
    let refuse = |reason: &str, help: &str| Err(Error::option("--output", format!("{location}: {reason}"), help));
    match location {
        ImageLocation::DockerDaemon(DaemonImage::Id(_)) => {
            refuse("an image ID names an image to read", "name the image to write, e.g. docker-daemon:app:latest")
        }
        ImageLocation::DockerDaemon(DaemonImage::Named(name)) if name.digest.is_some() => {
            refuse("a digest names an image to read", "name the image by tag, e.g. docker-daemon:app:latest")
        }
        ImageLocation::Registry(name) if name.digest.is_some() => refuse(
            "a digest names an image to read; the registry computes the digest of what is pushed",
            "name the image by tag, e.g. docker://registry.example.com/team/app:1",
        ),
        ImageLocation::DockerArchive { image: ArchiveImage::Position(_), .. } => {
            refuse("@N picks an image of an archive to read", "name the image, e.g. docker-archive:app.tar:app:latest")
        }
        _ => Ok(()),
    }
}

/// Whether a source location is a path of this machine (a directory, a
/// local repository, a `file://` URL): a reproducible image does not record it.
pub(crate) fn is_local_location(location: &str) -> bool {
    location.starts_with('/') || location.starts_with("file://") || location.starts_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_to_read_are_refused() {
        let digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        for bad in [
            format!("docker-daemon:{digest}"),
            format!("docker-daemon:app@{digest}"),
            format!("docker://127.0.0.1:5000/app@{digest}"),
            "docker-archive:app.tar:@0".to_owned(),
        ] {
            let location = ImageLocation::parse(&bad).unwrap();
            assert!(check_output(&location).is_err(), "{bad}");
        }
        for good in ["oci:out:app", "docker://127.0.0.1:5000/app:1", "docker-archive:a.tar:app:1"] {
            assert!(check_output(&ImageLocation::parse(good).unwrap()).is_ok(), "{good}");
        }
    }

    #[test]
    fn local_locations() {
        assert!(is_local_location("/home/me/app"));
        assert!(is_local_location("file:///srv/git/app.git"));
        assert!(!is_local_location("https://example.com/app.git"));
        assert!(!is_local_location("git@example.com:org/app.git"));
    }
}
