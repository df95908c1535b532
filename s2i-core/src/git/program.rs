//! Cloning with the `git` program, as the user's own `git clone` would.
//!
//! Everything the user configured applies (ssh-agent, `~/.ssh/config`,
//! `known_hosts`, `GIT_SSH_COMMAND`, credential helpers, proxies, CAs). What
//! s2i adds keeps a build from hanging or leaking: prompts are off
//! (`GIT_TERMINAL_PROMPT=0`, no askpass program, ssh in `BatchMode`), a
//! password goes through a one-shot credential helper instead of the command
//! line, and git's output is shown with every secret hidden.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{CloneRequest, GitCredentials, RemoteUrl, Secrets, Transport, credential_secrets, is_full_commit_id};
use crate::error::{Error, Result};
use crate::exec::sh_quote;
use crate::labels::SourceInfo;

/// Lines of git's output kept for an error message.
const TAIL_LINES: usize = 12;

/// The `git` program on `PATH`.
pub(super) fn find() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("git")).find(|candidate| candidate.is_file())
}

/// Clone with `program`; see [`super::clone`].
pub(super) fn clone(
    program: &Path,
    request: &CloneRequest<'_>,
    remote: &RemoteUrl,
    cancelled: &AtomicBool,
    progress: &(dyn Fn(String) + Sync),
) -> Result<SourceInfo> {
    let mut secrets = remote.secrets.clone();
    secrets.extend(&credential_secrets(request.credentials));
    // Private files of this clone (a key, a password): a directory only we
    // can read, removed when this function returns, whatever happens.
    let private = tempfile::Builder::new()
        .prefix(".s2i-git-")
        .tempdir_in(request.workdir)
        .map_err(|e| Error::io("create a private directory in", request.workdir, "check the working directory", e))?;
    let mut git = Git {
        program,
        env: Vec::new(),
        config: Vec::new(),
        secrets: &secrets,
        cancelled,
        progress,
        cwd: request.workdir,
    };
    prepare(&mut git, request, remote, private.path())?;
    progress(format!("Cloning {}", remote.display));
    let fail = |action: &str, failure: Failure| failure.into_error(action, remote);
    fetch(&git, request, remote).map_err(|(action, failure)| fail(&action, failure))?;
    let target = request.target;
    if is_empty(&git, target) {
        return Err(Error::EmptyGitRepository { path: remote.display.clone() });
    }
    if request.submodules && target.join(".gitmodules").is_file() {
        progress("Updating submodules".to_owned());
        git.run_in(target, &["submodule", "update", "--init", "--recursive", "--progress"], true)
            .map_err(|f| fail("update the submodules of", f))?;
    }
    if remote.fetch_url != remote.display {
        // The clone keeps no credentials (with --save-temp-dir, or a .git in the image).
        git.run_in(target, &["remote", "set-url", "origin", &remote.display], false)
            .map_err(|f| fail("configure the clone of", f))?;
    }
    source_info(&git, target, remote).map_err(|f| fail("read the commit of", f))
}

/// Set up the environment and configuration every git command of the clone gets.
fn prepare(git: &mut Git<'_>, request: &CloneRequest<'_>, remote: &RemoteUrl, private: &Path) -> Result<()> {
    git.env.push(("GIT_TERMINAL_PROMPT", "0".into()));
    // git's messages are read to explain failures.
    git.env.push(("LC_ALL", "C".into()));
    if std::env::var_os("GIT_ASKPASS").is_none() {
        // Empty: no core.askPass or SSH_ASKPASS program (a window) either.
        git.env.push(("GIT_ASKPASS", "".into()));
    }
    let basic = match request.credentials {
        Some(GitCredentials::Basic { username, password }) => {
            if remote.transport != Transport::Http {
                return Err(Error::option(
                    "credentials",
                    format!("user name and password credentials are for http(s) sources, not {}", remote.display),
                    "use an ssh key for ssh sources",
                ));
            }
            Some((username.clone(), password.clone()))
        }
        _ => remote.basic.clone(),
    };
    if let (Some((username, password)), Some(origin)) = (basic, remote.origin.as_deref()) {
        let helper = write_credential_helper(private, &username, &password)?;
        // Only this host gets the password; the user's helpers are not asked
        // for it, nor told to store it.
        git.config.push(format!("credential.{origin}.helper="));
        git.config.push(format!("credential.{origin}.helper=!{}", sh_quote(&helper.display().to_string())));
    }
    let key = match request.credentials {
        Some(GitCredentials::SshKey { private_key, known_hosts }) => {
            if remote.transport != Transport::Ssh {
                return Err(Error::option(
                    "credentials",
                    format!("an ssh key is for ssh sources, not {}", remote.display),
                    "use a user name and password (or token) for http(s) sources",
                ));
            }
            let key = write_private(private, "id_key", &private_key.read()?)?;
            let known_hosts = match known_hosts {
                Some(file) => Some(write_private(private, "known_hosts", &file.read()?)?),
                None => None,
            };
            Some((key, known_hosts))
        }
        _ => None,
    };
    match (ssh_command(git.program, request.workdir), key) {
        (UserSsh::Command(command), None) if is_ssh(&command) => {
            git.env.push(("GIT_SSH_COMMAND", format!("{command} -o BatchMode=yes").into()));
        }
        // A wrapper of the user's own, or GIT_SSH: left as it is.
        (UserSsh::Command(_) | UserSsh::Program, None) => {}
        (UserSsh::Default, None) => git.env.push(("GIT_SSH_COMMAND", "ssh -o BatchMode=yes".into())),
        (user, Some((key, known_hosts))) => {
            let base = match user {
                UserSsh::Command(command) if is_ssh(&command) => command,
                _ => "ssh".to_owned(),
            };
            let mut command =
                format!("{base} -i {} -o IdentitiesOnly=yes -o BatchMode=yes", sh_quote(&key.display().to_string()));
            if let Some(known_hosts) = known_hosts {
                command.push_str(&format!(
                    " -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes",
                    sh_quote(&known_hosts.display().to_string())
                ));
            }
            git.env.push(("GIT_SSH_COMMAND", command.into()));
        }
    }
    Ok(())
}

/// The ssh command the user configured for git.
enum UserSsh {
    /// `GIT_SSH_COMMAND`, or `core.sshCommand`.
    Command(String),
    /// `GIT_SSH` (a program without arguments).
    Program,
    /// Nothing: plain `ssh`.
    Default,
}

/// Asked in `cwd` (the build's working directory), so that the configuration
/// of a repository the caller happens to be in does not count.
fn ssh_command(program: &Path, cwd: &Path) -> UserSsh {
    if let Some(command) = std::env::var("GIT_SSH_COMMAND").ok().filter(|c| !c.trim().is_empty()) {
        return UserSsh::Command(command);
    }
    if std::env::var_os("GIT_SSH").is_some_and(|p| !p.is_empty()) {
        return UserSsh::Program;
    }
    let configured = Command::new(program)
        .args(["config", "--get", "core.sshCommand"])
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|c| !c.is_empty());
    configured.map_or(UserSsh::Default, UserSsh::Command)
}

/// Whether an ssh command runs OpenSSH's `ssh` (so that `-o` options can be added).
fn is_ssh(command: &str) -> bool {
    let first = command.split_whitespace().next().unwrap_or_default().trim_matches(['"', '\'']);
    matches!(Path::new(first).file_name().and_then(OsStr::to_str), Some("ssh" | "ssh.exe"))
}

/// A file only this user can read.
fn write_private(dir: &Path, name: &str, contents: &[u8]) -> Result<PathBuf> {
    let path = dir.join(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let write = |mut file: std::fs::File| {
        file.write_all(contents)?;
        // ssh refuses a key without its final line break.
        if !contents.is_empty() && !contents.ends_with(b"\n") {
            file.write_all(b"\n")?;
        }
        Ok(())
    };
    options
        .open(&path)
        .and_then(write)
        .map_err(|e| Error::io("write a private file", &path, "check the working directory", e))?;
    Ok(path)
}

/// A credential helper that answers `get` with this user name and password,
/// and ignores `store` and `erase`.
fn write_credential_helper(dir: &Path, username: &str, password: &str) -> Result<PathBuf> {
    if [username, password].iter().any(|v| v.contains(['\n', '\0'])) {
        return Err(Error::option(
            "credentials",
            "the user name or password holds a line break",
            "give the credentials without line breaks",
        ));
    }
    let answer = write_private(dir, "answer", format!("username={username}\npassword={password}\n").as_bytes())?;
    let script = format!(
        "#!/bin/sh\n# Written by s2i for one clone, removed after it.\ncat >/dev/null\n[ \"$1\" = get ] || exit 0\nexec cat {}\n",
        sh_quote(&answer.display().to_string())
    );
    let helper = write_private(dir, "credential-helper", script.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io("make executable", &helper, "check the working directory", e))?;
    }
    Ok(helper)
}

/// Get the commit: shallow where the ref allows, a full clone where it must.
/// An error names what was being done.
fn fetch(git: &Git<'_>, request: &CloneRequest<'_>, remote: &RemoteUrl) -> Result<(), (String, Failure)> {
    let target = request.target;
    let url = remote.fetch_url.as_str();
    let target_str = target.as_os_str();
    // --depth has no effect on local clones (git hard-links the objects instead).
    let mut shallow = remote.transport != Transport::Local;
    let clone = |depth: bool, branch: Option<&str>, no_checkout: bool| {
        let mut args: Vec<&OsStr> = vec![OsStr::new("clone"), OsStr::new("--progress")];
        if depth {
            args.extend([OsStr::new("--depth"), OsStr::new("1")]);
        }
        if let Some(branch) = branch {
            args.extend([OsStr::new("--branch"), OsStr::new(branch)]);
        }
        if no_checkout {
            args.push(OsStr::new("--no-checkout"));
        }
        args.extend([OsStr::new("--"), OsStr::new(url), target_str]);
        let result = git.run(&args, true);
        if result.is_err() {
            let _ = std::fs::remove_dir_all(target);
        }
        result
    };
    // A branch, a tag, or the default branch: one shallow clone.
    let first = match clone(shallow, request.git_ref, false) {
        Err(failure) if shallow && failure.says("does not support shallow") => {
            shallow = false;
            clone(false, request.git_ref, false)
        }
        other => other,
    };
    let Some(git_ref) = request.git_ref else {
        return first.map(drop).map_err(|f| ("clone".to_owned(), f));
    };
    match first {
        Ok(_) => return Ok(()),
        Err(failure) if failure.says("not found in upstream") => {}
        Err(failure) => return Err(("clone".to_owned(), failure)),
    }
    // A commit: by itself where the server allows it.
    if shallow && is_full_commit_id(git_ref) && fetch_commit(git, url, target, git_ref).is_ok() {
        return Ok(());
    }
    let _ = std::fs::remove_dir_all(target);
    // Anything else (an abbreviated commit, `main~2`, a server that refuses): everything.
    clone(false, None, true).map_err(|f| ("clone".to_owned(), f))?;
    let spec = format!("{git_ref}^{{commit}}");
    let Ok(commit) = git.run_in(target, &["rev-parse", "--verify", "--quiet", &spec], false) else {
        if is_empty(git, target) {
            // Reported as such by the caller.
            return Ok(());
        }
        let missing = format!("the repository has no branch, tag or commit named {git_ref:?}");
        return Err((format!("check out ref {git_ref:?} of"), Failure::new(vec![missing])));
    };
    let commit = String::from_utf8_lossy(&commit).trim().to_owned();
    git.run_in(target, &["checkout", "--quiet", "--detach", &commit], false)
        .map(drop)
        .map_err(|f| (format!("check out ref {git_ref:?} of"), f))
}

/// `git fetch --depth 1 origin <commit>` into a new repository, checked out.
fn fetch_commit(git: &Git<'_>, url: &str, target: &Path, commit: &str) -> Result<(), Failure> {
    let target_str = target.to_string_lossy();
    let result = git
        .run(&[OsStr::new("init"), OsStr::new("--quiet"), target.as_os_str()], false)
        .and_then(|_| git.run_in(target, &["remote", "add", "origin", url], false))
        .and_then(|_| git.run_in(target, &["fetch", "--progress", "--depth", "1", "origin", commit], true))
        .and_then(|_| git.run_in(target, &["checkout", "--quiet", "--detach", "FETCH_HEAD"], false));
    if result.is_err() {
        (git.progress)(format!("The server does not send commit {commit} by itself; fetching all of {target_str}"));
    }
    result.map(drop)
}

/// A repository without any commit.
fn is_empty(git: &Git<'_>, target: &Path) -> bool {
    let refs = git.run_in(target, &["for-each-ref", "--count=1"], false).unwrap_or_default();
    refs.is_empty() && !git.succeeds_in(target, &["rev-parse", "--verify", "--quiet", "HEAD"])
}

/// Provenance of the checked-out commit.
fn source_info(git: &Git<'_>, target: &Path, remote: &RemoteUrl) -> Result<SourceInfo, Failure> {
    let log = git.run_in(
        target,
        &["log", "-1", "--no-show-signature", "--date=default", "--format=%H%x00%an <%ae>%x00%ad%x00%ct%x00%B", "HEAD"],
        false,
    )?;
    let log = String::from_utf8_lossy(&log);
    let mut fields = log.splitn(5, '\0');
    let mut next = || fields.next().unwrap_or_default().trim().to_owned();
    let (commit_id, author, date, commit_time, message) = (next(), next(), next(), next(), next());
    let head = git.run_in(target, &["rev-parse", "--abbrev-ref", "HEAD"], false)?;
    Ok(SourceInfo {
        location: remote.display.clone(),
        context_dir: String::new(),
        git_ref: String::from_utf8_lossy(&head).trim().to_owned(),
        commit_id,
        author,
        date,
        message: super::subject(&message),
        commit_time: commit_time.parse().ok(),
    })
}

/// Runs git commands with the clone's environment, relaying their progress.
struct Git<'a> {
    program: &'a Path,
    env: Vec<(&'static str, OsString)>,
    /// `-c name=value` for every command.
    config: Vec<String>,
    secrets: &'a Secrets,
    cancelled: &'a AtomicBool,
    progress: &'a (dyn Fn(String) + Sync),
    cwd: &'a Path,
}

impl Git<'_> {
    fn run_in(&self, repo: &Path, args: &[&str], relay: bool) -> Result<Vec<u8>, Failure> {
        let mut all: Vec<&OsStr> = vec![OsStr::new("-C"), repo.as_os_str()];
        all.extend(args.iter().map(|a| OsStr::new(*a)));
        self.run(&all, relay)
    }

    fn succeeds_in(&self, repo: &Path, args: &[&str]) -> bool {
        self.run_in(repo, args, false).is_ok()
    }

    /// Run git; its stdout when it succeeds. With `relay`, its progress is
    /// passed on (throttled); its other lines always are.
    fn run(&self, args: &[&OsStr], relay: bool) -> Result<Vec<u8>, Failure> {
        let mut command = Command::new(self.program);
        for setting in &self.config {
            command.arg("-c").arg(setting);
        }
        command.args(args).current_dir(self.cwd).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        for (name, value) in &self.env {
            command.env(name, value);
        }
        let mut child = command.spawn().map_err(|e| Failure::new(vec![format!("cannot run git: {e}")]))?;
        let mut stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let out_reader = std::thread::spawn(move || {
            let mut buffer = Vec::new();
            let _ = stdout.read_to_end(&mut buffer);
            buffer
        });
        let tail = std::thread::scope(|scope| {
            let lines = scope.spawn(|| relay_lines(stderr, self.secrets, relay.then_some(self.progress)));
            let status = loop {
                if self.cancelled.load(Ordering::Relaxed) {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                match child.try_wait() {
                    Ok(Some(status)) => break Some(status),
                    Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                    Err(_) => break child.wait().ok(),
                }
            };
            (status, lines.join().unwrap_or_default())
        });
        let stdout = out_reader.join().unwrap_or_default();
        match tail {
            (None, lines) => Err(Failure { lines, cancelled: true }),
            (Some(status), _) if status.success() => Ok(stdout),
            (Some(_), lines) => Err(Failure::new(lines)),
        }
    }
}

/// Read git's stderr: progress (`Receiving objects:  42% (…)\r`) is passed on
/// when it crosses a quarter, other lines always; the last lines are returned.
fn relay_lines(mut stderr: impl Read, secrets: &Secrets, progress: Option<&(dyn Fn(String) + Sync)>) -> Vec<String> {
    let mut tail: Vec<String> = Vec::new();
    let mut last_quarter: Option<(String, u32)> = None;
    let mut pending = Vec::new();
    let mut buffer = [0u8; 4096];
    let mut handle = |raw: &[u8]| {
        let line = secrets.mask(String::from_utf8_lossy(raw).trim_end());
        if line.trim().is_empty() {
            return;
        }
        match progress_of(&line) {
            Some((phase, percent)) => {
                let quarter = percent / 25;
                let done = line.contains(", done");
                let changed = last_quarter.as_ref().is_none_or(|(p, q)| *p != phase || *q != quarter);
                if changed || done {
                    last_quarter = Some((phase, quarter));
                    if let Some(progress) = progress {
                        progress(line);
                    }
                }
            }
            None => {
                if let Some(progress) = progress {
                    progress(line.clone());
                }
                tail.push(line);
                if tail.len() > TAIL_LINES {
                    tail.remove(0);
                }
            }
        }
    };
    loop {
        let n = match stderr.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for byte in &buffer[..n] {
            if matches!(byte, b'\r' | b'\n') {
                handle(&pending);
                pending.clear();
            } else {
                pending.push(*byte);
            }
        }
    }
    handle(&pending);
    tail
}

/// `("Receiving objects", 42)` for a progress line.
fn progress_of(line: &str) -> Option<(String, u32)> {
    let (before, _) = line.split_once('%')?;
    let (phase, percent) = before.rsplit_once(':')?;
    let percent: u32 = percent.trim().parse().ok()?;
    Some((phase.to_owned(), percent))
}

/// A git command that failed: its last lines (secrets hidden).
#[derive(Debug, Default)]
struct Failure {
    lines: Vec<String>,
    cancelled: bool,
}

impl Failure {
    fn new(lines: Vec<String>) -> Self {
        Failure { lines, cancelled: false }
    }

    fn says(&self, text: &str) -> bool {
        self.lines.iter().any(|l| l.contains(text))
    }

    /// The error for a failed `action` (`clone`, `check out ref "x" of`, …).
    fn into_error(self, action: &str, remote: &RemoteUrl) -> Error {
        if self.cancelled {
            return Error::Cancelled;
        }
        let message = self
            .lines
            .iter()
            .filter(|l| !l.starts_with("Cloning into") && !l.trim_matches(['@', ' ']).is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join("\n");
        let message = if message.is_empty() { "git failed without saying why".to_owned() } else { message };
        let help = help_for(&message, remote);
        Error::Git { action: action.to_owned(), url: remote.display.clone(), message, help }
    }
}

/// What to do about a failure, from git's (and ssh's, curl's) words.
fn help_for(message: &str, remote: &RemoteUrl) -> String {
    let has = |needle: &str| message.contains(needle);
    let (host, port) = remote.host.clone().unwrap_or_default();
    let keyscan = match port {
        Some(port) => format!("ssh-keyscan -p {port} {host}"),
        None => format!("ssh-keyscan {host}"),
    };
    let known_name = match port {
        Some(port) => format!("[{host}]:{port}"),
        None => host.clone(),
    };
    if has("REMOTE HOST IDENTIFICATION HAS CHANGED") || has("has changed and you have requested strict checking") {
        return format!(
            "the host key of {known_name} is not the one in known_hosts, which can mean an attack: \
             if the server's key really changed, remove the old one (`ssh-keygen -R '{known_name}'`), \
             check the new one's fingerprint (`{keyscan} | ssh-keygen -lf -`) and add it (`{keyscan} >> ~/.ssh/known_hosts`)"
        );
    }
    if has("Host key verification failed") {
        return format!(
            "{known_name} is not a known host, so s2i does not trust it: check its key's fingerprint \
             (`{keyscan} | ssh-keygen -lf -`) against one you trust, then add it: `{keyscan} >> ~/.ssh/known_hosts`"
        );
    }
    if has("Permission denied (publickey") || has("Permission denied, please try again") {
        return "the server refused every ssh key offered: load your key into ssh-agent (`ssh-add KEY`), name it in \
                ~/.ssh/config (IdentityFile), or set GIT_SSH_COMMAND='ssh -i KEY'; keys with a passphrase need ssh-agent"
            .to_owned();
    }
    if has("terminal prompts disabled") || has("could not read Username") || has("could not read Password") {
        return "the server wants credentials and none were found: configure a credential helper \
                (`git config --global credential.helper store`, then `git credential approve`), or put a token in \
                the URL (https://USER:TOKEN@host/…; it is never shown)"
            .to_owned();
    }
    if has("Authentication failed") || has("returned error: 401") || has("returned error: 403") {
        return "the server refused the credentials: check the user name and password or token (from the URL, \
                the credentials given, or your credential helper)"
            .to_owned();
    }
    if has("from proxy after CONNECT") || has("proxy") && (has("Failed to connect") || has("407")) {
        return "the proxy refused or could not be reached: check http.proxy, HTTPS_PROXY and NO_PROXY".to_owned();
    }
    if has("SSL certificate problem") || has("server certificate verification failed") || has("certificate") {
        return "the server's TLS certificate is not trusted: name its CA with GIT_SSL_CAINFO=/path/ca.pem \
                or `git config --global http.sslCAInfo /path/ca.pem`"
            .to_owned();
    }
    if has("Could not resolve")
        || has("Failed to connect")
        || has("Connection refused")
        || has("Connection timed out")
        || has("Could not read from remote repository")
    {
        return "the repository cannot be reached from here: check the URL and the network, or clone it yourself \
                and pass the directory"
            .to_owned();
    }
    if has("has no branch, tag or commit") || has("not our ref") || has("couldn't find remote ref") {
        return "check that the ref exists: `git ls-remote <url>` lists branches and tags".to_owned();
    }
    "check the URL (local paths, file://, https://, ssh:// and user@host:path are accepted)".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_relayed_by_quarters_and_other_lines_kept() {
        let text = "Cloning into 'x'...\nremote: Counting objects: 100% (3/3), done.\nReceiving objects:   1% (1/100)\rReceiving objects:   2% (2/100)\rReceiving objects:  30% (30/100)\rReceiving objects: 100% (100/100), done.\nfatal: secret-token is wrong\n";
        let mut secrets = Secrets::default();
        secrets.add("secret-token");
        let seen = std::sync::Mutex::new(Vec::new());
        let relay = |line: String| seen.lock().unwrap().push(line);
        let tail = relay_lines(text.as_bytes(), &secrets, Some(&relay));
        assert_eq!(
            *seen.lock().unwrap(),
            [
                "Cloning into 'x'...",
                "remote: Counting objects: 100% (3/3), done.",
                "Receiving objects:   1% (1/100)",
                "Receiving objects:  30% (30/100)",
                "Receiving objects: 100% (100/100), done.",
                "fatal: redacted is wrong"
            ]
        );
        assert_eq!(tail, ["Cloning into 'x'...", "fatal: redacted is wrong"]);
    }

    #[test]
    fn ssh_commands_are_recognised() {
        assert!(is_ssh("ssh"));
        assert!(is_ssh("/usr/bin/ssh -F cfg"));
        assert!(is_ssh("'/usr/bin/ssh' -i key"));
        assert!(!is_ssh("plink -batch"));
        assert!(!is_ssh("/opt/wrap-ssh.sh"));
    }

    #[test]
    fn host_key_failures_say_how_to_trust_the_host() {
        let remote = RemoteUrl::parse("ssh://git@127.0.0.1:2222/srv/app.git", false).unwrap();
        let help =
            help_for("No ED25519 host key is known for [127.0.0.1]:2222\nHost key verification failed.", &remote);
        assert!(help.contains("ssh-keyscan -p 2222 127.0.0.1 >> ~/.ssh/known_hosts"), "{help}");
        let help = help_for("WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!\nHost key verification failed.", &remote);
        assert!(help.contains("ssh-keygen -R '[127.0.0.1]:2222'"), "{help}");
    }
}
