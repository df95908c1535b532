//! The engine's error type. Every variant has a stable diagnostic code, a help
//! line that says what to do, and an exit code that matches the reference
//! implementation where it defines one.

use std::path::PathBuf;

use miette::Diagnostic;

use crate::build::PullPolicy;
use crate::reference::ReferenceError;
use crate::runtime::{RuntimeError, RuntimeErrorKind};

/// A failed build, or a request the engine refused.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// An option has a value the engine cannot use.
    #[error("invalid {option}: {message}")]
    #[diagnostic(code(s2i::invalid_option), help("{help}"))]
    InvalidOption {
        /// The option, as the user wrote it (e.g. `--env`).
        option: String,
        /// What is wrong.
        message: String,
        /// What to do instead.
        help: String,
    },

    /// An image name does not parse.
    #[error("invalid {what}: {source}")]
    #[diagnostic(
        code(s2i::invalid_image_reference),
        help("write it as [registry/]repository[:tag][@digest], lower case, e.g. quay.io/team/app:1.0")
    )]
    InvalidImageReference {
        /// Which image (`builder image`, `tag`, …).
        what: String,
        /// The parse failure.
        #[source]
        source: ReferenceError,
    },

    /// The source directory or file does not exist or cannot be read.
    #[error("cannot read the source {path}: {message}")]
    #[diagnostic(code(s2i::source_unreadable), help("{help}"))]
    SourceUnreadable {
        /// The path.
        path: PathBuf,
        /// The system's message.
        message: String,
        /// What to do.
        help: String,
    },

    /// The source is a git repository without any commit.
    #[error("The git repository {path:?} has no tracking information or commits")]
    #[diagnostic(
        code(s2i::empty_git_repository),
        help("commit something first, or build the working copy as a plain directory with --copy")
    )]
    EmptyGitRepository {
        /// The repository.
        path: String,
    },

    /// Cloning or checking out the git source failed.
    #[error("cannot {action} {url}: {message}")]
    #[diagnostic(code(s2i::git), help("{help}"))]
    Git {
        /// What was attempted (`clone`, `check out ref X of`, …).
        action: String,
        /// The repository URL, without credentials.
        url: String,
        /// git's message (credentials hidden).
        message: String,
        /// What to do.
        help: String,
    },

    /// A git source cannot be cloned here: no `git` program (and no libgit2, or
    /// a repository libgit2 cannot clone safely).
    #[error("cannot clone {url}: {reason}")]
    #[diagnostic(
        code(s2i::git_not_installed),
        help(
            "install git (Debian and Ubuntu: `apt-get install git`), or clone the repository yourself and pass the directory"
        )
    )]
    GitNotInstalled {
        /// The repository, without credentials.
        url: String,
        /// Why the git program is needed.
        reason: String,
    },

    /// The image (or the requested user) runs as a user `--allowed-uids` does not allow.
    #[error("{message}")]
    #[diagnostic(
        code(s2i::user_not_allowed),
        help(
            "builds may only run as numeric users in {allowed}: use a builder image whose USER (or io.openshift.s2i.assemble-user label) is such a uid, or pass --assemble-user with one"
        )
    )]
    UserNotAllowed {
        /// The reference's message.
        message: String,
        /// The allowed ranges.
        allowed: String,
    },

    /// The image is not present locally and the pull policy forbids pulling it.
    #[error("unable to get metadata for {image}: the image is not present in the engine")]
    #[diagnostic(
        code(s2i::image_not_found),
        help(
            "the pull policy is {policy}: build or load {image} into the container engine first, or use {} if-not-present to pull it",
            pull_policy_option(*runtime_image)
        )
    )]
    ImageNotFound {
        /// The image.
        image: String,
        /// The pull policy that kept the engine from pulling it.
        policy: PullPolicy,
        /// Whether it is the runtime image of a chained build (whose pull
        /// policy is the runtime one), not the builder image.
        runtime_image: bool,
    },

    /// Pulling an image failed.
    #[error("unable to get {image}: {message}")]
    #[diagnostic(code(s2i::pull_failed), help("{}", pull_help(*kind, *policy)))]
    PullFailed {
        /// The image.
        image: String,
        /// What kind of failure the engine reported.
        kind: RuntimeErrorKind,
        /// The pull policy of the image.
        policy: PullPolicy,
        /// The engine's message.
        message: String,
    },

    /// `--network` names a network the engine does not have.
    #[error("invalid --network: network {network} not found")]
    #[diagnostic(
        code(s2i::invalid_option),
        help("create the network in the container engine, or use bridge, host, none or container:NAME")
    )]
    NetworkNotFound {
        /// The network.
        network: String,
    },

    /// The image to rebuild lacks a label that s2i writes on the images it builds.
    #[error("invalid image: required label {label:?} not found in image {image}")]
    #[diagnostic(
        code(s2i::invalid_option),
        help("only images built by s2i carry the labels a rebuild reads; build this one from its source instead")
    )]
    NotBuiltByS2i {
        /// The image.
        image: String,
        /// The missing label.
        label: String,
    },

    /// A chained build (`--runtime-image`) was asked for as a Dockerfile.
    #[error("invalid --runtime-image: --runtime-image cannot be used with --as-dockerfile")]
    #[diagnostic(
        code(s2i::invalid_option),
        help("build the chained image on a container engine, or write a multi-stage Dockerfile yourself")
    )]
    ChainedAsDockerfile,

    /// `--push` without a tag to push.
    #[error("invalid --push: there is no tag to push")]
    #[diagnostic(
        code(s2i::invalid_option),
        help("name the image in its registry, e.g. registry.example.com/team/app:1")
    )]
    NoTagToPush,

    /// Required scripts were found nowhere.
    #[error("failed to install [{}]", scripts.join(" "))]
    #[diagnostic(code(s2i::scripts_not_installed), help("{}", looked_at.join("\n")))]
    ScriptsNotInstalled {
        /// The missing scripts.
        scripts: Vec<String>,
        /// Every place looked at, one line each, ending with what to do.
        looked_at: Vec<String>,
    },

    /// `--scripts-url` gave none of the scripts.
    #[error("could not download any scripts from URL {url}")]
    #[diagnostic(
        code(s2i::no_scripts_at_url),
        help("the URL must be a directory holding assemble, run (and optionally save-artifacts); tried:\n{}", tried.join("\n"))
    )]
    NoScriptsAtUrl {
        /// The URL.
        url: String,
        /// What was tried, one line each.
        tried: Vec<String>,
    },

    /// A scripts URL has a scheme the engine cannot fetch.
    #[error("no URL handler for {url}")]
    #[diagnostic(code(s2i::unsupported_url), help("use an image://, file://, http:// or https:// URL"))]
    UnsupportedUrl {
        /// The URL.
        url: String,
    },

    /// A build container exited non-zero.
    #[error("{script} failed: non-zero ({code}) exit code from {image}")]
    #[diagnostic(code(s2i::script_failed), help("{help}"))]
    ScriptFailed {
        /// The script (`assemble`, `usage`, …).
        script: String,
        /// Its exit code.
        code: i64,
        /// The image it ran in.
        image: String,
        /// The kernel killed it for exceeding its memory limit.
        oom_killed: bool,
        /// The last lines of its output and a hint.
        help: String,
    },

    /// The combined size of the output labels is over the engine's limit.
    #[error("label validation failed for {image:?}: label size '{size}' exceeds the maximum limit '{limit}'")]
    #[diagnostic(
        code(s2i::labels_too_large),
        help("shorten or drop labels, e.g. those written to /tmp/.s2i/image_metadata.json")
    )]
    LabelsTooLarge {
        /// The output image.
        image: String,
        /// Sum of key and value lengths.
        size: usize,
        /// The limit.
        limit: usize,
    },

    /// `/tmp/.s2i/image_metadata.json` written by assemble is malformed.
    #[error("invalid /tmp/.s2i/image_metadata.json: {message}")]
    #[diagnostic(
        code(s2i::image_metadata),
        help("assemble must write {{\"labels\":[{{\"key\":\"value\"}}, …]}} with string values")
    )]
    ImageMetadata {
        /// What is wrong.
        message: String,
    },

    /// The artifacts of the previous image could not be used.
    #[error("the artifacts of the previous image could not be used: {message}")]
    #[diagnostic(
        code(s2i::artifacts),
        help("the build goes on as a clean build; fix save-artifacts to get incremental builds")
    )]
    Artifacts {
        /// What went wrong.
        message: String,
    },

    /// Files could not be copied between images and the build.
    #[error("cannot copy {what}: {message}")]
    #[diagnostic(
        code(s2i::copy),
        help("check that the path exists in the image and holds plain files and directories")
    )]
    Copy {
        /// What was being copied.
        what: String,
        /// Why it failed.
        message: String,
    },

    /// A file of the host could not be read or written.
    #[error("cannot {action} {path}: {source}")]
    #[diagnostic(code(s2i::io), help("{help}"))]
    Io {
        /// What was attempted.
        action: String,
        /// The file.
        path: PathBuf,
        /// What to do.
        help: String,
        /// The system error.
        #[source]
        source: std::io::Error,
    },

    /// Downloading a file failed.
    #[error("failed to retrieve {url}: {message}")]
    #[diagnostic(code(s2i::download), help("check that the URL is reachable from this machine"))]
    Download {
        /// The URL.
        url: String,
        /// Why.
        message: String,
    },

    /// The container engine failed an operation.
    #[error("{action}: {source}")]
    #[diagnostic(code(s2i::engine), help("{}", runtime_help(source.kind)))]
    Runtime {
        /// What the engine was asked to do.
        action: String,
        /// The engine's failure.
        #[source]
        source: RuntimeError,
    },

    /// Pushing the built image to its registry failed; the image stays in the engine.
    #[error(
        "cannot push {image} to the registry {registry}: {message} (the image is built and stays in the engine as {image}, {image_id})"
    )]
    #[diagnostic(code(s2i::push_failed), help("{}", push_help(*kind, registry)))]
    PushFailed {
        /// The tag pushed.
        image: String,
        /// Its registry.
        registry: String,
        /// The short ID of the built image.
        image_id: String,
        /// What kind of failure the engine reported.
        kind: RuntimeErrorKind,
        /// The engine's message.
        message: String,
    },

    /// A registry credentials file (`auth.json`, Docker's `config.json`) cannot be read or parsed.
    #[error("cannot read the registry credentials file {path}: {message}")]
    #[diagnostic(
        code(s2i::auth_file),
        help(
            "fix the file (the JSON that logging in to a registry writes), remove it, or point REGISTRY_AUTH_FILE at another one"
        )
    )]
    AuthFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// A credential helper (`docker-credential-NAME`) failed.
    #[error("the credential helper docker-credential-{helper} failed for {server}: {message}")]
    #[diagnostic(
        code(s2i::credential_helper),
        help(
            "install docker-credential-{helper} on PATH and log in to {server} again, or remove it from credsStore/credHelpers of the credentials file"
        )
    )]
    CredentialHelper {
        /// The helper's name (the part after `docker-credential-`).
        helper: String,
        /// The registry the credentials were asked for.
        server: String,
        /// What went wrong.
        message: String,
    },

    /// The container engine stopped answering while a build ran (it stopped,
    /// restarted or crashed, or its socket went away).
    #[error("the container engine stopped answering during {stage}: {message}")]
    #[diagnostic(
        code(s2i::engine_stopped),
        help(
            "start the engine again and build again; the containers this build left are removed by the next build that connects to it"
        )
    )]
    EngineStopped {
        /// The stage that was running (`assemble`, `commit`, …).
        stage: String,
        /// What was being done, and the engine client's message.
        message: String,
    },

    /// Writing the result image (its layer, config or an output) failed.
    #[error("cannot {action}: {source}")]
    #[diagnostic(code(s2i::image), help("{help}"))]
    Image {
        /// What was being done (`write the layer of app:1`, …).
        action: String,
        /// What to do.
        help: String,
        /// The image writer's error.
        #[source]
        source: Box<s2i_oci::Error>,
    },

    /// An output could not be written: a registry refused it or could not be reached.
    #[error("cannot write the output {output}: {message}")]
    #[diagnostic(code(s2i::output), help("{help}"))]
    OutputFailed {
        /// The output, as given (`docker://registry.example.com/app:1`).
        output: String,
        /// What went wrong.
        message: String,
        /// What to do.
        help: String,
    },

    /// The build was interrupted (Ctrl-C, SIGTERM or a caller's cancellation).
    #[error("the build was cancelled")]
    #[diagnostic(code(s2i::cancelled), help("every container and temporary directory of the build was removed"))]
    Cancelled,
}

/// The option that sets the pull policy of the builder image, or of the runtime image.
fn pull_policy_option(runtime_image: bool) -> &'static str {
    if runtime_image { "--runtime-pull-policy" } else { "--pull-policy" }
}

/// What to do about a failed engine operation, by kind. Engine-neutral: a
/// front end that knows the engine's own commands says those.
fn runtime_help(kind: RuntimeErrorKind) -> &'static str {
    match kind {
        RuntimeErrorKind::Unreachable => "start the container engine, or connect to one that runs",
        RuntimeErrorKind::Unauthorized => {
            "log in to the registry, or give the container engine a credentials file that has an entry for it"
        }
        RuntimeErrorKind::NotFound => "check the name; the container engine lists the images and containers it has",
        _ => "see the engine's message above",
    }
}

/// What to do about a failed pull.
fn pull_help(kind: RuntimeErrorKind, policy: PullPolicy) -> &'static str {
    match kind {
        RuntimeErrorKind::Unauthorized => {
            "log in to the registry, or check the credentials the container engine is given for it"
        }
        RuntimeErrorKind::Unreachable => {
            "the container engine cannot be reached; start it, or connect to one that runs"
        }
        _ if policy == PullPolicy::Always => {
            "check the image name and that its registry is reachable; if the image is local, use --pull-policy never or if-not-present"
        }
        _ => "check the image name and that its registry is reachable; build or load local images first",
    }
}

/// What to do about a failed push; the image stays in the engine.
fn push_help(kind: RuntimeErrorKind, registry: &str) -> String {
    match kind {
        RuntimeErrorKind::Unauthorized => format!(
            "log in to {registry}, or name a credentials file that has an entry for it with REGISTRY_AUTH_FILE; then \
             push the built image again (or build again with --push)"
        ),
        RuntimeErrorKind::Unreachable => {
            "the container engine stopped answering: start it again, then push the built image again (or build again \
             with --push)"
                .to_owned()
        }
        _ => format!(
            "check that the registry {registry} runs and that the container engine can reach it (a registry on plain \
             HTTP must be listed as insecure in the engine's configuration, unless the engine trusts loopback), and that \
             the name is one you may push to; then push the built image again (or build again with --push)"
        ),
    }
}

impl Error {
    /// The process exit code for this error: the reference implementation's
    /// code where it has one, otherwise 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::ImageNotFound { .. } => 1,
            Error::PullFailed { .. } => 2,
            Error::Runtime { action, .. } if action.starts_with("commit") => 6,
            Error::ScriptsNotInstalled { .. } => 11,
            Error::UnsupportedUrl { .. } => 12,
            Error::ScriptFailed { .. } => 13,
            Error::UserNotAllowed { .. } => 15,
            Error::EmptyGitRepository { .. } => 16,
            Error::Cancelled => 130,
            _ => 1,
        }
    }

    /// This error as it reads when the engine stopped answering during `stage`:
    /// a runtime failure that means the engine cannot be reached becomes
    /// [`Error::EngineStopped`]; anything else stays as it is.
    pub(crate) fn engine_stopped_during(self, stage: Option<crate::events::Stage>) -> Self {
        match self {
            Error::Runtime { action, source } if source.kind == RuntimeErrorKind::Unreachable => Error::EngineStopped {
                stage: stage.map_or("the build", |s| s.label()).to_owned(),
                message: format!("{action}: {source}"),
            },
            other => other,
        }
    }

    /// A runtime failure with what was being done.
    pub(crate) fn runtime(action: impl Into<String>, source: RuntimeError) -> Self {
        Error::Runtime { action: action.into(), source }
    }

    /// An I/O failure on a host path.
    pub(crate) fn io(
        action: impl Into<String>,
        path: impl Into<PathBuf>,
        help: impl Into<String>,
        source: std::io::Error,
    ) -> Self {
        Error::Io { action: action.into(), path: path.into(), help: help.into(), source }
    }

    /// An invalid option value.
    pub(crate) fn option(option: impl Into<String>, message: impl Into<String>, help: impl Into<String>) -> Self {
        Error::InvalidOption { option: option.into(), message: message.into(), help: help.into() }
    }
}

/// Result with the engine's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
