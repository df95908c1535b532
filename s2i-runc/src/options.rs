//! Where the backend keeps things and which OCI runtime it runs: the
//! options a caller gives ([`OciOptions`]) and what is found on the machine.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// How to connect the daemonless backend; every field has a default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OciOptions {
    /// The OCI runtime: a path, or a program name looked up on `PATH`.
    /// Default: `runc`, else `crun`.
    pub runtime: Option<PathBuf>,
    /// The image store (an OCI layout). Default: `images` in the user's
    /// data directory (`~/.local/share/s2i/images`).
    pub store_dir: Option<PathBuf>,
    /// Unpacked layers and container file systems. Default: the user's
    /// cache directory (`~/.cache/s2i`).
    pub cache_dir: Option<PathBuf>,
    /// Container state (bundles, the runtime's state, owners). Default:
    /// `/run/s2i` for root, `$XDG_RUNTIME_DIR/s2i` (or `/tmp/s2i-run-UID`) otherwise.
    pub state_dir: Option<PathBuf>,
    /// A registry credentials file looked at before the usual ones
    /// (`--dockercfg-path`; see `s2i_core::auth`). Default: none.
    pub auth_file: Option<PathBuf>,
}

impl OciOptions {
    /// Options from the environment: `S2I_OCI_RUNTIME`, `S2I_OCI_STORE_DIR`,
    /// `S2I_OCI_CACHE_DIR`, `S2I_OCI_STATE_DIR` (empty variables count as unset).
    pub fn from_env() -> Self {
        let path = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        Self {
            runtime: path("S2I_OCI_RUNTIME"),
            store_dir: path("S2I_OCI_STORE_DIR"),
            cache_dir: path("S2I_OCI_CACHE_DIR"),
            state_dir: path("S2I_OCI_STATE_DIR"),
            auth_file: None,
        }
    }
}

/// The command-line dialect of the OCI runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Flavor {
    /// runc (and runtimes that take its options).
    Runc,
    /// crun.
    Crun,
}

/// The OCI runtime program and what it says about itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct RuntimeProgram {
    pub(crate) path: PathBuf,
    pub(crate) flavor: Flavor,
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) spec_version: String,
}

/// Who this process is, for what it may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Privilege {
    /// Root of the machine.
    Root,
    /// Root of a user namespace (the rootless helper, or a rootless container).
    NamespaceRoot,
    /// Any other user: containers run through the rootless helper.
    User,
}

/// This process's privilege.
pub(crate) fn privilege() -> Privilege {
    if !rustix::process::geteuid().is_root() {
        return Privilege::User;
    }
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    let identity = map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"];
    if identity { Privilege::Root } else { Privilege::NamespaceRoot }
}

/// A program on `PATH` (or the path itself when it has a `/`).
pub(crate) fn find_program(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let path = PathBuf::from(name);
        return is_executable(&path).then_some(path);
    }
    let path = std::env::var_os("PATH")
        .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

impl RuntimeProgram {
    /// The runtime `requested` names (a path or a name), else `runc`, else `crun`.
    pub(crate) fn find(requested: Option<&Path>) -> Result<Self> {
        let path = match requested {
            Some(requested) => {
                let text = requested.to_string_lossy();
                find_program(&text).ok_or_else(|| Error::RuntimeUnusable {
                    program: requested.to_owned(),
                    reason: "it is not an executable file, nor a program on PATH".to_owned(),
                    help: "give the path of runc or crun, or install one (apt-get install runc)".to_owned(),
                })?
            }
            None => find_program("runc").or_else(|| find_program("crun")).ok_or(Error::NoRuntime)?,
        };
        let output = Command::new(&path).arg("--version").output().map_err(|e| Error::RuntimeUnusable {
            program: path.clone(),
            reason: format!("it does not run: {e}"),
            help: "check the program, or name another one with --oci-runtime".to_owned(),
        })?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() {
            return Err(Error::RuntimeUnusable {
                program: path,
                reason: format!("`--version` failed: {}", String::from_utf8_lossy(&output.stderr).trim()),
                help: "name runc or crun with --oci-runtime".to_owned(),
            });
        }
        Ok(Self::from_version_text(path, &text))
    }

    /// What `runc --version` / `crun --version` printed.
    fn from_version_text(path: PathBuf, text: &str) -> Self {
        let first = text.lines().next().unwrap_or_default();
        let mut words = first.split_whitespace();
        let name = words.next().unwrap_or("runc").to_owned();
        let version = first.split_whitespace().skip_while(|w| *w != "version").nth(1).unwrap_or_default().to_owned();
        let spec_version =
            text.lines().find_map(|l| l.strip_prefix("spec:")).map(|v| v.trim().to_owned()).unwrap_or_default();
        let flavor = if name == "crun" { Flavor::Crun } else { Flavor::Runc };
        Self { path, flavor, name, version, spec_version }
    }
}

/// The controllers of the cgroup v2 hierarchy of a hybrid machine (cgroup
/// v1 mounted at `/sys/fs/cgroup`, v2 at `/sys/fs/cgroup/unified`), when it
/// has any: crun refuses to run a container there, even without cgroups,
/// unless that hierarchy is hidden from it (see `ops::runtime_command`).
pub(crate) fn hybrid_cgroup_controllers() -> Option<String> {
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        return None;
    }
    let controllers = std::fs::read_to_string("/sys/fs/cgroup/unified/cgroup.controllers").ok()?;
    let controllers = controllers.split_whitespace().collect::<Vec<_>>().join(", ");
    (!controllers.is_empty()).then_some(controllers)
}

/// The directories of one backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dirs {
    /// The image store.
    pub(crate) store: PathBuf,
    /// The layer cache (a set per id mapping).
    pub(crate) layers: PathBuf,
    /// Container file systems.
    pub(crate) storage: PathBuf,
    /// Removed container file systems, being deleted.
    pub(crate) trash: PathBuf,
    /// Container state.
    pub(crate) state: PathBuf,
}

impl Dirs {
    /// The directories `options` and the environment give.
    pub(crate) fn resolve(options: &OciOptions) -> Result<Self> {
        let project = directories::ProjectDirs::from("io", "s2i", "s2i");
        let missing = |what: &str| Error::Directory {
            path: PathBuf::from("~"),
            what: what.to_owned(),
            reason: "the user has no home directory".to_owned(),
            help: "set HOME".to_owned(),
        };
        let store = match &options.store_dir {
            Some(dir) => dir.clone(),
            None => project.as_ref().ok_or_else(|| missing("the image store"))?.data_dir().join("images"),
        };
        let cache = match &options.cache_dir {
            Some(dir) => dir.clone(),
            None => project.as_ref().ok_or_else(|| missing("the layer cache"))?.cache_dir().to_owned(),
        };
        let state = match &options.state_dir {
            Some(dir) => dir.clone(),
            None => default_state_dir()?,
        };
        Ok(Self {
            store,
            layers: cache.join("layers"),
            storage: cache.join("containers"),
            trash: cache.join("trash"),
            state,
        })
    }
}

/// `/run/s2i` for root, `$XDG_RUNTIME_DIR/s2i` for others, or a directory
/// of the user's own in `/tmp`.
fn default_state_dir() -> Result<PathBuf> {
    if privilege() == Privilege::Root {
        return Ok(PathBuf::from("/run/s2i"));
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("s2i"));
    }
    let uid = rustix::process::getuid().as_raw();
    let dir = std::env::temp_dir().join(format!("s2i-run-{uid}"));
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::io(format!("create {}", dir.display()))(e)),
    }
    // Another user could have made it first: it must be ours and not a link.
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::symlink_metadata(&dir).map_err(Error::io(format!("inspect {}", dir.display())))?;
    if !meta.is_dir() || meta.uid() != uid {
        return Err(Error::Directory {
            path: dir,
            what: "container state".to_owned(),
            reason: "it is not a directory of this user".to_owned(),
            help: "set XDG_RUNTIME_DIR to a directory of your own".to_owned(),
        });
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
        .map_err(Error::io(format!("restrict {}", dir.display())))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_texts_are_read() {
        let runc = RuntimeProgram::from_version_text(
            "/usr/bin/runc".into(),
            "runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\ngo: go1.19.8\n",
        );
        assert_eq!(
            (runc.flavor, runc.version.as_str(), runc.spec_version.as_str()),
            (Flavor::Runc, "1.1.5+ds1", "1.0.2-dev")
        );
        let crun = RuntimeProgram::from_version_text(
            "/usr/bin/crun".into(),
            "crun version 1.8.1\ncommit: f8a0\nrundir: /run/crun\nspec: 1.0.0\n",
        );
        assert_eq!((crun.flavor, crun.name.as_str(), crun.version.as_str()), (Flavor::Crun, "crun", "1.8.1"));
    }
}
