//! The object verbs — `get`, `describe`, `delete`, `apply`, `export` —
//! over the kinds they are given. A kind's names and API version are its
//! library's `KindInfo`, resolved through [`Kinds`]; it plugs into the verbs
//! with a [`Kind`] entry. Everything else (which objects the arguments name,
//! output formats, tables, watching, reading documents and their error
//! reports, one transaction per apply) is here; what a selector matches and
//! what an export leaves out are `s2i_store`'s rules.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use s2i_store::Applied;
use s2i_store::codec::{self, Document, FieldValidation};
use s2i_store::selector::Selector;
use serde_json::Value;

use super::build_events::after_tag_changes;
use super::kind::{DocumentError, Kind, Kinds, LibError, LibResult, Target};
use super::session::{Context, Session};
use crate::cli::{
    ApplyArgs, CreatedOutputArgs, DeleteArgs, DescribeArgs, DryRun, ExportArgs, GetArgs, GlobalArgs, OutputFormat,
};
use crate::failure::Failure;
use crate::jsonpath::{self, Template};
use crate::render::{Table, pairs};

fn namespace_of<'a>(kind: &Kind, context: &'a Context) -> &'a str {
    if kind.info.namespaced { &context.namespace } else { "" }
}

/// How often `get --watch` looks at the store's revision.
const WATCH_INTERVAL: Duration = Duration::from_millis(250);

// ---------------------------------------------------------------------------
// Reading the objects the arguments name.

/// The objects of one kind that a verb's arguments name: the names given,
/// else the kind's objects (of every namespace with `all_namespaces`) that
/// the selector matches. A name not found is reported and counted in `missing`.
fn read_objects(
    context: &Context,
    target: &Target,
    all_namespaces: bool,
    selector: Option<&Selector>,
    missing: &mut usize,
) -> Result<Vec<Value>, Failure> {
    let kind = target.kind;
    let namespace = namespace_of(kind, context);
    if target.names.is_empty() {
        let Some(list) = kind.list else {
            return Err(Failure::message(
                format!("{} can only be read by name", kind.info.plural),
                format!("name one: s2i get {} STREAM@DIGEST", kind.info.plural),
            ));
        };
        let scope = (kind.info.namespaced && !all_namespaces).then_some(namespace);
        let objects = context.store.read(|tx| list(tx, scope))?;
        return Ok(objects.into_iter().filter(|object| selector.is_none_or(|s| s.matches_object(object))).collect());
    }
    if selector.is_some() {
        return Err(Failure::message(
            "names cannot be given with a selector".into(),
            "either name the objects or select them with -l".into(),
        ));
    }
    let mut found = Vec::new();
    for name in &target.names {
        match context.store.read(|tx| (kind.get)(tx, namespace, name)) {
            Ok(object) => found.push(object),
            Err(e) => {
                eprintln!("{:?}", Failure::from(e).report);
                *missing += 1;
            }
        }
    }
    Ok(found)
}

fn name_of(object: &Value) -> &str {
    object["metadata"]["name"].as_str().unwrap_or_default()
}

// ---------------------------------------------------------------------------
// get.

/// How `get` prints, with its templates parsed.
enum Printer {
    Table { wide: bool },
    Name,
    Json,
    Yaml,
    JsonPath(Template),
    Columns(Vec<(String, jsonpath::Path)>),
}

impl Printer {
    fn new(format: Option<&OutputFormat>) -> Result<Self, Failure> {
        let template_error = |what: &str, text: &str, error: String| {
            Failure::message(
                format!("invalid {what} {text:?}: {error}"),
                "see `s2i get --help` for examples, e.g. -o jsonpath='{.items[*].metadata.name}'".into(),
            )
        };
        Ok(match format {
            None => Printer::Table { wide: false },
            Some(OutputFormat::Wide) => Printer::Table { wide: true },
            Some(OutputFormat::Name) => Printer::Name,
            Some(OutputFormat::Json) => Printer::Json,
            Some(OutputFormat::Yaml) => Printer::Yaml,
            Some(OutputFormat::JsonPath(text)) => {
                Printer::JsonPath(Template::parse(text).map_err(|e| template_error("jsonpath template", text, e))?)
            }
            Some(OutputFormat::CustomColumns(text)) => {
                Printer::Columns(jsonpath::parse_columns(text).map_err(|e| template_error("custom-columns", text, e))?)
            }
        })
    }
}

/// `s2i get KIND [NAME…]`, `s2i get KIND/NAME…`, `s2i get all`.
pub(crate) async fn get(global: &GlobalArgs, args: GetArgs, kinds: &Kinds) -> Result<i32, Failure> {
    let targets = kinds.targets(&args.targets, kinds.get_all())?;
    let printer = Printer::new(args.output.as_ref())?;
    let context = Context::open(global)?;
    let mut missing = 0;
    let mut groups = Vec::new();
    for target in &targets {
        if let Some(refresh) = target.kind.refresh {
            refresh(&context).await?;
        }
        let revision = context.store.read(|tx| tx.revision())?;
        let objects = read_objects(&context, target, args.all_namespaces, args.selector.as_ref(), &mut missing)?;
        groups.push((target.kind, objects, revision));
    }
    let named = targets.iter().any(|target| !target.names.is_empty());
    let with_namespace = args.all_namespaces;
    let qualified = groups.len() > 1;
    let mut out = String::new();
    match &printer {
        Printer::Table { wide } => {
            let tables: Vec<String> = groups
                .iter()
                .filter(|(_, objects, _)| !objects.is_empty())
                .map(|(kind, objects, _)| {
                    table(kind, objects, with_namespace && kind.info.namespaced, *wide, qualified)
                })
                .collect();
            out = tables.join("\n");
            if tables.is_empty() && !named && !args.watch {
                match targets.iter().any(|target| target.kind.info.namespaced) && !args.all_namespaces {
                    true => eprintln!("No resources found in {} namespace.", context.namespace),
                    false => eprintln!("No resources found"),
                }
            }
        }
        Printer::Columns(columns) => {
            let objects: Vec<&Value> = groups.iter().flat_map(|(_, objects, _)| objects).collect();
            if !objects.is_empty() {
                out = custom_columns(columns, &objects, false);
            }
        }
        _ => {
            let single = !args.watch && targets.len() == 1 && targets[0].names.len() == 1;
            let objects: Vec<(&Kind, &Value)> = groups
                .iter()
                .flat_map(|(kind, objects, _)| objects.iter().map(move |object| (*kind, object)))
                .collect();
            out = print_objects(&printer, &objects, single)?;
        }
    }
    print!("{out}");
    let _ = std::io::stdout().flush();
    if args.watch {
        // The first read's revision: a change made while the later kinds were read is seen again, never lost.
        let revision = groups.iter().map(|(_, _, revision)| *revision).min().unwrap_or_default();
        // Tables have a header per kind; custom columns one for all (the key "").
        let mut headers: HashSet<&str> =
            groups.iter().filter(|(_, objects, _)| !objects.is_empty()).map(|(kind, _, _)| kind.info.kind).collect();
        if !headers.is_empty() {
            headers.insert("");
        }
        let seen = groups.into_iter().flat_map(|(kind, objects, _)| objects.into_iter().map(move |o| (kind, o)));
        let watch = Watch { context: &context, targets, printer, all_namespaces: args.all_namespaces, qualified };
        watch.run(args.selector.as_ref(), seen.collect(), revision, headers).await?;
    }
    Ok(if missing > 0 { 1 } else { 0 })
}

/// Objects as `-o name`, `json`, `yaml` or `jsonpath` print them; one object
/// asked for by name is printed alone, the rest as a `List`.
fn print_objects(printer: &Printer, objects: &[(&Kind, &Value)], single: bool) -> Result<String, Failure> {
    let document = || {
        if single && objects.len() == 1 {
            objects[0].1.clone()
        } else {
            let items: Vec<Value> = objects.iter().map(|(_, object)| (*object).clone()).collect();
            serde_json::json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items})
        }
    };
    match printer {
        Printer::Name => Ok(objects
            .iter()
            .map(|(kind, object)| format!("{}/{}\n", kind.info.qualified_name(), name_of(object)))
            .collect()),
        Printer::Json => codec::to_json(&document()).map_err(|e| write_failure(e.to_string())),
        Printer::Yaml => codec::to_yaml(&document()).map_err(|e| write_failure(e.to_string())),
        Printer::JsonPath(template) => Ok(template.render(&document())),
        Printer::Table { .. } | Printer::Columns(_) => unreachable!("tables are printed by `get`"),
    }
}

fn write_failure(error: String) -> Failure {
    Failure::message(format!("cannot write the output: {error}"), "report this as a bug".into())
}

/// A table: the kind's columns (with NAMESPACE first across namespaces, and
/// when wide, the kind's wide columns and LABELS last), three spaces apart;
/// names as `kind.group/name` when several kinds are shown.
fn table(kind: &Kind, objects: &[Value], with_namespace: bool, wide: bool, qualified: bool) -> String {
    let namespace = with_namespace.then_some("NAMESPACE");
    let wide_columns = kind.wide.as_ref().filter(|_| wide).map_or(&[][..], |columns| columns.columns);
    let labels = wide.then_some("LABELS");
    let headers = namespace.into_iter().chain(kind.columns.iter().copied()).chain(wide_columns.iter().copied());
    let mut table = Table::new(3, headers.chain(labels));
    for object in objects {
        table.row(table_row(kind, object, with_namespace, wide, qualified));
    }
    table.render()
}

fn table_row(kind: &Kind, object: &Value, with_namespace: bool, wide: bool, qualified: bool) -> Vec<String> {
    let mut row = (kind.row)(object);
    if qualified && let Some(name) = row.first_mut() {
        *name = format!("{}/{name}", kind.info.qualified_name());
    }
    if with_namespace {
        row.insert(0, object["metadata"]["namespace"].as_str().unwrap_or_default().to_owned());
    }
    if wide {
        if let Some(columns) = &kind.wide {
            row.extend((columns.row)(object));
        }
        let labels: BTreeMap<String, String> =
            serde_json::from_value(object["metadata"]["labels"].clone()).unwrap_or_default();
        row.push(pairs(&labels, ","));
    }
    row
}

/// `-o custom-columns`: each column's values joined by commas, `<none>` when there is none.
fn custom_columns(columns: &[(String, jsonpath::Path)], objects: &[&Value], rows_only: bool) -> String {
    let mut table = Table::new(3, columns.iter().map(|(header, _)| header.clone()));
    for object in objects {
        table.row(
            columns
                .iter()
                .map(|(_, path)| {
                    let values: Vec<String> = path.eval(object, object).into_iter().map(jsonpath::text_of).collect();
                    if values.is_empty() { "<none>".to_owned() } else { values.join(",") }
                })
                .collect(),
        );
    }
    let text = table.render();
    if rows_only { text.split_once('\n').map(|(_, rows)| rows.to_owned()).unwrap_or_default() } else { text }
}

/// `get --watch`: the objects of the listed kinds that change, printed as
/// they change. The store's revision grows with every write (creates,
/// updates, deletes), so one cheap read tells whether to list again; an
/// object is printed once per new resourceVersion, and a deleted one once,
/// with its last state. Ends with the process (Ctrl-C).
struct Watch<'a> {
    context: &'a Context,
    targets: Vec<Target>,
    printer: Printer,
    all_namespaces: bool,
    /// Several kinds: names as `kind.group/name`, as in the listing.
    qualified: bool,
}

impl Watch<'_> {
    /// `seen`: the objects listed first; `headers`: the kinds whose table header is printed.
    async fn run(
        &self,
        selector: Option<&Selector>,
        seen: Vec<(&'static Kind, Value)>,
        mut revision: u64,
        mut headers: HashSet<&'static str>,
    ) -> Result<(), Failure> {
        let key = |kind: &Kind, object: &Value| {
            let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
            format!("{}/{namespace}/{}", kind.info.kind, name_of(object))
        };
        let mut seen: HashMap<String, (&'static Kind, Value)> =
            seen.into_iter().map(|(kind, object)| (key(kind, &object), (kind, object))).collect();
        loop {
            tokio::time::sleep(WATCH_INTERVAL).await;
            for target in &self.targets {
                if let Some(refresh) = target.kind.refresh {
                    refresh(self.context).await?;
                }
            }
            let now = self.context.store.read(|tx| tx.revision())?;
            if now == revision {
                continue;
            }
            revision = now;
            let mut changed = Vec::new();
            let mut current = HashMap::new();
            for target in &self.targets {
                let mut missing = 0;
                let objects = read_objects(self.context, target, self.all_namespaces, selector, &mut missing)?;
                for object in objects {
                    let object_key = key(target.kind, &object);
                    let version = &object["metadata"]["resourceVersion"];
                    if seen.get(&object_key).is_none_or(|(_, old)| &old["metadata"]["resourceVersion"] != version) {
                        changed.push((target.kind, object.clone()));
                    }
                    current.insert(object_key, (target.kind, object));
                }
            }
            let mut deleted: Vec<(&String, &(&'static Kind, Value))> =
                seen.iter().filter(|(k, _)| !current.contains_key(*k)).collect();
            deleted.sort_by_key(|(k, _)| *k);
            changed.extend(deleted.into_iter().map(|(_, (kind, object))| (*kind, object.clone())));
            seen = current;
            for (kind, object) in &changed {
                let header = headers.insert(match self.printer {
                    Printer::Columns(_) => "",
                    _ => kind.info.kind,
                });
                print!("{}", self.line(kind, object, header)?);
            }
            let _ = std::io::stdout().flush();
        }
    }

    /// One changed object, as the watch's format prints it (`header`: with the table's header).
    fn line(&self, kind: &Kind, object: &Value, header: bool) -> Result<String, Failure> {
        let with_namespace = self.all_namespaces && kind.info.namespaced;
        Ok(match &self.printer {
            Printer::Table { wide } => {
                let text = table(kind, std::slice::from_ref(object), with_namespace, *wide, self.qualified);
                if header { text } else { text.split_once('\n').map(|(_, row)| row.to_owned()).unwrap_or_default() }
            }
            Printer::Columns(columns) => custom_columns(columns, &[object], !header),
            Printer::Yaml => format!("---\n{}", print_objects(&self.printer, &[(kind, object)], true)?),
            other => print_objects(other, &[(kind, object)], true)?,
        })
    }
}

// ---------------------------------------------------------------------------
// describe.

/// `s2i describe KIND NAME…` or `KIND/NAME…`, `KIND -l SELECTOR` (every object of the kind when no name is given).
pub(crate) async fn describe(global: &GlobalArgs, args: DescribeArgs, kinds: &Kinds) -> Result<i32, Failure> {
    let targets = kinds.targets(&args.targets, kinds.get_all())?;
    let context = Context::open(global)?;
    let mut texts = Vec::new();
    let mut missing = 0;
    for target in &targets {
        if let Some(refresh) = target.kind.refresh {
            refresh(&context).await?;
        }
        for object in read_objects(&context, target, false, args.selector.as_ref(), &mut missing)? {
            let text = context.store.read(|tx| match target.kind.describe {
                Some(describe) => describe(tx, &object),
                None => Ok(codec::to_yaml(&object).unwrap_or_default()),
            })?;
            texts.push(text);
        }
    }
    if texts.is_empty() && missing == 0 {
        eprintln!("No resources found in {} namespace.", context.namespace);
    }
    print!("{}", texts.join("\n\n"));
    Ok(if missing > 0 { 1 } else { 0 })
}

// ---------------------------------------------------------------------------
// delete.

/// `s2i delete KIND NAME…`, `KIND/NAME…`, `KIND -l SELECTOR`, `KIND --all`,
/// `-f FILE|DIR`; `all` stands for the kinds `get all` shows, as in `oc delete all`.
pub(crate) async fn delete(global: &GlobalArgs, args: DeleteArgs, kinds: &Kinds) -> Result<i32, Failure> {
    if !args.files.is_empty() {
        return delete_files(global, &args, kinds).await;
    }
    let targets = kinds.targets(&args.targets, kinds.delete_all())?;
    // Checked before anything is deleted: a refusal half way would leave half the objects.
    let mut deletes = Vec::new();
    for target in &targets {
        let kind = target.kind;
        let delete = kind
            .delete
            .map_err(|why| Failure::message(format!("{} cannot be deleted", kind.info.plural), why.into()))?;
        deletes.push((target, delete));
    }
    let named = targets.iter().any(|target| !target.names.is_empty());
    if named && (args.selector.is_some() || args.all) {
        return Err(Failure::message(
            format!("names cannot be given with {}", if args.all { "--all" } else { "a selector" }),
            "either name the objects, or select them with -l SELECTOR or --all".into(),
        ));
    }
    if !named && args.selector.is_none() && !args.all {
        return Err(Failure::message(
            "resource(s) were provided, but no name was specified".into(),
            format!(
                "name the objects (s2i delete {} NAME…), select them with -l SELECTOR, or delete every one in \
                 namespace {:?} with --all",
                args.targets[0], global.namespace
            ),
        ));
    }
    let mut session = Session::open(global, None).await?;
    let namespace = session.context.namespace.clone();
    let mut code = 0;
    let mut selected = 0;
    for (target, delete) in deletes {
        let names = if named {
            target.names.clone()
        } else {
            // Read kind by kind as the deletes go: what an earlier delete took
            // along (a config's builds) is not deleted twice.
            let mut missing = 0;
            let objects = read_objects(&session.context, target, false, args.selector.as_ref(), &mut missing)?;
            selected += objects.len();
            objects.iter().map(|object| name_of(object).to_owned()).collect()
        };
        for name in &names {
            let one = One { kind: target.kind, delete, namespace: &namespace, name };
            code = code.max(one.delete(&mut session, args.ignore_not_found, args.dry_run.mode).await);
        }
    }
    if !named && selected == 0 {
        eprintln!("No resources found");
    }
    Ok(code)
}

/// One object `delete` names.
struct One<'a> {
    kind: &'static Kind,
    delete: super::kind::DeleteFn,
    namespace: &'a str,
    name: &'a str,
}

impl One<'_> {
    /// Deletes the object (with a dry run, only checks that it is there); a
    /// failure is reported and is exit code 1, but for a missing object with
    /// `ignore_not_found` (`--ignore-not-found`), which is passed over.
    async fn delete(&self, session: &mut Session, ignore_not_found: bool, dry_run: DryRun) -> i32 {
        session.context.namespace = self.namespace.to_owned();
        let deleted = match dry_run.label() {
            None => (self.delete)(session, self.name).await,
            Some(label) => {
                let namespace = namespace_of(self.kind, &session.context);
                let found = session.context.store.read(|tx| (self.kind.get)(tx, namespace, self.name));
                found
                    .map_err(Failure::from)
                    .map(|_| format!("{} \"{}\" deleted {label}", self.kind.info.qualified_name(), self.name))
            }
        };
        report_deleted(deleted, ignore_not_found)
    }
}

/// Prints what a delete did; see [`One::delete`].
fn report_deleted(deleted: Result<String, Failure>, ignore_not_found: bool) -> i32 {
    match deleted {
        Ok(message) => {
            println!("{message}");
            0
        }
        Err(failure) if ignore_not_found && failure.is_not_found() => 0,
        Err(failure) => {
            eprintln!("{:?}", failure.report);
            1
        }
    }
}

/// `s2i delete -f`: the objects the documents name, each in its namespace.
async fn delete_files(global: &GlobalArgs, args: &DeleteArgs, kinds: &Kinds) -> Result<i32, Failure> {
    s2i_store::validate_namespace(&global.namespace)?;
    let mut documents = Vec::new();
    for path in input_files(&args.files, args.recursive)? {
        let (file, text) = read_input(&path)?;
        let parsed = parse_documents_with(&file, &text, &global.namespace, kinds, FieldValidation::Ignore)?;
        check_namespaces(&file, &parsed, global)?;
        documents.extend(parsed);
    }
    if documents.is_empty() {
        return Err(Failure::message("no objects to delete".into(), "the files hold no documents".into()));
    }
    let mut session = Session::open(global, None).await?;
    let mut code = 0;
    // Last first, as files list what an object needs before it (a service's
    // Endpoints after the service, which takes them along when it goes).
    for document in documents.iter().rev() {
        let kind = document.kind;
        let delete = kind
            .delete
            .map_err(|why| Failure::message(format!("{} cannot be deleted", kind.info.plural), why.into()))?;
        let namespace = document.value["metadata"]["namespace"].as_str().unwrap_or(&global.namespace).to_owned();
        let one = One { kind, delete, namespace: &namespace, name: name_of(&document.value) };
        code = code.max(one.delete(&mut session, args.ignore_not_found, args.dry_run.mode).await);
    }
    Ok(code)
}

// ---------------------------------------------------------------------------
// export.

/// `s2i export KIND [NAME…]`, `KIND/NAME…`, `all`: apply-ready YAML (or a JSON List).
pub(crate) async fn export(global: &GlobalArgs, args: ExportArgs, kinds: &Kinds) -> Result<i32, Failure> {
    let targets = kinds.targets(&args.targets, kinds.export_all())?;
    for target in &targets {
        if target.kind.apply.is_none() {
            return Err(Failure::message(
                format!("{} cannot be exported", target.kind.info.plural),
                "s2i records them itself and no apply takes them; export their image streams instead".into(),
            ));
        }
    }
    let context = Context::open(global)?;
    let mut missing = 0;
    let mut objects = Vec::new();
    for target in &targets {
        for object in read_objects(&context, target, false, args.selector.as_ref(), &mut missing)? {
            let object = match target.kind.export {
                Some(export) => {
                    let (object, warnings) = export(&object)?;
                    for warning in warnings {
                        eprintln!("warning: {}/{}: {warning}", target.kind.info.qualified_name(), name_of(&object));
                    }
                    object
                }
                None => object,
            };
            objects.push(s2i_store::export::apply_ready(&object));
        }
    }
    let single = targets.len() == 1 && targets[0].names.len() == 1 && objects.len() == 1;
    let text = if args.output == "json" && single {
        codec::to_json(&objects[0]).map_err(|e| write_failure(e.to_string()))?
    } else if args.output == "json" {
        let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": objects});
        codec::to_json(&list).map_err(|e| write_failure(e.to_string()))?
    } else {
        let documents = objects
            .iter()
            .map(codec::to_yaml)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| write_failure(e.to_string()))?;
        documents.join("---\n")
    };
    if objects.is_empty() && missing == 0 {
        eprintln!("No resources found in {} namespace.", context.namespace);
    }
    print!("{text}");
    Ok(if missing > 0 { 1 } else { 0 })
}

// ---------------------------------------------------------------------------
// apply.

/// The files `-f` names: files as given, a directory's `*.yaml`, `*.yml` and
/// `*.json` in name order (its sub-directories' too with `recursive`).
pub(crate) fn input_files(paths: &[PathBuf], recursive: bool) -> Result<Vec<PathBuf>, Failure> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            directory_files(path, recursive, &mut files)?;
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn directory_files(dir: &Path, recursive: bool, files: &mut Vec<PathBuf>) -> Result<(), Failure> {
    let unreadable = |e: std::io::Error| {
        Failure::message(format!("cannot read the directory {}: {e}", dir.display()), "check its permissions".into())
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(unreadable)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(unreadable)?;
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            if recursive {
                directory_files(&entry, recursive, files)?;
            }
        } else if entry.extension().is_some_and(|extension| ["yaml", "yml", "json"].iter().any(|e| extension == *e)) {
            files.push(entry);
        }
    }
    Ok(())
}

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
    let mut parsed = Vec::new();
    // Syntax first, for every document; then each document typed by its kind,
    // so that errors point into the file.
    for document in codec::read_documents(file, text)? {
        let kind = apply_kind(file, &document, kinds)?;
        let ops = kind.apply.as_ref().expect("apply_kind returns appliable kinds");
        let document = document.with_validation(validation);
        let unknown = document.unknown_fields();
        let name = document.value["metadata"]["name"].as_str().unwrap_or_default().to_owned();
        // The page that describes the kind's fields.
        let page = match kind.info.kind {
            "Secret" | "ConfigMap" => "docs/secrets.md",
            "BuildConfig" | "Build" => "docs/builds.md (\"The same files on OpenShift\")",
            "Service" | "Endpoints" => "docs/routes.md (\"Services and Endpoints\")",
            "Route" => "docs/routes.md (\"Objects in files\")",
            "ImageStream" | "ImageStreamTag" => "docs/imagestreams.md (\"Object reference\")",
            _ => "docs/laptop-and-cluster.md",
        };
        let schema_help = format!("fix the document; {page} describes the fields of kind {}", kind.info.kind);
        let value = (ops.parse)(document, namespace).map_err(|e| match e {
            DocumentError::Yaml(e) if e.message().starts_with("unknown field") => Failure::from(e.with_help(
                "fix or remove the field; apply --validate=warn drops unknown fields with a warning, \
                 --validate=ignore without one",
            )),
            DocumentError::Yaml(e) if e.is_located() => Failure::from(e.with_help(schema_help)),
            DocumentError::Yaml(e) => Failure::message(e.to_string(), schema_help),
            DocumentError::Invalid(e) => Failure::from(e),
        })?;
        for path in unknown.take() {
            eprintln!("warning: {file}: {}/{name}: unknown field \"{path}\" (dropped)", kind.info.qualified_name());
        }
        parsed.push(Parsed { kind, value });
    }
    Ok(parsed)
}

/// Refuses the objects of `file` that name a namespace other than the one
/// `--namespace` asks for, as kubectl does: writing them elsewhere than
/// asked, or where the file says, would each surprise someone.
fn check_namespaces(file: &str, parsed: &[Parsed], global: &GlobalArgs) -> Result<(), Failure> {
    for Parsed { kind, value } in parsed.iter().filter(|parsed| parsed.kind.info.namespaced) {
        let named = value["metadata"]["namespace"].as_str().unwrap_or_default();
        let checked = s2i_store::input_namespace(
            kind.info.kind,
            name_of(value),
            named,
            &global.namespace,
            global.namespace_given,
        );
        if let Err(error) = checked {
            return Err(Failure::message(
                format!("{file}: {error}"),
                format!(
                    "You must pass '--namespace={named}' to perform this operation (or leave out --namespace), or \
                     remove metadata.namespace from the file to work in {:?}",
                    global.namespace
                ),
            ));
        }
    }
    Ok(())
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

/// Runs `write` in a transaction that is rolled back: everything a real
/// write checks (against the stored objects too) is checked, nothing is
/// written. What `--dry-run` does.
pub(crate) fn dry_run_write<T>(
    context: &Context,
    mut write: impl FnMut(&s2i_store::Tx<'_>) -> LibResult<T>,
) -> Result<T, Failure> {
    let rolled_back: Result<std::convert::Infallible, Unwritten<T>> = context.store.write(|tx| match write(tx) {
        Ok(written) => Err(Unwritten::Checked(written)),
        Err(error) => Err(Unwritten::Failed(error)),
    });
    match rolled_back {
        Ok(never) => match never {},
        Err(Unwritten::Checked(written)) => Ok(written),
        Err(Unwritten::Failed(error)) => Err(error.into()),
    }
}

/// Why a dry run's transaction ended without a commit.
enum Unwritten<T> {
    /// A write was refused.
    Failed(LibError),
    /// Everything was written, and is rolled back.
    Checked(T),
}

impl<T> From<s2i_store::Error> for Unwritten<T> {
    fn from(error: s2i_store::Error) -> Self {
        Self::Failed(error.into())
    }
}

/// Creates one object with `create`, in a transaction of its own, and
/// prints it as `kubectl create` does: with `-o`, the object; else
/// `kind/name created`. `given` is the object as the command line made it,
/// checked by the kind's own rules: a client dry run prints it and opens no
/// store (as kubectl's, it is not compared with what is stored, so that
/// `create … --dry-run=client -o yaml | s2i apply -f -` updates an object);
/// a server dry run checks it against the stored objects, then rolls back.
pub(crate) fn create_one(
    global: &GlobalArgs,
    kind: &Kind,
    given: Value,
    print: &CreatedOutputArgs,
    create: impl FnMut(&s2i_store::Tx<'_>) -> LibResult<Value>,
) -> Result<i32, Failure> {
    let dry_run = print.dry_run.mode;
    let created = match dry_run {
        DryRun::None => Context::open(global)?.store.write(create)?,
        DryRun::Client => given,
        DryRun::Server => dry_run_write(&Context::open(global)?, create)?,
    };
    match &print.output {
        None => {
            let line = format!("{}/{} created", kind.info.qualified_name(), name_of(&created));
            match dry_run.label() {
                Some(label) => println!("{line} {label}"),
                None => println!("{line}"),
            }
        }
        Some(format) => print!("{}", print_objects(&Printer::new(Some(format))?, &[(kind, &created)], true)?),
    }
    Ok(0)
}

/// `s2i apply -f FILE|DIR…`.
pub(crate) async fn apply(global: &GlobalArgs, args: ApplyArgs, kinds: &Kinds) -> Result<i32, Failure> {
    s2i_store::validate_namespace(&global.namespace)?;
    let mut documents = Vec::new();
    for path in input_files(&args.files, args.recursive)? {
        let (file, text) = read_input(&path)?;
        let parsed = parse_documents_with(&file, &text, &global.namespace, kinds, args.validate)?;
        check_namespaces(&file, &parsed, global)?;
        documents.extend(parsed);
    }
    if documents.is_empty() {
        return Err(Failure::message("no objects to apply".into(), "the files hold no documents".into()));
    }
    let write = |tx: &s2i_store::Tx<'_>| -> LibResult<Vec<(&'static Kind, Applied)>> {
        let before = tx.last_seq()?;
        let applied = documents
            .iter()
            .map(|document| {
                let ops = document.kind.apply.as_ref().expect("only appliable kinds are parsed");
                (ops.write)(tx, document.value.clone()).map(|applied| (document.kind, applied))
            })
            .collect::<LibResult<Vec<_>>>()?;
        if global.no_triggers {
            s2i_imagestream::suppression::suppress_since(tx, before).map_err(LibError::from)?;
        }
        Ok(applied)
    };
    if let Some(label) = args.dry_run.mode.label() {
        let context = Context::open(global)?;
        for (_, applied) in dry_run_write(&context, write)? {
            println!("{applied} {label}");
        }
        return Ok(0);
    }
    let session = Session::open(global, None).await?;
    let applied: Vec<(&'static Kind, Applied)> = session.context.store.write(write)?;
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
