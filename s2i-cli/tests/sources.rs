//! Where sources come from, and what of them reaches the image: git over ssh
//! (key files, ssh-agent, host keys) and https (credential helpers, tokens in
//! URLs, a private CA, a proxy), credentials handed over by a caller, symlinks
//! that lead out of a directory source, and file names that are not UTF-8.
//! Every server is real, on 127.0.0.1, started here and stopped by itself.

mod support;

use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use s2i_core::git::{GitClient, GitCredentials, SecretFile};
use s2i_core::source::{SourceLocation, SourceOptions, prepare_source};
use support::git_servers::*;
use support::*;

/// `s2i` with git's environment isolated from the machine's: no user or
/// system configuration, no agent, no proxy.
fn s2i_isolated() -> Command {
    let mut command = s2i();
    command
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_SSH_COMMAND", "false")
        .stdin(Stdio::null());
    for name in
        ["SSH_AUTH_SOCK", "GIT_SSH", "GIT_ASKPASS", "SSH_ASKPASS", "GIT_SSL_CAINFO", "HTTPS_PROXY", "https_proxy"]
    {
        command.env_remove(name);
    }
    for name in ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"] {
        command.env_remove(name);
    }
    command
}

/// Run `command`; a run that takes more than two minutes (a prompt, a hang) fails the test.
fn run_bounded(command: &mut Command) -> Run {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("s2i runs");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().unwrap().is_some() {
            return Run::from(child.wait_with_output().unwrap());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("s2i did not finish in two minutes:\n{}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Everything an image holds, as `docker save` writes it.
fn saved_image(image: &str) -> Vec<u8> {
    let out = docker(&["save", image]);
    assert!(out.status.success(), "docker save {image}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn files() -> [(&'static str, &'static str); 2] {
    [("index.html", "served over the network"), ("sub/deep.txt", "deep")]
}

fn assert_built_from_the_repository(image: &str, url: &str) {
    assert_eq!(run_in(image, &["cat", "/tmp/src/index.html"]), "served over the network");
    assert_eq!(run_in(image, &["cat", "/tmp/src/sub/deep.txt"]), "deep");
    let labels = labels(image);
    assert_eq!(labels["io.openshift.s2i.build.source-location"], url);
    assert_eq!(labels["io.openshift.s2i.build.commit.author"], "Repo Author <author@example.com>");
    assert_eq!(labels["io.openshift.s2i.build.commit.message"], "Served over the network");
    assert_eq!(labels["io.openshift.s2i.build.commit.ref"], "main");
    assert_eq!(labels["io.openshift.s2i.build.commit.id"].as_str().unwrap().len(), 40);
}

#[test]
fn ssh_sources_clone_with_a_key_file_or_an_agent() {
    let builder = fixture("busybox-builder");
    let server = SshServer::start();
    let repo = bare_repository(server.root(), "app.git", &files());
    let url = server.url(&repo);

    // A key file, named in GIT_SSH_COMMAND (s2i adds BatchMode to it).
    let out = Image::fresh("ssh-key");
    let key = format!("-i {} -o IdentitiesOnly=yes", server.client_key.display());
    run_bounded(
        s2i_isolated()
            .args(["build", &format!("{url}#main"), &builder, &out.0])
            .env("GIT_SSH_COMMAND", server.ssh_command(&server.known_hosts, &key)),
    )
    .ok();
    assert_built_from_the_repository(&out.0, &url);

    // The key in an ssh-agent, and no key file at all.
    let agent = SshAgent::start();
    agent.add(&server.client_key);
    let out = Image::fresh("ssh-agent");
    let run = run_bounded(
        s2i_isolated()
            .args(["build", &url, &builder, &out.0])
            .env("SSH_AUTH_SOCK", &agent.socket)
            .env("GIT_SSH_COMMAND", server.ssh_command(&server.known_hosts, "")),
    );
    assert_eq!(run.code, 0, "{}\n--- sshd\n{}", run.stderr, server.log_text());
    assert_built_from_the_repository(&out.0, &url);
}

#[test]
fn unknown_and_changed_ssh_host_keys_are_refused() {
    let builder = Builder::alias("busybox-builder");
    let server = SshServer::start();
    let repo = bare_repository(server.root(), "app.git", &files());
    let url = server.url(&repo);
    let key = format!("-i {} -o IdentitiesOnly=yes", server.client_key.display());
    let empty = tempfile::NamedTempFile::new().unwrap();

    let run = run_bounded(
        s2i_isolated()
            .args(["build", &url, &builder.image])
            .env("GIT_SSH_COMMAND", server.ssh_command(empty.path(), &key)),
    )
    .failed();
    let text = flat(&run.stderr);
    assert!(text.contains("Host key verification failed"), "{text}");
    assert!(text.contains(&format!("[127.0.0.1]:{} is not a known host", server.port)), "{text}");
    assert!(text.contains(&format!("ssh-keyscan -p {} 127.0.0.1 >> ~/.ssh/known_hosts", server.port)), "{text}");
    assert_eq!(std::fs::read(empty.path()).unwrap(), b"", "nothing was added to known_hosts");

    let run = run_bounded(
        s2i_isolated()
            .args(["build", &url, &builder.image])
            .env("GIT_SSH_COMMAND", server.ssh_command(&server.wrong_known_hosts, &key)),
    )
    .failed();
    let text = flat(&run.stderr);
    assert!(text.contains("has changed and you have requested strict checking"), "{text}");
    assert!(text.contains("which can mean an attack"), "{text}");
    assert!(text.contains(&format!("ssh-keygen -R '[127.0.0.1]:{}'", server.port)), "{text}");
    builder.assert_no_containers();
}

/// Clone through the library, as a caller with credentials (a build's source secret) does.
fn clone_with(
    source: &str,
    credentials: Option<GitCredentials>,
    client: GitClient,
) -> (Result<s2i_core::source::PreparedSource, s2i_core::Error>, Vec<String>, tempfile::TempDir) {
    let work = tempfile::tempdir().unwrap();
    let location = SourceLocation::parse(source).unwrap();
    let options = SourceOptions { credentials, git_client: client, ..Default::default() };
    let lines = std::sync::Mutex::new(Vec::new());
    let progress = |line: String| lines.lock().unwrap().push(line);
    let result = prepare_source(&location, &options, work.path(), &AtomicBool::new(false), &progress);
    (result, lines.into_inner().unwrap(), work)
}

#[test]
fn ssh_keys_handed_over_by_a_caller() {
    let server = SshServer::start();
    let repo = bare_repository(server.root(), "app.git", &files());
    let url = server.url(&repo);
    let key = std::fs::read(&server.client_key).unwrap();
    let trusted = std::fs::read(&server.known_hosts).unwrap();
    let credentials = |known_hosts: Vec<u8>| GitCredentials::SshKey {
        private_key: SecretFile::Contents(key.clone()),
        known_hosts: Some(SecretFile::Contents(known_hosts)),
    };

    let (result, _, work) = clone_with(&url, Some(credentials(trusted)), GitClient::Program);
    let prepared = result.unwrap();
    assert_eq!(std::fs::read_to_string(prepared.root.join("index.html")).unwrap(), "served over the network");
    let left: Vec<_> = std::fs::read_dir(work.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["source"], "the key's private directory is gone");

    let wrong = std::fs::read(&server.wrong_known_hosts).unwrap();
    let (result, _, _work) = clone_with(&url, Some(credentials(wrong)), GitClient::Program);
    let err = result.unwrap_err().to_string();
    assert!(err.contains("Host key verification failed"), "{err}");

    let (result, _, _work) = clone_with(&url, None, GitClient::Libgit2);
    let err = result.unwrap_err();
    assert!(matches!(err, s2i_core::Error::GitNotInstalled { .. }), "libgit2 refuses ssh: {err}");
}

#[test]
fn https_sources_use_credential_helpers_and_a_private_ca() {
    let builder = fixture("busybox-builder");
    let server = GitHttpServer::https("alice", "helper-password-771");
    bare_repository(&server.root, "app.git", &files());
    let url = server.url("app.git", None);
    let config = tempfile::tempdir().unwrap();
    let store = config.path().join("credentials");
    std::fs::write(&store, format!("https://alice:helper-password-771@127.0.0.1:{}\n", server.port)).unwrap();
    let gitconfig = config.path().join("gitconfig");
    std::fs::write(&gitconfig, format!("[credential]\n\thelper = store --file {}\n", store.display())).unwrap();

    let out = Image::fresh("https-helper");
    let run = run_bounded(
        s2i_isolated()
            .args(["build", &url, &builder, &out.0, "--loglevel", "2"])
            .env("GIT_CONFIG_GLOBAL", &gitconfig)
            .env("GIT_SSL_CAINFO", server.ca.as_ref().unwrap()),
    )
    .ok();
    assert_built_from_the_repository(&out.0, &url);
    assert!(!run.stderr.contains("helper-password-771"), "{}", run.stderr);
    let requests = server.requests.lock().unwrap().clone();
    assert!(requests.iter().any(|r| r.starts_with("POST /app.git/git-upload-pack -> 200")), "{requests:?}");

    // Without the CA, the certificate is not trusted, and the error says what to do.
    let run = run_bounded(s2i_isolated().args(["build", &url, &builder]).env("GIT_CONFIG_GLOBAL", &gitconfig)).failed();
    assert!(flat(&run.stderr).contains("GIT_SSL_CAINFO"), "{}", run.stderr);
}

#[test]
fn tokens_in_urls_are_never_shown_nor_kept() {
    let builder = fixture("busybox-builder");
    let token = "tok-9f8e7d6c5b4a";
    let server = GitHttpServer::https("bot", token);
    bare_repository(&server.root, "app.git", &files());
    let url = server.url("app.git", Some(&format!("bot:{token}")));
    let clean = server.url("app.git", None);

    // --exclude '' keeps the clone's .git in the image: it holds no token either.
    let out = Image::fresh("https-token");
    let run = run_bounded(
        s2i_isolated()
            .args(["build", &format!("{url}#main"), &builder, &out.0, "--loglevel", "5", "--exclude", ""])
            .env("GIT_SSL_CAINFO", server.ca.as_ref().unwrap()),
    )
    .ok();
    assert_built_from_the_repository(&out.0, &clean);
    assert!(run_in(&out.0, &["cat", "/tmp/src/.git/config"]).contains(&clean), "the clone's origin is the clean URL");
    for (what, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(!text.contains(token), "the token shows on {what}: {text}");
    }
    assert!(run.stderr.contains(&clean), "the URL is shown without the token: {}", run.stderr);
    assert!(!docker_ok(&["image", "inspect", &out.0]).contains(token), "the token is in the image's configuration");
    assert!(!contains(&saved_image(&out.0), token.as_bytes()), "the token is in the image");

    // A wrong token: a clear error at once (no prompt, no hang), the token not in it.
    let wrong = server.url("app.git", Some("bot:wrong-token-123"));
    let run = run_bounded(
        s2i_isolated().args(["build", &wrong, &builder]).env("GIT_SSL_CAINFO", server.ca.as_ref().unwrap()),
    )
    .failed();
    let text = flat(&run.stderr);
    assert!(text.contains(&format!("cannot clone {clean}")), "{text}");
    assert!(text.contains("refused the credentials"), "{text}");
    assert!(!text.contains("wrong-token-123"), "{text}");

    // No credentials at all: git does not prompt, and the help says where credentials come from.
    let run = run_bounded(
        s2i_isolated().args(["build", &clean, &builder]).env("GIT_SSL_CAINFO", server.ca.as_ref().unwrap()),
    )
    .failed();
    assert!(flat(&run.stderr).contains("credential helper"), "{}", run.stderr);
}

#[test]
fn https_clones_go_through_the_proxy() {
    let builder = fixture("busybox-builder");
    let server = GitHttpServer::https("alice", "proxy-pass-4242");
    bare_repository(&server.root, "app.git", &files());
    let proxy = Proxy::start();
    let out = Image::fresh("https-proxy");
    run_bounded(
        s2i_isolated()
            .args(["build", &server.url("app.git", Some("alice:proxy-pass-4242")), &builder, &out.0])
            .env("GIT_SSL_CAINFO", server.ca.as_ref().unwrap())
            .env("HTTPS_PROXY", proxy.url()),
    )
    .ok();
    assert_built_from_the_repository(&out.0, &server.url("app.git", None));
    let log = proxy.log_text();
    assert!(log.contains(&format!("CONNECT 127.0.0.1:{}", server.port)), "the clone went through the proxy: {log}");
}

#[test]
fn basic_credentials_handed_over_by_a_caller() {
    let server = GitHttpServer::http("carol", "caller-secret-5150");
    bare_repository(&server.root, "app.git", &files());
    let url = server.url("app.git", None);
    let basic = |password: &str| GitCredentials::Basic { username: "carol".into(), password: password.into() };
    for client in [GitClient::Program, GitClient::Libgit2] {
        let (result, lines, _work) = clone_with(&url, Some(basic("caller-secret-5150")), client);
        let prepared = result.unwrap_or_else(|e| panic!("{client:?}: {e}"));
        assert_eq!(std::fs::read_to_string(prepared.root.join("index.html")).unwrap(), "served over the network");
        assert_eq!(prepared.info.location, url);
        assert!(!lines.iter().any(|l| l.contains("caller-secret-5150")), "{client:?}: {lines:?}");
        let config = std::fs::read_to_string(prepared.root.join(".git/config")).unwrap();
        assert!(!config.contains("caller-secret-5150"), "{config}");
        if client == GitClient::Program {
            let shallow = Command::new("git")
                .args(["-C", prepared.root.to_str().unwrap(), "rev-parse", "--is-shallow-repository"])
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&shallow.stdout).trim(), "true", "the default branch is cloned shallow");
        }

        let (result, lines, _work) = clone_with(&url, Some(basic("not-the-password")), client);
        let err = result.unwrap_err();
        let text = format!("{err} {:?}", miette::Diagnostic::help(&err).map(|h| h.to_string()));
        assert!(text.contains(&format!("cannot clone {url}")), "{client:?}: {text}");
        assert!(!text.contains("not-the-password") && !lines.iter().any(|l| l.contains("not-the-password")));
    }
    // A caller's credentials that cannot apply are refused, not dropped.
    let ssh_key = GitCredentials::SshKey { private_key: SecretFile::Contents(b"key".to_vec()), known_hosts: None };
    let (result, _, _work) = clone_with(&url, Some(ssh_key), GitClient::Program);
    assert!(result.unwrap_err().to_string().contains("an ssh key is for ssh sources"));
}

#[test]
fn symlinks_out_of_a_directory_source_stay_links() {
    let builder = fixture("busybox-builder");
    let secret = format!("secret-{}", unique("content"));
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), &secret).unwrap();
    let src = source(&[("real.txt", "inside the source")]);
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), src.path().join("leak")).unwrap();
    std::os::unix::fs::symlink("real.txt", src.path().join("inside-link")).unwrap();
    std::fs::create_dir_all(src.path().join(".s2i")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), src.path().join(".s2i/environment")).unwrap();

    let out = Image::fresh("symlinks-out");
    let run = run_s2i(["build", src.path().to_str().unwrap(), &builder, &out.0, "--copy"]).ok();
    assert!(run.stderr.contains("Kept leak as a symlink: it points outside the source"), "{}", run.stderr);
    assert!(run.stderr.contains("Not reading .s2i/environment: it is a symlink"), "{}", run.stderr);
    assert!(!run.stderr.contains(&secret), "{}", run.stderr);
    let target = run_in(&out.0, &["readlink", "/tmp/src/leak"]);
    assert_eq!(target.trim(), outside.path().join("secret.txt").to_str().unwrap(), "kept as the link it is");
    assert!(!succeeds_in(&out.0, &["test", "-L", "/tmp/src/inside-link"]), "a link inside the source is followed");
    assert_eq!(run_in(&out.0, &["cat", "/tmp/src/inside-link"]), "inside the source");
    assert!(!contains(&saved_image(&out.0), secret.as_bytes()), "the secret is nowhere in the image");
}

#[test]
fn file_names_that_are_not_utf8_keep_their_bytes() {
    let builder = fixture("busybox-builder");
    let src = source(&[("index.html", "x")]);
    let latin1 = std::ffi::OsStr::from_bytes(b"caf\xe9.txt");
    std::fs::write(src.path().join(latin1), "latin-1 name").unwrap();
    let out = Image::fresh("latin1");
    run_s2i(["build", src.path().to_str().unwrap(), &builder, &out.0]).ok();
    // printf writes the name's bytes as they are (ls would show `?`).
    let listing = docker_run(&[&out.0, "sh", "-c", "for f in /tmp/src/caf*; do printf '%s' \"$f\"; done"]);
    assert!(listing.status.success());
    assert_eq!(listing.stdout, b"/tmp/src/caf\xe9.txt");
    assert_eq!(run_in(&out.0, &["sh", "-c", "cat /tmp/src/caf?.txt"]), "latin-1 name");
}
