//! Writing the result image itself, instead of the engine's commit: the base
//! image's layers unchanged, one layer made from what the build changed in
//! its container, a config derived from the base's, each output written
//! from those (`build/outputs.rs`).
//!
//! **Where the layer comes from.** The container's changes, as the engine
//! lists them (`GET /containers/{id}/changes`), and archive reads of the
//! changed paths (`GET /containers/{id}/archive`) — or, where the engine's
//! archives do not keep owners (Podman's carry the container user's), the
//! container's export filtered by the changes (`GET
//! /containers/{id}/export`, the whole filesystem) — normalised by
//! `s2i_oci::changes` and written by `s2i_oci`'s layer writer (entries
//! sorted, times clamped to the epoch, numeric owners, deletions as OCI
//! whiteouts). Measured against the other way — commit, then export the
//! committed image and take its top layer — on this project's benchmark
//! machine (busybox builder; `cargo xtask bench` sources):
//!
//! | source | engine | commit + export | change list + reads |
//! |---|---|---|---|
//! | trivial (3 files) | Docker 20.10 | 0.14 s (0.07 + 0.07) | 0.18 s (0.02 + archives 0.16) |
//! | large (20,000 files, 440 MB layer) | Docker 20.10 | 14.6 s (8.6 + 6.0) | 3.5 s (0.9 + archives 2.6) |
//! | trivial | Podman 4.3 | 0.54 s (0.36 + 0.18) | 0.2 s (0.01 + export 0.17) |
//! | large | Podman 4.3 | 29.3 s (22.8 + 6.5) | 5.0–5.9 s (2.2–3.1 + export 2.8) |
//!
//! (Podman's archives of the changed paths took 0.35 s and 7.6 s, and lose
//! the owners, hence its container export.) The change list is 3–5 times
//! cheaper on a large layer — a commit writes the layer into the engine's
//! store only for the export to read it back — about the same on a trivial
//! one, and leaves no image in the engine to remove.
//!
//! **A runtime that has the changes at hand** (`--engine oci`: its overlay's
//! upper directory) offers them as one tar in layer order
//! (`ContainerRuntime::changes_layer`); it is copied entry by entry through
//! the same layer writer (times clamped, order checked), nothing spooled,
//! no path read twice — for the same changes the same layer as the path
//! by path reads give.
//!
//! **The base layers and the config** come from the engine's export of the
//! base image (`GET /images/{id}/get`), read as a stream: the config exactly
//! as stored (its digest is the image ID, the same on Docker and Podman for
//! the same image) and, when an output needs them, the layers, compressed by
//! s2i (the same layer always gives the same blob, so the manifest digest
//! depends only on the base image's ID). An engine output that can leave
//! out the layers the engine has (Docker) reads only the config.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use s2i_oci::archive::{ExportLayers, ExportedImage, image_paths_below, read_image_export};
use s2i_oci::changes::ChangeSet;
use s2i_oci::digest::Digest;
use s2i_oci::image::{
    AssembledImage, ConfigChanges, HistoryStep, ImageParts, ManifestFormat, assemble, derived_config,
};
use s2i_oci::layer::{Compression, LayerOptions, LayerSummary, LayerWriter};
use s2i_oci::layout::OciLayout;
use s2i_oci::sbom::SbomCollector;
use s2i_oci::spec;
use s2i_oci::spool::{LayerSpooler, copy_ordered_tar};

use super::{Engine, WrittenOutput};
use crate::chained::bridge;
use crate::error::{Error, Result};
use crate::events::{EventSinkExt, Stage};
use crate::exec::{StageTimer, join_error};
use crate::owner::OWNER_LABEL;
use crate::plan::{BuildPlan, ImagePlan, ResolvedImage};
use crate::runtime::CommitSpec;

/// What writing the image gave.
#[derive(Debug, Clone, Default)]
pub(crate) struct WrittenImage {
    /// The image ID (the config's digest).
    pub(crate) image_id: String,
    /// The manifest digest, when an output has a manifest.
    pub(crate) manifest_digest: Option<String>,
    /// The outputs written.
    pub(crate) outputs: Vec<WrittenOutput>,
    /// The SPDX document, when asked for.
    pub(crate) sbom: Option<String>,
    /// The provenance statement, when asked for.
    pub(crate) provenance: Option<String>,
}

/// The image as the work layout holds it, for the outputs.
pub(crate) struct ImageFiles {
    /// The build's work layout: every blob of the image.
    pub(crate) layout: OciLayout,
    /// The config's bytes.
    pub(crate) config: Vec<u8>,
    /// The base image's layers, base first, as exported.
    pub(crate) base: ExportedImage,
    /// The new layer.
    pub(crate) layer: LayerSummary,
    /// Config and manifest, when an output needs a manifest.
    pub(crate) assembled: Option<AssembledImage>,
}

impl ImageFiles {
    /// The image ID: the config's digest.
    pub(crate) fn image_id(&self) -> Digest {
        Digest::of(&self.config)
    }
}

impl Engine {
    /// Write the image made of `base` and the changes of `container` to the
    /// plan's outputs; `commit` says what the config gets, `step` names the
    /// build step in its history (`assemble`).
    pub(crate) async fn write_image(
        &self,
        plan: &BuildPlan,
        image: &ImagePlan,
        container: &str,
        base: &ResolvedImage,
        commit: &CommitSpec,
        step: &str,
    ) -> Result<WrittenImage> {
        let display = image.outputs.first().map_or_else(|| "(untagged)".to_owned(), ToString::to_string);
        let stage = StageTimer::start(self.events.as_ref(), Stage::Commit, &display);
        let layout_dir = plan.workdir.join("image");
        let layout = blocking(move || OciLayout::create(layout_dir)).await?.map_err(oci_error(
            "make the image's working layout",
            "check that the temporary directory is writable and has room",
        ))?;
        let epoch = image.epoch.map(|e| e.seconds);
        let needs_manifest = image.needs_manifest();
        let needs_base_blobs = needs_manifest
            || image.outputs.iter().any(|o| matches!(o, s2i_oci::transport::ImageLocation::DockerArchive { .. }))
            || (image.loads_into_engine() && self.runtime.load_needs_every_layer());

        let base_image = self.export_base(base, &layout, needs_manifest, needs_base_blobs).await?;
        let compression = if needs_manifest { Compression::Gzip } else { Compression::None };
        let observe = image.sbom || image.provenance;
        let (layer, collector) = self.write_layer(plan, container, base, &layout, epoch, compression, observe).await?;

        let changes = config_changes(commit);
        let history = HistoryStep { created_by: format!("s2i build: {step}"), comment: None };
        let (config, assembled) = if needs_manifest {
            let base_layers = base_image.layer_descriptors().expect("the export kept the layers");
            let assembled = assemble(&ImageParts {
                base_config: &base_image.parsed,
                base_layers: &base_layers,
                layer: &layer,
                changes: &changes,
                history,
                epoch,
                format: ManifestFormat::Oci,
                annotations: BTreeMap::new(),
            })
            .map_err(oci_error("assemble the image", "check the builder image's configuration"))?;
            (assembled.config.clone(), Some(assembled))
        } else {
            let config = derived_config(&base_image.parsed, &layer.diff_id, &changes, &history, epoch)
                .map_err(oci_error("derive the image's config", "check the builder image's configuration"))?;
            (spec::to_json(&config), None)
        };
        let files = ImageFiles { layout, config, base: base_image, layer, assembled };
        let stored = files.layout.clone();
        let (config_bytes, manifest_bytes) =
            (files.config.clone(), files.assembled.as_ref().map(|a| a.manifest.clone()));
        blocking(move || {
            stored.add_bytes(&config_bytes)?;
            if let Some(manifest) = manifest_bytes {
                stored.add_bytes(&manifest)?;
            }
            Ok(())
        })
        .await?
        .map_err(oci_error("store the image's config", "check that the temporary directory has room"))?;
        stage.finish(self.events.as_ref());

        let image_id = files.image_id();
        let manifest_digest = files.assembled.as_ref().map(|a| a.manifest_descriptor.digest.to_string());
        self.events.info(match &manifest_digest {
            Some(manifest) => format!("Image {image_id}, manifest {manifest}"),
            None => format!("Image {image_id}"),
        });
        let documents = self.documents(plan, image, &files, collector.as_ref()).await?;
        let outputs = self.write_outputs(plan, image, &files, &documents).await?;
        Ok(WrittenImage {
            image_id: image_id.to_string(),
            manifest_digest,
            outputs,
            // Taken over, not copied: an SBOM of a large layer is megabytes.
            sbom: documents.sbom.map(into_text),
            provenance: documents.provenance.map(into_text),
        })
    }

    /// The engine's export of `base` (`docker save`'s layout), to read on a blocking thread.
    async fn base_export(&self, base: &ResolvedImage) -> Result<impl std::io::Read + Send + 'static> {
        let stream = self
            .runtime
            .export_image(&base.info.id)
            .await
            .map_err(|e| Error::runtime(format!("export the image {}", base.name), e))?;
        Ok(bridge(stream))
    }

    /// The base image's config and, when needed, its layers in `layout`.
    async fn export_base(
        &self,
        base: &ResolvedImage,
        layout: &OciLayout,
        gzip: bool,
        blobs: bool,
    ) -> Result<ExportedImage> {
        let id = Digest::parse(&base.info.id).map_err(oci_error(
            format!("read the ID of {}", base.name),
            "the engine reported an image ID that is not a sha256 digest",
        ))?;
        let mut reader = self.base_export(base).await?;
        let layout = layout.clone();
        let what = format!("read the export of {}", base.name);
        blocking(move || {
            let layers = match (gzip, blobs) {
                (true, _) => ExportLayers::Gzip(&layout),
                (false, true) => ExportLayers::Tar(&layout),
                (false, false) => ExportLayers::ConfigOnly,
            };
            read_image_export(&mut reader, &id, layers)
        })
        .await?
        .map_err(oci_error(what, "check that the engine still has the image and that the disk has room"))
    }

    /// The layer of what the build changed in `container`, into `layout`
    /// (with the files an SBOM lists, when `observe`), `base` the image it was made from.
    #[allow(clippy::too_many_arguments)]
    async fn write_layer(
        &self,
        plan: &BuildPlan,
        container: &str,
        base: &ResolvedImage,
        layout: &OciLayout,
        epoch: Option<u64>,
        compression: Compression,
        observe: bool,
    ) -> Result<(LayerSummary, Option<SbomCollector>)> {
        let options = LayerOptions { epoch, compression, ..LayerOptions::default() };
        let offered = self
            .runtime
            .changes_layer(container)
            .await
            .map_err(|e| Error::runtime("read the changes of the build container", e))?;
        if let Some(stream) = offered {
            let mut reader = bridge(stream);
            let layout = layout.clone();
            let written = blocking(move || {
                finish_layer(&layout, options, observe, |writer| {
                    copy_ordered_tar(&mut reader, "the changes of the build container", writer).map(|_| ())
                })
            })
            .await?
            .map_err(oci_error("write the layer", "check that the temporary directory has room"))?;
            self.events.detail(format!("The build's layer holds {} entries", written.0.entries));
            return Ok(written);
        }
        let listed = self
            .runtime
            .container_changes(container)
            .await
            .map_err(|e| Error::runtime("list the changes of the build container", e))?;
        let mut set = ChangeSet::new(listed)
            .map_err(oci_error("read the changes of the build container", "report this with the engine's version"))?;
        // A deleted path that exists is a directory removed and made again.
        let deleted = set.deleted_paths();
        let runtime = self.runtime.clone();
        let mut stats = futures::stream::iter(deleted)
            .map(|path| {
                let runtime = runtime.clone();
                async move {
                    let found = runtime.stat_path(container, &path).await;
                    (path, found)
                }
            })
            .buffer_unordered(8);
        while let Some((path, found)) = stats.next().await {
            let found = found.map_err(|e| Error::runtime(format!("look at {path} in the build container"), e))?;
            if found.is_some() {
                set.mark_recreated(&path)
                    .map_err(oci_error("read the changes of the build container", "report this"))?;
            }
        }
        drop(stats);
        let recreated = set.recreated_dirs();
        if !recreated.is_empty() {
            // Podman lists a directory removed and made again as deleted, Docker lists what it lost:
            // the base image says what that was, so both engines give Docker's layer.
            let mut reader = self.base_export(base).await?;
            let held = blocking(move || image_paths_below(&mut reader, &recreated)).await?.map_err(oci_error(
                format!("read the export of {}", base.name),
                "check that the engine still has the image",
            ))?;
            set.list_recreated(&held);
        }
        if set.needs_deleted_names() {
            // Names the list lost, deleted where no directory can stand in: their bytes are in the base.
            let mut reader = self.base_export(base).await?;
            set = blocking(move || set.name_deletions(&mut reader).map(|()| set)).await?.map_err(oci_error(
                format!("name the deleted files of {}", base.name),
                "keep that file in the builder image, or build without an epoch, outputs, an SBOM or provenance",
            ))?;
        }
        self.events.detail(format!("The build changed {} paths", set.len()));

        let set = Arc::new(set);
        let mut spooler = LayerSpooler::new_in(&plan.workdir);
        // The export when the engine's archives lose owners, or a name cannot be asked for.
        let read_export = !self.runtime.archives_keep_owners() || set.needs_export();
        if read_export {
            let stream = self
                .runtime
                .export_container(container)
                .await
                .map_err(|e| Error::runtime("export the build container", e))?;
            let mut reader = bridge(stream);
            let exported = set.clone();
            spooler = blocking(move || {
                exported.add_export(&mut spooler, &mut reader)?;
                Ok(spooler)
            })
            .await?
            .map_err(oci_error("read the export of the build container", "check that the engine still runs"))?;
        }
        let fetches = if read_export { Vec::new() } else { set.fetches() };
        for fetch in fetches {
            let stream = self
                .runtime
                .download_archive(container, &fetch.path)
                .await
                .map_err(|e| Error::runtime(format!("read {} from the build container", fetch.path), e))?
                .ok_or_else(|| Error::Copy {
                    what: fetch.path.clone(),
                    message: "the engine listed it as changed, but it is not in the build container".into(),
                })?;
            let mut reader = bridge(stream);
            let set = set.clone();
            let what = format!("read {} from the build container", fetch.path);
            spooler = blocking(move || {
                set.add_fetched(&mut spooler, &fetch, &mut reader)?;
                Ok(spooler)
            })
            .await?
            .map_err(oci_error(what, "check that the engine still runs"))?;
        }
        let layout = layout.clone();
        blocking(move || {
            set.add_deletions(&mut spooler)?;
            finish_layer(&layout, options, observe, |writer| spooler.write_to(writer))
        })
        .await?
        .map_err(oci_error("write the layer", "check that the temporary directory has room"))
    }
}

/// Write a layer blob into `layout`, its entries given by `fill` (with the
/// files an SBOM lists, when `observe`).
fn finish_layer(
    layout: &OciLayout,
    options: LayerOptions,
    observe: bool,
    fill: impl FnOnce(&mut LayerWriter<'_, s2i_oci::layout::BlobWriter>) -> s2i_oci::Result<()>,
) -> s2i_oci::Result<(LayerSummary, Option<SbomCollector>)> {
    let sink = layout.blob_writer()?;
    let mut collector = SbomCollector::new();
    let writer = LayerWriter::new(sink, options);
    let (blob, summary) = if observe {
        let mut observed = writer.with_observer(&mut collector);
        fill(&mut observed)?;
        observed.finish()?
    } else {
        let mut writer = writer;
        fill(&mut writer)?;
        writer.finish()?
    };
    blob.commit()?;
    Ok((summary, observe.then_some(collector)))
}

/// What the config gets, from the commit the engine would have made.
fn config_changes(commit: &CommitSpec) -> ConfigChanges {
    let mut labels = commit.labels.clone();
    // The build container's owner is the engine's business, not the image's.
    labels.remove(OWNER_LABEL);
    ConfigChanges {
        cmd: Some(commit.cmd.clone()),
        entrypoint: Some(commit.entrypoint.clone()),
        env: commit
            .env
            .iter()
            .map(|entry| match entry.split_once('=') {
                Some((name, value)) => (name.to_owned(), value.to_owned()),
                None => (entry.clone(), String::new()),
            })
            .collect(),
        user: Some(commit.user.clone()),
        labels,
        working_dir: None,
        exposed_ports: Vec::new(),
    }
}

/// Run blocking image work on tokio's blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> s2i_oci::Result<T> + Send + 'static,
) -> Result<std::result::Result<T, s2i_oci::Error>> {
    tokio::task::spawn_blocking(work).await.map_err(join_error)
}

/// An image-writer error as the engine's, with what was being done and what to do.
pub(crate) fn oci_error(action: impl Into<String>, help: impl Into<String>) -> impl FnOnce(s2i_oci::Error) -> Error {
    let (action, help) = (action.into(), help.into());
    move |source| Error::Image { action, help, source: Box::new(source) }
}

/// A document serde_json wrote (always UTF-8) as text.
fn into_text(document: Vec<u8>) -> String {
    String::from_utf8(document).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}
