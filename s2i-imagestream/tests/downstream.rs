//! Image streams as a downstream tool uses them: only the public API, on a
//! plain `#[tokio::test]` (a current-thread runtime), against the real
//! container engine. Following tag changes in the engine and asking a
//! registry must work there: no call may need a multi-threaded runtime.

use s2i_core::ContainerRuntime;
use s2i_docker::{ConnectOptions, DockerRuntime};
use s2i_imagestream::ImageStream;
use s2i_imagestream::mirror::MIRROR_CONSUMER;
use s2i_imagestream::operations::ImageStreams;
use s2i_imagestream::registry::RegistryClient;
use s2i_imagestream::streams::{StreamTag, TagRequest, TagSource};
use s2i_store::Store;

/// A fixture image of `cargo xtask fixtures`: the source of the stream's first image.
const SOURCE: &str = "s2i-fixtures/runtime-image:latest";

fn request(source: TagSource, destination: StreamTag) -> TagRequest {
    TagRequest::new(source, vec![destination])
}

async fn engine_id(engine: &DockerRuntime, name: &str) -> Option<String> {
    engine.inspect_image(name).await.expect("the engine answers").map(|info| info.id)
}

#[tokio::test]
async fn streams_on_a_current_thread_runtime() {
    let engine = DockerRuntime::connect(&ConnectOptions::from_env())
        .await
        .unwrap_or_else(|e| panic!("no container engine is reachable; start one with `cargo xtask docker`: {e}"));
    let source_id = engine_id(&engine, SOURCE)
        .await
        .unwrap_or_else(|| panic!("fixture image {SOURCE} is missing: build the fixtures with `cargo xtask fixtures`"));
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let namespace = format!("downstream-{}-{nanos}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let registry = RegistryClient::anonymous();
    let streams = ImageStreams::new(&store, Ok(&engine), &registry);

    // Record an engine image as app:dev (what a build does): the stream is
    // created and the engine tag <namespace>/app:dev follows.
    let dev = StreamTag::parse("app:dev", &namespace).unwrap();
    let recorded = streams.record_build(&dev, SOURCE).await.unwrap();
    assert!(recorded.mirror_error.is_none(), "{:?}", recorded.mirror_error);
    assert!(recorded.value.created);
    assert_eq!(engine_id(&engine, &format!("{namespace}/app:dev")).await, Some(source_id.clone()));

    // Promote it: app:prod points at the same image, in the store and in the engine.
    let prod = StreamTag::parse("app:prod", &namespace).unwrap();
    let source = TagSource::parse("app:dev", None, &namespace).unwrap();
    let tagged = streams.tag(&request(source, prod.clone())).await.unwrap();
    assert!(tagged.mirror_error.is_none(), "{:?}", tagged.mirror_error);
    assert!(tagged.value[0].message.starts_with("Tag app:prod set to"), "{}", tagged.value[0].message);
    assert_eq!(engine_id(&engine, &format!("{namespace}/app:prod")).await, Some(source_id.clone()));
    assert_eq!(tagged.mirror.done.len(), 1, "one change followed: {:?}", tagged.mirror);

    // The history, read back from the store.
    let stream: ImageStream = store.read(|tx| tx.get_as(&namespace, "app")).unwrap().expect("the stream exists");
    let history = |tag: &str| stream.status_tag(tag).map(|t| t.items.clone()).unwrap_or_default();
    assert_eq!(history("dev").len(), 1);
    assert_eq!(history("prod").len(), 1);
    assert_eq!(history("prod")[0].image, history("dev")[0].image);
    assert_eq!(store.read(|tx| tx.cursor(MIRROR_CONSUMER)).unwrap(), store.read(|tx| tx.last_seq()).unwrap().into());

    // A source only a registry could have: the registry client is asked (on
    // the blocking pool), the registry is unreachable, the tag records why.
    let missing = TagSource::DockerImage("127.0.0.1:9/nowhere/app:1".into());
    let imported = streams.tag(&request(missing, StreamTag::parse("app:ext", &namespace).unwrap())).await.unwrap();
    let failures = &imported.value[0].write.failed_imports;
    assert_eq!(failures.len(), 1, "{:?}", imported.value[0]);
    assert!(failures[0].1.message.contains("127.0.0.1:9"), "{:?}", failures[0].1);

    // Deleting the stream removes its engine tags; the fixture stays.
    let deleted = streams.delete_stream(&namespace, "app").await.unwrap();
    assert!(deleted.mirror_error.is_none(), "{:?}", deleted.mirror_error);
    assert_eq!(engine_id(&engine, &format!("{namespace}/app:dev")).await, None);
    assert_eq!(engine_id(&engine, &format!("{namespace}/app:prod")).await, None);
    assert_eq!(engine_id(&engine, SOURCE).await, Some(source_id));
}
