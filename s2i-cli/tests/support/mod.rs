//! Test harness for end-to-end tests: the real `s2i` binary against the real
//! container engine, with the offline fixture images of `cargo xtask fixtures`.
//! Tests fail (never skip) when the engine or a fixture is missing.

#![allow(dead_code, unreachable_pub, clippy::print_stderr)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

/// Run the docker CLI.
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().expect("the docker CLI runs")
}

/// Run the docker CLI and return its stdout; panic with its stderr on failure.
pub fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(out.status.success(), "docker {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Panic unless a container engine answers.
pub fn require_engine() {
    static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
    let result = CHECKED.get_or_init(|| {
        match Command::new("docker").args(["info", "--format", "{{.ServerVersion}}"]).output() {
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
            Err(e) => Err(e.to_string()),
        }
    });
    if let Err(e) = result {
        panic!("no container engine is reachable ({}): start one with `cargo xtask docker`", e.trim());
    }
}

/// The name of a fixture image; panics when it has not been built.
pub fn fixture(name: &str) -> String {
    require_engine();
    let image = format!("s2i-fixtures/{name}:latest");
    let out = docker(&["image", "inspect", "--format", "{{.Id}}", &image]);
    assert!(out.status.success(), "fixture image {image} is missing: build the fixtures with `cargo xtask fixtures`");
    image
}

/// A fresh name, unique in this test run.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Held while the harness changes the names of images (`docker tag`, `docker rmi`).
///
/// Podman 4.3 loses names when two requests change the names of one image at
/// the same time: each writes back the list of names it read, so a tag made
/// meanwhile is dropped (and a removed one can come back). Tests running in
/// parallel alias the same fixture images, so the harness makes such changes
/// one at a time. s2i itself only names the images it makes.
pub fn names_lock() -> MutexGuard<'static, ()> {
    static NAMES: Mutex<()> = Mutex::new(());
    NAMES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `docker rmi` of `image`, asserting success (see [`names_lock`]).
pub fn remove_image(image: &str) {
    let _names = names_lock();
    docker_ok(&["rmi", image]);
}

/// An image removed (with its tag) when dropped.
pub struct Image(pub String);

impl Image {
    /// A fresh output image name under `s2i-test/`.
    pub fn fresh(name: &str) -> Self {
        Image(format!("s2i-test/{}:latest", unique(name)))
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let _names = names_lock();
        let _ = docker(&["rmi", "-f", &self.0]);
    }
}

/// A fixture under a name of its own, so the containers a build makes from it
/// can be told apart from those of tests running in parallel.
pub struct Builder {
    /// The alias, e.g. `s2i-t-123-4/builder:latest`.
    pub image: String,
    _tag: Image,
}

impl Builder {
    /// Alias `fixture` under a unique name.
    pub fn alias(fixture_name: &str) -> Self {
        let source = fixture(fixture_name);
        let image = format!("{}/builder:latest", unique("s2i-t"));
        {
            let _names = names_lock();
            docker_ok(&["tag", &source, &image]);
        }
        Builder { _tag: Image(image.clone()), image }
    }

    /// Names of containers (running or not) created from this alias by s2i.
    pub fn containers(&self) -> Vec<String> {
        let repo = self.image.trim_end_matches(":latest");
        let sanitized: String = repo.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        let filter = format!("name=s2i_{sanitized}");
        docker_ok(&["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"]).lines().map(str::to_owned).collect()
    }

    /// Assert that no build container of this alias is left.
    pub fn assert_no_containers(&self) {
        let left = self.containers();
        assert!(left.is_empty(), "containers left behind: {left:?}");
    }
}

/// The `s2i` binary, with progress drawing off.
pub fn s2i() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_s2i"));
    command.env("S2I_NO_PROGRESS", "1");
    command
}

/// The outcome of an `s2i` run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Assert success and return self.
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "s2i failed:\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }

    /// Assert failure and return self.
    pub fn failed(self) -> Self {
        assert_ne!(self.code, 0, "s2i unexpectedly succeeded:\n--- stderr\n{}", self.stderr);
        self
    }
}

/// Run `s2i` with arguments.
pub fn run_s2i<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = s2i().args(args).output().expect("s2i runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `docker run` with `args` (options, image, command) in a container that is
/// removed afterwards; the exit status is the container's.
///
/// Not `docker run --rm`: with `--rm` the CLI waits for the container's removal
/// (`wait?condition=removed`), which Podman before 4.6 answers with exit code 0
/// whatever the container's was (containers/podman#18889), so a failing
/// command would pass for a successful one.
pub fn docker_run(args: &[&str]) -> Output {
    let name = unique("s2i-test-run");
    let mut all = vec!["run", "--name", name.as_str()];
    all.extend_from_slice(args);
    let out = docker(&all);
    let _ = docker(&["rm", "-f", &name]);
    out
}

/// [`docker_run`], asserting success; returns its stdout.
pub fn docker_run_ok(args: &[&str]) -> String {
    let out = docker_run(args);
    assert!(out.status.success(), "docker run {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether `command` succeeds in a new container of `image`.
pub fn succeeds_in(image: &str, command: &[&str]) -> bool {
    let mut args = vec![image];
    args.extend_from_slice(command);
    docker_run(&args).status.success()
}

/// Run a command in a new container of `image` and return its stdout.
pub fn run_in(image: &str, command: &[&str]) -> String {
    let mut args = vec![image];
    args.extend_from_slice(command);
    docker_run_ok(&args)
}

/// IDs of the images `docker images` lists with `filters`.
///
/// Podman 4.3 fails a listing when an image it is reading is removed at the
/// same time ("image not known"), as tests running in parallel do: the
/// listing is then made again, up to five times.
pub fn list_images(filters: &[&str]) -> Vec<String> {
    let mut args = vec!["images", "-q", "--no-trunc"];
    args.extend_from_slice(filters);
    for attempt in 1..=5 {
        let out = docker(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            return String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
        }
        assert!(attempt < 5 && stderr.contains("image not known"), "docker {args:?} failed: {stderr}");
        std::thread::sleep(Duration::from_millis(200));
    }
    unreachable!("the last attempt returns or panics")
}

/// `docker inspect` of an image, as JSON.
pub fn inspect(image: &str) -> serde_json::Value {
    let text = docker_ok(&["image", "inspect", image]);
    let mut list: Vec<serde_json::Value> = serde_json::from_str(&text).expect("inspect is JSON");
    list.remove(0)
}

/// The labels of an image.
pub fn labels(image: &str) -> serde_json::Map<String, serde_json::Value> {
    inspect(image)["Config"]["Labels"].as_object().cloned().unwrap_or_default()
}

/// A source tree in a temp dir.
pub fn source(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, content) in files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, content).unwrap();
        if path.contains("/bin/") || path.ends_with(".sh") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&full, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    dir
}

/// A tiny HTTP/1.0 file server on 127.0.0.1 for script downloads; stops when dropped.
pub struct FileServer {
    pub port: u16,
    stop: Arc<AtomicBool>,
    pub requests: Arc<std::sync::Mutex<Vec<String>>>,
}

impl FileServer {
    /// Serve `root` under `/scripts/` on `port` (0 picks a free one).
    pub fn start(root: &Path, port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("the test port is free");
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (root, stop_flag, log) = (root.to_owned(), stop.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop_flag.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let mut line = String::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                log.lock().unwrap().push(path.clone());
                let file = path.strip_prefix("/scripts/").map(|name| root.join(name));
                let response = match file.and_then(|f| std::fs::read(f).ok()) {
                    Some(body) => {
                        let mut r = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
                        r.extend_from_slice(&body);
                        r
                    }
                    None => b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
                };
                let _ = stream.write_all(&response);
            }
        });
        FileServer { port, stop, requests }
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Spawn `s2i`, wait until a line containing `marker` appears on its stderr,
/// send it `signal` (e.g. "INT"), and return its exit code and whole stderr.
pub fn interrupt_when(args: &[&str], marker: &str, signal: &str) -> (i32, String) {
    let mut child = s2i().args(args).stderr(Stdio::piped()).stdout(Stdio::null()).spawn().expect("s2i runs");
    let stderr = child.stderr.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        let mut reader = BufReader::new(stderr);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            let _ = sender.send(line.clone());
            all.push_str(&line);
            line.clear();
        }
        let mut rest = String::new();
        let _ = reader.read_to_string(&mut rest);
        all + &rest
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let line = receiver.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()));
        match line {
            Ok(line) if line.contains(marker) => break,
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                panic!("s2i never printed {marker:?}");
            }
        }
    }
    let status = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    let stderr = reader.join().unwrap();
    (status.code().unwrap_or(-1), stderr)
}
