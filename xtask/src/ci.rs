//! `cargo xtask ci`: every check, in order, stopping at the first failure.
//!
//! `.ci/run` calls this. To add a check, add a [`Step`] to [`steps`]; checks
//! of the library crates are driven by the table in [`crate::libraries`].

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{cmd, docker, docs, fixtures, libraries, packages, podman, workspace};

/// One CI step: a name to select it by and what it does.
struct Step {
    name: &'static str,
    action: Action,
}

enum Action {
    /// A cargo command run from the workspace root, with extra environment.
    Cargo { args: &'static [&'static str], env: &'static [(&'static str, &'static str)] },
    /// Cargo commands from a table (one or more per library crate), run in
    /// order from the workspace root, stopping at the first failure.
    CargoEach { commands: Vec<Vec<String>>, target: TargetDir },
    /// An xtask function.
    Task { description: &'static str, run: fn() -> Result<()> },
}

/// Where a step's cargo commands build.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TargetDir {
    /// The workspace's target directory, features unified over the workspace
    /// (what clippy, the docs and the tests build).
    Workspace,
    /// A directory of its own under it, for builds whose features are
    /// resolved for one package: sharing the workspace's would make each side
    /// rebuild what the other built (a build dependency's features flip, and
    /// `cargo check` and clippy overwrite each other's results).
    PerPackage,
}

/// The sub-directory of the target directory that [`TargetDir::PerPackage`] uses.
const PER_PACKAGE_TARGET: &str = "per-package";

impl Action {
    fn describe(&self) -> String {
        match self {
            Action::Cargo { args, env } => {
                let env: String = env.iter().map(|(key, value)| format!("{key}={value} ")).collect();
                format!("{env}cargo {}", args.join(" "))
            }
            Action::CargoEach { commands, target } => {
                let env = match target {
                    TargetDir::Workspace => String::new(),
                    TargetDir::PerPackage => format!("CARGO_TARGET_DIR=target/{PER_PACKAGE_TARGET} "),
                };
                commands.iter().map(|args| format!("{env}cargo {}", args.join(" "))).collect::<Vec<_>>().join(" && ")
            }
            Action::Task { description, .. } => (*description).to_owned(),
        }
    }

    fn run(&self) -> Result<()> {
        match self {
            Action::Cargo { args, env } => {
                let mut cargo = workspace::cargo();
                cargo.args(*args).envs(env.iter().copied());
                cmd::run(&mut cargo)
            }
            Action::CargoEach { commands, target } => {
                let per_package = match target {
                    TargetDir::Workspace => None,
                    TargetDir::PerPackage => Some(workspace::target_dir()?.join(PER_PACKAGE_TARGET)),
                };
                for args in commands {
                    let mut cargo = workspace::cargo();
                    cargo.args(args);
                    if let Some(dir) = &per_package {
                        cargo.env("CARGO_TARGET_DIR", dir);
                    }
                    println!("xtask: $ {}", cmd::display(&cargo));
                    cmd::run(&mut cargo)?;
                }
                Ok(())
            }
            Action::Task { run, .. } => run(),
        }
    }
}

/// The CI steps, in the order they run.
fn steps() -> Vec<Step> {
    vec![
        Step { name: "fmt", action: Action::Cargo { args: &["fmt", "--all", "--", "--check"], env: &[] } },
        Step {
            name: "clippy",
            action: Action::Cargo {
                args: &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"],
                env: &[],
            },
        },
        Step {
            name: "doc",
            action: Action::Cargo {
                args: &["doc", "--workspace", "--no-deps"],
                env: &[("RUSTDOCFLAGS", "-Dwarnings")],
            },
        },
        Step {
            name: "cli-docs",
            action: Action::Task {
                description: "cargo xtask docs, checked: the CLI reference and man pages are current",
                run: docs::check,
            },
        },
        Step {
            name: "standalone",
            action: Action::Task {
                description: "no citation of documents outside the repository; every library crate has a README \
                              that is its front page, examples and a downstream test (xtask/src/libraries.rs)",
                run: libraries::check_standalone,
            },
        },
        Step {
            name: "alone",
            action: Action::CargoEach { commands: libraries::alone_commands(), target: TargetDir::PerPackage },
        },
        Step {
            name: "deps",
            action: Action::Task {
                description: "cargo tree -e normal of each library crate (and with --no-default-features) holds \
                              nothing outside its boundary; only s2i-docker depends on bollard (xtask/src/libraries.rs)",
                run: libraries::check_dependency_boundaries,
            },
        },
        Step {
            name: "examples",
            action: Action::CargoEach { commands: vec![libraries::build_examples()], target: TargetDir::Workspace },
        },
        Step {
            name: "run-examples",
            action: Action::CargoEach { commands: libraries::run_examples(false), target: TargetDir::PerPackage },
        },
        Step {
            name: "docker",
            action: Action::Task {
                description: "cargo xtask docker (make a Docker engine available)",
                run: docker::ensure_engine,
            },
        },
        Step {
            name: "packages",
            action: Action::Task {
                description: "cargo xtask packages (registry, router and engine programs the tests run, and the SPDX validator)",
                run: packages::ensure,
            },
        },
        Step {
            name: "fixtures",
            action: Action::Task {
                description: "cargo xtask fixtures (build the fixture images)",
                run: fixtures::build_all,
            },
        },
        Step {
            name: "engine-examples",
            action: Action::CargoEach { commands: libraries::run_examples(true), target: TargetDir::PerPackage },
        },
        Step {
            name: "podman-service",
            action: Action::Task {
                description: "cargo xtask podman (Podman's service, for the test that builds on both engines)",
                run: podman::ensure_service,
            },
        },
        Step {
            name: "test",
            action: Action::Cargo {
                args: &["test", "--workspace", "--no-fail-fast"],
                env: &[("S2I_REQUIRE_ENGINE", "1"), ("S2I_PODMAN_HOST", podman::HOST)],
            },
        },
        Step {
            name: "podman",
            action: Action::Task {
                description: "cargo xtask podman && cargo xtask fixtures --podman && \
                              DOCKER_HOST=unix:///run/s2i-podman/podman.sock S2I_REQUIRE_ENGINE=1 \
                              cargo test --no-fail-fast -p s2i-docker, then -p s2i-cli with each end-to-end test \
                              that talks to the engine (the end-to-end suite on Podman; a service this step \
                              starts is stopped at its end)",
                run: podman_suite,
            },
        },
    ]
}

/// The end-to-end tests of `s2i-cli` that the Podman pass leaves out, as
/// running them twice tells nothing new: `daemonless` builds on `--engine oci`
/// whatever `DOCKER_HOST` says; the others never reach an engine (the
/// store, routes and services, the module map). The `test` step runs them all.
const NOT_ON_PODMAN: &[&str] = &["daemonless", "modules", "route_cli", "route_store", "services", "tag_concurrency"];

/// `cargo test` arguments of the Podman pass: the backend's tests, and every
/// end-to-end test of `s2i-cli` but [`NOT_ON_PODMAN`] (unit tests need no engine).
fn podman_test_runs() -> Result<Vec<Vec<String>>> {
    let dir = workspace::root().join("s2i-cli").join("tests");
    let mut targets: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.strip_suffix(".rs").map(str::to_owned))
        .filter(|name| !NOT_ON_PODMAN.contains(&name.as_str()))
        .collect();
    targets.sort();
    let mut cli: Vec<String> = ["test", "--no-fail-fast", "-p", "s2i-cli"].map(String::from).to_vec();
    for target in targets {
        cli.extend(["--test".to_owned(), target]);
    }
    Ok(vec![["test", "--no-fail-fast", "-p", "s2i-docker"].map(String::from).to_vec(), cli])
}

/// The end-to-end suite against Podman's service, with the fixtures built into it.
fn podman_suite() -> Result<()> {
    let service = podman::Service::start_for_ci()?;
    let result = fixtures::build_into(Some(podman::HOST)).and_then(|()| {
        let mut failed = Vec::new();
        for args in podman_test_runs()? {
            let mut cargo = workspace::cargo();
            cargo
                .args(&args)
                .env("DOCKER_HOST", podman::HOST)
                .env("S2I_PODMAN_HOST", podman::HOST)
                .env("S2I_REQUIRE_ENGINE", "1");
            if let Err(err) = cmd::run(&mut cargo) {
                println!("ci: {err:#}");
                failed.push(args.join(" "));
            }
        }
        if failed.is_empty() { Ok(()) } else { bail!("on Podman, failed: cargo {}", failed.join("; cargo ")) }
    });
    let stopped = service.stop();
    result.and(stopped)
}

/// The width of the longest step name, to align listings.
fn name_width(steps: &[Step]) -> usize {
    steps.iter().map(|step| step.name.len()).max().unwrap_or(0)
}

/// `cargo xtask ci [--list | STEP...]`.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let all = steps();
    if args.iter().any(|arg| arg == "--list") {
        for step in &all {
            println!("{:<width$} {}", step.name, step.action.describe(), width = name_width(&all));
        }
        return Ok(());
    }
    let selected: Vec<&Step> = if args.is_empty() {
        all.iter().collect()
    } else {
        let mut selected = Vec::new();
        for arg in args {
            let Some(step) = all.iter().find(|step| step.name == arg) else {
                let names: Vec<&str> = all.iter().map(|step| step.name).collect();
                bail!("unknown CI step `{arg}`; the steps are {names:?}");
            };
            selected.push(step);
        }
        selected
    };

    // The `podman-service` step leaves the service running for the steps
    // after it; one that was not running before CI is stopped at the end.
    let podman_was_running = podman::answers();
    let result = run_steps(&selected);
    if !podman_was_running && podman::answers() {
        let stopped = podman::stop_service();
        if let Err(err) = &stopped {
            println!("ci: cannot stop the Podman service CI started: {err:#}");
        }
        result?;
        stopped?;
    } else {
        result?;
    }
    Ok(())
}

/// Run `selected` in order, stopping at the first failure; print the timings when all pass.
fn run_steps(selected: &[&Step]) -> Result<()> {
    let started = Instant::now();
    let mut timings: Vec<(&str, Duration)> = Vec::new();
    for (index, step) in selected.iter().enumerate() {
        println!("\n==> ci [{}/{}] {}: {}", index + 1, selected.len(), step.name, step.action.describe());
        let step_started = Instant::now();
        let result = step.action.run();
        let took = step_started.elapsed();
        if let Err(err) = result {
            println!("<== {}: FAILED after {}", step.name, cmd::human(took));
            return Err(err.context(format!(
                "CI failed at step `{}` (`{}`); later steps did not run",
                step.name,
                step.action.describe()
            )));
        }
        println!("<== {}: ok in {}", step.name, cmd::human(took));
        timings.push((step.name, took));
    }

    println!("\nci: all {} steps passed in {}", timings.len(), cmd::human(started.elapsed()));
    let width = timings.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    for (name, took) in timings {
        println!("  {name:<width$} {:>8}", cmd::human(took));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_names_are_unique() {
        let steps = steps();
        for (index, step) in steps.iter().enumerate() {
            assert!(
                steps[..index].iter().all(|earlier| earlier.name != step.name),
                "two CI steps are named {}",
                step.name
            );
        }
    }

    #[test]
    fn the_podman_pass_runs_the_backend_and_the_end_to_end_tests_that_reach_an_engine() {
        let runs = podman_test_runs().unwrap();
        assert_eq!(runs[0].join(" "), "test --no-fail-fast -p s2i-docker");
        let cli = runs[1].join(" ");
        assert!(cli.starts_with("test --no-fail-fast -p s2i-cli --test build --test builds "), "{cli}");
        assert!(cli.contains("--test imagestreams") && cli.contains("--test reproducible"), "{cli}");
        for left_out in NOT_ON_PODMAN {
            assert!(!cli.contains(&format!("--test {left_out}")), "{cli}");
        }
    }

    #[test]
    fn cargo_steps_show_their_environment() {
        let test = steps().into_iter().find(|step| step.name == "test").unwrap();
        assert_eq!(
            test.action.describe(),
            "S2I_REQUIRE_ENGINE=1 S2I_PODMAN_HOST=unix:///run/s2i-podman/podman.sock cargo test --workspace --no-fail-fast"
        );
    }

    #[test]
    fn library_checks_run_before_the_engine_and_engine_examples_after_the_fixtures() {
        let names: Vec<&str> = steps().iter().map(|step| step.name).collect();
        let position = |name| names.iter().position(|n| *n == name).unwrap_or_else(|| panic!("{name}: {names:?}"));
        for early in ["standalone", "alone", "deps", "examples", "run-examples"] {
            assert!(position(early) < position("docker"), "{early} needs no engine: {names:?}");
        }
        assert!(position("fixtures") < position("engine-examples"), "{names:?}");
        assert!(position("engine-examples") < position("test"), "{names:?}");
        let describe = |name| steps().into_iter().find(|step| step.name == name).unwrap().action.describe();
        assert_eq!(describe("examples"), "cargo build --quiet --workspace --examples");
        assert!(
            describe("alone").starts_with("CARGO_TARGET_DIR=target/per-package cargo check"),
            "{}",
            describe("alone")
        );
        assert!(
            describe("run-examples").contains("cargo run --quiet -p s2i-route --no-default-features --example render")
        );
    }

    #[test]
    fn podman_runs_after_the_docker_tests_and_names_its_socket() {
        let names: Vec<&str> = steps().iter().map(|step| step.name).collect();
        let position = |name| names.iter().position(|n| *n == name).unwrap();
        assert!(position("test") < position("podman"), "{names:?}");
        let podman = steps().into_iter().find(|step| step.name == "podman").unwrap();
        assert!(podman.action.describe().contains(podman::HOST));
    }
}
