//! Getting the application source: a local directory is read in place; a git
//! repository (local, `file://`, `https://`, `ssh://` or `user@host:path`) is
//! cloned into the build's working directory (see [`crate::git`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::events::{EventSink, EventSinkExt};
use crate::git::{self, CloneRequest, GitClient, GitCredentials};
use crate::labels::SourceInfo;

/// A parsed source argument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SourceLocation {
    /// A path on this machine (also `file:///path`).
    Local {
        /// The path.
        path: PathBuf,
        /// `#fragment`: a git ref.
        fragment: Option<String>,
    },
    /// A remote git URL (`https://`, `ssh://`, `git://`, or scp-like `user@host:path`).
    Remote {
        /// The URL without its fragment.
        url: String,
        /// `#fragment`: a git ref.
        fragment: Option<String>,
    },
}

impl SourceLocation {
    /// Parse a source argument as the reference does: a URL with a scheme,
    /// an scp-like `[user@]host:path`, or else a local path; `#ref` is split off.
    pub fn parse(input: &str) -> Result<Self> {
        if input.trim().is_empty() {
            return Err(Error::option("source", "the source is empty", "pass a directory or a git URL"));
        }
        let (body, fragment) = match input.rsplit_once('#') {
            Some((body, fragment)) => (body, (!fragment.is_empty()).then(|| fragment.to_owned())),
            None => (input, None),
        };
        if let Some(rest) = body.strip_prefix("file://") {
            if !rest.is_empty() && !rest.starts_with('/') {
                let host = rest.split('/').next().unwrap_or_default();
                return Err(Error::option(
                    "source",
                    format!("file url {input:?} has non-empty host {host:?}"),
                    "write file:///absolute/path (three slashes), or pass the path itself",
                ));
            }
            return Ok(SourceLocation::Local {
                path: PathBuf::from(if rest.is_empty() { "/" } else { rest }),
                fragment,
            });
        }
        if let Some((scheme, _)) = body.split_once("://") {
            let valid_scheme = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
            if valid_scheme {
                return Ok(SourceLocation::Remote { url: body.to_owned(), fragment });
            }
        }
        if is_scp_like(body) {
            return Ok(SourceLocation::Remote { url: body.to_owned(), fragment });
        }
        Ok(SourceLocation::Local { path: PathBuf::from(body), fragment })
    }

    /// The `#ref` of the source argument, if any.
    pub fn fragment(&self) -> Option<&str> {
        match self {
            SourceLocation::Local { fragment, .. } | SourceLocation::Remote { fragment, .. } => fragment.as_deref(),
        }
    }
}

/// `[user@]host:path` where the host part has no `/`.
fn is_scp_like(s: &str) -> bool {
    let Some((host, path)) = s.split_once(':') else { return false };
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    !host.is_empty() && !host.contains('/') && !path.is_empty() && !path.starts_with("//") && host.len() > 1
}

/// How the source is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// A directory read in place, as it is on disk (uncommitted files included).
    Directory,
    /// A fresh clone of a git repository at the requested ref.
    GitClone,
}

/// Options for getting the source.
#[derive(Debug, Clone, Default)]
pub struct SourceOptions {
    /// Credentials for cloning, besides what git finds itself (never shown).
    pub credentials: Option<GitCredentials>,
    /// Which git implementation clones.
    pub git_client: GitClient,
    /// `--ref`: overrides the `#fragment`.
    pub git_ref: Option<String>,
    /// `--context-dir`: a sub-directory used as the source root.
    pub context_dir: Option<String>,
    /// `--copy`: read a local git working copy as a plain directory.
    pub copy: bool,
    /// `--ignore-submodules`.
    pub ignore_submodules: bool,
    /// `--keep-symlinks`: store links as links when reading a directory.
    pub keep_symlinks: bool,
}

/// The source, ready to be streamed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PreparedSource {
    /// The directory whose contents become `src/`.
    pub root: PathBuf,
    /// How the source was obtained.
    pub kind: SourceKind,
    /// Provenance for the labels.
    pub info: SourceInfo,
    /// Whether symlinks are followed when streaming.
    pub follow_symlinks: bool,
}

/// Decide how a source is read, without touching the network.
pub fn source_kind(location: &SourceLocation, options: &SourceOptions) -> Result<SourceKind> {
    match location {
        SourceLocation::Remote { .. } => Ok(SourceKind::GitClone),
        SourceLocation::Local { path, .. } => {
            let meta = std::fs::metadata(path).map_err(|e| Error::SourceUnreadable {
                path: path.clone(),
                message: e.to_string(),
                help: "pass an existing directory or a git URL as the source".into(),
            })?;
            if !meta.is_dir() {
                return Err(Error::SourceUnreadable {
                    path: path.clone(),
                    message: "not a directory".into(),
                    help: "pass the directory that holds the application source".into(),
                });
            }
            if options.copy || !is_git_repository(path) {
                return Ok(SourceKind::Directory);
            }
            Ok(SourceKind::GitClone)
        }
    }
}

/// A working copy (its `.git` a repository, or a `gitdir:` file naming one) or
/// a bare repository, by the rules git itself uses to recognise one.
fn is_git_repository(path: &Path) -> bool {
    let dot_git = path.join(".git");
    if dot_git.is_dir() {
        return is_git_directory(&dot_git);
    }
    if let Ok(text) = std::fs::read_to_string(&dot_git)
        && let Some(dir) = text.lines().next().and_then(|l| l.strip_prefix("gitdir:"))
    {
        return is_git_directory(&path.join(dir.trim()));
    }
    is_git_directory(path)
}

/// `HEAD` (a symbolic ref or a commit ID), `objects/` and `refs/` — or, for a
/// linked worktree, a `commondir` instead of the last two.
fn is_git_directory(dir: &Path) -> bool {
    let Ok(head) = std::fs::read_to_string(dir.join("HEAD")) else { return false };
    let head = head.trim();
    let valid_head =
        head.starts_with("ref: refs/") || (head.len() >= 40 && head.chars().all(|c| c.is_ascii_hexdigit()));
    valid_head && (dir.join("commondir").is_file() || (dir.join("objects").is_dir() && dir.join("refs").is_dir()))
}

/// Get the source: check a local directory, or clone a repository into `workdir`.
/// `cancelled` stops a clone in progress; `progress` receives clone progress lines.
pub fn prepare_source(
    location: &SourceLocation,
    options: &SourceOptions,
    workdir: &Path,
    cancelled: &AtomicBool,
    progress: &(dyn Fn(String) + Sync),
) -> Result<PreparedSource> {
    let kind = source_kind(location, options)?;
    let git_ref = options.git_ref.clone().or_else(|| location.fragment().map(str::to_owned));
    let (base, mut info) = match (kind, location) {
        (SourceKind::Directory, SourceLocation::Local { path, .. }) => {
            if git_ref.is_some() && !options.copy {
                return Err(Error::option(
                    "--ref",
                    format!("{} is not a git repository, so a ref cannot be checked out", path.display()),
                    "drop --ref (and any #ref in the source), or pass a git repository",
                ));
            }
            (path.clone(), SourceInfo { location: path.display().to_string(), ..Default::default() })
        }
        (_, _) => {
            let (url, local) = match location {
                SourceLocation::Local { path, .. } => (absolute(path).display().to_string(), true),
                SourceLocation::Remote { url, .. } => (url.clone(), false),
            };
            let target = workdir.join("source");
            let request = CloneRequest {
                url: &url,
                local,
                target: &target,
                workdir,
                git_ref: git_ref.as_deref(),
                submodules: !options.ignore_submodules,
                credentials: options.credentials.as_ref(),
                client: options.git_client,
            };
            let info = git::clone(&request, cancelled, progress)?;
            (target, info)
        }
    };
    let root = match options.context_dir.as_deref().filter(|d| !d.is_empty() && *d != ".") {
        Some(dir) => {
            let rel = Path::new(dir.trim_start_matches('/'));
            if rel.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
                return Err(Error::option(
                    "--context-dir",
                    format!("{dir:?} leaves the source tree"),
                    "give a sub-directory of the source, without '..'",
                ));
            }
            let root = base.join(rel);
            if !root.is_dir() {
                return Err(Error::option(
                    "--context-dir",
                    format!("{dir:?} is not a directory of the source"),
                    "give a sub-directory that exists in the source (at the requested ref)",
                ));
            }
            info.context_dir = dir.to_owned();
            root
        }
        None => base,
    };
    Ok(PreparedSource { root, kind, info, follow_symlinks: kind == SourceKind::Directory && !options.keep_symlinks })
}

/// Where a path below the source root leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SourceFile {
    /// A regular file inside the source tree (links followed).
    Inside,
    /// Somewhere outside the source tree, through a symlink: never read.
    Outside(PathBuf),
    /// Nothing, or not a regular file.
    Absent,
}

/// Whether `path`, below `root`, is a regular file that resolves inside
/// `root`. The build reads files of the source by name (`.s2iignore`,
/// `.s2i/environment`, `.s2i/bin/*`); a symlink there that leads out of the
/// source must not bring a file of the host into the build.
pub(crate) fn source_file(root: &Path, path: &Path) -> SourceFile {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {}
        _ => return SourceFile::Absent,
    }
    match (std::fs::canonicalize(root), std::fs::canonicalize(path)) {
        (Ok(real_root), Ok(real)) if real.starts_with(&real_root) => SourceFile::Inside,
        (_, Ok(real)) => SourceFile::Outside(real),
        (_, Err(_)) => SourceFile::Absent,
    }
}

/// [`source_file`] for the engine: `true` for a file to read; a file outside
/// the source is reported as a warning and not read.
pub(crate) fn readable_source_file(root: &Path, path: &Path, events: &dyn EventSink) -> bool {
    match source_file(root, path) {
        SourceFile::Inside => true,
        SourceFile::Outside(real) => {
            let rel = path.strip_prefix(root).unwrap_or(path);
            events.warn(format!(
                "Not reading {}: it is a symlink that points outside the source ({})",
                rel.display(),
                real.display()
            ));
            false
        }
        SourceFile::Absent => false,
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_source_arguments() {
        let local = |p: &str, f: Option<&str>| SourceLocation::Local { path: p.into(), fragment: f.map(Into::into) };
        let remote = |u: &str, f: Option<&str>| SourceLocation::Remote { url: u.into(), fragment: f.map(Into::into) };
        assert_eq!(SourceLocation::parse("./app").unwrap(), local("./app", None));
        assert_eq!(SourceLocation::parse("/srv/app#v1").unwrap(), local("/srv/app", Some("v1")));
        assert_eq!(SourceLocation::parse("file:///srv/repo#main").unwrap(), local("/srv/repo", Some("main")));
        assert_eq!(
            SourceLocation::parse("https://example.com/a.git#dev").unwrap(),
            remote("https://example.com/a.git", Some("dev"))
        );
        assert_eq!(
            SourceLocation::parse("git@example.com:org/app.git").unwrap(),
            remote("git@example.com:org/app.git", None)
        );
        assert_eq!(
            SourceLocation::parse("ssh://git@example.com/app").unwrap(),
            remote("ssh://git@example.com/app", None)
        );
        assert!(SourceLocation::parse("file://relative/path").is_err());
        assert!(SourceLocation::parse("").is_err());
    }

    fn commit_file(repo: &git2::Repository, path: &str, content: &str, message: &str) -> git2::Oid {
        let workdir = repo.workdir().unwrap();
        let full = workdir.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, content).unwrap();
        let mut index = repo.index().unwrap();
        index.add_path(Path::new(path)).unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::new("Ada", "ada@example.com", &git2::Time::new(1_700_000_000, 0)).unwrap();
        let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents).unwrap()
    }

    fn no_progress(_: String) {}

    /// Every implementation this build of s2i-core has.
    fn clients() -> Vec<GitClient> {
        vec![
            GitClient::Program,
            #[cfg(feature = "git2")]
            GitClient::Libgit2,
        ]
    }

    #[test]
    fn clones_local_repositories_at_a_ref_with_context_dir() {
        let origin = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(origin.path()).unwrap();
        let first = commit_file(&repo, "app/index.html", "v1", "First version");
        repo.tag_lightweight("v1", &repo.find_object(first, None).unwrap(), false).unwrap();
        let second = commit_file(&repo, "app/index.html", "v2", "Second version");
        repo.branch("feature", &repo.find_commit(second).unwrap(), false).unwrap();
        commit_file(&repo, "app/index.html", "v3", "Third version");
        std::fs::write(origin.path().join("uncommitted.txt"), "dirty").unwrap();
        let location = SourceLocation::parse(&origin.path().display().to_string()).unwrap();

        for client in clients() {
            let work = tempfile::tempdir().unwrap();
            let options = SourceOptions {
                git_ref: Some("v1".into()),
                context_dir: Some("app".into()),
                git_client: client,
                ..Default::default()
            };
            let prepared =
                prepare_source(&location, &options, work.path(), &AtomicBool::new(false), &no_progress).unwrap();
            assert_eq!(prepared.kind, SourceKind::GitClone);
            assert_eq!(std::fs::read_to_string(prepared.root.join("index.html")).unwrap(), "v1", "{client:?}");
            assert!(!prepared.root.join("../uncommitted.txt").exists());
            assert_eq!(prepared.info.commit_id, first.to_string());
            assert_eq!(prepared.info.git_ref, "HEAD");
            assert_eq!(prepared.info.author, "Ada <ada@example.com>");
            assert_eq!(prepared.info.date, "Tue Nov 14 22:13:20 2023 +0000");
            assert_eq!(prepared.info.commit_time, Some(1_700_000_000), "the committer's time, for the epoch");
            assert_eq!(prepared.info.message, "First version");
            assert_eq!(prepared.info.context_dir, "app");
            assert_eq!(prepared.info.location, origin.path().display().to_string());
            assert!(!prepared.follow_symlinks);

            // A branch is checked out as that branch; commits, full or not, detached.
            for (git_ref, content, label) in [
                ("feature", "v2", "feature"),
                (second.to_string().as_str(), "v2", "HEAD"),
                (&second.to_string()[..10], "v2", "HEAD"),
            ] {
                let work = tempfile::tempdir().unwrap();
                let options = SourceOptions { git_ref: Some(git_ref.into()), git_client: client, ..Default::default() };
                let prepared =
                    prepare_source(&location, &options, work.path(), &AtomicBool::new(false), &no_progress).unwrap();
                let text = std::fs::read_to_string(prepared.root.join("app/index.html")).unwrap();
                assert_eq!((text.as_str(), prepared.info.git_ref.as_str()), (content, label), "{client:?} {git_ref}");
            }
        }

        let work = tempfile::tempdir().unwrap();
        let copy = SourceOptions { copy: true, ..Default::default() };
        let prepared = prepare_source(&location, &copy, work.path(), &AtomicBool::new(false), &no_progress).unwrap();
        assert_eq!(prepared.kind, SourceKind::Directory);
        assert!(prepared.root.join("uncommitted.txt").exists());
    }

    #[test]
    fn git_repositories_are_recognised_as_git_does() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join(".git/HEAD"), "not a repository").unwrap();
        assert!(!is_git_repository(dir.path()), "a .git that is not a repository");
        let repo = tempfile::tempdir().unwrap();
        git2::Repository::init(repo.path()).unwrap();
        assert!(is_git_repository(repo.path()));
        let bare = tempfile::tempdir().unwrap();
        git2::Repository::init_bare(bare.path()).unwrap();
        assert!(is_git_repository(bare.path()));
        let linked = tempfile::tempdir().unwrap();
        std::fs::write(linked.path().join(".git"), format!("gitdir: {}\n", repo.path().join(".git").display()))
            .unwrap();
        assert!(is_git_repository(linked.path()), "a gitdir: file");
    }

    #[test]
    fn empty_repositories_and_bad_refs_are_errors() {
        let origin = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(origin.path()).unwrap();
        let work = tempfile::tempdir().unwrap();
        let location = SourceLocation::parse(&origin.path().display().to_string()).unwrap();
        let err =
            prepare_source(&location, &SourceOptions::default(), work.path(), &AtomicBool::new(false), &no_progress)
                .unwrap_err();
        assert_eq!(err.exit_code(), 16, "{err}");

        commit_file(&repo, "a", "a", "init");
        for client in clients() {
            let options = SourceOptions { git_ref: Some("nope".into()), git_client: client, ..Default::default() };
            let work = tempfile::tempdir().unwrap();
            let err =
                prepare_source(&location, &options, work.path(), &AtomicBool::new(false), &no_progress).unwrap_err();
            assert!(err.to_string().contains("nope"), "{client:?}: {err}");
        }
    }

    #[test]
    fn unreachable_remotes_fail_clearly() {
        let work = tempfile::tempdir().unwrap();
        let location = SourceLocation::parse("https://127.0.0.1:9/nothing.git").unwrap();
        let err =
            prepare_source(&location, &SourceOptions::default(), work.path(), &AtomicBool::new(false), &no_progress)
                .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("cannot clone https://127.0.0.1:9/nothing.git"), "{text}");
    }
}
