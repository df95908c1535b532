//! Pushing an image the engine has with s2i's registry client, the client
//! of the writer's `docker://` outputs: [`push_engine_image`].
//!
//! For callers that push an image after the build, once it has been
//! checked (a BuildConfig's output is pushed after its post-commit hook):
//! the engine's export of the image is read as a stream (the config exactly
//! as stored, each layer compressed as the writer compresses it, so a layer
//! always gives the same blob), given an OCI manifest as the writer makes
//! one, and pushed as a `docker://` output is: blobs the repository has are
//! not sent, the base layers are mounted from `mount_from`'s repository on
//! the same registry, the SBOM and provenance become referrers. The
//! manifest digest is a function of the image ID alone, so an image s2i
//! wrote reproducibly gets the same digest here as in an `oci:` output.

use std::collections::BTreeMap;
use std::path::PathBuf;

use s2i_oci::archive::{ExportLayers, read_image_export};
use s2i_oci::digest::Digest;
use s2i_oci::image::{ManifestFormat, manifest};
use s2i_oci::layout::OciLayout;
use s2i_oci::registry::push::{BlobOutcome, PushTarget};
use s2i_oci::registry::{RegistryAuth, RegistryClient};
use s2i_oci::spec::{Descriptor, media_type};

use super::write::{blocking, oci_error};
use crate::auth::{AuthSources, CredentialFiles};
use crate::chained::bridge;
use crate::error::{Error, Result};
use crate::events::{EventSink, EventSinkExt};
use crate::exec;
use crate::reference::ImageReference;
use crate::runtime::ContainerRuntime;

/// An image of the engine to push to a registry with s2i's client.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RegistryPush {
    /// The image's ID in the engine (`sha256:…`).
    pub image_id: String,
    /// Where it goes: `registry/repository:tag`.
    pub target: ImageReference,
    /// Credentials looked up first (e.g. a build's push secret), before the
    /// files `docker login` and `podman login` write.
    pub credentials: Option<CredentialFiles>,
    /// An image whose repository on the same registry may hold the base
    /// layers (the builder): they are mounted from there, not sent.
    pub mount_from: Option<String>,
    /// The SPDX document to attach as a referrer.
    pub sbom: Option<String>,
    /// The provenance statement to attach as a referrer.
    pub provenance: Option<String>,
    /// Where the export is spooled (a directory removed afterwards is made in it).
    pub work_dir: PathBuf,
    /// Allow HTTPS without verification and plain HTTP (loopback registries always are).
    pub insecure: bool,
}

impl RegistryPush {
    /// Push image `image_id` of the engine to `target`, spooling in `work_dir`.
    pub fn new(image_id: impl Into<String>, target: ImageReference, work_dir: impl Into<PathBuf>) -> Self {
        Self {
            image_id: image_id.into(),
            target,
            credentials: None,
            mount_from: None,
            sbom: None,
            provenance: None,
            work_dir: work_dir.into(),
            insecure: false,
        }
    }
}

/// What a push stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegistryPushed {
    /// The manifest digest the registry stored (`sha256:…`).
    pub digest: String,
    /// The referrers' manifest digests (SBOM, provenance).
    pub referrers: Vec<String>,
    /// How many blobs the image has, and how many were sent.
    pub blobs: usize,
    /// How many were uploaded (the others were there, or mounted).
    pub uploaded: usize,
}

/// Push an image of the engine with s2i's registry client, after the build
/// (a BuildConfig's output once its post-commit hook passed): the engine's
/// export of the image, each layer compressed as the image writer
/// compresses it, under an OCI manifest as the writer makes one — so an
/// image written reproducibly gets the digest its `oci:` output has —
/// pushed as a `docker://` output is (blobs the repository has not sent,
/// base layers mounted from `mount_from`'s repository, SBOM and provenance
/// as referrers). Progress (one line per blob) goes to `events`.
pub async fn push_engine_image(
    runtime: &dyn ContainerRuntime,
    events: &dyn EventSink,
    push: &RegistryPush,
) -> Result<RegistryPushed> {
    let shown = format!("docker://{}", push.target);
    let id = Digest::parse(&push.image_id)
        .map_err(oci_error(format!("read the image ID {}", push.image_id), "give the engine's image ID (sha256:…)"))?;
    let scratch = tempfile::Builder::new().prefix("s2i-push-").tempdir_in(&push.work_dir).map_err(|e| {
        Error::io("make the push's working directory", &push.work_dir, "check that it is writable and has room", e)
    })?;
    let layout_dir = scratch.path().join("image");
    let layout = blocking(move || OciLayout::create(layout_dir)).await?.map_err(oci_error(
        "make the push's working layout",
        "check that the working directory is writable and has room",
    ))?;
    let stream = runtime
        .export_image(&push.image_id)
        .await
        .map_err(|e| Error::runtime(format!("export the image {}", push.image_id), e))?;
    let mut reader = bridge(stream);
    let spool = layout.clone();
    let manifest_descriptor = blocking(move || {
        let exported = read_image_export(&mut reader, &id, ExportLayers::Gzip(&spool))?;
        let layers = exported.layer_descriptors().unwrap_or_default();
        let config = Descriptor::of(media_type::OCI_CONFIG, &exported.config);
        let (bytes, descriptor, _) = manifest(config, &layers, ManifestFormat::Oci, BTreeMap::new())?;
        spool.add_bytes(&exported.config)?;
        spool.add_bytes(&bytes)?;
        Ok(descriptor)
    })
    .await?
    .map_err(oci_error(
        format!("read the export of {}", push.image_id),
        "check that the engine still has the image and that the disk has room",
    ))?;

    let client = registry_client(push.credentials.clone())?;
    let target = push.target.normalized();
    let registry = target.registry_or_default().to_owned();
    let repository = target.repository.clone();
    let tag = target.tag.clone().unwrap_or_else(|| "latest".to_owned());
    let insecure = push.insecure;
    let mount_from = push
        .mount_from
        .as_deref()
        .and_then(|name| ImageReference::parse(name).ok())
        .map(|b| b.normalized())
        .filter(|b| b.registry_or_default() == registry)
        .map(|b| b.repository);
    let mut artifacts: Vec<(&'static str, Vec<u8>)> = Vec::new();
    if let Some(sbom) = &push.sbom {
        artifacts.push((media_type::SPDX_JSON, sbom.clone().into_bytes()));
    }
    if let Some(statement) = &push.provenance {
        artifacts.push((media_type::IN_TOTO_JSON, statement.clone().into_bytes()));
    }
    let pushed = tokio::task::spawn_blocking(move || {
        let target = PushTarget { registry: &registry, repository: &repository, tag: Some(&tag), insecure };
        let mut lines = Vec::new();
        let mut progress = |blob: &s2i_oci::registry::push::BlobPushed| {
            let what = match &blob.outcome {
                BlobOutcome::Present => "already there".to_owned(),
                BlobOutcome::Mounted(from) => format!("mounted from {from}"),
                BlobOutcome::Uploaded => format!("uploaded ({} bytes)", blob.size),
            };
            lines.push(format!("Blob {}: {what}", blob.digest));
        };
        let pushed = client.push_image(&layout, &manifest_descriptor, &target, mount_from.as_deref(), &mut progress)?;
        let mut referrers = Vec::new();
        for (kind, bytes) in &artifacts {
            referrers
                .push(client.push_referrer(&target, &manifest_descriptor, kind, bytes, Default::default())?.digest);
        }
        drop(layout);
        Ok::<_, s2i_oci::registry::RegistryError>((pushed, referrers, lines))
    })
    .await
    .map_err(exec::join_error)?;
    drop(scratch);
    let (pushed, referrers, lines) = pushed.map_err(|e| push_error(&shown, &e))?;
    for line in lines {
        events.detail(line);
    }
    let uploaded = pushed.blobs.iter().filter(|b| b.outcome == BlobOutcome::Uploaded).count();
    events.detail(format!("{uploaded} of {} blobs sent to {shown}", pushed.blobs.len()));
    Ok(RegistryPushed {
        digest: pushed.digest.to_string(),
        referrers: referrers.iter().map(ToString::to_string).collect(),
        blobs: pushed.blobs.len(),
        uploaded,
    })
}

/// A registry failure of output `shown`, with what to do.
pub(crate) fn push_error(shown: &str, e: &s2i_oci::registry::RegistryError) -> Error {
    Error::OutputFailed {
        output: shown.to_owned(),
        message: e.message.clone(),
        help: match e.kind {
            s2i_oci::registry::RegistryErrorKind::Unauthorized => format!(
                "log in to {} (`docker login` or `podman login`), or give credentials that have an entry for it",
                e.registry
            ),
            s2i_oci::registry::RegistryErrorKind::Unreachable => {
                format!("check that the registry {} runs and can be reached from here", e.registry)
            }
            _ => "check the registry's log; the image is built, so pushing it again sends the same image".into(),
        },
    }
}

/// A registry client: `first`'s credentials, else those of the files
/// `s2i_core::auth` reads (`REGISTRY_AUTH_FILE`, Podman's, Docker's).
fn registry_client(first: Option<CredentialFiles>) -> Result<RegistryClient> {
    let files = CredentialFiles::load(&AuthSources::from_env())?;
    Ok(RegistryClient::new(move |registry: &str| {
        let given = match &first {
            Some(first) => first.credentials_for_registry(registry).map_err(|e| e.to_string())?,
            None => None,
        };
        let found = match given {
            Some(found) => Some(found),
            None => files.credentials_for_registry(registry).map_err(|e| e.to_string())?,
        };
        Ok(found.map(|c| RegistryAuth { username: c.username, password: c.password, identity_token: c.identity_token }))
    }))
}
