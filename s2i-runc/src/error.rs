//! The crate's error type. Every variant has a stable diagnostic code
//! (`s2i_runc::…`) and a help line; [`Error::into_runtime`] turns one into
//! the engine's [`RuntimeError`] for the trait methods.

use std::path::PathBuf;

use miette::Diagnostic;
use s2i_core::runtime::{RuntimeError, RuntimeErrorKind};

/// What the daemonless backend could not do.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// Neither `runc` nor `crun` was found.
    #[error("no OCI runtime found: neither runc nor crun is on PATH")]
    #[diagnostic(
        code(s2i_runc::no_runtime),
        help("install runc or crun (e.g. `apt-get install runc`), or name one with --oci-runtime PATH")
    )]
    NoRuntime,

    /// The OCI runtime named cannot be used.
    #[error("the OCI runtime {program} cannot be used: {reason}")]
    #[diagnostic(code(s2i_runc::runtime_unusable), help("{help}"))]
    RuntimeUnusable {
        /// The program.
        program: PathBuf,
        /// Why.
        reason: String,
        /// What to do.
        help: String,
    },

    /// A directory the backend keeps its state in cannot be used.
    #[error("cannot use {path} for {what}: {reason}")]
    #[diagnostic(code(s2i_runc::directory), help("{help}"))]
    Directory {
        /// The directory.
        path: PathBuf,
        /// What it is for.
        what: String,
        /// Why not.
        reason: String,
        /// What to do.
        help: String,
    },

    /// The user namespace of a rootless run could not be set up.
    #[error("cannot run containers without root: {reason}")]
    #[diagnostic(code(s2i_runc::rootless), help("{help}"))]
    Rootless {
        /// Why.
        reason: String,
        /// What to do.
        help: String,
    },

    /// Reading or writing the image store failed.
    #[error("the image store {path}: {source}")]
    #[diagnostic(
        code(s2i_runc::store),
        help("check that the directory is an OCI layout s2i may write; remove it to start over")
    )]
    Store {
        /// The store's directory.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: Box<s2i_oci::Error>,
    },

    /// Reading or writing an image outside the store failed.
    #[error("cannot {action}: {source}")]
    #[diagnostic(code(s2i_runc::image), help("{help}"))]
    Image {
        /// What was being done.
        action: String,
        /// What to do.
        help: String,
        /// What went wrong.
        #[source]
        source: Box<s2i_oci::Error>,
    },

    /// A file operation failed.
    #[error("cannot {action}: {source}")]
    #[diagnostic(code(s2i_runc::io), help("check the path, its permissions and the free space of its disk"))]
    Io {
        /// What was being done.
        action: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },

    /// No image of the store has that name or ID.
    #[error("no such image in s2i's image store: {image}")]
    #[diagnostic(
        code(s2i_runc::image_not_found),
        help("put the image into the store first, e.g. `skopeo copy docker://IMAGE oci:STORE:NAME`")
    )]
    ImageNotFound {
        /// The name or ID asked for.
        image: String,
    },

    /// An ID prefix names more than one image.
    #[error("{query} is ambiguous: it is a prefix of {first} and {second}")]
    #[diagnostic(code(s2i_runc::ambiguous), help("give more digits of the image ID, or a name"))]
    Ambiguous {
        /// The prefix.
        query: String,
        /// One image it matches.
        first: String,
        /// Another.
        second: String,
    },

    /// A name is not an image name.
    #[error("{name:?} is not an image name")]
    #[diagnostic(code(s2i_runc::invalid_name), help("write names as [REGISTRY/]REPOSITORY[:TAG], e.g. my-app:1.0"))]
    InvalidName {
        /// The text.
        name: String,
    },

    /// An image cannot be removed as asked.
    #[error("cannot remove {image}: {reason}")]
    #[diagnostic(code(s2i_runc::image_conflict), help("{help}"))]
    ImageConflict {
        /// The image asked for.
        image: String,
        /// Why not.
        reason: String,
        /// What to do.
        help: String,
    },

    /// A registry refused or failed a pull or a push.
    #[error("{image}: {message}")]
    #[diagnostic(code(s2i_runc::registry), help("{help}"))]
    Registry {
        /// The image pulled or pushed.
        image: String,
        /// The class of failure.
        kind: s2i_oci::registry::RegistryErrorKind,
        /// What the registry (or the way to it) said; it names the registry.
        message: String,
        /// What to do.
        help: String,
    },

    /// Something this backend does not do.
    #[error("{what} is not supported without a container engine's daemon")]
    #[diagnostic(code(s2i_runc::unsupported), help("{help}"))]
    Unsupported {
        /// What was asked.
        what: String,
        /// What to do instead.
        help: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] for `action`.
    pub(crate) fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let action = action.into();
        move |source| Error::Io { action, source }
    }

    /// The engine's form of the error: its message with the help appended.
    pub fn into_runtime(self) -> RuntimeError {
        let kind = match &self {
            Error::ImageNotFound { .. } => RuntimeErrorKind::NotFound,
            Error::Registry { kind, .. } => match kind {
                s2i_oci::registry::RegistryErrorKind::NotFound => RuntimeErrorKind::NotFound,
                s2i_oci::registry::RegistryErrorKind::Unauthorized => RuntimeErrorKind::Unauthorized,
                // Not an engine that stopped answering: the message says which registry.
                _ => RuntimeErrorKind::Other,
            },
            Error::Ambiguous { .. }
            | Error::InvalidName { .. }
            | Error::ImageConflict { .. }
            | Error::Unsupported { .. } => RuntimeErrorKind::Rejected,
            _ => RuntimeErrorKind::Other,
        };
        let mut message = match &self {
            // The engine names the image; the message names the registry.
            Error::Registry { message, .. } => message.clone(),
            _ => self.to_string(),
        };
        // A refusal's fix is the engine's to say (it knows how the user logs in).
        if let Some(help) = self.help().filter(|_| kind != RuntimeErrorKind::Unauthorized) {
            message.push_str(&format!(" ({help})"));
        }
        RuntimeError::new(kind, message)
    }
}

impl From<Error> for RuntimeError {
    fn from(error: Error) -> Self {
        error.into_runtime()
    }
}
