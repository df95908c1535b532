//! What `--engine oci` adds around a build: builder and runtime images
//! given by location (`oci:DIR`, `oci-archive:FILE`, `docker-archive:FILE`)
//! are copied into s2i's image store first; and, once the build wrote its
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

/// The location an image argument names, when it names one by transport.
fn location_of(oci: &OciRuntime, what: &str, image: &str) -> Result<Option<ImageLocation>, Failure> {
    let transports = ["oci:", "oci-archive:", "docker-archive:", "docker-daemon:", "docker://"];
    if !transports.iter().any(|t| image.starts_with(t)) {
        return Ok(None);
    }
    let location = ImageLocation::parse(image).map_err(|e| {
        Failure::message(
            format!("the {what} {image:?} is not a valid location: {e}"),
            "write oci:DIR[:REF], oci-archive:FILE[:REF] or docker-archive:FILE[:NAME:TAG]".into(),
        )
    })?;
    match &location {
        ImageLocation::Oci { .. } | ImageLocation::OciArchive { .. } | ImageLocation::DockerArchive { .. } => {
            Ok(Some(location))
        }
        ImageLocation::DockerDaemon(_) => Err(Failure::message(
            format!("--engine oci reads no engine's images ({what} {image})"),
            "save it from the engine (docker save -o builder.tar NAME) and give docker-archive:builder.tar".into(),
        )),
        ImageLocation::Registry(name) => Err(Failure::message(
            format!("--engine oci does not pull from registries yet ({what} {image})"),
            format!(
                "copy it into s2i's image store first: skopeo copy docker://{name} oci:{}:{name}",
                oci.store().path().display()
            ),
        )),
    }
}

/// Copy the builder and runtime images that `options` give by location
/// into the store, and build from their names there.
pub(super) async fn import_images(
    oci: &OciRuntime,
    options: &mut BuildOptions,
    printer: &Printer,
) -> Result<(), Failure> {
    if let Some(location) = location_of(oci, "builder image", &options.builder_image)? {
        let name = oci.import(&location).await?;
        printer.line(&format!("Copied the builder image {location} into s2i's image store as {name}"));
        options.builder_image = name;
        // The copy is the pull: --pull-policy always is honoured by it.
        if matches!(options.pull_policy, PullPolicy::Always) {
            options.pull_policy = PullPolicy::IfNotPresent;
        }
    }
    if let Some(image) = options.runtime_image.clone()
        && let Some(location) = location_of(oci, "runtime image", &image)?
    {
        let name = oci.import(&location).await?;
        printer.line(&format!("Copied the runtime image {location} into s2i's image store as {name}"));
        options.runtime_image = Some(name);
        if matches!(options.runtime_pull_policy, PullPolicy::Always) {
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
