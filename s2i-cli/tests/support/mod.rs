//! Test harness for end-to-end tests: the real `s2i` binary against the real
//! container engine, with the offline fixture images of `cargo xtask fixtures`.
//! Tests fail (never skip) when the engine or a fixture is missing.

#![allow(dead_code, unreachable_pub, clippy::print_stderr)]

pub mod git_servers;

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
///
/// Changes of image names (`tag`, `rmi`) are made one at a time (see [`names_lock`]).
pub fn docker(args: &[&str]) -> Output {
    let _names = matches!(args.first(), Some(&("tag" | "rmi"))).then(names_lock);
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

/// Held while the harness changes the names of images ([`docker`] takes it for `tag` and `rmi`).
///
/// Podman loses names when two requests change the names of one image at the
/// same time: each writes back the list of names it read, so a tag made
/// meanwhile is dropped (and a removed one can come back). Tests running in
/// parallel alias the same fixture images, and `s2i tag` names them too, so
/// the harness takes the lock s2i takes on Podman
/// ([`s2i_docker::image_names_lock`]): threads of this process one at a time,
/// and the s2i processes of other tests never at the same time.
fn names_lock() -> (MutexGuard<'static, ()>, Option<std::fs::File>) {
    static NAMES: Mutex<()> = Mutex::new(());
    let local = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    let endpoint = std::env::var("DOCKER_HOST").unwrap_or_default();
    let file = s2i_docker::image_names_lock(&endpoint)
        .and_then(|path| std::fs::File::options().create(true).truncate(false).write(true).open(path).ok())
        .filter(|file| file.lock().is_ok());
    (local, file)
}

/// `docker rmi` of `image`, asserting success.
pub fn remove_image(image: &str) {
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

impl Image {
    /// Remember the image the tag names now, so that it is removed with the
    /// tag even after a later build moves the tag away (e.g. a builder stage,
    /// which has no label naming its tag).
    pub fn remember(&self) {
        if let Some(id) = image_id(&self.0) {
            remembered().lock().unwrap_or_else(PoisonError::into_inner).push((self.0.clone(), id));
        }
    }
}

impl Drop for Image {
    /// Removes the tag and every image built under it: earlier builds of the
    /// same tag are left untagged, and are found by the display name s2i
    /// gives them (the tag, unless `-n` says otherwise) or by [`Image::remember`].
    fn drop(&mut self) {
        let mut ids: Vec<String> = image_id(&self.0).into_iter().collect();
        ids.extend(list_images(&["--filter", &format!("label=io.k8s.display-name={}", self.0)]));
        remembered().lock().unwrap_or_else(PoisonError::into_inner).retain(|(tag, id)| {
            if tag == &self.0 {
                ids.push(id.clone());
            }
            tag != &self.0
        });
        let _ = docker(&["rmi", "-f", &self.0]);
        remove_untagged(&ids);
    }
}

/// The images remembered by [`Image::remember`] (by tag) and [`Namespace::engine_id`] (by namespace).
fn remembered() -> &'static Mutex<Vec<(String, String)>> {
    static REMEMBERED: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
    &REMEMBERED
}

/// The ID of an image, if it exists.
pub fn image_id(image: &str) -> Option<String> {
    let out = docker(&["image", "inspect", "--format", "{{.Id}}", image]);
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Remove the images among `ids` that no tag names any more (never forced,
/// so that an image some other name still points at stays).
pub fn remove_untagged(ids: &[String]) {
    let mut seen = std::collections::BTreeSet::new();
    for id in ids {
        if !seen.insert(id.clone()) {
            continue;
        }
        let tags = docker(&["image", "inspect", "--format", "{{len .RepoTags}}", id]);
        if tags.status.success() && String::from_utf8_lossy(&tags.stdout).trim() == "0" {
            let _ = docker(&["rmi", id]);
        }
    }
}

/// A container removed (with its volumes) when dropped.
pub struct Container(pub String);

impl Container {
    /// `docker run --detach` with `args` (options, image, command); the
    /// container gets a fresh name.
    pub fn run(prefix: &str, args: &[&str]) -> Self {
        let container = Container(unique(prefix));
        let mut all = vec!["run", "--detach", "--name", container.0.as_str()];
        all.extend_from_slice(args);
        docker_ok(&all);
        container
    }

    /// The container's address on the default bridge network.
    pub fn ip(&self) -> String {
        docker_ok(&["inspect", "--format", "{{.NetworkSettings.IPAddress}}", &self.0]).trim().to_owned()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "--force", "--volumes", &self.0]);
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
        docker_ok(&["tag", &source, &image]);
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

/// `s2i` with no credentials but the ones a test gives: every place credentials
/// are looked up points into `home`.
pub fn isolated(home: &Path) -> Command {
    let mut command = s2i();
    command
        .env("HOME", home)
        .env("DOCKER_CONFIG", home.join("docker"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env_remove("REGISTRY_AUTH_FILE");
    command
}

/// The outcome of an `s2i` run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Self {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
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
    Run::from(s2i().args(args).output().expect("s2i runs"))
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

/// The stdout of a `docker` listing (`images`, `image ls`).
///
/// Podman 4.3 fails a listing when an image it is reading is removed at the
/// same time ("image not known"), as tests running in parallel do: the
/// listing is then made again, up to five times.
pub fn docker_listing(args: &[&str]) -> String {
    for attempt in 1..=5 {
        let out = docker(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            return String::from_utf8_lossy(&out.stdout).into_owned();
        }
        assert!(attempt < 5 && stderr.contains("image not known"), "docker {args:?} failed: {stderr}");
        std::thread::sleep(Duration::from_millis(200));
    }
    unreachable!("the last attempt returns or panics")
}

/// IDs of the images `docker images` lists with `filters` (see [`docker_listing`]).
pub fn list_images(filters: &[&str]) -> Vec<String> {
    let mut args = vec!["images", "-q", "--no-trunc"];
    args.extend_from_slice(filters);
    docker_listing(&args).lines().map(str::to_owned).collect()
}

/// `docker inspect` of an image, as JSON.
pub fn inspect(image: &str) -> serde_json::Value {
    let text = docker_ok(&["image", "inspect", image]);
    let mut list: Vec<serde_json::Value> = serde_json::from_str(&text).expect("inspect is JSON");
    list.remove(0)
}

/// How an image stream names an engine image tagged into it (`s2i tag
/// --source=docker IMAGE`): `(image name, pull spec)`. That is the engine's
/// digest of the image in IMAGE's repository when it has one (Docker after a
/// pull or push; Podman for every image, as it keeps a manifest for each),
/// else the image ID, which is also its pull spec (the engine runs it as that image).
pub fn stream_identity(image: &str) -> (String, String) {
    let info = inspect(image);
    let familiar = |name: &str| {
        let name = name.strip_prefix("docker.io/").unwrap_or(name);
        name.strip_prefix("library/").unwrap_or(name).to_owned()
    };
    let repository = match image.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => repository,
        _ => image,
    };
    let digests = info["RepoDigests"].as_array().cloned().unwrap_or_default();
    let digest = digests.iter().filter_map(|entry| entry.as_str()?.split_once('@')).find_map(|(name, digest)| {
        (familiar(name) == familiar(repository)).then(|| (familiar(name), digest.to_owned()))
    });
    match digest {
        Some((name, digest)) => (digest.clone(), format!("{name}@{digest}")),
        None => {
            let id = info["Id"].as_str().expect("an image ID").to_owned();
            (id.clone(), id)
        }
    }
}

/// The labels of an image.
pub fn labels(image: &str) -> serde_json::Map<String, serde_json::Value> {
    inspect(image)["Config"]["Labels"].as_object().cloned().unwrap_or_default()
}

/// A source tree in a temp dir.
pub fn source(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), files);
    dir
}

/// Write `files` (path, content) under `dir`; scripts (`*/bin/*`, `*.sh`) are executable.
pub fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (path, content) in files {
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, content).unwrap();
        if path.contains("/bin/") || path.ends_with(".sh") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&full, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
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
    let mut command = s2i();
    command.args(args);
    interrupt_command_when(command, marker, signal)
}

/// [`interrupt_when`] for an `s2i` command prepared by the caller (its environment, its arguments).
pub fn interrupt_command_when(mut command: Command, marker: &str, signal: &str) -> (i32, String) {
    let mut child = command.stderr(Stdio::piped()).stdout(Stdio::null()).spawn().expect("s2i runs");
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

/// A namespace of its own for a test, and the engine tags s2i makes in it
/// (`<namespace>/<stream>:<tag>`), removed when dropped.
pub struct Namespace(pub String);

impl Namespace {
    /// A fresh namespace name (a DNS label).
    pub fn fresh() -> Self {
        require_engine();
        Namespace(unique("ns"))
    }

    /// The engine tags under this namespace, sorted, as `repo:tag`.
    pub fn engine_tags(&self) -> Vec<String> {
        let out = docker_listing(&["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]);
        let prefix = format!("{}/", self.0);
        let mut tags: Vec<String> = out.lines().filter(|l| l.starts_with(&prefix)).map(str::to_owned).collect();
        tags.sort();
        tags
    }

    /// The image ID an engine tag points at, if it exists; remembered, so that
    /// the image goes with the namespace even when a later build moves the tag.
    pub fn engine_id(&self, repo_tag: &str) -> Option<String> {
        let id = image_id(repo_tag)?;
        remembered().lock().unwrap_or_else(PoisonError::into_inner).push((self.0.clone(), id.clone()));
        Some(id)
    }
}

impl Drop for Namespace {
    /// Removes the engine tags and every image a build of the namespace made
    /// (builds label their images with their namespace), tagged or not.
    fn drop(&mut self) {
        let mut built = list_images(&["--filter", &format!("label=io.openshift.build.namespace={}", self.0)]);
        remembered().lock().unwrap_or_else(PoisonError::into_inner).retain(|(namespace, id)| {
            if namespace == &self.0 {
                built.push(id.clone());
            }
            namespace != &self.0
        });
        for tag in self.engine_tags() {
            built.extend(image_id(&tag));
            let _ = docker(&["rmi", &tag]);
        }
        remove_untagged(&built);
    }
}

/// `s2i` with a store and a namespace, progress drawing off.
pub fn s2i_in(store: &Path, namespace: &str) -> Command {
    let mut command = s2i();
    command.env("S2I_STORE", store).env("S2I_NAMESPACE", namespace);
    command
}

/// A child process killed (and reaped) when dropped, so that a failing test leaves none behind.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Run `s2i` with a store and a namespace.
pub fn run_in_store<I, S>(store: &Path, namespace: &str, args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Run::from(s2i_in(store, namespace).args(args).output().expect("s2i runs"))
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port()
}

/// A `docker-registry` (Debian's distribution 2.8) serving 127.0.0.1:PORT from
/// a temp dir, with deletes enabled; killed when dropped. Engines push to it
/// too: Docker talks plain HTTP to loopback registries, and `cargo xtask
/// podman` tells Podman to. Fails (never skips) when the program is missing.
pub struct Registry {
    /// `127.0.0.1:PORT`.
    pub host: String,
    /// Its access and error log.
    pub log: PathBuf,
    child: std::process::Child,
    pushed: std::sync::Mutex<Vec<String>>,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// A registry without authentication.
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// A registry with basic authentication from an htpasswd line (`user:bcrypt`).
    pub fn start_with(htpasswd: Option<&str>) -> Self {
        Self::start_with_auth(htpasswd, None)
    }

    /// A registry that wants bearer tokens from `tokens`.
    pub fn start_with_tokens(tokens: &TokenServer) -> Self {
        Self::start_with_auth(None, Some(tokens))
    }

    fn start_with_auth(htpasswd: Option<&str>, tokens: Option<&TokenServer>) -> Self {
        Self::start_on(htpasswd, tokens, free_port())
    }

    fn start_on(htpasswd: Option<&str>, tokens: Option<&TokenServer>, port: u16) -> Self {
        let program = "docker-registry";
        let found = std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
            .unwrap_or(false);
        assert!(
            found,
            "{program} is not installed: install it with `cargo xtask packages` (Debian package docker-registry)"
        );
        let dir = tempfile::tempdir().unwrap();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if let Some(line) = htpasswd {
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, format!("{line}\n")).unwrap();
            config.push_str(&format!("auth:\n  htpasswd:\n    realm: s2i-test\n    path: {}\n", file.display()));
        }
        if let Some(tokens) = tokens {
            config.push_str(&format!(
                "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: {TOKEN_SERVICE}\n    issuer: {TOKEN_ISSUER}\n    rootcertbundle: {}\n",
                tokens.port,
                tokens.certificate.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = dir.path().join("registry.log");
        let log_file = std::fs::File::create(&log).unwrap();
        let child = Command::new(program)
            .arg("serve")
            .arg(&config_path)
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .expect("docker-registry starts");
        let registry =
            Registry { host: format!("127.0.0.1:{port}"), log, child, pushed: Default::default(), _dir: dir };
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while registry.get("/v2/", "").0 == 0 {
            assert!(std::time::Instant::now() < deadline, "the registry never answered: {}", registry.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    /// A plain HTTP GET (no authentication): status (0 when unreachable), headers and body.
    pub fn get(&self, path: &str, accept: &str) -> (u16, String, String) {
        self.get_as(path, accept, None)
    }

    /// A plain HTTP GET, with Basic authentication as `(user, password)` when given.
    pub fn get_as(&self, path: &str, accept: &str, basic: Option<(&str, &str)>) -> (u16, String, String) {
        use base64::Engine;
        let Ok(mut stream) = TcpStream::connect(&self.host) else { return (0, String::new(), String::new()) };
        let accept = if accept.is_empty() { String::new() } else { format!("Accept: {accept}\r\n") };
        let authorization = basic.map_or_else(String::new, |(user, password)| {
            let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            format!("Authorization: Basic {encoded}\r\n")
        });
        let request = format!("GET {path} HTTP/1.0\r\nHost: {}\r\n{accept}{authorization}\r\n", self.host);
        if stream.write_all(request.as_bytes()).is_err() {
            return (0, String::new(), String::new());
        }
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        (status, head.to_owned(), body.to_owned())
    }

    /// The manifest digest of `repo:tag` (Docker's or OCI's, as the engine pushed it), if the tag exists.
    pub fn digest_of(&self, repo: &str, tag: &str) -> Option<String> {
        self.digest_as(repo, tag, None)
    }

    /// [`Registry::digest_of`], asking with Basic authentication as `(user, password)` when given.
    pub fn digest_as(&self, repo: &str, tag: &str, basic: Option<(&str, &str)>) -> Option<String> {
        // Docker pushes Docker manifests, Podman OCI ones.
        let accept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json";
        let (status, head, _) = self.get_as(&format!("/v2/{repo}/manifests/{tag}"), accept, basic);
        if status != 200 {
            return None;
        }
        head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("docker-content-digest").then(|| value.trim().to_owned())
        })
    }

    /// The registry's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Push a local image to `repo:tag` of this registry; returns the pushed name.
    pub fn push(&self, image: &str, repo_tag: &str) -> String {
        let name = format!("{}/{repo_tag}", self.host);
        docker_ok(&["tag", image, &name]);
        self.pushed.lock().unwrap().push(name.clone());
        docker_ok(&["push", &name]);
        name
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        for name in self.pushed.lock().unwrap().iter() {
            let _ = docker(&["rmi", name]);
        }
        // A push leaves the engine a digest reference (`host/repo@sha256:…`)
        // that outlives the tag; this registry's port makes them ours.
        let listing = docker(&["images", "--digests", "--format", "{{.Repository}}@{{.Digest}}"]);
        let prefix = format!("{}/", self.host);
        for reference in String::from_utf8_lossy(&listing.stdout).lines() {
            if reference.starts_with(&prefix) && !reference.ends_with("@<none>") {
                let _ = docker(&["rmi", reference]);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TLS server configuration (rustls, ring) presenting `cert`.
pub fn tls_server_config(cert: &rcgen::Certificate, key: &rcgen::KeyPair) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        )
        .unwrap();
    Arc::new(config)
}

/// A report as one line: words joined by single spaces, miette's wrapping
/// and gutter (`│`) removed, so that phrases can be matched whatever the width.
pub fn flat(text: &str) -> String {
    text.split_whitespace().filter(|word| *word != "│").collect::<Vec<_>>().join(" ")
}

/// The `service` of the token-authenticated test registry.
pub const TOKEN_SERVICE: &str = "s2i-test-registry";
/// The issuer its tokens name.
pub const TOKEN_ISSUER: &str = "s2i-test-issuer";

/// A token service (the `realm` of a registry's `Bearer` challenge) on
/// 127.0.0.1: checks Basic credentials, then issues an ES256-signed JWT for
/// whatever scope is asked, with a fresh key whose self-signed certificate the
/// registry is configured to trust. Stops when dropped.
pub struct TokenServer {
    pub port: u16,
    /// The certificate (PEM) for the registry's `rootcertbundle`.
    pub certificate: PathBuf,
    /// Each token request: `user-agent | scope… | authorized`.
    pub requests: Arc<std::sync::Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    _dir: tempfile::TempDir,
}

impl TokenServer {
    /// Serve tokens to `user:password`.
    pub fn start(user: &str, password: &str) -> Self {
        use base64::Engine;
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["s2i-test-token".to_owned()]).unwrap().self_signed(&key).unwrap();
        let certificate = dir.path().join("token.pem");
        std::fs::write(&certificate, cert.pem()).unwrap();
        let rng = ring::rand::SystemRandom::new();
        let signer = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.serialize_der(),
            &rng,
        )
        .unwrap();
        let cert_der = base64::engine::general_purpose::STANDARD.encode(cert.der());
        let expected =
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")));
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (stop_flag, log) = (stop.clone(), requests.clone());
        std::thread::spawn(move || {
            let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            for stream in listener.incoming() {
                if stop_flag.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let (mut authorization, mut agent) = (String::new(), String::new());
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                        break;
                    }
                    if let Some((name, value)) = header.split_once(':') {
                        match name.trim().to_ascii_lowercase().as_str() {
                            "authorization" => authorization = value.trim().to_owned(),
                            "user-agent" => agent = value.trim().to_owned(),
                            _ => {}
                        }
                    }
                }
                let target = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let query = target.split_once('?').map_or("", |(_, q)| q);
                let scopes: Vec<String> = query
                    .split('&')
                    .filter_map(|pair| pair.split_once('='))
                    .filter(|(k, _)| *k == "scope")
                    .map(|(_, v)| percent_decode(v))
                    .collect();
                let authorized = authorization == expected;
                log.lock().unwrap().push(format!("{agent} | {} | {authorized}", scopes.join(" ")));
                let response = if !authorized {
                    "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned()
                } else {
                    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
                    let access: Vec<serde_json::Value> = scopes
                        .iter()
                        .flat_map(|s| s.split(' '))
                        .filter_map(|scope| {
                            let (kind, rest) = scope.split_once(':')?;
                            let (name, actions) = rest.rsplit_once(':')?;
                            Some(serde_json::json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
                        })
                        .collect();
                    let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "x5c": [cert_der]});
                    let claims = serde_json::json!({
                        "iss": TOKEN_ISSUER, "sub": "tester", "aud": TOKEN_SERVICE,
                        "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", log.lock().unwrap().len()),
                        "access": access,
                    });
                    let signing_input =
                        format!("{}.{}", b64.encode(header.to_string()), b64.encode(claims.to_string()));
                    let signature = signer.sign(&rng, signing_input.as_bytes()).unwrap();
                    let token = format!("{signing_input}.{}", b64.encode(signature.as_ref()));
                    let body =
                        serde_json::json!({"token": token, "access_token": token, "expires_in": 300}).to_string();
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                let _ = stream.write_all(response.as_bytes());
            }
        });
        TokenServer { port, certificate, requests, stop, _dir: dir }
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => out.push(byte),
                    Err(_) => out.extend_from_slice(&bytes[i..i + 3]),
                }
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
