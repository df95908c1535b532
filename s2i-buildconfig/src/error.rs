//! The crate's error type. Every variant has a stable diagnostic code and a
//! help line that says what to do, in words that name no command line: the
//! data a front end needs to word its own hint (a flag, a command) is in the
//! variant.

use std::path::PathBuf;

use miette::Diagnostic;

/// A failure of the store, or a request the build rules refused.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// The object store failed, or refused a change (a `resourceVersion`
    /// conflict, a bad namespace, …).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Store(#[from] s2i_store::Error),

    /// An image-stream operation failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    ImageStream(s2i_imagestream::Error),

    /// The object does not exist.
    #[error("{kind} {name:?} not found in namespace {namespace:?}")]
    #[diagnostic(
        code(s2i_buildconfig::not_found),
        help("check the name; list the {kind} objects of namespace {namespace} to see which exist")
    )]
    NotFound {
        /// `BuildConfig` or `Build`.
        kind: &'static str,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },

    /// The build was deleted while it was queued or running.
    #[error("Build {name:?} not found in namespace {namespace:?}")]
    #[diagnostic(
        code(s2i_buildconfig::deleted),
        help("the build was deleted while it was queued or running; its containers were removed")
    )]
    Deleted {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },

    /// An object's content breaks a rule of the API server.
    #[error("invalid {kind} {name:?}: {message}")]
    #[diagnostic(code(s2i_buildconfig::invalid_object), help("{help}"))]
    InvalidObject {
        /// Its kind.
        kind: &'static str,
        /// Its name (may be empty when the name itself is missing).
        name: String,
        /// What is wrong, with the field.
        message: String,
        /// What to do.
        help: String,
    },

    /// A name breaks its naming rule.
    #[error("invalid {what} {value:?}: {reason}")]
    #[diagnostic(code(s2i_buildconfig::invalid_name), help("{help}"))]
    InvalidName {
        /// What the name is for, e.g. `BuildConfig name`.
        what: String,
        /// The name as given.
        value: String,
        /// The rule it breaks.
        reason: String,
        /// What to do.
        help: String,
    },

    /// A setting of a build object that the local build cannot honour.
    #[error("{kind} {name:?}: {field}: {message}")]
    #[diagnostic(code(s2i_buildconfig::unsupported), help("{help}"))]
    Unsupported {
        /// The object's kind, e.g. `BuildConfig`.
        kind: &'static str,
        /// The object's name.
        name: String,
        /// The field, e.g. `spec.strategy.dockerStrategy`.
        field: String,
        /// What s2i cannot do.
        message: String,
        /// What to do instead.
        help: String,
    },

    /// The BuildConfig is paused (`openshift.io/build-config.paused: "true"`).
    #[error("can't instantiate from BuildConfig {namespace}/{name}: BuildConfig is paused")]
    #[diagnostic(
        code(s2i_buildconfig::paused),
        help(
            "remove the annotation openshift.io/build-config.paused (or set it to \"false\") and apply the config again"
        )
    )]
    Paused {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },

    /// The BuildConfig builds binary input, and the request gave none.
    #[error("BuildConfig {namespace}/{name} builds binary input, and none was given")]
    #[diagnostic(
        code(s2i_buildconfig::binary_input_missing),
        help("start it with a directory or a file as its binary input")
    )]
    BinaryInputMissing {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },

    /// A commit was asked for, and the BuildConfig has no git source.
    #[error("BuildConfig {namespace}/{name} has no git source, so a commit cannot be built")]
    #[diagnostic(code(s2i_buildconfig::no_git_source), help("start it without a commit"))]
    NoGitSource {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },

    /// A build in a final phase cannot change phase again.
    #[error("build {name} is {phase}: phase cannot be updated from a terminal state")]
    #[diagnostic(code(s2i_buildconfig::phase_final), help("start a new build"))]
    PhaseFinal {
        /// The build.
        name: String,
        /// Its final phase.
        phase: crate::types::BuildPhase,
    },

    /// Another live process runs the build.
    #[error("build {namespace}/{name} is already run by another s2i process (pid {pid} on {host})")]
    #[diagnostic(code(s2i_buildconfig::run_elsewhere), help("follow its log instead"))]
    RunElsewhere {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// The other process.
        pid: u32,
        /// Its host.
        host: String,
    },

    /// Only queued and running builds can be cancelled.
    #[error("build {name} is already {}", .phase.as_str().to_lowercase())]
    #[diagnostic(code(s2i_buildconfig::not_cancellable), help("only queued and running builds can be cancelled"))]
    NotCancellable {
        /// The build.
        name: String,
        /// Its final phase.
        phase: crate::types::BuildPhase,
    },

    /// The BuildConfig has no build yet.
    #[error("buildconfig {config} has no builds yet")]
    #[diagnostic(code(s2i_buildconfig::no_builds), help("start a build of it first"))]
    NoBuilds {
        /// Its namespace.
        namespace: String,
        /// The BuildConfig.
        config: String,
    },

    /// The binary input of a build request cannot be used.
    #[error("{}", input_message(path, problem))]
    #[diagnostic(code(s2i_buildconfig::binary_input), help("{}", input_help(problem)))]
    BinaryInput {
        /// The directory or file given.
        path: PathBuf,
        /// What is wrong with it.
        problem: InputProblem,
    },

    /// Binary input could not be copied into the store directory.
    #[error("cannot {action} {}: {source}", path.display())]
    #[diagnostic(
        code(s2i_buildconfig::snapshot),
        help("check that the input exists and is readable, and that the store directory is writable")
    )]
    Snapshot {
        /// What was attempted (`read`, `copy`, …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },

    /// A file of the store directory (a build's log) could not be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    #[diagnostic(code(s2i_buildconfig::store_file), help("check that the store directory is writable"))]
    StoreFile {
        /// What was attempted (`open`, `read`, …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },

    /// Relative paths of a request's image outputs need the current directory, which cannot be read.
    #[error(
        "cannot read the current directory, which relative output, SBOM and provenance paths are taken against: {0}"
    )]
    #[diagnostic(
        code(s2i_buildconfig::working_directory),
        help("start the build from a directory that exists, or give absolute paths")
    )]
    WorkingDirectory(#[source] std::io::Error),

    /// The container engine is needed and cannot be reached.
    #[error("the container engine cannot be reached: {reason}")]
    #[diagnostic(
        code(s2i_buildconfig::engine_unreachable),
        help("start the container engine, or connect to a running one")
    )]
    EngineUnreachable {
        /// Why, as the connection said it.
        reason: String,
    },

    /// The worker process of a build could not be started (the launcher's error).
    #[error(transparent)]
    #[diagnostic(code(s2i_buildconfig::launch), help("check that the worker process can be started"))]
    Launch(std::io::Error),
}

/// What is wrong with binary input.
#[derive(Debug)]
#[non_exhaustive]
pub enum InputProblem {
    /// It cannot be read (it does not exist, …).
    Unreadable(std::io::Error),
    /// A directory was expected.
    NotADirectory,
    /// A file was expected.
    NotAFile,
    /// A file input whose path has no file name, and no name was given.
    NoFileName,
}

fn input_message(path: &std::path::Path, problem: &InputProblem) -> String {
    let path = path.display();
    match problem {
        InputProblem::Unreadable(e) => format!("cannot read {path}: {e}"),
        InputProblem::NotADirectory => format!("{path} is not a directory"),
        InputProblem::NotAFile => format!("{path} is not a file"),
        InputProblem::NoFileName => format!("{path} has no file name"),
    }
}

fn input_help(problem: &InputProblem) -> &'static str {
    match problem {
        InputProblem::Unreadable(_) => "give an existing path",
        InputProblem::NotADirectory => "give a directory, or give a single file as a file input",
        InputProblem::NotAFile => "give a file, or give a directory as a directory input",
        InputProblem::NoFileName => "give the path of a file",
    }
}

impl From<s2i_imagestream::Error> for Error {
    fn from(error: s2i_imagestream::Error) -> Self {
        match error {
            s2i_imagestream::Error::Store(error) => Self::Store(error),
            other => Self::ImageStream(other),
        }
    }
}

impl Error {
    pub(crate) fn not_found(kind: &'static str, namespace: &str, name: &str) -> Self {
        Self::NotFound { kind, namespace: namespace.to_owned(), name: name.to_owned() }
    }
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
