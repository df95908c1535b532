//! Developer automation for the s2i workspace, run as `cargo xtask <task>`.
//!
//! Everything a developer or CI runs lives here, in Rust, so that there are
//! no shell scripts to rot. Each task is a module:
//!
//! - [`docker`]: make a Docker engine available (`cargo xtask docker`);
//! - [`podman`]: make Podman's Docker-compatible API available (`cargo xtask podman`);
//! - [`fixtures`]: build the offline fixture images (`cargo xtask fixtures`);
//! - [`demo`]: build and serve the example web app (`cargo xtask demo`);
//! - [`ci`]: the full check, also run by `.ci/run` (`cargo xtask ci`);
//! - [`bench`](mod@bench): s2i against plain docker commands (`cargo xtask bench`).

// A developer tool: printing progress is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod ci;
mod cmd;
mod demo;
mod docker;
mod docs;
mod fixtures;
mod http;
mod libraries;
mod packages;
mod podman;
mod workspace;

use std::process::ExitCode;

use anyhow::{Result, bail};

const HELP: &str = "\
Developer automation for the s2i workspace.

Usage: cargo xtask <task> [args]

Tasks:
  docker              make a Docker engine available (install docker.io and
                      start dockerd when needed)
  docs                regenerate the CLI reference and man pages under docs/
  podman [--stop]     make Podman's Docker-compatible API available on
                      unix:///run/s2i-podman/podman.sock (start
                      `podman system service` with xtask's configuration);
                      --stop stops the service it started
  packages            install the Debian packages whose programs the tests
                      run (docker-registry, haproxy, podman, skopeo, runc, …)
                      and the SPDX validator (pip, into target/spdx-tools)
  fixtures [--podman] build the offline fixture images s2i-fixtures/* from
                      fixtures/images/ (skips images that are up to date);
                      into Podman's service with --podman
  demo                build examples/hello-web with s2i, run it and fetch its
                      page, then clean up
  ci [--list|STEP..]  run the CI steps (all, or the named ones) in order,
                      stopping at the first failure
  bench [--quick|--list] [SCENARIO..]
                      time `s2i build` against plain docker commands doing
                      the same work, and routes (admission, rendering,
                      matching at 10,000 routes); check the targets
  help                print this help
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Not `{err:?}`: that adds a backtrace when RUST_BACKTRACE is set.
            eprintln!("xtask: error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    let Some((task, rest)) = args.split_first() else {
        print!("{HELP}");
        return Ok(());
    };
    match task.as_str() {
        "docker" => {
            no_arguments(task, rest)?;
            docker::ensure_engine()
        }
        "docs" => {
            no_arguments(task, rest)?;
            docs::run()
        }
        "packages" => {
            no_arguments(task, rest)?;
            packages::ensure()
        }
        "podman" => match rest {
            [] => podman::ensure_service(),
            [flag] if flag == "--stop" => podman::stop_service(),
            _ => bail!("`cargo xtask podman` takes only --stop, got {rest:?}"),
        },
        "fixtures" => match rest {
            [] => fixtures::run(),
            [flag] if flag == "--podman" => fixtures::run_podman(),
            _ => bail!("`cargo xtask fixtures` takes only --podman, got {rest:?}"),
        },
        "demo" => {
            no_arguments(task, rest)?;
            demo::run()
        }
        "ci" => ci::run(rest),
        "bench" => bench::run(rest),
        "help" | "-h" | "--help" => {
            print!("{HELP}");
            Ok(())
        }
        other => bail!("unknown task `{other}`\n\n{HELP}"),
    }
}

fn no_arguments(task: &str, rest: &[String]) -> Result<()> {
    if !rest.is_empty() {
        bail!("`cargo xtask {task}` takes no arguments, got {rest:?}");
    }
    Ok(())
}
