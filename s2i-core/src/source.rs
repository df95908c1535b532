//! Getting the application source: a local directory is read in place; a git
//! repository (local, `file://`, `https://`, `ssh://` or `user@host:path`) is
//! cloned with libgit2 into the build's working directory.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::events::{EventSink, EventSinkExt};
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
            if options.copy || !looks_like_git_repository(path) {
                return Ok(SourceKind::Directory);
            }
            // Confirm with libgit2 only now: initialising it costs tens of milliseconds.
            match git2::Repository::open_ext(path, git2::RepositoryOpenFlags::NO_SEARCH, [] as [&Path; 0]) {
                Ok(_) => Ok(SourceKind::GitClone),
                Err(_) => Ok(SourceKind::Directory),
            }
        }
    }
}

/// A working copy (`.git` directory or file) or a bare repository (`HEAD`, `objects/`, `refs/`).
fn looks_like_git_repository(path: &Path) -> bool {
    path.join(".git").exists()
        || (path.join("HEAD").is_file() && path.join("objects").is_dir() && path.join("refs").is_dir())
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
            let url = match location {
                SourceLocation::Local { path, .. } => absolute(path).display().to_string(),
                SourceLocation::Remote { url, .. } => url.clone(),
            };
            let target = workdir.join("source");
            let info = clone(&url, &target, git_ref.as_deref(), !options.ignore_submodules, cancelled, progress)?;
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

fn git_error(action: &str, url: &str, e: &git2::Error) -> Error {
    use git2::ErrorClass;
    // Some transports report a failed connection under another class (e.g. `Os`).
    let unreachable = matches!(e.class(), ErrorClass::Net | ErrorClass::Http | ErrorClass::Ssl | ErrorClass::Ssh)
        || e.message().contains("failed to connect")
        || e.message().contains("failed to resolve");
    let help = match e.class() {
        _ if unreachable => {
            "the repository cannot be reached from here: check the URL and the network, or clone it yourself and pass the directory"
        }
        ErrorClass::Reference | ErrorClass::Object => {
            "check that the ref exists: `git ls-remote <url>` lists branches and tags"
        }
        _ => "check the URL (local paths, file://, https://, ssh:// and user@host:path are accepted)",
    };
    Error::Git {
        action: action.to_owned(),
        url: url.to_owned(),
        message: e.message().to_owned(),
        help: help.to_owned(),
    }
}

fn is_empty_repository(url: &str) -> bool {
    let Ok(repo) = git2::Repository::open_ext(url, git2::RepositoryOpenFlags::NO_SEARCH, [] as [&Path; 0]) else {
        return false;
    };
    let no_refs = repo.references().map(|mut refs| refs.next().is_none()).unwrap_or(false);
    no_refs && repo.head().is_err()
}

fn fetch_options<'a>(cancelled: &'a AtomicBool, progress: &'a (dyn Fn(String) + Sync)) -> git2::FetchOptions<'a> {
    let mut callbacks = git2::RemoteCallbacks::new();
    let mut last_percent = u64::MAX;
    callbacks.transfer_progress(move |stats| {
        if stats.total_objects() > 0 {
            let percent = (stats.received_objects() * 100 / stats.total_objects()) as u64;
            if percent / 25 != last_percent / 25 || percent == 100 && last_percent != 100 {
                last_percent = percent;
                progress(format!(
                    "Receiving objects: {percent}% ({}/{}), {} KiB",
                    stats.received_objects(),
                    stats.total_objects(),
                    stats.received_bytes() / 1024
                ));
            }
        }
        !cancelled.load(Ordering::Relaxed)
    });
    let mut options = git2::FetchOptions::new();
    options.remote_callbacks(callbacks);
    options
}

/// Clone `url` into `target`, check out `git_ref` and (optionally) the submodules.
fn clone(
    url: &str,
    target: &Path,
    git_ref: Option<&str>,
    submodules: bool,
    cancelled: &AtomicBool,
    progress: &(dyn Fn(String) + Sync),
) -> Result<SourceInfo> {
    if is_empty_repository(url) {
        return Err(Error::EmptyGitRepository { path: url.to_owned() });
    }
    progress(format!("Cloning {url}"));
    let mut builder = git2::build::RepoBuilder::new();
    builder.fetch_options(fetch_options(cancelled, progress));
    let repo = builder
        .clone(url, target)
        .map_err(|e| if cancelled.load(Ordering::Relaxed) { Error::Cancelled } else { git_error("clone", url, &e) })?;
    if repo.head().is_err() && repo.references().map(|mut r| r.next().is_none()).unwrap_or(true) {
        return Err(Error::EmptyGitRepository { path: url.to_owned() });
    }
    if let Some(git_ref) = git_ref {
        checkout(&repo, git_ref).map_err(|e| git_error(&format!("check out ref {git_ref:?} of"), url, &e))?;
    }
    if submodules {
        update_submodules(&repo, cancelled, progress).map_err(|e| {
            if cancelled.load(Ordering::Relaxed) {
                Error::Cancelled
            } else {
                git_error("update the submodules of", url, &e)
            }
        })?;
    }
    source_info(&repo).map_err(|e| git_error("read the commit of", url, &e))
}

/// `git checkout <ref>`: a remote branch becomes a local branch of the same
/// name; tags and commits give a detached HEAD.
fn checkout(repo: &git2::Repository, git_ref: &str) -> Result<(), git2::Error> {
    let remote_branch = format!("refs/remotes/origin/{git_ref}");
    if let Ok(reference) = repo.find_reference(&remote_branch) {
        let commit = reference.peel_to_commit()?;
        if repo.find_branch(git_ref, git2::BranchType::Local).is_err() {
            repo.branch(git_ref, &commit, false)?;
        }
        repo.checkout_tree(commit.as_object(), Some(git2::build::CheckoutBuilder::new().force()))?;
        repo.set_head(&format!("refs/heads/{git_ref}"))?;
        return Ok(());
    }
    let object = repo.revparse_single(git_ref)?;
    let commit = object.peel_to_commit()?;
    repo.checkout_tree(commit.as_object(), Some(git2::build::CheckoutBuilder::new().force()))?;
    match repo.find_reference(&format!("refs/heads/{git_ref}")) {
        Ok(_) => repo.set_head(&format!("refs/heads/{git_ref}")),
        Err(_) => repo.set_head_detached(commit.id()),
    }
}

fn update_submodules(
    repo: &git2::Repository,
    cancelled: &AtomicBool,
    progress: &(dyn Fn(String) + Sync),
) -> Result<(), git2::Error> {
    for mut submodule in repo.submodules()? {
        progress(format!("Updating submodule {}", submodule.path().display()));
        let mut options = git2::SubmoduleUpdateOptions::new();
        options.fetch(fetch_options(cancelled, progress));
        submodule.update(true, Some(&mut options))?;
        let sub_repo = submodule.open()?;
        update_submodules(&sub_repo, cancelled, progress)?;
    }
    Ok(())
}

/// Provenance of the checked-out commit.
fn source_info(repo: &git2::Repository) -> Result<SourceInfo, git2::Error> {
    let head = repo.head()?;
    let commit = head.peel_to_commit()?;
    let git_ref = if head.is_branch() { head.shorthand().unwrap_or("HEAD").to_owned() } else { "HEAD".to_owned() };
    let location = repo.find_remote("origin").ok().and_then(|r| r.url().ok().map(str::to_owned)).unwrap_or_default();
    let author = commit.author();
    Ok(SourceInfo {
        location,
        context_dir: String::new(),
        git_ref,
        commit_id: commit.id().to_string(),
        author: format!("{} <{}>", author.name().unwrap_or_default(), author.email().unwrap_or_default()),
        date: git_date(author.when()),
        message: subject(commit.message().unwrap_or_default()),
    })
}

/// A time as `git log` prints it by default: `Thu Nov 26 14:06:15 2026 +0000`.
fn git_date(time: git2::Time) -> String {
    let offset = jiff::tz::Offset::from_seconds(time.offset_minutes() * 60).unwrap_or(jiff::tz::Offset::UTC);
    match jiff::Timestamp::from_second(time.seconds()) {
        Ok(ts) => {
            ts.to_zoned_datetime(jiff::tz::TimeZone::fixed(offset)).strftime("%a %b %-d %H:%M:%S %Y %z").to_string()
        }
        Err(_) => String::new(),
    }
}

/// The subject as `%<(80,trunc)%s` prints it, trimmed: the first paragraph on one
/// line, cut to 78 characters and `..` when longer than 80.
fn subject(message: &str) -> String {
    let paragraph: Vec<&str> = message.lines().map(str::trim).take_while(|l| !l.is_empty()).collect();
    let line = paragraph.join(" ");
    if line.chars().count() > 80 {
        let cut: String = line.chars().take(78).collect();
        format!("{cut}..")
    } else {
        line.trim().to_owned()
    }
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

    #[test]
    fn subjects_are_truncated_like_git() {
        assert_eq!(subject("Fix it\n\nbody"), "Fix it");
        assert_eq!(subject("one\ntwo\n\nbody"), "one two");
        let long = "x".repeat(100);
        let s = subject(&long);
        assert_eq!(s.len(), 80);
        assert!(s.ends_with(".."));
    }

    #[test]
    fn dates_look_like_git_log() {
        let time = git2::Time::new(1_795_701_975, 0);
        assert_eq!(git_date(time), "Thu Nov 26 14:06:15 2026 +0000");
        let time = git2::Time::new(0, 90);
        assert_eq!(git_date(time), "Thu Jan 1 01:30:00 1970 +0130");
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

    #[test]
    fn clones_local_repositories_at_a_ref_with_context_dir() {
        let origin = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(origin.path()).unwrap();
        let first = commit_file(&repo, "app/index.html", "v1", "First version");
        repo.tag_lightweight("v1", &repo.find_object(first, None).unwrap(), false).unwrap();
        commit_file(&repo, "app/index.html", "v2", "Second version");
        std::fs::write(origin.path().join("uncommitted.txt"), "dirty").unwrap();

        let work = tempfile::tempdir().unwrap();
        let location = SourceLocation::parse(&origin.path().display().to_string()).unwrap();
        let options =
            SourceOptions { git_ref: Some("v1".into()), context_dir: Some("app".into()), ..Default::default() };
        let prepared = prepare_source(&location, &options, work.path(), &AtomicBool::new(false), &no_progress).unwrap();
        assert_eq!(prepared.kind, SourceKind::GitClone);
        assert_eq!(std::fs::read_to_string(prepared.root.join("index.html")).unwrap(), "v1");
        assert!(!prepared.root.join("../uncommitted.txt").exists());
        assert_eq!(prepared.info.commit_id, first.to_string());
        assert_eq!(prepared.info.git_ref, "HEAD");
        assert_eq!(prepared.info.author, "Ada <ada@example.com>");
        assert_eq!(prepared.info.message, "First version");
        assert_eq!(prepared.info.context_dir, "app");
        assert!(!prepared.follow_symlinks);

        let copy = SourceOptions { copy: true, ..Default::default() };
        let prepared = prepare_source(&location, &copy, work.path(), &AtomicBool::new(false), &no_progress).unwrap();
        assert_eq!(prepared.kind, SourceKind::Directory);
        assert!(prepared.root.join("uncommitted.txt").exists());
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
        let options = SourceOptions { git_ref: Some("nope".into()), ..Default::default() };
        let work = tempfile::tempdir().unwrap();
        let err = prepare_source(&location, &options, work.path(), &AtomicBool::new(false), &no_progress).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
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
