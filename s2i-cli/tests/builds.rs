//! BuildConfigs and Builds end to end: the real `s2i` binary, the real
//! engine, the fixture builders, a store and a namespace per test.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

/// A store and a namespace of its own (engine tags under it removed at the end).
struct Setup {
    ns: Namespace,
    store: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        fixture("busybox-builder");
        Setup { ns: Namespace::fresh(), store: tempfile::tempdir().unwrap() }
    }

    fn s2i<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        run_in_store(self.store.path(), &self.ns.0, args)
    }

    fn apply(&self, yaml: &str) -> Run {
        let file = self.store.path().join(format!("{}.yaml", unique("objects")));
        std::fs::write(&file, yaml).unwrap();
        self.s2i(["apply", "-f", file.to_str().unwrap()])
    }

    fn json(&self, kind: &str, name: &str) -> Value {
        let run = self.s2i(["get", kind, name, "-o", "json"]).ok();
        serde_json::from_str(&run.stdout).expect("get -o json prints JSON")
    }

    fn build(&self, name: &str) -> Value {
        self.json("build", name)
    }

    fn builds(&self) -> Vec<Value> {
        let run = self.s2i(["get", "builds", "-o", "json"]).ok();
        let list: Value = serde_json::from_str(&run.stdout).unwrap();
        list["items"].as_array().cloned().unwrap_or_default()
    }

    /// Poll build `name` until `done` says so; panics after `timeout` with the build and its log.
    fn wait_for(&self, name: &str, timeout: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let run = self.s2i(["get", "build", name, "-o", "json"]);
            if run.code == 0 {
                let build: Value = serde_json::from_str(&run.stdout).unwrap();
                if done(&build) {
                    return build;
                }
                if Instant::now() > deadline {
                    panic!("build {name} never got there: {build:#}\n--- log\n{}", self.log(name));
                }
            } else if Instant::now() > deadline {
                panic!("build {name} never appeared: {}", run.stderr);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn wait_ended(&self, name: &str) -> Value {
        self.wait_for(name, Duration::from_secs(90), |b| {
            matches!(b["status"]["phase"].as_str(), Some("Complete" | "Failed" | "Error" | "Cancelled"))
        })
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.store.path().join("logs").join(&self.ns.0).join(format!("{name}.log")))
            .unwrap_or_default()
    }

    /// Containers (in any state) of a build.
    fn containers(&self, build: &str) -> Vec<String> {
        let filter = format!("label=io.openshift.build.name={}/{build}", self.ns.0);
        docker_ok(&["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"]).lines().map(str::to_owned).collect()
    }
}

fn phase(build: &Value) -> (&str, &str) {
    (build["status"]["phase"].as_str().unwrap_or(""), build["status"]["reason"].as_str().unwrap_or(""))
}

/// A BuildConfig building binary input on the busybox builder, with more `spec` lines.
fn binary_config(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: build.openshift.io/v1
kind: BuildConfig
metadata:
  name: {name}
spec:
  source:
    binary: {{}}
  strategy:
    sourceStrategy:
      from:
        kind: DockerImage
        name: s2i-fixtures/busybox-builder:latest
  output:
    to:
      kind: ImageStreamTag
      name: {name}:latest
{spec}"
    )
}

/// A source whose assemble waits `seconds` before the builder's own assemble.
fn slow_source(seconds: u32) -> tempfile::TempDir {
    let script =
        format!("#!/bin/sh\necho \"---> waiting {seconds}s\"\nsleep {seconds}\nexec /usr/libexec/s2i/assemble\n");
    source(&[("index.html", "slow\n"), (".s2i/bin/assemble", &script)])
}

fn executor_pid(build: &Value) -> u32 {
    let text = build["metadata"]["annotations"]["s2i-rs.github.io/executor"].as_str().expect("an executor");
    text.split_whitespace().find_map(|w| w.strip_prefix("pid=")).unwrap().parse().unwrap()
}

fn seconds(time: &Value) -> i64 {
    let text = time.as_str().expect("a timestamp");
    let (date, clock) = text.trim_end_matches('Z').split_once('T').unwrap();
    let day: i64 = date.split('-').nth(2).unwrap().parse().unwrap();
    let parts: Vec<i64> = clock.split(':').map(|p| p.parse().unwrap()).collect();
    ((day * 24 + parts[0]) * 60 + parts[1]) * 60 + parts[2]
}

#[test]
fn a_build_completes_with_limits_labels_stages_and_logs() {
    let setup = Setup::new();
    let spec = "  resources:
    limits:
      memory: 64Mi
      cpu: 500m
  output:
    to:
      kind: ImageStreamTag
      name: web:latest
    imageLabels:
    - name: team
      value: builders
  postCommit:
    command: [\"test\", \"-f\", \"/opt/app-root/src/index.html\"]
";
    let config = binary_config("web", "")
        .replace("  output:\n    to:\n      kind: ImageStreamTag\n      name: web:latest\n", spec);
    setup.apply(&config).ok();
    // assemble reports the memory limit of its cgroup (v1 or v2), then builds.
    let script = "#!/bin/sh
limit=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)
echo \"memory limit: $limit\"
exec /usr/libexec/s2i/assemble
";
    let app = source(&[("index.html", "hello\n"), (".s2i/bin/assemble", script)]);
    let run = setup.s2i(["start-build", "web", "--from-dir", app.path().to_str().unwrap(), "--follow"]).ok();
    assert!(run.stdout.starts_with("build/web-1 started\n"), "{}", run.stdout);
    assert!(run.stdout.contains("memory limit: 67108864"), "the limit reaches the build container:\n{}", run.stdout);
    assert!(run.stdout.contains("---> Installing application source"), "{}", run.stdout);
    assert!(run.stdout.contains("==> Complete"), "{}", run.stdout);

    let build = setup.build("web-1");
    assert_eq!(phase(&build), ("Complete", ""));
    for scratch in ["inputs", "work"] {
        let dir = setup.store.path().join(scratch).join(&setup.ns.0).join("web-1");
        assert!(!dir.exists(), "{} is removed after the build", dir.display());
    }
    let conditions = build["status"]["conditions"].as_array().unwrap();
    let current: Vec<&str> =
        conditions.iter().filter(|c| c["status"] == "True").map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(current, ["Complete"]);
    let stages: Vec<&str> =
        build["status"]["stages"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert!(stages.contains(&"Build") && stages.contains(&"PostCommit") && stages.contains(&"PushImage"), "{stages:?}");
    assert!(build["status"]["startTimestamp"].is_string() && build["status"]["completionTimestamp"].is_string());
    // As on OpenShift: the span of the (whole-second) timestamps, omitted when zero.
    let span = seconds(&build["status"]["completionTimestamp"]) - seconds(&build["status"]["startTimestamp"]);
    assert_eq!(build["status"]["duration"].as_i64().unwrap_or(0), span * 1_000_000_000);
    assert_eq!(build["status"]["outputDockerImageReference"], format!("{}/web:latest", setup.ns.0));
    let digest = build["status"]["output"]["to"]["imageDigest"].as_str().unwrap().to_owned();

    // The output is recorded in the stream; the engine tag follows.
    let istag = setup.json("istag", "web:latest");
    assert_eq!(istag["image"]["metadata"]["name"], digest.as_str());
    let image = format!("{}/web:latest", setup.ns.0);
    let labels = labels(&image);
    assert_eq!(labels["team"], "builders");
    assert_eq!(labels["io.openshift.build.name"], "web-1");
    assert_eq!(labels["io.openshift.build.namespace"], setup.ns.0.as_str());
    // The push wrote the stream's status only, as OpenShift's does: no spec
    // tag made of the build's labels goes to a cluster with an export.
    assert!(istag["tag"].is_null(), "{istag:#}");
    let export = setup.s2i(["export", "is", "web"]).ok().stdout;
    let exported: Value = serde_norway::from_str(&export).unwrap();
    assert!(exported["spec"]["tags"].is_null(), "{export}");
    assert!(!export.contains("io.openshift.build.") && !export.contains("/tmp/"), "{export}");
    let env = inspect(&image)["Config"]["Env"].to_string();
    assert!(env.contains("OPENSHIFT_BUILD_NAME=web-1"), "{env}");

    // The table, the description and the log.
    let table = setup.s2i(["get", "builds"]).ok().stdout;
    assert!(table.starts_with("NAME    TYPE     FROM     STATUS     STARTED"), "{table}");
    assert!(table.contains("web-1   Source   Binary   Complete"), "{table}");
    let bc_table = setup.s2i(["get", "bc"]).ok().stdout;
    assert_eq!(
        bc_table.lines().nth(1).unwrap().split_whitespace().collect::<Vec<_>>(),
        ["web", "Source", "Binary", "1"]
    );
    let describe = setup.s2i(["describe", "build", "web-1"]).ok().stdout;
    for expected in ["Status:                 Complete", "Build trigger cause:    Manually triggered", &digest] {
        assert!(describe.contains(expected), "{expected:?} in\n{describe}");
    }
    let logs = setup.s2i(["logs", "build/web-1"]).ok().stdout;
    assert!(logs.contains("memory limit: 67108864"), "{logs}");
    assert_eq!(setup.s2i(["logs", "bc/web"]).ok().stdout, logs, "bc/NAME is its latest build");
    assert!(setup.containers("web-1").is_empty());
}

#[test]
fn an_assemble_failure_fails_the_build_and_its_log_keeps_stderr() {
    let setup = Setup::new();
    setup.apply(&binary_config("broken", "")).ok();
    let app = source(&[("index.html", "x\n")]);
    let run = setup
        .s2i([
            "start-build",
            "broken",
            "--from-dir",
            app.path().to_str().unwrap(),
            "--wait",
            "-e",
            "ASSEMBLE_EXIT_CODE=3",
        ])
        .failed();
    assert!(flat(&run.stderr).contains("build broken-1 did not complete: Failed (AssembleFailed)"), "{}", run.stderr);
    let build = setup.build("broken-1");
    assert_eq!(phase(&build), ("Failed", "AssembleFailed"));
    assert_eq!(build["status"]["message"], "Assemble script failed.");
    let snippet = build["status"]["logSnippet"].as_str().unwrap();
    assert!(snippet.lines().count() <= 5, "{snippet}");
    let log = setup.s2i(["logs", "build/broken-1"]).ok().stdout;
    // assemble's stderr lines are in the log.
    assert!(log.contains("---> assemble ran as uid"), "{log}");
    assert!(log.contains("---> Exiting with ASSEMBLE_EXIT_CODE=3"), "{log}");
    assert!(log.contains("==> Failed AssembleFailed"), "{log}");
    assert!(setup.s2i(["get", "istag", "broken:latest"]).code != 0, "nothing is recorded");
    assert!(setup.containers("broken-1").is_empty());
}

#[test]
fn a_failing_post_commit_hook_fails_the_build_before_the_output() {
    let setup = Setup::new();
    setup.apply(&binary_config("hooked", "  postCommit:\n    script: echo checking; exit 7\n")).ok();
    let app = source(&[("index.html", "x\n")]);
    setup.s2i(["start-build", "hooked", "--from-dir", app.path().to_str().unwrap(), "--wait"]).failed();
    let build = setup.build("hooked-1");
    assert_eq!(phase(&build), ("Failed", "PostCommitHookFailed"));
    assert_eq!(build["status"]["message"], "Build failed because of post commit hook.");
    let log = setup.log("hooked-1");
    assert!(log.contains("checking") && log.contains("exit code 7"), "{log}");
    assert!(setup.s2i(["get", "istag", "hooked:latest"]).code != 0, "the output is not recorded");
    assert!(setup.containers("hooked-1").is_empty(), "the hook's container is removed");
}

#[test]
fn cancel_build_stops_a_running_build() {
    let setup = Setup::new();
    setup.apply(&binary_config("slow", "")).ok();
    let app = slow_source(60);
    setup.s2i(["start-build", "slow", "--from-dir", app.path().to_str().unwrap()]).ok();
    setup.wait_for("slow-1", Duration::from_secs(60), |b| {
        b["status"]["phase"] == "Running" && !setup.containers("slow-1").is_empty()
    });
    let started = Instant::now();
    let run = setup.s2i(["cancel-build", "slow-1"]).ok();
    assert_eq!(run.stdout.trim(), "build.build.openshift.io/slow-1 cancelled");
    assert!(started.elapsed() < Duration::from_secs(30), "cancelling took {:?}", started.elapsed());
    let build = setup.build("slow-1");
    assert_eq!(phase(&build), ("Cancelled", "CancelledBuild"));
    assert_eq!(build["status"]["cancelled"], true);
    assert!(setup.containers("slow-1").is_empty(), "the engine removed the build's containers");
    assert!(setup.log("slow-1").contains("==> Cancelled CancelledBuild"));
    let again = setup.s2i(["cancel-build", "slow-1"]).failed();
    assert!(again.stderr.contains("already ended: Cancelled"), "{}", again.stderr);
}

#[test]
fn the_completion_deadline_fails_a_slow_build_within_seconds() {
    let setup = Setup::new();
    setup.apply(&binary_config("late", "  completionDeadlineSeconds: 2\n")).ok();
    let app = slow_source(60);
    let started = Instant::now();
    setup.s2i(["start-build", "late", "--from-dir", app.path().to_str().unwrap(), "--wait"]).failed();
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    let build = setup.build("late-1");
    assert_eq!(phase(&build), ("Failed", "GenericBuildFailed"));
    assert_eq!(build["status"]["message"], "Generic Build failure - check logs for details.");
    assert!(build["status"]["logSnippet"].as_str().unwrap().contains("completionDeadlineSeconds (2s)"));
    assert!(setup.containers("late-1").is_empty());
}

#[test]
fn a_build_whose_process_died_is_marked_error() {
    let setup = Setup::new();
    setup.apply(&binary_config("orphan", "")).ok();
    let app = slow_source(60);
    setup.s2i(["start-build", "orphan", "--from-dir", app.path().to_str().unwrap()]).ok();
    let running = setup.wait_for("orphan-1", Duration::from_secs(60), |b| {
        b["status"]["phase"] == "Running" && !setup.containers("orphan-1").is_empty()
    });
    let pid = executor_pid(&running);
    // The engine's working directory is in the store, where the reaper finds it.
    let work = setup.store.path().join("work").join(&setup.ns.0).join("orphan-1");
    assert!(work.read_dir().unwrap().any(|e| e.unwrap().file_name().to_string_lossy().starts_with("s2i-")));
    let killed = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    assert!(killed.success());
    let build = setup.wait_ended("orphan-1");
    assert_eq!(phase(&build), ("Error", "BuildPodDeleted"));
    assert!(build["status"]["message"].as_str().unwrap().contains(&format!("pid {pid}")), "{build:#}");
    assert!(setup.containers("orphan-1").is_empty(), "the dead process's containers are removed");
    assert!(!work.exists(), "the dead process's working directory is removed");
    assert!(setup.log("orphan-1").contains("==> Error BuildPodDeleted"));
}

#[test]
fn serial_builds_run_one_after_another() {
    let setup = Setup::new();
    setup.apply(&binary_config("serial", "")).ok();
    let app = slow_source(1);
    for _ in 0..3 {
        setup.s2i(["start-build", "serial", "--from-dir", app.path().to_str().unwrap()]).ok();
    }
    let ended: Vec<Value> = (1..=3).map(|n| setup.wait_ended(&format!("serial-{n}"))).collect();
    for (n, build) in ended.iter().enumerate() {
        assert_eq!(phase(build), ("Complete", ""), "serial-{}", n + 1);
    }
    for pair in ended.windows(2) {
        assert!(
            seconds(&pair[1]["status"]["startTimestamp"]) >= seconds(&pair[0]["status"]["completionTimestamp"]),
            "{} started before {} ended",
            pair[1]["metadata"]["name"],
            pair[0]["metadata"]["name"]
        );
    }
    let log = setup.log("serial-3");
    assert!(log.contains("Waiting for") && log.contains("serial-2 to finish"), "{log}");
}

#[test]
fn serial_latest_only_cancels_queued_builds() {
    let setup = Setup::new();
    setup.apply(&binary_config("latest", "  runPolicy: SerialLatestOnly\n")).ok();
    let app = slow_source(3);
    let dir = app.path().to_str().unwrap();
    // latest-1 runs; latest-2 is queued behind it, and replaced by latest-3.
    setup.s2i(["start-build", "latest", "--from-dir", dir]).ok();
    setup.wait_for("latest-1", Duration::from_secs(60), |b| b["status"]["phase"] == "Running");
    for _ in 0..2 {
        setup.s2i(["start-build", "latest", "--from-dir", dir]).ok();
    }
    let phases: Vec<(String, String)> = (1..=3)
        .map(|n| {
            let build = setup.wait_ended(&format!("latest-{n}"));
            let (phase, reason) = phase(&build);
            (phase.to_owned(), reason.to_owned())
        })
        .collect();
    assert_eq!(phases[0].0, "Complete", "the running build is not interrupted");
    assert_eq!(phases[1], ("Cancelled".to_owned(), "CancelledBuild".to_owned()), "a queued build is replaced");
    assert_eq!(phases[2].0, "Complete");
}

#[test]
fn parallel_builds_run_at_once() {
    let setup = Setup::new();
    setup.apply(&binary_config("par", "  runPolicy: Parallel\n")).ok();
    let app = slow_source(4);
    for _ in 0..2 {
        setup.s2i(["start-build", "par", "--from-dir", app.path().to_str().unwrap()]).ok();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let running = setup.builds().iter().filter(|b| b["status"]["phase"] == "Running").count();
        if running == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "the two builds never ran together: {:#?}", setup.builds());
        std::thread::sleep(Duration::from_millis(200));
    }
    for n in 1..=2 {
        assert_eq!(phase(&setup.wait_ended(&format!("par-{n}"))), ("Complete", ""));
    }
}

#[test]
fn history_is_pruned_after_each_build() {
    let setup = Setup::new();
    setup.apply(&binary_config("pruned", "  successfulBuildsHistoryLimit: 1\n  failedBuildsHistoryLimit: 1\n")).ok();
    let app = source(&[("index.html", "x\n")]);
    let dir = app.path().to_str().unwrap();
    setup.s2i(["start-build", "pruned", "--from-dir", dir, "--wait"]).ok();
    setup.s2i(["start-build", "pruned", "--from-dir", dir, "--wait"]).ok();
    setup.s2i(["start-build", "pruned", "--from-dir", dir, "--wait", "-e", "ASSEMBLE_EXIT_CODE=1"]).failed();
    setup.s2i(["start-build", "pruned", "--from-dir", dir, "--wait", "-e", "ASSEMBLE_EXIT_CODE=1"]).failed();
    let left: Vec<String> = setup
        .builds()
        .iter()
        .map(|b| format!("{} {}", b["metadata"]["name"].as_str().unwrap(), b["status"]["phase"].as_str().unwrap()))
        .collect();
    assert_eq!(left, ["pruned-2 Complete", "pruned-4 Failed"]);
    let logs: Vec<String> = std::fs::read_dir(setup.store.path().join("logs").join(&setup.ns.0))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut logs = logs;
    logs.sort();
    assert_eq!(logs, ["pruned-2.log", "pruned-4.log"], "pruned builds take their logs along");
    assert!(!setup.store.path().join("inputs").join(&setup.ns.0).join("pruned-4").exists());
}

/// A git repository holding the example application as this repository does.
fn example_repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("examples/pipeline/app");
    std::fs::create_dir_all(&app).unwrap();
    for entry in std::fs::read_dir(workspace().join("examples/pipeline/app")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), app.join(entry.file_name())).unwrap();
    }
    let repo = git2::Repository::init(dir.path()).unwrap();
    let mut index = repo.index().unwrap();
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let signature = git2::Signature::now("Tester", "tester@example.com").unwrap();
    repo.commit(Some("HEAD"), &signature, &signature, "the example app", &tree, &[]).unwrap();
    dir
}

#[test]
fn the_pipeline_example_builds_the_chain_and_a_new_toolchain_rebuilds_it() {
    let setup = Setup::new();
    fixture("toolchain-builder");
    fixture("runtime-image");
    let repo = example_repository();
    let yaml = std::fs::read_to_string(workspace().join("examples/pipeline/pipeline.yaml")).unwrap();
    assert!(yaml.contains("https://github.com/s2i-rs/s2i.git"), "the example builds this repository");
    let yaml = yaml.replace("https://github.com/s2i-rs/s2i.git", &format!("file://{}", repo.path().display()));
    let applied = setup.apply(&yaml).ok();
    // Applying imports the toolchain, whose ImageChange trigger starts the chain at once (as on OpenShift).
    assert!(
        applied.stderr.contains("build/artifact-1 started by an image change of toolchain:latest"),
        "{}",
        applied.stderr
    );
    assert_eq!(phase(&setup.wait_ended("artifact-1")), ("Complete", ""));
    assert_eq!(phase(&setup.wait_ended("app-1")), ("Complete", ""));

    // By hand, and waiting: the artifact, then the application it triggers, in this process.
    let run = setup.s2i(["start-build", "artifact", "--wait"]).ok();
    assert_eq!(run.stdout.trim(), "build/artifact-2 started");
    assert!(run.stderr.contains("build/app-2 started by an image change of app-artifact:latest"), "{}", run.stderr);
    let app = setup.build("app-2");
    assert_eq!(phase(&app), ("Complete", ""));
    let cause = &app["spec"]["triggeredBy"][0]["imageChangeBuild"];
    let artifact_digest =
        setup.build("artifact-2")["status"]["output"]["to"]["imageDigest"].as_str().unwrap().to_owned();
    assert!(cause["imageID"].as_str().unwrap().ends_with(&artifact_digest), "{cause}");
    let image = format!("{}/app:latest", setup.ns.0);
    assert_eq!(run_in(&image, &[]), "hello from the s2i pipeline\n");
    let toolchain_files = run_in(&image, &["sh", "-c", "ls /opt/toolchain 2>/dev/null || echo absent"]);
    assert_eq!(toolchain_files, "absent\n", "the toolchain stays behind");
    assert_eq!(run_in(&image, &["head", "-1", "/opt/runtime/build-info.txt"]), "compiler=shc 1.0\n");

    // A new toolchain version, tagged into the watched tag: the whole chain is rebuilt.
    let toolchain = Image::fresh("toolchain");
    let mut build = std::process::Command::new("docker")
        .args(["build", "-q", "-t", &toolchain.0, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    build
        .stdin
        .take()
        .unwrap()
        .write_all(b"FROM s2i-fixtures/toolchain-builder:latest\nENV TOOLCHAIN_VERSION=2.0\n")
        .unwrap();
    assert!(build.wait().unwrap().success());
    let tagged = setup.s2i(["tag", "--source=docker", &toolchain.0, "toolchain:latest"]).ok();
    assert!(
        tagged.stderr.contains("build/artifact-3 started by an image change of toolchain:latest"),
        "{}",
        tagged.stderr
    );
    assert_eq!(phase(&setup.wait_ended("artifact-3")), ("Complete", ""));
    assert_eq!(phase(&setup.wait_ended("app-3")), ("Complete", ""));
    assert_eq!(run_in(&image, &["head", "-1", "/opt/runtime/build-info.txt"]), "compiler=shc 2.0\n");
    assert!(setup.log("artifact-3").contains("build/app-3 started by an image change of app-artifact:latest"));

    // --no-triggers: the tag moves, nothing is built.
    setup
        .s2i(["--no-triggers", "tag", "--source=docker", "s2i-fixtures/toolchain-builder:latest", "toolchain:latest"])
        .ok();
    // And for a build's own output: artifact-4 starts no app build, now or later.
    let run = setup.s2i(["--no-triggers", "start-build", "artifact", "--wait"]).ok();
    assert!(!run.stderr.contains("app-"), "{}", run.stderr);
    setup.s2i(["tag", "--source=docker", "s2i-fixtures/busybox-builder:latest", "unwatched:latest"]).ok();
    let names: Vec<String> =
        setup.builds().iter().map(|b| b["metadata"]["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, ["app-1", "app-2", "app-3", "artifact-1", "artifact-2", "artifact-3", "artifact-4"]);
    let check = setup.s2i(["store", "check"]).ok();
    assert!(check.stdout.contains(": ok"), "{}", check.stdout);
}

#[test]
fn concurrent_processes_start_each_triggered_build_exactly_once() {
    let setup = Setup::new();
    // Builds of this config fail at once (there is no source): only their number matters.
    setup
        .apply(
            "apiVersion: build.openshift.io/v1
kind: BuildConfig
metadata:
  name: watcher
spec:
  runPolicy: Parallel
  failedBuildsHistoryLimit: 100
  strategy:
    sourceStrategy:
      from:
        kind: ImageStreamTag
        name: base:latest
  triggers:
  - type: ImageChange
    imageChange: {}
",
        )
        .ok();
    let images =
        ["base", "busybox-builder", "named-user-builder", "root-builder", "runtime-image", "toolchain-builder"];
    let images: Vec<String> = images.iter().map(|name| fixture(name)).collect();
    // A controller follows the log too, as fast as it can (killed if the test fails).
    let controller_log = setup.store.path().join("controller.log");
    let mut controller = Killed(
        s2i_in(setup.store.path(), &setup.ns.0)
            .args(["controller", "--interval", "50"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&controller_log).unwrap())
            .spawn()
            .unwrap(),
    );
    let children: Vec<_> = images
        .iter()
        .map(|image| {
            s2i_in(setup.store.path(), &setup.ns.0)
                .args(["tag", "--source=docker", image, "base:latest"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    // Every tag event was followed once: six builds, one per image.
    let deadline = Instant::now() + Duration::from_secs(60);
    let builds = loop {
        let builds = setup.builds();
        let ended =
            builds.iter().filter(|b| !matches!(b["status"]["phase"].as_str(), Some("New" | "Pending" | "Running")));
        if builds.len() >= images.len() && ended.count() == builds.len() {
            break builds;
        }
        assert!(Instant::now() < deadline, "{builds:#?}");
        std::thread::sleep(Duration::from_millis(300));
    };
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(setup.builds().len(), images.len(), "no duplicates appeared later");
    let mut triggering: Vec<String> = builds
        .iter()
        .map(|b| b["spec"]["triggeredBy"][0]["imageChangeBuild"]["imageID"].as_str().unwrap().to_owned())
        .collect();
    triggering.sort();
    triggering.dedup();
    assert_eq!(triggering.len(), images.len(), "one build per tag event: {triggering:#?}");
    // ... the images the tag pointed at, in the stream's history.
    let stream = setup.json("is", "base");
    let mut history: Vec<String> = stream["status"]["tags"][0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["dockerImageReference"].as_str().unwrap().to_owned())
        .collect();
    history.sort();
    assert_eq!(triggering, history);
    // The controller stops cleanly on SIGTERM.
    let status = std::process::Command::new("kill").args(["-TERM", &controller.0.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = controller.0.wait().unwrap();
    let stderr = std::fs::read_to_string(&controller_log).unwrap();
    assert!(exit.success(), "{exit:?}: {stderr}");
    assert!(stderr.contains("Controller stopped"), "{stderr}");
}

#[test]
fn bad_files_are_reported_at_their_line_and_nothing_is_stored() {
    let setup = Setup::new();
    let typo = "apiVersion: image.openshift.io/v1
kind: ImageStream
metadata:
  name: kept-out
---
apiVersion: build.openshift.io/v1
kind: BuildConfig
metadata:
  name: typo
spec:
  strategy:
    sourceStrategy:
      incremantal: true
      from:
        kind: DockerImage
        name: s2i-fixtures/busybox-builder:latest
";
    let run = setup.apply(typo).failed();
    let report = flat(&run.stderr);
    // Named by its path, as kubectl's field validation names it.
    assert!(report.contains("unknown field \"spec.strategy.sourceStrategy.incremantal\""), "{report}");
    assert!(report.contains("line 13 column 7"), "{report}");
    assert!(run.stderr.contains("13 │"), "the report shows the line: {}", run.stderr);

    let syntax = "apiVersion: build.openshift.io/v1\nkind: BuildConfig\nmetadata:\n  name: [unclosed\n";
    let run = setup.apply(syntax).failed();
    assert!(flat(&run.stderr).contains("line 4"), "{}", run.stderr);

    let run = setup
        .apply(
            "apiVersion: build.openshift.io/v1\nkind: BuildConfig\nmetadata:\n  name: refused\nspec:\n  runPolicy: Sometimes\n  strategy:\n    sourceStrategy:\n      from: {name: a:b}\n",
        )
        .failed();
    assert!(flat(&run.stderr).contains("run policy must Parallel"), "{}", run.stderr);
    for kind in ["bc", "is", "builds"] {
        let run = setup.s2i(["get", kind]).ok();
        assert!(run.stdout.is_empty(), "{kind}: {}", run.stdout);
    }

    // What OpenShift takes and s2i does not run is kept, with a warning, not refused (these were refused before).
    for (name, spec, expected) in [
        (
            "docker",
            "  strategy:\n    dockerStrategy: {}\n",
            "the Docker strategy is kept, but a local build cannot run it",
        ),
        (
            "hooked",
            "  strategy:\n    sourceStrategy:\n      from: {kind: DockerImage, name: x}\n  triggers:\n  - type: GitHub\n    github: {secret: s}\n",
            "GitHub webhook trigger is kept",
        ),
    ] {
        let yaml =
            format!("apiVersion: build.openshift.io/v1\nkind: BuildConfig\nmetadata:\n  name: {name}\nspec:\n{spec}");
        let run = setup.apply(&yaml).ok();
        assert!(flat(&run.stderr).contains(expected), "{expected:?} in {}", run.stderr);
    }
    let run = setup.s2i(["start-build", "docker"]).failed();
    assert!(flat(&run.stderr).contains("the Docker strategy cannot be run here"), "{}", run.stderr);
    assert!(setup.s2i(["get", "builds"]).ok().stdout.is_empty(), "no build was started");
}

#[test]
fn a_docker_image_output_is_pushed_to_its_registry() {
    let setup = Setup::new();
    let registry = Registry::start();
    let repository = format!("{}/{}/web", registry.host, setup.ns.0);
    let config = binary_config("pushed", "").replace(
        "      kind: ImageStreamTag\n      name: pushed:latest",
        &format!("      kind: DockerImage\n      name: {repository}:1.0"),
    );
    setup.apply(&config).ok();
    let app = source(&[("index.html", "pushed\n")]);
    let run = setup.s2i(["start-build", "pushed", "--from-dir", app.path().to_str().unwrap(), "--follow"]).ok();
    assert!(run.stdout.contains("Push successful"), "{}", run.stdout);
    let digest = registry.digest_of(&format!("{}/web", setup.ns.0), "1.0").expect("in the registry");
    let build = setup.build("pushed-1");
    assert_eq!(build["status"]["output"]["to"]["imageDigest"], digest.as_str());
    assert_eq!(build["status"]["outputDockerImageReference"], format!("{repository}:1.0"));
    let stages = build["status"]["stages"].to_string();
    assert!(stages.contains("PushDockerImage"), "{stages}");
    let _ = docker(&["rmi", &format!("{repository}:1.0")]);

    // An image stream kept in the registry: the output is pushed there, then
    // recorded by its registry digest (one file, as --from-file builds it).
    let stream = format!(
        "apiVersion: image.openshift.io/v1\nkind: ImageStream\nmetadata:\n  name: kept\n  annotations:\n    s2i-rs.github.io/registry: \"{}\"\n---\n{}",
        registry.host,
        binary_config("kept", "")
    );
    setup.apply(&stream).ok();
    let file = app.path().join("index.html");
    setup.s2i(["start-build", "kept", "--from-file", file.to_str().unwrap(), "--wait"]).ok();
    let digest = registry.digest_of(&format!("{}/kept", setup.ns.0), "latest").expect("in the registry");
    let oci = "application/vnd.oci.image.manifest.v1+json";
    let (_, head, _) = registry.get(&format!("/v2/{}/kept/manifests/latest", setup.ns.0), oci);
    assert!(head.to_ascii_lowercase().contains(oci), "pushed by s2i's client, as an OCI manifest: {head}");
    let istag = setup.json("istag", "kept:latest");
    assert_eq!(istag["image"]["dockerImageReference"], format!("{}/{}/kept@{digest}", registry.host, setup.ns.0));
    let _ = docker(&["rmi", &format!("{}/{}/kept:latest", registry.host, setup.ns.0)]);
}

/// A build's epoch for the image-writer tests, and as image configs write it.
const EPOCH: &str = "1700000000";
const EPOCH_TIME: &str = "2023-11-14T22:13:20Z";

/// `tester:s2i-secret`, as htpasswd writes it (bcrypt).
const TESTER: &str = "tester:$2b$12$fGz2lIRtmSDkQR//vFmpd.Ji3hIfOsXrpy6tgWq2mf5/sQxua1CT6";

/// Run skopeo (which must be installed) and return its parsed JSON answer.
fn skopeo_json(args: &[&str]) -> Value {
    let out = std::process::Command::new("skopeo").args(args).output().unwrap_or_else(|e| {
        panic!("skopeo is needed to check the outputs ({e}): install it with `cargo xtask packages`")
    });
    assert!(out.status.success(), "skopeo {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("skopeo answers JSON")
}

/// The manifest digest of `reference` in the OCI layout `dir`, as skopeo reads it.
fn layout_digest(dir: &std::path::Path) -> String {
    skopeo_json(&["inspect", &format!("oci:{}:app", dir.display())])["Digest"].as_str().unwrap().to_owned()
}

#[test]
fn start_build_outputs_are_kept_with_the_build_and_the_same_build_gives_the_same_digest() {
    let setup = Setup::new();
    let config = binary_config("repro", "");
    setup.apply(&config).ok();
    let app = source(&[("index.html", "reproducible\n")]);
    let out = tempfile::tempdir().unwrap();
    let (layout, sbom) = (out.path().join("layout"), out.path().join("app.spdx.json"));
    let location = format!("oci:{}:app", layout.display());
    // Outputs that name an image to read, and epochs that are not numbers, start nothing.
    let digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let to_read = format!("docker://127.0.0.1:5000/app@{digest}");
    let dir = app.path().to_str().unwrap();
    let run = setup.s2i(["start-build", "repro", "--from-dir", dir, "--output", &to_read]).failed();
    assert!(flat(&run.stderr).contains("a digest names an image to read"), "{}", run.stderr);
    let run = setup.s2i(["start-build", "repro", "--from-dir", dir, "--source-date-epoch", "yesterday"]).failed();
    assert!(flat(&run.stderr).contains("is not a number of seconds"), "{}", run.stderr);
    assert!(setup.builds().is_empty(), "no build was started");
    // Started detached: the worker finds the outputs in the Build's annotations.
    let args = ["start-build", "repro", "--from-dir", app.path().to_str().unwrap(), "--output", &location];
    let mut command = s2i_in(setup.store.path(), &setup.ns.0);
    command.args(args).arg("--sbom").arg(&sbom).env("SOURCE_DATE_EPOCH", EPOCH);
    Run::from(command.output().unwrap()).ok();
    let build = setup.wait_ended("repro-1");
    assert_eq!(phase(&build), ("Complete", ""), "{}", setup.log("repro-1"));
    let annotations = &build["metadata"]["annotations"];
    assert_eq!(annotations["s2i-rs.github.io/source-date-epoch"], EPOCH);
    assert_eq!(annotations["s2i-rs.github.io/outputs"], format!("[\"{location}\"]"));
    assert_eq!(annotations["s2i-rs.github.io/sbom"], sbom.to_str().unwrap());

    let digest = layout_digest(&layout);
    let inspected = skopeo_json(&["inspect", "--config", &location]);
    assert_eq!(inspected["created"], EPOCH_TIME);
    assert_eq!(inspected["config"]["Labels"]["io.openshift.build.name"], "repro-1");
    let document: Value = serde_json::from_slice(&std::fs::read(&sbom).expect("the SBOM is written")).unwrap();
    assert_eq!(document["spdxVersion"], "SPDX-2.3");
    let index: Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    assert!(index.to_string().contains("application/spdx+json"), "the SBOM is a referrer: {index}");
    // The image stream got the image, and the engine runs it.
    let istag = setup.json("istag", "repro:latest");
    let engine_name = format!("{}/repro:latest", setup.ns.0);
    assert_eq!(run_in(&engine_name, &["cat", "/opt/app-root/src/index.html"]), "reproducible\n", "{istag:#}");

    // The same build in another store (another machine's), from another copy of the source.
    let other = tempfile::tempdir().unwrap();
    let file = other.path().join("config.yaml");
    std::fs::write(&file, &config).unwrap();
    run_in_store(other.path(), &setup.ns.0, ["apply", "-f", file.to_str().unwrap()]).ok();
    let copy = source(&[("index.html", "reproducible\n")]);
    let again = out.path().join("again");
    let location = format!("oci:{}:app", again.display());
    let args = ["start-build", "repro", "--from-dir", copy.path().to_str().unwrap(), "--wait"];
    let epoch = ["--source-date-epoch", EPOCH, "--output", &location];
    run_in_store(other.path(), &setup.ns.0, args.iter().chain(&epoch)).ok();
    assert_eq!(layout_digest(&again), digest, "the same build gives the same digest");

    // Another epoch, another digest.
    let later = out.path().join("later");
    let location = format!("oci:{}:app", later.display());
    setup
        .s2i([
            "start-build",
            "repro",
            "--from-dir",
            copy.path().to_str().unwrap(),
            "--wait",
            "--source-date-epoch",
            "1700000001",
            "--output",
            &location,
        ])
        .ok();
    assert_ne!(layout_digest(&later), digest);
}

#[test]
fn a_docker_image_output_is_pushed_by_s2i_with_the_push_secret_and_pulled_by_digest() {
    let setup = Setup::new();
    let registry = Registry::start_with(Some(TESTER));
    // No login file of this run has credentials for the registry: only the push secret does.
    let nobody = tempfile::tempdir().unwrap();
    let s2i = |args: &[&str]| {
        let mut command = s2i_in(setup.store.path(), &setup.ns.0);
        command.env("DOCKER_CONFIG", nobody.path()).env("REGISTRY_AUTH_FILE", nobody.path().join("none.json"));
        Run::from(command.args(args).output().unwrap())
    };
    let password = "s2i-secret";
    let secret = ["secret", "create", "docker-registry", "pusher", "--docker-server", &registry.host];
    s2i(&[&secret[..], &["--docker-username", "tester", "--docker-password", password]].concat()).ok();
    let repository = format!("{}/web", setup.ns.0);
    let output = format!("{}/{repository}:1.0", registry.host);
    let _tagged = Image(output.clone());
    let config = binary_config("secured", "    pushSecret:\n      name: pusher\n").replace(
        "      kind: ImageStreamTag\n      name: secured:latest",
        &format!("      kind: DockerImage\n      name: {output}"),
    );
    setup.apply(&config).ok();
    let app = source(&[("index.html", "pushed by s2i\n")]);
    let out = tempfile::tempdir().unwrap();
    let location = format!("oci:{}:app", out.path().join("layout").display());
    let run = s2i(&[
        "start-build",
        "secured",
        "--from-dir",
        app.path().to_str().unwrap(),
        "--source-date-epoch",
        EPOCH,
        "--output",
        &location,
        "--wait",
    ]);
    let log = setup.log("secured-1");
    assert_eq!(run.code, 0, "{}\n--- log\n{log}", run.stderr);
    assert!(log.contains("Push successful"), "{log}");
    assert!(!log.contains(password), "{log}");
    let digest = registry.digest_as(&repository, "1.0", Some(("tester", password))).expect("in the registry");
    let build = setup.build("secured-1");
    assert_eq!(build["status"]["output"]["to"]["imageDigest"], digest.as_str(), "the manifest digest is recorded");
    assert_eq!(layout_digest(&out.path().join("layout")), digest, "the writer's manifest is the one pushed");
    // Pushed by s2i's client, which sends OCI manifests (an engine pushes Docker's).
    let accept = "application/vnd.oci.image.manifest.v1+json";
    let (status, head, _) =
        registry.get_as(&format!("/v2/{repository}/manifests/1.0"), accept, Some(("tester", password)));
    assert_eq!(status, 200);
    assert!(head.to_ascii_lowercase().contains(accept), "{head}");

    // The engine pulls it by digest, with credentials of its own, and runs it.
    let docker_config = tempfile::tempdir().unwrap();
    std::fs::write(
        docker_config.path().join("config.json"),
        format!(r#"{{"auths":{{"{}":{{"auth":"dGVzdGVyOnMyaS1zZWNyZXQ="}}}}}}"#, registry.host),
    )
    .unwrap();
    let pulled = format!("{}/{repository}@{digest}", registry.host);
    docker_ok(&["--config", docker_config.path().to_str().unwrap(), "pull", &pulled]);
    assert_eq!(run_in(&pulled, &["cat", "/opt/app-root/src/index.html"]), "pushed by s2i\n");
}
