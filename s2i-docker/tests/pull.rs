//! Pulls from a fake registry on 127.0.0.1 (the engine treats loopback
//! registries as plain-HTTP ones): credentials, progress and errors.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use s2i_core::runtime::{ContainerRuntime, PullProgress, RuntimeErrorKind};
use s2i_docker::{ConnectOptions, DockerRuntime};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use common::{ImageGuard, tar_of, unique};

/// Requests the fake registry saw: (method and path, Authorization header).
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Manifest, config and layer of a one-file image with a label, served under tag `1.0`.
struct FakeImage {
    manifest: Vec<u8>,
    blobs: HashMap<String, Vec<u8>>,
}

fn fake_image(label: &str) -> FakeImage {
    let layer = tar_of(&[("hello.txt", b"pulled\n")]);
    let layer_digest = digest(&layer);
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let config = serde_json::json!({
        "architecture": arch,
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"], "Labels": {"io.s2i.test.pulled": label}},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    })
    .to_string()
    .into_bytes();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len()}],
    })
    .to_string()
    .into_bytes();
    let blobs = HashMap::from([(digest(&config), config), (layer_digest, layer)]);
    FakeImage { manifest, blobs }
}

/// A listener for a fake registry on a free loopback port. Docker talks plain
/// HTTP to any loopback registry; Podman to those its registries.conf marks
/// insecure, which `cargo xtask podman` does for every port of 127.0.0.1.
async fn registry_listener() -> TcpListener {
    TcpListener::bind(("127.0.0.1", 0)).await.expect("a free loopback port for a test registry")
}

/// A registry that asks for basic auth, accepts `expected_auth`, and serves
/// `image` as `s2i/app:1.0`; other tags are unknown.
async fn fake_registry(expected_auth: String, image: FakeImage) -> (u16, Seen) {
    let listener = registry_listener().await;
    let port = listener.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    let image = Arc::new(image);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            let image = Arc::clone(&image);
            let expected_auth = expected_auth.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                    // A TLS client hello (the engine tries https first): not for us.
                    if head.len() >= 4 && !head.starts_with(b"GET") && !head.starts_with(b"HEAD") {
                        return;
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let mut words = head.split_whitespace();
                let method = words.next().unwrap_or("").to_owned();
                let path = words.next().unwrap_or("").to_owned();
                let auth = head
                    .lines()
                    .find_map(|line| line.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("authorization")))
                    .map(|(_, v)| v.trim().to_owned());
                log.lock().unwrap().push((format!("{method} {path}"), auth.clone()));
                let json = "Content-Type: application/json\r\n".to_owned();
                let (status, headers, body): (&str, String, Vec<u8>) = if auth.as_deref()
                    != Some(expected_auth.as_str())
                {
                    (
                        "401 Unauthorized",
                        format!("{json}WWW-Authenticate: Basic realm=\"s2i-test\"\r\n"),
                        br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#.to_vec(),
                    )
                } else if path == "/v2/" {
                    ("200 OK", json, b"{}".to_vec())
                } else if path == "/v2/s2i/app/manifests/1.0"
                    || path == format!("/v2/s2i/app/manifests/{}", digest(&image.manifest))
                {
                    (
                        "200 OK",
                        format!(
                            "Content-Type: {MANIFEST_TYPE}\r\nDocker-Content-Digest: {}\r\n",
                            digest(&image.manifest)
                        ),
                        image.manifest.clone(),
                    )
                } else if let Some(blob) = path.strip_prefix("/v2/s2i/app/blobs/").and_then(|d| image.blobs.get(d)) {
                    ("200 OK", "Content-Type: application/octet-stream\r\n".to_owned(), blob.clone())
                } else {
                    (
                        "404 Not Found",
                        json,
                        br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#.to_vec(),
                    )
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nDocker-Distribution-API-Version: registry/2.0\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                if method != "HEAD" {
                    let _ = stream.write_all(&body).await;
                }
                let _ = stream.shutdown().await;
            });
        }
    });
    (port, seen)
}

fn options(config: &std::path::Path, search_path: Option<&std::path::Path>) -> ConnectOptions {
    let mut options = ConnectOptions::from_env();
    options.docker_config = Some(config.to_owned());
    options.search_path = search_path.map(|p| p.as_os_str().to_owned());
    options
}

async fn connect(options: &ConnectOptions) -> DockerRuntime {
    match DockerRuntime::connect(options).await {
        Ok(runtime) => runtime,
        Err(e) => panic!("{}: {e}", common::START_ENGINE),
    }
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

#[tokio::test(flavor = "multi_thread")]
async fn pull_sends_credentials_from_the_config_file_and_reports_progress() {
    // A password whose base64 has '+' and '/' in it: the header must still decode.
    let password = "p>>?~~?s";
    let label = unique("label");
    let (port, seen) = fake_registry(basic("puller", password), fake_image(&label)).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"auths": {{"http://127.0.0.1:{port}": {{"auth": "{}"}}}}}}"#,
            STANDARD.encode(format!("puller:{password}"))
        ),
    )
    .unwrap();
    let runtime = connect(&options(&config, None)).await;
    let image = format!("127.0.0.1:{port}/s2i/app:1.0");
    let _pulled = ImageGuard(image.clone());
    let events: Mutex<Vec<PullProgress>> = Mutex::default();
    let progress = |event| events.lock().unwrap().push(event);
    tokio::time::timeout(Duration::from_secs(60), runtime.pull_image(&image, &progress))
        .await
        .expect("the pull ends")
        .unwrap_or_else(|e| panic!("pull failed: {e:?}; the registry saw {:?}", seen.lock().unwrap()));
    let events = events.into_inner().unwrap();
    // Docker ends a layer with "Pull complete", Podman with "Download complete";
    // a layer another test pulled at the same time "Already exists".
    let done = ["Pull complete", "Download complete", "Already exists"];
    assert!(events.iter().any(|e| e.id.is_some() && done.contains(&e.status.as_str())), "{events:?}");
    assert!(events.iter().any(|e| e.id.is_some()), "{events:?}");

    let info = runtime.inspect_image(&image).await.unwrap().expect("the pulled image");
    assert_eq!(info.labels.get("io.s2i.test.pulled"), Some(&label));
    assert_eq!(info.cmd, ["/bin/sh"]);
    assert!(
        info.repo_digests.iter().any(|d| d.starts_with(&format!("127.0.0.1:{port}/s2i/app@sha256:"))),
        "{:?}",
        info.repo_digests
    );

    // A tag the registry does not have.
    let error = runtime.pull_image(&format!("127.0.0.1:{port}/s2i/app:2.0"), &|_| {}).await.unwrap_err();
    assert_eq!(error.kind, RuntimeErrorKind::NotFound, "{error:?}");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn pull_sends_credentials_from_a_credential_helper() {
    use std::os::unix::fs::PermissionsExt;
    let (port, seen) = fake_registry(basic("helper-user", "helper-secret"), fake_image("helper")).await;
    let dir = tempfile::tempdir().unwrap();
    let helper = dir.path().join("docker-credential-s2itest");
    std::fs::write(
        &helper,
        "#!/bin/sh\nserver=$(cat)\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"helper-user\",\"Secret\":\"helper-secret\"}' \"$server\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(&config, format!(r#"{{"credHelpers": {{"127.0.0.1:{port}": "s2itest"}}}}"#)).unwrap();
    let runtime = connect(&options(&config, Some(dir.path()))).await;
    let image = format!("127.0.0.1:{port}/s2i/app:1.0");
    let _pulled = ImageGuard(image.clone());
    runtime
        .pull_image(&image, &|_| {})
        .await
        .unwrap_or_else(|e| panic!("pull failed: {e:?}; the registry saw {:?}", seen.lock().unwrap()));
    assert!(runtime.inspect_image(&image).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn pull_without_credentials_is_unauthorized() {
    let (port, seen) = fake_registry(basic("someone", "secret"), fake_image("x")).await;
    let dir = tempfile::tempdir().unwrap();
    let runtime = connect(&options(&dir.path().join("none.json"), None)).await;
    let image = format!("127.0.0.1:{port}/s2i/app:1.0");
    let _pulled = ImageGuard(image.clone());
    let error = runtime.pull_image(&image, &|_| {}).await.unwrap_err();
    assert_eq!(error.kind, RuntimeErrorKind::Unauthorized, "{error:?}");
    // Podman answers the challenge with an empty user and password.
    let empty = basic("", "");
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter().all(|(_, auth)| auth.as_ref().is_none_or(|a| *a == empty)),
        "no credentials are sent: {seen:?}"
    );

    let error = runtime.pull_image("Not A Valid Reference", &|_| {}).await.unwrap_err();
    assert_eq!(error.kind, RuntimeErrorKind::Rejected, "{error:?}");
}
