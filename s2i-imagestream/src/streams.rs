//! What the server does with image streams: every change of a stream goes
//! through [`write_stream`], inside a store transaction, which
//!
//! 1. validates the stream;
//! 2. keeps the server-owned parts (status, identity) and computes the
//!    generations: the stream's `metadata.generation` grows when the spec
//!    changes, a spec tag's `generation` becomes the stream's when the tag
//!    changes (`from`, `reference`, `importMode`, or `generation: 0`);
//! 3. resolves changed spec tags: `DockerImage` with `reference: true` is
//!    recorded as is, an imported `DockerImage` takes the caller's import
//!    result (or is reported as pending), `ImageStreamTag` copies the newest
//!    item of the referenced tag, `ImageStreamImage` the referenced image;
//! 4. applies the history rules and updates tracking tags ([`history`](crate::history));
//! 5. saves the stream and appends one `TagChanged` event per tag whose
//!    current image changed, in the same transaction.
//!
//! The operations users ask for ([`tag`], [`delete_tag`], [`record_image`],
//! [`record_import`], [`delete_stream`]) build the desired stream and call it.
//!
//! The rules are OpenShift's; docs/compatibility.md#image-streams writes them
//! down.

use std::collections::BTreeMap;

use s2i_core::reference::ImageReference;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::history::{add_tag_event, observed_generation, set_import_failure, update_tracking_tags};
use crate::names::{image_matches, split_isimage_name, validate_stream_name, validate_tag};
use crate::repository::{REPOSITORY_CHECK_ANNOTATION, REPOSITORY_FAILURE_TAG};
use crate::types::{
    IMPORT_MODE_LEGACY, IMPORT_MODE_PRESERVE_ORIGINAL, Image, ImageStream, KIND_DOCKER_IMAGE, KIND_IMAGE_STREAM_IMAGE,
    KIND_IMAGE_STREAM_TAG, KIND_ISTAG, NamedTagEventList, ObjectReference, REFERENCE_POLICY_LOCAL,
    REFERENCE_POLICY_SOURCE, REGISTRY_ANNOTATION, TagEvent, TagImportPolicy, TagReference, TagReferencePolicy,
};
use s2i_store::{NewEvent, Resource, Tx, WriteAction, validate_namespace};

/// The event action appended when a tag's current image changes.
pub const TAG_CHANGED: &str = "TagChanged";

/// What a tag points at: the detail of a [`TAG_CHANGED`] event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagTarget {
    /// The image (digest); empty for a reference-only tag.
    pub image: String,
    /// The pull spec.
    pub docker_image_reference: String,
}

/// One tag whose current image changed (the data of a [`TAG_CHANGED`] event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagChange {
    /// The tag.
    pub tag: String,
    /// What it pointed at before; `None` when it had no image.
    pub old: Option<TagTarget>,
    /// What it points at now; `None` when it was deleted.
    pub new: Option<TagTarget>,
}

/// An image found for a `DockerImage` source, ready to be recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedImage {
    /// The image; `metadata.name` is its digest.
    pub image: Image,
    /// The most specific pull spec (`repo@digest`).
    pub docker_image_reference: String,
}

/// Why an import failed, as the `ImportSuccess=False` condition records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportFailure {
    /// `NotFound`, `Unauthorized`, `InternalError`…
    pub reason: String,
    /// What went wrong, for people.
    pub message: String,
}

/// The outcome of importing one tag's source.
pub type ImportResult = std::result::Result<ResolvedImage, ImportFailure>;

/// A spec tag whose `DockerImage` source has not been imported at its generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingImport {
    /// The tag.
    pub tag: String,
    /// The pull spec to import.
    pub from: String,
    /// The generation the import is for.
    pub generation: i64,
    /// Whether plain HTTP / unverified TLS is allowed.
    pub insecure: bool,
}

/// What [`write_stream`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamWrite {
    /// The stream as stored.
    pub stream: ImageStream,
    /// Whether it was created.
    pub created: bool,
    /// The tags whose current image changed.
    pub changes: Vec<TagChange>,
    /// Imports still to do (for tags the caller gave no import result for).
    pub pending_imports: Vec<PendingImport>,
    /// Import failures recorded as conditions.
    pub failed_imports: Vec<(String, ImportFailure)>,
}

fn invalid(stream: &str, message: String, help: &str) -> Error {
    Error::InvalidObject { kind: ImageStream::KIND.into(), name: stream.into(), message, help: help.into() }
}

pub(crate) fn stream_not_found(namespace: &str, name: &str) -> Error {
    Error::NotFound {
        kind: ImageStream::KIND.into(),
        namespace: namespace.into(),
        name: name.into(),
        referenced: false,
        help: format!("list the image streams of namespace {namespace}"),
    }
}

/// The image stream `namespace/name`; [`Error::NotFound`] when there is none.
pub fn get_stream(tx: &Tx<'_>, namespace: &str, name: &str) -> Result<ImageStream> {
    tx.get_as(namespace, name)?.ok_or_else(|| stream_not_found(namespace, name))
}

// ---------------------------------------------------------------------------
// Validation.

/// Check a stream as a client wrote it: OpenShift's validation, plus what s2i cannot do
/// (docs/compatibility.md#image-stream-validation).
pub fn validate_stream(stream: &ImageStream) -> Result<()> {
    let name = &stream.metadata.name;
    validate_namespace(&stream.metadata.namespace)?;
    validate_stream_name(&stream.metadata.namespace, name)?;
    if !ImageStream::INFO.accepts_api_version(&stream.api_version) && !stream.api_version.is_empty() {
        return Err(invalid(
            name,
            format!("apiVersion is {:?}", stream.api_version),
            "image streams are image.openshift.io/v1",
        ));
    }
    if let Some(registry) = stream.registry() {
        let parsed = ImageReference::parse(&format!("{registry}/x"));
        if !parsed.is_ok_and(|r| r.registry.as_deref() == Some(registry)) {
            return Err(invalid(
                name,
                format!("annotation {REGISTRY_ANNOTATION} is {registry:?}, not a registry host"),
                "write the registry as host[:port], e.g. 127.0.0.1:5000 or quay.io",
            ));
        }
    }
    if !stream.spec.docker_image_repository.is_empty() {
        let repository = &stream.spec.docker_image_repository;
        match ImageReference::parse(repository) {
            // Imported as OpenShift does (crate::repository).
            Ok(r) if r.tag.is_none() && r.digest.is_none() => {}
            Ok(_) => {
                return Err(invalid(
                    name,
                    "spec.dockerImageRepository must not have a tag or digest".into(),
                    "write a repository only, e.g. quay.io/org/app",
                ));
            }
            Err(e) => return Err(invalid(name, format!("spec.dockerImageRepository: {e}"), "write a repository")),
        }
    }
    for tag in &stream.spec.tags {
        validate_tag(&tag.name)?;
        let at = |field: &str| format!("spec.tags[{}].{field}", tag.name);
        if let Some(from) = &tag.from {
            if from.name.is_empty() {
                return Err(invalid(name, format!("{}: required", at("from.name")), "name the source"));
            }
            match from.kind.as_str() {
                KIND_DOCKER_IMAGE => {
                    ImageReference::parse(&from.name).map_err(|e| {
                        invalid(
                            name,
                            format!("{}: {e}", at("from.name")),
                            "write a pull spec, e.g. quay.io/org/app:1.0",
                        )
                    })?;
                }
                KIND_IMAGE_STREAM_TAG => {
                    let tag_part = from.name.rsplit_once(':').map_or(from.name.as_str(), |(_, t)| t);
                    if from.name.contains('@') || from.name.matches(':').count() > 1 || validate_tag(tag_part).is_err()
                    {
                        return Err(invalid(
                            name,
                            format!("{}: {:?} is not TAG or STREAM:TAG", at("from.name"), from.name),
                            "write the tracked tag as TAG (same stream) or STREAM:TAG",
                        ));
                    }
                }
                KIND_IMAGE_STREAM_IMAGE => {
                    if from.name.matches('@').count() > 1 {
                        return Err(invalid(
                            name,
                            format!("{}: {:?} is not ID or STREAM@ID", at("from.name"), from.name),
                            "write the image as sha256:HEX or STREAM@sha256:HEX",
                        ));
                    }
                }
                other => {
                    return Err(invalid(
                        name,
                        format!(
                            "{}: {other:?} is not DockerImage, ImageStreamTag or ImageStreamImage",
                            at("from.kind")
                        ),
                        "set from.kind to DockerImage, ImageStreamTag or ImageStreamImage",
                    ));
                }
            }
            if !from.namespace.is_empty() {
                validate_namespace(&from.namespace)?;
            }
        }
        if tag.import_policy.scheduled && tag.from.as_ref().is_none_or(|f| f.kind != KIND_DOCKER_IMAGE) {
            return Err(invalid(
                name,
                format!(
                    "{}: only tags pointing to Docker repositories may be scheduled for background import",
                    at("importPolicy.scheduled")
                ),
                "remove importPolicy.scheduled, or point the tag at a DockerImage",
            ));
        }
        match tag.import_policy.import_mode.as_str() {
            "" | IMPORT_MODE_LEGACY | IMPORT_MODE_PRESERVE_ORIGINAL => {}
            other => {
                return Err(invalid(
                    name,
                    format!("{}: {other:?} is not Legacy or PreserveOriginal", at("importPolicy.importMode")),
                    "use Legacy or PreserveOriginal",
                ));
            }
        }
        match tag.reference_policy.kind.as_str() {
            "" | REFERENCE_POLICY_SOURCE | REFERENCE_POLICY_LOCAL => {}
            other => {
                return Err(invalid(
                    name,
                    format!("{}: {other:?} is not Source or Local", at("referencePolicy.type")),
                    "use Source or Local",
                ));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The write path.

/// Create or update a stream as a client wrote it; see the module doc.
///
/// Only `metadata` (labels, annotations) and `spec` of `desired` are used;
/// status is the server's. A non-empty `metadata.resourceVersion` must match
/// the stored one. `imports` holds import results for `DockerImage` spec tags,
/// by tag; changed tags without one are returned as pending.
pub fn write_stream(
    tx: &Tx<'_>,
    desired: ImageStream,
    imports: &BTreeMap<String, ImportResult>,
) -> Result<StreamWrite> {
    validate_stream(&desired)?;
    let namespace = desired.metadata.namespace.clone();
    let name = desired.metadata.name.clone();
    let old: Option<ImageStream> = tx.get_as(&namespace, &name)?;
    if let Some(old) = &old {
        let expected = &desired.metadata.resource_version;
        if !expected.is_empty() && *expected != old.metadata.resource_version {
            return Err(s2i_store::Error::Conflict {
                kind: ImageStream::KIND.into(),
                namespace,
                name,
                expected: expected.clone(),
                actual: old.metadata.resource_version.parse().unwrap_or(0),
            }
            .into());
        }
    }

    let mut new = ImageStream::new(&namespace, &name);
    new.metadata.labels = desired.metadata.labels;
    new.metadata.annotations = desired.metadata.annotations;
    new.spec = desired.spec;
    // Spec tags are a map: the last of duplicate names wins; kept sorted.
    let mut by_name: BTreeMap<String, TagReference> = BTreeMap::new();
    for tag in std::mem::take(&mut new.spec.tags) {
        by_name.insert(tag.name.clone(), tag);
    }
    new.spec.tags = by_name.into_values().collect();
    for tag in &mut new.spec.tags {
        if tag.reference_policy.kind.is_empty() {
            tag.reference_policy.kind = REFERENCE_POLICY_SOURCE.into();
        }
    }
    if let Some(old) = &old {
        new.metadata.uid = old.metadata.uid.clone();
        new.metadata.creation_timestamp = old.metadata.creation_timestamp;
        new.status = old.status.clone();
        // The time of the last repository import is the server's: kept while
        // the repository stays, dropped when it changes (a new import is due).
        if new.spec.docker_image_repository != old.spec.docker_image_repository {
            new.metadata.annotations.remove(REPOSITORY_CHECK_ANNOTATION);
        } else if let Some(checked) = old.metadata.annotations.get(REPOSITORY_CHECK_ANNOTATION) {
            new.metadata.annotations.entry(REPOSITORY_CHECK_ANNOTATION.into()).or_insert_with(|| checked.clone());
        }
    }
    new.status.docker_image_repository = new.repository();

    let changed_tags = compute_generations(old.as_ref(), &mut new);
    let mut failed_imports = Vec::new();
    let mut pending_imports = Vec::new();
    for tag_name in &changed_tags {
        let Some(spec) = new.spec_tag(tag_name).cloned() else { continue };
        let Some(from) = spec.from.clone() else { continue };
        let generation = spec.generation.unwrap_or(new.metadata.generation);
        let event = match from.kind.as_str() {
            KIND_DOCKER_IMAGE if spec.reference => Some(TagEvent {
                created: tx.now().into(),
                docker_image_reference: from.name.clone(),
                image: String::new(),
                generation,
            }),
            KIND_DOCKER_IMAGE => match imports.get(tag_name) {
                Some(Ok(resolved)) => {
                    record_image_object(tx, resolved)?;
                    Some(TagEvent {
                        created: tx.now().into(),
                        docker_image_reference: resolved.docker_image_reference.clone(),
                        image: resolved.image.metadata.name.clone(),
                        generation,
                    })
                }
                Some(Err(failure)) => {
                    set_import_failure(&mut new, tag_name, generation, &failure.reason, &failure.message, tx.now());
                    failed_imports.push((tag_name.clone(), failure.clone()));
                    None
                }
                None => {
                    pending_imports.push(PendingImport {
                        tag: tag_name.clone(),
                        from: from.name.clone(),
                        generation,
                        insecure: spec.import_policy.insecure,
                    });
                    None
                }
            },
            KIND_IMAGE_STREAM_TAG => resolve_istag(tx, &new, &from, spec.reference)?.map(|mut event| {
                event.generation = generation;
                event
            }),
            KIND_IMAGE_STREAM_IMAGE => resolve_isimage(tx, &new, &from, spec.reference)?.map(|mut event| {
                event.generation = generation;
                event
            }),
            _ => None,
        };
        if let Some(event) = event
            && add_tag_event(&mut new, tag_name, event.clone())
        {
            update_tracking_tags(&mut new, tag_name, &event);
        }
    }
    let (stream, changes) = save(tx, old.as_ref(), new)?;
    Ok(StreamWrite { stream, created: old.is_none(), changes, pending_imports, failed_imports })
}

/// `kubectl apply` of an image stream: [`write_stream`] with no import
/// results (the tags to import are [`StreamWrite::pending_imports`]), and
/// whether that created the stream, changed it, or found it as asked.
pub fn apply_stream(tx: &Tx<'_>, stream: ImageStream) -> Result<(StreamWrite, WriteAction)> {
    let before = tx.get(ImageStream::KIND, &stream.metadata.namespace, &stream.metadata.name)?;
    let write = write_stream(tx, stream, &BTreeMap::new())?;
    let action = match before {
        None => WriteAction::Created,
        Some(before) if before.resource_version.to_string() == write.stream.metadata.resource_version => {
            WriteAction::Unchanged
        }
        Some(_) => WriteAction::Configured,
    };
    Ok((write, action))
}

/// Generations (docs/compatibility.md#image-stream-generations): returns the
/// spec tags that changed (new ones included).
fn compute_generations(old: Option<&ImageStream>, new: &mut ImageStream) -> Vec<String> {
    let Some(old) = old else {
        new.metadata.generation = 1;
        for tag in &mut new.spec.tags {
            tag.generation = Some(1);
        }
        return new.spec.tags.iter().map(|t| t.name.clone()).collect();
    };
    // Users can only ask for a re-import (0); any other value, or none, keeps the current one.
    for tag in &mut new.spec.tags {
        let current = old.spec_tag(&tag.name).and_then(|t| t.generation);
        if tag.generation != Some(0) {
            tag.generation = current;
        }
    }
    let changed: Vec<String> = new
        .spec
        .tags
        .iter()
        .filter(|tag| match old.spec_tag(&tag.name) {
            None => true,
            Some(before) => {
                tag.generation == Some(0)
                    || tag.reference != before.reference
                    || tag.import_policy.import_mode != before.import_policy.import_mode
                    || tag.from.as_ref().map(|f| (&f.namespace, &f.name))
                        != before.from.as_ref().map(|f| (&f.namespace, &f.name))
            }
        })
        .map(|t| t.name.clone())
        .collect();
    let spec_changed = new.spec != old.spec;
    new.metadata.generation = old.metadata.generation.max(1) + i64::from(spec_changed);
    let generation = new.metadata.generation;
    for tag in &mut new.spec.tags {
        if changed.contains(&tag.name) {
            tag.generation = Some(generation);
        }
    }
    changed
}

/// The stream `namespace` of a `from`, or the tag's own.
fn from_namespace<'a>(stream: &'a ImageStream, from: &'a ObjectReference) -> &'a str {
    if from.namespace.is_empty() { &stream.metadata.namespace } else { &from.namespace }
}

/// Load the stream a `from` points into; the stream being written when it is that one.
fn source_stream(tx: &Tx<'_>, stream: &ImageStream, namespace: &str, name: &str) -> Result<Option<ImageStream>> {
    if namespace == stream.metadata.namespace && name == stream.metadata.name {
        return Ok(Some(stream.clone()));
    }
    Ok(tx.get_as(namespace, name)?)
}

/// An `ImageStreamTag` source copies the newest item of the referenced tag.
fn resolve_istag(
    tx: &Tx<'_>,
    stream: &ImageStream,
    from: &ObjectReference,
    reference: bool,
) -> Result<Option<TagEvent>> {
    let namespace = from_namespace(stream, from);
    let (source_name, source_tag) = match from.name.split_once(':') {
        Some((name, tag)) => (name, tag),
        None => (stream.metadata.name.as_str(), from.name.as_str()),
    };
    let Some(source) = source_stream(tx, stream, namespace, source_name)? else {
        return Err(missing_source(stream, from, namespace, source_name));
    };
    Ok(source.latest(source_tag).map(|item| localize(&source, stream, item.clone(), reference, tx.now())))
}

/// An `ImageStreamImage` source finds the unique image of the referenced stream matching the id.
fn resolve_isimage(
    tx: &Tx<'_>,
    stream: &ImageStream,
    from: &ObjectReference,
    reference: bool,
) -> Result<Option<TagEvent>> {
    let namespace = from_namespace(stream, from);
    let (source_name, id) = match split_isimage_name(&from.name) {
        Ok((name, id)) => (name, id),
        Err(_) => (stream.metadata.name.as_str(), from.name.as_str()),
    };
    let Some(source) = source_stream(tx, stream, namespace, source_name)? else {
        return Err(missing_source(stream, from, namespace, source_name));
    };
    Ok(find_image_item(&source, id)?.map(|item| localize(&source, stream, item, reference, tx.now())))
}

fn missing_source(stream: &ImageStream, from: &ObjectReference, namespace: &str, source: &str) -> Error {
    let tag =
        stream.spec.tags.iter().find(|t| t.from.as_ref() == Some(from)).map(|t| t.name.clone()).unwrap_or_default();
    Error::NotFound {
        kind: ImageStream::KIND.into(),
        namespace: namespace.into(),
        name: source.into(),
        referenced: true,
        help: format!(
            "spec.tags[{tag}].from.name of {} names stream {source:?}, which does not exist in namespace {namespace:?}",
            stream.metadata.name
        ),
    }
}

/// The newest history item (over all tags) whose image matches `id`; an error when the prefix is ambiguous.
pub(crate) fn find_image_item(stream: &ImageStream, id: &str) -> Result<Option<TagEvent>> {
    let mut found: Option<TagEvent> = None;
    for list in &stream.status.tags {
        for item in &list.items {
            if item.image.is_empty() || !image_matches(&item.image, id) {
                continue;
            }
            match &found {
                Some(existing) if existing.image != item.image => {
                    return Err(Error::InvalidName {
                        what: "image id".into(),
                        value: id.into(),
                        reason: format!(
                            "multiple images of stream {} match the prefix ({} and {})",
                            stream.metadata.name, existing.image, item.image
                        ),
                        help: "give more of the digest".into(),
                    });
                }
                Some(_) => {}
                None => found = Some(item.clone()),
            }
        }
    }
    Ok(found)
}

/// Unless `reference`, a pull spec in the source stream's own repository
/// is rewritten to the destination's, so it names the destination's copy.
fn localize(
    source: &ImageStream,
    destination: &ImageStream,
    mut item: TagEvent,
    reference: bool,
    now: &str,
) -> TagEvent {
    item.created = now.into();
    if !reference && !item.image.is_empty() {
        let source_ref = format!("{}@{}", source.repository(), item.image);
        if item.docker_image_reference == source_ref {
            item.docker_image_reference = format!("{}@{}", destination.repository(), item.image);
        }
    }
    item
}

/// Keep an image's metadata (images are immutable: an existing record is kept).
fn record_image_object(tx: &Tx<'_>, resolved: &ResolvedImage) -> Result<()> {
    let name = &resolved.image.metadata.name;
    crate::names::validate_image_name(name)?;
    if tx.get(Image::KIND, "", name)?.is_none() {
        let mut image = resolved.image.clone();
        image.metadata.namespace.clear();
        if image.docker_image_reference.is_empty() {
            image.docker_image_reference = resolved.docker_image_reference.clone();
        }
        if image.docker_image_metadata_version.is_empty() && image.docker_image_metadata.is_some() {
            image.docker_image_metadata_version = "1.0".into();
        }
        tx.create_as(&image)?;
    }
    Ok(())
}

/// Save the stream and append a `TagChanged` event per tag whose current image changed.
fn save(tx: &Tx<'_>, old: Option<&ImageStream>, mut new: ImageStream) -> Result<(ImageStream, Vec<TagChange>)> {
    new.status.docker_image_repository = new.repository();
    let target = |stream: Option<&ImageStream>, tag: &str| {
        stream.and_then(|s| s.latest(tag)).map(|item| TagTarget {
            image: item.image.clone(),
            docker_image_reference: item.docker_image_reference.clone(),
        })
    };
    let mut tags = new.tag_names();
    if let Some(old) = old {
        tags.extend(old.tag_names());
        tags.sort();
        tags.dedup();
    }
    let changes: Vec<TagChange> = tags
        .iter()
        .filter_map(|tag| {
            let (before, after) = (target(old, tag), target(Some(&new), tag));
            (before != after).then(|| TagChange { tag: tag.clone(), old: before, new: after })
        })
        .collect();
    new.metadata.resource_version.clear();
    if let Some(old) = old {
        let mut unchanged = old.clone();
        unchanged.metadata.resource_version.clear();
        unchanged.api_version = new.api_version.clone();
        unchanged.kind = new.kind.clone();
        if unchanged == new {
            // Nothing to write: the resourceVersion stays, no event.
            return Ok((old.clone(), Vec::new()));
        }
    }
    let stored = if old.is_some() { tx.update_as(&new)? } else { tx.create_as(&new)? };
    append_changes(tx, &stored.metadata.namespace, &stored.metadata.name, &changes)?;
    Ok((stored, changes))
}

fn append_changes(tx: &Tx<'_>, namespace: &str, name: &str, changes: &[TagChange]) -> Result<()> {
    for change in changes {
        let data = serde_json::to_value(change).expect("a tag change is plain data");
        tx.append_event(&NewEvent::new(ImageStream::KIND, namespace, name, TAG_CHANGED).with_data(data))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Operations.

/// A tag of a stream: `[namespace/]stream[:tag]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StreamTag {
    /// The stream's namespace.
    pub namespace: String,
    /// The stream.
    pub stream: String,
    /// The tag.
    pub tag: String,
}

impl StreamTag {
    /// Parse `[namespace/]stream[:tag]` (tag `latest` when omitted); `namespace` is the default.
    pub fn parse(spec: &str, namespace: &str) -> Result<Self> {
        let bad = |reason: String| Error::InvalidName {
            what: "image stream tag".into(),
            value: spec.into(),
            reason,
            help: "write it as [NAMESPACE/]STREAM:TAG, e.g. app:prod or team-a/app:prod".into(),
        };
        let reference = ImageReference::parse(spec).map_err(|e| bad(e.reason))?;
        if reference.registry.is_some() || reference.digest.is_some() {
            return Err(bad("a stream tag has no registry and no digest".into()));
        }
        let (ns, stream) = match reference.namespace_and_name() {
            (Some(ns), stream) if !stream.contains('/') => (ns.to_owned(), stream.to_owned()),
            (Some(_), _) => return Err(bad("too many '/'".into())),
            (None, stream) => (namespace.to_owned(), stream.to_owned()),
        };
        validate_namespace(&ns)?;
        validate_stream_name(&ns, &stream)?;
        let tag = reference.tag_or_default().to_owned();
        validate_tag(&tag)?;
        Ok(Self { namespace: ns, stream, tag })
    }

    /// `stream:tag` within `namespace`, `namespace/stream:tag` elsewhere.
    pub fn display_from(&self, namespace: &str) -> String {
        if self.namespace == namespace {
            format!("{}:{}", self.stream, self.tag)
        } else {
            format!("{}/{}:{}", self.namespace, self.stream, self.tag)
        }
    }
}

impl std::fmt::Display for StreamTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}:{}", self.namespace, self.stream, self.tag)
    }
}

/// Which kind a tag source is (`--source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// An external image (`docker`).
    DockerImage,
    /// A tag of a stream (`istag`, `imagestreamtag`).
    ImageStreamTag,
    /// An image of a stream by digest (`isimage`, `imagestreamimage`).
    ImageStreamImage,
}

impl std::str::FromStr for SourceKind {
    type Err = String;
    fn from_str(value: &str) -> std::result::Result<Self, String> {
        match value {
            "docker" | "DockerImage" => Ok(Self::DockerImage),
            "istag" | "imagestreamtag" | "ImageStreamTag" => Ok(Self::ImageStreamTag),
            "isimage" | "imagestreamimage" | "ImageStreamImage" => Ok(Self::ImageStreamImage),
            other => Err(format!("{other:?} is not docker, istag or isimage")),
        }
    }
}

/// The source of a tag operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagSource {
    /// An external image, by pull spec.
    DockerImage(String),
    /// A tag of a stream.
    ImageStreamTag(StreamTag),
    /// An image of a stream: namespace, stream and digest (or a prefix of its hex).
    ImageStreamImage {
        /// The stream's namespace.
        namespace: String,
        /// The stream.
        stream: String,
        /// The digest, or a unique prefix of its hex.
        id: String,
    },
}

impl TagSource {
    /// Parse a source as `oc tag` does: as a pull spec; without `kind`,
    /// a registry host means `DockerImage`, a digest `ImageStreamImage`, a tag
    /// `ImageStreamTag`, anything else `DockerImage`.
    pub fn parse(spec: &str, kind: Option<SourceKind>, namespace: &str) -> Result<Self> {
        let bad = |reason: String, help: &str| Error::InvalidName {
            what: "tag source".into(),
            value: spec.into(),
            reason,
            help: help.into(),
        };
        let reference = match ImageReference::parse(spec) {
            Ok(reference) => reference,
            // `stream@<hex prefix>` is an image-stream image name, not a pull spec.
            Err(e) => match (kind, split_isimage_name(spec)) {
                (None | Some(SourceKind::ImageStreamImage), Ok((stream, id))) if !stream.contains(['.', ':']) => {
                    let (ns, stream) = match stream.split_once('/') {
                        Some((ns, stream)) => (ns.to_owned(), stream.to_owned()),
                        None => (namespace.to_owned(), stream.to_owned()),
                    };
                    validate_namespace(&ns)?;
                    validate_stream_name(&ns, &stream)?;
                    if id.is_empty() || !id.trim_start_matches("sha256:").bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(bad(e.reason, "write an image as STREAM@sha256:HEX"));
                    }
                    return Ok(Self::ImageStreamImage { namespace: ns, stream, id: id.to_owned() });
                }
                _ => return Err(bad(e.reason, "write the source as a pull spec, STREAM:TAG or STREAM@sha256:HEX")),
            },
        };
        let kind = kind.unwrap_or(if reference.registry.is_some() {
            SourceKind::DockerImage
        } else if reference.digest.is_some() {
            SourceKind::ImageStreamImage
        } else if reference.tag.is_some() {
            SourceKind::ImageStreamTag
        } else {
            SourceKind::DockerImage
        });
        let stream_of = |reference: &ImageReference| -> Result<(String, String)> {
            if reference.registry.is_some() {
                return Err(bad(
                    "an image stream source has no registry host".into(),
                    "drop the registry, or use --source=docker",
                ));
            }
            let (ns, stream) = match reference.namespace_and_name() {
                (Some(ns), stream) if !stream.contains('/') => (ns.to_owned(), stream.to_owned()),
                (Some(_), _) => return Err(bad("too many '/'".into(), "write [NAMESPACE/]STREAM:TAG")),
                (None, stream) => (namespace.to_owned(), stream.to_owned()),
            };
            validate_namespace(&ns)?;
            validate_stream_name(&ns, &stream)?;
            Ok((ns, stream))
        };
        match kind {
            SourceKind::DockerImage => Ok(Self::DockerImage(spec.to_owned())),
            SourceKind::ImageStreamTag => {
                let Some(tag) = &reference.tag else {
                    return Err(bad("an ImageStreamTag source needs :TAG".into(), "write STREAM:TAG"));
                };
                if reference.digest.is_some() {
                    return Err(bad("an ImageStreamTag source has no digest".into(), "write STREAM:TAG"));
                }
                let (namespace, stream) = stream_of(&reference)?;
                Ok(Self::ImageStreamTag(StreamTag { namespace, stream, tag: tag.clone() }))
            }
            SourceKind::ImageStreamImage => {
                let Some(id) = &reference.digest else {
                    return Err(bad("an ImageStreamImage source needs @DIGEST".into(), "write STREAM@sha256:HEX"));
                };
                let (namespace, stream) = stream_of(&reference)?;
                Ok(Self::ImageStreamImage { namespace, stream, id: id.clone() })
            }
        }
    }
}

/// A tag operation (`oc tag`): point destination tags at a source. Made
/// with [`TagRequest::new`], then the fields a request sets.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TagRequest {
    /// Where the tags point.
    pub source: TagSource,
    /// The tags to set.
    pub destinations: Vec<StreamTag>,
    /// Track the source tag instead of copying its current image (same stream only).
    pub alias: bool,
    /// Point at the source without importing it.
    pub reference: bool,
    /// `Source` or `Local`; `Source` when `None`.
    pub reference_policy: Option<String>,
    /// `Legacy` or `PreserveOriginal`; `Legacy` when `None`.
    pub import_mode: Option<String>,
    /// Allow plain HTTP / unverified TLS when importing.
    pub insecure: bool,
    /// Re-import the source periodically (`s2i controller`); DockerImage sources only.
    pub scheduled: bool,
}

impl TagRequest {
    /// Point `destinations` at `source`: a copy of its current image, imported
    /// when it is an external image, with the default policies.
    pub fn new(source: TagSource, destinations: Vec<StreamTag>) -> Self {
        Self {
            source,
            destinations,
            alias: false,
            reference: false,
            reference_policy: None,
            import_mode: None,
            insecure: false,
            scheduled: false,
        }
    }
}

/// What a tag operation did to one destination.
#[derive(Debug, Clone, PartialEq)]
pub struct TagOutcome {
    /// The destination.
    pub destination: StreamTag,
    /// The message `oc tag` prints (`Tag app:prod set to app@sha256:….`).
    pub message: String,
    /// What happened to the stream.
    pub write: StreamWrite,
}

/// Point the destinations of `request` at its source as `oc tag` does, creating streams as needed
/// (docs/compatibility.md#tagging-as-oc-tag-does).
///
/// A `DockerImage` source that is imported (not `reference`) needs its import
/// result for each destination in `imports`, resolved before the transaction;
/// without one the tag is left pending (see [`StreamWrite::pending_imports`]).
pub fn tag(tx: &Tx<'_>, request: &TagRequest, imports: &BTreeMap<StreamTag, ImportResult>) -> Result<Vec<TagOutcome>> {
    let bad = |message: String, help: &str| Error::InvalidRequest { message, help: help.into() };
    if request.destinations.is_empty() {
        return Err(bad("no destination".into(), "name at least one STREAM:TAG to set"));
    }
    let is_docker = matches!(request.source, TagSource::DockerImage(_));
    if request.insecure && !is_docker {
        return Err(bad("--insecure applies to DockerImage sources only".into(), "drop --insecure"));
    }
    if request.scheduled && !is_docker {
        return Err(bad("--scheduled applies to DockerImage sources only".into(), "drop --scheduled"));
    }
    if request.scheduled && request.reference {
        return Err(bad(
            "--scheduled and --reference may not be combined: a reference tag is never imported".into(),
            "drop one of them",
        ));
    }
    if request.alias && !matches!(request.source, TagSource::ImageStreamTag(_)) {
        return Err(bad("--alias needs a STREAM:TAG source".into(), "drop --alias, or tag from STREAM:TAG"));
    }
    // Client side, as `oc tag` decides: what `from` each destination gets.
    let (from, source_display) = match &request.source {
        TagSource::DockerImage(spec) => (ObjectReference::new(KIND_DOCKER_IMAGE, spec.clone()), spec.clone()),
        TagSource::ImageStreamTag(source) if request.alias => {
            for destination in &request.destinations {
                if (&destination.namespace, &destination.stream) != (&source.namespace, &source.stream) {
                    return Err(bad(
                        "cannot set alias across different Image Streams".into(),
                        "alias within one stream, or copy the tag without --alias",
                    ));
                }
                if destination.tag == source.tag {
                    return Err(bad(format!("tag {} cannot track itself", source.tag), "pick another tag"));
                }
            }
            (
                ObjectReference::new(KIND_IMAGE_STREAM_TAG, source.tag.clone()),
                format!("{}:{}", source.stream, source.tag),
            )
        }
        TagSource::ImageStreamTag(source) => {
            // A copy is a snapshot: resolve the tag to its current image now.
            let stream: ImageStream = tx
                .get_as(&source.namespace, &source.stream)?
                .ok_or_else(|| stream_not_found(&source.namespace, &source.stream))?;
            let Some(item) = stream.latest(&source.tag) else {
                return Err(Error::NotFound {
                    kind: KIND_ISTAG.into(),
                    namespace: source.namespace.clone(),
                    name: format!("{}:{}", source.stream, source.tag),
                    referenced: false,
                    help: format!(
                        "tag {} of stream {} has no image yet; build or import one first",
                        source.tag, source.stream
                    ),
                });
            };
            if item.image.is_empty() {
                let spec = item.docker_image_reference.clone();
                (ObjectReference::new(KIND_DOCKER_IMAGE, spec.clone()), spec)
            } else {
                let name = format!("{}@{}", source.stream, item.image);
                let mut from = ObjectReference::new(KIND_IMAGE_STREAM_IMAGE, name.clone());
                from.namespace = source.namespace.clone();
                (from, name)
            }
        }
        TagSource::ImageStreamImage { namespace, stream, id } => {
            let name = format!("{stream}@{id}");
            let mut from = ObjectReference::new(KIND_IMAGE_STREAM_IMAGE, name.clone());
            from.namespace = namespace.clone();
            (from, name)
        }
    };
    let docker_import = from.kind == KIND_DOCKER_IMAGE && !request.reference;

    let mut outcomes = Vec::new();
    for destination in &request.destinations {
        let mut from = from.clone();
        if from.namespace == destination.namespace {
            from.namespace.clear();
        }
        let mut stream: ImageStream = tx
            .get_as(&destination.namespace, &destination.stream)?
            .unwrap_or_else(|| ImageStream::new(&destination.namespace, &destination.stream));
        let annotations = stream.spec_tag(&destination.tag).and_then(|t| t.annotations.clone());
        let spec = TagReference {
            name: destination.tag.clone(),
            annotations,
            from: Some(from),
            reference: request.reference,
            generation: Some(0),
            import_policy: TagImportPolicy {
                insecure: request.insecure,
                scheduled: request.scheduled,
                import_mode: request.import_mode.clone().unwrap_or_else(|| IMPORT_MODE_LEGACY.into()),
            },
            reference_policy: TagReferencePolicy {
                kind: request.reference_policy.clone().unwrap_or_else(|| REFERENCE_POLICY_SOURCE.into()),
            },
        };
        stream.spec.tags.retain(|t| t.name != destination.tag);
        stream.spec.tags.push(spec);
        stream.metadata.resource_version.clear();
        let mut tag_imports = BTreeMap::new();
        if let (true, Some(result)) = (docker_import, imports.get(destination)) {
            tag_imports.insert(destination.tag.clone(), result.clone());
        }
        let write = write_stream(tx, stream, &tag_imports)?;
        let shown = destination.display_from(&destination.namespace);
        let message = if request.alias {
            format!("Tag {shown} set up to track {source_display}.")
        } else if request.scheduled {
            format!("Tag {shown} set to import {source_display} periodically.")
        } else {
            format!("Tag {shown} set to {source_display}.")
        };
        outcomes.push(TagOutcome { destination: destination.clone(), message, write });
    }
    Ok(outcomes)
}

/// Delete a tag: its spec tag and its history (`oc tag -d`).
pub fn delete_tag(tx: &Tx<'_>, tag: &StreamTag) -> Result<StreamWrite> {
    let old: ImageStream =
        tx.get_as(&tag.namespace, &tag.stream)?.ok_or_else(|| stream_not_found(&tag.namespace, &tag.stream))?;
    if old.spec_tag(&tag.tag).is_none() && old.status_tag(&tag.tag).is_none() {
        return Err(Error::NotFound {
            kind: KIND_ISTAG.into(),
            namespace: tag.namespace.clone(),
            name: format!("{}:{}", tag.stream, tag.tag),
            referenced: false,
            help: format!("the stream's tags are: {}", old.tag_names().join(", ")),
        });
    }
    let mut new = old.clone();
    new.spec.tags.retain(|t| t.name != tag.tag);
    new.status.tags.retain(|t| t.tag != tag.tag);
    if new.spec != old.spec {
        new.metadata.generation += 1;
    }
    let (stream, changes) = save(tx, Some(&old), new)?;
    Ok(StreamWrite { stream, created: false, changes, pending_imports: Vec::new(), failed_imports: Vec::new() })
}

/// Delete a stream; its tags' `TagChanged` events (to nothing) are appended.
pub fn delete_stream(tx: &Tx<'_>, namespace: &str, name: &str) -> Result<ImageStream> {
    let old: ImageStream = tx.get_as(namespace, name)?.ok_or_else(|| stream_not_found(namespace, name))?;
    let changes: Vec<TagChange> = old
        .tag_names()
        .into_iter()
        .filter_map(|tag| {
            old.latest(&tag).map(|item| TagChange {
                tag: tag.clone(),
                old: Some(TagTarget {
                    image: item.image.clone(),
                    docker_image_reference: item.docker_image_reference.clone(),
                }),
                new: None,
            })
        })
        .collect();
    tx.delete(ImageStream::KIND, namespace, name)?;
    append_changes(tx, namespace, name, &changes)?;
    Ok(old)
}

/// Record an image as the new current image of a tag, as a push does
/// (OpenShift's ImageStreamMapping), creating the stream as needed. Only the
/// status changes: a push on OpenShift writes no spec, which is the user's
/// (`tag`, an apply), and a spec tag made here would go to a cluster with
/// every export. A build's labels are in the image's own
/// `dockerImageMetadata`.
pub fn record_image(tx: &Tx<'_>, destination: &StreamTag, resolved: &ResolvedImage) -> Result<StreamWrite> {
    let mut stream: ImageStream = tx
        .get_as(&destination.namespace, &destination.stream)?
        .unwrap_or_else(|| ImageStream::new(&destination.namespace, &destination.stream));
    stream.metadata.resource_version.clear();
    let mut write = write_stream(tx, stream, &BTreeMap::new())?;
    record_image_object(tx, resolved)?;
    let mut stream = write.stream.clone();
    let event = TagEvent {
        created: tx.now().into(),
        docker_image_reference: resolved.docker_image_reference.clone(),
        image: resolved.image.metadata.name.clone(),
        generation: stream.metadata.generation,
    };
    let before = stream.clone();
    if add_tag_event(&mut stream, &destination.tag, event.clone()) {
        update_tracking_tags(&mut stream, &destination.tag, &event);
    }
    let (stream, changes) = save(tx, Some(&before), stream)?;
    write.changes.extend(changes);
    write.stream = stream;
    Ok(write)
}

/// Record the result of an import of `tag` done for `generation` (the import
/// controller's second half). A result for an older generation than the spec
/// tag's is dropped: the tag changed meanwhile. Returns `None` then.
pub fn record_import(
    tx: &Tx<'_>,
    tag: &StreamTag,
    generation: i64,
    result: &ImportResult,
) -> Result<Option<StreamWrite>> {
    let Some(old) = tx.get_as::<ImageStream>(&tag.namespace, &tag.stream)? else {
        return Ok(None);
    };
    let current = old.spec_tag(&tag.tag).and_then(|t| t.generation);
    if current != Some(generation) || observed_generation(&old, &tag.tag) >= generation {
        return Ok(None);
    }
    let mut new = old.clone();
    let mut failed_imports = Vec::new();
    match result {
        Ok(resolved) => {
            record_image_object(tx, resolved)?;
            let event = TagEvent {
                created: tx.now().into(),
                docker_image_reference: resolved.docker_image_reference.clone(),
                image: resolved.image.metadata.name.clone(),
                generation,
            };
            if add_tag_event(&mut new, &tag.tag, event.clone()) {
                update_tracking_tags(&mut new, &tag.tag, &event);
            }
        }
        Err(failure) => {
            set_import_failure(&mut new, &tag.tag, generation, &failure.reason, &failure.message, tx.now());
            failed_imports.push((tag.tag.clone(), failure.clone()));
        }
    }
    let (stream, changes) = save(tx, Some(&old), new)?;
    Ok(Some(StreamWrite { stream, created: false, changes, pending_imports: Vec::new(), failed_imports }))
}

/// Record a repository import of stream `namespace/name` (see
/// [`crate::repository`]): `result` is the import of each tag taken from
/// `repository`, or why the repository could not be listed. Each tag is
/// recorded in the stream's status (history, or an `ImportSuccess=False`
/// condition), except a tag the spec names: that one is the spec tag's. A
/// failure of the repository itself is the condition of status tag
/// [`REPOSITORY_FAILURE_TAG`] (unless the spec has that tag). The stream's
/// [`REPOSITORY_CHECK_ANNOTATION`] records the time. Returns `None` when the
/// stream is gone or names another repository now.
pub fn record_repository_import(
    tx: &Tx<'_>,
    namespace: &str,
    name: &str,
    repository: &str,
    result: &std::result::Result<Vec<(String, ImportResult)>, ImportFailure>,
) -> Result<Option<StreamWrite>> {
    let Some(old) = tx.get_as::<ImageStream>(namespace, name)? else {
        return Ok(None);
    };
    if old.spec.docker_image_repository != repository {
        return Ok(None);
    }
    let mut new = old.clone();
    let now = tx.now();
    new.metadata.annotations.insert(REPOSITORY_CHECK_ANNOTATION.into(), now.to_owned());
    let generation = new.metadata.generation;
    let mut failed_imports = Vec::new();
    match result {
        Ok(tags) => {
            // A failure of the repository recorded before is over.
            let stale = |t: &NamedTagEventList| {
                t.tag == REPOSITORY_FAILURE_TAG && t.items.is_empty() && old.spec_tag(&t.tag).is_none()
            };
            new.status.tags.retain(|t| !stale(t));
            for (tag, imported) in tags.iter().filter(|(tag, _)| old.spec_tag(tag).is_none()) {
                match imported {
                    Ok(resolved) => {
                        record_image_object(tx, resolved)?;
                        let event = TagEvent {
                            created: now.into(),
                            docker_image_reference: resolved.docker_image_reference.clone(),
                            image: resolved.image.metadata.name.clone(),
                            generation,
                        };
                        if add_tag_event(&mut new, tag, event.clone()) {
                            update_tracking_tags(&mut new, tag, &event);
                        }
                        if let Some(list) = new.status.tags.iter_mut().find(|t| t.tag == *tag) {
                            list.conditions.clear();
                        }
                    }
                    Err(failure) => {
                        set_import_failure(&mut new, tag, generation, &failure.reason, &failure.message, now);
                        failed_imports.push((tag.clone(), failure.clone()));
                    }
                }
            }
        }
        Err(failure) => {
            if old.spec_tag(REPOSITORY_FAILURE_TAG).is_none() {
                set_import_failure(
                    &mut new,
                    REPOSITORY_FAILURE_TAG,
                    generation,
                    &failure.reason,
                    &failure.message,
                    now,
                );
            }
            failed_imports.push((REPOSITORY_FAILURE_TAG.to_owned(), failure.clone()));
        }
    }
    let (stream, changes) = save(tx, Some(&old), new)?;
    Ok(Some(StreamWrite { stream, created: false, changes, pending_imports: Vec::new(), failed_imports }))
}

/// The tags of `stream` that are re-imported periodically: scheduled, with a
/// `DockerImage` source, and not a reference.
pub fn scheduled_tags(stream: &ImageStream) -> Vec<String> {
    stream
        .spec
        .tags
        .iter()
        .filter(|spec| {
            spec.import_policy.scheduled
                && !spec.reference
                && spec.from.as_ref().is_some_and(|from| from.kind == KIND_DOCKER_IMAGE)
        })
        .map(|spec| spec.name.clone())
        .collect()
}

/// The imports a stream still needs: importable spec tags whose generation is
/// newer than what their history has seen.
pub fn pending_imports(stream: &ImageStream) -> Vec<PendingImport> {
    stream
        .spec
        .tags
        .iter()
        .filter_map(|spec| {
            let from = spec.from.as_ref()?;
            let generation = spec.generation?;
            (from.kind == KIND_DOCKER_IMAGE && !spec.reference && generation > observed_generation(stream, &spec.name))
                .then(|| PendingImport {
                    tag: spec.name.clone(),
                    from: from.name.clone(),
                    generation,
                    insecure: spec.import_policy.insecure,
                })
        })
        .collect()
}

/// Image-stream invariants over the whole store (for `check`): every stream
/// decodes, its tags are sorted and unique, every history item has a
/// reference and every item's image is recorded.
pub fn check_streams(tx: &Tx<'_>) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for object in tx.list(ImageStream::KIND, None)? {
        let label = format!("ImageStream {}/{}", object.namespace, object.name);
        let stream: ImageStream = match object.decode() {
            Ok(stream) => stream,
            Err(e) => {
                problems.push(format!("{label}: {e}"));
                continue;
            }
        };
        let spec_names: Vec<&str> = stream.spec.tags.iter().map(|t| t.name.as_str()).collect();
        if !spec_names.windows(2).all(|w| w[0] < w[1]) {
            problems.push(format!("{label}: spec tags are not sorted and unique: {spec_names:?}"));
        }
        let status_names: Vec<&str> = stream.status.tags.iter().map(|t| t.tag.as_str()).collect();
        if !status_names.windows(2).all(|w| w[0] < w[1]) {
            problems.push(format!("{label}: status tags are not sorted and unique: {status_names:?}"));
        }
        for list in &stream.status.tags {
            for item in &list.items {
                if item.docker_image_reference.is_empty() {
                    problems.push(format!("{label}: tag {} has an item without a reference", list.tag));
                }
                if !item.image.is_empty() && tx.get(Image::KIND, "", &item.image)?.is_none() {
                    problems.push(format!(
                        "{label}: tag {} refers to image {} which is not recorded",
                        list.tag, item.image
                    ));
                }
            }
        }
        if stream.status.docker_image_repository != stream.repository() {
            problems
                .push(format!("{label}: status.dockerImageRepository is {:?}", stream.status.docker_image_repository));
        }
    }
    Ok(problems)
}
