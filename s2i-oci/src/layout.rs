//! OCI image layouts (`oci:DIR[:REF]`): a directory with `oci-layout`,
//! `index.json` and `blobs/sha256/<hex>`.
//!
//! Blobs are streamed into a temporary file inside the layout and renamed to
//! their digest once it is known (an existing blob is kept, the copy
//! dropped), so a reader never sees a partial blob and an interrupted write
//! leaves nothing behind. `index.json` is replaced atomically. One process
//! writes a layout at a time.
//!
//! Names: an image manifest in `index.json` carries its name in the
//! `org.opencontainers.image.ref.name` annotation; writing a manifest under a
//! name another manifest had replaces that entry (blobs stay: nothing is
//! garbage-collected).
//!
//! Referrers (image-spec 1.1): an artifact (an SBOM, a provenance statement)
//! is a manifest whose `subject` is the image manifest, whose `artifactType`
//! says what it is, whose config is the empty descriptor `{}` and whose one
//! layer is the document. It is listed in `index.json` without a name, with
//! its `artifactType`; [`OciLayout::referrers`] finds it by its subject.
//! Since an artifact has no name, address the image by name (`oci:DIR:REF`)
//! once a layout holds artifacts: skopeo reads `oci:DIR` without a name only
//! when `index.json` lists exactly one manifest, artifacts included.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::digest::{Digest, HashingReader, HashingWriter};
use crate::error::{Error, Result};
use crate::image::AssembledImage;
use crate::spec::{
    self, Descriptor, EMPTY_JSON, ImageConfig, ImageIndex, ImageManifest, Platform, annotation, media_type,
};

/// The content of `oci-layout`.
const LAYOUT_FILE: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
/// The largest manifest, index or config this crate reads into memory.
pub const MAX_DOCUMENT_SIZE: u64 = 8 * 1024 * 1024;

/// An OCI image layout directory.
#[derive(Debug, Clone)]
pub struct OciLayout {
    root: PathBuf,
}

impl OciLayout {
    /// Open the layout at `dir`, making it (and the directory) if it is not one yet.
    pub fn create(dir: impl Into<PathBuf>) -> Result<Self> {
        let root = dir.into();
        fs::create_dir_all(root.join("blobs").join("sha256"))
            .map_err(Error::io(format!("create the OCI layout {}", root.display())))?;
        let layout = Self { root };
        match fs::read(layout.root.join("oci-layout")) {
            Ok(_) => layout.check_version()?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                layout.write_atomically("oci-layout", LAYOUT_FILE)?;
            }
            Err(e) => return Err(Error::io(format!("read {}", layout.root.join("oci-layout").display()))(e)),
        }
        if !layout.root.join("index.json").exists() {
            layout.write_index(&ImageIndex::default())?;
        }
        Ok(layout)
    }

    /// Open an existing layout.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let layout = Self { root: dir.into() };
        layout.check_version()?;
        Ok(layout)
    }

    /// The layout's directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Where the blob `digest` is (or would be).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs").join(digest.algorithm()).join(digest.hex())
    }

    /// Whether the layout holds the blob.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// A writer for a new blob; [`BlobWriter::commit`] files it under its digest.
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        let file = tempfile::Builder::new()
            .prefix(".s2i-blob-")
            .tempfile_in(self.root.join("blobs"))
            .map_err(Error::io(format!("create a blob in {}", self.root.display())))?;
        Ok(BlobWriter { out: HashingWriter::new(BufWriter::new(file)), layout: self.clone() })
    }

    /// Add a blob from a stream; its digest and size.
    pub fn add_blob(&self, content: &mut dyn Read) -> Result<(Digest, u64)> {
        let mut writer = self.blob_writer()?;
        io::copy(content, &mut writer).map_err(Error::io(format!("write a blob into {}", self.root.display())))?;
        writer.commit()
    }

    /// Add a blob from memory; its digest and size.
    pub fn add_bytes(&self, bytes: &[u8]) -> Result<(Digest, u64)> {
        let digest = Digest::of(bytes);
        if self.has_blob(&digest) {
            return Ok((digest, bytes.len() as u64));
        }
        self.add_blob(&mut &bytes[..])
    }

    /// Give this layout the blob `digest` of `source`: a hard link where both
    /// are on one filesystem, else a copy (checked against the digest).
    pub fn copy_blob_from(&self, source: &OciLayout, digest: &Digest) -> Result<()> {
        if self.has_blob(digest) {
            return Ok(());
        }
        let from = source.blob_path(digest);
        if fs::hard_link(&from, self.blob_path(digest)).is_ok() {
            return Ok(());
        }
        let file = source.open_blob(digest)?;
        let size = file.metadata().map_err(Error::io(format!("read {}", from.display())))?.len();
        let (copied, _) = self.add_blob(&mut HashingReader::verifying(file, digest.clone(), size))?;
        if copied != *digest {
            return Err(self.invalid(format!("the blob {digest} copied from {} is {copied}", source.root.display())));
        }
        Ok(())
    }

    /// Open a blob for reading.
    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        File::open(self.blob_path(digest)).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::BlobNotFound { location: self.location(), digest: digest.to_string() },
            _ => Error::io(format!("open the blob {digest} in {}", self.root.display()))(e),
        })
    }

    /// Read a small blob (a manifest or config) whole, checking its digest and size.
    pub fn read_blob(&self, descriptor: &Descriptor) -> Result<Vec<u8>> {
        if descriptor.size > MAX_DOCUMENT_SIZE {
            return Err(self.invalid(format!("the document {} claims {} bytes", descriptor.digest, descriptor.size)));
        }
        let file = self.open_blob(&descriptor.digest)?;
        let mut reader = HashingReader::verifying(file, descriptor.digest.clone(), descriptor.size);
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).map_err(|e| self.invalid(e.to_string()))?;
        Ok(bytes)
    }

    /// The layout's `index.json`.
    pub fn index(&self) -> Result<ImageIndex> {
        let path = self.root.join("index.json");
        let bytes = fs::read(&path).map_err(Error::io(format!("read {}", path.display())))?;
        spec::from_json(&bytes, &format!("{}", path.display()))
    }

    /// The names of the manifests in `index.json`, in order.
    pub fn references(&self) -> Result<Vec<String>> {
        Ok(self.index()?.manifests.iter().filter_map(|d| d.annotations.get(annotation::REF_NAME).cloned()).collect())
    }

    /// List `manifest` in `index.json` under `reference` (replacing the entry
    /// that had the name), or without a name.
    pub fn set_reference(&self, manifest: &Descriptor, reference: Option<&str>) -> Result<()> {
        let mut index = self.index()?;
        let mut descriptor = manifest.clone();
        descriptor.annotations.remove(annotation::REF_NAME);
        if let Some(name) = reference {
            validate_reference(name).map_err(|reason| Error::InvalidTransport {
                input: name.to_owned(),
                reason,
                help: REFERENCE_HELP.to_owned(),
            })?;
            index.manifests.retain(|d| d.annotations.get(annotation::REF_NAME).map(String::as_str) != Some(name));
            descriptor.annotations.insert(annotation::REF_NAME.to_owned(), name.to_owned());
        } else {
            index
                .manifests
                .retain(|d| d.digest != descriptor.digest || d.annotations.contains_key(annotation::REF_NAME));
        }
        index.manifests.push(descriptor);
        self.drop_orphaned_referrers(&mut index)?;
        self.write_index(&index)
    }

    /// The manifest named `reference`; with `None`, the only image manifest.
    pub fn resolve(&self, reference: Option<&str>) -> Result<Descriptor> {
        let index = self.index()?;
        let images: Vec<&Descriptor> = index.manifests.iter().filter(|d| d.artifact_type.is_none()).collect();
        let found = match reference {
            Some(name) => images
                .iter()
                .find(|d| d.annotations.get(annotation::REF_NAME).map(String::as_str) == Some(name))
                .copied(),
            None if images.len() == 1 => images.first().copied(),
            None => None,
        };
        found.cloned().ok_or_else(|| Error::ReferenceNotFound {
            location: self.location(),
            reference: reference.unwrap_or_default().to_owned(),
            available: images.iter().filter_map(|d| d.annotations.get(annotation::REF_NAME).cloned()).collect(),
        })
    }

    /// Drop the entries of `index.json` that name `reference` (with `None`,
    /// the unnamed entries of `manifest`), and the artifacts that referred
    /// to a manifest no longer listed. Blobs stay until
    /// [`OciLayout::collect_garbage`].
    pub fn remove_reference(&self, manifest: &Digest, reference: Option<&str>) -> Result<()> {
        let mut index = self.index()?;
        index.manifests.retain(|d| {
            let name = d.annotations.get(annotation::REF_NAME).map(String::as_str);
            d.digest != *manifest || name != reference
        });
        self.drop_orphaned_referrers(&mut index)?;
        self.write_index(&index)
    }

    /// Remove the blobs that nothing listed in `index.json` reaches (a
    /// manifest's config and layers, an index's manifests); returns how many
    /// bytes were freed. Call it with no writer at work on the layout.
    pub fn collect_garbage(&self) -> Result<u64> {
        let mut reachable = std::collections::HashSet::new();
        let mut pending: Vec<Descriptor> = self.index()?.manifests;
        while let Some(descriptor) = pending.pop() {
            if !reachable.insert(descriptor.digest.clone()) || !self.has_blob(&descriptor.digest) {
                continue;
            }
            match descriptor.media_type.as_str() {
                media_type::OCI_INDEX | media_type::DOCKER_MANIFEST_LIST => {
                    let bytes = self.read_blob(&descriptor)?;
                    let index: ImageIndex = spec::from_json(&bytes, "an index of the layout")?;
                    pending.extend(index.manifests);
                }
                media_type::OCI_MANIFEST | media_type::DOCKER_MANIFEST => {
                    let manifest = self.read_manifest(&descriptor)?;
                    reachable.insert(manifest.config.digest.clone());
                    reachable.extend(manifest.layers.into_iter().map(|l| l.digest));
                }
                _ => {}
            }
        }
        let dir = self.root.join("blobs").join("sha256");
        let mut freed = 0;
        for entry in fs::read_dir(&dir).map_err(Error::io(format!("read {}", dir.display())))? {
            let entry = entry.map_err(Error::io(format!("read {}", dir.display())))?;
            let Some(digest) = entry.file_name().to_str().and_then(|hex| Digest::parse(&format!("sha256:{hex}")).ok())
            else {
                continue;
            };
            if reachable.contains(&digest) {
                continue;
            }
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            match fs::remove_file(entry.path()) {
                Ok(()) => freed += size,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(format!("remove {}", entry.path().display()))(e)),
            }
        }
        Ok(freed)
    }

    /// Read an image manifest.
    pub fn read_manifest(&self, descriptor: &Descriptor) -> Result<ImageManifest> {
        let bytes = self.read_blob(descriptor)?;
        spec::from_json(&bytes, &format!("the manifest {} in {}", descriptor.digest, self.root.display()))
    }

    /// Read an image config.
    pub fn read_config(&self, manifest: &ImageManifest) -> Result<ImageConfig> {
        let bytes = self.read_blob(&manifest.config)?;
        spec::from_json(&bytes, &format!("the config {} in {}", manifest.config.digest, self.root.display()))
    }

    /// Write an assembled image's config and manifest and name it; its layer
    /// blobs must be in the layout already (written with [`OciLayout::blob_writer`]).
    pub fn write_image(&self, image: &AssembledImage, reference: Option<&str>) -> Result<Descriptor> {
        let descriptor = self.store_image(image)?;
        self.set_reference(&descriptor, reference)?;
        Ok(descriptor)
    }

    /// Write an assembled image as the layout's one unnamed image, what
    /// `oci:DIR` without a name reads: the unnamed entries listed before (an
    /// earlier image, its referrers) go, named images and their referrers
    /// stay. Blobs as for [`OciLayout::write_image`].
    pub fn write_unnamed_image(&self, image: &AssembledImage) -> Result<Descriptor> {
        let mut descriptor = self.store_image(image)?;
        descriptor.annotations.remove(annotation::REF_NAME);
        let mut index = self.index()?;
        // skopeo reads `oci:DIR` only when index.json lists one manifest, so
        // an earlier unnamed image is replaced rather than kept beside it.
        index.manifests.retain(|d| d.annotations.contains_key(annotation::REF_NAME) || d.artifact_type.is_some());
        // Before the image is listed: referrers of an earlier write of the same image go too.
        self.drop_orphaned_referrers(&mut index)?;
        index.manifests.push(descriptor.clone());
        self.write_index(&index)?;
        Ok(descriptor)
    }

    /// Add an image's config and manifest; its descriptor, with its platform.
    fn store_image(&self, image: &AssembledImage) -> Result<Descriptor> {
        for layer in &image.layers {
            if !self.has_blob(&layer.digest) {
                return Err(Error::BlobNotFound { location: self.location(), digest: layer.digest.to_string() });
            }
        }
        self.add_bytes(&image.config)?;
        self.add_bytes(&image.manifest)?;
        let config: ImageConfig = spec::from_json(&image.config, "the image config")?;
        let mut descriptor = image.manifest_descriptor.clone();
        descriptor.platform = Some(Platform {
            architecture: config.architecture,
            os: config.os,
            os_version: config.os_version,
            os_features: Vec::new(),
            variant: config.variant,
        });
        Ok(descriptor)
    }

    /// Attach a document to the manifest `subject` as a referrer: an artifact
    /// manifest of `artifact_type` whose one layer is `content`
    /// (`blob_media_type`). Returns the artifact manifest's descriptor.
    pub fn add_referrer(
        &self,
        subject: &Descriptor,
        artifact_type: &str,
        blob_media_type: &str,
        content: &[u8],
        annotations: BTreeMap<String, String>,
    ) -> Result<Descriptor> {
        let (manifest, descriptor) = artifact_manifest(subject, artifact_type, blob_media_type, content, annotations);
        self.add_bytes(EMPTY_JSON)?;
        self.add_bytes(content)?;
        self.add_bytes(&manifest)?;
        self.set_reference(&descriptor, None)?;
        Ok(descriptor)
    }

    /// The artifacts whose subject is `subject`, optionally of one type, as
    /// descriptors (with `artifactType` and the manifest's annotations).
    pub fn referrers(&self, subject: &Digest, artifact_type: Option<&str>) -> Result<Vec<Descriptor>> {
        let mut found = Vec::new();
        for candidate in self.index()?.manifests {
            if candidate.media_type != media_type::OCI_MANIFEST || candidate.artifact_type.is_none() {
                continue;
            }
            let manifest = self.read_manifest(&candidate)?;
            if manifest.subject.as_ref().map(|s| &s.digest) != Some(subject) {
                continue;
            }
            let kind = manifest.artifact_type.clone().or_else(|| Some(manifest.config.media_type.clone()));
            if artifact_type.is_some_and(|wanted| kind.as_deref() != Some(wanted)) {
                continue;
            }
            let mut descriptor = Descriptor::new(media_type::OCI_MANIFEST, candidate.digest, candidate.size);
            descriptor.artifact_type = kind;
            descriptor.annotations = manifest.annotations;
            found.push(descriptor);
        }
        Ok(found)
    }

    /// `oci:DIR`, for messages.
    fn location(&self) -> String {
        format!("oci:{}", self.root.display())
    }

    fn invalid(&self, reason: String) -> Error {
        Error::InvalidLayout {
            path: self.root.clone(),
            reason,
            help: "the layout is damaged; write the image into a new directory".to_owned(),
        }
    }

    fn check_version(&self) -> Result<()> {
        let path = self.root.join("oci-layout");
        let bytes = fs::read(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::InvalidLayout {
                path: self.root.clone(),
                reason: "it has no oci-layout file".to_owned(),
                help: "name a directory that holds an OCI image layout (skopeo copy … oci:DIR writes one)".to_owned(),
            },
            _ => Error::io(format!("read {}", path.display()))(e),
        })?;
        let value: serde_json::Value = spec::from_json(&bytes, &path.display().to_string())?;
        match value.get("imageLayoutVersion").and_then(|v| v.as_str()) {
            Some(version) if version.starts_with("1.") => Ok(()),
            other => Err(self.invalid(format!("its layout version is {other:?}, this tool reads 1.x"))),
        }
    }

    fn write_index(&self, index: &ImageIndex) -> Result<()> {
        self.write_atomically("index.json", &spec::to_json(index))
    }

    fn write_atomically(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let target = self.root.join(name);
        let action = || format!("write {}", target.display());
        let mut file = tempfile::Builder::new().prefix(".s2i-").tempfile_in(&self.root).map_err(Error::io(action()))?;
        file.write_all(bytes).map_err(Error::io(action()))?;
        set_readable(file.as_file()).map_err(Error::io(action()))?;
        file.persist(&target).map_err(|e| Error::io(action())(e.error))?;
        Ok(())
    }

    /// Remove artifacts whose subject is no longer listed (their image was replaced).
    fn drop_orphaned_referrers(&self, index: &mut ImageIndex) -> Result<()> {
        loop {
            let listed: Vec<Digest> = index.manifests.iter().map(|d| d.digest.clone()).collect();
            let mut orphan = None;
            for (position, descriptor) in index.manifests.iter().enumerate() {
                if descriptor.artifact_type.is_none() || !self.has_blob(&descriptor.digest) {
                    continue;
                }
                let manifest = self.read_manifest(descriptor)?;
                if manifest.subject.is_some_and(|s| !listed.contains(&s.digest)) {
                    orphan = Some(position);
                    break;
                }
            }
            match orphan {
                Some(position) => {
                    index.manifests.remove(position);
                }
                None => return Ok(()),
            }
        }
    }
}

/// The bytes and descriptor of an artifact manifest referring to `subject`.
pub fn artifact_manifest(
    subject: &Descriptor,
    artifact_type: &str,
    blob_media_type: &str,
    content: &[u8],
    annotations: BTreeMap<String, String>,
) -> (Vec<u8>, Descriptor) {
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.to_owned()),
        artifact_type: Some(artifact_type.to_owned()),
        config: Descriptor::of(media_type::OCI_EMPTY, EMPTY_JSON),
        layers: vec![Descriptor::of(blob_media_type, content)],
        subject: Some(Descriptor::new(subject.media_type.clone(), subject.digest.clone(), subject.size)),
        annotations,
    };
    let bytes = spec::to_json(&manifest);
    let mut descriptor = Descriptor::of(media_type::OCI_MANIFEST, &bytes);
    descriptor.artifact_type = Some(artifact_type.to_owned());
    (bytes, descriptor)
}

/// A blob being written into a layout; dropped without
/// [`BlobWriter::commit`], it leaves nothing behind.
pub struct BlobWriter {
    out: HashingWriter<BufWriter<tempfile::NamedTempFile>>,
    layout: OciLayout,
}

impl BlobWriter {
    /// File the blob under its digest; its digest and size.
    pub fn commit(self) -> Result<(Digest, u64)> {
        let (buffered, digest, size) = self.out.finish();
        let action = || format!("write the blob {digest} into {}", self.layout.root.display());
        let file = buffered.into_inner().map_err(|e| Error::io(action())(e.into_error()))?;
        let target = self.layout.blob_path(&digest);
        if target.is_file() {
            return Ok((digest, size));
        }
        set_readable(file.as_file()).map_err(Error::io(action()))?;
        file.persist(&target).map_err(|e| Error::io(action())(e.error))?;
        Ok((digest, size))
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Layout files are readable by everyone, as other tools write them.
fn set_readable(file: &File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(0o644))
}

/// What a layout reference looks like, for help lines.
pub(crate) const REFERENCE_HELP: &str = "a reference is letters and digits, separated by single `.`, `_`, `-`, `:`, `@`, `+` or `--`, and `/`, e.g. app or app:1.0";

/// Check an OCI layout reference (`org.opencontainers.image.ref.name`):
/// components of letters and digits joined by separators, joined by `/`.
pub(crate) fn validate_reference(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the reference is empty".to_owned());
    }
    for component in name.split('/') {
        let bytes = component.as_bytes();
        if bytes.is_empty() {
            return Err("the reference has an empty `/` component".to_owned());
        }
        let mut i = 0;
        let mut expect_alnum = true;
        while i < bytes.len() {
            let b = bytes[i];
            if b.is_ascii_alphanumeric() {
                expect_alnum = false;
                i += 1;
            } else if !expect_alnum && b"._:@+-".contains(&b) {
                // `--` is one separator.
                i += if b == b'-' && bytes.get(i + 1) == Some(&b'-') { 2 } else { 1 };
                expect_alnum = true;
            } else {
                return Err(format!("{:?} is not allowed at position {} of {component:?}", b as char, i + 1));
            }
        }
        if expect_alnum {
            return Err(format!("{component:?} ends with a separator"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image_manifest(layout: &OciLayout, marker: &str) -> Descriptor {
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"created":"{marker}"}}"#
        );
        let (digest, size) = layout.add_bytes(config.as_bytes()).unwrap();
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(media_type::OCI_MANIFEST.to_owned()),
            artifact_type: None,
            config: Descriptor::new(media_type::OCI_CONFIG, digest, size),
            layers: vec![],
            subject: None,
            annotations: BTreeMap::new(),
        };
        let bytes = spec::to_json(&manifest);
        layout.add_bytes(&bytes).unwrap();
        Descriptor::of(media_type::OCI_MANIFEST, &bytes)
    }

    #[test]
    fn creates_names_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::create(dir.path().join("layout")).unwrap();
        assert_eq!(fs::read(dir.path().join("layout/oci-layout")).unwrap(), LAYOUT_FILE);
        let first = image_manifest(&layout, "1");
        let second = image_manifest(&layout, "2");
        layout.set_reference(&first, Some("app")).unwrap();
        layout.set_reference(&second, Some("other")).unwrap();
        assert_eq!(layout.resolve(Some("app")).unwrap().digest, first.digest);
        let err = layout.resolve(None).unwrap_err();
        assert!(err.to_string().contains("app, other"), "{err}");
        layout.set_reference(&second, Some("app")).unwrap();
        assert_eq!(layout.references().unwrap(), ["other", "app"]);
        assert_eq!(layout.resolve(Some("app")).unwrap().digest, second.digest);
        let reopened = OciLayout::open(layout.path()).unwrap();
        assert!(reopened.read_manifest(&second).unwrap().config.size > 0);
        let leftovers: Vec<_> = fs::read_dir(layout.path().join("blobs"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n != "sha256")
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn blobs_stream_and_verify() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::create(dir.path()).unwrap();
        let mut writer = layout.blob_writer().unwrap();
        writer.write_all(b"hello").unwrap();
        let (digest, size) = writer.commit().unwrap();
        assert_eq!((digest.clone(), size), (Digest::of(b"hello"), 5));
        assert!(layout.has_blob(&digest));
        let dropped = layout.blob_writer().unwrap();
        drop(dropped);
        assert_eq!(fs::read_dir(dir.path().join("blobs")).unwrap().count(), 1, "a dropped writer leaves nothing");
        fs::write(layout.blob_path(&digest), b"hellO").unwrap();
        let err = layout.read_blob(&Descriptor::new("x", digest, 5)).unwrap_err();
        assert!(matches!(err, Error::InvalidLayout { .. }), "{err}");
        let missing = layout.open_blob(&Digest::of(b"missing")).unwrap_err();
        assert!(matches!(missing, Error::BlobNotFound { .. }));
    }

    #[test]
    fn referrers_are_listed_and_follow_their_subject() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::create(dir.path()).unwrap();
        let image = image_manifest(&layout, "1");
        layout.set_reference(&image, Some("app")).unwrap();
        let sbom = layout
            .add_referrer(
                &image,
                media_type::SPDX_JSON,
                media_type::SPDX_JSON,
                b"{\"spdxVersion\":\"SPDX-2.3\"}",
                BTreeMap::new(),
            )
            .unwrap();
        layout
            .add_referrer(&image, media_type::IN_TOTO_JSON, media_type::IN_TOTO_JSON, b"{}", BTreeMap::new())
            .unwrap();
        let all = layout.referrers(&image.digest, None).unwrap();
        assert_eq!(all.len(), 2);
        let spdx = layout.referrers(&image.digest, Some(media_type::SPDX_JSON)).unwrap();
        assert_eq!(spdx.len(), 1);
        assert_eq!(spdx[0].digest, sbom.digest);
        let artifact = layout.read_manifest(&sbom).unwrap();
        assert_eq!(artifact.config.media_type, media_type::OCI_EMPTY);
        assert_eq!(layout.read_blob(&artifact.config).unwrap(), b"{}");
        assert_eq!(layout.resolve(None).unwrap().digest, image.digest, "artifacts are not images");

        let replacement = image_manifest(&layout, "2");
        layout.set_reference(&replacement, Some("app")).unwrap();
        assert_eq!(layout.index().unwrap().manifests.len(), 1, "the old image's artifacts go with it");
    }

    /// An image with no layers, told apart by `marker`, as assembly gives it.
    fn assembled(marker: &str) -> AssembledImage {
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"created":"{marker}"}}"#
        )
        .into_bytes();
        let config_descriptor = Descriptor::of(media_type::OCI_CONFIG, &config);
        let manifest = spec::to_json(&ImageManifest {
            schema_version: 2,
            media_type: Some(media_type::OCI_MANIFEST.to_owned()),
            artifact_type: None,
            config: config_descriptor.clone(),
            layers: vec![],
            subject: None,
            annotations: BTreeMap::new(),
        });
        let manifest_descriptor = Descriptor::of(media_type::OCI_MANIFEST, &manifest);
        AssembledImage { config, config_descriptor, manifest, manifest_descriptor, layers: vec![], diff_ids: vec![] }
    }

    #[test]
    fn an_unnamed_image_replaces_the_unnamed_entries_and_keeps_the_named() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::create(dir.path()).unwrap();
        let listed = || -> Vec<Digest> { layout.index().unwrap().manifests.into_iter().map(|d| d.digest).collect() };
        let first = layout.write_unnamed_image(&assembled("1")).unwrap();
        layout.add_referrer(&first, media_type::SPDX_JSON, media_type::SPDX_JSON, b"{}", BTreeMap::new()).unwrap();
        let second = layout.write_unnamed_image(&assembled("2")).unwrap();
        assert_eq!(
            listed(),
            std::slice::from_ref(&second.digest),
            "the earlier image and its referrer go: oci:DIR reads one"
        );
        assert_eq!(layout.resolve(None).unwrap().digest, second.digest);
        assert!(second.platform.is_some(), "listed as write_image lists it");

        // Written again with its referrer of an earlier write: one entry still.
        layout.add_referrer(&second, media_type::SPDX_JSON, media_type::SPDX_JSON, b"{}", BTreeMap::new()).unwrap();
        layout.write_unnamed_image(&assembled("2")).unwrap();
        assert_eq!(listed(), std::slice::from_ref(&second.digest));

        let named = layout.write_image(&assembled("3"), Some("app")).unwrap();
        let sbom = layout
            .add_referrer(&named, media_type::SPDX_JSON, media_type::SPDX_JSON, b"{\"n\":1}", BTreeMap::new())
            .unwrap();
        let third = layout.write_unnamed_image(&assembled("4")).unwrap();
        assert_eq!(listed(), [named.digest.clone(), sbom.digest, third.digest], "named images and referrers stay");
        assert_eq!(layout.resolve(Some("app")).unwrap().digest, named.digest);
    }

    #[test]
    fn removed_names_and_unreachable_blobs_go() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::create(dir.path()).unwrap();
        let first = image_manifest(&layout, "1");
        let second = image_manifest(&layout, "2");
        layout.set_reference(&first, Some("a")).unwrap();
        layout.set_reference(&first, Some("b")).unwrap();
        layout.set_reference(&second, Some("c")).unwrap();
        layout.add_bytes(b"stray").unwrap();
        layout.remove_reference(&first.digest, Some("a")).unwrap();
        assert_eq!(layout.references().unwrap(), ["b", "c"]);
        assert!(layout.collect_garbage().unwrap() > 0, "the stray blob goes");
        assert!(!layout.has_blob(&Digest::of(b"stray")));
        assert!(layout.read_manifest(&first).is_ok(), "a named manifest stays");
        layout.remove_reference(&first.digest, Some("b")).unwrap();
        layout.collect_garbage().unwrap();
        assert!(!layout.has_blob(&first.digest), "an unlisted manifest goes with its config");
        assert!(layout.read_manifest(&second).is_ok());
        assert_eq!(layout.resolve(Some("c")).unwrap().digest, second.digest);
    }

    #[test]
    fn reference_grammar() {
        for good in ["app", "app:1.0", "v1.2.3", "a/b", "a--b", "latest@x"] {
            assert!(validate_reference(good).is_ok(), "{good}");
        }
        for bad in ["", "app:", ":app", "a//b", "a b", "a..b", "tag!"] {
            assert!(validate_reference(bad).is_err(), "{bad}");
        }
    }
}
