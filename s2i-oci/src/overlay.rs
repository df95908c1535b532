//! An overlayfs upper directory as layer entries: what a container changed,
//! read from the directory a daemonless runtime mounted as the upper layer.
//!
//! overlayfs marks a deletion with a character device 0/0 (or, since Linux
//! 6.7, an empty file with the `overlay.whiteout` attribute) and a directory
//! that hides the lower one with `overlay.opaque=y`, in the `trusted.`
//! namespace or, for unprivileged mounts (`userxattr`), the `user.` one.
//! These become OCI whiteouts and opaque markers. fuse-overlayfs writes the
//! same, or, where it cannot, OCI's own forms (`.wh.<name>` files and a
//! `.wh..wh..opq` file) and `user.fuseoverlayfs.opaque`; those are read
//! too. Redirected directories and metadata-only copies (`redirect_dir`,
//! `metacopy`) keep content in the lower layers and are refused: mount
//! without those features.

use std::collections::HashMap;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::layer::{EntryKind, LayerEntry};
use crate::spool::{LayerSpooler, keep_xattr};

/// What [`add_upper_dir`] found besides entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpperDirStats {
    /// Entries added (whiteouts and opaque markers included).
    pub entries: u64,
    /// Sockets, which a tar cannot hold, left out.
    pub sockets_skipped: u64,
}

/// Add the changes recorded in the overlay upper directory `upper` to `spooler`.
/// File contents are read from `upper` when the layer is written, not copied.
pub fn add_upper_dir(upper: &Path, spooler: &mut LayerSpooler) -> Result<UpperDirStats> {
    let mut stats = UpperDirStats::default();
    // (device, inode) of files with more than one link -> the first path seen.
    let mut links: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
    let mut pending: Vec<PathBuf> = vec![PathBuf::new()];
    while let Some(relative_dir) = pending.pop() {
        let dir = upper.join(&relative_dir);
        let read = fs::read_dir(&dir).map_err(Error::io(format!("read the directory {}", dir.display())))?;
        let mut names: Vec<_> = read
            .map(|entry| entry.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(Error::io(format!("read the directory {}", dir.display())))?;
        names.sort();
        for name in names {
            let relative = relative_dir.join(&name);
            let host = upper.join(&relative);
            let path = relative.as_os_str().as_bytes().to_vec();
            let meta = fs::symlink_metadata(&host).map_err(Error::io(format!("inspect {}", host.display())))?;
            let file_type = meta.file_type();
            let name_bytes = name.as_bytes();
            if file_type.is_file() && name_bytes.starts_with(crate::layer::WHITEOUT_PREFIX) {
                // fuse-overlayfs' OCI-style markers.
                let parent = relative_dir.as_os_str().as_bytes().to_vec();
                if name_bytes == crate::layer::OPAQUE_MARKER {
                    if !parent.is_empty() {
                        spooler.add(LayerEntry::opaque(parent), &mut std::io::empty())?;
                        stats.entries += 1;
                    }
                } else {
                    let hidden = relative_dir
                        .join(std::ffi::OsStr::from_bytes(&name_bytes[crate::layer::WHITEOUT_PREFIX.len()..]));
                    spooler.add(LayerEntry::whiteout(hidden.as_os_str().as_bytes().to_vec()), &mut std::io::empty())?;
                    stats.entries += 1;
                }
                continue;
            }
            let xattrs = read_xattrs(&host)?;
            let overlay = |name: &str| {
                xattrs
                    .get(&format!("trusted.overlay.{name}"))
                    .or_else(|| xattrs.get(&format!("user.overlay.{name}")))
                    .or_else(|| xattrs.get(&format!("user.fuseoverlayfs.{name}")))
            };
            for refused in ["redirect", "metacopy"] {
                if overlay(refused).is_some() {
                    return Err(Error::UnsupportedOverlay {
                        path: host,
                        reason: format!("it carries overlay.{refused}, so its content lives in a lower layer"),
                        help: "mount the overlay with redirect_dir=off and metacopy=off".to_owned(),
                    });
                }
            }
            let kept: std::collections::BTreeMap<String, Vec<u8>> =
                xattrs.iter().filter(|(name, _)| keep_xattr(name)).map(|(k, v)| (k.clone(), v.clone())).collect();
            let mut entry = LayerEntry {
                path: path.clone(),
                kind: EntryKind::Dir,
                mode: meta.mode() & 0o7777,
                uid: u64::from(meta.uid()),
                gid: u64::from(meta.gid()),
                mtime: u64::try_from(meta.mtime()).unwrap_or(0),
                xattrs: kept,
            };
            let whiteout_device = file_type.is_char_device() && meta.rdev() == 0;
            if whiteout_device && name_bytes.starts_with(crate::layer::WHITEOUT_PREFIX) {
                // fuse-overlayfs hides its own markers so; a layer cannot hold such a name anyway.
                continue;
            }
            let whiteout_file = file_type.is_file() && meta.len() == 0 && overlay("whiteout").is_some();
            if whiteout_device || whiteout_file {
                spooler.add(LayerEntry::whiteout(path), &mut std::io::empty())?;
                stats.entries += 1;
                continue;
            }
            if file_type.is_dir() {
                spooler.add(entry, &mut std::io::empty())?;
                stats.entries += 1;
                if overlay("opaque").is_some_and(|value| value.as_slice() == b"y") {
                    spooler.add(LayerEntry::opaque(path), &mut std::io::empty())?;
                    stats.entries += 1;
                }
                pending.push(relative);
                continue;
            }
            if file_type.is_socket() {
                stats.sockets_skipped += 1;
                continue;
            }
            if file_type.is_file() {
                if meta.nlink() > 1 {
                    if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
                        entry.kind = EntryKind::Hardlink { target: first.clone() };
                        spooler.add(entry, &mut std::io::empty())?;
                        stats.entries += 1;
                        continue;
                    }
                    links.insert((meta.dev(), meta.ino()), path);
                }
                entry.kind = EntryKind::File { size: meta.len() };
                spooler.add_host_file(entry, host)?;
                stats.entries += 1;
                continue;
            }
            entry.kind = if file_type.is_symlink() {
                let target = fs::read_link(&host).map_err(Error::io(format!("read the link {}", host.display())))?;
                EntryKind::Symlink { target: target.as_os_str().as_bytes().to_vec() }
            } else if file_type.is_char_device() || file_type.is_block_device() {
                let (major, minor) = (rustix::fs::major(meta.rdev()), rustix::fs::minor(meta.rdev()));
                if file_type.is_char_device() {
                    EntryKind::CharDevice { major, minor }
                } else {
                    EntryKind::BlockDevice { major, minor }
                }
            } else {
                EntryKind::Fifo
            };
            spooler.add(entry, &mut std::io::empty())?;
            stats.entries += 1;
        }
    }
    Ok(stats)
}

/// The extended attributes of `path` (not following a symlink). A
/// filesystem without them has none.
fn read_xattrs(path: &Path) -> Result<HashMap<String, Vec<u8>>> {
    let failed = |e: rustix::io::Errno| Error::Io {
        action: format!("read the extended attributes of {}", path.display()),
        source: e.into(),
    };
    let size = match rustix::fs::llistxattr_query(path) {
        Ok(size) => size,
        Err(rustix::io::Errno::NOTSUP) => return Ok(HashMap::new()),
        Err(e) => return Err(failed(e)),
    };
    let mut names = vec![0u8; size];
    let length = rustix::fs::llistxattr(path, &mut names[..]).map_err(failed)?;
    names.truncate(length);
    let mut attributes = HashMap::new();
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let size = match rustix::fs::lgetxattr_query(path, name.as_str()) {
            Ok(size) => size,
            // Unreadable namespaces (trusted.* without privilege) are skipped.
            Err(rustix::io::Errno::NODATA | rustix::io::Errno::PERM | rustix::io::Errno::ACCESS) => continue,
            Err(e) => return Err(failed(e)),
        };
        let mut value = vec![0u8; size];
        let length = rustix::fs::lgetxattr(path, name.as_str(), &mut value[..]).map_err(failed)?;
        value.truncate(length);
        attributes.insert(name, value);
    }
    Ok(attributes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{Compression, LayerOptions, LayerWriter};

    #[test]
    fn upper_dir_becomes_entries_with_whiteouts() {
        let upper = tempfile::tempdir().unwrap();
        let root = upper.path();
        fs::create_dir_all(root.join("app/src")).unwrap();
        fs::write(root.join("app/src/main.py"), b"print(1)\n").unwrap();
        fs::hard_link(root.join("app/src/main.py"), root.join("app/a-link.py")).unwrap();
        std::os::unix::fs::symlink("src/main.py", root.join("app/run")).unwrap();
        // A whiteout as overlayfs writes it needs mknod privileges; the
        // newer xattr form is made by any user where user.* attributes work.
        let gone = root.join("app/gone");
        fs::write(&gone, b"").unwrap();
        let whiteout_made = if rustix::process::geteuid().is_root() {
            fs::remove_file(&gone).unwrap();
            let char_device = rustix::fs::FileType::CharacterDevice;
            let mode = rustix::fs::Mode::from_raw_mode(0o600);
            rustix::fs::mknodat(rustix::fs::CWD, &gone, char_device, mode, 0).unwrap();
            true
        } else if rustix::fs::lsetxattr(&gone, "user.overlay.whiteout", b"y", rustix::fs::XattrFlags::empty()).is_ok() {
            true
        } else {
            fs::remove_file(&gone).unwrap();
            false
        };
        let opaque_xattr =
            rustix::fs::lsetxattr(root.join("app/src"), "user.overlay.opaque", b"y", rustix::fs::XattrFlags::empty())
                .is_ok();

        let mut spooler = LayerSpooler::new();
        let stats = add_upper_dir(root, &mut spooler).unwrap();
        assert_eq!(stats.sockets_skipped, 0);
        let mut writer =
            LayerWriter::new(Vec::new(), LayerOptions { compression: Compression::None, ..Default::default() });
        spooler.write_to(&mut writer).unwrap();
        let (tar, _) = writer.finish().unwrap();
        let mut archive = tar::Archive::new(&tar[..]);
        let names: Vec<(String, u8)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (String::from_utf8_lossy(&e.path_bytes()).into_owned(), e.header().entry_type().as_byte())
            })
            .collect();
        let mut expected = vec![("app/".to_owned(), b'5')];
        if whiteout_made {
            expected.push(("app/.wh.gone".to_owned(), b'0'));
        }
        expected.extend([
            ("app/a-link.py".to_owned(), b'0'),
            ("app/run".to_owned(), b'2'),
            ("app/src/".to_owned(), b'5'),
        ]);
        if opaque_xattr {
            expected.push(("app/src/.wh..wh..opq".to_owned(), b'0'));
        }
        expected.push(("app/src/main.py".to_owned(), b'1'));
        assert_eq!(names, expected);
    }

    #[test]
    fn fuse_overlayfs_markers_become_whiteouts_and_opaque_dirs() {
        let upper = tempfile::tempdir().unwrap();
        let root = upper.path();
        fs::create_dir_all(root.join("app/cache")).unwrap();
        fs::write(root.join("app/.wh.gone"), b"").unwrap();
        fs::write(root.join("app/cache/.wh..wh..opq"), b"").unwrap();
        if rustix::process::geteuid().is_root() {
            let char_device = rustix::fs::FileType::CharacterDevice;
            let mode = rustix::fs::Mode::from_raw_mode(0o600);
            rustix::fs::mknodat(rustix::fs::CWD, root.join("app/cache/.wh..opq"), char_device, mode, 0).unwrap();
        }
        fs::write(root.join("app/cache/new"), b"1").unwrap();
        let mut spooler = LayerSpooler::new();
        add_upper_dir(root, &mut spooler).unwrap();
        let mut writer =
            LayerWriter::new(Vec::new(), LayerOptions { compression: Compression::None, ..Default::default() });
        spooler.write_to(&mut writer).unwrap();
        let (tar, _) = writer.finish().unwrap();
        let mut archive = tar::Archive::new(&tar[..]);
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
            .collect();
        assert_eq!(names, ["app/", "app/.wh.gone", "app/cache/", "app/cache/.wh..wh..opq", "app/cache/new"]);
    }
}
