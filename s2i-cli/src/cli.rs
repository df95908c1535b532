//! The command line: one definition for parsing, help, completions and man pages.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use s2i_core::PullPolicy;
use s2i_oci::transport::ImageLocation;

mod builds;
pub use builds::{CancelBuildArgs, ControllerArgs, LogsArgs, RunBuildArgs, StartBuildArgs};
use builds::{LOGS_EXAMPLES, START_BUILD_EXAMPLES};

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
    /// Namespace of the objects a command works on
    #[arg(long, global = true, env = "S2I_NAMESPACE", value_name = "NAMESPACE", default_value = "default")]
    pub namespace: String,
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
    /// Create the skeleton of a new builder image project
    Create(CreateArgs),
    /// Work with OpenShift routes: create them, serve them with HAProxy, export them for a cluster
    #[command(subcommand)]
    Route(RouteCommand),
    /// Work with services, what routes point at
    #[command(subcommand)]
    Service(ServiceCommand),
    /// Expose a service at a host name: create a route to it
    #[command(after_help = crate::commands::service::EXPOSE_EXAMPLES)]
    Expose(ExposeArgs),
    /// Show objects of the store (image streams, routes, services…)
    #[command(after_help = crate::commands::objects::GET_HELP)]
    Get(GetArgs),
    /// Show one object in detail
    #[command(after_help = crate::commands::objects::KINDS_HELP)]
    Describe(DescribeArgs),
    /// Delete objects from the store
    #[command(after_help = crate::commands::objects::KINDS_HELP)]
    Delete(DeleteArgs),
    /// Create or update objects from YAML or JSON files
    #[command(after_help = crate::commands::objects::APPLY_HELP)]
    Apply(ApplyArgs),
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

const TAG_EXAMPLES: &str = "\
Examples:
  # Promote what dev runs to prod (a snapshot: prod keeps this image when dev moves on)
  s2i tag app:dev app:prod

  # Make latest follow 1.0 (an alias within the stream)
  s2i tag --alias app:1.0 app:latest

  # Tag an image of the local engine or of a registry
  s2i tag --source=docker my-app:latest app:dev
  s2i tag --source=docker 127.0.0.1:5000/team/app:1.2 app:1.2

  # Roll back to an older image of the stream, by digest (a unique prefix is enough)
  s2i tag app@sha256:4f1c app:prod

  # Delete a tag and its history
  s2i tag -d app:old";

const IMPORT_EXAMPLES: &str = "\
Examples:
  # Create a stream from a registry image
  s2i import-image app:1.2 --from 127.0.0.1:5000/team/app:1.2 --confirm

  # Import the tag again from its source (history grows only if the image changed)
  s2i import-image app:1.2";

/// `s2i get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The kind: imagestreams (is), imagestreamtags (istag), imagestreamimages (isimage), images, routes, services (svc)
    pub kind: String,
    /// Names of the objects; all of the namespace when none is given
    pub names: Vec<String>,
    /// Output format: json, yaml or name (default: a table)
    #[arg(short, long, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
    /// List the objects of every namespace
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
}

/// `s2i describe`.
#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// The kind, e.g. imagestream (is)
    pub kind: String,
    /// Names of the objects
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// `s2i delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The kind, e.g. imagestream (is) or imagestreamtag (istag)
    pub kind: String,
    /// Names of the objects
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// `s2i apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Files of objects, YAML or JSON, several documents per file allowed; `-` reads stdin
    #[arg(short, long = "filename", value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

/// Output formats of `s2i get`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// JSON.
    Json,
    /// YAML.
    Yaml,
    /// kind/name, one per line.
    Name,
}

/// `s2i tag`.
#[derive(Debug, Args)]
pub struct TagArgs {
    /// The source: STREAM:TAG, STREAM@DIGEST, or a pull spec; with -d, the tags to delete
    #[arg(value_name = "SOURCE")]
    pub source: String,
    /// The tags to set: [NAMESPACE/]STREAM:TAG
    #[arg(value_name = "DEST")]
    pub destinations: Vec<String>,
    /// The kind of SOURCE: docker, istag or isimage (default: inferred from its form)
    #[arg(long = "source", value_name = "KIND", value_parser = parse_source_kind)]
    pub source_kind: Option<s2i_imagestream::streams::SourceKind>,
    /// Make the destination track SOURCE (a tag of the same stream) instead of copying its current image
    #[arg(long)]
    pub alias: bool,
    /// Point at SOURCE without importing it (no digest is resolved)
    #[arg(long)]
    pub reference: bool,
    /// How consumers pull the tag: source (the original pull spec) or local (the stream's repository)
    #[arg(long, value_name = "POLICY", value_parser = ["source", "local"])]
    pub reference_policy: Option<String>,
    /// How a manifest list is imported: Legacy (one image) or PreserveOriginal (the whole list)
    #[arg(long, value_name = "MODE", value_parser = ["Legacy", "PreserveOriginal"])]
    pub import_mode: Option<String>,
    /// Allow plain HTTP and unverified TLS when importing a docker source
    #[arg(long)]
    pub insecure: bool,
    /// Re-import a docker source periodically (while `s2i controller` runs)
    #[arg(long)]
    pub scheduled: bool,
    /// Delete the tags given (SOURCE and DEST are all tags to delete)
    #[arg(short, long)]
    pub delete: bool,
}

/// `s2i import-image`.
#[derive(Debug, Args)]
pub struct ImportImageArgs {
    /// The tag to import into: STREAM or STREAM:TAG (tag latest when omitted)
    #[arg(value_name = "STREAM[:TAG]")]
    pub destination: String,
    /// The image to import (default: the tag's current source)
    #[arg(long, value_name = "PULLSPEC")]
    pub from: Option<String>,
    /// Allow creating the stream or tag, or changing its source
    #[arg(long)]
    pub confirm: bool,
    /// Allow plain HTTP and unverified TLS
    #[arg(long)]
    pub insecure: bool,
    /// Re-import the tag periodically while `s2i controller` runs (--scheduled=false stops it; default: as the tag is)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub scheduled: Option<bool>,
    /// How consumers pull the tag: source or local
    #[arg(long, value_name = "POLICY", value_parser = ["source", "local"])]
    pub reference_policy: Option<String>,
    /// How a manifest list is imported: Legacy or PreserveOriginal
    #[arg(long, value_name = "MODE", value_parser = ["Legacy", "PreserveOriginal"])]
    pub import_mode: Option<String>,
    /// Registry credentials file (default $DOCKER_CONFIG/config.json, else ~/.docker/config.json)
    #[arg(long, value_name = "FILE")]
    pub dockercfg_path: Option<PathBuf>,
}

/// `s2i store …`.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Print where the store is
    Path,
    /// Check the store file and its objects; prints the problems found
    Check,
}

fn parse_source_kind(value: &str) -> Result<s2i_imagestream::streams::SourceKind, String> {
    value.parse()
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
    /// Write what was built as JSON to FILE: image ID, tag, pushed digest, builder, source, duration
    #[arg(long, value_name = "FILE")]
    pub metadata_file: Option<PathBuf>,
    /// With --engine oci, also write the image to LOCATION (repeatable): oci:DIR:REF, oci-archive:FILE:REF, docker-archive:FILE:NAME:TAG (REF and NAME:TAG optional) or docker-daemon:NAME:TAG
    #[arg(long = "output", value_name = "LOCATION", value_parser = parse_location)]
    pub outputs: Vec<ImageLocation>,
}

fn parse_location(value: &str) -> Result<ImageLocation, String> {
    ImageLocation::parse(value).map_err(|e| match e {
        s2i_oci::Error::InvalidTransport { reason, help, .. } => format!("{reason} ({help})"),
        other => other.to_string(),
    })
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
pub struct CreateArgs {
    /// Name of the builder image the project builds
    pub image_name: String,
    /// Directory to create the project in
    pub destination: PathBuf,
    /// Base image of the project's Dockerfile
    #[arg(long, value_name = "IMAGE", default_value = "openshift/base-centos7")]
    pub from: String,
}

/// `s2i route …`.
#[derive(Debug, Subcommand)]
pub enum RouteCommand {
    /// Create a route to a service: http, edge, passthrough or reencrypt
    #[command(after_help = CREATE_ROUTE_EXAMPLES)]
    Create(RouteCreateArgs),
    /// Run HAProxy on loopback for the routes of the store, following their changes
    #[command(after_help = SERVE_EXAMPLES)]
    Serve(RouteServeArgs),
    /// Render the HAProxy router of routes and services: haproxy.cfg, map files and certificates
    #[command(after_help = RENDER_EXAMPLES)]
    Render(RouteRenderArgs),
    /// Print a route for a cluster: an OpenShift Route, an Ingress, or Gateway API objects
    #[command(after_help = EXPORT_EXAMPLES)]
    Export(RouteExportArgs),
}

const CREATE_ROUTE_EXAMPLES: &str = "\
Examples:
  # A plain HTTP route to the service `web`, at web-<namespace>.apps.localhost
  s2i route create http --service web

  # TLS ended by the router with its own certificate; plain HTTP redirected to https
  s2i route create edge web-secure --service web --hostname www.example.test \\
      --cert tls.crt --key tls.key --insecure-policy Redirect

  # A 3:1 split between two versions
  s2i route create http ab --service web --weight 3 --alternate web-v2=1

Here --cert and --key are the route's serving certificate and key (route create
does not talk to the container engine). Routes without --hostname get
<name>-<namespace>.<domain>, the domain from $S2I_ROUTE_DOMAIN, else apps.localhost.";

const SERVE_EXAMPLES: &str = "\
Examples:
  # Serve the routes of the store on http://*.apps.localhost:9080 and https://…:9443
  s2i route serve

  # In another terminal: routes and services created or changed are served within a second
  s2i expose service web
  curl http://web-default.apps.localhost:9080/

The router serves the routes of every namespace, writes their admission
status back to the store (s2i get routes shows it), and follows the running
containers of services with a selector. Ctrl-C or SIGTERM stops HAProxy.";

const RENDER_EXAMPLES: &str = "\
Examples:
  # Render the routes and services of the store, then run HAProxy on the result
  s2i route render --out router
  cd router && haproxy -f haproxy.cfg

  # Render routes and services from files instead (the store is not read or changed)
  s2i route render -f app.yaml --out router

Objects in files without metadata.namespace are in the --namespace namespace;
routes without a host get <name>-<namespace>.<domain>.";

const EXPORT_EXAMPLES: &str = "\
Examples:
  # The route `web` as a networking.k8s.io/v1 Ingress
  s2i route export web --to ingress

  # As Gateway API objects attached to the Gateway `public` in `gateways`
  s2i route export shop/web --to gateway --gateway gateways/public

  # A route of a file, not of the store
  s2i route export web --to openshift -f app.yaml";

/// The kinds of route `s2i route create` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RouteType {
    /// Plain HTTP.
    Http,
    /// TLS ended at the router; plain HTTP to the endpoints.
    Edge,
    /// TLS passed to the endpoints untouched, chosen by SNI.
    Passthrough,
    /// TLS ended at the router, and again from the router to the endpoints.
    Reencrypt,
}

/// `s2i route create`.
#[derive(Debug, Args)]
pub struct RouteCreateArgs {
    /// The kind of route
    #[arg(value_name = "TYPE")]
    pub route_type: RouteType,
    /// Name of the route (default: the service's name)
    pub name: Option<String>,
    /// The service the route sends traffic to
    #[arg(long, value_name = "SERVICE")]
    pub service: String,
    /// Host, path, port and wildcard policy.
    #[command(flatten)]
    pub at: RouteAtArgs,
    /// CA certificates served after the certificate (its chain), PEM file
    #[arg(long = "ca-cert", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// CA that signs the endpoints' certificates, PEM file (reencrypt)
    #[arg(long = "dest-ca-cert", value_name = "FILE")]
    pub dest_ca_cert: Option<PathBuf>,
    /// What plain HTTP gets: None (503), Allow (served too), Redirect (302 to https)
    #[arg(long, value_name = "POLICY", value_parser = ["None", "Allow", "Redirect"])]
    pub insecure_policy: Option<String>,
    /// Weight of the service, 0 to 256 (default 100)
    #[arg(long, value_name = "N")]
    pub weight: Option<i32>,
    /// Another service sharing the traffic by weight, SERVICE=WEIGHT (repeatable, up to 3)
    #[arg(long = "alternate", value_name = "SERVICE=WEIGHT")]
    pub alternates: Vec<String>,
}

/// Where a new route serves, for `s2i route create` and `s2i expose`.
#[derive(Debug, Args)]
pub struct RouteAtArgs {
    /// Host name (default: NAME-NAMESPACE.DOMAIN, the domain from $S2I_ROUTE_DOMAIN, else apps.localhost)
    #[arg(long, value_name = "HOST")]
    pub hostname: Option<String>,
    /// Path prefix the route serves (default: every path; not with passthrough)
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    /// Endpoint port: a service port name or a container port number (default: route create, every port; expose, the service's first port)
    #[arg(long, value_name = "PORT")]
    pub port: Option<String>,
    /// None, or Subdomain: also serve every host one label under the host's domain
    #[arg(long, value_name = "POLICY", value_parser = ["None", "Subdomain"])]
    pub wildcard_policy: Option<String>,
}

/// Listener ports of a router.
#[derive(Debug, Args)]
pub struct RouterPorts {
    /// Plain-HTTP port the router listens on (loopback)
    #[arg(long, value_name = "PORT", default_value_t = 9080, value_parser = clap::value_parser!(u16).range(1..))]
    pub http_port: u16,
    /// TLS port the router listens on (loopback)
    #[arg(long, value_name = "PORT", default_value_t = 9443, value_parser = clap::value_parser!(u16).range(1..))]
    pub https_port: u16,
    /// Port of the stats page and /healthz (loopback)
    #[arg(long, value_name = "PORT", default_value_t = 1936, value_parser = clap::value_parser!(u16).range(1..))]
    pub stats_port: u16,
    /// Admit wildcard routes (wildcardPolicy: Subdomain)
    #[arg(long)]
    pub allow_wildcard_routes: bool,
}

/// `s2i route serve`.
#[derive(Debug, Args)]
pub struct RouteServeArgs {
    /// Ports and admission.
    #[command(flatten)]
    pub ports: RouterPorts,
    /// The router directory (default: a temporary directory, removed when the router stops)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Where route objects come from: the store, or files.
#[derive(Debug, Args)]
pub struct RouteFiles {
    /// Read Routes and Services from this YAML or JSON file instead of the store (`-` for stdin; repeatable)
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Domain of subdomain routes, the default certificate, and (with -f) generated hosts (default $S2I_ROUTE_DOMAIN, else apps.localhost)
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Option<String>,
}

/// `s2i route render`.
#[derive(Debug, Args)]
pub struct RouteRenderArgs {
    /// Where the routes and services come from.
    #[command(flatten)]
    pub input: RouteFiles,
    /// The router directory to write (created if needed; files of earlier renders are replaced)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Ports and admission.
    #[command(flatten)]
    pub ports: RouterPorts,
}

/// Export formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    /// A route.openshift.io/v1 Route.
    Openshift,
    /// A networking.k8s.io/v1 Ingress.
    Ingress,
    /// Gateway API HTTPRoute or TLSRoute, and BackendTLSPolicy.
    Gateway,
}

/// `s2i route export`.
#[derive(Debug, Args)]
pub struct RouteExportArgs {
    /// The route: NAME (in the --namespace namespace) or NAMESPACE/NAME
    pub route: String,
    /// What to export to
    #[arg(long = "to", value_name = "FORMAT")]
    pub to: ExportFormat,
    /// Gateway the Gateway API routes attach to: NAME or NAMESPACE/NAME
    #[arg(long, value_name = "GATEWAY", default_value = "gateway")]
    pub gateway: String,
    /// Where the routes and services come from.
    #[command(flatten)]
    pub input: RouteFiles,
}

/// `s2i service …`.
#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Create a service: fixed endpoints (an Endpoints object of its name), or the running containers that carry some labels
    #[command(after_help = crate::commands::service::CREATE_SERVICE_EXAMPLES)]
    Create(ServiceCreateArgs),
}

/// `s2i service create`.
#[derive(Debug, Args)]
pub struct ServiceCreateArgs {
    /// Name of the service
    pub name: String,
    /// A fixed endpoint, IP:PORT (repeatable; an IPv6 address goes in brackets), kept in the Endpoints object of the service's name
    #[arg(long = "endpoint", value_name = "IP:PORT")]
    pub endpoints: Vec<String>,
    /// Labels of the running containers that are the endpoints, KEY=VALUE (repeatable, or comma-separated)
    #[arg(long = "selector", value_name = "KEY=VALUE", value_delimiter = ',')]
    pub selector: Vec<String>,
    /// A port of the service, PORT or PORT:TARGET_PORT (repeatable); named as kubectl names them (80:8080 is `80-8080`); with --endpoint and no --port, one port per port of the endpoints
    #[arg(long = "port", value_name = "PORT[:TARGET_PORT]")]
    pub ports: Vec<String>,
}

/// `s2i expose`.
#[derive(Debug, Args)]
pub struct ExposeArgs {
    /// What to expose: `service NAME`, or `svc/NAME`
    #[arg(value_name = "KIND")]
    pub kind: String,
    /// The service's name
    pub name: Option<String>,
    /// Name of the route (default: the service's name)
    #[arg(long = "name", value_name = "NAME")]
    pub route_name: Option<String>,
    /// Host, path, port and wildcard policy.
    #[command(flatten)]
    pub at: RouteAtArgs,
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
}
