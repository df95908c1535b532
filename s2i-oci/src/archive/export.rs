//! An engine's export of one image (`GET /images/{name}/get`, what `docker
//! save` writes), read as a stream in one pass: the image's config exactly
//! as stored (its digest is the image ID) and, when asked, its layers as
//! blobs of an [`OciLayout`].
//!
//! The export is a `docker-archive` in any of its dialects: Docker's classic
//! one (`<id>/layer.tar`, duplicates as symbolic links), Podman's
//! (`<diff-id>.tar`) and Docker 25's (`blobs/sha256/…` with an OCI index).
//! Entries come in name order, not layer order, so every layer is hashed as
//! it passes and matched to the config's diff IDs at the end; nothing is
//! held in memory but the config and `manifest.json`. When only the config
//! is wanted, reading stops as soon as it has passed.

use std::collections::HashMap;
use std::io::{self, Read};

use super::docker::DockerManifestEntry;
use super::{clean, link_target, read_small, read_up_to};
use crate::digest::{Digest, HashingReader};
use crate::error::{Error, Result};
use crate::layer::{Compression, LayerSummary, compress_layer};
use crate::layout::OciLayout;
use crate::spec::{self, Descriptor, ImageConfig};

/// What to keep of an export's layers.
#[derive(Debug, Clone, Copy)]
pub enum ExportLayers<'a> {
    /// Nothing: only the config is read (the export is not read to its end).
    ConfigOnly,
    /// Each layer as it is, an uncompressed tar blob, in the layout.
    Tar(&'a OciLayout),
    /// Each layer gzip-compressed as [`compress_layer`] compresses (so the
    /// same layer always gives the same blob), in the layout.
    Gzip(&'a OciLayout),
}

/// One layer of an exported image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedLayer {
    /// The digest of its uncompressed tar (the config's `rootfs.diff_ids`).
    pub diff_id: Digest,
    /// Its blob in the layout, unless only the config was read.
    pub blob: Option<LayerSummary>,
}

/// An exported image.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportedImage {
    /// The config's bytes, as the engine stores them (their digest is the image ID).
    pub config: Vec<u8>,
    /// The config, parsed.
    pub parsed: ImageConfig,
    /// The layers, base first.
    pub layers: Vec<ExportedLayer>,
}

impl ExportedImage {
    /// The layers' blob descriptors, base first (`None` when only the config was read).
    pub fn layer_descriptors(&self) -> Option<Vec<Descriptor>> {
        self.layers.iter().map(|layer| layer.blob.as_ref().map(LayerSummary::descriptor)).collect()
    }
}

/// Read the export of the image whose ID is `image_id`; see the [archive module docs](crate::archive).
pub fn read_image_export(export: &mut dyn Read, image_id: &Digest, layers: ExportLayers<'_>) -> Result<ExportedImage> {
    let what = format!("the export of image {image_id}");
    let invalid = |reason: String| Error::InvalidTar { what: what.clone(), reason };
    let config_names = [format!("{}.json", image_id.hex()), format!("blobs/sha256/{}", image_id.hex())];
    let mut config: Option<Vec<u8>> = None;
    let mut manifest: Option<Vec<DockerManifestEntry>> = None;
    // Layers by the name they have in the export.
    let mut files: HashMap<String, LayerSummary> = HashMap::new();
    let mut links: HashMap<String, String> = HashMap::new();

    let mut archive = tar::Archive::new(export);
    for entry in archive.entries().map_err(|e| invalid(e.to_string()))? {
        let mut entry = entry.map_err(|e| invalid(e.to_string()))?;
        let name = clean(&String::from_utf8_lossy(&entry.path_bytes()));
        let kind = entry.header().entry_type();
        if let Some(target) = link_target(&entry, &name) {
            links.insert(name, target);
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        if config_names.contains(&name) {
            let bytes = read_small(&mut entry, &name).map_err(&invalid)?;
            if Digest::of(&bytes) != *image_id {
                return Err(invalid(format!("its config {name} does not have the digest {image_id}")));
            }
            config = Some(bytes);
            if matches!(layers, ExportLayers::ConfigOnly) {
                break;
            }
            continue;
        }
        if name == "manifest.json" {
            let bytes = read_small(&mut entry, &name).map_err(&invalid)?;
            manifest = Some(spec::from_json(&bytes, &format!("manifest.json of {what}"))?);
            continue;
        }
        let layout = match layers {
            ExportLayers::ConfigOnly => continue,
            ExportLayers::Tar(layout) | ExportLayers::Gzip(layout) => layout,
        };
        // A layer is a tar (or a compressed one); the other files are JSON documents.
        let mut head = [0u8; 2];
        let peeked = read_up_to(&mut entry, &mut head).map_err(|e| invalid(e.to_string()))?;
        let head = &head[..peeked];
        if head.first().is_some_and(|b| matches!(b, b'{' | b'['))
            || name.ends_with("/json")
            || name.ends_with("VERSION")
        {
            continue;
        }
        let mut content = io::Cursor::new(head.to_vec()).chain(&mut entry);
        let mut tar: Box<dyn Read> =
            if head == [0x1f, 0x8b] { Box::new(flate2::read::GzDecoder::new(content)) } else { Box::new(&mut content) };
        let summary = store_layer(&mut tar, layout, layers).map_err(|e| match e {
            Error::Io { source, .. } => invalid(format!("the layer {name}: {source}")),
            other => other,
        })?;
        files.insert(name, summary);
    }

    let config = config.ok_or_else(|| invalid(format!("it holds no config {}.json", image_id.hex())))?;
    let parsed: ImageConfig = spec::from_json(&config, &format!("the config of image {image_id}"))?;
    if matches!(layers, ExportLayers::ConfigOnly) {
        let layers = parsed.rootfs.diff_ids.iter().map(|d| ExportedLayer { diff_id: d.clone(), blob: None }).collect();
        return Ok(ExportedImage { config, parsed, layers });
    }
    let manifest = manifest.ok_or_else(|| invalid("it holds no manifest.json".to_owned()))?;
    let entry = manifest
        .iter()
        .find(|entry| config_names.contains(&clean(&entry.config)))
        .ok_or_else(|| invalid(format!("its manifest.json lists no image with the config {image_id}")))?;
    if entry.layers.len() != parsed.rootfs.diff_ids.len() {
        return Err(invalid(format!(
            "its manifest.json lists {} layers, the config {}",
            entry.layers.len(),
            parsed.rootfs.diff_ids.len()
        )));
    }
    let mut exported = Vec::new();
    for (name, diff_id) in entry.layers.iter().zip(&parsed.rootfs.diff_ids) {
        let mut name = clean(name);
        for _ in 0..16 {
            match links.get(&name) {
                Some(target) => name = target.clone(),
                None => break,
            }
        }
        let Some(summary) = files.get(&name) else {
            return Err(invalid(format!("it does not hold the layer file {name}")));
        };
        if summary.diff_id != *diff_id {
            return Err(invalid(format!("the layer {name} is {}, the config says {diff_id}", summary.diff_id)));
        }
        exported.push(ExportedLayer { diff_id: diff_id.clone(), blob: Some(summary.clone()) });
    }
    Ok(ExportedImage { config, parsed, layers: exported })
}

/// Write one layer's tar into the layout as `layers` says; its summary.
fn store_layer(tar: &mut dyn Read, layout: &OciLayout, layers: ExportLayers<'_>) -> Result<LayerSummary> {
    let writer = layout.blob_writer()?;
    match layers {
        ExportLayers::Gzip(_) => {
            let (writer, summary) = compress_layer(tar, writer)?;
            writer.commit()?;
            Ok(summary)
        }
        _ => {
            let mut hashing = HashingReader::new(tar);
            let mut writer = writer;
            io::copy(&mut hashing, &mut writer).map_err(Error::io("copy a layer of the export"))?;
            let (diff_id, size) = hashing.finish();
            writer.commit()?;
            Ok(LayerSummary {
                diff_id: diff_id.clone(),
                uncompressed_size: size,
                digest: diff_id,
                size,
                compression: Compression::None,
                entries: 0,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::{ArchiveLayer, DockerArchiveImage, write_docker_archive};
    use crate::layer::{LayerEntry, LayerOptions, LayerWriter};
    use crate::spec::media_type;

    fn layer(content: &[u8]) -> (Vec<u8>, LayerSummary) {
        let mut writer =
            LayerWriter::new(Vec::new(), LayerOptions { compression: Compression::None, ..Default::default() });
        writer.append(&LayerEntry::file("f", content.len() as u64, 0o644), &mut &content[..]).unwrap();
        writer.finish().unwrap()
    }

    /// A classic docker-archive of a two-layer image, as `docker save` writes one.
    fn export() -> (Vec<u8>, Digest, Vec<Digest>) {
        let (a_tar, a) = layer(b"a");
        let (b_tar, b) = layer(b"b");
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}","{}"]}}}}"#,
            a.diff_id, b.diff_id
        );
        let layers = vec![
            ArchiveLayer { descriptor: a.descriptor(), diff_id: a.diff_id.clone(), uncompressed_size: None },
            ArchiveLayer { descriptor: b.descriptor(), diff_id: b.diff_id.clone(), uncompressed_size: None },
        ];
        let image =
            DockerArchiveImage { config: config.as_bytes(), repo_tags: vec!["app:1".into()], layers, leave_out: 0 };
        let blobs = HashMap::from([(a.digest.clone(), a_tar), (b.digest.clone(), b_tar)]);
        let mut open =
            |d: &Descriptor| -> Result<Box<dyn Read>> { Ok(Box::new(io::Cursor::new(blobs[&d.digest].clone()))) };
        let archive = write_docker_archive(Vec::new(), &image, &mut open, 0).unwrap();
        (archive, Digest::of(config.as_bytes()), vec![a.diff_id, b.diff_id])
    }

    #[test]
    fn reads_config_and_layers_in_config_order() {
        let (archive, id, diff_ids) = export();
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::create(dir.path()).unwrap();
        let image = read_image_export(&mut &archive[..], &id, ExportLayers::Gzip(&layout)).unwrap();
        assert_eq!(Digest::of(&image.config), id);
        let got: Vec<&Digest> = image.layers.iter().map(|l| &l.diff_id).collect();
        assert_eq!(got, diff_ids.iter().collect::<Vec<_>>());
        for descriptor in image.layer_descriptors().unwrap() {
            assert_eq!(descriptor.media_type, media_type::OCI_LAYER_TAR_GZIP);
            assert!(layout.has_blob(&descriptor.digest));
        }
        let again = read_image_export(&mut &archive[..], &id, ExportLayers::Gzip(&layout)).unwrap();
        assert_eq!(again, image, "the same export gives the same blobs");

        let tars = read_image_export(&mut &archive[..], &id, ExportLayers::Tar(&layout)).unwrap();
        assert_eq!(tars.layer_descriptors().unwrap()[0].digest, diff_ids[0], "an uncompressed blob is its diff ID");

        let config_only = read_image_export(&mut &archive[..], &id, ExportLayers::ConfigOnly).unwrap();
        assert_eq!(config_only.config, image.config);
        assert!(config_only.layer_descriptors().is_none());
    }

    #[test]
    fn another_image_id_is_refused() {
        let (archive, _, _) = export();
        let err = read_image_export(&mut &archive[..], &Digest::of(b"other"), ExportLayers::ConfigOnly).unwrap_err();
        assert!(err.to_string().contains("holds no config"), "{err}");
    }
}
