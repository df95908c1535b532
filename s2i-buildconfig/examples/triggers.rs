//! A pipeline declared as OpenShift declares it, and the builds its triggers
//! start, without a container engine: this tool only records which workers
//! it would start.
//!
//! `cargo run -p s2i-buildconfig --example triggers`

// An example prints what it shows.
#![allow(clippy::print_stdout)]

use std::path::Path;
use std::sync::Mutex;

use s2i_buildconfig::{BuildConfig, Builds, WorkerLauncher, builds_of};
use s2i_imagestream::Image;
use s2i_imagestream::registry::RegistryClient;
use s2i_imagestream::streams::{self, ResolvedImage, StreamTag};
use s2i_store::{ObjectMeta, Store, codec};

/// `app` builds on every change of its config; `site` rebuilds whenever
/// `base:latest` moves.
const PIPELINE: &str = "\
apiVersion: build.openshift.io/v1
kind: BuildConfig
metadata: {name: app, namespace: team}
spec:
  source: {git: {uri: 'https://git.example.com/team/app.git', ref: main}}
  strategy: {sourceStrategy: {from: {kind: DockerImage, name: 'registry.example.com/builder:1'}}}
  output: {to: {kind: ImageStreamTag, name: 'app:latest'}}
  triggers:
  - type: ConfigChange
  - type: GitHub
    github: {secret: not-shown}
---
apiVersion: build.openshift.io/v1
kind: BuildConfig
metadata: {name: site, namespace: team}
spec:
  source: {git: {uri: 'https://git.example.com/team/site.git'}}
  strategy: {sourceStrategy: {from: {kind: ImageStreamTag, name: 'base:latest'}}}
  output: {to: {kind: ImageStreamTag, name: 'site:latest'}}
  triggers:
  - type: ImageChange
";

/// Writes down the workers it is asked to start; a real tool would spawn a
/// process that runs `Builds::run` for the build.
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl WorkerLauncher for Recorder {
    fn launch(&self, _store: &Path, namespace: &str, build: &str, _log: std::fs::File) -> std::io::Result<()> {
        self.0.lock().unwrap().push(format!("{namespace}/{build}"));
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let (registry, recorder) = (RegistryClient::anonymous(), Recorder::default());
    let builds = Builds::new(&store, Err("no engine in this example".into()), &registry, &recorder);

    for document in codec::read_documents("pipeline.yaml", PIPELINE)? {
        let applied = builds.apply(&document.decode::<BuildConfig>()?)?;
        println!("buildconfig/{} {}", applied.config.metadata.name, applied.action.as_str());
        for kept in &applied.warnings {
            println!("  kept for OpenShift: {kept}");
        }
    }

    // A new builder image lands on base:latest (a push, a build or an import).
    let digest = format!("sha256:{}", "b".repeat(64));
    let image = ResolvedImage {
        image: Image { metadata: ObjectMeta::named("", digest.clone()), ..Image::default() },
        docker_image_reference: format!("registry.example.com/team/base@{digest}"),
    };
    let base = StreamTag::parse("base:latest", "team")?;
    store.write(|tx| streams::record_image(tx, &base, &image))?;
    builds.start_triggered()?;

    for config in ["app", "site"] {
        for build in store.read(|tx| builds_of(tx, "team", config))? {
            let cause = build.spec.triggered_by.first().map(|cause| cause.message.as_str()).unwrap_or_default();
            println!("build/{} {} ({cause})", build.metadata.name, build.status.phase.as_str());
        }
    }
    println!("workers asked for: {}", recorder.0.lock().unwrap().join(", "));
    Ok(())
}
