//! The crate's error type. Every variant has a stable diagnostic code and a
//! help line that says what to do.

use miette::Diagnostic;

use crate::registry::RegistryErrorKind;
use crate::streams::StreamTag;

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
        /// Whether it was not the object asked for but one that object
        /// refers to (the help then says where).
        referenced: bool,
        /// What to do.
        help: String,
    },

    /// The `ImageStreamTag` `<stream>:<tag>` is not there because the tag has
    /// no image yet (its import failed or is pending, or it is a reference).
    #[error("ImageStreamTag {:?} not found in namespace {namespace:?}", format!("{stream}:{tag}"))]
    #[diagnostic(
        code(s2i::not_found),
        help("tag {tag} has no imported image yet (the status of image stream {stream} says why)")
    )]
    TagWithoutImage {
        /// The namespace.
        namespace: String,
        /// The stream.
        stream: String,
        /// The tag.
        tag: String,
    },

    /// An image cannot be deleted while a tag's history refers to it.
    #[error("image {image} is in the history of {}", tags.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    #[diagnostic(code(s2i::imagestream::invalid_request), help("delete those tags first"))]
    ImageInUse {
        /// The image (its digest).
        image: String,
        /// The tags whose history holds it.
        tags: Vec<StreamTag>,
    },

    /// Importing a tag's source failed; the tag keeps its previous image and
    /// records the failure in its conditions.
    #[error("import of tag {tag} failed ({reason}): {message}")]
    #[diagnostic(
        code(s2i::imagestream::invalid_request),
        help(
            "the tag keeps its previous image and records the failure in its conditions; fix the source (name, \
             registry, credentials) and import it again"
        )
    )]
    ImportFailed {
        /// The tag, `<stream>:<tag>`.
        tag: String,
        /// `NotFound`, `Unauthorized`, `InternalError`…
        reason: String,
        /// What went wrong.
        message: String,
    },

    /// An import was asked of a tag whose source is not an external image.
    #[error("tag {tag} is not imported: it points at {kind} {name}")]
    #[diagnostic(
        code(s2i::imagestream::invalid_request),
        help("import into another tag, or point this one at a DockerImage source first")
    )]
    NotImported {
        /// The tag, as the request named it.
        tag: String,
        /// The kind of its source (`ImageStreamTag`, `ImageStreamImage`).
        kind: String,
        /// The source's name.
        name: String,
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
        /// Whether the store kept the change the engine had to follow (its
        /// tags then catch up when the changes are followed next).
        change_kept: bool,
        /// What to do.
        help: String,
    },

    /// A registry failed, or cannot be reached, while it had to follow a tag change.
    #[error("the registry could not {operation}: {message}")]
    #[diagnostic(code(s2i::imagestream::registry), help("{help}"))]
    Registry {
        /// What was attempted, e.g. `tag 127.0.0.1:5000/dev/app:prod`.
        operation: String,
        /// The class of failure.
        kind: RegistryErrorKind,
        /// What went wrong.
        message: String,
        /// What to do.
        help: String,
    },

    /// An image could not be pushed to a stream's registry (by s2i's registry client).
    #[error("cannot push {target}: {message}")]
    #[diagnostic(code(s2i::imagestream::registry), help("{help}"))]
    Push {
        /// What was pushed, `<registry>/<namespace>/<stream>:<tag>`.
        target: String,
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
