//! The crate's error type: every variant has a stable diagnostic code and a
//! help line that says what to do.

use std::path::PathBuf;

use miette::Diagnostic;

use crate::validation::FieldErrors;

/// A failure of the route library.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// A route breaks the API's rules.
    #[error("the route {route} is invalid:\n{errors}")]
    #[diagnostic(code(s2i::route::invalid), help("fix the fields named above; each line says what the API accepts"))]
    InvalidRoute {
        /// `namespace/name`.
        route: String,
        /// What is wrong, field by field.
        errors: FieldErrors,
    },

    /// A service breaks the API's rules.
    #[error("the service {service} is invalid:\n{errors}")]
    #[diagnostic(code(s2i::service::invalid), help("fix the fields named above; each line says what the API accepts"))]
    InvalidService {
        /// `namespace/name`.
        service: String,
        /// What is wrong, field by field.
        errors: FieldErrors,
    },

    /// The router's domain is not a DNS name.
    #[error("{setting}={value:?} is not a DNS domain: {message}")]
    #[diagnostic(
        code(s2i::route::invalid_domain),
        help("use a lowercase DNS name such as apps.localhost or apps.example.com")
    )]
    InvalidDomain {
        /// Where the domain came from (`S2I_ROUTE_DOMAIN`, `--domain`).
        setting: String,
        /// The value.
        value: String,
        /// What is wrong.
        message: String,
    },

    /// An `IP:PORT` endpoint does not parse, or its service has no port for it.
    #[error("invalid endpoint {endpoint:?}: {message}")]
    #[diagnostic(
        code(s2i::service::invalid_endpoint),
        help("write an endpoint as IP:PORT, e.g. 127.0.0.1:8080 or [::1]:8080, on a port the service has a port for")
    )]
    InvalidEndpoint {
        /// The text given.
        endpoint: String,
        /// What is wrong with it.
        message: String,
    },

    /// A route that an operation needs is not there.
    #[error("route {route} not found{context}")]
    #[diagnostic(
        code(s2i::route::not_found),
        help("check the name and namespace; list the routes you gave to see what exists")
    )]
    RouteNotFound {
        /// `namespace/name`.
        route: String,
        /// Where it was looked for.
        context: String,
    },

    /// An Ingress or Gateway API export would name a service without the
    /// port a cluster requires of its backends.
    #[error("route {route} cannot be exported to {target} without a port of service {service}: {reason}")]
    #[diagnostic(
        code(s2i::route::export_without_port),
        help(
            "give the route's service with its ports (apply the Service first), or set the route's spec.port.targetPort (Gateway API needs a number)"
        )
    )]
    ExportWithoutPort {
        /// `namespace/name` of the route.
        route: String,
        /// `Ingress` or `Gateway API`.
        target: &'static str,
        /// The service.
        service: String,
        /// Why no port is known.
        reason: String,
    },

    /// An object could not be written as YAML.
    #[error("cannot write YAML: {message}")]
    #[diagnostic(code(s2i::route::yaml), help("this is a bug in s2i; please report it with the object that caused it"))]
    WriteYaml {
        /// The serialiser's message.
        message: String,
    },

    /// Reading or writing a file failed.
    #[error("cannot {action} {}: {source}", path.display())]
    #[diagnostic(code(s2i::route::io), help("check that the path exists and that you may read and write it"))]
    Io {
        /// What was attempted (`write`, `read`, `create the directory`…).
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },

    /// The container runtime could not list the containers of a selector.
    #[cfg(feature = "containers")]
    #[error("cannot list the containers of service {service}: {source}")]
    #[diagnostic(
        code(s2i::service::list_containers),
        help("check that the container engine runs, and start it if it does not")
    )]
    ListContainers {
        /// `namespace/name` of the service.
        service: String,
        /// The runtime's error.
        #[source]
        source: s2i_core::RuntimeError,
    },

    /// The router's default certificate is unusable or cannot be made.
    #[error("the router's default certificate {what}: {message}")]
    #[diagnostic(
        code(s2i::router::default_certificate),
        help("give a PEM file holding one private key and its certificate, or remove it to let s2i generate one")
    )]
    DefaultCertificate {
        /// What went wrong (`is invalid`, `cannot be generated`).
        what: &'static str,
        /// Detail.
        message: String,
    },

    /// The `haproxy` program is not installed or cannot run.
    #[error("cannot run {}: {message}", program.display())]
    #[diagnostic(
        code(s2i::router::haproxy_missing),
        help("install HAProxy (Debian: `sudo apt-get install haproxy`), or point the router at the program")
    )]
    HaproxyMissing {
        /// The program that was looked for.
        program: PathBuf,
        /// Why it cannot run.
        message: String,
    },

    /// `haproxy -c` refused the rendered configuration.
    #[error("HAProxy refuses the configuration in {}:\n{output}", dir.display())]
    #[diagnostic(
        code(s2i::router::config_rejected),
        help(
            "this is a bug in s2i's rendering unless the files were edited; the previous configuration stays in effect. Please report it with the output above"
        )
    )]
    ConfigRejected {
        /// The router directory.
        dir: PathBuf,
        /// HAProxy's messages.
        output: String,
    },

    /// The object store failed, or refused a change.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Store(#[from] s2i_store::Error),

    /// HAProxy did not start, or did not take a new configuration.
    #[error("HAProxy {what}:\n{output}")]
    #[diagnostic(
        code(s2i::router::haproxy_failed),
        help(
            "read HAProxy's messages above: a port that is in use (pick other ports) or a port below 1024 without privileges are the usual causes"
        )
    )]
    HaproxyFailed {
        /// What failed (`did not start`, `did not reload`…).
        what: String,
        /// HAProxy's last messages.
        output: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
