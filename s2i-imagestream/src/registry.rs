//! Image streams and registries: the workspace's one registry client lives in
//! `s2i-oci` (feature `registry`) and is re-exported here; this module adds
//! what image streams need on top of it:
//!
//! - [`RegistryCalls::call`] runs a (blocking) client call on tokio's
//!   blocking pool, so that the caller's runtime — a current-thread one
//!   included — keeps running while the network answers;
//! - [`RegistryCalls::import`] resolves a pull spec to its manifest digest
//!   and describes the image as an `Image` object — *import*;
//! - [`import_failure`] words a registry failure as an `ImportSuccess=False`
//!   condition does.
//!
//! Tagging in a registry (a manifest put under a tag, blobs mounted from
//! another repository of the same registry, no layer moved through this
//! process) is [`RegistryClient::copy_to_tag`].

use s2i_core::reference::ImageReference;
pub use s2i_oci::registry::{Credentials, Manifest, RegistryAuth, RegistryClient, RegistryError, RegistryErrorKind};
use s2i_oci::spec::{self, ImageConfig, ImageIndex};

use crate::streams::{ImportFailure, ResolvedImage};
use crate::types::{
    API_VERSION, DockerConfig, DockerImageMetadata, IMPORT_MODE_PRESERVE_ORIGINAL, Image, ImageLayer, ImageManifest,
};
use s2i_store::{ObjectMeta, Resource};

/// Largest config blob accepted.
const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// What image streams do with a [`RegistryClient`].
pub trait RegistryCalls {
    /// Run `call` with (a clone of) this client on tokio's blocking pool.
    fn call<T: Send + 'static>(
        &self,
        call: impl FnOnce(&RegistryClient) -> Result<T, RegistryError> + Send + 'static,
    ) -> impl Future<Output = Result<T, RegistryError>> + Send;

    /// Import `pull_spec`: resolve it to a manifest digest and describe the
    /// image. With `import_mode` `PreserveOriginal` a manifest list is kept
    /// whole; otherwise (`Legacy`) the linux/amd64 entry (or the first) is
    /// imported.
    fn import(&self, pull_spec: &str, insecure: bool, import_mode: &str) -> Result<ResolvedImage, RegistryError>;
}

impl RegistryCalls for RegistryClient {
    fn call<T: Send + 'static>(
        &self,
        call: impl FnOnce(&RegistryClient) -> Result<T, RegistryError> + Send + 'static,
    ) -> impl Future<Output = Result<T, RegistryError>> + Send {
        let client = self.clone();
        async move {
            match tokio::task::spawn_blocking(move || call(&client)).await {
                Ok(result) => result,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => Err(RegistryError::new(
                    RegistryErrorKind::Other,
                    "",
                    format!("the registry call was cancelled: {e}"),
                )),
            }
        }
    }

    fn import(&self, pull_spec: &str, insecure: bool, import_mode: &str) -> Result<ResolvedImage, RegistryError> {
        let reference = ImageReference::parse(pull_spec)
            .map_err(|e| RegistryError::new(RegistryErrorKind::Other, "", e.to_string()))?;
        let normalized = reference.normalized();
        let registry = normalized.registry_or_default().to_owned();
        let repository = normalized.repository.clone();
        let wanted = normalized.digest.clone().or(normalized.tag.clone()).unwrap_or_else(|| "latest".into());
        let other = |message: String| RegistryError::new(RegistryErrorKind::Other, &registry, message);
        let mut manifest = self.get_manifest(&registry, &repository, &wanted, insecure)?;
        let name = reference.name();
        if manifest.is_index() {
            let index: ImageIndex = spec::from_json(&manifest.bytes, &format!("manifest list {pull_spec}"))
                .map_err(|e| other(e.to_string()))?;
            if import_mode == IMPORT_MODE_PRESERVE_ORIGINAL {
                let image = Image {
                    api_version: API_VERSION.into(),
                    kind: Image::KIND.into(),
                    metadata: ObjectMeta::named("", manifest.digest.clone()),
                    docker_image_reference: format!("{name}@{}", manifest.digest),
                    docker_image_manifest_media_type: manifest.media_type.clone(),
                    docker_image_manifest: String::from_utf8_lossy(&manifest.bytes).into_owned(),
                    docker_image_manifests: index
                        .manifests
                        .iter()
                        .map(|m| {
                            let platform = m.platform.clone();
                            ImageManifest {
                                digest: m.digest.to_string(),
                                media_type: m.media_type.clone(),
                                manifest_size: i64::try_from(m.size).unwrap_or(i64::MAX),
                                architecture: platform.as_ref().map(|p| p.architecture.clone()).unwrap_or_default(),
                                os: platform.as_ref().map(|p| p.os.clone()).unwrap_or_default(),
                                variant: platform.and_then(|p| p.variant).unwrap_or_default(),
                            }
                        })
                        .collect(),
                    ..Image::default()
                };
                return Ok(ResolvedImage { docker_image_reference: image.docker_image_reference.clone(), image });
            }
            let chosen = index
                .manifests
                .iter()
                .find(|m| m.platform.as_ref().is_some_and(|p| p.os == "linux" && p.architecture == "amd64"))
                .or(index.manifests.first())
                .cloned()
                .ok_or_else(|| {
                    RegistryError::new(
                        RegistryErrorKind::NotFound,
                        &registry,
                        format!("manifest list {pull_spec} is empty"),
                    )
                })?;
            manifest = self.get_manifest(&registry, &repository, &chosen.digest.to_string(), insecure)?;
        }
        let document: spec::ImageManifest = spec::from_json(&manifest.bytes, &format!("manifest {}", manifest.digest))
            .map_err(|e| other(e.to_string()))?;
        if document.schema_version != 2 {
            return Err(RegistryError::new(
                RegistryErrorKind::Unsupported,
                &registry,
                format!(
                    "manifest {} has schema version {}; only version 2 (Docker v2, OCI) is supported",
                    manifest.digest, document.schema_version
                ),
            ));
        }
        let config = document.config;
        let config_bytes =
            self.get_blob(&registry, &repository, &config.digest.to_string(), insecure, MAX_CONFIG_BYTES)?;
        let blob: ImageConfig = spec::from_json(&config_bytes, "the image config").unwrap_or_default();
        let created = blob.created.clone().unwrap_or_default();
        let run = blob.config.unwrap_or_default();
        let layers: Vec<ImageLayer> = document
            .layers
            .iter()
            .map(|l| ImageLayer {
                name: l.digest.to_string(),
                size: i64::try_from(l.size).unwrap_or(i64::MAX),
                media_type: l.media_type.clone(),
            })
            .collect();
        let size = document.layers.iter().map(|l| l.size).sum::<u64>() + config.size;
        let image = Image {
            api_version: API_VERSION.into(),
            kind: Image::KIND.into(),
            metadata: ObjectMeta::named("", manifest.digest.clone()),
            docker_image_reference: format!("{name}@{}", manifest.digest),
            docker_image_metadata: Some(DockerImageMetadata {
                kind: "DockerImage".into(),
                api_version: "1.0".into(),
                id: config.digest.to_string(),
                created,
                config: Some(DockerConfig {
                    user: run.user,
                    env: run.env,
                    cmd: run.cmd.unwrap_or_default(),
                    working_dir: run.working_dir,
                    entrypoint: run.entrypoint.unwrap_or_default(),
                    on_build: run.on_build,
                    labels: run.labels,
                }),
                architecture: blob.architecture,
                size,
                ..DockerImageMetadata::default()
            }),
            docker_image_metadata_version: "1.0".into(),
            docker_image_manifest: String::from_utf8_lossy(&manifest.bytes).into_owned(),
            docker_image_manifest_media_type: manifest.media_type.clone(),
            docker_image_config: String::from_utf8_lossy(&config_bytes).into_owned(),
            docker_image_layers: layers,
            ..Image::default()
        };
        Ok(ResolvedImage { docker_image_reference: image.docker_image_reference.clone(), image })
    }
}

/// The reason an `ImportSuccess=False` condition records for a failure.
pub fn import_reason(error: &RegistryError) -> &'static str {
    match error.kind {
        RegistryErrorKind::NotFound => "NotFound",
        RegistryErrorKind::Unauthorized => "Unauthorized",
        _ => "InternalError",
    }
}

/// A registry failure as an import failure.
pub fn import_failure(error: RegistryError) -> ImportFailure {
    ImportFailure { reason: import_reason(&error).into(), message: error.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_errors_map_to_import_reasons() {
        let error = |kind| RegistryError::new(kind, "r", "x");
        assert_eq!(import_reason(&error(RegistryErrorKind::NotFound)), "NotFound");
        assert_eq!(import_reason(&error(RegistryErrorKind::Unauthorized)), "Unauthorized");
        assert_eq!(import_reason(&error(RegistryErrorKind::Other)), "InternalError");
        let failure = import_failure(error(RegistryErrorKind::NotFound));
        assert_eq!((failure.reason.as_str(), failure.message.as_str()), ("NotFound", "r: x"));
    }
}
