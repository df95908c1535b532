//! The command line: one definition for parsing, help, completions and man pages.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use s2i_core::PullPolicy;
use s2i_oci::transport::ImageLocation;

mod builds;
mod location;
mod objects;
mod route;
mod secrets;
pub use builds::{CancelBuildArgs, ControllerArgs, LogsArgs, RunBuildArgs, StartBuildArgs};
use builds::{LOGS_EXAMPLES, START_BUILD_EXAMPLES};
use location::parse_location;
use objects::{APPLY_HELP, EXPORT_HELP, GET_HELP, IMPORT_EXAMPLES, KINDS_HELP, TAG_EXAMPLES};
pub use objects::{
    ApplyArgs, CreatedOutputArgs, DeleteArgs, DescribeArgs, DryRun, DryRunArgs, ExportArgs, GetArgs, ImportImageArgs,
    OutputFormat, TagArgs,
};
use route::EXPOSE_EXAMPLES;
pub use route::{
    ExportFormat, ExposeArgs, RouteAtArgs, RouteCommand, RouteCreateArgs, RouteExportArgs, RouteFiles, RouteRenderArgs,
    RouteServeArgs, RouteType, RouterPorts, ServiceCommand, ServiceCreateArgs,
};
use secrets::CREATE_EXAMPLES;
pub use secrets::{
    ConfigMapCreateArgs, CreateObject, DataArgs, SecretCommand, SecretCreateCommand, SecretDockerRegistryArgs,
    SecretGenericArgs,
};

/// Build runnable container images from source with Source-to-Image builder images.
#[derive(Debug, Parser)]
#[command(name = "s2i", version, propagate_version = false, max_term_width = 100)]
#[command(after_help = "Run `s2i build --help` for the options of a build.")]
pub struct Cli {
    /// Global options.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options of every command.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Container engine endpoint (unix://, tcp://, http:// or https://); default $DOCKER_HOST, then the local Docker or Podman socket
    #[arg(short = 'U', long = "url", global = true, value_name = "URL")]
    pub url: Option<String>,
    /// TLS client certificate (default $DOCKER_CERT_PATH/cert.pem); in `s2i route create`, the route's certificate
    #[arg(long, global = true, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// TLS client key (default $DOCKER_CERT_PATH/key.pem); in `s2i route create`, the key of the route's certificate
    #[arg(long, global = true, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// TLS certificate authority (default $DOCKER_CERT_PATH/ca.pem)
    #[arg(long, global = true, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// Use TLS to connect to the engine (default: set when $DOCKER_TLS is non-empty)
    #[arg(long, global = true)]
    pub tls: bool,
    /// Use TLS and verify the engine's certificate (default: set when $DOCKER_TLS_VERIFY is non-empty)
    #[arg(long, global = true)]
    pub tlsverify: bool,
    /// How much to log: 0 normal, 1 the engine's decisions, 2 and up debugging detail
    #[arg(long, global = true, default_value_t = 0, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=5))]
    pub loglevel: u8,
    /// Directory of the object store (image streams, …); default: the user's data directory (~/.local/share/s2i/store)
    #[arg(long, global = true, env = "S2I_STORE", value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Namespace of the objects a command works on (`-n` everywhere but in `s2i build`, where it is --application-name)
    #[arg(
        short = 'n',
        long,
        global = true,
        env = "S2I_NAMESPACE",
        value_name = "NAMESPACE",
        default_value = "default"
    )]
    pub namespace: String,
    /// Whether --namespace was given on the command line, as opposed to
    /// $S2I_NAMESPACE or the default (set after parsing): like kubectl's
    /// flag, and unlike a context's namespace, it is never overridden by a file.
    #[arg(skip)]
    pub namespace_given: bool,
    /// Start no build for the tag changes and build configs of this command (ImageChange and ConfigChange triggers)
    #[arg(long, global = true)]
    pub no_triggers: bool,
    /// The container engine: docker or podman (their API, at --url / $DOCKER_HOST), or oci (no daemon: runc or crun, and s2i's own image store); default: Docker's socket, else Podman's
    #[arg(long, global = true, env = "S2I_ENGINE", value_name = "ENGINE")]
    pub engine: Option<EngineKind>,
    /// The OCI runtime of --engine oci: a path, or a program on PATH (default: runc, else crun)
    #[arg(long, global = true, env = "S2I_OCI_RUNTIME", value_name = "PATH")]
    pub oci_runtime: Option<PathBuf>,
}

/// The container engines s2i runs builds on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineKind {
    /// Docker Engine's API (at --url, $DOCKER_HOST, or Docker's socket).
    Docker,
    /// Podman's Docker-compatible API (at --url, $DOCKER_HOST, or Podman's socket).
    Podman,
    /// No daemon: containers run by runc or crun, images in s2i's own store.
    Oci,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build a new image from source and a builder image
    #[command(after_help = BUILD_EXAMPLES)]
    Build(Box<BuildArgs>),
    /// Build an image again from the labels s2i wrote on it
    Rebuild(Box<RebuildArgs>),
    /// Show how to use a builder image (runs its usage script)
    Usage(UsageArgs),
    /// Write a Dockerfile that builds the same image as `s2i build` would, without an engine
    Generate(GenerateArgs),
    /// Create the skeleton of a new builder image project, or a ConfigMap (`s2i create configmap`)
    #[command(after_help = CREATE_EXAMPLES)]
    Create(CreateArgs),
    /// Work with Secrets: credentials and files for builds
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Work with OpenShift routes: create them, serve them with HAProxy, export them for a cluster
    #[command(subcommand)]
    Route(RouteCommand),
    /// Work with services, what routes point at
    #[command(subcommand)]
    Service(ServiceCommand),
    /// Expose a service at a host name: create a route to it
    #[command(after_help = EXPOSE_EXAMPLES)]
    Expose(ExposeArgs),
    /// Show objects of the store (image streams, routes, services…)
    #[command(after_help = GET_HELP)]
    Get(GetArgs),
    /// Show one object in detail
    #[command(after_help = KINDS_HELP)]
    Describe(DescribeArgs),
    /// Delete objects from the store
    #[command(after_help = KINDS_HELP)]
    Delete(DeleteArgs),
    /// Create or update objects from YAML or JSON files
    #[command(after_help = APPLY_HELP)]
    Apply(ApplyArgs),
    /// Print objects as YAML to apply in another namespace or on a cluster
    #[command(after_help = EXPORT_HELP)]
    Export(ExportArgs),
    /// Point image stream tags at an image, another tag, or an external image
    #[command(after_help = TAG_EXAMPLES)]
    Tag(TagArgs),
    /// Import an image from a registry into an image stream tag
    #[command(name = "import-image", after_help = IMPORT_EXAMPLES)]
    ImportImage(ImportImageArgs),
    /// Start a new build of a build config
    #[command(name = "start-build", after_help = START_BUILD_EXAMPLES)]
    StartBuild(StartBuildArgs),
    /// Cancel queued or running builds
    #[command(name = "cancel-build")]
    CancelBuild(CancelBuildArgs),
    /// Print the log of a build
    #[command(after_help = LOGS_EXAMPLES)]
    Logs(LogsArgs),
    /// Watch for image changes and start the builds they trigger, until stopped
    Controller(ControllerArgs),
    /// Run one build in this process (what `s2i start-build` starts in the background)
    #[command(name = "run-build", hide = true)]
    RunBuild(RunBuildArgs),
    /// Inspect the object store
    #[command(subcommand)]
    Store(StoreCommand),
    /// Print the version of s2i
    Version,
    /// Print a shell completion script
    #[command(after_help = "Example: s2i completion bash > /etc/bash_completion.d/s2i")]
    Completion {
        /// The shell.
        shell: CompletionShell,
    },
}

const BUILD_EXAMPLES: &str = "\
Examples:
  # Build the current directory on a builder image and tag the result
  s2i build . registry.example.com/builders/python:3.12 my-app

  # Build a branch of a git repository, from a sub-directory
  s2i build https://example.com/org/repo.git --ref dev --context-dir web builder my-app

  # Rebuild reusing the artifacts (e.g. downloaded dependencies) of the last build
  s2i build . builder my-app --incremental

  # Build without tagging: the image ID is printed on stdout
  s2i build ./app builder";

/// `s2i store …`.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Print where the store is
    Path,
    /// Check the store file and its objects; prints the problems found
    Check,
}

/// Shells `s2i completion` writes scripts for.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CompletionShell {
    /// Bash.
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
}

/// Options shared by commands that run a builder image.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Hide the output of the build scripts' stdout (their stderr still shows)
    #[arg(short, long)]
    pub quiet: bool,
    /// When to pull the builder image
    #[arg(short = 'p', long, default_value = "if-not-present", value_name = "POLICY", value_parser = parse_pull_policy)]
    pub pull_policy: PullPolicy,
    /// Registry credentials file (default $DOCKER_CONFIG/config.json, else ~/.docker/config.json)
    #[arg(long, value_name = "FILE")]
    pub dockercfg_path: Option<PathBuf>,
    /// Where the source and scripts are extracted in the builder (default: the image's io.openshift.s2i.destination label, else /tmp)
    #[arg(short, long, value_name = "DIR")]
    pub destination: Option<String>,
    /// Deprecated: use --destination
    #[arg(short = 'l', long = "location", value_name = "DIR", hide = true)]
    pub location: Option<String>,
}

/// Options of commands that produce an image (`build`, `rebuild`).
#[derive(Debug, Args)]
pub struct OutcomeArgs {
    /// Reuse the artifacts of the previous image of the tag (its save-artifacts script)
    #[arg(long)]
    pub incremental: bool,
    /// When to pull the previous image of an incremental build
    #[arg(long, default_value = "if-not-present", value_name = "POLICY", value_parser = parse_pull_policy)]
    pub incremental_pull_policy: PullPolicy,
    /// Remove the previous image after a successful incremental build
    #[arg(long)]
    pub rm: bool,
    /// POST the outcome as JSON ({"success":…,"labels":{…}}) to this URL when the build ends
    #[arg(long, value_name = "URL")]
    pub callback_url: Option<String>,
    /// Numeric user IDs builds may run as: comma-separated N, N-, -N or N-M (exit code 15 otherwise)
    #[arg(short = 'u', long, value_name = "RANGES", default_value = "")]
    pub allowed_uids: String,
    /// Keep the build's temporary directory (it holds the clone, the plan and downloaded scripts)
    #[arg(long)]
    pub save_temp_dir: bool,
    /// Push the new image to its registry after the build (needs a tag naming the registry)
    #[arg(long)]
    pub push: bool,
    /// Also push the builder stage an incremental --runtime-image build keeps (its tag with -builder appended)
    #[arg(long, requires = "push")]
    pub push_builder_stage: bool,
    /// Write the new image's ID (sha256:…, no newline) to FILE
    #[arg(long, value_name = "FILE")]
    pub iidfile: Option<PathBuf>,
    /// Write what was built as JSON to FILE: image ID, tag, pushed digest, outputs, builder, source, duration
    #[arg(long, value_name = "FILE")]
    pub metadata_file: Option<PathBuf>,
    /// Also write the image to LOCATION (repeatable): oci:DIR:REF, oci-archive:FILE:REF, docker-archive:FILE:NAME:TAG (REF and NAME:TAG optional), docker://HOST/REPO:TAG or docker-daemon:NAME:TAG
    #[arg(long = "output", value_name = "LOCATION", value_parser = parse_location)]
    pub outputs: Vec<ImageLocation>,
    /// The build's epoch in seconds since 1970 (else $SOURCE_DATE_EPOCH, else a git source's commit time): s2i writes the image itself, the same for the same inputs
    #[arg(long, value_name = "SECONDS", env = "SOURCE_DATE_EPOCH", hide_env_values = true)]
    pub source_date_epoch: Option<String>,
    /// Write the build's SPDX 2.3 SBOM (JSON) to FILE, and attach it to oci: and docker:// outputs
    #[arg(long, value_name = "FILE")]
    pub sbom: Option<PathBuf>,
    /// Write the build's in-toto statement with SLSA v1 provenance to FILE, and attach it to oci: and docker:// outputs
    #[arg(long, value_name = "FILE")]
    pub provenance: Option<PathBuf>,
}

/// `s2i build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The source: a directory, a git repository, or a git URL (file://, https://, ssh://, user@host:path), optionally with #ref
    pub source: Option<String>,
    /// The builder image
    pub image: Option<String>,
    /// Name of the new image; without it the image is left untagged and its ID is printed
    pub tag: Option<String>,

    /// Options shared with other commands.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Options of commands that produce an image.
    #[command(flatten)]
    pub outcome: OutcomeArgs,

    /// Git ref (branch, tag or commit) to build; overrides a #ref in the source
    #[arg(short = 'r', long = "ref", value_name = "REF")]
    pub git_ref: Option<String>,
    /// Sub-directory of the source to build
    #[arg(long, value_name = "DIR")]
    pub context_dir: Option<String>,
    /// Build a local directory as it is on disk, even when it is a git repository (uncommitted files included)
    #[arg(short, long)]
    pub copy: bool,
    /// Do not check out git submodules
    #[arg(long)]
    pub ignore_submodules: bool,
    /// Store symlinks of a local directory as links instead of the files they point at
    #[arg(long)]
    pub keep_symlinks: bool,
    /// Regular expression of source paths (relative to the source root) to leave out
    #[arg(long, value_name = "REGEX", default_value = s2i_core::ignore::DEFAULT_EXCLUDE)]
    pub exclude: String,
    /// URL of the S2I scripts (image://, file://, http(s)://); wins over .s2i/bin and the image label
    #[arg(short, long, value_name = "URL")]
    pub scripts_url: Option<String>,
    /// Deprecated: use --scripts-url
    #[arg(long, value_name = "URL", hide = true)]
    pub scripts: Option<String>,
    /// Where the builder's scripts are when its labels do not say (--as-dockerfile only; image:// URL)
    #[arg(long, value_name = "URL", default_value = "image:///usr/libexec/s2i")]
    pub image_scripts_url: String,
    /// Environment variable for the build and the image (repeatable)
    #[arg(short, long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// File of NAME=VALUE lines for the build and the image
    #[arg(short = 'E', long, value_name = "FILE")]
    pub environment_file: Option<PathBuf>,
    /// User assemble runs as (default: the io.openshift.s2i.assemble-user label, else the image's USER)
    #[arg(long, value_name = "USER")]
    pub assemble_user: Option<String>,
    /// Value of the io.k8s.display-name label (default: the tag)
    #[arg(short = 'n', long = "application-name", value_name = "NAME")]
    pub application_name: Option<String>,
    /// Namespace of the image stream of --to (the global option, without its `-n`, which is --application-name here)
    #[arg(
        id = "namespace",
        long = "namespace",
        env = "S2I_NAMESPACE",
        value_name = "NAMESPACE",
        default_value = "default"
    )]
    pub namespace: String,
    /// Value of the io.k8s.description label
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// Copy host files in for assemble only, SRC:DST (repeatable, or ;-separated); they are removed before the commit
    #[arg(short, long, value_name = "SRC:DST")]
    pub inject: Vec<String>,
    /// Bind mount for the build container, HOST:CONTAINER or HOST:CONTAINER:OPTIONS (repeatable)
    #[arg(short, long, value_name = "VOLUME")]
    pub volume: Vec<String>,
    /// Linux capabilities to drop in the build containers (comma-separated or repeated)
    #[arg(long, value_name = "CAP", value_delimiter = ',')]
    pub cap_drop: Vec<String>,
    /// Network of the build containers: bridge, host, none, container:<name|id> or a network name
    #[arg(long, value_name = "NETWORK")]
    pub network: Option<String>,
    /// Extra /etc/hosts entry of the build containers, HOST:IP (repeatable)
    #[arg(long, value_name = "HOST:IP")]
    pub add_host: Vec<String>,
    /// Image that ships: it receives only the artifacts the build made (a chained build)
    #[arg(long, value_name = "IMAGE")]
    pub runtime_image: Option<String>,
    /// What to copy from the builder into the runtime image: /PATH/IN/BUILDER, or /PATH/IN/BUILDER:DIR with DIR relative to its WORKDIR (repeatable, or ;-separated; default: its io.openshift.s2i.assemble-input-files label)
    #[arg(short = 'a', long = "runtime-artifact", value_name = "SRC[:DEST]", requires = "runtime_image")]
    pub runtime_artifact: Vec<String>,
    /// User assemble-runtime runs as (default: the io.openshift.s2i.assemble-runtime-user label, else the image's USER)
    #[arg(long, value_name = "USER", requires = "runtime_image")]
    pub assemble_runtime_user: Option<String>,
    /// When to pull the runtime image
    #[arg(long, default_value = "if-not-present", value_name = "POLICY", value_parser = parse_pull_policy)]
    pub runtime_pull_policy: PullPolicy,
    /// Copy a path out of an image into the source before assemble: IMAGE:/PATH, or IMAGE:/PATH:DIR (repeatable)
    #[arg(long, value_name = "IMAGE:/PATH[:DIR]")]
    pub source_image: Vec<String>,
    /// Run the new image after the build (Ctrl-C stops and removes it)
    #[arg(long)]
    pub run: bool,
    /// Write a Dockerfile (and its build context next to it) instead of building
    #[arg(long, value_name = "PATH", conflicts_with_all = ["run", "runtime_image"])]
    pub as_dockerfile: Option<PathBuf>,
    /// Restore flags from ./.s2ifile before applying these, and save them after
    #[arg(long)]
    pub use_config: bool,
    /// Record the new image as this image stream tag ([NAMESPACE/]STREAM:TAG); its labels become the tag's annotations
    #[arg(long, value_name = "STREAM:TAG")]
    pub to: Option<String>,
}

/// `s2i rebuild`.
#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// An image built by s2i
    pub image: String,
    /// Name of the new image (default: the image's own name)
    pub new_tag: Option<String>,
    /// Options shared with other commands.
    #[command(flatten)]
    pub common: CommonArgs,
    /// Options of commands that produce an image.
    #[command(flatten)]
    pub outcome: OutcomeArgs,
}

/// `s2i usage`.
#[derive(Debug, Args)]
pub struct UsageArgs {
    /// The builder image
    pub image: String,
    /// Options shared with other commands.
    #[command(flatten)]
    pub common: CommonArgs,
    /// URL of the S2I scripts (image://, file://, http(s)://)
    #[arg(short, long, value_name = "URL")]
    pub scripts_url: Option<String>,
    /// User the usage script runs as
    #[arg(long, value_name = "USER")]
    pub assemble_user: Option<String>,
    /// Numeric user IDs the usage script may run as (see `s2i build --help`)
    #[arg(short = 'u', long, value_name = "RANGES", default_value = "")]
    pub allowed_uids: String,
    /// Environment variable for the usage script (repeatable)
    #[arg(short, long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
}

/// `s2i generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The builder image
    pub image: String,
    /// Where to write the Dockerfile (a path ending in / gets Dockerfile appended)
    pub output: PathBuf,
    /// Environment variable for the build and the image (repeatable)
    #[arg(short, long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// User assemble runs as (default 1001)
    #[arg(long, value_name = "USER")]
    pub assemble_user: Option<String>,
    /// Hide informational output
    #[arg(short, long)]
    pub quiet: bool,
}

/// `s2i create`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct CreateArgs {
    /// An object to create instead of a project
    #[command(subcommand)]
    pub object: Option<CreateObject>,
    /// Name of the builder image the project builds
    #[arg(required = true)]
    pub image_name: Option<String>,
    /// Directory to create the project in
    #[arg(required = true)]
    pub destination: Option<PathBuf>,
    /// Base image of the project's Dockerfile
    #[arg(long, value_name = "IMAGE", default_value = "openshift/base-centos7")]
    pub from: String,
}

fn parse_pull_policy(value: &str) -> Result<PullPolicy, String> {
    value.parse()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn namespace_is_n_everywhere_but_in_build_where_it_reaches_the_global_option() {
        let namespace = |args: &[&str]| Cli::try_parse_from(args).unwrap().global.namespace;
        assert_eq!(namespace(&["s2i", "get", "is", "-n", "dev"]), "dev");
        assert_eq!(namespace(&["s2i", "-n", "dev", "delete", "is/app"]), "dev");
        assert_eq!(namespace(&["s2i", "--namespace", "dev", "build", ".", "img"]), "dev");
        assert_eq!(namespace(&["s2i", "build", ".", "img", "--namespace", "dev", "--to", "app:1"]), "dev");
        let cli = Cli::try_parse_from(["s2i", "build", ".", "img", "-n", "My App"]).unwrap();
        let Command::Build(build) = cli.command else { panic!("a build") };
        assert_eq!(build.application_name.as_deref(), Some("My App"));
        assert_eq!(cli.global.namespace, "default");
    }
}
