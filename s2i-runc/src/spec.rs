//! The OCI runtime configuration (`config.json`) of a container, made the
//! way Docker makes it from an image and a create request: the process
//! (arguments, environment, working directory, numeric user and groups,
//! Docker's default capabilities less `--cap-drop`), the mounts (`/proc`,
//! `/dev`, `/sys`, `/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`,
//! `-v` binds), namespaces (the host's network or none), and cgroup limits.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::rootfs::MountTarget;
use crate::users::ExecUser;

/// Docker's default capabilities of a container.
pub(crate) const DEFAULT_CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// The network a container gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Network {
    /// The host's network namespace (and host name).
    Host,
    /// A network namespace of its own with only loopback.
    None,
}

/// A bind mount from the host (`-v SRC:DST[:OPTIONS]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Bind {
    /// Host path.
    pub(crate) source: PathBuf,
    /// Container path.
    pub(crate) destination: String,
    /// Read-only.
    pub(crate) readonly: bool,
    /// Mount propagation (`rprivate`, `shared`, …), if given.
    pub(crate) propagation: Option<String>,
    /// The source is a directory.
    pub(crate) dir: bool,
}

impl Bind {
    /// Parse `-v` (`SRC:DST[:OPTIONS]`); the source must be an absolute host path.
    pub(crate) fn parse(value: &str) -> Result<Self, String> {
        let parts: Vec<&str> = value.split(':').collect();
        let (source, destination, options) = match parts.as_slice() {
            [source, destination] => (*source, *destination, ""),
            [source, destination, options] => (*source, *destination, *options),
            _ => return Err(format!("{value:?} is not SOURCE:/CONTAINER/PATH[:OPTIONS]")),
        };
        if !source.starts_with('/') {
            return Err(format!(
                "{source:?} is a named volume, which needs a container engine's daemon; give an absolute host directory instead"
            ));
        }
        let meta = std::fs::metadata(source).map_err(|e| format!("the volume source {source} cannot be used: {e}"))?;
        let mut bind = Bind {
            source: PathBuf::from(source),
            destination: crate::confined::clean(destination),
            readonly: false,
            propagation: None,
            dir: meta.is_dir(),
        };
        for option in options.split(',').filter(|o| !o.is_empty()) {
            match option {
                "ro" => bind.readonly = true,
                "rw" => bind.readonly = false,
                "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" => {
                    bind.propagation = Some(option.to_owned());
                }
                // SELinux relabelling and Docker Desktop's consistency hints change nothing here.
                "z" | "Z" | "nocopy" | "delegated" | "cached" | "consistent" => {}
                other => return Err(format!("the volume option {other:?} is not known")),
            }
        }
        Ok(bind)
    }
}

/// Resource limits, as cgroups apply them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Limits {
    pub(crate) memory: Option<i64>,
    pub(crate) memory_swap: Option<i64>,
    pub(crate) nano_cpus: Option<i64>,
}

impl Limits {
    pub(crate) fn is_empty(&self) -> bool {
        self.memory.is_none() && self.memory_swap.is_none() && self.nano_cpus.is_none()
    }
}

/// Everything `config.json` is made from.
#[derive(Debug, Clone)]
pub(crate) struct Bundle<'a> {
    pub(crate) rootfs: &'a Path,
    pub(crate) args: &'a [String],
    pub(crate) env: &'a [String],
    pub(crate) cwd: &'a str,
    pub(crate) user: &'a ExecUser,
    pub(crate) hostname: &'a str,
    pub(crate) network: Network,
    pub(crate) binds: &'a [Bind],
    pub(crate) cap_drop: &'a [String],
    pub(crate) no_new_privileges: bool,
    pub(crate) limits: &'a Limits,
    pub(crate) shm_size: Option<i64>,
    /// Generated files: hosts, hostname, resolv.conf.
    pub(crate) etc_files: &'a Path,
    /// In a user namespace: `/sys` is bound, not mounted; no cgroup mount; no `gid=5` for ptys.
    pub(crate) in_user_namespace: bool,
    /// The group ids mapped in the user namespace (all, outside one).
    pub(crate) tty_group_mapped: bool,
}

/// The mount points a container needs in its root file system.
pub(crate) fn mount_targets(binds: &[Bind]) -> Vec<MountTarget> {
    let mut targets: Vec<MountTarget> = ["/proc", "/dev", "/sys", "/dev/pts", "/dev/shm", "/dev/mqueue"]
        .iter()
        .map(|p| MountTarget { path: (*p).to_owned(), dir: true })
        .collect();
    for file in ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"] {
        targets.push(MountTarget { path: file.to_owned(), dir: false });
    }
    for bind in binds {
        targets.push(MountTarget { path: bind.destination.clone(), dir: bind.dir });
    }
    targets
}

/// Capability names as the spec writes them (`CAP_NET_RAW`), from `--cap-drop` values.
fn capabilities(cap_drop: &[String]) -> Vec<String> {
    let dropped: Vec<String> = cap_drop
        .iter()
        .map(|c| {
            let upper = c.to_ascii_uppercase();
            if upper.starts_with("CAP_") { upper } else { format!("CAP_{upper}") }
        })
        .collect();
    if dropped.iter().any(|c| c == "CAP_ALL") {
        return Vec::new();
    }
    DEFAULT_CAPABILITIES.iter().filter(|c| !dropped.iter().any(|d| d == *c)).map(|c| (*c).to_owned()).collect()
}

/// The `config.json` of a container.
pub(crate) fn config(bundle: &Bundle<'_>) -> Value {
    let caps = capabilities(bundle.cap_drop);
    let (soft, hard) = nofile_limits();
    let mut mounts = vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
    ];
    let mut pts = vec!["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"];
    if bundle.tty_group_mapped {
        pts.push("gid=5");
    }
    mounts.push(json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": pts}));
    let shm = format!("size={}k", bundle.shm_size.filter(|s| *s > 0).map_or(65536, |s| s / 1024));
    mounts.push(json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", shm]}));
    mounts.push(json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]}));
    if bundle.in_user_namespace {
        // sysfs belongs to a network namespace a user namespace does not own: bind the host's.
        mounts.push(json!({"destination": "/sys", "type": "none", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}));
    } else {
        mounts.push(json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}));
        mounts.push(json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}));
    }
    for file in ["hosts", "hostname", "resolv.conf"] {
        mounts.push(json!({
            "destination": format!("/etc/{file}"),
            "type": "bind",
            "source": bundle.etc_files.join(file),
            "options": ["rbind", "rprivate", "rw"],
        }));
    }
    for bind in bundle.binds {
        let mut options = vec!["rbind".to_owned(), if bind.readonly { "ro".to_owned() } else { "rw".to_owned() }];
        options.push(bind.propagation.clone().unwrap_or_else(|| "rprivate".to_owned()));
        mounts
            .push(json!({"destination": bind.destination, "type": "bind", "source": bind.source, "options": options}));
    }
    let mut namespaces = vec![json!({"type": "pid"}), json!({"type": "ipc"}), json!({"type": "mount"})];
    if bundle.network == Network::None {
        namespaces.push(json!({"type": "network"}));
        namespaces.push(json!({"type": "uts"}));
    }
    let mut linux = json!({
        "namespaces": namespaces,
        "maskedPaths": [
            "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
            "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"
        ],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    });
    let limits = bundle.limits;
    if !limits.is_empty() {
        let mut resources = json!({});
        if limits.memory.is_some() || limits.memory_swap.is_some() {
            let mut memory = json!({});
            if let Some(limit) = limits.memory {
                memory["limit"] = json!(limit);
            }
            if let Some(swap) = limits.memory_swap {
                memory["swap"] = json!(swap);
            }
            resources["memory"] = memory;
        }
        if let Some(nano) = limits.nano_cpus {
            let period: i64 = 100_000;
            resources["cpu"] = json!({"quota": nano * period / 1_000_000_000, "period": period});
        }
        linux["resources"] = resources;
    }
    let mut config = json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": bundle.user.uid, "gid": bundle.user.gid, "additionalGids": bundle.user.groups},
            "args": bundle.args,
            "env": bundle.env,
            "cwd": bundle.cwd,
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": hard, "soft": soft}],
            "noNewPrivileges": bundle.no_new_privileges,
        },
        "root": {"path": bundle.rootfs, "readonly": false},
        "mounts": mounts,
        "linux": linux,
    });
    if bundle.network == Network::None {
        config["hostname"] = json!(bundle.hostname);
    }
    config
}

/// The open-files limit a container gets: this process's own.
fn nofile_limits() -> (u64, u64) {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    let hard = limit.maximum.unwrap_or(1_048_576);
    (limit.current.unwrap_or(hard).min(hard), hard)
}

/// `/etc/hosts` of a container: the host's on the host network, loopback
/// names otherwise; then `--add-host` entries.
pub(crate) fn hosts_file(network: Network, hostname: &str, extra: &[(String, String)]) -> String {
    let mut text = match network {
        Network::Host => std::fs::read_to_string("/etc/hosts").unwrap_or_else(|_| "127.0.0.1\tlocalhost\n".to_owned()),
        Network::None => format!(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n127.0.0.1\t{hostname}\n"
        ),
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    for (name, ip) in extra {
        text.push_str(&format!("{ip}\t{name}\n"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_drop_by_name_or_all() {
        assert_eq!(capabilities(&[]).len(), DEFAULT_CAPABILITIES.len());
        let dropped = capabilities(&["net_raw".into(), "CAP_KILL".into()]);
        assert!(!dropped.contains(&"CAP_NET_RAW".to_owned()) && !dropped.contains(&"CAP_KILL".to_owned()));
        assert_eq!(dropped.len(), DEFAULT_CAPABILITIES.len() - 2);
        assert!(capabilities(&["ALL".into()]).is_empty());
    }

    #[test]
    fn binds_parse_like_docker() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().to_str().unwrap();
        let bind = Bind::parse(&format!("{source}:/opt/cache:ro,z")).unwrap();
        assert!(bind.readonly && bind.dir && bind.destination == "/opt/cache");
        assert!(Bind::parse("cache:/opt/cache").unwrap_err().contains("named volume"));
        assert!(Bind::parse(&format!("{source}:/x:bogus")).unwrap_err().contains("bogus"));
        assert!(Bind::parse("/does/not/exist:/x").unwrap_err().contains("cannot be used"));
    }

    #[test]
    fn config_has_the_network_and_limits_asked_for() {
        let user = ExecUser { uid: 1001, gid: 0, groups: vec![] };
        let limits = Limits { memory: Some(64 << 20), memory_swap: None, nano_cpus: Some(500_000_000) };
        let bundle = Bundle {
            rootfs: Path::new("/r"),
            args: &["/bin/sh".into()],
            env: &[],
            cwd: "/",
            user: &user,
            hostname: "abc",
            network: Network::None,
            binds: &[],
            cap_drop: &[],
            no_new_privileges: false,
            limits: &limits,
            shm_size: None,
            etc_files: Path::new("/state"),
            in_user_namespace: false,
            tty_group_mapped: true,
        };
        let value = config(&bundle);
        assert_eq!(value["hostname"], "abc");
        assert!(value["linux"]["namespaces"].as_array().unwrap().contains(&json!({"type": "network"})));
        assert_eq!(value["linux"]["resources"]["cpu"]["quota"], 50_000);
        assert_eq!(value["process"]["user"]["uid"], 1001);
        let host = config(&Bundle { network: Network::Host, ..bundle });
        assert!(!host["linux"]["namespaces"].as_array().unwrap().contains(&json!({"type": "network"})));
        assert!(host.get("hostname").is_none(), "the host's name on the host's network");
    }
}
