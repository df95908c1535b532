//! Labels of the output image: the base image's labels, the generated
//! `io.openshift.s2i.build.*` and `io.k8s.*` labels, and the labels assemble
//! writes to `/tmp/.s2i/image_metadata.json`, later sources winning.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Namespace of generated build labels.
pub const LABEL_NAMESPACE: &str = "io.openshift.s2i.";
/// Human-readable description of the image.
pub const DESCRIPTION_LABEL: &str = "io.k8s.description";
/// Human-readable name of the image.
pub const DISPLAY_NAME_LABEL: &str = "io.k8s.display-name";
/// Where assemble may write extra labels.
pub const IMAGE_METADATA_PATH: &str = "/tmp/.s2i/image_metadata.json";
/// Largest total size (keys plus values) of an image's labels.
pub const MAX_LABELS_SIZE: usize = 10240;

/// Provenance of the source, as recorded in labels.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// Where the source came from: a git URL or a local path.
    pub location: String,
    /// `--context-dir`, if any.
    pub context_dir: String,
    /// Branch name, or `HEAD` when detached (git only).
    pub git_ref: String,
    /// Commit ID (git only).
    pub commit_id: String,
    /// `Name <email>` of the author (git only).
    pub author: String,
    /// Commit date as git prints it by default (git only).
    pub date: String,
    /// Subject line, truncated to 80 columns (git only).
    pub message: String,
    /// The commit's committer time, seconds since 1970-01-01 (git only): the
    /// epoch of a build that is given none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_time: Option<u64>,
}

/// What the generated labels are made from.
#[derive(Debug, Clone)]
pub struct LabelInputs<'a> {
    /// `--description`.
    pub description: Option<&'a str>,
    /// `-n/--application-name`, else the output tag.
    pub display_name: Option<&'a str>,
    /// The builder image name as resolved.
    pub builder_image: &'a str,
    /// The source's provenance.
    pub source: &'a SourceInfo,
}

/// The labels s2i generates for an output image; empty values are left out.
pub(crate) fn generated_labels(inputs: &LabelInputs<'_>) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut put = |key: String, value: &str| {
        if !value.is_empty() {
            labels.insert(key, value.to_owned());
        }
    };
    put(DESCRIPTION_LABEL.to_owned(), inputs.description.unwrap_or(""));
    put(DISPLAY_NAME_LABEL.to_owned(), inputs.display_name.unwrap_or(""));
    let ns = |k: &str| format!("{LABEL_NAMESPACE}build.{k}");
    put(ns("image"), inputs.builder_image);
    let source = inputs.source;
    put(ns("commit.author"), &source.author);
    put(ns("commit.date"), &source.date);
    put(ns("commit.id"), &source.commit_id);
    put(ns("commit.ref"), &source.git_ref);
    put(ns("commit.message"), &source.message);
    put(ns("source-location"), &source.location);
    put(ns("source-context-dir"), &source.context_dir);
    labels
}

/// Parse `image_metadata.json`: `{"labels":[{"k":"v"},…]}`.
pub(crate) fn parse_image_metadata(text: &[u8]) -> Result<BTreeMap<String, String>> {
    #[derive(Deserialize)]
    struct Metadata {
        #[serde(default)]
        labels: Vec<BTreeMap<String, serde_json::Value>>,
    }
    let metadata: Metadata =
        serde_json::from_slice(text).map_err(|e| Error::ImageMetadata { message: e.to_string() })?;
    let mut labels = BTreeMap::new();
    for entry in metadata.labels {
        for (key, value) in entry {
            match value {
                serde_json::Value::String(v) => {
                    labels.insert(key, v);
                }
                other => {
                    return Err(Error::ImageMetadata {
                        message: format!("the value of label {key:?} is {other}, not a string"),
                    });
                }
            }
        }
    }
    Ok(labels)
}

/// Check the total size of a label set.
pub fn check_size(image: &str, labels: &BTreeMap<String, String>) -> Result<()> {
    let size: usize = labels.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_LABELS_SIZE {
        return Err(Error::LabelsTooLarge { image: image.to_owned(), size, limit: MAX_LABELS_SIZE });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_labels_skip_empty_values() {
        let source = SourceInfo { location: "/src".into(), ..Default::default() };
        let labels = generated_labels(&LabelInputs {
            description: None,
            display_name: Some("app"),
            builder_image: "docker.io/x/builder:latest",
            source: &source,
        });
        let keys: Vec<_> = labels.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["io.k8s.display-name", "io.openshift.s2i.build.image", "io.openshift.s2i.build.source-location"]
        );
    }

    #[test]
    fn metadata_file_shapes() {
        let labels = parse_image_metadata(br#"{"labels":[{"a":"1"},{"b":"2","c":"3"}]}"#).unwrap();
        assert_eq!(labels.len(), 3);
        assert!(parse_image_metadata(br#"{"labels":[{"a":1}]}"#).is_err());
        assert!(parse_image_metadata(b"not json").is_err());
        assert!(parse_image_metadata(br#"{"labels":{"a":"1"}}"#).is_err());
    }

    #[test]
    fn label_size_limit() {
        let mut labels = BTreeMap::new();
        labels.insert("k".to_owned(), "v".repeat(MAX_LABELS_SIZE - 1));
        assert!(check_size("img", &labels).is_ok());
        labels.insert("k2".to_owned(), "v".into());
        assert!(check_size("img", &labels).is_err());
    }
}
