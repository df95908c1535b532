//! A container's root file system: the image's unpacked layers as lower
//! layers, an *init* layer with the mount points the runtime needs that the
//! image lacks (so that they never reach the committed layer), and an upper
//! directory that receives every change, merged by overlayfs at
//! `<storage>/merged`. Where the kernel refuses the mount (an old kernel, a
//! file system overlayfs cannot use as upper layer), fuse-overlayfs mounts
//! the same directories; where neither works, the layers are copied into
//! `<storage>/rootfs` and the changes are found by comparison
//! ([`crate::copy`]).
//!
//! The mounts use `userxattr` (opaque directories are `user.overlay.opaque`,
//! which works as root and in a user namespace alike; it also keeps
//! renamed directories from becoming redirects) and no `metacopy`, so that
//! the upper directory holds whole files and can be read as a layer.

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rustix::fs::{Mode, OFlags};
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, UnmountFlags};
use serde::{Deserialize, Serialize};

use crate::confined::{self, Root};
use crate::lower::Lowers;

/// How a root file system is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RootfsKind {
    /// The kernel's overlayfs.
    Overlay,
    /// fuse-overlayfs.
    FuseOverlay,
    /// A copy of the layers.
    Copy,
}

/// A path the runtime mounts something on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MountTarget {
    /// Absolute path in the container.
    pub(crate) path: String,
    /// A directory (else a file).
    pub(crate) dir: bool,
}

/// One container's root file system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Rootfs {
    /// The container's storage directory.
    pub(crate) storage: PathBuf,
    /// How it is made.
    pub(crate) kind: RootfsKind,
    /// The image's layer directories, topmost first (the init layer not included).
    pub(crate) image_layers: Vec<PathBuf>,
}

impl Rootfs {
    /// The directory the container sees as `/`.
    pub(crate) fn root(&self) -> PathBuf {
        match self.kind {
            RootfsKind::Copy => self.storage.join("rootfs"),
            _ => self.storage.join("merged"),
        }
    }

    /// The directory that receives the changes (overlay kinds).
    pub(crate) fn upper(&self) -> PathBuf {
        self.storage.join("upper")
    }

    /// The init layer.
    pub(crate) fn init(&self) -> PathBuf {
        self.storage.join("init")
    }

    /// The image's layers as overlayfs merges them (without the init layer).
    pub(crate) fn image_lowers(&self) -> Lowers {
        Lowers::new(self.image_layers.clone())
    }
}

/// Make the root file system of a container in `storage` (which must not
/// exist) from the image's layer directories (topmost first). `prefer`
/// skips the kinds before it (the copy fallback of a test).
pub(crate) fn create(
    storage: &Path,
    image_layers: Vec<PathBuf>,
    targets: &[MountTarget],
    prefer: Option<RootfsKind>,
) -> io::Result<Rootfs> {
    std::fs::create_dir_all(storage.parent().unwrap_or(Path::new("/")))?;
    std::fs::create_dir(storage)?;
    restrict(storage)?;
    let mut rootfs = Rootfs { storage: storage.to_owned(), kind: RootfsKind::Overlay, image_layers };
    for dir in ["init", "upper", "work", "merged"] {
        std::fs::create_dir(storage.join(dir))?;
    }
    make_init_layer(&rootfs, targets)?;
    let mut lowers = vec![rootfs.init()];
    lowers.extend(rootfs.image_layers.iter().cloned());
    let mut errors = Vec::new();
    if prefer.is_none() || prefer == Some(RootfsKind::Overlay) {
        match mount_overlay(&lowers, &rootfs.upper(), &storage.join("work"), &storage.join("merged")) {
            Ok(()) => return Ok(rootfs),
            Err(e) => errors.push(format!("overlayfs: {e}")),
        }
    }
    if prefer != Some(RootfsKind::Copy) {
        match mount_fuse_overlay(&lowers, &rootfs.upper(), &storage.join("work"), &storage.join("merged")) {
            Ok(()) => {
                rootfs.kind = RootfsKind::FuseOverlay;
                return Ok(rootfs);
            }
            Err(e) => errors.push(format!("fuse-overlayfs: {e}")),
        }
    }
    rootfs.kind = RootfsKind::Copy;
    match crate::copy::create(&rootfs, &lowers) {
        Ok(()) => Ok(rootfs),
        Err(e) => {
            errors.push(format!("copy: {e}"));
            Err(io::Error::other(format!("cannot make the container's file system ({})", errors.join("; "))))
        }
    }
}

/// Storage directories are the owner's only: an upper directory holds what
/// the build wrote, secrets of the build environment included.
fn restrict(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
}

/// The mount points the image lacks, made in the init layer (parents 0755, root-owned).
fn make_init_layer(rootfs: &Rootfs, targets: &[MountTarget]) -> io::Result<()> {
    let lowers = rootfs.image_lowers();
    let init = Root::open(&rootfs.init())?;
    'targets: for target in targets {
        let parts = confined::components(&target.path);
        // Through a symbolic link or a file of the image, the runtime makes the target itself.
        for depth in 1..parts.len() {
            if let Some(found) = lowers.lookup(&parts[..depth])?
                && !found.meta.is_dir()
            {
                continue 'targets;
            }
        }
        if lowers.lookup(&parts)?.is_some() {
            continue;
        }
        let Some((name, parents)) = parts.split_last() else { continue };
        let parent = init.make_dirs(&parents.join("/"), 0o755, Some((0, 0)))?;
        let name = OsStr::new(*name);
        if target.dir {
            match rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
        } else {
            match rustix::fs::openat(
                &parent,
                name,
                OFlags::WRONLY | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o644),
            ) {
                Ok(_) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
        }
        confined::chown_at(&parent, name, 0, 0)?;
    }
    // Parents made above got their times now; the init layer is never committed.
    Ok(())
}

fn mount_overlay(lowers: &[PathBuf], upper: &Path, work: &Path, target: &Path) -> io::Result<()> {
    let fs = rustix::mount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
    let set = |key: &str, value: &OsStr| -> io::Result<()> {
        rustix::mount::fsconfig_set_string(&fs, key, value).map_err(|e| explain(&fs, key, e))
    };
    set("source", OsStr::new("s2i"))?;
    // One `lowerdir+` per layer (Linux 6.8) has no length limit; older kernels take one list.
    let appended = lowers.iter().try_for_each(|lower| set("lowerdir+", lower.as_os_str()));
    if appended.is_err() {
        let joined: Vec<String> = lowers.iter().map(|l| escape_lower(&l.to_string_lossy())).collect();
        set("lowerdir", OsStr::new(&joined.join(":")))?;
    }
    set("upperdir", upper.as_os_str())?;
    set("workdir", work.as_os_str())?;
    rustix::mount::fsconfig_set_flag(&fs, "userxattr").map_err(|e| explain(&fs, "userxattr", e))?;
    // `userxattr` already keeps redirects from being made (and conflicts with `redirect_dir`).
    for (key, value) in [("metacopy", "off"), ("index", "off")] {
        // Kernels that know the option take it; the others have the feature off anyway.
        let _ = rustix::mount::fsconfig_set_string(&fs, key, value);
    }
    rustix::mount::fsconfig_create(&fs).map_err(|e| explain(&fs, "create", e))?;
    let mount = rustix::mount::fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty())?;
    rustix::mount::move_mount(&mount, "", rustix::fs::CWD, target, MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH)?;
    Ok(())
}

/// The kernel's own words for a refused mount option, read from the file system context.
fn explain(fs: &impl std::os::fd::AsFd, step: &str, errno: rustix::io::Errno) -> io::Error {
    let mut message = String::new();
    let mut buffer = [0u8; 512];
    while let Ok(read) = rustix::io::read(fs, &mut buffer) {
        if read == 0 {
            break;
        }
        message.push_str(String::from_utf8_lossy(&buffer[..read]).trim());
        message.push(' ');
    }
    let detail = if message.is_empty() { String::new() } else { format!(" ({})", message.trim()) };
    io::Error::new(io::Error::from(errno).kind(), format!("{step}: {errno}{detail}"))
}

/// A lower directory in overlayfs' list syntax.
fn escape_lower(path: &str) -> String {
    path.replace('\\', "\\\\").replace(':', "\\:").replace(',', "\\,")
}

fn mount_fuse_overlay(lowers: &[PathBuf], upper: &Path, work: &Path, target: &Path) -> io::Result<()> {
    let program = crate::options::find_program("fuse-overlayfs")
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "fuse-overlayfs is not installed"))?;
    let all = lowers
        .iter()
        .chain([upper.to_path_buf(), work.to_path_buf()].iter())
        .map(|p| p.to_string_lossy().into_owned())
        .collect::<Vec<_>>();
    if all.iter().any(|p| p.contains([',', ':'])) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "a layer path has a ',' or ':'"));
    }
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        lowers.iter().map(|l| l.to_string_lossy()).collect::<Vec<_>>().join(":"),
        upper.display(),
        work.display()
    );
    let output = Command::new(program)
        .arg("-o")
        .arg(options)
        .arg(target)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()?;
    if output.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(String::from_utf8_lossy(&output.stderr).trim().to_owned()))
    }
}

/// Unmount whatever is mounted at `path`; lazily when it is busy.
pub(crate) fn unmount_path(path: &Path) -> io::Result<()> {
    loop {
        match rustix::mount::unmount(path, UnmountFlags::empty()) {
            Ok(()) => continue,
            Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOENT) => return Ok(()),
            Err(rustix::io::Errno::BUSY) => {
                return rustix::mount::unmount(path, UnmountFlags::DETACH).map_err(io::Error::from);
            }
            Err(rustix::io::Errno::PERM) => {
                // A FUSE mount of an unprivileged user goes with fusermount.
                let status = Command::new("fusermount3")
                    .arg("-u")
                    .arg(path)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
                return match status {
                    Ok(status) if status.success() => Ok(()),
                    _ => Err(io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        format!("cannot unmount {}", path.display()),
                    )),
                };
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Unmount and remove a container's storage directory.
/// Remove a container's file system (unmounted first), here and now.
pub(crate) fn remove(storage: &Path) -> io::Result<()> {
    unmount_path(&storage.join("merged"))?;
    confined::remove_tree(storage)
}

/// Remove a container's file system: unmounted, then moved into `trash`
/// (a rename, at once) and deleted there by a detached `rm`, so that a
/// build does not wait for its tree to go (deleting 20,000 files costs
/// seconds, far more on a disk that discards freed blocks). Whatever is
/// still in `trash` (a deleter that was killed) is deleted along with it.
/// Where the move fails, the tree is removed here.
pub(crate) fn remove_deferred(storage: &Path, trash: &Path) -> io::Result<()> {
    unmount_path(&storage.join("merged"))?;
    let Some(name) = storage.file_name() else { return confined::remove_tree(storage) };
    let moved = std::fs::create_dir_all(trash).and_then(|()| std::fs::rename(storage, trash.join(name)));
    match moved {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound && !storage.exists() => return Ok(()),
        Err(_) => return confined::remove_tree(storage),
    }
    let doomed: Vec<PathBuf> = std::fs::read_dir(trash)?.flatten().map(|entry| entry.path()).collect();
    // sh exits at once and is waited for; rm, its orphan, goes on alone (no zombie, even in a long-lived program).
    let spawned = Command::new("/bin/sh")
        .args(["-c", "rm -rf --one-file-system -- \"$@\" </dev/null >/dev/null 2>&1 &", "sh"])
        .args(&doomed)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    match spawned {
        Ok(status) if status.success() => Ok(()),
        _ => doomed.iter().try_for_each(|path| confined::remove_tree(path)),
    }
}

/// Add what changed in the container to `spooler` (entries with OCI whiteouts).
///
/// fuse-overlayfs marks every directory it makes opaque, also one the
/// image never had; such a marker hides nothing and is left out, so that
/// the layer is the one the kernel's overlayfs gives.
pub(crate) fn add_changes(rootfs: &Rootfs, spooler: &mut s2i_oci::spool::LayerSpooler) -> io::Result<u64> {
    match rootfs.kind {
        RootfsKind::Copy => crate::copy::add_changes(rootfs, spooler),
        _ => {
            let stats = s2i_oci::overlay::add_upper_dir(&rootfs.upper(), spooler)
                .map_err(|e| io::Error::other(e.to_string()))?;
            let lowers = rootfs.image_lowers();
            let mut dropped = 0;
            spooler.retain(|entry| {
                let hides_nothing = entry.kind == s2i_oci::layer::EntryKind::Opaque && {
                    use std::os::unix::ffi::OsStrExt;
                    let parts: Vec<&std::ffi::OsStr> =
                        entry.path.split(|&b| b == b'/').map(std::ffi::OsStr::from_bytes).collect();
                    // An error reading the image keeps the marker: one too many hides nothing wrongly.
                    matches!(lowers.lookup(&parts), Ok(found) if !found.as_ref().is_some_and(|f| f.meta.is_dir()))
                };
                dropped += u64::from(hides_nothing);
                !hides_nothing
            });
            Ok(stats.entries - dropped)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed_paths(rootfs: &Rootfs) -> Vec<String> {
        let mut spooler = s2i_oci::spool::LayerSpooler::new();
        add_changes(rootfs, &mut spooler).unwrap();
        let options =
            s2i_oci::layer::LayerOptions { compression: s2i_oci::layer::Compression::None, ..Default::default() };
        let mut writer = s2i_oci::layer::LayerWriter::new(Vec::new(), options);
        spooler.write_to(&mut writer).unwrap();
        let (tar, _) = writer.finish().unwrap();
        let mut archive = tar::Archive::new(&tar[..]);
        archive.entries().unwrap().map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned()).collect()
    }

    #[test]
    fn layers_merge_changes_are_read_and_nothing_stays() {
        for prefer in [None, Some(RootfsKind::Copy)] {
            let dir = tempfile::tempdir().unwrap();
            let (top, bottom) = (dir.path().join("top"), dir.path().join("bottom"));
            std::fs::create_dir_all(bottom.join("etc")).unwrap();
            std::fs::write(bottom.join("etc/passwd"), "root:x:0:0::/:/bin/sh\n").unwrap();
            std::fs::write(bottom.join("etc/old"), "old").unwrap();
            std::fs::create_dir_all(top.join("etc")).unwrap();
            std::fs::write(top.join("etc/motd"), "hi").unwrap();
            let targets = [
                MountTarget { path: "/proc".into(), dir: true },
                MountTarget { path: "/etc/hosts".into(), dir: false },
                MountTarget { path: "/etc/passwd".into(), dir: false },
            ];
            let storage = dir.path().join("storage");
            let rootfs = create(&storage, vec![top, bottom], &targets, prefer).unwrap();
            if prefer.is_none() && rustix::process::geteuid().is_root() {
                assert_eq!(rootfs.kind, RootfsKind::Overlay, "root mounts overlayfs");
            }
            let root = rootfs.root();
            assert_eq!(std::fs::read_to_string(root.join("etc/motd")).unwrap(), "hi");
            assert!(root.join("proc").is_dir() && root.join("etc/hosts").is_file(), "mount points are there");
            assert!(!rootfs.init().join("etc/passwd").exists(), "what the image has is not shadowed");
            std::fs::write(root.join("etc/new"), "new").unwrap();
            std::fs::remove_file(root.join("etc/old")).unwrap();
            assert_eq!(changed_paths(&rootfs), ["etc/", "etc/.wh.old", "etc/new"], "{prefer:?}: mount points stay out");
            remove(&storage).unwrap();
            assert!(!storage.exists(), "{prefer:?}: the storage goes");
        }
    }
}
