//! `docker-archive:`: the format of `docker save` and `docker load`.
//!
//! Written in the classic layout that every Docker and Podman version loads:
//! `manifest.json` (`[{"Config", "RepoTags", "Layers"}]`), `repositories`,
//! the config as `<hex>.json`, and each layer uncompressed as
//! `<id>/layer.tar` with `<id>/VERSION` and `<id>/json`, where `<id>` is a
//! hash of the layer's diff ID and the ids below it (stable, so equal images
//! give equal archives). Reading accepts that layout, the newer one of
//! Docker 25+ (`blobs/sha256/…`), layers shared through symbolic links and
//! compressed layer files.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use serde::{Deserialize, Serialize};

use super::{ArchiveWriter, Section, TarIndex, archive_writer};
use crate::digest::{Digest, HashingReader};
use crate::error::{Error, Result};
use crate::spec::{self, Descriptor, ImageConfig};

/// One image of `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DockerManifestEntry {
    /// The config file's name in the archive.
    pub config: String,
    /// The image's names (`name:tag`).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub repo_tags: Vec<String>,
    /// The layer files' names, base first.
    pub layers: Vec<String>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(deserializer)?.unwrap_or_default())
}

/// A layer to put into a `docker-archive`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveLayer {
    /// The blob as stored (a gzip media type means it is decompressed on the way).
    pub descriptor: Descriptor,
    /// The uncompressed tar's digest (checked while it is written).
    pub diff_id: Digest,
    /// The uncompressed tar's size, when known; otherwise the blob is read
    /// twice (once to measure).
    pub uncompressed_size: Option<u64>,
}

/// What [`write_docker_archive`] writes.
#[derive(Debug, Clone)]
pub struct DockerArchiveImage<'a> {
    /// The config JSON.
    pub config: &'a [u8],
    /// Names to load the image under (`name:tag`); may be empty.
    pub repo_tags: Vec<String>,
    /// The layers, base first, matching the config's diff IDs.
    pub layers: Vec<ArchiveLayer>,
    /// How many of the base layers are listed in `manifest.json` but not
    /// written: Docker loads such an archive when it has those layers
    /// already (Podman and `docker-archive` readers do not); 0 for a
    /// complete archive.
    pub leave_out: usize,
}

/// Write a `docker-archive` into `out`; `open_blob` opens a layer blob.
pub fn write_docker_archive<W: Write>(
    out: W,
    image: &DockerArchiveImage<'_>,
    open_blob: &mut dyn FnMut(&Descriptor) -> Result<Box<dyn Read>>,
    mtime: u64,
) -> Result<W> {
    let config: ImageConfig = spec::from_json(image.config, "the image config")?;
    let diff_ids: Vec<&Digest> = image.layers.iter().map(|l| &l.diff_id).collect();
    if config.rootfs.diff_ids.iter().collect::<Vec<_>>() != diff_ids {
        return Err(Error::InvalidImage {
            reason: "the layers given are not the config's rootfs.diff_ids".to_owned(),
            help: "give the image's layers in the order of its config".to_owned(),
        });
    }
    let config_digest = Digest::of(image.config);
    let config_name = format!("{}.json", config_digest.hex());

    // Legacy ids: each a hash of the one below and the layer's diff ID.
    let mut ids: Vec<String> = Vec::new();
    for layer in &image.layers {
        let parent = ids.last().cloned().unwrap_or_default();
        ids.push(Digest::of(format!("{parent}\n{}", layer.diff_id).as_bytes()).hex().to_owned());
    }
    let manifest = vec![DockerManifestEntry {
        config: config_name.clone(),
        repo_tags: image.repo_tags.clone(),
        layers: ids.iter().map(|id| format!("{id}/layer.tar")).collect(),
    }];
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    if let Some(top) = ids.last() {
        for name in &image.repo_tags {
            let (repository, tag) = split_tag(name);
            repositories.entry(repository.to_owned()).or_default().insert(tag.to_owned(), top.clone());
        }
    }

    // Entries in name order, as the tar writer wants them.
    let mut names: Vec<(String, Item<'_>)> = vec![
        (config_name, Item::Bytes(image.config.to_vec())),
        ("manifest.json".to_owned(), Item::Bytes(spec::to_json(&manifest))),
    ];
    if !repositories.is_empty() {
        names.push(("repositories".to_owned(), Item::Bytes(spec::to_json(&repositories))));
    }
    for (position, (id, layer)) in ids.iter().zip(&image.layers).enumerate() {
        if position < image.leave_out {
            continue;
        }
        let mut legacy = serde_json::Map::new();
        legacy.insert("id".to_owned(), id.clone().into());
        if position > 0 {
            legacy.insert("parent".to_owned(), ids[position - 1].clone().into());
        }
        names.push((id.clone(), Item::Dir));
        names.push((format!("{id}/VERSION"), Item::Bytes(b"1.0".to_vec())));
        names.push((format!("{id}/json"), Item::Bytes(spec::to_json(&legacy))));
        names.push((format!("{id}/layer.tar"), Item::Layer(layer)));
    }
    names.sort_by(|a, b| a.0.cmp(&b.0));

    let mut tar: ArchiveWriter<W> = archive_writer(out, mtime);
    for (name, item) in names {
        match item {
            Item::Dir => tar.dir(&name)?,
            Item::Bytes(bytes) => tar.bytes(&name, &bytes)?,
            Item::Layer(layer) => {
                let size = match layer.uncompressed_size {
                    Some(size) => size,
                    None => io::copy(&mut uncompressed(layer, open_blob)?, &mut io::sink())
                        .map_err(Error::io(format!("read the layer {}", layer.descriptor.digest)))?,
                };
                let mut content =
                    HashingReader::verifying(uncompressed(layer, open_blob)?, layer.diff_id.clone(), size);
                tar.file(&name, size, &mut content)?;
            }
        }
    }
    tar.finish()
}

enum Item<'a> {
    Dir,
    Bytes(Vec<u8>),
    Layer(&'a ArchiveLayer),
}

/// The uncompressed tar of a layer blob.
fn uncompressed(
    layer: &ArchiveLayer,
    open_blob: &mut dyn FnMut(&Descriptor) -> Result<Box<dyn Read>>,
) -> Result<Box<dyn Read>> {
    let blob = open_blob(&layer.descriptor)?;
    let media = layer.descriptor.media_type.as_str();
    if media.ends_with("gzip") {
        Ok(Box::new(GzDecoder::new(blob)))
    } else if media.ends_with(".tar") {
        Ok(blob)
    } else {
        Err(Error::InvalidImage {
            reason: format!("the layer {} is {media}, which a docker-archive cannot hold", layer.descriptor.digest),
            help: "docker-archive takes gzip or uncompressed layers; write this image to oci: instead".to_owned(),
        })
    }
}

/// `name:tag` → (`name`, `tag`); a name without tag gets `latest`.
fn split_tag(name: &str) -> (&str, &str) {
    match name.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => (repository, tag),
        _ => (name, "latest"),
    }
}

/// A `docker-archive` opened for reading.
#[derive(Debug)]
pub struct DockerArchive {
    path: PathBuf,
    file: File,
    index: TarIndex,
    manifest: Vec<DockerManifestEntry>,
    /// A compressed archive, unpacked to this temporary file.
    _unpacked: Option<tempfile::NamedTempFile>,
}

impl DockerArchive {
    /// Open the archive at `path` (a gzip-compressed one is unpacked to a
    /// temporary file first).
    pub fn open(path: &Path) -> Result<Self> {
        let mut file = File::open(path).map_err(Error::io(format!("open {}", path.display())))?;
        let mut magic = [0u8; 2];
        let compressed = file.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b];
        let mut unpacked = None;
        if compressed {
            let mut temp = tempfile::NamedTempFile::new().map_err(Error::io("create a temporary file"))?;
            let source = File::open(path).map_err(Error::io(format!("open {}", path.display())))?;
            io::copy(&mut GzDecoder::new(source), temp.as_file_mut())
                .map_err(Error::io(format!("decompress {}", path.display())))?;
            file = temp.reopen().map_err(Error::io("reopen a temporary file"))?;
            unpacked = Some(temp);
        }
        let index = TarIndex::build(&mut file, path, "docker-archive")?;
        let mut archive = Self { path: path.to_path_buf(), file, index, manifest: Vec::new(), _unpacked: unpacked };
        let bytes = archive.read_small("manifest.json")?;
        archive.manifest = spec::from_json(&bytes, &format!("manifest.json of {}", path.display()))?;
        if archive.manifest.is_empty() {
            return Err(archive.invalid("its manifest.json lists no image".to_owned()));
        }
        Ok(archive)
    }

    /// The images of `manifest.json`.
    pub fn images(&self) -> &[DockerManifestEntry] {
        &self.manifest
    }

    /// The image named `name` (`name:tag` as in `RepoTags`, or `@N` for the
    /// N-th image); with `None`, the only image.
    pub fn image(&self, name: Option<&str>) -> Result<&DockerManifestEntry> {
        let found = match name {
            None if self.manifest.len() == 1 => self.manifest.first(),
            None => None,
            Some(position) if position.starts_with('@') => {
                position[1..].parse::<usize>().ok().and_then(|n| self.manifest.get(n))
            }
            Some(name) => {
                let wanted = with_tag(name);
                self.manifest.iter().find(|entry| entry.repo_tags.iter().any(|tag| with_tag(tag) == wanted))
            }
        };
        found.ok_or_else(|| Error::ReferenceNotFound {
            location: format!("docker-archive:{}", self.path.display()),
            reference: name.unwrap_or_default().to_owned(),
            available: self.manifest.iter().flat_map(|entry| entry.repo_tags.clone()).collect(),
        })
    }

    /// An image's config: its bytes (digest = image ID) and parsed.
    pub fn config(&self, image: &DockerManifestEntry) -> Result<(Vec<u8>, ImageConfig)> {
        let bytes = self.read_small(&image.config)?;
        let config = spec::from_json(&bytes, &format!("{} of {}", image.config, self.path.display()))?;
        Ok((bytes, config))
    }

    /// A file of the archive.
    pub fn open_file(&self, name: &str) -> Result<impl Read + '_> {
        let location = self.index.find(name).ok_or_else(|| self.invalid(format!("it has no file {name}")))?;
        Ok(Section::new(&self.file, location))
    }

    /// The uncompressed tar of an image's `position`-th layer (base first).
    pub fn open_layer(&self, image: &DockerManifestEntry, position: usize) -> Result<Box<dyn Read + '_>> {
        let name = image.layers.get(position).ok_or_else(|| {
            self.invalid(format!("the image has {} layers, not {}", image.layers.len(), position + 1))
        })?;
        let mut file = self.open_file(name)?;
        let mut magic = [0u8; 2];
        let read = file.read(&mut magic).map_err(Error::io(format!("read {name}")))?;
        let rest = self.open_file(name)?;
        if read == 2 && magic == [0x1f, 0x8b] { Ok(Box::new(GzDecoder::new(rest))) } else { Ok(Box::new(rest)) }
    }

    fn read_small(&self, name: &str) -> Result<Vec<u8>> {
        let location = self.index.find(name).ok_or_else(|| self.invalid(format!("it has no {name}")))?;
        if location.1 > crate::layout::MAX_DOCUMENT_SIZE {
            return Err(self.invalid(format!("its {name} is {} bytes", location.1)));
        }
        let mut bytes = Vec::new();
        Section::new(&self.file, location).read_to_end(&mut bytes).map_err(Error::io(format!("read {name}")))?;
        Ok(bytes)
    }

    fn invalid(&self, reason: String) -> Error {
        Error::InvalidArchive {
            path: self.path.clone(),
            format: "docker-archive".to_owned(),
            reason,
            help: "write the archive again (docker save -o FILE IMAGE)".to_owned(),
        }
    }
}

/// `name` with `:latest` when it has no tag, for comparing names.
fn with_tag(name: &str) -> String {
    let (repository, tag) = split_tag(name);
    format!("{repository}:{tag}")
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::layer::{Compression, LayerEntry, LayerOptions, LayerWriter};
    use crate::spec::media_type;

    fn layer(content: &[u8]) -> (Vec<u8>, crate::layer::LayerSummary) {
        let mut writer =
            LayerWriter::new(Vec::new(), LayerOptions { compression: Compression::Gzip, ..Default::default() });
        writer.append(&LayerEntry::file("f", content.len() as u64, 0o644), &mut &content[..]).unwrap();
        writer.finish().unwrap()
    }

    #[test]
    fn writes_and_reads_back() {
        let (blob_a, a) = layer(b"a");
        let (blob_b, b) = layer(b"b");
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}","{}"]}}}}"#,
            a.diff_id, b.diff_id
        );
        let layers = vec![
            ArchiveLayer { descriptor: a.descriptor(), diff_id: a.diff_id.clone(), uncompressed_size: None },
            ArchiveLayer {
                descriptor: b.descriptor(),
                diff_id: b.diff_id.clone(),
                uncompressed_size: Some(b.uncompressed_size),
            },
        ];
        let image =
            DockerArchiveImage { config: config.as_bytes(), repo_tags: vec!["app:1".into()], layers, leave_out: 0 };
        let blobs = HashMap::from([(a.digest.clone(), blob_a), (b.digest.clone(), blob_b)]);
        let mut open =
            |d: &Descriptor| -> Result<Box<dyn Read>> { Ok(Box::new(io::Cursor::new(blobs[&d.digest].clone()))) };
        let first = write_docker_archive(Vec::new(), &image, &mut open, 0).unwrap();
        let second = write_docker_archive(Vec::new(), &image, &mut open, 0).unwrap();
        assert_eq!(first, second);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("image.tar");
        std::fs::write(&path, &first).unwrap();
        let archive = DockerArchive::open(&path).unwrap();
        let entry = archive.image(Some("app:1")).unwrap().clone();
        assert_eq!(archive.image(None).unwrap(), &entry);
        assert!(archive.image(Some("other")).is_err());
        let (bytes, parsed) = archive.config(&entry).unwrap();
        assert_eq!(bytes, config.as_bytes());
        for (position, diff_id) in parsed.rootfs.diff_ids.iter().enumerate() {
            let mut reader = HashingReader::new(archive.open_layer(&entry, position).unwrap());
            io::copy(&mut reader, &mut io::sink()).unwrap();
            assert_eq!(&reader.finish().0, diff_id);
        }
        let repositories: HashMap<String, BTreeMap<String, String>> =
            serde_json::from_slice(&archive.read_small("repositories").unwrap()).unwrap();
        assert!(repositories["app"].contains_key("1"));
    }

    #[test]
    fn wrong_layer_content_is_refused() {
        let (blob, a) = layer(b"a");
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
            Digest::of(b"other")
        );
        let layers = vec![ArchiveLayer {
            descriptor: a.descriptor(),
            diff_id: Digest::of(b"other"),
            uncompressed_size: Some(a.uncompressed_size),
        }];
        let image = DockerArchiveImage { config: config.as_bytes(), repo_tags: vec![], layers, leave_out: 0 };
        let mut open = |_: &Descriptor| -> Result<Box<dyn Read>> { Ok(Box::new(io::Cursor::new(blob.clone()))) };
        assert!(write_docker_archive(Vec::new(), &image, &mut open, 0).is_err());
        assert_eq!(media_type::OCI_LAYER_TAR_GZIP, a.descriptor().media_type);
    }
}
