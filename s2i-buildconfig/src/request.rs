//! What a build is started with ([`crate::Builds::start`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use s2i_core::build::ImageLocation;

use crate::types::{EnvVar, keys};

/// A request for a new build of a BuildConfig, as `oc start-build` makes it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BuildRequest {
    /// The BuildConfig's namespace.
    pub namespace: String,
    /// The BuildConfig.
    pub config: String,
    /// Extra environment of the build, replacing variables of the same name.
    pub env: Vec<EnvVar>,
    /// A commit (or ref) of the git source to build instead of the configured one.
    pub commit: Option<String>,
    /// Binary input: replaces the git source (a config with `source.binary` needs it).
    pub binary: Option<BinaryInput>,
    /// Where s2i writes the image besides the config's output, its SBOM,
    /// provenance and epoch (kept on the Build, see [`ImageWriting`]).
    pub image: ImageWriting,
}

impl BuildRequest {
    /// A build of `namespace/config` as configured.
    pub fn new(namespace: impl Into<String>, config: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            config: config.into(),
            env: Vec::new(),
            commit: None,
            binary: None,
            image: ImageWriting::default(),
        }
    }

    /// With one more environment variable.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push(EnvVar { name: name.into(), value: value.into(), value_from: None });
        self
    }

    /// Building `commit` (a commit or ref of the git source).
    pub fn commit(mut self, commit: impl Into<String>) -> Self {
        self.commit = Some(commit.into());
        self
    }

    /// With binary input.
    pub fn binary(mut self, input: BinaryInput) -> Self {
        self.binary = Some(input);
        self
    }
}

/// Binary input of a build: taken (copied into the store directory) when
/// the build is started, not when it runs; `.git` is left out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BinaryInput {
    /// A directory: its contents are the source.
    Dir(PathBuf),
    /// One file: the source holds it alone, named by the config's
    /// `source.binary.asFile`, else by its own file name.
    File(PathBuf),
}

/// How s2i writes a build's image besides the config's output (`s2i
/// start-build --output`, `--sbom`, `--provenance`, `--source-date-epoch`).
///
/// OpenShift's Build has no fields for these, so they are kept as
/// annotations of the Build ([`keys::OUTPUTS`], [`keys::SBOM`],
/// [`keys::PROVENANCE`], [`keys::SOURCE_DATE_EPOCH`]): the process that
/// runs the build — this one, a worker, the controller's — reads them back.
/// Paths are made absolute when the build is started.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ImageWriting {
    /// Where the image also goes (`oci:DIR[:REF]`, `oci-archive:`, `docker-archive:`, `docker://`, `docker-daemon:`).
    pub outputs: Vec<ImageLocation>,
    /// Where the SPDX 2.3 document of the build is written (and attached to `oci:` and `docker://` outputs).
    pub sbom: Option<PathBuf>,
    /// Where the in-toto provenance statement is written (attached likewise).
    pub provenance: Option<PathBuf>,
    /// The build's epoch, seconds since 1970: s2i writes the image reproducibly.
    pub source_date_epoch: Option<u64>,
}

impl ImageWriting {
    /// Whether it asks for anything.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// The same, with relative paths taken against `base`.
    pub fn resolved(&self, base: &Path) -> Self {
        let absolute = |path: &PathBuf| if path.is_absolute() { path.clone() } else { base.join(path) };
        let outputs = self
            .outputs
            .iter()
            .map(|location| match location {
                ImageLocation::Oci { dir, reference } => {
                    ImageLocation::Oci { dir: absolute(dir), reference: reference.clone() }
                }
                ImageLocation::OciArchive { file, reference } => {
                    ImageLocation::OciArchive { file: absolute(file), reference: reference.clone() }
                }
                ImageLocation::DockerArchive { file, image } => {
                    ImageLocation::DockerArchive { file: absolute(file), image: image.clone() }
                }
                other => other.clone(),
            })
            .collect();
        Self {
            outputs,
            sbom: self.sbom.as_ref().map(absolute),
            provenance: self.provenance.as_ref().map(absolute),
            source_date_epoch: self.source_date_epoch,
        }
    }

    /// Put it into a Build's annotations.
    pub fn annotate(&self, annotations: &mut BTreeMap<String, String>) {
        if !self.outputs.is_empty() {
            let outputs: Vec<String> = self.outputs.iter().map(ToString::to_string).collect();
            annotations.insert(keys::OUTPUTS.into(), serde_json::to_string(&outputs).expect("strings serialise"));
        }
        if let Some(path) = &self.sbom {
            annotations.insert(keys::SBOM.into(), path.display().to_string());
        }
        if let Some(path) = &self.provenance {
            annotations.insert(keys::PROVENANCE.into(), path.display().to_string());
        }
        if let Some(seconds) = self.source_date_epoch {
            annotations.insert(keys::SOURCE_DATE_EPOCH.into(), seconds.to_string());
        }
    }

    /// Read it back from a Build's annotations; what is wrong, naming the annotation.
    pub fn from_annotations(annotations: &BTreeMap<String, String>) -> Result<Self, String> {
        let mut writing = Self::default();
        if let Some(text) = annotations.get(keys::OUTPUTS) {
            let outputs: Vec<String> = serde_json::from_str(text)
                .map_err(|e| format!("annotation {}: not a JSON list of image locations: {e}", keys::OUTPUTS))?;
            for output in outputs {
                let location = ImageLocation::parse(&output)
                    .map_err(|e| format!("annotation {}: {output:?}: {e}", keys::OUTPUTS))?;
                writing.outputs.push(location);
            }
        }
        writing.sbom = annotations.get(keys::SBOM).map(PathBuf::from);
        writing.provenance = annotations.get(keys::PROVENANCE).map(PathBuf::from);
        if let Some(text) = annotations.get(keys::SOURCE_DATE_EPOCH) {
            let seconds = text.trim().parse().map_err(|_| {
                format!("annotation {}: {text:?} is not a number of seconds since 1970", keys::SOURCE_DATE_EPOCH)
            })?;
            writing.source_date_epoch = Some(seconds);
        }
        for path in writing.sbom.iter().chain(&writing.provenance) {
            if !path.is_absolute() {
                return Err(format!(
                    "{} is not an absolute path (annotations name files by absolute path)",
                    path.display()
                ));
            }
        }
        Ok(writing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_writing_round_trips_through_annotations() {
        let writing = ImageWriting {
            outputs: vec![
                ImageLocation::parse("oci:out:app").unwrap(),
                ImageLocation::parse("docker-archive:app.tar:app:1").unwrap(),
                ImageLocation::parse("docker://127.0.0.1:5000/team/app:1").unwrap(),
            ],
            sbom: Some("sbom.json".into()),
            provenance: Some("/tmp/provenance.json".into()),
            source_date_epoch: Some(1_700_000_000),
        }
        .resolved(Path::new("/work"));
        assert_eq!(writing.outputs[0], ImageLocation::parse("oci:/work/out:app").unwrap());
        assert_eq!(writing.sbom.as_deref(), Some(Path::new("/work/sbom.json")));
        let mut annotations = BTreeMap::new();
        writing.annotate(&mut annotations);
        assert_eq!(ImageWriting::from_annotations(&annotations).unwrap(), writing);
        assert!(ImageWriting::from_annotations(&BTreeMap::new()).unwrap().is_empty());
    }

    #[test]
    fn bad_annotations_are_named() {
        for (key, value) in [
            (keys::OUTPUTS, "oci:out"),
            (keys::OUTPUTS, "[\"nowhere:x\"]"),
            (keys::SOURCE_DATE_EPOCH, "yesterday"),
            (keys::SBOM, "relative.json"),
        ] {
            let annotations = BTreeMap::from([(key.to_owned(), value.to_owned())]);
            let error = ImageWriting::from_annotations(&annotations).unwrap_err();
            assert!(error.contains(key) || error.contains("absolute"), "{error}");
        }
    }
}
