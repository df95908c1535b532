//! The result image, assembled from plain data: the base image's config and
//! layers, one new layer, and the changes a build makes to the config.
//!
//! Everything in the output derives from the inputs: `created` (of the image
//! and of the new history entry) is the epoch when one is given, the history
//! entry says what made the layer without paths or host names, labels and
//! environment are merged in a fixed order. Docker-only fields of the base
//! config that describe how the *base* was built (`container`,
//! `container_config`, `docker_version`) are not carried over; every other
//! field the crate does not model is.

use std::collections::BTreeMap;

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::layer::LayerSummary;
use crate::spec::{self, Descriptor, History, ImageConfig, ImageManifest, media_type};

/// Fields of a base config that describe the base's own build, not the result.
const BASE_BUILD_FIELDS: &[&str] = &["container", "container_config", "docker_version"];

/// The manifest flavour an output needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ManifestFormat {
    /// OCI image manifest (`oci:`, `oci-archive:`, registries).
    #[default]
    Oci,
    /// Docker schema 2 (registries and engines that want it).
    Docker,
}

/// What a build changes in the base image's container config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigChanges {
    /// The new command, replacing the base's.
    pub cmd: Option<Vec<String>>,
    /// The new entrypoint, replacing the base's; an empty list removes it.
    pub entrypoint: Option<Vec<String>>,
    /// Variables to set, in order: an existing name keeps its place and gets the value.
    pub env: Vec<(String, String)>,
    /// The user to run as.
    pub user: Option<String>,
    /// Labels to add or replace.
    pub labels: BTreeMap<String, String>,
    /// The working directory.
    pub working_dir: Option<String>,
    /// Ports to expose (`8080` means `8080/tcp`).
    pub exposed_ports: Vec<String>,
}

/// What the history entry of the new layer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryStep {
    /// A stable description of the step (no paths, host names or times),
    /// e.g. `s2i build: assemble (builder example/python:3.12)`.
    pub created_by: String,
    /// An optional comment.
    pub comment: Option<String>,
}

/// The inputs of [`assemble`].
#[derive(Debug, Clone)]
pub struct ImageParts<'a> {
    /// The base (builder) image's config, as read.
    pub base_config: &'a ImageConfig,
    /// The base image's layer blobs, base first (they are referenced, not copied).
    pub base_layers: &'a [Descriptor],
    /// The new layer, as [`crate::layer::LayerWriter`] wrote it.
    pub layer: &'a LayerSummary,
    /// Changes to the container config.
    pub changes: &'a ConfigChanges,
    /// The new history entry.
    pub history: HistoryStep,
    /// The build's epoch (seconds since the Unix epoch): the image's
    /// `created`. `None` uses the current time, and the image is then not
    /// reproducible.
    pub epoch: Option<u64>,
    /// The manifest flavour.
    pub format: ManifestFormat,
    /// Annotations of the manifest.
    pub annotations: BTreeMap<String, String>,
}

/// An assembled image: the documents' bytes and descriptors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssembledImage {
    /// The config JSON.
    pub config: Vec<u8>,
    /// The config's descriptor.
    pub config_descriptor: Descriptor,
    /// The manifest JSON.
    pub manifest: Vec<u8>,
    /// The manifest's descriptor.
    pub manifest_descriptor: Descriptor,
    /// The layer blobs, base first.
    pub layers: Vec<Descriptor>,
    /// The layers' diff IDs, base first.
    pub diff_ids: Vec<Digest>,
}

impl AssembledImage {
    /// The same image with a manifest of another flavour (the config stays).
    pub fn with_format(&self, format: ManifestFormat, annotations: BTreeMap<String, String>) -> Result<Self> {
        let (manifest, manifest_descriptor, layers) =
            manifest(self.config_descriptor.clone(), &self.layers, format, annotations)?;
        let config_descriptor = Descriptor::new(
            config_media_type(format),
            self.config_descriptor.digest.clone(),
            self.config_descriptor.size,
        );
        Ok(Self {
            config: self.config.clone(),
            config_descriptor,
            manifest,
            manifest_descriptor,
            layers,
            diff_ids: self.diff_ids.clone(),
        })
    }
}

/// Assemble the result image; see the [module docs](self).
pub fn assemble(parts: &ImageParts<'_>) -> Result<AssembledImage> {
    let base = parts.base_config;
    if base.rootfs.diff_ids.len() != parts.base_layers.len() {
        return Err(Error::InvalidImage {
            reason: format!(
                "the base config lists {} layers, but {} layer blobs were given",
                base.rootfs.diff_ids.len(),
                parts.base_layers.len()
            ),
            help: "give the base image's layers exactly as its manifest lists them".to_owned(),
        });
    }
    let config = derived_config(base, &parts.layer.diff_id, parts.changes, &parts.history, parts.epoch)?;
    let config_bytes = spec::to_json(&config);
    let config_descriptor = Descriptor::of(config_media_type(parts.format), &config_bytes);
    let mut layers = parts.base_layers.to_vec();
    layers.push(parts.layer.descriptor());
    let (manifest, manifest_descriptor, layers) =
        manifest(config_descriptor.clone(), &layers, parts.format, parts.annotations.clone())?;
    Ok(AssembledImage {
        config: config_bytes,
        config_descriptor,
        manifest,
        manifest_descriptor,
        layers,
        diff_ids: config.rootfs.diff_ids,
    })
}

/// The result image's config alone: `base` with the layer `diff_id` on top
/// and `changes` applied (what [`assemble`] writes; enough for outputs
/// without a manifest, such as an engine's image store). Its digest is the
/// image ID.
pub fn derived_config(
    base: &ImageConfig,
    diff_id: &Digest,
    changes: &ConfigChanges,
    history: &HistoryStep,
    epoch: Option<u64>,
) -> Result<ImageConfig> {
    let created = timestamp(epoch)?;
    let mut config = base.clone();
    for field in BASE_BUILD_FIELDS {
        config.extra.remove(*field);
    }
    config.created = Some(created.clone());
    config.rootfs.diff_ids.push(diff_id.clone());
    config.history.push(History {
        created: Some(created),
        created_by: Some(history.created_by.clone()),
        author: None,
        comment: history.comment.clone(),
        empty_layer: false,
    });
    apply_changes(config.config.get_or_insert_with(Default::default), changes)?;
    Ok(config)
}

/// The manifest of a config and layers in `format` (layer media types are
/// renamed to the flavour's names): its bytes, its descriptor, its layers.
pub fn manifest(
    config: Descriptor,
    layers: &[Descriptor],
    format: ManifestFormat,
    annotations: BTreeMap<String, String>,
) -> Result<(Vec<u8>, Descriptor, Vec<Descriptor>)> {
    let layers: Vec<Descriptor> = layers
        .iter()
        .map(|layer| {
            let mut layer = layer.clone();
            layer.media_type = layer_media_type(&layer.media_type, format)?;
            Ok(layer)
        })
        .collect::<Result<_>>()?;
    let manifest_type = match format {
        ManifestFormat::Oci => media_type::OCI_MANIFEST,
        ManifestFormat::Docker => media_type::DOCKER_MANIFEST,
    };
    if format == ManifestFormat::Docker && !annotations.is_empty() {
        return Err(Error::InvalidImage {
            reason: "Docker schema 2 manifests have no annotations".to_owned(),
            help: "write an OCI manifest, or leave the annotations out".to_owned(),
        });
    }
    let document = ImageManifest {
        schema_version: 2,
        media_type: Some(manifest_type.to_owned()),
        artifact_type: None,
        config: Descriptor::new(config_media_type(format), config.digest, config.size),
        layers: layers.clone(),
        subject: None,
        annotations,
    };
    let bytes = spec::to_json(&document);
    let descriptor = Descriptor::of(manifest_type, &bytes);
    Ok((bytes, descriptor, layers))
}

fn config_media_type(format: ManifestFormat) -> &'static str {
    match format {
        ManifestFormat::Oci => media_type::OCI_CONFIG,
        ManifestFormat::Docker => media_type::DOCKER_CONFIG,
    }
}

/// A layer media type under the names of `format`.
fn layer_media_type(media: &str, format: ManifestFormat) -> Result<String> {
    use media_type::*;
    let renamed = match (format, media) {
        (ManifestFormat::Oci, DOCKER_LAYER_TAR_GZIP) => OCI_LAYER_TAR_GZIP,
        (ManifestFormat::Oci, DOCKER_LAYER_TAR) => OCI_LAYER_TAR,
        (ManifestFormat::Docker, OCI_LAYER_TAR_GZIP) => DOCKER_LAYER_TAR_GZIP,
        (ManifestFormat::Docker, OCI_LAYER_TAR) => DOCKER_LAYER_TAR,
        (ManifestFormat::Docker, other) if other.starts_with("application/vnd.oci.") => {
            return Err(Error::InvalidImage {
                reason: format!("the layer type {other} has no Docker schema 2 name"),
                help: "write an OCI manifest for this image (oci:, oci-archive:, or a registry that takes OCI)"
                    .to_owned(),
            });
        }
        (_, other) => other,
    };
    Ok(renamed.to_owned())
}

/// RFC 3339 time of the epoch, or of now.
fn timestamp(epoch: Option<u64>) -> Result<String> {
    let Some(epoch) = epoch else { return Ok(jiff::Timestamp::now().to_string()) };
    let time = i64::try_from(epoch).ok().and_then(|seconds| jiff::Timestamp::from_second(seconds).ok());
    time.map(|t| t.to_string()).ok_or_else(|| Error::InvalidImage {
        reason: format!("the epoch {epoch} is not a time"),
        help: "give SOURCE_DATE_EPOCH as seconds since 1970-01-01 (e.g. a commit's time)".to_owned(),
    })
}

fn apply_changes(config: &mut spec::ContainerConfig, changes: &ConfigChanges) -> Result<()> {
    if let Some(cmd) = &changes.cmd {
        config.cmd = Some(cmd.clone());
    }
    if let Some(entrypoint) = &changes.entrypoint {
        config.entrypoint = (!entrypoint.is_empty()).then(|| entrypoint.clone());
    }
    if let Some(user) = &changes.user {
        config.user = user.clone();
    }
    if let Some(dir) = &changes.working_dir {
        config.working_dir = dir.clone();
    }
    for (name, value) in &changes.env {
        if name.is_empty() || name.contains('=') {
            return Err(Error::InvalidImage {
                reason: format!("the environment variable name {name:?} is empty or contains `=`"),
                help: "give variables as NAME and value".to_owned(),
            });
        }
        let entry = format!("{name}={value}");
        match config.env.iter_mut().find(|e| e.split_once('=').map_or(e.as_str(), |(n, _)| n) == name) {
            Some(existing) => *existing = entry,
            None => config.env.push(entry),
        }
    }
    config.labels.extend(changes.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    for port in &changes.exposed_ports {
        config.exposed_ports.insert(normalise_port(port)?, spec::EmptyObject {});
    }
    Ok(())
}

/// `8080` → `8080/tcp`; the protocol must be tcp, udp or sctp.
fn normalise_port(port: &str) -> Result<String> {
    let (number, protocol) = port.split_once('/').unwrap_or((port, "tcp"));
    let valid_number = number.parse::<u16>().is_ok_and(|n| n > 0);
    if !valid_number || !matches!(protocol, "tcp" | "udp" | "sctp") {
        return Err(Error::InvalidImage {
            reason: format!("{port:?} is not a port"),
            help: "write ports as NUMBER or NUMBER/PROTOCOL, e.g. 8080 or 53/udp".to_owned(),
        });
    }
    Ok(format!("{number}/{protocol}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::Compression;

    fn base() -> (ImageConfig, Vec<Descriptor>) {
        let config: ImageConfig = spec::from_json(
            br#"{"architecture":"amd64","os":"linux","created":"2020-01-01T00:00:00Z","container":"abc","docker_version":"20.10","config":{"Env":["PATH=/bin","HOME=/root"],"Cmd":["/bin/sh"],"Labels":{"keep":"1"},"Hostname":""},"rootfs":{"type":"layers","diff_ids":["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]},"history":[{"created_by":"base"}]}"#,
            "base",
        )
        .unwrap();
        let layer = Descriptor::new(media_type::DOCKER_LAYER_TAR_GZIP, Digest::of(b"base layer"), 10);
        (config, vec![layer])
    }

    fn layer() -> LayerSummary {
        LayerSummary {
            diff_id: Digest::of(b"tar"),
            uncompressed_size: 3,
            digest: Digest::of(b"gz"),
            size: 2,
            compression: Compression::Gzip,
            entries: 1,
        }
    }

    fn parts<'a>(
        config: &'a ImageConfig,
        layers: &'a [Descriptor],
        layer: &'a LayerSummary,
        changes: &'a ConfigChanges,
        epoch: Option<u64>,
    ) -> ImageParts<'a> {
        ImageParts {
            base_config: config,
            base_layers: layers,
            layer,
            changes,
            history: HistoryStep { created_by: "s2i build".to_owned(), comment: None },
            epoch,
            format: ManifestFormat::Oci,
            annotations: BTreeMap::new(),
        }
    }

    #[test]
    fn assembles_a_reproducible_image() {
        let (config, layers) = base();
        let layer = layer();
        let changes = ConfigChanges {
            cmd: Some(vec!["/usr/libexec/s2i/run".into()]),
            env: vec![("HOME".into(), "/app".into()), ("APP".into(), "1".into())],
            user: Some("1001".into()),
            labels: BTreeMap::from([("io.openshift.s2i.build.image".into(), "builder".into())]),
            exposed_ports: vec!["8080".into()],
            ..ConfigChanges::default()
        };
        let image = assemble(&parts(&config, &layers, &layer, &changes, Some(1_700_000_000))).unwrap();
        let again = assemble(&parts(&config, &layers, &layer, &changes, Some(1_700_000_000))).unwrap();
        assert_eq!(image, again);
        let other = assemble(&parts(&config, &layers, &layer, &changes, Some(1_700_000_001))).unwrap();
        assert_ne!(image.manifest_descriptor.digest, other.manifest_descriptor.digest);

        let written: ImageConfig = spec::from_json(&image.config, "config").unwrap();
        assert_eq!(written.created.as_deref(), Some("2023-11-14T22:13:20Z"));
        assert!(!written.extra.contains_key("container") && !written.extra.contains_key("docker_version"));
        let container = written.config.unwrap();
        assert_eq!(container.env, ["PATH=/bin", "HOME=/app", "APP=1"]);
        assert_eq!(container.cmd.unwrap(), ["/usr/libexec/s2i/run"]);
        assert_eq!(container.labels.len(), 2);
        assert!(container.exposed_ports.contains_key("8080/tcp"));
        assert_eq!(container.extra["Hostname"], "");
        assert_eq!(written.rootfs.diff_ids.len(), 2);
        assert_eq!(written.history.len(), 2);
        assert_eq!(written.history[1].created_by.as_deref(), Some("s2i build"));

        let manifest: ImageManifest = spec::from_json(&image.manifest, "manifest").unwrap();
        assert_eq!(manifest.layers[0].media_type, media_type::OCI_LAYER_TAR_GZIP, "renamed to OCI");
        assert_eq!(manifest.config.digest, Digest::of(&image.config));
        assert_eq!(image.manifest_descriptor.digest, Digest::of(&image.manifest));

        let docker = image.with_format(ManifestFormat::Docker, BTreeMap::new()).unwrap();
        assert_eq!(docker.config, image.config);
        let manifest: ImageManifest = spec::from_json(&docker.manifest, "manifest").unwrap();
        assert_eq!(manifest.media_type.as_deref(), Some(media_type::DOCKER_MANIFEST));
        assert_eq!(manifest.layers[1].media_type, media_type::DOCKER_LAYER_TAR_GZIP);
    }

    #[test]
    fn refuses_mismatched_base_and_bad_changes() {
        let (config, _) = base();
        let layer = layer();
        let changes = ConfigChanges::default();
        assert!(assemble(&parts(&config, &[], &layer, &changes, Some(0))).is_err());
        let (config, layers) = base();
        let bad_port = ConfigChanges { exposed_ports: vec!["http".into()], ..ConfigChanges::default() };
        assert!(assemble(&parts(&config, &layers, &layer, &bad_port, Some(0))).is_err());
        let bad_env = ConfigChanges { env: vec![("A=B".into(), "c".into())], ..ConfigChanges::default() };
        assert!(assemble(&parts(&config, &layers, &layer, &bad_env, Some(0))).is_err());
    }

    #[test]
    fn empty_entrypoint_removes_it() {
        let mut container = spec::ContainerConfig { entrypoint: Some(vec!["/init".into()]), ..Default::default() };
        apply_changes(&mut container, &ConfigChanges { entrypoint: Some(vec![]), ..Default::default() }).unwrap();
        assert!(container.entrypoint.is_none());
    }
}
