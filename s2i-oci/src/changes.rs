//! A container's changes, as an engine lists them (`GET
//! /containers/{id}/changes`: a path and whether it was added, modified or
//! deleted), turned into the archive reads that give their content and into
//! layer entries.
//!
//! What goes into the layer:
//!
//! - every added or modified path, with its current content and metadata;
//! - every directory above them (an engine lists a modified parent only
//!   when its own metadata changed, yet a layer must carry its parents with
//!   their real owner and mode, or it would reset them);
//! - a whiteout for every deleted path; a deleted path that exists again is
//!   a directory that was removed and made anew: an opaque directory.
//!
//! Engines list a name that is not UTF-8 with U+FFFD in place of its bytes
//! (JSON cannot say more): such a name cannot be asked for, so the layer is
//! then read from the container's export, where it keeps its bytes; a
//! deleted one cannot be named by a whiteout, so its directory is carried
//! whole and opaque instead — unless that directory is the root or has such
//! a name itself: then the name's bytes are looked up in the base image's
//! export ([`ChangeSet::name_deletions`]) and the whiteout carries them.
//!
//! Nothing else of an archive is taken: a bind mount inside an added
//! directory, or the `/etc/hosts` an engine mounts, is in the engine's
//! archive of the directory but not among the changes.
//!
//! [`ChangeSet::fetches`] says which paths to read and how: the whole tree
//! of an added or recreated path, or only the path's own entry (a modified
//! file, or the metadata of a directory). A directory under which more
//! than [`WHOLE_DIRECTORY_THRESHOLD`] reads would be needed is read whole
//! instead (one request rather than hundreds; its unchanged files pass
//! through and are left out). [`ChangeSet::add_fetched`] adds what a read
//! gave to a [`LayerSpooler`], which sorts.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use crate::error::{Error, Result};
use crate::layer::{LayerEntry, split_parent};
use crate::spool::LayerSpooler;

/// More reads than this below one directory read the directory whole.
pub const WHOLE_DIRECTORY_THRESHOLD: usize = 64;

/// How a path changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    /// It existed in the image and was changed (content or metadata).
    Modified,
    /// It is new.
    Added,
    /// It was removed.
    Deleted,
}

/// One change of a container's filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The path, absolute as engines write it (`/opt/app/run.sh`).
    pub path: String,
    /// How it changed.
    pub kind: ChangeKind,
}

/// What to read of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchScope {
    /// Everything under the path that the layer holds.
    Whole,
    /// The path's own entry only: a directory's metadata, a file with its content.
    Own,
}

/// One archive read: the path (absolute, for the engine) and what to take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    /// The path to read, absolute (`/opt/app`).
    pub path: String,
    /// What to take of it.
    pub scope: FetchScope,
}

/// The changes of one container; see the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct ChangeSet {
    /// Changed paths (relative, `opt/app`) and how.
    kinds: BTreeMap<Vec<u8>, ChangeKind>,
    /// Deleted paths that exist again: opaque directories.
    opaque: BTreeSet<Vec<u8>>,
    /// Directories carried whole and opaque, because a name deleted in them
    /// is listed with U+FFFD and so cannot be written as a whiteout.
    carried: BTreeSet<Vec<u8>>,
    /// Deleted paths listed with U+FFFD whose directory cannot be carried
    /// (the root, or a name with U+FFFD): named by the base image's export.
    unnamed: BTreeSet<Vec<u8>>,
}

impl ChangeSet {
    /// The changes as an engine listed them. Paths must be absolute and
    /// clean; a path listed twice keeps the last kind (a deletion listed
    /// with an addition below it is an opaque directory).
    pub fn new(changes: impl IntoIterator<Item = Change>) -> Result<Self> {
        let mut set = ChangeSet::default();
        for change in changes {
            let relative = relative_path(&change.path)?;
            set.kinds.insert(relative, change.kind);
        }
        // A deleted directory with changes below it was made again.
        let deleted: Vec<Vec<u8>> =
            set.kinds.iter().filter(|(_, kind)| **kind == ChangeKind::Deleted).map(|(p, _)| p.clone()).collect();
        for path in deleted {
            if is_lossy(&path) {
                let parent = split_parent(&path).0;
                if parent.is_empty() || is_lossy(parent) {
                    set.unnamed.insert(path);
                    continue;
                }
                set.carried.insert(parent.to_vec());
                set.opaque.insert(parent.to_vec());
            } else if set.has_changes_below(&path) {
                set.opaque.insert(path);
            }
        }
        Ok(set)
    }

    /// Whether deleted paths need their names' bytes from the base image
    /// ([`ChangeSet::name_deletions`]) before [`ChangeSet::add_deletions`].
    pub fn needs_deleted_names(&self) -> bool {
        !self.unnamed.is_empty()
    }

    /// Find the bytes of the deleted names the engine listed with U+FFFD
    /// (see [`ChangeSet::needs_deleted_names`]) among the entries of the
    /// base image's layers, read from `export` (an engine's image export:
    /// `docker save`'s layout, layers as tar files): each must match exactly
    /// one name there, which its whiteout then carries.
    pub fn name_deletions(&mut self, export: &mut dyn Read) -> Result<()> {
        if self.unnamed.is_empty() {
            return Ok(());
        }
        let mut found: BTreeMap<Vec<u8>, BTreeSet<Vec<u8>>> = BTreeMap::new();
        let mut outer = tar::Archive::new(export);
        let entries = outer.entries().map_err(Error::io("read the base image's export"))?;
        for entry in entries {
            let entry = entry.map_err(Error::io("read the base image's export"))?;
            if entry.header().entry_type() != tar::EntryType::Regular {
                continue;
            }
            // Layers are tar files; anything else (configs, manifests) is not, and is skipped.
            let mut layer = tar::Archive::new(entry);
            let Ok(inner) = layer.entries() else { continue };
            for item in inner {
                let Ok(item) = item else { break };
                let raw = item.path_bytes();
                let mut name: &[u8] = raw.as_ref();
                name = name.strip_prefix(b"./").unwrap_or(name);
                name = name.strip_suffix(b"/").unwrap_or(name);
                if std::str::from_utf8(name).is_ok() {
                    continue;
                }
                let listed = String::from_utf8_lossy(name).into_owned().into_bytes();
                if self.unnamed.contains(&listed) {
                    found.entry(listed).or_default().insert(name.to_vec());
                }
            }
        }
        for listed in std::mem::take(&mut self.unnamed) {
            let names = found.remove(&listed).unwrap_or_default();
            if names.len() != 1 {
                let why = if names.is_empty() {
                    "no file of the base image has a name that the engine lists so".to_owned()
                } else {
                    format!("{} files of the base image have names that the engine lists so", names.len())
                };
                return Err(Error::InvalidEntry {
                    path: absolute(&listed),
                    reason: format!(
                        "it was deleted, and its name is not UTF-8, which the engine's list of changes cannot say; \
                         {why}, so s2i cannot tell which one to write the whiteout for"
                    ),
                    help: "keep that file in the builder image, or build without an epoch, outputs, an SBOM or \
                           provenance (the engine commits the container then)"
                        .to_owned(),
                });
            }
            let name = names.into_iter().next().expect("one name");
            self.kinds.remove(&listed);
            self.kinds.insert(name, ChangeKind::Deleted);
        }
        Ok(())
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// Paths listed.
    pub fn len(&self) -> usize {
        self.kinds.len()
    }

    /// Deleted paths with nothing changed below them, absolute: those that
    /// exist after all are directories removed and made again, empty (see
    /// [`ChangeSet::mark_recreated`]).
    pub fn deleted_paths(&self) -> Vec<String> {
        self.kinds
            .iter()
            .filter(|(path, kind)| **kind == ChangeKind::Deleted && !self.opaque.contains(*path) && !is_lossy(path))
            .map(|(path, _)| absolute(path))
            .collect()
    }

    /// Record that the deleted `path` (absolute) exists: it is an opaque directory.
    pub fn mark_recreated(&mut self, path: &str) -> Result<()> {
        self.opaque.insert(relative_path(path)?);
        Ok(())
    }

    /// The directories (relative) that were removed and made again, which
    /// the layer would mark opaque; [`ChangeSet::list_recreated`] lists
    /// what they lost instead.
    pub fn recreated_dirs(&self) -> Vec<Vec<u8>> {
        self.opaque.iter().filter(|dir| !self.carried.contains(*dir)).cloned().collect()
    }

    /// List the directories removed and made again as Docker does: each
    /// changed, and a deletion for every path the base image held in them
    /// that is gone (`base`: the base image's paths below
    /// [`ChangeSet::recreated_dirs`], as
    /// [`image_paths_below`](crate::archive::image_paths_below) reads them).
    /// Podman marks such a directory deleted and made anew, which would
    /// make an opaque directory; listed the same way, the same build gives
    /// the same layer on both engines.
    pub fn list_recreated(&mut self, base: &BTreeSet<Vec<u8>>) {
        for dir in self.recreated_dirs() {
            self.opaque.remove(&dir);
            self.kinds.insert(dir.clone(), ChangeKind::Modified);
            let prefix = [dir.as_slice(), b"/"].concat();
            for path in base.range(prefix.clone()..).take_while(|path| path.starts_with(&prefix)) {
                // Parents sort first, so only the topmost path of a gone tree is deleted.
                let parent = split_parent(path).0;
                if !self.exists(path) && (parent == dir.as_slice() || self.exists(parent)) {
                    self.kinds.insert(path.clone(), ChangeKind::Deleted);
                }
            }
        }
    }

    /// Whether the listed `path` exists in the container.
    fn exists(&self, path: &[u8]) -> bool {
        matches!(self.kinds.get(path), Some(ChangeKind::Added | ChangeKind::Modified))
    }

    /// Whether `path` (relative) goes into the layer as an entry of its own.
    fn keeps(&self, path: &[u8]) -> bool {
        // Engines list names that are not UTF-8 with U+FFFD in place of the
        // bytes (JSON has no other way): such an entry is matched that way.
        let listed = match std::str::from_utf8(path) {
            Ok(_) => std::borrow::Cow::Borrowed(path),
            Err(_) => std::borrow::Cow::Owned(String::from_utf8_lossy(path).into_owned().into_bytes()),
        };
        if self.carried.iter().any(|dir| dir.as_slice() == path || is_below(path, dir)) {
            // Everything the directory holds now: it replaces the builder's (opaque).
            return true;
        }
        match self.kinds.get(listed.as_ref()) {
            Some(ChangeKind::Added | ChangeKind::Modified) => true,
            Some(ChangeKind::Deleted) => self.opaque.contains(listed.as_ref()),
            None => self.is_needed_parent(&listed),
        }
    }

    /// Whether a listed path cannot be asked for by name (it had bytes that
    /// are not UTF-8, which the engine's list replaced): then the changes
    /// must be read from the container's export.
    pub fn needs_export(&self) -> bool {
        self.kinds.keys().any(|path| is_lossy(path))
    }

    /// Whether `path` is a directory above an entry of the layer.
    fn is_needed_parent(&self, path: &[u8]) -> bool {
        let prefix = [path, b"/"].concat();
        self.kinds.range(prefix.clone()..).take_while(|(p, _)| p.starts_with(&prefix)).next().is_some()
    }

    fn has_changes_below(&self, path: &[u8]) -> bool {
        let prefix = [path, b"/"].concat();
        self.kinds
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .any(|(_, kind)| *kind != ChangeKind::Deleted)
    }

    /// Whether `path` is read whole (an added or recreated tree); anything
    /// else is read for its own entry.
    fn read_whole(&self, path: &[u8]) -> bool {
        if self.carried.contains(path) {
            return true;
        }
        match self.kinds.get(path) {
            Some(ChangeKind::Added) => true,
            Some(ChangeKind::Deleted) => self.opaque.contains(path),
            Some(ChangeKind::Modified) | None => false,
        }
    }

    /// The archive reads that cover the layer's entries, in path order.
    pub fn fetches(&self) -> Vec<Fetch> {
        // Every path with an entry of its own in the layer, parents included.
        let mut needed: BTreeSet<Vec<u8>> = BTreeSet::new();
        for (path, kind) in &self.kinds {
            let mut parent = split_parent(path).0;
            while !parent.is_empty() && needed.insert(parent.to_vec()) {
                parent = split_parent(parent).0;
            }
            if *kind != ChangeKind::Deleted || self.opaque.contains(path) {
                needed.insert(path.clone());
            }
        }
        // Reads per path before merging: a whole read covers its tree.
        let mut plan: BTreeMap<Vec<u8>, FetchScope> = BTreeMap::new();
        let mut whole: BTreeSet<&[u8]> = BTreeSet::new();
        for path in &needed {
            if ancestors(path).any(|dir| whole.contains(dir)) {
                continue;
            }
            if self.read_whole(path) {
                plan.insert(path.clone(), FetchScope::Whole);
                whole.insert(path);
            } else {
                plan.insert(path.clone(), FetchScope::Own);
            }
        }
        merge_crowded_directories(&mut plan);
        plan.into_iter().map(|(path, scope)| Fetch { path: absolute(&path), scope }).collect()
    }

    /// Add what the read `fetch` gave (`tar`, the engine's archive of the
    /// path) to `spooler`: the entries the layer holds. Returns how many.
    pub fn add_fetched(&self, spooler: &mut LayerSpooler, fetch: &Fetch, tar: &mut dyn Read) -> Result<u64> {
        let path = relative_path(&fetch.path)?;
        let parent = split_parent(&path).0.to_vec();
        let what = format!("the archive of {}", fetch.path);
        let mut keep = |entry: &[u8]| self.keeps(entry);
        let added = spooler.add_rebased_tar(tar, &what, &parent, &mut keep, fetch.scope == FetchScope::Own)?;
        if self.opaque.contains(&path) {
            spooler.add(LayerEntry::opaque(path), &mut std::io::empty())?;
        }
        Ok(added)
    }

    /// Add what a container's whole exported filesystem (`tar`, entries
    /// relative to its root) holds of the layer: the changed paths and their
    /// parents, and the markers of recreated directories. The engines'
    /// exports keep owners where some archive APIs do not; they cost the
    /// size of the whole filesystem. Returns how many entries were added.
    pub fn add_export(&self, spooler: &mut LayerSpooler, tar: &mut dyn Read) -> Result<u64> {
        let mut keep = |entry: &[u8]| self.keeps(entry);
        let added = spooler.add_rebased_tar(tar, "the container's export", b"", &mut keep, false)?;
        for dir in &self.opaque {
            spooler.add(LayerEntry::opaque(dir.clone()), &mut std::io::empty())?;
        }
        Ok(added)
    }

    /// Add a whiteout for every deleted path (not inside an opaque directory,
    /// which hides everything below it anyway), and an opaque marker for
    /// every recreated directory that was not read.
    pub fn add_deletions(&self, spooler: &mut LayerSpooler) -> Result<()> {
        if let Some(listed) = self.unnamed.iter().next() {
            return Err(Error::InvalidEntry {
                path: absolute(listed),
                reason: "it was deleted, and its name is not UTF-8, which the engine's list of changes cannot say; \
                         its whiteout needs the name's bytes, which were not looked up in the base image"
                    .to_owned(),
                help: "read the base image's export with ChangeSet::name_deletions first".to_owned(),
            });
        }
        for (path, kind) in &self.kinds {
            if *kind != ChangeKind::Deleted || self.opaque.contains(path) {
                continue;
            }
            if self.opaque.iter().any(|dir| is_below(path, dir)) {
                continue;
            }
            spooler.add(LayerEntry::whiteout(path.clone()), &mut std::io::empty())?;
        }
        Ok(())
    }
}

/// Turn directories under which too many reads would be needed into one
/// whole read, deepest first (see [`WHOLE_DIRECTORY_THRESHOLD`]).
fn merge_crowded_directories(plan: &mut BTreeMap<Vec<u8>, FetchScope>) {
    let headers: Vec<Vec<u8>> =
        plan.iter().filter(|(_, scope)| **scope == FetchScope::Own).map(|(p, _)| p.clone()).collect();
    // Deepest first, so that a crowded subdirectory is merged before its parent counts it.
    let mut by_depth = headers;
    by_depth.sort_by_key(|p| std::cmp::Reverse(p.iter().filter(|&&b| b == b'/').count()));
    for dir in by_depth {
        if !plan.contains_key(&dir) {
            continue;
        }
        let prefix = [dir.as_slice(), b"/"].concat();
        let below: Vec<Vec<u8>> =
            plan.range(prefix.clone()..).take_while(|(p, _)| p.starts_with(&prefix)).map(|(p, _)| p.clone()).collect();
        if below.len() > WHOLE_DIRECTORY_THRESHOLD {
            for path in below {
                plan.remove(&path);
            }
            plan.insert(dir, FetchScope::Whole);
        }
    }
}

/// The directories above `path`, nearest first.
fn ancestors(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::successors(Some(split_parent(path).0), |dir| Some(split_parent(dir).0)).take_while(|dir| !dir.is_empty())
}

/// Whether `path` is strictly below `dir`.
fn is_below(path: &[u8], dir: &[u8]) -> bool {
    path.len() > dir.len() && path.starts_with(dir) && path[dir.len()] == b'/'
}

/// `/opt/app` → `opt/app`; refuses relative, unclean and root paths.
fn relative_path(path: &str) -> Result<Vec<u8>> {
    let invalid = |reason: &str| Error::InvalidEntry {
        path: path.to_owned(),
        reason: reason.to_owned(),
        help: "the engine listed a change with an unexpected path; report it with the engine's version".to_owned(),
    };
    let Some(relative) = path.strip_prefix('/') else { return Err(invalid("it is not absolute")) };
    if relative.is_empty() {
        return Err(invalid("it is the root"));
    }
    if relative.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return Err(invalid("it has an empty, `.` or `..` component"));
    }
    Ok(relative.as_bytes().to_vec())
}

/// Whether a listed path had bytes the engine replaced with U+FFFD.
fn is_lossy(path: &[u8]) -> bool {
    String::from_utf8_lossy(path).contains('\u{FFFD}')
}

fn absolute(path: &[u8]) -> String {
    format!("/{}", String::from_utf8_lossy(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{Compression, LayerOptions, LayerWriter};

    fn set(changes: &[(&str, ChangeKind)]) -> ChangeSet {
        ChangeSet::new(changes.iter().map(|(path, kind)| Change { path: (*path).to_owned(), kind: *kind })).unwrap()
    }

    fn fetches(set: &ChangeSet) -> Vec<(String, FetchScope)> {
        set.fetches().into_iter().map(|f| (f.path, f.scope)).collect()
    }

    use ChangeKind::{Added as A, Deleted as D, Modified as M};
    use FetchScope::{Own as O, Whole as W};

    #[test]
    fn added_trees_are_read_whole_and_parents_by_their_header() {
        // As Docker lists an s2i build: /opt/app-root (a grandparent) is not listed.
        let changes = set(&[
            ("/opt/app-root/src", M),
            ("/opt/app-root/src/index.html", A),
            ("/tmp", M),
            ("/tmp/src", A),
            ("/tmp/src/index.html", A),
            ("/usr/libexec/s2i", D),
            ("/etc/motd", M),
        ]);
        assert_eq!(
            fetches(&changes),
            [
                ("/etc".to_owned(), O),
                ("/etc/motd".to_owned(), O),
                ("/opt".to_owned(), O),
                ("/opt/app-root".to_owned(), O),
                ("/opt/app-root/src".to_owned(), O),
                ("/opt/app-root/src/index.html".to_owned(), W),
                ("/tmp".to_owned(), O),
                ("/tmp/src".to_owned(), W),
                ("/usr".to_owned(), O),
                ("/usr/libexec".to_owned(), O),
            ]
        );
        assert_eq!(changes.deleted_paths(), ["/usr/libexec/s2i"]);
    }

    #[test]
    fn crowded_directories_are_read_whole() {
        let mut changes = vec![("/app".to_owned(), M)];
        for i in 0..=WHOLE_DIRECTORY_THRESHOLD {
            changes.push((format!("/app/f{i}"), M));
        }
        changes.push(("/other/x".to_owned(), A));
        let set = ChangeSet::new(changes.into_iter().map(|(path, kind)| Change { path, kind })).unwrap();
        assert_eq!(fetches(&set), [("/app".to_owned(), W), ("/other".to_owned(), O), ("/other/x".to_owned(), W)]);
    }

    /// An archive as an engine sends it for `name` (entries relative to the path's parent).
    fn archive(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, content) in entries {
            let mut header = tar::Header::new_gnu();
            if name.ends_with('/') {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o1777);
            } else {
                header.set_mode(0o644);
            }
            header.set_uid(1001);
            header.set_size(content.len() as u64);
            builder.append_data(&mut header, name, *content).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn layer(set: &ChangeSet, reads: &[(&str, Vec<u8>)]) -> Vec<(String, u64, u32)> {
        let mut spooler = LayerSpooler::new();
        for fetch in set.fetches() {
            let tar = &reads.iter().find(|(path, _)| *path == fetch.path).unwrap_or_else(|| panic!("{fetch:?}")).1;
            set.add_fetched(&mut spooler, &fetch, &mut &tar[..]).unwrap();
        }
        set.add_deletions(&mut spooler).unwrap();
        let mut writer =
            LayerWriter::new(Vec::new(), LayerOptions { compression: Compression::None, ..Default::default() });
        spooler.write_to(&mut writer).unwrap();
        let (tar, _) = writer.finish().unwrap();
        let mut archive = tar::Archive::new(&tar[..]);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (String::from_utf8_lossy(&e.path_bytes()).into_owned(), h.uid().unwrap(), h.mode().unwrap())
            })
            .collect()
    }

    #[test]
    fn entries_come_from_the_reads_and_mounts_are_left_out() {
        let changes = set(&[("/tmp", M), ("/tmp/src", A), ("/tmp/src/a", A), ("/etc/gone", D)]);
        let reads = [
            ("/etc", archive(&[("etc/", b""), ("etc/hosts", b"mounted")])),
            ("/tmp", archive(&[("tmp/", b""), ("tmp/old", b"lower")])),
            // A bind mount under the added tree: in the archive, not among the changes.
            ("/tmp/src", archive(&[("src/", b""), ("src/a", b"a"), ("src/mounted", b"m")])),
        ];
        let got = layer(&changes, &reads);
        let names: Vec<&str> = got.iter().map(|(n, ..)| n.as_str()).collect();
        assert_eq!(names, ["etc/", "etc/.wh.gone", "tmp/", "tmp/src/", "tmp/src/a"]);
        assert_eq!((got[2].1, got[2].2), (1001, 0o1777), "the parent keeps its owner and mode");
    }

    #[test]
    fn a_deleted_directory_made_again_is_opaque() {
        // As Podman lists `rm -rf /srv/www && mkdir /srv/www && touch /srv/www/new`, and an empty one.
        let mut changes = set(&[("/srv", M), ("/srv/www", D), ("/srv/www/new", A), ("/srv/empty", D)]);
        assert_eq!(changes.deleted_paths(), ["/srv/empty"]);
        changes.mark_recreated("/srv/empty").unwrap();
        let reads = [
            ("/srv", archive(&[("srv/", b"")])),
            ("/srv/www", archive(&[("www/", b""), ("www/new", b"n")])),
            ("/srv/empty", archive(&[("empty/", b"")])),
        ];
        let names: Vec<String> = layer(&changes, &reads).into_iter().map(|(n, ..)| n).collect();
        assert_eq!(
            names,
            ["srv/", "srv/empty/", "srv/empty/.wh..wh..opq", "srv/www/", "srv/www/.wh..wh..opq", "srv/www/new"]
        );
    }

    #[test]
    fn a_recreated_directory_listed_with_the_base_gives_dockers_layer() {
        // `rm -rf /srv/www && mkdir -p /srv/www/sub && echo new > /srv/www/run`, and an
        // emptied /srv/empty, with the base holding www/{run,gone,sub/old,tree/x} and empty/a.
        let base: BTreeSet<Vec<u8>> = [
            "srv/www/run",
            "srv/www/gone",
            "srv/www/sub",
            "srv/www/sub/old",
            "srv/www/tree",
            "srv/www/tree/x",
            "srv/empty/a",
        ]
        .iter()
        .map(|p| p.as_bytes().to_vec())
        .collect();
        let export = archive(&[
            ("srv/", b""),
            ("srv/empty/", b""),
            ("srv/www/", b""),
            ("srv/www/run", b"n"),
            ("srv/www/sub/", b""),
        ]);
        let mut podman =
            set(&[("/srv", M), ("/srv/www", D), ("/srv/www/run", M), ("/srv/www/sub", M), ("/srv/empty", D)]);
        podman.mark_recreated("/srv/empty").unwrap();
        assert_eq!(podman.recreated_dirs(), [b"srv/empty".to_vec(), b"srv/www".to_vec()]);
        podman.list_recreated(&base);
        assert!(podman.recreated_dirs().is_empty());
        let docker = set(&[
            ("/srv", M),
            ("/srv/empty", M),
            ("/srv/empty/a", D),
            ("/srv/www", M),
            ("/srv/www/gone", D),
            ("/srv/www/run", M),
            ("/srv/www/sub", M),
            ("/srv/www/sub/old", D),
            ("/srv/www/tree", D),
        ]);
        let names = |set: &ChangeSet| -> Vec<String> {
            exported_layer(set, &export).into_iter().map(|n| String::from_utf8_lossy(&n).into_owned()).collect()
        };
        assert_eq!(names(&podman), names(&docker));
        assert_eq!(
            names(&docker),
            [
                "srv/",
                "srv/empty/",
                "srv/empty/.wh.a",
                "srv/www/",
                "srv/www/.wh.gone",
                "srv/www/.wh.tree",
                "srv/www/run",
                "srv/www/sub/",
                "srv/www/sub/.wh.old"
            ]
        );
    }

    #[test]
    fn an_export_gives_the_same_layer_as_the_reads() {
        let mut changes = set(&[("/srv", M), ("/srv/www", D), ("/srv/www/new", A), ("/srv/gone", D)]);
        changes.mark_recreated("/srv/www").unwrap();
        let export = archive(&[
            ("bin/", b""),
            ("bin/sh", b"lower"),
            ("srv/", b""),
            ("srv/www/", b""),
            ("srv/www/new", b"n"),
            ("etc/hosts", b"mounted"),
        ]);
        let exported: Vec<String> = exported_layer(&changes, &export)
            .into_iter()
            .map(|name| String::from_utf8_lossy(&name).into_owned())
            .collect();
        let reads = [("/srv", archive(&[("srv/", b"")])), ("/srv/www", archive(&[("www/", b""), ("www/new", b"n")]))];
        let names: Vec<String> = layer(&changes, &reads).into_iter().map(|(n, ..)| n).collect();
        assert_eq!(exported, names);
        assert_eq!(names, ["srv/", "srv/.wh.gone", "srv/www/", "srv/www/.wh..wh..opq", "srv/www/new"]);
    }

    /// A container's export with names given as bytes (not always UTF-8).
    fn raw_export(names: &[&[u8]]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for name in names {
            let mut header = tar::Header::new_gnu();
            let kind = if name.ends_with(b"/") { tar::EntryType::Directory } else { tar::EntryType::Regular };
            header.set_entry_type(kind);
            header.set_mode(0o644);
            header.set_size(0);
            header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
            header.set_cksum();
            builder.append(&header, &b""[..]).unwrap();
        }
        builder.into_inner().unwrap()
    }

    /// The names of the layer made from `export`, as bytes.
    fn exported_layer(set: &ChangeSet, export: &[u8]) -> Vec<Vec<u8>> {
        let mut spooler = LayerSpooler::new();
        set.add_export(&mut spooler, &mut &export[..]).unwrap();
        set.add_deletions(&mut spooler).unwrap();
        let mut writer =
            LayerWriter::new(Vec::new(), LayerOptions { compression: Compression::None, ..Default::default() });
        spooler.write_to(&mut writer).unwrap();
        let tar = writer.finish().unwrap().0;
        let mut archive = tar::Archive::new(&tar[..]);
        archive.entries().unwrap().map(|e| e.unwrap().path_bytes().into_owned()).collect()
    }

    #[test]
    fn names_that_are_not_utf8_are_matched_as_engines_list_them() {
        let changes = set(&[("/srv", M), ("/srv/caf\u{FFFD}.txt", A)]);
        assert!(changes.needs_export());
        assert!(!set(&[("/srv/cafe.txt", A)]).needs_export());
        let export = raw_export(&[b"srv/", b"srv/caf\xe9.txt", b"srv/old"]);
        assert_eq!(exported_layer(&changes, &export), [&b"srv/"[..], b"srv/caf\xe9.txt"], "the entry keeps its bytes");
    }

    #[test]
    fn a_deleted_name_that_is_not_utf8_makes_its_directory_opaque_and_whole() {
        // The whiteout would need the name's bytes, which the list lost.
        let changes = set(&[("/srv", M), ("/srv/www", M), ("/srv/www/old\u{FFFD}", D), ("/srv/www/new", A)]);
        assert!(changes.needs_export());
        assert!(changes.deleted_paths().is_empty(), "a name the engine cannot be asked about");
        let export = raw_export(&[b"bin/", b"srv/", b"srv/other", b"srv/www/", b"srv/www/kept", b"srv/www/new"]);
        assert_eq!(
            exported_layer(&changes, &export),
            [&b"srv/"[..], b"srv/www/", b"srv/www/.wh..wh..opq", b"srv/www/kept", b"srv/www/new"]
        );
    }

    /// An engine's image export of one layer holding `names`.
    fn image_export(names: &[&[u8]]) -> Vec<u8> {
        let layer = raw_export(names);
        let mut outer = tar::Builder::new(Vec::new());
        let config = br#"{"rootfs":{"type":"layers","diff_ids":[]}}"#;
        for (name, content) in [(&b"abc.json"[..], &config[..]), (b"layer1/layer.tar", &layer)] {
            let mut header = tar::Header::new_ustar();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            outer.append_data(&mut header, std::str::from_utf8(name).unwrap(), content).unwrap();
        }
        outer.into_inner().unwrap()
    }

    #[test]
    fn a_deleted_name_that_is_not_utf8_at_the_root_is_named_by_the_base_image() {
        for (listed, raw, parent) in [
            ("/old\u{FFFD}", &b"old\xe9"[..], "the root"),
            ("/a\u{FFFD}/b\u{FFFD}", b"a\xe9/b\xe8", "a name that is not UTF-8"),
        ] {
            let mut changes = ChangeSet::new([Change { path: listed.to_owned(), kind: D }]).unwrap();
            assert!(changes.needs_deleted_names(), "deleted from {parent}");
            assert!(changes.add_deletions(&mut LayerSpooler::new()).is_err(), "no whiteout without the name's bytes");
            let export = image_export(&[b"bin/", b"a\xe9/", raw, b"caf\xe9"]);
            changes.name_deletions(&mut &export[..]).unwrap();
            assert!(!changes.needs_deleted_names());
            let names = exported_layer(&changes, &raw_export(&[b"bin/"]));
            let whiteout = match raw.iter().rposition(|&b| b == b'/') {
                Some(slash) => [&raw[..=slash], b".wh.", &raw[slash + 1..]].concat(),
                None => [b".wh.", raw].concat(),
            };
            assert!(names.contains(&whiteout), "the whiteout carries the bytes ({parent}): {names:?}");
            let replaced = "\u{FFFD}".as_bytes();
            assert!(!names.iter().any(|n| n.windows(3).any(|w| w == replaced)), "{names:?}");
        }
        // Two names the engine lists alike: which one went cannot be told.
        let mut changes = ChangeSet::new([Change { path: "/x\u{FFFD}".to_owned(), kind: D }]).unwrap();
        let export = image_export(&[b"x\xe9", b"x\xe8"]);
        assert!(matches!(changes.name_deletions(&mut &export[..]), Err(Error::InvalidEntry { .. })));
        let mut changes = ChangeSet::new([Change { path: "/y\u{FFFD}".to_owned(), kind: D }]).unwrap();
        assert!(changes.name_deletions(&mut &image_export(&[b"x\xe9"])[..]).is_err(), "not in the base image");
    }

    #[test]
    fn paths_must_be_absolute_and_clean() {
        for bad in ["relative", "/", "/a/../b", "/a//b"] {
            assert!(ChangeSet::new([Change { path: bad.to_owned(), kind: A }]).is_err(), "{bad}");
        }
    }
}
