//! s2i's own image store: an OCI image layout (by default
//! `~/.local/share/s2i/images`) whose `index.json` names images the way an
//! engine does (`s2i-fixtures/busybox-builder:latest`, `quay.io/org/app:1`).
//!
//! - An image's ID is its config's digest, as on Docker and Podman: the same
//!   builder has the same ID in every store.
//! - Names are written in their short form (`busybox:latest` for
//!   `docker.io/library/busybox:latest`) and matched in their full form, so
//!   a name another tool (`skopeo copy … oci:STORE:NAME`) wrote is found too.
//! - A name given to another image leaves the old one unnamed, as `docker
//!   tag` does; removing the last name of an image removes it, and the blobs
//!   nothing refers to any more go.
//! - Processes share the store: `index.json` changes under an exclusive
//!   lock (`index.lock`); blobs being written hold `blobs.lock` shared, and
//!   the removal of unreferenced blobs only runs when it can take that lock
//!   exclusively, so it never takes a blob a running build is about to list.

use std::fs::File;
use std::path::{Path, PathBuf};

use s2i_core::reference::ImageReference;
use s2i_oci::digest::Digest;
use s2i_oci::image::AssembledImage;
use s2i_oci::layout::OciLayout;
use s2i_oci::spec::{self, Descriptor, ImageConfig, ImageManifest, annotation, media_type};

use crate::error::{Error, Result};

/// The annotation of an `index.json` entry pulled by the digest of an
/// index (a multi-platform image): that digest, so that the name by digest
/// the image was pulled by finds the platform's image it stands for.
pub(crate) const INDEX_DIGEST: &str = "s2i-rs.github.io/index-digest";

/// An image of the store.
#[derive(Debug, Clone)]
pub struct StoredImage {
    /// The image ID: the config's digest.
    pub id: Digest,
    /// The manifest's descriptor.
    pub manifest: Descriptor,
    /// Its names in the store, short form, in the order of `index.json`.
    pub names: Vec<String>,
    /// The config as stored.
    pub config_bytes: Vec<u8>,
    /// The config, parsed.
    pub config: ImageConfig,
    /// The layer blobs, base first.
    pub layers: Vec<Descriptor>,
}

/// s2i's image store (an OCI layout under the user's data directory; see the module documentation).
#[derive(Debug, Clone)]
pub struct ImageStore {
    layout: OciLayout,
    root: PathBuf,
}

/// A held `flock`, released on drop.
#[derive(Debug)]
pub(crate) struct StoreLock {
    _file: File,
}

/// The full form of an image name (`docker.io/library/busybox:latest`), when it is one.
pub(crate) fn canonical_name(name: &str) -> Option<String> {
    ImageReference::parse(name).ok().map(|r| r.normalized().to_string())
}

/// The short form of an image name, as Docker prints it (`busybox:latest`).
pub fn short_name(name: &str) -> Option<String> {
    let reference = ImageReference::parse(name).ok()?.normalized();
    let full = reference.to_string();
    let short =
        full.strip_prefix("docker.io/").map_or(full.as_str(), |rest| rest.strip_prefix("library/").unwrap_or(rest));
    Some(short.to_owned())
}

/// Whether `text` can only be an image ID or a prefix of one.
fn id_prefix(text: &str) -> Option<&str> {
    let hex = text.strip_prefix("sha256:").unwrap_or(text);
    let plausible =
        !hex.is_empty() && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    plausible.then_some(hex)
}

impl ImageStore {
    /// Open the store at `dir`, making it when it does not exist.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let root = dir.into();
        let layout = OciLayout::create(&root).map_err(|e| Error::Store { path: root.clone(), source: Box::new(e) })?;
        Ok(Self { layout, root })
    }

    /// The store's directory (an OCI layout: `oci:DIR:NAME` for other tools).
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// The layout.
    pub fn layout(&self) -> &OciLayout {
        &self.layout
    }

    fn oci(&self) -> impl FnOnce(s2i_oci::Error) -> Error + '_ {
        move |source| Error::Store { path: self.root.clone(), source: Box::new(source) }
    }

    /// Take one of the store's locks (`index` or `blobs`), shared or exclusive, waiting for it.
    pub(crate) fn lock(&self, which: &str, exclusive: bool) -> Result<StoreLock> {
        self.try_lock(which, exclusive, true)?.ok_or_else(|| Error::Io {
            action: format!("lock the image store {}", self.root.display()),
            source: std::io::Error::other("the lock was not granted"),
        })
    }

    fn try_lock(&self, which: &str, exclusive: bool, wait: bool) -> Result<Option<StoreLock>> {
        use rustix::fs::FlockOperation as Op;
        let path = self.root.join(format!("{which}.lock"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::Io { action: format!("open {}", path.display()), source: e })?;
        let operation = match (exclusive, wait) {
            (true, true) => Op::LockExclusive,
            (true, false) => Op::NonBlockingLockExclusive,
            (false, true) => Op::LockShared,
            (false, false) => Op::NonBlockingLockShared,
        };
        match rustix::fs::flock(&file, operation) {
            Ok(()) => Ok(Some(StoreLock { _file: file })),
            Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
            Err(e) => Err(Error::Io { action: format!("lock {}", path.display()), source: e.into() }),
        }
    }

    /// Every image of the store, each once (with all its names).
    pub fn images(&self) -> Result<Vec<StoredImage>> {
        let index = self.layout.index().map_err(self.oci())?;
        let mut images: Vec<StoredImage> = Vec::new();
        for entry in index.manifests.iter().filter(|d| is_image_manifest(d)) {
            let name = entry.annotations.get(annotation::REF_NAME).cloned();
            if let Some(image) = images.iter_mut().find(|i| i.manifest.digest == entry.digest) {
                image.names.extend(name);
                continue;
            }
            let mut image = self.load(entry)?;
            image.names.extend(name);
            images.push(image);
        }
        for image in &mut images {
            image.names = image.names.iter().map(|n| short_name(n).unwrap_or_else(|| n.clone())).collect();
        }
        Ok(images)
    }

    fn load(&self, entry: &Descriptor) -> Result<StoredImage> {
        let mut descriptor = entry.clone();
        descriptor.annotations.remove(annotation::REF_NAME);
        let manifest: ImageManifest = self.layout.read_manifest(&descriptor).map_err(self.oci())?;
        let config_bytes = self.layout.read_blob(&manifest.config).map_err(self.oci())?;
        let config: ImageConfig =
            spec::from_json(&config_bytes, &format!("the config {}", manifest.config.digest)).map_err(self.oci())?;
        Ok(StoredImage {
            id: manifest.config.digest.clone(),
            manifest: descriptor,
            names: Vec::new(),
            config_bytes,
            config,
            layers: manifest.layers,
        })
    }

    /// The image `query` names: a name (short or full form, `name@digest`
    /// by manifest digest), else an image ID or an unambiguous prefix of
    /// one; `None` when the store has none.
    pub fn resolve(&self, query: &str) -> Result<Option<StoredImage>> {
        let images = self.images()?;
        if let Some((_, digest)) = query.split_once('@')
            && let Ok(digest) = Digest::parse(digest)
        {
            // The digest of an index the image was pulled by stands for the image.
            let index = self.layout.index().map_err(self.oci())?;
            let wanted = index
                .manifests
                .iter()
                .find(|d| d.annotations.get(INDEX_DIGEST).is_some_and(|a| *a == digest.to_string()))
                .map_or(digest, |d| d.digest.clone());
            return Ok(images.into_iter().find(|i| i.manifest.digest == wanted));
        }
        if let Some(wanted) = canonical_name(query) {
            let found = images.iter().find(|i| i.names.iter().any(|n| canonical_name(n).as_deref() == Some(&wanted)));
            if let Some(found) = found {
                return Ok(Some(found.clone()));
            }
        }
        let Some(prefix) = id_prefix(query) else { return Ok(None) };
        let mut matches = images.into_iter().filter(|i| i.id.hex().starts_with(prefix));
        let first = matches.next();
        if let Some(other) = matches.find(|i| Some(&i.id) != first.as_ref().map(|f| &f.id)) {
            return Err(Error::Ambiguous {
                query: query.to_owned(),
                first: first.map(|f| f.id.to_string()).unwrap_or_default(),
                second: other.id.to_string(),
            });
        }
        Ok(first)
    }

    /// Give `image` the name `name` (its short form is stored); the image
    /// that had the name keeps its other names, or stays unnamed.
    pub fn tag(&self, image: &StoredImage, name: &str) -> Result<()> {
        let short = short_name(name).ok_or_else(|| Error::InvalidName { name: name.to_owned() })?;
        let _lock = self.lock("index", true)?;
        let previous = self.resolve(&short)?;
        self.layout.set_reference(&image.manifest, Some(&short)).map_err(self.oci())?;
        // The unnamed entry of an image that now has a name goes.
        self.layout.remove_reference(&image.manifest.digest, None).map_err(self.oci())?;
        if let Some(previous) = previous.filter(|p| p.manifest.digest != image.manifest.digest)
            && previous.names.len() <= 1
        {
            self.layout.set_reference(&previous.manifest, None).map_err(self.oci())?;
        }
        Ok(())
    }

    /// Add an assembled image whose layer blobs are in the store, named
    /// `name` (or unnamed); returns it.
    pub fn add(&self, image: &AssembledImage, name: Option<&str>) -> Result<StoredImage> {
        let descriptor = {
            let _lock = self.lock("index", true)?;
            self.layout.write_image(image, None).map_err(self.oci())?
        };
        let mut stored = self.load(&descriptor)?;
        if let Some(name) = name {
            self.tag(&stored, name)?;
            stored.names = vec![short_name(name).unwrap_or_else(|| name.to_owned())];
        }
        Ok(stored)
    }

    /// Remove what `query` names, as `docker rmi` does: a name loses the
    /// name (and the image goes with its last one); an ID removes an image
    /// with at most one name. `in_use` says whether a container uses an image ID.
    pub fn remove(&self, query: &str, in_use: &dyn Fn(&Digest) -> bool) -> Result<()> {
        let Some(image) = self.resolve(query)? else {
            return Err(Error::ImageNotFound { image: query.to_owned() });
        };
        let by_name = canonical_name(query)
            .is_some_and(|wanted| image.names.iter().any(|n| canonical_name(n).as_deref() == Some(&wanted)));
        if !by_name && image.names.len() > 1 {
            return Err(Error::ImageConflict {
                image: query.to_owned(),
                reason: format!("it has several names ({})", image.names.join(", ")),
                help: "remove it by one of its names, one at a time".to_owned(),
            });
        }
        let last_name = image.names.len() <= 1;
        if (last_name || !by_name) && in_use(&image.id) {
            return Err(Error::ImageConflict {
                image: query.to_owned(),
                reason: "a container of s2i uses it".to_owned(),
                help: "remove the container first (it goes when its build ends)".to_owned(),
            });
        }
        {
            let _lock = self.lock("index", true)?;
            if by_name && !last_name {
                let wanted = canonical_name(query);
                let name = image.names.iter().find(|n| canonical_name(n) == wanted).cloned();
                self.remove_entries_named(&image, name.as_deref())?;
                return Ok(());
            }
            self.remove_entries_named(&image, None)?;
            for name in &image.names {
                self.remove_entries_named(&image, Some(name))?;
            }
        }
        self.collect_garbage()?;
        Ok(())
    }

    /// Drop the index entries of `image` written under `name` in either form.
    fn remove_entries_named(&self, image: &StoredImage, name: Option<&str>) -> Result<()> {
        let Some(name) = name else {
            return self.layout.remove_reference(&image.manifest.digest, None).map_err(self.oci());
        };
        let wanted = canonical_name(name);
        let index = self.layout.index().map_err(self.oci())?;
        for entry in index.manifests.iter().filter(|d| d.digest == image.manifest.digest) {
            if let Some(written) = entry.annotations.get(annotation::REF_NAME)
                && canonical_name(written) == wanted
            {
                self.layout.remove_reference(&image.manifest.digest, Some(written)).map_err(self.oci())?;
            }
        }
        Ok(())
    }

    /// Remove the blobs nothing refers to, unless a writer is at work (then
    /// the next removal does it).
    pub fn collect_garbage(&self) -> Result<u64> {
        let Some(_blobs) = self.try_lock("blobs", true, false)? else { return Ok(0) };
        let _index = self.lock("index", true)?;
        self.layout.collect_garbage().map_err(self.oci())
    }

    /// Hold this while writing blobs that an index entry will list later.
    pub(crate) fn writing_blobs(&self) -> Result<StoreLock> {
        self.lock("blobs", false)
    }
}

/// Whether an index entry is an image manifest (not an artifact or an index).
fn is_image_manifest(descriptor: &Descriptor) -> bool {
    descriptor.artifact_type.is_none()
        && matches!(descriptor.media_type.as_str(), media_type::OCI_MANIFEST | media_type::DOCKER_MANIFEST)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_pulled_by_the_digest_of_an_index_is_found_by_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path().join("store")).unwrap();
        let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        store.layout().add_bytes(config).unwrap();
        let config = Descriptor::of(media_type::OCI_CONFIG, config);
        let (manifest, descriptor, _) =
            s2i_oci::image::manifest(config, &[], s2i_oci::image::ManifestFormat::Oci, Default::default()).unwrap();
        store.layout().add_bytes(&manifest).unwrap();
        let index_digest = "sha256:".to_owned() + &"ab".repeat(32);
        let mut entry = descriptor.clone();
        entry.annotations.insert(INDEX_DIGEST.to_owned(), index_digest.clone());
        store.layout().set_reference(&entry, None).unwrap();
        let found = store.resolve(&format!("quay.io/org/app@{index_digest}")).unwrap().expect("found by the index");
        assert_eq!(found.manifest.digest, descriptor.digest);
        let by_own = store.resolve(&format!("quay.io/org/app@{}", descriptor.digest)).unwrap();
        assert_eq!(by_own.map(|i| i.manifest.digest), Some(descriptor.digest));
        let other = "sha256:".to_owned() + &"cd".repeat(32);
        assert!(store.resolve(&format!("quay.io/org/app@{other}")).unwrap().is_none());
    }

    #[test]
    fn names_have_a_short_and_a_full_form() {
        assert_eq!(short_name("busybox").as_deref(), Some("busybox:latest"));
        assert_eq!(short_name("docker.io/library/busybox:1").as_deref(), Some("busybox:1"));
        assert_eq!(short_name("s2i-fixtures/busybox-builder").as_deref(), Some("s2i-fixtures/busybox-builder:latest"));
        assert_eq!(short_name("quay.io/org/app:2").as_deref(), Some("quay.io/org/app:2"));
        assert_eq!(canonical_name("busybox").as_deref(), Some("docker.io/library/busybox:latest"));
        assert_eq!(id_prefix("sha256:abc"), Some("abc"));
        assert_eq!(id_prefix("abc0"), Some("abc0"));
        assert_eq!(id_prefix("app"), None);
    }
}
