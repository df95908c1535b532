//! The input archive: one tar stream with `scripts/` and `src/` (and, for
//! incremental builds, `artifacts/`), produced while the source tree is walked.
//!
//! This is the workspace's one tar writer. Entries are sorted by name, every
//! directory has its own entry, owners are root, and modes let any user read
//! (directories and executables `0755`, other files `0644`), so the archive
//! does not depend on who built it. Nothing is copied to disk first: file
//! contents go from the source file into the stream in fixed-size chunks.
//!
//! File names are bytes: a name that is not UTF-8 is written as it is
//! (`.s2iignore` and `--exclude` see it with U+FFFD for the bad bytes). In
//! copy mode a symlink is followed only when it resolves inside the source
//! tree; one that leads out of it is kept as a link and reported, so that no
//! file of the host outside the source reaches an image.

use std::borrow::Cow;
use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read, Write};
#[cfg(unix)]
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::ignore::SourceFilter;
use crate::runtime::ByteStream;

/// Size of the chunks the archive is sent in.
pub const CHUNK_SIZE: usize = 128 * 1024;
/// Chunks buffered between the walker and the engine connection.
const CHANNEL_CHUNKS: usize = 8;

/// A small file placed in the archive from memory (a downloaded script).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveFile {
    /// Path inside the archive, e.g. `scripts/assemble`.
    pub path: String,
    /// Contents.
    pub contents: Vec<u8>,
    /// Unix permission bits.
    pub mode: u32,
}

/// A directory tree of the host placed in the archive under a prefix.
#[derive(Debug, Clone, Default)]
pub struct SourceTree {
    /// Root directory on the host.
    pub root: PathBuf,
    /// What to leave out.
    pub filter: SourceFilter,
    /// Store what symlinks point at instead of the links (copy semantics).
    /// Only links that resolve inside `root` are followed: broken links and
    /// links that lead out of the tree stay links either way.
    pub follow_symlinks: bool,
}

/// A tar stream from elsewhere (the output of `save-artifacts`, a path of an
/// image or container) copied into the archive under a prefix, after strict
/// checks of every entry.
pub struct TarInput {
    /// The tar stream.
    pub reader: Box<dyn Read + Send>,
    /// Whether the program writing the stream succeeded; asked once the tar has ended.
    pub finished: Box<dyn FnOnce() -> std::result::Result<(), String> + Send>,
    /// Where the entries go in the archive, e.g. `artifacts` or `src/deploy`; empty for the root.
    pub prefix: String,
    /// Set modes to `0755` for directories and for files their owner may run, `0644` for other files.
    pub normalize_modes: bool,
    /// What the stream is, for messages (e.g. `the artifacts`).
    pub what: String,
}

impl TarInput {
    /// The artifacts of a previous image, under `artifacts/`.
    pub fn artifacts(
        reader: Box<dyn Read + Send>,
        finished: Box<dyn FnOnce() -> std::result::Result<(), String> + Send>,
    ) -> Self {
        Self { reader, finished, prefix: "artifacts".into(), normalize_modes: false, what: "the artifacts".into() }
    }
}

impl std::fmt::Debug for TarInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TarInput").field("prefix", &self.prefix).field("what", &self.what).finish_non_exhaustive()
    }
}

/// What goes into an archive: the input archive of a build (`artifacts/`,
/// `scripts/`, `src/`) or a build context (files and the source at the root).
#[derive(Debug)]
pub struct InputArchive {
    /// Directories written first, even when empty (`scripts` for a build).
    pub dirs: Vec<String>,
    /// Files from memory, with their paths in the archive (`scripts/assemble`).
    pub files: Vec<ArchiveFile>,
    /// The source tree.
    pub source: Option<SourceTree>,
    /// Where the source goes in the archive: `src` for a build, empty for the
    /// root of a build context. A non-empty directory always gets its entry.
    pub source_dir: String,
    /// Artifacts of a previous build (under `artifacts/`), written first.
    pub artifacts: Option<TarInput>,
    /// More tar streams, written after the source (paths copied out of images).
    pub extra: Vec<TarInput>,
    /// Owner (uid, gid) of every entry; root when `None`. Used when the engine,
    /// not the builder's own tar, unpacks the archive.
    pub owner: Option<(u64, u64)>,
    /// Modification times later than this become this (a reproducible
    /// build's epoch), so that what assemble copies carries no checkout time.
    pub mtime_limit: Option<u64>,
}

impl Default for InputArchive {
    /// An input archive of a build with empty `scripts/` and `src/`.
    fn default() -> Self {
        Self {
            dirs: vec!["scripts".to_owned()],
            files: Vec::new(),
            source: None,
            source_dir: "src".to_owned(),
            artifacts: None,
            extra: Vec::new(),
            owner: None,
            mtime_limit: None,
        }
    }
}

/// Counts of what an archive held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveStats {
    /// Entries written (files, directories, links).
    pub entries: u64,
    /// Bytes of file content written.
    pub bytes: u64,
    /// Special files (sockets, FIFOs, devices) left out.
    pub skipped_special: u64,
    /// Entries of the artifacts stream written under `artifacts/`.
    pub artifacts: u64,
    /// Entries of the artifacts stream dropped by the checks.
    pub artifacts_dropped: u64,
    /// Symlinks of the source kept as links, though links are followed,
    /// because they lead out of the source tree.
    #[serde(default)]
    pub links_kept_outside: u64,
}

/// Something the archive writer reports while it works.
#[derive(Debug)]
pub enum ArchiveProgress<'a> {
    /// Running totals after an entry.
    Totals(&'a ArchiveStats),
    /// An entry of a copied tar stream was left out, and why.
    DroppedEntry {
        /// What the stream is (`the artifacts`, …).
        what: String,
        /// The entry's path as the stream had it.
        path: String,
        /// Why it was left out.
        reason: String,
    },
    /// A symlink of the source was kept as a link, not followed, because it
    /// leads out of the source tree.
    KeptOutsideLink {
        /// The link's path relative to the source root.
        path: String,
        /// Where it leads, resolved (or the link's text when it cannot be resolved).
        target: String,
    },
}

/// Largest amount of data accepted after the end of an artifacts tar.
const MAX_TRAILING_BYTES: u64 = 1024 * 1024;

/// Mode of a directory entry.
const DIR_MODE: u32 = 0o755;

/// Write `archive` as tar to `out`. `progress` sees the running totals after
/// each entry, and every artifact entry that is dropped.
pub fn write_archive<W: Write>(
    archive: InputArchive,
    out: W,
    progress: &mut dyn FnMut(ArchiveProgress<'_>),
) -> Result<ArchiveStats> {
    let mut writer = TarWriter {
        builder: tar::Builder::new(out),
        stats: ArchiveStats::default(),
        progress,
        owner: archive.owner,
        mtime_limit: archive.mtime_limit,
    };
    if let Some(artifacts) = archive.artifacts {
        copy_tar(&mut writer, artifacts)?;
    }
    // Directories and files from memory, sorted together.
    let mut items: Vec<(&str, Option<&ArchiveFile>)> = archive.dirs.iter().map(|d| (d.as_str(), None)).collect();
    items.extend(archive.files.iter().map(|f| (f.path.as_str(), Some(f))));
    items.sort_by(|a, b| a.0.cmp(b.0));
    for (path, file) in items {
        match file {
            Some(file) => writer.memory_file(file)?,
            None => writer.dir(path.as_bytes(), 0)?,
        }
    }
    let prefix = archive.source_dir.trim_matches('/');
    if !prefix.is_empty() {
        writer.dir(prefix.as_bytes(), 0)?;
    }
    if let Some(tree) = &archive.source {
        let root_meta = fs::metadata(&tree.root).map_err(|e| source_error(&tree.root, &e))?;
        if !root_meta.is_dir() {
            return Err(Error::SourceUnreadable {
                path: tree.root.clone(),
                message: "not a directory".into(),
                help: "pass a directory (or a git repository) as the source".into(),
            });
        }
        let real_root = fs::canonicalize(&tree.root).map_err(|e| source_error(&tree.root, &e))?;
        let mut walk = Walk { tree, real_root, stack: HashSet::new() };
        walk.enter(&root_meta);
        walk.dir(&mut writer, &tree.root, b"", prefix.as_bytes())?;
    }
    for input in archive.extra {
        copy_tar(&mut writer, input)?;
    }
    writer.builder.finish().map_err(stream_error)?;
    Ok(writer.stats)
}

struct TarWriter<'p, W: Write> {
    builder: tar::Builder<W>,
    stats: ArchiveStats,
    progress: &'p mut dyn FnMut(ArchiveProgress<'_>),
    owner: Option<(u64, u64)>,
    mtime_limit: Option<u64>,
}

impl<W: Write> TarWriter<'_, W> {
    fn header(&self, kind: tar::EntryType, mode: u32, size: u64, mtime: u64) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(size);
        header.set_mtime(self.mtime_limit.map_or(mtime, |limit| mtime.min(limit)));
        let (uid, gid) = self.owner.unwrap_or((0, 0));
        header.set_uid(uid);
        header.set_gid(gid);
        header
    }

    fn dropped(&mut self, what: &str, path: &str, reason: &str) {
        self.stats.artifacts_dropped += 1;
        (self.progress)(ArchiveProgress::DroppedEntry {
            what: what.to_owned(),
            path: path.to_owned(),
            reason: reason.to_owned(),
        });
    }

    fn bump(&mut self, bytes: u64) {
        self.stats.entries += 1;
        self.stats.bytes += bytes;
        (self.progress)(ArchiveProgress::Totals(&self.stats));
    }

    fn dir(&mut self, path: &[u8], mtime: u64) -> Result<()> {
        let mut header = self.header(tar::EntryType::Directory, DIR_MODE, 0, mtime);
        let mut name = path.to_vec();
        name.push(b'/');
        self.builder.append_data(&mut header, bytes_path(&name), io::empty()).map_err(stream_error)?;
        self.bump(0);
        Ok(())
    }

    fn memory_file(&mut self, file: &ArchiveFile) -> Result<()> {
        let mut header = self.header(tar::EntryType::Regular, file.mode, file.contents.len() as u64, 0);
        self.builder.append_data(&mut header, &file.path, file.contents.as_slice()).map_err(stream_error)?;
        self.bump(file.contents.len() as u64);
        Ok(())
    }

    fn host_file(&mut self, path: &[u8], host: &Path, meta: &fs::Metadata) -> Result<()> {
        let file = File::open(host).map_err(|e| source_error(host, &e))?;
        let size = meta.len();
        let mode = if executable(meta) { 0o755 } else { 0o644 };
        let mut header = self.header(tar::EntryType::Regular, mode, size, mtime(meta));
        let mut reader = ExactReader { inner: file, remaining: size, path: host };
        // The tar crate writes what the reader yields; ExactReader makes a file
        // that shrinks or grows while it is read an error instead of a corrupt archive.
        let result = self.builder.append_data(&mut header, bytes_path(path), &mut reader);
        if let Err(e) = result {
            return Err(if e.kind() == io::ErrorKind::UnexpectedEof || e.kind() == io::ErrorKind::InvalidData {
                source_error(host, &e)
            } else if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<ReadFailure>()) {
                source_error(host, &io::Error::new(inner.kind, inner.message.clone()))
            } else {
                stream_error(e)
            });
        }
        self.bump(size);
        Ok(())
    }

    fn symlink(&mut self, path: &[u8], target: &Path, mtime: u64) -> Result<()> {
        let mut header = self.header(tar::EntryType::Symlink, 0o777, 0, mtime);
        self.builder.append_link(&mut header, bytes_path(path), target).map_err(stream_error)?;
        self.bump(0);
        Ok(())
    }
}

/// Copy the entries of a tar stream under its prefix, dropping any entry that
/// could land outside it or is not a plain file, directory or link: absolute
/// paths, `..`, devices, FIFOs, sockets, links whose target leaves the prefix,
/// hard links to unknown files, and second entries for a path.
fn copy_tar<W: Write>(writer: &mut TarWriter<'_, W>, input: TarInput) -> Result<()> {
    let what = input.what.clone();
    let is_artifacts = input.prefix == "artifacts";
    let fail = |message: String| {
        if is_artifacts { Error::Artifacts { message } } else { Error::Copy { what: what.clone(), message } }
    };
    let prefix = input.prefix.trim_matches('/').to_owned();
    // Paths stay bytes from the stream to the archive: a name that is not UTF-8 keeps its bytes.
    let place = |path: &[u8]| -> Vec<u8> {
        if prefix.is_empty() { path.to_vec() } else { [prefix.as_bytes(), b"/", path].concat() }
    };
    // The prefix's own directories (e.g. `src/deploy/`) come first.
    let mut parent = String::new();
    for part in prefix.split('/').filter(|p| !p.is_empty()) {
        parent = if parent.is_empty() { part.to_owned() } else { format!("{parent}/{part}") };
        if parent != "src" {
            writer.dir(parent.as_bytes(), 0)?;
        }
    }
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut files: HashSet<Vec<u8>> = HashSet::new();
    let mut reader = input.reader;
    {
        let mut archive = tar::Archive::new(&mut reader);
        for entry in archive.entries().map_err(|e| fail(e.to_string()))? {
            let mut entry = entry.map_err(|e| fail(e.to_string()))?;
            let raw = entry.path_bytes().into_owned();
            let shown = String::from_utf8_lossy(&raw).into_owned();
            let kind = entry.header().entry_type();
            let Some(path) = clean_artifact_path(&raw) else {
                writer.dropped(&what, &shown, "its path is absolute or leaves the directory it is copied to");
                continue;
            };
            if path.is_empty() {
                // The archive's own root ("./").
                continue;
            }
            if !seen.insert(path.clone()) {
                writer.dropped(&what, &shown, "an earlier entry has the same path");
                continue;
            }
            let original = entry.header().mode().unwrap_or(0o644) & 0o777;
            let mode = match (input.normalize_modes, kind) {
                (true, tar::EntryType::Directory) => 0o755,
                (true, _) if original & 0o100 != 0 => 0o755,
                (true, _) => 0o644,
                (false, _) => original | 0o444,
            };
            let mtime = entry.header().mtime().unwrap_or(0);
            let archive_path = place(&path);
            match kind {
                tar::EntryType::Directory => {
                    writer.dir(&archive_path, mtime)?;
                }
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let size = entry.size();
                    let mut header = writer.header(tar::EntryType::Regular, mode, size, mtime);
                    writer
                        .builder
                        .append_data(&mut header, bytes_path(&archive_path), &mut entry)
                        .map_err(stream_error)?;
                    files.insert(path);
                    writer.bump(size);
                }
                tar::EntryType::Symlink => {
                    let target = entry.link_name_bytes().map(Cow::into_owned);
                    let Some(target) = target.filter(|t| link_stays_inside(&path, t)) else {
                        seen.remove(&path);
                        writer.dropped(
                            &what,
                            &shown,
                            "it is a symlink that points outside the directory it is copied to",
                        );
                        continue;
                    };
                    writer.symlink(&archive_path, &bytes_path(&target), mtime)?;
                }
                tar::EntryType::Link => {
                    let target = entry.link_name_bytes().and_then(|t| clean_artifact_path(&t));
                    let Some(target) = target.filter(|t| files.contains(t)) else {
                        seen.remove(&path);
                        writer.dropped(&what, &shown, "it is a hard link to a file that is not copied with it");
                        continue;
                    };
                    let mut header = writer.header(tar::EntryType::Link, mode, 0, mtime);
                    writer
                        .builder
                        .append_link(&mut header, bytes_path(&archive_path), bytes_path(&place(&target)))
                        .map_err(stream_error)?;
                    writer.bump(0);
                }
                other => {
                    seen.remove(&path);
                    let reason =
                        format!("it is a {} entry; only files, directories and links are kept", entry_kind(other));
                    writer.dropped(&what, &shown, &reason);
                    continue;
                }
            }
            if is_artifacts {
                writer.stats.artifacts += 1;
            }
        }
    }
    // Zero blocks or other data after the end of the archive are read and
    // ignored, so that the writer is not left blocked; but not without bound.
    let trailing =
        io::copy(&mut (&mut reader).take(MAX_TRAILING_BYTES + 1), &mut io::sink()).map_err(|e| fail(e.to_string()))?;
    if trailing > MAX_TRAILING_BYTES {
        return Err(fail("more than 1 MiB of data follows the end of the tar archive".into()));
    }
    (input.finished)().map_err(fail)
}

/// The path of an artifact entry relative to `artifacts/`, or `None` when it
/// is absolute or climbs out.
fn clean_artifact_path(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.starts_with(b"/") {
        return None;
    }
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in raw.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => return None,
            p => parts.push(p),
        }
    }
    Some(parts.join(&b'/'))
}

/// Whether a symlink at `path` (relative to the artifacts root) pointing at
/// `target` resolves inside the artifacts root.
fn link_stays_inside(path: &[u8], target: &[u8]) -> bool {
    if target.starts_with(b"/") || target.is_empty() {
        return false;
    }
    let mut depth: Vec<&[u8]> = path.split(|b| *b == b'/').collect();
    depth.pop();
    for part in target.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if depth.pop().is_none() {
                    return false;
                }
            }
            p => depth.push(p),
        }
    }
    true
}

fn entry_kind(kind: tar::EntryType) -> &'static str {
    match kind {
        tar::EntryType::Char => "character device",
        tar::EntryType::Block => "block device",
        tar::EntryType::Fifo => "FIFO",
        tar::EntryType::GNUSparse => "sparse file",
        _ => "special",
    }
}

struct Walk<'a> {
    tree: &'a SourceTree,
    /// The root with every link resolved: a followed link must lead below it.
    real_root: PathBuf,
    /// Directories on the current path, to stop symlink loops.
    stack: HashSet<(u64, u64)>,
}

impl Walk<'_> {
    fn enter(&mut self, meta: &fs::Metadata) -> bool {
        self.stack.insert(dev_ino(meta))
    }

    fn leave(&mut self, meta: &fs::Metadata) {
        self.stack.remove(&dev_ino(meta));
    }

    /// Write the entries of `host` (at `rel` in the source, as bytes) under `prefix`.
    fn dir<W: Write>(&mut self, writer: &mut TarWriter<'_, W>, host: &Path, rel: &[u8], prefix: &[u8]) -> Result<()> {
        let mut names: Vec<_> = fs::read_dir(host)
            .map_err(|e| source_error(host, &e))?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect::<io::Result<_>>()
            .map_err(|e| source_error(host, &e))?;
        names.sort();
        for name in names {
            let name_bytes = os_bytes(&name);
            let child_rel = if rel.is_empty() { name_bytes.into_owned() } else { [rel, b"/", &name_bytes].concat() };
            // Rules match the name as text; the archive gets its bytes.
            let shown = String::from_utf8_lossy(&child_rel);
            if self.tree.filter.excludes(&shown) {
                continue;
            }
            let child = host.join(&name);
            let link_meta = fs::symlink_metadata(&child).map_err(|e| source_error(&child, &e))?;
            let archive_path = if prefix.is_empty() { child_rel.clone() } else { [prefix, b"/", &child_rel].concat() };
            let file_type = link_meta.file_type();
            if file_type.is_symlink() {
                let target = fs::read_link(&child).map_err(|e| source_error(&child, &e))?;
                if !self.tree.follow_symlinks {
                    writer.symlink(&archive_path, &target, mtime(&link_meta))?;
                    continue;
                }
                // Broken links and loops cannot be resolved: they stay links.
                let Ok(resolved) = fs::canonicalize(&child) else {
                    writer.symlink(&archive_path, &target, mtime(&link_meta))?;
                    continue;
                };
                if !resolved.starts_with(&self.real_root) {
                    writer.symlink(&archive_path, &target, mtime(&link_meta))?;
                    writer.stats.links_kept_outside += 1;
                    (writer.progress)(ArchiveProgress::KeptOutsideLink {
                        path: shown.into_owned(),
                        target: resolved.display().to_string(),
                    });
                    continue;
                }
                match fs::metadata(&child) {
                    Ok(meta) if meta.is_dir() => {
                        if !self.enter(&meta) {
                            // A link back into its own ancestry: keep it as a link.
                            writer.symlink(&archive_path, &target, mtime(&link_meta))?;
                            continue;
                        }
                        writer.dir(&archive_path, mtime(&meta))?;
                        self.dir(writer, &child, &child_rel, prefix)?;
                        self.leave(&meta);
                    }
                    Ok(meta) if meta.is_file() => writer.host_file(&archive_path, &child, &meta)?,
                    Ok(_) => writer.stats.skipped_special += 1,
                    Err(_) => writer.symlink(&archive_path, &target, mtime(&link_meta))?,
                }
            } else if file_type.is_dir() {
                writer.dir(&archive_path, mtime(&link_meta))?;
                self.enter(&link_meta);
                self.dir(writer, &child, &child_rel, prefix)?;
                self.leave(&link_meta);
            } else if file_type.is_file() {
                writer.host_file(&archive_path, &child, &link_meta)?;
            } else {
                writer.stats.skipped_special += 1;
            }
        }
        Ok(())
    }
}

/// The bytes of a file name (on Unix, exactly as the file system has them).
#[cfg(unix)]
fn os_bytes(name: &OsStr) -> Cow<'_, [u8]> {
    use std::os::unix::ffi::OsStrExt;
    Cow::Borrowed(name.as_bytes())
}

#[cfg(not(unix))]
fn os_bytes(name: &OsStr) -> Cow<'_, [u8]> {
    match name.to_string_lossy() {
        Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
        Cow::Owned(s) => Cow::Owned(s.into_bytes()),
    }
}

/// A path made of the bytes of an archive entry's name.
#[cfg(unix)]
fn bytes_path(bytes: &[u8]) -> Cow<'_, Path> {
    use std::os::unix::ffi::OsStrExt;
    Cow::Borrowed(Path::new(OsStr::from_bytes(bytes)))
}

#[cfg(not(unix))]
fn bytes_path(bytes: &[u8]) -> Cow<'_, Path> {
    Cow::Owned(PathBuf::from(String::from_utf8_lossy(bytes).into_owned()))
}

#[cfg(unix)]
fn executable(meta: &fs::Metadata) -> bool {
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn executable(_meta: &fs::Metadata) -> bool {
    false
}

#[cfg(unix)]
fn dev_ino(meta: &fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn dev_ino(_meta: &fs::Metadata) -> (u64, u64) {
    (0, 0)
}

fn mtime(meta: &fs::Metadata) -> u64 {
    meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs())
}

/// A read failure of a source file, carried through the tar crate's io::Error.
#[derive(Debug)]
struct ReadFailure {
    kind: io::ErrorKind,
    message: String,
}

impl std::fmt::Display for ReadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ReadFailure {}

/// Reads exactly `remaining` bytes of a file, or fails.
struct ExactReader<'a> {
    inner: File,
    remaining: u64,
    path: &'a Path,
}

impl Read for ExactReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self
            .inner
            .read(&mut buf[..want])
            .map_err(|e| io::Error::other(ReadFailure { kind: e.kind(), message: e.to_string() }))?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} shrank while it was being read", self.path.display()),
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

fn source_error(path: &Path, e: &io::Error) -> Error {
    let help = match e.kind() {
        io::ErrorKind::PermissionDenied => "make the file readable, or leave it out with .s2iignore or --exclude",
        io::ErrorKind::NotFound => "the file disappeared while the source was read; run the build again",
        _ => "check the file, or leave it out with .s2iignore or --exclude",
    };
    Error::SourceUnreadable { path: path.to_owned(), message: e.to_string(), help: help.to_owned() }
}

fn stream_error(e: io::Error) -> Error {
    Error::Io {
        action: "stream the input archive to".into(),
        path: PathBuf::from("the build container"),
        help: "the build container stopped reading its input; its output above says why".into(),
        source: e,
    }
}

/// A `Write` that sends fixed-size chunks into a channel, for a blocking
/// producer feeding an async consumer. Memory stays at a few chunks.
pub struct ChunkSender {
    buffer: BytesMut,
    sender: mpsc::Sender<io::Result<Bytes>>,
}

impl ChunkSender {
    /// A writer feeding `sender`.
    pub fn new(sender: mpsc::Sender<io::Result<Bytes>>) -> Self {
        Self { buffer: BytesMut::with_capacity(CHUNK_SIZE), sender }
    }

    fn send_buffer(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = self.buffer.split().freeze();
        self.buffer.reserve(CHUNK_SIZE);
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the reader of the archive went away"))
    }
}

impl Write for ChunkSender {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = CHUNK_SIZE - self.buffer.len();
        let n = buf.len().min(room);
        self.buffer.extend_from_slice(&buf[..n]);
        if self.buffer.len() >= CHUNK_SIZE {
            self.send_buffer()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_buffer()
    }
}

/// Run a blocking producer that writes into a byte stream: the stream yields what
/// the producer writes, with backpressure; the handle returns the producer's result.
/// When the producer fails, the stream ends with an error.
pub fn spawn_producer<T, F>(produce: F) -> (ByteStream, tokio::task::JoinHandle<Result<T>>)
where
    T: Send + 'static,
    F: FnOnce(&mut ChunkSender) -> Result<T> + Send + 'static,
{
    let (sender, receiver) = mpsc::channel::<io::Result<Bytes>>(CHANNEL_CHUNKS);
    let error_sender = sender.clone();
    let handle = tokio::task::spawn_blocking(move || {
        let mut writer = ChunkSender::new(sender);
        let result = produce(&mut writer).and_then(|value| {
            writer.flush().map_err(stream_error)?;
            Ok(value)
        });
        if let Err(e) = &result {
            let _ = error_sender.blocking_send(Err(io::Error::other(e.to_string())));
        }
        result
    });
    let stream =
        futures::stream::unfold(
            receiver,
            |mut receiver| async move { receiver.recv().await.map(|item| (item, receiver)) },
        );
    (Box::pin(stream), handle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ignore::{DEFAULT_EXCLUDE, ExcludePattern, IgnoreRules};

    fn entries(data: &[u8]) -> Vec<(String, tar::EntryType, u32, Vec<u8>)> {
        let mut archive = tar::Archive::new(data);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let path = e.path().unwrap().to_string_lossy().into_owned();
                let kind = e.header().entry_type();
                let mode = e.header().mode().unwrap();
                let mut body = Vec::new();
                e.read_to_end(&mut body).unwrap();
                (path, kind, mode, body)
            })
            .collect()
    }

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("b/deep")).unwrap();
        fs::create_dir_all(root.join(".git")).unwrap();
        fs::create_dir_all(root.join("empty")).unwrap();
        fs::write(root.join(".git/HEAD"), "ref").unwrap();
        fs::write(root.join("z.txt"), "zz").unwrap();
        fs::write(root.join("a.txt"), "aa").unwrap();
        fs::write(root.join("b/deep/run.sh"), "#!/bin/sh").unwrap();
        fs::set_permissions(root.join("b/deep/run.sh"), fs::Permissions::from_mode(0o700)).unwrap();
        fs::write(root.join("secret.key"), "k").unwrap();
        fs::set_permissions(root.join("secret.key"), fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::symlink("a.txt", root.join("link")).unwrap();
        std::os::unix::fs::symlink("missing", root.join("broken")).unwrap();
        dir
    }

    fn write(archive: InputArchive) -> Vec<u8> {
        let mut out = Vec::new();
        write_archive(archive, &mut out, &mut |_| {}).unwrap();
        out
    }

    fn tree_archive(root: &Path, follow_symlinks: bool) -> InputArchive {
        InputArchive {
            source: Some(SourceTree { root: root.to_owned(), filter: SourceFilter::default(), follow_symlinks }),
            ..Default::default()
        }
    }

    #[test]
    fn entries_are_sorted_with_directories_and_readable_modes() {
        let dir = tree();
        let filter = SourceFilter {
            exclude: ExcludePattern::new(DEFAULT_EXCLUDE).unwrap(),
            ignore: IgnoreRules::parse("x", "*.key\n").unwrap(),
            ..Default::default()
        };
        let archive = InputArchive {
            files: vec![ArchiveFile { path: "scripts/run".into(), contents: b"r".to_vec(), mode: 0o755 }],
            source: Some(SourceTree { root: dir.path().to_owned(), filter, follow_symlinks: true }),
            ..Default::default()
        };
        let got = entries(&write(archive));
        let names: Vec<_> = got.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "scripts/",
                "scripts/run",
                "src/",
                "src/a.txt",
                "src/b/",
                "src/b/deep/",
                "src/b/deep/run.sh",
                "src/broken",
                "src/empty/",
                "src/link",
                "src/z.txt"
            ]
        );
        let by_name = |n: &str| got.iter().find(|e| e.0 == n).unwrap();
        assert_eq!(by_name("src/b/deep/run.sh").2, 0o755);
        assert_eq!(by_name("src/a.txt").2, 0o644);
        assert_eq!(by_name("src/b/").2, 0o755);
        assert_eq!(by_name("src/link").1, tar::EntryType::Regular, "followed");
        assert_eq!(by_name("src/link").3, b"aa");
        assert_eq!(by_name("src/broken").1, tar::EntryType::Symlink, "broken links stay links");
    }

    #[test]
    fn symlinks_are_kept_when_not_following() {
        let dir = tree();
        let archive = || tree_archive(dir.path(), false);
        let got = entries(&write(archive()));
        let link = got.iter().find(|e| e.0 == "src/link").unwrap();
        assert_eq!(link.1, tar::EntryType::Symlink);
    }

    #[test]
    fn output_is_deterministic() {
        let dir = tree();
        let archive = || tree_archive(dir.path(), true);
        assert_eq!(write(archive()), write(archive()));
    }

    #[test]
    fn symlink_loops_do_not_recurse_forever() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("d")).unwrap();
        std::os::unix::fs::symlink("..", dir.path().join("d/up")).unwrap();
        let archive = || tree_archive(dir.path(), true);
        let got = entries(&write(archive()));
        let up = got.iter().find(|e| e.0 == "src/d/up").unwrap();
        assert_eq!(up.1, tar::EntryType::Symlink);
    }

    #[test]
    fn links_out_of_the_source_are_kept_as_links_and_reported() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), "the secret").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("src");
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::write(root.join("sub/inside.txt"), "inside").unwrap();
        let secret = outside.path().join("secret");
        std::os::unix::fs::symlink(&secret, root.join("abs")).unwrap();
        std::os::unix::fs::symlink(
            "../../../../../../../../../..".to_owned() + &secret.display().to_string(),
            root.join("climb"),
        )
        .unwrap();
        // Inside at first sight, out through another link.
        std::os::unix::fs::symlink(outside.path(), root.join("door")).unwrap();
        std::os::unix::fs::symlink("door/secret", root.join("through")).unwrap();
        std::os::unix::fs::symlink("sub/inside.txt", root.join("in-file")).unwrap();
        std::os::unix::fs::symlink("sub", root.join("in-dir")).unwrap();
        std::os::unix::fs::symlink("../src/sub/inside.txt", root.join("out-and-back")).unwrap();

        let mut kept = Vec::new();
        let mut out = Vec::new();
        let stats = write_archive(tree_archive(&root, true), &mut out, &mut |p| {
            if let ArchiveProgress::KeptOutsideLink { path, target } = p {
                kept.push((path, target));
            }
        })
        .unwrap();
        let got = entries(&out);
        let by_name = |n: &str| got.iter().find(|e| e.0 == n).unwrap_or_else(|| panic!("{n} missing: {got:?}"));
        for link in ["src/abs", "src/climb", "src/door", "src/through"] {
            assert_eq!(by_name(link).1, tar::EntryType::Symlink, "{link} is kept as a link");
        }
        assert_eq!(by_name("src/in-file").1, tar::EntryType::Regular);
        assert_eq!(by_name("src/in-file").3, b"inside");
        assert_eq!(by_name("src/in-dir/").1, tar::EntryType::Directory);
        assert_eq!(by_name("src/in-dir/inside.txt").3, b"inside");
        assert_eq!(by_name("src/out-and-back").3, b"inside", "a link that resolves inside is followed");
        assert!(!got.iter().any(|e| e.3 == b"the secret"), "no content from outside the source");
        let names: Vec<&str> = kept.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(names, ["abs", "climb", "door", "through"]);
        let real_secret = fs::canonicalize(&secret).unwrap().display().to_string();
        assert_eq!(kept[0].1, real_secret);
        assert_eq!(stats.links_kept_outside, 4);
    }

    #[test]
    fn file_names_are_bytes() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let latin1 = OsStr::from_bytes(b"caf\xe9.txt");
        fs::write(dir.path().join(latin1), "latin-1").unwrap();
        fs::create_dir(dir.path().join(OsStr::from_bytes(b"d\xefr"))).unwrap();
        fs::write(dir.path().join(OsStr::from_bytes(b"d\xefr/x.log")), "log").unwrap();
        fs::write(dir.path().join(OsStr::from_bytes(b"d\xefr/keep")), "keep").unwrap();
        let filter = SourceFilter { ignore: IgnoreRules::parse("x", "*/*.log\n").unwrap(), ..Default::default() };
        let archive = InputArchive {
            source: Some(SourceTree { root: dir.path().to_owned(), filter, follow_symlinks: true }),
            ..Default::default()
        };
        let data = write(archive);
        let mut tar = tar::Archive::new(data.as_slice());
        let names: Vec<Vec<u8>> = tar.entries().unwrap().map(|e| e.unwrap().path_bytes().into_owned()).collect();
        let expected: Vec<&[u8]> = vec![b"scripts/", b"src/", b"src/caf\xe9.txt", b"src/d\xefr/", b"src/d\xefr/keep"];
        assert_eq!(names, expected);
    }

    #[test]
    fn copied_streams_keep_byte_names() {
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(1);
        tar.append_data(&mut h, bytes_path(b"caf\xe9"), &b"x"[..]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        tar.append_link(&mut h, "link", bytes_path(b"caf\xe9")).unwrap();
        let archive = InputArchive {
            artifacts: Some(TarInput::artifacts(
                Box::new(io::Cursor::new(tar.into_inner().unwrap())),
                Box::new(|| Ok(())),
            )),
            ..Default::default()
        };
        let data = write(archive);
        let mut tar = tar::Archive::new(data.as_slice());
        let mut found = Vec::new();
        for entry in tar.entries().unwrap() {
            let entry = entry.unwrap();
            found.push((entry.path_bytes().into_owned(), entry.link_name_bytes().map(|l| l.into_owned())));
        }
        assert!(found.contains(&(b"artifacts/caf\xe9".to_vec(), None)), "{found:?}");
        assert!(found.contains(&(b"artifacts/link".to_vec(), Some(b"caf\xe9".to_vec()))), "{found:?}");
    }

    #[test]
    fn long_paths_survive() {
        let dir = tempfile::tempdir().unwrap();
        let long = "d".repeat(90);
        fs::create_dir_all(dir.path().join(&long).join(&long)).unwrap();
        fs::write(dir.path().join(&long).join(&long).join("file.txt"), "x").unwrap();
        let archive = || tree_archive(dir.path(), true);
        let got = entries(&write(archive()));
        assert!(got.iter().any(|e| e.0 == format!("src/{long}/{long}/file.txt")));
    }

    /// A tar with hostile entries, written header by header.
    fn hostile_tar() -> Vec<u8> {
        let mut out = tar::Builder::new(Vec::new());
        let mut add = |path: &str, kind: tar::EntryType, link: Option<&str>, data: &[u8]| {
            let mut h = tar::Header::new_ustar();
            h.set_entry_type(kind);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            // Write the raw name so the tar crate does not refuse `..` or `/`.
            let name = &mut h.as_ustar_mut().unwrap().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            if let Some(link) = link {
                h.set_link_name_literal(link).unwrap();
            }
            h.set_cksum();
            out.append(&h, data).unwrap();
        };
        add("./", tar::EntryType::Directory, None, b"");
        add("keep.txt", tar::EntryType::Regular, None, b"ok");
        add("dir/", tar::EntryType::Directory, None, b"");
        add("dir/inner.txt", tar::EntryType::Regular, None, b"in");
        add("../escape.txt", tar::EntryType::Regular, None, b"bad");
        add("dir/../../escape2.txt", tar::EntryType::Regular, None, b"bad");
        add("/etc/passwd", tar::EntryType::Regular, None, b"bad");
        add("dev-null", tar::EntryType::Char, None, b"");
        add("fifo", tar::EntryType::Fifo, None, b"");
        add("link-out", tar::EntryType::Symlink, Some("../../etc/passwd"), b"");
        add("link-abs", tar::EntryType::Symlink, Some("/etc/passwd"), b"");
        add("dir/link-in", tar::EntryType::Symlink, Some("../keep.txt"), b"");
        add("hard-in", tar::EntryType::Link, Some("keep.txt"), b"");
        add("hard-out", tar::EntryType::Link, Some("/etc/shadow"), b"");
        add("keep.txt", tar::EntryType::Regular, None, b"overwrite");
        let mut data = out.into_inner().unwrap();
        data.extend_from_slice(&[0u8; 4096]);
        data
    }

    #[test]
    fn hostile_artifacts_are_dropped_and_reported() {
        let mut dropped = Vec::new();
        let archive = InputArchive {
            artifacts: Some(TarInput::artifacts(Box::new(io::Cursor::new(hostile_tar())), Box::new(|| Ok(())))),
            ..Default::default()
        };
        let mut out = Vec::new();
        let stats = write_archive(archive, &mut out, &mut |p| {
            if let ArchiveProgress::DroppedEntry { path, .. } = p {
                dropped.push(path);
            }
        })
        .unwrap();
        let got = entries(&out);
        let names: Vec<&str> = got.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "artifacts/",
                "artifacts/keep.txt",
                "artifacts/dir/",
                "artifacts/dir/inner.txt",
                "artifacts/dir/link-in",
                "artifacts/hard-in",
                "scripts/",
                "src/"
            ]
        );
        assert_eq!(got[1].3, b"ok", "the first entry for a path wins");
        assert_eq!(
            dropped,
            [
                "../escape.txt",
                "dir/../../escape2.txt",
                "/etc/passwd",
                "dev-null",
                "fifo",
                "link-out",
                "link-abs",
                "hard-out",
                "keep.txt"
            ]
        );
        assert_eq!(stats.artifacts_dropped, 9);
        assert_eq!(stats.artifacts, 5);
    }

    #[test]
    fn a_failed_artifacts_writer_fails_the_archive() {
        let archive = InputArchive {
            artifacts: Some(TarInput::artifacts(
                Box::new(io::Cursor::new(vec![0u8; 1024])),
                Box::new(|| Err("save-artifacts exited with code 1".into())),
            )),
            ..Default::default()
        };
        let err = write_archive(archive, &mut Vec::new(), &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("exited with code 1"), "{err}");

        let archive = InputArchive {
            artifacts: Some(TarInput::artifacts(
                Box::new(io::Cursor::new(b"definitely not a tar archive".repeat(40))),
                Box::new(|| Ok(())),
            )),
            ..Default::default()
        };
        assert!(matches!(write_archive(archive, &mut Vec::new(), &mut |_| {}), Err(Error::Artifacts { .. })));
    }

    #[test]
    fn owners_can_be_set_for_engine_side_unpacking() {
        let dir = tree();
        let mut archive = tree_archive(dir.path(), true);
        archive.owner = Some((1001, 0));
        let data = write(archive);
        let mut tar = tar::Archive::new(data.as_slice());
        for entry in tar.entries().unwrap() {
            assert_eq!(entry.unwrap().header().uid().unwrap(), 1001);
        }
    }

    #[test]
    fn extra_inputs_land_under_their_prefix_with_normalized_modes() {
        let mut tar = tar::Builder::new(Vec::new());
        let mut add = |path: &str, kind: tar::EntryType, mode: u32| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_mode(mode);
            h.set_size(if kind == tar::EntryType::Regular { 1 } else { 0 });
            let data: &[u8] = if kind == tar::EntryType::Regular { b"x" } else { b"" };
            tar.append_data(&mut h, path, data).unwrap();
        };
        add("bin/", tar::EntryType::Directory, 0o700);
        add("bin/app", tar::EntryType::Regular, 0o700);
        add("bin/data", tar::EntryType::Regular, 0o600);
        add("bin/group-only", tar::EntryType::Regular, 0o610);
        let data = tar.into_inner().unwrap();
        let archive = InputArchive {
            dirs: Vec::new(),
            source_dir: String::new(),
            extra: vec![TarInput {
                reader: Box::new(io::Cursor::new(data)),
                finished: Box::new(|| Ok(())),
                prefix: "deploy/lib".into(),
                normalize_modes: true,
                what: "the artifacts of the builder".into(),
            }],
            ..Default::default()
        };
        let got = entries(&write(archive));
        let modes: Vec<(&str, u32)> = got.iter().map(|e| (e.0.as_str(), e.2)).collect();
        assert_eq!(
            modes,
            [
                ("deploy/", 0o755),
                ("deploy/lib/", 0o755),
                ("deploy/lib/bin/", 0o755),
                ("deploy/lib/bin/app", 0o755),
                ("deploy/lib/bin/data", 0o644),
                ("deploy/lib/bin/group-only", 0o644),
            ],
            "the owner's execute bit decides, not the group's"
        );
    }

    #[test]
    fn link_targets_are_resolved_against_the_link() {
        assert!(link_stays_inside(b"a/b", b"../c"));
        assert!(!link_stays_inside(b"a/b", b"../../c"));
        assert!(!link_stays_inside(b"a", b"/abs"));
        assert!(link_stays_inside(b"a/b/c", b"./d/../e"));
        assert_eq!(clean_artifact_path(b"./a//b/"), Some(b"a/b".to_vec()));
        assert_eq!(clean_artifact_path(b"a/../b"), None);
    }

    #[tokio::test]
    async fn producer_stream_carries_the_archive_and_errors() {
        use futures::StreamExt;
        let (mut stream, handle) = spawn_producer(|w| {
            w.write_all(&vec![7u8; CHUNK_SIZE * 3 + 5]).unwrap();
            Ok(42)
        });
        let mut total = 0;
        while let Some(chunk) = stream.next().await {
            total += chunk.unwrap().len();
        }
        assert_eq!(total, CHUNK_SIZE * 3 + 5);
        assert_eq!(handle.await.unwrap().unwrap(), 42);

        let (mut stream, handle) = spawn_producer::<(), _>(|_| Err(Error::Cancelled));
        let first = stream.next().await.unwrap();
        assert!(first.is_err());
        assert!(handle.await.unwrap().is_err());
    }
}
