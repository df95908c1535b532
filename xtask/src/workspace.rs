//! Where things are in the workspace, and building the `s2i` binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::cmd;

/// The workspace root (the parent of the `xtask` crate).
pub(crate) fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in a directory of the workspace")
}

/// A `cargo` command run from the workspace root, with the same cargo that
/// runs xtask.
///
/// Without the variables `cargo run` set for xtask itself (its manifest
/// directory, its package's name and version): build scripts that watch one
/// of them (ring watches `CARGO_MANIFEST_DIR`) would otherwise be rerun, with
/// everything built on them, each time cargo runs from xtask after running
/// from a shell, and again the other way.
pub(crate) fn cargo() -> Command {
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo.current_dir(root());
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_") || XTASK_RUN_VARIABLES.contains(&name.as_ref()) {
            cargo.env_remove(name.as_ref());
        }
    }
    cargo
}

/// What `cargo run` sets for the program it runs, besides `CARGO_PKG_*`.
const XTASK_RUN_VARIABLES: &[&str] =
    &["CARGO_MANIFEST_DIR", "CARGO_MANIFEST_PATH", "CARGO_CRATE_NAME", "CARGO_BIN_NAME", "CARGO_PRIMARY_PACKAGE"];

/// The cargo target directory, honouring `CARGO_TARGET_DIR` and config.
pub(crate) fn target_dir() -> Result<PathBuf> {
    let metadata = cmd::stdout(cargo().args(["metadata", "--format-version", "1", "--no-deps"]))?;
    let metadata: serde_json::Value =
        serde_json::from_str(&metadata).context("cannot parse `cargo metadata` output")?;
    let dir = metadata["target_directory"].as_str().context("`cargo metadata` gave no target_directory")?;
    Ok(PathBuf::from(dir))
}

/// The cargo profile to build `s2i` with.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Profile {
    Debug,
    Release,
}

/// Builds the `s2i` binary (package `s2i-cli`) and returns its path.
pub(crate) fn build_s2i(profile: Profile) -> Result<PathBuf> {
    let mut build = cargo();
    build.args(["build", "--package", "s2i-cli", "--bin", "s2i"]);
    let dir = match profile {
        Profile::Debug => "debug",
        Profile::Release => {
            build.arg("--release");
            "release"
        }
    };
    println!("xtask: $ {}", cmd::display(&build));
    cmd::run(&mut build)?;
    let binary = target_dir()?.join(dir).join("s2i");
    if !binary.is_file() {
        bail!("`cargo build` succeeded but {} is missing", binary.display());
    }
    Ok(binary)
}
