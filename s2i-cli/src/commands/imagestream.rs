//! The image-stream kinds of the object verbs, `s2i tag`, `s2i import-image`,
//! and recording a build with `s2i build --to`. What applying, reading and
//! deleting these objects means is `s2i_imagestream`'s; this module turns
//! flags into requests and objects into tables and descriptions.

use std::collections::BTreeMap;

use s2i_imagestream::images::{delete_image, get_image, list_images};
use s2i_imagestream::operations::{ImportRequest, Lookup};
use s2i_imagestream::repository::REPOSITORY_CHECK_ANNOTATION;
use s2i_imagestream::streams::{
    self, ImportFailure, StreamTag, StreamWrite, TagRequest, TagSource, apply_stream, get_stream,
};
use s2i_imagestream::types::{
    GROUP, IMAGE_STREAM_IMAGE_KIND, IMAGE_STREAM_TAG_KIND, Image, ImageStream, ImageStreamImage, ImageStreamTag,
    KIND_DOCKER_IMAGE, KIND_IMAGE_STREAM_TAG,
};
use s2i_imagestream::views::{apply_istag, get_isimage, get_istag, list_istags, validate_istag};
use s2i_store::codec::Document;
use s2i_store::{Applied, Resource, Tx};
use serde_json::Value;

use super::build_events::after_tag_changes;
use super::kind::{
    ApplyOps, BoxFuture, DocumentError, Kind, LibResult, WideColumns, decode, parse_in_namespace, to_value,
};
use super::session::Session;
use crate::cli::{GlobalArgs, ImportImageArgs, TagArgs};
use crate::failure::Failure;
use crate::hints;
use crate::render::{Description, or_none, time_text};

// ---------------------------------------------------------------------------
// ImageStream.

pub(crate) const IMAGE_STREAM: Kind = Kind {
    info: ImageStream::INFO,
    columns: &["NAME", "IMAGE REPOSITORY", "TAGS", "UPDATED"],
    get: |tx, namespace, name| Ok(to_value(&get_stream(tx, namespace, name)?)),
    list: Some(|tx, namespace| Ok(tx.list_as::<ImageStream>(namespace)?.iter().map(to_value).collect())),
    row: |value| decode(value).map(|stream| stream_row(&stream)).unwrap_or_default(),
    wide: None,
    describe: Some(|_, value| Ok(describe_stream(&decode(value)?))),
    apply: Some(ApplyOps { parse: parse_stream, write: write_stream, after: after_streams }),
    delete: Ok(delete_stream),
    refresh: None,
    export: None,
};

/// `oc get is`'s columns: the tags that have an image, and when the newest was recorded.
fn stream_row(stream: &ImageStream) -> Vec<String> {
    let tags: Vec<&str> = stream.status.tags.iter().filter(|t| !t.items.is_empty()).map(|t| t.tag.as_str()).collect();
    let updated =
        stream.status.tags.iter().filter_map(|t| t.items.first().map(|i| i.created.as_str())).max().unwrap_or_default();
    vec![stream.metadata.name.clone(), stream.status.docker_image_repository.clone(), tags.join(","), updated.into()]
}

fn parse_stream(document: Document<'_>, namespace: &str) -> Result<Value, DocumentError> {
    let stream: ImageStream = parse_in_namespace(document, namespace)?;
    streams::validate_stream(&stream).map_err(DocumentError::invalid)?;
    Ok(to_value(&stream))
}

fn write_stream(tx: &Tx<'_>, value: Value) -> LibResult<Applied> {
    let (write, action) = apply_stream(tx, decode(&value)?)?;
    Ok(Applied::of(&write.stream, action))
}

fn after_streams<'a>(session: &'a Session, applied: &'a [Applied]) -> BoxFuture<'a, Result<Vec<String>, Failure>> {
    Box::pin(async move {
        let operations = session.image_streams();
        for object in applied {
            // An ImageStream's name, or an ImageStreamTag's `<stream>:<tag>`.
            let stream = object.name.split_once(':').map_or(object.name.as_str(), |(stream, _)| stream);
            for (tag, failure) in operations.import_pending(&object.namespace, stream, Lookup::EngineFirst).await? {
                // As `oc apply`: the stream is applied; the failure is the tag's
                // (ImportSuccess=False in its status conditions).
                eprintln!(
                    "warning: {}; recorded in the tag's status conditions (s2i describe is {stream}), and tried again \
                     by s2i import-image {stream}:{tag}",
                    import_failure_line(stream, &tag, &failure)
                );
            }
        }
        let outcome = operations.follow_now().await;
        let ((), mirrored) = session.report(outcome);
        mirrored?;
        Ok(Vec::new())
    })
}

fn delete_stream<'a>(session: &'a Session, name: &'a str) -> BoxFuture<'a, Result<String, Failure>> {
    Box::pin(async move {
        let outcome = session.image_streams().delete_stream(&session.context.namespace, name).await?;
        let (_, mirrored) = session.report(outcome);
        mirrored?;
        Ok(format!("imagestream.{GROUP} \"{name}\" deleted"))
    })
}

fn describe_stream(stream: &ImageStream) -> String {
    let mut out = Description::new(18);
    out.metadata(&stream.metadata);
    out.field("Image Repository", &stream.status.docker_image_repository);
    out.field("Image Lookup", &format!("local={}", stream.spec.lookup_policy.local));
    let repository = &stream.spec.docker_image_repository;
    if !repository.is_empty() {
        let checked = stream.metadata.annotations.get(REPOSITORY_CHECK_ANNOTATION);
        let when = checked.map_or_else(|| "not imported yet".to_owned(), |at| format!("imported {at}"));
        out.field("Imports From", &format!("{repository} ({when})"));
    }
    let mut images: Vec<&str> = stream
        .status
        .tags
        .iter()
        .flat_map(|t| t.items.iter().map(|i| i.image.as_str()))
        .filter(|i| !i.is_empty())
        .collect();
    images.sort_unstable();
    images.dedup();
    out.field("Unique Images", &images.len().to_string());
    let tags = stream.tag_names();
    out.field("Tags", &tags.len().to_string());
    for tag in &tags {
        out.line(&format!("\n{tag}"));
        let spec = stream.spec_tag(tag);
        let source = match spec.and_then(|s| s.from.as_ref()) {
            Some(from) => {
                let name = if from.namespace.is_empty() {
                    from.name.clone()
                } else {
                    format!("{}/{}", from.namespace, from.name)
                };
                match (from.kind.as_str(), spec.is_some_and(|s| s.reference)) {
                    (KIND_IMAGE_STREAM_TAG, _) => format!("tracks {name}"),
                    (KIND_DOCKER_IMAGE, true) => format!("reference to {name}"),
                    _ => format!("tagged from {name}"),
                }
            }
            None if spec.is_some() => "pushed image".into(),
            // A tag the stream's repository import gave.
            None if !repository.is_empty()
                && stream
                    .latest(tag)
                    .is_some_and(|i| i.docker_image_reference.starts_with(&format!("{repository}@"))) =>
            {
                format!("imported from {repository}:{tag}")
            }
            None => "no spec tag".into(),
        };
        out.line(&format!("  {source}"));
        if let Some(spec) = spec {
            if spec.reference_policy.kind != "Source" {
                out.line(&format!("  reference policy: {}", spec.reference_policy.kind));
            }
            if let Some(annotations) = spec.annotations.as_ref().filter(|a| !a.is_empty()) {
                out.line("  annotations:");
                for (key, value) in annotations {
                    out.line(&format!("    {key}={value}"));
                }
            }
        }
        let Some(list) = stream.status_tag(tag) else {
            out.line("\n  (no image yet)");
            continue;
        };
        for condition in &list.conditions {
            out.line(&format!(
                "\n  ! error: Import failed ({}): {}\n      {}",
                condition.reason, condition.message, condition.last_transition_time
            ));
        }
        out.line("");
        for (index, item) in list.items.iter().enumerate() {
            let mark = if index == 0 { "*" } else { " " };
            out.line(&format!("  {mark} {}", item.docker_image_reference));
            out.line(&format!("      {}", item.created));
        }
    }
    out.finish()
}

// ---------------------------------------------------------------------------
// ImageStreamTag.

pub(crate) const IMAGE_STREAM_TAG: Kind = Kind {
    info: IMAGE_STREAM_TAG_KIND,
    columns: &["NAME", "IMAGE REFERENCE", "UPDATED"],
    get: |tx, namespace, name| Ok(to_value(&get_istag(tx, namespace, name)?)),
    list: Some(|tx, namespace| Ok(list_istags(tx, namespace)?.iter().map(to_value).collect())),
    row: |value| {
        decode::<ImageStreamTag>(value)
            .map(|istag| {
                vec![
                    istag.metadata.name.clone(),
                    istag.image.docker_image_reference.clone(),
                    time_text(istag.metadata.creation_timestamp),
                ]
            })
            .unwrap_or_default()
    },
    // `oc get istag -o wide`: the name (digest) of the tag's image.
    wide: Some(WideColumns {
        columns: &["IMAGE NAME"],
        row: |value| vec![value["image"]["metadata"]["name"].as_str().unwrap_or_default().to_owned()],
    }),
    describe: Some(|_, value| {
        let istag: ImageStreamTag = decode(value)?;
        Ok(describe_image(&istag.metadata.name, &istag.image, &istag.metadata.annotations))
    }),
    apply: Some(ApplyOps { parse: parse_istag, write: write_istag, after: after_streams }),
    delete: Ok(delete_istag),
    refresh: None,
    export: None,
};

fn parse_istag(document: Document<'_>, namespace: &str) -> Result<Value, DocumentError> {
    // A view, not a stored kind: its namespace is defaulted here. `image` is
    // what a server computes for the tag (`oc get istag -o yaml` prints it): not input.
    let mut istag = document.with_server_owned(&["image"]).decode::<ImageStreamTag>().map_err(DocumentError::Yaml)?;
    if istag.metadata.namespace.is_empty() {
        istag.metadata.namespace = namespace.to_owned();
    }
    validate_istag(&istag).map_err(DocumentError::invalid)?;
    Ok(to_value(&istag))
}

fn write_istag(tx: &Tx<'_>, value: Value) -> LibResult<Applied> {
    let istag: ImageStreamTag = decode(&value)?;
    let (namespace, name) = (istag.metadata.namespace.clone(), istag.metadata.name.clone());
    let (_, action) = apply_istag(tx, istag)?;
    Ok(Applied { kind: IMAGE_STREAM_TAG_KIND, namespace, name, action })
}

fn delete_istag<'a>(session: &'a Session, name: &'a str) -> BoxFuture<'a, Result<String, Failure>> {
    Box::pin(async move {
        let (stream, tag) = s2i_imagestream::names::split_istag_name(name)?;
        let target = StreamTag { namespace: session.context.namespace.clone(), stream: stream.into(), tag: tag.into() };
        let outcome = session.image_streams().delete_tag(&target).await?;
        let (_, mirrored) = session.report(outcome);
        mirrored?;
        Ok(format!("imagestreamtag.{GROUP} \"{name}\" deleted"))
    })
}

fn describe_image(name: &str, image: &Image, annotations: &BTreeMap<String, String>) -> String {
    let mut out = Description::new(18);
    out.field("Name", name);
    out.field("Image", &image.metadata.name);
    out.field("Docker Image", &image.docker_image_reference);
    let mut merged = image.metadata.annotations.clone();
    merged.extend(annotations.clone());
    let merged = out.pairs(&merged);
    out.field("Annotations", &merged);
    if let Some(metadata) = &image.docker_image_metadata {
        out.field("Image ID", &or_none(&metadata.id));
        out.field("Image Created", &or_none(&metadata.created));
        out.field("Architecture", &or_none(&metadata.architecture));
        if metadata.size > 0 {
            out.field("Image Size", &format!("{} bytes", metadata.size));
        }
        if let Some(config) = &metadata.config {
            out.field("User", &or_none(&config.user));
            out.field("Entrypoint", &or_none(&config.entrypoint.join(" ")));
            out.field("Command", &or_none(&config.cmd.join(" ")));
            out.field("Working Dir", &or_none(&config.working_dir));
            let env = out.lines(&config.env);
            out.field("Environment", &env);
            let labels = out.pairs(&config.labels);
            out.field("Labels", &labels);
        }
    }
    if !image.docker_image_layers.is_empty() {
        out.field("Layers", &image.docker_image_layers.len().to_string());
        for layer in &image.docker_image_layers {
            out.line(&format!("  {} ({} bytes)", layer.name, layer.size));
        }
    }
    for manifest in &image.docker_image_manifests {
        out.line(&format!("  {} {}/{}", manifest.digest, manifest.os, manifest.architecture));
    }
    out.finish()
}

// ---------------------------------------------------------------------------
// ImageStreamImage and Image.

pub(crate) const IMAGE_STREAM_IMAGE: Kind = Kind {
    info: IMAGE_STREAM_IMAGE_KIND,
    columns: &["NAME", "IMAGE REFERENCE"],
    get: |tx, namespace, name| Ok(to_value(&get_isimage(tx, namespace, name)?)),
    list: None,
    row: |value| {
        decode::<ImageStreamImage>(value)
            .map(|isimage| vec![isimage.metadata.name.clone(), isimage.image.docker_image_reference.clone()])
            .unwrap_or_default()
    },
    // `oc get isimage -o wide`: the name (digest) of the image.
    wide: Some(WideColumns {
        columns: &["IMAGE NAME"],
        row: |value| vec![value["image"]["metadata"]["name"].as_str().unwrap_or_default().to_owned()],
    }),
    describe: Some(|_, value| {
        let isimage: ImageStreamImage = decode(value)?;
        Ok(describe_image(&isimage.metadata.name, &isimage.image, &BTreeMap::new()))
    }),
    apply: None,
    delete: Err("they are views of image streams; delete the stream's tag instead (s2i tag -d STREAM:TAG)"),
    refresh: None,
    export: None,
};

pub(crate) const IMAGE: Kind = Kind {
    info: Image::INFO,
    columns: &["NAME", "IMAGE REFERENCE"],
    get: |tx, _, name| Ok(to_value(&get_image(tx, name)?)),
    list: Some(|tx, _| Ok(list_images(tx)?.iter().map(to_value).collect())),
    row: |value| {
        decode::<Image>(value)
            .map(|image| vec![image.metadata.name.clone(), image.docker_image_reference.clone()])
            .unwrap_or_default()
    },
    wide: None,
    describe: Some(|_, value| {
        let image: Image = decode(value)?;
        Ok(describe_image(&image.metadata.name, &image, &BTreeMap::new()))
    }),
    apply: None,
    delete: Ok(delete_one_image),
    refresh: None,
    export: None,
};

fn delete_one_image<'a>(session: &'a Session, name: &'a str) -> BoxFuture<'a, Result<String, Failure>> {
    Box::pin(async move {
        session.context.store.write(|tx| delete_image(tx, name)).map_err(hints::deleting_image)?;
        Ok(format!("image.{GROUP} \"{name}\" deleted"))
    })
}

// ---------------------------------------------------------------------------
// s2i tag, s2i import-image, s2i build --to.

fn policy(value: &Option<String>) -> Option<String> {
    value.as_deref().map(|v| match v {
        "local" => "Local".to_owned(),
        _ => "Source".to_owned(),
    })
}

fn import_failure_line(stream: &str, tag: &str, failure: &ImportFailure) -> String {
    format!("import of {stream}:{tag} failed ({}): {}", failure.reason, failure.message)
}

fn report_failed_imports(write: &StreamWrite) -> i32 {
    let mut code = 0;
    for (tag, failure) in &write.failed_imports {
        eprintln!("{:?}", Failure::from(failure.to_error(&format!("{}:{tag}", write.stream.metadata.name))).report);
        code = 1;
    }
    code
}

/// `s2i tag`.
pub(crate) async fn tag(global: &GlobalArgs, args: TagArgs) -> Result<i32, Failure> {
    let namespace = &global.namespace;
    if args.delete {
        let targets: Vec<StreamTag> = std::iter::once(&args.source)
            .chain(&args.destinations)
            .map(|spec| StreamTag::parse(spec, namespace))
            .collect::<Result<_, _>>()?;
        let session = Session::open(global, None).await?;
        for target in &targets {
            let outcome = session.image_streams().delete_tag(target).await?;
            let (_, mirrored) = session.report(outcome);
            println!("Deleted tag {}/{}:{}.", target.namespace, target.stream, target.tag);
            mirrored?;
        }
        return Ok(0);
    }
    if args.destinations.is_empty() {
        return Err(Failure::message(
            "s2i tag needs a destination".into(),
            "write s2i tag SOURCE STREAM:TAG (or -d STREAM:TAG to delete)".into(),
        ));
    }
    let source = TagSource::parse(&args.source, args.source_kind, namespace)?;
    let destinations = args.destinations.iter().map(|d| StreamTag::parse(d, namespace)).collect::<Result<_, _>>()?;
    let mut request = TagRequest::new(source, destinations);
    request.alias = args.alias;
    request.reference = args.reference;
    request.reference_policy = policy(&args.reference_policy);
    request.import_mode = args.import_mode.clone();
    request.insecure = args.insecure;
    request.scheduled = args.scheduled;
    let session = Session::open(global, None).await?;
    let outcome = session.image_streams().tag(&request).await?;
    let (outcomes, mirrored) = session.report(outcome);
    let mut code = 0;
    for outcome in &outcomes {
        println!("{}", outcome.message);
        code = code.max(report_failed_imports(&outcome.write));
    }
    after_tag_changes(&session).await?;
    mirrored?;
    Ok(code)
}

/// `s2i import-image`.
pub(crate) async fn import_image(global: &GlobalArgs, args: ImportImageArgs) -> Result<i32, Failure> {
    let mut request = ImportRequest::new(StreamTag::parse(&args.destination, &global.namespace)?);
    request.from = args.from.clone();
    request.confirm = args.confirm;
    request.insecure = args.insecure;
    request.reference_policy = policy(&args.reference_policy);
    request.import_mode = args.import_mode.clone();
    request.scheduled = args.scheduled;
    request.all = args.all;
    let session = Session::open(global, args.dockercfg_path.as_ref()).await?;
    let outcome = session.image_streams().import_image(&request).await?;
    let (write, mirrored) = session.report(outcome);
    let code = report_failed_imports(&write);
    let stream = &write.stream;
    let tag = &request.destination.tag;
    let repository_import =
        args.all || (stream.spec_tag(tag).is_none() && !stream.spec.docker_image_repository.is_empty());
    if repository_import {
        // Every tag the repository gave (status tags no spec tag names).
        println!("imagestream.{GROUP}/{} imported from {}", stream.metadata.name, stream.spec.docker_image_repository);
        for list in stream.status.tags.iter().filter(|t| stream.spec_tag(&t.tag).is_none()) {
            if let Some(item) = list.items.first() {
                println!("{}:{} -> {}", stream.metadata.name, list.tag, item.docker_image_reference);
            }
        }
    } else if code == 0 {
        let current = stream.latest(tag).map(|i| i.docker_image_reference.clone()).unwrap_or_default();
        println!("imagestream.{GROUP}/{} imported", stream.metadata.name);
        println!("{}:{tag} -> {current}", stream.metadata.name);
    }
    after_tag_changes(&session).await?;
    mirrored?;
    Ok(code)
}

/// After `s2i build --to`: record the built image in the stream.
pub(crate) async fn record_build(
    session: &Session,
    destination: &StreamTag,
    image_id: &str,
) -> Result<String, Failure> {
    let outcome = session.image_streams().record_build(destination, image_id).await?;
    let (write, mirrored) = session.report(outcome);
    after_tag_changes(session).await?;
    mirrored?;
    let current = write.stream.latest(&destination.tag).map(|i| i.docker_image_reference.clone()).unwrap_or_default();
    Ok(format!("Recorded {current} as {}", destination.display_from(&session.context.namespace)))
}
