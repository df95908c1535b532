//! Pushes to a real registry (Debian's `docker-registry`) on 127.0.0.1: the
//! manifest arrives under the tag, and a registry that is not there is an error.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use s2i_core::runtime::{ContainerRuntime, PullProgress};

use common::{ImageGuard, TestImage, runtime, unique};

/// A `docker-registry` serving a temp dir on 127.0.0.1; killed when dropped.
struct Registry {
    port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        // Any loopback port: Podman's registries.conf from `cargo xtask podman`
        // marks every port of 127.0.0.1 insecure, as Docker does by default.
        let port = TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry is installed (`cargo xtask packages`)");
        let registry = Registry { port, child, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(15);
        while registry.get("/v2/").0 == 0 {
            assert!(Instant::now() < deadline, "the registry never answered");
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    fn get(&self, path: &str) -> (u16, String) {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else { return (0, String::new()) };
        let request = format!(
            "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json\r\n\r\n"
        );
        if stream.write_all(request.as_bytes()).is_err() {
            return (0, String::new());
        }
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        (status, response)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_pushed_tag_is_in_the_registry() {
    let registry = Registry::start();
    let runtime = runtime().await;
    let image = TestImage::import();
    let name = format!("127.0.0.1:{}/{}:1.0", registry.port, unique("s2i-push"));
    let repository = name.rsplit_once(':').unwrap().0.to_owned();
    let path = repository.split_once('/').unwrap().1.to_owned();
    runtime.tag_image(&image.name, &repository, "1.0").await.unwrap();
    let _tag = ImageGuard(name.clone());

    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = Arc::clone(&seen);
    let progress = move |p: PullProgress| log.lock().unwrap().push(p.status);
    let digest = runtime.push_image(&name, &progress).await.unwrap().expect("the engine names the pushed digest");

    let (status, response) = registry.get(&format!("/v2/{path}/manifests/1.0"));
    assert_eq!(status, 200, "{response}");
    let served = response.lines().find_map(|l| {
        let (key, value) = l.split_once(':')?;
        key.eq_ignore_ascii_case("docker-content-digest").then(|| value.trim().to_owned())
    });
    assert_eq!(served.as_deref(), Some(digest.as_str()), "the digest of what the registry serves under the tag");
    assert!(!seen.lock().unwrap().is_empty(), "the engine reported progress");

    // A digest is not a push target; a registry nobody serves is an error.
    let by_digest = format!("{repository}@{digest}");
    assert!(runtime.push_image(&by_digest, &|_| {}).await.is_err());
    drop(registry);
    let gone = runtime.push_image(&name, &|_| {}).await.unwrap_err();
    assert!(!gone.message.is_empty());
}
