//! `Image` objects: recorded by the streams when a tag first points at an
//! image, named by digest, cluster-scoped, and never changed. An image a
//! tag's history refers to cannot be deleted.

use s2i_store::{Resource, Tx};

use crate::error::{Error, Result};
use crate::streams::StreamTag;
use crate::types::{Image, ImageStream};

fn image_not_found(name: &str) -> Error {
    Error::NotFound {
        kind: Image::KIND.into(),
        namespace: String::new(),
        name: name.into(),
        referenced: false,
        help: "images are named by their digest, sha256:<64 hex digits>".into(),
    }
}

/// The image named `name` (a digest), without its manifest and config (as
/// the API server returns images).
pub fn get_image(tx: &Tx<'_>, name: &str) -> Result<Image> {
    let image: Image = tx.get_as("", name)?.ok_or_else(|| image_not_found(name))?;
    Ok(image.stripped())
}

/// Every image of the store, by name, without manifests and configs.
pub fn list_images(tx: &Tx<'_>) -> Result<Vec<Image>> {
    Ok(tx.list_as::<Image>(None)?.into_iter().map(Image::stripped).collect())
}

/// The tags, in every namespace, whose history refers to image `name`.
pub(crate) fn tags_holding(tx: &Tx<'_>, name: &str) -> Result<Vec<StreamTag>> {
    Ok(tx
        .list_as::<ImageStream>(None)?
        .iter()
        .flat_map(|stream| {
            stream.status.tags.iter().filter(|list| list.items.iter().any(|item| item.image == name)).map(|list| {
                StreamTag {
                    namespace: stream.metadata.namespace.clone(),
                    stream: stream.metadata.name.clone(),
                    tag: list.tag.clone(),
                }
            })
        })
        .collect())
}

/// Delete image `name`: refused ([`Error::ImageInUse`]) while the history of
/// a tag refers to it (deleting those tags lets it go). Returns it as it was.
pub fn delete_image(tx: &Tx<'_>, name: &str) -> Result<Image> {
    let tags = tags_holding(tx, name)?;
    if !tags.is_empty() {
        return Err(Error::ImageInUse { image: name.to_owned(), tags });
    }
    tx.delete_as::<Image>("", name)?.ok_or_else(|| image_not_found(name))
}
