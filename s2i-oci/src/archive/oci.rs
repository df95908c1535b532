//! `oci-archive:`: an OCI image layout in one tar file.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{ArchiveWriter, Section, TarIndex, archive_writer};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::layout::OciLayout;

/// Write the layout as a tar into `out`: `blobs/sha256/…` sorted, `index.json`,
/// `oci-layout`, every entry root-owned with modification time `mtime`.
pub fn write_oci_archive<W: Write>(layout: &OciLayout, out: W, mtime: u64) -> Result<W> {
    let mut tar: ArchiveWriter<W> = archive_writer(out, mtime);
    let blobs = layout.path().join("blobs").join("sha256");
    let mut digests: Vec<Digest> = Vec::new();
    for entry in fs::read_dir(&blobs).map_err(Error::io(format!("read {}", blobs.display())))? {
        let entry = entry.map_err(Error::io(format!("read {}", blobs.display())))?;
        // Only finished blobs: names that are digests.
        if let Some(digest) = entry.file_name().to_str().and_then(|hex| Digest::parse(&format!("sha256:{hex}")).ok()) {
            digests.push(digest);
        }
    }
    digests.sort();
    tar.dir("blobs")?;
    tar.dir("blobs/sha256")?;
    for digest in &digests {
        let mut file = layout.open_blob(digest)?;
        let size = file.metadata().map_err(Error::io(format!("read the blob {digest}")))?.len();
        tar.file(&format!("blobs/sha256/{}", digest.hex()), size, &mut file)?;
    }
    for name in ["index.json", "oci-layout"] {
        let path = layout.path().join(name);
        let mut file = File::open(&path).map_err(Error::io(format!("read {}", path.display())))?;
        let size = file.metadata().map_err(Error::io(format!("read {}", path.display())))?.len();
        tar.file(name, size, &mut file)?;
    }
    tar.finish()
}

/// An `oci-archive` opened for reading: its layout, unpacked into a
/// temporary directory that is removed when this is dropped.
#[derive(Debug)]
pub struct OciArchive {
    layout: OciLayout,
    _dir: tempfile::TempDir,
}

impl OciArchive {
    /// Unpack the archive at `path` (only `oci-layout`, `index.json` and
    /// `blobs/<algorithm>/<hex>` files are taken; anything else is refused).
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_in(path, &std::env::temp_dir())
    }

    /// [`OciArchive::open`], unpacking into a directory under `temp_root`.
    pub fn open_in(path: &Path, temp_root: &Path) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidArchive {
            path: path.to_path_buf(),
            format: "oci-archive".to_owned(),
            reason,
            help: "write the archive again (skopeo copy … oci-archive:FILE, or s2i)".to_owned(),
        };
        let mut file = File::open(path).map_err(Error::io(format!("open {}", path.display())))?;
        let index = TarIndex::build(&mut file, path, "oci-archive")?;
        let dir = tempfile::Builder::new()
            .prefix("s2i-oci-archive-")
            .tempdir_in(temp_root)
            .map_err(Error::io("create a directory to unpack the archive"))?;
        for (name, location) in &index.files {
            let allowed = name == "oci-layout"
                || name == "index.json"
                || name.strip_prefix("blobs/").is_some_and(|rest| {
                    rest.split_once('/').is_some_and(|(algorithm, hex)| {
                        !algorithm.is_empty()
                            && algorithm.bytes().all(|b| b.is_ascii_alphanumeric())
                            && !hex.is_empty()
                            && hex.bytes().all(|b| b.is_ascii_hexdigit())
                    })
                });
            if !allowed {
                return Err(invalid(format!("it holds {name}, which is not part of an OCI layout")));
            }
            let target: PathBuf = dir.path().join(name);
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent).map_err(Error::io(format!("create {}", parent.display())))?;
            }
            let mut out = File::create(&target).map_err(Error::io(format!("write {}", target.display())))?;
            io::copy(&mut Section::new(&file, *location), &mut out)
                .map_err(Error::io(format!("unpack {name} from {}", path.display())))?;
        }
        let layout = OciLayout::open(dir.path()).map_err(|e| invalid(e.to_string()))?;
        Ok(Self { layout, _dir: dir })
    }

    /// The unpacked layout.
    pub fn layout(&self) -> &OciLayout {
        &self.layout
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::media_type;

    #[test]
    fn round_trip_is_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::create(dir.path().join("layout")).unwrap();
        let (digest, size) = layout.add_bytes(b"{}").unwrap();
        let image = crate::spec::Descriptor::new(media_type::OCI_MANIFEST, digest, size);
        layout.set_reference(&image, Some("app")).unwrap();
        let first = write_oci_archive(&layout, Vec::new(), 0).unwrap();
        let second = write_oci_archive(&layout, Vec::new(), 0).unwrap();
        assert_eq!(first, second);

        let path = dir.path().join("image.tar");
        fs::write(&path, &first).unwrap();
        let temp_root = dir.path().join("tmp");
        fs::create_dir(&temp_root).unwrap();
        let archive = OciArchive::open_in(&path, &temp_root).unwrap();
        assert_eq!(archive.layout().resolve(Some("app")).unwrap().digest, image.digest);
        assert_eq!(archive.layout().references().unwrap(), ["app"]);
        drop(archive);
        assert_eq!(fs::read_dir(&temp_root).unwrap().count(), 0, "the unpacked layout is removed");
    }

    #[test]
    fn refuses_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_ustar();
        header.set_size(1);
        header.set_mode(0o644);
        builder.append_data(&mut header, "etc/passwd", &b"x"[..]).unwrap();
        let path = dir.path().join("bad.tar");
        fs::write(&path, builder.into_inner().unwrap()).unwrap();
        let err = OciArchive::open(&path).unwrap_err();
        assert!(err.to_string().contains("etc/passwd"), "{err}");
    }
}
