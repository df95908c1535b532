//! The engine as a downstream tool uses it: only the public API of
//! `s2i-core`, with `s2i-docker` as the runtime, on a plain `#[tokio::test]`
//! (a current-thread runtime), against the real engine. Planning, then a
//! whole build — the source streamed into assemble's stdin, output relayed
//! as events, the commit — must progress on one thread, and leave no
//! container behind.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use s2i_core::plan::Strategy;
use s2i_core::runtime::OutputKind;
use s2i_core::{BuildEvent, BuildOptions, CancellationToken, ContainerRuntime, Engine, Error, PullPolicy};
use s2i_docker::{ConnectOptions, DockerRuntime};

/// A fixture builder of `cargo xtask fixtures`: `image://` scripts, USER 1001.
const BUILDER: &str = "s2i-fixtures/busybox-builder:latest";

/// Removes the built image when the test ends, however it ends.
struct RemovedImage(String);

impl Drop for RemovedImage {
    fn drop(&mut self) {
        // A drop cannot await: ask the docker CLI, as a person would.
        let _ = std::process::Command::new("docker").args(["rmi", "--force", &self.0]).output();
    }
}

#[tokio::test]
async fn plan_and_build_on_a_current_thread_runtime() {
    let runtime = Arc::new(
        DockerRuntime::connect(&ConnectOptions::from_env())
            .await
            .unwrap_or_else(|e| panic!("no container engine is reachable; start one with `cargo xtask docker`: {e}")),
    );
    if runtime.inspect_image(BUILDER).await.unwrap().is_none() {
        panic!("fixture image {BUILDER} is missing: build the fixtures with `cargo xtask fixtures`");
    }
    let output = Arc::new(Mutex::new(Vec::new()));
    let seen = output.clone();
    let events = Arc::new(move |event: BuildEvent| {
        if let BuildEvent::Output { kind: OutputKind::Stdout, line } = event {
            seen.lock().unwrap().push(line);
        }
    });
    let engine = Engine::new(runtime.clone(), events);

    let source = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(source.path().join(".s2i")).unwrap();
    std::fs::write(source.path().join(".s2i/environment"), "GREETING=hello\n").unwrap();
    std::fs::write(source.path().join(".s2iignore"), "*.log\n").unwrap();
    std::fs::write(source.path().join("app.sh"), "echo \"$GREETING from the built image\"\n").unwrap();
    std::fs::write(source.path().join("debug.log"), "never sent\n").unwrap();
    let tag = format!("s2i-core-downstream-{}:latest", std::process::id());
    let label = ("s2i-core-downstream".to_owned(), std::process::id().to_string());
    let mut options = BuildOptions::new(Some(source.path().display().to_string()), BUILDER);
    options.tag = Some(tag.clone());
    options.pull_policy = PullPolicy::Never;
    options.container_labels = BTreeMap::from([label.clone()]);

    // The plan: what the build will do, decided before any container exists.
    let work = tempfile::tempdir().unwrap();
    let plan = engine.plan(&options, work.path(), &Arc::new(AtomicBool::new(false))).await.unwrap();
    assert_eq!(plan.strategy, Strategy::Sti);
    assert_eq!(plan.builder.name, BUILDER);
    assert_eq!(plan.assemble_path, "/usr/libexec/s2i/assemble", "from the image's scripts-url label");
    assert_eq!(plan.run_command, ["/usr/libexec/s2i/run"]);
    assert!(plan.env.iter().any(|var| var.name == "GREETING" && var.value == "hello"), "{:?}", plan.env);
    assert_eq!(plan.source.as_ref().unwrap().ignore_patterns, ["*.log"]);
    assert_eq!(plan.labels["io.openshift.s2i.build.image"], plan.builder.canonical, "the fully qualified name");
    assert!(serde_json::to_string(&plan).unwrap().contains("\"strategy\":\"sti\""), "plans are plain data");

    // A bad option is refused in planning, with a code and a help line.
    let mut digest_tag = options.clone();
    digest_tag.tag = Some(format!("app@sha256:{}", "0".repeat(64)));
    let refused = engine.plan(&digest_tag, work.path(), &Arc::new(AtomicBool::new(false))).await.unwrap_err();
    assert!(matches!(refused, Error::InvalidOption { .. }), "{refused:?}");
    assert!(miette::Diagnostic::help(&refused).is_some());

    // The build itself.
    let _image = RemovedImage(tag.clone());
    let result = engine.build(&options, &CancellationToken::new()).await.unwrap();
    assert_eq!(result.tag.as_deref(), Some(tag.as_str()));
    assert!(result.archive.entries >= 2, "{:?}", result.archive);
    let built = runtime.inspect_image(&tag).await.unwrap().expect("the image is tagged");
    assert_eq!(built.id, result.image_id);
    assert_eq!(built.cmd, ["/usr/libexec/s2i/run"]);
    assert!(built.env.iter().any(|var| var == "GREETING=hello"), "{:?}", built.env);
    let lines = output.lock().unwrap().clone();
    assert!(lines.iter().any(|line| line == "---> Build complete"), "assemble's output came as events: {lines:?}");

    // Nothing left: every container carrying the build's labels is gone.
    let left = runtime.containers_with_labels(&BTreeMap::from([label])).await.unwrap();
    assert!(left.is_empty(), "containers left behind: {left:?}");
}
