//! `cargo xtask ci`: every check, in order, stopping at the first failure.
//!
//! `.ci/run` calls this. To add a check, add a [`Step`] to [`steps`].

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::{cmd, docker, docs, fixtures, packages, podman, workspace};

/// One CI step: a name to select it by and what it does.
struct Step {
    name: &'static str,
    action: Action,
}

enum Action {
    /// A cargo command run from the workspace root, with extra environment.
    Cargo { args: &'static [&'static str], env: &'static [(&'static str, &'static str)] },
    /// An xtask function.
    Task { description: &'static str, run: fn() -> Result<()> },
}

impl Action {
    fn describe(&self) -> String {
        match self {
            Action::Cargo { args, env } => {
                let env: String = env.iter().map(|(key, value)| format!("{key}={value} ")).collect();
                format!("{env}cargo {}", args.join(" "))
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
            name: "docker",
            action: Action::Task {
                description: "cargo xtask docker (make a Docker engine available)",
                run: docker::ensure_engine,
            },
        },
        Step {
            name: "packages",
            action: Action::Task {
                description: "cargo xtask packages (registry, router and engine programs the tests run)",
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
                              cargo test --no-fail-fast -p s2i-docker -p s2i-cli (the end-to-end suite on Podman; \
                              a service this step starts is stopped at its end)",
                run: podman_suite,
            },
        },
    ]
}

/// The crates whose tests run against an engine: the end-to-end suite.
const ENGINE_TEST_PACKAGES: &[&str] = &["-p", "s2i-docker", "-p", "s2i-cli"];

/// The end-to-end suite against Podman's service, with the fixtures built into it.
fn podman_suite() -> Result<()> {
    let service = podman::Service::start_for_ci()?;
    let result = fixtures::build_into(Some(podman::HOST)).and_then(|()| {
        let mut cargo = workspace::cargo();
        cargo
            .args(["test", "--no-fail-fast"])
            .args(ENGINE_TEST_PACKAGES)
            .env("DOCKER_HOST", podman::HOST)
            .env("S2I_PODMAN_HOST", podman::HOST)
            .env("S2I_REQUIRE_ENGINE", "1");
        cmd::run(&mut cargo)
    });
    let stopped = service.stop();
    result.and(stopped)
}

/// `cargo xtask ci [--list | STEP...]`.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let all = steps();
    if args.iter().any(|arg| arg == "--list") {
        for step in &all {
            println!("{:<10} {}", step.name, step.action.describe());
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
    for (name, took) in timings {
        println!("  {name:<10} {:>8}", cmd::human(took));
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
    fn cargo_steps_show_their_environment() {
        let test = steps().into_iter().find(|step| step.name == "test").unwrap();
        assert_eq!(
            test.action.describe(),
            "S2I_REQUIRE_ENGINE=1 S2I_PODMAN_HOST=unix:///run/s2i-podman/podman.sock cargo test --workspace --no-fail-fast"
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
