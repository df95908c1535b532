//! The crate's error type. Every variant has a stable diagnostic code and a
//! help line that says what to do.

use miette::Diagnostic;

/// A failure of the store, or a request the image-stream rules refused.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// The object store failed, or refused a change.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Store(#[from] s2i_store::Error),

    /// The object does not exist.
    #[error("{kind} {name:?} not found in namespace {namespace:?}")]
    #[diagnostic(code(s2i::not_found), help("{help}"))]
    NotFound {
        /// Its kind, e.g. `ImageStream`.
        kind: String,
        /// Its namespace (empty for cluster-scoped kinds).
        namespace: String,
        /// Its name.
        name: String,
        /// What to do.
        help: String,
    },

    /// An object's content is not acceptable.
    #[error("invalid {kind} {name:?}: {message}")]
    #[diagnostic(code(s2i::invalid_object), help("{help}"))]
    InvalidObject {
        /// Its kind.
        kind: String,
        /// Its name (may be empty when the name itself is missing).
        name: String,
        /// What is wrong.
        message: String,
        /// What to do.
        help: String,
    },

    /// A name (namespace, stream, tag, …) breaks its naming rule.
    #[error("invalid {what} {value:?}: {reason}")]
    #[diagnostic(code(s2i::invalid_name), help("{help}"))]
    InvalidName {
        /// What the name is for, e.g. `namespace`.
        what: String,
        /// The name as given.
        value: String,
        /// The rule it breaks.
        reason: String,
        /// What to do.
        help: String,
    },

    /// The container engine failed, or cannot be reached, while it had to follow a tag change.
    #[error("the container engine could not {operation}: {message}")]
    #[diagnostic(code(s2i::imagestream::engine), help("{help}"))]
    Engine {
        /// What was attempted, e.g. `tag default/app:prod`.
        operation: String,
        /// The engine's message.
        message: String,
        /// What to do.
        help: String,
    },

    /// A registry failed, or cannot be reached, while it had to follow a tag change.
    #[error("the registry could not {operation}: {message}")]
    #[diagnostic(code(s2i::imagestream::registry), help("{help}"))]
    Registry {
        /// What was attempted, e.g. `tag 127.0.0.1:5000/dev/app:prod`.
        operation: String,
        /// What went wrong.
        message: String,
        /// What to do.
        help: String,
    },

    /// A request that cannot be carried out as asked.
    #[error("{message}")]
    #[diagnostic(code(s2i::imagestream::invalid_request), help("{help}"))]
    InvalidRequest {
        /// What is wrong.
        message: String,
        /// What to do.
        help: String,
    },
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
