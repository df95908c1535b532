//! What `--engine oci` adds around a build: builder and runtime images
//! given by location (`oci:DIR`, `oci-archive:FILE`, `docker-archive:FILE`)
//! or in an engine's store (`docker-daemon:NAME:TAG`, read through the
//! engine that answers at --url / $DOCKER_HOST) are copied into s2i's image
//! store first (`docker://NAME` is NAME, which the backend pulls from its
//! registry by pull policy); and, once the build wrote its
//! outputs (s2i-core does, into s2i's store for the build's tag), what
//! s2i-core's writer leaves to it: a `docker-daemon:NAME` output loaded
//! into the engine that answers at --url / $DOCKER_HOST (this engine has no
//! daemon of its own), and the outputs of a build on an ONBUILD builder.

use s2i_core::{BuildOptions, ContainerRuntime, PullPolicy};
use s2i_oci::transport::{DaemonImage, ImageLocation};
use s2i_runc::OciRuntime;

use crate::cli::GlobalArgs;
use crate::failure::Failure;
use crate::printer::Printer;

/// Where an image argument of an `--engine oci` build comes from.
enum Origin {
    /// A file or directory (`oci:`, `oci-archive:`, `docker-archive:`): copied into the store.
    Location(ImageLocation),
    /// `docker-daemon:`: read out of the engine that answers at --url / $DOCKER_HOST.
    Engine(DaemonImage),
    /// `docker://NAME`: the registry, by pull policy, as a plain name is.
    Registry(String),
}

/// The origin an image argument names, when it names one by transport.
fn origin_of(what: &str, image: &str) -> Result<Option<Origin>, Failure> {
    let transports = ["oci:", "oci-archive:", "docker-archive:", "docker-daemon:", "docker://"];
    if !transports.iter().any(|t| image.starts_with(t)) {
        return Ok(None);
    }
    let location = ImageLocation::parse(image).map_err(|e| {
        Failure::message(
            format!("the {what} {image:?} is not a valid location: {e}"),
            "write oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:NAME:TAG], docker://NAME[:TAG] or \
             docker-daemon:NAME:TAG"
                .into(),
        )
    })?;
    Ok(Some(match location {
        ImageLocation::DockerDaemon(image) => Origin::Engine(image),
        ImageLocation::Registry(name) => Origin::Registry(name.to_string()),
        location => Origin::Location(location),
    }))
}

/// Bring the image `image` (the `what` of the build) into the store when it
/// names a file, a directory or the engine's store; returns the name to
/// build from, and whether it was copied now (which is the pull).
async fn bring_in(
    global: &GlobalArgs,
    oci: &OciRuntime,
    what: &str,
    image: &str,
    printer: &Printer,
) -> Result<Option<(String, bool)>, Failure> {
    let Some(origin) = origin_of(what, image)? else { return Ok(None) };
    let (name, copied) = match origin {
        Origin::Location(location) => {
            let name = oci.import(&location).await?;
            printer.line(&format!("Copied the {what} {location} into s2i's image store as {name}"));
            (name, true)
        }
        Origin::Engine(daemon) => {
            let wanted = match &daemon {
                DaemonImage::Named(name) => name.to_string(),
                DaemonImage::Id(id) => id.to_string(),
            };
            let engine = super::engine::connect_api(global, None).await.map_err(|e| {
                Failure::message(
                    format!("the {what} {image} is in a container engine's store, and none answers: {e}"),
                    "start the engine (or point --url / DOCKER_HOST at it), or save the image to a file \
                     (docker save -o builder.tar NAME) and give docker-archive:builder.tar"
                        .into(),
                )
            })?;
            let archive = engine.export_image(&wanted).await.map_err(|e| {
                Failure::message(
                    format!("cannot read the {what} {image} out of the engine: {e}"),
                    "check the name (docker images lists them)".into(),
                )
            })?;
            let name = oci.import_docker_archive(archive).await?;
            printer.line(&format!("Copied the {what} {image} from the engine into s2i's image store as {name}"));
            (name, true)
        }
        // The pull policy decides, as for a plain name.
        Origin::Registry(name) => (name, false),
    };
    Ok(Some((name, copied)))
}

/// Bring the builder and runtime images that `options` give by location
/// (or in an engine's store) into the store, and build from their names
/// there; `docker://NAME` is NAME, pulled by the pull policy.
pub(super) async fn import_images(
    global: &GlobalArgs,
    oci: &OciRuntime,
    options: &mut BuildOptions,
    printer: &Printer,
) -> Result<(), Failure> {
    if let Some((name, copied)) = bring_in(global, oci, "builder image", &options.builder_image, printer).await? {
        options.builder_image = name;
        // The copy is the pull: --pull-policy always is honoured by it.
        if copied && matches!(options.pull_policy, PullPolicy::Always) {
            options.pull_policy = PullPolicy::IfNotPresent;
        }
    }
    if let Some(image) = options.runtime_image.clone()
        && let Some((name, copied)) = bring_in(global, oci, "runtime image", &image, printer).await?
    {
        options.runtime_image = Some(name);
        if copied && matches!(options.runtime_pull_policy, PullPolicy::Always) {
            options.runtime_pull_policy = PullPolicy::IfNotPresent;
        }
    }
    Ok(())
}

/// Take out of `options` the outputs that s2i-core's writer leaves to this
/// engine: `docker-daemon:NAME` ones, which name Docker's (or Podman's)
/// images where the writer would load into the build's own engine (s2i's
/// store); and, for a builder with ONBUILD triggers (its image is built
/// from a Dockerfile, which the writer does not write), every output, when
/// nothing asks for more than a copy of the image (an epoch, an SBOM,
/// provenance: the writer refuses those with its own error).
pub(super) fn take_outputs(oci: &OciRuntime, options: &mut BuildOptions) -> Result<Vec<ImageLocation>, Failure> {
    let plain_copy = !options.sbom && !options.provenance && options.source_date_epoch.is_none();
    let onbuild = plain_copy
        && !options.outputs.is_empty()
        && oci
            .store()
            .resolve(&options.builder_image)?
            .is_some_and(|builder| builder.config.config.as_ref().is_some_and(|config| !config.on_build.is_empty()));
    let (taken, rest) = std::mem::take(&mut options.outputs)
        .into_iter()
        .partition(|o| onbuild || matches!(o, ImageLocation::DockerDaemon(DaemonImage::Named(_))));
    options.outputs = rest;
    Ok(taken)
}

/// Write the built image `image` of the store to the `outputs` taken by
/// [`take_outputs`]: a `docker-daemon:` one loaded into the API engine.
pub(super) async fn write_taken_outputs(
    global: &GlobalArgs,
    oci: &OciRuntime,
    image: &str,
    outputs: &[ImageLocation],
    printer: &Printer,
) -> Result<(), Failure> {
    for location in outputs {
        match location {
            ImageLocation::DockerDaemon(DaemonImage::Named(name)) => {
                let engine = super::engine::connect_api(global, None).await?;
                let archive = oci.docker_archive(image, vec![name.clone().or_tag("latest").to_string()])?;
                engine.load_image(archive).await.map_err(|e| {
                    Failure::message(
                        format!("cannot load the image into the engine ({location}): {e} (the image is in s2i's image store as {image})"),
                        "check that the engine runs (docker info), or write another output (docker-archive:FILE)".into(),
                    )
                })?;
            }
            _ => oci.export(image, location).await?,
        }
        printer.line(&format!("Wrote {location}"));
    }
    Ok(())
}
