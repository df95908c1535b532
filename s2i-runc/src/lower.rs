//! The lower layers of a container as overlayfs merges them, read without a
//! mount: what is at a path (the topmost layer that has it, unless a
//! whiteout or an opaque directory above hides it) and what a directory
//! holds. The init layer and the copy fallback use it.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;

use crate::layers::OPAQUE_XATTR;

/// Lower layer directories, topmost first.
#[derive(Debug, Clone)]
pub(crate) struct Lowers {
    dirs: Vec<PathBuf>,
}

/// What the merged lower layers have at a path.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    /// The layer directory it comes from.
    pub(crate) host_path: PathBuf,
    /// Its metadata (not following a symbolic link).
    pub(crate) meta: std::fs::Metadata,
}

fn is_whiteout(meta: &std::fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

fn is_opaque(path: &std::path::Path) -> bool {
    let mut value = [0u8; 2];
    matches!(rustix::fs::lgetxattr(path, OPAQUE_XATTR, &mut value[..]), Ok(1) if value[0] == b'y')
        || matches!(rustix::fs::lgetxattr(path, "trusted.overlay.opaque", &mut value[..]), Ok(1) if value[0] == b'y')
}

/// The relative path of `parts` (names as bytes: they need not be UTF-8).
fn relative<P: AsRef<OsStr>>(parts: &[P]) -> PathBuf {
    parts.iter().map(|part| part.as_ref()).collect()
}

impl Lowers {
    /// The layers, topmost first.
    pub(crate) fn new(dirs: Vec<PathBuf>) -> Self {
        Self { dirs }
    }

    /// The layers (indexes into the topmost-first list) in which the
    /// directory `parts` contributes to the merged view.
    fn contributing<P: AsRef<OsStr>>(&self, parts: &[P]) -> io::Result<Vec<usize>> {
        let mut layers: Vec<usize> = (0..self.dirs.len()).collect();
        let mut relative = PathBuf::new();
        for part in parts {
            relative.push(part.as_ref());
            let mut next = Vec::new();
            for &layer in &layers {
                let path = self.dirs[layer].join(&relative);
                let meta = match std::fs::symlink_metadata(&path) {
                    Ok(meta) => meta,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                if !meta.is_dir() {
                    // A whiteout or a file hides the directory of the layers below.
                    break;
                }
                next.push(layer);
                if is_opaque(&path) {
                    break;
                }
            }
            if next.is_empty() {
                return Ok(next);
            }
            layers = next;
        }
        Ok(layers)
    }

    /// What is at `path` (components of a clean path), if anything.
    pub(crate) fn lookup<P: AsRef<OsStr>>(&self, parts: &[P]) -> io::Result<Option<Found>> {
        let Some((name, parents)) = parts.split_last() else {
            let Some(top) = self.dirs.first() else { return Ok(None) };
            return Ok(Some(Found { host_path: top.clone(), meta: std::fs::symlink_metadata(top)? }));
        };
        for layer in self.contributing(parents)? {
            let path = self.dirs[layer].join(relative(parents)).join(name.as_ref());
            match std::fs::symlink_metadata(&path) {
                Ok(meta) if is_whiteout(&meta) => return Ok(None),
                Ok(meta) => return Ok(Some(Found { host_path: path, meta })),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// The entries of the merged directory `parts`, by name (whiteouts applied).
    pub(crate) fn list<P: AsRef<OsStr>>(&self, parts: &[P]) -> io::Result<BTreeMap<OsString, Found>> {
        let mut entries: BTreeMap<OsString, Option<Found>> = BTreeMap::new();
        for layer in self.contributing(parts)? {
            let dir = self.dirs[layer].join(relative(parts));
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let name = entry.file_name();
                if entries.contains_key(&name) {
                    continue;
                }
                let meta = std::fs::symlink_metadata(entry.path())?;
                let found = (!is_whiteout(&meta)).then(|| Found { host_path: entry.path(), meta });
                entries.insert(name, found);
            }
        }
        Ok(entries.into_iter().filter_map(|(name, found)| found.map(|f| (name, f))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_view_of_layers() {
        let dir = tempfile::tempdir().unwrap();
        let (bottom, top) = (dir.path().join("bottom"), dir.path().join("top"));
        std::fs::create_dir_all(bottom.join("etc")).unwrap();
        std::fs::write(bottom.join("etc/a"), "a").unwrap();
        std::fs::write(bottom.join("etc/b"), "b").unwrap();
        std::fs::create_dir_all(top.join("etc")).unwrap();
        std::fs::write(top.join("etc/c"), "c").unwrap();
        crate::layers::make_whiteout(
            rustix::fs::open(top.join("etc"), rustix::fs::OFlags::PATH, rustix::fs::Mode::empty()).unwrap(),
            std::ffi::OsStr::new("b"),
        )
        .unwrap();
        let lowers = Lowers::new(vec![top.clone(), bottom.clone()]);
        let names: Vec<String> =
            lowers.list(&["etc"]).unwrap().keys().map(|n| n.to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["a", "c"]);
        assert!(lowers.lookup(&["etc", "b"]).unwrap().is_none(), "whited out");
        assert_eq!(lowers.lookup(&["etc", "a"]).unwrap().unwrap().host_path, bottom.join("etc/a"));
        assert!(lowers.lookup(&["etc", "a", "deeper"]).unwrap().is_none());
        assert!(lowers.lookup(&["nothing"]).unwrap().is_none());
    }
}
