//! Writing the image s2i made (`build/write.rs`) to each output, and the
//! documents about it (SBOM, provenance):
//!
//! - `docker-daemon:` — one `docker-archive` stream, with every engine name
//!   as a tag, loaded into the engine (`POST /images/load`); the base
//!   layers are left out where the engine has them and loads without
//!   (Docker);
//! - `oci:` — the blobs hard-linked (or copied) into the layout, the image
//!   named in its `index.json`, SBOM and provenance as referrers;
//! - `oci-archive:` — the same layout, as one tar file;
//! - `docker-archive:` — what `docker load` reads;
//! - `docker://` — pushed by s2i's registry client: blobs the repository has
//!   are not sent, the base layers are mounted from the builder's repository
//!   when it is on the same registry, SBOM and provenance as referrers.
//!
//! Archives and layouts are written whole or not at all (a temporary file
//! renamed into place, blobs filed under their digest).

use std::io::Read;
use std::path::{Path, PathBuf};

use s2i_oci::archive::{
    ArchiveLayer, DockerArchiveImage, write_docker_archive, write_file_atomically, write_oci_archive,
};
use s2i_oci::digest::{Digest, HashingWriter};
use s2i_oci::layout::OciLayout;
use s2i_oci::provenance::{self, ProvenanceInputs};
use s2i_oci::registry::push::{BlobOutcome, PushTarget};
use s2i_oci::registry::{RegistryAuth, RegistryClient};
use s2i_oci::sbom::{ImageRef, SbomCollector, SbomInputs, SourceRef, spdx_document};
use s2i_oci::spec::{Descriptor, media_type};
use s2i_oci::transport::{ArchiveImage, DaemonImage, ImageLocation};
use serde_json::json;

use super::write::{ImageFiles, blocking, oci_error};
use super::{BuildOptions, Engine, WrittenOutput};
use crate::archive::{InputArchive, SourceTree, write_archive};
use crate::auth::{AuthSources, CredentialFiles};
use crate::error::{Error, Result};
use crate::events::{EventSinkExt, Stage};
use crate::exec::{self, StageTimer};
use crate::plan::{BuildPlan, ImagePlan};
use crate::reference::ImageReference;

/// The builder id of provenance statements.
const BUILDER_ID: &str = concat!("https://github.com/s2i-rs/s2i@v", env!("CARGO_PKG_VERSION"));
/// The tool, as SPDX creators name it.
const TOOL: &str = concat!("s2i-", env!("CARGO_PKG_VERSION"));

/// The SBOM and provenance statement of a build, when asked for.
#[derive(Debug, Default)]
pub(crate) struct Documents {
    pub(crate) sbom: Option<Vec<u8>>,
    pub(crate) provenance: Option<Vec<u8>>,
}

impl Documents {
    /// The documents as (artifact type, bytes), to attach as referrers.
    fn artifacts(&self) -> Vec<(&'static str, &[u8])> {
        let mut artifacts = Vec::new();
        if let Some(sbom) = &self.sbom {
            artifacts.push((media_type::SPDX_JSON, sbom.as_slice()));
        }
        if let Some(statement) = &self.provenance {
            artifacts.push((media_type::IN_TOTO_JSON, statement.as_slice()));
        }
        artifacts
    }
}

impl Engine {
    /// The SBOM and provenance statement of the image in `files`.
    pub(crate) async fn documents(
        &self,
        plan: &BuildPlan,
        image: &ImagePlan,
        files: &ImageFiles,
        collector: Option<&SbomCollector>,
    ) -> Result<Documents> {
        let Some(collector) = collector else { return Ok(Documents::default()) };
        for problem in collector.problems() {
            self.events.warn(format!("SBOM: the lock file {} lists no packages: {}", problem.path, problem.reason));
        }
        let epoch = image.epoch.map(|e| e.seconds);
        let subject = ImageRef {
            name: image_name(image),
            digest: Some(
                files.assembled.as_ref().map_or_else(|| files.image_id(), |a| a.manifest_descriptor.digest.clone()),
            ),
        };
        let builder = ImageRef { name: plan.builder.name.clone(), digest: builder_digest(plan) };
        let source = self.source_ref(plan, epoch).await?;
        let invalid = |what: &str| oci_error(format!("write the {what}"), "check the build's inputs");
        let sbom = if image.sbom {
            let inputs = SbomInputs {
                image: &subject,
                builder: &builder,
                source: &source,
                layer_diff_id: Some(&files.layer.diff_id),
                epoch,
                tool: TOOL,
                collector,
            };
            Some(spdx_document(&inputs).map_err(invalid("SBOM"))?)
        } else {
            None
        };
        let provenance = if image.provenance {
            let inputs = ProvenanceInputs {
                image: &subject,
                builder: &builder,
                source: &source,
                parameters: parameters(plan, image),
                internal_parameters: Default::default(),
                builder_id: BUILDER_ID,
                epoch,
                run: None,
            };
            Some(provenance::statement(&inputs).map_err(invalid("provenance statement"))?)
        } else {
            None
        };
        Ok(Documents { sbom, provenance })
    }

    /// The source as SBOM and provenance name it, by what defines its
    /// content only (never a path or directory name of this machine, so the
    /// same content gives the same documents wherever it lies): a remote git
    /// URL (no credentials) and commit, a repository of this machine by its
    /// commit, or a directory by the digest of its tar as s2i streams it
    /// (sorted, root-owned, times clamped to the epoch).
    async fn source_ref(&self, plan: &BuildPlan, epoch: Option<u64>) -> Result<SourceRef> {
        let Some(source) = &plan.source else {
            return Ok(SourceRef::Directory { digest: Digest::of(b"") });
        };
        let info = &source.prepared.info;
        if !info.commit_id.is_empty() {
            let location = crate::env::redact_url_userinfo(&info.location);
            let url = (!super::reproducible::is_local_location(&location)).then_some(location);
            return Ok(SourceRef::Git { url, commit: info.commit_id.clone() });
        }
        let tree = SourceTree {
            root: source.prepared.root.clone(),
            filter: source.filter.clone(),
            follow_symlinks: source.prepared.follow_symlinks,
        };
        let archive = InputArchive { dirs: Vec::new(), source: Some(tree), mtime_limit: epoch, ..Default::default() };
        let digest = tokio::task::spawn_blocking(move || {
            let mut hashing = HashingWriter::new(std::io::sink());
            write_archive(archive, &mut hashing, &mut |_| {})?;
            Ok::<_, Error>(hashing.finish().1)
        })
        .await
        .map_err(exec::join_error)??;
        Ok(SourceRef::Directory { digest })
    }

    /// Write the image in `files` to every output of `image`.
    pub(crate) async fn write_outputs(
        &self,
        plan: &BuildPlan,
        image: &ImagePlan,
        files: &ImageFiles,
        documents: &Documents,
    ) -> Result<Vec<WrittenOutput>> {
        let mtime = image.epoch.map_or_else(|| jiff::Timestamp::now().as_second().max(0) as u64, |e| e.seconds);
        let mut written = Vec::new();
        let daemon: Vec<&ImageLocation> =
            image.outputs.iter().filter(|o| matches!(o, ImageLocation::DockerDaemon(_))).collect();
        if !daemon.is_empty() || image.untagged {
            self.load_into_engine(files, &daemon, mtime).await?;
            for location in daemon {
                written.push(output(location, None, files, Vec::new()));
            }
        }
        for location in &image.outputs {
            let result = match location {
                ImageLocation::DockerDaemon(_) => continue,
                ImageLocation::Oci { dir, reference } => {
                    let dir = resolve(&image.base_dir, dir);
                    self.write_layout(files, &dir, reference.as_deref(), documents).await?
                }
                ImageLocation::OciArchive { file, reference } => {
                    let file = resolve(&image.base_dir, file);
                    let dir = plan.workdir.join(format!("oci-archive-{}", written.len()));
                    let (digest, referrers) = self.write_layout(files, &dir, reference.as_deref(), documents).await?;
                    let what = format!("write {location}");
                    blocking(move || {
                        let layout = OciLayout::open(&dir)?;
                        write_file_atomically(&file, |out| write_oci_archive(&layout, out, mtime).map(drop))
                    })
                    .await?
                    .map_err(oci_error(what, "check that the file's directory exists and is writable"))?;
                    (digest, referrers)
                }
                ImageLocation::DockerArchive { file, image: name } => {
                    let file = resolve(&image.base_dir, file);
                    let tags = match name {
                        ArchiveImage::Named(name) => vec![name.to_string()],
                        _ => Vec::new(),
                    };
                    let what = format!("write {location}");
                    let archive = docker_archive(files, tags, 0);
                    blocking(move || write_file_atomically(&file, |out| archive.write(out, mtime).map(drop)))
                        .await?
                        .map_err(oci_error(what, "check that the file's directory exists and is writable"))?;
                    (None, Vec::new())
                }
                ImageLocation::Registry(name) => self.push_to_registry(plan, image, files, name, documents).await?,
            };
            self.events.info(match &result.0 {
                Some(digest) => format!("Wrote {location} ({digest})"),
                None => format!("Wrote {location}"),
            });
            written.push(output(location, result.0, files, result.1));
        }
        Ok(written)
    }

    /// Load the image into the engine, named by `daemon` (untagged without any).
    async fn load_into_engine(&self, files: &ImageFiles, daemon: &[&ImageLocation], mtime: u64) -> Result<()> {
        let tags: Vec<String> = daemon
            .iter()
            .filter_map(|o| match o {
                ImageLocation::DockerDaemon(DaemonImage::Named(name)) => Some(name.to_string()),
                _ => None,
            })
            .collect();
        let leave_out = if self.runtime.load_needs_every_layer() { 0 } else { files.base.layers.len() };
        let archive = docker_archive(files, tags.clone(), leave_out);
        let (stream, producer) = crate::archive::spawn_producer(move |writer| {
            archive.write(writer, mtime).map(drop).map_err(|source| Error::Image {
                action: "stream the image to the engine".into(),
                help: "check that the temporary directory is readable".into(),
                source: Box::new(source),
            })
        });
        let shown = if tags.is_empty() { "the engine".to_owned() } else { tags.join(", ") };
        let loaded = self.runtime.load_image(stream).await;
        exec::finish_producer(producer, loaded.is_ok()).await?;
        loaded.map_err(|e| Error::runtime(format!("load the image into {shown}"), e))?;
        let id = files.image_id().to_string();
        match self.runtime.inspect_image(&id).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(Error::runtime(
                format!("load the image into {shown}"),
                crate::runtime::RuntimeError::new(
                    crate::runtime::RuntimeErrorKind::Other,
                    format!("the engine took the archive but has no image {id}"),
                ),
            )),
            Err(e) => Err(Error::runtime(format!("inspect the loaded image {id}"), e)),
        }
    }

    /// Write the image (and the documents as its referrers) into the layout
    /// at `dir`; the manifest digest and the referrers' digests.
    async fn write_layout(
        &self,
        files: &ImageFiles,
        dir: &Path,
        reference: Option<&str>,
        documents: &Documents,
    ) -> Result<(Option<String>, Vec<String>)> {
        let assembled = files.assembled.clone().expect("layouts have a manifest");
        let work = files.layout.clone();
        let (dir, reference) = (dir.to_owned(), reference.map(str::to_owned));
        let artifacts: Vec<(&'static str, Vec<u8>)> =
            documents.artifacts().into_iter().map(|(kind, bytes)| (kind, bytes.to_vec())).collect();
        let what = format!("write the OCI layout {}", dir.display());
        let (descriptor, referrers) = blocking(move || {
            let layout = OciLayout::create(&dir)?;
            for layer in &assembled.layers {
                layout.copy_blob_from(&work, &layer.digest)?;
            }
            let descriptor = match reference.as_deref() {
                Some(name) => layout.write_image(&assembled, Some(name))?,
                // `oci:DIR` names the layout's only image: an earlier one is replaced.
                None => layout.write_unnamed_image(&assembled)?,
            };
            let mut referrers = Vec::new();
            for (kind, bytes) in &artifacts {
                referrers.push(layout.add_referrer(&descriptor, kind, kind, bytes, Default::default())?.digest);
            }
            Ok((descriptor, referrers))
        })
        .await?
        .map_err(oci_error(what, "check that the directory is writable and has room"))?;
        Ok((Some(descriptor.digest.to_string()), referrers.iter().map(ToString::to_string).collect()))
    }

    /// Push the image to `name`'s registry; the digest it stored and the referrers'.
    async fn push_to_registry(
        &self,
        plan: &BuildPlan,
        image: &ImagePlan,
        files: &ImageFiles,
        name: &ImageReference,
        documents: &Documents,
    ) -> Result<(Option<String>, Vec<String>)> {
        let shown = format!("docker://{name}");
        let stage = StageTimer::start(self.events.as_ref(), Stage::Push, &shown);
        let client = registry_client(image.registry_auth_file.clone())?;
        let target = name.normalized();
        let registry = target.registry_or_default().to_owned();
        let repository = target.repository.clone();
        let tag = target.tag.clone().unwrap_or_else(|| "latest".to_owned());
        // The builder's layers may already be in its repository of the same registry.
        let mount_from = ImageReference::parse(&plan.builder.name)
            .ok()
            .map(|b| b.normalized())
            .filter(|b| b.registry_or_default() == registry)
            .map(|b| b.repository);
        let assembled = files.assembled.clone().expect("registries get a manifest");
        let layout = files.layout.clone();
        let artifacts: Vec<(&'static str, Vec<u8>)> =
            documents.artifacts().into_iter().map(|(kind, bytes)| (kind, bytes.to_vec())).collect();
        let events = self.events.clone();
        let pushed = tokio::task::spawn_blocking(move || {
            let target = PushTarget { registry: &registry, repository: &repository, tag: Some(&tag), insecure: false };
            let mut progress = |blob: &s2i_oci::registry::push::BlobPushed| {
                let what = match &blob.outcome {
                    BlobOutcome::Present => "already there".to_owned(),
                    BlobOutcome::Mounted(from) => format!("mounted from {from}"),
                    BlobOutcome::Uploaded => format!("uploaded ({} bytes)", blob.size),
                };
                events.detail(format!("Blob {}: {what}", blob.digest));
            };
            let subject = assembled.manifest_descriptor.clone();
            let pushed = client.push_image(&layout, &subject, &target, mount_from.as_deref(), &mut progress)?;
            let mut referrers = Vec::new();
            for (kind, bytes) in &artifacts {
                referrers.push(client.push_referrer(&target, &subject, kind, bytes, Default::default())?.digest);
            }
            Ok::<_, s2i_oci::registry::RegistryError>((pushed, referrers))
        })
        .await
        .map_err(exec::join_error)?;
        let (pushed, referrers) = pushed.map_err(|e| Error::OutputFailed {
            output: shown.clone(),
            message: e.message.clone(),
            help: match e.kind {
                s2i_oci::registry::RegistryErrorKind::Unauthorized => format!(
                    "log in to {} (`docker login` or `podman login`), or name a credentials file that has an entry \
                     for it with --dockercfg-path or REGISTRY_AUTH_FILE",
                    e.registry
                ),
                s2i_oci::registry::RegistryErrorKind::Unreachable => {
                    format!("check that the registry {} runs and can be reached from here", e.registry)
                }
                _ => "check the registry's log; the image is built, so the same build writes the same image".into(),
            },
        })?;
        stage.finish(self.events.as_ref());
        let uploaded = pushed.blobs.iter().filter(|b| b.outcome == BlobOutcome::Uploaded).count();
        self.events.detail(format!("{uploaded} of {} blobs sent to {shown}", pushed.blobs.len()));
        Ok((Some(pushed.digest.to_string()), referrers.iter().map(ToString::to_string).collect()))
    }
}

/// Refuse, before the build starts (nothing pulled, no container run,
/// nothing written), outputs that name an image to read
/// ([`super::check_output`]) or cannot be written and read back as
/// written ([`ImageLocation::check_writable`]: a file where a directory
/// goes or the reverse, a directory that is missing or not writable, an
/// unnamed layout that would list more than the image), and outputs that
/// write the same path at odds: one file twice, a path as a directory and
/// as a file, a layout with and without a name.
pub(crate) fn check_outputs(options: &BuildOptions) -> Result<()> {
    if options.outputs.is_empty() {
        return Ok(());
    }
    let base = match &options.working_dir {
        Some(dir) => dir.clone(),
        None => std::env::current_dir()
            .map_err(|e| Error::io("read the current directory", ".", "start from a directory that exists", e))?,
    };
    let referrers = options.sbom || options.provenance;
    let mut paths: Vec<(PathBuf, &ImageLocation)> = Vec::new();
    for location in &options.outputs {
        super::check_output(location)?;
        location.check_writable(&base, referrers).map_err(|e| refused(location, e))?;
        let path = match location {
            ImageLocation::Oci { dir: path, .. }
            | ImageLocation::OciArchive { file: path, .. }
            | ImageLocation::DockerArchive { file: path, .. } => resolve(&base, path),
            ImageLocation::DockerDaemon(_) | ImageLocation::Registry(_) => continue,
        };
        for (_, other) in paths.iter().filter(|(p, _)| *p == path) {
            match (other, location) {
                // Several names in one layout are fine, and so is one image twice.
                (ImageLocation::Oci { reference: a, .. }, ImageLocation::Oci { reference: b, .. })
                    if a.is_some() == b.is_some() => {}
                (ImageLocation::Oci { .. }, ImageLocation::Oci { dir, .. }) => {
                    return Err(Error::option(
                        "--output",
                        format!(
                            "{other} and {location} write into one layout, once without a name: it would list \
                             two images, and a layout read without a name must list one"
                        ),
                        format!("name the image in both, e.g. oci:{}:latest", dir.display()),
                    ));
                }
                _ => {
                    return Err(Error::option(
                        "--output",
                        format!("{other} and {location} both write {}", path.display()),
                        "give each output a path of its own",
                    ));
                }
            }
        }
        paths.push((path, location));
    }
    Ok(())
}

/// An output [`ImageLocation::check_writable`] refused, as the option it came from.
fn refused(location: &ImageLocation, error: s2i_oci::Error) -> Error {
    use miette::Diagnostic as _;
    match error {
        s2i_oci::Error::InvalidTransport { reason, help, .. } => {
            Error::option("--output", format!("{location}: {reason}"), help)
        }
        other => {
            let help = other.help().map_or_else(|| "name another location".to_owned(), |h| h.to_string());
            Error::option("--output", format!("{location}: {other}"), help)
        }
    }
}

/// The image as a `docker-archive`, its first `leave_out` layers listed but not written.
struct ArchivePlan {
    config: Vec<u8>,
    tags: Vec<String>,
    layers: Vec<ArchiveLayer>,
    leave_out: usize,
    layout: OciLayout,
}

impl ArchivePlan {
    fn write<W: std::io::Write>(&self, out: W, mtime: u64) -> s2i_oci::Result<W> {
        let image = DockerArchiveImage {
            config: &self.config,
            repo_tags: self.tags.clone(),
            layers: self.layers.clone(),
            leave_out: self.leave_out,
        };
        let layout = &self.layout;
        let mut open =
            |d: &Descriptor| -> s2i_oci::Result<Box<dyn Read>> { Ok(Box::new(layout.open_blob(&d.digest)?)) };
        write_docker_archive(out, &image, &mut open, mtime)
    }
}

fn docker_archive(files: &ImageFiles, tags: Vec<String>, leave_out: usize) -> ArchivePlan {
    let mut layers: Vec<ArchiveLayer> = files
        .base
        .layers
        .iter()
        .map(|layer| match &layer.blob {
            Some(blob) => ArchiveLayer {
                descriptor: blob.descriptor(),
                diff_id: layer.diff_id.clone(),
                uncompressed_size: Some(blob.uncompressed_size),
            },
            // Left out of the archive: the engine has it.
            None => ArchiveLayer {
                descriptor: Descriptor::new(media_type::OCI_LAYER_TAR, layer.diff_id.clone(), 0),
                diff_id: layer.diff_id.clone(),
                uncompressed_size: Some(0),
            },
        })
        .collect();
    layers.push(ArchiveLayer {
        descriptor: files.layer.descriptor(),
        diff_id: files.layer.diff_id.clone(),
        uncompressed_size: Some(files.layer.uncompressed_size),
    });
    ArchivePlan { config: files.config.clone(), tags, layers, leave_out, layout: files.layout.clone() }
}

fn output(
    location: &ImageLocation,
    digest: Option<String>,
    files: &ImageFiles,
    referrers: Vec<String>,
) -> WrittenOutput {
    WrittenOutput { location: location.clone(), digest, image_id: files.image_id().to_string(), referrers }
}

/// A path of an output, relative to the directory the build resolves paths against.
fn resolve(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() { path.to_owned() } else { base.join(path) }
}

/// What SBOM and provenance call the image: its first name.
fn image_name(image: &ImagePlan) -> String {
    image
        .outputs
        .iter()
        .find_map(|o| match o {
            ImageLocation::DockerDaemon(DaemonImage::Named(name)) | ImageLocation::Registry(name) => {
                Some(name.to_string())
            }
            ImageLocation::DockerArchive { image: ArchiveImage::Named(name), .. } => Some(name.to_string()),
            ImageLocation::Oci { reference: Some(reference), .. }
            | ImageLocation::OciArchive { reference: Some(reference), .. } => Some(reference.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "image".to_owned())
}

/// The builder's digest: the one it is named by, else its image ID (the
/// digest of its config, the same on every engine and machine; a registry
/// digest the engine happens to know would make the documents depend on
/// this machine's pulls and pushes).
fn builder_digest(plan: &BuildPlan) -> Option<Digest> {
    ImageReference::parse(&plan.builder.name)
        .ok()
        .and_then(|r| r.digest)
        .and_then(|d| Digest::parse(&d).ok())
        .or_else(|| Digest::parse(&plan.builder.info.id).ok())
}

/// The build options that change the result, for the provenance statement
/// (environment by name only: values may be secrets).
fn parameters(plan: &BuildPlan, image: &ImagePlan) -> std::collections::BTreeMap<String, serde_json::Value> {
    let mut parameters = std::collections::BTreeMap::new();
    let scripts: serde_json::Map<String, serde_json::Value> = plan
        .scripts
        .scripts
        .values()
        .map(|s| {
            let from = match &s.location {
                crate::scripts::ScriptLocation::Image { path } => format!("image://{path}"),
                crate::scripts::ScriptLocation::Shipped { .. } if s.origin.starts_with("http") => s.origin.clone(),
                crate::scripts::ScriptLocation::Shipped { .. } => "shipped with the build".to_owned(),
            };
            (s.script.to_string(), json!(from))
        })
        .collect();
    parameters.insert("scripts".to_owned(), json!(scripts));
    parameters.insert("destination".to_owned(), json!(plan.destination));
    if let Some(user) = &plan.assemble_user {
        parameters.insert("assembleUser".to_owned(), json!(user));
    }
    let names: Vec<&str> = plan.env.iter().map(|v| v.name.as_str()).collect();
    parameters.insert("environment".to_owned(), json!(names));
    parameters.insert("incremental".to_owned(), json!(plan.incremental.is_some()));
    if let Some(source) = &plan.source {
        let info = &source.prepared.info;
        if !info.context_dir.is_empty() {
            parameters.insert("contextDir".to_owned(), json!(info.context_dir));
        }
        if !info.git_ref.is_empty() {
            parameters.insert("ref".to_owned(), json!(info.git_ref));
        }
    }
    if let Some(runtime) = &plan.runtime {
        parameters.insert("runtimeImage".to_owned(), json!(runtime.image.name));
    }
    if let Some(epoch) = image.epoch {
        parameters.insert("sourceDateEpoch".to_owned(), json!(epoch.seconds));
    }
    parameters
}

/// A registry client with the credentials `s2i_core::auth` finds: the
/// explicit file first, then `REGISTRY_AUTH_FILE`, Podman's and Docker's.
fn registry_client(explicit: Option<PathBuf>) -> Result<RegistryClient> {
    let sources = AuthSources { explicit, ..AuthSources::from_env() };
    let files = CredentialFiles::load(&sources)?;
    Ok(RegistryClient::new(move |registry: &str| {
        let found = files.credentials_for_registry(registry).map_err(|e| e.to_string())?;
        Ok(found.map(|c| RegistryAuth { username: c.username, password: c.password, identity_token: c.identity_token }))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(base: &Path, outputs: &[&str], sbom: bool) -> BuildOptions {
        let mut options = BuildOptions::new(None, "builder".to_owned());
        options.working_dir = Some(base.to_owned());
        options.outputs = outputs.iter().map(|o| ImageLocation::parse(o).unwrap()).collect();
        options.sbom = sbom;
        options
    }

    #[test]
    fn outputs_at_odds_are_refused_before_the_build() {
        let base = tempfile::tempdir().unwrap();
        let check = |outputs: &[&str], sbom: bool| check_outputs(&options(base.path(), outputs, sbom));
        for good in [
            &["oci:out:a", "oci:out:b", "oci-archive:out.tar:a"][..],
            &["oci:out", "oci:./out"],
            &["oci:out:a", "oci:out:a", "docker-archive:app.tar"],
        ] {
            check(good, false).unwrap_or_else(|e| panic!("{good:?}: {e}"));
        }
        let refused: &[(&[&str], bool, &str, &str)] = &[
            (&["oci:out:a", "oci:out"], false, "once without a name", "oci:out:latest"),
            (&["oci-archive:a.tar", "docker-archive:./a.tar"], false, "both write", "a path of its own"),
            (&["oci:a.tar:x", "oci-archive:a.tar:x"], false, "both write", "a path of its own"),
            (&["oci:layout"], true, "referrers", "oci:layout:latest"),
            (&["oci:new:a", "oci:src/index.html/lay:a"], false, "index.html is a file", "not inside a file"),
        ];
        std::fs::create_dir(base.path().join("src")).unwrap();
        std::fs::write(base.path().join("src/index.html"), "x").unwrap();
        for (outputs, sbom, reason, help) in refused {
            let Err(Error::InvalidOption { option, message, help: what }) = check(outputs, *sbom) else {
                panic!("{outputs:?} is refused")
            };
            assert_eq!(option, "--output");
            assert!(message.contains(reason), "{outputs:?}: {message}");
            assert!(what.contains(help), "{outputs:?}: {what}");
        }
        let digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert!(check(&[&format!("docker-daemon:{digest}")], false).is_err(), "an image to read, too");
        let left: Vec<_> = std::fs::read_dir(base.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["src"], "checking writes nothing");
    }
}
