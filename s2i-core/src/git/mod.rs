//! Cloning git sources.
//!
//! The `git` program clones when it is installed, exactly as `git clone`
//! would for the user: ssh-agent, keys and `~/.ssh/config`, host keys checked
//! against `known_hosts`, `GIT_SSH_COMMAND`, credential helpers, proxies
//! (`http.proxy`, `HTTPS_PROXY`, `NO_PROXY`) and CA settings
//! (`http.sslCAInfo`, `GIT_SSL_CAINFO`) all apply, and it never prompts.
//! Without the program, libgit2 clones (the `git2` feature) local, `git://`
//! and http(s) sources; it refuses ssh sources, whose host keys it cannot
//! check as OpenSSH does.
//!
//! Credentials — in the URL (`https://user:token@host/…`) or handed over as
//! [`GitCredentials`] — never reach a log line, an error, a label or the
//! clone's configuration.

#[cfg(feature = "git2")]
mod libgit2;
mod program;

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use crate::error::{Error, Result};
use crate::labels::SourceInfo;

/// Credentials a caller hands to a clone, e.g. from a build's source secret.
/// They are used for this clone only and never shown (`Debug` hides them).
#[derive(Clone, PartialEq, Eq)]
pub enum GitCredentials {
    /// HTTP(S) basic authentication: a user name and a password or token.
    Basic {
        /// The user name.
        username: String,
        /// The password or token.
        password: String,
    },
    /// An SSH private key without a passphrase.
    SshKey {
        /// The key, in OpenSSH's format.
        private_key: SecretFile,
        /// Host keys to trust, as lines of a `known_hosts` file; the user's
        /// `known_hosts` when `None`. Unknown host keys are refused either way.
        known_hosts: Option<SecretFile>,
    },
}

impl fmt::Debug for GitCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GitCredentials::Basic { .. } => f.write_str("Basic { .. }"),
            GitCredentials::SshKey { .. } => f.write_str("SshKey { .. }"),
        }
    }
}

/// Sensitive file contents: a file on this machine, or the bytes themselves.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretFile {
    /// A file to read.
    Path(PathBuf),
    /// The contents.
    Contents(Vec<u8>),
}

impl fmt::Debug for SecretFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretFile::Path(path) => f.debug_tuple("Path").field(path).finish(),
            SecretFile::Contents(_) => f.write_str("Contents(..)"),
        }
    }
}

impl SecretFile {
    fn read(&self) -> Result<Cow<'_, [u8]>> {
        match self {
            SecretFile::Path(path) => std::fs::read(path)
                .map(Cow::Owned)
                .map_err(|e| Error::io("read the credentials file", path, "give a readable file", e)),
            SecretFile::Contents(bytes) => Ok(Cow::Borrowed(bytes)),
        }
    }
}

/// Which implementation clones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GitClient {
    /// The `git` program when it is on `PATH`, else libgit2 (when built with
    /// the `git2` feature).
    #[default]
    Auto,
    /// The `git` program on `PATH`; an error when there is none.
    Program,
    /// libgit2: local, `git://` and http(s) sources only.
    #[cfg(feature = "git2")]
    Libgit2,
}

/// One clone: what, where, and with what.
pub(crate) struct CloneRequest<'a> {
    /// The repository: a URL (possibly with credentials) or a local path.
    pub(crate) url: &'a str,
    /// Whether `url` is a path on this machine.
    pub(crate) local: bool,
    /// The directory to clone into (must not exist).
    pub(crate) target: &'a Path,
    /// A directory for the clone's private files (credentials), removed after it.
    pub(crate) workdir: &'a Path,
    /// The branch, tag or commit to check out; the default branch when `None`.
    pub(crate) git_ref: Option<&'a str>,
    /// Check out the submodules too.
    pub(crate) submodules: bool,
    /// Credentials from the caller.
    pub(crate) credentials: Option<&'a GitCredentials>,
    /// Which implementation.
    pub(crate) client: GitClient,
}

/// Clone as `request` says and return the provenance of the checked-out commit.
pub(crate) fn clone(
    request: &CloneRequest<'_>,
    cancelled: &AtomicBool,
    progress: &(dyn Fn(String) + Sync),
) -> Result<SourceInfo> {
    let remote = RemoteUrl::parse(request.url, request.local)?;
    if let Some(git_ref) = request.git_ref
        && (git_ref.starts_with('-') || git_ref.contains(char::is_control))
    {
        return Err(Error::option("--ref", format!("{git_ref:?} is not a git ref"), "give a branch, tag or commit"));
    }
    let program = program::find();
    match request.client {
        GitClient::Auto => match program {
            Some(program) => program::clone(&program, request, &remote, cancelled, progress),
            #[cfg(feature = "git2")]
            None => libgit2::clone(request, &remote, cancelled, progress),
            #[cfg(not(feature = "git2"))]
            None => Err(no_program(&remote, "this s2i is built without libgit2")),
        },
        GitClient::Program => match program {
            Some(program) => program::clone(&program, request, &remote, cancelled, progress),
            None => Err(no_program(&remote, "the git program was asked for")),
        },
        #[cfg(feature = "git2")]
        GitClient::Libgit2 => libgit2::clone(request, &remote, cancelled, progress),
    }
}

fn no_program(remote: &RemoteUrl, why: &str) -> Error {
    Error::GitNotInstalled {
        url: remote.display.clone(),
        reason: format!("cloning it needs the git program, which is not on PATH ({why})"),
    }
}

/// How a repository is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// A path on this machine.
    Local,
    /// `http://` or `https://`.
    Http,
    /// `ssh://` or scp-like `[user@]host:path`.
    Ssh,
    /// Anything else git knows (`git://`, …).
    Other,
}

/// A repository URL taken apart: what git is given, what is shown, and the
/// secrets it carried.
#[derive(Debug, Clone)]
pub(crate) struct RemoteUrl {
    /// What git is given: without a password (that goes through a credential
    /// helper, not the command line or the clone's configuration).
    pub(crate) fetch_url: String,
    /// Without any credentials: for labels, messages and the clone's `origin`.
    pub(crate) display: String,
    /// How it is reached.
    pub(crate) transport: Transport,
    /// `scheme://host[:port]`, for scoping credentials to it.
    pub(crate) origin: Option<String>,
    /// The host and port, for ssh messages.
    pub(crate) host: Option<(String, Option<u16>)>,
    /// `user:password` from an http(s) URL.
    pub(crate) basic: Option<(String, String)>,
    /// Strings to hide in every message.
    pub(crate) secrets: Secrets,
}

impl RemoteUrl {
    pub(crate) fn parse(url: &str, local: bool) -> Result<Self> {
        let plain = |transport| RemoteUrl {
            fetch_url: url.to_owned(),
            display: url.to_owned(),
            transport,
            origin: None,
            host: None,
            basic: None,
            secrets: Secrets::default(),
        };
        if local {
            return Ok(plain(Transport::Local));
        }
        let Some((scheme, rest)) = url.split_once("://") else {
            // scp-like [user@]host:path: the user is a login name, not a secret.
            let (authority, _) = url.split_once(':').unwrap_or((url, ""));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            return Ok(RemoteUrl { host: Some((host.to_owned(), None)), ..plain(Transport::Ssh) });
        };
        let scheme_lower = scheme.to_ascii_lowercase();
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let transport = match scheme_lower.as_str() {
            "http" | "https" => Transport::Http,
            "ssh" | "git+ssh" | "ssh+git" => Transport::Ssh,
            _ => Transport::Other,
        };
        let without_userinfo = format!("{scheme}://{hostport}{path}");
        let host = split_host_port(hostport);
        let origin = Some(format!("{scheme_lower}://{hostport}"));
        let mut secrets = Secrets::default();
        let Some(userinfo) = userinfo else {
            return Ok(RemoteUrl { origin, host: Some(host), ..plain(transport) });
        };
        let (user, password) = match userinfo.split_once(':') {
            Some((user, password)) => (user, Some(password)),
            None => (userinfo, None),
        };
        match (transport, password) {
            (Transport::Ssh, None) => Ok(RemoteUrl { origin, host: Some(host), ..plain(transport) }),
            (Transport::Ssh, Some(_)) => {
                let shown = format!("{scheme}://{user}@{hostport}{path}");
                Err(Error::option(
                    "source",
                    format!("{shown} carries a password, which ssh does not take from a URL (it was not used)"),
                    "drop the password from the URL and authenticate with a key: ssh-agent, ~/.ssh/config, or GIT_SSH_COMMAND='ssh -i KEY'",
                ))
            }
            (_, Some(password)) => {
                let (user, password) = (percent_decode(user), percent_decode(password));
                secrets.add(&password);
                secrets.add(userinfo);
                Ok(RemoteUrl {
                    fetch_url: without_userinfo.clone(),
                    display: without_userinfo,
                    transport,
                    origin,
                    host: Some(host),
                    basic: Some((user, password)),
                    secrets,
                })
            }
            // A user name alone may be a token (`https://TOKEN@host/…`): git
            // gets it (helpers are asked for its password), nothing shows it.
            (_, None) => {
                secrets.add(&percent_decode(user));
                secrets.add(user);
                Ok(RemoteUrl {
                    fetch_url: url.to_owned(),
                    display: without_userinfo,
                    transport,
                    origin,
                    host: Some(host),
                    basic: None,
                    secrets,
                })
            }
        }
    }
}

fn split_host_port(hostport: &str) -> (String, Option<u16>) {
    // [v6]:port, host:port, host
    if let Some(rest) = hostport.strip_prefix('[')
        && let Some((host, after)) = rest.split_once(']')
    {
        return (host.to_owned(), after.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match hostport.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => (host.to_owned(), port.parse().ok()),
        _ => (hostport.to_owned(), None),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) =
                bytes.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The source argument as it may be shown or recorded: credentials of a URL
/// removed (`https://user:token@host/app.git#v1` → `https://host/app.git#v1`);
/// local paths and ssh login names stay.
pub fn source_without_credentials(source: &str) -> String {
    match crate::source::SourceLocation::parse(source) {
        Ok(crate::source::SourceLocation::Remote { url, fragment }) => {
            let display = match RemoteUrl::parse(&url, false) {
                Ok(remote) => remote.display,
                // An ssh URL with a password: shown without it.
                Err(_) => crate::env::redact_url_userinfo(&url),
            };
            match fragment {
                Some(fragment) => format!("{display}#{fragment}"),
                None => display,
            }
        }
        _ => source.to_owned(),
    }
}

/// Strings that must not be shown, replaced by `redacted` wherever they appear.
#[derive(Debug, Clone, Default)]
pub(crate) struct Secrets(Vec<String>);

impl Secrets {
    /// Add a secret. Strings shorter than 3 characters are not hidden: they
    /// would mangle every message without protecting anything.
    pub(crate) fn add(&mut self, secret: &str) {
        if secret.chars().count() >= 3 && !self.0.iter().any(|s| s == secret) {
            self.0.push(secret.to_owned());
            // Longest first, so that a secret containing another is hidden whole.
            self.0.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    pub(crate) fn extend(&mut self, other: &Secrets) {
        for secret in &other.0 {
            self.add(secret);
        }
    }

    /// `text` with every secret replaced by `redacted`.
    pub(crate) fn mask(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.0 {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "redacted");
            }
        }
        out
    }
}

/// The secrets of `credentials`.
fn credential_secrets(credentials: Option<&GitCredentials>) -> Secrets {
    let mut secrets = Secrets::default();
    if let Some(GitCredentials::Basic { password, .. }) = credentials {
        secrets.add(password);
    }
    secrets
}

/// The subject as `%<(80,trunc)%s` prints it, trimmed: the first paragraph on one
/// line, cut to 78 characters and `..` when longer than 80.
pub(crate) fn subject(message: &str) -> String {
    let paragraph: Vec<&str> = message.lines().map(str::trim).take_while(|l| !l.is_empty()).collect();
    let line = paragraph.join(" ");
    if line.chars().count() > 80 {
        let cut: String = line.chars().take(78).collect();
        format!("{cut}..")
    } else {
        line.trim().to_owned()
    }
}

/// Whether `git_ref` can only be a commit ID (a full SHA-1 or SHA-256 in hex).
fn is_full_commit_id(git_ref: &str) -> bool {
    matches!(git_ref.len(), 40 | 64) && git_ref.chars().all(|c| c.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_leave_urls() {
        let r = RemoteUrl::parse("https://alice:s%40cret-token@git.example.com:8443/org/app.git", false).unwrap();
        assert_eq!(r.fetch_url, "https://git.example.com:8443/org/app.git");
        assert_eq!(r.display, "https://git.example.com:8443/org/app.git");
        assert_eq!(r.basic, Some(("alice".to_owned(), "s@cret-token".to_owned())));
        assert_eq!(r.origin.as_deref(), Some("https://git.example.com:8443"));
        assert_eq!(r.secrets.mask("x s@cret-token y alice:s%40cret-token"), "x redacted y redacted");

        let r = RemoteUrl::parse("https://ghp_tokenonly@github.example/app.git", false).unwrap();
        assert_eq!(r.fetch_url, "https://ghp_tokenonly@github.example/app.git", "git gets the user name");
        assert_eq!(r.display, "https://github.example/app.git");
        assert_eq!(r.basic, None);
        assert_eq!(r.secrets.mask("ghp_tokenonly"), "redacted");

        let r = RemoteUrl::parse("ssh://git@[::1]:2222/srv/app.git", false).unwrap();
        assert_eq!(r.transport, Transport::Ssh);
        assert_eq!(r.display, "ssh://git@[::1]:2222/srv/app.git", "ssh login names stay");
        assert_eq!(r.host, Some(("::1".to_owned(), Some(2222))));
        let r = RemoteUrl::parse("git@example.com:org/app.git", false).unwrap();
        assert_eq!((r.transport, r.host), (Transport::Ssh, Some(("example.com".to_owned(), None))));

        let err = RemoteUrl::parse("ssh://git:hunter22@host/app.git", false).unwrap_err().to_string();
        assert!(!err.contains("hunter22"), "{err}");
        assert!(err.contains("ssh://git@host/app.git"), "{err}");
    }

    #[test]
    fn sources_are_shown_without_credentials() {
        assert_eq!(source_without_credentials("https://u:tok123@h/a.git#v1"), "https://h/a.git#v1");
        assert_eq!(source_without_credentials("git@h:a.git"), "git@h:a.git");
        assert_eq!(source_without_credentials("./app"), "./app");
        assert_eq!(source_without_credentials("ssh://u:pw1@h/a"), "ssh://redacted@h/a");
    }

    #[test]
    fn short_secrets_are_not_masked() {
        let mut s = Secrets::default();
        s.add("ab");
        s.add("abc");
        s.add("abcdef");
        assert_eq!(s.mask("ab abc abcdef"), "ab redacted redacted");
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
    fn credentials_do_not_show_in_debug_output() {
        let basic = GitCredentials::Basic { username: "u".into(), password: "hunter2".into() };
        assert_eq!(format!("{basic:?}"), "Basic { .. }");
        assert_eq!(format!("{:?}", SecretFile::Contents(b"key".to_vec())), "Contents(..)");
    }
}
