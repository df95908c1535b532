//! The backend's containers, kept as files: `<state>/containers/<id>/`
//! holds `state.json` (what the container is: image, labels, file system,
//! status), the runtime bundle (`config.json`, the generated `etc/` files,
//! the runtime's log); `<state>/names/<name>` links a name to its ID, made
//! atomically so that two processes never take one name. The runtime's own
//! state lives in `<state>/runtime`. Listing containers by label reads these
//! files, so it sees the containers of every s2i process of the user.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::rootfs::Rootfs;
use crate::spec::{Bind, Limits, Network};

/// Where a container is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub(crate) enum Status {
    /// Created, not started.
    Created,
    /// Started by the runtime process `pid` (of the host or of the helper).
    Running { pid: u32 },
    /// Its process ended.
    Exited { code: i64, oom_killed: bool, error: Option<String> },
}

/// How the processes of a container run (every process of an `ONBUILD`
/// build runs with the same).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RunSettings {
    pub(crate) network: Network,
    pub(crate) binds: Vec<Bind>,
    pub(crate) cap_drop: Vec<String>,
    pub(crate) no_new_privileges: bool,
    pub(crate) limits: Limits,
    pub(crate) shm_size: Option<i64>,
    pub(crate) hostname: String,
}

/// A container, as `state.json` records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ContainerState {
    pub(crate) id: String,
    pub(crate) name: String,
    /// The image ID.
    pub(crate) image: String,
    /// The image as the creator named it.
    pub(crate) image_name: String,
    pub(crate) labels: BTreeMap<String, String>,
    /// RFC 3339.
    pub(crate) created: String,
    pub(crate) rootfs: Rootfs,
    pub(crate) settings: RunSettings,
    /// The command, for the history of a commit.
    pub(crate) command: Vec<String>,
    /// The first program to look up before starting, and how.
    pub(crate) argv0: String,
    pub(crate) path_env: Option<String>,
    pub(crate) cwd: String,
    /// Ports the image exposes (`8080/tcp`).
    pub(crate) exposed_ports: Vec<String>,
    /// Made through the rootless helper.
    pub(crate) rootless: bool,
    pub(crate) status: Status,
}

/// The state directory's layout.
#[derive(Debug, Clone)]
pub(crate) struct StateDir {
    root: PathBuf,
}

impl StateDir {
    pub(crate) fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// Make the directories (only the owner may enter them).
    pub(crate) fn ensure(&self) -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        for dir in [self.root.clone(), self.root.join("containers"), self.root.join("names"), self.runtime_root()] {
            std::fs::create_dir_all(&dir)?;
        }
        std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700))
    }

    /// The OCI runtime's `--root`.
    pub(crate) fn runtime_root(&self) -> PathBuf {
        self.root.join("runtime")
    }

    /// A container's directory.
    pub(crate) fn dir(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }

    /// Take `name` for `id`; `false` when another container has it.
    pub(crate) fn claim_name(&self, name: &str, id: &str) -> io::Result<bool> {
        match std::os::unix::fs::symlink(id, self.root.join("names").join(name)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                // A name whose container is gone (a removal cut short) is free again.
                let holder = std::fs::read_link(self.root.join("names").join(name))?;
                if self.dir(&holder.to_string_lossy()).join("state.json").exists() {
                    return Ok(false);
                }
                std::fs::remove_file(self.root.join("names").join(name))?;
                self.claim_name(name, id)
            }
            Err(e) => Err(e),
        }
    }

    /// Give up `name`.
    pub(crate) fn release_name(&self, name: &str) {
        let _ = std::fs::remove_file(self.root.join("names").join(name));
    }

    /// Write a container's state (atomically).
    pub(crate) fn save(&self, state: &ContainerState) -> io::Result<()> {
        let dir = self.dir(&state.id);
        let temp = dir.join(".state.json.tmp");
        std::fs::write(&temp, serde_json::to_vec_pretty(state).map_err(io::Error::other)?)?;
        std::fs::rename(&temp, dir.join("state.json"))
    }

    /// A container by ID, ID prefix (unique) or name.
    pub(crate) fn find(&self, query: &str) -> io::Result<Option<ContainerState>> {
        if query.is_empty() {
            return Ok(None);
        }
        if let Ok(id) = std::fs::read_link(self.root.join("names").join(query.trim_start_matches('/')))
            && let Some(state) = self.load(&id.to_string_lossy())?
        {
            return Ok(Some(state));
        }
        if query.bytes().all(|b| b.is_ascii_hexdigit()) {
            if let Some(state) = self.load(query)? {
                return Ok(Some(state));
            }
            let ids = self.ids()?;
            let mut matching = ids.iter().filter(|id| id.starts_with(query));
            if let (Some(id), None) = (matching.next(), matching.next()) {
                return self.load(id);
            }
        }
        Ok(None)
    }

    fn load(&self, id: &str) -> io::Result<Option<ContainerState>> {
        if id.contains('/') || id.is_empty() {
            return Ok(None);
        }
        match std::fs::read(self.dir(id).join("state.json")) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn ids(&self) -> io::Result<Vec<String>> {
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(self.root.join("containers"))? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') {
                ids.push(name);
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Every container with a readable state.
    pub(crate) fn all(&self) -> io::Result<Vec<ContainerState>> {
        let mut all = Vec::new();
        for id in self.ids()? {
            if let Some(state) = self.load(&id)? {
                all.push(state);
            }
        }
        Ok(all)
    }

    /// Forget a container (its directory and name).
    pub(crate) fn forget(&self, state: &ContainerState) -> io::Result<()> {
        self.release_name(&state.name);
        match std::fs::remove_dir_all(self.dir(&state.id)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The directory of a container's generated `/etc` files.
    pub(crate) fn etc(&self, id: &str) -> PathBuf {
        self.dir(id).join("etc")
    }
}

/// The init process of a container as the runtime records it: (pid, start time).
pub(crate) fn runtime_init(runtime_root: &Path, id: &str) -> Option<(u32, u64)> {
    let bytes = std::fs::read(runtime_root.join(id).join("state.json")).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let pid = value["init_process_pid"].as_u64().or_else(|| value["pid"].as_u64())?;
    let start = value["init_process_start"].as_u64().unwrap_or(0);
    Some((u32::try_from(pid).ok()?, start))
}

/// Whether process `pid` runs and (when `start` is known) started at `start` (clock ticks since boot).
pub(crate) fn process_alive(pid: u32, start: u64) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    if start == 0 {
        return true;
    }
    // The command name may hold spaces; the fields after it are plain.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    after.split_whitespace().nth(19).and_then(|s| s.parse::<u64>().ok()) == Some(start)
}

/// A fresh container ID: 64 random hex digits.
pub(crate) fn new_id() -> io::Result<String> {
    let mut bytes = [0u8; 32];
    io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut bytes)?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_claimed_once() {
        let dir = tempfile::tempdir().unwrap();
        let states = StateDir::new(dir.path().to_owned());
        states.ensure().unwrap();
        std::fs::create_dir_all(states.dir("abc")).unwrap();
        std::fs::write(states.dir("abc").join("state.json"), "{}").unwrap();
        assert!(states.claim_name("builder", "abc").unwrap());
        assert!(!states.claim_name("builder", "def").unwrap(), "taken");
        std::fs::remove_dir_all(states.dir("abc")).unwrap();
        assert!(states.claim_name("builder", "def").unwrap(), "a stale name is free");
        assert_eq!(new_id().unwrap().len(), 64);
        assert!(process_alive(std::process::id(), 0));
        assert!(!process_alive(u32::MAX - 1, 0));
    }
}
