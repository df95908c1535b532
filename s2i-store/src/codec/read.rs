//! Reading objects from YAML (or JSON, which is YAML) text: split into
//! documents (a `kind: List` document into its items), each typed by the
//! caller as its kind, with errors that point into the text.

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceSpan};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::fields::{self, FieldValidation, Tracker, UnknownFields};
use crate::resource::Resource;

/// What the help of a document error says unless the caller says more.
const SCHEMA_HELP: &str = "fix the document: it does not match the fields of its kind";

/// A document that cannot be read, pointing into its file when the parser
/// knows where (diagnostic code `s2i::apply::invalid_document`).
#[derive(Debug)]
pub struct DocumentError(Box<Located>);

#[derive(Debug)]
struct Located {
    file: String,
    message: String,
    help: String,
    source_code: Option<NamedSource<String>>,
    at: Option<SourceSpan>,
    location: Option<(usize, usize)>,
}

impl std::fmt::Display for DocumentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.0.file, self.0.message)
    }
}

impl std::error::Error for DocumentError {}

impl Diagnostic for DocumentError {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new("s2i::apply::invalid_document"))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(&self.0.help))
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.0.source_code.as_ref().map(|source| source as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let at = self.0.at?;
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(Some("here".into()), at))))
    }
}

impl DocumentError {
    /// The same error with another help line (what the caller's users should do).
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.0.help = help.into();
        self
    }

    /// The file name given to the reader.
    pub fn file(&self) -> &str {
        &self.0.file
    }

    /// What is wrong (with `at line L column C` when the parser knows where).
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// Whether the error points into the text (a document of the text, not
    /// an item of a list), so that a report can show the place.
    pub fn is_located(&self) -> bool {
        self.0.source_code.is_some()
    }

    /// Line and column (from 1) of the problem, when known.
    pub fn location(&self) -> Option<(usize, usize)> {
        self.0.location
    }

    /// An error of `text` as serde_norway reports it, located in the text.
    fn located(file: &str, text: &str, error: &serde_norway::Error, help: &str) -> Self {
        let (offset, line, column) = error.location().map_or((0, 0, 0), |l| (l.index(), l.line(), l.column()));
        let message = error.to_string();
        let message = if line > 0 && !message.contains("line") {
            format!("{message} at line {line} column {column}")
        } else {
            message
        };
        let offset = offset.min(text.len());
        let length = usize::from(offset < text.len());
        Self(Box::new(Located {
            file: file.to_owned(),
            message,
            help: help.to_owned(),
            source_code: Some(NamedSource::new(file, text.to_owned())),
            at: Some(SourceSpan::from((offset, length))),
            location: (line > 0).then_some((line, column)),
        }))
    }

    /// A field the kind does not have, at `path`: located at its key when
    /// the key is found after the place the parser reported (the start of
    /// the mapping that holds it).
    fn unknown_field(file: &str, text: &str, error: &serde_norway::Error, path: &str) -> Self {
        let from = error.location().map_or(0, |l| l.index()).min(text.len());
        let offset = fields::find_key(text, from, path).unwrap_or(from);
        let line = text[..offset].matches('\n').count() + 1;
        let column = offset - text[..offset].rfind('\n').map_or(0, |n| n + 1) + 1;
        let message = format!("{} at line {line} column {column}", fields::unknown_field_message(path));
        Self(Box::new(Located {
            file: file.to_owned(),
            message,
            help: format!(
                "fix or remove the field: {path} is not a field of this kind (or apply with field validation \
                 `warn` or `ignore` to drop unknown fields)"
            ),
            source_code: Some(NamedSource::new(file, text.to_owned())),
            at: Some(SourceSpan::from((offset, usize::from(offset < text.len())))),
            location: Some((line, column)),
        }))
    }
}

/// One document of a text, not typed yet.
pub struct Document<'t> {
    /// Its `kind` (empty when it has none).
    pub kind: String,
    /// Its `apiVersion` (empty when it has none).
    pub api_version: String,
    /// The whole document, untyped.
    pub value: Value,
    file: &'t str,
    origin: Origin<'t>,
    validation: FieldValidation,
    unknown: UnknownFields,
    server_owned: &'static [&'static str],
}

enum Origin<'t> {
    /// A document of the text: typed through the parser, so errors have positions.
    Text { text: &'t str, deserializer: serde_norway::Deserializer<'t> },
    /// Item `index` of a `kind: List` document.
    ListItem { index: usize },
}

impl std::fmt::Debug for Document<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let item = match self.origin {
            Origin::Text { .. } => None,
            Origin::ListItem { index } => Some(index),
        };
        f.debug_struct("Document")
            .field("file", &self.file)
            .field("kind", &self.kind)
            .field("api_version", &self.api_version)
            .field("list_item", &item)
            .field("validation", &self.validation)
            .finish_non_exhaustive()
    }
}

impl Document<'_> {
    /// The same document, typed with `validation` for fields its kind does
    /// not have (by default [`FieldValidation::Strict`]).
    pub fn with_validation(mut self, validation: FieldValidation) -> Self {
        self.validation = validation;
        self
    }

    /// The same document, with more paths that the kind's server owns and
    /// reads no input for (an `ImageStreamTag`'s `image`, which a server
    /// computes): skipped unread like `status`.
    pub fn with_server_owned(mut self, paths: &'static [&'static str]) -> Self {
        self.server_owned = paths;
        self
    }

    /// The fields [`Self::decode`] finds that the kind does not have, with
    /// [`FieldValidation::Warn`]: a handle to keep while the document is
    /// decoded elsewhere.
    pub fn unknown_fields(&self) -> UnknownFields {
        self.unknown.clone()
    }

    /// The document as its type `T`, input as an API server reads it: what
    /// a server owns (`status`, `metadata.managedFields`, …) is skipped,
    /// and fields `T` does not have are treated as the document's
    /// [`FieldValidation`] says (strict: the first is an error, named by its
    /// path, `unknown field "spec.foo"`). An error names the field; for a
    /// document of the text it points at the position in the file, for an
    /// item of a list it names the item (`items[2]: …`).
    pub fn decode<T: DeserializeOwned>(self) -> Result<T, DocumentError> {
        let tracker = Tracker::new(self.validation, self.unknown.clone(), self.server_owned);
        match self.origin {
            Origin::Text { text, deserializer } => {
                fields::deserialize(deserializer, &tracker).map_err(|e| match tracker.refused() {
                    Some(path) => DocumentError::unknown_field(self.file, text, &e, &path),
                    None => DocumentError::located(self.file, text, &e, SCHEMA_HELP),
                })
            }
            Origin::ListItem { index } => {
                let item = serde_json::to_string(&self.value).unwrap_or_default();
                fields::deserialize(serde_norway::Deserializer::from_str(&item), &tracker).map_err(|e| {
                    let message = match tracker.refused() {
                        Some(path) => fields::unknown_field_message(&path),
                        None => e.to_string(),
                    };
                    DocumentError(Box::new(Located {
                        file: self.file.to_owned(),
                        message: format!("items[{index}]: {message}"),
                        help: SCHEMA_HELP.into(),
                        source_code: None,
                        at: None,
                        location: None,
                    }))
                })
            }
        }
    }

    /// The document as the kind `T` (see [`Document::decode`]); an object of
    /// a namespaced kind that names no namespace is put in `namespace`, as
    /// `kubectl apply --namespace` does.
    pub fn decode_in<T: Resource>(self, namespace: &str) -> Result<T, DocumentError> {
        let mut object: T = self.decode()?;
        let meta = object.metadata_mut();
        if T::INFO.namespaced && meta.namespace.is_empty() {
            meta.namespace = namespace.to_owned();
        }
        Ok(object)
    }
}

/// `kind` and `apiVersion` of a document; empty when missing or not strings.
struct Head {
    kind: String,
    api_version: String,
}

fn head(value: &Value) -> Head {
    let field = |name: &str| value[name].as_str().unwrap_or_default().to_owned();
    Head { kind: field("kind"), api_version: field("apiVersion") }
}

/// The documents of `text` (separated by `---`; empty ones skipped; a
/// `kind: List` document gives its `items`), named `file` in errors. A
/// syntax error anywhere is reported before any document is returned.
pub fn read_documents<'t>(file: &'t str, text: &'t str) -> Result<Vec<Document<'t>>, DocumentError> {
    let mut heads = Vec::new();
    for document in serde_norway::Deserializer::from_str(text) {
        let value =
            Value::deserialize(document).map_err(|e| DocumentError::located(file, text, &e, "fix the YAML syntax"))?;
        heads.push((!value.is_null()).then_some(value));
    }
    let mut documents = Vec::new();
    for (deserializer, value) in serde_norway::Deserializer::from_str(text).zip(heads) {
        let Some(value) = value else { continue };
        let Head { kind, api_version } = head(&value);
        if kind == "List" {
            let items = value["items"].as_array().cloned().unwrap_or_default();
            for (index, item) in items.into_iter().enumerate() {
                let Head { kind, api_version } = head(&item);
                documents.push(Document {
                    kind,
                    api_version,
                    value: item,
                    file,
                    origin: Origin::ListItem { index },
                    validation: FieldValidation::default(),
                    unknown: UnknownFields::default(),
                    server_owned: &[],
                });
            }
            continue;
        }
        documents.push(Document {
            kind,
            api_version,
            value,
            file,
            origin: Origin::Text { text, deserializer },
            validation: FieldValidation::default(),
            unknown: UnknownFields::default(),
            server_owned: &[],
        });
    }
    Ok(documents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Thing {
        kind: String,
        size: u32,
    }

    #[test]
    fn documents_lists_and_empty_documents() {
        let text = "kind: Thing\nsize: 1\n---\n---\nkind: List\nitems:\n- {kind: Thing, size: 2}\n- {kind: Other}\n";
        let documents = read_documents("things.yaml", text).unwrap();
        let kinds: Vec<&str> = documents.iter().map(|d| d.kind.as_str()).collect();
        assert_eq!(kinds, ["Thing", "Thing", "Other"]);
        let things: Vec<Thing> = documents.into_iter().take(2).map(|d| d.decode().unwrap()).collect();
        assert_eq!(things[1], Thing { kind: "Thing".into(), size: 2 });
    }

    #[test]
    fn objects_without_namespace_are_put_in_the_callers() {
        #[derive(Debug, serde::Serialize, Deserialize)]
        struct Widget {
            kind: String,
            metadata: crate::ObjectMeta,
        }
        impl Resource for Widget {
            const INFO: crate::KindInfo = crate::KindInfo {
                group: "example.com",
                version: "v1",
                kind: "Widget",
                plural: "widgets",
                short_names: &[],
                namespaced: true,
            };
            fn metadata(&self) -> &crate::ObjectMeta {
                &self.metadata
            }
            fn metadata_mut(&mut self) -> &mut crate::ObjectMeta {
                &mut self.metadata
            }
        }
        let text = "kind: Widget\nmetadata: {name: a}\n---\nkind: Widget\nmetadata: {name: b, namespace: mine}\n";
        let widgets: Vec<Widget> =
            read_documents("w.yaml", text).unwrap().into_iter().map(|d| d.decode_in("dev").unwrap()).collect();
        assert_eq!(widgets[0].metadata.namespace, "dev");
        assert_eq!(widgets[1].metadata.namespace, "mine");
    }

    #[test]
    fn errors_point_into_the_text() {
        let text = "kind: Thing\nsize: 1\n---\nkind: Thing\nsize: many\n";
        let error = read_documents("t.yaml", text).unwrap().pop().unwrap().decode::<Thing>().unwrap_err();
        assert_eq!(error.location(), Some((5, 7)), "{error}");
        assert!(error.to_string().starts_with("t.yaml: size: invalid type"), "{error}");
        let error = read_documents("t.yaml", "kind: [").unwrap_err();
        assert!(error.location().is_some() && error.help().unwrap().to_string() == "fix the YAML syntax");
        let text = "kind: List\nitems:\n- {kind: Thing, size: 1, color: red}\n";
        let error = read_documents("l.yaml", text).unwrap().pop().unwrap().decode::<Thing>().unwrap_err();
        assert!(error.to_string().starts_with("l.yaml: items[0]: unknown field `color`"), "{error}");
        assert_eq!(error.location(), None);
        assert_eq!(error.with_help("see the docs").help().unwrap().to_string(), "see the docs");
    }

    /// A kind as kinds are written: unknown fields are not denied by the type.
    #[derive(Debug, Deserialize, PartialEq, Default)]
    struct Widget {
        kind: String,
        #[serde(default)]
        metadata: crate::ObjectMeta,
        #[serde(default)]
        spec: WidgetSpec,
        #[serde(default)]
        status: Option<u32>,
    }

    #[derive(Debug, Deserialize, PartialEq, Default)]
    struct WidgetSpec {
        #[serde(default)]
        size: u32,
        #[serde(default)]
        parts: Vec<Part>,
        #[serde(default)]
        extra: Option<serde_json::Value>,
    }

    #[derive(Debug, Deserialize, PartialEq, Default)]
    struct Part {
        #[serde(default)]
        name: String,
    }

    const WIDGET: &str = "kind: Widget
metadata:
  name: w
  managedFields: [{manager: kubectl}]
  selfLink: /apis/x
spec:
  size: 2
  parts:
  - name: a
    colour: red
  extra: {anything: [goes]}
  fooo: 1
status:
  anything: {at: all}
";

    #[test]
    fn unknown_fields_are_named_by_path_and_treated_as_asked() {
        let decode = |validation| {
            let document = read_documents("w.yaml", WIDGET).unwrap().pop().unwrap().with_validation(validation);
            let found = document.unknown_fields();
            document.decode::<Widget>().map(|widget| (widget, found.take()))
        };
        let error = decode(FieldValidation::Strict).unwrap_err();
        assert_eq!(error.message(), "unknown field \"spec.parts[0].colour\" at line 10 column 5");
        assert_eq!(error.location(), Some((10, 5)));
        let (widget, found) = decode(FieldValidation::Warn).unwrap();
        assert_eq!(found, ["spec.parts[0].colour", "spec.fooo"]);
        assert_eq!(widget.spec.size, 2);
        assert_eq!(widget.spec.extra, Some(serde_json::json!({"anything": ["goes"]})), "kept values are whole");
        assert_eq!(widget.status, None, "what the server owns is skipped, whatever it holds");
        assert_eq!(widget.metadata.name, "w");
        let (_, found) = decode(FieldValidation::Ignore).unwrap();
        assert!(found.is_empty());
        // A kind's own server-owned parts are skipped too.
        let document = read_documents("w.yaml", WIDGET).unwrap().pop().unwrap().with_server_owned(&["spec.parts"]);
        let found = document.unknown_fields();
        let widget = document.with_validation(FieldValidation::Warn).decode::<Widget>().unwrap();
        assert!(widget.spec.parts.is_empty());
        assert_eq!(found.take(), ["spec.fooo"]);

        let list = format!(
            "kind: List\nitems:\n- {}\n",
            serde_json::to_string(&serde_norway::from_str::<Value>(WIDGET).unwrap()).unwrap()
        );
        let error = read_documents("l.yaml", &list).unwrap().pop().unwrap().decode::<Widget>().unwrap_err();
        assert_eq!(error.message(), "items[0]: unknown field \"spec.parts[0].colour\"");
    }
}
