//! The image-stream kinds of the object verbs, `s2i tag`, `s2i import-image`,
//! and recording a build with `s2i build --to`.

use std::collections::BTreeMap;
use std::fmt::Write;

use s2i_imagestream::Error;
use s2i_imagestream::operations::{ImportRequest, Lookup};
use s2i_imagestream::streams::{self, ImportFailure, StreamTag, StreamWrite, TagRequest, TagSource};
use s2i_imagestream::types::{
    IMAGE_STREAM_IMAGE_KIND, IMAGE_STREAM_TAG_KIND, Image, ImageStream, ImageStreamImage, ImageStreamTag,
    KIND_DOCKER_IMAGE, KIND_IMAGE_STREAM_TAG,
};
use s2i_store::codec::Document;
use s2i_store::{Resource, Tx};
use serde::Deserialize;
use serde_json::Value;

use super::Failure;
use super::objects::{Applied, ApplyOps, BoxFuture, DocumentError, Kind, LibResult, or_none, time_text, to_value};
use super::session::Session;
use crate::cli::{GlobalArgs, ImportImageArgs, TagArgs};

use s2i_imagestream::types::GROUP;

pub(super) fn typed<T: for<'de> Deserialize<'de> + Default>(value: &Value) -> T {
    serde_json::from_value(value.clone()).unwrap_or_default()
}

// ---------------------------------------------------------------------------
// ImageStream.

pub(crate) const IMAGE_STREAM: Kind = Kind {
    info: ImageStream::INFO,
    columns: &["NAME", "IMAGE REPOSITORY", "TAGS", "UPDATED"],
    get: |tx, namespace, name| {
        let stream: ImageStream = tx.get_as(namespace, name)?.ok_or_else(|| Error::NotFound {
            kind: ImageStream::KIND.into(),
            namespace: namespace.into(),
            name: name.into(),
            help: format!("list the streams with `s2i get imagestreams --namespace {namespace}`"),
        })?;
        Ok(to_value(&stream))
    },
    list: Some(|tx, namespace| Ok(tx.list_as::<ImageStream>(namespace)?.iter().map(to_value).collect())),
    row: |value| {
        let stream: ImageStream = typed(value);
        let tags: Vec<&str> =
            stream.status.tags.iter().filter(|t| !t.items.is_empty()).map(|t| t.tag.as_str()).collect();
        let updated = stream
            .status
            .tags
            .iter()
            .filter_map(|t| t.items.first().map(|i| i.created.as_str()))
            .max()
            .unwrap_or_default();
        vec![
            stream.metadata.name.clone(),
            stream.status.docker_image_repository.clone(),
            tags.join(","),
            updated.into(),
        ]
    },
    describe: Some(|_, value| Ok(describe_stream(&typed(value)))),
    apply: Some(ApplyOps { parse: parse_stream, write: write_stream, after: after_streams }),
    delete: Some(delete_stream),
};

fn parse_stream(document: Document<'_>, namespace: &str) -> Result<Value, DocumentError> {
    let mut stream = document.decode::<ImageStream>().map_err(DocumentError::Yaml)?;
    if stream.metadata.namespace.is_empty() {
        stream.metadata.namespace = namespace.to_owned();
    }
    streams::validate_stream(&stream).map_err(|e| DocumentError::Invalid(e.into()))?;
    Ok(to_value(&stream))
}

fn write_stream(tx: &Tx<'_>, value: Value) -> LibResult<Applied> {
    let stream: ImageStream = typed(&value);
    let before = tx.get(ImageStream::KIND, &stream.metadata.namespace, &stream.metadata.name)?;
    let write = streams::write_stream(tx, stream, &BTreeMap::new())?;
    let verb = match before {
        None => "created",
        Some(before) if before.resource_version.to_string() == write.stream.metadata.resource_version => "unchanged",
        Some(_) => "configured",
    };
    Ok(Applied { namespace: write.stream.metadata.namespace.clone(), name: write.stream.metadata.name.clone(), verb })
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
    let mut out = String::new();
    let field = |out: &mut String, name: &str, value: &str| {
        let _ = writeln!(out, "{:<18}{value}", format!("{name}:"));
    };
    let pairs = |map: &BTreeMap<String, String>| {
        if map.is_empty() {
            "<none>".to_owned()
        } else {
            map.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n                  ")
        }
    };
    field(&mut out, "Name", &stream.metadata.name);
    field(&mut out, "Namespace", &stream.metadata.namespace);
    field(&mut out, "Created", &or_none(&time_text(stream.metadata.creation_timestamp)));
    field(&mut out, "Labels", &pairs(&stream.metadata.labels));
    field(&mut out, "Annotations", &pairs(&stream.metadata.annotations));
    field(&mut out, "Image Repository", &stream.status.docker_image_repository);
    field(&mut out, "Image Lookup", &format!("local={}", stream.spec.lookup_policy.local));
    let mut images: Vec<&str> = stream
        .status
        .tags
        .iter()
        .flat_map(|t| t.items.iter().map(|i| i.image.as_str()))
        .filter(|i| !i.is_empty())
        .collect();
    images.sort_unstable();
    images.dedup();
    field(&mut out, "Unique Images", &images.len().to_string());
    let tags = stream.tag_names();
    field(&mut out, "Tags", &tags.len().to_string());
    for tag in &tags {
        let _ = writeln!(out, "\n{tag}");
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
            None => "no spec tag".into(),
        };
        let _ = writeln!(out, "  {source}");
        if let Some(spec) = spec {
            if spec.reference_policy.kind != "Source" {
                let _ = writeln!(out, "  reference policy: {}", spec.reference_policy.kind);
            }
            if let Some(annotations) = spec.annotations.as_ref().filter(|a| !a.is_empty()) {
                let _ = writeln!(out, "  annotations:");
                for (key, value) in annotations {
                    let _ = writeln!(out, "    {key}={value}");
                }
            }
        }
        let Some(list) = stream.status_tag(tag) else {
            let _ = writeln!(out, "\n  (no image yet)");
            continue;
        };
        for condition in &list.conditions {
            let _ = writeln!(
                out,
                "\n  ! error: Import failed ({}): {}\n      {}",
                condition.reason, condition.message, condition.last_transition_time
            );
        }
        let _ = writeln!(out);
        for (index, item) in list.items.iter().enumerate() {
            let mark = if index == 0 { "*" } else { " " };
            let _ = writeln!(out, "  {mark} {}", item.docker_image_reference);
            let _ = writeln!(out, "      {}", item.created);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// ImageStreamTag.

pub(crate) const IMAGE_STREAM_TAG: Kind = Kind {
    info: IMAGE_STREAM_TAG_KIND,
    columns: &["NAME", "IMAGE REFERENCE", "UPDATED"],
    get: |tx, namespace, name| Ok(to_value(&streams::get_istag(tx, namespace, name)?)),
    list: Some(|tx, namespace| Ok(streams::list_istags(tx, namespace)?.iter().map(to_value).collect())),
    row: |value| {
        let istag: ImageStreamTag = typed(value);
        vec![
            istag.metadata.name.clone(),
            istag.image.docker_image_reference.clone(),
            time_text(istag.metadata.creation_timestamp),
        ]
    },
    describe: Some(|_, value| {
        let istag: ImageStreamTag = typed(value);
        Ok(describe_image(&istag.metadata.name, &istag.image, &istag.metadata.annotations))
    }),
    apply: Some(ApplyOps { parse: parse_istag, write: write_istag, after: after_streams }),
    delete: Some(delete_istag),
};

fn parse_istag(document: Document<'_>, namespace: &str) -> Result<Value, DocumentError> {
    // `image` is what a server computes for the tag (`oc get istag -o yaml` prints it): not input.
    let mut istag = document.with_server_owned(&["image"]).decode::<ImageStreamTag>().map_err(DocumentError::Yaml)?;
    if istag.metadata.namespace.is_empty() {
        istag.metadata.namespace = namespace.to_owned();
    }
    let (stream, tag) =
        s2i_imagestream::names::split_istag_name(&istag.metadata.name).map_err(|e| DocumentError::Invalid(e.into()))?;
    s2i_imagestream::names::validate_stream_name(&istag.metadata.namespace, stream)
        .map_err(|e| DocumentError::Invalid(e.into()))?;
    s2i_imagestream::names::validate_tag(tag).map_err(|e| DocumentError::Invalid(e.into()))?;
    Ok(to_value(&istag))
}

/// `ImageStreamTag` update semantics (§5.1): create the stream if missing;
/// the body's `tag` replaces the spec tag; the spec tag's annotations are the
/// istag's `metadata.annotations`.
fn write_istag(tx: &Tx<'_>, value: Value) -> LibResult<Applied> {
    let istag: ImageStreamTag = typed(&value);
    let (stream_name, tag) = s2i_imagestream::names::split_istag_name(&istag.metadata.name)?;
    let namespace = istag.metadata.namespace.clone();
    let before: Option<ImageStream> = tx.get_as(&namespace, stream_name)?;
    let mut stream = before.clone().unwrap_or_else(|| ImageStream::new(&namespace, stream_name));
    let existing = stream.spec_tag(tag).cloned();
    let mut spec = match (istag.tag, existing) {
        (Some(mut spec), _) => {
            spec.name = tag.to_owned();
            spec
        }
        (None, Some(existing)) => existing,
        (None, None) => {
            return Err(Error::InvalidRequest {
                message: format!("ImageStreamTag {stream_name}:{tag}: {tag} is not a spec tag"),
                help: "give the tag's source in `tag:` (e.g. tag: {from: {kind: DockerImage, name: …}})".into(),
            }
            .into());
        }
    };
    spec.annotations = (!istag.metadata.annotations.is_empty()).then_some(istag.metadata.annotations);
    stream.spec.tags.retain(|t| t.name != tag);
    stream.spec.tags.push(spec);
    stream.metadata.resource_version = istag.metadata.resource_version;
    let write = streams::write_stream(tx, stream, &BTreeMap::new())?;
    let verb = match &before {
        Some(b) if b.metadata.resource_version == write.stream.metadata.resource_version => "unchanged",
        Some(b) if b.spec_tag(tag).is_some() => "configured",
        _ => "created",
    };
    Ok(Applied { namespace, name: istag.metadata.name.clone(), verb })
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
    let mut out = String::new();
    let field = |out: &mut String, name: &str, value: &str| {
        let _ = writeln!(out, "{:<18}{value}", format!("{name}:"));
    };
    field(&mut out, "Name", name);
    field(&mut out, "Image", &image.metadata.name);
    field(&mut out, "Docker Image", &image.docker_image_reference);
    let mut merged = image.metadata.annotations.clone();
    merged.extend(annotations.clone());
    let annotation_lines: Vec<String> = merged.iter().map(|(k, v)| format!("{k}={v}")).collect();
    field(
        &mut out,
        "Annotations",
        &if annotation_lines.is_empty() { "<none>".into() } else { annotation_lines.join("\n                  ") },
    );
    if let Some(metadata) = &image.docker_image_metadata {
        field(&mut out, "Image ID", &or_none(&metadata.id));
        field(&mut out, "Image Created", &or_none(&metadata.created));
        field(&mut out, "Architecture", &or_none(&metadata.architecture));
        if metadata.size > 0 {
            field(&mut out, "Image Size", &format!("{} bytes", metadata.size));
        }
        if let Some(config) = &metadata.config {
            field(&mut out, "User", &or_none(&config.user));
            field(&mut out, "Entrypoint", &or_none(&config.entrypoint.join(" ")));
            field(&mut out, "Command", &or_none(&config.cmd.join(" ")));
            field(&mut out, "Working Dir", &or_none(&config.working_dir));
            let env: Vec<&str> = config.env.iter().map(String::as_str).collect();
            field(
                &mut out,
                "Environment",
                &if env.is_empty() { "<none>".into() } else { env.join("\n                  ") },
            );
            let labels: Vec<String> = config.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            field(
                &mut out,
                "Labels",
                &if labels.is_empty() { "<none>".into() } else { labels.join("\n                  ") },
            );
        }
    }
    if !image.docker_image_layers.is_empty() {
        field(&mut out, "Layers", &image.docker_image_layers.len().to_string());
        for layer in &image.docker_image_layers {
            let _ = writeln!(out, "  {} ({} bytes)", layer.name, layer.size);
        }
    }
    for manifest in &image.docker_image_manifests {
        let _ = writeln!(out, "  {} {}/{}", manifest.digest, manifest.os, manifest.architecture);
    }
    out
}

// ---------------------------------------------------------------------------
// ImageStreamImage and Image.

pub(crate) const IMAGE_STREAM_IMAGE: Kind = Kind {
    info: IMAGE_STREAM_IMAGE_KIND,
    columns: &["NAME", "IMAGE REFERENCE"],
    get: |tx, namespace, name| Ok(to_value(&streams::get_isimage(tx, namespace, name)?)),
    list: None,
    row: |value| {
        let isimage: ImageStreamImage = typed(value);
        vec![isimage.metadata.name.clone(), isimage.image.docker_image_reference.clone()]
    },
    describe: Some(|_, value| {
        let isimage: ImageStreamImage = typed(value);
        Ok(describe_image(&isimage.metadata.name, &isimage.image, &BTreeMap::new()))
    }),
    apply: None,
    delete: None,
};

pub(crate) const IMAGE: Kind = Kind {
    info: Image::INFO,
    columns: &["NAME", "IMAGE REFERENCE"],
    get: |tx, _, name| {
        let image: Image = tx.get_as("", name)?.ok_or_else(|| Error::NotFound {
            kind: Image::KIND.into(),
            namespace: String::new(),
            name: name.into(),
            help: "images are named by digest; list them with `s2i get images`".into(),
        })?;
        Ok(to_value(&image.stripped()))
    },
    list: Some(|tx, _| Ok(tx.list_as::<Image>(None)?.into_iter().map(|i| to_value(&i.stripped())).collect())),
    row: |value| {
        let image: Image = typed(value);
        vec![image.metadata.name.clone(), image.docker_image_reference.clone()]
    },
    describe: Some(|_, value| {
        let image: Image = typed(value);
        Ok(describe_image(&image.metadata.name, &image, &BTreeMap::new()))
    }),
    apply: None,
    delete: Some(delete_image),
};

fn delete_image<'a>(session: &'a Session, name: &'a str) -> BoxFuture<'a, Result<String, Failure>> {
    Box::pin(async move {
        session.context.store.write(|tx| {
            let users: Vec<String> = tx
                .list_as::<ImageStream>(None)?
                .iter()
                .flat_map(|s| {
                    s.status
                        .tags
                        .iter()
                        .filter(|t| t.items.iter().any(|i| i.image == name))
                        .map(move |t| format!("{}/{}:{}", s.metadata.namespace, s.metadata.name, t.tag))
                })
                .collect();
            if !users.is_empty() {
                return Err(Error::InvalidRequest {
                    message: format!("image {name} is in the history of {}", users.join(", ")),
                    help: "delete those tags first (s2i tag -d STREAM:TAG)".into(),
                });
            }
            tx.delete(Image::KIND, "", name)?.ok_or_else(|| Error::NotFound {
                kind: Image::KIND.into(),
                namespace: String::new(),
                name: name.into(),
                help: "list the images with `s2i get images`".into(),
            })?;
            Ok(())
        })?;
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
        eprintln!("{:?}", miette::Report::new(failure.to_error(&format!("{}:{tag}", write.stream.metadata.name))));
        code = 1;
    }
    code
}

/// `s2i tag`.
pub(super) async fn tag(global: &GlobalArgs, args: TagArgs) -> Result<i32, Failure> {
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
    let request = TagRequest {
        source: TagSource::parse(&args.source, args.source_kind, namespace)?,
        destinations: args.destinations.iter().map(|d| StreamTag::parse(d, namespace)).collect::<Result<_, _>>()?,
        alias: args.alias,
        reference: args.reference,
        reference_policy: policy(&args.reference_policy),
        import_mode: args.import_mode.clone(),
        insecure: args.insecure,
        scheduled: args.scheduled,
    };
    let session = Session::open(global, None).await?;
    let outcome = session.image_streams().tag(&request).await?;
    let (outcomes, mirrored) = session.report(outcome);
    let mut code = 0;
    for outcome in &outcomes {
        println!("{}", outcome.message);
        code = code.max(report_failed_imports(&outcome.write));
    }
    super::builds::after_tag_changes(&session).await?;
    mirrored?;
    Ok(code)
}

/// `s2i import-image`.
pub(super) async fn import_image(global: &GlobalArgs, args: ImportImageArgs) -> Result<i32, Failure> {
    let request = ImportRequest {
        destination: StreamTag::parse(&args.destination, &global.namespace)?,
        from: args.from.clone(),
        confirm: args.confirm,
        insecure: args.insecure,
        reference_policy: policy(&args.reference_policy),
        import_mode: args.import_mode.clone(),
        scheduled: args.scheduled,
    };
    let session = Session::open(global, args.dockercfg_path.as_ref()).await?;
    let outcome = session.image_streams().import_image(&request).await?;
    let (write, mirrored) = session.report(outcome);
    let code = report_failed_imports(&write);
    if code == 0 {
        let tag = &request.destination.tag;
        let current = write.stream.latest(tag).map(|i| i.docker_image_reference.clone()).unwrap_or_default();
        println!("imagestream.{GROUP}/{} imported", write.stream.metadata.name);
        println!("{}:{tag} -> {current}", write.stream.metadata.name);
    }
    super::builds::after_tag_changes(&session).await?;
    mirrored?;
    Ok(code)
}

/// After `s2i build --to`: record the built image in the stream.
pub(super) async fn record_build(
    session: &Session,
    destination: &StreamTag,
    image_id: &str,
    labels: &BTreeMap<String, String>,
) -> Result<String, Failure> {
    let outcome = session.image_streams().record_build(destination, image_id, labels).await?;
    let (write, mirrored) = session.report(outcome);
    super::builds::after_tag_changes(session).await?;
    mirrored?;
    let current = write.stream.latest(&destination.tag).map(|i| i.docker_image_reference.clone()).unwrap_or_default();
    Ok(format!("Recorded {current} as {}", destination.display_from(&session.context.namespace)))
}
