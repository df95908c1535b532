//! The backend as a downstream tool uses it: only the public API of
//! `s2i-runc` and the `ContainerRuntime` trait of `s2i-core`, on a plain
//! `#[tokio::test]` (a current-thread runtime), with runc and no daemon
//! involved. The image comes from a `docker-archive` of the fixture
//! `s2i-fixtures/base` (saved by the docker CLI, as a user would), goes
//! into a store of the test's own, and the container's commit comes out as
//! an OCI layout. Needs root (or subordinate ids) and runc.

use futures::StreamExt;
use s2i_core::runtime::{CommitSpec, ContainerRuntime, ContainerSpec, OutputKind, RuntimeErrorKind};
use s2i_oci::transport::ImageLocation;
use s2i_runc::{OciOptions, OciRuntime};
use tokio::io::AsyncWriteExt;

const IMAGE: &str = "s2i-fixtures/base:latest";

/// A runtime with a store of the test's own in `dir`, holding the fixture image.
async fn runtime_with_image(dir: &std::path::Path) -> OciRuntime {
    let saved = dir.join("base.tar");
    let out = std::process::Command::new("docker")
        .args(["save", "-o", saved.to_str().unwrap(), IMAGE])
        .output()
        .expect("the docker CLI runs");
    assert!(
        out.status.success(),
        "cannot save {IMAGE} (build the fixtures with `cargo xtask fixtures`): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let options = OciOptions {
        store_dir: Some(dir.join("store")),
        cache_dir: Some(dir.join("cache")),
        state_dir: Some(dir.join("state")),
        ..OciOptions::default()
    };
    let runtime = OciRuntime::connect(&options)
        .await
        .unwrap_or_else(|e| panic!("the daemonless backend cannot start (apt-get install runc): {e}"));
    let name = runtime.import(&ImageLocation::parse(&format!("docker-archive:{}", saved.display())).unwrap()).await;
    assert_eq!(name.unwrap(), "s2i-fixtures/base:latest");
    runtime
}

#[tokio::test]
async fn a_container_without_a_daemon_on_a_current_thread_runtime() {
    let dir = TestDir::new();
    let runtime = runtime_with_image(dir.path()).await;
    assert!(runtime.inspect_image(IMAGE).await.unwrap().is_some());
    assert_eq!(runtime.inspect_image("s2i-downstream/never-stored:none").await.unwrap(), None);

    // A container that reads its stdin into a file, writes to both streams and fails with its own code.
    // A container that copies its stdin into a file and to stdout, counts it
    // on stderr, and fails with its own code; stdin and output flow together
    // on this one thread.
    let script = "tee /tmp/input; wc -l < /tmp/input >&2; exit 3";
    let spec = ContainerSpec {
        image: IMAGE.to_owned(),
        entrypoint: Some(Vec::new()),
        cmd: vec!["/bin/sh".into(), "-c".into(), script.into()],
        stdin: true,
        ..ContainerSpec::default()
    };
    let id = runtime.create_container(&spec).await.unwrap();
    let attachment = runtime.attach_container(&id, true).await.unwrap();
    runtime.start_container(&id).await.unwrap();
    let input = "line\n".repeat(20_000); // more than one pipe buffer, each way
    let mut stdin = attachment.stdin.expect("stdin was asked for");
    let feed = async {
        stdin.write_all(input.as_bytes()).await.unwrap();
        stdin.shutdown().await.unwrap(); // end of file for the container, stdin still held
    };
    let chunks = attachment.output.map(Result::unwrap).collect::<Vec<_>>();
    let ((), chunks) = tokio::join!(feed, chunks);
    drop(stdin);
    let stream = |kind: OutputKind| -> String {
        chunks.iter().filter(|c| c.kind == kind).map(|c| String::from_utf8_lossy(&c.bytes)).collect()
    };
    assert_eq!(stream(OutputKind::Stdout), input);
    assert_eq!(stream(OutputKind::Stderr).trim(), "20000");
    assert_eq!(runtime.wait_container(&id).await.unwrap().code, 3, "a failing command is a status, not an error");

    // What the container wrote comes back as a tar stream, and goes into a new image.
    let archive = runtime.download_archive(&id, "/tmp/input").await.unwrap().expect("the file exists");
    let tar: Vec<u8> = archive.map(Result::unwrap).collect::<Vec<_>>().await.concat();
    let mut entries = tar::Archive::new(tar.as_slice());
    let entry = entries.entries().unwrap().next().expect("one entry").unwrap();
    assert_eq!(entry.header().size().unwrap(), input.len() as u64);
    assert!(runtime.download_archive(&id, "/tmp/never-written").await.unwrap().is_none());
    let commit = CommitSpec {
        repository: Some("s2i-downstream/committed".into()),
        tag: Some("1".into()),
        cmd: vec!["/bin/cat".into(), "/tmp/input".into()],
        ..CommitSpec::default()
    };
    let image_id = runtime.commit_container(&id, &commit).await.unwrap();
    assert!(image_id.starts_with("sha256:"), "{image_id}");

    runtime.remove_container(&id).await.unwrap();
    assert!(!runtime.container_exists(&id).await.unwrap());
    let gone = runtime.start_container(&id).await.expect_err("the container is gone");
    assert_eq!(gone.kind, RuntimeErrorKind::NotFound, "{gone}");

    // The commit leaves as an OCI layout: the base's layers and one more.
    let layout = dir.path().join("layout");
    for (image, reference) in [("s2i-downstream/committed:1", "committed"), (IMAGE, "base")] {
        let location = ImageLocation::parse(&format!("oci:{}:{reference}", layout.display())).unwrap();
        runtime.export(image, &location).await.unwrap();
    }
    let read = |path: std::path::PathBuf| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let index = read(layout.join("index.json"));
    let manifests: Vec<serde_json::Value> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| read(layout.join("blobs/sha256").join(entry["digest"].as_str().unwrap().replace("sha256:", ""))))
        .collect();
    let [committed, base] = manifests.as_slice() else { panic!("two images: {index}") };
    assert_eq!(committed["config"]["digest"], image_id.as_str());
    let (committed, base) = (committed["layers"].as_array().unwrap(), base["layers"].as_array().unwrap());
    assert_eq!(committed.len(), base.len() + 1);
    assert_eq!(committed[..base.len()], base[..]);
    assert_nothing_left(dir.path()).await;
}

/// The entries of a tar stream: name (bytes) and type.
async fn tar_entries(stream: s2i_core::runtime::ByteStream) -> Vec<(Vec<u8>, u8)> {
    let tar: Vec<u8> = stream.map(Result::unwrap).collect::<Vec<_>>().await.concat();
    let mut archive = tar::Archive::new(tar.as_slice());
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.path_bytes().into_owned(), e.header().entry_type().as_byte())
        })
        .collect()
}

#[tokio::test]
async fn names_that_are_not_utf8_in_the_export_and_the_changes_layer() {
    let dir = TestDir::new();
    let runtime = runtime_with_image(dir.path()).await;
    let script = "set -e; printf 'bytes' > \"$(printf '/tmp/caf\\351')\"; rm /bin/vi";
    let spec = ContainerSpec {
        image: IMAGE.to_owned(),
        entrypoint: Some(Vec::new()),
        cmd: vec!["/bin/sh".into(), "-c".into(), script.into()],
        ..ContainerSpec::default()
    };
    let id = runtime.create_container(&spec).await.unwrap();
    runtime.start_container(&id).await.unwrap();
    assert_eq!(runtime.wait_container(&id).await.unwrap().code, 0);

    // The export holds the name's bytes.
    let exported = tar_entries(runtime.export_container(&id).await.unwrap()).await;
    let named = |entries: &[(Vec<u8>, u8)], name: &[u8]| entries.iter().any(|(n, _)| n.ends_with(name));
    assert!(
        named(&exported, b"tmp/caf\xe9"),
        "{:?}",
        exported.iter().map(|e| e.0.escape_ascii().to_string()).collect::<Vec<_>>()
    );
    assert!(!named(&exported, b"bin/vi"));

    // The changes as one layer-ordered tar: the new name, the deletion as a whiteout, nothing else of the image.
    let layer = runtime.changes_layer(&id).await.unwrap().expect("the daemonless runtime offers its changes");
    let entries = tar_entries(layer).await;
    let names: Vec<String> = entries.iter().map(|(n, _)| n.escape_ascii().to_string()).collect();
    assert_eq!(names, ["bin/", "bin/.wh.vi", "tmp/", "tmp/caf\\xe9"]);
    runtime.remove_container(&id).await.unwrap();

    // A container that is gone has no changes to give.
    let Err(gone) = runtime.changes_layer(&id).await else { panic!("the container is gone") };
    assert_eq!(gone.kind, RuntimeErrorKind::NotFound, "{gone}");
    assert_nothing_left(dir.path()).await;
}

/// A temporary directory whose mounts are detached before it goes: a
/// failing test leaves nothing mounted ([`assert_nothing_left`] is the check).
struct TestDir(tempfile::TempDir);

impl TestDir {
    fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    fn path(&self) -> &std::path::Path {
        self.0.path()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let mut points: Vec<String> = mounts_under(self.path())
            .iter()
            .filter_map(|line| line.split(' ').nth(4).map(str::to_owned))
            .filter(|point| std::path::Path::new(point).starts_with(self.path()))
            .collect();
        points.sort_by_key(|point| std::cmp::Reverse(point.len()));
        for point in points {
            let _ = std::process::Command::new("umount").args(["-l", &point]).status();
        }
    }
}

/// Mounts under `dir` (this process's view).
fn mounts_under(dir: &std::path::Path) -> Vec<String> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = dir.to_string_lossy().into_owned();
    mounts.lines().filter(|line| line.contains(&dir)).map(str::to_owned).collect()
}

/// No container state, root file system or mount of the runtime in `dir` is
/// left (a creation left alone removes itself: waited for a while).
async fn assert_nothing_left(dir: &std::path::Path) {
    let entries = |path: std::path::PathBuf| -> Vec<String> {
        std::fs::read_dir(path)
            .map(|read| read.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let states = entries(dir.join("state/containers"));
        let root_fs: Vec<String> =
            entries(dir.join("cache/containers")).into_iter().filter(|e| e != "contexts").collect();
        let mounts = mounts_under(dir);
        if states.is_empty() && root_fs.is_empty() && mounts.is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "left: states {states:?}, root file systems {root_fs:?}, mounts {mounts:#?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_creation_whose_caller_stops_waiting_leaves_nothing_mounted() {
    // Callers that give up while the root file system is being unpacked and
    // mounted: one removes the container by name at once (as a cancelled
    // build does), one never does; neither leaves a container or a mount.
    let dir = TestDir::new();
    let runtime = runtime_with_image(dir.path()).await;
    for (attempt, wait) in [0u64, 1, 3, 10, 30, 100].into_iter().enumerate() {
        for remove in [true, false] {
            let name = format!("s2i-downstream-cancelled-{attempt}-{remove}");
            let spec = ContainerSpec {
                image: IMAGE.to_owned(),
                name: Some(name.clone()),
                entrypoint: Some(Vec::new()),
                cmd: vec!["/bin/true".into()],
                ..ContainerSpec::default()
            };
            let creation = runtime.create_container(&spec);
            match tokio::time::timeout(std::time::Duration::from_millis(wait), creation).await {
                Ok(created) => runtime.remove_container(&created.unwrap()).await.unwrap(),
                Err(_) if remove => match runtime.remove_container(&name).await {
                    Err(e) if e.kind != RuntimeErrorKind::NotFound => panic!("{e}"),
                    _ => {}
                },
                Err(_) => {}
            }
            // Removed by name (after the creation it waited for), or by the creation itself.
            assert_nothing_left(dir.path()).await;
        }
    }
    assert_nothing_left(dir.path()).await;
}
