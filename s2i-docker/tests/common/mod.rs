//! Helpers shared by the integration tests: they run against the real engine.

#![allow(dead_code, unreachable_pub)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use futures::StreamExt;
use s2i_core::runtime::{ByteStream, ContainerRuntime, ContainerSpec, ExitStatus, OutputKind, OutputStream};
use s2i_docker::{ConnectOptions, DockerRuntime};
use tokio::io::AsyncWriteExt;

/// What to do when no engine answers.
pub const START_ENGINE: &str = "no container engine is reachable; start one with `cargo xtask docker` (or `sudo dockerd &`), or point DOCKER_HOST at one";

/// A name no other test (or test run) uses.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("{prefix}-{}-{}-{nanos}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Connect to the engine of the environment; fails the test when there is none.
pub async fn runtime() -> DockerRuntime {
    match DockerRuntime::connect(&ConnectOptions::from_env()).await {
        Ok(runtime) => runtime,
        Err(e) => panic!("{START_ENGINE}: {e}"),
    }
}

/// The unix socket of the engine under test.
pub fn engine_socket() -> PathBuf {
    match std::env::var("DOCKER_HOST") {
        Ok(host) if host.starts_with("unix://") => PathBuf::from(host.trim_start_matches("unix://")),
        _ => PathBuf::from("/var/run/docker.sock"),
    }
}

/// The product name of the engine under test (`Docker Engine` or `Podman
/// Engine`), as the docker CLI sees it.
pub fn engine_name() -> &'static str {
    let components = docker(&["version", "--format", "{{json .Server.Components}}"], None)
        .unwrap_or_else(|e| panic!("{START_ENGINE}: `docker version` failed: {e}"));
    if components.contains("\"Podman Engine\"") { "Podman Engine" } else { "Docker Engine" }
}

/// Run the docker CLI; `Err` with its output when it fails.
pub fn docker(args: &[&str], stdin: Option<&[u8]>) -> Result<String, String> {
    let mut child = Command::new("docker")
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run the docker CLI: {e}"))?;
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("piped stdin");
        pipe.write_all(input).map_err(|e| e.to_string())?;
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)))
    }
}

/// A tar of a minimal root filesystem: static busybox as /bin/busybox and
/// /bin/sh, /tmp, and `marker` in /etc/s2i-test-image.
///
/// The marker makes each imported layer unique: engines share identical
/// layers between images, and Podman fails an import ("layer not known") when
/// another test removes an image holding the same layer at that moment.
pub fn busybox_rootfs(marker: &str) -> Vec<u8> {
    let busybox = std::fs::read("/bin/busybox").expect("the host needs a static /bin/busybox (Debian: busybox-static)");
    let mut builder = tar::Builder::new(Vec::new());
    let mut dir = |path: &str, mode: u32| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(mode);
        header.set_size(0);
        builder.append_data(&mut header, path, std::io::empty()).unwrap();
    };
    dir("bin/", 0o755);
    dir("tmp/", 0o1777);
    dir("data/", 0o755);
    dir("etc/", 0o755);
    let mut header = tar::Header::new_gnu();
    header.set_mode(0o644);
    header.set_size(marker.len() as u64);
    builder.append_data(&mut header, "etc/s2i-test-image", marker.as_bytes()).unwrap();
    let mut header = tar::Header::new_gnu();
    header.set_mode(0o755);
    header.set_size(busybox.len() as u64);
    builder.append_data(&mut header, "bin/busybox", busybox.as_slice()).unwrap();
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Symlink);
    header.set_mode(0o777);
    header.set_size(0);
    builder.append_link(&mut header, "bin/sh", "busybox").unwrap();
    builder.into_inner().unwrap()
}

/// A tar with the given files (path, contents, mode).
pub fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, contents) in files {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_size(contents.len() as u64);
        builder.append_data(&mut header, path, *contents).unwrap();
    }
    builder.into_inner().unwrap()
}

/// The files of a tar archive, as (path, contents).
pub fn untar(archive: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(archive);
    let mut files = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut contents = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut contents).unwrap();
        files.push((path, contents));
    }
    files
}

/// A busybox image imported for one test, removed when dropped.
pub struct TestImage {
    pub name: String,
}

impl TestImage {
    pub fn import() -> Self {
        let name = format!("{}:latest", unique("s2i-docker-test-busybox"));
        if let Err(e) = docker(&["import", "-", &name], Some(&busybox_rootfs(&name))) {
            panic!("{START_ENGINE}: `docker import` failed: {e}");
        }
        Self { name }
    }
}

impl Drop for TestImage {
    fn drop(&mut self) {
        let _ = docker(&["rmi", "-f", &self.name], None);
    }
}

/// Removes an image (by name or ID) when dropped.
pub struct ImageGuard(pub String);

impl Drop for ImageGuard {
    fn drop(&mut self) {
        let _ = docker(&["rmi", "-f", &self.0], None);
    }
}

/// Removes a container when dropped.
pub struct ContainerGuard(pub String);

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", "-v", &self.0], None);
    }
}

/// A container spec running `script` with busybox sh.
pub fn shell_spec(image: &str, script: &str, stdin: bool) -> ContainerSpec {
    ContainerSpec {
        name: Some(unique("s2i-docker-test")),
        image: image.to_owned(),
        entrypoint: Some(vec![]),
        cmd: vec!["/bin/sh".into(), "-c".into(), script.into()],
        stdin,
        ..ContainerSpec::default()
    }
}

/// Stdout and stderr of an attached container, until it exits.
pub async fn collect(mut output: OutputStream) -> (Vec<u8>, Vec<u8>) {
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    while let Some(chunk) = output.next().await {
        let chunk = chunk.expect("container output");
        match chunk.kind {
            OutputKind::Stdout => stdout.extend_from_slice(&chunk.bytes),
            OutputKind::Stderr => stderr.extend_from_slice(&chunk.bytes),
        }
    }
    (stdout, stderr)
}

/// `total` bytes in chunks of 64 KiB, generated as they are read.
pub fn generated_stream(total: usize) -> ByteStream {
    const CHUNK: usize = 64 * 1024;
    let chunks = total.div_ceil(CHUNK);
    Box::pin(futures::stream::iter(0..chunks).map(move |i| {
        let len = CHUNK.min(total - i * CHUNK);
        Ok(Bytes::from(vec![b'a' + (i % 26) as u8; len]))
    }))
}

/// A stream of the given bytes in small chunks.
pub fn chunked(data: Vec<u8>, chunk: usize) -> ByteStream {
    let chunks: Vec<std::io::Result<Bytes>> = data.chunks(chunk).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    Box::pin(futures::stream::iter(chunks))
}

/// Create a container from `spec`, attach, start it, feed `input` to its stdin
/// (closing it at the end), and wait: the exit status and the output.
pub async fn run(
    runtime: &DockerRuntime,
    spec: &ContainerSpec,
    input: Option<ByteStream>,
) -> (ContainerGuard, ExitStatus, Vec<u8>, Vec<u8>) {
    let id = runtime.create_container(spec).await.expect("create the container");
    let guard = ContainerGuard(id.clone());
    let attachment = runtime.attach_container(&id, input.is_some()).await.expect("attach");
    runtime.start_container(&id).await.expect("start");
    let writer = match (input, attachment.stdin) {
        (Some(mut input), Some(mut stdin)) => Some(tokio::spawn(async move {
            while let Some(chunk) = input.next().await {
                stdin.write_all(&chunk?).await?;
            }
            stdin.shutdown().await?;
            Ok::<_, std::io::Error>(())
        })),
        (None, None) => None,
        (Some(_), None) => panic!("asked for stdin but the attachment has none"),
        (None, Some(_)) => panic!("the attachment has stdin though none was asked for"),
    };
    let (stdout, stderr) = collect(attachment.output).await;
    if let Some(writer) = writer {
        writer.await.unwrap().expect("write stdin");
    }
    let status = runtime.wait_container(&id).await.expect("wait");
    (guard, status, stdout, stderr)
}
