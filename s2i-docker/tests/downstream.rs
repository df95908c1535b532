//! The backend as a downstream tool uses it: only the public API of
//! `s2i-docker` and the `ContainerRuntime` trait of `s2i-core`, on a plain
//! `#[tokio::test]` (a current-thread runtime), against the real engine.
//! Streaming stdin in, output out and archives back must all progress on one
//! thread: nothing may block the executor or need a second worker.

use std::collections::BTreeMap;

use futures::StreamExt;
use s2i_core::runtime::{ContainerRuntime, ContainerSpec, OutputKind, RuntimeErrorKind};
use s2i_docker::{ConnectOptions, DockerRuntime};
use tokio::io::AsyncWriteExt;

/// A fixture image of `cargo xtask fixtures` (busybox, with `/bin/sh`).
const IMAGE: &str = "s2i-fixtures/base:latest";

/// Removes the container when the test ends, however it ends.
struct Removed(String);

impl Drop for Removed {
    fn drop(&mut self) {
        // A drop cannot await: ask the docker CLI, as a person would.
        let _ = std::process::Command::new("docker").args(["rm", "--force", &self.0]).output();
    }
}

#[tokio::test]
async fn a_container_on_a_current_thread_runtime() {
    let runtime = DockerRuntime::connect(&ConnectOptions::from_env())
        .await
        .unwrap_or_else(|e| panic!("no container engine is reachable; start one with `cargo xtask docker`: {e}"));
    let info = runtime.info().await.unwrap();
    assert!(!info.version.is_empty() && !info.api_version.is_empty(), "{info:?}");

    let image =
        runtime.inspect_image(IMAGE).await.unwrap().unwrap_or_else(|| {
            panic!("fixture image {IMAGE} is missing: build the fixtures with `cargo xtask fixtures`")
        });
    assert!(image.id.starts_with("sha256:"), "{}", image.id);
    assert_eq!(runtime.inspect_image("s2i-downstream/never-built:none").await.unwrap(), None);

    // A container that reads its stdin into a file, writes to both streams
    // and fails with its own code.
    let name = format!("s2i-docker-downstream-{}", std::process::id());
    let labels = BTreeMap::from([("s2i-downstream".to_owned(), name.clone())]);
    let spec = ContainerSpec {
        name: Some(name.clone()),
        image: IMAGE.to_owned(),
        entrypoint: Some(Vec::new()),
        cmd: vec!["/bin/sh".into(), "-c".into(), "cat > /tmp/input; echo out; echo err >&2; exit 3".into()],
        stdin: true,
        labels: labels.clone(),
        ..ContainerSpec::default()
    };
    let id = runtime.create_container(&spec).await.unwrap();
    let _removed = Removed(id.clone());
    assert_eq!(runtime.containers_with_labels(&labels).await.unwrap(), std::slice::from_ref(&id));

    let attachment = runtime.attach_container(&id, true).await.unwrap();
    runtime.start_container(&id).await.unwrap();
    let mut stdin = attachment.stdin.expect("stdin was asked for");
    let input = "line\n".repeat(20_000); // more than one pipe buffer
    stdin.write_all(input.as_bytes()).await.unwrap();
    stdin.shutdown().await.unwrap();
    drop(stdin);
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let mut output = attachment.output;
    while let Some(chunk) = output.next().await {
        let chunk = chunk.unwrap();
        match chunk.kind {
            OutputKind::Stdout => stdout.extend_from_slice(&chunk.bytes),
            OutputKind::Stderr => stderr.extend_from_slice(&chunk.bytes),
        }
    }
    assert_eq!((stdout.as_slice(), stderr.as_slice()), (&b"out\n"[..], &b"err\n"[..]));
    assert_eq!(runtime.wait_container(&id).await.unwrap().code, 3, "a failing command is a status, not an error");

    // What the container wrote comes back as a tar stream.
    let mut archive = runtime.download_archive(&id, "/tmp/input").await.unwrap().expect("the file exists");
    let mut tar = Vec::new();
    while let Some(chunk) = archive.next().await {
        tar.extend_from_slice(&chunk.unwrap());
    }
    let mut entries = tar::Archive::new(tar.as_slice());
    let mut entry = entries.entries().unwrap().next().expect("one entry").unwrap();
    let mut copied = String::new();
    std::io::Read::read_to_string(&mut entry, &mut copied).unwrap();
    assert_eq!(copied, input);
    assert!(runtime.download_archive(&id, "/tmp/never-written").await.unwrap().is_none());

    runtime.remove_container(&id).await.unwrap();
    assert!(!runtime.container_exists(&id).await.unwrap());
    let gone = runtime.start_container(&id).await.expect_err("the container is gone");
    assert_eq!(gone.kind, RuntimeErrorKind::NotFound, "{gone}");
}
