//! Helpers of the integration tests: the programs that judge our output
//! (skopeo, the docker CLI), a base image from the fixtures, and one image
//! written the way a build will write it.

#![allow(dead_code, unreachable_pub, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use s2i_oci::archive::DockerArchive;
use s2i_oci::image::{AssembledImage, ConfigChanges, HistoryStep, ImageParts, ManifestFormat, assemble};
use s2i_oci::layer::{LayerEntry, LayerOptions, LayerSummary, LayerWriter, compress_layer};
use s2i_oci::layout::OciLayout;
use s2i_oci::sbom::SbomCollector;
use s2i_oci::spec::{Descriptor, ImageConfig};

/// The fixture image the tests build on.
pub const BASE: &str = "s2i-fixtures/base:latest";
/// The text of the file the new layer adds.
pub const HELLO: &str = "hello from a layer s2i wrote\n";

/// Whether `program` can run; when it cannot, the test fails under
/// `S2I_REQUIRE_ENGINE=1` and is skipped (with a line saying so) otherwise.
pub fn require(program: &str, install: &str) -> bool {
    let found = Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success());
    if found {
        return true;
    }
    let message = format!("`{program}` is needed to check this output: {install}");
    if std::env::var("S2I_REQUIRE_ENGINE").is_ok_and(|v| v == "1") {
        panic!("{message}");
    }
    eprintln!("skipped: {message}");
    false
}

/// Whether skopeo and the docker CLI with a reachable engine are there (see [`require`]).
pub fn require_tools() -> bool {
    if !require("skopeo", "apt-get install skopeo (or cargo xtask packages)") {
        return false;
    }
    if !require("docker", "start an engine with cargo xtask docker") {
        return false;
    }
    if run("docker", &["image", "inspect", BASE]).is_err() {
        let message = format!("the fixture image {BASE} is missing: run cargo xtask fixtures");
        if std::env::var("S2I_REQUIRE_ENGINE").is_ok_and(|v| v == "1") {
            panic!("{message}");
        }
        eprintln!("skipped: {message}");
        return false;
    }
    true
}

/// Run a program; its stdout, or `Err` with its output.
pub fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program).args(args).output().map_err(|e| format!("cannot run {program}: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Removes an engine image (by name) when dropped.
pub struct ImageGuard(pub String);

impl Drop for ImageGuard {
    fn drop(&mut self) {
        let _ = run("docker", &["rmi", "--force", &self.0]);
    }
}

/// Removes a container when dropped.
pub struct ContainerGuard(pub String);

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        let _ = run("docker", &["rm", "--force", &self.0]);
    }
}

/// The base image as the engine has it: `docker save` into `dir`, read back
/// with our docker-archive reader.
pub fn saved_base(dir: &Path) -> DockerArchive {
    let path = dir.join("base.tar");
    run("docker", &["save", "-o", path.to_str().unwrap(), BASE]).unwrap();
    DockerArchive::open(&path).unwrap()
}

/// The base's config and its layers, compressed into `layout`.
pub fn base_into_layout(base: &DockerArchive, layout: &OciLayout) -> (ImageConfig, Vec<Descriptor>) {
    let entry = base.image(Some(BASE)).unwrap().clone();
    let (_, config) = base.config(&entry).unwrap();
    let mut layers = Vec::new();
    for position in 0..entry.layers.len() {
        let mut tar = base.open_layer(&entry, position).unwrap();
        let (writer, summary) = compress_layer(&mut tar, layout.blob_writer().unwrap()).unwrap();
        writer.commit().unwrap();
        assert_eq!(summary.diff_id, config.rootfs.diff_ids[position], "the layer read is the one the config lists");
        layers.push(summary.descriptor());
    }
    (config, layers)
}

/// The layer a build would add: the app's files (owned by 1001), a lock
/// file, and the deletion of `/bin/arp`.
pub fn write_app_layer(layout: &OciLayout, epoch: u64, collector: &mut SbomCollector) -> LayerSummary {
    let requirements = b"flask==2.3.2\ngunicorn>=20\n";
    let entries: Vec<(LayerEntry, &[u8])> = vec![
        (LayerEntry::dir("bin", 0o755), b""),
        (LayerEntry::whiteout("bin/arp"), b""),
        (LayerEntry::dir("opt", 0o755), b""),
        (LayerEntry::dir("opt/app-root", 0o775).owned_by(1001, 0), b""),
        (LayerEntry::dir("opt/app-root/src", 0o775).owned_by(1001, 0).modified_at(u64::MAX / 2), b""),
        (
            LayerEntry::file("opt/app-root/src/hello.txt", HELLO.len() as u64, 0o644)
                .owned_by(1001, 0)
                .modified_at(4_000_000_000),
            HELLO.as_bytes(),
        ),
        (
            LayerEntry::file("opt/app-root/src/requirements.txt", requirements.len() as u64, 0o644).owned_by(1001, 0),
            requirements,
        ),
    ];
    let options = LayerOptions { epoch: Some(epoch), ..LayerOptions::default() };
    let mut writer = LayerWriter::new(layout.blob_writer().unwrap(), options).with_observer(collector);
    for (entry, content) in &entries {
        writer.append(entry, &mut &content[..]).unwrap();
    }
    let (blob, summary) = writer.finish().unwrap();
    let (digest, size) = blob.commit().unwrap();
    assert_eq!((digest, size), (summary.digest.clone(), summary.size));
    summary
}

/// The whole path of a build's output: base from the engine, new layer,
/// image assembled at `epoch`, written into `layout` as `reference`.
pub fn write_image(
    base: &DockerArchive,
    layout: &OciLayout,
    reference: &str,
    epoch: u64,
) -> (AssembledImage, Descriptor, SbomCollector) {
    let (config, base_layers) = base_into_layout(base, layout);
    let mut collector = SbomCollector::new();
    let layer = write_app_layer(layout, epoch, &mut collector);
    let changes = ConfigChanges {
        cmd: Some(vec!["/bin/cat".into(), "/opt/app-root/src/hello.txt".into()]),
        env: vec![("APP_ROOT".into(), "/opt/app-root".into())],
        user: Some("1001".into()),
        labels: BTreeMap::from([("io.s2i.test".into(), "oci".into())]),
        working_dir: Some("/opt/app-root/src".into()),
        exposed_ports: vec!["8080".into()],
        ..ConfigChanges::default()
    };
    let image = assemble(&ImageParts {
        base_config: &config,
        base_layers: &base_layers,
        layer: &layer,
        changes: &changes,
        history: HistoryStep { created_by: "s2i build (integration test)".into(), comment: None },
        epoch: Some(epoch),
        format: ManifestFormat::Oci,
        annotations: BTreeMap::new(),
    })
    .unwrap();
    let descriptor = layout.write_image(&image, Some(reference)).unwrap();
    (image, descriptor, collector)
}

/// The regular files of a gzip layer blob: path → SHA-256 hex.
pub fn files_of_layer(blob: impl Read) -> BTreeMap<String, String> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(blob));
    let mut files = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type() != tar::EntryType::Regular || entry.path_bytes().starts_with(b".wh.") {
            continue;
        }
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if path.rsplit('/').next().unwrap_or_default().starts_with(".wh.") {
            continue;
        }
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        files.insert(path, s2i_oci::Digest::of(&content).hex().to_owned());
    }
    files
}
