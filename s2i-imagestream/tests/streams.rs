//! The server-side rules of image streams, on a real store, and what
//! applying, reading and deleting the objects means as a front end calls it.

use std::collections::BTreeMap;

use s2i_imagestream::Error;
use s2i_imagestream::images::{delete_image, get_image, list_images};
use s2i_imagestream::streams::{
    self, ImportFailure, ImportResult, ResolvedImage, SourceKind, StreamTag, TAG_CHANGED, TagChange, TagRequest,
    TagSource, apply_stream, get_stream,
};
use s2i_imagestream::types::{
    DockerImageMetadata, Image, ImageStream, ImageStreamTag, KIND_DOCKER_IMAGE, KIND_IMAGE_STREAM_IMAGE,
    KIND_IMAGE_STREAM_TAG, ObjectReference, REGISTRY_ANNOTATION, TagReference,
};
use s2i_imagestream::views::{self, apply_istag, validate_istag};
use s2i_store::{ObjectMeta, Resource, Store, WriteAction};

fn digest(n: u8) -> String {
    format!("sha256:{}", format!("{n:02x}").repeat(32))
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

fn resolved(n: u8, reference: &str) -> ResolvedImage {
    ResolvedImage {
        image: Image {
            metadata: ObjectMeta::named("", digest(n)),
            docker_image_metadata: Some(DockerImageMetadata { id: digest(n), ..Default::default() }),
            ..Image::default()
        },
        docker_image_reference: format!("{reference}@{}", digest(n)),
    }
}

fn st(spec: &str) -> StreamTag {
    StreamTag::parse(spec, "dev").unwrap()
}

/// Record image `n` as the current image of `dest` (the build/push path).
fn push(store: &Store, dest: &str, n: u8) -> streams::StreamWrite {
    let dest = st(dest);
    let reference = format!("{}/{}", dest.namespace, dest.stream);
    store.write(|tx| streams::record_image(tx, &dest, &resolved(n, &reference))).unwrap()
}

fn tag(
    store: &Store,
    source: &str,
    kind: Option<SourceKind>,
    dests: &[&str],
    alias: bool,
) -> Result<Vec<String>, Error> {
    let mut request = TagRequest::new(TagSource::parse(source, kind, "dev")?, dests.iter().map(|d| st(d)).collect());
    request.alias = alias;
    let outcomes = store.write(|tx| streams::tag(tx, &request, &BTreeMap::new()))?;
    Ok(outcomes.into_iter().map(|o| o.message).collect())
}

fn get(store: &Store, name: &str) -> ImageStream {
    store.read(|tx| tx.get_as::<ImageStream>("dev", name)).unwrap().expect("the stream exists")
}

fn images(stream: &ImageStream, tag: &str) -> Vec<String> {
    stream.status_tag(tag).map(|t| t.items.iter().map(|i| i.image.clone()).collect()).unwrap_or_default()
}

#[test]
fn pushes_build_history_newest_first() {
    let (_dir, store) = store();
    let first = push(&store, "app:dev", 1);
    assert!(first.created);
    push(&store, "app:dev", 2);
    push(&store, "app:dev", 2);
    let stream = get(&store, "app");
    assert_eq!(images(&stream, "dev"), [digest(2), digest(1)], "a repeated push does not grow history");
    assert_eq!(stream.status.docker_image_repository, "dev/app");
    assert_eq!(stream.latest("dev").unwrap().docker_image_reference, format!("dev/app@{}", digest(2)));
    let events = store.read(|tx| tx.object_events("ImageStream", "dev", "app")).unwrap();
    assert_eq!(events.len(), 2, "one event per change of the current image");
    assert!(events.iter().all(|e| e.action == TAG_CHANGED));
    let change: TagChange = serde_json::from_value(events[1].data.clone()).unwrap();
    assert_eq!(change.tag, "dev");
    assert_eq!(change.old.unwrap().image, digest(1));
    assert_eq!(change.new.unwrap().image, digest(2));
    let problems = store.read(streams::check_streams).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn copy_is_a_snapshot_and_alias_tracks() {
    let (_dir, store) = store();
    push(&store, "app:dev", 1);
    let messages = tag(&store, "app:dev", None, &["app:prod"], false).unwrap();
    assert_eq!(messages, [format!("Tag app:prod set to app@{}.", digest(1))]);
    let messages = tag(&store, "app:dev", None, &["app:latest"], true).unwrap();
    assert_eq!(messages, ["Tag app:latest set up to track app:dev."]);

    let stream = get(&store, "app");
    let prod = stream.spec_tag("prod").unwrap();
    assert_eq!(prod.from.as_ref().unwrap().kind, KIND_IMAGE_STREAM_IMAGE);
    assert_eq!(images(&stream, "prod"), [digest(1)]);
    assert_eq!(images(&stream, "latest"), [digest(1)]);
    assert_eq!(stream.spec_tag("latest").unwrap().from.as_ref().unwrap().kind, KIND_IMAGE_STREAM_TAG);

    push(&store, "app:dev", 2);
    let stream = get(&store, "app");
    assert_eq!(images(&stream, "prod"), [digest(1)], "a copy does not follow");
    assert_eq!(images(&stream, "latest"), [digest(2), digest(1)], "an alias follows");
}

#[test]
fn cross_stream_copy_rewrites_the_repository() {
    let (_dir, store) = store();
    push(&store, "app:dev", 1);
    tag(&store, "app:dev", None, &["release:1.0", "prod/app:live"], false).unwrap();
    let release = get(&store, "release");
    assert_eq!(release.latest("1.0").unwrap().docker_image_reference, format!("dev/release@{}", digest(1)));
    let live: ImageStream = store.read(|tx| tx.get_as("prod", "app")).unwrap().unwrap();
    assert_eq!(live.latest("live").unwrap().docker_image_reference, format!("prod/app@{}", digest(1)));
    let from = live.spec_tag("live").unwrap().from.clone().unwrap();
    assert_eq!(from.namespace, "dev", "a cross-namespace source names its namespace");

    let err = tag(&store, "app:dev", None, &["release:x"], true).unwrap_err();
    assert!(err.to_string().contains("cannot set alias across different Image Streams"), "{err}");
}

#[test]
fn isimage_by_prefix_and_ambiguity() {
    let (_dir, store) = store();
    push(&store, "app:dev", 1);
    push(&store, "app:dev", 2);
    // The older image, by a prefix of its hex.
    tag(&store, "app@0101010101", None, &["app:rollback"], false).unwrap();
    assert_eq!(images(&get(&store, "app"), "rollback"), [digest(1)]);
    let full = format!("app@{}", digest(2));
    tag(&store, &full, Some(SourceKind::ImageStreamImage), &["app:pinned"], false).unwrap();
    assert_eq!(images(&get(&store, "app"), "pinned"), [digest(2)]);
}

#[test]
fn generations_follow_spec_changes() {
    let (_dir, store) = store();
    push(&store, "app:dev", 1);
    tag(&store, "app:dev", None, &["app:qa"], false).unwrap();
    let stream = get(&store, "app");
    let g0 = stream.metadata.generation;
    tag(&store, "app:dev", None, &["app:prod"], false).unwrap();
    let stream = get(&store, "app");
    assert_eq!(stream.metadata.generation, g0 + 1);
    assert_eq!(stream.spec_tag("prod").unwrap().generation, Some(g0 + 1));
    assert_eq!(stream.spec_tag("qa").unwrap().generation, Some(g0), "untouched tags keep their generation");
    assert_eq!(stream.latest("prod").unwrap().generation, g0 + 1);

    // Re-tagging the same image asks for a re-import: the generation moves, history collapses.
    tag(&store, "app:dev", None, &["app:prod"], false).unwrap();
    let stream = get(&store, "app");
    assert_eq!(stream.metadata.generation, g0 + 2);
    assert_eq!(images(&stream, "prod"), [digest(1)]);
    assert_eq!(stream.latest("prod").unwrap().generation, g0 + 2);

    // Writing the same spec back changes nothing; a forged generation is ignored.
    let mut same = stream.clone();
    same.spec.tags.iter_mut().for_each(|t| t.generation = Some(99));
    let write = store.write(|tx| streams::write_stream(tx, same.clone(), &BTreeMap::new())).unwrap();
    assert_eq!(write.stream.metadata.generation, g0 + 2);
    assert_eq!(write.stream.spec, stream.spec);
    assert!(write.changes.is_empty());
}

#[test]
fn reference_tags_and_pending_imports() {
    let (_dir, store) = store();
    let mut stream = ImageStream::new("dev", "ext");
    stream.spec.tags = vec![
        TagReference {
            name: "ref".into(),
            from: Some(ObjectReference::new(KIND_DOCKER_IMAGE, "quay.io/org/app:1")),
            reference: true,
            ..TagReference::default()
        },
        TagReference {
            name: "imported".into(),
            from: Some(ObjectReference::new(KIND_DOCKER_IMAGE, "quay.io/org/app:2")),
            ..TagReference::default()
        },
    ];
    let write = store.write(|tx| streams::write_stream(tx, stream.clone(), &BTreeMap::new())).unwrap();
    assert_eq!(write.stream.latest("ref").unwrap().docker_image_reference, "quay.io/org/app:1");
    assert_eq!(write.stream.latest("ref").unwrap().image, "");
    assert_eq!(write.pending_imports.len(), 1);
    let pending = write.pending_imports[0].clone();
    assert_eq!(pending.tag, "imported");
    assert_eq!(streams::pending_imports(&write.stream), write.pending_imports);

    let target = StreamTag::parse("ext:imported", "dev").unwrap();
    let result: ImportResult = Ok(resolved(7, "quay.io/org/app"));
    let recorded = store.write(|tx| streams::record_import(tx, &target, pending.generation, &result)).unwrap();
    let recorded = recorded.expect("the import is for the current generation");
    assert_eq!(
        recorded.stream.latest("imported").unwrap().docker_image_reference,
        format!("quay.io/org/app@{}", digest(7))
    );
    assert!(streams::pending_imports(&recorded.stream).is_empty());
    let again = store.write(|tx| streams::record_import(tx, &target, pending.generation, &result)).unwrap();
    assert!(again.is_none(), "an import already observed is not recorded twice");

    // A failed import leaves the image and records the condition.
    let mut retry = recorded.stream.clone();
    retry.spec.tags.iter_mut().for_each(|t| t.generation = Some(0));
    let write = store.write(|tx| streams::write_stream(tx, retry.clone(), &BTreeMap::new())).unwrap();
    let generation = write.pending_imports.iter().find(|p| p.tag == "imported").unwrap().generation;
    let failure: ImportResult = Err(ImportFailure { reason: "NotFound".into(), message: "manifest unknown".into() });
    let failed = store.write(|tx| streams::record_import(tx, &target, generation, &failure)).unwrap().unwrap();
    let list = failed.stream.status_tag("imported").unwrap();
    assert_eq!(list.items[0].image, digest(7));
    assert_eq!(list.conditions[0].reason, "NotFound");
    assert_eq!(list.conditions[0].generation, generation);
}

#[test]
fn a_push_writes_the_status_and_leaves_the_spec_to_the_user() {
    let (_dir, store) = store();
    let write = store.write(|tx| streams::record_image(tx, &st("app:dev"), &resolved(1, "dev/app"))).unwrap();
    assert!(write.created);
    let stream = get(&store, "app");
    assert!(stream.spec.tags.is_empty(), "a push makes no spec tag: {:?}", stream.spec.tags);
    assert_eq!(images(&stream, "dev"), [digest(1)]);

    // A spec tag the user made stays as written, generation and all.
    tag(&store, "app:dev", None, &["app:prod"], false).unwrap();
    let before = get(&store, "app");
    store.write(|tx| streams::record_image(tx, &st("app:prod"), &resolved(2, "dev/app"))).unwrap();
    let after = get(&store, "app");
    assert_eq!(after.spec, before.spec);
    assert_eq!(after.metadata.generation, before.metadata.generation);
    assert_eq!(images(&after, "prod"), [digest(2), digest(1)]);
    let istag = store.read(|tx| views::get_istag(tx, "dev", "app:dev")).unwrap();
    assert!(istag.tag.is_none() && istag.metadata.annotations.is_empty(), "{istag:?}");
}

#[test]
fn views_merge_metadata_overrides() {
    let (_dir, store) = store();
    push(&store, "app:dev", 3);
    // Overrides are a spec tag's annotations, set as `oc` sets them: on the istag.
    tag(&store, "app:dev", None, &["app:shown"], false).unwrap();
    let overrides = BTreeMap::from([("io.k8s.display-name".to_owned(), "my app".to_owned())]);
    let mut annotated = ImageStreamTag { metadata: ObjectMeta::named("dev", "app:shown"), ..Default::default() };
    annotated.metadata.annotations = overrides.clone();
    store.write(|tx| apply_istag(tx, annotated.clone())).unwrap();
    let istag = store.read(|tx| views::get_istag(tx, "dev", "app:shown")).unwrap();
    assert_eq!(istag.metadata.name, "app:shown");
    assert_eq!(istag.image.metadata.name, digest(3));
    assert_eq!(istag.image.metadata.annotations.get("io.k8s.display-name").unwrap(), "my app");
    assert_eq!(istag.metadata.annotations, overrides);
    assert_eq!(istag.tag.as_ref().unwrap().annotations.as_ref().unwrap(), &overrides);
    assert_eq!(istag.image.docker_image_reference, format!("dev/app@{}", digest(3)));
    let image: Image = store.read(|tx| tx.get_as("", &digest(3))).unwrap().unwrap();
    assert!(image.metadata.annotations.is_empty(), "the image itself is not changed by a tag's overrides");
    let pushed = store.read(|tx| views::get_istag(tx, "dev", "app:dev")).unwrap();
    assert!(pushed.tag.is_none() && pushed.image.metadata.annotations.is_empty(), "{pushed:?}");

    let isimage = store.read(|tx| views::get_isimage(tx, "dev", "app@030303")).unwrap();
    assert_eq!(isimage.metadata.name, format!("app@{}", digest(3)));
    assert_eq!(isimage.image.metadata.name, digest(3));

    let all = store.read(|tx| views::list_istags(tx, Some("dev"))).unwrap();
    assert_eq!(all.iter().map(|t| t.metadata.name.as_str()).collect::<Vec<_>>(), ["app:dev", "app:shown"]);

    let err = store.read(|tx| views::get_istag(tx, "dev", "app")).unwrap_err();
    assert!(err.to_string().contains("<name>:<tag>"), "{err}");
    let err = store.read(|tx| views::get_istag(tx, "dev", "app:nope")).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

#[test]
fn delete_tag_and_stream() {
    let (_dir, store) = store();
    push(&store, "app:dev", 1);
    tag(&store, "app:dev", None, &["app:prod"], false).unwrap();
    let write = store.write(|tx| streams::delete_tag(tx, &st("app:prod"))).unwrap();
    assert_eq!(write.changes.len(), 1);
    assert!(write.changes[0].new.is_none());
    let stream = get(&store, "app");
    assert!(stream.spec_tag("prod").is_none() && stream.status_tag("prod").is_none());
    let err = store.write(|tx| streams::delete_tag(tx, &st("app:prod"))).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");

    store.write(|tx| streams::delete_stream(tx, "dev", "app")).unwrap();
    assert!(store.read(|tx| tx.get_as::<ImageStream>("dev", "app")).unwrap().is_none());
    let last = store.read(|tx| tx.object_events(ImageStream::KIND, "dev", "app")).unwrap().pop().unwrap();
    let change: TagChange = serde_json::from_value(last.data).unwrap();
    assert_eq!((change.tag.as_str(), change.new), ("dev", None));
}

#[test]
fn bad_requests_are_refused_with_the_reason() {
    let (_dir, store) = store();
    let err = tag(&store, "nope:dev", None, &["app:prod"], false).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    push(&store, "app:dev", 1);
    let err = tag(&store, "app:missing", None, &["app:prod"], false).unwrap_err();
    assert!(err.to_string().contains("app:missing"), "{err}");
    let err = tag(&store, "app:dev", None, &["app:dev"], true).unwrap_err();
    assert!(err.to_string().contains("cannot track itself"), "{err}");
    assert!(StreamTag::parse("App:x", "dev").is_err());
    assert!(StreamTag::parse("quay.io/a/b:x", "dev").is_err());
    assert!(StreamTag::parse("a/b/c:x", "dev").is_err());
    assert!(TagSource::parse("app", Some(SourceKind::ImageStreamTag), "dev").is_err());

    let mut scheduled = ImageStream::new("dev", "s");
    scheduled.spec.tags = vec![TagReference {
        name: "t".into(),
        from: Some(ObjectReference::new(KIND_DOCKER_IMAGE, "quay.io/a/b:1")),
        import_policy: s2i_imagestream::types::TagImportPolicy { scheduled: true, ..Default::default() },
        ..TagReference::default()
    }];
    // Scheduled re-import (`s2i controller`) is for DockerImage sources only, as on OpenShift.
    let written = store.write(|tx| streams::write_stream(tx, scheduled.clone(), &BTreeMap::new())).unwrap();
    assert_eq!(streams::scheduled_tags(&written.stream), ["t"]);
    scheduled.metadata.name = "s2".into();
    scheduled.spec.tags[0].from = Some(ObjectReference::new(KIND_IMAGE_STREAM_TAG, "s:t"));
    let err = store.write(|tx| streams::write_stream(tx, scheduled.clone(), &BTreeMap::new())).unwrap_err();
    assert!(
        err.to_string().contains("only tags pointing to Docker repositories may be scheduled for background import"),
        "{err}"
    );
    let mut bad_registry = ImageStream::new("dev", "r");
    bad_registry.metadata.annotations.insert(REGISTRY_ANNOTATION.into(), "not a host!".into());
    assert!(store.write(|tx| streams::write_stream(tx, bad_registry.clone(), &BTreeMap::new())).is_err());
}

#[test]
fn source_kinds_are_inferred_like_oc_tag() {
    let parse = |s: &str| TagSource::parse(s, None, "dev").unwrap();
    assert!(matches!(parse("quay.io/org/app:1"), TagSource::DockerImage(_)));
    assert!(matches!(parse("busybox"), TagSource::DockerImage(_)));
    assert!(matches!(parse("app:1"), TagSource::ImageStreamTag(_)));
    assert!(matches!(parse(&format!("app@{}", digest(1))), TagSource::ImageStreamImage { .. }));
    assert!(matches!(parse("app@abcdef"), TagSource::ImageStreamImage { .. }));
    match parse("other/app:1") {
        TagSource::ImageStreamTag(t) => assert_eq!((t.namespace.as_str(), t.stream.as_str()), ("other", "app")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        TagSource::parse("app:1", Some(SourceKind::DockerImage), "dev").unwrap(),
        TagSource::DockerImage(_)
    ));
}

// ---------------------------------------------------------------------------
// Applying, reading and deleting the objects, as a front end calls it.

/// An ImageStreamTag whose spec tag refers to an external image without importing it.
fn reference_istag(name: &str, pull_spec: &str) -> ImageStreamTag {
    ImageStreamTag {
        metadata: ObjectMeta::named("dev", name),
        tag: Some(TagReference {
            from: Some(ObjectReference::new(KIND_DOCKER_IMAGE, pull_spec)),
            reference: true,
            ..TagReference::default()
        }),
        ..ImageStreamTag::default()
    }
}

#[test]
fn applying_a_stream_says_what_it_did() {
    let (_dir, store) = store();
    let stream = ImageStream::new("dev", "app");
    let (write, action) = store.write(|tx| apply_stream(tx, stream.clone())).unwrap();
    assert_eq!(action, WriteAction::Created);
    assert!(write.created);
    let (_, action) = store.write(|tx| apply_stream(tx, stream.clone())).unwrap();
    assert_eq!(action, WriteAction::Unchanged, "the same stream again writes nothing");
    let mut labelled = stream;
    labelled.metadata.labels.insert("team".into(), "a".into());
    let (write, action) = store.write(|tx| apply_stream(tx, labelled.clone())).unwrap();
    assert_eq!(action, WriteAction::Configured);
    assert_eq!(write.stream.metadata.labels["team"], "a");
}

#[test]
fn an_istag_write_creates_the_stream_and_sets_the_spec_tag() {
    let (_dir, store) = store();
    let mut istag = reference_istag("app:ext", "quay.io/org/app:1");
    istag.metadata.annotations.insert("description".into(), "the external one".into());
    let (write, action) = store.write(|tx| apply_istag(tx, istag.clone())).unwrap();
    assert_eq!(action, WriteAction::Created);
    let stream = get(&store, "app");
    let spec = stream.spec_tag("ext").expect("the spec tag");
    assert_eq!(spec.name, "ext", "the name comes from the istag's");
    assert_eq!(spec.annotations.as_ref().unwrap()["description"], "the external one");
    assert_eq!(write.stream.metadata.name, "app");

    let (_, action) = store.write(|tx| apply_istag(tx, istag.clone())).unwrap();
    assert_eq!(action, WriteAction::Unchanged);

    // Without `tag`, an update keeps the spec tag and sets only its annotations.
    let mut annotations_only = ImageStreamTag { metadata: ObjectMeta::named("dev", "app:ext"), ..Default::default() };
    annotations_only.metadata.annotations.insert("description".into(), "changed".into());
    let (_, action) = store.write(|tx| apply_istag(tx, annotations_only.clone())).unwrap();
    assert_eq!(action, WriteAction::Configured);
    let spec = get(&store, "app").spec_tag("ext").cloned().unwrap();
    assert_eq!(spec.annotations.unwrap()["description"], "changed");
    assert_eq!(spec.from.unwrap().name, "quay.io/org/app:1");
}

#[test]
fn an_istag_without_tag_needs_an_existing_spec_tag() {
    let (_dir, store) = store();
    let istag = ImageStreamTag { metadata: ObjectMeta::named("dev", "app:nope"), ..Default::default() };
    let error = store.write(|tx| apply_istag(tx, istag.clone())).unwrap_err();
    assert!(matches!(&error, Error::InvalidRequest { message, .. } if message.contains("nope is not a spec tag")));
    assert!(store.read(|tx| tx.get_as::<ImageStream>("dev", "app")).unwrap().is_none(), "nothing was written");
}

#[test]
fn istag_names_are_checked_before_anything_is_written() {
    for bad in ["app", "App:1", "app:-x"] {
        let istag = ImageStreamTag { metadata: ObjectMeta::named("dev", bad), ..Default::default() };
        assert!(matches!(validate_istag(&istag), Err(Error::InvalidName { .. })), "{bad}");
    }
    validate_istag(&reference_istag("app:1.0", "quay.io/a/b:1")).unwrap();
}

#[test]
fn a_tag_without_an_image_is_not_an_istag_yet() {
    let (_dir, store) = store();
    store.write(|tx| apply_istag(tx, reference_istag("app:ext", "quay.io/org/app:1"))).unwrap();
    let error = store.read(|tx| views::get_istag(tx, "dev", "app:ext")).unwrap_err();
    let Error::TagWithoutImage { namespace, stream, tag } = &error else { panic!("{error:?}") };
    assert_eq!((namespace.as_str(), stream.as_str(), tag.as_str()), ("dev", "app", "ext"));
    assert_eq!(error.to_string(), "ImageStreamTag \"app:ext\" not found in namespace \"dev\"");

    let error = store.read(|tx| get_stream(tx, "dev", "nope")).unwrap_err();
    assert!(matches!(&error, Error::NotFound { kind, referenced: false, .. } if kind == "ImageStream"), "{error:?}");
}

#[test]
fn an_image_in_a_tags_history_cannot_be_deleted() {
    let (_dir, store) = store();
    push(&store, "app:dev", 1);
    push(&store, "app:dev", 2);
    push(&store, "web:prod", 1);
    let error = store.write(|tx| delete_image(tx, &digest(1))).unwrap_err();
    let Error::ImageInUse { image, tags } = &error else { panic!("{error:?}") };
    assert_eq!(image, &digest(1));
    let tags: Vec<String> = tags.iter().map(ToString::to_string).collect();
    assert_eq!(tags, ["dev/app:dev", "dev/web:prod"], "every tag whose history holds it");
    assert_eq!(error.to_string(), format!("image {} is in the history of dev/app:dev, dev/web:prod", digest(1)));

    // Once no history holds it, it goes.
    for tag in ["app:dev", "web:prod"] {
        store.write(|tx| streams::delete_tag(tx, &StreamTag::parse(tag, "dev").unwrap())).unwrap();
    }
    let deleted = store.write(|tx| delete_image(tx, &digest(1))).unwrap();
    assert_eq!(deleted.metadata.name, digest(1));
    assert!(matches!(store.read(|tx| get_image(tx, &digest(1))), Err(Error::NotFound { .. })));
    let left: Vec<String> = store.read(list_images).unwrap().into_iter().map(|i| i.metadata.name).collect();
    assert_eq!(left, [digest(2)]);
    assert!(matches!(store.write(|tx| delete_image(tx, &digest(1))), Err(Error::NotFound { .. })));
}

#[test]
fn stored_engine_references_by_image_id_become_the_runnable_id() {
    let (_dir, store) = store();
    // As older versions recorded them: `<namespace>/<stream>@<image ID>`, and a registry image.
    push(&store, "dev/app:latest", 1);
    push(&store, "dev/app:latest", 2);
    let mut from_registry = resolved(3, "quay.io/x/app");
    from_registry.image.docker_image_metadata = Some(DockerImageMetadata { id: digest(4), ..Default::default() });
    let dest = st("dev/app:v3");
    store.write(|tx| streams::record_image(tx, &dest, &from_registry)).unwrap();

    assert_eq!(s2i_imagestream::migrations::migrate(&store).unwrap(), ["s2i-imagestream/engine-id-references"]);
    let stream = store.read(|tx| get_stream(tx, "dev", "app")).unwrap();
    let references: Vec<&str> =
        stream.status.tags.iter().flat_map(|t| t.items.iter().map(|i| i.docker_image_reference.as_str())).collect();
    let quay = format!("quay.io/x/app@{}", digest(3));
    assert_eq!(references, [digest(2).as_str(), digest(1).as_str(), quay.as_str()]);
    let image = store.read(|tx| get_image(tx, &digest(1))).unwrap();
    assert_eq!(image.docker_image_reference, digest(1));
    assert_eq!(store.read(|tx| get_image(tx, &digest(3))).unwrap().docker_image_reference, quay);
    // Once per store.
    assert!(s2i_imagestream::migrations::migrate(&store).unwrap().is_empty());
}
