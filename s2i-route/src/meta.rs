//! Object metadata, as Kubernetes writes it, shared by routes and services.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// `metadata` of a stored object: identity, ordering and free-form labels.
///
/// Admission orders routes by [`creation_timestamp`](Self::creation_timestamp)
/// then [`uid`](Self::uid), so whatever stores routes fills both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// Name, unique per kind in the namespace.
    pub name: String,
    /// Namespace (project) the object lives in.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Unique ID given by the store when the object was created.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    /// Version of the stored object, changed on every write.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    /// Spec generation: 1 on create, +1 on every change of `spec`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub generation: i64,
    /// When the object was created (written with second precision).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timestamp")]
    pub creation_timestamp: Option<Timestamp>,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations; route annotations tune the router (see [`crate::annotations`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ObjectMeta {
    /// Metadata with a namespace and a name, nothing else.
    pub fn named(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectMeta { name: name.into(), namespace: namespace.into(), ..Default::default() }
    }

    /// The `namespace/name` key of the object.
    pub fn key(&self) -> ObjectKey {
        ObjectKey { namespace: self.namespace.clone(), name: self.name.clone() }
    }
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}

/// `namespace/name`: how objects of one kind are told apart.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectKey {
    /// The namespace.
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl ObjectKey {
    /// A key.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectKey { namespace: namespace.into(), name: name.into() }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Kubernetes writes times as RFC 3339 in UTC with whole seconds
/// (`2026-01-01T00:00:00Z`); any RFC 3339 time is read.
pub(crate) mod timestamp {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn format(time: &Timestamp) -> String {
        time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    pub(crate) fn serialize<S: Serializer>(time: &Option<Timestamp>, serializer: S) -> Result<S::Ok, S::Error> {
        match time {
            Some(time) => serializer.serialize_str(&format(time)),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Timestamp>, D::Error> {
        let text: Option<String> = Option::deserialize(deserializer)?;
        match text.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|err| {
                serde::de::Error::custom(format!("invalid time {text:?}: {err}; write it as 2026-01-01T00:00:00Z"))
            }),
        }
    }
}
