//! Git servers for tests, on 127.0.0.1, started by the tests and stopped when
//! dropped: an OpenSSH server serving repositories by path, an HTTP(S) server
//! with basic authentication running `git http-backend`, an HTTP proxy
//! (tinyproxy), and an ssh-agent. Each fails (never skips) when its program
//! is missing, naming the Debian package.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::free_port;

/// Panic unless `program` runs; `package` is the Debian package that has it.
pub fn require_program(program: &str, package: &str) {
    let found = Path::new(program).is_absolute() && Path::new(program).is_file()
        || std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()));
    assert!(found, "{program} is not installed: `cargo xtask packages` installs it (Debian package {package})");
}

/// Run a command, panicking with its stderr when it fails; returns stdout.
pub fn run_ok(command: &mut Command) -> String {
    let out = command.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{command:?} cannot run: {e}"));
    assert!(out.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Wait until something accepts connections on 127.0.0.1:`port`.
fn wait_for_port(port: u16, what: &str, log: &dyn Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} never listened on port {port}: {}", log());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A bare repository `<root>/<name>` with `files` committed on `main` by a
/// fixed author; returns its path.
pub fn bare_repository(root: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let work = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        run_ok(
            Command::new("git")
                .args(args)
                .current_dir(work.path())
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_AUTHOR_NAME", "Repo Author")
                .env("GIT_AUTHOR_EMAIL", "author@example.com")
                .env("GIT_COMMITTER_NAME", "Repo Author")
                .env("GIT_COMMITTER_EMAIL", "author@example.com"),
        )
    };
    git(&["init", "--quiet", "--initial-branch", "main"]);
    for (path, content) in files {
        let full = work.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
    }
    git(&["add", "--all"]);
    git(&["commit", "--quiet", "--message", "Served over the network"]);
    let bare = root.join(name);
    git(&["clone", "--quiet", "--bare", ".", bare.to_str().unwrap()]);
    bare
}

/// An OpenSSH server (`sshd -D -e`) on a free loopback port that accepts one
/// key, for the user running the tests; repositories are reached by their
/// absolute paths (`ssh://USER@127.0.0.1:PORT/abs/path.git`).
pub struct SshServer {
    pub port: u16,
    /// The user to log in as (the one running the tests).
    pub user: String,
    /// The key the server accepts (no passphrase).
    pub client_key: PathBuf,
    /// A `known_hosts` file that trusts the server.
    pub known_hosts: PathBuf,
    /// A `known_hosts` file with another key for the server (a changed host key).
    pub wrong_known_hosts: PathBuf,
    /// An ssh client configuration that reads nothing of ~/.ssh.
    pub ssh_config: PathBuf,
    log: PathBuf,
    child: Child,
    dir: tempfile::TempDir,
}

impl SshServer {
    pub fn start() -> Self {
        const SSHD: &str = "/usr/sbin/sshd";
        require_program(SSHD, "openssh-server");
        require_program("ssh-keygen", "openssh-client");
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        let keygen = |file: &Path| {
            run_ok(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", "s2i-test", "-f"]).arg(file))
        };
        keygen(&path("host_key"));
        keygen(&path("other_host_key"));
        keygen(&path("client_key"));
        std::fs::copy(path("client_key.pub"), path("authorized_keys")).unwrap();
        // sshd wants its privilege separation directory.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let port = free_port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {pid}\nAuthorizedKeysFile {keys}\n\
             PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n\
             PermitRootLogin prohibit-password\nStrictModes no\nLogLevel VERBOSE\n",
            host_key = path("host_key").display(),
            pid = path("sshd.pid").display(),
            keys = path("authorized_keys").display(),
        );
        std::fs::write(path("sshd_config"), config).unwrap();
        let host_line = |key: &str| {
            let public = std::fs::read_to_string(path(key)).unwrap();
            let mut fields = public.split_whitespace();
            format!("[127.0.0.1]:{port} {} {}\n", fields.next().unwrap(), fields.next().unwrap())
        };
        std::fs::write(path("known_hosts"), host_line("host_key.pub")).unwrap();
        std::fs::write(path("wrong_known_hosts"), host_line("other_host_key.pub")).unwrap();
        std::fs::write(path("ssh_config"), "Host *\n  GlobalKnownHostsFile /dev/null\n").unwrap();
        let log = path("sshd.log");
        let log_file = std::fs::File::create(&log).unwrap();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(path("sshd_config"))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .expect("sshd starts");
        let user = run_ok(Command::new("id").arg("-un")).trim().to_owned();
        let server = SshServer {
            port,
            user,
            client_key: path("client_key"),
            known_hosts: path("known_hosts"),
            wrong_known_hosts: path("wrong_known_hosts"),
            ssh_config: path("ssh_config"),
            log,
            child,
            dir,
        };
        wait_for_port(port, "sshd", &|| server.log_text());
        server
    }

    /// The URL of a repository on this server.
    pub fn url(&self, repository: &Path) -> String {
        format!("ssh://{}@127.0.0.1:{}{}", self.user, self.port, repository.display())
    }

    /// A directory for the test's repositories, removed with the server.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `GIT_SSH_COMMAND` that reads no ~/.ssh file: this client configuration,
    /// `known_hosts`, and `extra` options.
    pub fn ssh_command(&self, known_hosts: &Path, extra: &str) -> String {
        format!("ssh -F {} -o UserKnownHostsFile={} {extra}", self.ssh_config.display(), known_hosts.display())
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An ssh-agent on a socket of its own, holding the keys it is given; killed when dropped.
pub struct SshAgent {
    pub socket: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl SshAgent {
    pub fn start() -> Self {
        require_program("ssh-agent", "openssh-client");
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh-agent starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "ssh-agent never made its socket");
            std::thread::sleep(Duration::from_millis(20));
        }
        SshAgent { socket, child, _dir: dir }
    }

    pub fn add(&self, key: &Path) {
        run_ok(Command::new("ssh-add").arg("-q").arg(key).env("SSH_AUTH_SOCK", &self.socket));
    }
}

impl Drop for SshAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A git server over HTTP, or HTTPS with a certificate from a CA of its own,
/// that wants basic authentication and runs `git http-backend` for every
/// request. Stops when dropped.
pub struct GitHttpServer {
    pub port: u16,
    /// The CA's certificate (PEM), for `GIT_SSL_CAINFO`; `None` over plain HTTP.
    pub ca: Option<PathBuf>,
    /// Each request: `METHOD PATH -> STATUS`.
    pub requests: Arc<Mutex<Vec<String>>>,
    /// Where the repositories are (`GIT_PROJECT_ROOT`).
    pub root: PathBuf,
    stop: Arc<AtomicBool>,
    _dir: tempfile::TempDir,
}

impl GitHttpServer {
    /// HTTPS with `user:password`.
    pub fn https(user: &str, password: &str) -> Self {
        Self::start(user, password, true)
    }

    /// Plain HTTP with `user:password`.
    pub fn http(user: &str, password: &str) -> Self {
        Self::start(user, password, false)
    }

    fn start(user: &str, password: &str, tls: bool) -> Self {
        use base64::Engine;
        require_program("git", "git");
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repositories");
        std::fs::create_dir(&root).unwrap();
        let (ca, config) = if tls {
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            params.distinguished_name.push(rcgen::DnType::CommonName, "s2i test git CA");
            let ca_key = rcgen::KeyPair::generate().unwrap();
            let ca_pem = params.self_signed(&ca_key).unwrap().pem();
            let issuer = rcgen::Issuer::new(params, ca_key);
            let key = rcgen::KeyPair::generate().unwrap();
            let mut server = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
            server.subject_alt_names.push(rcgen::SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
            let cert = server.signed_by(&key, &issuer).unwrap();
            let ca_path = dir.path().join("ca.pem");
            std::fs::write(&ca_path, ca_pem).unwrap();
            (Some(ca_path), Some(super::tls_server_config(&cert, &key)))
        } else {
            (None, None)
        };
        let expected =
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")));
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (flag, log, project_root, user) = (stop.clone(), requests.clone(), root.clone(), user.to_owned());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (config, expected, log, project_root, user) =
                    (config.clone(), expected.clone(), log.clone(), project_root.clone(), user.clone());
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                    match config {
                        Some(config) => {
                            let connection = rustls::ServerConnection::new(config).unwrap();
                            let mut tls = rustls::StreamOwned::new(connection, stream);
                            serve_git(&mut tls, &expected, &user, &project_root, &log);
                            tls.conn.send_close_notify();
                            let _ = tls.flush();
                        }
                        None => {
                            let mut stream = stream;
                            serve_git(&mut stream, &expected, &user, &project_root, &log);
                        }
                    }
                });
            }
        });
        GitHttpServer { port, ca, requests, root, stop, _dir: dir }
    }

    /// The URL of `<root>/<name>`, with `userinfo@` when given.
    pub fn url(&self, name: &str, userinfo: Option<&str>) -> String {
        let scheme = if self.ca.is_some() { "https" } else { "http" };
        let userinfo = userinfo.map(|u| format!("{u}@")).unwrap_or_default();
        format!("{scheme}://{userinfo}127.0.0.1:{}/{name}", self.port)
    }

    /// `scheme://127.0.0.1:PORT`, as a credential store file names the server.
    pub fn origin(&self) -> String {
        let scheme = if self.ca.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }
}

impl Drop for GitHttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// One request on one connection (answered with `Connection: close`): a
/// `401` without the right basic credentials, else `git http-backend` as CGI.
fn serve_git(stream: &mut (impl Read + Write), expected: &str, user: &str, root: &Path, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or("GET").to_owned(), parts.next().unwrap_or("/").to_owned());
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    if header("authorization").as_deref() != Some(expected) {
        log.lock().unwrap().push(format!("{method} {target} -> 401"));
        let _ = reader.get_mut().write_all(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"s2i-test\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    // The request body, plain or chunked.
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size_line = String::new();
            if reader.read_line(&mut size_line).unwrap_or(0) == 0 {
                break;
            }
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            let mut chunk = vec![0u8; size + 2];
            if size == 0 || reader.read_exact(&mut chunk).is_err() {
                let mut trailer = String::new();
                let _ = reader.read_line(&mut trailer);
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = header("content-length").and_then(|l| l.parse::<usize>().ok()) {
        body.resize(length, 0);
        if reader.read_exact(&mut body).is_err() {
            return;
        }
    }
    let mut cgi = Command::new("git");
    cgi.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("REMOTE_USER", user)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("CONTENT_LENGTH", body.len().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(kind) = header("content-type") {
        cgi.env("CONTENT_TYPE", kind);
    }
    if let Some(encoding) = header("content-encoding") {
        cgi.env("HTTP_CONTENT_ENCODING", encoding);
    }
    if let Some(protocol) = header("git-protocol") {
        cgi.env("GIT_PROTOCOL", protocol);
    }
    let mut child = cgi.spawn().expect("git http-backend runs");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    // CGI headers, then the body, streamed.
    let mut status = "200 OK".to_owned();
    let mut cgi_headers = String::new();
    loop {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        match line.split_once(':') {
            Some((name, value)) if name.eq_ignore_ascii_case("status") => status = value.trim().to_owned(),
            _ => cgi_headers.push_str(&format!("{}\r\n", line.trim_end())),
        }
    }
    log.lock().unwrap().push(format!("{method} {target} -> {status}"));
    let out = reader.get_mut();
    // Chunked, as HTTP/1.1 clients (libgit2's too) expect a body without a length.
    let head = format!("HTTP/1.1 {status}\r\n{cgi_headers}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
    if out.write_all(head.as_bytes()).is_ok() {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = match stdout.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if out.write_all(format!("{n:x}\r\n").as_bytes()).is_err()
                || out.write_all(&buffer[..n]).is_err()
                || out.write_all(b"\r\n").is_err()
            {
                break;
            }
        }
        let _ = out.write_all(b"0\r\n\r\n");
        let _ = out.flush();
    }
    let _ = writer.join();
    let _ = child.wait();
}

/// tinyproxy on a free loopback port, logging every request; killed when dropped.
pub struct Proxy {
    pub port: u16,
    log: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Proxy {
    pub fn start() -> Self {
        require_program("tinyproxy", "tinyproxy");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = dir.path().join("tinyproxy.log");
        let config = format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 60\nLogFile \"{}\"\nLogLevel Connect\nMaxClients 20\nAllow 127.0.0.1\nDisableViaHeader Yes\n",
            log.display()
        );
        let config_path = dir.path().join("tinyproxy.conf");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new("tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tinyproxy starts");
        let proxy = Proxy { port, log, child, _dir: dir };
        wait_for_port(port, "tinyproxy", &|| proxy.log_text());
        proxy
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
