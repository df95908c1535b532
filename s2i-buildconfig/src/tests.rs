//! Build configs and builds in the store, without an engine: instantiation,
//! run policies, history pruning, and triggers following the event log.
//! (Unit tests: these rules are the crate's own, not its API.)

use crate::configs::{apply_build_config, cancel_build};
use crate::generator::{Instantiation, instantiate, set_phase};
use crate::policy::{Admission, admit, builds_of, prune};
use crate::triggers::{on_applied, process_events};
use crate::types::*;
use s2i_imagestream::streams::{self, ResolvedImage, StreamTag};
use s2i_imagestream::suppression::suppress_since;
use s2i_imagestream::types::Image;
use s2i_store::{ObjectMeta, Store, Tx};

const NS: &str = "team";

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

fn config(name: &str, spec: serde_json::Value) -> BuildConfig {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "build.openshift.io/v1",
        "kind": "BuildConfig",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }))
    .unwrap()
}

fn source_config(name: &str, extra: serde_json::Value) -> BuildConfig {
    let mut spec = serde_json::json!({
        "source": {"git": {"uri": "https://example.com/app.git"}},
        "strategy": {"sourceStrategy": {"from": {"kind": "ImageStreamTag", "name": "builder:latest"}}},
        "output": {"to": {"kind": "ImageStreamTag", "name": format!("{name}:latest")}},
    });
    for (key, value) in extra.as_object().unwrap() {
        spec[key] = value.clone();
    }
    config(name, spec)
}

fn digest(n: u32) -> String {
    format!("sha256:{n:064x}")
}

/// Record image `n` as the current image of `stream:tag` (a build's or a push's result).
fn record(tx: &Tx<'_>, stream: &str, tag: &str, n: u32) -> String {
    let destination = StreamTag { namespace: NS.into(), stream: stream.into(), tag: tag.into() };
    let resolved = ResolvedImage {
        image: Image { metadata: ObjectMeta::named("", digest(n)), ..Image::default() },
        docker_image_reference: format!("{NS}/{stream}@{}", digest(n)),
    };
    streams::record_image(tx, &destination, &resolved).unwrap();
    resolved.docker_image_reference
}

fn finish(store: &Store, name: &str, phase: &str) {
    let phase: BuildPhase = phase.parse().unwrap();
    store
        .write(|tx| {
            let mut build: Build = tx.get_as(NS, name)?.unwrap();
            set_phase(&mut build, phase, "", "", tx.now())?;
            tx.update_as(&build)?;
            Ok::<_, crate::Error>(())
        })
        .unwrap();
}

fn names(builds: &[Build]) -> Vec<String> {
    builds.iter().map(|b| format!("{}:{}", b.metadata.name, b.status.phase)).collect()
}

#[test]
fn instantiation_numbers_labels_and_records() {
    let (_dir, store) = store();
    store.write(|tx| apply_build_config(tx, source_config("app", serde_json::json!({})))).unwrap();
    let mut request = Instantiation::new(NS, "app", causes::MANUAL);
    request.env = vec![EnvVar { name: "DEBUG".into(), value: "1".into(), value_from: None }];
    request.commit = Some("dev".into());
    let first = store.write(|tx| instantiate(tx, &request)).unwrap();
    let second = store.write(|tx| instantiate(tx, &Instantiation::new(NS, "app", causes::MANUAL))).unwrap();
    assert_eq!((first.metadata.name.as_str(), second.metadata.name.as_str()), ("app-1", "app-2"));
    assert_eq!(first.metadata.labels["openshift.io/build-config.name"], "app");
    assert_eq!(first.metadata.labels["buildconfig"], "app");
    assert_eq!(first.metadata.labels["openshift.io/build.start-policy"], "Serial");
    assert_eq!(first.metadata.annotations["openshift.io/build.number"], "1");
    assert_eq!(first.metadata.owner_references[0].kind, "BuildConfig");
    assert_eq!(first.spec.service_account, "builder");
    assert_eq!(first.spec.source.git.as_ref().unwrap().git_ref, "dev");
    assert_eq!(first.spec.revision.as_ref().unwrap().git.as_ref().unwrap().commit, "dev");
    assert_eq!(first.spec.strategy.source_strategy.as_ref().unwrap().env[0].name, "DEBUG");
    assert_eq!(first.spec.triggered_by[0].message, "Manually triggered");
    assert_eq!(first.status.phase, "New");
    assert_eq!(first.status.output_docker_image_reference, format!("{NS}/app:latest"));
    let config: BuildConfig = store.read(|tx| tx.get_as(NS, "app")).unwrap().unwrap();
    assert_eq!(config.status.last_version, 2);

    // The serialised object is OpenShift's.
    let json = serde_json::to_value(&first).unwrap();
    assert_eq!(json["apiVersion"], "build.openshift.io/v1");
    assert_eq!(json["spec"]["strategy"]["type"], "Source");
    assert_eq!(json["spec"]["source"]["type"], "Git");
    assert_eq!(json["status"]["conditions"][0]["type"], "New");
    assert_eq!(json["status"]["conditions"][0]["status"], "True");
    assert_eq!(json["spec"]["nodeSelector"], serde_json::Value::Null);

    // A paused config starts nothing.
    let mut paused = source_config("app", serde_json::json!({}));
    paused.metadata.annotations.insert("openshift.io/build-config.paused".into(), "true".into());
    store.write(|tx| apply_build_config(tx, paused.clone())).unwrap();
    let err = store.write(|tx| instantiate(tx, &Instantiation::new(NS, "app", causes::MANUAL))).unwrap_err();
    assert!(err.to_string().contains("paused"), "{err}");
}

#[test]
fn serial_builds_wait_and_parallel_ones_do_not() {
    let (_dir, store) = store();
    store.write(|tx| apply_build_config(tx, source_config("app", serde_json::json!({})))).unwrap();
    for _ in 0..3 {
        store.write(|tx| instantiate(tx, &Instantiation::new(NS, "app", causes::MANUAL))).unwrap();
    }
    let admission = |name: &str| {
        store
            .read(|tx| {
                let build: Build = tx.get_as(NS, name)?.unwrap();
                admit(tx, &build)
            })
            .unwrap()
    };
    assert_eq!(admission("app-1"), Admission::Run);
    assert_eq!(admission("app-2"), Admission::Wait(vec!["app-1".into()]));
    assert_eq!(admission("app-3"), Admission::Wait(vec!["app-1".into(), "app-2".into()]));
    finish(&store, "app-1", "Complete");
    assert_eq!(admission("app-2"), Admission::Run);

    store
        .write(|tx| apply_build_config(tx, source_config("par", serde_json::json!({"runPolicy": "Parallel"}))))
        .unwrap();
    for _ in 0..2 {
        store.write(|tx| instantiate(tx, &Instantiation::new(NS, "par", causes::MANUAL))).unwrap();
    }
    assert_eq!(admission("par-2"), Admission::Run, "parallel builds do not wait for each other");
}

#[test]
fn serial_latest_only_cancels_the_queued_builds() {
    let (_dir, store) = store();
    let config = source_config("app", serde_json::json!({"runPolicy": "SerialLatestOnly"}));
    store.write(|tx| apply_build_config(tx, config.clone())).unwrap();
    store.write(|tx| instantiate(tx, &Instantiation::new(NS, "app", causes::MANUAL))).unwrap();
    // app-1 runs; app-2 and app-3 are queued, and app-4 replaces them.
    store
        .write(|tx| {
            let mut build: Build = tx.get_as(NS, "app-1")?.unwrap();
            set_phase(&mut build, BuildPhase::Running, "", "", tx.now())?;
            Ok::<_, crate::Error>(tx.update_as(&build)?)
        })
        .unwrap();
    for _ in 0..3 {
        store.write(|tx| instantiate(tx, &Instantiation::new(NS, "app", causes::MANUAL))).unwrap();
    }
    let builds = store.read(|tx| builds_of(tx, NS, "app")).unwrap();
    assert_eq!(names(&builds), ["app-1:Running", "app-2:Cancelled", "app-3:Cancelled", "app-4:New"]);
    assert_eq!(builds[1].status.reason, "CancelledBuild");
    assert_eq!(builds[1].status.message, "The build was cancelled by the user.");
    assert!(builds[1].status.cancelled);

    // cancel-build: a queued build at once; a finished one is refused.
    let cancelled = store.write(|tx| cancel_build(tx, NS, "app-4")).unwrap();
    assert_eq!(cancelled.status.phase, "Cancelled");
    let running = store.write(|tx| cancel_build(tx, NS, "app-1")).unwrap();
    assert_eq!((running.status.phase.as_str(), running.status.cancelled), ("Running", true));
    let err = store.write(|tx| cancel_build(tx, NS, "app-2")).unwrap_err();
    assert!(err.to_string().contains("already cancelled"), "{err}");
}

#[test]
fn history_is_pruned_by_outcome() {
    let (_dir, store) = store();
    let config =
        source_config("app", serde_json::json!({"successfulBuildsHistoryLimit": 2, "failedBuildsHistoryLimit": 1}));
    store.write(|tx| apply_build_config(tx, config.clone())).unwrap();
    let outcomes = ["Complete", "Failed", "Complete", "Error", "Complete", "Cancelled"];
    for outcome in outcomes {
        let build = store.write(|tx| instantiate(tx, &Instantiation::new(NS, "app", causes::MANUAL))).unwrap();
        finish(&store, &build.metadata.name, outcome);
    }
    let queued = store.write(|tx| instantiate(tx, &Instantiation::new(NS, "app", causes::MANUAL))).unwrap();
    let deleted = store.write(|tx| prune(tx, NS, "app")).unwrap();
    assert_eq!(deleted, ["app-4", "app-2", "app-1"]);
    let kept = store.read(|tx| builds_of(tx, NS, "app")).unwrap();
    assert_eq!(names(&kept), ["app-3:Complete", "app-5:Complete", "app-6:Cancelled", "app-7:New"]);
    assert_eq!(queued.metadata.name, "app-7");
}

#[test]
fn tag_events_start_each_watching_build_once() {
    let (_dir, store) = store();
    let watcher = source_config("app", serde_json::json!({"triggers": [{"type": "ImageChange", "imageChange": {}}]}));
    let paused = source_config(
        "other",
        serde_json::json!({"triggers": [{"type": "ImageChange", "imageChange": {"paused": true}}]}),
    );
    store.write(|tx| apply_build_config(tx, watcher.clone())).unwrap();
    store.write(|tx| apply_build_config(tx, paused.clone())).unwrap();
    let first = store.write(|tx| Ok::<_, s2i_imagestream::Error>(record(tx, "builder", "latest", 1))).unwrap();
    let report = process_events(&store).unwrap();
    assert_eq!(report.started.len(), 1, "the paused trigger starts nothing");
    let build = &report.started[0].build;
    assert_eq!(build.metadata.name, "app-1");
    assert_eq!(report.started[0].cause, "an image change of builder:latest");
    assert_eq!(build.spec.triggered_by[0].message, "Image change");
    assert_eq!(build.spec.triggered_by[0].image_change_build.as_ref().unwrap().image_id, first);
    // The build uses exactly the triggering image.
    let from = &build.spec.strategy.source_strategy.as_ref().unwrap().from;
    assert_eq!((from.kind.as_str(), from.name.as_str()), ("DockerImage", first.as_str()));
    let config: BuildConfig = store.read(|tx| tx.get_as(NS, "app")).unwrap().unwrap();
    assert_eq!(config.status.image_change_triggers[0].last_triggered_image_id, first);
    assert_eq!(config.status.image_change_triggers[0].from.name, "builder:latest");

    // Consumed once: nothing more; a second change, one more build.
    assert!(process_events(&store).unwrap().started.is_empty());
    store.write(|tx| Ok::<_, s2i_imagestream::Error>(record(tx, "builder", "latest", 2))).unwrap();
    let again = process_events(&store).unwrap();
    assert_eq!(again.started.iter().map(|s| s.build.metadata.name.clone()).collect::<Vec<_>>(), ["app-2"]);

    // A manual build records what the triggers see: the same image starts nothing later.
    store.write(|tx| instantiate(tx, &Instantiation::new(NS, "app", causes::MANUAL))).unwrap();
    let other_tag = store.write(|tx| Ok::<_, s2i_imagestream::Error>(record(tx, "unwatched", "latest", 3))).unwrap();
    assert!(!other_tag.is_empty());
    assert!(process_events(&store).unwrap().started.is_empty());
}

#[test]
fn suppressed_changes_start_nothing() {
    let (_dir, store) = store();
    let watcher = source_config("app", serde_json::json!({"triggers": [{"type": "ImageChange", "imageChange": {}}]}));
    store.write(|tx| apply_build_config(tx, watcher.clone())).unwrap();
    store
        .write(|tx| {
            let before = tx.last_seq()?;
            record(tx, "builder", "latest", 1);
            suppress_since(tx, before)
        })
        .unwrap();
    assert!(process_events(&store).unwrap().started.is_empty(), "--no-triggers");
    // A later change that is not suppressed is built.
    store.write(|tx| Ok::<_, s2i_imagestream::Error>(record(tx, "builder", "latest", 2))).unwrap();
    assert_eq!(process_events(&store).unwrap().started.len(), 1);

    // Changes not yet followed when a suppressed one comes: each is judged in order.
    store.write(|tx| Ok::<_, s2i_imagestream::Error>(record(tx, "builder", "latest", 3))).unwrap();
    store.write(|tx| Ok::<_, s2i_imagestream::Error>(record(tx, "builder", "latest", 4))).unwrap();
    store
        .write(|tx| {
            let before = tx.last_seq()?;
            record(tx, "builder", "latest", 5);
            suppress_since(tx, before)
        })
        .unwrap();
    let report = process_events(&store).unwrap();
    let images: Vec<String> = report
        .started
        .iter()
        .map(|s| s.build.spec.triggered_by[0].image_change_build.as_ref().unwrap().image_id.clone())
        .collect();
    assert_eq!(images, [format!("{NS}/builder@{}", digest(3)), format!("{NS}/builder@{}", digest(4))]);
    let config: BuildConfig = store.read(|tx| tx.get_as(NS, "app")).unwrap().unwrap();
    assert_eq!(config.status.image_change_triggers[0].last_triggered_image_id, format!("{NS}/builder@{}", digest(5)));
    assert!(store.read(|tx| tx.list("SuppressedTagEvent", None)).unwrap().is_empty(), "markers are consumed");
}

#[test]
fn applying_a_config_judges_the_current_images() {
    let (_dir, store) = store();
    // The watched tag has an image before the config exists.
    store.write(|tx| Ok::<_, s2i_imagestream::Error>(record(tx, "builder", "latest", 1))).unwrap();
    let watcher = source_config("app", serde_json::json!({"triggers": [{"type": "ImageChange", "imageChange": {}}]}));
    store.write(|tx| apply_build_config(tx, watcher.clone())).unwrap();
    let report = store.write(|tx| on_applied(tx, NS, "app")).unwrap();
    assert_eq!(report.started.len(), 1, "as OpenShift's trigger controller does for a new config");
    // The event older than the apply does not start a second build.
    assert!(process_events(&store).unwrap().started.is_empty());
    // Applying again changes nothing and starts nothing.
    let again = store.write(|tx| apply_build_config(tx, watcher.clone())).unwrap();
    assert_eq!(again.action, s2i_store::WriteAction::Unchanged);
    assert!(store.write(|tx| on_applied(tx, NS, "app")).unwrap().started.is_empty());

    // ConfigChange: one build, once.
    let config_change = source_config("cc", serde_json::json!({"triggers": [{"type": "ConfigChange"}]}));
    store.write(|tx| apply_build_config(tx, config_change.clone())).unwrap();
    let first = store.write(|tx| on_applied(tx, NS, "cc")).unwrap();
    assert_eq!(first.started[0].build.spec.triggered_by[0].message, "Build configuration change");
    assert!(store.write(|tx| on_applied(tx, NS, "cc")).unwrap().started.is_empty());
}

#[test]
fn builds_are_listed_by_config_then_number() {
    let (_dir, store) = store();
    for name in ["app", "api"] {
        store.write(|tx| apply_build_config(tx, source_config(name, serde_json::json!({})))).unwrap();
    }
    for _ in 0..10 {
        store.write(|tx| instantiate(tx, &Instantiation::new(NS, "app", causes::MANUAL))).unwrap();
    }
    store.write(|tx| instantiate(tx, &Instantiation::new(NS, "api", causes::MANUAL))).unwrap();
    let listed: Vec<String> =
        store.read(|tx| crate::list_builds(tx, Some(NS))).unwrap().into_iter().map(|b| b.metadata.name).collect();
    let mut expected = vec!["api-1".to_owned()];
    expected.extend((1..=10).map(|n| format!("app-{n}")));
    assert_eq!(listed, expected, "app-10 after app-9, not after app-1");
    let configs: Vec<String> =
        store.read(|tx| crate::list_build_configs(tx, None)).unwrap().into_iter().map(|c| c.metadata.name).collect();
    assert_eq!(configs, ["api", "app"]);
}
