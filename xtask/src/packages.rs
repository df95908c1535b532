//! `cargo xtask packages`: install the Debian packages whose programs the tests
//! run (a registry, a router, a second engine, git servers and a proxy,
//! skopeo to judge the images s2i-oci writes, runc and its companions for
//! builds without a daemon, the shells of the completion scripts), when
//! they are missing.

use std::path::Path;

use anyhow::Result;

use crate::{cmd, docker};

/// Programs the test suite runs, and the Debian package of each.
const TOOLS: &[(&str, &str)] = &[
    ("docker-registry", "docker-registry"),
    ("haproxy", "haproxy"),
    ("podman", "podman"),
    // Podman's OCI runtime (see podman.rs: crun refuses cgroups v1 hosts),
    // and the one of builds without a daemon (--engine oci).
    ("runc", "runc"),
    // The other runtime of --engine oci (--oci-runtime crun), run without
    // cgroups where it cannot use this machine's.
    ("crun", "crun"),
    ("dash", "dash"),
    // Git sources: cloning, `git http-backend`, an OpenSSH server and client, an HTTP proxy.
    ("git", "git"),
    ("sshd", "openssh-server"),
    ("ssh-agent", "openssh-client"),
    ("tinyproxy", "tinyproxy"),
    ("skopeo", "skopeo"),
    // Builds without a daemon (--engine oci): overlayfs for users, and
    // newuidmap for rootless builds with subordinate ids.
    ("fuse-overlayfs", "fuse-overlayfs"),
    ("newuidmap", "uidmap"),
    // The shells whose completion scripts the tests run.
    ("zsh", "zsh"),
    ("fish", "fish"),
];

/// Install the packages of the [`TOOLS`] that are not on `PATH` (and busybox-static).
pub(crate) fn ensure() -> Result<()> {
    let mut missing: Vec<&str> =
        TOOLS.iter().filter(|(program, _)| cmd::find_in_path(program).is_none()).map(|(_, package)| *package).collect();
    if !Path::new("/bin/busybox").exists() {
        missing.push("busybox-static");
    }
    if missing.is_empty() {
        println!("packages: {} are installed", TOOLS.iter().map(|(p, _)| *p).collect::<Vec<_>>().join(", "));
        return Ok(());
    }
    println!("packages: installing {missing:?} with apt");
    docker::apt_install(&missing)
}
