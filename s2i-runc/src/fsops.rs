//! Reading and writing a container's files from the host, as an engine's
//! archive API does, on the root file system (mounted or copied) with every
//! path confined to it ([`crate::confined`]):
//!
//! - [`extract`]: a tar into a directory (what `PUT /archive` does; also the
//!   layer unpacker, which turns OCI whiteouts into overlayfs ones);
//! - [`archive`]: a path as a tar whose top entry is its base name (`GET
//!   /archive`), owners, modes, times and capabilities as they are;
//! - [`stat`]: what is at a path (`HEAD /archive`);
//! - [`check_executable`]: the lookup `exec` will do, so that a missing
//!   program fails as a start error, as it does on Docker.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, XattrFlags};
use s2i_core::runtime::PathStat;
use s2i_oci::layer::{Compression, EntryKind, LayerEntry, LayerOptions, LayerWriter};

use crate::confined::{self, Root};

/// How [`extract`] treats `.wh.` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Whiteouts {
    /// OCI whiteouts become overlayfs whiteouts (a layer being unpacked).
    Layer,
    /// Names are names (a copy into a container).
    Literal,
}

/// Metadata of a tar entry with its PAX overrides.
struct EntryMeta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    xattrs: Vec<(String, Vec<u8>)>,
}

fn entry_meta<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<EntryMeta> {
    let header = entry.header();
    let blank = |range: std::ops::Range<usize>| header.as_bytes()[range].iter().all(|&b| b == 0 || b == b' ');
    let mut meta = EntryMeta {
        mode: if blank(100..108) { 0 } else { header.mode()? & 0o7777 },
        uid: if blank(108..116) { 0 } else { u32::try_from(header.uid()?).unwrap_or(u32::MAX) },
        gid: if blank(116..124) { 0 } else { u32::try_from(header.gid()?).unwrap_or(u32::MAX) },
        mtime: if blank(136..148) { 0 } else { i64::try_from(header.mtime()?).unwrap_or(0) },
        xattrs: Vec::new(),
    };
    if let Some(records) = entry.pax_extensions()? {
        for record in records {
            let record = record?;
            let Ok(key) = record.key() else { continue };
            let number =
                || String::from_utf8_lossy(record.value_bytes()).split('.').next().and_then(|n| n.parse::<i64>().ok());
            match key {
                "uid" => meta.uid = number().and_then(|n| u32::try_from(n).ok()).unwrap_or(meta.uid),
                "gid" => meta.gid = number().and_then(|n| u32::try_from(n).ok()).unwrap_or(meta.gid),
                "mtime" => meta.mtime = number().unwrap_or(meta.mtime),
                _ => {
                    if let Some(name) = key.strip_prefix("SCHILY.xattr.")
                        && crate::layers::keep_xattr(name)
                    {
                        meta.xattrs.push((name.to_owned(), record.value_bytes().to_vec()));
                    }
                }
            }
        }
    }
    Ok(meta)
}

/// Extract the tar `input` into the directory `base` of `root` (which must
/// exist); returns the number of entries. Owners, modes, times and kept
/// extended attributes are applied; devices that cannot be made are left out.
pub(crate) fn extract(input: &mut dyn Read, root: &Root, base: &str, whiteouts: Whiteouts) -> io::Result<u64> {
    let mut archive = tar::Archive::new(input);
    let mut dirs: Vec<(Vec<u8>, i64)> = Vec::new();
    let mut count = 0;
    for entry in archive.entries()? {
        let mut entry = entry?;
        let kind = entry.header().entry_type();
        if matches!(kind, tar::EntryType::XGlobalHeader | tar::EntryType::XHeader) {
            continue;
        }
        // Names as bytes: they need not be UTF-8.
        // The entry's path is cleaned on its own: `..` stays in `base`.
        let raw = entry.path_bytes().into_owned();
        let mut parts = confined::components_bytes(base.as_bytes());
        parts.extend(confined::components_bytes(&raw));
        let Some((name, parents)) = parts.split_last() else { continue };
        let name: &[u8] = name;
        let parent_path = parents.join(&b'/');
        let meta = entry_meta(&mut entry)?;
        let parent = root.make_dirs_bytes(&parent_path, 0o755, None)?;
        let name_os = OsStr::from_bytes(name);
        count += 1;
        if whiteouts == Whiteouts::Layer {
            if name == b".wh..wh..opq" {
                let dir = root.open_path_bytes(&parent_path, OFlags::RDONLY | OFlags::DIRECTORY)?;
                rustix::fs::fsetxattr(&dir, crate::layers::OPAQUE_XATTR, b"y", XattrFlags::empty())?;
                continue;
            }
            if let Some(hidden) = name.strip_prefix(b".wh.") {
                confined::remove_all_at(&parent, OsStr::from_bytes(hidden))?;
                crate::layers::make_whiteout(&parent, OsStr::from_bytes(hidden))?;
                continue;
            }
        }
        let full_bytes = parts.join(&b'/');
        let full = String::from_utf8_lossy(&full_bytes).into_owned();
        let existing = rustix::fs::statat(&parent, name_os, AtFlags::SYMLINK_NOFOLLOW).ok();
        let existing_dir = existing.is_some_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::Directory);
        if existing.is_some() && !(kind == tar::EntryType::Directory && existing_dir) {
            confined::remove_all_at(&parent, name_os)?;
        }
        match kind {
            tar::EntryType::Directory => {
                if !existing_dir {
                    rustix::fs::mkdirat(&parent, name_os, Mode::from_raw_mode(0o700))?;
                }
                let fd = rustix::fs::openat(
                    &parent,
                    name_os,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                confined::chown_fd(&fd, meta.uid, meta.gid)?;
                rustix::fs::fchmod(&fd, Mode::from_raw_mode(meta.mode))?;
                set_xattrs(&fd, &meta.xattrs)?;
                dirs.push((full_bytes, meta.mtime));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let fd = rustix::fs::openat(
                    &parent,
                    name_os,
                    OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )?;
                let mut file = File::from(fd);
                io::copy(&mut entry, &mut file)?;
                confined::chown_fd(&file, meta.uid, meta.gid)?;
                rustix::fs::fchmod(&file, Mode::from_raw_mode(meta.mode))?;
                set_xattrs(&file, &meta.xattrs)?;
                let time = rustix::fs::Timespec { tv_sec: meta.mtime, tv_nsec: 0 };
                rustix::fs::futimens(&file, &rustix::fs::Timestamps { last_access: time, last_modification: time })?;
            }
            tar::EntryType::Symlink => {
                let target = entry.link_name_bytes().map(|l| l.into_owned()).unwrap_or_default();
                rustix::fs::symlinkat(OsStr::from_bytes(&target), &parent, name_os)?;
                confined::chown_at(&parent, name_os, meta.uid, meta.gid)?;
                confined::set_mtime_at(&parent, name_os, meta.mtime)?;
            }
            tar::EntryType::Link => {
                let target = entry.link_name_bytes().map(|l| l.into_owned()).unwrap_or_default();
                let target = confined::components_bytes(&[base.as_bytes(), b"/", &target].concat()).join(&b'/');
                let Some((target_dir, target_name)) = root.parent_of_bytes(&target)? else {
                    return Err(invalid(format!("the hard link {full} points at the root")));
                };
                rustix::fs::linkat(&target_dir, target_name.as_os_str(), &parent, name_os, AtFlags::empty()).map_err(
                    |e| {
                        let target = String::from_utf8_lossy(&target);
                        io::Error::new(io::Error::from(e).kind(), format!("link {full} to /{target}: {e}"))
                    },
                )?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let file_type = match kind {
                    tar::EntryType::Char => FileType::CharacterDevice,
                    tar::EntryType::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                let header = entry.header();
                let device =
                    rustix::fs::makedev(header.device_major()?.unwrap_or(0), header.device_minor()?.unwrap_or(0));
                match rustix::fs::mknodat(&parent, name_os, file_type, Mode::from_raw_mode(meta.mode), device) {
                    Ok(()) => {
                        confined::chown_at(&parent, name_os, meta.uid, meta.gid)?;
                        confined::set_mtime_at(&parent, name_os, meta.mtime)?;
                    }
                    // Devices need privilege this process lacks; a container gets its own /dev.
                    Err(rustix::io::Errno::PERM | rustix::io::Errno::ACCESS) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            other => return Err(invalid(format!("the entry {full} has the unsupported type {other:?}"))),
        }
    }
    // Directory times last: what was written into them changed them.
    dirs.sort_by(|a, b| b.0.cmp(&a.0));
    for (path, mtime) in dirs {
        if let Some((parent, name)) = root.parent_of_bytes(&path)? {
            confined::set_mtime_at(&parent, &name, mtime)?;
        }
    }
    Ok(count)
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

fn set_xattrs(fd: impl AsFd, xattrs: &[(String, Vec<u8>)]) -> io::Result<()> {
    for (name, value) in xattrs {
        match rustix::fs::fsetxattr(fd.as_fd(), name.as_str(), value, XattrFlags::empty()) {
            Ok(()) => {}
            // Capabilities need privilege; file systems without user attributes refuse them.
            Err(rustix::io::Errno::PERM | rustix::io::Errno::NOTSUP | rustix::io::Errno::ACCESS) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The extended attributes of a host path (not following a final link);
/// none where the file system has none, unreadable ones skipped.
pub(crate) fn read_xattrs(path: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let size = match rustix::fs::llistxattr_query(path) {
        Ok(size) => size,
        Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut names = vec![0u8; size];
    let length = rustix::fs::llistxattr(path, &mut names[..])?;
    names.truncate(length);
    let mut out = Vec::new();
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let size = match rustix::fs::lgetxattr_query(path, name.as_str()) {
            Ok(size) => size,
            Err(rustix::io::Errno::NODATA | rustix::io::Errno::PERM | rustix::io::Errno::ACCESS) => continue,
            Err(e) => return Err(e.into()),
        };
        let mut value = vec![0u8; size];
        let length = rustix::fs::lgetxattr(path, name.as_str(), &mut value[..])?;
        value.truncate(length);
        out.push((name, value));
    }
    out.sort();
    Ok(out)
}

/// What is at `path` of the root, as an engine's stat of an archive path
/// reports it; `None` when nothing is.
pub(crate) fn stat(root: &Root, path: &str) -> io::Result<Option<PathStat>> {
    let Some(stat) = root.lstat(path)? else { return Ok(None) };
    let parts = confined::components(path);
    let name = parts.last().map_or_else(|| "/".to_owned(), |n| (*n).to_owned());
    let file_type = FileType::from_raw_mode(stat.st_mode);
    let link_target = if file_type == FileType::Symlink {
        let (parent, link) = root.parent_of(path)?.expect("a link is not the root");
        let target = rustix::fs::readlinkat(&parent, link.as_os_str(), Vec::new())?;
        let target = target.to_string_lossy().into_owned();
        let parent_path = parts[..parts.len() - 1].join("/");
        if target.starts_with('/') {
            confined::clean(&target)
        } else {
            confined::clean(&format!("{parent_path}/{target}"))
        }
    } else {
        String::new()
    };
    Ok(Some(PathStat {
        name,
        size: stat.st_size,
        permissions: stat.st_mode & 0o7777,
        is_dir: file_type == FileType::Directory,
        link_target,
    }))
}

/// Write a tar of `path` to `out`: its base name as the top entry (only
/// its contents for a path ending in `/.`), a final symbolic link as a link.
/// `Ok(false)` when nothing is at the path (nothing is written).
pub(crate) fn archive(root: &Root, path: &str, out: &mut dyn Write) -> io::Result<bool> {
    let contents_only = path.ends_with("/.") || path == ".";
    let follow = path.ends_with('/') && path != "/";
    let clean = confined::clean(path);
    let Some(stat) = root.lstat(&clean)? else { return Ok(false) };
    let (stat, clean) = if follow && FileType::from_raw_mode(stat.st_mode) == FileType::Symlink {
        let resolved = stat_following(root, &clean)?;
        match resolved {
            Some(found) => found,
            None => return Ok(false),
        }
    } else {
        (stat, clean)
    };
    let options = LayerOptions { compression: Compression::None, ..LayerOptions::default() };
    let mut writer = LayerWriter::new(out, options);
    let parts = confined::components(&clean);
    let top = if contents_only { String::new() } else { parts.last().map_or(".".to_owned(), |n| (*n).to_owned()) };
    let mut links: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
    let is_dir = FileType::from_raw_mode(stat.st_mode) == FileType::Directory;
    if !top.is_empty() {
        write_entry(root, clean.as_bytes(), top.as_bytes(), &stat, &mut writer, &mut links)?;
    }
    if is_dir {
        write_tree(root, clean.as_bytes(), top.as_bytes(), &mut writer, &mut links)?;
    }
    writer.finish().map_err(|e| io::Error::other(e.to_string()))?;
    Ok(true)
}

/// The real path and metadata of `path` with every link followed inside the root.
fn stat_following(root: &Root, path: &str) -> io::Result<Option<(rustix::fs::Stat, String)>> {
    let fd = match root.open_path(path, OFlags::PATH) {
        Ok(fd) => fd,
        Err(e) if confined::is_missing(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    let stat = rustix::fs::fstat(&fd)?;
    let host = std::fs::read_link(Root::proc_path(fd.as_fd()))?;
    let inside = host.strip_prefix(root.path()).map_err(|_| invalid(format!("{path} leads out of the container")))?;
    Ok(Some((stat, confined::clean(&inside.to_string_lossy()))))
}

fn write_tree(
    root: &Root,
    dir_path: &[u8],
    prefix: &[u8],
    writer: &mut LayerWriter<'_, &mut dyn Write>,
    links: &mut HashMap<(u64, u64), Vec<u8>>,
) -> io::Result<()> {
    let dir = root.open_path_bytes(dir_path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW)?;
    for name in confined::list_dir(&dir)? {
        let stat = match rustix::fs::statat(&dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(rustix::io::Errno::NOENT) => continue,
            Err(e) => return Err(e.into()),
        };
        // Names as bytes: a name that is not UTF-8 is opened as it is.
        let child = [dir_path, b"/", name.as_bytes()].concat();
        let entry_path =
            if prefix.is_empty() { name.as_bytes().to_vec() } else { [prefix, b"/", name.as_bytes()].concat() };
        write_entry(root, &child, &entry_path, &stat, writer, links)?;
        if FileType::from_raw_mode(stat.st_mode) == FileType::Directory {
            write_tree(root, &child, &entry_path, writer, links)?;
        }
    }
    Ok(())
}

fn write_entry(
    root: &Root,
    path: &[u8],
    entry_path: &[u8],
    stat: &rustix::fs::Stat,
    writer: &mut LayerWriter<'_, &mut dyn Write>,
    links: &mut HashMap<(u64, u64), Vec<u8>>,
) -> io::Result<()> {
    let file_type = FileType::from_raw_mode(stat.st_mode);
    if file_type == FileType::Socket {
        return Ok(());
    }
    let (parent, name) = match root.parent_of_bytes(path)? {
        Some(found) => found,
        None => (root.open_path("/", OFlags::PATH | OFlags::DIRECTORY)?, std::ffi::OsString::from(".")),
    };
    let handle: OwnedFd = rustix::fs::openat(
        &parent,
        name.as_os_str(),
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let xattrs = if file_type == FileType::Symlink {
        Default::default()
    } else {
        read_xattrs_following(&Root::proc_path(handle.as_fd()))?
    };
    let mut entry = LayerEntry {
        path: entry_path.to_vec(),
        kind: EntryKind::Dir,
        mode: stat.st_mode & 0o7777,
        uid: u64::from(stat.st_uid),
        gid: u64::from(stat.st_gid),
        mtime: u64::try_from(stat.st_mtime).unwrap_or(0),
        xattrs,
    };
    let result = match file_type {
        FileType::Directory => writer.append(&entry, &mut io::empty()),
        FileType::RegularFile => {
            if stat.st_nlink > 1 {
                if let Some(first) = links.get(&(stat.st_dev, stat.st_ino)) {
                    entry.kind = EntryKind::Hardlink { target: first.clone() };
                    return writer.append(&entry, &mut io::empty()).map_err(|e| io::Error::other(e.to_string()));
                }
                links.insert((stat.st_dev, stat.st_ino), entry_path.to_vec());
            }
            entry.kind = EntryKind::File { size: stat.st_size as u64 };
            let fd = rustix::fs::openat(
                &parent,
                name.as_os_str(),
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            writer.append(&entry, &mut File::from(fd))
        }
        FileType::Symlink => {
            let target = rustix::fs::readlinkat(&parent, name.as_os_str(), Vec::new())?.into_bytes();
            entry.kind = EntryKind::Symlink { target };
            writer.append(&entry, &mut io::empty())
        }
        FileType::CharacterDevice | FileType::BlockDevice => {
            let (major, minor) = (rustix::fs::major(stat.st_rdev), rustix::fs::minor(stat.st_rdev));
            entry.kind = if file_type == FileType::CharacterDevice {
                EntryKind::CharDevice { major, minor }
            } else {
                EntryKind::BlockDevice { major, minor }
            };
            writer.append(&entry, &mut io::empty())
        }
        _ => {
            entry.kind = EntryKind::Fifo;
            writer.append(&entry, &mut io::empty())
        }
    };
    result.map_err(|e| io::Error::other(e.to_string()))
}

/// [`read_xattrs`] through a `/proc/self/fd` path (which is followed), kept ones only.
fn read_xattrs_following(path: &Path) -> io::Result<std::collections::BTreeMap<String, Vec<u8>>> {
    let size = match rustix::fs::listxattr_query(path) {
        Ok(size) => size,
        Err(rustix::io::Errno::NOTSUP | rustix::io::Errno::BADF) => return Ok(Default::default()),
        Err(e) => return Err(e.into()),
    };
    let mut names = vec![0u8; size];
    let length = rustix::fs::listxattr(path, &mut names[..])?;
    names.truncate(length);
    let mut out = std::collections::BTreeMap::new();
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        if !crate::layers::keep_xattr(&name) {
            continue;
        }
        let mut value = vec![0u8; 4096];
        match rustix::fs::getxattr(path, name.as_str(), &mut value[..]) {
            Ok(length) => {
                value.truncate(length);
                out.insert(name, value);
            }
            Err(rustix::io::Errno::NODATA | rustix::io::Errno::PERM | rustix::io::Errno::ACCESS) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// The default `PATH` of a container whose image sets none.
pub(crate) const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Find the program `argv0` as `exec` would (relative names on `path_env`,
/// relative paths from `cwd`); the error is worded as the runtimes word it.
pub(crate) fn check_executable(root: &Root, argv0: &str, path_env: Option<&str>, cwd: &str) -> Result<(), String> {
    let executable = |candidate: &str| -> Result<bool, String> {
        match root.open_path(candidate, OFlags::PATH) {
            Ok(fd) => {
                let stat = rustix::fs::fstat(&fd).map_err(|e| e.to_string())?;
                Ok(FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile && stat.st_mode & 0o111 != 0)
            }
            Err(e) if confined::is_missing(&e) => Ok(false),
            Err(e) => Err(e.to_string()),
        }
    };
    if argv0.contains('/') {
        let full = if argv0.starts_with('/') { argv0.to_owned() } else { format!("{cwd}/{argv0}") };
        return match root.open_path(&full, OFlags::PATH) {
            Ok(_) if executable(&full)? => Ok(()),
            Ok(_) => Err(format!("exec: \"{argv0}\": permission denied")),
            Err(e) if confined::is_missing(&e) => {
                Err(format!("exec: \"{argv0}\": stat {argv0}: no such file or directory"))
            }
            Err(e) => Err(format!("exec: \"{argv0}\": {e}")),
        };
    }
    for dir in path_env.unwrap_or(DEFAULT_PATH).split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = if dir.starts_with('/') { format!("{dir}/{argv0}") } else { format!("{cwd}/{dir}/{argv0}") };
        if executable(&candidate)? {
            return Ok(());
        }
    }
    Err(format!("exec: \"{argv0}\": executable file not found in $PATH"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, tar::EntryType, &[u8], &str, u64)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, kind, data, link, uid) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(*kind);
            header.set_mode(if kind.is_dir() { 0o750 } else { 0o640 });
            header.set_uid(*uid);
            header.set_mtime(2_000);
            header.set_size(data.len() as u64);
            if !link.is_empty() {
                header.set_link_name(link).unwrap();
            }
            // Raw names: the tar crate refuses `..`, which an archive may still hold.
            let name = &mut header.as_old_mut().name;
            name.fill(0);
            name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_cksum();
            builder.append(&header, *data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn upload_then_download_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("opt/app")).unwrap();
        std::os::unix::fs::symlink("/opt", dir.path().join("link")).unwrap();
        let root = Root::open(dir.path()).unwrap();
        let tar = tar_of(&[
            ("src/", tar::EntryType::Directory, b"", "", 0),
            ("src/a.txt", tar::EntryType::Regular, b"hello", "", 0),
            ("src/b.txt", tar::EntryType::Link, b"", "src/a.txt", 0),
            ("src/run", tar::EntryType::Symlink, b"", "a.txt", 0),
            ("../../escape", tar::EntryType::Regular, b"no", "", 0),
        ]);
        let count = extract(&mut &tar[..], &root, "/link/app", Whiteouts::Literal).unwrap();
        assert_eq!(count, 5);
        assert_eq!(std::fs::read(dir.path().join("opt/app/src/a.txt")).unwrap(), b"hello");
        assert!(dir.path().join("opt/app/escape").exists(), "`..` stays in the directory extracted into");

        let found = stat(&root, "/opt/app/src").unwrap().unwrap();
        assert!(found.is_dir && found.name == "src" && found.permissions == 0o750);
        let link = stat(&root, "/link").unwrap().unwrap();
        assert_eq!(link.link_target, "/opt");
        assert!(stat(&root, "/nothing/here").unwrap().is_none());

        let mut out = Vec::new();
        assert!(archive(&root, "/link/app/src", &mut out).unwrap());
        let mut read = tar::Archive::new(&out[..]);
        let names: Vec<(String, u8)> = read
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (String::from_utf8_lossy(&e.path_bytes()).into_owned(), e.header().entry_type().as_byte())
            })
            .collect();
        assert_eq!(
            names,
            [("src/".into(), b'5'), ("src/a.txt".into(), b'0'), ("src/b.txt".into(), b'1'), ("src/run".into(), b'2')]
        );
        let mut contents = Vec::new();
        assert!(archive(&root, "/opt/app/src/.", &mut contents).unwrap());
        assert!(String::from_utf8_lossy(&contents).contains("a.txt"));
        assert!(!archive(&root, "/missing", &mut Vec::new()).unwrap());
    }

    #[test]
    fn executables_are_looked_up_like_exec() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::fs::write(dir.path().join("bin/tool"), "#!").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path().join("bin/tool"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.path().join("bin/data"), "x").unwrap();
        let root = Root::open(dir.path()).unwrap();
        assert!(check_executable(&root, "tool", Some("/bin"), "/").is_ok());
        assert!(check_executable(&root, "/bin/tool", None, "/").is_ok());
        assert!(check_executable(&root, "../bin/tool", None, "/bin").is_ok());
        let missing = check_executable(&root, "/bin/sh", None, "/").unwrap_err();
        assert_eq!(missing, "exec: \"/bin/sh\": stat /bin/sh: no such file or directory");
        assert!(check_executable(&root, "data", Some("/bin"), "/").unwrap_err().contains("not found in $PATH"));
        assert!(check_executable(&root, "/bin/data", None, "/").unwrap_err().contains("permission denied"));
    }
}
