//! The views of image streams: `ImageStreamTag` (one tag: its spec and its
//! newest image) and `ImageStreamImage` (an image a stream refers to), read
//! from the stream they show; and what writing an `ImageStreamTag` means.
//! Neither is stored: the stream is
//! (docs/compatibility.md#imagestreamtag-and-imagestreamimage).

use std::collections::BTreeMap;

use s2i_store::{Resource, Tx, WriteAction};

use crate::error::{Error, Result};
use crate::names::{split_isimage_name, split_istag_name, validate_stream_name, validate_tag};
use crate::streams::{StreamWrite, find_image_item, stream_not_found, write_stream};
use crate::types::{API_VERSION, Image, ImageStream, ImageStreamImage, ImageStreamTag, KIND_ISIMAGE, KIND_ISTAG};

// ---------------------------------------------------------------------------
// Reading.

/// The `ImageStreamTag` `<stream>:<tag>`: the tag's newest image with
/// its metadata overrides merged in. Not found unless the tag has an image.
pub fn get_istag(tx: &Tx<'_>, namespace: &str, name: &str) -> Result<ImageStreamTag> {
    let (stream_name, tag) = split_istag_name(name)?;
    let stream: ImageStream =
        tx.get_as(namespace, stream_name)?.ok_or_else(|| stream_not_found(namespace, stream_name))?;
    istag_view(tx, &stream, tag)?.ok_or_else(|| match stream.status_tag(tag) {
        Some(_) => Error::TagWithoutImage { namespace: namespace.into(), stream: stream_name.into(), tag: tag.into() },
        None => Error::NotFound {
            kind: KIND_ISTAG.into(),
            namespace: namespace.into(),
            name: name.into(),
            referenced: false,
            help: format!("the stream's tags are: {}", stream.tag_names().join(", ")),
        },
    })
}

/// Every `ImageStreamTag` of `namespace` (every namespace when `None`), sorted by namespace and name.
pub fn list_istags(tx: &Tx<'_>, namespace: Option<&str>) -> Result<Vec<ImageStreamTag>> {
    let mut views = Vec::new();
    for stream in tx.list_as::<ImageStream>(namespace)? {
        for list in &stream.status.tags {
            if let Some(view) = istag_view(tx, &stream, &list.tag)? {
                views.push(view);
            }
        }
    }
    Ok(views)
}

fn istag_view(tx: &Tx<'_>, stream: &ImageStream, tag: &str) -> Result<Option<ImageStreamTag>> {
    let Some(list) = stream.status_tag(tag) else { return Ok(None) };
    let Some(item) = list.items.first().filter(|item| !item.image.is_empty()) else { return Ok(None) };
    let spec = stream.spec_tag(tag).cloned();
    let overrides = spec.as_ref().and_then(|s| s.annotations.clone()).unwrap_or_default();
    let mut image = match tx.get_as::<Image>("", &item.image)? {
        Some(image) => image.stripped(),
        None => Image {
            api_version: API_VERSION.into(),
            kind: Image::KIND.into(),
            metadata: s2i_store::ObjectMeta::named("", item.image.clone()),
            ..Image::default()
        },
    };
    image.metadata.annotations.extend(overrides.clone());
    image.docker_image_reference = stream.resolve_pull_spec(tag).unwrap_or_default();
    let mut metadata =
        s2i_store::ObjectMeta::named(stream.metadata.namespace.clone(), format!("{}:{tag}", stream.metadata.name));
    metadata.uid = stream.metadata.uid.clone();
    metadata.resource_version = stream.metadata.resource_version.clone();
    metadata.creation_timestamp = s2i_store::timestamp::parse(&item.created).ok();
    metadata.annotations = overrides;
    Ok(Some(ImageStreamTag {
        api_version: API_VERSION.into(),
        kind: KIND_ISTAG.into(),
        metadata,
        tag: spec,
        generation: item.generation,
        lookup_policy: stream.spec.lookup_policy.clone(),
        conditions: list.conditions.clone(),
        image,
    }))
}

/// The `ImageStreamImage` `<stream>@<id>`: an image the stream refers to.
pub fn get_isimage(tx: &Tx<'_>, namespace: &str, name: &str) -> Result<ImageStreamImage> {
    let (stream_name, id) = split_isimage_name(name)?;
    let stream: ImageStream =
        tx.get_as(namespace, stream_name)?.ok_or_else(|| stream_not_found(namespace, stream_name))?;
    let not_found = || Error::NotFound {
        kind: KIND_ISIMAGE.into(),
        namespace: namespace.into(),
        name: name.into(),
        referenced: false,
        help: format!("stream {stream_name} refers to no image matching {id}"),
    };
    let item = find_image_item(&stream, id)?.ok_or_else(not_found)?;
    let image = tx.get_as::<Image>("", &item.image)?.ok_or_else(not_found)?.stripped();
    let mut metadata =
        s2i_store::ObjectMeta::named(stream.metadata.namespace.clone(), format!("{stream_name}@{}", item.image));
    metadata.uid = stream.metadata.uid.clone();
    metadata.resource_version = stream.metadata.resource_version.clone();
    metadata.creation_timestamp = image.metadata.creation_timestamp;
    metadata.annotations = stream.metadata.annotations.clone();
    Ok(ImageStreamImage { api_version: API_VERSION.into(), kind: KIND_ISIMAGE.into(), metadata, image })
}

// ---------------------------------------------------------------------------
// Writing an ImageStreamTag.

/// Check an `ImageStreamTag` as a client wrote it, before anything is
/// written: its name is `<stream>:<tag>` with a valid stream name and tag.
pub fn validate_istag(istag: &ImageStreamTag) -> Result<()> {
    let (stream, tag) = split_istag_name(&istag.metadata.name)?;
    validate_stream_name(&istag.metadata.namespace, stream)?;
    validate_tag(tag)
}

/// Create or update an `ImageStreamTag` as the API server does, in
/// the stream it is a view of:
///
/// - the stream is created when it does not exist;
/// - the body's `tag` replaces the spec tag (its name forced to the
///   istag's tag); without `tag`, the spec tag must exist already
///   ([`Error::InvalidRequest`] "is not a spec tag");
/// - the spec tag's annotations are the istag's `metadata.annotations`
///   (none when empty);
/// - a `metadata.resourceVersion` is the stream's, and must be current.
///
/// Returns the stream's write and what it did to the tag: created (a new
/// stream or spec tag), configured, or unchanged.
pub fn apply_istag(tx: &Tx<'_>, istag: ImageStreamTag) -> Result<(StreamWrite, WriteAction)> {
    validate_istag(&istag)?;
    let (stream_name, tag) = split_istag_name(&istag.metadata.name)?;
    let namespace = istag.metadata.namespace.clone();
    let before: Option<ImageStream> = tx.get_as(&namespace, stream_name)?;
    let mut stream = before.clone().unwrap_or_else(|| ImageStream::new(&namespace, stream_name));
    let mut spec = match (istag.tag, stream.spec_tag(tag).cloned()) {
        (Some(mut spec), _) => {
            spec.name = tag.to_owned();
            spec
        }
        (None, Some(existing)) => existing,
        (None, None) => {
            return Err(Error::InvalidRequest {
                message: format!("ImageStreamTag {stream_name}:{tag}: {tag} is not a spec tag"),
                help: "give the tag's source in `tag:` (e.g. tag: {from: {kind: DockerImage, name: …}})".into(),
            });
        }
    };
    spec.annotations = (!istag.metadata.annotations.is_empty()).then_some(istag.metadata.annotations);
    stream.spec.tags.retain(|t| t.name != tag);
    stream.spec.tags.push(spec);
    stream.metadata.resource_version = istag.metadata.resource_version;
    let write = write_stream(tx, stream, &BTreeMap::new())?;
    let action = match &before {
        Some(b) if b.metadata.resource_version == write.stream.metadata.resource_version => WriteAction::Unchanged,
        Some(b) if b.spec_tag(tag).is_some() => WriteAction::Configured,
        _ => WriteAction::Created,
    };
    Ok((write, action))
}
