//! What `--engine oci` adds around a build: builder and runtime images
//! given by location (`oci:DIR`, `oci-archive:FILE`, `docker-archive:FILE`)
//! are copied into s2i's image store first, and the result is written to
//! the `--output` locations afterwards (a `docker-daemon:` one is loaded
//! into the engine that answers at --url / $DOCKER_HOST).

use s2i_core::{BuildOptions, PullPolicy};
use s2i_oci::transport::{DaemonImage, ImageLocation};
use s2i_runc::OciRuntime;

use super::Failure;
use crate::cli::GlobalArgs;
use crate::printer::Printer;

impl From<s2i_runc::Error> for Failure {
    fn from(error: s2i_runc::Error) -> Self {
        Self::new(error, 1)
    }
}

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

/// `--output` locations, checked before the build: without `--engine oci`
/// they are refused (never silently dropped), and so are those this engine
/// cannot write yet.
pub(super) fn check_outputs(daemonless: bool, outputs: &[ImageLocation]) -> Result<(), Failure> {
    for location in outputs {
        if !daemonless {
            return Err(Failure::message(
                format!("--output {location} needs --engine oci"),
                "build with --engine oci (the image is then written by s2i), or leave --output out and use the engine's own tools (docker save, skopeo copy docker-daemon:…)".into(),
            ));
        }
        match location {
            ImageLocation::DockerDaemon(DaemonImage::Id(_)) => {
                return Err(Failure::message(
                    format!("cannot write --output {location}: an image ID names an image to read"),
                    "name the image to load: docker-daemon:NAME:TAG".into(),
                ));
            }
            ImageLocation::Registry(name) => {
                return Err(Failure::message(
                    format!("--engine oci does not push to registries yet (--output {location})"),
                    format!("write oci:DIR and copy it with skopeo copy oci:DIR docker://{name}"),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Write the built image `image` of the store to every `--output` location.
pub(super) async fn write_outputs(
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
                engine.load_archive(archive).await.map_err(|e| {
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
