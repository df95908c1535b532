//! The command line of objects: `get`, `describe`, `delete`, `apply`, and
//! the image-stream commands `tag` and `import-image`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

/// After `s2i get --help`: the kinds and examples.
pub(crate) const GET_HELP: &str = "\
Kinds: imagestreams (is), imagestreamtags (istag), imagestreamimages (isimage, by name only), images,
routes (route), services (svc), endpoints (ep), buildconfigs (bc), builds, secrets, configmaps (cm).

Examples:
  s2i get is
  s2i get istag app:prod -o yaml
  s2i get routes -A
  s2i get svc web -o yaml
  s2i get bc
  s2i get builds
  s2i get secrets";

/// After `s2i describe --help` and `s2i delete --help`: the kinds.
pub(crate) const KINDS_HELP: &str = "Kinds: imagestreams (is), imagestreamtags (istag), imagestreamimages (isimage), images, routes (route), services (svc), endpoints (ep), buildconfigs (bc), builds, secrets, configmaps (cm).";

/// After `s2i apply --help`.
pub(crate) const APPLY_HELP: &str = "\
Documents are separated by `---`; a `kind: List` document applies its items. All documents are checked
before anything is written, and written in one transaction.

Example:
  s2i apply -f streams.yaml -f app.yaml
  s2i apply -f pipeline.yaml --no-triggers   # declare build configs without starting builds";

pub(super) const TAG_EXAMPLES: &str = "\
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

pub(super) const IMPORT_EXAMPLES: &str = "\
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
    /// What to do with fields a kind does not have, as kubectl: strict (an error naming the field),
    /// warn (drop each with a warning), ignore (drop them)
    #[arg(long, value_name = "MODE", default_value = "strict", value_parser = parse_validation)]
    pub validate: s2i_store::codec::FieldValidation,
}

fn parse_validation(text: &str) -> Result<s2i_store::codec::FieldValidation, String> {
    text.parse()
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

fn parse_source_kind(value: &str) -> Result<s2i_imagestream::streams::SourceKind, String> {
    value.parse()
}
