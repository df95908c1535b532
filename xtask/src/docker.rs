//! `cargo xtask docker`: make a Docker engine available.
//!
//! If `docker info` answers, there is nothing to do. Otherwise Debian's
//! `docker.io` is installed when `dockerd` is missing, and `dockerd` is
//! started in the background, in its own process group so that it outlives
//! xtask and ignores the terminal's Ctrl-C, logging to a file.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{cmd, workspace};

/// How long a freshly started `dockerd` (or Podman service) gets to answer.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Makes sure `docker info` works, installing and starting the engine if
/// needed, and says what it did.
pub(crate) fn ensure_engine() -> Result<()> {
    if let Some(version) = engine_version() {
        println!("docker: engine {version} is running");
        return Ok(());
    }
    println!("docker: no engine answers `docker info`");

    if cmd::find_in_path("dockerd").is_none() || cmd::find_in_path("docker").is_none() {
        let mut packages = vec!["docker.io"];
        if !Path::new("/bin/busybox").exists() {
            packages.push("busybox-static");
        }
        println!("docker: dockerd is not installed; installing {packages:?} with apt");
        apt_install(&packages)?;
        // The package may have started the daemon itself.
        if let Some(version) = engine_version() {
            println!("docker: engine {version} is running (started by the package)");
            return Ok(());
        }
    }

    let (child, log) = if dockerd_is_running() {
        println!("docker: a dockerd process exists but does not answer yet; waiting for it");
        (None, None)
    } else {
        let (child, log) = start_dockerd()?;
        (Some(child), Some(log))
    };
    let mut child = child;
    let version = wait_for("dockerd", child.as_mut(), log.as_deref(), engine_version)?;
    println!("docker: engine {version}");
    Ok(())
}

/// The engine's version if `docker info` answers.
fn engine_version() -> Option<String> {
    let out = cmd::docker()
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !version.is_empty()).then_some(version)
}

/// Installs Debian packages (`apt-get update` first). Needs root.
pub(crate) fn apt_install(packages: &[&str]) -> Result<()> {
    cmd::run(Command::new("apt-get").arg("update"))
        .context("`apt-get update` failed (installing packages needs root)")?;
    cmd::run(Command::new("apt-get").env("DEBIAN_FRONTEND", "noninteractive").args(["install", "-y"]).args(packages))
        .with_context(|| format!("cannot install {packages:?} with apt"))
}

/// Whether some process named `dockerd` exists.
fn dockerd_is_running() -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries
        .flatten()
        .any(|entry| std::fs::read_to_string(entry.path().join("comm")).is_ok_and(|comm| comm.trim() == "dockerd"))
}

/// Starts `dockerd` detached from xtask, logging to a file.
fn start_dockerd() -> Result<(Child, PathBuf)> {
    let (log, log_path) = open_log("s2i-dockerd.log")?;
    let mut dockerd = Command::new("dockerd");
    dockerd
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own process group: Ctrl-C on xtask's terminal does not reach it.
        .process_group(0);
    let child = dockerd.spawn().context("cannot start dockerd")?;
    println!("docker: started dockerd (pid {}), logging to {}", child.id(), log_path.display());
    Ok((child, log_path))
}

/// The log of a server xtask starts: `/var/log/NAME`, or the target
/// directory when `/var/log` is not writable.
pub(crate) fn open_log(name: &str) -> Result<(File, PathBuf)> {
    let open = |path: &Path| OpenOptions::new().create(true).append(true).open(path);
    let preferred = Path::new("/var/log").join(name);
    if let Ok(file) = open(&preferred) {
        return Ok((file, preferred));
    }
    let fallback = workspace::target_dir()?.join(name);
    std::fs::create_dir_all(fallback.parent().expect("a file in a directory"))?;
    let file = open(&fallback).with_context(|| format!("cannot open {}", fallback.display()))?;
    Ok((file, fallback))
}

/// Polls `answer` until it gives something (returned, with how long it took),
/// the server `program` that we started as `child` exits, or
/// [`START_TIMEOUT`] passes.
pub(crate) fn wait_for(
    program: &str,
    mut child: Option<&mut Child>,
    log: Option<&Path>,
    answer: impl Fn() -> Option<String>,
) -> Result<String> {
    let started = Instant::now();
    let log_tail = || match log {
        Some(log) => format!("its log {} ends with:\n{}", log.display(), tail(log, 4096)),
        None => "it was not started by xtask; see its own log".to_owned(),
    };
    loop {
        if let Some(answer) = answer() {
            return Ok(format!("{answer} is running (answered after {})", cmd::human(started.elapsed())));
        }
        if let Some(child) = child.as_mut()
            && let Some(status) = child.try_wait()?
        {
            bail!("{program} exited ({status}) before answering; {}", log_tail());
        }
        if started.elapsed() > START_TIMEOUT {
            bail!("{program} did not answer within {}s; {}", START_TIMEOUT.as_secs(), log_tail());
        }
        sleep(Duration::from_millis(500));
    }
}

/// The last `max` bytes of a file, as text.
fn tail(path: &Path, max: u64) -> String {
    let read = || -> std::io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(max)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    read().unwrap_or_else(|err| format!("(cannot read {}: {err})", path.display()))
}
