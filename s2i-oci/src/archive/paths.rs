//! Which paths an image holds below some directories, read from an
//! engine's export of it: its layers applied in order, whiteouts included.

use std::collections::{BTreeSet, HashMap};
use std::io::{self, Read};

use super::{DockerManifestEntry, clean, link_target, read_small, read_up_to};
use crate::error::{Error, Result};
use crate::layer::split_parent;
use crate::spec;

/// What one layer does below the directories asked about.
#[derive(Default)]
struct LayerPaths {
    /// Paths it removes with a whiteout, with all below them.
    removed: Vec<Vec<u8>>,
    /// Directories it makes opaque: all below them in lower layers is gone.
    opaque: Vec<Vec<u8>>,
    /// Paths it holds.
    held: Vec<Vec<u8>>,
}

/// The paths (relative, `usr/libexec/s2i/run`) strictly below any of `dirs`
/// (relative) in the image whose export (`docker save`'s layout: layer
/// files named by `manifest.json`) `export` streams, as its filesystem has
/// them once every layer is applied.
pub fn image_paths_below(export: &mut dyn Read, dirs: &[Vec<u8>]) -> Result<BTreeSet<Vec<u8>>> {
    let what = "the export of the base image";
    let invalid = |reason: String| Error::InvalidTar { what: what.to_owned(), reason };
    // Whether `path` is at, below or above one of `dirs`: what a layer may say about them.
    let concerns = |path: &[u8]| dirs.iter().any(|dir| is_within(path, dir) || is_within(dir, path));
    let mut layers: HashMap<String, LayerPaths> = HashMap::new();
    let mut links: HashMap<String, String> = HashMap::new();
    let mut manifest: Option<Vec<DockerManifestEntry>> = None;

    let mut archive = tar::Archive::new(export);
    for entry in archive.entries().map_err(|e| invalid(e.to_string()))? {
        let mut entry = entry.map_err(|e| invalid(e.to_string()))?;
        let name = clean(&String::from_utf8_lossy(&entry.path_bytes()));
        let kind = entry.header().entry_type();
        if let Some(target) = link_target(&entry, &name) {
            links.insert(name, target);
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        if name == "manifest.json" {
            let bytes = read_small(&mut entry, &name).map_err(&invalid)?;
            manifest = Some(spec::from_json(&bytes, "manifest.json of the base image's export")?);
            continue;
        }
        // Layers are tar files, maybe compressed; configs and manifests are JSON, skipped.
        let mut head = [0u8; 2];
        let peeked = read_up_to(&mut entry, &mut head).map_err(|e| invalid(e.to_string()))?;
        if head[..peeked].first().is_some_and(|b| matches!(b, b'{' | b'[')) {
            continue;
        }
        let content = io::Cursor::new(head[..peeked].to_vec()).chain(&mut entry);
        let tar: Box<dyn Read> = if head[..peeked] == [0x1f, 0x8b] {
            Box::new(flate2::read::GzDecoder::new(content))
        } else {
            Box::new(content)
        };
        let mut layer = tar::Archive::new(tar);
        let Ok(items) = layer.entries() else { continue };
        let mut paths = LayerPaths::default();
        for item in items {
            // Not a tar after all (a short text file): nothing to take from it.
            let Ok(item) = item else { break };
            let raw = item.path_bytes();
            let mut path: &[u8] = raw.as_ref();
            path = path.strip_prefix(b"./").unwrap_or(path);
            path = path.strip_suffix(b"/").unwrap_or(path);
            let (parent, base) = split_parent(path);
            if base == b".wh..wh..opq" {
                if concerns(parent) {
                    paths.opaque.push(parent.to_vec());
                }
            } else if let Some(hidden) = base.strip_prefix(b".wh.") {
                let hidden = if parent.is_empty() { hidden.to_vec() } else { [parent, b"/", hidden].concat() };
                if concerns(&hidden) {
                    paths.removed.push(hidden);
                }
            } else if dirs.iter().any(|dir| is_within(path, dir) && path != dir.as_slice()) {
                paths.held.push(path.to_vec());
            }
        }
        layers.insert(name, paths);
    }

    let manifest = manifest.ok_or_else(|| invalid("it holds no manifest.json".to_owned()))?;
    let image = manifest.first().ok_or_else(|| invalid("its manifest.json lists no image".to_owned()))?;
    let mut found: BTreeSet<Vec<u8>> = BTreeSet::new();
    for name in &image.layers {
        let mut name = clean(name);
        for _ in 0..16 {
            match links.get(&name) {
                Some(target) => name = target.clone(),
                None => break,
            }
        }
        // Not taken out: a manifest may list one file twice (two layers with equal content).
        let layer = layers.get(&name).ok_or_else(|| invalid(format!("it does not hold the layer file {name}")))?;
        // A layer's whiteouts hide what the layers under it hold, not its own entries.
        for gone in &layer.removed {
            found.retain(|path| !is_within(path, gone));
        }
        for dir in &layer.opaque {
            found.retain(|path| !(is_within(path, dir) && path != dir));
        }
        found.extend(layer.held.iter().cloned());
    }
    Ok(found)
}

/// Whether `path` is `dir` or below it.
fn is_within(path: &[u8], dir: &[u8]) -> bool {
    path == dir || (path.len() > dir.len() && path.starts_with(dir) && path[dir.len()] == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, content) in entries {
            let mut header = tar::Header::new_gnu();
            let kind = if name.ends_with('/') { tar::EntryType::Directory } else { tar::EntryType::Regular };
            header.set_entry_type(kind);
            header.set_mode(0o644);
            header.set_size(content.len() as u64);
            builder.append_data(&mut header, name, *content).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn layers_apply_in_the_manifest_order_with_their_whiteouts() {
        // The files come in another order than the manifest's, as engines write them.
        let upper = tar_of(&[("srv/www/.wh.old", b""), ("srv/www/b", b"b"), ("srv/data/.wh..wh..opq", b"")]);
        let lower = tar_of(&[
            ("srv/", b""),
            ("srv/www/", b""),
            ("srv/www/old", b"o"),
            ("srv/www/a", b"a"),
            ("srv/data/", b""),
            ("srv/data/x", b"x"),
            ("bin/sh", b"s"),
        ]);
        let manifest = br#"[{"Config":"c.json","RepoTags":null,"Layers":["2/layer.tar","1/layer.tar","1/layer.tar"]}]"#;
        let export =
            tar_of(&[("1/layer.tar", &upper), ("2/layer.tar", &lower), ("c.json", b"{}"), ("manifest.json", manifest)]);
        let found = image_paths_below(&mut &export[..], &[b"srv/www".to_vec(), b"srv/data".to_vec()]).unwrap();
        let found: Vec<String> = found.iter().map(|p| String::from_utf8_lossy(p).into_owned()).collect();
        assert_eq!(found, ["srv/www/a", "srv/www/b"]);
    }

    #[test]
    fn an_export_without_a_manifest_is_refused() {
        let export = tar_of(&[("1/layer.tar", &tar_of(&[("srv/x", b"")]))]);
        let err = image_paths_below(&mut &export[..], &[b"srv".to_vec()]).unwrap_err();
        assert!(err.to_string().contains("manifest.json"), "{err}");
    }
}
