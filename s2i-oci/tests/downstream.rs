//! An OCI layout written as a downstream tool writes one, through the
//! public API only and without any engine: a base image from entries given
//! in walk order, an image on top of it read back from the layout (its base
//! layers referenced, one file deleted), an oci-archive of the layout read
//! back, and the same bytes when everything is written again.

use std::collections::BTreeMap;
use std::path::Path;

use s2i_oci::Digest;
use s2i_oci::archive::{OciArchive, write_file_atomically, write_oci_archive};
use s2i_oci::image::{ConfigChanges, HistoryStep, ImageParts, ManifestFormat, assemble};
use s2i_oci::layer::{LayerEntry, LayerOptions, LayerSummary, LayerWriter};
use s2i_oci::layout::OciLayout;
use s2i_oci::spec::ImageConfig;
use s2i_oci::spool::LayerSpooler;
use s2i_oci::transport::ImageLocation;

const EPOCH: u64 = 1_600_000_000;

/// A layer from `entries` in any order: the spooler sorts them.
fn layer(layout: &OciLayout, entries: &[(LayerEntry, &[u8])]) -> LayerSummary {
    let mut spooler = LayerSpooler::new();
    for (entry, content) in entries {
        spooler.add(entry.clone(), &mut &content[..]).unwrap();
    }
    let mut writer =
        LayerWriter::new(layout.blob_writer().unwrap(), LayerOptions { epoch: Some(EPOCH), ..Default::default() });
    spooler.write_to(&mut writer).unwrap();
    let (blob, summary) = writer.finish().unwrap();
    let (digest, size) = blob.commit().unwrap();
    assert_eq!((digest, size), (summary.digest.clone(), summary.size), "the blob is what the summary says");
    summary
}

fn history(step: &str) -> HistoryStep {
    HistoryStep { created_by: step.to_owned(), comment: None }
}

/// Writes `base` and `app` into a new layout in `dir`; returns the manifest digest of `app`.
fn write_both(dir: &Path) -> Digest {
    let layout = OciLayout::create(dir).unwrap();

    // The base: entries as a directory walk meets them, not in layer order.
    let base_layer = layer(
        &layout,
        &[
            (LayerEntry::file("etc/motd", 6, 0o644), b"hello\n"),
            (LayerEntry::file("bin/tool", 3, 0o755), b"#!\n"),
            (LayerEntry::dir("etc", 0o755), b""),
            (LayerEntry::symlink("bin/alias", "tool"), b""),
        ],
    );
    let base_config = ImageConfig { architecture: "amd64".into(), os: "linux".into(), ..Default::default() };
    let base = assemble(&ImageParts {
        base_config: &base_config,
        base_layers: &[],
        layer: &base_layer,
        changes: &ConfigChanges {
            env: vec![("PATH".into(), "/bin".into())],
            user: Some("0".into()),
            ..Default::default()
        },
        history: history("base"),
        epoch: Some(EPOCH),
        format: ManifestFormat::Oci,
        annotations: BTreeMap::new(),
    })
    .unwrap();
    layout.write_image(&base, Some("base")).unwrap();

    // The app, on the base as the layout holds it.
    let descriptor = layout.resolve(Some("base")).unwrap();
    let manifest = layout.read_manifest(&descriptor).unwrap();
    let config = layout.read_config(&manifest).unwrap();
    let app_layer = layer(
        &layout,
        &[
            (LayerEntry::file("srv/app/index.html", 4, 0o644).owned_by(1001, 0), b"<p/>"),
            (LayerEntry::whiteout("etc/motd"), b""),
        ],
    );
    let app = assemble(&ImageParts {
        base_config: &config,
        base_layers: &manifest.layers,
        layer: &app_layer,
        changes: &ConfigChanges {
            cmd: Some(vec!["/bin/tool".into()]),
            env: vec![("PATH".into(), "/srv/app:/bin".into()), ("APP".into(), "1".into())],
            user: Some("1001".into()),
            labels: BTreeMap::from([("io.openshift.s2i.build.image".into(), "base".into())]),
            ..Default::default()
        },
        history: history("app"),
        epoch: Some(EPOCH),
        format: ManifestFormat::Oci,
        annotations: BTreeMap::new(),
    })
    .unwrap();
    layout.write_image(&app, Some("app")).unwrap().digest
}

#[test]
fn a_layout_written_read_back_and_archived() {
    let dir = tempfile::tempdir().unwrap();
    let app_digest = write_both(&dir.path().join("layout"));

    // Read back by a reader that did not write it.
    let layout = OciLayout::open(dir.path().join("layout")).unwrap();
    assert_eq!(layout.references().unwrap(), ["base", "app"]);
    let app = layout.resolve(Some("app")).unwrap();
    assert_eq!(app.digest, app_digest);
    let manifest = layout.read_manifest(&app).unwrap();
    let base_manifest = layout.read_manifest(&layout.resolve(Some("base")).unwrap()).unwrap();
    assert_eq!(manifest.layers.len(), 2);
    assert_eq!(manifest.layers[0], base_manifest.layers[0], "the base layer is referenced, not rewritten");
    for layer in &manifest.layers {
        assert!(layout.has_blob(&layer.digest), "{}", layer.digest);
    }
    let config = layout.read_config(&manifest).unwrap();
    assert_eq!(config.rootfs.diff_ids.len(), 2);
    let container = config.config.as_ref().expect("a container config");
    assert_eq!(container.user, "1001");
    assert_eq!(container.cmd.as_deref(), Some(&["/bin/tool".to_owned()][..]));
    assert_eq!(container.env, ["PATH=/srv/app:/bin", "APP=1"], "a variable of the base keeps its place");
    assert_eq!(container.labels["io.openshift.s2i.build.image"], "base");
    let steps: Vec<&str> = config.history.iter().filter_map(|h| h.created_by.as_deref()).collect();
    assert_eq!(steps, ["base", "app"]);

    // The same inputs, another directory: the same digest.
    let again = tempfile::tempdir().unwrap();
    assert_eq!(write_both(again.path()), app_digest);

    // An oci-archive of the layout, read back as skopeo's `oci-archive:FILE:app` would name it.
    let file = dir.path().join("app.tar");
    write_file_atomically(&file, |out| write_oci_archive(&layout, out, EPOCH).map(drop)).unwrap();
    let location = ImageLocation::parse(&format!("oci-archive:{}:app", file.display())).unwrap();
    let ImageLocation::OciArchive { file: named, reference } = location else { panic!("{location:?}") };
    assert_eq!((named.as_path(), reference.as_deref()), (file.as_path(), Some("app")));
    let archive = OciArchive::open(&file).unwrap();
    assert_eq!(archive.layout().resolve(Some("app")).unwrap().digest, app_digest);
    let bytes = std::fs::read(&file).unwrap();
    write_file_atomically(&file, |out| write_oci_archive(&layout, out, EPOCH).map(drop)).unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), bytes, "the archive is deterministic too");
}
