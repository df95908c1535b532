//! Entries in any order, a layer in layer order: [`LayerSpooler`] keeps an
//! index of the entries in memory and their content in an unnamed temporary
//! file (or, for entries of a directory on the host, the file's path), then
//! writes them sorted through a [`LayerWriter`].
//!
//! Container changes arrive in walk order (an engine's tar of changed paths,
//! a walk of an overlay upper directory); [`normalise`] turns such a tar into
//! a layer with the writer's guarantees.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::layer::{
    EntryKind, LayerEntry, LayerOptions, LayerSummary, LayerWriter, OPAQUE_MARKER, WHITEOUT_PREFIX, entry_order,
    split_parent,
};

/// Collects layer entries in any order; see the [module docs](self).
///
/// A later entry with the same place as an earlier one replaces it, as it
/// would when the tar is extracted. Hard links are rearranged so that the
/// first of the linked paths in layer order holds the content.
#[derive(Debug, Default)]
pub struct LayerSpooler {
    dir: Option<PathBuf>,
    spool: Option<File>,
    spool_len: u64,
    items: Vec<Spooled>,
}

#[derive(Debug)]
struct Spooled {
    entry: LayerEntry,
    content: Content,
}

#[derive(Debug, Clone)]
enum Content {
    None,
    /// At this offset of the spool file, the entry's size long.
    Spool(u64),
    /// A file of the host, read when the layer is written.
    Host(PathBuf),
}

/// What [`LayerSpooler::add_tar`] found in a tar stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TarStats {
    /// Entries taken.
    pub entries: u64,
    /// The root directory entry (`./`), which a layer does not hold.
    pub root_skipped: bool,
}

impl LayerSpooler {
    /// A spooler whose spool file lives in the system's temporary directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// A spooler whose spool file lives in `dir` (a disk with room for the content).
    pub fn new_in(dir: impl Into<PathBuf>) -> Self {
        Self { dir: Some(dir.into()), ..Self::default() }
    }

    /// Entries collected so far.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The entries collected so far, in the order they were added (a later
    /// one with the same path replaces an earlier one when written).
    pub fn entries(&self) -> impl Iterator<Item = &LayerEntry> {
        self.items.iter().map(|item| &item.entry)
    }

    /// Keep only the entries for which `keep` says yes (a removed file's
    /// content stays in the spool file, unused).
    pub fn retain(&mut self, mut keep: impl FnMut(&LayerEntry) -> bool) {
        self.items.retain(|item| keep(&item.entry));
    }

    /// Whether no entry was collected.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Add an entry; a file's content is copied from `content` into the spool.
    pub fn add(&mut self, entry: LayerEntry, content: &mut dyn Read) -> Result<()> {
        entry.validate()?;
        let content = match entry.kind {
            EntryKind::File { size } => {
                let offset = self.spool_len;
                let spool = self.spool()?;
                let copied = io::copy(&mut content.take(size), spool)
                    .map_err(Error::io(format!("spool the content of {}", entry.display_path())))?;
                if copied != size {
                    return Err(Error::InvalidEntry {
                        path: entry.display_path(),
                        reason: format!("its content ended after {copied} of {size} bytes"),
                        help: "give the file's size as its reader yields it".to_owned(),
                    });
                }
                self.spool_len += size;
                Content::Spool(offset)
            }
            _ => Content::None,
        };
        self.items.push(Spooled { entry, content });
        Ok(())
    }

    /// Add an entry whose content is read from `host_path` when the layer is written.
    pub(crate) fn add_host_file(&mut self, entry: LayerEntry, host_path: PathBuf) -> Result<()> {
        entry.validate()?;
        self.items.push(Spooled { entry, content: Content::Host(host_path) });
        Ok(())
    }

    /// Add every entry of a tar stream (`what` names it in errors). Paths are
    /// cleaned (`./a/` is `a`); `.wh.` files become whiteouts and opaque
    /// markers; PAX ids, times and extended attributes are read (attributes
    /// that describe the host, such as SELinux labels, are left out: see
    /// [`keep_xattr`]).
    pub fn add_tar(&mut self, tar: &mut dyn Read, what: &str) -> Result<TarStats> {
        let invalid = |reason: String| Error::InvalidTar { what: what.to_owned(), reason };
        let mut stats = TarStats::default();
        let mut archive = tar::Archive::new(tar);
        let entries = archive.entries().map_err(|e| invalid(e.to_string()))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| invalid(e.to_string()))?;
            let Some(layer_entry) = tar_entry(&mut entry).map_err(&invalid)? else {
                stats.root_skipped |= entry.header().entry_type().is_dir();
                continue;
            };
            self.add(layer_entry, &mut entry)?;
            stats.entries += 1;
        }
        Ok(stats)
    }

    /// Add the entries of a tar of one path of a filesystem, as an engine's
    /// archive API sends it (names relative to the path's parent, `c/…` for
    /// `/a/b/c`): each entry's path (and hard-link target) is put under
    /// `parent`, and only entries for which `keep` says yes are added. With
    /// `first_only`, reading stops after the first entry (the path's own
    /// metadata). Returns how many entries were added.
    pub fn add_rebased_tar(
        &mut self,
        tar: &mut dyn Read,
        what: &str,
        parent: &[u8],
        keep: &mut dyn FnMut(&[u8]) -> bool,
        first_only: bool,
    ) -> Result<u64> {
        let invalid = |reason: String| Error::InvalidTar { what: what.to_owned(), reason };
        let rebase = |path: &[u8]| if parent.is_empty() { path.to_vec() } else { [parent, b"/", path].concat() };
        let mut added = 0;
        let mut archive = tar::Archive::new(tar);
        let entries = archive.entries().map_err(|e| invalid(e.to_string()))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| invalid(e.to_string()))?;
            let Some(mut layer_entry) = tar_entry(&mut entry).map_err(&invalid)? else { continue };
            layer_entry.path = rebase(&layer_entry.path);
            if let EntryKind::Hardlink { target } = &mut layer_entry.kind {
                *target = rebase(target);
            }
            if keep(&layer_entry.path) {
                self.add(layer_entry, &mut entry)?;
                added += 1;
            }
            if first_only {
                break;
            }
        }
        Ok(added)
    }

    /// Write the entries, sorted, through `writer`.
    pub fn write_to<W: Write>(self, writer: &mut LayerWriter<'_, W>) -> Result<()> {
        let mut items = self.items;
        // Stable: of entries with the same place, the last added ends up last.
        items.sort_by(|a, b| entry_order(&a.entry, &b.entry));
        let mut unique: Vec<Spooled> = Vec::with_capacity(items.len());
        for item in items {
            match unique.last_mut() {
                Some(last) if entry_order(&last.entry, &item.entry).is_eq() => *last = item,
                _ => unique.push(item),
            }
        }
        relink_hardlinks(&mut unique)?;
        let spool = self.spool;
        for item in &unique {
            match &item.content {
                Content::None => writer.append(&item.entry, &mut io::empty())?,
                Content::Spool(offset) => {
                    let mut file = spool.as_ref().expect("spooled content has a spool file");
                    file.seek(SeekFrom::Start(*offset)).map_err(Error::io("read the spool file"))?;
                    writer.append(&item.entry, &mut file.take(item.entry.size()))?;
                }
                Content::Host(path) => {
                    let mut file = File::open(path).map_err(Error::io(format!("open {}", path.display())))?;
                    writer.append(&item.entry, &mut file)?;
                }
            }
        }
        Ok(())
    }

    fn spool(&mut self) -> Result<&mut File> {
        if self.spool.is_none() {
            let file = match &self.dir {
                Some(dir) => tempfile::tempfile_in(dir),
                None => tempfile::tempfile(),
            };
            self.spool = Some(file.map_err(Error::io("create the layer's spool file"))?);
        }
        Ok(self.spool.as_mut().expect("just created"))
    }
}

/// Rewrite a tar stream (any order, any tar dialect) as a normalised layer
/// into `sink`; see [`LayerSpooler::add_tar`] for what is read.
pub fn normalise<W: Write>(tar: &mut dyn Read, sink: W, options: LayerOptions) -> Result<(W, LayerSummary)> {
    let mut spooler = LayerSpooler::new();
    spooler.add_tar(tar, "the layer input")?;
    let mut writer = LayerWriter::new(sink, options);
    spooler.write_to(&mut writer)?;
    writer.finish()
}

/// Copy a tar that is already in layer order (as a [`LayerWriter`] writes
/// one: entries sorted, whiteouts and opaque markers in OCI's form, times
/// and owners as they are) through `writer`, which applies its own options
/// (the epoch, the compression) and refuses an entry out of order; `what`
/// names the tar in errors. Unlike [`LayerSpooler::add_tar`] nothing is
/// spooled: content flows from `tar` into `writer`. The stream is read to
/// its end, so that a producer's failure reported after the archive's end
/// is seen. Returns the number of entries copied.
pub fn copy_ordered_tar<W: Write>(tar: &mut dyn Read, what: &str, writer: &mut LayerWriter<'_, W>) -> Result<u64> {
    let invalid = |reason: String| Error::InvalidTar { what: what.to_owned(), reason };
    let mut copied = 0;
    let mut archive = tar::Archive::new(tar);
    for entry in archive.entries().map_err(|e| invalid(e.to_string()))? {
        let mut entry = entry.map_err(|e| invalid(e.to_string()))?;
        let Some(layer_entry) = tar_entry(&mut entry).map_err(&invalid)? else { continue };
        writer.append(&layer_entry, &mut entry)?;
        copied += 1;
    }
    io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(|e| invalid(e.to_string()))?;
    Ok(copied)
}

/// Whether an extended attribute goes into a layer: file capabilities and
/// `user.*` attributes do; SELinux labels, ACLs, the bookkeeping of
/// overlayfs and fuse-overlayfs, and other `trusted.*` or `security.*` ones
/// describe the host and do not.
pub fn keep_xattr(name: &str) -> bool {
    const BOOKKEEPING: [&str; 3] = ["user.overlay.", "user.fuseoverlayfs.", "user.containers."];
    name == "security.capability"
        || (name.starts_with("user.") && !BOOKKEEPING.iter().any(|prefix| name.starts_with(prefix)))
}

/// The cleaned path of a tar entry's name; `None` for the root.
fn clean_path(raw: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in raw.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => return Err(format!("the entry {:?} leaves the root", String::from_utf8_lossy(raw))),
            _ => parts.push(part),
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join(&b'/')))
}

/// A tar entry as a layer entry; `None` for entries a layer does not hold.
fn tar_entry<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<Option<LayerEntry>, String> {
    use tar::EntryType;
    let Some(path) = clean_path(&entry.path_bytes())? else { return Ok(None) };
    let header = entry.header();
    let display = String::from_utf8_lossy(&path).into_owned();
    let field = |e: io::Error| format!("the header of {display}: {e}");
    // Some writers leave numeric fields empty (all NUL or spaces): that is 0.
    let blank = |range: std::ops::Range<usize>| header.as_bytes()[range].iter().all(|&b| b == 0 || b == b' ');
    let mut mode = if blank(100..108) { 0 } else { header.mode().map_err(field)? & 0o7777 };
    let mut uid = if blank(108..116) { 0 } else { header.uid().map_err(field)? };
    let mut gid = if blank(116..124) { 0 } else { header.gid().map_err(field)? };
    let mut mtime = if blank(136..148) { 0 } else { header.mtime().map_err(field)? };
    let entry_type = header.entry_type();
    let device = || -> Result<(u32, u32), String> {
        let major = header.device_major().map_err(field)?.unwrap_or(0);
        let minor = header.device_minor().map_err(field)?.unwrap_or(0);
        Ok((major, minor))
    };
    let mut kind = match entry_type {
        EntryType::Regular | EntryType::Continuous => EntryKind::File { size: entry.size() },
        EntryType::Directory => EntryKind::Dir,
        EntryType::Symlink => EntryKind::Symlink {
            target: entry
                .link_name_bytes()
                .map(|l| l.into_owned())
                .ok_or(format!("the link {display} has no target"))?,
        },
        EntryType::Link => {
            let raw = entry.link_name_bytes().ok_or(format!("the hard link {display} has no target"))?;
            EntryKind::Hardlink {
                target: clean_path(&raw)?.ok_or(format!("the hard link {display} points at the root"))?,
            }
        }
        EntryType::Char => {
            let (major, minor) = device()?;
            EntryKind::CharDevice { major, minor }
        }
        EntryType::Block => {
            let (major, minor) = device()?;
            EntryKind::BlockDevice { major, minor }
        }
        EntryType::Fifo => EntryKind::Fifo,
        EntryType::XGlobalHeader => return Ok(None),
        other => return Err(format!("the entry {display} has the unsupported type {other:?}")),
    };
    let mut xattrs = std::collections::BTreeMap::new();
    if let Some(records) = entry.pax_extensions().map_err(|e| format!("the PAX header of {display}: {e}"))? {
        for record in records {
            let record = record.map_err(|e| format!("the PAX header of {display}: {e}"))?;
            let Ok(key) = record.key() else { continue };
            let number = || {
                let text = String::from_utf8_lossy(record.value_bytes()).into_owned();
                // PAX times may carry a fraction; whole seconds are what a layer keeps.
                text.split('.').next().unwrap_or("").parse::<u64>().ok()
            };
            match key {
                "uid" => uid = number().unwrap_or(uid),
                "gid" => gid = number().unwrap_or(gid),
                "mtime" => mtime = number().unwrap_or(mtime),
                _ => {
                    if let Some(name) = key.strip_prefix("SCHILY.xattr.")
                        && keep_xattr(name)
                    {
                        xattrs.insert(name.to_owned(), record.value_bytes().to_vec());
                    }
                }
            }
        }
    }
    let (parent, name) = split_parent(&path);
    let mut path = path.clone();
    if name == OPAQUE_MARKER {
        if parent.is_empty() {
            return Err("an opaque marker at the root cannot be applied".to_owned());
        }
        path = parent.to_vec();
        kind = EntryKind::Opaque;
        mode = 0o644;
    } else if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
        if hidden.starts_with(WHITEOUT_PREFIX) || hidden.is_empty() {
            return Err(format!("the whiteout {display} is of a kind OCI layers do not have (AUFS bookkeeping)"));
        }
        path = if parent.is_empty() { hidden.to_vec() } else { [parent, b"/", hidden].concat() };
        kind = EntryKind::Whiteout;
        mode = 0o644;
    }
    Ok(Some(LayerEntry { path, kind, mode, uid, gid, mtime, xattrs }))
}

/// Hard links whose target sorts after them: the first linked path in
/// order takes the content, the others link to it.
fn relink_hardlinks(items: &mut [Spooled]) -> Result<()> {
    let index: HashMap<Vec<u8>, usize> = items
        .iter()
        .enumerate()
        .filter(|(_, item)| !matches!(item.entry.kind, EntryKind::Whiteout | EntryKind::Opaque))
        .map(|(i, item)| (item.entry.path.clone(), i))
        .collect();
    // file index -> indexes of the links to it
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let EntryKind::Hardlink { target } = &item.entry.kind else { continue };
        let mut seen = 0;
        let mut current = target.clone();
        let file = loop {
            let Some(&t) = index.get(&current) else {
                return Err(link_error(&item.entry, "its target is not in the layer"));
            };
            match &items[t].entry.kind {
                EntryKind::File { .. } => break t,
                EntryKind::Hardlink { target } if seen < items.len() => {
                    current = target.clone();
                    seen += 1;
                }
                _ => return Err(link_error(&item.entry, "its target is not a regular file")),
            }
        };
        groups.entry(file).or_default().push(i);
    }
    for (file, links) in groups {
        let holder = links.iter().copied().chain([file]).min().expect("a group has its file");
        let holder_path = items[holder].entry.path.clone();
        if holder != file {
            let file_entry = items[file].entry.clone();
            let content = std::mem::replace(&mut items[file].content, Content::None);
            let holder_item = &mut items[holder];
            holder_item.entry = LayerEntry { path: holder_item.entry.path.clone(), ..file_entry.clone() };
            holder_item.content = content;
            items[file].entry.kind = EntryKind::Hardlink { target: holder_path.clone() };
        }
        for link in links.into_iter().filter(|&l| l != holder) {
            items[link].entry.kind = EntryKind::Hardlink { target: holder_path.clone() };
        }
    }
    Ok(())
}

fn link_error(entry: &LayerEntry, reason: &str) -> Error {
    Error::InvalidEntry {
        path: entry.display_path(),
        reason: format!("it is a hard link and {reason}"),
        help: "add the linked file to the layer too, or add the entry as a copy of the file".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::Compression;

    fn plain(epoch: Option<u64>) -> LayerOptions {
        LayerOptions { epoch, compression: Compression::None, ..LayerOptions::default() }
    }

    fn names(tar: &[u8]) -> Vec<(String, u8, String)> {
        let mut archive = tar::Archive::new(tar);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let link = e.link_name_bytes().map(|l| String::from_utf8_lossy(&l).into_owned()).unwrap_or_default();
                (String::from_utf8_lossy(&e.path_bytes()).into_owned(), e.header().entry_type().as_byte(), link)
            })
            .collect()
    }

    fn spool_and_write(spooler: LayerSpooler, epoch: Option<u64>) -> (Vec<u8>, LayerSummary) {
        let mut writer = LayerWriter::new(Vec::new(), plain(epoch));
        spooler.write_to(&mut writer).unwrap();
        writer.finish().unwrap()
    }

    #[test]
    fn an_ordered_tar_copied_is_the_layer_its_entries_make() {
        let build = || {
            let mut spooler = LayerSpooler::new();
            let binary_name = b"app/caf\xe9".to_vec();
            spooler.add(LayerEntry::file(binary_name, 2, 0o600).owned_by(1001, 0), &mut &b"hi"[..]).unwrap();
            spooler
                .add(LayerEntry::dir("app", 0o775).owned_by(1001, 0).modified_at(1_900_000_000), &mut io::empty())
                .unwrap();
            spooler.add(LayerEntry::whiteout("app/gone"), &mut io::empty()).unwrap();
            spooler.add(LayerEntry::opaque("app/cache"), &mut io::empty()).unwrap();
            spooler.add(LayerEntry::dir("app/cache", 0o755), &mut io::empty()).unwrap();
            spooler.add(LayerEntry::hardlink("app/z", "app/a"), &mut io::empty()).unwrap();
            spooler.add(LayerEntry::file("app/a", 1, 0o644).modified_at(1_900_000_000), &mut &b"a"[..]).unwrap();
            spooler
        };
        // The producer's tar keeps times; the copy clamps them as a spooled layer does.
        let (ordered, _) = spool_and_write(build(), None);
        let (expected, expected_summary) = spool_and_write(build(), Some(1_700_000_000));
        let mut writer = LayerWriter::new(Vec::new(), plain(Some(1_700_000_000)));
        let copied = copy_ordered_tar(&mut &ordered[..], "a test tar", &mut writer).unwrap();
        let (tar, summary) = writer.finish().unwrap();
        assert_eq!(copied, 7);
        assert_eq!(summary.diff_id, expected_summary.diff_id);
        assert_eq!(tar, expected);

        // Out of order is refused, not sorted.
        let mut unordered = tar::Builder::new(Vec::new());
        for name in ["b", "a"] {
            let mut header = tar::Header::new_gnu();
            header.set_size(0);
            header.set_mode(0o644);
            header.set_cksum();
            unordered.append_data(&mut header, name, io::empty()).unwrap();
        }
        let unordered = unordered.into_inner().unwrap();
        let mut writer = LayerWriter::new(Vec::new(), plain(None));
        let refused = copy_ordered_tar(&mut &unordered[..], "a test tar", &mut writer).unwrap_err();
        assert!(matches!(refused, Error::UnsortedEntries { .. }), "{refused:?}");

        // A failure after the archive's end is the copy's failure.
        let failing = ordered.as_slice().chain(Failing);
        let mut writer = LayerWriter::new(Vec::new(), plain(None));
        let failed = copy_ordered_tar(&mut Box::new(failing), "a test tar", &mut writer).unwrap_err();
        assert!(failed.to_string().contains("a test tar"), "{failed}");
    }

    struct Failing;

    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("the producer failed"))
        }
    }

    #[test]
    fn sorts_walk_order_input() {
        let mut spooler = LayerSpooler::new();
        spooler.add(LayerEntry::file("b/2", 1, 0o644), &mut &b"2"[..]).unwrap();
        spooler.add(LayerEntry::file("a", 1, 0o644), &mut &b"a"[..]).unwrap();
        spooler.add(LayerEntry::dir("b", 0o755), &mut io::empty()).unwrap();
        spooler.add(LayerEntry::file("b/1", 1, 0o644), &mut &b"1"[..]).unwrap();
        spooler.add(LayerEntry::whiteout("b/0"), &mut io::empty()).unwrap();
        let (tar, _) = spool_and_write(spooler, None);
        let got: Vec<String> = names(&tar).into_iter().map(|n| n.0).collect();
        assert_eq!(got, ["a", "b/", "b/.wh.0", "b/1", "b/2"]);
        let mut archive = tar::Archive::new(&tar[..]);
        let mut contents = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            contents.push(text);
        }
        assert_eq!(contents, ["a", "", "", "1", "2"]);
    }

    #[test]
    fn later_entry_replaces_earlier() {
        let mut spooler = LayerSpooler::new();
        spooler.add(LayerEntry::file("f", 3, 0o644), &mut &b"old"[..]).unwrap();
        spooler.add(LayerEntry::file("f", 3, 0o600), &mut &b"new"[..]).unwrap();
        let (tar, _) = spool_and_write(spooler, None);
        let mut archive = tar::Archive::new(&tar[..]);
        let mut entry = archive.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(entry.header().mode().unwrap(), 0o600);
        let mut text = String::new();
        entry.read_to_string(&mut text).unwrap();
        assert_eq!(text, "new");
    }

    #[test]
    fn hardlinks_are_rearranged_so_content_comes_first() {
        let mut spooler = LayerSpooler::new();
        spooler.add(LayerEntry::file("z", 4, 0o755), &mut &b"data"[..]).unwrap();
        spooler.add(LayerEntry::hardlink("a", "z"), &mut io::empty()).unwrap();
        spooler.add(LayerEntry::hardlink("m", "z"), &mut io::empty()).unwrap();
        let (tar, _) = spool_and_write(spooler, None);
        assert_eq!(
            names(&tar),
            [("a".into(), b'0', "".into()), ("m".into(), b'1', "a".into()), ("z".into(), b'1', "a".into())]
        );
        let mut dangling = LayerSpooler::new();
        dangling.add(LayerEntry::hardlink("a", "nowhere"), &mut io::empty()).unwrap();
        let mut writer = LayerWriter::new(Vec::new(), plain(None));
        assert!(dangling.write_to(&mut writer).is_err());
    }

    /// A tar as an engine might send it: `./` names, root entry, whiteouts,
    /// GNU long names, times after the epoch.
    fn engine_tar() -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut add = |path: &str, kind: tar::EntryType, data: &[u8], mtime: u64| {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(kind);
            header.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
            header.set_mtime(mtime);
            header.set_size(data.len() as u64);
            header.set_username("builder").unwrap();
            builder.append_data(&mut header, path, data).unwrap();
        };
        add("./", tar::EntryType::Directory, b"", 9_999);
        add("./usr/", tar::EntryType::Directory, b"", 9_999);
        add("./usr/.wh.gone", tar::EntryType::Regular, b"", 9_999);
        add(&format!("./usr/{}", "n".repeat(150)), tar::EntryType::Regular, b"long", 9_999);
        add("./usr/lib/.wh..wh..opq", tar::EntryType::Regular, b"", 9_999);
        add("./tmp/x", tar::EntryType::Regular, b"x", 10);
        builder.into_inner().unwrap()
    }

    #[test]
    fn normalise_rewrites_an_engine_tar() {
        let input = engine_tar();
        let options = plain(Some(1_000));
        let (first, summary) = normalise(&mut &input[..], Vec::new(), options).unwrap();
        let (second, _) = normalise(&mut &input[..], Vec::new(), options).unwrap();
        assert_eq!(first, second);
        assert_eq!(summary.diff_id, crate::digest::Digest::of(&first));
        let got: Vec<String> = names(&first).into_iter().map(|n| n.0).collect();
        assert_eq!(
            got,
            [
                "tmp/".to_owned(),
                "tmp/x".to_owned(),
                "usr/".to_owned(),
                "usr/.wh.gone".to_owned(),
                "usr/lib/".to_owned(),
                "usr/lib/.wh..wh..opq".to_owned(),
                format!("usr/{}", "n".repeat(150)),
            ]
        );
        let mut archive = tar::Archive::new(&first[..]);
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            assert!(entry.header().mtime().unwrap() <= 1_000);
            assert_eq!(entry.header().username_bytes().unwrap_or_default(), b"");
        }
    }

    #[test]
    fn normalise_refuses_escaping_paths() {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_ustar();
        header.set_size(0);
        header.as_ustar_mut().unwrap().name[..7].copy_from_slice(b"../evil");
        header.set_cksum();
        builder.append(&header, &b""[..]).unwrap();
        let input = builder.into_inner().unwrap();
        let err = normalise(&mut &input[..], Vec::new(), plain(None)).unwrap_err();
        assert!(err.to_string().contains("leaves the root"), "{err}");
    }

    #[test]
    fn xattr_policy() {
        assert!(keep_xattr("security.capability"));
        assert!(keep_xattr("user.mime_type"));
        assert!(!keep_xattr("security.selinux"));
        assert!(!keep_xattr("trusted.overlay.opaque"));
        assert!(!keep_xattr("user.overlay.opaque"));
    }
}
