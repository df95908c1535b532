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
use std::path::{Path, PathBuf};

use crate::events::{BuildEvent, EventSink, EventSinkExt};
use crate::runtime::ContainerRuntime;

/// The label naming the process that created a container (see [`ProcessOwner`]'s text form).
pub const OWNER_LABEL: &str = "io.openshift.s2i.owner";
/// The file in a working directory that names its owner.
pub const OWNER_FILE: &str = ".s2i-owner";
/// How the names of build working directories begin.
pub const WORKDIR_PREFIX: &str = "s2i-build-";

/// A process, identified well enough to tell whether it still runs: the
/// workspace's one notion of it, shared with the object store's lease holders
/// and the build executors.
pub use s2i_store::ProcessIdentity as ProcessOwner;

/// Whether `owner` is certainly gone (not merely unknown).
fn is_gone(owner: &ProcessOwner) -> bool {
    owner.is_running_here() == Some(false)
}

/// The name prefix of `owner`'s working directories.
pub(crate) fn workdir_prefix(owner: &ProcessOwner) -> String {
    format!("{WORKDIR_PREFIX}{}-{}-", owner.pid, owner.start)
}

/// The owner a working directory's name gives, for one without its owner file
/// (the file is written right after the directory is made).
fn owner_of_workdir_name(name: &str) -> Option<ProcessOwner> {
    let rest = name.strip_prefix(WORKDIR_PREFIX)?;
    let mut parts = rest.splitn(3, '-');
    let pid = parts.next()?.parse().ok()?;
    let start = parts.next()?.parse().ok()?;
    parts.next()?;
    // Names carry no boot: one of this boot is assumed, so that only a
    // pid gone or reused decides.
    let here = ProcessOwner::current();
    Some(ProcessOwner { pid, host: here.host, boot: here.boot, start })
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
                if !is_gone(&owner) {
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
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => owner_of_workdir_name(name),
            Err(_) => None,
        };
        let Some(owner) = owner else { continue };
        if is_gone(&owner) {
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
        let dead = make(&format!("{}abc", workdir_prefix(&gone)), Some(&gone));
        let dead_without_file = make(&format!("{}def", workdir_prefix(&gone)), None);
        make(&format!("{}ghi", workdir_prefix(&me)), Some(&me));
        make(&format!("{}jkl", workdir_prefix(&me)), None);
        // Not ours: another prefix, a name that does not parse, another host's.
        make("s2i-router-xyz", Some(&gone));
        make(&format!("{WORKDIR_PREFIX}nonsense"), None);
        let kept = make(&format!("{}kept", workdir_prefix(&gone)), None);
        std::fs::write(kept.join(OWNER_FILE), "kept (--save-temp-dir)").unwrap();
        let remote = ProcessOwner { host: "elsewhere".into(), ..gone.clone() };
        make(&format!("{}mno", workdir_prefix(&remote)), Some(&remote));
        std::fs::write(root.path().join(format!("{}file", workdir_prefix(&gone))), "").unwrap();

        let found: Vec<PathBuf> = abandoned_workdirs(root.path()).into_iter().map(|(p, _)| p).collect();
        let mut expected = vec![dead, dead_without_file];
        expected.sort();
        assert_eq!(found, expected);
    }
}
