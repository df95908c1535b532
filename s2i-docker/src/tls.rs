//! TLS to a TCP engine endpoint, on our own rustls configuration.
//!
//! Bollard's built-in TLS client always verifies the engine's certificate and
//! needs a process-wide crypto provider, so TLS connections go through a custom
//! transport: a hyper client with a rustls connector configured here.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bollard::{BollardRequest, ClientVersion, Docker};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::Error;
use crate::options::TlsSettings;

/// A Docker client that speaks HTTPS to `address` (`host:port`).
pub(crate) fn connect(
    address: &str,
    settings: &TlsSettings,
    timeout: Duration,
    connect_timeout: Duration,
    version: &ClientVersion,
) -> Result<Docker, Error> {
    let config = client_config(settings)?;
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnector::from((http, config));
    let mut builder = Client::builder(TokioExecutor::new());
    // A fresh connection per request, as bollard does: attach upgrades take theirs over.
    builder.pool_max_idle_per_host(0);
    let client = Arc::new(builder.build(https));
    let transport = move |request: BollardRequest| {
        let client = Arc::clone(&client);
        async move { client.request(request).await.map_err(bollard::errors::Error::from) }
    };
    Docker::connect_with_custom_transport(transport, Some(format!("https://{address}")), timeout.as_secs(), version)
        .map_err(|e| Error::InvalidHost { host: format!("https://{address}"), reason: e.to_string() })
}

/// Why the pre-flight TLS check failed.
pub(crate) enum Preflight {
    /// The TCP connection could not be made.
    Connect(String),
    /// The TLS handshake failed, or the engine refused the client right after it.
    Handshake(String),
    /// The settings do not make a TLS configuration.
    Config(Error),
}

/// Shake hands with the engine and send one `/_ping`, so that a refusal that
/// TLS 1.3 only delivers after the handshake (a missing or unknown client
/// certificate) is reported as what it is, not as a closed connection.
pub(crate) async fn preflight(address: &str, settings: &TlsSettings, timeout: Duration) -> Result<(), Preflight> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = client_config(settings).map_err(Preflight::Config)?;
    let host = address.rsplit_once(':').map_or(address, |(host, _)| host).trim_matches(['[', ']']);
    let name = ServerName::try_from(host.to_owned()).map_err(|e| Preflight::Handshake(format!("{host}: {e}")))?;
    let check = async {
        let tcp = tokio::net::TcpStream::connect(address).await.map_err(|e| Preflight::Connect(e.to_string()))?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let mut tls = connector.connect(name, tcp).await.map_err(|e| Preflight::Handshake(e.to_string()))?;
        tls.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            .await
            .map_err(|e| Preflight::Handshake(e.to_string()))?;
        let mut first = [0u8; 16];
        match tls.read(&mut first).await {
            Ok(n) if n > 0 => Ok(()),
            Ok(_) => Err(Preflight::Handshake("the engine closed the connection without answering".into())),
            Err(e) => Err(Preflight::Handshake(e.to_string())),
        }
    };
    tokio::time::timeout(timeout, check)
        .await
        .unwrap_or_else(|_| Err(Preflight::Connect(format!("no answer within {} s", timeout.as_secs()))))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The rustls client configuration for the settings: trusted roots (or none,
/// when verification is off) and the client certificate, if any.
pub(crate) fn client_config(settings: &TlsSettings) -> Result<ClientConfig, Error> {
    let provider = provider();
    let builder =
        ClientConfig::builder_with_provider(Arc::clone(&provider)).with_safe_default_protocol_versions().map_err(
            |e| Error::TlsConfig { message: e.to_string(), help: "this is a bug in s2i; please report it".into() },
        )?;
    let builder = if settings.verify {
        builder.with_root_certificates(roots(settings.ca.as_deref())?)
    } else {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert { provider }))
    };
    let config = match (&settings.cert, &settings.key) {
        (Some(cert), Some(key)) => {
            let chain = read_certificates(cert, "client certificate")?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| Error::TlsFile {
                what: "client key",
                path: key.clone(),
                message: pem_message(&e),
            })?;
            builder.with_client_auth_cert(chain, key).map_err(|e| Error::TlsConfig {
                message: format!("the client certificate and key cannot be used together: {e}"),
                help: "pass a key (--key) that belongs to the certificate (--cert)".into(),
            })?
        }
        (None, None) => builder.with_no_client_auth(),
        (Some(cert), None) => {
            return Err(Error::TlsConfig {
                message: format!("a client certificate ({}) but no key", cert.display()),
                help: "pass the key too (--key, or key.pem in DOCKER_CERT_PATH)".into(),
            });
        }
        (None, Some(key)) => {
            return Err(Error::TlsConfig {
                message: format!("a client key ({}) but no certificate", key.display()),
                help: "pass the certificate too (--cert, or cert.pem in DOCKER_CERT_PATH)".into(),
            });
        }
    };
    Ok(config)
}

fn roots(ca: Option<&Path>) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(ca) => {
            let certs = read_certificates(ca, "CA certificate")?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(Error::TlsFile {
                    what: "CA certificate",
                    path: ca.to_owned(),
                    message: "it holds no usable certificate".into(),
                });
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
            if roots.is_empty() {
                return Err(Error::TlsConfig {
                    message: "no CA certificate to verify the engine with, and the system has none".into(),
                    help: "pass the engine's CA with --ca or put ca.pem in DOCKER_CERT_PATH".into(),
                });
            }
        }
    }
    Ok(roots)
}

fn read_certificates(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let file_error = |message: String| Error::TlsFile { what, path: path.to_owned(), message };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(pem_message(&e)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(pem_message(&e)))?;
    if certs.is_empty() {
        return Err(file_error("it holds no PEM certificate".into()));
    }
    Ok(certs)
}

fn pem_message(error: &rustls::pki_types::pem::Error) -> String {
    match error {
        rustls::pki_types::pem::Error::Io(e) => e.to_string(),
        rustls::pki_types::pem::Error::NoItemsFound => "it holds no PEM item of the expected kind".into(),
        other => format!("it is not valid PEM: {other:?}"),
    }
}

/// Accepts any server certificate (`--tls` without `--tlsverify`), but still
/// checks handshake signatures so the connection is at least encrypted to the
/// holder of the presented key.
#[derive(Debug)]
struct AcceptAnyServerCert {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
