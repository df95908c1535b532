//! Connecting: endpoints, API versions, TLS, and unreachable engines.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use miette::Diagnostic;
use s2i_core::runtime::ContainerRuntime;
use s2i_docker::{ConnectOptions, DockerRuntime, Error};
use tokio::net::{TcpListener, UnixStream};

use common::{TestImage, chunked, engine_socket, run, shell_spec};

/// Options for the engine under test, from the process environment but with `vars` on top.
fn options_with(vars: &[(&str, &str)]) -> ConnectOptions {
    let mut env: Vec<(String, std::ffi::OsString)> =
        std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v))).collect();
    env.retain(|(k, _)| !vars.iter().any(|(name, _)| name == k));
    env.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).into())));
    ConnectOptions::from_env_map(env)
}

async fn connect(options: &ConnectOptions) -> DockerRuntime {
    match DockerRuntime::connect(options).await {
        Ok(runtime) => runtime,
        Err(e) => panic!("{}: {:?}", common::START_ENGINE, miette::Report::new(e)),
    }
}

/// Runs `wc -c` with data on stdin through the runtime: proves attach and half-close work.
async fn stdin_round_trip(runtime: &DockerRuntime) {
    let image = TestImage::import();
    let data = vec![b'x'; 300_000];
    let spec = shell_spec(&image.name, "wc -c", true);
    let (_container, status, stdout, stderr) =
        tokio::time::timeout(Duration::from_secs(60), run(runtime, &spec, Some(chunked(data, 10_000))))
            .await
            .expect("the container sees end-of-file on stdin and exits");
    assert_eq!(status.code, 0, "{}", String::from_utf8_lossy(&stderr));
    assert_eq!(String::from_utf8_lossy(&stdout).trim(), "300000");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_runtime_says_whether_the_engine_is_podman() {
    let runtime = connect(&options_with(&[])).await;
    let name = runtime.info().await.unwrap().name;
    assert_eq!(runtime.is_podman(), name == "Podman Engine", "{name}");
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_api_version_is_used_exactly() {
    for version in ["1.41", "1.40"] {
        let runtime = connect(&options_with(&[("DOCKER_API_VERSION", version)])).await;
        assert_eq!(runtime.api_version(), version);
        assert_eq!(runtime.info().await.unwrap().api_version, version);
    }
    let error = DockerRuntime::connect(&options_with(&[("DOCKER_API_VERSION", "1.99")])).await.unwrap_err();
    assert!(matches!(error, Error::ApiVersionRefused { ref version, .. } if version == "1.99"), "{error:?}");
    let error = DockerRuntime::connect(&options_with(&[("DOCKER_API_VERSION", "latest")])).await.unwrap_err();
    assert!(matches!(error, Error::InvalidApiVersion { .. }), "{error:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_endpoints_fail_fast_with_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("missing.sock");
    let free_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    for host in [format!("unix://{}", socket.display()), format!("tcp://127.0.0.1:{free_port}")] {
        let started = Instant::now();
        let error = DockerRuntime::connect(&options_with(&[("DOCKER_HOST", &host), ("DOCKER_TLS_VERIFY", "")]))
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3), "{host}: took {:?}", started.elapsed());
        let Error::Unreachable { endpoint, message } = &error else { panic!("{host}: {error:?}") };
        assert!(endpoint.contains(host.trim_start_matches("unix://").trim_start_matches("tcp://")), "{endpoint}");
        assert!(!message.is_empty());
        let help = error.help().map(|h| h.to_string()).unwrap_or_default();
        assert!(help.contains("cargo xtask docker") && help.contains("podman system service"), "{help}");
        assert_eq!(error.code().map(|c| c.to_string()).as_deref(), Some("s2i::docker::unreachable"));
    }

    // Something that is not an engine.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming().take(1) {
            let mut stream = stream.unwrap();
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
        }
    });
    let error = DockerRuntime::connect(&options_with(&[("DOCKER_HOST", &format!("http://127.0.0.1:{port}"))]))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Unreachable { .. }), "{error:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_docker_host_or_docker_socket_podmans_socket_is_found() {
    // A rootless Podman layout whose socket leads to the engine under test
    // (Podman in the Podman run of the suite), and no Docker socket.
    let dir = tempfile::tempdir().unwrap();
    let podman_socket = dir.path().join("xdg/podman/podman.sock");
    std::fs::create_dir_all(podman_socket.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(engine_socket(), &podman_socket).unwrap();
    let mut options =
        options_with(&[("DOCKER_HOST", ""), ("XDG_RUNTIME_DIR", dir.path().join("xdg").to_str().unwrap())]);
    options.docker_socket = dir.path().join("docker.sock");
    assert!(options.host.is_none());

    let runtime = connect(&options).await;
    assert_eq!(runtime.endpoint(), format!("unix://{}", podman_socket.display()));
    assert_eq!(runtime.info().await.unwrap().name, common::engine_name());
    stdin_round_trip(&runtime).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_docker_config_fails_connect_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(&config, "{\"auths\": 3}").unwrap();
    let mut options = options_with(&[]);
    options.docker_config = Some(config.clone());
    let error = DockerRuntime::connect(&options).await.unwrap_err();
    assert!(
        matches!(&error, Error::Credentials(e) if matches!(&**e, s2i_core::Error::AuthFile { path, .. } if path == &config)),
        "{error:?}"
    );

    options.docker_config = Some(dir.path().join("missing.json"));
    connect(&options).await;
}

/// Forward every connection on `listener` to the engine's unix socket, through `wrap`.
async fn forward(stream: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin, socket: &Path) {
    let mut client = stream;
    let Ok(mut engine) = UnixStream::connect(socket).await else {
        return;
    };
    // Propagates end-of-file in each direction as a half-close.
    let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_tcp_endpoint_through_a_proxy() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let socket = engine_socket();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let socket = socket.clone();
            tokio::spawn(async move { forward(stream, &socket).await });
        }
    });
    let runtime =
        connect(&options_with(&[("DOCKER_HOST", &format!("tcp://127.0.0.1:{port}")), ("DOCKER_TLS_VERIFY", "")])).await;
    assert_eq!(runtime.endpoint(), format!("tcp://127.0.0.1:{port}"));
    assert_eq!(runtime.info().await.unwrap().name, common::engine_name());
    stdin_round_trip(&runtime).await;
}

struct Pki {
    dir: tempfile::TempDir,
    server: rustls::ServerConfig,
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, in
/// `ca.pem`, `cert.pem` and `key.pem` of a directory; and a server
/// configuration that requires client certificates from the CA.
fn make_pki() -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.distinguished_name.push(DnType::CommonName, "s2i test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let mut server_params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate().unwrap();
    let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();

    let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    client_params.distinguished_name.push(DnType::CommonName, "s2i test client");
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_key = KeyPair::generate().unwrap();
    let client_cert = client_params.signed_by(&client_key, &issuer).unwrap();

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.path().join("cert.pem"), client_cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), client_key.serialize_pem()).unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca_cert.der().clone()).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
        .build()
        .unwrap();
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(server_cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        )
        .unwrap();
    Pki { dir, server }
}

/// A TLS-terminating proxy on 127.0.0.1 in front of the engine's socket; returns its port.
async fn tls_proxy(config: rustls::ServerConfig) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let socket = engine_socket();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let socket = socket.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(stream).await {
                    forward(tls, &socket).await;
                }
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_with_client_certificates_from_docker_cert_path() {
    let pki = make_pki();
    let port = tls_proxy(pki.server.clone()).await;
    let cert_path = pki.dir.path().to_str().unwrap();
    let host = format!("tcp://127.0.0.1:{port}");
    let runtime =
        connect(&options_with(&[("DOCKER_HOST", &host), ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", cert_path)]))
            .await;
    assert_eq!(runtime.endpoint(), format!("https://127.0.0.1:{port}"));
    let info = runtime.info().await.unwrap();
    assert_eq!(info.name, common::engine_name());
    stdin_round_trip(&runtime).await;

    // https:// verifies too, with explicit files.
    let mut options = options_with(&[("DOCKER_HOST", &format!("https://127.0.0.1:{port}")), ("DOCKER_TLS_VERIFY", "")]);
    options.ca = Some(pki.dir.path().join("ca.pem"));
    options.cert = Some(pki.dir.path().join("cert.pem"));
    options.key = Some(pki.dir.path().join("key.pem"));
    connect(&options).await.info().await.unwrap();

    // --tls without verification: no CA needed.
    let mut options =
        options_with(&[("DOCKER_HOST", &host), ("DOCKER_TLS_VERIFY", ""), ("DOCKER_CERT_PATH", "/nonexistent")]);
    options.tls = true;
    options.cert = Some(pki.dir.path().join("cert.pem"));
    options.key = Some(pki.dir.path().join("key.pem"));
    connect(&options).await.info().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_failures_are_typed() {
    let pki = make_pki();
    let port = tls_proxy(pki.server.clone()).await;
    let host = format!("tcp://127.0.0.1:{port}");

    // A CA that did not sign the engine's certificate.
    let other = make_pki();
    let mut options = options_with(&[("DOCKER_HOST", &host), ("DOCKER_TLS_VERIFY", "1")]);
    options.cert_path = Some(pki.dir.path().to_owned());
    options.ca = Some(other.dir.path().join("ca.pem"));
    let error = DockerRuntime::connect(&options).await.unwrap_err();
    assert!(matches!(error, Error::TlsHandshake { .. }), "{error:?}");

    // No client certificate: the engine (proxy) refuses.
    let mut options =
        options_with(&[("DOCKER_HOST", &host), ("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", "/nonexistent")]);
    options.ca = Some(pki.dir.path().join("ca.pem"));
    let error = DockerRuntime::connect(&options).await.unwrap_err();
    assert!(
        matches!(error, Error::TlsHandshake { ref message, .. } if message.contains("CertificateRequired")),
        "{error:?}"
    );

    // A certificate without its key.
    options.cert = Some(pki.dir.path().join("cert.pem"));
    let error = DockerRuntime::connect(&options).await.unwrap_err();
    assert!(matches!(error, Error::TlsConfig { .. }), "{error:?}");

    // A file that is not PEM.
    options.key = Some(pki.dir.path().join("nonexistent-key.pem"));
    let error = DockerRuntime::connect(&options).await.unwrap_err();
    assert!(matches!(error, Error::TlsFile { what: "client key", .. }), "{error:?}");
}
