//! The command line: one definition for parsing, help, completions and man pages.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use s2i_core::PullPolicy;

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
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Container engine endpoint (unix://, tcp://, http:// or https://); default $DOCKER_HOST, then the local Docker or Podman socket
    #[arg(short = 'U', long = "url", global = true, value_name = "URL")]
    pub url: Option<String>,
    /// TLS client certificate (default $DOCKER_CERT_PATH/cert.pem)
    #[arg(long, global = true, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// TLS client key (default $DOCKER_CERT_PATH/key.pem)
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
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build a new image from source and a builder image
    #[command(after_help = BUILD_EXAMPLES)]
    Build(Box<BuildArgs>),
    /// Show how to use a builder image (runs its usage script)
    Usage(UsageArgs),
    /// Show objects of the store (image streams, tags, images…)
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
    /// The kind: imagestreams (is), imagestreamtags (istag), imagestreamimages (isimage), images
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

/// `s2i build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The source: a directory, a git repository, or a git URL (file://, https://, ssh://, user@host:path), optionally with #ref
    pub source: String,
    /// The builder image
    pub image: String,
    /// Name of the new image; without it the image is left untagged and its ID is printed
    pub tag: Option<String>,

    /// Options shared with other commands.
    #[command(flatten)]
    pub common: CommonArgs,

    /// Keep the build's temporary directory (it holds the clone, the plan and downloaded scripts)
    #[arg(long)]
    pub save_temp_dir: bool,
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
    /// Bind mount for the build container, HOST:CONTAINER or HOST:CONTAINER:OPTIONS (repeatable)
    #[arg(short, long, value_name = "VOLUME")]
    pub volume: Vec<String>,
    /// Linux capabilities to drop in the build container (comma-separated or repeated)
    #[arg(long, value_name = "CAP", value_delimiter = ',')]
    pub cap_drop: Vec<String>,
    /// Network of the build container: bridge, host, none, container:<name|id> or a network name
    #[arg(long, value_name = "NETWORK")]
    pub network: Option<String>,
    /// Extra /etc/hosts entry of the build container, host:ip (repeatable)
    #[arg(long, value_name = "HOST:IP")]
    pub add_host: Vec<String>,
    /// Record the new image as this image stream tag ([NAMESPACE/]STREAM:TAG); its labels become the tag's annotations
    #[arg(long, value_name = "STREAM:TAG")]
    pub to: Option<String>,
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
    /// Environment variable for the usage script (repeatable)
    #[arg(short, long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
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
