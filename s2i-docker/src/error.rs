//! This crate's error type, and the mapping of the Docker client's failures
//! onto [`RuntimeError`].

use std::error::Error as StdError;
use std::path::PathBuf;

use bollard::errors::Error as BollardError;
use miette::Diagnostic;
use s2i_core::runtime::{RuntimeError, RuntimeErrorKind};

/// A failure to connect to a container engine, or a configuration it cannot use.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// Nothing answers at the endpoint, or it does not speak the Docker Engine API.
    #[error("cannot reach a container engine at {endpoint}: {message}")]
    #[diagnostic(
        code(s2i::docker::unreachable),
        help(
            "start Docker (`sudo dockerd &` or `systemctl start docker`; in the s2i repo `cargo xtask docker`), start Podman's service (`podman system service --time=0 unix:///run/podman/podman.sock &`), or point DOCKER_HOST at a running engine"
        )
    )]
    Unreachable {
        /// The endpoint tried, e.g. `unix:///var/run/docker.sock`.
        endpoint: String,
        /// Why it failed.
        message: String,
    },

    /// The engine answered but refused the API version the client asked for.
    #[error("the container engine at {endpoint} refused API version {version}: {message}")]
    #[diagnostic(
        code(s2i::docker::api_version),
        help(
            "unset DOCKER_API_VERSION to let s2i negotiate the version, or set it to one the engine supports (`docker version` shows the engine's API version)"
        )
    )]
    ApiVersionRefused {
        /// The endpoint.
        endpoint: String,
        /// The version asked for.
        version: String,
        /// The engine's message.
        message: String,
    },

    /// `DOCKER_API_VERSION` (or the API version option) is not `MAJOR.MINOR`.
    #[error("invalid API version {value:?}: it must be MAJOR.MINOR, e.g. 1.41")]
    #[diagnostic(
        code(s2i::docker::invalid_api_version),
        help("set DOCKER_API_VERSION to a version like 1.41, or unset it")
    )]
    InvalidApiVersion {
        /// The value given.
        value: String,
    },

    /// The endpoint URL is malformed or uses a scheme this client does not speak.
    #[error("cannot use the engine endpoint {host:?}: {reason}")]
    #[diagnostic(
        code(s2i::docker::invalid_host),
        help(
            "write it as unix:///path/to/socket, tcp://host:port, http://host:port or https://host:port (-U/--url or DOCKER_HOST)"
        )
    )]
    InvalidHost {
        /// The endpoint as given.
        host: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A TLS certificate, key or CA file cannot be read or parsed.
    #[error("cannot use the TLS {what} {path}: {message}")]
    #[diagnostic(
        code(s2i::docker::tls_file),
        help(
            "check the file (PEM format) or point --cert/--key/--ca or DOCKER_CERT_PATH (cert.pem, key.pem, ca.pem) at the right ones"
        )
    )]
    TlsFile {
        /// Which file: `client certificate`, `client key` or `CA certificate`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// The TLS settings do not fit together.
    #[error("invalid TLS settings: {message}")]
    #[diagnostic(code(s2i::docker::tls_config), help("{help}"))]
    TlsConfig {
        /// What is wrong.
        message: String,
        /// What to do.
        help: String,
    },

    /// The TLS handshake with the engine failed.
    #[error("TLS handshake with the container engine at {endpoint} failed: {message}")]
    #[diagnostic(
        code(s2i::docker::tls_handshake),
        help(
            "check that the CA (--ca or DOCKER_CERT_PATH/ca.pem) signed the engine's certificate, that the certificate names the host you connect to, and that the engine accepts your client certificate (--cert/--key)"
        )
    )]
    TlsHandshake {
        /// The endpoint.
        endpoint: String,
        /// The TLS library's message.
        message: String,
    },

    /// A registry credentials file cannot be read or parsed (an [`s2i_core::Error::AuthFile`]).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Credentials(Box<s2i_core::Error>),
}

/// The message of an error and all its causes, `: `-separated, without
/// repeats and without the HTTP client's generic wrappers.
pub(crate) fn chain_message(error: &(dyn StdError + 'static)) -> String {
    const WRAPPERS: [&str; 2] = ["Error in the hyper legacy client", "client error ("];
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(current) = next {
        let text = current.to_string();
        let wrapper = WRAPPERS.iter().any(|w| text.starts_with(w));
        if !text.is_empty() && !wrapper && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = cause(current);
    }
    if parts.is_empty() { error.to_string() } else { parts.join(": ") }
}

/// The cause of an error; looks inside `io::Error`s, whose `source` skips the wrapped error.
fn cause<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    if let Some(io) = error.downcast_ref::<std::io::Error>()
        && let Some(inner) = io.get_ref()
    {
        return Some(inner as &(dyn StdError + 'static));
    }
    error.source()
}

/// Whether a rustls error is somewhere in the chain of `error`.
pub(crate) fn is_tls_failure(error: &(dyn StdError + 'static)) -> bool {
    let mut next: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(current) = next {
        if current.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        next = cause(current);
    }
    false
}

fn mentions_auth(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    ["unauthorized", "authentication required", "no basic auth credentials"].iter().any(|needle| lower.contains(needle))
}

/// Classify a failure of the Docker client as a [`RuntimeError`] with the engine's own message.
pub(crate) fn runtime_error(error: BollardError) -> RuntimeError {
    use RuntimeErrorKind as Kind;
    match error {
        BollardError::DockerResponseServerError { status_code, message } => {
            let kind = match status_code {
                401 | 403 => Kind::Unauthorized,
                _ if mentions_auth(&message) => Kind::Unauthorized,
                404 => Kind::NotFound,
                // Older engines answer 500 when a registry does not know a tag.
                _ if message.to_ascii_lowercase().contains("manifest unknown") => Kind::NotFound,
                400 | 409 => Kind::Rejected,
                _ => Kind::Other,
            };
            let message = if message.trim().is_empty() {
                format!("the engine answered HTTP {status_code} without a message")
            } else {
                message.trim().to_owned()
            };
            RuntimeError::new(kind, message)
        }
        BollardError::DockerStreamError { error } => {
            let lower = error.to_ascii_lowercase();
            let kind = if mentions_auth(&error) {
                Kind::Unauthorized
            } else if lower.contains("manifest unknown") || lower.contains("not found") {
                Kind::NotFound
            } else {
                Kind::Other
            };
            RuntimeError::new(kind, error)
        }
        BollardError::RequestTimeoutError => {
            RuntimeError::new(Kind::Other, "timeout: the container engine did not answer in time")
        }
        BollardError::SocketNotFoundError(path) => {
            RuntimeError::new(Kind::Unreachable, format!("the socket {path} does not exist"))
        }
        ref e @ (BollardError::HyperLegacyError { .. }
        | BollardError::HyperResponseError { .. }
        | BollardError::IOError { .. }) => RuntimeError::new(Kind::Unreachable, chain_message(e)),
        other => RuntimeError::new(Kind::Other, chain_message(&other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(status_code: u16, message: &str) -> BollardError {
        BollardError::DockerResponseServerError { status_code, message: message.to_owned() }
    }

    #[test]
    fn status_codes_map_to_kinds() {
        assert_eq!(runtime_error(server(404, "No such image: foo:latest")).kind, RuntimeErrorKind::NotFound);
        assert_eq!(runtime_error(server(404, "No such image: foo:latest")).message, "No such image: foo:latest");
        assert_eq!(runtime_error(server(401, "x")).kind, RuntimeErrorKind::Unauthorized);
        assert_eq!(runtime_error(server(403, "x")).kind, RuntimeErrorKind::Unauthorized);
        assert_eq!(
            runtime_error(server(500, "Get https://r/v2/: unauthorized: authentication required")).kind,
            RuntimeErrorKind::Unauthorized
        );
        assert_eq!(
            runtime_error(server(500, "Head \"http://r/v2/a/manifests/1\": no basic auth credentials")).kind,
            RuntimeErrorKind::Unauthorized
        );
        assert_eq!(runtime_error(server(409, "conflict")).kind, RuntimeErrorKind::Rejected);
        assert_eq!(runtime_error(server(400, "bad")).kind, RuntimeErrorKind::Rejected);
        assert_eq!(runtime_error(server(500, "boom")).kind, RuntimeErrorKind::Other);
        assert_eq!(runtime_error(server(500, "manifest unknown")).kind, RuntimeErrorKind::NotFound);
        assert!(runtime_error(server(500, "")).message.contains("500"));
    }

    #[test]
    fn stream_errors_are_classified_by_message() {
        let e = |m: &str| runtime_error(BollardError::DockerStreamError { error: m.to_owned() });
        assert_eq!(e("unauthorized: authentication required").kind, RuntimeErrorKind::Unauthorized);
        assert_eq!(e("manifest unknown: manifest unknown").kind, RuntimeErrorKind::NotFound);
        assert_eq!(e("connection reset by peer").kind, RuntimeErrorKind::Other);
    }

    #[test]
    fn io_errors_are_unreachable_with_the_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let e = runtime_error(BollardError::IOError { err: io });
        assert_eq!(e.kind, RuntimeErrorKind::Unreachable);
        assert!(e.message.contains("Connection refused"), "{}", e.message);
    }

    #[test]
    fn chain_message_looks_inside_io_errors() {
        #[derive(Debug, thiserror::Error)]
        #[error("inner problem")]
        struct Inner;
        let io = std::io::Error::other(Inner);
        let outer = BollardError::IOError { err: io };
        assert_eq!(chain_message(&outer), "inner problem");
    }
}
