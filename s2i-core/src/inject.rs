//! `--inject SRC:DST`: host files placed in the build container for assemble
//! only. They are uploaded before the container starts, and removed (with
//! the directories made for them) by the container itself right after
//! assemble, so the committed layer holds no trace of them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::runtime::ContainerRuntime;
use crate::scripts::{clean_unix, join_unix};

/// Where the script that checks (`check`) and removes (`remove`) the injected
/// files is uploaded; removing deletes the script too.
pub const REMOVAL_SCRIPT: &str = "/tmp/.s2i-injections";
/// Exit code of the build container when the injected files could not be removed.
pub const REMOVAL_FAILED_EXIT: i64 = 97;
/// What the container prints when the injected files could not be removed.
pub const REMOVAL_FAILED_MARKER: &str = "s2i: the injected files could not be removed";

/// A host path copied into the build container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Injection {
    /// File or directory on the host.
    pub source: PathBuf,
    /// Path in the container; relative paths are relative to the image's `WORKDIR`.
    pub destination: String,
    /// Leave the files in the image instead of removing them after assemble
    /// (as OpenShift does with a build's ConfigMaps); existing files of the
    /// image are then overwritten.
    #[serde(default)]
    pub keep: bool,
}

/// Characters the reference refuses in mapping paths.
const INVALID_CHARS: &str = ";*?\"<>|%#$!+{}&[],'`";

/// Parse `SRC:DST` mappings, `;`-separated, split at the last `:`; quotes are
/// stripped and paths cleaned. Shared by `--inject` and `--runtime-artifact`.
pub(crate) fn parse_mappings(option: &str, value: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for spec in value.split(';') {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err(Error::option(
                option,
                "invalid format, must be source:destination",
                "write SRC:DST, e.g. ./secrets:/etc/secrets",
            ));
        }
        let (source, destination) = match spec.rsplit_once(':') {
            Some((s, d)) => (s, d),
            None => (spec, ""),
        };
        let unquote = |s: &str| s.trim().trim_matches(|c| c == '"' || c == '\'').to_owned();
        let (source, destination) = (unquote(source), unquote(destination));
        for part in [&source, &destination] {
            if part.chars().any(|c| INVALID_CHARS.contains(c)) {
                return Err(Error::option(
                    option,
                    format!("invalid characters in filename: {spec:?}"),
                    format!("paths may not contain any of {INVALID_CHARS}"),
                ));
            }
        }
        let clean = |s: &str| if s.is_empty() { ".".to_owned() } else { clean_unix(s) };
        out.push((clean(&source), clean(&destination)));
    }
    Ok(out)
}

/// Parse an `--inject` value.
pub fn parse_injections(value: &str) -> Result<Vec<Injection>> {
    Ok(parse_mappings("--inject", value)?
        .into_iter()
        .map(|(source, destination)| Injection { source: PathBuf::from(source), destination, keep: false })
        .collect())
}

/// Check injection sources on the host and make destinations absolute.
pub(crate) fn resolve(injections: &[Injection], base_dir: &Path, workdir: &str) -> Result<Vec<Injection>> {
    let workdir = if workdir.is_empty() { "/" } else { workdir };
    injections
        .iter()
        .map(|inj| {
            let source = base_dir.join(&inj.source);
            std::fs::metadata(&source).map_err(|e| {
                Error::io("read the injection source", &source, "give an existing file or directory to --inject", e)
            })?;
            let destination =
                if inj.destination == "." { workdir.to_owned() } else { join_unix(workdir, &inj.destination) };
            if destination == "/" {
                return Err(Error::option(
                    "--inject",
                    format!("{} would be injected as / itself", source.display()),
                    "give a destination directory or file, e.g. /etc/secrets",
                ));
            }
            Ok(Injection { source, destination, keep: inj.keep })
        })
        .collect()
}

/// What to upload for the injections, and the script that removes it again.
pub(crate) struct InjectionUpload {
    /// Directories to create, outermost first (paths without the leading `/`).
    pub(crate) new_dirs: Vec<String>,
    /// Files: container path (without `/`) and host path.
    pub(crate) files: Vec<(String, PathBuf)>,
    /// The removal script's text.
    pub(crate) removal_script: String,
    /// What the symlinks among the injected paths lead to, for the user.
    pub(crate) notes: Vec<String>,
}

/// Work out what to upload: every file of every injection, the directories
/// that do not exist in the container yet, and a script that removes both.
/// A file that already exists in the image is refused: removing it afterwards
/// would take it out of the output image.
pub(crate) async fn plan_upload(
    runtime: &dyn ContainerRuntime,
    container: &str,
    injections: &[Injection],
) -> Result<InjectionUpload> {
    let stat = |path: String| async move {
        runtime
            .stat_path(container, &path)
            .await
            .map_err(|e| Error::runtime(format!("look at {path} in the build container"), e))
    };
    let mut new_dirs: BTreeSet<String> = BTreeSet::new();
    let mut files = Vec::new();
    let mut notes = Vec::new();
    for inj in injections.iter().filter(|inj| !inj.keep) {
        let dest = clean_unix(&inj.destination);
        // Ancestors of the destination that are missing get created.
        let mut missing = Vec::new();
        let mut parent = parent_of(&dest);
        while parent != "/" {
            if new_dirs.contains(&parent) || stat(parent.clone()).await?.is_none() {
                missing.push(parent.clone());
                parent = parent_of(&parent);
            } else {
                break;
            }
        }
        new_dirs.extend(missing);
        note_link(&inj.source, &inj.source, "", &mut notes);
        let meta = std::fs::metadata(&inj.source).map_err(|e| {
            Error::io("read the injection source", &inj.source, "give an existing file or directory", e)
        })?;
        if meta.is_file() {
            if let Some(existing) = stat(dest.clone()).await? {
                return Err(refuse(&dest, existing.is_dir));
            }
            files.push((dest, inj.source.clone()));
            continue;
        }
        let top_exists = match stat(dest.clone()).await? {
            Some(existing) if !existing.is_dir => return Err(refuse(&dest, false)),
            Some(_) => true,
            None => false,
        };
        if !top_exists {
            new_dirs.insert(dest.clone());
        }
        for (rel, is_dir, host) in walk(&inj.source, &mut notes)? {
            let path = join_unix(&dest, &rel);
            let existing = if top_exists { stat(path.clone()).await? } else { None };
            match (is_dir, existing) {
                (true, Some(e)) if e.is_dir => {}
                (true, Some(_)) => return Err(refuse(&path, false)),
                (true, None) => {
                    new_dirs.insert(path);
                }
                (false, Some(e)) => return Err(refuse(&path, e.is_dir)),
                (false, None) => files.push((path, host)),
            }
        }
    }
    // Entries are removed from these existing directories, so the assemble user must be able to write them.
    let mut parents: BTreeSet<String> = BTreeSet::new();
    for path in files.iter().map(|(p, _)| p).chain(new_dirs.iter()) {
        let parent = parent_of(path);
        if !new_dirs.contains(&parent) {
            parents.insert(parent);
        }
    }
    let quote = crate::exec::sh_quote;
    let mut script = String::from(
        "#!/bin/sh\n# Written by s2i: checks and removes what was injected for assemble.\ncase \"$1\" in\ncheck)\n",
    );
    for parent in &parents {
        script.push_str(&format!(
            "  if [ ! -w {p} ]; then echo \"s2i: {d} is not writable by user $(id -u), so the files injected into it could not be removed after assemble\" >&2; exit 1; fi\n",
            p = quote(parent),
            d = parent.replace(['"', '$', '`', '\\'], "_"),
        ));
    }
    script.push_str("  ;;\nremove)\n  set -e\n");
    for (path, _) in &files {
        script.push_str(&format!("  rm -f -- {}\n", quote(path)));
    }
    // Deepest first, so each directory is empty when it goes.
    let mut dirs: Vec<&String> = new_dirs.iter().collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.matches('/').count()));
    for dir in dirs {
        script.push_str(&format!("  rmdir -- {}\n", quote(dir)));
    }
    script.push_str("  rm -f -- \"$0\"\n  ;;\nesac\n");
    // Kept injections are uploaded the same way, and left out of the script.
    for inj in injections.iter().filter(|inj| inj.keep) {
        let dest = clean_unix(&inj.destination);
        let mut parent = parent_of(&dest);
        while parent != "/" && !new_dirs.contains(&parent) && stat(parent.clone()).await?.is_none() {
            new_dirs.insert(parent.clone());
            parent = parent_of(&parent);
        }
        let meta = std::fs::metadata(&inj.source).map_err(|e| {
            Error::io("read the injection source", &inj.source, "give an existing file or directory", e)
        })?;
        if meta.is_file() {
            files.push((dest, inj.source.clone()));
            continue;
        }
        if stat(dest.clone()).await?.is_none() {
            new_dirs.insert(dest.clone());
        }
        for (rel, is_dir, host) in walk(&inj.source, &mut notes)? {
            let path = join_unix(&dest, &rel);
            if is_dir {
                new_dirs.insert(path);
            } else {
                files.push((path, host));
            }
        }
    }
    Ok(InjectionUpload {
        new_dirs: new_dirs.into_iter().map(|d| d.trim_start_matches('/').to_owned()).collect(),
        files: files.into_iter().map(|(p, h)| (p.trim_start_matches('/').to_owned(), h)).collect(),
        removal_script: script,
        notes,
    })
}

fn refuse(path: &str, is_dir: bool) -> Error {
    let what = if is_dir { "a directory" } else { "a file" };
    Error::option(
        "--inject",
        format!("{path} is already {what} in the builder image"),
        "inject to a path that does not exist in the image: removing the injected file afterwards would remove the image's own",
    )
}

fn parent_of(path: &str) -> String {
    match path.rsplit_once('/') {
        Some(("", _)) | None => "/".to_owned(),
        Some((parent, _)) => parent.to_owned(),
    }
}

/// Every entry below `root`, sorted, symlinks followed: (relative path, is
/// directory, host path). Each symlink met is described in `notes`.
fn walk(root: &Path, notes: &mut Vec<String>) -> Result<Vec<(String, bool, PathBuf)>> {
    fn visit(
        root: &Path,
        dir: &Path,
        rel: &str,
        out: &mut Vec<(String, bool, PathBuf)>,
        notes: &mut Vec<String>,
    ) -> Result<()> {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .and_then(|entries| entries.map(|e| e.map(|e| e.file_name())).collect::<std::io::Result<Vec<_>>>())
            .map_err(|e| Error::io("read the injection source", dir, "make it readable", e))?;
        names.sort();
        for name in names {
            // The host path keeps the name's bytes; the container path is its text.
            let host = dir.join(&name);
            let name = name.to_string_lossy();
            let child_rel = if rel.is_empty() { name.into_owned() } else { format!("{rel}/{name}") };
            note_link(root, &host, &child_rel, notes);
            let meta = std::fs::metadata(&host)
                .map_err(|e| Error::io("read the injection source", &host, "fix or remove the broken link", e))?;
            out.push((child_rel.clone(), meta.is_dir(), host.clone()));
            if meta.is_dir() {
                visit(root, &host, &child_rel, out, notes)?;
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    visit(root, root, "", &mut out, notes)?;
    Ok(out)
}

/// When `host` is a symlink, say where it leads: an injection copies what
/// links point at, wherever that is, so the user should see what goes in.
fn note_link(root: &Path, host: &Path, rel: &str, notes: &mut Vec<String>) {
    let is_link = std::fs::symlink_metadata(host).is_ok_and(|m| m.file_type().is_symlink());
    if !is_link {
        return;
    }
    let resolved = std::fs::canonicalize(host).map_or_else(|e| format!("nothing ({e})"), |p| p.display().to_string());
    let what = if rel.is_empty() { String::new() } else { format!(": {rel}") };
    notes.push(format!("Injecting {}{what} is a symlink to {resolved}", root.display()));
}

/// The numeric uid and gid of `user` (`name`, `uid`, `name:group`, `uid:gid`),
/// looked up in the image's `/etc/passwd` and `/etc/group` texts when named.
pub(crate) fn resolve_owner(user: &str, passwd: Option<&str>, group: Option<&str>) -> Option<(u64, u64)> {
    let (user_part, group_part) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let lookup = |text: Option<&str>, name: &str, field: usize| -> Option<(u64, Option<u64>)> {
        text?.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&name)).then(|| {
                let id = fields.get(field)?.parse().ok()?;
                Some((id, fields.get(3).and_then(|g| g.parse().ok())))
            })?
        })
    };
    let (uid, primary_gid) = match user_part.parse::<u64>() {
        Ok(uid) => (
            uid,
            passwd.and_then(|p| {
                p.lines().find_map(|line| {
                    let f: Vec<&str> = line.split(':').collect();
                    (f.get(2).and_then(|u| u.parse::<u64>().ok()) == Some(uid)).then(|| f.get(3)?.parse().ok())?
                })
            }),
        ),
        Err(_) if user_part.is_empty() => (0, Some(0)),
        Err(_) => {
            let (uid, gid) = lookup(passwd, user_part, 2)?;
            (uid, gid)
        }
    };
    let gid = match group_part {
        Some(g) => match g.parse::<u64>() {
            Ok(gid) => gid,
            Err(_) => lookup(group, g, 2)?.0,
        },
        None => primary_gid.unwrap_or(0),
    };
    Some((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_parse_like_the_reference() {
        assert_eq!(parse_mappings("-i", "/a/b:/c").unwrap(), vec![("/a/b".to_owned(), "/c".to_owned())]);
        assert_eq!(
            parse_mappings("-i", "'./x/':/y/;z").unwrap(),
            vec![("x".to_owned(), "/y".to_owned()), ("z".to_owned(), ".".to_owned())]
        );
        assert_eq!(parse_mappings("-i", "c:/data:dst").unwrap(), vec![("c:/data".to_owned(), "dst".to_owned())]);
        let err = parse_mappings("-i", "/a*:/b").unwrap_err().to_string();
        assert!(err.contains("invalid characters in filename"), "{err}");
        assert!(parse_mappings("-i", "a:b;;c:d").unwrap_err().to_string().contains("must be source:destination"));
    }

    #[test]
    fn destinations_resolve_against_the_workdir() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), "x").unwrap();
        let inj = |d: &str| Injection { source: "f".into(), destination: d.into(), keep: false };
        let got = resolve(&[inj("."), inj("sub/f"), inj("/abs")], dir.path(), "/opt/app").unwrap();
        let dests: Vec<&str> = got.iter().map(|i| i.destination.as_str()).collect();
        assert_eq!(dests, ["/opt/app", "/opt/app/sub/f", "/abs"]);
        assert!(resolve(&[inj(".")], dir.path(), "").is_err(), "injecting as / is refused");
        let missing = Injection { source: "nope".into(), destination: "/x".into(), keep: false };
        assert!(resolve(&[missing], dir.path(), "/").is_err());
    }

    #[test]
    fn injected_symlinks_are_described_and_byte_names_found() {
        use std::os::unix::ffi::OsStrExt;
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("key"), "k").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path().join("key"), dir.path().join("key")).unwrap();
        std::fs::write(dir.path().join(std::ffi::OsStr::from_bytes(b"caf\xe9")), "c").unwrap();
        let mut notes = Vec::new();
        let entries = walk(dir.path(), &mut notes).unwrap();
        let real = std::fs::canonicalize(outside.path().join("key")).unwrap();
        assert_eq!(notes, [format!("Injecting {}: key is a symlink to {}", dir.path().display(), real.display())]);
        assert_eq!(entries.len(), 2);
        assert!(entries.iter().all(|(_, _, host)| host.exists()), "host paths keep the bytes of the names");
    }

    #[test]
    fn owners_resolve_from_passwd_and_group() {
        let passwd = "root:x:0:0::/root:/bin/sh\ndefault:x:1001:0::/opt:/bin/sh\nbuilder:x:1002:1005::/:/bin/sh\n";
        let group = "root:x:0:\nstaff:x:50:\n";
        assert_eq!(resolve_owner("", Some(passwd), Some(group)), Some((0, 0)));
        assert_eq!(resolve_owner("1001", Some(passwd), Some(group)), Some((1001, 0)));
        assert_eq!(resolve_owner("4000", Some(passwd), Some(group)), Some((4000, 0)));
        assert_eq!(resolve_owner("builder", Some(passwd), Some(group)), Some((1002, 1005)));
        assert_eq!(resolve_owner("builder:staff", Some(passwd), Some(group)), Some((1002, 50)));
        assert_eq!(resolve_owner("1001:7", None, None), Some((1001, 7)));
        assert_eq!(resolve_owner("ghost", Some(passwd), Some(group)), None);
    }
}
