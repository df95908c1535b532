//! The `image.openshift.io/v1` objects, field for field as OpenShift
//! serialises them (names, `omitempty` rules and `null`s included), so that
//! `s2i get … -o yaml` and `oc get … -o yaml` print the same shapes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use s2i_store::{KindInfo, ObjectMeta, Resource};

/// The API group of the family.
pub const GROUP: &str = "image.openshift.io";
/// The API group and version of the family.
pub const API_VERSION: &str = "image.openshift.io/v1";

/// Stream annotation: the registry (`host[:port]`) that holds the stream's
/// images. Without it the stream's images live in the local container engine,
/// in the repository `<namespace>/<stream>`.
pub const REGISTRY_ANNOTATION: &str = "s2i-rs.github.io/registry";
/// Stream annotation: talk to the stream's registry over plain HTTP / unverified TLS.
pub const INSECURE_REPOSITORY_ANNOTATION: &str = "openshift.io/image.insecureRepository";

/// `referencePolicy.type`: consumers get the original pull spec.
pub const REFERENCE_POLICY_SOURCE: &str = "Source";
/// `referencePolicy.type`: consumers get `<status.dockerImageRepository>@<digest>`.
pub const REFERENCE_POLICY_LOCAL: &str = "Local";
/// `importPolicy.importMode`: a manifest list is reduced to one image.
pub const IMPORT_MODE_LEGACY: &str = "Legacy";
/// `importPolicy.importMode`: a manifest list is imported whole.
pub const IMPORT_MODE_PRESERVE_ORIGINAL: &str = "PreserveOriginal";

/// `from.kind` of an external image.
pub const KIND_DOCKER_IMAGE: &str = "DockerImage";
/// `from.kind` of another tag.
pub const KIND_IMAGE_STREAM_TAG: &str = "ImageStreamTag";
/// `from.kind` of an image of a stream, by digest.
pub const KIND_IMAGE_STREAM_IMAGE: &str = "ImageStreamImage";

/// The only `TagEventCondition` type.
pub const CONDITION_IMPORT_SUCCESS: &str = "ImportSuccess";

fn is_false(value: &bool) -> bool {
    !*value
}

// ---------------------------------------------------------------------------
// ImageStream.

/// A set of tags, each pointing at an image by digest, with history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageStream {
    /// `image.openshift.io/v1`.
    #[serde(default)]
    pub api_version: String,
    /// `ImageStream`.
    #[serde(default)]
    pub kind: String,
    /// Name, namespace, annotations…
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The desired tags.
    #[serde(default)]
    pub spec: ImageStreamSpec,
    /// What the tags point at, with history.
    #[serde(default)]
    pub status: ImageStreamStatus,
}

impl Resource for ImageStream {
    const INFO: KindInfo = KindInfo {
        group: GROUP,
        version: "v1",
        kind: "ImageStream",
        plural: "imagestreams",
        short_names: &["is"],
        namespaced: true,
    };
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// `ImageStream.spec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageStreamSpec {
    /// Whether short names in this namespace resolve to this stream.
    #[serde(default)]
    pub lookup_policy: ImageLookupPolicy,
    /// Deprecated: a repository to import every tag from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub docker_image_repository: String,
    /// The spec tags, sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagReference>,
}

/// `lookupPolicy`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageLookupPolicy {
    /// Resolve `<stream>[:tag]` short names in this namespace.
    #[serde(default)]
    pub local: bool,
}

/// A spec tag: where a tag's image comes from, and how it is consumed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagReference {
    /// The tag (may be omitted in an `ImageStreamTag`, whose name gives it).
    #[serde(default)]
    pub name: String,
    /// Metadata overrides: merged into the image's annotations when it is read through this tag.
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
    /// The source: `DockerImage`, `ImageStreamTag` or `ImageStreamImage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<ObjectReference>,
    /// Point at the source without importing it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub reference: bool,
    /// The stream generation at which this tag last changed; `0` asks for a re-import.
    #[serde(default)]
    pub generation: Option<i64>,
    /// How the source is imported.
    #[serde(default)]
    pub import_policy: TagImportPolicy,
    /// How consumers turn the tag into a pull spec.
    #[serde(default)]
    pub reference_policy: TagReferencePolicy,
}

/// `importPolicy`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagImportPolicy {
    /// Allow plain HTTP and unverified TLS.
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure: bool,
    /// Re-import periodically.
    #[serde(default, skip_serializing_if = "is_false")]
    pub scheduled: bool,
    /// `Legacy` or `PreserveOriginal`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub import_mode: String,
}

/// `referencePolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagReferencePolicy {
    /// `Source` or `Local`.
    #[serde(rename = "type", default)]
    pub kind: String,
}

impl Default for TagReferencePolicy {
    fn default() -> Self {
        Self { kind: REFERENCE_POLICY_SOURCE.into() }
    }
}

/// A reference to another object (Kubernetes' `ObjectReference`): `kind`
/// `DockerImage`, `ImageStreamTag` or `ImageStreamImage`, `name` a pull spec,
/// `[stream:]tag` or `[stream@]digest`, `namespace` the referenced stream's
/// when not the object's own.
pub use s2i_store::ObjectReference;

/// `ImageStream.status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageStreamStatus {
    /// Where the stream's images are: `<registry>/<namespace>/<name>`, or
    /// `<namespace>/<name>` in the local engine.
    #[serde(default)]
    pub docker_image_repository: String,
    /// The same, as reachable from outside (unused locally).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub public_docker_image_repository: String,
    /// Per tag: history, newest first, and conditions; sorted by tag.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<NamedTagEventList>,
}

/// The history of one tag.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamedTagEventList {
    /// The tag.
    pub tag: String,
    /// What it pointed at, newest first; `items[0]` is the current image.
    #[serde(default)]
    pub items: Vec<TagEvent>,
    /// Import failures of the tag.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<TagEventCondition>,
}

/// One entry of a tag's history.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagEvent {
    /// When the tag started pointing here (RFC 3339).
    pub created: String,
    /// Pull spec, normally by digest.
    pub docker_image_reference: String,
    /// The image's name (its digest); empty for `reference: true` tags.
    pub image: String,
    /// The spec-tag generation that produced it.
    pub generation: i64,
}

/// A condition of a tag (only `ImportSuccess=False`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagEventCondition {
    /// `ImportSuccess`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `"False"` on failure.
    pub status: String,
    /// When the condition last changed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_transition_time: String,
    /// Why, e.g. `NotFound`, `Unauthorized`, `InternalError`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// The failure message.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The generation the import was attempted for.
    pub generation: i64,
}

// ---------------------------------------------------------------------------
// Image.

/// Immutable metadata of one image, named by its digest (cluster-scoped).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    /// `image.openshift.io/v1`.
    #[serde(default)]
    pub api_version: String,
    /// `Image`.
    #[serde(default)]
    pub kind: String,
    /// `name` is the digest.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Pull spec by digest.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub docker_image_reference: String,
    /// The image configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_image_metadata: Option<DockerImageMetadata>,
    /// `1.0`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub docker_image_metadata_version: String,
    /// The manifest (kept only in the store; stripped from views).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub docker_image_manifest: String,
    /// The layers, base first.
    #[serde(default)]
    pub docker_image_layers: Vec<ImageLayer>,
    /// The manifest's media type.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub docker_image_manifest_media_type: String,
    /// The configuration blob (kept only in the store; stripped from views).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub docker_image_config: String,
    /// For a manifest list: its entries (and then no layers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub docker_image_manifests: Vec<ImageManifest>,
}

impl Resource for Image {
    const INFO: KindInfo = KindInfo {
        group: GROUP,
        version: "v1",
        kind: "Image",
        plural: "images",
        short_names: &["image"],
        namespaced: false,
    };
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl Image {
    /// The image ID the container engine knows it by (the config digest), when known.
    pub fn engine_id(&self) -> Option<&str> {
        self.docker_image_metadata.as_ref().map(|m| m.id.as_str()).filter(|id| !id.is_empty())
    }

    /// The image without manifest and config, as the views return it.
    pub fn stripped(mut self) -> Self {
        self.docker_image_manifest.clear();
        self.docker_image_config.clear();
        self
    }
}

/// One layer of an image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageLayer {
    /// The layer's digest.
    pub name: String,
    /// Its size in bytes.
    pub size: i64,
    /// Its media type.
    pub media_type: String,
}

/// One entry of a manifest list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// The sub-manifest's digest.
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// Its size in bytes.
    pub manifest_size: i64,
    /// CPU architecture.
    pub architecture: String,
    /// Operating system.
    pub os: String,
    /// CPU variant.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
}

/// `dockerImageMetadata`: the image configuration, in Docker's field names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerImageMetadata {
    /// `DockerImage`.
    #[serde(default)]
    pub kind: String,
    /// `1.0`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: String,
    /// The image ID (config digest).
    #[serde(rename = "Id", default)]
    pub id: String,
    /// When it was built.
    #[serde(rename = "Created", default, skip_serializing_if = "String::is_empty")]
    pub created: String,
    /// Always empty here; kept for shape.
    #[serde(rename = "ContainerConfig", default)]
    pub container_config: DockerConfig,
    /// The run configuration.
    #[serde(rename = "Config", default, skip_serializing_if = "Option::is_none")]
    pub config: Option<DockerConfig>,
    /// CPU architecture.
    #[serde(rename = "Architecture", default, skip_serializing_if = "String::is_empty")]
    pub architecture: String,
    /// Size in bytes.
    #[serde(rename = "Size", default, skip_serializing_if = "is_zero_u64")]
    pub size: u64,
}

fn is_zero_u64(value: &u64) -> bool {
    *value == 0
}

/// The run configuration of an image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerConfig {
    /// User to run as.
    #[serde(rename = "User", default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// Environment, `NAME=VALUE`.
    #[serde(rename = "Env", default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Command.
    #[serde(rename = "Cmd", default, skip_serializing_if = "Vec::is_empty")]
    pub cmd: Vec<String>,
    /// Working directory.
    #[serde(rename = "WorkingDir", default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    /// Entrypoint.
    #[serde(rename = "Entrypoint", default, skip_serializing_if = "Vec::is_empty")]
    pub entrypoint: Vec<String>,
    /// `ONBUILD` triggers.
    #[serde(rename = "OnBuild", default, skip_serializing_if = "Vec::is_empty")]
    pub on_build: Vec<String>,
    /// Labels.
    #[serde(rename = "Labels", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

// ---------------------------------------------------------------------------
// Views (computed from streams, never stored).

/// One tag of a stream with its current image (`<stream>:<tag>`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageStreamTag {
    /// `image.openshift.io/v1`.
    #[serde(default)]
    pub api_version: String,
    /// `ImageStreamTag`.
    #[serde(default)]
    pub kind: String,
    /// `name` is `<stream>:<tag>`; annotations are the tag's metadata overrides.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The spec tag, when there is one.
    #[serde(default)]
    pub tag: Option<TagReference>,
    /// Generation of the newest history item.
    #[serde(default)]
    pub generation: i64,
    /// The stream's lookup policy.
    #[serde(default)]
    pub lookup_policy: ImageLookupPolicy,
    /// The tag's conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<TagEventCondition>,
    /// The current image, with the tag's annotations merged in.
    #[serde(default)]
    pub image: Image,
}

/// The kind name of [`ImageStreamTag`].
pub const KIND_ISTAG: &str = "ImageStreamTag";

/// The kind of [`ImageStreamTag`]: a view of one tag of a stream, read and
/// written through the stream (never stored itself).
pub const IMAGE_STREAM_TAG_KIND: KindInfo = KindInfo {
    group: GROUP,
    version: "v1",
    kind: KIND_ISTAG,
    plural: "imagestreamtags",
    short_names: &["istag"],
    namespaced: true,
};

/// An image referenced by a stream (`<stream>@<digest>`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageStreamImage {
    /// `image.openshift.io/v1`.
    #[serde(default)]
    pub api_version: String,
    /// `ImageStreamImage`.
    #[serde(default)]
    pub kind: String,
    /// `name` is `<stream>@<digest>`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The image.
    #[serde(default)]
    pub image: Image,
}

/// The kind name of [`ImageStreamImage`].
pub const KIND_ISIMAGE: &str = "ImageStreamImage";

/// The kind of [`ImageStreamImage`]: a view of an image of a stream, read by
/// name only.
pub const IMAGE_STREAM_IMAGE_KIND: KindInfo = KindInfo {
    group: GROUP,
    version: "v1",
    kind: KIND_ISIMAGE,
    plural: "imagestreamimages",
    short_names: &["isimage"],
    namespaced: true,
};

// ---------------------------------------------------------------------------
// Helpers on the stream.

impl ImageStream {
    /// An empty stream `namespace/name`.
    pub fn new(namespace: &str, name: &str) -> Self {
        Self {
            api_version: API_VERSION.into(),
            kind: "ImageStream".into(),
            metadata: ObjectMeta::named(namespace, name),
            ..Self::default()
        }
    }

    /// The spec tag `tag`.
    pub fn spec_tag(&self, tag: &str) -> Option<&TagReference> {
        self.spec.tags.iter().find(|t| t.name == tag)
    }

    /// The history of `tag`.
    pub fn status_tag(&self, tag: &str) -> Option<&NamedTagEventList> {
        self.status.tags.iter().find(|t| t.tag == tag)
    }

    /// The current image of `tag`: the newest history item.
    pub fn latest(&self, tag: &str) -> Option<&TagEvent> {
        self.status_tag(tag).and_then(|t| t.items.first())
    }

    /// The registry the stream's images live in, if it has one (see [`REGISTRY_ANNOTATION`]).
    pub fn registry(&self) -> Option<&str> {
        self.metadata.annotations.get(REGISTRY_ANNOTATION).map(String::as_str).filter(|r| !r.is_empty())
    }

    /// Where the stream's images are: `<registry>/<namespace>/<name>`, or
    /// `<namespace>/<name>` (the local engine repository).
    pub fn repository(&self) -> String {
        match self.registry() {
            Some(registry) => format!("{registry}/{}/{}", self.metadata.namespace, self.metadata.name),
            None => format!("{}/{}", self.metadata.namespace, self.metadata.name),
        }
    }

    /// Every tag name, from spec and status, sorted.
    pub fn tag_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .spec
            .tags
            .iter()
            .map(|t| t.name.clone())
            .chain(self.status.tags.iter().map(|t| t.tag.clone()))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The pull spec consumers get for `tag`: the newest item, through the tag's reference policy.
    pub fn resolve_pull_spec(&self, tag: &str) -> Option<String> {
        let latest = self.latest(tag)?;
        let local = self.spec_tag(tag).is_some_and(|t| t.reference_policy.kind == REFERENCE_POLICY_LOCAL);
        // An image only the engine has is named by its ID, which is exact already.
        let engine_only = latest.docker_image_reference == latest.image;
        if local && !latest.image.is_empty() && !engine_only {
            Some(format!("{}@{}", self.repository(), latest.image))
        } else {
            Some(latest.docker_image_reference.clone())
        }
    }
}
