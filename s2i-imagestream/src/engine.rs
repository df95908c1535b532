//! The local container engine as the home of streams without a registry: the
//! engine repository of stream `<namespace>/<name>` is `<namespace>/<name>`,
//! and its tags follow the stream's (see [`crate::mirror`]).
//!
//! Everything here goes through [`s2i_core::runtime::ContainerRuntime`]; this
//! crate never names a particular engine.

use s2i_core::reference::ImageReference;
use s2i_core::runtime::{ContainerRuntime, ImageInfo, RuntimeError, RuntimeErrorKind};

use crate::error::{Error, Result};
use crate::streams::ResolvedImage;
use crate::types::{API_VERSION, DockerConfig, DockerImageMetadata, Image, TagEvent};
use s2i_store::{ObjectMeta, Resource};

/// Look `name` (a pull spec or an image ID) up in the engine; `None` when the engine does not have it.
///
/// The image's digest is its registry digest for `name`'s repository when the
/// engine has one (the image was pulled or pushed), else its image ID; its
/// pull spec is `<repository>@<digest>` with `repository` the registry's, or
/// `fallback_repository` (the destination stream's) for an image that only
/// exists in the engine.
pub(crate) async fn resolve_in_engine(
    runtime: &dyn ContainerRuntime,
    name: &str,
    fallback_repository: &str,
) -> Result<Option<ResolvedImage>> {
    let info = runtime.inspect_image(name).await.map_err(|e| engine_error(&format!("inspect {name}"), &e))?;
    Ok(info.map(|info| resolved_from_info(&info, name, fallback_repository)))
}

/// Describe an inspected engine image for a stream; see [`resolve_in_engine`].
pub(crate) fn resolved_from_info(info: &ImageInfo, name: &str, fallback_repository: &str) -> ResolvedImage {
    let wanted = if name.starts_with("sha256:") { None } else { ImageReference::parse(name).ok() };
    let registry_digest = wanted.as_ref().and_then(|wanted| {
        let wanted_name = wanted.normalized().name();
        info.repo_digests.iter().find_map(|entry| {
            let reference = ImageReference::parse(entry).ok()?;
            let digest = reference.digest.clone()?;
            let same_repository = reference.normalized().name() == wanted_name;
            let same_digest = wanted.digest.as_deref().is_none_or(|d| d == digest);
            (same_repository && same_digest).then(|| (reference.name(), digest))
        })
    });
    let (digest, reference) = match registry_digest {
        Some((repository, digest)) => (digest.clone(), format!("{repository}@{digest}")),
        None => (info.id.clone(), format!("{fallback_repository}@{}", info.id)),
    };
    let config = DockerConfig {
        user: info.user.clone(),
        env: info.env.clone(),
        cmd: info.cmd.clone(),
        working_dir: info.working_dir.clone(),
        entrypoint: info.entrypoint.clone(),
        on_build: info.on_build.clone(),
        labels: info.labels.clone(),
    };
    let image = Image {
        api_version: API_VERSION.into(),
        kind: Image::KIND.into(),
        metadata: ObjectMeta::named("", digest),
        docker_image_reference: reference.clone(),
        docker_image_metadata: Some(DockerImageMetadata {
            kind: "DockerImage".into(),
            api_version: "1.0".into(),
            id: info.id.clone(),
            config: Some(config),
            size: info.size,
            ..DockerImageMetadata::default()
        }),
        docker_image_metadata_version: "1.0".into(),
        ..Image::default()
    };
    ResolvedImage { image, docker_image_reference: reference }
}

/// What following one tag change in the engine did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Followed {
    /// The engine tag now points at the image, or is gone.
    Done(String),
    /// The engine cannot follow (the image is nowhere to be had); the stale tag was removed.
    Warning(String),
}

/// Make the engine tag `<namespace>/<name>:<tag>` point at `desired` (or
/// remove it). `engine_id` is the ID the engine knows the desired image by,
/// when its [`Image`] recorded one.
///
/// Only an unreachable engine is an error (the change is then retried by the
/// next run); an image the engine cannot get is a warning, so that one bad
/// tag never blocks the others.
pub(crate) async fn follow(
    runtime: &dyn ContainerRuntime,
    namespace: &str,
    name: &str,
    tag: &str,
    desired: Option<&TagEvent>,
    engine_id: Option<&str>,
) -> Result<Followed> {
    let repository = format!("{namespace}/{name}");
    let engine_tag = format!("{repository}:{tag}");
    let Some(item) = desired else {
        return match runtime.remove_image(&engine_tag).await {
            Ok(()) => Ok(Followed::Done(format!("removed {engine_tag}"))),
            Err(e) if e.is_not_found() => Ok(Followed::Done(format!("{engine_tag} was already absent"))),
            Err(e) => unreachable_or_warning(&format!("remove {engine_tag}"), e),
        };
    };
    // The engine knows an image by its ID (recorded with the image): tag it
    // by ID in one call, which is the usual case.
    if let Some(id) = engine_id {
        match runtime.tag_image(id, &repository, tag).await {
            Ok(()) => return Ok(Followed::Done(format!("{engine_tag} -> {id}"))),
            Err(e) if e.is_not_found() => {}
            Err(e) => return unreachable_or_warning(&format!("tag {engine_tag}"), e),
        }
    }
    // Otherwise by its pull spec, pulling it when it names a registry.
    let mut found = match runtime.inspect_image(&item.docker_image_reference).await {
        Ok(info) => info.map(|info| info.id),
        Err(e) if e.kind == RuntimeErrorKind::Unreachable => return Err(engine_error("inspect images", &e)),
        Err(_) => None,
    };
    let pull_spec = &item.docker_image_reference;
    if found.is_none() && ImageReference::parse(pull_spec).is_ok_and(|r| r.registry.is_some()) {
        match runtime.pull_image(pull_spec, &|_| {}).await {
            Ok(()) => found = runtime.inspect_image(pull_spec).await.ok().flatten().map(|info| info.id),
            Err(e) if e.kind == RuntimeErrorKind::Unreachable => {
                return Err(engine_error(&format!("pull {pull_spec}"), &e));
            }
            Err(e) => {
                return stale(runtime, &engine_tag, format!("cannot pull {pull_spec}: {e}")).await;
            }
        }
    }
    let Some(id) = found else {
        return stale(runtime, &engine_tag, format!("the engine does not have {pull_spec}")).await;
    };
    match runtime.tag_image(&id, &repository, tag).await {
        Ok(()) => Ok(Followed::Done(format!("{engine_tag} -> {id}"))),
        Err(e) => unreachable_or_warning(&format!("tag {engine_tag}"), e),
    }
}

/// The stream's image is not in the engine: remove the engine tag rather than leave it pointing elsewhere.
async fn stale(runtime: &dyn ContainerRuntime, engine_tag: &str, why: String) -> Result<Followed> {
    match runtime.remove_image(engine_tag).await {
        Ok(()) => Ok(Followed::Warning(format!(
            "{why}; removed the engine tag {engine_tag}, which pointed at an older image"
        ))),
        Err(e) if e.is_not_found() => Ok(Followed::Warning(format!("{why}; the engine has no tag {engine_tag}"))),
        Err(e) => unreachable_or_warning(&format!("remove {engine_tag}"), e),
    }
}

fn unreachable_or_warning(operation: &str, e: RuntimeError) -> Result<Followed> {
    if e.kind == RuntimeErrorKind::Unreachable {
        Err(engine_error(operation, &e))
    } else {
        Ok(Followed::Warning(format!("cannot {operation}: {e}")))
    }
}

/// What to do when the engine could not follow a change the store kept.
pub(crate) const CATCH_UP_HELP: &str = "start the container engine and run the operation again; the store keeps the \
                                        change and the engine's tags catch up when the changes are followed next";

/// An engine failure, with what to do about it.
pub(crate) fn engine_error(operation: &str, e: &RuntimeError) -> Error {
    Error::Engine {
        operation: operation.into(),
        message: e.message.clone(),
        change_kept: true,
        help: CATCH_UP_HELP.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str, repo_digests: &[&str]) -> ImageInfo {
        ImageInfo {
            id: id.into(),
            repo_digests: repo_digests.iter().map(|s| s.to_string()).collect(),
            ..ImageInfo::default()
        }
    }

    const ID: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const D1: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    const D2: &str = "sha256:3333333333333333333333333333333333333333333333333333333333333333";

    #[test]
    fn engine_only_images_are_named_by_id_in_the_stream_repository() {
        let r = resolved_from_info(&info(ID, &[]), "my-app:latest", "dev/app");
        assert_eq!(r.image.metadata.name, ID);
        assert_eq!(r.docker_image_reference, format!("dev/app@{ID}"));
        assert_eq!(r.image.engine_id(), Some(ID));
        let r = resolved_from_info(&info(ID, &[]), ID, "dev/app");
        assert_eq!(r.docker_image_reference, format!("dev/app@{ID}"));
    }

    #[test]
    fn registry_digests_of_the_same_repository_win() {
        let digests = [&*format!("quay.io/other/x@{D1}"), &*format!("127.0.0.1:5000/team/app@{D2}")];
        let r = resolved_from_info(&info(ID, &digests), "127.0.0.1:5000/team/app:1", "dev/app");
        assert_eq!(r.image.metadata.name, D2);
        assert_eq!(r.docker_image_reference, format!("127.0.0.1:5000/team/app@{D2}"));
        assert_eq!(r.image.engine_id(), Some(ID), "the engine ID is kept to find the image again");
        let hub = [&*format!("busybox@{D1}")];
        let r = resolved_from_info(&info(ID, &hub), "docker.io/library/busybox:latest", "dev/app");
        assert_eq!(r.image.metadata.name, D1, "Docker Hub names compare normalised");
    }
}
