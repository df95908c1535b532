//! The crate's error type. Every variant has a stable diagnostic code and a
//! help line that says what to do, in terms of the store (never of a command
//! line: a front end that has flags for these says so itself).

use std::path::PathBuf;

use miette::Diagnostic;

/// A failure of the store, or an object it refuses.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// No store directory was given and the user's data directory is unknown.
    #[error("cannot find a place for the store: the user's home directory is unknown")]
    #[diagnostic(code(s2i::store::no_data_dir), help("open the store in a directory given explicitly"))]
    NoDataDirectory,

    /// The store directory cannot be created or the store file cannot be opened.
    #[error("cannot open the store at {}: {message}", path.display())]
    #[diagnostic(
        code(s2i::store::open),
        help("check that the directory exists and is writable, or open the store in another directory")
    )]
    StoreOpen {
        /// The store file or directory.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },

    /// The store was written by a newer version of this crate.
    #[error("the store at {} has schema version {found}, newer than this s2i knows ({known})", path.display())]
    #[diagnostic(
        code(s2i::store::too_new),
        help("use the version of s2i that wrote it (or a newer one), or open another store directory")
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
        help("try again; if this persists, look for a hung process that has the store file open")
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
            "if the disk is full or read-only, fix that and retry; if the file is damaged, `Store::check` names the problems"
        )
    )]
    Database {
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

    /// A name (namespace, object name, …) breaks its naming rule.
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

    /// An object of an input names a namespace other than the one the
    /// caller asked for explicitly (see [`crate::input_namespace`]).
    #[error(
        "{kind} {name:?}: the namespace from the provided object {named:?} does not match the namespace {requested:?}"
    )]
    #[diagnostic(
        code(s2i::namespace_mismatch),
        help(
            "ask for namespace {named:?} to write it there, or remove its metadata.namespace to write it in {requested:?}"
        )
    )]
    NamespaceMismatch {
        /// Its kind.
        kind: String,
        /// Its name.
        name: String,
        /// The namespace its `metadata.namespace` names.
        named: String,
        /// The namespace asked for.
        requested: String,
    },

    /// No registered kind has this name.
    #[error("the server doesn't have a resource type {name:?}")]
    #[diagnostic(code(s2i::store::unknown_kind), help("the kinds are: {known}"))]
    UnknownKind {
        /// The name asked for.
        name: String,
        /// The registered kinds, `plural (short names)`, separated by `; `.
        known: String,
    },

    /// A label selector that does not parse.
    #[error("invalid label selector {selector:?}: {reason}")]
    #[diagnostic(
        code(s2i::store::invalid_selector),
        help("write requirements separated by commas: key=value, key!=value, key in (a,b), key notin (a), key, !key")
    )]
    InvalidSelector {
        /// The selector as given.
        selector: String,
        /// What is wrong.
        reason: String,
    },

    /// A kind was registered twice.
    #[error("the kind {kind} of {group:?} is registered already")]
    #[diagnostic(code(s2i::store::kind_registered), help("register each kind once"))]
    KindRegistered {
        /// The kind.
        kind: String,
        /// Its API group (empty for the core group).
        group: String,
    },

    /// Another live process holds the lease of an event consumer.
    #[error("the consumer {consumer:?} is being run by another process ({holder})")]
    #[diagnostic(
        code(s2i::store::consumer_leased),
        help("wait for that process to finish: it follows the same events, in order")
    )]
    ConsumerLeased {
        /// The consumer.
        consumer: String,
        /// Who holds it (`pid=… host=…`).
        holder: String,
    },

    /// A lease was taken over (its holder looked dead) or released before an event was marked done.
    #[error("the lease of consumer {consumer:?} was lost before event {seq} was marked done")]
    #[diagnostic(
        code(s2i::store::lease_lost),
        help("the event stays for the process that holds the lease now; take the lease again to continue")
    )]
    LeaseLost {
        /// The consumer.
        consumer: String,
        /// The event that was being followed.
        seq: u64,
    },
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
