//! Images written by s2i-oci, judged by programs no one here wrote: skopeo
//! reads the layouts and archives, `docker load` and `docker run` take the
//! docker-archive. The base image comes from the engine (`docker save` of a
//! fixture), read with our docker-archive reader.

mod common;

use std::collections::BTreeMap;
use std::fs;

use common::*;
use s2i_oci::archive::{
    ArchiveLayer, DockerArchiveImage, OciArchive, write_docker_archive, write_file_atomically, write_oci_archive,
};
use s2i_oci::layout::OciLayout;
use s2i_oci::sbom::{ImageRef, SbomInputs, SourceRef, spdx_document};
use s2i_oci::spec::{self, ImageManifest, media_type};
use s2i_oci::{Digest, provenance};

const EPOCH: u64 = 1_700_000_000;

/// One image written into a layout under `app`, as a build writes it.
struct Written {
    dir: tempfile::TempDir,
    base: s2i_oci::archive::DockerArchive,
    layout: OciLayout,
    image: s2i_oci::image::AssembledImage,
    descriptor: s2i_oci::spec::Descriptor,
    collector: s2i_oci::sbom::SbomCollector,
}

fn written() -> Written {
    let dir = tempfile::tempdir().unwrap();
    let base = saved_base(dir.path());
    let layout = OciLayout::create(dir.path().join("layout")).unwrap();
    let (image, descriptor, collector) = write_image(&base, &layout, "app", EPOCH);
    Written { dir, base, layout, image, descriptor, collector }
}

fn skopeo_inspect(location: &str) -> serde_json::Value {
    let output = run("skopeo", &["inspect", location]).unwrap_or_else(|e| panic!("skopeo inspect {location}: {e}"));
    serde_json::from_str(&output).unwrap()
}

#[test]
fn oci_layout_is_read_and_copied_by_skopeo() {
    if !require_tools() {
        return;
    }
    let Written { dir, layout, image, descriptor, .. } = written();
    assert_eq!(descriptor.digest, image.manifest_descriptor.digest);

    let location = format!("oci:{}:app", layout.path().display());
    let inspected = skopeo_inspect(&location);
    assert_eq!(inspected["Digest"], image.manifest_descriptor.digest.to_string());
    assert_eq!(inspected["Labels"]["io.s2i.test"], "oci");
    assert_eq!(inspected["Created"], "2023-11-14T22:13:20Z");
    assert_eq!(inspected["Layers"].as_array().unwrap().len(), 2);
    let env: Vec<&str> = inspected["Env"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(env.contains(&"APP_ROOT=/opt/app-root"), "{env:?}");

    let config = run("skopeo", &["inspect", "--config", &location]).unwrap();
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(config["config"]["Cmd"][0], "/bin/cat");
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);

    let copy = dir.path().join("copy.tar");
    run("skopeo", &["copy", "--quiet", &location, &format!("docker-archive:{}:copy/app:1", copy.display())]).unwrap();
    let copied = skopeo_inspect(&format!("docker-archive:{}", copy.display()));
    assert_eq!(copied["Labels"]["io.s2i.test"], "oci");
}

#[test]
fn oci_archive_is_read_by_skopeo_and_by_us() {
    if !require_tools() {
        return;
    }
    let Written { dir, layout, image, .. } = written();
    let file = dir.path().join("app.oci.tar");
    write_file_atomically(&file, |out| write_oci_archive(&layout, out, EPOCH).map(drop)).unwrap();

    let inspected = skopeo_inspect(&format!("oci-archive:{}:app", file.display()));
    assert_eq!(inspected["Digest"], image.manifest_descriptor.digest.to_string());
    let only = skopeo_inspect(&format!("oci-archive:{}", file.display()));
    assert_eq!(only["Digest"], image.manifest_descriptor.digest.to_string(), "one image: no name needed");

    let archive = OciArchive::open(&file).unwrap();
    let found = archive.layout().resolve(Some("app")).unwrap();
    assert_eq!(found.digest, image.manifest_descriptor.digest);
    let manifest = archive.layout().read_manifest(&found).unwrap();
    assert_eq!(archive.layout().read_config(&manifest).unwrap().rootfs.diff_ids, image.diff_ids);
}

#[test]
fn docker_archive_is_loaded_and_run_by_docker() {
    if !require_tools() {
        return;
    }
    let Written { dir, layout, image, .. } = written();

    let name = format!("s2i-oci-test/{}:latest", unique("app"));
    let layers = image
        .layers
        .iter()
        .zip(&image.diff_ids)
        .map(|(descriptor, diff_id)| ArchiveLayer {
            descriptor: descriptor.clone(),
            diff_id: diff_id.clone(),
            uncompressed_size: None,
        })
        .collect();
    let archive_image =
        DockerArchiveImage { config: &image.config, repo_tags: vec![name.clone()], layers, leave_out: 0 };
    let file = dir.path().join("app.docker.tar");
    let mut open = |d: &s2i_oci::spec::Descriptor| -> s2i_oci::Result<Box<dyn std::io::Read>> {
        Ok(Box::new(layout.open_blob(&d.digest)?))
    };
    write_file_atomically(&file, |out| write_docker_archive(out, &archive_image, &mut open, EPOCH).map(drop)).unwrap();

    let inspected = skopeo_inspect(&format!("docker-archive:{}", file.display()));
    assert_eq!(inspected["Labels"]["io.s2i.test"], "oci");

    // Podman loads it too, into a store of its own inside the test's directory.
    if require("podman", "apt-get install podman (or cargo xtask packages)") {
        let root = dir.path().join("podman-root");
        let run_root = dir.path().join("podman-run");
        let podman = |args: &[&str]| {
            let mut all = vec!["--root", root.to_str().unwrap(), "--runroot", run_root.to_str().unwrap()];
            all.extend(["--storage-driver", "vfs"]);
            all.extend(args);
            run("podman", &all)
        };
        podman(&["load", "-i", file.to_str().unwrap()]).unwrap();
        let id = podman(&["image", "inspect", "--format", "{{.Id}}", &name]).unwrap();
        assert_eq!(format!("sha256:{}", id.trim()), image.config_descriptor.digest.to_string());
        podman(&["rmi", "--all", "--force"]).unwrap();
    }

    let _guard = ImageGuard(name.clone());
    let loaded = run("docker", &["load", "-i", file.to_str().unwrap()]).unwrap();
    assert!(loaded.contains(&name), "{loaded}");
    let id = run("docker", &["image", "inspect", "--format", "{{.Id}}", &name]).unwrap();
    assert_eq!(id.trim(), image.config_descriptor.digest.to_string(), "the engine's image ID is our config digest");
    let output = run("docker", &["run", "--rm", &name]).unwrap();
    assert_eq!(output, HELLO, "the image's command reads the file of our layer");
    let user = run("docker", &["run", "--rm", &name, "stat", "-c", "%u %a %Y", "/opt/app-root/src/hello.txt"]).unwrap();
    assert_eq!(user.trim(), format!("1001 644 {EPOCH}"), "owner kept, time clamped to the epoch");
    let gone = run("docker", &["run", "--rm", &name, "sh", "-c", "test -e /bin/arp && echo present || echo gone"]);
    assert_eq!(gone.unwrap().trim(), "gone", "the whiteout hides the base's file");
}

#[test]
fn same_inputs_give_the_same_digest_another_epoch_another() {
    if !require_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let base = saved_base(dir.path());
    let first = OciLayout::create(dir.path().join("first")).unwrap();
    let second = OciLayout::create(dir.path().join("second")).unwrap();
    let later = OciLayout::create(dir.path().join("later")).unwrap();
    let (a, _, _) = write_image(&base, &first, "app", EPOCH);
    let (b, _, _) = write_image(&base, &second, "app", EPOCH);
    let (c, _, _) = write_image(&base, &later, "app", EPOCH + 1);
    assert_eq!(a.manifest_descriptor.digest, b.manifest_descriptor.digest);
    assert_eq!(a, b);
    assert_eq!(fs::read(first.path().join("index.json")).unwrap(), fs::read(second.path().join("index.json")).unwrap());
    assert_ne!(a.manifest_descriptor.digest, c.manifest_descriptor.digest);
    assert_ne!(a.layers.last(), c.layers.last(), "the new layer's times differ");
    assert_eq!(a.layers[0], c.layers[0], "the base layer is the same blob");

    let archive = |layout: &OciLayout| write_oci_archive(layout, Vec::new(), EPOCH).unwrap();
    assert_eq!(Digest::of(&archive(&first)), Digest::of(&archive(&second)), "oci-archive bytes are reproducible");
    let inspected = skopeo_inspect(&format!("oci:{}:app", second.path().display()));
    assert_eq!(inspected["Digest"], a.manifest_descriptor.digest.to_string());
}

#[test]
fn sbom_and_provenance_are_referrers_skopeo_ignores() {
    if !require_tools() {
        return;
    }
    let Written { dir: _dir, base, layout, image, descriptor, collector } = written();
    let builder_id = base.config(base.image(Some(BASE)).unwrap()).unwrap().0;
    let image_ref = ImageRef { name: "app:latest".into(), digest: Some(image.manifest_descriptor.digest.clone()) };
    let builder = ImageRef { name: BASE.into(), digest: Some(Digest::of(&builder_id)) };
    let source = SourceRef::Git { url: Some("https://example.com/app.git".into()), commit: "0123456789abcdef".into() };
    let sbom = spdx_document(&SbomInputs {
        image: &image_ref,
        builder: &builder,
        source: &source,
        layer_diff_id: image.diff_ids.last(),
        epoch: Some(EPOCH),
        tool: "s2i-oci-test",
        collector: &collector,
    })
    .unwrap();
    let statement = provenance::statement(&provenance::ProvenanceInputs {
        image: &image_ref,
        builder: &builder,
        source: &source,
        parameters: BTreeMap::new(),
        internal_parameters: BTreeMap::new(),
        builder_id: "https://github.com/s2i-rs/s2i@test",
        epoch: Some(EPOCH),
        run: None,
    })
    .unwrap();
    let sbom_artifact =
        layout.add_referrer(&descriptor, media_type::SPDX_JSON, media_type::SPDX_JSON, &sbom, BTreeMap::new()).unwrap();
    layout
        .add_referrer(&descriptor, media_type::IN_TOTO_JSON, media_type::IN_TOTO_JSON, &statement, BTreeMap::new())
        .unwrap();

    let referrers = layout.referrers(&descriptor.digest, None).unwrap();
    let kinds: Vec<&str> = referrers.iter().map(|r| r.artifact_type.as_deref().unwrap()).collect();
    assert_eq!(kinds, [media_type::SPDX_JSON, media_type::IN_TOTO_JSON]);
    assert_eq!(referrers[0].digest, sbom_artifact.digest);

    // skopeo still reads the image, and reads the artifact as a manifest too.
    let inspected = skopeo_inspect(&format!("oci:{}:app", layout.path().display()));
    assert_eq!(inspected["Digest"], image.manifest_descriptor.digest.to_string());
    let raw = run("skopeo", &["inspect", "--raw", &format!("oci:{}:app", layout.path().display())]).unwrap();
    assert_eq!(Digest::of(raw.as_bytes()), image.manifest_descriptor.digest);

    // The SBOM read back from the layout lists exactly the layer's files, with their checksums.
    let artifact: ImageManifest = layout.read_manifest(&referrers[0]).unwrap();
    assert_eq!(artifact.subject.as_ref().unwrap().digest, descriptor.digest);
    let document: serde_json::Value = serde_json::from_slice(&layout.read_blob(&artifact.layers[0]).unwrap()).unwrap();
    let listed: BTreeMap<String, String> = document["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let name = f["fileName"].as_str().unwrap().trim_start_matches("./").to_owned();
            let sha256 = f["checksums"].as_array().unwrap().iter().find(|c| c["algorithm"] == "SHA256").unwrap();
            (name, sha256["checksumValue"].as_str().unwrap().to_owned())
        })
        .collect();
    let layer_blob = layout.open_blob(&image.layers.last().unwrap().digest).unwrap();
    assert_eq!(listed, files_of_layer(layer_blob));
    let purls: Vec<&str> = document["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["externalRefs"][0]["referenceLocator"].as_str())
        .collect();
    assert!(purls.contains(&"pkg:pypi/flask@2.3.2") && purls.contains(&"pkg:pypi/gunicorn"), "{purls:?}");
    let statement: serde_json::Value = serde_json::from_slice(&statement).unwrap();
    assert_eq!(statement["subject"][0]["digest"]["sha256"], image.manifest_descriptor.digest.hex());
    let _: ImageManifest = spec::from_json(&image.manifest, "manifest").unwrap();
}

#[test]
fn an_engine_export_normalises_reproducibly() {
    if !require_tools() {
        return;
    }
    let name = unique("s2i-oci-export");
    let _guard = ContainerGuard(name.clone());
    run("docker", &["create", "--name", &name, BASE]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let exported = dir.path().join("export.tar");
    run("docker", &["export", "-o", exported.to_str().unwrap(), &name]).unwrap();
    let options = s2i_oci::layer::LayerOptions { epoch: Some(EPOCH), ..Default::default() };
    let normalise = || {
        let mut input = fs::File::open(&exported).unwrap();
        s2i_oci::spool::normalise(&mut input, Vec::new(), options).unwrap()
    };
    let (first, a) = normalise();
    let (second, b) = normalise();
    assert_eq!(first, second);
    assert_eq!(a, b);
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&first[..]));
    let mut previous: Option<Vec<u8>> = None;
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        assert!(entry.header().mtime().unwrap() <= EPOCH, "times are clamped");
        assert_eq!(entry.header().username_bytes().unwrap_or_default(), b"", "no user names");
        let path = entry.path_bytes().into_owned();
        if let Some(previous) = &previous {
            assert_ne!(previous, &path);
        }
        previous = Some(path);
    }
    assert!(a.entries > 100, "busybox's links are all there: {}", a.entries);
}
