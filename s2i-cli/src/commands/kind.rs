//! What a kind of object brings to the object verbs (`get`, `describe`,
//! `delete`, `apply`): a [`Kind`] entry. Each kind module makes its entries
//! from its library's calls; `objects` runs the verbs over them; the
//! composition point (`commands`) lists them. This module depends on no
//! kind, and no kind on another.

use std::future::Future;
use std::pin::Pin;

use s2i_store::codec::{self, Document};
use s2i_store::{Applied, KindInfo, KindRegistry, Tx};
use serde_json::Value;

use super::session::{Context, Session};
use crate::failure::Failure;

/// An object as the JSON the verbs handle.
pub(crate) fn to_value<T: serde::Serialize>(object: &T) -> Value {
    serde_json::to_value(object).expect("objects are plain data")
}

/// A stored object's JSON as its type; the verbs only hand in what `get`/`list` made.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(value: &Value) -> LibResult<T> {
    serde_json::from_value(value.clone()).map_err(|e| {
        LibError::Store(s2i_store::Error::InvalidObject {
            kind: value["kind"].as_str().unwrap_or_default().to_owned(),
            name: value["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
            message: e.to_string(),
            help: "this is a bug in s2i; please report it".into(),
        })
    })
}

/// A future a kind's hook returns.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// An error of the library calls a kind makes.
#[derive(Debug)]
pub(crate) enum LibError {
    /// The store.
    Store(s2i_store::Error),
    /// Image streams.
    Streams(s2i_imagestream::Error),
    /// Build configs and builds.
    Builds(s2i_buildconfig::Error),
    /// Routes, services and Endpoints objects.
    Routes(s2i_route::Error),
}

impl From<s2i_store::Error> for LibError {
    fn from(error: s2i_store::Error) -> Self {
        Self::Store(error)
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

impl From<s2i_route::Error> for LibError {
    fn from(error: s2i_route::Error) -> Self {
        Self::Routes(error)
    }
}

impl From<LibError> for Failure {
    fn from(error: LibError) -> Self {
        match error {
            LibError::Store(error) => error.into(),
            LibError::Streams(error) => error.into(),
            LibError::Builds(error) => error.into(),
            LibError::Routes(error) => error.into(),
        }
    }
}

/// Result of the library calls a kind makes.
pub(crate) type LibResult<T> = Result<T, LibError>;
/// Reads one object by namespace and name; not found is an error that names it.
pub(crate) type GetFn = fn(&Tx<'_>, &str, &str) -> LibResult<Value>;
/// Lists the objects of a namespace (all when `None`).
pub(crate) type ListFn = fn(&Tx<'_>, Option<&str>) -> LibResult<Vec<Value>>;
/// A description for people of one object, which may read others.
pub(crate) type DescribeFn = fn(&Tx<'_>, &Value) -> LibResult<String>;
/// Deletes one object, by name, in the session's namespace; returns the message to print.
pub(crate) type DeleteFn = for<'a> fn(&'a Session, &'a str) -> BoxFuture<'a, Result<String, Failure>>;
/// Follow-up work after an apply's transaction; returns problems to report.
pub(crate) type AfterApplyFn = for<'a> fn(&'a Session, &'a [Applied]) -> BoxFuture<'a, Result<Vec<String>, Failure>>;
/// Brings the kind's objects up to date before they are read.
pub(crate) type RefreshFn = for<'a> fn(&'a Context) -> BoxFuture<'a, Result<(), Failure>>;

/// A kind's own rule of what an export leaves out; returns the object and
/// warnings about what does not carry over.
pub(crate) type ExportFn = fn(&Value) -> LibResult<(Value, Vec<String>)>;

/// One kind of object the verbs know.
pub(crate) struct Kind {
    /// Its names, group and version (the library's).
    pub(crate) info: KindInfo,
    /// Table columns; the first is NAME.
    pub(crate) columns: &'static [&'static str],
    /// Read one object; not found is an error that names it.
    pub(crate) get: GetFn,
    /// List the objects of a namespace (all when `None`); `None` when the kind can only be read by name.
    pub(crate) list: Option<ListFn>,
    /// One table row, matching `columns`.
    pub(crate) row: fn(&Value) -> Vec<String>,
    /// The columns `-o wide` adds, as OpenShift's and Kubernetes' printers
    /// have them for the kind; `None` when they add none.
    pub(crate) wide: Option<WideColumns>,
    /// A description for people; YAML when `None`.
    pub(crate) describe: Option<DescribeFn>,
    /// How `apply` creates and updates it; `None` for kinds s2i records itself.
    pub(crate) apply: Option<ApplyOps>,
    /// How `delete` removes one object, or why the kind's objects cannot be deleted.
    pub(crate) delete: Result<DeleteFn, &'static str>,
    /// What `get` and `describe` do before they read (builds whose process is gone are marked).
    pub(crate) refresh: Option<RefreshFn>,
    /// The kind's own export rule, after `s2i_store::export`'s (a service's allocated addresses).
    pub(crate) export: Option<ExportFn>,
}

/// The columns `-o wide` adds after a kind's own.
pub(crate) struct WideColumns {
    /// Their headers.
    pub(crate) columns: &'static [&'static str],
    /// Their cells for one object, matching `columns`.
    pub(crate) row: fn(&Value) -> Vec<String>,
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

/// Why a document was refused, located when the YAML parser knows where.
#[derive(Debug)]
pub(crate) enum DocumentError {
    /// A YAML or typing error, with its position in the file.
    Yaml(codec::DocumentError),
    /// A rule of the kind, with what to do.
    Invalid(LibError),
}

impl DocumentError {
    /// A rule of the kind refused the document.
    pub(crate) fn invalid(error: impl Into<LibError>) -> Self {
        Self::Invalid(error.into())
    }
}

/// Reads one document as the kind `T`, in `namespace` when it names none (the `parse` of most kinds).
pub(crate) fn parse_in_namespace<T: s2i_store::Resource>(
    document: Document<'_>,
    namespace: &str,
) -> Result<T, DocumentError> {
    document.decode_in(namespace).map_err(DocumentError::Yaml)
}

/// The kinds the verbs know, and the registry that resolves their names.
pub(crate) struct Kinds {
    list: &'static [&'static Kind],
    registry: KindRegistry,
    get_all: &'static [&'static str],
    delete_all: &'static [&'static str],
    export_all: &'static [&'static str],
}

/// One kind a verb's arguments name, with the names given (none: every object of the kind).
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The kind.
    pub(crate) kind: &'static Kind,
    /// The names, in the order given.
    pub(crate) names: Vec<String>,
}

impl std::fmt::Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.info.kind)
    }
}

impl Kinds {
    /// The kinds of `list`, in the order `s2i get --help` lists them; `get
    /// all`, `delete all` and `export all` mean the kinds named in `get_all`,
    /// `delete_all` (in the order they are deleted) and `export_all`.
    pub(crate) fn new(
        list: &'static [&'static Kind],
        get_all: &'static [&'static str],
        delete_all: &'static [&'static str],
        export_all: &'static [&'static str],
    ) -> Self {
        let registry = KindRegistry::of(list.iter().map(|kind| kind.info)).expect("each kind is listed once");
        Self { list, registry, get_all, delete_all, export_all }
    }

    /// What `get all` shows.
    pub(crate) fn get_all(&self) -> &'static [&'static str] {
        self.get_all
    }

    /// What `delete all` deletes, in order.
    pub(crate) fn delete_all(&self) -> &'static [&'static str] {
        self.delete_all
    }

    /// What `export all` prints.
    pub(crate) fn export_all(&self) -> &'static [&'static str] {
        self.export_all
    }

    /// The kinds and names of a verb's arguments, as kubectl reads them:
    /// `KIND[,KIND…] [NAME…]` (`all` stands for the kinds of `all`), or
    /// `KIND/NAME…`, grouped by kind in the order given.
    pub(crate) fn targets(&self, args: &[String], all: &[&str]) -> Result<Vec<Target>, Failure> {
        let mut targets: Vec<Target> = Vec::new();
        let Some(first) = args.first() else {
            return Err(Failure::message("no kind given".into(), "name a kind, e.g. s2i get imagestreams".into()));
        };
        if first.contains('/') {
            for arg in args {
                let Some((kind, name)) =
                    arg.split_once('/').filter(|(kind, name)| !kind.is_empty() && !name.is_empty())
                else {
                    return Err(Failure::message(
                        format!("{arg:?} is not of the form KIND/NAME"),
                        "write every object as KIND/NAME (e.g. is/app svc/web), or give KIND then its names".into(),
                    ));
                };
                let kind = self.find(kind)?;
                match targets.iter_mut().find(|target| std::ptr::eq(target.kind, kind)) {
                    Some(target) => target.names.push(name.to_owned()),
                    None => targets.push(Target { kind, names: vec![name.to_owned()] }),
                }
            }
            return Ok(targets);
        }
        let names: Vec<String> = args[1..].to_vec();
        if let Some(name) = names.iter().find(|name| name.contains('/')) {
            return Err(Failure::message(
                format!("{name:?} is in KIND/NAME form after the kind {first:?}"),
                "give either KIND NAME… or KIND/NAME…, not both".into(),
            ));
        }
        for word in first.split(',') {
            let expanded: Vec<&str> = if word == "all" {
                if all.is_empty() {
                    return Err(Failure::message(
                        "`all` is not taken here".into(),
                        "name the kinds, e.g. is,bc,svc".into(),
                    ));
                }
                all.to_vec()
            } else {
                vec![word]
            };
            for name in expanded {
                let kind = self.find(name)?;
                if !targets.iter().any(|target| std::ptr::eq(target.kind, kind)) {
                    targets.push(Target { kind, names: names.clone() });
                }
            }
        }
        Ok(targets)
    }

    /// Every kind.
    pub(crate) fn all(&self) -> &'static [&'static Kind] {
        self.list
    }

    /// The entry of a kind of the registry.
    fn entry(&self, info: &KindInfo) -> &'static Kind {
        self.list.iter().copied().find(|kind| kind.info == *info).expect("the registry holds the listed kinds")
    }

    /// A kind by any of its names (`ImageStream`, `imagestream`, `imagestreams`, `is`,
    /// `imagestreams.image.openshift.io`).
    pub(crate) fn find(&self, name: &str) -> Result<&'static Kind, Failure> {
        Ok(self.entry(self.registry.resolve(name)?))
    }

    /// The kind a document's `kind` names, if any.
    pub(crate) fn of_document(&self, kind: &str) -> Option<&'static Kind> {
        self.registry.by_type(None, kind).map(|info| self.entry(info))
    }
}
