//! Build configs and builds as a downstream tool uses them: only the public
//! API, on a plain `#[tokio::test]` (a current-thread runtime), against the
//! real container engine. The tool starts no processes: its launcher writes
//! down what it was asked to start, and it runs that build itself, as a
//! worker would.

use std::path::Path;
use std::sync::{Arc, Mutex};

use s2i_buildconfig::{
    BinaryInput, Build, BuildConfig, BuildPhase, BuildRequest, Builds, Event, Followed, WorkerLauncher, get_build,
};
use s2i_core::{CancellationToken, ContainerRuntime};
use s2i_docker::{ConnectOptions, DockerRuntime};
use s2i_imagestream::ImageStream;
use s2i_imagestream::operations::ImportSchedule;
use s2i_imagestream::registry::RegistryClient;
use s2i_imagestream::streams::{StreamTag, TagRequest, TagSource};
use s2i_store::{Store, codec};

/// The fixture builder of `cargo xtask fixtures`.
const BUILDER: &str = "s2i-fixtures/busybox-builder:latest";

/// Writes down the workers it is asked to start, and starts none.
#[derive(Default)]
struct Launches(Mutex<Vec<String>>);

impl WorkerLauncher for Launches {
    fn launch(&self, _store_dir: &Path, namespace: &str, build: &str, _log: std::fs::File) -> std::io::Result<()> {
        self.0.lock().unwrap().push(format!("{namespace}/{build}"));
        Ok(())
    }
}

impl Launches {
    fn taken(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

/// Removes the engine tags of the test's streams (and with them the images
/// the builds made), even when an assertion failed.
struct Images(Vec<String>);

impl Drop for Images {
    fn drop(&mut self) {
        let tags = std::mem::take(&mut self.0);
        // Drop is not async, and this runtime is busy: remove them from a thread of their own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let Ok(engine) = DockerRuntime::connect(&ConnectOptions::from_env()).await else { return };
                for tag in tags {
                    let _ = engine.remove_image(&tag).await;
                }
            });
        })
        .join();
    }
}

fn configs(namespace: &str) -> String {
    format!(
        "apiVersion: build.openshift.io/v1
kind: BuildConfig
metadata:
  name: web
  namespace: {namespace}
spec:
  source:
    binary: {{}}
  strategy:
    sourceStrategy:
      from:
        kind: DockerImage
        name: {BUILDER}
  output:
    to:
      kind: ImageStreamTag
      name: web:latest
---
apiVersion: build.openshift.io/v1
kind: BuildConfig
metadata:
  name: site
  namespace: {namespace}
spec:
  source:
    images:
    - from:
        kind: ImageStreamTag
        name: base:latest
      paths:
      - sourcePath: /opt/app-root/src/index.html
        destinationDir: .
  strategy:
    sourceStrategy:
      from:
        kind: DockerImage
        name: {BUILDER}
  output:
    to:
      kind: ImageStreamTag
      name: site:latest
  triggers:
  - type: ImageChange
    imageChange:
      from:
        kind: ImageStreamTag
        name: base:latest
"
    )
}

#[tokio::test]
async fn builds_on_a_current_thread_runtime() {
    let engine = DockerRuntime::connect(&ConnectOptions::from_env())
        .await
        .unwrap_or_else(|e| panic!("no container engine is reachable; start one with `cargo xtask docker`: {e}"));
    assert!(
        engine.inspect_image(BUILDER).await.expect("the engine answers").is_some(),
        "fixture image {BUILDER} is missing: build the fixtures with `cargo xtask fixtures`"
    );
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let namespace = format!("downstream-builds-{}-{nanos}", std::process::id());
    let _images = Images(["web", "base", "site"].iter().map(|stream| format!("{namespace}/{stream}:latest")).collect());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let registry = RegistryClient::anonymous();
    let launches = Launches::default();
    let started = Mutex::new(Vec::new());
    let events = |event: &Event| {
        if let Event::Started(one) = event {
            started.lock().unwrap().push(format!("{} by {}", one.build.metadata.name, one.cause));
        }
    };
    let engine: Arc<dyn ContainerRuntime> = Arc::new(engine);
    let builds = Builds::new(&store, Ok(engine), &registry, &launches).with_events(&events);

    // Apply the configs from YAML: no watched tag has an image, nothing starts.
    for document in codec::read_documents("downstream.yaml", &configs(&namespace)).unwrap() {
        let applied = builds.apply(&document.decode::<BuildConfig>().unwrap()).unwrap();
        assert_eq!(applied.action, s2i_store::WriteAction::Created);
    }
    assert!(launches.taken().is_empty());

    // Start a build of binary input and run it here, reading its log as it runs.
    let source = tempfile::tempdir().unwrap();
    std::fs::write(source.path().join("index.html"), "hello from downstream\n").unwrap();
    let request =
        BuildRequest::new(&namespace, "web").binary(BinaryInput::Dir(source.path().into())).env("GREETING", "hi");
    let web = builds.start(&request).await.unwrap();
    assert_eq!((web.metadata.name.as_str(), web.status.phase), ("web-1", BuildPhase::New));
    let mut lines = Vec::new();
    let mut read = |line: &str| lines.push(line.to_owned());
    let failed = builds.run_chain(&web, Some(&mut read), &CancellationToken::new()).await.unwrap();
    assert!(failed.is_empty(), "{lines:#?}");
    assert!(lines.iter().any(|l| l == "---> Installing application source"), "{lines:#?}");

    // Its output is recorded in the image stream, and on the build.
    let stream: ImageStream = store.read(|tx| tx.get_as(&namespace, "web")).unwrap().expect("the stream exists");
    let image = stream.latest("latest").expect("web:latest has an image").image.clone();
    let web: Build = store.read(|tx| get_build(tx, &namespace, "web-1")).unwrap();
    assert_eq!(web.status.phase, BuildPhase::Complete);
    assert_eq!(web.status.output.to.as_ref().map(|to| to.image_digest.as_str()), Some(image.as_str()));
    let env = &web.spec.strategy.source_strategy.as_ref().unwrap().env;
    assert!(env.iter().any(|var| var.name == "GREETING" && var.value == "hi"), "{env:?}");

    // The log once more, after the fact: the same lines.
    let mut again = Vec::new();
    let followed = builds.follow_log(&namespace, "web-1", false, &mut |line| again.push(line.to_owned())).await;
    assert!(matches!(followed.unwrap(), Followed::Ended(build) if build.status.phase == BuildPhase::Complete));
    assert_eq!(again, lines);

    // A tag change made through image streams alone is picked up by the
    // controller's tick, which has a worker started for the build it triggers.
    let copy = TagRequest::new(
        TagSource::parse("web:latest", None, &namespace).unwrap(),
        vec![StreamTag::parse("base:latest", &namespace).unwrap()],
    );
    let tagged = builds.image_streams().tag(&copy).await.unwrap();
    assert!(tagged.mirror_error.is_none(), "{:?}", tagged.mirror_error);
    assert!(launches.taken().is_empty(), "image streams start no build");
    builds.tick(&mut ImportSchedule::new(ImportSchedule::DEFAULT_INTERVAL)).await.unwrap();
    assert_eq!(launches.taken(), [format!("{namespace}/site-1")]);
    assert_eq!(*started.lock().unwrap(), ["site-1 by an image change of base:latest"]);
    let site: Build = store.read(|tx| get_build(tx, &namespace, "site-1")).unwrap();
    assert_eq!(site.status.phase, BuildPhase::New);
    assert_eq!(site.spec.triggered_by[0].message, "Image change");

    // What the worker does: run it (its source copied out of the triggering image).
    let site = builds.run(&namespace, "site-1", &CancellationToken::new()).await.unwrap();
    assert_eq!(site.status.phase, BuildPhase::Complete, "{}", site.status.log_snippet);
    let stream: ImageStream = store.read(|tx| tx.get_as(&namespace, "site")).unwrap().expect("the stream exists");
    assert!(stream.latest("latest").is_some());
    assert!(launches.taken().is_empty(), "site:latest triggers nothing");
}
