//! Images into and out of the store, by transport (`oci:DIR[:REF]`,
//! `oci-archive:FILE[:REF]`, `docker-archive:FILE[:NAME]`), written and
//! read by `s2i-oci`. A `docker-archive` keeps the image's config as it is,
//! so an image saved from an engine keeps its ID; its layers are stored
//! gzip-compressed. Registries are reached by `pull.rs`; an engine's image
//! comes in as the `docker-archive` stream it exports, read by the caller.

use std::io::Read;
use std::path::Path;

use s2i_oci::archive::{
    ArchiveLayer, DockerArchive, DockerArchiveImage, OciArchive, write_docker_archive, write_file_atomically,
    write_oci_archive,
};
use s2i_oci::digest::Digest;
use s2i_oci::layout::OciLayout;
use s2i_oci::spec::{self, Descriptor, ImageIndex, ImageManifest, Platform, media_type};
use s2i_oci::transport::{ArchiveImage, ImageLocation};

use crate::error::{Error, Result};
use crate::store::{ImageStore, StoredImage, short_name};

fn image_error(action: String, help: &str) -> impl FnOnce(s2i_oci::Error) -> Error + '_ {
    move |source| Error::Image { action, help: help.to_owned(), source: Box::new(source) }
}

const READ_HELP: &str = "check the location and that it holds an image (skopeo inspect LOCATION reads it)";
const WRITE_HELP: &str = "check that the destination is writable and has room";

/// This machine's platform, as image indexes name it.
fn this_platform() -> (&'static str, &'static str) {
    let architecture = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64le",
        other => other,
    };
    ("linux", architecture)
}

/// The entry of `index` made for this machine, else an error that names the
/// image (`what`), the platform it lacks and the fix (`help`).
pub(crate) fn this_platforms_manifest(index: ImageIndex, what: &str, help: &str) -> Result<Descriptor> {
    let (os, architecture) = this_platform();
    index
        .manifests
        .into_iter()
        .find(|m| m.platform.as_ref().is_some_and(|p| p.os == os && p.architecture == architecture))
        .ok_or_else(|| Error::Unsupported {
            what: format!("{what}, an index without a {os}/{architecture} image,"),
            help: help.to_owned(),
        })
}

impl ImageStore {
    /// Copy the image at `location` into the store, named `name` (else by
    /// the names the location gives it); returns it.
    pub fn import(&self, location: &ImageLocation, name: Option<&str>) -> Result<StoredImage> {
        let what = location.to_string();
        match location {
            ImageLocation::Oci { dir, reference } => {
                let source = OciLayout::open(dir).map_err(image_error(format!("open {what}"), READ_HELP))?;
                self.import_from_layout(&source, reference.as_deref(), name, &what)
            }
            ImageLocation::OciArchive { file, reference } => {
                let archive =
                    OciArchive::open_in(file, self.path()).map_err(image_error(format!("open {what}"), READ_HELP))?;
                self.import_from_layout(archive.layout(), reference.as_deref(), name, &what)
            }
            ImageLocation::DockerArchive { file, image } => self.import_docker_archive(file, image, name, &what),
            ImageLocation::Registry(_) | ImageLocation::DockerDaemon(_) => Err(unsupported_location(location)),
        }
    }

    fn import_from_layout(
        &self,
        source: &OciLayout,
        reference: Option<&str>,
        name: Option<&str>,
        what: &str,
    ) -> Result<StoredImage> {
        let mut descriptor = source.resolve(reference).map_err(image_error(format!("read {what}"), READ_HELP))?;
        if matches!(descriptor.media_type.as_str(), media_type::OCI_INDEX | media_type::DOCKER_MANIFEST_LIST) {
            let bytes = source.read_blob(&descriptor).map_err(image_error(format!("read {what}"), READ_HELP))?;
            let index: ImageIndex =
                spec::from_json(&bytes, what).map_err(image_error(format!("read {what}"), READ_HELP))?;
            descriptor = this_platforms_manifest(index, what, "give the location of an image for this machine")?;
        }
        let manifest: ImageManifest =
            source.read_manifest(&descriptor).map_err(image_error(format!("read {what}"), READ_HELP))?;
        let _writing = self.writing_blobs()?;
        for blob in std::iter::once(&manifest.config).chain(&manifest.layers) {
            if self.layout().has_blob(&blob.digest) {
                continue;
            }
            let mut file = source.open_blob(&blob.digest).map_err(image_error(format!("read {what}"), READ_HELP))?;
            let (digest, _) =
                self.layout().add_blob(&mut file).map_err(image_error(format!("copy {what}"), WRITE_HELP))?;
            if digest != blob.digest {
                return Err(Error::Image {
                    action: format!("copy {what}"),
                    help: READ_HELP.to_owned(),
                    source: Box::new(s2i_oci::Error::InvalidImage {
                        reason: format!("the blob {} has the digest {digest}", blob.digest),
                        help: "the layout is damaged; write it again".to_owned(),
                    }),
                });
            }
        }
        let bytes = source.read_blob(&descriptor).map_err(image_error(format!("read {what}"), READ_HELP))?;
        let names: Vec<String> = match name {
            Some(name) => vec![name.to_owned()],
            None => reference.and_then(short_name).into_iter().collect(),
        };
        self.add_manifest(&bytes, &descriptor.media_type, &names)
    }

    fn import_docker_archive(
        &self,
        file: &Path,
        image: &ArchiveImage,
        name: Option<&str>,
        what: &str,
    ) -> Result<StoredImage> {
        let archive = DockerArchive::open(file).map_err(image_error(format!("open {what}"), READ_HELP))?;
        let wanted = match image {
            ArchiveImage::Only => None,
            ArchiveImage::Named(name) => Some(name.to_string()),
            ArchiveImage::Position(n) => Some(format!("@{n}")),
        };
        let entry = archive.image(wanted.as_deref()).map_err(image_error(format!("read {what}"), READ_HELP))?.clone();
        let (config_bytes, config) = archive.config(&entry).map_err(image_error(format!("read {what}"), READ_HELP))?;
        let _writing = self.writing_blobs()?;
        let mut layers = Vec::with_capacity(entry.layers.len());
        for (position, diff_id) in config.rootfs.diff_ids.iter().enumerate() {
            let mut tar =
                archive.open_layer(&entry, position).map_err(image_error(format!("read {what}"), READ_HELP))?;
            let sink = self.layout().blob_writer().map_err(image_error(format!("copy {what}"), WRITE_HELP))?;
            let (blob, summary) = s2i_oci::layer::compress_layer(&mut tar, sink)
                .map_err(image_error(format!("copy {what}"), WRITE_HELP))?;
            if &summary.diff_id != diff_id {
                return Err(Error::Image {
                    action: format!("copy {what}"),
                    help: READ_HELP.to_owned(),
                    source: Box::new(s2i_oci::Error::InvalidImage {
                        reason: format!("layer {} is {}, its config says {diff_id}", position + 1, summary.diff_id),
                        help: "write the archive again".to_owned(),
                    }),
                });
            }
            blob.commit().map_err(image_error(format!("copy {what}"), WRITE_HELP))?;
            layers.push(summary.descriptor());
        }
        self.layout().add_bytes(&config_bytes).map_err(image_error(format!("copy {what}"), WRITE_HELP))?;
        let config_descriptor = Descriptor::of(media_type::OCI_CONFIG, &config_bytes);
        let (manifest, descriptor, _) = s2i_oci::image::manifest(
            config_descriptor,
            &layers,
            s2i_oci::image::ManifestFormat::Oci,
            Default::default(),
        )
        .map_err(image_error(format!("copy {what}"), READ_HELP))?;
        let names: Vec<String> = match name {
            Some(name) => vec![name.to_owned()],
            None => entry.repo_tags.clone(),
        };
        self.add_manifest(&manifest, &descriptor.media_type, &names)
    }

    /// List a manifest (its blobs in the store already) under `names`.
    pub(crate) fn add_manifest(&self, bytes: &[u8], media: &str, names: &[String]) -> Result<StoredImage> {
        let (digest, size) =
            self.layout().add_bytes(bytes).map_err(image_error("store a manifest".to_owned(), WRITE_HELP))?;
        let mut descriptor = Descriptor::new(media, digest, size);
        let manifest: ImageManifest =
            spec::from_json(bytes, "the manifest").map_err(image_error("read a manifest".to_owned(), READ_HELP))?;
        if let Ok(config) = self.layout().read_config(&manifest) {
            descriptor.platform = Some(Platform {
                architecture: config.architecture,
                os: config.os,
                os_version: config.os_version,
                os_features: Vec::new(),
                variant: config.variant,
            });
        }
        {
            let _lock = self.lock("index", true)?;
            if names.is_empty() {
                self.layout()
                    .set_reference(&descriptor, None)
                    .map_err(image_error("list the image".to_owned(), WRITE_HELP))?;
            }
        }
        // By manifest digest (a bare digest would be taken for an image ID).
        let mut stored = self.images()?.into_iter().find(|i| i.manifest.digest == descriptor.digest);
        for name in names {
            let image = match &stored {
                Some(image) => image.clone(),
                None => StoredImage {
                    id: manifest.config.digest.clone(),
                    manifest: descriptor.clone(),
                    names: Vec::new(),
                    config_bytes: Vec::new(),
                    config: self
                        .layout()
                        .read_config(&manifest)
                        .map_err(image_error("read the config".to_owned(), READ_HELP))?,
                    layers: manifest.layers.clone(),
                },
            };
            self.tag(&image, name)?;
            stored = self.resolve(name)?;
        }
        stored.ok_or_else(|| Error::ImageNotFound { image: descriptor.digest.to_string() })
    }

    /// Write the image `image` of the store to `location`.
    pub fn export(&self, image: &str, location: &ImageLocation) -> Result<()> {
        let stored = self.resolve(image)?.ok_or_else(|| Error::ImageNotFound { image: image.to_owned() })?;
        let what = location.to_string();
        match location {
            ImageLocation::Oci { dir, reference } => {
                let target = OciLayout::create(dir).map_err(image_error(format!("open {what}"), WRITE_HELP))?;
                self.copy_to_layout(&stored, &target, reference.as_deref(), &what)
            }
            ImageLocation::OciArchive { file, reference } => {
                let parent = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
                let temp = tempfile::Builder::new()
                    .prefix(".s2i-oci-archive-")
                    .tempdir_in(parent)
                    .map_err(Error::io(format!("make a directory beside {}", file.display())))?;
                let layout =
                    OciLayout::create(temp.path()).map_err(image_error(format!("write {what}"), WRITE_HELP))?;
                self.copy_to_layout(&stored, &layout, reference.as_deref(), &what)?;
                write_file_atomically(file, |out| write_oci_archive(&layout, out, 0).map(drop))
                    .map_err(image_error(format!("write {what}"), WRITE_HELP))
            }
            ImageLocation::DockerArchive { file, image: wanted } => {
                let repo_tags = match wanted {
                    ArchiveImage::Named(name) => {
                        vec![short_name(&name.to_string()).unwrap_or_else(|| name.to_string())]
                    }
                    ArchiveImage::Only => stored.names.clone(),
                    ArchiveImage::Position(_) => {
                        return Err(Error::Unsupported {
                            what: format!("writing {what}"),
                            help: "name the image in the archive (docker-archive:FILE:NAME:TAG), or give none"
                                .to_owned(),
                        });
                    }
                };
                write_file_atomically(file, |out| self.write_docker_archive(&stored, repo_tags, out).map(drop))
                    .map_err(image_error(format!("write {what}"), WRITE_HELP))
            }
            ImageLocation::Registry(_) | ImageLocation::DockerDaemon(_) => Err(unsupported_location(location)),
        }
    }

    /// The image `stored` as a `docker-archive` (what `docker load` reads)
    /// into `out`, named `repo_tags`; its config exactly as stored.
    pub(crate) fn write_docker_archive<W: std::io::Write>(
        &self,
        stored: &StoredImage,
        repo_tags: Vec<String>,
        out: W,
    ) -> s2i_oci::Result<W> {
        let layers: Vec<ArchiveLayer> = stored
            .layers
            .iter()
            .zip(&stored.config.rootfs.diff_ids)
            .map(|(descriptor, diff_id)| ArchiveLayer {
                descriptor: descriptor.clone(),
                diff_id: diff_id.clone(),
                uncompressed_size: None,
            })
            .collect();
        let archive = DockerArchiveImage { config: &stored.config_bytes, repo_tags, layers, leave_out: 0 };
        let layout = self.layout().clone();
        let mut open = |descriptor: &Descriptor| -> s2i_oci::Result<Box<dyn Read>> {
            Ok(Box::new(std::io::BufReader::new(layout.open_blob(&descriptor.digest)?)))
        };
        write_docker_archive(out, &archive, &mut open, 0)
    }

    fn copy_to_layout(
        &self,
        image: &StoredImage,
        target: &OciLayout,
        reference: Option<&str>,
        what: &str,
    ) -> Result<()> {
        let config = Descriptor::new(media_type::OCI_CONFIG, image.id.clone(), image.config_bytes.len() as u64);
        for blob in std::iter::once(&config).chain(&image.layers) {
            if target.has_blob(&blob.digest) {
                continue;
            }
            let mut file = self
                .layout()
                .open_blob(&blob.digest)
                .map_err(image_error(format!("read {}", blob.digest), READ_HELP))?;
            target.add_blob(&mut file).map_err(image_error(format!("write {what}"), WRITE_HELP))?;
        }
        let bytes =
            self.layout().read_blob(&image.manifest).map_err(image_error("read the manifest".to_owned(), READ_HELP))?;
        let (digest, size): (Digest, u64) =
            target.add_bytes(&bytes).map_err(image_error(format!("write {what}"), WRITE_HELP))?;
        let mut descriptor = Descriptor::new(image.manifest.media_type.clone(), digest, size);
        descriptor.platform = image.manifest.platform.clone();
        target.set_reference(&descriptor, reference).map_err(image_error(format!("write {what}"), WRITE_HELP))
    }
}

fn unsupported_location(location: &ImageLocation) -> Error {
    match location {
        ImageLocation::DockerDaemon(_) => Error::Unsupported {
            what: format!("{location} (a container engine's image store)"),
            help: "write the image to docker-archive:FILE and `docker load -i FILE`, or use --engine docker".to_owned(),
        },
        _ => Error::Unsupported {
            what: format!("{location} (a registry) from s2i-runc"),
            help: "copy between s2i's image store and the registry with `skopeo copy`".to_owned(),
        },
    }
}

/// Images in and out of the backend's store, for a program that builds with
/// it: a builder given by its location, a result written to one, or
/// streamed to an engine that loads it.
impl crate::OciRuntime {
    /// Copy the image at `location` into the store; returns the name to run
    /// it by: a name the location gives it, else `localhost/s2i-import:ID`
    /// (the first 12 digits of its ID).
    pub async fn import(&self, location: &ImageLocation) -> Result<String> {
        let store = self.store().clone();
        let location = location.clone();
        run_blocking(move || {
            let stored = store.import(&location, None)?;
            if let Some(name) = stored.names.first() {
                return Ok(name.clone());
            }
            let name = format!("localhost/s2i-import:{}", &stored.id.hex()[..12]);
            store.tag(&stored, &name)?;
            Ok(name)
        })
        .await
    }

    /// Copy the images of a `docker-archive` stream (what `docker save`
    /// writes, e.g. an engine's export of an image) into the store; returns
    /// the name to run the first by, as [`Self::import`] does. The stream is
    /// spooled into the store's directory first (its manifest comes last).
    pub async fn import_docker_archive(&self, archive: s2i_core::runtime::ByteStream) -> Result<String> {
        use futures::StreamExt;
        let spooled = tempfile::Builder::new()
            .prefix(".s2i-import-")
            .suffix(".tar")
            .tempfile_in(self.store().path())
            .map_err(Error::io(format!("make a file in {}", self.store().path().display())))?;
        let mut file = tokio::fs::File::from_std(spooled.reopen().map_err(Error::io("open the spool file"))?);
        let mut archive = archive;
        while let Some(chunk) = archive.next().await {
            let chunk = chunk.map_err(Error::io("read the image archive"))?;
            tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
                .await
                .map_err(Error::io("spool the image archive"))?;
        }
        tokio::io::AsyncWriteExt::flush(&mut file).await.map_err(Error::io("spool the image archive"))?;
        drop(file);
        let location = ImageLocation::DockerArchive { file: spooled.path().to_owned(), image: ArchiveImage::Only };
        let name = self.import(&location).await;
        drop(spooled);
        name
    }

    /// Write the image `image` of the store to `location` (`oci:`,
    /// `oci-archive:`, `docker-archive:`).
    pub async fn export(&self, image: &str, location: &ImageLocation) -> Result<()> {
        let store = self.store().clone();
        let (image, location) = (image.to_owned(), location.clone());
        run_blocking(move || store.export(&image, &location)).await
    }

    /// The image `image` of the store as a `docker-archive` stream named
    /// `names` (what `docker load` reads), written as it is read.
    pub fn docker_archive(&self, image: &str, names: Vec<String>) -> Result<s2i_core::runtime::ByteStream> {
        let store = self.store().clone();
        let stored = store.resolve(image)?.ok_or_else(|| Error::ImageNotFound { image: image.to_owned() })?;
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(8);
        let failed = sender.clone();
        tokio::task::spawn_blocking(move || {
            let mut out = s2i_core::archive::ChunkSender::new(sender);
            let written = match store.write_docker_archive(&stored, names, &mut out) {
                Ok(_) => std::io::Write::flush(&mut out).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = written {
                let _ = failed.blocking_send(Err(std::io::Error::other(e)));
            }
        });
        Ok(Box::pin(futures::stream::poll_fn(move |context| receiver.poll_recv(context))))
    }
}

async fn run_blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Io { action: "copy an image".into(), source: std::io::Error::other(e.to_string()) })?
}
