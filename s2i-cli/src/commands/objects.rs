//! The object verbs — `get`, `describe`, `delete`, `apply` — over the kinds
//! s2i knows. A kind's names and API version are its library's
//! [`KindInfo`], resolved through a [`KindRegistry`]; it plugs into the
//! verbs with a [`Kind`] entry in [`KINDS`]: how to read and list it, one
//! table row, a description, and (optionally) how to apply and delete it.
//! Everything else (output formats, tables, reading documents and their
//! error reports, one transaction per apply) is shared.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Read;
use std::path::Path;
use std::pin::Pin;
use std::sync::OnceLock;

use s2i_store::codec::{self, Document, FieldValidation};
use s2i_store::{KindInfo, KindRegistry, Tx};
use serde_json::Value;

use super::session::{Context, Session};
use super::{Failure, builds, imagestream, route, secrets, service};
use crate::cli::{ApplyArgs, DeleteArgs, DescribeArgs, GetArgs, GlobalArgs, OutputFormat};

/// An object as the JSON the verbs handle.
pub(super) fn to_value<T: serde::Serialize>(object: &T) -> Value {
    serde_json::to_value(object).expect("objects are plain data")
}

/// A time of an object as Kubernetes writes it, empty when there is none.
pub(super) fn time_text(time: Option<jiff::Timestamp>) -> String {
    time.map(|time| s2i_store::timestamp::format(&time)).unwrap_or_default()
}

/// `text`, or `<none>` when it is empty (as `oc describe` shows it).
pub(super) fn or_none(text: &str) -> String {
    if text.is_empty() { "<none>".into() } else { text.to_owned() }
}

/// A future a kind's hook returns.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// An error of the library calls a kind makes.
#[derive(Debug)]
pub(crate) enum LibError {
    /// Image streams (and, through them, the store).
    Streams(s2i_imagestream::Error),
    /// Build configs and builds.
    Builds(s2i_buildconfig::Error),
}

impl From<s2i_store::Error> for LibError {
    fn from(error: s2i_store::Error) -> Self {
        Self::Streams(error.into())
    }
}

impl From<s2i_imagestream::Error> for LibError {
    fn from(error: s2i_imagestream::Error) -> Self {
        Self::Streams(error)
    }
}

impl From<s2i_buildconfig::Error> for LibError {
    fn from(error: s2i_buildconfig::Error) -> Self {
        Self::Builds(error)
    }
}

impl From<LibError> for Failure {
    fn from(error: LibError) -> Self {
        match error {
            LibError::Streams(error) => error.into(),
            LibError::Builds(error) => error.into(),
        }
    }
}

impl LibError {
    /// The report of a failure that does not end the command (one name of several).
    fn report(self) -> miette::Report {
        match self {
            Self::Streams(error) => miette::Report::new(error),
            Self::Builds(s2i_buildconfig::Error::Store(error)) => miette::Report::new(error),
            Self::Builds(error) => Failure::from(error).report,
        }
    }
}

/// Result of the library calls a kind makes.
pub(crate) type LibResult<T> = Result<T, LibError>;
/// Lists the objects of a namespace (all when `None`).
pub(crate) type ListFn = fn(&Tx<'_>, Option<&str>) -> LibResult<Vec<Value>>;
/// Deletes one object, by name, in the session's namespace; returns the message to print.
pub(crate) type DeleteFn = for<'a> fn(&'a Session, &'a str) -> BoxFuture<'a, Result<String, Failure>>;
/// Follow-up work after an apply's transaction; returns problems to report.
pub(crate) type AfterApplyFn = for<'a> fn(&'a Session, &'a [Applied]) -> BoxFuture<'a, Result<Vec<String>, Failure>>;

/// One kind of object the verbs know.
pub(crate) struct Kind {
    /// Its names, group and version (the library's).
    pub(crate) info: KindInfo,
    /// Table columns; the first is NAME.
    pub(crate) columns: &'static [&'static str],
    /// Read one object; not found is an error that names it.
    pub(crate) get: fn(&Tx<'_>, &str, &str) -> LibResult<Value>,
    /// List the objects of a namespace (all when `None`); `None` when the kind can only be read by name.
    pub(crate) list: Option<ListFn>,
    /// One table row, matching `columns`.
    pub(crate) row: fn(&Value) -> Vec<String>,
    /// A description for people; YAML when `None`.
    pub(crate) describe: Option<fn(&Tx<'_>, &Value) -> LibResult<String>>,
    /// How `apply` creates and updates it; `None` for read-only kinds.
    pub(crate) apply: Option<ApplyOps>,
    /// How `delete` removes one object; `None` for kinds that cannot be deleted.
    pub(crate) delete: Option<DeleteFn>,
}

/// How `apply` handles a kind.
pub(crate) struct ApplyOps {
    /// Check one document (typed, so that errors point into the file) and
    /// return it with its namespace defaulted. Runs before anything is written.
    pub(crate) parse: fn(Document<'_>, &str) -> Result<Value, DocumentError>,
    /// Write the document in the apply's one transaction.
    pub(crate) write: fn(&Tx<'_>, Value) -> LibResult<Applied>,
    /// After the transaction: follow-up work (imports, engine tags); returns warnings.
    pub(crate) after: AfterApplyFn,
}

/// A document `apply` wrote.
#[derive(Debug, Clone)]
pub(crate) struct Applied {
    /// Its namespace.
    pub(crate) namespace: String,
    /// Its name.
    pub(crate) name: String,
    /// `created`, `configured` or `unchanged`.
    pub(crate) verb: &'static str,
}

/// Why a document was refused, located when the YAML parser knows where.
#[derive(Debug)]
pub(crate) enum DocumentError {
    /// A YAML or typing error, with its position in the file.
    Yaml(codec::DocumentError),
    /// A rule of the kind, with what to do.
    Invalid(LibError),
}

/// The kinds, in the order `s2i get --help` lists them.
pub(crate) const KINDS: &[&Kind] = &[
    &imagestream::IMAGE_STREAM,
    &imagestream::IMAGE_STREAM_TAG,
    &imagestream::IMAGE_STREAM_IMAGE,
    &imagestream::IMAGE,
    &route::ROUTE,
    &service::SERVICE,
    &service::ENDPOINTS,
    &builds::BUILD_CONFIG,
    &builds::BUILD,
    &secrets::SECRET,
    &secrets::CONFIG_MAP,
];

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

pub(crate) const KINDS_HELP: &str = "Kinds: imagestreams (is), imagestreamtags (istag), imagestreamimages (isimage), images, routes (route), services (svc), endpoints (ep), buildconfigs (bc), builds, secrets, configmaps (cm).";

pub(crate) const APPLY_HELP: &str = "\
Documents are separated by `---`; a `kind: List` document applies its items. All documents are checked
before anything is written, and written in one transaction.

Example:
  s2i apply -f streams.yaml -f app.yaml
  s2i apply -f pipeline.yaml --no-triggers   # declare build configs without starting builds";

/// The registry of the kinds' names, in the order of [`KINDS`].
fn registry() -> &'static KindRegistry {
    static REGISTRY: OnceLock<KindRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| KindRegistry::of(KINDS.iter().map(|kind| kind.info)).expect("each kind is listed once"))
}

/// The verbs' entry of a kind of the registry.
fn entry(info: &KindInfo) -> &'static Kind {
    KINDS.iter().copied().find(|kind| kind.info == *info).expect("the registry holds the kinds of KINDS")
}

/// Find a kind by any of its names (`ImageStream`, `imagestream`, `imagestreams`, `is`, `imagestreams.image.openshift.io`).
pub(crate) fn find_kind(name: &str) -> Result<&'static Kind, Failure> {
    Ok(entry(registry().resolve(name)?))
}

/// How objects of a kind are named in messages: `route.route.openshift.io`, or
/// `service` for the core group (as kubectl writes them).
pub(crate) fn qualified_kind(kind: &Kind) -> String {
    kind.info.qualified_name()
}

fn namespace_of<'a>(kind: &Kind, context: &'a Context) -> &'a str {
    if kind.info.namespaced { &context.namespace } else { "" }
}

// ---------------------------------------------------------------------------
// get / describe.

/// `s2i get KIND [NAME…]`.
pub(crate) async fn get(global: &GlobalArgs, args: GetArgs) -> Result<i32, Failure> {
    let kind = find_kind(&args.kind)?;
    let context = Context::open(global)?;
    builds::refresh_for(&context, kind.info.kind).await?;
    let namespace = namespace_of(kind, &context).to_owned();
    let mut code = 0;
    let objects: Vec<Value> = if args.names.is_empty() {
        let Some(list) = kind.list else {
            return Err(Failure::message(
                format!("{} can only be read by name", kind.info.plural),
                format!("name one: s2i get {} STREAM@DIGEST", kind.info.plural),
            ));
        };
        let scope = (kind.info.namespaced && !args.all_namespaces).then_some(namespace.as_str());
        context.store.read(|tx| list(tx, scope))?
    } else {
        let mut found = Vec::new();
        for name in &args.names {
            match context.store.read(|tx| (kind.get)(tx, &namespace, name)) {
                Ok(object) => found.push(object),
                Err(e) => {
                    eprintln!("{:?}", e.report());
                    code = 1;
                }
            }
        }
        found
    };
    match args.output {
        None => {
            if objects.is_empty() && args.names.is_empty() {
                match (kind.info.namespaced, args.all_namespaces) {
                    (true, false) => eprintln!("No resources found in {namespace} namespace."),
                    _ => eprintln!("No resources found"),
                }
            } else if !objects.is_empty() {
                print!("{}", table(kind, &objects, args.all_namespaces && kind.info.namespaced));
            }
        }
        Some(format) => {
            let single = args.names.len() == 1 && objects.len() == 1;
            print_objects(kind, objects, format, single)?;
        }
    }
    Ok(code)
}

fn print_objects(kind: &Kind, objects: Vec<Value>, format: OutputFormat, single: bool) -> Result<(), Failure> {
    match format {
        OutputFormat::Name => {
            for object in &objects {
                let name = object["metadata"]["name"].as_str().unwrap_or_default();
                println!("{}/{name}", qualified_kind(kind));
            }
            Ok(())
        }
        OutputFormat::Json | OutputFormat::Yaml => {
            let document = if single {
                objects.into_iter().next().unwrap_or(Value::Null)
            } else {
                serde_json::json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": objects})
            };
            let text = match format {
                OutputFormat::Json => codec::to_json(&document).map_err(|e| e.to_string()),
                _ => codec::to_yaml(&document).map_err(|e| e.to_string()),
            }
            .map_err(|e| Failure::message(format!("cannot write the output: {e}"), "report this as a bug".into()))?;
            print!("{text}");
            Ok(())
        }
    }
}

/// A table: the kind's columns (with NAMESPACE first across namespaces), padded by three spaces.
fn table(kind: &Kind, objects: &[Value], with_namespace: bool) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut header: Vec<String> = kind.columns.iter().map(|c| (*c).to_owned()).collect();
    if with_namespace {
        header.insert(0, "NAMESPACE".into());
    }
    rows.push(header);
    for object in objects {
        let mut row = (kind.row)(object);
        if with_namespace {
            row.insert(0, object["metadata"]["namespace"].as_str().unwrap_or_default().to_owned());
        }
        rows.push(row);
    }
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r.get(c).map_or(0, |cell| cell.chars().count())).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if c + 1 < row.len() {
                line.push_str(&" ".repeat(widths[c] - cell.chars().count() + 3));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `s2i describe KIND NAME…`.
pub(crate) async fn describe(global: &GlobalArgs, args: DescribeArgs) -> Result<i32, Failure> {
    let kind = find_kind(&args.kind)?;
    let context = Context::open(global)?;
    builds::refresh_for(&context, kind.info.kind).await?;
    let namespace = namespace_of(kind, &context).to_owned();
    let mut texts = Vec::new();
    for name in &args.names {
        let text = context.store.read(|tx| {
            let object = (kind.get)(tx, &namespace, name)?;
            match kind.describe {
                Some(describe) => describe(tx, &object),
                None => Ok(codec::to_yaml(&object).unwrap_or_default()),
            }
        })?;
        texts.push(text);
    }
    print!("{}", texts.join("\n\n"));
    Ok(0)
}

// ---------------------------------------------------------------------------
// delete.

/// `s2i delete KIND NAME…`.
pub(crate) async fn delete(global: &GlobalArgs, args: DeleteArgs) -> Result<i32, Failure> {
    let kind = find_kind(&args.kind)?;
    let Some(delete) = kind.delete else {
        return Err(Failure::message(
            format!("{} cannot be deleted", kind.info.plural),
            "they are views of image streams; delete the stream's tag instead (s2i tag -d STREAM:TAG)".into(),
        ));
    };
    let session = Session::open(global, None).await?;
    for name in &args.names {
        let message = delete(&session, name).await?;
        println!("{message}");
    }
    Ok(0)
}

// ---------------------------------------------------------------------------
// apply.

/// One document of the input, parsed as far as its kind.
pub(crate) struct Parsed {
    /// Its kind.
    pub(crate) kind: &'static Kind,
    /// The object, checked by the kind's `parse`.
    pub(crate) value: Value,
}

/// The text of an input file (`-` is stdin), and its name for messages.
pub(crate) fn read_input(path: &Path) -> Result<(String, String), Failure> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::message(format!("cannot read stdin: {e}"), "pipe YAML or JSON in".into()))?;
        return Ok(("<stdin>".into(), text));
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::message(
            format!("cannot read {}: {e}", path.display()),
            "give the path of a YAML or JSON file (or - for stdin)".into(),
        )
    })?;
    Ok((path.display().to_string(), text))
}

/// Parse every document of one input, typed by its kind; unknown fields are errors.
pub(crate) fn parse_documents(file: &str, text: &str, namespace: &str) -> Result<Vec<Parsed>, Failure> {
    parse_documents_with(file, text, namespace, FieldValidation::Strict)
}

/// [`parse_documents`], with `validation` for the fields a kind does not have
/// (`apply --validate`): with `warn`, each is a warning naming it.
pub(crate) fn parse_documents_with(
    file: &str,
    text: &str,
    namespace: &str,
    validation: FieldValidation,
) -> Result<Vec<Parsed>, Failure> {
    let schema_help = "fix the document; docs/imagestreams.md and docs/routes.md describe the fields of each kind";
    let mut parsed = Vec::new();
    // Syntax first, for every document; then each document typed by its kind,
    // so that errors point into the file.
    for document in codec::read_documents(file, text)? {
        let kind = apply_kind(file, &document)?;
        let ops = kind.apply.as_ref().expect("apply_kind returns appliable kinds");
        let document = document.with_validation(validation);
        let unknown = document.unknown_fields();
        let name = document.value["metadata"]["name"].as_str().unwrap_or_default().to_owned();
        let value = (ops.parse)(document, namespace).map_err(|e| match e {
            DocumentError::Yaml(e) if e.message().starts_with("unknown field") => Failure::from(e.with_help(
                "fix or remove the field; apply --validate=warn drops unknown fields with a warning, \
                 --validate=ignore without one",
            )),
            DocumentError::Yaml(e) if e.is_located() => Failure::from(e.with_help(schema_help)),
            DocumentError::Yaml(e) => Failure::message(e.to_string(), schema_help.into()),
            DocumentError::Invalid(e) => Failure::from(e),
        })?;
        for path in unknown.take() {
            eprintln!("warning: {file}: {}/{name}: unknown field \"{path}\" (dropped)", qualified_kind(kind));
        }
        parsed.push(Parsed { kind, value });
    }
    Ok(parsed)
}

fn apply_kind(file: &str, document: &Document<'_>) -> Result<&'static Kind, Failure> {
    let kind_name = document.kind.as_str();
    if kind_name.is_empty() {
        return Err(Failure::message(
            format!("{file}: a document has no kind"),
            "start each document with apiVersion and kind, e.g. `kind: ImageStream`".into(),
        ));
    }
    let kind = registry().by_type(None, kind_name).map(entry).ok_or_else(|| {
        let known: Vec<&str> = KINDS.iter().filter(|k| k.apply.is_some()).map(|k| k.info.kind).collect();
        Failure::message(
            format!("{file}: kind {kind_name:?} is not known"),
            format!("the kinds apply takes: {}", known.join(", ")),
        )
    })?;
    if kind.apply.is_none() {
        return Err(Failure::message(
            format!("{file}: {} objects cannot be applied", kind.info.kind),
            "they are recorded by s2i itself (builds, imports and tags)".into(),
        ));
    }
    Ok(kind)
}

/// `s2i apply -f FILE…`.
pub(crate) async fn apply(global: &GlobalArgs, args: ApplyArgs) -> Result<i32, Failure> {
    s2i_store::validate_namespace(&global.namespace)?;
    let mut documents = Vec::new();
    for path in &args.files {
        let (file, text) = read_input(path)?;
        documents.extend(parse_documents_with(&file, &text, &global.namespace, args.validate)?);
    }
    if documents.is_empty() {
        return Err(Failure::message("no objects to apply".into(), "the files hold no documents".into()));
    }
    let session = Session::open(global, None).await?;
    let applied: Vec<(&'static Kind, Applied)> = session.context.store.write(|tx| {
        let before = tx.last_seq()?;
        let applied = documents
            .iter()
            .map(|document| {
                let ops = document.kind.apply.as_ref().expect("only appliable kinds are parsed");
                (ops.write)(tx, document.value.clone()).map(|applied| (document.kind, applied))
            })
            .collect::<LibResult<Vec<_>>>()?;
        if global.no_triggers {
            s2i_imagestream::suppression::suppress_since(tx, before)?;
        }
        Ok::<_, LibError>(applied)
    })?;
    for (kind, applied) in &applied {
        println!("{}/{} {}", qualified_kind(kind), applied.name, applied.verb);
    }
    let mut by_kind: BTreeMap<&'static str, (&'static Kind, Vec<Applied>)> = BTreeMap::new();
    for (kind, applied) in applied {
        by_kind.entry(kind.info.kind).or_insert_with(|| (kind, Vec::new())).1.push(applied);
    }
    let mut code = 0;
    for (kind, applied) in by_kind.values() {
        let ops = kind.apply.as_ref().expect("only appliable kinds are written");
        for problem in (ops.after)(&session, applied).await? {
            eprintln!("error: {problem}");
            code = 1;
        }
    }
    builds::after_tag_changes(&session).await?;
    Ok(code)
}
