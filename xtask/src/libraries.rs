//! The library crates a downstream tool can use alone, and the CI checks
//! that keep them so: each builds alone (with and without its features),
//! its dependency tree stays inside its boundary, its examples build and
//! run, and it carries what a user of the crate needs (a README that is the
//! crate's front page, examples, a downstream test).
//!
//! One table, [`LIBRARY_CRATES`], drives every check: a new library crate
//! is one more row (the `standalone` step fails until it has one).

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::{cmd, workspace};

/// A library crate and what CI checks of it.
pub(crate) struct LibraryCrate {
    /// The package name.
    pub(crate) name: &'static str,
    /// It has optional features: it is checked with `--no-default-features` too.
    pub(crate) has_features: bool,
    /// Features checked one at a time on top of `--no-default-features`
    /// (those not already covered by the default set or the bare build).
    pub(crate) single_features: &'static [&'static str],
    /// Crates its normal dependency tree must not hold, with default features.
    pub(crate) not_in_tree: &'static [&'static str],
    /// Crates its normal dependency tree must not hold with `--no-default-features`.
    pub(crate) not_in_bare_tree: &'static [&'static str],
    /// Its examples, and how they run in CI.
    pub(crate) examples: &'static [Example],
}

/// An example of a library crate.
pub(crate) struct Example {
    /// The example's name (`examples/<name>.rs`).
    pub(crate) name: &'static str,
    /// Extra `cargo run` arguments (e.g. `--no-default-features`).
    pub(crate) cargo_args: &'static [&'static str],
    /// It talks to the container engine (and the fixture images): it runs
    /// after the `docker` and `fixtures` steps.
    pub(crate) needs_engine: bool,
}

/// What only `s2i-docker` may bring in: the Docker Engine API client.
const ENGINE_CLIENT: &str = "bollard";
/// Native libraries and clients a featureless crate must not build.
const SQLITE: [&str; 2] = ["rusqlite", "libsqlite3-sys"];

/// Every library crate of the workspace, bottom up. `s2i-cli` (the binary's
/// crate) and `xtask` are not libraries.
pub(crate) const LIBRARY_CRATES: &[LibraryCrate] = &[
    LibraryCrate {
        name: "s2i-store",
        has_features: true,
        single_features: &[],
        not_in_tree: &["s2i-core", "git2", ENGINE_CLIENT, "ureq"],
        not_in_bare_tree: &[SQLITE[0], SQLITE[1], "git2", ENGINE_CLIENT, "ureq", "s2i-core"],
        examples: &[Example { name: "custom_kind", cargo_args: &[], needs_engine: false }],
    },
    LibraryCrate {
        name: "s2i-core",
        has_features: true,
        single_features: &[],
        not_in_tree: &[ENGINE_CLIENT, SQLITE[0], SQLITE[1]],
        not_in_bare_tree: &["git2", "libgit2-sys"],
        examples: &[Example { name: "plan", cargo_args: &[], needs_engine: true }],
    },
    LibraryCrate {
        name: "s2i-docker",
        has_features: false,
        single_features: &[],
        not_in_tree: &[SQLITE[0], SQLITE[1]],
        not_in_bare_tree: &[],
        examples: &[Example { name: "ping", cargo_args: &[], needs_engine: true }],
    },
    LibraryCrate {
        name: "s2i-imagestream",
        has_features: false,
        single_features: &[],
        not_in_tree: &[ENGINE_CLIENT, "s2i-docker"],
        not_in_bare_tree: &[],
        examples: &[Example { name: "tag", cargo_args: &[], needs_engine: false }],
    },
    LibraryCrate {
        name: "s2i-buildconfig",
        has_features: false,
        single_features: &[],
        not_in_tree: &[ENGINE_CLIENT, "s2i-docker"],
        not_in_bare_tree: &[],
        examples: &[Example { name: "triggers", cargo_args: &[], needs_engine: false }],
    },
    LibraryCrate {
        name: "s2i-route",
        has_features: true,
        single_features: &["store", "router", "containers"],
        not_in_tree: &[ENGINE_CLIENT, "s2i-docker", "s2i-imagestream"],
        not_in_bare_tree: &[
            SQLITE[0],
            SQLITE[1],
            "git2",
            "libgit2-sys",
            "libssh2-sys",
            "openssl-sys",
            ENGINE_CLIENT,
            "ureq",
            "s2i-core",
            "s2i-imagestream",
        ],
        examples: &[Example { name: "render", cargo_args: &["--no-default-features"], needs_engine: false }],
    },
    LibraryCrate {
        name: "s2i-oci",
        // Its one feature, `registry`, is not a default: the bare build is the default one.
        has_features: false,
        single_features: &["registry"],
        not_in_tree: &[ENGINE_CLIENT, "tokio", "git2", SQLITE[0], "s2i-core", "s2i-store", "ureq"],
        not_in_bare_tree: &[],
        examples: &[Example { name: "layout", cargo_args: &[], needs_engine: false }],
    },
    LibraryCrate {
        name: "s2i-runc",
        has_features: false,
        single_features: &[],
        not_in_tree: &[ENGINE_CLIENT, "s2i-docker", "git2", "libgit2-sys", SQLITE[0], SQLITE[1]],
        not_in_bare_tree: &[],
        // It runs a container with runc (installed by the packages step, before the engine examples).
        examples: &[Example { name: "run", cargo_args: &[], needs_engine: true }],
    },
];

/// Workspace members that are not libraries for downstream tools.
const NOT_LIBRARIES: &[&str] = &["s2i-cli", "xtask"];

/// Crates with this many direct dependents in the workspace, and which.
/// Only `s2i-docker` talks to the engine API (ARCHITECTURE.md).
const ONLY_DIRECT_DEPENDENTS: &[(&str, &[&str])] = &[(ENGINE_CLIENT, &["s2i-docker"])];

fn args(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|part| (*part).to_owned()).collect()
}

/// `cargo check` of each library crate on its own: with default features,
/// without them, and with each listed feature alone. Features are resolved
/// per package, so a crate that only builds because a sibling enables a
/// feature for it fails here. The builds without default features come
/// first: they share build dependencies whose features differ from the
/// default builds', and each switch between the two kinds rebuilds those.
pub(crate) fn alone_commands() -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    for library in LIBRARY_CRATES.iter().filter(|library| library.has_features) {
        commands.push(args(&["check", "--quiet", "-p", library.name, "--no-default-features"]));
    }
    for library in LIBRARY_CRATES {
        for feature in library.single_features {
            commands.push(args(&[
                "check",
                "--quiet",
                "-p",
                library.name,
                "--no-default-features",
                "--features",
                feature,
            ]));
        }
    }
    for library in LIBRARY_CRATES {
        commands.push(args(&["check", "--quiet", "-p", library.name]));
    }
    commands
}

/// Every example of the workspace compiles (with the workspace's features).
pub(crate) fn build_examples() -> Vec<String> {
    args(&["build", "--quiet", "--workspace", "--examples"])
}

/// `cargo run` of the examples that need the engine (`true`) or not, each
/// with its package's features only, as a user of that crate would run it.
pub(crate) fn run_examples(needs_engine: bool) -> Vec<Vec<String>> {
    LIBRARY_CRATES
        .iter()
        .flat_map(|library| library.examples.iter().map(move |example| (library, example)))
        .filter(|(_, example)| example.needs_engine == needs_engine)
        .map(|(library, example)| {
            let mut command = args(&["run", "--quiet", "-p", library.name]);
            command.extend(args(example.cargo_args));
            command.extend(args(&["--example", example.name]));
            command
        })
        .collect()
}

/// The package names of a `cargo tree --prefix none` listing.
fn tree_packages(listing: &str) -> BTreeSet<&str> {
    listing.lines().filter_map(|line| line.split_whitespace().next()).collect()
}

/// The normal dependency tree of `package` (only what a downstream user builds).
fn normal_tree(package: &str, bare: bool) -> Result<String> {
    let mut cargo = workspace::cargo();
    cargo.args(["tree", "--quiet", "-p", package, "-e", "normal", "--prefix", "none"]);
    if bare {
        cargo.arg("--no-default-features");
    }
    cmd::stdout(&mut cargo)
}

/// How `package` reaches `dependency`, for the error message.
fn path_to(package: &str, dependency: &str, bare: bool) -> String {
    let mut cargo = workspace::cargo();
    cargo.args(["tree", "--quiet", "-p", package, "-e", "normal", "-i", dependency]);
    if bare {
        cargo.arg("--no-default-features");
    }
    cmd::stdout(&mut cargo).unwrap_or_else(|err| format!("(cargo tree -i failed: {err})"))
}

/// The dependency boundaries: no library crate's tree holds what its row
/// forbids, and only the allowed crates depend directly on an engine client.
pub(crate) fn check_dependency_boundaries() -> Result<()> {
    let mut problems = Vec::new();
    for library in LIBRARY_CRATES {
        for (bare, forbidden) in [(false, library.not_in_tree), (true, library.not_in_bare_tree)] {
            if forbidden.is_empty() {
                continue;
            }
            let listing = normal_tree(library.name, bare)?;
            let packages = tree_packages(&listing);
            let how = if bare { " --no-default-features" } else { "" };
            let found: Vec<&&str> = forbidden.iter().filter(|dependency| packages.contains(**dependency)).collect();
            let verdict = if found.is_empty() { "none".to_owned() } else { format!("{found:?}") };
            println!(
                "xtask: cargo tree -p {}{how}: {} packages; {verdict} of {forbidden:?}",
                library.name,
                packages.len()
            );
            for dependency in found {
                problems.push(format!(
                    "{}{how} depends on {dependency}, which is outside its boundary:\n{}",
                    library.name,
                    path_to(library.name, dependency, bare)
                ));
            }
        }
    }
    for (dependency, allowed) in ONLY_DIRECT_DEPENDENTS {
        let mut cargo = workspace::cargo();
        cargo.args([
            "tree",
            "--quiet",
            "--workspace",
            "-e",
            "normal",
            "-i",
            dependency,
            "--depth",
            "1",
            "--prefix",
            "none",
        ]);
        let listing = cmd::stdout(&mut cargo)?;
        let dependents: Vec<&str> =
            tree_packages(&listing).into_iter().filter(|package| package != dependency).collect();
        println!("xtask: direct dependents of {dependency}: {dependents:?}");
        if dependents != *allowed {
            problems
                .push(format!("{dependency} may only be a direct dependency of {allowed:?}, not of {dependents:?}"));
        }
    }
    if !problems.is_empty() {
        bail!("dependency boundaries crossed (see ARCHITECTURE.md):\n\n{}", problems.join("\n\n"));
    }
    Ok(())
}

/// What makes the repository and each library crate stand alone: no
/// citation of documents the repository does not hold, and per library
/// crate a README that is its front page, examples and a downstream test.
pub(crate) fn check_standalone() -> Result<()> {
    let root = workspace::root();
    let mut problems = citations(root)?;
    let metadata = cmd::stdout(workspace::cargo().args(["metadata", "--format-version", "1", "--no-deps"]))?;
    let metadata: serde_json::Value =
        serde_json::from_str(&metadata).context("cannot parse `cargo metadata` output")?;
    let members = metadata["packages"].as_array().context("`cargo metadata` gave no packages")?;
    for member in members {
        let name = member["name"].as_str().unwrap_or_default();
        let is_library = member["targets"].as_array().into_iter().flatten().any(|target| target["kind"][0] == "lib");
        if is_library && !NOT_LIBRARIES.contains(&name) && !LIBRARY_CRATES.iter().any(|row| row.name == name) {
            problems.push(format!(
                "{name} is a library crate without a row in LIBRARY_CRATES (xtask/src/libraries.rs): add one, \
                 with its features, dependency boundaries and examples"
            ));
        }
    }
    for library in LIBRARY_CRATES {
        problems.extend(crate_problems(&root.join(library.name), library));
    }
    if !problems.is_empty() {
        bail!("the repository does not stand alone:\n  - {}", problems.join("\n  - "));
    }
    println!(
        "xtask: no outside citations; {} library crates have a README, examples and a downstream test",
        LIBRARY_CRATES.len()
    );
    Ok(())
}

/// Section signs and paths into the shared reference documents, in the
/// files git tracks (built from parts, so this file does not match itself).
fn citations(root: &Path) -> Result<Vec<String>> {
    let patterns = ['\u{a7}'.to_string(), ["..", "shared"].join("/"), ["shared", "reference"].join("/")];
    let listing = cmd::stdout(std::process::Command::new("git").current_dir(root).args(["ls-files", "-z"]))?;
    let mut problems = Vec::new();
    for path in listing.split('\0').filter(|path| !path.is_empty()) {
        let Ok(text) = std::fs::read_to_string(root.join(path)) else { continue };
        for (number, line) in text.lines().enumerate() {
            if patterns.iter().any(|pattern| line.contains(pattern.as_str())) {
                problems.push(format!(
                    "{path}:{}: cites a document the repository does not hold; say it in our own words \
                     (docs/compatibility.md) or drop it: {}",
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    Ok(problems)
}

/// What a library crate must carry.
fn crate_problems(dir: &Path, library: &LibraryCrate) -> Vec<String> {
    let name = library.name;
    let mut problems = Vec::new();
    if !dir.join("tests/downstream.rs").is_file() {
        problems.push(format!("{name} has no tests/downstream.rs (its public API as a downstream tool uses it)"));
    }
    if !dir.join("README.md").is_file() {
        problems.push(format!("{name} has no README.md (what it is, when to use it alone, features, an example)"));
    }
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
    if !manifest.lines().any(|line| line.trim() == r#"readme = "README.md""#) {
        problems.push(format!(r#"{name}/Cargo.toml does not say readme = "README.md""#));
    }
    let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap_or_default();
    if !lib.contains(r#"include_str!("../README.md")"#) {
        problems.push(format!(
            r#"{name}/src/lib.rs does not include its README (#![doc = include_str!("../README.md")]), so its example is not a doctest"#
        ));
    }
    if library.examples.is_empty() {
        problems.push(format!("{name} has no example in LIBRARY_CRATES"));
    }
    for example in library.examples {
        if !dir.join("examples").join(format!("{}.rs", example.name)).is_file() {
            problems.push(format!("{name} lists the example {} but has no examples/{}.rs", example.name, example.name));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commands_text(commands: &[Vec<String>]) -> Vec<String> {
        commands.iter().map(|command| command.join(" ")).collect()
    }

    #[test]
    fn each_library_crate_is_checked_alone_and_route_features_one_by_one() {
        let commands = commands_text(&alone_commands());
        for library in LIBRARY_CRATES {
            assert!(commands.contains(&format!("check --quiet -p {}", library.name)), "{commands:?}");
        }
        for feature in ["store", "containers", "router"] {
            let wanted = format!("check --quiet -p s2i-route --no-default-features --features {feature}");
            assert!(commands.contains(&wanted), "{commands:?}");
        }
        assert!(commands.contains(&"check --quiet -p s2i-store --no-default-features".to_owned()));
        assert!(
            !commands.contains(&"check --quiet -p s2i-oci --no-default-features".to_owned()),
            "no default features"
        );
        assert!(commands.contains(&"check --quiet -p s2i-oci --no-default-features --features registry".to_owned()));
    }

    #[test]
    fn engine_free_examples_run_early_and_the_others_after_the_engine() {
        let free = commands_text(&run_examples(false));
        assert!(free.contains(&"run --quiet -p s2i-route --no-default-features --example render".to_owned()));
        let engine = commands_text(&run_examples(true));
        assert!(engine.contains(&"run --quiet -p s2i-docker --example ping".to_owned()), "{engine:?}");
        assert!(free.iter().all(|command| !engine.contains(command)));
        assert_eq!(
            free.len() + engine.len(),
            LIBRARY_CRATES.iter().map(|library| library.examples.len()).sum::<usize>()
        );
    }

    #[test]
    fn tree_listings_give_package_names() {
        let listing = "s2i-route v0.1.0 (/work/s2i-route)\nserde v1.0.219\nserde_derive v1.0.219 (proc-macro)\nserde v1.0.219 (*)\n";
        assert_eq!(tree_packages(listing).into_iter().collect::<Vec<_>>(), ["s2i-route", "serde", "serde_derive"]);
    }

    #[test]
    fn the_featureless_route_boundary_is_the_one_the_architecture_promises() {
        let route = LIBRARY_CRATES.iter().find(|library| library.name == "s2i-route").unwrap();
        for crate_name in ["rusqlite", "libsqlite3-sys", "git2", "bollard", "ureq", "s2i-core", "s2i-imagestream"] {
            assert!(route.not_in_bare_tree.contains(&crate_name), "{crate_name}");
        }
        for library in LIBRARY_CRATES.iter().filter(|library| library.name != "s2i-docker") {
            assert!(library.not_in_tree.contains(&ENGINE_CLIENT), "{} may not pull the engine client", library.name);
        }
    }
}
