//! The router's extended validation of TLS material (docs/compatibility.md#tls-material).
//!
//! The API server only checks which TLS fields a termination allows; whether
//! the PEM parses, the key matches the certificate and the chain holds is
//! checked by the router when it admits the route. A route that fails is not
//! admitted (`ExtendedValidationFailed`). What passes comes out sanitised:
//! canonical PEM blocks in the order HAProxy wants them (key, certificate,
//! CA chain).
//!
//! One deliberate difference from OpenShift: a serving certificate that has
//! expired (or is not yet valid) is refused here, because every client would
//! refuse it; OpenShift's router serves it.

use jiff::Timestamp;
use pem::Pem;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::route::{TlsConfig, TlsTermination};

/// TLS material that passed extended validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedTls {
    /// The route's own serving certificate, if it has one.
    pub serving: Option<ServingCertificate>,
    /// The destination CA bundle (reencrypt), canonical PEM.
    pub destination_ca: Option<String>,
}

/// A serving certificate ready for HAProxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServingCertificate {
    /// Key, certificate, then CA chain, as canonical PEM: HAProxy's `crt` file.
    pub pem: String,
    /// When the leaf certificate expires.
    pub not_after: Timestamp,
    /// DNS names of the leaf (subject alternative names).
    pub dns_names: Vec<String>,
}

/// Why TLS material was refused: the field and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsMaterialError {
    /// The field, e.g. `spec.tls.certificate`.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for TlsMaterialError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = match self.field {
            "spec.tls.key" => "redacted key data",
            "spec.tls.caCertificate" => "redacted ca certificate data",
            "spec.tls.destinationCACertificate" => "redacted destination ca certificate data",
            _ => "redacted certificate data",
        };
        write!(f, "{}: Invalid value: {redacted:?}: {}", self.field, self.message)
    }
}

const CERTIFICATE_FIELD: &str = "spec.tls.certificate";
const KEY_FIELD: &str = "spec.tls.key";
const CA_FIELD: &str = "spec.tls.caCertificate";
const DESTINATION_CA_FIELD: &str = "spec.tls.destinationCACertificate";

/// Signature algorithms the router refuses on CA-signed certificates.
const WEAK_SIGNATURES: [(&str, &str); 6] = [
    ("1.2.840.113549.1.1.5", "SHA1"),
    ("1.3.14.3.2.29", "SHA1"),
    ("1.2.840.10045.4.1", "SHA1"),
    ("1.2.840.10040.4.3", "SHA1"),
    ("1.2.840.113549.1.1.4", "MD5"),
    ("1.2.840.113549.1.1.2", "MD2"),
];

/// The PEM block kinds the router knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    Certificate,
    PrivateKey,
    PublicKey,
    EcParameters,
}

fn block_kind(tag: &str) -> Option<BlockKind> {
    match tag {
        "CERTIFICATE" => Some(BlockKind::Certificate),
        "RSA PRIVATE KEY" | "EC PRIVATE KEY" | "ECDSA PRIVATE KEY" | "PRIVATE KEY" => Some(BlockKind::PrivateKey),
        "PUBLIC KEY" | "RSA PUBLIC KEY" | "DSA PUBLIC KEY" | "ECDSA PUBLIC KEY" => Some(BlockKind::PublicKey),
        "EC PARAMETERS" => Some(BlockKind::EcParameters),
        _ => None,
    }
}

/// The PEM blocks of a field; `EC PARAMETERS` blocks are dropped.
fn blocks(field: &'static str, text: &str) -> Result<Vec<(BlockKind, Pem)>, TlsMaterialError> {
    let error = |message: String| TlsMaterialError { field, message };
    let parsed = pem::parse_many(text).map_err(|err| error(format!("the PEM data does not parse: {err}")))?;
    if parsed.is_empty() {
        return Err(error("no PEM block found (-----BEGIN …----- / -----END …-----)".to_owned()));
    }
    let mut kept = Vec::new();
    for block in parsed {
        match block_kind(block.tag()) {
            None => return Err(error(format!("unrecognized PEM block type {:?}", block.tag()))),
            Some(BlockKind::EcParameters) => {}
            Some(kind) => kept.push((kind, block)),
        }
    }
    Ok(kept)
}

fn parse_certificate<'a>(field: &'static str, block: &'a Pem) -> Result<X509Certificate<'a>, TlsMaterialError> {
    X509Certificate::from_der(block.contents()).map(|(_, certificate)| certificate).map_err(|err| TlsMaterialError {
        field,
        message: format!("a CERTIFICATE block is not an X.509 certificate: {err}"),
    })
}

fn certificates(field: &'static str, text: &str) -> Result<Vec<Pem>, TlsMaterialError> {
    let mut certs = Vec::new();
    for (kind, block) in blocks(field, text)? {
        if kind != BlockKind::Certificate {
            return Err(TlsMaterialError {
                field,
                message: format!("must hold certificates only, found {:?}", block.tag()),
            });
        }
        parse_certificate(field, &block)?;
        certs.push(block);
    }
    Ok(certs)
}

fn private_key_der(block: &Pem) -> PrivateKeyDer<'static> {
    let der = block.contents().to_vec();
    match block.tag() {
        "RSA PRIVATE KEY" => PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der)),
        "EC PRIVATE KEY" | "ECDSA PRIVATE KEY" => PrivateKeyDer::Sec1(PrivateSec1KeyDer::from(der)),
        _ => PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der)),
    }
}

fn is_self_signed(certificate: &X509Certificate<'_>) -> bool {
    certificate.subject().as_raw() == certificate.issuer().as_raw()
        && certificate.verify_signature(Some(certificate.public_key())).is_ok()
}

fn weak_signature(certificate: &X509Certificate<'_>) -> Option<&'static str> {
    let oid = certificate.signature_algorithm.algorithm.to_id_string();
    WEAK_SIGNATURES.iter().find(|(weak, _)| *weak == oid).map(|(_, name)| *name)
}

fn timestamp(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).unwrap_or(if seconds < 0 { Timestamp::MIN } else { Timestamp::MAX })
}

/// Checks a serving certificate and its key (PEM), with the CA chain if any,
/// at time `now`; returns what HAProxy serves.
pub(crate) fn validate_serving_certificate(
    certificate: &str,
    key: &str,
    ca_certificate: &str,
    now: Timestamp,
) -> Result<ServingCertificate, TlsMaterialError> {
    let cert_error = |message: String| TlsMaterialError { field: CERTIFICATE_FIELD, message };
    let mut certs = Vec::new();
    let mut keys = Vec::new();
    for (kind, block) in blocks(CERTIFICATE_FIELD, certificate)? {
        match kind {
            BlockKind::Certificate => certs.push(block),
            BlockKind::PrivateKey => keys.push(block),
            _ => {
                return Err(cert_error(format!(
                    "must hold certificates (and optionally the key), found {:?}",
                    block.tag()
                )));
            }
        }
    }
    if certs.is_empty() {
        return Err(cert_error("no certificate found".to_owned()));
    }
    if !key.trim().is_empty() {
        for (kind, block) in blocks(KEY_FIELD, key)? {
            if kind != BlockKind::PrivateKey {
                return Err(TlsMaterialError {
                    field: KEY_FIELD,
                    message: format!("must hold a private key, found {:?}", block.tag()),
                });
            }
            keys.push(block);
        }
    }
    let key_block = match keys.as_slice() {
        [] => return Err(TlsMaterialError { field: KEY_FIELD, message: "no key specified".to_owned() }),
        [key] => key,
        _ => return Err(TlsMaterialError { field: KEY_FIELD, message: "more than one private key given".to_owned() }),
    };
    let parsed: Vec<X509Certificate<'_>> =
        certs.iter().map(|block| parse_certificate(CERTIFICATE_FIELD, block)).collect::<Result<_, _>>()?;
    let leaf = &parsed[0];

    let signing_key = rustls::crypto::ring::sign::any_supported_type(&private_key_der(key_block)).map_err(|err| {
        TlsMaterialError {
            field: KEY_FIELD,
            message: format!("the private key is not a usable RSA, ECDSA or Ed25519 key: {err}"),
        }
    })?;
    let key_spki = signing_key.public_key().ok_or_else(|| TlsMaterialError {
        field: KEY_FIELD,
        message: "the public half of the private key cannot be derived".to_owned(),
    })?;
    if key_spki.as_ref() != leaf.public_key().raw {
        return Err(TlsMaterialError {
            field: KEY_FIELD,
            message: "the private key does not match the certificate (the first certificate must be the leaf)"
                .to_owned(),
        });
    }

    let not_before = timestamp(leaf.validity().not_before.timestamp());
    let not_after = timestamp(leaf.validity().not_after.timestamp());
    if now > not_after {
        return Err(cert_error(format!("the certificate expired at {}", s2i_store::timestamp::format(&not_after))));
    }
    if now < not_before {
        return Err(cert_error(format!(
            "the certificate is not valid before {}",
            s2i_store::timestamp::format(&not_before)
        )));
    }
    if let Ok(Some(usage)) = leaf.extended_key_usage()
        && !usage.value.any
        && !usage.value.server_auth
    {
        return Err(cert_error(
            "the certificate's extended key usage does not allow serving TLS (serverAuth)".to_owned(),
        ));
    }

    let ca_certs = if ca_certificate.trim().is_empty() { Vec::new() } else { certificates(CA_FIELD, ca_certificate)? };
    let ca_parsed: Vec<X509Certificate<'_>> =
        ca_certs.iter().map(|block| parse_certificate(CA_FIELD, block)).collect::<Result<_, _>>()?;
    if !ca_parsed.is_empty() {
        let signed_by_bundle = ca_parsed.iter().any(|ca| {
            ca.subject().as_raw() == leaf.issuer().as_raw() && leaf.verify_signature(Some(ca.public_key())).is_ok()
        });
        if !signed_by_bundle {
            return Err(cert_error(
                "the certificate is not signed by any certificate in caCertificate (x509: certificate signed by unknown authority)"
                    .to_owned(),
            ));
        }
    }
    for (field, certificate) in
        parsed.iter().map(|c| (CERTIFICATE_FIELD, c)).chain(ca_parsed.iter().map(|c| (CA_FIELD, c)))
    {
        if let Some(weak) = weak_signature(certificate).filter(|_| !is_self_signed(certificate)) {
            return Err(TlsMaterialError {
                field,
                message: format!("router does not support CA-signed certs using {weak}"),
            });
        }
    }

    let mut dns_names = Vec::new();
    if let Ok(Some(names)) = leaf.subject_alternative_name() {
        for name in &names.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(dns) = name {
                dns_names.push((*dns).to_owned());
            }
        }
    }
    let served: Vec<Pem> = std::iter::once(key_block.clone()).chain(certs.iter().cloned()).chain(ca_certs).collect();
    Ok(ServingCertificate { pem: encode(&served), not_after, dns_names })
}

/// A CA bundle (PEM certificates only), canonical.
pub(crate) fn validate_ca_bundle(field: &'static str, bundle: &str) -> Result<String, TlsMaterialError> {
    Ok(encode(&certificates(field, bundle)?))
}

/// Extended validation of a route's TLS block at time `now`.
pub fn validate_route_tls(tls: &TlsConfig, now: Timestamp) -> Result<ValidatedTls, TlsMaterialError> {
    let serving = if tls.termination != TlsTermination::Passthrough && !tls.certificate.trim().is_empty() {
        Some(validate_serving_certificate(&tls.certificate, &tls.key, &tls.ca_certificate, now)?)
    } else if !tls.key.trim().is_empty() {
        return Err(TlsMaterialError { field: KEY_FIELD, message: "a key is given without a certificate".to_owned() });
    } else {
        if !tls.ca_certificate.trim().is_empty() {
            validate_ca_bundle(CA_FIELD, &tls.ca_certificate)?;
        }
        None
    };
    let destination_ca = if tls.destination_ca_certificate.trim().is_empty() {
        None
    } else {
        Some(validate_ca_bundle(DESTINATION_CA_FIELD, &tls.destination_ca_certificate)?)
    };
    Ok(ValidatedTls { serving, destination_ca })
}

fn encode(blocks: &[Pem]) -> String {
    pem::encode_many_config(blocks, pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF))
}

/// Makes a self-signed serving certificate for `*.domain` and `domain`
/// (key and certificate, PEM): the router's default certificate, served to
/// clients whose SNI matches no route certificate.
pub fn generate_default_certificate(domain: &str) -> Result<String, String> {
    let names = vec![format!("*.{domain}"), domain.to_owned()];
    let mut params = rcgen::CertificateParams::new(names).map_err(|err| err.to_string())?;
    params.distinguished_name.push(rcgen::DnType::CommonName, format!("*.{domain}"));
    params.distinguished_name.push(rcgen::DnType::OrganizationName, "s2i router");
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2100, 1, 1);
    let key = rcgen::KeyPair::generate().map_err(|err| err.to_string())?;
    let certificate = params.self_signed(&key).map_err(|err| err.to_string())?;
    Ok(format!("{}{}", key.serialize_pem(), certificate.pem()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A CA and a way to issue leaves, for tests.
    pub(crate) struct TestCa {
        pub(crate) pem: String,
        issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    }

    impl TestCa {
        pub(crate) fn new(name: &str) -> Self {
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            params.distinguished_name.push(rcgen::DnType::CommonName, name);
            let key = rcgen::KeyPair::generate().unwrap();
            let pem = params.self_signed(&key).unwrap().pem();
            TestCa { pem, issuer: rcgen::Issuer::new(params, key) }
        }

        /// (certificate, key) for `host`, valid from `from` to `to` (years).
        pub(crate) fn leaf(&self, host: &str, from: i32, to: i32) -> (String, String) {
            let mut params = rcgen::CertificateParams::new(vec![host.to_owned()]).unwrap();
            params.not_before = rcgen::date_time_ymd(from, 1, 1);
            params.not_after = rcgen::date_time_ymd(to, 1, 1);
            let key = rcgen::KeyPair::generate().unwrap();
            let cert = params.signed_by(&key, &self.issuer).unwrap();
            (cert.pem(), key.serialize_pem())
        }
    }

    fn now() -> Timestamp {
        "2026-06-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_good_chain_is_sanitised_key_first() {
        let ca = TestCa::new("test CA");
        let (cert, key) = ca.leaf("www.example.com", 2025, 2030);
        let messy_key = format!("\n\n{}", key.replace('\n', "\r\n"));
        let served = validate_serving_certificate(&cert, &messy_key, &ca.pem, now()).unwrap();
        let tags: Vec<String> = pem::parse_many(&served.pem).unwrap().iter().map(|p| p.tag().to_owned()).collect();
        assert_eq!(tags, ["PRIVATE KEY", "CERTIFICATE", "CERTIFICATE"]);
        assert!(!served.pem.contains('\r'));
        assert_eq!(served.dns_names, ["www.example.com"]);
        // The key may also come inside the certificate field.
        let combined = format!("{cert}{key}");
        assert!(validate_serving_certificate(&combined, "", "", now()).is_ok());
    }

    #[test]
    fn bad_material_is_refused_with_the_field_and_reason() {
        let ca = TestCa::new("test CA");
        let other = TestCa::new("other CA");
        let (cert, key) = ca.leaf("www.example.com", 2025, 2030);
        let (_, other_key) = ca.leaf("x.example.com", 2025, 2030);
        let (expired, expired_key) = ca.leaf("old.example.com", 2020, 2021);
        let (future, future_key) = ca.leaf("new.example.com", 2030, 2031);
        // (certificate, key, ca, field, part of the message)
        let table: Vec<(&str, &str, &str, &str, &str)> = vec![
            ("not pem at all", &key, "", CERTIFICATE_FIELD, "no PEM block"),
            (
                "-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n",
                &key,
                "",
                CERTIFICATE_FIELD,
                "unrecognized PEM block type \"FOO\"",
            ),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                &key,
                "",
                CERTIFICATE_FIELD,
                "not an X.509 certificate",
            ),
            (&cert, "", "", KEY_FIELD, "no key specified"),
            (&cert, &other_key, "", KEY_FIELD, "does not match"),
            (&cert, &cert, "", KEY_FIELD, "must hold a private key"),
            (&cert, &key, &other.pem, CERTIFICATE_FIELD, "not signed by any certificate in caCertificate"),
            (&cert, &key, &key, CA_FIELD, "certificates only"),
            (&expired, &expired_key, "", CERTIFICATE_FIELD, "expired at 2021-01-01T00:00:00Z"),
            (&future, &future_key, "", CERTIFICATE_FIELD, "not valid before 2030-01-01T00:00:00Z"),
        ];
        for (certificate, key, ca_pem, field, needle) in table {
            let error = validate_serving_certificate(certificate, key, ca_pem, now()).unwrap_err();
            assert_eq!(error.field, field, "{needle}: {error}");
            assert!(error.message.contains(needle), "{needle}: {error}");
            assert!(error.to_string().starts_with(&format!("{field}: Invalid value: \"redacted")), "{error}");
        }
    }

    #[test]
    fn ca_signed_sha1_is_refused_but_a_self_signed_sha1_root_is_not() {
        // Made with openssl (see tests/data/README.md): no crate here signs with SHA-1.
        let self_signed_sha1 = include_str!("../tests/data/self-signed-sha1.pem");
        let blocks = pem::parse_many(self_signed_sha1).unwrap();
        let cert_pem = pem::encode(&blocks[1]);
        let key_pem = pem::encode(&blocks[0]);
        let now = "2027-01-01T00:00:00Z".parse().unwrap();
        assert!(validate_serving_certificate(&cert_pem, &key_pem, "", now).is_ok());
        let ca_signed_sha1 = include_str!("../tests/data/ca-signed-sha1.pem");
        let blocks = pem::parse_many(ca_signed_sha1).unwrap();
        let error = validate_serving_certificate(
            &pem::encode(&blocks[1]),
            &pem::encode(&blocks[0]),
            &pem::encode(&blocks[2]),
            now,
        )
        .unwrap_err();
        assert_eq!(error.message, "router does not support CA-signed certs using SHA1");
    }

    #[test]
    fn termination_decides_which_material_is_checked() {
        let ca = TestCa::new("test CA");
        let (cert, key) = ca.leaf("www.example.com", 2025, 2030);
        let mut tls = TlsConfig::new(TlsTermination::Reencrypt);
        tls.certificate = cert;
        tls.key = key;
        tls.destination_ca_certificate = ca.pem.clone();
        let validated = validate_route_tls(&tls, now()).unwrap();
        assert!(validated.serving.is_some());
        assert_eq!(pem::parse_many(validated.destination_ca.unwrap()).unwrap().len(), 1);
        tls.destination_ca_certificate = "garbage".into();
        assert_eq!(validate_route_tls(&tls, now()).unwrap_err().field, DESTINATION_CA_FIELD);
        // Edge without a certificate uses the router's default one.
        assert_eq!(
            validate_route_tls(&TlsConfig::new(TlsTermination::Edge), now()).unwrap(),
            ValidatedTls { serving: None, destination_ca: None }
        );
    }

    #[test]
    fn the_default_certificate_is_a_valid_wildcard() {
        let pem_text = generate_default_certificate("apps.localhost").unwrap();
        let served = validate_serving_certificate(&pem_text, "", "", now()).unwrap();
        assert_eq!(served.dns_names, ["*.apps.localhost", "apps.localhost"]);
    }
}
