//! `cargo xtask packages`: install the Debian packages whose programs the tests
//! run (a registry, a router, a second engine, git servers and a proxy,
//! skopeo to judge the images s2i-oci writes, runc and its companions for
//! builds without a daemon, the shells of the completion scripts), when
//! they are missing; and the SPDX validator that judges the SBOMs s2i
//! writes, which Debian does not package (see [`ensure_spdx_tools`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cmd, docker, workspace};

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

/// The SPDX project's validator, from PyPI, pinned: a newer one may judge differently.
const SPDX_TOOLS: &str = "spdx-tools==0.8.5";
/// Where [`ensure_spdx_tools`] puts its virtual environment, under the target
/// directory; `s2i-cli/tests/reproducible.rs` looks for `bin/pyspdxtools` there.
const SPDX_TOOLS_DIR: &str = "spdx-tools";

/// Install the packages of the [`TOOLS`] that are not on `PATH` (and
/// busybox-static), then the SPDX validator.
pub(crate) fn ensure() -> Result<()> {
    let mut missing: Vec<&str> =
        TOOLS.iter().filter(|(program, _)| cmd::find_in_path(program).is_none()).map(|(_, package)| *package).collect();
    if !Path::new("/bin/busybox").exists() {
        missing.push("busybox-static");
    }
    if missing.is_empty() {
        println!("packages: {} are installed", TOOLS.iter().map(|(p, _)| *p).collect::<Vec<_>>().join(", "));
    } else {
        println!("packages: installing {missing:?} with apt");
        docker::apt_install(&missing)?;
    }
    ensure_spdx_tools()
}

/// Install `pyspdxtools` ([`SPDX_TOOLS`]) with pip into a virtual
/// environment of its own under the target directory, unless that version
/// is there; Python and its `venv` module come from apt when missing.
fn ensure_spdx_tools() -> Result<()> {
    let venv = workspace::target_dir()?.join(SPDX_TOOLS_DIR);
    let python = venv.join("bin").join("python");
    let (_, version) = SPDX_TOOLS.split_once("==").expect("SPDX_TOOLS pins a version");
    let installed = Command::new(&python)
        .args(["-c", "import importlib.metadata as m; print(m.version('spdx-tools'))"])
        .output()
        .is_ok_and(|out| out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == version);
    if installed && spdx_validator(&venv).is_file() {
        println!("packages: {SPDX_TOOLS} is installed in {}", venv.display());
        return Ok(());
    }
    // Debian's python3 makes no virtual environment without python3-venv (ensurepip).
    if !cmd::succeeds(Command::new("python3").args(["-c", "import ensurepip, venv"])) {
        println!("packages: installing python3 and python3-venv with apt (for {SPDX_TOOLS})");
        docker::apt_install(&["python3", "python3-venv"])?;
    }
    println!("packages: installing {SPDX_TOOLS} into {} with pip", venv.display());
    // --clear: a venv whose Python has gone is made again, not patched.
    cmd::run(Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv))?;
    cmd::run(Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        SPDX_TOOLS,
    ]))
    .with_context(|| format!("cannot install {SPDX_TOOLS} from PyPI (is https://pypi.org reachable?)"))?;
    let validator = spdx_validator(&venv);
    if !cmd::succeeds(Command::new(&validator).arg("--help")) {
        bail!("{} does not run after installing {SPDX_TOOLS}", validator.display());
    }
    Ok(())
}

/// `pyspdxtools` in the virtual environment `venv`.
fn spdx_validator(venv: &Path) -> PathBuf {
    venv.join("bin").join("pyspdxtools")
}
