//! Who owns what a build leaves on the machine, and removing what a killed
//! process left.
//!
//! A build's containers and its working directory carry their owner: the
//! process that made them, told apart by its pid, the kernel's boot ID and
//! the process's start time (so that a reused pid is another process), and
//! its host name (so that processes of other machines sharing an engine are
//! never judged from here). Containers carry it in the [`OWNER_LABEL`]
//! label, working directories in an [`OWNER_FILE`] and in their name
//! (`s2i-build-PID-START-…`).
//!
//! [`remove_leftovers`] removes, with one filtered container listing and one
//! read of the temp directory, what processes that are gone left: a SIGKILL
//! or a crash gives a process no chance to clean up, the next `s2i` does.
//! Nothing owned by a live process, or by one this machine cannot check, is
//! touched.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::events::{BuildEvent, EventSink, EventSinkExt};
use crate::runtime::ContainerRuntime;

/// The label naming the process that created a container (see [`ProcessOwner`]'s text form).
pub const OWNER_LABEL: &str = "io.openshift.s2i.owner";
/// The file in a working directory that names its owner.
pub const OWNER_FILE: &str = ".s2i-owner";
/// How the names of build working directories begin.
pub const WORKDIR_PREFIX: &str = "s2i-build-";

/// A process, identified well enough to tell whether it still runs.
///
/// Its text form is `pid=… host=… boot=… start=…`, the start being the
/// process's start time in clock ticks since boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessOwner {
    /// Process ID.
    pub pid: u32,
    /// Host name.
    pub host: String,
    /// The kernel's boot ID (empty when unknown).
    pub boot: String,
    /// Start time of the process, in clock ticks since boot (0 when unknown).
    pub start: u64,
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// The start time (field 22 of `/proc/PID/stat`) and whether the process is a zombie.
fn process_stat(pid: u32) -> Option<(u64, bool)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = *fields.first()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((start, state == "Z"))
}

fn host_name() -> String {
    read_trimmed("/proc/sys/kernel/hostname")
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "localhost".into())
}

impl ProcessOwner {
    /// This process.
    pub fn current() -> Self {
        let pid = std::process::id();
        Self {
            pid,
            host: host_name(),
            boot: read_trimmed("/proc/sys/kernel/random/boot_id").unwrap_or_default(),
            start: process_stat(pid).map_or(0, |(start, _)| start),
        }
    }

    /// Read the text form back.
    pub fn parse(text: &str) -> Option<Self> {
        let mut owner = Self { pid: 0, host: String::new(), boot: String::new(), start: 0 };
        for word in text.split_whitespace() {
            let (key, value) = word.split_once('=')?;
            match key {
                "pid" => owner.pid = value.parse().ok()?,
                "host" => owner.host = value.to_owned(),
                "boot" => owner.boot = value.to_owned(),
                "start" => owner.start = value.parse().ok()?,
                _ => {}
            }
        }
        (owner.pid != 0).then_some(owner)
    }

    /// Whether this process still runs; `None` when this machine cannot tell
    /// (another host, or no `/proc`). A process of an earlier boot, a pid
    /// that is not alive (or a zombie), and a pid alive with another start
    /// time are gone.
    pub fn is_running_here(&self) -> Option<bool> {
        let here = Self::current();
        if self.host != here.host || self.boot.is_empty() || here.start == 0 {
            return None;
        }
        if self.boot != here.boot {
            // The machine restarted since: every process of that boot is gone.
            return Some(false);
        }
        Some(match process_stat(self.pid) {
            Some((start, zombie)) => start == self.start && !zombie,
            None => false,
        })
    }

    /// Whether this is the current process.
    pub fn is_me(&self) -> bool {
        let here = Self::current();
        self.pid == here.pid && self.host == here.host && self.start == here.start
    }

    /// Whether this process is certainly gone (not merely unknown).
    fn is_gone(&self) -> bool {
        self.is_running_here() == Some(false)
    }

    /// The name prefix of this process's working directories.
    pub(crate) fn workdir_prefix(&self) -> String {
        format!("{WORKDIR_PREFIX}{}-{}-", self.pid, self.start)
    }

    /// The owner a working directory's name gives, for one without its owner file
    /// (the file is written right after the directory is made).
    fn of_workdir_name(name: &str) -> Option<Self> {
        let rest = name.strip_prefix(WORKDIR_PREFIX)?;
        let mut parts = rest.splitn(3, '-');
        let pid = parts.next()?.parse().ok()?;
        let start = parts.next()?.parse().ok()?;
        parts.next()?;
        // Names carry no boot: one of this boot is assumed, so that only a
        // pid gone or reused decides.
        let here = Self::current();
        Some(Self { pid, host: here.host, boot: here.boot, start })
    }
}

impl fmt::Display for ProcessOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid={} host={} boot={} start={}", self.pid, self.host, self.boot, self.start)
    }
}

/// The labels of a commit, with [`OWNER_LABEL`] emptied: engines merge a
/// container's labels into the image committed from it, and an image must
/// not carry the build process (nor give its containers a dead owner for
/// [`remove_leftovers`] to remove). An empty value names no owner.
pub(crate) fn without_owner(labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut labels = labels.clone();
    labels.insert(OWNER_LABEL.to_owned(), String::new());
    labels
}

/// What [`remove_leftovers`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Leftovers {
    /// IDs of the containers removed.
    pub containers: Vec<String>,
    /// The working directories removed.
    pub temp_dirs: Vec<PathBuf>,
    /// The pids of the processes that had left them, sorted.
    pub pids: Vec<u32>,
}

impl Leftovers {
    /// Whether nothing was removed.
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty() && self.temp_dirs.is_empty()
    }
}

/// Remove the containers (one listing of those with [`OWNER_LABEL`]) and the
/// working directories under `temp_root` (entries named [`WORKDIR_PREFIX`]…)
/// whose owner process is gone, and report it as
/// [`BuildEvent::LeftoversRemoved`]; failures are warnings, never errors:
/// whatever could not be removed now is tried again by the next run.
pub async fn remove_leftovers(runtime: &dyn ContainerRuntime, temp_root: &Path, events: &dyn EventSink) -> Leftovers {
    let mut removed = Leftovers::default();
    let mut pids = BTreeSet::new();
    match runtime.labelled_containers(OWNER_LABEL).await {
        Ok(containers) => {
            for container in containers {
                let Some(owner) = container.labels.get(OWNER_LABEL).and_then(|text| ProcessOwner::parse(text)) else {
                    continue;
                };
                if !owner.is_gone() {
                    continue;
                }
                match runtime.remove_container(&container.id).await {
                    Ok(()) => {
                        pids.insert(owner.pid);
                        removed.containers.push(container.id);
                    }
                    Err(e) if e.is_not_found() => {}
                    Err(e) => events.warn(format!(
                        "could not remove container {} left by a killed s2i (pid {}): {e}",
                        container.name, owner.pid
                    )),
                }
            }
        }
        Err(e) => events.warn(format!("could not look for containers left by killed s2i processes: {e}")),
    }
    for (dir, owner) in abandoned_workdirs(temp_root) {
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {
                pids.insert(owner.pid);
                removed.temp_dirs.push(dir);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                events.warn(format!("could not remove {} left by a killed s2i (pid {}): {e}", dir.display(), owner.pid))
            }
        }
    }
    removed.pids = pids.into_iter().collect();
    if !removed.is_empty() {
        events.emit(BuildEvent::LeftoversRemoved {
            containers: removed.containers.len(),
            temp_dirs: removed.temp_dirs.len(),
            pids: removed.pids.clone(),
        });
    }
    removed
}

/// The working directories under `root` whose owner is gone.
fn abandoned_workdirs(root: &Path) -> Vec<(PathBuf, ProcessOwner)> {
    let Ok(entries) = std::fs::read_dir(root) else { return Vec::new() };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str().filter(|n| n.starts_with(WORKDIR_PREFIX)) else { continue };
        // Only real directories: never follow a link out of the temp dir.
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = entry.path();
        let owner = match std::fs::read_to_string(path.join(OWNER_FILE)) {
            // A file that names no process (a directory kept with --save-temp-dir) is left alone.
            Ok(text) => ProcessOwner::parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ProcessOwner::of_workdir_name(name),
            Err(_) => None,
        };
        let Some(owner) = owner else { continue };
        if owner.is_gone() {
            found.push((path, owner));
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_form_round_trips_and_liveness_is_judged() {
        let me = ProcessOwner::current();
        assert_eq!(ProcessOwner::parse(&me.to_string()), Some(me.clone()));
        assert!(me.is_me());
        assert_eq!(me.is_running_here(), Some(true), "{me:?}");
        let gone = ProcessOwner { pid: u32::MAX - 1, ..me.clone() };
        assert_eq!(gone.is_running_here(), Some(false));
        let reused = ProcessOwner { start: me.start + 1, ..me.clone() };
        assert_eq!(reused.is_running_here(), Some(false), "a reused pid is another process");
        let rebooted = ProcessOwner { boot: "another-boot".into(), ..me.clone() };
        assert_eq!(rebooted.is_running_here(), Some(false), "a process of an earlier boot");
        let elsewhere = ProcessOwner { host: "elsewhere".into(), ..me };
        assert_eq!(elsewhere.is_running_here(), None);
        assert_eq!(ProcessOwner::parse("nonsense"), None);
    }

    #[test]
    fn only_working_directories_of_gone_processes_are_abandoned() {
        let root = tempfile::tempdir().unwrap();
        let me = ProcessOwner::current();
        let gone = ProcessOwner { pid: u32::MAX - 1, ..me.clone() };
        let make = |name: &str, owner: Option<&ProcessOwner>| {
            let dir = root.path().join(name);
            std::fs::create_dir(&dir).unwrap();
            if let Some(owner) = owner {
                std::fs::write(dir.join(OWNER_FILE), owner.to_string()).unwrap();
            }
            dir
        };
        let dead = make(&format!("{}abc", gone.workdir_prefix()), Some(&gone));
        let dead_without_file = make(&format!("{}def", gone.workdir_prefix()), None);
        make(&format!("{}ghi", me.workdir_prefix()), Some(&me));
        make(&format!("{}jkl", me.workdir_prefix()), None);
        // Not ours: another prefix, a name that does not parse, another host's.
        make("s2i-router-xyz", Some(&gone));
        make(&format!("{WORKDIR_PREFIX}nonsense"), None);
        let kept = make(&format!("{}kept", gone.workdir_prefix()), None);
        std::fs::write(kept.join(OWNER_FILE), "kept (--save-temp-dir)").unwrap();
        let remote = ProcessOwner { host: "elsewhere".into(), ..gone.clone() };
        make(&format!("{}mno", remote.workdir_prefix()), Some(&remote));
        std::fs::write(root.path().join(format!("{}file", gone.workdir_prefix())), "").unwrap();

        let found: Vec<PathBuf> = abandoned_workdirs(root.path()).into_iter().map(|(p, _)| p).collect();
        let mut expected = vec![dead, dead_without_file];
        expected.sort();
        assert_eq!(found, expected);
    }
}
