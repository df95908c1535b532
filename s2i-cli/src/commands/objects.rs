//! The object verbs — `get`, `describe`, `delete`, `apply` — over the kinds
//! they are given. A kind's names and API version are its library's
//! `KindInfo`, resolved through [`Kinds`]; it plugs into the verbs with a
//! [`Kind`] entry. Everything else (output formats, tables, reading
//! documents and their error reports, one transaction per apply) is here.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use s2i_store::Applied;
use s2i_store::codec::{self, Document, FieldValidation};
use serde_json::Value;

use super::build_events::after_tag_changes;
use super::kind::{DocumentError, Kind, Kinds, LibError, LibResult};
use super::session::{Context, Session};
use crate::cli::{ApplyArgs, DeleteArgs, DescribeArgs, GetArgs, GlobalArgs, OutputFormat};
use crate::failure::Failure;
use crate::render::Table;

fn namespace_of<'a>(kind: &Kind, context: &'a Context) -> &'a str {
    if kind.info.namespaced { &context.namespace } else { "" }
}

// ---------------------------------------------------------------------------
// get / describe.

/// `s2i get KIND [NAME…]`.
pub(crate) async fn get(global: &GlobalArgs, args: GetArgs, kinds: &Kinds) -> Result<i32, Failure> {
    let kind = kinds.find(&args.kind)?;
    let context = Context::open(global)?;
    if let Some(refresh) = kind.refresh {
        refresh(&context).await?;
    }
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
                    eprintln!("{:?}", Failure::from(e).report);
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
                println!("{}/{name}", kind.info.qualified_name());
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

/// A table: the kind's columns (with NAMESPACE first across namespaces), three spaces apart.
fn table(kind: &Kind, objects: &[Value], with_namespace: bool) -> String {
    let namespace = with_namespace.then_some("NAMESPACE");
    let mut table = Table::new(3, namespace.into_iter().chain(kind.columns.iter().copied()));
    for object in objects {
        let mut row = (kind.row)(object);
        if with_namespace {
            row.insert(0, object["metadata"]["namespace"].as_str().unwrap_or_default().to_owned());
        }
        table.row(row);
    }
    table.render()
}

/// `s2i describe KIND NAME…`.
pub(crate) async fn describe(global: &GlobalArgs, args: DescribeArgs, kinds: &Kinds) -> Result<i32, Failure> {
    let kind = kinds.find(&args.kind)?;
    let context = Context::open(global)?;
    if let Some(refresh) = kind.refresh {
        refresh(&context).await?;
    }
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
pub(crate) async fn delete(global: &GlobalArgs, args: DeleteArgs, kinds: &Kinds) -> Result<i32, Failure> {
    let kind = kinds.find(&args.kind)?;
    let delete =
        kind.delete.map_err(|why| Failure::message(format!("{} cannot be deleted", kind.info.plural), why.into()))?;
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
pub(crate) fn parse_documents(file: &str, text: &str, namespace: &str, kinds: &Kinds) -> Result<Vec<Parsed>, Failure> {
    parse_documents_with(file, text, namespace, kinds, FieldValidation::Strict)
}

/// [`parse_documents`], with `validation` for the fields a kind does not have
/// (`apply --validate`): with `warn`, each is a warning naming it.
pub(crate) fn parse_documents_with(
    file: &str,
    text: &str,
    namespace: &str,
    kinds: &Kinds,
    validation: FieldValidation,
) -> Result<Vec<Parsed>, Failure> {
    let schema_help = "fix the document; docs/imagestreams.md and docs/routes.md describe the fields of each kind";
    let mut parsed = Vec::new();
    // Syntax first, for every document; then each document typed by its kind,
    // so that errors point into the file.
    for document in codec::read_documents(file, text)? {
        let kind = apply_kind(file, &document, kinds)?;
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
            eprintln!("warning: {file}: {}/{name}: unknown field \"{path}\" (dropped)", kind.info.qualified_name());
        }
        parsed.push(Parsed { kind, value });
    }
    Ok(parsed)
}

fn apply_kind(file: &str, document: &Document<'_>, kinds: &Kinds) -> Result<&'static Kind, Failure> {
    let kind_name = document.kind.as_str();
    if kind_name.is_empty() {
        return Err(Failure::message(
            format!("{file}: a document has no kind"),
            "start each document with apiVersion and kind, e.g. `kind: ImageStream`".into(),
        ));
    }
    let kind = kinds.of_document(kind_name).ok_or_else(|| {
        let known: Vec<&str> = kinds.all().iter().filter(|k| k.apply.is_some()).map(|k| k.info.kind).collect();
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
pub(crate) async fn apply(global: &GlobalArgs, args: ApplyArgs, kinds: &Kinds) -> Result<i32, Failure> {
    s2i_store::validate_namespace(&global.namespace)?;
    let mut documents = Vec::new();
    for path in &args.files {
        let (file, text) = read_input(path)?;
        documents.extend(parse_documents_with(&file, &text, &global.namespace, kinds, args.validate)?);
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
    for (_, applied) in &applied {
        println!("{applied}");
    }
    // Follow-up work kind by kind, in the order of the kinds' names.
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
    after_tag_changes(&session).await?;
    Ok(code)
}
