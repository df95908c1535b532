//! The layer writer: entries as plain data in, a normalised tar out, with
//! the layer's diff ID and its compressed blob's digest and size computed in
//! the same pass.
//!
//! A layer written here depends only on its entries and the options:
//!
//! - entries come in *layer order* ([`entry_order`]): depth first, siblings
//!   by the bytes of their names, and in each directory the opaque marker
//!   and the whiteouts before everything else (the image spec asks for
//!   whiteouts before their siblings). [`LayerWriter`] refuses entries out of
//!   order; [`crate::spool::LayerSpooler`] takes them in any order and sorts;
//! - every directory that holds an entry has an entry of its own (missing
//!   ones are written with [`LayerOptions::parent_dirs`]);
//! - modification times later than the epoch become the epoch
//!   (`SOURCE_DATE_EPOCH` semantics); owners are numeric, without user or
//!   group names; no access or change times;
//! - deletions are OCI whiteouts (`.wh.<name>`), a directory that hides
//!   what lower layers have in it gets `.wh..wh..opq`;
//! - gzip output has no file name, modification time 0, OS byte 255 and a
//!   fixed level. The compressed bytes are those of this crate's deflate
//!   implementation: a different version of it may compress differently, the
//!   diff ID (what the image config records) never changes.
//!
//! Nothing is buffered: content flows from each entry's reader through the
//! hashers and the compressor into the sink.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};

use flate2::GzBuilder;
use flate2::write::GzEncoder;

use crate::digest::{Digest, Hasher, HashingWriter};
use crate::error::{Error, Result};
use crate::spec::{Descriptor, media_type};
use crate::tarball::{self, TarHeader, TarKind};

/// The prefix of a whiteout file's name.
pub const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// The name of the opaque-directory marker.
pub const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";

/// One entry of a layer, as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerEntry {
    /// The path inside the image, relative to its root, as raw bytes (names
    /// need not be UTF-8): no leading `/` or `./`, no trailing `/`, no empty,
    /// `.` or `..` components.
    pub path: Vec<u8>,
    /// What the entry is.
    pub kind: EntryKind,
    /// Permission bits, with setuid, setgid and sticky (`0o7777` at most).
    pub mode: u32,
    /// Owner's numeric user id.
    pub uid: u64,
    /// Owner's numeric group id.
    pub gid: u64,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: u64,
    /// Extended attributes (`security.capability`, …), written as PAX records.
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

/// What a [`LayerEntry`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file of `size` bytes; its content comes from a reader.
    File {
        /// Bytes of content.
        size: u64,
    },
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink {
        /// What it points at, as written.
        target: Vec<u8>,
    },
    /// A hard link to a file earlier in the same layer.
    Hardlink {
        /// The other file's path in the layer.
        target: Vec<u8>,
    },
    /// A character device.
    CharDevice {
        /// Major number.
        major: u32,
        /// Minor number.
        minor: u32,
    },
    /// A block device.
    BlockDevice {
        /// Major number.
        major: u32,
        /// Minor number.
        minor: u32,
    },
    /// A named pipe.
    Fifo,
    /// The path was deleted: written as `<dir>/.wh.<name>`.
    Whiteout,
    /// The directory at the path hides everything lower layers have in it:
    /// written as `<path>/.wh..wh..opq` (the directory itself is its own
    /// [`EntryKind::Dir`] entry).
    Opaque,
}

impl LayerEntry {
    fn new(path: impl Into<Vec<u8>>, kind: EntryKind, mode: u32) -> Self {
        Self { path: path.into(), kind, mode, uid: 0, gid: 0, mtime: 0, xattrs: BTreeMap::new() }
    }

    /// A regular file owned by root, modification time 0.
    pub fn file(path: impl Into<Vec<u8>>, size: u64, mode: u32) -> Self {
        Self::new(path, EntryKind::File { size }, mode)
    }

    /// A directory owned by root, modification time 0.
    pub fn dir(path: impl Into<Vec<u8>>, mode: u32) -> Self {
        Self::new(path, EntryKind::Dir, mode)
    }

    /// A symbolic link owned by root, modification time 0.
    pub fn symlink(path: impl Into<Vec<u8>>, target: impl Into<Vec<u8>>) -> Self {
        Self::new(path, EntryKind::Symlink { target: target.into() }, 0o777)
    }

    /// A hard link to `target`, another file of the layer.
    pub fn hardlink(path: impl Into<Vec<u8>>, target: impl Into<Vec<u8>>) -> Self {
        Self::new(path, EntryKind::Hardlink { target: target.into() }, 0o644)
    }

    /// The deletion of `path`.
    pub fn whiteout(path: impl Into<Vec<u8>>) -> Self {
        Self::new(path, EntryKind::Whiteout, 0o644)
    }

    /// The marker that makes the directory `path` opaque.
    pub fn opaque(path: impl Into<Vec<u8>>) -> Self {
        Self::new(path, EntryKind::Opaque, 0o644)
    }

    /// The same entry with another owner.
    pub fn owned_by(mut self, uid: u64, gid: u64) -> Self {
        (self.uid, self.gid) = (uid, gid);
        self
    }

    /// The same entry with another modification time.
    pub fn modified_at(mut self, mtime: u64) -> Self {
        self.mtime = mtime;
        self
    }

    /// Bytes of content the entry's reader must give (0 but for files).
    pub fn size(&self) -> u64 {
        match self.kind {
            EntryKind::File { size } => size,
            _ => 0,
        }
    }

    /// The path as text, for messages.
    pub fn display_path(&self) -> String {
        String::from_utf8_lossy(&self.path).into_owned()
    }

    /// Check the path (and link target) of the entry.
    pub fn validate(&self) -> Result<()> {
        let invalid = |reason: &str, help: &str| Error::InvalidEntry {
            path: self.display_path(),
            reason: reason.to_owned(),
            help: help.to_owned(),
        };
        let relative = "give paths relative to the image root, e.g. `opt/app/run.sh`";
        if self.path.is_empty() {
            return Err(invalid("the path is empty", relative));
        }
        if self.path.contains(&0) {
            return Err(invalid("the path contains a NUL byte", relative));
        }
        if self.path.starts_with(b"/") || self.path.ends_with(b"/") {
            return Err(invalid("the path starts or ends with `/`", relative));
        }
        for component in self.path.split(|&b| b == b'/') {
            if component.is_empty() || component == b"." || component == b".." {
                return Err(invalid("the path has an empty, `.` or `..` component", relative));
            }
        }
        if name_of(&self.path).starts_with(WHITEOUT_PREFIX) {
            return Err(invalid(
                "names starting with `.wh.` are reserved for whiteouts",
                "describe a deletion as EntryKind::Whiteout and an opaque directory as EntryKind::Opaque",
            ));
        }
        if self.mode > 0o7777 {
            return Err(invalid(
                "the mode has bits beyond 0o7777",
                "give only permission bits; the kind says the type",
            ));
        }
        match &self.kind {
            EntryKind::Hardlink { target }
                if target.is_empty()
                    || target.starts_with(b"/")
                    || target.split(|&b| b == b'/').any(|c| c.is_empty() || c == b"." || c == b"..") =>
            {
                return Err(invalid(
                    "a hard link's target must be another path of the layer",
                    "give the target relative to the image root, like the entry's own path",
                ));
            }
            EntryKind::Symlink { target } if target.is_empty() || target.contains(&0) => {
                return Err(invalid("a symbolic link's target is empty or has a NUL byte", "give the link's target"));
            }
            _ => {}
        }
        Ok(())
    }

    /// The path this entry has in the tar.
    fn tar_path(&self) -> Vec<u8> {
        match self.kind {
            EntryKind::Whiteout => {
                let (parent, name) = split_parent(&self.path);
                join(parent, &[WHITEOUT_PREFIX, name].concat())
            }
            EntryKind::Opaque => join(&self.path, OPAQUE_MARKER),
            _ => self.path.clone(),
        }
    }
}

/// The order of entries in a layer: depth first, siblings by the bytes of
/// their names; within a directory its opaque marker first, then its
/// whiteouts, then the rest. A directory comes before what it holds.
pub fn entry_order(a: &LayerEntry, b: &LayerEntry) -> Ordering {
    order_key(a).cmp(order_key(b))
}

/// The components of an entry's place in the layer order: (rank, name),
/// where rank 0 is the opaque marker, 1 a whiteout, 2 anything else.
fn order_key(entry: &LayerEntry) -> impl Iterator<Item = (u8, &[u8])> + '_ {
    let components: Vec<&[u8]> = entry.path.split(|&b| b == b'/').collect();
    let last = components.len() - 1;
    let whiteout = entry.kind == EntryKind::Whiteout;
    let opaque = (entry.kind == EntryKind::Opaque).then_some((0u8, &b""[..]));
    components
        .into_iter()
        .enumerate()
        .map(move |(i, name)| (if whiteout && i == last { 1 } else { 2 }, name))
        .chain(opaque)
}

fn name_of(path: &[u8]) -> &[u8] {
    split_parent(path).1
}

/// (`a/b`, `c`) for `a/b/c`; (``, `c`) for `c`.
pub(crate) fn split_parent(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(slash) => (&path[..slash], &path[slash + 1..]),
        None => (b"", path),
    }
}

fn join(parent: &[u8], name: &[u8]) -> Vec<u8> {
    if parent.is_empty() { name.to_vec() } else { [parent, b"/", name].concat() }
}

/// Whether `ancestor` is a proper ancestor directory of `path`.
fn is_ancestor(ancestor: &[u8], path: &[u8]) -> bool {
    path.len() > ancestor.len() && path.starts_with(ancestor) && path[ancestor.len()] == b'/'
}

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// gzip, written deterministically (the usual layer blob).
    #[default]
    Gzip,
    /// None: the blob is the tar (what `docker-archive` holds).
    None,
}

/// Owner and mode of the directory entries the writer adds for parents the
/// entries do not list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParentDirs {
    /// Permission bits.
    pub mode: u32,
    /// Owner's user id.
    pub uid: u64,
    /// Owner's group id.
    pub gid: u64,
}

impl Default for ParentDirs {
    /// `0755`, owned by root.
    fn default() -> Self {
        Self { mode: 0o755, uid: 0, gid: 0 }
    }
}

/// How a layer is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LayerOptions {
    /// Modification times later than this become this (seconds since the
    /// Unix epoch; `SOURCE_DATE_EPOCH`). `None` keeps times as given.
    pub epoch: Option<u64>,
    /// The blob's compression.
    pub compression: Compression,
    /// Added parent directories. When the entries describe changes to a lower
    /// layer, list every parent directory with its real owner and mode: an
    /// added one replaces the lower layer's metadata of that directory.
    pub parent_dirs: ParentDirs,
}

/// What a written layer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerSummary {
    /// Digest of the uncompressed tar (the image config's `rootfs.diff_ids`).
    pub diff_id: Digest,
    /// Bytes of the uncompressed tar.
    pub uncompressed_size: u64,
    /// Digest of the blob as written (compressed or not).
    pub digest: Digest,
    /// Bytes of the blob.
    pub size: u64,
    /// The blob's compression.
    pub compression: Compression,
    /// Entries written, parent directories the writer added included.
    pub entries: u64,
}

impl LayerSummary {
    /// The blob's OCI descriptor.
    pub fn descriptor(&self) -> Descriptor {
        let media_type = match self.compression {
            Compression::Gzip => media_type::OCI_LAYER_TAR_GZIP,
            Compression::None => media_type::OCI_LAYER_TAR,
        };
        Descriptor::new(media_type, self.digest.clone(), self.size)
    }
}

/// A regular file as the writer hands it to a [`FileObserver`].
#[derive(Debug)]
pub struct ObservedFile<'a> {
    /// Its path in the layer.
    pub path: &'a [u8],
    /// Its mode.
    pub mode: u32,
    /// Bytes of content.
    pub size: u64,
    /// SHA-256 of the content.
    pub sha256: &'a Digest,
    /// SHA-1 of the content, in hex (SPDX requires it of every file).
    pub sha1: &'a str,
    /// The content, when [`FileObserver::wants_content`] asked for it.
    pub content: Option<Vec<u8>>,
}

/// Sees every regular file while a layer is written (what an SBOM lists):
/// its checksum, and the content of the few files it asks for.
pub trait FileObserver {
    /// Whether to keep the content of the file at `path` (`size` bytes) for
    /// [`FileObserver::file`]; keep it to small files (lock files).
    fn wants_content(&mut self, path: &[u8], size: u64) -> bool;
    /// A regular file was written.
    fn file(&mut self, file: ObservedFile<'_>);
}

/// Writes a normalised layer into a sink; see the [module docs](self).
pub struct LayerWriter<'o, W: Write> {
    out: HashingWriter<Blob<W>>,
    options: LayerOptions,
    observer: Option<&'o mut dyn FileObserver>,
    /// The directories (written or added) that hold the last entry, outermost first.
    open_dirs: Vec<Vec<u8>>,
    /// The last entry written, to check the order.
    last: Option<LayerEntry>,
    entries: u64,
}

/// The compressed side of the pipeline, hashed as it reaches the sink.
enum Blob<W: Write> {
    Gzip(Box<GzEncoder<HashingWriter<W>>>),
    Plain(W),
}

impl<W: Write> Write for Blob<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Blob::Gzip(gzip) => gzip.write(buf),
            Blob::Plain(sink) => sink.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Blob::Gzip(gzip) => gzip.flush(),
            Blob::Plain(sink) => sink.flush(),
        }
    }
}

impl<W: Write> LayerWriter<'static, W> {
    /// A writer of a layer into `sink`.
    pub fn new(sink: W, options: LayerOptions) -> Self {
        let blob = match options.compression {
            Compression::Gzip => Blob::Gzip(Box::new(gzip_encoder(HashingWriter::new(sink)))),
            Compression::None => Blob::Plain(sink),
        };
        LayerWriter {
            out: HashingWriter::new(blob),
            options,
            observer: None,
            open_dirs: Vec::new(),
            last: None,
            entries: 0,
        }
    }
}

impl<'o, W: Write> LayerWriter<'o, W> {
    /// The same writer, telling `observer` about every regular file.
    pub fn with_observer<'p>(self, observer: &'p mut dyn FileObserver) -> LayerWriter<'p, W> {
        LayerWriter {
            out: self.out,
            options: self.options,
            observer: Some(observer),
            open_dirs: self.open_dirs,
            last: self.last,
            entries: self.entries,
        }
    }

    /// Write one entry; `content` gives a file's [`EntryKind::File`] `size`
    /// bytes (use [`io::empty`] for other kinds).
    pub fn append(&mut self, entry: &LayerEntry, content: &mut dyn Read) -> Result<()> {
        entry.validate()?;
        if let Some(last) = &self.last {
            if entry_order(last, entry) != Ordering::Less {
                return Err(Error::UnsortedEntries { previous: last.display_path(), path: entry.display_path() });
            }
            let holds_paths = matches!(last.kind, EntryKind::Dir | EntryKind::Whiteout | EntryKind::Opaque);
            let inside =
                is_ancestor(&last.path, &entry.path) || (entry.kind == EntryKind::Opaque && last.path == entry.path);
            if !holds_paths && inside {
                return Err(Error::InvalidEntry {
                    path: entry.display_path(),
                    reason: format!("its parent {} is not a directory", last.display_path()),
                    help: "make the parent a directory entry".to_owned(),
                });
            }
        }
        if let EntryKind::Hardlink { target } = &entry.kind {
            let target_entry = LayerEntry::file(target.clone(), 0, 0);
            if entry_order(&target_entry, entry) != Ordering::Less {
                return Err(Error::InvalidEntry {
                    path: entry.display_path(),
                    reason: format!("it links to {}, which comes later in the layer", target_entry.display_path()),
                    help: "let the first of the linked paths (in layer order) hold the content, or use a LayerSpooler"
                        .to_owned(),
                });
            }
        }
        self.add_parents(entry)?;
        self.write_entry(entry, content)?;
        if entry.kind == EntryKind::Dir {
            self.open_dirs.push(entry.path.clone());
        }
        self.last = Some(entry.clone());
        Ok(())
    }

    /// Finish the archive and the compression; the sink and what was written.
    pub fn finish(self) -> Result<(W, LayerSummary)> {
        let mut out = self.out;
        tarball::write_end(&mut out).map_err(Error::io("end the layer"))?;
        let (blob, diff_id, uncompressed_size) = out.finish();
        let (sink, digest, size) = match blob {
            Blob::Gzip(gzip) => gzip.finish().map_err(Error::io("finish the layer's compression"))?.finish(),
            Blob::Plain(sink) => (sink, diff_id.clone(), uncompressed_size),
        };
        let summary = LayerSummary {
            diff_id,
            uncompressed_size,
            digest,
            size,
            compression: self.options.compression,
            entries: self.entries,
        };
        Ok((sink, summary))
    }

    /// Write directory entries for the parents of `entry` that have none.
    fn add_parents(&mut self, entry: &LayerEntry) -> Result<()> {
        // The directory that holds the entry: an opaque marker lives inside its path.
        let holder: &[u8] = if entry.kind == EntryKind::Opaque { &entry.path } else { split_parent(&entry.path).0 };
        while let Some(top) = self.open_dirs.last() {
            if top.as_slice() == holder || is_ancestor(top, holder) {
                break;
            }
            self.open_dirs.pop();
        }
        if holder.is_empty() {
            return Ok(());
        }
        let depth = self.open_dirs.len();
        let missing: Vec<Vec<u8>> = holder
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'/')
            .map(|(i, _)| holder[..i].to_vec())
            .chain(std::iter::once(holder.to_vec()))
            .skip(depth)
            .collect();
        for path in missing {
            let ParentDirs { mode, uid, gid } = self.options.parent_dirs;
            let dir =
                LayerEntry::dir(path.clone(), mode).owned_by(uid, gid).modified_at(self.options.epoch.unwrap_or(0));
            self.write_entry(&dir, &mut io::empty())?;
            self.open_dirs.push(path);
        }
        Ok(())
    }

    fn write_entry(&mut self, entry: &LayerEntry, content: &mut dyn Read) -> Result<()> {
        let path = entry.tar_path();
        let kind = match &entry.kind {
            EntryKind::File { .. } | EntryKind::Whiteout | EntryKind::Opaque => TarKind::Regular,
            EntryKind::Dir => TarKind::Directory,
            EntryKind::Symlink { target } => TarKind::Symlink(target),
            EntryKind::Hardlink { target } => TarKind::Hardlink(target),
            EntryKind::CharDevice { major, minor } => TarKind::CharDevice(*major, *minor),
            EntryKind::BlockDevice { major, minor } => TarKind::BlockDevice(*major, *minor),
            EntryKind::Fifo => TarKind::Fifo,
        };
        let mtime = match self.options.epoch {
            Some(epoch) => entry.mtime.min(epoch),
            None => entry.mtime,
        };
        let size = entry.size();
        let header = TarHeader {
            path: &path,
            kind,
            mode: entry.mode,
            uid: entry.uid,
            gid: entry.gid,
            mtime,
            size,
            xattrs: &entry.xattrs,
        };
        let action = || format!("write the layer entry {}", entry.display_path());
        tarball::write_header(&mut self.out, &header).map_err(Error::io(action()))?;
        if let EntryKind::File { size } = entry.kind {
            self.copy_content(entry, size, content)?;
            tarball::write_padding(&mut self.out, size).map_err(Error::io(action()))?;
        }
        self.entries += 1;
        Ok(())
    }

    /// Copy exactly `size` bytes of a file, hashing them for the observer.
    fn copy_content(&mut self, entry: &LayerEntry, size: u64, content: &mut dyn Read) -> Result<()> {
        let action = || format!("write the content of {}", entry.display_path());
        let mut limited = content.take(size);
        let Some(observer) = self.observer.as_deref_mut() else {
            let copied = io::copy(&mut limited, &mut self.out).map_err(Error::io(action()))?;
            return check_size(entry, size, copied);
        };
        let mut kept = observer.wants_content(&entry.path, size).then(Vec::new);
        let mut hasher = Hasher::default();
        let mut sha1 = sha1::Sha1::default();
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let read = match limited.read(&mut buffer) {
                Ok(0) => break,
                Ok(read) => read,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(action())(e)),
            };
            hasher.update(&buffer[..read]);
            sha1::Digest::update(&mut sha1, &buffer[..read]);
            if let Some(kept) = &mut kept {
                kept.extend_from_slice(&buffer[..read]);
            }
            self.out.write_all(&buffer[..read]).map_err(Error::io(action()))?;
        }
        let (sha256, copied) = hasher.finish();
        check_size(entry, size, copied)?;
        let sha1 = hex::encode(sha1::Digest::finalize(sha1));
        observer.file(ObservedFile {
            path: &entry.path,
            mode: entry.mode,
            size,
            sha256: &sha256,
            sha1: &sha1,
            content: kept,
        });
        Ok(())
    }
}

fn check_size(entry: &LayerEntry, size: u64, copied: u64) -> Result<()> {
    if copied == size {
        return Ok(());
    }
    Err(Error::InvalidEntry {
        path: entry.display_path(),
        reason: format!("its content ended after {copied} of {size} bytes"),
        help: "give the file's size as its reader yields it; the file may have changed while it was read".to_owned(),
    })
}

/// A gzip encoder whose header is the same for every stream.
pub(crate) fn gzip_encoder<W: Write>(sink: W) -> GzEncoder<W> {
    GzBuilder::new().mtime(0).operating_system(255).write(sink, flate2::Compression::new(6))
}

/// Compress an existing layer tar unchanged (a base layer read from a
/// `docker-archive`): the blob goes into `sink`; the summary has the tar's
/// diff ID and the blob's digest and size.
pub fn compress_layer<W: Write>(tar: &mut dyn Read, sink: W) -> Result<(W, LayerSummary)> {
    let mut out = HashingWriter::new(gzip_encoder(HashingWriter::new(sink)));
    io::copy(tar, &mut out).map_err(Error::io("compress a layer"))?;
    let (gzip, diff_id, uncompressed_size) = out.finish();
    let (sink, digest, size) = gzip.finish().map_err(Error::io("finish a layer's compression"))?.finish();
    let summary = LayerSummary { diff_id, uncompressed_size, digest, size, compression: Compression::Gzip, entries: 0 };
    Ok((sink, summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(entries: &[(LayerEntry, &[u8])], options: LayerOptions) -> Result<(Vec<u8>, LayerSummary)> {
        let mut writer = LayerWriter::new(Vec::new(), options);
        for (entry, content) in entries {
            writer.append(entry, &mut &content[..])?;
        }
        writer.finish()
    }

    fn plain() -> LayerOptions {
        LayerOptions { compression: Compression::None, ..LayerOptions::default() }
    }

    /// (path, type, mtime, uid) of each entry of a tar.
    fn listing(tar: &[u8]) -> Vec<(String, u8, u64, u64)> {
        let mut archive = tar::Archive::new(tar);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    String::from_utf8_lossy(&e.path_bytes()).into_owned(),
                    h.entry_type().as_byte(),
                    h.mtime().unwrap(),
                    h.uid().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn writes_parents_whiteouts_and_clamps_times() {
        let entries = [
            (LayerEntry::dir("opt", 0o755).modified_at(50), &b""[..]),
            (LayerEntry::opaque("opt/app"), b""),
            (LayerEntry::whiteout("opt/app/old"), b""),
            (LayerEntry::file("opt/app/run", 2, 0o755).owned_by(1001, 0).modified_at(5_000), b"hi"),
        ];
        let options = LayerOptions { epoch: Some(1_000), ..plain() };
        let (tar, summary) = write(&entries, options).unwrap();
        assert_eq!(
            listing(&tar),
            [
                ("opt/".into(), b'5', 50, 0),
                ("opt/app/".into(), b'5', 1_000, 0),
                ("opt/app/.wh..wh..opq".into(), b'0', 0, 0),
                ("opt/app/.wh.old".into(), b'0', 0, 0),
                ("opt/app/run".into(), b'0', 1_000, 1001),
            ]
        );
        assert_eq!(summary.entries, 5);
        assert_eq!(summary.diff_id, Digest::of(&tar));
        assert_eq!(summary.digest, summary.diff_id, "an uncompressed blob is the tar");
    }

    #[test]
    fn times_are_kept_without_epoch() {
        let (tar, _) = write(&[(LayerEntry::file("a", 0, 0o644).modified_at(5_000), b"")], plain()).unwrap();
        assert_eq!(listing(&tar)[0].2, 5_000);
    }

    #[test]
    fn refuses_unsorted_and_duplicate_entries() {
        let err = write(&[(LayerEntry::file("b", 0, 0o644), b""), (LayerEntry::file("a", 0, 0o644), b"")], plain())
            .unwrap_err();
        assert!(matches!(err, Error::UnsortedEntries { .. }), "{err}");
        let err = write(&[(LayerEntry::file("a", 0, 0o644), b""), (LayerEntry::file("a", 0, 0o644), b"")], plain())
            .unwrap_err();
        assert!(matches!(err, Error::UnsortedEntries { .. }), "{err}");
    }

    #[test]
    fn tree_order_puts_whiteouts_first_and_children_after_parents() {
        let mut entries = [
            LayerEntry::file("a-b", 0, 0o644),
            LayerEntry::file("a/z", 0, 0o644),
            LayerEntry::whiteout("a/zz"),
            LayerEntry::opaque("a"),
            LayerEntry::dir("a", 0o755),
            LayerEntry::file("a/+", 0, 0o644),
        ];
        entries.sort_by(entry_order);
        let order: Vec<String> = entries.iter().map(|e| String::from_utf8(e.tar_path()).unwrap()).collect();
        assert_eq!(order, ["a", "a/.wh..wh..opq", "a/.wh.zz", "a/+", "a/z", "a-b"]);
    }

    #[test]
    fn refuses_bad_paths() {
        for path in [&b""[..], b"/abs", b"dir/", b"a//b", b"a/../b", b"./a", b"a/.wh.x", b"nul\0"] {
            let err = write(&[(LayerEntry::file(path, 0, 0o644), b"")], plain()).unwrap_err();
            assert!(matches!(err, Error::InvalidEntry { .. }), "{path:?}: {err}");
        }
    }

    #[test]
    fn file_under_a_file_is_refused() {
        let err = write(&[(LayerEntry::file("a", 0, 0o644), b""), (LayerEntry::file("a/b", 0, 0o644), b"")], plain())
            .unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
    }

    #[test]
    fn short_content_is_an_error() {
        let err = write(&[(LayerEntry::file("a", 10, 0o644), b"abc")], plain()).unwrap_err();
        assert!(err.to_string().contains("3 of 10 bytes"), "{err}");
    }

    #[test]
    fn hardlink_must_follow_its_target() {
        let ok = [(LayerEntry::file("a", 1, 0o644), &b"x"[..]), (LayerEntry::hardlink("b", "a"), b"")];
        let (tar, _) = write(&ok, plain()).unwrap();
        assert_eq!(listing(&tar)[1].1, b'1');
        let bad = [(LayerEntry::hardlink("a", "b"), &b""[..]), (LayerEntry::file("b", 1, 0o644), b"x")];
        assert!(write(&bad, plain()).is_err());
    }

    #[test]
    fn non_utf8_and_long_names_round_trip() {
        let long = [b"d/".as_slice(), &[b'x'; 200]].concat();
        let entries = [
            (LayerEntry::dir("d", 0o755), &b""[..]),
            (LayerEntry::file(b"d/caf\xe9".to_vec(), 1, 0o644), b"1"),
            (LayerEntry::file(long.clone(), 1, 0o644), b"2"),
        ];
        let (tar, _) = write(&entries, plain()).unwrap();
        let mut archive = tar::Archive::new(&tar[..]);
        let paths: Vec<Vec<u8>> = archive.entries().unwrap().map(|e| e.unwrap().path_bytes().into_owned()).collect();
        assert_eq!(paths, [b"d/".to_vec(), b"d/caf\xe9".to_vec(), long]);
    }

    #[test]
    fn gzip_is_deterministic_and_digests_match() {
        let entries = [(LayerEntry::file("f", 5, 0o644).modified_at(7), &b"hello"[..])];
        let (first, a) = write(&entries, LayerOptions::default()).unwrap();
        let (second, b) = write(&entries, LayerOptions::default()).unwrap();
        assert_eq!(first, second);
        assert_eq!(a, b);
        assert_eq!(a.digest, Digest::of(&first));
        assert_eq!(a.size, first.len() as u64);
        assert_eq!(&first[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255], "no name, no mtime, OS unknown");
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(&first[..]).read_to_end(&mut tar).unwrap();
        assert_eq!(a.diff_id, Digest::of(&tar));
        assert_eq!(a.uncompressed_size, tar.len() as u64);

        let (again, c) = compress_layer(&mut &tar[..], Vec::new()).unwrap();
        assert_eq!(again, first, "recompressing the tar gives the same blob");
        assert_eq!((c.diff_id, c.digest), (a.diff_id, a.digest));
    }

    #[derive(Default)]
    struct Seen(Vec<(String, Digest, Option<Vec<u8>>)>);

    impl FileObserver for Seen {
        fn wants_content(&mut self, path: &[u8], _size: u64) -> bool {
            path.ends_with(b".lock")
        }
        fn file(&mut self, file: ObservedFile<'_>) {
            self.0.push((String::from_utf8_lossy(file.path).into_owned(), file.sha256.clone(), file.content));
        }
    }

    #[test]
    fn observer_sees_checksums_and_asked_content() {
        let mut seen = Seen::default();
        let mut writer = LayerWriter::new(Vec::new(), plain()).with_observer(&mut seen);
        writer.append(&LayerEntry::file("a.lock", 3, 0o644), &mut &b"abc"[..]).unwrap();
        writer.append(&LayerEntry::file("b.txt", 3, 0o644), &mut &b"xyz"[..]).unwrap();
        writer.finish().unwrap();
        assert_eq!(
            seen.0,
            [
                ("a.lock".to_owned(), Digest::of(b"abc"), Some(b"abc".to_vec())),
                ("b.txt".to_owned(), Digest::of(b"xyz"), None)
            ]
        );
    }
}
