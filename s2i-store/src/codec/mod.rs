//! Objects as text: the workspace's one YAML writer ([`to_yaml`]), JSON as
//! kubectl writes it ([`to_json`]), and the reading side ([`read_documents`]),
//! typed per document with errors that point into the text; fields a kind
//! does not have are treated as kubectl's `--validate` says
//! ([`FieldValidation`]), and what a server owns in an input is skipped.
//! Errors about a Secret show no value of it.

mod fields;
mod read;
mod redact;
mod yaml;

pub use fields::{FieldValidation, UnknownFields};
pub use read::{Document, DocumentError, read_documents};
pub use yaml::{to_yaml, to_yaml_documents};

/// `value` as indented JSON, ending in a newline.
pub fn to_json<T: serde::Serialize>(value: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(value).map(|text| text + "\n")
}
