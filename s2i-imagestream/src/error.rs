//! The crate's error type. Every variant has a stable diagnostic code and a
//! help line that says what to do.

use std::path::PathBuf;

use miette::Diagnostic;

/// A failure of the store, or a request the image-stream logic refused.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// No store directory was given and the user's data directory is unknown.
    #[error("cannot find a place for the store: the user's home directory is unknown")]
    #[diagnostic(code(s2i::store::no_data_dir), help("choose a directory with --store DIR or S2I_STORE=DIR"))]
    NoDataDirectory,

    /// The store directory cannot be created or the store file cannot be opened.
    #[error("cannot open the store at {}: {message}", path.display())]
    #[diagnostic(
        code(s2i::store::open),
        help("check that the directory exists and is writable, or choose another with --store DIR or S2I_STORE=DIR")
    )]
    StoreOpen {
        /// The store file or directory.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },

    /// The store was written by a newer s2i.
    #[error("the store at {} has schema version {found}, newer than this s2i knows ({known})", path.display())]
    #[diagnostic(
        code(s2i::store::too_new),
        help("use the s2i that wrote it (or a newer one), or choose another store with --store DIR")
    )]
    StoreTooNew {
        /// The store file.
        path: PathBuf,
        /// The schema version found in the file.
        found: u32,
        /// The newest schema version this build knows.
        known: u32,
    },

    /// Another process held the store for longer than the busy timeout, on every attempt.
    #[error("the store at {} stayed busy: another s2i process is holding it", path.display())]
    #[diagnostic(
        code(s2i::store::busy),
        help("run the command again; if this persists, look for a hung s2i process (ps aux | grep s2i)")
    )]
    StoreBusy {
        /// The store file.
        path: PathBuf,
    },

    /// A failure of the embedded database.
    #[error("store failure in {}: {message}", path.display())]
    #[diagnostic(
        code(s2i::store::database),
        help(
            "if the disk is full or read-only, fix that and retry; if the file is damaged, `s2i store check` shows what is wrong"
        )
    )]
    Store {
        /// The store file.
        path: PathBuf,
        /// The database's message.
        message: String,
    },

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

    /// An object of that kind and name exists already.
    #[error("{kind} {name:?} already exists in namespace {namespace:?}")]
    #[diagnostic(code(s2i::already_exists), help("update it instead, or delete it first"))]
    AlreadyExists {
        /// Its kind.
        kind: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },

    /// The object changed since the caller read it.
    #[error(
        "{kind} {name:?} in namespace {namespace:?} was changed by someone else: resourceVersion is {actual}, the update expected {expected}"
    )]
    #[diagnostic(
        code(s2i::conflict),
        help("read the object again, make the change on the new version and retry (or drop metadata.resourceVersion)")
    )]
    Conflict {
        /// Its kind.
        kind: String,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// The resourceVersion the update was based on.
        expected: String,
        /// The resourceVersion in the store.
        actual: u64,
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

    /// A setting of a build object that the local build cannot honour.
    #[error("{kind} {name:?}: {field}: {message}")]
    #[diagnostic(code(s2i::build::unsupported), help("{help}"))]
    Unsupported {
        /// The object's kind, e.g. `BuildConfig`.
        kind: String,
        /// The object's name.
        name: String,
        /// The field, e.g. `spec.strategy.dockerStrategy`.
        field: String,
        /// What s2i cannot do.
        message: String,
        /// What to do instead.
        help: String,
    },

    /// A file of the store directory (a build log, a binary input) could not be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    #[diagnostic(code(s2i::build::io), help("{help}"))]
    Io {
        /// What was attempted.
        action: String,
        /// The file or directory.
        path: PathBuf,
        /// What to do.
        help: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
