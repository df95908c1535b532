//! Cloning with libgit2, for machines without the `git` program.
//!
//! Local, `git://` and http(s) repositories: credentials come from the caller,
//! the URL, then the user's git credential helper; proxies from `http.proxy`
//! and the `*_PROXY` variables. ssh repositories are refused (libgit2 does not
//! check host keys against `known_hosts` as OpenSSH does), and so is a custom
//! CA (`GIT_SSL_CAINFO`, `http.sslCAInfo`), which libgit2 can only take
//! process-wide: the `git` program does both.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{CloneRequest, GitCredentials, RemoteUrl, Secrets, Transport, credential_secrets};
use crate::error::{Error, Result};
use crate::labels::SourceInfo;

/// Clone with libgit2; see [`super::clone`].
pub(super) fn clone(
    request: &CloneRequest<'_>,
    remote: &RemoteUrl,
    cancelled: &AtomicBool,
    progress: &(dyn Fn(String) + Sync),
) -> Result<SourceInfo> {
    let unsupported = |reason: &str| Error::GitNotInstalled {
        url: remote.display.clone(),
        reason: format!("{reason}, which libgit2 cannot do safely here: the git program is needed"),
    };
    if remote.transport == Transport::Ssh || matches!(request.credentials, Some(GitCredentials::SshKey { .. })) {
        return Err(unsupported("an ssh source needs its host key checked against known_hosts"));
    }
    if remote.display.to_ascii_lowercase().starts_with("https://")
        && let Some(ca) = custom_ca()
    {
        return Err(unsupported(&format!("GIT_SSL_CAINFO or http.sslCAInfo names a CA to trust ({})", ca.display())));
    }
    let mut secrets = remote.secrets.clone();
    secrets.extend(&credential_secrets(request.credentials));
    let basic = match request.credentials {
        Some(GitCredentials::Basic { username, password }) => Some((username.clone(), password.clone())),
        _ => remote.basic.clone(),
    };
    let url = remote.fetch_url.as_str();
    let fail = |action: &str, e: &git2::Error| {
        if cancelled.load(Ordering::Relaxed) { Error::Cancelled } else { git_error(action, remote, &secrets, e) }
    };
    if remote.transport == Transport::Local && is_empty_repository(url) {
        return Err(Error::EmptyGitRepository { path: remote.display.clone() });
    }
    progress(format!("Cloning {}", remote.display));
    let mut builder = git2::build::RepoBuilder::new();
    builder.fetch_options(fetch_options(basic.as_ref(), cancelled, progress));
    let repo = builder.clone(url, request.target).map_err(|e| fail("clone", &e))?;
    if repo.head().is_err() && repo.references().map(|mut r| r.next().is_none()).unwrap_or(true) {
        return Err(Error::EmptyGitRepository { path: remote.display.clone() });
    }
    if let Some(git_ref) = request.git_ref {
        checkout(&repo, git_ref).map_err(|e| fail(&format!("check out ref {git_ref:?} of"), &e))?;
    }
    if request.submodules {
        update_submodules(&repo, basic.as_ref(), cancelled, progress)
            .map_err(|e| fail("update the submodules of", &e))?;
    }
    if remote.fetch_url != remote.display {
        repo.remote_set_url("origin", &remote.display).map_err(|e| fail("configure the clone of", &e))?;
    }
    source_info(&repo, remote).map_err(|e| fail("read the commit of", &e))
}

/// The CA file git is told to trust, unless libgit2 trusts it anyway: OpenSSL
/// reads `SSL_CERT_FILE` itself, but libgit2 takes another file only
/// process-wide.
fn custom_ca() -> Option<std::path::PathBuf> {
    let named = std::env::var_os("GIT_SSL_CAINFO")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| git2::Config::open_default().ok()?.get_path("http.sslCAInfo").ok())?;
    let trusted = std::env::var_os("SSL_CERT_FILE").map(std::path::PathBuf::from);
    (trusted.as_deref() != Some(named.as_path())).then_some(named)
}

fn git_error(action: &str, remote: &RemoteUrl, secrets: &Secrets, e: &git2::Error) -> Error {
    use git2::ErrorClass;
    let text = e.message();
    let auth = e.code() == git2::ErrorCode::Auth || text.contains("authentication") || text.contains("401");
    // Some transports report a failed connection under another class (e.g. `Os`).
    let unreachable = matches!(e.class(), ErrorClass::Net | ErrorClass::Http | ErrorClass::Ssl | ErrorClass::Ssh)
        || text.contains("failed to connect")
        || text.contains("failed to resolve");
    let help = match e.class() {
        _ if auth => {
            "the server wants other credentials: check the user name and password or token (from the URL, the \
             credentials given, or your git credential helper)"
        }
        ErrorClass::Ssl => "the server's TLS certificate is not trusted; install git to name a CA with GIT_SSL_CAINFO",
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
        url: remote.display.clone(),
        message: secrets.mask(text),
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

fn fetch_options<'a>(
    basic: Option<&'a (String, String)>,
    cancelled: &'a AtomicBool,
    progress: &'a (dyn Fn(String) + Sync),
) -> git2::FetchOptions<'a> {
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
    // Each source of credentials is offered once: libgit2 asks again after a
    // refusal, and a source that was refused would be refused again.
    let (mut offered_given, mut offered_helper) = (false, false);
    callbacks.credentials(move |url, username_from_url, allowed| {
        if allowed.contains(git2::CredentialType::USER_PASS_PLAINTEXT) {
            if let Some((username, password)) = basic.filter(|_| !offered_given) {
                offered_given = true;
                return git2::Cred::userpass_plaintext(username, password);
            }
            if !offered_helper {
                offered_helper = true;
                if let Ok(config) = git2::Config::open_default()
                    && let Ok(cred) = git2::Cred::credential_helper(&config, url, username_from_url)
                {
                    return Ok(cred);
                }
            }
        }
        Err(git2::Error::new(
            git2::ErrorCode::Auth,
            git2::ErrorClass::Http,
            "authentication required: no (more) credentials to offer",
        ))
    });
    let mut proxy = git2::ProxyOptions::new();
    proxy.auto();
    let mut options = git2::FetchOptions::new();
    options.remote_callbacks(callbacks);
    options.proxy_options(proxy);
    options
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
    basic: Option<&(String, String)>,
    cancelled: &AtomicBool,
    progress: &(dyn Fn(String) + Sync),
) -> Result<(), git2::Error> {
    for mut submodule in repo.submodules()? {
        progress(format!("Updating submodule {}", submodule.path().display()));
        let mut options = git2::SubmoduleUpdateOptions::new();
        options.fetch(fetch_options(basic, cancelled, progress));
        submodule.update(true, Some(&mut options))?;
        let sub_repo = submodule.open()?;
        update_submodules(&sub_repo, basic, cancelled, progress)?;
    }
    Ok(())
}

/// Provenance of the checked-out commit.
fn source_info(repo: &git2::Repository, remote: &RemoteUrl) -> Result<SourceInfo, git2::Error> {
    let head = repo.head()?;
    let commit = head.peel_to_commit()?;
    let git_ref = if head.is_branch() { head.shorthand().unwrap_or("HEAD").to_owned() } else { "HEAD".to_owned() };
    let author = commit.author();
    Ok(SourceInfo {
        location: remote.display.clone(),
        context_dir: String::new(),
        git_ref,
        commit_id: commit.id().to_string(),
        author: format!("{} <{}>", author.name().unwrap_or_default(), author.email().unwrap_or_default()),
        date: git_date(author.when()),
        message: super::subject(commit.message().unwrap_or_default()),
        commit_time: u64::try_from(commit.committer().when().seconds()).ok(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_look_like_git_log() {
        let time = git2::Time::new(1_795_701_975, 0);
        assert_eq!(git_date(time), "Thu Nov 26 14:06:15 2026 +0000");
        let time = git2::Time::new(0, 90);
        assert_eq!(git_date(time), "Thu Jan 1 01:30:00 1970 +0130");
    }
}
