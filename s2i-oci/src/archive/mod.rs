//! Images as single files: `oci-archive:` (a tar of an OCI layout) and
//! `docker-archive:` (what `docker save` writes and `docker load` reads),
//! written deterministically and read back; and an engine's export of an
//! image read as a stream ([`read_image_export`]).
//!
//! Archives are written with the crate's one tar encoding (sorted entries,
//! root-owned, one modification time), with blob content streamed from
//! readers. Reading a `docker-archive` indexes the tar once (names, offsets,
//! sizes) and then reads files in place (a gzip-compressed archive is first
//! decompressed into a temporary file); an `oci-archive` is extracted into a
//! temporary layout. Temporary files and directories go when the reader is
//! dropped.

mod docker;
mod export;
mod oci;
mod paths;

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub use docker::{ArchiveLayer, DockerArchive, DockerArchiveImage, DockerManifestEntry, write_docker_archive};
pub use export::{ExportLayers, ExportedImage, ExportedLayer, read_image_export};
pub use oci::{OciArchive, write_oci_archive};
pub use paths::image_paths_below;

use crate::error::{Error, Result};
use crate::layer::{Compression, LayerEntry, LayerOptions, LayerWriter};
use crate::layout::MAX_DOCUMENT_SIZE;

/// Write a file through a temporary file beside it, renamed into place when
/// `write` succeeds: a failed write leaves no partial file (and no earlier
/// file is lost).
pub fn write_file_atomically(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let action = || format!("write {}", path.display());
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file = tempfile::Builder::new().prefix(".s2i-").tempfile_in(&dir).map_err(Error::io(action()))?;
    let mut out = io::BufWriter::new(file);
    write(&mut out)?;
    let file = out.into_inner().map_err(|e| Error::io(action())(e.into_error()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(Error::io(action()))?;
    }
    file.persist(path).map_err(|e| Error::io(action())(e.error))?;
    Ok(())
}

/// A tar writer for archive files: no compression, one modification time.
fn archive_writer<W: Write>(out: W, mtime: u64) -> ArchiveWriter<W> {
    ArchiveWriter {
        tar: LayerWriter::new(out, LayerOptions { compression: Compression::None, ..Default::default() }),
        mtime,
    }
}

struct ArchiveWriter<W: Write> {
    tar: LayerWriter<'static, W>,
    mtime: u64,
}

impl<W: Write> ArchiveWriter<W> {
    fn dir(&mut self, path: &str) -> Result<()> {
        self.tar.append(&LayerEntry::dir(path, 0o755).modified_at(self.mtime), &mut io::empty())
    }

    fn file(&mut self, path: &str, size: u64, content: &mut dyn Read) -> Result<()> {
        self.tar.append(&LayerEntry::file(path, size, 0o644).modified_at(self.mtime), content)
    }

    fn bytes(&mut self, path: &str, bytes: &[u8]) -> Result<()> {
        self.file(path, bytes.len() as u64, &mut &bytes[..])
    }

    fn finish(self) -> Result<W> {
        Ok(self.tar.finish()?.0)
    }
}

/// Where each file of a tar file is: name → (offset of the content, size),
/// and symbolic links.
#[derive(Debug)]
struct TarIndex {
    files: HashMap<String, (u64, u64)>,
    links: HashMap<String, String>,
}

impl TarIndex {
    /// Index the tar in `file` (`path` and `format` name it in errors).
    fn build(file: &mut File, path: &Path, format: &str) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidArchive {
            path: path.to_path_buf(),
            format: format.to_owned(),
            reason,
            help: "the file is not a tar archive or was cut short; write it again".to_owned(),
        };
        file.seek(SeekFrom::Start(0)).map_err(Error::io(format!("read {}", path.display())))?;
        let mut files = HashMap::new();
        let mut links = HashMap::new();
        let mut archive = tar::Archive::new(&*file);
        for entry in archive.entries_with_seek().map_err(|e| invalid(e.to_string()))? {
            let entry = entry.map_err(|e| invalid(e.to_string()))?;
            let name = clean(&String::from_utf8_lossy(&entry.path_bytes()));
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    files.insert(name, (entry.raw_file_position(), entry.size()));
                }
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let target = entry.link_name_bytes().map(|l| String::from_utf8_lossy(&l).into_owned());
                    let target = target.ok_or_else(|| invalid(format!("the link {name} has no target")))?;
                    let resolved = if entry.header().entry_type() == tar::EntryType::Link || target.starts_with('/') {
                        clean(&target)
                    } else {
                        let parent = name.rsplit_once('/').map_or("", |(parent, _)| parent);
                        clean(&format!("{parent}/{target}"))
                    };
                    links.insert(name, resolved);
                }
                _ => {}
            }
        }
        Ok(Self { files, links })
    }

    /// Offset and size of `name`, following links.
    fn find(&self, name: &str) -> Option<(u64, u64)> {
        let mut name = clean(name);
        for _ in 0..16 {
            if let Some(found) = self.files.get(&name) {
                return Some(*found);
            }
            name = self.links.get(&name)?.clone();
        }
        None
    }
}

/// The file an export's link entry named `name` (cleaned) stands for, as a
/// clean name of the export; `None` when the entry is not a link. Engines
/// write a layer listed twice as a link to the one file.
fn link_target<R: Read>(entry: &tar::Entry<'_, R>, name: &str) -> Option<String> {
    let kind = entry.header().entry_type();
    if !kind.is_symlink() && !kind.is_hard_link() {
        return None;
    }
    let target = entry.link_name_bytes().map(|l| String::from_utf8_lossy(&l).into_owned()).unwrap_or_default();
    Some(if kind.is_hard_link() || target.starts_with('/') {
        clean(&target)
    } else {
        let parent = name.rsplit_once('/').map_or("", |(parent, _)| parent);
        clean(&format!("{parent}/{target}"))
    })
}

/// `./a/../b//c` → `b/c`.
fn clean(name: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    parts.join("/")
}

/// Read a small file of an export whole.
pub(super) fn read_small(entry: &mut dyn Read, name: &str) -> std::result::Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    entry.take(MAX_DOCUMENT_SIZE + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read {name}: {e}"))?;
    if bytes.len() as u64 > MAX_DOCUMENT_SIZE {
        return Err(format!("{name} is larger than {MAX_DOCUMENT_SIZE} bytes"));
    }
    Ok(bytes)
}

/// Fill `buf` as far as the reader goes.
pub(super) fn read_up_to(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A file's content inside a tar file, read with positioned reads (so
/// several sections of one file can be read at once).
struct Section<'a> {
    file: &'a File,
    position: u64,
    end: u64,
}

impl<'a> Section<'a> {
    fn new(file: &'a File, (offset, size): (u64, u64)) -> Self {
        Self { file, position: offset, end: offset + size }
    }
}

impl Read for Section<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let left = usize::try_from(self.end - self.position).unwrap_or(usize::MAX);
        let wanted = buf.len().min(left);
        if wanted == 0 {
            return Ok(0);
        }
        let read = self.file.read_at(&mut buf[..wanted], self.position)?;
        if read == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the archive ends inside a file"));
        }
        self.position += read as u64;
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_names() {
        assert_eq!(clean("./a/../b//c"), "b/c");
        assert_eq!(clean("/abs/x"), "abs/x");
    }

    #[test]
    fn atomic_write_leaves_nothing_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.tar");
        let err = write_file_atomically(&path, |out: &mut dyn Write| {
            out.write_all(b"partial").unwrap();
            Err(Error::InvalidImage { reason: "stop".into(), help: String::new() })
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        write_file_atomically(&path, |out: &mut dyn Write| out.write_all(b"whole").map_err(Error::io("write")))
            .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"whole");
    }
}
