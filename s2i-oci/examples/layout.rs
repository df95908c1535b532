//! Write a small image into an OCI layout, with its SBOM attached as a
//! referrer, without any container engine.
//!
//! ```sh
//! cargo run -p s2i-oci --example layout -- DIR
//! skopeo inspect oci:DIR:hello        # reads it as any OCI layout
//! ```
//!
//! Without `DIR` the layout goes to a temporary directory that is removed at
//! the end. Run it twice into two directories: the digests are the same.

// An example shows its result on the terminal.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;

use s2i_oci::Digest;
use s2i_oci::image::{ConfigChanges, HistoryStep, ImageParts, ManifestFormat, assemble};
use s2i_oci::layer::{LayerEntry, LayerOptions, LayerWriter};
use s2i_oci::layout::OciLayout;
use s2i_oci::sbom::{ImageRef, SbomCollector, SbomInputs, SourceRef, spdx_document};
use s2i_oci::spec::{ImageConfig, media_type};

/// Every time in the image (file times, `created`): fixed, so equal inputs
/// give equal digests.
const EPOCH: u64 = 1_700_000_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temporary;
    let dir = match std::env::args_os().nth(1) {
        Some(dir) => std::path::PathBuf::from(dir),
        None => {
            temporary = tempfile::tempdir()?;
            temporary.path().join("layout")
        }
    };
    let layout = OciLayout::create(&dir)?;

    // The new layer: a script and the lock file of its (pretend) dependencies.
    // Entries go in layer order; the writer adds missing parent directories.
    // The collector sees every file, for the SBOM.
    let script = b"#!/bin/sh\necho hello from an image no engine built\n";
    let requirements = b"flask==3.0.3\n";
    let files: [(LayerEntry, &[u8]); 2] = [
        (LayerEntry::file("app/requirements.txt", requirements.len() as u64, 0o644).owned_by(1001, 0), requirements),
        (LayerEntry::file("usr/local/bin/hello", script.len() as u64, 0o755), script),
    ];
    let mut collector = SbomCollector::new();
    let options = LayerOptions { epoch: Some(EPOCH), ..Default::default() };
    let mut writer = LayerWriter::new(layout.blob_writer()?, options).with_observer(&mut collector);
    for (entry, content) in &files {
        writer.append(entry, &mut &content[..])?;
    }
    let (blob, layer) = writer.finish()?;
    blob.commit()?;
    println!("layer {} ({} bytes gzipped, diff ID {})", layer.digest, layer.size, layer.diff_id);

    // No base layers here; a build would pass the builder's config and layers.
    let base = ImageConfig { architecture: "amd64".into(), os: "linux".into(), ..Default::default() };
    let changes = ConfigChanges {
        cmd: Some(vec!["/usr/local/bin/hello".into()]),
        user: Some("1001".into()),
        labels: BTreeMap::from([("org.opencontainers.image.title".into(), "hello".into())]),
        ..Default::default()
    };
    let image = assemble(&ImageParts {
        base_config: &base,
        base_layers: &[],
        layer: &layer,
        changes: &changes,
        history: HistoryStep { created_by: "examples/layout.rs".into(), comment: None },
        epoch: Some(EPOCH),
        format: ManifestFormat::Oci,
        annotations: BTreeMap::new(),
    })?;
    let manifest = layout.write_image(&image, Some("hello"))?;
    println!("image {} tagged hello in {}", manifest.digest, dir.display());

    // The SBOM lists the layer's files with their checksums, and the locked package.
    let sbom = spdx_document(&SbomInputs {
        image: &ImageRef { name: "hello".into(), digest: Some(manifest.digest.clone()) },
        builder: &ImageRef { name: "none".into(), digest: None },
        source: &SourceRef::Directory { digest: Digest::of(script) },
        layer_diff_id: Some(&layer.diff_id),
        epoch: Some(EPOCH),
        tool: "s2i-oci-example",
        collector: &collector,
    })?;
    layout.add_referrer(&manifest, media_type::SPDX_JSON, media_type::SPDX_JSON, &sbom, BTreeMap::new())?;
    for referrer in layout.referrers(&manifest.digest, None)? {
        println!("referrer {} ({})", referrer.digest, referrer.artifact_type.unwrap_or_default());
    }
    for package in collector.packages() {
        println!("package {}", package.purl());
    }
    Ok(())
}
