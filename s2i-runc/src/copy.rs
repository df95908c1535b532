//! The last resort for a root file system: where neither overlayfs nor
//! fuse-overlayfs can mount, the merged layers are copied into
//! `<storage>/rootfs`, and what every path was like is written to
//! `<storage>/baseline.json`. The changes are then what differs from that
//! record: a new or changed path (type, mode, owner, size, modification
//! time, link target, device) is an entry, a path gone is a whiteout.
//! Like Docker's `vfs` driver, a file rewritten with the same size and time
//! counts as unchanged.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use s2i_oci::layer::{EntryKind, LayerEntry};
use s2i_oci::spool::LayerSpooler;
use serde::{Deserialize, Serialize};

use crate::confined::{self, Root};
use crate::lower::Lowers;
use crate::rootfs::Rootfs;

/// What a path was like when the copy was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Signature {
    kind: char,
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
    rdev: u64,
    link: Option<Vec<u8>>,
}

fn kind_of(file_type: FileType) -> char {
    match file_type {
        FileType::Directory => 'd',
        FileType::Symlink => 'l',
        FileType::CharacterDevice => 'c',
        FileType::BlockDevice => 'b',
        FileType::Fifo => 'p',
        FileType::Socket => 's',
        _ => 'f',
    }
}

fn signature(stat: &rustix::fs::Stat, link: Option<Vec<u8>>) -> Signature {
    Signature {
        kind: kind_of(FileType::from_raw_mode(stat.st_mode)),
        mode: stat.st_mode & 0o7777,
        uid: stat.st_uid,
        gid: stat.st_gid,
        size: if FileType::from_raw_mode(stat.st_mode) == FileType::Directory { 0 } else { stat.st_size as u64 },
        mtime: stat.st_mtime,
        mtime_nsec: stat.st_mtime_nsec as i64,
        rdev: stat.st_rdev,
        link,
    }
}

/// Copy the merged `lowers` (topmost first) into the rootfs and record the baseline.
pub(crate) fn create(rootfs: &Rootfs, lowers: &[std::path::PathBuf]) -> io::Result<()> {
    let target = rootfs.root();
    std::fs::create_dir(&target)?;
    let root = Root::open(&target)?;
    let lowers = Lowers::new(lowers.to_vec());
    let mut links: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
    let mut dirs: Vec<(Vec<u8>, i64)> = Vec::new();
    copy_dir(&lowers, &root, &mut Vec::new(), &mut links, &mut dirs)?;
    dirs.sort_by(|a, b| b.0.cmp(&a.0));
    for (path, mtime) in dirs {
        if let Some((parent, name)) = root.parent_of_bytes(&path)? {
            confined::set_mtime_at(&parent, &name, mtime)?;
        }
    }
    write_baseline(&rootfs.storage.join("baseline.json"), &record(&root)?)
}

/// Copy the merged directory `parts` (names as bytes: they need not be UTF-8).
fn copy_dir(
    lowers: &Lowers,
    root: &Root,
    parts: &mut Vec<std::ffi::OsString>,
    links: &mut HashMap<(u64, u64), Vec<u8>>,
    dirs: &mut Vec<(Vec<u8>, i64)>,
) -> io::Result<()> {
    let entries = lowers.list(parts)?;
    let here = parts.iter().map(|p| p.as_bytes()).collect::<Vec<_>>().join(&b'/');
    let dir = root.open_path_bytes(&here, OFlags::PATH | OFlags::DIRECTORY)?;
    for (name, found) in entries {
        let meta = &found.meta;
        let path =
            if here.is_empty() { name.as_bytes().to_vec() } else { [here.as_slice(), b"/", name.as_bytes()].concat() };
        let file_type = meta.file_type();
        if file_type.is_dir() {
            rustix::fs::mkdirat(&dir, name.as_os_str(), Mode::from_raw_mode(0o700))?;
            let fd = root.open_path_bytes(&path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW)?;
            confined::chown_fd(&fd, meta.uid(), meta.gid())?;
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(meta.mode() & 0o7777))?;
            copy_xattrs(&found.host_path, &fd)?;
            dirs.push((path.clone(), meta.mtime()));
            parts.push(name.clone());
            copy_dir(lowers, root, parts, links, dirs)?;
            parts.pop();
            continue;
        }
        if file_type.is_file() && meta.nlink() > 1 {
            if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
                let (first_dir, first_name) = root.parent_of_bytes(first)?.expect("a file");
                rustix::fs::linkat(&first_dir, first_name.as_os_str(), &dir, name.as_os_str(), AtFlags::empty())?;
                continue;
            }
            links.insert((meta.dev(), meta.ino()), path.clone());
        }
        if file_type.is_file() {
            let fd = rustix::fs::openat(
                &dir,
                name.as_os_str(),
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )?;
            let mut out = File::from(fd);
            io::copy(&mut File::open(&found.host_path)?, &mut out)?;
            confined::chown_fd(&out, meta.uid(), meta.gid())?;
            rustix::fs::fchmod(&out, Mode::from_raw_mode(meta.mode() & 0o7777))?;
            copy_xattrs(&found.host_path, &out)?;
            let time = rustix::fs::Timespec { tv_sec: meta.mtime(), tv_nsec: meta.mtime_nsec() };
            rustix::fs::futimens(&out, &rustix::fs::Timestamps { last_access: time, last_modification: time })?;
            continue;
        }
        if file_type.is_symlink() {
            let target = std::fs::read_link(&found.host_path)?;
            rustix::fs::symlinkat(target.as_os_str(), &dir, name.as_os_str())?;
        } else if file_type.is_socket() {
            continue;
        } else {
            let kind = if file_type.is_char_device() {
                FileType::CharacterDevice
            } else if file_type.is_block_device() {
                FileType::BlockDevice
            } else {
                FileType::Fifo
            };
            match rustix::fs::mknodat(
                &dir,
                name.as_os_str(),
                kind,
                Mode::from_raw_mode(meta.mode() & 0o7777),
                meta.rdev(),
            ) {
                Ok(()) => {}
                Err(rustix::io::Errno::PERM | rustix::io::Errno::ACCESS) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        confined::chown_at(&dir, name.as_os_str(), meta.uid(), meta.gid())?;
        confined::set_mtime_at(&dir, name.as_os_str(), meta.mtime())?;
    }
    Ok(())
}

fn copy_xattrs(from: &Path, to: &impl std::os::fd::AsFd) -> io::Result<()> {
    for (name, value) in crate::fsops::read_xattrs(from)? {
        match rustix::fs::fsetxattr(to, name.as_str(), &value, rustix::fs::XattrFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::PERM | rustix::io::Errno::NOTSUP | rustix::io::Errno::ACCESS) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Every path of the tree (as bytes: names need not be UTF-8) and what it is like now.
fn record(root: &Root) -> io::Result<BTreeMap<Vec<u8>, Signature>> {
    let mut out = BTreeMap::new();
    let mut pending: Vec<Vec<u8>> = vec![Vec::new()];
    while let Some(dir_path) = pending.pop() {
        let dir = root.open_path_bytes(&dir_path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW)?;
        for name in confined::list_dir(&dir)? {
            let path = if dir_path.is_empty() {
                name.as_bytes().to_vec()
            } else {
                [dir_path.as_slice(), b"/", name.as_bytes()].concat()
            };
            let stat = rustix::fs::statat(&dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)?;
            let file_type = FileType::from_raw_mode(stat.st_mode);
            let link = (file_type == FileType::Symlink)
                .then(|| rustix::fs::readlinkat(&dir, name.as_os_str(), Vec::new()).map(|l| l.into_bytes()))
                .transpose()?;
            if file_type == FileType::Directory {
                pending.push(path.clone());
            }
            out.insert(path, signature(&stat, link));
        }
    }
    Ok(out)
}

/// The baseline as JSON keys: a path's UTF-8 as it is, `%` as `%25`, and
/// each byte that is not UTF-8 as `%XX`.
fn encode_key(path: &[u8]) -> String {
    let mut out = String::with_capacity(path.len());
    for chunk in path.utf8_chunks() {
        out.push_str(&chunk.valid().replace('%', "%25"));
        for byte in chunk.invalid() {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn decode_key(key: &str) -> io::Result<Vec<u8>> {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = key.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(hex.ok_or_else(|| io::Error::other(format!("a bad key in the baseline: {key}")))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn write_baseline(path: &Path, baseline: &BTreeMap<Vec<u8>, Signature>) -> io::Result<()> {
    let encoded: BTreeMap<String, &Signature> = baseline.iter().map(|(k, v)| (encode_key(k), v)).collect();
    let file = File::create(path)?;
    serde_json::to_writer(io::BufWriter::new(file), &encoded).map_err(io::Error::other)
}

fn read_baseline(path: &Path) -> io::Result<BTreeMap<Vec<u8>, Signature>> {
    let encoded: BTreeMap<String, Signature> =
        serde_json::from_reader(io::BufReader::new(File::open(path)?)).map_err(io::Error::other)?;
    encoded.into_iter().map(|(k, v)| Ok((decode_key(&k)?, v))).collect()
}

/// Add the entries that differ from the baseline, with their parent
/// directories, and whiteouts for what is gone.
pub(crate) fn add_changes(rootfs: &Rootfs, spooler: &mut LayerSpooler) -> io::Result<u64> {
    let baseline = read_baseline(&rootfs.storage.join("baseline.json"))?;
    let root = Root::open(&rootfs.root())?;
    let now = record(&root)?;
    let mut changed: Vec<&Vec<u8>> =
        now.iter().filter(|(path, sig)| baseline.get(*path) != Some(sig)).map(|(p, _)| p).collect();
    // A changed path carries its parent directories with their real metadata.
    let mut parents: Vec<&Vec<u8>> = Vec::new();
    for path in &changed {
        let mut current = path.as_slice();
        while let Some(slash) = current.iter().rposition(|&b| b == b'/') {
            let parent = &current[..slash];
            if let Some((key, _)) = now.get_key_value(parent) {
                parents.push(key);
            }
            current = parent;
        }
    }
    changed.extend(parents);
    changed.sort();
    changed.dedup();
    let mut links: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
    let mut entries = 0;
    for path in changed {
        let (dir, name) = root.parent_of_bytes(path)?.expect("not the root");
        let stat = rustix::fs::statat(&dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW)?;
        let file_type = FileType::from_raw_mode(stat.st_mode);
        let host = root.path().join(OsStr::from_bytes(path));
        let xattrs =
            crate::fsops::read_xattrs(&host)?.into_iter().filter(|(n, _)| crate::layers::keep_xattr(n)).collect();
        let mut entry = LayerEntry {
            path: path.clone(),
            kind: EntryKind::Dir,
            mode: stat.st_mode & 0o7777,
            uid: u64::from(stat.st_uid),
            gid: u64::from(stat.st_gid),
            mtime: u64::try_from(stat.st_mtime).unwrap_or(0),
            xattrs,
        };
        let add = |spooler: &mut LayerSpooler, entry: LayerEntry, content: &mut dyn io::Read| {
            spooler.add(entry, content).map_err(|e| io::Error::other(e.to_string()))
        };
        match file_type {
            FileType::Directory => add(spooler, entry, &mut io::empty())?,
            FileType::RegularFile => {
                if stat.st_nlink > 1 {
                    if let Some(first) = links.get(&(stat.st_dev, stat.st_ino)) {
                        entry.kind = EntryKind::Hardlink { target: first.clone() };
                        add(spooler, entry, &mut io::empty())?;
                        entries += 1;
                        continue;
                    }
                    links.insert((stat.st_dev, stat.st_ino), path.clone());
                }
                entry.kind = EntryKind::File { size: stat.st_size as u64 };
                let fd = rustix::fs::openat(
                    &dir,
                    name.as_os_str(),
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                add(spooler, entry, &mut File::from(fd))?;
            }
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(&dir, name.as_os_str(), Vec::new())?.into_bytes();
                entry.kind = EntryKind::Symlink { target };
                add(spooler, entry, &mut io::empty())?;
            }
            FileType::CharacterDevice | FileType::BlockDevice => {
                let (major, minor) = (rustix::fs::major(stat.st_rdev), rustix::fs::minor(stat.st_rdev));
                entry.kind = if file_type == FileType::CharacterDevice {
                    EntryKind::CharDevice { major, minor }
                } else {
                    EntryKind::BlockDevice { major, minor }
                };
                add(spooler, entry, &mut io::empty())?;
            }
            FileType::Fifo => {
                entry.kind = EntryKind::Fifo;
                add(spooler, entry, &mut io::empty())?;
            }
            _ => continue,
        }
        entries += 1;
    }
    for path in baseline.keys() {
        if now.contains_key(path) {
            continue;
        }
        // Only the topmost path gone: a whiteout of a directory covers what it held.
        let parent_gone = path.iter().rposition(|&b| b == b'/').is_some_and(|slash| {
            let parent = &path[..slash];
            baseline.contains_key(parent) && !now.contains_key(parent)
        });
        if parent_gone {
            continue;
        }
        spooler
            .add(LayerEntry::whiteout(path.clone()), &mut io::empty())
            .map_err(|e| io::Error::other(e.to_string()))?;
        entries += 1;
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_keys_keep_every_byte() {
        for path in [&b"etc/motd"[..], b"srv/caf\xe9", b"100%/x\xff\xfe%41", b""] {
            let key = encode_key(path);
            assert_eq!(decode_key(&key).unwrap(), path, "{key}");
        }
        assert_eq!(encode_key(b"a%b\xe9c"), "a%25b%E9c");
        assert!(decode_key("bad%4").is_err());
    }
}
