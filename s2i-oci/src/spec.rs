//! The OCI image-spec documents as plain data: descriptors, manifests,
//! indexes and image configs, with the media types of OCI and of Docker's
//! schema 2 (which shares the config format and differs only in the names).
//!
//! Written JSON is canonical: compact, fields in the order of the types,
//! maps sorted ([`BTreeMap`]), empty optional fields left out. The same value
//! therefore always has the same bytes and the same digest ([`to_json`]).
//!
//! An image config read from a builder image keeps the fields this crate
//! does not model (in `extra`): a result image derived from it carries them
//! on, as a tool that only edits some fields should.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use crate::digest::Digest;
use crate::error::Error;

/// Media types of the documents and blobs this crate writes and reads.
pub mod media_type {
    /// An OCI image manifest.
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    /// An OCI image index.
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    /// An OCI image config.
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    /// An uncompressed OCI layer.
    pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
    /// A gzip-compressed OCI layer.
    pub const OCI_LAYER_TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    /// A zstd-compressed OCI layer (read only: Docker schema 2 has no name for it).
    pub const OCI_LAYER_TAR_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    /// The empty descriptor's media type: the config of an artifact manifest, `{}`.
    pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
    /// A Docker schema 2 image manifest.
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    /// A Docker schema 2 manifest list.
    pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    /// A Docker image config.
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    /// A gzip-compressed Docker layer.
    pub const DOCKER_LAYER_TAR_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    /// An uncompressed Docker layer.
    pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
    /// An SPDX document in JSON (the artifact type of an SBOM referrer).
    pub const SPDX_JSON: &str = "application/spdx+json";
    /// An in-toto statement (the artifact type of a provenance referrer).
    pub const IN_TOTO_JSON: &str = "application/vnd.in-toto+json";
}

/// Annotations with a meaning in the image spec.
pub mod annotation {
    /// The name of a manifest in an OCI layout's `index.json` (`oci:DIR:REF`).
    pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
    /// When an image or artifact was made (RFC 3339).
    pub const CREATED: &str = "org.opencontainers.image.created";
    /// The base image's name.
    pub const BASE_NAME: &str = "org.opencontainers.image.base.name";
    /// The base image's manifest digest.
    pub const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";
}

/// The digest and size of the empty JSON object `{}`, the config blob of
/// artifact manifests.
pub const EMPTY_JSON: &[u8] = b"{}";

/// A pointer to content: what it is, its digest and its size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// The media type of the content.
    pub media_type: String,
    /// For a manifest of an artifact, the artifact's type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The content's digest.
    pub digest: Digest,
    /// The content's size in bytes.
    pub size: u64,
    /// Where else the content may be fetched from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// Arbitrary metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "null_as_default")]
    pub annotations: BTreeMap<String, String>,
    /// For an entry of an index, the platform the manifest runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Fields this crate does not model (`data`, …), kept as read: an index
    /// another tool wrote keeps its entries whole when s2i adds one.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Descriptor {
    /// A descriptor with only media type, digest and size.
    pub fn new(media_type: impl Into<String>, digest: Digest, size: u64) -> Self {
        Self {
            media_type: media_type.into(),
            artifact_type: None,
            digest,
            size,
            urls: Vec::new(),
            annotations: BTreeMap::new(),
            platform: None,
            extra: BTreeMap::new(),
        }
    }

    /// The descriptor of `bytes` under `media_type`.
    pub fn of(media_type: impl Into<String>, bytes: &[u8]) -> Self {
        Self::new(media_type, Digest::of(bytes), bytes.len() as u64)
    }
}

/// The platform of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture (`amd64`, `arm64`, …).
    pub architecture: String,
    /// Operating system (`linux`).
    pub os: String,
    /// Operating system version.
    #[serde(rename = "os.version", default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    /// Required operating system features.
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    /// CPU variant (`v8`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// An image manifest (OCI, or Docker schema 2: same shape, other media types).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// [`media_type::OCI_MANIFEST`] or [`media_type::DOCKER_MANIFEST`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// For an artifact, its type (the config is then often the empty descriptor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers, base first (for an artifact, its blobs).
    #[serde(default, deserialize_with = "null_as_default")]
    pub layers: Vec<Descriptor>,
    /// The manifest this one refers to (an SBOM's image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Arbitrary metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "null_as_default")]
    pub annotations: BTreeMap<String, String>,
}

/// An image index: a list of manifests (`index.json` of an OCI layout).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// Always 2.
    pub schema_version: u32,
    /// [`media_type::OCI_INDEX`] (or Docker's manifest list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// For an artifact index, its type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The manifests.
    #[serde(default, deserialize_with = "null_as_default")]
    pub manifests: Vec<Descriptor>,
    /// The manifest this index refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Arbitrary metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "null_as_default")]
    pub annotations: BTreeMap<String, String>,
    /// Fields this crate does not model, kept as read.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Default for ImageIndex {
    /// An empty OCI index.
    fn default() -> Self {
        Self {
            schema_version: 2,
            media_type: Some(media_type::OCI_INDEX.to_owned()),
            artifact_type: None,
            manifests: Vec::new(),
            subject: None,
            annotations: BTreeMap::new(),
            extra: BTreeMap::new(),
        }
    }
}

/// An image config: what a container of the image runs, and its layers' diff IDs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// When the image was made (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Who made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// CPU architecture.
    pub architecture: String,
    /// Operating system.
    pub os: String,
    /// Operating system version.
    #[serde(rename = "os.version", default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    /// CPU variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The defaults of a container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    /// The layers' uncompressed digests.
    pub rootfs: RootFs,
    /// How each layer was made.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub history: Vec<History>,
    /// Fields this crate does not model (Docker's `container_config`, …), kept as read.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// The defaults of a container run from an image (the config's `config`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// The user (name or uid, optionally `:group`).
    #[serde(default, skip_serializing_if = "String::is_empty", deserialize_with = "null_as_default")]
    pub user: String,
    /// Ports, as `8080/tcp`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "null_as_default")]
    pub exposed_ports: BTreeMap<String, EmptyObject>,
    /// `NAME=value` entries, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub env: Vec<String>,
    /// The entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// The command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// Volumes, as paths.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "null_as_default")]
    pub volumes: BTreeMap<String, EmptyObject>,
    /// The working directory.
    #[serde(default, skip_serializing_if = "String::is_empty", deserialize_with = "null_as_default")]
    pub working_dir: String,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty", deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
    /// The signal that stops a container.
    #[serde(default, skip_serializing_if = "String::is_empty", deserialize_with = "null_as_default")]
    pub stop_signal: String,
    /// Docker's `ONBUILD` triggers.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub on_build: Vec<String>,
    /// Fields this crate does not model (`Healthcheck`, `Hostname`, …), kept as read.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// `{}`: the value type of the config's port and volume sets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmptyObject {}

/// The layers of an image, by diff ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The uncompressed digest of each layer, base first.
    #[serde(default, deserialize_with = "null_as_default")]
    pub diff_ids: Vec<Digest>,
}

impl Default for RootFs {
    fn default() -> Self {
        Self { kind: "layers".to_owned(), diff_ids: Vec::new() }
    }
}

/// How one step of an image was made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// When (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The command or description of the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Who.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// A comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The step made no layer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// Canonical JSON bytes of a document: compact, in field order, maps sorted.
pub fn to_json<T: Serialize>(document: &T) -> Vec<u8> {
    // Serialising these types cannot fail: every map key is a string.
    serde_json::to_vec(document).expect("OCI documents serialise to JSON")
}

/// Read a document; `what` names it in the error (`the config of oci:dir:app`).
pub fn from_json<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|source| Error::InvalidJson { what: what.to_owned(), source })
}

/// Docker writes `null` for empty lists and maps; read it as empty.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config as `docker save` writes it: nulls, Docker-only fields.
    const DOCKER_CONFIG: &str = r#"{"architecture":"amd64","config":{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"Env":["PATH=/bin"],"Cmd":["/bin/sh"],"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null},"container_config":{"Hostname":"","Cmd":null},"created":"2024-01-01T00:00:00Z","docker_version":"20.10.24+dfsg1","history":[{"created":"2024-01-01T00:00:00Z","created_by":"Imported from -","comment":"Imported from -"}],"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]}}"#;

    #[test]
    fn docker_config_reads_and_keeps_unknown_fields() {
        let config: ImageConfig = from_json(DOCKER_CONFIG.as_bytes(), "the config").unwrap();
        let container = config.config.as_ref().unwrap();
        assert_eq!(container.env, ["PATH=/bin"]);
        assert!(container.labels.is_empty() && container.entrypoint.is_none());
        assert_eq!(container.extra["Hostname"], "");
        assert_eq!(config.extra["docker_version"], "20.10.24+dfsg1");
        assert_eq!(config.rootfs.diff_ids.len(), 1);

        let written = String::from_utf8(to_json(&config)).unwrap();
        assert!(written.contains(r#""docker_version":"20.10.24+dfsg1""#), "{written}");
        assert!(written.contains(r#""AttachStdin":false"#), "{written}");
        assert!(!written.contains(r#""Labels":null"#), "modelled nulls are written as absent fields: {written}");
        assert!(written.contains(r#""container_config":{"Hostname":"","Cmd":null}"#), "{written}");
        let again: ImageConfig = from_json(written.as_bytes(), "again").unwrap();
        assert_eq!(again, config);
        assert_eq!(to_json(&again), written.as_bytes(), "writing is stable");
    }

    #[test]
    fn manifest_is_canonical() {
        let config = Descriptor::of(media_type::OCI_CONFIG, b"{}");
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(media_type::OCI_MANIFEST.to_owned()),
            artifact_type: None,
            config,
            layers: vec![],
            subject: None,
            annotations: BTreeMap::from([("b".into(), "2".into()), ("a".into(), "1".into())]),
        };
        let json = String::from_utf8(to_json(&manifest)).unwrap();
        assert_eq!(
            json,
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[],"annotations":{"a":"1","b":"2"}}"#
        );
    }

    #[test]
    fn index_entries_keep_fields_of_other_tools() {
        let json = r#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2,"data":"e30="}],"vendor.x":1}"#;
        let index: ImageIndex = from_json(json.as_bytes(), "index").unwrap();
        let written = String::from_utf8(to_json(&index)).unwrap();
        assert!(written.contains(r#""data":"e30=""#) && written.contains(r#""vendor.x":1"#), "{written}");
    }

    #[test]
    fn invalid_json_names_the_document() {
        let err = from_json::<ImageManifest>(b"{\"schemaVersion\":2}", "the manifest of oci:x").unwrap_err();
        assert!(err.to_string().contains("the manifest of oci:x"), "{err}");
    }
}
