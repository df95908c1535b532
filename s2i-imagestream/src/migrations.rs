//! Stored image streams and images written by older versions, rewritten
//! once per store ([`migrate`]).
//!
//! `s2i-imagestream/engine-id-references`: an image only the local engine
//! has was recorded as `<namespace>/<stream>@<image ID>`, which no engine
//! can pull or run (an image ID is not a manifest digest). Such references
//! become the bare image ID (`sha256:…`), which the engine runs as exactly
//! that image — in the `Image` objects and in every history entry of the
//! streams' tags. Registry references are left as they are.

use s2i_store::{ObjectMigration, Store, Tx};

use crate::types::{Image, ImageStream};

/// The object migrations of this crate, in order. Append only.
pub const MIGRATIONS: &[ObjectMigration] = &[ObjectMigration {
    id: "s2i-imagestream/engine-id-references",
    description: "references of engine-only images become their image ID, which the engine runs",
    run: engine_id_references,
}];

/// Runs the steps of [`MIGRATIONS`] this store has not run yet; returns
/// their ids. Programs that open a store call it once after opening.
pub fn migrate(store: &Store) -> s2i_store::Result<Vec<&'static str>> {
    store.migrate_objects(MIGRATIONS)
}

/// `<anything>@<id>` of an image whose digest is its engine ID: the ID.
fn engine_reference(reference: &str, image: &str, engine_only: bool) -> Option<String> {
    let (_, digest) = reference.rsplit_once('@')?;
    (engine_only && digest == image).then(|| image.to_owned())
}

fn engine_id_references(tx: &Tx<'_>) -> s2i_store::Result<()> {
    let mut engine_only = std::collections::BTreeSet::new();
    for mut image in tx.list_as::<Image>(None)? {
        if image.engine_id() != Some(image.metadata.name.as_str()) {
            continue;
        }
        engine_only.insert(image.metadata.name.clone());
        if let Some(id) = engine_reference(&image.docker_image_reference, &image.metadata.name, true) {
            image.docker_image_reference = id;
            tx.update_as(&image)?;
        }
    }
    for mut stream in tx.list_as::<ImageStream>(None)? {
        let mut changed = false;
        for item in stream.status.tags.iter_mut().flat_map(|tag| tag.items.iter_mut()) {
            let is_engine_only = engine_only.contains(&item.image);
            if let Some(id) = engine_reference(&item.docker_image_reference, &item.image, is_engine_only) {
                item.docker_image_reference = id;
                changed = true;
            }
        }
        if changed {
            tx.update_as(&stream)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_engine_only_references_by_id_are_rewritten() {
        let id = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
        assert_eq!(engine_reference(&format!("dev/app@{id}"), id, true).as_deref(), Some(id));
        assert_eq!(engine_reference(&format!("dev/app@{id}"), id, false), None);
        assert_eq!(engine_reference("quay.io/x/app@sha256:22", id, true), None);
        assert_eq!(engine_reference(id, id, true), None, "already an ID");
    }
}
