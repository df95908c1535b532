//! Images s2i writes itself — `--source-date-epoch`, `--output`, `--sbom`,
//! `--provenance` — judged by programs no one here wrote: skopeo reads and
//! copies the OCI outputs, `docker load` takes the docker-archive, Debian's
//! `docker-registry` (htpasswd, credentials from `REGISTRY_AUTH_FILE`)
//! takes the push and the engine pulls it back by digest; the SPDX
//! project's validator (`pyspdxtools`) reads the SBOMs.

mod support;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use sha2::Digest as _;
use support::*;

const EPOCH: &str = "1700000000";
/// `EPOCH` as image configs write it.
const EPOCH_TIME: &str = "2023-11-14T22:13:20Z";

/// Run skopeo (which must be installed) and return its stdout.
fn skopeo(args: &[&str]) -> String {
    let out = Command::new("skopeo").args(args).output().unwrap_or_else(|e| {
        panic!("skopeo is needed to check the outputs ({e}): install it with `cargo xtask packages`")
    });
    assert!(out.status.success(), "skopeo {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn skopeo_json(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&skopeo(args)).expect("skopeo answers JSON")
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `s2i build`, asserting success.
fn build(args: &[&str]) -> Run {
    run_s2i(std::iter::once("build").chain(args.iter().copied())).ok()
}

/// The manifest digest of the image named `reference` in the OCI layout `dir`, as skopeo reads it.
fn layout_digest(dir: &Path, reference: &str) -> String {
    skopeo_json(&["inspect", &format!("oci:{}:{reference}", dir.display())])["Digest"].as_str().unwrap().to_owned()
}

/// A blob of an OCI layout.
fn blob(dir: &Path, digest: &str) -> Vec<u8> {
    std::fs::read(dir.join("blobs/sha256").join(digest.trim_start_matches("sha256:"))).unwrap()
}

/// SHA-256 in hex.
fn sha256(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn the_same_source_anywhere_gives_the_same_image_and_another_epoch_another() {
    let builder = fixture("busybox-builder");
    let out = Image::fresh("repro");
    let files = [("index.html", "the same"), ("bin/start.sh", "#!/bin/sh\necho started\n")];
    let first_source = source(&files);
    // Another directory, written a second later: other paths, other times.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second_source = source(&files);
    let layouts = tempfile::tempdir().unwrap();
    let run = |source: &Path, epoch: &str, layout: &str| {
        let output = format!("oci:{}:app", layouts.path().join(layout).display());
        let run =
            build(&[source.to_str().unwrap(), &builder, &out.0, "--source-date-epoch", epoch, "--output", &output]);
        (run, image_id(&out.0).expect("the engine has the image"), layout_digest(&layouts.path().join(layout), "app"))
    };

    let (first, first_id, first_digest) = run(first_source.path(), EPOCH, "first");
    assert!(
        first.stderr.contains(&format!("the builder image {builder} is named by a tag, which can move")),
        "the moving tag is warned about: {}",
        first.stderr
    );
    let (_, second_id, second_digest) = run(second_source.path(), EPOCH, "second");
    assert_eq!(first_id, second_id, "the same image ID");
    assert_eq!(first_digest, second_digest, "the same manifest digest");
    let (_, later_id, later_digest) = run(second_source.path(), "1700000001", "later");
    assert_ne!(later_id, first_id, "another epoch, another image");
    assert_ne!(later_digest, first_digest);

    let (_, again_id, _) = run(first_source.path(), EPOCH, "again");
    let info = inspect(&out.0);
    assert_eq!(again_id, first_id);
    assert_eq!(info["Created"], EPOCH_TIME, "created is the epoch, not the clock");
    let labels = info["Config"]["Labels"].as_object().unwrap();
    assert!(!labels.contains_key("io.openshift.s2i.owner"), "no build container owner: {labels:?}");
    assert!(!labels.contains_key("io.openshift.s2i.build.source-location"), "no host path: {labels:?}");
    let rebuild = run_s2i(["rebuild", &out.0]).failed();
    assert!(flat(&rebuild.stderr).contains("does not record its source"), "{}", rebuild.stderr);
    let times = run_in(&out.0, &["stat", "-c", "%Y %n", "/opt/app-root/src/index.html", "/tmp/src/bin/start.sh"]);
    for line in times.lines() {
        assert!(line.starts_with(EPOCH), "times are clamped to the epoch: {line}");
    }

    // Named by its ID, the builder cannot move: no warning.
    let pinned = build(&[
        second_source.path().to_str().unwrap(),
        &image_id(&builder).unwrap(),
        &out.0,
        "--source-date-epoch",
        EPOCH,
    ]);
    assert!(!pinned.stderr.contains("which can move"), "{}", pinned.stderr);
}

#[test]
fn every_file_output_is_read_by_skopeo_and_docker_without_an_epoch() {
    let builder = fixture("busybox-builder");
    let src = source(&[("index.html", "from the outputs")]);
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let oci_archive = dir.path().join("app.oci.tar");
    let docker_archive = dir.path().join("app.docker.tar");
    let name = format!("s2i-test/{}:archive", unique("outputs"));
    let loaded = Image(name.clone());
    let metadata = dir.path().join("metadata.json");
    let run = build(&[
        src.path().to_str().unwrap(),
        &builder,
        "--output",
        &format!("oci:{}:app", layout.display()),
        "--output",
        &format!("oci-archive:{}:app", oci_archive.display()),
        "--output",
        &format!("docker-archive:{}:{name}", docker_archive.display()),
        "--metadata-file",
        metadata.to_str().unwrap(),
    ]);
    let metadata = json(&metadata);
    let image_id = metadata["imageId"].as_str().unwrap().to_owned();
    assert_eq!(run.stdout.trim(), image_id, "the ID on stdout, as for an untagged build");
    assert_eq!(metadata["epoch"], serde_json::Value::Null);
    assert!(support::image_id(&image_id).is_none(), "no docker-daemon output: the engine has no image");
    let digest = metadata["manifestDigest"].as_str().unwrap().to_owned();
    let outputs = metadata["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 3);
    assert_eq!(outputs[0]["digest"], digest.as_str());
    assert_eq!(outputs[1]["digest"], digest.as_str());

    let inspected = skopeo_json(&["inspect", &format!("oci:{}:app", layout.display())]);
    assert_eq!(inspected["Digest"], digest.as_str());
    assert_ne!(inspected["Created"], EPOCH_TIME, "without an epoch the time is the build's");
    let copied = dir.path().join("copied");
    skopeo(&["copy", "--quiet", &format!("oci:{}:app", layout.display()), &format!("dir:{}", copied.display())]);
    assert!(copied.join("manifest.json").is_file());
    let archived = skopeo_json(&["inspect", &format!("oci-archive:{}:app", oci_archive.display())]);
    assert_eq!(archived["Digest"], digest.as_str());
    let config = skopeo_json(&["inspect", "--config", &format!("oci:{}:app", layout.display())]);
    assert_eq!(config["config"]["Cmd"][0], "/usr/libexec/s2i/run");

    let out = docker_ok(&["load", "-i", docker_archive.to_str().unwrap()]);
    assert!(out.contains(&name), "{out}");
    assert_eq!(support::image_id(&loaded.0).as_deref(), Some(image_id.as_str()), "the engine's ID is ours");
    assert_eq!(run_in(&loaded.0, &["cat", "/opt/app-root/src/index.html"]), "from the outputs");
}

/// A registry that wants `tester` and a fresh password, and an `auth.json` for it.
fn authenticated_registry(home: &Path) -> (Registry, String, std::path::PathBuf) {
    let password = unique("secret");
    let hash = bcrypt::hash(&password, 4).expect("bcrypt hashes");
    let registry = Registry::start_with(Some(&format!("tester:{hash}")));
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("tester:{password}"));
    let file = home.join("auth.json");
    std::fs::write(&file, format!(r#"{{"auths": {{"{}": {{"auth": "{auth}"}}}}}}"#, registry.host)).unwrap();
    (registry, password, file)
}

/// `s2i build ARGS` as the user whose home is `home`, with the registry
/// credentials of `auth_file`, and flags that take a file; asserts success.
fn build_with_credentials(home: &Path, auth_file: &Path, args: &[&str], files: &[(&str, &Path)]) -> Run {
    let mut command = isolated(home);
    command.env("REGISTRY_AUTH_FILE", auth_file).arg("build").args(args);
    for (flag, file) in files {
        command.arg(flag).arg(file);
    }
    Run::from(command.output().unwrap()).ok()
}

/// Digests of the blobs uploaded to `repository` that the registry's log records after `from` bytes.
fn uploaded_blobs(registry: &Registry, repository: &str, from: usize) -> Vec<String> {
    let log = registry.log_text();
    let marker = format!("PUT /v2/{repository}/blobs/uploads/");
    log[from..]
        .lines()
        .filter(|line| line.contains(&marker))
        .filter_map(|line| line.split("digest=").nth(1))
        .map(|rest| rest.split([' ', '&', '"']).next().unwrap().replace("%3A", ":"))
        .collect()
}

#[test]
fn a_push_is_pulled_by_digest_with_its_referrers_sends_no_blob_twice_and_mounts_a_builders_layers() {
    let home = tempfile::tempdir().unwrap();
    let (registry, password, auth_file) = authenticated_registry(home.path());
    let builder = fixture("busybox-builder");
    let src = source(&[("index.html", "pushed by s2i")]);
    let repository = format!("team/{}", unique("push"));
    let metadata = home.path().join("metadata.json");
    let sbom = home.path().join("sbom.spdx.json");
    let provenance = home.path().join("provenance.json");
    let target = format!("docker://{}/{repository}:1", registry.host);
    let run = build_with_credentials(
        home.path(),
        &auth_file,
        &[src.path().to_str().unwrap(), &builder, "--source-date-epoch", EPOCH, "--output", &target],
        &[("--sbom", &sbom), ("--provenance", &provenance), ("--metadata-file", &metadata)],
    );
    assert!(!run.stderr.contains(&password), "the password never reaches the output");
    let metadata = json(&metadata);
    let digest = metadata["outputs"][0]["digest"].as_str().unwrap().to_owned();
    let image_id = metadata["imageId"].as_str().unwrap().to_owned();
    let credentials = Some(("tester", password.as_str()));
    assert_eq!(registry.digest_as(&repository, "1", credentials), Some(digest.clone()), "the registry serves it");

    // The engine pulls it by digest, with credentials of its own, and runs it.
    let docker_config = home.path().join("docker-cli");
    std::fs::create_dir_all(&docker_config).unwrap();
    std::fs::copy(&auth_file, docker_config.join("config.json")).unwrap();
    let pulled = format!("{}/{repository}@{digest}", registry.host);
    let _pulled = Image(pulled.clone());
    docker_ok(&["--config", docker_config.to_str().unwrap(), "pull", &pulled]);
    assert_eq!(support::image_id(&pulled).as_deref(), Some(image_id.as_str()));
    assert_eq!(run_in(&pulled, &["cat", "/opt/app-root/src/index.html"]), "pushed by s2i");

    // Debian's registry has no referrers API: the referrers tag holds them.
    let creds = format!("tester:{password}");
    let tag = format!("docker://{}/{repository}:sha256-{}", registry.host, digest.trim_start_matches("sha256:"));
    let index: serde_json::Value =
        serde_json::from_str(&skopeo(&["inspect", "--raw", "--tls-verify=false", "--creds", &creds, &tag])).unwrap();
    let kinds: Vec<&str> =
        index["manifests"].as_array().unwrap().iter().map(|m| m["artifactType"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["application/spdx+json", "application/vnd.in-toto+json"]);
    let referrers: Vec<&str> =
        metadata["outputs"][0]["referrers"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    let listed: Vec<&str> =
        index["manifests"].as_array().unwrap().iter().map(|m| m["digest"].as_str().unwrap()).collect();
    assert_eq!(referrers, listed);
    let statement = json(&provenance);
    assert_eq!(statement["subject"][0]["digest"]["sha256"], digest.trim_start_matches("sha256:"));
    assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
    assert_eq!(json(&sbom)["spdxVersion"], "SPDX-2.3");

    // The same build again, to another tag: every blob is there already.
    let manifest: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        "--creds",
        &creds,
        &format!("docker://{}/{repository}@{digest}", registry.host),
    ]))
    .unwrap();
    let image_blobs: Vec<String> = std::iter::once(&manifest["config"])
        .chain(manifest["layers"].as_array().unwrap())
        .map(|d| d["digest"].as_str().unwrap().to_owned())
        .collect();
    let first_uploads = uploaded_blobs(&registry, &repository, 0);
    assert!(image_blobs.iter().all(|b| first_uploads.contains(b)), "the first push sent them: {first_uploads:?}");
    let before = registry.log_text().len();
    let again_target = format!("docker://{}/{repository}:2", registry.host);
    let again_args = [src.path().to_str().unwrap(), &builder, "--source-date-epoch", EPOCH, "--output", &again_target];
    let again = build_with_credentials(home.path(), &auth_file, &again_args, &[]);
    assert!(again.stderr.contains(&digest), "the same digest: {}", again.stderr);
    let resent: Vec<String> =
        uploaded_blobs(&registry, &repository, before).into_iter().filter(|b| image_blobs.contains(b)).collect();
    assert!(resent.is_empty(), "no layer or config is sent again: {resent:?}");
    assert_eq!(registry.digest_as(&repository, "2", credentials), Some(digest));

    // That image as the builder of another repository of the same registry:
    // its layers are mounted from its repository, not sent.
    let layered = format!("team/{}", unique("layered"));
    let before = registry.log_text().len();
    let layered_target = format!("docker://{}/{layered}:1", registry.host);
    let layered_args =
        [src.path().to_str().unwrap(), &pulled, "--source-date-epoch", EPOCH, "--output", &layered_target];
    build_with_credentials(home.path(), &auth_file, &layered_args, &[]);
    let log = registry.log_text()[before..].to_owned();
    let uploaded = uploaded_blobs(&registry, &layered, before);
    for layer in &image_blobs[1..] {
        let hex = layer.trim_start_matches("sha256:");
        let mounted = log.lines().any(|line| {
            line.contains(&format!("POST /v2/{layered}/blobs/uploads/?mount="))
                && line.contains(hex)
                && line.contains(" 201 ")
        });
        assert!(mounted, "{layer} is mounted from {repository}: {log}");
        assert!(!uploaded.contains(layer), "{layer} is not sent: {uploaded:?}");
    }
    assert!(registry.digest_as(&layered, "1", credentials).is_some());
}

#[test]
fn the_sbom_lists_the_layer_files_and_both_documents_are_referrers_in_the_layout() {
    let builder = fixture("busybox-builder");
    let src = source(&[
        ("index.html", "<h1>sbom</h1>"),
        ("requirements.txt", "flask==2.3.2\ngunicorn\n"),
        ("sub/app.py", "print('hi')\n"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let sbom = dir.path().join("sbom.json");
    let provenance = dir.path().join("provenance.json");
    build(&[
        src.path().to_str().unwrap(),
        &builder,
        "--source-date-epoch",
        EPOCH,
        "--output",
        &format!("oci:{}:app", layout.display()),
        "--sbom",
        sbom.to_str().unwrap(),
        "--provenance",
        provenance.to_str().unwrap(),
    ]);
    let digest = layout_digest(&layout, "app");
    let manifest: serde_json::Value = serde_json::from_slice(&blob(&layout, &digest)).unwrap();
    let top = manifest["layers"].as_array().unwrap().last().unwrap()["digest"].as_str().unwrap().to_owned();

    // Every regular file of the layer, with the SHA-256 of its content.
    let compressed = blob(&layout, &top);
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&compressed[..]));
    let mut in_layer = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type().is_file() {
            let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            in_layer.insert(path, sha256(&content));
        }
    }
    assert!(in_layer.contains_key("opt/app-root/src/sub/app.py"), "{in_layer:?}");
    let document = json(&sbom);
    let listed: BTreeMap<String, String> = document["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| {
            let name = file["fileName"].as_str().unwrap().trim_start_matches("./").to_owned();
            let checksum = file["checksums"].as_array().unwrap().iter().find(|c| c["algorithm"] == "SHA256").unwrap();
            (name, checksum["checksumValue"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(listed, in_layer, "the SBOM lists exactly the layer's files");
    let purls: Vec<&str> = document["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["externalRefs"][0]["referenceLocator"].as_str())
        .collect();
    assert!(purls.contains(&"pkg:pypi/flask@2.3.2") && purls.contains(&"pkg:pypi/gunicorn"), "{purls:?}");
    assert_eq!(document["creationInfo"]["created"], EPOCH_TIME);

    // The layout's index lists both documents as artifacts whose subject is the image.
    let index = json(&layout.join("index.json"));
    let mut kinds = Vec::new();
    for entry in index["manifests"].as_array().unwrap().iter().filter(|m| m.get("artifactType").is_some()) {
        let artifact: serde_json::Value =
            serde_json::from_slice(&blob(&layout, entry["digest"].as_str().unwrap())).unwrap();
        assert_eq!(artifact["subject"]["digest"], digest.as_str());
        let content = blob(&layout, artifact["layers"][0]["digest"].as_str().unwrap());
        let expected = if entry["artifactType"] == "application/spdx+json" { &sbom } else { &provenance };
        assert_eq!(content, std::fs::read(expected).unwrap(), "the attached document is the one written");
        kinds.push(entry["artifactType"].as_str().unwrap().to_owned());
    }
    assert_eq!(kinds, ["application/spdx+json", "application/vnd.in-toto+json"]);
    assert_eq!(layout_digest(&layout, "app"), digest, "skopeo still reads the image among its referrers");
}

/// The SPDX project's validator (`pyspdxtools`): on `PATH`, or where `cargo
/// xtask packages` installs it (`<target>/spdx-tools`); `None` (the test
/// skips its check) when there is none, unless `S2I_REQUIRE_ENGINE=1`, which
/// makes it a failure.
fn spdx_validator() -> Option<PathBuf> {
    let installed = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().map(|t| t.join("spdx-tools/bin/pyspdxtools"));
    let runs = |program: &PathBuf| Command::new(program).arg("--help").output().is_ok_and(|o| o.status.success());
    if let Some(found) = std::iter::once(PathBuf::from("pyspdxtools")).chain(installed).find(runs) {
        return Some(found);
    }
    let message = "pyspdxtools (the SPDX validator) is neither on PATH nor in <target>/spdx-tools: \
                   install it with `cargo xtask packages`";
    assert!(std::env::var("S2I_REQUIRE_ENGINE").map_or(true, |v| v != "1"), "{message}");
    #[allow(clippy::print_stderr)] // A skip says why.
    {
        eprintln!("skipped: {message}");
    }
    None
}

/// Assert that the SPDX validator, when there is one, finds `document` valid.
fn assert_valid_spdx(document: &Path) {
    let Some(validator) = spdx_validator() else { return };
    let out = Command::new(&validator).arg("--infile").arg(document).output().unwrap();
    assert!(
        out.status.success(),
        "{} finds the SBOM invalid:\n{}{}",
        validator.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Assert that two documents are the same bytes, showing where they differ.
fn assert_same_document(what: &str, a: &[u8], b: &[u8]) {
    let at = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    let around = |d: &[u8]| String::from_utf8_lossy(&d[at.saturating_sub(80)..(at + 80).min(d.len())]).into_owned();
    assert!(a == b, "the {what}s differ at byte {at}:\n{}\n---\n{}", around(a), around(b));
}

/// `s2i build` of `source` (from `cwd`) into `oci:<dir>/<name>:app` with an
/// SBOM and a provenance statement; their bytes.
fn documents(cwd: &Path, source: &str, dir: &Path, name: &str, args: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let (sbom, provenance) = (dir.join(format!("{name}.spdx.json")), dir.join(format!("{name}.intoto.json")));
    let run = s2i()
        .current_dir(cwd)
        .args(["build", source, &fixture("busybox-builder"), "--output"])
        .arg(format!("oci:{}:app", dir.join(name).display()))
        .arg("--sbom")
        .arg(&sbom)
        .arg("--provenance")
        .arg(&provenance)
        .args(args)
        .output()
        .unwrap();
    Run::from(run).ok();
    assert_valid_spdx(&sbom);
    (std::fs::read(&sbom).unwrap(), std::fs::read(&provenance).unwrap())
}

#[test]
fn the_same_content_from_other_directories_gives_the_same_valid_sbom_and_provenance() {
    let files = [("index.html", "<h1>same</h1>"), ("requirements.txt", "flask==2.3.2\n"), ("sub/app.py", "print(1)\n")];
    let dir = tempfile::tempdir().unwrap();
    let mut made = Vec::new();
    for name in ["src1", "another-name"] {
        write_files(&dir.path().join(name), &files);
        made.push(documents(dir.path(), name, dir.path(), &format!("{name}-out"), &["--source-date-epoch", EPOCH]));
    }
    let [(sbom, provenance), (other_sbom, other_provenance)] = <[_; 2]>::try_from(made).ok().unwrap();
    assert_same_document("SBOM", &sbom, &other_sbom);
    assert_same_document("provenance statement", &provenance, &other_provenance);
    let temp = dir.path().to_str().unwrap();
    for text in [String::from_utf8(sbom).unwrap(), String::from_utf8(provenance).unwrap()] {
        assert!(!text.contains("src1") && !text.contains(temp), "no directory is named: {text}");
    }
}

#[test]
fn a_git_repository_of_this_machine_gives_a_valid_sbom_that_names_no_path() {
    let repository = repository_at(1_650_000_000);
    let copy = tempfile::tempdir().unwrap();
    let status = Command::new("cp").arg("-a").arg(repository.path()).arg(copy.path().join("g")).status();
    assert!(status.unwrap().success());
    let out = tempfile::tempdir().unwrap();
    // A relative path to one clone, a file:// URL of the other.
    let (sbom, provenance) = documents(copy.path(), "g", out.path(), "relative", &[]);
    let url = format!("file://{}", repository.path().display());
    let (other_sbom, other_provenance) = documents(out.path(), &url, out.path(), "url", &[]);
    assert_same_document("SBOM", &sbom, &other_sbom);
    assert_same_document("provenance statement", &provenance, &other_provenance);

    let commit = git2::Repository::open(repository.path()).unwrap().head().unwrap().target().unwrap().to_string();
    let document: serde_json::Value = serde_json::from_slice(&sbom).unwrap();
    let packages = document["packages"].as_array().unwrap();
    let source = packages.iter().find(|p| p["SPDXID"] == "SPDXRef-Source").unwrap();
    assert_eq!(source["versionInfo"], commit.as_str());
    assert_eq!(source["downloadLocation"], "NOASSERTION", "a path is no download location");
    let statement: serde_json::Value = serde_json::from_slice(&provenance).unwrap();
    let dependency = &statement["predicate"]["buildDefinition"]["resolvedDependencies"][1];
    assert_eq!(dependency["digest"]["gitCommit"], commit.as_str());
    assert!(dependency.get("uri").is_none(), "{dependency}");
}

#[test]
fn names_that_are_not_utf8_keep_their_bytes_in_a_written_image() {
    use std::os::unix::ffi::OsStrExt;
    let builder = fixture("busybox-builder");
    let src = source(&[("index.html", "x")]);
    std::fs::write(src.path().join(std::ffi::OsStr::from_bytes(b"caf\xe9.txt")), "latin-1 name").unwrap();
    let out = Image::fresh("latin1-written");
    build(&[src.path().to_str().unwrap(), &builder, &out.0, "--source-date-epoch", EPOCH]);
    // The engine lists such a name with U+FFFD: s2i still finds the file, with its bytes.
    for dir in ["/tmp/src", "/opt/app-root/src"] {
        let listing = docker_run(&[&out.0, "sh", "-c", &format!("for f in {dir}/caf*; do printf '%s' \"$f\"; done")]);
        assert!(listing.status.success());
        assert_eq!(listing.stdout, [dir.as_bytes(), b"/caf\xe9.txt"].concat());
        assert_eq!(run_in(&out.0, &["sh", "-c", &format!("cat {dir}/caf?.txt")]), "latin-1 name");
    }

    // A builder file with such a name that assemble deletes: the engine's list
    // cannot name it for a whiteout, so its directory goes into the layer whole.
    // The builder is an s2i build too (the docker CLI cannot commit on Podman 4.3).
    let with_names = Image::fresh("latin1-builder");
    let www = "/opt/app-root/src/www";
    let make = format!("#!/bin/sh\nmkdir -p {www} && touch {www}/old$(printf '\\351') {www}/kept\n");
    let src = source(&[("index.html", "x"), (".s2i/bin/assemble", &make)]);
    build(&[src.path().to_str().unwrap(), &builder, &with_names.0]);
    let assemble = format!("#!/bin/sh\nrm {www}/old*\necho new > {www}/new\n");
    let src = source(&[("index.html", "x"), (".s2i/bin/assemble", &assemble)]);
    let out = Image::fresh("latin1-deleted");
    build(&[src.path().to_str().unwrap(), &with_names.0, &out.0, "--source-date-epoch", EPOCH]);
    assert_eq!(run_in(&out.0, &["ls", www]), "kept\nnew\n", "the deleted name is gone, the rest kept");

    // Deleted from a directory whose name is not UTF-8 either, which cannot
    // be carried in its place: the whiteout gets the name's bytes, found
    // among the builder's layers.
    let odd = format!("{www}/d$(printf '\\351')");
    let make = format!("#!/bin/sh\nmkdir -p {odd} && touch {odd}/old$(printf '\\350') {odd}/kept\n");
    let with_odd = Image::fresh("latin1-odd-builder");
    let src = source(&[("index.html", "x"), (".s2i/bin/assemble", &make)]);
    build(&[src.path().to_str().unwrap(), &builder, &with_odd.0]);
    let assemble = format!("#!/bin/sh\nrm {www}/d*/old*\n");
    let src = source(&[("index.html", "x"), (".s2i/bin/assemble", &assemble)]);
    let out = Image::fresh("latin1-odd-deleted");
    build(&[src.path().to_str().unwrap(), &with_odd.0, &out.0, "--source-date-epoch", EPOCH]);
    let listing = docker_run(&[&out.0, "sh", "-c", &format!("for f in {www}/d*/*; do printf '%s;' \"$f\"; done")]);
    assert!(listing.status.success());
    assert_eq!(listing.stdout, [www.as_bytes(), b"/d\xe9/kept;"].concat(), "only the deleted file is gone");
}

/// A git repository with one commit made at `time`.
fn repository_at(time: i64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(dir.path()).unwrap();
    std::fs::write(dir.path().join("index.html"), "committed").unwrap();
    let mut index = repo.index().unwrap();
    index.add_path(Path::new("index.html")).unwrap();
    index.write().unwrap();
    let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
    let signature = git2::Signature::new("Ada", "ada@example.com", &git2::Time::new(time, 0)).unwrap();
    repo.commit(Some("HEAD"), &signature, &signature, "The site", &tree, &[]).unwrap();
    dir
}

#[test]
fn a_git_source_is_built_at_its_commit_time_wherever_it_is_cloned() {
    let builder = fixture("busybox-builder");
    let repository = repository_at(1_650_000_000);
    let copy = tempfile::tempdir().unwrap();
    let status = Command::new("cp").arg("-a").arg(repository.path()).arg(copy.path().join("elsewhere")).status();
    assert!(status.unwrap().success());
    let out = Image::fresh("git-epoch");
    let first = build(&[repository.path().to_str().unwrap(), &builder, &out.0]);
    assert!(first.stderr.contains("epoch 1650000000 (the commit time of the source)"), "{}", first.stderr);
    let first_id = image_id(&out.0).unwrap();
    assert_eq!(inspect(&out.0)["Created"], "2022-04-15T05:20:00Z", "the commit's time");
    let elsewhere = copy.path().join("elsewhere");
    build(&[elsewhere.to_str().unwrap(), &builder, &out.0]);
    assert_eq!(image_id(&out.0).unwrap(), first_id, "the same commit gives the same image from another clone");
    let given = build(&[elsewhere.to_str().unwrap(), &builder, &out.0, "--source-date-epoch", "1650000001"]);
    assert!(given.stderr.contains("epoch 1650000001 (given)"), "the flag wins: {}", given.stderr);
    assert_ne!(image_id(&out.0).unwrap(), first_id);
}

#[test]
fn outputs_to_read_and_bad_epochs_are_refused() {
    let builder = fixture("busybox-builder");
    let src = source(&[("index.html", "x")]);
    let digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let refused = run_s2i([
        "build",
        src.path().to_str().unwrap(),
        &builder,
        "--output",
        &format!("docker://127.0.0.1:5000/app@{digest}"),
    ])
    .failed();
    assert!(flat(&refused.stderr).contains("a digest names an image to read"), "{}", refused.stderr);
    let bad = run_s2i(["build", src.path().to_str().unwrap(), &builder, "--output", "ftp:somewhere"]).failed();
    assert!(bad.stderr.contains("ftp") && bad.stderr.contains("oci-archive:"), "{}", bad.stderr);
    let epoch = Run::from(
        s2i()
            .env("SOURCE_DATE_EPOCH", "yesterday")
            .args(["build", src.path().to_str().unwrap(), &builder])
            .output()
            .unwrap(),
    )
    .failed();
    assert!(flat(&epoch.stderr).contains("\"yesterday\" is not a number of seconds"), "{}", epoch.stderr);
}

/// Where the other engine answers: `S2I_PODMAN_HOST`, else the service of
/// `cargo xtask podman`; `None` (the test is skipped) when there is none,
/// unless `S2I_REQUIRE_ENGINE=1`, which makes it a failure.
fn podman_host() -> Option<String> {
    let host = std::env::var("S2I_PODMAN_HOST").unwrap_or_else(|_| "unix:///run/s2i-podman/podman.sock".to_owned());
    let answers = Command::new("docker")
        .env("DOCKER_HOST", &host)
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if answers {
        return Some(host);
    }
    let message = format!("no Podman service answers at {host}: start one with `cargo xtask podman`");
    assert!(std::env::var("S2I_REQUIRE_ENGINE").map_or(true, |v| v != "1"), "{message}");
    #[allow(clippy::print_stderr)] // A skip says why.
    {
        eprintln!("skipped: {message}");
    }
    None
}

/// The Docker engine: `DOCKER_HOST` unless it points at Podman, else the default socket.
fn docker_host(podman: &str) -> String {
    match std::env::var("DOCKER_HOST") {
        Ok(host) if host != podman && !host.contains("podman") => host,
        _ => "unix:///var/run/docker.sock".to_owned(),
    }
}

#[test]
fn docker_and_podman_give_the_same_image() {
    let Some(podman) = podman_host() else { return };
    let docker = docker_host(&podman);
    let on = |host: &str, args: &[&str]| {
        let out = Command::new("docker").env("DOCKER_HOST", host).args(args).output().unwrap();
        assert!(out.status.success(), "docker {args:?} on {host}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // The same builder image on both engines: made on Docker from the fixture, with
    // directories for assemble to remove and make again, then saved and loaded into Podman.
    let builder = format!("s2i-test/{}:latest", unique("both-builder"));
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("builder.tar");
    let context = source(&[(
        "Dockerfile",
        "FROM s2i-fixtures/busybox-builder:latest\nUSER 0\nRUN mkdir -p /opt/app-root/src/keep /opt/app-root/cache \
         && echo old > /opt/app-root/src/keep/old && echo gone > /opt/app-root/src/gone \
         && echo a > /opt/app-root/cache/a && chown -R 1001:0 /opt/app-root\nUSER 1001\n",
    )]);
    on(&docker, &["build", "-q", "-t", &builder, context.path().to_str().unwrap()]);
    on(&docker, &["save", "-o", saved.to_str().unwrap(), &builder]);
    on(&podman, &["load", "-i", saved.to_str().unwrap()]);
    let builder_id = on(&docker, &["image", "inspect", "--format", "{{.Id}}", &builder]);
    assert_eq!(on(&podman, &["image", "inspect", "--format", "{{.Id}}", &builder]), builder_id);
    let out = format!("s2i-test/{}:latest", unique("both"));
    // Scripts of the test's own: the fixture's assemble records the environment, which the engines
    // set apart. Directories of the builder removed and made again: Podman lists them otherwise than
    // Docker, and the layer must not show it.
    let scripts = source(&[
        (
            "s2i/bin/assemble",
            "#!/bin/sh\nset -e\ncd /opt/app-root\nrm -rf src cache\nmkdir -p src/keep cache\n\
             cp -R /tmp/src/. src/\nmkdir -p src/made\necho built > src/made/by-assemble\n",
        ),
        ("s2i/bin/run", "#!/bin/sh\nexec cat /opt/app-root/src/index.html\n"),
    ]);
    let scripts_url = format!("file://{}", scripts.path().join("s2i/bin").display());
    let src = source(&[("index.html", "one image on both engines"), ("sub/data.txt", "data")]);
    let build_on = |host: &str, layout: &str| {
        let layout = dir.path().join(layout);
        let built = s2i()
            .env("DOCKER_HOST", host)
            .args(["build", src.path().to_str().unwrap(), &builder, &out, "--scripts-url", &scripts_url])
            .args(["--source-date-epoch", EPOCH, "--output"])
            .arg(format!("oci:{}:app", layout.display()))
            .output()
            .unwrap();
        Run::from(built).ok();
        let id = on(host, &["image", "inspect", "--format", "{{.Id}}", &out]);
        (id, layout_digest(&layout, "app"))
    };
    let cleanup = |host: &str| {
        let _ = Command::new("docker").env("DOCKER_HOST", host).args(["rmi", &out]).output();
        let _ = Command::new("docker").env("DOCKER_HOST", host).args(["rmi", &builder]).output();
    };
    let results = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let on_docker = build_on(&docker, "docker");
        let on_podman = build_on(&podman, "podman");
        // Not --rm: Podman 4.3 answers the CLI's removal wait wrongly (see support::docker_run).
        let container = unique("both-run");
        let ran = on(&podman, &["run", "--name", &container, &out]);
        on(&podman, &["rm", &container]);
        (on_docker, on_podman, ran)
    }));
    cleanup(&docker);
    cleanup(&podman);
    let ((docker_id, docker_digest), (podman_id, podman_digest), ran) =
        results.unwrap_or_else(|e| std::panic::resume_unwind(e));
    assert_eq!(docker_id, podman_id, "the same image ID on both engines");
    assert_eq!(docker_digest, podman_digest, "the same manifest digest on both engines");
    assert_eq!(ran, "one image on both engines");
    // The whiteouts Docker's list gives: what the removed directories lost, not opaque markers.
    let manifest: serde_json::Value =
        serde_json::from_slice(&blob(&dir.path().join("docker"), &layout_digest(&dir.path().join("docker"), "app")))
            .unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    let top = blob(&dir.path().join("docker"), layers.last().unwrap()["digest"].as_str().unwrap());
    let tar: Box<dyn std::io::Read> = if top.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(&top[..]))
    } else {
        Box::new(&top[..])
    };
    let mut names: Vec<String> = tar::Archive::new(tar)
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .filter(|name| name.contains(".wh."))
        .collect();
    names.sort();
    assert_eq!(names, ["opt/app-root/cache/.wh.a", "opt/app-root/src/.wh.gone", "opt/app-root/src/keep/.wh.old"]);
}

#[test]
fn an_oci_archive_is_copied_by_skopeo_and_an_unnamed_layout_keeps_one_image() {
    let builder = fixture("busybox-builder");
    let dir = tempfile::tempdir().unwrap();
    let (archive, layout) = (dir.path().join("app.oci.tar"), dir.path().join("layout"));
    let metadata = dir.path().join("metadata.json");
    let written = |files: &[(&str, &str)]| {
        let src = source(files);
        let args = [src.path().to_str().unwrap(), &builder, "--metadata-file", metadata.to_str().unwrap()];
        let outputs = [format!("oci-archive:{}", archive.display()), format!("oci:{}", layout.display())];
        build(&[&args[..], &["--output", &outputs[0], "--output", &outputs[1]]].concat());
        json(&metadata)["manifestDigest"].as_str().unwrap().to_owned()
    };
    let digest = written(&[("index.html", "first")]);

    // Without a name skopeo takes the archive's only image, and copies its manifest as it is.
    let copied = dir.path().join("copied");
    let from = format!("oci-archive:{}", archive.display());
    skopeo(&["copy", "--quiet", &from, &format!("oci:{}:copy", copied.display())]);
    assert_eq!(layout_digest(&copied, "copy"), digest);
    let plain = dir.path().join("plain");
    skopeo(&["copy", "--quiet", &from, &format!("dir:{}", plain.display())]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(plain.join("manifest.json")).unwrap()).unwrap();
    let config = manifest["config"]["digest"].as_str().unwrap().trim_start_matches("sha256:");
    assert!(plain.join(config).is_file(), "the config is copied: {manifest}");
    let unnamed = format!("oci:{}", layout.display());
    assert_eq!(skopeo_json(&["inspect", &unnamed])["Digest"], digest.as_str());

    // Another image into the same unnamed layout replaces the first: oci:DIR still reads one image.
    let second = written(&[("index.html", "second")]);
    assert_ne!(second, digest);
    assert_eq!(skopeo_json(&["inspect", &unnamed])["Digest"], second.as_str());
    assert_eq!(json(&layout.join("index.json"))["manifests"].as_array().unwrap().len(), 1);
}

#[test]
fn an_onbuild_builder_refuses_outputs_and_writes_none() {
    let builder = fixture("onbuild-builder");
    let src = source(&[("index.html", "x")]);
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("layout");
    let output = format!("oci:{}:app", layout.display());
    let run = run_s2i(["build", src.path().to_str().unwrap(), &builder, "--output", &output]).failed();
    let text = flat(&run.stderr);
    assert_eq!(run.code, 1, "{text}");
    assert!(text.contains("invalid --output") && text.contains("has ONBUILD triggers"), "{text}");
    assert!(text.contains("use a builder image without ONBUILD triggers"), "the fix is named: {text}");
    assert!(!layout.exists(), "nothing is written");
}

#[test]
fn outputs_that_cannot_be_written_as_asked_are_refused_before_assemble_runs() {
    let builder = fixture("busybox-builder");
    let src = source(&[("index.html", "x")]);
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).display().to_string();
    let named = dir.path().join("named");
    build(&[src.path().to_str().unwrap(), &builder, "--output", &format!("oci:{}:app", named.display())]);
    let index = std::fs::read(named.join("index.json")).unwrap();
    let inside_a_file = src.path().join("index.html/lay");
    let cases: &[(&[String], &str, String)] = &[
        (
            &[
                "--output".into(),
                format!("oci-archive:{}", at("noref.tar")),
                "--output".into(),
                format!("oci:{}", at("noref2")),
                "--provenance".into(),
                at("p.json"),
            ],
            "read without a name, a layout must list one manifest",
            format!("oci-archive:{}:latest", at("noref.tar")),
        ),
        (
            &["--output".into(), format!("oci:{}", at("noref2")), "--sbom".into(), at("s.json")],
            "referrers (an SBOM, provenance)",
            format!("oci:{}:latest", at("noref2")),
        ),
        (
            &[
                "--output".into(),
                format!("oci:{}:app", at("good")),
                "--output".into(),
                format!("oci:{}:app", inside_a_file.display()),
            ],
            "index.html is a file, so the directory",
            "name a directory that is not inside a file".into(),
        ),
        (
            &["--output".into(), format!("oci:{}", named.display())],
            "holds images named app",
            format!("oci:{}:latest", named.display()),
        ),
        (
            &["--output".into(), format!("oci-archive:{}", at("missing/app.tar"))],
            "does not exist",
            "make the directory first".into(),
        ),
        (
            &["--output".into(), format!("docker-archive:{}:app:1", dir.path().display())],
            "is a directory, and docker-archive: writes a file",
            format!("docker-archive:{}", dir.path().join("image.tar").display()),
        ),
    ];
    for (outputs, reason, help) in cases {
        let args = [
            &[src.path().to_str().unwrap(), builder.as_str()][..],
            &outputs.iter().map(String::as_str).collect::<Vec<_>>(),
        ]
        .concat();
        let run = run_s2i(std::iter::once("build").chain(args)).failed();
        let text = flat(&run.stderr);
        assert_eq!(run.code, 1, "{outputs:?}: {text}");
        assert!(text.contains("invalid --output") && text.contains(reason), "{outputs:?}: {text}");
        assert!(text.contains(help.as_str()), "the fix is named ({help}): {text}");
        assert!(!text.contains("Fetching source") && !text.contains("Running assemble"), "refused first: {text}");
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["named"], "nothing is written, no directory made");
    assert_eq!(std::fs::read(named.join("index.json")).unwrap(), index, "the layout is left as it was");
}
