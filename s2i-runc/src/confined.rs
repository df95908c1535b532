//! Paths inside a root directory (a container's root filesystem, a layer
//! being unpacked), resolved as if the directory were `/`: symbolic links,
//! absolute ones included, and `..` never lead out of it (`openat2` with
//! `RESOLVE_IN_ROOT`). Every operation on container content goes through
//! here, so that a builder image cannot make s2i read or write host files.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags, Stat};

/// A directory that paths are resolved in as if it were `/`.
#[derive(Debug)]
pub(crate) struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

/// `path` cleaned lexically into its components: no empty, `.` or `..`
/// components (`..` removes the one before it; at the top it stays at the top).
pub(crate) fn components(path: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    parts
}

/// [`components`] of a path given as bytes: its names need not be UTF-8.
pub(crate) fn components_bytes(path: &[u8]) -> Vec<&[u8]> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in path.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    parts
}

/// `path` cleaned, as an absolute container path (`/` for the root).
pub(crate) fn clean(path: &str) -> String {
    format!("/{}", components(path).join("/"))
}

fn to_io(e: rustix::io::Errno) -> io::Error {
    e.into()
}

/// Whether an error means the path (or one of its directories) is not there.
pub(crate) fn is_missing(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error())
}

const RESOLVE: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

impl Root {
    /// Open `path` as a root.
    pub(crate) fn open(path: &Path) -> io::Result<Self> {
        let fd = rustix::fs::open(path, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| io::Error::new(io::Error::from(e).kind(), format!("open {}: {e}", path.display())))?;
        Ok(Self { fd, path: path.to_owned() })
    }

    /// The root's directory on the host.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Open `path` (symbolic links followed inside the root) with `flags`.
    pub(crate) fn open_path(&self, path: &str, flags: OFlags) -> io::Result<OwnedFd> {
        let relative = components(path).join("/");
        let relative = if relative.is_empty() { ".".to_owned() } else { relative };
        rustix::fs::openat2(&self.fd, relative.as_str(), flags | OFlags::CLOEXEC, Mode::empty(), RESOLVE).map_err(to_io)
    }

    /// [`Self::open_path`] for a path given as bytes: its names need not be UTF-8.
    pub(crate) fn open_path_bytes(&self, path: &[u8], flags: OFlags) -> io::Result<OwnedFd> {
        let relative = if path.is_empty() { OsStr::new(".") } else { OsStr::from_bytes(path) };
        rustix::fs::openat2(&self.fd, relative, flags | OFlags::CLOEXEC, Mode::empty(), RESOLVE).map_err(to_io)
    }

    /// [`Self::parent_of`] for a path given as bytes (`a/b/c`, relative to the root).
    pub(crate) fn parent_of_bytes(&self, path: &[u8]) -> io::Result<Option<(OwnedFd, OsString)>> {
        let parts: Vec<&[u8]> = path.split(|&b| b == b'/').filter(|p| !p.is_empty() && *p != b".").collect();
        let Some((name, parents)) = parts.split_last() else { return Ok(None) };
        let dir = self.open_path_bytes(&parents.join(&b'/'), OFlags::PATH | OFlags::DIRECTORY)?;
        Ok(Some((dir, OsStr::from_bytes(name).to_owned())))
    }

    /// The directory that holds `path` (opened with `O_PATH`) and the last
    /// component's name; `None` for the root itself. The directory's own
    /// symbolic links are followed inside the root, the last component is not.
    pub(crate) fn parent_of(&self, path: &str) -> io::Result<Option<(OwnedFd, OsString)>> {
        let parts = components(path);
        let Some((name, parents)) = parts.split_last() else { return Ok(None) };
        let dir = self.open_path(&parents.join("/"), OFlags::PATH | OFlags::DIRECTORY)?;
        Ok(Some((dir, OsString::from(*name))))
    }

    /// What is at `path`, without following a final symbolic link; `None` when nothing is.
    pub(crate) fn lstat(&self, path: &str) -> io::Result<Option<Stat>> {
        let parent = match self.parent_of(path) {
            Ok(Some(parent)) => parent,
            Ok(None) => return rustix::fs::fstat(&self.fd).map(Some).map_err(to_io),
            Err(e) if is_missing(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        match rustix::fs::statat(&parent.0, parent.1.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => Ok(Some(stat)),
            Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR) => Ok(None),
            Err(e) => Err(to_io(e)),
        }
    }

    /// Open (making what is missing, like `mkdir -p`) the directory `path`.
    /// New directories get `mode` and, when given, `owner`.
    pub(crate) fn make_dirs(&self, path: &str, mode: u32, owner: Option<(u32, u32)>) -> io::Result<OwnedFd> {
        self.make_dirs_bytes(path.as_bytes(), mode, owner)
    }

    /// [`Self::make_dirs`] for a path given as bytes: its names need not be UTF-8.
    pub(crate) fn make_dirs_bytes(&self, path: &[u8], mode: u32, owner: Option<(u32, u32)>) -> io::Result<OwnedFd> {
        let parts = components_bytes(path);
        let mut done: Vec<&[u8]> = Vec::new();
        for part in &parts {
            done.push(part);
            let here = done.join(&b'/');
            match self.open_path_bytes(&here, OFlags::PATH | OFlags::DIRECTORY) {
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            let (parent, name) = self.parent_of_bytes(&here)?.expect("a component");
            match rustix::fs::mkdirat(&parent, name.as_os_str(), Mode::from_raw_mode(mode)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(to_io(e)),
            }
            let dir = self.open_path_bytes(&here, OFlags::RDONLY | OFlags::DIRECTORY)?;
            // mkdir applies the umask; the mode asked for is the mode wanted.
            rustix::fs::fchmod(&dir, Mode::from_raw_mode(mode)).map_err(to_io)?;
            if let Some((uid, gid)) = owner {
                chown_fd(&dir, uid, gid)?;
            }
        }
        self.open_path_bytes(&parts.join(&b'/'), OFlags::PATH | OFlags::DIRECTORY)
    }

    /// Read a small file (at most `limit` bytes); `None` when it does not exist.
    pub(crate) fn read_file(&self, path: &str, limit: u64) -> io::Result<Option<Vec<u8>>> {
        let fd = match self.open_path(path, OFlags::RDONLY) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let file = std::fs::File::from(fd);
        let mut bytes = Vec::new();
        io::Read::read_to_end(&mut io::Read::take(file, limit), &mut bytes)?;
        Ok(Some(bytes))
    }

    /// The host path of an `O_PATH` descriptor's file, for calls that take
    /// paths (extended attributes of any file type).
    pub(crate) fn proc_path(fd: BorrowedFd<'_>) -> PathBuf {
        use std::os::fd::AsRawFd;
        PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
    }
}

/// Change the owner of an open file; an owner this process cannot set (a
/// user namespace without that id, or no privilege) is left as it is.
pub(crate) fn chown_fd(fd: impl AsFd, uid: u32, gid: u32) -> io::Result<()> {
    let uid = rustix::fs::Uid::from_raw(uid);
    let gid = rustix::fs::Gid::from_raw(gid);
    match rustix::fs::fchown(fd, Some(uid), Some(gid)) {
        Ok(()) | Err(rustix::io::Errno::INVAL | rustix::io::Errno::PERM) => Ok(()),
        Err(e) => Err(to_io(e)),
    }
}

/// [`chown_fd`] for an entry of a directory, not following a symbolic link.
pub(crate) fn chown_at(dir: impl AsFd, name: &OsStr, uid: u32, gid: u32) -> io::Result<()> {
    let uid = rustix::fs::Uid::from_raw(uid);
    let gid = rustix::fs::Gid::from_raw(gid);
    match rustix::fs::chownat(dir, name, Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW) {
        Ok(()) | Err(rustix::io::Errno::INVAL | rustix::io::Errno::PERM) => Ok(()),
        Err(e) => Err(to_io(e)),
    }
}

/// Set the modification (and access) time of an entry of a directory, not following a link.
pub(crate) fn set_mtime_at(dir: impl AsFd, name: &OsStr, seconds: i64) -> io::Result<()> {
    let time = rustix::fs::Timespec { tv_sec: seconds, tv_nsec: 0 };
    let times = rustix::fs::Timestamps { last_access: time, last_modification: time };
    rustix::fs::utimensat(dir, name, &times, AtFlags::SYMLINK_NOFOLLOW).map_err(to_io)
}

/// The names in a directory (not `.` or `..`), sorted by their bytes.
pub(crate) fn list_dir(dir: impl AsFd) -> io::Result<Vec<OsString>> {
    let fd = rustix::fs::openat(dir, ".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(to_io)?;
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::new(fd).map_err(to_io)? {
        let entry = entry.map_err(to_io)?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsString::from_vec(name.to_vec()));
        }
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

/// Remove `name` from `dir`, a directory with everything in it.
pub(crate) fn remove_all_at(dir: impl AsFd, name: &OsStr) -> io::Result<()> {
    let dir = dir.as_fd();
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) => return Ok(()),
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(rustix::io::Errno::ISDIR | rustix::io::Errno::PERM) => {}
        Err(e) => return Err(to_io(e)),
    }
    let child = match rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(child) => child,
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(e) => return Err(to_io(e)),
    };
    for entry in list_dir(&child)? {
        remove_all_at(&child, &entry)?;
    }
    match rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
        Err(e) => Err(to_io(e)),
    }
}

/// Remove a host directory with everything in it (never following links out
/// of it); a missing one is fine.
pub(crate) fn remove_tree(path: &Path) -> io::Result<()> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("refusing to remove {}", path.display())));
    };
    let parent = match rustix::fs::open(parent, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()) {
        Ok(parent) => parent,
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(e) => return Err(to_io(e)),
    };
    remove_all_at(&parent, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cleaned_lexically() {
        assert_eq!(components("/a//b/./c/"), ["a", "b", "c"]);
        assert_eq!(components("../../etc/passwd"), ["etc", "passwd"]);
        assert_eq!(components("/a/b/../c"), ["a", "c"]);
        assert_eq!(clean(""), "/");
        assert_eq!(clean("x/.."), "/");
    }

    #[test]
    fn links_stay_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/passwd"), "inside\n").unwrap();
        std::os::unix::fs::symlink("/etc", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../../etc", root.join("up")).unwrap();
        let root = Root::open(&root).unwrap();
        assert_eq!(root.read_file("/abs/passwd", 100).unwrap().unwrap(), b"inside\n");
        assert_eq!(root.read_file("/up/passwd", 100).unwrap().unwrap(), b"inside\n");
        assert!(root.read_file("/missing", 100).unwrap().is_none());
        assert!(root.lstat("/abs").unwrap().unwrap().st_mode & 0o170000 == 0o120000, "the last link is not followed");
        assert!(root.lstat("/missing/deeper").unwrap().is_none());
        let made = root.make_dirs("/abs/new/deep", 0o750, None).unwrap();
        drop(made);
        assert!(dir.path().join("root/etc/new/deep").is_dir(), "made inside the root, through the link");
        remove_tree(&dir.path().join("root")).unwrap();
        assert!(!dir.path().join("root").exists());
    }
}
