//! `cargo xtask bench`: `s2i build` against plain docker commands, and the
//! cost of `s2i tag` (see [`tags`]).
//!
//! Each scenario builds a source with the release `s2i` and, alternately,
//! does the same work with the docker CLI (the *baseline*):
//!
//! ```text
//! docker create -i --name N s2i-fixtures/busybox-builder \
//!     /bin/sh -c 'tar -C /tmp -xf - && /usr/libexec/s2i/assemble'
//! docker start -a -i N < upload.tar      # src/ and scripts/, made beforehand
//! docker commit --change 'CMD ["/usr/libexec/s2i/run"]' N xtask-bench-PID/baseline:latest
//! docker rm N
//! ```
//!
//! Each iteration also builds the source reproducibly, with the documents
//! about the image (`s2i build … --source-date-epoch … --sbom FILE
//! --provenance FILE`: s2i writes the image itself from the container's
//! changes, loads it into the engine and writes an SBOM that lists every
//! file of the layer, see `docs/reproducible.md`).
//!
//! Before each timed run the machine is brought to the same state (see
//! [`settle`]): background deletions finished, dirty pages written, clean
//! caches dropped and the run's inputs read back in.
//!
//! The first run of each is a warm-up and is discarded; the medians of the
//! others and their ratio are compared with targets, as is the peak RSS of
//! the `s2i` process (`ru_maxrss` from `wait4`): the layer of a reproducible
//! build is streamed, never held in memory, and so is its SBOM (made from a
//! path and two digests per file). A scenario returns
//! [`Figure`]s, so more measurements (incremental rebuilds, …) are more
//! entries in [`SCENARIOS`].
//!
//! The `oci-` scenarios build the same sources with `--engine oci` (runc,
//! s2i's own image store, no daemon) against the same baseline: the time
//! a daemonless build saves.
//!
//! The `routes` scenario needs no engine: it runs the criterion benchmark of
//! `s2i-route` (admission and rendering of 10,000 routes, one match lookup)
//! and checks its medians.

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

mod tags;

use crate::workspace::{self, Profile};
use crate::{cmd, fixtures};

/// The builder every scenario uses.
const BUILDER: &str = "s2i-fixtures/busybox-builder";
/// The baseline's container command, as s2i runs assemble.
const BASELINE_COMMAND: &str = "tar -C /tmp -xf - && /usr/libexec/s2i/assemble";
/// The baseline's commit change, as s2i sets the image command.
const BASELINE_CHANGE: &str = r#"CMD ["/usr/libexec/s2i/run"]"#;
/// The epoch of the reproducible builds.
const EPOCH: &str = "1700000000";

/// A scenario: a name to select it by, a description, whether it needs the
/// container engine (and the release `s2i`), and the measurement.
struct Scenario {
    name: &'static str,
    description: &'static str,
    needs_engine: bool,
    measure: fn(&Bench) -> Result<Vec<Figure>>,
}

/// The scenarios, in the order they run.
const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "trivial",
        description: "a clean build of 3 small files, plain and reproducible",
        needs_engine: true,
        measure: trivial,
    },
    Scenario {
        name: "large",
        description: "a clean build of 20,000 files, ~200 MB in 200 directories, plain and reproducible",
        needs_engine: true,
        measure: large,
    },
    Scenario {
        name: "oci-trivial",
        description: "the trivial build with --engine oci (runc, no daemon) against the docker CLI baseline",
        needs_engine: true,
        measure: oci_trivial,
    },
    Scenario {
        name: "oci-large",
        description: "the large build with --engine oci (runc, no daemon) against the docker CLI baseline",
        needs_engine: true,
        measure: oci_large,
    },
    Scenario {
        name: "incremental",
        description: "an incremental rebuild of the large source, all of it saved as artifacts, beside a clean build",
        needs_engine: true,
        measure: incremental,
    },
    Scenario {
        name: "routes",
        description: "admission and rendering of 10,000 routes, and a match lookup (criterion)",
        needs_engine: false,
        measure: routes,
    },
    Scenario {
        name: "tag-store",
        description: "one s2i tag process on a store of 1,000 streams x 100 history items",
        needs_engine: true,
        measure: tags::store,
    },
    Scenario {
        name: "tag-size",
        description: "s2i tag of a 1 GB image against a 1 KB one (a tag moves no data)",
        needs_engine: true,
        measure: tags::image_size,
    },
];

/// What the scenarios share.
struct Bench {
    /// The release `s2i` binary, when a selected scenario needs it.
    s2i: Option<PathBuf>,
    /// `<target>/bench`: sources, upload tars and logs.
    dir: PathBuf,
    /// Fewer iterations, for a quick look.
    quick: bool,
    /// The name of the baseline's container.
    container: String,
    /// The images this run makes.
    images: Images,
}

/// The names of the images a run makes, its own (two checkouts benching at
/// once use one engine), all removed after the run.
#[derive(Clone)]
struct Images {
    /// What `s2i build` makes (removed after each build).
    out: String,
    /// What the baseline makes (removed after each build).
    baseline: String,
    /// What the incremental scenario rebuilds (removed at its end).
    incremental: String,
}

impl Images {
    /// The names of run `run` (`xtask-bench-PID`).
    fn of(run: &str) -> Self {
        Self {
            out: format!("{run}/out:latest"),
            baseline: format!("{run}/baseline:latest"),
            incremental: format!("{run}/incremental:latest"),
        }
    }

    fn all(&self) -> [&str; 3] {
        [&self.out, &self.baseline, &self.incremental]
    }
}

/// `cargo xtask bench [--quick] [SCENARIO...]`.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut quick = false;
    let mut selected = Vec::new();
    for arg in args {
        match arg.as_str() {
            "--quick" => quick = true,
            "--list" => {
                for scenario in SCENARIOS {
                    println!("{:<10} {}", scenario.name, scenario.description);
                }
                return Ok(());
            }
            name => match SCENARIOS.iter().find(|scenario| scenario.name == name) {
                Some(scenario) => selected.push(scenario),
                None => {
                    let names: Vec<&str> = SCENARIOS.iter().map(|scenario| scenario.name).collect();
                    bail!("unknown bench argument `{name}`; use --quick, --list or one of {names:?}");
                }
            },
        }
    }
    if selected.is_empty() {
        selected = SCENARIOS.iter().collect();
    }

    let needs_engine = selected.iter().any(|scenario| scenario.needs_engine);
    let s2i = if needs_engine {
        fixtures::run()?;
        Some(workspace::build_s2i(Profile::Release)?)
    } else {
        None
    };
    let dir = workspace::target_dir()?.join("bench");
    std::fs::create_dir_all(&dir)?;
    let run = format!("xtask-bench-{}", std::process::id());
    let bench = Bench { s2i, dir, quick, container: run.clone(), images: Images::of(&run) };
    let _cleanup = needs_engine.then(|| Cleanup {
        container: bench.container.clone(),
        images: bench.images.clone(),
        oci: bench.dir.join("oci"),
    });

    let mut figures = Vec::new();
    for scenario in selected {
        println!("\n==> bench {}: {}", scenario.name, scenario.description);
        figures.extend((scenario.measure)(&bench)?);
    }

    println!();
    print_table(&figures);
    let missed: Vec<&str> =
        figures.iter().filter(|figure| figure.passed() == Some(false)).map(|figure| figure.name.as_str()).collect();
    if !missed.is_empty() {
        bail!("{} figure(s) missed their target: {missed:?}", missed.len());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Scenarios.

fn trivial(bench: &Bench) -> Result<Vec<Figure>> {
    let src = trivial_source(bench)?;
    let measured = if bench.quick { 3 } else { 7 };
    let runs = compare(bench, "trivial", &src, measured, Engine::Docker)?;
    Ok(runs.figures("trivial", 0.95, None))
}

fn oci_trivial(bench: &Bench) -> Result<Vec<Figure>> {
    let src = trivial_source(bench)?;
    prepare_oci(bench, &src)?;
    let measured = if bench.quick { 3 } else { 7 };
    let runs = compare(bench, "oci-trivial", &src, measured, Engine::Oci)?;
    Ok(runs.figures("oci-trivial", 0.25, Some(64.0)))
}

fn oci_large(bench: &Bench) -> Result<Vec<Figure>> {
    let src = bench.dir.join("large");
    generate_large_source(&src, &bench.dir.join("large.stamp"))?;
    prepare_oci(bench, &src)?;
    let measured = if bench.quick { 2 } else { 4 };
    let runs = compare(bench, "oci-large", &src, measured, Engine::Oci)?;
    Ok(runs.figures("oci-large", 0.80, Some(64.0)))
}

/// The source of the trivial scenarios: 3 small files.
fn trivial_source(bench: &Bench) -> Result<PathBuf> {
    let src = bench.dir.join("trivial");
    std::fs::create_dir_all(&src)?;
    for (name, content) in [
        ("index.html", "<!DOCTYPE html>\n<h1>bench</h1>\n"),
        ("app.sh", "#!/bin/sh\necho 'hello from the trivial bench app'\n"),
        ("README.md", "# trivial\n\nThe smallest source `cargo xtask bench` builds.\n"),
    ] {
        std::fs::write(src.join(name), content)?;
    }
    Ok(src)
}

fn large(bench: &Bench) -> Result<Vec<Figure>> {
    let src = bench.dir.join("large");
    generate_large_source(&src, &bench.dir.join("large.stamp"))?;
    // Six: a Docker run of this source swings by a third from one run to
    // the next on a 2-core machine (a commit and a removal of 40,000 files).
    let measured = if bench.quick { 2 } else { 6 };
    let runs = compare(bench, "large", &src, measured, Engine::Docker)?;
    Ok(runs.figures("large", 1.10, Some(64.0)))
}

/// Scripts for the incremental scenario: assemble installs the artifacts of
/// the previous build, then the source; save-artifacts saves the whole app.
const INCREMENTAL_ASSEMBLE: &str = "#!/bin/sh\nset -e\ncd /opt/app-root/src\n\
if [ -d /tmp/artifacts ]; then cp -R /tmp/artifacts/. ./ && rm -rf /tmp/artifacts; echo restored; fi\n\
cp -R /tmp/src/. ./\n";
const INCREMENTAL_SAVE: &str = "#!/bin/sh\nexec tar -cf - -C /opt/app-root/src .\n";

fn incremental(bench: &Bench) -> Result<Vec<Figure>> {
    let src = bench.dir.join("large");
    generate_large_source(&src, &bench.dir.join("large.stamp"))?;
    let scripts = bench.dir.join("incremental-scripts");
    std::fs::create_dir_all(&scripts)?;
    for (name, text) in [("assemble", INCREMENTAL_ASSEMBLE), ("save-artifacts", INCREMENTAL_SAVE)] {
        let path = scripts.join(name);
        std::fs::write(&path, text)?;
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    }
    let url = format!("file://{}", scripts.display());
    let clean_args = ["--scripts-url", url.as_str()];
    let incremental_args = ["--scripts-url", url.as_str(), "--incremental", "--rm"];
    let measured = if bench.quick { 2 } else { 3 };
    let (mut clean, mut rebuilt) = (Vec::new(), Vec::new());
    // The first incremental build has no previous image; it makes one.
    time_s2i_with(bench, &src, &bench.images.incremental, &clean_args, false, Engine::Docker)?;
    for iteration in 0..=measured {
        settle(bench, &[&src])?;
        let c = time_s2i_with(bench, &src, &bench.images.out, &clean_args, true, Engine::Docker)?;
        settle(bench, &[&src])?;
        let i = time_s2i_with(bench, &src, &bench.images.incremental, &incremental_args, false, Engine::Docker)?;
        if !std::fs::read_to_string(bench.dir.join("s2i.log"))?.contains("restored") {
            bail!("the incremental build did not restore the artifacts; see {}", bench.dir.join("s2i.log").display());
        }
        let warm_up = if iteration == 0 { " (warm-up, discarded)" } else { "" };
        println!(
            "bench: incremental run {iteration}{warm_up}: clean {:.3}s; incremental {:.3}s, peak RSS {:.1} MiB",
            c.wall.as_secs_f64(),
            i.wall.as_secs_f64(),
            i.peak_rss.unwrap_or(0) as f64 / (1024.0 * 1024.0)
        );
        if iteration > 0 {
            clean.push(c);
            rebuilt.push(i);
        }
    }
    remove_image(&bench.images.incremental)?;
    let peak = rebuilt.iter().chain(&clean).filter_map(|r| r.peak_rss).max().unwrap_or(0);
    let median_of = |runs: &[Run]| median(runs.iter().map(|r| r.wall.as_secs_f64()).collect());
    Ok(vec![
        Figure::new("incremental: clean build, median".into(), median_of(&clean), Unit::Seconds, None),
        Figure::new("incremental: incremental rebuild, median".into(), median_of(&rebuilt), Unit::Seconds, None),
        Figure::new("incremental: s2i peak RSS".into(), peak as f64 / (1024.0 * 1024.0), Unit::MiB, Some(64.0)),
    ])
}

/// Runs `cargo bench -p s2i-route --bench routes` and reads criterion's
/// medians from `target/criterion/routes/<benchmark>/new/estimates.json`.
fn routes(bench: &Bench) -> Result<Vec<Figure>> {
    let mut cargo = workspace::cargo();
    cargo.args(["bench", "--package", "s2i-route", "--bench", "routes", "--", "--noplot"]);
    if bench.quick {
        cargo.arg("--quick");
    }
    println!("bench: $ {}", cmd::display(&cargo));
    cmd::run(&mut cargo)?;
    let criterion = workspace::target_dir()?.join("criterion").join("routes");
    let median_ns = |id: &str| -> Result<f64> {
        let path = criterion.join(id).join("new").join("estimates.json");
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let estimates: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("cannot parse {}", path.display()))?;
        estimates["median"]["point_estimate"]
            .as_f64()
            .with_context(|| format!("{} has no median.point_estimate", path.display()))
    };
    Ok(vec![
        Figure::new(
            "routes: admission of 10,000 routes, median".into(),
            median_ns("admit_10000")? / 1e9,
            Unit::Seconds,
            Some(1.0),
        ),
        Figure::new(
            "routes: rendering 10,000 routes, median".into(),
            median_ns("render_10000")? / 1e9,
            Unit::Seconds,
            Some(1.0),
        ),
        Figure::new(
            "routes: match lookup, median".into(),
            median_ns("match_lookup")? / 1e3,
            Unit::Microseconds,
            Some(2.0),
        ),
    ])
}

// ---------------------------------------------------------------------------
// Measuring.

/// One timed run.
#[derive(Clone, Copy, Debug)]
struct Run {
    wall: Duration,
    /// Peak resident set size of the measured process, in bytes.
    peak_rss: Option<u64>,
}

/// The measured (not warm-up) runs of s2i, of the baseline, and of s2i's reproducible build.
struct Comparison {
    s2i: Vec<Run>,
    baseline: Vec<Run>,
    reproducible: Vec<Run>,
}

impl Comparison {
    /// Median times, their ratio against `ratio_target`, and the peak RSS
    /// (against `rss_target_mib` if given).
    fn figures(&self, label: &str, ratio_target: f64, rss_target_mib: Option<f64>) -> Vec<Figure> {
        let s2i = median(self.s2i.iter().map(|run| run.wall.as_secs_f64()).collect());
        let baseline = median(self.baseline.iter().map(|run| run.wall.as_secs_f64()).collect());
        let reproducible = median(self.reproducible.iter().map(|run| run.wall.as_secs_f64()).collect());
        let peak =
            |runs: &[Run]| runs.iter().filter_map(|run| run.peak_rss).max().unwrap_or(0) as f64 / (1024.0 * 1024.0);
        vec![
            Figure::new(format!("{label}: s2i build, median"), s2i, Unit::Seconds, None),
            Figure::new(format!("{label}: docker CLI baseline, median"), baseline, Unit::Seconds, None),
            Figure::new(format!("{label}: time ratio s2i / baseline"), s2i / baseline, Unit::Ratio, Some(ratio_target)),
            Figure::new(format!("{label}: s2i peak RSS"), peak(&self.s2i), Unit::MiB, rss_target_mib),
            Figure::new(format!("{label}: s2i reproducible build, median"), reproducible, Unit::Seconds, None),
            Figure::new(format!("{label}: time ratio reproducible / plain"), reproducible / s2i, Unit::Ratio, None),
            Figure::new(
                format!("{label}: s2i reproducible peak RSS"),
                peak(&self.reproducible),
                Unit::MiB,
                rss_target_mib,
            ),
        ]
    }
}

/// Runs s2i and the baseline alternately, `measured` times each after one
/// warm-up run each.
fn compare(bench: &Bench, label: &str, src: &Path, measured: usize, engine: Engine) -> Result<Comparison> {
    let tar = bench.dir.join(format!("{label}-upload.tar"));
    let started = Instant::now();
    let size = write_upload_tar(src, &tar)?;
    println!(
        "bench: baseline input {} ({:.1} MB) written in {}; not part of the baseline's \
         time (s2i's time includes making its own tar)",
        tar.display(),
        size as f64 / 1e6,
        cmd::human(started.elapsed())
    );

    // The documents too, so that the peak RSS target covers an SBOM of every file.
    let sbom = bench.dir.join(format!("{label}.spdx.json"));
    let provenance = bench.dir.join(format!("{label}.intoto.json"));
    let reproducible_args = [
        "--source-date-epoch",
        EPOCH,
        "--sbom",
        sbom.to_str().context("the bench directory's path is not UTF-8")?,
        "--provenance",
        provenance.to_str().context("the bench directory's path is not UTF-8")?,
    ];
    let mut comparison = Comparison { s2i: Vec::new(), baseline: Vec::new(), reproducible: Vec::new() };
    let rss = |run: &Run| {
        run.peak_rss.map(|bytes| format!(", peak RSS {:.1} MiB", bytes as f64 / (1024.0 * 1024.0))).unwrap_or_default()
    };
    for iteration in 0..=measured {
        settle(bench, &[src])?;
        let s2i = time_s2i(bench, src, engine)?;
        settle(bench, &[&tar])?;
        let baseline = time_baseline(bench, &tar)?;
        settle(bench, &[src])?;
        let reproducible = time_s2i_with(bench, src, &bench.images.out, &reproducible_args, true, engine)?;
        for document in [&sbom, &provenance] {
            if std::fs::metadata(document).map_or(true, |m| m.len() == 0) {
                bail!("the reproducible build wrote no {}", document.display());
            }
            std::fs::remove_file(document)?;
        }
        let warm_up = if iteration == 0 { " (warm-up, discarded)" } else { "" };
        println!(
            "bench: {label} run {iteration}{warm_up}: s2i {:.3}s{}; baseline {:.3}s; reproducible {:.3}s{}",
            s2i.wall.as_secs_f64(),
            rss(&s2i),
            baseline.wall.as_secs_f64(),
            reproducible.wall.as_secs_f64(),
            rss(&reproducible)
        );
        if iteration > 0 {
            comparison.s2i.push(s2i);
            comparison.baseline.push(baseline);
            comparison.reproducible.push(reproducible);
        }
    }
    std::fs::remove_file(&tar)?;
    Ok(comparison)
}

/// Which engine `s2i build` runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    /// Docker's API (the default).
    Docker,
    /// `--engine oci`: runc, and an image store of the bench's own in
    /// `<target>/bench/oci`, reset before each run from the one
    /// [`prepare_oci`] made (the builder in it, its layers unpacked in the
    /// cache, as after a user's first build).
    Oci,
}

/// `s2i build <src> BUILDER <the run's out image>`, timed, with its peak RSS.
fn time_s2i(bench: &Bench, src: &Path, engine: Engine) -> Result<Run> {
    time_s2i_with(bench, src, &bench.images.out, &[], true, engine)
}

/// The `--engine oci` directories under `<target>/bench/oci`: the prepared
/// store, the store of a run, the layer cache, the container state.
fn oci_dirs(bench: &Bench) -> [PathBuf; 4] {
    let oci = bench.dir.join("oci");
    ["template", "store", "cache", "state"].map(|name| oci.join(name))
}

/// Make the `--engine oci` store: the builder saved from Docker and copied
/// in by a first build (which also unpacks its layers into the cache).
fn prepare_oci(bench: &Bench, src: &Path) -> Result<()> {
    let [template, ..] = oci_dirs(bench);
    let oci = bench.dir.join("oci");
    if oci.exists() {
        std::fs::remove_dir_all(&oci)?;
    }
    std::fs::create_dir_all(&oci)?;
    let archive = oci.join("builder.tar");
    cmd::output(cmd::docker().args(["save", "-o"]).arg(&archive).arg(BUILDER))?;
    let mut build = oci_command(bench, &template)?;
    build.arg("build").arg(src).arg(format!("docker-archive:{}", archive.display())).arg(&bench.images.out);
    cmd::output(&mut build)?;
    Ok(())
}

/// `s2i --engine oci` on the bench's directories, with the store `store`.
fn oci_command(bench: &Bench, store: &Path) -> Result<Command> {
    let [_, _, cache, state] = oci_dirs(bench);
    let mut command = Command::new(bench.s2i.as_ref().context("the release s2i was not built")?);
    command
        .env("S2I_ENGINE", "oci")
        .env("S2I_OCI_STORE_DIR", store)
        .env("S2I_OCI_CACHE_DIR", cache)
        .env("S2I_OCI_STATE_DIR", state);
    Ok(command)
}

/// `s2i build <src> BUILDER <image> <args>` on `engine`, timed, with its
/// peak RSS; the image is removed afterwards when `remove` says so.
fn time_s2i_with(bench: &Bench, src: &Path, image: &str, args: &[&str], remove: bool, engine: Engine) -> Result<Run> {
    let log_path = bench.dir.join("s2i.log");
    let log = File::create(&log_path)?;
    let mut build = match engine {
        Engine::Docker => Command::new(bench.s2i.as_ref().context("the release s2i was not built")?),
        Engine::Oci => {
            // A fresh copy of the prepared store, so that runs do not pile up results (not timed).
            let [template, store, ..] = oci_dirs(bench);
            if store.exists() {
                std::fs::remove_dir_all(&store)?;
            }
            cmd::run(Command::new("cp").arg("-a").arg(&template).arg(&store))?;
            // Written back now, not during the timed run.
            cmd::run(&mut Command::new("sync"))?;
            oci_command(bench, &store)?
        }
    };
    build
        .arg("build")
        .arg(src)
        .args([BUILDER, image])
        .args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    let shown = cmd::display(&build);
    let started = Instant::now();
    let child = build.spawn().with_context(|| format!("cannot run `{shown}`"))?;
    let (status, peak_rss) = wait_with_peak_rss(child)?;
    let wall = started.elapsed();
    if !status.success() {
        bail!("`{shown}` failed ({status}); its output ends with:\n{}", tail(&log_path));
    }
    if remove && engine == Engine::Docker {
        remove_image(image)?;
    }
    Ok(Run { wall, peak_rss: Some(peak_rss) })
}

/// The same work with the docker CLI, timed from `docker create` to
/// `docker rm`.
fn time_baseline(bench: &Bench, tar: &Path) -> Result<Run> {
    let name = bench.container.as_str();
    let log_path = bench.dir.join("baseline.log");
    let log = File::create(&log_path)?;

    let started = Instant::now();
    cmd::output(cmd::docker().args([
        "create",
        "--interactive",
        "--name",
        name,
        BUILDER,
        "/bin/sh",
        "-c",
        BASELINE_COMMAND,
    ]))?;
    let mut start = cmd::docker();
    start
        .args(["start", "--attach", "--interactive", name])
        .stdin(File::open(tar)?)
        .stdout(log.try_clone()?)
        .stderr(log);
    let status = start.status().context("cannot run `docker start`")?;
    if !status.success() {
        bail!("the baseline's `docker start` failed ({status}); its output ends with:\n{}", tail(&log_path));
    }
    cmd::output(cmd::docker().args(["commit", "--change", BASELINE_CHANGE, name, &bench.images.baseline]))?;
    cmd::output(cmd::docker().args(["rm", name]))?;
    let wall = started.elapsed();

    remove_image(&bench.images.baseline)?;
    Ok(Run { wall, peak_rss: None })
}

/// Brings the machine to the same state before each timed run: the
/// deletions `--engine oci` leaves to a background `rm` finished, dirty pages
/// written (so that writing back what the previous run wrote is not counted
/// in the next one), clean caches dropped and the run's inputs (`warm`, files
/// or trees) read back in.
///
/// Dropping the caches is for ext4 without a journal (this project's CI
/// machines): for each inode it allocates, such a file system skips the
/// slots freed in the last minute, checking each against the inode-table
/// blocks still in the cache; after a run deleted 40,000 files, the next
/// run's creations crawl (the same `--engine oci` build of the large source
/// took 6 s or 37 s, the docker CLI baseline 23 s or 42 s, depending only on
/// how recently the previous run had cleaned up). With the cached blocks
/// gone the check finds nothing; file systems with a journal never make it.
/// Without root the caches stay, and the figures may carry that noise.
fn settle(bench: &Bench, warm: &[&Path]) -> Result<()> {
    let [_, _, cache, _] = oci_dirs(bench);
    let trash = cache.join("trash");
    let deadline = Instant::now() + Duration::from_secs(300);
    while std::fs::read_dir(&trash).is_ok_and(|mut entries| entries.next().is_some()) {
        if Instant::now() > deadline {
            bail!("{} is still not empty after 5 minutes: is a deleter stuck?", trash.display());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    cmd::run(&mut Command::new("sync"))?;
    if std::fs::write("/proc/sys/vm/drop_caches", "1\n").is_ok() {
        for input in warm.iter().copied().chain(bench.s2i.as_deref()) {
            read_all(input)?;
        }
    }
    Ok(())
}

/// Reads every regular file under `path` (or `path` itself), into the page cache.
fn read_all(path: &Path) -> Result<()> {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).with_context(|| format!("cannot list {}", path.display()))? {
            read_all(&entry?.path())?;
        }
    } else if path.is_file() {
        let mut file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        std::io::copy(&mut file, &mut std::io::sink())?;
    }
    Ok(())
}

fn remove_image(image: &str) -> Result<()> {
    cmd::output(cmd::docker().args(["image", "rm", image]))?;
    Ok(())
}

/// Waits for `child` with `wait4`, returning its status and peak RSS in
/// bytes. The child is reaped here; it must not be waited for again.
#[allow(unsafe_code)] // wait4 is the only way to get a child's rusage.
fn wait_with_peak_rss(child: Child) -> Result<(ExitStatus, u64)> {
    use std::os::unix::process::ExitStatusExt;

    let pid = libc::pid_t::try_from(child.id()).context("pid out of range")?;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is a plain C struct of integers; all zeroes is valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own unreaped child and both pointers are to
        // live, writable locals of the types wait4 expects.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err).context("wait4 failed");
        }
    }
    drop(child);
    // On Linux ru_maxrss is in KiB.
    let peak_rss = u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024;
    Ok((ExitStatus::from_raw(status), peak_rss))
}

// ---------------------------------------------------------------------------
// Inputs.

/// Writes the baseline's input: the same tar s2i streams (`scripts/` empty, as
/// the builder's scripts are in the image, and `src/` holding the source), made
/// by s2i's own archive writer so both sides send the same bytes. Returns its size.
fn write_upload_tar(src: &Path, out: &Path) -> Result<u64> {
    use s2i_core::archive::{InputArchive, SourceTree, write_archive};
    use s2i_core::ignore::{DEFAULT_EXCLUDE, ExcludePattern, SourceFilter};
    let file = File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let filter = SourceFilter { exclude: ExcludePattern::new(DEFAULT_EXCLUDE)?, ..Default::default() };
    let archive = InputArchive {
        source: Some(SourceTree { root: src.to_owned(), filter, follow_symlinks: true }),
        ..Default::default()
    };
    let mut writer = BufWriter::new(file);
    write_archive(archive, &mut writer, &mut |_| {})?;
    let file = writer.into_inner().map_err(|err| err.into_error())?;
    file.sync_all()?;
    Ok(file.metadata()?.len())
}

/// The large source's shape. Changing it changes [`LARGE_STAMP`]'s meaning,
/// so bump the version there too.
const LARGE_TOP_DIRS: u64 = 20;
const LARGE_SUB_DIRS: u64 = 10;
const LARGE_FILES_PER_DIR: u64 = 100;
/// File sizes are uniform in `[MIN, MIN + SPREAD)`: 10 KiB on average.
const LARGE_MIN_SIZE: u64 = 1024;
const LARGE_SIZE_SPREAD: u64 = 18 * 1024;
const LARGE_SEED: u64 = 0x5_2_1_b_e_c_4;
/// Identifies the generator; the source is regenerated when it changes.
const LARGE_STAMP: &str = "large source v1: 20x10 dirs, 100 files each, 1-19 KiB, seed 0x521bec4";

/// Generates the large source into `dir` unless `stamp` says it is there.
fn generate_large_source(dir: &Path, stamp: &Path) -> Result<()> {
    if dir.is_dir() && std::fs::read_to_string(stamp).is_ok_and(|text| text == LARGE_STAMP) {
        println!("bench: reusing the generated source {}", dir.display());
        return Ok(());
    }
    let started = Instant::now();
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    let mut random = SplitMix64(LARGE_SEED);
    let mut total = 0;
    let mut buffer = Vec::new();
    for top in 0..LARGE_TOP_DIRS {
        for sub in 0..LARGE_SUB_DIRS {
            let leaf = dir.join(format!("pkg-{top:02}")).join(format!("mod-{sub}"));
            std::fs::create_dir_all(&leaf)?;
            for file in 0..LARGE_FILES_PER_DIR {
                let size = LARGE_MIN_SIZE + random.next() % LARGE_SIZE_SPREAD;
                fill_text(&mut random, &mut buffer, size as usize);
                std::fs::write(leaf.join(format!("file-{file:03}.txt")), &buffer)?;
                total += size;
            }
        }
    }
    std::fs::write(stamp, LARGE_STAMP)?;
    println!(
        "bench: generated {} files ({:.1} MB) in {} in {}",
        LARGE_TOP_DIRS * LARGE_SUB_DIRS * LARGE_FILES_PER_DIR,
        total as f64 / 1e6,
        dir.display(),
        cmd::human(started.elapsed())
    );
    Ok(())
}

/// Replaces `buffer` with `size` bytes of lowercase lines from `random`.
fn fill_text(random: &mut SplitMix64, buffer: &mut Vec<u8>, size: usize) {
    buffer.clear();
    while buffer.len() < size {
        for byte in random.next().to_le_bytes() {
            let column = buffer.len() % 64;
            buffer.push(if column == 63 { b'\n' } else { b'a' + byte % 26 });
        }
    }
    buffer.truncate(size);
}

/// The SplitMix64 generator: small, fast and deterministic.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

// ---------------------------------------------------------------------------
// Reporting.

#[derive(Clone, Copy, Debug)]
enum Unit {
    Seconds,
    Microseconds,
    Ratio,
    MiB,
}

impl Unit {
    fn format(self, value: f64) -> String {
        match self {
            Unit::Seconds => format!("{value:.3} s"),
            Unit::Microseconds => format!("{value:.3} µs"),
            Unit::Ratio => format!("{value:.2}"),
            Unit::MiB => format!("{value:.1} MiB"),
        }
    }
}

/// One measured figure and, if it has one, its target (an upper bound).
#[derive(Debug)]
struct Figure {
    name: String,
    value: f64,
    unit: Unit,
    at_most: Option<f64>,
}

impl Figure {
    fn new(name: String, value: f64, unit: Unit, at_most: Option<f64>) -> Self {
        Figure { name, value, unit, at_most }
    }

    /// `None` for a figure without a target.
    fn passed(&self) -> Option<bool> {
        self.at_most.map(|limit| self.value <= limit)
    }
}

fn print_table(figures: &[Figure]) {
    let width = figures.iter().map(|figure| figure.name.len()).max().unwrap_or(0);
    println!("{:<width$}  {:>12}  {:>12}  result", "figure", "value", "target");
    for figure in figures {
        let target =
            figure.at_most.map(|limit| format!("<= {}", figure.unit.format(limit))).unwrap_or_else(|| "-".to_owned());
        let result = match figure.passed() {
            Some(true) => "PASS",
            Some(false) => "FAIL",
            None => "",
        };
        println!("{:<width$}  {:>12}  {:>12}  {result}", figure.name, figure.unit.format(figure.value), target);
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len().is_multiple_of(2) { (values[middle - 1] + values[middle]) / 2.0 } else { values[middle] }
}

/// The last few KiB of a log file.
fn tail(path: &Path) -> String {
    let read = || -> std::io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(4096)))?;
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        Ok(text)
    };
    read().unwrap_or_else(|err| format!("(cannot read {}: {err})", path.display()))
}

/// Removes the bench's container and images, however the bench ends.
struct Cleanup {
    container: String,
    images: Images,
    oci: PathBuf,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        cmd::succeeds(cmd::docker().args(["rm", "--force", "--volumes", &self.container]));
        for image in self.images.all() {
            cmd::succeeds(cmd::docker().args(["image", "rm", image]));
        }
        // The --engine oci store and cache (hundreds of MB after the large scenario).
        let _ = std::fs::remove_dir_all(&self.oci);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_run_names_its_own_images() {
        let (a, b) = (Images::of("xtask-bench-1"), Images::of("xtask-bench-2"));
        assert_eq!(
            a.all(),
            ["xtask-bench-1/out:latest", "xtask-bench-1/baseline:latest", "xtask-bench-1/incremental:latest"]
        );
        assert!(a.all().iter().all(|name| !b.all().contains(name)));
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
    }

    #[test]
    fn the_generator_is_deterministic() {
        let mut a = SplitMix64(LARGE_SEED);
        let mut b = SplitMix64(LARGE_SEED);
        let (mut text_a, mut text_b) = (Vec::new(), Vec::new());
        fill_text(&mut a, &mut text_a, 1000);
        fill_text(&mut b, &mut text_b, 1000);
        assert_eq!(text_a, text_b);
        assert_eq!(text_a.len(), 1000);
        assert_eq!(text_a[63], b'\n');
        assert!(text_a.iter().all(|byte| byte.is_ascii_lowercase() || *byte == b'\n'));
    }

    #[test]
    fn the_large_source_averages_ten_kib() {
        let files = LARGE_TOP_DIRS * LARGE_SUB_DIRS * LARGE_FILES_PER_DIR;
        assert_eq!(files, 20_000);
        assert_eq!(LARGE_TOP_DIRS * LARGE_SUB_DIRS, 200);
        let mean = LARGE_MIN_SIZE + LARGE_SIZE_SPREAD / 2;
        assert_eq!(mean, 10 * 1024);
    }

    #[test]
    fn figures_pass_or_fail_against_their_target() {
        let ok = Figure::new("a".into(), 0.9, Unit::Ratio, Some(0.95));
        let bad = Figure::new("b".into(), 70.0, Unit::MiB, Some(64.0));
        let info = Figure::new("c".into(), 1.0, Unit::Seconds, None);
        assert_eq!(ok.passed(), Some(true));
        assert_eq!(bad.passed(), Some(false));
        assert_eq!(info.passed(), None);
    }

    #[test]
    fn the_upload_tar_has_scripts_and_src() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-test-{}", std::process::id()));
        let src = dir.join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("sub/b.txt"), "b").unwrap();
        std::fs::write(src.join("a.txt"), "a").unwrap();
        let tar_path = dir.join("upload.tar");
        write_upload_tar(&src, &tar_path).unwrap();
        let mut archive = tar::Archive::new(File::open(&tar_path).unwrap());
        let names: Vec<String> =
            archive.entries().unwrap().map(|entry| entry.unwrap().path().unwrap().display().to_string()).collect();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(names, ["scripts/", "src/", "src/a.txt", "src/sub/", "src/sub/b.txt"]);
    }
}
