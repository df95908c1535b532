//! Reading objects from YAML (or JSON, which is YAML) text: split into
//! documents (a `kind: List` document into its items), each typed by the
//! caller as its kind, with errors that point into the text (but show no
//! value of a Secret).

use std::ops::Range;

use miette::{
    Diagnostic, LabeledSpan, MietteError, MietteSpanContents, NamedSource, SourceCode, SourceSpan, SpanContents,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::fields::{self, FieldValidation, Tracker, UnknownFields};
use super::redact;
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
    /// The text to show around the place: none for a Secret, whose values it would show.
    source_code: Option<NamedSource<DocumentText>>,
    at: Option<SourceSpan>,
    location: Option<(usize, usize)>,
    /// Whether the error is of a document of the text (not of an item of a list).
    in_text: bool,
}

/// The text of a file, of which a report shows only the lines of one
/// document: a report shows lines around the place of an error, and those
/// of a neighbouring document may be a Secret's.
#[derive(Debug)]
struct DocumentText {
    text: String,
    /// The bytes of the document.
    document: Range<usize>,
}

impl DocumentText {
    /// `text`, shown as far as the document that holds byte `offset`.
    fn around(text: &str, offset: usize) -> Self {
        // Documents are separated by `---` or `...` at the start of a line,
        // which YAML forbids anywhere else.
        let marker = |line: &str| {
            (line.starts_with("---") || line.starts_with("..."))
                && line[3..].chars().next().is_none_or(char::is_whitespace)
        };
        let mut document = 0..text.len();
        let mut at = 0;
        for line in text.split_inclusive('\n') {
            let next = at + line.len();
            if marker(line) {
                if next <= offset {
                    document.start = next;
                } else if at <= offset {
                    document.start = at;
                } else {
                    document.end = at;
                    break;
                }
            }
            at = next;
        }
        Self { text: text.to_owned(), document }
    }
}

impl SourceCode for DocumentText {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let Range { start, end } = self.document;
        if span.offset() < start || span.offset() + span.len() > end {
            return self.text.read_span(span, context_lines_before, context_lines_after);
        }
        // Read in the document alone, then say where it is in the text.
        let inner = SourceSpan::from((span.offset() - start, span.len()));
        let contents = self.text.as_bytes()[start..end].read_span(&inner, context_lines_before, context_lines_after)?;
        let lines_before = self.text[..start].matches('\n').count();
        Ok(Box::new(MietteSpanContents::new(
            contents.data(),
            SourceSpan::from((contents.span().offset() + start, contents.span().len())),
            contents.line() + lines_before,
            contents.column(),
            contents.line_count() + lines_before,
        )))
    }
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
    /// an item of a list), so that a report can show the place (with the
    /// text around it, unless the document is a Secret).
    pub fn is_located(&self) -> bool {
        self.0.in_text
    }

    /// Line and column (from 1) of the problem, when known.
    pub fn location(&self) -> Option<(usize, usize)> {
        self.0.location
    }

    /// An error of `text` as serde_norway reports it, located in the text;
    /// for a `sensitive` document (a Secret) without the text or the values
    /// the message quotes.
    fn located(file: &str, text: &str, error: &serde_norway::Error, help: &str, sensitive: bool) -> Self {
        let (offset, line, column) = error.location().map_or((0, 0, 0), |l| (l.index(), l.line(), l.column()));
        let mut message = error.to_string();
        if sensitive {
            // The position is put back below: it holds no value.
            message = redact::scrub(message.strip_suffix(&position(error)).unwrap_or(&message));
        }
        if line > 0 && !message.contains(" at line ") {
            message.push_str(&format!(" at line {line} column {column}"));
        }
        let offset = offset.min(text.len());
        let length = usize::from(offset < text.len());
        Self(Box::new(Located {
            file: file.to_owned(),
            message,
            help: help.to_owned(),
            source_code: (!sensitive).then(|| NamedSource::new(file, DocumentText::around(text, offset))),
            at: (!sensitive).then(|| SourceSpan::from((offset, length))),
            location: (line > 0).then_some((line, column)),
            in_text: true,
        }))
    }

    /// Fields the kind does not have, at `paths`: located at the first's key
    /// when the key is found after the place the parser reported (the start
    /// of the mapping that holds it), and the parser reported one.
    fn unknown_fields(
        file: &str,
        text: &str,
        error: Option<&serde_norway::Error>,
        paths: &[String],
        sensitive: bool,
    ) -> Self {
        let place = error.and_then(serde_norway::Error::location).map(|location| {
            let from = location.index().min(text.len());
            let offset = fields::find_key(text, from, &paths[0]).unwrap_or(from);
            let line = text[..offset].matches('\n').count() + 1;
            let column = offset - text[..offset].rfind('\n').map_or(0, |n| n + 1) + 1;
            (offset, line, column)
        });
        Self(Box::new(Located {
            file: file.to_owned(),
            message: unknown_fields_message(paths, place.map(|(_, line, column)| (line, column))),
            help: unknown_fields_help(paths),
            source_code: place
                .filter(|_| !sensitive)
                .map(|(offset, ..)| NamedSource::new(file, DocumentText::around(text, offset))),
            at: place
                .filter(|_| !sensitive)
                .map(|(offset, ..)| SourceSpan::from((offset, usize::from(offset < text.len())))),
            location: place.map(|(_, line, column)| (line, column)),
            in_text: true,
        }))
    }
}

/// Unknown fields as kubectl's strict decoding names them (`unknown field
/// "spec.foo", unknown field "spec.bar"`), the first with its position if known.
fn unknown_fields_message(paths: &[String], location: Option<(usize, usize)>) -> String {
    let mut names = paths.iter().map(|path| fields::unknown_field_message(path));
    let mut message = names.next().unwrap_or_default();
    if let Some((line, column)) = location {
        message.push_str(&format!(" at line {line} column {column}"));
    }
    for name in names {
        message.push_str(", ");
        message.push_str(&name);
    }
    message
}

fn unknown_fields_help(paths: &[String]) -> String {
    let what = match paths {
        [path] => format!("fix or remove the field: {path} is not a field of this kind"),
        _ => "fix or remove the fields: they are not fields of this kind".to_owned(),
    };
    format!("{what} (or apply with field validation `warn` or `ignore` to drop unknown fields)")
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
    /// Document `index` of the text (counting empty ones): typed through
    /// the parser, so errors have positions.
    Text { text: &'t str, index: usize, deserializer: serde_norway::Deserializer<'t> },
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
    /// [`FieldValidation`] says (strict: an error naming each by its path,
    /// `unknown field "spec.foo", unknown field "spec.bar"`, as kubectl's
    /// strict decoding does; a value of the wrong type is the error when
    /// there is one). An error names the field; for a document of the text
    /// it points at the position in the file, for an item of a list it names
    /// the item (`items[2]: …`). An error about a Secret (or a document
    /// without a kind) shows none of its values.
    pub fn decode<T: DeserializeOwned>(self) -> Result<T, DocumentError> {
        let sensitive = redact::is_sensitive(&self.kind);
        let tracker = Tracker::new(self.validation, self.unknown.clone(), self.server_owned);
        match self.origin {
            Origin::Text { text, index, deserializer } => {
                let typed = fields::deserialize(deserializer, &tracker)
                    .map_err(|e| DocumentError::located(self.file, text, &e, SCHEMA_HELP, sensitive))?;
                let refused = tracker.refused();
                if refused.is_empty() {
                    return Ok(typed);
                }
                // Type the document again, stopping at the first unknown
                // field, so that the parser says where it is.
                let again = serde_norway::Deserializer::from_str(text).nth(index).and_then(|document| {
                    fields::deserialize::<T, _>(document, &Tracker::stopping_at_first(self.server_owned)).err()
                });
                Err(DocumentError::unknown_fields(self.file, text, again.as_ref(), &refused, sensitive))
            }
            Origin::ListItem { index } => {
                let item = serde_json::to_string(&self.value).unwrap_or_default();
                let message = match fields::deserialize(serde_norway::Deserializer::from_str(&item), &tracker) {
                    Ok(typed) if tracker.refused().is_empty() => return Ok(typed),
                    Ok(_) => unknown_fields_message(&tracker.refused(), None),
                    // Its position is in the item as JSON, not in the file: left out.
                    Err(e) if sensitive => {
                        let message = e.to_string();
                        redact::scrub(message.strip_suffix(&position(&e)).unwrap_or(&message))
                    }
                    Err(e) => e.to_string(),
                };
                Err(DocumentError(Box::new(Located {
                    file: self.file.to_owned(),
                    message: format!("items[{index}]: {message}"),
                    help: SCHEMA_HELP.into(),
                    source_code: None,
                    at: None,
                    location: None,
                    in_text: false,
                })))
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

/// How serde_norway writes the position of `error` at the end of its message.
fn position(error: &serde_norway::Error) -> String {
    error.location().map(|l| format!(" at line {} column {}", l.line(), l.column())).unwrap_or_default()
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
        let value = Value::deserialize(document).map_err(|e| {
            // No document's kind is known yet: any might be a Secret.
            DocumentError::located(file, text, &e, "fix the YAML syntax", redact::may_hold_secret(text))
        })?;
        heads.push((!value.is_null()).then_some(value));
    }
    let mut documents = Vec::new();
    for (index, (deserializer, value)) in serde_norway::Deserializer::from_str(text).zip(heads).enumerate() {
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
            origin: Origin::Text { text, index, deserializer },
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
        // Strict names every unknown field, as kubectl's strict decoding does; the place is the first's.
        let error = decode(FieldValidation::Strict).unwrap_err();
        assert_eq!(
            error.message(),
            "unknown field \"spec.parts[0].colour\" at line 10 column 5, unknown field \"spec.fooo\""
        );
        assert_eq!(error.location(), Some((10, 5)));
        assert!(error.is_located() && error.source_code().is_some());
        assert!(error.help().unwrap().to_string().starts_with("fix or remove the fields"), "{error}");
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
        assert_eq!(error.message(), "items[0]: unknown field \"spec.parts[0].colour\", unknown field \"spec.fooo\"");
    }

    #[test]
    fn strict_reports_a_wrong_type_before_unknown_fields() {
        let text = "kind: Widget\nmetadata: {name: w, foo: 1}\nspec: {size: many}\n";
        let error = read_documents("w.yaml", text).unwrap().pop().unwrap().decode::<Widget>().unwrap_err();
        assert!(error.message().starts_with("spec.size: invalid type: string \"many\""), "{error}");
        assert_eq!(error.location(), Some((3, 14)));
        // Of the second document of a text: the first's fields are not the second's.
        let text =
            "kind: Widget\nspec: {size: 1}\n---\n---\nkind: Widget\nspec: {size: 1, bar: 2}\nmetadata: {baz: 3}\n";
        let error = read_documents("w.yaml", text).unwrap().pop().unwrap().decode::<Widget>().unwrap_err();
        assert_eq!(error.message(), "unknown field \"spec.bar\" at line 6 column 17, unknown field \"metadata.baz\"");
    }

    /// Everything a report of `error` would show: its message, help, labels and snippet.
    fn report(error: &DocumentError) -> String {
        let mut shown = format!("{error}\n{}\n", error.help().unwrap());
        for label in error.labels().into_iter().flatten() {
            shown.push_str(&format!("{label:?}\n"));
            let contents = error.source_code().unwrap().read_span(label.inner(), 2, 2).unwrap();
            shown.push_str(&String::from_utf8_lossy(contents.data()));
        }
        shown
    }

    fn secret_error(file: &str, text: &str) -> DocumentError {
        let documents = match read_documents(file, text) {
            Ok(documents) => documents,
            Err(error) => return error,
        };
        documents.into_iter().find_map(|d| d.decode::<crate::core::Secret>().err()).expect("an error")
    }

    #[test]
    fn errors_about_a_secret_show_no_value() {
        let head = "apiVersion: v1\nkind: Secret\nmetadata: {name: b}\n";
        // (file, text, what the message says)
        let table = [
            (
                "s.yaml",
                format!("{head}type: Opaque\ndata:\n  k: \"LEAK4notbase64!!\"\n"),
                "data: illegal base64 data at line 6 column 3",
            ),
            (
                "s.yaml",
                "apiVersion: v1\nkind: Secret\nmetadata: {name: b, bogus: 1}\nstringData: {ok: LEAK12}\n".into(),
                "unknown field \"metadata.bogus\" at line 3 column 21",
            ),
            ("s.yaml", format!("{head}data: LEAK6\n"), "data: invalid type: string, expected a map at line 4 column 7"),
            ("s.yaml", format!("{head}immutable: LEAK7\n"), "immutable: invalid type: string, expected a boolean"),
            (
                "l.yaml",
                "kind: List\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: b}, data: LISTLEAK}\n".into(),
                "items[0]: data: invalid type: string, expected a map",
            ),
            (
                "s.json",
                r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"b"},"stringData":{"a":"JSONLEAK"},"bogus":1}"#
                    .into(),
                "unknown field \"bogus\" at line 1 column 90",
            ),
            ("s.yaml", format!("{head}stringData: {{a: \"SYNLEAK}}\n"), "found unexpected end of stream"),
            // Without a kind, a document may be a Secret.
            ("s.yaml", "metadata: {name: b}\ndata: NOKINDLEAK\n".into(), "data: invalid type: string, expected a map"),
        ];
        for (file, text, message) in table {
            let error = secret_error(file, &text);
            let shown = report(&error);
            assert!(shown.contains(message), "{text}: {shown}");
            assert!(!shown.contains("LEAK") && !shown.contains("Invalid symbol"), "{text}: {shown}");
            assert!(error.source_code().is_none() && error.labels().is_none(), "{text}: {shown}");
            assert_eq!(error.is_located(), file != "l.yaml");
        }
        // Another kind keeps its snippet, and its values.
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: SHOWN\n";
        let error =
            read_documents("c.yaml", text).unwrap().pop().unwrap().decode::<crate::core::ConfigMap>().unwrap_err();
        assert!(report(&error).contains("data: SHOWN"), "{}", report(&error));
        assert!(error.message().contains("string \"SHOWN\""), "{error}");
    }

    #[test]
    fn a_snippet_shows_only_its_own_document() {
        let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: b}\nstringData: {a: NEIGHBOURLEAK}\n";
        let text =
            format!("{secret}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c, foo: 1}}\n---\n{secret}");
        let error = read_documents("c.yaml", &text).unwrap().remove(1).decode::<crate::core::ConfigMap>().unwrap_err();
        let shown = report(&error);
        assert!(shown.contains("kind: ConfigMap\nmetadata: {name: c, foo: 1}\n"), "{shown}");
        assert!(!shown.contains("LEAK") && !shown.contains("---"), "{shown}");
        let around = |offset| DocumentText::around(&text, offset).document;
        assert_eq!(around(0), 0..secret.len());
        assert_eq!(around(secret.len() + 5), secret.len() + 4..text.len() - secret.len() - 4);
        assert_eq!(around(text.len()), text.len() - secret.len()..text.len());
        let text = "a: 1\n--- x\n...\nb: 2";
        assert_eq!(DocumentText::around(text, 15).document, 15..19);
        assert_eq!(DocumentText::around(text, 6).document, 5..11, "a marker starts its document");
    }
}
