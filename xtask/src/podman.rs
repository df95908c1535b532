//! `cargo xtask podman`: make Podman's Docker-compatible API available.
//!
//! Podman has no daemon: `podman system service` serves the API on a unix
//! socket. xtask runs it on a socket of its own, [`SOCKET`], so that it never
//! takes the place of a system service, with two configuration files it
//! writes under the target directory and passes in the environment:
//!
//! - `containers.conf` (`CONTAINERS_CONF`) sets `default_ulimits`. Podman's
//!   default raises `nofile` and `nproc` to the kernel's maximum, and
//!   sandboxes (like the one CI runs in) refuse that: every container then
//!   fails with `error setting rlimit … operation not permitted`. It also
//!   picks `runc` as the OCI runtime: Podman prefers `crun` when both are
//!   installed, and crun refuses hosts whose cgroups are v1 or hybrid (as
//!   CI's are) with `cgroups in hybrid mode not supported`.
//! - `registries.conf` (`CONTAINERS_REGISTRIES_CONF`) resolves no short names
//!   on the network and marks the loopback registries ([`LOOPBACK_REGISTRIES`])
//!   insecure: Docker talks plain HTTP to any loopback registry, Podman only
//!   to those it is told about. A `location` without a port matches every port
//!   of that host in Podman's prefix matching, so the tests' registries may
//!   listen on any free port.
//!
//! Like `cargo xtask docker`, a started service runs on in its own process
//! group, logging to a file; its pid is kept in `target/podman/service.pid`
//! for `cargo xtask podman --stop`. [`Service::start_for_ci`] instead starts
//! one that CI stops when its Podman step ends.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{cmd, docker, http, workspace};

/// The unix socket xtask's Podman service listens on.
pub(crate) const SOCKET: &str = "/run/s2i-podman/podman.sock";
/// [`SOCKET`] as a `DOCKER_HOST`.
pub(crate) const HOST: &str = "unix:///run/s2i-podman/podman.sock";
/// The hosts whose registries (on any port) Podman may reach over plain
/// HTTP, as Docker does for loopback registries.
const LOOPBACK_REGISTRIES: &[&str] = &["127.0.0.1", "localhost"];
/// Limits of the containers the service starts: what the sandbox allows.
const ULIMITS: &[&str] = &["nofile=4096:4096", "nproc=4096:4096"];

/// `cargo xtask podman`: start the service unless it answers, and leave it running.
pub(crate) fn ensure_service() -> Result<()> {
    let service = Service::start(Detach::Yes)?;
    if let Some(child) = &service.started {
        let pid_file = pid_file()?;
        std::fs::write(&pid_file, format!("{}\n", child.id()))
            .with_context(|| format!("cannot write {}", pid_file.display()))?;
    }
    Ok(())
}

/// `cargo xtask podman --stop`: stop the service `cargo xtask podman` started.
pub(crate) fn stop_service() -> Result<()> {
    let pid_file = pid_file()?;
    let Ok(text) = std::fs::read_to_string(&pid_file) else {
        println!("podman: no service started by `cargo xtask podman` ({} is missing)", pid_file.display());
        return Ok(());
    };
    let pid: u32 = text.trim().parse().with_context(|| format!("{} holds no pid", pid_file.display()))?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    if comm.trim() != "podman" {
        println!("podman: the service (pid {pid}) is gone");
    } else {
        terminate(pid, || Ok(gone(pid)))?;
    }
    std::fs::remove_file(&pid_file).with_context(|| format!("cannot remove {}", pid_file.display()))
}

/// Where `cargo xtask podman` keeps the pid of the service it started.
fn pid_file() -> Result<PathBuf> {
    Ok(config_dir()?.join("service.pid"))
}

/// Whether process `pid` has exited: no longer listed, or a zombie (a
/// service `cargo xtask ci` started is its child, reaped only when it exits).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `PID (COMM) STATE …`; COMM may hold spaces and parentheses.
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}

/// Send SIGTERM to `pid` (Podman then shuts down cleanly and removes its
/// socket) and wait until `exited` says so.
fn terminate(pid: u32, mut exited: impl FnMut() -> Result<bool>) -> Result<()> {
    let status = Command::new("kill").args(["-TERM", &pid.to_string()]).status()?;
    if !status.success() {
        bail!("cannot signal the Podman service (pid {pid})");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while !exited()? {
        if Instant::now() > deadline {
            bail!("the Podman service (pid {pid}) did not stop within 20s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!("podman: stopped the service (pid {pid})");
    Ok(())
}

/// Whether a service started by xtask outlives it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Detach {
    /// In its own process group: Ctrl-C on xtask's terminal does not reach it.
    Yes,
    /// In xtask's process group, stopped by [`Service::stop`].
    No,
}

/// A Podman API service that answers on [`SOCKET`].
pub(crate) struct Service {
    /// The service process, when this xtask started it.
    started: Option<Child>,
}

impl Service {
    /// The service for a CI step: the running one, or one started now that
    /// [`Service::stop`] ends (Ctrl-C ends it too).
    pub(crate) fn start_for_ci() -> Result<Self> {
        Self::start(Detach::No)
    }

    fn start(detach: Detach) -> Result<Self> {
        if let Some(version) = version() {
            println!("podman: service {version} answers on {HOST}");
            return Ok(Self { started: None });
        }
        if cmd::find_in_path("podman").is_none() {
            println!("podman: podman is not installed; installing it with apt");
            docker::apt_install(&["podman"])?;
        }
        let config = write_config()?;
        let socket = Path::new(SOCKET);
        let dir = socket.parent().expect("the socket is in a directory");
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {} (this needs root)", dir.display()))?;
        if socket.exists() {
            // Left by a service that is gone: nothing answered above.
            std::fs::remove_file(socket).with_context(|| format!("cannot remove the stale {SOCKET}"))?;
        }

        let (log, log_path) = docker::open_log("s2i-podman.log")?;
        let mut service = Command::new("podman");
        service
            .args(["system", "service", "--time=0", HOST])
            .env("CONTAINERS_CONF", config.join("containers.conf"))
            .env("CONTAINERS_REGISTRIES_CONF", config.join("registries.conf"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        if detach == Detach::Yes {
            service.process_group(0);
        }
        let mut child = service.spawn().context("cannot start `podman system service`")?;
        println!(
            "podman: started `{}` (pid {}), configured by {}, logging to {}",
            cmd::display(&service),
            child.id(),
            config.display(),
            log_path.display()
        );
        match docker::wait_for("podman system service", Some(&mut child), Some(&log_path), version) {
            Ok(running) => println!("podman: service {running}"),
            Err(err) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(err);
            }
        }
        Ok(Self { started: Some(child) })
    }

    /// Stop the service if this xtask started it; leave one that was running before.
    pub(crate) fn stop(mut self) -> Result<()> {
        let Some(mut child) = self.started.take() else {
            return Ok(());
        };
        let result = terminate(child.id(), || Ok(child.try_wait()?.is_some()));
        if result.is_err() {
            let _ = child.kill();
            let _ = child.wait();
        }
        result
    }
}

/// Whether a Podman service answers on [`SOCKET`].
pub(crate) fn answers() -> bool {
    version().is_some()
}

/// `Podman Engine 4.3.1` when the service answers on [`SOCKET`].
fn version() -> Option<String> {
    let ping = http::get_unix(Path::new(SOCKET), "/_ping").ok()?;
    if ping.status != 200 {
        return None;
    }
    let version = http::get_unix(Path::new(SOCKET), "/version").ok()?;
    let version: serde_json::Value = serde_json::from_str(&version.body).ok()?;
    let components = version["Components"].as_array()?;
    let podman = components.iter().find(|c| c["Name"].as_str().is_some_and(|n| n.contains("Podman")))?;
    Some(format!("{} {}", podman["Name"].as_str()?, podman["Version"].as_str().unwrap_or("?")))
}

/// `target/podman/`, created if needed.
fn config_dir() -> Result<PathBuf> {
    let dir = workspace::target_dir()?.join("podman");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// Writes `containers.conf` and `registries.conf` into [`config_dir`]; returns the directory.
fn write_config() -> Result<PathBuf> {
    let dir = config_dir()?;
    for (name, text) in [("containers.conf", containers_conf()), ("registries.conf", registries_conf())] {
        let path = dir.join(name);
        let mut file = std::fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
        file.write_all(text.as_bytes())?;
    }
    Ok(dir)
}

fn containers_conf() -> String {
    let limits: Vec<String> = ULIMITS.iter().map(|limit| format!("{limit:?}")).collect();
    format!(
        "# Written by `cargo xtask podman` (xtask/src/podman.rs) for its Podman service.\n\
         [containers]\n\
         # Podman's default (the kernel's maximum) is refused in sandboxes.\n\
         default_ulimits = [{}]\n\
         [engine]\n\
         # crun refuses hosts with cgroups v1 or hybrid hierarchies (\"cgroups in hybrid\n\
         # mode not supported\"); runc (installed with docker.io) runs on all of them.\n\
         runtime = \"runc\"\n",
        limits.join(", ")
    )
}

fn registries_conf() -> String {
    let mut text = String::from(
        "# Written by `cargo xtask podman` (xtask/src/podman.rs) for its Podman service.\n\
         # Short names are never looked up on the network.\n\
         unqualified-search-registries = []\n",
    );
    for host in LOOPBACK_REGISTRIES {
        text.push_str(&format!(
            "\n# Loopback registries on any port (the tests' ones): plain HTTP, as Docker allows.\n\
             [[registry]]\nlocation = \"{host}\"\ninsecure = true\n"
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_is_the_socket() {
        assert_eq!(HOST.strip_prefix("unix://"), Some(SOCKET));
    }

    #[test]
    fn config_files_are_toml_podman_reads() {
        let conf = containers_conf();
        assert!(conf.contains(r#"default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]"#), "{conf}");
        assert!(conf.ends_with("runtime = \"runc\"\n"), "{conf}");
        let registries = registries_conf();
        assert_eq!(registries.matches("[[registry]]").count(), LOOPBACK_REGISTRIES.len());
        assert!(registries.contains("location = \"127.0.0.1\"\ninsecure = true"), "{registries}");
    }
}
