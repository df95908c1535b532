//! The layer cache: each image layer unpacked once into a directory named
//! by its diff ID (`~/.cache/s2i/layers/<set>/<hex>`), in the form overlayfs
//! reads as a lower layer (and fuse-overlayfs as well): deletions are
//! character devices 0/0, opaque directories carry `user.overlay.opaque=y`
//! (mounts use `userxattr`). A layer is unpacked into a temporary directory
//! beside its place and renamed into it when complete, so a reader never
//! sees half a layer and concurrent unpacks of one layer are harmless. The
//! diff ID is checked on the way.
//!
//! Owners are set as the layer says where this process may set them (root,
//! or a user namespace that maps them); elsewhere files stay owned by the
//! process, which is what a single-id user namespace shows as root. Device
//! nodes that cannot be made are left out.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Mode};
use s2i_oci::digest::{Digest, HashingReader};

use crate::confined::{self, Root};

/// The extended attribute that makes a directory of a lower layer opaque.
pub(crate) const OPAQUE_XATTR: &str = "user.overlay.opaque";

/// A directory of unpacked layers.
#[derive(Debug, Clone)]
pub(crate) struct LayerCache {
    root: PathBuf,
}

impl LayerCache {
    pub(crate) fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// Where the layer `diff_id` is (or would be) unpacked.
    pub(crate) fn path(&self, diff_id: &Digest) -> PathBuf {
        self.root.join(diff_id.hex())
    }

    /// The layer's directory, unpacked from the blob at `blob` if it is not yet.
    pub(crate) fn ensure(&self, diff_id: &Digest, blob: &Path) -> io::Result<PathBuf> {
        let target = self.path(diff_id);
        if target.is_dir() {
            return Ok(target);
        }
        std::fs::create_dir_all(&self.root)?;
        let temp =
            tempfile::Builder::new().prefix(&format!(".unpack-{}-", &diff_id.hex()[..12])).tempdir_in(&self.root)?;
        let file = File::open(blob).map_err(|e| io::Error::new(e.kind(), format!("open {}: {e}", blob.display())))?;
        let stream = decompressed(file, blob)?;
        let mut hashing = HashingReader::new(stream);
        unpack(&mut hashing, temp.path())?;
        // Whatever follows the tar's end is part of the layer's digest too.
        io::copy(&mut hashing, &mut io::sink())?;
        let (digest, _) = hashing.finish();
        if &digest != diff_id {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the layer {} unpacks to {digest}, not to its diff ID {diff_id}", blob.display()),
            ));
        }
        // A directory the unpacking made less than writable is made so for the rename.
        let kept = temp.keep();
        match std::fs::rename(&kept, &target) {
            Ok(()) => Ok(target),
            Err(_) if target.is_dir() => {
                // Another process unpacked it meanwhile.
                confined::remove_tree(&kept)?;
                Ok(target)
            }
            Err(e) => {
                let _ = confined::remove_tree(&kept);
                Err(e)
            }
        }
    }
}

/// A layer blob's tar: gzip and plain tars are told apart by their first bytes.
fn decompressed(mut file: File, path: &Path) -> io::Result<Box<dyn Read + Send>> {
    let mut magic = [0u8; 4];
    let read = file.read(&mut magic)?;
    std::io::Seek::seek(&mut file, io::SeekFrom::Start(0))?;
    match &magic[..read] {
        [0x1f, 0x8b, ..] => Ok(Box::new(flate2::read::GzDecoder::new(io::BufReader::new(file)))),
        [0x28, 0xb5, 0x2f, 0xfd] => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "the layer {} is zstd-compressed, which s2i cannot read yet; use an image with gzip layers",
                path.display()
            ),
        )),
        _ => Ok(Box::new(io::BufReader::new(file))),
    }
}

/// Extended attributes a layer may set: capabilities and user attributes
/// (not overlayfs' own).
pub(crate) fn keep_xattr(name: &str) -> bool {
    s2i_oci::spool::keep_xattr(name)
}

/// Apply the entries of a layer tar to the empty directory `dir`.
pub(crate) fn unpack(tar: &mut dyn Read, dir: &Path) -> io::Result<()> {
    let root = Root::open(dir)?;
    crate::fsops::extract(tar, &root, "/", crate::fsops::Whiteouts::Layer).map(drop)
}

/// An overlayfs whiteout: a character device 0/0, which any user may make.
pub(crate) fn make_whiteout(dir: impl AsFd, name: &OsStr) -> io::Result<()> {
    rustix::fs::mknodat(dir, name, FileType::CharacterDevice, Mode::empty(), rustix::fs::makedev(0, 0))
        .map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, tar::EntryType, &[u8], &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, kind, data, link) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_mode(if kind.is_dir() { 0o751 } else { 0o640 });
            header.set_mtime(1_000);
            header.set_size(data.len() as u64);
            if !link.is_empty() {
                header.set_link_name(link).unwrap();
            }
            builder.append_data(&mut header, path, *data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn layers_unpack_with_whiteouts_opaque_dirs_and_links() {
        let tar = tar_of(&[
            ("etc/", tar::EntryType::Directory, b"", ""),
            ("etc/passwd", tar::EntryType::Regular, b"root:x:0:0::/:/bin/sh\n", ""),
            ("etc/.wh.gone", tar::EntryType::Regular, b"", ""),
            ("var/lib/.wh..wh..opq", tar::EntryType::Regular, b"", ""),
            ("bin/sh", tar::EntryType::Regular, b"#!", ""),
            ("bin/ash", tar::EntryType::Link, b"", "bin/sh"),
            ("escape", tar::EntryType::Symlink, b"", "/etc"),
            ("escape/inside", tar::EntryType::Regular, b"x", ""),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let cache = LayerCache::new(dir.path().join("layers"));
        let blob = dir.path().join("blob");
        std::fs::write(&blob, &tar).unwrap();
        let diff_id = Digest::of(&tar);
        let layer = cache.ensure(&diff_id, &blob).unwrap();
        assert_eq!(layer, cache.path(&diff_id));
        assert_eq!(std::fs::read(layer.join("etc/passwd")).unwrap(), b"root:x:0:0::/:/bin/sh\n");
        use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
        let whiteout = std::fs::symlink_metadata(layer.join("etc/gone")).unwrap();
        assert!(whiteout.file_type().is_char_device() && whiteout.rdev() == 0);
        let opaque = rustix::fs::getxattr(layer.join("var/lib"), OPAQUE_XATTR, &mut [0u8; 4][..]);
        if let Ok(len) = opaque {
            assert_eq!(len, 1, "the opaque marker is set where user attributes work");
        }
        assert_eq!(
            std::fs::metadata(layer.join("bin/ash")).unwrap().ino(),
            std::fs::metadata(layer.join("bin/sh")).unwrap().ino()
        );
        assert!(layer.join("etc/inside").exists(), "a link in the layer stays inside the layer");
        assert_eq!(std::fs::metadata(layer.join("etc")).unwrap().permissions().mode() & 0o7777, 0o751);
        assert_eq!(std::fs::metadata(layer.join("etc")).unwrap().mtime(), 1_000);
        assert_eq!(cache.ensure(&diff_id, &blob).unwrap(), layer, "a second call finds it");

        let wrong = Digest::of(b"other");
        let err = cache.ensure(&wrong, &blob).unwrap_err();
        assert!(err.to_string().contains("not to its diff ID"), "{err}");
        assert!(!cache.path(&wrong).exists());
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("layers"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".unpack"))
            .collect();
        assert!(leftovers.is_empty(), "a failed unpack leaves nothing");
    }
}
