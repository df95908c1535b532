//! Nothing is left behind after a kill: a build killed with SIGKILL leaves
//! its container and temp dir, and the next `s2i` removes them (and says so)
//! without touching a live build's; an engine that goes away mid-build is
//! reported as such.

mod support;

use std::io::{BufRead, BufReader};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use support::*;

/// The tests of this file run one at a time: each one's `s2i` runs remove
/// what killed processes left, which would take the other's evidence.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An assemble that says it started, then sleeps.
fn sleeping_source() -> tempfile::TempDir {
    source(&[("index.html", "x"), (".s2i/bin/assemble", "#!/bin/sh\necho assemble-started >&2\nsleep 600\n")])
}

/// `s2i build` in the background, its stderr lines sent to the receiver.
fn spawn_build(command: &mut std::process::Command) -> (Killed, Receiver<String>) {
    let mut child: Child = command.stderr(Stdio::piped()).stdout(Stdio::null()).spawn().expect("s2i runs");
    let stderr = child.stderr.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    (Killed(child), receiver)
}

/// Wait for a line containing `marker`; the lines seen, `marker`'s last.
fn wait_for(receiver: &Receiver<String>, marker: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    loop {
        match receiver.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                let found = line.contains(marker);
                seen.push(line);
                if found {
                    return seen;
                }
            }
            Err(_) => panic!("s2i never printed {marker:?}; it printed:\n{}", seen.join("\n")),
        }
    }
}

/// The rest of a finished process's stderr.
fn rest(receiver: &Receiver<String>) -> String {
    receiver.iter().collect::<Vec<_>>().join("\n")
}

/// The working directories of process `pid` in the temp dir.
fn temp_dirs_of(pid: u32) -> Vec<PathBuf> {
    let prefix = format!("s2i-build-{pid}-");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn the_next_run_removes_what_a_killed_build_left_and_spares_a_live_one() {
    let _serial = serial();
    let (killed_builder, live_builder) = (Builder::alias("busybox-builder"), Builder::alias("busybox-builder"));
    let (killed_src, live_src) = (sleeping_source(), sleeping_source());

    let (mut killed, killed_lines) =
        spawn_build(s2i().args(["build", killed_src.path().to_str().unwrap(), &killed_builder.image]));
    let (mut live, live_lines) =
        spawn_build(s2i().args(["build", live_src.path().to_str().unwrap(), &live_builder.image]));
    wait_for(&killed_lines, "assemble-started");
    wait_for(&live_lines, "assemble-started");
    let pid = killed.0.id();
    assert_eq!(killed_builder.containers().len(), 1, "the killed build's container exists");
    assert_eq!(temp_dirs_of(pid).len(), 1, "the killed build's temp dir exists");

    killed.0.kill().unwrap();
    killed.0.wait().unwrap();
    assert_eq!(killed_builder.containers().len(), 1, "SIGKILL gives s2i no chance to clean up");

    // Any run that talks to the engine cleans up; a quick build here.
    let out = Image::fresh("after-kill");
    let src = source(&[("index.html", "x")]);
    let run = run_s2i(["build", src.path().to_str().unwrap(), &fixture("busybox-builder"), &out.0]).ok();
    assert!(
        run.stderr.contains(&format!("removed 1 container and 1 temp dir left by a killed s2i (pid {pid})")),
        "{}",
        run.stderr
    );
    killed_builder.assert_no_containers();
    assert!(temp_dirs_of(pid).is_empty(), "{:?}", temp_dirs_of(pid));
    assert_eq!(labels(&out.0)["io.openshift.s2i.owner"], "", "the image does not carry its build's owner");

    // The concurrent build's container was not touched: it is still running.
    assert_eq!(live_builder.containers().len(), 1, "a live build's container is never removed");
    assert!(live.0.try_wait().unwrap().is_none(), "the live build goes on");
    assert!(!temp_dirs_of(live.0.id()).is_empty());
    let live_pid = live.0.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &live_pid]).status().unwrap().success());
    let status = live.0.wait().unwrap();
    assert_eq!(status.code(), Some(143), "{}", rest(&live_lines));
    live_builder.assert_no_containers();
}

/// A unix socket that forwards every connection to the engine's, until it is cut.
struct EngineProxy {
    socket: PathBuf,
    stop: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<UnixStream>>>,
    _dir: tempfile::TempDir,
}

impl EngineProxy {
    fn start(engine: PathBuf) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("engine.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<Vec<UnixStream>>> = Arc::default();
        let (stop_flag, open) = (stop.clone(), connections.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop_flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(upstream) = UnixStream::connect(&engine) else { continue };
                let mut kept = open.lock().unwrap();
                kept.push(client.try_clone().unwrap());
                kept.push(upstream.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), upstream.try_clone().unwrap()),
                    (upstream.try_clone().unwrap(), client.try_clone().unwrap()),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    });
                }
            }
        });
        EngineProxy { socket, stop, connections, _dir: dir }
    }

    /// The engine "goes away": the socket disappears and every connection is cut.
    fn cut(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = UnixStream::connect(&self.socket);
        let _ = std::fs::remove_file(&self.socket);
        for stream in self.connections.lock().unwrap().iter() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// The engine's unix socket: `DOCKER_HOST`'s, else Docker's default.
fn engine_socket() -> PathBuf {
    match std::env::var("DOCKER_HOST") {
        Ok(host) if !host.is_empty() => {
            let path = host.strip_prefix("unix://").expect("the tests' engine is on a unix socket");
            Path::new(path).to_owned()
        }
        _ => PathBuf::from("/var/run/docker.sock"),
    }
}

#[test]
fn an_engine_that_goes_away_mid_build_is_named_as_such() {
    let _serial = serial();
    let builder = Builder::alias("busybox-builder");
    let src = sleeping_source();
    let proxy = EngineProxy::start(engine_socket());
    let host = format!("unix://{}", proxy.socket.display());
    let (mut build, lines) =
        spawn_build(s2i().env("DOCKER_HOST", &host).args(["build", src.path().to_str().unwrap(), &builder.image]));
    wait_for(&lines, "assemble-started");
    proxy.cut();
    let status = build.0.wait().unwrap();
    let stderr = flat(&rest(&lines));
    assert_ne!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("the container engine stopped answering during assemble"), "{stderr}");
    assert!(stderr.contains("start the engine again"), "the help says what to do: {stderr}");

    // The build could not remove its container; the next run does.
    assert_eq!(builder.containers().len(), 1);
    let src = source(&[("index.html", "x")]);
    let after = run_s2i(["build", src.path().to_str().unwrap(), &fixture("busybox-builder")]).ok();
    let _ = docker(&["rmi", after.stdout.trim()]);
    assert!(after.stderr.contains("left by a killed s2i"), "{}", after.stderr);
    builder.assert_no_containers();
}
