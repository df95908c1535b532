//! `spec.dockerImageRepository` against a real registry (Debian's
//! docker-registry, started here): the tag listing page by page, and a
//! stream that imports the repository's tags into its status.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use s2i_imagestream::operations::ImageStreams;
use s2i_imagestream::registry::{RegistryClient, RegistryErrorKind};
use s2i_imagestream::repository::{MAX_REPOSITORY_TAGS, REPOSITORY_CHECK_ANNOTATION};
use s2i_imagestream::types::{ImageStream, KIND_DOCKER_IMAGE, ObjectReference, REGISTRY_ANNOTATION, TagReference};
use s2i_imagestream::views;

/// The fixture pushed (small, built by `cargo xtask fixtures`).
const FIXTURE: &str = "s2i-fixtures/base:latest";

/// A registry on 127.0.0.1, killed when dropped.
struct Registry {
    host: String,
    log: std::path::PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Self {
        let port = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let log = dir.path().join("registry.log");
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("docker-registry is installed (`cargo xtask packages`)");
        let registry = Registry { host: format!("127.0.0.1:{port}"), log, child, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(&registry.host).is_err() {
            assert!(Instant::now() < deadline, "the registry never answered");
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    /// How many tag listings the registry served.
    fn listings(&self) -> usize {
        std::fs::read_to_string(&self.log).unwrap_or_default().matches("/tags/list").count()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Push the fixture as `repository:seed`, then put its manifest under each of `tags` (no layer moves again).
fn push_tags(registry: &Registry, client: &RegistryClient, repository: &str, tags: &[String]) {
    let copy = Command::new("skopeo")
        .args(["copy", "--quiet", "--dest-tls-verify=false"])
        .arg(format!("docker-daemon:{FIXTURE}"))
        .arg(format!("docker://{}/{repository}:seed", registry.host))
        .output()
        .expect("skopeo runs");
    assert!(copy.status.success(), "skopeo copy: {}", String::from_utf8_lossy(&copy.stderr));
    let manifest = client.get_manifest(&registry.host, repository, "seed", false).unwrap();
    for tag in tags {
        client.put_manifest(&registry.host, repository, tag, &manifest, false).unwrap();
    }
}

#[test]
fn tags_are_listed_and_missing_repositories_say_so() {
    let registry = Registry::start();
    let client = RegistryClient::anonymous();
    let tags: Vec<String> = ["1.0", "1.1", "2.0.1", "latest", "v0.9", "zeta"].map(String::from).to_vec();
    push_tags(&registry, &client, "team/app", &tags);
    let mut listed = client.list_tags(&registry.host, "team/app", false).unwrap();
    listed.sort();
    let mut expected = tags.clone();
    expected.push("seed".into());
    expected.sort();
    assert_eq!(listed, expected);

    let missing = client.list_tags(&registry.host, "team/missing", false).unwrap_err();
    assert_eq!(missing.kind, RegistryErrorKind::NotFound, "{missing}");
}

/// Debian's docker-registry (distribution 2.8) sends every tag in one
/// answer; registries that page (distribution 3, quay.io, Docker Hub) name
/// the next page in a `Link` header. This server answers as they do.
#[test]
fn tags_are_listed_page_by_page_as_the_link_header_says() {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let host = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let server = std::thread::spawn(move || {
        let mut asked = Vec::new();
        for (body, link) in [
            (r#"{"name":"team/app","tags":["a","b"]}"#, Some("</v2/team/app/tags/list?n=2&last=b>; rel=\"next\"")),
            (r#"{"name":"team/app","tags":["c"]}"#, None),
        ] {
            // The client tries TLS first on loopback: such a connection is dropped.
            let (stream, mut reader, request) = loop {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = Vec::new();
                reader.read_until(b'\n', &mut request).unwrap();
                if request.starts_with(b"GET ") {
                    break (stream, reader, String::from_utf8(request).unwrap());
                }
            };
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
            }
            asked.push(request.split_whitespace().nth(1).unwrap_or_default().to_owned());
            let link = link.map(|l| format!("Link: {l}\r\n")).unwrap_or_default();
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{link}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            (&stream).write_all(answer.as_bytes()).unwrap();
        }
        asked
    });
    let client = RegistryClient::anonymous();
    let listed = client.list_tags_in_pages(&host, "team/app", false, 2).unwrap();
    assert_eq!(listed, ["a", "b", "c"]);
    let asked = server.join().unwrap();
    assert_eq!(asked, ["/v2/team/app/tags/list?n=2", "/v2/team/app/tags/list?n=2&last=b"]);
}

#[tokio::test]
async fn a_stream_imports_its_repository_into_status() {
    let registry = Registry::start();
    let client = RegistryClient::anonymous();
    let mut tags: Vec<String> = (0..52).map(|i| format!("t{i:02}")).collect();
    tags.extend(["latest", "1.0", "2.0.1"].map(String::from));
    let pusher = client.clone();
    let host = registry.host.clone();
    let registry = tokio::task::spawn_blocking(move || {
        push_tags(&registry, &pusher, "team/app", &tags);
        registry
    })
    .await
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let store = s2i_store::Store::open(dir.path()).unwrap();
    let streams = ImageStreams::new(&store, Err("no engine in this test".into()), &client);
    let mut stream = ImageStream::new("dev", "app");
    // The stream's own images live in the same registry: following its tags mounts blobs there.
    stream.metadata.annotations.insert(REGISTRY_ANNOTATION.into(), host.clone());
    stream.spec.docker_image_repository = format!("{host}/team/app");
    // A spec tag of a name the repository has too: the spec tag's.
    stream.spec.tags.push(TagReference {
        name: "t00".into(),
        from: Some(ObjectReference::new(KIND_DOCKER_IMAGE, "example.com/pinned:1")),
        reference: true,
        ..TagReference::default()
    });
    let applied = streams.apply_stream(stream.clone()).await.unwrap();
    assert!(applied.mirror_error.is_none(), "{:?}", applied.mirror_error);
    let write = applied.value;
    assert!(write.failed_imports.is_empty(), "{:?}", write.failed_imports);
    let stored = write.stream;
    assert_eq!(stored.spec.tags.len(), 1, "no spec tag is made: {:?}", stored.spec.tags);
    assert!(stored.metadata.annotations.contains_key(REPOSITORY_CHECK_ANNOTATION));
    let from_repository: Vec<&str> =
        stored.status.tags.iter().filter(|t| t.tag != "t00").map(|t| t.tag.as_str()).collect();
    assert_eq!(from_repository.len(), MAX_REPOSITORY_TAGS - 1, "50 taken, t00 is the spec's: {from_repository:?}");
    for expected in ["latest", "1.0", "2.0.1", "seed", "t01", "t45"] {
        assert!(from_repository.contains(&expected), "{expected} in {from_repository:?}");
    }
    assert!(!from_repository.contains(&"t46"), "latest, two versions, seed and t00..t45 make fifty");
    assert_eq!(stored.latest("t00").unwrap().docker_image_reference, "example.com/pinned:1");
    let item = stored.latest("1.0").unwrap();
    assert!(item.docker_image_reference.starts_with(&format!("{host}/team/app@sha256:")), "{item:?}");
    assert_eq!(stored.status.docker_image_repository, format!("{host}/dev/app"));
    let istag = store.read(|tx| views::get_istag(tx, "dev", "app:2.0.1")).unwrap();
    assert_eq!(istag.image.docker_image_reference, item.docker_image_reference);

    // Applying the same stream again lists nothing: the repository was imported.
    let listings = registry.listings();
    let again = streams.apply_stream(stream.clone()).await.unwrap().value;
    assert_eq!(registry.listings(), listings);
    assert_eq!(again.stream.metadata.resource_version, stored.metadata.resource_version);

    // Another repository: imported anew; one the registry lacks is the condition of latest.
    stream.spec.docker_image_repository = format!("{host}/team/missing");
    let missing = streams.apply_stream(stream).await.unwrap().value;
    assert_eq!(missing.failed_imports.len(), 1, "{:?}", missing.failed_imports);
    assert_eq!(
        (missing.failed_imports[0].0.as_str(), missing.failed_imports[0].1.reason.as_str()),
        ("latest", "NotFound")
    );
    let condition = &missing.stream.status_tag("latest").unwrap().conditions[0];
    assert_eq!((condition.kind.as_str(), condition.status.as_str()), ("ImportSuccess", "False"));
    assert!(condition.message.contains("team/missing"), "{condition:?}");
}
