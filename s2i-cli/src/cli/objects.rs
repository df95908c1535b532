//! The command line of objects: `get`, `describe`, `delete`, `apply`, and
//! the image-stream commands `tag` and `import-image`.

use std::path::PathBuf;

use clap::Args;
use s2i_store::selector::Selector;

/// After `s2i get --help`: the kinds and examples.
pub(crate) const GET_HELP: &str = "\
Kinds: imagestreams (is), imagestreamtags (istag), imagestreamimages (isimage, by name only), images,
routes (route), services (svc), endpoints (ep), buildconfigs (bc), builds, secrets, configmaps (cm).
`all` is imagestreams, buildconfigs, builds, services and routes.

Selectors (-l) are kubectl's: app=web, tier!=db, env in (dev,qa), env notin (prod), app, !canary;
comma-separated requirements must all hold.

Examples:
  s2i get is
  s2i get is/app svc/web -n dev
  s2i get all -l app=shop
  s2i get istag app:prod -o yaml
  s2i get routes -A
  s2i get is -o jsonpath='{range .items[*]}{.metadata.name}{\"\\n\"}{end}'
  s2i get svc -o custom-columns=NAME:.metadata.name,TYPE:.spec.type
  s2i get builds -w";

/// After `s2i describe --help` and `s2i delete --help`: the kinds.
pub(crate) const KINDS_HELP: &str = "\
Kinds: imagestreams (is), imagestreamtags (istag), imagestreamimages (isimage), images, routes (route), services (svc),
endpoints (ep), buildconfigs (bc), builds, secrets, configmaps (cm).

Examples:
  s2i delete is/app svc/web
  s2i delete routes -l app=shop
  s2i delete all -l app=shop --dry-run       # print what would be deleted, delete nothing
  s2i delete -f app/ -R
  s2i describe bc -l app=shop";

/// After `s2i apply --help`.
pub(crate) const APPLY_HELP: &str = "\
Documents are separated by `---`; a `kind: List` document applies its items. A directory gives its *.yaml, *.yml
and *.json files in name order (with -R, those of its sub-directories too). All documents are checked before anything
is written, and written in one transaction.

Example:
  s2i apply -f streams.yaml -f app.yaml
  s2i apply -f deploy/ -R -n staging
  s2i apply -f app.yaml --dry-run=server      # check against the stored objects, write nothing
  s2i apply -f pipeline.yaml --no-triggers   # declare build configs without starting builds";

/// After `s2i export --help`.
pub(crate) const EXPORT_HELP: &str = "\
The output applies elsewhere as it is: `s2i apply -n OTHER -f FILE`, or `oc apply -n ANY -f FILE` on a cluster.
Left out: status, uid, resourceVersion, creationTimestamp, generation, managedFields, ownerReferences, the namespace
and s2i's own bookkeeping annotations. `all` is imagestreams, buildconfigs, services, endpoints and routes.

Examples:
  s2i export all > app.yaml
  s2i export bc,is -l app=shop
  s2i export svc/web route/web -n dev";

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
  s2i import-image app:1.2

  # Import the tags of a whole repository (at most 50: latest, then versions
  # newest first, then the rest by name); later, import them again
  s2i import-image app --from 127.0.0.1:5000/team/app --all --confirm
  s2i import-image app";

/// `s2i get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// What to show: KIND [NAME…], KIND/NAME…, several kinds as KIND,KIND, or `all`
    #[arg(value_name = "KIND[/NAME]", required = true)]
    pub targets: Vec<String>,
    /// Output format: json, yaml, name, wide, jsonpath=TEMPLATE or custom-columns=HEADER:PATH,… (default: a table)
    #[arg(short, long, value_name = "FORMAT", value_parser = parse_output)]
    pub output: Option<OutputFormat>,
    /// List the objects of every namespace
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Only objects whose labels match: key=value, key!=value, key in (a,b), key notin (a), key, !key; comma-separated
    #[arg(short = 'l', long, value_name = "SELECTOR", value_parser = parse_selector)]
    pub selector: Option<Selector>,
    /// After listing, print the objects that change, as they change, until Ctrl-C
    #[arg(short = 'w', long)]
    pub watch: bool,
}

/// `s2i describe`.
#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// The objects: KIND NAME…, KIND/NAME…, or KIND (with --selector, those it matches)
    #[arg(value_name = "KIND[/NAME]", required = true)]
    pub targets: Vec<String>,
    /// Describe the objects of KIND whose labels match (see `s2i get --help`)
    #[arg(short = 'l', long, value_name = "SELECTOR", value_parser = parse_selector)]
    pub selector: Option<Selector>,
}

/// `s2i delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The objects: KIND NAME…, KIND/NAME…, or KIND with --selector or --all; KIND,KIND for several, `all` for
    /// the kinds `get all` shows
    #[arg(value_name = "KIND[/NAME]", required_unless_present = "files")]
    pub targets: Vec<String>,
    /// Delete the objects of these files or directories (*.yaml, *.yml, *.json); `-` reads stdin
    #[arg(short, long = "filename", value_name = "FILE|DIR", conflicts_with = "targets")]
    pub files: Vec<PathBuf>,
    /// Read the directories of --filename recursively
    #[arg(short = 'R', long, requires = "files")]
    pub recursive: bool,
    /// Delete the objects of KIND whose labels match (see `s2i get --help`)
    #[arg(short = 'l', long, value_name = "SELECTOR", value_parser = parse_selector, conflicts_with = "files")]
    pub selector: Option<Selector>,
    /// Delete every object of KIND in the namespace
    #[arg(long, conflicts_with_all = ["files", "selector"])]
    pub all: bool,
    /// A named object that does not exist is not an error: nothing is printed for it
    #[arg(long)]
    pub ignore_not_found: bool,
    /// Print what would be deleted.
    #[command(flatten)]
    pub dry_run: DryRunArgs,
}

/// `s2i apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Files or directories of objects (*.yaml, *.yml, *.json in a directory), YAML or JSON, several documents per
    /// file allowed; repeatable; `-` reads stdin
    #[arg(short, long = "filename", value_name = "FILE|DIR", required = true)]
    pub files: Vec<PathBuf>,
    /// Read the directories of --filename recursively
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// What to do with fields a kind does not have, as kubectl: strict (an error naming the field),
    /// warn (drop each with a warning), ignore (drop them)
    #[arg(long, value_name = "MODE", default_value = "strict", value_parser = parse_validation)]
    pub validate: s2i_store::codec::FieldValidation,
    /// Check everything and print what would be applied.
    #[command(flatten)]
    pub dry_run: DryRunArgs,
}

/// `--dry-run`, of the verbs that write objects (`apply`, `delete`, `create`).
#[derive(Debug, Args)]
pub struct DryRunArgs {
    /// Print what the command would do and write nothing: client, or server (checked against the stored objects
    /// as a real write is); `none` writes
    #[arg(id = "dry_run", long = "dry-run", value_name = "MODE", num_args = 0..=1, require_equals = true,
          default_missing_value = "client", default_value = "none", value_enum)]
    pub mode: DryRun,
}

/// The modes of `--dry-run`, as kubectl's: `none` writes; `client` and
/// `server` write nothing. `apply` and `delete` check both against the
/// stored objects (the store is local); `create -o` prints the object as
/// given with `client` (without reading the store) and as it would be
/// stored with `server`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[allow(missing_docs)] // The type's doc says them; doc comments here would make clap list each one in --help.
pub enum DryRun {
    None,
    Client,
    Server,
}

impl DryRun {
    /// What a dry run's lines end with (`(dry run)`, `(server dry run)`); `None` when the command writes.
    pub fn label(self) -> Option<&'static str> {
        match self {
            DryRun::None => None,
            DryRun::Client => Some("(dry run)"),
            DryRun::Server => Some("(server dry run)"),
        }
    }
}

/// `-o` of the verbs that create an object (`secret create`, `create configmap`), and their `--dry-run`.
#[derive(Debug, Args)]
pub struct CreatedOutputArgs {
    /// Print the object that is created (with --dry-run, that would be): json, yaml, name or jsonpath=TEMPLATE
    #[arg(short, long, value_name = "FORMAT", value_parser = parse_object_output)]
    pub output: Option<OutputFormat>,
    /// Print the object that would be created.
    #[command(flatten)]
    pub dry_run: DryRunArgs,
}

/// The formats of `get -o` that print objects rather than a table.
fn parse_object_output(text: &str) -> Result<OutputFormat, String> {
    match parse_output(text) {
        Ok(OutputFormat::Wide | OutputFormat::CustomColumns(_)) | Err(_) => {
            Err("the formats are json, yaml, name and jsonpath=TEMPLATE".into())
        }
        format => format,
    }
}

/// `s2i export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// What to export: KIND [NAME…], KIND/NAME…, KIND,KIND, or `all`
    #[arg(value_name = "KIND[/NAME]", required = true)]
    pub targets: Vec<String>,
    /// Only objects whose labels match (see `s2i get --help`)
    #[arg(short = 'l', long, value_name = "SELECTOR", value_parser = parse_selector)]
    pub selector: Option<Selector>,
    /// Output format: yaml (documents separated by ---) or json (a List)
    #[arg(short, long, value_name = "FORMAT", default_value = "yaml", value_parser = ["yaml", "json"])]
    pub output: String,
}

fn parse_validation(text: &str) -> Result<s2i_store::codec::FieldValidation, String> {
    text.parse()
}

fn parse_selector(text: &str) -> Result<Selector, String> {
    Selector::parse(text).map_err(|e| e.to_string())
}

/// Output formats of `s2i get`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputFormat {
    /// JSON.
    Json,
    /// YAML.
    Yaml,
    /// kind/name, one per line.
    Name,
    /// The table with more columns (the objects' labels).
    Wide,
    /// A kubectl JSONPath template, run on the object (one named) or on a List of them.
    JsonPath(String),
    /// A table of `HEADER:PATH` columns, comma-separated.
    CustomColumns(String),
}

fn parse_output(text: &str) -> Result<OutputFormat, String> {
    let format = match text {
        "json" => OutputFormat::Json,
        "yaml" => OutputFormat::Yaml,
        "name" => OutputFormat::Name,
        "wide" => OutputFormat::Wide,
        _ => match text.split_once('=') {
            Some(("jsonpath", template)) => {
                crate::jsonpath::Template::parse(template)?;
                OutputFormat::JsonPath(template.to_owned())
            }
            Some(("custom-columns", spec)) => {
                crate::jsonpath::parse_columns(spec)?;
                OutputFormat::CustomColumns(spec.to_owned())
            }
            _ => {
                return Err(
                    "the formats are json, yaml, name, wide, jsonpath=TEMPLATE and custom-columns=HEADER:PATH,…".into(),
                );
            }
        },
    };
    Ok(format)
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
    /// The tag to import into: STREAM or STREAM:TAG (tag latest when omitted); a tag no spec tag names, of a stream
    /// with spec.dockerImageRepository, imports that repository again
    #[arg(value_name = "STREAM[:TAG]")]
    pub destination: String,
    /// The image to import (default: the tag's current source)
    #[arg(long, value_name = "PULLSPEC")]
    pub from: Option<String>,
    /// Allow creating the stream or tag, or changing its source
    #[arg(long)]
    pub confirm: bool,
    /// Import every tag (at most 50) of the repository --from names: it becomes the stream's
    /// spec.dockerImageRepository
    #[arg(long, conflicts_with_all = ["scheduled", "reference_policy", "import_mode"])]
    pub all: bool,
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
