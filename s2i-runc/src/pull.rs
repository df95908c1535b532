//! Images between s2i's image store and registries, by s2i-oci's registry
//! client: a pull copies the manifest (this machine's, from an index), the
//! config and the layers the store lacks — a layer the store has is not
//! fetched again, so pulling an image whose base is already there moves
//! only what differs, and pulling the same image again moves only its
//! manifest. Layers stream from the registry into the store, checked
//! against their digests. A push sends what the registry lacks (`HEAD`
//! first) and then the manifest, exactly as stored.
//!
//! Credentials come from the caller (a build's pull or push secret), else
//! from the files `s2i_core::auth` reads (`docker login`, `podman login`,
//! credential helpers). Registries on loopback addresses are reached over
//! plain HTTP too, as engines do.

use std::path::PathBuf;

use s2i_core::auth::{AuthSources, CredentialFiles, RegistryCredentials};
use s2i_core::reference::ImageReference;
use s2i_core::runtime::PullProgress;
use s2i_oci::digest::Digest;
use s2i_oci::registry::push::{BlobOutcome, PushTarget};
use s2i_oci::registry::{RegistryAuth, RegistryClient, RegistryError, RegistryErrorKind};
use s2i_oci::spec::{self, ImageIndex, ImageManifest, media_type};

use crate::error::{Error, Result};
use crate::store::{ImageStore, StoredImage, short_name};

/// Largest image config accepted.
const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// Whose credentials a registry is asked with.
#[derive(Debug, Clone)]
pub(crate) enum CredentialSource {
    /// The files `docker login` and `podman login` write (and their
    /// credential helpers); `explicit` is looked at first (`--dockercfg-path`).
    Files { explicit: Option<PathBuf> },
    /// These, for the image's registry (a build's pull or push secret).
    Given(RegistryCredentials),
}

impl CredentialSource {
    /// A registry client asking these credentials.
    pub(crate) fn client(&self) -> RegistryClient {
        let auth = |c: RegistryCredentials| RegistryAuth {
            username: c.username,
            password: c.password,
            identity_token: c.identity_token,
        };
        match self {
            Self::Files { explicit } => {
                let sources = AuthSources { explicit: explicit.clone(), ..AuthSources::from_env() };
                // A file that cannot be read matters only to a registry that wants credentials
                // (as on the engines): the client asks only when the registry does.
                let files = CredentialFiles::load(&sources).map_err(|e| e.to_string());
                RegistryClient::new(move |registry: &str| match &files {
                    Ok(files) => Ok(files.credentials_for_registry(registry).map_err(|e| e.to_string())?.map(auth)),
                    Err(e) => Err(e.clone()),
                })
            }
            Self::Given(credentials) => {
                let credentials = credentials.clone();
                RegistryClient::new(move |_: &str| Ok(Some(auth(credentials.clone()))))
            }
        }
    }
}

/// The registry, repository and tag or digest of an image name, with Docker Hub's defaults filled in.
struct Remote {
    registry: String,
    repository: String,
    /// The tag or digest to ask for.
    reference: String,
}

fn remote(image: &str) -> Result<(ImageReference, Remote)> {
    let parsed = ImageReference::parse(image).map_err(|_| Error::InvalidName { name: image.to_owned() })?;
    let full = parsed.normalized();
    let remote = Remote {
        registry: full.registry_or_default().to_owned(),
        repository: full.repository.clone(),
        reference: full.digest.clone().or_else(|| full.tag.clone()).unwrap_or_else(|| "latest".to_owned()),
    };
    Ok((parsed, remote))
}

/// A registry failure about `image`, with what to do about it.
fn registry_error(image: &str, pushing: bool) -> impl FnOnce(RegistryError) -> Error + '_ {
    move |e| {
        let registry = e.registry.clone();
        let help = match e.kind {
            RegistryErrorKind::Unauthorized => format!(
                "log in to {registry} (`podman login {registry}` or `docker login {registry}`), or name a credentials \
                 file that has an entry for it with --dockercfg-path or REGISTRY_AUTH_FILE"
            ),
            RegistryErrorKind::NotFound if !pushing => format!(
                "check the name and tag: {registry} has no such image (`skopeo inspect docker://{image}` shows what \
                 it has)"
            ),
            RegistryErrorKind::Unreachable => {
                format!("check that the registry {registry} runs and that this machine reaches it")
            }
            _ => format!("check the registry {registry} and the image name; then try again"),
        };
        Error::Registry { image: image.to_owned(), kind: e.kind, message: e.to_string(), help }
    }
}

fn damaged(image: &str, reason: String) -> Error {
    Error::Registry {
        image: image.to_owned(),
        kind: RegistryErrorKind::Other,
        message: reason,
        help: "the registry served something else than it lists; push the image again".to_owned(),
    }
}

impl ImageStore {
    /// Copy `image` (a name that resolves to a registry, `docker.io` by
    /// default) from its registry into the store under that name (unnamed
    /// when it names a digest); `progress` hears of each layer.
    pub fn pull(
        &self,
        client: &RegistryClient,
        image: &str,
        progress: &mut dyn FnMut(PullProgress),
    ) -> Result<StoredImage> {
        let (parsed, remote) = remote(image)?;
        let Remote { registry, repository, reference } = &remote;
        let fail = || registry_error(image, false);
        let mut manifest = client.get_manifest(registry, repository, reference, false).map_err(fail())?;
        // Pulled by the digest of an index: the image found by that digest is this platform's.
        let index_digest = (parsed.digest.is_some() && manifest.is_index()).then(|| manifest.digest.clone());
        if manifest.is_index() {
            let index: ImageIndex = spec::from_json(&manifest.bytes, &format!("the index of {image}"))
                .map_err(|e| damaged(image, e.to_string()))?;
            let chosen = crate::transfer::this_platforms_manifest(index, image, "name an image for this machine")?;
            manifest = client.get_manifest(registry, repository, &chosen.digest.to_string(), false).map_err(fail())?;
        }
        if !matches!(manifest.media_type.as_str(), media_type::OCI_MANIFEST | media_type::DOCKER_MANIFEST) {
            return Err(Error::Unsupported {
                what: format!("{image}, a manifest of type {:?},", manifest.media_type),
                help: "name an image with an OCI or Docker schema 2 manifest".to_owned(),
            });
        }
        let document: ImageManifest = spec::from_json(&manifest.bytes, &format!("the manifest of {image}"))
            .map_err(|e| damaged(image, e.to_string()))?;
        let _writing = self.writing_blobs()?;
        if !self.layout().has_blob(&document.config.digest) {
            let config = client
                .get_blob(registry, repository, &document.config.digest.to_string(), false, MAX_CONFIG_BYTES)
                .map_err(fail())?;
            self.layout().add_bytes(&config).map_err(|e| self.store_error(e))?;
        }
        for layer in &document.layers {
            let id = Some(layer.digest.hex()[..12].to_owned());
            if self.layout().has_blob(&layer.digest) {
                progress(PullProgress { id, status: "Already exists".into(), current: None, total: None });
                continue;
            }
            progress(PullProgress {
                id: id.clone(),
                status: "Downloading".into(),
                current: Some(0),
                total: Some(layer.size),
            });
            let mut body = client.open_blob(registry, repository, &layer.digest.to_string(), false).map_err(fail())?;
            let (digest, size): (Digest, u64) = self.layout().add_blob(&mut body).map_err(|e| Error::Registry {
                image: image.to_owned(),
                kind: RegistryErrorKind::Other,
                message: format!("cannot copy the layer {} from {registry}: {e}", layer.digest),
                help: format!("check the free space of {}, and that {registry} still answers", self.path().display()),
            })?;
            if digest != layer.digest {
                return Err(damaged(image, format!("the layer {} has the digest {digest}", layer.digest)));
            }
            progress(PullProgress { id, status: "Pull complete".into(), current: Some(size), total: Some(size) });
        }
        let names: Vec<String> = match parsed.digest {
            Some(_) => Vec::new(),
            None => short_name(image).into_iter().collect(),
        };
        let stored = self.add_manifest(&manifest.bytes, &manifest.media_type, &names)?;
        if let Some(index_digest) = index_digest {
            let mut entry = stored.manifest.clone();
            entry.annotations.insert(crate::store::INDEX_DIGEST.to_owned(), index_digest);
            let _lock = self.lock("index", true)?;
            self.layout().set_reference(&entry, None).map_err(|e| self.store_error(e))?;
        }
        progress(PullProgress { id: None, status: format!("Digest: {}", manifest.digest), current: None, total: None });
        Ok(stored)
    }

    /// Push the image the store names `image` to its registry under that
    /// name; returns the manifest's digest. `progress` hears of each blob.
    pub fn push(&self, client: &RegistryClient, image: &str, progress: &mut dyn FnMut(PullProgress)) -> Result<Digest> {
        let (parsed, remote) = remote(image)?;
        if parsed.digest.is_some() {
            return Err(Error::InvalidName { name: image.to_owned() });
        }
        let stored = self.resolve(image)?.ok_or_else(|| Error::ImageNotFound { image: image.to_owned() })?;
        let target = PushTarget {
            registry: &remote.registry,
            repository: &remote.repository,
            tag: Some(&remote.reference),
            insecure: false,
        };
        let mut report = |blob: &s2i_oci::registry::push::BlobPushed| {
            let status = match &blob.outcome {
                BlobOutcome::Present => "Layer already exists".to_owned(),
                BlobOutcome::Mounted(from) => format!("Mounted from {from}"),
                BlobOutcome::Uploaded => "Pushed".to_owned(),
            };
            progress(PullProgress {
                id: Some(blob.digest.hex()[..12].to_owned()),
                status,
                current: Some(blob.size),
                total: Some(blob.size),
            });
        };
        let pushed = client
            .push_image(self.layout(), &stored.manifest, &target, None, &mut report)
            .map_err(registry_error(image, true))?;
        progress(PullProgress {
            id: None,
            status: format!("{}: digest: {} size: {}", remote.reference, pushed.digest, stored.manifest.size),
            current: None,
            total: None,
        });
        Ok(pushed.digest)
    }

    fn store_error(&self, source: s2i_oci::Error) -> Error {
        Error::Store { path: self.path().to_owned(), source: Box::new(source) }
    }
}

/// Pulls and pushes off the async threads, their progress relayed as it comes.
impl crate::OciRuntime {
    /// Pull `image` into the store with `credentials`.
    pub(crate) async fn pull_with(
        &self,
        image: &str,
        credentials: CredentialSource,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<()> {
        let store = self.store().clone();
        let image = image.to_owned();
        relay(progress, move |report| {
            let client = credentials.client();
            store.pull(&client, &image, report).map(drop)
        })
        .await
    }

    /// Push `image` of the store with `credentials`; the digest the registry stored.
    pub(crate) async fn push_with(
        &self,
        image: &str,
        credentials: CredentialSource,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<Digest> {
        let store = self.store().clone();
        let image = image.to_owned();
        relay(progress, move |report| {
            let client = credentials.client();
            store.push(&client, &image, report)
        })
        .await
    }
}

/// Run `work` on the blocking pool, passing the progress it reports to `progress` meanwhile.
async fn relay<T: Send + 'static>(
    progress: &(dyn Fn(PullProgress) + Send + Sync),
    work: impl FnOnce(&mut dyn FnMut(PullProgress)) -> Result<T> + Send + 'static,
) -> Result<T> {
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::task::spawn_blocking(move || {
        let mut report = |step: PullProgress| {
            let _ = sender.send(step);
        };
        work(&mut report)
    });
    while let Some(step) = receiver.recv().await {
        progress(step);
    }
    task.await
        .map_err(|e| Error::Io { action: "copy an image".into(), source: std::io::Error::other(e.to_string()) })?
}
