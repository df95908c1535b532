//! The input archive: one tar stream with `scripts/` and `src/` (and, for
//! incremental builds, `artifacts/`), produced while the source tree is walked.
//!
//! This is the workspace's one tar writer. Entries are sorted by name, every
//! directory has its own entry, owners are root, and modes let any user read
//! (directories and executables `0755`, other files `0644`), so the archive
//! does not depend on who built it. Nothing is copied to disk first: file
//! contents go from the source file into the stream in fixed-size chunks.

use std::collections::HashSet;
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
    /// Store what symlinks point at instead of the links (copy semantics);
    /// broken links stay links either way.
    pub follow_symlinks: bool,
}

/// What goes into the input archive.
#[derive(Debug, Clone, Default)]
pub struct InputArchive {
    /// Files under `scripts/` (the directory entry is always written).
    pub scripts: Vec<ArchiveFile>,
    /// The tree under `src/` (the directory entry is always written).
    pub source: Option<SourceTree>,
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
}

/// Mode of a directory entry.
const DIR_MODE: u32 = 0o755;

/// Write `archive` as tar to `out`. `progress` sees the running totals after each entry.
pub fn write_archive<W: Write>(
    archive: &InputArchive,
    out: W,
    progress: &mut dyn FnMut(&ArchiveStats),
) -> Result<ArchiveStats> {
    let mut writer = TarWriter { builder: tar::Builder::new(out), stats: ArchiveStats::default(), progress };
    writer.dir("scripts", 0)?;
    let mut scripts: Vec<&ArchiveFile> = archive.scripts.iter().collect();
    scripts.sort_by(|a, b| a.path.cmp(&b.path));
    for file in scripts {
        writer.memory_file(file)?;
    }
    writer.dir("src", 0)?;
    if let Some(tree) = &archive.source {
        let mut walk = Walk { tree, stack: HashSet::new() };
        let root_meta = fs::metadata(&tree.root).map_err(|e| source_error(&tree.root, &e))?;
        if !root_meta.is_dir() {
            return Err(Error::SourceUnreadable {
                path: tree.root.clone(),
                message: "not a directory".into(),
                help: "pass a directory (or a git repository) as the source".into(),
            });
        }
        walk.enter(&root_meta);
        walk.dir(&mut writer, &tree.root, "")?;
    }
    writer.builder.finish().map_err(stream_error)?;
    Ok(writer.stats)
}

struct TarWriter<'p, W: Write> {
    builder: tar::Builder<W>,
    stats: ArchiveStats,
    progress: &'p mut dyn FnMut(&ArchiveStats),
}

impl<W: Write> TarWriter<'_, W> {
    fn header(kind: tar::EntryType, mode: u32, size: u64, mtime: u64) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(size);
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        header
    }

    fn bump(&mut self, bytes: u64) {
        self.stats.entries += 1;
        self.stats.bytes += bytes;
        (self.progress)(&self.stats);
    }

    fn dir(&mut self, path: &str, mtime: u64) -> Result<()> {
        let mut header = Self::header(tar::EntryType::Directory, DIR_MODE, 0, mtime);
        self.builder.append_data(&mut header, format!("{path}/"), io::empty()).map_err(stream_error)?;
        self.bump(0);
        Ok(())
    }

    fn memory_file(&mut self, file: &ArchiveFile) -> Result<()> {
        let mut header = Self::header(tar::EntryType::Regular, file.mode, file.contents.len() as u64, 0);
        self.builder.append_data(&mut header, &file.path, file.contents.as_slice()).map_err(stream_error)?;
        self.bump(file.contents.len() as u64);
        Ok(())
    }

    fn host_file(&mut self, path: &str, host: &Path, meta: &fs::Metadata) -> Result<()> {
        let file = File::open(host).map_err(|e| source_error(host, &e))?;
        let size = meta.len();
        let mode = if executable(meta) { 0o755 } else { 0o644 };
        let mut header = Self::header(tar::EntryType::Regular, mode, size, mtime(meta));
        let mut reader = ExactReader { inner: file, remaining: size, path: host };
        // The tar crate writes what the reader yields; ExactReader makes a file
        // that shrinks or grows while it is read an error instead of a corrupt archive.
        let result = self.builder.append_data(&mut header, path, &mut reader);
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

    fn symlink(&mut self, path: &str, target: &Path, meta: &fs::Metadata) -> Result<()> {
        let mut header = Self::header(tar::EntryType::Symlink, 0o777, 0, mtime(meta));
        self.builder.append_link(&mut header, path, target).map_err(stream_error)?;
        self.bump(0);
        Ok(())
    }
}

struct Walk<'a> {
    tree: &'a SourceTree,
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

    fn dir<W: Write>(&mut self, writer: &mut TarWriter<'_, W>, host: &Path, rel: &str) -> Result<()> {
        let mut names: Vec<_> = fs::read_dir(host)
            .map_err(|e| source_error(host, &e))?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect::<io::Result<_>>()
            .map_err(|e| source_error(host, &e))?;
        names.sort();
        for name in names {
            let Some(name_str) = name.to_str() else {
                return Err(Error::SourceUnreadable {
                    path: host.join(&name),
                    message: "the file name is not valid UTF-8".into(),
                    help: "rename the file, or leave it out with .s2iignore".into(),
                });
            };
            let child_rel = if rel.is_empty() { name_str.to_owned() } else { format!("{rel}/{name_str}") };
            if self.tree.filter.excludes(&child_rel) {
                continue;
            }
            let child = host.join(&name);
            let link_meta = fs::symlink_metadata(&child).map_err(|e| source_error(&child, &e))?;
            let archive_path = format!("src/{child_rel}");
            let file_type = link_meta.file_type();
            if file_type.is_symlink() {
                let target = fs::read_link(&child).map_err(|e| source_error(&child, &e))?;
                if self.tree.follow_symlinks {
                    match fs::metadata(&child) {
                        Ok(meta) if meta.is_dir() => {
                            if !self.enter(&meta) {
                                // A link back into its own ancestry: keep it as a link.
                                writer.symlink(&archive_path, &target, &link_meta)?;
                                continue;
                            }
                            writer.dir(&archive_path, mtime(&meta))?;
                            self.dir(writer, &child, &child_rel)?;
                            self.leave(&meta);
                        }
                        Ok(meta) if meta.is_file() => writer.host_file(&archive_path, &child, &meta)?,
                        Ok(_) => writer.stats.skipped_special += 1,
                        Err(_) => writer.symlink(&archive_path, &target, &link_meta)?,
                    }
                } else {
                    writer.symlink(&archive_path, &target, &link_meta)?;
                }
            } else if file_type.is_dir() {
                writer.dir(&archive_path, mtime(&link_meta))?;
                self.enter(&link_meta);
                self.dir(writer, &child, &child_rel)?;
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

    fn write(archive: &InputArchive) -> Vec<u8> {
        let mut out = Vec::new();
        write_archive(archive, &mut out, &mut |_| {}).unwrap();
        out
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
            scripts: vec![ArchiveFile { path: "scripts/run".into(), contents: b"r".to_vec(), mode: 0o755 }],
            source: Some(SourceTree { root: dir.path().to_owned(), filter, follow_symlinks: true }),
        };
        let got = entries(&write(&archive));
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
        let archive = InputArchive {
            scripts: vec![],
            source: Some(SourceTree {
                root: dir.path().to_owned(),
                filter: SourceFilter::default(),
                follow_symlinks: false,
            }),
        };
        let got = entries(&write(&archive));
        let link = got.iter().find(|e| e.0 == "src/link").unwrap();
        assert_eq!(link.1, tar::EntryType::Symlink);
    }

    #[test]
    fn output_is_deterministic() {
        let dir = tree();
        let archive = InputArchive {
            scripts: vec![],
            source: Some(SourceTree {
                root: dir.path().to_owned(),
                filter: SourceFilter::default(),
                follow_symlinks: true,
            }),
        };
        assert_eq!(write(&archive), write(&archive));
    }

    #[test]
    fn symlink_loops_do_not_recurse_forever() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("d")).unwrap();
        std::os::unix::fs::symlink("..", dir.path().join("d/up")).unwrap();
        let archive = InputArchive {
            scripts: vec![],
            source: Some(SourceTree {
                root: dir.path().to_owned(),
                filter: SourceFilter::default(),
                follow_symlinks: true,
            }),
        };
        let got = entries(&write(&archive));
        let up = got.iter().find(|e| e.0 == "src/d/up").unwrap();
        assert_eq!(up.1, tar::EntryType::Symlink);
    }

    #[test]
    fn long_paths_survive() {
        let dir = tempfile::tempdir().unwrap();
        let long = "d".repeat(90);
        fs::create_dir_all(dir.path().join(&long).join(&long)).unwrap();
        fs::write(dir.path().join(&long).join(&long).join("file.txt"), "x").unwrap();
        let archive = InputArchive {
            scripts: vec![],
            source: Some(SourceTree {
                root: dir.path().to_owned(),
                filter: SourceFilter::default(),
                follow_symlinks: true,
            }),
        };
        let got = entries(&write(&archive));
        assert!(got.iter().any(|e| e.0 == format!("src/{long}/{long}/file.txt")));
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
